#!/bin/bash
# vm-timeout: 240
# A write lost in a crash stays lost. Leg 0 drops writes, a never-written
# block B of a dirty region is written (so only legs 1 and 2 get it), and
# the power is cut before any commit: the write was never acknowledged as
# durable, so after re-assembly B may read as zeros or as the write - call
# that Z - and an fsync makes Z the block's acknowledged content. Then leg 0
# is taken out, another block of the region is written and fsync'd, and the
# power is cut again. After re-assembly B must still read Z: no crash may
# bring back data older than an acknowledged flush, such as a copy of the
# lost write left on a leg whose record says "never written". Throughout,
# fsync'd data survives, and in the end the legs' data areas are equal.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=SCRIPTDIR/../lib-crucible.sh
. "$(dirname "$0")/../lib-crucible.sh"

VOLUME_MIB=16
SECTORS=$((VOLUME_MIB * 2048))
REGION=$CRUCIBLE_DEFAULT_REGION
VOL=/dev/mapper/vol
FL=fl$$-
R=4				# the region
B=$((R * 256 + 200))		# the block written and lost
B2=$((R * 256 + 210))		# the block written after leg 0 is out

legs=()
make_loop_legs legs $VOLUME_MIB
flakey_wrap_legs legs "$FL"

create() {
	# No timed commits: only fsync and deactivation commit.
	crucible_create vol "$SECTORS" "${legs[@]}" - commit_period 60000
	dmsetup status vol
}

# reassemble: remove the volume, heal the devices, create it again.
reassemble() {
	crucible_remove vol
	flakey_set_all healthy "${FL}0" "${FL}1" "${FL}2"
	create
}

# block_sum BLOCK: digest of what the volume returns for BLOCK.
block_sum() {
	dd if=$VOL bs=4k skip="$1" count=1 iflag=direct status=none | md5sum | cut -d' ' -f1
}

head -c 16M /dev/zero >image
step "region $R: its first 128 blocks written and fsync'd (the region stays dirty)"
create
random_file a 1
dd if=a of=image bs=4k count=128 seek=$((R * 256)) conv=notrunc status=none
write_blocks $VOL image $((R * 256)) 128
sync $VOL
zero_sum=$(head -c 4096 /dev/zero | md5sum | cut -d' ' -f1)

step "leg 0 drops writes; block $B written (legs 1 and 2 take it); power cut before a commit"
flakey_set_all drop_writes "${FL}0"
head -c 4096 /dev/urandom >lost
dd if=lost of=$VOL bs=4k seek=$B oflag=direct status=none
lost_sum=$(md5sum <lost | cut -d' ' -f1)
flakey_set_all drop_writes "${FL}1" "${FL}2"
reassemble
z=$(block_sum $B)
case $z in
"$zero_sum") echo "block $B reads as zeros after the crash" ;;
"$lost_sum") echo "block $B reads as the lost write after the crash" ;;
*) fail "block $B reads as neither zeros nor the write after the crash" ;;
esac
wait_synced vol
[ "$(block_sum $B)" = "$z" ] || fail "block $B changed during repair"
[ "$z" = "$zero_sum" ] || dd if=lost of=image bs=4k seek=$B conv=notrunc status=none
expect_data $VOL image
step "fsync: block $B's content is acknowledged"
sync $VOL

step "leg 0 out; block $B2 written and fsync'd; power cut"
msg vol fail_leg 0
head -c 4096 /dev/urandom >b2
dd if=b2 of=image bs=4k seek=$B2 conv=notrunc status=none
write_blocks $VOL image $B2 1
sync $VOL
flakey_set_all drop_writes "${FL}0" "${FL}1" "${FL}2"
reassemble
[ "$(block_sum $B2)" = "$(md5sum <b2 | cut -d' ' -f1)" ] || fail "fsync'd block $B2 is lost"
now=$(block_sum $B)
if [ "$now" != "$z" ]; then
	[ "$now" = "$lost_sum" ] &&
		fail "block $B read as zeros after an acknowledged flush, and after a crash it is back with the write lost in the earlier crash"
	fail "block $B changed across a crash after an acknowledged flush"
fi
wait_synced vol
dmsetup status vol
[ "$(block_sum $B)" = "$z" ] || fail "block $B changed during repair"
expect_legs_equal "$SECTORS" "$REGION" "${legs[@]}"
crucible_remove vol
