/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Software TPM2 duplication (no TPM): wrap Km to a node's ECC P-256 storage key so
 * that only that TPM can import it. Formulas in tpm/dup.h and docs/tpm.md.
 */
#include <wolfssl/options.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <tss2/tss2_mu.h>
#include <wolfssl/wolfcrypt/aes.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/random.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include "common/crypto.h"
#include "common/secret.h"
#include "tpm/dup.h"

#define P256_LEN 32

static void be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/*
 * KDFe (TPM 2.0 Part 1 §11.4.10.3, SP 800-56A concatenation KDF), one SHA-256 block:
 * SHA256(00000001 || Z || use (with its NUL) || partyU || partyV).
 */
static int kdfe(const uint8_t z[static P256_LEN], const char *use, const uint8_t *u, size_t u_len,
		const uint8_t *v, size_t v_len, uint8_t out[static SHA256_LEN])
{
	const uint8_t one[4] = { 0, 0, 0, 1 };
	wc_Sha256 sha;
	int r;

	if (wc_InitSha256(&sha) != 0)
		return -EIO;
	r = wc_Sha256Update(&sha, one, 4);
	if (r == 0)
		r = wc_Sha256Update(&sha, z, P256_LEN);
	if (r == 0)
		r = wc_Sha256Update(&sha, (const uint8_t *)use, (word32)strlen(use) + 1);
	if (r == 0)
		r = wc_Sha256Update(&sha, u, (word32)u_len);
	if (r == 0)
		r = wc_Sha256Update(&sha, v, (word32)v_len);
	if (r == 0)
		r = wc_Sha256Final(&sha, out);
	wc_Sha256Free(&sha);
	return r ? -EIO : 0;
}

/*
 * KDFa (TPM 2.0 Part 1 §11.4.10.2, SP 800-108 counter mode, HMAC-SHA256), for
 * bits <= 256: HMAC(key, 00000001 || label || 00 || context || [bits]_32), leading bytes.
 */
static int kdfa(const uint8_t key[static SHA256_LEN], const char *label, const uint8_t *ctx,
		size_t ctx_len, unsigned bits, uint8_t *out)
{
	uint8_t in[4 + 16 + sizeof(TPMU_NAME) + 4], mac[SHA256_LEN];
	size_t n = 0, l = strlen(label) + 1;
	int r;

	if (l > 16 || ctx_len > sizeof(TPMU_NAME) || bits > 256 || bits % 8)
		return -EINVAL;
	be32(in, 1);
	n = 4;
	memcpy(in + n, label, l);
	n += l;
	if (ctx_len)
		memcpy(in + n, ctx, ctx_len);
	n += ctx_len;
	be32(in + n, bits);
	n += 4;
	r = crypto_hmac_sha256(key, SHA256_LEN, in, n, mac);
	if (r == 0)
		memcpy(out, mac, bits / 8);
	secret_wipe(mac, sizeof(mac));
	return r;
}

/* ECDH with the SRK's point: Z (x coordinate) and the ephemeral point to send. */
static int ecdh(WC_RNG *rng, const TPMS_ECC_POINT *srk, uint8_t z[static P256_LEN],
		TPMS_ECC_POINT *ret_eph)
{
	ecc_key eph, parent;
	word32 zlen = P256_LEN, xl = P256_LEN, yl = P256_LEN;
	int r = -EIO;

	if (wc_ecc_init(&eph) != 0)
		return -ENOMEM;
	if (wc_ecc_init(&parent) != 0) {
		wc_ecc_free(&eph);
		return -ENOMEM;
	}
	if (wc_ecc_import_unsigned(&parent, srk->x.buffer, srk->y.buffer, NULL, ECC_SECP256R1) ||
	    wc_ecc_check_key(&parent)) {
		r = -EINVAL;
		goto out;
	}
	if (wc_ecc_make_key_ex(rng, P256_LEN, &eph, ECC_SECP256R1) != 0 ||
	    wc_ecc_set_rng(&eph, rng) != 0)
		goto out;
	if (wc_ecc_shared_secret(&eph, &parent, z, &zlen) != 0 || zlen != P256_LEN)
		goto out;
	if (wc_ecc_export_public_raw(&eph, ret_eph->x.buffer, &xl, ret_eph->y.buffer, &yl) != 0 ||
	    xl != P256_LEN || yl != P256_LEN)
		goto out;
	ret_eph->x.size = P256_LEN;
	ret_eph->y.size = P256_LEN;
	r = 0;
out:
	wc_ecc_free(&eph);
	wc_ecc_free(&parent);
	return r;
}

/* The object: public area with unique = SHA256(seedValue || Km), and its sensitive area. */
static int make_object(WC_RNG *rng, const uint8_t km[static 32], const TPM2B_DIGEST *policy,
		       TPM2B_PUBLIC *pub, TPMT_SENSITIVE *sens)
{
	uint8_t both[2 * SHA256_LEN];
	int r;

	tpm_dup_km_template(policy, pub);
	memset(sens, 0, sizeof(*sens));
	sens->sensitiveType = TPM2_ALG_KEYEDHASH;
	sens->seedValue.size = SHA256_LEN;
	if (wc_RNG_GenerateBlock(rng, sens->seedValue.buffer, SHA256_LEN) != 0)
		return -EIO;
	sens->sensitive.bits.size = 32;
	memcpy(sens->sensitive.bits.buffer, km, 32);
	memcpy(both, sens->seedValue.buffer, SHA256_LEN);
	memcpy(both + SHA256_LEN, km, 32);
	r = wc_Sha256Hash(both, sizeof(both), pub->publicArea.unique.keyedHash.buffer);
	secret_wipe(both, sizeof(both));
	if (r != 0)
		return -EIO;
	pub->publicArea.unique.keyedHash.size = SHA256_LEN;
	return 0;
}

