/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The MAS node store on SQLite: the embedded default backend (mas/store-backend.h).
 *
 * One file, WAL journal, 5 s busy timeout, foreign keys on, secure_delete on,
 * so m2masd and m2masctl can use it at the same time. The file carries
 * PRAGMA application_id STORE_APP_ID and its schema version in PRAGMA
 * user_version; a file with another application_id is refused with -EPROTO,
 * a file that is not SQLite with -EIO. Keys arrive here sealed (mas/store.c).
 *
 * Every value goes through sqlite3_bind_*; statements are prepared once and
 * cached per connection (the foreach iterators prepare their own, so a
 * callback may call back into the store).
 *
 * The pairwise keys' rows are store-sqlite-peer.c; what the two files share
 * (the struct, the statement cache, the one-row helpers) is store-sqlite-int.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"
#include "common/wire.h"
#include "mas/store-backend.h"
#include "mas/store-sqlite-int.h"
#include "mas/store-sqlite-util.h"
#include "mas/store.h"

#define STORE_APP_ID 0x6d326d61 /* "m2ma" */
#define STORE_BUSY_TIMEOUT_MS 5000
#define STR_(x) #x
#define STR(x) STR_(x)

/*
 * The pairwise key table (docs/protocol.md §14) joined schema version 1 as an
 * addition: files made before it gain it at their next open (sq_settle).
 */
#define PEER_KEYS_SQL                                                                          \
	"CREATE TABLE IF NOT EXISTS peer_keys ("                                               \
	"  id BLOB PRIMARY KEY NOT NULL CHECK (length(id) = " STR(STORE_PEER_ID_LEN) "),"      \
	"  node_id TEXT NOT NULL REFERENCES nodes(node_id) ON DELETE CASCADE,"                 \
	"  ae_id TEXT NOT NULL,"                                                               \
	"  target TEXT NOT NULL,"                                                              \
	"  created INTEGER NOT NULL,"                                                          \
	"  expiry INTEGER NOT NULL,"                                                           \
	"  revoked INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1)),"                      \
	"  key_sealed BLOB NOT NULL"                                                           \
	");"                                                                                   \
	"CREATE INDEX IF NOT EXISTS peer_keys_node ON peer_keys(node_id);"

/* Migration n takes the schema from version n-1 to n (index n-1 here). */
static const char *const migrations[STORE_SCHEMA_VERSION] = {
	/* 1: nodes, associations, meta, pairwise keys */
	"CREATE TABLE meta ("
	"  name TEXT PRIMARY KEY NOT NULL,"
	"  value BLOB NOT NULL"
	") WITHOUT ROWID;"
	"CREATE TABLE nodes ("
	"  node_id TEXT PRIMARY KEY NOT NULL,"
	"  km_id TEXT NOT NULL,"
	"  target_id TEXT NOT NULL DEFAULT '',"
	"  methods TEXT NOT NULL,"
	"  lifetime INTEGER NOT NULL DEFAULT 0 CHECK (lifetime >= 0),"
	"  state TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'revoked')),"
	"  created INTEGER NOT NULL,"
	"  km_sealed BLOB NOT NULL"
	");"
	"CREATE TABLE assocs ("
	"  kcid BLOB PRIMARY KEY NOT NULL CHECK (length(kcid) = " STR(STORE_KCID_LEN) "),"
	"  node_id TEXT NOT NULL REFERENCES nodes(node_id) ON DELETE CASCADE,"
	"  target_id TEXT NOT NULL DEFAULT '',"
	"  method INTEGER NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  expiry INTEGER NOT NULL,"
	"  revoked INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1)),"
	"  kc_sealed BLOB NOT NULL,"
	"  ae_root_sealed BLOB NOT NULL"
	");"
	"CREATE INDEX assocs_node ON assocs(node_id);"
	"CREATE INDEX assocs_expiry ON assocs(expiry);" PEER_KEYS_SQL
	"PRAGMA application_id = " STR(STORE_APP_ID) ";",
	/* 2: the node's IMPI for method gba */
	"ALTER TABLE nodes ADD COLUMN impi TEXT NOT NULL DEFAULT '';",
};

