// SPDX-License-Identifier: GPL-2.0
/*
 * Numbers and sizes.
 */
#include "parse.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>

int cru_parse_u64_n(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (!len)
		return -EINVAL;
	for (i = 0; i < len; i++) {
		unsigned int d;

		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		d = s[i] - '0';
		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int cru_parse_u64(const char *s, uint64_t *out)
{
	return cru_parse_u64_n(s, strlen(s), out);
}

static int unit_shift(const char *unit, unsigned int *shift)
{
	static const char units[] = "KMGTP";
	const char *p;

	if (!*unit) {
		*shift = 0;
		return 0;
	}
	if (!strcmp(unit, "B") || !strcmp(unit, "b")) {
		*shift = 0;
		return 0;
	}
	p = strchr(units, toupper((unsigned char)unit[0]));
	if (!p || !unit[0])
		return -EINVAL;
	*shift = 10 * (unsigned int)(p - units + 1);
	unit++;
	if (!*unit || !strcmp(unit, "B") || !strcmp(unit, "iB") ||
	    !strcmp(unit, "ib"))
		return 0;
	return -EINVAL;
}

int cru_parse_size(const char *s, uint64_t *bytes, struct cru_err *err)
{
	size_t digits = strspn(s, "0123456789");
	unsigned int shift;
	uint64_t v;
	int ret;

	if (!digits)
		return cru_err_set(err, -EINVAL,
				   "'%s' is not a size (expected bytes or a number with K, M, G, T or P)",
				   s);
	if (unit_shift(s + digits, &shift))
		return cru_err_set(err, -EINVAL,
				   "'%s': unknown unit '%s' (expected K, M, G, T or P)",
				   s, s + digits);
	ret = cru_parse_u64_n(s, digits, &v);
	if (ret || (shift && v > (UINT64_MAX >> shift)))
		return cru_err_set(err, -ERANGE, "'%s' is too large", s);
	*bytes = v << shift;
	return 0;
}

void cru_format_size(uint64_t bytes, char *buf, size_t len)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB",
					     "EiB" };
	double v = (double)bytes;
	int u = -1;

	if (bytes < 1024) {
		snprintf(buf, len, "%llu B", (unsigned long long)bytes);
		return;
	}
	while (v >= 1024.0 && u < 5) {
		v /= 1024.0;
		u++;
	}
	snprintf(buf, len, "%.1f %s", v, units[u]);
}
