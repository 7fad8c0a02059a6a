#!/bin/bash
# The guest side of `make bench`: measures dm-crucible beside the kernel's own
# mirrors in one VM boot, on the same legs, and writes raw figures for
# tools/bench/report.py. Run on the host, it hands over to tools/bench/bench,
# which boots the VM, runs this script there and makes the report.
#
# Legs are memory-backed null_blk devices (4 KiB blocks, no I/O scheduler,
# discard on), made afresh for every volume, so that each target starts on
# identical, blank legs. Sections, in order:
#
#   fio      for each repetition, each target in turn (the order rotates
#            from one repetition to the next): crucible (3 legs), dm-raid
#            raid1 (3 legs, metadata devices with a write-intent bitmap of
#            1 MiB regions), dm-mirror (3 legs, core log, 1 MiB regions) and
#            dm-linear (leg 0). One fio run per target, its jobs one after
#            another (stonewall), libaio, O_DIRECT:
#              seqwrite     1 MiB writes, iodepth 4, one pass over the
#                           volume (this also fills it: the reads that
#                           follow read written, hash-checked blocks)
#              seqread      1 MiB reads, iodepth 4
#              randread-qd1, randread-qd32, randwrite-qd1, randwrite-qd32
#                           4 KiB, iodepth 1 and 32
#            every job but seqwrite runs for RUNTIME. /proc/stat is read
#            before and after each job (fio's exec_prerun / exec_postrun)
#            for the CPU time of the whole guest, kernel threads included.
#   resync   an outage of leg 1 during which 1%, 10% and 100% of the
#            regions get OUTAGE_KIB written at their start; then the time
#            until the volume is in sync again, and what was written to leg
#            1 meanwhile. crucible twice: `restore_leg 1` on the live
#            volume (restore), and removing the volume and creating it
#            again (reassembly); dm-raid raid1 (the leg behind dm-linear,
#            switched to the error target and back, then a suspend/resume,
#            after which dm-raid re-adds the leg and recovers the regions
#            its bitmap marks). All legs sit behind dm-linear here, for
#            crucible too, so both pay the same.
#   hydrate  a parent of HYD_MIB random data (null_blk, read-only): `dd`
#            of the parent onto one leg, then a fresh crucible volume made
#            from the parent, from `dmsetup create` to hydration `done`.
#   big      create time and kernel memory (Slab + VmallocUsed + PageTables
#            + Percpu, and MemFree, from /proc/meminfo, caches dropped) of a
#            BIG_GIB volume over sparse legs: crucible, dm-raid raid1 and
#            dm-mirror.
#
# Settings, each from the environment (BENCH_MODE, BENCH_REPS, ...), else
# the guest's kernel command line (crucible_bench_mode=quick, ...), else the
# mode's default (full / quick / smoke):
#   mode      full | quick | smoke                    (full)
#   reps      repetitions of every measurement        3 / 1 / 1
#   runtime   per time-based fio job: seconds, or
#             milliseconds with "ms" (fio's syntax)   10 / 3 / 200ms
#   mib       volume size for fio and resync, MiB     256 / 64 / 8
#   hyd_mib   parent size for hydration, MiB          64 / 16 / 2
#   big_gib   size of the big volume, GiB             1024 / 1024 / 16
#   pcts      outage sizes, % of regions, commas      1,10,100 / 1,10,100 / 10
#   settle    seconds to wait after a resync for the
#             commits that follow it                  3 / 3 / 0
#   pause     seconds to let memory figures settle    1 / 1 / 0
#   warmup    seconds of unmeasured fio before the
#             first measurement of the boot           5 / 2 / 0
# BENCH_OUT: where the figures go (default $VM_RESULTS/bench).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ -z "${VM_RESULTS:-}" ]; then
	exec "$HERE/bench" "$@"
fi

# shellcheck source=SCRIPTDIR/../testing/vm/lib.sh
. "$VM_LIB"
# shellcheck source=SCRIPTDIR/../testing/vm/lib-crucible.sh
. "$(dirname "$VM_LIB")/lib-crucible.sh"

