/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The crucible target explains a refused table in the kernel log
 * ("device-mapper: table: 254:2: crucible: leg 1 belongs to another
 * volume ... (-EINVAL)"), not through the ioctl.  These helpers watch
 * /dev/kmsg across one operation so the error can quote that reason.
 */
#ifndef CRU_KMSG_H
#define CRU_KMSG_H

#include <stdbool.h>
#include <stddef.h>

/* Open /dev/kmsg positioned after the newest record; -1 if unavailable. */
int cru_kmsg_open(void);

/*
 * Read the records logged since cru_kmsg_open() and copy the reason of the
 * newest crucible message that contains @filter (if not NULL) into @out.
 * Closes @fd.  False if there is none.
 */
bool cru_kmsg_reason(int fd, const char *filter, char *out, size_t len);

/*
 * Pure: if the /dev/kmsg record @record ("<prio>,<seq>,<ts>,<flags>;<text>")
 * is a device-mapper message of the crucible target whose text contains
 * @filter (if not NULL), copy its reason (the text after "crucible: ") to
 * @out and return true.
 */
bool cru_kmsg_parse(const char *record, const char *filter, char *out,
		    size_t len);

/* The filter for a refused table: dm-table's "table: <dev>: crucible: ". */
#define CRU_KMSG_TABLE_ERROR "device-mapper: table: "

#endif /* CRU_KMSG_H */
