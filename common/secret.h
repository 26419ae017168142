/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Secret memory: the one way m2msa holds key bytes. Heap secrets are mlocked
 * while alive and wiped before they are freed; stack keys use struct key32
 * with _cleanup_key32_. Nothing here prints key bytes: secret_redact() gives
 * the text a log line may carry instead.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "common/util.h"

#define KEY32_LEN 32

struct secret {
	size_t len;
	uint8_t *data;
};

/* Wipe len bytes at p in a way the compiler cannot elide. NULL is fine. */
void secret_wipe(void *p, size_t len);

/* Allocate a zeroed, mlocked secret of len bytes. */
int secret_new(size_t len, struct secret **ret);
/* Allocate a secret holding a copy of len bytes at src. */
int secret_dup(const void *src, size_t len, struct secret **ret);
/* Wipe, unlock and free; NULL is fine. */
void secret_free(struct secret *s);

static inline void secret_freep(struct secret **s)
{
	secret_free(*s);
	*s = NULL;
}
#define _cleanup_secret_ _cleanup_(secret_freep)

/* Wipe and free a plain heap buffer of len bytes (for buffers from other APIs). */
void secret_free_buf(void *p, size_t len);

/* A 32-byte key on the stack; _cleanup_key32_ wipes it when it leaves scope. */
struct key32 {
	uint8_t b[KEY32_LEN];
};

static inline void key32_wipep(struct key32 *k)
{
	secret_wipe(k, sizeof(*k));
}
#define _cleanup_key32_ _cleanup_(key32_wipep)

/* Constant-time comparison: 1 when equal, 0 otherwise. Time depends on len only. */
int secret_equal(const void *a, const void *b, size_t len);

/*
 * The text a log line may carry for a key: "<redacted N bytes>". buf must hold
 * SECRET_REDACT_MAX bytes; returns buf.
 */
#define SECRET_REDACT_MAX 40
const char *secret_redact(size_t len, char buf[static SECRET_REDACT_MAX]);
