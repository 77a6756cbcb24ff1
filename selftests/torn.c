// SPDX-License-Identifier: GPL-2.0
/*
 * torn: the guest side of selftests/rpmem_btt_powerfail.sh. It overwrites
 * a disk's 4 KiB sectors with distinct patterns until it is killed, and
 * after the next boot counts the sectors that hold no complete pattern.
 *
 *   torn write DISK CHUNK_KIB READY
 *   torn check DISK
 *
 * "write" goes over the whole disk again and again (round 1, 2, ...), in
 * O_DIRECT writes of CHUNK_KIB, each 4 KiB sector filled with 256 copies
 * of one 16-byte word: magic, sector number, round, and a check word of
 * those. Once its first write returned it writes "acknowledged" to the
 * file READY, and runs until killed.
 *
 * "check" reads every sector and prints "CHECKED TORN": a sector is whole
 * if it is all zeroes (never written) or 256 copies of one valid word for
 * that sector; else it is torn (part of one write and part of another),
 * and the first few torn sectors are printed after the counts.
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

struct word {
	uint32_t magic, sector, round, check;
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

/* Whether the sector at p is all zeroes or one valid word, repeated. */
static int whole(const unsigned char *p, uint32_t sector)
{
	struct word w;
	static const unsigned char zero[sizeof(w)];

	memcpy(&w, p, sizeof(w));
	for (unsigned int i = sizeof(w); i < SECTOR; i += sizeof(w))
		if (memcmp(p + i, p, sizeof(w)))
			return 0;
	if (!memcmp(p, zero, sizeof(w)))
		return 1;
	return w.magic == MAGIC && w.sector == sector &&
	       w.check == check_of(sector, w.round);
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

static int do_write(const char *disk, unsigned long chunk_kib, const char *ready)
{
	size_t chunk = chunk_kib * 1024, per = chunk / SECTOR;
	int fd = open(disk, O_WRONLY | O_DIRECT);
	unsigned char *buf = buffer(chunk);
	uint64_t n, s;
	int told = 0;

	if (fd < 0)
		die(disk);
	if (!per)
		die("chunk below 4 KiB");
	n = disk_sectors(fd) / per * per;
	for (uint32_t round = 1;; round++) {
		for (s = 0; s < n; s += per) {
			for (size_t i = 0; i < per; i++)
				fill(buf + i * SECTOR, s + i, round);
			if (pwrite(fd, buf, chunk, s * SECTOR) != (ssize_t)chunk)
				die("pwrite");
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

static int do_check(const char *disk)
{
	int fd = open(disk, O_RDONLY | O_DIRECT);
	size_t chunk = 256 * SECTOR;
	unsigned char *buf = buffer(chunk);
	uint64_t n, s, torn = 0;
	char first[256] = "";

	if (fd < 0)
		die(disk);
	n = disk_sectors(fd);
	for (s = 0; s < n; s += chunk / SECTOR) {
		size_t len = (n - s < chunk / SECTOR ? n - s : chunk / SECTOR) * SECTOR;

		if (pread(fd, buf, len, s * SECTOR) != (ssize_t)len)
			die("pread");
		for (size_t i = 0; i < len / SECTOR; i++) {
			if (whole(buf + i * SECTOR, s + i))
				continue;
			if (torn++ < 5) {
				size_t at = strlen(first);

				snprintf(first + at, sizeof(first) - at, " %llu",
					 (unsigned long long)(s + i));
			}
		}
	}
	printf("%llu %llu\n", (unsigned long long)n, (unsigned long long)torn);
	if (torn)
		printf("torn sectors:%s\n", first);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "write"))
		return do_write(argv[2], strtoul(argv[3], NULL, 10), argv[4]);
	if (argc == 3 && !strcmp(argv[1], "check"))
		return do_check(argv[2]);
	fprintf(stderr, "usage: torn write DISK CHUNK_KIB READY | torn check DISK\n");
	return 2;
}
