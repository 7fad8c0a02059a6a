// SPDX-License-Identifier: GPL-2.0
/*
 * dm-crucible generic netlink family "crucible": the agent's view of every
 * volume (list, region states, per-block records), its levers (repair a
 * range, leg state, throttles, reconcile) and events.
 *
 * The family is defined once in include/crucible/netlink.h and documented
 * in Documentation/netlink.rst.  Every command needs CAP_NET_ADMIN and is
 * validated strictly against one policy.  Events are sent from the
 * volume's event work item, never from the I/O path: they describe what
 * changed since the last event (leg states, repair progress, hydration),
 * plus integrity mismatches queued by the I/O path.
 */
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/kdev_t.h>
#include <net/genetlink.h>

#include "dm-crucible.h"
#include "../include/crucible/netlink.h"

static LIST_HEAD(crucible_volumes);
static DEFINE_MUTEX(crucible_volumes_lock);	/* the list, and commands */
static struct genl_family crucible_genl;

static u32 volume_dev(struct crucible *c)
{
	return new_encode_dev(disk_devt(dm_disk(dm_table_get_md(c->ti->table))));
}

/*
 * Volume registry
 */

void crucible_nl_register(struct crucible *c)
{
	mutex_lock(&crucible_volumes_lock);
	if (list_empty(&c->nl_node)) {
		c->nl_dev = volume_dev(c);
		/* A reloaded table goes first: it is the live one. */
		list_add(&c->nl_node, &crucible_volumes);
	}
	mutex_unlock(&crucible_volumes_lock);
}

static void send_gone(struct crucible *c);

void crucible_nl_unregister(struct crucible *c)
{
	bool was = false;

	mutex_lock(&crucible_volumes_lock);
	if (!list_empty(&c->nl_node)) {
		list_del_init(&c->nl_node);
		was = true;
	}
	mutex_unlock(&crucible_volumes_lock);
	if (was)
		send_gone(c);
}

/* The volume with dev_t @dev; crucible_volumes_lock held. */
static struct crucible *find_volume(u32 dev)
{
	struct crucible *c, *found = NULL;

	list_for_each_entry(c, &crucible_volumes, nl_node) {
		if (c->nl_dev != dev)
			continue;
		if (!found || (found->suspended && !c->suspended))
			found = c;
	}
	return found;
}

static struct crucible *volume_of(struct genl_info *info)
{
	struct crucible *c;

	if (GENL_REQ_ATTR_CHECK(info, CRUCIBLE_ATTR_DEV))
		return ERR_PTR(-EINVAL);
	c = find_volume(nla_get_u32(info->attrs[CRUCIBLE_ATTR_DEV]));
	if (!c) {
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[CRUCIBLE_ATTR_DEV],
				    "no crucible volume with this device number");
		return ERR_PTR(-ENODEV);
	}
	return c;
}

/*
 * Volume state, as LIST_VOLUMES and events report it
 */

static u8 nl_leg_state(struct crucible *c, unsigned int leg, u32 stale)
{
	switch (c->legs[leg].state) {
	case CRUCIBLE_LEG_FAILED:
		return CRUCIBLE_NL_LEG_FAILED;
	case CRUCIBLE_LEG_DISABLED:
		return CRUCIBLE_NL_LEG_DISABLED;
	default:
		return (stale & BIT(leg)) ? CRUCIBLE_NL_LEG_STALE : CRUCIBLE_NL_LEG_ALIVE;
	}
}

struct volume_snap {
	u8 mode;
	u8 legs[CRUCIBLE_NR_LEGS];
	u8 repair;
	u64 generation, flush, in_sync, hydrated, total, repaired;
	u32 repair_throttle, hydrate_throttle;
};

