#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# bindgen.sh BINDGEN OBJTREE HEADER OUTPUT [EXTRA_CLANG_FLAGS...]
#
# Generates Rust bindings for the kernel interfaces rpmem needs beyond
# kernel::bindings. Called by Kbuild from the kernel's object tree. The clang
# flags are the ones the target kernel used for its own bindings (recorded in
# rust/bindings/.bindings_generated.rs.cmd), so layouts and configuration
# always match the kernel the module is built for. Only the listed items are
# generated; everything they refer to comes from kernel::bindings.

set -eu
bindgen=$1 objtree=$2 header=$(realpath "$3") out=$(realpath -m "$4")
shift 4

# The recorded flags use paths relative to the object tree.
cd "$objtree"
cmd=rust/bindings/.bindings_generated.rs.cmd
[ -f "$cmd" ] || { echo "bindgen.sh: $objtree/$cmd missing: is this a Rust-enabled kernel tree?" >&2; exit 1; }
cflags=$(sed -n '1{s/^[^=]*= //;s/.* -- //;s/;.*//;s/-Wp,-MMD,[^ ]*//;p}' "$cmd")

items='
	function:__nd_driver_register
	function:nvdimm_namespace_common_probe
	function:nvdimm_namespace_disk_name
	function:pmem_sector_size
	function:is_nd_btt
	function:is_nd_pfn
	function:is_nd_dax
	function:to_nd_region
	function:nd_region_dev
	function:nvdimm_flush
	function:nvdimm_has_flush
	function:nvdimm_has_cache
	function:is_nvdimm_sync
	function:nvdimm_badblocks_populate
	function:nvdimm_clear_poison
	function:nvdimm_check_and_set_ro
	function:badblocks_init
	function:badblocks_exit
	function:badblocks_check
	function:badblocks_clear
	function:badblocks_set
	function:devm_namespace_enable
	function:devm_namespace_disable
	function:nd_btt_probe
	function:nd_pfn_probe
	function:nd_dax_probe
	function:to_nd_pfn
	function:to_nd_btt
	function:nd_dev_to_uuid
	function:nvdimm_setup_pfn
	function:alloc_dax
	function:put_dax
	function:kill_dax
	function:dax_get_private
	function:dax_add_host
	function:dax_remove_host
	function:dax_holder_notify_failure
	function:dax_write_cache
	function:dax_write_cache_enabled
	function:set_dax_nocache
	function:set_dax_nomc
	function:set_dax_synchronous
	function:_copy_from_iter_flushcache
	function:rpmem_.*
	type:badblocks
	type:nd_device_driver
	type:nd_namespace_common
	type:nd_namespace_io
	type:nvdimm_claim_class
	type:nvdimm_event
	type:nd_region
	type:nd_pfn
	type:nd_btt
	type:btt
	type:nd_pfn_mode
	type:nd_pfn_sb
	type:dax_device
	type:dax_operations
	type:dax_access_mode
	var:ND_DRIVER_NAMESPACE_.*
	var:NVDIMM_FLUSH_ASYNC
	var:RPMEM_.*
'
args=
for i in $items; do
	args="$args --allowlist-${i%%:*} ${i#*:}"
done

# shellcheck disable=SC2086
exec "$bindgen" "$header" $args --no-recursive-allowlist \
	--opaque-type nd_region --opaque-type dax_device --opaque-type btt \
	--use-core --ctypes-prefix ffi --no-layout-tests --no-debug '.*' \
	--with-derive-default --rust-target 1.85 \
	--raw-line 'use kernel::bindings::*;' --raw-line 'use kernel::ffi;' \
	-o "$out" -- $cflags "$@" -DMODULE
