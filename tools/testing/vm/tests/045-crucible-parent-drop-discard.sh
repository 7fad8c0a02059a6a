#!/bin/bash
# vm-timeout: 600
# Dropping the parent, and discards.
#
# A table without the parent (`-`) is refused while hydration is
# incomplete, with the reason and the progress in the error; the volume
# goes on with its parent. Once hydration is complete, `-` is accepted on a
# reload and on a fresh create, and the content is unchanged. A parent of
# another size is refused for that volume; one of the same size is accepted
# and changes nothing (nothing left to copy). A volume made without a parent
# cannot be given one later.
#
# A discarded block reads as zeros: on a parent-backed volume (unhydrated
# blocks and written ones) it stays zeros through hydration and through
# remove + create; on a volume without a parent the other blocks are
# untouched.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=SCRIPTDIR/../lib-crucible.sh
. "$(dirname "$0")/../lib-crucible.sh"

IMG_MIB=8
SECTORS=$((IMG_MIB * 2048))
BLOCKS=$((IMG_MIB * 256))
REGION=128
VOL=/dev/mapper/vol

READ=''
crucible_helper READ crucible-read-blocks

put() {
	local exp=$1 first=$2 count=$3
	dd if=/dev/urandom of="$exp" bs=4k seek="$first" count="$count" \
		iflag=fullblock conv=notrunc status=none || fail "cannot update $exp"
	write_blocks $VOL "$exp" "$first" "$count"
}

# discard EXP FIRST COUNT: blkdiscard the blocks; EXP has zeros there.
discard() {
	local exp=$1 first=$2 count=$3
	blkdiscard -o $((first * 4096)) -l $((count * 4096)) $VOL ||
		fail "blkdiscard of blocks $first+$count failed"
	dd if=/dev/zero of="$exp" bs=4k seek="$first" count="$count" conv=notrunc status=none
}

# expect_content EXP WHAT [TIMES]: every block reads as in EXP; with TIMES
# (3: every leg, round robin), each block is read that many times in a row,
# else the volume is read once in 1 MiB reads.
expect_content() {
	local exp=$1 what=$2 times=${3:-} bad ok=1
	drop_caches
	if [ -n "$times" ]; then
		"$READ" -t "$times" -e "$exp" $VOL 0 $BLOCKS >/dev/null 2>&1 || ok=0
		what+=", $times reads of each block"
	else
		data_matches $VOL "$exp" >/dev/null 2>&1 || ok=0
	fi
	if [ $ok -eq 0 ]; then
		bad=$("$READ" -t 1 -e "$exp" $VOL 0 $BLOCKS 2>&1 | head -n 8 || true)
		echo "$bad" >&2
		fail "volume content wrong ($what) ($(dmsetup status vol))"
	fi
	echo "content as expected ($what) [$(status_field vol hydration) $(status_field vol hydration_state)]"
}

ro_loop() {
	local -n _t_out=$1
	_t_out=$(losetup --find --show --read-only "$2") || fail "losetup $2 failed"
	on_exit losetup -d "$_t_out"
}

# expect_load_fails TABLE REGEX: a reload of vol with TABLE is refused,
# with a line of the target's matching REGEX; no inactive table is left and
# the live table is unchanged. The target's line goes to $refusal (not run
# in a subshell: kmsg_mark counts its marks in a variable of this shell).
refusal=''
expect_load_fails() {
	local table=$1 want=$2 live log tables
	live=$(dmsetup table vol)
	kmsg_mark "expect refused reload: $table"
	if dmsetup load vol --table "$table" >/dev/null 2>&1; then
		dmsetup clear vol >/dev/null 2>&1 || true
		fail "reload accepted: $table"
	fi
	tables=$(dmsetup info vol | sed -n 's/^Tables present: *//p')
	[ "$tables" = LIVE ] || fail "after the refused reload, tables present: '$tables'"
	[ "$(dmsetup table vol)" = "$live" ] || fail "the live table changed: $(dmsetup table vol)"
	log=$(kmsg_since_mark | grep -F 'crucible: ' || true)
	grep -Eiq -- "$want" <<<"$log" || {
		kmsg_since_mark >&2
		fail "refused reload of '$table' does not say /$want/"
	}
	refusal=$(grep -Ei -m1 -- "$want" <<<"$log" | sed 's/^\[[^]]*\] //')
	echo "refused: $refusal"
}

