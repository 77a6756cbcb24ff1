// SPDX-License-Identifier: GPL-2.0
/*
 * torn: the guest side of selftests/rpmem_btt_powerfail.sh. It overwrites
 * a disk's 4 KiB sectors with distinct patterns until it is killed, and
 * after the next boot counts the sectors that hold no complete pattern.
 *
 *   torn write DISK CHUNK_KIB READY CYCLE PROGRESS
 *   torn check DISK [CYCLE PROGRESS]
 *   torn forge PROGRESS OUT
 *
 * "write" goes over the whole disk again and again (round 1, 2, ... of
 * CYCLE: the word's round is CYCLE << 16 | round), in O_DIRECT writes of
 * CHUNK_KIB, each 4 KiB sector filled with 256 copies of one 16-byte word:
 * magic, sector number, round, and a check word of those. After each
 * write returned it records in PROGRESS (20 bytes at offset 0, one pwrite:
 * on the 9p run directory it is in the host's file when it returns) the
 * round and the first sector not yet acknowledged in it: every sector
 * before it is acknowledged in that round, every one after it in the
 * round before. Once its first write returned it writes "acknowledged" to
 * the file READY, and runs until killed.
 *
 * "check" reads every sector and prints "CHECKED TORN STALE": a sector is
 * whole if it is all zeroes (never written) or 256 copies of one valid
 * word for that sector; else it is torn (part of one write and part of
 * another). With CYCLE and PROGRESS, a whole sector is also stale if it
 * holds less than the round last acknowledged for it in CYCLE (zeroes, or
 * an older round: a write that was acknowledged and then rolled back), or
 * more than one round past the last acknowledged. The first few torn and
 * stale sectors are printed after the counts.
 *
 * "forge" writes to OUT the progress of PROGRESS one whole round further:
 * an acknowledgement of writes that never happened, the control that shows
 * "check" finds stale sectors.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/fs.h>
#include <unistd.h>

#define SECTOR 4096u
#define MAGIC 0x54524e53u	/* "TRNS" */
#define PROGRESS_MAGIC 0x50524f47u	/* "PROG" */

struct word {
	uint32_t magic, sector, round, check;
};

/*
 * Sectors before NEXT are acknowledged in ROUND, the others before END in
 * ROUND - 1; those from END on are never written (the rounds cover whole
 * chunks).
 */
struct progress {
	uint32_t magic, round, next, end, check;
};

static void __attribute__((noreturn)) die(const char *what)
{
	fprintf(stderr, "torn: %s: %s\n", what, strerror(errno));
	exit(1);
}

static uint32_t check_of(uint32_t sector, uint32_t round)
{
	return ~(sector * 2654435761u ^ round);
}

static void fill(unsigned char *p, uint32_t sector, uint32_t round)
{
	struct word w = { MAGIC, sector, round, check_of(sector, round) };

	for (unsigned int i = 0; i < SECTOR; i += sizeof(w))
		memcpy(p + i, &w, sizeof(w));
}

/*
 * Whether the sector at p is all zeroes (*round 0) or one valid word,
 * repeated (*round its round).
 */
static int whole(const unsigned char *p, uint32_t sector, uint32_t *round)
{
	struct word w;
	static const unsigned char zero[sizeof(w)];

	memcpy(&w, p, sizeof(w));
	for (unsigned int i = sizeof(w); i < SECTOR; i += sizeof(w))
		if (memcmp(p + i, p, sizeof(w)))
			return 0;
	*round = 0;
	if (!memcmp(p, zero, sizeof(w)))
		return 1;
	*round = w.round;
	return w.magic == MAGIC && w.sector == sector &&
	       w.check == check_of(sector, w.round);
}

static uint32_t progress_check(const struct progress *p)
{
	return ~(p->round * 2654435761u ^ p->next ^ p->end * 40503u ^ PROGRESS_MAGIC);
}

static uint64_t disk_sectors(int fd)
{
	uint64_t bytes;

	if (ioctl(fd, BLKGETSIZE64, &bytes))
		die("BLKGETSIZE64");
	return bytes / SECTOR;
}

static void *buffer(size_t len)
{
	void *p;

	errno = posix_memalign(&p, SECTOR, len);
	if (errno)
		die("posix_memalign");
	return p;
}

