#!/bin/bash
# vm-timeout: 400
# cruciblectl and crucible-agent against the real target: format, create from
# a spec, status (human and --json), leg fail/restore, reconcile --wait, the
# agent restarting repair on its own, operator stop respected, clean SIGTERM.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=SCRIPTDIR/../lib-agent.sh
. "$(dirname "$0")/../lib-agent.sh"
need_crucible

leg0='' leg1='' leg2=''
make_loop_leg leg0 36
make_loop_leg leg1 36
make_loop_leg leg2 36

step "format"
"$CTL" format "$leg0" "$leg1" "$leg2" --size 32M
expect_rc 4 "$CTL" format "$leg0" "$leg1" "$leg2" --size 32M

step "create from spec"
cat > spec.json <<EOS
{"name": "v1", "size": "32M", "legs": ["$leg0", "$leg1", "$leg2"], "generation": 3, "owner": "test-host"}
EOS
"$CTL" create spec.json
on_exit dmsetup remove v1
dmsetup table v1
dmsetup status v1
"$CTL" status
"$CTL" status v1 --json | tee st.json
python3 -c 'import json,sys; d=json.load(open("st.json")); v=d["volumes"][0]; assert d["schema"]==1 and v["name"]=="v1" and v["generation"]==3 and v["owner"]=="test-host" and [l["state"] for l in v["legs"]]==["alive"]*3, d'

step "write, fail leg 1, write, restore, reconcile --wait"
dd if=/dev/urandom of=/dev/mapper/v1 bs=1M count=4 oflag=direct status=none
"$CTL" leg v1 fail 1
"$CTL" status v1
dd if=/dev/urandom of=/dev/mapper/v1 bs=1M count=4 seek=8 oflag=direct status=none
"$CTL" leg v1 restore 1
"$CTL" status v1
"$CTL" reconcile v1 start --wait --timeout 120
"$CTL" status v1
expect_status v1 legs AAA
"$CTL" reconcile v1 stop --wait

step "agent starts repair of a manual-repair volume"
dmsetup remove v1
leg3='' leg4='' leg5=''
make_loop_leg leg3 36
make_loop_leg leg4 36
make_loop_leg leg5 36
dmsetup create v2 --table "0 65536 crucible $leg3 $leg4 $leg5 - 2 repair manual"
on_exit dmsetup remove v2
apid=''
start_agent apid agent --rescan 0
[ -f agent/crucible-agent.pid ] || fail "no pid file"
[ "$(cat agent/crucible-agent.pid)" = "$apid" ] || fail "wrong pid in pid file"
expect_rc 1 "$AGENT" --foreground --state-dir "$PWD/agent"
dd if=/dev/urandom of=/dev/mapper/v2 bs=1M count=2 oflag=direct status=none
"$CTL" leg v2 fail 2
dd if=/dev/urandom of=/dev/mapper/v2 bs=1M count=2 seek=4 oflag=direct status=none
"$CTL" leg v2 restore 2
wait_status v2 legs AAA 60
step "operator stop is respected by the agent"
leg6='' leg7='' leg8=''
make_loop_leg leg6 36
make_loop_leg leg7 36
make_loop_leg leg8 36
dmsetup create v3 --table "0 65536 crucible $leg6 $leg7 $leg8 - 2 repair_throttle 1"
on_exit dmsetup remove v3
"$CTL" leg v3 fail 0
dd if=/dev/urandom of=/dev/mapper/v3 bs=1M count=8 oflag=direct status=none
"$CTL" leg v3 restore 0
sleep 1
"$CTL" status v3
"$CTL" reconcile v3 stop --wait
sleep 3
expect_status v3 repair paused
"$CTL" reconcile v3 start --wait --timeout 120 | tee wait.out
[ "$(wc -l < wait.out)" -ge 2 ] || fail "--wait printed no progress"
expect_status v3 legs AAA
sleep 1
kill -HUP "$apid"
sleep 1
stop_agent "$apid" agent
cat agent.log
grep -q "starting repair" agent.log || fail "agent did not start the repair"
grep -q "repair done" agent.log || fail "agent did not see the repair finish"
grep -q "leg 2 disabled" agent.log || fail "agent did not report the disabled leg"
grep -q "v3: repair was stopped by an operator" agent.log || fail "agent did not hold v3"
! grep -q "v3: .*starting repair" agent.log || fail "agent restarted an operator-stopped repair"

step "errors"
dmsetup create lin --table "0 8192 linear $leg0 0"
on_exit dmsetup remove lin
expect_rc 3 "$CTL" status lin
expect_rc 3 "$CTL" remove lin
expect_rc 3 "$CTL" status nosuch
expect_rc 3 "$CTL" reconcile nosuch start
"$CTL" status
cat > bad.json <<EOS
{"name": "v3", "size": "32M", "legs": ["/dev/nonexistent0", "/dev/nonexistent1", "/dev/nonexistent2"]}
EOS
expect_rc 1 "$CTL" create bad.json
cat > swapped.json <<EOS
{"name": "v4", "size": "32M", "legs": ["$leg1", "$leg0", "$leg2"]}
EOS
rc=0; "$CTL" create swapped.json 2> swapped.err || rc=$?
cat swapped.err
[ "$rc" -eq 1 ] || fail "swapped legs: exit $rc"
grep -q "refused its table: leg 0 holds leg 1" swapped.err || fail "no kernel reason quoted"
sed 's/"generation": 3/"generation": 2/' spec.json > old.json
expect_rc 1 "$CTL" create old.json
"$CTL" create spec.json
"$CTL" remove v1
expect_rc 3 "$CTL" status v1
echo ALL-OK
