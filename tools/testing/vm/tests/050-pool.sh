#!/bin/bash
# vm-timeout: 300
# Pools: a pool on a loop device, three regions as the legs of a crucible
# volume made from a spec (an existing region, one allocated by size, one
# allocated by name at the leg's size), data written and verified; then the
# reboot equivalent: every device-mapper device removed, `pool open` brings
# the regions back with the same tables, the volume is made again from its
# regions and the data verifies.  Also: pool init refused on a loop device
# holding ext4 (and on the pool itself), region remove refused while the
# region is a leg, region remove and pool close afterwards.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=SCRIPTDIR/../lib-crucible.sh
. "$(dirname "$0")/../lib-crucible.sh"
need_crucible
CTL=$CRUCIBLE_REPO/userland/cruciblectl/cruciblectl
export CRUCIBLE_POOLS=$PWD/pools

# pool_devices: the region devices of pool p0 that exist, sorted.
pool_devices() {
	dmsetup ls | awk '$1 ~ /^crucible-pool-p0-/ {print $1}' | sort
}

pooldev='' extdev=''
make_loop_leg pooldev 160
make_loop_leg extdev 64

step "pool init refuses a device with ext4 on it"
mkfs.ext4 -q -F "$extdev"
rc=0
$CTL pool init "$extdev" --name e0 2>ext.err || rc=$?
cat ext.err
[ "$rc" -eq 4 ] || fail "pool init on ext4 exited $rc, expected 4"
grep -q "carries a filesystem (TYPE=ext4)" ext.err || fail "the error does not say ext4"
grep -q -- "--force" ext.err || fail "the error does not mention --force"
blkid -p "$extdev" | grep -q 'TYPE="ext4"' || fail "ext4 was damaged by a refused pool init"

step "pool init"
$CTL pool init "$pooldev" --name p0
on_exit "$CTL" pool close p0
grep -q "^p0 $pooldev " pools || fail "p0 not in the registry: $(cat pools)"
expect_rc 4 "$CTL" pool init "$pooldev" --name p1
$CTL pool list | tee list.out
grep -q "^p0 .*0/256 *ok" list.out || fail "pool list does not show p0 empty"

step "a volume on three regions from a spec"
$CTL region create p0 --size 40M --name leg0
cat >vol.json <<EOS
{"name": "pv", "size": "32M", "generation": 2,
 "legs": [{"pool": "p0", "region": "leg0"},
          {"pool": "p0", "size": "40M"},
          {"pool": "p0", "region": "leg2"}]}
EOS
$CTL create vol.json
on_exit _dm_remove pv
$CTL region list p0 | tee regions.out
[ "$(grep -c '/dev/mapper/crucible-pool-p0-' regions.out)" -eq 3 ] ||
	fail "expected three regions"
grep -q "leg2 .*active, open 1" regions.out || fail "leg2 is not an open leg"
auto=$(awk '$1 != "leg0" && $1 != "leg2" {print $1; exit}' regions.out)
[ -n "$auto" ] || fail "no automatically named region"
dmsetup table pv
for r in leg0 "$auto" leg2; do
	dev=/dev/mapper/crucible-pool-p0-$r
	[ -b "$dev" ] || fail "$dev does not exist"
	dmsetup table "crucible-pool-p0-$r"
done
expect_status pv legs AAA

step "a region in use is not removed"
rc=0
$CTL region remove p0 leg0 2>busy.err || rc=$?
cat busy.err
[ "$rc" -eq 1 ] || fail "region remove of a leg exited $rc, expected 1"
grep -q "in use" busy.err || fail "the error does not say the region is in use"
$CTL region list p0 | grep -q "^ *leg0 " || fail "leg0 was freed while in use"

step "data"
random_file data.img 24
write_image data.img /dev/mapper/pv
expect_data /dev/mapper/pv data.img
$CTL pool show p0

step "reboot equivalent: every device removed"
pool_devices >devs.before
while read -r d; do dmsetup table "$d"; done <devs.before >tables.before
dmsetup remove pv
$CTL pool close p0
[ -z "$(pool_devices)" ] || fail "pool close left $(pool_devices)"
$CTL region list p0 | grep -q "inactive" || fail "regions do not show as inactive"

step "pool open brings the regions back"
$CTL pool open p0
pool_devices >devs.after
cmp devs.before devs.after || fail "other devices after pool open"
while read -r d; do dmsetup table "$d"; done <devs.after >tables.after
diff tables.before tables.after || fail "the region tables changed across pool open"
$CTL pool open p0	# again: the devices are there, nothing to do

step "the volume reassembles from its regions and the data verifies"
cat >vol2.json <<EOS
{"name": "pv", "size": "32M",
 "legs": [{"pool": "p0", "region": "leg0"},
          {"pool": "p0", "region": "$auto"},
          {"pool": "p0", "region": "leg2"}]}
EOS
$CTL create vol2.json
[ "$($CTL region list p0 | grep -c '/dev/mapper/')" -eq 3 ] ||
	fail "re-creating the volume allocated another region"
expect_status pv legs AAA
drop_caches
expect_data /dev/mapper/pv data.img

step "regions are freed once unused"
dmsetup remove pv
$CTL region remove p0 "$auto"
$CTL region list p0 | tee regions.out
[ "$(grep -c '/dev/mapper/' regions.out)" -eq 2 ] || fail "expected two regions left"
[ ! -e "/dev/mapper/crucible-pool-p0-$auto" ] || fail "the removed region's device is still there"
expect_rc 6 "$CTL" region remove p0 "$auto"
expect_rc 6 "$CTL" pool show nosuch
$CTL pool close p0
echo ALL-OK
