#!/bin/bash
# vm-timeout: 900
# Hydration interrupted, and resumed from its durable cursor.
#
# (a) Reloads: a 32 MiB image is the parent of a 32 MiB volume hydrating at
# 1 MiB/s. Four times, after some progress and a few fsync'd writes, the
# volume is suspended (hydration then says 'waiting'), the same table is
# loaded again and the volume resumed: the new table starts from a cursor
# that is not 0 and not past where the old one was. Then the volume is
# removed mid-hydration and created again (hydration off, to read the
# cursor it starts from, then on). Once hydration is done the volume reads
# as the image with every write.
#
# (b) Power cut: the same over three dm-flakey legs. After progress has had
# time to be committed (two commit periods) a few writes are made, each
# followed by fsync; then every leg drops writes from one moment on (as in
# 029-crucible-power-cut), the volume takes more writes and hydrates
# further (all lost), is removed, the legs are healed and the volume is
# created again with the same parent. Hydration resumes from a cursor above
# 0 and not past where it was at the cut, and finishes; every fsync'd block
# holds its new data, a block written after the cut holds the old data or
# the new, every other block the image's; the legs end equal.
#
# The seed of the random offsets is printed; replay with SEED=N in the
# environment (from --shell) or crucible_hydration_seed=N on the guest's
# kernel command line (VM_CMDLINE).
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=SCRIPTDIR/../lib-crucible.sh
. "$(dirname "$0")/../lib-crucible.sh"

SEED=${SEED:-$(cmdline_value crucible_hydration_seed)}
SEED=${SEED:-$(($(date +%s%N) / 1000 % 1000000))}
RANDOM=$SEED
echo "seed $SEED (replay: SEED=$SEED)"

MIB=32
SECTORS=$((MIB * 2048))
BLOCKS=$((MIB * 256))
REGION=128			# 64 KiB regions: 16 blocks each
REGION_BLOCKS=$((REGION / 8))
THROTTLE=1			# MiB/s: 32 s at least for the parent
# "Resumes near where it was": after a clean suspend, no more behind than
# four commit periods (1 s each) of hydration at the throttle.
NEAR=$((4 * THROTTLE * 256))
VOL=/dev/mapper/vol
FL=fl$$-

READ=''
crucible_helper READ crucible-read-blocks

block_digest() {
	local sum
	sum=$(dd if="$1" bs=4k skip="$2" count=1 "${@:3}" status=none | md5sum | cut -c1-12)
	[ "$sum" != 620f0b67a91f ] || sum=zeros
	echo "$sum"
}

# expect_volume REF WHAT: the whole volume reads (O_DIRECT) as REF; on a
# mismatch, the first blocks that differ.
expect_volume() {
	local ref=$1 what=$2 b line
	local -a blocks
	if ! data_matches $VOL "$ref"; then
		mapfile -t blocks < <(cmp -l <(dd if=$VOL bs=1M iflag=direct status=none) "$ref" 2>/dev/null |
			awk '{ b = int(($1 - 1) / 4096); if (b != last) { print b; last = b } }' | head -n 1000)
		echo "${#blocks[@]} blocks differ (counting stops at 1000); the first ones:" >&2
		for b in "${blocks[@]:0:8}"; do
			line="block $b (region $((b / REGION_BLOCKS))): reads $(block_digest $VOL "$b" iflag=direct)"
			line+=", expected $(block_digest "$ref" "$b"), the image has $(block_digest image "$b")"
			echo "$line" >&2
		done
		fail "the volume does not read as $what ($(dmsetup status vol))"
	fi
	echo "the volume reads as $what"
}

# inactive_hydrated: the hydrated count of the loaded, not yet resumed table.
inactive_hydrated() {
	local line
	local -a w
	line=$(dmsetup status --inactive vol) || fail "dmsetup status --inactive vol failed"
	read -r -a w <<<"$line"
	if [ "${w[2]:-}" != crucible ] || [ -z "${w[9]:-}" ]; then
		fail "the inactive table's status is not a crucible status line: '$line'"
	fi
	echo "${w[9]%%/*}"
}

# wait_hydrated_past N [SECONDS]: at least N blocks hydrated.
wait_hydrated_past() {
	local want=$1 limit=${2:-120} end h
	end=$(($(date +%s) + limit))
	while h=$(status_field vol hydrated) && [ "$h" -lt "$want" ]; do
		[ "$(date +%s)" -lt "$end" ] ||
			fail "hydrated still $h after ${limit}s, waiting for $want ($(dmsetup status vol))"
		sleep 0.2
	done
	[ "$(status_field vol hydration_state)" != 'done' ] ||
		fail "hydration is over already: the interruption is not tested (lower the throttle)"
}

