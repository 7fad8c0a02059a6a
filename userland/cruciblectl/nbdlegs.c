// SPDX-License-Identifier: GPL-2.0
/*
 * cruciblectl: legs given as NBD exports.  `create` connects each to a
 * /dev/nbdN through the kernel's NBD netlink interface after the NBD
 * handshake (lib/nbd.c), with the export's canonical URI as the device's
 * backend identifier, so that crucible-agent can reconnect it when its
 * link dies; `remove` disconnects them again.
 */
#include "nbdlegs.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../lib/log.h"
#include "../lib/nbd.h"
#include "../lib/nbdleg.h"
#include "../lib/nl.h"
#include "options.h"

int ctl_nbd_resolve_legs(struct cru_spec *spec, int attached[CRU_NR_LEGS])
{
	struct cru_nbd_options o;
	struct cru_nbd_config c;
	struct cru_nl *nl = NULL;
	struct cru_nbd_export ex;
	struct cru_nbd_uri u;
	struct cru_err err;
	int i, ret = CTL_EXIT_OK;

	cru_nbdleg_settings(-1, CRU_NBDLEG_CONNECT_MS, cru_spec_leg_bytes(spec),
			    &o, &c);
	for (i = 0; i < CRU_NR_LEGS; i++)
		attached[i] = -1;
	for (i = 0; i < CRU_NR_LEGS; i++) {
		const struct cru_spec_nbd_leg *l = &spec->nbd_legs[i];

		if (!l->used)
			continue;
		if (cru_nbd_parse_uri(l->uri, &u, &err)) {
			log_error("leg %d: %s", i, err.msg);
			ret = CTL_EXIT_USAGE;
			break;
		}
		if (!nl && cru_nbd_nl_open(&nl, &err)) {
			log_error("leg %d: %s", i, err.msg);
			ret = CTL_EXIT_ERROR;
			break;
		}
		if (cru_nbd_attach(nl, &u, &o, &c, &attached[i], &ex, &err)) {
			attached[i] = -1;
			log_error("leg %d: %s", i, err.msg);
			ret = CTL_EXIT_ERROR;
			break;
		}
		snprintf(spec->table.legs[i], sizeof(spec->table.legs[i]),
			 "/dev/nbd%d", attached[i]);
		log_info("leg %d: %s connected as /dev/nbd%d", i, l->uri,
			 attached[i]);
	}
	cru_nl_close(nl);
	return ret;
}

static void disconnect(struct cru_nl **nl, int index)
{
	struct cru_err err;

	if (!*nl && cru_nbd_nl_open(nl, &err)) {
		log_error("cannot disconnect /dev/nbd%d: %s", index, err.msg);
		return;
	}
	if (cru_nbd_kernel_disconnect(*nl, index, &err))
		log_error("cannot disconnect /dev/nbd%d: %s", index, err.msg);
	else
		log_info("disconnected /dev/nbd%d", index);
}

void ctl_nbd_undo_legs(const int attached[CRU_NR_LEGS])
{
	struct cru_nl *nl = NULL;
	int i;

	for (i = 0; i < CRU_NR_LEGS; i++)
		if (attached[i] >= 0)
			disconnect(&nl, attached[i]);
	cru_nl_close(nl);
}

void ctl_nbd_release_legs(const struct cru_table *t)
{
	struct cru_nl *nl = NULL;
	char backend[CRU_SPEC_URI_MAX + 1];
	int i, index;

	for (i = 0; i < CRU_NR_LEGS; i++) {
		if (cru_nbdleg_index(t->legs[i], &index) ||
		    cru_nbdleg_backend(index, backend, sizeof(backend)) ||
		    !cru_nbdleg_is_ours(backend))
			continue;
		disconnect(&nl, index);
	}
	cru_nl_close(nl);
}
