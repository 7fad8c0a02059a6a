#!/bin/bash
# vm-timeout: 900
# Crash consistency: no crash loses a flushed write, brings back older data
# or garbage, or leaves the legs different after repair.
#
# A workload (tools/testing/crash/crash-workload: random 4 KiB O_DIRECT
# writes, fsyncs, RWF_DSYNC writes) runs on a volume whose three legs each
# sit on a dm-log-writes device with its own log; after every fsync the
# workload marks all three logs "fsync<k>". Then, for each crash point,
# three fresh zeroed legs are replayed from the logs, each leg to its own
# limit drawn inside its crash window (tools/testing/replay-log/README.md):
#
#   mark:K    between mark fsyncK and the leg's next flush
#   fua:SEQ   between RWF_DSYNC write SEQ's FUA entry and the leg's next
#             flush: the write had reached every leg, so it must survive
#             (the workload never aims one at a block with a write not yet
#             synced: dm-log-writes would log that plain write after the
#             FUA one, and a replay would put it back over it)
#   end       the whole logs
#
# the volume is assembled over them, and tools/testing/crash/crash-check
# checks every block read through the volume against the journal (at least
# the durable version, never older, never garbage; zeros only if nothing
# was durable) and, once repair is idle, that each leg's data area holds
# exactly what the volume returned; no read or repair may find a block that
# fails its record. A third of the points also read while repair is still
# running (reads of unrepaired regions wait for their repair), and must read
# the same once it is idle. Before assembly, each replayed leg is checked on
# its own: outside dirty regions every record matches its data. The first
# three failing points' replayed legs and the journal are saved in the
# results (crash-080-point-<P>/).
#
# Environment (or, since the guest does not see the host's environment,
# crash_points=N / crash_seed=S / crash_writes=N on the guest kernel's
# command line, e.g.
# VM_CMDLINE="crash_points=1000" tools/testing/vm/run ...; see
# tools/testing/crash/crash-long.sh for a long run):
#   CRASH_POINTS  crash points (default 50; `make -C tools/testing/crash long`: 1000)
#   CRASH_SEED    seed of the workload and of the points (default: random)
#   CRASH_WRITES  writes of the workload (default 1500)
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=SCRIPTDIR/../lib-crucible.sh
. "$(dirname "$0")/../lib-crucible.sh"

REPO=${CRUCIBLE_REPO:-$(cd "$(dirname "$0")/../../../.." && pwd)}

POINTS=${CRASH_POINTS:-$(cmdline_value crash_points '^ ')}
POINTS=${POINTS:-50}
SEED=${CRASH_SEED:-$(cmdline_value crash_seed '^ ')}
SEED=${SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
WRITES=${CRASH_WRITES:-$(cmdline_value crash_writes '^ ')}
WRITES=${WRITES:-1500}
case "$POINTS$SEED$WRITES" in *[!0-9]*) fail "CRASH_POINTS, CRASH_SEED and CRASH_WRITES must be numbers" ;; esac

VOLUME_MIB=8
SECTORS=$((VOLUME_MIB * 2048))
BLOCKS=$((SECTORS / 8))
REGION=256		# 128 KiB: 64 regions
LEG_MIB=$((VOLUME_MIB + 4))
LOG_MIB=512		# sparse: only what is logged takes memory
OPTS=(4 region_size "$REGION" commit_period 100)
DATA_OFFSET=$(leg_data_offset $SECTORS $REGION)
DATA_SECTOR=$((DATA_OFFSET / 512))
VOL=crash-vol
W=${TMPDIR:-/tmp}/crash
mkdir -p "$W"

# ---- programs: the tree's when up to date, else built here
BIN=$W/bin
mkdir -p "$BIN"
REPLAY_DIR=$REPO/tools/testing/replay-log
CRASH_DIR=$REPO/tools/testing/crash
if [ -x "$REPLAY_DIR/replay-log" ] && make -s -q -C "$REPLAY_DIR" replay-log >/dev/null 2>&1; then
	REPLAY_LOG=$REPLAY_DIR/replay-log
else
	echo "building replay-log in the guest (make -C tools/testing/replay-log on the host saves this)"
	cc -Wall -Wextra -Werror -std=gnu11 -D_FILE_OFFSET_BITS=64 -O2 \
		-o "$BIN/replay-log" "$REPLAY_DIR/replay-log.c" || fail "cannot build replay-log"
	REPLAY_LOG=$BIN/replay-log
