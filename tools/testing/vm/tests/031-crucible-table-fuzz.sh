#!/bin/bash
# vm-timeout: 300
# Fuzzing the table and the messages: a few hundred random argument lists
# (leg paths good and bad, numbers, option names and values, in random
# order and counts) fed to `dmsetup create`. Each one either fails - and
# leaves no device - or succeeds with a volume whose status and table read
# back, and whose table creates the same volume again. Then random messages
# to a live volume: each is taken or refused, and the volume still serves
# its data. The harness fails the test on any oops or warning in the kernel
# log. The seed is fixed, so that `make check` is repeatable; to fuzz more,
# pass crucible_fuzz_seed=N, crucible_fuzz_iterations=N and
# crucible_fuzz_messages=N on the guest's kernel command line (VM_CMDLINE),
# or CRUCIBLE_FUZZ_SEED, ... in the environment of a run from --shell.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=SCRIPTDIR/../lib-crucible.sh
. "$(dirname "$0")/../lib-crucible.sh"

# The host's environment does not reach the guest, its kernel command line
# does: VM_CMDLINE="crucible_fuzz_seed=7 crucible_fuzz_iterations=2000".
SEED=${CRUCIBLE_FUZZ_SEED:-$(cmdline_value crucible_fuzz_seed)}
SEED=${SEED:-20261122}
ITERATIONS=${CRUCIBLE_FUZZ_ITERATIONS:-$(cmdline_value crucible_fuzz_iterations)}
ITERATIONS=${ITERATIONS:-200}
MESSAGES=${CRUCIBLE_FUZZ_MESSAGES:-$(cmdline_value crucible_fuzz_messages)}
MESSAGES=${MESSAGES:-100}
VOLUME_MIB=16
SECTORS=$((VOLUME_MIB * 2048))
RANDOM=$SEED
echo "seed $SEED, $ITERATIONS tables, $MESSAGES messages"

need_crucible
legs=()
make_loop_legs legs $VOLUME_MIB
# Volumes the loop below leaves behind when it fails half-way.
fuzz_cleanup() {
	local name
	for name in fz fz2; do
		[ ! -e "/dev/mapper/$name" ] || dmsetup remove --force "$name"
	done
}
on_exit fuzz_cleanup

# blank_legs: zero the legs again, so that the next tables meet a new volume.
blank_legs() {
	local leg
	for leg in "${legs[@]}"; do
		dd if=/dev/zero of="$leg" bs=1M count=$(($(blockdev --getsize64 "$leg") >> 20)) \
			oflag=direct status=none || fail "cannot zero $leg"
	done
}

majmin() {
	printf '%d:%d' "0x$(stat -c %t "$1")" "0x$(stat -c %T "$1")"
}

# A parent image: tables that name it make volumes on it (or are refused
# once the legs were made without it, or still need it).
parent=''
make_loop_leg parent 4
dd if=/dev/urandom of="$parent" bs=1M count=4 oflag=direct status=none || fail "cannot fill $parent"

# The word pools, used through pick, by name.
# shellcheck disable=SC2034
PATHS=("${legs[@]}" "${legs[@]}" "${legs[@]}" /dev/nonexistent /dev/null - "$parent" "$(majmin "${legs[0]}")"
	"$(majmin "${legs[2]}")" 0:0 7:255 /dev/mapper/fz /dev/mapper/control /dev
	"$(printf 'p%.0s' $(seq 1 300))")
# shellcheck disable=SC2034
NUMBERS=(0 1 2 3 4 7 8 15 16 17 64 100 127 128 129 256 1024 2048 4096 65536 2097152 2097153
	4194304 4294967295 4294967296 9223372036854775807 18446744073709551615
	18446744073709551616 -1 -2048 0x800 1e3 +5 007)
# shellcheck disable=SC2034
KEYS=(generation region_size owner replace_leg repair repair_throttle read_policy commit_period
	GENERATION Region_Size parent hydrate foo generation region_size replace_leg hydration
	hydration_throttle)
# shellcheck disable=SC2034
VALUES=(auto manual round_robin least_pending AUTO Manual x "$(printf 'o%.0s' $(seq 1 80))" me on
	off)
# shellcheck disable=SC2034
LENGTHS=("$SECTORS" "$SECTORS" "$SECTORS" "$SECTORS" 8 16 $((SECTORS - 8)) $((SECTORS + 8))
	$((SECTORS * 2)) $((SECTORS - 1)) 7 1099511627776 $((SECTORS / 2)))
# shellcheck disable=SC2034
MSG_NAMES=(reconcile fail_leg restore_leg fail_leg restore_leg repair_throttle read_policy reset_counters
	hydration hydration_throttle)
# shellcheck disable=SC2034
MSG_WORDS=(reconcile start stop fail_leg restore_leg reset_counters repair_throttle read_policy
	round_robin least_pending 0 1 2 3 -1 100 18446744073709551616 foo RECONCILE Fail_Leg on off)

# The generators work on globals, never in a subshell: $RANDOM must follow
# one sequence from the seed.
W='' ARGS=()

# pick ARRAY: W = one element of ARRAY.
pick() {
	local -n _arr=$1
	W=${_arr[RANDOM % ${#_arr[@]}]}
}

# word: W = a word from any pool.
word() {
	case $((RANDOM % 4)) in
	0) pick PATHS ;;
	1) pick NUMBERS ;;
	2) pick KEYS ;;
	*) pick VALUES ;;
	esac
}

