/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The MAS node store on PostgreSQL (mas/store-backend.h): several m2masd
 * instances on several machines share one database.
 *
 * The SQL stays inside what PostgreSQL-compatible distributed databases accept
 * (DESIGN.md "The MAS at scale"): plain tables keyed by KcID and node ID, no
 * server-side functions, no advisory locks, every write idempotent or one
 * statement, and a transaction that fails with a serialization failure or a
 * deadlock runs again. Lists page by key (WHERE key > last ORDER BY key LIMIT n),
 * never with a server-side cursor.
 *
 * The connection, the retries, statement execution and reading result columns
 * are store-pg-conn.c; the pairwise keys' rows are store-pg-peer.c.
 * Each operation is one statement or one transaction, so a loss in the middle
 * leaves nothing half-written.
 *
 * Schema versions live in the table m2msa_schema (one row per migration
 * applied); the key check in meta like the SQLite backend's.
 */
#include <errno.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/util.h"
#include "common/wire.h"
#include "mas/store-backend.h"
#include "mas/store-pg-conn.h"
#include "mas/store.h"

#define PG_PAGE 500

/* Migration n takes the schema from version n-1 to n (index n-1 here). */
static const char *const migrations[STORE_SCHEMA_VERSION] = {
	/* 1: nodes, associations, meta, pairwise keys */
	"CREATE TABLE meta ("
	"  name TEXT PRIMARY KEY,"
	"  value BYTEA NOT NULL);"
	"CREATE TABLE nodes ("
	"  node_id TEXT PRIMARY KEY,"
	"  km_id TEXT NOT NULL,"
	"  target_id TEXT NOT NULL DEFAULT '',"
	"  methods TEXT NOT NULL,"
	"  lifetime BIGINT NOT NULL DEFAULT 0 CHECK (lifetime >= 0),"
	"  state TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'revoked')),"
	"  created BIGINT NOT NULL,"
	"  km_sealed BYTEA NOT NULL);"
	"CREATE TABLE assocs ("
	"  kcid BYTEA PRIMARY KEY CHECK (length(kcid) = 16),"
	"  node_id TEXT NOT NULL REFERENCES nodes(node_id) ON DELETE CASCADE,"
	"  target_id TEXT NOT NULL DEFAULT '',"
	"  method BIGINT NOT NULL,"
	"  created BIGINT NOT NULL,"
	"  expiry BIGINT NOT NULL,"
	"  revoked BOOLEAN NOT NULL DEFAULT false,"
	"  kc_sealed BYTEA NOT NULL,"
	"  ae_root_sealed BYTEA NOT NULL);"
	"CREATE INDEX assocs_node ON assocs(node_id);"
	"CREATE INDEX assocs_expiry ON assocs(expiry);"
	"CREATE TABLE peer_keys ("
	"  id BYTEA PRIMARY KEY CHECK (length(id) = " STRINGIFY(STORE_PEER_ID_LEN) "),"
	"  node_id TEXT NOT NULL REFERENCES nodes(node_id) ON DELETE CASCADE,"
	"  ae_id TEXT NOT NULL,"
	"  target TEXT NOT NULL,"
	"  created BIGINT NOT NULL,"
	"  expiry BIGINT NOT NULL,"
	"  revoked BOOLEAN NOT NULL DEFAULT false,"
	"  key_sealed BYTEA NOT NULL);"
	"CREATE INDEX peer_keys_node ON peer_keys(node_id);"
	"CREATE INDEX peer_keys_expiry ON peer_keys(expiry);",
	/* 2: the node's IMPI for method gba */
	"ALTER TABLE nodes ADD COLUMN impi TEXT NOT NULL DEFAULT '';",
};

#define NODE_COLUMNS "node_id, km_id, target_id, methods, lifetime, state, created, impi"
#define ASSOC_COLUMNS "kcid, node_id, target_id, method, created, expiry, revoked"

