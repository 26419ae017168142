/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The MAS side of the establishment exchange: HELLO/CHALLENGE, PROOF/ESTABLISHED;
 * the proof check is shared with the end-to-end requests (mas/peer-key.c).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/kdf.h"
#include "common/log.h"
#include "common/sa.h"
#include "common/secret.h"
#include "common/tls.h"
#include "mas/exchange.h"
#include "mas/gba-cache.h"
#include "mas/zn-client.h"

uint64_t mas_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void mas_reply_error(struct wire_msg *reply, enum wire_error_code code, const char *fmt, ...)
{
	va_list ap;

	memset(reply, 0, sizeof(*reply));
	reply->type = WIRE_MSG_ERROR;
	reply->error.code = code;
	va_start(ap, fmt);
	vsnprintf(reply->error.reason, sizeof(reply->error.reason), fmt, ap);
	va_end(ap);
}

/* "psk, pki" into buf. */
static const char *method_list(const uint8_t *methods, size_t n, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && off < len; i++) {
		int w = snprintf(buf + off, len - off, "%s%s", i ? ", " : "",
				 wire_method_to_string(methods[i]));
		if (w < 0)
			break;
		off += (size_t)w;
	}
	if (n == 0)
		snprintf(buf, len, "none");
	return buf;
}

static bool method_supported(const struct mas_ctx *ctx, uint8_t m)
{
	return m == WIRE_METHOD_PSK || (m == WIRE_METHOD_PKI && ctx->pki) ||
	       (m == WIRE_METHOD_GBA && ctx->zn && ctx->gba);
}

/* gba also needs the HELLO's B-TID (version 2) and an IMPI registered for the node. */
static bool method_usable(const struct mas_ctx *ctx, uint8_t m, const struct wire_hello *h,
			  const struct store_node *node)
{
	if (!method_supported(ctx, m))
		return false;
	return m != WIRE_METHOD_GBA || (h->btid[0] && node->impi[0]);
}

/* The failure counters of a proof from peer for node_id (docs/m2masd.md "Rate limiting"). */
static void limit_keys(const char *node_id, const struct mas_peer *peer,
		       char pair[RATELIMIT_KEY_MAX + 1], char addr[RATELIMIT_KEY_MAX + 1])
{
	/* Address first: a node ID too long for the key is cut, never the address. */
	snprintf(pair, RATELIMIT_KEY_MAX + 1, "pair:%s|%s", peer->addr, node_id);
	snprintf(addr, RATELIMIT_KEY_MAX + 1, "addr:%s", peer->addr);
}

/*
 * Count one failed proof per (node, source address) and per source address.
 * Nobody is refused for it: a valid proof is accepted whatever the counters
 * say, so a third party cannot lock a node out. The counters decide how the
 * failure is answered and logged: while a source is over max_failures it gets
 * rate-limited (with the seconds left) instead of auth-failed, and its further
 * failures are logged at debug level only. Fills reply; what is the log line.
 * logged: the refusal was logged already (a decoy, at HELLO): what goes to the
 * debug level unless this failure is the one that reaches the limit.
 */
static void fail_proof(struct mas_ctx *ctx, const char *node_id, const struct mas_peer *peer,
		       const char *what, const char *reason, bool logged, struct wire_msg *reply)
{
	char pair[RATELIMIT_KEY_MAX + 1], addr[RATELIMIT_KEY_MAX + 1];
	uint64_t now = mas_now_ms(), w1 = 0, w2 = 0, wait;
	bool was, is;

	limit_keys(node_id, peer, pair, addr);
	was = ratelimit_limited(ctx->rl, pair, now, NULL) ||
	      ratelimit_limited(ctx->rl, addr, now, NULL);
	(void)ratelimit_fail(ctx->rl, pair, now);
	(void)ratelimit_fail(ctx->rl, addr, now);
	is = ratelimit_limited(ctx->rl, pair, now, &w1) |
	     ratelimit_limited(ctx->rl, addr, now, &w2);
	wait = w1 > w2 ? w1 : w2;
	if (was)
		log_debug("%s (source rate-limited)", what);
	else if (logged && !is)
		log_debug("%s", what);
	else
		log_warning("%s%s", what,
			    is ? "; too many failed proofs from this address: its further "
				 "failures are logged at debug level until the window ends" :
				 "");
	if (is)
		mas_reply_error(reply, WIRE_ERR_RATE_LIMITED,
				"%s; too many failed proofs from %s: a valid proof is still "
				"accepted, else try again in %" PRIu64 " s",
				reason, peer->addr, (wait + 999) / 1000);
	else
		mas_reply_error(reply, WIRE_ERR_AUTH_FAILED, "%s", reason);
}

