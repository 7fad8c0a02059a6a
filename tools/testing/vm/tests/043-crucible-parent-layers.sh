#!/bin/bash
# vm-timeout: 600
# Layered parents, three deep: a random image (read-only loop device) ->
# volume A (parent: the image) -> volume B (parent: A) -> volume C (parent:
# B, and larger than B), each on three loop legs of its own. Each volume is
# written before its hydration starts and again while it runs (some blocks
# just ahead of the hydration cursor); every volume must read as its
# parent's content with its own writes on top, the part of C past the end of
# B as zeros, and no write to a child may show in its parent. Once all three
# have hydrated, the same again (and the legs of each volume are equal);
# writes to A or B after that no longer show in their children. A cannot be
# removed while B uses it; C, B, A in that order can. Then one image serves
# two volumes at once, each with its own writes. The image is never
# written.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=SCRIPTDIR/../lib-crucible.sh
. "$(dirname "$0")/../lib-crucible.sh"

IMG_MIB=12
IMG_BLOCKS=$((IMG_MIB * 256))		# 3072
C_MIB=16				# C is larger than its parent B
C_BLOCKS=$((C_MIB * 256))
REGION=128				# 64 KiB regions
A=layer-a B=layer-b C=layer-c D=twin-d E=twin-e

READ=''
crucible_helper READ crucible-read-blocks

# majmin DEV: "major:minor", as dmsetup table prints devices.
majmin() {
	printf '%d:%d' "0x$(stat -L -c %t "$1")" "0x$(stat -L -c %T "$1")"
}

# put NAME EXP FIRST COUNT: COUNT blocks of new random data at FIRST, into
# the expected image EXP and (O_DIRECT) into volume NAME.
put() {
	local name=$1 exp=$2 first=$3 count=$4
	dd if=/dev/urandom of="$exp" bs=4k seek="$first" count="$count" \
		iflag=fullblock conv=notrunc status=none || fail "cannot update $exp"
	write_blocks "/dev/mapper/$name" "$exp" "$first" "$count"
}

# expect_volume NAME EXP WHAT: volume NAME reads exactly as EXP (one
# O_DIRECT pass); on a mismatch the first differing blocks are named.
expect_volume() {
	local name=$1 exp=$2 what=$3 bad
	if ! data_matches "/dev/mapper/$name" "$exp" >/dev/null 2>&1; then
		bad=$(cmp -l <(dd if="/dev/mapper/$name" bs=1M iflag=direct status=none) "$exp" 2>/dev/null |
			awk '{ print int(($1 - 1) / 4096) }' | uniq | head -n 12 | tr '\n' ' ' || true)
		fail "$name ($what): reads differ from the expected content in blocks: ${bad:-? (short read)}($(dmsetup status "$name"))"
	fi
	echo "$name ($what): reads as expected [$(status_field "$name" hydration) $(status_field "$name" hydration_state)]"
}

# expect_table_has NAME WORDS: `dmsetup table NAME` contains WORDS.
expect_table_has() {
	local t
	t=$(dmsetup table "$1")
	grep -qF -- " $2" <<<"$t " || fail "table of $1 lacks '$2': $t"
}

# hydration_underway NAME: NAME's hydration has copied at least 1 MiB and
# is not over (so that writes made now race with it).
hydration_underway() {
	local name=$1 end=$(($(date +%s) + 60)) h t
	t=$(status_field "$name" hydration_total)
	while :; do
		h=$(status_field "$name" hydrated)
		[ "$h" -ge 256 ] && break
		[ "$(date +%s)" -lt "$end" ] || fail "$name: hydration made no progress in 60 s ($(dmsetup status "$name"))"
		sleep 0.2
	done
	[ "$h" -lt "$t" ] || fail "$name: hydration already over ($h/$t): the writes would not race with it"
	echo "$h"
}

# still_underway NAME: hydration not over yet (else the writes just made
# did not happen during it, and the test proves less than it claims).
still_underway() {
	local st
	st=$(status_field "$1" hydration_state)
	[ "$st" = running ] || fail "$1: hydration is '$st' right after the writes made during it ($(dmsetup status "$1"))"
}

