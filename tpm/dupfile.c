/* SPDX-License-Identifier: Apache-2.0 */
/* The km.dup file (encode/decode), srk.pub checks and object Names for the wrapped import. */
#include <wolfssl/options.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tss2/tss2_mu.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include "tpm/dup.h"

static bool id_ok(const char *s, size_t n)
{
	if (n == 0 || n > TPM_DUP_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      (c && strchr("._-@/:~", c))))
			return false;
	}
	return true;
}

static int put_id(const char *s, uint8_t *buf, size_t len, size_t *off)
{
	size_t n = strlen(s);

	if (!id_ok(s, n))
		return -EINVAL;
	if (len - *off < 2 + n)
		return -ENOBUFS;
	buf[(*off)++] = (uint8_t)(n >> 8);
	buf[(*off)++] = (uint8_t)n;
	memcpy(buf + *off, s, n);
	*off += n;
	return 0;
}

int tpm_dup_blob_encode(const struct tpm_dup_blob *b, uint8_t *buf, size_t len, size_t *ret_len)
{
	size_t off = 0;
	TSS2_RC rc;
	int r;

	if (!b || !buf || !ret_len)
		return -EINVAL;
	if (len < 10)
		return -ENOBUFS;
	memcpy(buf, TPM_DUP_MAGIC, 8);
	buf[8] = 0;
	buf[9] = TPM_DUP_VERSION;
	off = 10;
	r = put_id(b->node_id, buf, len, &off);
	if (r < 0)
		return r;
	r = put_id(b->km_id, buf, len, &off);
	if (r < 0)
		return r;
	rc = Tss2_MU_TPM2B_NAME_Marshal(&b->parent_name, buf, len, &off);
	if (rc == TSS2_RC_SUCCESS)
		rc = Tss2_MU_TPM2B_PUBLIC_Marshal(&b->pub, buf, len, &off);
	if (rc == TSS2_RC_SUCCESS)
		rc = Tss2_MU_TPM2B_PRIVATE_Marshal(&b->dup, buf, len, &off);
	if (rc == TSS2_RC_SUCCESS)
		rc = Tss2_MU_TPM2B_ENCRYPTED_SECRET_Marshal(&b->seed, buf, len, &off);
	if (rc == TSS2_RC_SUCCESS && b->has_signer)
		rc = Tss2_MU_TPM2B_PUBLIC_Marshal(&b->signer, buf, len, &off);
	else if (rc == TSS2_RC_SUCCESS)
		rc = Tss2_MU_UINT16_Marshal(0, buf, len, &off);
	if (rc != TSS2_RC_SUCCESS)
		return -ENOBUFS;
	*ret_len = off;
	return 0;
}

static int get_id(const uint8_t *buf, size_t len, size_t *off, char *out)
{
	size_t n;

	if (len - *off < 2)
		return -EBADMSG;
	n = (size_t)buf[*off] << 8 | buf[*off + 1];
	*off += 2;
	if (len - *off < n)
		return -EBADMSG;
	if (!id_ok((const char *)buf + *off, n))
		return -EINVAL;
	memcpy(out, buf + *off, n);
	out[n] = '\0';
	*off += n;
	return 0;
}

/* A size field that disagrees with its structure decodes, but does not encode back. */
static bool canonical(const struct tpm_dup_blob *b, const uint8_t *buf, size_t len)
{
	uint8_t *again = malloc(TPM_DUP_FILE_MAX);
	size_t n = 0;
	bool ok;

	if (!again)
		return false;
	ok = tpm_dup_blob_encode(b, again, TPM_DUP_FILE_MAX, &n) == 0 && n == len &&
	     memcmp(again, buf, len) == 0;
	free(again);
	return ok;
}

