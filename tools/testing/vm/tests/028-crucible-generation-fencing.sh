#!/bin/bash
# vm-timeout: 200
# Generation fencing: a volume activated with generation 5 refuses a later
# activation with generation 3 (the message names both); without a
# generation it takes over with the stored one + 1 (6, in the table and the
# status); the same generation is refused to another owner and accepted
# for the same one (a reload on the same host); a higher one is accepted
# from anyone. A live volume refuses a table reload with a lower generation
# and takes one with its own. The stored generation cannot be passed by wrapping around:
# at the largest generation, an activation with none given is refused rather
# than taking generation 0.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=SCRIPTDIR/../lib-crucible.sh
. "$(dirname "$0")/../lib-crucible.sh"

VOLUME_MIB=16
SECTORS=$((VOLUME_MIB * 2048))
MAX_GEN=18446744073709551615

legs=()
make_loop_legs legs $VOLUME_MIB
TABLE="0 $SECTORS crucible ${legs[*]} -"

# table_generation NAME: the generation in `dmsetup table`.
table_generation() {
	dmsetup table "$1" | awk '{ for (i = 1; i < NF; i++) if ($i == "generation") print $(i + 1) }'
}

# expect_generation NAME GEN: table and status agree on it.
expect_generation() {
	local g
	g=$(table_generation "$1")
	[ "$g" = "$2" ] || fail "$1: table says generation '$g', expected $2 ($(dmsetup table "$1"))"
	expect_status "$1" generation "$2"
}

step "first activation with generation 5; data written"
crucible_create vol "$SECTORS" "${legs[@]}" - generation 5
expect_generation vol 5
random_file data 4
write_image data /dev/mapper/vol
crucible_remove vol

step "generation 3 is refused"
expect_create_fails vol "$TABLE 2 generation 3" "generation 3 is lower"
expect_create_fails vol "$TABLE 2 generation 4" "generation 4 is lower"

step "no generation given: the stored one + 1"
crucible_create vol "$SECTORS" "${legs[@]}"
dmsetup table vol
expect_generation vol 6
expect_data /dev/mapper/vol data
owner=$(dmsetup table vol | awk '{ for (i = 1; i < NF; i++) if ($i == "owner") print $(i + 1) }')
[ -n "$owner" ] || fail "the table names no owner: $(dmsetup table vol)"
crucible_remove vol

step "generation 6 for another owner is refused; for the same owner ($owner) accepted"
expect_create_fails vol "$TABLE 4 generation 6 owner other" "generation 6"
expect_create_fails vol "$TABLE 2 generation 5" "generation 5 is lower"
crucible_create vol "$SECTORS" "${legs[@]}" - generation 6 owner "$owner"
expect_generation vol 6
expect_data /dev/mapper/vol data
crucible_remove vol

step "generation 7 from another owner is accepted; then 6 is refused to the first"
crucible_create vol "$SECTORS" "${legs[@]}" - generation 7 owner other
expect_generation vol 7
crucible_remove vol
expect_create_fails vol "$TABLE 4 generation 7 owner $owner" "generation 7"
expect_create_fails vol "$TABLE 2 generation 6" "generation 6 is lower"

step "a live volume fences an older table: a reload with a lower generation is refused"
crucible_create vol "$SECTORS" "${legs[@]}" - generation 9 owner other
kmsg_mark "reload with generation 8"
if dmsetup load vol --table "$TABLE 4 generation 8 owner other" 2>/dev/null; then
	dmsetup clear vol || true
	fail "a reload with generation 8 over generation 9 was accepted"
fi
kmsg_since_mark | grep -E "generation 8 is lower" ||
	fail "the refused reload does not say why: $(kmsg_since_mark)"
expect_generation vol 9
expect_data /dev/mapper/vol data
step "a reload with the same generation and owner is accepted, and the volume works on"
dmsetup load vol --table "$TABLE 4 generation 9 owner other" || fail "reload with generation 9 refused"
dmsetup resume vol || fail "resume after the reload failed"
dmsetup status vol
expect_generation vol 9
expect_status vol mode rw
expect_data /dev/mapper/vol data
random_file data2 4
write_image data2 /dev/mapper/vol $((8 << 20))
expect_data /dev/mapper/vol data2 $((8 << 20))
crucible_remove vol

step "at the largest generation, no generation given is refused (no wrap to 0)"
crucible_create vol "$SECTORS" "${legs[@]}" - generation $MAX_GEN owner other
expect_generation vol $MAX_GEN
crucible_remove vol
kmsg_mark "create without generation at the largest one"
if dmsetup create vol --table "$TABLE" 2>/dev/null; then
	g=$(table_generation vol)
	crucible_remove vol
	fail "activation without a generation over stored generation $MAX_GEN was accepted, with generation $g"
fi
dmsetup info vol >/dev/null 2>&1 && fail "the refused create left device vol behind"
kmsg_since_mark
expect_create_fails vol "$TABLE 2 generation 1" "generation 1 is lower"
