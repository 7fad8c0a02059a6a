#!/bin/bash
# vm-timeout: 300
# Two legs go bad at once under fio's verified random writes (dm-flakey
# under each leg): error_writes on legs 0 and 2, then every I/O failing on
# legs 1 and 2, then writes silently dropped on legs 0 and 1. Writes still
# succeed on the third leg: the writer sees no error and every block
# verifies. Legs that error go F; once their devices are healthy again,
# `restore_leg` brings them back and repair makes all three data areas
# equal. Legs that dropped writes are repaired from the third leg when the
# volume is re-assembled over healthy devices.
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

legs=()
make_loop_legs legs $VOLUME_MIB
flakey_wrap_legs legs "$FL"

# fault_under_fio MODE RANGE LEG LEG: fio's verified writes over fio range
# RANGE (FIO_MIB each, from MiB 1), the two legs' flakey devices going MODE
# together under them.
fault_under_fio() {
	local mode=$1 range=$2 a=$3 b=$4
	fio_with_fault vol $FIO_MIB $((1 + range * FIO_MIB)) $((200 + range)) "$mode" "$FL$a" "$FL$b"
}

crucible_create vol "$SECTORS" "${legs[@]}"

for spec in "error_writes 0 0 2 F?F" "errors 1 1 2 ?FF"; do
	read -r mode range a b pattern <<<"$spec"
	step "$mode on legs $a and $b under fio's verified writes"
	fault_under_fio "$mode" "$range" "$a" "$b"
	expect_status vol mode rw
	wait_status vol legs "$pattern" 10
	expect_counter vol "err$a" -gt 0
	expect_counter vol "err$b" -gt 0
	expect_counter vol mismatches -eq 0

	step "legs $a and $b healthy again; restore_leg $a, restore_leg $b"
	flakey_set_all healthy "$FL$a" "$FL$b"
	msg vol restore_leg "$a"
	msg vol restore_leg "$b"
	wait_synced vol
	dmsetup status vol
	expect_legs_equal "$SECTORS" "$REGION" "${legs[@]}"
	fio_verify_only $VOL $FIO_MIB $((1 + range * FIO_MIB)) $((200 + range))
	expect_counter vol mismatches -eq 0
	msg vol reset_counters
done

step "drop_writes on legs 0 and 1 under fio's verified writes"
fault_under_fio drop_writes 2 0 1
expect_status vol mode rw
expect_counter vol mismatches -gt 0
step "the volume is removed; legs 0 and 1 healthy again; the volume re-assembled"
crucible_remove vol
flakey_set_all healthy "${FL}0" "${FL}1"
crucible_create vol "$SECTORS" "${legs[@]}"
dmsetup status vol
wait_synced vol
dmsetup status vol
expect_counter vol repaired -gt 0
expect_legs_equal "$SECTORS" "$REGION" "${legs[@]}"

step "everything fio wrote verifies, and no read mismatches"
for range in 0 1 2; do
	fio_verify_only $VOL $FIO_MIB $((1 + range * FIO_MIB)) $((200 + range))
done
dmsetup status vol
expect_counter vol mismatches -eq 0
expect_status vol legs AAA
crucible_remove vol