/* A verified proof: this node's counter at this address starts again. */
static void proof_ok(struct mas_ctx *ctx, const char *node_id, const struct mas_peer *peer)
{
	char pair[RATELIMIT_KEY_MAX + 1], addr[RATELIMIT_KEY_MAX + 1];

	limit_keys(node_id, peer, pair, addr);
	ratelimit_clear(ctx->rl, pair);
}

/*
 * Method pki: the TLS handshake verified the node's certificate against
 * [mas] node_ca (expired or foreign certificates never get here); its CSE-ID
 * (first URI subject alternative name, else the subject CN) must be the node
 * the HELLO names. Returns true when it is, else fills reply.
 */
static bool pki_identity_ok(struct mas_ctx *ctx, WOLFSSL *ssl, const struct mas_peer *peer,
			    const char *node_id, struct wire_msg *reply)
{
	char cert_id[WIRE_ID_MAX + 1];
	int r;

	if (!tls_peer_has_cert(ssl)) {
		log_warning("node %s from %s chose method pki without a client certificate",
			    node_id, peer->name);
		mas_reply_error(reply, WIRE_ERR_AUTH_FAILED,
				"method pki needs a node certificate from the node CA; this TLS "
				"session presented none");
		return false;
	}
	r = tls_peer_id(ssl, cert_id, sizeof(cert_id));
	if (r < 0 || strcmp(cert_id, node_id) != 0) {
		char what[2 * WIRE_ID_MAX + 128], reason[WIRE_REASON_MAX + 1];

		snprintf(what, sizeof(what), "node %s from %s presented a certificate for %s: refused",
			 node_id, peer->name, r < 0 ? "no readable CSE-ID" : cert_id);
		snprintf(reason, sizeof(reason), "the node certificate is for %s, not for node %s",
			 r < 0 ? "no readable CSE-ID" : cert_id, node_id);
		fail_proof(ctx, node_id, peer, what, reason, false, reply);
		return false;
	}
	return true;
}

/*
 * Does the TLS session carry a verified node certificate that names node_id?
 * Then the peer is that node (authenticated) and may hear why it is refused.
 */
static bool cert_names(WOLFSSL *ssl, const char *node_id)
{
	char cert_id[WIRE_ID_MAX + 1];

	return tls_peer_has_cert(ssl) && tls_peer_id(ssl, cert_id, sizeof(cert_id)) == 0 &&
	       strcmp(cert_id, node_id) == 0;
}

/* The first offered method this MAS implements, or 0. */
static uint8_t first_supported(const struct mas_ctx *ctx, const struct wire_hello *h)
{
	for (size_t i = 0; i < h->n_methods; i++)
		if (method_supported(ctx, h->methods[i]))
			return h->methods[i];
	return 0;
}

static enum mas_next send_challenge(struct mas_est *st, const struct mas_peer *peer,
				    struct wire_msg *reply);
static enum mas_next gba_hello(struct mas_ctx *ctx, struct mas_est *st,
			       const struct mas_peer *peer, const struct wire_hello *h,
			       const struct store_node *node, struct wire_msg *reply);

/* CHALLENGE for method st->method with a fresh Nm; remembers the node. */
static enum mas_next challenge(struct mas_ctx *ctx, struct mas_est *st,
			       const struct mas_peer *peer, const struct wire_hello *h,
			       struct wire_msg *reply)
{
	int r = crypto_random(st->nm, sizeof(st->nm));

