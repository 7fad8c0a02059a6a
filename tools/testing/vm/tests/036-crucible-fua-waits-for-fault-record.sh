#!/bin/bash
# vm-timeout: 200
# A write to a degraded volume may be acknowledged only once the failure of
# the leg it missed is on disk on the other legs: until then, a crash could
# let the next assembly pick the failed leg (whose region entries tie with
# the others') as the source and lose an acknowledged FUA write.
#
# Legs 1 and 2 hold their superblocks behind dm-delay (3 s for writes); leg
# 0 is behind dm-flakey. With leg 0 failing writes, write A takes it out and
# the target starts recording the fault (3 s); write B, a FUA write issued
# 0.5 s later, goes to legs 1 and 2 only. The block layer's trace of bio
# completions must show B completing after the first superblock write that
# records the fault, never before.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=SCRIPTDIR/../lib-crucible.sh
. "$(dirname "$0")/../lib-crucible.sh"

VOLUME_MIB=16
SECTORS=$((VOLUME_MIB * 2048))
VOL=/dev/mapper/vol
DELAY_MS=3000
T=/sys/kernel/tracing

grep -q '^dm_delay ' /proc/modules || modprobe dm-delay || fail "modprobe dm-delay failed"
[ -d $T/events ] || mount -t tracefs nodev $T || fail "cannot mount tracefs"
[ -d $T/events/block/block_bio_complete ] || fail "no block_bio_complete trace event"

raw=()
make_loop_legs raw $VOLUME_MIB
legs=("${raw[0]}")
flakey_wrap legs[0] "${raw[0]}" fua-flakey0

# sb_table DEV DELAY: the superblock blocks (sectors 0-15) behind dm-delay
# (writes DELAY ms, reads and flushes at once), the rest passed through.
sb_table() {
	local dev=$1 delay=$2 n
	n=$(blockdev --getsz "$dev")
	printf '0 16 delay %s 0 0 %s 0 %s %s 0 0\n16 %s linear %s 16\n' \
		"$dev" "$dev" "$delay" "$dev" $((n - 16)) "$dev"
}
for i in 1 2; do
	dmsetup create "fua-sb$i" --table "$(sb_table "${raw[i]}" 0)" || fail "cannot create fua-sb$i"
	on_exit _dm_remove "fua-sb$i"
	legs+=("/dev/mapper/fua-sb$i")
done

tracing_off() {
	echo 0 >$T/events/block/block_bio_complete/enable
	echo 0 >$T/tracing_on
	: >$T/trace
}
on_exit tracing_off

step "volume (commit period 60 s: no commit unless asked), one region written and synced"
crucible_create vol "$SECTORS" "${legs[@]}" - commit_period 60000
random_file image 1
dd if=image of=$VOL bs=4k count=1 oflag=direct conv=notrunc,fsync status=none
expect_status vol legs AAA

step "superblock writes of legs 1 and 2 delayed ${DELAY_MS} ms; leg 0 fails writes"
for i in 1 2; do
	dmsetup suspend "fua-sb$i"
	dmsetup load "fua-sb$i" --table "$(sb_table "${raw[i]}" $DELAY_MS)"
	dmsetup resume "fua-sb$i"
done
flakey_set fua-flakey0 error_writes

tracing_off
echo 1 >$T/events/block/block_bio_complete/enable
echo 1 >$T/tracing_on

step "write A takes leg 0 out; FUA write B follows 0.5 s later"
dd if=image of=$VOL bs=4k count=1 seek=1 skip=1 oflag=direct conv=notrunc status=none &
a=$!
sleep 0.5
dd if=image of=$VOL bs=4k count=1 seek=2 skip=2 oflag=direct,dsync conv=notrunc status=none ||
	fail "FUA write B failed"
wait $a || fail "write A failed"
echo 0 >$T/tracing_on
dmsetup status vol
expect_status vol legs 'FAA'

read -r vmaj vmin < <(dmsetup info -c --noheadings -o major,minor --separator ' ' vol)
sbdevs=()
for i in 1 2; do
	read -r maj min < <(dmsetup info -c --noheadings -o major,minor --separator ' ' "fua-sb$i")
	sbdevs+=("$maj,$min")
done
# "... 123.456789: block_bio_complete: 254,3 WFS 16 + 8 [0]"
times=$(awk -v vol="$vmaj,$vmin" -v s1="${sbdevs[0]}" -v s2="${sbdevs[1]}" '
	$0 ~ /block_bio_complete:/ {
		for (i = 1; i <= NF; i++) if ($i == "block_bio_complete:") break
		t = $(i - 1); sub(/:$/, "", t)
		dev = $(i + 1); rwbs = $(i + 2); sector = $(i + 3)
		if (rwbs !~ /^W/) next
		if ((dev == s1 || dev == s2) && (sector == 0 || sector == 8) && !sb) sb = t
		if (dev == vol && sector == 16 && !b) b = t
	}
	END { print (sb ? sb : "none"), (b ? b : "none") }' $T/trace)
read -r t_sb t_b <<<"$times"
echo "first superblock write after the fault completed at $t_sb; FUA write B at $t_b"
[ "$t_sb" != none ] || fail "no superblock write of legs 1 or 2 in the trace"
[ "$t_b" != none ] || fail "no completion of write B in the trace"
awk -v a="$t_b" -v b="$t_sb" 'BEGIN { exit !(a + 0 >= b + 0) }' ||
	fail "FUA write B completed at $t_b, before the fault of leg 0 was on disk ($t_sb)"
crucible_remove vol
