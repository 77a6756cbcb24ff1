#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The kernel patch series (make series) applies to the Linux 7.3 tree it
# is made for, patch after patch, and scripts/checkpatch.pl --strict of
# that tree finds nothing in any patch, and the examples of each patch's
# doc comments (the kernel crate's doctests in-tree) name only items of
# that patch and earlier ones, and the documentation's patch (Documentation/
# rpmem.rst as the driver's in-tree documentation) names nothing of this
# repository. Controls: a patch applied out of order (the driver, alone on
# the base) must not apply, a line over 100 columns written into a copy of
# the driver's sources must come out in the series and make checkpatch fail
# on that patch, for that reason, an example of an early patch doctored to
# name a later patch's item must fail the examples' check, for that example
# and that item, and a repo-only passage of rpmem.rst left unmarked must
# fail the documentation's check, for the path it names.
# Runs on the host, from the cached base (tools/series.sh makes it once).

. "$(dirname "$0")/lib.sh"

export PATH=$HOME/.cargo/bin:$PATH
eval "$("$RPMEM_TOP/tools/toolchain.sh" default)" >/dev/null || die "toolchain setup failed"
checkpatch=$KSRC/scripts/checkpatch.pl
base=${RPMEM_CACHE:=$HOME/.cache/rpmem}/series/base-$(basename "$KSRC")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$RPMEM_TOP/tools/series.sh" "$tmp/out" >"$tmp/gen.log" 2>&1 ||
	{ tail -n 20 "$tmp/gen.log" | sed 's/^/# /'; die "make series failed"; }
patches=()
for p in "$tmp"/out/0*.patch; do
	[[ $p == */0000-cover-letter.patch ]] || patches+=("$p")
