#!/bin/bash
# vm-timeout: 300
# A metadata block that reads back as zeros (a lost or misdirected write, a
# device that returns zeros) must never make written data read as zeros:
# an all-zero record means "never written" only in a region that was never
# stamped, so a zeroed record block in a written region is a bad record,
# and another leg's record decides.
#
# A 64 MiB volume in 1 MiB regions is filled, removed, and leg 0's whole
# record area (blocks 3..66) is zeroed; created again, every block reads
# back right, several times over (round-robin reads reach every leg), and
# repair makes leg 0 whole again: its data and records equal the others'.
# Then the same with leg 1's region table and leg 2's record area zeroed at
# once, and with the first record block zeroed on two legs.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=SCRIPTDIR/../lib-crucible.sh
. "$(dirname "$0")/../lib-crucible.sh"

VOLUME_MIB=64
SECTORS=$((VOLUME_MIB * 2048))
REGION=2048			# 1 MiB: 64 regions
BLOCKS=$((SECTORS / 8))
VOL=/dev/mapper/vol
# Layout (Documentation/on-disk-format.rst): two superblocks, one region
# table block (64 entries), then one record block per 256 data blocks.
TABLE_START=2
RECORD_START=3
RECORD_BLOCKS=$((BLOCKS / 256))

SB=''
crucible_helper SB crucible-sb

legs=()
make_loop_legs legs $VOLUME_MIB

# zero_blocks LEG FIRST COUNT: 4 KiB blocks FIRST.. of LEG become zeros.
zero_blocks() {
	dd if=/dev/zero of="$1" bs=4k seek="$2" count="$3" oflag=direct conv=notrunc status=none ||
		fail "cannot zero blocks $2+$3 of $1"
}

# read_back N: the whole volume, N times, each time from the device (O_DIRECT).
read_back() {
	local n
	for n in $(seq "$1"); do
		data_matches $VOL image || fail "read $n of the volume differs from what was written ($(dmsetup status vol))"
	done
	echo "the volume read back right $1 times"
}

# expect_records_equal: every record of every block agrees on the three legs.
expect_records_equal() {
	local b r0 r1 r2
	for b in 0 1 255 256 4095 8191 $((BLOCKS - 1)); do
		r0=$("$SB" "${legs[0]}" record $b)
		r1=$("$SB" "${legs[1]}" record $b)
		r2=$("$SB" "${legs[2]}" record $b)
		if [ "$r0" != "$r1" ] || [ "$r0" != "$r2" ]; then
			fail "block $b: records differ: leg 0 '$r0', leg 1 '$r1', leg 2 '$r2'"
		fi
		case $r0 in *"data matches"*) ;; *) fail "block $b: record does not match the data: $r0" ;; esac
	done
	echo "records agree on the three legs and match the data"
}

step "a $VOLUME_MIB MiB volume, filled with random data"
crucible_create vol "$SECTORS" "${legs[@]}" - region_size $REGION
random_file image $VOLUME_MIB
write_image image $VOL
crucible_remove vol

step "leg 0's record area (blocks $RECORD_START..$((RECORD_START + RECORD_BLOCKS - 1))) zeroed"
zero_blocks "${legs[0]}" $RECORD_START $RECORD_BLOCKS
"$SB" "${legs[0]}" record 100
crucible_create vol "$SECTORS" "${legs[@]}" - region_size $REGION
dmsetup status vol
read_back 3
wait_synced vol
dmsetup status vol
expect_legs_equal "$SECTORS" "$REGION" "${legs[@]}"
expect_records_equal
read_back 1
crucible_remove vol

step "leg 1's region table and leg 2's record area zeroed at once"
zero_blocks "${legs[1]}" $TABLE_START 1
zero_blocks "${legs[2]}" $RECORD_START $RECORD_BLOCKS
crucible_create vol "$SECTORS" "${legs[@]}" - region_size $REGION
dmsetup status vol
read_back 3
wait_synced vol
expect_legs_equal "$SECTORS" "$REGION" "${legs[@]}"
expect_records_equal
crucible_remove vol

step "the first record block zeroed on legs 0 and 1: leg 2's records decide"
zero_blocks "${legs[0]}" $RECORD_START 1
zero_blocks "${legs[1]}" $RECORD_START 1
crucible_create vol "$SECTORS" "${legs[@]}" - region_size $REGION
read_back 3
wait_synced vol
expect_legs_equal "$SECTORS" "$REGION" "${legs[@]}"
expect_records_equal
crucible_remove vol

step "a never-written volume still reads as zeros, with no I/O error"
zero_blocks "${legs[0]}" 0 $((RECORD_START + RECORD_BLOCKS))
zero_blocks "${legs[1]}" 0 $((RECORD_START + RECORD_BLOCKS))
zero_blocks "${legs[2]}" 0 $((RECORD_START + RECORD_BLOCKS))
crucible_create vol "$SECTORS" "${legs[@]}" - region_size $REGION
head -c $((VOLUME_MIB << 20)) /dev/zero >zeros
data_matches $VOL zeros || fail "a new volume does not read as zeros"
expect_counter vol mismatches -eq 0
crucible_remove vol