fi
if [ -x "$CRASH_DIR/crash-workload" ] && [ -x "$CRASH_DIR/crash-check" ] &&
	make -s -q -C "$CRASH_DIR" >/dev/null 2>&1; then
	WORKLOAD=$CRASH_DIR/crash-workload
	CHECK=$CRASH_DIR/crash-check
else
	echo "building crash-workload and crash-check in the guest (make -C tools/testing/crash on the host saves this)"
	make -s -C "$CRASH_DIR" OUT="$BIN" >"$W/build.log" 2>&1 || {
		cat "$W/build.log" >&2
		fail "cannot build tools/testing/crash"
	}
	WORKLOAD=$BIN/crash-workload
	CHECK=$BIN/crash-check
fi
rl() { "$REPLAY_LOG" "$@"; }

need_crucible
grep -q '^dm_log_writes ' /proc/modules || modprobe dm-log-writes || fail "modprobe dm-log-writes failed"
grep -q '^loop ' /proc/modules || modprobe loop || fail "modprobe loop failed"

# Whatever this test leaves, newest first: the volume, log-writes devices,
# loop devices over files under $W.
cleanup_crash() {
	local f d
	_dm_remove $VOL
	for d in 0 1 2; do _dm_remove "crash-lw$d"; done
	for f in "$W"/*; do
		[ -f "$f" ] || continue
		for d in $(losetup -j "$f" -O NAME -n 2>/dev/null); do
			losetup -d "$d"
		done
	done
	return 0
}
on_exit rm -rf "$W"
on_exit cleanup_crash

# Time in microseconds, without a fork (TCG makes every process costly).
usec() { local t=${EPOCHREALTIME/./}; echo "$t"; }
secs() { printf '%d.%02d' $(($1 / 1000000)) $(($1 % 1000000 / 10000)); }
# Where a point's time goes: phase NAME adds the time since the last call.
declare -A PHASE=()
t_phase=0
phase() {
	local t=${EPOCHREALTIME/./}
	PHASE[$1]=$((${PHASE[$1]:-0} + t - t_phase))
	t_phase=$t
}
loop_of() { losetup --find --show "$1" || fail "losetup $1 failed"; }

echo "crash test: seed $SEED, $WRITES writes, $POINTS crash points; volume $VOLUME_MIB MiB," \
	"region $REGION sectors, data area at byte $DATA_OFFSET of each leg"
RANDOM=$SEED

# ---- record
step "record: crucible over dm-log-writes over loop legs, workload with marks"
t_rec=$(usec)
data=() logs=() lw=()
for i in 0 1 2; do
	truncate -s ${LEG_MIB}M "$W/data$i"
	truncate -s ${LOG_MIB}M "$W/log$i"
	d=$(loop_of "$W/data$i")
	l=$(loop_of "$W/log$i")
	data+=("$d")
	logs+=("$l")
	dmsetup create "crash-lw$i" --table "0 $(blockdev --getsz "$d") log-writes $d $l" ||
		fail "cannot create log-writes over $d"
	lw+=("/dev/mapper/crash-lw$i")
done
dmsetup create $VOL --table "0 $SECTORS crucible ${lw[*]} - ${OPTS[*]}" ||
	fail "cannot create the volume over the log-writes devices"
"$WORKLOAD" --dev /dev/mapper/$VOL --blocks $BLOCKS --writes "$WRITES" --seed "$SEED" \
	--region-blocks $((REGION / 8)) --hot 64 \
	--journal "$W/journal" --mark crash-lw0 --mark crash-lw1 --mark crash-lw2 ||
	fail "the workload failed"
dmsetup status $VOL
expect_status $VOL legs AAA
expect_counter $VOL mismatches -eq 0
_dm_remove $VOL || fail "cannot remove the volume"
for i in 0 1 2; do
	st=$(dmsetup status "crash-lw$i")
	case $st in *logging_disabled*) fail "log $i overflowed ($LOG_MIB MiB): $st" ;; esac
	_dm_remove "crash-lw$i" || fail "cannot remove crash-lw$i"
	losetup -d "${data[i]}"
	losetup -d "${logs[i]}"
done
echo "recorded in $(secs $(($(usec) - t_rec)))s; logs use $(du -m "$W"/log0 "$W"/log1 "$W"/log2 | awk '{ s = s $1 " " } END { print s }')MiB"

step "sanity: each whole log replays to exactly the leg it recorded"
for i in 0 1 2; do
	truncate -s ${LEG_MIB}M "$W/full$i"
	rl --log "$W/log$i" --replay "$W/full$i" || fail "replay of log $i failed"
	cmp "$W/full$i" "$W/data$i" || fail "log $i does not replay to the recorded leg $i"
	rm -f "$W/full$i" "$W/data$i"
done

# ---- crash windows
# Per leg, one line per anchor: "mark K LO HI" or "fua J LO HI SECTOR": the
# leg's limits run from LO (just after the mark or FUA entry) to HI (the
# first FLUSH entry after it, or the entry count).
for i in 0 1 2; do
	rl --log "$W/log$i" --list >"$W/list$i" || fail "cannot list log $i"
	# (Counters start at 0 explicitly: an unset one indexes an array as "".)
	awk -v ds=$DATA_SECTOR '
		BEGIN { n = nf = nm = nu = 0 }
		{ n = $1 + 1 }
		$4 ~ /FLUSH/ { fl[nf++] = $1 }
		$4 ~ /MARK/ && $5 ~ /^fsync[0-9]+$/ { mk[nm] = substr($5, 6); mi[nm++] = $1 }
		$4 ~ /FUA/ && $4 !~ /FLUSH/ && $2 >= ds { fi[nu] = $1; fs[nu++] = $2 }
		function next_flush(x,   k) {
			while (p < nf && fl[p] <= x) p++
			return p < nf ? fl[p] : n
		}
		END {
			p = 0
			for (k = 0; k < nm; k++) print "mark", mk[k], mi[k] + 1, next_flush(mi[k])
			p = 0
			for (k = 0; k < nu; k++) print "fua", k, fi[k] + 1, next_flush(fi[k]), fs[k]
		}' "$W/list$i" >"$W/windows$i"
done

declare -A LO HI
for i in 0 1 2; do
	while read -r kind k lo hi _; do
		LO[$i,$kind,$k]=$lo
		HI[$i,$kind,$k]=$hi
	done <"$W/windows$i"
done
NR_MARKS=$(grep -c '^M ' "$W/journal")
for i in 0 1 2; do
	n=$(grep -c '^mark ' "$W/windows$i")
	[ "$n" -eq "$NR_MARKS" ] || fail "log $i has $n fsync marks, the journal $NR_MARKS"
done

# RWF_DSYNC writes: the J-th is the J-th FUA write into the data area of
# every leg's log (nothing else writes the data area with FUA).
mapfile -t DSYNC < <(awk '$1 == "W" && $5 == 1 { print $2, $3 }' "$W/journal")
for i in 0 1 2; do
	mapfile -t fua < <(awk '$1 == "fua" { print $5 }' "$W/windows$i")
	[ ${#fua[@]} -eq ${#DSYNC[@]} ] ||
		fail "log $i has ${#fua[@]} FUA writes in the data area, the journal ${#DSYNC[@]} RWF_DSYNC writes"
	for j in "${!DSYNC[@]}"; do
		b=${DSYNC[j]#* }
		[ "${fua[j]}" -eq $((DATA_SECTOR + b * 8)) ] ||
			fail "log $i: FUA write $j is at sector ${fua[j]}, RWF_DSYNC write ${DSYNC[j]% *} went to block $b"
	done
done

# Where each anchor is in the journal's order of events; and the RWF_DSYNC
# writes that are the first write into their region: nothing in the region
# has a record on disk, the FUA data is all that says the block was
# written (the rehash after the crash must read it all the same).
declare -A POS
FRESH=()
while read -r kind k pos fresh; do
	POS[$kind,$k]=$pos
	[ "$fresh" = 1 ] && FRESH+=("$k")
done < <(awk -v rb=$((REGION / 8)) '
	$1 == "M" { print "mark", $2, NR, 0 }
	$1 == "W" && $5 == 1 { print "fua", nd++, NR, seen[int($3 / rb)] ? 0 : 1 }
	$1 == "W" { seen[int($3 / rb)] = 1 }' "$W/journal")
echo "${#DSYNC[@]} RWF_DSYNC writes, ${#FRESH[@]} of them the first write into their region"

# ---- crash points: anchor, then one limit per leg inside its window
# rand N: R = a random number in [0, N) (no subshell: RANDOM must advance).
rand() { R=$(((RANDOM << 15 | RANDOM) % $1)); }
# add_point P KIND K: crash point P at anchor KIND K, limits drawn by P's
# style; returns 1 if an identical point is already in.
declare -A SEEN=()
points=()
add_point() {
	local p=$1 kind=$2 k=$3 i lo hi n lims='' mix
	rand 6
	mix=$R
	for i in 0 1 2; do
		lo=${LO[$i,$kind,$k]:-} hi=${HI[$i,$kind,$k]:-}
		# Every window lies after mark fsync0 (the workload's start).
		if [ -z "$lo" ] || [ "$lo" -lt "${LO[$i,mark,0]}" ] || [ "$hi" -lt "$lo" ]; then
			fail "bad crash window [$lo..$hi] for $kind $k in log $i"
		fi
		case $((p % 5)) in
		0) n=$lo ;;				# every unflushed write lost
		1) n=$hi ;;				# all of them kept
		2) if [ $(((mix + 1) >> i & 1)) -eq 1 ]; then n=$lo; else n=$hi; fi ;; # mixed edges
		*) rand $((hi - lo + 1)); n=$((lo + R)) ;;
		esac
		lims+=" $n"
	done
	[ -z "${SEEN[$kind $k$lims]:-}" ] || return 1
	SEEN[$kind $k$lims]=1
	points+=("${POS[$kind,$k]} $p $kind $k$lims")
}
p=0
# Every first write into a region that was RWF_DSYNC (at most 8), then
# random anchors: a quarter after RWF_DSYNC writes, the rest at marks.
for k in "${FRESH[@]:0:8}"; do
	[ $p -lt "$POINTS" ] || break
	p=$((p + 1))
	add_point $p fua "$k" || true
done
tries=0
while [ ${#points[@]} -lt "$POINTS" ] && [ $tries -lt $((POINTS * 20)) ]; do
	p=$((p + 1)) tries=$((tries + 1))
	if [ ${#DSYNC[@]} -gt 0 ] && [ $((p % 4)) -eq 3 ]; then
		rand ${#DSYNC[@]}
		add_point $p fua $R || true
	else
		rand "$NR_MARKS"
		add_point $p mark $R || true
	fi
done
[ ${#points[@]} -eq "$POINTS" ] ||
	echo "only ${#points[@]} distinct crash points exist in these logs (asked for $POINTS)"
# The whole logs: a clean shutdown, every block at its last version.
ends=()
for i in 0 1 2; do ends+=("$(awk '{ n = $1 + 1 } END { print n }' "$W/list$i")"); done
points+=("999999999 0 end 0 ${ends[*]}")
# Oldest anchor first: the base images only move forward.
mapfile -t points < <(printf '%s\n' "${points[@]}" | sort -n -k1,1 -k2,2)

# anchor_name KIND K: ANCHOR = the anchor as crash-check takes it.
anchor_name() {
	case $1 in
	mark) ANCHOR=mark:$2 ;;
	fua) ANCHOR=fua:${DSYNC[$2]% *} ;;
	end) ANCHOR=end ;;
	esac
}

# ---- run them
# wait_idle: repair idle, every leg A, every region in sync; the status line
# in ST. A violation (in $out) if that does not come within 120 s.
wait_idle() {
	local end=$((SECONDS + 120)) w
	while :; do
		ST=$(dmsetup status $VOL) || fail "dmsetup status $VOL failed"
		read -r -a w <<<"$ST"
		# w[3..]: version mode generation flush legs regions hydration repair ...
		if [ "${w[10]}" = idle ]; then
			[ "${w[7]}" = AAA ] && [ "${w[8]%/*}" = "${w[8]#*/}" ] && [ "${w[4]}" = rw ] && return 0
			echo "VIOLATION $anchor: repair idle, but not every leg in sync: $ST" >>"$out"
			return 1
		fi
		if [ $SECONDS -ge $end ]; then
			echo "VIOLATION $anchor: repair not idle after 120s: $ST" >>"$out"
			return 1
		fi
		sleep 0.1
	done
}

