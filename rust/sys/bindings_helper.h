/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Input to tools/bindgen.sh: the kernel interfaces rpmem uses that
 * kernel::bindings does not have. Never compiled as C.
 */
#include <linux/badblocks.h>
#include <linux/blkdev.h>
#include <linux/dax.h>
#include <linux/libnvdimm.h>
#include <linux/memremap.h>
#include <linux/nd.h>
#include <linux/uio.h>
#include "nd.h"		/* drivers/nvdimm: nvdimm_namespace_common_probe() & co. */
#include "pfn.h"		/* drivers/nvdimm: the pfn info block */
#include "shim.h"

/* Macros with casts, which bindgen cannot evaluate, as typed constants. */
const blk_features_t RPMEM_BLK_FEAT_WRITE_CACHE = BLK_FEAT_WRITE_CACHE;
const blk_features_t RPMEM_BLK_FEAT_FUA = BLK_FEAT_FUA;
const blk_features_t RPMEM_BLK_FEAT_SYNCHRONOUS = BLK_FEAT_SYNCHRONOUS;
const blk_features_t RPMEM_BLK_FEAT_IO_STAT = BLK_FEAT_IO_STAT;
const blk_features_t RPMEM_BLK_FEAT_DAX = BLK_FEAT_DAX;
const blk_features_t RPMEM_BLK_FEAT_NOWAIT = BLK_FEAT_NOWAIT;
const blk_opf_t RPMEM_REQ_OP_MASK = REQ_OP_MASK;
const blk_opf_t RPMEM_REQ_PREFLUSH = REQ_PREFLUSH;
const blk_opf_t RPMEM_REQ_FUA = REQ_FUA;
const blk_opf_t RPMEM_REQ_NOWAIT = REQ_NOWAIT;
const blk_status_t RPMEM_BLK_STS_IOERR = BLK_STS_IOERR;
const blk_status_t RPMEM_BLK_STS_NOTSUPP = BLK_STS_NOTSUPP;
const blk_status_t RPMEM_BLK_STS_AGAIN = BLK_STS_AGAIN;
const unsigned long RPMEM_MEMREMAP_PMEM = ARCH_MEMREMAP_PMEM;
const int RPMEM_ARCH_FLUSH_DCACHE_PAGE = ARCH_IMPLEMENTS_FLUSH_DCACHE_PAGE;
const unsigned int RPMEM_ND_DRIVER_NAMESPACE_IO = ND_DRIVER_NAMESPACE_IO;
const unsigned int RPMEM_ND_DRIVER_NAMESPACE_PMEM = ND_DRIVER_NAMESPACE_PMEM;
