#!/bin/bash
# vm-timeout: 240
# A caller that keeps changing its buffer while its O_DIRECT writes are in
# flight (one thread writes in a loop, another flips bytes in the same
# buffer) must not make the legs differ from each other or from their block
# hashes: the target hashes one stable copy and writes that copy to every
# leg. Afterwards the three data areas are identical, every block reads back
# from every leg (three reads in a row of each block, round robin) as the
# data areas hold it, and no mismatch was counted. A reader whose buffer
# changes while its reads are in flight gets no error and causes no mismatch
# to be counted either.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=SCRIPTDIR/../lib-crucible.sh
. "$(dirname "$0")/../lib-crucible.sh"

VOLUME_MIB=32
SECTORS=$((VOLUME_MIB * 2048))
REGION=$CRUCIBLE_DEFAULT_REGION
VOL=/dev/mapper/vol
RANGE_BLOCKS=2048	# the writes land in the first 8 MiB

MUTATE='' READ=''
crucible_helper MUTATE crucible-dio-mutate
crucible_helper READ crucible-read-blocks

legs=()
step "three blank loop legs, volume of $VOLUME_MIB MiB"
make_loop_legs legs $VOLUME_MIB
crucible_create vol "$SECTORS" "${legs[@]}"

step "O_DIRECT writes of 4-256 KiB from a page-aligned buffer that changes under them"
"$MUTATE" -n 1200 -b $RANGE_BLOCKS -S 1 $VOL
step "the same from a buffer 512 bytes past a page boundary (blocks span two pages)"
"$MUTATE" -n 1200 -b $RANGE_BLOCKS -a 512 -S 2 $VOL
step "and 3584 bytes past it"
"$MUTATE" -n 600 -b $RANGE_BLOCKS -a 3584 -S 3 $VOL
dmsetup status vol
expect_status vol legs AAA
expect_counter vol mismatches -eq 0

step "the three data areas are identical"
expect_legs_equal "$SECTORS" "$REGION" "${legs[@]}"

step "every block written reads back from every leg as the data areas hold it"
base=$(leg_data_offset "$SECTORS" "$REGION")
dd if="${legs[0]}" of=image bs=1M iflag=direct,skip_bytes,count_bytes skip="$base" \
	count=$((SECTORS * 512)) status=none
drop_caches
"$READ" -t 3 -e image $VOL 0 $RANGE_BLOCKS
step "the whole volume reads back as leg 0's data area"
expect_data $VOL image
dmsetup status vol
expect_counter vol mismatches -eq 0
expect_counter vol repaired -eq 0

step "O_DIRECT reads into a buffer that changes under them: no error, no mismatch"
"$MUTATE" -r -n 1200 -b $RANGE_BLOCKS -a 512 -S 4 $VOL
dmsetup status vol
expect_counter vol mismatches -eq 0
expect_status vol legs AAA
expect_data $VOL image

crucible_remove vol
