#!/bin/bash
# vm-timeout: 480
# A read-only parent under a volume. A 12 MiB random image on a loop device
# under a 32 MiB volume made with `hydration off`: the volume reads as the
# image followed by zeros, hydration stays 0/3072 and paused; one 4 KiB
# write inside a 64 KiB region reads back new (it is on every leg) while the
# region's other blocks still read the image. `hydration on` copies the
# rest: the volume then reads as the image with the write, and every leg's
# data area holds it. The parent is never written (md5 before and after).
# Removed and created again on the same legs, with the same parent,
# without one ('-') and with a read-only loop device of the image: the data
# is the same and hydration stays done. A parent larger than the volume, or
# one of the legs as parent, is refused. A parent of 12 MiB + 1536 bytes (a
# read-only loop device) reads with the tail of its last block as zeros,
# before and after hydration.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=SCRIPTDIR/../lib-crucible.sh
. "$(dirname "$0")/../lib-crucible.sh"

VOLUME_MIB=32
SECTORS=$((VOLUME_MIB * 2048))
REGION=128			# 64 KiB regions: 16 blocks each
REGION_BLOCKS=$((REGION / 8))
PARENT_MIB=12
PARENT_BLOCKS=$((PARENT_MIB * 256))
VOL=/dev/mapper/vol

READ=''
crucible_helper READ crucible-read-blocks

# make_parent VAR IMAGE [LOSETUP_OPTION...]: a loop device over IMAGE.
make_parent() {
	local -n _p_out=$1
	local img=$2 dev
	shift 2
	grep -q '^loop ' /proc/modules || modprobe loop || fail "modprobe loop failed"
	dev=$(losetup --find --show "$@" "$img") || fail "losetup $* $img failed"
	on_exit losetup -d "$dev"
	# shellcheck disable=SC2034 # a nameref
	_p_out=$dev
}

majmin() {
	printf '%d:%d' "0x$(stat -c %t "$1")" "0x$(stat -c %T "$1")"
}

sum_of() {
	dd if="$1" bs=1M iflag=direct status=none | md5sum | cut -d' ' -f1
}

# What a 4 KiB block holds, for failure reports: a digest, or "zeros".
block_digest() {
	local sum
	sum=$(dd if="$1" bs=4k skip="$2" count=1 "${@:3}" status=none | md5sum | cut -c1-12)
	[ "$sum" != 620f0b67a91f ] || sum=zeros
	echo "$sum"
}

# show_differing_blocks REF [PARENT_IMAGE]: the first blocks of the volume
# that differ from REF, what they hold and what REF and the image hold.
show_differing_blocks() {
	local ref=$1 img=${2:-} b line
	local -a blocks
	mapfile -t blocks < <(cmp -l <(dd if=$VOL bs=1M iflag=direct status=none) "$ref" 2>/dev/null |
		awk '{ b = int(($1 - 1) / 4096); if (b != last) { print b; last = b } }' | head -n 1000)
	echo "${#blocks[@]} blocks differ (counting stops at 1000); the first ones:"
	for b in "${blocks[@]:0:8}"; do
		line="block $b (region $((b / REGION_BLOCKS))): reads $(block_digest $VOL "$b" iflag=direct)"
		line+=", expected $(block_digest "$ref" "$b")"
		[ -z "$img" ] || line+=", the image has $(block_digest "$img" "$b")"
		echo "$line"
	done
}

# expect_volume REF WHAT [PARENT_IMAGE]: the whole volume reads (O_DIRECT)
# as the file REF.
expect_volume() {
	local ref=$1 what=$2 img=${3:-} size
	size=$(blockdev --getsize64 $VOL)
	[ "$size" -eq "$(stat -c %s "$ref")" ] ||
		fail "the volume has $size bytes, $ref $(stat -c %s "$ref")"
	if ! data_matches $VOL "$ref"; then
		show_differing_blocks "$ref" "$img" >&2
		fail "the volume does not read as $what ($(dmsetup status vol))"
	fi
	echo "the volume reads as $what"
}

