#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# check-series.sh [OUTDIR]: the series of tools/series.sh, in the kernel
# ("make check-series").
#
# 1. Writes the series (tools/series.sh OUTDIR) and checks the cached base
#    out into $RPMEM_CACHE/series/tree (again: reset to the base, so that
#    make rebuilds only what the patches change). RPMEM_SERIES_RESUME=1
#    keeps the patches already applied there that are the same changes
#    as the series' first ones (git patch-id) and goes on from the first
#    that is not: after a fix to a late patch, the early ones are not
#    built again.
# 2. Applies the patches one by one (git am) and, after each, builds the
#    kernel incrementally in $RPMEM_CACHE/series/kbuild: the test kernel's
#    configuration (its .config) plus NVDIMM_RPMEM=m and its KUnit tests,
#    vmlinux and modules with CLIPPY=1 (CONFIG_WERROR makes any lint an
#    error) and the kernel crate's doctests (RUST_KERNEL_DOCTESTS: the
#    examples of the abstractions' documentation, run at boot; each names
#    only what its patch and the earlier ones add, which series_check
#    checks), then rustfmtcheck and rustdoc. A patch that does not build
#    stops it.
# 3. With the whole series built, runs make check's selftests on that
#    kernel, loading the in-tree drivers/nvdimm/rpmem/rpmem.ko
#    (RPMEM_CHECK_KDIR and RPMEM_KO for tools/check.sh); T="..." as make
#    check takes it, by default every selftest but the kasan/ ones (their
#    kernel is the out-of-tree debug one) and series_check.
#
# The first build is a whole kernel: about 11 minutes of both idle cores.
# Each patch after it rebuilds the Rust side (the kernel crate, its
# doctests and what uses it).

set -euo pipefail
. "$(dirname "$0")/lib.sh"

out=${1:-$RPMEM_CACHE/series/out}
tree=$RPMEM_CACHE/series/tree
obj=$RPMEM_CACHE/series/kbuild
export PATH=$HOME/.cargo/bin:$PATH
eval "$("$RPMEM_TOP/tools/toolchain.sh" default)" || die "toolchain setup failed"
export RUST_LIB_SRC BINDGEN LIBCLANG_PATH
kdir=$("$RPMEM_TOP/tools/kernel.sh" default) || die "no test kernel"

"$RPMEM_TOP/tools/series.sh" "$out" >/dev/null
base=$RPMEM_CACHE/series/base-$(basename "$KSRC")
head=$(git --git-dir="$base" rev-parse HEAD)

# The patches of the series, in order.
patches=()
for p in "$out"/0*.patch; do
	[[ $p == */0000-cover-letter.patch ]] || patches+=("$p")