#define NODE_COLUMNS "node_id, km_id, target_id, methods, lifetime, state, created, impi"
#define ASSOC_COLUMNS "kcid, node_id, target_id, method, created, expiry, revoked"
#define PEER_COLUMNS "id, node_id, ae_id, target, created, expiry, revoked"
/*
 * The pairwise keys of node ?1 in both directions: registered by it, or towards
 * one of its AEs, i.e. target = ?2 || AE-ID with ?2 = "/<CSE-ID>/" and no '/' in
 * the AE-ID (wire_target_names_node). substr and instr, not LIKE: '_' may be in
 * a node ID and is a LIKE wildcard.
 */
#define PEERS_OF_NODE                                                                          \
	"(node_id = ?1 OR (substr(target, 1, length(?2)) = ?2 AND "                            \
	"instr(substr(target, length(?2) + 1), '/') = 0))"

/* The SQL of each cached statement (enum stmt_id, store-sqlite-int.h). */
static const char *const stmt_sql[_STMT_MAX] = {
	[STMT_NODE_INSERT] = "INSERT INTO nodes (" NODE_COLUMNS ", km_sealed) "
			     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?9, ?8)",
	[STMT_NODE_GET] = "SELECT " NODE_COLUMNS " FROM nodes WHERE node_id = ?1",
	[STMT_NODE_GET_KM] = "SELECT km_sealed FROM nodes WHERE node_id = ?1",
	[STMT_NODE_SET_TARGET] = "UPDATE nodes SET target_id = ?2 WHERE node_id = ?1",
	[STMT_NODE_SET_METHODS] = "UPDATE nodes SET methods = ?2 WHERE node_id = ?1",
	[STMT_NODE_SET_LIFETIME] = "UPDATE nodes SET lifetime = ?2 WHERE node_id = ?1",
	[STMT_NODE_SET_IMPI] = "UPDATE nodes SET impi = ?2 WHERE node_id = ?1",
	[STMT_NODE_REVOKE] = "UPDATE nodes SET state = 'revoked' WHERE node_id = ?1",
	[STMT_NODE_REVOKE_ASSOCS] = "UPDATE assocs SET revoked = 1 WHERE node_id = ?1",
	[STMT_NODE_REVOKE_PEERS] = "UPDATE peer_keys SET revoked = 1 "
				   "WHERE revoked = 0 AND " PEERS_OF_NODE,
	[STMT_NODE_DELETE] = "DELETE FROM nodes WHERE node_id = ?1",
	[STMT_NODE_DELETE_PEERS] = "DELETE FROM peer_keys WHERE " PEERS_OF_NODE,
	[STMT_ASSOC_INSERT] = "INSERT INTO assocs (" ASSOC_COLUMNS ", kc_sealed, ae_root_sealed) "
			      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	[STMT_ASSOC_GET] = "SELECT " ASSOC_COLUMNS " FROM assocs WHERE kcid = ?1",
	[STMT_ASSOC_GET_KEYS] = "SELECT kc_sealed, ae_root_sealed FROM assocs WHERE kcid = ?1",
	[STMT_ASSOC_REVOKE] = "UPDATE assocs SET revoked = 1 WHERE kcid = ?1",
	[STMT_ASSOC_PURGE] = "DELETE FROM assocs WHERE expiry <= ?1",
	[STMT_META_GET] = "SELECT value FROM meta WHERE name = ?1",
	/* The states of a pairwise key's originator node ?1 and target node (?2, else ?3). */
	[STMT_PEER_NODES] = "SELECT (SELECT state FROM nodes WHERE node_id = ?1), "
			    "coalesce((SELECT state FROM nodes WHERE node_id = ?2), "
			    "(SELECT state FROM nodes WHERE node_id = ?3))",
	[STMT_PEER_INSERT] = "INSERT INTO peer_keys (" PEER_COLUMNS ", key_sealed) "
			     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[STMT_PEER_GET] = "SELECT " PEER_COLUMNS ", key_sealed FROM peer_keys WHERE id = ?1",
	[STMT_PEER_REVOKE] = "UPDATE peer_keys SET revoked = 1 WHERE id = ?1",
	[STMT_PEER_PURGE] = "DELETE FROM peer_keys WHERE expiry <= ?1",
};

