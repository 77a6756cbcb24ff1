// SPDX-License-Identifier: GPL-2.0
/*
 * rpmem's C shim: see shim.h. No logic lives here.
 */
#include <linux/blkdev.h>
#include <linux/highmem.h>
#include <linux/libnvdimm.h>
#include <linux/nd.h>
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

int rpmem_page_refcount(unsigned long pfn)
{
	return page_ref_count(pfn_to_page(pfn));
}