	if (r < 0) {
		log_error("cannot draw a nonce for node %s: %s", h->node_id, strerror(-r));
		mas_reply_error(reply, WIRE_ERR_INTERNAL, "MAS random number failure");
		return MAS_NEXT_CLOSE;
	}
	snprintf(st->node_id, sizeof(st->node_id), "%s", h->node_id);
	memcpy(st->nn, h->nonce, sizeof(st->nn));
	return send_challenge(st, peer, reply);
}

/* The CHALLENGE itself (Nm drawn, node and Nn recorded already). */
static enum mas_next send_challenge(struct mas_est *st, const struct mas_peer *peer,
				    struct wire_msg *reply)
{
	st->step = MAS_EST_WAIT_PROOF;
	log_debug("node %s from %s: method %s, challenge sent%s", st->node_id, peer->name,
		  wire_method_to_string(st->method), st->decoy ? " (decoy)" : "");
	memset(reply, 0, sizeof(*reply));
	reply->type = WIRE_MSG_CHALLENGE;
	reply->challenge.method = st->method;
	memcpy(reply->challenge.nonce, st->nm, sizeof(st->nm));
	return MAS_NEXT_CONTINUE;
}

/*
 * An unauthenticated peer named a node that is unknown, revoked or has no
 * method in common with it: answer exactly as for a registered node with a
 * wrong key (CHALLENGE, then auth-failed or rate-limited for the PROOF), so
 * that no answer tells which nodes exist or what they may do (docs/protocol.md
 * §5). detail goes to the log only. Offered methods this MAS does not implement
 * get no-method, which says nothing about the node.
 */
static enum mas_next decoy(struct mas_ctx *ctx, struct mas_est *st, WOLFSSL *ssl,
			   const struct mas_peer *peer, const struct wire_hello *h,
			   const char *detail, struct wire_msg *reply)
{
	char key[RATELIMIT_KEY_MAX + 1];

	snprintf(key, sizeof(key), "addr:%s", peer->addr);
	if (ratelimit_limited(ctx->rl, key, mas_now_ms(), NULL))
		log_debug("%s (source rate-limited)", detail);
	else
		log_warning("%s; answered like a wrong key", detail);
	st->method = first_supported(ctx, h);
	if (!st->method) {
		mas_reply_error(reply, WIRE_ERR_NO_METHOD, "method %s not supported by this MAS yet",
				h->n_methods ? wire_method_to_string(h->methods[0]) : "(none)");
		return MAS_NEXT_CLOSE;
	}
	st->decoy = true;
	/* A registered pki node without its certificate is refused here too. */
	if (st->method == WIRE_METHOD_PKI && !pki_identity_ok(ctx, ssl, peer, h->node_id, reply))
		return MAS_NEXT_CLOSE;
	/* gba with a B-TID: the same Zn round trip as a registered gba node's (same timing). */
	if (st->method == WIRE_METHOD_GBA && h->btid[0])
		return gba_hello(ctx, st, peer, h, NULL, reply);
	return challenge(ctx, st, peer, h, reply);
}

/* No usable method for a registered node: detail for an authenticated peer, else a decoy. */
static enum mas_next no_method(struct mas_ctx *ctx, struct mas_est *st, WOLFSSL *ssl,
			       const struct mas_peer *peer, const struct wire_hello *h,
			       const struct store_node *node, uint8_t common,
			       struct wire_msg *reply)
{
	char offered[64], allowed[64], detail[WIRE_ID_MAX + 256];

