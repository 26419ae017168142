/* SPDX-License-Identifier: Apache-2.0 */
/* The node's ECDSA P-256 signing key inside the TPM: create, store, load, sign. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <tss2/tss2_mu.h>

#include "common/secret.h"
#include "tpm/signkey.h"
#include "tpm/tpm-internal.h"

#define BLOB_MAX 4096

struct tpm_signkey {
	struct tpm_ctx *t;
	ESYS_TR handle;
	uint8_t x[TPM_P256_LEN];
	uint8_t y[TPM_P256_LEN];
};

/* A signing key blob in the state directory. */
static int read_blob(struct tpm_ctx *t, const char *dir, const char *name, uint8_t *buf,
		     size_t *len)
{
	return tpm_file_read(t, dir, name, buf, len, "no PKI signing key",
			     "create one with m2msactl pki-keygen", "run m2msactl pki-keygen again");
}

int tpm_signkey_create(struct tpm_ctx *t, const char *state_dir)
{
	const TPM2B_PUBLIC in_pub = {
		.publicArea = {
			.type = TPM2_ALG_ECC,
			.nameAlg = TPM2_ALG_SHA256,
			.objectAttributes = TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_USERWITHAUTH |
					    TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
					    TPMA_OBJECT_SENSITIVEDATAORIGIN,
			.parameters.eccDetail = {
				.symmetric = { .algorithm = TPM2_ALG_NULL },
				.scheme = { .scheme = TPM2_ALG_ECDSA,
					    .details.ecdsa.hashAlg = TPM2_ALG_SHA256 },
				.curveID = TPM2_ECC_NIST_P256,
				.kdf = { .scheme = TPM2_ALG_NULL },
			},
		},
	};
	const TPM2B_SENSITIVE_CREATE sens = { 0 };
	const TPM2B_DATA outside = { 0 };
	const TPML_PCR_SELECTION creation_pcr = { 0 };
	TPM2B_PRIVATE *priv = NULL;
	TPM2B_PUBLIC *pub = NULL;
	TSS2_RC rc;
	int r;

	if (!t)
		return -EINVAL;
	if (!state_dir || !*state_dir)
		return tpm_fail(t, -EINVAL, 0, "no state directory given");
	if (mkdir(state_dir, 0700) < 0 && errno != EEXIST)
		return tpm_fail(t, -errno, 0, "cannot create the state directory %s: %s", state_dir,
				strerror(errno));
	r = tpm_primary(t, NULL);
	if (r < 0)
		return r;
	/* The TPM generates the key itself (sensitiveDataOrigin): no secret on the wire. */
	rc = Esys_Create(t->esys, t->primary, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &sens,
			 &in_pub, &outside, &creation_pcr, &priv, &pub, NULL, NULL, NULL);
	if (rc != TSS2_RC_SUCCESS)
		return tpm_fail(t, tpm_rc_to_errno(rc), rc,
				"cannot create an ECDSA P-256 key under the storage primary key: %s",
				tpm_rc_text(rc));
	r = tpm_blobs_write(t, state_dir, TPM_SIGNKEY_PRIV_FILE, TPM_SIGNKEY_PUB_FILE, priv, pub,
			    "the signing key's");
	Esys_Free(priv);
	Esys_Free(pub);
	return r;
}

static void copy_coord(const TPM2B_ECC_PARAMETER *p, uint8_t out[static TPM_P256_LEN])
{
	/* Left-pad: the TPM may drop leading zero bytes. */
	memset(out, 0, TPM_P256_LEN);
	memcpy(out + TPM_P256_LEN - p->size, p->buffer, p->size);
}

int tpm_signkey_load(struct tpm_ctx *t, const char *state_dir, struct tpm_signkey **ret)
{
	uint8_t buf[BLOB_MAX];
	TPM2B_PUBLIC pub = { 0 };
	TPM2B_PRIVATE priv = { 0 };
	struct tpm_signkey *k = NULL;
	const TPMS_ECC_PARMS *e;
	size_t len = sizeof(buf), off = 0;
	TSS2_RC rc;
	int r;

	if (!t || !state_dir || !ret)
		return -EINVAL;
	r = read_blob(t, state_dir, TPM_SIGNKEY_PUB_FILE, buf, &len);
	if (r < 0)
		return r;
	rc = Tss2_MU_TPM2B_PUBLIC_Unmarshal(buf, len, &off, &pub);
	e = &pub.publicArea.parameters.eccDetail;
	if (rc != TSS2_RC_SUCCESS || off != len || pub.publicArea.type != TPM2_ALG_ECC ||
	    e->curveID != TPM2_ECC_NIST_P256 || e->scheme.scheme != TPM2_ALG_ECDSA ||
	    pub.publicArea.unique.ecc.x.size > TPM_P256_LEN ||
	    pub.publicArea.unique.ecc.y.size > TPM_P256_LEN)
		return tpm_fail(t, -EBADMSG, rc,
				"%s/%s is not an ECDSA P-256 key (run m2msactl pki-keygen again)",
				state_dir, TPM_SIGNKEY_PUB_FILE);
	len = sizeof(buf);
	off = 0;
	r = read_blob(t, state_dir, TPM_SIGNKEY_PRIV_FILE, buf, &len);
	if (r < 0)
		goto out;
	rc = Tss2_MU_TPM2B_PRIVATE_Unmarshal(buf, len, &off, &priv);
	if (rc != TSS2_RC_SUCCESS || off != len) {
		r = tpm_fail(t, -EBADMSG, rc,
			     "%s/%s is corrupt: not a marshalled TPM2B_PRIVATE (run m2msactl "
			     "pki-keygen again)",
			     state_dir, TPM_SIGNKEY_PRIV_FILE);
		goto out;
	}
	r = tpm_primary(t, NULL);
	if (r < 0)
		goto out;
	k = calloc(1, sizeof(*k));
	if (!k) {
		r = -ENOMEM;
		goto out;
	}
	k->t = t;
	rc = Esys_Load(t->esys, t->primary, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &priv,
		       &pub, &k->handle);
	if (rc != TSS2_RC_SUCCESS) {
		r = tpm_rc_to_errno(rc);
		r = tpm_fail(t, r == -EIO ? -EBADMSG : r, rc,
			     "cannot load the signing key in %s: %s (the blobs are corrupt or were "
			     "made under another TPM or storage key; run m2msactl pki-keygen again)",
			     state_dir, tpm_rc_text(rc));
		free(k);
		k = NULL;
		goto out;
	}
	copy_coord(&pub.publicArea.unique.ecc.x, k->x);
	copy_coord(&pub.publicArea.unique.ecc.y, k->y);
	*ret = k;
	r = 0;
out:
	secret_wipe(buf, sizeof(buf));
	secret_wipe(&priv, sizeof(priv));
	return r;
}

