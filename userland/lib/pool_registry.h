/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The pools known to this host: a text file (default /etc/crucible/pools,
 * or $CRUCIBLE_POOLS) with one line per pool, "<name> <path> <uuid>";
 * '#' starts a comment.  Written whole (to a temporary file, then renamed)
 * under a lock on the file itself.
 */
#ifndef CRU_POOL_REGISTRY_H
#define CRU_POOL_REGISTRY_H

#include <stddef.h>

#include "log.h"
#include "pool_format.h"

#define CRU_POOL_REGISTRY_DEFAULT "/etc/crucible/pools"
#define CRU_POOL_REGISTRY_ENV "CRUCIBLE_POOLS"

struct cru_pool_reg {
	char name[CRU_POOL_NAME_LEN];
	char path[4096];
	char uuid[37];
};

/* @override, else $CRUCIBLE_POOLS, else the default. */
const char *cru_pool_registry_path(const char *override);

/* Every entry; a missing file has none. *@v is malloc'ed. */
int cru_pool_registry_load(const char *file, struct cru_pool_reg **v,
			   size_t *n, struct cru_err *err);

/*
 * Record @e.  An entry of the same path is replaced; a different pool of
 * the same name is -EEXIST.
 */
int cru_pool_registry_add(const char *file, const struct cru_pool_reg *e,
			  struct cru_err *err);

/* Forget pool @name; -ENOENT if it is not there. */
int cru_pool_registry_remove(const char *file, const char *name,
			     struct cru_err *err);

/* The entry named @name, -ENOENT if none. */
int cru_pool_registry_find(const char *file, const char *name,
			   struct cru_pool_reg *out, struct cru_err *err);

#endif /* CRU_POOL_REGISTRY_H */
