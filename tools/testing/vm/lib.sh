# shellcheck shell=bash
# Helpers for dm-crucible's VM tests (tools/testing/vm/tests/*.sh). Source it:
#
#   #!/bin/bash
#   # vm-timeout: 120        (optional: this test's time limit in seconds)
#   set -euo pipefail
#   # shellcheck source=SCRIPTDIR/../lib.sh
#   . "$(dirname "$0")/../lib.sh"     (a script elsewhere: . "$VM_LIB")
#
# Everything made through these helpers (loop files and devices, null_blk
# devices, dm-flakey wrappers, crucible volumes) is torn down when the test
# exits, newest first, whether it passed or not. A test that needs more
# clean-up registers it with on_exit. Functions that make a device store its
# path in the variable named by their first argument (a command substitution
# would run them in a subshell and lose the clean-up); that variable must not
# start with _vm_.
#
# Legs:      make_loop_leg VAR SIZE_MIB          loop device on a tmpfs file
#            make_null_leg VAR SIZE_MIB          memory-backed null_blk device
# Faults:    flakey_wrap VAR DEV NAME            dm-flakey over DEV, healthy
#            flakey_set NAME MODE                healthy | error_writes |
#                                                drop_writes | errors
# Volumes:   crucible_create NAME SECTORS LEG0 LEG1 LEG2 [PARENT [KEY VALUE]...]
#            crucible_remove NAME
#            crucible_reload_module
# Status:    status_field NAME FIELD             print one field
#            expect_status NAME FIELD PATTERN    fail unless it matches now
#            wait_status NAME FIELD PATTERN [SECONDS]
# Data:      random_file PATH SIZE_MIB
#            write_image IMAGE DEV [OFFSET_BYTES]
#            data_matches DEV IMAGE [OFFSET_BYTES]     status only
#            expect_data DEV IMAGE [OFFSET_BYTES]      fail on mismatch
#            leg_data_offset SECTORS [REGION_SECTORS]  byte offset of block 0
#            expect_leg_data LEG IMAGE SECTORS [VOLUME_OFFSET [REGION_SECTORS]]
# Misc:      fail MESSAGE...; step MESSAGE...; on_exit COMMAND...
#
# FIELD is a position (1 = the status format version, the first word after
# "crucible") or a name from the status contract: version mode generation
# flush legs regions hydration repair reads writes flushes mismatches repaired
# err0 err1 err2 hydration_state parent_errors unrecoverable, plus in_sync and
# nr_regions (the two halves of "regions").
# PATTERN is a shell glob: "AAA", "?F?", "[AS]AA".

# Blocks are 4 KiB: volume lengths are multiples of 8 sectors.
CRUCIBLE_BLOCK=4096
CRUCIBLE_DEFAULT_REGION=2048

_vm_cleanups=()

# Run COMMAND... when the test exits (after everything registered later).
on_exit() {
	local cmd
	printf -v cmd '%q ' "$@"
	_vm_cleanups+=("$cmd")
}