# ---- settings

# bench_value NAME: crucible_bench_NAME=... from the kernel command line.
bench_value() {
	cmdline_value "crucible_bench_$1" '0-9a-z.,'
}

MODE=${BENCH_MODE:-$(bench_value mode)}
MODE=${MODE:-full}
case $MODE in full | quick | smoke) ;; *) fail "unknown bench mode '$MODE' (full, quick, smoke)" ;; esac

# setting NAME FULL QUICK SMOKE
setting() {
	local env=BENCH_${1^^} v
	v=${!env:-$(bench_value "$1")}
	if [ -z "$v" ]; then
		case $MODE in
		full) v=$2 ;;
		quick) v=$3 ;;
		smoke) v=$4 ;;
		esac
	fi
	echo "$v"
}

REPS=$(setting reps 3 1 1)
RUNTIME=$(setting runtime 10 3 200ms)
VOL_MIB=$(setting mib 256 64 8)
HYD_MIB=$(setting hyd_mib 64 16 2)
BIG_GIB=$(setting big_gib 1024 1024 16)
PCTS=$(setting pcts 1,10,100 1,10,100 10)
# Seconds to wait for commits after a resync, and to let memory figures settle.
SETTLE=$(setting settle 3 3 0)
PAUSE=$(setting pause 1 1 0)
WARMUP=$(setting warmup 5 2 0)
PCTS=${PCTS//,/ }
case $RUNTIME in
[1-9]*ms) RUNTIME_FIO=$RUNTIME ;;
*) RUNTIME_FIO=${RUNTIME}s ;;
esac
for v in "$REPS" "${RUNTIME%ms}" "$VOL_MIB" "$HYD_MIB" "$BIG_GIB" $PCTS "$((SETTLE + 1))" "$((PAUSE + 1))" "$((WARMUP + 1))"; do
	case $v in '' | *[!0-9]* | 0) fail "bad bench setting '$v': a positive integer expected" ;; esac
done
[ "$HYD_MIB" -le "$VOL_MIB" ] || fail "hyd_mib ($HYD_MIB) must not exceed mib ($VOL_MIB)"

OUT=${BENCH_OUT:-$VM_RESULTS/bench}
REGION=2048				# sectors: 1 MiB regions for every target
SECTORS=$((VOL_MIB * 2048))
NR_REGIONS=$((SECTORS / REGION))
LEG_MIB=$(_cr_leg_mib "$VOL_MIB")	# crucible's metadata fits after the data
META_MIB=4				# dm-raid metadata devices
SEQ_QD=4
OUTAGE_KIB=64				# written at the start of each region in an outage
TARGETS=(crucible raid1 mirror linear)
NB=/sys/kernel/config/nullb

mkdir -p "$OUT/fio"
MEASURES=$OUT/measures.txt
: >"$MEASURES"

# record KIND KEY=VALUE...: one line of figures for report.py.
record() {
	echo "$*" >>"$MEASURES"
}

now() { date +%s.%N; }
elapsed() { echo "$(now) - $1" | bc; }

# ---- devices

nb_destroy() {
	local d=$NB/$1
	[ -d "$d" ] || return 0
	echo 0 >"$d/power" 2>/dev/null || true
	rmdir "$d"
}

nb_destroy_all() {
	local d
	for d in "$NB"/nullb_bench_*/; do
		[ -d "$d" ] || continue
		nb_destroy "$(basename "$d")"
	done
}

