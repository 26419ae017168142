/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The MAS node store on SQLite (mas/store.h).
 *
 * One file, WAL journal, 5 s busy timeout, foreign keys on, secure_delete on,
 * so m2masd and m2masctl can use it at the same time. The file carries
 * PRAGMA application_id STORE_APP_ID and PRAGMA user_version STORE_SCHEMA_VERSION;
 * a file with other values is refused with -EPROTO, a file that is not SQLite
 * with -EIO.
 *
 * Keys at rest are crypto_seal()ed (AES-256-GCM, random IV) under the master
 * key with the record's identity as additional data:
 *   nodes.km_sealed        aad = "node:" || node_id
 *   assocs.kc_sealed       aad = "assoc:" || KcID (16 bytes)
 *   assocs.ae_root_sealed  aad = "assoc-ae:" || KcID
 * so a blob copied to another row or column fails to open (-EBADMSG).
 * meta.key_check holds 32 zero bytes sealed with aad "m2msa-store-key-check":
 * store_open() with a master key that is not the store's fails with
 * -EKEYREJECTED instead of silently mixing keys in one file.
 *
 * Every value goes through sqlite3_bind_*; statements are prepared once and
 * cached per connection (the foreach iterators prepare their own, so a
 * callback may call back into the store).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/crypto.h"
#include "common/secret.h"
#include "common/util.h"
#include "common/wire.h"
#include "mas/store.h"

#define STORE_APP_ID 0x6d326d61 /* "m2ma" */
/* 2: nodes.impi (method gba). A version 1 file is migrated when opened. */
#define STORE_SCHEMA_VERSION 2
#define STORE_BUSY_TIMEOUT_MS 5000
#define STR_(x) #x
#define STR(x) STR_(x)

#define KEY_LEN 32
#define SEALED_LEN (KEY_LEN + CRYPTO_SEAL_OVERHEAD)
#define AAD_MAX (16 + WIRE_ID_MAX)

static const char key_check_aad[] = "m2msa-store-key-check";

static const char schema_sql[] =
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
	"  km_sealed BLOB NOT NULL,"
	"  impi TEXT NOT NULL DEFAULT ''"
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
	"CREATE INDEX assocs_expiry ON assocs(expiry);"
	"PRAGMA application_id = " STR(STORE_APP_ID) ";"
	"PRAGMA user_version = " STR(STORE_SCHEMA_VERSION) ";";

/* Schema 1 -> 2: the node's IMPI for method gba (and peer_keys, below, if missing). */
static const char migrate_1_2_sql[] =
	"ALTER TABLE nodes ADD COLUMN impi TEXT NOT NULL DEFAULT '';"
	"PRAGMA user_version = 2;";

/*
 * The pairwise key table (docs/protocol.md §14) joined schema version 1 as an
 * addition: a new store has it from the start, a schema 1 store gains it in the
 * 1 -> 2 migration, and any store without it (schema 1 or 2 files made before
 * the table existed) gains it at its next open (peer_schema()).
 */
static const char peer_schema_sql[] =
	"CREATE TABLE IF NOT EXISTS peer_keys ("
	"  id BLOB PRIMARY KEY NOT NULL CHECK (length(id) = " STR(STORE_PEER_ID_LEN) "),"
	"  node_id TEXT NOT NULL REFERENCES nodes(node_id) ON DELETE CASCADE,"
	"  ae_id TEXT NOT NULL,"
	"  target TEXT NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  expiry INTEGER NOT NULL,"
	"  revoked INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1)),"
	"  key_sealed BLOB NOT NULL"
	");"
	"CREATE INDEX IF NOT EXISTS peer_keys_node ON peer_keys(node_id);";

#define NODE_COLUMNS "node_id, km_id, target_id, methods, lifetime, state, created, impi"
#define ASSOC_COLUMNS "kcid, node_id, target_id, method, created, expiry, revoked"

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
	STMT_NODE_DELETE,
	STMT_ASSOC_INSERT,
	STMT_ASSOC_GET,
	STMT_ASSOC_GET_KEYS,
	STMT_ASSOC_REVOKE,
	STMT_ASSOC_PURGE,
	_STMT_MAX,
};

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
	[STMT_NODE_DELETE] = "DELETE FROM nodes WHERE node_id = ?1",
	[STMT_ASSOC_INSERT] = "INSERT INTO assocs (" ASSOC_COLUMNS ", kc_sealed, ae_root_sealed) "
			      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	[STMT_ASSOC_GET] = "SELECT " ASSOC_COLUMNS " FROM assocs WHERE kcid = ?1",
	[STMT_ASSOC_GET_KEYS] = "SELECT kc_sealed, ae_root_sealed FROM assocs WHERE kcid = ?1",
	[STMT_ASSOC_REVOKE] = "UPDATE assocs SET revoked = 1 WHERE kcid = ?1",
	[STMT_ASSOC_PURGE] = "DELETE FROM assocs WHERE expiry <= ?1",
};

