// SPDX-License-Identifier: GPL-2.0
/*
 * powerfail: the guest side of selftests/rpmem_powerfail.sh. It writes
 * self-checking records until it is killed, and after the next boot checks
 * that every record it reported as acknowledged is there, intact.
 *
 *   powerfail write TARGET CYCLE PATH ACKLOG
 *   powerfail check TARGET CYCLE PATH ACKLOG
 *
 * TARGET says where the records go and what makes each one durable before
 * it is acknowledged (one line "TARGET CYCLE SEQ" appended to ACKLOG):
 *
 *   raw         PATH is a disk: 4 KiB records at offset SEQ * 4 KiB, written
 *               with O_DIRECT; even ones with pwritev2(RWF_DSYNC) (a FUA
 *               write), odd ones with pwrite and fsync (a PREFLUSH)
 *   ext4        PATH is a new file: 256-byte records appended, each followed
 *               by fsync
 *   xfs         PATH is a new sparse file, mapped MAP_SHARED_VALIDATE |
 *               MAP_SYNC: record SEQ stored at SEQ * 256 with plain CPU
 *               stores, then its cache lines written back (clwb, else
 *               clflushopt, else clflush) and an sfence
 *   ext4-nosync the control: like ext4, but acknowledged right after the
 *               write, with no fsync
 *   raw-nosync  a control: like raw, but every record written with plain
 *               pwrite (O_DIRECT) and acknowledged with no flush at all
 *
 * A record: magic, target, cycle, sequence number, a payload derived from
 * those, and an FNV-1a checksum of all that (selftests/records.h). "write"
 * runs until killed (or until its space is full: then it sleeps), or until
 * it wrote $POWERFAIL_RECORDS records (then it exits 0); records start at
 * sequence number $POWERFAIL_FIRST (default 0: records before it are not
 * touched, so that the disk's start can serve something else), and with
 * $POWERFAIL_GAP_US set the raw targets sleep that long after each (to
 * leave the CPU to other work); each
 * acknowledgement also goes to the persistence model, on channel
 * $POWERFAIL_CHANNEL, by default TARGET's number (tools/model/pmem_model.c). "check" reads every record
 * ACKLOG names for CYCLE at its place (with pread, O_DIRECT for the disk)
 * and prints "TARGET ACKED LOST", then one line per lost record (at most
 * 10). A last ACKLOG line without its newline (the kill cut the write) is
 * ignored. Any error exits non-zero with a message on stderr.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <linux/fs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "persist.h"
#include "records.h"

#ifndef MAP_SHARED_VALIDATE
#define MAP_SHARED_VALIDATE 0x03
#endif
#ifndef MAP_SYNC
#define MAP_SYNC 0x80000
#endif
#ifndef RWF_DSYNC
#define RWF_DSYNC 0x00000002
#endif

#define FILE_REC 256u
#define RAW_REC 4096u
#define MAX_FILE_RECS 65536u	/* 16 MiB of 256-byte records */

enum target { RAW, EXT4, XFS, EXT4_NOSYNC, RAW_NOSYNC };
static const char *const names[] = { "raw", "ext4", "xfs", "ext4-nosync",
				     "raw-nosync" };


static const char *prog = "powerfail";

static void __attribute__((noreturn)) die(const char *what)
{
	fprintf(stderr, "%s: %s: %s\n", prog, what, strerror(errno));
	exit(1);
}

static int is_raw(enum target t)
{
	return t == RAW || t == RAW_NOSYNC;
}

static size_t rec_size(enum target t)
{
	return is_raw(t) ? RAW_REC : FILE_REC;
}

/* --- write ------------------------------------------------------------------ */

static int ack_fd;
static enum target ack_target;
static unsigned int ack_channel;
static uint32_t limit = UINT32_MAX;
static uint32_t first;
static useconds_t gap_us;

