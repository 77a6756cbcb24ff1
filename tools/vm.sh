#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Run a command in a QEMU guest on the test kernel: vm.sh --help.
#
# The guest's root is the host's /, read-only over virtio-9p, so the host's
# programs and this repository (at the same path) are there; its PID 1 is
# tools/guest-init.sh. A per-run directory, shared read-write, carries the
# command in and its status, console and kernel log out. Afterwards the
# kernel log is scanned: a clean exit status means a clean kernel log.

set -euo pipefail
. "$(dirname "$0")/lib.sh"

KVM_PROBE_SECS=20
MEM_FILE=memory-backend-file,share=on	# guest memory in a host file
# The guest's root: the host's /, read-only, over virtio-9p.
ROOT_9P=local,path=/,mount_tag=rootfs,security_model=none,readonly=on,multidevs=remap
# msize: the most virtio takes; cache=loose: the share is read-only.
ROOT_ARGS=(root=rootfs rootfstype=9p ro
	   rootflags=trans=virtio,version=9p2000.L,msize=512000,cache=loose)

usage()
{
	cat <<EOF
usage: ${0##*/} [options] [--] command...
       ${0##*/} [options] --shell

Boot the test kernel in QEMU and run command (one argument: a shell command
line; several: a program and its arguments, passed as they are) with bash
in the guest, in the current directory, with RPMEM_TOP, RPMEM_KDIR (kernel
build directory) and RPMEM_OUT (the run directory, as seen by the guest)
exported, DAX_DRIVER and RPMEM_SOAK_SECS if they are set here (see
selftests/lib.sh, selftests/rpmem_soak.sh), and RPMEM_VM_TIMEOUT. The
host's / is the guest's root, read-only; /tmp, /var/tmp and /run are guest
tmpfs. A command may end the VM itself (say, an un-clean power-off: echo o
>/proc/sysrq-trigger) once it has written its status to \$RPMEM_OUT/rc.

  --kernel PATH     bzImage or kernel build directory (default: the one
                    tools/kernel.sh prints, building it if needed)
  --mem SIZE        guest RAM (default 1G)
  --cpus N          virtual CPUs (default 2)
  --nvdimm SIZE[,label=SIZE][,file=PATH]
                    add an NVDIMM (repeatable) backed by PATH, created sparse
                    if missing and kept; without file=, a scratch file in the
                    run directory, deleted afterwards
  --virtio-pmem SIZE[,file=PATH]
                    add a virtio-pmem device (repeatable) backed by PATH, like
                    --nvdimm: persistent memory whose flush is a request to
                    QEMU, which fsyncs PATH
  --cxl-pmem SIZE[,file=PATH][,lsa=PATH]
                    add a CXL type-3 memory device with SIZE of persistent
                    memory (a multiple of 256 MiB) backed by PATH, and label
                    storage backed by lsa=PATH (128 KiB); without file= or
                    lsa=, scratch files. Once only: one pxb-cxl host bridge,
                    one cxl-rp root port, the device, and a 4 GiB CXL fixed
                    memory window targeting the bridge, on a q35 machine
                    (cxl=on). The guest assembles a region with
                    "cxl create-region -m -t pmem -d decoder0.0 -w 1 mem0"
  --memmap SIZE!START
                    reserve guest RAM as legacy persistent memory (memmap=,
                    repeatable); 2 MiB aligned, inside RAM, above 16 MiB
                    (below 4 GiB: under 3 GiB on the pc machine, under 2 or
                    2.75 GiB on q35, which --cxl-pmem needs)
  --ram-file PATH   back all guest RAM with PATH (created if missing, kept):
                    file offset == guest physical address below 3 GiB, so
                    --memmap regions persist across boots
  --append ARGS     extra kernel command line
  --timeout SECS    kill the VM after SECS (default 600; none with --shell),
                    times RPMEM_VM_SLOWDOWN if set (a whole factor: the
                    debug kernel's checks make everything slower)
  --out DIR         run directory (default: a new one under
                    \$RPMEM_CACHE/runs): console.log, dmesg.log, kernel.log, rc,
                    accel (kvm or tcg)
  --accel MODE      kvm, tcg or auto (default: kvm if a test boot works)
  --which-accel     print the accelerator a run would use (kvm or tcg), boot
                    nothing
  --icount SHIFT    TCG with a virtual clock that counts instructions
                    (2^SHIFT ns each; implies --accel tcg): guest time no
                    longer depends on how busy the host is (benchmarks)
  --shell           interactive bash on the console (Ctrl-A X quits QEMU)
  --quiet           do not copy the console to stdout
  --pidfile PATH    write QEMU's PID to PATH, for a power-failure test that
                    kills QEMU with SIGKILL: that end is then status 95
                    (kernel log clean) or 99, not a timeout

SIZE: a number of bytes, decimal or 0x hex, with an optional K, M, G or T
(binary) suffix.

Exit status: the command's, if the kernel log is clean; 99 if the kernel
log shows a problem (oops, BUG, WARNING, lockdep, KASAN, hung task, ...);
98 if the guest ended without an exit status (crash, panic); 97 on timeout;
96 if QEMU failed; 95 if QEMU was killed with SIGKILL under --pidfile; 1 on
a usage or setup error.
EOF
}

kernel= mem=1G cpus=2 accel=auto timeout= out= quiet=0 shell=0 ram_file= pidfile=
icount= which_accel=0
slowdown=${RPMEM_VM_SLOWDOWN:-1}
nvdimms=() memmaps=() append=() scratch=() vpmems=() cxls=()
nv_mib=() nv_label=() nv_file=() memmap_args=() vp_mib=() vp_file=()
cxl_mib= cxl_file= cxl_lsa=
CXL_LSA_SIZE=$((128 << 10))

# SIZE in bytes.
bytes()
{
	local n m=0
	[[ ${1^^} =~ ^(0X[0-9A-F]+|[0-9]+)([KMGT]?)$ ]] || die "bad size '$1'"
	n=${BASH_REMATCH[1]}
	[[ $n == 0X* ]] || n=10#$n
	case ${BASH_REMATCH[2]} in
	K) m=10 ;; M) m=20 ;; G) m=30 ;; T) m=40 ;;
	esac
	echo $((n << m))
}

