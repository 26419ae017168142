/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What m2masd's worker threads share (docs/architecture.md "Event loops"),
 * hammered from 4 threads at once: the failed-proof limiter, the per-source
 * connection budget, the Ks_NAF cache and the metrics. Each test checks an
 * exact count or an invariant that lost updates or torn entries break. Without
 * the mutexes these fail in practice (counts come out short, a budget lets
 * more connections in), though a data race cannot be made to fail on every
 * run; the TSan build (docs/architecture.md) catches the race itself.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ratelimit.h"
#include "common/secret.h"
#include "mas/connbudget.h"
#include "mas/gba-cache.h"
#include "mas/metrics.h"

#define THREADS 4

/* The argument each thread gets from run_threads(). */
struct targ {
	void *(*fn)(void *);
	void *arg;
	int index;
};

static pthread_barrier_t start_line;

/* All threads start together, so that they overlap even on a busy machine. */
static void *thread_main(void *p)
{
	struct targ *t = p;

	pthread_barrier_wait(&start_line);
	return t->fn(t);
}

static void run_threads(void *(*fn)(void *), void *arg)
{
	pthread_t t[THREADS];
	struct targ a[THREADS];

	cr_assert_eq(pthread_barrier_init(&start_line, NULL, THREADS), 0);
	for (int i = 0; i < THREADS; i++) {
		a[i].fn = fn;
		a[i].arg = arg;
		a[i].index = i;
		cr_assert_eq(pthread_create(&t[i], NULL, thread_main, &a[i]), 0);
	}
	for (int i = 0; i < THREADS; i++)
		cr_assert_eq(pthread_join(t[i], NULL), 0);
	pthread_barrier_destroy(&start_line);
}

#define FAILS_PER_THREAD 200000

static void *fail_many(void *p)
{
	struct ratelimit *rl = ((struct targ *)p)->arg;

	for (int i = 0; i < FAILS_PER_THREAD; i++)
		(void)ratelimit_fail(rl, "127.0.0.1", 1000);
	return NULL;
}

Test(mas_shared, ratelimit_counts_every_failure_of_every_thread)
{
	struct ratelimit *rl;

	cr_assert_eq(ratelimit_new(64, THREADS * FAILS_PER_THREAD, 60000, &rl), 0);
	run_threads(fail_many, rl);
	/* Exactly THREADS * FAILS_PER_THREAD failures: limited at that count, not one more. */
	cr_assert(ratelimit_limited(rl, "127.0.0.1", 1000, NULL), "failures were lost");
	ratelimit_set_limits(rl, THREADS * FAILS_PER_THREAD + 1, 60000);
	cr_assert_not(ratelimit_limited(rl, "127.0.0.1", 1000, NULL), "failures counted twice");
	ratelimit_free(rl);
}

#define OPENS_PER_THREAD 200000
#define CAP 3

struct budget_run {
	struct mas_connbudget *b;
	atomic_int held, max_held, refused;
};

static void *open_close(void *p)
{
	struct budget_run *br = ((struct targ *)p)->arg;

	for (int i = 0; i < OPENS_PER_THREAD; i++) {
		int h;

		if (mas_connbudget_open(br->b, "198.51.100.7", 1000) < 0) {
			atomic_fetch_add(&br->refused, 1);
			continue;
		}
		h = atomic_fetch_add(&br->held, 1) + 1;
		for (int m = atomic_load(&br->max_held); h > m;)
			if (atomic_compare_exchange_weak(&br->max_held, &m, h))
				break;
		atomic_fetch_sub(&br->held, 1);
		mas_connbudget_close(br->b, "198.51.100.7");
	}
	return NULL;
}

Test(mas_shared, connection_budget_cap_holds_under_four_threads)
{
	struct budget_run br = { 0 };

	cr_assert_eq(mas_connbudget_new(64, &br.b), 0);
	mas_connbudget_set_limits(br.b, CAP, 0);
	run_threads(open_close, &br);
	/* Never more than CAP held at once, and every close matched its open. */
	cr_assert_leq(atomic_load(&br.max_held), CAP);
	cr_assert_eq(mas_connbudget_n_open(br.b, "198.51.100.7"), 0);
	/* 4 threads against a cap of 3: some were refused, most got through. */
	cr_assert_lt(atomic_load(&br.refused), THREADS * OPENS_PER_THREAD / 2);
	mas_connbudget_free(br.b);
}

#define EXCHANGES_PER_THREAD 200000

static void *count_exchanges(void *p)
{
	struct mas_metrics *m = ((struct targ *)p)->arg;
	struct wire_msg ok = { .type = WIRE_MSG_ESTABLISHED };

	for (int i = 0; i < EXCHANGES_PER_THREAD; i++) {
		mas_metrics_exchange(m, MAS_METRICS_ESTABLISHMENT, &ok, 3);
		mas_metrics_store(m, 1000, false);
	}
	return NULL;
}

