# shellcheck shell=bash
# More helpers for dm-crucible's VM tests (tests 020-069), on top of lib.sh.
# Source both:
#
#   # shellcheck source=SCRIPTDIR/../lib.sh
#   . "$(dirname "$0")/../lib.sh"
#   # shellcheck source=SCRIPTDIR/../lib-crucible.sh
#   . "$(dirname "$0")/../lib-crucible.sh"
#
# Programs:  crucible_helper VAR NAME        a program of tools/testing/helpers
#                                            (built into $TMPDIR when the one in
#                                            the tree is missing or out of date)
# Legs:      make_loop_legs ARRAY VOLUME_MIB three blank loop legs big enough
#                                            for a volume of VOLUME_MIB
#            flakey_wrap_legs ARRAY PREFIX   dm-flakey over each leg of ARRAY
#                                            (replaced by the wrappers), named
#                                            PREFIX0..2
#            flakey_set_all MODE NAME...     switch several flakey devices at
#                                            one moment (all suspended, loaded,
#                                            then resumed)
#            leg_area_sum LEG SECTORS [REGION]
#            expect_legs_equal SECTORS REGION LEG0 LEG1 LEG2
#            leg_blocks_differ LEG_A LEG_B SECTORS REGION  (prints a count)
# Volume:    msg NAME WORDS...               dmsetup message, must succeed
#            wait_synced NAME [SECONDS]      repair idle and legs AAA
#            expect_counter NAME FIELD OP N  e.g. expect_counter vol mismatches -gt 0
#            drop_caches
# Tables:    kmsg_mark TEXT                  a line in the kernel log...
#            kmsg_since_mark                 ...and the log since the last one
#            expect_create_fails NAME TABLE REGEX
# Workloads: fio_verified_write DEV SIZE_MIB [OFFSET_MIB [SEED [FIO_ARGS...]]]
#            fio_verify_only DEV SIZE_MIB [OFFSET_MIB [SEED [FIO_ARGS...]]]
#            write_blocks DEV IMAGE FIRST_BLOCK COUNT  (image block N -> dev
#                                            block N, O_DIRECT)
#            fio_with_fault NAME SIZE_MIB OFFSET_MIB SEED MODE FLAKEY...
#                                            fio_verified_write on volume NAME,
#                                            the flakey devices switch to MODE
#                                            while it writes

CRUCIBLE_HELPERS_SRC=${CRUCIBLE_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)}/tools/testing/helpers

# crucible_helper VAR NAME
crucible_helper() {
	local -n _cr_out=$1
	local name=$2 dir=$CRUCIBLE_HELPERS_SRC out
	if [ -x "$dir/$name" ] && make -s -q -C "$dir" "$name" >/dev/null 2>&1; then
		# shellcheck disable=SC2034 # a nameref
		_cr_out=$dir/$name
		return 0
	fi
	out=${TMPDIR:-/tmp}/helpers
	mkdir -p "$out"
	if [ ! -x "$out/$name" ]; then
		make -s -C "$dir" OUT="$out" "$out/$name" >"$out/$name.build.log" 2>&1 || {
			cat "$out/$name.build.log" >&2
			fail "cannot build $name (make -C tools/testing/helpers)"
		}
	fi
	# shellcheck disable=SC2034 # a nameref
	_cr_out=$out/$name
}

# ---- legs

# Leg size for a volume: volume + metadata + the 1 MiB alignment, rounded up.
_cr_leg_mib() {
	echo $(($1 + 4 + $1 / 256))
}

# make_loop_legs ARRAY VOLUME_MIB: ARRAY=(leg0 leg1 leg2), blank loop devices.
make_loop_legs() {
	local -n _cr_legs=$1
	local mib _cr_l i
	mib=$(_cr_leg_mib "$2")
	_cr_legs=()
	for i in 0 1 2; do
		_cr_l=''
		make_loop_leg _cr_l "$mib"
		_cr_legs+=("$_cr_l")
	done
}

# flakey_wrap_legs ARRAY PREFIX: wrap every leg in ARRAY in dm-flakey
# (healthy), named PREFIX0, PREFIX1, PREFIX2; ARRAY then holds the wrappers.
flakey_wrap_legs() {
	local -n _cr_wlegs=$1
	local prefix=$2 i _cr_f
	for i in 0 1 2; do
		_cr_f=''
		flakey_wrap _cr_f "${_cr_wlegs[$i]}" "$prefix$i"
		_cr_wlegs[i]=$_cr_f
	done
}

