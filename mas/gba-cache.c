/* SPDX-License-Identifier: Apache-2.0 */
/*
 * m2masd's Ks_NAF cache per B-TID, sealed under the master key until the BSF's expiry.
 * One cache serves every worker thread: each public call holds its mutex.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/crypto.h"
#include "mas/gba-cache.h"

#define SEALED_LEN MAS_GBA_SEALED_LEN

struct entry {
	char btid[WIRE_BTID_MAX + 1];
	char impi[STORE_IMPI_MAX + 1];
	uint64_t expiry;
	uint8_t sealed[SEALED_LEN];
};

struct mas_gba_cache {
	struct secret *key;
	struct entry *e;
	size_t n, max;
	pthread_mutex_t lock;
};

int mas_gba_cache_new(const uint8_t master_key[static 32], size_t max_entries,
		      struct mas_gba_cache **ret)
{
	struct mas_gba_cache *c = calloc(1, sizeof(*c));
	int r;

	if (!c)
		return -ENOMEM;
	pthread_mutex_init(&c->lock, NULL);
	c->max = max_entries ? max_entries : MAS_GBA_CACHE_MAX_DEFAULT;
	c->e = calloc(c->max, sizeof(*c->e));
	r = c->e ? secret_dup(master_key, 32, &c->key) : -ENOMEM;
	if (r < 0) {
		mas_gba_cache_free(c);
		return r;
	}
	*ret = c;
	return 0;
}

void mas_gba_cache_free(struct mas_gba_cache *c)
{
	if (!c)
		return;
	pthread_mutex_destroy(&c->lock);
	secret_free(c->key);
	free(c->e);
	free(c);
}

static size_t aad_of(const char *btid, uint8_t aad[static 4 + WIRE_BTID_MAX])
{
	size_t n = strnlen(btid, WIRE_BTID_MAX);

	memcpy(aad, "gba:", 4);
	memcpy(aad + 4, btid, n);
	return 4 + n;
}

static struct entry *find(struct mas_gba_cache *c, const char *btid)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->e[i].btid, btid) == 0)
			return &c->e[i];
	return NULL;
}

static void drop(struct mas_gba_cache *c, struct entry *e)
{
	*e = c->e[--c->n];
	memset(&c->e[c->n], 0, sizeof(c->e[c->n]));
}

/* A free slot: a new one, else an expired one, else the one expiring soonest. */
static struct entry *slot(struct mas_gba_cache *c, uint64_t now)
{
	struct entry *soonest = NULL;

	if (c->n < c->max)
		return &c->e[c->n++];
	for (size_t i = 0; i < c->n; i++) {
		if (c->e[i].expiry <= now)
			return &c->e[i];
		if (!soonest || c->e[i].expiry < soonest->expiry)
			soonest = &c->e[i];
	}
	return soonest;
}

static int cache_put(struct mas_gba_cache *c, const char *btid, const char *impi,
		      const uint8_t ks_naf[static 32], uint64_t expiry)
{
	uint8_t aad[4 + WIRE_BTID_MAX];
	struct entry *e;
	size_t aad_len;

	if (!wire_btid_valid(btid) || !store_impi_valid(impi))
		return -EINVAL;
	e = find(c, btid);
	if (!e)
		e = slot(c, (uint64_t)time(NULL));
	aad_len = aad_of(btid, aad);
	snprintf(e->btid, sizeof(e->btid), "%s", btid);
	snprintf(e->impi, sizeof(e->impi), "%s", impi);
	e->expiry = expiry;
	if (crypto_seal(c->key->data, aad, aad_len, ks_naf, 32, e->sealed) < 0) {
		drop(c, e);
		return -EIO;
	}
	return 0;
}

static int cache_get(struct mas_gba_cache *c, const char *btid, uint64_t now,
		     struct secret **ret_ks_naf, uint64_t *ret_expiry,
		     char ret_impi[static STORE_IMPI_MAX + 1])
{
	_cleanup_secret_ struct secret *k = NULL;
	uint8_t aad[4 + WIRE_BTID_MAX];
	struct entry *e = wire_btid_valid(btid) ? find(c, btid) : NULL;
	int r;

	if (!e)
		return -ENOENT;
	if (e->expiry <= now) {
		drop(c, e);
		return -ENOENT;
	}
	r = secret_new(32, &k);
	if (r < 0)
		return r;
	r = crypto_open(c->key->data, aad, aad_of(btid, aad), e->sealed, sizeof(e->sealed),
			k->data);
	if (r < 0)
		return r;
	*ret_expiry = e->expiry;
	snprintf(ret_impi, STORE_IMPI_MAX + 1, "%s", e->impi);
	*ret_ks_naf = k;
	k = NULL;
	return 0;
}

int mas_gba_cache_put(struct mas_gba_cache *c, const char *btid, const char *impi,
		      const uint8_t ks_naf[static 32], uint64_t expiry)
{
	int r;

	pthread_mutex_lock(&c->lock);
	r = cache_put(c, btid, impi, ks_naf, expiry);
	pthread_mutex_unlock(&c->lock);
	return r;
}

int mas_gba_cache_get(struct mas_gba_cache *c, const char *btid, uint64_t now,
		      struct secret **ret_ks_naf, uint64_t *ret_expiry,
		      char ret_impi[static STORE_IMPI_MAX + 1])
{
	int r;

	pthread_mutex_lock(&c->lock);
	r = cache_get(c, btid, now, ret_ks_naf, ret_expiry, ret_impi);
	pthread_mutex_unlock(&c->lock);
	return r;
}

size_t mas_gba_cache_size(struct mas_gba_cache *c)
{
	size_t n;

	pthread_mutex_lock(&c->lock);
	n = c->n;
	pthread_mutex_unlock(&c->lock);
	return n;
}

int mas_gba_cache_seal(struct mas_gba_cache *c, const char *btid,
		       const uint8_t ks_naf[static 32],
		       uint8_t ret_sealed[static MAS_GBA_SEALED_LEN])
{
	uint8_t aad[4 + WIRE_BTID_MAX];
	int r;

	if (!wire_btid_valid(btid))
		return -EINVAL;
	pthread_mutex_lock(&c->lock);
	r = crypto_seal(c->key->data, aad, aad_of(btid, aad), ks_naf, 32, ret_sealed) < 0 ? -EIO
											      : 0;
	pthread_mutex_unlock(&c->lock);
	return r;
}

int mas_gba_cache_open(struct mas_gba_cache *c, const char *btid,
		       const uint8_t sealed[static MAS_GBA_SEALED_LEN], struct secret **ret_ks_naf)
{
	_cleanup_secret_ struct secret *k = NULL;
	uint8_t aad[4 + WIRE_BTID_MAX];
	int r;

	if (!wire_btid_valid(btid))
		return -EINVAL;
	r = secret_new(32, &k);
	if (r < 0)
		return r;
	/* The key is read-only after mas_gba_cache_new(): no lock needed to open. */
	r = crypto_open(c->key->data, aad, aad_of(btid, aad), sealed, MAS_GBA_SEALED_LEN, k->data);
	if (r < 0)
		return r;
	*ret_ks_naf = k;
	k = NULL;
	return 0;
}
