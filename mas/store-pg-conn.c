/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The PostgreSQL backend's connection: connect, run statements, retry; and, on
 * top, one-statement operations and reading binary result columns (store-pg-conn.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/secret.h"
#include "common/util.h"
#include "mas/store-pg-conn.h"

void pg_par_text(struct pg_params *p, const char *v)
{
	p->v[p->n] = v;
	p->len[p->n] = 0;
	p->fmt[p->n++] = 0;
}

void pg_par_u64(struct pg_params *p, uint64_t v)
{
	snprintf(p->num[p->n], sizeof(p->num[p->n]), "%llu", (unsigned long long)v);
	pg_par_text(p, p->num[p->n]);
}

void pg_par_blob(struct pg_params *p, const void *v, size_t len)
{
	p->v[p->n] = v;
	p->len[p->n] = (int)len;
	p->fmt[p->n++] = 1;
}

/* The first line of libpq's message, for notifications. */
static const char *first_line(const char *msg, char *buf, size_t len)
{
	size_t n = strcspn(msg ? msg : "", "\n");

	if (n >= len)
		n = len - 1;
	memcpy(buf, msg ? msg : "", n);
	buf[n] = '\0';
	return buf;
}

/* -errno for a failed result: SQLSTATE classes, or a lost connection. */
static int res_errno(struct pg_store *p, const PGresult *res)
{
	const char *st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	if (PQstatus(p->conn) != CONNECTION_OK)
		return -ECONNRESET;
	if (!st)
		return -EIO;
	if (strcmp(st, "23505") == 0)
		return -EEXIST; /* unique_violation */
	if (strcmp(st, "23503") == 0)
		return -ENOENT; /* foreign_key_violation */
	if (strcmp(st, "40001") == 0 || strcmp(st, "40P01") == 0)
		return -EAGAIN; /* serialization_failure, deadlock_detected: run it again */
	if (strncmp(st, "08", 2) == 0 || strncmp(st, "57P", 3) == 0)
		return -ECONNRESET; /* connection exception, admin/crash shutdown */
	if (strcmp(st, "42P07") == 0)
		return -EEXIST; /* duplicate_table: another instance created the schema */
	if (strcmp(st, "42P01") == 0 || strcmp(st, "42703") == 0)
		return -EPROTO; /* undefined table/column: not our schema */
	if (strcmp(st, "42501") == 0 || strncmp(st, "28", 2) == 0)
		return -EACCES;
	if (strcmp(st, "53100") == 0)
		return -ENOSPC;
	if (strncmp(st, "53", 2) == 0)
		return -ENOMEM;
	if (strncmp(st, "23", 2) == 0 || strncmp(st, "22", 2) == 0)
		return -EINVAL;
	return -EIO;
}

/* Run sql with p (NULL: none), binary results: 0 and *ret (PQclear it), or -errno. */
int pg_exec(struct pg_store *p, const char *sql, const struct pg_params *par,
		   PGresult **ret)
{
	PGresult *res;
	ExecStatusType st;
	int r;

	if (!p->conn || PQstatus(p->conn) != CONNECTION_OK)
		return -ECONNRESET;
	if (par)
		res = PQexecParams(p->conn, sql, par->n, NULL, par->v, par->len, par->fmt, 1);
	else
		res = PQexec(p->conn, sql);
	st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
		if (ret)
			*ret = res;
		else
			PQclear(res);
		return 0;
	}
	r = res_errno(p, res);
	PQclear(res);
	return r;
}


/* Rows a statement changed. */
static long res_changes(PGresult *res)
{
	const char *n = PQcmdTuples(res);

	return n && *n ? strtol(n, NULL, 10) : 0;
}

int pg_exec_changes(struct pg_store *p, const char *sql, const struct pg_params *par)
{
	_cleanup_pg_res_ PGresult *res = NULL;
	int r = pg_exec(p, sql, par, &res);

	if (r < 0)
		return r;
	return (int)(res_changes(res) > 0x7fffffff ? 0x7fffffff : res_changes(res));
}

/* ---- connecting ---- */

/* The password file's first line into a new secret; -EPERM if group or others may read it. */
static int read_password(const char *path, struct secret **ret)
{
	_cleanup_close_ int fd = -1;
	struct secret *pw = NULL;
	struct stat st;
	ssize_t n;
	int r;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if (st.st_mode & 077)
		return -EPERM;
	r = secret_new(PG_PASSWORD_MAX + 1, &pw);
	if (r < 0)
		return r;
	n = read(fd, pw->data, PG_PASSWORD_MAX);
	if (n < 0) {
		r = -errno;
		secret_free(pw);
		return r;
	}
	pw->data[n] = 0;
	pw->data[strcspn((char *)pw->data, "\r\n")] = 0;
	*ret = pw;
	return 0;
}

