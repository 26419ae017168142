/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The MAS node store: nodes (subscriptions) and associations (registered keys).
 * This is the one interface m2masd and m2masctl use, whatever keeps the rows:
 * SQLite (store-sqlite.c, the embedded default: a file) or PostgreSQL
 * (store-pg.c: several m2masd instances share one database). mas/store.c holds
 * what is common (checks, sealing, schema versions); a backend only moves rows
 * (mas/store-backend.h).
 * The master key comes from the caller (mas/keyfile.h reads its file). Km, Kc
 * and AE roots are encrypted at rest with AES-256-GCM under it (common/crypto.h
 * crypto_seal), each record's ID bound as additional data, so a blob moved to
 * another row does not decrypt; a backend stores only sealed key blobs.
 * Errors are -errno, the same for every backend (below). Nothing here logs;
 * listings never carry key bytes.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/secret.h"
#include "common/util.h"
#include "common/wire.h"

#define STORE_MASTER_KEY_LEN 32
#define STORE_KCID_LEN 16
/* The schema this code reads and writes; older stores need store_open(..MIGRATE). */
/* 1: nodes, associations, meta, pairwise keys; 2: nodes.impi (method gba). */
#define STORE_SCHEMA_VERSION 2
#define STORE_IMPI_MAX 255 /* a GBA IMPI (NAI), method gba */

struct store;

enum store_backend {
	STORE_BACKEND_SQLITE,
	STORE_BACKEND_POSTGRESQL,
	_STORE_BACKEND_MAX,
};

/* Where the store is. */
struct store_config {
	enum store_backend backend;
	/* SQLite: the file's path. PostgreSQL: a libpq connection string, either
	 * "host=... dbname=..." or a postgresql:// URI (never with a password in it). */
	const char *location;
	/* PostgreSQL: a file whose first line is the password, or NULL (then libpq's
	 * own PGPASSFILE / ~/.pgpass apply). Read at every (re)connection. */
	const char *password_file;
	/* PostgreSQL: application_name, for pg_stat_activity; NULL: "m2msa". */
	const char *application_name;
	/* Where a backend may put a detail for a failed open (libpq's message), or NULL. */
	char *err;
	size_t err_len;
};

enum store_open_flags {
	STORE_OPEN_CREATE = 1 << 0, /* create the schema in an empty store */
	STORE_OPEN_MIGRATE = 1 << 1, /* bring an older schema up to STORE_SCHEMA_VERSION */
};

/* Connection events a server backend reports (it never logs itself). */
enum store_event {
	STORE_EVENT_CONNECTION_LOST, /* the operation will be retried after a reconnection */
	STORE_EVENT_RECONNECTED,
	STORE_EVENT_RETRY, /* serialization failure or deadlock: the transaction runs again */
	_STORE_EVENT_MAX,
};
typedef void (*store_notify_fn)(enum store_event ev, const char *msg, void *userdata);

enum store_node_state {
	STORE_NODE_ACTIVE,
	STORE_NODE_REVOKED,
	_STORE_NODE_STATE_MAX,
};

struct store_node {
	char node_id[WIRE_ID_MAX + 1];
	char km_id[WIRE_KEY_ID_MAX + 1];
	char target_id[WIRE_ID_MAX + 1]; /* the IN-CSE allowed to retrieve keys; may be empty */
	uint8_t methods[WIRE_METHODS_MAX]; /* allowed methods (enum wire_method) */
	size_t n_methods;
	uint64_t lifetime; /* seconds; 0 = the MAS default */
	enum store_node_state state;
	uint64_t created; /* epoch seconds */
	char impi[STORE_IMPI_MAX + 1]; /* method gba: the subscriber's IMPI at the BSF; "" none */
};

struct store_assoc {
	uint8_t kcid[STORE_KCID_LEN];
	char node_id[WIRE_ID_MAX + 1];
	char target_id[WIRE_ID_MAX + 1];
	uint8_t method;
	uint64_t created;
	uint64_t expiry;
	bool revoked;
};

