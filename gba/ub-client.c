/* SPDX-License-Identifier: Apache-2.0 */
/* The node's Ub steps: the first request, the USIM's answer to a challenge, the 200 OK checked. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "common/dns-name.h"
#include "common/secret.h"
#include "gba/base64.h"
#include "gba/bootstrap-info.h"
#include "gba/ks-naf.h"
#include "gba/ub-client.h"
#include "usim/usim.h"

#define UB_NC "00000001"

struct gba_ub {
	char impi[USIM_IMPI_MAX + 1];
	char host[256];
	char uri[GBA_VALUE_MAX + 1];
	/* The challenge being answered. */
	struct gba_challenge ch;
	char cnonce[17];
	uint8_t rand[GBA_RAND_LEN];
	bool resynced; /* one AUTS answer sent already */
	bool answered; /* the last request carried RES */
	bool have_keys;
	struct usim_result keys; /* RES, CK, IK between the challenge and the 200 OK */
};

void gba_ub_result_wipe(struct gba_ub_result *r)
{
	if (r)
		secret_wipe(r, sizeof(*r));
}

void gba_ub_free(struct gba_ub *u)
{
	if (!u)
		return;
	secret_wipe(u, sizeof(*u));
	free(u);
}

/* "https://host[:port][/path]" -> host and path; no user info, query or fragment. */
static int parse_url(const char *url, char *host, size_t host_size, char *uri, size_t uri_size)
{
	const char *p, *end, *slash;
	size_t n;

	if (!url || strncmp(url, "https://", 8) != 0)
		return -EINVAL;
	p = url + 8;
	slash = strchr(p, '/');
	end = slash ? slash : p + strlen(p);
	if (memchr(p, '@', (size_t)(end - p)) || strpbrk(url, "?#\"\\ \t\r\n"))
		return -EINVAL;
	n = strcspn(p, ":/");
	if (n == 0 || n >= host_size)
		return -EINVAL;
	memcpy(host, p, n);
	host[n] = '\0';
	if (!dns_name_valid(host) && strspn(host, "0123456789.") != n)
		return -EINVAL;
	if (snprintf(uri, uri_size, "%s", slash ? slash : "/") >= (int)uri_size)
		return -EINVAL;
	return 0;
}

int gba_ub_new(const char *impi, const char *bsf_url, struct gba_ub **ret, char *err,
	       size_t err_len)
{
	struct gba_ub *u;
	uint8_t c[8];

	if (!impi || !usim_impi_valid(impi)) {
		snprintf(err, err_len, "invalid IMPI '%s' (e.g. user@ims.example.net)",
			 impi ? impi : "");
		return -EINVAL;
	}
	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	if (parse_url(bsf_url, u->host, sizeof(u->host), u->uri, sizeof(u->uri)) < 0) {
		snprintf(err, err_len,
			 "invalid BSF URL '%s' (expected https://host[:port][/path], no query)",
			 bsf_url ? bsf_url : "");
		free(u);
		return -EINVAL;
	}
	snprintf(u->impi, sizeof(u->impi), "%s", impi);
	if (crypto_random(c, sizeof(c)) < 0) {
		free(u);
		snprintf(err, err_len, "cannot read random bytes for the digest cnonce");
		return -EIO;
	}
	for (size_t i = 0; i < sizeof(c); i++)
		snprintf(u->cnonce + 2 * i, 3, "%02x", c[i]);
	*ret = u;
	return 0;
}

const char *gba_ub_uri(const struct gba_ub *u)
{
	return u->uri;
}

const char *gba_ub_host(const struct gba_ub *u)
{
	return u->host;
}

int gba_ub_first_authz(const struct gba_ub *u, char out[static GBA_HEADER_MAX])
{
	struct gba_authorization a = { 0 };

	snprintf(a.username, sizeof(a.username), "%s", u->impi);
	snprintf(a.realm, sizeof(a.realm), "%s", u->host);
	snprintf(a.uri, sizeof(a.uri), "%s", u->uri);
	return gba_authorization_format(&a, out, GBA_HEADER_MAX);
}

/* The digest over pw (RES, or empty for auts) with this run's parameters. */
static int digest(const struct gba_ub *u, const char *method, const uint8_t *pw, size_t pw_len,
		  const uint8_t *body, size_t body_len, char out[static GBA_DIGEST_HEX_LEN + 1])
{
	struct gba_digest_input in = {
		.username = u->impi,
		.realm = u->ch.realm,
		.password = pw,
		.password_len = pw_len,
		.method = method,
		.uri = u->uri,
		.nonce = u->ch.nonce,
		.nc = UB_NC,
		.cnonce = u->cnonce,
		.qop = "auth-int",
		.body = body,
		.body_len = body_len,
	};

	return gba_digest_response(&in, out);
}

