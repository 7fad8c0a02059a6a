// SPDX-License-Identifier: GPL-2.0
/*
 * The pool registry file.
 */
#include "pool_registry.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pool.h"

const char *cru_pool_registry_path(const char *override)
{
	const char *env = getenv(CRU_POOL_REGISTRY_ENV);

	if (override && *override)
		return override;
	if (env && *env)
		return env;
	return CRU_POOL_REGISTRY_DEFAULT;
}

static int parse(FILE *f, const char *file, struct cru_pool_reg **v,
		 size_t *n, struct cru_err *err)
{
	char line[4300];
	size_t cap = 0, lineno = 0;

	*v = NULL;
	*n = 0;
	while (fgets(line, sizeof(line), f)) {
		struct cru_pool_reg e;
		char name[64], uuid[64], extra[8];
		char *path = malloc(4300);
		int k;

		lineno++;
		if (!path)
			return cru_err_set(err, -ENOMEM, "out of memory");
		line[strcspn(line, "#\n")] = '\0';
		k = sscanf(line, "%63s %4299s %63s %7s", name, path, uuid, extra);
		if (k <= 0) {
			free(path);
			continue;
		}
		if (k != 3 || !cru_pool_name_valid(name) || strlen(uuid) != 36 ||
		    strlen(path) >= sizeof(e.path)) {
			free(path);
			free(*v);
			*v = NULL;
			*n = 0;
			return cru_err_set(err, -EINVAL,
					   "%s, line %zu: expected '<name> <path> <uuid>'",
					   file, lineno);
		}
		memset(&e, 0, sizeof(e));
		strcpy(e.name, name);
		strcpy(e.path, path);
		strcpy(e.uuid, uuid);
		free(path);
		if (*n == cap) {
			struct cru_pool_reg *bigger;

			cap = cap ? 2 * cap : 8;
			bigger = realloc(*v, cap * sizeof(**v));
			if (!bigger) {
				free(*v);
				*v = NULL;
				*n = 0;
				return cru_err_set(err, -ENOMEM, "out of memory");
			}
			*v = bigger;
		}
		(*v)[(*n)++] = e;
	}
	return 0;
}

/* The file is replaced by rename: readers see the old or the new one whole. */
int cru_pool_registry_load(const char *file, struct cru_pool_reg **v,
			   size_t *n, struct cru_err *err)
{
	FILE *f = fopen(file, "re");
	int ret;

	*v = NULL;
	*n = 0;
	if (!f) {
		if (errno == ENOENT)
			return 0;
		return cru_err_set(err, -errno, "cannot read %s: %s", file,
				   strerror(errno));
	}
	ret = parse(f, file, v, n, err);
	fclose(f);
	return ret;
}

static int mkdir_parent(const char *file)
{
	char *copy = strdup(file), *dir;
	int ret = 0;

	if (!copy)
		return -ENOMEM;
	dir = dirname(copy);
	if (mkdir(dir, 0755) && errno != EEXIST)
		ret = -errno;
	free(copy);
	return ret;
}

/* Rewrite @file with @v (under the lock). */
static int write_file(const char *file, const struct cru_pool_reg *v,
		      size_t n, struct cru_err *err)
{
	char tmp[4200];
	FILE *f;
	size_t i;
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", file, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return cru_err_set(err, -errno, "cannot write %s: %s", tmp,
				   strerror(errno));
	f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		unlink(tmp);
		return cru_err_set(err, -ENOMEM, "out of memory");
	}
	fprintf(f, "# crucible pools on this host: <name> <path> <uuid> (cruciblectl pool init)\n");
	for (i = 0; i < n; i++)
		fprintf(f, "%s %s %s\n", v[i].name, v[i].path, v[i].uuid);
	if (fflush(f) || fsync(fd) || ferror(f)) {
		int e = errno ? errno : EIO;

		fclose(f);
		unlink(tmp);
		return cru_err_set(err, -e, "cannot write %s: %s", tmp,
				   strerror(e));
	}
	fclose(f);
	if (rename(tmp, file)) {
		int e = errno;

		unlink(tmp);
		return cru_err_set(err, -e, "cannot replace %s: %s", file,
				   strerror(e));
	}
	return 0;
}

/*
 * Lock "<file>.lock" for a change (not the file itself: it is replaced by
 * rename); returns the locked fd.
 */
static int lock_file(const char *file, struct cru_err *err)
{
	char lock[4200];
	int fd, ret = mkdir_parent(file);

	if (ret)
		return cru_err_set(err, ret, "cannot create the directory of %s: %s",
				   file, strerror(-ret));
	snprintf(lock, sizeof(lock), "%s.lock", file);
	fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return cru_err_set(err, -errno, "cannot open %s: %s", lock,
				   strerror(errno));
	if (flock(fd, LOCK_EX)) {
		ret = -errno;
		close(fd);
		return cru_err_set(err, ret, "cannot lock %s: %s", file,
				   strerror(-ret));
	}
	return fd;
}

int cru_pool_registry_add(const char *file, const struct cru_pool_reg *e,
			  struct cru_err *err)
{
	struct cru_pool_reg *v = NULL, *bigger;
	size_t n = 0, i, k;
	int fd, ret;

	if (strchr(e->path, ' ') || strchr(e->path, '\t') ||
	    strchr(e->path, '\n') || strchr(e->path, '#'))
		return cru_err_set(err, -EINVAL,
				   "%s: a pool path with spaces or '#' cannot be registered",
				   e->path);
	fd = lock_file(file, err);
	if (fd < 0)
		return fd;
	ret = cru_pool_registry_load(file, &v, &n, err);
	for (i = 0; i < n && !ret; i++)
		if (!strcmp(v[i].name, e->name) && strcmp(v[i].path, e->path))
			ret = cru_err_set(err, -EEXIST,
					  "a pool named %s is already registered at %s (%s)",
					  e->name, v[i].path, file);
	if (!ret) {
		for (i = k = 0; i < n; i++)
			if (strcmp(v[i].path, e->path))
				v[k++] = v[i];
		bigger = realloc(v, (k + 1) * sizeof(*v));
		if (!bigger) {
			ret = cru_err_set(err, -ENOMEM, "out of memory");
		} else {
			v = bigger;
			v[k++] = *e;
			ret = write_file(file, v, k, err);
		}
	}
	free(v);
	close(fd);
	return ret;
}

int cru_pool_registry_remove(const char *file, const char *name,
			     struct cru_err *err)
{
	struct cru_pool_reg *v = NULL;
	size_t n = 0, i, k;
	int fd, ret;

	fd = lock_file(file, err);
	if (fd < 0)
		return fd;
	ret = cru_pool_registry_load(file, &v, &n, err);
	if (!ret) {
		for (i = k = 0; i < n; i++)
			if (strcmp(v[i].name, name))
				v[k++] = v[i];
		if (k == n)
			ret = cru_err_set(err, -ENOENT, "no pool named %s in %s",
					  name, file);
		else
			ret = write_file(file, v, k, err);
	}
	free(v);
	close(fd);
	return ret;
}

int cru_pool_registry_find(const char *file, const char *name,
			   struct cru_pool_reg *out, struct cru_err *err)
{
	struct cru_pool_reg *v;
	size_t n, i;
	int ret = cru_pool_registry_load(file, &v, &n, err);

	if (ret)
		return ret;
	ret = cru_err_set(err, -ENOENT, "no pool named %s in %s", name, file);
	for (i = 0; i < n; i++)
		if (!strcmp(v[i].name, name)) {
			*out = v[i];
			ret = 0;
			break;
		}
	free(v);
	return ret;
}