# nb_create NAME SIZE_MIB: a memory-backed null_blk device /dev/NAME, blank.
nb_create() {
	local name=$1 mib=$2 d=$NB/$1 i
	nb_destroy "$name"
	mkdir "$d" || fail "cannot create $d"
	echo "$mib" >"$d/size"
	echo 4096 >"$d/blocksize"
	echo 1 >"$d/memory_backed"
	echo 1 >"$d/discard"
	# No I/O scheduler: the legs behave like a fast SSD with no queueing policy.
	[ ! -e "$d/no_sched" ] || echo 1 >"$d/no_sched"
	echo 1 >"$d/power" || fail "cannot power on null_blk $name"
	for ((i = 0; i < 50; i++)); do
		[ -b "/dev/$name" ] && return 0
		sleep 0.1
	done
	fail "/dev/$name did not appear"
}

# Device paths, fixed by name.
L=(/dev/nullb_bench_l0 /dev/nullb_bench_l1 /dev/nullb_bench_l2)
M=(/dev/nullb_bench_m0 /dev/nullb_bench_m1 /dev/nullb_bench_m2)
W=(/dev/mapper/benchw0 /dev/mapper/benchw1 /dev/mapper/benchw2)
PARENT=/dev/nullb_bench_p
VOL=/dev/mapper/bench

# nb_blank NAME SIZE_MIB: /dev/NAME of that size, blank: discarded (which
# frees null_blk's memory and reads back zeros) or made anew.
nb_blank() {
	local name=$1 mib=$2
	if [ -b "/dev/$name" ] && [ "$(cat "$NB/$name/size" 2>/dev/null)" = "$mib" ]; then
		blkdiscard "/dev/$name" || fail "blkdiscard /dev/$name failed"
	else
		nb_create "$name" "$mib"
	fi
}

# fresh_legs: three blank legs and three blank metadata devices.
fresh_legs() {
	local i
	for i in 0 1 2; do
		nb_blank "nullb_bench_l$i" "$LEG_MIB"
		nb_blank "nullb_bench_m$i" "$META_MIB"
	done
}

dm_remove_bench() {
	local n
	for n in bench benchw0 benchw1 benchw2; do
		_dm_remove "$n" || fail "cannot remove $n"
	done
}

# wrap_legs: benchw0..2, dm-linear over the whole legs (fault injection).
wrap_legs() {
	local i
	for i in 0 1 2; do
		dmsetup create "benchw$i" --table "0 $(blockdev --getsz "${L[$i]}") linear ${L[$i]} 0" ||
			fail "cannot create benchw$i"
	done
}

# wrapper_set I linear|error
wrapper_set() {
	local i=$1 table len
	len=$(blockdev --getsz "${L[$i]}")
	case $2 in
	linear) table="0 $len linear ${L[$i]} 0" ;;
	error) table="0 $len error" ;;
	esac
	dmsetup suspend --nolockfs "benchw$i" || fail "suspend benchw$i failed"
	dmsetup load "benchw$i" --table "$table" || fail "load benchw$i failed"
	dmsetup resume "benchw$i" || fail "resume benchw$i failed"
}

# target_table TARGET SECTORS LEG0 LEG1 LEG2 [META0 META1 META2]
target_table() {
	local t=$1 s=$2
	case $t in
	crucible) echo "0 $s crucible $3 $4 $5 -" ;;
	raid1) echo "0 $s raid raid1 4 0 nosync region_size $REGION 3 $6 $3 $7 $4 $8 $5" ;;
	mirror) echo "0 $s mirror core 2 $REGION nosync 3 $3 0 $4 0 $5 0" ;;
	linear) echo "0 $s linear $3 0" ;;
	*) fail "unknown target $t" ;;
	esac
}

# The legs are blank, so the mirrors start in sync (nosync is the truth).
create_target() {
	local t=$1 name=$2 table
	shift 2
	table=$(target_table "$t" "$@")
	dmsetup create "$name" --table "$table" || fail "cannot create $t: $table"
	on_exit _dm_remove "$name"
}

# Legs of a healthy volume, from its status: "AAA" for every mirror.
health() {
	local -a w
	read -r -a w < <(dmsetup status "$1")
	case ${w[2]} in
	crucible) echo "${w[7]}" ;;
	raid) echo "${w[5]}" ;;
	mirror) echo "${w[$((6 + w[3]))]}" ;;
	linear) echo A ;;
	esac
}

