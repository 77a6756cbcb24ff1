// SPDX-License-Identifier: GPL-2.0
/*
 * hostcrash: an LD_PRELOAD library for QEMU that keeps, for each watched
 * backing file, a copy of the file as a host crash would leave it: as of
 * the host's last fsync (or fdatasync) of it. tools/vm.sh --host-crash
 * builds it and sets its environment:
 *
 *   HOSTCRASH_FILE_N  a watched file (N = 0, 1, ... with no gap)
 *   HOSTCRASH_SNAP_N  where its copy goes (vm.sh made the first copy,
 *                     the file as the boot found it)
 *   HOSTCRASH_LOG     "# pid PID, N files" once loaded, then one line
 *                     per fsync of a watched file:
 *                     "N CALL STATUS BYTES-COPIED MICROSECONDS"
 *
 * QEMU's guest memory is a MAP_SHARED mapping of the file, so the file's
 * page cache always holds the guest's latest stores; a host that crashes
 * keeps only what an fsync wrote back. virtio-pmem's flush request
 * (hw/virtio/virtio-pmem.c) is a thread-pool worker calling fsync() on the
 * memory backend's fd; the guest hears of it only when that returns.
 *
 * For an fsync of a watched file the copy is read BEFORE the real call
 * (every byte in it was stored before the fsync began, so the fsync made
 * it durable), into a temporary file that replaces the copy by rename()
 * once the real call succeeded: a SIGKILL at any moment leaves a complete
 * copy, and the copy that the guest's acknowledged flush asked for is in
 * place before the guest hears of it. One lock per file keeps the copies
 * in the order of the calls. Anything going wrong here aborts QEMU with a
 * message: a model that silently stops copying would pass anything.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_FILES 16
#define CHUNK (1u << 20)
#define BLOCK 4096u

/* A watched file: its identity, its copy, and the lock over both and buf. */
struct watched {
	dev_t dev;
	ino_t ino;
	const char *snap;
	char *tmp;
	unsigned char *buf;	/* CHUNK bytes, for copying */
	pthread_mutex_t lock;
};

static struct watched files[MAX_FILES];
static int nfiles;
static int log_fd = -1;
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);

static void __attribute__((noreturn, format(printf, 1, 2))) fatal(const char *fmt, ...)
{
	va_list ap;

	fputs("hostcrash: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

static const char *env_n(const char *what, int n)
{
	char name[64];

	snprintf(name, sizeof(name), "HOSTCRASH_%s_%d", what, n);
	return getenv(name);
}

static void __attribute__((constructor)) hostcrash_init(void)
{
	const char *path, *snap, *log;
	struct stat st;

	real_fsync = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	real_fdatasync = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
	if (!real_fsync || !real_fdatasync)
		fatal("no fsync or fdatasync to wrap");
	for (nfiles = 0; (path = env_n("FILE", nfiles)); nfiles++) {
		struct watched *w = &files[nfiles];

		snap = env_n("SNAP", nfiles);
		if (nfiles == MAX_FILES || !snap)
			fatal("HOSTCRASH_FILE_%d: too many files, or no HOSTCRASH_SNAP_%d",
			      nfiles, nfiles);
		if (stat(path, &st))
			fatal("%s: %s", path, strerror(errno));
		w->dev = st.st_dev;
		w->ino = st.st_ino;
		w->snap = snap;
		if (asprintf(&w->tmp, "%s.tmp", snap) < 0 || !(w->buf = malloc(CHUNK)))
			fatal("out of memory");
		pthread_mutex_init(&w->lock, NULL);
	}
	if (!nfiles)
		fatal("no HOSTCRASH_FILE_0: nothing to watch");
	log = getenv("HOSTCRASH_LOG");
	if (!log)
		fatal("no HOSTCRASH_LOG");
	log_fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (log_fd < 0 || dprintf(log_fd, "# pid %d, %d files\n", getpid(), nfiles) < 0)
		fatal("%s: %s", log, strerror(errno));
}

static struct watched *watched_fd(int fd)
{
	struct stat st;
	int i;

	if (fstat(fd, &st))
		return NULL;
	for (i = 0; i < nfiles; i++)
		if (files[i].dev == st.st_dev && files[i].ino == st.st_ino)
			return &files[i];
	return NULL;
}

static int all_zero(const unsigned char *p, size_t len)
{
	return !p[0] && !memcmp(p, p + 1, len - 1);
}

/* FD's whole content into W's temporary file, sparse; bytes written. */
static uint64_t copy_out(struct watched *w, int fd)
{
	unsigned char *buf = w->buf;
	uint64_t written = 0;
	struct stat st;
	off_t off;
	int out;

	if (fstat(fd, &st))
		fatal("fstat: %s", strerror(errno));
	out = open(w->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0)
		fatal("%s: %s", w->tmp, strerror(errno));
	for (off = 0; off < st.st_size;) {
		ssize_t n = pread(fd, buf, CHUNK, off), i;

		if (n <= 0)
			fatal("reading the watched file at %lld: %s", (long long)off,
			      n ? strerror(errno) : "end of file");
		for (i = 0; i < n; i += BLOCK) {
			size_t len = (size_t)(n - i) < BLOCK ? (size_t)(n - i) : BLOCK;

			if (all_zero(buf + i, len))
				continue;
			if (pwrite(out, buf + i, len, off + i) != (ssize_t)len)
				fatal("%s: %s", w->tmp, strerror(errno));
			written += len;
		}
		off += n;
	}
	if (ftruncate(out, st.st_size) || close(out))
		fatal("%s: %s", w->tmp, strerror(errno));
	return written;
}

static int synced(int fd, int (*real)(int), const char *call)
{
	struct watched *w = watched_fd(fd);
	struct timespec t0, t1;
	uint64_t bytes;
	int ret, err;
	char line[128];

	if (!w)
		return real(fd);
	pthread_mutex_lock(&w->lock);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	bytes = copy_out(w, fd);
	ret = real(fd);
	err = errno;
	if (!ret && rename(w->tmp, w->snap))
		fatal("rename to %s: %s", w->snap, strerror(errno));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	snprintf(line, sizeof(line), "%d %s %d %llu %lld\n", (int)(w - files), call,
		 ret, (unsigned long long)bytes,
		 (long long)((t1.tv_sec - t0.tv_sec) * 1000000 +
			     (t1.tv_nsec - t0.tv_nsec) / 1000));
	if (write(log_fd, line, strlen(line)) != (ssize_t)strlen(line))
		fatal("writing the log: %s", strerror(errno));
	pthread_mutex_unlock(&w->lock);
	errno = err;
	return ret;
}

int fsync(int fd)
{
	return synced(fd, real_fsync, "fsync");
}

int fdatasync(int fd)
{
	return synced(fd, real_fdatasync, "fdatasync");
}