static int node_from_row(const PGresult *res, int row, struct store_node *ret)
{
	struct store_node n = { .state = STORE_NODE_ACTIVE };
	char methods[STORE_METHODS_TEXT_MAX], state[16];
	int r;

	if ((r = pg_col_text(res, row, 0, n.node_id, sizeof(n.node_id))) < 0 ||
	    (r = pg_col_text(res, row, 1, n.km_id, sizeof(n.km_id))) < 0 ||
	    (r = pg_col_text(res, row, 2, n.target_id, sizeof(n.target_id))) < 0 ||
	    (r = pg_col_text(res, row, 3, methods, sizeof(methods))) < 0 ||
	    (r = store_methods_from_text(methods, n.methods, &n.n_methods)) < 0 ||
	    (r = pg_col_u64(res, row, 4, &n.lifetime)) < 0 ||
	    (r = pg_col_text(res, row, 5, state, sizeof(state))) < 0 ||
	    (r = store_node_state_from_string(state, &n.state)) < 0 ||
	    (r = pg_col_u64(res, row, 6, &n.created)) < 0 ||
	    (r = pg_col_text(res, row, 7, n.impi, sizeof(n.impi))) < 0)
		return r;
	*ret = n;
	return 0;
}

static int assoc_from_row(const PGresult *res, int row, struct store_assoc *ret)
{
	struct store_assoc a = { .revoked = false };
	uint64_t method;
	int r;

	if ((r = pg_col_blob(res, row, 0, a.kcid, STORE_KCID_LEN)) < 0 ||
	    (r = pg_col_text(res, row, 1, a.node_id, sizeof(a.node_id))) < 0 ||
	    (r = pg_col_text(res, row, 2, a.target_id, sizeof(a.target_id))) < 0 ||
	    (r = pg_col_u64(res, row, 3, &method)) < 0 ||
	    (r = pg_col_u64(res, row, 4, &a.created)) < 0 ||
	    (r = pg_col_u64(res, row, 5, &a.expiry)) < 0)
		return r;
	if (method > UINT8_MAX || PQgetisnull(res, row, 6) || PQgetlength(res, row, 6) != 1)
		return -EIO;
	a.method = (uint8_t)method;
	a.revoked = PQgetvalue(res, row, 6)[0] != 0;
	*ret = a;
	return 0;
}

static void pg_close(struct store *s)
{
	struct pg_store *p = to_pg(s);

	PQfinish(p->conn);
	free(p->conninfo);
	free(p->password_file);
	free(p->app_name);
	free(p);
}

static int pg_open(const struct store_config *c, struct store **ret)
{
	struct pg_store *p;
	int r;

	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->base.ops = &store_pg_ops;
	p->conninfo = strdup(c->location);
	p->password_file = c->password_file ? strdup(c->password_file) : NULL;
	p->app_name = strdup(c->application_name ? c->application_name : "m2msa");
	snprintf(p->location, sizeof(p->location), "PostgreSQL '%s'", c->location);
	if (!p->conninfo || !p->app_name || (c->password_file && !p->password_file)) {
		pg_close(&p->base);
		return -ENOMEM;
	}
	r = pg_connect(p, c->err, c->err_len);
	if (r < 0) {
		pg_close(&p->base);
		return r;
	}
	*ret = &p->base;
	return 0;
}

static const char *pg_location(const struct store *s)
{
	return ((const struct pg_store *)s)->location;
}

/* ---- schema ---- */

static int op_schema_version(struct pg_store *p, void *ud)
{
	_cleanup_pg_res_ PGresult *res = NULL;
	uint64_t v;
	int *ret = ud, n_ours = 0, n_tables;
	bool versioned = false;
	int r;

	r = pg_exec(p,
		    "SELECT table_name::text FROM information_schema.tables "
		    "WHERE table_schema = current_schema() AND "
		    "table_name IN ('m2msa_schema', 'meta', 'nodes', 'assocs', 'peer_keys')",
		    &(struct pg_params){ 0 }, &res);
	if (r < 0)
		return r;
	n_tables = PQntuples(res);
	for (int i = 0; i < n_tables; i++) {
		if (strcmp(PQgetvalue(res, i, 0), "m2msa_schema") == 0)
			versioned = true;
		else
			n_ours++;
	}
	PQclear(res);
	res = NULL;
	if (!versioned) {
		if (n_ours > 0)
			return -EPROTO; /* tables of that name, but not ours */
		*ret = 0;
		return 0;
	}
	r = pg_exec(p, "SELECT COALESCE(max(version), 0)::bigint FROM m2msa_schema",
		    &(struct pg_params){ 0 }, &res);
	if (r < 0)
		return r;
	if (PQntuples(res) != 1 || pg_col_u64(res, 0, 0, &v) < 0 || v == 0 || v > 1000000)
		return -EPROTO;
	*ret = (int)v;
	return 0;
}

static int pg_schema_version(struct store *s, int *ret)
{
	return pg_run(to_pg(s), op_schema_version, ret);
}

struct migrate_args {
	int from, to;
	const uint8_t *key_check;
	size_t len;
};