_cr_flakey_table() {
	local sectors=$1 dev=$2 mode=$3
	case $mode in
	# up 1 s, down 0 s: never down.
	healthy) echo "0 $sectors flakey $dev 0 1 0" ;;
	# up 0 s, down a day: always down, with the given behaviour.
	error_writes | drop_writes) echo "0 $sectors flakey $dev 0 0 86400 1 $mode" ;;
	errors) echo "0 $sectors flakey $dev 0 0 86400" ;;
	*) return 1 ;;
	esac
}

# flakey_set_all MODE NAME...: every flakey device named changes behaviour at
# one moment, as legs do in a power cut: all are suspended first (no lockfs:
# nothing is mounted on them), then loaded, then resumed.
flakey_set_all() {
	local mode=$1 name len dev table
	shift
	local -A tables=()
	for name in "$@"; do
		# "0 <len> flakey <major:minor> ...": dm takes major:minor as a path.
		read -r _ len _ dev _ < <(dmsetup table "$name") || fail "no device $name"
		table=$(_cr_flakey_table "$len" "$dev" "$mode") ||
			fail "flakey_set_all: unknown mode '$mode'"
		tables[$name]=$table
	done
	for name in "$@"; do
		dmsetup suspend --nolockfs "$name" || fail "suspend $name failed"
	done
	for name in "$@"; do
		dmsetup load "$name" --table "${tables[$name]}" || fail "load $name ($mode) failed"
	done
	for name in "$@"; do
		dmsetup resume "$name" || fail "resume $name failed"
	done
}

# leg_area_sum LEG SECTORS [REGION]: md5 of LEG's data area (O_DIRECT).
leg_area_sum() {
	local leg=$1 sectors=$2 region=${3:-$CRUCIBLE_DEFAULT_REGION} base
	base=$(leg_data_offset "$sectors" "$region")
	dd if="$leg" bs=1M iflag=direct,skip_bytes,count_bytes skip="$base" \
		count=$((sectors * 512)) status=none | md5sum | cut -d' ' -f1
}

# leg_blocks_differ LEG_A LEG_B SECTORS REGION: how many 4 KiB blocks of the
# two data areas differ.
leg_blocks_differ() {
	local a=$1 b=$2 sectors=$3 region=$4 base
	base=$(leg_data_offset "$sectors" "$region")
	cmp -l <(dd if="$a" bs=1M iflag=direct,skip_bytes,count_bytes skip="$base" \
		count=$((sectors * 512)) status=none) \
		<(dd if="$b" bs=1M iflag=direct,skip_bytes,count_bytes skip="$base" \
			count=$((sectors * 512)) status=none) 2>/dev/null |
		awk '{ print int(($1 - 1) / 4096) }' | uniq | wc -l
}

# For a failure report: the first few blocks where the legs differ, with a
# digest of each leg's copy ("zero" for a block of zeros).
_cr_show_differing_blocks() {
	local sectors=$1 region=$2 base b i sum blocks
	shift 2
	base=$(leg_data_offset "$sectors" "$region")
	blocks=$( {
		cmp -l <(dd if="$1" bs=1M iflag=direct,skip_bytes,count_bytes skip="$base" \
			count=$((sectors * 512)) status=none) \
			<(dd if="$2" bs=1M iflag=direct,skip_bytes,count_bytes skip="$base" \
				count=$((sectors * 512)) status=none) 2>/dev/null || true
		cmp -l <(dd if="$1" bs=1M iflag=direct,skip_bytes,count_bytes skip="$base" \
			count=$((sectors * 512)) status=none) \
			<(dd if="$3" bs=1M iflag=direct,skip_bytes,count_bytes skip="$base" \
				count=$((sectors * 512)) status=none) 2>/dev/null || true
	} | awk '{ print int(($1 - 1) / 4096) }' | sort -n -u | head -n 5 || true)
	local sbtool=''
	crucible_helper sbtool crucible-sb
	for b in $blocks; do
		printf 'block %s (region %s):' "$b" $((b / (region / 8)))
		for i in 1 2 3; do
			sum=$(dd if="${!i}" bs=4k count=1 iflag=direct,skip_bytes skip=$((base + b * 4096)) \
				status=none | md5sum | cut -c1-12)
			[ "$sum" != "620f0b67a91f" ] || sum=zero
			printf ' leg %d %s' $((i - 1)) "$sum"
		done
		echo
		for i in 1 2 3; do
			printf '  leg %d on disk: %s\n' $((i - 1)) "$("$sbtool" "${!i}" record "$b" 2>&1)"
		done
	done
}

