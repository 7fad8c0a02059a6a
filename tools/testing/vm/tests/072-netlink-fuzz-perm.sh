#!/bin/bash
# vm-timeout: 300
# The generic netlink family "crucible" under abuse: a few hundred random
# requests (commands real and not, request and dump, attribute sets with
# right and wrong sizes and types, unknown attributes, random values), half
# naming a live volume so that they reach the handlers. Every request gets
# an answer, the kernel logs no oops or warning (the harness checks), and
# the volume still serves its data afterwards. Then every command, and
# joining the event group, is refused with EPERM to a user without
# CAP_NET_ADMIN (nobody, no capabilities).
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=SCRIPTDIR/../lib-crucible.sh
. "$(dirname "$0")/../lib-crucible.sh"

SEED=${CRUCIBLE_NL_FUZZ_SEED:-20261122}
COUNT=${CRUCIBLE_NL_FUZZ_COUNT:-400}
VOLUME_MIB=16

FUZZ=''
crucible_helper FUZZ crucible-nl-fuzz

legs=()
make_loop_legs legs $VOLUME_MIB
crucible_create vol $((VOLUME_MIB * 2048)) "${legs[@]}" - region_size 128
random_file data 8
write_image data /dev/mapper/vol
dev=$(stat -L -c '%t %T' /dev/mapper/vol)
read -r major minor <<<"$dev"
major=$((0x$major)) minor=$((0x$minor))
# new_encode_dev: minor low 8 bits | major << 8 | minor high bits << 12
enc=$(((minor & 0xff) | (major << 8) | ((minor & ~0xff) << 12)))
echo "volume vol is $major:$minor, encoded $enc"

step "$COUNT random requests, seed $SEED"
"$FUZZ" fuzz "$SEED" "$COUNT" "$enc" || fail "the fuzzer stopped (seed $SEED)"
dmsetup status vol

step "the volume still serves its data"
for i in 0 1 2; do
	dmsetup message vol 0 restore_leg $i 2>/dev/null || true
done
msg vol repair_throttle 0
msg vol reconcile start
wait_synced vol 120
drop_caches
expect_data /dev/mapper/vol data

step "unprivileged: every command refused"
command -v setpriv >/dev/null || fail "setpriv (util-linux) is missing"
setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all \
	--bounding-set=-all -- "$FUZZ" perm || fail "a command was not refused to an unprivileged user"
crucible_remove vol
