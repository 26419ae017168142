/* SPDX-License-Identifier: Apache-2.0 */
/* The agent's retry delays: bounds, doubling ceiling, jitter, cap, reset (agent/backoff.h). */
#include <criterion/criterion.h>
#include <errno.h>

#include "agent/backoff.h"

Test(backoff, rejects_bad_bounds)
{
	struct backoff b = { .min_ms = 7 };

	cr_expect_eq(backoff_init(&b, 0, 1000, 1), -EINVAL);
	cr_expect_eq(backoff_init(&b, 2000, 1000, 1), -EINVAL);
	cr_expect_eq(b.min_ms, 7, "a failed init must leave the struct alone");
	cr_expect_eq(backoff_init(&b, 1000, 1000, 1), 0);
}

Test(backoff, first_delay_is_min_then_ceiling_doubles_to_max)
{
	static const uint64_t want_ceiling[] = { 1000, 2000, 4000, 8000, 16000, 32000,
						 64000, 128000, 256000, 300000, 300000, 300000 };
	struct backoff b;

	cr_assert_eq(backoff_init(&b, 1000, 300000, 42), 0);
	for (size_t i = 0; i < sizeof(want_ceiling) / sizeof(want_ceiling[0]); i++) {
		uint64_t d = backoff_next(&b);

		cr_expect_eq(b.ceiling_ms, want_ceiling[i], "failure %zu: ceiling %llu", i + 1,
			     (unsigned long long)b.ceiling_ms);
		cr_expect_geq(d, 1000, "failure %zu: delay %llu below min", i + 1,
			      (unsigned long long)d);
		cr_expect_leq(d, want_ceiling[i], "failure %zu: delay %llu above ceiling", i + 1,
			      (unsigned long long)d);
		if (i == 0)
			cr_expect_eq(d, 1000, "the first retry waits exactly min");
	}
}

Test(backoff, bounds_hold_for_many_seeds_and_delays_are_jittered)
{
	for (uint64_t seed = 1; seed <= 200; seed++) {
		struct backoff b;
		uint64_t first_big = 0;
		int differ = 0;

		cr_assert_eq(backoff_init(&b, 500, 20000, seed), 0);
		for (int i = 0; i < 30; i++) {
			uint64_t ceil = backoff_peek_ceiling(&b), d = backoff_next(&b);

			cr_assert_eq(ceil, b.ceiling_ms);
			cr_assert(d >= 500 && d <= ceil && ceil <= 20000,
				  "seed %llu step %d: delay %llu ceiling %llu", (unsigned long long)seed,
				  i, (unsigned long long)d, (unsigned long long)ceil);
			if (ceil == 20000) {
				if (!first_big)
					first_big = d;
				else if (d != first_big)
					differ = 1;
			}
		}
		cr_expect(differ, "seed %llu: capped delays never varied (no jitter)",
			  (unsigned long long)seed);
	}
}

Test(backoff, delays_grow_on_average)
{
	/* Mean over many seeds of the n-th delay: full jitter in [min, ceiling] has mean
	 * (min + ceiling) / 2, so it must roughly double per step until the cap. */
	double mean[8] = { 0 };
	const int seeds = 2000;

	for (int s = 0; s < seeds; s++) {
		struct backoff b;

		cr_assert_eq(backoff_init(&b, 1000, 1000000, (uint64_t)s * 7919 + 3), 0);
		for (int i = 0; i < 8; i++)
			mean[i] += (double)backoff_next(&b) / seeds;
	}
	for (int i = 0; i < 8; i++) {
		double ceil = 1000.0 * (double)(1u << i), want = (1000.0 + ceil) / 2;

		cr_expect(mean[i] > want * 0.9 && mean[i] < want * 1.1,
			  "step %d: mean %.0f, expected about %.0f", i, mean[i], want);
		if (i > 1)
			cr_expect_gt(mean[i], mean[i - 1] * 1.6, "step %d did not grow", i);
	}
}

Test(backoff, same_seed_same_sequence)
{
	struct backoff a, b;

	cr_assert_eq(backoff_init(&a, 100, 60000, 1234), 0);
	cr_assert_eq(backoff_init(&b, 100, 60000, 1234), 0);
	for (int i = 0; i < 20; i++)
		cr_expect_eq(backoff_next(&a), backoff_next(&b));
}

Test(backoff, reset_starts_over_and_new_bounds_apply)
{
	struct backoff b;

	cr_assert_eq(backoff_init(&b, 1000, 60000, 9), 0);
	for (int i = 0; i < 6; i++)
		backoff_next(&b);
	cr_expect_eq(backoff_peek_ceiling(&b), 60000);
	backoff_reset(&b);
	cr_expect_eq(backoff_peek_ceiling(&b), 1000);
	cr_expect_eq(backoff_next(&b), 1000);
	cr_assert_eq(backoff_set_bounds(&b, 30000, 40000), 0);
	cr_expect_eq(backoff_peek_ceiling(&b), 40000, "ceiling after one failure: min(2 * 30 s, max)");
	cr_expect_eq(backoff_set_bounds(&b, 0, 40000), -EINVAL);
}
