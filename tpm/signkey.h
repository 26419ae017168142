/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node's PKI signing key: an ECDSA P-256 key created inside the TPM under
 * the storage primary key. Its private part never leaves the TPM; what is
 * stored is the TPM's own wrapped blobs, like Km's (tpm2_load -u signkey.pub
 * -r signkey.priv reads them). It signs SHA-256 digests: the TLS 1.3
 * CertificateVerify (through wolfSSL's PK callback, common/tls.h) and the
 * PKCS#10 request `m2msactl pki-keygen` writes.
 *
 * State directory, next to km.pub/km.priv (mode 0600 files):
 *   signkey.pub   marshalled TPM2B_PUBLIC
 *   signkey.priv  marshalled TPM2B_PRIVATE (wrapped by the storage key)
 *   node.crt      the certificate the provider's CA issued (m2msactl pki-install)
 *   chain.crt     optional intermediate CA certificates
 *
 * Errors as in tpm/keystore.h: 0 or -errno, with the message in tpm_last_error().
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "tpm/tpm-ctx.h"

#define TPM_SIGNKEY_PUB_FILE "signkey.pub"
#define TPM_SIGNKEY_PRIV_FILE "signkey.priv"
#define TPM_NODE_CERT_FILE "node.crt"
#define TPM_NODE_CHAIN_FILE "chain.crt"
#define TPM_P256_LEN 32
/* Largest DER ECDSA-Sig-Value for P-256: SEQUENCE { INTEGER r, INTEGER s }. */
#define TPM_ECDSA_DER_MAX 72

struct tpm_signkey;

/*
 * Create a new ECDSA P-256 (SHA-256) signing key in the TPM under the storage
 * primary key and write signkey.pub/signkey.priv into state_dir (created 0700
 * if missing; files replaced atomically). Any earlier signing key there is
 * replaced: its certificate no longer matches.
 */
int tpm_signkey_create(struct tpm_ctx *t, const char *state_dir);

/*
 * Load the signing key from state_dir until tpm_signkey_free(). -ENOENT when
 * there is none (run m2msactl pki-keygen), -EBADMSG for corrupt blobs.
 */
int tpm_signkey_load(struct tpm_ctx *t, const char *state_dir, struct tpm_signkey **ret);
/* Flush the key; NULL is fine. Free before its context. */
void tpm_signkey_free(struct tpm_signkey *k);
static inline void tpm_signkey_freep(struct tpm_signkey **k)
{
	tpm_signkey_free(*k);
	*k = NULL;
}

/* The public point, big-endian X and Y, each TPM_P256_LEN bytes. */
void tpm_signkey_public(const struct tpm_signkey *k, uint8_t ret_x[static TPM_P256_LEN],
			uint8_t ret_y[static TPM_P256_LEN]);

/*
 * ECDSA over a SHA-256 digest computed by the caller (TPM2_Sign, scheme ECDSA,
 * hash SHA-256). Returns r and s, each TPM_P256_LEN bytes, big-endian.
 */
int tpm_signkey_sign(struct tpm_signkey *k, const uint8_t *digest, size_t digest_len,
		     uint8_t ret_r[static TPM_P256_LEN], uint8_t ret_s[static TPM_P256_LEN]);

/*
 * The same signature DER-encoded as X.509/TLS want it (RFC 5480 / RFC 3279
 * ECDSA-Sig-Value). *ret_len gets the length (at most TPM_ECDSA_DER_MAX).
 */
int tpm_signkey_sign_der(struct tpm_signkey *k, const uint8_t *digest, size_t digest_len,
			 uint8_t *out, size_t out_len, size_t *ret_len);

/*
 * tpm_signkey_sign_der() with the signature of common/tls.h's tls_ecc_sign_fn,
 * for struct tls_signer { tpm_signkey_tls_sign, key }.
 */
int tpm_signkey_tls_sign(void *key, const uint8_t *digest, size_t digest_len, uint8_t *sig,
			 size_t sig_max, size_t *ret_sig_len);