/*
 * libpq's connection failure as -errno (libpq gives no SQLSTATE for these). Only
 * the conditions that pass by themselves are temporary (-ECONNREFUSED,
 * -EHOSTUNREACH, -ETIMEDOUT: m2masd exits 75 and is restarted); anything else, an
 * SSL or CA failure, an unknown host, a message not known here, is a
 * misconfiguration (-ENOTCONN: exit 1 with libpq's message).
 */
static int connect_errno(const char *msg)
{
	static const char *const refused[] = {
		"Connection refused",
		"No such file or directory", /* the Unix socket: server not started */
		"the database system is starting up",
		"the database system is shutting down",
		"the database system is in recovery mode",
		"too many clients",
		"remaining connection slots are reserved",
		"server closed the connection unexpectedly",
		"Connection reset by peer",
	};
	static const char *const unreachable[] = {
		"No route to host",
		"Network is unreachable",
		"Temporary failure in name resolution", /* DNS not up yet, not a wrong name */
	};

	if (!msg)
		return -EIO;
	if (strstr(msg, "password authentication failed") || strstr(msg, "no password supplied") ||
	    strstr(msg, "permission denied") || strstr(msg, "no pg_hba.conf entry"))
		return -EACCES;
	if (strstr(msg, "does not exist"))
		return -ENOENT;
	if (strstr(msg, "timeout expired"))
		return -ETIMEDOUT;
	for (size_t i = 0; i < ARRAY_SIZE(refused); i++)
		if (strstr(msg, refused[i]))
			return -ECONNREFUSED;
	for (size_t i = 0; i < ARRAY_SIZE(unreachable); i++)
		if (strstr(msg, unreachable[i]))
			return -EHOSTUNREACH;
	if (strstr(msg, "invalid") || strstr(msg, "missing"))
		return -EINVAL;
	return -ENOTCONN;
}

int pg_connect(struct pg_store *p, char *err, size_t err_len)
{
	_cleanup_secret_ struct secret *pw = NULL;
	const char *keys[8], *vals[8];
	char line[256];
	int n = 0, r;

	if (p->password_file) {
		r = read_password(p->password_file, &pw);
		if (r < 0) {
			if (err)
				snprintf(err, err_len, "cannot read password file %s: %s%s",
					 p->password_file, strerror(-r),
					 r == -EPERM ? " (chmod 600 it)" : "");
			return r == -EPERM ? -EPERM : -EACCES;
		}
	}
	keys[n] = "connect_timeout", vals[n++] = PG_CONNECT_TIMEOUT;
	keys[n] = "application_name", vals[n++] = p->app_name;
	keys[n] = "dbname", vals[n++] = p->conninfo;
	if (pw)
		keys[n] = "password", vals[n++] = (const char *)pw->data;
	keys[n] = "client_encoding", vals[n++] = "UTF8";
	keys[n] = NULL, vals[n] = NULL;
	PQfinish(p->conn);
	p->conn = PQconnectdbParams(keys, vals, 1);
	if (!p->conn)
		return -ENOMEM;
	if (PQstatus(p->conn) != CONNECTION_OK) {
		r = connect_errno(PQerrorMessage(p->conn));
		if (err)
			snprintf(err, err_len, "%s",
				 first_line(PQerrorMessage(p->conn), line, sizeof(line)));
		return r;
	}
	snprintf(p->location, sizeof(p->location), "postgresql://%s@%s:%s/%s", PQuser(p->conn),
		 PQhost(p->conn), PQport(p->conn), PQdb(p->conn));
	/* Quiet NOTICEs (e.g. from CREATE ... IF NOT EXISTS) stay out of stderr. */
	(void)pg_exec(p, "SET client_min_messages = warning", NULL, NULL);
	return 0;
}

/* A short, jittered pause before the next attempt: 50, 100, 200 ms (+0..50 %). */
static void pause_before(int attempt)
{
	long ms = 50L << attempt;
	struct timespec ts;

	ms += ms * (rand() % 50) / 100;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	nanosleep(&ts, NULL);
}

/*
 * Run op (one statement or one transaction) until it succeeds or fails for a
 * reason running it again cannot change: a lost connection is re-established,
 * a serialization failure or deadlock runs the transaction again.
 */
int pg_run(struct pg_store *p, int (*op)(struct pg_store *p, void *ud), void *ud)
{
	char err[256] = "", line[256];
	int r = -ECONNRESET;

	for (int attempt = 0; attempt < PG_ATTEMPTS; attempt++) {
		if (attempt > 0)
			pause_before(attempt - 1);
		if (!p->conn || PQstatus(p->conn) != CONNECTION_OK) {
			r = pg_connect(p, err, sizeof(err));
			if (r < 0)
				continue;
			store_notify(&p->base, STORE_EVENT_RECONNECTED, "reconnected to %s",
				     p->location);
		}
		r = op(p, ud);
		if (r == -EAGAIN) {
			store_notify(&p->base, STORE_EVENT_RETRY,
				     "serialization failure or deadlock at %s; running the "
				     "transaction again",
				     p->location);
			continue;
		}
		if (r != -ECONNRESET)
			return r;
		store_notify(&p->base, STORE_EVENT_CONNECTION_LOST,
			     "lost the connection to %s (%s); reconnecting", p->location,
			     first_line(PQerrorMessage(p->conn), line, sizeof(line)));
		PQfinish(p->conn);
		p->conn = NULL;
	}
	if (r == -EAGAIN)
		return -EBUSY;
	if (err[0])
		store_notify(&p->base, STORE_EVENT_CONNECTION_LOST, "cannot reconnect to %s: %s",
			     p->location, err);
	return r;
}

