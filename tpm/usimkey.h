/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The USIM subscriber key K inside the TPM (method gba, usim backend "tpm"):
 * an AES-128 SYMCIPHER object under the storage primary key, encrypt-only
 * (signEncrypt set, decrypt clear), imported over a salted, parameter-encrypted
 * session like Km (tpm/keystore.h). Every AES block of Milenage that uses K
 * runs as TPM2_EncryptDecrypt2 (CBC, zero IV, one block: out = E_K(in)) with
 * the block parameter-encrypted in both directions, so neither K nor the
 * Milenage intermediates (RAND xor OPc, ...) cross the TPM interface in clear.
 *
 * A TPM without AES-CBC (the PC Client profile only requires CFB) answers
 * TPM_RC_MODE; the key then falls back for good to CFB with the block as the IV
 * over a zero block (also E_K(block)), where the block crosses the interface in
 * clear (the IV cannot be parameter-encrypted): K stays in the TPM, but a bus
 * sniffer could learn RAND xor OPc, hence OPc. tpm_usim_key_mode() tells which.
 *
 * State directory files (mode 0600): usim.pub, usim.priv (marshalled
 * TPM2B_PUBLIC / TPM2B_PRIVATE, wrapped by the storage key).
 *
 * Errors as in tpm/keystore.h: 0 or -errno, the message in tpm_last_error().
 */
#pragma once

#include <stdint.h>

#include "common/milenage.h"
#include "tpm/keystore.h"

#define TPM_USIM_PUB_FILE "usim.pub"
#define TPM_USIM_PRIV_FILE "usim.priv"
#define TPM_USIM_K_LEN MILENAGE_K_LEN

struct tpm_usim_key;

enum tpm_usim_mode {
	TPM_USIM_MODE_CBC, /* inData = block, IV = 0: the block is encrypted on the wire */
	TPM_USIM_MODE_CFB, /* IV = block, inData = 0: fallback, the block in clear on the wire */
	_TPM_USIM_MODE_MAX,
};

/* Import K (16 bytes) and write usim.pub/usim.priv into state_dir (created 0700). The caller wipes k. */
int tpm_usim_key_provision(struct tpm_ctx *t, const char *state_dir,
			   const uint8_t k[static TPM_USIM_K_LEN]);
/* Load K from state_dir; -ENOENT when not provisioned, -EBADMSG for corrupt/foreign blobs. */
int tpm_usim_key_load(struct tpm_ctx *t, const char *state_dir, struct tpm_usim_key **ret);
/* Flush the key and its session; NULL is fine. Free before its context. */
void tpm_usim_key_free(struct tpm_usim_key *k);
static inline void tpm_usim_key_freep(struct tpm_usim_key **k)
{
	tpm_usim_key_free(*k);
	*k = NULL;
}
/* out = E_K(in), one AES-128 block, computed by the TPM. */
int tpm_usim_key_encrypt(struct tpm_usim_key *k, const uint8_t in[static MILENAGE_BLOCK_LEN],
			 uint8_t out[static MILENAGE_BLOCK_LEN]);
/* The mode in use (CBC unless the TPM refused it). */
enum tpm_usim_mode tpm_usim_key_mode(const struct tpm_usim_key *k);
/* Force a mode (tests check that both give E_K; nothing else needs this). */
void tpm_usim_key_set_mode(struct tpm_usim_key *k, enum tpm_usim_mode mode);
/* The Milenage E_K backed by tpm_usim_key_encrypt(); k must outlive it. */
void tpm_usim_key_cipher(struct tpm_usim_key *k, struct milenage_cipher *ret);
