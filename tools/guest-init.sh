#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# PID 1 of the test guest booted by tools/vm.sh. The root is the host's /,
# read-only over virtio-9p; the run directory is the 9p share "rpmem_out",
# mounted on $RPMEM_OUT. vm.sh leaves there:
#   guest.env	RPMEM_TOP, RPMEM_KDIR, RPMEM_CWD, RPMEM_MODE (cmd or shell), ...,
#		and DAX_DRIVER, RPMEM_SOAK_SECS, RPMEM_VM_TIMEOUT if the host
#		had them
#   cmd		the command, run with bash -c (cmd mode)
# and finds there afterwards rc (the command's exit status) and dmesg.log.
# Whatever happens, the guest powers off at the end: PID 1 must not exit.

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/tmp RPMEM_OUT=/run/rpmem
OUT_9P=trans=virtio,version=9p2000.L,msize=512000
kmsg_pid=

say() { echo "guest-init: $*" >&2; }

# Every exec costs tens of milliseconds under TCG: one mount(8) mounts all
# but /proc and /run, from an fstab on /run. X-mount.mkdir makes mount
# points on /dev and /run.
mount_all()
{
	local top
	mount -t proc proc /proc
	mount -t tmpfs -o mode=755 tmpfs /run
	# A checkout under /tmp or /var/tmp would vanish under the guest's
	# tmpfs: keep it visible at its own path.
	top=$(cd "$(dirname "$0")/.." && pwd)
	case $top in
	/tmp/*|/var/tmp/*) mkdir /run/top && mount --bind "$top" /run/top ;;
	*) top= ;;
	esac
	ln -s /proc/self/fd /dev/fd	# for <(...)
	ln -s fd/0 /dev/stdin
	ln -s fd/1 /dev/stdout
	ln -s fd/2 /dev/stderr
	{
		cat <<-EOF
		sysfs     /sys       sysfs  defaults
		devpts    /dev/pts   devpts X-mount.mkdir,gid=5,mode=620,ptmxmode=666
		tmpfs     /dev/shm   tmpfs  X-mount.mkdir,mode=1777
		tmpfs     /tmp       tmpfs  mode=1777
		tmpfs     /var/tmp   tmpfs  mode=1777
		rpmem_out $RPMEM_OUT 9p     X-mount.mkdir,$OUT_9P
		EOF
		optional_fs debugfs /sys/kernel/debug
		optional_fs tracefs /sys/kernel/tracing
	} >/run/fstab
	mount -a -T /run/fstab
	[ -z "$top" ] || { mkdir -p "$top" && mount --move /run/top "$top"; }
}

# FSTYPE DIR: an fstab line if the kernel has FSTYPE.
optional_fs()
{
	local known
	read -r -d '' known </proc/filesystems
	[[ $known != *$'\t'$1$'\n'* ]] || echo "$1 $2 $1 defaults"
}

# Modules installed by "make modules_install INSTALL_MOD_PATH=$kdir/modinst",
# if there are any, so that modprobe finds them.
mount_modules()
{
	local dir=$RPMEM_KDIR/modinst/lib/modules
	[ -n "$RPMEM_KDIR" ] && [ -d "$dir" ] || return 0
	[ -d /lib/modules ] || lib_with_modules
	mount --bind "$dir" /lib/modules || say "cannot bind $dir on /lib/modules"
}

# A host without /lib/modules (a container, say) leaves no mount point for
# it in the read-only root, and the kernel has no overlayfs: /lib becomes a
# tmpfs of symbolic links to the real one, plus an empty modules directory.
# Bind-mounted in one go, so that no program ever sees an empty /lib.
lib_with_modules()
{
	local lib real=/run/rpmem-lib/real farm=/run/rpmem-lib/farm
	lib=$(cd /lib && pwd -P)
	mkdir -p "$real" "$farm/modules"
	mount --bind "$lib" "$real" || return
	shopt -s nullglob dotglob
	ln -s "$real"/* "$farm"/
	shopt -u nullglob dotglob
	mount --bind "$farm" "$lib"
}

# The whole kernel log, from boot on, into dmesg.log: written as it comes,
# so it is there even if the guest hangs.
start_kmsg_log()
{
	dmesg -w >"$RPMEM_OUT/dmesg.log" 2>&1 &
	kmsg_pid=$!
}

# Let the logger catch up with the end of the log before it is stopped.
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

enter_cwd()
{
	cd "$RPMEM_CWD" 2>/dev/null && return
	say "$RPMEM_CWD is not visible in the guest, running in /"
	cd /
}

# The console is a terminal: no pager waiting for a key, plain \n line ends.
run_command()
{
	stty -onlcr 2>/dev/null
	PAGER=cat bash -c "$(<"$RPMEM_OUT/cmd")" </dev/null
}

# An interactive bash with the serial port as controlling terminal, sized
# like the host's terminal.
run_shell()
{
	export TERM=${RPMEM_TERM:-vt100}
	[ -n "$RPMEM_ROWS" ] && stty rows "$RPMEM_ROWS" cols "$RPMEM_COLS" </dev/ttyS0
	setsid -c -w bash -i <>/dev/ttyS0 >&0 2>&1
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
	local rc v
	mount_all
	if [ -r "$RPMEM_OUT/guest.env" ]; then
		. "$RPMEM_OUT/guest.env"
		export RPMEM_TOP RPMEM_KDIR
		for v in DAX_DRIVER RPMEM_SOAK_SECS RPMEM_VM_TIMEOUT; do
			[ -z "${!v:-}" ] || export "${v?}"
		done
		start_kmsg_log
		mount_modules
		echo rpmem-vm >/proc/sys/kernel/hostname
		enter_cwd
		case $RPMEM_MODE in
		shell) run_shell ;;
		*) run_command ;;
		esac
		rc=$?
		echo $rc >"$RPMEM_OUT/rc"
		stop_kmsg_log $rc
	else
		say "no $RPMEM_OUT/guest.env: was this guest started by vm.sh?"
	fi
	power_off
}

main