int sq_stmt_get(struct sqlite_store *q, enum stmt_id id, sqlite3_stmt **ret)
{
	int rc;

	if (!q->stmts[id]) {
		rc = sqlite3_prepare_v3(q->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
					&q->stmts[id], NULL);
		if (rc != SQLITE_OK)
			return sq_errno(q->db, rc);
	}
	*ret = q->stmts[id];
	return 0;
}

static int node_from_row(sqlite3_stmt *st, struct store_node *ret)
{
	struct store_node n = { .state = STORE_NODE_ACTIVE };
	sqlite3_int64 lifetime, created;
	int r;

	r = sq_copy_text(n.node_id, sizeof(n.node_id), sqlite3_column_text(st, 0));
	if (r >= 0)
		r = sq_copy_text(n.km_id, sizeof(n.km_id), sqlite3_column_text(st, 1));
	if (r >= 0)
		r = sq_copy_text(n.target_id, sizeof(n.target_id), sqlite3_column_text(st, 2));
	if (r >= 0)
		r = store_methods_from_text((const char *)sqlite3_column_text(st, 3), n.methods,
					    &n.n_methods);
	if (r >= 0)
		r = store_node_state_from_string((const char *)sqlite3_column_text(st, 5),
						 &n.state);
	if (r >= 0)
		r = sq_copy_text(n.impi, sizeof(n.impi), sqlite3_column_text(st, 7));
	if (r < 0)
		return r;
	lifetime = sqlite3_column_int64(st, 4);
	created = sqlite3_column_int64(st, 6);
	if (lifetime < 0 || created < 0)
		return -EIO;
	n.lifetime = (uint64_t)lifetime;
	n.created = (uint64_t)created;
	*ret = n;
	return 0;
}

static int assoc_from_row(sqlite3_stmt *st, struct store_assoc *ret)
{
	struct store_assoc a = { .revoked = false };
	sqlite3_int64 method, created, expiry;
	int r;

	r = sq_column_blob(st, 0, a.kcid, STORE_KCID_LEN);
	if (r >= 0)
		r = sq_copy_text(a.node_id, sizeof(a.node_id), sqlite3_column_text(st, 1));
	if (r >= 0)
		r = sq_copy_text(a.target_id, sizeof(a.target_id), sqlite3_column_text(st, 2));
	if (r < 0)
		return r;
	method = sqlite3_column_int64(st, 3);
	created = sqlite3_column_int64(st, 4);
	expiry = sqlite3_column_int64(st, 5);
	if (method < 0 || method > UINT8_MAX || created < 0 || expiry < 0)
		return -EIO;
	a.method = (uint8_t)method;
	a.created = (uint64_t)created;
	a.expiry = (uint64_t)expiry;
	a.revoked = sqlite3_column_int64(st, 6) != 0;
	*ret = a;
	return 0;
}

/* ---- opening and schema ---- */

static int sq_schema_version(struct store *s, int *ret)
{
	struct sqlite_store *q = to_sq(s);
	int64_t app_id, version, n_objects;
	int r;

	r = sq_query_int(q->db, "PRAGMA application_id", &app_id);
	if (r < 0)
		return r;
	r = sq_query_int(q->db, "PRAGMA user_version", &version);
	if (r < 0)
		return r;
	r = sq_query_int(q->db, "SELECT count(*) FROM sqlite_master", &n_objects);
	if (r < 0)
		return r;
	if (app_id == 0 && version == 0 && n_objects == 0) {
		*ret = 0;
		return 0;
	}
	if (app_id != STORE_APP_ID || version <= 0 || version > INT_MAX)
		return -EPROTO;
	*ret = (int)version;
	return 0;
}

