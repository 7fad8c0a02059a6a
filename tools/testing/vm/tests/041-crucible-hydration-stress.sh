#!/bin/bash
# vm-timeout: 900
# Writes racing hydration. Two rounds, fresh legs each: a 16 MiB random
# image is the parent of a 24 MiB volume in 64 KiB regions, hydrated at
# 1 MiB/s; while it hydrates, 150 O_DIRECT writes of one or two
# 4 KiB blocks land at random offsets (in blocks already hydrated, not yet
# hydrated, past the parent, across region boundaries; some with O_SYNC or
# fsync), the same writes go to a copy of the image (the reference), and
# hydration is switched off and on again a few times. Hydration never
# overwrites a written block: once it is done the volume reads as the
# reference, also with the caches dropped, and the three legs' data areas
# are equal.
#
# The seed of each round is printed; replay one with SEED=N in the
# environment (from --shell) or crucible_hydration_seed=N on the guest's
# kernel command line (VM_CMDLINE); ROUNDS / crucible_hydration_rounds and
# WRITES / crucible_hydration_writes change the counts.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=SCRIPTDIR/../lib-crucible.sh
. "$(dirname "$0")/../lib-crucible.sh"

SEED=${SEED:-$(cmdline_value crucible_hydration_seed)}
SEED=${SEED:-$(($(date +%s%N) / 1000 % 1000000))}
ROUNDS=${ROUNDS:-$(cmdline_value crucible_hydration_rounds)}
ROUNDS=${ROUNDS:-2}
WRITES=${WRITES:-$(cmdline_value crucible_hydration_writes)}
WRITES=${WRITES:-150}

PARENT_MIB=16
PARENT_BLOCKS=$((PARENT_MIB * 256))
VOLUME_MIB=24
SECTORS=$((VOLUME_MIB * 2048))
VOLUME_BLOCKS=$((VOLUME_MIB * 256))
REGION=128			# 64 KiB regions: 16 blocks each
REGION_BLOCKS=$((REGION / 8))
THROTTLE=1			# MiB/s: 16 s at least for the parent
VOL=/dev/mapper/vol
PY=/usr/bin/python3

echo "seed $SEED, $ROUNDS rounds, $WRITES writes a round (replay: SEED=$SEED)"

# seeded_file PATH BYTES SEED: pseudo-random bytes, the same for the same seed.
seeded_file() {
	"$PY" -c 'import random, sys
sys.stdout.buffer.write(random.Random(int(sys.argv[2])).randbytes(int(sys.argv[1])))' "$2" "$3" >"$1" ||
		fail "cannot make $1"
}

# apply_writes REF POOL OPS: replay the writes listed in OPS ("POOL_BLOCK
# VOLUME_BLOCK COUNT" a line, in order) on the file REF.
apply_writes() {
	"$PY" - "$@" <<-'EOF' || fail "cannot apply the writes to $1"
		import sys
		ref, pool, ops = sys.argv[1:4]
		with open(ref, "r+b") as r, open(pool, "rb") as p:
		    for line in open(ops):
		        src, dst, n = map(int, line.split())
		        p.seek(src * 4096)
		        r.seek(dst * 4096)
		        r.write(p.read(n * 4096))
	EOF
}

block_digest() {
	local sum
	sum=$(dd if="$1" bs=4k skip="$2" count=1 "${@:3}" status=none | md5sum | cut -c1-12)
	[ "$sum" != 620f0b67a91f ] || sum=zeros
	echo "$sum"
}

