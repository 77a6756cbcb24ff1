#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# bench.sh [OPTIONS]: rpmem against nd_pmem and brd in one VM run ("make
# bench"). The guest half is tools/bench-guest.sh, the report
# tools/bench-report.py.

set -euo pipefail
. "$(dirname "$0")/lib.sh"

usage()
{
	cat <<EOF
usage: ${0##*/} [OPTIONS]

Boot one VM with two equal NVDIMMs in fsdax mode (one bound to rpmem, one
to nd_pmem), a brd RAM disk of the same size and large sparse NVDIMMs for
the probe rows; run every row of the benchmark on each driver, drivers
interleaved run by run; print the table (medians, min-max, ratios) and
write report.txt, report.json and ratios.svg to the results folder.

  --reps N          repetitions of every row per driver (default 5)
  --runtime SECS    seconds per fio or page fault run (default 4)
  --rows REGEX      only the rows whose name matches (extended regex)
  --probe-size SIZE[,SIZE...]
                    the probe rows' namespaces, each NG, sparse (default
                    16G,64G), each larger than the data NVDIMMs' 1 GiB
  --icount SHIFT    the guest's clock counts instructions, 2^SHIFT ns each
                    (tools/vm.sh --icount): figures measure the work each
                    driver does, not how busy the host was. The default
                    under TCG, with SHIFT 3
  --wallclock       TCG with the host's clock (the default under KVM)
  --out DIR         results folder (default: a new one under
                    \$RPMEM_CACHE/bench)
  --smoke           one short repetition of every row and a 2 GiB probe
                    namespace: shows the benchmark works, its numbers say
                    little
  --split ROW[,ROW...]
                    the instruction split of these rows (fio rows: block,
                    durability, file or sector mode; page fault rows; the
                    bind and unbind rows of a probe, probe-*-time and
                    probe-*-unbind; 1 repetition unless --reps says): a
                    QEMU plugin (tools/bench/insn_split.c) counts the
                    guest's instructions per kernel function during each
                    fio or dax_mmap run, bind or unbind; prints, per row
                    and driver, instructions per operation in the driver,
                    the block layer, the copy routines, the rest of the
                    kernel and user space, and the top functions
                    (split.txt; tools/bench-split.py). Needs TCG
EOF
}

reps= runtime=4 rows=. probe=16G,64G out= smoke=0 clock=auto split=
while [ $# -gt 0 ]; do
	case $1 in
	--reps) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || die "--reps takes a count"; reps=$2; shift 2 ;;
	--runtime) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || die "--runtime takes seconds"; runtime=$2; shift 2 ;;
	--rows) [ -n "${2:-}" ] || die "--rows takes a regular expression"; rows=$2; shift 2 ;;
	--probe-size) [[ ${2:-} =~ ^[1-9][0-9]*G(,[1-9][0-9]*G)*$ ]] ||
		die "--probe-size takes NG[,NG...]"; probe=$2; shift 2 ;;
	--out) [ -n "${2:-}" ] || die "--out takes a directory"; out=$2; shift 2 ;;
	--icount) [[ ${2:-} =~ ^[0-9]$ ]] || die "--icount takes a shift, 0 to 9"; clock=$2; shift 2 ;;
	--wallclock) clock=wall; shift ;;
	--smoke) smoke=1; shift ;;
	--split) [[ ${2:-} =~ ^[a-z0-9-]+(,[a-z0-9-]+)*$ ]] || die "--split takes rows' names"
		split=$2; shift 2 ;;
	-h|--help) usage; exit 0 ;;
	*) die "unknown argument '$1' (see --help)" ;;
	esac
