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
#
# Not virtme-ng: vng 1.42 (--run bzImage --exec CMD --disable-kvm --force-9p
# --disable-microvm --qemu-opts/--append) boots this kernel, but always on
# q35 (memmap= limits and --ram-file offsets differ from pc's), spends 40 s
# of TCG on overlayfs mounts our kernel lacks, finds no virtio-serial script
# ports and falls back to the console, losing the command's status (3 came
# back as 255); it keeps no kernel log and writes into the kernel build
# directory. Our device options, checks, log scan, KVM probe and exit
# statuses would all stay around it: not smaller.

set -euo pipefail
. "$(dirname "$0")/lib.sh"

MEM_FILE=memory-backend-file,share=on	# guest memory in a host file
CXL_LSA_SIZE=$((128 << 10))
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
build directory), RPMEM_OUT (the run directory, as the guest sees it),
RPMEM_VM_TIMEOUT, and DAX_DRIVER, RPMEM_SOAK_SECS, RPMEM_FIO_MIB and
RPMEM_KO (the module the tests load) if set here, exported. RPMEM_VM_APPEND, if set, is added to
every guest's kernel command line (before --append's).
The host's / is the guest's root, read-only; /tmp, /var/tmp and /run are
guest tmpfs. A command may end the VM itself (say, an un-clean power-off:
echo o >/proc/sysrq-trigger) once it has written its status to
\$RPMEM_OUT/rc.

  --kernel PATH     bzImage or kernel build directory (default: the one
                    tools/kernel.sh prints, building it if needed)
  --mem SIZE        guest RAM (default 1G)
  --cpus N          virtual CPUs (default 2)
  --nvdimm SIZE[,label=SIZE][,file=PATH]
                    add an NVDIMM with a label area (repeatable)
  --virtio-pmem SIZE[,file=PATH]
                    add a virtio-pmem device (repeatable): its flush is a
                    request to QEMU, which fsyncs the file
  --cxl-pmem SIZE[,file=PATH][,lsa=PATH]
                    add one CXL type-3 device, SIZE a multiple of 256 MiB,
                    with 128 KiB of label storage (lsa=), below a host bridge
                    with a 4 GiB window, on a q35 machine; the guest makes a
                    region: cxl create-region -m -t pmem -d decoder0.0 -w 1 mem0
                    file=, lsa= (any device): backing files, created sparse
                    if missing, kept; else scratch files in the run directory
  --memmap SIZE!START
                    reserve guest RAM as legacy pmem (memmap=, repeatable):
                    2 MiB aligned, above 16 MiB, inside RAM (below 4 GiB:
                    under 3 GiB on pc, 2 or 2.75 GiB on q35, for --cxl-pmem)
  --ram-file PATH   back all guest RAM with PATH (created if missing, kept):
                    file offset == guest physical address below 3 GiB, so
                    --memmap regions persist across boots
  --append ARGS     extra kernel command line
  --timeout SECS    kill the VM after SECS (default 600; none with --shell),
                    times RPMEM_VM_SLOWDOWN (1 to 99) if set, for slow kernels
  --boot-timeout SECS
                    the guest's init must start within SECS (default 180,
                    times RPMEM_VM_SLOWDOWN; 0: no limit; none with --shell):
                    else an NMI makes the kernel panic with every task's
                    state and the whole kernel log on the console (kept as
                    console-hang.log), and the guest boots once more (a new
                    QEMU: --pidfile then names it); a second hang ends the
                    run, 94
  --out DIR         run directory (default: a new one under
                    \$RPMEM_CACHE/runs): console.log, dmesg.log, kernel.log, rc,
                    accel (kvm or tcg)
  --accel MODE      kvm, tcg or auto (default: kvm if a test boot works)
  --which-accel     print the accelerator a run would use, boot nothing
  --icount SHIFT    --accel tcg with a virtual clock, 2^SHIFT ns an instruction,
                    that does not depend on how busy the host is (benchmarks)
  --shell           interactive bash on the console (Ctrl-A X quits QEMU)
  --quiet           do not copy the console to stdout
  --pidfile PATH    write QEMU's PID to PATH, for a power-failure test that
                    kills QEMU with SIGKILL: that end is then status 95
                    (kernel log clean) or 99, not a timeout
  --model DIR       run under the persistence model (TCG; QEMU and plugin
                    from tools/model.sh): every --nvdimm's backing file is
                    modelled, DIR gets init-N.img (NVDIMM N as at boot),
                    model.log (the crash points) and plugin.log; check
                    them with tools/model/check.py
                    (Documentation/persistence-model.rst)
  --model-args ARGS more plugin arguments (ack=P,fence=P,max=N,seed=N,
                    eadr=on; see tools/model/pmem_model.c)
  --plugin SPEC     load a TCG plugin (QEMU's -plugin SPEC: FILE.so,ARG=V,...),
                    TCG only (tools/bench.sh --split)
  --host-crash DIR  model a host crash under every --virtio-pmem: QEMU runs
                    with tools/model/hostcrash.c preloaded (built into DIR),
                    which keeps DIR/synced-N.img, the backing file of
                    --virtio-pmem N as of the host's last fsync of it (at
                    first: as the boot found it), and logs each fsync to
                    DIR/hostcrash.log (Documentation/persistence-model.rst)

