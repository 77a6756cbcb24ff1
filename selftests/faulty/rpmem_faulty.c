// SPDX-License-Identifier: GPL-2.0
/*
 * A deliberately broken module: proves that the test harness turns a kernel
 * warning or oops into a failed run (selftests/harness_fails.sh), and that
 * the leak check sees a leak (selftests/debug/rpmem_kmemleak.sh).
 */
#include <linux/bug.h>
#include <linux/module.h>
#include <linux/slab.h>

static char *mode = "none";
module_param(mode, charp, 0444);
MODULE_PARM_DESC(mode, "none, warn, oops or leak");

/* Not in .init.text, so that the leak's backtrace names this module. */
static noinline void rpmem_faulty_leak(void)
{
	memset(kmalloc(512, GFP_KERNEL) ?: ZERO_SIZE_PTR, 0, 0);
}

static int __init rpmem_faulty_init(void)
{
	if (!strcmp(mode, "warn"))
		WARN(1, "rpmem_faulty: warning on purpose\n");
	else if (!strcmp(mode, "oops"))
		*(volatile int *)NULL = 1;
	else if (!strcmp(mode, "leak"))
		rpmem_faulty_leak();
	return 0;
}
module_init(rpmem_faulty_init);

static void __exit rpmem_faulty_exit(void)
{
}
module_exit(rpmem_faulty_exit);

MODULE_DESCRIPTION("Harness self-test: warns, oopses or leaks on load");
MODULE_LICENSE("GPL");
