// SPDX-License-Identifier: Apache-2.0
/* common/jwe.c: sessionESPrimKey, the JWE compact profile, strict parsing, tampering. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/jwe.h"
#include "hex.h"

#define KID "00112233445566778899aabbccddeeff@mas.example.com"

static uint8_t pk[32], ro[16], rr[16];

static void init(void)
{
	for (int i = 0; i < 32; i++)
		pk[i] = (uint8_t)i;
	for (int i = 0; i < 16; i++) {
		rr[i] = (uint8_t)(0xa0 + i);
		ro[i] = (uint8_t)(0xb0 + i);
	}
}

TestSuite(jwe, .init = init);

/*
 * TS-0003 §10.3.8.2 (STANDARDS.md): HMAC-SHA256(pairwise, rr || ro || label). The
 * expected value is from Python's hmac/hashlib over the same inputs.
 */
Test(jwe, session_key_is_the_ts_0003_formula)
{
	uint8_t out[32], want[32];

	cr_assert_eq(unhex("0abc783bc4c1d37c9bdb9efedd2219eee765cb65b7800d588bb3cf9250e78b43", want,
			   sizeof(want)),
		     32);
	cr_assert_eq(jwe_session_key(pk, rr, ro, out), 0);
	cr_assert_arr_eq(out, want, 32);
}

static char *seal(const char *msg)
{
	char *j = NULL;

	cr_assert_eq(jwe_seal(pk, KID, ro, rr, (const uint8_t *)msg, strlen(msg), &j), 0);
	return j;
}

static int open_str(const char *j, char **ret)
{
	struct jwe_parsed p;
	uint8_t *m = NULL;
	size_t n = 0;
	int r = jwe_parse(j, strlen(j), &p);

	if (r < 0)
		return r;
	r = jwe_open(pk, &p, &m, &n);
	jwe_parsed_clear(&p);
	if (r == 0) {
		*ret = calloc(1, n + 1);
		memcpy(*ret, m, n);
		free(m);
	}
	return r;
}

Test(jwe, seal_then_open_with_the_documented_header)
{
	char *j = seal("hello AE2"), *m = NULL;
	struct jwe_parsed p;
	char hdr64[512];
	/* {"alg":"dir","enc":"A256GCM","kid":KID,"ro":..,"rr":..} in base64url */
	const char *dot = strchr(j, '.');

	cr_assert_not_null(dot);
	cr_assert_eq(dot[1], '.', "the encrypted key part of alg dir is empty");
	memcpy(hdr64, j, (size_t)(dot - j));
	hdr64[dot - j] = '\0';
	/* Expected value: Python's base64.urlsafe_b64encode of the header, '=' stripped. */
	cr_assert_str_eq(hdr64, "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIiwia2lkIjoiMDAxMTIyMzM0NDU1NjY3Nzg4"
				"OTlhYWJiY2NkZGVlZmZAbWFzLmV4YW1wbGUuY29tIiwicm8iOiJzTEd5czdTMXRyZTR1YnE3"
				"dkwyLXZ3IiwicnIiOiJvS0dpbzZTbHBxZW9xYXFycksydXJ3In0");
	cr_assert_eq(jwe_parse(j, strlen(j), &p), 0);
	cr_assert_str_eq(p.kid, KID);
	cr_assert_arr_eq(p.ro, ro, 16);
	cr_assert_arr_eq(p.rr, rr, 16);
	jwe_parsed_clear(&p);
	cr_assert_eq(open_str(j, &m), 0);
	cr_assert_str_eq(m, "hello AE2");
	free(m);
	free(j);
}

/* Flip one character inside part k (0 header, 2 IV, 3 ciphertext, 4 tag). */
static void flip_in_part(char *j, int k)
{
	char *p = j;

	for (int i = 0; i < k; i++)
		p = strchr(p, '.') + 1;
	/* The first char always carries 6 payload bits: A <-> B changes the value. */
	p[0] = p[0] == 'A' ? 'B' : 'A';
}