# expect_legs_equal SECTORS REGION LEG0 LEG1 LEG2: the three data areas hold
# the same bytes.
expect_legs_equal() {
	local sectors=$1 region=$2 s0 s1 s2
	shift 2
	s0=$(leg_area_sum "$1" "$sectors" "$region")
	s1=$(leg_area_sum "$2" "$sectors" "$region")
	s2=$(leg_area_sum "$3" "$sectors" "$region")
	if [ "$s0" != "$s1" ] || [ "$s0" != "$s2" ]; then
		echo "data areas: leg 0 $s0, leg 1 $s1, leg 2 $s2" >&2
		echo "blocks that differ: leg 0/1 $(leg_blocks_differ "$1" "$2" "$sectors" "$region")," \
			"leg 0/2 $(leg_blocks_differ "$1" "$3" "$sectors" "$region")" >&2
		_cr_show_differing_blocks "$sectors" "$region" "$@" >&2
		fail "the legs' data areas differ"
	fi
	echo "legs' data areas equal ($s0)"
}

# ---- volume

msg() {
	local name=$1
	shift
	dmsetup message "$name" 0 "$@" || fail "dmsetup message $name 0 $* failed"
}

# wait_synced NAME [SECONDS]: nothing left to repair and every leg A.
wait_synced() {
	local name=$1 limit=${2:-90}
	wait_status "$name" repair idle "$limit"
	wait_status "$name" legs AAA 10
	local in nr
	in=$(status_field "$name" in_sync)
	nr=$(status_field "$name" nr_regions)
	[ "$in" = "$nr" ] || fail "$name: repair idle but only $in/$nr regions in sync ($(dmsetup status "$name"))"
}

# wait_hydrated NAME [SECONDS]: hydration done and every parent block copied.
wait_hydrated() {
	local name=$1 limit=${2:-120} h t
	wait_status "$name" hydration_state "done" "$limit"
	h=$(status_field "$name" hydrated)
	t=$(status_field "$name" hydration_total)
	[ "$h" = "$t" ] || fail "$name: hydration done but only $h/$t blocks hydrated ($(dmsetup status "$name"))"
}

# expect_counter NAME FIELD OP N: a status field compared with test(1)'s OP.
expect_counter() {
	local name=$1 field=$2 op=$3 want=$4 v
	v=$(status_field "$name" "$field") || exit 1
	test "$v" "$op" "$want" ||
		fail "$name: $field is $v, expected $op $want ($(dmsetup status "$name"))"
}

drop_caches() {
	sync
	echo 3 >/proc/sys/vm/drop_caches
}

# ---- kernel log

_cr_mark=0

# kmsg_mark TEXT: put a line in the kernel log; kmsg_since_mark prints what
# the kernel logged after the last such line.
kmsg_mark() {
	_cr_mark=$((_cr_mark + 1))
	echo "crucible-test mark $$-$_cr_mark: $*" >/dev/kmsg
}

kmsg_since_mark() {
	# From the last line with the mark: a mark made in a $(...) subshell
	# does not move the counter, so the same mark can appear twice.
	dmesg | awk -v m="crucible-test mark $$-$_cr_mark:" \
		'index($0, m) { out = ""; found = 1; next } found { out = out $0 "\n" } END { printf "%s", out }'
}