int tpm_dup_blob_decode(const uint8_t *buf, size_t len, struct tpm_dup_blob *ret, char *err,
			size_t err_len)
{
	struct tpm_dup_blob b;
	size_t off;
	TSS2_RC rc;
	int r;

	if (!buf || !ret)
		return -EINVAL;
	memset(&b, 0, sizeof(b));
	if (len < 8 || memcmp(buf, TPM_DUP_MAGIC, 8) != 0) {
		snprintf(err, err_len, "not a km.dup file (it does not start with " TPM_DUP_MAGIC
				       "; make one with m2masctl node add --wrap-to)");
		return -EBADMSG;
	}
	if (len < 10) {
		snprintf(err, err_len, "the km.dup file is truncated (ask for it again)");
		return -EBADMSG;
	}
	if (buf[8] != 0 || buf[9] != TPM_DUP_VERSION) {
		snprintf(err, err_len,
			 "unsupported km.dup version %u (this m2msactl reads version %d; update it)",
			 (unsigned)buf[8] << 8 | buf[9], TPM_DUP_VERSION);
		return -EBADMSG;
	}
	off = 10;
	r = get_id(buf, len, &off, b.node_id);
	if (r == 0)
		r = get_id(buf, len, &off, b.km_id);
	if (r == -EINVAL) {
		snprintf(err, err_len, "the km.dup file has an invalid node ID or KmID (damaged?)");
		return -EBADMSG;
	}
	if (r < 0)
		goto truncated;
	rc = Tss2_MU_TPM2B_NAME_Unmarshal(buf, len, &off, &b.parent_name);
	if (rc == TSS2_RC_SUCCESS)
		rc = Tss2_MU_TPM2B_PUBLIC_Unmarshal(buf, len, &off, &b.pub);
	if (rc == TSS2_RC_SUCCESS)
		rc = Tss2_MU_TPM2B_PRIVATE_Unmarshal(buf, len, &off, &b.dup);
	if (rc == TSS2_RC_SUCCESS)
		rc = Tss2_MU_TPM2B_ENCRYPTED_SECRET_Unmarshal(buf, len, &off, &b.seed);
	if (rc != TSS2_RC_SUCCESS || len - off < 2)
		goto truncated;
	if (buf[off] == 0 && buf[off + 1] == 0) {
		off += 2;
	} else {
		rc = Tss2_MU_TPM2B_PUBLIC_Unmarshal(buf, len, &off, &b.signer);
		if (rc != TSS2_RC_SUCCESS)
			goto truncated;
		b.has_signer = true;
	}
	if (off != len) {
		snprintf(err, err_len,
			 "the km.dup file has %zu unexpected bytes at its end (damaged? ask for it again)",
			 len - off);
		return -EBADMSG;
	}
	if (!canonical(&b, buf, len)) {
		snprintf(err, err_len,
			 "the km.dup file is damaged: a size field does not match its content (ask "
			 "for it again)");
		return -EBADMSG;
	}
	*ret = b;
	memset(&b, 0, sizeof(b));
	return 0;
truncated:
	snprintf(err, err_len,
		 "the km.dup file is truncated or damaged (%zu bytes; ask the provider to send it again)",
		 len);
	return -EBADMSG;
}

static const char *curve_name(TPMI_ECC_CURVE c)
{
	switch (c) {
	case TPM2_ECC_NIST_P192: return "NIST P-192";
	case TPM2_ECC_NIST_P224: return "NIST P-224";
	case TPM2_ECC_NIST_P384: return "NIST P-384";
	case TPM2_ECC_NIST_P521: return "NIST P-521";
	case TPM2_ECC_BN_P256: return "BN P-256";
	case TPM2_ECC_BN_P638: return "BN P-638";
	case TPM2_ECC_SM2_P256: return "SM2 P-256";
	default: return "an unknown curve";
	}
}

/* The SRK's point must be on P-256 (wolfCrypt's public-key check). */
static int point_ok(const TPMS_ECC_POINT *p)
{
	ecc_key key;
	int ok;

	if (p->x.size != 32 || p->y.size != 32)
		return 0;
	if (wc_ecc_init(&key) != 0)
		return 0;
	ok = wc_ecc_import_unsigned(&key, p->x.buffer, p->y.buffer, NULL, ECC_SECP256R1) == 0 &&
	     wc_ecc_check_key(&key) == 0;
	wc_ecc_free(&key);
	return ok;
}