static void snap_volume(struct crucible *c, struct volume_snap *v)
{
	bool repairable = false;
	u32 stale = 0;
	u64 r;
	u8 alive;
	int i;

	spin_lock_irq(&c->lock);
	alive = crucible_alive_mask(c);
	if (c->unsynced) {
		for (r = 0; r < c->geo.nr_regions; r++) {
			stale |= c->rstate[r];
			if (crucible_region_repairable(c->rstate[r], alive))
				repairable = true;
		}
	}
	for (i = 0; i < CRUCIBLE_NR_LEGS; i++)
		v->legs[i] = nl_leg_state(c, i, stale);
	v->mode = c->mode == CRUCIBLE_MODE_FENCED ? CRUCIBLE_NL_MODE_FENCED :
		  c->mode == CRUCIBLE_MODE_FAILED ? CRUCIBLE_NL_MODE_FAILED :
		  CRUCIBLE_NL_MODE_RW;
	v->in_sync = c->geo.nr_regions - c->unsynced;
	if (!c->unsynced)
		v->repair = CRUCIBLE_NL_REPAIR_IDLE;
	else if (!c->repair_running)
		v->repair = CRUCIBLE_NL_REPAIR_PAUSED;
	else if (c->mode != CRUCIBLE_MODE_RW || c->suspended || !repairable)
		v->repair = CRUCIBLE_NL_REPAIR_WAITING;
	else
		v->repair = CRUCIBLE_NL_REPAIR_RUNNING;
	v->hydrated = c->parent ? c->hydr.cursor : 0;
	v->total = c->parent ? c->hydr.total : 0;
	spin_unlock_irq(&c->lock);
	v->generation = c->generation;
	v->flush = c->flush;
	v->repaired = atomic64_read(&c->stats.repaired);
	v->repair_throttle = c->repair_throttle;
	v->hydrate_throttle = c->hydrate_throttle;
}

static int put_volume(struct sk_buff *skb, struct crucible *c)
{
	char name[DM_NAME_LEN];
	struct volume_snap v;

	snap_volume(c, &v);
	if (dm_copy_name_and_uuid(dm_table_get_md(c->ti->table), name, NULL))
		strscpy(name, dm_device_name(dm_table_get_md(c->ti->table)),
			sizeof(name));
	if (nla_put_u32(skb, CRUCIBLE_ATTR_DEV, c->nl_dev) ||
	    nla_put_string(skb, CRUCIBLE_ATTR_NAME, name) ||
	    nla_put_u8(skb, CRUCIBLE_ATTR_MODE, v.mode) ||
	    nla_put_u64_64bit(skb, CRUCIBLE_ATTR_GENERATION, v.generation,
			      CRUCIBLE_ATTR_PAD) ||
	    nla_put_u64_64bit(skb, CRUCIBLE_ATTR_FLUSH, v.flush,
			      CRUCIBLE_ATTR_PAD) ||
	    nla_put_u64_64bit(skb, CRUCIBLE_ATTR_NR_REGIONS, c->geo.nr_regions,
			      CRUCIBLE_ATTR_PAD) ||
	    nla_put_u64_64bit(skb, CRUCIBLE_ATTR_IN_SYNC, v.in_sync,
			      CRUCIBLE_ATTR_PAD) ||
	    nla_put_u32(skb, CRUCIBLE_ATTR_REGION_BLOCKS, c->geo.region_blocks) ||
	    nla_put_u64_64bit(skb, CRUCIBLE_ATTR_VOLUME_BLOCKS,
			      c->geo.volume_blocks, CRUCIBLE_ATTR_PAD) ||
	    nla_put(skb, CRUCIBLE_ATTR_LEG_STATES, sizeof(v.legs), v.legs) ||
	    nla_put_u8(skb, CRUCIBLE_ATTR_REPAIR_STATE, v.repair) ||
	    nla_put_u64_64bit(skb, CRUCIBLE_ATTR_REPAIRED, v.repaired,
			      CRUCIBLE_ATTR_PAD) ||
	    nla_put_u64_64bit(skb, CRUCIBLE_ATTR_HYDRATED, v.hydrated,
			      CRUCIBLE_ATTR_PAD) ||
	    nla_put_u64_64bit(skb, CRUCIBLE_ATTR_HYDRATION_TOTAL, v.total,
			      CRUCIBLE_ATTR_PAD) ||
	    nla_put_u32(skb, CRUCIBLE_ATTR_REPAIR_THROTTLE, v.repair_throttle) ||
	    nla_put_u32(skb, CRUCIBLE_ATTR_HYDRATION_THROTTLE, v.hydrate_throttle) ||
	    nla_put_u64_64bit(skb, CRUCIBLE_ATTR_UNRECOVERABLE,
			      atomic64_read(&c->nr_unrecoverable),
			      CRUCIBLE_ATTR_PAD))
		return -EMSGSIZE;
	return 0;
}

/*
 * Dumps
 */

