/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one hex encoder and decoder. Both run in constant time for the bytes they
 * handle (no table indexed by a secret nibble, no early exit on a bad digit), so
 * they serve for key material (Km, the master key) as well as for key IDs.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Write n bytes as 2n lowercase hex digits and a NUL into out (2n + 1 bytes). */
void hex_encode(const uint8_t *b, size_t n, char *out);
/*
 * Decode 2n hex digits (either case) from s into out (n bytes). -EINVAL if any of
 * them is not a hex digit; out then holds zeros, never part of the value.
 */
int hex_decode(const char *s, size_t n, uint8_t *out);
