#!/bin/bash
# vm-timeout: 900
# crucible-agent and cruciblectl over the "crucible" netlink family, on
# volumes with `repair manual` (the kernel repairs nothing unless told):
#
#   a leg goes out and comes back with the agent running: the agent plans
#   and issues the repair by itself, the data verifies, the legs agree,
#   and `regions` / `records` show what the kernel reports;
#   `cruciblectl status --json` against a known degraded state;
#   `leg replace` refused when it would lose data, then done and filled;
#   a second agent on the same state directory refuses to start;
#   `reconcile --wait` with no agent;
#   the agent killed mid-repair (throttled), the volume re-activated, the
#   agent restarted, and a second agent beside it: the repair finishes;
#   events lost (a tiny event receive buffer while the agent is stopped)
#   are noticed and recovered from;
#   the agent without netlink (--no-netlink) still starts repairs;
#   the module reloaded under a running agent: it finds the new family.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=SCRIPTDIR/../lib-crucible.sh
. "$(dirname "$0")/../lib-crucible.sh"
# shellcheck source=SCRIPTDIR/../lib-agent.sh
. "$(dirname "$0")/../lib-agent.sh"
need_crucible

MIB=16
SECTORS=$((MIB * 2048))
REGION=128 # sectors: 64 KiB regions, 256 of them
NR_REGIONS=256

# patch_image IMAGE DEV OFFSET_KIB SIZE_KIB: new random data at OFFSET on
# the volume DEV (O_DIRECT, whole 4 KiB blocks), and in the model IMAGE.
patch_image() {
	local img=$1 dev=$2 off=$3 len=$4
	[ $(((off | len) % 4)) -eq 0 ] || fail "patch_image: not whole blocks"
	dd if=/dev/urandom of=patch bs=4K count=$((len / 4)) status=none
	dd if=patch of="$dev" bs=4K seek=$((off / 4)) oflag=direct conv=notrunc status=none ||
		fail "writing $len KiB at $off KiB of $dev failed"
	dd if=patch of="$img" bs=4K seek=$((off / 4)) conv=notrunc status=none
}

legs=()
make_loop_legs legs $MIB
crucible_create v1 $SECTORS "${legs[@]}" - repair manual region_size $REGION
random_file img1 $MIB
write_image img1 /dev/mapper/v1

step "the agent repairs a leg that comes back, with no operator action"
a1=''
start_agent a1 a1 --rescan 0
wait_log a1 "v1: watching: mode rw, legs AAA, $NR_REGIONS/$NR_REGIONS regions in sync" 30
"$CTL" leg v1 fail 1
patch_image img1 /dev/mapper/v1 640 1024 # regions 10-25
patch_image img1 /dev/mapper/v1 6400 128 # regions 100-101
expect_status v1 legs ADA
expect_status v1 repair paused
expect_status v1 in_sync $((NR_REGIONS - 18))
wait_log a1 "v1: leg 1 disabled by the operator, legs ADA" 30

# What the kernel reports, and what the agent would do with it (nothing
# yet: the only stale copies are on a leg out of service).
"$CTL" regions v1
"$CTL" regions v1 --json >r1.json
# Only dirty (written in the last commit periods, no stale leg) may be listed
# too, depending on how far the commits have got: look at the stale ones.
json_check r1.json 'all(r["stale_legs"] in ([], [1]) for r in d["regions"])'
json_check r1.json '[r["region"] for r in d["regions"] if r["stale_legs"]] == list(range(10, 26)) + [100, 101]'
json_check r1.json 'd["plan"]["requests"] == [] and d["plan"]["waiting"] == 18'
"$CTL" regions v1 --first 100 --count 4 --json >r2.json
json_check r2.json '[r["region"] for r in d["regions"] if r["stale_legs"]] == [100, 101] and d["regions"][0]["first_block"] == 1600'
json_check r2.json 'all(100 <= r["region"] < 104 for r in d["regions"])'
expect_rc 2 "$CTL" regions v1 --first $NR_REGIONS