static int op_migrate_body(struct pg_store *p, void *ud)
{
	struct migrate_args *m = ud;
	struct pg_params par = { 0 };
	int version, r;

	r = op_schema_version(p, &version);
	if (r < 0 || version != m->from)
		return r; /* someone else did it meanwhile: the caller looks again */
	if (m->from == 0) {
		r = pg_exec(p,
			    "CREATE TABLE m2msa_schema (version INTEGER PRIMARY KEY, "
			    "applied BIGINT NOT NULL)",
			    NULL, NULL);
		if (r < 0)
			return r;
	}
	for (int v = m->from + 1; v <= m->to; v++) {
		/* The version row first: a concurrent migrator blocks on it, then fails. */
		par = (struct pg_params){ 0 };
		pg_par_u64(&par, (uint64_t)v);
		pg_par_u64(&par, (uint64_t)time(NULL));
		r = pg_exec(p, "INSERT INTO m2msa_schema (version, applied) VALUES ($1, $2)", &par,
			    NULL);
		if (r >= 0)
			r = pg_exec(p, migrations[v - 1], NULL, NULL);
		if (r < 0)
			return r;
	}
	if (m->from == 0) {
		par = (struct pg_params){ 0 };
		pg_par_blob(&par, m->key_check, m->len);
		r = pg_exec(p, "INSERT INTO meta (name, value) VALUES ('key_check', $1)", &par,
			    NULL);
	}
	return r;
}

static int op_migrate(struct pg_store *p, void *ud)
{
	int r = pg_tx(p, op_migrate_body, ud);

	/* Another instance created or migrated it at the same time: not an error. */
	return r == -EEXIST ? 0 : r;
}

static int pg_migrate(struct store *s, int from, int to, const uint8_t *key_check, size_t len)
{
	struct migrate_args m = { from, to, key_check, len };

	if (from < 0 || to > STORE_SCHEMA_VERSION || from >= to)
		return -EINVAL;
	return pg_run(to_pg(s), op_migrate, &m);
}

static int row_blob(const PGresult *res, void *out)
{
	return pg_col_blob(res, 0, 0, out, STORE_SEALED_LEN);
}

/* km_sealed, or -ENOKEY when it is empty (a node stored without Km). */
static int row_km(const PGresult *res, void *out)
{
	if (!PQgetisnull(res, 0, 0) && PQgetlength(res, 0, 0) == 0)
		return -ENOKEY;
	return pg_col_blob(res, 0, 0, out, STORE_SEALED_LEN);
}

static int pg_meta_get(struct store *s, const char *name, uint8_t *buf, size_t len)
{
	struct pg_one o = { .sql = "SELECT value FROM meta WHERE name = $1", .row = row_blob,
			    .out = buf };

	if (len != STORE_SEALED_LEN)
		return -EINVAL;
	pg_par_text(&o.par, name);
	return pg_run_one(s, &o);
}

/* ---- nodes ---- */

static int pg_node_insert(struct store *s, const struct store_node *n, const char *methods,
			  uint64_t created, const uint8_t *km_sealed, size_t km_sealed_len)
{
	struct pg_one o = { .sql = "INSERT INTO nodes (" NODE_COLUMNS ", km_sealed) "
				   "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)" };

	pg_par_text(&o.par, n->node_id);
	pg_par_text(&o.par, n->km_id);
	pg_par_text(&o.par, n->target_id);
	pg_par_text(&o.par, methods);
	pg_par_u64(&o.par, n->lifetime);
	pg_par_text(&o.par, store_node_state_to_string(n->state));
	pg_par_u64(&o.par, created);
	pg_par_text(&o.par, n->impi);
	pg_par_blob(&o.par, km_sealed, km_sealed_len); /* 0: an empty bytea, not NULL */
	return pg_run_one(s, &o);
}

static int row_node(const PGresult *res, void *out)
{
	return node_from_row(res, 0, out);
}

static int pg_node_get(struct store *s, const char *node_id, struct store_node *ret)
{
	struct pg_one o = { .sql = "SELECT " NODE_COLUMNS " FROM nodes WHERE node_id = $1",
			    .row = row_node, .out = ret };

	pg_par_text(&o.par, node_id);
	return pg_run_one(s, &o);
}

static int pg_node_get_km(struct store *s, const char *node_id,
			  uint8_t ret_sealed[static STORE_SEALED_LEN])
{
	struct pg_one o = { .sql = "SELECT km_sealed FROM nodes WHERE node_id = $1", .row = row_km,
			    .out = ret_sealed };

	pg_par_text(&o.par, node_id);
	return pg_run_one(s, &o);
}