struct store {
	sqlite3 *db;
	struct secret *master_key;
	sqlite3_stmt *stmts[_STMT_MAX];
};

static const char *const node_state_names[_STORE_NODE_STATE_MAX] = {
	[STORE_NODE_ACTIVE] = "active",
	[STORE_NODE_REVOKED] = "revoked",
};

const char *store_node_state_to_string(enum store_node_state st)
{
	if ((unsigned)st >= _STORE_NODE_STATE_MAX)
		return "unknown";
	return node_state_names[st];
}

/* Map an SQLite result code (extended codes on) to -errno. */
static int sql_errno(sqlite3 *db, int rc)
{
	int e;

	switch (rc) {
	case SQLITE_OK:
	case SQLITE_ROW:
	case SQLITE_DONE:
		return 0;
	case SQLITE_CONSTRAINT_PRIMARYKEY:
	case SQLITE_CONSTRAINT_UNIQUE:
		return -EEXIST;
	case SQLITE_CONSTRAINT_FOREIGNKEY:
		return -ENOENT;
	default:
		break;
	}
	switch (rc & 0xff) {
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_PERM:
	case SQLITE_AUTH:
	case SQLITE_READONLY:
		return -EACCES;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_TOOBIG:
		return -E2BIG;
	case SQLITE_CONSTRAINT:
	case SQLITE_MISMATCH:
	case SQLITE_RANGE:
		return -EINVAL;
	case SQLITE_CANTOPEN:
		e = db ? sqlite3_system_errno(db) : 0;
		return (e == ENOENT || e == EACCES || e == EPERM || e == ENOTDIR || e == EROFS) ?
			       -e :
			       -EIO;
	default: /* SQLITE_NOTADB, SQLITE_CORRUPT, SQLITE_IOERR, ... */
		return -EIO;
	}
}

static int stmt_get(struct store *s, enum stmt_id id, sqlite3_stmt **ret)
{
	int rc;

	if (!s->stmts[id]) {
		rc = sqlite3_prepare_v3(s->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
					&s->stmts[id], NULL);
		if (rc != SQLITE_OK)
			return sql_errno(s->db, rc);
	}
	*ret = s->stmts[id];
	return 0;
}

/* Cleanup for cached statements: ready for the next use, bindings dropped. */
static void stmt_resetp(sqlite3_stmt **st)
{
	if (*st) {
		sqlite3_reset(*st);
		sqlite3_clear_bindings(*st);
	}
}
#define _cleanup_stmt_reset_ _cleanup_(stmt_resetp)

static void stmt_finalizep(sqlite3_stmt **st)
{
	sqlite3_finalize(*st);
}
#define _cleanup_stmt_finalize_ _cleanup_(stmt_finalizep)

/* Step a statement that returns no rows. */
static int step_done(struct store *s, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_DONE)
		return 0;
	if (rc == SQLITE_ROW)
		return -EIO;
	return sql_errno(s->db, rc);
}

/* Step a statement expected to return one row: 1 on a row, 0 on none, or -errno. */
static int step_row(struct store *s, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return sql_errno(s->db, rc);
}

/*
 * The one row of a lookup whose key bind_r says was bound (bind_text/bind_blob's
 * result): 0 with st on the row, -ENOENT when there is none, or -errno.
 */
static int lookup_row(struct store *s, sqlite3_stmt *st, int bind_r)
{
	int r = bind_r < 0 ? bind_r : step_row(s, st);

	if (r < 0)
		return r;
	return r > 0 ? 0 : -ENOENT;
}

/* Step an UPDATE or DELETE of one row: 0 when it changed a row, -ENOENT when none. */
static int step_changed(struct store *s, sqlite3_stmt *st)
{
	int r = step_done(s, st);

	if (r < 0)
		return r;
	return sqlite3_changes(s->db) > 0 ? 0 : -ENOENT;
}

/* A statement that is not cached (listings, run by m2masctl). */
static int stmt_prepare(struct store *s, const char *sql, sqlite3_stmt **ret)
{
	int rc = sqlite3_prepare_v2(s->db, sql, -1, ret, NULL);

	return rc == SQLITE_OK ? 0 : sql_errno(s->db, rc);
}

static int exec_sql(struct store *s, const char *sql)
{
	int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : sql_errno(s->db, rc);
}

static int tx_begin(struct store *s)
{
	return exec_sql(s, "BEGIN IMMEDIATE");
}

static int tx_end(struct store *s, int r)
{
	if (r < 0) {
		(void)exec_sql(s, "ROLLBACK");
		return r;
	}
	r = exec_sql(s, "COMMIT");
	if (r < 0)
		(void)exec_sql(s, "ROLLBACK");
	return r;
}

