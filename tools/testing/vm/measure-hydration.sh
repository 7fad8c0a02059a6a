#!/bin/bash
# vm-timeout: 1500
# How fast hydration copies a parent into the legs, beside a plain copy, in
# one VM boot. Not a test: it prints figures (and fails only when something
# is plainly broken: a volume that does not hydrate, or that reads wrong).
#
#   tools/testing/vm/run --live tools/testing/vm/measure-hydration.sh
#   (or run it directly on the host: it boots the VM and runs itself there)
#
# Three loop legs on tmpfs, a 64 MiB random image (loop device on tmpfs) as
# the parent, default 1 MiB regions. Each round measures, in this order:
#   (a) dd   `dd if=parent of=leg0 bs=1M oflag=direct` (the reference rate)
#   (b) idle hydration of a fresh volume with no other I/O, from
#            `dmsetup create` to hydration_state `done`
#   (c) load hydration of a fresh volume (created with hydration off) while
#            fio writes 4 KiB blocks at random over it (libaio, iodepth 4,
#            O_DIRECT), from `hydration on` to `done`; fio runs until then
# and prints MiB/s for each, the ratios hydration/dd, and fio's write IOPS
# during (c). The legs are discarded (made blank again, which also frees
# their tmpfs pages) before each volume. Emulated I/O is noisy: the rounds
# are interleaved and the medians printed at the end.
#
# Environment: MEASURE_ROUNDS (default 3), MEASURE_MIB (parent size, 64).
set -euo pipefail

if [ -z "${VM_RESULTS:-}" ]; then
	exec "$(dirname "$0")/run" --live "$0"
fi

# shellcheck source=SCRIPTDIR/lib.sh
. "$VM_LIB"
# shellcheck source=SCRIPTDIR/lib-crucible.sh
. "$(dirname "$VM_LIB")/lib-crucible.sh"

ROUNDS=${MEASURE_ROUNDS:-3}
MIB=${MEASURE_MIB:-64}
SECTORS=$((MIB * 2048))
BLOCKS=$((MIB * 256))
VOL=/dev/mapper/hvol