static int answer(struct gba_ub *u, const uint8_t *pw, size_t pw_len, const char *auts,
		  char out[static GBA_HEADER_MAX])
{
	struct gba_authorization a = { 0 };
	int r;

	snprintf(a.username, sizeof(a.username), "%s", u->impi);
	snprintf(a.realm, sizeof(a.realm), "%s", u->ch.realm);
	snprintf(a.nonce, sizeof(a.nonce), "%s", u->ch.nonce);
	snprintf(a.uri, sizeof(a.uri), "%s", u->uri);
	snprintf(a.algorithm, sizeof(a.algorithm), "%s", GBA_ALGORITHM);
	snprintf(a.cnonce, sizeof(a.cnonce), "%s", u->cnonce);
	snprintf(a.opaque, sizeof(a.opaque), "%s", u->ch.opaque);
	snprintf(a.qop, sizeof(a.qop), "auth-int");
	snprintf(a.nc, sizeof(a.nc), UB_NC);
	if (auts)
		snprintf(a.auts, sizeof(a.auts), "%s", auts);
	r = digest(u, "GET", pw, pw_len, NULL, 0, a.response);
	if (r >= 0)
		r = gba_authorization_format(&a, out, GBA_HEADER_MAX);
	secret_wipe(&a, sizeof(a));
	return r;
}

/* qop must offer auth-int (a token in a comma-separated list). */
static bool offers_auth_int(const char *qop)
{
	const char *p = qop;

	while (*p) {
		size_t n;

		p += strspn(p, " \t,");
		n = strcspn(p, " \t,");
		if (n == 8 && strncmp(p, "auth-int", 8) == 0)
			return true;
		p += n;
	}
	return false;
}

static int parse_challenge(struct gba_ub *u, const char *www, uint8_t autn[static GBA_AUTN_LEN],
			   char *err, size_t err_len)
{
	if (!www || gba_challenge_parse(www, strlen(www), &u->ch) < 0) {
		snprintf(err, err_len, "the BSF's 401 has no valid WWW-Authenticate Digest challenge");
		return -EBADMSG;
	}
	if (strcmp(u->ch.algorithm, GBA_ALGORITHM) != 0 || !offers_auth_int(u->ch.qop)) {
		snprintf(err, err_len,
			 "the BSF's challenge asks for algorithm '%s', qop '%s' (need " GBA_ALGORITHM
			 " with auth-int)",
			 u->ch.algorithm, u->ch.qop);
		return -EBADMSG;
	}
	if (gba_nonce_decode(u->ch.nonce, u->rand, autn) < 0) {
		snprintf(err, err_len, "the BSF's challenge nonce is not base64(RAND || AUTN)");
		return -EBADMSG;
	}
	return 0;
}

int gba_ub_on_challenge(struct gba_ub *u, struct usim *usim, const char *www,
			char out[static GBA_HEADER_MAX], char *err, size_t err_len)
{
	uint8_t autn[GBA_AUTN_LEN];
	char auts[GBA_AUTS_TEXT_LEN + 1];
	int r;

	secret_wipe(&u->keys, sizeof(u->keys));
	u->have_keys = false;
	r = parse_challenge(u, www, autn, err, err_len);
	if (r < 0)
		return r;
	r = usim_authenticate(usim, u->rand, autn, &u->keys);
	if (r < 0) {
		snprintf(err, err_len, "the USIM (%s) gave no answer: %s", usim_backend_name(usim),
			 usim_last_error(usim)[0] ? usim_last_error(usim) : strerror(-r));
		return r;
	}
	switch (u->keys.result) {
	case AKA_RESULT_OK:
		u->have_keys = true;
		u->answered = true;
		return answer(u, u->keys.res, u->keys.res_len, NULL, out) < 0 ? -EIO : GBA_UB_ANSWER;
	case AKA_RESULT_SYNC_FAILURE:
		if (u->resynced) {
			snprintf(err, err_len,
				 "the BSF's challenge is still out of the USIM's SQN window after one "
				 "resynchronisation (AUTS): the BSF did not resynchronise %s",
				 u->impi);
			return -EPROTO;
		}
		u->resynced = true;
		r = gba_auts_encode(u->keys.auts, auts);
		secret_wipe(&u->keys, sizeof(u->keys));
		if (r < 0)
			return -EIO;
		return answer(u, (const uint8_t *)"", 0, auts, out) < 0 ? -EIO : GBA_UB_RESYNC;
	default:
		secret_wipe(&u->keys, sizeof(u->keys));
		snprintf(err, err_len,
			 "the BSF's challenge does not verify at the USIM (MAC failure): the USIM's K "
			 "or OPc differs from the BSF's subscriber record for %s, or %s is not its "
			 "home BSF",
			 u->impi, u->host);
		return -EKEYREJECTED;
	}
}

