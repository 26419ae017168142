/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Signed PCR policies in software (tpm/policy.c, tpm/policyfile.c): known-answer
 * digests, signing and verification, the policy file and PCR value parsers.
 */
#include <criterion/criterion.h>
#include <wolfssl/options.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/random.h>

#include "hex.h"
#include "tpm/dup.h"
#include "tpm/policy.h"

/*
 * Known answers computed independently with Python's hashlib (TPM 2.0 Part 3
 * §23.7 PolicyPCR, §23.16 PolicyAuthorize; formulas in STANDARDS.md):
 *   import hashlib, struct
 *   vals = {0: b'\0'*32, 2: b'\x11'*32, 4: b'\x22'*32, 7: b'\x33'*32}
 *   sel = struct.pack('>IHB', 1, 0x000b, 3) + bytes([0x95, 0, 0])
 *   pd = hashlib.sha256(b''.join(vals[i] for i in sorted(vals))).digest()
 *   hashlib.sha256(b'\0'*32 + struct.pack('>I', 0x17f) + sel + pd).hexdigest()
 *   name = bytes.fromhex('000b') + b'\xaa'*32
 *   m = hashlib.sha256(b'\0'*32 + struct.pack('>I', 0x16a) + name).digest()
 *   hashlib.sha256(m).hexdigest()          # empty policyRef
 *   hashlib.sha256(bytes.fromhex(PCR_KAT)).hexdigest()   # aHash
 */
#define PCR_KAT "c2ccd73cfe103db8d3a78b514764da3c162244c22d13ffb652c0ee39ca2e52ad"
#define AUTH_KAT "a4f7bfab2472e143ef60d41094cbe7cec16817938d7db63ecf344327a36102e0"
#define AHASH_KAT "48471151ea54dbed2cf35a9b7367a8e9d235dadbd96c186d14ebb520b2fcf107"

static void kat_values(uint8_t v[TPM_PCR_COUNT][32], uint32_t *mask)
{
	memset(v, 0, TPM_PCR_COUNT * 32);
	memset(v[2], 0x11, 32);
	memset(v[4], 0x22, 32);
	memset(v[7], 0x33, 32);
	*mask = 1u << 0 | 1u << 2 | 1u << 4 | 1u << 7;
}

Test(policy, policy_pcr_digest_known_answer)
{
	uint8_t v[TPM_PCR_COUNT][32], d[32];
	uint32_t mask;
	char h[65];

	kat_values(v, &mask);
	cr_assert_eq(tpm_policy_pcr_digest(mask, (const uint8_t(*)[32])v, d), 0);
	tohex(d, 32, h);
	cr_assert_str_eq(h, PCR_KAT);
	cr_assert_eq(tpm_policy_ahash(d, d), 0);
	tohex(d, 32, h);
	cr_assert_str_eq(h, AHASH_KAT);
	cr_assert_eq(tpm_policy_pcr_digest(0, (const uint8_t(*)[32])v, d), -EINVAL);
}

Test(policy, policy_authorize_digest_known_answer)
{
	TPM2B_NAME n = { .size = 34 };
	uint8_t d[32];
	char h[65];

	n.name[0] = 0x00;
	n.name[1] = 0x0b;
	memset(n.name + 2, 0xaa, 32);
	cr_assert_eq(tpm_policy_authorize_digest(&n, d), 0);
	tohex(d, 32, h);
	cr_assert_str_eq(h, AUTH_KAT);
}

/* A fresh P-256 key as PEM (private) and its signer public area. */
static char *make_key(TPM2B_PUBLIC *pub)
{
	uint8_t der[256], x[32], y[32];
	char *pem = calloc(1, 512);
	word32 xl = 32, yl = 32;
	ecc_key k;
	WC_RNG rng;
	int n;

	cr_assert_not_null(pem);
	cr_assert_eq(wc_InitRng(&rng), 0);
	cr_assert_eq(wc_ecc_init(&k), 0);
	cr_assert_eq(wc_ecc_make_key_ex(&rng, 32, &k, ECC_SECP256R1), 0);
	n = wc_EccKeyToDer(&k, der, sizeof(der));
	cr_assert_gt(n, 0);
	cr_assert_gt(wc_DerToPem(der, (word32)n, (byte *)pem, 511, ECC_PRIVATEKEY_TYPE), 0);
	cr_assert_eq(wc_ecc_export_public_raw(&k, x, &xl, y, &yl), 0);
	tpm_policy_signer_public(x, y, pub);
	wc_ecc_free(&k);
	wc_FreeRng(&rng);
	return pem;
}