/*
 * One line per acknowledged record, in one write(2): on the 9p run
 * directory (no cache) it returns once QEMU wrote it into the host's file,
 * where QEMU's death cannot take it back. The persistence model hears of
 * it at once (channel TARGET), the line in ACKLOG comes later.
 */
static void ack(uint32_t cycle, uint32_t seq)
{
	char line[64];
	int n = snprintf(line, sizeof(line), "%s %u %u\n", names[ack_target],
			 cycle, seq);

	model_ack(ack_channel, (uint64_t)seq + 1);
	if (write(ack_fd, line, n) != n)
		die("ack log");
}

/* The directory of PATH, fsynced: a new file's name is durable too. */
static void sync_dir(const char *path)
{
	char *copy = strdup(path);
	int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);

	if (fd < 0 || fsync(fd))
		die("fsync directory");
	close(fd);
	free(copy);
}

/* The space is full, or POWERFAIL_RECORDS were written: wait, or end. */
static void __attribute__((noreturn)) full(uint32_t seq)
{
	if (seq - first == limit)
		exit(0);
	for (;;)
		pause();
}

static void write_raw(const char *path, enum target t, uint32_t cycle)
{
	int fd = open(path, O_RDWR | O_DIRECT);
	uint64_t size;
	unsigned char *buf;
	uint32_t seq;

	if (fd < 0)
		die(path);
	if (ioctl(fd, BLKGETSIZE64, &size))
		die("BLKGETSIZE64");
	if (posix_memalign((void **)&buf, RAW_REC, RAW_REC))
		die("posix_memalign");
	for (seq = first; seq < size / RAW_REC && seq - first < limit; seq++) {
		struct iovec iov = { buf, RAW_REC };
		off_t off = (off_t)seq * RAW_REC;

		make_rec(buf, RAW_REC, t, cycle, seq);
		if (t == RAW_NOSYNC) {
			if (pwrite(fd, buf, RAW_REC, off) != RAW_REC)
				die("pwrite");
		} else if (seq % 2 == 0) {
			if (pwritev2(fd, &iov, 1, off, RWF_DSYNC) != RAW_REC)
				die("pwritev2 RWF_DSYNC");
		} else {
			if (pwrite(fd, buf, RAW_REC, off) != RAW_REC)
				die("pwrite");
			if (fsync(fd))
				die("fsync");
		}
		ack(cycle, seq);
		if (gap_us)
			usleep(gap_us);
	}
	full(seq);
}

static void write_append(const char *path, enum target t, uint32_t cycle)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
	unsigned char buf[FILE_REC];
	uint32_t seq;

	if (fd < 0)
		die(path);
	if (fsync(fd))
		die("fsync");
	sync_dir(path);
	for (seq = first; seq < MAX_FILE_RECS && seq - first < limit; seq++) {
		make_rec(buf, FILE_REC, t, cycle, seq);
		if (write(fd, buf, FILE_REC) != FILE_REC)
			die("write");
		if (t != EXT4_NOSYNC && fsync(fd))
			die("fsync");
		ack(cycle, seq);
	}
	full(seq);
}

static void write_map_sync(const char *path, uint32_t cycle)
{
	size_t len = (size_t)MAX_FILE_RECS * FILE_REC;
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	unsigned char *p, rec[FILE_REC];
	uint32_t seq;

	if (fd < 0)
		die(path);
	if (ftruncate(fd, len) || fsync(fd))
		die("ftruncate + fsync");
	sync_dir(path);
	p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		 MAP_SHARED_VALIDATE | MAP_SYNC, fd, 0);
	if (p == MAP_FAILED)
		die("mmap MAP_SYNC");
	pick_flush();
	for (seq = first; seq < MAX_FILE_RECS && seq - first < limit; seq++) {
		unsigned char *dst = p + (size_t)seq * FILE_REC;

		make_rec(rec, FILE_REC, XFS, cycle, seq);
		memcpy(dst, rec, FILE_REC);
		persist(dst, FILE_REC);
		ack(cycle, seq);
	}
	full(seq);
}