void tpm_signkey_free(struct tpm_signkey *k)
{
	if (!k)
		return;
	tpm_flush(k->t, &k->handle);
	free(k);
}

void tpm_signkey_public(const struct tpm_signkey *k, uint8_t ret_x[static TPM_P256_LEN],
			uint8_t ret_y[static TPM_P256_LEN])
{
	memcpy(ret_x, k->x, TPM_P256_LEN);
	memcpy(ret_y, k->y, TPM_P256_LEN);
}

int tpm_signkey_sign(struct tpm_signkey *k, const uint8_t *digest, size_t digest_len,
		     uint8_t ret_r[static TPM_P256_LEN], uint8_t ret_s[static TPM_P256_LEN])
{
	const TPMT_SIG_SCHEME scheme = { .scheme = TPM2_ALG_ECDSA,
					 .details.ecdsa.hashAlg = TPM2_ALG_SHA256 };
	/* A NULL ticket: the digest was not made by the TPM, which is fine for a non-restricted key. */
	const TPMT_TK_HASHCHECK check = { .tag = TPM2_ST_HASHCHECK, .hierarchy = TPM2_RH_NULL };
	TPM2B_DIGEST d = { .size = SHA256_LEN };
	TPMT_SIGNATURE *sig = NULL;
	TSS2_RC rc;
	int r = 0;

	if (!k || !digest || digest_len != SHA256_LEN)
		return -EINVAL;
	memcpy(d.buffer, digest, SHA256_LEN);
	rc = Esys_Sign(k->t->esys, k->handle, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &d,
		       &scheme, &check, &sig);
	if (rc != TSS2_RC_SUCCESS)
		return tpm_fail(k->t, tpm_rc_to_errno(rc), rc, "the TPM refused to sign: %s",
				tpm_rc_text(rc));
	if (sig->sigAlg != TPM2_ALG_ECDSA ||
	    sig->signature.ecdsa.signatureR.size > TPM_P256_LEN ||
	    sig->signature.ecdsa.signatureS.size > TPM_P256_LEN) {
		r = tpm_fail(k->t, -EIO, 0, "the TPM returned an unexpected signature");
		goto out;
	}
	copy_coord(&sig->signature.ecdsa.signatureR, ret_r);
	copy_coord(&sig->signature.ecdsa.signatureS, ret_s);
out:
	Esys_Free(sig);
	return r;
}

/* DER INTEGER from a 32-byte unsigned big-endian value; returns the bytes written. */
static size_t der_uint(const uint8_t v[static TPM_P256_LEN], uint8_t *out)
{
	size_t skip = 0, n;

	while (skip < TPM_P256_LEN - 1 && v[skip] == 0)
		skip++;
	n = TPM_P256_LEN - skip;
	out[0] = 0x02;
	if (v[skip] & 0x80) {
		out[1] = (uint8_t)(n + 1);
		out[2] = 0x00;
		memcpy(out + 3, v + skip, n);
		return n + 3;
	}
	out[1] = (uint8_t)n;
	memcpy(out + 2, v + skip, n);
	return n + 2;
}

int tpm_signkey_sign_der(struct tpm_signkey *k, const uint8_t *digest, size_t digest_len,
			 uint8_t *out, size_t out_len, size_t *ret_len)
{
	uint8_t rv[TPM_P256_LEN], sv[TPM_P256_LEN], body[TPM_ECDSA_DER_MAX];
	size_t n;
	int r;

	r = tpm_signkey_sign(k, digest, digest_len, rv, sv);
	if (r < 0)
		return r;
	n = der_uint(rv, body);
	n += der_uint(sv, body + n);
	/* At most 2 * 35 = 70 content bytes: the short length form always fits. */
	if (n + 2 > out_len)
		return -ENOBUFS;
	out[0] = 0x30;
	out[1] = (uint8_t)n;
	memcpy(out + 2, body, n);
	*ret_len = n + 2;
	return 0;
}

int tpm_signkey_tls_sign(void *key, const uint8_t *digest, size_t digest_len, uint8_t *sig,
			 size_t sig_max, size_t *ret_sig_len)
{
	return tpm_signkey_sign_der(key, digest, digest_len, sig, sig_max, ret_sig_len);
}