raid_synced() {
	local -a w
	read -r -a w < <(dmsetup status "$1")
	[ "${w[5]}" = AAA ] && [ "${w[7]}" = idle ] && [ "${w[6]%/*}" = "${w[6]#*/}" ]
}

crucible_synced() {
	local -a w
	read -r -a w < <(dmsetup status "$1")
	[ "${w[7]}" = AAA ] && [ "${w[10]}" = idle ] && [ "${w[8]%/*}" = "${w[8]#*/}" ]
}

# wait_for NAME LIMIT CHECK: until CHECK NAME succeeds. Sleeps in `dmsetup
# wait` (both targets raise an event when a resync ends), polling every
# 0.2 s as well.
wait_for() {
	local name=$1 limit=$2 check=$3 end ev
	end=$(($(date +%s) + limit))
	while :; do
		ev=$(dmsetup info -c --noheadings -o events "$name" | tr -d ' ')
		"$check" "$name" && return 0
		[ "$(date +%s)" -lt "$end" ] ||
			fail "$name: not $check after ${limit}s ($(dmsetup status "$name"))"
		timeout 0.2 dmsetup wait "$name" "$ev" >/dev/null 2>&1 || true
	done
}

# Bytes written to a leg and its metadata device so far (block layer).
leg_written() {
	local i=$1 a b
	a=$(awk '{ print $7 }' "/sys/block/nullb_bench_l$i/stat")
	b=$(awk '{ print $7 }' "/sys/block/nullb_bench_m$i/stat")
	echo $(((a + b) * 512))
}

kernel_kib() {
	awk '/^(Slab|VmallocUsed|PageTables|Percpu):/ { s += $2 } END { print s }' /proc/meminfo
}

memfree_kib() {
	awk '/^MemFree:/ { print $2 }' /proc/meminfo
}

# ---- fio

# jobfile DEV SEED
jobfile() {
	local dev=$1 seed=$2 j
	cat <<EOF
[global]
filename=$dev
ioengine=libaio
direct=1
size=${VOL_MIB}M
randseed=$seed
norandommap=1
thread=1
exec_prerun=read -r l </proc/stat && echo "\$l"
exec_postrun=read -r l </proc/stat && echo "\$l"

[seqwrite]
stonewall
rw=write
bs=1M
iodepth=$SEQ_QD
EOF
	for j in "seqread read 1M $SEQ_QD" "randread-qd1 randread 4k 1" \
		"randread-qd32 randread 4k 32" "randwrite-qd1 randwrite 4k 1" \
		"randwrite-qd32 randwrite 4k 32"; do
		# shellcheck disable=SC2086 # four words on purpose
		set -- $j
		cat <<EOF

[$1]
stonewall
rw=$2
bs=$3
iodepth=$4
time_based=1
runtime=$RUNTIME_FIO
EOF
	done
}

# fio_target TARGET REP
fio_target() {
	local t=$1 rep=$2 dir t0 want f
	dir=$OUT/fio/$t/rep$rep
	mkdir -p "$dir"
	fresh_legs
	create_target "$t" bench "$SECTORS" "${L[@]}" "${M[@]}"
	want=AAA
	[ "$t" != linear ] || want=A
	[ "$(health bench)" = "$want" ] || fail "$t is not healthy after create: $(dmsetup status bench)"
	jobfile "$VOL" $((1000 + rep)) >"$dir/jobs.fio"
	echo "--- $t, repetition $rep: $(dmsetup status bench)"
	t0=$(now)
	# exec_prerun/postrun write <job>.prerun.txt / .postrun.txt in the cwd.
	(cd "$dir" && fio --output-format=json --output=fio.json jobs.fio) ||
		fail "fio on $t failed (see $dir)"
	echo "    fio done in $(elapsed "$t0")s; $(dmsetup status bench)"
	if grep -qE '"error" : [1-9]' "$dir/fio.json"; then
		fail "fio reports errors on $t (see $dir/fio.json)"
	fi
	if [ "$t" = crucible ]; then
		expect_status bench legs AAA
		expect_counter bench mismatches -eq 0
		for f in err0 err1 err2; do expect_counter bench "$f" -eq 0; done
	else
		[ "$t" = linear ] || [ "$(health bench)" = AAA ] ||
			fail "$t lost a leg during fio: $(dmsetup status bench)"
	fi
	dmsetup status bench >"$dir/status"
	_dm_remove bench
}

