/* SPDX-License-Identifier: Apache-2.0 */
/* HTTP Digest AKA codecs (gba/digest.h, gba/base64.h): parsers, formatters, response. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "gba/base64.h"
#include "gba/digest.h"
#include "hex.h"

/*
 * RFC 2617 §3.5: the published example. Password "Circle Of Life", qop auth,
 * method GET; the RFC gives response 6629fae49393a05397450978507c4ef1.
 */
Test(gba_digest, rfc2617_example)
{
	static const char pw[] = "Circle Of Life";
	struct gba_digest_input in = {
		.username = "Mufasa",
		.realm = "testrealm@host.com",
		.password = (const uint8_t *)pw,
		.password_len = sizeof(pw) - 1,
		.method = "GET",
		.uri = "/dir/index.html",
		.nonce = "dcd98b7102dd2f0e8b11d0f600bfb0c093",
		.nc = "00000001",
		.cnonce = "0a4f113b",
		.qop = "auth",
	};
	char out[GBA_DIGEST_HEX_LEN + 1];

	cr_assert_eq(gba_digest_response(&in, out), 0);
	cr_assert_str_eq(out, "6629fae49393a05397450978507c4ef1");
	cr_assert(gba_digest_equal("6629FAE49393A05397450978507C4EF1", out));
	cr_assert_not(gba_digest_equal("6629fae49393a05397450978507c4ef0", out));
	cr_assert_not(gba_digest_equal("6629fae4", out));
}

/*
 * auth-int with RES (raw bytes, TS 35.208 test set 1 f2 = a54211d5e3ba50bf) as the
 * password and an empty body. Independent value from Python hashlib:
 *   ha1 = md5(b"node1@ims.example:bsf.example.com:" + bytes.fromhex("a54211d5e3ba50bf"))
 *   ha2 = md5(b"GET:/:" + md5(b"").hexdigest().encode())
 *   md5(f"{ha1}:NONCE:00000001:c0ffee:auth-int:{ha2}") = 41a4c266e478bcd572280f397be24cc6
 */
Test(gba_digest, auth_int_res_password)
{
	uint8_t res[8];
	char out[GBA_DIGEST_HEX_LEN + 1];
	struct gba_digest_input in = {
		.username = "node1@ims.example",
		.realm = "bsf.example.com",
		.password = res,
		.password_len = sizeof(res),
		.method = "GET",
		.uri = "/",
		.nonce = "NONCE",
		.nc = "00000001",
		.cnonce = "c0ffee",
		.qop = "auth-int",
	};

	unhex("a54211d5e3ba50bf", res, sizeof(res));
	cr_assert_eq(gba_digest_response(&in, out), 0);
	cr_assert_str_eq(out, "41a4c266e478bcd572280f397be24cc6");
	in.qop = "auth-conf";
	cr_assert_eq(gba_digest_response(&in, out), -EINVAL);
}

/*
 * rspauth (RFC 2617 §3.2.3): the response with an empty method and, for auth-int,
 * the 200 OK's body. Independent value from Python hashlib:
 *   ha1 = md5(b"node1@ims.example:bsf.example.com:" + bytes.fromhex("a54211d5e3ba50bf"))
 *   ha2 = md5(b":/:" + md5(b"<BootstrappingInfo/>").hexdigest().encode())
 *   md5(f"{ha1}:NONCE:00000001:c0ffee:auth-int:{ha2}") = 6205c4eeb9ec6d2e200f3391be9e240c
 */
