#!/bin/bash
# vm-timeout: 240
# fio's verified random writes on a volume: every 4 KiB block of a range
# written once in random order (O_DIRECT, 8 in flight), then read back and
# checked by fio (crc32c and the block's offset in a header per block); a
# second job with block sizes from 8 KiB to 128 KiB beside it; a read-only
# fio pass checks both again after the page cache is dropped; the range
# never written reads as zeros; no read ever mismatched; and the three legs
# hold the same bytes in their data areas, which are what the volume returns.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=SCRIPTDIR/../lib-crucible.sh
. "$(dirname "$0")/../lib-crucible.sh"

VOLUME_MIB=64
SECTORS=$((VOLUME_MIB * 2048))
REGION=$CRUCIBLE_DEFAULT_REGION
VOL=/dev/mapper/vol

legs=()
step "three blank loop legs, volume of $VOLUME_MIB MiB"
make_loop_legs legs $VOLUME_MIB
crucible_create vol "$SECTORS" "${legs[@]}"

step "fio: random 4 KiB writes over MiB 8-32, verified"
fio_verified_write $VOL 24 8 20
step "fio: random 8-128 KiB writes over MiB 32-40, 16 in flight, verified"
fio_verified_write $VOL 8 32 21 --bsrange=8k-128k --iodepth=16
dmsetup status vol
expect_status vol mode rw
expect_status vol legs AAA
expect_counter vol writes -gt 0
expect_counter vol mismatches -eq 0

step "drop caches; fio checks both ranges again, reading only"
drop_caches
fio_verify_only $VOL 24 8 20
fio_verify_only $VOL 8 32 21 --bsrange=8k-128k --iodepth=16
step "MiB 0-8 and 40-64 were never written: zeros"
head -c 8M /dev/zero >zeros8
head -c 24M /dev/zero >zeros24
expect_data $VOL zeros8
expect_data $VOL zeros24 $((40 << 20))
dmsetup status vol
expect_counter vol reads -gt 0
expect_counter vol mismatches -eq 0
expect_counter vol err0 -eq 0
expect_counter vol err1 -eq 0
expect_counter vol err2 -eq 0

step "the legs' data areas are equal, and equal to the volume"
expect_legs_equal "$SECTORS" "$REGION" "${legs[@]}"
vol_sum=$(dd if=$VOL bs=1M iflag=direct status=none | md5sum | cut -d' ' -f1)
leg_sum=$(leg_area_sum "${legs[0]}" "$SECTORS" "$REGION")
[ "$vol_sum" = "$leg_sum" ] || fail "the volume ($vol_sum) differs from leg 0's data area ($leg_sum)"

crucible_remove vol
