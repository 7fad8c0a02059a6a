#!/bin/bash
# vm-timeout: 300
# With no healthy leg left a write must fail: the target never acknowledges
# data that no leg holds. First all three legs fail writes at once; then
# legs 0 and 1 fail every I/O (writes still succeed, on leg 2 alone) and
# then leg 2 does too. Each time the writer gets an error and the status
# says "failed". Once the devices are healthy and the volume re-assembled,
# what was acknowledged is there (including what only leg 2 took), what was
# refused is not, and the legs are brought back in line.
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

legs=()
make_loop_legs legs $VOLUME_MIB
flakey_wrap_legs legs "$FL"

# expect_write_fails OFFSET_MIB: a 1 MiB O_DIRECT write there must fail.
expect_write_fails() {
	if dd if=/dev/urandom of=$VOL bs=1M count=1 seek="$1" oflag=direct conv=fsync \
		status=none 2>/dev/null; then
		dmsetup status vol >&2
		fail "a write at MiB $1 succeeded with no healthy leg: a false acknowledgement"
	fi
	echo "write at MiB $1 failed, as it must"
}

head -c 32M /dev/zero >image
random_file data 8

step "a volume over three flakey legs; MiB 0-8 written and fsync'd"
crucible_create vol "$SECTORS" "${legs[@]}"
dd if=data of=image bs=1M conv=notrunc status=none
write_image data $VOL

step "all three legs fail writes at once"
flakey_set_all error_writes "${FL}0" "${FL}1" "${FL}2"
expect_write_fails 2	# into a region written before
expect_write_fails 20	# into a region never written
dmsetup status vol
expect_status vol mode failed
expect_status vol legs FFF
expect_write_fails 24

step "devices healthy again, volume re-assembled: the acknowledged data, nothing else"
crucible_remove vol
flakey_set_all healthy "${FL}0" "${FL}1" "${FL}2"
crucible_create vol "$SECTORS" "${legs[@]}"
dmsetup status vol
expect_status vol mode rw
expect_data $VOL image
wait_synced vol
expect_legs_equal "$SECTORS" "$REGION" "${legs[@]}"

step "legs 0 and 1 fail every I/O: writes go on, on leg 2"
flakey_set_all errors "${FL}0" "${FL}1"
random_file more 1
dd if=more of=image bs=1M seek=12 conv=notrunc status=none
write_image more $VOL $((12 << 20))
dmsetup status vol
wait_status vol legs FFA 10
expect_status vol mode rw
expect_data $VOL image

step "then leg 2 fails every I/O too"
flakey_set_all errors "${FL}2"
expect_write_fails 16
dmsetup status vol
expect_status vol mode failed
expect_status vol legs FFF
expect_write_fails 4

step "devices healthy again, volume re-assembled: leg 2's acknowledged write is there"
crucible_remove vol
flakey_set_all healthy "${FL}0" "${FL}1" "${FL}2"
crucible_create vol "$SECTORS" "${legs[@]}"
dmsetup status vol
expect_data $VOL image
wait_synced vol
dmsetup status vol
expect_legs_equal "$SECTORS" "$REGION" "${legs[@]}"
expect_data $VOL image
crucible_remove vol
