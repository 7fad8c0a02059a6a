#!/bin/bash
# vm-timeout: 600
# Remote legs end to end: `cruciblectl create` connects the nbd:// legs of a
# volume spec, crucible-agent keeps them connected. The "remote" servers run
# in network namespaces of their own behind veth pairs with 8 ms of netem
# delay: nbd-server (exports legA and legC) in one, nbdkit (file plugin,
# export legB) in the other.
#
#   a volume of one loop leg and two NBD legs, and one of three NBD legs,
#   verified with fio; `cruciblectl remove` disconnects the NBD devices;
#   a volume removed while the agent is reconnecting one of its legs: the
#   agent lets go of it and connects nothing once the server is back;
#   an agent running when a volume is activated watches it within 10 s
#   (checked, failure deferred to the end so that the rest still runs);
#   nbd-server killed while a writer writes (rounds of fio verified writes,
#   going on until told to stop): no round sees an error, the leg faults,
#   the agent notices (link dead in nbd.json and `cruciblectl status`) and
#   fails to reconnect; the server restarted: the agent reconnects and
#   restores the leg while the writer still writes, the target repairs it,
#   every round's data verifies, the legs' data areas compare equal;
#   the link to nbdkit cut (netem loss 100%) while the writer writes, then
#   restored: the same. A cut link sends nothing back: the connection
#   ends once data stays unacknowledged for 10 s (TCP_USER_TIMEOUT of the
#   legs' sockets), and the kernel's client calls the link dead; requests
#   in flight at the cut wait for the 30 s request timeout, then fail. The
#   connection given up on cannot deliver its queued writes after the link
#   is back (they would land after the repair of the leg, and undo it);
#   the final checks (every round of the writer, legs equal) would see it.
#   A server killed is noticed at once by new I/O, but I/O in flight then
#   also waits for the request timeout;
#   `cruciblectl status` (text and --json) shows each NBD leg's address,
#   device, link state ("dead" during the outage) and reconnect count;
#   a broken server (wrong magic; a refused export) as a leg: create fails
#   with exit 1 and an error naming the server, no NBD device stays
#   connected, no dm device is left;
#   two "hosts" (two agents with their own state directories, two owners,
#   each volume on NBD connections of its own; both in the initial network
#   namespace: the kernel's "nbd" and "crucible" generic netlink families
#   are not namespace-aware, so an agent elsewhere could not reach them)
#   race for the same three exports: generation 1 then generation 2; the
#   first is fenced by the second's activation (one kernel: the same volume
#   is fenced before the new table reads the legs), its I/O is refused and
#   what it tries to write afterwards does not reach the exports (read
#   through the winner); its create is refused while the winner runs;
#   measured, not asserted: 4K random write IOPS at QD1 and QD32 and 1M
#   sequential write bandwidth (QD8), MEASURE_S (3) s each, on the two-NBD-leg volume
#   and on a volume of three local loop legs.
#
# Each server is used once it answers a handshake of its own (warm_up;
# nbd-server listens seconds before it greets, see nbd_server_ready).
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=SCRIPTDIR/../lib-crucible.sh
. "$(dirname "$0")/../lib-crucible.sh"
# shellcheck source=SCRIPTDIR/../lib-agent.sh
. "$(dirname "$0")/../lib-agent.sh"
# shellcheck source=SCRIPTDIR/../lib-nbd.sh
. "$(dirname "$0")/../lib-nbd.sh"
need_crucible

NBD='' SB=''
crucible_helper NBD crucible-nbd
crucible_helper SB crucible-sb

EXPORT_MIB=32
MEASURE_S=${MEASURE_S:-3}
VOLUME_MIB=24
SECTORS=$((VOLUME_MIB * 2048))
REGION=128 # sectors: 64 KiB regions, 384 of them
NS_A=cr76a-$$
NS_B=cr76b-$$
IF_A=cr76a
IF_B=cr76b
IP_A=10.99.11.2
IP_B=10.99.12.2
PORT=10809
FAKE_PORT=10900
URI_A=nbd://$IP_A:$PORT/legA
URI_B=nbd://$IP_B:$PORT/legB
URI_C=nbd://$IP_A:$PORT/legC
DIR=$PWD
export CRUCIBLE_AGENT_STATE_DIR=$DIR/a

