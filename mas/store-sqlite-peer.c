/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The SQLite backend's pairwise end-to-end keys (docs/protocol.md §14): the
 * peer_keys rows, through the statements cached in store-sqlite.c
 * (store-sqlite-int.h). The table itself and its addition to older schema 1
 * files are with the rest of the schema in store-sqlite.c; so is what node
 * revoke and delete do to a node's pairwise keys. An insert checks, under the
 * same write lock, that neither of the key's nodes is revoked or gone.
 */
#include <errno.h>
#include <sqlite3.h>
#include <stdint.h>

#include "common/util.h"
#include "mas/store-backend.h"
#include "mas/store-sqlite-int.h"
#include "mas/store-sqlite-util.h"
#include "mas/store.h"

/* store_peer_nodes_check() on the states of the originator's node and the target's node. */
static int peer_nodes(struct sqlite_store *q, const char *node_id, const char *target_cse)
{
	_cleanup_stmt_reset_ sqlite3_stmt *st = NULL;
	int r;

	r = sq_stmt_get(q, STMT_PEER_NODES, &st);
	if (r < 0)
		return r;
	if ((r = sq_bind_text(st, 1, node_id)) < 0 || (r = sq_bind_text(st, 2, target_cse)) < 0 ||
	    (r = sq_bind_text(st, 3, target_cse + 1)) < 0)
		return r;
	r = sq_step_row(q->db, st);
	if (r <= 0)
		return r < 0 ? r : -EIO;
	return store_peer_nodes_check((const char *)sqlite3_column_text(st, 0),
				      (const char *)sqlite3_column_text(st, 1));
}

static int peer_insert_row(struct sqlite_store *q, const struct store_peer_key *k,
			   const uint8_t key_sealed[static STORE_SEALED_LEN])
{
	_cleanup_stmt_reset_ sqlite3_stmt *st = NULL;
	int r;

	r = sq_stmt_get(q, STMT_PEER_INSERT, &st);
	if (r < 0)
		return r;
	if ((r = sq_bind_blob(st, 1, k->id, STORE_PEER_ID_LEN)) < 0 ||
	    (r = sq_bind_text(st, 2, k->node_id)) < 0 || (r = sq_bind_text(st, 3, k->ae_id)) < 0 ||
	    (r = sq_bind_text(st, 4, k->target)) < 0 || (r = sq_bind_u64(st, 5, k->created)) < 0 ||
	    (r = sq_bind_u64(st, 6, k->expiry)) < 0 || (r = sq_bind_u64(st, 7, k->revoked ? 1 : 0)) < 0 ||
	    (r = sq_bind_blob(st, 8, key_sealed, STORE_SEALED_LEN)) < 0)
		return r;
	return sq_step_done(q->db, st);
}

int sq_peer_insert(struct store *s, const struct store_peer_key *k, const char *target_cse,
		   const uint8_t key_sealed[static STORE_SEALED_LEN])
{
	struct sqlite_store *q = to_sq(s);
	int r;

	/* Under the write lock, which node revoke and delete take too: one runs wholly first. */
	r = sq_exec(q->db, "BEGIN IMMEDIATE");
	if (r < 0)
		return r;
	r = peer_nodes(q, k->node_id, target_cse);
	if (r >= 0)
		r = peer_insert_row(q, k, key_sealed);
	return sq_tx_end(q->db, r);
}

static int peer_from_row(sqlite3_stmt *st, struct store_peer_key *ret)
{
	struct store_peer_key k = { .revoked = false };
	sqlite3_int64 created = sqlite3_column_int64(st, 4), expiry = sqlite3_column_int64(st, 5);
	int r;

	r = sq_column_blob(st, 0, k.id, STORE_PEER_ID_LEN);
	if (r >= 0)
		r = sq_copy_text(k.node_id, sizeof(k.node_id), sqlite3_column_text(st, 1));
	if (r >= 0)
		r = sq_copy_text(k.ae_id, sizeof(k.ae_id), sqlite3_column_text(st, 2));
	if (r >= 0)
		r = sq_copy_text(k.target, sizeof(k.target), sqlite3_column_text(st, 3));
	if (r < 0)
		return r;
	if (created < 0 || expiry < 0)
		return -EIO;
	k.created = (uint64_t)created;
	k.expiry = (uint64_t)expiry;
	k.revoked = sqlite3_column_int64(st, 6) != 0;
	*ret = k;
	return 0;
}

int sq_peer_get(struct store *s, const uint8_t id[static STORE_PEER_ID_LEN],
		struct store_peer_key *ret, uint8_t key_sealed[static STORE_SEALED_LEN])
{
	_cleanup_stmt_reset_ sqlite3_stmt *st = NULL;
	int r = sq_blob_row(to_sq(s), STMT_PEER_GET, id, STORE_PEER_ID_LEN, &st);

	if (r <= 0)
		return r < 0 ? r : -ENOENT;
	r = peer_from_row(st, ret);
	if (r >= 0)
		r = sq_column_blob(st, 7, key_sealed, STORE_SEALED_LEN);
	return r;
}

int sq_peer_revoke(struct store *s, const uint8_t id[static STORE_PEER_ID_LEN])
{
	return sq_blob_write(to_sq(s), STMT_PEER_REVOKE, id, STORE_PEER_ID_LEN);
}

int sq_peer_purge(struct store *s, uint64_t now)
{
	return sq_purge_expired(to_sq(s), STMT_PEER_PURGE, now);
}
