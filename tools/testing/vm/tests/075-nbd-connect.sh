#!/bin/bash
# vm-timeout: 600
# Remote legs' plumbing (userland/lib/nbd.c through crucible-nbd), with the
# real nbd-server and nbdkit, each in a network namespace of its own behind
# a veth pair with 8 ms of netem delay:
#
#   the handshake reports each export's size and flags;
#   connect gives a /dev/nbdN per export (backend identifier and size in
#   sysfs, STATUS "connected"), fio writes and verifies through both, and
#   the data is in the servers' files;
#   a server killed: a LINK_DEAD event for its device arrives (crucible-nbd
#   watch) well within the dead-connection timeout; a read issued while the
#   link is dead waits; the server restarted and `reconnect`: the read
#   completes, the data verifies, new writes work;
#   reconnecting to an export of another size is refused;
#   broken servers (wrong magic, truncated handshake, absurd size, refusal:
#   a python3 fake, and nbdkit / nbd-server configured to refuse) give a
#   clear error and configure no device;
#   disconnect: STATUS "disconnected".
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=SCRIPTDIR/../lib-crucible.sh
. "$(dirname "$0")/../lib-crucible.sh"
# shellcheck source=SCRIPTDIR/../lib-nbd.sh
. "$(dirname "$0")/../lib-nbd.sh"

NBD=''
crucible_helper NBD crucible-nbd
MIB=32
# Long enough for a reconnect to be retried while a read waits.
DEAD_TIMEOUT=90
NS_A=crnbd-a-$$
NS_B=crnbd-b-$$
IP_A=10.99.1.2
IP_B=10.99.2.2
PORT=10809
FAKE_PORT=10900
URI_A=nbd://$IP_A:$PORT/legA
URI_B=nbd://$IP_B:$PORT/legB
DIR=$PWD

# ---- set-up: modules, namespaces, links

nbd_modules 2

step "namespaces $NS_A (nbd-server) and $NS_B (nbdkit), 8 ms netem delay"
make_ns "$NS_A" crnbda 10.99.1.1 "$IP_A"
make_ns "$NS_B" crnbdb 10.99.2.1 "$IP_B"

# ---- servers

truncate -s "${MIB}M" "$DIR/a.img" "$DIR/b.img"
nbd_server_conf "$DIR/nbd-server.conf" "$IP_A" "$PORT" legA="$DIR/a.img"

SRV_A=''
# nbd-server -d serves one connection in the foreground: every (re)connect
# gets a fresh server, and killing it kills the link. Not warmed up with a
# handshake (that would be its one connection): ready once it waits for
# clients.
start_a() {
	ip netns exec "$NS_A" nbd-server -C "$DIR/nbd-server.conf" -d >>"$DIR/nbd-server.log" 2>&1 &
	SRV_A=$!
	on_exit _kill_pid "$SRV_A"
	wait_listen "$NS_A" "$PORT"
	nbd_server_ready "$SRV_A"
}

