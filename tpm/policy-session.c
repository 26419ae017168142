/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node half of signed PCR policies: before each use of a Km whose authPolicy
 * is PolicyAuthorize(signer), satisfy it in a salted policy session with the
 * newest signed policy in state_dir/policies/ that the TPM accepts:
 *   TPM2_VerifySignature(signer, aHash, signature) -> ticket
 *   TPM2_PolicyPCR(current values of the policy's PCRs)
 *   TPM2_PolicyAuthorize(approvedPolicy, "", signerName, ticket)
 * The policy that worked is kept (with its ticket) until the TPM refuses it.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <tss2/tss2_mu.h>
#include <unistd.h>

#include "tpm/dup.h"
#include "tpm/policy.h"
#include "tpm/tpm-internal.h"

#define POLICIES_MAX 64
#define WHY_MAX 384

struct candidate {
	char name[128];
	struct tpm_signed_policy p;
};

static int load_signer(struct tpm_key *k)
{
	struct tpm_ctx *t = k->t;
	uint8_t buf[sizeof(TPM2B_PUBLIC) + 1], again[sizeof(TPM2B_PUBLIC)];
	size_t len = sizeof(buf), off = 0, n = 0;
	TPM2B_PUBLIC pub = { 0 }, expect;
	TSS2_RC rc;
	int r;

	if (k->signer != ESYS_TR_NONE)
		return 0;
	r = tpm_file_read(t, k->state_dir, TPM_POLICY_SIGNER_FILE, buf, &len,
			  "no policy signer", "provision the key again with m2msactl provision --import",
			  "provision the key again");
	if (r < 0)
		return r;
	rc = Tss2_MU_TPM2B_PUBLIC_Unmarshal(buf, len, &off, &pub);
	if (rc == TSS2_RC_SUCCESS && off == len && pub.publicArea.type == TPM2_ALG_ECC &&
	    pub.publicArea.unique.ecc.x.size == 32 && pub.publicArea.unique.ecc.y.size == 32) {
		tpm_policy_signer_public(pub.publicArea.unique.ecc.x.buffer,
					 pub.publicArea.unique.ecc.y.buffer, &expect);
		rc = Tss2_MU_TPM2B_PUBLIC_Marshal(&expect, again, sizeof(again), &n);
	} else {
		rc = TSS2_MU_RC_BAD_VALUE;
	}
	if (rc != TSS2_RC_SUCCESS || n != len || memcmp(again, buf, len) != 0)
		return tpm_fail(t, -EBADMSG, 0,
				"%s/%s is corrupt: not a P-256 policy signer (provision the key again)",
				k->state_dir, TPM_POLICY_SIGNER_FILE);
	rc = Esys_LoadExternal(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, NULL, &pub,
			       ESYS_TR_RH_OWNER, &k->signer);
	if (rc != TSS2_RC_SUCCESS) {
		k->signer = ESYS_TR_NONE;
		return tpm_fail(t, tpm_rc_to_errno(rc), rc,
				"cannot load the policy signer's public key: %s", tpm_rc_text(rc));
	}
	k->signer_pub = pub;
	return 0;
}

int tpm_signer_write(struct tpm_ctx *t, const char *state_dir, const TPM2B_PUBLIC *signer)
{
	uint8_t buf[sizeof(TPM2B_PUBLIC)];
	TPM2B_PUBLIC pub;
	_cleanup_free_ char *dir = NULL;
	size_t off = 0;

	tpm_policy_signer_public(signer->publicArea.unique.ecc.x.buffer,
				 signer->publicArea.unique.ecc.y.buffer, &pub);
	if (Tss2_MU_TPM2B_PUBLIC_Marshal(&pub, buf, sizeof(buf), &off) != TSS2_RC_SUCCESS)
		return tpm_fail(t, -EIO, 0, "cannot encode the policy signer");
	if (mkdir(state_dir, 0700) < 0 && errno != EEXIST)
		return tpm_fail(t, -errno, 0, "cannot create the state directory %s: %s", state_dir,
				strerror(errno));
	if (asprintf(&dir, "%s/%s", state_dir, TPM_POLICY_DIR) < 0)
		return -ENOMEM;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return tpm_fail(t, -errno, 0, "cannot create %s: %s", dir, strerror(errno));
	return tpm_file_write_atomic(t, state_dir, TPM_POLICY_SIGNER_FILE, buf, off);
}

void tpm_signer_remove(const char *state_dir)
{
	_cleanup_free_ char *path = NULL;

	if (asprintf(&path, "%s/%s", state_dir, TPM_POLICY_SIGNER_FILE) >= 0)
		(void)unlink(path);
}

void tpm_key_signed_policy_free(struct tpm_key *k)
{
	tpm_flush(k->t, &k->signer);
	k->have_approved = false;
}

/* PolicyRestart, PolicyPCR(current), PolicyAuthorize(approved): -EPERM if the TPM refuses. */
static int try_authorize(struct tpm_key *k, const TPM2B_DIGEST *approved, uint32_t mask,
			 const TPMT_TK_VERIFIED *ticket)
{
	const TPM2B_DIGEST current = { .size = 0 };
	const TPM2B_NONCE no_ref = { .size = 0 };
	struct tpm_ctx *t = k->t;
	TPML_PCR_SELECTION sel;
	TPM2B_NAME name;
	TSS2_RC rc;

	if (tpm_public_name(&k->signer_pub, &name) < 0)
		return -EIO;
	tpm_pcr_selection(mask, &sel);
	rc = Esys_PolicyRestart(t->esys, k->policy_session, ESYS_TR_NONE, ESYS_TR_NONE,
				ESYS_TR_NONE);
	if (rc == TSS2_RC_SUCCESS)
		rc = Esys_PolicyPCR(t->esys, k->policy_session, ESYS_TR_NONE, ESYS_TR_NONE,
				    ESYS_TR_NONE, &current, &sel);
	if (rc == TSS2_RC_SUCCESS)
		rc = Esys_PolicyAuthorize(t->esys, k->policy_session, ESYS_TR_NONE, ESYS_TR_NONE,
					  ESYS_TR_NONE, approved, &no_ref, &name, ticket);
	if (rc == TSS2_RC_SUCCESS)
		return 0;
	if (tpm_rc_is(rc, TPM2_RC_VALUE) || tpm_rc_is(rc, TPM2_RC_POLICY_FAIL))
		return -EPERM;
	return tpm_fail(t, tpm_rc_to_errno(rc), rc, "the signed PCR policy session failed: %s",
			tpm_rc_text(rc));
}

static int by_epoch_desc(const void *a, const void *b)
{
	const struct candidate *x = a, *y = b;

	return x->p.epoch < y->p.epoch ? 1 : x->p.epoch > y->p.epoch ? -1 : 0;
}

/* The signed policies in dir, newest first, without retired or unreadable ones. */
static int list_policies(struct tpm_key *k, const char *dir, struct candidate **ret,
			 size_t *ret_n, char *why, size_t why_len)
{
	_cleanup_free_ char *text = malloc(TPM_POLICY_FILE_MAX + 1);
	struct candidate *c = calloc(POLICIES_MAX, sizeof(*c));
	uint32_t retired = 0;
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	if (!c || !text) {
		free(c);
		return -ENOMEM;
	}
	d = opendir(dir);
	if (!d) {
		free(c);
		*ret_n = 0;
		*ret = NULL;
		return 0;
	}
	while ((de = readdir(d)) && n < POLICIES_MAX) {
		size_t len = TPM_POLICY_FILE_MAX + 1, l = strlen(de->d_name);
		char err[TPM_POLICY_ERR_MAX];

		if (strcmp(de->d_name, TPM_POLICY_RETIRED_FILE) == 0) {
			if (tpm_file_read(k->t, dir, de->d_name, (uint8_t *)text, &len, "", "", "") == 0) {
				text[len] = '\0';
				retired = (uint32_t)strtoul(text, NULL, 10);
			}
			continue;
		}
		if (l < 5 || l >= sizeof(c[n].name) || strcmp(de->d_name + l - 4, ".pol") != 0)
			continue;
		if (tpm_file_read(k->t, dir, de->d_name, (uint8_t *)text, &len, "", "", "") < 0)
			continue;
		if (tpm_policy_parse(text, len, &c[n].p, err, sizeof(err)) < 0) {
			snprintf(why, why_len, "%s/%s: %s", dir, de->d_name, err);
			continue;
		}
		strcpy(c[n].name, de->d_name);
		n++;
	}
	closedir(d);
	for (size_t i = 0; i < n;)
		if (c[i].p.epoch < retired)
			c[i] = c[--n];
		else
			i++;
	qsort(c, n, sizeof(*c), by_epoch_desc);
	*ret = c;
	*ret_n = n;
	return 0;
}

/* "4, 7": the PCRs of p whose current value differs from the signed one. */
static void differing_pcrs(struct tpm_ctx *t, const struct tpm_signed_policy *p, char *buf,
			   size_t len)
{
	size_t o = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < TPM_PCR_COUNT; i++) {
		TPML_PCR_SELECTION sel, *out_sel = NULL;
		TPML_DIGEST *vals = NULL;
		UINT32 counter;
		bool differs = true;

		if (!(p->pcr_mask & (UINT32_C(1) << i)))
			continue;
		tpm_pcr_selection(UINT32_C(1) << i, &sel);
		if (Esys_PCR_Read(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &sel, &counter,
				  &out_sel, &vals) == TSS2_RC_SUCCESS &&
		    vals->count == 1 && vals->digests[0].size == 32)
			differs = memcmp(vals->digests[0].buffer, p->pcr[i], 32) != 0;
		Esys_Free(out_sel);
		Esys_Free(vals);
		if (differs && o < len)
			o += (size_t)snprintf(buf + o, len - o, "%s%u", o ? ", " : "", i);
	}
}

