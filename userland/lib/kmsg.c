// SPDX-License-Identifier: GPL-2.0
/*
 * Quoting the crucible target's reasons from the kernel log.
 */
#include "kmsg.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define KMSG "/dev/kmsg"
#define TARGET_TAG "crucible: "

int cru_kmsg_open(void)
{
	int fd = open(KMSG, O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return -1;
	if (lseek(fd, 0, SEEK_END) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

bool cru_kmsg_parse(const char *record, const char *filter, char *out,
		    size_t len)
{
	const char *text = strchr(record, ';');
	const char *tag;
	size_t n;

	if (!text)
		return false;
	text++;
	/* Only device-mapper's lines: "device-mapper: crucible: ..." or
	 * "device-mapper: table: <dev>: crucible: ...". */
	if (strncmp(text, "device-mapper: ", 15))
		return false;
	n = strcspn(text, "\n");
	if (filter && !memmem(text, n, filter, strlen(filter)))
		return false;
	tag = strstr(text, TARGET_TAG);
	if (!tag)
		return false;
	if (tag >= text + n)
		return false;
	tag += strlen(TARGET_TAG);
	n = strcspn(tag, "\n");
	if (!n)
		return false;
	snprintf(out, len, "%.*s", (int)n, tag);
	return true;
}

bool cru_kmsg_reason(int fd, const char *filter, char *out, size_t len)
{
	char rec[8192];
	bool found = false;
	int tries = 0;

	if (fd < 0)
		return false;
	for (;;) {
		ssize_t n = read(fd, rec, sizeof(rec) - 1);

		if (n < 0) {
			/* EPIPE: records were overwritten; keep reading. */
			if ((errno == EPIPE || errno == EINTR) && tries++ < 100)
				continue;
			break;
		}
		if (!n)
			break;
		rec[n] = '\0';
		if (cru_kmsg_parse(rec, filter, out, len))
			found = true;
	}
	close(fd);
	return found;
}
