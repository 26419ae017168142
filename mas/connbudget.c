/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Per-source open-connection caps and token-bucket connection rates (connbudget.h).
 * One budget serves every worker thread of m2masd: each public call holds its mutex.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "mas/connbudget.h"

#define WAYS 8
#define BURST_SECONDS 2

struct entry {
	uint32_t open;     /* connections open now */
	uint64_t tokens;   /* milli-connections available */
	uint64_t last_ms;  /* last refill */
	bool used;
	char key[MAS_SOURCE_MAX];
};

struct mas_connbudget {
	struct entry *table;
	size_t n_sets;
	uint32_t max_open, per_second;
	uint64_t seed;
	pthread_mutex_t lock;
};

int mas_connbudget_new(size_t n_slots, struct mas_connbudget **ret)
{
	struct mas_connbudget *b;
	size_t n_sets = (n_slots + WAYS - 1) / WAYS;

	if (n_sets == 0)
		return -EINVAL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->table = calloc(n_sets * WAYS, sizeof(struct entry));
	if (!b->table) {
		free(b);
		return -ENOMEM;
	}
	/* A secret seed keeps a peer from choosing sources that collide in one set. */
	if (crypto_random(&b->seed, sizeof(b->seed)) < 0)
		b->seed = 0x9e3779b97f4a7c15ULL ^ (uint64_t)(uintptr_t)b;
	b->n_sets = n_sets;
	pthread_mutex_init(&b->lock, NULL);
	*ret = b;
	return 0;
}

void mas_connbudget_free(struct mas_connbudget *b)
{
	if (!b)
		return;
	pthread_mutex_destroy(&b->lock);
	free(b->table);
	free(b);
}

void mas_connbudget_set_limits(struct mas_connbudget *b, uint32_t max_open, uint32_t per_second)
{
	pthread_mutex_lock(&b->lock);
	b->max_open = max_open;
	b->per_second = per_second;
	pthread_mutex_unlock(&b->lock);
}

void mas_source_of(const struct sockaddr_storage *ss, char source[MAS_SOURCE_MAX])
{
	snprintf(source, MAS_SOURCE_MAX, "unknown");
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &in->sin_addr, source, MAS_SOURCE_MAX);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
		struct in6_addr prefix = in6->sin6_addr;
		size_t len;

		if (IN6_IS_ADDR_V4MAPPED(&prefix)) {
			inet_ntop(AF_INET, &prefix.s6_addr[12], source, MAS_SOURCE_MAX);
			return;
		}
		/* One subscriber owns a whole /64: count it as one source. */
		memset(&prefix.s6_addr[8], 0, 8);
		inet_ntop(AF_INET6, &prefix, source, MAS_SOURCE_MAX - 4);
		len = strlen(source);
		snprintf(source + len, MAS_SOURCE_MAX - len, "/64");
	}
}

/* FNV-1a over the key, mixed with the seed. */
static struct entry *set_of(const struct mas_connbudget *b, const char *key)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ b->seed;

	for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
		h ^= *p;
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 29;
	return b->table + (size_t)(h % b->n_sets) * WAYS;
}

static struct entry *lookup(struct mas_connbudget *b, const char *key)
{
	struct entry *set = set_of(b, key);

	for (size_t i = 0; i < WAYS; i++)
		if (set[i].used && strcmp(set[i].key, key) == 0)
			return &set[i];
	return NULL;
}

/* A new entry for key: a free one, else the idle one refilled longest ago; NULL if all busy. */
static struct entry *claim(struct mas_connbudget *b, const char *key, uint64_t now_ms)
{
	struct entry *set = set_of(b, key), *e = NULL;

	for (size_t i = 0; i < WAYS; i++) {
		if (!set[i].used) {
			e = &set[i];
			break;
		}
		if (set[i].open == 0 && (!e || set[i].last_ms < e->last_ms))
			e = &set[i];
	}
	if (!e)
		return NULL;
	memset(e, 0, sizeof(*e));
	e->used = true;
	snprintf(e->key, sizeof(e->key), "%s", key);
	e->tokens = (uint64_t)b->per_second * 1000 * BURST_SECONDS;
	e->last_ms = now_ms;
	return e;
}

static bool take_token(const struct mas_connbudget *b, struct entry *e, uint64_t now_ms)
{
	uint64_t cap = (uint64_t)b->per_second * 1000 * BURST_SECONDS;

	if (b->per_second == 0)
		return true;
	if (now_ms > e->last_ms) {
		/* per_second connections a second = per_second milli-connections a millisecond. */
		e->tokens += (now_ms - e->last_ms) * b->per_second;
		e->last_ms = now_ms;
	}
	if (e->tokens > cap)
		e->tokens = cap;
	if (e->tokens < 1000)
		return false;
	e->tokens -= 1000;
	return true;
}

static int budget_open(struct mas_connbudget *b, const char *source, uint64_t now_ms)
{
	struct entry *e = lookup(b, source);

	if (!e) {
		e = claim(b, source, now_ms);
		if (!e)
			return -ENOSPC;
	}
	if (b->max_open && e->open >= b->max_open)
		return -EMFILE;
	if (!take_token(b, e, now_ms))
		return -EAGAIN;
	e->open++;
	return 0;
}

int mas_connbudget_open(struct mas_connbudget *b, const char *source, uint64_t now_ms)
{
	int r;

	pthread_mutex_lock(&b->lock);
	r = budget_open(b, source, now_ms);
	pthread_mutex_unlock(&b->lock);
	return r;
}

void mas_connbudget_close(struct mas_connbudget *b, const char *source)
{
	struct entry *e;

	pthread_mutex_lock(&b->lock);
	e = lookup(b, source);
	if (e && e->open > 0)
		e->open--;
	pthread_mutex_unlock(&b->lock);
}

void mas_connbudget_refund(struct mas_connbudget *b, const char *source)
{
	struct entry *e;
	uint64_t cap;

	pthread_mutex_lock(&b->lock);
	e = lookup(b, source);
	cap = (uint64_t)b->per_second * 1000 * BURST_SECONDS;
	if (e && b->per_second)
		e->tokens = e->tokens + 1000 > cap ? cap : e->tokens + 1000;
	pthread_mutex_unlock(&b->lock);
}

uint32_t mas_connbudget_n_open(struct mas_connbudget *b, const char *source)
{
	struct entry *e;
	uint32_t n;

	pthread_mutex_lock(&b->lock);
	e = lookup(b, source);
	n = e ? e->open : 0;
	pthread_mutex_unlock(&b->lock);
	return n;
}
