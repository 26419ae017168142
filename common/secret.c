/* SPDX-License-Identifier: Apache-2.0 */
/* Secret memory: mlocked heap buffers wiped before free, and constant-time compare. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/secret.h"

void secret_wipe(void *p, size_t len)
{
	if (p && len)
		explicit_bzero(p, len);
}

int secret_new(size_t len, struct secret **ret)
{
	struct secret *s;
	size_t page;
	void *p;

	if (len == 0)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	/*
	 * Pages of its own: mlock/munlock work on whole pages, so a secret that
	 * shared a page with another would be unlocked when the other is freed.
	 */
	page = sysconf(_SC_PAGESIZE) > 0 ? (size_t)sysconf(_SC_PAGESIZE) : 4096;
	if (len > SIZE_MAX - page || posix_memalign(&p, page, (len + page - 1) / page * page) != 0) {
		free(s);
		return -ENOMEM;
	}
	memset(p, 0, len);
	s->data = p;
	s->len = len;
	/* Best effort: RLIMIT_MEMLOCK may be small for unprivileged users. The
	 * daemons also disable core dumps, so an unlocked page is not written out. */
	(void)mlock(s->data, len);
	*ret = s;
	return 0;
}

int secret_dup(const void *src, size_t len, struct secret **ret)
{
	struct secret *s;
	int r;

	r = secret_new(len, &s);
	if (r < 0)
		return r;
	memcpy(s->data, src, len);
	*ret = s;
	return 0;
}

void secret_free(struct secret *s)
{
	if (!s)
		return;
	if (s->data) {
		secret_wipe(s->data, s->len);
		(void)munlock(s->data, s->len);
		free(s->data);
	}
	free(s);
}

void secret_free_buf(void *p, size_t len)
{
	if (!p)
		return;
	secret_wipe(p, len);
	free(p);
}

int secret_equal(const void *a, const void *b, size_t len)
{
	const volatile uint8_t *x = a, *y = b;
	uint8_t d = 0;

	for (size_t i = 0; i < len; i++)
		d |= x[i] ^ y[i];
	/* 1 when d == 0, without a data-dependent branch. */
	return (int)(1 & ((d - 1) >> 8));
}

const char *secret_redact(size_t len, char buf[static SECRET_REDACT_MAX])
{
	snprintf(buf, SECRET_REDACT_MAX, "<redacted %zu bytes>", len);
	return buf;
}
