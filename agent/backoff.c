/* SPDX-License-Identifier: Apache-2.0 */
/* Exponential retry delays with full jitter above a floor (see backoff.h). */
#include <errno.h>

#include "agent/backoff.h"

/* splitmix64 (Steele, Lea, Flood: "Fast splittable pseudorandom number generators", 2014). */
static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform in [0, n] without modulo bias. */
static uint64_t rng_upto(uint64_t *s, uint64_t n)
{
	uint64_t range = n + 1, limit, x;

	if (range == 0) /* n == UINT64_MAX */
		return rng_next(s);
	limit = UINT64_MAX - (UINT64_MAX % range);
	do
		x = rng_next(s);
	while (x >= limit);
	return x % range;
}

int backoff_set_bounds(struct backoff *b, uint64_t min_ms, uint64_t max_ms)
{
	if (min_ms == 0 || max_ms < min_ms)
		return -EINVAL;
	b->min_ms = min_ms;
	b->max_ms = max_ms;
	return 0;
}

int backoff_init(struct backoff *b, uint64_t min_ms, uint64_t max_ms, uint64_t seed)
{
	struct backoff n = { .rng = seed };
	int r = backoff_set_bounds(&n, min_ms, max_ms);

	if (r < 0)
		return r;
	*b = n;
	return 0;
}

uint64_t backoff_peek_ceiling(const struct backoff *b)
{
	uint64_t c = b->min_ms;

	for (unsigned i = 0; i < b->failures && c < b->max_ms; i++)
		c = c > b->max_ms / 2 ? b->max_ms : c * 2;
	return c < b->max_ms ? c : b->max_ms;
}

uint64_t backoff_next(struct backoff *b)
{
	uint64_t ceiling = backoff_peek_ceiling(b);

	if (b->failures < 64)
		b->failures++;
	b->ceiling_ms = ceiling;
	return b->min_ms + rng_upto(&b->rng, ceiling - b->min_ms);
}

void backoff_reset(struct backoff *b)
{
	b->failures = 0;
	b->ceiling_ms = 0;
}
