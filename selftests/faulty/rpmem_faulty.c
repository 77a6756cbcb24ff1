// SPDX-License-Identifier: GPL-2.0
/*
 * A deliberately broken module: proves that the test harness turns a kernel
 * warning, oops or KASAN report into a failed run
 * (selftests/harness_fails.sh), and that the leak check sees a leak
 * (selftests/debug/rpmem_kmemleak.sh).
 */
#include <linux/bug.h>
#include <linux/module.h>
#include <linux/slab.h>

static char *mode = "none";
module_param(mode, charp, 0444);
MODULE_PARM_DESC(mode, "none, warn, oops, leak or uaf");

/*
 * Not in .init.text, so that the leak's backtrace names this module. Many
 * objects: a stale copy of a pointer left where kmemleak scans (which
 * SLUB's poisoning, off in the KASAN tier, would have overwritten) hides
 * that object only.
 */
static noinline void rpmem_faulty_leak(void)
{
	int i;

	for (i = 0; i < 32; i++)
		memset(kmalloc(512, GFP_KERNEL) ?: ZERO_SIZE_PTR, 0, 0);
}

/*
 * Reads a kmalloc'd object after freeing it. Only KASAN reports that (as
 * "slab-use-after-free"): without it the read returns whatever is there, so
 * the control is meaningful on a KASAN kernel only (KASAN keeps the freed
 * object in quarantine, so the read hits it and nothing else).
 */
static noinline void rpmem_faulty_uaf(void)
{
	char *p = kmalloc(64, GFP_KERNEL);

	if (!p)
		return;
	p[0] = 1;
	kfree(p);
	pr_info("rpmem_faulty: read after free: %d\n", READ_ONCE(p[0]));
}

static int __init rpmem_faulty_init(void)
{
	if (!strcmp(mode, "warn"))
		WARN(1, "rpmem_faulty: warning on purpose\n");
	else if (!strcmp(mode, "oops"))
		*(volatile int *)NULL = 1;
	else if (!strcmp(mode, "leak"))
		rpmem_faulty_leak();
	else if (!strcmp(mode, "uaf"))
		rpmem_faulty_uaf();
	return 0;
}
module_init(rpmem_faulty_init);

static void __exit rpmem_faulty_exit(void)
{
}
module_exit(rpmem_faulty_exit);

MODULE_DESCRIPTION("Harness self-test: warns, oopses, leaks or uses freed memory on load");
MODULE_LICENSE("GPL");
