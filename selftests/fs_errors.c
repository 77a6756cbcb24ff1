// SPDX-License-Identifier: GPL-2.0
/*
 * fs_errors: what a filesystem reports of its errors, through fanotify's
 * FAN_FS_ERROR (for instance the data lost under a failed DAX page).
 *
 *   fs_errors MOUNTPOINT SECS    watch the filesystem at MOUNTPOINT, print
 *                                "ready", then wait up to SECS for an
 *                                error event and print it: "FAN_FS_ERROR
 *                                error E count N" (E: the errno's name;
 *                                N: errors merged into the event). Without
 *                                one, print "no FAN_FS_ERROR" (exit 1).
 *
 * Needs CONFIG_FANOTIFY. Failures are reported on stderr with the errno,
 * and the exit status is not 0. selftests/lib.sh's build_helper builds it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <unistd.h>

static void __attribute__((noreturn)) die_errno(const char *what)
{
	fprintf(stderr, "fs_errors: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* The error record of a FAN_FS_ERROR event; 1 if it has one. */
static int print_error(const struct fanotify_event_metadata *ev)
{
	const char *p = (const char *)ev + ev->metadata_len;
	const char *end = (const char *)ev + ev->event_len;

	while (p + sizeof(struct fanotify_event_info_header) <= end) {
		const struct fanotify_event_info_header *hdr = (const void *)p;
		const struct fanotify_event_info_error *err = (const void *)p;

		if (hdr->len == 0)
			break;
		if (hdr->info_type == FAN_EVENT_INFO_TYPE_ERROR) {
			printf("FAN_FS_ERROR error %s count %u\n",
			       strerrorname_np(err->error) ?: "?",
			       err->error_count);
			return 1;
		}
		p += hdr->len;
	}
	return 0;
}

int main(int argc, char **argv)
{
	char buf[4096] __attribute__((aligned(8)));
	struct pollfd pfd;
	int fd, secs;

	if (argc != 3) {
		fprintf(stderr, "usage: fs_errors MOUNTPOINT SECS\n");
		return 2;
	}
	secs = atoi(argv[2]);
	fd = fanotify_init(FAN_CLASS_NOTIF | FAN_REPORT_FID, O_RDONLY);
	if (fd < 0)
		die_errno("fanotify_init");
	if (fanotify_mark(fd, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, FAN_FS_ERROR,
			  AT_FDCWD, argv[1]))
		die_errno(argv[1]);
	puts("ready");
	fflush(stdout);
	pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
	while (poll(&pfd, 1, secs * 1000) > 0) {
		const struct fanotify_event_metadata *ev = (const void *)buf;
		ssize_t len = read(fd, buf, sizeof(buf));

		if (len < 0)
			die_errno("read");
		for (; FAN_EVENT_OK(ev, len); ev = FAN_EVENT_NEXT(ev, len))
			if ((ev->mask & FAN_FS_ERROR) && print_error(ev))
				return 0;
	}
	puts("no FAN_FS_ERROR");
	return 1;
}
