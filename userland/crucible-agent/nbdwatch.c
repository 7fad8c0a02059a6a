// SPDX-License-Identifier: GPL-2.0
/*
 * crucible-agent: keep NBD legs connected (see nbdwatch.h and
 * Documentation/nbd.rst, "Remote legs and the agent").
 */
#include "nbdwatch.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <json.h>

#include "../lib/dm.h"
#include "../lib/log.h"
#include "../lib/nbd.h"
#include "../lib/nbdleg.h"

/* Without the nbd module, look for its family this often. */
#define NBD_FAMILY_RETRY	30.0

double agent_nbd_backoff(unsigned int attempts)
{
	double d = AGENT_NBD_BACKOFF_FIRST;

	while (attempts-- > 1 && d < AGENT_NBD_BACKOFF_MAX)
		d *= 2;
	return d < AGENT_NBD_BACKOFF_MAX ? d : AGENT_NBD_BACKOFF_MAX;
}

void agent_nbd_init(struct agent_nbd *nb, const char *state_dir)
{
	memset(nb, 0, sizeof(*nb));
	nb->state_dir = state_dir;
	nb->dirty = true;
}

void agent_nbd_close(struct agent_nbd *nb)
{
	cru_nl_close(nb->ev);
	nb->ev = NULL;
}

int agent_nbd_fd(const struct agent_nbd *nb)
{
	return nb->ev ? cru_nl_fd(nb->ev) : -1;
}

static struct agent_nbd_dev *find(struct agent_nbd *nb, int index)
{
	size_t i;

	for (i = 0; i < AGENT_NBD_MAX; i++)
		if (nb->devs[i].used && nb->devs[i].index == index)
			return &nb->devs[i];
	return NULL;
}

/* The entry of /dev/nbd@index if its backend is one of ours, made if new. */
static struct agent_nbd_dev *track(struct agent_nbd *nb, int index)
{
	char backend[CRU_SPEC_URI_MAX + 1];
	struct agent_nbd_dev *d = find(nb, index);
	size_t i;

	if (d)
		return d;
	if (cru_nbdleg_backend(index, backend, sizeof(backend)) ||
	    !cru_nbdleg_is_ours(backend))
		return NULL;
	for (i = 0; i < AGENT_NBD_MAX; i++) {
		d = &nb->devs[i];
		if (d->used)
			continue;
		memset(d, 0, sizeof(*d));
		d->used = true;
		d->index = index;
		d->leg = -1;
		snprintf(d->uri, sizeof(d->uri), "%s", backend);
		nb->dirty = true;
		return d;
	}
	log_warn("/dev/nbd%d: more than %d NBD legs: not watched", index,
		 AGENT_NBD_MAX);
	return NULL;
}

static void mark_dead(struct agent_nbd *nb, struct agent_nbd_dev *d,
		      double now, const char *why)
{
	if (d->link == AGENT_NBD_DEAD)
		return;
	d->link = AGENT_NBD_DEAD;
	d->attempts = 0;
	d->next_attempt = now;
	nb->dirty = true;
	log_warn("/dev/nbd%d (%s): %s; reconnecting", d->index, d->uri, why);
}

struct link_dead_ctx {
	struct agent_nbd *nb;
	double now;
	bool due;
};

static void on_link_dead(int index, void *arg)
{
	struct link_dead_ctx *x = arg;
	struct agent_nbd_dev *d = track(x->nb, index);

	if (!d) {
		log_debug("NBD link of /dev/nbd%d died: not one of our legs",
			  index);
		return;
	}
	mark_dead(x->nb, d, x->now, "link dead");
	x->due = true;
}

bool agent_nbd_read_events(struct agent_nbd *nb, double now)
{
	struct link_dead_ctx x = { .nb = nb, .now = now };
	struct cru_err err;
	int r;

	if (!nb->ev)
		return false;
	while ((r = cru_nbd_nl_read_events(nb->ev, on_link_dead, &x, &err)) ==
	       -ENOBUFS)
		log_warn("NBD events were lost; failed legs are still found from volume state");
	if (r < 0) {
		log_warn("NBD events: %s; reopening the socket", err.msg);
		agent_nbd_close(nb);
		nb->next_open = now;
	}
	return x.due;
}

/* The state of volume @name, or NULL if it is not listed. */
static const struct cru_nl_volume *find_volume(const struct agent_nl_volume *vols,
					       size_t nr, const char *name)
{
	size_t i;

	for (i = 0; i < nr; i++)
		if (vols[i].have && !strcmp(vols[i].cur.name, name))
			return &vols[i].cur;
	return NULL;
}

/*
 * Forget devices that are no longer legs of ours: a device whose link is up
 * and that is no longer connected to the export it was (disconnected by
 * cruciblectl remove, or another connection on the same index), and any
 * device of a volume that is gone (a dead one would otherwise be connected
 * again for nobody).  A volume that comes back has its legs found again.
 */