# ---- resync after an outage of leg 1

# outage_write DEV COUNT STEP: OUTAGE_KIB at the start of COUNT regions,
# STEP regions apart, from region 0 on.
outage_write() {
	local dev=$1 count=$2 step=$3
	fio --name=outage --filename="$dev" --rw=write --bs="${OUTAGE_KIB}k" \
		--ioengine=libaio --iodepth=4 --direct=1 --zonemode=strided \
		--zonerange="${step}M" --zonesize="${OUTAGE_KIB}k" \
		--size="$((count * step))M" --io_size="$((count * OUTAGE_KIB))k" \
		--output=outage.out || { cat outage.out; fail "outage writes on $dev failed"; }
}

# resync HOW PCT REP: HOW is restore or reassembly (crucible) or raid1.
resync() {
	local how=$1 pct=$2 rep=$3 count step w0 w1 w2 t0 secs stale copied=-1 target=crucible
	count=$(((NR_REGIONS * pct + 50) / 100))
	[ "$count" -ge 1 ] || count=1
	step=$((NR_REGIONS / count))
	fresh_legs
	wrap_legs
	on_exit dm_remove_bench
	if [ "$how" = raid1 ]; then
		target=raid1
		create_target raid1 bench "$SECTORS" "${W[@]}" "${M[@]}"
		wrapper_set 1 error
		outage_write "$VOL" "$count" "$step"
		[ "$(health bench)" = ADA ] || fail "dm-raid did not fail leg 1: $(dmsetup status bench)"
		wrapper_set 1 linear
		w0=$(leg_written 1)
		t0=$(now)
		# A second resume re-adds the failed leg; its bitmap says what to copy.
		dmsetup suspend bench || fail "suspend of dm-raid failed"
		dmsetup resume bench || fail "resume of dm-raid failed"
		wait_for bench 900 raid_synced
		secs=$(elapsed "$t0")
	else
		create_target crucible bench "$SECTORS" "${W[@]}"
		msg bench fail_leg 1
		outage_write "$VOL" "$count" "$step"
		stale=$(($(status_field bench nr_regions) - $(status_field bench in_sync)))
		[ "$stale" -eq "$count" ] ||
			fail "$count regions written during the outage, but $stale out of sync"
		if [ "$how" = restore ]; then
			msg bench reset_counters
			w0=$(leg_written 1)
			t0=$(now)
			msg bench restore_leg 1
		else
			_dm_remove bench
			w0=$(leg_written 1)
			t0=$(now)
			dmsetup create bench --table "$(target_table crucible "$SECTORS" "${W[@]}")" ||
				fail "re-creating the volume failed"
		fi
		wait_for bench 900 crucible_synced
		secs=$(elapsed "$t0")
		copied=$(status_field bench repaired)
		expect_counter bench mismatches -eq 0
	fi
	w1=$(leg_written 1)
	# What the next commits write to the leg counts too.
	sleep "$SETTLE"
	w2=$(leg_written 1)
	echo "--- resync $how, $pct% ($count regions): ${secs}s, leg 1 took $(((w1 - w0) >> 10)) KiB" \
		"($(((w2 - w0) >> 10)) KiB ${SETTLE}s later), repaired_blocks $copied"
	record resync target=$target how="$how" pct="$pct" rep="$rep" regions="$count" \
		nr_regions="$NR_REGIONS" written_bytes=$((count * OUTAGE_KIB * 1024)) seconds="$secs" \
		repaired_blocks="$copied" leg_bytes=$((w1 - w0)) leg_bytes_settled=$((w2 - w0))
	dm_remove_bench
}