	method_list(h->methods, h->n_methods, offered, sizeof(offered));
	method_list(node->methods, node->n_methods, allowed, sizeof(allowed));
	snprintf(detail, sizeof(detail),
		 "no method for node %s from %s: node offered %s; subscription allows %s",
		 h->node_id, peer->name, offered, allowed);
	if (!cert_names(ssl, h->node_id) && !(common && !first_supported(ctx, h)))
		return decoy(ctx, st, ssl, peer, h, detail, reply);
	log_warning("%s", detail);
	if (common == WIRE_METHOD_GBA && method_supported(ctx, common))
		mas_reply_error(reply, WIRE_ERR_NO_METHOD,
				"method gba needs a B-TID in HELLO and an IMPI registered for node "
				"%s (m2masctl node set-impi)",
				h->node_id);
	else if (common)
		mas_reply_error(reply, WIRE_ERR_NO_METHOD, "method %s not supported by this MAS yet",
				wire_method_to_string(common));
	else
		mas_reply_error(reply, WIRE_ERR_NO_METHOD, "node offered %s; subscription allows %s",
				offered, allowed);
	return MAS_NEXT_CLOSE;
}

/*
 * A gba HELLO that cannot be the node's (B-TID unknown to the BSF or expired, or
 * another IMPI's): from here on answered like an unknown node (decoy: CHALLENGE,
 * then auth-failed for the PROOF), so that no stranger learns which nodes exist
 * or use gba. The node itself re-bootstraps after a failed gba proof
 * (docs/protocol.md §5). detail goes to the operator's log only.
 */
static void gba_decoy(struct mas_ctx *ctx, struct mas_est *st, const struct mas_peer *peer,
		      const char *detail)
{
	char key[RATELIMIT_KEY_MAX + 1];

	snprintf(key, sizeof(key), "addr:%s", peer->addr);
	if (ratelimit_limited(ctx->rl, key, mas_now_ms(), NULL))
		log_debug("%s (source rate-limited)", detail);
	else
		log_warning("%s; answered like a wrong key (the node bootstraps again after the "
			    "failed proof)",
			    detail);
	st->decoy = true;
}

/* Method gba with Ks_NAF (from the cache or Zn) for the B-TID of impi until expiry. */
static enum mas_next gba_key_known(struct mas_ctx *ctx, struct mas_est *st,
				   const struct mas_peer *peer, const char *impi,
				   const uint8_t ks_naf[static 32], uint64_t expiry,
				   struct wire_msg *reply)
{
	if (!st->decoy && strcmp(impi, st->impi) != 0) {
		char what[WIRE_ID_MAX + 2 * WIRE_BTID_MAX + 160];

		snprintf(what, sizeof(what),
			 "node %s from %s: B-TID %s belongs to another IMPI at the BSF (%s), not to "
			 "the node's registered IMPI %s",
			 st->node_id, peer->name, st->btid, impi, st->impi);
		gba_decoy(ctx, st, peer, what);
	}
	if (!st->decoy) {
		st->km_expiry = expiry;
		/* PROOF must not depend on the shared cache keeping the entry (4096 of them). */
		if (mas_gba_cache_seal(ctx->gba, st->btid, ks_naf, st->ks_naf_sealed) == 0)
			st->have_ks_naf = true;
		else
			log_warning("node %s from %s: cannot seal Ks_NAF of B-TID %s for the "
				    "exchange; its proof will be refused",
				    st->node_id, peer->name, st->btid);
	}
	return send_challenge(st, peer, reply);
}

