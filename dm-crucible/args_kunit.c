// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for the crucible table's optional arguments
 * (crucible_parse_opt_args): every argument accepted with its value, and
 * every malformed list refused with a message that names the argument.
 */
#include <kunit/test.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "dm-crucible.h"

#define ALL_ARGS \
	"20 generation 3 region_size 4096 owner hostA replace_leg 2 repair manual repair_throttle 50 read_policy least_pending commit_period 250 hydration off hydration_throttle 8"
#define LONG_OWNER \
	"2 owner 0123456789012345678901234567890123456789012345678901234567890123456789"

struct args_case {
	const char *name;
	const char *line;	/* "<#opt_args> <opt_arg>..." */
	const char *error;	/* substring of the error, NULL if accepted */
};

static const struct args_case args_cases[] = {
	{ "none", "0", NULL },
	{ "generation", "2 generation 7", NULL },
	{ "all", ALL_ARGS, NULL },
	{ "odd count", "1 generation", "pairs" },
	{ "count beyond args", "4 generation 3", "optional arguments" },
	{ "count too large", "22 a b c d e f g h i j k l m n o p q r s t u v",
	  "optional arguments" },
	{ "not a count", "generation 3", "optional arguments" },
	{ "unknown", "2 colour blue", "Unknown optional argument" },
	{ "generation zero", "2 generation 0", "generation" },
	{ "generation text", "2 generation seven", "generation" },
	{ "generation negative", "2 generation -1", "generation" },
	{ "region not power of two", "2 region_size 3000", "region_size" },
	{ "region too small", "2 region_size 64", "region_size" },
	{ "region too large", "2 region_size 4194304", "region_size" },
	{ "region not whole blocks", "2 region_size 100", "region_size" },
	{ "owner too long", LONG_OWNER, "owner" },
	{ "replace leg 3", "2 replace_leg 3", "replace_leg" },
	{ "repair other", "2 repair sometimes", "repair" },
	{ "throttle huge", "2 repair_throttle 99999999", "repair_throttle" },
	{ "read policy other", "2 read_policy random", "read_policy" },
	{ "commit period short", "2 commit_period 5", "commit_period" },
	{ "hydration on", "2 hydration on", NULL },
	{ "hydration other", "2 hydration maybe", "hydration" },
	{ "hydration throttle text", "2 hydration_throttle fast", "hydration_throttle" },
	{ "hydration throttle huge", "2 hydration_throttle 1000001", "hydration_throttle" },
};

static int split_line(char *line, char **argv, int max)
{
	int argc = 0;
	char *word;

	while ((word = strsep(&line, " ")) && argc < max)
		if (*word)
			argv[argc++] = word;
	return argc;
}

static void args_case_desc(const struct args_case *t, char *desc)
{
	strscpy(desc, t->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(args, args_cases, args_case_desc);

static void args_parse(struct kunit *test)
{
	const struct args_case *t = test->param_value;
	struct dm_arg_set as;
	struct crucible *c;
	char *argv[32], *line, *error = NULL;
	int r;

	c = kunit_kzalloc(test, sizeof(*c), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, c);
	c->geo.region_blocks = CRUCIBLE_DEFAULT_REGION_BLOCKS;
	c->replace_leg = -1;
	line = kunit_kzalloc(test, strlen(t->line) + 1, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, line);
	strcpy(line, t->line);
	as.argv = argv;
	as.argc = split_line(line, argv, ARRAY_SIZE(argv));

	r = crucible_parse_opt_args(c, &as, &error);
	if (!t->error) {
		KUNIT_EXPECT_EQ_MSG(test, r, 0, "error: %s", error ? error : "");
		KUNIT_EXPECT_EQ(test, as.argc, 0U);
		return;
	}
	KUNIT_EXPECT_EQ(test, r, -EINVAL);
	KUNIT_ASSERT_NOT_NULL(test, error);
	KUNIT_EXPECT_NOT_NULL_MSG(test, strstr(error, t->error),
				  "error '%s' does not name '%s'", error, t->error);
}

/* The values land where the target reads them. */
static void args_values(struct kunit *test)
{
	char line[] = ALL_ARGS;
	struct dm_arg_set as;
	struct crucible *c;
	char *argv[32], *error = NULL;

	c = kunit_kzalloc(test, sizeof(*c), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, c);
	c->repair_auto = true;
	c->hydrate_on = true;
	c->replace_leg = -1;
	as.argv = argv;
	as.argc = split_line(line, argv, ARRAY_SIZE(argv));
	KUNIT_ASSERT_EQ(test, crucible_parse_opt_args(c, &as, &error), 0);
	KUNIT_EXPECT_EQ(test, c->generation, 3ULL);
	KUNIT_EXPECT_TRUE(test, c->generation_given);
	KUNIT_EXPECT_EQ(test, c->geo.region_blocks, 512U);
	KUNIT_EXPECT_STREQ(test, c->owner, "hostA");
	KUNIT_EXPECT_EQ(test, c->replace_leg, 2);
	KUNIT_EXPECT_FALSE(test, c->repair_auto);
	KUNIT_EXPECT_EQ(test, c->repair_throttle, 50U);
	KUNIT_EXPECT_EQ(test, (int)c->read_policy, (int)CRUCIBLE_READ_LEAST_PENDING);
	KUNIT_EXPECT_EQ(test, c->commit_period_ms, 250U);
	KUNIT_EXPECT_FALSE(test, c->hydrate_on);
	KUNIT_EXPECT_EQ(test, c->hydrate_throttle, 8U);
}

static struct kunit_case crucible_args_cases[] = {
	KUNIT_CASE_PARAM(args_parse, args_gen_params),
	KUNIT_CASE(args_values),
	{}
};

static struct kunit_suite crucible_args_suite = {
	.name = "dm-crucible-args",
	.test_cases = crucible_args_cases,
};

kunit_test_suite(crucible_args_suite);
