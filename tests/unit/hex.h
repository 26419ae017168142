/* SPDX-License-Identifier: Apache-2.0 */
/* Hex helpers for known-answer tests. */
#pragma once

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Decode even-length lowercase/uppercase hex into out; returns byte count or -1. */
static inline int unhex(const char *s, uint8_t *out, size_t out_len)
{
	size_t n = strlen(s);

	if (n % 2 || n / 2 > out_len)
		return -1;
	for (size_t i = 0; i < n / 2; i++) {
		unsigned v;

		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (uint8_t)v;
	}
	return (int)(n / 2);
}

static inline void tohex(const uint8_t *in, size_t len, char *out)
{
	for (size_t i = 0; i < len; i++)
		snprintf(out + 2 * i, 3, "%02x", in[i]);
}
