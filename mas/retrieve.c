/* SPDX-License-Identifier: Apache-2.0 */
/* The MAS side of key retrieval: a registered target asks for a key by its key ID. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/sa.h"
#include "common/secret.h"
#include "common/tls.h"
#include "mas/exchange.h"

/* Fill the KEY_RESPONSE: Kc, or the per-AE key derived from the AE root. */
static int answer(struct mas_ctx *ctx, const struct store_assoc *a, const uint8_t *kcid,
		  const char *ae_id, struct wire_msg *reply)
{
	_cleanup_secret_ struct secret *kc = NULL, *ae_root = NULL;
	int r;

	memset(reply, 0, sizeof(*reply));
	reply->type = WIRE_MSG_KEY_RESPONSE;
	if (ae_id[0]) {
		r = store_assoc_get_keys(ctx->store, kcid, NULL, &ae_root);
		if (r == 0 && ae_root->len != KDF_OUT_LEN)
			r = -EIO;
		if (r == 0)
			r = sa_ae_key(ae_root->data, ae_id, reply->key_response.key);
	} else {
		r = store_assoc_get_keys(ctx->store, kcid, &kc, NULL);
		if (r == 0 && kc->len != WIRE_KEY_LEN)
			r = -EIO;
		if (r == 0)
			memcpy(reply->key_response.key, kc->data, WIRE_KEY_LEN);
	}
	if (r < 0) {
		wire_msg_wipe(reply);
		return r;
	}
	reply->key_response.expiry = a->expiry;
	snprintf(reply->key_response.node_id, sizeof(reply->key_response.node_id), "%s",
		 a->node_id);
	snprintf(reply->key_response.ae_id, sizeof(reply->key_response.ae_id), "%s", ae_id);
	reply->key_response.suid = SA_SUID;
	return 0;
}

enum mas_next mas_retrieve_handle(struct mas_ctx *ctx, WOLFSSL *ssl, const struct mas_peer *peer,
				  const struct wire_msg *msg, struct wire_msg *reply)
{
	const char *key_id = msg->key_request.key_id;
	char ae_id[WIRE_ID_MAX + 1], fqdn[WIRE_KEY_ID_MAX + 1], requester[WIRE_ID_MAX + 1];
	uint8_t kcid[SA_KCID_LEN];
	struct store_assoc a;
	uint64_t now = (uint64_t)time(NULL);
	int r;

	if (msg->type != WIRE_MSG_KEY_REQUEST) {
		log_warning("unexpected %s message from target %s", wire_msg_type_to_string(msg->type),
			    peer->name);
		mas_reply_error(reply, WIRE_ERR_MALFORMED, "expected %s, got %s",
				wire_msg_type_to_string(WIRE_MSG_KEY_REQUEST),
				wire_msg_type_to_string(msg->type));
		return MAS_NEXT_CLOSE;
	}
	r = tls_peer_id(ssl, requester, sizeof(requester));
	if (r < 0) {
		log_warning("target at %s presented no usable CSE-ID in its certificate: %s",
			    peer->name, strerror(-r));
		mas_reply_error(reply, WIRE_ERR_NOT_AUTHORISED,
				"no CSE-ID (URI SAN or CN) in the client certificate");
		return MAS_NEXT_CLOSE;
	}
	if (sa_key_id_parse(key_id, kcid, ae_id, fqdn) < 0) {
		log_warning("target %s at %s asked for malformed key ID '%s'", requester, peer->name,
			    key_id);
		mas_reply_error(reply, WIRE_ERR_UNKNOWN_KEY, "'%s' is not a key ID", key_id);
		return MAS_NEXT_CLOSE;
	}
	if (strcmp(fqdn, ctx->fqdn) != 0) {
		log_warning("target %s at %s asked for key %s of another MAS", requester, peer->name,
			    key_id);
		mas_reply_error(reply, WIRE_ERR_UNKNOWN_KEY, "key %s was not issued by %s", key_id,
				ctx->fqdn);
		return MAS_NEXT_CLOSE;
	}
	r = store_assoc_get(ctx->store, kcid, &a);
	if (r == -ENOENT) {
		log_warning("target %s at %s asked for unknown key %s", requester, peer->name, key_id);
		mas_reply_error(reply, WIRE_ERR_UNKNOWN_KEY, "no key %s", key_id);
		return MAS_NEXT_CLOSE;
	}
	if (r < 0)
		goto internal;
	if (strcmp(a.target_id, requester) != 0) {
		log_warning("target %s at %s is not authorised for key %s (registered target: %s)",
			    requester, peer->name, key_id, a.target_id[0] ? a.target_id : "none");
		mas_reply_error(reply, WIRE_ERR_NOT_AUTHORISED, "%s is not the target of key %s",
				requester, key_id);
		return MAS_NEXT_CLOSE;
	}
	if (a.revoked) {
		log_notice("target %s at %s asked for revoked key %s", requester, peer->name, key_id);
		mas_reply_error(reply, WIRE_ERR_REVOKED, "key %s is revoked", key_id);
		return MAS_NEXT_CLOSE;
	}
	if (a.expiry <= now) {
		log_notice("target %s at %s asked for key %s, expired at %" PRIu64, requester,
			   peer->name, key_id, a.expiry);
		mas_reply_error(reply, WIRE_ERR_EXPIRED, "key %s expired at %" PRIu64, key_id,
				a.expiry);
		return MAS_NEXT_CLOSE;
	}
	r = answer(ctx, &a, kcid, ae_id, reply);
	if (r < 0)
		goto internal;
	log_info("key %s (node %s%s%s) retrieved by %s at %s", key_id, a.node_id,
		 ae_id[0] ? ", AE " : "", ae_id, requester, peer->name);
	return MAS_NEXT_CLOSE;
internal:
	log_error("cannot read key %s for target %s at %s from the store: %s", key_id, requester,
		  peer->name, strerror(-r));
	mas_reply_error(reply, WIRE_ERR_INTERNAL, "MAS store failure");
	return MAS_NEXT_CLOSE;
}
