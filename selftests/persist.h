/* SPDX-License-Identifier: GPL-2.0 */
/*
 * persist.h: user space's way to make CPU stores to a MAP_SYNC mapping
 * durable, as libpmem's pmem_persist() does it: write back each cache line
 * of the range (clwb, else clflushopt, else clflush: whichever the CPU
 * has), then an sfence to order the write-backs before later stores.
 * Shared by selftests/powerfail.c and selftests/dax_mmap.c.
 */
#ifndef RPMEM_SELFTESTS_PERSIST_H
#define RPMEM_SELFTESTS_PERSIST_H

#include <cpuid.h>
#include <stddef.h>
#include <stdint.h>

#define CACHELINE 64u

enum flush { CLWB, CLFLUSHOPT, CLFLUSH };
static enum flush flush_insn;

/* Pick the write-back instruction from CPUID leaf 7. */
static inline void pick_flush(void)
{
	unsigned int a, b, c, d;

	flush_insn = CLFLUSH;
	if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
		if (b & (1u << 24))
			flush_insn = CLWB;
		else if (b & (1u << 23))
			flush_insn = CLFLUSHOPT;
	}
}

static inline const char *flush_name(void)
{
	switch (flush_insn) {
	case CLWB: return "clwb";
	case CLFLUSHOPT: return "clflushopt";
	default: return "clflush";
	}
}

/* Write back [P, P + LEN) from the CPU caches; then an sfence orders it. */
static inline void persist(void *p, size_t len)
{
	uintptr_t a = (uintptr_t)p & ~(uintptr_t)(CACHELINE - 1);

	for (; a < (uintptr_t)p + len; a += CACHELINE) {
		char *l = (char *)a;

		switch (flush_insn) {
		case CLWB: asm volatile("clwb %0" : "+m"(*l)); break;
		case CLFLUSHOPT: asm volatile("clflushopt %0" : "+m"(*l)); break;
		case CLFLUSH: asm volatile("clflush %0" : "+m"(*l)); break;
		}
	}
	asm volatile("sfence" ::: "memory");
}

#endif
