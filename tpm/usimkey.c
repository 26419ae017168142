/* SPDX-License-Identifier: Apache-2.0 */
/* The USIM key K as an AES-128 TPM object: import, load, and E_K through TPM2_EncryptDecrypt2. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <tss2/tss2_mu.h>

#include "common/secret.h"
#include "tpm/tpm-internal.h"
#include "tpm/usimkey.h"

#define BLOB_MAX 4096

struct tpm_usim_key {
	struct tpm_ctx *t;
	ESYS_TR handle;
	ESYS_TR session; /* salted, DECRYPT | ENCRYPT: the block is hidden on the wire both ways */
	enum tpm_usim_mode mode;
};

static int read_blob(struct tpm_ctx *t, const char *dir, const char *name, uint8_t *buf,
		     size_t *len)
{
	return tpm_file_read(t, dir, name, buf, len, "no USIM key",
			     "import one with m2msactl usim provision",
			     "run m2msactl usim provision --force again");
}

static int write_blobs(struct tpm_ctx *t, const char *dir, const TPM2B_PUBLIC *pub,
		       const TPM2B_PRIVATE *priv)
{
	return tpm_blobs_write(t, dir, TPM_USIM_PRIV_FILE, TPM_USIM_PUB_FILE, priv, pub,
			       "the USIM key's");
}

int tpm_usim_key_provision(struct tpm_ctx *t, const char *state_dir,
			   const uint8_t k[static TPM_USIM_K_LEN])
{
	const TPM2B_PUBLIC in_pub = {
		.publicArea = {
			.type = TPM2_ALG_SYMCIPHER,
			.nameAlg = TPM2_ALG_SHA256,
			/* Encrypt only: signEncrypt set, decrypt clear. */
			.objectAttributes = TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_USERWITHAUTH |
					    TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT,
			.parameters.symDetail.sym = {
				.algorithm = TPM2_ALG_AES,
				.keyBits.aes = 128,
				.mode.aes = TPM2_ALG_NULL,
			},
		},
	};
	TPM2B_SENSITIVE_CREATE sens = { 0 };
	const TPM2B_DATA outside = { 0 };
	const TPML_PCR_SELECTION creation_pcr = { 0 };
	TPM2B_PRIVATE *priv = NULL;
	TPM2B_PUBLIC *pub = NULL;
	ESYS_TR s = ESYS_TR_NONE;
	TSS2_RC rc;
	int r;

	if (!t || !k)
		return -EINVAL;
	if (!state_dir || !*state_dir)
		return tpm_fail(t, -EINVAL, 0, "no state directory given");
	if (mkdir(state_dir, 0700) < 0 && errno != EEXIST)
		return tpm_fail(t, -errno, 0, "cannot create the state directory %s: %s", state_dir,
				strerror(errno));
	r = tpm_primary(t, NULL);
	if (r < 0)
		return r;
	/* inSensitive is the first command parameter: DECRYPT encrypts K on the wire. */
	r = tpm_start_salted_session(t, TPM2_SE_HMAC,
				     TPMA_SESSION_DECRYPT | TPMA_SESSION_CONTINUESESSION, &s);
	if (r < 0)
		return r;
	sens.sensitive.data.size = TPM_USIM_K_LEN;
	memcpy(sens.sensitive.data.buffer, k, TPM_USIM_K_LEN);
	rc = Esys_Create(t->esys, t->primary, ESYS_TR_PASSWORD, s, ESYS_TR_NONE, &sens, &in_pub,
			 &outside, &creation_pcr, &priv, &pub, NULL, NULL, NULL);
	secret_wipe(&sens, sizeof(sens));
	tpm_flush(t, &s);
	if (rc != TSS2_RC_SUCCESS)
		return tpm_fail(t, tpm_rc_to_errno(rc), rc,
				"cannot import the USIM key K as an AES-128 key: %s",
				tpm_rc_text(rc));
	r = write_blobs(t, state_dir, pub, priv);
	Esys_Free(priv);
	Esys_Free(pub);
	return r;
}

