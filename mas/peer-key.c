/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The MAS side of end-to-end keys between AEs (docs/protocol.md §14, TS-0003
 * MAF key registration and retrieval, SUID 33): PEER_REGISTER and PEER_RESOLVE
 * arrive in place of PROOF, are answered only after the node proof verified
 * (mas_auth_verify), and get PEER_KEY with the MAS proof, or ERROR.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/crypto.h"
#include "common/hex.h"
#include "common/log.h"
#include "common/sa.h"
#include "common/secret.h"
#include "mas/exchange.h"

/* Look the target's node up: 0 with its ID in ret, or -errno with reply filled. */
static int target_node(struct mas_ctx *ctx, const char *target, const char *cse,
		       char ret[static WIRE_ID_MAX + 1], struct wire_msg *reply)
{
	struct store_node n;
	int r;

	r = store_node_get(ctx->store, cse, &n);
	if (r == -ENOENT && cse[1])
		r = store_node_get(ctx->store, cse + 1, &n);
	if (r == -ENOENT) {
		mas_reply_error(reply, WIRE_ERR_UNKNOWN_NODE, "no node %s for target %s", cse,
				target);
		return r;
	}
	if (r < 0) {
		mas_reply_error(reply, WIRE_ERR_INTERNAL, "MAS store failure");
		return r;
	}
	if (n.state == STORE_NODE_REVOKED) {
		mas_reply_error(reply, WIRE_ERR_REVOKED, "the node %s of target %s is revoked",
				n.node_id, target);
		return -EKEYREVOKED;
	}
	snprintf(ret, WIRE_ID_MAX + 1, "%s", n.node_id);
	return 0;
}

/*
 * The store refused the key (r: -EKEYREVOKED or -ENOENT): the target's node or
 * the requesting node was revoked or deleted after the checks above, by a node
 * revoke or delete at the same time (§14.2). Reply what the checks say now.
 */
static void refused_meanwhile(struct mas_ctx *ctx, const struct mas_est *st,
			      const struct mas_peer *peer, const struct wire_peer_register *g,
			      const char *cse, int r, struct wire_msg *reply)
{
	char target_node_id[WIRE_ID_MAX + 1];

	if (target_node(ctx, g->target, cse, target_node_id, reply) == 0) {
		if (r == -EKEYREVOKED)
			mas_reply_error(reply, WIRE_ERR_REVOKED, "node %s is revoked", st->node_id);
		else
			mas_reply_error(reply, WIRE_ERR_UNKNOWN_NODE,
					"node %s is not registered with this MAS", st->node_id);
	}
	log_warning("node %s from %s: no pairwise key for %s towards %s: %s (refused by the "
		    "store: a node revoked or deleted meanwhile)",
		    st->node_id, peer->name, g->ae_id, g->target, reply->error.reason);
}

/* PEER_KEY from a stored key; the MAS proof from a->prf. */
static int answer(struct mas_ctx *ctx, const struct mas_est *st, struct mas_auth *a,
		  const struct store_peer_key *k, const uint8_t *key, struct wire_msg *reply)
{
	struct wire_peer_key *p;
	char hex[2 * STORE_PEER_ID_LEN + 1];
	int r;

	memset(reply, 0, sizeof(*reply));
	reply->type = WIRE_MSG_PEER_KEY;
	p = &reply->peer_key;
	r = sa_proof(&a->prf, SA_PROOF_MAS, &a->b, st->nn, st->nm, st->node_id, p->proof);
	if (r < 0) {
		wire_msg_wipe(reply);
		return r;
	}
	hex_encode(k->id, STORE_PEER_ID_LEN, hex);
	snprintf(p->key_id, sizeof(p->key_id), "%s@%s", hex, ctx->fqdn);
	p->expiry = k->expiry;
	memcpy(p->key, key, WIRE_KEY_LEN);
	snprintf(p->node_id, sizeof(p->node_id), "%s", k->node_id);
	snprintf(p->ae_id, sizeof(p->ae_id), "%s", k->ae_id);
	snprintf(p->target, sizeof(p->target), "%s", k->target);
	p->suid = WIRE_SUID_PEER;
	return 0;
}