Test(policy, signed_policy_verifies_only_for_its_signer_and_values)
{
	struct tpm_signed_policy p = { .epoch = 3 };
	TPM2B_PUBLIC a, b, from_pem;
	char *ka = make_key(&a), *kb = make_key(&b), err[TPM_POLICY_ERR_MAX];

	kat_values(p.pcr, &p.pcr_mask);
	cr_assert_eq(tpm_policy_sign(&p, ka, strlen(ka), &a, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(tpm_policy_verify(&p, &a), 0);
	cr_assert_eq(tpm_policy_verify(&p, &b), -EBADMSG, "verified under another signer");
	cr_assert_eq(tpm_policy_sign(&p, ka, strlen(ka), &b, err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "the private key does not belong to the given signer");
	cr_assert_eq(tpm_policy_signer_from_pem(ka, strlen(ka), &from_pem, err, sizeof(err)), 0);
	cr_assert_eq(memcmp(&from_pem, &a, sizeof(a)), 0);
	p.pcr[4][0] ^= 1;
	cr_assert_eq(tpm_policy_verify(&p, &a), -EBADMSG, "verified for other PCR values");
	free(ka);
	free(kb);
}

Test(policy, file_round_trip_and_errors)
{
	struct tpm_signed_policy p = { .epoch = 7 }, q;
	TPM2B_PUBLIC a;
	char *ka = make_key(&a), *text = NULL, err[TPM_POLICY_ERR_MAX];

	kat_values(p.pcr, &p.pcr_mask);
	cr_assert_eq(tpm_policy_sign(&p, ka, strlen(ka), NULL, err, sizeof(err)), 0);
	cr_assert_eq(tpm_policy_format(&p, &text), 0);
	cr_assert_eq(tpm_policy_parse(text, strlen(text), &q, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(q.epoch, 7);
	cr_assert_eq(q.pcr_mask, p.pcr_mask);
	cr_assert_eq(tpm_policy_verify(&q, &a), 0);
	/* drop the signature line */
	*strstr(text, "signature") = '\0';
	cr_assert_eq(tpm_policy_parse(text, strlen(text), &q, err, sizeof(err)), -EBADMSG);
	cr_assert(strstr(err, "incomplete: m2msa-policy, epoch, pcrs and signature are required"),
		  "%s", err);
	cr_assert_eq(tpm_policy_parse("m2msa-policy 2\n", 15, &q, err, sizeof(err)), -EBADMSG);
	cr_assert_str_eq(err, "line 1: expected 'm2msa-policy 1' (the file is damaged, or not a "
			      "signed policy from m2masctl policy sign)");
	free(text);
	free(ka);
}

Test(policy, pcr_values_from_tpm2_pcrread)
{
	static const char out[] =
		"  sha256:\n"
		"    0 : 0x0000000000000000000000000000000000000000000000000000000000000000\n"
		"    4 : 0x2222222222222222222222222222222222222222222222222222222222222222\n"
		"    7 : 0x3333333333333333333333333333333333333333333333333333333333333333\n";
	uint8_t v[TPM_PCR_COUNT][32];
	char err[TPM_POLICY_ERR_MAX];
	uint32_t mask = 1u << 0 | 1u << 4 | 1u << 7;

	memset(v, 0x55, sizeof(v));
	cr_assert_eq(tpm_pcr_values_parse(out, strlen(out), mask, v, err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_eq(v[4][31], 0x22);
	cr_assert_eq(v[7][0], 0x33);
	cr_assert_eq(v[0][5], 0x00);
	cr_assert_eq(tpm_pcr_values_parse(out, strlen(out), mask | 1u << 2, v, err, sizeof(err)),
		     -EINVAL);
	cr_assert_str_eq(err, "no value for PCR 2 (give the output of tpm2_pcrread "
			      "sha256:<the PCRs> from the node)");
}