enum mas_next mas_establish_zn_done(struct mas_ctx *ctx, struct mas_est *st,
				    const struct mas_peer *peer, int r, const struct zn_key *key,
				    const char *err, struct wire_msg *reply)
{
	uint64_t now = (uint64_t)time(NULL);

	if (st->step != MAS_EST_WAIT_ZN) {
		mas_reply_error(reply, WIRE_ERR_INTERNAL, "MAS state failure");
		return MAS_NEXT_CLOSE;
	}
	if (r == 0 && key->expiry <= (int64_t)now)
		r = -ENOENT;
	if (r == -ENOENT) {
		char what[WIRE_ID_MAX + WIRE_BTID_MAX + 320];

		/* Unknown and expired alike: a stranger must not tell them from a node's. */
		snprintf(what, sizeof(what), "node %s from %s: B-TID %s is unknown to the BSF or "
			 "expired (%s)", st->node_id, peer->name, st->btid,
			 err && *err ? err : "expired");
		if (st->decoy)
			log_debug("%s (decoy)", what);
		else
			gba_decoy(ctx, st, peer, what);
		return send_challenge(st, peer, reply);
	}
	if (r < 0) {
		log_error("node %s from %s: cannot get Ks_NAF for B-TID %s over Zn: %s",
			  st->node_id, peer->name, st->btid, err && *err ? err : strerror(-r));
		mas_reply_error(reply, WIRE_ERR_INTERNAL, "the MAS cannot reach the BSF (Zn)");
		st->step = MAS_EST_DONE;
		return MAS_NEXT_CLOSE;
	}
	if (!st->decoy && strcmp(key->impi, st->impi) == 0 &&
	    mas_gba_cache_put(ctx->gba, st->btid, key->impi, key->ks_naf, (uint64_t)key->expiry) < 0)
		log_warning("cannot cache Ks_NAF for B-TID %s", st->btid);
	return gba_key_known(ctx, st, peer, key->impi, key->ks_naf, (uint64_t)key->expiry, reply);
}

/*
 * Method gba chosen: Ks_NAF from the cache, or MAS_NEXT_WAIT for the caller to
 * ask Zn. node NULL: a decoy (st->decoy), which asks Zn like a node would.
 */
static enum mas_next gba_hello(struct mas_ctx *ctx, struct mas_est *st,
			       const struct mas_peer *peer, const struct wire_hello *h,
			       const struct store_node *node, struct wire_msg *reply)
{
	_cleanup_secret_ struct secret *k = NULL;
	char impi[STORE_IMPI_MAX + 1];
	uint64_t expiry;
	int r = crypto_random(st->nm, sizeof(st->nm));

	if (r < 0) {
		log_error("cannot draw a nonce for node %s: %s", h->node_id, strerror(-r));
		mas_reply_error(reply, WIRE_ERR_INTERNAL, "MAS random number failure");
		return MAS_NEXT_CLOSE;
	}
	snprintf(st->node_id, sizeof(st->node_id), "%s", h->node_id);
	memcpy(st->nn, h->nonce, sizeof(st->nn));
	snprintf(st->btid, sizeof(st->btid), "%s", h->btid);
	snprintf(st->impi, sizeof(st->impi), "%s", node ? node->impi : ""); /* NULL: decoy */
	if (mas_gba_cache_get(ctx->gba, st->btid, (uint64_t)time(NULL), &k, &expiry, impi) == 0)
		return gba_key_known(ctx, st, peer, impi, k->data, expiry, reply);
	st->step = MAS_EST_WAIT_ZN;
	log_debug("node %s from %s: method gba, fetching Ks_NAF for B-TID %s over Zn",
		  st->node_id, peer->name, st->btid);
	memset(reply, 0, sizeof(*reply));
	return MAS_NEXT_WAIT;
}

static enum mas_next on_hello(struct mas_ctx *ctx, struct mas_est *st, WOLFSSL *ssl,
			      const struct mas_peer *peer, const struct wire_hello *h,
			      struct wire_msg *reply)
{
	char detail[WIRE_ID_MAX + 128];
	struct store_node node;
	uint8_t common = 0;
	int r;

