/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The MAS node store: nodes (subscriptions) and associations (registered keys).
 * This is the one interface m2masd and m2masctl use, whatever keeps the rows; a
 * backend implements every function below in its own file (store-sqlite.c, the
 * embedded default; each backend documents its location format and files there).
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
#define STORE_IMPI_MAX 255 /* a GBA IMPI (NAI), method gba */

struct store;

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
 * Open (creating the schema if needed) the store at location (for SQLite a file
 * path) with the 32-byte master key, which is copied into locked memory.
 * Errors: -ENOENT (location missing, e.g. its folder), -EACCES/-EPERM, -EIO (not
 * a store, or damaged), -EPROTO (unknown schema), -EKEYREJECTED (the master key
 * is not this store's), -EBUSY (locked).
 */
int store_open(const char *location, const uint8_t master_key[static STORE_MASTER_KEY_LEN],
	       struct store **ret);
void store_close(struct store *s);
DEFINE_CLEANUP(struct store *, store_close)
/* Where the store is (for SQLite the absolute file name), for messages. */
const char *store_location(const struct store *s);

/* Nodes. -EEXIST if node_id is taken, -ENOENT if unknown. */
int store_node_add(struct store *s, const struct store_node *n, const uint8_t km[static 32]);
int store_node_get(struct store *s, const char *node_id, struct store_node *ret);
/* Decrypt the node's Km into ret (a new secret). */
int store_node_get_km(struct store *s, const char *node_id, struct secret **ret);
int store_node_set_target(struct store *s, const char *node_id, const char *target_id);
int store_node_set_methods(struct store *s, const char *node_id, const uint8_t *methods,
			   size_t n_methods);
int store_node_set_lifetime(struct store *s, const char *node_id, uint64_t lifetime);
/*
 * Method gba: the IMPI the BSF must report for this node's B-TID ("" clears it).
 * -EINVAL for an IMPI that is not 1..255 of A-Z a-z 0-9 . _ - @ + ! ~ %.
 * Backends keep it in the nodes table (SQLite: column nodes.impi, schema 2).
 */
int store_node_set_impi(struct store *s, const char *node_id, const char *impi);
/* True for "" and for a valid IMPI (NAI, RFC 7542 / TS 23.003 §13.3). */
bool store_impi_valid(const char *impi);
/* Revoking a node also revokes all its associations. */
int store_node_revoke(struct store *s, const char *node_id);
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
 * registered; deleting it deletes them.
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

/* -EEXIST if the id is taken, -ENOENT if node_id is unknown, -EINVAL for bad fields. */
int store_peer_key_add(struct store *s, const struct store_peer_key *k,
		       const uint8_t key[static 32]);
/* -ENOENT if unknown. ret_key (a new secret) may be NULL. */
int store_peer_key_get(struct store *s, const uint8_t id[static STORE_PEER_ID_LEN],
		       struct store_peer_key *ret, struct secret **ret_key);
int store_peer_key_revoke(struct store *s, const uint8_t id[static STORE_PEER_ID_LEN]);
/* Delete pairwise keys whose expiry is <= now; returns how many were removed. */
int store_peer_key_purge_expired(struct store *s, uint64_t now);

const char *store_node_state_to_string(enum store_node_state st);
