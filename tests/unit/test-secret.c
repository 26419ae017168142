/* SPDX-License-Identifier: Apache-2.0 */
/* Secret memory: constant-time compare, redaction text, allocation and wiping. */
#include <criterion/criterion.h>
#include <errno.h>

#include "common/secret.h"

Test(secret, equal_compares_every_byte)
{
	uint8_t a[32] = { 0 }, b[32] = { 0 };

	cr_assert_eq(secret_equal(a, b, 32), 1);
	for (int i = 0; i < 32; i++) {
		b[i] = 0x80;
		cr_assert_eq(secret_equal(a, b, 32), 0, "difference at byte %d missed", i);
		b[i] = 0;
	}
	cr_assert_eq(secret_equal(a, b, 0), 1);
}

Test(secret, redact_names_length_only)
{
	char buf[SECRET_REDACT_MAX];

	cr_assert_str_eq(secret_redact(32, buf), "<redacted 32 bytes>");
}

Test(secret, new_is_zeroed_and_dup_copies)
{
	struct secret *s = NULL, *d = NULL;
	uint8_t zero[48] = { 0 }, src[48];

	cr_assert_eq(secret_new(48, &s), 0);
	cr_assert_eq(s->len, 48);
	cr_assert_arr_eq(s->data, zero, 48);
	memset(src, 0x5a, sizeof(src));
	cr_assert_eq(secret_dup(src, sizeof(src), &d), 0);
	cr_assert_arr_eq(d->data, src, 48);
	secret_free(s);
	secret_free(d);
	secret_free(NULL);
	cr_assert_eq(secret_new(0, &s), -EINVAL);
}

Test(secret, wipe_zeroes)
{
	uint8_t buf[16];

	memset(buf, 0xff, sizeof(buf));
	secret_wipe(buf, sizeof(buf));
	for (size_t i = 0; i < sizeof(buf); i++)
		cr_assert_eq(buf[i], 0);
}

Test(secret, key32_wipe_zeroes_the_key)
{
	struct key32 k;

	memset(k.b, 0x77, sizeof(k.b));
	key32_wipep(&k);
	for (size_t i = 0; i < sizeof(k.b); i++)
		cr_assert_eq(k.b[i], 0);
}
