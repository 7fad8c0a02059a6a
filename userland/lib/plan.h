/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The repair planner: from what the kernel reports of a volume (its
 * regions that are not clean, GET_REGIONS, and its leg states), the
 * REPAIR requests that bring its stale copies back in line.  Pure
 * functions, shared by crucible-agent (which issues the requests) and
 * cruciblectl (which shows them).
 *
 * The rule (DESIGN.md section 3, applied to the kernel's view): in a
 * region, the legs to repair are the legs in service that are stale
 * there; the source is the lowest-index leg in service that is not stale
 * there.  The kernel has already applied the generation / flush / dirty
 * rule when it decided which legs are stale, so the lowest index among
 * the others is Crucible's tie-break.  A region where every leg in
 * service is stale has no source: it is reported, never guessed at.  A
 * region marked for rehash (its records may lag its data) is left to the
 * kernel's own repair, which alone recomputes records from data: REPAIR
 * refuses it.
 *
 * Contiguous regions with the same source and destinations make one
 * request (at most @max_batch regions).  Requests are ordered by how
 * many in-sync copies their regions still have in service, fewest first
 * (a region with one good copy is at more risk than one with two), then
 * by region.
 */
#ifndef CRU_PLAN_H
#define CRU_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log.h"
#include "nl.h"

struct cru_plan_request {
	struct cru_nl_repair repair;	/* first, count, src, dst */
	unsigned int good;		/* in-sync copies in service */
};

/* Regions that no leg in service can repair: all are stale there. */
struct cru_plan_range {
	uint64_t first;
	uint64_t count;
	uint8_t stale;			/* legs stale there */
};

struct cru_plan {
	struct cru_plan_request *requests;
	size_t nr_requests;
	struct cru_plan_range *no_source;
	size_t nr_no_source;
	uint64_t to_repair;	/* regions in the requests */
	uint64_t waiting;	/* stale only on legs out of service */
	uint64_t locked;	/* the kernel is repairing them now: skipped */
	uint64_t rehash;	/* only the kernel's own repair can: skipped */
	uint64_t unsourced;	/* regions in no_source */
};

/*
 * Plan the repair of a volume of @nr_regions regions (0: unknown, no
 * bound check) whose legs are in @leg_states (CRUCIBLE_NL_LEG_*), from
 * @regions (GET_REGIONS; any order, clean regions may be left out).
 * @max_batch bounds a request's region count (0: no bound but the
 * kernel's, CRUCIBLE_NL_MAX_COUNT).  -EPROTO if a region is past the end
 * of the volume or listed twice, -ENOMEM.
 */
int cru_plan_repairs(const struct cru_nl_region *regions, size_t nr,
		     const uint8_t leg_states[CRU_NR_LEGS],
		     uint64_t nr_regions, uint64_t max_batch,
		     struct cru_plan *plan, struct cru_err *err);
void cru_plan_free(struct cru_plan *plan);

/* The source for one region: the lowest leg of @in_service not in @stale. */
int cru_plan_source(unsigned int in_service, unsigned int stale);

enum cru_request_state {
	CRU_REQUEST_DONE,	/* no leg of the request is stale in its range */
	CRU_REQUEST_PENDING,	/* still stale copies, the source is fine */
	CRU_REQUEST_NO_SOURCE,	/* the source left service or went stale */
};

/*
 * Where request @r stands, from the regions of its range (GET_REGIONS
 * over first..first+count-1) and the leg states now.  A destination
 * leg that left service no longer counts: it is repaired when it comes
 * back, by a new plan.
 */
enum cru_request_state cru_plan_check(const struct cru_nl_repair *r,
				      const struct cru_nl_region *regions,
				      size_t nr,
				      const uint8_t leg_states[CRU_NR_LEGS]);

/* "leg 2", "legs 0,2" (or "no leg"). */
void cru_legs_str(unsigned int mask, char *buf, size_t len);
/* "region 7" or "regions 7-12". */
void cru_regions_str(uint64_t first, uint64_t count, char *buf, size_t len);
/* "stale:1,2 dirty rehash verify locked" ("-" for none). */
void cru_region_flags_str(uint32_t flags, char *buf, size_t len);

#endif /* CRU_PLAN_H */