static int unmarshal_blobs(struct tpm_ctx *t, const char *dir, TPM2B_PUBLIC *pub,
			   TPM2B_PRIVATE *priv)
{
	uint8_t buf[BLOB_MAX];
	size_t len = sizeof(buf), off = 0;
	TSS2_RC rc;
	int r;

	r = read_blob(t, dir, TPM_USIM_PUB_FILE, buf, &len);
	if (r < 0)
		return r;
	rc = Tss2_MU_TPM2B_PUBLIC_Unmarshal(buf, len, &off, pub);
	if (rc != TSS2_RC_SUCCESS || off != len || pub->publicArea.type != TPM2_ALG_SYMCIPHER ||
	    pub->publicArea.parameters.symDetail.sym.algorithm != TPM2_ALG_AES ||
	    pub->publicArea.parameters.symDetail.sym.keyBits.aes != 128)
		return tpm_fail(t, -EBADMSG, rc,
				"%s/%s is not an AES-128 USIM key (run m2msactl usim provision "
				"--force again)", dir, TPM_USIM_PUB_FILE);
	len = sizeof(buf);
	off = 0;
	r = read_blob(t, dir, TPM_USIM_PRIV_FILE, buf, &len);
	if (r < 0)
		goto out;
	rc = Tss2_MU_TPM2B_PRIVATE_Unmarshal(buf, len, &off, priv);
	if (rc != TSS2_RC_SUCCESS || off != len)
		r = tpm_fail(t, -EBADMSG, rc,
			     "%s/%s is corrupt: not a marshalled TPM2B_PRIVATE (run m2msactl usim "
			     "provision --force again)", dir, TPM_USIM_PRIV_FILE);
out:
	secret_wipe(buf, sizeof(buf));
	return r;
}

int tpm_usim_key_load(struct tpm_ctx *t, const char *state_dir, struct tpm_usim_key **ret)
{
	TPM2B_PUBLIC pub = { 0 };
	TPM2B_PRIVATE priv = { 0 };
	struct tpm_usim_key *k;
	TSS2_RC rc;
	int r;

	if (!t || !state_dir || !ret)
		return -EINVAL;
	r = unmarshal_blobs(t, state_dir, &pub, &priv);
	if (r < 0)
		goto out;
	r = tpm_primary(t, NULL);
	if (r < 0)
		goto out;
	k = calloc(1, sizeof(*k));
	if (!k) {
		r = -ENOMEM;
		goto out;
	}
	k->t = t;
	k->handle = k->session = ESYS_TR_NONE;
	rc = Esys_Load(t->esys, t->primary, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &priv,
		       &pub, &k->handle);
	if (rc != TSS2_RC_SUCCESS) {
		r = tpm_rc_to_errno(rc);
		r = tpm_fail(t, r == -EIO ? -EBADMSG : r, rc,
			     "cannot load the USIM key in %s: %s (the blobs are corrupt or were made "
			     "under another TPM or storage key; run m2msactl usim provision --force)",
			     state_dir, tpm_rc_text(rc));
		free(k);
		goto out;
	}
	*ret = k;
out:
	secret_wipe(&priv, sizeof(priv));
	return r;
}

void tpm_usim_key_free(struct tpm_usim_key *k)
{
	if (!k)
		return;
	tpm_flush(k->t, &k->session);
	tpm_flush(k->t, &k->handle);
	free(k);
}

enum tpm_usim_mode tpm_usim_key_mode(const struct tpm_usim_key *k)
{
	return k ? k->mode : TPM_USIM_MODE_CBC;
}

void tpm_usim_key_set_mode(struct tpm_usim_key *k, enum tpm_usim_mode mode)
{
	if (k)
		k->mode = mode;
}

