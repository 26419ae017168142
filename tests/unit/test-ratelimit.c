/* SPDX-License-Identifier: Apache-2.0 */
/* common/ratelimit.c: failures per key within a window, bounded table. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/ratelimit.h"

static struct ratelimit *rl;

static void fini(void)
{
	ratelimit_free(rl);
	rl = NULL;
}

TestSuite(ratelimit, .fini = fini);

Test(ratelimit, limited_after_max_failures_until_window_ends)
{
	uint64_t wait = 0;

	cr_assert_eq(ratelimit_new(64, 3, 10000, &rl), 0);
	for (int i = 0; i < 3; i++) {
		cr_assert_not(ratelimit_limited(rl, "node:/a", 1000, NULL), "limited after %d", i);
		cr_assert_eq(ratelimit_fail(rl, "node:/a", 1000 + (uint64_t)i), 0);
	}
	cr_assert(ratelimit_limited(rl, "node:/a", 2000, &wait));
	cr_assert_eq(wait, 9000, "remaining %lu", (unsigned long)wait);
	cr_assert(ratelimit_limited(rl, "node:/a", 10999, NULL));
	/* The window began with the first failure, at 1000. */
	cr_assert_not(ratelimit_limited(rl, "node:/a", 11000, NULL));
	/* A failure after the window starts a new count. */
	cr_assert_eq(ratelimit_fail(rl, "node:/a", 11000), 0);
	cr_assert_not(ratelimit_limited(rl, "node:/a", 11001, NULL));
}

Test(ratelimit, keys_are_independent)
{
	cr_assert_eq(ratelimit_new(64, 1, 10000, &rl), 0);
	cr_assert_eq(ratelimit_fail(rl, "addr:192.0.2.1", 0), 0);
	cr_assert(ratelimit_limited(rl, "addr:192.0.2.1", 1, NULL));
	cr_assert_not(ratelimit_limited(rl, "addr:192.0.2.2", 1, NULL));
	cr_assert_not(ratelimit_limited(rl, "node:192.0.2.1", 1, NULL));
}

Test(ratelimit, zero_max_failures_turns_limiting_off)
{
	cr_assert_eq(ratelimit_new(8, 0, 10000, &rl), 0);
	for (int i = 0; i < 100; i++)
		cr_assert_eq(ratelimit_fail(rl, "node:/a", 5), 0);
	cr_assert_not(ratelimit_limited(rl, "node:/a", 6, NULL));
}

Test(ratelimit, set_limits_applies_to_existing_counts)
{
	cr_assert_eq(ratelimit_new(8, 5, 10000, &rl), 0);
	cr_assert_eq(ratelimit_fail(rl, "node:/a", 0), 0);
	cr_assert_eq(ratelimit_fail(rl, "node:/a", 0), 0);
	cr_assert_not(ratelimit_limited(rl, "node:/a", 1, NULL));
	ratelimit_set_limits(rl, 2, 10000);
	cr_assert(ratelimit_limited(rl, "node:/a", 1, NULL));
}

Test(ratelimit, table_is_bounded_and_recent_keys_survive_a_flood)
{
	char key[64];

	cr_assert_eq(ratelimit_new(16, 1, 60000, &rl), 0);
	/* A flood of 10000 distinct old keys ... */
	for (int i = 0; i < 10000; i++) {
		snprintf(key, sizeof(key), "addr:10.0.%d.%d", i / 256, i % 256);
		cr_assert_eq(ratelimit_fail(rl, key, 0), 0);
	}
	/* ... fits in 16 slots; expired entries are reused first. */
	cr_assert_eq(ratelimit_fail(rl, "node:/victim", 60000), 0);
	cr_assert(ratelimit_limited(rl, "node:/victim", 60001, NULL));
	cr_assert_not(ratelimit_limited(rl, "addr:10.0.0.1", 60001, NULL));
}

Test(ratelimit, overlong_key_is_refused)
{
	char key[RATELIMIT_KEY_MAX + 2];

	memset(key, 'x', sizeof(key) - 1);
	key[sizeof(key) - 1] = '\0';
	cr_assert_eq(ratelimit_new(8, 1, 1000, &rl), 0);
	cr_assert_eq(ratelimit_fail(rl, key, 0), -ENAMETOOLONG);
	cr_assert_not(ratelimit_limited(rl, key, 0, NULL));
}

Test(ratelimit, clear_forgets_one_key_only)
{
	cr_assert_eq(ratelimit_new(64, 2, 10000, &rl), 0);
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(ratelimit_fail(rl, "node:/a@192.0.2.1", 0), 0);
		cr_assert_eq(ratelimit_fail(rl, "addr:192.0.2.1", 0), 0);
	}
	cr_assert(ratelimit_limited(rl, "node:/a@192.0.2.1", 1, NULL));
	ratelimit_clear(rl, "node:/a@192.0.2.1");
	cr_assert_not(ratelimit_limited(rl, "node:/a@192.0.2.1", 1, NULL));
	cr_assert(ratelimit_limited(rl, "addr:192.0.2.1", 1, NULL));
	ratelimit_clear(rl, "node:/never-seen");
	/* Counting starts again from zero. */
	cr_assert_eq(ratelimit_fail(rl, "node:/a@192.0.2.1", 2), 0);
	cr_assert_not(ratelimit_limited(rl, "node:/a@192.0.2.1", 3, NULL));
}
