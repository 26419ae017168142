/* SPDX-License-Identifier: Apache-2.0 */
/* Nbsp_GBA JSON bodies and ProblemDetails (gba/zn-json.h), and Ks_NAF (gba/ks-naf.h). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/secret.h"
#include "gba/ks-naf.h"
#include "gba/zn-json.h"
#include "hex.h"

Test(gba_zn, request_round_trip)
{
	struct gba_zn_request req = { 0 }, back;
	char *s = NULL;

	strcpy(req.btid, "I1U8vpY3qJ0hiuZNrke/NQ==@bsf.example.com");
	strcpy(req.naf_fqdn, "mas.example.com");
	memcpy(req.ua_id, gba_ua_tls13_psk, 5);
	cr_assert_eq(gba_zn_request_format(&req, &s), 0);
	cr_assert_str_eq(s, "{\"btId\":\"I1U8vpY3qJ0hiuZNrke/NQ==@bsf.example.com\",\"nafId\":"
			    "{\"nafFqdn\":\"mas.example.com\",\"uaSecProtId\":\"0100000007\"}}");
	cr_assert_eq(gba_zn_request_parse(s, strlen(s), &back), 0);
	cr_assert_eq(memcmp(&req, &back, sizeof(req)), 0);
	free(s);
}

Test(gba_zn, request_refuses_bad)
{
	static const char *const bad[] = {
		"",
		"[]",
		"{\"btId\":\"QQ==@b.example\"}",
		"{\"btId\":\"QQ==@b.example\",\"nafId\":{\"nafFqdn\":\"m.example\"}}",
		"{\"btId\":\"QQ==@b.example\",\"nafId\":{\"nafFqdn\":\"m.example\",\"uaSecProtId\":"
		"\"01000000\"}}",
		"{\"btId\":\"QQ==@b.example\",\"nafId\":{\"nafFqdn\":\"m.example\",\"uaSecProtId\":"
		"\"010000000g\"}}",
		"{\"btId\":\"QQ==@b.example\",\"nafId\":{\"nafFqdn\":\"m example\",\"uaSecProtId\":"
		"\"0100000007\"}}",
		"{\"btId\":\"no-at\",\"nafId\":{\"nafFqdn\":\"m.example\",\"uaSecProtId\":"
		"\"0100000007\"}}",
		"{\"btId\":7,\"nafId\":{\"nafFqdn\":\"m.example\",\"uaSecProtId\":\"0100000007\"}}",
		"{\"btId\":\"QQ==@b.example\",\"btId\":\"QQ==@b.example\",\"nafId\":{\"nafFqdn\":"
		"\"m.example\",\"uaSecProtId\":\"0100000007\"}}",
		"{\"btId\":\"QQ==@b.example\",\"nafId\":{\"nafFqdn\":\"m.example\",\"uaSecProtId\":"
		"\"0100000007\"}} trailing",
		"{\"btId\":\"QQ==@b.example\\u0000x\",\"nafId\":{\"nafFqdn\":\"m.example\","
		"\"uaSecProtId\":\"0100000007\"}}",
	};
	struct gba_zn_request req;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_lt(gba_zn_request_parse(bad[i], strlen(bad[i]), &req), 0, "accepted: %s",
			     bad[i]);
	/* Unknown members are ignored (TS 29.501 §5.2.7). */
	static const char extra[] = "{\"btId\":\"QQ==@b.example\",\"nafId\":{\"nafFqdn\":"
				    "\"m.example\",\"uaSecProtId\":\"0100000007\"},\"x\":1}";
	cr_assert_eq(gba_zn_request_parse(extra, strlen(extra), &req), 0);
}

Test(gba_zn, response_round_trip)
{
	struct gba_zn_response resp = { .expiry = 1764673200 }, back;
	char *s = NULL;

	for (int i = 0; i < 32; i++)
		resp.me_key[i] = (uint8_t)i;
	strcpy(resp.impi, "node1@ims.example");
	cr_assert_eq(gba_zn_response_format(&resp, &s), 0);
	cr_assert_str_eq(s, "{\"meKeyMaterial\":\"000102030405060708090a0b0c0d0e0f101112131415161718"
			    "191a1b1c1d1e1f\",\"keyExpiryTime\":\"2025-12-02T11:00:00Z\",\"impi\":"
			    "\"node1@ims.example\"}");
	cr_assert_eq(gba_zn_response_parse(s, strlen(s), &back), 0);
	cr_assert_arr_eq(back.me_key, resp.me_key, 32);
	cr_assert_eq(back.expiry, resp.expiry);
	cr_assert_str_eq(back.impi, resp.impi);
	secret_free_buf(s, strlen(s));
	strcpy(resp.impi, "has space");
	cr_assert_eq(gba_zn_response_format(&resp, &s), -EINVAL);
}

