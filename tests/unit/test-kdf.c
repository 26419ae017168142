/* SPDX-License-Identifier: Apache-2.0 */
/* Known-answer tests for the SP 800-108 counter-mode KDF and the 3GPP TS 33.220 KDF. */
#include <criterion/criterion.h>
#include <errno.h>

#include "common/kdf.h"
#include "hex.h"

/*
 * NIST CAVP "SP800-108 KDF" validation vectors (KDFCTR_gen.txt, CAVS 14.4),
 * section [PRF=HMAC_SHA256] [CTRLOCATION=BEFORE_FIXED] [RLEN=32_BITS].
 * Cross-checked with Python's hmac module before they were written here.
 */
static const struct {
	int count;
	const char *ki, *fixed, *ko;
} cavp[] = {
	{ 0, "dd1d91b7d90b2bd3138533ce92b272fbf8a369316aefe242e659cc0ae238afe0",
	  "01322b96b30acd197979444e468e1c5c6859bf1b1cf951b7e725303e237e46b864a145fab25e517b08f8683d0315bb2911d80a0e8aba17f3b413faac",
	  "10621342bfb0fd40046c0e29f2cfdbf0" },
	{ 10, "e204d6d466aad507ffaf6d6dab0a5b26152c9e21e764370464e360c8fbc765c6",
	  "7b03b98d9f94b899e591f3ef264b71b193fba7043c7e953cde23bc5384bc1a6293580115fae3495fd845dadbd02bd6455cf48d0f62b33e62364a3a80",
	  "770dfab6a6a4a4bee0257ff335213f78d8287b4fd537d5c1fffa956910e7c779" },
	{ 20, "dc60338d884eecb72975c603c27b360605011756c697c4fc388f5176ef81efb1",
	  "44d7aa08feba26093c14979c122c2437c3117b63b78841cd10a4bc5ed55c56586ad8986d55307dca1d198edcffbc516a8fbe6152aa428cdd800c062d",
	  "29ac07dccf1f28d506cd623e6e3fc2fa255bd60b" },
	{ 30, "c4bedbddb66493e7c7259a3bbbc25f8c7e0ca7fe284d92d431d9cd99a0d214ac",
	  "1c69c54766791e315c2cc5c47ecd3ffab87d0d273dd920e70955814c220eacace6a5946542da3dfe24ff626b4897898cafb7db83bdff3c14fa46fd4b",
	  "1da47638d6c9c4d04d74d4640bbd42ab814d9e8cc22f4326695239f96b0693f12d0dd1152cf44430" },
};

Test(kdf, nist_cavp_counter_hmac_sha256)
{
	for (size_t i = 0; i < sizeof(cavp) / sizeof(cavp[0]); i++) {
		uint8_t ki[32], fixed[128], ko[64], out[64];
		int ki_len = unhex(cavp[i].ki, ki, sizeof(ki));
		int fixed_len = unhex(cavp[i].fixed, fixed, sizeof(fixed));
		int ko_len = unhex(cavp[i].ko, ko, sizeof(ko));
		struct kdf_sw_key key = { ki, (size_t)ki_len };
		struct kdf_prf prf;

		kdf_prf_software(&key, &prf);
		cr_assert_eq(kdf_counter(&prf, fixed, (size_t)fixed_len, out, (size_t)ko_len), 0);
		cr_expect_arr_eq(out, ko, (size_t)ko_len, "CAVP COUNT=%d", cavp[i].count);
	}
}

/*
 * m2msa's KDF is the same construction with Label || 0x00 || Context || [256]_32 as the
 * fixed input. Expected value computed independently with Python 3:
 *   hmac.new(bytes(range(32)), (1).to_bytes(4,'big') + b"m2msa Kc" + b"\0" +
 *            bytes(range(0x40, 0x50)) + (256).to_bytes(4,'big'), hashlib.sha256).hexdigest()
 */