# show_differing_blocks REF IMAGE OPS: the first blocks of the volume that
# differ from REF, with what the volume, REF and the image hold there and
# the writes that went to each.
show_differing_blocks() {
	local ref=$1 img=$2 ops=$3 b line w
	local -a blocks
	mapfile -t blocks < <(cmp -l <(dd if=$VOL bs=1M iflag=direct status=none) "$ref" 2>/dev/null |
		awk '{ b = int(($1 - 1) / 4096); if (b != last) { print b; last = b } }' | head -n 1000)
	echo "${#blocks[@]} blocks differ (counting stops at 1000); the first ones:"
	for b in "${blocks[@]:0:8}"; do
		line="block $b (region $((b / REGION_BLOCKS))): reads $(block_digest $VOL "$b" iflag=direct)"
		line+=", expected $(block_digest "$ref" "$b")"
		[ "$b" -ge $PARENT_BLOCKS ] || line+=", the image has $(block_digest "$img" "$b")"
		w=$(awk -v b="$b" '$2 <= b && b < $2 + $3 { printf " #%d", NR }' "$ops")
		line+=", written by write${w:- (none)}"
		echo "$line"
	done
}

expect_volume() {
	local ref=$1 what=$2 img=$3 ops=$4
	if ! data_matches $VOL "$ref"; then
		show_differing_blocks "$ref" "$img" "$ops" >&2
		fail "the volume does not read as $what ($(dmsetup status vol))"
	fi
	echo "the volume reads as $what"
}

# dd_write POOL POOL_BLOCK VOLUME_BLOCK COUNT MODE
dd_write() {
	local -a flags
	case $5 in
	sync) flags=("oflag=direct,sync") ;;
	fsync) flags=(oflag=direct "conv=notrunc,fsync") ;;
	*) flags=(oflag=direct conv=notrunc) ;;
	esac
	dd if="$1" of=$VOL bs=4k skip="$2" seek="$3" count="$4" "${flags[@]}" status=none ||
		fail "write of $4 block(s) at block $3 ($5) failed ($(dmsetup status vol))"
}

# step, with the time since the test started (the rounds are long under
# emulation: where the time goes).
tstep() {
	step "$* (at ${SECONDS}s)"
}

