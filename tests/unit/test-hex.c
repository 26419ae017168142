/* SPDX-License-Identifier: Apache-2.0 */
/* common/hex: the one hex encoder and decoder (every byte value, both cases, bad digits). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/hex.h"

Test(hex, encodes_every_byte_value_lowercase)
{
	uint8_t all[256];
	char out[2 * 256 + 1], want[3];

	for (size_t i = 0; i < sizeof(all); i++)
		all[i] = (uint8_t)i;
	memset(out, 'X', sizeof(out));
	hex_encode(all, sizeof(all), out);
	for (size_t i = 0; i < sizeof(all); i++) {
		snprintf(want, sizeof(want), "%02x", (unsigned)i);
		cr_assert_eq(strncmp(out + 2 * i, want, 2), 0, "byte %zu: %.2s, want %s", i,
			     out + 2 * i, want);
	}
	cr_assert_eq(out[512], '\0', "NUL-terminated");
}

Test(hex, encodes_nothing_as_empty_string)
{
	char out[1] = { 'X' };

	hex_encode(NULL, 0, out);
	cr_assert_eq(out[0], '\0');
}

Test(hex, decodes_both_cases_and_round_trips)
{
	uint8_t all[256], back[256], mixed[4];
	char text[2 * 256 + 1];

	for (size_t i = 0; i < sizeof(all); i++)
		all[i] = (uint8_t)(255 - i);
	hex_encode(all, sizeof(all), text);
	cr_assert_eq(hex_decode(text, sizeof(back), back), 0);
	cr_assert_arr_eq(back, all, sizeof(all));
	cr_assert_eq(hex_decode("0aF9bC7e", 4, mixed), 0);
	cr_assert_eq(mixed[0], 0x0a);
	cr_assert_eq(mixed[1], 0xf9);
	cr_assert_eq(mixed[2], 0xbc);
	cr_assert_eq(mixed[3], 0x7e);
}

Test(hex, refuses_non_hex_digits_and_leaves_zeros)
{
	/* Each neighbour of a digit range, and characters that sscanf("%x") would accept. */
	static const char *const bad[] = { "0/", "0:", "0@", "0G", "0`", "0g", " 1", "+1",
					   "-1", "x1", "\xff" "1", "1\x80" };
	uint8_t out[1];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		out[0] = 0x5a;
		cr_assert_eq(hex_decode(bad[i], 1, out), -EINVAL, "'%s' refused", bad[i]);
		cr_assert_eq(out[0], 0, "'%s': output wiped", bad[i]);
	}
}