# value KEY: W = a value for option KEY: mostly one that suits it, else
# anything.
value() {
	local -a good
	# shellcheck disable=SC2034 # good is used through pick
	case $1 in
	generation) good=(1 2 5 40 1000 4294967296) ;;
	region_size) good=(128 256 1024 2048 4096 65536 2097152) ;;
	owner) good=(me other crucible-vm x) ;;
	replace_leg) good=(0 1 2) ;;
	repair) good=(auto manual) ;;
	repair_throttle) good=(0 1 100 1000000) ;;
	read_policy) good=(round_robin least_pending) ;;
	commit_period) good=(10 500 1000 60000) ;;
	*) good=(1) ;;
	esac
	if [ $((RANDOM % 3)) -ne 0 ]; then
		pick good
	elif [ $((RANDOM % 2)) -eq 0 ]; then
		pick NUMBERS
	else
		pick VALUES
	fi
}

# random_args: ARGS = a random argument list for the target.
random_args() {
	local n i nopt
	ARGS=()
	case $((RANDOM % 4)) in
	0)	# anything
		n=$((RANDOM % 12))
		for ((i = 0; i < n; i++)); do word; ARGS+=("$W"); done
		;;
	1)	# legs and parent from the path pool, then random words
		for i in 0 1 2 3; do pick PATHS; ARGS+=("$W"); done
		n=$((RANDOM % 8))
		for ((i = 0; i < n; i++)); do word; ARGS+=("$W"); done
		;;
	*)	# the right legs, then option pairs with a count that may be off
		ARGS=("${legs[@]}" -)
		[ $((RANDOM % 4)) -ne 0 ] || ARGS[3]=$parent
		if [ $((RANDOM % 8)) -eq 0 ]; then
			pick PATHS
			ARGS[RANDOM % 4]=$W
		fi
		n=$((RANDOM % 4))
		nopt=$((2 * n))
		case $((RANDOM % 6)) in
		0) nopt=$((nopt + RANDOM % 3 - 1)) ;;
		1) word; nopt=$W ;;
		esac
		ARGS+=("$nopt")
		for ((i = 0; i < n; i++)); do
			pick KEYS; ARGS+=("$W")
			value "$W"; ARGS+=("$W")
		done
		if [ $((RANDOM % 10)) -eq 0 ]; then word; ARGS+=("$W"); fi
		;;
	esac
}

step "random tables"
created=0 refused=0
for ((it = 1; it <= ITERATIONS; it++)); do
	pick LENGTHS
	len=$W
	random_args
	table="0 $len crucible ${ARGS[*]}"
	# A hang shows as the test's time limit; a device left behind as its
	# node (libdevmapper makes and removes the nodes here: no udev).
	if ! dmsetup create fz --table "$table" >/dev/null 2>&1; then
		[ ! -e /dev/mapper/fz ] || fail "#$it: refused table left device fz behind: $table"
		refused=$((refused + 1))
		continue
	fi
	created=$((created + 1))
	echo "#$it accepted: $table"
	line=$(dmsetup status fz) || fail "#$it: no status for: $table"
	[[ $line == *" crucible 1 "* ]] || fail "#$it: odd status '$line' for: $table"
	again=$(dmsetup table fz) || fail "#$it: no table for: $table"
	dd if=/dev/mapper/fz of=/dev/null bs=4k count=1 iflag=direct status=none ||
		fail "#$it: cannot read the volume of: $table"
	crucible_remove fz
	dmsetup create fz2 --table "$again" >/dev/null ||
		fail "#$it: the table the target reported does not create it again: $again"
	crucible_remove fz2
	# A volume of another size than SECTORS would make most later tables
	# fail on the size alone.
	[ "${table#0 "$SECTORS" }" != "$table" ] || blank_legs
	# Legs made on the parent refuse most tables without it, legs made
	# without one refuse it: start half of the next tables on new legs.
	if [[ " ${ARGS[*]} " == *" $parent "* ]] || [ $((RANDOM % 2)) -eq 0 ]; then
		blank_legs
	fi
done
echo "$created tables accepted, $refused refused"
[ $refused -gt 0 ] || fail "every table was accepted: the fuzzer is broken"
[ $created -gt 0 ] || fail "no table was accepted: the fuzzer never reaches a volume"

step "random messages to a live volume"
blank_legs
crucible_create fz "$SECTORS" "${legs[@]}"
random_file data 4
write_image data /dev/mapper/fz
taken=0
for ((it = 1; it <= MESSAGES; it++)); do
	words=()
	case $((RANDOM % 3)) in
	0)	# random words
		n=$((1 + RANDOM % 3))
		for ((i = 0; i < n; i++)); do pick MSG_WORDS; words+=("$W"); done
		;;
	*)	# a real message with a random argument
		pick MSG_NAMES
		read -r -a words <<<"$W"
		pick MSG_WORDS
		words+=("$W")
		;;
	esac
	if dmsetup message fz 0 "${words[@]}" >/dev/null 2>&1; then
		taken=$((taken + 1))
	fi
done
echo "$taken of $MESSAGES messages taken"
[ $taken -gt 0 ] || fail "no message was taken: the fuzzer never reaches the message handlers"
dmsetup status fz
for i in 0 1 2; do
	dmsetup message fz 0 restore_leg $i 2>/dev/null || true
done
msg fz reconcile start
msg fz read_policy round_robin
wait_synced fz
expect_data /dev/mapper/fz data
crucible_remove fz