# ---- set-up: modules, namespaces, links

# No idle devices: the kernel adds one per connection.
nbd_modules 0

# Whatever a failed step left connected is disconnected at the end (after
# the volumes are gone: this runs late).
_disconnect_all() {
	local d
	for d in $(connected_devices); do
		"$NBD" disconnect "/dev/$d" || true
	done
}
on_exit _disconnect_all

step "namespaces $NS_A (nbd-server) and $NS_B (nbdkit), 8 ms netem delay"
make_ns "$NS_A" $IF_A 10.99.11.1 $IP_A
make_ns "$NS_B" $IF_B 10.99.12.1 $IP_B

# ---- servers

truncate -s "${EXPORT_MIB}M" "$DIR/a.img" "$DIR/b.img" "$DIR/c.img"
nbd_server_conf "$DIR/nbd-server.conf" "$IP_A" $PORT legA="$DIR/a.img" legC="$DIR/c.img"

SRV_A=''
start_a() {
	start_nbd_server SRV_A "$NS_A" $PORT "$DIR/nbd-server.conf" "$URI_A"
}

SRV_B=''
# nbdkit, its one export under the name legB only.
start_b() {
	start_nbdkit_file SRV_B "$NS_B" $IP_B $PORT "$DIR/b.img" legB
}

# blank_exports: the exports' files read as zeros again (no client is
# connected: the servers keep them open).
blank_exports() {
	local f
	for f in a b c; do
		fallocate --punch-hole --offset 0 --length $((EXPORT_MIB << 20)) "$DIR/$f.img" ||
			fail "cannot blank $f.img"
	done
}

# At the end: the nbd-server running then (it may have been restarted).
_stop_a() {
	[ -z "$SRV_A" ] || stop_nbd_server "$SRV_A"
}
on_exit _stop_a
start_a
start_b

# ---- volumes

# write_spec FILE NAME GENERATION OWNER LEG0 LEG1 LEG2 (GENERATION - for none)
write_spec() {
	local file=$1 name=$2 gen=$3 owner=$4
	shift 4
	python3 - "$file" "$name" "$gen" "$owner" "$@" <<'EOF'
import json, sys
file, name, gen, owner, *legs = sys.argv[1:]
spec = {"name": name, "size": "24M", "legs": legs, "region_size": 65536, "owner": owner}
if gen != "-":
    spec["generation"] = int(gen)
json.dump(spec, open(file, "w"))
EOF
}

# At the end, whatever happened: I/O of a killed writer may hold the volume
# open for up to the 30 s NBD request timeout.
_ctl_remove() {
	local try
	for ((try = 0; try < 40; try++)); do
		dmsetup info "$1" >/dev/null 2>&1 || return 0
		"$CTL" remove "$1" && return 0
		sleep 2
	done
	dmsetup remove --force "$1"
}

# ctl_create SPEC NAME: cruciblectl create, remember to remove.
ctl_create() {
	local spec=$1 name=$2
	if ! "$CTL" -v create "$spec" >"create-$name.out" 2>&1; then
		cat "create-$name.out"
		fail "cruciblectl create $spec failed"
	fi
	cat "create-$name.out"
	on_exit _ctl_remove "$name"
	dmsetup table "$name"
}

# ctl_remove NAME: cruciblectl remove, the volume's NBD devices disconnected.
ctl_remove() {
	local name=$1 l
	local -a devs=()
	leg_paths devs "$name"
	"$CTL" remove "$name" || fail "cruciblectl remove $name failed"
	dmsetup info "$name" >/dev/null 2>&1 && fail "$name is still there after remove"
	for l in "${devs[@]}"; do
		case $l in
		/dev/nbd*) [ ! -e "/sys/block/${l#/dev/}/pid" ] || fail "$l is still connected after removing $name" ;;
		esac
	done
	echo "removed $name; its NBD devices are disconnected"
}

