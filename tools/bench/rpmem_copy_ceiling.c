// SPDX-License-Identifier: GPL-2.0
/*
 * rpmem_copy_ceiling: what the copy routines of the block drivers cost in
 * this guest, for the benchmark's copy ceiling (tools/bench-guest.sh).
 *
 * Reading /sys/kernel/debug/rpmem_copy_ceiling copies "mib" MiB (a module
 * parameter, 16 by default) with each routine, 4 KiB at a time (a page, as
 * the drivers copy a bio's pages), between two 1 MiB buffers of RAM, and
 * prints one line per routine: its name, the bytes copied and the guest
 * nanoseconds it took (ktime_get_ns()):
 *
 *   memcpy BYTES NS              brd's copy, both ways
 *   copy_mc_to_kernel BYTES NS   the pmem drivers' reads
 *   memcpy_flushcache BYTES NS   the pmem drivers' writes
 *
 * On QEMU's instruction-counting clock the nanoseconds count instructions
 * (2^shift ns each), and the destination being RAM rather than pmem
 * changes nothing: TCG emulates no caches, a non-temporal store costs what
 * a store does. A read of the file fails with EIO if copy_mc_to_kernel()
 * reports a byte it could not copy.
 */
#include <linux/debugfs.h>
#include <linux/gfp.h>
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/seq_file.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#define BUF_ORDER 8	/* 1 MiB */
#define BUF_BYTES (PAGE_SIZE << BUF_ORDER)

static unsigned int mib = 16;
module_param(mib, uint, 0644);
MODULE_PARM_DESC(mib, "MiB each routine copies per read (default 16)");

static void *src, *dst;
static struct dentry *file;

enum routine { MEMCPY, COPY_MC, FLUSHCACHE };
static const char *const names[] = {
	[MEMCPY] = "memcpy",
	[COPY_MC] = "copy_mc_to_kernel",
	[FLUSHCACHE] = "memcpy_flushcache",
};

/* Copy BYTES with routine R, a page at a time; the guest ns it took. */
static int time_copies(enum routine r, u64 bytes, u64 *ns)
{
	u64 done, t0;
	size_t off;

	t0 = ktime_get_ns();
	for (done = 0; done < bytes; done += PAGE_SIZE) {
		off = done % BUF_BYTES;
		switch (r) {
		case MEMCPY:
			memcpy(dst + off, src + off, PAGE_SIZE);
			break;
		case COPY_MC:
			if (copy_mc_to_kernel(dst + off, src + off, PAGE_SIZE))
				return -EIO;
			break;
		case FLUSHCACHE:
			memcpy_flushcache(dst + off, src + off, PAGE_SIZE);
			break;
		}
	}
	*ns = ktime_get_ns() - t0;
	return 0;
}

static int ceiling_show(struct seq_file *m, void *v)
{
	u64 bytes = (u64)max(mib, 1U) << 20, ns;
	enum routine r;
	int err;

	for (r = MEMCPY; r <= FLUSHCACHE; r++) {
		err = time_copies(r, bytes, &ns);
		if (err)
			return err;
		seq_printf(m, "%s %llu %llu\n", names[r], bytes, ns);
	}
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(ceiling);

static int __init ceiling_init(void)
{
	src = (void *)__get_free_pages(GFP_KERNEL, BUF_ORDER);
	dst = (void *)__get_free_pages(GFP_KERNEL, BUF_ORDER);
	if (!src || !dst)
		goto nomem;
	memset(src, 0x5a, BUF_BYTES);
	memset(dst, 0, BUF_BYTES);
	file = debugfs_create_file("rpmem_copy_ceiling", 0400, NULL, NULL,
				   &ceiling_fops);
	return 0;
nomem:
	free_pages((unsigned long)src, BUF_ORDER);
	free_pages((unsigned long)dst, BUF_ORDER);
	return -ENOMEM;
}

static void __exit ceiling_exit(void)
{
	debugfs_remove(file);
	free_pages((unsigned long)src, BUF_ORDER);
	free_pages((unsigned long)dst, BUF_ORDER);
}

module_init(ceiling_init);
module_exit(ceiling_exit);
MODULE_DESCRIPTION("rpmem benchmark: the cost of the kernel's copy routines");
MODULE_LICENSE("GPL");
