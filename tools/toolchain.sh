#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Install or fetch everything rpmem needs to build and test, idempotently:
#   - host packages from the machine's own apt sources (QEMU, mkfs, fio, ...);
#   - Debian's linux-source-7.3 and the rust-src matching the installed rustc,
#     from a suite the machine does not list, through a private apt
#     configuration that reuses the machine's Debian mirror (the system's apt
#     configuration is left untouched);
#   - bindgen-cli and libclang (PyPI wheel);
#   - for the debug variant ("toolchain.sh debug"): clang, lld and LLVM of
#     major version $LLVM_MAJOR from the machine's apt sources (Debian 12's main
#     suite), since Linux 7.3 allows KASAN with Rust only in a clang build.
#
# On success prints shell assignments (KSRC, RUST_LIB_SRC, BINDGEN, ...) on
# stdout, for "eval". For the debug variant they include LLVM=-$LLVM_MAJOR
# (the kernel's own switch to clang-$LLVM_MAJOR, ld.lld-$LLVM_MAJOR, ...) and a
# LIBCLANG_PATH of the same LLVM, so bindgen parses with the compiler's
# version.

set -euo pipefail
. "$(dirname "$0")/lib.sh"

variant=${1:-default}
HOST_PKGS=(qemu-system-x86 e2fsprogs xfsprogs fio ndctl util-linux
	   flex bison bc cpio libelf-dev libssl-dev kmod xz-utils
	   procps busybox-static gawk shellcheck jq)
case $variant in
default) ;;
debug) HOST_PKGS+=("clang-$LLVM_MAJOR" "lld-$LLVM_MAJOR" "llvm-$LLVM_MAJOR"
		   "libclang1-$LLVM_MAJOR") ;;
*) die "unknown kernel variant '$variant' (default or debug)" ;;
esac

# The URI of the Debian archive the machine already uses (never hard-coded).
debian_uri()
{
	local uri
	uri=$(grep -hE '^\s*URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null |
	      awk '{print $2}' | grep -E '/debian/?$' | head -n1 || true)
	[ -n "$uri" ] || uri=$(grep -hE '^\s*deb\s' /etc/apt/sources.list \
			/etc/apt/sources.list.d/*.list 2>/dev/null |
		sed -E 's/\[[^]]*\]//' | awk '{print $2}' |
		grep -E '/debian/?$' | head -n1 || true)
	[ -n "$uri" ] || die "no Debian archive in the machine's apt sources"
	echo "$uri"
}

APT_DIR=$RPMEM_CACHE/apt
APT_OPTS=()

private_apt()
{
	local keyring=/usr/share/keyrings/debian-archive-keyring.gpg
	private_apt_opts "$APT_DIR"
	mkdir -p "$APT_DIR/debs"
	echo "deb [signed-by=$keyring] $(debian_uri) $EXTRA_SUITE main" \
		> "$APT_DIR/sources.list"
	# Refresh the private lists at most once a day.
	if [ -z "$(find "$APT_DIR/lists" -maxdepth 1 -name '*Packages*' \
		   -mtime -1 2>/dev/null)" ]; then
		log "updating the private $EXTRA_SUITE package lists"
		apt-get "${APT_OPTS[@]}" update -qq >&2
	fi
}

# Download package $1 (version glob $2) into the cache; print the .deb path.
fetch_deb()
{
	local pkg=$1 want=$2 ver deb
	ver=$(apt-cache "${APT_OPTS[@]}" madison "$pkg" | awk -F'|' '{gsub(/ /,"",$2); print $2}' |
	      grep -E "^$want" | head -n1 || true)
	[ -n "$ver" ] || die "no $pkg matching '$want' in $EXTRA_SUITE" \
		"(found: $(apt-cache "${APT_OPTS[@]}" madison "$pkg" | awk -F'|' '{print $2}' | xargs))"
	deb=$(ls "$APT_DIR/debs/${pkg}_${ver//:/%3a}_"*.deb 2>/dev/null | head -n1 || true)
	if [ -z "$deb" ]; then
		log "downloading $pkg $ver"
		(cd "$APT_DIR/debs" && apt-get "${APT_OPTS[@]}" download -qq "$pkg=$ver" >&2)
		deb=$(ls "$APT_DIR/debs/${pkg}_${ver//:/%3a}_"*.deb | head -n1)
	fi
	echo "$deb"
}

linux_source()
{
	local deb ver dir tarball
	deb=$(fetch_deb "$LINUX_SRC_PKG" '')
	ver=$(dpkg-deb -f "$deb" Version)
	dir=$RPMEM_CACHE/linux-source-${ver//\~/_}
	if [ ! -f "$dir/.done" ]; then
		log "unpacking linux-source $ver"
		rm -rf "$dir" "$dir.tmp"
		mkdir -p "$dir.tmp"
		dpkg -x "$deb" "$dir.tmp/deb"
		tarball=$(ls "$dir.tmp"/deb/usr/src/linux-source-*.tar.* | head -n1)
		mkdir -p "$dir"
		tar -xf "$tarball" -C "$dir" --strip-components=1
		rm -rf "$dir.tmp"
		touch "$dir/.done"
	fi
	echo "$dir"
}

rust_src()
{
	local rv deb dir
	rv=$(rustc_version)
	deb=$(fetch_deb rust-src "${rv}[+~-]")
	dir=$RPMEM_CACHE/rust-src-$rv
	if [ ! -f "$dir/.done" ]; then
		log "unpacking rust-src for rustc $rv"
		rm -rf "$dir"
		dpkg -x "$deb" "$dir"
		touch "$dir/.done"
	fi
	[ -d "$dir/usr/lib/rustlib/src/rust/library/core" ] ||
		die "rust-src package has no library/core"
	echo "$dir/usr/lib/rustlib/src/rust/library"
}

bindgen_cli()
{
	local root=$RPMEM_CACHE/bindgen-$BINDGEN_VERSION
	if [ ! -x "$root/bin/bindgen" ]; then
		log "installing bindgen-cli $BINDGEN_VERSION"
		cargo install -q --locked bindgen-cli --version "$BINDGEN_VERSION" \
			--root "$root" >&2
	fi
	echo "$root/bin/bindgen"
}

libclang()
{
	local dir=$RPMEM_CACHE/libclang-$LIBCLANG_VERSION
	if [ ! -f "$dir/clang/native/libclang.so" ]; then
		log "installing libclang $LIBCLANG_VERSION"
		rm -rf "$dir"
		PIP_ROOT_USER_ACTION=ignore python3 -m pip install -q --disable-pip-version-check \
			--target "$dir" "libclang==$LIBCLANG_VERSION" >&2
	fi
	echo "$dir/clang/native"
}

command -v rustc >/dev/null || die "rustc not found (rustup's toolchain is expected)"
need_packages "${HOST_PKGS[@]}"
private_apt
ksrc=$(linux_source)
rlib=$(rust_src)
bg=$(bindgen_cli)
lc=$(libclang)
llvm=
if [ "$variant" = debug ]; then
	llvm=-$LLVM_MAJOR
	lc=$("llvm-config$llvm" --libdir) || die "llvm-config$llvm failed"
	compgen -G "$lc/libclang*.so*" >/dev/null || die "no libclang in $lc"
fi
cat <<OUT
KSRC=$ksrc
RUST_LIB_SRC=$rlib
BINDGEN=$bg
LIBCLANG_PATH=$lc
OUT
[ -z "$llvm" ] || echo "LLVM=$llvm"
