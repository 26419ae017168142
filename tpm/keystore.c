/* SPDX-License-Identifier: Apache-2.0 */
/* Km in the TPM: provisioning (import under the storage key), loading, and TPM2_HMAC as the PRF. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/secret.h"
#include "tpm/dup.h"
#include "tpm/policy.h"
#include "tpm/tpm-internal.h"

static const TPMT_SYM_DEF sym_null = { .algorithm = TPM2_ALG_NULL };

/* PolicyPCR digest over the current values of the PCRs in mask, from a trial session. */
static int pcr_policy_digest(struct tpm_ctx *t, uint32_t mask, TPM2B_DIGEST *ret)
{
	const TPM2B_DIGEST current = { .size = 0 }; /* empty: the TPM uses the current values */
	TPML_PCR_SELECTION sel;
	TPM2B_DIGEST *d = NULL;
	ESYS_TR s = ESYS_TR_NONE;
	TSS2_RC rc;
	int r = 0;

	tpm_pcr_selection(mask, &sel);
	rc = Esys_StartAuthSession(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
				   ESYS_TR_NONE, ESYS_TR_NONE, NULL, TPM2_SE_TRIAL, &sym_null,
				   TPM2_ALG_SHA256, &s);
	if (rc != TSS2_RC_SUCCESS)
		return tpm_fail(t, tpm_rc_to_errno(rc), rc, "cannot start a trial policy session: %s",
				tpm_rc_text(rc));
	rc = Esys_PolicyPCR(t->esys, s, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &current, &sel);
	if (rc != TSS2_RC_SUCCESS) {
		r = tpm_fail(t, tpm_rc_is(rc, TPM2_RC_VALUE) ? -EINVAL : tpm_rc_to_errno(rc), rc,
			     "the TPM refused the PCR selection (does it have a sha256 PCR bank?)");
		goto out;
	}
	rc = Esys_PolicyGetDigest(t->esys, s, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &d);
	if (rc != TSS2_RC_SUCCESS) {
		r = tpm_fail(t, tpm_rc_to_errno(rc), rc, "cannot read the policy digest: %s",
			     tpm_rc_text(rc));
		goto out;
	}
	*ret = *d;
out:
	Esys_Free(d);
	tpm_flush(t, &s);
	return r;
}

