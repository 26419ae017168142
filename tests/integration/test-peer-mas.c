/* SPDX-License-Identifier: Apache-2.0 */
/*
 * End-to-end keys between AEs, node <-> MAS (docs/protocol.md §14): two nodes
 * with Km in two real swtpms, the real m2masd on 127.0.0.1, real TLS 1.3. Node
 * A registers a pairwise key for (Cae1, /mn-cse-2/Cae2), node B resolves it;
 * every refusal of §14.4 with its exact error.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/establish.h"
#include "common/crypto.h"
#include "common/hex.h"
#include "common/sa.h"
#include "fixture.h"
#include "harness.h"
#include "mas/store.h"
#include "pg-fixture.h"
#include "tpm/keystore.h"
#include "tpm/tpm-ctx.h"

#define NODE_A "/mn-cse-1"
#define NODE_B "/mn-cse-2"
#define NODE_C "/mn-cse-3"
#define TARGET_B "/mn-cse-2/Cae2"
#define FQDN FIXTURE_FQDN

static const uint8_t psk[] = { WIRE_METHOD_PSK };

struct node {
	const char *id;
	struct harness_swtpm *tpm;
	uint8_t km[32];
	char state[32];
};

static struct mas_fixture mas;
static struct node na = { .id = NODE_A, .state = "node-a" },
		   nb = { .id = NODE_B, .state = "node-b" },
		   nc = { .id = NODE_C, .state = "node-c" };

static void node_setup(struct node *n, uint64_t lifetime)
{
	struct tpm_ctx *t = NULL;
	char err[256] = "", *state = mas_fixture_path(&mas, n->state);

	cr_assert_eq(harness_swtpm_start(NULL, &n->tpm), 0);
	cr_assert_eq(crypto_random(n->km, sizeof(n->km)), 0);
	mas_fixture_add_node(&mas, n->id, n->km, psk, 1, lifetime);
	cr_assert_eq(tpm_open(harness_swtpm_tcti(n->tpm), &t, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(tpm_provision(t, state, n->id, "km-1@" FQDN, n->km, 32, NULL), 0, "%s",
		     tpm_last_error(t));
	tpm_close(t);
	free(state);
}

static void setup(void)
{
	signal(SIGPIPE, SIG_IGN);
	HARNESS_REQUIRE_SWTPM();
	mas_fixture_init(&mas);
	mas_fixture_write_conf(&mas, "handshake_timeout = 5s\n");
	node_setup(&na, 0);
	node_setup(&nb, 0);
	mas_fixture_start(&mas, NULL, NULL);
}

static void node_stop(struct node *n)
{
	harness_swtpm_stop(n->tpm);
	n->tpm = NULL;
	secret_wipe(n->km, sizeof(n->km));
}

static void teardown(void)
{
	mas_fixture_fini(&mas);
	node_stop(&na);
	node_stop(&nb);
	if (nc.tpm)
		node_stop(&nc);
}

TestSuite(peer_mas, .init = setup, .fini = teardown, .timeout = 120);

/* One exchange of node n carrying req; the PRF is Km in n's TPM. */
static int run(struct node *n, const struct wire_msg *req, struct establish_result *res,
	       struct m2msa_err *eerr)
{
	struct tpm_ctx *t = NULL;
	struct tpm_key *k = NULL;
	struct kdf_prf prf;
	char err[256] = "", *state = mas_fixture_path(&mas, n->state), addr[64];
	char *ca = mas_fixture_path(&mas, "pki/ca.crt");
	WOLFSSL_CTX *ctx = tls_client_ctx_new(ca, NULL, NULL, err, sizeof(err));
	int r;

