/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The "crucible" generic netlink family, shared by the kernel target and
 * userland (crucible-agent, cruciblectl).  Documentation/netlink.rst has
 * the table of commands, attributes and events.
 *
 * Every command needs CAP_NET_ADMIN.  Attributes are validated strictly
 * against one policy: unknown attributes, wrong types or lengths, and
 * values out of range are refused with an extended ack naming the
 * attribute.  A volume is named by CRUCIBLE_ATTR_DEV (its dev_t as
 * the kernel's new_encode_dev: minor & 0xff | major << 8 | (minor &
 * ~0xff) << 12).
 */
#ifndef CRUCIBLE_NETLINK_H
#define CRUCIBLE_NETLINK_H

#include "compat.h"

#define CRUCIBLE_GENL_NAME		"crucible"
#define CRUCIBLE_GENL_VERSION		1
#define CRUCIBLE_GENL_MCGRP		"events"

enum crucible_nl_cmd {
	CRUCIBLE_CMD_UNSPEC,
	/* Requests */
	CRUCIBLE_CMD_LIST_VOLUMES,	/* dump: one VOLUME message per volume */
	CRUCIBLE_CMD_GET_REGIONS,	/* dump: DEV [FIRST COUNT] -> REGION messages */
	CRUCIBLE_CMD_GET_RECORDS,	/* dump: DEV LEG FIRST COUNT -> RECORD messages */
	CRUCIBLE_CMD_REPAIR,		/* DEV FIRST COUNT SRC_LEG DST_LEGS */
	CRUCIBLE_CMD_SET_LEG,		/* DEV LEG LEG_ACTION */
	CRUCIBLE_CMD_SET_THROTTLE,	/* DEV [REPAIR_THROTTLE] [HYDRATION_THROTTLE] */
	CRUCIBLE_CMD_RECONCILE,		/* DEV RECONCILE (start 1 / stop 0) */
	/* Replies to dumps */
	CRUCIBLE_CMD_VOLUME,
	CRUCIBLE_CMD_REGION,
	CRUCIBLE_CMD_RECORD,
	/* Events, multicast on CRUCIBLE_GENL_MCGRP */
	CRUCIBLE_EVENT_LEG_FAULTED,	/* DEV LEG LEG_STATE */
	CRUCIBLE_EVENT_LEG_BACK,	/* DEV LEG */
	CRUCIBLE_EVENT_NEED_REPAIR,	/* DEV IN_SYNC NR_REGIONS */
	CRUCIBLE_EVENT_REPAIR_PROGRESS,	/* DEV IN_SYNC NR_REGIONS REPAIRED */
	CRUCIBLE_EVENT_REPAIR_DONE,	/* DEV IN_SYNC NR_REGIONS REPAIRED */
	CRUCIBLE_EVENT_MISMATCH,	/* DEV LEG BLOCK */
	CRUCIBLE_EVENT_HYDRATION_DONE,	/* DEV HYDRATED HYDRATION_TOTAL */
	CRUCIBLE_EVENT_VOLUME_GONE,	/* DEV: the target was destroyed */
	CRUCIBLE_EVENT_UNRECOVERABLE,	/* DEV BLOCK: no leg has a good copy */
	__CRUCIBLE_CMD_MAX,
};

#define CRUCIBLE_CMD_MAX (__CRUCIBLE_CMD_MAX - 1)