static void on_register(struct mas_ctx *ctx, const struct mas_est *st, struct mas_auth *a,
			const struct mas_peer *peer, const struct wire_peer_register *g,
			struct wire_msg *reply)
{
	_cleanup_key32_ struct key32 key = { 0 };
	char cse[WIRE_ID_MAX + 1], ae[WIRE_ID_MAX + 1], target_node_id[WIRE_ID_MAX + 1];
	struct store_peer_key k = { 0 };
	int r;

	if (wire_target_split(g->target, cse, ae) < 0) {
		mas_reply_error(reply, WIRE_ERR_MALFORMED, "'%s' is not an absolute AE-ID",
				g->target);
		return;
	}
	if (target_node(ctx, g->target, cse, target_node_id, reply) < 0) {
		log_warning("node %s from %s: no pairwise key for %s towards %s: %s", st->node_id,
			    peer->name, g->ae_id, g->target, reply->error.reason);
		return;
	}
	r = crypto_random(k.id, sizeof(k.id));
	if (r == 0)
		r = crypto_random(key.b, sizeof(key.b));
	if (r < 0) {
		log_error("cannot draw a pairwise key for node %s: %s", st->node_id, strerror(-r));
		mas_reply_error(reply, WIRE_ERR_INTERNAL, "MAS random number failure");
		return;
	}
	snprintf(k.node_id, sizeof(k.node_id), "%s", st->node_id);
	snprintf(k.ae_id, sizeof(k.ae_id), "%s", g->ae_id);
	snprintf(k.target, sizeof(k.target), "%s", g->target);
	k.created = (uint64_t)time(NULL);
	k.expiry = k.created + st->lifetime;
	/* Method gba: like Kc, no pairwise key outlives the Ks_NAF that authenticated it. */
	if (st->km_expiry && k.expiry > st->km_expiry)
		k.expiry = st->km_expiry;
	r = store_peer_key_add(ctx->store, &k, key.b);
	if (r == -EKEYREVOKED || r == -ENOENT) {
		refused_meanwhile(ctx, st, peer, g, cse, r, reply);
		return;
	}
	if (r == 0)
		r = answer(ctx, st, a, &k, key.b, reply);
	if (r < 0) {
		log_error("cannot register a pairwise key for node %s (from %s) in the store %s: %s",
			  st->node_id, peer->name, store_location(ctx->store), strerror(-r));
		mas_reply_error(reply, WIRE_ERR_INTERNAL, "MAS store failure");
		return;
	}
	log_info("registered pairwise key %s for %s on node %s towards %s, expires %" PRIu64,
		 reply->peer_key.key_id, g->ae_id, st->node_id, g->target, k.expiry);
}

/*
 * The checks of §14.4 in order; 0 when the key may go to this node, else reply is
 * filled. A check (§14.6, version 4) is also answered to the originator's node.
 */
static int resolve_check(struct mas_ctx *ctx, const struct mas_est *st, const char *key_id,
			 bool check, uint8_t id[static STORE_PEER_ID_LEN],
			 struct store_peer_key *k, struct secret **key, char *why, size_t why_len,
			 struct wire_msg *reply)
{
	char ae[WIRE_ID_MAX + 1], fqdn[WIRE_KEY_ID_MAX + 1];
	uint64_t now = (uint64_t)time(NULL);
	int r;

