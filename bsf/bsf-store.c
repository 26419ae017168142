/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The BSF store on SQLite (see bsf-store.h). Schema version 1, PRAGMA
 * application_id 0x6d324253 ("m2BS"), WAL journal and a busy timeout so that
 * m2msa-bsfctl can work on the file while m2msa-bsf runs.
 */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bsf/bsf-store.h"
#include "common/crypto.h"
#include "common/util.h"

#define BSF_APP_ID 0x6d324253
#define BSF_SCHEMA_VERSION 1
#define SUB_PLAIN (BSF_K_LEN + BSF_OPC_LEN)
#define SUB_SEALED (SUB_PLAIN + CRYPTO_SEAL_OVERHEAD)
#define KS_SEALED (BSF_KS_LEN + CRYPTO_SEAL_OVERHEAD)
#define AAD_MAX (32 + GBA_BTID_MAX)

struct bsf_store {
	sqlite3 *db;
	struct secret *master;
};

static const char schema_sql[] =
	"CREATE TABLE meta (name TEXT PRIMARY KEY, value BLOB NOT NULL);"
	"CREATE TABLE subscribers (impi TEXT PRIMARY KEY, secrets BLOB NOT NULL,"
	" sqn INTEGER NOT NULL, amf INTEGER NOT NULL, created INTEGER NOT NULL);"
	"CREATE TABLE sessions (btid TEXT PRIMARY KEY, impi TEXT NOT NULL, rand BLOB NOT NULL,"
	" ks BLOB NOT NULL, created INTEGER NOT NULL, expiry INTEGER NOT NULL);"
	"CREATE INDEX sessions_expiry ON sessions(expiry);"
	"CREATE INDEX sessions_impi ON sessions(impi);"
	"PRAGMA application_id = 1832010323;"
	"PRAGMA user_version = 1;";

static const char check_aad[] = "m2msa-bsf master key check";

static void finalizep(sqlite3_stmt **st)
{
	sqlite3_finalize(*st);
}
#define _cleanup_stmt_ _cleanup_(finalizep)

static int sql_errno(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_READONLY:
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return -EACCES;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_CANTOPEN:
		return -ENOENT;
	case SQLITE_CONSTRAINT:
		return -EEXIST;
	case SQLITE_NOTADB:
	case SQLITE_CORRUPT:
		return -EPROTO;
	default:
		return -EIO;
	}
}

static int prepare(struct bsf_store *s, const char *sql, sqlite3_stmt **ret)
{
	int rc = sqlite3_prepare_v2(s->db, sql, -1, ret, NULL);

	return rc == SQLITE_OK ? 0 : sql_errno(rc);
}

/* Step a statement that returns no row. */
static int step_done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	return rc == SQLITE_DONE ? 0 : sql_errno(rc);
}

/* 1 for a row, 0 for none. */
static int step_row(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : sql_errno(rc);
}

static int query_int(struct bsf_store *s, const char *sql, int64_t *ret)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r = prepare(s, sql, &st);

	if (r < 0)
		return r;
	r = step_row(st);
	if (r <= 0)
		return r < 0 ? r : -EIO;
	*ret = sqlite3_column_int64(st, 0);
	return 0;
}

/* "<what>\0<id>" as additional data for a sealed blob of the row id. */
static size_t make_aad(const char *what, const char *id, uint8_t out[static AAD_MAX])
{
	size_t a = strlen(what) + 1, b = strlen(id);

	memcpy(out, what, a);
	memcpy(out + a, id, b);
	return a + b;
}

static int seal_check(struct bsf_store *s, bool create)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	uint8_t sealed[CRYPTO_SEAL_OVERHEAD], empty[1] = { 0 };
	int r;

	if (create) {
		r = crypto_seal(s->master->data, (const uint8_t *)check_aad, sizeof(check_aad) - 1,
				empty, 0, sealed);
		if (r == 0)
			r = prepare(s, "INSERT INTO meta (name, value) VALUES ('key_check', ?1)", &st);
		if (r < 0)
			return r;
		sqlite3_bind_blob(st, 1, sealed, sizeof(sealed), SQLITE_TRANSIENT);
		return step_done(st);
	}
	r = prepare(s, "SELECT value FROM meta WHERE name = 'key_check'", &st);
	if (r < 0)
		return r;
	r = step_row(st);
	if (r <= 0)
		return r < 0 ? r : -EPROTO;
	if (sqlite3_column_bytes(st, 0) != (int)sizeof(sealed))
		return -EPROTO;
	r = crypto_open(s->master->data, (const uint8_t *)check_aad, sizeof(check_aad) - 1,
			sqlite3_column_blob(st, 0), sizeof(sealed), empty);
	return r == -EBADMSG ? -EKEYREJECTED : r;
}

