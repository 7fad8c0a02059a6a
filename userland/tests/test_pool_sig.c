// SPDX-License-Identifier: GPL-2.0
/*
 * pool init refuses files that carry something: filesystems, swap, LUKS,
 * LVM, partition tables (made with the real tools), another pool, a
 * crucible leg.  It says what it found, writes nothing, and --force
 * overrides it.  A kind whose tool is not installed is skipped, saying so.
 */
#include "pool_fixture.h"

#include <crucible/format.h>

#include "../lib/blkprobe.h"
#include "../lib/legfmt.h"

static int setup(void **state)
{
	struct pool_fixture *fx;

	if (pool_fixture_setup(state, sizeof(*fx), "dev.img"))
		return -1;
	fx = *state;
	/* mkfs.xfs wants 300 MiB; the file is sparse. */
	test_make_file(fx->path, 320 * MiB);
	return 0;
}

static bool have_tool(const char *tool)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd),
		 "PATH=$PATH:/sbin:/usr/sbin command -v %s >/dev/null 2>&1", tool);
	return !system(cmd);
}

/* Run @fmt (a shell command, %s = the file) quietly; fail if it fails. */
static void run_tool(struct pool_fixture *fx, const char *fmt)
{
	char cmd[1024], log[600];
	int rc;

	snprintf(log, sizeof(log), "%s/tool.log", fx->dir);
	snprintf(cmd, sizeof(cmd), "PATH=$PATH:/sbin:/usr/sbin; cd '%s' && (", fx->dir);
	snprintf(cmd + strlen(cmd), sizeof(cmd) - strlen(cmd), fmt, fx->path);
	snprintf(cmd + strlen(cmd), sizeof(cmd) - strlen(cmd),
		 ") >'%s' 2>&1", log);
	rc = system(cmd);
	if (rc)
		fail_msg("'%s' failed (%d); see %s", cmd, rc, log);
}

static uint64_t file_sum(const char *path)
{
	uint8_t *buf = malloc(MiB);
	uint64_t h = 0, off;
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	assert_non_null(buf);
	/* Signatures live in the first and last megabytes. */
	for (off = 0; off < 8 * MiB; off += MiB) {
		assert_int_equal(pread(fd, buf, MiB, (off_t)off), (ssize_t)MiB);
		h = crucible_xxh64(buf, MiB, h);
	}
	assert_int_equal(pread(fd, buf, MiB, (off_t)(319 * MiB)), (ssize_t)MiB);
	h = crucible_xxh64(buf, MiB, h);
	close(fd);
	free(buf);
	return h;
}

/*
 * Make the signature with @tool (@cmd), check that pool init refuses it
 * naming @what and changes nothing, then that --force takes it over.
 */
static void refused(struct pool_fixture *fx, const char *tool, const char *cmd,
		    const char *what)
{
	struct cru_pool_init_opts o = { 0 };
	struct cru_pool_info info;
	struct cru_pool *p;
	struct cru_err err;
	char found[256];
	uint64_t sum;
	int fd;

	if (tool && !have_tool(tool)) {
		test_skip("%s is not installed: cannot make this signature", tool);
	}
	run_tool(fx, cmd);
	sum = file_sum(fx->path);
	assert_int_equal(cru_pool_init(fx->path, &o, &info, &err), -EEXIST);
	printf("# %s\n", err.msg);
	assert_contains(err.msg, fx->path);
	assert_contains(err.msg, what);
	assert_contains(err.msg, "--force");
	assert_int_equal(file_sum(fx->path), sum);
	assert_int_equal(cru_pool_open(fx->path, NULL, &p, &err), -EMEDIUMTYPE);

	o.force = true;
	o.name = "forced";
	if (cru_pool_init(fx->path, &o, &info, &err))
		fail_msg("--force: %s", err.msg);
	cru_pool_close(test_pool_open(fx->path));
	/* What probes the device now is the pool. */
	fd = open(fx->path, O_RDONLY);
	assert_int_equal(cru_blkprobe_signature(fd, fx->path, found, sizeof(found),
						&err), 1);
	close(fd);
	assert_contains(found, "a crucible pool 'forced'");
}

static void ext4_is_refused(void **state)
{
	refused(*state, "mkfs.ext4", "mkfs.ext4 -q -F -L data '%s'",
		"a filesystem (TYPE=ext4) labelled 'data'");
}

static void xfs_is_refused(void **state)
{
	refused(*state, "mkfs.xfs", "mkfs.xfs -q -f '%s'", "a filesystem (TYPE=xfs)");
}

static void btrfs_is_refused(void **state)
{
	refused(*state, "mkfs.btrfs", "mkfs.btrfs -q -f '%s'", "a filesystem (TYPE=btrfs)");
}

static void swap_is_refused(void **state)
{
	refused(*state, "mkswap", "mkswap '%s'", "swap space");
}

static void luks_is_refused(void **state)
{
	refused(*state, "cryptsetup",
		"printf secret > key && cryptsetup luksFormat --batch-mode --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --key-file key '%s'",
		"a LUKS encrypted volume");
}

