/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Key files for m2msactl's import commands (Km for provision; K and OPc for usim
 * provision): n raw bytes, or 2n hex digits with any whitespace around or between.
 * The path "-" is standard input. Key text is held in wiped memory only; nothing
 * here prints: the commands word their own messages.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "common/secret.h"

/* Key files are tiny; anything longer than this is certainly not a key. */
#define CTL_KEY_FILE_MAX 4096

/*
 * The whole of path (or standard input) in a new secret, its length in *ret_len.
 * -EFBIG when it holds more than CTL_KEY_FILE_MAX bytes.
 */
int ctl_key_file_read(const char *path, struct secret **ret, size_t *ret_len);
/*
 * n key bytes from the len bytes of buf into out: 2n hex digits (whitespace
 * skipped), or exactly n raw bytes. -EINVAL if it is neither; *ret_hex_digits is
 * then the count of its non-space characters when they are all hex digits, else 0.
 */
int ctl_key_parse(const uint8_t *buf, size_t len, uint8_t *out, size_t n,
		  size_t *ret_hex_digits);
