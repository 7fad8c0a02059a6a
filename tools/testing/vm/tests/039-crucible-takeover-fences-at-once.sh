#!/bin/bash
# vm-timeout: 240
# Two owners of one volume in one kernel: once a table with a higher
# generation has taken the legs over (its `dmsetup create` returned),
# nothing of the old owner reaches the legs any more: not its data writes,
# not its dirty marks, records or superblocks, and not at its next commit
# either (the old table commits only every 60 s here, so waiting for it
# would prove nothing). The legs, read twice a few seconds apart while the
# old owner's writer keeps trying, hold the same bytes; the old owner says
# "fenced" and fails every I/O; the new one reads every block the old one
# wrote before the takeover without a mismatch. Then the same with the new
# owner on other loop devices over the same files (another path to the
# same legs, as two hosts would see one export). Last, a takeover from
# "another machine": a higher generation written into the legs' superblocks
# behind the volume's back (crucible-sb), as a remote owner's activation
# would; the volume finds it at its next metadata write and is fenced
# within a commit period, its writes stop.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=SCRIPTDIR/../lib-crucible.sh
. "$(dirname "$0")/../lib-crucible.sh"

VOLUME_MIB=16
SECTORS=$((VOLUME_MIB * 2048))

legs=()
make_loop_legs legs $VOLUME_MIB

# legs_sum LEG...: one digest of the whole of every leg, read O_DIRECT.
legs_sum() {
	local l
	for l in "$@"; do
		dd if="$l" bs=1M iflag=direct status=none | md5sum | cut -c1-32
	done | tr '\n' ' '
}

writer_pid=
stop_writer() {
	[ -z "$writer_pid" ] && return 0
	kill "$writer_pid" 2>/dev/null || true
	wait "$writer_pid" 2>/dev/null || true
	writer_pid=
}
on_exit stop_writer

# takeover OLD NEW GEN LEG...: OLD has a writer going; NEW, over LEG...,
# takes the volume over with generation GEN; then the checks above.
takeover() {
	local old=$1 new=$2 gen=$3 s1 s2 w
	shift 3
	step "$old: a writer of random 4 KiB blocks, never pausing"
	(
		while :; do
			dd if=/dev/urandom of=/dev/mapper/"$old" bs=4k count=1 \
				seek=$((RANDOM % (VOLUME_MIB * 256))) oflag=direct conv=notrunc \
				status=none 2>/dev/null || true
		done
	) &
	writer_pid=$!
	w=$(status_field "$old" writes)
	until [ "$(status_field "$old" writes)" -gt $((w + 50)) ]; do sleep 0.1; done

	step "$new takes the legs over with generation $gen"
	dmsetup create "$new" --table "0 $SECTORS crucible $* - 8 generation $gen owner host-$new repair manual commit_period 60000" ||
		fail "the takeover by $new failed"
	on_exit _dm_remove "$new"
	s1=$(legs_sum "$@")
	sleep 3
	s2=$(legs_sum "$@")
	echo "legs right after the takeover: $s1"
	echo "legs 3 s later:                $s2"
	[ "$s1" = "$s2" ] || fail "the old owner's writes reached the legs after the takeover"
	expect_status "$old" mode fenced
	! dd if=/dev/zero of=/dev/mapper/"$old" bs=4k count=1 oflag=direct status=none 2>/dev/null ||
		fail "$old (fenced) accepted a write"
	stop_writer

	step "$new reads every block without a mismatch"
	dd if=/dev/mapper/"$new" of=/dev/null bs=1M iflag=direct status=none ||
		fail "$new failed a read"
	expect_counter "$new" mismatches -eq 0
	expect_counter "$new" unrecoverable -eq 0
}

step "volume a: generation 1, commits only every 60 s"
crucible_create a "$SECTORS" "${legs[@]}" - generation 1 owner host-a commit_period 60000
takeover a b 2 "${legs[@]}"
crucible_remove a

step "volume b, written, then taken over through other loop devices"
aliases=()
for l in "${legs[@]}"; do
	f=$(losetup -n -O BACK-FILE "$l")
	d=$(losetup --find --show "$f") || fail "losetup $f failed"
	on_exit losetup -d "$d"
	aliases+=("$d")
done
takeover b c 3 "${aliases[@]}"
crucible_remove b
crucible_remove c

step "volume d; another machine activates the legs with generation 9"
SB=''
crucible_helper SB crucible-sb
crucible_create d "$SECTORS" "${legs[@]}" - generation 7 owner host-d
(
	while :; do
		dd if=/dev/urandom of=/dev/mapper/d bs=4k count=1 \
			seek=$((RANDOM % (VOLUME_MIB * 256))) oflag=direct conv=notrunc \
			status=none 2>/dev/null || true
	done
) &
writer_pid=$!
kmsg_mark "remote takeover of d"
for l in "${legs[@]}"; do "$SB" "$l" set generation 9 >/dev/null; done
wait_status d mode fenced 10
kmsg_since_mark | grep -E "leg [0-2] has generation 9 > ours \(7\): fenced" ||
	fail "d does not say why it is fenced"
s1=$(legs_sum "${legs[@]}")
sleep 3
s2=$(legs_sum "${legs[@]}")
[ "$s1" = "$s2" ] || fail "d went on writing after it was fenced"
stop_writer
crucible_remove d
