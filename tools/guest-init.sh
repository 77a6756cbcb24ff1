#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# PID 1 of the test guest booted by tools/vm.sh; the root is the host's /,
# read-only over virtio-9p. In the run directory (the 9p share "rpmem_out",
# on $RPMEM_OUT) vm.sh leaves guest.env (RPMEM_TOP, RPMEM_KDIR,
# RPMEM_CACHE, RPMEM_CWD, RPMEM_MODE: cmd or shell, ...) and cmd (run with
# bash -c), and finds afterwards rc (the command's exit status) and
# dmesg.log. Whatever happens, the guest powers off at the end: PID 1 must
# not exit.

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/tmp RPMEM_OUT=/run/rpmem
OUT_9P=trans=virtio,version=9p2000.L,msize=512000
HOST_ROOT=/run/host	# the host's / once more, /tmp and /var/tmp uncovered

say() { echo "guest-init: $*" >&2; }

# Every exec costs tens of milliseconds under TCG: one mount(8) mounts all
# but /proc and /run, from an fstab on /run (X-mount.mkdir: mount points).
mount_all()
{
	local known
	mount -t proc proc /proc
	mount -t tmpfs -o mode=755 tmpfs /run
	ln -s /proc/self/fd /dev/fd	# for <(...)
	ln -s fd/0 /dev/stdin
	ln -s fd/1 /dev/stdout
	ln -s fd/2 /dev/stderr
	read -r -d '' known </proc/filesystems
	{
		# Before the guest's /tmp and /var/tmp: keep_visible binds
		# from the host's.
		cat <<-EOF
		/         $HOST_ROOT none   bind,X-mount.mkdir
		sysfs     /sys       sysfs  defaults
		devpts    /dev/pts   devpts X-mount.mkdir,gid=5,mode=620,ptmxmode=666
		tmpfs     /dev/shm   tmpfs  X-mount.mkdir,mode=1777
		tmpfs     /tmp       tmpfs  mode=1777
		tmpfs     /var/tmp   tmpfs  mode=1777
		rpmem_out $RPMEM_OUT 9p     X-mount.mkdir,$OUT_9P
		EOF
		# debugfs and tracefs, if the kernel has them
		[[ $known != *$'\tdebugfs\n'* ]] || echo "debugfs /sys/kernel/debug debugfs defaults"
		[[ $known != *$'\ttracefs\n'* ]] || echo "tracefs /sys/kernel/tracing tracefs defaults"
	} >/run/fstab
	mount -a -T /run/fstab
}

# PATH...: a checkout or a cache under the host's /tmp or /var/tmp would
# vanish under the guest's: keep each visible at its own path.
keep_visible()
{
	local p
	for p; do
		case $p in
		/tmp/?*|/var/tmp/?*)
			mkdir -p "$p" && mount --bind "$HOST_ROOT$p" "$p" ||
				say "$p is not visible in the guest" ;;
		esac
	done
}

# Let the kernel log's logger catch up with the log's end, then stop it.
stop_kmsg_log()
{
	local mark="rpmem-guest-init: end of log ($1)" i
	echo "<6>$mark" >/dev/kmsg
	for ((i = 0; i < 100; i++)); do
		grep -qF "$mark" "$RPMEM_OUT/dmesg.log" && break
		sleep 0.1
	done
	[ $i -lt 100 ] || say "dmesg.log may be incomplete"
	kill "$kmsg_pid" 2>/dev/null
}

# Quietly: no "reboot: Power down" in the command's output (an oops or a
# panic still shows, they raise the console log level).
power_off()
{
	sync
	echo 0 >/proc/sys/kernel/printk
	busybox poweroff -f 2>/dev/null
	echo o >/proc/sysrq-trigger
	sleep 10
}

main()
{
	local rc v kmsg_pid
	mount_all
	if [ ! -r "$RPMEM_OUT/guest.env" ]; then
		say "no $RPMEM_OUT/guest.env: was this guest started by vm.sh?"
		power_off
		return
	fi
	. "$RPMEM_OUT/guest.env"
	keep_visible "$RPMEM_TOP" "$RPMEM_CACHE"
	export RPMEM_TOP RPMEM_KDIR RPMEM_CACHE
	for v in DAX_DRIVER RPMEM_SOAK_SECS RPMEM_FIO_MIB RPMEM_VM_TIMEOUT RPMEM_KO; do
		[ -z "${!v:-}" ] || export "${v?}"
	done
	# The whole kernel log, from boot on, written as it comes, so that it
	# is there even if the guest hangs.
	dmesg -w >"$RPMEM_OUT/dmesg.log" 2>&1 &
	kmsg_pid=$!
	# modprobe, the kernel's too, finds the modules of "make
	# modules_install INSTALL_MOD_PATH=$RPMEM_KDIR/modinst", if any.
	if [ -d "$RPMEM_KDIR/modinst/lib/modules" ]; then
		export MODPROBE_OPTIONS="-d $RPMEM_KDIR/modinst"
		printf '#!/bin/bash\nexec modprobe -d %q "$@"\n' \
			"$RPMEM_KDIR/modinst" >/run/modprobe
		chmod +x /run/modprobe && echo /run/modprobe >/proc/sys/kernel/modprobe
	fi
	echo rpmem-vm >/proc/sys/kernel/hostname
	cd "$RPMEM_CWD" 2>/dev/null ||
		{ say "$RPMEM_CWD is not visible in the guest, running in /"; cd /; }
	if [ "$RPMEM_MODE" = shell ]; then
		# bash with the serial port as controlling terminal, sized like
		# the host's terminal.
		export TERM=${RPMEM_TERM:-vt100}
		[ -n "$RPMEM_ROWS" ] && stty rows "$RPMEM_ROWS" cols "$RPMEM_COLS" </dev/ttyS0
		setsid -c -w bash -i <>/dev/ttyS0 >&0 2>&1
	else
		# The console is a terminal: no pager waiting for a key, plain
		# \n line ends.
		stty -onlcr 2>/dev/null
		PAGER=cat bash -c "$(<"$RPMEM_OUT/cmd")" </dev/null
	fi
	rc=$?
	echo $rc >"$RPMEM_OUT/rc"
	stop_kmsg_log $rc
	power_off
}

main