/* One integer from a PRAGMA or SELECT without parameters. */
static int query_int(struct store *s, const char *sql, int64_t *ret)
{
	_cleanup_stmt_finalize_ sqlite3_stmt *st = NULL;
	int rc, r;

	rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return sql_errno(s->db, rc);
	r = step_row(s, st);
	if (r < 0)
		return r;
	if (r == 0)
		return -EIO;
	*ret = sqlite3_column_int64(st, 0);
	return 0;
}

static int bind_u64(sqlite3_stmt *st, int idx, uint64_t v)
{
	if (v > INT64_MAX)
		return -EINVAL;
	return sqlite3_bind_int64(st, idx, (sqlite3_int64)v) == SQLITE_OK ? 0 : -ENOMEM;
}

static int bind_text(sqlite3_stmt *st, int idx, const char *v)
{
	return sqlite3_bind_text(st, idx, v, -1, SQLITE_STATIC) == SQLITE_OK ? 0 : -ENOMEM;
}

static int bind_blob(sqlite3_stmt *st, int idx, const void *v, size_t len)
{
	return sqlite3_bind_blob(st, idx, v, (int)len, SQLITE_TRANSIENT) == SQLITE_OK ? 0 : -ENOMEM;
}

static size_t aad_node(const char *node_id, uint8_t aad[static AAD_MAX])
{
	size_t n = strnlen(node_id, WIRE_ID_MAX);

	memcpy(aad, "node:", 5);
	memcpy(aad + 5, node_id, n);
	return 5 + n;
}

static size_t aad_assoc(const char *prefix, const uint8_t kcid[static STORE_KCID_LEN],
			uint8_t aad[static AAD_MAX])
{
	size_t n = strlen(prefix);

	memcpy(aad, prefix, n);
	memcpy(aad + n, kcid, STORE_KCID_LEN);
	return n + STORE_KCID_LEN;
}

/* Open a sealed 32-byte key from column col of st into a new secret. */
static int open_column(struct store *s, sqlite3_stmt *st, int col, const uint8_t *aad,
		       size_t aad_len, struct secret **ret)
{
	const void *blob = sqlite3_column_blob(st, col);
	int len = sqlite3_column_bytes(st, col);
	struct secret *k = NULL;
	int r;

	if (!blob || len != SEALED_LEN)
		return -EIO;
	r = secret_new(KEY_LEN, &k);
	if (r < 0)
		return r;
	r = crypto_open(s->master_key->data, aad, aad_len, blob, (size_t)len, k->data);
	if (r < 0) {
		secret_free(k);
		return r;
	}
	*ret = k;
	return 0;
}

/* ---- validation and row conversion ---- */

static bool methods_valid(const uint8_t *methods, size_t n)
{
	if (n == 0 || n > WIRE_METHODS_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (methods[i] < WIRE_METHOD_PSK || methods[i] >= _WIRE_METHOD_MAX)
			return false;
		for (size_t j = 0; j < i; j++)
			if (methods[j] == methods[i])
				return false;
	}
	return true;
}

/* "psk,pki" from a validated list. */
static void methods_to_text(const uint8_t *methods, size_t n, char *buf, size_t buf_len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && off < buf_len; i++)
		off += (size_t)snprintf(buf + off, buf_len - off, "%s%s", i ? "," : "",
					wire_method_to_string(methods[i]));
}

static int methods_from_text(const char *text, uint8_t methods[static WIRE_METHODS_MAX],
			     size_t *ret_n)
{
	char buf[64], *save = NULL;
	size_t n = 0;

	if (!text || strlen(text) >= sizeof(buf))
		return -EIO;
	strcpy(buf, text);
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (n == WIRE_METHODS_MAX || wire_method_from_string(t, &methods[n]) < 0)
			return -EIO;
		n++;
	}
	if (!methods_valid(methods, n))
		return -EIO;
	*ret_n = n;
	return 0;
}

/* A KmID: 1..WIRE_KEY_ID_MAX printable ASCII characters without blanks. */
static bool km_id_valid(const char *s)
{
	size_t n = strnlen(s, WIRE_KEY_ID_MAX + 1);

	if (n == 0 || n > WIRE_KEY_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] > '~')
			return false;
	return true;
}

static bool target_valid(const char *s)
{
	return s && (s[0] == '\0' || wire_id_valid(s));
}

static int copy_text(char *dst, size_t dst_len, const unsigned char *src)
{
	if (!src || strlen((const char *)src) >= dst_len)
		return -EIO;
	strcpy(dst, (const char *)src);
	return 0;
}

