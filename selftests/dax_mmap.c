// SPDX-License-Identifier: GPL-2.0
/*
 * dax_mmap: the DAX selftests' view of a file, through mmap(2) (whether a
 * file is DAX: statx_dax in lib.sh).
 *
 *   dax_mmap sync FILE           map FILE with MAP_SHARED_VALIDATE|MAP_SYNC:
 *                                print "MAP_SYNC ok", or the errno by name
 *                                ("mmap MAP_SYNC: EOPNOTSUPP (...)"), exit 1
 *   dax_mmap write FILE PATTERN  copy PATTERN's bytes to the start of FILE
 *                                through a MAP_SYNC mapping, then msync
 *   dax_mmap pmd FILE SIZE       map SIZE bytes at a 2 MiB aligned address,
 *                                write every page, print how much of it is
 *                                mapped by PMDs: "PMD-mapped: N kB" (from
 *                                PAGEMAP_SCAN), and smaps' "FilePmdMapped:
 *                                N kB" (always 0 for DAX, see below)
 *   dax_mmap pte FILE SIZE       the same, 4 KiB past a 2 MiB aligned
 *                                address: no PMD can map it
 *   dax_mmap faults FILE SIZE SECS [pte] [read|sync]
 *                                for SECS seconds, map SIZE bytes at a 2 MiB
 *                                aligned address (4 KiB past it with pte),
 *                                write every page (read it with read; with
 *                                sync, write it through a MAP_SHARED_VALIDATE
 *                                | MAP_SYNC mapping), unmap; print "faults N
 *                                bytes B usecs U PMD-mapped K kB" (N: page
 *                                faults taken, from getrusage; B: bytes
 *                                mapped in all; K: the first round's
 *                                PAGEMAP_SCAN huge kB). For benchmarks
 *   dax_mmap persist FILE SIZE SECS BYTES
 *                                map SIZE bytes of FILE with MAP_SYNC, write
 *                                every page once (the faults), then for SECS
 *                                seconds do what libpmem's pmem_persist()
 *                                asks of user space: store BYTES (64 to
 *                                4096, a multiple of 64) at the next
 *                                BYTES-aligned offset, 8 bytes a store,
 *                                write back each cache line (clwb, else
 *                                clflushopt, else clflush) and sfence; print
 *                                "persists N usecs U faults F flush INSN" (F:
 *                                page faults during the loop, 0 unless the
 *                                kernel took a page back). For benchmarks
 *   dax_mmap hold FILE SIZE      map, write every page, print "ready", then
 *                                sleep until killed; a SIGBUS (say, when
 *                                the filesystem revokes the mapping) is
 *                                printed as for poison below, and it goes
 *                                on sleeping: it does not race the kernel's
 *                                teardown with an exit of its own
 *   dax_mmap poison FILE OFFSET [GO]
 *                                map FILE with MAP_SYNC, read every page
 *                                (reads keep reflinked blocks shared), and
 *                                poison the page at OFFSET with
 *                                madvise(MADV_HWPOISON); with GO, print
 *                                "ready" first and wait for the file GO to
 *                                exist. Prints the SIGBUS that follows:
 *                                "SIGBUS BUS_MCEERR_AR offset N lsb L" (N:
 *                                si_addr from the mapping's start), or "no
 *                                SIGBUS" (exit 1)
 *   dax_mmap touch FILE OFFSET   map FILE with MAP_SYNC and read the page
 *                                at OFFSET (only that one): print the
 *                                SIGBUS it gets as above (say, on a page
 *                                the driver knows bad), or "no SIGBUS"
 *                                (exit 1)
 *   dax_mmap watch FILE OFFSET SECS
 *                                ask for early memory failure signals
 *                                (PR_MCE_KILL_EARLY), map and read FILE like
 *                                poison, print "ready", and wait up to SECS
 *                                for a SIGBUS, printed as above ("no SIGBUS",
 *                                exit 1, if none comes)
 *
 * SIZE takes a K, M or G suffix. Any failure is reported on stderr with
 * the errno's name, and the exit status is not 0. selftests/lib.sh's
 * build_helper builds it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "persist.h"

#ifndef MAP_SHARED_VALIDATE
#define MAP_SHARED_VALIDATE 0x03
#endif
#ifndef MAP_SYNC
#define MAP_SYNC 0x80000
#endif
#ifndef STATX_ATTR_DAX
#define STATX_ATTR_DAX 0x00200000
#endif

#define PMD_SIZE (2UL << 20)
#define PAGE 4096UL

static const char *prog = "dax_mmap";
static void *reserved;	/* map_aligned()'s last reservation */

