/* SPDX-License-Identifier: GPL-2.0 */
/* cruciblectl: legs given as NBD exports (Documentation/nbd.rst). */
#ifndef CRUCIBLECTL_NBDLEGS_H
#define CRUCIBLECTL_NBDLEGS_H

#include "../lib/spec.h"
#include "../lib/table.h"

/*
 * Connect every nbd:// leg of @spec to a /dev/nbdN (its index in
 * @attached[leg], -1 for other legs) and put the device in the table.
 * On failure the caller calls ctl_nbd_undo_legs().
 */
int ctl_nbd_resolve_legs(struct cru_spec *spec, int attached[CRU_NR_LEGS]);
/* Disconnect what ctl_nbd_resolve_legs connected. */
void ctl_nbd_undo_legs(const int attached[CRU_NR_LEGS]);
/*
 * After a volume is removed: disconnect its legs that are NBD devices
 * cruciblectl or the agent connected (their backend is an nbd:// URI).
 */
void ctl_nbd_release_legs(const struct cru_table *t);

#endif