static int do_write(const char *disk, unsigned long chunk_kib, const char *ready,
		    uint32_t cycle, const char *progress)
{
	size_t chunk = chunk_kib * 1024, per = chunk / SECTOR;
	int fd = open(disk, O_WRONLY | O_DIRECT);
	int pfd = open(progress, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	unsigned char *buf = buffer(chunk);
	uint64_t n, s;
	int told = 0;

	if (fd < 0)
		die(disk);
	if (pfd < 0)
		die(progress);
	if (!per)
		die("chunk below 4 KiB");
	if (!cycle || cycle >= 1u << 15)
		die("cycle not in 1..32767");
	n = disk_sectors(fd) / per * per;
	for (uint32_t round = cycle << 16 | 1;; round++) {
		if ((round & 0xffff) == 0)
			die("more than 65535 rounds");
		for (s = 0; s < n; s += per) {
			struct progress p = {
				.magic = PROGRESS_MAGIC, .round = round, .next = s + per,
				.end = n,
			};

			for (size_t i = 0; i < per; i++)
				fill(buf + i * SECTOR, s + i, round);
			if (pwrite(fd, buf, chunk, s * SECTOR) != (ssize_t)chunk)
				die("pwrite");
			p.check = progress_check(&p);
			if (pwrite(pfd, &p, sizeof(p), 0) != sizeof(p))
				die(progress);
			if (!told) {
				int r = open(ready, O_WRONLY | O_CREAT | O_TRUNC, 0644);

				if (r < 0 || dprintf(r, "acknowledged\n") < 0)
					die(ready);
				close(r);
				told = 1;
			}
		}
	}
}

/* The acknowledged progress of CYCLE in PATH (round 0: nothing yet). */
static struct progress read_progress(const char *path, uint32_t cycle)
{
	struct progress p = { 0 };
	int fd = open(path, O_RDONLY);
	ssize_t got;

	if (fd < 0 && errno != ENOENT)
		die(path);
	got = fd < 0 ? 0 : pread(fd, &p, sizeof(p), 0);
	if (got < 0)
		die(path);
	if (got == 0)
		return (struct progress){ 0 };
	if (got != sizeof(p) || p.magic != PROGRESS_MAGIC ||
	    p.check != progress_check(&p) || p.round >> 16 != cycle) {
		fprintf(stderr, "torn: %s: not a progress record of cycle %u\n",
			path, cycle);
		exit(1);
	}
	return p;
}

static int do_forge(const char *path, const char *out)
{
	struct progress p;
	int fd = open(path, O_RDONLY);

	if (fd < 0 || pread(fd, &p, sizeof(p), 0) != sizeof(p))
		die(path);
	close(fd);
	p.round++;
	p.check = progress_check(&p);
	fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || pwrite(fd, &p, sizeof(p), 0) != sizeof(p))
		die(out);
	return close(fd) ? 1 : 0;
}

/* Append sector S to the list L (at most a few). */
static void note(char *l, size_t len, uint64_t *count, uint64_t s)
{
	size_t at = strlen(l);

	if ((*count)++ < 5)
		snprintf(l + at, len - at, " %llu", (unsigned long long)s);
}

static int do_check(const char *disk, uint32_t cycle, const char *progress)
{
	int fd = open(disk, O_RDONLY | O_DIRECT);
	size_t chunk = 256 * SECTOR;
	unsigned char *buf = buffer(chunk);
	uint64_t n, s, torn = 0, stale = 0;
	char first[256] = "", stale_first[256] = "";
	struct progress p = { 0 };

	if (fd < 0)
		die(disk);
	if (progress)
		p = read_progress(progress, cycle);
	n = disk_sectors(fd);
	for (s = 0; s < n; s += chunk / SECTOR) {
		size_t len = (n - s < chunk / SECTOR ? n - s : chunk / SECTOR) * SECTOR;

		if (pread(fd, buf, len, s * SECTOR) != (ssize_t)len)
			die("pread");
		for (size_t i = 0; i < len / SECTOR; i++) {
			uint32_t round, min = 0;

			if (!whole(buf + i * SECTOR, s + i, &round)) {
				note(first, sizeof(first), &torn, s + i);
				continue;
			}
			if (p.round && s + i < p.end)
				min = s + i < p.next ? p.round : p.round - 1;
			if ((min & 0xffff) &&
			    (round < min || round > p.round + 1))
				note(stale_first, sizeof(stale_first), &stale, s + i);
		}
	}
	printf("%llu %llu %llu\n", (unsigned long long)n,
	       (unsigned long long)torn, (unsigned long long)stale);
	if (torn)
		printf("torn sectors:%s\n", first);
	if (stale)
		printf("stale sectors (round %u, next %u):%s\n", p.round, p.next,
		       stale_first);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 7 && !strcmp(argv[1], "write"))
		return do_write(argv[2], strtoul(argv[3], NULL, 10), argv[4],
				strtoul(argv[5], NULL, 10), argv[6]);
	if (argc == 3 && !strcmp(argv[1], "check"))
		return do_check(argv[2], 0, NULL);
	if (argc == 5 && !strcmp(argv[1], "check"))
		return do_check(argv[2], strtoul(argv[3], NULL, 10), argv[4]);
	if (argc == 4 && !strcmp(argv[1], "forge"))
		return do_forge(argv[2], argv[3]);
	fprintf(stderr, "usage: torn write DISK CHUNK_KIB READY CYCLE PROGRESS | "
		"torn check DISK [CYCLE PROGRESS] | torn forge PROGRESS OUT\n");
	return 2;
}