static void *dump_put(struct sk_buff *skb, struct netlink_callback *cb, u8 cmd)
{
	return genlmsg_put(skb, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq,
			   &crucible_genl, NLM_F_MULTI, cmd);
}

static int list_volumes_dump(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct crucible *c;
	long idx = 0;
	void *hdr;

	mutex_lock(&crucible_volumes_lock);
	list_for_each_entry(c, &crucible_volumes, nl_node) {
		if (idx++ < cb->args[0])
			continue;
		hdr = dump_put(skb, cb, CRUCIBLE_CMD_VOLUME);
		if (!hdr)
			break;
		if (put_volume(skb, c)) {
			genlmsg_cancel(skb, hdr);
			break;
		}
		genlmsg_end(skb, hdr);
		cb->args[0] = idx;
	}
	mutex_unlock(&crucible_volumes_lock);
	return skb->len;
}

/*
 * A ranged dump: cb->args[0] is the next item, args[1] the end, args[2]
 * set once the range was read from the request.
 */
static int dump_range(struct netlink_callback *cb, u64 limit, bool need_range)
{
	struct nlattr **attrs = genl_dumpit_info(cb)->attrs;
	u64 first = 0, count = limit;

	if (cb->args[2])
		return 0;
	if (need_range && (!attrs[CRUCIBLE_ATTR_FIRST] || !attrs[CRUCIBLE_ATTR_COUNT])) {
		NL_SET_ERR_MSG(cb->extack, "FIRST and COUNT are required");
		return -EINVAL;
	}
	if (attrs[CRUCIBLE_ATTR_FIRST])
		first = nla_get_u64(attrs[CRUCIBLE_ATTR_FIRST]);
	if (first >= limit) {
		NL_SET_ERR_MSG(cb->extack, "range outside the volume");
		return -ERANGE;
	}
	/* Without COUNT: to the end. */
	count = attrs[CRUCIBLE_ATTR_COUNT] ? nla_get_u64(attrs[CRUCIBLE_ATTR_COUNT]) :
		limit - first;
	if (count > limit - first) {
		NL_SET_ERR_MSG(cb->extack, "range outside the volume");
		return -ERANGE;
	}
	cb->args[0] = first;
	cb->args[1] = first + count;
	cb->args[2] = 1;
	return 0;
}

static struct crucible *dump_volume(struct netlink_callback *cb)
{
	struct nlattr **attrs = genl_dumpit_info(cb)->attrs;
	struct crucible *c;

	if (!attrs[CRUCIBLE_ATTR_DEV]) {
		NL_SET_ERR_MSG(cb->extack, "DEV is required");
		return ERR_PTR(-EINVAL);
	}
	c = find_volume(nla_get_u32(attrs[CRUCIBLE_ATTR_DEV]));
	if (!c) {
		NL_SET_ERR_MSG(cb->extack, "no crucible volume with this device number");
		return ERR_PTR(-ENODEV);
	}
	return c;
}

#define REGION_BATCH	256

static int get_regions_dump(struct sk_buff *skb, struct netlink_callback *cb)
{
	u32 states[REGION_BATCH];
	struct crucible *c;
	unsigned int i, n;
	int r = 0;
	void *hdr;

	mutex_lock(&crucible_volumes_lock);
	c = dump_volume(cb);
	if (IS_ERR(c)) {
		r = PTR_ERR(c);
		goto out;
	}
	r = dump_range(cb, c->geo.nr_regions, false);
	if (r)
		goto out;
	while ((u64)cb->args[0] < (u64)cb->args[1]) {
		u64 base = cb->args[0];

		n = min_t(u64, REGION_BATCH, cb->args[1] - base);
		spin_lock_irq(&c->lock);
		for (i = 0; i < n; i++)
			states[i] = c->rstate[base + i];
		spin_unlock_irq(&c->lock);
		for (i = 0; i < n; i++) {
			u32 flags = states[i] & (CRUCIBLE_NL_REGION_STALE_MASK |
						 CRUCIBLE_NL_REGION_DIRTY |
						 CRUCIBLE_NL_REGION_REHASH |
						 CRUCIBLE_NL_REGION_VERIFY |
						 CRUCIBLE_NL_REGION_LOCKED);

			if (!flags)
				continue;
			hdr = dump_put(skb, cb, CRUCIBLE_CMD_REGION);
			if (!hdr)
				goto full;
			if (nla_put_u32(skb, CRUCIBLE_ATTR_DEV, c->nl_dev) ||
			    nla_put_u64_64bit(skb, CRUCIBLE_ATTR_REGION, base + i,
					      CRUCIBLE_ATTR_PAD) ||
			    nla_put_u32(skb, CRUCIBLE_ATTR_REGION_FLAGS, flags)) {
				genlmsg_cancel(skb, hdr);
				goto full;
			}
			genlmsg_end(skb, hdr);
		}
		cb->args[0] = base + n;
		cond_resched();
		continue;
full:
		cb->args[0] = base + i;
		break;
	}
out:
	mutex_unlock(&crucible_volumes_lock);
	return r ? r : skb->len;
}

