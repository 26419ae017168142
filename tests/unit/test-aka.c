/* SPDX-License-Identifier: Apache-2.0 */
/* AKA tokens (AUTN, AUTS), the SQN freshness rule and the USIM side of one AKA run (common/aka). */
#include <criterion/criterion.h>
#include <errno.h>

#include "common/aka.h"
#include "hex.h"

/* TS 35.208 test set 1 inputs (see test-milenage.c). */
static const char *K = "465b5ce8b199b49faa5f0a2ee238a6bc";
static const char *RAND = "23553cbe9637a89d218ae64dae47bf35";
static const char *OPC = "cd63cb71954a9f4e48a5994e37a02baf";
static const char *SQN = "ff9bb4d0b607";
static const char *AMF = "b9b9";

struct fx {
	struct milenage_cipher c;
	struct milenage m;
	uint8_t k[16], rand[16], opc[16], sqn[6], amf[2];
};

static void fx_init(struct fx *f)
{
	cr_assert_eq(unhex(K, f->k, 16), 16);
	cr_assert_eq(unhex(RAND, f->rand, 16), 16);
	cr_assert_eq(unhex(OPC, f->opc, 16), 16);
	cr_assert_eq(unhex(SQN, f->sqn, 6), 6);
	cr_assert_eq(unhex(AMF, f->amf, 2), 2);
	cr_assert_eq(milenage_cipher_software_new(f->k, &f->c), 0);
	cr_assert_eq(milenage_begin(&f->m, &f->c, f->opc, f->rand), 0);
}

static void fx_fini(struct fx *f)
{
	milenage_end(&f->m);
	milenage_cipher_software_free(&f->c);
}

/* AUTN = (SQN xor AK) || AMF || MAC-A from the set 1 values f5 = aa689c648370, f1 = 4a9ffac354dfafb3. */
Test(aka, autn_from_test_set_1)
{
	struct fx f;
	uint8_t autn[16], want[16], sqn[6], amf[2];

	fx_init(&f);
	cr_assert_eq(unhex("55f328b43577b9b94a9ffac354dfafb3", want, 16), 16);
	cr_assert_eq(aka_autn_make(&f.m, f.sqn, f.amf, autn), 0);
	cr_expect_arr_eq(autn, want, 16);
	cr_assert_eq(aka_autn_open(&f.m, autn, sqn, amf), 0);
	cr_expect_arr_eq(sqn, f.sqn, 6);
	cr_expect_arr_eq(amf, f.amf, 2);
	fx_fini(&f);
}

Test(aka, autn_tampered_is_mac_failure)
{
	struct fx f;
	uint8_t autn[16], sqn[6] = { 0 }, amf[2] = { 0 };

	fx_init(&f);
	cr_assert_eq(aka_autn_make(&f.m, f.sqn, f.amf, autn), 0);
	for (size_t i = 0; i < 16; i++) {
		autn[i] ^= 0x01;
		cr_expect_eq(aka_autn_open(&f.m, autn, sqn, amf), -EBADMSG, "byte %zu", i);
		autn[i] ^= 0x01;
	}
	/* Outputs untouched on failure. */
	for (size_t i = 0; i < 6; i++)
		cr_expect_eq(sqn[i], 0);
	fx_fini(&f);
}

/* AUTS = (SQN_MS xor AK*) || f1*(SQN_MS, AMF 0000): AK* from set 1 is 451e8beca43b. */
Test(aka, auts_round_trip)
{
	struct fx f;
	uint8_t auts[14], sqn_ms[6], got[6], ak_star[6];

	fx_init(&f);
	aka_sqn_put(0x123456789aULL, sqn_ms);
	cr_assert_eq(aka_auts_make(&f.m, sqn_ms, auts), 0);
	cr_assert_eq(unhex("451e8beca43b", ak_star, 6), 6);
	for (size_t i = 0; i < 6; i++)
		cr_expect_eq(auts[i], sqn_ms[i] ^ ak_star[i]);
	cr_assert_eq(aka_auts_open(&f.m, auts, got), 0);
	cr_expect_arr_eq(got, sqn_ms, 6);
	auts[13] ^= 0x80;
	cr_expect_eq(aka_auts_open(&f.m, auts, got), -EBADMSG);
	fx_fini(&f);
}

Test(aka, sqn_codec_and_fresh)
{
	uint8_t b[6];

	aka_sqn_put(0xff9bb4d0b607ULL, b);
	cr_expect_eq(aka_sqn_get(b), 0xff9bb4d0b607ULL);
	cr_expect(aka_sqn_fresh(33, 32, 100));
	cr_expect(aka_sqn_fresh(132, 32, 100));
	cr_expect_not(aka_sqn_fresh(133, 32, 100), "beyond the window");
	cr_expect_not(aka_sqn_fresh(32, 32, 100), "replay of the highest");
	cr_expect_not(aka_sqn_fresh(31, 32, 100), "older");
	cr_expect_not(aka_sqn_fresh(AKA_SQN_MAX + 1, AKA_SQN_MAX, 100), "past 48 bits");
}

Test(aka, usim_run_ok_then_replay_gives_auts)
{
	struct fx f;
	uint8_t autn[16], res[8], sqn_ms[6];
	struct aka_usim_out o;
	uint64_t sqn = aka_sqn_get((const uint8_t[]){ 0, 0, 0, 0, 1, 0 });

	fx_init(&f);
	aka_sqn_put(sqn, f.sqn);
	cr_assert_eq(aka_autn_make(&f.m, f.sqn, f.amf, autn), 0);
	cr_assert_eq(aka_usim_run(&f.c, f.opc, f.rand, autn, sqn - 1, AKA_SQN_WINDOW_DEFAULT, &o), 0);
	cr_assert_eq(o.result, AKA_RESULT_OK);
	cr_expect_eq(o.sqn, sqn);
	cr_assert_eq(milenage_f2_f5(&f.m, res, NULL), 0);
	cr_expect_arr_eq(o.res, res, 8);
	aka_usim_out_wipe(&o);

	/* The same challenge again: SQN no longer fresh, AUTS carries the highest accepted SQN. */
	cr_assert_eq(aka_usim_run(&f.c, f.opc, f.rand, autn, sqn, AKA_SQN_WINDOW_DEFAULT, &o), 0);
	cr_assert_eq(o.result, AKA_RESULT_SYNC_FAILURE);
	cr_assert_eq(aka_auts_open(&f.m, o.auts, sqn_ms), 0);
	cr_expect_eq(aka_sqn_get(sqn_ms), sqn);
	aka_usim_out_wipe(&o);
	fx_fini(&f);
}

Test(aka, usim_run_wrong_key_is_mac_failure)
{
	struct fx f;
	struct milenage_cipher other = { 0 };
	uint8_t autn[16], k2[16] = { 0x01 };
	struct aka_usim_out o;

	fx_init(&f);
	cr_assert_eq(aka_autn_make(&f.m, f.sqn, f.amf, autn), 0);
	cr_assert_eq(milenage_cipher_software_new(k2, &other), 0);
	cr_assert_eq(aka_usim_run(&other, f.opc, f.rand, autn, 0, AKA_SQN_MAX, &o), 0);
	cr_expect_eq(o.result, AKA_RESULT_MAC_FAILURE);
	cr_expect_str_eq(aka_result_to_string(o.result), "MAC failure");
	milenage_cipher_software_free(&other);
	fx_fini(&f);
}