	r = store_node_get(ctx->store, h->node_id, &node);
	if (r < 0 && r != -ENOENT) {
		log_error("cannot look up node %s (from %s) in the store: %s", h->node_id,
			  peer->name, strerror(-r));
		mas_reply_error(reply, WIRE_ERR_INTERNAL, "MAS store failure");
		return MAS_NEXT_CLOSE;
	}
	if (r == -ENOENT || node.state == STORE_NODE_REVOKED) {
		snprintf(detail, sizeof(detail), "%s node %s from %s",
			 r == -ENOENT ? "unknown" : "revoked", h->node_id, peer->name);
		if (!cert_names(ssl, h->node_id))
			return decoy(ctx, st, ssl, peer, h, detail, reply);
		log_warning("%s", detail);
		if (r == -ENOENT)
			mas_reply_error(reply, WIRE_ERR_UNKNOWN_NODE,
					"node %s is not registered with this MAS", h->node_id);
		else
			mas_reply_error(reply, WIRE_ERR_REVOKED, "node %s is revoked", h->node_id);
		return MAS_NEXT_CLOSE;
	}
	/*
	 * The first offered method the subscription allows and this MAS implements;
	 * remember the first allowed one to name it if it is not implemented yet.
	 */
	for (size_t i = 0; i < h->n_methods && !st->method; i++)
		for (size_t j = 0; j < node.n_methods; j++)
			if (h->methods[i] == node.methods[j]) {
				if (!common)
					common = h->methods[i];
				if (method_usable(ctx, h->methods[i], h, &node))
					st->method = h->methods[i];
				break;
			}
	if (!st->method)
		return no_method(ctx, st, ssl, peer, h, &node, common, reply);
	if (st->method == WIRE_METHOD_PKI && !pki_identity_ok(ctx, ssl, peer, h->node_id, reply))
		return MAS_NEXT_CLOSE;
	snprintf(st->target_id, sizeof(st->target_id), "%s", node.target_id);
	st->lifetime = node.lifetime ? node.lifetime : ctx->lifetime;
	if (st->method == WIRE_METHOD_GBA)
		return gba_hello(ctx, st, peer, h, &node, reply);
	return challenge(ctx, st, peer, h, reply);
}

/*
 * Everything after a verified proof: store, answer. prf makes the MAS proof
 * (keyed with Km for psk, Kc for pki). Returns 0 or -errno.
 */
static int establish(struct mas_ctx *ctx, struct mas_est *st, const struct kdf_prf *prf,
		     const struct sa_binding *b, const struct key32 *kc,
		     const struct key32 *ae_root, struct wire_msg *reply)
{
	struct store_assoc a = { 0 };
	char key_id[WIRE_KEY_ID_MAX + 1];
	uint8_t mas_proof[KDF_OUT_LEN];
	int r;

	r = sa_proof(prf, SA_PROOF_MAS, b, st->nn, st->nm, st->node_id, mas_proof);
	if (r < 0)
		return r;
	sa_kcid(b, a.kcid);
	r = sa_key_id_format(a.kcid, NULL, ctx->fqdn, key_id, sizeof(key_id));
	if (r < 0)
		return r;
	snprintf(a.node_id, sizeof(a.node_id), "%s", st->node_id);
	snprintf(a.target_id, sizeof(a.target_id), "%s", st->target_id);
	a.method = st->method;
	a.created = (uint64_t)time(NULL);
	a.expiry = a.created + st->lifetime;
	/* Method gba: no association outlives its Ks_NAF. */
	if (st->km_expiry && a.expiry > st->km_expiry)
		a.expiry = st->km_expiry;
	r = store_assoc_add(ctx->store, &a, kc->b, ae_root->b);
	if (r < 0) {
		secret_wipe(mas_proof, sizeof(mas_proof));
		return r;
	}

	memset(reply, 0, sizeof(*reply));
	reply->type = WIRE_MSG_ESTABLISHED;
	memcpy(reply->established.proof, mas_proof, sizeof(mas_proof));
	snprintf(reply->established.key_id, sizeof(reply->established.key_id), "%s", key_id);
	reply->established.expiry = a.expiry;
	reply->established.method = st->method;
	snprintf(reply->established.suite, sizeof(reply->established.suite), "%s", SA_SUITE_PSK);
	log_info("established %s for node %s (method %s), target %s, expires %" PRIu64, key_id,
		 st->node_id, wire_method_to_string(st->method),
		 st->target_id[0] ? st->target_id : "(none)", a.expiry);
	secret_wipe(mas_proof, sizeof(mas_proof));
	return 0;
}

void mas_auth_clear(struct mas_auth *a)
{
	secret_free(a->km);
	sa_binding_wipe(&a->b);
	secret_wipe(a, sizeof(*a));
}

