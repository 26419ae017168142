/* SPDX-License-Identifier: Apache-2.0 */
/* The integration suites' store backend: SQLite files or databases on a real PostgreSQL. */
#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "mas/store.h"
#include "pg-fixture.h"

bool pg_fixture_enabled(void)
{
	const char *v = getenv("M2MSA_TEST_STORE");

	return v && strcmp(v, "postgresql") == 0;
}

static const char *env_required(const char *name)
{
	const char *v = getenv(name);

	cr_assert(v && *v, "%s is not set (run the suite under tests/integration/pg-cluster.sh)",
		  name);
	return v;
}

const char *pg_fixture_password_file(void)
{
	return env_required("M2MSA_TEST_PG_PASSWORD_FILE");
}

char *pg_fixture_new_db(void)
{
	static unsigned counter;
	char name[64], sql[128];
	char *admin, *url;
	PGconn *conn;
	PGresult *res;

	snprintf(name, sizeof(name), "t_%d_%u_%d", (int)getpid(), counter++, rand() % 100000);
	admin = harness_strdupf("postgresql://%s@%s:%s/postgres", env_required("M2MSA_TEST_PG_USER"),
				env_required("M2MSA_TEST_PG_HOST"),
				env_required("M2MSA_TEST_PG_PORT"));
	conn = PQconnectdb(admin);
	cr_assert_eq(PQstatus(conn), CONNECTION_OK, "connect to the test PostgreSQL: %s",
		     PQerrorMessage(conn));
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", name);
	res = PQexec(conn, sql);
	cr_assert_eq(PQresultStatus(res), PGRES_COMMAND_OK, "%s: %s", sql, PQerrorMessage(conn));
	PQclear(res);
	PQfinish(conn);
	free(admin);
	url = harness_strdupf("postgresql://%s@%s:%s/%s", env_required("M2MSA_TEST_PG_USER"),
			      env_required("M2MSA_TEST_PG_HOST"),
			      env_required("M2MSA_TEST_PG_PORT"), name);
	return url;
}

static void server_ctl(const char *verb)
{
	char *cmd = harness_strdupf("'%s' %s '%s'", env_required("M2MSA_TEST_PG_SCRIPT"), verb,
				    env_required("M2MSA_TEST_PG_DIR"));

	cr_assert_eq(system(cmd), 0, "%s", cmd);
	free(cmd);
}

void pg_fixture_server_stop(void)
{
	server_ctl("stop");
}

void pg_fixture_server_start(void)
{
	server_ctl("start");
}

char *store_fixture_location(const char *dir)
{
	if (pg_fixture_enabled())
		return pg_fixture_new_db();
	return harness_strdupf("%s/mas.db", dir);
}

char *store_fixture_conf_lines(const char *location)
{
	if (store_backend_for_location(location) == STORE_BACKEND_POSTGRESQL)
		return harness_strdupf("backend = postgresql\nconninfo = %s\npassword_file = %s\n",
				       location, pg_fixture_password_file());
	return harness_strdupf("path = %s\n", location);
}

/* A connection of its own to the PostgreSQL database location (asserts). */
static PGconn *pg_connect(const char *location)
{
	PGconn *conn = PQconnectdb(location);

	cr_assert_eq(PQstatus(conn), CONNECTION_OK, "connect to %s: %s", location,
		     PQerrorMessage(conn));
	return conn;
}

/* sql on a connection of its own to the PostgreSQL database location; asserts want. */
static PGresult *pg_exec_once(const char *location, const char *sql, ExecStatusType want)
{
	PGconn *conn = pg_connect(location);
	PGresult *res;

	res = PQexec(conn, sql);
	cr_assert_eq(PQresultStatus(res), want, "%s: %s", sql, PQerrorMessage(conn));
	PQfinish(conn);
	return res;
}

void store_fixture_exec(const char *location, const char *sql)
{
	if (store_backend_for_location(location) == STORE_BACKEND_POSTGRESQL) {
		PQclear(pg_exec_once(location, sql, PGRES_COMMAND_OK));
	} else {
		sqlite3 *db = NULL;

		cr_assert_eq(sqlite3_open(location, &db), SQLITE_OK, "open %s", location);
		cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK, "%s: %s", sql,
			     sqlite3_errmsg(db));
		sqlite3_close(db);
	}
}

long long store_fixture_query_int(const char *location, const char *sql)
{
	long long v;

	if (store_backend_for_location(location) == STORE_BACKEND_POSTGRESQL) {
		PGresult *res = pg_exec_once(location, sql, PGRES_TUPLES_OK);

		cr_assert_eq(PQntuples(res), 1, "%s", sql);
		v = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		PQclear(res);
	} else {
		sqlite3 *db = NULL;
		sqlite3_stmt *st = NULL;

		cr_assert_eq(sqlite3_open(location, &db), SQLITE_OK, "open %s", location);
		cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s: %s", sql,
			     sqlite3_errmsg(db));
		cr_assert_eq(sqlite3_step(st), SQLITE_ROW, "%s: %s", sql, sqlite3_errmsg(db));
		v = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
		sqlite3_close(db);
	}
	return v;
}

/* sql on c; true if it succeeded. */
static bool pg_ok(PGconn *c, const char *sql)
{
	PGresult *res = PQexec(c, sql);
	bool ok = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;

	PQclear(res);
	return ok;
}

PGconn *pg_fixture_tx_begin(const char *location, const char *sql)
{
	PGconn *c = pg_connect(location);

	cr_assert(pg_ok(c, "BEGIN"), "BEGIN: %s", PQerrorMessage(c));
	cr_assert(pg_ok(c, sql), "%s: %s", sql, PQerrorMessage(c));
	return c;
}

bool pg_fixture_tx_wait_for_waiter(PGconn *c, int timeout_ms)
{
	/* pg_locks is read anew by every statement, also inside this transaction. */
	for (int waited = 0; waited < timeout_ms; waited += 20) {
		PGresult *res = PQexec(c, "SELECT count(*) FROM pg_locks WHERE NOT granted");
		bool waiter = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
			      strcmp(PQgetvalue(res, 0, 0), "0") != 0;

		PQclear(res);
		if (waiter)
			return true;
		usleep(20 * 1000);
	}
	return false;
}

bool pg_fixture_tx_commit(PGconn *c)
{
	bool ok = pg_ok(c, "COMMIT");

	PQfinish(c);
	return ok;
}