static const char *errno_name(int e)
{
	switch (e) {
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case EINVAL: return "EINVAL";
	case ENODEV: return "ENODEV";
	case EACCES: return "EACCES";
	case ENXIO: return "ENXIO";
	case EIO: return "EIO";
	case ENOMEM: return "ENOMEM";
	case ENOSPC: return "ENOSPC";
	case EBUSY: return "EBUSY";
	case ENOENT: return "ENOENT";
	case EPERM: return "EPERM";
	case EROFS: return "EROFS";
	default: return "E?";
	}
}

static void __attribute__((noreturn)) die_errno(const char *what)
{
	int e = errno;

	fprintf(stderr, "%s: %s: %s (%s)\n", prog, what, errno_name(e),
		strerror(e));
	exit(1);
}

static void __attribute__((noreturn)) usage(void)
{
	fprintf(stderr, "usage: %s sync FILE | write FILE PATTERN |"
		" pmd|pte|hold FILE SIZE | faults FILE SIZE SECS [pte] [read|sync] |"
		" persist FILE SIZE SECS BYTES |"
		" poison FILE OFFSET [GO] | touch FILE OFFSET |"
		" watch FILE OFFSET SECS\n", prog);
	exit(2);
}

static size_t parse_size(const char *s)
{
	char *end;
	unsigned long long n = strtoull(s, &end, 0);

	switch (*end) {
	case 'G': n <<= 10; /* fall through */
	case 'M': n <<= 10; /* fall through */
	case 'K': n <<= 10; end++; break;
	case '\0': break;
	default: usage();
	}
	if (*end || n == 0 || n % PAGE)
		usage();
	return n;
}

static int open_file(const char *path)
{
	int fd = open(path, O_RDWR);

	if (fd < 0)
		die_errno(path);
	return fd;
}

static size_t file_size(int fd)
{
	struct stat st;

	if (fstat(fd, &st))
		die_errno("fstat");
	if (st.st_size == 0) {
		fprintf(stderr, "%s: empty file\n", prog);
		exit(1);
	}
	return st.st_size;
}

static void *map_sync(int fd, size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_SHARED_VALIDATE | MAP_SYNC, fd, 0);

	if (p == MAP_FAILED)
		die_errno("mmap MAP_SYNC");
	return p;
}

static int do_sync(const char *path)
{
	int fd = open_file(path);
	size_t len = file_size(fd);
	volatile char *p = map_sync(fd, len);

	p[0] = p[0];	/* one write fault through the MAP_SYNC mapping */
	puts("MAP_SYNC ok");
	return 0;
}

static int do_write(const char *path, const char *pattern)
{
	int fd = open_file(path), pfd = open(pattern, O_RDONLY);
	size_t len, done = 0;
	char *p;

	if (pfd < 0)
		die_errno(pattern);
	len = file_size(pfd);
	if (file_size(fd) < len) {
		fprintf(stderr, "%s: %s is shorter than %s\n", prog, path, pattern);
		return 1;
	}
	p = map_sync(fd, len);
	while (done < len) {
		ssize_t n = read(pfd, p + done, len - done);

		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			die_errno("read pattern");
		}
		done += n;
	}
	if (msync(p, len, MS_SYNC))
		die_errno("msync");
	if (munmap(p, len))
		die_errno("munmap");
	printf("wrote %zu bytes through MAP_SYNC\n", len);
	return 0;
}

/*
 * A shared mapping of the file's first LEN bytes at MISALIGN bytes past a
 * 2 MiB aligned address, inside a reservation of LEN + 2 MiB + MISALIGN
 * bytes that unmap_aligned() gives back.
 */