static void forget_gone(struct agent_nbd *nb, const struct agent_nl_volume *vols,
			size_t nr)
{
	char backend[CRU_SPEC_URI_MAX + 1];
	size_t i;

	for (i = 0; i < AGENT_NBD_MAX; i++) {
		struct agent_nbd_dev *d = &nb->devs[i];
		const char *why;

		if (!d->used)
			continue;
		if (d->volume[0] && !find_volume(vols, nr, d->volume))
			why = "its volume is gone";
		else if (d->link == AGENT_NBD_UP &&
			 (cru_nbdleg_backend(d->index, backend, sizeof(backend)) ||
			  strcmp(backend, d->uri)))
			why = "no longer connected";
		else
			continue;
		log_debug("/dev/nbd%d (%s): %s; forgotten", d->index, d->uri,
			  why);
		d->used = false;
		nb->dirty = true;
	}
}

/*
 * Watch every leg of the volumes that sits on an NBD device of ours (so
 * that nbd.json, and cruciblectl status, tell of every one), and have the
 * failed ones reconnected.
 */
static void scan_legs(struct agent_nbd *nb, struct agent_nl_volume *vols,
		      size_t nr, double now)
{
	struct cru_volume vol;
	struct cru_err err;
	size_t i;
	int leg, index;

	forget_gone(nb, vols, nr);
	for (i = 0; i < nr; i++) {
		const struct cru_nl_volume *v = &vols[i].cur;

		if (!vols[i].have)
			continue;
		if (cru_dm_volume_read(v->name, &vol, &err)) {
			log_debug("%s: %s", v->name, err.msg);
			continue;
		}
		for (leg = 0; leg < CRU_NR_LEGS; leg++) {
			struct agent_nbd_dev *d;

			if (cru_nbdleg_index(vol.table.legs[leg], &index))
				continue;
			d = track(nb, index);
			if (!d)
				continue;
			if (strcmp(d->volume, v->name) || d->leg != leg) {
				snprintf(d->volume, sizeof(d->volume), "%s", v->name);
				d->leg = leg;
				nb->dirty = true;
			}
			if (v->leg_states[leg] == CRUCIBLE_NL_LEG_FAILED &&
			    d->link == AGENT_NBD_UP) {
				char why[CRU_NAME_MAX + 32];

				snprintf(why, sizeof(why), "leg %d of %s failed",
					 leg, v->name);
				mark_dead(nb, d, now, why);
			}
		}
	}
}

/* A failed attempt: the next one after the back-off, in so many seconds. */
static double retry_later(struct agent_nbd_dev *d, double now,
			  const char *why)
{
	d->attempts++;
	d->next_attempt = now + agent_nbd_backoff(d->attempts);
	snprintf(d->last_error, sizeof(d->last_error), "%s", why);
	return d->next_attempt - now;
}

static int reconnect(struct agent_nbd_dev *d, struct cru_err *err)
{
	struct cru_nbd_options o;
	struct cru_nbd_config c;
	struct cru_nbd_export ex;
	struct cru_nl *nl;
	struct cru_nbd_uri u;
	int index, r;

	cru_nbdleg_settings(d->index, AGENT_NBD_CONNECT_MS, 0, &o, &c);
	r = cru_nbd_parse_uri(d->uri, &u, err);
	if (r)
		return r;
	r = cru_nbd_nl_open(&nl, err);
	if (r)
		return r;
	r = cru_nbd_reattach(nl, d->index, &u, &o, NULL, &ex, err);
	if (r == -ENOTCONN && d->volume[0]) {
		/* Its configuration is gone: connect the same device afresh. */
		r = cru_nbd_attach(nl, &u, &o, &c, &index, &ex, err);
		if (!r && index != d->index) {
			cru_nbd_kernel_disconnect(nl, index, err);
			r = cru_err_set(err, -EBUSY,
					"the kernel gave /dev/nbd%d, not /dev/nbd%d",
					index, d->index);
		}
	}
	cru_nl_close(nl);
	return r;
}

/*
 * Whether the old connections to @d's server are done with it (see
 * cru_nbdleg_lingering): until they are, writes queued on one the kernel
 * gave up on could still reach the export, after the leg's repair.
 */
static bool old_connections_done(struct agent_nbd_dev *d, double now)
{
	struct cru_nbd_uri u;
	struct cru_err err;
	int n;

	if (cru_nbd_parse_uri(d->uri, &u, &err) ||
	    cru_nbdleg_lingering(&u, &n, &err)) {
		log_warn("/dev/nbd%d: cannot look for old connections to %s: %s; going on",
			 d->index, d->uri, err.msg);
		return true;
	}
	if (n) {
		if (n != d->lingering)
			log_warn("/dev/nbd%d: %d old connection(s) to %s not finished; the leg goes back in service once they are",
				 d->index, n, d->uri);
		d->lingering = n;
		d->next_attempt = now + AGENT_NBD_LINGER_POLL;
		return false;
	}
	if (d->lingering)
		log_info("/dev/nbd%d: the old connections to %s are finished",
			 d->index, d->uri);
	d->lingering = 0;
	return true;
}

