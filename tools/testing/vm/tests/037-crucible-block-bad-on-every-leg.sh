#!/bin/bash
# vm-timeout: 300
# A block whose copy is bad on every leg costs that block, not its region:
# reads of it fail (EIO, counted in the status line's "unrecoverable" field
# and named with its block number in an event), every other block of the
# region is served and repaired, the region ends in sync, and a later write
# of the block makes it good again.
#
# Block K of region 3 gets different garbage on each leg; block J of the
# same region is corrupted on leg 0 only, so reading it sends leg 0's copy
# of the region to repair, which meets block K on every source it tries.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=SCRIPTDIR/../lib-crucible.sh
. "$(dirname "$0")/../lib-crucible.sh"
# shellcheck source=SCRIPTDIR/../lib-agent.sh
. "$(dirname "$0")/../lib-agent.sh"

VOLUME_MIB=16
SECTORS=$((VOLUME_MIB * 2048))
REGION=2048
REGION_BLOCKS=256
VOL=/dev/mapper/vol
K=$((3 * REGION_BLOCKS + 77))
J=$((3 * REGION_BLOCKS + 200))

READ=''
crucible_helper READ crucible-read-blocks

legs=()
make_loop_legs legs $VOLUME_MIB
BASE=$(leg_data_offset "$SECTORS" "$REGION")

corrupt() { # LEG BLOCK
	dd if=/dev/urandom of="$1" bs=4k count=1 oflag=direct,seek_bytes \
		seek=$((BASE + $2 * 4096)) conv=notrunc status=none || fail "cannot corrupt $1"
}

# read_block B: block B of the volume into ./blk, O_DIRECT; fails on EIO.
read_block() {
	dd if=$VOL of=blk bs=4k count=1 skip="$1" iflag=direct status=none 2>/dev/null
}

# check_region_but_k: every block of region 3 but K reads right, three
# times (crucible-read-blocks: round-robin reads reach every leg); K fails
# every time.
check_region_but_k() {
	local first=$((3 * REGION_BLOCKS)) _
	"$READ" -t 3 -e image $VOL $first $((K - first)) >/dev/null ||
		fail "region 3 before block $K does not read back right ($(dmsetup status vol))"
	"$READ" -t 3 -e image $VOL $((K + 1)) $((first + REGION_BLOCKS - K - 1)) >/dev/null ||
		fail "region 3 after block $K does not read back right ($(dmsetup status vol))"
	for _ in 1 2 3; do
		! read_block $K || fail "block $K (bad on every leg) read without an error"
	done
	echo "region 3 reads right but for block $K, which fails"
}

step "volume filled with random data, removed; block $K garbage on every leg, block $J on leg 0"
crucible_create vol "$SECTORS" "${legs[@]}" - region_size $REGION
random_file image $VOLUME_MIB
write_image image $VOL
crucible_remove vol
for l in "${legs[@]}"; do corrupt "$l" $K; done
corrupt "${legs[0]}" $J

apid=
start_agent apid agent
crucible_create vol "$SECTORS" "${legs[@]}" - region_size $REGION
check_region_but_k
wait_synced vol
dmsetup status vol
expect_counter vol unrecoverable -eq 1
check_region_but_k
expect_counter vol unrecoverable -eq 1
wait_log agent "block $K.*unrecoverable|unrecoverable.*block $K" 30
stop_agent "$apid" agent

step "the rest of the volume is whole"
dd if=$VOL bs=4k count=$K iflag=direct status=none | cmp - <(head -c $((K * 4096)) image) ||
	fail "the volume before block $K does not read back right"
dd if=$VOL bs=4k skip=$((K + 1)) iflag=direct status=none |
	cmp - <(dd if=image bs=4k skip=$((K + 1)) status=none) ||
	fail "the volume after block $K does not read back right"

step "block $K written again: good once more"
dd if=/dev/urandom of=image bs=4k count=1 seek=$K conv=notrunc status=none
write_blocks $VOL image $K 1
expect_counter vol unrecoverable -eq 0
drop_caches
expect_data $VOL image
expect_legs_equal "$SECTORS" "$REGION" "${legs[@]}"
crucible_remove vol
