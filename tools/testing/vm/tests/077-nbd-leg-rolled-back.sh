#!/bin/bash
# vm-timeout: 300
# A remote leg whose host comes back from an older copy of its file (it lost
# its page cache, or was restored from a snapshot) while the link was down:
# everything it acknowledged since that copy, flushes and FUA superblock
# writes included, is gone. When the leg is reconnected and restored, the
# target re-reads its superblock and region table from the export, finds
# them older than what the leg acknowledged, and repairs it wherever it may
# differ; read from that leg alone afterwards, every block is right.
#
# Leg 2 is an export of nbdkit in a namespace 8 ms away, connected with a
# 3 s dead-connection timeout (so that writes during the outage fail and the
# target takes the leg out, as the agent's reconnect path then restores it).
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=SCRIPTDIR/../lib-crucible.sh
. "$(dirname "$0")/../lib-crucible.sh"
# shellcheck source=SCRIPTDIR/../lib-nbd.sh
. "$(dirname "$0")/../lib-nbd.sh"

VOLUME_MIB=16
SECTORS=$((VOLUME_MIB * 2048))
REGION=2048
NS=cr77-$$
IP=10.99.17.2
PORT=10809
URI=nbd://$IP:$PORT/leg2
DIR=$PWD
VOL=/dev/mapper/vol

NBD=''
crucible_helper NBD crucible-nbd
nbd_modules 0
make_ns "$NS" cr77 10.99.17.1 $IP

truncate -s 24M "$DIR/leg2.img"
SRV=''
start_srv() {
	start_nbdkit_file SRV "$NS" $IP $PORT "$DIR/leg2.img" leg2
}
start_srv
dev=$("$NBD" connect "$URI" --dead-timeout 3 --timeout 30) || fail "cannot connect $URI"
on_exit "$NBD" disconnect "$dev"

loops=()
make_loop_legs loops $VOLUME_MIB
legs=("${loops[0]}" "${loops[1]}" "$dev")

step "volume over two local legs and $URI, filled, synced, left clean"
crucible_create vol "$SECTORS" "${legs[@]}" - region_size $REGION
random_file image $VOLUME_MIB
write_image image $VOL
sleep 2.5
cp --sparse=always "$DIR/leg2.img" "$DIR/leg2.old"

step "4 MiB more, fsync'd: the remote leg acknowledges them"
random_file new $VOLUME_MIB
dd if=new of=image bs=1M count=4 seek=4 skip=4 conv=notrunc status=none
dd if=new of=$VOL bs=1M count=4 seek=4 skip=4 oflag=direct conv=notrunc,fsync status=none
sleep 2.5

step "the server dies; writes go on without leg 2"
_kill_pid "$SRV"
dd if=new of=image bs=1M count=2 seek=10 skip=10 conv=notrunc status=none
dd if=new of=$VOL bs=1M count=2 seek=10 skip=10 oflag=direct conv=notrunc,fsync status=none
wait_status vol legs 'AAF' 60
dmsetup status vol

step "the remote file is rolled back to the copy from before the 4 MiB; server back, reconnected"
cp --sparse=always "$DIR/leg2.old" "$DIR/leg2.img"
start_srv
"$NBD" reconnect "$dev" "$URI" --connect-timeout 20000 || fail "cannot reconnect $dev"
kmsg_mark "restore of the rolled-back leg"
msg vol restore_leg 2
kmsg_since_mark | grep -E "lost writes it acknowledged" ||
	fail "the target did not notice that leg 2 lost acknowledged writes"
wait_synced vol 180
dmsetup status vol

step "every block read from leg 2 alone"
msg vol fail_leg 0
msg vol fail_leg 1
drop_caches
expect_data $VOL image
expect_counter vol mismatches -eq 0
msg vol restore_leg 0
msg vol restore_leg 1
wait_synced vol 120
crucible_remove vol