# random_writes COUNT REF [AVOID_LIST] [NEW_LIST]: COUNT 4 KiB O_DIRECT writes
# of fresh random data at random blocks, each followed by fsync, also made
# to the file REF. Blocks listed (space separated) in the variable named by
# AVOID_LIST are not chosen; the chosen blocks are added to the variable
# named by NEW_LIST. MODE (env WRITE_MODE) plain skips the fsync.
random_writes() {
	local count=$1 ref=$2 i b
	local -n _rw_avoid=${3:-_rw_none} _rw_new=${4:-_rw_sink}
	for ((i = 0; i < count; i++)); do
		b=$((RANDOM * 32768 + RANDOM))
		b=$((b % BLOCKS))
		while [[ " $_rw_avoid $_rw_new " == *" $b "* ]]; do
			b=$(((b + 1) % BLOCKS))
		done
		dd if=/dev/urandom of=blk bs=4k count=1 status=none
		dd if=blk of="$ref" bs=4k seek=$b conv=notrunc status=none
		if [ "${WRITE_MODE:-fsync}" = fsync ]; then
			dd if=blk of=$VOL bs=4k seek=$b oflag=direct conv=notrunc,fsync status=none ||
				fail "the write of block $b failed"
		else
			dd if=blk of=$VOL bs=4k seek=$b oflag=direct conv=notrunc status=none ||
				fail "the write of block $b failed"
		fi
		_rw_new+=" $b"
	done
}
_rw_none=''
_rw_sink=''

step "a $MIB MiB random image on a read-only loop device: the parent"
random_file image $MIB
image_sum=$(md5sum <image | cut -d' ' -f1)
grep -q '^loop ' /proc/modules || modprobe loop || fail "modprobe loop failed"
parent=$(losetup --find --show --read-only image) || fail "losetup image failed"
on_exit losetup -d "$parent"

# ---------------------------------------------------------------- (a)
legs=()
make_loop_legs legs $MIB
cp image ref

step "(a) a $MIB MiB volume over it in 64 KiB regions, hydrating at $THROTTLE MiB/s"
crucible_create vol "$SECTORS" "${legs[@]}" "$parent" region_size $REGION \
	hydration_throttle $THROTTLE
dmsetup status vol
expect_status vol hydration_total $BLOCKS
wait_hydrated_past 256
# Two commit periods (1 s each by default): the progress so far is durable.
sleep 2.5

step "(a) suspend, load the same table, resume: four times, with writes in between"
for k in 1 2 3 4; do
	random_writes 4 ref
	dmsetup suspend vol || fail "suspend failed"
	h_susp=$(status_field vol hydrated)
	st=$(status_field vol hydration_state)
	[ "$st" = waiting ] || fail "suspended, hydration says '$st', not 'waiting' ($(dmsetup status vol))"
	table=$(dmsetup table vol)
	if ! dmsetup load vol --table "$table"; then
		dmsetup resume vol
		fail "the same table was refused: $table"
	fi
	h_new=$(inactive_hydrated)
	dmsetup resume vol || fail "resume failed"
	h_run=$(status_field vol hydrated)
	echo "reload $k: hydrated $h_susp while suspended, the new table starts from $h_new (now $h_run)"
	[ "$h_new" -gt 0 ] || fail "reload $k: hydration starts again from 0 (it was at $h_susp)"
	[ "$h_new" -le "$h_susp" ] || fail "reload $k: the new table starts at $h_new, past $h_susp where the old one stopped"
	[ "$h_new" -ge $((h_susp - NEAR)) ] ||
		fail "reload $k: the new table starts at $h_new, more than $NEAR blocks behind $h_susp where the old one stopped"
	[ "$h_run" -ge "$h_new" ] || fail "reload $k: hydrated went back from $h_new to $h_run after the resume"
	[ "$(status_field vol hydration_state)" != waiting ] || fail "reload $k: still 'waiting' after the resume"
	wait_hydrated_past $((h_run + 128))
done

step "(a) removed mid-hydration and created again"
random_writes 4 ref
dmsetup suspend vol || fail "suspend failed"
h_susp=$(status_field vol hydrated)
crucible_remove vol
crucible_create vol "$SECTORS" "${legs[@]}" "$parent" region_size $REGION \
	hydration off hydration_throttle $THROTTLE
dmsetup status vol
h_new=$(status_field vol hydrated)
echo "hydrated $h_susp when removed, the new volume starts from $h_new"
expect_status vol hydration_state paused
[ "$h_new" -gt 0 ] || fail "the new volume starts hydration from 0 (it was at $h_susp)"
[ "$h_new" -le "$h_susp" ] || fail "the new volume starts at $h_new, past $h_susp where the old one stopped"
[ "$h_new" -ge $((h_susp - NEAR)) ] ||
	fail "the new volume starts at $h_new, more than $NEAR blocks behind $h_susp where the old one stopped"
expect_volume ref "the image with the writes (hydration half done)"
msg vol hydration on
wait_hydrated_past $((h_new + 128))
random_writes 4 ref

