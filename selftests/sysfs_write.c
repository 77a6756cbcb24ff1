// SPDX-License-Identifier: GPL-2.0
/*
 * sysfs_write FILE: write standard input to FILE with exactly one write(2)
 * (no retry of a short write, a zero-byte write if the input is empty), so
 * that a test sees what the kernel answers to those bytes. Prints
 * "wrote N of M" and exits 0 if the write returned N >= 0; else prints
 * "sysfs_write: write FILE: ERROR" (or "open FILE: ERROR", with strerror's
 * text) and exits 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static char buf[1 << 16];

int main(int argc, char **argv)
{
	size_t len = 0;
	ssize_t n;
	int fd;

	if (argc != 2) {
		fprintf(stderr, "usage: sysfs_write FILE <BYTES\n");
		return 2;
	}
	while ((n = read(0, buf + len, sizeof(buf) - len)) > 0)
		len += n;
	if (n < 0 || len == sizeof(buf)) {
		fprintf(stderr, "sysfs_write: cannot read the input (64 KiB at most)\n");
		return 2;
	}
	fd = open(argv[1], O_WRONLY);
	if (fd < 0) {
		fprintf(stderr, "sysfs_write: open %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	n = write(fd, buf, len);
	if (n < 0) {
		fprintf(stderr, "sysfs_write: write %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	printf("wrote %zd of %zu\n", n, len);
	return 0;
}
