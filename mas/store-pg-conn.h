/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The PostgreSQL backend's connection (store-pg-conn.c), shared with the SQL in
 * store-pg.c and store-pg-peer.c; not for use outside them. Also what those two
 * share: one-statement operations, binary result columns, and the pairwise-key
 * operations of store_pg_ops. The connection is blocking (libpq, like
 * SQLite's file I/O): a slow database makes m2masd slow, it does not make it
 * fail. A lost connection is reported through store_notify(), re-established,
 * and the operation runs again up to PG_ATTEMPTS times; then the caller gets
 * -ECONNRESET (or the connect error).
 */
#pragma once

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "common/util.h"
#include "mas/store-backend.h"

#define PG_ATTEMPTS 4
#define PG_CONNECT_TIMEOUT "5"
#define PG_PASSWORD_MAX 512
#define PG_MAX_PARAMS 10
/* The most rows one purge statement removes (pg_purge_batched). */
#define PG_PURGE_BATCH 10000
#define STR_(x) #x
#define STRINGIFY(x) STR_(x)

struct pg_store {
	struct store base;
	PGconn *conn;
	char *conninfo;
	char *password_file;
	char *app_name;
	char location[300];
};

/* Parameters of one statement: text, decimal text, or binary (bytea). */
struct pg_params {
	int n;
	const char *v[PG_MAX_PARAMS];
	int len[PG_MAX_PARAMS];
	int fmt[PG_MAX_PARAMS];
	char num[PG_MAX_PARAMS][24];
};

static inline struct pg_store *to_pg(struct store *s)
{
	return (struct pg_store *)s;
}

static inline void pg_res_clearp(PGresult **res)
{
	PQclear(*res);
}
#define _cleanup_pg_res_ _cleanup_(pg_res_clearp)

/* Append a parameter: text, a number as decimal text, or binary (bytea). */
void pg_par_text(struct pg_params *p, const char *v);
void pg_par_u64(struct pg_params *p, uint64_t v);
void pg_par_blob(struct pg_params *p, const void *v, size_t len);

/* Run sql with par (NULL: none), binary results: 0 and *ret (PQclear it), or -errno. */
int pg_exec(struct pg_store *p, const char *sql, const struct pg_params *par, PGresult **ret);
/* Run sql with par: the number of rows it changed, or -errno. */
int pg_exec_changes(struct pg_store *p, const char *sql, const struct pg_params *par);
/* (Re)connect p; err (if not NULL) says why not. */
int pg_connect(struct pg_store *p, char *err, size_t err_len);
/*
 * Run op (one statement or one transaction) until it succeeds or fails for a
 * reason running it again cannot change: a lost connection is re-established,
 * a serialization failure or deadlock (-EAGAIN from op) runs it again.
 */
int pg_run(struct pg_store *p, int (*op)(struct pg_store *p, void *ud), void *ud);
/* BEGIN; op; COMMIT, with ROLLBACK on failure: an op for pg_run. */
int pg_tx(struct pg_store *p, int (*op)(struct pg_store *p, void *ud), void *ud);

/* ---- one-statement operations (store-pg-conn.c) ---- */

/* A statement, its parameters and where a one-row answer goes. */
struct pg_one {
	const char *sql;
	struct pg_params par;
	int (*row)(const PGresult *res, void *out);
	void *out;
};

/* Run the read or write o (with retries); a write's row count becomes 0. */
int pg_run_one(struct store *s, struct pg_one *o);
/* Run the write o (with retries): 0 if it changed a row, -ENOENT if none. */
int pg_write_one(struct store *s, struct pg_one *o);
/* The read sql keyed by one bytea $1 (key, len): row on its single row, -ENOENT for none. */
int pg_read_by_blob(struct store *s, const char *sql, const void *key, size_t len,
		    int (*row)(const PGresult *res, void *out), void *out);
/* The write sql keyed by one bytea $1 (key, len): -ENOENT if no row. */
int pg_write_by_blob(struct store *s, const char *sql, const void *key, size_t len);
/*
 * The DELETE sql of the rows expired by now ($1), which removes at most
 * PG_PURGE_BATCH rows a run: repeated until a run removes fewer. Returns how
 * many went.
 */
int pg_purge_batched(struct store *s, const char *sql, uint64_t now);

/* ---- binary result columns (store-pg-conn.c): -EIO if NULL or the wrong size ---- */

/* A text column into dst (with its NUL); -EIO if too long or with a NUL inside. */
int pg_col_text(const PGresult *res, int row, int col, char *dst, size_t dst_len);
/* A BIGINT (8 bytes, big-endian) that must not be negative. */
int pg_col_u64(const PGresult *res, int row, int col, uint64_t *ret);
/* A bytea column of exactly len bytes. */
int pg_col_blob(const PGresult *res, int row, int col, uint8_t *buf, size_t len);

/* ---- pairwise keys (store-pg-peer.c): the peer_* of store_pg_ops ---- */

int pg_peer_insert(struct store *s, const struct store_peer_key *k, const char *target_cse,
		   const uint8_t key_sealed[static STORE_SEALED_LEN]);
int pg_peer_get(struct store *s, const uint8_t id[static STORE_PEER_ID_LEN],
		struct store_peer_key *ret, uint8_t key_sealed[static STORE_SEALED_LEN]);
int pg_peer_revoke(struct store *s, const uint8_t id[static STORE_PEER_ID_LEN]);
int pg_peer_purge(struct store *s, uint64_t now);