static char *map_aligned_flags(int fd, size_t len, size_t misalign, int flags)
{
	char *area, *p;
	uintptr_t a;

	area = mmap(NULL, len + PMD_SIZE + misalign, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (area == MAP_FAILED)
		die_errno("mmap reserve");
	a = (((uintptr_t)area + PMD_SIZE - 1) & ~(PMD_SIZE - 1)) + misalign;
	p = mmap((void *)a, len, PROT_READ | PROT_WRITE, flags | MAP_FIXED, fd, 0);
	if (p == MAP_FAILED)
		die_errno(flags & MAP_SYNC ? "mmap MAP_SYNC" : "mmap");
	reserved = area;
	return p;
}

static char *map_aligned(int fd, size_t len, size_t misalign)
{
	return map_aligned_flags(fd, len, misalign, MAP_SHARED);
}

/* Unmap the last map_aligned() mapping and its reservation. */
static void unmap_aligned(size_t len, size_t misalign)
{
	if (munmap(reserved, len + PMD_SIZE + misalign))
		die_errno("munmap");
}

static void touch(volatile char *p, size_t len)
{
	size_t off;

	for (off = 0; off < len; off += PAGE)
		p[off] = (char)(off >> 12);
}

/* One read of every page: a read fault each. */
static char read_pages(volatile char *p, size_t len)
{
	size_t off;
	char sum = 0;

	for (off = 0; off < len; off += PAGE)
		sum += p[off];
	return sum;
}

/* include/uapi/linux/fs.h of Linux 6.7 and later; not in older headers. */
#ifndef PAGEMAP_SCAN
#include <linux/ioctl.h>
#include <linux/types.h>
struct page_region {
	__u64 start;
	__u64 end;
	__u64 categories;
};

struct pm_scan_arg {
	__u64 size;
	__u64 flags;
	__u64 start;
	__u64 end;
	__u64 walk_end;
	__u64 vec;
	__u64 vec_len;
	__u64 max_pages;
	__u64 category_inverted;
	__u64 category_mask;
	__u64 category_anyof_mask;
	__u64 return_mask;
};

#define PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)
#define PAGE_IS_HUGE (1 << 6)
#endif

/*
 * How much of [ADDR, ADDR + LEN) is mapped by huge (PMD) entries, in kB:
 * PAGEMAP_SCAN's PAGE_IS_HUGE. smaps' FilePmdMapped cannot tell, it leaves
 * ZONE_DEVICE folios, and so all of fsdax, out.
 */
static long huge_mapped_kb(char *addr, size_t len)
{
	struct page_region vec[64];
	struct pm_scan_arg arg = {
		.size = sizeof(arg),
		.start = (uintptr_t)addr,
		.end = (uintptr_t)addr + len,
		.vec = (uintptr_t)vec,
		.vec_len = 64,
		.category_mask = PAGE_IS_HUGE,
		.return_mask = PAGE_IS_HUGE,
	};
	int fd = open("/proc/self/pagemap", O_RDONLY);
	long n, i, bytes = 0;

	if (fd < 0)
		die_errno("/proc/self/pagemap");
	for (;;) {
		n = ioctl(fd, PAGEMAP_SCAN, &arg);
		if (n < 0)
			die_errno("PAGEMAP_SCAN");
		for (i = 0; i < n; i++)
			bytes += vec[i].end - vec[i].start;
		if (arg.walk_end >= arg.end)
			break;
		arg.start = arg.walk_end;
	}
	close(fd);
	return bytes >> 10;
}

/* FilePmdMapped of the mapping that starts at ADDR, in kB; -1 if none. */
static long pmd_mapped_kb(void *addr)
{
	char line[256], want[32];
	FILE *f = fopen("/proc/self/smaps", "r");
	int in = 0;
	long kb = -1;

	if (!f)
		die_errno("/proc/self/smaps");
	snprintf(want, sizeof(want), "%lx-", (unsigned long)addr);
	/* A mapping's header line starts with "start-end "; its fields with "Name:". */
	while (fgets(line, sizeof(line), f)) {
		size_t tok = strcspn(line, " \t");

		if (tok && line[tok - 1] != ':')
			in = !strncmp(line, want, strlen(want));
		else if (in && sscanf(line, "FilePmdMapped: %ld kB", &kb) == 1)
			break;
	}
	fclose(f);
	return kb;
}

static int do_pmd(const char *path, size_t len, size_t misalign)
{
	int fd = open_file(path);
	char *p;
	long kb;

	if (file_size(fd) < len) {
		fprintf(stderr, "%s: %s is shorter than %zu bytes\n", prog, path, len);
		return 1;
	}
	p = map_aligned(fd, len, misalign);
	touch(p, len);
	kb = pmd_mapped_kb(p);
	if (kb < 0) {
		fprintf(stderr, "%s: no FilePmdMapped for %p in smaps\n", prog, p);
		return 1;
	}
	printf("FilePmdMapped: %ld kB\n", kb);
	printf("PMD-mapped: %ld kB\n", huge_mapped_kb(p, len));
	return 0;
}

static long long now_usecs(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static long minor_faults(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru))
		die_errno("getrusage");
	return ru.ru_minflt;
}