	if (sa_key_id_parse(key_id, id, ae, fqdn) < 0 || ae[0] || strcmp(fqdn, ctx->fqdn) != 0) {
		mas_reply_error(reply, WIRE_ERR_UNKNOWN_KEY, "'%s' is not a pairwise key ID of %s",
				key_id, ctx->fqdn);
		return -ENOENT;
	}
	r = store_peer_key_get(ctx->store, id, k, key);
	if (r == -ENOENT) {
		mas_reply_error(reply, WIRE_ERR_UNKNOWN_KEY, "no pairwise key %s", key_id);
		return r;
	}
	if (r < 0) {
		mas_reply_error(reply, WIRE_ERR_INTERNAL, "MAS store failure");
		return r;
	}
	if (!wire_target_names_node(k->target, st->node_id) &&
	    !(check && strcmp(k->node_id, st->node_id) == 0)) {
		/* The whole story for the MAS log only; the wire tells the node no target. */
		snprintf(why, why_len, "key %s is registered by node %s for %s, not for node %s",
			 key_id, k->node_id, k->target, st->node_id);
		if (strcmp(k->node_id, st->node_id) == 0) {
			/* The originator's node: it knows the key exists and where it goes. */
			mas_reply_error(reply, WIRE_ERR_NOT_AUTHORISED,
					"key %s is not for node %s: only its target's node may "
					"resolve it", key_id, st->node_id);
			return -EACCES;
		}
		/* Any other node: the same answer as for a key that does not exist (§14.4). */
		mas_reply_error(reply, WIRE_ERR_UNKNOWN_KEY, "no pairwise key %s", key_id);
		return -ENOENT;
	}
	if (k->revoked) {
		mas_reply_error(reply, WIRE_ERR_REVOKED, "key %s is revoked", key_id);
		return -EKEYREVOKED;
	}
	if (k->expiry <= now) {
		mas_reply_error(reply, WIRE_ERR_EXPIRED, "key %s expired at %" PRIu64, key_id,
				k->expiry);
		return -EKEYEXPIRED;
	}
	return 0;
}

static void on_resolve(struct mas_ctx *ctx, const struct mas_est *st, struct mas_auth *a,
		       const struct mas_peer *peer, const struct wire_peer_resolve *v,
		       struct wire_msg *reply)
{
	_cleanup_secret_ struct secret *key = NULL;
	uint8_t id[STORE_PEER_ID_LEN];
	struct store_peer_key k;
	char why[3 * WIRE_ID_MAX + WIRE_KEY_ID_MAX + 64] = "";
	int r;

	r = resolve_check(ctx, st, v->key_id, v->check, id, &k, &key, why, sizeof(why), reply);
	if (r < 0) {
		log_warning("node %s from %s: pairwise key %s refused: %s: %s%s%s%s", st->node_id,
			    peer->name, v->key_id, wire_error_code_to_string(reply->error.code),
			    reply->error.reason, why[0] ? " (" : "", why, why[0] ? ")" : "");
		return;
	}
	if (key->len != WIRE_KEY_LEN)
		r = -EIO;
	else
		r = answer(ctx, st, a, &k, key->data, reply);
	if (r < 0) {
		log_error("cannot answer pairwise key %s for node %s: %s", v->key_id, st->node_id,
			  strerror(-r));
		mas_reply_error(reply, WIRE_ERR_INTERNAL, "MAS store failure");
		return;
	}
	log_info("pairwise key %s (%s on %s towards %s) %s by node %s at %s", v->key_id, k.ae_id,
		 k.node_id, k.target, v->check ? "checked" : "resolved", st->node_id, peer->name);
}

enum mas_next mas_peer_handle(struct mas_ctx *ctx, struct mas_est *st, WOLFSSL *ssl,
			      const struct mas_peer *peer, const struct wire_msg *msg,
			      struct wire_msg *reply)
{
	struct mas_auth a = { 0 };
	const uint8_t *proof = msg->type == WIRE_MSG_PEER_REGISTER ? msg->peer_register.proof
								   : msg->peer_resolve.proof;

	if (mas_auth_verify(ctx, st, ssl, peer, proof, &a, reply)) {
		if (msg->type == WIRE_MSG_PEER_REGISTER)
			on_register(ctx, st, &a, peer, &msg->peer_register, reply);
		else
			on_resolve(ctx, st, &a, peer, &msg->peer_resolve, reply);
	}
	mas_auth_clear(&a);
	return MAS_NEXT_CLOSE;
}
