/* SPDX-License-Identifier: Apache-2.0 */
/* Signed PCR policies in software: PolicyPCR/PolicyAuthorize digests, signing, the policy file. */
#include <wolfssl/options.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tss2/tss2_mu.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/random.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include "common/secret.h"
#include "tpm/dup.h"
#include "tpm/policy.h"

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

int tpm_policy_pcr_digest(uint32_t mask, const uint8_t values[TPM_PCR_COUNT][32],
			  uint8_t out[static 32])
{
	uint8_t buf[32 + 4 + 10 + 32], all[TPM_PCR_COUNT * 32];
	size_t n = 0, off = 0;

	if (!mask || mask >> TPM_PCR_COUNT)
		return -EINVAL;
	for (unsigned i = 0; i < TPM_PCR_COUNT; i++)
		if (mask & (UINT32_C(1) << i)) {
			memcpy(all + n, values[i], 32);
			n += 32;
		}
	memset(buf, 0, 32);
	put32(buf + 32, TPM2_CC_PolicyPCR);
	off = 36;
	put32(buf + off, 1); /* TPML_PCR_SELECTION: one bank */
	buf[off + 4] = (uint8_t)(TPM2_ALG_SHA256 >> 8);
	buf[off + 5] = (uint8_t)TPM2_ALG_SHA256;
	buf[off + 6] = 3;
	buf[off + 7] = (uint8_t)mask;
	buf[off + 8] = (uint8_t)(mask >> 8);
	buf[off + 9] = (uint8_t)(mask >> 16);
	off += 10;
	if (wc_Sha256Hash(all, (word32)n, buf + off) != 0)
		return -EIO;
	off += 32;
	return wc_Sha256Hash(buf, (word32)off, out) ? -EIO : 0;
}

int tpm_policy_authorize_digest(const TPM2B_NAME *signer, uint8_t out[static 32])
{
	uint8_t buf[32 + 4 + sizeof(TPMU_NAME)], mid[32];

	if (!signer || signer->size == 0 || signer->size > sizeof(TPMU_NAME))
		return -EINVAL;
	memset(buf, 0, 32);
	put32(buf + 32, TPM2_CC_PolicyAuthorize);
	memcpy(buf + 36, signer->name, signer->size);
	if (wc_Sha256Hash(buf, 36 + signer->size, mid) != 0)
		return -EIO;
	/* PolicyUpdate's second step with the empty policyRef: SHA256(mid || "") */
	return wc_Sha256Hash(mid, 32, out) ? -EIO : 0;
}

int tpm_policy_ahash(const uint8_t approved[static 32], uint8_t out[static 32])
{
	return wc_Sha256Hash(approved, 32, out) ? -EIO : 0;
}

void tpm_policy_signer_public(const uint8_t x[static 32], const uint8_t y[static 32],
			      TPM2B_PUBLIC *ret)
{
	TPMT_PUBLIC *a = &ret->publicArea;

	memset(ret, 0, sizeof(*ret));
	a->type = TPM2_ALG_ECC;
	a->nameAlg = TPM2_ALG_SHA256;
	a->objectAttributes = TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_USERWITHAUTH;
	a->parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
	a->parameters.eccDetail.scheme.scheme = TPM2_ALG_ECDSA;
	a->parameters.eccDetail.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
	a->parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
	a->parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
	a->unique.ecc.x.size = 32;
	memcpy(a->unique.ecc.x.buffer, x, 32);
	a->unique.ecc.y.size = 32;
	memcpy(a->unique.ecc.y.buffer, y, 32);
}

static int key_public(ecc_key *k, TPM2B_PUBLIC *ret)
{
	uint8_t x[32], y[32];
	word32 xl = 32, yl = 32;

	if (wc_ecc_get_curve_id(k->idx) != ECC_SECP256R1)
		return -EINVAL;
	if (wc_ecc_export_public_raw(k, x, &xl, y, &yl) != 0 || xl != 32 || yl != 32)
		return -EINVAL;
	tpm_policy_signer_public(x, y, ret);
	return 0;
}

/* A P-256 key from PEM: private (EC or PKCS#8) when want_private, else either. */
static int load_pem(const char *pem, size_t len, bool want_private, ecc_key *k)
{
	DerBuffer *der = NULL;
	word32 idx = 0;
	int r = -EINVAL;

	if (wc_ecc_init(k) != 0)
		return -ENOMEM;
	if (wc_PemToDer((const unsigned char *)pem, (long)len, PRIVATEKEY_TYPE, &der, NULL, NULL,
			NULL) == 0 &&
	    wc_EccPrivateKeyDecode(der->buffer, &idx, k, der->length) == 0)
		r = 0;
	idx = 0;
	if (r < 0 && !want_private && len < 4096) {
		uint8_t pub[4096];
		int n = wc_PubKeyPemToDer((const unsigned char *)pem, (int)len, pub, sizeof(pub));

		if (n > 0 && wc_EccPublicKeyDecode(pub, &idx, k, (word32)n) == 0)
			r = 0;
	}
	if (der) {
		secret_wipe(der->buffer, der->length);
		wc_FreeDer(&der);
	}
	if (r < 0)
		wc_ecc_free(k);
	return r;
}

int tpm_policy_signer_from_pem(const char *pem, size_t len, TPM2B_PUBLIC *ret, char *err,
			       size_t err_len)
{
	ecc_key k;
	int r;

	if (load_pem(pem, len, false, &k) < 0) {
		snprintf(err, err_len, "not an EC public or private key in PEM (make one with "
				       "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256)");
		return -EINVAL;
	}
	r = key_public(&k, ret);
	wc_ecc_free(&k);
	if (r < 0)
		snprintf(err, err_len, "the policy signer must be a NIST P-256 key");
	return r;
}