/* A write keyed by one text ($1), with an optional text or number $2: -ENOENT if no row. */
static int write_keyed(struct store *s, const char *sql, const char *key, const char *text,
		       const uint64_t *num)
{
	struct pg_one o = { .sql = sql };

	pg_par_text(&o.par, key);
	if (text)
		pg_par_text(&o.par, text);
	if (num)
		pg_par_u64(&o.par, *num);
	return pg_write_one(s, &o);
}

static int pg_node_set(struct store *s, enum store_node_field f, const char *node_id,
		       const char *text, uint64_t num)
{
	switch (f) {
	case STORE_NODE_FIELD_TARGET:
		return write_keyed(s, "UPDATE nodes SET target_id = $2 WHERE node_id = $1", node_id,
				   text, NULL);
	case STORE_NODE_FIELD_METHODS:
		return write_keyed(s, "UPDATE nodes SET methods = $2 WHERE node_id = $1", node_id,
				   text, NULL);
	case STORE_NODE_FIELD_LIFETIME:
		return write_keyed(s, "UPDATE nodes SET lifetime = $2 WHERE node_id = $1", node_id,
				   NULL, &num);
	case STORE_NODE_FIELD_IMPI:
		return write_keyed(s, "UPDATE nodes SET impi = $2 WHERE node_id = $1", node_id,
				   text, NULL);
	default:
		return -EINVAL;
	}
}

/*
 * The pairwise keys of node $1 in both directions: registered by it, or towards
 * one of its AEs, i.e. target = $2 || AE-ID with $2 = "/<CSE-ID>/" and no '/' in
 * the AE-ID (wire_target_names_node). left and strpos, not LIKE: '_' may be in a
 * node ID and is a LIKE wildcard.
 */
#define PEERS_OF_NODE                                                                          \
	"(node_id = $1 OR (left(target, length($2::text)) = $2::text AND "                     \
	"strpos(substr(target, length($2::text) + 1), '/') = 0))"

/* A node ID and the target prefix of its AEs (store-backend.h), for node_revoke/delete. */
struct node_keys {
	const char *node_id, *target_prefix;
};

/* Both bodies return how many pairwise keys they changed, or -errno. */
static int op_node_revoke_body(struct pg_store *p, void *ud)
{
	const struct node_keys *nk = ud;
	struct pg_params par = { 0 }, peers = { 0 };
	int r;

	pg_par_text(&par, nk->node_id);
	pg_par_text(&peers, nk->node_id);
	pg_par_text(&peers, nk->target_prefix);
	/* The node's row first: it waits for a pairwise key insert that holds it
	 * (store-pg-peer.c), whose key the UPDATE of peer_keys then sees. */
	r = pg_exec_changes(p, "UPDATE nodes SET state = 'revoked' WHERE node_id = $1", &par);
	if (r == 0)
		return -ENOENT;
	if (r > 0)
		r = pg_exec_changes(p, "UPDATE assocs SET revoked = true WHERE node_id = $1", &par);
	if (r >= 0)
		r = pg_exec_changes(p, "UPDATE peer_keys SET revoked = true "
				       "WHERE NOT revoked AND " PEERS_OF_NODE, &peers);
	return r;
}

static int op_node_delete_body(struct pg_store *p, void *ud)
{
	const struct node_keys *nk = ud;
	struct pg_params par = { 0 }, peers = { 0 };
	int r, n;

	pg_par_text(&par, nk->node_id);
	pg_par_text(&peers, nk->node_id);
	pg_par_text(&peers, nk->target_prefix);
	/* The node's row locked first, as node revoke's UPDATE does (see there). */
	r = pg_exec_changes(p, "SELECT 1 FROM nodes WHERE node_id = $1 FOR UPDATE", &par);
	if (r <= 0)
		return r < 0 ? r : -ENOENT;
	/* First, to count them all; ON DELETE CASCADE then removes the associations. */
	n = pg_exec_changes(p, "DELETE FROM peer_keys WHERE " PEERS_OF_NODE, &peers);
	if (n < 0)
		return n;
	r = pg_exec_changes(p, "DELETE FROM nodes WHERE node_id = $1", &par);
	if (r == 0)
		return -ENOENT;
	return r < 0 ? r : n;
}

static int op_node_revoke(struct pg_store *p, void *ud)
{
	return pg_tx(p, op_node_revoke_body, ud);
}