bool mas_auth_verify(struct mas_ctx *ctx, struct mas_est *st, WOLFSSL *ssl,
		     const struct mas_peer *peer, const uint8_t proof[static WIRE_PROOF_LEN],
		     struct mas_auth *a, struct wire_msg *reply)
{
	uint8_t expected[KDF_OUT_LEN];
	bool ok = false;
	int r;

	st->step = MAS_EST_DONE;
	if (st->decoy) {
		char what[WIRE_ID_MAX + 96];

		snprintf(what, sizeof(what), "decoy proof for node %s from %s refused", st->node_id,
			 peer->name);
		/* Logged at HELLO already: here at debug level only. */
		fail_proof(ctx, st->node_id, peer, what, "proof did not verify", true, reply);
		return false;
	}
	r = sa_binding_from_tls(ssl, &a->b);
	if (r < 0) {
		log_error("cannot export the TLS channel binding for node %s from %s: %s",
			  st->node_id, peer->name, strerror(-r));
		mas_reply_error(reply, WIRE_ERR_INTERNAL, "MAS TLS exporter failure");
		return false;
	}
	if (st->method == WIRE_METHOD_PKI) {
		/* TS-0003 10.3.1: Kc straight from the exporter; the confirmation is keyed with it. */
		sa_pki_kc(&a->b, a->kc.b);
		a->sw = (struct kdf_sw_key){ .key = a->kc.b, .len = sizeof(a->kc.b) };
	} else if (st->method == WIRE_METHOD_GBA) {
		bool expired = st->km_expiry <= (uint64_t)time(NULL);

		/* The Ks_NAF HELLO found, kept sealed by the connection: not the shared cache. */
		r = st->have_ks_naf && !expired ?
			    mas_gba_cache_open(ctx->gba, st->btid, st->ks_naf_sealed, &a->km) :
			    -ENOENT;
		secret_wipe(st->ks_naf_sealed, sizeof(st->ks_naf_sealed));
		st->have_ks_naf = false;
		if (r < 0) {
			char what[WIRE_ID_MAX + WIRE_BTID_MAX + 128];

			/* Answered like a wrong key, as at HELLO: the node bootstraps again. */
			snprintf(what, sizeof(what), "node %s from %s: Ks_NAF of B-TID %s %s",
				 st->node_id, peer->name, st->btid,
				 expired ? "expired during the exchange" : "could not be kept");
			fail_proof(ctx, st->node_id, peer, what, "proof did not verify", false, reply);
			return false;
		}
		a->sw = (struct kdf_sw_key){ .key = a->km->data, .len = a->km->len };
	} else {
		r = store_node_get_km(ctx->store, st->node_id, &a->km);
		if (r == -ENOKEY) {
			char what[WIRE_ID_MAX + 192];

			snprintf(what, sizeof(what),
				 "node %s from %s: method psk, but the node is registered without Km "
				 "(gba only: m2masctl node add --methods gba --impi)",
				 st->node_id, peer->name);
			fail_proof(ctx, st->node_id, peer, what, "proof did not verify", false, reply);
			return false;
		}
		if (r < 0) {
			log_error("cannot read the long-term key of node %s (from %s): %s",
				  st->node_id, peer->name, strerror(-r));
			mas_reply_error(reply, WIRE_ERR_INTERNAL, "MAS store failure");
			return false;
		}
		a->sw = (struct kdf_sw_key){ .key = a->km->data, .len = a->km->len };
	}
	kdf_prf_software(&a->sw, &a->prf);
	r = sa_proof(&a->prf, SA_PROOF_NODE, &a->b, st->nn, st->nm, st->node_id, expected);
	if (r < 0) {
		log_error("cannot compute the proof for node %s: %s", st->node_id, strerror(-r));
		mas_reply_error(reply, WIRE_ERR_INTERNAL, "MAS key derivation failure");
	} else if (!secret_equal(expected, proof, sizeof(expected))) {
		char what[WIRE_ID_MAX + 160];

		snprintf(what, sizeof(what),
			 "proof of node %s from %s did not verify (wrong long-term key, or a "
			 "replayed or relayed proof)",
			 st->node_id, peer->name);
		fail_proof(ctx, st->node_id, peer, what, "proof did not verify", false, reply);
	} else {
		proof_ok(ctx, st->node_id, peer);
		ok = true;
	}
	secret_wipe(expected, sizeof(expected));
	return ok;
}

