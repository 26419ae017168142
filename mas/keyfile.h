/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The MAS's names for its key files (the master key, a node's Km given to
 * m2masctl): the code is common/keyfile.c, which the BSF uses too. The master
 * key file is the MAS's own: it unlocks the keys in the node store, whatever
 * the store's backend (mas/store.h).
 */
#pragma once

#include "common/keyfile.h"

#define MAS_KEY_LEN KEYFILE_KEY_LEN

/* Parse buf (raw 32 bytes or 64 hex digits) into out; -EINVAL if neither. */
static inline int mas_key_parse(const uint8_t *buf, size_t len, uint8_t out[static MAS_KEY_LEN])
{
	return keyfile_parse(buf, len, out);
}

/* Read the whole of fd and parse it into a new secret. */
static inline int mas_key_read_fd(int fd, struct secret **ret)
{
	return keyfile_read_fd(fd, ret);
}

/* Write key as 64 lowercase hex digits and a NUL into out. */
static inline void mas_key_to_hex(const uint8_t key[static MAS_KEY_LEN],
				  char out[static 2 * MAS_KEY_LEN + 1])
{
	keyfile_to_hex(key, out);
}

/* Read the master key file; -EINVAL if not a regular file, -EPERM if group or others may access it. */
static inline int mas_master_key_load(const char *path, struct secret **ret)
{
	return keyfile_master_load(path, ret);
}

/* Create a new random master key file, mode 0600; -EEXIST if present. */
static inline int mas_master_key_create(const char *path)
{
	return keyfile_master_create(path);
}
