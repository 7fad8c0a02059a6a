#!/bin/bash
# vm-timeout: 240
# Reads and writes of the same blocks at once: a read that overlaps a write
# in flight is ordered after it (or the write after the read), never checked
# against a record that is being replaced, so a race is never counted as a
# mismatch and never sends a good leg to repair. Writers and readers hammer
# the same 256 blocks (one region) for 20 s at queue depth 16 each, and a
# second pair the same across a region boundary; afterwards the mismatch
# counter is 0, no leg was made stale, nothing was repaired, and the legs
# agree.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=SCRIPTDIR/../lib-crucible.sh
. "$(dirname "$0")/../lib-crucible.sh"

VOLUME_MIB=16
SECTORS=$((VOLUME_MIB * 2048))
REGION=2048
VOL=/dev/mapper/vol

legs=()
make_loop_legs legs $VOLUME_MIB

step "volume filled, then 20 s of reads and writes of the same blocks"
crucible_create vol "$SECTORS" "${legs[@]}" - region_size $REGION
random_file image $VOLUME_MIB
write_image image $VOL
kmsg_mark "reads race writes"
fio --filename=$VOL --direct=1 --ioengine=libaio --bs=4k --iodepth=16 \
	--time_based --runtime=20 --eta=never --group_reporting --randrepeat=0 \
	--name=w1 --rw=randwrite --offset=2M --size=1M \
	--name=r1 --rw=randread --offset=2M --size=1M \
	--name=w2 --rw=randwrite --offset=7680k --size=1M --bs=16k \
	--name=r2 --rw=randread --offset=7680k --size=1M --bs=8k >fio.out 2>&1 ||
	{ cat fio.out; fail "fio saw an error"; }
grep -E '^ *(read|write):' fio.out || true
dmsetup status vol
expect_counter vol mismatches -eq 0
expect_status vol legs AAA
expect_counter vol repaired -eq 0
expect_status vol in_sync 16
if kmsg_since_mark | grep -E 'does not match its record|no leg holds'; then
	fail "a read that raced a write was taken for corruption"
fi
sync $VOL
expect_legs_equal "$SECTORS" "$REGION" "${legs[@]}"
crucible_remove vol
