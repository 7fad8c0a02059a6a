#!/bin/bash
# vm-timeout: 480
# A parent with a bad stretch: a dm table over an 8 MiB image, linear
# 0-4 MiB, an `error` target at 4-5 MiB, linear 5-8 MiB. With hydration off,
# reads that need the bad stretch fail with EIO (and count as parent
# errors), every other block reads right, and blocks of the bad stretch that
# are written read back right without the parent. With hydration on, the
# copy stops at the bad stretch and retries with back-off (status `backoff`,
# parent_errors grows slowly, not in a spin) while the volume keeps serving
# I/O. Once the parent's table is fixed (the error segment replaced by the
# image's data), hydration completes and the volume holds the image with its
# writes on top.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=SCRIPTDIR/../lib-crucible.sh
. "$(dirname "$0")/../lib-crucible.sh"

IMG_MIB=8
SECTORS=$((IMG_MIB * 2048))
BLOCKS=$((IMG_MIB * 256))		# 2048
BAD_FIRST=1024				# 4 MiB
BAD_END=1280				# 5 MiB (first good block after it)
REGION=128				# 64 KiB regions
VOL=/dev/mapper/vol
PARENT=bad-parent$$
BACKOFF_WATCH=15			# seconds of back-off watched
BACKOFF_MAX_ERRORS=10			# parent errors allowed in that time

READ=''
crucible_helper READ crucible-read-blocks

# put EXP FIRST COUNT: new random blocks into EXP and onto the volume.
put() {
	local exp=$1 first=$2 count=$3
	dd if=/dev/urandom of="$exp" bs=4k seek="$first" count="$count" \
		iflag=fullblock conv=notrunc status=none || fail "cannot update $exp"
	write_blocks $VOL "$exp" "$first" "$count"
}

# read_fails BLOCK: an O_DIRECT read of volume block BLOCK fails with EIO.
read_fails() {
	local err
	if err=$(dd if=$VOL of=/dev/null bs=4k skip="$1" count=1 iflag=direct 2>&1); then
		fail "block $1 read without an error, but it needs the bad part of the parent ($(dmsetup status vol))"
	fi
	grep -q 'Input/output error' <<<"$err" || fail "block $1: read failed, but not with EIO: $err"
}

# reads_right FIRST COUNT: blocks FIRST.. read as in exp, three times each.
reads_right() {
	"$READ" -t 3 -e exp $VOL "$1" "$2" >/dev/null ||
		fail "blocks $1+$2 do not read back right ($(dmsetup status vol))"
}

# good_reads: every block that does not need the bad stretch reads right.
good_reads() {
	reads_right 0 $BAD_FIRST
	reads_right $BAD_END $((BLOCKS - BAD_END))
	reads_right 1100 8
	reads_right 1200 1
}

parent_table() {
	local bad=$1
	echo "0 $((BAD_FIRST * 8)) linear $imgdev 0"
	if [ "$bad" = bad ]; then
		echo "$((BAD_FIRST * 8)) $(((BAD_END - BAD_FIRST) * 8)) error"
	else
		echo "$((BAD_FIRST * 8)) $(((BAD_END - BAD_FIRST) * 8)) linear $imgdev $((BAD_FIRST * 8))"
	fi
	echo "$((BAD_END * 8)) $(((BLOCKS - BAD_END) * 8)) linear $imgdev $((BAD_END * 8))"
}

step "an ${IMG_MIB} MiB image; parent: linear 0-4 MiB, error 4-5 MiB, linear 5-8 MiB"
random_file image $IMG_MIB
cp image exp
grep -q '^loop ' /proc/modules || modprobe loop
imgdev=$(losetup --find --show --read-only image) || fail "losetup image failed"
on_exit losetup -d "$imgdev"
parent_table bad | dmsetup create $PARENT || fail "cannot create the parent"
on_exit _dm_remove $PARENT
dmsetup table $PARENT

legs=()
make_loop_legs legs $IMG_MIB
crucible_create vol $SECTORS "${legs[@]}" /dev/mapper/$PARENT region_size $REGION hydration off
dmsetup status vol
expect_status vol hydration_state paused
expect_counter vol parent_errors -eq 0

step "hydration off: the bad stretch fails with EIO, the rest reads right"
for b in $BAD_FIRST 1100 1200 $((BAD_END - 1)); do
	read_fails "$b"
done
echo "blocks $BAD_FIRST, 1100, 1200, $((BAD_END - 1)): EIO"
expect_counter vol parent_errors -ge 4
reads_right 0 $BAD_FIRST
reads_right $BAD_END $((BLOCKS - BAD_END))
echo "blocks 0-$((BAD_FIRST - 1)) and $BAD_END-$((BLOCKS - 1)) read right"
dmsetup status vol

