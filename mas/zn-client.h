/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The MAS as a GBA NAF asks the BSF for Ks_NAF over Zn. One small interface so
 * that transports can be swapped: today Nbsp_GBA over HTTPS with mutual TLS
 * (TS 29.309, mas/zn-http.c); a Diameter Zn client (TS 29.109, application
 * 16777220, BIR/BIA) could implement the same three operations later.
 *
 * A fetch never blocks the caller's event loop: done(r, key, err, userdata) is
 * called later from the loop, exactly once unless the request is cancelled
 * first. r: 0 with key (Ks_NAF, its expiry and the IMPI the BSF bootstrapped;
 * the callee copies what it needs: key is wiped after done returns); -ENOENT the
 * BSF does not know the B-TID (expired or never bootstrapped there); -EACCES the
 * BSF refused this NAF; -ETIMEDOUT, -ECONNREFUSED, -EPERM (the BSF's certificate
 * does not verify), -EBADMSG (a malformed answer), -EIO otherwise; err says
 * what happened for a log line (never key bytes).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "gba/zn-json.h"

struct loop;
struct zn_client;
struct zn_request;

struct zn_key {
	uint8_t ks_naf[GBA_ZN_KEY_LEN];
	int64_t expiry; /* epoch seconds */
	char impi[GBA_IMPI_MAX + 1];
};

typedef void (*zn_done_fn)(int r, const struct zn_key *key, const char *err, void *userdata);

struct zn_client_ops {
	int (*fetch)(struct zn_client *c, const char *btid, zn_done_fn done, void *userdata,
		     struct zn_request **ret, char *err, size_t err_len);
	void (*cancel)(struct zn_request *req);
	void (*free)(struct zn_client *c);
};

struct zn_client {
	const struct zn_client_ops *ops;
};

/* Fetch Ks_NAF for btid; *ret is the handle for zn_cancel() until done runs. */
static inline int zn_fetch(struct zn_client *c, const char *btid, zn_done_fn done,
			   void *userdata, struct zn_request **ret, char *err, size_t err_len)
{
	return c->ops->fetch(c, btid, done, userdata, ret, err, err_len);
}

/* done is not called; NULL is fine. Never after done has run. */
static inline void zn_cancel(struct zn_client *c, struct zn_request *req)
{
	if (req)
		c->ops->cancel(req);
}

static inline void zn_client_free(struct zn_client *c)
{
	if (c)
		c->ops->free(c);
}

/* Nbsp_GBA over HTTPS: what m2masd.conf [zn] gives. */
struct zn_http_conf {
	const char *bsf_url;  /* API root, e.g. https://bsf.example.net:8443 */
	const char *bsf_ca;   /* CA file for the BSF's certificate (pinned: no system CAs) */
	const char *cert;     /* the MAS's NAF client certificate (PEM) */
	const char *key;      /* its private key (PEM) */
	const char *naf_fqdn; /* the MAS FQDN, nafId.nafFqdn */
	long timeout_ms;      /* per request; 0: 5 s */
};

/* curl_global_init() once, in the main thread before any fetch: 0 or -EIO. */
int zn_http_global_init(void);
/* Copies conf. -EINVAL for a URL that is not https://, missing files or an invalid NAF FQDN. */
int zn_http_new(struct loop *l, const struct zn_http_conf *conf, struct zn_client **ret);