_vm_cleanup() {
	local rc=$? i
	set +e
	for ((i = ${#_vm_cleanups[@]} - 1; i >= 0; i--)); do
		eval "${_vm_cleanups[$i]}" >/dev/null 2>&1 ||
			echo "cleanup: '${_vm_cleanups[$i]}' failed" >&2
	done
	_vm_cleanups=()
	return $rc
}
trap _vm_cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

step() {
	echo "--- $*"
}

# expect_rc RC COMMAND...: run COMMAND, which must exit with status RC.
expect_rc() {
	local want=$1 rc=0
	shift
	"$@" || rc=$?
	[ "$rc" -eq "$want" ] || fail "'$*' exited $rc, expected $want"
}

# cmdline_value NAME [CHARS]: the value of the last NAME=VALUE word on the
# guest's kernel command line (tools/testing/vm/run VM_CMDLINE=...), if it is
# made of CHARS (a bracket expression's contents; default 0-9), else nothing.
cmdline_value() {
	tr ' ' '\n' </proc/cmdline | sed -n "s/^$1=\([${2:-0-9}][${2:-0-9}]*\)\$/\1/p" | tail -n 1
}

# The target may be used at all: the module is loaded and registered.
need_crucible() {
	dmsetup targets 2>/dev/null | grep -q '^crucible ' ||
		fail "the crucible target is not registered (dm-crucible.ko not loaded: see setup.log in the results)"
}

crucible_reload_module() {
	local ko=${CRUCIBLE_REPO:?}/dm-crucible.ko
	if grep -q '^dm_crucible ' /proc/modules; then
		rmmod dm_crucible || fail "rmmod dm_crucible failed"
	fi
	insmod "$ko" || fail "insmod $ko failed"
}

# ---- legs

_leg_dir() {
	local d=${TMPDIR:-/tmp}/legs
	mkdir -p "$d"
	echo "$d"
}

# make_loop_leg VAR SIZE_MIB: a zeroed (sparse) tmpfs file behind a loop device.
make_loop_leg() {
	local -n _vm_out=$1
	local _vm_size=$2 _vm_file _vm_dev
	grep -q '^loop ' /proc/modules || modprobe loop || fail "modprobe loop failed"
	_vm_file=$(mktemp "$(_leg_dir)/leg.XXXXXX")
	truncate -s "${_vm_size}M" "$_vm_file"
	on_exit rm -f "$_vm_file"
	_vm_dev=$(losetup --find --show "$_vm_file") || fail "losetup $_vm_file failed"
	on_exit losetup -d "$_vm_dev"
	# shellcheck disable=SC2034 # a nameref
	_vm_out=$_vm_dev
}

_nullb_cleanup() {
	local dir=$1
	echo 0 >"$dir/power" 2>/dev/null
	rmdir "$dir"
	if ! compgen -G '/sys/kernel/config/nullb/*/' >/dev/null; then
		rmmod null_blk 2>/dev/null
	fi
	return 0
}

# make_null_leg VAR SIZE_MIB: a memory-backed null_blk device (configfs).
make_null_leg() {
	local -n _vm_out=$1
	local _vm_size=$2 _vm_name='' _vm_dir _vm_i
	if [ ! -d /sys/kernel/config/nullb ]; then
		modprobe null_blk nr_devices=0 || fail "modprobe null_blk failed"
	fi
	[ -d /sys/kernel/config/nullb ] || fail "null_blk has no configfs interface"
	# The configfs directory's name becomes the disk's name.
	for ((_vm_i = 0; _vm_i < 100; _vm_i++)); do
		_vm_name=nullb_leg$_vm_i
		_vm_dir=/sys/kernel/config/nullb/$_vm_name
		[ -e "$_vm_dir" ] || [ -e "/sys/block/$_vm_name" ] || break
	done
	mkdir "$_vm_dir" || fail "cannot create $_vm_dir"
	on_exit _nullb_cleanup "$_vm_dir"
	echo "$_vm_size" >"$_vm_dir/size"
	echo 4096 >"$_vm_dir/blocksize"
	echo 1 >"$_vm_dir/memory_backed"
	echo 1 >"$_vm_dir/power" || fail "cannot power on null_blk $_vm_dir"
	[ -b "/dev/$_vm_name" ] || fail "/dev/$_vm_name did not appear"
	# shellcheck disable=SC2034 # a nameref
	_vm_out=/dev/$_vm_name
}

# ---- dm-flakey

# _flakey_table DEV SECTORS MODE
_flakey_table() {
	local dev=$1 sectors=$2 mode=$3
	case $mode in
	# up 1 s, down 0 s: never down.
	healthy) echo "0 $sectors flakey $dev 0 1 0" ;;
	# up 0 s, down a day: always down, with the given behaviour.
	error_writes | drop_writes) echo "0 $sectors flakey $dev 0 0 86400 1 $mode" ;;
	errors) echo "0 $sectors flakey $dev 0 0 86400" ;;
	*) fail "unknown flakey mode '$mode' (healthy, error_writes, drop_writes, errors)" ;;
	esac
}

