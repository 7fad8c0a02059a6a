#!/bin/bash
# vm-timeout: 400
# Legs that fail while the target is putting things right:
#
# - during repair: leg 1 comes back stale in many regions, repair runs
#   (throttled, so it lasts), and leg 1 fails writes in the middle of it;
#   the volume serves every block right throughout; with the device healthy
#   again, leg 1 is restored and repair finishes;
# - during hydration: a volume made from a parent, hydrating (throttled),
#   leg 2 fails writes in the middle; hydration goes on with legs 0 and 1,
#   every block reads as the parent's (or as written); leg 2 restored,
#   repaired; once hydration is done the three legs agree;
# - during a replacement fill: leg 0 replaced by a blank device
#   (replace_leg 0), the fill running (throttled), the new device fails
#   writes in the middle; the volume is served from legs 1 and 2; the device
#   healthy again, leg 0 is restored and the fill finishes, the TABLE line
#   loses replace_leg, the legs agree.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=SCRIPTDIR/../lib-crucible.sh
. "$(dirname "$0")/../lib-crucible.sh"

VOLUME_MIB=16
SECTORS=$((VOLUME_MIB * 2048))
REGION=256			# 128 KiB regions: 128 of them
VOL=/dev/mapper/vol

# half_way NAME FIELD TOTAL: wait until FIELD (a number, or in_sync /
# hydrated) is past a fifth of TOTAL but not done.
half_way() {
	local name=$1 field=$2 total=$3 v t=0
	while :; do
		v=$(status_field "$name" "$field")
		[ "$v" -lt "$total" ] || fail "$field reached $total before the fault: the test proves nothing"
		[ "$v" -gt $((total / 5)) ] && break
		t=$((t + 1))
		[ $t -lt 600 ] || fail "no progress of $field ($(dmsetup status "$name"))"
		sleep 0.1
	done
	echo "$field at $v of $total: the fault comes now"
}

step "repair: leg 1 stale in every region, repair throttled; leg 1 fails writes half way"
raw=()
make_loop_legs raw $VOLUME_MIB
legs=("${raw[@]}")
flakey_wrap_legs legs rf
crucible_create vol "$SECTORS" "${legs[@]}" - region_size $REGION repair_throttle 2
msg vol fail_leg 1
random_file image $VOLUME_MIB
write_image image $VOL
msg vol restore_leg 1
half_way vol in_sync 128
flakey_set rf1 error_writes
wait_status vol legs '?F?' 60
expect_data $VOL image
flakey_set rf1 healthy
msg vol repair_throttle 0
msg vol restore_leg 1
wait_synced vol 180
expect_legs_equal "$SECTORS" "$REGION" "${raw[@]}"
expect_data $VOL image
expect_counter vol mismatches -eq 0
crucible_remove vol

step "hydration: leg 2 fails writes half way"
random_file parent.img 12
ploop=''
make_loop_leg ploop 12
dd if=parent.img of="$ploop" bs=1M oflag=direct status=none
raw=()
make_loop_legs raw $VOLUME_MIB
legs=("${raw[@]}")
flakey_wrap_legs legs hf
crucible_create vol "$SECTORS" "${legs[@]}" "$ploop" region_size $REGION hydration_throttle 2
cp parent.img image
head -c $(((VOLUME_MIB - 12) << 20)) /dev/zero >>image
random_file new 1
dd if=new of=image bs=1M seek=14 conv=notrunc status=none
write_blocks $VOL image $((14 * 256)) 256
half_way vol hydrated 3072
flakey_set hf2 error_writes
wait_status vol legs '??F' 60
expect_data $VOL image
msg vol hydration_throttle 0
wait_hydrated vol 180
flakey_set hf2 healthy
msg vol restore_leg 2
wait_synced vol 180
expect_legs_equal "$SECTORS" "$REGION" "${raw[@]}"
expect_data $VOL image
crucible_remove vol

step "replacement fill: the new leg 0 fails writes half way"
raw=()
make_loop_legs raw $VOLUME_MIB
crucible_create vol "$SECTORS" "${raw[@]}" - region_size $REGION
random_file image $VOLUME_MIB
write_image image $VOL
crucible_remove vol
newleg=''
make_loop_leg newleg $((VOLUME_MIB + 4))
nl=''
flakey_wrap nl "$newleg" newleg0
crucible_create vol "$SECTORS" "$nl" "${raw[1]}" "${raw[2]}" - region_size $REGION \
	replace_leg 0 repair_throttle 2
dmsetup table vol | grep -q "replace_leg 0" || fail "the TABLE line does not show replace_leg 0"
half_way vol in_sync 128
flakey_set newleg0 error_writes
wait_status vol legs 'F??' 60
expect_data $VOL image
flakey_set newleg0 healthy
msg vol repair_throttle 0
msg vol restore_leg 0
wait_synced vol 180
dmsetup table vol
! dmsetup table vol | grep -q "replace_leg" || fail "replace_leg still in the TABLE line once the fill is done"
expect_legs_equal "$SECTORS" "$REGION" "$newleg" "${raw[1]}" "${raw[2]}"
expect_data $VOL image
crucible_remove vol