static int get_records_dump(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct nlattr **attrs = genl_dumpit_info(cb)->attrs;
	struct crucible_rec rec;
	struct crucible *c;
	unsigned int leg;
	int r = 0, rr;
	void *hdr;

	mutex_lock(&crucible_volumes_lock);
	c = dump_volume(cb);
	if (IS_ERR(c)) {
		r = PTR_ERR(c);
		goto out;
	}
	if (!attrs[CRUCIBLE_ATTR_LEG]) {
		NL_SET_ERR_MSG(cb->extack, "LEG is required");
		r = -EINVAL;
		goto out;
	}
	leg = nla_get_u8(attrs[CRUCIBLE_ATTR_LEG]);
	r = dump_range(cb, c->geo.volume_blocks, true);
	if (r)
		goto out;
	if (cb->args[1] - cb->args[0] > CRUCIBLE_NL_MAX_COUNT && !cb->args[3]) {
		NL_SET_ERR_MSG(cb->extack, "COUNT is too large");
		r = -ERANGE;
		goto out;
	}
	cb->args[3] = 1;
	while ((u64)cb->args[0] < (u64)cb->args[1]) {
		u64 b = cb->args[0];

		rr = crucible_md_get_record(c, leg, b, &rec);
		if (rr && rr != -EILSEQ) {
			if (!skb->len) {
				NL_SET_ERR_MSG(cb->extack, "cannot read the leg's records");
				r = rr;
			}
			break;
		}
		hdr = dump_put(skb, cb, CRUCIBLE_CMD_RECORD);
		if (!hdr)
			break;
		if (nla_put_u32(skb, CRUCIBLE_ATTR_DEV, c->nl_dev) ||
		    nla_put_u8(skb, CRUCIBLE_ATTR_LEG, leg) ||
		    nla_put_u64_64bit(skb, CRUCIBLE_ATTR_BLOCK, b, CRUCIBLE_ATTR_PAD) ||
		    nla_put_u64_64bit(skb, CRUCIBLE_ATTR_HASH, rec.hash,
				      CRUCIBLE_ATTR_PAD) ||
		    nla_put_u64_64bit(skb, CRUCIBLE_ATTR_FLUSH, rec.flush,
				      CRUCIBLE_ATTR_PAD) ||
		    nla_put_u8(skb, CRUCIBLE_ATTR_RECORD_OK, !rr)) {
			genlmsg_cancel(skb, hdr);
			break;
		}
		genlmsg_end(skb, hdr);
		cb->args[0] = b + 1;
		if (!(b % 256))
			cond_resched();
	}
out:
	mutex_unlock(&crucible_volumes_lock);
	return r ? r : skb->len;
}

/*
 * Commands
 */

