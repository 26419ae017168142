/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node store's request-path work (what one establishment and one retrieval
 * ask of mas/store.h: node lookup, Km, association insert, association and key
 * lookup) on PostgreSQL with 10^6 registered nodes against 10^3, in the same
 * run (issue #17: >= 0.9x). The nodes are bulk-loaded by one INSERT ... SELECT
 * from generate_series (a bench helper, not one process or statement per node);
 * their sealed Km is one real node's blob, so only that node's Km is opened.
 * Starts its own PostgreSQL with tests/integration/pg-cluster.sh; prints
 *   RATIO store-1e6-vs-1e3-nodes R >=0.9
 * Usage: bench-store [--nodes N] [--ops N]   (defaults 1000000 and 3000)
 */
#include <errno.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/crypto.h"
#include "harness.h"
#include "mas/store.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sql(const char *conninfo, const char *q)
{
	PGconn *c = PQconnectdb(conninfo);
	PGresult *r = PQexec(c, q);

	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
		fprintf(stderr, "bench-store: %s: %s", q, PQerrorMessage(c));
		exit(1);
	}
	PQclear(r);
	PQfinish(c);
}

/* A store in database db with n nodes /n1 .. /n<n> (/n1 real, the rest bulk copies). */
static struct store *make_store(const char *base, const char *db, long n, const uint8_t mk[32])
{
	char *admin = harness_strdupf("%s/postgres", base), *url = harness_strdupf("%s/%s", base, db);
	char *q;
	struct store_node node = { .n_methods = 1, .methods = { WIRE_METHOD_PSK } };
	uint8_t km[32] = { 1 };
	struct store *s;
	int r;

	q = harness_strdupf("CREATE DATABASE %s", db);
	sql(admin, q);
	free(q);
	r = store_open(url, mk, &s);
	if (r < 0) {
		fprintf(stderr, "bench-store: store_open %s: %s\n", url, strerror(-r));
		exit(1);
	}
	snprintf(node.node_id, sizeof(node.node_id), "/n1");
	snprintf(node.km_id, sizeof(node.km_id), "km-1@mas.bench");
	snprintf(node.target_id, sizeof(node.target_id), "/in-cse");
	if (store_node_add(s, &node, km) < 0)
		exit(1);
	q = harness_strdupf("INSERT INTO nodes (node_id, km_id, target_id, methods, lifetime, state, "
			    "created, km_sealed) SELECT '/n' || g, 'km-1@mas.bench', '/in-cse', 'psk', "
			    "0, 'active', 0, (SELECT km_sealed FROM nodes WHERE node_id = '/n1') "
			    "FROM generate_series(2, %ld) g; ANALYZE",
			    n);
	sql(url, q);
	free(q);
	free(admin);
	free(url);
	return s;
}

/* ops rounds of the request path; returns rounds per second. */
static double run(struct store *s, long n, long ops)
{
	double t0 = now_s();

	for (long i = 0; i < ops; i++) {
		struct store_node node;
		struct store_assoc a = { .method = WIRE_METHOD_PSK }, got;
		struct secret *km = NULL, *kc = NULL;
		uint8_t k[32] = { 2 };
		char id[32];

		snprintf(id, sizeof(id), "/n%ld", 1 + (long)(((unsigned long)rand() * 7919UL) % (unsigned long)n));
		if (store_node_get(s, id, &node) < 0 || store_node_get_km(s, "/n1", &km) < 0)
			exit(1);
		secret_free(km);
		(void)crypto_random(a.kcid, sizeof(a.kcid));
		snprintf(a.node_id, sizeof(a.node_id), "%s", id);
		snprintf(a.target_id, sizeof(a.target_id), "/in-cse");
		a.created = (uint64_t)time(NULL);
		a.expiry = a.created + 3600;
		if (store_assoc_add(s, &a, k, k) < 0 || store_assoc_get(s, a.kcid, &got) < 0 ||
		    store_assoc_get_keys(s, a.kcid, &kc, NULL) < 0)
			exit(1);
		secret_free(kc);
	}
	return (double)ops / (now_s() - t0);
}

int main(int argc, char **argv)
{
	long nodes = 1000000, ops = 3000;
	const char *port = getenv("M2MSA_TEST_PG_PORT");
	uint8_t mk[32];
	struct store *small, *big;
	char *base;
	double r_small = 0, r_big = 0;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--nodes") == 0)
			nodes = atol(argv[i + 1]);
		else if (strcmp(argv[i], "--ops") == 0)
			ops = atol(argv[i + 1]);
	}
	if (!port) {
		/* Run under a PostgreSQL of our own. */
		char *self = harness_strdupf("%s", argv[0]);
		const char *src = getenv("SRCDIR") ? getenv("SRCDIR") : ".";
		char *script = harness_strdupf("%s/tests/integration/pg-cluster.sh", src);
		char run_word[] = "run";
		char *args[8] = { script, run_word, self };
		int n = 3;

		for (int i = 1; i < argc && n < 7; i++)
			args[n++] = argv[i];
		args[n] = NULL;
		execv(script, args);
		fprintf(stderr, "bench-store: cannot run %s: %s\n", script, strerror(errno));
		return 1;
	}
	if (crypto_random(mk, sizeof(mk)) < 0)
		return 1;
	base = harness_strdupf("postgresql://%s@127.0.0.1:%s", getenv("M2MSA_TEST_PG_USER"), port);
	small = make_store(base, "bench_small", 1000, mk);
	big = make_store(base, "bench_big", nodes, mk);
	(void)run(small, 1000, ops / 10); /* warm-up */
	(void)run(big, nodes, ops / 10);
	for (int round = 0; round < 2; round++) { /* interleaved: load drifts hit both */
		r_small += run(small, 1000, ops);
		r_big += run(big, nodes, ops);
	}
	printf("store request path: %.0f/s with 1e3 nodes, %.0f/s with %ld nodes\n", r_small / 2,
	       r_big / 2, nodes);
	printf("RATIO store-1e6-vs-1e3-nodes %.3f >=0.9\n", r_big / r_small);
	store_close(small);
	store_close(big);
	free(base);
	return 0;
}
