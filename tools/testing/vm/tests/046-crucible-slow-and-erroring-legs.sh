#!/bin/bash
# vm-timeout: 360
# Legs that misbehave without going away:
#
# - a slow leg (dm-delay, 5 ms each way on leg 2) under fio's verified
#   writes and reads, with both read policies: nothing is lost, nothing
#   mismatches, the slow leg is not taken out;
# - a leg with a range that fails every I/O (a dm-linear table with an
#   error segment over 1 MiB of leg 1's data area, swapped in under a live
#   volume): every read of the range is served from the other legs; the
#   heal's write faults the leg; with the range healthy again the leg is
#   restored and repaired;
# - a leg that starts failing writes while fio writes with an fsync after
#   every write, so that the fault lands inside commits (data flush,
#   metadata writes, superblock FUA): fio sees no error, every block
#   verifies, the leg is restored and repaired.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=SCRIPTDIR/../lib-crucible.sh
. "$(dirname "$0")/../lib-crucible.sh"

VOLUME_MIB=16
SECTORS=$((VOLUME_MIB * 2048))
REGION=2048
VOL=/dev/mapper/vol
BASE=$(leg_data_offset "$SECTORS" "$REGION")

grep -q '^dm_delay ' /proc/modules || modprobe dm-delay || fail "modprobe dm-delay failed"

raw=()
make_loop_legs raw $VOLUME_MIB
N=$(blockdev --getsz "${raw[0]}")

# wrap NAME TABLE: a dm device NAME over one leg, removed at the end.
wrap() {
	dmsetup create "$1" --table "$2" || fail "cannot create $1"
	on_exit _dm_remove "$1"
}
# swap NAME TABLE: NAME's table replaced under I/O (suspend, load, resume).
swap() {
	dmsetup suspend --nolockfs "$1" || fail "cannot suspend $1"
	dmsetup load "$1" --table "$2" || fail "cannot load a table into $1"
	dmsetup resume "$1" || fail "cannot resume $1"
}
linear() { echo "0 $N linear $1 0"; }
# A 1 MiB error segment at volume MiB 4 of the data area, the rest linear.
with_hole() {
	local s=$(((BASE >> 9) + 4 * 2048)) l=2048
	printf '0 %s linear %s 0\n%s %s error\n%s %s linear %s %s\n' \
		$s "$1" $s $l $((s + l)) $((N - s - l)) "$1" $((s + l))
}
delayed() { echo "0 $N delay $1 0 5"; }

leg0=''
flakey_wrap leg0 "${raw[0]}" mis0
wrap mis1 "$(linear "${raw[1]}")"
wrap mis2 "$(delayed "${raw[2]}")"
legs=("$leg0" /dev/mapper/mis1 /dev/mapper/mis2)

step "slow leg 2 (5 ms each way): verified writes and reads, round_robin then least_pending"
crucible_create vol "$SECTORS" "${legs[@]}" - region_size $REGION
fio_verified_write $VOL 8 0 31 --iodepth=16
msg vol read_policy least_pending
fio_verify_only $VOL 8 0 31 --iodepth=16
msg vol read_policy round_robin
expect_status vol legs AAA
expect_counter vol mismatches -eq 0
expect_counter vol err2 -eq 0
swap mis2 "$(linear "${raw[2]}")"

step "leg 1 fails every I/O in 1 MiB of its data area: reads served from the others"
random_file image $VOLUME_MIB
write_image image $VOL
sleep 2.5
swap mis1 "$(with_hole "${raw[1]}")"
msg vol reset_counters
drop_caches
for _ in 1 2 3; do expect_data $VOL image; done
dmsetup status vol
expect_counter vol err1 -gt 0
wait_status vol legs '?F?' 60
expect_data $VOL image
step "the range healthy again: leg 1 restored and repaired"
swap mis1 "$(linear "${raw[1]}")"
msg vol restore_leg 1
wait_synced vol 120
expect_legs_equal "$SECTORS" "$REGION" "${raw[@]}"
expect_data $VOL image

step "leg 0 starts failing writes under fio writes with an fsync after each"
msg vol reset_counters
w0=$(status_field vol writes)
fio_verified_write $VOL 4 8 33 --fsync=1 --rate_iops=,200 &
writer=$!
until [ "$(status_field vol writes)" -gt $((w0 + 100)) ]; do
	kill -0 $writer 2>/dev/null || fail "fio ended before the fault"
	sleep 0.1
done
flakey_set mis0 error_writes
wf=$(status_field vol writes)
wait $writer || fail "the writer saw an error with leg 0 failing inside commits"
[ "$(status_field vol writes)" -gt "$wf" ] || fail "the writes were over before the fault"
expect_status vol legs 'F??'
expect_counter vol mismatches -eq 0
flakey_set mis0 healthy
msg vol restore_leg 0
wait_synced vol 120
expect_legs_equal "$SECTORS" "$REGION" "${raw[@]}"
fio_verify_only $VOL 4 8 33
crucible_remove vol
