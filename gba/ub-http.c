/* SPDX-License-Identifier: Apache-2.0 */
/* Ub over libcurl: one pinned-CA HTTPS GET, and the blocking bootstrap that strings the steps together. */
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/secret.h"
#include "gba/ub-http.h"

int gba_ub_http_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -EIO;
}

/* "Name: value" into dst when the line is that header; lines longer than dst overflow. */
static void take_header(struct gba_ub_reply *r, const char *line, size_t len, const char *name,
			char *dst, size_t dst_size)
{
	size_t n = strlen(name);

	if (len <= n + 1 || strncasecmp(line, name, n) != 0 || line[n] != ':')
		return;
	line += n + 1;
	len -= n + 1;
	while (len && (*line == ' ' || *line == '\t'))
		line++, len--;
	while (len && (line[len - 1] == '\r' || line[len - 1] == '\n'))
		len--;
	if (len >= dst_size) {
		r->overflow = 1;
		return;
	}
	memcpy(dst, line, len);
	dst[len] = '\0';
}

static size_t on_header(char *b, size_t size, size_t n, void *userdata)
{
	struct gba_ub_reply *r = userdata;
	size_t len = size * n;

	/* A new status line (e.g. after 100 Continue) starts the headers anew. */
	if (len >= 5 && strncmp(b, "HTTP/", 5) == 0)
		r->www[0] = r->ainfo[0] = r->ctype[0] = '\0';
	take_header(r, b, len, "WWW-Authenticate", r->www, sizeof(r->www));
	take_header(r, b, len, "Authentication-Info", r->ainfo, sizeof(r->ainfo));
	take_header(r, b, len, "Content-Type", r->ctype, sizeof(r->ctype));
	return len;
}

static size_t on_body(char *b, size_t size, size_t n, void *userdata)
{
	struct gba_ub_reply *r = userdata;
	size_t len = size * n;

	if (r->len + len >= sizeof(r->body)) {
		r->overflow = 1;
		return 0; /* abort: no valid Ub reply is this long */
	}
	memcpy(r->body + r->len, b, len);
	r->len += len;
	r->body[r->len] = '\0';
	return len;
}

static int curl_errno(CURLcode rc)
{
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
		return -EHOSTUNREACH;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CONNECT_ERROR:
		return -EPERM;
	case CURLE_WRITE_ERROR:
		return -EMSGSIZE;
	default:
		return -EIO;
	}
}

static void set_options(CURL *c, const struct gba_ub_http *h, struct curl_slist *hdrs,
			struct gba_ub_reply *ret)
{
	long t = h->timeout_ms > 0 ? h->timeout_ms : 10000;

	curl_easy_setopt(c, CURLOPT_URL, h->bsf_url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c, CURLOPT_CAINFO, h->bsf_ca);
	curl_easy_setopt(c, CURLOPT_CAPATH, NULL);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, t);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, t);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, ret);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, ret);
	curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
}

int gba_ub_http_get(const struct gba_ub_http *h, const char *authz, struct gba_ub_reply *ret,
		    char *err, size_t err_len)
{
	char line[GBA_HEADER_MAX + 32];
	struct curl_slist *hdrs = NULL, *tmp;
	CURL *c;
	CURLcode rc;
	int r = 0;

	if (!h || !h->bsf_url || !h->bsf_ca || !authz || !ret)
		return -EINVAL;
	memset(ret, 0, sizeof(*ret));
	snprintf(line, sizeof(line), "Authorization: %s", authz);
	tmp = curl_slist_append(hdrs, line);
	secret_wipe(line, sizeof(line));
	if (!tmp)
		return -ENOMEM;
	hdrs = tmp;
	c = curl_easy_init();
	if (!c) {
		curl_slist_free_all(hdrs);
		return -ENOMEM;
	}
	set_options(c, h, hdrs, ret);
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK) {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &ret->status);
	} else {
		r = curl_errno(rc);
		snprintf(err, err_len, "cannot GET %s: %s%s", h->bsf_url, curl_easy_strerror(rc),
			 r == -EPERM ? " (is [gba] bsf_ca the CA that signed the BSF's certificate?)"
				     : "");
	}
	curl_easy_cleanup(c);
	curl_slist_free_all(hdrs);
	return r;
}

int gba_ub_bootstrap(const struct gba_ub_http *h, const char *impi, struct usim *usim,
		     const char *naf_fqdn, struct gba_ub_result *ret, char *err, size_t err_len)
{
	struct gba_ub *u = NULL;
	struct gba_ub_reply *reply;
	char authz[GBA_HEADER_MAX];
	int r;

	reply = calloc(1, sizeof(*reply));
	if (!reply)
		return -ENOMEM;
	r = gba_ub_new(impi, h->bsf_url, &u, err, err_len);
	if (r < 0)
		goto out;
	r = gba_ub_first_authz(u, authz);
	/* 401, (AUTS answer, 401,) RES answer, 200: four requests at most, and one spare. */
	for (int i = 0; r >= 0 && i < 5; i++) {
		r = gba_ub_http_get(h, authz, reply, err, err_len);
		if (r < 0)
			break;
		r = gba_ub_step(u, usim, reply, naf_fqdn, (int64_t)time(NULL), authz, ret, err,
				err_len);
		if (r == 0)
			goto out;
	}
	if (r > 0) {
		snprintf(err, err_len, "the BSF kept challenging without an end");
		r = -EPROTO;
	}
out:
	gba_ub_free(u);
	secret_wipe(authz, sizeof(authz));
	free(reply);
	return r;
}