"$CTL" leg v1 restore 1
wait_synced v1 120
wait_log a1 "v1: starting repair of regions 10-25 from leg 0 to leg 1 \(request 1 of 2, 18 regions to repair\)"
wait_log a1 "v1: repair done, $NR_REGIONS/$NR_REGIONS regions in sync"
drop_caches
expect_data /dev/mapper/v1 img1
expect_legs_equal $SECTORS $REGION "${legs[@]}"
# Blocks 160-175 (region 10): the same records on leg 0 and leg 1.
"$CTL" records v1 0 160 16 --json >rec0.json
"$CTL" records v1 1 160 16 --json >rec1.json
"$CTL" records v1 1 160 4
json_check rec1.json 'len(d["records"]) == 16 and all(r["ok"] and r["state"] == "written" for r in d["records"])'
python3 - <<'EOF' || fail "leg 0 and leg 1 records of blocks 160-175 differ"
import json
a = json.load(open("rec0.json"))["records"]
b = json.load(open("rec1.json"))["records"]
assert [(r["block"], r["hash"]) for r in a] == [(r["block"], r["hash"]) for r in b], (a, b)
EOF
expect_rc 2 "$CTL" records v1 3 0 1
expect_rc 2 "$CTL" records v1 0 4095 2
expect_rc 3 "$CTL" records nosuch 0 0 1
"$CTL" regions v1 | tee r3.txt
grep -q "regions 0-255: all clean" r3.txt || fail "regions of a volume in sync are not all clean"

step "a second agent on the same state directory refuses to start"
rc=0
"$AGENT" --foreground --state-dir "$PWD/a1" 2>second.err || rc=$?
cat second.err
[ "$rc" -eq 1 ] || fail "second agent exited $rc, expected 1"
grep -q "another crucible-agent (pid $a1) uses state directory" second.err ||
	fail "the second agent did not name the first"

step "cruciblectl status --json against a known state"
"$CTL" leg v1 fail 2
patch_image img1 /dev/mapper/v1 12800 64 # region 200
wait_log a1 "v1: leg 2 disabled by the operator, legs AAD" 30
read -r _ _ _ _ _ gen flush _ _ _ repair _ <<<"$(dmsetup status v1)"
"$CTL" status v1 --json | tee s1.json
json_check s1.json 'd["schema"] == 1 and len(d["volumes"]) == 1'
json_check s1.json 'd["volumes"][0]["name"] == "v1" and d["volumes"][0]["mode"] == "rw"'
json_check s1.json "d['volumes'][0]['size_bytes'] == $((MIB << 20)) and d['volumes'][0]['region_size_bytes'] == 65536"
json_check s1.json "d['volumes'][0]['regions'] == {'in_sync': $((NR_REGIONS - 1)), 'total': $NR_REGIONS}"
json_check s1.json '[l["state"] for l in d["volumes"][0]["legs"]] == ["alive", "alive", "disabled"]'
json_check s1.json '"".join(l["state_code"] for l in d["volumes"][0]["legs"]) == "AAD"'
json_check s1.json "d['volumes'][0]['legs'][1]['device'] == '$(stat -c '%t:%T' "${legs[1]}" | python3 -c 'import sys; a, b = sys.stdin.read().split(":"); print(f"{int(a, 16)}:{int(b, 16)}")')'"
json_check s1.json "d['volumes'][0]['generation'] == $gen and d['volumes'][0]['flush'] >= $flush"
json_check s1.json "d['volumes'][0]['repair_state'] == '$repair'"
json_check s1.json 'd["volumes"][0]["hydration"] is None and d["volumes"][0]["parent"] is None'
json_check s1.json 'd["volumes"][0]["counters"]["mismatches"] == 0'
"$CTL" leg v1 restore 2
wait_synced v1 120
drop_caches
expect_data /dev/mapper/v1 img1

