/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Retry delays after a failed establishment: exponential growth from min to
 * max (the ceiling doubles per failure), with "full jitter" above the floor:
 *
 *   ceiling(n) = min(max, min * 2^n)          n = failures so far - 1
 *   delay(n)   = uniform in [min, ceiling(n)]
 *
 * so the first retry comes after exactly min, later ones spread out over an
 * ever wider window (nodes that lost the MAS together do not come back in
 * lock-step), and none waits longer than max. backoff_reset() after a success.
 * The generator is a small seeded PRNG (splitmix64): jitter needs no secrecy,
 * and a seed makes the sequence reproducible in tests.
 */
#pragma once

#include <stdint.h>

struct backoff {
	uint64_t min_ms, max_ms;
	unsigned failures; /* since the last reset */
	uint64_t ceiling_ms; /* of the last delay handed out; 0 before the first */
	uint64_t rng;
};

/* min_ms >= 1, max_ms >= min_ms; -EINVAL otherwise. */
int backoff_init(struct backoff *b, uint64_t min_ms, uint64_t max_ms, uint64_t seed);
/* Change the bounds (config reload) and keep the failure count. */
int backoff_set_bounds(struct backoff *b, uint64_t min_ms, uint64_t max_ms);
/* Count one failure and return the delay before the next attempt, in ms. */
uint64_t backoff_next(struct backoff *b);
/* The ceiling the next call to backoff_next() would use. */
uint64_t backoff_peek_ceiling(const struct backoff *b);
void backoff_reset(struct backoff *b);
