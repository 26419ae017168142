/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libm2msa: sealed messages between AEs with a pairwise key (docs/libm2msa.md
 * "Sealed messages"): JWE compact (common/jwe.h) with a per-message
 * sessionESPrimKey (TS-0003 §10.3.8.2), and the receiver's replay cache.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "libm2msa/libm2msa-int.h"
#include "common/crypto.h"
#include "common/jwe.h"
#include "common/secret.h"

_Static_assert(M2MSA_RAND_LEN == JWE_RAND_LEN, "random objects");
_Static_assert(M2MSA_TOKEN_LEN == 2 * JWE_RAND_LEN, "request token");

/* One remembered request: its random object, until the key's expiry. */
struct replay_entry {
	uint8_t ro[JWE_RAND_LEN];
	uint64_t expiry; /* 0: free */
};

struct m2msa_replay {
	size_t cap; /* a power of two */
	size_t n;
	struct replay_entry *e;
};

int m2msa_replay_new(size_t max_entries, struct m2msa_replay **ret)
{
	struct m2msa_replay *rp;
	size_t cap = 16;

	if (!ret || max_entries == 0 || max_entries > (1u << 24))
		return -EINVAL;
	while (cap < 2 * max_entries)
		cap *= 2;
	rp = calloc(1, sizeof(*rp));
	if (!rp)
		return -ENOMEM;
	rp->e = calloc(cap, sizeof(*rp->e));
	if (!rp->e) {
		free(rp);
		return -ENOMEM;
	}
	rp->cap = cap;
	*ret = rp;
	return 0;
}

void m2msa_replay_free(struct m2msa_replay *rp)
{
	if (!rp)
		return;
	free(rp->e);
	free(rp);
}

static size_t slot_of(const struct m2msa_replay *rp, const uint8_t ro[static JWE_RAND_LEN])
{
	uint64_t h;

	memcpy(&h, ro, sizeof(h)); /* random bytes: their first 8 are a fine hash */
	return (size_t)h & (rp->cap - 1);
}

/* Drop expired entries by rebuilding the table (rare: only when it is full). */
static void replay_compact(struct m2msa_replay *rp, uint64_t now)
{
	struct replay_entry *old = rp->e, *e = calloc(rp->cap, sizeof(*e));

	if (!e)
		return;
	rp->e = e;
	rp->n = 0;
	for (size_t i = 0; i < rp->cap; i++) {
		size_t s;

		if (old[i].expiry <= now)
			continue;
		for (s = slot_of(rp, old[i].ro); e[s].expiry; s = (s + 1) & (rp->cap - 1))
			;
		e[s] = old[i];
		rp->n++;
	}
	free(old);
}

/* 0 and remembered, -EALREADY for a random object seen before, -ENOSPC when full. */
static int replay_check(struct m2msa_replay *rp, const uint8_t ro[static JWE_RAND_LEN],
			uint64_t expiry, uint64_t now)
{
	size_t s;

	if (2 * (rp->n + 1) > rp->cap)
		replay_compact(rp, now);
	if (2 * (rp->n + 1) > rp->cap)
		return -ENOSPC;
	for (s = slot_of(rp, ro); rp->e[s].expiry; s = (s + 1) & (rp->cap - 1))
		if (memcmp(rp->e[s].ro, ro, JWE_RAND_LEN) == 0 && rp->e[s].expiry > now)
			return -EALREADY;
	memcpy(rp->e[s].ro, ro, JWE_RAND_LEN);
	rp->e[s].expiry = expiry;
	rp->n++;
	return 0;
}

static int usable(const struct m2msa_key *k)
{
	if (!k || m2msa_key_len(k) != M2MSA_KEY_LEN || !libm2msa_key_hmac(k))
		return -EINVAL;
	return m2msa_key_expiry(k) > (uint64_t)time(NULL) ? 0 : -EKEYEXPIRED;
}

int m2msa_jwe_kid(const char *jwe, char *buf, size_t buf_len)
{
	struct jwe_parsed p;
	size_t n;
	int r;

	if (!jwe || !buf)
		return -EINVAL;
	r = jwe_parse(jwe, strnlen(jwe, JWE_MAX + 1), &p);
	if (r < 0)
		return r;
	n = strlen(p.kid);
	if (n >= buf_len)
		r = -ENAMETOOLONG;
	else
		memcpy(buf, p.kid, n + 1);
	jwe_parsed_clear(&p);
	return r;
}

