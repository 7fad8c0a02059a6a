/* SPDX-License-Identifier: GPL-2.0 */
/*
 * NBD legs as the rest of the tools see them: which /dev/nbdN a leg of a
 * table is, and the export it was connected to.  A device connected by
 * cruciblectl or crucible-agent carries the export's canonical URI as its
 * NBD backend identifier (sysfs: /sys/block/nbdN/backend), so the URI
 * needed to reconnect it is read back from the kernel, never from a file
 * that could be stale.
 */
#ifndef CRU_NBDLEG_H
#define CRU_NBDLEG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "log.h"
#include "nbd.h"

/* Defaults for the devices that back legs (Documentation/nbd.rst). */
#define CRU_NBDLEG_TIMEOUT_S		30	/* per request */
#define CRU_NBDLEG_DEAD_CONN_S		0	/* a dead link fails I/O at once */
#define CRU_NBDLEG_CONNECT_MS		10000	/* connect + handshake */

/*
 * How a leg's export is connected, by cruciblectl and the agent alike:
 * connection and handshake within @timeout_ms, exports smaller than
 * @min_size bytes (0: any) refused, the device /dev/nbd@index (-1: the
 * kernel picks) set up with the defaults above.
 */
void cru_nbdleg_settings(int index, int timeout_ms, uint64_t min_size,
			 struct cru_nbd_options *o, struct cru_nbd_config *c);

/*
 * The NBD index of leg device @dev ("MAJ:MIN" or a path): 0 and *@index,
 * or -ENOENT if it is not an NBD device, or another negative errno.
 */
int cru_nbdleg_index(const char *dev, int *index);

/*
 * The backend identifier of /dev/nbd@index: 0, or -ENOENT when it has none
 * (not connected, or connected without one).
 */
int cru_nbdleg_backend(int index, char *buf, size_t len);

/* Whether @backend is a URI cruciblectl or the agent connected. */
bool cru_nbdleg_is_ours(const char *backend);

#define CRU_NBDLEG_URI_MAX	511
#define CRU_AGENT_STATE_DIR	"/run/crucible-agent"

/* What cruciblectl status shows of a leg on an NBD device. */
struct cru_nbdleg_info {
	bool nbd;		/* connected by cruciblectl or the agent */
	int index;		/* /dev/nbd<index> */
	char uri[CRU_NBDLEG_URI_MAX + 1];
	char link[8];		/* "up" or "dead"; "" if no agent says */
	long long reconnects;	/* by the running agent; -1 unknown */
};

/*
 * Describe leg device @dev ("MAJ:MIN" or a path): info->nbd false if it is
 * not an NBD device of ours.  The link state and reconnect count come from
 * the agent's <@state_dir>/nbd.json when it is there.
 */
void cru_nbdleg_describe(const char *dev, const char *state_dir,
			 struct cru_nbdleg_info *info);

/*
 * Old connections to the server of @u that may still hand it requests: TCP
 * sockets no descriptor or NBD device holds any more (the kernel's client
 * let go of them: inode 0 in /proc/net/tcp) in FIN_WAIT1 or CLOSING (our
 * data or FIN not acknowledged yet) or FIN_WAIT2 (acknowledged, the server
 * not done with the connection).  Their number in *@n.  A leg must not be
 * put back in service while there are any: writes queued on a connection
 * the kernel gave up on could reach the export after the leg was repaired
 * over the new one, and undo the repair.
 */
int cru_nbdleg_lingering(const struct cru_nbd_uri *u, int *n,
			 struct cru_err *err);
/* For tests: such sockets of TCP table @f whose remote end is @rem. */
int cru_tcp_table_lingering(FILE *f, const char *rem);

#endif /* CRU_NBDLEG_H */
