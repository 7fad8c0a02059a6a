/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The crucible target's status line (Documentation/, "Status"), parsed by
 * pure functions:
 *
 *   1 <mode> <generation> <flush> <legs> <in_sync>/<nr_regions>
 *     <hydrated>/<total>|- <repair_state> <reads> <writes> <flushes>
 *     <mismatches> <repaired_blocks> <err0> <err1> <err2>
 *     [<hydration_state> <parent_errors> [<unrecoverable> [more fields...]]]
 *
 * Fields are only ever appended.  A module older than the parent support
 * prints the first 16 only: the hydration state is then unknown; one older
 * than per-block verdicts prints 18 (unrecoverable unknown).  Fields
 * appended by a newer target are counted and ignored; a different status
 * format version is refused.
 */
#ifndef CRU_STATUS_H
#define CRU_STATUS_H

#include <stdbool.h>
#include <stdint.h>

#include "log.h"

#define CRU_STATUS_VERSION	1
#define CRU_NR_LEGS		3
#define CRU_STATUS_MIN_FIELDS	16	/* printed by every version-1 module */
#define CRU_STATUS_FIELDS	19	/* known to this parser */

enum cru_mode {
	CRU_MODE_RW,
	CRU_MODE_FENCED,
	CRU_MODE_FAILED,
};

enum cru_leg_state {
	CRU_LEG_ALIVE = 'A',	/* alive and in sync */
	CRU_LEG_STALE = 'S',	/* alive, stale in some regions */
	CRU_LEG_FAULTED = 'F',	/* faulted by an I/O error */
	CRU_LEG_DISABLED = 'D',	/* disabled by the operator */
};

enum cru_repair_state {
	CRU_REPAIR_IDLE,
	CRU_REPAIR_RUNNING,
	CRU_REPAIR_PAUSED,
	CRU_REPAIR_WAITING,
};

enum cru_hydration_state {
	CRU_HYDRATION_UNKNOWN,	/* a 16-field line: the module does not say */
	CRU_HYDRATION_NONE,	/* "-": no parent */
	CRU_HYDRATION_RUNNING,
	CRU_HYDRATION_PAUSED,	/* "hydration off" */
	CRU_HYDRATION_WAITING,	/* suspended, or the volume is not rw */
	CRU_HYDRATION_BACKOFF,	/* the last parent read failed: retrying later */
	CRU_HYDRATION_DONE,	/* complete and committed: the parent can go */
};

struct cru_status {
	unsigned int version;
	enum cru_mode mode;
	uint64_t generation;
	uint64_t flush;
	enum cru_leg_state legs[CRU_NR_LEGS];
	uint64_t in_sync_regions;
	uint64_t nr_regions;
	bool has_parent;	/* false when hydration is "-" */
	uint64_t hydrated;
	uint64_t hydration_total;
	enum cru_repair_state repair_state;
	uint64_t reads;
	uint64_t writes;
	uint64_t flushes;
	uint64_t mismatches;
	uint64_t repaired_blocks;
	uint64_t leg_errors[CRU_NR_LEGS];
	enum cru_hydration_state hydration_state;
	bool has_parent_errors;		/* false on a 16-field line */
	uint64_t parent_errors;		/* failed parent reads */
	bool has_unrecoverable;		/* false on a 16- or 18-field line */
	uint64_t unrecoverable;		/* blocks bad on every leg */
	unsigned int extra_fields;	/* appended fields we do not know */
};

/* The target's parameters only (what libdm returns as `params`). */
int cru_status_parse(const char *params, struct cru_status *st,
		     struct cru_err *err);

/*
 * A whole `dmsetup status <dev>` line: "<start> <len> crucible <params>".
 * @start and @len may be NULL.
 */
int cru_status_parse_line(const char *line, uint64_t *start, uint64_t *len,
			  struct cru_status *st, struct cru_err *err);

const char *cru_mode_name(enum cru_mode mode);
const char *cru_repair_state_name(enum cru_repair_state rs);
/* The status word ("running", "backoff", ...); "none" and "unknown" too. */
const char *cru_hydration_state_name(enum cru_hydration_state hs);
/* "alive", "stale", "faulted", "disabled". */
const char *cru_leg_state_name(enum cru_leg_state ls);

/* Legs that are alive (A or S), as a bit mask. */
unsigned int cru_status_alive_mask(const struct cru_status *st);
/* Regions not in sync on every alive leg. */
static inline uint64_t cru_status_stale_regions(const struct cru_status *st)
{
	return st->nr_regions - st->in_sync_regions;
}

/*
 * Is the copy from the parent complete?  The target's own word when it
 * gives one (done only once the last blocks are committed), else the
 * progress field.  False without a parent.
 */
bool cru_status_hydration_done(const struct cru_status *st);

#endif /* CRU_STATUS_H */
