// SPDX-License-Identifier: GPL-2.0
/*
 * The repair planner (see plan.h).
 */
#include "plan.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned int legs_in_service(const uint8_t leg_states[CRU_NR_LEGS])
{
	unsigned int mask = 0;
	int i;

	for (i = 0; i < CRU_NR_LEGS; i++)
		if (cru_nl_leg_in_service(leg_states[i]))
			mask |= 1U << i;
	return mask;
}

int cru_plan_source(unsigned int in_service, unsigned int stale)
{
	int i;

	for (i = 0; i < CRU_NR_LEGS; i++)
		if ((in_service & (1U << i)) && !(stale & (1U << i)))
			return i;
	return -1;
}

static int cmp_region(const void *a, const void *b)
{
	const struct cru_nl_region *x = a, *y = b;

	return x->region < y->region ? -1 : x->region > y->region;
}

static int cmp_request(const void *a, const void *b)
{
	const struct cru_plan_request *x = a, *y = b;

	if (x->good != y->good)
		return x->good < y->good ? -1 : 1;
	return x->repair.first < y->repair.first ? -1 :
	       x->repair.first > y->repair.first;
}

static int popcount3(unsigned int mask)
{
	return !!(mask & 1) + !!(mask & 2) + !!(mask & 4);
}

/* A growable array, for the two lists of a plan. */
static void *grow(void *items, size_t nr, size_t *cap, size_t size)
{
	void *p;

	if (nr < *cap)
		return items;
	*cap = *cap ? 2 * *cap : 16;
	p = realloc(items, *cap * size);
	if (!p)
		free(items);
	return p;
}

int cru_plan_repairs(const struct cru_nl_region *regions, size_t nr,
		     const uint8_t leg_states[CRU_NR_LEGS],
		     uint64_t nr_regions, uint64_t max_batch,
		     struct cru_plan *plan, struct cru_err *err)
{
	unsigned int in_service = legs_in_service(leg_states);
	struct cru_nl_region *sorted = NULL;
	struct cru_plan_request *cur = NULL;
	struct cru_plan_range *ns = NULL;
	size_t cap_req = 0, cap_ns = 0, i;
	int ret = 0;

	memset(plan, 0, sizeof(*plan));
	if (!max_batch || max_batch > CRUCIBLE_NL_MAX_COUNT)
		max_batch = CRUCIBLE_NL_MAX_COUNT;
	if (nr) {
		sorted = malloc(nr * sizeof(*sorted));
		if (!sorted)
			return cru_err_set(err, -ENOMEM, "out of memory");
		memcpy(sorted, regions, nr * sizeof(*sorted));
		qsort(sorted, nr, sizeof(*sorted), cmp_region);
	}

	for (i = 0; i < nr; i++) {
		const struct cru_nl_region *r = &sorted[i];
		unsigned int stale = r->flags & CRUCIBLE_NL_REGION_STALE_MASK;
		unsigned int dst = stale & in_service;
		int src;

		if (nr_regions && r->region >= nr_regions) {
			ret = cru_err_set(err, -EPROTO,
					  "region %llu is past the end of the volume (%llu regions)",
					  (unsigned long long)r->region,
					  (unsigned long long)nr_regions);
			goto fail;
		}
		if (i && r->region == sorted[i - 1].region) {
			ret = cru_err_set(err, -EPROTO,
					  "region %llu is listed twice",
					  (unsigned long long)r->region);
			goto fail;
		}
		if (!dst) {
			/* Clean, only dirty, or stale on legs out of service. */
			if (stale)
				plan->waiting++;
			cur = NULL;
			continue;
		}
		if (r->flags & CRUCIBLE_NL_REGION_LOCKED) {
			plan->locked++;
			cur = NULL;
			continue;
		}
		if (r->flags & CRUCIBLE_NL_REGION_REHASH) {
			plan->rehash++;
			cur = NULL;
			continue;
		}
		src = cru_plan_source(in_service, stale);
		if (src < 0) {
			plan->unsourced++;
			cur = NULL;
			if (plan->nr_no_source &&
			    ns[plan->nr_no_source - 1].stale == stale &&
			    ns[plan->nr_no_source - 1].first +
			    ns[plan->nr_no_source - 1].count == r->region) {
				ns[plan->nr_no_source - 1].count++;
				continue;
			}
			ns = grow(ns, plan->nr_no_source, &cap_ns, sizeof(*ns));
			if (!ns)
				goto nomem;
			ns[plan->nr_no_source].first = r->region;
			ns[plan->nr_no_source].count = 1;
			ns[plan->nr_no_source].stale = (uint8_t)stale;
			plan->nr_no_source++;
			continue;
		}
		plan->to_repair++;
		if (cur && cur->repair.src == src && cur->repair.dst == dst &&
		    cur->repair.first + cur->repair.count == r->region &&
		    cur->repair.count < max_batch) {
			cur->repair.count++;
			continue;
		}
		plan->requests = grow(plan->requests, plan->nr_requests,
				      &cap_req, sizeof(*plan->requests));
		if (!plan->requests)
			goto nomem;
		cur = &plan->requests[plan->nr_requests++];
		cur->repair.first = r->region;
		cur->repair.count = 1;
		cur->repair.src = (uint8_t)src;
		cur->repair.dst = (uint8_t)dst;
		cur->good = (unsigned int)popcount3(in_service & ~stale);
	}
	free(sorted);
	plan->no_source = ns;
	/* qsort is not stable, but (good, first) is unique per request. */
	if (plan->nr_requests > 1)
		qsort(plan->requests, plan->nr_requests,
		      sizeof(*plan->requests), cmp_request);
	return 0;

nomem:
	ret = cru_err_set(err, -ENOMEM, "out of memory");
fail:
	free(sorted);
	free(ns);
	plan->no_source = NULL;
	cru_plan_free(plan);
	return ret;
}