# expect_hydration_line H/T STATE: status fields 7 and 17.
expect_hydration_line() {
	expect_status vol hydration "$1"
	expect_status vol hydration_state "$2"
	echo "hydration $1, $2"
}

step "a $PARENT_MIB MiB random image on a loop device: the parent"
random_file image $PARENT_MIB
image_sum=$(md5sum <image | cut -d' ' -f1)
parent=''
make_parent parent image
[ "$(blockdev --getsz "$parent")" -eq $((PARENT_MIB * 2048)) ] || fail "$parent has the wrong size"
[ "$(sum_of "$parent")" = "$image_sum" ] || fail "$parent does not read as the image"
echo "parent $parent ($(majmin "$parent")), md5 $image_sum"
legs=()
make_loop_legs legs $VOLUME_MIB

step "a $VOLUME_MIB MiB volume over it in 64 KiB regions, hydration off"
crucible_create vol "$SECTORS" "${legs[@]}" "$parent" region_size $REGION hydration off
dmsetup status vol
table=$(dmsetup table vol)
echo "table: $table"
read -r -a tw <<<"$table"
[ "${tw[6]}" = "$(majmin "$parent")" ] || fail "the table does not name the parent $(majmin "$parent") after the legs: $table"
grep -Eq ' hydration off hydration_throttle 0( |$)' <<<"$table" ||
	fail "the table does not say 'hydration off hydration_throttle 0': $table"
expect_hydration_line "0/$PARENT_BLOCKS" paused
expect_status vol parent_errors 0

step "reads: the image, then zeros past its end"
cp image want
truncate -s ${VOLUME_MIB}M want
expect_volume want "the image followed by zeros" image
sleep 2
expect_hydration_line "0/$PARENT_BLOCKS" paused

step "one 4 KiB block written inside a region of the image, one past the image"
# Block 1029 is in region 64 (blocks 1024-1039); block 5000 in region 312,
# past the 3072 blocks of the parent.
B1=1029
B2=5000
base=$(leg_data_offset "$SECTORS" $REGION)
for b in $B1 $B2; do
	dd if=/dev/urandom of="blk.$b" bs=4k count=1 status=none
	dd if="blk.$b" of=want bs=4k seek="$b" conv=notrunc status=none
	dd if="blk.$b" of=$VOL bs=4k seek="$b" oflag=direct conv=notrunc,fsync status=none ||
		fail "the write of block $b failed"
	r=$((b / REGION_BLOCKS))
	"$READ" -t 3 -e want $VOL $((r * REGION_BLOCKS)) $REGION_BLOCKS >/dev/null ||
		fail "region $r does not read as expected after the write of block $b ($(dmsetup status vol))"
	echo "region $r: block $b reads new, its other $((REGION_BLOCKS - 1)) blocks as before (three reads each)"
	for leg in "${legs[@]}"; do
		data_matches "$leg" "blk.$b" $((base + b * CRUCIBLE_BLOCK)) ||
			fail "leg $leg does not hold the new block $b in its data area"
	done
	echo "block $b is on every leg"
done
dd if="$parent" bs=4k skip=$B1 count=1 iflag=direct status=none | cmp - <(dd if=image bs=4k skip=$B1 count=1 status=none) ||
	fail "the parent's block $B1 changed"
expect_hydration_line "0/$PARENT_BLOCKS" paused
expect_volume want "the image with the two writes, then zeros" image
drop_caches
expect_volume want "the image with the two writes, then zeros (caches dropped)" image
expect_counter vol mismatches -eq 0

step "hydration on: the rest of the parent is copied into the legs"
kmsg_mark "hydration on"
msg vol hydration on
wait_hydrated vol 240
dmsetup status vol
expect_hydration_line "$PARENT_BLOCKS/$PARENT_BLOCKS" 'done'
kmsg_since_mark | grep -E 'crucible: [0-9]+:[0-9]+: hydration complete' ||
	fail "no 'crucible: <major:minor>: hydration complete' in the kernel log"
expect_volume want "the image with the two writes, then zeros" image
drop_caches
expect_volume want "the image with the two writes, then zeros (caches dropped)" image
head -c ${PARENT_MIB}M want >want.head
for leg in "${legs[@]}"; do
	expect_leg_data "$leg" want.head "$SECTORS" 0 $REGION
