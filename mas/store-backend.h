/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What a store backend implements (mas/store.h is what callers use). mas/store.c
 * does everything that is the same for every backend: argument checks, sealing
 * and opening key blobs under the master key, the key check, schema creation
 * and migration order. A backend only moves rows: it sees sealed blobs, never
 * a key, and keeps the SQL of its database (store-sqlite.c and
 * store-sqlite-peer.c, store-pg.c and store-pg-peer.c).
 *
 * A backend's struct starts with struct store (its first member), so the
 * backend casts the struct store * it gets back to its own type.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/crypto.h"
#include "common/secret.h"
#include "common/util.h"
#include "common/wire.h"
#include "mas/store.h"

#define STORE_KEY_LEN 32
#define STORE_SEALED_LEN (STORE_KEY_LEN + CRYPTO_SEAL_OVERHEAD)
#define STORE_METHODS_TEXT_MAX 64
/* "/" node_id "/" and the NUL. */
#define STORE_TARGET_PREFIX_MAX (WIRE_ID_MAX + 3)

/* The node fields that m2masctl changes one at a time. */
enum store_node_field {
	STORE_NODE_FIELD_TARGET,
	STORE_NODE_FIELD_METHODS,
	STORE_NODE_FIELD_LIFETIME,
	STORE_NODE_FIELD_IMPI,
	_STORE_NODE_FIELD_MAX,
};

struct store_ops {
	const char *name; /* "sqlite", "postgresql" */
	/*
	 * Connect to or open location; no schema check yet. Errors as store_open
	 * (mas/store.h), plus -ECONNREFUSED/-EHOSTUNREACH/-ETIMEDOUT (temporary) or
	 * -ENOTCONN (for good) for a server.
	 */
	int (*open)(const struct store_config *c, struct store **ret);
	void (*close)(struct store *s);
	const char *(*location)(const struct store *s);
	/*
	 * The schema version: 0 for an empty store (nothing of ours, nothing
	 * foreign), -EPROTO for a store made by something else.
	 */
	int (*schema_version)(struct store *s, int *ret);
	/*
	 * In one transaction: if the store's version is still from, apply the
	 * migrations from+1 .. to; if from is 0, also insert key_check (a sealed
	 * blob) as meta "key_check". Another process may race: if the version is no
	 * longer from, change nothing and return 0 (the caller looks again).
	 */
	int (*migrate)(struct store *s, int from, int to, const uint8_t *key_check, size_t len);
	/*
	 * After the schema and key checks: additions that joined a schema version
	 * without a new number (SQLite: peer_keys, added to schema 1 files at
	 * open), idempotent. NULL if the backend has none.
	 */
	int (*settle)(struct store *s);
	/* The sealed meta value name into buf (exactly len bytes, else -EIO). */
	int (*meta_get)(struct store *s, const char *name, uint8_t *buf, size_t len);

	/* km_sealed_len is STORE_SEALED_LEN, or 0 for a node without Km (method gba only). */
	int (*node_insert)(struct store *s, const struct store_node *n, const char *methods,
			   uint64_t created, const uint8_t *km_sealed, size_t km_sealed_len);
	int (*node_get)(struct store *s, const char *node_id, struct store_node *ret);
	/* -ENOKEY if the node was stored without Km (an empty km_sealed). */
	int (*node_get_km)(struct store *s, const char *node_id,
			   uint8_t ret_sealed[static STORE_SEALED_LEN]);
	/* text for TARGET, METHODS and IMPI, num for LIFETIME; -ENOENT if no such node. */
	int (*node_set)(struct store *s, enum store_node_field f, const char *node_id,
			const char *text, uint64_t num);
	/*
	 * Pairwise keys "of" a node are the ones it registered (node_id) and the ones
	 * towards its AEs: target starts with target_prefix ("/<CSE-ID>/", from
	 * store.c) and has no '/' after it, which is wire_target_names_node() in SQL
	 * (no LIKE: '_' is an identifier character).
	 *
	 * node_revoke: in one transaction, revoke the node, its associations and its
	 * pairwise keys; returns how many pairwise keys it revoked (those not revoked
	 * before), -ENOENT if no such node.
	 * node_delete: in one transaction, delete the node, its associations and its
	 * pairwise keys; returns how many pairwise keys went, -ENOENT if no such node.
	 */
	int (*node_revoke)(struct store *s, const char *node_id, const char *target_prefix);
	int (*node_delete)(struct store *s, const char *node_id, const char *target_prefix);
	int (*node_foreach)(struct store *s, int (*cb)(const struct store_node *n, void *userdata),
			    void *userdata);

