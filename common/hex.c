/* SPDX-License-Identifier: Apache-2.0 */
/* Hex encoding and decoding in constant time (see hex.h). */
#include <errno.h>
#include <string.h>

#include "common/hex.h"

/* '0'..'9' for 0..9, 'a'..'f' for 10..15, by arithmetic rather than a table. */
static char hex_digit(unsigned v)
{
	/* (9 - v) >> 8 is all ones exactly when v > 9 (v < 16, so 9 - v >= -6). */
	unsigned above9 = ((9u - v) >> 8) & 1u;

	return (char)('0' + v + above9 * ('a' - '0' - 10));
}

void hex_encode(const uint8_t *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex_digit(b[i] >> 4);
		out[2 * i + 1] = hex_digit(b[i] & 0xf);
	}
	out[2 * n] = '\0';
}

/* 1 if lo <= c <= hi, else 0, without a branch on c. */
static unsigned in_range(unsigned c, unsigned lo, unsigned hi)
{
	return (((c - lo) | (hi - c)) >> 8 & 1u) ^ 1u;
}

/* Value of one hex digit, or -1. */
static int hex_nibble(unsigned char c)
{
	unsigned dig = in_range(c, '0', '9'), low = in_range(c, 'a', 'f'),
		 up = in_range(c, 'A', 'F');
	unsigned v = dig * (c - '0') + low * (c - 'a' + 10u) + up * (c - 'A' + 10u);

	return (int)v - (int)((dig | low | up) ^ 1u) * ((int)v + 1);
}

int hex_decode(const char *s, size_t n, uint8_t *out)
{
	int bad = 0;

	for (size_t i = 0; i < n; i++) {
		int hi = hex_nibble((unsigned char)s[2 * i]), lo = hex_nibble((unsigned char)s[2 * i + 1]);

		bad |= hi | lo;
		out[i] = (uint8_t)(((unsigned)hi << 4) | ((unsigned)lo & 0xf));
	}
	if (bad < 0) {
		explicit_bzero(out, n);
		return -EINVAL;
	}
	return 0;
}
