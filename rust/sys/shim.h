/* SPDX-License-Identifier: GPL-2.0 */
/*
 * rpmem's C shim: out-of-line copies of the static inline kernel helpers the
 * Rust side needs. Each one only forwards to the kernel's own inline, but
 * rpmem_busy_pages(), which loops over a pfn range so that a scan of every
 * struct page costs one call, not one per page.
 */
#ifndef RPMEM_SHIM_H
#define RPMEM_SHIM_H

#include <linux/types.h>

struct device;
struct gendisk;
struct kernfs_node;
struct nd_namespace_common;
struct nd_region;
struct page;
struct resource;

struct resource *rpmem_ndns_res(struct nd_namespace_common *ndns);
int rpmem_dev_to_node(struct device *dev);
void rpmem_memcpy_flushcache(void *dst, const void *src, size_t n);
void rpmem_invalidate_pmem(void *addr, size_t n);
void rpmem_flush_dcache_page(struct page *page);
struct gendisk *rpmem_dev_to_disk(struct device *dev);
u32 rpmem_info_block_reserve(void);
bool rpmem_region_ro(struct nd_region *nd_region);
bool rpmem_region_own_flush(struct nd_region *nd_region);
void rpmem_unpoison_page(unsigned long pfn);
unsigned long rpmem_busy_pages(unsigned long pfn, unsigned long end);
struct kernfs_node *rpmem_disk_sysfs_file(struct gendisk *disk, const char *name);

#endif /* RPMEM_SHIM_H */
