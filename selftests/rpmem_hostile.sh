#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Hostile input to everything writable that rpmem adds: its one writable
# sysfs file (/sys/block/rpmemX/dax/write_cache) and its module parameter
# (raw_dax, load time only: Rust parameters of 7.3 have no sysfs file).
#
#  - rpmem adds no other writable file: its disks, its driver directory and
#    its module directory have the writable files nd_pmem's have, and dax/
#    holds one (memmap and memmap_bytes refuse writes: EACCES);
#  - write_cache, on a disk of each kind (NFIT and memmap=), gets empty,
#    whitespace, negative, huge, non-numeric, overlong (4096 bytes and
#    more) and embedded-NUL values, each with one write(2)
#    (selftests/sysfs_write.c), with the value 0 and with the value 1
#    before: each write gets EINVAL and leaves the value alone (an empty
#    write never reaches a driver: it writes 0 bytes), and the disk still
#    does O_DIRECT I/O after each one;
#  - the words kstrtobool() knows (1/0, y/n, yes/no, t/f, true/false,
#    on/off, e/d, enable/disable, any case, one trailing newline) set the
#    value, under rpmem as under nd_pmem;
#  - nd_pmem, on the same namespace, gets the same inputs: it refuses
#    fewer, because kstrtobool() decides on the first one or two bytes
#    ("10", "yjunk", "1 ", "y\0junk" are taken); the test asserts exactly
#    which it takes, as the documented difference;
#  - insmod with a bad raw_dax value (empty, negative, huge, non-numeric,
#    overlong) fails with "Invalid parameters", loads nothing, makes no
#    disk and logs the value; a parameter value cannot hold a NUL byte
#    (init_module takes a C string), so there is no embedded-NUL case.
#    Like every bool parameter, raw_dax=1000 and raw_dax=2^64 load as
#    true and raw_dax=0junk as false: asserted as the kernel's outcome.
#
# Controls: a valid write that changes the value is seen as a change; the
# I/O check fails on a disk that is gone; a valid insmod is seen as loaded.

. "$(dirname "$0")/lib.sh"

IN=/tmp/inputs		# input I in $IN/I
IO_AT=1024		# the 4 KiB block the I/O check writes and reads
W=			# the sysfs_write helper
descs=()		# description of input I
nd_takes=()		# what nd_pmem makes of input I: 1, 0 (taken), EINVAL,
			# or none (an empty write: nothing reaches the driver)
writes=0		# hostile writes to write_cache

