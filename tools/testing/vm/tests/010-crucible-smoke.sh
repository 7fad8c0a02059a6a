#!/bin/bash
# vm-timeout: 300
# A new volume over three blank legs serves what was written to it, reports
# all legs alive and in sync, and holds the same data at the same place in the
# data area of each leg.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"

VOLUME_MIB=64
SECTORS=$((VOLUME_MIB * 2048))

leg0='' leg1='' leg2=''
step "three blank loop legs, volume of $VOLUME_MIB MiB"
make_loop_leg leg0 $((VOLUME_MIB + 4))
make_loop_leg leg1 $((VOLUME_MIB + 4))
make_loop_leg leg2 $((VOLUME_MIB + 4))
crucible_create vol "$SECTORS" "$leg0" "$leg1" "$leg2"
dmsetup status vol

step "write 8 MiB with O_DIRECT and read it back"
random_file data 8
write_image data /dev/mapper/vol
expect_data /dev/mapper/vol data
dmsetup status vol
expect_status vol mode rw
expect_status vol legs AAA

step "each leg holds the data in its data area"
for leg in "$leg0" "$leg1" "$leg2"; do
	expect_leg_data "$leg" data "$SECTORS"
done

step "remove the volume"
crucible_remove vol
