/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness for the HTTP Digest AKA header parsers (gba/digest.c:
 * WWW-Authenticate, Authorization, Authentication-Info) and the
 * nonce/auts decoders. A header that parses must format and parse back to the
 * same fields (the formatter escapes what the parser unescaped).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gba/digest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void challenge(const char *s, size_t n)
{
	struct gba_challenge c, back;
	char out[GBA_HEADER_MAX * 2 + 64];
	uint8_t rand[GBA_RAND_LEN], autn[GBA_AUTN_LEN];

	if (gba_challenge_parse(s, n, &c) != 0)
		return;
	(void)gba_nonce_decode(c.nonce, rand, autn);
	/* A token-valued field may hold what the formatter refuses as a token (from quotes). */
	if (gba_challenge_format(&c, out, sizeof(out)) != 0)
		return;
	if (gba_challenge_parse(out, strlen(out), &back) != 0 || memcmp(&c, &back, sizeof(c)) != 0)
		abort();
}

static void authorization(const char *s, size_t n)
{
	struct gba_authorization a, back;
	char out[GBA_HEADER_MAX * 2 + 64];
	uint8_t auts[GBA_AUTS_LEN];

	if (gba_authorization_parse(s, n, &a) != 0)
		return;
	(void)gba_auts_decode(a.auts, auts);
	if (gba_authorization_format(&a, out, sizeof(out)) != 0)
		return;
	if (gba_authorization_parse(out, strlen(out), &back) != 0 ||
	    memcmp(&a, &back, sizeof(a)) != 0)
		abort();
}

static void auth_info(const char *s, size_t n)
{
	struct gba_auth_info ai, back;
	char out[GBA_HEADER_MAX * 2 + 64];

	if (gba_auth_info_parse(s, n, &ai) != 0)
		return;
	if (gba_auth_info_format(&ai, out, sizeof(out)) != 0)
		return;
	if (gba_auth_info_parse(out, strlen(out), &back) != 0 || memcmp(&ai, &back, sizeof(ai)) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	auth_info((const char *)data, size);
	challenge((const char *)data, size);
	authorization((const char *)data, size);
	return 0;
}