step "(a) hydration finishes"
msg vol hydration_throttle 0
wait_hydrated vol 300
dmsetup status vol
expect_volume ref "the image with every write"
drop_caches
expect_volume ref "the image with every write (caches dropped)"
expect_counter vol mismatches -eq 0
expect_counter vol parent_errors -eq 0
wait_synced vol
expect_legs_equal "$SECTORS" $REGION "${legs[@]}"
crucible_remove vol
for l in "${legs[@]}"; do
	blkdiscard "$l" 2>/dev/null || true
done

# ---------------------------------------------------------------- (b)
legs=()
make_loop_legs legs $MIB
flakey_wrap_legs legs "$FL"
cp image old

step "(b) the volume over three dm-flakey legs, hydrating at $THROTTLE MiB/s"
crucible_create vol "$SECTORS" "${legs[@]}" "$parent" region_size $REGION \
	hydration_throttle $THROTTLE
dmsetup status vol
wait_hydrated_past 512
# Two commit periods: the progress so far is durable.
sleep 2.5
synced=''
random_writes 8 old '' synced
echo "fsync'd writes at blocks$synced"
dmsetup status vol

step "(b) power cut: every leg drops writes from now on"
h_before=$(status_field vol hydrated)
flakey_set_all drop_writes "${FL}0" "${FL}1" "${FL}2"
h_cut=$(status_field vol hydrated)
echo "hydrated $h_before before the cut, $h_cut after"
cp old new
lost=''
WRITE_MODE=plain random_writes 8 new synced lost
random_writes 4 new synced lost
sleep 1
# Reads of what was written (or hydrated) after the cut may fail now: no
# leg has the data its record names. The fsync'd blocks are on the legs.
for b in $synced; do
	"$READ" -t 3 -e old $VOL "$b" 1 >/dev/null || fail "after the cut, the fsync'd block $b does not read back"
done
h_end=$(status_field vol hydrated)
echo "writes after the cut at blocks$lost; hydrated $h_end at the end"
dmsetup status vol

step "(b) removed, legs healed, created again (hydration off, to read where it resumes)"
crucible_remove vol
flakey_set_all healthy "${FL}0" "${FL}1" "${FL}2"
crucible_create vol "$SECTORS" "${legs[@]}" "$parent" region_size $REGION hydration off
dmsetup status vol
expect_status vol hydration_state paused
h_new=$(status_field vol hydrated)
echo "hydrated $h_before before the cut, $h_cut just after it; the volume resumes from $h_new"
[ "$h_new" -gt 0 ] || fail "hydration starts again from 0 after the power cut (it was at $h_before)"
[ "$h_new" -le "$h_cut" ] || fail "hydration resumes at $h_new, past $h_cut where it was at the cut"
for b in $synced; do
	"$READ" -t 3 -e old $VOL "$b" 1 >/dev/null || fail "the fsync'd block $b was lost ($(dmsetup status vol))"
done
echo "every fsync'd block reads new (three reads each)"
"$READ" -t 3 -e old -e new $VOL 0 $BLOCKS ||
	fail "a block reads as neither the old data nor the new ($(dmsetup status vol))"

step "(b) hydration finishes"
msg vol hydration on
msg vol hydration_throttle 0
wait_hydrated vol 300
dmsetup status vol
for b in $synced; do
	"$READ" -t 3 -e old $VOL "$b" 1 >/dev/null || fail "the fsync'd block $b was lost ($(dmsetup status vol))"
done
"$READ" -t 3 -e old -e new $VOL 0 $BLOCKS ||
	fail "after hydration, a block reads as neither the old data nor the new ($(dmsetup status vol))"
read_new=0
for b in $lost; do
	if dd if=$VOL bs=4k skip="$b" count=1 iflag=direct status=none | cmp -s - <(dd if=new bs=4k skip="$b" count=1 status=none); then
		read_new=$((read_new + 1))
	fi
done
echo "of the $(wc -w <<<"$lost") blocks written after the cut, $read_new read new"
# Every block outside those written after the cut is exactly as before.
dd if=$VOL of=now bs=1M iflag=direct status=none
for b in $lost; do
	dd if=now of=old bs=4k skip="$b" seek="$b" count=1 conv=notrunc status=none
done
expect_volume old "the image with the fsync'd writes (and the later writes as they came back)"
expect_counter vol mismatches -eq 0
expect_counter vol parent_errors -eq 0
wait_synced vol
dmsetup status vol
expect_legs_equal "$SECTORS" $REGION "${legs[@]}"
crucible_remove vol
[ "$(md5sum <image | cut -d' ' -f1)" = "$image_sum" ] || fail "the image changed"
[ "$(dd if="$parent" bs=1M iflag=direct status=none | md5sum | cut -d' ' -f1)" = "$image_sum" ] ||
	fail "the parent does not read as the image any more"