step "leg replace: refused when it would lose data, then filled by the agent"
newleg=''
make_loop_leg newleg $((MIB + 4))
"$CTL" leg v1 fail 0
"$CTL" leg v1 fail 2
rc=0
"$CTL" leg v1 replace 1 "$newleg" 2>replace.err || rc=$?
cat replace.err
[ "$rc" -eq 1 ] || fail "replacing the only leg in service exited $rc, expected 1"
grep -q "replacing it would lose them" replace.err || fail "no reason given"
dmsetup table v1 | grep -q "replace_leg" && fail "a refused replace changed the table"
"$CTL" leg v1 restore 0
"$CTL" leg v1 restore 2
wait_synced v1 60
expect_rc 2 "$CTL" leg v1 replace 2 "${legs[0]}"
"$CTL" leg replace v1 2 "$newleg"
dmsetup table v1
# The new table runs with repair manual: only the agent fills the leg.
wait_synced v1 300
wait_log a1 "v1: starting repair of regions 0-63 from leg 0 to leg 2"
dmsetup table v1 | tee table.txt
grep -q "replace_leg" table.txt && fail "the table still shows replace_leg after the fill"
grep -q " $(stat -c '%t:%T' "$newleg" | python3 -c 'import sys; a, b = sys.stdin.read().split(":"); print(f"{int(a, 16)}:{int(b, 16)}")') " table.txt ||
	fail "the table does not name the new leg"
drop_caches
expect_data /dev/mapper/v1 img1
expect_legs_equal $SECTORS $REGION "${legs[0]}" "${legs[1]}" "$newleg"
no_errors a1
stop_agent "$a1" a1
crucible_remove v1

step "reconcile --wait, no agent running"
legs=()
make_loop_legs legs $MIB
crucible_create v2 $SECTORS "${legs[@]}" - repair manual region_size $REGION repair_throttle 2
random_file img2 $MIB
write_image img2 /dev/mapper/v2
"$CTL" leg v2 fail 0
patch_image img2 /dev/mapper/v2 1024 3072
"$CTL" leg v2 restore 0
sleep 2
expect_status v2 repair paused
"$CTL" reconcile v2 start --wait --timeout 180 | tee wait.out
[ "$(wc -l <wait.out)" -ge 2 ] || fail "--wait printed no progress"
grep -q "v2: repair idle, $NR_REGIONS/$NR_REGIONS regions in sync (100.0%)" wait.out ||
	fail "--wait did not end in sync"
expect_status v2 legs AAA
"$CTL" reconcile v2 stop --wait
drop_caches
expect_data /dev/mapper/v2 img2
expect_legs_equal $SECTORS $REGION "${legs[@]}"
crucible_remove v2

step "the agent is killed mid-repair (throttled), the volume re-activated, the agent restarted"
legs=()
make_loop_legs legs $MIB
crucible_create v3 $SECTORS "${legs[@]}" - repair manual region_size $REGION
random_file img3 $MIB
write_image img3 /dev/mapper/v3
b=''
start_agent b b --rescan 0 --repair-throttle 1 --repair-batch 8
wait_log b "v3: watching" 30
"$CTL" leg v3 fail 2
for mib in 0 2 4 6 8 10 12 14; do
	patch_image img3 /dev/mapper/v3 $((mib * 1024)) 1024
done
"$CTL" leg v3 restore 2
wait_log b "v3: repair throttle set to 1 MiB/s" 30
wait_log b "v3: starting repair of regions 0-7 from leg 0 to leg 2 \(request 1 of 16, 128 regions to repair\)" 30
# Some regions repaired, not all: then the agent dies.
end=$(($(date +%s) + 120))
until [ "$(status_field v3 in_sync)" -gt 128 ]; do
	[ "$(date +%s)" -lt "$end" ] || fail "v3: no progress in 120s ($(dmsetup status v3))"
	sleep 0.2
