/* SPDX-License-Identifier: Apache-2.0 */
/* Strict RFC 4648 base64 for the GBA codecs (see base64.h). */
#include <errno.h>

#include "gba/base64.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int gba_base64_encode(const uint8_t *in, size_t len, char *out, size_t out_size)
{
	size_t o = 0;

	if (out_size < GBA_BASE64_LEN(len) + 1)
		return -ENOBUFS;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		size_t left = len - i;

		if (left > 1)
			v |= (uint32_t)in[i + 1] << 8;
		if (left > 2)
			v |= in[i + 2];
		out[o++] = alphabet[(v >> 18) & 63];
		out[o++] = alphabet[(v >> 12) & 63];
		out[o++] = left > 1 ? alphabet[(v >> 6) & 63] : '=';
		out[o++] = left > 2 ? alphabet[v & 63] : '=';
	}
	out[o] = '\0';
	return 0;
}

static int sextet(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int gba_base64_decode(const char *text, size_t text_len, uint8_t *out, size_t out_size)
{
	size_t o = 0;

	if (text_len % 4)
		return -EINVAL;
	for (size_t i = 0; i < text_len; i += 4) {
		int s[4];
		size_t pad = 0;
		uint32_t v = 0;

		for (int j = 0; j < 4; j++) {
			char c = text[i + j];

			if (c == '=' && i + 4 == text_len && j >= 2) {
				s[j] = 0;
				pad++;
				continue;
			}
			if (pad)
				return -EINVAL; /* data after '=' */
			s[j] = sextet(c);
			if (s[j] < 0)
				return -EINVAL;
		}
		v = (uint32_t)s[0] << 18 | (uint32_t)s[1] << 12 | (uint32_t)s[2] << 6 | (uint32_t)s[3];
		if ((pad == 1 && (v & 0xff)) || (pad == 2 && (v & 0xffff)))
			return -EINVAL; /* non-zero bits under the padding */
		if (o + 3 - pad > out_size)
			return -ENOBUFS;
		out[o++] = (uint8_t)(v >> 16);
		if (pad < 2)
			out[o++] = (uint8_t)(v >> 8);
		if (pad < 1)
			out[o++] = (uint8_t)v;
	}
	return (int)o;
}