void cru_plan_free(struct cru_plan *plan)
{
	free(plan->requests);
	free(plan->no_source);
	memset(plan, 0, sizeof(*plan));
}

enum cru_request_state cru_plan_check(const struct cru_nl_repair *r,
				      const struct cru_nl_region *regions,
				      size_t nr,
				      const uint8_t leg_states[CRU_NR_LEGS])
{
	unsigned int in_service = legs_in_service(leg_states);
	bool pending = false, source_lost;
	size_t i;

	source_lost = !(in_service & (1U << r->src));
	for (i = 0; i < nr; i++) {
		unsigned int stale = regions[i].flags &
				     CRUCIBLE_NL_REGION_STALE_MASK;

		if (regions[i].region < r->first ||
		    regions[i].region - r->first >= r->count)
			continue;
		if (stale & r->dst & in_service)
			pending = true;
		if (stale & (1U << r->src))
			source_lost = true;
	}
	if (!pending)
		return CRU_REQUEST_DONE;
	return source_lost ? CRU_REQUEST_NO_SOURCE : CRU_REQUEST_PENDING;
}

void cru_legs_str(unsigned int mask, char *buf, size_t len)
{
	size_t n;
	int i;

	if (!(mask & 7)) {
		snprintf(buf, len, "no leg");
		return;
	}
	n = (size_t)snprintf(buf, len, "%s", popcount3(mask) > 1 ? "legs " : "leg ");
	for (i = 0; i < CRU_NR_LEGS && n < len; i++) {
		if (!(mask & (1U << i)))
			continue;
		n += (size_t)snprintf(buf + n, len - n, "%s%d",
				      buf[n - 1] == ' ' ? "" : ",", i);
	}
}

void cru_regions_str(uint64_t first, uint64_t count, char *buf, size_t len)
{
	if (count <= 1)
		snprintf(buf, len, "region %llu", (unsigned long long)first);
	else
		snprintf(buf, len, "regions %llu-%llu",
			 (unsigned long long)first,
			 (unsigned long long)(first + count - 1));
}

void cru_region_flags_str(uint32_t flags, char *buf, size_t len)
{
	static const struct {
		uint32_t bit;
		const char *name;
	} words[] = {
		{ CRUCIBLE_NL_REGION_DIRTY, "dirty" },
		{ CRUCIBLE_NL_REGION_REHASH, "rehash" },
		{ CRUCIBLE_NL_REGION_VERIFY, "verify" },
		{ CRUCIBLE_NL_REGION_LOCKED, "locked" },
	};
	uint32_t known = CRUCIBLE_NL_REGION_STALE_MASK;
	size_t n = 0, i;
	int leg;

	buf[0] = '\0';
	if (flags & CRUCIBLE_NL_REGION_STALE_MASK) {
		n += (size_t)snprintf(buf + n, len - n, "stale:");
		for (leg = 0; leg < CRU_NR_LEGS && n < len; leg++)
			if (flags & (1U << leg))
				n += (size_t)snprintf(buf + n, len - n, "%s%d",
						      buf[n - 1] == ':' ? "" : ",",
						      leg);
	}
	for (i = 0; i < sizeof(words) / sizeof(words[0]) && n < len; i++) {
		known |= words[i].bit;
		if (flags & words[i].bit)
			n += (size_t)snprintf(buf + n, len - n, "%s%s",
					      n ? " " : "", words[i].name);
	}
	if ((flags & ~known) && n < len)
		n += (size_t)snprintf(buf + n, len - n, "%s0x%x", n ? " " : "",
				      flags & ~known);
	if (!n)
		snprintf(buf, len, "-");
}