enum fault_kind { WRITE_FAULTS, READ_FAULTS, SYNC_FAULTS };

/*
 * Map, fault in and unmap LEN bytes of the file, round after round: write
 * faults, read faults, or write faults of a MAP_SYNC mapping.
 */
static int do_faults(const char *path, size_t len, unsigned int secs,
		     size_t misalign, enum fault_kind kind)
{
	int flags = kind == SYNC_FAULTS ? MAP_SHARED_VALIDATE | MAP_SYNC : MAP_SHARED;
	volatile char sink;
	int fd = open_file(path);
	long long start, end, bytes = 0;
	long faults, huge_kb = -1;
	char *p;

	if (file_size(fd) < len) {
		fprintf(stderr, "%s: %s is shorter than %zu bytes\n", prog, path, len);
		return 1;
	}
	faults = minor_faults();
	start = now_usecs();
	end = start + secs * 1000000LL;
	do {
		p = map_aligned_flags(fd, len, misalign, flags);
		if (kind == READ_FAULTS)
			sink = read_pages(p, len);
		else
			touch(p, len);
		if (huge_kb < 0)
			huge_kb = huge_mapped_kb(p, len);
		unmap_aligned(len, misalign);
		bytes += len;
	} while (now_usecs() < end);
	(void)sink;
	printf("faults %ld bytes %lld usecs %lld PMD-mapped %ld kB\n",
	       minor_faults() - faults, bytes, now_usecs() - start, huge_kb);
	return 0;
}

/*
 * libpmem's pmem_persist() shape on a MAP_SYNC mapping: BYTES stored at
 * the next BYTES-aligned offset, each cache line written back, an sfence;
 * the rate of that for SECS seconds, the mapping faulted in beforehand.
 */
static int do_persist(const char *path, size_t len, unsigned int secs,
		      size_t bytes)
{
	int fd = open_file(path);
	long long start, end, n = 0;
	long faults;
	size_t off = 0, i;
	char *p;

	if (bytes < CACHELINE || bytes > PAGE || bytes % CACHELINE)
		usage();
	if (file_size(fd) < len) {
		fprintf(stderr, "%s: %s is shorter than %zu bytes\n", prog, path, len);
		return 1;
	}
	pick_flush();
	p = map_sync(fd, len);
	touch(p, len);
	faults = minor_faults();
	start = now_usecs();
	end = start + secs * 1000000LL;
	do {
		/* 64 of them between two looks at the clock. */
		for (i = 0; i < 64; i++) {
			volatile uint64_t *q = (volatile uint64_t *)(p + off);
			size_t w;

			for (w = 0; w < bytes / 8; w++)
				q[w] = n + w;
			persist(p + off, bytes);
			off = off + bytes < len ? off + bytes : 0;
			n++;
		}
	} while (now_usecs() < end);
	printf("persists %lld usecs %lld faults %ld flush %s\n", n,
	       now_usecs() - start, minor_faults() - faults, flush_name());
	return 0;
}


/* The last SIGBUS: its code and address, and where to go on from it. */
static sigjmp_buf sigbus_jmp;
static volatile sig_atomic_t sigbus_code;
static void *volatile sigbus_addr;
static volatile short sigbus_lsb;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	sigbus_code = si->si_code;
	sigbus_addr = si->si_addr;
	sigbus_lsb = si->si_addr_lsb;
	siglongjmp(sigbus_jmp, 1);
}

static void catch_sigbus(void)
{
	struct sigaction sa = { .sa_sigaction = on_sigbus, .sa_flags = SA_SIGINFO };

	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, NULL))
		die_errno("sigaction");
}

static int report_sigbus(const char *base)
{
	const char *code = sigbus_code == BUS_MCEERR_AR ? "BUS_MCEERR_AR" :
			   sigbus_code == BUS_MCEERR_AO ? "BUS_MCEERR_AO" : "other";

	printf("SIGBUS %s offset %ld lsb %d\n", code,
	       (long)((const char *)sigbus_addr - base), sigbus_lsb);
	return 0;
}

/* FILE mapped with MAP_SYNC, every page read; OFFSET must be inside. */
static char *map_read(const char *path, size_t offset, size_t *len)
{
	int fd = open_file(path);
	volatile char *p;
	size_t off;

	*len = file_size(fd);
	if (offset % PAGE || offset >= *len)
		usage();
	p = map_sync(fd, *len);
	for (off = 0; off < *len; off += PAGE)
		(void)p[off];
	return (char *)p;
}