static int check_rspauth(const struct gba_ub *u, const char *ainfo, const char *body,
			 size_t body_len, char *err, size_t err_len)
{
	struct gba_auth_info ai;
	char want[GBA_DIGEST_HEX_LEN + 1];
	bool ok;

	if (!ainfo || gba_auth_info_parse(ainfo, strlen(ainfo), &ai) < 0 || !ai.rspauth[0]) {
		snprintf(err, err_len,
			 "the BSF's 200 OK has no valid Authentication-Info with rspauth (RFC 2617 "
			 "§3.2.3): refusing the bootstrap");
		return -EBADMSG;
	}
	if (digest(u, "", u->keys.res, u->keys.res_len, (const uint8_t *)body, body_len, want) < 0)
		return -EIO;
	ok = gba_digest_equal(ai.rspauth, want) && strcmp(ai.qop, "auth-int") == 0 &&
	     (!ai.cnonce[0] || strcmp(ai.cnonce, u->cnonce) == 0) &&
	     (!ai.nc[0] || strcmp(ai.nc, UB_NC) == 0);
	secret_wipe(want, sizeof(want));
	if (!ok) {
		snprintf(err, err_len,
			 "the BSF's rspauth does not verify: the 200 OK was not made by a BSF that "
			 "knows this run's RES (or its body was changed)");
		return -EBADMSG;
	}
	return 0;
}

/* The B-TID must name this run: base64(RAND) before the '@' (TS 33.220 §4.5.2). */
static bool btid_names_rand(const struct gba_ub *u, const char *btid)
{
	char b64[32];
	size_t n;

	if (gba_base64_encode(u->rand, sizeof(u->rand), b64, sizeof(b64)) < 0)
		return false;
	n = strlen(b64);
	return strncmp(btid, b64, n) == 0 && btid[n] == '@';
}

int gba_ub_on_success(struct gba_ub *u, const char *ctype, const char *ainfo, const char *body,
		      size_t body_len, const char *naf_fqdn, int64_t now, struct gba_ub_result *ret,
		      char *err, size_t err_len)
{
	struct gba_bootstrap_info info;
	struct gba_ub_result res = { 0 };
	int r;

	if (!u->have_keys) {
		snprintf(err, err_len, "the BSF answered 200 OK before the USIM answered a challenge");
		return -EPROTO;
	}
	if (!ctype || strncmp(ctype, GBA_BSF_XML_TYPE, strlen(GBA_BSF_XML_TYPE)) != 0) {
		snprintf(err, err_len, "the BSF's 200 OK is '%s', not " GBA_BSF_XML_TYPE,
			 ctype ? ctype : "(no Content-Type)");
		return -EBADMSG;
	}
	r = check_rspauth(u, ainfo, body, body_len, err, err_len);
	if (r < 0)
		return r;
	if (gba_bootstrap_info_parse(body, body_len, &info) < 0 || !btid_names_rand(u, info.btid)) {
		snprintf(err, err_len,
			 "the BSF's BootstrappingInfo is malformed or its B-TID does not name this "
			 "run's RAND");
		return -EBADMSG;
	}
	if (info.lifetime <= now) {
		snprintf(err, err_len, "the BSF's bootstrap for B-TID %s has already expired",
			 info.btid);
		return -EBADMSG;
	}
	r = gba_ks_naf_ck_ik(u->keys.ck, u->keys.ik, u->rand, u->impi, naf_fqdn, gba_ua_tls13_psk,
			     res.ks_naf);
	secret_wipe(&u->keys, sizeof(u->keys));
	u->have_keys = false;
	if (r < 0) {
		snprintf(err, err_len, "cannot derive Ks_NAF for NAF '%s' (is it a DNS name?)",
			 naf_fqdn ? naf_fqdn : "");
		gba_ub_result_wipe(&res);
		return r;
	}
	snprintf(res.btid, sizeof(res.btid), "%s", info.btid);
	res.lifetime = info.lifetime;
	*ret = res;
	gba_ub_result_wipe(&res);
	return 0;
}

static int refused(const struct gba_ub *u, const struct gba_ub_reply *reply, char *err,
		   size_t err_len)
{
	if (reply->status == 403) {
		snprintf(err, err_len,
			 "the BSF %s refuses the subscriber %s (403: not provisioned there, or rate "
			 "limited)",
			 u->host, u->impi);
		return -EACCES;
	}
	snprintf(err, err_len, "the BSF %s answered HTTP %ld to %s (expected 401 or 200)", u->host,
		 reply->status, u->answered ? "the answer" : "the request");
	return -EPROTO;
}

int gba_ub_step(struct gba_ub *u, struct usim *usim, const struct gba_ub_reply *reply,
		const char *naf_fqdn, int64_t now, char next[static GBA_HEADER_MAX],
		struct gba_ub_result *ret, char *err, size_t err_len)
{
	int r;

	if (reply->overflow) {
		snprintf(err, err_len, "the BSF's reply is longer than any valid Ub reply");
		return -EMSGSIZE;
	}
	if (reply->status == 401) {
		if (u->answered) {
			snprintf(err, err_len,
				 "the BSF %s refused the USIM's answer (RES) for %s with a new "
				 "challenge: the BSF's record of %s does not match the USIM",
				 u->host, u->impi, u->impi);
			return -EACCES;
		}
		r = gba_ub_on_challenge(u, usim, reply->www, next, err, err_len);
		return r < 0 ? r : 1;
	}
	if (reply->status == 200 && u->answered)
		return gba_ub_on_success(u, reply->ctype, reply->ainfo[0] ? reply->ainfo : NULL,
					 reply->body, reply->len, naf_fqdn, now, ret, err, err_len);
	return refused(u, reply, err, err_len);
}
