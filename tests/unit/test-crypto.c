/* SPDX-License-Identifier: Apache-2.0 */
/* Known-answer tests for HMAC-SHA256 and HKDF-SHA256, and AES-256-GCM sealing behaviour. */
#include <criterion/criterion.h>
#include <errno.h>

#include "common/crypto.h"
#include "hex.h"

/* RFC 4231 section 4.2, test case 1. */
Test(crypto, hmac_rfc4231_case1)
{
	uint8_t key[20], expect[32], out[32];

	memset(key, 0x0b, sizeof(key));
	unhex("b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7", expect, 32);
	cr_assert_eq(crypto_hmac_sha256(key, sizeof(key), (const uint8_t *)"Hi There", 8, out), 0);
	cr_assert_arr_eq(out, expect, 32);
}

/* RFC 4231 section 4.3, test case 2 (a key shorter than the block). */
Test(crypto, hmac_rfc4231_case2)
{
	static const char data[] = "what do ya want for nothing?";
	uint8_t expect[32], out[32];

	unhex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", expect, 32);
	cr_assert_eq(crypto_hmac_sha256((const uint8_t *)"Jefe", 4, (const uint8_t *)data,
					sizeof(data) - 1, out),
		     0);
	cr_assert_arr_eq(out, expect, 32);
}

/*
 * crypto_hmac_key (pads computed once) gives RFC 4231's answers: case 2 (short key),
 * case 6 (a 131-byte key, hashed first), and the same key used twice in a row.
 */
Test(crypto, hmac_key_pads_rfc4231_cases_2_and_6)
{
	static const char d2[] = "what do ya want for nothing?";
	static const char d6[] = "Test Using Larger Than Block-Size Key - Hash Key First";
	struct crypto_hmac_key hk;
	uint8_t key6[131], expect[32], out[32];

	cr_assert_eq(crypto_hmac_key_init(&hk, (const uint8_t *)"Jefe", 4), 0);
	unhex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", expect, 32);
	for (int i = 0; i < 2; i++) {
		memset(out, 0, sizeof(out));
		cr_assert_eq(crypto_hmac_key_sha256(&hk, (const uint8_t *)d2, sizeof(d2) - 1, out), 0);
		cr_assert_arr_eq(out, expect, 32);
	}
	crypto_hmac_key_clear(&hk);
	memset(key6, 0xaa, sizeof(key6));
	cr_assert_eq(crypto_hmac_key_init(&hk, key6, sizeof(key6)), 0);
	unhex("60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54", expect, 32);
	cr_assert_eq(crypto_hmac_key_sha256(&hk, (const uint8_t *)d6, sizeof(d6) - 1, out), 0);
	cr_assert_arr_eq(out, expect, 32);
	crypto_hmac_key_clear(&hk);
}

/* RFC 5869 appendix A.1 (basic test case with SHA-256). */
Test(crypto, hkdf_rfc5869_a1)
{
	uint8_t ikm[22], salt[13], info[10], prk[32], okm[42], expect_prk[32], expect_okm[42];

	memset(ikm, 0x0b, sizeof(ikm));
	unhex("000102030405060708090a0b0c", salt, sizeof(salt));
	unhex("f0f1f2f3f4f5f6f7f8f9", info, sizeof(info));
	unhex("077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5", expect_prk, 32);
	unhex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
	      expect_okm, 42);
	cr_assert_eq(crypto_hkdf_sha256_extract(ikm, sizeof(ikm), salt, sizeof(salt), prk), 0);
	cr_assert_arr_eq(prk, expect_prk, 32);
	cr_assert_eq(crypto_hkdf_sha256(ikm, sizeof(ikm), salt, sizeof(salt), info, sizeof(info),
					okm, sizeof(okm)),
		     0);
	cr_assert_arr_eq(okm, expect_okm, 42);
}

Test(crypto, hkdf_refuses_oversize_output)
{
	uint8_t ikm[4] = { 0 }, out[1];

	cr_assert_eq(crypto_hkdf_sha256(ikm, 4, NULL, 0, NULL, 0, out, 255 * 32 + 1), -EINVAL);
}

Test(crypto, seal_open_round_trip_and_tamper)
{
	uint8_t key[32], other[32], msg[32], sealed[32 + CRYPTO_SEAL_OVERHEAD], plain[32];

	cr_assert_eq(crypto_random(key, sizeof(key)), 0);
	cr_assert_eq(crypto_random(msg, sizeof(msg)), 0);
	memcpy(other, key, 32);
	other[0] ^= 1;
	cr_assert_eq(crypto_seal(key, (const uint8_t *)"node:a", 6, msg, 32, sealed), 0);
	cr_assert(memmem(sealed, sizeof(sealed), msg, 8) == NULL, "plaintext visible in sealed form");
	cr_assert_eq(crypto_open(key, (const uint8_t *)"node:a", 6, sealed, sizeof(sealed), plain), 0);
	cr_assert_arr_eq(plain, msg, 32);
	/* Another record's AAD, another key, a flipped bit: all refused. */
	cr_expect_eq(crypto_open(key, (const uint8_t *)"node:b", 6, sealed, sizeof(sealed), plain),
		     -EBADMSG);
	cr_expect_eq(crypto_open(other, (const uint8_t *)"node:a", 6, sealed, sizeof(sealed), plain),
		     -EBADMSG);
	sealed[20] ^= 0x01;
	cr_expect_eq(crypto_open(key, (const uint8_t *)"node:a", 6, sealed, sizeof(sealed), plain),
		     -EBADMSG);
	cr_expect_eq(crypto_open(key, NULL, 0, sealed, 10, plain), -EBADMSG);
}

Test(crypto, random_fills_and_differs)
{
	uint8_t a[32] = { 0 }, b[32] = { 0 };

	cr_assert_eq(crypto_random(a, sizeof(a)), 0);
	cr_assert_eq(crypto_random(b, sizeof(b)), 0);
	cr_assert(memcmp(a, b, 32) != 0);
}
