#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# series.sh [OUTDIR]: rpmem as a patch series against the Linux 7.3 tree the
# module is built against ("make series"). Writes OUTDIR (default
# $RPMEM_CACHE/series/out) with the cover letter and the patches
# (git format-patch), built from this tree's files by tools/series.py and
# committed, patch by patch, on a git repository of that kernel source,
# cached under $RPMEM_CACHE/series/base-SOURCE (made once, in a minute or
# two; keyed by the source package's directory, that is its version).
#
# That it applies and passes checkpatch: selftests/series_check.sh; that
# it builds and works in-tree: tools/check-series.sh.
#
# Prints OUTDIR's patches, one a line.

set -euo pipefail
. "$(dirname "$0")/lib.sh"

out=${1:-$RPMEM_CACHE/series/out}

# The kernel source the module builds against, and rustfmt, from the
# toolchain (installed or built first if missing).
export PATH=$HOME/.cargo/bin:$PATH
eval "$("$RPMEM_TOP/tools/toolchain.sh" default)" || die "toolchain setup failed"
ksrc=$KSRC
[ -f "$ksrc/scripts/checkpatch.pl" ] || die "$ksrc: not a kernel source tree"

# The base: a git repository of the source, its files as the tarball has
# them (Debian's .gitignore ignores the top level, hence -f). The source
# directory is only read.
base=$RPMEM_CACHE/series/base-$(basename "$ksrc")
if [ ! -f "$base/.done" ]; then
	log "making a git repository of $ksrc (once)"
	rm -rf "$base" "$base.tmp"
	mkdir -p "$base.tmp"
	git init -q --bare "$base.tmp"
	git --git-dir="$base.tmp" config core.bare false
	GIT_DIR=$base.tmp GIT_WORK_TREE=$ksrc git add -f -A
	# tools/toolchain.sh's mark that the source is unpacked is no source.
	GIT_DIR=$base.tmp git rm -q --cached --ignore-unmatch .done
	GIT_DIR=$base.tmp GIT_WORK_TREE=$ksrc git -c user.name=rpmem \
		-c user.email=rpmem@localhost commit -q -m "Linux $(basename "$ksrc")"
	git --git-dir="$base.tmp" config core.bare true
	touch "$base.tmp/.done"
	mv "$base.tmp" "$base"
fi
export GIT_DIR=$base

# Only the patches of OUT are replaced: OUT may be any directory.
mkdir -p "$out"
rm -f "$out"/*.patch
head=$(RPMEM_RUSTFMT_TOML=$ksrc/.rustfmt.toml python3 "$RPMEM_TOP/tools/series.py" \
	"$RPMEM_TOP" "$base" HEAD "$out") || die "tools/series.py failed"
git format-patch -q --cover-letter --no-signature -o "$out" HEAD.."$head"
python3 "$RPMEM_TOP/tools/series.py" --cover "$RPMEM_TOP" "$out"/0000-cover-letter.patch
ls "$out"/*.patch
