/* SPDX-License-Identifier: Apache-2.0 */
/* HMAC-SHA256, HKDF-SHA256 (RFC 5869), AES-256-GCM and a CSPRNG, on wolfCrypt. */
#pragma once

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN 32
#define AES_GCM_IV_LEN 12
#define AES_GCM_TAG_LEN 16

int crypto_hmac_sha256(const uint8_t *key, size_t key_len, const uint8_t *data, size_t data_len,
		       uint8_t out[static SHA256_LEN]);

/*
 * HMAC-SHA256 under one key many times (RFC 2104 §4: the hash states after
 * K xor ipad and K xor opad are computed once per key and copied per message,
 * which saves two of the compression-function calls of each HMAC). The result
 * is crypto_hmac_sha256's, bit for bit. The states derive from the key: wipe
 * them with crypto_hmac_key_clear().
 */
struct crypto_hmac_key {
	wc_Sha256 inner, outer;
};
int crypto_hmac_key_init(struct crypto_hmac_key *hk, const uint8_t *key, size_t key_len);
int crypto_hmac_key_sha256(const struct crypto_hmac_key *hk, const uint8_t *data, size_t data_len,
			   uint8_t out[static SHA256_LEN]);
void crypto_hmac_key_clear(struct crypto_hmac_key *hk);

/* RFC 5869: Extract then Expand; salt may be NULL with salt_len 0. out_len <= 255*32. */
int crypto_hkdf_sha256(const uint8_t *ikm, size_t ikm_len, const uint8_t *salt, size_t salt_len,
		       const uint8_t *info, size_t info_len, uint8_t *out, size_t out_len);
int crypto_hkdf_sha256_extract(const uint8_t *ikm, size_t ikm_len, const uint8_t *salt,
			       size_t salt_len, uint8_t prk[static SHA256_LEN]);

/* Fill buf with len bytes from the system CSPRNG (getrandom). */
int crypto_random(void *buf, size_t len);

/*
 * AES-256-GCM with a random 12-byte IV. Sealed form: iv(12) || ciphertext || tag(16),
 * so sealed_len = in_len + 28. aad binds the record (e.g. the node ID) to the key.
 * crypto_open returns -EBADMSG when the tag does not verify.
 */
#define CRYPTO_SEAL_OVERHEAD (AES_GCM_IV_LEN + AES_GCM_TAG_LEN)
int crypto_seal(const uint8_t key[static 32], const uint8_t *aad, size_t aad_len,
		const uint8_t *in, size_t in_len, uint8_t *out);
/* crypto_seal with an IV the caller drew (with other random bytes, in one call). */
int crypto_seal_iv(const uint8_t key[static 32], const uint8_t iv[static AES_GCM_IV_LEN],
		   const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t in_len,
		   uint8_t *out);
int crypto_open(const uint8_t key[static 32], const uint8_t *aad, size_t aad_len,
		const uint8_t *in, size_t in_len, uint8_t *out);