static int insert_meta(struct sqlite_store *q, const char *name, const uint8_t *v, size_t len)
{
	_cleanup_stmt_finalize_ sqlite3_stmt *st = NULL;
	int rc, r;

	rc = sqlite3_prepare_v2(q->db, "INSERT INTO meta (name, value) VALUES (?1, ?2)", -1, &st,
				NULL);
	if (rc != SQLITE_OK)
		return sq_errno(q->db, rc);
	if ((r = sq_bind_text(st, 1, name)) < 0 || (r = sq_bind_blob(st, 2, v, len)) < 0)
		return r;
	return sq_step_done(q->db, st);
}

static int sq_migrate(struct store *s, int from, int to, const uint8_t *key_check, size_t len)
{
	struct sqlite_store *q = to_sq(s);
	char pragma[64];
	int version, r;

	if (from < 0 || to > STORE_SCHEMA_VERSION || from >= to)
		return -EINVAL;
	/* Under the write lock: another process may have done it meanwhile. */
	r = sq_exec(q->db, "BEGIN IMMEDIATE");
	if (r < 0)
		return r;
	r = sq_schema_version(s, &version);
	if (r < 0 || version != from)
		return sq_tx_end(q->db, r);
	for (int v = from + 1; v <= to && r >= 0; v++)
		r = sq_exec(q->db, migrations[v - 1]);
	if (r >= 0 && from == 0)
		r = insert_meta(q, "key_check", key_check, len);
	if (r >= 0) {
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", to);
		r = sq_exec(q->db, pragma);
	}
	return sq_tx_end(q->db, r);
}

static int sq_meta_get(struct store *s, const char *name, uint8_t *buf, size_t len)
{
	struct sqlite_store *q = to_sq(s);
	_cleanup_stmt_reset_ sqlite3_stmt *st = NULL;
	int r;

	r = sq_stmt_get(q, STMT_META_GET, &st);
	if (r >= 0)
		r = sq_bind_text(st, 1, name);
	if (r >= 0)
		r = sq_step_row(q->db, st);
	if (r <= 0)
		return r < 0 ? r : -ENOENT;
	return sq_column_blob(st, 0, buf, len);
}

/* Add peer_keys to a schema 1 file made before it joined (main's "added at open"). */
static int sq_settle(struct store *s)
{
	struct sqlite_store *q = to_sq(s);
	int64_t n;
	int r;

	r = sq_query_int(q->db, "SELECT count(*) FROM sqlite_master WHERE name = 'peer_keys'", &n);
	if (r < 0 || n > 0)
		return r;
	return sq_exec(q->db, PEER_KEYS_SQL);
}

static void sq_close(struct store *s)
{
	struct sqlite_store *q = to_sq(s);

	for (size_t i = 0; i < _STMT_MAX; i++)
		sqlite3_finalize(q->stmts[i]);
	sqlite3_close(q->db);
	if (s->open_failed && q->created_file)
		(void)unlink(q->path);
	free(q->path);
	free(q);
}