int tpm_srk_pub_parse(const uint8_t *buf, size_t len, TPM2B_PUBLIC *ret, char *err,
		      size_t err_len)
{
	const TPMA_OBJECT need = TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;
	TPM2B_PUBLIC pub = { 0 };
	const TPMT_PUBLIC *a = &pub.publicArea;
	const TPMT_SYM_DEF_OBJECT *sym = &a->parameters.eccDetail.symmetric;
	size_t off = 0;
	TSS2_RC rc;

	rc = Tss2_MU_TPM2B_PUBLIC_Unmarshal(buf, len, &off, &pub);
	if (rc == TSS2_RC_SUCCESS && off == len) {
		uint8_t again[sizeof(TPM2B_PUBLIC)];
		size_t n = 0;

		/* the inner size must match the structure (tss2-mu does not check it) */
		if (Tss2_MU_TPM2B_PUBLIC_Marshal(&pub, again, sizeof(again), &n) != TSS2_RC_SUCCESS ||
		    n != len || memcmp(again, buf, len) != 0)
			off = 0;
	}
	if (rc != TSS2_RC_SUCCESS || off != len) {
		snprintf(err, err_len,
			 "not a storage key's public part (expected a marshalled TPM2B_PUBLIC as "
			 "m2msactl tpm-identity writes it to srk.pub)");
		return -EBADMSG;
	}
	if (a->type != TPM2_ALG_ECC) {
		snprintf(err, err_len,
			 "not an SRK m2msa can wrap to: it is %s key, not ECC (use the srk.pub "
			 "m2msactl tpm-identity writes: the ECC P-256 storage key)",
			 a->type == TPM2_ALG_RSA ? "an RSA" : "a non-ECC");
		return -EINVAL;
	}
	if (a->parameters.eccDetail.curveID != TPM2_ECC_NIST_P256) {
		snprintf(err, err_len,
			 "wrong curve: the key uses %s, m2msa wraps to NIST P-256 storage keys "
			 "(use the srk.pub m2msactl tpm-identity writes)",
			 curve_name(a->parameters.eccDetail.curveID));
		return -EINVAL;
	}
	if ((a->objectAttributes & need) != need ||
	    (a->objectAttributes & TPMA_OBJECT_SIGN_ENCRYPT) || sym->algorithm != TPM2_ALG_AES ||
	    sym->keyBits.aes != 128 || sym->mode.aes != TPM2_ALG_CFB ||
	    a->nameAlg != TPM2_ALG_SHA256) {
		snprintf(err, err_len,
			 "not an SRK: the key is not a restricted decryption (storage) key with "
			 "AES-128-CFB and SHA-256 (an EK or signing key? use the srk.pub m2msactl "
			 "tpm-identity writes)");
		return -EINVAL;
	}
	if (!point_ok(&a->unique.ecc)) {
		snprintf(err, err_len, "the SRK's public point is not on NIST P-256 (damaged file?)");
		return -EINVAL;
	}
	*ret = pub;
	return 0;
}

int tpm_public_name(const TPM2B_PUBLIC *pub, TPM2B_NAME *ret)
{
	uint8_t buf[sizeof(TPMT_PUBLIC)];
	size_t off = 0;

	if (pub->publicArea.nameAlg != TPM2_ALG_SHA256)
		return -EINVAL;
	if (Tss2_MU_TPMT_PUBLIC_Marshal(&pub->publicArea, buf, sizeof(buf), &off) !=
	    TSS2_RC_SUCCESS)
		return -EINVAL;
	ret->name[0] = (uint8_t)(TPM2_ALG_SHA256 >> 8);
	ret->name[1] = (uint8_t)TPM2_ALG_SHA256;
	if (wc_Sha256Hash(buf, (word32)off, ret->name + 2) != 0)
		return -EIO;
	ret->size = 2 + WC_SHA256_DIGEST_SIZE;
	return 0;
}

void tpm_dup_km_template(const TPM2B_DIGEST *policy, TPM2B_PUBLIC *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->publicArea.type = TPM2_ALG_KEYEDHASH;
	ret->publicArea.nameAlg = TPM2_ALG_SHA256;
	ret->publicArea.objectAttributes = TPMA_OBJECT_SIGN_ENCRYPT;
	if (policy && policy->size)
		ret->publicArea.authPolicy = *policy;
	else
		ret->publicArea.objectAttributes |= TPMA_OBJECT_USERWITHAUTH;
	ret->publicArea.parameters.keyedHashDetail.scheme.scheme = TPM2_ALG_HMAC;
	ret->publicArea.parameters.keyedHashDetail.scheme.details.hmac.hashAlg = TPM2_ALG_SHA256;
}
