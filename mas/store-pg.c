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
 * The connection is blocking (libpq, like SQLite's file I/O): a slow database
 * makes m2masd slow, it does not make it fail. A lost connection is reported
 * through store_notify(), re-established, and the operation runs again up to
 * PG_ATTEMPTS times; then the caller gets -ECONNRESET (or the connect error).
 * Each operation is one statement or one transaction, so a loss in the middle
 * leaves nothing half-written.
 *
 * Schema versions live in the table m2msa_schema (one row per migration
 * applied); the key check in meta like the SQLite backend's.
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
#include "common/wire.h"
#include "mas/store-backend.h"
#include "mas/store.h"

#define PG_ATTEMPTS 4
#define PG_CONNECT_TIMEOUT "5"
#define PG_PAGE 500
#define PG_PASSWORD_MAX 512
#define PG_MAX_PARAMS 10
#define STR_(x) #x
#define STRINGIFY(x) STR_(x)

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
#define PEER_COLUMNS "id, node_id, ae_id, target, created, expiry, revoked"

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

static struct pg_store *to_pg(struct store *s)
{
	return (struct pg_store *)s;
}

static void par_text(struct pg_params *p, const char *v)
{
	p->v[p->n] = v;
	p->len[p->n] = 0;
	p->fmt[p->n++] = 0;
}

static void par_u64(struct pg_params *p, uint64_t v)
{
	snprintf(p->num[p->n], sizeof(p->num[p->n]), "%llu", (unsigned long long)v);
	par_text(p, p->num[p->n]);
}

static void par_blob(struct pg_params *p, const void *v, size_t len)
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
static int pg_exec(struct pg_store *p, const char *sql, const struct pg_params *par,
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

static void res_clearp(PGresult **res)
{
	PQclear(*res);
}
#define _cleanup_res_ _cleanup_(res_clearp)

/* Rows a statement changed. */
static long res_changes(PGresult *res)
{
	const char *n = PQcmdTuples(res);

	return n && *n ? strtol(n, NULL, 10) : 0;
}

static int exec_changes(struct pg_store *p, const char *sql, const struct pg_params *par)
{
	_cleanup_res_ PGresult *res = NULL;
	int r = pg_exec(p, sql, par, &res);

	if (r < 0)
		return r;
	return (int)(res_changes(res) > 0x7fffffff ? 0x7fffffff : res_changes(res));
}

/* ---- binary result columns ---- */

static int col_text(const PGresult *res, int row, int col, char *dst, size_t dst_len)
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
static int col_u64(const PGresult *res, int row, int col, uint64_t *ret)
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

static int col_blob(const PGresult *res, int row, int col, uint8_t *buf, size_t len)
{
	if (PQgetisnull(res, row, col) || PQgetlength(res, row, col) != (int)len)
		return -EIO;
	memcpy(buf, PQgetvalue(res, row, col), len);
	return 0;
}

static int node_from_row(const PGresult *res, int row, struct store_node *ret)
{
	struct store_node n = { .state = STORE_NODE_ACTIVE };
	char methods[STORE_METHODS_TEXT_MAX], state[16];
	int r;

	if ((r = col_text(res, row, 0, n.node_id, sizeof(n.node_id))) < 0 ||
	    (r = col_text(res, row, 1, n.km_id, sizeof(n.km_id))) < 0 ||
	    (r = col_text(res, row, 2, n.target_id, sizeof(n.target_id))) < 0 ||
	    (r = col_text(res, row, 3, methods, sizeof(methods))) < 0 ||
	    (r = store_methods_from_text(methods, n.methods, &n.n_methods)) < 0 ||
	    (r = col_u64(res, row, 4, &n.lifetime)) < 0 ||
	    (r = col_text(res, row, 5, state, sizeof(state))) < 0 ||
	    (r = store_node_state_from_string(state, &n.state)) < 0 ||
	    (r = col_u64(res, row, 6, &n.created)) < 0 ||
	    (r = col_text(res, row, 7, n.impi, sizeof(n.impi))) < 0)
		return r;
	*ret = n;
	return 0;
}

static int assoc_from_row(const PGresult *res, int row, struct store_assoc *ret)
{
	struct store_assoc a = { .revoked = false };
	uint64_t method;
	int r;

	if ((r = col_blob(res, row, 0, a.kcid, STORE_KCID_LEN)) < 0 ||
	    (r = col_text(res, row, 1, a.node_id, sizeof(a.node_id))) < 0 ||
	    (r = col_text(res, row, 2, a.target_id, sizeof(a.target_id))) < 0 ||
	    (r = col_u64(res, row, 3, &method)) < 0 || (r = col_u64(res, row, 4, &a.created)) < 0 ||
	    (r = col_u64(res, row, 5, &a.expiry)) < 0)
		return r;
	if (method > UINT8_MAX || PQgetisnull(res, row, 6) || PQgetlength(res, row, 6) != 1)
		return -EIO;
	a.method = (uint8_t)method;
	a.revoked = PQgetvalue(res, row, 6)[0] != 0;
	*ret = a;
	return 0;
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

/* libpq's connection failure as -errno (libpq gives no SQLSTATE for these). */
static int connect_errno(const char *msg)
{
	if (!msg)
		return -EIO;
	if (strstr(msg, "password authentication failed") || strstr(msg, "no password supplied") ||
	    strstr(msg, "permission denied") || strstr(msg, "no pg_hba.conf entry"))
		return -EACCES;
	if (strstr(msg, "does not exist"))
		return -ENOENT;
	if (strstr(msg, "timeout expired"))
		return -ETIMEDOUT;
	if (strstr(msg, "Connection refused") || strstr(msg, "No such file or directory"))
		return -ECONNREFUSED;
	if (strstr(msg, "could not translate host name") || strstr(msg, "No route to host") ||
	    strstr(msg, "Network is unreachable"))
		return -EHOSTUNREACH;
	if (strstr(msg, "invalid") || strstr(msg, "missing"))
		return -EINVAL;
	return -ECONNREFUSED;
}

static int pg_connect(struct pg_store *p, char *err, size_t err_len)
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
static int pg_run(struct pg_store *p, int (*op)(struct pg_store *p, void *ud), void *ud)
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
static int pg_tx(struct pg_store *p, int (*op)(struct pg_store *p, void *ud), void *ud)
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
	_cleanup_res_ PGresult *res = NULL;
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
	if (PQntuples(res) != 1 || col_u64(res, 0, 0, &v) < 0 || v == 0 || v > 1000000)
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
		par_u64(&par, (uint64_t)v);
		par_u64(&par, (uint64_t)time(NULL));
		r = pg_exec(p, "INSERT INTO m2msa_schema (version, applied) VALUES ($1, $2)", &par,
			    NULL);
		if (r >= 0)
			r = pg_exec(p, migrations[v - 1], NULL, NULL);
		if (r < 0)
			return r;
	}
	if (m->from == 0) {
		par = (struct pg_params){ 0 };
		par_blob(&par, m->key_check, m->len);
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

/* ---- one-row reads and writes ---- */

/* A statement, its parameters and where a one-row answer goes. */
struct one {
	const char *sql;
	struct pg_params par;
	int (*row)(const PGresult *res, void *out);
	void *out;
};

/* Run o->sql: for a read, o->row on its single row (-ENOENT for none); else rows changed. */
static int op_one(struct pg_store *p, void *ud)
{
	struct one *o = ud;
	_cleanup_res_ PGresult *res = NULL;
	int r;

	if (!o->row)
		return exec_changes(p, o->sql, &o->par);
	r = pg_exec(p, o->sql, &o->par, &res);
	if (r < 0)
		return r;
	if (PQntuples(res) == 0)
		return -ENOENT;
	return o->row(res, o->out);
}

static int row_blob(const PGresult *res, void *out)
{
	return col_blob(res, 0, 0, out, STORE_SEALED_LEN);
}

static int pg_meta_get(struct store *s, const char *name, uint8_t *buf, size_t len)
{
	struct one o = { .sql = "SELECT value FROM meta WHERE name = $1", .row = row_blob,
			 .out = buf };

	if (len != STORE_SEALED_LEN)
		return -EINVAL;
	par_text(&o.par, name);
	return pg_run(to_pg(s), op_one, &o);
}

/* ---- nodes ---- */

static int pg_node_insert(struct store *s, const struct store_node *n, const char *methods,
			  uint64_t created, const uint8_t *km_sealed, size_t km_sealed_len)
{
	struct one o = { .sql = "INSERT INTO nodes (" NODE_COLUMNS ", km_sealed) "
				"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)" };
	int r;

	par_text(&o.par, n->node_id);
	par_text(&o.par, n->km_id);
	par_text(&o.par, n->target_id);
	par_text(&o.par, methods);
	par_u64(&o.par, n->lifetime);
	par_text(&o.par, store_node_state_to_string(n->state));
	par_u64(&o.par, created);
	par_text(&o.par, n->impi);
	par_blob(&o.par, km_sealed, km_sealed_len); /* 0: an empty bytea, not NULL */
	r = pg_run(to_pg(s), op_one, &o);
	return r < 0 ? r : 0;
}

static int row_node(const PGresult *res, void *out)
{
	return node_from_row(res, 0, out);
}

static int pg_node_get(struct store *s, const char *node_id, struct store_node *ret)
{
	struct one o = { .sql = "SELECT " NODE_COLUMNS " FROM nodes WHERE node_id = $1",
			 .row = row_node, .out = ret };

	par_text(&o.par, node_id);
	return pg_run(to_pg(s), op_one, &o);
}

/* km_sealed, or -ENOKEY when it is empty (a node stored without Km). */
static int row_km(const PGresult *res, void *out)
{
	if (!PQgetisnull(res, 0, 0) && PQgetlength(res, 0, 0) == 0)
		return -ENOKEY;
	return col_blob(res, 0, 0, out, STORE_SEALED_LEN);
}

static int pg_node_get_km(struct store *s, const char *node_id,
			  uint8_t ret_sealed[static STORE_SEALED_LEN])
{
	struct one o = { .sql = "SELECT km_sealed FROM nodes WHERE node_id = $1", .row = row_km,
			 .out = ret_sealed };

	par_text(&o.par, node_id);
	return pg_run(to_pg(s), op_one, &o);
}

/* A write keyed by one text ($1), with an optional text or number $2: -ENOENT if no row. */
static int write_keyed(struct store *s, const char *sql, const char *key, const char *text,
		       const uint64_t *num)
{
	struct one o = { .sql = sql };
	int r;

	par_text(&o.par, key);
	if (text)
		par_text(&o.par, text);
	if (num)
		par_u64(&o.par, *num);
	r = pg_run(to_pg(s), op_one, &o);
	if (r < 0)
		return r;
	return r > 0 ? 0 : -ENOENT;
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

static int op_node_revoke_body(struct pg_store *p, void *ud)
{
	struct pg_params par = { 0 };
	int r;

	par_text(&par, *(const char **)ud);
	r = exec_changes(p, "UPDATE nodes SET state = 'revoked' WHERE node_id = $1", &par);
	if (r == 0)
		return -ENOENT;
	if (r > 0)
		r = exec_changes(p, "UPDATE assocs SET revoked = true WHERE node_id = $1", &par);
	if (r >= 0)
		r = exec_changes(p, "UPDATE peer_keys SET revoked = true WHERE node_id = $1",
				 &par);
	return r < 0 ? r : 0;
}

static int op_node_revoke(struct pg_store *p, void *ud)
{
	return pg_tx(p, op_node_revoke_body, ud);
}

static int pg_node_revoke(struct store *s, const char *node_id)
{
	return pg_run(to_pg(s), op_node_revoke, &node_id);
}

static int pg_node_delete(struct store *s, const char *node_id)
{
	/* ON DELETE CASCADE removes the node's associations in the same statement. */
	return write_keyed(s, "DELETE FROM nodes WHERE node_id = $1", node_id, NULL, NULL);
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
	_cleanup_res_ PGresult *res = NULL;
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
		par_text(&pg.par, last);
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
	struct one o = { .sql = "INSERT INTO assocs (" ASSOC_COLUMNS ", kc_sealed, ae_root_sealed) "
				"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
				"ON CONFLICT (kcid) DO NOTHING" };
	int r;

	par_blob(&o.par, a->kcid, STORE_KCID_LEN);
	par_text(&o.par, a->node_id);
	par_text(&o.par, a->target_id);
	par_u64(&o.par, a->method);
	par_u64(&o.par, a->created);
	par_u64(&o.par, a->expiry);
	par_text(&o.par, a->revoked ? "true" : "false");
	par_blob(&o.par, kc_sealed, STORE_SEALED_LEN);
	par_blob(&o.par, ae_sealed, STORE_SEALED_LEN);
	r = pg_run(to_pg(s), op_one, &o);
	return r < 0 ? r : 0;
}

static int row_assoc(const PGresult *res, void *out)
{
	return assoc_from_row(res, 0, out);
}

static int pg_assoc_get(struct store *s, const uint8_t kcid[static STORE_KCID_LEN],
			struct store_assoc *ret)
{
	struct one o = { .sql = "SELECT " ASSOC_COLUMNS " FROM assocs WHERE kcid = $1",
			 .row = row_assoc, .out = ret };

	par_blob(&o.par, kcid, STORE_KCID_LEN);
	return pg_run(to_pg(s), op_one, &o);
}

static int row_two_blobs(const PGresult *res, void *out)
{
	uint8_t *b = out;
	int r = col_blob(res, 0, 0, b, STORE_SEALED_LEN);

	return r < 0 ? r : col_blob(res, 0, 1, b + STORE_SEALED_LEN, STORE_SEALED_LEN);
}

static int pg_assoc_get_keys(struct store *s, const uint8_t kcid[static STORE_KCID_LEN],
			     uint8_t kc_sealed[static STORE_SEALED_LEN],
			     uint8_t ae_sealed[static STORE_SEALED_LEN])
{
	uint8_t both[2 * STORE_SEALED_LEN];
	struct one o = { .sql = "SELECT kc_sealed, ae_root_sealed FROM assocs WHERE kcid = $1",
			 .row = row_two_blobs, .out = both };
	int r;

	par_blob(&o.par, kcid, STORE_KCID_LEN);
	r = pg_run(to_pg(s), op_one, &o);
	if (r < 0)
		return r;
	memcpy(kc_sealed, both, STORE_SEALED_LEN);
	memcpy(ae_sealed, both + STORE_SEALED_LEN, STORE_SEALED_LEN);
	return 0;
}

static int pg_assoc_revoke(struct store *s, const uint8_t kcid[static STORE_KCID_LEN])
{
	struct one o = { .sql = "UPDATE assocs SET revoked = true WHERE kcid = $1" };
	int r;

	par_blob(&o.par, kcid, STORE_KCID_LEN);
	r = pg_run(to_pg(s), op_one, &o);
	if (r < 0)
		return r;
	return r > 0 ? 0 : -ENOENT;
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
		par_u64(&pg.par, last_created);
		par_blob(&pg.par, last_kcid, STORE_KCID_LEN);
		par_text(&pg.par, first ? "1" : "0");
		if (node_id)
			par_text(&pg.par, node_id);
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
	/* In batches, so that no statement holds many rows locked at once. */
	struct one o = { .sql = "DELETE FROM assocs WHERE kcid IN (SELECT kcid FROM assocs "
				"WHERE expiry <= $1 LIMIT 10000)" };
	long total = 0;
	int r;

	par_u64(&o.par, now);
	do {
		r = pg_run(to_pg(s), op_one, &o);
		if (r < 0)
			return r;
		total += r;
	} while (r == 10000 && total < 0x7fffffff - 10000);
	return (int)total;
}

/* ---- pairwise end-to-end keys (docs/protocol.md §14) ---- */

static int pg_peer_insert(struct store *s, const struct store_peer_key *k,
			  const uint8_t key_sealed[static STORE_SEALED_LEN])
{
	struct one o = { .sql = "INSERT INTO peer_keys (" PEER_COLUMNS ", key_sealed) "
				"VALUES ($1, $2, $3, $4, $5, $6, $7, $8)" };
	int r;

	par_blob(&o.par, k->id, STORE_PEER_ID_LEN);
	par_text(&o.par, k->node_id);
	par_text(&o.par, k->ae_id);
	par_text(&o.par, k->target);
	par_u64(&o.par, k->created);
	par_u64(&o.par, k->expiry);
	par_text(&o.par, k->revoked ? "true" : "false");
	par_blob(&o.par, key_sealed, STORE_SEALED_LEN);
	r = pg_run(to_pg(s), op_one, &o);
	return r < 0 ? r : 0;
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

	if ((r = col_blob(res, 0, 0, k.id, STORE_PEER_ID_LEN)) < 0 ||
	    (r = col_text(res, 0, 1, k.node_id, sizeof(k.node_id))) < 0 ||
	    (r = col_text(res, 0, 2, k.ae_id, sizeof(k.ae_id))) < 0 ||
	    (r = col_text(res, 0, 3, k.target, sizeof(k.target))) < 0 ||
	    (r = col_u64(res, 0, 4, &k.created)) < 0 || (r = col_u64(res, 0, 5, &k.expiry)) < 0 ||
	    (r = col_blob(res, 0, 7, po->sealed, STORE_SEALED_LEN)) < 0)
		return r;
	if (PQgetisnull(res, 0, 6) || PQgetlength(res, 0, 6) != 1)
		return -EIO;
	k.revoked = PQgetvalue(res, 0, 6)[0] != 0;
	*po->k = k;
	return 0;
}

static int pg_peer_get(struct store *s, const uint8_t id[static STORE_PEER_ID_LEN],
		       struct store_peer_key *ret, uint8_t key_sealed[static STORE_SEALED_LEN])
{
	struct peer_out po = { ret, key_sealed };
	struct one o = { .sql = "SELECT " PEER_COLUMNS ", key_sealed FROM peer_keys WHERE id = $1",
			 .row = row_peer, .out = &po };

	par_blob(&o.par, id, STORE_PEER_ID_LEN);
	return pg_run(to_pg(s), op_one, &o);
}

static int pg_peer_revoke(struct store *s, const uint8_t id[static STORE_PEER_ID_LEN])
{
	struct one o = { .sql = "UPDATE peer_keys SET revoked = true WHERE id = $1" };
	int r;

	par_blob(&o.par, id, STORE_PEER_ID_LEN);
	r = pg_run(to_pg(s), op_one, &o);
	if (r < 0)
		return r;
	return r > 0 ? 0 : -ENOENT;
}

static int pg_peer_purge(struct store *s, uint64_t now)
{
	/* In batches, as for associations. */
	struct one o = { .sql = "DELETE FROM peer_keys WHERE id IN (SELECT id FROM peer_keys "
				"WHERE expiry <= $1 LIMIT 10000)" };
	long total = 0;
	int r;

	par_u64(&o.par, now);
	do {
		r = pg_run(to_pg(s), op_one, &o);
		if (r < 0)
			return r;
		total += r;
	} while (r == 10000 && total < 0x7fffffff - 10000);
	return (int)total;
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