static int repair_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr **a = info->attrs;
	u64 first, count, r;
	struct crucible *c;
	unsigned int src;
	int ret = 0;
	u8 dst, alive;

	if (GENL_REQ_ATTR_CHECK(info, CRUCIBLE_ATTR_FIRST) ||
	    GENL_REQ_ATTR_CHECK(info, CRUCIBLE_ATTR_COUNT) ||
	    GENL_REQ_ATTR_CHECK(info, CRUCIBLE_ATTR_SRC_LEG) ||
	    GENL_REQ_ATTR_CHECK(info, CRUCIBLE_ATTR_DST_LEGS))
		return -EINVAL;
	first = nla_get_u64(a[CRUCIBLE_ATTR_FIRST]);
	count = nla_get_u64(a[CRUCIBLE_ATTR_COUNT]);
	src = nla_get_u8(a[CRUCIBLE_ATTR_SRC_LEG]);
	dst = nla_get_u8(a[CRUCIBLE_ATTR_DST_LEGS]);
	if (dst & BIT(src)) {
		NL_SET_ERR_MSG_ATTR(info->extack, a[CRUCIBLE_ATTR_DST_LEGS],
				    "the source leg cannot be a destination");
		return -EINVAL;
	}

	mutex_lock(&crucible_volumes_lock);
	c = volume_of(info);
	if (IS_ERR(c)) {
		ret = PTR_ERR(c);
		goto out;
	}
	if (first >= c->geo.nr_regions || count > c->geo.nr_regions - first) {
		NL_SET_ERR_MSG_ATTR(info->extack, a[CRUCIBLE_ATTR_COUNT],
				    "region range outside the volume");
		ret = -ERANGE;
		goto out;
	}
	spin_lock_irq(&c->lock);
	alive = crucible_alive_mask(c);
	if (c->mode != CRUCIBLE_MODE_RW) {
		NL_SET_ERR_MSG(info->extack, "the volume is not read-write");
		ret = -EIO;
	} else if (!(alive & BIT(src))) {
		NL_SET_ERR_MSG_ATTR(info->extack, a[CRUCIBLE_ATTR_SRC_LEG],
				    "the source leg is out of service");
		ret = -EINVAL;
	} else if (dst & ~alive) {
		NL_SET_ERR_MSG_ATTR(info->extack, a[CRUCIBLE_ATTR_DST_LEGS],
				    "a destination leg is out of service");
		ret = -EINVAL;
	}
	for (r = first; !ret && r < first + count; r++) {
		if (c->rstate[r] & (BIT(src) | RS_REHASH)) {
			NL_SET_ERR_MSG_ATTR(info->extack, a[CRUCIBLE_ATTR_SRC_LEG],
					    "the source leg is stale in a region of the range");
			ret = -EINVAL;
		}
	}
	/* Regions in sync for a destination get their data compared. */
	for (r = first; !ret && r < first + count; r++) {
		u32 verify = (dst & ~c->rstate[r]) ? RS_VERIFY : 0;

		__crucible_set_stale(c, r, dst | verify);
	}
	if (!ret)
		c->repair_running = true;
	spin_unlock_irq(&c->lock);
	if (!ret) {
		crucible_kick_repair(c);
		crucible_raise_event(c);
	}
out:
	mutex_unlock(&crucible_volumes_lock);
	return ret;
}

static int set_leg_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct crucible *c;
	unsigned int leg;
	bool fail;
	int r;

	if (GENL_REQ_ATTR_CHECK(info, CRUCIBLE_ATTR_LEG) ||
	    GENL_REQ_ATTR_CHECK(info, CRUCIBLE_ATTR_LEG_ACTION))
		return -EINVAL;
	leg = nla_get_u8(info->attrs[CRUCIBLE_ATTR_LEG]);
	fail = nla_get_u8(info->attrs[CRUCIBLE_ATTR_LEG_ACTION]) ==
	       CRUCIBLE_LEG_ACTION_FAIL;
	mutex_lock(&crucible_volumes_lock);
	c = volume_of(info);
	if (IS_ERR(c)) {
		r = PTR_ERR(c);
	} else {
		const char *why = NULL;

		r = crucible_set_leg(c, leg, fail, &why);
		if (r && why && info->extack)
			info->extack->_msg = why;	/* a static string */
	}
	mutex_unlock(&crucible_volumes_lock);
	return r;
}

static int set_throttle_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr **a = info->attrs;
	struct crucible *c;
	int r = 0;

	if (!a[CRUCIBLE_ATTR_REPAIR_THROTTLE] &&
	    !a[CRUCIBLE_ATTR_HYDRATION_THROTTLE]) {
		NL_SET_ERR_MSG(info->extack, "REPAIR_THROTTLE or HYDRATION_THROTTLE is required");
		return -EINVAL;
	}
	mutex_lock(&crucible_volumes_lock);
	c = volume_of(info);
	if (IS_ERR(c)) {
		r = PTR_ERR(c);
		goto out;
	}
	if (a[CRUCIBLE_ATTR_HYDRATION_THROTTLE] && !c->parent) {
		NL_SET_ERR_MSG_ATTR(info->extack, a[CRUCIBLE_ATTR_HYDRATION_THROTTLE],
				    "the volume has no parent");
		r = -EINVAL;
		goto out;
	}
	if (a[CRUCIBLE_ATTR_REPAIR_THROTTLE])
		c->repair_throttle = nla_get_u32(a[CRUCIBLE_ATTR_REPAIR_THROTTLE]);
	if (a[CRUCIBLE_ATTR_HYDRATION_THROTTLE])
		c->hydrate_throttle = nla_get_u32(a[CRUCIBLE_ATTR_HYDRATION_THROTTLE]);
