#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the test kernel, idempotently: kernel.sh [default|debug]
#
# x86_64 defconfig + kvm_guest.config + selftests/config (+ config.debug),
# built out of tree (O=) under $RPMEM_CACHE/kbuild, in a directory keyed by
# everything the result depends on. Prints the build directory on stdout;
# rpmem builds against it with "make KDIR=<dir>" (plus, for the debug variant,
# the same LLVM=-NN, which "make VARIANT=debug" passes).
#
# The default variant is built with gcc. The debug variant has KASAN, which
# Linux 7.3 allows together with Rust only when the kernel is built with clang
# (init/Kconfig: RUST "depends on !KASAN || CC_IS_CLANG"), so it is built with
# LLVM=-NN (clang-NN, ld.lld-NN, ...; tools/toolchain.sh debug installs them).

set -euo pipefail
. "$(dirname "$0")/lib.sh"

variant=${1:-default}
frags=("$RPMEM_TOP/selftests/config")
case $variant in
default) ;;
debug) frags+=("$RPMEM_TOP/selftests/config.debug") ;;
*) die "unknown kernel variant '$variant' (default or debug)" ;;
esac

LLVM=
eval "$("$RPMEM_TOP/tools/toolchain.sh" "$variant")"
export RUST_LIB_SRC LIBCLANG_PATH

# The compiler is part of the key: a gcc build directory is never reused for
# a clang build (the default variant's key input is gcc's version alone).
compilers()
{
	gcc --version | head -n1
	[ -z "$LLVM" ] && return
	echo "LLVM=$LLVM $LIBCLANG_PATH"
	"clang$LLVM" --version | head -n1
	"ld.lld$LLVM" --version | head -n1
}
key=$( { echo "$KSRC"; cat "${frags[@]}"; rustc -vV; "$BINDGEN" --version;
	 compilers; } | sha256sum | cut -c1-12)
out=$RPMEM_CACHE/kbuild/$variant-$key

kmake() { make -C "$KSRC" O="$out" BINDGEN="$BINDGEN" ${LLVM:+LLVM="$LLVM"} -s "$@"; }

# Every option the fragments ask for must survive olddefconfig: a missing
# dependency (for instance Rust not available) must not pass silently.
check_config()
{
	local line opt val bad=0
	while IFS= read -r line; do
		[[ $line =~ ^(CONFIG_[A-Z0-9_]+)=(.*)$ ]] || continue
		opt=${BASH_REMATCH[1]} val=${BASH_REMATCH[2]}
		if [ "$val" = n ]; then
			grep -q "^$opt=" "$out/.config" || continue
		else
			grep -qx "$opt=$val" "$out/.config" && continue
		fi
		log "$opt=$val requested, .config has: $(grep -E "^(# )?${opt}[= ]" "$out/.config" || echo nothing)"
		bad=1
	done < <(cat "${frags[@]}")
	[ $bad -eq 0 ] || die "kernel configuration does not match the fragments"
}

# One build per directory at a time: a second caller (a helper's check
# beside a user's, say) waits for the first instead of configuring the
# same tree under it.
mkdir -p "$out"
exec 9>"$out.lock"
flock 9
if [ ! -f "$out/.done" ]; then
	if [ -n "$LLVM" ]; then
		log "building the $variant kernel with clang$LLVM in $out (KASAN: about 20 minutes on 2 idle cores)"
	else
		log "building the $variant kernel in $out (about 10 minutes on 2 cores)"
	fi
	kmake rustavailable >&2 || die "the Rust toolchain is not usable for $KSRC"
	kmake x86_64_defconfig >&2
	"$KSRC/scripts/kconfig/merge_config.sh" -m -O "$out" "$out/.config" \
		"$KSRC/kernel/configs/kvm_guest.config" "${frags[@]}" >/dev/null
	kmake olddefconfig >&2
	check_config
	kmake -j"$(($(nproc) + 1))" bzImage modules >&2
	kmake INSTALL_MOD_PATH="$out/modinst" modules_install >&2
	touch "$out/.done"
fi
echo "$out"