grep -q '^loop ' /proc/modules || modprobe loop
random_file image $IMG_MIB
imgdev=''
ro_loop imgdev image

# ---- dropping the parent
step "a volume from an ${IMG_MIB} MiB image, hydration off; some blocks written"
legs=()
make_loop_legs legs $IMG_MIB
crucible_create vol $SECTORS "${legs[@]}" "$imgdev" region_size $REGION hydration off
cp image exp
put exp 3 2
put exp 700 16
expect_content exp "written, not hydrated"

step "dropping the parent before hydration: refused, with the reason"
expect_load_fails "0 $SECTORS crucible ${legs[*]} -" \
	"parent still needed: [0-9]+ of $BLOCKS blocks hydrated"
dmsetup table vol | grep -q " $(printf '%d:%d' "0x$(stat -L -c %t "$imgdev")" "0x$(stat -L -c %T "$imgdev")") " ||
	fail "the live table lost its parent: $(dmsetup table vol)"
expect_status vol hydration_state paused
expect_content exp "after the refused reload"

step "... also part way through hydration (paused after 1 MiB, progress committed)"
msg vol hydration_throttle 1
msg vol hydration on
wait_status vol hydration_state running 10
end=$(($(date +%s) + 60))
while [ "$(status_field vol hydrated)" -lt 256 ]; do
	[ "$(date +%s)" -lt "$end" ] || fail "no hydration progress in 60 s ($(dmsetup status vol))"
	sleep 0.2
done
msg vol hydration off
# The cursor goes to the superblocks at the next commit (1 s period).
sleep 3
h=$(status_field vol hydrated)
expect_load_fails "0 $SECTORS crucible ${legs[*]} -" \
	"parent still needed: [0-9]+ of $BLOCKS blocks hydrated"
said=$(sed -n 's/.*parent still needed: \([0-9]*\) of.*/\1/p' <<<"$refusal")
echo "refused at $said of $BLOCKS blocks (status: $h)"
case $said in
'' | *[!0-9]*) fail "no block count in the refusal: $refusal" ;;
esac
if [ "$said" -eq 0 ] || [ "$said" -gt "$h" ]; then
	fail "the refusal names $said hydrated blocks, expected 1 to $h (the cursor, paused for 3 s)"
fi
[ "$h" -lt "$BLOCKS" ] || fail "hydration was over before the reload: the test proves nothing"
expect_status vol hydration_state paused
expect_status vol hydration "$h/$BLOCKS"
expect_content exp "part hydrated, after the refused reload"

step "hydration completes; then dropping the parent is accepted"
msg vol hydration_throttle 0
msg vol hydration on
wait_hydrated vol 180
dmsetup status vol
expect_content exp "hydrated" 3
dmsetup load vol --table "0 $SECTORS crucible ${legs[*]} -" || fail "reload without the parent refused after hydration"
dmsetup resume vol || fail "resume without the parent failed"
dmsetup table vol
[ "$(dmsetup table vol | awk '{ print $7 }')" = - ] || fail "table still names a parent: $(dmsetup table vol)"
dmsetup table vol | grep -q hydration && fail "table without a parent shows hydration options: $(dmsetup table vol)"
dmsetup status vol
expect_status vol hydration -
expect_status vol hydration_state -
expect_content exp "parent dropped by a reload" 3

step "remove, create with '-': unchanged"
crucible_remove vol
crucible_create vol $SECTORS "${legs[@]}" -
dmsetup status vol
expect_status vol hydration -
expect_content exp "re-created without the parent"
crucible_remove vol

