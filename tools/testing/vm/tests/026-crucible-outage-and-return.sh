#!/bin/bash
# vm-timeout: 300
# A leg taken out of service (fail_leg) misses the writes made meanwhile; 1%
# of the regions are written during the outage (some blocks twice). While
# the leg is out (D), and after it is back but not yet repaired (S, repair
# stopped), every block written reads back new - three reads in a row of
# each, so a stale leg that the target read from would show. Repair then
# copies exactly the blocks written during the outage (repaired_blocks is
# that count, not more), and the leg's data area ends equal to the others'.
# Two legs out and back with nothing written are whole at once, with repair
# off: no "failed" mark stays in the superblocks to make the next table
# distrust them.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=SCRIPTDIR/../lib-crucible.sh
. "$(dirname "$0")/../lib-crucible.sh"

VOLUME_MIB=64
SECTORS=$((VOLUME_MIB * 2048))
REGION=128			# 64 KiB regions: 1024 of them
REGION_BLOCKS=$((REGION / 8))
VOL=/dev/mapper/vol

# Ten regions (1%) and how many blocks of each the outage writes.
OUT_REGIONS=(3 97 180 260 333 480 555 700 866 1001)
OUT_BLOCKS=(1 16 5 8 3 12 2 16 7 4)

READ='' SB=''
crucible_helper READ crucible-read-blocks
crucible_helper SB crucible-sb

legs=()
make_loop_legs legs $VOLUME_MIB

# check_out_regions: every block of the outage's regions, three reads each.
check_out_regions() {
	local r
	for r in "${OUT_REGIONS[@]}"; do
		"$READ" -t 3 -e image $VOL $((r * REGION_BLOCKS)) $REGION_BLOCKS >/dev/null ||
			fail "region $r does not read back right ($(dmsetup status vol))"
	done
	echo "the outage's regions read back right, every block three times"
}

step "volume of $VOLUME_MIB MiB in 64 KiB regions, filled with random data"
crucible_create vol "$SECTORS" "${legs[@]}" - region_size $REGION
expect_status vol nr_regions 1024
random_file image $VOLUME_MIB
write_image image $VOL

step "leg 1 out of service"
msg vol fail_leg 1
expect_status vol legs ADA

step "1% of the regions written (some blocks twice), fsync'd"
random_file new 2
written=0
for i in "${!OUT_REGIONS[@]}"; do
	r=${OUT_REGIONS[$i]} n=${OUT_BLOCKS[$i]}
	first=$((r * REGION_BLOCKS + (r * 7) % (REGION_BLOCKS - n + 1)))
	dd if=new of=image bs=4k skip=$((i * 16)) seek=$first count="$n" conv=notrunc status=none
	write_blocks $VOL image $first "$n"
	written=$((written + n))
done
# Region 97 once more, other data: still 16 blocks to copy, not 32.
dd if=new of=image bs=4k skip=300 seek=$((97 * REGION_BLOCKS)) count=16 conv=notrunc status=none
write_blocks $VOL image $((97 * REGION_BLOCKS)) 16
sync $VOL
echo "$written blocks written during the outage"
dmsetup status vol

step "reads while leg 1 is out"
check_out_regions
expect_data $VOL image

step "leg 1 back, repair stopped: it is stale (S), and never read where it is"
msg vol reconcile stop
msg vol restore_leg 1
dmsetup status vol
expect_status vol legs ASA
expect_status vol repair paused
expect_status vol in_sync $((1024 - ${#OUT_REGIONS[@]}))
drop_caches
check_out_regions
expect_data $VOL image
dmsetup status vol
expect_counter vol mismatches -eq 0
expect_status vol legs ASA

step "repair: exactly the $written blocks written during the outage are copied"
msg vol reset_counters
msg vol reconcile start
wait_synced vol
dmsetup status vol
expect_counter vol repaired -eq "$written"
expect_counter vol mismatches -eq 0
expect_legs_equal "$SECTORS" "$REGION" "${legs[@]}"
expect_data $VOL image

step "two legs out and back, nothing written, repair off: whole at once"
# Nothing to copy, so nothing may wait for repair: the legs' "failed" marks
# leave the superblocks without it, and a new table uses them as sources.
msg vol reconcile stop
msg vol fail_leg 0
msg vol fail_leg 2
msg vol restore_leg 0
msg vol restore_leg 2
expect_status vol legs AAA
expect_status vol in_sync 1024
for _ in $(seq 50); do
	[ "$("$SB" "${legs[1]}" get faulted)" = 0 ] && break
	sleep 0.2
done
"$SB" "${legs[1]}" show
[ "$("$SB" "${legs[1]}" get faulted)" = 0 ] ||
	fail "leg 1's superblock still records legs failed ($(dmsetup status vol))"
dmsetup table vol | dmsetup reload vol
dmsetup suspend vol
dmsetup resume vol
expect_status vol legs AAA
expect_status vol in_sync 1024
expect_data $VOL image
crucible_remove vol
