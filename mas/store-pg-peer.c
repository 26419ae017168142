/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The PostgreSQL backend's pairwise end-to-end keys (docs/protocol.md §14): the
 * peer_keys rows, each operation one statement run through store-pg-conn.c
 * (store-pg-conn.h), the insert one transaction. The table itself is in the
 * schema in store-pg.c; so is what node revoke and delete do to a node's
 * pairwise keys.
 */
#include <errno.h>
#include <libpq-fe.h>
#include <stdint.h>

#include "mas/store-backend.h"
#include "mas/store-pg-conn.h"
#include "mas/store.h"

#define PEER_COLUMNS "id, node_id, ae_id, target, created, expiry, revoked"

/* A pairwise key to insert (pg_peer_insert). */
struct peer_in {
	const struct store_peer_key *k;
	const char *target_cse;
	const uint8_t *sealed;
};

/*
 * The node rows FOR SHARE before the insert: a node revoke (its UPDATE) or delete
 * (its SELECT ... FOR UPDATE) of either node waits until this transaction ends
 * and then takes the new key; or this one waits for it and reads the node
 * revoked or gone (READ COMMITTED reads the row's newest version).
 */
static int op_peer_insert_body(struct pg_store *p, void *ud)
{
	const struct peer_in *in = ud;
	_cleanup_pg_res_ PGresult *res = NULL;
	struct pg_params nodes = { 0 }, par = { 0 };
	int r;

	pg_par_text(&nodes, in->k->node_id);
	pg_par_text(&nodes, in->target_cse);
	pg_par_text(&nodes, in->target_cse + 1);
	r = pg_exec(p, "SELECT (SELECT state FROM nodes WHERE node_id = $1 FOR SHARE), "
		       "coalesce((SELECT state FROM nodes WHERE node_id = $2 FOR SHARE), "
		       "(SELECT state FROM nodes WHERE node_id = $3 FOR SHARE))",
		    &nodes, &res);
	if (r < 0)
		return r;
	if (PQntuples(res) != 1)
		return -EIO;
	/* SQL NULL: no such node. The texts live until res is cleared, at the return. */
	r = store_peer_nodes_check(PQgetisnull(res, 0, 0) ? NULL : PQgetvalue(res, 0, 0),
				   PQgetisnull(res, 0, 1) ? NULL : PQgetvalue(res, 0, 1));
	if (r < 0)
		return r;
	pg_par_blob(&par, in->k->id, STORE_PEER_ID_LEN);
	pg_par_text(&par, in->k->node_id);
	pg_par_text(&par, in->k->ae_id);
	pg_par_text(&par, in->k->target);
	pg_par_u64(&par, in->k->created);
	pg_par_u64(&par, in->k->expiry);
	pg_par_text(&par, in->k->revoked ? "true" : "false");
	pg_par_blob(&par, in->sealed, STORE_SEALED_LEN);
	return pg_exec(p, "INSERT INTO peer_keys (" PEER_COLUMNS ", key_sealed) "
			  "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
		       &par, NULL);
}

static int op_peer_insert(struct pg_store *p, void *ud)
{
	return pg_tx(p, op_peer_insert_body, ud);
}

int pg_peer_insert(struct store *s, const struct store_peer_key *k, const char *target_cse,
		   const uint8_t key_sealed[static STORE_SEALED_LEN])
{
	struct peer_in in = { k, target_cse, key_sealed };

	return pg_run(to_pg(s), op_peer_insert, &in);
}

/* Where a pairwise key row goes: its fields, then its sealed key. */
struct peer_out {
	struct store_peer_key *k;
	uint8_t *sealed;
};

static int row_peer(const PGresult *res, void *out)
{
	struct peer_out *po = out;
	struct store_peer_key k = { .revoked = false };
	int r;

	if ((r = pg_col_blob(res, 0, 0, k.id, STORE_PEER_ID_LEN)) < 0 ||
	    (r = pg_col_text(res, 0, 1, k.node_id, sizeof(k.node_id))) < 0 ||
	    (r = pg_col_text(res, 0, 2, k.ae_id, sizeof(k.ae_id))) < 0 ||
	    (r = pg_col_text(res, 0, 3, k.target, sizeof(k.target))) < 0 ||
	    (r = pg_col_u64(res, 0, 4, &k.created)) < 0 ||
	    (r = pg_col_u64(res, 0, 5, &k.expiry)) < 0 ||
	    (r = pg_col_blob(res, 0, 7, po->sealed, STORE_SEALED_LEN)) < 0)
		return r;
	if (PQgetisnull(res, 0, 6) || PQgetlength(res, 0, 6) != 1)
		return -EIO;
	k.revoked = PQgetvalue(res, 0, 6)[0] != 0;
	*po->k = k;
	return 0;
}

int pg_peer_get(struct store *s, const uint8_t id[static STORE_PEER_ID_LEN],
		struct store_peer_key *ret, uint8_t key_sealed[static STORE_SEALED_LEN])
{
	struct peer_out po = { ret, key_sealed };

	return pg_read_by_blob(s, "SELECT " PEER_COLUMNS ", key_sealed FROM peer_keys "
				  "WHERE id = $1", id, STORE_PEER_ID_LEN, row_peer, &po);
}

int pg_peer_revoke(struct store *s, const uint8_t id[static STORE_PEER_ID_LEN])
{
	return pg_write_by_blob(s, "UPDATE peer_keys SET revoked = true WHERE id = $1", id,
				STORE_PEER_ID_LEN);
}

int pg_peer_purge(struct store *s, uint64_t now)
{
	return pg_purge_batched(s, "DELETE FROM peer_keys WHERE id IN (SELECT id FROM peer_keys "
				   "WHERE expiry <= $1 LIMIT " STRINGIFY(PG_PURGE_BATCH) ")", now);
}