done
[ ${#patches[@]} -gt 0 ] || die "make series wrote no patches"

ktap_plan $((2 * ${#patches[@]} + 7))

# The cover letter carries the benchmark table and the test summary.
cover_complete()
{
	local c=$tmp/out/0000-cover-letter.patch
	grep -q '^btt-seq-write-1m ' "$c" || fail "no benchmark table"
	grep -q '^- rpmem_fio: ' "$c" || fail "no test summary"
	! grep -q '\*\*\*' "$c" || fail "a template line is left: $(grep '\*\*\*' "$c")"
}
check "cover letter has the benchmark table and the test summary" cover_complete

# The patches are applied to the base's tree in an index of our own (no
# checkout of the kernel is needed), one after the other.
# INDEX GIT-ARGS...: git on the base, with that index.
base_git() { GIT_DIR=$base GIT_INDEX_FILE=$1 git "${@:2}"; }
base_git "$tmp/index" read-tree HEAD || die "no base tree in $base"
for p in "${patches[@]}"; do
	check "applies in order: $(basename "$p")" base_git "$tmp/index" apply --cached "$p"
done

# PATCH EXPECTED-STATUS [MESSAGE]: checkpatch --strict of the 7.3 tree.
checkpatch()
{
	local out rc
	out=$("$checkpatch" --strict --no-tree --color=never "$1" 2>&1)
	rc=$?
	if [ "$2" -eq 0 ]; then
		[ $rc -eq 0 ] || fail "$out"
	else
		[ $rc -ne 0 ] || fail "checkpatch passed: $out" || return
		grep -q -- "$3" <<<"$out" || fail "no '$3' in: $out"
	fi
}

for p in "${patches[@]}"; do
	check "checkpatch --strict: $(basename "$p")" checkpatch "$p" 0
done

# In-tree, the examples are doctests, built with each patch
# (tools/check-series.sh): none may name what a later patch adds.
examples_order()
{
	local out
	out=$(python3 "$RPMEM_TOP/tools/series.py" --examples "$RPMEM_TOP" 2>&1) ||
		fail "$out"
}
check "examples name only items of their own patch and earlier ones" examples_order

# In-tree, rpmem.rst is the driver's documentation: Documentation/
# rpmem.rst's repo-only passages are left out and its paths mapped
# (tools/series.py, in_tree_doc()), so it names no file, directory or make
# target of this repository, and no marker is left.
repo_only='README\.md|selftests/|tools/|rust/(pmem|ext|sys)/|rust/(kunit|rpmem)\.rs'
repo_only+='|make (check|series|check-series|bench|run|shell)\b|vm\.sh|Kbuild'
repo_only+='|persistence-model\.rst|rust-ext-soundness|(^|[^[:alnum:]_/])(ext|pmem)/'
repo_only+='|^ *\.\. (repo-only|end of repo-only|in-tree)$'
# RST: fails naming each line of the file RST that names the repository.
repo_free()
{
	local hits
	[ "$(wc -l <"$1")" -gt 100 ] || fail "$1: too short to be rpmem.rst" || return
	! hits=$(grep -nE "$repo_only" "$1") || fail "names the repository: $hits"
}
doc_subject='^Subject: \[PATCH [0-9/]*\] Documentation: nvdimm: add rpmem'
# PATCH: the file rpmem.rst that PATCH adds.
added_doc()
{
	awk '$0 == "+++ b/Documentation/driver-api/nvdimm/rpmem.rst" { on = 1; next }
	     on && /^diff --git / { exit }
	     on && /^\+/ { print substr($0, 2) }' "$1"
}
docs=$(grep -l "$doc_subject" "${patches[@]}")
added_doc "$docs" >"$tmp/rpmem.rst"
check "$(basename "$docs"): rpmem.rst names nothing of the repository" repo_free "$tmp/rpmem.rst"

# Control: the README.md passage of rpmem.rst left without its repo-only
# markers fails that check, for README.md.
unmarked()
{
	local copy=$tmp/doc out
	mkdir -p "$copy/Documentation"
	local passage='(Platforms and how to try each: [^\n]*\n)'
	perl -0pe "s/\\.\\. repo-only\\n\\n$passage\\n\\.\\. end of repo-only\\n/\\1/" \
		"$RPMEM_TOP/Documentation/rpmem.rst" >"$copy/Documentation/rpmem.rst"
	! cmp -s "$RPMEM_TOP/Documentation/rpmem.rst" "$copy/Documentation/rpmem.rst" ||
		fail "no README.md passage of rpmem.rst to unmark" || return
	python3 "$RPMEM_TOP/tools/series.py" --doc "$copy" >"$tmp/unmarked.rst" ||
		fail "series.py --doc failed" || return
	! out=$(repo_free "$tmp/unmarked.rst") || fail "the check passed" || return
	grep -q '^names the repository: [0-9]*:Platforms and how to try each: ``README.md``' \
		<<<"$out" || fail "not for README.md: $out"
}
check "control: a repo-only passage left unmarked fails the documentation's check" unmarked

# Control: out of order, the driver's patch does not apply to the base.
driver_subject='^Subject: \[PATCH [0-9/]*\] nvdimm: add rpmem'
driver=$(grep -l "$driver_subject" "${patches[@]}")
not_applied()
{
	base_git "$tmp/index.bare" read-tree HEAD || return
	! base_git "$tmp/index.bare" apply --cached "$1" 2>/dev/null ||
		fail "$(basename "$1") applied to the bare base"
}
check "control: $(basename "$driver") alone does not apply to the base" not_applied "$driver"

# Control: a bad line in the sources reaches the series and fails
# checkpatch, for its length.
bad_line()
{
	local copy=$tmp/copy long p
	mkdir -p "$copy"
	git -C "$RPMEM_TOP" ls-files -z --cached --others --exclude-standard |
		(cd "$RPMEM_TOP" && xargs -0 cp --parents -t "$copy")
	long=$(printf 'x%.0s' {1..120})
	printf '// %s\n' "$long" >>"$copy/rust/pmem/failure.rs"
	"$copy/tools/series.sh" "$tmp/bad" >/dev/null 2>&1 || fail "make series failed" || return
	p=$(grep -l "$driver_subject" "$tmp"/bad/0*.patch)
	grep -q "^+// $long\$" "$p" || fail "the line is not in $(basename "$p")" || return
	checkpatch "$p" 1 'line length of 123 exceeds 100 columns'
}
check "control: a line over 100 columns fails checkpatch" bad_line

# Control: badblocks' example (patch 3) made to name nvdimm's Mapping
# (patch 8) fails the examples' check, for that example and that item.
later_item()
{
	local copy=$tmp/examples out
	mkdir -p "$copy/rust"
	cp -r "$RPMEM_TOP/rust/ext" "$copy/rust/"
	sed -i 's|^/// use crate::ext::badblocks::Badblocks;$|/// use crate::ext::{badblocks::Badblocks, nvdimm::mapping::Mapping};|' \
		"$copy/rust/ext/badblocks.rs"
	grep -q 'nvdimm::mapping::Mapping}' "$copy/rust/ext/badblocks.rs" ||
		fail "no example of badblocks.rs to doctor" || return
	! out=$(python3 "$RPMEM_TOP/tools/series.py" --examples "$copy" 2>&1) ||
		fail "the check passed: $out" || return
	grep -q '^rust/ext/badblocks.rs:[0-9]*: crate::ext::nvdimm::mapping::Mapping is patch nvdimm' \
		<<<"$out" || fail "not for that example and item: $out"
}
check "control: an example naming a later patch's item fails the check" later_item

ktap_finish