/*
 * Open the store c names with the 32-byte master key, which is copied into
 * locked memory. flags: enum store_open_flags.
 * Errors: -ENOENT (location missing, e.g. its folder or database), -EACCES/-EPERM
 * (permissions, or a refused password), -EIO (not a store, or damaged), -EPROTO
 * (unknown or newer schema), -ESTALE (an older schema: run m2masctl migrate),
 * -ENODATA (empty store and no STORE_OPEN_CREATE), -EKEYREJECTED (the master key
 * is not this store's), -EBUSY (locked), -ECONNREFUSED/-EHOSTUNREACH/-ETIMEDOUT
 * (database server not reachable yet: temporary), -ENOTCONN (the connection
 * failed for good: SSL, CA, host name, ...), -EPROTONOSUPPORT (backend not built in).
 */
int store_open_config(const struct store_config *c,
		      const uint8_t master_key[static STORE_MASTER_KEY_LEN], unsigned flags,
		      struct store **ret);
/*
 * store_open_config with STORE_OPEN_CREATE on location: a postgresql:// or
 * postgres:// URI is a PostgreSQL store, anything else an SQLite file.
 */
int store_open(const char *location, const uint8_t master_key[static STORE_MASTER_KEY_LEN],
	       struct store **ret);
/*
 * Connect to the store c names without the master key and tell its schema
 * version (0: empty), for m2masctl init and migrate. Errors as store_open_config.
 */
int store_probe(const struct store_config *c, int *ret_version);
/* The backend location names (see store_open). */
enum store_backend store_backend_for_location(const char *location);
void store_close(struct store *s);
DEFINE_CLEANUP(struct store *, store_close)
/* Where the store is (for SQLite the absolute file name), for messages. */
const char *store_location(const struct store *s);
/* The backend's name: "sqlite" or "postgresql". */
const char *store_backend_name(const struct store *s);
/* "sqlite" / "postgresql" <-> enum; -EINVAL for another name. */
const char *store_backend_to_string(enum store_backend b);
int store_backend_from_string(const char *name, enum store_backend *ret);
/* The schema version the open store has (STORE_SCHEMA_VERSION once open). */
int store_schema_version(struct store *s, int *ret);
/* Hear how long each store operation took (ns) and whether it failed, e.g. for metrics. */
typedef void (*store_observe_fn)(uint64_t ns, bool failed, void *userdata);
void store_set_observer(struct store *s, store_observe_fn fn, void *userdata);
/* Receive connection events (PostgreSQL), e.g. to log them. */
void store_set_notify(struct store *s, store_notify_fn fn, void *userdata);

/*
 * Nodes. -EEXIST if node_id is taken, -ENOENT if unknown. km NULL: a node
 * without Km (its Km is Ks_NAF: method gba only; -EINVAL if methods has psk).
 */
int store_node_add(struct store *s, const struct store_node *n, const uint8_t *km);
/* The KmID m2masctl records for a node without Km (its KmIDs are B-TIDs). */
#define STORE_KM_ID_NONE "(gba)"
int store_node_get(struct store *s, const char *node_id, struct store_node *ret);
/* Decrypt the node's Km into ret (a new secret); -ENOKEY for a node stored without Km. */
int store_node_get_km(struct store *s, const char *node_id, struct secret **ret);
int store_node_set_target(struct store *s, const char *node_id, const char *target_id);
/* -ENOKEY: methods has psk and the node was stored without Km. */
int store_node_set_methods(struct store *s, const char *node_id, const uint8_t *methods,
			   size_t n_methods);
int store_node_set_lifetime(struct store *s, const char *node_id, uint64_t lifetime);
/*
 * Method gba: the IMPI the BSF must report for this node's B-TID ("" clears it).
 * -EINVAL for an IMPI that is not 1..255 of A-Z a-z 0-9 . _ - @ + ! ~ %.
 * Backends keep it in the nodes table (column nodes.impi, schema 2).
 */
