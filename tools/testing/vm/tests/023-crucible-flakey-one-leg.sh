#!/bin/bash
# vm-timeout: 300
# One leg goes bad under fio's verified random writes (dm-flakey under each
# leg): error_writes, then every I/O failing, then writes silently dropped.
# The writer sees no error and every block verifies. A leg that errors goes
# F; once its device is healthy again, `restore_leg` brings it back and
# repair makes its data area equal to the others'. A leg that drops writes
# cannot be told apart while the volume runs, but its stale copies are
# caught on read (mismatches) and, after the volume is re-assembled over the
# healthy device, repaired from the other legs.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=SCRIPTDIR/../lib-crucible.sh
. "$(dirname "$0")/../lib-crucible.sh"

VOLUME_MIB=32
SECTORS=$((VOLUME_MIB * 2048))
REGION=$CRUCIBLE_DEFAULT_REGION
VOL=/dev/mapper/vol
FIO_MIB=8
FL=fl$$-
LEG_FAILED=("F??" "?F?" "??F")

legs=()
make_loop_legs legs $VOLUME_MIB
flakey_wrap_legs legs "$FL"

# fault_under_fio MODE LEG RANGE: fio's verified writes over fio range
# RANGE (FIO_MIB each, from MiB 1), LEG's flakey device going MODE under them.
fault_under_fio() {
	local mode=$1 leg=$2 range=$3
	fio_with_fault vol $FIO_MIB $((1 + range * FIO_MIB)) $((100 + range)) "$mode" "$FL$leg"
}

crucible_create vol "$SECTORS" "${legs[@]}"

for spec in "error_writes 1 0" "errors 2 1"; do
	read -r mode leg range <<<"$spec"
	step "$mode on leg $leg under fio's verified writes"
	fault_under_fio "$mode" "$leg" "$range"
	expect_status vol mode rw
	wait_status vol legs "${LEG_FAILED[$leg]}" 10
	expect_counter vol "err$leg" -gt 0
	expect_counter vol mismatches -eq 0

	step "leg $leg's device healthy again; restore_leg $leg"
	flakey_set "$FL$leg" healthy
	msg vol restore_leg "$leg"
	wait_synced vol
	dmsetup status vol
	expect_legs_equal "$SECTORS" "$REGION" "${legs[@]}"
	fio_verify_only $VOL $FIO_MIB $((1 + range * FIO_MIB)) $((100 + range))
	expect_counter vol mismatches -eq 0
	msg vol reset_counters
done

step "drop_writes on leg 0 under fio's verified writes"
fault_under_fio drop_writes 0 2
expect_status vol mode rw
expect_counter vol mismatches -gt 0
step "the volume is removed; leg 0's device healthy again; the volume re-assembled"
crucible_remove vol
flakey_set "${FL}0" healthy
crucible_create vol "$SECTORS" "${legs[@]}"
dmsetup status vol
wait_synced vol
dmsetup status vol
expect_counter vol repaired -gt 0
expect_legs_equal "$SECTORS" "$REGION" "${legs[@]}"

step "everything fio wrote verifies, and no read mismatches"
for range in 0 1 2; do
	fio_verify_only $VOL $FIO_MIB $((1 + range * FIO_MIB)) $((100 + range))
done
dmsetup status vol
expect_counter vol mismatches -eq 0
expect_status vol legs AAA
crucible_remove vol
