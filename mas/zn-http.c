/* SPDX-License-Identifier: Apache-2.0 */
/* Zn as TS 29.309 Nbsp_GBA over mutual-TLS HTTPS (libcurl), each request in a worker thread (common/bg-job). */
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bg-job.h"
#include "common/dns-name.h"
#include "common/secret.h"
#include "gba/ks-naf.h"
#include "mas/zn-client.h"

struct zn_http {
	struct zn_client base;
	struct loop *loop;
	char *url, *ca, *cert, *key, *naf;
	long timeout_ms;
};

/* One POST; everything the worker thread reads is its own copy. */
struct zn_request {
	struct bg_job *job;
	char *url, *ca, *cert, *key, *naf;
	long timeout_ms;
	char btid[GBA_BTID_MAX + 1];
	zn_done_fn done;
	void *userdata;
	/* Filled by the thread. */
	int r;
	char err[512];
	struct zn_key out;
	char *body;
	size_t len;
};

int zn_http_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -EIO;
}

static void req_free(void *arg)
{
	struct zn_request *q = arg;

	free(q->url), free(q->ca), free(q->cert), free(q->key), free(q->naf);
	if (q->body)
		secret_free_buf(q->body, q->len);
	secret_wipe(q, sizeof(*q));
	free(q);
}

static size_t on_body(char *b, size_t size, size_t n, void *userdata)
{
	struct zn_request *q = userdata;
	size_t len = size * n;
	char *grown;

	if (q->len + len > GBA_ZN_BODY_MAX)
		return 0;
	grown = malloc(q->len + len + 1);
	if (!grown)
		return 0;
	if (q->body) {
		memcpy(grown, q->body, q->len);
		secret_free_buf(q->body, q->len);
	}
	memcpy(grown + q->len, b, len);
	q->body = grown;
	q->len += len;
	q->body[q->len] = '\0';
	return len;
}

static int status_errno(long status, struct zn_request *q)
{
	if (status == 404) {
		snprintf(q->err, sizeof(q->err),
			 "the BSF does not know B-TID %s (expired or never bootstrapped there)",
			 q->btid);
		return -ENOENT;
	}
	if (status == 401 || status == 403) {
		snprintf(q->err, sizeof(q->err),
			 "the BSF refused this NAF (%s, HTTP %ld): is the MAS's Zn certificate one "
			 "the BSF trusts, for this FQDN?",
			 q->naf, status);
		return -EACCES;
	}
	snprintf(q->err, sizeof(q->err), "the BSF answered Zn with HTTP %ld", status);
	return -EIO;
}

static int post(struct zn_request *q, const char *json, long *ret_status)
{
	struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	char url[1024];
	CURL *c = curl_easy_init();
	CURLcode rc;

	if (!c || !hdrs) {
		curl_easy_cleanup(c);
		curl_slist_free_all(hdrs);
		return -ENOMEM;
	}
	snprintf(url, sizeof(url), "%s%s", q->url, GBA_ZN_PATH);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c, CURLOPT_CAINFO, q->ca);
	curl_easy_setopt(c, CURLOPT_CAPATH, NULL);
	curl_easy_setopt(c, CURLOPT_SSLCERT, q->cert);
	curl_easy_setopt(c, CURLOPT_SSLKEY, q->key);
	curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, q->timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, q->timeout_ms);
	curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, json);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, q);
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, ret_status);
	else
		snprintf(q->err, sizeof(q->err), "Zn request to %s failed: %s", url,
			 curl_easy_strerror(rc));
	curl_easy_cleanup(c);
	curl_slist_free_all(hdrs);
	switch (rc) {
	case CURLE_OK:
		return 0;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
		return -EPERM;
	default:
		return -EIO;
	}
}