saved=0
save_failure() { # POINT ANCHOR LIMITS: the replayed legs, before assembly
	local dir=${VM_RESULTS:-}/crash-080-point-$1 i
	[ -n "${VM_RESULTS:-}" ] && [ $saved -lt 3 ] || return 0
	saved=$((saved + 1))
	mkdir -p "$dir"
	for i in 0 1 2; do
		cp --sparse=always "$W/base$i" "$dir/leg$i"
		[ "${lim[i]}" -le "${lo[i]}" ] ||
			rl --log "$W/log$i" --replay "$dir/leg$i" --start-entry "${lo[i]}" --limit "${lim[i]}" >/dev/null
	done
	cp "$W/journal" "$dir/journal"
	{
		echo "point $1, anchor $2, seed $SEED, limits $3"
		echo "legs leg0..2 as replayed, before assembly; volume: 0 $SECTORS crucible <leg0> <leg1> <leg2> - ${OPTS[*]}"
		echo "check: crash-check volume --journal journal --anchor $2 --device /dev/mapper/<vol>"
	} >"$dir/README"
	echo "    saved the replayed legs and the journal in $dir"
}

# The legs are the same three files behind the same loop devices for every
# point: each point rewrites the files (cp truncates and refills the same
# inode) while no table holds the loop devices. The volume's I/O reaches the
# files through bios only, so no page cache of the loop devices goes stale.
cur=(0 0 0) legs=()
for i in 0 1 2; do
	truncate -s ${LEG_MIB}M "$W/base$i" "$W/leg$i"
	legs+=("$(loop_of "$W/leg$i")")