static int sq_open(const struct store_config *c, struct store **ret)
{
	struct sqlite_store *q;
	int fd, rc, r;

	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->base.ops = &store_sqlite_ops;
	q->path = strdup(c->location);
	if (!q->path) {
		free(q);
		return -ENOMEM;
	}
	/* Create the file ourselves so it starts as 0600 (SQLite would use 0644 & ~umask);
	 * SQLite gives its -wal and -shm files the same mode. An empty file is an empty
	 * database to SQLite. */
	fd = open(q->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd >= 0) {
		q->created_file = true;
		close(fd);
	} else if (errno != EEXIST) {
		r = -errno;
		goto fail;
	}
	rc = sqlite3_open_v2(q->path, &q->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		r = sq_errno(q->db, rc);
		goto fail;
	}
	sqlite3_extended_result_codes(q->db, 1);
	sqlite3_busy_timeout(q->db, STORE_BUSY_TIMEOUT_MS);
	/* journal_mode is the first statement that reads the file: a file that is not
	 * SQLite fails here with SQLITE_NOTADB -> -EIO. */
	r = sq_exec(q->db, "PRAGMA journal_mode = WAL");
	if (r < 0)
		goto fail;
	/* WAL with synchronous=NORMAL: no fsync per commit, and the file stays consistent
	 * after a crash; a power loss may forget the last associations, whose nodes then
	 * see their key refused by the IN-CSE and establish again (TS-0003 8.2.2.3). */
	r = sq_exec(q->db, "PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON; "
			"PRAGMA synchronous = NORMAL");
	if (r < 0)
		goto fail;
	*ret = &q->base;
	return 0;
fail:
	q->base.open_failed = true;
	sq_close(&q->base);
	return r;
}

static const char *sq_location(const struct store *s)
{
	const struct sqlite_store *q = (const struct sqlite_store *)s;
	const char *p = q->db ? sqlite3_db_filename(q->db, "main") : NULL;

	return p && *p ? p : q->path;
}

/* ---- one-row reads and writes ---- */

/* Run statement id with a blob (key, len) as ?1: 1 and st left on the row, 0 for none, or -errno. */
int sq_blob_row(struct sqlite_store *q, enum stmt_id id, const void *key, size_t len,
		sqlite3_stmt **st)
{
	int r;

	r = sq_stmt_get(q, id, st);
	if (r < 0)
		return r;
	r = sq_bind_blob(*st, 1, key, len);
	if (r < 0)
		return r;
	return sq_step_row(q->db, *st);
}

/* Run the one-row write id keyed by a blob (key, len) as ?1: -ENOENT if it changed no row. */
int sq_blob_write(struct sqlite_store *q, enum stmt_id id, const void *key, size_t len)
{
	_cleanup_stmt_reset_ sqlite3_stmt *st = NULL;
	int r = sq_blob_row(q, id, key, len, &st);

	if (r < 0)
		return r;
	if (r > 0)
		return -EIO;
	return sqlite3_changes(q->db) > 0 ? 0 : -ENOENT;
}

/* Run the DELETE id of the rows expired by now (?1); returns how many went. */
int sq_purge_expired(struct sqlite_store *q, enum stmt_id id, uint64_t now)
{
	_cleanup_stmt_reset_ sqlite3_stmt *st = NULL;
	int n, r;

	r = sq_stmt_get(q, id, &st);
	if (r < 0)
		return r;
	r = sq_bind_u64(st, 1, now);
	if (r < 0)
		return r;
	r = sq_step_done(q->db, st);
	if (r < 0)
		return r;
	n = sqlite3_changes(q->db);
	return n < 0 ? 0 : n;
}

/* ---- nodes ---- */

static int sq_node_insert(struct store *s, const struct store_node *n, const char *methods,
			  uint64_t created, const uint8_t *km_sealed, size_t km_sealed_len)
{
	struct sqlite_store *q = to_sq(s);
	_cleanup_stmt_reset_ sqlite3_stmt *st = NULL;
	int r;

	r = sq_stmt_get(q, STMT_NODE_INSERT, &st);
	if (r < 0)
		return r;
	if ((r = sq_bind_text(st, 1, n->node_id)) < 0 || (r = sq_bind_text(st, 2, n->km_id)) < 0 ||
	    (r = sq_bind_text(st, 3, n->target_id)) < 0 || (r = sq_bind_text(st, 4, methods)) < 0 ||
	    (r = sq_bind_u64(st, 5, n->lifetime)) < 0 ||
	    (r = sq_bind_text(st, 6, store_node_state_to_string(n->state))) < 0 ||
	    (r = sq_bind_u64(st, 7, created)) < 0 ||
	    (r = sq_bind_blob(st, 8, km_sealed, km_sealed_len)) < 0 ||
	    (r = sq_bind_text(st, 9, n->impi)) < 0)
		return r;
	return sq_step_done(q->db, st);
}