# ---- hydration

hydrate() {
	local rep=$1 t0 secs h tot
	fresh_legs
	# (a) the reference: a plain copy of the parent onto one leg.
	drop_caches
	t0=$(now)
	dd if="$PARENT" of="${L[0]}" bs=1M iflag=direct oflag=direct status=none || fail "dd failed"
	secs=$(elapsed "$t0")
	record hydrate what=dd rep="$rep" mib="$HYD_MIB" seconds="$secs"
	echo "--- dd of the parent onto a leg: ${secs}s"
	# (b) a fresh volume made from the parent, until hydration is done.
	fresh_legs
	drop_caches
	t0=$(now)
	dmsetup create bench --table "0 $((HYD_MIB * 2048)) crucible ${L[*]} $PARENT" ||
		fail "cannot create a volume from the parent"
	on_exit _dm_remove bench
	wait_for bench 900 hydrated
	secs=$(elapsed "$t0")
	h=$(status_field bench hydrated)
	tot=$(status_field bench hydration_total)
	[ "$h" = "$tot" ] || fail "hydration done at $h/$tot"
	expect_counter bench parent_errors -eq 0
	record hydrate what=hydration rep="$rep" mib="$HYD_MIB" seconds="$secs"
	echo "--- hydration: ${secs}s ($(dmsetup status bench))"
	cmp -s -n $((HYD_MIB << 20)) "$VOL" "$PARENT" || fail "the hydrated volume differs from its parent"
	_dm_remove bench
}

hydrated() {
	[ "$(status_field "$1" hydration_state)" = "done" ]
}

# ---- a big volume over sparse legs

big() {
	local rep=$1 t i blocks regions meta data_start leg_mib k0 f0 k1 f1 t0 ms
	blocks=$((BIG_GIB << 18))
	regions=$((blocks / 256))
	# Leg size from the on-disk geometry (Documentation/on-disk-format.rst).
	meta=$((2 + (regions + 127) / 128 + (blocks + 255) / 256))
	data_start=$(((meta + 255) / 256 * 256))
	leg_mib=$(((data_start + blocks) / 256))
	for t in crucible raid1 mirror; do
		# Made anew: discarding a 1 TiB null_blk device takes minutes.
		for i in 0 1 2; do
			nb_create "nullb_bench_l$i" "$leg_mib"
			nb_blank "nullb_bench_m$i" "$META_MIB"
		done
		sync
		echo 3 >/proc/sys/vm/drop_caches
		sleep "$PAUSE"
		k0=$(kernel_kib)
		f0=$(memfree_kib)
		t0=$(date +%s%N)
		create_target "$t" bench $((blocks * 8)) "${L[@]}" "${M[@]}"
		ms=$((($(date +%s%N) - t0) / 1000000))
		sleep "$PAUSE"
		k1=$(kernel_kib)
		f1=$(memfree_kib)
		[ "$(health bench)" = AAA ] || fail "$t of ${BIG_GIB} GiB is not healthy: $(dmsetup status bench)"
		echo "--- $t, ${BIG_GIB} GiB: create ${ms} ms, kernel memory +$((k1 - k0)) KiB, MemFree -$((f0 - f1)) KiB"
		record big target="$t" rep="$rep" gib="$BIG_GIB" create_ms="$ms" \
			kernel_kib=$((k1 - k0)) memfree_kib=$((f0 - f1))
		_dm_remove bench
	done
}

# ---- main

modprobe null_blk nr_devices=0 || fail "modprobe null_blk failed"
modprobe dm-raid || fail "modprobe dm-raid failed"
modprobe raid1 || fail "modprobe raid1 failed"
modprobe dm-mirror || fail "modprobe dm-mirror failed"
need_crucible
on_exit nb_destroy_all