static int verify_ticket(struct tpm_key *k, const struct tpm_signed_policy *p,
			 TPM2B_DIGEST *approved, TPMT_TK_VERIFIED **ret)
{
	TPMT_SIGNATURE sig = { .sigAlg = TPM2_ALG_ECDSA };
	TPM2B_DIGEST ahash = { .size = 32 };
	TSS2_RC rc;

	approved->size = 32;
	if (tpm_policy_pcr_digest(p->pcr_mask, (const uint8_t(*)[32])p->pcr, approved->buffer) < 0 ||
	    tpm_policy_ahash(approved->buffer, ahash.buffer) < 0)
		return -EIO;
	sig.signature.ecdsa.hash = TPM2_ALG_SHA256;
	sig.signature.ecdsa.signatureR.size = 32;
	memcpy(sig.signature.ecdsa.signatureR.buffer, p->sig_r, 32);
	sig.signature.ecdsa.signatureS.size = 32;
	memcpy(sig.signature.ecdsa.signatureS.buffer, p->sig_s, 32);
	rc = Esys_VerifySignature(k->t->esys, k->signer, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
				  &ahash, &sig, ret);
	if (rc == TSS2_RC_SUCCESS)
		return 0;
	if (tpm_rc_is(rc, TPM2_RC_SIGNATURE) || tpm_rc_is(rc, TPM2_RC_VALUE) ||
	    tpm_rc_is(rc, TPM2_RC_ECC_POINT))
		return -EBADMSG;
	return tpm_fail(k->t, tpm_rc_to_errno(rc), rc, "TPM2_VerifySignature failed: %s",
			tpm_rc_text(rc));
}

