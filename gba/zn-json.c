/* SPDX-License-Identifier: Apache-2.0 */
/* Nbsp_GBA bootstrapping-info-retrieval JSON and ProblemDetails (see zn-json.h). */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/dns-name.h"
#include "common/hex.h"
#include "common/secret.h"
#include "common/util.h"
#include "gba/datetime.h"
#include "gba/zn-json.h"

/* Allocations carry their size in front so that the free can wipe them. */
#define HDR 16

static void *wiping_malloc(size_t n)
{
	uint8_t *p;

	if (n > SIZE_MAX - HDR)
		return NULL;
	p = malloc(n + HDR);
	if (!p)
		return NULL;
	memcpy(p, &n, sizeof(n));
	return p + HDR;
}

static void wiping_free(void *ptr)
{
	uint8_t *p = ptr;
	size_t n;

	if (!p)
		return;
	p -= HDR;
	memcpy(&n, p, sizeof(n));
	secret_wipe(p, n + HDR);
	free(p);
}

static pthread_once_t alloc_once = PTHREAD_ONCE_INIT;

static void install_alloc(void)
{
	json_set_alloc_funcs(wiping_malloc, wiping_free);
}

static void setup(void)
{
	(void)pthread_once(&alloc_once, install_alloc);
}

static void zn_json_freep(json_t **j)
{
	json_decref(*j);
}
#define _cleanup_json_ _cleanup_(zn_json_freep)

static int load_object(const char *body, size_t len, json_t **ret)
{
	json_error_t err;
	json_t *j;

	setup();
	if (len > GBA_ZN_BODY_MAX)
		return -E2BIG;
	j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &err);
	if (!j)
		return -EINVAL;
	if (!json_is_object(j)) {
		json_decref(j);
		return -EINVAL;
	}
	*ret = j;
	return 0;
}

/* Copy the string member key of o into out (1..out_size-1 bytes, printable ASCII, no NUL). */
static int get_string(json_t *o, const char *key, bool required, char *out, size_t out_size)
{
	json_t *v = json_object_get(o, key);
	const char *s;
	size_t n;

	if (!v) {
		if (required)
			return -EINVAL;
		out[0] = '\0';
		return 0;
	}
	if (!json_is_string(v))
		return -EINVAL;
	s = json_string_value(v);
	n = json_string_length(v);
	if (n == 0 || n >= out_size || strlen(s) != n)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return -EINVAL;
	memcpy(out, s, n + 1);
	return 0;
}

/* Exactly 2n hex digits into out. */
static int unhex(const char *s, uint8_t *out, size_t n)
{
	if (strlen(s) != 2 * n)
		return -EINVAL;
	return hex_decode(s, n, out);
}

static bool impi_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > GBA_IMPI_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

static int dump(json_t *j, char **ret)
{
	char *s = json_dumps(j, JSON_COMPACT);
	char *copy;

	if (!s)
		return -ENOMEM;
	copy = strdup(s);
	wiping_free(s);
	if (!copy)
		return -ENOMEM;
	*ret = copy;
	return 0;
}

int gba_zn_request_format(const struct gba_zn_request *req, char **ret)
{
	_cleanup_json_ json_t *j = NULL;
	char ua[2 * GBA_UA_ID_LEN + 1];

	setup();
	if (!gba_btid_valid(req->btid) || !dns_name_valid(req->naf_fqdn))
		return -EINVAL;
	hex_encode(req->ua_id, GBA_UA_ID_LEN, ua);
	j = json_pack("{s:s, s:{s:s, s:s}}", "btId", req->btid, "nafId", "nafFqdn", req->naf_fqdn,
		      "uaSecProtId", ua);
	if (!j)
		return -ENOMEM;
	return dump(j, ret);
}

int gba_zn_request_parse(const char *body, size_t len, struct gba_zn_request *ret)
{
	_cleanup_json_ json_t *j = NULL;
	struct gba_zn_request req = { 0 };
	char ua[2 * GBA_UA_ID_LEN + 2];
	json_t *naf;
	int r;

	r = load_object(body, len, &j);
	if (r < 0)
		return r;
	r = get_string(j, "btId", true, req.btid, sizeof(req.btid));
	if (r < 0 || !gba_btid_valid(req.btid))
		return -EINVAL;
	naf = json_object_get(j, "nafId");
	if (!json_is_object(naf))
		return -EINVAL;
	r = get_string(naf, "nafFqdn", true, req.naf_fqdn, sizeof(req.naf_fqdn));
	if (r < 0 || !dns_name_valid(req.naf_fqdn))
		return -EINVAL;
	r = get_string(naf, "uaSecProtId", true, ua, sizeof(ua));
	if (r < 0 || unhex(ua, req.ua_id, GBA_UA_ID_LEN) < 0)
		return -EINVAL;
	*ret = req;
	return 0;
}