# expect_create_fails NAME TABLE REGEX: `dmsetup create` refuses TABLE, the
# kernel says why (a line of the target's after the mark matches the
# extended REGEX, case ignored), and no device called NAME is left.
expect_create_fails() {
	local name=$1 table=$2 want=$3 log
	kmsg_mark "expect refusal of: $table"
	if dmsetup create "$name" --table "$table" >/dev/null 2>&1; then
		dmsetup status "$name" >&2 || true
		fail "dmsetup create accepted: $table"
	fi
	if dmsetup info "$name" >/dev/null 2>&1; then
		dmsetup remove --force "$name" >/dev/null 2>&1 || true
		fail "a failed create of '$table' left device $name behind"
	fi
	# Only the target's own lines: "...: crucible: <why>".
	log=$(kmsg_since_mark | grep -F 'crucible: ' || true)
	if ! grep -Eiq -- "$want" <<<"$log"; then
		log=$(kmsg_since_mark)
		echo "kernel log after the create:" >&2
		echo "$log" >&2
		fail "refusal of '$table' does not say /$want/"
	fi
	echo "refused: $(grep -Ei -m1 -- "$want" <<<"$log" | sed 's/^\[[^]]*\] //')"
}

# ---- workloads

_cr_fio() {
	local dev=$1 mib=$2 off=${3:-0} seed=${4:-1} out rc=0
	shift $(($# < 4 ? $# : 4))
	out=$(fio --name=crucible --filename="$dev" --rw=randwrite --bs=4k \
		--size="${mib}M" --offset="${off}M" --ioengine=libaio --iodepth=8 \
		--direct=1 --randseed="$seed" --verify=crc32c --verify_fatal=1 \
		--verify_state_save=0 --eta=never "$@" 2>&1) || rc=$?
	# fio exits non-zero on an I/O error or a verify failure; the error
	# counts in its report are checked too.
	if [ $rc -ne 0 ] || grep -qE 'err= *[1-9]' <<<"$out"; then
		echo "$out" >&2
		return 1
	fi
	grep -E '^ *(write|read): ' <<<"$out" || true
	return 0
}

# fio_verified_write DEV SIZE_MIB [OFFSET_MIB [SEED [FIO_ARGS...]]]: random
# 4 KiB O_DIRECT writes over the range, each block once, then fio reads every
# block back and checks it (crc32c, block offset in the header).
fio_verified_write() {
	_cr_fio "$@" --do_verify=1 || fail "fio verified write on $1 failed"
}

# fio_verify_only DEV SIZE_MIB [OFFSET_MIB [SEED [FIO_ARGS...]]]: check what
# fio_verified_write with the same arguments wrote, reading only.
fio_verify_only() {
	_cr_fio "$@" --verify_only=1 || fail "fio verify pass on $1 failed"
}

# write_blocks DEV IMAGE FIRST_BLOCK COUNT: blocks FIRST..FIRST+COUNT-1 of
# IMAGE go to the same blocks of DEV, O_DIRECT.
write_blocks() {
	local dev=$1 img=$2 first=$3 count=$4
	dd if="$img" of="$dev" bs=4k skip="$first" seek="$first" count="$count" \
		iflag=fullblock oflag=direct conv=notrunc status=none ||
		fail "writing blocks $first+$count of $img to $dev failed"
}

# fio_with_fault NAME SIZE_MIB OFFSET_MIB SEED MODE FLAKEY...: fio's verified
# writes on volume NAME; once 200 of them are through, the flakey
# devices named switch to MODE together. fio must finish without an error or
# a bad block, and the volume must have taken writes after the switch (else
# the fault came too late to prove anything).
fio_with_fault() {
	local name=$1 mib=$2 off=$3 seed=$4 mode=$5 w0 wf w1 pid t=0
	shift 5
	w0=$(status_field "$name" writes)
	# Writes at no more than 250 a second: switching the devices takes a
	# few seconds under emulation, and must happen while fio still writes.
	fio_verified_write "/dev/mapper/$name" "$mib" "$off" "$seed" --rate_iops=,250 &
	pid=$!
	while [ "$(status_field "$name" writes)" -lt $((w0 + 200)) ]; do
		kill -0 $pid 2>/dev/null || break
		t=$((t + 1))
		[ $t -lt 1200 ] || fail "fio made no progress on $name"
		sleep 0.1
	done
	flakey_set_all "$mode" "$@"
	wf=$(status_field "$name" writes)
	echo "$* switched to $mode after $((wf - w0)) writes"
	wait $pid || fail "the writer saw an error (or a bad block) with $mode on $*"
	w1=$(status_field "$name" writes)
	[ "$w1" -gt "$wf" ] ||
		fail "fio's writes were over before $* went $mode: the test proves nothing"
	dmsetup status "$name"
}
