// SPDX-License-Identifier: GPL-2.0
/*
 * powerfail: the guest side of selftests/rpmem_powerfail.sh. Writes
 * self-checking records until the VM is killed, logging each one only once
 * it is acknowledged as durable; after the next boot, checks that every
 * logged record is there, intact.
 *
 *   powerfail run KIND PATH ACKS CYCLE
 *   powerfail check KIND PATH ACKS CYCLE
 *
 * KIND says how a record is written, and when it counts as acknowledged:
 *   raw      PATH is a block device; record N in its own 512-byte sector N,
 *            O_DIRECT; even N with pwritev2(RWF_DSYNC) (REQ_FUA), odd N
 *            with pwrite and fdatasync (REQ_PREFLUSH)
 *   append   PATH is a file, appended to (record N at byte N * 64), fsync
 *            after each record
 *   mapsync  PATH is a preallocated file mapped with MAP_SYNC; record N
 *            stored at byte N * 64, then its cache line flushed (clflush,
 *            sfence)
 *   early    the control: like append, but logged before it is written and
 *            never fsynced, so a crash loses what the journal did not
 *            commit
 * ACKS is the log: one line per acknowledged record, its number, appended
 * with write(2) (on the run directory, a host file: each write is on the
 * host before it returns, so a kill of the VM does not lose it). CYCLE
 * goes into every record. "check" reads ACKS (a torn last line is not an
 * acknowledgement) and prints "acked N lost M", then one line per lost
 * record; it fails (exit 1) only if it cannot read.
 */
#define _GNU_SOURCE
#include <emmintrin.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#ifndef MAP_SHARED_VALIDATE
#define MAP_SHARED_VALIDATE 0x03
#endif
#ifndef MAP_SYNC
#define MAP_SYNC 0x80000
#endif

#define MAGIC 0x52504d46u	/* "RPMF" */
#define SECTOR 512

enum kind { RAW, APPEND, MAPSYNC, EARLY };

struct record {
	uint32_t magic;
	uint32_t kind;
	uint32_t cycle;
	uint32_t seq;
	uint8_t payload[40];
	uint64_t sum;
};

_Static_assert(sizeof(struct record) == 64, "a record is a cache line");