/* duplicate = TPM2B(outerHMAC) || AES-128-CFB(symKey, 0, TPM2B_SENSITIVE). */
static int outer_wrap(const uint8_t seed[static SHA256_LEN], const TPM2B_NAME *name,
		      const TPMT_SENSITIVE *sens, TPM2B_PRIVATE *ret)
{
	uint8_t sym[16], hkey[SHA256_LEN], iv[16] = { 0 };
	uint8_t plain[sizeof(TPM2B_SENSITIVE)], mac_in[sizeof(TPM2B_PRIVATE) + sizeof(TPMU_NAME)];
	size_t off = 2, n;
	Aes aes;
	int r;

	if (Tss2_MU_TPMT_SENSITIVE_Marshal(sens, plain, sizeof(plain), &off) != TSS2_RC_SUCCESS)
		return -EIO;
	plain[0] = (uint8_t)((off - 2) >> 8);
	plain[1] = (uint8_t)(off - 2);
	n = off;
	if (2 + SHA256_LEN + n > sizeof(ret->buffer))
		return -EIO;
	r = kdfa(seed, "STORAGE", name->name, name->size, 128, sym);
	if (r == 0)
		r = kdfa(seed, "INTEGRITY", NULL, 0, 256, hkey);
	if (r < 0)
		goto out;
	if (wc_AesInit(&aes, NULL, INVALID_DEVID) != 0) {
		r = -EIO;
		goto out;
	}
	if (wc_AesSetKey(&aes, sym, 16, iv, AES_ENCRYPTION) != 0 ||
	    wc_AesCfbEncrypt(&aes, ret->buffer + 2 + SHA256_LEN, plain, (word32)n) != 0)
		r = -EIO;
	wc_AesFree(&aes);
	if (r < 0)
		goto out;
	memcpy(mac_in, ret->buffer + 2 + SHA256_LEN, n);
	memcpy(mac_in + n, name->name, name->size);
	r = crypto_hmac_sha256(hkey, sizeof(hkey), mac_in, n + name->size, ret->buffer + 2);
	if (r < 0)
		goto out;
	ret->buffer[0] = 0;
	ret->buffer[1] = SHA256_LEN;
	ret->size = (UINT16)(2 + SHA256_LEN + n);
out:
	secret_wipe(sym, sizeof(sym));
	secret_wipe(hkey, sizeof(hkey));
	secret_wipe(plain, sizeof(plain));
	secret_wipe(mac_in, sizeof(mac_in));
	return r;
}

int tpm_dup_wrap(const TPM2B_PUBLIC *srk, const uint8_t km[static 32], const TPM2B_DIGEST *policy,
		 struct tpm_dup_blob *ret, char *err, size_t err_len)
{
	const TPMS_ECC_POINT *sp;
	TPMS_ECC_POINT eph = { 0 };
	TPMT_SENSITIVE sens;
	uint8_t z[P256_LEN], seed[SHA256_LEN];
	TPM2B_NAME name;
	size_t off = 0;
	WC_RNG rng;
	int r;

	if (!srk || !km || !ret)
		return -EINVAL;
	sp = &srk->publicArea.unique.ecc;
	if (srk->publicArea.type != TPM2_ALG_ECC ||
	    srk->publicArea.parameters.eccDetail.curveID != TPM2_ECC_NIST_P256 ||
	    sp->x.size != P256_LEN || sp->y.size != P256_LEN) {
		snprintf(err, err_len, "the storage key is not an ECC P-256 key");
		return -EINVAL;
	}
	if (wc_InitRng(&rng) != 0) {
		snprintf(err, err_len, "cannot initialise the random number generator");
		return -EIO;
	}
	r = make_object(&rng, km, policy, &ret->pub, &sens);
	if (r == 0)
		r = tpm_public_name(&ret->pub, &name);
	if (r == 0)
		r = tpm_public_name(srk, &ret->parent_name);
	if (r == 0)
		r = ecdh(&rng, sp, z, &eph);
	if (r == -EINVAL) {
		snprintf(err, err_len, "the storage key's point is not on NIST P-256");
		goto out;
	}
	if (r == 0)
		r = kdfe(z, "DUPLICATE", eph.x.buffer, P256_LEN, sp->x.buffer, P256_LEN, seed);
	if (r == 0)
		r = outer_wrap(seed, &name, &sens, &ret->dup);
	if (r == 0 && Tss2_MU_TPMS_ECC_POINT_Marshal(&eph, ret->seed.secret,
						    sizeof(ret->seed.secret),
						    &off) != TSS2_RC_SUCCESS)
		r = -EIO;
	if (r < 0) {
		snprintf(err, err_len, "cannot build the duplication blob (%s)", strerror(-r));
		goto out;
	}
	ret->seed.size = (UINT16)off;
out:
	wc_FreeRng(&rng);
	secret_wipe(&sens, sizeof(sens));
	secret_wipe(z, sizeof(z));
	secret_wipe(seed, sizeof(seed));
	return r;
}