/*
 * One TPM2_EncryptDecrypt2. CBC: inData = the block, IV = 0 (both encrypted on the
 * wire by the session). CFB: inData = 0, IV = the block (the IV is not a parameter
 * the session can encrypt).
 */
static TSS2_RC encrypt_once(struct tpm_usim_key *k, const uint8_t in[static MILENAGE_BLOCK_LEN],
			    TPM2B_MAX_BUFFER **ret)
{
	TPM2B_IV iv = { .size = MILENAGE_BLOCK_LEN };
	TPM2B_MAX_BUFFER data = { .size = MILENAGE_BLOCK_LEN };
	TPM2B_IV *iv_out = NULL;
	TSS2_RC rc;

	if (k->mode == TPM_USIM_MODE_CBC)
		memcpy(data.buffer, in, MILENAGE_BLOCK_LEN);
	else
		memcpy(iv.buffer, in, MILENAGE_BLOCK_LEN);
	rc = Esys_EncryptDecrypt2(k->t->esys, k->handle, ESYS_TR_PASSWORD, k->session, ESYS_TR_NONE,
				  &data, TPM2_NO,
				  k->mode == TPM_USIM_MODE_CBC ? TPM2_ALG_CBC : TPM2_ALG_CFB, &iv,
				  ret, &iv_out);
	secret_wipe(&data, sizeof(data));
	secret_wipe(&iv, sizeof(iv));
	if (iv_out)
		secret_wipe(iv_out, sizeof(*iv_out));
	Esys_Free(iv_out);
	return rc;
}

int tpm_usim_key_encrypt(struct tpm_usim_key *k, const uint8_t in[static MILENAGE_BLOCK_LEN],
			 uint8_t out[static MILENAGE_BLOCK_LEN])
{
	TPM2B_MAX_BUFFER *res = NULL;
	TSS2_RC rc;
	int r = 0;

	if (!k)
		return -EINVAL;
	if (k->session == ESYS_TR_NONE) {
		r = tpm_start_salted_session(k->t, TPM2_SE_HMAC,
					     TPMA_SESSION_DECRYPT | TPMA_SESSION_ENCRYPT |
						     TPMA_SESSION_CONTINUESESSION,
					     &k->session);
		if (r < 0)
			return r;
	}
	rc = encrypt_once(k, in, &res);
	if (rc != TSS2_RC_SUCCESS && k->mode == TPM_USIM_MODE_CBC && tpm_rc_is(rc, TPM2_RC_MODE)) {
		/* A TPM without AES-CBC (the PC Client profile only requires CFB). */
		k->mode = TPM_USIM_MODE_CFB;
		rc = encrypt_once(k, in, &res);
	}
	if (rc != TSS2_RC_SUCCESS) {
		tpm_flush(k->t, &k->session);
		return tpm_fail(k->t, tpm_rc_to_errno(rc), rc,
				"TPM2_EncryptDecrypt2 with the USIM key failed: %s",
				tpm_rc_text(rc));
	}
	if (!res || res->size != MILENAGE_BLOCK_LEN)
		r = tpm_fail(k->t, -EIO, 0, "TPM2_EncryptDecrypt2 returned %u bytes, expected %d",
			     res ? res->size : 0, MILENAGE_BLOCK_LEN);
	else
		memcpy(out, res->buffer, MILENAGE_BLOCK_LEN);
	if (res)
		secret_wipe(res, sizeof(*res));
	Esys_Free(res);
	return r;
}

static int cipher_tpm(void *ctx, const uint8_t in[static MILENAGE_BLOCK_LEN],
		      uint8_t out[static MILENAGE_BLOCK_LEN])
{
	return tpm_usim_key_encrypt(ctx, in, out);
}

void tpm_usim_key_cipher(struct tpm_usim_key *k, struct milenage_cipher *ret)
{
	ret->encrypt = cipher_tpm;
	ret->ctx = k;
}