SRV_B=''
# start_b [PLUGIN ARGS...]: nbdkit (default: file b.img) in the foreground.
start_b() {
	[ $# -gt 0 ] || set -- file "$DIR/b.img"
	ip netns exec "$NS_B" nbdkit -f -i "$IP_B" -p "$PORT" "$@" >>"$DIR/nbdkit.log" 2>&1 &
	SRV_B=$!
	on_exit _kill_pid "$SRV_B"
	wait_listen "$NS_B" "$PORT"
}

# stop_server PID: the server dies as in a crash.
stop_server() {
	kill -9 "$1" 2>/dev/null || fail "server $1 is not running"
	wait "$1" 2>/dev/null || true
}

# ---- helpers

expect_nbd_status() {
	local dev=$1 want=$2 got
	got=$("$NBD" status "$dev") || fail "crucible-nbd status $dev failed"
	[ "$got" = "$want" ] || fail "$dev: status '$got', expected '$want'"
}

# nbd_connect VAR URI: connect, remember to disconnect.
nbd_connect() {
	local -n _n_out=$1
	local dev
	dev=$("$NBD" connect "$2" --dead-timeout "$DEAD_TIMEOUT" --timeout 60) ||
		fail "crucible-nbd connect $2 failed"
	[[ $dev == /dev/nbd[0-9]* ]] || fail "connect printed '$dev'"
	on_exit "$NBD" disconnect "$dev"
	# shellcheck disable=SC2034 # a nameref
	_n_out=$dev
}

# expect_link_dead DEV SINCE_SECONDS: watch.log shows DEV's link dead,
# within the dead-connection timeout.
expect_link_dead() {
	local dev=$1 t0=$2 t
	while ! grep -qx "link-dead $dev" watch.log; do
		t=$((SECONDS - t0))
		[ "$t" -lt "$DEAD_TIMEOUT" ] || fail "no link-dead event for $dev in ${DEAD_TIMEOUT}s: $(cat watch.log)"
		sleep 0.2
	done
	echo "link-dead event for $dev after $((SECONDS - t0))s"
}

# ---- the handshake through the delayed links

start_a
start_b
step "handshake with nbdkit over the delayed link"
t0=$(date +%s%N)
"$NBD" handshake "$URI_B" >hs.out || fail "handshake with nbdkit failed"
ms=$((($(date +%s%N) - t0) / 1000000))
cat hs.out
echo "handshake took $ms ms"
# TCP connection, greeting, NBD_OPT_GO: at least 2 round trips of 8 ms.
[ "$ms" -ge 16 ] || fail "the handshake took $ms ms: the link is not delayed"
grep -qx "size $((MIB << 20))" hs.out || fail "nbdkit: wrong size"
grep -qx "negotiation NBD_OPT_GO" hs.out || fail "nbdkit: not NBD_OPT_GO"
grep -q '^flags .*SEND_FLUSH' hs.out || fail "nbdkit: no SEND_FLUSH"

# ---- connect both

WATCH=''
"$NBD" watch >watch.log 2>&1 &
WATCH=$!
on_exit _kill_pid "$WATCH"
for ((i = 0; i < 50; i++)); do
	grep -qx watching watch.log && break
	sleep 0.1
done
grep -qx watching watch.log || fail "crucible-nbd watch did not start: $(cat watch.log)"

step "connect $URI_A (nbd-server) and $URI_B (nbdkit)"
DEV_A='' DEV_B=''
nbd_connect DEV_A "$URI_A"
nbd_connect DEV_B "$URI_B"
echo "$URI_A -> $DEV_A, $URI_B -> $DEV_B"
[ "$DEV_A" != "$DEV_B" ] || fail "both exports got $DEV_A"
for pair in "$DEV_A $URI_A" "$DEV_B $URI_B"; do
	read -r dev uri <<<"$pair"
	n=${dev#/dev/}
	expect_nbd_status "$dev" connected
	[ "$(cat "/sys/block/$n/size")" -eq $((MIB * 2048)) ] ||
		fail "$dev has $(cat "/sys/block/$n/size") sectors, expected $((MIB * 2048))"
	[ "$(cat "/sys/block/$n/backend")" = "$uri" ] ||
		fail "$dev: backend '$(cat "/sys/block/$n/backend")', expected '$uri'"
done

step "--index: a device of our choosing, and a busy one refused"
if "$NBD" connect "$URI_B" --index "${DEV_A#/dev/nbd}" >busy.out 2>busy.err; then
	fail "connect to busy $DEV_A succeeded ($(cat busy.out))"
fi
cat busy.err
grep -q "connecting $DEV_A: .*already connected" busy.err || fail "unclear error: $(cat busy.err)"
dev=$("$NBD" connect "$URI_B" --index 7) || fail "connect --index 7 failed"
[ "$dev" = /dev/nbd7 ] || fail "connect --index 7 gave $dev"
expect_nbd_status /dev/nbd7 connected
"$NBD" disconnect /dev/nbd7 || fail "disconnect /dev/nbd7 failed"
expect_nbd_status /dev/nbd7 disconnected

step "fio verified writes through both"
fio_verified_write "$DEV_A" 8 0 11
fio_verified_write "$DEV_B" 8 0 12
# What went through is in the servers' files.
dd if=/dev/urandom of=pattern bs=1M count=2 status=none
dd if=pattern of="$DEV_A" bs=1M seek=16 oflag=direct conv=fsync status=none || fail "write to $DEV_A failed"
dd if=pattern of="$DEV_B" bs=1M seek=16 oflag=direct conv=fsync status=none || fail "write to $DEV_B failed"
cmp <(dd if="$DIR/a.img" bs=1M skip=16 count=2 status=none) pattern || fail "a.img does not hold what was written to $DEV_A"
cmp <(dd if="$DIR/b.img" bs=1M skip=16 count=2 status=none) pattern || fail "b.img does not hold what was written to $DEV_B"

# ---- link dead, reconnect

# reconnect_or_explain DEV URI: reconnect DEV to URI (its server is up
# and waits for clients); a failure is shown with the servers' logs.
reconnect_or_explain() {
	local dev=$1 uri=$2
	"$NBD" reconnect "$dev" "$uri" --connect-timeout 20000 2>reconnect.err && return 0
	cat reconnect.err
	echo "--- nbd-server.log:"
	tail -n 20 "$DIR/nbd-server.log" || true
	echo "--- nbdkit.log:"
	tail -n 20 "$DIR/nbdkit.log" || true
	ip netns exec "$NS_A" ss -tan || true
	fail "crucible-nbd reconnect $dev $uri failed"
}

# kill_and_reconnect DEV URI SERVER_PID START_FN: the link dies with the
# server; a read waits; the server comes back; reconnect; the read ends.
kill_and_reconnect() {
	local dev=$1 uri=$2 pid=$3 start=$4 t0 reader rc=0
	step "kill the server of $dev"
	t0=$SECONDS
	stop_server "$pid"
	expect_link_dead "$dev" "$t0"
	expect_nbd_status "$dev" connected
	# A read while the link is dead waits for the reconnect.
	dd if="$dev" of=read.out bs=1M skip=16 count=2 iflag=direct status=none &
	reader=$!
	on_exit _kill_pid "$reader"
	sleep 2
	kill -0 "$reader" 2>/dev/null || fail "a read on $dev with a dead link did not wait for the reconnect"
	step "restart it and reconnect $dev"
	"$start"
	reconnect_or_explain "$dev" "$uri"
	wait "$reader" || rc=$?
	[ "$rc" -eq 0 ] || fail "the read waiting on $dev failed after the reconnect (exit $rc)"
	cmp read.out pattern || fail "the read waiting on $dev returned the wrong data"
	echo "reconnected $dev after $((SECONDS - t0))s; the waiting read completed"
	expect_nbd_status "$dev" connected
}

kill_and_reconnect "$DEV_A" "$URI_A" "$SRV_A" start_a
fio_verify_only "$DEV_A" 8 0 11
fio_verified_write "$DEV_A" 4 24 13

kill_and_reconnect "$DEV_B" "$URI_B" "$SRV_B" start_b
fio_verify_only "$DEV_B" 8 0 12
fio_verified_write "$DEV_B" 4 24 14

step "reconnecting to an export of another size is refused"
t0=$SECONDS
stop_server "$SRV_B"
expect_link_dead "$DEV_B" "$t0"
start_b memory 16M
if "$NBD" reconnect "$DEV_B" "$URI_B" 2>reconnect.err; then
	fail "reconnect of $DEV_B to a 16 MiB export succeeded"
fi
cat reconnect.err
grep -q "now has 16777216 bytes, $DEV_B has 33554432: not the same export" reconnect.err ||
	fail "unclear error: $(cat reconnect.err)"
stop_server "$SRV_B"
start_b
reconnect_or_explain "$DEV_B" "$URI_B"
fio_verify_only "$DEV_B" 8 0 12

# ---- broken servers

# expect_refused URI PATTERN: connect fails with PATTERN, no device is added.
# (Every server here waits for clients once started: a refusal comes in well
# under the limit.)
expect_refused() {
	local uri=$1 want=$2 before after server
	before=$(connected_devices)
	if "$NBD" connect "$uri" --dead-timeout 5 --connect-timeout 20000 >refused.out 2>refused.err; then
		"$NBD" disconnect "$(cat refused.out)" || true
		fail "connect $uri succeeded ($(cat refused.out))"
	fi
	echo "$uri: $(cat refused.err)"
	server=${uri#nbd://}
	server=${server%%/*}
	grep -qF "NBD server $server:" refused.err ||
		fail "the error does not name the server $server: $(cat refused.err)"
	grep -qF "$want" refused.err || fail "unclear error for $uri: $(cat refused.err) (expected '$want')"
	after=$(connected_devices)
	[ "$before" = "$after" ] || fail "a refused connect changed the connected devices: '$before' -> '$after'"
}

step "broken servers: clear errors, no device"
for mode in magic truncated absurd refuse; do
	fake=""
	start_fake_nbd fake "$NS_B" "$IP_B" "$FAKE_PORT" "$mode"
	case $mode in
	magic) want="wrong magic 0x5353482d322e302d in the greeting" ;;
	truncated) want="truncated handshake" ;;
	absurd) want="absurd size of 9223372036854775808 bytes" ;;
	refuse) want="export 'x' refused: no such export (\"no export here\")" ;;
	esac
	expect_refused "nbd://$IP_B:$FAKE_PORT/x" "$want"
	stop_server "$fake"
done
# The real servers, configured to refuse. The nbd-server -d of $DEV_A
# serves that connection only: another one, on another port, a daemon
# forking a child per client (start_nbd_server).
nbd_server_conf "$DIR/nbd-server-2.conf" "$IP_A" "$FAKE_PORT" legA="$DIR/a.img"
srv=''
start_nbd_server srv "$NS_A" "$FAKE_PORT" "$DIR/nbd-server-2.conf" "nbd://$IP_A:$FAKE_PORT/legA"
on_exit stop_nbd_server "$srv"
expect_refused "nbd://$IP_A:$FAKE_PORT/nosuch" "export 'nosuch' refused: no such export"
stop_server "$SRV_B"
start_b null 0
expect_refused "$URI_B" "is empty (size 0)"
stop_server "$SRV_B"
start_b memory 1000
expect_refused "$URI_B" "not a multiple of 512"

step "disconnect"
"$NBD" disconnect "$DEV_A" || fail "disconnect $DEV_A failed"
expect_nbd_status "$DEV_A" disconnected
[ ! -e "/sys/block/${DEV_A#/dev/}/pid" ] || fail "$DEV_A still has a pid after disconnect"
# The link to B is dead (its server was replaced by a refusing one): the
# disconnect of a device with a dead link works too.
"$NBD" disconnect "$DEV_B" || fail "disconnect $DEV_B failed"
expect_nbd_status "$DEV_B" disconnected
if "$NBD" reconnect "$DEV_A" "$URI_A" 2>reconnect.err; then
	fail "reconnect of disconnected $DEV_A succeeded"
fi
echo "reconnect after disconnect: $(cat reconnect.err)"
grep -q "is not connected" reconnect.err || fail "unclear error: $(cat reconnect.err)"
if ! grep -qx "link-dead $DEV_A" watch.log; then
	fail "watch.log lost the events: $(cat watch.log)"
fi
echo "watch saw: $(tr '\n' ' ' <watch.log)"
echo "PASS"