step "a ${IMG_MIB} MiB random image (with a zero MiB at 4 MiB) on a read-only loop device"
random_file image $IMG_MIB
dd if=/dev/zero of=image bs=1M seek=4 count=1 conv=notrunc status=none
imgsum=$(md5sum <image)
grep -q '^loop ' /proc/modules || modprobe loop
imgdev=$(losetup --find --show --read-only image) || fail "losetup image failed"
on_exit losetup -d "$imgdev"

legsA=() legsB=() legsC=() legsD=() legsE=()
make_loop_legs legsA $IMG_MIB
make_loop_legs legsB $IMG_MIB
make_loop_legs legsC $C_MIB

# ---- A
step "A: parent the image, hydration off: it reads as the image"
crucible_create $A $((IMG_MIB * 2048)) "${legsA[@]}" "$imgdev" region_size $REGION hydration off
dmsetup table $A
dmsetup status $A
expect_table_has $A "$(majmin "$imgdev") "
expect_table_has $A "hydration off"
expect_table_has $A "hydration_throttle 0"
expect_status $A hydration_state paused
expect_status $A hydration "0/$IMG_BLOCKS"
cp image expA
expect_volume $A expA "new"

step "A: writes before hydration"
put $A expA 5 1
put $A expA 200 16			# one whole region
put $A expA 1020 8			# across the edge of the zero MiB
put $A expA 2500 3
expect_volume $A expA "written, not hydrating"
expect_status $A hydration "0/$IMG_BLOCKS"

step "A: hydration on at 1 MiB/s; writes while it runs"
msg $A hydration_throttle 1
msg $A hydration on
expect_table_has $A "hydration on"
expect_table_has $A "hydration_throttle 1"
h=$(hydration_underway $A)
echo "A: hydrated $h/$IMG_BLOCKS"
put $A expA 10 3			# behind the cursor
put $A expA $((h + 16)) 32		# just ahead of it
put $A expA 3000 72			# the last blocks
still_underway $A
expect_volume $A expA "written while hydrating"

# ---- B: A is not written from here on until every volume has hydrated.
step "B: parent A (still hydrating), hydration off: it reads as A"
crucible_create $B $((IMG_MIB * 2048)) "${legsB[@]}" /dev/mapper/$A region_size $REGION hydration off
dmsetup status $B
expect_table_has $B "$(majmin /dev/mapper/$A) "
expect_status $B hydration_state paused
cp expA expB
expect_volume $B expB "new"

step "B: writes before hydration"
put $B expB 6 1
put $B expB 210 3			# inside the region A wrote
put $B expB 1000 40			# over A's write at the zero MiB's edge
expect_volume $B expB "written, not hydrating"
expect_volume $A expA "under B"

step "B: hydration on at 1 MiB/s; writes while it runs"
msg $B hydration_throttle 1
msg $B hydration on
h=$(hydration_underway $B)
echo "B: hydrated $h/$IMG_BLOCKS"
put $B expB 11 1
put $B expB $((h + 8)) 24
put $B expB 2000 64
put $B expB $((IMG_BLOCKS - 1)) 1
still_underway $B
expect_volume $B expB "written while hydrating"
expect_volume $A expA "under B"

# ---- C
step "C: parent B (still hydrating), ${C_MIB} MiB: B's content, then zeros"
crucible_create $C $((C_MIB * 2048)) "${legsC[@]}" /dev/mapper/$B region_size $REGION hydration off
dmsetup status $C
expect_status $C hydration "0/$IMG_BLOCKS"
cp expB expC
truncate -s ${C_MIB}M expC
expect_volume $C expC "new"

step "C: writes before hydration, some past the end of its parent"
put $C expC 7 1
put $C expC 1010 4
put $C expC $((IMG_BLOCKS - 4)) 8	# across the parent's end
put $C expC $((IMG_BLOCKS + 100)) 16
expect_volume $C expC "written, not hydrating"

step "C: hydration on at 1 MiB/s; writes while it runs"
msg $C hydration_throttle 1
msg $C hydration on
h=$(hydration_underway $C)
echo "C: hydrated $h/$IMG_BLOCKS"
put $C expC 12 1
put $C expC $((h + 4)) 16
put $C expC 2030 20			# over B's writes at 2000-2063
put $C expC $((C_BLOCKS - 64)) 64
still_underway $C
expect_volume $C expC "written while hydrating"
expect_volume $B expB "under C"
expect_volume $A expA "under B and C"

