/* SPDX-License-Identifier: GPL-2.0 */
/*
 * JSON volume spec (Documentation/cruciblectl.rst, "Volume spec"):
 *
 *   {
 *     "name": "vol",                        required, a device-mapper name
 *     "size": "1G" | 1073741824,            required, multiple of 4 KiB
 *     "legs": ["/dev/a", "/dev/b", "/dev/c"],  required, three legs: a device,
 *             or a pool region: {"pool": "p0", "region": "name", "size": "64M"}
 *             ("region" and "size" optional: a region named and missing, or
 *             unnamed, is allocated, by default as big as the leg needs),
 *             or a remote export: "nbd://host:port/export"
 *     "parent": null | "/dev/origin",       optional read-only origin
 *     "generation": 7,                      optional activation generation
 *     "region_size": "1M" | 1048576,        optional, 64 KiB .. 1 GiB
 *     "owner": "host-a",                    optional owner id
 *     "hydration": true | false,            optional, needs a parent
 *     "hydration_throttle": 50              optional MiB/s, 0 = unlimited
 *   }
 *
 * turned into the crucible table.  Errors name the field.
 */
#ifndef CRU_SPEC_H
#define CRU_SPEC_H

#include <stddef.h>
#include <stdint.h>

#include "log.h"
#include "nbdleg.h"
#include "pool_format.h"
#include "table.h"

#define CRU_NAME_MAX 127	/* DM_NAME_LEN - 1 */

/* A leg given as a region of a pool: resolved to a device by cruciblectl. */
struct cru_spec_pool_leg {
	bool used;
	char pool[CRU_POOL_NAME_LEN];
	char region[CRU_POOL_REGION_NAME_LEN];	/* "" = allocate one */
	uint64_t size;			/* bytes, 0 = what the leg needs */
};

/*
 * A leg given as an NBD export: connected to /dev/nbdN by cruciblectl.
 * The URI becomes the device's backend identifier, read back as a
 * struct cru_nbdleg_info: the same limit.
 */
#define CRU_SPEC_URI_MAX CRU_NBDLEG_URI_MAX
struct cru_spec_nbd_leg {
	bool used;
	char uri[CRU_SPEC_URI_MAX + 1];	/* canonical nbd://host:port/export */
};

struct cru_spec {
	char name[CRU_NAME_MAX + 1];
	uint64_t size;			/* bytes */
	struct cru_table table;		/* pool legs: "" until resolved */
	struct cru_spec_pool_leg pool_legs[CRU_NR_LEGS];
	struct cru_spec_nbd_leg nbd_legs[CRU_NR_LEGS];	/* table leg "" too */
};

int cru_spec_parse(const char *json, struct cru_spec *spec,
		   struct cru_err *err);
/* Reads @path ("-" is stdin) and parses it. */
int cru_spec_parse_file(const char *path, struct cru_spec *spec,
			struct cru_err *err);

static inline uint64_t cru_spec_sectors(const struct cru_spec *spec)
{
	return spec->size >> 9;
}

/* "0 <sectors> crucible <params>" */
int cru_spec_table_line(const struct cru_spec *spec, char *buf, size_t len,
			struct cru_err *err);

/* Bytes a leg of @spec needs: the volume plus its metadata. */
uint64_t cru_spec_leg_bytes(const struct cru_spec *spec);

/* A name device-mapper accepts and that is safe in /dev/mapper. */
bool cru_volume_name_valid(const char *name);

#endif /* CRU_SPEC_H */
