/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fixed-size, set-associative table of failure counts with per-key windows.
 * One table serves every worker thread of m2masd (docs/architecture.md "Event
 * loops"): each public call holds the table's mutex.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "common/ratelimit.h"

#define WAYS 8

struct entry {
	uint64_t start_ms; /* first failure of the current window */
	uint32_t count;    /* 0: the slot is free */
	char key[RATELIMIT_KEY_MAX + 1];
};

struct ratelimit {
	struct entry *table;
	size_t n_sets;
	uint32_t max_failures;
	uint64_t window_ms;
	uint64_t seed;
	pthread_mutex_t lock;
};

int ratelimit_new(size_t n_slots, uint32_t max_failures, uint64_t window_ms,
		  struct ratelimit **ret)
{
	struct ratelimit *rl;
	size_t n_sets = (n_slots + WAYS - 1) / WAYS;

	if (n_sets == 0)
		return -EINVAL;
	rl = calloc(1, sizeof(*rl));
	if (!rl)
		return -ENOMEM;
	rl->table = calloc(n_sets * WAYS, sizeof(struct entry));
	if (!rl->table) {
		free(rl);
		return -ENOMEM;
	}
	/* A secret seed keeps a peer from choosing keys that collide in one set. */
	if (crypto_random(&rl->seed, sizeof(rl->seed)) < 0)
		rl->seed = 0x9e3779b97f4a7c15ULL ^ (uint64_t)(uintptr_t)rl;
	rl->n_sets = n_sets;
	rl->max_failures = max_failures;
	rl->window_ms = window_ms;
	pthread_mutex_init(&rl->lock, NULL);
	*ret = rl;
	return 0;
}

void ratelimit_free(struct ratelimit *rl)
{
	if (!rl)
		return;
	pthread_mutex_destroy(&rl->lock);
	free(rl->table);
	free(rl);
}

void ratelimit_set_limits(struct ratelimit *rl, uint32_t max_failures,
			  uint64_t window_ms)
{
	pthread_mutex_lock(&rl->lock);
	rl->max_failures = max_failures;
	rl->window_ms = window_ms;
	pthread_mutex_unlock(&rl->lock);
}

/* FNV-1a over the key, mixed with the seed. */
static size_t set_of(const struct ratelimit *rl, const char *key)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ rl->seed;

	for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
		h ^= *p;
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 29;
	return (size_t)(h % rl->n_sets);
}

static bool expired(const struct ratelimit *rl, const struct entry *e, uint64_t now_ms)
{
	return e->count == 0 || now_ms - e->start_ms >= rl->window_ms;
}

static struct entry *lookup(struct ratelimit *rl, const char *key)
{
	struct entry *set = rl->table + set_of(rl, key) * WAYS;

	for (size_t i = 0; i < WAYS; i++)
		if (set[i].count > 0 && strcmp(set[i].key, key) == 0)
			return &set[i];
	return NULL;
}

static bool rl_limited(struct ratelimit *rl, const char *key, uint64_t now_ms,
			   uint64_t *ret_remaining_ms)
{
	struct entry *e;

	if (rl->max_failures == 0 || strlen(key) > RATELIMIT_KEY_MAX)
		return false;
	e = lookup(rl, key);
	if (!e || expired(rl, e, now_ms) || e->count < rl->max_failures)
		return false;
	if (ret_remaining_ms)
		*ret_remaining_ms = e->start_ms + rl->window_ms - now_ms;
	return true;
}

static int rl_fail(struct ratelimit *rl, const char *key, uint64_t now_ms)
{
	size_t len = strlen(key);
	struct entry *e, *set;

	if (len > RATELIMIT_KEY_MAX)
		return -ENAMETOOLONG;
	e = lookup(rl, key);
	if (!e) {
		/* A free or expired slot, else the one whose window ends first. */
		set = rl->table + set_of(rl, key) * WAYS;
		e = &set[0];
		for (size_t i = 0; i < WAYS; i++) {
			if (expired(rl, &set[i], now_ms)) {
				e = &set[i];
				break;
			}
			if (set[i].start_ms < e->start_ms)
				e = &set[i];
		}
		memcpy(e->key, key, len + 1);
		e->count = 0;
	}
	if (expired(rl, e, now_ms)) {
		e->start_ms = now_ms;
		e->count = 0;
	}
	if (e->count < UINT32_MAX)
		e->count++;
	return 0;
}

static void rl_clear(struct ratelimit *rl, const char *key)
{
	struct entry *e;

	if (strlen(key) > RATELIMIT_KEY_MAX)
		return;
	e = lookup(rl, key);
	if (e) {
		e->count = 0;
		e->start_ms = 0;
	}
}

bool ratelimit_limited(struct ratelimit *rl, const char *key, uint64_t now_ms,
		       uint64_t *ret_remaining_ms)
{
	bool r;

	pthread_mutex_lock(&rl->lock);
	r = rl_limited(rl, key, now_ms, ret_remaining_ms);
	pthread_mutex_unlock(&rl->lock);
	return r;
}

int ratelimit_fail(struct ratelimit *rl, const char *key, uint64_t now_ms)
{
	int r;

	pthread_mutex_lock(&rl->lock);
	r = rl_fail(rl, key, now_ms);
	pthread_mutex_unlock(&rl->lock);
	return r;
}

void ratelimit_clear(struct ratelimit *rl, const char *key)
{
	pthread_mutex_lock(&rl->lock);
	rl_clear(rl, key);
	pthread_mutex_unlock(&rl->lock);
}