static int init_schema(struct bsf_store *s)
{
	int64_t app_id, version, n;
	int r;

	r = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (r != SQLITE_OK)
		return sql_errno(r);
	r = query_int(s, "PRAGMA application_id", &app_id);
	if (r == 0)
		r = query_int(s, "PRAGMA user_version", &version);
	if (r == 0)
		r = query_int(s, "SELECT count(*) FROM sqlite_master", &n);
	if (r == 0 && app_id == 0 && version == 0 && n == 0) {
		r = sqlite3_exec(s->db, schema_sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -EIO;
		if (r == 0)
			r = seal_check(s, true);
	} else if (r == 0 && (app_id != BSF_APP_ID || version != BSF_SCHEMA_VERSION)) {
		r = -EPROTO;
	}
	sqlite3_exec(s->db, r == 0 ? "COMMIT" : "ROLLBACK", NULL, NULL, NULL);
	return r < 0 ? r : seal_check(s, false);
}

int bsf_store_open(const char *path, const uint8_t master_key[static 32], struct bsf_store **ret)
{
	struct bsf_store *s;
	int rc, r;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	r = secret_dup(master_key, 32, &s->master);
	if (r < 0)
		goto fail;
	rc = sqlite3_open_v2(path, &s->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		r = sql_errno(rc);
		goto fail;
	}
	sqlite3_busy_timeout(s->db, 5000);
	if (sqlite3_exec(s->db, "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON;", NULL, NULL,
			 NULL) != SQLITE_OK) {
		r = -EPROTO;
		goto fail;
	}
	r = init_schema(s);
	if (r < 0)
		goto fail;
	*ret = s;
	return 0;
fail:
	bsf_store_close(s);
	return r;
}

void bsf_store_close(struct bsf_store *s)
{
	if (!s)
		return;
	sqlite3_close(s->db);
	secret_free(s->master);
	free(s);
}

int bsf_store_subscriber_add(struct bsf_store *s, const struct bsf_subscriber *sub,
			     const uint8_t k[static BSF_K_LEN], const uint8_t opc[static BSF_OPC_LEN])
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	uint8_t plain[SUB_PLAIN], sealed[SUB_SEALED], aad[AAD_MAX];
	size_t aad_len = make_aad("subscriber", sub->impi, aad);
	int r;

	memcpy(plain, k, BSF_K_LEN);
	memcpy(plain + BSF_K_LEN, opc, BSF_OPC_LEN);
	r = crypto_seal(s->master->data, aad, aad_len, plain, sizeof(plain), sealed);
	secret_wipe(plain, sizeof(plain));
	if (r < 0)
		return r;
	r = prepare(s, "INSERT INTO subscribers (impi, secrets, sqn, amf, created) "
		       "VALUES (?1, ?2, ?3, ?4, ?5)", &st);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, sub->impi, -1, SQLITE_TRANSIENT);
	sqlite3_bind_blob(st, 2, sealed, sizeof(sealed), SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 3, (int64_t)sub->sqn);
	sqlite3_bind_int(st, 4, sub->amf[0] << 8 | sub->amf[1]);
	sqlite3_bind_int64(st, 5, sub->created ? sub->created : (int64_t)time(NULL));
	return step_done(st);
}

static void subscriber_from_row(sqlite3_stmt *st, struct bsf_subscriber *ret)
{
	const unsigned char *impi = sqlite3_column_text(st, 0);
	int amf = sqlite3_column_int(st, 2);

	memset(ret, 0, sizeof(*ret));
	snprintf(ret->impi, sizeof(ret->impi), "%s", impi ? (const char *)impi : "");
	ret->sqn = (uint64_t)sqlite3_column_int64(st, 1);
	ret->amf[0] = (uint8_t)(amf >> 8);
	ret->amf[1] = (uint8_t)amf;
	ret->created = sqlite3_column_int64(st, 3);
}

int bsf_store_subscriber_get(struct bsf_store *s, const char *impi, struct bsf_subscriber *ret,
			     struct secret **ret_k_opc)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	_cleanup_secret_ struct secret *k = NULL;
	uint8_t aad[AAD_MAX];
	size_t aad_len;
	int r;

	if (strlen(impi) > GBA_IMPI_MAX)
		return -ENOENT;
	aad_len = make_aad("subscriber", impi, aad);
	r = prepare(s, "SELECT impi, sqn, amf, created, secrets FROM subscribers WHERE impi = ?1",
		    &st);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, impi, -1, SQLITE_TRANSIENT);
	r = step_row(st);
	if (r <= 0)
		return r < 0 ? r : -ENOENT;
	if (ret_k_opc) {
		if (sqlite3_column_bytes(st, 4) != SUB_SEALED)
			return -EPROTO;
		r = secret_new(SUB_PLAIN, &k);
		if (r == 0)
			r = crypto_open(s->master->data, aad, aad_len, sqlite3_column_blob(st, 4),
					SUB_SEALED, k->data);
		if (r < 0)
			return r;
	}
	subscriber_from_row(st, ret);
	if (ret_k_opc) {
		*ret_k_opc = k;
		k = NULL;
	}
	return 0;
}

