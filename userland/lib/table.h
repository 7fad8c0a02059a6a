/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The crucible table (Documentation/, "Table"):
 *
 *   <leg0> <leg1> <leg2> <parent|-> [<#opt_args> <key> <value>...]
 *
 * parsed from what `dmsetup table` prints, and built for DM_DEVICE_CREATE.
 * Pure functions.
 */
#ifndef CRU_TABLE_H
#define CRU_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log.h"
#include "status.h"

#define CRU_TARGET_NAME		"crucible"
#define CRU_DEV_LEN		256
#define CRU_OWNER_MAX		63	/* CRUCIBLE_OWNER_LEN - 1 */
#define CRU_MIN_REGION_SECTORS	128ULL
#define CRU_MAX_REGION_SECTORS	2097152ULL
#define CRU_SECTORS_PER_BLOCK	8ULL
#define CRU_THROTTLE_MAX	1000000ULL	/* MiB/s, repair and hydration */

enum cru_repair_mode {
	CRU_REPAIR_MODE_DEFAULT,	/* not given: the target's default */
	CRU_REPAIR_MODE_AUTO,
	CRU_REPAIR_MODE_MANUAL,
};

enum cru_hydration_mode {
	CRU_HYDRATION_MODE_DEFAULT,	/* not given: on */
	CRU_HYDRATION_MODE_ON,
	CRU_HYDRATION_MODE_OFF,
};

enum cru_read_policy {
	CRU_READ_POLICY_DEFAULT,
	CRU_READ_POLICY_ROUND_ROBIN,
	CRU_READ_POLICY_LEAST_PENDING,
};

struct cru_table {
	char legs[CRU_NR_LEGS][CRU_DEV_LEN];
	bool has_parent;
	char parent[CRU_DEV_LEN];
	bool has_generation;
	uint64_t generation;
	bool has_region_size;
	uint64_t region_size;		/* sectors */
	bool has_owner;
	char owner[CRU_OWNER_MAX + 1];
	int replace_leg;		/* -1: none */
	enum cru_repair_mode repair;
	bool has_repair_throttle;
	uint64_t repair_throttle;	/* MiB/s, 0 = unlimited */
	enum cru_read_policy read_policy;
	bool has_commit_period;
	uint64_t commit_period;		/* ms */
	enum cru_hydration_mode hydration;
	bool has_hydration_throttle;
	uint64_t hydration_throttle;	/* MiB/s, 0 = unlimited */
	unsigned int unknown_args;	/* key/value pairs of a newer target */
};

void cru_table_init(struct cru_table *t);
int cru_table_parse(const char *params, struct cru_table *t,
		    struct cru_err *err);
/* The target's parameters for @t; -ENOSPC if @len is too small. */
int cru_table_format(const struct cru_table *t, char *buf, size_t len,
		     struct cru_err *err);

bool cru_region_size_valid(uint64_t sectors);
/* A word that can stand in a table: non-empty, no whitespace. */
bool cru_table_word_valid(const char *s);

const char *cru_read_policy_name(enum cru_read_policy p);
const char *cru_repair_mode_name(enum cru_repair_mode m);
/* "on", "off", or "default". */
const char *cru_hydration_mode_name(enum cru_hydration_mode m);

#endif /* CRU_TABLE_H */