static int node_from_row(sqlite3_stmt *st, struct store_node *ret)
{
	struct store_node n = { .state = STORE_NODE_ACTIVE };
	const unsigned char *state;
	sqlite3_int64 lifetime, created;
	int r;

	r = copy_text(n.node_id, sizeof(n.node_id), sqlite3_column_text(st, 0));
	if (r >= 0)
		r = copy_text(n.km_id, sizeof(n.km_id), sqlite3_column_text(st, 1));
	if (r >= 0)
		r = copy_text(n.target_id, sizeof(n.target_id), sqlite3_column_text(st, 2));
	if (r >= 0)
		r = methods_from_text((const char *)sqlite3_column_text(st, 3), n.methods,
				      &n.n_methods);
	if (r >= 0)
		r = copy_text(n.impi, sizeof(n.impi), sqlite3_column_text(st, 7));
	if (r < 0)
		return r;
	lifetime = sqlite3_column_int64(st, 4);
	state = sqlite3_column_text(st, 5);
	created = sqlite3_column_int64(st, 6);
	if (lifetime < 0 || created < 0 || !state)
		return -EIO;
	if (strcmp((const char *)state, "active") == 0)
		n.state = STORE_NODE_ACTIVE;
	else if (strcmp((const char *)state, "revoked") == 0)
		n.state = STORE_NODE_REVOKED;
	else
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

	if (sqlite3_column_bytes(st, 0) != STORE_KCID_LEN || !sqlite3_column_blob(st, 0))
		return -EIO;
	memcpy(a.kcid, sqlite3_column_blob(st, 0), STORE_KCID_LEN);
	r = copy_text(a.node_id, sizeof(a.node_id), sqlite3_column_text(st, 1));
	if (r >= 0)
		r = copy_text(a.target_id, sizeof(a.target_id), sqlite3_column_text(st, 2));
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

/* ---- opening ---- */

static int create_schema(struct store *s)
{
	static const uint8_t zero[KEY_LEN];
	_cleanup_stmt_finalize_ sqlite3_stmt *st = NULL;
	uint8_t sealed[SEALED_LEN];
	int rc, r;

	r = exec_sql(s, schema_sql);
	if (r == 0)
		r = exec_sql(s, peer_schema_sql);
	if (r < 0)
		return r;
	r = crypto_seal(s->master_key->data, (const uint8_t *)key_check_aad,
			sizeof(key_check_aad) - 1, zero, sizeof(zero), sealed);
	if (r < 0)
		return r;
	rc = sqlite3_prepare_v2(s->db, "INSERT INTO meta (name, value) VALUES ('key_check', ?1)",
				-1, &st, NULL);
	if (rc != SQLITE_OK)
		return sql_errno(s->db, rc);
	r = bind_blob(st, 1, sealed, sizeof(sealed));
	if (r < 0)
		return r;
	return step_done(s, st);
}

/* Check the schema: 0 current (or *ret_empty), 1 an older one to migrate, -EPROTO or -errno. */
static int check_schema(struct store *s, bool *ret_empty)
{
	int64_t app_id, version, n_objects;
	int r;

	r = query_int(s, "PRAGMA application_id", &app_id);
	if (r < 0)
		return r;
	r = query_int(s, "PRAGMA user_version", &version);
	if (r < 0)
		return r;
	r = query_int(s, "SELECT count(*) FROM sqlite_master", &n_objects);
	if (r < 0)
		return r;
	*ret_empty = false;
	if (app_id == 0 && version == 0 && n_objects == 0) {
		*ret_empty = true;
		return 0;
	}
	if (app_id != STORE_APP_ID || version < 1 || version > STORE_SCHEMA_VERSION)
		return -EPROTO;
	return version < STORE_SCHEMA_VERSION ? 1 : 0; /* 1: an older schema to migrate */
}

static int init_schema(struct store *s)
{
	bool empty;
	int r;

	r = check_schema(s, &empty);
	if (r < 0 || (!empty && r == 0))
		return r;
	/* Another process may be creating or migrating it too: look again under the write lock. */
	r = tx_begin(s);
	if (r < 0)
		return r;
	r = check_schema(s, &empty);
	if (r >= 0 && empty)
		r = create_schema(s);
	else if (r == 1) {
		r = exec_sql(s, migrate_1_2_sql);
		if (r == 0)
			r = exec_sql(s, peer_schema_sql);
	}
	return tx_end(s, r < 0 ? r : 0);
}

static int check_master_key(struct store *s)
{
	_cleanup_stmt_finalize_ sqlite3_stmt *st = NULL;
	_cleanup_secret_ struct secret *k = NULL;
	static const uint8_t zero[KEY_LEN];
	int rc, r;

	rc = sqlite3_prepare_v2(s->db, "SELECT value FROM meta WHERE name = 'key_check'", -1, &st,
				NULL);
	if (rc != SQLITE_OK)
		return sql_errno(s->db, rc);
	r = step_row(s, st);
	if (r <= 0)
		return r < 0 ? r : -EIO;
	r = open_column(s, st, 0, (const uint8_t *)key_check_aad, sizeof(key_check_aad) - 1, &k);
	if (r == -EBADMSG)
		return -EKEYREJECTED;
	if (r < 0)
		return r;
	return secret_equal(k->data, zero, KEY_LEN) ? 0 : -EKEYREJECTED;
}

static int peer_schema(struct store *s)
{
	int64_t n;
	int r;

	r = query_int(s, "SELECT count(*) FROM sqlite_master WHERE name = 'peer_keys'", &n);
	if (r < 0 || n > 0)
		return r;
	return exec_sql(s, peer_schema_sql);
}

void store_close(struct store *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < _STMT_MAX; i++)
		sqlite3_finalize(s->stmts[i]);
	sqlite3_close(s->db);
	secret_free(s->master_key);
	free(s);
}