static int provision(struct tpm_ctx *t, const char *state_dir, const char *node_id,
		     const char *km_id, const uint8_t *km, size_t km_len, const char *pcrs,
		     const TPM2B_PUBLIC *signer)
{
	TPM2B_PUBLIC in_pub = {
		.publicArea = {
			.type = TPM2_ALG_KEYEDHASH,
			.nameAlg = TPM2_ALG_SHA256,
			.objectAttributes = TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_USERWITHAUTH |
					    TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT,
			.parameters.keyedHashDetail.scheme = {
				.scheme = TPM2_ALG_HMAC,
				.details.hmac.hashAlg = TPM2_ALG_SHA256,
			},
		},
	};
	TPM2B_SENSITIVE_CREATE sens = { 0 };
	TPM2B_DATA outside = { 0 };
	TPML_PCR_SELECTION creation_pcr = { 0 };
	TPM2B_PRIVATE *priv = NULL;
	TPM2B_PUBLIC *pub = NULL;
	ESYS_TR s = ESYS_TR_NONE;
	uint32_t mask = 0;
	TSS2_RC rc;
	int r;

	if (!t)
		return -EINVAL;
	if (!km || km_len != TPM_KM_LEN)
		return tpm_fail(t, -EINVAL, 0, "wrong key length: Km must be %d bytes, got %zu",
				TPM_KM_LEN, km ? km_len : 0);
	if (!state_dir || !*state_dir)
		return tpm_fail(t, -EINVAL, 0, "no state directory given");
	if (!tpm_id_valid(node_id))
		return tpm_fail(t, -EINVAL, 0,
				"invalid node ID '%s' (1 to 255 characters from A-Z a-z 0-9 . _ - @ / : ~)",
				node_id ? node_id : "");
	if (!tpm_id_valid(km_id))
		return tpm_fail(t, -EINVAL, 0,
				"invalid KmID '%s' (1 to 255 characters from A-Z a-z 0-9 . _ - @ / : ~)",
				km_id ? km_id : "");
	if (pcrs && *pcrs && tpm_pcrs_parse(pcrs, &mask) < 0)
		return tpm_fail(t, -EINVAL, 0,
				"invalid PCR selection '%s' (expected e.g. sha256:0,7; PCRs 0 to 23)",
				pcrs);

	r = tpm_primary(t, NULL);
	if (r < 0)
		return r;
	if (mask) {
		r = pcr_policy_digest(t, mask, &in_pub.publicArea.authPolicy);
		if (r < 0)
			return r;
		/* Only the policy authorises use; no empty-password use. */
		in_pub.publicArea.objectAttributes &= ~TPMA_OBJECT_USERWITHAUTH;
	} else if (signer) {
		TPM2B_PUBLIC tmpl;
		TPM2B_NAME name;

		tpm_policy_signer_public(signer->publicArea.unique.ecc.x.buffer,
					 signer->publicArea.unique.ecc.y.buffer, &tmpl);
		if (tpm_public_name(&tmpl, &name) < 0 ||
		    tpm_policy_authorize_digest(&name, in_pub.publicArea.authPolicy.buffer) < 0)
			return tpm_fail(t, -EINVAL, 0, "the policy signer is not a P-256 key");
		in_pub.publicArea.authPolicy.size = 32;
		in_pub.publicArea.objectAttributes &= ~TPMA_OBJECT_USERWITHAUTH;
	}

	/* inSensitive is the first command parameter: DECRYPT encrypts it on the wire. */
	r = tpm_start_salted_session(t, TPM2_SE_HMAC,
				     TPMA_SESSION_DECRYPT | TPMA_SESSION_ENCRYPT |
					     TPMA_SESSION_CONTINUESESSION,
				     &s);
	if (r < 0)
		return r;
	sens.sensitive.data.size = TPM_KM_LEN;
	memcpy(sens.sensitive.data.buffer, km, TPM_KM_LEN);
	rc = Esys_Create(t->esys, t->primary, ESYS_TR_PASSWORD, s, ESYS_TR_NONE, &sens, &in_pub,
			 &outside, &creation_pcr, &priv, &pub, NULL, NULL, NULL);
	secret_wipe(&sens, sizeof(sens));
	tpm_flush(t, &s);
	if (rc != TSS2_RC_SUCCESS) {
		r = tpm_fail(t, tpm_rc_to_errno(rc), rc,
			     "cannot import the key under the storage primary key: %s",
			     tpm_rc_text(rc));
		goto out;
	}
	r = signer ? tpm_signer_write(t, state_dir, signer) : 0;
	if (r == 0)
		r = tpm_state_write(t, state_dir, pub, priv, node_id, km_id, mask, signer != NULL);
	if (r == 0 && !signer)
		tpm_signer_remove(state_dir);
out:
	Esys_Free(priv);
	Esys_Free(pub);
	return r;
}

int tpm_provision(struct tpm_ctx *t, const char *state_dir, const char *node_id,
		  const char *km_id, const uint8_t *km, size_t km_len, const char *pcrs)
{
	return provision(t, state_dir, node_id, km_id, km, km_len, pcrs, NULL);
}

int tpm_provision_signed(struct tpm_ctx *t, const char *state_dir, const char *node_id,
			 const char *km_id, const uint8_t *km, size_t km_len,
			 const TPM2B_PUBLIC *signer)
{
	if (!signer || signer->publicArea.type != TPM2_ALG_ECC ||
	    signer->publicArea.unique.ecc.x.size != 32 || signer->publicArea.unique.ecc.y.size != 32)
		return tpm_fail(t, -EINVAL, 0, "the policy signer is not a P-256 key");
	return provision(t, state_dir, node_id, km_id, km, km_len, NULL, signer);
}

static void key_drop_sessions(struct tpm_key *k)
{
	tpm_flush(k->t, &k->enc_session);
	tpm_flush(k->t, &k->policy_session);
}

void tpm_key_free(struct tpm_key *k)
{
	if (!k)
		return;
	key_drop_sessions(k);
	tpm_key_signed_policy_free(k);
	tpm_flush(k->t, &k->handle);
	free(k->state_dir);
	free(k->node_id);
	free(k->km_id);
	free(k->pcrs);
	free(k);
}

