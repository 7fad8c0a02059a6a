#!/bin/bash
# vm-timeout: 300
# Bad tables are refused by `dmsetup create` with a kernel message that
# names the problem, and leave no device behind: wrong argument counts, a
# length that is not a multiple of 4 KiB, a leg that does not exist, the
# same leg twice, the volume itself as a leg, a volume larger than its legs or of another size than
# formatted, legs of two different volumes or in the wrong order, a leg
# whose two superblock copies are both corrupt, a leg of an unknown format
# version (resealed, so the checksum is right), bad optional arguments and
# values, a bad parent. One corrupt superblock copy is not a reason to
# refuse. A blank leg beside two formatted ones is refused unless named by
# `replace_leg`, and then filled until it equals the others.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=SCRIPTDIR/../lib-crucible.sh
. "$(dirname "$0")/../lib-crucible.sh"

VOLUME_MIB=16
SECTORS=$((VOLUME_MIB * 2048))
REGION=$CRUCIBLE_DEFAULT_REGION
LEG_MIB=$((VOLUME_MIB + 4))

SB=''
crucible_helper SB crucible-sb

a=() b=() x=() tiny=()
make_loop_legs a $VOLUME_MIB
make_loop_legs b $VOLUME_MIB
make_loop_legs x $VOLUME_MIB
for i in 0 1 2; do
	t=''
	make_loop_leg t 8
	tiny+=("$t")
done

step "volume A over legs a, with data; volume B over legs b"
crucible_create vol "$SECTORS" "${a[@]}"
random_file data $VOLUME_MIB
write_image data /dev/mapper/vol
crucible_remove vol
crucible_create vol "$SECTORS" "${b[@]}"
crucible_remove vol

A="${a[*]}"
T="0 $SECTORS crucible"
bad() { expect_create_fails vol "$@"; }

step "argument counts"
bad "$T" "expected|argument"
bad "$T ${a[0]} ${a[1]}" "expected|argument"
bad "$T ${a[0]} ${a[1]} ${a[2]}" "expected|argument"
bad "$T $A - 1 generation" "pair|optional|argument"
bad "$T $A - 4 generation 9" "argument"
bad "$T $A - x generation 9" "optional|argument|number"
bad "$T $A - 2 generation 9 region_size 2048" "argument|unknown|expected"

step "length not a multiple of 8 sectors; no length"
bad "0 $((SECTORS - 1)) crucible $A -" "multiple|4 ?KiB|block"
bad "0 $((SECTORS + 4)) crucible $A -" "multiple|4 ?KiB|block"

step "legs that do not exist or are given twice"
bad "$T ${a[0]} /dev/nonexistent ${a[2]} -" "leg 1"
bad "$T ${a[0]} ${a[1]} /dev/null -" "leg 2"
bad "$T ${a[0]} ${a[0]} ${a[2]} -" "same"
bad "$T ${a[0]} ${a[1]} ${a[0]} -" "same"
bad "$T ${a[0]} /dev/mapper/vol ${a[2]} -" "leg 1"

step "sizes: legs too small for the volume; a volume of another size than formatted"
bad "$T ${tiny[*]} -" "small|size|large"
bad "0 $((SECTORS * 2)) crucible $A -" "size|small|large|length"
bad "0 $((SECTORS / 2)) crucible $A -" "size|length|formatted"
bad "0 1099511627776 crucible $A -" "size|small|length|large|formatted"
bad "0 1099511627776 crucible ${tiny[*]} - 2 region_size 128" "size|small|length|large"

step "legs of two volumes; legs in the wrong order"
bad "$T ${a[0]} ${a[1]} ${b[2]} -" "another volume|uuid|different"
bad "$T ${b[0]} ${a[1]} ${a[2]} -" "another volume|uuid|different"
bad "$T ${a[1]} ${a[0]} ${a[2]} -" "order|holds leg|index"

# copy_a: legs x become byte copies of legs a.
copy_a() {
	local i
	for i in 0 1 2; do
		dd if="${a[$i]}" of="${x[$i]}" bs=1M iflag=direct oflag=direct status=none ||
			fail "cannot copy ${a[$i]}"
	done
}

