/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The PostgreSQL backend's connection (store-pg-conn.c), shared with the SQL in
 * store-pg.c; not for use outside them. The connection is blocking (libpq, like
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