int store_node_set_impi(struct store *s, const char *node_id, const char *impi);
/* True for "" and for a valid IMPI (NAI, RFC 7542 / TS 23.003 §13.3). */
bool store_impi_valid(const char *impi);
/*
 * Revoking a node also revokes, in the same transaction, all its associations and
 * its pairwise keys in both directions: the ones it registered and the ones other
 * nodes registered towards an AE on it (target "/<node>/<AE-ID>", as
 * wire_target_names_node() reads it). Returns how many pairwise keys it revoked
 * (keys revoked before do not count), -ENOENT for an unknown node.
 */
int store_node_revoke(struct store *s, const char *node_id);
/*
 * Deleting a node deletes, in the same transaction, its associations and its
 * pairwise keys in both directions (as store_node_revoke). Returns how many
 * pairwise keys it deleted, -ENOENT for an unknown node.
 */
int store_node_delete(struct store *s, const char *node_id);
/* Calls cb for every node in node_id order; cb returning non-zero stops with that value. */
int store_node_foreach(struct store *s, int (*cb)(const struct store_node *n, void *userdata),
		       void *userdata);

/* Associations. kc and ae_root are 32 bytes each, stored encrypted. */
int store_assoc_add(struct store *s, const struct store_assoc *a, const uint8_t kc[static 32],
		    const uint8_t ae_root[static 32]);
/* -ENOENT if unknown. */
int store_assoc_get(struct store *s, const uint8_t kcid[static STORE_KCID_LEN],
		    struct store_assoc *ret);
/* Decrypt Kc and the AE root (either ret may be NULL). */
int store_assoc_get_keys(struct store *s, const uint8_t kcid[static STORE_KCID_LEN],
			 struct secret **ret_kc, struct secret **ret_ae_root);
int store_assoc_revoke(struct store *s, const uint8_t kcid[static STORE_KCID_LEN]);
/* node_id NULL: all. */
int store_assoc_foreach(struct store *s, const char *node_id,
			int (*cb)(const struct store_assoc *a, void *userdata), void *userdata);
/* Delete associations whose expiry is <= now; returns how many were removed. */
int store_assoc_purge_expired(struct store *s, uint64_t now);

/*
 * Pairwise end-to-end keys (docs/protocol.md §14, SUID 33): registered by an
 * originator AE on node_id towards an absolute target AE-ID, the key sealed
 * with aad "peer:" || id. Revoking a node revokes the pairwise keys it
 * registered and the ones towards its AEs; deleting it deletes them.
 */
#define STORE_PEER_ID_LEN 16

struct store_peer_key {
	uint8_t id[STORE_PEER_ID_LEN];
	char node_id[WIRE_ID_MAX + 1];	  /* the originator's node */
	char ae_id[WIRE_ID_MAX + 1];	  /* the originator AE-ID */
	char target[WIRE_TARGET_MAX + 1]; /* absolute AE-ID "/<CSE-ID>/<AE-ID>" */
	uint64_t created;
	uint64_t expiry;
	bool revoked;
};

/*
 * Checked in the insert's own transaction, so that a node revoke or delete at
 * the same time (here or in another m2masd on the same database) cannot miss
 * the new key: -EKEYREVOKED if the originator's node (node_id) or the target's
 * node (the one its CSE part names: "/<CSE-ID>", else "<CSE-ID>") is revoked,
 * -ENOENT if either does not exist. -EEXIST if the id is taken, -EINVAL for
 * bad fields.
 */
int store_peer_key_add(struct store *s, const struct store_peer_key *k,
		       const uint8_t key[static 32]);
/* -ENOENT if unknown. ret_key (a new secret) may be NULL. */
int store_peer_key_get(struct store *s, const uint8_t id[static STORE_PEER_ID_LEN],
		       struct store_peer_key *ret, struct secret **ret_key);
int store_peer_key_revoke(struct store *s, const uint8_t id[static STORE_PEER_ID_LEN]);
/* Delete pairwise keys whose expiry is <= now; returns how many were removed. */
int store_peer_key_purge_expired(struct store *s, uint64_t now);

const char *store_node_state_to_string(enum store_node_state st);