	int (*assoc_insert)(struct store *s, const struct store_assoc *a,
			    const uint8_t kc_sealed[static STORE_SEALED_LEN],
			    const uint8_t ae_sealed[static STORE_SEALED_LEN]);
	int (*assoc_get)(struct store *s, const uint8_t kcid[static STORE_KCID_LEN],
			 struct store_assoc *ret);
	int (*assoc_get_keys)(struct store *s, const uint8_t kcid[static STORE_KCID_LEN],
			      uint8_t kc_sealed[static STORE_SEALED_LEN],
			      uint8_t ae_sealed[static STORE_SEALED_LEN]);
	int (*assoc_revoke)(struct store *s, const uint8_t kcid[static STORE_KCID_LEN]);
	int (*assoc_foreach)(struct store *s, const char *node_id,
			     int (*cb)(const struct store_assoc *a, void *userdata), void *userdata);
	int (*assoc_purge)(struct store *s, uint64_t now);

	/*
	 * Pairwise keys (docs/protocol.md §14). peer_insert: in one transaction, read
	 * the state of the originator's node (k->node_id) and of the target's node
	 * (node target_cse "/<CSE-ID>", or if there is none, target_cse + 1, as
	 * m2masd looks it up), then insert k only if store_peer_nodes_check() says
	 * 0, else return what it says (-EKEYREVOKED, -ENOENT). The read keeps a
	 * concurrent node_revoke or node_delete of either node out until the insert
	 * is committed (PostgreSQL: FOR SHARE), so that it takes the new key, or
	 * lets the insert see the node revoked or gone. -EEXIST for a taken id.
	 */
	int (*peer_insert)(struct store *s, const struct store_peer_key *k, const char *target_cse,
			   const uint8_t key_sealed[static STORE_SEALED_LEN]);
	int (*peer_get)(struct store *s, const uint8_t id[static STORE_PEER_ID_LEN],
			struct store_peer_key *ret, uint8_t key_sealed[static STORE_SEALED_LEN]);
	int (*peer_revoke)(struct store *s, const uint8_t id[static STORE_PEER_ID_LEN]);
	int (*peer_purge)(struct store *s, uint64_t now);
};

/* The part every backend's struct begins with. */
struct store {
	const struct store_ops *ops;
	struct secret *master_key;
	store_notify_fn notify;
	void *notify_userdata;
	store_observe_fn observe;
	void *observe_userdata;
	bool open_failed; /* set before close() when store_open_config fails: undo a creation */
};

extern const struct store_ops store_sqlite_ops;
extern const struct store_ops store_pg_ops;

/* For backends: tell the store's user about a connection event (see store_set_notify). */
void store_notify(struct store *s, enum store_event ev, const char *fmt, ...) _printf_(3, 4);
/* "psk,pki" as kept in a row -> the method codes; -EIO if it is not a valid list. */
int store_methods_from_text(const char *text, uint8_t methods[static WIRE_METHODS_MAX],
			    size_t *ret_n);
/* state text as kept in a row ("active", "revoked") -> enum; -EIO otherwise. */
int store_node_state_from_string(const char *text, enum store_node_state *ret);
/*
 * peer_insert's verdict from the state texts of the originator's node and the
 * target's node (NULL: no such node): -EKEYREVOKED if either is revoked, else
 * -ENOENT if either is missing, -EIO for a state that is neither, else 0.
 */
int store_peer_nodes_check(const char *node_state, const char *target_state);