Test(kdf, m2msa_derive_layout)
{
	uint8_t km[32], ctx[16], expect[32], out[32];
	struct kdf_sw_key key = { km, sizeof(km) };
	struct kdf_prf prf;

	for (int i = 0; i < 32; i++)
		km[i] = (uint8_t)i;
	for (int i = 0; i < 16; i++)
		ctx[i] = (uint8_t)(0x40 + i);
	unhex("0965c53790451df3919fa1b38a98640900962bc021918d4ce55f082a50e7bb1e", expect, 32);
	kdf_prf_software(&key, &prf);
	cr_assert_eq(kdf_derive(&prf, "m2msa Kc", ctx, sizeof(ctx), out), 0);
	cr_assert_arr_eq(out, expect, 32);
}

Test(kdf, derive_separates_labels_and_contexts)
{
	uint8_t km[32] = { 1 }, a[32], b[32], c[32];
	struct kdf_sw_key key = { km, sizeof(km) };
	struct kdf_prf prf;

	kdf_prf_software(&key, &prf);
	cr_assert_eq(kdf_derive(&prf, "m2msa Kc", (const uint8_t *)"x", 1, a), 0);
	cr_assert_eq(kdf_derive(&prf, "m2msa AE root", (const uint8_t *)"x", 1, b), 0);
	cr_assert_eq(kdf_derive(&prf, "m2msa Kc", (const uint8_t *)"y", 1, c), 0);
	cr_expect(memcmp(a, b, 32) != 0);
	cr_expect(memcmp(a, c, 32) != 0);
}

Test(kdf, derive_refuses_oversize_input)
{
	static uint8_t big[KDF_MAX_INPUT];
	uint8_t km[32] = { 0 }, out[32];
	struct kdf_sw_key key = { km, sizeof(km) };
	struct kdf_prf prf;

	kdf_prf_software(&key, &prf);
	cr_assert_eq(kdf_derive(&prf, "label", big, sizeof(big), out), -E2BIG);
}

static int failing_prf(void *ctx, const uint8_t *msg, size_t len, uint8_t out[static 32])
{
	(void)ctx, (void)msg, (void)len;
	memset(out, 0xaa, 32);
	return -EIO;
}

Test(kdf, prf_failure_propagates_and_wipes_output)
{
	struct kdf_prf prf = { .hmac = failing_prf };
	uint8_t out[32], zero[32] = { 0 };

	memset(out, 0x55, sizeof(out));
	cr_assert_eq(kdf_derive(&prf, "l", NULL, 0, out), -EIO);
	cr_assert_arr_eq(out, zero, 32);
}

/*
 * 3GPP TS 33.220 Annex B: Ks_NAF = HMAC-SHA-256(Ks, 0x01 || "gba-me" || L0 || RAND || L1 ||
 * IMPI || L2 || NAF_Id || L3). There is no published vector; this value was computed with an
 * independent implementation (Python 3 hmac/hashlib):
 *   ks = bytes(range(0x10, 0x30)); rand = bytes(range(0xa0, 0xb0))
 *   impi = b"user@ims.mnc001.mcc001.3gppnetwork.org"
 *   naf_id = b"naf.example.org" + bytes([1, 0, 0, 0, 2])   # Ua protocol: TS 33.222 (TLS PSK)
 *   p = lambda x: x + len(x).to_bytes(2, "big")
 *   hmac.new(ks, b"\x01" + p(b"gba-me") + p(rand) + p(impi) + p(naf_id), hashlib.sha256)
 */
Test(kdf, ts33220_ks_naf)
{
	uint8_t ks[32], rand[16], expect[32], out[32];
	static const uint8_t naf_id[] = "naf.example.org\x01\x00\x00\x00\x02";

	for (int i = 0; i < 32; i++)
		ks[i] = (uint8_t)(0x10 + i);
	for (int i = 0; i < 16; i++)
		rand[i] = (uint8_t)(0xa0 + i);
	unhex("af6e4722af47fc264be8e1c4b4e1ffe43b4203b19a14c8d1047ca6701b7030bb", expect, 32);
	cr_assert_eq(kdf_ks_naf(ks, rand, "user@ims.mnc001.mcc001.3gppnetwork.org", naf_id,
				sizeof(naf_id) - 1, out),
		     0);
	cr_assert_arr_eq(out, expect, 32);
}
