/* SPDX-License-Identifier: Apache-2.0 */
/*
 * m2msa's profile of JWE compact serialization (RFC 7516 §7.1) for end-to-end
 * protected messages between AEs (docs/libm2msa.md "Sealed messages", TS-0003
 * §10.3.8.2 ESPrim): "alg" "dir", "enc" "A256GCM", "kid" the pairwise key's ID,
 * and the two ESPrim random objects "ro" (originator) and "rr" (receiver), 16
 * bytes each, base64url. The content key is
 *
 *   sessionESPrimKey = HMAC-SHA256(pairwiseESPrimKey, rr || ro ||
 *                      "oneM2M HMAC-SHA256 sessionESPrimKey derivation algorithm")
 *
 * Parsing is strict: five base64url parts (no padding, canonical trailing bits),
 * an empty encrypted-key part, a 12-byte IV, a 16-byte tag, and a protected header
 * that is byte for byte the one jwe_seal() writes for its fields (so one message
 * has one form). The header is the AES-GCM additional data (RFC 7516 §5.1 step 14).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "common/crypto.h"
#include "common/wire.h"

#define JWE_RAND_LEN 16
#define JWE_KEY_LEN 32
#define JWE_MSG_MAX 65536 /* plaintext bytes */
#define JWE_MAX (4 * (JWE_MSG_MAX + 2) / 3 + 1024)

extern const char jwe_session_label[];

struct jwe_parsed {
	char kid[WIRE_KEY_ID_MAX + 1];
	uint8_t ro[JWE_RAND_LEN], rr[JWE_RAND_LEN];
	uint8_t *sealed;   /* iv(12) || ciphertext || tag(16), malloc()ed */
	size_t sealed_len;
	const char *aad;   /* the base64url header inside the input */
	size_t aad_len;
};

/* sessionESPrimKey into out (32 bytes). */
int jwe_session_key_hk(const struct crypto_hmac_key *pairwise, const uint8_t rr[static JWE_RAND_LEN],
		       const uint8_t ro[static JWE_RAND_LEN], uint8_t out[static JWE_KEY_LEN]);
int jwe_session_key(const uint8_t pairwise[static JWE_KEY_LEN], const uint8_t rr[static JWE_RAND_LEN],
		    const uint8_t ro[static JWE_RAND_LEN], uint8_t out[static JWE_KEY_LEN]);

/* Seal msg into a NUL-terminated compact JWE (malloc()ed). -EINVAL for a bad kid or size. */
int jwe_seal(const uint8_t pairwise[static JWE_KEY_LEN], const char *kid,
	     const uint8_t ro[static JWE_RAND_LEN], const uint8_t rr[static JWE_RAND_LEN],
	     const uint8_t *msg, size_t len, char **ret);

/*
 * jwe_seal with the pairwise key's HMAC pads computed once (crypto_hmac_key_init)
 * and the AES-GCM IV drawn by the caller (fresh random for every message).
 */
int jwe_seal_hk(const struct crypto_hmac_key *pairwise, const char *kid,
		const uint8_t ro[static JWE_RAND_LEN], const uint8_t rr[static JWE_RAND_LEN],
		const uint8_t iv[static AES_GCM_IV_LEN], const uint8_t *msg, size_t len, char **ret);

/* Strict parse of len bytes (no NUL needed). -EBADMSG when malformed. jwe_parsed_clear() after. */
int jwe_parse(const char *jwe, size_t len, struct jwe_parsed *ret);
void jwe_parsed_clear(struct jwe_parsed *p);

/* Decrypt a parsed JWE with the pairwise key: -EBADMSG when the tag does not verify. */
int jwe_open(const uint8_t pairwise[static JWE_KEY_LEN], const struct jwe_parsed *p,
	     uint8_t **ret_msg, size_t *ret_len);
int jwe_open_hk(const struct crypto_hmac_key *pairwise, const struct jwe_parsed *p,
		uint8_t **ret_msg, size_t *ret_len);
