/* SPDX-License-Identifier: Apache-2.0 */
/* Wrapped import on the node: the SRK identity, the EK certificate and TPM2_Import of a km.dup. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <tss2/tss2_mu.h>

#include "common/secret.h"
#include "tpm/import.h"
#include "tpm/policy.h"
#include "tpm/tpm-internal.h"

#define EK_CERT_MAX 4096
#define NV_CHUNK 512

static void name_hex(const TPM2B_NAME *n, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n->size && o + 3 <= len; i++)
		o += (size_t)snprintf(buf + o, len - o, "%02x", n->name[i]);
}

int tpm_srk_identity(struct tpm_ctx *t, TPM2B_PUBLIC *ret_pub, TPM2B_NAME *ret_name,
		     bool *ret_persistent)
{
	TPM2B_PUBLIC *pub = NULL;
	TPM2B_NAME *name = NULL, *qname = NULL;
	const TPMT_PUBLIC *a;
	bool persistent;
	TSS2_RC rc;
	int r;

	if (!t)
		return -EINVAL;
	r = tpm_primary(t, &persistent);
	if (r < 0)
		return r;
	rc = Esys_ReadPublic(t->esys, t->primary, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pub,
			     &name, &qname);
	if (rc != TSS2_RC_SUCCESS)
		return tpm_fail(t, tpm_rc_to_errno(rc), rc,
				"cannot read the storage key's public part: %s", tpm_rc_text(rc));
	a = &pub->publicArea;
	if (a->type != TPM2_ALG_ECC || a->parameters.eccDetail.curveID != TPM2_ECC_NIST_P256 ||
	    !(a->objectAttributes & TPMA_OBJECT_RESTRICTED) ||
	    !(a->objectAttributes & TPMA_OBJECT_DECRYPT)) {
		r = tpm_fail(t, -EINVAL, 0,
			     "the persistent storage key at 0x%08x is not an ECC P-256 storage key "
			     "(wrapped import needs one; use m2msactl provision --key-file, or "
			     "replace the SRK: tpm2_createprimary -C o -G ecc256:aes128cfb then "
			     "tpm2_evictcontrol)",
			     TPM_SRK_HANDLE);
		goto out;
	}
	if (ret_pub)
		*ret_pub = *pub;
	if (ret_name)
		*ret_name = *name;
	if (ret_persistent)
		*ret_persistent = persistent;
	r = 0;
out:
	Esys_Free(pub);
	Esys_Free(name);
	Esys_Free(qname);
	return r;
}

/* Read one NV index completely (authorised by the index itself, empty password). */
static int nv_read_all(struct tpm_ctx *t, uint32_t index, uint8_t **ret, size_t *ret_len)
{
	TPM2B_NV_PUBLIC *npub = NULL;
	TPM2B_MAX_NV_BUFFER *chunk = NULL;
	ESYS_TR h = ESYS_TR_NONE;
	uint8_t *buf = NULL;
	size_t size, off = 0;
	TSS2_RC rc;
	int r = 0;

	rc = Esys_TR_FromTPMPublic(t->esys, index, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &h);
	if (rc != TSS2_RC_SUCCESS)
		return -ENOENT;
	rc = Esys_NV_ReadPublic(t->esys, h, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &npub, NULL);
	if (rc != TSS2_RC_SUCCESS) {
		r = tpm_fail(t, tpm_rc_to_errno(rc), rc, "cannot read NV index 0x%08x: %s", index,
			     tpm_rc_text(rc));
		goto out;
	}
	size = npub->nvPublic.dataSize;
	if (size == 0 || size > EK_CERT_MAX) {
		r = tpm_fail(t, -EBADMSG, 0, "NV index 0x%08x holds %zu bytes, not a certificate",
			     index, size);
		goto out;
	}
	buf = malloc(size);
	if (!buf) {
		r = -ENOMEM;
		goto out;
	}
	while (off < size) {
		UINT16 n = (UINT16)(size - off > NV_CHUNK ? NV_CHUNK : size - off);

		rc = Esys_NV_Read(t->esys, h, h, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, n,
				  (UINT16)off, &chunk);
		if (rc != TSS2_RC_SUCCESS || chunk->size != n) {
			r = tpm_fail(t, rc ? tpm_rc_to_errno(rc) : -EIO, rc,
				     "cannot read the EK certificate from NV index 0x%08x: %s",
				     index, tpm_rc_text(rc));
			goto out;
		}
		memcpy(buf + off, chunk->buffer, n);
		off += n;
		Esys_Free(chunk);
		chunk = NULL;
	}
	*ret = buf;
	*ret_len = size;
	buf = NULL;
out:
	free(buf);
	Esys_Free(chunk);
	Esys_Free(npub);
	(void)Esys_TR_Close(t->esys, &h);
	return r;
}