static int none_accepted(struct tpm_key *k, const char *dir, const struct candidate *mismatch,
			 const char *bad_sig, const char *why)
{
	char pcrs[96];

	if (mismatch) {
		differing_pcrs(k->t, &mismatch->p, pcrs, sizeof(pcrs));
		return tpm_fail(k->t, -EPERM, 0,
				"no signed policy in %s matches the current PCR values: the newest, "
				"%s (epoch %u), differs in PCR %s. After a firmware or boot change, "
				"read the new values (tpm2_pcrread), have the provider sign them "
				"(m2masctl policy sign) and install the file (m2msactl policy-install)",
				dir, mismatch->name, (unsigned)mismatch->p.epoch,
				pcrs[0] ? pcrs : "(none now: it changed meanwhile; try again)");
	}
	if (bad_sig[0])
		return tpm_fail(k->t, -EPERM, 0,
				"%s/%s is not signed by this key's policy signer (ask the provider for "
				"a policy signed with the key given at provisioning)",
				dir, bad_sig);
	return tpm_fail(k->t, -EPERM, 0,
			"no usable signed policy in %s%s%s: Km cannot be used without one (ask the "
			"provider to sign one with m2masctl policy sign, then m2msactl "
			"policy-install it)",
			dir, why[0] ? "; " : "", why);
}

static int scan(struct tpm_key *k)
{
	_cleanup_free_ char *dir = NULL;
	_cleanup_free_ struct candidate *c = NULL;
	const struct candidate *mismatch = NULL;
	char why[WHY_MAX] = "", bad_sig[128] = "";
	size_t n = 0;
	int r;

	if (asprintf(&dir, "%s/%s", k->state_dir, TPM_POLICY_DIR) < 0)
		return -ENOMEM;
	r = list_policies(k, dir, &c, &n, why, sizeof(why));
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		TPMT_TK_VERIFIED *ticket = NULL;
		TPM2B_DIGEST approved;

		r = verify_ticket(k, &c[i].p, &approved, &ticket);
		if (r == -EBADMSG) {
			if (!bad_sig[0])
				snprintf(bad_sig, sizeof(bad_sig), "%s", c[i].name);
			continue;
		}
		if (r < 0)
			return r;
		r = try_authorize(k, &approved, c[i].p.pcr_mask, ticket);
		if (r == 0) {
			k->approved = approved;
			k->ticket = *ticket;
			k->approved_mask = c[i].p.pcr_mask;
			k->have_approved = true;
		}
		Esys_Free(ticket);
		if (r == 0)
			return 0;
		if (r != -EPERM)
			return r;
		if (!mismatch)
			mismatch = &c[i];
	}
	return none_accepted(k, dir, mismatch, bad_sig, why);
}

int tpm_key_signed_policy(struct tpm_key *k)
{
	int r;

	r = load_signer(k);
	if (r < 0)
		return r;
	if (k->policy_session == ESYS_TR_NONE) {
		r = tpm_start_salted_session(k->t, TPM2_SE_POLICY, TPMA_SESSION_CONTINUESESSION,
					     &k->policy_session);
		if (r < 0)
			return r;
	}
	if (k->have_approved) {
		r = try_authorize(k, &k->approved, k->approved_mask, &k->ticket);
		if (r != -EPERM)
			return r;
		k->have_approved = false;
	}
	return scan(k);
}