out:
	mutex_unlock(&crucible_volumes_lock);
	return r;
}

static int reconcile_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct crucible *c;
	int r = 0;

	if (GENL_REQ_ATTR_CHECK(info, CRUCIBLE_ATTR_RECONCILE))
		return -EINVAL;
	mutex_lock(&crucible_volumes_lock);
	c = volume_of(info);
	if (IS_ERR(c)) {
		r = PTR_ERR(c);
	} else {
		c->repair_running = nla_get_u8(info->attrs[CRUCIBLE_ATTR_RECONCILE]);
		if (c->repair_running)
			crucible_kick_repair(c);
		crucible_raise_event(c);
	}
	mutex_unlock(&crucible_volumes_lock);
	return r;
}

static struct netlink_range_validation throttle_range = {
	.min = 0,
	.max = 1000000,
};

static const struct nla_policy crucible_nl_policy[CRUCIBLE_ATTR_MAX + 1] = {
	[CRUCIBLE_ATTR_DEV]		= { .type = NLA_U32 },
	[CRUCIBLE_ATTR_LEG]		= NLA_POLICY_MAX(NLA_U8, CRUCIBLE_NR_LEGS - 1),
	[CRUCIBLE_ATTR_SRC_LEG]		= NLA_POLICY_MAX(NLA_U8, CRUCIBLE_NR_LEGS - 1),
	[CRUCIBLE_ATTR_DST_LEGS]	= NLA_POLICY_RANGE(NLA_U8, 1, 7),
	[CRUCIBLE_ATTR_FIRST]		= { .type = NLA_U64 },
	[CRUCIBLE_ATTR_COUNT]		= NLA_POLICY_MIN(NLA_U64, 1),
	[CRUCIBLE_ATTR_LEG_ACTION]	= NLA_POLICY_RANGE(NLA_U8,
							   CRUCIBLE_LEG_ACTION_FAIL,
							   CRUCIBLE_LEG_ACTION_RESTORE),
	[CRUCIBLE_ATTR_REPAIR_THROTTLE]	= NLA_POLICY_FULL_RANGE(NLA_U32, &throttle_range),
	[CRUCIBLE_ATTR_HYDRATION_THROTTLE] = NLA_POLICY_FULL_RANGE(NLA_U32, &throttle_range),
	[CRUCIBLE_ATTR_RECONCILE]	= NLA_POLICY_MAX(NLA_U8, 1),
};

static const struct genl_ops crucible_nl_ops[] = {
	{
		.cmd = CRUCIBLE_CMD_LIST_VOLUMES,
		.dumpit = list_volumes_dump,
		.flags = GENL_ADMIN_PERM,
	},
	{
		.cmd = CRUCIBLE_CMD_GET_REGIONS,
		.dumpit = get_regions_dump,
		.flags = GENL_ADMIN_PERM,
	},
	{
		.cmd = CRUCIBLE_CMD_GET_RECORDS,
		.dumpit = get_records_dump,
		.flags = GENL_ADMIN_PERM,
	},
	{
		.cmd = CRUCIBLE_CMD_REPAIR,
		.doit = repair_doit,
		.flags = GENL_ADMIN_PERM,
	},
	{
		.cmd = CRUCIBLE_CMD_SET_LEG,
		.doit = set_leg_doit,
		.flags = GENL_ADMIN_PERM,
	},
	{
		.cmd = CRUCIBLE_CMD_SET_THROTTLE,
		.doit = set_throttle_doit,
		.flags = GENL_ADMIN_PERM,
	},
	{
		.cmd = CRUCIBLE_CMD_RECONCILE,
		.doit = reconcile_doit,
		.flags = GENL_ADMIN_PERM,
	},
};

static const struct genl_multicast_group crucible_nl_mcgrps[] = {
	{ .name = CRUCIBLE_GENL_MCGRP, .flags = GENL_MCAST_CAP_NET_ADMIN },
};