int tpm_ek_cert_read(struct tpm_ctx *t, uint8_t **ret, size_t *ret_len, uint32_t *ret_index)
{
	uint32_t indices[2 + (TPM_EK_CERT_NV_HIGH_LAST - TPM_EK_CERT_NV_HIGH_FIRST) / 2 + 1];
	size_t n = 0;
	int r;

	if (!t || !ret || !ret_len)
		return -EINVAL;
	indices[n++] = TPM_EK_CERT_NV_ECC;
	indices[n++] = TPM_EK_CERT_NV_RSA;
	for (uint32_t i = TPM_EK_CERT_NV_HIGH_FIRST; i <= TPM_EK_CERT_NV_HIGH_LAST; i += 2)
		indices[n++] = i;
	for (size_t i = 0; i < n; i++) {
		r = nv_read_all(t, indices[i], ret, ret_len);
		if (r == -ENOENT)
			continue;
		if (r == 0 && ret_index)
			*ret_index = indices[i];
		return r;
	}
	return tpm_fail(t, -ENOENT, 0,
			"the TPM holds no EK certificate (TCG NV indices 0x%08x, 0x%08x, 0x%08x to "
			"0x%08x are empty)",
			TPM_EK_CERT_NV_ECC, TPM_EK_CERT_NV_RSA, TPM_EK_CERT_NV_HIGH_FIRST,
			TPM_EK_CERT_NV_HIGH_LAST);
}

static int check_object(struct tpm_ctx *t, const TPM2B_PUBLIC *pub)
{
	const TPMT_PUBLIC *a = &pub->publicArea;

	if (a->type != TPM2_ALG_KEYEDHASH || a->nameAlg != TPM2_ALG_SHA256 ||
	    a->parameters.keyedHashDetail.scheme.scheme != TPM2_ALG_HMAC ||
	    a->parameters.keyedHashDetail.scheme.details.hmac.hashAlg != TPM2_ALG_SHA256)
		return tpm_fail(t, -EINVAL, 0,
				"the wrapped object is not an HMAC-SHA256 key (not a Km blob; ask "
				"for one made with m2masctl node add --wrap-to)");
	if (a->objectAttributes & (TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT))
		return tpm_fail(t, -EINVAL, 0,
				"the wrapped object has fixedTPM or fixedParent set, which TPM2_Import "
				"refuses (make the blob with m2masctl node add --wrap-to)");
	return 0;
}

static int import_fail(struct tpm_ctx *t, TSS2_RC rc)
{
	if (tpm_rc_is(rc, TPM2_RC_INTEGRITY) || tpm_rc_is(rc, TPM2_RC_ECC_POINT) ||
	    tpm_rc_is(rc, TPM2_RC_SIZE) || tpm_rc_is(rc, TPM2_RC_KEY) ||
	    tpm_rc_is(rc, TPM2_RC_VALUE) || tpm_rc_is(rc, TPM2_RC_BINDING) ||
	    tpm_rc_is(rc, TPM2_RC_INSUFFICIENT) || tpm_rc_is(rc, TPM2_RC_SCHEME))
		return tpm_fail(t, -EBADMSG, rc,
				"the TPM refused the wrapped key: the blob is damaged, or was made "
				"for another TPM's storage key (ask the provider to wrap Km again "
				"to this node's srk.pub from m2msactl tpm-identity)");
	if (tpm_rc_is(rc, TPM2_RC_ATTRIBUTES))
		return tpm_fail(t, -EINVAL, rc,
				"the TPM refused the wrapped key's attributes (fixedTPM/fixedParent "
				"objects cannot be imported)");
	return tpm_fail(t, tpm_rc_to_errno(rc), rc, "TPM2_Import failed: %s", tpm_rc_text(rc));
}