step "a parent of another size is refused for this volume"
random_file small $((IMG_MIB / 2))
smalldev=''
ro_loop smalldev small
expect_create_fails vol "0 $SECTORS crucible ${legs[*]} $smalldev" \
	"parent size differs: the volume was made from a parent of $SECTORS sectors, this one has $((SECTORS / 2))"

step "a parent of the same size (other data) is accepted and changes nothing"
random_file other $IMG_MIB
otherdev=''
ro_loop otherdev other
crucible_create vol $SECTORS "${legs[@]}" "$otherdev"
dmsetup status vol
wait_status vol hydration_state "done" 10
expect_status vol hydration "$BLOCKS/$BLOCKS"
expect_content exp "same-size parent given again" 3
expect_counter vol parent_errors -eq 0
crucible_remove vol

# ---- no parent at creation: none later
step "a volume made without a parent cannot be given one later"
legs2=()
make_loop_legs legs2 $IMG_MIB
crucible_create vol $SECTORS "${legs2[@]}" - region_size $REGION
head -c ${IMG_MIB}M /dev/zero >exp2
put exp2 0 4
put exp2 1000 8
crucible_remove vol
expect_create_fails vol "0 $SECTORS crucible ${legs2[*]} $imgdev" \
	"the volume was created without a parent; a parent can only be given when the volume is created"
crucible_create vol $SECTORS "${legs2[@]}" -
expect_content exp2 "without a parent, after the refused create"
crucible_remove vol

# ---- discard with a parent
step "discard on a parent-backed volume, hydration off"
legs3=()
make_loop_legs legs3 $IMG_MIB
crucible_create vol $SECTORS "${legs3[@]}" "$imgdev" region_size $REGION hydration off
dm=dm-$(dmsetup info -c --noheadings -o minor vol | tr -d ' ')
gran=$(cat "/sys/block/$dm/queue/discard_granularity")
maxd=$(cat "/sys/block/$dm/queue/discard_max_bytes")
echo "discard_granularity $gran, discard_max_bytes $maxd"
[ "$gran" = 4096 ] || fail "discard granularity $gran, expected 4096"
[ "$maxd" -gt 0 ] || fail "the volume does not take discards"
cp image exp3
put exp3 300 4
put exp3 310 1
discard exp3 100 50			# unhydrated, across regions 6-9
discard exp3 500 1
discard exp3 300 6			# 4 written blocks and 2 unwritten
discard exp3 $((BLOCKS - 1)) 1
cmp -s exp3 image && fail "nothing to check"
expect_content exp3 "discarded, not hydrated"
expect_status vol hydration "0/$BLOCKS"

step "hydration: the discarded blocks are not copied again"
msg vol hydration on
wait_hydrated vol 180
dmsetup status vol
expect_content exp3 "hydrated" 3
expect_counter vol parent_errors -eq 0
expect_legs_equal $SECTORS $REGION "${legs3[@]}"

step "remove + create: still zeros"
crucible_remove vol
crucible_create vol $SECTORS "${legs3[@]}" "$imgdev"
dmsetup status vol
expect_status vol hydration_state "done"
expect_content exp3 "re-created" 3
crucible_remove vol

# ---- discard without a parent
step "discard on a volume without a parent"
legs4=()
make_loop_legs legs4 $IMG_MIB
crucible_create vol $SECTORS "${legs4[@]}" - region_size $REGION
random_file exp4 $IMG_MIB
write_image exp4 $VOL
discard exp4 64 64
discard exp4 1000 1
discard exp4 $((BLOCKS - 8)) 8
expect_content exp4 "discarded"
crucible_remove vol
crucible_create vol $SECTORS "${legs4[@]}" -
expect_content exp4 "discarded, re-created" 3
expect_counter vol mismatches -eq 0
crucible_remove vol

step "the images were never written"
data_matches "$imgdev" image || fail "the image changed"
data_matches "$otherdev" other || fail "the other image changed"
echo "images unchanged"