int store_open(const char *path, const uint8_t master_key[static STORE_MASTER_KEY_LEN],
	       struct store **ret)
{
	struct store *s;
	bool created = false;
	int fd, rc, r;

	if (!path || !*path || !ret)
		return -EINVAL;
	/* Create the file ourselves so it starts as 0600 (SQLite would use 0644 & ~umask);
	 * SQLite gives its -wal and -shm files the same mode. An empty file is an empty
	 * database to SQLite. */
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd >= 0) {
		created = true;
		close(fd);
	} else if (errno != EEXIST) {
		return -errno;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		r = -ENOMEM;
		goto fail;
	}
	r = secret_dup(master_key, STORE_MASTER_KEY_LEN, &s->master_key);
	if (r < 0)
		goto fail;
	rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		r = sql_errno(s->db, rc);
		goto fail;
	}
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, STORE_BUSY_TIMEOUT_MS);
	/* journal_mode is the first statement that reads the file: a file that is not
	 * SQLite fails here with SQLITE_NOTADB -> -EIO. */
	r = exec_sql(s, "PRAGMA journal_mode = WAL");
	if (r < 0)
		goto fail;
	/* WAL with synchronous=NORMAL: no fsync per commit, and the file stays consistent
	 * after a crash; a power loss may forget the last associations, whose nodes then
	 * see their key refused by the IN-CSE and establish again (TS-0003 8.2.2.3). */
	r = exec_sql(s, "PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON; "
			"PRAGMA synchronous = NORMAL");
	if (r < 0)
		goto fail;
	r = init_schema(s);
	if (r < 0)
		goto fail;
	r = check_master_key(s);
	if (r < 0)
		goto fail;
	r = peer_schema(s);
	if (r < 0)
		goto fail;
	*ret = s;
	return 0;
fail:
	store_close(s);
	if (created)
		(void)unlink(path);
	return r;
}

const char *store_location(const struct store *s)
{
	const char *p = s && s->db ? sqlite3_db_filename(s->db, "main") : NULL;

	return p && *p ? p : "(the store)";
}

/* ---- nodes ---- */

int store_node_add(struct store *s, const struct store_node *n, const uint8_t km[static 32])
{
	_cleanup_stmt_reset_ sqlite3_stmt *st = NULL;
	uint8_t aad[AAD_MAX], sealed[SEALED_LEN];
	char methods[64];
	size_t aad_len;
	uint64_t created;
	int r;

	if (!wire_id_valid(n->node_id) || !km_id_valid(n->km_id) || !target_valid(n->target_id) ||
	    !methods_valid(n->methods, n->n_methods) || (unsigned)n->state >= _STORE_NODE_STATE_MAX ||
	    !store_impi_valid(n->impi))
		return -EINVAL;
	created = n->created ? n->created : (uint64_t)time(NULL);
	methods_to_text(n->methods, n->n_methods, methods, sizeof(methods));
	aad_len = aad_node(n->node_id, aad);
	r = crypto_seal(s->master_key->data, aad, aad_len, km, KEY_LEN, sealed);
	if (r < 0)
		return r;
	r = stmt_get(s, STMT_NODE_INSERT, &st);
	if (r < 0)
		return r;
	if ((r = bind_text(st, 1, n->node_id)) < 0 || (r = bind_text(st, 2, n->km_id)) < 0 ||
	    (r = bind_text(st, 3, n->target_id)) < 0 || (r = bind_text(st, 4, methods)) < 0 ||
	    (r = bind_u64(st, 5, n->lifetime)) < 0 ||
	    (r = bind_text(st, 6, store_node_state_to_string(n->state))) < 0 ||
	    (r = bind_u64(st, 7, created)) < 0 || (r = bind_blob(st, 8, sealed, sizeof(sealed))) < 0 ||
	    (r = bind_text(st, 9, n->impi)) < 0)
		return r;
	return step_done(s, st);
}

int store_node_get(struct store *s, const char *node_id, struct store_node *ret)
{
	_cleanup_stmt_reset_ sqlite3_stmt *st = NULL;
	int r;

	r = stmt_get(s, STMT_NODE_GET, &st);
	if (r >= 0)
		r = lookup_row(s, st, bind_text(st, 1, node_id));
	return r < 0 ? r : node_from_row(st, ret);
}

int store_node_get_km(struct store *s, const char *node_id, struct secret **ret)
{
	_cleanup_stmt_reset_ sqlite3_stmt *st = NULL;
	uint8_t aad[AAD_MAX];
	size_t aad_len;
	int r;

	if (!wire_id_valid(node_id))
		return -ENOENT;
	r = stmt_get(s, STMT_NODE_GET_KM, &st);
	if (r >= 0)
		r = lookup_row(s, st, bind_text(st, 1, node_id));
	if (r < 0)
		return r;
	aad_len = aad_node(node_id, aad);
	return open_column(s, st, 0, aad, aad_len, ret);
}

