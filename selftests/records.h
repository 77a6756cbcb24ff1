/* SPDX-License-Identifier: GPL-2.0 */
/*
 * records.h: the self-checking records of the power-fail and persistence
 * model workloads (selftests/powerfail.c, selftests/faulty/pm_faulty.c),
 * which tools/model/check.py rebuilds byte for byte on the host, and the
 * acknowledgement that the persistence model sees (tools/model/pmem_model.c).
 *
 * A record of LEN bytes: struct rec_head (magic, target, cycle, sequence
 * number), a payload derived from those by xorshift64, and an FNV-1a
 * checksum of everything before it in the last 4 bytes.
 */
#ifndef RPMEM_SELFTESTS_RECORDS_H
#define RPMEM_SELFTESTS_RECORDS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define REC_MAGIC 0x52504d46u	/* "RPMF" */

struct rec_head {
	uint32_t magic, target, cycle, seq;
};

static inline uint32_t fnv1a(const unsigned char *p, size_t len)
{
	uint32_t h = 2166136261u;

	while (len--)
		h = (h ^ *p++) * 16777619u;
	return h;
}

/* Record SEQ of TARGET in CYCLE into BUF (LEN bytes, checksum last). */
static inline void make_rec(unsigned char *buf, size_t len, uint32_t target,
			    uint32_t cycle, uint32_t seq)
{
	struct rec_head h = { REC_MAGIC, target, cycle, seq };
	uint64_t x = ((uint64_t)cycle << 32 | seq) * 0x9e3779b97f4a7c15ull + target;
	size_t i;
	uint32_t sum;

	memcpy(buf, &h, sizeof(h));
	for (i = sizeof(h); i < len - 4; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		buf[i] = (unsigned char)x;
	}
	sum = fnv1a(buf, len - 4);
	memcpy(buf + len - 4, &sum, 4);
}

/*
 * Tell the persistence model that COUNT records of CHANNEL (0 to 63) are
 * acknowledged: one 8-byte store right after the marker NOP
 * "nopl 0x52504d45(%rax)", which the model's plugin looks for. Outside the
 * model it is a NOP and a store to a local variable.
 */
static inline void model_ack(unsigned int channel, uint64_t count)
{
	static volatile uint64_t slot;

	asm volatile(".byte 0x0f, 0x1f, 0x80, 0x45, 0x4d, 0x50, 0x52\n\t"
		     "movq %1, %0"
		     : "=m"(slot)
		     : "r"((uint64_t)channel << 56 | count)
		     : "memory");
}

#endif