done
failed=() times=() nr=0 out=$W/point.out
with_later=0 window_sum=0
t_points=$(usec)
step "${#points[@]} crash points (seed $SEED)"
for line in "${points[@]}"; do
	read -r _ p kind k l0 l1 l2 <<<"$line"
	nr=$((nr + 1))
	anchor_name "$kind" "$k"
	anchor=$ANCHOR
	lim=("$l0" "$l1" "$l2")
	lo=() hi=()
	for i in 0 1 2; do
		if [ "$kind" = end ]; then
			lo+=("${lim[i]}") hi+=("${lim[i]}")
		else
			lo+=("${LO[$i,$kind,$k]}") hi+=("${HI[$i,$kind,$k]}")
		fi
	done
	window_sum=$((window_sum + hi[0] - lo[0] + hi[1] - lo[1] + hi[2] - lo[2]))
	desc="leg0 ${lim[0]} [${lo[0]}..${hi[0]}], leg1 ${lim[1]} [${lo[1]}..${hi[1]}], leg2 ${lim[2]} [${lo[2]}..${hi[2]}]"
	mode=after-repair
	[ $((p % 3)) -eq 1 ] && mode=during-repair
	t0=${EPOCHREALTIME/./}
	t_phase=$t0

	# Base images: every leg replayed to the start of its window.
	for i in 0 1 2; do
		[ "${lo[i]}" -ge "${cur[i]}" ] || fail "points out of order at $anchor (leg $i: ${lo[i]} < ${cur[i]})"
		if [ "${lo[i]}" -gt "${cur[i]}" ]; then
			rl --log "$W/log$i" --replay "$W/base$i" --start-entry "${cur[i]}" --limit "${lo[i]}" >/dev/null ||
				fail "replay of log $i to ${lo[i]} failed"
			cur[i]=${lo[i]}
		fi
	done
	phase base
	"$CHECK" copy "$W/base0" "$W/leg0" "$W/base1" "$W/leg1" "$W/base2" "$W/leg2" ||
		fail "cannot copy the base images"
	phase copy
	for i in 0 1 2; do
		[ "${lim[i]}" -le "${lo[i]}" ] ||
			rl --log "$W/log$i" --replay "$W/leg$i" --start-entry "${lo[i]}" --limit "${lim[i]}" >/dev/null ||
			fail "replay of log $i to ${lim[i]} failed"
	done
	phase window

	: >"$out"
	ok=1 ST=''
	# Each leg as replayed: outside dirty regions, records match the data.
	"$CHECK" records --journal "$W/journal" --anchor "$anchor" \
		--leg "$W/leg0" --leg "$W/leg1" --leg "$W/leg2" >>"$out" 2>&1 || ok=0
	phase records
	kmsg_mark "crash point $p $anchor"
	rm -f "$W/image"
	if ! dmsetup create $VOL --table "0 $SECTORS crucible ${legs[*]} - ${OPTS[*]}" >>"$out" 2>&1; then
		ok=0
		{
			echo "VIOLATION $anchor: the volume cannot be assembled"
			kmsg_since_mark | grep -i crucible || true
		} >>"$out"
	else
		phase create
		same=()
		if [ $mode = during-repair ]; then
			# Read while repair runs, then again once it is idle: the
			# same content both times.
			"$CHECK" volume --journal "$W/journal" --anchor "$anchor" --device /dev/mapper/$VOL \
				--save "$W/image" >>"$out" 2>&1 || ok=0
			same=(--same-as "$W/image")
			phase check-volume
		fi
		wait_idle || ok=0
		phase repair
		# The legs' data areas are read while the volume is still up: with
		# repair idle and no writes, nothing changes them.
		"$CHECK" volume --journal "$W/journal" --anchor "$anchor" --device /dev/mapper/$VOL \
			"${same[@]}" --data-offset "$DATA_OFFSET" --leg "$W/leg0" --leg "$W/leg1" --leg "$W/leg2" \
			>>"$out" 2>&1 || ok=0
		phase check-volume
		read -r -a sw <<<"$(dmsetup status $VOL)"
		# sw[14]: mismatches, sw[16..18]: leg errors
		if [ "${sw[14]:-}" != 0 ] || [ "${sw[*]:16:3}" != "0 0 0" ]; then
			ok=0
			echo "VIOLATION $anchor: blocks that did not match their records or leg errors: ${sw[*]}" >>"$out"
		fi
		dmsetup remove $VOL || _dm_remove $VOL || fail "cannot remove the volume"
		phase remove
	fi
	t=$((${EPOCHREALTIME/./} - t0))
	times+=("$t")
	if [ $ok -eq 1 ]; then
		summary=''
		while read -r l; do
			case $l in *"blocks read"*) summary=${l#*: } summary=${summary%; 0 viol*} ;; esac
		done <"$out"
		case $summary in *" 0 at a later one"*) ;; *) with_later=$((with_later + 1)) ;; esac
		printf 'ok   %3d/%d point %d %s (%s), %s: %ss; %s\n' "$nr" ${#points[@]} "$p" "$anchor" \
			"$mode" "$desc" "$(secs "$t")" "$summary"
	else
		first=''
		while read -r l; do
			case $l in VIOLATION*) first=${l#VIOLATION } && break ;; esac
		done <"$out"
		failed+=("point $p $anchor ($mode): $desc: ${first:-see above}")
		printf 'FAIL %3d/%d point %d %s (%s), %s: %ss\n' "$nr" ${#points[@]} "$p" "$anchor" \
			"$mode" "$desc" "$(secs "$t")"
		if [ ${#failed[@]} -le 5 ]; then
			sed 's/^/    /' "$out"
			[ -z "$ST" ] || echo "    status after repair: $ST"
		fi
		save_failure "$p" "$anchor" "$desc"
	fi
done

total=$(($(usec) - t_points))
mapfile -t times < <(printf '%s\n' "${times[@]}" | sort -n)
sum=0
for t in "${times[@]}"; do sum=$((sum + t)); done
echo "${#times[@]} points in $(secs $total)s: $(secs $((sum / ${#times[@]})))s a point on average," \
	"median $(secs "${times[$((${#times[@]} / 2))]}")s, max $(secs "${times[-1]}")s"
echo "crash windows: $(secs $((window_sum * 1000000 / (3 * ${#times[@]}))))" \
	"log entries a leg on average; $with_later passing points had blocks at a version written after the anchor"
line="time by phase:"
for k in base copy window records create repair check-volume remove; do
	line+=" $k $(secs "${PHASE[$k]:-0}")s"
done
echo "$line"
if [ ${#failed[@]} -gt 0 ]; then
	echo "${#failed[@]} of ${#points[@]} crash points failed (seed $SEED):"
	printf '  %s\n' "${failed[@]}"
	fail "crash consistency violated at ${#failed[@]} of ${#points[@]} crash points"
fi
echo "all ${#points[@]} crash points consistent"