{
	echo "mode=$MODE"
	echo "reps=$REPS"
	echo "runtime=$RUNTIME_FIO"
	echo "volume_mib=$VOL_MIB"
	echo "hydration_mib=$HYD_MIB"
	echo "big_gib=$BIG_GIB"
	echo "pcts=$PCTS"
	echo "outage_kib_per_region=$OUTAGE_KIB"
	echo "settle_s=$SETTLE"
	echo "region_kib=$((REGION / 2))"
	echo "seq_iodepth=$SEQ_QD"
	echo "legs=null_blk memory_backed blocksize=4096 no_sched=1 discard=1, ${LEG_MIB} MiB"
	echo "kernel=$(uname -r)"
	echo "fio=$(fio --version)"
	echo "vcpus=$(nproc)"
	echo "mem_total_kib=$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)"
	echo "cpu_model=$(sed -n '/^model name/{s/^model name[[:space:]]*: //p;q}' /proc/cpuinfo)"
	echo "clk_tck=$(getconf CLK_TCK)"
	echo "crucible_srcversion=$(cat /sys/module/dm_crucible/srcversion 2>/dev/null || echo unknown)"
	echo "cmdline=$(cat /proc/cmdline)"
} >"$OUT/info.txt"
echo "bench: mode $MODE, $REPS repetition(s), $RUNTIME_FIO per fio job, ${VOL_MIB} MiB volumes," \
	"$NR_REGIONS regions, legs ${LEG_MIB} MiB (null_blk)"

T_START=$(now)
# section NAME: note the time the previous section took.
T_SECTION=$T_START
SECTION=
section() {
	if [ -n "$SECTION" ]; then
		echo "${SECTION}_seconds=$(elapsed "$T_SECTION")" >>"$OUT/info.txt"
	fi
	SECTION=$1
	T_SECTION=$(now)
	[ -z "${2:-}" ] || step "$2"
}

section fio "fio"
if [ "$WARMUP" -gt 0 ]; then
	# Not measured: the first fio run of a boot is slow (fio and its
	# libraries come over 9p, caches are cold), whichever target it meets.
	fresh_legs
	create_target linear bench "$SECTORS" "${L[@]}"
	fio --name=warmup --filename="$VOL" --ioengine=libaio --direct=1 --rw=randrw \
		--bs=4k --iodepth=8 --size="${VOL_MIB}M" --time_based --runtime="${WARMUP}s" \
		--output=/dev/null || fail "warm-up fio failed"
	_dm_remove bench
fi
for ((rep = 1; rep <= REPS; rep++)); do
	for ((k = 0; k < ${#TARGETS[@]}; k++)); do
		fio_target "${TARGETS[$(((k + rep - 1) % ${#TARGETS[@]}))]}" "$rep"
	done
done
section resync "resync after an outage of leg 1"
for ((rep = 1; rep <= REPS; rep++)); do
	for pct in $PCTS; do
		if [ $((rep % 2)) -eq 1 ]; then order=(restore reassembly raid1); else order=(raid1 reassembly restore); fi
		for how in "${order[@]}"; do
			resync "$how" "$pct" "$rep"
		done
	done
done

section hydration "hydration"
nb_create nullb_bench_p "$HYD_MIB"
dd if=/dev/urandom of="$PARENT" bs=1M count="$HYD_MIB" oflag=direct status=none || fail "cannot fill the parent"
blockdev --setro "$PARENT"
for ((rep = 1; rep <= REPS; rep++)); do
	hydrate "$rep"
done
nb_destroy nullb_bench_p

section big "a ${BIG_GIB} GiB volume over sparse legs"
nb_destroy_all
for ((rep = 1; rep <= REPS; rep++)); do
	big "$rep"
done
nb_destroy_all

section end
echo "total_seconds=$(elapsed "$T_START")" >>"$OUT/info.txt"
echo "bench: done in $(elapsed "$T_START")s, figures in $OUT"