# leg_paths VAR NAME: VAR=(the three leg devices of volume NAME, /dev/...).
leg_paths() {
	local -n _lp_out=$1
	local mm i
	local -a words
	read -r -a words <<<"$(dmsetup table "$2")" || fail "no table for $2"
	_lp_out=()
	for i in 3 4 5; do
		mm=${words[$i]}
		[ -e "/sys/dev/block/$mm" ] || fail "$2: leg '$mm' is no block device"
		_lp_out+=("/dev/$(basename "$(readlink -f "/sys/dev/block/$mm")")")
	done
}

# expect_backend DEV URI: DEV is connected to URI (its backend identifier).
expect_backend() {
	local n=${1#/dev/}
	[[ $1 == /dev/nbd* ]] || fail "$1 is not an NBD device"
	[ -e "/sys/block/$n/pid" ] || fail "$1 is not connected"
	[ "$(cat "/sys/block/$n/backend")" = "$2" ] ||
		fail "$1: backend '$(cat "/sys/block/$n/backend")', expected '$2'"
}

# writer_start NAME OFFSET_MIB LOG: writes go on in the background until
# writer_stop: rounds of fio_verified_write (1 MiB, random 4 KiB blocks,
# QD8, each block written once and read back and checked), each round in
# the next MiB of OFFSET..OFFSET+4 MiB with a new seed; each round that
# passed is logged ("OFFSET_MIB SEED") in LOG. Time-based rather than a
# fixed amount of I/O: how fast the emulated guest writes varies too much
# for a fixed amount to surely outlast a fault and the reconnection.
WRITER='' WRITER_LOG=''
writer_start() {
	local name=$1 off=$2
	WRITER_LOG=$3
	rm -f writer.stop "$WRITER_LOG"
	(
		i=0
		while [ ! -e writer.stop ]; do
			o=$((off + i % 4))
			fio_verified_write "/dev/mapper/$name" 1 $o $((1000 + off * 100 + i)) >/dev/null
			echo "$o $((1000 + off * 100 + i))" >>"$WRITER_LOG"
			i=$((i + 1))
		done
	) &
	WRITER=$!
	on_exit _kill_pid "$WRITER"
	# Under way: a round is through.
	local t=0
	until [ -s "$WRITER_LOG" ]; do
		kill -0 "$WRITER" 2>/dev/null || fail "the writer failed at once"
		t=$((t + 1))
		[ $t -lt 600 ] || fail "the writer made no progress on $name"
		sleep 0.1
	done
}

# writer_running WHAT: the writer is still at it (no error so far).
writer_running() {
	kill -0 "$WRITER" 2>/dev/null || fail "the writer stopped (an error or a bad block) before $1"
	echo "the writer is still writing when $1 ($(wc -l <"$WRITER_LOG") rounds through)"
}

# writer_stop: the writer ends its round; no round saw an error.
writer_stop() {
	touch writer.stop
	wait "$WRITER" || fail "the writer saw an error (or a bad block)"
	echo "the writer wrote $(wc -l <"$WRITER_LOG") rounds of 1 MiB, no error"
}

# writer_verify NAME LOG LEGS...: the last round logged for each MiB reads
# back from volume NAME.
writer_verify() {
	local name=$1 log=$2 o
	shift 2
	local -a offs
	mapfile -t offs < <(awk '{ print $1 }' "$log" | sort -un)
	for o in "${offs[@]}"; do
		verify_or_explain "$name" 1 "$o" "$(awk -v o="$o" '$1 == o { s = $2 } END { print s }' "$log")" "$@"
	done
}

# verify_or_explain NAME SIZE_MIB OFFSET_MIB SEED LEG0 LEG1 LEG2: what
# fio_verified_write with these arguments wrote reads back from volume NAME;
# on a bad block, the three legs' copies of it, their records and region
# entries (on disk and from the kernel) and the agent's lines about NAME are
# shown before the test fails.
verify_or_explain() {
	local name=$1 mib=$2 off=$3 seed=$4 out bad block region base i
	shift 4
	# fio_verify_only's run, its report kept to find the bad block.
	if out=$(_cr_fio "/dev/mapper/$name" "$mib" "$off" "$seed" --verify_only=1 2>&1); then
		echo "fio verified $mib MiB at $off MiB of $name (seed $seed)"
		return 0
	fi
	grep -E '^(verify|fio)' <<<"$out" >&2 || echo "$out" >&2
	dmsetup status "$name" >&2
	bad=$(grep -oE 'at file [^ ]+ offset [0-9]+' <<<"$out" | head -n 1 | awk '{ print $NF }')
	if [ -n "$bad" ]; then
		block=$((bad / 4096))
		region=$((block / (REGION / 8)))
		base=$(leg_data_offset $SECTORS $REGION)
		echo "bad block $block (region $region) of $name:" >&2
		for i in 0 1 2; do
			local leg=${*:$((i + 1)):1}
			echo "  leg $i ($leg): data $(dd if="$leg" bs=4k count=1 iflag=direct,skip_bytes \
				skip=$((base + block * 4096)) status=none | md5sum | cut -c1-12)" >&2
			echo "    on disk: $("$SB" "$leg" record "$block" 2>&1); $("$SB" "$leg" region "$region" 2>&1)" >&2
			echo "    kernel: $("$CTL" records "$name" "$i" "$block" 1 2>&1 | tail -n 1)" >&2
		done
		"$CTL" regions "$name" --first "$region" --count 1 >&2 || true
	fi
	echo "agent a about $name:" >&2
	grep -F "$name: " a.log | tail -n 40 >&2 || true
	fail "fio verify of $mib MiB at $off MiB of $name (seed $seed) failed"
}

# Checks whose failure does not stop the rest: reported, and the test fails
# at the end.
DEFERRED=()
defer_fail() {
	echo "FAIL (deferred to the end): $*" >&2
	DEFERRED+=("$*")
}

# agent_sees VOLUME AGENT...: each agent (by log name) logs that it
# watches VOLUME within 10 s of its activation (a deferred failure
# otherwise: it would only find it at its next rescan).
agent_sees() {
	local vol=$1 name end
	shift
	end=$(($(date +%s) + 10))
	for name in "$@"; do
		until grep -Eq -- "$vol: watching" "$name.log"; do
			if [ "$(date +%s)" -ge "$end" ]; then
				defer_fail "agent $name, running when $vol was activated, does not watch $vol 10 s later"
				continue 2
			fi
			sleep 0.2
		done
		grep -E -m1 -- "$vol: watching" "$name.log"
	done
}

# ---- 1. one local leg and two NBD legs

a1=''
start_agent a1 a

step "volume v1: a loop leg, $URI_A (nbd-server), $URI_B (nbdkit)"
loop=''
make_loop_leg loop $EXPORT_MIB
write_spec v1.json v1 - host-a "$loop" "$URI_A" "$URI_B"
ctl_create v1.json v1
v1=()
leg_paths v1 v1
echo "legs of v1: ${v1[*]}"
[ "${v1[0]}" = "$loop" ] || fail "leg 0 of v1 is ${v1[0]}, not $loop"
expect_backend "${v1[1]}" "$URI_A"
expect_backend "${v1[2]}" "$URI_B"
[ "${v1[1]}" != "${v1[2]}" ] || fail "both NBD legs on ${v1[1]}"
expect_status v1 legs AAA
expect_status v1 nr_regions 384
# The agent was running when v1 was activated: it should watch v1 at once.
agent_sees v1 a
fio_verified_write /dev/mapper/v1 8 0 31
# The data went through to the servers' files, in the legs' data areas.
expect_legs_equal $SECTORS $REGION "${v1[@]}"

# ---- 2. a server killed mid-workload, restarted

# expect_ctl_status NAME LEG DEV URI LINK MIN_RECONNECTS: the line of
# `cruciblectl status NAME` about NBD leg LEG, and its --json.
expect_ctl_status() {
	local name=$1 leg=$2 dev=$3 uri=$4 link=$5 min=$6 line n
	"$CTL" status "$name" >status.txt || fail "cruciblectl status $name failed"
	line=$(grep -E "^ *leg $leg: " status.txt) || {
		cat status.txt
		fail "cruciblectl status $name has no line about NBD leg $leg"
	}
	echo "status: $line"
	[[ $line =~ ^\ *leg\ $leg:\ (.*)\ on\ (/dev/nbd[0-9]+),\ link\ ([a-z]+),\ ([0-9]+)\ reconnects?$ ]] ||
		fail "cannot read the NBD line of leg $leg: '$line'"
	[ "${BASH_REMATCH[1]}" = "$uri" ] || fail "leg $leg: address ${BASH_REMATCH[1]}, expected $uri"
	[ "${BASH_REMATCH[2]}" = "$dev" ] || fail "leg $leg: device ${BASH_REMATCH[2]}, expected $dev"
	[ "${BASH_REMATCH[3]}" = "$link" ] || fail "leg $leg: link ${BASH_REMATCH[3]}, expected $link"
	n=${BASH_REMATCH[4]}
	[ "$n" -ge "$min" ] || fail "leg $leg: $n reconnects, expected at least $min"
	"$CTL" status "$name" --json >status.json || fail "cruciblectl status $name --json failed"
	json_check status.json "d['volumes'][0]['legs'][$leg]['nbd'] is not None and \
d['volumes'][0]['legs'][$leg]['nbd']['uri'] == '$uri' and \
d['volumes'][0]['legs'][$leg]['nbd']['device'] == '$dev' and \
d['volumes'][0]['legs'][$leg]['nbd']['link'] == '$link' and \
d['volumes'][0]['legs'][$leg]['nbd']['reconnects'] == $n"
}

# wait_link NAME LEG DEV URI LINK [SECONDS]: the agent says so (nbd.json,
# through cruciblectl status).
wait_link() {
	local name=$1 leg=$2 dev=$3 uri=$4 link=$5 limit=${6:-30} end
	end=$(($(date +%s) + limit))
	until grep -qE "^ *leg $leg: .* link $link," <("$CTL" status "$name" 2>/dev/null); do
		if [ "$(date +%s)" -ge "$end" ]; then
			"$CTL" status "$name" || true
			cat "$CRUCIBLE_AGENT_STATE_DIR/nbd.json" || true
			fail "$name: leg $leg not 'link $link' after ${limit}s"
		fi
		sleep 0.2
	done
}

# kill_a: nbd-server dies as in a crash.
kill_a() {
	stop_nbd_server "$SRV_A"
	wait_closed "$NS_A" $PORT
}

# outage_seen LEG DEV URI LEGS T0: with the writer at it, leg LEG of v1
# (NBD device DEV, export URI) faults (legs LEGS), the agent says the link
# is dead and fails to reconnect while the other end is away.
outage_seen() {
	local leg=$1 dev=$2 uri=$3 legs=$4 t0=$5
	wait_status v1 legs "$legs" 90
	writer_running "leg $leg faulted"
	echo "leg $leg faulted $((SECONDS - t0)) s after the outage began"
	wait_log a "/dev/${dev#/dev/} \($uri\): (link dead|leg $leg of v1 failed); reconnecting" 30
	wait_link v1 "$leg" "$dev" "$uri" dead 30
	wait_log a "/dev/${dev#/dev/}: reconnect failed \(attempt 1\)" 30
}

# outage_over LEG DEV URI T0: the other end is back: the agent reconnects,
# restores the leg while the writer still writes, the target repairs it;
# the writer stops with no round failed.
outage_over() {
	local leg=$1 dev=$2 uri=$3 t0=$4
	wait_log a "/dev/${dev#/dev/}: reconnected to ${uri//./\\.} \(reconnect 1\)" 60
	wait_log a "v1: leg $leg on $dev is back in service" 30
	writer_running "leg $leg was back in service"
	wait_synced v1 120
	writer_running "v1 was in sync again"
	writer_stop
	echo "v1 in sync $((SECONDS - t0)) s after the outage ended"
	dmsetup status v1
}

step "nbd-server killed while v1 is written to"
writer_start v1 8 writer-kill.log
t0=$SECONDS
kill_a
# At once when new I/O meets the dead link; I/O in flight when the server
# died waits for the 30 s request timeout.
outage_seen 1 "${v1[1]}" "$URI_A" AFA $t0
expect_ctl_status v1 1 "${v1[1]}" "$URI_A" dead 0
# The agent tells of the healthy remote leg too.
expect_ctl_status v1 2 "${v1[2]}" "$URI_B" up 0
expect_status v1 legs AFA
step "nbd-server restarted: the agent reconnects, restores leg 1, the target repairs it"
t0=$SECONDS
start_a
outage_over 1 "${v1[1]}" "$URI_A" $t0
leg_paths v1 v1
expect_backend "${v1[1]}" "$URI_A"
expect_ctl_status v1 1 "${v1[1]}" "$URI_A" up 1
drop_caches
verify_or_explain v1 8 0 31 "${v1[@]}"
writer_verify v1 writer-kill.log "${v1[@]}"
expect_legs_equal $SECTORS $REGION "${v1[@]}"
expect_counter v1 mismatches -eq 0

# ---- 3. the link to nbdkit cut mid-workload, restored

step "the link to nbdkit cut (netem loss 100%) while v1 is written to"
writer_start v1 16 writer-cut.log
t0=$SECONDS
tc qdisc change dev $IF_B root netem delay 8ms loss 100% || fail "cannot cut $IF_B"
tc qdisc show dev $IF_B
# Nothing comes back: the connection ends after 10 s without an ack.
outage_seen 2 "${v1[2]}" "$URI_B" AAF $t0
step "the link restored: the agent reconnects, restores leg 2, the target repairs it"
t0=$SECONDS
tc qdisc change dev $IF_B root netem delay 8ms || fail "cannot restore $IF_B"
tc qdisc show dev $IF_B
outage_over 2 "${v1[2]}" "$URI_B" $t0
drop_caches
verify_or_explain v1 8 0 31 "${v1[@]}"
writer_verify v1 writer-kill.log "${v1[@]}"
writer_verify v1 writer-cut.log "${v1[@]}"
expect_legs_equal $SECTORS $REGION "${v1[@]}"
expect_counter v1 mismatches -eq 0
expect_ctl_status v1 1 "${v1[1]}" "$URI_A" up 1
expect_ctl_status v1 2 "${v1[2]}" "$URI_B" up 1
json_check status.json "d['volumes'][0]['legs'][0]['nbd'] is None"
"$CTL" status v1

# ---- 6a. measured over the 8 ms link

# measure LABEL DEV: fio, MEASURE_S s each; a line of the table.
RESULTS=()
# fio_write DEV RW BS QD FIGURE: a MEASURE_S s write job; FIGURE, a Python
# expression of w (fio's "write" figures), printed.
fio_write() {
	fio --name=m --filename="$1" --rw="$2" --bs="$3" --iodepth="$4" --ioengine=libaio \
		--direct=1 --size=16M --time_based --runtime="$MEASURE_S" --randseed=7 --output-format=json 2>/dev/null |
		python3 -c "import json, sys; w = json.load(sys.stdin)['jobs'][0]['write']; print($5)"
}
measure() {
	local label=$1 dev=$2 qd1 qd32 seq
	qd1=$(fio_write "$dev" randwrite 4k 1 '"%.0f" % w["iops"]') || fail "fio QD1 on $dev failed"
	qd32=$(fio_write "$dev" randwrite 4k 32 '"%.0f" % w["iops"]') || fail "fio QD32 on $dev failed"
	seq=$(fio_write "$dev" write 1M 8 '"%.1f" % (w["bw"] / 1024)') || fail "fio 1M sequential on $dev failed"
	RESULTS+=("$(printf '%-34s %10s %10s %12s' "$label" "$qd1" "$qd32" "$seq")")
	echo "${RESULTS[-1]}"
}
step "measure v1 (loop + 2 NBD legs over 8 ms)"
measure "loop + 2 NBD legs (8 ms link)" /dev/mapper/v1
ctl_remove v1

# ---- 1b. three NBD legs

step "volume v3: three NBD legs ($URI_A, $URI_B, $URI_C)"
blank_exports
write_spec v3.json v3 - host-a "$URI_A" "$URI_B" "$URI_C"
ctl_create v3.json v3
v3=()
leg_paths v3 v3
expect_backend "${v3[0]}" "$URI_A"
expect_backend "${v3[1]}" "$URI_B"
expect_backend "${v3[2]}" "$URI_C"
expect_status v3 legs AAA
fio_verified_write /dev/mapper/v3 4 8 41
expect_legs_equal $SECTORS $REGION "${v3[@]}"

step "v3 removed while the agent is reconnecting its leg 1: the agent lets go of it"
mark=$(log_mark a)
_kill_pid "$SRV_B"
wait_closed "$NS_B" $PORT
dd if=/dev/urandom of=/dev/mapper/v3 bs=4k count=1 oflag=direct status=none ||
	fail "a write to v3 failed with leg 1 gone"
wait_status v3 legs AFA 60
wait_log_since a "$mark" "/dev/${v3[1]#/dev/}: reconnect failed \(attempt 1\)" 30
ctl_remove v3
wait_log_since a "$mark" "/dev/${v3[1]#/dev/} \($URI_B\): its volume is gone; forgotten" 30
start_b
# Longer than the agent's back-off then (1 + 2 + 4 s): no connection is made.
sleep 8
[ -z "$(connected_devices)" ] || fail "NBD devices connected after v3 was removed: $(connected_devices)"
if tail -n +$((mark + 1)) a.log | grep -E "/dev/${v3[1]#/dev/}: reconnected"; then
	fail "the agent reconnected a leg of removed v3"
fi

# ---- 4. a broken server as a leg

# expect_create_refused SPEC NAME SERVER WANT: exit 1, the error names
# SERVER and says WANT; no dm device, no NBD device left connected.
expect_create_refused() {
	local spec=$1 name=$2 server=$3 want=$4 before after rc=0
	before=$(connected_devices)
	"$CTL" create "$spec" >refused.out 2>refused.err || rc=$?
	cat refused.err
	if [ "$rc" -eq 0 ]; then
		on_exit _ctl_remove "$name"
		fail "cruciblectl create $spec succeeded"
	fi
	[ "$rc" -eq 1 ] || fail "cruciblectl create $spec exited $rc, expected 1"
	if [ -n "$server" ]; then
		grep -qF "NBD server $server:" refused.err || fail "the error does not name the server $server"
	fi
	grep -qF -- "$want" refused.err || fail "the error does not say '$want'"
	dmsetup info "$name" >/dev/null 2>&1 && fail "the refused create left dm device $name"
	after=$(connected_devices)
	[ "$before" = "$after" ] || fail "the refused create changed the connected NBD devices: '$before' -> '$after'"
}

step "broken servers as legs: clear errors, no devices left"
loop2=''
make_loop_leg loop2 $EXPORT_MIB
fake=''
start_fake_nbd fake "$NS_B" $IP_B $FAKE_PORT magic
# Leg 1 connects (and is let go of again), leg 2 is the broken server.
write_spec bad1.json bad1 - host-a "$loop2" "$URI_A" "nbd://$IP_B:$FAKE_PORT/x"
expect_create_refused bad1.json bad1 "$IP_B:$FAKE_PORT" "wrong magic 0x5353482d322e302d in the greeting"
_kill_pid "$fake"
wait_closed "$NS_B" $FAKE_PORT
start_fake_nbd fake "$NS_B" $IP_B $FAKE_PORT refuse
write_spec bad2.json bad2 - host-a "nbd://$IP_B:$FAKE_PORT/x" "$loop2" "$URI_B"
expect_create_refused bad2.json bad2 "$IP_B:$FAKE_PORT" "export 'x' refused: no such export"
_kill_pid "$fake"
# A real server without that export.
write_spec bad3.json bad3 - host-a "$loop2" "$URI_A" "nbd://$IP_A:$PORT/nosuch"
expect_create_refused bad3.json bad3 "$IP_A:$PORT" "export 'nosuch' refused"

# ---- 5. two hosts racing for the same three exports

step "two hosts: ra (host-a, generation 1) then rb (host-b, generation 2) over the same exports"
blank_exports
b1=''
start_agent b1 b
write_spec ra.json ra 1 host-a "$URI_A" "$URI_B" "$URI_C"
write_spec rb.json rb 2 host-b "$URI_A" "$URI_B" "$URI_C"
ctl_create ra.json ra
expect_status ra generation 1
random_file d1 4
random_file d2 4
write_image d1 /dev/mapper/ra
agent_sees ra a b
kmsg_mark "rb takes the exports over"
ctl_create rb.json rb
expect_status rb generation 2
ra=() rb=()
leg_paths ra ra
leg_paths rb rb
echo "ra on ${ra[*]}, rb on ${rb[*]}"
for i in 0 1 2; do
	[ "${ra[$i]}" != "${rb[$i]}" ] || fail "ra and rb share ${ra[$i]}: not two hosts' connections"
done
expect_data /dev/mapper/rb d1
expect_status rb mode rw

# Both "hosts" run in this one kernel (see above): rb's resume fences ra
# before it reads the legs, on other connections to the same exports. Across
# machines ra would find generation 2 on its legs at its next commit.
step "rb's activation fenced ra at once"
expect_status ra mode fenced
ra_dev=$(dmsetup info -c --noheadings -o major,minor --separator : ra)
kmsg_since_mark | grep -E "crucible: $ra_dev: taken over by a table with generation 2: fenced" ||
	fail "the kernel did not say why ra is fenced: $(kmsg_since_mark)"
if sync /dev/mapper/ra; then
	fail "a flush through fenced ra succeeded"
fi
"$CTL" status ra --json >ra-status.json || fail "cruciblectl status ra --json failed"
json_check ra-status.json 'd["volumes"][0]["mode"] == "fenced"'
"$CTL" status ra | sed -n 1p
wait_log a "ra: (mode is now fenced|watching: mode fenced)" 30
wait_log b "ra: (mode is now fenced|watching: mode fenced)" 30

step "what the loser writes afterwards is refused and does not land"
if dd if=d2 of=/dev/mapper/ra bs=1M oflag=direct conv=notrunc,fsync status=none 2>ra-write.err; then
	fail "a write through fenced ra succeeded"
fi
echo "write through ra: $(head -n 1 ra-write.err)"
if dd if=/dev/mapper/ra of=/dev/null bs=1M count=1 iflag=direct status=none 2>/dev/null; then
	fail "a read through fenced ra succeeded"
fi
drop_caches
expect_data /dev/mapper/rb d1
expect_status rb mode rw
expect_status rb legs AAA
fio_verified_write /dev/mapper/rb 4 8 51
expect_counter rb mismatches -eq 0

step "ra removed; its create again (generation 1) is refused while rb runs"
ctl_remove ra
expect_create_refused ra.json ra "" "generation 1 is lower"
drop_caches
expect_data /dev/mapper/rb d1
fio_verify_only /dev/mapper/rb 4 8 51
sync /dev/mapper/rb || fail "a flush through rb failed"
expect_status rb mode rw
expect_status rb generation 2
expect_legs_equal $SECTORS $REGION "${rb[@]}"
no_errors a
no_errors b
ctl_remove rb

# ---- 6b. the same measurements on local legs

step "measure a volume of three local loop legs"
legs=()
make_loop_legs legs $VOLUME_MIB
crucible_create vl $SECTORS "${legs[@]}" - region_size $REGION
measure "3 local loop legs" /dev/mapper/vl
crucible_remove vl

stop_agent "$b1" b
stop_agent "$a1" a

step "results (fio, $MEASURE_S s each, under QEMU TCG)"
printf '%-34s %10s %10s %12s\n' volume "4K QD1" "4K QD32" "1M QD8 MiB/s"
printf '%s\n' "${RESULTS[@]}"
if [ ${#DEFERRED[@]} -gt 0 ]; then
	printf 'deferred failure: %s\n' "${DEFERRED[@]}" >&2
	fail "${#DEFERRED[@]} deferred check(s) failed"
fi
echo "PASS"