int tpm_policy_sign(struct tpm_signed_policy *p, const char *key_pem, size_t key_len,
		    const TPM2B_PUBLIC *expect_signer, char *err, size_t err_len)
{
	uint8_t approved[32], ahash[32], sig[ECC_MAX_SIG_SIZE];
	word32 sig_len = sizeof(sig), rl = 32, sl = 32;
	TPM2B_PUBLIC pub;
	ecc_key k;
	WC_RNG rng;
	int r;

	if (load_pem(key_pem, key_len, true, &k) < 0) {
		snprintf(err, err_len, "not an EC private key in PEM");
		return -EINVAL;
	}
	r = key_public(&k, &pub);
	if (r < 0) {
		snprintf(err, err_len, "the policy signing key must be a NIST P-256 key");
		goto out;
	}
	if (expect_signer && memcmp(&pub.publicArea.unique.ecc, &expect_signer->publicArea.unique.ecc,
				    sizeof(pub.publicArea.unique.ecc)) != 0) {
		snprintf(err, err_len, "the private key does not belong to the given signer");
		r = -EINVAL;
		goto out;
	}
	r = tpm_policy_pcr_digest(p->pcr_mask, (const uint8_t(*)[32])p->pcr, approved);
	if (r == 0)
		r = tpm_policy_ahash(approved, ahash);
	if (r < 0) {
		snprintf(err, err_len, "cannot compute the policy digest (no PCR selected?)");
		goto out;
	}
	if (wc_InitRng(&rng) != 0) {
		r = -EIO;
		snprintf(err, err_len, "cannot initialise the random number generator");
		goto out;
	}
	memset(p->sig_r, 0, 32);
	memset(p->sig_s, 0, 32);
	if (wc_ecc_sign_hash(ahash, 32, sig, &sig_len, &rng, &k) != 0 ||
	    wc_ecc_sig_to_rs(sig, sig_len, p->sig_r, &rl, p->sig_s, &sl) != 0) {
		r = -EIO;
		snprintf(err, err_len, "cannot sign the policy");
	} else {
		/* right-align r and s in their 32 bytes */
		memmove(p->sig_r + 32 - rl, p->sig_r, rl);
		memset(p->sig_r, 0, 32 - rl);
		memmove(p->sig_s + 32 - sl, p->sig_s, sl);
		memset(p->sig_s, 0, 32 - sl);
	}
	wc_FreeRng(&rng);
out:
	wc_ecc_free(&k);
	return r;
}

int tpm_policy_verify(const struct tpm_signed_policy *p, const TPM2B_PUBLIC *signer)
{
	const TPMS_ECC_POINT *q = &signer->publicArea.unique.ecc;
	uint8_t approved[32], ahash[32], sig[ECC_MAX_SIG_SIZE];
	word32 sig_len = sizeof(sig);
	int ok = 0, r;
	ecc_key k;

	r = tpm_policy_pcr_digest(p->pcr_mask, (const uint8_t(*)[32])p->pcr, approved);
	if (r == 0)
		r = tpm_policy_ahash(approved, ahash);
	if (r < 0)
		return r;
	if (wc_ecc_init(&k) != 0)
		return -ENOMEM;
	if (wc_ecc_import_unsigned(&k, q->x.buffer, q->y.buffer, NULL, ECC_SECP256R1) == 0 &&
	    wc_ecc_rs_raw_to_sig(p->sig_r, 32, p->sig_s, 32, sig, &sig_len) == 0 &&
	    wc_ecc_verify_hash(sig, sig_len, ahash, 32, &ok, &k) == 0 && ok == 1)
		r = 0;
	else
		r = -EBADMSG;
	wc_ecc_free(&k);
	return r;
}

static void hex_put(char *out, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

int tpm_policy_format(const struct tpm_signed_policy *p, char **ret)
{
	char *buf, *o;
	size_t cap = 256 + TPM_PCR_COUNT * 80;

	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	o = buf;
	o += sprintf(o, "# m2msa signed PCR policy (m2masctl policy sign); install it with\n"
			"# m2msactl policy-install FILE\nm2msa-policy 1\nepoch %u\npcrs sha256:",
		     (unsigned)p->epoch);
	for (unsigned i = 0, first = 1; i < TPM_PCR_COUNT; i++)
		if (p->pcr_mask & (UINT32_C(1) << i)) {
			o += sprintf(o, "%s%u", first ? "" : ",", i);
			first = 0;
		}
	*o++ = '\n';
	for (unsigned i = 0; i < TPM_PCR_COUNT; i++)
		if (p->pcr_mask & (UINT32_C(1) << i)) {
			o += sprintf(o, "pcr %u ", i);
			hex_put(o, p->pcr[i], 32);
			o += 64;
			*o++ = '\n';
		}
	o += sprintf(o, "signature ");
	hex_put(o, p->sig_r, 32);
	hex_put(o + 64, p->sig_s, 32);
	o += 128;
	*o++ = '\n';
	*o = '\0';
	*ret = buf;
	return 0;
}

int tpm_policy_pcrs_parse(const char *s, uint32_t *ret)
{
	uint32_t mask = 0;

	if (strncmp(s, "sha256:", 7) == 0)
		s += 7;
	for (;;) {
		unsigned v = 0, digits = 0;

		while (*s >= '0' && *s <= '9' && digits < 3) {
			v = v * 10 + (unsigned)(*s++ - '0');
			digits++;
		}
		if (!digits || v >= TPM_PCR_COUNT)
			return -EINVAL;
		mask |= UINT32_C(1) << v;
		if (*s == '\0' || *s == '\n' || *s == ' ')
			break;
		if (*s++ != ',')
			return -EINVAL;
	}
	*ret = mask;
	return 0;
}