/* Run statement id with node_id as ?1: 1 and st left on the row, 0 for none, or -errno. */
static int node_row(struct sqlite_store *q, enum stmt_id id, const char *node_id,
		    sqlite3_stmt **st)
{
	int r;

	r = sq_stmt_get(q, id, st);
	if (r < 0)
		return r;
	r = sq_bind_text(*st, 1, node_id);
	if (r < 0)
		return r;
	return sq_step_row(q->db, *st);
}

static int sq_node_get(struct store *s, const char *node_id, struct store_node *ret)
{
	_cleanup_stmt_reset_ sqlite3_stmt *st = NULL;
	int r = node_row(to_sq(s), STMT_NODE_GET, node_id, &st);

	if (r <= 0)
		return r < 0 ? r : -ENOENT;
	return node_from_row(st, ret);
}

static int sq_node_get_km(struct store *s, const char *node_id,
			  uint8_t ret_sealed[static STORE_SEALED_LEN])
{
	_cleanup_stmt_reset_ sqlite3_stmt *st = NULL;
	int r = node_row(to_sq(s), STMT_NODE_GET_KM, node_id, &st);

	if (r <= 0)
		return r < 0 ? r : -ENOENT;
	/* A node stored without Km (gba only) has an empty, not NULL, km_sealed. */
	if (sqlite3_column_type(st, 0) != SQLITE_NULL && sqlite3_column_bytes(st, 0) == 0)
		return -ENOKEY;
	return sq_column_blob(st, 0, ret_sealed, STORE_SEALED_LEN);
}

/* Run a one-row UPDATE/DELETE keyed by node_id (?1) with an optional text or integer ?2. */
static int node_update(struct sqlite_store *q, enum stmt_id id, const char *node_id,
		       const char *text, const uint64_t *num)
{
	_cleanup_stmt_reset_ sqlite3_stmt *st = NULL;
	int r;

	r = sq_stmt_get(q, id, &st);
	if (r < 0)
		return r;
	r = sq_bind_text(st, 1, node_id);
	if (r >= 0 && text)
		r = sq_bind_text(st, 2, text);
	if (r >= 0 && num)
		r = sq_bind_u64(st, 2, *num);
	if (r < 0)
		return r;
	r = sq_step_done(q->db, st);
	if (r < 0)
		return r;
	return sqlite3_changes(q->db) > 0 ? 0 : -ENOENT;
}

static int sq_node_set(struct store *s, enum store_node_field f, const char *node_id,
		       const char *text, uint64_t num)
{
	switch (f) {
	case STORE_NODE_FIELD_TARGET:
		return node_update(to_sq(s), STMT_NODE_SET_TARGET, node_id, text, NULL);
	case STORE_NODE_FIELD_METHODS:
		return node_update(to_sq(s), STMT_NODE_SET_METHODS, node_id, text, NULL);
	case STORE_NODE_FIELD_LIFETIME:
		return node_update(to_sq(s), STMT_NODE_SET_LIFETIME, node_id, NULL, &num);
	case STORE_NODE_FIELD_IMPI:
		return node_update(to_sq(s), STMT_NODE_SET_IMPI, node_id, text, NULL);
	default:
		return -EINVAL;
	}
}

/* Run a write over all of a node's rows (node_id as ?1), however many there are. */
static int node_write_all(struct sqlite_store *q, enum stmt_id id, const char *node_id)
{
	_cleanup_stmt_reset_ sqlite3_stmt *st = NULL;
	int r;

	r = sq_stmt_get(q, id, &st);
	if (r >= 0)
		r = sq_bind_text(st, 1, node_id);
	if (r >= 0)
		r = sq_step_done(q->db, st);
	return r;
}