/* TPM2_Import then TPM2_Load: the TPM checks the outer HMAC and the object's binding. */
static int import_and_check(struct tpm_ctx *t, const struct tpm_dup_blob *b,
			    TPM2B_PRIVATE **ret_priv)
{
	const TPM2B_DATA no_inner_key = { .size = 0 };
	const TPMT_SYM_DEF_OBJECT no_inner = { .algorithm = TPM2_ALG_NULL };
	TPM2B_PRIVATE *priv = NULL;
	ESYS_TR h = ESYS_TR_NONE;
	TSS2_RC rc;

	rc = Esys_Import(t->esys, t->primary, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
			 &no_inner_key, &b->pub, &b->dup, &b->seed, &no_inner, &priv);
	if (rc != TSS2_RC_SUCCESS)
		return import_fail(t, rc);
	rc = Esys_Load(t->esys, t->primary, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, priv,
		       &b->pub, &h);
	if (rc != TSS2_RC_SUCCESS) {
		secret_wipe(priv, sizeof(*priv));
		Esys_Free(priv);
		return import_fail(t, rc);
	}
	tpm_flush(t, &h);
	*ret_priv = priv;
	return 0;
}

/* With a signer: the object's authPolicy must be PolicyAuthorize(signer), and only that. */
static int check_signer(struct tpm_ctx *t, const struct tpm_dup_blob *b)
{
	const TPMT_PUBLIC *a = &b->pub.publicArea;
	TPM2B_PUBLIC expect;
	TPM2B_NAME name;
	uint8_t digest[32];

	if (!b->has_signer)
		return 0;
	if (b->signer.publicArea.type != TPM2_ALG_ECC ||
	    b->signer.publicArea.unique.ecc.x.size != 32 ||
	    b->signer.publicArea.unique.ecc.y.size != 32)
		return tpm_fail(t, -EINVAL, 0, "the blob's policy signer is not a P-256 key");
	tpm_policy_signer_public(b->signer.publicArea.unique.ecc.x.buffer,
				 b->signer.publicArea.unique.ecc.y.buffer, &expect);
	if (tpm_public_name(&expect, &name) < 0 || tpm_policy_authorize_digest(&name, digest) < 0)
		return tpm_fail(t, -EIO, 0, "cannot compute the signed policy digest");
	if (a->authPolicy.size != 32 || memcmp(a->authPolicy.buffer, digest, 32) != 0 ||
	    (a->objectAttributes & TPMA_OBJECT_USERWITHAUTH))
		return tpm_fail(t, -EINVAL, 0,
				"the blob's key is not bound to its policy signer (authPolicy is not "
				"PolicyAuthorize(signer)); ask for it to be wrapped again");
	return 0;
}


int tpm_import_dup(struct tpm_ctx *t, const char *state_dir, const struct tpm_dup_blob *b)
{
	TPM2B_NAME srk_name;
	TPM2B_PRIVATE *priv = NULL;
	char want[2 * sizeof(TPMU_NAME) + 1], have[2 * sizeof(TPMU_NAME) + 1];
	int r;

	if (!t)
		return -EINVAL;
	if (!b || !state_dir || !*state_dir)
		return tpm_fail(t, -EINVAL, 0, "no blob or state directory given");
	if (!tpm_id_valid(b->node_id) || !tpm_id_valid(b->km_id))
		return tpm_fail(t, -EINVAL, 0, "the blob's node ID or KmID is invalid");
	r = check_object(t, &b->pub);
	if (r == 0)
		r = check_signer(t, b);
	if (r < 0)
		return r;
	r = tpm_srk_identity(t, NULL, &srk_name, NULL);
	if (r < 0)
		return r;
	if (b->parent_name.size &&
	    (b->parent_name.size != srk_name.size ||
	     memcmp(b->parent_name.name, srk_name.name, srk_name.size) != 0)) {
		name_hex(&b->parent_name, want, sizeof(want));
		name_hex(&srk_name, have, sizeof(have));
		return tpm_fail(t, -EXDEV, 0,
				"the blob is wrapped to another storage key (Name %.16s...), not this "
				"TPM's (Name %.16s...): send this node's srk.pub (m2msactl "
				"tpm-identity) and ask for the key to be wrapped again (m2masctl node "
				"rewrap)",
				want, have);
	}
	r = import_and_check(t, b, &priv);
	if (r < 0)
		return r;
	r = b->has_signer ? tpm_signer_write(t, state_dir, &b->signer) : 0;
	if (r == 0)
		r = tpm_state_write(t, state_dir, &b->pub, priv, b->node_id, b->km_id, 0,
				    b->has_signer);
	if (r == 0 && !b->has_signer)
		tpm_signer_remove(state_dir);
	secret_wipe(priv, sizeof(*priv));
	Esys_Free(priv);
	return r;
}