done
[ $smoke -eq 0 ] || { reps=1 runtime=1 probe=2G; }
probes=()
for p in ${probe//,/ }; do
	[ "${p%G}" -gt 1 ] || die "--probe-size: $p is not larger than the 1 GiB data NVDIMMs"
	probes+=(--nvdimm "$p")
done
if [ -n "$split" ]; then
	[ "$clock" != wall ] || die "--split counts instructions: TCG, not --wallclock"
	rows="^(${split//,/|})\$" reps=${reps:-1}
fi
reps=${reps:-5}
out=${out:-$RPMEM_CACHE/bench/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
out=$(cd "$out" && pwd)

# Time the run takes under TCG: a fio, page fault or persist run (13 block
# and durability rows on three disks, 28 file rows and 6 sector mode rows
# on two) about RUNTIME + 5 s, each of the 7 binds of a probe repetition
# 2 s and a quarter second per GiB, per probe namespace, set-up and boot
# 2 minutes. The VM may take four times that.
gib=0
for p in ${probe//,/ }; do gib=$((gib + 8 + ${p%G})); done
runs=$((reps * (13 * 3 + 28 * 2 + 6 * 2)))
secs=$((runs * (runtime + 5) + reps * 7 * gib / 4 + 120))
limit=$((secs * 4))

cd "$RPMEM_TOP"
# The kernel variant make check runs (VARIANT=debug: KASAN; its figures
# are no benchmark, but the smoke run checks the benchmark works there).
# Under tools/check.sh (RPMEM_BUILT set) all that is built already, and
# must not be built again: tools/toolchain.sh is not safe to run twice
# at once, and make would write rpmem.ko under the tests running beside.
if [ -z "${RPMEM_BUILT:-}" ]; then
	eval "$(tools/toolchain.sh "${VARIANT:-default}")" || die "toolchain setup failed"
	RPMEM_KDIR=$(tools/kernel.sh "${VARIANT:-default}") || die "test kernel build failed"
	export RPMEM_KDIR
	make -s modules || die "rpmem.ko does not build"
fi

# The copy ceiling's module (tools/bench/rpmem_copy_ceiling.c), built for
# the test kernel from a copy of its sources in a folder of the run's own
# (tools/check.sh may run two benchmarks at once).
ko=$out/copy_ceiling
rm -rf "$ko" && mkdir -p "$ko" && cp tools/bench/{Kbuild,rpmem_copy_ceiling.c} "$ko/" &&
	make -s -C "$RPMEM_KDIR" M="$ko" modules >"$ko/build.log" 2>&1 ||
	{ cat "$ko/build.log" >&2; die "tools/bench/rpmem_copy_ceiling.c does not build"; }
ko=$ko/rpmem_copy_ceiling.ko

# Under TCG a busy host slows the guest at random: the figures of two runs
# a minute apart differ by half. With an instruction-counting clock they
# repeat to within a fraction of a percent, and measure each driver's work.
accel=()
if [ "$clock" = auto ]; then
	clock=wall
	[ "$(tools/vm.sh --which-accel)" = kvm ] || clock=3
fi
[ "$clock" = wall ] || accel=(--icount "$clock")

# --split: the plugin, built against the qemu-plugin.h that tools/model.sh
# keeps beside its QEMU (which it builds if missing), keyed by its source.
# The machine's own QEMU (the same 7.2) loads it.
split_env=
if [ -n "$split" ]; then
	[ "$(tools/vm.sh --which-accel)" != kvm ] || accel=(--accel tcg "${accel[@]}")
	eval "$(tools/model.sh)" || die "tools/model.sh failed"
	src=tools/bench/insn_split.c
	so=$(dirname "$MODEL_QEMU")/insn_split-$(sha256sum "$src" | cut -c1-12).so
	if [ ! -f "$so" ]; then
		# shellcheck disable=SC2046
		gcc -shared -fPIC -O2 -Wall -Werror -I"$(dirname "$MODEL_QEMU")/include" \
			$(pkg-config --cflags glib-2.0) -o "$so.tmp" "$src" \
			$(pkg-config --libs glib-2.0) || die "building $src failed"
		mv "$so.tmp" "$so"
	fi
	rm -rf "$out/split" && mkdir -p "$out/split"
	accel+=(--plugin "$so,out=$out/split/window")
	split_env="BENCH_SPLIT=1 "
fi

log "results: $out"
log "about $((secs / 60 + 1)) minutes under TCG"
rm -rf "$out/vm" && mkdir -p "$out/vm" && : >"$out/vm/progress"
tools/vm.sh --quiet --out "$out/vm" --timeout "$limit" "${accel[@]}" --mem 3G \
	--nvdimm 1G --nvdimm 1G "${probes[@]}" -- \
	"${split_env}BENCH_REPS=$reps BENCH_RUNTIME=$runtime BENCH_ROWS='$rows' BENCH_COPY_KO=$ko $RPMEM_TOP/tools/bench-guest.sh" \
	>"$out/vm.log" 2>&1 &
vm=$!
# The guest's progress, as it comes.
start=$SECONDS shown=0
while kill -0 $vm 2>/dev/null; do
	sleep 2
	n=$(wc -l <"$out/vm/progress")
	if [ "$n" -gt $shown ]; then
		tail -n +$((shown + 1)) "$out/vm/progress" | head -n $((n - shown)) |
			sed "s/^/bench: [$((SECONDS - start)) s] /" >&2
		shown=$n
	fi
done
st=0
wait $vm || st=$?
tail -n +$((shown + 1)) "$out/vm/progress" | sed 's/^/bench: /' >&2
if [ $st -ne 0 ]; then
	sed 's/^/bench: vm: /' "$out/vm.log" >&2
	die "the benchmark VM failed (status $st): $out/vm"
fi
{
	echo "host_cpu $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
	echo "host_cpus $(nproc)"
	echo "qemu $(qemu-system-x86_64 --version | head -n1)"
	echo "accel $(cat "$out/vm/accel")"
	echo "date $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "smoke $smoke"
	# Other work on the host during the run widens every spread.
	echo "host_load $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min, at the end)"
} >>"$out/vm/bench/env.txt"
python3 tools/bench-report.py "$out/vm/bench" "$out"
if [ -n "$split" ]; then
	python3 tools/bench-split.py "$out/vm/bench" "$out/split/window" \
		"$RPMEM_KDIR" | tee "$out/split.txt"
fi