Test(gba_zn, response_refuses_bad)
{
	static const char *const bad[] = {
		"{\"meKeyMaterial\":\"0001\",\"keyExpiryTime\":\"2025-12-02T11:00:00Z\",\"impi\":\"a\"}",
		"{\"keyExpiryTime\":\"2025-12-02T11:00:00Z\",\"impi\":\"a\"}",
		"{\"meKeyMaterial\":\"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
		"\",\"keyExpiryTime\":\"soon\",\"impi\":\"a\"}",
		"{\"meKeyMaterial\":\"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
		"\",\"keyExpiryTime\":\"2025-12-02T11:00:00Z\"}",
		"{\"meKeyMaterial\":\"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1z"
		"\",\"keyExpiryTime\":\"2025-12-02T11:00:00Z\",\"impi\":\"a\"}",
	};
	struct gba_zn_response resp;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_eq(gba_zn_response_parse(bad[i], strlen(bad[i]), &resp), -EINVAL,
			     "accepted: %s", bad[i]);
}

Test(gba_zn, problem_details)
{
	struct gba_problem p = { .status = 404 }, back;
	char *s = NULL;

	strcpy(p.title, "Not Found");
	strcpy(p.detail, "unknown or expired B-TID");
	strcpy(p.cause, "USER_NOT_FOUND");
	cr_assert_eq(gba_problem_format(&p, &s), 0);
	cr_assert_eq(gba_problem_parse(s, strlen(s), &back), 0);
	cr_assert_eq(back.status, 404);
	cr_assert_str_eq(back.title, "Not Found");
	cr_assert_str_eq(back.cause, "USER_NOT_FOUND");
	free(s);
	p.status = 99;
	cr_assert_eq(gba_problem_format(&p, &s), -EINVAL);
	cr_assert_eq(gba_problem_parse("{\"status\":\"404\"}", 16, &back), -EINVAL);
}

/*
 * Ks_NAF has no published vector (STANDARDS.md). Inputs: CK and IK = f3 and f4 of
 * TS 35.208 test set 1, RAND of that set, IMPI node1@ims.mnc001.mcc001.3gppnetwork.org,
 * NAF FQDN mas.example.com, Ua id 01 00 00 00 07. Value from Python's hmac module:
 *   import hmac, hashlib
 *   ck = bytes.fromhex("b40ba9a3c58b2a05bbf0d987b21bf8cb")
 *   ik = bytes.fromhex("f769bcd751044604127672711c6d3441")
 *   rand = bytes.fromhex("23553cbe9637a89d218ae64dae47bf35")
 *   impi = b"node1@ims.mnc001.mcc001.3gppnetwork.org"
 *   naf_id = b"mas.example.com" + bytes.fromhex("0100000007")
 *   p = lambda x: x + len(x).to_bytes(2, "big")
 *   hmac.new(ck + ik, b"\x01" + p(b"gba-me") + p(rand) + p(impi) + p(naf_id),
 *            hashlib.sha256).hexdigest()
 */
Test(gba_ks_naf, python_hmac_vector)
{
	uint8_t ck[16], ik[16], ks[32], rand[16], expect[32], out[32];
	static const char impi[] = "node1@ims.mnc001.mcc001.3gppnetwork.org";

	unhex("b40ba9a3c58b2a05bbf0d987b21bf8cb", ck, 16);
	unhex("f769bcd751044604127672711c6d3441", ik, 16);
	unhex("23553cbe9637a89d218ae64dae47bf35", rand, 16);
	unhex("56f7d6ae9ac4f5c70ad5779002de46fcf2429c5fc4a11d50726107ef332bb106", expect, 32);
	cr_assert_eq(gba_ks_naf_ck_ik(ck, ik, rand, impi, "mas.example.com", gba_ua_tls13_psk, out),
		     0);
	cr_assert_arr_eq(out, expect, 32);
	memcpy(ks, ck, 16);
	memcpy(ks + 16, ik, 16);
	cr_assert_eq(gba_ks_naf(ks, rand, impi, "mas.example.com", gba_ua_tls13_psk, out), 0);
	cr_assert_arr_eq(out, expect, 32);
	/* Another NAF gets another key. */
	cr_assert_eq(gba_ks_naf(ks, rand, impi, "in-cse.example.com", gba_ua_tls13_psk, out), 0);
	cr_assert_arr_neq(out, expect, 32);
	cr_assert_eq(gba_ks_naf(ks, rand, impi, "not a fqdn", gba_ua_tls13_psk, out), -EINVAL);
}
