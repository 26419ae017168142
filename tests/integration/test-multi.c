/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Several m2masd instances on one store (issue #17 item 3): two real m2masd
 * processes share the store (under suite integration-pg one PostgreSQL database,
 * under integration one SQLite file) and the master key. A node establishes at
 * one; the target retrieves at the other; a revocation is seen by both at once;
 * one instance killed, the other serves; under PostgreSQL the database server
 * stops and comes back under a running m2masd.
 * The node is agent/establish.c with a software PRF over Km (no TPM needed here).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/establish.h"
#include "common/crypto.h"
#include "common/kdf.h"
#include "common/secret.h"
#include "common/tls.h"
#include "fixture.h"
#include "harness.h"
#include "mas/store.h"
#include "pg-fixture.h"

#define NODE "/mn-cse-1"

static struct mas_fixture a, b; /* b shares a's dir, PKI, store and master key */
static uint8_t km[32];
static WOLFSSL_CTX *node_ctx;

static void setup(void)
{
	static const uint8_t psk[] = { WIRE_METHOD_PSK };
	char err[TLS_ERR_MAX], *ca;

	mas_fixture_init(&a);
	cr_assert_eq(crypto_random(km, sizeof(km)), 0);
	mas_fixture_add_node(&a, NODE, km, psk, 1, 0);
	memset(&b, 0, sizeof(b));
	b.dir = strdup(a.dir);
	b.db = strdup(a.db);
	b.master = strdup(a.master);
	b.conf = mas_fixture_path(&a, "m2masd-b.conf");
	b.log = mas_fixture_path(&a, "m2masd-b.log");
	b.ports = mas_fixture_path(&a, "mas-b.ports");
	cr_assert(b.dir && b.db && b.master);
	mas_fixture_write_conf(&b, NULL);
	mas_fixture_start(&a, NULL, NULL);
	mas_fixture_start(&b, NULL, NULL);
	ca = mas_fixture_path(&a, "pki/ca.crt");
	node_ctx = tls_client_ctx_new(ca, NULL, NULL, err, sizeof(err));
	cr_assert_not_null(node_ctx, "%s", err);
	free(ca);
}

static void teardown(void)
{
	if (!a.dir)
		return; /* already done (a skipped test calls it itself) */
	wolfSSL_CTX_free(node_ctx);
	node_ctx = NULL;
	mas_fixture_stop(&b);
	free(b.dir);
	free(b.db);
	free(b.master);
	free(b.conf);
	free(b.log);
	free(b.ports);
	memset(&b, 0, sizeof(b));
	mas_fixture_fini(&a);
	secret_wipe(km, sizeof(km));
}

TestSuite(multi, .init = setup, .fini = teardown, .timeout = 120);

/* Establish NODE at the instance m: 0 and ret, or -errno and err. */
static int establish_at(const struct mas_fixture *m, struct establish_result *ret,
			struct m2msa_err *err)
{
	static const uint8_t psk[] = { WIRE_METHOD_PSK };
	struct kdf_sw_key sw = { km, sizeof(km) };
	struct kdf_prf prf;
	char addr[64];
	struct establish_params p = {
		.mas_address = addr,
		.server_name = FIXTURE_FQDN,
		.node_id = NODE,
		.methods = psk,
		.n_methods = 1,
		.timeout_ms = 20000,
	};

	snprintf(addr, sizeof(addr), "127.0.0.1:%u", m->est_port);
	kdf_prf_software(&sw, &prf);
	memset(err, 0, sizeof(*err));
	return establish_run(node_ctx, &p, &prf, ret, err);
}

static void result_free(struct establish_result *r)
{
	secret_free(r->kc);
	secret_free(r->ae_root);
	memset(r, 0, sizeof(*r));
}

/* Retrieve key_id at m as the registered target: 0 and the key, or the MAS's error code. */
static uint32_t retrieve_at(const struct mas_fixture *m, const char *key_id, uint8_t key[32])
{
	struct wire_msg r;
	uint32_t code = 0;

	cr_assert_eq(fixture_retrieve_at(m->dir, m->ret_port, "target", key_id, &r), 0);
	if (r.type == WIRE_MSG_ERROR)
		code = r.error.code;
	else
		memcpy(key, r.key_response.key, 32);
	wire_msg_wipe(&r);
	return code;
}

Test(multi, established_at_one_is_retrievable_at_the_other)
{
	struct establish_result ea = { 0 }, eb = { 0 };
	struct m2msa_err err;
	uint8_t key[32];

	cr_assert_eq(establish_at(&a, &ea, &err), 0, "at A: %s", err.msg);
	cr_assert_eq(retrieve_at(&b, ea.key_id, key), 0, "A's association at B");
	cr_assert_arr_eq(key, ea.kc->data, 32, "B hands out the Kc A established");
	cr_assert_eq(establish_at(&b, &eb, &err), 0, "at B: %s", err.msg);
	cr_assert_eq(retrieve_at(&a, eb.key_id, key), 0, "B's association at A");
	cr_assert_arr_eq(key, eb.kc->data, 32);
	cr_assert_arr_neq(ea.kc->data, eb.kc->data, 32);
	cr_assert_eq(mas_fixture_count_assocs(&a), 2);
	secret_wipe(key, sizeof(key));
	result_free(&ea);
	result_free(&eb);
}

Test(multi, revocation_is_seen_by_every_instance_at_once)
{
	struct establish_result e = { 0 };
	struct m2msa_err err;
	uint8_t key[32], kcid[16];
	struct store *s;

	cr_assert_eq(establish_at(&a, &e, &err), 0, "%s", err.msg);
	cr_assert_eq(retrieve_at(&b, e.key_id, key), 0);
	memcpy(kcid, e.kcid, sizeof(kcid));
	s = mas_fixture_store(&a); /* what m2masctl assoc revoke does */
	cr_assert_eq(store_assoc_revoke(s, kcid), 0);
	cr_assert_eq(retrieve_at(&a, e.key_id, key), WIRE_ERR_REVOKED, "A refuses at once");
	cr_assert_eq(retrieve_at(&b, e.key_id, key), WIRE_ERR_REVOKED, "B refuses at once");
	cr_assert_eq(store_node_revoke(s, NODE), 0);
	store_close(s);
	result_free(&e);
	/* The MAS answers an unauthenticated peer naming a revoked node as it would a wrong
	 * key (no node enumeration), and logs the reason. */
	cr_assert_eq(establish_at(&b, &e, &err), -EKEYREJECTED, "a revoked node at B: %s", err.msg);
	cr_assert_eq(establish_at(&a, &e, &err), -EKEYREJECTED, "a revoked node at A: %s", err.msg);
	fixture_wait_log_count(b.log, "revoked", 1, 20, 50);
	fixture_wait_log_count(a.log, "revoked", 1, 20, 50);
}

Test(multi, one_instance_killed_the_other_serves_its_associations)
{
	struct establish_result e = { 0 }, e2 = { 0 };
	struct m2msa_err err;
	uint8_t key[32];

	cr_assert_eq(establish_at(&a, &e, &err), 0, "%s", err.msg);
	harness_kill_wait(&a.pid, SIGKILL);
	cr_assert_neq(establish_at(&a, &e2, &err), 0, "A is gone");
	cr_assert_eq(retrieve_at(&b, e.key_id, key), 0, "A's association survives A");
	cr_assert_arr_eq(key, e.kc->data, 32);
	cr_assert_eq(establish_at(&b, &e2, &err), 0, "B establishes: %s", err.msg);
	result_free(&e2);
	a.est_port = a.ret_port = 0;
	mas_fixture_start(&a, NULL, NULL);
	cr_assert_eq(retrieve_at(&a, e.key_id, key), 0, "A is back and serves it again");
	cr_assert_arr_eq(key, e.kc->data, 32);
	secret_wipe(key, sizeof(key));
	result_free(&e);
}

Test(multi, database_restart_under_a_running_instance)
{
	struct establish_result e = { 0 };
	struct m2msa_err err;
	uint8_t key[32];
	char *log;

	if (!pg_fixture_enabled()) {
		teardown(); /* a skipped test does not reach .fini: stop both m2masd here */
		cr_skip_test("needs the PostgreSQL suite (meson test --suite integration-pg)");
	}
	cr_assert_eq(establish_at(&a, &e, &err), 0, "%s", err.msg);
	pg_fixture_server_stop();
	/* The MAS answers with an internal error, stores nothing, and keeps running. */
	cr_assert_eq(retrieve_at(&a, e.key_id, key), WIRE_ERR_INTERNAL, "no database: internal");
	cr_assert_eq(kill(a.pid, 0), 0, "m2masd still runs");
	pg_fixture_server_start();
	cr_assert_eq(retrieve_at(&a, e.key_id, key), 0, "after the database is back");
	cr_assert_arr_eq(key, e.kc->data, 32);
	result_free(&e);
	cr_assert_eq(establish_at(&a, &e, &err), 0, "establishes again: %s", err.msg);
	result_free(&e);
	log = mas_fixture_read_log(&a);
	cr_assert(strstr(log, "lost the connection"), "the loss is logged:\n%s", log);
	cr_assert(strstr(log, "reconnected to"), "the reconnection is logged:\n%s", log);
	free(log);
	cr_assert_eq(mas_fixture_count_assocs(&a), 2, "no half-written association");
	secret_wipe(key, sizeof(key));
}

/* The agent lists both instances; the first is down: it establishes at the second. */
Test(multi, agent_fails_over_to_the_next_mas)
{
	struct harness_swtpm *tpm = NULL;
	char *tpmstate = mas_fixture_path(&a, "tpmstate"), *conf = mas_fixture_path(&a, "m2msad.conf");
	char *log = mas_fixture_path(&a, "m2msad.log"), *sock = mas_fixture_path(&a, "agent.sock");
	char *clients = mas_fixture_path(&a, "clients.d"), *addrs;
	uint8_t km2[32];
	pid_t agent;

	if (!harness_have_program("swtpm")) {
		teardown(); /* a skipped test does not reach .fini: stop both m2masd here */
		cr_skip_test("swtpm is not installed (apt install swtpm swtpm-tools)");
	}
	cr_assert_eq(mkdir(tpmstate, 0700), 0);
	cr_assert_eq(mkdir(clients, 0755), 0);
	cr_assert_eq(harness_swtpm_start(tpmstate, &tpm), 0);
	mas_fixture_provision_node(&a, harness_swtpm_tcti(tpm), "/mn-cse-2", km2, 0);
	addrs = harness_strdupf("127.0.0.1:%u, 127.0.0.1:%u", a.est_port, b.est_port);
	mas_fixture_stop(&a); /* the first endpoint now refuses connections */
	mas_fixture_write_agent_conf(&a, conf,
				     &(struct fixture_agent_conf){
					     .tcti = harness_swtpm_tcti(tpm),
					     .node_extra = "node_id = /mn-cse-2\n",
					     .timeout_s = 5,
					     .backoff_min_s = 30,
					     .backoff_max_s = 60,
					     .sock = sock,
					     .clients_dir = clients,
					     .mas_address = addrs,
				     });
	agent = fixture_start_agent(conf, log, sock, 400);
	fixture_wait_log_count(log, "established key", 1, 300, 50);
	fixture_wait_log_count(log, "trying the next MAS", 1, 1, 10);
	cr_assert_eq(mas_fixture_count_assocs(&b), 1, "one association, made at B");
	harness_kill_wait(&agent, SIGTERM);
	harness_swtpm_stop(tpm);
	secret_wipe(km2, sizeof(km2));
	free(addrs);
	free(tpmstate);
	free(conf);
	free(log);
	free(sock);
	free(clients);
}

Test(multi, metrics_count_outcomes_and_a_silent_client_does_not_stall_them)
{
	struct establish_result e = { 0 };
	struct m2msa_err err;
	uint8_t key[32];
	uint16_t mport = 0;
	char *text;
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int silent;

	mport = mas_fixture_restart_with_metrics(&a, "[metrics]\nlisten = 127.0.0.1:0\n");

	cr_assert_eq(establish_at(&a, &e, &err), 0, "%s", err.msg);
	cr_assert_eq(retrieve_at(&a, e.key_id, key), 0);
	cr_assert_eq(retrieve_at(&a, "00112233445566778899aabbccddeeff@" FIXTURE_FQDN, key),
		     WIRE_ERR_UNKNOWN_KEY);
	result_free(&e);

	/* A client that connects and says nothing holds a slot, not the loop. */
	silent = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	sa.sin_port = htons(mport);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(connect(silent, (struct sockaddr *)&sa, sizeof(sa)), 0);

	text = fixture_http_get(mport, "/metrics");
	cr_assert(strstr(text, "HTTP/1.1 200 OK"), "%s", text);
	cr_assert(strstr(text, "m2masd_establishments_total{outcome=\"ok\",code=\"none\"} 1\n"),
		  "%s", text);
	cr_assert(strstr(text, "m2masd_retrievals_total{outcome=\"ok\",code=\"none\"} 1\n"), "%s",
		  text);
	cr_assert(strstr(text, "m2masd_retrievals_total{outcome=\"error\",code=\"unknown_key\"} 1\n"),
		  "%s", text);
	cr_assert(strstr(text, "m2masd_establishment_seconds_count 1\n"), "%s", text);
	cr_assert(strstr(text, "# TYPE m2masd_store_seconds histogram"), "%s", text);
	cr_assert(!strstr(text, "m2masd_store_seconds_count 0\n"), "store operations timed: %s",
		  text);
	cr_assert(strstr(text, "m2masd_open_connections "), "%s", text);
	free(text);
	text = fixture_http_get(mport, "/other");
	cr_assert(strstr(text, "HTTP/1.1 404"), "%s", text);
	free(text);
	close(silent);
}
