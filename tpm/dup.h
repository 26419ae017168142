/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Wrapped import of Km: a TPM 2.0 duplication blob built in software (on the MAS,
 * with no TPM), and the km.dup file that carries it to the node.
 *
 * The MAS wraps Km to the node's storage key (SRK, an ECC P-256 restricted
 * decryption key whose public part the node exports with m2msactl tpm-identity):
 *   ephemeral ECDH with the SRK's point; seed = KDFe(SHA256, Z, "DUPLICATE", x_e, x_srk)
 *   symKey  = KDFa(SHA256, seed, "STORAGE", objectName, "", 128)
 *   hmacKey = KDFa(SHA256, seed, "INTEGRITY", "", "", 256)
 *   dupSensitive = AES-128-CFB(symKey, IV 0, TPM2B_SENSITIVE)
 *   duplicate    = TPM2B(HMAC(hmacKey, dupSensitive || objectName)) || dupSensitive
 * (TPM 2.0 Part 1 §23.3.2, §11.4.10; checked against swtpm, see docs/tpm.md). Only
 * the node's TPM can open it (TPM2_Import); the key object it yields is a KEYEDHASH
 * HMAC-SHA256 key, neither fixedTPM nor fixedParent (TPM2_Import refuses those).
 *
 * km.dup layout (all integers big endian, TPM2B structures as tss2-mu marshals them):
 *   "M2MSADUP" | u16 version (1) | u16 len + node ID | u16 len + KmID
 *   | TPM2B_NAME of the SRK it is wrapped to | TPM2B_PUBLIC object
 *   | TPM2B_PRIVATE duplicate | TPM2B_ENCRYPTED_SECRET inSymSeed
 *   | TPM2B_PUBLIC policy signer, or u16 0 when the key has no signed PCR policy
 * The object, duplicate and seed are, one by one, the files tpm2_import -u / -i / -s
 * reads. With a signer, the object's authPolicy is PolicyAuthorize(signer) (tpm/policy.h).
 *
 * Nothing here prints; on failure err names the problem and the fix.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <tss2/tss2_tpm2_types.h>

#define TPM_DUP_MAGIC "M2MSADUP"
#define TPM_DUP_VERSION 1
#define TPM_DUP_ID_MAX 255
/* An upper bound for an encoded km.dup. */
#define TPM_DUP_FILE_MAX                                                                     \
	(8 + 2 + 2 * (2 + TPM_DUP_ID_MAX) + sizeof(TPM2B_NAME) + sizeof(TPM2B_PUBLIC) +      \
	 sizeof(TPM2B_PRIVATE) + sizeof(TPM2B_ENCRYPTED_SECRET) + sizeof(TPM2B_PUBLIC))
#define TPM_DUP_ERR_MAX 320

struct tpm_dup_blob {
	char node_id[TPM_DUP_ID_MAX + 1];
	char km_id[TPM_DUP_ID_MAX + 1];
	TPM2B_NAME parent_name;
	TPM2B_PUBLIC pub;
	TPM2B_PRIVATE dup;
	TPM2B_ENCRYPTED_SECRET seed;
	bool has_signer;
	TPM2B_PUBLIC signer; /* policy signer's public area, when has_signer */
};

/* Encode b into buf (len bytes); *ret_len the bytes used. -ENOBUFS when buf is too small. */
int tpm_dup_blob_encode(const struct tpm_dup_blob *b, uint8_t *buf, size_t len,
			size_t *ret_len);
/*
 * Decode a km.dup; -EBADMSG with a message naming the problem ("truncated",
 * "not a km.dup file", "unsupported version", trailing bytes, bad IDs).
 */
int tpm_dup_blob_decode(const uint8_t *buf, size_t len, struct tpm_dup_blob *ret, char *err,
			size_t err_len);

/*
 * Parse an srk.pub (marshalled TPM2B_PUBLIC, as m2msactl tpm-identity and
 * tpm2_readpublic -o write) and check that it is an ECC P-256 storage key
 * (restricted decrypt, AES-128-CFB, nameAlg SHA-256) with a point on the curve.
 * -EBADMSG / -EINVAL with a message otherwise.
 */
int tpm_srk_pub_parse(const uint8_t *buf, size_t len, TPM2B_PUBLIC *ret, char *err,
		      size_t err_len);

/* Name of an object with nameAlg SHA-256: 0x000b || SHA256(marshalled TPMT_PUBLIC). */
int tpm_public_name(const TPM2B_PUBLIC *pub, TPM2B_NAME *ret);

/* The public area of an imported Km: KEYEDHASH HMAC-SHA256, SIGN_ENCRYPT, no fixedTPM/
 * fixedParent; USERWITHAUTH without policy, else authPolicy = policy. unique is set by
 * tpm_dup_wrap(). */
void tpm_dup_km_template(const TPM2B_DIGEST *policy, TPM2B_PUBLIC *ret);

/*
 * Wrap km (32 bytes) to srk (from tpm_srk_pub_parse): fills ret->parent_name, pub,
 * dup and seed (node_id/km_id are the caller's). policy: NULL, or the authPolicy
 * the imported key gets (e.g. a PolicyAuthorize digest). Uses fresh randomness
 * for the ephemeral key and the object's seedValue.
 */
int tpm_dup_wrap(const TPM2B_PUBLIC *srk, const uint8_t km[static 32], const TPM2B_DIGEST *policy,
		 struct tpm_dup_blob *ret, char *err, size_t err_len);