static void req_run(void *arg)
{
	struct zn_request *q = arg;
	struct gba_zn_request in = { 0 };
	struct gba_zn_response resp;
	char *json = NULL;
	long status = 0;

	snprintf(in.btid, sizeof(in.btid), "%s", q->btid);
	snprintf(in.naf_fqdn, sizeof(in.naf_fqdn), "%s", q->naf);
	memcpy(in.ua_id, gba_ua_tls13_psk, GBA_UA_ID_LEN);
	if (gba_zn_request_format(&in, &json) < 0) {
		q->r = -EINVAL;
		snprintf(q->err, sizeof(q->err), "cannot form the Zn request for B-TID %s", q->btid);
		return;
	}
	q->r = post(q, json, &status);
	free(json);
	if (q->r < 0)
		return;
	if (status != 200) {
		q->r = status_errno(status, q);
		return;
	}
	if (!q->body || gba_zn_response_parse(q->body, q->len, &resp) < 0) {
		q->r = -EBADMSG;
		snprintf(q->err, sizeof(q->err), "the BSF's Zn answer for B-TID %s is malformed",
			 q->btid);
		return;
	}
	memcpy(q->out.ks_naf, resp.me_key, sizeof(q->out.ks_naf));
	q->out.expiry = resp.expiry;
	snprintf(q->out.impi, sizeof(q->out.impi), "%s", resp.impi);
	secret_wipe(&resp, sizeof(resp));
	q->r = 0;
}

static void req_done(void *arg, void *userdata)
{
	struct zn_request *q = arg;

	q->done(q->r, q->r == 0 ? &q->out : NULL, q->err, q->userdata);
}

static int http_fetch(struct zn_client *base, const char *btid, zn_done_fn done, void *userdata,
		      struct zn_request **ret, char *err, size_t err_len)
{
	struct zn_http *z = (struct zn_http *)base;
	struct zn_request *q = calloc(1, sizeof(*q));
	int r = -ENOMEM;

	if (!q)
		return -ENOMEM;
	q->url = strdup(z->url), q->ca = strdup(z->ca), q->cert = strdup(z->cert);
	q->key = strdup(z->key), q->naf = strdup(z->naf);
	q->timeout_ms = z->timeout_ms;
	q->done = done, q->userdata = userdata;
	if (!gba_btid_valid(btid) || strlen(btid) > GBA_BTID_MAX) {
		snprintf(err, err_len, "invalid B-TID '%s'", btid ? btid : "");
		r = -EINVAL;
		goto fail;
	}
	snprintf(q->btid, sizeof(q->btid), "%s", btid);
	if (!q->url || !q->ca || !q->cert || !q->key || !q->naf)
		goto fail;
	r = bg_job_start(z->loop, req_run, q, req_free, req_done, NULL, &q->job);
	if (r < 0) {
		snprintf(err, err_len, "cannot start the Zn request: %s", strerror(-r));
		goto fail;
	}
	*ret = q;
	return 0;
fail:
	req_free(q);
	return r;
}

static void http_cancel(struct zn_request *q)
{
	bg_job_cancel(q->job);
}

static void http_free(struct zn_client *base)
{
	struct zn_http *z = (struct zn_http *)base;

	free(z->url), free(z->ca), free(z->cert), free(z->key), free(z->naf);
	free(z);
}

static const struct zn_client_ops http_ops = {
	.fetch = http_fetch,
	.cancel = http_cancel,
	.free = http_free,
};

int zn_http_new(struct loop *l, const struct zn_http_conf *conf, struct zn_client **ret)
{
	struct zn_http *z;
	size_t n;

	if (!conf->bsf_url || strncmp(conf->bsf_url, "https://", 8) != 0 || !conf->bsf_ca ||
	    !conf->cert || !conf->key || !dns_name_valid(conf->naf_fqdn))
		return -EINVAL;
	z = calloc(1, sizeof(*z));
	if (!z)
		return -ENOMEM;
	z->base.ops = &http_ops;
	z->loop = l;
	z->url = strdup(conf->bsf_url);
	z->ca = strdup(conf->bsf_ca);
	z->cert = strdup(conf->cert);
	z->key = strdup(conf->key);
	z->naf = strdup(conf->naf_fqdn);
	z->timeout_ms = conf->timeout_ms > 0 ? conf->timeout_ms : 5000;
	if (!z->url || !z->ca || !z->cert || !z->key || !z->naf) {
		http_free(&z->base);
		return -ENOMEM;
	}
	n = strlen(z->url);
	while (n && z->url[n - 1] == '/') /* the API root without a trailing slash */
		z->url[--n] = '\0';
	*ret = &z->base;
	return 0;
}