int tpm_key_load(struct tpm_ctx *t, const char *state_dir, struct tpm_key **ret)
{
	TPM2B_PUBLIC pub;
	TPM2B_PRIVATE priv;
	struct tpm_key *k;
	char pcrs[96];
	TSS2_RC rc;
	int r;

	if (!t || !state_dir || !ret)
		return -EINVAL;
	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	k->t = t;
	k->handle = k->enc_session = k->policy_session = k->signer = ESYS_TR_NONE;

	r = tpm_state_read(t, state_dir, &pub, &priv, &k->node_id, &k->km_id, &k->pcr_mask,
			   &k->signed_policy);
	if (r < 0)
		goto fail;
	if (k->signed_policy) {
		k->state_dir = strdup(state_dir);
		if (!k->state_dir) {
			r = -ENOMEM;
			goto fail;
		}
	}
	if (k->pcr_mask) {
		tpm_pcrs_format(k->pcr_mask, pcrs, sizeof(pcrs));
		k->pcrs = strdup(pcrs);
		if (!k->pcrs) {
			r = -ENOMEM;
			goto fail;
		}
	}
	r = tpm_primary(t, NULL);
	if (r < 0)
		goto fail;
	rc = Esys_Load(t->esys, t->primary, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &priv,
		       &pub, &k->handle);
	secret_wipe(&priv, sizeof(priv));
	if (rc != TSS2_RC_SUCCESS) {
		k->handle = ESYS_TR_NONE;
		r = tpm_rc_to_errno(rc);
		if (r == -EIO || r == -EBADMSG || tpm_rc_is(rc, TPM2_RC_VALUE) ||
		    tpm_rc_is(rc, TPM2_RC_ATTRIBUTES) || tpm_rc_is(rc, TPM2_RC_HASH) ||
		    tpm_rc_is(rc, TPM2_RC_SYMMETRIC))
			r = tpm_fail(t, -EBADMSG, rc,
				     "cannot load the key in %s: the blobs are corrupt or were made under "
				     "another TPM or storage key (re-provision the key with m2msactl provision)",
				     state_dir);
		else
			r = tpm_fail(t, r, rc, "cannot load the key in %s: %s", state_dir,
				     tpm_rc_text(rc));
		goto fail;
	}
	*ret = k;
	return 0;
fail:
	tpm_key_free(k);
	return r;
}

const char *tpm_key_node_id(const struct tpm_key *k)
{
	return k ? k->node_id : NULL;
}

const char *tpm_key_km_id(const struct tpm_key *k)
{
	return k ? k->km_id : NULL;
}

const char *tpm_key_pcrs(const struct tpm_key *k)
{
	return k ? k->pcrs : NULL;
}

bool tpm_key_has_signed_policy(const struct tpm_key *k)
{
	return k && k->signed_policy;
}

/* Sessions are kept for the key's life (continueSession) and recreated after a failure. */
static int key_sessions(struct tpm_key *k, ESYS_TR *ret_auth)
{
	struct tpm_ctx *t = k->t;
	TPML_PCR_SELECTION sel;
	const TPM2B_DIGEST current = { .size = 0 };
	TSS2_RC rc;
	int r;

	if (k->enc_session == ESYS_TR_NONE) {
		r = tpm_start_salted_session(t, TPM2_SE_HMAC,
					     TPMA_SESSION_ENCRYPT | TPMA_SESSION_CONTINUESESSION,
					     &k->enc_session);
		if (r < 0)
			return r;
	}
	if (!k->pcr_mask && !k->signed_policy) {
		*ret_auth = ESYS_TR_PASSWORD;
		return 0;
	}
	if (k->signed_policy) {
		r = tpm_key_signed_policy(k);
		if (r < 0)
			return r;
		*ret_auth = k->policy_session;
		return 0;
	}
	if (k->policy_session == ESYS_TR_NONE) {
		rc = Esys_StartAuthSession(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
					   ESYS_TR_NONE, ESYS_TR_NONE, NULL, TPM2_SE_POLICY,
					   &sym_null, TPM2_ALG_SHA256, &k->policy_session);
		if (rc != TSS2_RC_SUCCESS) {
			k->policy_session = ESYS_TR_NONE;
			return tpm_fail(t, tpm_rc_to_errno(rc), rc,
					"cannot start a policy session: %s", tpm_rc_text(rc));
		}
		rc = Esys_TRSess_SetAttributes(t->esys, k->policy_session,
					       TPMA_SESSION_CONTINUESESSION, 0xff);
		if (rc != TSS2_RC_SUCCESS)
			return tpm_fail(t, -EIO, rc, "cannot set the session attributes");
	}
	/* After each successful use the TPM resets the policy session; assert PCRs anew. */
	tpm_pcr_selection(k->pcr_mask, &sel);
	rc = Esys_PolicyPCR(t->esys, k->policy_session, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
			    &current, &sel);
	if (rc != TSS2_RC_SUCCESS)
		return tpm_fail(t, tpm_rc_to_errno(rc), rc, "TPM2_PolicyPCR failed: %s",
				tpm_rc_text(rc));
	*ret_auth = k->policy_session;
	return 0;
}