_dm_remove() {
	local name=$1 try
	dmsetup info "$name" >/dev/null 2>&1 || return 0
	for try in 1 2 3 4 5; do
		dmsetup remove "$name" 2>/dev/null && return 0
		sleep "$try"
	done
	dmsetup remove "$name"
}

# flakey_wrap VAR DEV NAME: /dev/mapper/NAME passes I/O through to DEV until
# flakey_set says otherwise.
flakey_wrap() {
	local -n _vm_out=$1
	local _vm_dev=$2 _vm_name=$3 _vm_table _vm_sectors
	grep -q '^dm_flakey ' /proc/modules || modprobe dm-flakey || fail "modprobe dm-flakey failed"
	_vm_sectors=$(blockdev --getsz "$_vm_dev") || fail "cannot size $_vm_dev"
	_vm_table=$(_flakey_table "$_vm_dev" "$_vm_sectors" healthy) || exit 1
	dmsetup create "$_vm_name" --table "$_vm_table" || fail "cannot create flakey $_vm_name over $_vm_dev"
	on_exit _dm_remove "$_vm_name"
	# shellcheck disable=SC2034 # a nameref
	_vm_out=/dev/mapper/$_vm_name
}

# flakey_set NAME MODE: switch the wrapper's behaviour (suspend, load, resume).
flakey_set() {
	local name=$1 mode=$2 dev sectors table
	# Length and wrapped device (major:minor) from the current flakey table.
	read -r _ sectors _ dev _ < <(dmsetup table "$name") || fail "no device $name"
	table=$(_flakey_table "$dev" "$sectors" "$mode") || exit 1
	dmsetup suspend "$name" || fail "suspend $name failed"
	if ! dmsetup load "$name" --table "$table"; then
		dmsetup resume "$name"
		fail "load $name ($mode) failed"
	fi
	dmsetup resume "$name" || fail "resume $name failed"
}

# ---- crucible volumes

# crucible_create NAME SECTORS LEG0 LEG1 LEG2 [PARENT [KEY VALUE]...]
crucible_create() {
	local name=$1 sectors=$2 l0=$3 l1=$4 l2=$5 parent=${6:--} table
	shift $(($# < 6 ? $# : 6))
	need_crucible
	[ $((sectors % 8)) -eq 0 ] || fail "crucible_create: $sectors sectors is not a multiple of 8"
	[ $(($# % 2)) -eq 0 ] || fail "crucible_create: optional arguments come in KEY VALUE pairs"
	table="0 $sectors crucible $l0 $l1 $l2 $parent"
	[ $# -eq 0 ] || table+=" $# $*"
	dmsetup create "$name" --table "$table" || fail "cannot create crucible volume: $table"
	on_exit _dm_remove "$name"
}

crucible_remove() {
	_dm_remove "$1" || fail "cannot remove $1"
}

# ---- status

_status_index() {
	case $1 in
	[0-9]*) echo "$1" ;;
	version) echo 1 ;;
	mode) echo 2 ;;
	generation) echo 3 ;;
	flush) echo 4 ;;
	legs) echo 5 ;;
	regions | in_sync | nr_regions) echo 6 ;;
	hydration) echo 7 ;;
	repair | repair_state) echo 8 ;;
	reads) echo 9 ;;
	writes) echo 10 ;;
	flushes) echo 11 ;;
	mismatches) echo 12 ;;
	repaired | repaired_blocks) echo 13 ;;
	err0) echo 14 ;;
	err1) echo 15 ;;
	err2) echo 16 ;;
	hydration_state) echo 17 ;;
	parent_errors) echo 18 ;;
	unrecoverable) echo 19 ;;
	hydrated) echo 7 ;;
	hydration_total) echo 7 ;;
	*) fail "unknown status field '$1'" ;;
	esac
}