static enum mas_next on_proof(struct mas_ctx *ctx, struct mas_est *st, WOLFSSL *ssl,
			      const struct mas_peer *peer, const struct wire_proof *p,
			      struct wire_msg *reply)
{
	_cleanup_key32_ struct key32 ae_root = { 0 };
	struct mas_auth a = { 0 };
	int r;

	if (!mas_auth_verify(ctx, st, ssl, peer, p->proof, &a, reply))
		goto out;
	if (st->method == WIRE_METHOD_PKI) {
		r = sa_pki_ae_root(ssl, ae_root.b);
		if (r < 0) {
			log_error("cannot export the AE root for node %s from %s: %s", st->node_id,
				  peer->name, strerror(-r));
			mas_reply_error(reply, WIRE_ERR_INTERNAL, "MAS TLS exporter failure");
			goto out;
		}
	} else {
		/* psk and gba: Kc and the AE root from Km (gba: Km = Ks_NAF). */
		r = sa_kc(&a.prf, &a.b, st->nn, st->nm, a.kc.b);
		if (r == 0)
			r = sa_ae_root(&a.prf, &a.b, st->nn, st->nm, ae_root.b);
		if (r < 0) {
			log_error("cannot derive Kc for node %s: %s", st->node_id, strerror(-r));
			mas_reply_error(reply, WIRE_ERR_INTERNAL, "MAS key derivation failure");
			goto out;
		}
	}
	r = establish(ctx, st, &a.prf, &a.b, &a.kc, &ae_root, reply);
	if (r < 0) {
		log_error("cannot register the association of node %s (from %s) in the store %s: "
			  "%s%s",
			  st->node_id, peer->name, store_location(ctx->store), strerror(-r),
			  r == -ENOSPC ? " (free space on that filesystem; m2masd recovers by itself)" :
					 "");
		mas_reply_error(reply, WIRE_ERR_INTERNAL, "MAS store failure");
	}
out:
	mas_auth_clear(&a);
	return MAS_NEXT_CLOSE;
}

enum mas_next mas_establish_handle(struct mas_ctx *ctx, struct mas_est *st, WOLFSSL *ssl,
				   const struct mas_peer *peer, const struct wire_msg *msg,
				   struct wire_msg *reply)
{
	if (st->step == MAS_EST_WAIT_HELLO && msg->type == WIRE_MSG_HELLO)
		return on_hello(ctx, st, ssl, peer, &msg->hello, reply);
	if (st->step == MAS_EST_WAIT_PROOF && msg->type == WIRE_MSG_PROOF)
		return on_proof(ctx, st, ssl, peer, &msg->proof, reply);
	if (st->step == MAS_EST_WAIT_PROOF &&
	    (msg->type == WIRE_MSG_PEER_REGISTER || msg->type == WIRE_MSG_PEER_RESOLVE))
		return mas_peer_handle(ctx, st, ssl, peer, msg, reply);
	log_warning("unexpected %s message from %s%s%s", wire_msg_type_to_string(msg->type),
		    peer->name, st->node_id[0] ? " for node " : "", st->node_id);
	mas_reply_error(reply, WIRE_ERR_MALFORMED, "expected %s, got %s",
			wire_msg_type_to_string(st->step == MAS_EST_WAIT_PROOF ? WIRE_MSG_PROOF
									: WIRE_MSG_HELLO),
			wire_msg_type_to_string(msg->type));
	st->step = MAS_EST_DONE;
	return MAS_NEXT_CLOSE;
}