done
kill -KILL "$b"
wait "$b" 2>/dev/null || true
in_sync=$(status_field v3 in_sync)
echo "agent killed with $in_sync/$NR_REGIONS regions in sync"
[ "$in_sync" -lt $NR_REGIONS ] || fail "the repair finished before the agent was killed: the test proves nothing"
[ -e b/crucible-agent.pid ] || fail "a killed agent removed its pid file?"
no_errors b
mv b.log b-killed.log
# Re-activation (as after a reboot): the new table's repair is manual again.
table=$(dmsetup table v3)
dmsetup reload v3 --table "$table"
dmsetup resume v3
dmsetup status v3
expect_status v3 repair paused
[ "$(status_field v3 in_sync)" -lt $NR_REGIONS ] || fail "nothing left to repair after re-activation"
sleep 3
expect_status v3 repair paused
# The same state directory (a stale pid file, unlocked) and a second
# agent with its own: together they finish, without errors.
c1='' c2=''
start_agent c1 b --rescan 0 --repair-throttle 0
wait_log b "v3: repair throttle set to 0 MiB/s \(unlimited\)" 30
start_agent c2 c2 --rescan 0
wait_log c2 "v3: watching" 30
wait_synced v3 180
grep -E "v3: (starting repair|repair of .* done|.*rehash)" b.log c2.log || true
grep -qE "v3: (.* )?starting repair" b.log c2.log || fail "no agent repaired v3 after the restart"
drop_caches
expect_data /dev/mapper/v3 img3
expect_legs_equal $SECTORS $REGION "${legs[@]}"
no_errors b
no_errors c2
stop_agent "$c2" c2
stop_agent "$c1" b
crucible_remove v3

step "events lost (tiny receive buffer, agent stopped) are noticed and recovered from"
legs=()
make_loop_legs legs $MIB
crucible_create v4 $SECTORS "${legs[@]}" - repair manual region_size $REGION
random_file img4 $MIB
write_image img4 /dev/mapper/v4
e=''
start_agent e e --rescan 0 --event-rcvbuf 1
wait_log e "v4: watching" 30
kill -STOP "$e"
"$CTL" leg v4 fail 1
patch_image img4 /dev/mapper/v4 2048 512
"$CTL" leg v4 restore 1
"$CTL" leg v4 fail 2
"$CTL" leg v4 restore 2
"$CTL" leg v4 fail 0
"$CTL" leg v4 restore 0
kill -CONT "$e"
wait_log e "events were lost: the event socket's receive buffer overflowed: rebuilding the state of every volume" 60
wait_synced v4 120
wait_log e "v4: starting repair of regions 32-39 from leg 0 to leg 1" 30
drop_caches
expect_data /dev/mapper/v4 img4
expect_legs_equal $SECTORS $REGION "${legs[@]}"
stop_agent "$e" e
crucible_remove v4

step "without netlink (--no-netlink): device-mapper events and reconcile start"
legs=()
make_loop_legs legs $MIB
crucible_create v5 $SECTORS "${legs[@]}" - repair manual region_size $REGION
random_file img5 $MIB
write_image img5 /dev/mapper/v5
f=''
mkdir -p f
"$AGENT" --foreground --state-dir "$PWD/f" --rescan 0 --no-netlink >f.log 2>&1 &
f=$!
on_exit _agent_stop "$f"
wait_log f "watching volumes through device-mapper events and status lines" 30
wait_log f "v5: watching" 30
"$CTL" leg v5 fail 0
patch_image img5 /dev/mapper/v5 4096 256
"$CTL" leg v5 restore 0
wait_synced v5 120
wait_log f "v5: 4 stale regions and repair paused: starting repair \(attempt 1\)" 10
drop_caches
expect_data /dev/mapper/v5 img5
expect_legs_equal $SECTORS $REGION "${legs[@]}"
no_errors f
stop_agent "$f" f
crucible_remove v5

step "the module is reloaded under a running agent"
g=''
start_agent g g --rescan 0
crucible_reload_module
legs=()
make_loop_legs legs $MIB
crucible_create v6 $SECTORS "${legs[@]}" - repair manual region_size $REGION
random_file img6 $MIB
write_image img6 /dev/mapper/v6
wait_log g "v6: watching" 60
"$CTL" leg v6 fail 2
patch_image img6 /dev/mapper/v6 8192 256
"$CTL" leg v6 restore 2
wait_synced v6 120
wait_log g "v6: starting repair of regions 128-131 from leg 0 to leg 2" 10
# The family is registered anew (its id and group may be the same): the
# agent notices that it left the group, and joins the new family.
wait_log g "closing the netlink sockets; looking for the 'crucible' family again" 10
wait_log g "connected to the 'crucible' netlink family again" 10
drop_caches
expect_data /dev/mapper/v6 img6
stop_agent "$g" g
crucible_remove v6
echo ALL-OK