int m2msa_seal_request(const struct m2msa_key *k, const void *msg, size_t len, char **ret_jwe,
		       uint8_t ret_token[M2MSA_TOKEN_LEN])
{
	uint8_t rand[2 * JWE_RAND_LEN + AES_GCM_IV_LEN]; /* ro || rr || iv: one getrandom */
	int r = usable(k);

	if (r < 0 || !ret_jwe || !ret_token)
		return r < 0 ? r : -EINVAL;
	r = crypto_random(rand, sizeof(rand));
	if (r == 0)
		r = jwe_seal_hk(libm2msa_key_hmac(k), m2msa_key_id(k), rand, rand + JWE_RAND_LEN,
				rand + 2 * JWE_RAND_LEN, msg, len, ret_jwe);
	if (r == 0)
		memcpy(ret_token, rand, 2 * JWE_RAND_LEN);
	return r;
}

/* Parse, check the kid, decrypt. */
static int open_common(const struct m2msa_key *k, const char *jwe, struct jwe_parsed *p,
		       uint8_t **ret_msg, size_t *ret_len)
{
	int r = usable(k);

	if (r < 0 || !jwe || !ret_msg || !ret_len)
		return r < 0 ? r : -EINVAL;
	r = jwe_parse(jwe, strnlen(jwe, JWE_MAX + 1), p);
	if (r < 0)
		return r;
	if (strcmp(p->kid, m2msa_key_id(k)) != 0) {
		jwe_parsed_clear(p);
		return -ENOKEY;
	}
	r = jwe_open_hk(libm2msa_key_hmac(k), p, ret_msg, ret_len);
	if (r < 0)
		jwe_parsed_clear(p);
	return r;
}

int m2msa_open_request(struct m2msa_replay *rp, const struct m2msa_key *k, const char *jwe,
		       uint8_t **ret_msg, size_t *ret_len, uint8_t ret_ro[M2MSA_RAND_LEN])
{
	struct jwe_parsed p;
	uint8_t *msg = NULL;
	size_t len = 0;
	int r;

	if (!rp || !ret_ro)
		return -EINVAL;
	r = open_common(k, jwe, &p, &msg, &len);
	if (r < 0)
		return r;
	/* Only an authentic request enters the cache, so forgeries cannot fill it. */
	r = replay_check(rp, p.ro, m2msa_key_expiry(k), (uint64_t)time(NULL));
	if (r < 0) {
		secret_free_buf(msg, len);
	} else {
		memcpy(ret_ro, p.ro, JWE_RAND_LEN);
		*ret_msg = msg;
		*ret_len = len;
	}
	jwe_parsed_clear(&p);
	return r;
}

int m2msa_seal_response(const struct m2msa_key *k, const uint8_t ro[M2MSA_RAND_LEN],
			const void *msg, size_t len, char **ret_jwe)
{
	uint8_t rand[JWE_RAND_LEN + AES_GCM_IV_LEN]; /* rr || iv */
	int r = usable(k);

	if (r < 0 || !ro || !ret_jwe)
		return r < 0 ? r : -EINVAL;
	r = crypto_random(rand, sizeof(rand));
	return r < 0 ? r
		     : jwe_seal_hk(libm2msa_key_hmac(k), m2msa_key_id(k), ro, rand,
				   rand + JWE_RAND_LEN, msg, len, ret_jwe);
}

int m2msa_open_response(const struct m2msa_key *k, const uint8_t token[M2MSA_TOKEN_LEN],
			const char *jwe, uint8_t **ret_msg, size_t *ret_len)
{
	struct jwe_parsed p;
	uint8_t *msg = NULL;
	size_t len = 0;
	int r;

	if (!token)
		return -EINVAL;
	r = open_common(k, jwe, &p, &msg, &len);
	if (r < 0)
		return r;
	/*
	 * The answer to this request: its ro. A fresh rr, so the request itself sent
	 * back (same ro and rr) is not taken for the response.
	 */
	if (!secret_equal(p.ro, token, JWE_RAND_LEN) ||
	    secret_equal(p.rr, token + JWE_RAND_LEN, JWE_RAND_LEN)) {
		secret_free_buf(msg, len);
		r = -EALREADY;
	} else {
		*ret_msg = msg;
		*ret_len = len;
	}
	jwe_parsed_clear(&p);
	return r;
}

void m2msa_free_message(void *msg, size_t len)
{
	secret_free_buf(msg, len);
}
