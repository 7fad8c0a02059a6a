#!/bin/bash
# The guest side of the VM harness. The initramfs's /init chroots into the
# host's root (shared read-only over 9p) and runs this script from the
# repository share. It talks to tools/testing/vm/run only through files in the
# writable results share, mounted at /run/vm:
#
#   vm.conf          (from the host) VM_REPO, VM_MODE
#   tests.list       (from the host) one test a line: name<TAB>path<TAB>limit
#   setup.log        module loading and the kernel log of it
#   setup.result     "ok" or "not ok <reason>"
#   NAME.start       written when test NAME starts
#   NAME.log         everything the test printed
#   NAME.dmesg       the kernel log during the test
#   NAME.result      "ok <seconds>" or "not ok <seconds> <reason>"
#   reboot-needed    the kernel died (oops, lockup) or a test left a process
#                    that cannot be killed: the host boots again for the rest
#   timeline         guest uptime at each step
#
# A test passes when it exits 0 within its time limit, the kernel log shows
# no BUG/WARNING/Oops/call trace during it, and it leaves no device or
# process behind. Each test runs in a fresh directory on tmpfs (also TMPDIR),
# in a session of its own, with VM_LIB, CRUCIBLE_REPO, VM_RESULTS and
# VM_TEST_NAME set and DM_DISABLE_UDEV=1.
set -u

VM_RES=/run/vm
# shellcheck source=/dev/null
. "$VM_RES/vm.conf"

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/tmp LC_ALL=C TERM=${TERM:-linux}
# Nothing runs udev here: libdevmapper must create /dev/mapper nodes itself.
export DM_DISABLE_UDEV=1
export CRUCIBLE_REPO=$VM_REPO
export VM_LIB=$VM_REPO/tools/testing/vm/lib.sh
export VM_RESULTS=$VM_RES

# What fails a test when it shows up in the kernel log.
KLOG_BAD='\bBUG\b|\bWARNING\b|Oops|Call Trace'
# Taint flags that fail a test when they appear: B bad page (5), D died (7),
# W warning (9), L soft lockup (14). D and L also need a fresh kernel.
TAINT_FAIL=$(((1 << 5) | (1 << 7) | (1 << 9) | (1 << 14)))
TAINT_REBOOT=$(((1 << 7) | (1 << 14)))

log() { echo "vm: $*" >/dev/console; }

# Milestones with the guest's uptime, to see where a run's time goes.
mark() {
	local up
	read -r up _ </proc/uptime
	echo "$up $*" >>"$VM_RES/timeline"
}

setup() {
	local reason=

	hostname crucible-vm
	modprobe configfs 2>/dev/null
	mount -t configfs configfs /sys/kernel/config 2>/dev/null
	mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
	dmesg -C
	{
		echo "kernel $(uname -r)"
		modprobe dm-mod || reason="modprobe dm-mod failed"
		modprobe dm-bufio || reason="modprobe dm-bufio failed"
		if [ -f "$VM_REPO/dm-crucible.ko" ]; then
			if insmod "$VM_REPO/dm-crucible.ko"; then
				echo "loaded $VM_REPO/dm-crucible.ko"
			else
				reason="insmod dm-crucible.ko failed"
			fi
		else
			echo "no $VM_REPO/dm-crucible.ko: tests that need it will fail"
		fi
		echo "--- kernel log"
		dmesg
	} >"$VM_RES/setup.log" 2>&1
	if [ -z "$reason" ] && dmesg | grep -Eq "$KLOG_BAD"; then
		reason="kernel log shows BUG/WARNING/Oops/Call Trace while loading modules"
	fi
	if [ -n "$reason" ]; then
		echo "not ok $reason" >"$VM_RES/setup.result"
	else
		echo ok >"$VM_RES/setup.result"
	fi
}

# Devices a test left behind; printed one a line.
leftovers() {
	local d
	for d in /sys/block/dm-* /sys/block/loop* /sys/block/nullb*; do
		[ -e "$d" ] || continue
		case ${d##*/} in
		loop*)
			# Unused loop devices exist from modprobe on; only bound ones count.
			[ -s "$d/loop/backing_file" ] || continue
			;;
		esac
		echo "${d##*/} $(cat "$d/dm/name" 2>/dev/null || cat "$d/loop/backing_file" 2>/dev/null)"
	done
}