static void __attribute__((noreturn)) die_errno(const char *what)
{
	fprintf(stderr, "powerfail: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* FNV-1a over everything but the sum. */
static uint64_t checksum(const struct record *r)
{
	const uint8_t *p = (const uint8_t *)r;
	uint64_t h = 0xcbf29ce484222325ull;
	size_t i;

	for (i = 0; i < offsetof(struct record, sum); i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

static void make_record(struct record *r, enum kind kind, uint32_t cycle,
			uint32_t seq)
{
	size_t i;

	r->magic = MAGIC;
	r->kind = kind;
	r->cycle = cycle;
	r->seq = seq;
	for (i = 0; i < sizeof(r->payload); i++)
		r->payload[i] = (uint8_t)(seq * 31 + cycle * 7 + i);
	r->sum = checksum(r);
}

static int record_ok(const struct record *r, enum kind kind, uint32_t cycle,
		     uint32_t seq)
{
	struct record want;

	make_record(&want, kind, cycle, seq);
	return !memcmp(r, &want, sizeof(want));
}

static off_t place(enum kind kind, uint32_t seq)
{
	return (off_t)seq * (kind == RAW ? SECTOR : sizeof(struct record));
}

static void ack(int fd, uint32_t seq)
{
	char line[16];
	int n = snprintf(line, sizeof(line), "%u\n", seq);

	if (write(fd, line, n) != n)
		die_errno("acknowledgement log");
}

/* How many records fit in PATH, at most. */
static uint32_t capacity(int fd, enum kind kind)
{
	struct stat st;
	off_t size;

	if (fstat(fd, &st))
		die_errno("fstat");
	size = st.st_size;
	if (S_ISBLK(st.st_mode) && (size = lseek(fd, 0, SEEK_END)) < 0)
		die_errno("lseek");
	if (kind == APPEND || kind == EARLY)
		return UINT32_MAX;
	return size / place(kind, 1);
}

static void run_raw(int fd, int acks, uint32_t cycle, uint32_t cap)
{
	void *buf;
	uint32_t seq;

	if (posix_memalign(&buf, 4096, SECTOR))
		die_errno("posix_memalign");
	memset(buf, 0, SECTOR);
	for (seq = 0; seq < cap; seq++) {
		struct iovec iov = { .iov_base = buf, .iov_len = SECTOR };

		make_record(buf, RAW, cycle, seq);
		if (seq % 2 == 0) {
			if (pwritev2(fd, &iov, 1, place(RAW, seq), RWF_DSYNC) != SECTOR)
				die_errno("pwritev2 RWF_DSYNC");
		} else {
			if (pwrite(fd, buf, SECTOR, place(RAW, seq)) != SECTOR)
				die_errno("pwrite");
			if (fdatasync(fd))
				die_errno("fdatasync");
		}
		ack(acks, seq);
	}
}

static void run_append(int fd, int acks, enum kind kind, uint32_t cycle)
{
	struct record r;
	uint32_t seq;

	for (seq = 0;; seq++) {
		make_record(&r, kind, cycle, seq);
		if (kind == EARLY) {
			ack(acks, seq);
			usleep(1000);	/* a few thousand, not a full disk */
		}
		if (write(fd, &r, sizeof(r)) != sizeof(r))
			die_errno("write");
		if (kind == APPEND) {
			if (fsync(fd))
				die_errno("fsync");
			ack(acks, seq);
		}
	}
}

static void run_mapsync(int fd, int acks, uint32_t cycle, uint32_t cap)
{
	struct record *map;
	uint32_t seq;

	map = mmap(NULL, (size_t)cap * sizeof(*map), PROT_READ | PROT_WRITE,
		   MAP_SHARED_VALIDATE | MAP_SYNC, fd, 0);
	if (map == MAP_FAILED)
		die_errno("mmap MAP_SYNC");
	for (seq = 0; seq < cap; seq++) {
		make_record(&map[seq], MAPSYNC, cycle, seq);
		_mm_clflush(&map[seq]);
		_mm_sfence();
		ack(acks, seq);
	}
}

/* The acknowledged record numbers in ACKS, one per complete line. */
static uint32_t *read_acks(const char *path, size_t *n)
{
	FILE *f = fopen(path, "r");
	uint32_t *seqs = NULL;
	size_t cap = 0;
	char line[32];

	*n = 0;
	if (!f)
		die_errno(path);
	while (fgets(line, sizeof(line), f)) {
		if (!strchr(line, '\n'))
			break;	/* torn by the kill: never acknowledged */
		if (*n == cap) {
			cap = cap ? cap * 2 : 1024;
			seqs = realloc(seqs, cap * sizeof(*seqs));
			if (!seqs)
				die_errno("realloc");
		}
		seqs[(*n)++] = strtoul(line, NULL, 10);
	}
	fclose(f);
	return seqs;
}

static int check(enum kind kind, const char *path, const char *acks,
		 uint32_t cycle)
{
	int fd = open(path, O_RDONLY | (kind == RAW ? O_DIRECT : 0));
	size_t n, i, lost = 0;
	uint32_t *seqs = read_acks(acks, &n);
	void *buf;

	if (fd < 0 && errno == ENOENT && kind != RAW) {
		/* The file itself was lost: so was every record in it. */
		printf("acked %zu lost %zu\n", n, n);
		return 0;
	}
	if (fd < 0)
		die_errno(path);
	if (posix_memalign(&buf, 4096, SECTOR))
		die_errno("posix_memalign");
	for (i = 0; i < n; i++) {
		size_t len = kind == RAW ? SECTOR : sizeof(struct record);
		ssize_t got = pread(fd, buf, len, place(kind, seqs[i]));

		if (got < 0)
			die_errno("pread");
		if (got != (ssize_t)len || !record_ok(buf, kind, cycle, seqs[i])) {
			if (lost++ < 10)
				fprintf(stderr, "lost: record %u (%zd bytes read)\n",
					seqs[i], got);
		}
	}
	printf("acked %zu lost %zu\n", n, lost);
	return 0;
}

static enum kind parse_kind(const char *s)
{
	static const char *const names[] = { "raw", "append", "mapsync", "early" };
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(s, names[i]))
			return i;
	fprintf(stderr, "powerfail: unknown kind %s\n", s);
	exit(2);
}

int main(int argc, char **argv)
{
	enum kind kind;
	uint32_t cycle;
	int fd, acks;

	if (argc != 6 || (strcmp(argv[1], "run") && strcmp(argv[1], "check"))) {
		fprintf(stderr, "usage: powerfail run|check KIND PATH ACKS CYCLE\n");
		return 2;
	}
	kind = parse_kind(argv[2]);
	cycle = strtoul(argv[5], NULL, 10);
	if (!strcmp(argv[1], "check"))
		return check(kind, argv[3], argv[4], cycle);

	acks = open(argv[4], O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (acks < 0)
		die_errno(argv[4]);
	switch (kind) {
	case RAW:
		fd = open(argv[3], O_RDWR | O_DIRECT);
		break;
	case MAPSYNC:
		fd = open(argv[3], O_RDWR);
		break;
	default:
		fd = open(argv[3], O_WRONLY | O_CREAT | O_APPEND, 0644);
	}
	if (fd < 0)
		die_errno(argv[3]);
	switch (kind) {
	case RAW:
		run_raw(fd, acks, cycle, capacity(fd, kind));
		break;
	case MAPSYNC:
		run_mapsync(fd, acks, cycle, capacity(fd, kind));
		break;
	default:
		run_append(fd, acks, kind, cycle);
	}
	/* Full: wait for the kill like the others. */
	for (;;)
		pause();
}
