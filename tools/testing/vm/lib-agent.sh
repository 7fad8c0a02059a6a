# shellcheck shell=bash
# Helpers for VM tests that run crucible-agent and cruciblectl (sourced
# after lib.sh and lib-crucible.sh). Agents run in the foreground of the
# test, with their debug log in NAME.log and state directory NAME/ in the
# test's directory.

# shellcheck disable=SC2034 # used by the tests that source this
CTL=$CRUCIBLE_REPO/userland/cruciblectl/cruciblectl
AGENT=$CRUCIBLE_REPO/userland/crucible-agent/crucible-agent

# json_check FILE PYTHON_EXPR: the expression, with d the document, is true.
json_check() {
	python3 - "$1" "$2" <<'PY' || fail "$1: $2 is false"
import json, sys
d = json.load(open(sys.argv[1]))
ok = eval(sys.argv[2], {"d": d})
if not ok:
    print(json.dumps(d, indent=1)[:4000], file=sys.stderr)
sys.exit(0 if ok else 1)
PY
}

# wait_log NAME EREGEX [SECONDS]: NAME.log has a line matching EREGEX (the
# first such line is printed).
wait_log() {
	wait_log_since "$1" 0 "$2" "${3:-60}"
}

# log_mark NAME: the number of lines in NAME.log now, for wait_log_since.
log_mark() {
	wc -l <"$1.log"
}

# wait_log_since NAME MARK EREGEX [SECONDS]: a line after the first MARK
# lines of NAME.log matches EREGEX (printed).
wait_log_since() {
	local name=$1 mark=$2 re=$3 limit=${4:-60} end
	end=$(($(date +%s) + limit))
	# grep reads the tail through a process substitution, not a pipe: grep
	# -q and -m1 stop at the first match, and under pipefail the SIGPIPE
	# that stops a tail with more to write (a busy debug log) would fail
	# the test.
	until grep -Eq -- "$re" <(tail -n +$((mark + 1)) "$name.log"); do
		if [ "$(date +%s)" -ge "$end" ]; then
			tail -n 40 "$name.log" >&2
			fail "$name.log: no line matching /$re/ in ${limit}s"
		fi
		sleep 0.2
	done
	grep -E -m1 -- "$re" <(tail -n +$((mark + 1)) "$name.log")
}

_agent_stop() {
	local pid=$1
	kill -CONT "$pid" 2>/dev/null || true
	kill -TERM "$pid" 2>/dev/null || return 0
	wait "$pid" 2>/dev/null || true
}

# start_agent VAR NAME ARGS...: an agent in the foreground (debug log in
# NAME.log, state directory NAME/), once it watches through netlink; its
# PID in VAR. Stopped at the end whatever happens.
start_agent() {
	local -n _t_pid=$1
	local name=$2
	shift 2
	mkdir -p "$name"
	"$AGENT" --foreground --state-dir "$PWD/$name" --verbose "$@" >>"$name.log" 2>&1 &
	_t_pid=$!
	on_exit _agent_stop "$_t_pid"
	wait_log "$name" "watching volumes through the 'crucible' netlink family" 30
}

# stop_agent PID NAME: SIGTERM; it exits 0, logs its exit and removes its
# pid file.
stop_agent() {
	local pid=$1 name=$2 rc=0
	kill -TERM "$pid"
	wait "$pid" || rc=$?
	[ "$rc" -eq 0 ] || fail "agent $name exited $rc on SIGTERM"
	[ ! -e "$name/crucible-agent.pid" ] || fail "agent $name left its pid file"
	grep -q "Terminated: exiting" "$name.log" || fail "agent $name did not log its exit"
}

# no_errors NAME: the agent logged no error (a refused request, a failed dump).
no_errors() {
	if grep -E "error: " "$1.log"; then
		fail "agent $1 logged errors"
	fi
}