/* Run id over the pairwise keys of node_id (?1) and target_prefix (?2): how many rows changed. */
static int node_peers_write(struct sqlite_store *q, enum stmt_id id, const char *node_id,
			    const char *target_prefix)
{
	_cleanup_stmt_reset_ sqlite3_stmt *st = NULL;
	int r;

	r = sq_stmt_get(q, id, &st);
	if (r >= 0)
		r = sq_bind_text(st, 1, node_id);
	if (r >= 0)
		r = sq_bind_text(st, 2, target_prefix);
	if (r >= 0)
		r = sq_step_done(q->db, st);
	return r < 0 ? r : sqlite3_changes(q->db);
}

static int sq_node_revoke(struct store *s, const char *node_id, const char *target_prefix)
{
	struct sqlite_store *q = to_sq(s);
	int r, n = 0;

	r = sq_exec(q->db, "BEGIN IMMEDIATE");
	if (r < 0)
		return r;
	r = node_update(q, STMT_NODE_REVOKE, node_id, NULL, NULL);
	if (r >= 0)
		r = node_write_all(q, STMT_NODE_REVOKE_ASSOCS, node_id);
	if (r >= 0)
		r = n = node_peers_write(q, STMT_NODE_REVOKE_PEERS, node_id, target_prefix);
	r = sq_tx_end(q->db, r);
	return r < 0 ? r : n;
}

static int sq_node_delete(struct store *s, const char *node_id, const char *target_prefix)
{
	struct sqlite_store *q = to_sq(s);
	int r, n;

	r = sq_exec(q->db, "BEGIN IMMEDIATE");
	if (r < 0)
		return r;
	/* First, to count them all; ON DELETE CASCADE then removes the associations. */
	r = n = node_peers_write(q, STMT_NODE_DELETE_PEERS, node_id, target_prefix);
	if (r >= 0)
		r = node_update(q, STMT_NODE_DELETE, node_id, NULL, NULL);
	r = sq_tx_end(q->db, r);
	return r < 0 ? r : n;
}

static int sq_node_foreach(struct store *s, int (*cb)(const struct store_node *n, void *userdata),
			   void *userdata)
{
	struct sqlite_store *q = to_sq(s);
	_cleanup_stmt_finalize_ sqlite3_stmt *st = NULL;
	int rc, r;

	rc = sqlite3_prepare_v2(q->db, "SELECT " NODE_COLUMNS " FROM nodes ORDER BY node_id", -1,
				&st, NULL);
	if (rc != SQLITE_OK)
		return sq_errno(q->db, rc);
	while ((r = sq_step_row(q->db, st)) > 0) {
		struct store_node n;

		r = node_from_row(st, &n);
		if (r < 0)
			return r;
		r = cb(&n, userdata);
		if (r != 0)
			return r;
	}
	return r;
}

/* ---- associations ---- */

static int sq_assoc_insert(struct store *s, const struct store_assoc *a,
			   const uint8_t kc_sealed[static STORE_SEALED_LEN],
			   const uint8_t ae_sealed[static STORE_SEALED_LEN])
{
	struct sqlite_store *q = to_sq(s);
	_cleanup_stmt_reset_ sqlite3_stmt *st = NULL;
	int r;

	r = sq_stmt_get(q, STMT_ASSOC_INSERT, &st);
	if (r < 0)
		return r;
	if ((r = sq_bind_blob(st, 1, a->kcid, STORE_KCID_LEN)) < 0 ||
	    (r = sq_bind_text(st, 2, a->node_id)) < 0 || (r = sq_bind_text(st, 3, a->target_id)) < 0 ||
	    (r = sq_bind_u64(st, 4, a->method)) < 0 || (r = sq_bind_u64(st, 5, a->created)) < 0 ||
	    (r = sq_bind_u64(st, 6, a->expiry)) < 0 || (r = sq_bind_u64(st, 7, a->revoked ? 1 : 0)) < 0 ||
	    (r = sq_bind_blob(st, 8, kc_sealed, STORE_SEALED_LEN)) < 0 ||
	    (r = sq_bind_blob(st, 9, ae_sealed, STORE_SEALED_LEN)) < 0)
		return r;
	return sq_step_done(q->db, st);
}