# ND_PMEM DESCRIPTION PRINTF-FORMAT: a bad input, its bytes made by printf.
add_input()
{
	local i=${#descs[@]}
	# shellcheck disable=SC2059 # the format is the input
	printf -- "$3" >"$IN/$i"
	nd_takes[i]=$1 descs[i]=$2
}

# ND_PMEM DESCRIPTION N CHAR [FIRST]: a bad input of N bytes: FIRST, then
# CHAR up to N bytes.
add_long()
{
	local i=${#descs[@]} first=${5:-}
	{ printf '%s' "$first"; head -c $(($3 - ${#first})) /dev/zero | tr '\0' "$4"; } >"$IN/$i"
	nd_takes[i]=$1 descs[i]=$2
}

make_inputs()
{
	mkdir -p "$IN"
	add_input none "empty (0 bytes)" ''
	add_input EINVAL "a newline" '\n'
	add_input EINVAL "a space" ' '
	add_input EINVAL "' 1' (leading space)" ' 1'
	add_input 1 "'1 ' (trailing space)" '1 '
	add_input 1 "'1\\t\\n' (tab)" '1\t\n'
	add_input 1 "'1\\n\\n' (two newlines)" '1\n\n'
	add_input 1 "'1\\r\\n' (CRLF)" '1\r\n'
	add_input EINVAL "-1" '-1'
	add_input EINVAL "-0" '-0'
	add_input EINVAL "+1" '+1'
	add_input EINVAL "2" '2'
	add_input 1 "10" '10'
	add_input 1 "1000" '1000'
	add_input 1 "2^64" '18446744073709551616'
	add_input EINVAL "99999999999999999999" '99999999999999999999'
	add_input 0 "0x1" '0x1'
	add_input 1 "1e9" '1e9'
	add_input EINVAL "abc" 'abc'
	add_input 1 "yjunk" 'yjunk'
	add_input 0 "nope" 'nope'
	add_input 1 "onward" 'onward'
	add_input 0 "offset" 'offset'
	add_input EINVAL "o" 'o'
	add_input EINVAL "ok" 'ok'
	add_input EINVAL "a NUL byte" '\x00'
	add_input 1 "'y\\0junk' (embedded NUL)" 'y\x00junk'
	add_input 1 "'1\\0' (trailing NUL)" '1\x00'
	add_input 0 "'off\\0on' (embedded NUL)" 'off\x00on'
	add_input EINVAL "'\\0' then '1'" '\x001'
	add_input EINVAL "non-ASCII (UTF-8 y with diaeresis)" '\xc3\xbf'
	add_input EINVAL "0xff byte" '\xff'
	add_long EINVAL "4096 x 'a'" 4096 a
	add_long 1 "4096 bytes: 'y', then 'x'" 4096 x y
	add_long 1 "4096 x '1' (one page)" 4096 1
	add_long 1 "5000 x '1' (more than a page)" 5000 1
	add_long EINVAL "5000 x 'a'" 5000 a
	add_long 0 "60000 x '0'" 60000 0
}

# The words that set the value, and the value each sets.
VALID=('1 1' '0 0' '1 1\n' '0 0\n' '1 y' '0 n' '1 Y\n' '0 N\n' '1 yes' '0 no'
       '1 YES\n' '0 No' '1 t' '0 f' '1 true' '0 false' '1 True\n' '0 FALSE'
       '1 on' '0 off' '1 ON\n' '0 Off\n' '1 e' '0 d' '1 enable' '0 disable'
       '1 Enable\n' '0 DISABLE')

wc_file() { echo "/sys/block/$1/dax/write_cache"; }

# DISK VALUE: write_cache set to VALUE, and reading so.
set_wc()
{
	echo "$2" >"$(wc_file "$1")" || return
	[ "$(cat "$(wc_file "$1")")" = "$2" ] || fail "write_cache did not become $2"
}

# DISK FILE: FILE's bytes written to write_cache with one write(2); prints
# what the write returned ("wrote N of M", or the error's text) and the
# value after it: "RESULT; now V".
write_wc()
{
	local f out
	f=$(wc_file "$1")
	out=$("$W" "$f" <"$2" 2>&1) || out=${out##*: }
	echo "$out; now $(cat "$f")"
}

# DISK: a fresh 4 KiB block written with O_DIRECT reads back the same.
io_ok()
{
	local blk=/tmp/io.$1
	head -c 4096 /dev/urandom >"$blk"
	dd if="$blk" of="/dev/$1" bs=4k count=1 seek=$IO_AT oflag=direct \
		conv=nocreat,notrunc status=none || return
	dd if="/dev/$1" bs=4k count=1 skip=$IO_AT iflag=direct status=none |
		cmp -s - "$blk" || fail "/dev/$1: block $IO_AT reads back wrong"
}

# DISK I [RESULT]: input I, with write_cache 0 and then 1 before it, gets
# RESULT (default: the error rpmem gives it) and leaves the value alone;
# the disk still does I/O.
refused()
{
	local d=$1 i=$2 want=${3:-} v got
	if [ -z "$want" ]; then
		want="Invalid argument"
		[ -s "$IN/$i" ] || want="wrote 0 of 0"
	fi
	for v in 0 1; do
		set_wc "$d" $v || return
		got=$(write_wc "$d" "$IN/$i")
		[ "$got" = "$want; now $v" ] ||
			fail "write_cache $v before: got '$got', want '$want; now $v'" || return
	done
	io_ok "$d"
}

# DISK I: what nd_pmem's disk does with input I, as nd_takes[I] says.
nd_pmem_as_documented()
{
	local d=$1 i=$2 v got want size
	size=$(stat -c %s "$IN/$i")
	for v in 0 1; do
		set_wc "$d" $v || return
		got=$(write_wc "$d" "$IN/$i")
		if [ "${nd_takes[i]}" = none ]; then
			want="wrote 0 of 0; now $v"
		elif [ "${nd_takes[i]}" = EINVAL ]; then
			want="Invalid argument; now $v"
		else
			# sysfs hands a driver one page of a longer write.
			want="wrote $((size < 4096 ? size : 4096)) of $size; now ${nd_takes[i]}"
		fi
		[ "$got" = "$want" ] || fail "write_cache $v before: got '$got', want '$want'" || return
	done
}

# DISK: every word of VALID sets the value it means.
valid_words()
{
	local d=$1 w v got f=$IN/valid
	for w in "${VALID[@]}"; do
		v=${w%% *}
		# shellcheck disable=SC2059 # the format is the input
		printf "${w#* }" >"$f"
		set_wc "$d" $((1 - v)) || return
		got=$(write_wc "$d" "$f")
		[ "$got" = "wrote $(stat -c %s "$f") of $(stat -c %s "$f"); now $v" ] ||
			fail "'${w#* }': $got" || return
	done
}

# DIR: the writable files below DIR, relative to it, one a line.
writable() { (cd "$1" && find . -type f -perm /222 | sort); }

same_files()	# WHAT RPMEM-LIST ND_PMEM-LIST
{
	[ "$2" = "$3" ] || fail "$1 differ:" "$(diff <(echo "$3") <(echo "$2"))"
}

# rpmem's driver and module directories: the writable files nd_pmem's have,
# and no parameters directory.
own_dirs()
{
	same_files "driver files" "$(writable "$ND/drivers/rpmem")" "$nd_drv_files" &&
		same_files "module files" "$(writable /sys/module/rpmem)" "$nd_mod_files" ||
		return
	[ ! -e /sys/module/rpmem/parameters ] ||
		fail "$(ls -l /sys/module/rpmem/parameters)"
}

# DISK: memmap and memmap_bytes refuse writes (EACCES) and keep their
# values.
read_only_files()
{
	local d=$1 a before out
	for a in memmap memmap_bytes; do
		before=$(cat "/sys/block/$d/dax/$a")
		out=$("$W" "/sys/block/$d/dax/$a" <"$IN/0" 2>&1) && fail "$a: $out" && return 1
		[ "$out" = "sysfs_write: open /sys/block/$d/dax/$a: Permission denied" ] ||
			fail "$a: $out" || return
		[ "$(cat "/sys/block/$d/dax/$a")" = "$before" ] || fail "$a changed"
	done
}

# --- the module parameter -----------------------------------------------------

# [LOG]: after a refused insmod, nothing is loaded, no rpmem disk exists,
# and the kernel log has LOG in it.
nothing_loaded()
{
	[ ! -e /sys/module/rpmem ] || fail "rpmem is loaded" || return
	! compgen -G "/sys/block/rpmem*" >/dev/null ||
		fail "rpmem disks: $(ls -d /sys/block/rpmem*)" || return
	[ -z "$1" ] || kmsg_since | grep -qF -- "$1" || fail "no '$1' in the kernel log"
}

# VALUE MEMMAP: insmod rpmem.ko raw_dax=VALUE loads, and binds the NFIT
# namespace with dax/memmap MEMMAP (ram: raw_dax on, none: off).
param_taken()
{
	local d
	insmod "$RPMEM_KO" "raw_dax=$1" || return
	udev_settle "$nfit" || fail "no disk for $nfit" || return
	d=$(ns_disk "$nfit")
	[ "$(cat "/sys/block/$d/dax/memmap")" = "$2" ] ||
		fail "dax/memmap is $(cat "/sys/block/$d/dax/memmap"), not $2" || return
	io_ok "$d" && rmmod rpmem
}

# Bad raw_dax values: DESCRIPTION, VALUE, and what the kernel logs for it.
# The kernel logs the 5000-byte value cut short, in a record that dmesg -r
# (util-linux 2.38) did not print here (dmesg -w did): no log check there.
INVALID="invalid for parameter \`raw_dax'"
PARAMS=("empty" "" "rpmem: \`' $INVALID"
	"-1" "-1" "rpmem: \`-1' $INVALID"
	"+1" "+1" "rpmem: \`+1' $INVALID"
	"2" "2" "rpmem: \`2' $INVALID"
	"99999999999999999999" "99999999999999999999" "rpmem: \`99999999999999999999' $INVALID"
	"-2^63" "-9223372036854775808" "rpmem: \`-9223372036854775808' $INVALID"
	"abc" "abc" "rpmem: \`abc' $INVALID"
	"ok" "ok" "rpmem: \`ok' $INVALID"
	"'\"\"' (quoted empty)" '""' "rpmem: \`' $INVALID"
	"non-ASCII" $'\xc3\xbf' "$INVALID"
	"5000 x 'x'" "$(head -c 5000 /dev/zero | tr '\0' x)" "")
N_PARAMS=$((${#PARAMS[@]} / 3))

make_inputs
n_in=${#descs[@]}
# per rpmem disk: n_in + valid words + control; nd_pmem: n_in + valid words;
# files: 4 + read-only 1 + gone-disk control; parameters: 2 per bad value,
# 3 taken, 1 control, 1 final I/O.
ktap_plan $((2 * (n_in + 2) + n_in + 1 + 6 + 2 * N_PARAMS + 5))
W=$(build_helper sysfs_write) || die "no sysfs_write helper"
manual_binding
load_rpmem || die "cannot load rpmem"
load_nd_pmem || die "cannot load nd_pmem"
nfit=$(namespace_of ACPI.NFIT)
e820=$(namespace_of e820)

# What nd_pmem's disk, driver and module offer, on the memmap namespace.
rebind_ns "$e820" nd_pmem || die "cannot bind $e820 to nd_pmem"
pdisk=$(ns_disk "$e820")
nd_disk_files=$(writable "/sys/block/$pdisk/")
nd_drv_files=$(writable "$ND/drivers/nd_pmem")
nd_mod_files=$(writable /sys/module/nd_pmem)

echo "# nd_pmem $pdisk on $e820, the same inputs"
for ((i = 0; i < n_in; i++)); do
	case ${nd_takes[i]} in
	none) what="0 bytes written" ;;
	EINVAL) what="Invalid argument" ;;
	*) what="taken as ${nd_takes[i]}" ;;
	esac
	check "nd_pmem $pdisk: ${descs[i]}: $what, as documented" \
		nd_pmem_as_documented "$pdisk" "$i"
done
check "nd_pmem $pdisk: ${#VALID[@]} valid words set the value" valid_words "$pdisk"
writes=$((writes + 2 * n_in))

rebind_ns "$e820" rpmem && rebind_ns "$nfit" rpmem || die "cannot bind to rpmem"
rn=$(ns_disk "$nfit") re=$(ns_disk "$e820")
check "$re: writable files as nd_pmem's $pdisk" \
	same_files "writable files" "$(writable "/sys/block/$re/")" "$nd_disk_files"
check "$rn: writable files as nd_pmem's $pdisk" \
	same_files "writable files" "$(writable "/sys/block/$rn/")" "$nd_disk_files"
check "$re: dax/write_cache is the only writable file in dax/" \
	same_files "dax/" "$(writable "/sys/block/$re/dax")" "./write_cache"
check "driver and module directories: writable files as nd_pmem's, no parameters" \
	own_dirs
check "$re: memmap, memmap_bytes refuse writes (Permission denied), unchanged" \
	read_only_files "$re"

for d in "$rn" "$re"; do
	for ((i = 0; i < n_in; i++)); do
		check "$d: ${descs[i]}: refused, value unchanged, I/O works" refused "$d" "$i"
	done
	check "$d: ${#VALID[@]} valid words set the value" valid_words "$d"
	# A valid write that gets what it asks for ("wrote 2 of 2"), but
	# changes the value: refused must notice the change.
	printf '0\n' >"$IN/control"
	check "$d: control: a valid write changing the value is seen" \
		eval "! refused $d control 'wrote 2 of 2'"
	writes=$((writes + 2 * n_in))
done
unbind_ns "$nfit"
check "control: the I/O check fails on $rn once it is gone" eval "! io_ok $rn"
rebind_ns "$nfit" rpmem || die "cannot bind $nfit to rpmem again"

# The module parameter: with autoprobe on, a load binds both namespaces.
rmmod rpmem && rmmod nd_pmem || die "cannot unload the drivers"
echo 1 >"$ND/drivers_autoprobe"
for ((i = 0; i < ${#PARAMS[@]}; i += 3)); do
	desc=${PARAMS[i]} v=${PARAMS[i + 1]}
	kmsg_mark
	expect_fail "Invalid parameters" "insmod rpmem.ko raw_dax=$desc" \
		insmod "$RPMEM_KO" "raw_dax=$v"
	check "raw_dax=$desc: nothing loaded, no disk${PARAMS[i + 2]:+, the log names the value}" \
		nothing_loaded "${PARAMS[i + 2]}"
	[ ! -e /sys/module/rpmem ] || rmmod rpmem
done
check "raw_dax=1000 loads as true (kstrtobool: first byte), DAX on" param_taken 1000 ram
check "raw_dax=2^64 loads as true (kstrtobool: first byte), DAX on" \
	param_taken 18446744073709551616 ram
check "raw_dax=0junk loads as false (kstrtobool: first byte), DAX off" param_taken 0junk none
kmsg_mark
insmod "$RPMEM_KO" raw_dax=n
check "control: a valid insmod raw_dax=n is seen as loaded" eval '! nothing_loaded ""'
rmmod rpmem
load_rpmem
udev_settle "$nfit" && udev_settle "$e820" || die "no disks after a plain insmod"
check "both disks do I/O after it all" eval 'io_ok "$(ns_disk "$nfit")" && io_ok "$(ns_disk "$e820")"'
echo "# $((writes + N_PARAMS)) hostile inputs tried: $n_in bad write_cache values," \
	"each with the value 0 and 1 before, on rpmem's two disks and nd_pmem's" \
	"($writes writes), and $N_PARAMS bad raw_dax values; also ${#VALID[@]} valid" \
	"words on each disk, 3 raw_dax values taken by their first byte"
ktap_finish
