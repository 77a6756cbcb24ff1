// SPDX-License-Identifier: GPL-2.0
/*
 * nowait_io OP FLAGS DEVICE OFFSET LENGTH [BYTE]: one O_DIRECT preadv2()
 * (OP "read") or pwritev2() (OP "write", LENGTH bytes of BYTE, 0x5a by
 * default) at OFFSET of DEVICE, with the RWF_* flags FLAGS names: "n"
 * RWF_NOWAIT, "d" RWF_DSYNC, both, or "-" for none. Prints what the call
 * returned: "ok BYTES", or the name of its errno (EAGAIN, EOPNOTSUPP,
 * EIO, ...). Exits 0 once the call was made, whatever it returned; 1 if it
 * could not be made (bad arguments, the device would not open).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

static int usage(void)
{
	fprintf(stderr, "usage: nowait_io read|write n|d|nd|- DEVICE OFFSET LENGTH [BYTE]\n");
	return 1;
}

int main(int argc, char **argv)
{
	int write, flags = 0, fd, byte = 0x5a;
	struct iovec iov;
	long long off;
	size_t len;
	ssize_t ret;
	void *buf;
	char *p;

	if (argc != 6 && argc != 7)
		return usage();
	if (!strcmp(argv[1], "read"))
		write = 0;
	else if (!strcmp(argv[1], "write"))
		write = 1;
	else
		return usage();
	for (p = argv[2]; *p; p++) {
		if (*p == 'n')
			flags |= RWF_NOWAIT;
		else if (*p == 'd')
			flags |= RWF_DSYNC;
		else if (*p != '-')
			return usage();
	}
	off = strtoll(argv[4], NULL, 0);
	len = strtoul(argv[5], NULL, 0);
	if (argc == 7)
		byte = (int)strtol(argv[6], NULL, 0);
	if (off < 0 || !len || posix_memalign(&buf, 4096, len))
		return usage();
	memset(buf, byte, len);
	fd = open(argv[3], (write ? O_WRONLY : O_RDONLY) | O_DIRECT);
	if (fd < 0) {
		perror(argv[3]);
		return 1;
	}
	iov.iov_base = buf;
	iov.iov_len = len;
	if (write)
		ret = pwritev2(fd, &iov, 1, off, flags);
	else
		ret = preadv2(fd, &iov, 1, off, flags);
	if (ret < 0)
		printf("%s\n", strerrorname_np(errno));
	else
		printf("ok %zd\n", ret);
	close(fd);
	free(buf);
	return 0;
}