# flip_sb LEG COPY: change bytes inside superblock copy COPY (block 0 or 1),
# in the volume uuid, leaving the magic alone.
flip_sb() {
	local leg=$1 copy=$2
	dd if="$leg" of=sb.blk bs=4k skip="$copy" count=1 iflag=direct status=none
	printf '\xde\xad\xbe\xef' | dd of=sb.blk bs=1 seek=48 conv=notrunc status=none
	dd if=sb.blk of="$leg" bs=4k seek="$copy" count=1 oflag=direct conv=notrunc status=none
}
X="${x[*]}"

step "a leg whose two superblock copies are corrupt"
copy_a
flip_sb "${x[1]}" 0
flip_sb "${x[1]}" 1
"$SB" "${x[1]}" show
bad "$T $X -" "leg 1.*(checksum|corrupt|superblock)"

step "only one corrupt copy: the other one is used"
copy_a
newer=$(( $("$SB" "${x[2]}" get seq) & 1 ))
flip_sb "${x[2]}" $newer
"$SB" "${x[2]}" show
crucible_create vol "$SECTORS" "${x[@]}"
expect_data /dev/mapper/vol data
wait_synced vol
crucible_remove vol

step "a leg of format version 3 (checksum resealed)"
copy_a
"$SB" "${x[2]}" set version 3
"$SB" "${x[2]}" show
bad "$T $X -" "leg 2: format version 3 is not supported"

step "a leg of format version 1: the message names the upgrade"
copy_a
"$SB" "${x[1]}" set version 1
bad "$T $X -" "leg 1: format version 1: upgrade .*cruciblectl upgrade"

step "optional arguments"
bad "$T $A - 2 foo bar" "unknown|foo"
bad "$T $A - 2 region_size 100" "region_size"
bad "$T $A - 2 region_size 64" "region_size"
bad "$T $A - 2 region_size 1000" "region_size"
bad "$T $A - 2 region_size 4194304" "region_size"
bad "$T $A - 2 region_size 0" "region_size"
bad "$T $A - 2 region_size abc" "region_size"
bad "$T $A - 2 region_size -2048" "region_size"
bad "$T $A - 2 generation 0" "generation"
bad "$T $A - 2 generation abc" "generation"
bad "$T $A - 2 generation 18446744073709551616" "generation"
bad "$T $A - 2 replace_leg 3" "replace_leg"
bad "$T $A - 2 replace_leg -1" "replace_leg"
bad "$T $A - 2 repair sometimes" "repair"
bad "$T $A - 2 read_policy random" "read_policy"
bad "$T $A - 2 commit_period 0" "commit_period"
bad "$T $A - 2 repair_throttle -1" "repair_throttle"
bad "$T $A - 2 owner $(printf 'o%.0s' $(seq 1 70))" "owner"

step "a bad parent"
bad "$T $A /dev/nonexistent" "parent"
bad "$T $A ${a[1]}" "parent"

step "nothing above changed volume A"
crucible_create vol "$SECTORS" "${a[@]}"
expect_data /dev/mapper/vol data
wait_synced vol
crucible_remove vol

step "a blank leg beside two formatted ones: refused, unless it is the replace_leg"
copy_a
dd if=/dev/zero of="${x[1]}" bs=1M count=$LEG_MIB oflag=direct status=none
bad "$T $X -" "leg 1.*(blank|replace_leg)"
bad "$T $X - 2 replace_leg 2" "leg 1.*(blank|replace_leg)"
crucible_create vol "$SECTORS" "${x[@]}" - replace_leg 1
dmsetup status vol
expect_data /dev/mapper/vol data
wait_synced vol
dmsetup status vol
expect_legs_equal "$SECTORS" "$REGION" "${x[@]}"
expect_data /dev/mapper/vol data
crucible_remove vol
step "and it is a member like the others afterwards"
crucible_create vol "$SECTORS" "${x[@]}"
expect_status vol legs AAA
expect_data /dev/mapper/vol data
crucible_remove vol
