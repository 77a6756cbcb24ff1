#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the persistence model, idempotently: model.sh
#
# The model (Documentation/persistence-model.rst) is a TCG plugin,
# tools/model/pmem_model.c, in a QEMU built from Debian 12's own source of
# the QEMU the machine runs (the same version) with
# tools/model/qemu-7.2-model.patch, which makes CLWB, CLFLUSH and
# CLFLUSHOPT visible to plugins and gives them a RAM access's host address.
# Only x86_64-softmmu is built, with what tools/vm.sh uses (9p, plugins).
#
# The source comes through a private apt configuration (deb-src lines for
# the suites the machine already uses; the system's configuration is not
# changed). QEMU is built under $RPMEM_CACHE/qemu in a directory keyed by
# the source version, the patch and the configure options (about 15 minutes
# on 2 cores), the plugin beside it keyed by its source (seconds).
#
# Prints shell assignments on stdout, for "eval": MODEL_QEMU (the
# qemu-system-x86_64 binary) and MODEL_PLUGIN (pmem_model.so).

set -euo pipefail
. "$(dirname "$0")/lib.sh"

BUILD_PKGS=(dpkg-dev ninja-build meson pkg-config libglib2.0-dev
	    libpixman-1-dev libcap-ng-dev libattr1-dev libfdt-dev zlib1g-dev)
CONFIGURE=(--target-list=x86_64-softmmu --without-default-features
	   --enable-tcg --enable-plugins --enable-virtfs --enable-attr
	   --enable-cap-ng --enable-fdt=system --disable-docs --disable-werror
	   --firmwarepath=/usr/share/qemu:/usr/share/seabios:/usr/lib/ipxe/qemu)
PATCH=$RPMEM_TOP/tools/model/qemu-7.2-model.patch
PLUGIN_SRC=$RPMEM_TOP/tools/model/pmem_model.c

APT_DIR=$RPMEM_CACHE/apt-src

# deb-src lines for every suite the machine's own apt sources list.
write_src_list()
{
	local f
	private_apt_opts "$APT_DIR"
	: >"$APT_DIR/parts/machine.sources"
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		sed -E 's/^Types:.*/Types: deb-src/' "$f" >>"$APT_DIR/parts/machine.sources"
		echo >>"$APT_DIR/parts/machine.sources"
	done
	grep -hE '^\s*deb\s' /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
		2>/dev/null | sed -E 's/^\s*deb\s/deb-src /' >"$APT_DIR/sources.list" || true
}

# The source tree of QEMU $1 (a Debian source version), unpacked with
# Debian's patches, then ours.
qemu_source()
{
	local ver=$1 dir=$2 dl
	write_src_list
	dl=$APT_DIR/source-${ver//[:~]/_}
	if [ ! -f "$dl/.done" ]; then
		log "downloading the source of qemu $ver"
		apt-get "${APT_OPTS[@]}" update -qq >&2
		rm -rf "$dl" && mkdir -p "$dl"
		(cd "$dl" && apt-get "${APT_OPTS[@]}" source --download-only -qq \
			"qemu=$ver" >&2) ||
			die "no source of qemu $ver in the machine's suites"
		touch "$dl/.done"
	fi
	rm -rf "$dir"
	# apt checked the files against the signed index; the .dsc's own
	# signature has no keyring here (gpgv says so: not shown).
	dpkg-source -q --no-copy -x "$dl"/qemu_*.dsc "$dir" 2>&1 |
		grep -v '^gpgv:' >&2 || true
	[ -f "$dir/VERSION" ] || die "unpacking the source of qemu $ver failed"
	patch -s -d "$dir" -p1 <"$PATCH" >&2 || die "$PATCH does not apply to qemu $ver"
}

ver=$(dpkg-query -W -f='${source:Version}' qemu-system-x86 2>/dev/null) ||
	die "qemu-system-x86 is not installed (tools/toolchain.sh installs it)"
[[ $ver == *:7.2+* ]] ||
	die "the model's patch is for QEMU 7.2, the machine has $ver"
need_packages "${BUILD_PKGS[@]}"

key=$( { echo "$ver"; cat "$PATCH"; echo "${CONFIGURE[*]}"; gcc --version |
	 head -n1; } | sha256sum | cut -c1-12)
out=$RPMEM_CACHE/qemu/$key
mkdir -p "$out"
exec 9>"$out.lock"
flock 9
if [ ! -x "$out/qemu-system-x86_64" ]; then
	log "building QEMU $ver with the model's patch in $out (about 15 minutes on 2 cores)"
	qemu_source "$ver" "$out/src"
	mkdir -p "$out/src/build"
	(cd "$out/src/build" && ../configure "${CONFIGURE[@]}" >configure.log 2>&1) ||
		die "QEMU's configure failed: $out/src/build/configure.log"
	ninja -C "$out/src/build" qemu-system-x86_64 >"$out/build.log" 2>&1 ||
		die "building QEMU failed: $out/build.log"
	cp "$out/src/build/qemu-system-x86_64" "$out/qemu-system-x86_64.tmp"
	mkdir -p "$out/include"
	cp "$out/src/include/qemu/qemu-plugin.h" "$out/include/"
	rm -rf "$out/src"
	mv "$out/qemu-system-x86_64.tmp" "$out/qemu-system-x86_64"
fi

plugin=$out/pmem_model-$(sha256sum "$PLUGIN_SRC" | cut -c1-12).so
if [ ! -f "$plugin" ]; then
	# shellcheck disable=SC2046
	gcc -shared -fPIC -O2 -Wall -Werror -I"$out/include" \
		$(pkg-config --cflags glib-2.0) -o "$plugin.tmp" "$PLUGIN_SRC" \
		$(pkg-config --libs glib-2.0) >&2 || die "building $PLUGIN_SRC failed"
	mv "$plugin.tmp" "$plugin"
fi
cat <<OUT
MODEL_QEMU=$out/qemu-system-x86_64
MODEL_PLUGIN=$plugin
OUT
