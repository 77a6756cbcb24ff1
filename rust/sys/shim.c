// SPDX-License-Identifier: GPL-2.0
/*
 * rpmem's C shim: see shim.h. No logic lives here but one loop,
 * rpmem_busy_pages().
 */
#include <linux/blkdev.h>
#include <linux/highmem.h>
#include <linux/libnvdimm.h>
#include <linux/nd.h>
#include <linux/sched.h>
#include <linux/set_memory.h>
#include <linux/string.h>
#include <linux/sysfs.h>
#include "nd.h"
#include "pmem.h"
#include "shim.h"

struct resource *rpmem_ndns_res(struct nd_namespace_common *ndns)
{
	return &to_nd_namespace_io(&ndns->dev)->res;
}

int rpmem_dev_to_node(struct device *dev)
{
	return dev_to_node(dev);
}

void rpmem_memcpy_flushcache(void *dst, const void *src, size_t n)
{
	memcpy_flushcache(dst, src, n);
}

void rpmem_invalidate_pmem(void *addr, size_t n)
{
	arch_invalidate_pmem(addr, n);
}

void rpmem_flush_dcache_page(struct page *page)
{
	flush_dcache_page(page);
}

struct gendisk *rpmem_dev_to_disk(struct device *dev)
{
	return dev_to_disk(dev);
}

bool rpmem_region_ro(struct nd_region *nd_region)
{
	return nd_region->ro;
}

bool rpmem_region_own_flush(struct nd_region *nd_region)
{
	return nd_region->flush;
}

u32 rpmem_info_block_reserve(void)
{
	return nd_info_block_reserve();
}

void rpmem_unpoison_page(unsigned long pfn)
{
	if (test_and_clear_pmem_poison(pfn_to_page(pfn)))
		clear_mce_nospec(pfn);
}

struct kernfs_node *rpmem_disk_sysfs_file(struct gendisk *disk, const char *name)
{
	return sysfs_get_dirent(disk_to_dev(disk)->kobj.sd, name);
}

/*
 * The one loop of the shim: how many of the struct pages of page frames
 * [pfn, end) have a non-zero refcount. One call for the whole range, not one
 * per page: after DAX use an unbind reads every struct page of the
 * namespace, and a call each cost rpmem's unbind more than the rest of it.
 * ZONE_DEVICE needs SPARSEMEM_VMEMMAP, under which the struct pages of a pfn
 * range are one array: the loop walks it, four pages a turn.
 */
unsigned long rpmem_busy_pages(unsigned long pfn, unsigned long end)
{
	unsigned long busy = 0;

	while (pfn < end) {
		unsigned long n = min(end - pfn, 1UL << 16);
#ifdef CONFIG_SPARSEMEM_VMEMMAP
		const struct page *page = pfn_to_page(pfn);
		unsigned long i = 0;

		for (; i + 4 <= n; i += 4)
			busy += !!page_ref_count(page + i) + !!page_ref_count(page + i + 1) +
				!!page_ref_count(page + i + 2) + !!page_ref_count(page + i + 3);
		for (; i < n; i++)
			busy += !!page_ref_count(page + i);
#else
		for (unsigned long i = 0; i < n; i++)
			busy += !!page_ref_count(pfn_to_page(pfn + i));
#endif
		pfn += n;
		cond_resched();
	}
	return busy;
}
