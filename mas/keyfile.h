/* SPDX-License-Identifier: Apache-2.0 */
/*
 * 32-byte key files as the MAS reads them (the master key, a node's Km given to
 * m2masctl): either exactly 32 raw bytes, or 64 hex digits optionally followed
 * by trailing whitespace (a newline). The master key file is the MAS's own: it
 * unlocks the keys in the node store, whatever the store's backend (mas/store.h).
 * Nothing here prints; buffers are wiped.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "common/secret.h"

#define MAS_KEY_LEN 32

/* Parse buf (see above) into out; -EINVAL if it is neither form. out is written only on success. */
int mas_key_parse(const uint8_t *buf, size_t len, uint8_t out[static MAS_KEY_LEN]);
/* Read the whole of fd (at most a few hundred bytes) and parse it into a new secret. */
int mas_key_read_fd(int fd, struct secret **ret);
/* Write key as 64 lowercase hex digits and a NUL into out. */
void mas_key_to_hex(const uint8_t key[static MAS_KEY_LEN], char out[static 2 * MAS_KEY_LEN + 1]);

/*
 * Read the master key file (either form above). Refuses a file that is not a
 * regular file (-EINVAL) or that group or others may access (-EPERM).
 */
int mas_master_key_load(const char *path, struct secret **ret);
/* Create a new random master key file (64 hex digits and a newline), mode 0600; -EEXIST if present. */
int mas_master_key_create(const char *path);