/* Put the leg on a reconnected device back in service. */
static void restore(struct agent_nbd_dev *d, struct agent_nl_volume *vols,
		    size_t nr, struct cru_nl *cmd, double now)
{
	const struct cru_nl_volume *v = find_volume(vols, nr, d->volume);
	char what[CRU_NAME_MAX + 32];
	struct cru_err err;

	if (!v || d->leg < 0 ||
	    v->leg_states[d->leg] != CRUCIBLE_NL_LEG_FAILED || !cmd) {
		d->link = AGENT_NBD_UP;
		return;
	}
	snprintf(what, sizeof(what), "%s: restore leg %d", v->name, d->leg);
	if (cru_nl_request(cmd, cru_nl_msg_set_leg(cru_nl_family(cmd), v->dev,
						   (uint8_t)d->leg,
						   CRUCIBLE_LEG_ACTION_RESTORE),
			   what, &err)) {
		log_warn("%s; trying again in %.0f s", err.msg,
			 retry_later(d, now, err.msg));
		return;
	}
	d->link = AGENT_NBD_UP;
	log_info("%s: leg %d on /dev/nbd%d is back in service (repair of what it missed follows)",
		 v->name, d->leg, d->index);
}

static void write_state(struct agent_nbd *nb)
{
	char path[4096], tmp[4200];
	json_object *root, *arr;
	size_t i;

	snprintf(path, sizeof(path), "%s/nbd.json", nb->state_dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	root = json_object_new_object();
	arr = json_object_new_array();
	for (i = 0; i < AGENT_NBD_MAX; i++) {
		const struct agent_nbd_dev *d = &nb->devs[i];
		json_object *o;

		if (!d->used)
			continue;
		o = json_object_new_object();
		json_object_object_add(o, "index", json_object_new_int(d->index));
		json_object_object_add(o, "uri", json_object_new_string(d->uri));
		json_object_object_add(o, "link", json_object_new_string(
			d->link == AGENT_NBD_DEAD ? "dead" : "up"));
		json_object_object_add(o, "reconnects",
				       json_object_new_int64(d->reconnects));
		json_object_object_add(o, "attempts",
				       json_object_new_int64(d->attempts));
		json_object_object_add(o, "last_error", d->last_error[0] ?
				       json_object_new_string(d->last_error) : NULL);
		json_object_array_add(arr, o);
	}
	json_object_object_add(root, "nbd_legs", arr);
	if (json_object_to_file_ext(tmp, root, JSON_C_TO_STRING_PRETTY) ||
	    rename(tmp, path))
		log_warn("cannot write %s: %s", path, strerror(errno));
	else
		nb->dirty = false;
	json_object_put(root);
}

void agent_nbd_pass(struct agent_nbd *nb, struct agent_nl_volume *vols,
		    size_t nr, struct cru_nl *cmd, double now)
{
	struct cru_err err;
	size_t i;

	if (!nb->ev && now >= nb->next_open) {
		if (cru_nbd_nl_open_events(&nb->ev, &err)) {
			log_debug("NBD link events: %s", err.msg);
			nb->next_open = now + NBD_FAMILY_RETRY;
		}
	}
	scan_legs(nb, vols, nr, now);
	for (i = 0; i < AGENT_NBD_MAX; i++) {
		struct agent_nbd_dev *d = &nb->devs[i];
		double wait;

		if (!d->used || now < d->next_attempt)
			continue;
		if (d->link == AGENT_NBD_DEAD) {
			nb->dirty = true;
			if (reconnect(d, &err)) {
				wait = retry_later(d, now, err.msg);
				log_warn("/dev/nbd%d: reconnect failed (attempt %u): %s; next in %.0f s",
					 d->index, d->attempts, err.msg, wait);
				continue;
			}
			d->link = AGENT_NBD_RECONNECTED;
			d->attempts = 0;
			d->reconnects++;
			d->last_error[0] = '\0';
			log_info("/dev/nbd%d: reconnected to %s (reconnect %u)",
				 d->index, d->uri, d->reconnects);
		}
		if (d->link == AGENT_NBD_RECONNECTED &&
		    old_connections_done(d, now))
			restore(d, vols, nr, cmd, now);
	}
	if (nb->dirty)
		write_state(nb);
}

double agent_nbd_next(const struct agent_nbd *nb)
{
	double next = -1;
	size_t i;

	if (!nb->ev)
		next = nb->next_open;
	for (i = 0; i < AGENT_NBD_MAX; i++) {
		const struct agent_nbd_dev *d = &nb->devs[i];

		if (d->used && d->link != AGENT_NBD_UP &&
		    (next < 0 || d->next_attempt < next))
			next = d->next_attempt;
	}
	return next;
}
