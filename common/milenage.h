/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Milenage (3GPP TS 35.206 §4.1): the example AKA functions f1, f1*, f2, f3, f4,
 * f5, f5* and the OPc computation, with the r1..r5 / c1..c5 constants of §4.1.
 *
 * The block cipher E_K (AES-128 under the subscriber key K) is pluggable: the
 * software cipher below (wolfCrypt, K in memory) on the BSF's AuC and in tests,
 * TPM2_EncryptDecrypt2 with K as a TPM key on the node (tpm/), so that K never
 * enters process memory there. The code above E_K is the same for both.
 *
 * A struct milenage holds one run for one RAND: milenage_begin() computes
 * TEMP = E_K(RAND xor OPc) once, each f-function then costs one E_K call
 * (f1 and f1* share one; f2 and f5 share one). milenage_end() wipes it.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "common/util.h"

#define MILENAGE_K_LEN 16
#define MILENAGE_OP_LEN 16
#define MILENAGE_RAND_LEN 16
#define MILENAGE_SQN_LEN 6
#define MILENAGE_AMF_LEN 2
#define MILENAGE_MAC_LEN 8
#define MILENAGE_RES_LEN 8
#define MILENAGE_CK_LEN 16
#define MILENAGE_IK_LEN 16
#define MILENAGE_AK_LEN 6
#define MILENAGE_BLOCK_LEN 16

struct milenage_cipher {
	/* out = E_K(in), one AES-128 block under K; in and out may alias. 0 or -errno. */
	int (*encrypt)(void *ctx, const uint8_t in[static MILENAGE_BLOCK_LEN],
		       uint8_t out[static MILENAGE_BLOCK_LEN]);
	void *ctx;
};

/*
 * The software cipher: K in memory (an mlocked secret holding wolfCrypt's key
 * schedule). milenage_cipher_software_free() wipes and frees it; NULL-safe.
 */
int milenage_cipher_software_new(const uint8_t k[static MILENAGE_K_LEN],
				 struct milenage_cipher *ret);
void milenage_cipher_software_free(struct milenage_cipher *c);
#define _cleanup_milenage_cipher_ _cleanup_(milenage_cipher_software_free)

/* OPc = OP xor E_K(OP) (TS 35.206 §4.1). */
int milenage_opc(const struct milenage_cipher *cipher, const uint8_t op[static MILENAGE_OP_LEN],
		 uint8_t ret_opc[static MILENAGE_OP_LEN]);

struct milenage {
	const struct milenage_cipher *cipher;
	uint8_t opc[MILENAGE_OP_LEN];
	uint8_t temp[MILENAGE_BLOCK_LEN];
};

/* Starts a run for RAND: TEMP = E_K(RAND xor OPc). On failure m is wiped. */
int milenage_begin(struct milenage *m, const struct milenage_cipher *cipher,
		   const uint8_t opc[static MILENAGE_OP_LEN],
		   const uint8_t rand[static MILENAGE_RAND_LEN]);
/* Wipes TEMP and OPc. NULL is fine. */
void milenage_end(struct milenage *m);
#define _cleanup_milenage_ _cleanup_(milenage_end)

/* f1 (MAC-A) and f1* (MAC-S) over SQN || AMF; either output may be NULL. */
int milenage_f1(const struct milenage *m, const uint8_t sqn[static MILENAGE_SQN_LEN],
		const uint8_t amf[static MILENAGE_AMF_LEN], uint8_t *ret_mac_a,
		uint8_t *ret_mac_s);
/* f2 (RES, 8 bytes) and f5 (AK); either output may be NULL. */
int milenage_f2_f5(const struct milenage *m, uint8_t *ret_res, uint8_t *ret_ak);
/* f3 (CK). */
int milenage_f3(const struct milenage *m, uint8_t ret_ck[static MILENAGE_CK_LEN]);
/* f4 (IK). */
int milenage_f4(const struct milenage *m, uint8_t ret_ik[static MILENAGE_IK_LEN]);
/* f5* (AK for resynchronisation). */
int milenage_f5_star(const struct milenage *m, uint8_t ret_ak[static MILENAGE_AK_LEN]);