static struct genl_family crucible_genl __ro_after_init = {
	.name = CRUCIBLE_GENL_NAME,
	.version = CRUCIBLE_GENL_VERSION,
	.maxattr = CRUCIBLE_ATTR_MAX,
	.policy = crucible_nl_policy,
	.module = THIS_MODULE,
	.ops = crucible_nl_ops,
	.n_ops = ARRAY_SIZE(crucible_nl_ops),
	.mcgrps = crucible_nl_mcgrps,
	.n_mcgrps = ARRAY_SIZE(crucible_nl_mcgrps),
};

/*
 * Events
 */

static struct sk_buff *event_new(struct crucible *c, u8 cmd, void **hdr)
{
	struct sk_buff *skb;

	skb = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!skb)
		return NULL;
	*hdr = genlmsg_put(skb, 0, 0, &crucible_genl, 0, cmd);
	if (!*hdr || nla_put_u32(skb, CRUCIBLE_ATTR_DEV, c->nl_dev)) {
		nlmsg_free(skb);
		return NULL;
	}
	return skb;
}

static void event_send(struct sk_buff *skb, void *hdr)
{
	genlmsg_end(skb, hdr);
	genlmsg_multicast(&crucible_genl, skb, 0, 0, GFP_KERNEL);
}

static void event_leg(struct crucible *c, u8 cmd, unsigned int leg, u8 state)
{
	struct sk_buff *skb;
	void *hdr;

	skb = event_new(c, cmd, &hdr);
	if (!skb)
		return;
	if (nla_put_u8(skb, CRUCIBLE_ATTR_LEG, leg) ||
	    nla_put_u8(skb, CRUCIBLE_ATTR_LEG_STATE, state)) {
		nlmsg_free(skb);
		return;
	}
	event_send(skb, hdr);
}

static void event_sync(struct crucible *c, u8 cmd, const struct volume_snap *v)
{
	struct sk_buff *skb;
	void *hdr;

	skb = event_new(c, cmd, &hdr);
	if (!skb)
		return;
	if (nla_put_u64_64bit(skb, CRUCIBLE_ATTR_IN_SYNC, v->in_sync,
			      CRUCIBLE_ATTR_PAD) ||
	    nla_put_u64_64bit(skb, CRUCIBLE_ATTR_NR_REGIONS, c->geo.nr_regions,
			      CRUCIBLE_ATTR_PAD) ||
	    nla_put_u64_64bit(skb, CRUCIBLE_ATTR_REPAIRED, v->repaired,
			      CRUCIBLE_ATTR_PAD)) {
		nlmsg_free(skb);
		return;
	}
	event_send(skb, hdr);
}

static void event_block(struct crucible *c, const struct crucible_nl_mismatch *m)
{
	struct sk_buff *skb;
	void *hdr;

	skb = event_new(c, m->cmd, &hdr);
	if (!skb)
		return;
	if ((m->cmd == CRUCIBLE_EVENT_MISMATCH &&
	     nla_put_u8(skb, CRUCIBLE_ATTR_LEG, m->leg)) ||
	    nla_put_u64_64bit(skb, CRUCIBLE_ATTR_BLOCK, m->block, CRUCIBLE_ATTR_PAD)) {
		nlmsg_free(skb);
		return;
	}
	event_send(skb, hdr);
}

static void event_hydrated(struct crucible *c, const struct volume_snap *v)
{
	struct sk_buff *skb;
	void *hdr;

	skb = event_new(c, CRUCIBLE_EVENT_HYDRATION_DONE, &hdr);
	if (!skb)
		return;
	if (nla_put_u64_64bit(skb, CRUCIBLE_ATTR_HYDRATED, v->hydrated,
			      CRUCIBLE_ATTR_PAD) ||
	    nla_put_u64_64bit(skb, CRUCIBLE_ATTR_HYDRATION_TOTAL, v->total,
			      CRUCIBLE_ATTR_PAD)) {
		nlmsg_free(skb);
		return;
	}
	event_send(skb, hdr);
}

static void send_gone(struct crucible *c)
{
	struct sk_buff *skb;
	void *hdr;

	if (!genl_has_listeners(&crucible_genl, &init_net, 0))
		return;
	skb = event_new(c, CRUCIBLE_EVENT_VOLUME_GONE, &hdr);
	if (skb)
		event_send(skb, hdr);
}