Test(jwe, tampered_header_iv_ciphertext_tag_are_refused)
{
	for (int k = 0; k < 5; k++) {
		char *j, *m = NULL;

		if (k == 1)
			continue;
		struct jwe_parsed p;

		j = seal("a message of some length, 1 KiB in the bench");
		flip_in_part(j, k);
		if (k > 0) { /* still well-formed: the AES-GCM tag is what refuses it */
			cr_assert_eq(jwe_parse(j, strlen(j), &p), 0, "part %d", k);
			jwe_parsed_clear(&p);
		}
		cr_expect_eq(open_str(j, &m), -EBADMSG, "part %d", k);
		cr_expect_null(m);
		free(j);
	}
}

Test(jwe, a_valid_header_from_another_message_is_refused)
{
	char *a = seal("first"), *m = NULL, buf[2048];
	char *b;

	ro[0] ^= 1; /* another random object: another header, another session key */
	b = seal("first");
	snprintf(buf, sizeof(buf), "%.*s%s", (int)(strchr(b, '.') - b), b, strchr(a, '.'));
	cr_expect_eq(open_str(buf, &m), -EBADMSG);
	free(a);
	free(b);
}

Test(jwe, wrong_key_is_refused)
{
	char *j = seal("x"), *m = NULL;

	pk[0] ^= 1;
	cr_expect_eq(open_str(j, &m), -EBADMSG);
	free(j);
}

Test(jwe, strict_forms_only)
{
	char *j = seal("strict"), buf[2048];
	struct jwe_parsed p;
	const char *bad[8];
	char b[8][2048];
	size_t n = strlen(j);

	/* padding, an extra part, an encrypted key, a missing part, whitespace */
	snprintf(b[0], sizeof(b[0]), "%s=", j);
	snprintf(b[1], sizeof(b[1]), "%s.", j);
	snprintf(b[2], sizeof(b[2]), "%.*sAA%s", (int)(strchr(j, '.') - j + 1), j, strchr(j, '.') + 1);
	snprintf(b[3], sizeof(b[3]), "%.*s", (int)(strrchr(j, '.') - j), j);
	snprintf(b[4], sizeof(b[4]), " %s", j);
	/* non-canonical base64url: the tag's last char with trailing bits set (22 chars, 16 bytes) */
	snprintf(b[5], sizeof(b[5]), "%s", j);
	b[5][n - 1] = b[5][n - 1] == 'A' ? 'B' : (b[5][n - 1] == 'Q' ? 'R' : 'B');
	/* standard base64 characters */
	snprintf(b[6], sizeof(b[6]), "%s", j);
	b[6][strchr(j, '.') - j + 3] = '+';
	b[7][0] = '\0';
	for (int i = 0; i < 7; i++) {
		bad[i] = b[i];
		cr_expect_eq(jwe_parse(bad[i], strlen(bad[i]), &p), -EBADMSG, "form %d: %s", i, bad[i]);
	}
	cr_expect_eq(jwe_parse(b[7], 0, &p), -EBADMSG);
	/* A header with the members in another order (valid JSON, another form). */
	snprintf(buf, sizeof(buf), "%s", "eyJlbmMiOiJBMjU2R0NNIiwiYWxnIjoiZGlyIn0");
	strcat(buf, strchr(j, '.'));
	cr_expect_eq(jwe_parse(buf, strlen(buf), &p), -EBADMSG);
	free(j);
}

Test(jwe, bad_kid_and_sizes_are_refused_when_sealing)
{
	char *j = NULL;
	static uint8_t big[JWE_MSG_MAX + 1];

	cr_expect_eq(jwe_seal(pk, "bad kid", ro, rr, (const uint8_t *)"x", 1, &j), -EINVAL);
	cr_expect_eq(jwe_seal(pk, "k\"}", ro, rr, (const uint8_t *)"x", 1, &j), -EINVAL);
	cr_expect_eq(jwe_seal(pk, KID, ro, rr, big, sizeof(big), &j), -EINVAL);
	cr_expect_eq(jwe_seal(pk, KID, ro, rr, NULL, 0, &j), 0);
	free(j);
}
