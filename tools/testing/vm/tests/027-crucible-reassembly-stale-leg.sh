#!/bin/bash
# vm-timeout: 300
# Re-assembly after an outage: leg 0 (the leg every tie goes to) comes back
# holding an older copy of itself - its content from before the volume's
# last activation, in which some regions were rewritten. The target must
# see that leg 0 is stale in those regions (status S, repair paused with
# `repair manual`), never serve its stale blocks (every block of those
# regions read three times in a row, and the whole volume, give the latest
# data), and repair exactly the blocks that changed, after which the legs
# are equal.
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

step "first activation: the volume filled with random data, removed"
crucible_create vol "$SECTORS" "${legs[@]}"
random_file image $VOLUME_MIB
write_image image $VOL
crucible_remove vol

step "a copy of leg 0 as it is now"
dd if="${legs[0]}" of=leg0-old bs=1M iflag=direct status=none

step "second activation: 256 + 50 + 1 blocks of regions 3, 10 and 30 rewritten"
crucible_create vol "$SECTORS" "${legs[@]}"
random_file new 2
changed=0
for spec in "3 0 256" "10 0 50" "30 255 1"; do
	read -r r off n <<<"$spec"
	first=$((r * REGION_BLOCKS + off))
	dd if=new of=image bs=4k skip=$changed seek=$first count="$n" conv=notrunc status=none
	write_blocks $VOL image $first "$n"
	changed=$((changed + n))
done
sync $VOL
expect_data $VOL image
crucible_remove vol

step "leg 0 put back as it was before the second activation"
dd if=leg0-old of="${legs[0]}" bs=1M oflag=direct conv=notrunc,fsync status=none

step "third activation, repair manual: leg 0 is stale, and never read where it is"
crucible_create vol "$SECTORS" "${legs[@]}" - repair manual
dmsetup status vol
expect_status vol legs 'S[AS][AS]'
expect_status vol repair paused
in_sync=$(status_field vol in_sync)
[ "$in_sync" -le $((32 - 3)) ] || fail "only $((32 - in_sync)) regions out of sync, expected at least 3"
drop_caches
for r in 3 10 30; do
	"$READ" -t 3 -e image $VOL $((r * REGION_BLOCKS)) $REGION_BLOCKS >/dev/null ||
		fail "region $r does not read back the latest data"
done
expect_data $VOL image
dmsetup status vol
expect_counter vol mismatches -eq 0

step "repair: exactly the $changed blocks that changed are copied"
msg vol reconcile start
wait_synced vol
dmsetup status vol
expect_counter vol repaired -eq "$changed"
expect_legs_equal "$SECTORS" "$REGION" "${legs[@]}"
expect_data $VOL image
crucible_remove vol
