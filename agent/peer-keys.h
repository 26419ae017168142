/* SPDX-License-Identifier: Apache-2.0 */
/*
 * m2msad's end-to-end keys between AEs (docs/protocol.md §14): registrations
 * (an originator AE on this node towards a target AE on another node) and
 * resolutions (a key ID a local AE received), each one exchange with the MAS
 * authenticated with the node's credentials (sa_manager_peer_op_new), run
 * non-blocking in the agent's loop. Keys are cached in locked memory until
 * their expiry: a second get-peer-key for the same pair, or a second resolution
 * of the same ID, is answered without the MAS. Authorisation (clients.d) is the
 * caller's (agent/keyservice.c).
 *
 * Revocation and expiry (docs/protocol.md §14.6): every cached key is checked
 * again with the MAS (PEER_RESOLVE with check, version 4) once per check
 * interval (jittered: 75..125 %), and dropped when the MAS answers revoked,
 * expired or unknown-key; at its expiry it is dropped without asking. Each drop
 * is reported through the event handler (for the local subscribers).
 */
#pragma once

#include <stdint.h>

#include "agent/sa-manager.h"
#include "common/util.h"

struct loop;
struct peer_keys;

#define PEER_KEYS_OPS_MAX 16   /* exchanges in flight */
#define PEER_KEYS_CACHE_MAX 64 /* cached pairwise keys */

/* A pairwise key; pointers borrowed for the duration of the callback. */
struct peer_key_view {
	const char *key_id;
	const uint8_t *key; /* 32 bytes */
	uint64_t expiry;
	const char *node_id; /* the originator's node */
	const char *ae_id;   /* the originator AE-ID */
	const char *target;  /* the registered target */
};

/*
 * The answer to one request: r 0 and k, or -errno and reason (for people):
 * -EACCES not-authorised, -ENOKEY unknown key, -ENOENT unknown target node,
 * -EKEYEXPIRED, -EKEYREVOKED, -EBUSY too many in flight, others: the exchange failed.
 */
typedef void (*peer_keys_fn)(void *owner, uint32_t req, int r, const struct peer_key_view *k,
			     const char *reason, void *userdata);

enum peer_keys_event {
	PEER_KEYS_EVENT_EXPIRED,
	PEER_KEYS_EVENT_REVOKED,
};

/* A cached key was dropped; k is valid during the call (its key bytes included). */
typedef void (*peer_keys_event_fn)(enum peer_keys_event ev, const struct peer_key_view *k,
				   void *userdata);

#define PEER_KEYS_CHECK_DEFAULT_S 60

int peer_keys_new(struct sa_manager *sam, struct loop *loop, peer_keys_fn fn, void *userdata,
		  struct peer_keys **ret);
void peer_keys_set_event_handler(struct peer_keys *pk, peer_keys_event_fn fn, void *userdata);
/* Seconds between two checks of one cached key (before jitter); NULL is fine. */
void peer_keys_set_check_interval(struct peer_keys *pk, uint64_t seconds);
/* Abort every exchange (no callbacks), wipe the cache; NULL is fine. */
void peer_keys_free(struct peer_keys *pk);
DEFINE_CLEANUP(struct peer_keys *, peer_keys_free)

/* Each calls fn exactly once (maybe before returning) unless owner is cancelled first. */
void peer_keys_register(struct peer_keys *pk, void *owner, uint32_t req, const char *ae_id,
			const char *target);
void peer_keys_resolve(struct peer_keys *pk, void *owner, uint32_t req, const char *key_id);
/* The owner is gone: its requests get no callback (their exchanges still fill the cache). */
void peer_keys_cancel(struct peer_keys *pk, const void *owner);