Test(gba_digest, rspauth_and_authentication_info)
{
	static const char body[] = "<BootstrappingInfo/>";
	uint8_t res[8];
	struct gba_auth_info ai = { 0 }, back;
	char hdr[GBA_HEADER_MAX];
	struct gba_digest_input in = {
		.username = "node1@ims.example",
		.realm = "bsf.example.com",
		.password = res,
		.password_len = sizeof(res),
		.method = "",
		.uri = "/",
		.nonce = "NONCE",
		.nc = "00000001",
		.cnonce = "c0ffee",
		.qop = "auth-int",
		.body = (const uint8_t *)body,
		.body_len = sizeof(body) - 1,
	};

	unhex("a54211d5e3ba50bf", res, sizeof(res));
	cr_assert_eq(gba_digest_response(&in, ai.rspauth), 0);
	cr_assert_str_eq(ai.rspauth, "6205c4eeb9ec6d2e200f3391be9e240c");
	strcpy(ai.qop, "auth-int");
	strcpy(ai.cnonce, "c0ffee");
	strcpy(ai.nc, "00000001");
	cr_assert_eq(gba_auth_info_format(&ai, hdr, sizeof(hdr)), 0);
	cr_assert_str_eq(hdr, "qop=auth-int, rspauth=\"6205c4eeb9ec6d2e200f3391be9e240c\", "
			      "cnonce=\"c0ffee\", nc=00000001");
	cr_assert_eq(gba_auth_info_parse(hdr, strlen(hdr), &back), 0);
	cr_assert_eq(memcmp(&ai, &back, sizeof(ai)), 0);
	/* No scheme in this header; rspauth must be 32 hex digits. */
	cr_assert_eq(gba_auth_info_parse("Digest qop=auth", 15, &back), -EINVAL);
	cr_assert_eq(gba_auth_info_parse("rspauth=\"abc\"", 13, &back), -EINVAL);
	cr_assert_eq(gba_auth_info_parse("qop=auth, qop=auth", 18, &back), -EINVAL);
	/* Found by fuzz-gba-digest: a header that says nothing did not format back. */
	cr_assert_eq(gba_auth_info_parse("cnonce=\"\" \t", 11, &back), -EINVAL);
	memset(&ai, 0, sizeof(ai));
	strcpy(ai.qop, "auth-int");
	cr_assert_eq(gba_auth_info_format(&ai, hdr, sizeof(hdr)), -EINVAL);
}

Test(gba_digest, challenge_round_trip)
{
	struct gba_challenge c = { 0 }, back;
	char hdr[GBA_HEADER_MAX];

	strcpy(c.realm, "bsf.example.com");
	strcpy(c.nonce, "I2VTvpY3qJ0hiuZNrke/NQ==");
	strcpy(c.opaque, "a \"quoted\" \\ value");
	strcpy(c.algorithm, GBA_ALGORITHM);
	strcpy(c.qop, "auth-int");
	c.stale = true;
	cr_assert_eq(gba_challenge_format(&c, hdr, sizeof(hdr)), 0);
	cr_assert_str_eq(hdr, "Digest realm=\"bsf.example.com\", nonce=\"I2VTvpY3qJ0hiuZNrke/NQ==\", "
			      "opaque=\"a \\\"quoted\\\" \\\\ value\", algorithm=AKAv1-MD5, "
			      "qop=\"auth-int\", stale=true");
	cr_assert_eq(gba_challenge_parse(hdr, strlen(hdr), &back), 0);
	cr_assert_eq(memcmp(&c, &back, sizeof(c)), 0);
	cr_assert_eq(gba_challenge_format(&c, hdr, 40), -ENOBUFS);
}

Test(gba_digest, authorization_round_trip)
{
	struct gba_authorization a = { 0 }, back;
	char hdr[GBA_HEADER_MAX];

	strcpy(a.username, "node1@ims.example");
	strcpy(a.realm, "bsf.example.com");
	strcpy(a.nonce, "abc=");
	strcpy(a.uri, "/");
	strcpy(a.response, "41a4c266e478bcd572280f397be24cc6");
	strcpy(a.algorithm, GBA_ALGORITHM);
	strcpy(a.cnonce, "c0ffee");
	strcpy(a.qop, "auth-int");
	strcpy(a.nc, "00000001");
	strcpy(a.auts, "AAAAAAAAAAAAAAAAAAA=");
	cr_assert_eq(gba_authorization_format(&a, hdr, sizeof(hdr)), 0);
	cr_assert_eq(gba_authorization_parse(hdr, strlen(hdr), &back), 0);
	cr_assert_eq(memcmp(&a, &back, sizeof(a)), 0);
}

