#!/bin/bash
# vm-timeout: 600
# A 1 TiB volume over three sparse legs: creating it writes only superblocks
# (not the 4 GiB record area nor the 32 MiB region table of each leg), using
# it writes metadata only where data was written, and the module's memory
# stays bounded (dm-bufio pages metadata in and out).  Prints the figures:
# create time, kernel memory taken by the volume, bytes allocated per leg.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=SCRIPTDIR/../lib-crucible.sh
. "$(dirname "$0")/../lib-crucible.sh"

VOLUME_BLOCKS=$((1 << 28))			# 1 TiB in 4 KiB blocks
SECTORS=$((VOLUME_BLOCKS * 8))
REGIONS=$((VOLUME_BLOCKS / 256))		# 1 MiB regions
# Leg size from the on-disk geometry: superblocks, region table, records,
# data area aligned to 1 MiB (Documentation/on-disk-format.rst).
META_BLOCKS=$((2 + (REGIONS + 127) / 128 + (VOLUME_BLOCKS + 255) / 256))
DATA_START=$(((META_BLOCKS + 255) / 256 * 256))
LEG_MIB=$(((DATA_START + VOLUME_BLOCKS) / 256))
VOL=/dev/mapper/big

# kernel_kib: memory the kernel holds outside the page cache (slab, vmalloc,
# page tables, percpu), in KiB.
kernel_kib() {
	awk '/^(Slab|VmallocUsed|PageTables|Percpu):/ { s += $2 } END { print s }' /proc/meminfo
}

# allocated_kib FILE: what a sparse leg file really holds.
allocated_kib() {
	du -k "$1" | cut -f1
}

need_crucible
legs=()
for i in 0 1 2; do
	make_loop_leg "legs[$i]" $LEG_MIB
done
files=()
for i in 0 1 2; do
	files[i]=$(losetup -nO BACK-FILE "${legs[i]}")
done

sync
echo 3 >/proc/sys/vm/drop_caches
before=$(kernel_kib)
step "create a 1 TiB volume over three ${LEG_MIB} MiB sparse legs"
t0=$(date +%s%N)
crucible_create big $SECTORS "${legs[@]}"
t1=$(date +%s%N)
created=$(kernel_kib)
dmsetup status big
for i in 0 1 2; do
	a=$(allocated_kib "${files[i]}")
	echo "leg $i allocated after create: ${a} KiB"
	[ "$a" -lt 1024 ] || fail "creating the volume wrote ${a} KiB on leg $i: metadata was written wholesale"
done

step "write 1 MiB at 16 places spread over the volume, each its own data, read back"
# Each chunk different, every 4 KiB block of it starting with its own
# volume offset: a write or a read that lands at the wrong place (an
# offset wrapping at 2^32 blocks, a region number truncated) shows as the
# wrong chunk or as data where none was written.
python3 - "$TMPDIR" <<'PY'
import os, sys
for k in range(16):
    off = (k * 65536 + 7) << 20
    with open(os.path.join(sys.argv[1], "chunk%d" % k), "wb") as f:
        for b in range(256):
            tag = b"crucible 090 offset %016x " % (off + b * 4096)
            f.write(tag + os.urandom(4096 - len(tag)))
PY
for k in $(seq 0 15); do
	dd if="$TMPDIR/chunk$k" of=$VOL bs=1M seek=$((k * 65536 + 7)) count=1 oflag=direct conv=fsync \
		status=none || fail "write at chunk $k failed"
done
drop_caches
for k in $(seq 0 15); do
	dd if=$VOL of="$TMPDIR/back" bs=1M skip=$((k * 65536 + 7)) count=1 iflag=direct status=none ||
		fail "read at chunk $k failed"
	cmp -s "$TMPDIR/chunk$k" "$TMPDIR/back" || fail "chunk $k read back wrong"
	# Beside it, never written: zeros.
	dd if=$VOL of="$TMPDIR/back" bs=1M skip=$((k * 65536 + 8)) count=1 iflag=direct status=none ||
		fail "read after chunk $k failed"
	cmp -s "$TMPDIR/back" <(head -c 1048576 /dev/zero) ||
		fail "the MiB after chunk $k, never written, does not read as zeros"
done
used=$(kernel_kib)
dmsetup status big
expect_status big legs AAA
for i in 0 1 2; do
	a=$(allocated_kib "${files[i]}")
	echo "leg $i allocated after 16 MiB of writes: ${a} KiB"
	# 16 MiB of data plus the metadata blocks those writes touched.
	[ "$a" -lt $((24 * 1024)) ] || fail "16 MiB of writes allocated ${a} KiB on leg $i"
done

create_ms=$(((t1 - t0) / 1000000))
echo "FIGURE 1TiB create time: ${create_ms} ms"
echo "FIGURE 1TiB kernel memory after create: $((created - before)) KiB"
echo "FIGURE 1TiB kernel memory after 16 MiB of writes: $((used - before)) KiB"
# Region state is 4 bytes per region (4 MiB here); dm-bufio's cache is
# capped by the kernel (a few percent of RAM): far below the 4 GiB of
# records the legs hold.
[ $((used - before)) -lt $((128 * 1024)) ] ||
	fail "the volume holds $((used - before)) KiB of kernel memory"
crucible_remove big
