#!/bin/bash
# vm-timeout: 10800
# The long mode of tools/testing/vm/tests/080-crash-log-writes.sh: 1000
# crash points (or crash_points=N on the guest kernel's command line).
#
#   make -C tools/testing/crash long [CRASH_POINTS=N] [CRASH_SEED=S]
#   VM_CMDLINE="crash_points=N crash_seed=S" tools/testing/vm/run --live \
#       tools/testing/crash/crash-long.sh
#
# At 1.3 s a point under TCG on an idle machine (3-4 s when other guests
# share it), 1000 points take 25 minutes or more.
set -euo pipefail
# More writes give more distinct crash points to draw from.
grep -qw 'crash_points=[0-9]*' /proc/cmdline || export CRASH_POINTS=${CRASH_POINTS:-1000}
grep -qw 'crash_writes=[0-9]*' /proc/cmdline || export CRASH_WRITES=${CRASH_WRITES:-4000}
exec bash "$(dirname "$0")/../vm/tests/080-crash-log-writes.sh"