/* The first request of a Ub run (TS 24.109 §5.2.1): nonce and response empty. */
Test(gba_digest, authorization_first_request)
{
	static const char h[] = "Digest username=\"u@ims.example\", realm=\"bsf.example.com\", "
				"nonce=\"\", uri=\"/\", response=\"\"";
	struct gba_authorization a;

	struct gba_authorization b = { 0 };
	char out[GBA_HEADER_MAX];

	cr_assert_eq(gba_authorization_parse(h, strlen(h), &a), 0);
	cr_assert_str_eq(a.username, "u@ims.example");
	cr_assert_str_eq(a.nonce, "");
	cr_assert_str_eq(a.response, "");
	/* The formatter writes the same first request from username, realm and uri. */
	strcpy(b.username, "u@ims.example");
	strcpy(b.realm, "bsf.example.com");
	strcpy(b.uri, "/");
	cr_assert_eq(gba_authorization_format(&b, out, sizeof(out)), 0);
	cr_assert_str_eq(out, h);
}

Test(gba_digest, accepts_lenient_but_valid_forms)
{
	static const char h[] = "  digest   REALM = \"r\" ,nonce=abc ,  algorithm=\"AKAv1-MD5\"";
	struct gba_challenge c;

	cr_assert_eq(gba_challenge_parse(h, strlen(h), &c), 0);
	cr_assert_str_eq(c.realm, "r");
	cr_assert_str_eq(c.nonce, "abc");
	cr_assert_str_eq(c.algorithm, "AKAv1-MD5");
}

Test(gba_digest, refuses_malformed)
{
	static const char *const bad[] = {
		"Basic realm=\"r\", nonce=\"n\"",
		"Digest",
		"Digest ",
		"Digestrealm=\"r\", nonce=\"n\"",
		"Digest realm=\"r\", nonce=\"n\", realm=\"r\"",   /* duplicate */
		"Digest realm=\"r\", nonce=\"n\", REALM=\"x\"",   /* duplicate, other case */
		"Digest realm=\"r\", nonce=\"n\", colour=\"red\"", /* unknown */
		"Digest realm=\"r\", nonce=\"n",                   /* unterminated */
		"Digest realm=\"r\", nonce=\"n\\",                 /* escape at the end */
		"Digest realm=\"r\", nonce=\"n\",",                /* trailing comma */
		"Digest realm=\"r\",, nonce=\"n\"",                /* empty element */
		"Digest realm=\"r\" nonce=\"n\"",                  /* no comma */
		"Digest realm=, nonce=\"n\"",                      /* empty token */
		"Digest realm=\"r\", nonce=\"a\x01b\"",            /* control character */
		"Digest realm=\"r\"",                              /* nonce missing */
		"Digest realm=\"r\", nonce=\"n\", stale=maybe",
		"Digest realm=\"r\", nonce=a\"b\"",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct gba_challenge c;

		cr_expect_lt(gba_challenge_parse(bad[i], strlen(bad[i]), &c), 0, "accepted: %s",
			     bad[i]);
	}
}

Test(gba_digest, refuses_bad_credentials)
{
	static const char *const bad[] = {
		/* response not 32 hex digits */
		"Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"/\", response=\"xyz\"",
		/* qop without nc/cnonce */
		"Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"/\", qop=auth-int",
		/* nc not 8 hex digits */
		"Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"/\", qop=auth-int, "
		"cnonce=\"c\", nc=1",
		/* nc without qop */
		"Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"/\", nc=00000001",
		/* uri missing */
		"Digest username=\"u\", realm=\"r\", nonce=\"n\"",
		/* username empty */
		"Digest username=\"\", realm=\"r\", nonce=\"n\", uri=\"/\"",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct gba_authorization a;

		cr_expect_eq(gba_authorization_parse(bad[i], strlen(bad[i]), &a), -EINVAL,
			     "accepted: %s", bad[i]);
	}
}

Test(gba_digest, length_limits)
{
	char hdr[GBA_HEADER_MAX + 64];
	struct gba_challenge c;
	int n;

	n = snprintf(hdr, sizeof(hdr), "Digest realm=\"%0*d\", nonce=\"n\"", GBA_VALUE_MAX + 1, 0);
	cr_assert_eq(gba_challenge_parse(hdr, (size_t)n, &c), -E2BIG);
	n = snprintf(hdr, sizeof(hdr), "Digest realm=\"%0*d\", nonce=\"n\"", GBA_VALUE_MAX, 0);
	cr_assert_eq(gba_challenge_parse(hdr, (size_t)n, &c), 0);
	memset(hdr, ' ', sizeof(hdr));
	cr_assert_eq(gba_challenge_parse(hdr, GBA_HEADER_MAX + 1, &c), -E2BIG);
	/* An embedded NUL is not a header character. */
	cr_assert_lt(gba_challenge_parse("Digest realm=\"a\0b\", nonce=n", 27, &c), 0);
}