static void wait_for(const char *path)
{
	puts("ready");
	fflush(stdout);
	while (access(path, F_OK))
		usleep(10000);
}

static int do_poison(const char *path, size_t offset, const char *go)
{
	size_t len;
	char *p = map_read(path, offset, &len);

	if (go)
		wait_for(go);
	catch_sigbus();
	if (sigsetjmp(sigbus_jmp, 1))
		return report_sigbus(p);
	if (madvise(p + offset, PAGE, MADV_HWPOISON))
		printf("madvise MADV_HWPOISON: %s (%s)\n", errno_name(errno),
		       strerror(errno));
	puts("no SIGBUS");
	return 1;
}

static int do_touch(const char *path, size_t offset)
{
	int fd = open_file(path);
	size_t len = file_size(fd);
	volatile char *p;

	if (offset % PAGE || offset >= len)
		usage();
	p = map_sync(fd, len);
	catch_sigbus();
	if (sigsetjmp(sigbus_jmp, 1))
		return report_sigbus((const char *)p);
	(void)p[offset];
	puts("no SIGBUS");
	return 1;
}

static int do_hold(const char *path, size_t len)
{
	int fd = open_file(path);
	char *p;

	if (file_size(fd) < len) {
		fprintf(stderr, "%s: %s is shorter than %zu bytes\n", prog, path, len);
		return 1;
	}
	p = map_aligned(fd, len, 0);
	touch(p, len);
	catch_sigbus();
	/*
	 * Not restoring the signal mask on the jump keeps SIGBUS blocked
	 * after the first one, as in its handler: a filesystem sends one
	 * per page of a lost range, and a second jump in the middle of the
	 * first report would garble it.
	 */
	if (sigsetjmp(sigbus_jmp, 0)) {
		report_sigbus(p);
		fflush(stdout);
	} else {
		puts("ready");
		fflush(stdout);
	}
	for (;;)
		pause();
}

static int do_watch(const char *path, size_t offset, unsigned int secs)
{
	size_t len;
	char *p;

	if (prctl(PR_MCE_KILL, PR_MCE_KILL_SET, PR_MCE_KILL_EARLY, 0, 0))
		die_errno("prctl PR_MCE_KILL_EARLY");
	p = map_read(path, offset, &len);
	catch_sigbus();
	if (sigsetjmp(sigbus_jmp, 1))
		return report_sigbus(p);
	puts("ready");
	fflush(stdout);
	sleep(secs);
	puts("no SIGBUS");
	return 1;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "sync"))
		return do_sync(argv[2]);
	if (argc == 4 && !strcmp(argv[1], "write"))
		return do_write(argv[2], argv[3]);
	if (argc == 4 && !strcmp(argv[1], "pmd"))
		return do_pmd(argv[2], parse_size(argv[3]), 0);
	if (argc == 4 && !strcmp(argv[1], "pte"))
		return do_pmd(argv[2], parse_size(argv[3]), PAGE);
	if (argc >= 5 && argc <= 7 && !strcmp(argv[1], "faults")) {
		size_t misalign = 0;
		enum fault_kind kind = WRITE_FAULTS;
		int i;

		for (i = 5; i < argc; i++) {
			if (!strcmp(argv[i], "pte") && !misalign)
				misalign = PAGE;
			else if (!strcmp(argv[i], "read") && kind == WRITE_FAULTS)
				kind = READ_FAULTS;
			else if (!strcmp(argv[i], "sync") && kind == WRITE_FAULTS)
				kind = SYNC_FAULTS;
			else
				usage();
		}
		return do_faults(argv[2], parse_size(argv[3]), atoi(argv[4]),
				 misalign, kind);
	}
	if (argc == 6 && !strcmp(argv[1], "persist"))
		return do_persist(argv[2], parse_size(argv[3]), atoi(argv[4]),
				  strtoul(argv[5], NULL, 0));
	if (argc == 4 && !strcmp(argv[1], "hold"))
		return do_hold(argv[2], parse_size(argv[3]));
	if ((argc == 4 || argc == 5) && !strcmp(argv[1], "poison"))
		return do_poison(argv[2], strtoul(argv[3], NULL, 0), argv[4]);
	if (argc == 4 && !strcmp(argv[1], "touch"))
		return do_touch(argv[2], strtoul(argv[3], NULL, 0));
	if (argc == 5 && !strcmp(argv[1], "watch"))
		return do_watch(argv[2], strtoul(argv[3], NULL, 0), atoi(argv[4]));
	usage();
}