# status_field NAME FIELD
status_field() {
	local name=$1 field=$2 idx line v
	local -a w
	idx=$(_status_index "$field") || exit 1
	line=$(dmsetup status "$name") || fail "dmsetup status $name failed"
	read -r -a w <<<"$line"
	[ "${w[2]:-}" = crucible ] || fail "$name is not a crucible volume: $line"
	v=${w[$((idx + 2))]:-}
	[ -n "$v" ] || fail "status of $name has no field $field: $line"
	case $field in
	in_sync) v=${v%%/*} ;;
	nr_regions) v=${v#*/} ;;
	hydrated) v=${v%%/*} ;;
	hydration_total) v=${v#*/} ;;
	esac
	echo "$v"
}

# expect_status NAME FIELD PATTERN
expect_status() {
	local v
	v=$(status_field "$1" "$2") || exit 1
	# shellcheck disable=SC2053 # PATTERN is a glob on purpose
	[[ $v == $3 ]] || fail "$1: status field $2 is '$v', expected '$3' ($(dmsetup status "$1"))"
}

# wait_status NAME FIELD PATTERN [SECONDS]: poll until the field matches.
wait_status() {
	local name=$1 field=$2 want=$3 limit=${4:-60} v end
	end=$(($(date +%s) + limit))
	while :; do
		v=$(status_field "$name" "$field") || exit 1
		# shellcheck disable=SC2053 # PATTERN is a glob on purpose
		[[ $v == $want ]] && return 0
		[ "$(date +%s)" -lt "$end" ] ||
			fail "$name: status field $field still '$v' after ${limit}s, expected '$want' ($(dmsetup status "$name"))"
		sleep 0.2
	done
}

# ---- data

# random_file PATH SIZE_MIB
random_file() {
	dd if=/dev/urandom of="$1" bs=1M count="$2" status=none || fail "cannot make $1"
}

# write_image IMAGE DEV [OFFSET_BYTES]: O_DIRECT write of IMAGE at OFFSET.
write_image() {
	local img=$1 dev=$2 off=${3:-0}
	dd if="$img" of="$dev" bs=1M oflag=direct,seek_bytes seek="$off" conv=notrunc,fsync status=none ||
		fail "writing $img to $dev at $off failed"
}

# data_matches DEV IMAGE [OFFSET_BYTES]: DEV holds IMAGE at OFFSET. Reads
# with O_DIRECT so that no page cache of DEV hides what is on the device.
data_matches() {
	local dev=$1 img=$2 off=${3:-0} len
	len=$(stat -c %s "$img")
	dd if="$dev" bs=1M iflag=direct,skip_bytes,count_bytes skip="$off" count="$len" status=none |
		cmp - "$img"
}

# expect_data DEV IMAGE [OFFSET_BYTES]
expect_data() {
	data_matches "$@" || fail "$1 does not hold $2 at offset ${3:-0}"
}

# leg_data_offset SECTORS [REGION_SECTORS]: byte offset on a leg of volume
# block 0, for a volume of SECTORS sectors (layout from the on-disk format:
# two superblocks, the region table, the per-block records, all rounded up
# to 1 MiB).
leg_data_offset() {
	local sectors=$1 region=${2:-$CRUCIBLE_DEFAULT_REGION}
	local blocks region_blocks nr_regions meta data_start
	blocks=$((sectors / 8))
	region_blocks=$((region / 8))
	nr_regions=$(((blocks + region_blocks - 1) / region_blocks))
	meta=$((2 + (nr_regions + 127) / 128 + (blocks + 255) / 256))
	data_start=$(((meta + 255) / 256 * 256))
	echo $((data_start * CRUCIBLE_BLOCK))
}

# expect_leg_data LEG IMAGE SECTORS [VOLUME_OFFSET_BYTES [REGION_SECTORS]]:
# LEG's data area holds IMAGE where the volume has it at VOLUME_OFFSET.
expect_leg_data() {
	local leg=$1 img=$2 sectors=$3 voff=${4:-0} region=${5:-$CRUCIBLE_DEFAULT_REGION} base
	base=$(leg_data_offset "$sectors" "$region") || exit 1
	data_matches "$leg" "$img" $((base + voff)) ||
		fail "data area of leg $leg (from byte $base) does not hold $img at volume offset $voff"
}
