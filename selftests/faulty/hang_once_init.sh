#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# PID 1 for harness_fails.sh: the first boot of a tools/vm.sh run hangs
# before guest-init.sh starts, the boot after it goes on as usual. vm.sh
# keeps a hung boot's console as console-hang.log in the run directory,
# which the kernel command line names (HANG_ONCE_OUT=DIR, in the
# environment of PID 1).

[ -e "$HANG_ONCE_OUT/console-hang.log" ] &&
	exec "$(dirname "$0")/../../tools/guest-init.sh"
exec sleep infinity
