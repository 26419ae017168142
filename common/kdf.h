/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Key derivation functions.
 *
 * kdf_derive(): NIST SP 800-108r1 KDF in counter mode, PRF = HMAC-SHA256, one
 * 32-byte block, exactly as m2msa's key hierarchy uses it:
 *   KDF(KI, Label, Context) = PRF(KI, 0x00000001 || Label || 0x00 || Context || 0x00000100)
 * The PRF is pluggable: software (wolfCrypt, struct kdf_sw_key) on the MAS and in
 * tests, TPM2_HMAC with the Km object on the node (tpm/), so Km never leaves the TPM.
 *
 * kdf_3gpp(): the generic KDF of 3GPP TS 33.220 Annex B.2 (S = FC || P0 || L0 || ...),
 * which gives Ks_NAF for the GBA method.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "common/crypto.h"

#define KDF_OUT_LEN 32
/* Longest fixed input data kdf_derive() builds (label + context + framing). */
#define KDF_MAX_INPUT 1024

struct kdf_prf {
	/* out = HMAC-SHA256(KI, msg); returns 0 or -errno. */
	int (*hmac)(void *ctx, const uint8_t *msg, size_t msg_len, uint8_t out[static SHA256_LEN]);
	void *ctx;
	/* Optional: what went wrong in the last failed hmac(), for a person (e.g. the
	 * TPM's refusal of a PCR policy, naming the PCRs); NULL or "" when unknown. */
	const char *(*last_error)(void *ctx);
};

/* A software PRF over a key held in memory (the caller keeps key alive and wipes it). */
struct kdf_sw_key {
	const uint8_t *key;
	size_t len;
};
void kdf_prf_software(struct kdf_sw_key *key, struct kdf_prf *ret);

/*
 * SP 800-108r1 counter mode, counter (32 bits, big endian) before the fixed input,
 * for out_len bytes; fixed is the caller's fixed input data (it already encodes L).
 * This is the form NIST CAVP KBKDF vectors test.
 */
int kdf_counter(const struct kdf_prf *prf, const uint8_t *fixed, size_t fixed_len, uint8_t *out,
		size_t out_len);

/* m2msa's KDF: one 32-byte block, fixed input = Label || 0x00 || Context || 0x00000100. */
int kdf_derive(const struct kdf_prf *prf, const char *label, const uint8_t *context,
	       size_t context_len, uint8_t out[static KDF_OUT_LEN]);

/* One input parameter Pi of the 3GPP KDF; Li is its length as two bytes, big endian. */
struct kdf_param {
	const uint8_t *data;
	size_t len;
};

/* TS 33.220 B.2: HMAC-SHA-256(key, FC || P0 || L0 || ... || Pn || Ln). */
int kdf_3gpp(const uint8_t *key, size_t key_len, uint8_t fc, const struct kdf_param *params,
	     size_t n_params, uint8_t out[static KDF_OUT_LEN]);

/*
 * TS 33.220 B.3: Ks_NAF = KDF(Ks, "gba-me", RAND, IMPI, NAF_Id), FC = 0x01,
 * Ks = CK || IK (32 bytes), NAF_Id = NAF FQDN || Ua security protocol id (5 bytes).
 */
int kdf_ks_naf(const uint8_t ks[static 32], const uint8_t rand[static 16], const char *impi,
	       const uint8_t *naf_id, size_t naf_id_len, uint8_t out[static KDF_OUT_LEN]);