done
[ ${#patches[@]} -gt 0 ] || die "tools/series.sh wrote no patches"

# How many of the series' first patches the tree has applied already, as
# the same changes, on the base.
applied()
{
	local n=0 c
	for c in $(git -C "$tree" rev-list --reverse "$head..HEAD"); do
		[ $n -lt ${#patches[@]} ] || break
		if [ "$(git -C "$tree" show "$c" | git patch-id --stable | cut -d' ' -f1)" != \
		     "$(git patch-id --stable <"${patches[n]}" | cut -d' ' -f1)" ]; then
			break
		fi
		n=$((n + 1))
	done
	echo $n
}

if git -C "$tree" rev-parse --git-dir >/dev/null 2>&1; then
	git -C "$tree" am --abort >/dev/null 2>&1 || true
	keep=0
	[ "${RPMEM_SERIES_RESUME:-0}" = 0 ] || keep=$(applied)
	base_of_rest=$head
	[ "$keep" -eq 0 ] ||
		base_of_rest=$(git -C "$tree" rev-list --reverse "$head..HEAD" | sed -n "${keep}p")
	git -C "$tree" reset -q --hard "$base_of_rest"
	git -C "$tree" clean -q -fdx
	[ "$keep" -eq 0 ] || log "keeping the first $keep patches, built before"
	patches=("${patches[@]:keep}")
else
	rm -rf "$tree"
	git --git-dir="$base" worktree prune
	git --git-dir="$base" worktree add -q --detach "$tree" "$head"
fi
mkdir -p "$obj"
kmake() { make -C "$tree" O="$obj" -j"$(nproc)" BINDGEN="$BINDGEN" "$@"; }

# The test kernel's configuration and the series' options, the doctests
# (RUST_KERNEL_DOCTESTS) with every patch; a symbol the tree does not have
# yet (before the driver's patch) is dropped by olddefconfig, so they are
# set again after every patch.
configure()
{
	"$tree/scripts/config" --file "$obj/.config" -m NVDIMM_RPMEM \
		-e NVDIMM_RPMEM_KUNIT_TEST -e RUST_KERNEL_DOCTESTS
	kmake olddefconfig >/dev/null
}
cmp -s "$kdir/.config" "$obj/.config.base" || {
	cp "$kdir/.config" "$obj/.config"
	cp "$kdir/.config" "$obj/.config.base"
}

# RPMEM_SERIES_AT_ONCE=1: apply them all, then build once (the state of
# the whole series, fast; not each patch's).
[ "${RPMEM_SERIES_AT_ONCE:-0}" = 0 ] || {
	last=${patches[-1]}
	for p in "${patches[@]}"; do
		[ "$p" = "$last" ] ||
			git -C "$tree" -c user.name=rpmem -c user.email=rpmem@localhost am -q "$p" ||
			die "$(basename "$p") does not apply"
	done
	patches=("$last")
}
for p in "${patches[@]}"; do
	name=$(basename "$p")
	t0=$SECONDS
	git -C "$tree" -c user.name=rpmem -c user.email=rpmem@localhost am -q "$p" ||
		die "$name does not apply"
	configure
	kmake CLIPPY=1 vmlinux modules >"$obj/build.log" 2>&1 ||
		{ tail -n 40 "$obj/build.log"; die "$name does not build (or clippy)"; }
	kmake rustfmtcheck >"$obj/rustfmt.log" 2>&1 ||
		{ tail -n 40 "$obj/rustfmt.log"; die "$name: rustfmtcheck"; }
	kmake rustdoc >"$obj/rustdoc.log" 2>&1 ||
		{ tail -n 40 "$obj/rustdoc.log"; die "$name: rustdoc"; }
	! grep -E '^(warning|error)' "$obj/rustdoc.log" ||
		die "$name: rustdoc warns"
	log "$name: builds (CLIPPY=1), rustfmtcheck, rustdoc: $((SECONDS - t0)) s"
done

for opt in 'NVDIMM_RPMEM=m' 'NVDIMM_RPMEM_KUNIT_TEST=y' 'RUST_KERNEL_DOCTESTS=y'; do
	grep -qx "CONFIG_$opt" "$obj/.config" || die "the series' kernel lacks CONFIG_$opt"
done
# The image tools/vm.sh checks for (it boots vmlinux), with CLIPPY=1 as
# above: another command line would rebuild every Rust object.
kmake CLIPPY=1 bzImage >"$obj/build.log" 2>&1 ||
	{ tail -n 40 "$obj/build.log"; die "no bzImage"; }
rm -rf "$obj/modinst"
kmake INSTALL_MOD_PATH="$obj/modinst" modules_install >/dev/null

if [ -z "${T:-}" ]; then
	T=$(awk '$1 ~ /^[a-z]/ && $1 !~ /^kasan\// && $1 != "series_check" { print $1 }' \
		"$RPMEM_TOP/selftests/vm-settings" | xargs)
fi
# shellcheck disable=SC2086
RPMEM_CHECK_KDIR=$obj RPMEM_KO=$obj/drivers/nvdimm/rpmem/rpmem.ko \
	"$RPMEM_TOP/tools/check.sh" $T