static int op_node_delete(struct pg_store *p, void *ud)
{
	return pg_tx(p, op_node_delete_body, ud);
}

static int pg_node_revoke(struct store *s, const char *node_id, const char *target_prefix)
{
	struct node_keys nk = { node_id, target_prefix };

	return pg_run(to_pg(s), op_node_revoke, &nk);
}

static int pg_node_delete(struct store *s, const char *node_id, const char *target_prefix)
{
	struct node_keys nk = { node_id, target_prefix };

	return pg_run(to_pg(s), op_node_delete, &nk);
}

/* One page of a listing, copied out so that callbacks may use the store. */
struct page {
	const char *sql;
	struct pg_params par;
	bool nodes;
	void *rows;
	int n;
};

static int op_page(struct pg_store *p, void *ud)
{
	struct page *pg = ud;
	_cleanup_pg_res_ PGresult *res = NULL;
	int r;

	r = pg_exec(p, pg->sql, &pg->par, &res);
	if (r < 0)
		return r;
	pg->n = PQntuples(res);
	if (pg->n > PG_PAGE)
		return -EIO;
	for (int i = 0; i < pg->n; i++) {
		r = pg->nodes ? node_from_row(res, i, (struct store_node *)pg->rows + i) :
				assoc_from_row(res, i, (struct store_assoc *)pg->rows + i);
		if (r < 0)
			return r;
	}
	return 0;
}

static int pg_node_foreach(struct store *s, int (*cb)(const struct store_node *n, void *userdata),
			   void *userdata)
{
	_cleanup_free_ struct store_node *rows = calloc(PG_PAGE, sizeof(*rows));
	char last[WIRE_ID_MAX + 1] = "";
	struct page pg = { .nodes = true, .rows = rows };
	int r;

	if (!rows)
		return -ENOMEM;
	pg.sql = "SELECT " NODE_COLUMNS " FROM nodes WHERE node_id > $1 ORDER BY node_id "
		 "LIMIT " STRINGIFY(PG_PAGE);
	do {
		pg.par = (struct pg_params){ 0 };
		pg_par_text(&pg.par, last);
		r = pg_run(to_pg(s), op_page, &pg);
		if (r < 0)
			return r;
		for (int i = 0; i < pg.n; i++) {
			r = cb(&rows[i], userdata);
			if (r != 0)
				return r;
		}
		if (pg.n > 0)
			strcpy(last, rows[pg.n - 1].node_id);
	} while (pg.n == PG_PAGE);
	return 0;
}

/* ---- associations ---- */

static int pg_assoc_insert(struct store *s, const struct store_assoc *a,
			   const uint8_t kc_sealed[static STORE_SEALED_LEN],
			   const uint8_t ae_sealed[static STORE_SEALED_LEN])
{
	/* KcIDs come from the TLS exporter: a second insert of the same one is this
	 * insert running again after a lost connection, so it may find its own row. */
	struct pg_one o = {
		.sql = "INSERT INTO assocs (" ASSOC_COLUMNS ", kc_sealed, ae_root_sealed) "
		       "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
		       "ON CONFLICT (kcid) DO NOTHING"
	};

	pg_par_blob(&o.par, a->kcid, STORE_KCID_LEN);
	pg_par_text(&o.par, a->node_id);
	pg_par_text(&o.par, a->target_id);
	pg_par_u64(&o.par, a->method);
	pg_par_u64(&o.par, a->created);
	pg_par_u64(&o.par, a->expiry);
	pg_par_text(&o.par, a->revoked ? "true" : "false");
	pg_par_blob(&o.par, kc_sealed, STORE_SEALED_LEN);
	pg_par_blob(&o.par, ae_sealed, STORE_SEALED_LEN);
	return pg_run_one(s, &o);
}

static int row_assoc(const PGresult *res, void *out)
{
	return assoc_from_row(res, 0, out);
}

static int pg_assoc_get(struct store *s, const uint8_t kcid[static STORE_KCID_LEN],
			struct store_assoc *ret)
{
	return pg_read_by_blob(s, "SELECT " ASSOC_COLUMNS " FROM assocs WHERE kcid = $1", kcid,
			       STORE_KCID_LEN, row_assoc, ret);
}

static int row_two_blobs(const PGresult *res, void *out)
{
	uint8_t *b = out;
	int r = pg_col_blob(res, 0, 0, b, STORE_SEALED_LEN);

	return r < 0 ? r : pg_col_blob(res, 0, 1, b + STORE_SEALED_LEN, STORE_SEALED_LEN);
}