now() { date +%s.%N; }
stop_pid() { kill "$1" 2>/dev/null || true; }
# rate MIB SECONDS
rate() { echo "scale=1; $1 / $2" | bc; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

need_crucible
grep -q '^loop ' /proc/modules || modprobe loop
step "parent: a $MIB MiB random image on a loop device (tmpfs); legs: three loop devices (tmpfs)"
random_file parent.img "$MIB"
parent=$(losetup --find --show --read-only parent.img) || fail "losetup parent.img failed"
on_exit losetup -d "$parent"
legs=()
make_loop_legs legs "$MIB"
echo "parent $parent, legs ${legs[*]}"

blank_legs() {
	local l
	for l in "${legs[@]}"; do
		blkdiscard "$l" || fail "blkdiscard $l failed"
	done
	cmp -s -n 1048576 "${legs[0]}" /dev/zero || fail "${legs[0]} is not blank after blkdiscard"
}

# wait_done NAME LIMIT: until hydration_state is done. Sleeps in `dmsetup
# wait` (the target raises an event when hydration completes), with a
# 1 s poll as a fallback, so that the waiting costs next to nothing.
wait_done() {
	local name=$1 limit=$2 end ev
	end=$(($(date +%s) + limit))
	while :; do
		ev=$(dmsetup info -c --noheadings -o events "$name" | tr -d ' ')
		[ "$(status_field "$name" hydration_state)" = "done" ] && return 0
		[ "$(date +%s)" -lt "$end" ] ||
			fail "$name: hydration not done after ${limit}s ($(dmsetup status "$name"))"
		timeout 1 dmsetup wait "$name" "$ev" >/dev/null 2>&1 || true
	done
}

# check_hydrated: hydrated == total, legs equal.
check_hydrated() {
	local h t
	h=$(status_field hvol hydrated)
	t=$(status_field hvol hydration_total)
	if [ "$h" != "$t" ] || [ "$t" != "$BLOCKS" ]; then
		fail "hydration done at $h/$t (expected $BLOCKS/$BLOCKS)"
	fi
	expect_counter hvol parent_errors -eq 0
	expect_legs_equal "$SECTORS" "$CRUCIBLE_DEFAULT_REGION" "${legs[@]}" >/dev/null
}

dd_rates=() idle_rates=() load_rates=() load_iops=() load_writes=()
for ((round = 1; round <= ROUNDS; round++)); do
	step "round $round of $ROUNDS"

	# (a) the reference: a plain copy of the parent onto a leg.
	blank_legs
	drop_caches
	t0=$(now)
	dd if="$parent" of="${legs[0]}" bs=1M oflag=direct status=none || fail "dd failed"
	t1=$(now)
	s=$(echo "$t1 - $t0" | bc)
	dd_rates+=("$(rate "$MIB" "$s")")
	echo "(a) dd:              ${s}s, ${dd_rates[-1]} MiB/s"

	# (b) hydration with no other I/O.
	blank_legs
	drop_caches
	t0=$(now)
	dmsetup create hvol --table "0 $SECTORS crucible ${legs[*]} $parent" || fail "create failed"
	on_exit _dm_remove hvol
	t_created=$(now)
	wait_done hvol 600
	t1=$(now)
	s=$(echo "$t1 - $t0" | bc)
	idle_rates+=("$(rate "$MIB" "$s")")
	echo "(b) hydration, idle: ${s}s, ${idle_rates[-1]} MiB/s (of which dmsetup create $(echo "$t_created - $t0" | bc)s)"
	check_hydrated
	expect_data $VOL parent.img
	crucible_remove hvol

	# (c) hydration under a random 4 KiB write load.
	blank_legs
	drop_caches
	dmsetup create hvol --table "0 $SECTORS crucible ${legs[*]} $parent 2 hydration off" || fail "create failed"
	on_exit _dm_remove hvol
	fio --name=load --filename=$VOL --rw=randwrite --bs=4k --ioengine=libaio \
		--iodepth=4 --direct=1 --size="${MIB}M" --time_based --runtime=3600 \
		--randseed=$round --eta=never >fio.out 2>&1 &
	fiopid=$!
	on_exit stop_pid "$fiopid"
	# Hydration starts once fio is writing.
	nw=0
	for ((i = 0; i < 300; i++)); do
		nw=$(status_field hvol writes)
		[ "$nw" -ge 100 ] && break
		kill -0 "$fiopid" 2>/dev/null || { cat fio.out; fail "fio ended early"; }
		sleep 0.1
	done
	[ "$nw" -ge 100 ] || fail "fio did not start writing"
	w0=$(status_field hvol writes)
	t0=$(now)
	msg hvol hydration on
	wait_done hvol 900
	t1=$(now)
	w1=$(status_field hvol writes)
	kill -INT "$fiopid"
	wait "$fiopid" || true
	s=$(echo "$t1 - $t0" | bc)
	load_rates+=("$(rate "$MIB" "$s")")
	load_writes+=("$(echo "scale=0; ($w1 - $w0) / $s" | bc)")
	iops=$(sed -n 's/^ *write: IOPS=\([^,]*\),.*/\1/p' fio.out | head -n 1)
	case $iops in
	*k) iops=$(echo "${iops%k} * 1000 / 1" | bc) ;;
	'') cat fio.out; fail "no IOPS figure in fio's output" ;;
	esac
	load_iops+=("$iops")
	echo "(c) hydration, load: ${s}s, ${load_rates[-1]} MiB/s; fio ${iops} write IOPS over its run," \
		"${load_writes[-1]} volume writes/s during hydration"
	grep -qE 'err= *[1-9]' fio.out && { cat fio.out; fail "fio saw errors"; }
	check_hydrated
	crucible_remove hvol
done

step "results ($ROUNDS rounds, $MIB MiB parent, loop legs on tmpfs, TCG guest)"
dd_m=$(median "${dd_rates[@]}")
idle_m=$(median "${idle_rates[@]}")
load_m=$(median "${load_rates[@]}")
printf '%-24s %s\n' "(a) dd MiB/s:" "${dd_rates[*]}  median $dd_m"
printf '%-24s %s\n' "(b) idle MiB/s:" "${idle_rates[*]}  median $idle_m"
printf '%-24s %s\n' "(c) under load MiB/s:" "${load_rates[*]}  median $load_m"
printf '%-24s %s\n' "(c) fio write IOPS:" "${load_iops[*]}  median $(median "${load_iops[@]}")"
printf '%-24s %s\n' "(c) volume writes/s:" "${load_writes[*]}  median $(median "${load_writes[@]}")"
printf '%-24s %s\n' "ratio idle/dd:" "$(echo "scale=2; $idle_m / $dd_m" | bc)"
printf '%-24s %s\n' "ratio load/dd:" "$(echo "scale=2; $load_m / $dd_m" | bc)"
printf '%-24s %s\n' "ratio load/idle:" "$(echo "scale=2; $load_m / $idle_m" | bc)"
