/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Signed PCR policies (TPM2_PolicyAuthorize), the software half: digests, the
 * policy-signing key, and the signed policy file. No TPM needed (the MAS signs).
 *
 * A Km whose authPolicy is PolicyAuthorize(signer) can be used whenever the TPM
 * accepts a PolicyPCR digest the signer signed. A firmware update changes PCRs;
 * the provider signs a policy for the new values (m2masctl policy sign), the node
 * installs it (m2msactl policy-install) and Km keeps working, no re-provisioning.
 *
 *   PolicyPCR digest  = SHA256(0^32 || 0000017f || TPML_PCR_SELECTION || SHA256(values))
 *   authPolicy        = SHA256(SHA256(0^32 || 0000016a || signerName) || policyRef)
 *   signed message    = aHash = SHA256(approvedPolicy || policyRef), ECDSA P-256/SHA-256
 * policyRef is empty. The signer key's Name is that of its public area under the
 * template tpm_policy_signer_public() builds (the node loads the same area).
 *
 * Signed policy file (text, one item per line, '#' comments):
 *   m2msa-policy 1
 *   epoch N                  (newer policies have higher epochs)
 *   pcrs sha256:0,2,4,7
 *   pcr 0 <64 hex>           (one line per selected PCR, ascending)
 *   signature <128 hex>      (r || s over aHash)
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <tss2/tss2_tpm2_types.h>

#define TPM_POLICY_DIR "policies"
#define TPM_POLICY_SIGNER_FILE "policy-signer.pub"
/* In TPM_POLICY_DIR: policies with a lower epoch are retired (m2msactl policy-retire). */
#define TPM_POLICY_RETIRED_FILE "retired-below"
#define TPM_POLICY_FILE_MAX 8192
#define TPM_POLICY_ERR_MAX 320
#define TPM_PCR_COUNT 24

struct tpm_signed_policy {
	uint32_t epoch;
	uint32_t pcr_mask;
	uint8_t pcr[TPM_PCR_COUNT][32]; /* values of the selected PCRs */
	uint8_t sig_r[32], sig_s[32];
};

/* PolicyPCR digest (from an empty policy) for the selected PCRs' values. */
int tpm_policy_pcr_digest(uint32_t mask, const uint8_t values[TPM_PCR_COUNT][32],
			  uint8_t out[static 32]);
/* authPolicy of a key bound to the signer: PolicyAuthorize(signerName, empty policyRef). */
int tpm_policy_authorize_digest(const TPM2B_NAME *signer, uint8_t out[static 32]);
/* aHash = SHA256(approvedPolicy) (empty policyRef): what the signer signs. */
int tpm_policy_ahash(const uint8_t approved[static 32], uint8_t out[static 32]);

/* The public area of a P-256 signing key (x, y), as both sides load it. */
void tpm_policy_signer_public(const uint8_t x[static 32], const uint8_t y[static 32],
			      TPM2B_PUBLIC *ret);
/* A P-256 public key in PEM (SubjectPublicKeyInfo) or as a private key PEM. */
int tpm_policy_signer_from_pem(const char *pem, size_t len, TPM2B_PUBLIC *ret, char *err,
			       size_t err_len);

/* Sign p (its epoch, mask and values) with the P-256 private key in key_pem. */
int tpm_policy_sign(struct tpm_signed_policy *p, const char *key_pem, size_t key_len,
		    const TPM2B_PUBLIC *expect_signer, char *err, size_t err_len);
/* Check p's signature in software: 0, or -EBADMSG when signer did not sign it. */
int tpm_policy_verify(const struct tpm_signed_policy *p, const TPM2B_PUBLIC *signer);

/* "sha256:0,2,4,7" or "0,2,4,7" -> bit mask of PCRs (0..23). */
int tpm_policy_pcrs_parse(const char *s, uint32_t *ret);

/* The file text of p (malloc()ed). */
int tpm_policy_format(const struct tpm_signed_policy *p, char **ret);
/* Parse a signed policy file; -EBADMSG with a message naming the line. */
int tpm_policy_parse(const char *text, size_t len, struct tpm_signed_policy *ret, char *err,
		     size_t err_len);
/*
 * PCR values of the PCRs in mask from tpm2_pcrread's output ("  4 : 0x<hex>") or
 * "pcr 4 <hex>" lines; every selected PCR must be present.
 */
int tpm_pcr_values_parse(const char *text, size_t len, uint32_t mask,
			 uint8_t values[TPM_PCR_COUNT][32], char *err, size_t err_len);