/* Run a one-row UPDATE/DELETE keyed by node_id (?1) with an optional text or integer ?2. */
static int node_update(struct store *s, enum stmt_id id, const char *node_id, const char *text,
		       const uint64_t *num)
{
	_cleanup_stmt_reset_ sqlite3_stmt *st = NULL;
	int r;

	r = stmt_get(s, id, &st);
	if (r < 0)
		return r;
	r = bind_text(st, 1, node_id);
	if (r >= 0 && text)
		r = bind_text(st, 2, text);
	if (r >= 0 && num)
		r = bind_u64(st, 2, *num);
	return r < 0 ? r : step_changed(s, st);
}

int store_node_set_target(struct store *s, const char *node_id, const char *target_id)
{
	if (!target_valid(target_id))
		return -EINVAL;
	return node_update(s, STMT_NODE_SET_TARGET, node_id, target_id, NULL);
}

int store_node_set_methods(struct store *s, const char *node_id, const uint8_t *methods,
			   size_t n_methods)
{
	char text[64];

	if (!methods_valid(methods, n_methods))
		return -EINVAL;
	methods_to_text(methods, n_methods, text, sizeof(text));
	return node_update(s, STMT_NODE_SET_METHODS, node_id, text, NULL);
}

int store_node_set_lifetime(struct store *s, const char *node_id, uint64_t lifetime)
{
	if (lifetime > INT64_MAX)
		return -EINVAL;
	return node_update(s, STMT_NODE_SET_LIFETIME, node_id, NULL, &lifetime);
}

int store_node_set_impi(struct store *s, const char *node_id, const char *impi)
{
	if (!store_impi_valid(impi))
		return -EINVAL;
	return node_update(s, STMT_NODE_SET_IMPI, node_id, impi, NULL);
}

static int peer_revoke_node(struct store *s, const char *node_id);

int store_node_revoke(struct store *s, const char *node_id)
{
	int r;

	r = tx_begin(s);
	if (r < 0)
		return r;
	r = node_update(s, STMT_NODE_REVOKE, node_id, NULL, NULL);
	if (r >= 0) {
		_cleanup_stmt_reset_ sqlite3_stmt *st = NULL;

		r = stmt_get(s, STMT_NODE_REVOKE_ASSOCS, &st);
		if (r >= 0)
			r = bind_text(st, 1, node_id);
		if (r >= 0)
			r = step_done(s, st);
	}
	if (r >= 0)
		r = peer_revoke_node(s, node_id);
	return tx_end(s, r);
}

int store_node_delete(struct store *s, const char *node_id)
{
	/* ON DELETE CASCADE removes the node's associations in the same statement. */
	return node_update(s, STMT_NODE_DELETE, node_id, NULL, NULL);
}

