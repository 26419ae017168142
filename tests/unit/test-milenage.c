/* SPDX-License-Identifier: Apache-2.0 */
/* Known-answer tests for Milenage (common/milenage) and the AKA tokens and USIM run (common/aka). */
#include <criterion/criterion.h>
#include <errno.h>

#include "common/aka.h"
#include "common/milenage.h"
#include "hex.h"

#include "milenage-kat.h"

Test(milenage, ts_35_208_test_sets)
{
	for (size_t i = 0; i < ARRAY_SIZE(milenage_kats); i++) {
		_cleanup_milenage_cipher_ struct milenage_cipher c = { 0 };
		_cleanup_milenage_ struct milenage m = { 0 };
		struct kat_bytes b;
		uint8_t opc[16], mac_a[8], mac_s[8], res[8], ck[16], ik[16], ak[6], aks[6];
		int set = milenage_kats[i].set;

		milenage_kat_decode(&milenage_kats[i], &b);
		cr_assert_eq(milenage_cipher_software_new(b.k, &c), 0);
		cr_assert_eq(milenage_opc(&c, b.op, opc), 0);
		cr_expect_arr_eq(opc, b.opc, 16, "set %d OPc", set);
		cr_assert_eq(milenage_begin(&m, &c, b.opc, b.rand), 0);
		cr_assert_eq(milenage_f1(&m, b.sqn, b.amf, mac_a, mac_s), 0);
		cr_expect_arr_eq(mac_a, b.f1, 8, "set %d f1", set);
		cr_expect_arr_eq(mac_s, b.f1s, 8, "set %d f1*", set);
		cr_assert_eq(milenage_f2_f5(&m, res, ak), 0);
		cr_expect_arr_eq(res, b.f2, 8, "set %d f2", set);
		cr_expect_arr_eq(ak, b.f5, 6, "set %d f5", set);
		cr_assert_eq(milenage_f3(&m, ck), 0);
		cr_expect_arr_eq(ck, b.f3, 16, "set %d f3", set);
		cr_assert_eq(milenage_f4(&m, ik), 0);
		cr_expect_arr_eq(ik, b.f4, 16, "set %d f4", set);
		cr_assert_eq(milenage_f5_star(&m, aks), 0);
		cr_expect_arr_eq(aks, b.f5s, 6, "set %d f5*", set);
	}
}

Test(milenage, f1_outputs_optional)
{
	_cleanup_milenage_cipher_ struct milenage_cipher c = { 0 };
	_cleanup_milenage_ struct milenage m = { 0 };
	struct kat_bytes b;
	uint8_t mac[8], res[8];

	milenage_kat_decode(&milenage_kats[0], &b);
	cr_assert_eq(milenage_cipher_software_new(b.k, &c), 0);
	cr_assert_eq(milenage_begin(&m, &c, b.opc, b.rand), 0);
	cr_assert_eq(milenage_f1(&m, b.sqn, b.amf, NULL, mac), 0);
	cr_expect_arr_eq(mac, b.f1s, 8);
	cr_assert_eq(milenage_f2_f5(&m, res, NULL), 0);
	cr_expect_arr_eq(res, b.f2, 8);
}

static int failing_encrypt(void *ctx, const uint8_t in[static 16], uint8_t out[static 16])
{
	(void)ctx;
	(void)in;
	(void)out;
	return -EIO;
}

/* A failing E_K (a TPM that errors) is reported, and begin leaves nothing behind. */
Test(milenage, cipher_error_propagates)
{
	struct milenage_cipher c = { failing_encrypt, NULL };
	struct milenage m;
	uint8_t opc[16] = { 1 }, rand[16] = { 2 }, out[16] = { 0 };

	cr_expect_eq(milenage_opc(&c, opc, out), -EIO);
	memset(&m, 0xaa, sizeof(m));
	cr_expect_eq(milenage_begin(&m, &c, opc, rand), -EIO);
	for (size_t i = 0; i < sizeof(m.opc); i++)
		cr_expect_eq(m.opc[i], 0, "OPc left in a failed run");
}

Test(milenage, software_cipher_free_clears)
{
	struct milenage_cipher c = { 0 };
	uint8_t k[16] = { 0 };

	cr_assert_eq(milenage_cipher_software_new(k, &c), 0);
	milenage_cipher_software_free(&c);
	cr_expect_null(c.ctx);
	cr_expect_null(c.encrypt);
	milenage_cipher_software_free(&c);
	milenage_cipher_software_free(NULL);
}
