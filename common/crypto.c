/* SPDX-License-Identifier: Apache-2.0 */
/* HMAC-SHA256, HKDF-SHA256, AES-256-GCM and random bytes on wolfCrypt and getrandom(2). */
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/aes.h>
#include <wolfssl/wolfcrypt/hmac.h>

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "common/crypto.h"
#include "common/secret.h"

int crypto_hmac_sha256(const uint8_t *key, size_t key_len, const uint8_t *data, size_t data_len,
		       uint8_t out[static SHA256_LEN])
{
	Hmac h;
	int r = -EIO;

	if (key_len > UINT32_MAX || data_len > UINT32_MAX)
		return -EINVAL;
	if (wc_HmacInit(&h, NULL, INVALID_DEVID) != 0)
		return -EIO;
	/* wolfSSL refuses HMAC keys shorter than 14 bytes in FIPS mode only. */
	if (wc_HmacSetKey(&h, WC_SHA256, key, (word32)key_len) != 0)
		goto out;
	if (data_len && wc_HmacUpdate(&h, data, (word32)data_len) != 0)
		goto out;
	if (wc_HmacFinal(&h, out) != 0)
		goto out;
	r = 0;
out:
	wc_HmacFree(&h);
	secret_wipe(&h, sizeof(h));
	return r;
}

/*
 * The per-message copy of a hash state is a plain struct copy: true unless wolfSSL
 * keeps a cached W buffer, the message (WOLFSSL_HASH_KEEP) or an async context in it (the states are made with
 * INVALID_DEVID, so no crypto-callback device holds state for them either).
 */
#if defined(WOLFSSL_SMALL_STACK_CACHE) || defined(WOLFSSL_ASYNC_CRYPT) || defined(WOLFSSL_HASH_KEEP)
#error "crypto_hmac_key copies wc_Sha256 by assignment; use wc_Sha256Copy for this wolfSSL build"
#endif

#define HMAC_BLOCK 64

int crypto_hmac_key_init(struct crypto_hmac_key *hk, const uint8_t *key, size_t key_len)
{
	uint8_t k0[HMAC_BLOCK] = { 0 }, pad[HMAC_BLOCK];
	int r = 0;

	if (key_len > UINT32_MAX)
		return -EINVAL;
	memset(hk, 0, sizeof(*hk));
	/* RFC 2104 §2: a key longer than the block is hashed first, a shorter one zero-padded. */
	if (key_len > HMAC_BLOCK) {
		r = wc_Sha256Hash(key, (word32)key_len, k0) != 0 ? -EIO : 0;
	} else if (key_len) {
		memcpy(k0, key, key_len);
	}
	for (size_t i = 0; i < HMAC_BLOCK && r == 0; i++)
		pad[i] = k0[i] ^ 0x36;
	if (r == 0 && (wc_InitSha256_ex(&hk->inner, NULL, INVALID_DEVID) != 0 || wc_Sha256Update(&hk->inner, pad, HMAC_BLOCK) != 0))
		r = -EIO;
	for (size_t i = 0; i < HMAC_BLOCK && r == 0; i++)
		pad[i] = k0[i] ^ 0x5c;
	if (r == 0 && (wc_InitSha256_ex(&hk->outer, NULL, INVALID_DEVID) != 0 || wc_Sha256Update(&hk->outer, pad, HMAC_BLOCK) != 0))
		r = -EIO;
	secret_wipe(k0, sizeof(k0));
	secret_wipe(pad, sizeof(pad));
	if (r < 0)
		crypto_hmac_key_clear(hk);
	return r;
}

int crypto_hmac_key_sha256(const struct crypto_hmac_key *hk, const uint8_t *data, size_t data_len,
			   uint8_t out[static SHA256_LEN])
{
	uint8_t inner[SHA256_LEN];
	wc_Sha256 h = hk->inner;
	int r = 0;

	if (data_len > UINT32_MAX)
		r = -EINVAL;
	else if ((data_len && wc_Sha256Update(&h, data, (word32)data_len) != 0) ||
		 wc_Sha256Final(&h, inner) != 0)
		r = -EIO;
	wc_Sha256Free(&h);
	if (r == 0) {
		h = hk->outer;
		if (wc_Sha256Update(&h, inner, SHA256_LEN) != 0 || wc_Sha256Final(&h, out) != 0)
			r = -EIO;
		wc_Sha256Free(&h);
	}
	secret_wipe(&h, sizeof(h));
	secret_wipe(inner, sizeof(inner));
	return r;
}

void crypto_hmac_key_clear(struct crypto_hmac_key *hk)
{
	if (!hk)
		return;
	wc_Sha256Free(&hk->inner);
	wc_Sha256Free(&hk->outer);
	secret_wipe(hk, sizeof(*hk));
}