int store_node_foreach(struct store *s, int (*cb)(const struct store_node *n, void *userdata),
		       void *userdata)
{
	_cleanup_stmt_finalize_ sqlite3_stmt *st = NULL;
	int r;

	r = stmt_prepare(s, "SELECT " NODE_COLUMNS " FROM nodes ORDER BY node_id", &st);
	if (r < 0)
		return r;
	while ((r = step_row(s, st)) > 0) {
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

int store_assoc_add(struct store *s, const struct store_assoc *a, const uint8_t kc[static 32],
		    const uint8_t ae_root[static 32])
{
	_cleanup_stmt_reset_ sqlite3_stmt *st = NULL;
	uint8_t aad[AAD_MAX], kc_sealed[SEALED_LEN], ae_sealed[SEALED_LEN];
	size_t aad_len;
	int r;

	if (!wire_id_valid(a->node_id) || !target_valid(a->target_id))
		return -EINVAL;
	aad_len = aad_assoc("assoc:", a->kcid, aad);
	r = crypto_seal(s->master_key->data, aad, aad_len, kc, KEY_LEN, kc_sealed);
	if (r < 0)
		return r;
	aad_len = aad_assoc("assoc-ae:", a->kcid, aad);
	r = crypto_seal(s->master_key->data, aad, aad_len, ae_root, KEY_LEN, ae_sealed);
	if (r < 0)
		return r;
	r = stmt_get(s, STMT_ASSOC_INSERT, &st);
	if (r < 0)
		return r;
	if ((r = bind_blob(st, 1, a->kcid, STORE_KCID_LEN)) < 0 ||
	    (r = bind_text(st, 2, a->node_id)) < 0 || (r = bind_text(st, 3, a->target_id)) < 0 ||
	    (r = bind_u64(st, 4, a->method)) < 0 || (r = bind_u64(st, 5, a->created)) < 0 ||
	    (r = bind_u64(st, 6, a->expiry)) < 0 || (r = bind_u64(st, 7, a->revoked ? 1 : 0)) < 0 ||
	    (r = bind_blob(st, 8, kc_sealed, sizeof(kc_sealed))) < 0 ||
	    (r = bind_blob(st, 9, ae_sealed, sizeof(ae_sealed))) < 0)
		return r;
	return step_done(s, st);
}

int store_assoc_get(struct store *s, const uint8_t kcid[static STORE_KCID_LEN],
		    struct store_assoc *ret)
{
	_cleanup_stmt_reset_ sqlite3_stmt *st = NULL;
	int r;

	r = stmt_get(s, STMT_ASSOC_GET, &st);
	if (r >= 0)
		r = lookup_row(s, st, bind_blob(st, 1, kcid, STORE_KCID_LEN));
	return r < 0 ? r : assoc_from_row(st, ret);
}

int store_assoc_get_keys(struct store *s, const uint8_t kcid[static STORE_KCID_LEN],
			 struct secret **ret_kc, struct secret **ret_ae_root)
{
	_cleanup_stmt_reset_ sqlite3_stmt *st = NULL;
	_cleanup_secret_ struct secret *kc = NULL;
	_cleanup_secret_ struct secret *ae = NULL;
	uint8_t aad[AAD_MAX];
	size_t aad_len;
	int r;

	r = stmt_get(s, STMT_ASSOC_GET_KEYS, &st);
	if (r >= 0)
		r = lookup_row(s, st, bind_blob(st, 1, kcid, STORE_KCID_LEN));
	if (r < 0)
		return r;
	if (ret_kc) {
		aad_len = aad_assoc("assoc:", kcid, aad);
		r = open_column(s, st, 0, aad, aad_len, &kc);
		if (r < 0)
			return r;
	}
	if (ret_ae_root) {
		aad_len = aad_assoc("assoc-ae:", kcid, aad);
		r = open_column(s, st, 1, aad, aad_len, &ae);
		if (r < 0)
			return r;
	}
	if (ret_kc) {
		*ret_kc = kc;
		kc = NULL;
	}
	if (ret_ae_root) {
		*ret_ae_root = ae;
		ae = NULL;
	}
	return 0;
}

int store_assoc_revoke(struct store *s, const uint8_t kcid[static STORE_KCID_LEN])
{
	_cleanup_stmt_reset_ sqlite3_stmt *st = NULL;
	int r;

	r = stmt_get(s, STMT_ASSOC_REVOKE, &st);
	if (r >= 0)
		r = bind_blob(st, 1, kcid, STORE_KCID_LEN);
	return r < 0 ? r : step_changed(s, st);
}

int store_assoc_foreach(struct store *s, const char *node_id,
			int (*cb)(const struct store_assoc *a, void *userdata), void *userdata)
{
	_cleanup_stmt_finalize_ sqlite3_stmt *st = NULL;
	int r;

	r = stmt_prepare(s,
			 "SELECT " ASSOC_COLUMNS " FROM assocs "
			 "WHERE ?1 IS NULL OR node_id = ?1 ORDER BY created, kcid",
			 &st);
	if (r >= 0 && node_id)
		r = bind_text(st, 1, node_id);
	if (r < 0)
		return r;
	while ((r = step_row(s, st)) > 0) {
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

int store_assoc_purge_expired(struct store *s, uint64_t now)
{
	_cleanup_stmt_reset_ sqlite3_stmt *st = NULL;
	int n, r;

	if (now > INT64_MAX)
		now = INT64_MAX;
	r = stmt_get(s, STMT_ASSOC_PURGE, &st);
	if (r < 0)
		return r;
	r = bind_u64(st, 1, now);
	if (r < 0)
		return r;
	r = step_done(s, st);
	if (r < 0)
		return r;
	n = sqlite3_changes(s->db);
	return n < 0 ? 0 : n;
}

/* ---- pairwise end-to-end keys (docs/protocol.md §14) ---- */

#define PEER_COLUMNS "id, node_id, ae_id, target, created, expiry, revoked"

static size_t aad_peer(const uint8_t id[static STORE_PEER_ID_LEN], uint8_t aad[static AAD_MAX])
{
	memcpy(aad, "peer:", 5);
	memcpy(aad + 5, id, STORE_PEER_ID_LEN);
	return 5 + STORE_PEER_ID_LEN;
}

static int peer_prepare(struct store *s, const char *sql, sqlite3_stmt **ret)
{
	int rc = sqlite3_prepare_v2(s->db, sql, -1, ret, NULL);

	return rc == SQLITE_OK ? 0 : sql_errno(s->db, rc);
}

static int peer_revoke_node(struct store *s, const char *node_id)
{
	_cleanup_stmt_finalize_ sqlite3_stmt *st = NULL;
	int r;

	r = peer_prepare(s, "UPDATE peer_keys SET revoked = 1 WHERE node_id = ?1", &st);
	if (r >= 0)
		r = bind_text(st, 1, node_id);
	return r < 0 ? r : step_done(s, st);
}

int store_peer_key_add(struct store *s, const struct store_peer_key *k,
		       const uint8_t key[static 32])
{
	_cleanup_stmt_finalize_ sqlite3_stmt *st = NULL;
	char cse[WIRE_ID_MAX + 1], ae[WIRE_ID_MAX + 1];
	uint8_t aad[AAD_MAX], sealed[SEALED_LEN];
	size_t aad_len;
	int r;

	if (!wire_id_valid(k->node_id) || !wire_id_valid(k->ae_id) || strchr(k->ae_id, '/') ||
	    wire_target_split(k->target, cse, ae) < 0)
		return -EINVAL;
	aad_len = aad_peer(k->id, aad);
	r = crypto_seal(s->master_key->data, aad, aad_len, key, KEY_LEN, sealed);
	if (r < 0)
		return r;
	r = peer_prepare(s, "INSERT INTO peer_keys (" PEER_COLUMNS ", key_sealed) "
			    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)", &st);
	if (r < 0)
		return r;
	if ((r = bind_blob(st, 1, k->id, STORE_PEER_ID_LEN)) < 0 ||
	    (r = bind_text(st, 2, k->node_id)) < 0 || (r = bind_text(st, 3, k->ae_id)) < 0 ||
	    (r = bind_text(st, 4, k->target)) < 0 || (r = bind_u64(st, 5, k->created)) < 0 ||
	    (r = bind_u64(st, 6, k->expiry)) < 0 || (r = bind_u64(st, 7, k->revoked ? 1 : 0)) < 0 ||
	    (r = bind_blob(st, 8, sealed, sizeof(sealed))) < 0)
		return r;
	return step_done(s, st);
}

static int peer_from_row(sqlite3_stmt *st, struct store_peer_key *ret)
{
	struct store_peer_key k = { 0 };
	const void *id = sqlite3_column_blob(st, 0);
	int64_t created = sqlite3_column_int64(st, 4), expiry = sqlite3_column_int64(st, 5);

	if (!id || sqlite3_column_bytes(st, 0) != STORE_PEER_ID_LEN || created < 0 || expiry < 0)
		return -EIO;
	memcpy(k.id, id, STORE_PEER_ID_LEN);
	if (copy_text(k.node_id, sizeof(k.node_id), sqlite3_column_text(st, 1)) < 0 ||
	    copy_text(k.ae_id, sizeof(k.ae_id), sqlite3_column_text(st, 2)) < 0 ||
	    copy_text(k.target, sizeof(k.target), sqlite3_column_text(st, 3)) < 0)
		return -EIO;
	k.created = (uint64_t)created;
	k.expiry = (uint64_t)expiry;
	k.revoked = sqlite3_column_int64(st, 6) != 0;
	*ret = k;
	return 0;
}

int store_peer_key_get(struct store *s, const uint8_t id[static STORE_PEER_ID_LEN],
		       struct store_peer_key *ret, struct secret **ret_key)
{
	_cleanup_stmt_finalize_ sqlite3_stmt *st = NULL;
	uint8_t aad[AAD_MAX];
	size_t aad_len;
	int r;

	r = peer_prepare(s, "SELECT " PEER_COLUMNS ", key_sealed FROM peer_keys WHERE id = ?1",
			 &st);
	if (r >= 0)
		r = bind_blob(st, 1, id, STORE_PEER_ID_LEN);
	if (r >= 0)
		r = step_row(s, st);
	if (r <= 0)
		return r < 0 ? r : -ENOENT;
	r = peer_from_row(st, ret);
	if (r < 0 || !ret_key)
		return r;
	aad_len = aad_peer(id, aad);
	return open_column(s, st, 7, aad, aad_len, ret_key);
}

int store_peer_key_revoke(struct store *s, const uint8_t id[static STORE_PEER_ID_LEN])
{
	_cleanup_stmt_finalize_ sqlite3_stmt *st = NULL;
	int r;

	r = peer_prepare(s, "UPDATE peer_keys SET revoked = 1 WHERE id = ?1", &st);
	if (r >= 0)
		r = bind_blob(st, 1, id, STORE_PEER_ID_LEN);
	if (r >= 0)
		r = step_done(s, st);
	if (r < 0)
		return r;
	return sqlite3_changes(s->db) > 0 ? 0 : -ENOENT;
}

int store_peer_key_purge_expired(struct store *s, uint64_t now)
{
	_cleanup_stmt_finalize_ sqlite3_stmt *st = NULL;
	int n, r;

	r = peer_prepare(s, "DELETE FROM peer_keys WHERE expiry <= ?1", &st);
	if (r >= 0)
		r = bind_u64(st, 1, now > INT64_MAX ? INT64_MAX : now);
	if (r >= 0)
		r = step_done(s, st);
	if (r < 0)
		return r;
	n = sqlite3_changes(s->db);
	return n < 0 ? 0 : n;
}
