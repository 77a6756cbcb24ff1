// SPDX-License-Identifier: GPL-2.0
/*
 * insn_mark: ends a window of tools/bench/insn_split.c, the QEMU plugin of
 * tools/bench.sh --split, by executing its marker, a 7-byte NOP. Without
 * the plugin it does nothing.
 *
 * insn_mark FILE TEXT: opens FILE for writing, ends a window, writes TEXT
 * to it in one write(2) and ends the next window, so that the window in
 * between holds that write (a sysfs bind or unbind, say) and no exec, open
 * or exit. Exits 1 if the open or the write fails, after both marks.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static inline void mark(void)
{
	__asm__ volatile(".byte 0x0f, 0x1f, 0x80, 0x53, 0x50, 0x4c, 0x54" ::: "memory");
}

int main(int argc, char **argv)
{
	ssize_t n, len;
	int fd;

	if (argc == 1) {
		mark();
		return 0;
	}
	if (argc != 3) {
		fprintf(stderr, "usage: insn_mark [FILE TEXT]\n");
		return 2;
	}
	len = strlen(argv[2]);
	fd = open(argv[1], O_WRONLY);
	mark();
	n = fd < 0 ? -1 : write(fd, argv[2], len);
	mark();
	if (fd < 0 || n != len) {
		perror(argv[1]);
		return 1;
	}
	return close(fd) ? 1 : 0;
}