/* --- check ------------------------------------------------------------------ */

static int check(enum target t, uint32_t cycle, const char *path,
		 const char *acklog)
{
	size_t len = rec_size(t);
	FILE *acks = fopen(acklog, "r");
	int fd = open(path, O_RDONLY | (is_raw(t) ? O_DIRECT : 0));
	unsigned char *got, want[RAW_REC];
	unsigned long acked = 0, lost = 0;
	char line[128], name[32];
	unsigned int c, seq;

	if (!acks)
		die(acklog);
	/* A file that is gone lost all its records: they are counted below. */
	if (fd < 0 && (is_raw(t) || errno != ENOENT))
		die(path);
	if (posix_memalign((void **)&got, RAW_REC, RAW_REC))
		die("posix_memalign");
	while (fgets(line, sizeof(line), acks)) {
		const char *why = NULL;
		ssize_t n = 0;

		if (!strchr(line, '\n'))
			break;	/* the kill cut this line short */
		if (sscanf(line, "%31s %u %u", name, &c, &seq) != 3 ||
		    strcmp(name, names[t]) || c != cycle) {
			fprintf(stderr, "%s: %s: bad line: %s", prog, acklog, line);
			return 1;
		}
		acked++;
		make_rec(want, len, t, cycle, seq);
		if (fd >= 0)
			n = pread(fd, got, len, (off_t)seq * len);
		if (n < 0)
			die("pread");
		if (fd < 0)
			why = "file missing";
		else if ((size_t)n < len)
			why = "past the end of the file";
		else if (fnv1a(got, len - 4) != *(uint32_t *)(got + len - 4))
			why = memcmp(got, want, sizeof(struct rec_head)) ?
				"another record (bad checksum)" : "bad checksum";
		else if (memcmp(got, want, len))
			why = "a valid record, but another one";
		if (why && ++lost <= 10)
			printf("lost %s cycle %u seq %u: %s\n", names[t], cycle,
			       seq, why);
	}
	printf("%s %lu %lu\n", names[t], acked, lost);
	return 0;
}

static enum target parse_target(const char *s)
{
	unsigned int i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(s, names[i]))
			return i;
	fprintf(stderr, "%s: unknown target %s\n", prog, s);
	exit(2);
}

int main(int argc, char **argv)
{
	enum target t;
	uint32_t cycle;

	if (argc != 6) {
		fprintf(stderr, "usage: %s write|check TARGET CYCLE PATH ACKLOG\n",
			prog);
		return 2;
	}
	t = parse_target(argv[2]);
	cycle = strtoul(argv[3], NULL, 10);
	if (!strcmp(argv[1], "check"))
		return check(t, cycle, argv[4], argv[5]);
	if (strcmp(argv[1], "write"))
		return 2;
	ack_target = t;
	ack_channel = getenv("POWERFAIL_CHANNEL") ?
		strtoul(getenv("POWERFAIL_CHANNEL"), NULL, 10) : t;
	if (getenv("POWERFAIL_RECORDS"))
		limit = strtoul(getenv("POWERFAIL_RECORDS"), NULL, 10);
	if (getenv("POWERFAIL_FIRST"))
		first = strtoul(getenv("POWERFAIL_FIRST"), NULL, 10);
	if (getenv("POWERFAIL_GAP_US"))
		gap_us = strtoul(getenv("POWERFAIL_GAP_US"), NULL, 10);
	ack_fd = open(argv[5], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (ack_fd < 0)
		die(argv[5]);
	switch (t) {
	case RAW:
	case RAW_NOSYNC: write_raw(argv[4], t, cycle); break;
	case XFS: write_map_sync(argv[4], cycle); break;
	default: write_append(argv[4], t, cycle); break;
	}
	return 0;
}
