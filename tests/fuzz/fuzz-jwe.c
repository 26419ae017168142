/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness for the JWE compact parser (common/jwe.c): any input is
 * refused with -EBADMSG or parses; what parses re-seals (with its own kid and
 * random objects) into a JWE that parses to the same fields, and opening it
 * with a fixed key either fails with -EBADMSG or yields the ciphertext's length.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/jwe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
	if (!ok)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t key[JWE_KEY_LEN] = { 1, 2, 3 };
	struct jwe_parsed p, q;
	uint8_t *msg = NULL;
	size_t len = 0;
	char *again = NULL;
	int r;

	r = jwe_parse((const char *)data, size, &p);
	check(r == 0 || r == -EBADMSG);
	if (r < 0)
		return 0;
	check(p.sealed_len >= 28 && p.aad_len > 0);
	r = jwe_open(key, &p, &msg, &len);
	check(r == -EBADMSG || (r == 0 && len == p.sealed_len - 28));
	free(msg);
	r = jwe_seal(key, p.kid, p.ro, p.rr, (const uint8_t *)"x", 1, &again);
	check(r == 0);
	check(jwe_parse(again, strlen(again), &q) == 0);
	check(strcmp(q.kid, p.kid) == 0 && memcmp(q.ro, p.ro, 16) == 0 && memcmp(q.rr, p.rr, 16) == 0);
	check(memcmp(again, data, p.aad_len) == 0); /* the header has one form */
	jwe_parsed_clear(&q);
	jwe_parsed_clear(&p);
	free(again);
	return 0;
}
