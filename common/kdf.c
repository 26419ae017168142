/* SPDX-License-Identifier: Apache-2.0 */
/* NIST SP 800-108r1 counter-mode KDF over a pluggable PRF, and the 3GPP TS 33.220 KDF. */
#include <errno.h>
#include <string.h>

#include "common/kdf.h"
#include "common/secret.h"

static int prf_software(void *ctx, const uint8_t *msg, size_t msg_len,
			uint8_t out[static SHA256_LEN])
{
	const struct kdf_sw_key *k = ctx;

	return crypto_hmac_sha256(k->key, k->len, msg, msg_len, out);
}

void kdf_prf_software(struct kdf_sw_key *key, struct kdf_prf *ret)
{
	ret->hmac = prf_software;
	ret->ctx = key;
	ret->last_error = NULL;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

int kdf_counter(const struct kdf_prf *prf, const uint8_t *fixed, size_t fixed_len, uint8_t *out,
		size_t out_len)
{
	_cleanup_key32_ struct key32 block = { 0 };
	uint8_t *msg;
	size_t done = 0;
	uint32_t i = 1;
	int r = 0;

	if (!prf || !prf->hmac || out_len == 0 || fixed_len > KDF_MAX_INPUT)
		return -EINVAL;
	msg = malloc(4 + fixed_len);
	if (!msg)
		return -ENOMEM;
	if (fixed_len)
		memcpy(msg + 4, fixed, fixed_len);
	/* K(i) = PRF(KI, [i]_32 || FixedInput); out = K(1) || K(2) || ... truncated. */
	while (done < out_len) {
		size_t take = out_len - done < SHA256_LEN ? out_len - done : SHA256_LEN;

		put_be32(msg, i++);
		r = prf->hmac(prf->ctx, msg, 4 + fixed_len, block.b);
		if (r < 0)
			break;
		memcpy(out + done, block.b, take);
		done += take;
	}
	secret_free_buf(msg, 4 + fixed_len);
	if (r < 0)
		secret_wipe(out, out_len);
	return r;
}

int kdf_derive(const struct kdf_prf *prf, const char *label, const uint8_t *context,
	       size_t context_len, uint8_t out[static KDF_OUT_LEN])
{
	size_t label_len = strlen(label), n = 0;
	uint8_t *fixed;
	int r;

	if (label_len + context_len + 5 > KDF_MAX_INPUT)
		return -E2BIG;
	fixed = malloc(label_len + context_len + 5);
	if (!fixed)
		return -ENOMEM;
	/* Label || 0x00 || Context || [L]_32 with L = 256 bits. */
	memcpy(fixed, label, label_len);
	n += label_len;
	fixed[n++] = 0x00;
	if (context_len)
		memcpy(fixed + n, context, context_len);
	n += context_len;
	put_be32(fixed + n, KDF_OUT_LEN * 8);
	n += 4;
	r = kdf_counter(prf, fixed, n, out, KDF_OUT_LEN);
	secret_free_buf(fixed, n);
	return r;
}

int kdf_3gpp(const uint8_t *key, size_t key_len, uint8_t fc, const struct kdf_param *params,
	     size_t n_params, uint8_t out[static KDF_OUT_LEN])
{
	size_t total = 1, n = 0;
	uint8_t *s;
	int r;

	for (size_t i = 0; i < n_params; i++) {
		if (params[i].len > 0xffff)
			return -EINVAL;
		total += params[i].len + 2;
	}
	s = malloc(total);
	if (!s)
		return -ENOMEM;
	/* TS 33.220 B.2: S = FC || P0 || L0 || P1 || L1 || ..., Li two octets big endian. */
	s[n++] = fc;
	for (size_t i = 0; i < n_params; i++) {
		if (params[i].len)
			memcpy(s + n, params[i].data, params[i].len);
		n += params[i].len;
		s[n++] = (uint8_t)(params[i].len >> 8);
		s[n++] = (uint8_t)params[i].len;
	}
	r = crypto_hmac_sha256(key, key_len, s, n, out);
	secret_free_buf(s, total);
	return r;
}

int kdf_ks_naf(const uint8_t ks[static 32], const uint8_t rand[static 16], const char *impi,
	       const uint8_t *naf_id, size_t naf_id_len, uint8_t out[static KDF_OUT_LEN])
{
	static const char gba_me[] = "gba-me";
	const struct kdf_param p[] = {
		{ (const uint8_t *)gba_me, sizeof(gba_me) - 1 },
		{ rand, 16 },
		{ (const uint8_t *)impi, strlen(impi) },
		{ naf_id, naf_id_len },
	};

	return kdf_3gpp(ks, 32, 0x01, p, ARRAY_SIZE(p), out);
}
