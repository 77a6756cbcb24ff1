# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash disable=SC2034
#
# Common settings for the rpmem tools. Sourced, never run.
#
# Everything that is downloaded or built lives under $RPMEM_CACHE, keyed by
# the versions it depends on, so that a second run costs seconds.

RPMEM_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RPMEM_CACHE=${RPMEM_CACHE:-$HOME/.cache/rpmem}

# Versions the project is pinned to.
LINUX_SRC_PKG=linux-source-7.3
BINDGEN_VERSION=0.72.1
LIBCLANG_VERSION=18.1.1
# The debug variant (KASAN) is built with Debian 12's clang/LLVM of this
# major version (LLVM=-19); its libclang serves bindgen there.
LLVM_MAJOR=19
# Debian suite that carries linux-source-7.3 and a rust-src matching rustc.
EXTRA_SUITE=trixie-backports

# Kernel log lines that fail a run (tools/vm.sh, host-side tests).
# Extended regex, for kernel log lines only (console.log also holds the
# command's output).
KERNEL_PROBLEMS='Oops|BUG:|WARNING:|Kernel panic|general protection fault|kernel BUG'
KERNEL_PROBLEMS+='|KASAN|UBSAN|possible circular locking|possible recursive locking'
KERNEL_PROBLEMS+='|inconsistent lock state|suspicious RCU usage|blocked for more than'
KERNEL_PROBLEMS+='|refcount_t:|Call Trace:|unreferenced object|suspected memory leak'

log() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Install the Debian packages among PKG... that are missing, from the
# machine's own apt sources.
need_packages()	# PKG...
{
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q 'ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return
	log "installing host packages: ${missing[*]}"
	apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends "${missing[@]}" >&2
}

# APT_OPTS: apt options for a private configuration in DIR (its
# sources.list and parts/, lists and caches), which leaves the system's
# apt configuration alone.
private_apt_opts()	# DIR
{
	mkdir -p "$1"/{lists/partial,archives/partial,parts}
	APT_OPTS=(-o APT::Sandbox::User=root
		  -o "Dir::Etc::SourceList=$1/sources.list"
		  -o "Dir::Etc::SourceParts=$1/parts"
		  -o "Dir::State::Lists=$1/lists"
		  -o "Dir::Cache=$1"
		  -o "Dir::Cache::archives=$1/archives"
		  -o "Dir::Cache::pkgcache=" -o "Dir::Cache::srcpkgcache=")
}

# rustc's version, e.g. 1.95.0.
rustc_version() { rustc --version | awk '{print $2}'; }

# rustup installs into ~/.cargo/bin, which a non-login shell may not have.
case :$PATH: in *:$HOME/.cargo/bin:*) ;; *) PATH=$HOME/.cargo/bin:$PATH ;; esac

mkdir -p "$RPMEM_CACHE"
