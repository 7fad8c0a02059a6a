# shellcheck shell=bash
# Helpers for VM tests (and the demo) with NBD servers on "other machines":
# network namespaces reached over veth pairs with netem delay (sourced after
# lib.sh).

# nbd_modules NBDS_MAX: veth, netem and nbd loaded (nbd with NBDS_MAX idle
# devices when this loads it, and unloaded at the end).
nbd_modules() {
	local m
	for m in veth sch_netem; do
		modprobe "$m" || fail "modprobe $m failed"
	done
	if [ ! -d /sys/module/nbd ]; then
		modprobe nbd nbds_max="$1" || fail "modprobe nbd failed"
		on_exit rmmod nbd
	fi
}

# make_ns NAME HOST_IF HOST_IP NS_IP: namespace NAME reached over a veth
# pair whose host end delays every packet by 8 ms; gone at the end.
make_ns() {
	local ns=$1 hif=$2 hip=$3 nip=$4
	ip netns add "$ns" || fail "ip netns add $ns failed"
	on_exit ip netns del "$ns"
	ip link add "$hif" type veth peer name "${hif}p" || fail "cannot create veth $hif"
	on_exit ip link del "$hif"
	ip link set "${hif}p" netns "$ns"
	ip addr add "$hip/24" dev "$hif"
	ip link set "$hif" up
	ip -n "$ns" addr add "$nip/24" dev "${hif}p"
	ip -n "$ns" link set "${hif}p" up
	ip -n "$ns" link set lo up
	tc qdisc add dev "$hif" root netem delay 8ms || fail "netem on $hif failed"
	tc qdisc show dev "$hif" | grep -q 'netem.*delay 8ms' ||
		fail "no netem delay on $hif: $(tc qdisc show dev "$hif")"
}

# _wait_port NS PORT yes|no: within 10 s, something listens on PORT in NS
# (yes) or nothing does any more (no).
_wait_port() {
	local ns=$1 port=$2 want=$3 i l
	for ((i = 0; i < 100; i++)); do
		l=$(ip netns exec "$ns" ss -Hltn "sport = :$port")
		case $want in
		yes) [ -z "$l" ] || return 0 ;;
		no) [ -n "$l" ] || return 0 ;;
		esac
		sleep 0.1
	done
	[ "$want" = yes ] && fail "nothing listens on port $port in $ns"
	fail "port $port in $ns still listens"
}

# wait_listen NS PORT: something listens on PORT in NS.
wait_listen() { _wait_port "$1" "$2" yes; }

# wait_closed NS PORT: nothing listens on PORT in NS any more.
wait_closed() { _wait_port "$1" "$2" no; }

# nbd_server_conf FILE IP PORT NAME=PATH...: an nbd-server configuration
# listening on IP:PORT, exporting each file PATH as NAME (flush and FUA on).
nbd_server_conf() {
	local file=$1 ip=$2 port=$3 e
	shift 3
	printf '[generic]\nport = %s\nlistenaddr = %s\n' "$port" "$ip" >"$file"
	for e in "$@"; do
		printf '[%s]\nexportname = %s\nflush = true\nfua = true\n' "${e%%=*}" "${e#*=}" >>"$file"
	done
}

# start_nbd_server VAR NS PORT CONF URI: nbd-server as a daemon (a child per
# client) in namespace NS with configuration CONF (an absolute path; it
# listens on PORT), once a handshake with URI works; the daemon's PID in
# VAR (stop it with stop_nbd_server). Its messages go to nbd-server.log.
start_nbd_server() {
	local -n _s_pid=$1
	local ns=$2 port=$3 conf=$4 uri=$5
	rm -f "$conf.pid"
	ip netns exec "$ns" nbd-server -C "$conf" -p "$conf.pid" >>nbd-server.log 2>&1 ||
		fail "nbd-server did not start: $(tail -n 5 nbd-server.log)"
	wait_listen "$ns" "$port"
	_s_pid=$(cat "$conf.pid") || fail "nbd-server wrote no pid file"
	nbd_server_ready "$_s_pid"
	warm_up "$uri"
}

# nbd_server_ready PID: nbd-server PID waits in its accept loop (select),
# up to 120 s. It listens before it generates its TLS Diffie-Hellman
# parameters (gnutls_dh_params_generate2, even with TLS off: over a second
# of CPU on the host, 1-14 s seen under emulation on a loaded host) and
# greets nobody until then, so a listening port is not yet a server that
# answers within a client's 10 s.
nbd_server_ready() {
	local pid=$1 i w
	for ((i = 0; i < 1200; i++)); do
		w=$(cat "/proc/$pid/wchan" 2>/dev/null) || fail "nbd-server $pid is gone"
		case $w in
		*select* | *poll*) return 0 ;;
		esac
		sleep 0.1
	done
	fail "nbd-server $pid not waiting for clients after 120 s (wchan '$w')"
}

# start_nbdkit_file VAR NS IP PORT FILE NAME: nbdkit in the foreground in
# namespace NS serving FILE as export NAME only, once a handshake works;
# its PID in VAR, killed at the end. Its messages go to nbdkit.log.
start_nbdkit_file() {
	local -n _k_pid=$1
	local ns=$2 ip=$3 port=$4 file=$5 name=$6
	ip netns exec "$ns" nbdkit -f -i "$ip" -p "$port" --filter=exportname \
		file "$file" exportname="$name" exportname-strict=true >>nbdkit.log 2>&1 &
	_k_pid=$!
	on_exit _kill_pid "$_k_pid"
	wait_listen "$ns" "$port"
	warm_up "nbd://$ip:$port/$name"
}

# Processes of the test by PID; killed at the end whatever happens
# (SIGKILL: nbd-server -d ignores SIGTERM while it serves).
_kill_pid() {
	kill -9 "$1" 2>/dev/null || return 0
	wait "$1" 2>/dev/null || true
}

# stop_nbd_server PID: a daemonized nbd-server (it forks a child per
# client) and the children serving connections die as in a crash; stopped
# first so that it forks no new child meanwhile.
stop_nbd_server() {
	local pid=$1 kids k
	kill -STOP "$pid" 2>/dev/null || return 0
	kids=$(pgrep -P "$pid" || true)
	kill -9 "$pid" 2>/dev/null || true
	for k in $kids; do
		kill -9 "$k" 2>/dev/null || true
	done
	return 0
}

# connected_devices: the /dev/nbdN with a live configuration (a pid file).
connected_devices() {
	local d
	for d in /sys/block/nbd*; do
		[ -e "$d/pid" ] && echo "${d##*/}"
	done
	return 0
}

# warm_up URI: a handshake with the server (waiting for clients) succeeds
# ($NBD is crucible-nbd, see crucible_helper): the export is served before
# a test relies on it.
warm_up() {
	"$NBD" handshake "$1" --connect-timeout 20000 >/dev/null 2>warm.err ||
		fail "no handshake with $1: $(cat warm.err)"
}

# start_fake_nbd VAR NS IP PORT MODE: fake-nbd-server.py (a broken server,
# see there) in namespace NS, listening; its PID in VAR, killed at the end.
start_fake_nbd() {
	local -n _f_pid=$1
	ip netns exec "$2" python3 "$(dirname "${BASH_SOURCE[0]}")/fake-nbd-server.py" "$5" "$3" "$4" >>fake.log 2>&1 &
	_f_pid=$!
	on_exit _kill_pid "$_f_pid"
	wait_listen "$2" "$4"
}