static int hmac_fail(struct tpm_key *k, TSS2_RC rc)
{
	int r = tpm_rc_to_errno(rc);

	key_drop_sessions(k);
	if (r == -EPERM && k->signed_policy) {
		k->have_approved = false;
		return tpm_fail(k->t, -EPERM, rc,
				"a PCR changed while Km was in use under its signed policy (try again; "
				"m2msactl tpm-check names the PCRs if it persists)");
	}
	if (r == -EPERM)
		return tpm_fail(k->t, -EPERM, rc,
				"the PCR values (%s) changed since the key was provisioned: restore "
				"them (boot the provisioned configuration) or re-provision the key "
				"with m2msactl provision",
				k->pcrs ? k->pcrs : "none");
	return tpm_fail(k->t, r, rc, "TPM2_HMAC with the provisioned key failed: %s",
			tpm_rc_text(rc));
}

int tpm_key_hmac(struct tpm_key *k, const uint8_t *msg, size_t msg_len,
		 uint8_t out[static SHA256_LEN])
{
	const TPM2B_AUTH seq_auth = { .size = 0 };
	TPM2B_MAX_BUFFER buf;
	TPM2B_DIGEST *d = NULL;
	TPMT_TK_HASHCHECK *ticket = NULL;
	ESYS_TR auth = ESYS_TR_NONE, seq = ESYS_TR_NONE;
	struct tpm_ctx *t;
	TSS2_RC rc;
	int r;

	if (!k || (!msg && msg_len))
		return -EINVAL;
	t = k->t;
	r = key_sessions(k, &auth);
	if (r < 0) {
		key_drop_sessions(k);
		return r;
	}

	if (msg_len <= TPM2_MAX_DIGEST_BUFFER) {
		buf.size = (UINT16)msg_len;
		if (msg_len)
			memcpy(buf.buffer, msg, msg_len);
		rc = Esys_HMAC(t->esys, k->handle, auth, k->enc_session, ESYS_TR_NONE, &buf,
			       TPM2_ALG_SHA256, &d);
	} else {
		/* Longer than one TPM2B_MAX_BUFFER: HMAC_Start / SequenceUpdate / SequenceComplete. */
		rc = Esys_HMAC_Start(t->esys, k->handle, auth, ESYS_TR_NONE, ESYS_TR_NONE,
				     &seq_auth, TPM2_ALG_SHA256, &seq);
		while (rc == TSS2_RC_SUCCESS && msg_len > TPM2_MAX_DIGEST_BUFFER) {
			buf.size = TPM2_MAX_DIGEST_BUFFER;
			memcpy(buf.buffer, msg, TPM2_MAX_DIGEST_BUFFER);
			rc = Esys_SequenceUpdate(t->esys, seq, ESYS_TR_PASSWORD, ESYS_TR_NONE,
						 ESYS_TR_NONE, &buf);
			msg += TPM2_MAX_DIGEST_BUFFER;
			msg_len -= TPM2_MAX_DIGEST_BUFFER;
		}
		if (rc == TSS2_RC_SUCCESS) {
			buf.size = (UINT16)msg_len;
			if (msg_len)
				memcpy(buf.buffer, msg, msg_len);
			rc = Esys_SequenceComplete(t->esys, seq, ESYS_TR_PASSWORD, k->enc_session,
						   ESYS_TR_NONE, &buf, ESYS_TR_RH_NULL, &d,
						   &ticket);
			if (rc == TSS2_RC_SUCCESS)
				seq = ESYS_TR_NONE; /* the TPM flushed the sequence */
		}
		tpm_flush(t, &seq);
	}
	secret_wipe(&buf, sizeof(buf));
	Esys_Free(ticket);
	if (rc != TSS2_RC_SUCCESS)
		return hmac_fail(k, rc);
	if (!d || d->size != SHA256_LEN) {
		r = tpm_fail(t, -EIO, 0, "TPM2_HMAC returned %u bytes, expected %d",
			     d ? d->size : 0, SHA256_LEN);
	} else {
		memcpy(out, d->buffer, SHA256_LEN);
		r = 0;
	}
	if (d)
		secret_wipe(d, sizeof(*d));
	Esys_Free(d);
	return r;
}

static int prf_tpm(void *ctx, const uint8_t *msg, size_t msg_len, uint8_t out[static SHA256_LEN])
{
	return tpm_key_hmac(ctx, msg, msg_len, out);
}

static const char *prf_tpm_error(void *ctx)
{
	const struct tpm_key *k = ctx;

	return tpm_last_error(k->t);
}

void tpm_key_prf(struct tpm_key *k, struct kdf_prf *ret)
{
	ret->hmac = prf_tpm;
	ret->ctx = k;
	ret->last_error = prf_tpm_error;
}