static int pg_assoc_get_keys(struct store *s, const uint8_t kcid[static STORE_KCID_LEN],
			     uint8_t kc_sealed[static STORE_SEALED_LEN],
			     uint8_t ae_sealed[static STORE_SEALED_LEN])
{
	uint8_t both[2 * STORE_SEALED_LEN];
	int r;

	r = pg_read_by_blob(s, "SELECT kc_sealed, ae_root_sealed FROM assocs WHERE kcid = $1", kcid,
			    STORE_KCID_LEN, row_two_blobs, both);
	if (r < 0)
		return r;
	memcpy(kc_sealed, both, STORE_SEALED_LEN);
	memcpy(ae_sealed, both + STORE_SEALED_LEN, STORE_SEALED_LEN);
	return 0;
}

static int pg_assoc_revoke(struct store *s, const uint8_t kcid[static STORE_KCID_LEN])
{
	return pg_write_by_blob(s, "UPDATE assocs SET revoked = true WHERE kcid = $1", kcid,
				STORE_KCID_LEN);
}

static int pg_assoc_foreach(struct store *s, const char *node_id,
			    int (*cb)(const struct store_assoc *a, void *userdata), void *userdata)
{
	_cleanup_free_ struct store_assoc *rows = calloc(PG_PAGE, sizeof(*rows));
	struct page pg = { .nodes = false, .rows = rows };
	uint8_t last_kcid[STORE_KCID_LEN] = { 0 };
	uint64_t last_created = 0;
	bool first = true;
	int r;

	if (!rows)
		return -ENOMEM;
	do {
		pg.par = (struct pg_params){ 0 };
		pg_par_u64(&pg.par, last_created);
		pg_par_blob(&pg.par, last_kcid, STORE_KCID_LEN);
		pg_par_text(&pg.par, first ? "1" : "0");
		if (node_id)
			pg_par_text(&pg.par, node_id);
		pg.sql = node_id ? "SELECT " ASSOC_COLUMNS " FROM assocs WHERE node_id = $4 AND "
				   "($3::int = 1 OR (created, kcid) > ($1::bigint, $2::bytea)) "
				   "ORDER BY created, kcid LIMIT " STRINGIFY(PG_PAGE) :
				   "SELECT " ASSOC_COLUMNS " FROM assocs WHERE "
				   "($3::int = 1 OR (created, kcid) > ($1::bigint, $2::bytea)) "
				   "ORDER BY created, kcid LIMIT " STRINGIFY(PG_PAGE);
		r = pg_run(to_pg(s), op_page, &pg);
		if (r < 0)
			return r;
		for (int i = 0; i < pg.n; i++) {
			r = cb(&rows[i], userdata);
			if (r != 0)
				return r;
		}
		if (pg.n > 0) {
			last_created = rows[pg.n - 1].created;
			memcpy(last_kcid, rows[pg.n - 1].kcid, STORE_KCID_LEN);
		}
		first = false;
	} while (pg.n == PG_PAGE);
	return 0;
}

static int pg_assoc_purge(struct store *s, uint64_t now)
{
	return pg_purge_batched(s, "DELETE FROM assocs WHERE kcid IN (SELECT kcid FROM assocs "
				   "WHERE expiry <= $1 LIMIT " STRINGIFY(PG_PURGE_BATCH) ")", now);
}

const struct store_ops store_pg_ops = {
	.name = "postgresql",
	.open = pg_open,
	.close = pg_close,
	.location = pg_location,
	.schema_version = pg_schema_version,
	.migrate = pg_migrate,
	.meta_get = pg_meta_get,
	.node_insert = pg_node_insert,
	.node_get = pg_node_get,
	.node_get_km = pg_node_get_km,
	.node_set = pg_node_set,
	.node_revoke = pg_node_revoke,
	.node_delete = pg_node_delete,
	.node_foreach = pg_node_foreach,
	.assoc_insert = pg_assoc_insert,
	.assoc_get = pg_assoc_get,
	.assoc_get_keys = pg_assoc_get_keys,
	.assoc_revoke = pg_assoc_revoke,
	.assoc_foreach = pg_assoc_foreach,
	.assoc_purge = pg_assoc_purge,
	.peer_insert = pg_peer_insert,
	.peer_get = pg_peer_get,
	.peer_revoke = pg_peer_revoke,
	.peer_purge = pg_peer_purge,
};
