/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the SQLite backend's files share: store-sqlite.c (opening, schema, the
 * statement cache, nodes, associations) and store-sqlite-peer.c (pairwise keys).
 * The statements' SQL is stmt_sql in store-sqlite.c. Nobody else includes it.
 */
#pragma once

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mas/store-backend.h"
#include "mas/store.h"

/* The statements prepared once and cached per connection. */
enum stmt_id {
	STMT_NODE_INSERT,
	STMT_NODE_GET,
	STMT_NODE_GET_KM,
	STMT_NODE_SET_TARGET,
	STMT_NODE_SET_METHODS,
	STMT_NODE_SET_LIFETIME,
	STMT_NODE_SET_IMPI,
	STMT_NODE_REVOKE,
	STMT_NODE_REVOKE_ASSOCS,
	STMT_NODE_REVOKE_PEERS,
	STMT_NODE_DELETE,
	STMT_NODE_DELETE_PEERS,
	STMT_ASSOC_INSERT,
	STMT_ASSOC_GET,
	STMT_ASSOC_GET_KEYS,
	STMT_ASSOC_REVOKE,
	STMT_ASSOC_PURGE,
	STMT_META_GET,
	STMT_PEER_NODES,
	STMT_PEER_INSERT,
	STMT_PEER_GET,
	STMT_PEER_REVOKE,
	STMT_PEER_PURGE,
	_STMT_MAX,
};

struct sqlite_store {
	struct store base;
	sqlite3 *db;
	sqlite3_stmt *stmts[_STMT_MAX];
	char *path;
	bool created_file;
};

static inline struct sqlite_store *to_sq(struct store *s)
{
	return (struct sqlite_store *)s;
}

/* The cached statement id, prepared at its first use. */
int sq_stmt_get(struct sqlite_store *q, enum stmt_id id, sqlite3_stmt **ret);
/*
 * Run statement id with a blob (key, len) as ?1: 1 and st left on the row, 0 for
 * none, or -errno.
 */
int sq_blob_row(struct sqlite_store *q, enum stmt_id id, const void *key, size_t len,
		sqlite3_stmt **st);
/* Run the one-row write id keyed by a blob (key, len) as ?1: -ENOENT if it changed no row. */
int sq_blob_write(struct sqlite_store *q, enum stmt_id id, const void *key, size_t len);
/* Run the DELETE id of the rows expired by now (?1); returns how many went. */
int sq_purge_expired(struct sqlite_store *q, enum stmt_id id, uint64_t now);

/* Pairwise keys (store-sqlite-peer.c): the peer_* of store_sqlite_ops. */
int sq_peer_insert(struct store *s, const struct store_peer_key *k, const char *target_cse,
		   const uint8_t key_sealed[static STORE_SEALED_LEN]);
int sq_peer_get(struct store *s, const uint8_t id[static STORE_PEER_ID_LEN],
		struct store_peer_key *ret, uint8_t key_sealed[static STORE_SEALED_LEN]);
int sq_peer_revoke(struct store *s, const uint8_t id[static STORE_PEER_ID_LEN]);
int sq_peer_purge(struct store *s, uint64_t now);