int crypto_hkdf_sha256_extract(const uint8_t *ikm, size_t ikm_len, const uint8_t *salt,
			       size_t salt_len, uint8_t prk[static SHA256_LEN])
{
	static const uint8_t zeros[SHA256_LEN];

	/* RFC 5869 2.2: a missing salt is HashLen zero bytes. */
	if (!salt || salt_len == 0) {
		salt = zeros;
		salt_len = sizeof(zeros);
	}
	return crypto_hmac_sha256(salt, salt_len, ikm, ikm_len, prk);
}

int crypto_hkdf_sha256(const uint8_t *ikm, size_t ikm_len, const uint8_t *salt, size_t salt_len,
		       const uint8_t *info, size_t info_len, uint8_t *out, size_t out_len)
{
	_cleanup_key32_ struct key32 prk = { 0 };
	_cleanup_key32_ struct key32 t = { 0 };
	uint8_t buf[SHA256_LEN + 1024 + 1];
	size_t t_len = 0, done = 0;
	uint8_t counter = 1;
	int r;

	if (out_len == 0 || out_len > 255 * SHA256_LEN || info_len > 1024)
		return -EINVAL;
	r = crypto_hkdf_sha256_extract(ikm, ikm_len, salt, salt_len, prk.b);
	if (r < 0)
		return r;
	/* RFC 5869 2.3: T(i) = HMAC(PRK, T(i-1) || info || i). */
	while (done < out_len) {
		size_t n = 0, take;

		memcpy(buf, t.b, t_len);
		n += t_len;
		if (info_len)
			memcpy(buf + n, info, info_len);
		n += info_len;
		buf[n++] = counter++;
		r = crypto_hmac_sha256(prk.b, sizeof(prk.b), buf, n, t.b);
		if (r < 0)
			break;
		t_len = SHA256_LEN;
		take = out_len - done < SHA256_LEN ? out_len - done : SHA256_LEN;
		memcpy(out + done, t.b, take);
		done += take;
	}
	secret_wipe(buf, sizeof(buf));
	if (r < 0)
		secret_wipe(out, out_len);
	return r;
}

int crypto_random(void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int crypto_seal(const uint8_t key[static 32], const uint8_t *aad, size_t aad_len,
		const uint8_t *in, size_t in_len, uint8_t *out)
{
	uint8_t iv[AES_GCM_IV_LEN];
	int r = crypto_random(iv, sizeof(iv));

	return r < 0 ? r : crypto_seal_iv(key, iv, aad, aad_len, in, in_len, out);
}

int crypto_seal_iv(const uint8_t key[static 32], const uint8_t iv[static AES_GCM_IV_LEN],
		   const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t in_len,
		   uint8_t *out)
{
	Aes aes;
	int r;

	if (in_len > UINT32_MAX || aad_len > UINT32_MAX)
		return -EINVAL;
	memmove(out, iv, AES_GCM_IV_LEN);
	if (wc_AesInit(&aes, NULL, INVALID_DEVID) != 0)
		return -EIO;
	r = -EIO;
	if (wc_AesGcmSetKey(&aes, key, 32) != 0)
		goto out;
	if (wc_AesGcmEncrypt(&aes, out + AES_GCM_IV_LEN, in, (word32)in_len, out, AES_GCM_IV_LEN,
			     out + AES_GCM_IV_LEN + in_len, AES_GCM_TAG_LEN, aad,
			     (word32)aad_len) != 0)
		goto out;
	r = 0;
out:
	wc_AesFree(&aes);
	secret_wipe(&aes, sizeof(aes));
	return r;
}

int crypto_open(const uint8_t key[static 32], const uint8_t *aad, size_t aad_len,
		const uint8_t *in, size_t in_len, uint8_t *out)
{
	size_t ct_len;
	Aes aes;
	int r;

	if (in_len < CRYPTO_SEAL_OVERHEAD || in_len > UINT32_MAX || aad_len > UINT32_MAX)
		return -EBADMSG;
	ct_len = in_len - CRYPTO_SEAL_OVERHEAD;
	if (wc_AesInit(&aes, NULL, INVALID_DEVID) != 0)
		return -EIO;
	r = -EIO;
	if (wc_AesGcmSetKey(&aes, key, 32) != 0)
		goto out;
	r = wc_AesGcmDecrypt(&aes, out, in + AES_GCM_IV_LEN, (word32)ct_len, in, AES_GCM_IV_LEN,
			     in + AES_GCM_IV_LEN + ct_len, AES_GCM_TAG_LEN, aad, (word32)aad_len);
	if (r != 0) {
		secret_wipe(out, ct_len);
		r = -EBADMSG;
		goto out;
	}
	r = 0;
out:
	wc_AesFree(&aes);
	secret_wipe(&aes, sizeof(aes));
	return r;
}
