/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Ub (TS 24.109 §5.2, RFC 3310): HTTP Digest AKA between the node and the BSF.
 *   GET with Authorization username=IMPI, nonce=""  -> 401, a fresh challenge
 *   GET with the answer (response over RES, qop=auth-int) -> 200 BootstrappingInfo,
 *     Authentication-Info with rspauth (the BSF's proof that it knows RES too)
 *   GET with auts= (synchronisation failure)        -> SQN resync, 401, a new challenge
 * Each nonce is answered once (pending.h); wrong answers count against the IMPI
 * and the peer address (common/ratelimit.h). Ks = CK || IK is stored sealed under
 * the B-TID. RES, CK, IK and Ks never reach a log line.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bsf/bsf.h"
#include "common/log.h"
#include "common/secret.h"
#include "gba/bootstrap-info.h"
#include "gba/datetime.h"
#include "gba/digest.h"

#define RL_KEY_MAX 300

static void fail_count(struct bsf *b, const char *impi, const char *addr)
{
	char key[RL_KEY_MAX];
	uint64_t now = bsf_now_ms();

	snprintf(key, sizeof(key), "addr:%s", addr);
	(void)ratelimit_fail(b->rl, key, now);
	if (impi) {
		snprintf(key, sizeof(key), "impi:%s", impi);
		(void)ratelimit_fail(b->rl, key, now);
	}
}

/* 429 when the address or IMPI (may be NULL) is limited; MHD_NO+1 (2) when not. */
static int limited(struct bsf *b, struct MHD_Connection *c, const char *impi, const char *addr,
		   enum MHD_Result *ret)
{
	char key[RL_KEY_MAX], after[32];
	uint64_t left = 0;

	if (impi)
		snprintf(key, sizeof(key), "impi:%s", impi);
	else
		snprintf(key, sizeof(key), "addr:%s", addr);
	if (!ratelimit_limited(b->rl, key, bsf_now_ms(), &left))
		return 0;
	log_warning("Ub: %s %s is rate limited after failed answers (%llu s left)",
		    impi ? "IMPI" : "address", impi ? impi : addr,
		    (unsigned long long)(left / 1000 + 1));
	snprintf(after, sizeof(after), "%llu", (unsigned long long)(left / 1000 + 1));
	*ret = bsf_reply(c, MHD_HTTP_TOO_MANY_REQUESTS, "text/plain; charset=utf-8",
			 strdup("too many failed answers; try again later\n"),
			 MHD_HTTP_HEADER_RETRY_AFTER, after);
	return 1;
}

/*
 * Count a challenge for impi and addr; true (and a 429 queued in *ret) when either
 * had max_challenges in the last minute. Keeps a flood of first requests from
 * pushing a subscriber's SQN ahead and from crowding the challenge table.
 */
static bool challenge_flood(struct bsf *b, struct MHD_Connection *c, const char *impi,
			    const char *addr, enum MHD_Result *ret)
{
	const char *kinds[2][2] = { { "addr", addr }, { "impi", impi } };
	uint64_t now = bsf_now_ms(), left = 0;

	for (size_t i = 0; i < 2; i++) {
		char key[RL_KEY_MAX], after[32];

		snprintf(key, sizeof(key), "%s:%s", kinds[i][0], kinds[i][1]);
		if (!ratelimit_limited(b->rl_challenge, key, now, &left))
			continue;
		log_warning("Ub: too many challenges for %s %s (max_challenges a minute); %llu s left",
			    i ? "IMPI" : "address", kinds[i][1], (unsigned long long)(left / 1000 + 1));
		snprintf(after, sizeof(after), "%llu", (unsigned long long)(left / 1000 + 1));
		*ret = bsf_reply(c, MHD_HTTP_TOO_MANY_REQUESTS, "text/plain; charset=utf-8",
				 strdup("too many challenges; try again later\n"),
				 MHD_HTTP_HEADER_RETRY_AFTER, after);
		return true;
	}
	for (size_t i = 0; i < 2; i++) {
		char key[RL_KEY_MAX];

		snprintf(key, sizeof(key), "%s:%s", kinds[i][0], kinds[i][1]);
		(void)ratelimit_fail(b->rl_challenge, key, now);
	}
	return false;
}

/* 401 with a fresh challenge for impi (a new vector from the AuC). */
static enum MHD_Result challenge(struct bsf *b, struct MHD_Connection *c, const char *impi,
				 const char *addr, bool stale)
{
	struct bsf_pending p = { 0 };
	struct gba_challenge ch = { 0 };
	char hdr[GBA_HEADER_MAX];
	enum MHD_Result ret;
	int r;

	if (challenge_flood(b, c, impi, addr, &ret))
		return ret;
	r = bsf_auc_vector(b->store, impi, &p.v);
	if (r == -ENOENT) {
		log_notice("Ub: unknown IMPI %s from %s", impi, addr);
		fail_count(b, NULL, addr);
		return bsf_reply_text(c, MHD_HTTP_FORBIDDEN, "unknown subscriber\n");
	}
	if (r < 0) {
		log_error("Ub: cannot make an authentication vector for %s: %s", impi, strerror(-r));
		return bsf_reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal error\n");
	}
	snprintf(p.impi, sizeof(p.impi), "%s", impi);
	(void)gba_nonce_encode(p.v.rand, p.v.autn, p.nonce);
	p.deadline_ms = bsf_now_ms() + b->conf.challenge_timeout * 1000;
	snprintf(ch.realm, sizeof(ch.realm), "%s", b->conf.domain);
	snprintf(ch.nonce, sizeof(ch.nonce), "%s", p.nonce);
	snprintf(ch.algorithm, sizeof(ch.algorithm), "%s", GBA_ALGORITHM);
	snprintf(ch.qop, sizeof(ch.qop), "auth-int");
	ch.stale = stale;
	r = gba_challenge_format(&ch, hdr, sizeof(hdr));
	bsf_pending_add(b->pending, &p, bsf_now_ms());
	bsf_vector_wipe(&p.v);
	if (r < 0)
		return bsf_reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal error\n");
	log_info("Ub: challenge for %s (from %s)", impi, addr);
	return bsf_reply(c, MHD_HTTP_UNAUTHORIZED, "text/plain; charset=utf-8",
			 strdup("authentication required\n"), MHD_HTTP_HEADER_WWW_AUTHENTICATE, hdr);
}

/* The expected response for the answer a, with password (RES, or empty for auts). */
static int expected(const struct gba_authorization *a, const char *method, const uint8_t *pw,
		    size_t pw_len, const uint8_t *body, size_t body_len,
		    char out[static GBA_DIGEST_HEX_LEN + 1])
{
	struct gba_digest_input in = {
		.username = a->username,
		.realm = a->realm,
		.password = pw,
		.password_len = pw_len,
		.method = method,
		.uri = a->uri,
		.nonce = a->nonce,
		.nc = a->nc,
		.cnonce = a->cnonce,
		.qop = a->qop,
		.body = body,
		.body_len = body_len,
	};

	return gba_digest_response(&in, out);
}

/* Authentication-Info for the 200 OK with body doc: rspauth over XRES (RFC 2617 §3.2.3). */
static int auth_info(const struct gba_authorization *a, const struct bsf_pending *p,
		     const char *doc, char out[static GBA_HEADER_MAX])
{
	struct gba_auth_info ai = { 0 };
	struct gba_digest_input in = {
		.username = a->username,
		.realm = a->realm,
		.password = p->v.xres,
		.password_len = sizeof(p->v.xres),
		.method = "",
		.uri = a->uri,
		.nonce = a->nonce,
		.nc = a->nc,
		.cnonce = a->cnonce,
		.qop = a->qop,
		.body = (const uint8_t *)doc,
		.body_len = strlen(doc),
	};
	int r;

	snprintf(ai.qop, sizeof(ai.qop), "%s", a->qop);
	snprintf(ai.cnonce, sizeof(ai.cnonce), "%s", a->cnonce);
	snprintf(ai.nc, sizeof(ai.nc), "%s", a->nc);
	r = gba_digest_response(&in, ai.rspauth);
	if (r < 0)
		return r;
	return gba_auth_info_format(&ai, out, GBA_HEADER_MAX);
}

/* A right answer: store the session, 200 with BootstrappingInfo. */
static enum MHD_Result bootstrapped(struct bsf *b, struct MHD_Connection *c,
				    const struct gba_authorization *a, const struct bsf_pending *p,
				    const char *addr)
{
	char ainfo[GBA_HEADER_MAX];
	struct gba_bootstrap_info info = { 0 };
	struct bsf_session sess = { 0 };
	_cleanup_key32_ struct key32 ks;
	char when[GBA_TIME_TEXT_LEN + 1];
	char *doc;
	int r;

	r = gba_btid_make(p->v.rand, b->conf.domain, sess.btid, sizeof(sess.btid));
	if (r < 0)
		return bsf_reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal error\n");
	snprintf(sess.impi, sizeof(sess.impi), "%s", p->impi);
	memcpy(sess.rand, p->v.rand, sizeof(sess.rand));
	sess.created = bsf_now();
	sess.expiry = sess.created + (int64_t)b->conf.lifetime;
	memcpy(ks.b, p->v.ck, 16);
	memcpy(ks.b + 16, p->v.ik, 16);
	r = bsf_store_session_put(b->store, &sess, ks.b);
	if (r < 0) {
		log_error("Ub: cannot store the session of %s in %s: %s", p->impi,
			  b->conf.store_path, strerror(-r));
		return bsf_reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal error\n");
	}
	memcpy(info.btid, sess.btid, sizeof(info.btid));
	info.lifetime = sess.expiry;
	doc = malloc(GBA_BSF_XML_MAX);
	if (!doc || gba_bootstrap_info_format(&info, doc, GBA_BSF_XML_MAX) < 0 ||
	    auth_info(a, p, doc, ainfo) < 0) {
		free(doc);
		return bsf_reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal error\n");
	}
	(void)gba_time_format(sess.expiry, when);
	log_info("Ub: %s bootstrapped from %s: B-TID %s, valid until %s", p->impi, addr, sess.btid,
		 when);
	return bsf_reply(c, MHD_HTTP_OK, GBA_BSF_XML_TYPE, doc, MHD_HTTP_HEADER_AUTHENTICATION_INFO,
			 ainfo);
}

/* The synchronisation failure answer: check the digest (empty password) and MAC-S. */
static enum MHD_Result resync(struct bsf *b, struct MHD_Connection *c,
			      const struct gba_authorization *a, const struct bsf_pending *p,
			      const char *addr, const char *method, const uint8_t *body,
			      size_t body_len)
{
	char want[GBA_DIGEST_HEX_LEN + 1];
	uint8_t auts[GBA_AUTS_LEN];
	int r;

	r = expected(a, method, (const uint8_t *)"", 0, body, body_len, want);
	if (r < 0 || !gba_digest_equal(a->response, want) || gba_auts_decode(a->auts, auts) < 0) {
		log_notice("Ub: bad synchronisation failure answer from %s (%s): wrong digest or "
			   "malformed auts",
			   p->impi, addr);
		fail_count(b, p->impi, addr);
		return challenge(b, c, p->impi, addr, false);
	}
	r = bsf_auc_resync(b->store, p->impi, p->v.rand, auts);
	if (r == -EBADMSG) {
		log_notice("Ub: AUTS from %s (%s) does not verify (MAC-S): SQN unchanged", p->impi,
			   addr);
		fail_count(b, p->impi, addr);
	} else if (r < 0) {
		log_error("Ub: cannot resynchronise SQN of %s: %s", p->impi, strerror(-r));
		return bsf_reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal error\n");
	} else {
		log_info("Ub: SQN of %s resynchronised from AUTS (from %s)", p->impi, addr);
	}
	return challenge(b, c, p->impi, addr, false);
}

/* An answer to one of our nonces. */
static enum MHD_Result answer(struct bsf *b, struct MHD_Connection *c,
			      const struct gba_authorization *a, const char *url, const char *addr,
			      const char *method, const uint8_t *body, size_t body_len)
{
	struct bsf_pending p;
	char want[GBA_DIGEST_HEX_LEN + 1];
	enum MHD_Result ret;
	int r;

	r = bsf_pending_take(b->pending, a->nonce, bsf_now_ms(), &p);
	if (r < 0) {
		log_notice("Ub: answer from %s (%s) to a nonce that is %s: new challenge", a->username,
			   addr, r == -ETIMEDOUT ? "stale" : "unknown or already used");
		fail_count(b, NULL, addr);
		return challenge(b, c, a->username, addr, r == -ETIMEDOUT);
	}
	if (strcmp(p.impi, a->username) != 0 || strcmp(a->realm, b->conf.domain) != 0 ||
	    strcmp(a->uri, url) != 0 || strcmp(a->qop, "auth-int") != 0 ||
	    (a->algorithm[0] && strcmp(a->algorithm, GBA_ALGORITHM) != 0)) {
		log_notice("Ub: answer from %s (%s) does not match its challenge (username, realm "
			   "%s, uri, qop auth-int, algorithm " GBA_ALGORITHM " expected)",
			   a->username, addr, b->conf.domain);
		fail_count(b, a->username, addr);
		ret = challenge(b, c, a->username, addr, false);
		goto out;
	}
	if (a->auts[0]) {
		ret = resync(b, c, a, &p, addr, method, body, body_len);
		goto out;
	}
	r = expected(a, method, p.v.xres, sizeof(p.v.xres), body, body_len, want);
	if (r < 0 || !gba_digest_equal(a->response, want)) {
		log_notice("Ub: wrong answer from %s (%s): the digest over RES does not match; new "
			   "challenge",
			   p.impi, addr);
		fail_count(b, p.impi, addr);
		ret = challenge(b, c, p.impi, addr, false);
		goto out;
	}
	ret = bootstrapped(b, c, a, &p, addr);
out:
	secret_wipe(want, sizeof(want));
	secret_wipe(&p, sizeof(p));
	return ret;
}

enum MHD_Result bsf_ub_handle(struct bsf *b, struct MHD_Connection *c, const char *url,
			      const char *method, const uint8_t *body, size_t body_len)
{
	char addr[BSF_ADDR_MAX];
	struct gba_authorization a;
	const char *hdr;
	enum MHD_Result ret;
	int r;

	bsf_peer_address(c, addr);
	if (limited(b, c, NULL, addr, &ret))
		return ret;
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0)
		return bsf_reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain; charset=utf-8",
				 strdup("Ub takes GET\n"), MHD_HTTP_HEADER_ALLOW, "GET");
	hdr = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	if (!hdr)
		return bsf_reply_text(c, MHD_HTTP_BAD_REQUEST,
				      "Authorization: Digest username=\"<IMPI>\" required\n");
	r = gba_authorization_parse(hdr, strlen(hdr), &a);
	if (r < 0 || strlen(a.username) > GBA_IMPI_MAX) {
		log_notice("Ub: malformed Authorization header from %s: %s", addr,
			   r == -E2BIG ? "too long" : "not Digest credentials");
		fail_count(b, NULL, addr);
		return bsf_reply_text(c, MHD_HTTP_BAD_REQUEST, "malformed Authorization header\n");
	}
	if (limited(b, c, a.username, addr, &ret))
		return ret;
	if (!a.nonce[0])
		return challenge(b, c, a.username, addr, false);
	return answer(b, c, &a, url, addr, method, body, body_len);
}