static int sq_assoc_get(struct store *s, const uint8_t kcid[static STORE_KCID_LEN],
			struct store_assoc *ret)
{
	_cleanup_stmt_reset_ sqlite3_stmt *st = NULL;
	int r = sq_blob_row(to_sq(s), STMT_ASSOC_GET, kcid, STORE_KCID_LEN, &st);

	if (r <= 0)
		return r < 0 ? r : -ENOENT;
	return assoc_from_row(st, ret);
}

static int sq_assoc_get_keys(struct store *s, const uint8_t kcid[static STORE_KCID_LEN],
			     uint8_t kc_sealed[static STORE_SEALED_LEN],
			     uint8_t ae_sealed[static STORE_SEALED_LEN])
{
	_cleanup_stmt_reset_ sqlite3_stmt *st = NULL;
	int r = sq_blob_row(to_sq(s), STMT_ASSOC_GET_KEYS, kcid, STORE_KCID_LEN, &st);

	if (r <= 0)
		return r < 0 ? r : -ENOENT;
	r = sq_column_blob(st, 0, kc_sealed, STORE_SEALED_LEN);
	if (r >= 0)
		r = sq_column_blob(st, 1, ae_sealed, STORE_SEALED_LEN);
	return r;
}

static int sq_assoc_revoke(struct store *s, const uint8_t kcid[static STORE_KCID_LEN])
{
	return sq_blob_write(to_sq(s), STMT_ASSOC_REVOKE, kcid, STORE_KCID_LEN);
}

static int sq_assoc_foreach(struct store *s, const char *node_id,
			    int (*cb)(const struct store_assoc *a, void *userdata), void *userdata)
{
	struct sqlite_store *q = to_sq(s);
	_cleanup_stmt_finalize_ sqlite3_stmt *st = NULL;
	int rc, r;

	rc = sqlite3_prepare_v2(q->db,
				"SELECT " ASSOC_COLUMNS " FROM assocs "
				"WHERE ?1 IS NULL OR node_id = ?1 ORDER BY created, kcid",
				-1, &st, NULL);
	if (rc != SQLITE_OK)
		return sq_errno(q->db, rc);
	if (node_id) {
		r = sq_bind_text(st, 1, node_id);
		if (r < 0)
			return r;
	}
	while ((r = sq_step_row(q->db, st)) > 0) {
		struct store_assoc a;

		r = assoc_from_row(st, &a);
		if (r < 0)
			return r;
		r = cb(&a, userdata);
		if (r != 0)
			return r;
	}
	return r;
}

static int sq_assoc_purge(struct store *s, uint64_t now)
{
	return sq_purge_expired(to_sq(s), STMT_ASSOC_PURGE, now);
}

const struct store_ops store_sqlite_ops = {
	.name = "sqlite",
	.open = sq_open,
	.close = sq_close,
	.location = sq_location,
	.schema_version = sq_schema_version,
	.migrate = sq_migrate,
	.settle = sq_settle,
	.meta_get = sq_meta_get,
	.node_insert = sq_node_insert,
	.node_get = sq_node_get,
	.node_get_km = sq_node_get_km,
	.node_set = sq_node_set,
	.node_revoke = sq_node_revoke,
	.node_delete = sq_node_delete,
	.node_foreach = sq_node_foreach,
	.assoc_insert = sq_assoc_insert,
	.assoc_get = sq_assoc_get,
	.assoc_get_keys = sq_assoc_get_keys,
	.assoc_revoke = sq_assoc_revoke,
	.assoc_foreach = sq_assoc_foreach,
	.assoc_purge = sq_assoc_purge,
	.peer_insert = sq_peer_insert,
	.peer_get = sq_peer_get,
	.peer_revoke = sq_peer_revoke,
	.peer_purge = sq_peer_purge,
};
