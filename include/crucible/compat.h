/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Types and helpers that the shared dm-crucible code (on-disk format, the
 * reconcile rule) needs, mapped onto the kernel's or onto libc's.
 */
#ifndef CRUCIBLE_COMPAT_H
#define CRUCIBLE_COMPAT_H

#ifdef __KERNEL__
#include <linux/types.h>
#include <linux/string.h>
#include <linux/errno.h>
#include <linux/xxhash.h>
#include <asm/byteorder.h>

#define crucible_xxh64(p, len, seed) xxh64((p), (len), (seed))
#else
#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <errno.h>
#include <endian.h>
#include <linux/types.h>
#include <xxhash.h>

typedef __u8 u8;
typedef __u16 u16;
typedef __u32 u32;
typedef __u64 u64;

#ifndef BIT
#define BIT(n) (1UL << (n))
#endif
#ifndef BIT_ULL
#define BIT_ULL(n) (1ULL << (n))
#endif
#ifndef __packed
#define __packed __attribute__((__packed__))
#endif

#define cpu_to_le16(x) htole16(x)
#define cpu_to_le32(x) htole32(x)
#define cpu_to_le64(x) htole64(x)
#define le16_to_cpu(x) le16toh(x)
#define le32_to_cpu(x) le32toh(x)
#define le64_to_cpu(x) le64toh(x)

#define crucible_xxh64(p, len, seed) ((u64)XXH64((p), (len), (seed)))
#endif

#endif /* CRUCIBLE_COMPAT_H */
