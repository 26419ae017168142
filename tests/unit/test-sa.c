/* SPDX-License-Identifier: Apache-2.0 */
/* The key schedule's pure parts: key-ID formats, per-AE key separation, context layouts. */
#include <criterion/criterion.h>
#include <errno.h>

#include "common/sa.h"
#include "hex.h"

#define SA_TEST_NODE_PROOF "133369dd8ee30153501df1e53410c68b6f253c4ec8d9200908deeecb8e1ade48"
#define SA_TEST_KC "586634f12603cb653e0d01bd616849f97b2fc9080a24a78d8e801eb68284223f"

static const uint8_t kcid[SA_KCID_LEN] = { 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
					   0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff };

Test(sa, node_key_id_has_ts0003_form)
{
	char id[WIRE_KEY_ID_MAX + 1], ae[WIRE_ID_MAX + 1], fqdn[WIRE_KEY_ID_MAX + 1];
	uint8_t back[SA_KCID_LEN];

	cr_assert_eq(sa_key_id_format(kcid, NULL, "mas.example.net", id, sizeof(id)), 0);
	cr_assert_str_eq(id, "00112233445566778899aabbccddeeff@mas.example.net");
	cr_assert_eq(sa_key_id_parse(id, back, ae, fqdn), 0);
	cr_assert_arr_eq(back, kcid, SA_KCID_LEN);
	cr_assert_str_eq(ae, "");
	cr_assert_str_eq(fqdn, "mas.example.net");
}

Test(sa, ae_key_id_carries_ae_id)
{
	char id[WIRE_KEY_ID_MAX + 1], ae[WIRE_ID_MAX + 1], fqdn[WIRE_KEY_ID_MAX + 1];
	uint8_t back[SA_KCID_LEN];

	cr_assert_eq(sa_key_id_format(kcid, "C-ae.1_x", "mas.test", id, sizeof(id)), 0);
	cr_assert_str_eq(id, "00112233445566778899aabbccddeeff-C-ae.1_x@mas.test");
	cr_assert_eq(sa_key_id_parse(id, back, ae, fqdn), 0);
	cr_assert_str_eq(ae, "C-ae.1_x");
	cr_assert_str_eq(fqdn, "mas.test");
}

Test(sa, malformed_key_ids_refused)
{
	static const char *const bad[] = {
		"",
		"00112233445566778899aabbccddeeff",		 /* no FQDN */
		"00112233445566778899aabbccddeeff@",		 /* empty FQDN */
		"00112233445566778899AABBCCDDEEFF@mas.test",	 /* uppercase hex */
		"0011223344556677889@mas.test",			 /* short */
		"00112233445566778899aabbccddeeffx@mas.test",	 /* junk after KcID */
		"00112233445566778899aabbccddeeff-@mas.test",	 /* empty AE-ID */
		"00112233445566778899aabbccddeeff-a b@mas.test", /* space in AE-ID */
		"00112233445566778899aabbccddeeff@mas_test",	 /* bad FQDN char */
		"g0112233445566778899aabbccddeeff@mas.test",	 /* not hex */
	};
	char ae[WIRE_ID_MAX + 1], fqdn[WIRE_KEY_ID_MAX + 1];
	uint8_t back[SA_KCID_LEN];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_eq(sa_key_id_parse(bad[i], back, ae, fqdn), -EINVAL, "accepted '%s'", bad[i]);
}

Test(sa, format_refuses_bad_input)
{
	char id[WIRE_KEY_ID_MAX + 1], small[20];

	cr_expect_eq(sa_key_id_format(kcid, NULL, "bad fqdn", id, sizeof(id)), -EINVAL);
	cr_expect_eq(sa_key_id_format(kcid, "a@b", "mas.test", id, sizeof(id)), -EINVAL);
	cr_expect_eq(sa_key_id_format(kcid, NULL, "mas.test", small, sizeof(small)), -ENAMETOOLONG);
}

Test(sa, ae_keys_are_separate)
{
	uint8_t root[32], other_root[32], a1[32], a2[32], a1_other[32], a1_again[32];

	memset(root, 0x42, sizeof(root));
	memset(other_root, 0x43, sizeof(other_root));
	cr_assert_eq(sa_ae_key(root, "C-ae1", a1), 0);
	cr_assert_eq(sa_ae_key(root, "C-ae2", a2), 0);
	cr_assert_eq(sa_ae_key(other_root, "C-ae1", a1_other), 0);
	cr_assert_eq(sa_ae_key(root, "C-ae1", a1_again), 0);
	cr_expect(memcmp(a1, a2, 32) != 0);
	cr_expect(memcmp(a1, a1_other, 32) != 0);
	cr_expect_arr_eq(a1, a1_again, 32);
	cr_expect(memcmp(a1, root, 32) != 0);
	cr_expect_eq(sa_ae_key(root, "bad id", a1), -EINVAL);
}

/*
 * The context layouts of docs/protocol.md, checked against an independent
 * computation (Python 3): with cb = 0x01*32, X = 0x02*48, Nn = 0x03*32, Nm = 0x04*32,
 * Km = 0x05*32, node-ID "/mn-cse-1":
 *   kdf = lambda k, label, ctx: hmac.new(k, (1).to_bytes(4, "big") + label + b"\0" + ctx +
 *                                        (256).to_bytes(4, "big"), hashlib.sha256).hexdigest()
 *   node proof = kdf(km, b"m2msa node proof", cb + nn + nm + b"/mn-cse-1")
 *   Kc         = kdf(km, b"m2msa Kc", x + nn + nm)
 */
Test(sa, context_layouts)
{
	struct sa_binding b;
	uint8_t km[32], nn[32], nm[32], out[32], expect[32];
	struct kdf_sw_key key = { km, sizeof(km) };
	struct kdf_prf prf;

	memset(b.cb, 0x01, sizeof(b.cb));
	memset(b.x, 0x02, sizeof(b.x));
	memset(nn, 0x03, sizeof(nn));
	memset(nm, 0x04, sizeof(nm));
	memset(km, 0x05, sizeof(km));
	kdf_prf_software(&key, &prf);

	cr_assert_eq(sa_proof(&prf, SA_PROOF_NODE, &b, nn, nm, "/mn-cse-1", out), 0);
	unhex(SA_TEST_NODE_PROOF, expect, 32);
	cr_expect_arr_eq(out, expect, 32);
	cr_assert_eq(sa_kc(&prf, &b, nn, nm, out), 0);
	unhex(SA_TEST_KC, expect, 32);
	cr_expect_arr_eq(out, expect, 32);
	/* The MAS proof differs from the node proof; the AE root from Kc. */
	cr_assert_eq(sa_proof(&prf, SA_PROOF_MAS, &b, nn, nm, "/mn-cse-1", expect), 0);
	cr_assert_eq(sa_proof(&prf, SA_PROOF_NODE, &b, nn, nm, "/mn-cse-1", out), 0);
	cr_expect(memcmp(out, expect, 32) != 0);
}
