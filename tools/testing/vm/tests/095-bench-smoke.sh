#!/bin/bash
# vm-timeout: 600
# The benchmark (`make bench`, tools/bench/bench-vm.sh) in its smallest
# setting - 8 MiB volumes, one repetition, 200 ms per fio job - so that it
# cannot rot: every section runs (fio on crucible, dm-raid raid1, dm-mirror
# and dm-linear; resync after an outage; hydration; a 16 GiB volume over
# sparse legs), and tools/bench/report.py --check must find every figure,
# non-zero. The figures themselves mean nothing at this size; they are kept
# in the results directory ($VM_TEST_NAME.bench/). About a minute on an idle
# host; the time limit allows for a host shared with other VMs.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"

BENCH=$CRUCIBLE_REPO/tools/bench
out=$VM_RESULTS/$VM_TEST_NAME.bench
rm -rf "$out"
BENCH_MODE=smoke BENCH_OUT=$out bash "$BENCH/bench-vm.sh" || fail "tools/bench/bench-vm.sh failed"
python3 "$BENCH/report.py" --check "$out" ||
	fail "tools/bench/report.py: figures missing (see $out)"