enum crucible_nl_attr {
	CRUCIBLE_ATTR_UNSPEC,
	CRUCIBLE_ATTR_PAD,
	CRUCIBLE_ATTR_DEV,		/* u32: the volume's dev_t (new_encode_dev) */
	CRUCIBLE_ATTR_NAME,		/* string: the dm device's name (replies) */
	CRUCIBLE_ATTR_LEG,		/* u8: 0..2 */
	CRUCIBLE_ATTR_SRC_LEG,		/* u8: 0..2 */
	CRUCIBLE_ATTR_DST_LEGS,		/* u8: bit mask of legs, 1..7 */
	CRUCIBLE_ATTR_FIRST,		/* u64: first region or block */
	CRUCIBLE_ATTR_COUNT,		/* u64: regions or blocks, >= 1 */
	CRUCIBLE_ATTR_LEG_ACTION,	/* u8: CRUCIBLE_LEG_ACTION_* */
	CRUCIBLE_ATTR_REPAIR_THROTTLE,	/* u32: MiB/s, 0 unlimited, <= 1000000 */
	CRUCIBLE_ATTR_HYDRATION_THROTTLE, /* u32: MiB/s, 0 unlimited, <= 1000000 */
	CRUCIBLE_ATTR_RECONCILE,	/* u8: 1 start, 0 stop */
	/* In replies and events */
	CRUCIBLE_ATTR_MODE,		/* u8: CRUCIBLE_NL_MODE_* */
	CRUCIBLE_ATTR_GENERATION,	/* u64 */
	CRUCIBLE_ATTR_FLUSH,		/* u64 (records: the low 32 bits) */
	CRUCIBLE_ATTR_NR_REGIONS,	/* u64 */
	CRUCIBLE_ATTR_IN_SYNC,		/* u64: regions with nothing to repair */
	CRUCIBLE_ATTR_REGION_BLOCKS,	/* u32 */
	CRUCIBLE_ATTR_VOLUME_BLOCKS,	/* u64 */
	CRUCIBLE_ATTR_LEG_STATES,	/* binary: 3 bytes, CRUCIBLE_NL_LEG_* per leg */
	CRUCIBLE_ATTR_LEG_STATE,	/* u8: CRUCIBLE_NL_LEG_* */
	CRUCIBLE_ATTR_REPAIR_STATE,	/* u8: CRUCIBLE_NL_REPAIR_* */
	CRUCIBLE_ATTR_REPAIRED,		/* u64: blocks repaired since load */
	CRUCIBLE_ATTR_HYDRATED,		/* u64 */
	CRUCIBLE_ATTR_HYDRATION_TOTAL,	/* u64: 0 without a parent */
	CRUCIBLE_ATTR_REGION,		/* u64 */
	CRUCIBLE_ATTR_REGION_FLAGS,	/* u32: CRUCIBLE_NL_REGION_* */
	CRUCIBLE_ATTR_BLOCK,		/* u64 */
	CRUCIBLE_ATTR_HASH,		/* u64: 0 never written, 2 zeroed */
	CRUCIBLE_ATTR_RECORD_OK,	/* u8: 1 the record passed its check */
	CRUCIBLE_ATTR_UNRECOVERABLE,	/* u64: blocks bad on every leg now */
	__CRUCIBLE_ATTR_MAX,
};

#define CRUCIBLE_ATTR_MAX (__CRUCIBLE_ATTR_MAX - 1)

/* CRUCIBLE_ATTR_LEG_ACTION */
enum crucible_nl_leg_action {
	CRUCIBLE_LEG_ACTION_FAIL = 1,	/* take out of service (fail_leg) */
	CRUCIBLE_LEG_ACTION_RESTORE = 2, /* back into service (restore_leg) */
};

/* CRUCIBLE_ATTR_LEG_STATE(S) */
enum crucible_nl_leg_state {
	CRUCIBLE_NL_LEG_ALIVE = 0,	/* in service, in sync */
	CRUCIBLE_NL_LEG_STALE = 1,	/* in service, stale in some region */
	CRUCIBLE_NL_LEG_FAILED = 2,	/* an I/O error took it out */
	CRUCIBLE_NL_LEG_DISABLED = 3,	/* the operator took it out */
};

/* CRUCIBLE_ATTR_MODE */
enum crucible_nl_mode {
	CRUCIBLE_NL_MODE_RW = 0,
	CRUCIBLE_NL_MODE_FENCED = 1,
	CRUCIBLE_NL_MODE_FAILED = 2,
};

/* CRUCIBLE_ATTR_REPAIR_STATE */
enum crucible_nl_repair_state {
	CRUCIBLE_NL_REPAIR_IDLE = 0,
	CRUCIBLE_NL_REPAIR_RUNNING = 1,
	CRUCIBLE_NL_REPAIR_PAUSED = 2,
	CRUCIBLE_NL_REPAIR_WAITING = 3,
};

/* CRUCIBLE_ATTR_REGION_FLAGS: bits 0-2 are the legs stale in the region. */
#define CRUCIBLE_NL_REGION_STALE_MASK	0x7U
#define CRUCIBLE_NL_REGION_DIRTY	BIT(3)	/* marked dirty on disk */
#define CRUCIBLE_NL_REGION_REHASH	BIT(5)	/* records may lag the data */
#define CRUCIBLE_NL_REGION_VERIFY	BIT(6)	/* repair compares data */
#define CRUCIBLE_NL_REGION_LOCKED	BIT(7)	/* repair owns it now */

/* The largest range one GET_RECORDS or REPAIR request may name. */
#define CRUCIBLE_NL_MAX_COUNT		BIT_ULL(32)

#endif /* CRUCIBLE_NETLINK_H */