int gba_zn_response_format(const struct gba_zn_response *resp, char **ret)
{
	_cleanup_json_ json_t *j = NULL;
	char when[GBA_TIME_TEXT_LEN + 1], key[2 * GBA_ZN_KEY_LEN + 1];
	_cleanup_free_ char *rest = NULL;
	char *out;
	size_t n;
	int r;

	setup();
	if (!impi_valid(resp->impi))
		return -EINVAL;
	r = gba_time_format(resp->expiry, when);
	if (r < 0)
		return r;
	j = json_pack("{s:s, s:s}", "keyExpiryTime", when, "impi", resp->impi);
	if (!j)
		return -ENOMEM;
	r = dump(j, &rest); /* "{...}", never empty */
	if (r < 0)
		return r;
	/* The key is spliced in here so that it never sits in a jansson string. */
	n = strlen("{\"meKeyMaterial\":\"\",") + 2 * GBA_ZN_KEY_LEN + strlen(rest);
	out = malloc(n + 1);
	if (!out)
		return -ENOMEM;
	hex_encode(resp->me_key, GBA_ZN_KEY_LEN, key);
	snprintf(out, n + 1, "{\"meKeyMaterial\":\"%s\",%s", key, rest + 1);
	secret_wipe(key, sizeof(key));
	*ret = out;
	return 0;
}

int gba_zn_response_parse(const char *body, size_t len, struct gba_zn_response *ret)
{
	_cleanup_json_ json_t *j = NULL;
	struct gba_zn_response resp = { 0 };
	char key[2 * GBA_ZN_KEY_LEN + 2], when[64];
	int r;

	r = load_object(body, len, &j);
	if (r < 0)
		return r;
	r = get_string(j, "meKeyMaterial", true, key, sizeof(key));
	if (r == 0)
		r = unhex(key, resp.me_key, GBA_ZN_KEY_LEN);
	if (r == 0)
		r = get_string(j, "keyExpiryTime", true, when, sizeof(when));
	if (r == 0)
		r = gba_time_parse(when, &resp.expiry);
	if (r == 0)
		r = get_string(j, "impi", true, resp.impi, sizeof(resp.impi));
	if (r == 0 && !impi_valid(resp.impi))
		r = -EINVAL;
	if (r == 0)
		*ret = resp;
	secret_wipe(key, sizeof(key));
	secret_wipe(&resp, sizeof(resp));
	return r < 0 ? -EINVAL : 0;
}

int gba_problem_format(const struct gba_problem *p, char **ret)
{
	_cleanup_json_ json_t *j = NULL;

	setup();
	if (p->status < 100 || p->status > 599)
		return -EINVAL;
	j = json_pack("{s:i}", "status", p->status);
	if (!j)
		return -ENOMEM;
	if ((p->title[0] && json_object_set_new(j, "title", json_string(p->title)) < 0) ||
	    (p->detail[0] && json_object_set_new(j, "detail", json_string(p->detail)) < 0) ||
	    (p->cause[0] && json_object_set_new(j, "cause", json_string(p->cause)) < 0))
		return -EINVAL; /* not UTF-8, or out of memory */
	return dump(j, ret);
}

int gba_problem_parse(const char *body, size_t len, struct gba_problem *ret)
{
	_cleanup_json_ json_t *j = NULL;
	struct gba_problem p = { 0 };
	json_t *st;
	int r;

	r = load_object(body, len, &j);
	if (r < 0)
		return r;
	st = json_object_get(j, "status");
	if (st) {
		if (!json_is_integer(st) || json_integer_value(st) < 100 ||
		    json_integer_value(st) > 599)
			return -EINVAL;
		p.status = (int)json_integer_value(st);
	}
	if (get_string(j, "title", false, p.title, sizeof(p.title)) < 0 ||
	    get_string(j, "detail", false, p.detail, sizeof(p.detail)) < 0 ||
	    get_string(j, "cause", false, p.cause, sizeof(p.cause)) < 0)
		return -EINVAL;
	*ret = p;
	return 0;
}
