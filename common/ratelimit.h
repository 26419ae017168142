/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Failure rate limiting per key: m2masd's failed proofs (a node ID, a peer
 * address) and m2msa-bsf's failed Ub runs.
 * A key that collected max_failures failures within the window that began with
 * its first failure is limited until that window ends. Memory is bounded: a
 * fixed table, set-associative with a secret hash seed; when a set is full the
 * entry whose window ends first (expired ones before all others) is reused.
 * Times are milliseconds of CLOCK_MONOTONIC, supplied by the caller.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest key kept; longer keys are refused with -ENAMETOOLONG. */
#define RATELIMIT_KEY_MAX 160

struct ratelimit;

/*
 * n_slots is rounded up to a multiple of the set size. max_failures 0 turns
 * limiting off. Returns 0 or -ENOMEM / -EINVAL.
 */
int ratelimit_new(size_t n_slots, uint32_t max_failures, uint64_t window_ms,
		  struct ratelimit **ret);
void ratelimit_free(struct ratelimit *rl);
/* Change the limits (SIGHUP); counts already collected are kept. */
void ratelimit_set_limits(struct ratelimit *rl, uint32_t max_failures,
			  uint64_t window_ms);

/*
 * True when key is limited at now_ms; *ret_remaining_ms (may be NULL) gets the
 * time until the window ends.
 */
bool ratelimit_limited(struct ratelimit *rl, const char *key, uint64_t now_ms,
		       uint64_t *ret_remaining_ms);
/* Count one failure for key at now_ms. -ENAMETOOLONG for an over-long key. */
int ratelimit_fail(struct ratelimit *rl, const char *key, uint64_t now_ms);
/* Forget key's failures (a success); no-op for an unknown key. */
void ratelimit_clear(struct ratelimit *rl, const char *key);
