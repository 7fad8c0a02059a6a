#!/bin/bash
# vm-timeout: 300
# Silent corruption written straight onto a leg's data area, bypassing the
# volume, is caught by the block hashes: every block still reads back right
# (each block read three times in a row, so every leg's copy is tried), the
# mismatches counter goes up, repair rewrites exactly the corrupted blocks
# (repaired_blocks), and the corrupted leg's data area ends equal to the
# others'. Three ways: while the volume is live; across a reload after
# fsync'd writes, with two legs corrupted at different blocks; and across a
# reload right after writes that were not fsync'd (a clean deactivation),
# with the corruption on leg 0, the leg that wins every tie.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=SCRIPTDIR/../lib-crucible.sh
. "$(dirname "$0")/../lib-crucible.sh"

VOLUME_MIB=32
SECTORS=$((VOLUME_MIB * 2048))
REGION=$CRUCIBLE_DEFAULT_REGION
REGION_BLOCKS=$((REGION / 8))
VOL=/dev/mapper/vol

READ=''
crucible_helper READ crucible-read-blocks

legs=()
make_loop_legs legs $VOLUME_MIB
BASE=$(leg_data_offset "$SECTORS" "$REGION")

# corrupt LEG FIRST_BLOCK COUNT: random bytes over volume blocks FIRST.. on
# LEG's data area, O_DIRECT, behind the target's back.
corrupt() {
	local leg=$1 first=$2 count=$3
	dd if=/dev/urandom of="$leg" bs=4k count="$count" oflag=direct,seek_bytes \
		seek=$((BASE + first * 4096)) conv=notrunc status=none ||
		fail "cannot corrupt $leg"
}

# check_regions REGION...: every block of these regions, three reads each,
# returns the image's data.
check_regions() {
	local r
	for r in "$@"; do
		"$READ" -t 3 -e image $VOL $((r * REGION_BLOCKS)) $REGION_BLOCKS >/dev/null ||
			fail "region $r does not read back right"
	done
	echo "regions $* read back right, every block three times"
}

# ---- A: live volume, leg 1 corrupted
step "A: volume of $VOLUME_MIB MiB filled with random data (fsync'd)"
crucible_create vol "$SECTORS" "${legs[@]}"
random_file image $VOLUME_MIB
write_image image $VOL
expect_counter vol mismatches -eq 0

step "A: garbage over 5 + 1 + 32 blocks of leg 1 (regions 2, 10, 20)"
corrupt "${legs[1]}" $((2 * REGION_BLOCKS + 5)) 5
corrupt "${legs[1]}" $((10 * REGION_BLOCKS + 100)) 1
corrupt "${legs[1]}" $((20 * REGION_BLOCKS + 200)) 32
drop_caches
check_regions 2 10 20
expect_data $VOL image
dmsetup status vol
expect_counter vol mismatches -gt 0
wait_synced vol
dmsetup status vol
expect_counter vol repaired -eq 38
expect_legs_equal "$SECTORS" "$REGION" "${legs[@]}"
expect_data $VOL image

# ---- B: reload after fsync'd writes, legs 2 and 0 corrupted
step "B: new data over regions 5, 15 and 25 (fsync'd), volume removed"
random_file new 3
for i in 0 1 2; do
	r=$((5 + 10 * i))
	dd if=new of=image bs=4k skip=$((i * REGION_BLOCKS)) seek=$((r * REGION_BLOCKS)) \
		count=$REGION_BLOCKS conv=notrunc status=none
	write_blocks $VOL image $((r * REGION_BLOCKS)) $REGION_BLOCKS
done
sync $VOL
expect_data $VOL image
crucible_remove vol
step "B: garbage over 10 blocks of leg 2 (region 5), 1 + 4 blocks of leg 0 (regions 15, 25)"
corrupt "${legs[2]}" $((5 * REGION_BLOCKS)) 10
corrupt "${legs[0]}" $((15 * REGION_BLOCKS + 7)) 1
corrupt "${legs[0]}" $((25 * REGION_BLOCKS + 252)) 4
step "B: volume re-created"
crucible_create vol "$SECTORS" "${legs[@]}"
dmsetup status vol
check_regions 5 15 25
expect_data $VOL image
dmsetup status vol
expect_counter vol mismatches -gt 0
wait_synced vol
dmsetup status vol
expect_counter vol repaired -eq 15
expect_legs_equal "$SECTORS" "$REGION" "${legs[@]}"
crucible_remove vol

# ---- C: reload right after writes that were not fsync'd
step "C: volume re-created (no timed commits), 64 blocks of region 7 rewritten, not fsync'd"
crucible_create vol "$SECTORS" "${legs[@]}" - commit_period 60000
wait_synced vol
random_file new 1
dd if=new of=image bs=4k count=64 seek=$((7 * REGION_BLOCKS)) conv=notrunc status=none
write_blocks $VOL image $((7 * REGION_BLOCKS)) 64
expect_data $VOL image
crucible_remove vol
step "C: garbage over 3 of those blocks on leg 0"
corrupt "${legs[0]}" $((7 * REGION_BLOCKS + 10)) 3
step "C: volume re-created"
crucible_create vol "$SECTORS" "${legs[@]}"
dmsetup status vol
check_regions 7
expect_data $VOL image
dmsetup status vol
wait_synced vol
dmsetup status vol
expect_counter vol repaired -eq 3
expect_legs_equal "$SECTORS" "$REGION" "${legs[@]}"
expect_data $VOL image
crucible_remove vol