# SIZE in MiB, which it must be a multiple of.
mib()
{
	local b
	b=$(bytes "$1")
	[ $((b % (1 << 20))) -eq 0 ] && [ "$b" -gt 0 ] ||
		die "$1 is not a positive multiple of 1 MiB"
	echo $((b >> 20))
}

parse_args()
{
	while [ $# -gt 0 ]; do
		case $1 in
		--kernel|--mem|--cpus|--nvdimm|--memmap|--ram-file|--append|\
		--timeout|--out|--accel|--pidfile|--icount|--virtio-pmem|--cxl-pmem)
			[ $# -ge 2 ] || die "$1 needs an argument"
			set_option "$1" "$2"
			shift 2 ;;
		--shell) shell=1; shift ;;
		--which-accel) which_accel=1; shift ;;
		--quiet) quiet=1; shift ;;
		-h|--help) usage; exit 0 ;;
		--) shift; break ;;
		-*) die "unknown option $1 (see --help)" ;;
		*) break ;;
		esac
	done
	cmd=("$@")
	[ $shell -eq 1 ] || [ $which_accel -eq 1 ] || [ ${#cmd[@]} -gt 0 ] ||
		die "no command (see --help)"
	[ $shell -eq 0 ] || [ ${#cmd[@]} -eq 0 ] || die "--shell takes no command"
	[[ $slowdown =~ ^[1-9][0-9]?$ ]] ||
		die "RPMEM_VM_SLOWDOWN=$slowdown is not a factor from 1 to 99"
}

set_option()
{
	case $1 in
	--kernel) kernel=$2 ;;
	--mem) mem=$2 ;;
	--cpus) [[ $2 =~ ^[1-9][0-9]*$ ]] || die "bad CPU count '$2'"; cpus=$2 ;;
	--nvdimm) nvdimms+=("$2") ;;
	--memmap) memmaps+=("$2") ;;
	--virtio-pmem) vpmems+=("$2") ;;
	--cxl-pmem) cxls+=("$2") ;;
	--ram-file) ram_file=$2 ;;
	--append) append+=("$2") ;;
	--timeout) [[ $2 =~ ^[0-9]+$ ]] || die "bad timeout '$2'"; timeout=$2 ;;
	--out) out=$2 ;;
	--pidfile) pidfile=$2 ;;
	--accel)
		[[ $2 =~ ^(kvm|tcg|auto)$ ]] || die "bad accelerator '$2'"
		accel=$2 ;;
	--icount)
		[[ $2 =~ ^[0-9]$ ]] || die "bad --icount shift '$2' (0 to 9)"
		icount=$2 accel=tcg ;;
	esac
}