static int changed_one(struct bsf_store *s, sqlite3_stmt *st)
{
	int r = step_done(st);

	if (r < 0)
		return r;
	return sqlite3_changes(s->db) == 1 ? 0 : -ENOENT;
}

int bsf_store_subscriber_set_sqn(struct bsf_store *s, const char *impi, uint64_t sqn)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r = prepare(s, "UPDATE subscribers SET sqn = ?2 WHERE impi = ?1", &st);

	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, impi, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, (int64_t)sqn);
	return changed_one(s, st);
}

int bsf_store_subscriber_delete(struct bsf_store *s, const char *impi)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL, *st2 = NULL;
	int r = prepare(s, "DELETE FROM subscribers WHERE impi = ?1", &st);

	if (r == 0)
		r = prepare(s, "DELETE FROM sessions WHERE impi = ?1", &st2);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, impi, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st2, 1, impi, -1, SQLITE_TRANSIENT);
	r = changed_one(s, st);
	if (r < 0)
		return r;
	return step_done(st2);
}

int bsf_store_subscriber_foreach(struct bsf_store *s,
				 int (*cb)(const struct bsf_subscriber *sub, void *userdata),
				 void *userdata)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r = prepare(s, "SELECT impi, sqn, amf, created FROM subscribers ORDER BY impi", &st);

	if (r < 0)
		return r;
	while ((r = step_row(st)) == 1) {
		struct bsf_subscriber sub;

		subscriber_from_row(st, &sub);
		r = cb(&sub, userdata);
		if (r != 0)
			return r;
	}
	return r;
}

int bsf_store_session_put(struct bsf_store *s, const struct bsf_session *sess,
			  const uint8_t ks[static BSF_KS_LEN])
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	uint8_t sealed[KS_SEALED], aad[AAD_MAX];
	size_t aad_len = make_aad("session", sess->btid, aad);
	int r;

	r = crypto_seal(s->master->data, aad, aad_len, ks, BSF_KS_LEN, sealed);
	if (r == 0)
		r = prepare(s, "INSERT OR REPLACE INTO sessions (btid, impi, rand, ks, created, expiry)"
			       " VALUES (?1, ?2, ?3, ?4, ?5, ?6)", &st);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, sess->btid, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, sess->impi, -1, SQLITE_TRANSIENT);
	sqlite3_bind_blob(st, 3, sess->rand, sizeof(sess->rand), SQLITE_TRANSIENT);
	sqlite3_bind_blob(st, 4, sealed, sizeof(sealed), SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 5, sess->created);
	sqlite3_bind_int64(st, 6, sess->expiry);
	return step_done(st);
}

int bsf_store_session_get(struct bsf_store *s, const char *btid, struct bsf_session *ret,
			  struct secret **ret_ks)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	_cleanup_secret_ struct secret *ks = NULL;
	struct bsf_session sess = { 0 };
	uint8_t aad[AAD_MAX];
	size_t aad_len;
	const unsigned char *impi;
	int r;

	if (strlen(btid) > GBA_BTID_MAX)
		return -ENOENT;
	aad_len = make_aad("session", btid, aad);
	r = prepare(s, "SELECT impi, rand, ks, created, expiry FROM sessions WHERE btid = ?1", &st);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, btid, -1, SQLITE_TRANSIENT);
	r = step_row(st);
	if (r <= 0)
		return r < 0 ? r : -ENOENT;
	if (sqlite3_column_bytes(st, 1) != 16 || sqlite3_column_bytes(st, 2) != KS_SEALED)
		return -EPROTO;
	if (ret_ks) {
		r = secret_new(BSF_KS_LEN, &ks);
		if (r == 0)
			r = crypto_open(s->master->data, aad, aad_len, sqlite3_column_blob(st, 2),
					KS_SEALED, ks->data);
		if (r < 0)
			return r;
	}
	snprintf(sess.btid, sizeof(sess.btid), "%s", btid);
	impi = sqlite3_column_text(st, 0);
	snprintf(sess.impi, sizeof(sess.impi), "%s", impi ? (const char *)impi : "");
	memcpy(sess.rand, sqlite3_column_blob(st, 1), 16);
	sess.created = sqlite3_column_int64(st, 3);
	sess.expiry = sqlite3_column_int64(st, 4);
	*ret = sess;
	if (ret_ks) {
		*ret_ks = ks;
		ks = NULL;
	}
	return 0;
}

int bsf_store_session_purge(struct bsf_store *s, int64_t now)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r = prepare(s, "DELETE FROM sessions WHERE expiry <= ?1", &st);

	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, now);
	r = step_done(st);
	return r < 0 ? r : sqlite3_changes(s->db);
}