/*
 * Queue an integrity mismatch for the next event; any context.  A full
 * queue drops the newest: the counter in the status line still counts it.
 */
static void queue_block_event(struct crucible *c, u8 cmd, u8 leg, u64 block)
{
	struct crucible_nl_mismatch *m;
	unsigned long flags;

	spin_lock_irqsave(&c->lock, flags);
	if (c->nl_nr_mismatch < CRUCIBLE_NL_MISMATCH_QUEUE) {
		m = &c->nl_mismatch[c->nl_nr_mismatch++];
		m->cmd = cmd;
		m->leg = leg;
		m->block = block;
	}
	spin_unlock_irqrestore(&c->lock, flags);
	crucible_raise_event(c);
}

void crucible_nl_mismatch(struct crucible *c, unsigned int leg, u64 block)
{
	queue_block_event(c, CRUCIBLE_EVENT_MISMATCH, leg, block);
}

/* Queue "no leg has a good copy of @block"; any context. */
void crucible_nl_unrecoverable(struct crucible *c, u64 block)
{
	queue_block_event(c, CRUCIBLE_EVENT_UNRECOVERABLE, 0, block);
}

/*
 * Send what changed since the last call: the volume's event work, process
 * context.  Progress is reported at most once a second.
 */
void crucible_nl_notify(struct crucible *c)
{
	struct crucible_nl_mismatch mm[CRUCIBLE_NL_MISMATCH_QUEUE];
	struct volume_snap v;
	unsigned int i, nr;
	bool hydrated, progress_later = false;

	if (list_empty(&c->nl_node))
		return;
	snap_volume(c, &v);
	spin_lock_irq(&c->lock);
	nr = c->nl_nr_mismatch;
	memcpy(mm, c->nl_mismatch, nr * sizeof(mm[0]));
	c->nl_nr_mismatch = 0;
	hydrated = c->hydrate_reported && c->parent;
	spin_unlock_irq(&c->lock);

	if (!genl_has_listeners(&crucible_genl, &init_net, 0))
		goto remember;

	for (i = 0; i < CRUCIBLE_NR_LEGS; i++) {
		bool was_out = c->nl_last.legs[i] >= CRUCIBLE_NL_LEG_FAILED;
		bool is_out = v.legs[i] >= CRUCIBLE_NL_LEG_FAILED;

		if (is_out && !was_out)
			event_leg(c, CRUCIBLE_EVENT_LEG_FAULTED, i, v.legs[i]);
		else if (!is_out && was_out)
			event_leg(c, CRUCIBLE_EVENT_LEG_BACK, i, v.legs[i]);
	}
	if (v.in_sync < c->geo.nr_regions && v.in_sync < c->nl_last.in_sync) {
		event_sync(c, CRUCIBLE_EVENT_NEED_REPAIR, &v);
	} else if (v.in_sync == c->geo.nr_regions &&
		   c->nl_last.in_sync < c->geo.nr_regions) {
		event_sync(c, CRUCIBLE_EVENT_REPAIR_DONE, &v);
	} else if (v.in_sync != c->nl_last.in_sync &&
		   time_after_eq(jiffies, c->nl_last_progress + HZ)) {
		event_sync(c, CRUCIBLE_EVENT_REPAIR_PROGRESS, &v);
		c->nl_last_progress = jiffies;
	} else if (v.in_sync != c->nl_last.in_sync) {
		progress_later = true;	/* too soon: a later event reports it */
	}
	for (i = 0; i < nr; i++)
		event_block(c, &mm[i]);
	if (hydrated && !c->nl_hydrated_sent)
		event_hydrated(c, &v);
remember:
	c->nl_hydrated_sent = hydrated;
	memcpy(c->nl_last.legs, v.legs, sizeof(v.legs));
	if (!progress_later)
		c->nl_last.in_sync = v.in_sync;
}

/* The state events are measured against starts at the first resume. */
void crucible_nl_reset(struct crucible *c)
{
	struct volume_snap v;

	snap_volume(c, &v);
	memcpy(c->nl_last.legs, v.legs, sizeof(v.legs));
	c->nl_last.in_sync = v.in_sync;
	c->nl_hydrated_sent = c->hydrate_reported && c->parent;
}

int __init crucible_nl_init(void)
{
	return genl_register_family(&crucible_genl);
}

void crucible_nl_exit(void)
{
	genl_unregister_family(&crucible_genl);
}
