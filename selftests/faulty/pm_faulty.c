// SPDX-License-Identifier: GPL-2.0
/*
 * pm_faulty: deliberately wrong persistent-memory writers, the controls of
 * the persistence model (selftests/rpmem_model.sh). Each stores 256-byte
 * records (selftests/records.h) into a file mapped MAP_SYNC on a
 * filesystem mounted -o dax and acknowledges each to the model; all but
 * "good" get durability wrong in one way that an eADR machine (and so a
 * plain SIGKILL of QEMU, where every store is in the file at once) hides:
 *
 *   good        the records, then a commit count, each written back (CLWB)
 *               and fenced (SFENCE) before the next step: nothing is lost
 *   memcpy      plain stores, acknowledged: never written back
 *   nt-nofence  non-temporal stores (MOVNTI) with no SFENCE after them
 *   wrong-line  written back and fenced, but the next record's lines, not
 *               this one's
 *   wal         a write-ahead log whose commit count is written back and
 *               fenced before the record it commits (the shape of a BTT
 *               map-before-data bug): at a crash in between, a durable
 *               commit count names a record that is not there
 *
 *   pm_faulty MODE PATH CHANNEL CYCLE COUNT SPEC
 *
 * The file PATH gets a commit line at offset 0 and record SEQ at
 * 4096 + SEQ * 256; COUNT records, acknowledged on model channel CHANNEL.
 * Before the first store, SPEC gets where they are on the disk, for
 * tools/model/check.py: "extent CHANNEL LOGICAL PHYSICAL LENGTH" per
 * extent (FIEMAP, bytes).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../records.h"

#ifndef MAP_SHARED_VALIDATE
#define MAP_SHARED_VALIDATE 0x03
#endif
#ifndef MAP_SYNC
#define MAP_SYNC 0x80000
#endif

#define REC 256u
#define RECS_AT 4096u
#define LINE 64u
#define MAX_EXTENTS 64

static void __attribute__((noreturn)) die(const char *what)
{
	fprintf(stderr, "pm_faulty: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void clwb(const void *p, size_t len)
{
	uintptr_t a = (uintptr_t)p & ~(uintptr_t)(LINE - 1);

	for (; a < (uintptr_t)p + len; a += LINE)
		asm volatile("clwb %0" : "+m"(*(char *)a));
}

static void sfence(void)
{
	asm volatile("sfence" ::: "memory");
}

static void movnti(void *dst, const void *src, size_t len)
{
	uint64_t *d = dst;
	const uint64_t *s = src;

	for (size_t i = 0; i < len / 8; i++)
		asm volatile("movnti %1, %0" : "=m"(d[i]) : "r"(s[i]));
}

/* The file's extents into SPEC, before anything is stored through the map. */
static void write_spec(int fd, const char *spec, unsigned int channel)
{
	size_t sz = sizeof(struct fiemap) + MAX_EXTENTS * sizeof(struct fiemap_extent);
	struct fiemap *fm = calloc(1, sz);
	FILE *f = fopen(spec, "w");

	if (!fm || !f)
		die(spec);
	fm->fm_length = ~0ull;
	fm->fm_flags = FIEMAP_FLAG_SYNC;
	fm->fm_extent_count = MAX_EXTENTS;
	if (ioctl(fd, FS_IOC_FIEMAP, fm))
		die("FIEMAP");
	for (unsigned int i = 0; i < fm->fm_mapped_extents; i++) {
		struct fiemap_extent *e = &fm->fm_extents[i];

		fprintf(f, "extent %u %llu %llu %llu\n", channel,
			(unsigned long long)e->fe_logical,
			(unsigned long long)e->fe_physical,
			(unsigned long long)e->fe_length);
	}
	if (fclose(f))
		die(spec);
	free(fm);
}

int main(int argc, char **argv)
{
	unsigned int channel, cycle, count;
	unsigned char rec[REC];
	volatile uint64_t *commit;
	const char *mode;
	unsigned char *p;
	size_t len;
	int fd;

	if (argc != 7) {
		fprintf(stderr, "usage: pm_faulty MODE PATH CHANNEL CYCLE COUNT SPEC\n");
		return 2;
	}
	mode = argv[1];
	channel = strtoul(argv[3], NULL, 10);
	cycle = strtoul(argv[4], NULL, 10);
	count = strtoul(argv[5], NULL, 10);
	if (strcmp(mode, "good") && strcmp(mode, "memcpy") &&
	    strcmp(mode, "nt-nofence") && strcmp(mode, "wrong-line") &&
	    strcmp(mode, "wal")) {
		fprintf(stderr, "pm_faulty: unknown mode %s\n", mode);
		return 2;
	}
	/* Written once through write(2) and fsynced: allocated, no holes. */
	len = RECS_AT + (size_t)(count + 1) * REC;
	fd = open(argv[2], O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		die(argv[2]);
	p = calloc(1, len);
	if (!p || write(fd, p, len) != (ssize_t)len || fsync(fd))
		die("write + fsync");
	free(p);
	write_spec(fd, argv[6], channel);
	p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		 MAP_SHARED_VALIDATE | MAP_SYNC, fd, 0);
	if (p == MAP_FAILED)
		die("mmap MAP_SYNC");
	commit = (volatile uint64_t *)p;
	for (unsigned int seq = 0; seq < count; seq++) {
		unsigned char *dst = p + RECS_AT + (size_t)seq * REC;

		make_rec(rec, REC, channel, cycle, seq);
		if (!strcmp(mode, "nt-nofence")) {
			movnti(dst, rec, REC);
		} else if (!strcmp(mode, "wal")) {
			memcpy(dst, rec, REC);
			*commit = seq + 1;
			clwb((const void *)commit, 8);
			sfence();
			clwb(dst, REC);
			sfence();
		} else {
			memcpy(dst, rec, REC);
			if (!strcmp(mode, "wrong-line"))
				clwb(dst + REC, REC);
			else if (!strcmp(mode, "good"))
				clwb(dst, REC);
			if (strcmp(mode, "memcpy"))
				sfence();
			if (!strcmp(mode, "good")) {
				*commit = seq + 1;
				clwb((const void *)commit, 8);
				sfence();
			}
		}
		model_ack(channel, (uint64_t)seq + 1);
	}
	return 0;
}
