/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Strict parsers for the numbers and sizes the programs accept.
 */
#ifndef CRU_PARSE_H
#define CRU_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "log.h"

/* Decimal, no sign, no spaces; -EINVAL if not a number, -ERANGE if too big. */
int cru_parse_u64(const char *s, uint64_t *out);
/* Same, for the first @len characters of @s only. */
int cru_parse_u64_n(const char *s, size_t len, uint64_t *out);

/*
 * A size: bytes, or a number followed by a binary unit K, M, G, T or P
 * (any case, optionally followed by "iB" or "B"): "4096", "64K", "1G",
 * "2GiB".
 */
int cru_parse_size(const char *s, uint64_t *bytes, struct cru_err *err);

/* "1.0 GiB", "512 KiB", "4096 B". */
void cru_format_size(uint64_t bytes, char *buf, size_t len);

#endif /* CRU_PARSE_H */