Test(mas_shared, metrics_count_every_exchange_of_every_thread)
{
	struct mas_metrics *m;
	char *text, want[128];

	cr_assert_eq(mas_metrics_new(&m), 0);
	run_threads(count_exchanges, m);
	cr_assert_geq(mas_metrics_render(m, &text), 0);
	snprintf(want, sizeof(want), "m2masd_establishment_seconds_count %d\n",
		 THREADS * EXCHANGES_PER_THREAD);
	cr_assert_not_null(strstr(text, want), "%s not in\n%s", want, text);
	snprintf(want, sizeof(want), "m2masd_store_seconds_count %d\n",
		 THREADS * EXCHANGES_PER_THREAD);
	cr_assert_not_null(strstr(text, want), "%s not in\n%s", want, text);
	free(text);
	mas_metrics_free(m);
}

#define GBA_ROUNDS 20000
#define GBA_KEYS 8 /* per thread; the cache holds 16: entries are evicted all the time */

struct gba_run {
	struct mas_gba_cache *c;
	atomic_int wrong;
};

static void *put_get(void *p)
{
	struct targ *t = p;
	struct gba_run *g = t->arg;

	for (int round = 0; round < GBA_ROUNDS; round++) {
		int k = round % GBA_KEYS;
		char btid[64];
		uint8_t ks[32];
		struct secret *got = NULL;
		uint64_t expiry;
		char impi[STORE_IMPI_MAX + 1];

		snprintf(btid, sizeof(btid), "t%dk%d@bsf.test", t->index, k);
		memset(ks, t->index * 16 + k, sizeof(ks));
		if (mas_gba_cache_put(g->c, btid, "user@ims.test", ks, 4000000000u) < 0) {
			atomic_fetch_add(&g->wrong, 1);
			continue;
		}
		/* Evicted by another thread meanwhile is fine; a wrong key is not. */
		if (mas_gba_cache_get(g->c, btid, 1000, &got, &expiry, impi) == 0) {
			if (memcmp(got->data, ks, 32) != 0 || strcmp(impi, "user@ims.test") != 0)
				atomic_fetch_add(&g->wrong, 1);
			secret_free(got);
		}
	}
	return NULL;
}

Test(mas_shared, gba_cache_gives_each_thread_its_own_keys)
{
	static const uint8_t master[32] = { 1, 2, 3 };
	struct gba_run g = { 0 };

	cr_assert_eq(mas_gba_cache_new(master, 16, &g.c), 0);
	run_threads(put_get, &g);
	cr_assert_eq(atomic_load(&g.wrong), 0, "wrong or unsealable entries");
	cr_assert_leq(mas_gba_cache_size(g.c), 16);
	mas_gba_cache_free(g.c);
}

/*
 * What a gba connection keeps from HELLO to PROOF (establish.c): the shared cache
 * may evict the entry meanwhile (here a cache of one), the sealed copy still opens
 * to the same Ks_NAF, bound to its B-TID and not forgeable.
 */
Test(mas_shared, sealed_ks_naf_outlives_the_cache_entry)
{
	static const char a[] = "QUJDREVGR0hJSktMTU5PUA==@bsf.test",
			  b[] = "UVJTVFVWV1hZWltcXV5fYA==@bsf.test";
	uint8_t master[32], ks[32], sealed[MAS_GBA_SEALED_LEN];
	struct mas_gba_cache *c;
	struct secret *got = NULL;
	char impi[STORE_IMPI_MAX + 1];
	uint64_t expiry;

	memset(master, 0x5a, sizeof(master));
	memset(ks, 0xa5, sizeof(ks));
	cr_assert_eq(mas_gba_cache_new(master, 1, &c), 0);
	cr_assert_eq(mas_gba_cache_put(c, a, "user@ims.test", ks, 4000000000u), 0);
	cr_assert_eq(mas_gba_cache_seal(c, a, ks, sealed), 0);
	cr_assert_eq(mas_gba_cache_put(c, b, "other@ims.test", master, 4000000000u), 0);
	/* Evicted: what PROOF used to read again. */
	cr_assert_eq(mas_gba_cache_get(c, a, 1000, &got, &expiry, impi), -ENOENT);
	cr_assert_eq(mas_gba_cache_open(c, a, sealed, &got), 0);
	cr_assert_eq(got->len, 32);
	cr_assert_eq(memcmp(got->data, ks, 32), 0);
	secret_free(got);
	got = NULL;
	/* Bound to its B-TID; a changed byte does not open. */
	cr_assert_lt(mas_gba_cache_open(c, b, sealed, &got), 0);
	sealed[MAS_GBA_SEALED_LEN - 1] ^= 1;
	cr_assert_lt(mas_gba_cache_open(c, a, sealed, &got), 0);
	cr_assert_null(got);
	mas_gba_cache_free(c);
}
