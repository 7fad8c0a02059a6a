#!/bin/bash
# vm-timeout: 300
# Power cut: with dm-flakey under every leg, all three legs start dropping
# writes at one moment (suspend all, load, resume all), as when power is
# lost: what the target writes from then on - data, records, commits - is
# gone. The volume is removed and re-assembled over the healthy devices.
# Every fsync'd block is intact; a block written after the last fsync holds
# either its old content or the new, never anything else; no read
# mismatches; the legs end equal. Twice: with the cut between writes, and
# with the cut in the middle of a stream of O_DIRECT writes.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=SCRIPTDIR/../lib-crucible.sh
. "$(dirname "$0")/../lib-crucible.sh"

VOLUME_MIB=32
SECTORS=$((VOLUME_MIB * 2048))
REGION=$CRUCIBLE_DEFAULT_REGION
VOL=/dev/mapper/vol
FL=fl$$-
MIB_BLOCKS=256

READ=''
crucible_helper READ crucible-read-blocks

legs=()
make_loop_legs legs $VOLUME_MIB
flakey_wrap_legs legs "$FL"

power_cut() {
	flakey_set_all drop_writes "${FL}0" "${FL}1" "${FL}2"
}

# reassemble: remove the volume, heal the devices, create it again.
reassemble() {
	crucible_remove vol
	flakey_set_all healthy "${FL}0" "${FL}1" "${FL}2"
	crucible_create vol "$SECTORS" "${legs[@]}"
	dmsetup status vol
}

# expect_blocks FIRST_MIB MIB IMAGE...: each block of the range reads (three
# times in a row) as it is in one of the images.
expect_blocks() {
	local first=$1 mib=$2 args=() img
	shift 2
	for img in "$@"; do args+=(-e "$img"); done
	"$READ" -t 3 "${args[@]}" $VOL $((first * MIB_BLOCKS)) $((mib * MIB_BLOCKS)) >/dev/null ||
		fail "MiB $first-$((first + mib)) hold something other than $*"
	echo "MiB $first-$((first + mib)): every block as in one of: $*"
}

head -c 32M /dev/zero >old
step "a volume over three flakey legs; MiB 0-16 and 16-20 written, fsync'd"
crucible_create vol "$SECTORS" "${legs[@]}"
random_file a 16
dd if=a of=old bs=1M conv=notrunc status=none
write_image a $VOL
random_file b 4
dd if=b of=old bs=1M seek=16 conv=notrunc status=none
dd if=b of=$VOL bs=64k oflag=direct seek=256 status=none
sync $VOL
expect_data $VOL old

step "power cut: every leg drops writes from now on"
power_cut
cp old new
random_file c 12
dd if=c of=new bs=1M count=8 seek=8 conv=notrunc status=none
dd if=c of=new bs=1M skip=8 count=4 seek=24 conv=notrunc status=none
dd if=c of=$VOL bs=1M count=8 seek=8 oflag=direct status=none
dd if=c of=$VOL bs=1M skip=8 count=4 seek=24 status=none
dmsetup status vol

step "re-assembled: fsync'd data intact, later writes old or new"
reassemble
expect_blocks 0 8 old
expect_blocks 16 4 old
expect_blocks 8 8 old new
expect_blocks 24 4 old new
expect_blocks 20 4 old
expect_blocks 28 4 old
expect_counter vol mismatches -eq 0
wait_synced vol
dmsetup status vol
expect_legs_equal "$SECTORS" "$REGION" "${legs[@]}"
expect_counter vol mismatches -eq 0

step "what the volume holds now is the new 'old'"
dd if=$VOL of=old bs=1M iflag=direct status=none

step "a stream of O_DIRECT writes over MiB 12-28; the power is cut in the middle of it"
random_file d 16
cp old new
dd if=d of=new bs=1M seek=12 conv=notrunc status=none
w0=$(status_field vol writes)
# In 64 pieces of 256 KiB, 0.1 s apart: the stream lasts at least 6 s
# however fast the guest, so the cut (a few seconds of dmsetup) lands in it.
(
	for i in $(seq 0 63); do
		dd if=d of=$VOL bs=4k skip=$((i * 64)) seek=$((12 * MIB_BLOCKS + i * 64)) count=64 \
			oflag=direct conv=notrunc status=none || exit 1
		sleep 0.1
	done
) &
writer=$!
t=0
while [ "$(status_field vol writes)" -lt $((w0 + 200)) ] && kill -0 $writer 2>/dev/null; do
	t=$((t + 1))
	[ $t -lt 600 ] || fail "the writer made no progress"
	sleep 0.05
done
power_cut
kill -0 $writer 2>/dev/null || fail "the writes were over before the cut: the test proves nothing"
wait $writer || fail "the writer saw an error"
reassemble
expect_blocks 0 12 old
expect_blocks 12 16 old new
expect_blocks 28 4 old
expect_counter vol mismatches -eq 0
wait_synced vol
dmsetup status vol
expect_legs_equal "$SECTORS" "$REGION" "${legs[@]}"
expect_counter vol mismatches -eq 0
crucible_remove vol