step "writes into the bad stretch (and elsewhere) read back right: they need no parent"
put exp 1100 8
put exp 1200 1
put exp 10 2
put exp 1500 4
pe=$(status_field vol parent_errors)
drop_caches
reads_right 1100 8
reads_right 1200 1
reads_right 10 2
reads_right 1500 4
expect_counter vol parent_errors -eq "$pe"
echo "written blocks read back right, no parent error counted for them"
read_fails 1099
read_fails 1108
echo "their unwritten neighbours still fail"

step "hydration on: it copies up to the bad stretch, then backs off"
t_on=$(date +%s)
msg vol hydration on
wait_status vol hydration_state backoff 120
echo "backoff after $(($(date +%s) - t_on)) s: $(dmsetup status vol)"
h=$(status_field vol hydrated)
[ "$h" -le $BAD_FIRST ] || fail "hydrated $h: the cursor went past the first bad block $BAD_FIRST"
[ "$h" -ge $((BAD_FIRST - 256)) ] ||
	fail "hydrated $h: stopped more than 1 MiB before the bad stretch at block $BAD_FIRST"

step "back-off: over ${BACKOFF_WATCH} s parent_errors grows, but by less than $BACKOFF_MAX_ERRORS"
pe0=$(status_field vol parent_errors)
t0=$(date +%s)
seen_backoff=0 samples=0
states=''
while [ $(($(date +%s) - t0)) -lt $BACKOFF_WATCH ]; do
	st=$(status_field vol hydration_state)
	case $st in
	backoff) seen_backoff=$((seen_backoff + 1)) ;;
	running) ;;	# a retry in flight
	*) fail "hydration state '$st' while the parent is still bad ($(dmsetup status vol))" ;;
	esac
	states+=" $st"
	samples=$((samples + 1))
	sleep 1
done
pe1=$(status_field vol parent_errors)
h1=$(status_field vol hydrated)
echo "parent_errors $pe0 -> $pe1 in ${BACKOFF_WATCH} s; hydrated $h1; states:$states"
[ $((pe1 - pe0)) -ge 1 ] || fail "no retry within ${BACKOFF_WATCH} s of back-off (parent_errors stayed $pe0)"
[ $((pe1 - pe0)) -lt $BACKOFF_MAX_ERRORS ] ||
	fail "parent_errors grew by $((pe1 - pe0)) in ${BACKOFF_WATCH} s: the retries do not back off"
# A retry in flight shows as running: rarely, as a retry takes milliseconds.
[ $((seen_backoff * 2)) -ge "$samples" ] || fail "state was backoff in only $seen_backoff of $samples samples"
[ "$h1" -le $BAD_FIRST ] || fail "hydrated $h1: past the first bad block $BAD_FIRST"

step "during back-off the volume serves I/O"
w0=$(status_field vol writes)
put exp 20 8
put exp 1600 16
put exp 1101 2
good_reads
read_fails $BAD_FIRST
expect_counter vol writes -gt "$w0"
expect_status vol legs AAA
expect_status vol mode rw
echo "writes and reads served; the unwritten bad stretch still fails"
dmsetup status vol

step "the parent's table fixed: the error segment replaced by the image's data"
dmsetup suspend $PARENT || fail "suspend $PARENT failed"
if ! parent_table good | dmsetup load $PARENT; then
	dmsetup resume $PARENT
	fail "load of the fixed parent table failed"
fi
dmsetup resume $PARENT || fail "resume $PARENT failed"
t_fix=$(date +%s)
dmsetup table $PARENT
reads_right $BAD_FIRST 4
echo "block $BAD_FIRST reads right now"

step "hydration finishes (hydration off + on to retry at once)"
pe_fix=$(status_field vol parent_errors)
msg vol hydration off
msg vol hydration on
wait_hydrated vol 180
echo "hydration done $(($(date +%s) - t_fix)) s after the parent was fixed"
dmsetup status vol
expect_counter vol parent_errors -eq "$pe_fix"
expect_counter vol mismatches -eq 0
grep -q "crucible: $(printf '%d:%d' "0x$(stat -L -c %t $VOL)" "0x$(stat -L -c %T $VOL)"): hydration complete" \
	<(dmesg) || fail "no 'hydration complete' in the kernel log"

step "content: the image with the writes on top, on every leg"
drop_caches
reads_right 0 $BLOCKS
expect_data $VOL exp
echo "every block reads right (three reads each)"
expect_legs_equal $SECTORS $REGION "${legs[@]}"
crucible_remove vol
