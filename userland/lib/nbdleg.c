// SPDX-License-Identifier: GPL-2.0
/* NBD legs: sysfs lookups shared by cruciblectl and crucible-agent. */
#include "nbdleg.h"

#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <json.h>

int cru_nbdleg_index(const char *dev, int *index)
{
	char link[64], target[PATH_MAX], *base, *end;
	unsigned int maj, min;
	struct stat st;
	ssize_t n;
	long v;

	if (sscanf(dev, "%u:%u", &maj, &min) != 2) {
		if (stat(dev, &st))
			return -errno;
		if (!S_ISBLK(st.st_mode))
			return -ENOENT;
		maj = major(st.st_rdev);
		min = minor(st.st_rdev);
	}
	snprintf(link, sizeof(link), "/sys/dev/block/%u:%u", maj, min);
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		return -errno;
	target[n] = '\0';
	base = strrchr(target, '/');
	base = base ? base + 1 : target;
	if (strncmp(base, "nbd", 3) || !base[3])
		return -ENOENT;
	errno = 0;
	v = strtol(base + 3, &end, 10);
	if (errno || *end || v < 0 || v > INT_MAX)
		return -ENOENT;		/* a partition, nbd0p1 */
	*index = (int)v;
	return 0;
}

int cru_nbdleg_backend(int index, char *buf, size_t len)
{
	char path[64];
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/block/nbd%d/backend", index);
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? -ENOENT : -errno;
	if (!fgets(buf, (int)len, f))
		buf[0] = '\0';
	fclose(f);
	n = strlen(buf);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return n ? 0 : -ENOENT;
}

void cru_nbdleg_settings(int index, int timeout_ms, uint64_t min_size,
			 struct cru_nbd_options *o, struct cru_nbd_config *c)
{
	*o = (struct cru_nbd_options){
		.timeout_ms = timeout_ms,
		.min_size = min_size,
	};
	*c = (struct cru_nbd_config){
		.index = index,
		.timeout_s = CRU_NBDLEG_TIMEOUT_S,
		.dead_conn_timeout_s = CRU_NBDLEG_DEAD_CONN_S,
	};
}

bool cru_nbdleg_is_ours(const char *backend)
{
	return !strncmp(backend, "nbd://", 6);
}

/* The agent's view of /dev/nbd@index, from its nbd.json. */
static void agent_view(const char *state_dir, int index,
		       struct cru_nbdleg_info *info)
{
	json_object *root, *arr, *o, *v;
	char path[4096];
	size_t i, n;

	snprintf(path, sizeof(path), "%s/nbd.json", state_dir);
	if (access(path, R_OK))
		return;
	root = json_object_from_file(path);
	if (!root)
		return;
	if (json_object_object_get_ex(root, "nbd_legs", &arr) &&
	    json_object_is_type(arr, json_type_array)) {
		n = json_object_array_length(arr);
		for (i = 0; i < n; i++) {
			o = json_object_array_get_idx(arr, i);
			if (!json_object_object_get_ex(o, "index", &v) ||
			    json_object_get_int(v) != index)
				continue;
			if (json_object_object_get_ex(o, "link", &v) &&
			    json_object_is_type(v, json_type_string))
				snprintf(info->link, sizeof(info->link), "%s",
					 json_object_get_string(v));
			if (json_object_object_get_ex(o, "reconnects", &v))
				info->reconnects = json_object_get_int64(v);
		}
	}
	json_object_put(root);
}

void cru_nbdleg_describe(const char *dev, const char *state_dir,
			 struct cru_nbdleg_info *info)
{
	memset(info, 0, sizeof(*info));
	info->reconnects = -1;
	if (cru_nbdleg_index(dev, &info->index) ||
	    cru_nbdleg_backend(info->index, info->uri, sizeof(info->uri)) ||
	    !cru_nbdleg_is_ours(info->uri))
		return;
	info->nbd = true;
	agent_view(state_dir, info->index, info);
}

/* TCP states as /proc/net/tcp numbers them (include/net/tcp_states.h). */
#define TCP_ST_FIN_WAIT1	0x04
#define TCP_ST_FIN_WAIT2	0x05
#define TCP_ST_CLOSING		0x0b

int cru_tcp_table_lingering(FILE *f, const char *rem)
{
	char line[512], r[64];
	unsigned long inode;
	unsigned int st;
	int n = 0;

	if (!fgets(line, sizeof(line), f))	/* the header */
		return 0;
	while (fgets(line, sizeof(line), f)) {
		/* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
		if (sscanf(line, " %*s %*s %63s %x %*s %*s %*s %*s %*s %lu",
			   r, &st, &inode) != 3)
			continue;
		if (inode == 0 && !strcasecmp(r, rem) &&
		    (st == TCP_ST_FIN_WAIT1 || st == TCP_ST_FIN_WAIT2 ||
		     st == TCP_ST_CLOSING))
			n++;
	}
	return n;
}

/* @sa's address and port as /proc/net/tcp{,6} print a remote end. */
static void tcp_table_addr(const struct sockaddr *sa, char *buf, size_t len)
{
	uint32_t w[4];

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		memcpy(w, &in->sin_addr, 4);
		snprintf(buf, len, "%08X:%04X", w[0], ntohs(in->sin_port));
	} else {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

		memcpy(w, &in6->sin6_addr, 16);
		snprintf(buf, len, "%08X%08X%08X%08X:%04X", w[0], w[1], w[2],
			 w[3], ntohs(in6->sin6_port));
	}
}

int cru_nbdleg_lingering(const struct cru_nbd_uri *u, int *n,
			 struct cru_err *err)
{
	struct addrinfo *res, *ai;
	char rem[64];
	FILE *f;
	int r;

	*n = 0;
	r = cru_nbd_resolve(u, &res, err);
	if (r)
		return r;
	for (ai = res; ai; ai = ai->ai_next) {
		if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
			continue;
		tcp_table_addr(ai->ai_addr, rem, sizeof(rem));
		f = fopen(ai->ai_family == AF_INET ? "/proc/net/tcp" :
			  "/proc/net/tcp6", "re");
		if (!f)
			continue;	/* no IPv6 here: nothing to wait for */
		*n += cru_tcp_table_lingering(f, rem);
		fclose(f);
	}
	freeaddrinfo(res);
	return 0;
}
