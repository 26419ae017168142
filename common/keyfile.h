/* SPDX-License-Identifier: Apache-2.0 */
/*
 * 32-byte key files: either exactly 32 raw bytes, or 64 hex digits optionally
 * followed by trailing whitespace (a newline). The master key file unlocks the
 * keys a store keeps sealed: the MAS's node store (mas/store.h, which names
 * these functions mas_* in mas/keyfile.h) and the BSF's store (bsf/bsf-store.h).
 * Nothing here prints; buffers are wiped.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "common/secret.h"

#define KEYFILE_KEY_LEN 32

/* Parse buf (see above) into out; -EINVAL if it is neither form. out is written only on success. */
int keyfile_parse(const uint8_t *buf, size_t len, uint8_t out[static KEYFILE_KEY_LEN]);
/* Read the whole of fd (at most a few hundred bytes) and parse it into a new secret. */
int keyfile_read_fd(int fd, struct secret **ret);
/* Write key as 64 lowercase hex digits and a NUL into out. */
void keyfile_to_hex(const uint8_t key[static KEYFILE_KEY_LEN],
		    char out[static 2 * KEYFILE_KEY_LEN + 1]);

/*
 * Read a master key file (either form above). Refuses a file that is not a
 * regular file (-EINVAL) or that group or others may access (-EPERM).
 */
int keyfile_master_load(const char *path, struct secret **ret);
/* Create a new random master key file (64 hex digits and a newline), mode 0600; -EEXIST if present. */
int keyfile_master_create(const char *path);
