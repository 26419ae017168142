/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The key service's end-to-end keys between AEs (docs/protocol.md §14):
 * get-peer-key and resolve-key requests handed to agent/peer-keys.c, their
 * answers (a resolved key only to the AE its target names), and the revoked or
 * expired events for the subscribers of the AE a cached key belongs to.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "agent/keyservice-int.h"
#include "common/log.h"
#include "common/secret.h"

/* ---- end-to-end keys between AEs (docs/protocol.md §14) ---- */

/* The local error code for a failed end-to-end request. */
static uint32_t peer_error_code(int r)
{
	switch (r) {
	case -EACCES:
		return LOCAL_ERR_DENIED;
	case -EKEYEXPIRED:
		return LOCAL_ERR_EXPIRED;
	case -EKEYREVOKED:
		return LOCAL_ERR_REVOKED;
	case -EBUSY:
		return LOCAL_ERR_BUSY;
	case -ENOMEM:
		return LOCAL_ERR_INTERNAL;
	default:
		return LOCAL_ERR_NO_KEY;
	}
}

/*
 * A resolved key goes only to a client acting as the AE its target names: the
 * MAS checked the target's CSE-ID is this node, the agent checks the AE-ID.
 */
static bool resolve_allowed(struct keyservice *ks, struct ks_client *c, const struct ks_ref *ref,
			    const struct peer_key_view *k)
{
	char cse[WIRE_ID_MAX + 1], ae[WIRE_ID_MAX + 1];

	if (wire_target_split(k->target, cse, ae) == 0 && strcmp(ae, ref->ae_id) == 0 &&
	    wire_target_names_node(k->target, sa_manager_node_id(ks->sam)))
		return true;
	log_warning("denied pairwise key %s to pid %ld uid %u acting as %s: it is registered for %s",
		    k->key_id, (long)c->peer.pid, (unsigned)c->peer.uid, ref->ae_id, k->target);
	ks_send_error(ks, c, ref->req, LOCAL_ERR_DENIED, "key %s is for %s, not for AE %s", k->key_id,
		      k->target, ref->ae_id);
	return false;
}

/*
 * A cached pairwise key was revoked or expired (agent/peer-keys.c): an EVENT
 * (no key bytes) to every subscriber of the AE it belongs to on this node: the
 * originator AE on the originator's node, the target AE on the target's node.
 */
void ks_on_peer_event(enum peer_keys_event ev, const struct peer_key_view *k, void *userdata)
{
	struct keyservice *ks = userdata;
	const char *own = sa_manager_node_id(ks->sam);
	char cse[WIRE_ID_MAX + 1], target_ae[WIRE_ID_MAX + 1];
	bool originator = strcmp(k->node_id, own) == 0;
	bool target = wire_target_names_node(k->target, own) &&
		      wire_target_split(k->target, cse, target_ae) == 0;

	for (struct ks_client *c = ks->head; c; c = c->next) {
		for (size_t i = 0; i < c->n_subs && !c->dead; i++) {
			const char *sub = c->subs[i].ae_id;
			struct local_msg m = {
				.type = LOCAL_MSG_EVENT,
				.req = c->subs[i].req,
				.event = ev == PEER_KEYS_EVENT_REVOKED ? LOCAL_EVENT_REVOKED
								       : LOCAL_EVENT_EXPIRED,
				.expiry = k->expiry,
			};

			if (!(originator && strcmp(sub, k->ae_id) == 0) &&
			    !(target && strcmp(sub, target_ae) == 0))
				continue;
			snprintf(m.ae_id, sizeof(m.ae_id), "%s", sub);
			snprintf(m.key_id, sizeof(m.key_id), "%s", k->key_id);
			ks_client_send(ks, c, &m);
		}
	}
}

void ks_on_peer_answer(void *owner, uint32_t req, int r, const struct peer_key_view *k,
		       const char *reason, void *userdata)
{
	_cleanup_(local_msg_wipe) struct local_msg m = { .type = LOCAL_MSG_PEER_KEY, .req = req };
	struct keyservice *ks = userdata;
	struct ks_client *c = owner;
	struct ks_ref ref;
	bool resolve;
	size_t i;

	for (i = 0; i < c->n_peer_pending; i++)
		if (c->peer_pending[i].req == req)
			break;
	if (i == c->n_peer_pending)
		return;
	ref = c->peer_pending[i];
	resolve = c->peer_is_resolve[i];
	c->peer_pending[i] = c->peer_pending[c->n_peer_pending - 1];
	c->peer_is_resolve[i] = c->peer_is_resolve[c->n_peer_pending - 1];
	c->n_peer_pending--;
	if (r < 0) {
		ks_send_error(ks, c, req, peer_error_code(r), "%s", reason);
		return;
	}
	if (resolve && !resolve_allowed(ks, c, &ref, k))
		return;
	snprintf(m.ae_id, sizeof(m.ae_id), "%s", k->ae_id);
	snprintf(m.key_id, sizeof(m.key_id), "%s", k->key_id);
	memcpy(m.key, k->key, LOCAL_WIRE_KEY_LEN);
	m.key_len = LOCAL_WIRE_KEY_LEN;
	m.expiry = k->expiry;
	snprintf(m.target, sizeof(m.target), "%s", k->target);
	snprintf(m.node_id, sizeof(m.node_id), "%s", k->node_id);
	log_debug("pairwise key %s (%s towards %s) to pid %ld uid %u", k->key_id, k->ae_id,
		  k->target, (long)c->peer.pid, (unsigned)c->peer.uid);
	ks_client_send(ks, c, &m);
}

void ks_on_peer_request(struct keyservice *ks, struct ks_client *c, const struct local_msg *m)
{
	bool resolve = m->type == LOCAL_MSG_RESOLVE_KEY;
	size_t i = c->n_peer_pending;

	for (size_t j = 0; j < c->n_peer_pending; j++)
		if (c->peer_pending[j].req == m->req) {
			ks_send_error(ks, c, m->req, LOCAL_ERR_BUSY, "request %u is still waiting",
				      m->req);
			return;
		}
	if (i >= KS_PENDING_MAX) {
		ks_send_error(ks, c, m->req, LOCAL_ERR_BUSY,
			      "%d end-to-end requests already wait on this connection", KS_PENDING_MAX);
		return;
	}
	if (!resolve && !clients_may_target(ks->clients, &c->peer, m->ae_id, m->target)) {
		c->denials++;
		if (ks_log_ok(ks))
			log_warning("denied get-peer-key for AE %s towards %s to pid %ld uid %u gid "
				    "%u: no targets= entry of its clients.d file allows it",
				    m->ae_id, m->target, (long)c->peer.pid, (unsigned)c->peer.uid,
				    (unsigned)c->peer.gid);
		ks_send_error(ks, c, m->req, LOCAL_ERR_DENIED,
			      "uid %u may not request pairwise keys towards %s (see targets= in "
			      "clients.d)",
			      (unsigned)c->peer.uid, m->target);
		return;
	}
	c->peer_pending[i].req = m->req;
	snprintf(c->peer_pending[i].ae_id, sizeof(c->peer_pending[i].ae_id), "%s", m->ae_id);
	c->peer_is_resolve[i] = resolve;
	c->n_peer_pending++;
	log_debug("%s for %s %s by pid %ld uid %u", local_msg_type_to_string(m->type), m->ae_id,
		  resolve ? m->key_id : m->target, (long)c->peer.pid, (unsigned)c->peer.uid);
	if (resolve)
		peer_keys_resolve(ks->peers, c, m->req, m->key_id);
	else
		peer_keys_register(ks->peers, c, m->req, m->ae_id, m->target);
}