	cr_assert_not_null(ctx, "%s", err);
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", mas.est_port);
	cr_assert_eq(tpm_open(harness_swtpm_tcti(n->tpm), &t, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(tpm_key_load(t, state, &k), 0, "%s", tpm_last_error(t));
	tpm_key_prf(k, &prf);
	*res = (struct establish_result){ .kc = NULL };
	r = establish_run(ctx,
			  &(struct establish_params){ .mas_address = addr,
						      .server_name = FQDN,
						      .node_id = n->id,
						      .methods = psk,
						      .n_methods = 1,
						      .timeout_ms = 5000,
						      .peer_request = req },
			  &prf, res, eerr);
	tpm_key_free(k);
	tpm_close(t);
	wolfSSL_CTX_free(ctx);
	free(state);
	free(ca);
	return r;
}

static void expect_msg(const struct m2msa_err *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void expect_msg(const struct m2msa_err *e, const char *fmt, ...)
{
	char want[sizeof(e->msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(want, sizeof(want), fmt, ap);
	va_end(ap);
	cr_expect_str_eq(e->msg, want);
}

static int reg(struct node *n, const char *ae, const char *target, struct establish_result *res,
	       struct m2msa_err *eerr)
{
	struct wire_msg q = { .type = WIRE_MSG_PEER_REGISTER };

	snprintf(q.peer_register.ae_id, sizeof(q.peer_register.ae_id), "%s", ae);
	snprintf(q.peer_register.target, sizeof(q.peer_register.target), "%s", target);
	return run(n, &q, res, eerr);
}

static int resolve(struct node *n, const char *key_id, struct establish_result *res,
		   struct m2msa_err *eerr)
{
	struct wire_msg q = { .type = WIRE_MSG_PEER_RESOLVE };

	snprintf(q.peer_resolve.key_id, sizeof(q.peer_resolve.key_id), "%s", key_id);
	return run(n, &q, res, eerr);
}

Test(peer_mas, registered_key_equals_resolved_key_and_no_association_is_made)
{
	struct establish_result a, b;
	struct m2msa_err e;

	cr_assert_eq(reg(&na, "Cae1", TARGET_B, &a, &e), 0, "register: %s", e.msg);
	cr_expect_eq(strlen(a.key_id), 32 + 1 + strlen(FQDN), "key ID '%s'", a.key_id);
	cr_expect_str_eq(a.key_id + 33, FQDN);
	cr_expect_str_eq(a.peer_node_id, NODE_A);
	cr_expect_str_eq(a.peer_ae_id, "Cae1");
	cr_expect_str_eq(a.peer_target, TARGET_B);
	cr_expect_gt(a.expiry, (uint64_t)time(NULL) + 3500);
	cr_assert_eq(resolve(&nb, a.key_id, &b, &e), 0, "resolve: %s", e.msg);
	cr_expect_arr_eq(a.kc->data, b.kc->data, 32, "the pairwise key differs between the nodes");
	cr_expect_eq(a.expiry, b.expiry);
	cr_expect_str_eq(b.peer_node_id, NODE_A);
	cr_expect_str_eq(b.peer_ae_id, "Cae1");
	cr_expect_str_eq(b.peer_target, TARGET_B);
	cr_expect_eq(mas_fixture_count_assocs(&mas), 0, "an end-to-end request made an association");
	establish_result_clear(&a);
	establish_result_clear(&b);
}

Test(peer_mas, every_pair_and_registration_has_its_own_key)
{
	struct establish_result k[4];
	struct m2msa_err e;

	cr_assert_eq(reg(&na, "Cae1", TARGET_B, &k[0], &e), 0, "%s", e.msg);
	cr_assert_eq(reg(&na, "Cae1", "/mn-cse-2/Cae3", &k[1], &e), 0, "%s", e.msg);
	cr_assert_eq(reg(&na, "Cae9", TARGET_B, &k[2], &e), 0, "%s", e.msg);
	cr_assert_eq(reg(&nb, "Cae2", "/mn-cse-1/Cae1", &k[3], &e), 0, "%s", e.msg);
	for (int i = 0; i < 4; i++)
		for (int j = 0; j < i; j++) {
			cr_expect(memcmp(k[i].kc->data, k[j].kc->data, 32) != 0, "keys %d, %d", i, j);
			cr_expect_str_neq(k[i].key_id, k[j].key_id);
		}
	for (int i = 0; i < 4; i++)
		establish_result_clear(&k[i]);
}

Test(peer_mas, key_for_another_node_is_refused_not_authorised)
{
	struct establish_result a, b;
	struct m2msa_err e;

	cr_assert_eq(reg(&na, "Cae1", TARGET_B, &a, &e), 0, "%s", e.msg);
	/* The originator's own node is not the target's either. */
	cr_assert_eq(resolve(&na, a.key_id, &b, &e), -EACCES, "%s", e.msg);
	cr_expect_eq(e.wire_code, WIRE_ERR_NOT_AUTHORISED);
	/* Deliberately changed: the wire reason no longer names the key's target. */
	expect_msg(&e, "MAS refused: not-authorised: key %s is not for node /mn-cse-1: only "
		       "its target's node may resolve it", a.key_id);
	establish_result_clear(&a);
}

Test(peer_mas, key_of_other_nodes_is_unknown_key_to_a_third_node)
{
	struct establish_result a, b;
	struct m2msa_err e, unknown;
	char *log, *other;

	node_setup(&nc, 0);
	cr_assert_eq(reg(&na, "Cae1", TARGET_B, &a, &e), 0, "%s", e.msg);
	/* Neither originator nor target: the very answer of a key that does not exist. */
	for (int check = 0; check < 2; check++) {
		struct wire_msg q = { .type = WIRE_MSG_PEER_RESOLVE };

		snprintf(q.peer_resolve.key_id, sizeof(q.peer_resolve.key_id), "%s", a.key_id);
		q.peer_resolve.check = check;
		cr_assert_eq(run(&nc, &q, &b, &e), -ENOKEY, "check %d: %s", check, e.msg);
		cr_expect_eq(e.wire_code, WIRE_ERR_UNKNOWN_KEY);
		expect_msg(&e, "MAS refused: unknown-key: no pairwise key %s", a.key_id);
		cr_expect_null(strstr(e.msg, "Cae2"), "the target leaked: %s", e.msg);
	}
	/* The same bytes of reason as an unknown ID of the same shape. */
	other = harness_strdupf("%s", a.key_id);
	memset(other, 'f', 32);
	cr_assert_eq(resolve(&nc, other, &b, &unknown), -ENOKEY, "%s", unknown.msg);
	cr_expect_eq(strlen(unknown.msg), strlen(e.msg));
	/* The MAS log keeps the details. */
	log = mas_fixture_read_log(&mas);
	cr_expect_not_null(strstr(log, "registered by node " NODE_A " for " TARGET_B
				       ", not for node " NODE_C), "%s", log);
	free(log);
	free(other);
	establish_result_clear(&a);
}

Test(peer_mas, unknown_and_foreign_key_ids_are_unknown_key)
{
	struct establish_result b;
	struct m2msa_err e;

	cr_assert_eq(resolve(&nb, "00112233445566778899aabbccddeeff@" FQDN, &b, &e), -ENOKEY);
	cr_expect_eq(e.wire_code, WIRE_ERR_UNKNOWN_KEY);
	cr_expect_str_eq(e.msg, "MAS refused: unknown-key: no pairwise key "
				"00112233445566778899aabbccddeeff@" FQDN);
	cr_assert_eq(resolve(&nb, "00112233445566778899aabbccddeeff@other.test", &b, &e), -ENOKEY);
	cr_expect_str_eq(e.msg, "MAS refused: unknown-key: '00112233445566778899aabbccddeeff@"
				"other.test' is not a pairwise key ID of " FQDN);
}

Test(peer_mas, target_on_unknown_node_is_unknown_node)
{
	struct establish_result a;
	struct m2msa_err e;

	cr_assert_eq(reg(&na, "Cae1", "/mn-cse-9/Cae2", &a, &e), -ENOENT);
	cr_expect_eq(e.wire_code, WIRE_ERR_UNKNOWN_NODE);
	cr_expect_str_eq(e.msg, "MAS refused: unknown-node: no node /mn-cse-9 for target "
				"/mn-cse-9/Cae2");
}

Test(peer_mas, revoked_pairwise_key_and_revoked_originator_are_refused)
{
	struct establish_result a, a2, b;
	struct m2msa_err e;
	uint8_t id[STORE_PEER_ID_LEN];
	struct store *s;

	cr_assert_eq(reg(&na, "Cae1", TARGET_B, &a, &e), 0, "%s", e.msg);
	cr_assert_eq(reg(&na, "Cae5", TARGET_B, &a2, &e), 0, "%s", e.msg);
	cr_assert_eq(hex_decode(a.key_id, sizeof(id), id), 0);
	s = mas_fixture_store(&mas);
	cr_assert_eq(store_peer_key_revoke(s, id), 0);
	store_close(s);
	cr_assert_eq(resolve(&nb, a.key_id, &b, &e), -EKEYREVOKED, "%s", e.msg);
	cr_expect_eq(e.wire_code, WIRE_ERR_REVOKED);
	expect_msg(&e, "MAS refused: revoked: key %s is revoked", a.key_id);
	/* Revoking node A revokes the keys it registered: a2 (a was revoked already). */
	s = mas_fixture_store(&mas);
	cr_assert_eq(store_node_revoke(s, NODE_A), 1);
	store_close(s);
	cr_assert_eq(resolve(&nb, a2.key_id, &b, &e), -EKEYREVOKED, "%s", e.msg);
	establish_result_clear(&a);
	establish_result_clear(&a2);
}

/*
 * A pairwise key towards or from a revoked node is refused: PEER_REGISTER towards
 * its AE by the MAS's check of the target's node, and the store itself when asked
 * after the revocation, as m2masd would be when a revoke lands between its checks
 * and the insert (§14.2): -EKEYREVOKED, and nothing is written.
 */
Test(peer_mas, key_towards_or_from_a_revoked_node_is_refused_and_not_stored)
{
	struct store_peer_key k = { .ae_id = "Cae1", .target = TARGET_B, .created = 1000 }, g;
	struct establish_result a;
	struct m2msa_err e;
	uint8_t key[32] = { 0 };
	struct store *s;
	char *err = NULL;

	cr_assert_eq(mas_fixture_ctl(&mas, &err, "node", "revoke", NODE_B, NULL), 0, "%s", err);
	free(err);
	cr_assert_eq(reg(&na, "Cae1", TARGET_B, &a, &e), -EKEYREVOKED, "%s", e.msg);
	cr_expect_eq(e.wire_code, WIRE_ERR_REVOKED);
	expect_msg(&e, "MAS refused: revoked: the node " NODE_B " of target " TARGET_B
		       " is revoked");
	s = mas_fixture_store(&mas);
	memset(k.id, 0x44, sizeof(k.id));
	k.expiry = (uint64_t)time(NULL) + 3600;
	strcpy(k.node_id, NODE_A);
	cr_expect_eq(store_peer_key_add(s, &k, key), -EKEYREVOKED, "towards the revoked node");
	cr_expect_eq(store_peer_key_get(s, k.id, &g, NULL), -ENOENT, "a row was written");
	k.id[0] = 0x45;
	strcpy(k.node_id, NODE_B);
	strcpy(k.target, NODE_A "/Cae1");
	cr_expect_eq(store_peer_key_add(s, &k, key), -EKEYREVOKED, "from the revoked node");
	cr_expect_eq(store_peer_key_get(s, k.id, &g, NULL), -ENOENT, "a row was written");
	store_close(s);
	cr_expect_eq(store_fixture_query_int(mas.db, "SELECT count(*) FROM peer_keys"), 0);
}

/* A transaction held open on the store, committed once another session waits for it. */
struct held_tx {
	PGconn *conn;
	bool waited, committed;
};

static void *commit_when_waited(void *arg)
{
	struct held_tx *h = arg;

	h->waited = pg_fixture_tx_wait_for_waiter(h->conn, 10000);
	h->committed = pg_fixture_tx_commit(h->conn);
	return NULL;
}

/*
 * The race of §14.2 made deterministic on PostgreSQL: a node revoke or delete held
 * open in another transaction while node A registers a key. m2masd's checks read
 * the node as it was (active); its insert waits for the node's row (FOR SHARE),
 * then reads it revoked or gone and refuses with the answer the checks give now;
 * the MAS log says the store refused it, and no key is stored.
 */
Test(peer_mas, node_revoked_or_deleted_while_the_key_is_stored_is_refused)
{
	static const struct {
		struct node *n; /* the node the held transaction changes */
		const char *sql, *reply;
		int r;
	} cases[] = {
		{ &nb, "UPDATE nodes SET state = 'revoked' WHERE node_id = '" NODE_B "'",
		  "MAS refused: revoked: the node " NODE_B " of target " TARGET_B " is revoked",
		  -EKEYREVOKED },
		{ &na, "UPDATE nodes SET state = 'revoked' WHERE node_id = '" NODE_A "'",
		  "MAS refused: revoked: node " NODE_A " is revoked", -EKEYREVOKED },
		{ &nb, "DELETE FROM nodes WHERE node_id = '" NODE_B "'",
		  "MAS refused: unknown-node: no node " NODE_B " for target " TARGET_B, -ENOENT },
	};
	struct establish_result a;
	struct m2msa_err e;
	struct store *s;
	pthread_t t;
	int r;

	if (!pg_fixture_enabled())
		cr_skip_test("SQLite: the insert's check runs under the one write lock, which a "
			     "node revoke takes too (test-store checks it)");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct held_tx h = { .conn = pg_fixture_tx_begin(mas.db, cases[i].sql) };

		cr_assert_eq(pthread_create(&t, NULL, commit_when_waited, &h), 0);
		r = reg(&na, "Cae1", TARGET_B, &a, &e);
		pthread_join(t, NULL);
		cr_assert(h.waited, "case %zu: the insert did not wait for the node's row", i);
		cr_assert(h.committed, "case %zu", i);
		cr_expect_eq(r, cases[i].r, "case %zu: %s", i, e.msg);
		cr_expect_str_eq(e.msg, cases[i].reply, "case %zu", i);
		/* The node back, active, for the next case. */
		s = mas_fixture_store(&mas);
		r = store_node_delete(s, cases[i].n->id);
		store_close(s);
		cr_assert(r >= 0 || r == -ENOENT, "%s", strerror(-r));
		mas_fixture_add_node(&mas, cases[i].n->id, cases[i].n->km, psk, 1, 0);
	}
	cr_expect_eq(fixture_count_in(mas.log, "(refused by the store: a node revoked or deleted "
					       "meanwhile)"),
		     3);
	cr_expect_eq(store_fixture_query_int(mas.db, "SELECT count(*) FROM peer_keys"), 0);
}

/* A version-4 check of key_id by node n (§14.6). */
static int check_key(struct node *n, const char *key_id, struct establish_result *res,
		     struct m2msa_err *eerr)
{
	struct wire_msg q = { .type = WIRE_MSG_PEER_RESOLVE };

	snprintf(q.peer_resolve.key_id, sizeof(q.peer_resolve.key_id), "%s", key_id);
	q.peer_resolve.check = 1;
	return run(n, &q, res, eerr);
}

/* m2masctl node revoke reaches the keys other nodes registered towards the node's AEs. */
Test(peer_mas, node_revoke_revokes_the_keys_towards_its_aes)
{
	struct establish_result a, own, b;
	struct m2msa_err e;
	char *err = NULL;

	cr_assert_eq(reg(&na, "Cae1", TARGET_B, &a, &e), 0, "%s", e.msg);
	cr_assert_eq(reg(&na, "Cae1", NODE_A "/Cae7", &own, &e), 0, "%s", e.msg);
	cr_assert_eq(check_key(&na, a.key_id, &b, &e), 0, "the control: valid before: %s", e.msg);
	establish_result_clear(&b);
	cr_assert_eq(mas_fixture_ctl(&mas, &err, "node", "revoke", NODE_B, NULL), 0, "%s", err);
	cr_expect_str_eq(err, "m2masctl: node '" NODE_B "' revoked, with all its associations "
			      "and 1 pairwise key (registered by it or towards its AEs)\n");
	free(err);
	/* The originator's check now gets revoked (its agent drops the key), not valid. */
	cr_assert_eq(check_key(&na, a.key_id, &b, &e), -EKEYREVOKED, "%s", e.msg);
	cr_expect_eq(e.wire_code, WIRE_ERR_REVOKED);
	expect_msg(&e, "MAS refused: revoked: key %s is revoked", a.key_id);
	/* A key towards another node (here node A's own AE) is untouched. */
	cr_assert_eq(check_key(&na, own.key_id, &b, &e), 0, "%s", e.msg);
	establish_result_clear(&b);
	establish_result_clear(&a);
	establish_result_clear(&own);
}

Test(peer_mas, expired_pairwise_key_is_refused)
{
	struct establish_result c, b;
	struct m2msa_err e;

	/* Lifetime 3 s: 1 s would let a loaded machine's exchange see its expiry pass. */
	node_setup(&nc, 3);
	cr_assert_eq(reg(&nc, "Cae1", TARGET_B, &c, &e), 0, "%s", e.msg);
	sleep(4);
	cr_assert_eq(resolve(&nb, c.key_id, &b, &e), -EKEYEXPIRED, "%s", e.msg);
	cr_expect_eq(e.wire_code, WIRE_ERR_EXPIRED);
	expect_msg(&e, "MAS refused: expired: key %s expired at %llu", c.key_id,
		   (unsigned long long)c.expiry);
	establish_result_clear(&c);
}

Test(peer_mas, wrong_km_gets_auth_failed_and_no_key)
{
	struct establish_result a, b;
	struct m2msa_err e;
	struct store *s;

	cr_assert_eq(reg(&na, "Cae1", TARGET_B, &a, &e), 0, "%s", e.msg);
	/* Node B's subscription now holds another Km than its TPM. */
	s = mas_fixture_store(&mas);
	cr_assert_eq(store_node_delete(s, NODE_B), 1, "the key towards node B goes with it");
	store_close(s);
	cr_assert_eq(crypto_random(nb.km, 32), 0);
	mas_fixture_add_node(&mas, NODE_B, nb.km, psk, 1, 0);
	cr_assert_eq(resolve(&nb, a.key_id, &b, &e), -EKEYREJECTED, "%s", e.msg);
	cr_expect_eq(e.wire_code, WIRE_ERR_AUTH_FAILED);
	cr_expect_null(b.kc);
	establish_result_clear(&a);
}

Test(peer_mas, no_key_bytes_in_the_mas_log)
{
	struct establish_result a, b;
	struct m2msa_err e;
	char hex[65], *log;

	cr_assert_eq(reg(&na, "Cae1", TARGET_B, &a, &e), 0, "%s", e.msg);
	cr_assert_eq(resolve(&nb, a.key_id, &b, &e), 0, "%s", e.msg);
	hex_encode(a.kc->data, 32, hex);
	log = fixture_read_text(mas.log);
	cr_expect_not_null(strstr(log, "resolved by node " NODE_B), "the resolution is not logged");
	cr_expect_null(strstr(log, hex), "the pairwise key is in the MAS log");
	free(log);
	establish_result_clear(&a);
	establish_result_clear(&b);
}

#define N_RESOLVES 6

Test(peer_mas, pairwise_key_answers_refund_their_connection_token)
{
	struct establish_result a, b;
	struct m2msa_err e;
	struct timespec t0, t1;
	double secs;
	char *log;

	/* One new connection per second per source, a bucket of two. */
	mas_fixture_stop(&mas);
	mas_fixture_write_conf(&mas, "handshake_timeout = 5s\nmax_failures = 1000\n"
				     "connection_rate_per_source = 1\n");
	mas_fixture_start(&mas, NULL, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_assert_eq(reg(&na, "Cae1", TARGET_B, &a, &e), 0, "%s", e.msg);
	for (int i = 0; i < N_RESOLVES; i++) {
		cr_assert_eq(resolve(&nb, a.key_id, &b, &e), 0, "resolve %d: %s", i + 1, e.msg);
		establish_result_clear(&b);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	/* Without the refunds at most 2 + secs connections would have been admitted. */
	cr_assert_lt(secs, N_RESOLVES + 1 - 3, "the exchanges took %.1f s: too slow to tell", secs);
	log = mas_fixture_read_log(&mas);
	cr_expect_null(strstr(log, "opens connections faster than one source may"), "%s", log);
	free(log);
	/* The control: a refused resolve keeps its token, and the budget does refuse. */
	for (int i = 0; i < N_RESOLVES; i++)
		if (resolve(&nb, "00112233445566778899aabbccddeeff@" FQDN, &b, &e) < 0 &&
		    e.wire_code == 0)
			break;
	cr_expect_eq(e.wire_code, 0, "the budget never refused: %s", e.msg);
	establish_result_clear(&a);
}

/*
 * The metrics count pairwise key requests as their own exchanges: a key registered and
 * resolved is two ok answers, a registration towards a revoked node one revoked error,
 * and none of them is an establishment.
 */
Test(peer_mas, metrics_count_pairwise_key_requests_apart_from_establishments)
{
	static const char *const want[] = {
		"m2masd_pairwise_keys_total{outcome=\"ok\",code=\"none\"} 2\n",
		"m2masd_pairwise_keys_total{outcome=\"error\",code=\"revoked\"} 1\n",
		"m2masd_pairwise_key_seconds_count 3\n",
		"m2masd_establishments_total{outcome=\"ok\",code=\"none\"} 0\n",
		"m2masd_establishments_total{outcome=\"error\",code=\"revoked\"} 0\n",
		"m2masd_establishment_seconds_count 0\n",
	};
	struct establish_result a, b;
	struct m2msa_err e;
	uint16_t mport = 0;
	char *text, *err = NULL;

	mport = mas_fixture_restart_with_metrics(&mas, "handshake_timeout = 5s\n"
						       "[metrics]\nlisten = 127.0.0.1:0\n");

	cr_assert_eq(reg(&na, "Cae1", TARGET_B, &a, &e), 0, "%s", e.msg);
	cr_assert_eq(resolve(&nb, a.key_id, &b, &e), 0, "%s", e.msg);
	establish_result_clear(&b);
	establish_result_clear(&a);
	cr_assert_eq(mas_fixture_ctl(&mas, &err, "node", "revoke", NODE_B, NULL), 0, "%s", err);
	free(err);
	cr_assert_eq(reg(&na, "Cae1", TARGET_B, &a, &e), -EKEYREVOKED, "%s", e.msg);

	text = fixture_http_get(mport, "/metrics");
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		cr_expect(strstr(text, want[i]), "no \"%s\" in:\n%s", want[i], text);
	free(text);
}
