#!/bin/bash
# vm-timeout: 300
# replay-log against logs written by the kernel's dm-log-writes (run in the
# VM: `make -C tools/testing/replay-log vmtest`, or tools/testing/vm/run with
# this script's path). A replay up to a mark taken after an fsync gives the
# device as it was at that mark; the whole log gives the final device; a
# write not yet flushed at a mark is logged after it, before the next flush
# (the crash-window rule in README.md relies on that); 4 KiB logical blocks
# and discards replay right; a device held by a dm table is refused.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../vm/lib.sh
. "${VM_LIB:-$(dirname "$0")/../vm/lib.sh}"

REPLAY_LOG=${CRUCIBLE_REPO:-$(cd "$(dirname "$0")/../../.." && pwd)}/tools/testing/replay-log/replay-log
[ -x "$REPLAY_LOG" ] || fail "$REPLAY_LOG is not built (make -C tools/testing/replay-log)"
MIB=16
LW=rl-lw-$$

rl() { "$REPLAY_LOG" "$@"; }

grep -q '^dm_log_writes ' /proc/modules || modprobe dm-log-writes || fail "modprobe dm-log-writes failed"

# fresh_leg VAR [SECTOR_SIZE]: a zeroed loop device of $MIB MiB.
fresh_leg() {
	local -n _out=$1
	local ss=${2:-512} file dev
	grep -q '^loop ' /proc/modules || modprobe loop || fail "modprobe loop failed"
	file=$(mktemp "${TMPDIR:-/tmp}/rl-leg.XXXXXX")
	truncate -s "${MIB}M" "$file"
	on_exit rm -f "$file"
	dev=$(losetup --find --show --sector-size "$ss" "$file") || fail "losetup $file failed"
	on_exit losetup -d "$dev"
	# shellcheck disable=SC2034 # a nameref
	_out=$dev
}

# snapshot FILE: the logged device's content now, bypassing the page cache.
snapshot() {
	dd if="/dev/mapper/$LW" of="$1" bs=1M iflag=direct status=none || fail "snapshot $1"
}

mark() { dmsetup message "$LW" 0 mark "$1" || fail "mark $1"; }

# Removing a log-writes device logs its pending writes and the end mark.
remove_lw() {
	dmsetup info "$LW" >/dev/null 2>&1 || return 0
	dmsetup remove "$LW"
}

zero_target() {
	dd if=/dev/zero of="$target" bs=1M count="$MIB" oflag=direct conv=fsync,notrunc status=none ||
		fail "cannot zero $target"
}

# expect_replay SNAPSHOT REPLAY-LOG-ARGS...: onto a zeroed leg, equals SNAPSHOT.
expect_replay() {
	local want=$1
	shift
	zero_target
	rl --log "$log" --replay "$target" "$@" || fail "replay-log $* failed"
	data_matches "$target" "$want" || fail "replay-log $* does not give $want"
}

for SS in 512 4096; do
	step "sector size $SS: record a workload through dm-log-writes"
	data='' log='' target=''
	fresh_leg data "$SS"
	fresh_leg target "$SS"
	MIB=$((MIB * 4)) fresh_leg log 512
	dmsetup create "$LW" --table "0 $(blockdev --getsz "$data") log-writes $data $log" ||
		fail "cannot create log-writes over $data"
	on_exit remove_lw
	[ "$(blockdev --getss "/dev/mapper/$LW")" = "$SS" ] || fail "log-writes does not have $SS-byte sectors"

	mark start
	random_file w1 1
	write_image w1 "/dev/mapper/$LW" 0		# O_DIRECT + fsync
	mark a
	snapshot snap.a

	random_file w2 2
	write_image w2 "/dev/mapper/$LW" $((3 << 20))
	blkdiscard -o $((3 << 20)) -l $((512 << 10)) "/dev/mapper/$LW" || fail blkdiscard
	dd if=w1 of="/dev/mapper/$LW" bs=64K count=1 seek=100 oflag=direct,dsync conv=notrunc status=none ||
		fail "dsync write"
	dd if=/dev/null of="/dev/mapper/$LW" conv=fsync,notrunc status=none
	mark b
	snapshot snap.b

	# Written and completed, never flushed before mark c.
	dd if=w2 of="/dev/mapper/$LW" bs=64K count=1 seek=$((10 << 4)) oflag=direct conv=notrunc status=none ||
		fail "unflushed write"
	mark c
	snapshot snap.c
	random_file w3 1
	write_image w3 "/dev/mapper/$LW" $((12 << 20))
	mark d
	snapshot snap.d
	st=$(dmsetup status "$LW") || fail "dmsetup status $LW"
	case $st in *logging_disabled*) fail "dm-log-writes stopped logging: $st" ;; esac

	step "the data device is held by the table: replaying onto it is refused"
	if rl --log "$log" --replay "$data" 2>err; then
		fail "replay onto a device in use succeeded"
	fi
	grep -q busy err || fail "unexpected error: $(cat err)"

	remove_lw || fail "cannot remove $LW"
	dd if="$data" of=final bs=1M iflag=direct status=none || fail "cannot read $data"

	step "list"
	rl --log "$log" --list >list || fail "--list failed"
	cat list
	tail -n 1 list | grep -q ' MARK dm-log-writes-end$' || fail "no end mark last"
	grep -q ' DISCARD$' list || fail "no DISCARD entry"
	grep -q ' FLUSH' list || fail "no FLUSH entry"
	for m in start a b c d; do
		grep -q " MARK $m\$" list || fail "no mark $m"
	done
	if [ "$SS" = 4096 ]; then
		awk '$2 % 8 || $3 % 8 { bad = 1 } END { exit bad }' list ||
			fail "4 KiB entries not printed in 512-byte sectors"
	fi
	[ "$(rl --log "$log" --find --end-mark c)" = "$(awk '$5 == "c" { print $1 }' list)" ] ||
		fail "--find disagrees with --list"

	step "replays to marks give the device as it was at each mark"
	expect_replay snap.a --end-mark a
	expect_replay snap.b --end-mark b
	expect_replay snap.d --end-mark d
	expect_replay final
	expect_replay final --discard

	step "an unflushed write is logged after the mark, before the next flush"
	# The device held it at mark c, but the log has it after c: a replay
	# to c gives the device as at b (the last flush).
	cmp -s snap.b snap.c && fail "the unflushed write did not reach the device"
	expect_replay snap.b --end-mark c
	c=$(rl --log "$log" --find --end-mark c)
	next_flush=$(awk -v c="$c" '$1 > c && $4 ~ /FLUSH/ { print $1; exit }' list)
	[ -n "$next_flush" ] || fail "no flush after mark c"
	unflushed=$(awk -v s=$((10 << 11)) '$2 == s && $3 == 128 { print $1 }' list)
	if [ -z "$unflushed" ] || [ "$unflushed" -le "$c" ] || [ "$unflushed" -ge "$next_flush" ]; then
		fail "the unflushed write is entry '$unflushed', not between mark c ($c) and the next flush ($next_flush)"
	fi
	expect_replay snap.d --limit "$next_flush"

	step "incremental replay: --start-entry on top of an earlier replay"
	zero_target
	rl --log "$log" --replay "$target" --end-mark a || fail "replay to a"
	rl --log "$log" --replay "$target" --start-entry "$(rl --log "$log" --find --end-mark a)" \
		--end-mark d || fail "replay a..d"
	data_matches "$target" snap.d || fail "replay in two steps differs"
	rm -f w1 w2 w3 snap.* final list err
done
echo "replay-log agrees with dm-log-writes"