# A round: everything from fresh legs to equal legs.
round() {
	local r=$1 seed=$2 legs=() parent='' i b n mode h0 h1 st
	local writes_during=0 t0 pauses=0 pause_len sync_writes=0 beyond=0 crossing=0
	local -A pause_at=() resume_at=()

	tstep "round $r, seed $seed: a $PARENT_MIB MiB image, a $VOLUME_MIB MiB volume hydrating at $THROTTLE MiB/s"
	RANDOM=$seed
	seeded_file "image.$r" $((PARENT_MIB << 20)) "$seed"
	seeded_file "pool.$r" $((2 * WRITES * CRUCIBLE_BLOCK)) $((seed + 1))
	cp "image.$r" "ref.$r"
	truncate -s ${VOLUME_MIB}M "ref.$r"
	: >"ops.$r"
	grep -q '^loop ' /proc/modules || modprobe loop || fail "modprobe loop failed"
	parent=$(losetup --find --show --read-only "image.$r") || fail "losetup image.$r failed"
	on_exit losetup -d "$parent"
	make_loop_legs legs $VOLUME_MIB
	echo "image, writes' data and legs ready at ${SECONDS}s"
	crucible_create vol "$SECTORS" "${legs[@]}" "$parent" region_size $REGION \
		hydration_throttle $THROTTLE
	dmsetup status vol
	expect_status vol hydration_total $PARENT_BLOCKS

	# Hydration is switched off three times, for 15 writes each (fewer
	# when there are fewer than 300 writes).
	pause_len=$((WRITES / 20 < 15 ? WRITES / 20 : 15))
	[ $pause_len -ge 1 ] || pause_len=1
	for i in $((WRITES / 5)) $((2 * WRITES / 5)) $((3 * WRITES / 5)); do
		pause_at[$i]=1
		resume_at[$((i + pause_len))]=1
	done

	tstep "round $r: $WRITES writes while hydration runs"
	t0=$SECONDS
	for ((i = 0; i < WRITES; i++)); do
		# One write in eight is two blocks, one in eight starts at the
		# last block of a region (so it crosses into the next one).
		n=1
		[ $((RANDOM % 8)) -ne 0 ] || n=2
		b=$((RANDOM % (VOLUME_BLOCKS - 1)))
		if [ $((RANDOM % 8)) -eq 0 ]; then
			b=$((b / REGION_BLOCKS * REGION_BLOCKS + REGION_BLOCKS - 1))
			[ $b -lt $((VOLUME_BLOCKS - 1)) ] || b=$((VOLUME_BLOCKS - 2))
			n=2
			crossing=$((crossing + 1))
		fi
		case $((RANDOM % 10)) in
		0) mode=sync ;;
		1) mode=fsync ;;
		*) mode=plain ;;
		esac
		[ $mode = plain ] || sync_writes=$((sync_writes + 1))
		[ $b -lt $PARENT_BLOCKS ] || beyond=$((beyond + 1))
		# The state is looked at every tenth write only: dmsetup is slow
		# under emulation, and the writes must come while hydration runs.
		if [ $((i % 10)) -eq 0 ]; then
			st=$(status_field vol hydration_state)
			[ "$st" = 'done' ] || writes_during=$i
		fi
		dd_write "pool.$r" $((2 * i)) $b $n $mode
		echo "$((2 * i)) $b $n" >>"ops.$r"

		if [ -n "${pause_at[$i]:-}" ]; then
			[ "$(status_field vol hydration_state)" != 'done' ] ||
				fail "hydration was over after $i writes: the race is not tested (lower the throttle)"
			msg vol hydration off
			h0=$(status_field vol hydrated)
			expect_status vol hydration_state paused
			pauses=$((pauses + 1))
		fi
		if [ -n "${resume_at[$i]:-}" ]; then
			h1=$(status_field vol hydrated)
			expect_status vol hydration_state paused
			# A chunk in flight when it was switched off may still
			# complete; nothing after it.
			[ "$h1" -le $((h0 + 2 * REGION_BLOCKS)) ] ||
				fail "hydration went on while off: $h0 then $h1 blocks ($(dmsetup status vol))"
			echo "hydration off for $pause_len writes: hydrated $h0 -> $h1 blocks"
			msg vol hydration on
			wait_status vol hydration_state '@(running|done)' 10
		fi
		if [ $i -eq $((WRITES / 2)) ]; then
			dmsetup status vol
			[ "$(status_field vol hydration_state)" != 'done' ] ||
				fail "hydration was over before half the writes: the race is not tested (lower the throttle)"
		fi
	done
	echo "$WRITES writes in $((SECONDS - t0))s, hydration off $pauses times (still not done at write $writes_during, $sync_writes with O_SYNC or fsync," \
		"$beyond past the parent, $crossing across a region boundary)"
	dmsetup status vol
	apply_writes "ref.$r" "pool.$r" "ops.$r"

	tstep "round $r: hydration finishes (throttle off); the volume reads as the reference"
	msg vol hydration_throttle 0
	wait_hydrated vol 300
	dmsetup status vol
	expect_volume "ref.$r" "the image with every write" "image.$r" "ops.$r"
	drop_caches
	expect_volume "ref.$r" "the image with every write (caches dropped)" "image.$r" "ops.$r"
	expect_counter vol mismatches -eq 0
	expect_counter vol parent_errors -eq 0
	tstep "round $r: the legs' data areas are equal"
	wait_synced vol
	expect_legs_equal "$SECTORS" $REGION "${legs[@]}"
	[ "$(md5sum <"image.$r" | cut -d' ' -f1)" = \
		"$(dd if="$parent" bs=1M iflag=direct status=none | md5sum | cut -d' ' -f1)" ] ||
		fail "the parent does not read as its image any more"
	crucible_remove vol

	# Give the legs' memory back (tmpfs) before the next round.
	for i in "${legs[@]}"; do
		blkdiscard "$i" 2>/dev/null || true
	done
	rm -f "ref.$r" "pool.$r"
}

shopt -s extglob
for ((k = 0; k < ROUNDS; k++)); do
	round $k $((SEED + k))
done