/* BEGIN; op; COMMIT, with ROLLBACK on failure: for pg_run. */
int pg_tx(struct pg_store *p, int (*op)(struct pg_store *p, void *ud), void *ud)
{
	int r;

	r = pg_exec(p, "BEGIN", NULL, NULL);
	if (r < 0)
		return r;
	r = op(p, ud);
	if (r >= 0) {
		int c = pg_exec(p, "COMMIT", NULL, NULL);

		if (c < 0)
			r = c;
	}
	if (r < 0 && PQstatus(p->conn) == CONNECTION_OK)
		(void)pg_exec(p, "ROLLBACK", NULL, NULL);
	return r;
}

/* ---- binary result columns ---- */

int pg_col_text(const PGresult *res, int row, int col, char *dst, size_t dst_len)
{
	int len = PQgetlength(res, row, col);

	if (PQgetisnull(res, row, col) || len < 0 || (size_t)len >= dst_len)
		return -EIO;
	memcpy(dst, PQgetvalue(res, row, col), (size_t)len);
	dst[len] = '\0';
	if (strlen(dst) != (size_t)len)
		return -EIO;
	return 0;
}

/* A BIGINT (8 bytes, big-endian) that must not be negative. */
int pg_col_u64(const PGresult *res, int row, int col, uint64_t *ret)
{
	const unsigned char *b = (const unsigned char *)PQgetvalue(res, row, col);
	uint64_t v = 0;

	if (PQgetisnull(res, row, col) || PQgetlength(res, row, col) != 8)
		return -EIO;
	for (int i = 0; i < 8; i++)
		v = (v << 8) | b[i];
	if (v > INT64_MAX)
		return -EIO;
	*ret = v;
	return 0;
}

int pg_col_blob(const PGresult *res, int row, int col, uint8_t *buf, size_t len)
{
	if (PQgetisnull(res, row, col) || PQgetlength(res, row, col) != (int)len)
		return -EIO;
	memcpy(buf, PQgetvalue(res, row, col), len);
	return 0;
}

/* ---- one-row reads and writes ---- */

/* Run o->sql: for a read, o->row on its single row (-ENOENT for none); else rows changed. */
static int op_one(struct pg_store *p, void *ud)
{
	struct pg_one *o = ud;
	_cleanup_pg_res_ PGresult *res = NULL;
	int r;

	if (!o->row)
		return pg_exec_changes(p, o->sql, &o->par);
	r = pg_exec(p, o->sql, &o->par, &res);
	if (r < 0)
		return r;
	if (PQntuples(res) == 0)
		return -ENOENT;
	return o->row(res, o->out);
}

/* Run the read or write o (with retries); a write's row count becomes 0. */
int pg_run_one(struct store *s, struct pg_one *o)
{
	int r = pg_run(to_pg(s), op_one, o);

	return r < 0 ? r : 0;
}

/* Run the write o (with retries): 0 if it changed a row, -ENOENT if none. */
int pg_write_one(struct store *s, struct pg_one *o)
{
	int r = pg_run(to_pg(s), op_one, o);

	if (r < 0)
		return r;
	return r > 0 ? 0 : -ENOENT;
}

/* The read sql keyed by one bytea $1 (key, len): row on its single row, -ENOENT for none. */
int pg_read_by_blob(struct store *s, const char *sql, const void *key, size_t len,
		    int (*row)(const PGresult *res, void *out), void *out)
{
	struct pg_one o = { .sql = sql, .row = row, .out = out };

	pg_par_blob(&o.par, key, len);
	return pg_run_one(s, &o);
}

/* The write sql keyed by one bytea $1 (key, len): -ENOENT if no row. */
int pg_write_by_blob(struct store *s, const char *sql, const void *key, size_t len)
{
	struct pg_one o = { .sql = sql };

	pg_par_blob(&o.par, key, len);
	return pg_write_one(s, &o);
}

/*
 * The DELETE sql of the rows expired by now ($1), which removes at most
 * PG_PURGE_BATCH rows a run: repeated until a run removes fewer, so that no
 * statement holds many rows locked at once. Returns how many went.
 */
int pg_purge_batched(struct store *s, const char *sql, uint64_t now)
{
	struct pg_one o = { .sql = sql };
	long total = 0;
	int r;

	pg_par_u64(&o.par, now);
	do {
		r = pg_run(to_pg(s), op_one, &o);
		if (r < 0)
			return r;
		total += r;
	} while (r == PG_PURGE_BATCH && total < 0x7fffffff - PG_PURGE_BATCH);
	return (int)total;
}
