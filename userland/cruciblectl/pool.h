/* SPDX-License-Identifier: GPL-2.0 */
/* cruciblectl pool ... and region ..., and pool legs in volume specs. */
#ifndef CRUCIBLECTL_POOL_H
#define CRUCIBLECTL_POOL_H

#include <stdbool.h>

#include "../lib/spec.h"
#include "options.h"

int ctl_cmd_pool(const struct ctl_opts *o);
int ctl_cmd_region(const struct ctl_opts *o);
/*
 * Replace the spec's pool legs by their regions' devices, allocating the
 * regions that do not exist yet (noted in @created); on failure the caller
 * calls ctl_pool_undo_legs() to remove them again.
 */
int ctl_pool_resolve_legs(struct cru_spec *spec, const char *registry,
			  bool created[CRU_NR_LEGS]);
void ctl_pool_undo_legs(const struct cru_spec *spec, const char *registry,
			const bool created[CRU_NR_LEGS]);

#endif