Test(gba_digest, formatter_refuses_control_characters)
{
	struct gba_challenge c = { 0 };
	char hdr[512];

	strcpy(c.realm, "r\r\nX-Injected: 1");
	strcpy(c.nonce, "n");
	cr_assert_eq(gba_challenge_format(&c, hdr, sizeof(hdr)), -EINVAL);
	strcpy(c.realm, "r");
	strcpy(c.algorithm, "AKA v1"); /* a token cannot hold a space */
	cr_assert_eq(gba_challenge_format(&c, hdr, sizeof(hdr)), -EINVAL);
}

Test(gba_digest, nonce_and_auts)
{
	uint8_t rand[16], autn[16], r2[16], a2[16], auts[14], auts2[14];
	char nonce[GBA_NONCE_TEXT_LEN + 1], t[GBA_AUTS_TEXT_LEN + 1];

	unhex("23553cbe9637a89d218ae64dae47bf35", rand, 16);
	for (int i = 0; i < 16; i++)
		autn[i] = (uint8_t)(0xf0 + i);
	cr_assert_eq(gba_nonce_encode(rand, autn, nonce), 0);
	cr_assert_eq(strlen(nonce), 44);
	cr_assert_eq(gba_nonce_decode(nonce, r2, a2), 0);
	cr_assert_arr_eq(r2, rand, 16);
	cr_assert_arr_eq(a2, autn, 16);
	/* Too short (RAND only) and not base64. */
	cr_assert_eq(gba_nonce_decode("I1U8vpY3qJ0hiuZNrke/NQ==", r2, a2), -EINVAL);
	cr_assert_eq(gba_nonce_decode("not base64!", r2, a2), -EINVAL);
	memset(auts, 0x5a, sizeof(auts));
	cr_assert_eq(gba_auts_encode(auts, t), 0);
	cr_assert_eq(gba_auts_decode(t, auts2), 0);
	cr_assert_arr_eq(auts, auts2, 14);
	cr_assert_eq(gba_auts_decode("WlpaWlpaWlpaWlpaWlpa", auts2), -EINVAL); /* 15 bytes */
}

/* RFC 4648 §10 test vectors, and the strictness of the decoder. */
Test(gba_base64, rfc4648_vectors)
{
	static const char *const v[][2] = { { "", "" },	      { "f", "Zg==" },
					    { "fo", "Zm8=" },     { "foo", "Zm9v" },
					    { "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" },
					    { "foobar", "Zm9vYmFy" } };

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char out[16];
		uint8_t back[16];

		cr_assert_eq(gba_base64_encode((const uint8_t *)v[i][0], strlen(v[i][0]), out,
					       sizeof(out)),
			     0);
		cr_assert_str_eq(out, v[i][1]);
		cr_assert_eq(gba_base64_decode(out, strlen(out), back, sizeof(back)),
			     (int)strlen(v[i][0]));
		cr_assert_eq(memcmp(back, v[i][0], strlen(v[i][0])), 0);
	}
}

Test(gba_base64, strict)
{
	uint8_t b[16];

	cr_assert_eq(gba_base64_decode("Zg=", 3, b, sizeof(b)), -EINVAL);      /* length */
	cr_assert_eq(gba_base64_decode("Zh==", 4, b, sizeof(b)), -EINVAL);     /* pad bits */
	cr_assert_eq(gba_base64_decode("Z===", 4, b, sizeof(b)), -EINVAL);     /* too much pad */
	cr_assert_eq(gba_base64_decode("Zg==Zg==", 8, b, sizeof(b)), -EINVAL); /* pad inside */
	cr_assert_eq(gba_base64_decode("Zm9 v", 5, b, sizeof(b)), -EINVAL);
	cr_assert_eq(gba_base64_decode("Zm=v", 4, b, sizeof(b)), -EINVAL);
	cr_assert_eq(gba_base64_decode("Zm9vYmFy", 8, b, 5), -ENOBUFS);
}
