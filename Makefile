# dm-crucible top-level build.
#
#   make            module (dm-crucible.ko), userland programs and the
#                   test tools the VM tests run in the guest
#   make module     the kernel module only, against KDIR
#   make userland   cruciblectl and crucible-agent
#   make lint       checkpatch --strict and sparse over the module
#   make check      build, lint, native tests, KUnit and VM tests
#   make demo       boot a VM and show a volume at work
#   make bench      benchmark beside dm-raid raid1, dm-mirror and dm-linear
#                   in a VM (about half an hour); bench-quick: a few minutes;
#                   bench-smoke: the VM test that runs it in its smallest setting

KVER ?= $(shell ls -1 /lib/modules 2>/dev/null | sort -V | tail -n 1)
KDIR ?= /lib/modules/$(KVER)/build
export KVER KDIR

TESTTOOLS := tools/testing/helpers tools/testing/replay-log tools/testing/crash

.PHONY: all module userland testtools lint check demo clean unit kunit vm

all: module userland testtools

module:
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

userland:
	$(MAKE) -C userland

# The guest's root is the host's, read-only: build what the VM tests run.
testtools:
	for d in $(TESTTOOLS); do $(MAKE) -C $$d || exit 1; done

lint:
	scripts/lint

unit:
	$(MAKE) -C userland test
	$(MAKE) -C tools/testing/replay-log test

kunit:
	tools/testing/kunit/run

vm: all
	tools/testing/vm/run

check:
	tools/testing/check

demo: all
	tools/testing/vm/demo

.PHONY: bench bench-quick
bench: all
	tools/bench/bench

bench-quick: all
	tools/bench/bench --quick

.PHONY: bench-smoke
bench-smoke: all
	tools/testing/vm/run 095-bench-smoke

clean:
	-$(MAKE) -C $(KDIR) M=$(CURDIR) clean
	-$(MAKE) -C userland clean
	-for d in $(TESTTOOLS); do $(MAKE) -C $$d clean; done
