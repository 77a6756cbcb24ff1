#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# check-series.sh [OUTDIR]: the series of tools/series.sh, in the kernel
# ("make check-series"). NOT RUN YET: written with the series, to be run
# by whoever has the two cores for it (see README.md, "The patch series").
#
# 1. Writes the series (tools/series.sh OUTDIR) and checks out the cached
#    base into $RPMEM_CACHE/series/tree.
# 2. Applies the patches one by one (git am) and, after each, builds the
#    kernel incrementally in $RPMEM_CACHE/series/kbuild: the test kernel's
#    configuration (its .config) plus NVDIMM_RPMEM=m, vmlinux and modules,
#    then rustfmtcheck, a CLIPPY=1 build and rustdoc. A patch that does
#    not build stops it.
# 3. With the whole series built, runs make check's selftests on that
#    kernel, loading the in-tree drivers/nvdimm/rpmem/rpmem.ko
#    (RPMEM_CHECK_KDIR and RPMEM_KO for tools/check.sh), with T="..." as
#    make check takes it.
#
# A full kernel build takes 11 minutes or more of both cores; each patch
# after the first rebuilds the kernel crate and what uses it.

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

rm -rf "$tree"
git --git-dir="$base" worktree prune
git --git-dir="$base" worktree add -q --detach "$tree" HEAD
mkdir -p "$obj"
cp "$kdir/.config" "$obj/.config"
kmake() { make -C "$tree" O="$obj" -j"$(nproc)" BINDGEN="$BINDGEN" "$@"; }
kmake olddefconfig >/dev/null
"$tree/scripts/config" --file "$obj/.config" -m NVDIMM_RPMEM
kmake olddefconfig >/dev/null

for p in "$out"/0*.patch; do
	[[ $p == */0000-cover-letter.patch ]] && continue
	log "applying and building $(basename "$p")"
	git -C "$tree" -c user.name=rpmem -c user.email=rpmem@localhost am -q "$p"
	kmake olddefconfig >/dev/null
	kmake vmlinux modules >"$obj/build.log" 2>&1 ||
		{ tail -n 40 "$obj/build.log"; die "$(basename "$p") does not build"; }
	kmake rustfmtcheck || die "$(basename "$p"): rustfmtcheck"
	kmake CLIPPY=1 vmlinux modules >"$obj/clippy.log" 2>&1 ||
		{ tail -n 40 "$obj/clippy.log"; die "$(basename "$p"): clippy"; }
	kmake rustdoc >"$obj/rustdoc.log" 2>&1 ||
		{ tail -n 40 "$obj/rustdoc.log"; die "$(basename "$p"): rustdoc"; }
done

grep -q '^CONFIG_NVDIMM_RPMEM=m' "$obj/.config" || die "NVDIMM_RPMEM is not set"
# shellcheck disable=SC2086
RPMEM_CHECK_KDIR=$obj RPMEM_KO=$obj/drivers/nvdimm/rpmem/rpmem.ko \
	"$RPMEM_TOP/tools/check.sh" ${T:-}
