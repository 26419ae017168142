/* SPDX-License-Identifier: Apache-2.0 */
/* The software AuC of the USIM tests (see auc-fixture.h). */
#include <criterion/criterion.h>

#include "auc-fixture.h"
#include "common/aka.h"
#include "common/crypto.h"
#include "common/milenage.h"

void auc_make(const uint8_t k[16], const uint8_t opc[16], uint64_t sqn, struct auc_vector *v)
{
	static const uint8_t amf[2] = { 0x80, 0x00 };
	struct milenage_cipher c;
	struct milenage m;
	uint8_t sqn_b[6];

	cr_assert_eq(crypto_random(v->rand, 16), 0);
	aka_sqn_put(sqn, sqn_b);
	cr_assert_eq(milenage_cipher_software_new(k, &c), 0);
	cr_assert_eq(milenage_begin(&m, &c, opc, v->rand), 0);
	cr_assert_eq(aka_autn_make(&m, sqn_b, amf, v->autn), 0);
	cr_assert_eq(milenage_f2_f5(&m, v->xres, NULL), 0);
	cr_assert_eq(milenage_f3(&m, v->ck), 0);
	cr_assert_eq(milenage_f4(&m, v->ik), 0);
	milenage_end(&m);
	milenage_cipher_software_free(&c);
}