done
echo "every leg's data area holds the image with the write"
expect_counter vol mismatches -eq 0
expect_counter vol parent_errors -eq 0

step "the parent was never written"
[ "$(md5sum <image | cut -d' ' -f1)" = "$image_sum" ] || fail "the image file changed"
[ "$(sum_of "$parent")" = "$image_sum" ] || fail "the parent device does not read as the image any more"
echo "image and parent still md5 $image_sum"

step "removed, created again on the same legs with the same parent: hydration stays done"
crucible_remove vol
crucible_create vol "$SECTORS" "${legs[@]}" "$parent"
dmsetup status vol
expect_status vol hydration "$PARENT_BLOCKS/$PARENT_BLOCKS"
wait_status vol hydration_state 'done' 30
expect_volume want "the image with the two writes, then zeros" image

step "created again without the parent ('-'): hydration is complete, the data stays"
crucible_remove vol
crucible_create vol "$SECTORS" "${legs[@]}" -
dmsetup status vol
expect_hydration_line - -
expect_volume want "the image with the two writes, then zeros" image

step "created again with a read-only loop device of the image as parent"
crucible_remove vol
ro=''
make_parent ro image -r
[ "$(blockdev --getro "$ro")" = 1 ] || fail "$ro is not read-only"
crucible_create vol "$SECTORS" "${legs[@]}" "$ro"
dmsetup status vol
expect_status vol hydration "$PARENT_BLOCKS/$PARENT_BLOCKS"
wait_status vol hydration_state 'done' 30
expect_volume want "the image with the two writes, then zeros" image
crucible_remove vol
[ "$(sum_of "$parent")" = "$image_sum" ] || fail "the parent device does not read as the image any more"

step "refused: a parent larger than the volume, a leg as parent"
small=()
make_loop_legs small 8
expect_create_fails vol2 "0 16384 crucible ${small[*]} $parent" \
	"parent is larger than the volume \\($((PARENT_MIB * 2048)) > 16384 sectors\\)"
# A leg is always larger than the volume, so either reason will do.
expect_create_fails vol2 "0 16384 crucible ${small[*]} ${small[2]}" \
	"parent is the same device as leg 2|parent is larger than the volume"

step "a parent of $PARENT_MIB MiB + 1536 bytes (read-only loop device): the rest of its last block reads as zeros"
dd if=/dev/urandom of=odd bs=512 count=$((PARENT_MIB * 2048 + 3)) status=none
odd_sum=$(md5sum <odd | cut -d' ' -f1)
oddp=''
make_parent oddp odd -r
[ "$(blockdev --getsz "$oddp")" -eq $((PARENT_MIB * 2048 + 3)) ] || fail "$oddp has the wrong size"
cp odd want.odd
truncate -s ${VOLUME_MIB}M want.odd
legs2=()
make_loop_legs legs2 $VOLUME_MIB
crucible_create vol "$SECTORS" "${legs2[@]}" "$oddp" region_size $REGION hydration off
dmsetup status vol
expect_hydration_line "0/$((PARENT_BLOCKS + 1))" paused
"$READ" -t 3 -e want.odd $VOL $((PARENT_BLOCKS - 1)) 3 ||
	fail "the blocks around the parent's end do not read as expected"
expect_volume want.odd "the odd-sized image, then zeros" odd
msg vol hydration on
wait_hydrated vol 240
expect_hydration_line "$((PARENT_BLOCKS + 1))/$((PARENT_BLOCKS + 1))" 'done'
drop_caches
"$READ" -t 3 -e want.odd $VOL $((PARENT_BLOCKS - 1)) 3 ||
	fail "after hydration, the blocks around the parent's end do not read as expected"
expect_volume want.odd "the odd-sized image, then zeros" odd
expect_counter vol mismatches -eq 0
expect_counter vol parent_errors -eq 0
crucible_remove vol
[ "$(md5sum <odd | cut -d' ' -f1)" = "$odd_sum" ] || fail "the odd-sized image changed"