# ---- all hydrated
step "all three hydrated"
for v in $A $B $C; do
	wait_hydrated "$v" 240
	dmsetup status "$v"
done
expect_status $A hydration "$IMG_BLOCKS/$IMG_BLOCKS"
expect_status $C hydration "$IMG_BLOCKS/$IMG_BLOCKS"
for v in $A $B $C; do
	expect_counter "$v" parent_errors -eq 0
	expect_counter "$v" mismatches -eq 0
	expect_status "$v" legs AAA
done
log=$(dmesg)
for v in $A $B $C; do
	mm=$(majmin "/dev/mapper/$v")
	grep -q "crucible: $mm: hydration complete" <<<"$log" ||
		fail "no 'crucible: $mm: hydration complete' in the kernel log for $v"
done
echo "kernel log: hydration complete for all three"

step "after hydration: every block of every volume, three reads each (all legs)"
"$READ" -t 3 -e expA /dev/mapper/$A 0 $IMG_BLOCKS >/dev/null || fail "$A does not read back right"
"$READ" -t 3 -e expB /dev/mapper/$B 0 $IMG_BLOCKS >/dev/null || fail "$B does not read back right"
"$READ" -t 3 -e expC /dev/mapper/$C 0 $C_BLOCKS >/dev/null || fail "$C does not read back right"
echo "A, B and C read as expected on every leg"
expect_legs_equal $((IMG_MIB * 2048)) $REGION "${legsA[@]}"
expect_legs_equal $((IMG_MIB * 2048)) $REGION "${legsB[@]}"
expect_legs_equal $((C_MIB * 2048)) $REGION "${legsC[@]}"

step "hydrated children no longer follow their parents"
put $A expA 20 4
put $B expB 40 2
drop_caches
expect_volume $A expA "written after hydration"
expect_volume $B expB "written after hydration, not A's new blocks"
expect_volume $C expC "hydrated, neither A's nor B's new blocks"

step "A cannot go while B uses it; C, B, A in that order can"
if dmsetup remove $A 2>/dev/null; then
	fail "$A was removed while $B has it as its parent"
fi
dmsetup info $A >/dev/null 2>&1 || fail "$A is gone"
expect_volume $A expA "after the refused removal"
crucible_remove $C
crucible_remove $B
crucible_remove $A
echo "removed C, B, A"

# ---- one image, two volumes
step "one image, two volumes at once (2 MiB/s each), each with its own writes"
make_loop_legs legsD $IMG_MIB
make_loop_legs legsE $IMG_MIB
crucible_create $D $((IMG_MIB * 2048)) "${legsD[@]}" "$imgdev" region_size $REGION hydration_throttle 2
crucible_create $E $((IMG_MIB * 2048)) "${legsE[@]}" "$imgdev" region_size $REGION hydration_throttle 2
cp image expD
cp image expE
put $D expD 0 16
put $E expE 8 16			# overlaps D's, other data
put $D expD 1500 1
put $E expE 1501 1
put $E expE $((IMG_BLOCKS - 1)) 1
cmp -s expD expE && fail "the two expected images are equal: the test proves nothing"
dmsetup status $D
dmsetup status $E
expect_volume $D expD "while hydrating"
expect_volume $E expE "while hydrating"
wait_hydrated $D 240
wait_hydrated $E 240
drop_caches
"$READ" -t 3 -e expD /dev/mapper/$D 0 $IMG_BLOCKS >/dev/null || fail "$D does not read back right"
"$READ" -t 3 -e expE /dev/mapper/$E 0 $IMG_BLOCKS >/dev/null || fail "$E does not read back right"
echo "D and E read as expected on every leg after hydration"
crucible_remove $E
crucible_remove $D

step "the image was never written"
[ "$(md5sum <image)" = "$imgsum" ] || fail "the image file changed"
data_matches "$imgdev" image || fail "the image's loop device does not read as the image"
echo "image unchanged"