static void gpt_partition_table_is_refused(void **state)
{
	refused(*state, "sfdisk", "echo 'label: gpt' | sfdisk -q '%s'",
		"a gpt partition table");
}

static void dos_partition_table_is_refused(void **state)
{
	refused(*state, "sfdisk", "echo ',,83' | sfdisk -q --label dos '%s'",
		"a dos partition table");
}

/* pvcreate only takes block devices: it writes through a loop device. */
static void lvm_physical_volume_is_refused(void **state)
{
	struct pool_fixture *fx = *state;
	char cmd[1024];

	if (!have_tool("pvcreate") || !have_tool("losetup")) {
		test_skip("pvcreate or losetup is not installed");
	}
	snprintf(cmd, sizeof(cmd),
		 "PATH=$PATH:/sbin:/usr/sbin; cd '%s' && losetup -f --show '%s' > loopdev 2>/dev/null",
		 fx->dir, fx->path);
	if (system(cmd)) {
		test_skip("no loop device available (not root, or no loop driver): cannot run pvcreate");
	}
	refused(fx, NULL,
		"d=$(cat loopdev); pvcreate -q --config 'devices { obtain_device_list_from_udev=0 } activation { udev_sync=0 udev_rules=0 }' $d; rc=$?; losetup -d $d; exit $rc",
		"an LVM physical volume (TYPE=LVM2_member)");
}

static void another_pool_is_refused(void **state)
{
	struct pool_fixture *fx = *state;
	struct cru_pool_init_opts o = { .name = "first" };
	struct cru_pool_info info;
	struct cru_err err;

	assert_int_equal(cru_pool_init(fx->path, &o, &info, &err), 0);
	o.name = "second";
	assert_int_equal(cru_pool_init(fx->path, &o, &info, &err), -EEXIST);
	assert_contains(err.msg, "carries a crucible pool 'first'");
	/* Even with its first superblock copy gone. */
	test_pwrite(fx->path, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16, 0);
	assert_int_equal(cru_pool_init(fx->path, &o, &info, &err), -EEXIST);
	assert_contains(err.msg, "crucible pool 'first'");
	o.force = true;
	assert_int_equal(cru_pool_init(fx->path, &o, &info, &err), 0);
	assert_string_equal(info.name, "second");
}

static void a_crucible_leg_is_refused(void **state)
{
	struct pool_fixture *fx = *state;
	struct cru_format_opts fo = { .volume_bytes = 16 * MiB };
	struct cru_format_result res;
	struct cru_pool_info info;
	char legs[2][600], uuid[37];
	const char *paths[3] = { fx->path, legs[0], legs[1] };
	struct cru_err err;
	int i;

	for (i = 0; i < 2; i++) {
		snprintf(legs[i], sizeof(legs[i]), "%s/leg%d", fx->dir, i + 1);
		test_make_file(legs[i], 32 * MiB);
	}
	if (cru_format_legs(paths, &fo, &res, &err))
		fail_msg("format: %s", err.msg);
	cru_uuid_str(res.uuid, uuid);
	assert_int_equal(cru_pool_init(fx->path, NULL, &info, &err), -EEXIST);
	assert_contains(err.msg, "a crucible leg (leg 0 of volume");
	assert_contains(err.msg, uuid);
}

static void blank_and_unrecognised_data_are_accepted(void **state)
{
	struct pool_fixture *fx = *state;
	struct cru_pool_info info;
	struct cru_err err;
	uint8_t junk[4096];

	if (cru_pool_init(fx->path, NULL, &info, &err))
		fail_msg("blank: %s", err.msg);
	assert_string_equal(info.name, "dev.img");
	test_make_file(fx->path, 64 * MiB);
	memset(junk, 0x37, sizeof(junk));
	test_pwrite(fx->path, junk, sizeof(junk), 8192);
	if (cru_pool_init(fx->path, NULL, &info, &err))
		fail_msg("unrecognised data: %s", err.msg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(ext4_is_refused, setup, pool_fixture_teardown),
		cmocka_unit_test_setup_teardown(xfs_is_refused, setup, pool_fixture_teardown),
		cmocka_unit_test_setup_teardown(btrfs_is_refused, setup, pool_fixture_teardown),
		cmocka_unit_test_setup_teardown(swap_is_refused, setup, pool_fixture_teardown),
		cmocka_unit_test_setup_teardown(luks_is_refused, setup, pool_fixture_teardown),
		cmocka_unit_test_setup_teardown(gpt_partition_table_is_refused, setup, pool_fixture_teardown),
		cmocka_unit_test_setup_teardown(dos_partition_table_is_refused, setup, pool_fixture_teardown),
		cmocka_unit_test_setup_teardown(lvm_physical_volume_is_refused, setup, pool_fixture_teardown),
		cmocka_unit_test_setup_teardown(another_pool_is_refused, setup, pool_fixture_teardown),
		cmocka_unit_test_setup_teardown(a_crucible_leg_is_refused, setup, pool_fixture_teardown),
		cmocka_unit_test_setup_teardown(blank_and_unrecognised_data_are_accepted, setup, pool_fixture_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