SIZE: bytes, decimal or 0x hex, with an optional K, M, G or T suffix (binary).

Exit status: the command's, if the kernel log is clean; 99 if the kernel
log shows a problem (oops, BUG, WARNING, lockdep, KASAN, hung task, ...);
98 if the guest ended without an exit status (crash, panic); 97 on timeout;
96 if QEMU failed; 94 if the guest did not reach its init twice; 95 if QEMU was killed with SIGKILL under --pidfile; 1 on
a usage or setup error.
EOF
}

kernel= mem=1G cpus=2 accel=auto timeout= out= quiet=0 shell=0 ram_file= pidfile=
icount= which_accel=0 slowdown=${RPMEM_VM_SLOWDOWN:-1} boot_timeout=180 mon=
model= model_args= plugin_spec= nv_files=() host_crash= vp_files=()
nvdimms=() vpmems=() cxls=() memmaps=() memmap_args=() append=() scratch=()

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

# SIZE in MiB, which it must be a positive multiple of.
mib()
{
	local b
	b=$(bytes "$1")
	((b > 0 && b % (1 << 20) == 0)) || die "$1 is not a positive multiple of 1 MiB"
	echo $((b >> 20))
}

# The command line into the option variables and cmd[].
parse_args()
{
	local n
	while [ $# -gt 0 ]; do
		n=1
		case $1 in
		--kernel|--mem|--cpus|--nvdimm|--memmap|--ram-file|--append|\
		--timeout|--out|--accel|--pidfile|--icount|--virtio-pmem|--cxl-pmem|\
		--boot-timeout|--model|--model-args|--host-crash|--plugin)
			[ $# -ge 2 ] || die "$1 needs an argument"
			n=2 ;;
		esac
		case $1 in
		--kernel) kernel=$2 ;;
		--mem) mem=$2 ;;
		--cpus) [[ $2 =~ ^[1-9][0-9]*$ ]] || die "bad CPU count '$2'"; cpus=$2 ;;
		--nvdimm) nvdimms+=("$2") ;;
		--virtio-pmem) vpmems+=("$2") ;;
		--cxl-pmem) cxls+=("$2") ;;
		--memmap) memmaps+=("$2") ;;
		--ram-file) ram_file=$2 ;;
		--append) append+=("$2") ;;
		--timeout) [[ $2 =~ ^[0-9]+$ ]] || die "bad timeout '$2'"; timeout=$2 ;;
		--boot-timeout)
			[[ $2 =~ ^[0-9]+$ ]] || die "bad boot timeout '$2'"
			boot_timeout=$2 ;;
		--out) out=$2 ;;
		--pidfile) pidfile=$2 ;;
		--accel) [[ $2 =~ ^(kvm|tcg|auto)$ ]] || die "bad accelerator '$2'"; accel=$2 ;;
		--icount)
			[[ $2 =~ ^[0-9]$ ]] || die "bad --icount shift '$2' (0 to 9)"
			icount=$2 accel=tcg ;;
		--model) model=$(realpath -m "$2") accel=tcg ;;
		--model-args) model_args=$2 ;;
		--plugin) plugin_spec=$2 accel=tcg ;;
		--host-crash) host_crash=$(realpath -m "$2") ;;
		--shell) shell=1 ;;
		--which-accel) which_accel=1 ;;
		--quiet) quiet=1 ;;
		-h|--help) usage; exit 0 ;;
		--) shift; break ;;
		-*) die "unknown option $1 (see --help)" ;;
		*) break ;;
		esac
		shift $n
	done
	cmd=("$@")
	[ $shell -eq 1 ] || [ $which_accel -eq 1 ] || [ ${#cmd[@]} -gt 0 ] ||
		die "no command (see --help)"
	[ $shell -eq 0 ] || [ ${#cmd[@]} -eq 0 ] || die "--shell takes no command"
	[ -z "$host_crash" ] || [ ${#vpmems[@]} -gt 0 ] ||
		die "--host-crash: no --virtio-pmem to watch"
	[[ $slowdown =~ ^[1-9][0-9]?$ ]] ||
		die "RPMEM_VM_SLOWDOWN=$slowdown is not a factor from 1 to 99"
}

# PATH, backing SIZE bytes of guest memory: no ',' (QEMU would split it),
# and if it exists, the right size.
check_file()	# PATH SIZE
{
	local have
	[[ $1 != *,* ]] || die "QEMU cannot take a ',' in $1"
	[ -e "$1" ] || return 0
	have=$(stat -c %s "$1")
	[ "$have" -eq "$2" ] || die "$1 has $have bytes, not $2"
}

# A device's SIZE[,KEY=VALUE]... for OPTION, which takes the KEYs: SIZE, a
# multiple of ALIGN MiB, in MiB into spec_mib; label= in bytes into
# spec_label, file= and lsa= as absolute, checked paths into spec_file and
# spec_lsa (empty if not given: a scratch file).
parse_spec()	# OPTION SPEC ALIGN KEY...
{
	local opt=$1 align=$3 parts part key val
	IFS=, read -ra parts <<<"$2"
	shift 3
	spec_mib=$(mib "${parts[0]}") spec_label= spec_file= spec_lsa=
	((spec_mib % align == 0)) || die "$opt ${parts[0]}: not a multiple of $align MiB"
	for part in "${parts[@]:1}"; do
		key=${part%%=*} val=${part#*=}
		[[ $part == *=* && " $* " == *" $key "* ]] || die "bad $opt option '$part'"
		case $key in
		label) spec_label=$(bytes "$val") ;;
		file) spec_file=$(realpath "$val")
		      check_file "$spec_file" $((spec_mib << 20)) ;;
		lsa) spec_lsa=$(realpath "$val")
		     check_file "$spec_lsa" $CXL_LSA_SIZE ;;
		esac
	done
}

# One --memmap SIZE!START: check it, keep it for the kernel command line.
check_memmap()
{
	local size start end ram=$((mem_mib << 20)) max=0xe0000000 low=0xc0000000
	[[ $1 == *!* ]] || die "--memmap takes SIZE!START, not '$1'"
	size=$(bytes "${1%%!*}")
	start=$(bytes "${1#*!}")
	end=$((start + size))
	# RAM below 4 GiB: pc puts up to 3.5 GiB there, else 3; q35 2.75, else 2.
	[ ${#cxls[@]} -eq 0 ] || max=0xb0000000 low=0x80000000
	((ram >= max)) || low=$ram
	(((size | start) % (2 << 20) == 0 && size > 0)) || die "--memmap $1: not 2 MiB aligned"
	((start >= 16 << 20)) || die "--memmap $1: starts below 16 MiB, where the kernel loads"
	((end <= low || (start >= 4 << 30 && end <= ram - low + (4 << 30)))) ||
		die "--memmap $1: not inside the guest's RAM (--mem $mem)"
	memmap_args+=("memmap=$((size >> 20))M!$((start >> 20))M")
}

# All the options that need checking, before anything is created.
check_options()
{
	local i
	mem_mib=$(mib "$mem")
	for i in "${nvdimms[@]}"; do
		parse_spec --nvdimm "$i" 1 label file
	done
	for i in "${vpmems[@]}"; do
		parse_spec --virtio-pmem "$i" 2 file
	done
	[ ${#cxls[@]} -le 1 ] || die "--cxl-pmem: one device at most"
	for i in "${cxls[@]}"; do
		parse_spec --cxl-pmem "$i" 256 file lsa
		((spec_mib <= 4096)) || die "--cxl-pmem ${i%%,*}: more than the 4 GiB window"
	done
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

# kernel (the image QEMU boots) and kdir (its build directory, if known).
# Of a build directory whose kernel has the PVH entry point, the
# uncompressed vmlinux: QEMU enters it directly, and TCG does not spend a
# second of every boot on the bzImage's decompressor.
find_kernel()
{
	[ -n "$kernel" ] || kernel=${RPMEM_KDIR:-$("$RPMEM_TOP/tools/kernel.sh")}
	[ ! -d "$kernel" ] || kernel=$kernel/arch/x86/boot/bzImage
	[ -f "$kernel" ] || die "no kernel image $kernel"
	kernel=$(realpath "$kernel") kdir=
	[[ $kernel != */arch/x86/boot/bzImage ]] || kdir=${kernel%/arch/x86/boot/bzImage}
	[ -n "$kdir" ] && [ -f "$kdir/vmlinux" ] && grep -qx CONFIG_PVH=y "$kdir/.config" &&
		kernel=$kdir/vmlinux
	return 0
}

# For --accel auto: kvm if KVM runs our guests here. /dev/kvm is not
# enough: a test boot under KVM with /bin/true as init decides (its exit
# makes the kernel panic with "Attempted to kill init", proof that
# userspace ran), its verdict kept for the host's boot and QEMU version.
auto_accel()
{
	local key verdict con
	[ "$accel" = auto ] || return 0
	accel=tcg
	[ -c /dev/kvm ] && [ -r /dev/kvm ] && [ -w /dev/kvm ] || return 0
	key=$(cat /proc/sys/kernel/random/boot_id)-$(qemu-system-x86_64 --version |
		head -n1 | tr -c 'a-zA-Z0-9.\n' _)
	verdict=$RPMEM_CACHE/kvm/$key
	if [ ! -f "$verdict" ]; then
		mkdir -p "$RPMEM_CACHE/kvm"
		con=$(mktemp)
		# A QEMU that KVM fails may abort, and timeout(1) then dies of
		# the same signal: bash reports that ("... Aborted timeout -k
		# 2 20 qemu-system-x86_64 ...") on its own stderr, which the
		# group's redirection points elsewhere for the probe alone.
		{
			timeout -k 2 20 qemu-system-x86_64 -nodefaults \
				-no-reboot -display none -accel kvm -cpu host -m 256M \
				-kernel "$kernel" -virtfs "$ROOT_9P" -serial "file:$con" \
				-append "console=ttyS0 panic=-1 ${ROOT_ARGS[*]} init=/bin/true" \
				</dev/null >/dev/null
		} 2>/dev/null || true
		if grep -q 'Attempted to kill init' "$con"; then
			echo yes >"$verdict.$$"
		else
			echo no >"$verdict.$$"
			log "KVM does not boot the test kernel here, using TCG (slow);" \
			    "rm $verdict to test again"
		fi
		rm -f "$con"
		mv "$verdict.$$" "$verdict"
	fi
	[ "$(cat "$verdict")" != yes ] || accel=kvm
}

# The run directory, made and emptied of a former run's files.
make_out()
{
	if [ -z "$out" ]; then
		mkdir -p "$RPMEM_CACHE/runs"
		out=$(mktemp -d "$RPMEM_CACHE/runs/$(date +%Y%m%d-%H%M%S)-XXXX")
	fi
	mkdir -p "$out"
	out=$(cd "$out" && pwd)
	rm -f "$out"/{console.log,console-hang.log,boot-hang,dmesg.log,kernel.log} \
		"$out"/{rc,cmd,guest.env,qemu.cmd}
	log "run directory: $out"
	# The guest's /tmp, /var/tmp, /run, /dev, /proc and /sys are its own.
	case $PWD/ in
	"$RPMEM_TOP"/*) ;;
	/tmp/*|/var/tmp/*|/run/*|/dev/*|/proc/*|/sys/*)
		log "warning: the guest does not see the host's files in $PWD" ;;
	esac
}

# guest.env, shell assignments for guest-init.sh; cmd, the command, quoted.
write_guest_files()
{
	local rows= cols= v
	[ $shell -eq 0 ] || [ ! -t 0 ] || read -r rows cols < <(stty size) || true
	{
		printf 'RPMEM_%s=%q\n' TOP "$RPMEM_TOP" KDIR "$kdir" CWD "$PWD" \
			CACHE "$RPMEM_CACHE" \
			MODE "$( ((shell)) && echo shell || echo cmd)" \
			TERM "${TERM:-}" ROWS "$rows" COLS "$cols"
		for v in DAX_DRIVER RPMEM_SOAK_SECS RPMEM_FIO_MIB RPMEM_KO; do
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

# The accelerator's QEMU and kernel arguments.
accel_args()
{
	echo "$accel${icount:+ icount shift=$icount}" >"$out/accel"	# for tools/bench.sh
	# A CPU without the hypervisor bit for CXL (see memory_args).
	local cpu_flags=
	[ ${#cxls[@]} -eq 0 ] || cpu_flags=,hypervisor=off
	if [ "$accel" = kvm ]; then
		qemu+=(-accel kvm -cpu "host$cpu_flags")
	else
		# -cpu max has clflushopt and clwb. Emulated CPUs can stall
		# for many seconds on a loaded host: no RCU stall warnings
		# (a real lockup still shows, later). Multi-threaded TCG races
		# with the kernel's int3-based code patching (static keys)
		# and oopses at boot now and then: one host thread runs all
		# vCPUs. With -icount, idle guests jump to their next timer.
		qemu+=(-accel tcg,thread=single -cpu "max$cpu_flags")
		kargs+=(rcupdate.rcu_cpu_stall_timeout=120)
		[ -z "$icount" ] || qemu+=(-icount "shift=$icount,sleep=off")
	fi
	# A KASAN kernel (the debug variant) with 5-level paging, which -cpu
	# max offers, reports a wild-memory-access in do_raw_spin_lock from
	# the first interrupt, 4 ms into every boot (7.3.4, TCG): a kernel
	# problem, not rpmem's, that would fail every test. Such kernels run
	# with 4 levels.
	if [ -n "$kdir" ] && grep -qx CONFIG_KASAN=y "$kdir/.config" 2>/dev/null; then
		kargs+=(no5lvl)
	fi
	# On the pc machine, ACPI's interpreter runs its _PRT method (a
	# 128-pass AML loop) for each virtio device: about a second of every
	# boot under TCG, and on the KASAN kernel more than ACPI's 30 s loop
	# limit, a minute for nothing (the loop times out, the IRQ is
	# guessed). acpi=noirq routes PCI IRQs by the BIOS's $PIR table
	# instead. (q35, for CXL, has no $PIR; its _PRT is no loop.)
	[ ${#cxls[@]} -gt 0 ] || kargs+=(acpi=noirq)
}

# A memory-backend-file object ID of SIZE on FILE, or if FILE is empty on
# a new scratch file NAME in the run directory; created sparse if missing.
mem_object()	# ID SIZE FILE NAME [ALIGN]
{
	local file=${3:-$out/$4}
	[ -n "$3" ] || { rm -f "$file"; scratch+=("$file"); }
	[ -e "$file" ] || truncate -s "$2" "$file"
	qemu+=(-object "$MEM_FILE,id=$1,${5:+align=$5,}size=$2,mem-path=$file")
}

# The memory's and the devices' QEMU arguments. NVDIMMs and virtio-pmem
# are 2 MiB aligned in guest memory (QEMU packs them at 4 KiB else), which
# rounds an NVDIMM's size without the label area down to 2 MiB too. CXL: a
# host bridge (pxb-cxl) on the q35 root bus, a root port, the type-3 device
# with its memdev= (QEMU 7.2: pmem; later persistent-memdev=), label storage
# and serial number (without one the kernel makes no nd region of it), and
# a fixed memory window (CFMWS) through which the host bridge decodes.
# QEMU 7.2 gives no event log interrupts (cxl_pci fails "to get interrupt
# for event Info log" unless pci=nomsi), and on a CPU that says it is a
# guest Linux commits no region ("Failed to synchronize CPU cache state"):
# accel_args drops the hypervisor bit.
memory_args()
{
	local i sum=$mem_mib machine=pc size=${mem_mib}M
	local slots=$((${#nvdimms[@]} + ${#vpmems[@]}))
	[ ${#cxls[@]} -eq 0 ] || machine=q35,cxl=on
	[ ${#nvdimms[@]} -eq 0 ] || machine+=,nvdimm=on
	for i in "${!nvdimms[@]}"; do
		parse_spec --nvdimm "${nvdimms[i]}" 1 label file
		mem_object "nv$i" "${spec_mib}M" "$spec_file" "nvdimm$i.img" 2M
		nv_files+=("${spec_file:-$out/nvdimm$i.img}")
		qemu+=(-device "nvdimm,id=nvd$i,memdev=nv$i${spec_label:+,label-size=$spec_label}")
		sum=$((sum + spec_mib))
	done
	for i in "${!vpmems[@]}"; do
		parse_spec --virtio-pmem "${vpmems[i]}" 2 file
		mem_object "vp$i" "${spec_mib}M" "$spec_file" "virtio-pmem$i.img" 2M
		vp_files+=("${spec_file:-$out/virtio-pmem$i.img}")
		qemu+=(-device "virtio-pmem-pci,id=vpmem$i,memdev=vp$i")
		sum=$((sum + spec_mib))
	done
	for i in "${cxls[@]}"; do
		parse_spec --cxl-pmem "$i" 256 file lsa
		mem_object cxl-mem0 "${spec_mib}M" "$spec_file" cxl-pmem.img
		mem_object cxl-lsa0 "$CXL_LSA_SIZE" "$spec_lsa" cxl-lsa.img
		qemu+=(-device pxb-cxl,id=cxl.0,bus=pcie.0,bus_nr=12
		       -device cxl-rp,id=cxl_rp0,bus=cxl.0,port=0,chassis=0,slot=2
		       -device cxl-type3,id=cxl-pmem0,bus=cxl_rp0,memdev=cxl-mem0,lsa=cxl-lsa0,sn=0x52504d454d
		       -M cxl-fmw.0.targets.0=cxl.0,cxl-fmw.0.size=4G)
		kargs+=(pci=nomsi)
	done
	[ $slots -eq 0 ] || size+=,slots=$slots,maxmem=${sum}M
	qemu+=(-m "$size")
	if [ -n "$ram_file" ]; then
		mem_object ram "${mem_mib}M" "$ram_file"
		machine+=,memory-backend=ram
	fi
	qemu+=(-machine "$machine")
}

# Under --model: the model's QEMU, with the plugin watching every NVDIMM.
model_qemu()
{
	local f plugin built
	[ -n "$model" ] || return 0
	[ ${#nv_files[@]} -gt 0 ] || die "--model: no --nvdimm to model"
	built=$("$RPMEM_TOP/tools/model.sh") || die "tools/model.sh failed"
	eval "$built"
	mkdir -p "$model"
	qemu[0]=$MODEL_QEMU
	plugin=$MODEL_PLUGIN,log=$model/model.log${model_args:+,$model_args}
	for f in "${nv_files[@]}"; do plugin+=,pmem=$f; done
	qemu+=(-plugin "$plugin" -d plugin -D "$model/plugin.log")
}

# Under --model, before each QEMU: each modelled file as the boot finds it.
model_init()
{
	local i
	[ -n "$model" ] || return 0
	for i in "${!nv_files[@]}"; do
		cp --sparse=always "${nv_files[i]}" "$model/init-$i.img"
	done
}

# Under --host-crash: QEMU with the shim preloaded (built into DIR unless
# it is newer than its source), watching every virtio-pmem backing file.
host_crash_qemu()
{
	local i src=$RPMEM_TOP/tools/model/hostcrash.c so=$host_crash/hostcrash.so env
	[ -n "$host_crash" ] || return 0
	mkdir -p "$host_crash"
	if [ ! -f "$so" ] || [ "$src" -nt "$so" ]; then
		gcc -O2 -Wall -Wextra -Werror -shared -fPIC -o "$so.$$" "$src" -ldl -lpthread &&
			mv "$so.$$" "$so" || die "cannot build $src"
	fi
	env=(env "LD_PRELOAD=$so" "HOSTCRASH_LOG=$host_crash/hostcrash.log")
	for i in "${!vp_files[@]}"; do
		env+=("HOSTCRASH_FILE_$i=${vp_files[i]}" "HOSTCRASH_SNAP_$i=$host_crash/synced-$i.img")
	done
	qemu=("${env[@]}" "${qemu[@]}")
}

# Under --host-crash, before each QEMU: each watched file as the boot finds
# it is what a host crash before its first fsync keeps.
host_crash_init()
{
	local i
	[ -n "$host_crash" ] || return 0
	rm -f "$host_crash"/{hostcrash.log,synced-*.img.tmp}
	for i in "${!vp_files[@]}"; do
		cp --sparse=always "${vp_files[i]}" "$host_crash/synced-$i.img"
	done
}

# Under --host-crash, after a QEMU whose guest reached its init: the shim
# was loaded (ld.so only warns when a preloaded library fails to load).
host_crash_loaded()
{
	[ -n "$host_crash" ] && [ -e "$out/dmesg.log" ] || return 0
	grep -q '^# pid ' "$host_crash/hostcrash.log" 2>/dev/null ||
		{ log "--host-crash: QEMU ran without the shim (see $out/console.log)"; exit 96; }
}

# The QEMU command line into qemu[].
build_qemu()
{
	local con=logfile=$out/console.log
	qemu=(qemu-system-x86_64 -nodefaults -no-user-config -no-reboot
	      -display none -smp "$cpus" -kernel "$kernel"
	      -virtfs "$ROOT_9P"
	      -virtfs "local,path=$out,mount_tag=rpmem_out,security_model=none")
	kargs=(console=ttyS0 loglevel=4 printk.time=1 oops=panic panic=-1 no_timer_check
	       "${ROOT_ARGS[@]}" "init=$RPMEM_TOP/tools/guest-init.sh"
	       "${memmap_args[@]}")
	accel_args
	memory_args
	model_qemu
	[ -z "$plugin_spec" ] || qemu+=(-plugin "$plugin_spec")
	host_crash_qemu
	if [ $shell -eq 1 ]; then
		qemu+=(-chardev "stdio,id=con,mux=on,signal=off,$con"
		       -mon chardev=con,mode=readline)
	elif [ $quiet -eq 1 ]; then
		qemu+=(-chardev "file,id=con,path=$out/console.log")
	else
		qemu+=(-chardev "stdio,id=con,signal=off,$con")
	fi
	if [ $shell -eq 0 ]; then
		# For a boot that hangs (boot_watch): an NMI from the monitor
		# makes the kernel panic, print every task's state and replay
		# its whole log on the console.
		mon=$(mktemp -u /tmp/rpmem-mon.XXXXXX)
		scratch+=("$mon")
		qemu+=(-monitor "unix:$mon,server=on,wait=off")
		kargs+=(unknown_nmi_panic panic_sys_info=tasks,all_bt,locks
			panic_console_replay=1)
	fi
	# shellcheck disable=SC2206 # words, as --append's
	kargs+=(${RPMEM_VM_APPEND:-} "${append[@]}")
	qemu+=(-serial chardev:con -append "${kargs[*]}")
	[ -z "$pidfile" ] || qemu+=(-pidfile "$pidfile")
}

# A command to QEMU's human monitor.
monitor()
{
	python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n")
time.sleep(1)' "$mon" "$1"
}

# If the guest's init has not started after the boot time limit (it makes
# dmesg.log in the run directory), mark the run a boot hang and send the
# guest an NMI; it panics (unknown_nmi_panic) and powers off (panic=-1,
# -no-reboot), or QEMU is told to quit.
boot_watch()
{
	local b=$((boot_timeout * slowdown)) i
	[ $b -gt 0 ] || return 0
	for ((i = 0; i < b; i++)); do
		[ ! -e "$out/dmesg.log" ] || return 0
		sleep 1
	done
	[ ! -e "$out/dmesg.log" ] || return 0
	: >"$out/boot-hang"
	monitor nmi || true
	sleep 30
	monitor quit || true
}

# QEMU, under the time limits (none for --shell without --timeout).
run_qemu()
{
	local t=$((${timeout:-600} * slowdown)) watch st=0
	host_crash_init
	if [ $shell -eq 1 ]; then
		[ -n "$timeout" ] || t=0
		timeout --foreground -k 5 "$t" "${qemu[@]}"
		return
	fi
	model_init
	boot_watch &
	watch=$!
	timeout --foreground -k 5 "$t" "${qemu[@]}" </dev/null || st=$?
	kill "$watch" 2>/dev/null || true
	wait "$watch" || true
	return $st
}

# PID 1's stack from the task list of an NMI panic in console log $1.
init_stack()
{
	tr -d '\r' <"$1" | awk '!done && / task:.* pid:1 / { p = 1 }
		p { print "vm.sh: " $0 } p && /<\/TASK>/ { p = 0; done = 1 }' >&2
}

# QEMU, and once more if the guest hung before its init; kernel problems
# logged before the first hang's NMI count. Nothing of the command ran
# before init, so a --pidfile user, who waits for a sign from the command
# before it kills QEMU by PID, reads the second QEMU's.
run_guest()
{
	local b=$((boot_timeout * slowdown))
	run_qemu || return
	[ -e "$out/boot-hang" ] || return 0
	[ -z "$pidfile" ] || rm -f "$pidfile"
	mv "$out/console.log" "$out/console-hang.log"
	log "the guest did not start its init in $b s; PID 1 then:"
	init_stack "$out/console-hang.log"
	log "every task's state is in $out/console-hang.log; booting once more"
	awk '/NMI received for unknown reason/ { exit } { print }' \
		"$out/console-hang.log" | grep -qaE "$KERNEL_PROBLEMS" && hang_problems=1
	rm "$out/boot-hang"
	run_qemu
}

# The kernel log into kernel.log: dmesg.log, then what only the console saw
# (the end of a crash, after the guest's logger stopped). Print kernel
# problems with some context; fail if there are any.
scan_logs()
{
	touch "$out/dmesg.log" "$out/console.log"
	awk 'FNR == NR { seen[$0] = 1; print; next } !seen[$0]++' \
		"$out/dmesg.log" \
		<(tr -d '\r' <"$out/console.log" |
		  grep -aoE '\[ *[0-9]+\.[0-9]{6}\] .*' || true) >"$out/kernel.log"
	grep -qaE "$KERNEL_PROBLEMS" "$out/kernel.log" || return 0
	log "kernel problems in the log ($out/kernel.log):"
	grep -aE -B2 -A6 "$KERNEL_PROBLEMS" "$out/kernel.log" | head -n 150 |
		sed 's/^/vm.sh: /' >&2
	return 1
}

# Scratch files go; the terminal comes back from QEMU's raw mode.
cleanup()
{
	rm -f "${scratch[@]}"
	[ -z "${tty_state:-}" ] || stty "$tty_state" 2>/dev/null || true
}

main()
{
	local st=0 clean=1 hang_problems=0
	parse_args "$@"
	check_options
	find_kernel
	auto_accel
	[ $which_accel -eq 0 ] || { echo "$accel"; exit 0; }
	make_out
	write_guest_files
	trap cleanup EXIT
	[ $shell -eq 0 ] || [ ! -t 0 ] || tty_state=$(stty -g)
	build_qemu
	printf '%q ' "${qemu[@]}" >"$out/qemu.cmd"
	[ -z "$pidfile" ] || rm -f "$pidfile"
	run_guest || st=$?
	host_crash_loaded
	if [ -e "$out/boot-hang" ]; then
		scan_logs 2>/dev/null || true
		log "the guest did not start its init in" \
		    "$((boot_timeout * slowdown)) s; PID 1 then:"
		init_stack "$out/console.log"
		log "every task's state is in $out/console.log"
		exit 94
	fi
	scan_logs || clean=0
	[ $hang_problems -eq 0 ] ||
		{ log "kernel problems before the first hang: see $out/console-hang.log"; clean=0; }
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
	fi
	[ $clean -eq 1 ] || exit 99
	exit "$(cat "$out/rc")"
}

main "$@"
