/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Strict base64 (RFC 4648 §4, standard alphabet, '=' padding required) for the
 * GBA codecs: the Digest AKA nonce and auts, and the RAND part of a B-TID.
 * The decoder refuses whitespace, missing or extra padding and non-zero pad bits,
 * so one byte string has exactly one accepted text form.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Text length (without NUL) of n encoded bytes. */
#define GBA_BASE64_LEN(n) ((((n) + 2) / 3) * 4)

/* Encode len bytes into out (out_size >= GBA_BASE64_LEN(len) + 1); -ENOBUFS if too small. */
int gba_base64_encode(const uint8_t *in, size_t len, char *out, size_t out_size);

/*
 * Decode text of text_len characters into out (at most out_size bytes).
 * Returns the number of bytes, -EINVAL for text that is not strict base64,
 * -ENOBUFS when it decodes to more than out_size bytes.
 */
int gba_base64_decode(const char *text, size_t text_len, uint8_t *out, size_t out_size);
