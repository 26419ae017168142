/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The store backend the integration suites run against, and a fresh PostgreSQL
 * database per test. meson registers the store-using suites twice: as they are
 * (SQLite files) and under tests/integration/pg-cluster.sh run (suite
 * integration-pg), which starts a real PostgreSQL server for the run and sets
 * M2MSA_TEST_STORE=postgresql and M2MSA_TEST_PG_* (see the script).
 *
 *   char *loc = store_fixture_location(dir);  // "<dir>/mas.db" or a new database's URL
 *   ... [store] lines for m2masd.conf: store_fixture_conf_lines(loc) ...
 *   ... SQL on it behind the store's back: store_fixture_exec, store_fixture_query_int,
 *       and (PostgreSQL) a transaction held open: pg_fixture_tx_begin ...
 */
#pragma once

#include <libpq-fe.h>
#include <stdbool.h>

/* True when the suite runs against PostgreSQL. */
bool pg_fixture_enabled(void);
/* A new, empty database on the test server: its postgresql:// URL (free()); asserts. */
char *pg_fixture_new_db(void);
/* The password file of the test server's role (for [store] password_file). */
const char *pg_fixture_password_file(void);
/* Stop / start the test server (its data stays): cuts the database away from m2masd. */
void pg_fixture_server_stop(void);
void pg_fixture_server_start(void);

/* Where a test's store is: "<dir>/mas.db", or under PostgreSQL a new database's URL. */
char *store_fixture_location(const char *dir);
/* The lines of m2masd.conf's [store] section (without master_key) for location (free()). */
char *store_fixture_conf_lines(const char *location);
/* Run sql on the store at location with the database's own client (asserts), e.g. to
 * turn a store back into an older schema version. */
void store_fixture_exec(const char *location, const char *sql);
/* The one integer the query sql answers on the store at location (asserts). */
long long store_fixture_query_int(const char *location, const char *sql);

/*
 * PostgreSQL: sql (a write) in a transaction left open on a connection of its own,
 * so that whoever needs its row locks waits, until pg_fixture_tx_commit(). For
 * a race made deterministic: hold a node revoke open while m2masd stores a key.
 */
PGconn *pg_fixture_tx_begin(const char *location, const char *sql);
/* Wait up to timeout_ms until another session waits for a lock: false if none did. No asserts
 * in these two: they may run in a thread of their own. */
bool pg_fixture_tx_wait_for_waiter(PGconn *c, int timeout_ms);
/* COMMIT and close; false if the commit failed. */
bool pg_fixture_tx_commit(PGconn *c);
