#!/bin/bash
# vm-timeout: 200
# The constructor sizes the target's state for the legs as it finds them;
# the legs are assembled only at the first resume. If another volume
# formats the same legs in between (here with 64 KiB regions instead of
# 1 MiB: 1024 regions where the table was loaded for 64), the resume must
# refuse, saying why, and must never write past what the constructor sized
# (before, the guest kernel died soon after: "corrupted stack end"). A new
# table then assembles the legs as they are now. The same when the legs the
# table was loaded on are wiped, or made another volume of the same shape.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=SCRIPTDIR/../lib-crucible.sh
. "$(dirname "$0")/../lib-crucible.sh"

VOLUME_MIB=64
SECTORS=$((VOLUME_MIB * 2048))
VOL=/dev/mapper/vol

legs=()
make_loop_legs legs $VOLUME_MIB
need_crucible
on_exit _dm_remove vol

# resume_refused WHY: `dmsetup resume vol` fails and the kernel says WHY.
resume_refused() {
	local why=$1 log
	kmsg_mark "resume after the legs changed"
	if dmsetup resume vol 2>/dev/null; then
		dmsetup status vol >&2 || true
		fail "resume accepted legs that changed since the table was loaded"
	fi
	log=$(kmsg_since_mark)
	echo "$log" | grep -i crucible || true
	grep -Eiq -- "$why" <<<"$log" || fail "the refusal does not say /$why/"
}

step "table loaded on blank legs (1 MiB regions), not resumed"
dmsetup create vol --notable
dmsetup load vol --table "0 $SECTORS crucible ${legs[*]} -"

step "another volume formats the same legs with 64 KiB regions, writes, goes away"
crucible_create other "$SECTORS" "${legs[@]}" - region_size 128
random_file image 8
write_image image /dev/mapper/other
expect_status other nr_regions 1024
crucible_remove other

step "the first table's resume is refused; the legs are untouched"
resume_refused 'changed since the table was loaded|region size'
dmsetup clear vol 2>/dev/null || true
dmsetup load vol --table "0 $SECTORS crucible ${legs[*]} -"
dmsetup resume vol
expect_status vol nr_regions 1024
expect_data $VOL image
dmsetup remove vol

step "table loaded on formatted legs; the legs are wiped before the resume"
dmsetup create vol --notable
dmsetup load vol --table "0 $SECTORS crucible ${legs[*]} -"
for l in "${legs[@]}"; do
	dd if=/dev/zero of="$l" bs=1M count=2 oflag=direct conv=notrunc status=none
done
resume_refused 'changed since the table was loaded|blank'
dmsetup remove vol

step "table loaded on blank legs; another volume of the same shape is made on them"
dmsetup create vol --notable
dmsetup load vol --table "0 $SECTORS crucible ${legs[*]} -"
crucible_create other "$SECTORS" "${legs[@]}" -
write_image image /dev/mapper/other
crucible_remove other
resume_refused 'changed since the table was loaded|another volume'
dmsetup remove vol
