#!/bin/bash
# vm-timeout: 300
# A leg that acknowledges writes, flushes and superblock FUAs while keeping
# none of them (dm-flakey drop_writes: a remote disk whose host lost its
# page cache, an enclosure that lost power), then fails, then comes back:
# restore_leg must not trust what it acknowledged. It re-reads the leg's
# superblock and region table from the device and makes the leg stale
# wherever they lag what the target wrote, so repair copies back everything
# the leg lost. Checked the hard way: once repair is done, legs 0 and 2 are
# taken out and every block is read from leg 1 alone.
#
# The same twice: once with the loss inside one commit period (no commit
# between the lost writes and the failure), once across many commits; then
# with two legs in turn, leg 0 (the one that wins every tie) then leg 2.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=SCRIPTDIR/../lib-crucible.sh
. "$(dirname "$0")/../lib-crucible.sh"

VOLUME_MIB=64
SECTORS=$((VOLUME_MIB * 2048))
REGION=2048			# 1 MiB: 64 regions
VOL=/dev/mapper/vol

legs=()
make_loop_legs legs $VOLUME_MIB
raw=("${legs[@]}")
flakey_wrap_legs legs lie

# lie_and_return LEG WHAT: LEG drops writes while WHAT runs, then fails a
# write, then is healthy again and restored; repair must bring back all.
lie_and_return() {
	local leg=$1 what=$2 i others=()
	for i in 0 1 2; do [ "$i" = "$leg" ] || others+=("$i"); done
	flakey_set "lie$leg" drop_writes
	"$what"
	expect_status vol legs AAA
	step "leg $leg now fails writes: the target takes it out"
	flakey_set "lie$leg" error_writes
	dd if=image of=$VOL bs=4k count=1 seek=100 skip=100 oflag=direct conv=notrunc status=none
	sync $VOL
	wait_status vol legs "$(leg_pattern "$leg" F)" 30
	step "leg $leg healthy again and restored: stale where it lost writes, then repaired"
	flakey_set "lie$leg" healthy
	msg vol restore_leg "$leg"
	dmsetup status vol
	wait_synced vol 120
	dmsetup status vol
	step "every block read from leg $leg alone"
	for i in "${others[@]}"; do msg vol fail_leg "$i"; done
	expect_status vol legs "$(leg_pattern "$leg" A D)"
	drop_caches
	expect_data $VOL image
	expect_counter vol mismatches -eq 0
	for i in "${others[@]}"; do msg vol restore_leg "$i"; done
	wait_synced vol 120
	expect_legs_equal "$SECTORS" "$REGION" "${raw[@]}"
}

# leg_pattern LEG C [OTHERS]: a legs field with C at LEG, OTHERS (default
# ?) elsewhere.
leg_pattern() {
	local p='' i
	for i in 0 1 2; do
		if [ "$i" = "$1" ]; then p+=$2; else p+=${3:-?}; fi
	done
	echo "$p"
}

# Within one commit period: 8 MiB written and fsync'd, no pause.
write_8m() {
	step "a leg drops every write; 8 MiB written and fsync'd"
	dd if=image of=$VOL bs=1M count=8 seek=16 skip=16 oflag=direct conv=notrunc,fsync status=none
}

# Across many commits: 8 MiB in 1 MiB pieces, each fsync'd, a commit period
# (1 s) or more apart, so that regions are stamped and cleaned meanwhile.
write_8m_slowly() {
	local i
	step "a leg drops every write; 8 MiB written over several seconds, commits between"
	for i in $(seq 40 47); do
		dd if=image of=$VOL bs=1M count=1 seek="$i" skip="$i" oflag=direct conv=notrunc,fsync status=none
		sleep 1.2
	done
}

step "a $VOLUME_MIB MiB volume over three legs behind dm-flakey, filled"
crucible_create vol "$SECTORS" "${legs[@]}" - region_size $REGION
random_file image $VOLUME_MIB
write_image image $VOL
sync $VOL
sleep 2.5	# two commits: every region clean

random_file new 64
dd if=new of=image bs=1M count=8 seek=16 skip=16 conv=notrunc status=none
lie_and_return 1 write_8m

dd if=new of=image bs=1M count=8 seek=40 skip=40 conv=notrunc status=none
lie_and_return 1 write_8m_slowly

step "two legs in turn: leg 0, then leg 2"
random_file new 64
dd if=new of=image bs=1M count=8 seek=16 skip=16 conv=notrunc status=none
lie_and_return 0 write_8m
random_file new 64
dd if=new of=image bs=1M count=8 seek=16 skip=16 conv=notrunc status=none
lie_and_return 2 write_8m
crucible_remove vol