# kernel (the bzImage) and kdir (its build directory, if known).
find_kernel()
{
	[ -n "$kernel" ] || kernel=${RPMEM_KDIR:-$("$RPMEM_TOP/tools/kernel.sh")}
	kdir=
	if [ -d "$kernel" ]; then
		kdir=$(cd "$kernel" && pwd)
		kernel=$kdir/arch/x86/boot/bzImage
	else
		kernel=$(realpath "$kernel")
		case $kernel in
		*/arch/x86/boot/bzImage) kdir=${kernel%/arch/x86/boot/bzImage} ;;
		esac
	fi
	[ -f "$kernel" ] || die "no kernel image $kernel"
}

make_out()
{
	if [ -z "$out" ]; then
		mkdir -p "$RPMEM_CACHE/runs"
		out=$(mktemp -d "$RPMEM_CACHE/runs/$(date +%Y%m%d-%H%M%S)-XXXX")
	fi
	mkdir -p "$out"
	out=$(cd "$out" && pwd)
	rm -f "$out"/{console.log,dmesg.log,kernel.log,rc,cmd,guest.env,qemu.cmd}
	log "run directory: $out"
}

# The guest has its own, empty, /tmp, /var/tmp, /run, /dev, /proc and /sys;
# only the checkout itself stays visible there (guest-init.sh).
check_cwd()
{
	case $PWD/ in
	"$RPMEM_TOP"/*) ;;
	/tmp/*|/var/tmp/*|/run/*|/dev/*|/proc/*|/sys/*)
		log "warning: the guest does not see the host's files in $PWD" ;;
	esac
}

# What guest-init.sh needs, as shell assignments; the command in its own
# file, so that no quoting is lost on the way.
write_guest_files()
{
	local rows= cols= v
	if [ $shell -eq 1 ] && [ -t 0 ]; then
		read -r rows cols < <(stty size) || true
	fi
	{
		printf 'RPMEM_%s=%q\n' TOP "$RPMEM_TOP" KDIR "$kdir" CWD "$PWD" \
			MODE "$( ((shell)) && echo shell || echo cmd)" \
			TERM "${TERM:-}" ROWS "$rows" COLS "$cols"
		# Which driver the DAX selftests exercise (selftests/lib.sh),
		# how long rpmem_soak runs, and how long the guest may run.
		for v in DAX_DRIVER RPMEM_SOAK_SECS; do
			[ -z "${!v:-}" ] || printf '%s=%q\n' "$v" "${!v}"
		done
		[ $shell -eq 1 ] ||
			printf 'RPMEM_VM_TIMEOUT=%q\n' $((${timeout:-600} * slowdown))
	} >"$out/guest.env"
	if [ ${#cmd[@]} -eq 1 ]; then
		printf '%s\n' "${cmd[0]}"
	elif [ ${#cmd[@]} -gt 1 ]; then
		printf '%q ' "${cmd[@]}"
		echo
	fi >"$out/cmd"
}

# PATH, backing SIZE bytes of guest memory: no ',' (QEMU would split it),
# and if it exists, the right size.
check_file()
{
	local have
	[[ $1 != *,* ]] || die "QEMU cannot take a ',' in $1"
	[ -e "$1" ] || return 0
	have=$(stat -c %s "$1")
	[ "$have" -eq "$2" ] || die "$1 has $have bytes, not $2"
}

# One --nvdimm INDEX SPEC into nv_mib[], nv_label[] and nv_file[] (empty: a
# scratch file).
parse_nvdimm()
{
	local i=$1 spec opt
	IFS=, read -ra spec <<<"$2"
	nv_mib[i]=$(mib "${spec[0]}") nv_label[i]= nv_file[i]=
	for opt in "${spec[@]:1}"; do
		case $opt in
		label=*) nv_label[i]=$(bytes "${opt#label=}") ;;
		file=*) nv_file[i]=$(realpath "${opt#file=}") ;;
		*) die "bad --nvdimm option '$opt'" ;;
		esac
	done
	[ -z "${nv_file[i]}" ] || check_file "${nv_file[i]}" $((nv_mib[i] << 20))
}

# One --virtio-pmem INDEX SPEC into vp_mib[] and vp_file[] (empty: a
# scratch file).
parse_virtio_pmem()
{
	local i=$1 spec opt
	IFS=, read -ra spec <<<"$2"
	vp_mib[i]=$(mib "${spec[0]}") vp_file[i]=
	for opt in "${spec[@]:1}"; do
		case $opt in
		file=*) vp_file[i]=$(realpath "${opt#file=}") ;;
		*) die "bad --virtio-pmem option '$opt'" ;;
		esac
	done
	[ $((vp_mib[i] % 2)) -eq 0 ] || die "--virtio-pmem $2: not a multiple of 2 MiB"
	[ -z "${vp_file[i]}" ] || check_file "${vp_file[i]}" $((vp_mib[i] << 20))
}

# The --cxl-pmem SPEC into cxl_mib, cxl_file and cxl_lsa.
parse_cxl()
{
	local spec opt
	[ ${#cxls[@]} -le 1 ] || die "--cxl-pmem: one device at most"
	[ ${#cxls[@]} -eq 1 ] || return 0
	IFS=, read -ra spec <<<"${cxls[0]}"
	cxl_mib=$(mib "${spec[0]}")
	[ $((cxl_mib % 256)) -eq 0 ] || die "--cxl-pmem ${spec[0]}: not a multiple of 256 MiB"
	[ "$cxl_mib" -le 4096 ] || die "--cxl-pmem ${spec[0]}: more than the 4 GiB window"
	for opt in "${spec[@]:1}"; do
		case $opt in
		file=*) cxl_file=$(realpath "${opt#file=}") ;;
		lsa=*) cxl_lsa=$(realpath "${opt#lsa=}") ;;
		*) die "bad --cxl-pmem option '$opt'" ;;
		esac
	done
	[ -z "$cxl_file" ] || check_file "$cxl_file" $((cxl_mib << 20))
	[ -z "$cxl_lsa" ] || check_file "$cxl_lsa" $CXL_LSA_SIZE
}

# One --memmap SIZE!START: check it, keep it for the kernel command line.
check_memmap()
{
	local size start end ram=$((mem_mib << 20)) lowmem high_end
	[[ $1 == *!* ]] || die "--memmap takes SIZE!START, not '$1'"
	size=$(bytes "${1%%!*}")
	start=$(bytes "${1#*!}")
	end=$((start + size))
	# RAM below 4 GiB: QEMU's pc machine puts up to 3.5 GiB there, else
	# 3 GiB; q35 up to 2.75 GiB, else 2 GiB.
	lowmem=$ram
	if [ -n "$cxl_mib" ]; then
		[ $ram -lt $((0xb0000000)) ] || lowmem=$((0x80000000))
	else
		[ $ram -lt $((0xe0000000)) ] || lowmem=$((0xc0000000))
	fi
	high_end=$((ram - lowmem + (4 << 30)))
	[ $(((size | start) % (2 << 20))) -eq 0 ] && [ $size -gt 0 ] ||
		die "--memmap $1: not 2 MiB aligned"
	[ $start -ge $((16 << 20)) ] ||
		die "--memmap $1: starts below 16 MiB, where the kernel loads"
	[ $end -le $lowmem ] ||
		{ [ $start -ge $((4 << 30)) ] && [ $end -le $high_end ]; } ||
		die "--memmap $1: not inside the guest's RAM (--mem $mem)"
	memmap_args+=("memmap=$((size >> 20))M!$((start >> 20))M")
}

# All the options that need checking, before anything is created.
check_options()
{
	local i
	mem_mib=$(mib "$mem")
	for i in "${!nvdimms[@]}"; do
		parse_nvdimm "$i" "${nvdimms[i]}"
	done
	for i in "${!vpmems[@]}"; do
		parse_virtio_pmem "$i" "${vpmems[i]}"
	done
	parse_cxl
	for i in "${memmaps[@]}"; do
		check_memmap "$i"
	done
	if [ -n "$ram_file" ]; then
		ram_file=$(realpath "$ram_file")
		check_file "$ram_file" $((mem_mib << 20))
	fi
	[[ $RPMEM_TOP != *[[:space:],]* ]] ||
		die "the guest cannot boot from $RPMEM_TOP: no spaces or ',' please"
}

# Whether KVM runs our guests here: /dev/kvm is not enough, the verdict of
# a test boot is kept for the host's boot and QEMU version.
kvm_usable()
{
	local key verdict
	[ -c /dev/kvm ] && [ -r /dev/kvm ] && [ -w /dev/kvm ] || return 1
	key=$(cat /proc/sys/kernel/random/boot_id)-$(qemu-system-x86_64 --version |
		head -n1 | tr -c 'a-zA-Z0-9.\n' _)
	verdict=$RPMEM_CACHE/kvm/$key
	if [ ! -f "$verdict" ]; then
		mkdir -p "$RPMEM_CACHE/kvm"
		if kvm_probe; then
			echo yes >"$verdict.$$"
		else
			echo no >"$verdict.$$"
			log "KVM does not boot the test kernel here, using TCG (slow);" \
			    "rm $verdict to test again"
		fi
		mv "$verdict.$$" "$verdict"
	fi
	[ "$(cat "$verdict")" = yes ]
}

# Boot the kernel under KVM with /bin/true as init: its exit makes the
# kernel panic with "Attempted to kill init", proof that userspace ran.
kvm_probe()
{
	local con ok=1
	con=$(mktemp)
	timeout -k 2 $KVM_PROBE_SECS qemu-system-x86_64 -nodefaults -no-reboot \
		-display none -accel kvm -cpu host -m 256M -kernel "$kernel" \
		-virtfs "$ROOT_9P" -serial "file:$con" \
		-append "console=ttyS0 panic=-1 ${ROOT_ARGS[*]} init=/bin/true" \
		</dev/null >/dev/null 2>&1 || true
	grep -q 'Attempted to kill init' "$con" && ok=0
	rm -f "$con"
	return $ok
}

pick_accel()
{
	if [ "$accel" = auto ]; then
		accel=tcg
		! kvm_usable || accel=kvm
	fi
	echo "$accel${icount:+ icount shift=$icount}" >"$out/accel"	# for tools/bench.sh
	# A CPU without the hypervisor bit for CXL (see cxl_args).
	local cpu_flags=${cxl_mib:+,hypervisor=off}
	if [ "$accel" = kvm ]; then
		qemu+=(-accel kvm -cpu "host$cpu_flags")
	else
		# -cpu max has clflushopt and clwb under TCG. Emulated CPUs
		# can stall for many seconds on a loaded host: no RCU stall
		# warnings for those (a real lockup still shows, later).
		# Multi-threaded TCG races with the kernel's int3-based code
		# patching (static keys) and oopses at boot now and then:
		# one host thread runs all vCPUs, which stay SMP for the guest.
		qemu+=(-accel tcg,thread=single -cpu "max$cpu_flags")
		kargs+=(rcupdate.rcu_cpu_stall_timeout=120)
		# Idle guests jump to their next timer instead of sleeping.
		[ -z "$icount" ] || qemu+=(-icount "shift=$icount,sleep=off")
	fi
}

# A KASAN kernel (the debug variant) with 5-level paging, which -cpu max
# offers, reports a wild-memory-access in do_raw_spin_lock from the first
# interrupt, 4 ms into every boot (7.3.4, TCG): a kernel problem, not
# rpmem's, that would fail every test. Such kernels run with 4 levels.
kasan_args()
{
	[ -n "$kdir" ] && grep -qx CONFIG_KASAN=y "$kdir/.config" 2>/dev/null || return 0
	kargs+=(no5lvl)
}

# The NVDIMMs' QEMU arguments; their sum of sizes in nvdimm_mib. Each is
# 2 MiB aligned in guest physical memory (QEMU packs them at 4 KiB else),
# which rounds its size without the label area down to 2 MiB too.
nvdimm_args()
{
	local i file size label
	nvdimm_mib=0
	for i in "${!nv_mib[@]}"; do
		file=${nv_file[i]}
		if [ -z "$file" ]; then
			file=$out/nvdimm$i.img
			rm -f "$file"
			scratch+=("$file")
		fi
		size=${nv_mib[i]}M label=${nv_label[i]:+,label-size=${nv_label[i]}}
		[ -e "$file" ] || truncate -s "$size" "$file"
		qemu+=(-object "$MEM_FILE,id=nv$i,align=2M,size=$size,mem-path=$file"
		       -device "nvdimm,id=nvd$i,memdev=nv$i$label")
		nvdimm_mib=$((nvdimm_mib + nv_mib[i]))
	done
}

# FILE, or if empty a new scratch file NAME in the run directory, into the
# variable VAR (not named bf_path); created sparse with SIZE bytes if missing.
backing_file()	# FILE NAME SIZE VAR
{
	local bf_path=$1
	if [ -z "$bf_path" ]; then
		bf_path=$out/$2
		rm -f "$bf_path"
		scratch+=("$bf_path")
	fi
	[ -e "$bf_path" ] || truncate -s "$3" "$bf_path"
	printf -v "$4" %s "$bf_path"
}

# The virtio-pmem devices' QEMU arguments; their sum of sizes in vp_sum_mib.
# Like NVDIMMs they sit in the machine's device memory, 2 MiB aligned.
virtio_pmem_args()
{
	local i file
	vp_sum_mib=0
	for i in "${!vp_mib[@]}"; do
		backing_file "${vp_file[i]}" "virtio-pmem$i.img" "${vp_mib[i]}M" file
		qemu+=(-object "$MEM_FILE,id=vp$i,align=2M,size=${vp_mib[i]}M,mem-path=$file"
		       -device "virtio-pmem-pci,id=vpmem$i,memdev=vp$i")
		vp_sum_mib=$((vp_sum_mib + vp_mib[i]))
	done
}

# The CXL device's QEMU arguments: a CXL host bridge (pxb-cxl) on the q35
# root bus, a CXL root port below it, the type-3 device below that, its
# memdev= (QEMU 7.2: persistent memory; later versions call it
# persistent-memdev=), its label storage and a serial number (without one
# the kernel refuses to make an nd region of it: "invalid or missing serial
# number"), and a fixed memory window (CFMWS) through which the host bridge
# decodes. Two gaps of this QEMU (7.2) the kernel cannot get past: the
# device's event log interrupts (cxl_pci's probe fails, "Failed to get
# interrupt for event Info log", unless MSI is off: pci=nomsi), and a
# CPU that says it is a guest, on which the kernel will not commit a region
# ("Failed to synchronize CPU cache state": wbinvd is for bare metal only),
# so the CPU model drops the hypervisor bit (pick_accel).
cxl_args()
{
	local file lsa
	[ -n "$cxl_mib" ] || return 0
	backing_file "$cxl_file" cxl-pmem.img "${cxl_mib}M" file
	backing_file "$cxl_lsa" cxl-lsa.img "$CXL_LSA_SIZE" lsa
	qemu+=(-object "$MEM_FILE,id=cxl-mem0,size=${cxl_mib}M,mem-path=$file"
	       -object "$MEM_FILE,id=cxl-lsa0,size=$CXL_LSA_SIZE,mem-path=$lsa"
	       -device pxb-cxl,id=cxl.0,bus=pcie.0,bus_nr=12
	       -device cxl-rp,id=cxl_rp0,bus=cxl.0,port=0,chassis=0,slot=2
	       -device cxl-type3,id=cxl-pmem0,bus=cxl_rp0,memdev=cxl-mem0,lsa=cxl-lsa0,sn=0x52504d454d
	       -M cxl-fmw.0.targets.0=cxl.0,cxl-fmw.0.size=4G)
	kargs+=(pci=nomsi)
}

memory_args()
{
	local n=$((${#nv_mib[@]} + ${#vp_mib[@]})) machine=pc size=${mem_mib}M
	[ -z "$cxl_mib" ] || machine=q35,cxl=on
	nvdimm_args
	virtio_pmem_args
	cxl_args
	[ ${#nv_mib[@]} -eq 0 ] || machine+=,nvdimm=on
	if [ $n -gt 0 ]; then
		qemu+=(-m "$size,slots=$n,maxmem=$((mem_mib + nvdimm_mib + vp_sum_mib))M")
	else
		qemu+=(-m "$size")
	fi
	if [ -n "$ram_file" ]; then
		[ -e "$ram_file" ] || truncate -s "$size" "$ram_file"
		qemu+=(-object "$MEM_FILE,id=ram,size=$size,mem-path=$ram_file")
		machine+=,memory-backend=ram
	fi
	qemu+=(-machine "$machine")
}

console_args()
{
	local log=logfile=$out/console.log
	if [ $shell -eq 1 ]; then
		qemu+=(-chardev "stdio,id=con,mux=on,signal=off,$log"
		       -mon chardev=con,mode=readline)
	elif [ $quiet -eq 1 ]; then
		qemu+=(-chardev "file,id=con,path=$out/console.log")
	else
		qemu+=(-chardev "stdio,id=con,signal=off,$log")
	fi
	qemu+=(-serial chardev:con)
}

# The QEMU command line into qemu[].
build_qemu()
{
	qemu=(qemu-system-x86_64 -nodefaults -no-user-config -no-reboot
	      -display none -smp "$cpus" -kernel "$kernel"
	      -virtfs "$ROOT_9P"
	      -virtfs "local,path=$out,mount_tag=rpmem_out,security_model=none")
	kargs=(console=ttyS0 loglevel=4 printk.time=1 oops=panic panic=-1 no_timer_check
	       "${ROOT_ARGS[@]}" "init=$RPMEM_TOP/tools/guest-init.sh"
	       "${memmap_args[@]}")
	pick_accel
	kasan_args
	memory_args
	console_args
	kargs+=("${append[@]}")
	qemu+=(-append "${kargs[*]}")
	[ -z "$pidfile" ] || qemu+=(-pidfile "$pidfile")
}

run_qemu()
{
	local t=$((${timeout:-600} * slowdown))
	[ -n "$timeout" ] || [ $shell -eq 0 ] || t=0
	if [ $shell -eq 1 ]; then
		timeout --foreground -k 5 "$t" "${qemu[@]}"
	else
		timeout --foreground -k 5 "$t" "${qemu[@]}" </dev/null
	fi
}

# The kernel log into kernel.log: dmesg.log, then what only the console saw
# (the end of a crash, after the guest's logger stopped).
merge_logs()
{
	touch "$out/dmesg.log" "$out/console.log"
	awk 'FNR == NR { seen[$0] = 1; print; next } !seen[$0]++' \
		"$out/dmesg.log" \
		<(tr -d '\r' <"$out/console.log" |
		  grep -aoE '\[ *[0-9]+\.[0-9]{6}\] .*' || true) >"$out/kernel.log"
}

# Print kernel problems with some context; fail if there are any.
scan_log()
{
	grep -qaE "$KERNEL_PROBLEMS" "$out/kernel.log" || return 0
	log "kernel problems in the log ($out/kernel.log):"
	grep -aE -B2 -A6 "$KERNEL_PROBLEMS" "$out/kernel.log" | head -n 150 |
		sed 's/^/vm.sh: /' >&2
	return 1
}

# Scratch files go; the terminal comes back from QEMU's raw mode, whatever
# QEMU's end.
cleanup()
{
	rm -f "${scratch[@]}"
	[ -z "${tty_state:-}" ] || stty "$tty_state" 2>/dev/null || true
}

main()
{
	local st=0 clean=1
	parse_args "$@"
	check_options
	find_kernel
	if [ $which_accel -eq 1 ]; then
		[ "$accel" != auto ] || { accel=tcg; ! kvm_usable || accel=kvm; }
		echo "$accel"
		exit 0
	fi
	make_out
	check_cwd
	write_guest_files
	trap cleanup EXIT
	[ $shell -eq 0 ] || [ ! -t 0 ] || tty_state=$(stty -g)
	build_qemu
	printf '%q ' "${qemu[@]}" >"$out/qemu.cmd"
	[ -z "$pidfile" ] || rm -f "$pidfile"
	run_qemu || st=$?
	merge_logs
	scan_log || clean=0
	if [ -n "$pidfile" ] && [ $st -eq 137 ] && [ ! -s "$out/rc" ]; then
		# timeout(1) reports QEMU's death by SIGKILL as 137; its own
		# SIGTERM at the time limit is 124.
		[ $clean -eq 1 ] || exit 99
		log "QEMU was killed (SIGKILL), as --pidfile allows"
		exit 95
	elif [ $st -eq 124 ] || [ $st -eq 137 ]; then
		log "timeout: the VM ran for more than $((${timeout:-600} * slowdown)) s"
		exit 97
	elif [ ! -s "$out/rc" ] && [ $st -ne 0 ]; then
		log "QEMU failed with status $st"
		exit 96
	elif [ ! -s "$out/rc" ]; then
		log "the guest ended without an exit status (kernel crash or" \
		    "panic, or QEMU quit): see $out/console.log"
		exit 98
	elif [ $clean -eq 0 ]; then
		exit 99
	fi
	exit "$(cat "$out/rc")"
}

main "$@"
