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

void store_fixture_exec(const char *location, const char *sql)
{
	if (store_backend_for_location(location) == STORE_BACKEND_POSTGRESQL) {
		PGconn *conn = PQconnectdb(location);
		PGresult *res;

		cr_assert_eq(PQstatus(conn), CONNECTION_OK, "connect to %s: %s", location,
			     PQerrorMessage(conn));
		res = PQexec(conn, sql);
		cr_assert_eq(PQresultStatus(res), PGRES_COMMAND_OK, "%s: %s", sql,
			     PQerrorMessage(conn));
		PQclear(res);
		PQfinish(conn);
	} else {
		sqlite3 *db = NULL;

		cr_assert_eq(sqlite3_open(location, &db), SQLITE_OK, "open %s", location);
		cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK, "%s: %s", sql,
			     sqlite3_errmsg(db));
		sqlite3_close(db);
	}
}