# Processes still in session SID, as "pid:comm:state" words.
stray_processes() {
	local sid=$1 f stat rest
	local -a w
	# Builtins only: a fork per process costs a lot under TCG.
	for f in /proc/[0-9]*/stat; do
		read -r stat 2>/dev/null <"$f" || continue
		# comm (field 2) may hold spaces: split after its closing parenthesis.
		rest=${stat##*) }
		read -r -a w <<<"$rest"
		# w[0] is field 3 (state), w[3] field 6 (session).
		[ "${w[3]}" = "$sid" ] || continue
		[ "${w[0]}" = Z ] && continue
		stat=${stat#*(}
		echo -n "${f//[!0-9]/}:${stat%%) *}:${w[0]} "
	done
}

# SIGKILL what is left in session SID; fails if something survives 5 s.
kill_session() {
	local sid=$1 p end=$((SECONDS + 5))
	while [ $SECONDS -lt $end ]; do
		p=$(stray_processes "$sid")
		[ -z "$p" ] && return 0
		for p in $p; do kill -9 "${p%%:*}" 2>/dev/null; done
		sleep 0.2
	done
	return 1
}

force_cleanup() {
	local try
	for try in 1 2 3; do
		compgen -G '/sys/block/dm-*' >/dev/null || break
		[ "$try" -gt 1 ] && sleep 1
		dmsetup remove_all --force >/dev/null 2>&1
	done
	losetup -D >/dev/null 2>&1
	if [ -d /sys/kernel/config/nullb ]; then
		rmdir /sys/kernel/config/nullb/*/ 2>/dev/null
	fi
	rmmod null_blk 2>/dev/null
}

run_test() {
	local name=$1 path=$2 limit=$3
	local work t0 t1 rc sid taint0 taint1 new stray reason=
	local res=$VM_RES/$name

	work=$(mktemp -d "/tmp/vmtest.$name.XXXXXX")
	dmesg -C
	taint0=$(cat /proc/sys/kernel/tainted)
	t0=$(date +%s)
	echo "$t0" >"$res.start"
	# The test runs in a session of its own, so that whatever it leaves
	# running can be found afterwards. timeout signals its process group;
	# -k follows up with SIGKILL.
	(cd "$work" && TMPDIR=$work VM_TEST_NAME=$name exec setsid timeout -k 10 "$limit" bash "$path") \
		</dev/null >"$res.log" 2>&1 &
	sid=$!
	wait "$sid"
	rc=$?
	t1=$(date +%s)
	dmesg >"$res.dmesg"
	taint1=$(cat /proc/sys/kernel/tainted)
	new=$(((taint1 & ~taint0) & TAINT_FAIL))

	if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		reason="timed out after ${limit}s"
	elif [ "$rc" -ne 0 ]; then
		reason="exit status $rc"
	fi
	if grep -Eq "$KLOG_BAD" "$res.dmesg"; then
		reason="${reason:+$reason; }kernel log shows BUG/WARNING/Oops/Call Trace"
	elif [ "$new" -ne 0 ]; then
		reason="${reason:+$reason; }kernel tainted (flags $new)"
	fi
	stray=$(stray_processes "$sid")
	if [ -n "$stray" ]; then
		reason="${reason:+$reason; }left processes behind: $stray"
		echo "--- vm: processes left behind: $stray" >>"$res.log"
		if ! kill_session "$sid"; then
			# Stuck in the kernel: only a fresh boot gets rid of it.
			echo "--- vm: they cannot be killed; rebooting for the next tests" >>"$res.log"
			: >"$VM_RES/reboot-needed"
		fi
	fi
	if [ "$((taint1 & TAINT_REBOOT))" -ne 0 ]; then
		: >"$VM_RES/reboot-needed"
	elif [ ! -e "$VM_RES/reboot-needed" ]; then
		local left
		left=$(leftovers)
		if [ -n "$left" ]; then
			reason="${reason:+$reason; }left devices behind: $(echo "$left" | tr '\n' ' ')"
			{
				echo "--- vm: devices left behind (force-removed):"
				echo "$left"
			} >>"$res.log"
			force_cleanup
		fi
	fi
	rm -rf "$work"
	if [ -z "$reason" ]; then
		echo "ok $((t1 - t0))" >"$res.result"
	else
		echo "not ok $((t1 - t0)) $reason" >"$res.result"
	fi
}

mark "guest.sh started"
setup
mark "setup done"
while IFS=$'\t' read -r name path limit; do
	[ -n "$name" ] || continue
	[ -e "$VM_RES/$name.result" ] && continue
	log "test $name"
	mark "$name started"
	run_test "$name" "$path" "$limit"
	mark "$name done"
	if [ -e "$VM_RES/reboot-needed" ]; then
		log "kernel died during $name: powering off for a fresh boot"
		break
	fi
done <"$VM_RES/tests.list"

if [ "${VM_MODE:-tests}" = shell ] && [ ! -e "$VM_RES/reboot-needed" ]; then
	echo "dm-crucible VM: repository at $VM_REPO, results in $VM_RES; exit to power off." >/dev/ttyS0
	cd "$VM_REPO" || cd /
	setsid -c bash -l <>/dev/ttyS0 >&0 2>&1
fi
mark "guest.sh done"
sync
exit 0
