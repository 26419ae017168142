/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Method gba at the MAS against real parts (gba-fixture.h: m2msa-bsf, swtpm,
 * m2masd with [zn]): what a stranger can learn and what the node still learns.
 * - An unknown node, a node without gba, an unknown B-TID and a B-TID of another
 *   IMPI get the same answer at the same step (CHALLENGE after a Zn round trip,
 *   then auth-failed for the PROOF), while m2masd's log names each case.
 * - The agent whose B-TID the BSF forgot re-bootstraps after the refused proof.
 * - A pairwise key registered by a gba node ends with its Ks_NAF.
 * - Establishments that waited for Zn give their connection token back.
 * - A gba-only node registered without Km (m2masctl node add --methods gba
 *   --impi), and psk refused for it with the reason.
 * - The agent resolving a pairwise key that expired ("expired" from the MAS
 *   after its gba proof) keeps Ks_NAF: no new Ub bootstrap.
 * Runs on SQLite (integration) and PostgreSQL (integration-pg, pg-cluster.sh).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <m2msa/m2msa.h>

#include "agent/establish.h"
#include "agent/gba-slot.h"
#include "common/crypto.h"
#include "common/secret.h"
#include "fixture.h"
#include "gba-fixture.h"
#include "harness.h"
#include "mas/store.h"
#include "tpm/keystore.h"
#include "usim/usim.h"

#define UNKNOWN_BTID "AAAAAAAAAAAAAAAAAAAAAA==@" DOMAIN
#define REFUSED "MAS refused: auth-failed: proof did not verify"

static const uint8_t gba_only[] = { WIRE_METHOD_GBA };

/* Some line of log contains both a and b, in that order. */
static bool log_has(const char *log, const char *a, const char *b)
{
	for (const char *p = strstr(log, a); p; p = strstr(p + 1, a)) {
		const char *eol = strchr(p, '\n');
		const char *q = strstr(p, b);

		if (q && (!eol || q < eol))
			return true;
	}
	return false;
}

/* One gba establishment of node_id with btid and a key nobody registered. */
static void stranger(const struct mas_fixture *m, const char *node_id, const char *btid,
		     struct m2msa_err *eerr)
{
	uint8_t key[32];
	struct kdf_sw_key sw = { .key = key, .len = 32 };
	struct kdf_prf prf;
	struct establish_result res = { 0 };

	cr_assert_eq(crypto_random(key, sizeof(key)), 0);
	kdf_prf_software(&sw, &prf);
	cr_assert_eq(gba_fx_node_establish(m, node_id, gba_only, 1, btid, &prf, 0, NULL, &res,
					   eerr),
		     -EKEYREJECTED, "%s: %s", node_id, eerr->msg);
	secret_wipe(key, sizeof(key));
}

Test(gba_mas, strangers_cannot_tell_unknown_nodes_from_gba_refusals, .init = gba_fx_setup,
     .fini = gba_fx_teardown, .timeout = 240)
{
	char *zn_url = harness_strdupf("https://127.0.0.1:%u", gba_env.zn), *log, *want;
	struct store_node other = { .node_id = "/mn-other", .km_id = STORE_KM_ID_NONE,
				    .target_id = "/target", .methods = { WIRE_METHOD_GBA },
				    .n_methods = 1, .impi = "someone-else@ims.test" };
	const char *who[4] = { "/mn-nobody", "/mn-psk", NODE_ID, "/mn-other" };
	struct m2msa_err e[4];
	struct mas_fixture m;
	struct gba_slot slot;
	struct tpm_key *key = NULL;
	struct kdf_prf prf;
	struct establish_result res = { 0 };
	struct store *st;

	gba_fx_bootstrap_into_slot(&slot);
	gba_fx_start_mas(&m, zn_url, IMPI, 5);
	st = mas_fixture_store(&m);
	cr_assert_eq(store_node_add(st, &other, NULL), 0); /* gba only, without Km */
	store_close(st);
	stranger(&m, "/mn-nobody", slot.btid, &e[0]); /* unknown node */
	stranger(&m, "/mn-psk", slot.btid, &e[1]);    /* a node without gba */
	stranger(&m, NODE_ID, UNKNOWN_BTID, &e[2]);   /* a B-TID the BSF never issued */
	stranger(&m, "/mn-other", slot.btid, &e[3]);  /* a B-TID of another IMPI */
	for (int i = 0; i < 4; i++) {
		cr_expect_eq(e[i].wire_code, WIRE_ERR_AUTH_FAILED, "%s: %u", who[i], e[i].wire_code);
		cr_expect_eq(e[i].method, WIRE_METHOD_GBA, "%s: refused before the CHALLENGE",
			     who[i]);
		cr_expect_str_eq(e[i].msg, REFUSED, "%s", who[i]);
	}
	/* The operator's log says which case each was. */
	log = mas_fixture_read_log(&m);
	cr_expect(log_has(log, "unknown node /mn-nobody from 127.0.0.1:", "; answered like a wrong key"),
		  "%s", log);
	cr_expect(log_has(log, "no method for node /mn-psk from 127.0.0.1:",
			  ": node offered gba; subscription allows psk; answered like a wrong key"),
		  "%s", log);
	cr_expect(log_has(log, "node " NODE_ID " from 127.0.0.1:",
			  ": B-TID " UNKNOWN_BTID " is unknown to the BSF or expired ("),
		  "%s", log);
	want = harness_strdupf(": B-TID %s belongs to another IMPI at the BSF (" IMPI "), not to the "
			       "node's registered IMPI someone-else@ims.test; answered like a wrong "
			       "key (the node bootstraps again after the failed proof)",
			       slot.btid);
	cr_expect(log_has(log, "node /mn-other from 127.0.0.1:", want), "%s", log);
	/* Each went through Zn, a node's path (no timing tells them apart). */
	cr_expect_eq(gba_fx_count(log, "method gba, fetching Ks_NAF for B-TID"), 4, "%s", log);
	free(log), free(want);
	/* The node itself, with its Ks_NAF, still establishes. */
	cr_assert_eq(gba_slot_load_key(gba_env.t, gba_env.state, &key), 0);
	tpm_key_prf(key, &prf);
	cr_assert_eq(gba_fx_node_establish(&m, NODE_ID, gba_only, 1, slot.btid, &prf,
					   (uint64_t)slot.expiry, NULL, &res, &e[0]),
		     0, "%s", e[0].msg);
	gba_fx_note_key(res.kc->data, 32, "Kc (gba)");
	establish_result_clear(&res);
	tpm_key_free(key);
	mas_fixture_fini(&m);
	free(zn_url);
}

Test(gba_mas, agent_rebootstraps_when_the_bsf_forgot_its_btid, .init = gba_fx_setup,
     .fini = gba_fx_teardown, .timeout = 240)
{
	static const char *const del[] = { "subscriber", "delete", "--impi", IMPI, NULL };
	const char *add[] = { "subscriber", "add", "--impi", IMPI, "--k-file", NULL,
			      "--opc-file", NULL, NULL };
	char *zn_url = harness_strdupf("https://127.0.0.1:%u", gba_env.zn), *log_path = NULL;
	char *log, *kf, *of;
	struct mas_fixture m;
	struct agent_status st;
	struct gba_slot slot, slot2;
	char err[256];
	pid_t agent;

	gba_fx_start_mas(&m, zn_url, IMPI, 5);
	/* A bootstrap in the agent's state folder, then the BSF forgets it (subscriber re-added). */
	free(gba_env.state);
	gba_env.state = harness_strdupf("%s/node", m.dir);
	gba_fx_bootstrap_into_slot(&slot);
	usim_free(gba_env.usim), gba_env.usim = NULL;
	tpm_close(gba_env.t), gba_env.t = NULL;
	gba_fx_bsfctl(del);
	gba_fx_hexfile("k2.hex", gba_env.k, 16, &kf);
	gba_fx_hexfile("opc2.hex", gba_env.opc, 16, &of);
	add[5] = kf, add[7] = of;
	gba_fx_bsfctl(add);
	agent = gba_fx_start_agent(&m, "gba", gba_env.url, &log_path);
	cr_assert_eq(gba_fx_wait_established(&m, 40000, &st), 0, "m2msad did not establish (see %s)",
		     log_path);
	log = fixture_read_text(log_path);
	cr_expect_not_null(strstr(log, REFUSED), "%s", log);
	cr_expect_not_null(strstr(log, "the MAS refused the proof made with Ks_NAF"), "%s", log);
	cr_expect_eq(gba_fx_count(log, "GBA bootstrap done: B-TID "), 1, "%s", log);
	free(log);
	cr_assert_eq(gba_slot_read(gba_env.state, &slot2, err, sizeof(err)), 0, "%s", err);
	cr_expect_str_neq(slot2.btid, slot.btid, "the agent kept the forgotten B-TID");
	log = mas_fixture_read_log(&m);
	cr_expect(log_has(log, slot.btid, " is unknown to the BSF or expired ("), "%s", log);
	free(log);
	harness_kill_wait(&agent, SIGTERM);
	mas_fixture_fini(&m);
	free(zn_url), free(log_path), free(kf), free(of);
}

static void setup_ks_10min(void)
{
	gba_fx_bsf_lifetime = 600;
	gba_fx_setup();
}

Test(gba_mas, pairwise_key_of_a_gba_node_ends_with_its_ks_naf, .init = setup_ks_10min,
     .fini = gba_fx_teardown, .timeout = 240)
{
	char *zn_url = harness_strdupf("https://127.0.0.1:%u", gba_env.zn);
	WOLFSSL_CTX *ctx;
	struct wire_msg q = { .type = WIRE_MSG_PEER_REGISTER };
	struct mas_fixture m;
	struct gba_slot slot;
	struct tpm_key *key = NULL;
	struct kdf_prf prf;
	struct establish_result res = { 0 };
	struct m2msa_err eerr;
	char addr[64];
	int r;

	gba_fx_bootstrap_into_slot(&slot);
	cr_assert_leq(slot.expiry, (int64_t)time(NULL) + 600);
	gba_fx_start_mas(&m, zn_url, IMPI, 5); /* [mas] lifetime 1h */
	cr_assert_eq(gba_slot_load_key(gba_env.t, gba_env.state, &key), 0);
	tpm_key_prf(key, &prf);
	snprintf(q.peer_register.ae_id, sizeof(q.peer_register.ae_id), "Cae1");
	snprintf(q.peer_register.target, sizeof(q.peer_register.target), "/mn-psk/Cae2");
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", m.est_port);
	ctx = gba_fx_mas_client_ctx(&m);
	r = establish_run(ctx,
			  &(struct establish_params){ .mas_address = addr,
						      .server_name = FIXTURE_FQDN,
						      .node_id = NODE_ID,
						      .methods = gba_only,
						      .n_methods = 1,
						      .timeout_ms = 8000,
						      .btid = slot.btid,
						      .gba_km = &prf,
						      .peer_request = &q },
			  NULL, &res, &eerr);
	cr_assert_eq(r, 0, "PEER_REGISTER with gba: %s", eerr.msg);
	gba_fx_note_key(res.kc->data, 32, "pairwise key (gba)");
	cr_expect_leq(res.expiry, (uint64_t)slot.expiry, "the pairwise key outlives Ks_NAF (%llu > %lld)",
		      (unsigned long long)res.expiry, (long long)slot.expiry);
	cr_expect_gt(res.expiry, (uint64_t)time(NULL));
	establish_result_clear(&res);
	wolfSSL_CTX_free(ctx);
	tpm_key_free(key);
	mas_fixture_fini(&m);
	free(zn_url);
}

#define N_BTIDS 6

Test(gba_mas, establishments_after_a_zn_wait_refund_their_connection_token, .init = gba_fx_setup,
     .fini = gba_fx_teardown, .timeout = 300)
{
	static const uint8_t psk[] = { WIRE_METHOD_PSK };
	char *zn_url = harness_strdupf("https://127.0.0.1:%u", gba_env.zn), *log;
	struct gba_ub_result boot[N_BTIDS];
	struct mas_fixture m;
	struct m2msa_err eerr;
	struct timespec t0, t1;
	double secs;
	int refused = 0;

	/* N_BTIDS bootstraps, each a B-TID of its own: every establishment below waits for Zn. */
	gba_fx_node_usim(gba_env.k, 0);
	for (int i = 0; i < N_BTIDS; i++)
		gba_fx_bootstrap_ok(&boot[i]);
	/* One new connection per second per source, a bucket of two. */
	gba_fx_mas_extra = "max_failures = 1000\nconnection_rate_per_source = 1\n";
	gba_fx_start_mas(&m, zn_url, IMPI, 5);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < N_BTIDS; i++) {
		struct kdf_sw_key sw = { .key = boot[i].ks_naf, .len = 32 };
		struct establish_result res = { 0 };
		struct kdf_prf prf;

		kdf_prf_software(&sw, &prf);
		cr_assert_eq(gba_fx_node_establish(&m, NODE_ID, gba_only, 1, boot[i].btid, &prf,
						   (uint64_t)boot[i].lifetime, NULL, &res, &eerr),
			     0, "establishment %d after a Zn wait: %s", i + 1, eerr.msg);
		gba_fx_note_key(res.kc->data, 32, "Kc (gba refund)");
		establish_result_clear(&res);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	/* Without the refunds at most 2 + secs connections would have been admitted. */
	cr_assert_lt(secs, N_BTIDS - 3, "the establishments took %.1f s: too slow to tell", secs);
	log = mas_fixture_read_log(&m);
	cr_expect_eq(gba_fx_count(log, "method gba, fetching Ks_NAF for B-TID"), N_BTIDS, "%s", log);
	cr_expect_null(strstr(log, "opens connections faster than one source may"), "%s", log);
	free(log);
	/* The control: failures keep their tokens, and the budget does refuse. */
	for (int i = 0; i < N_BTIDS && !refused; i++) {
		struct kdf_sw_key sw = { .key = gba_fx_psk_km, .len = 32 };
		struct establish_result res = { 0 };
		struct kdf_prf prf;

		kdf_prf_software(&sw, &prf);
		if (gba_fx_node_establish(&m, "/mn-nobody", psk, 1, NULL, NULL, 0, &prf, &res,
					  &eerr) < 0 &&
		    eerr.wire_code == 0)
			refused++;
		establish_result_clear(&res);
	}
	cr_expect_gt(refused, 0, "failed establishments never ran out of tokens");
	fixture_wait_log_count(m.log, "opens connections faster than one source may", 1, 100, 20);
	for (int i = 0; i < N_BTIDS; i++)
		secret_wipe(&boot[i], sizeof(boot[i]));
	mas_fixture_fini(&m);
	free(zn_url);
}

Test(gba_mas, gba_only_node_needs_no_km_and_psk_is_refused_for_it, .init = gba_fx_setup,
     .fini = gba_fx_teardown, .timeout = 240)
{
	static const uint8_t psk[] = { WIRE_METHOD_PSK };
	char *zn_url = harness_strdupf("https://127.0.0.1:%u", gba_env.zn), *err = NULL, *log;
	struct kdf_sw_key sw = { .key = gba_fx_psk_km, .len = 32 };
	struct mas_fixture m;
	struct gba_slot slot;
	struct store_node n;
	struct store *st;
	struct secret *km = NULL;
	struct tpm_key *key = NULL;
	struct kdf_prf prf;
	struct establish_result res = { 0 };
	struct m2msa_err eerr;

	gba_fx_bootstrap_into_slot(&slot);
	gba_fx_start_mas(&m, zn_url, "other@ims.test", 5);
	cr_assert_eq(mas_fixture_ctl(&m, &err, "node", "add", "/mn-gba", "--methods", "gba",
				     "--impi", IMPI, "--target", "/target", NULL), 0, "%s", err);
	cr_expect_str_eq(err, "m2masctl: node '/mn-gba' added for method gba only (IMPI " IMPI
			      "), without Km: its Km is Ks_NAF from the BSF\n");
	free(err);
	cr_assert_neq(mas_fixture_ctl(&m, &err, "node", "add", "/mn-x", "--methods", "gba",
				      "--target", "/target", NULL), 0);
	cr_expect_not_null(strstr(err, "a node without Km must use method gba only with its IMPI "
				       "(--methods gba --impi IMPI); otherwise give --km-file FILE "
				       "or --generate-km"),
			   "%s", err);
	free(err);
	cr_assert_neq(mas_fixture_ctl(&m, &err, "node", "add", "/mn-y", "--km-id", "km-y",
				      "--target", "/target", NULL), 0);
	cr_expect_not_null(strstr(err, "give exactly one of --km-file FILE and --generate-km (a "
				       "gba-only node, --methods gba --impi IMPI, needs neither)"),
			   "%s", err);
	free(err);
	cr_assert_neq(mas_fixture_ctl(&m, &err, "node", "set-methods", "/mn-gba", "gba,psk",
				      NULL), 0);
	cr_expect_not_null(strstr(err, "cannot set the methods of node '/mn-gba': it was registered "
				       "without Km (method gba only), so method psk has no key to "
				       "prove with"),
			   "%s", err);
	free(err);
	st = mas_fixture_store(&m);
	cr_assert_eq(store_node_get(st, "/mn-gba", &n), 0);
	cr_expect_str_eq(n.km_id, STORE_KM_ID_NONE);
	cr_expect_str_eq(n.impi, IMPI);
	cr_expect_eq(store_node_get_km(st, "/mn-gba", &km), -ENOKEY);
	store_close(st);
	/* psk for it: refused like any wrong key; the log says why. */
	kdf_prf_software(&sw, &prf);
	cr_assert_eq(gba_fx_node_establish(&m, "/mn-gba", psk, 1, NULL, NULL, 0, &prf, &res, &eerr),
		     -EKEYREJECTED, "%s", eerr.msg);
	cr_expect_str_eq(eerr.msg, REFUSED);
	log = mas_fixture_read_log(&m);
	cr_expect(log_has(log, "no method for node /mn-gba from 127.0.0.1:",
			  ": node offered psk; subscription allows gba; answered like a wrong key"),
		  "%s", log);
	free(log);
	/* gba works with Km = Ks_NAF. */
	cr_assert_eq(gba_slot_load_key(gba_env.t, gba_env.state, &key), 0);
	tpm_key_prf(key, &prf);
	cr_assert_eq(gba_fx_node_establish(&m, "/mn-gba", gba_only, 1, slot.btid, &prf,
					   (uint64_t)slot.expiry, NULL, &res, &eerr),
		     0, "%s", eerr.msg);
	gba_fx_note_key(res.kc->data, 32, "Kc (gba-only node)");
	{
		static const char *const list[] = { "assoc", "list", "--json", NULL };
		char *bin = harness_strdupf("%s/mas/m2masctl", fixture_builddir()), *out = NULL;
		const char *argv[] = { bin, "--config", m.conf, list[0], list[1], list[2], NULL };
		char *want = harness_strdupf("\"key_id\":\"%s\",", res.key_id);
		int status = -1;

		/* The key ID is one JSON string (the FQDN was once quoted inside it). */
		cr_assert_eq(harness_run(argv, NULL, NULL, &status, &out, &err), 0);
		cr_expect_eq(status, 0, "%s", err);
		cr_expect_not_null(strstr(out, want), "%s", out);
		free(bin), free(out), free(err), free(want);
	}
	establish_result_clear(&res);
	tpm_key_free(key);
	mas_fixture_fini(&m);
	free(zn_url);
}

#define SHORT_NODE "/mn-short"
#define SHORT_LIFETIME_S 5

/* SHORT_NODE (psk, keys of SHORT_LIFETIME_S) registers Cae1 -> NODE_ID/Cae2; the key ID. */
static char *register_short_key(const struct mas_fixture *m, uint64_t *ret_expiry)
{
	static const uint8_t psk[] = { WIRE_METHOD_PSK };
	struct kdf_sw_key sw = { .key = gba_fx_psk_km, .len = 32 };
	struct wire_msg q = { .type = WIRE_MSG_PEER_REGISTER };
	struct establish_result res = { 0 };
	struct m2msa_err eerr;
	struct kdf_prf prf;
	WOLFSSL_CTX *ctx = gba_fx_mas_client_ctx(m);
	char addr[64], *kid;

	kdf_prf_software(&sw, &prf);
	snprintf(q.peer_register.ae_id, sizeof(q.peer_register.ae_id), "Cae1");
	snprintf(q.peer_register.target, sizeof(q.peer_register.target), NODE_ID "/Cae2");
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", m->est_port);
	cr_assert_eq(establish_run(ctx,
				   &(struct establish_params){ .mas_address = addr,
							       .server_name = FIXTURE_FQDN,
							       .node_id = SHORT_NODE,
							       .methods = psk,
							       .n_methods = 1,
							       .timeout_ms = 8000,
							       .peer_request = &q },
				   &prf, &res, &eerr),
		     0, "PEER_REGISTER by " SHORT_NODE ": %s", eerr.msg);
	gba_fx_note_key(res.kc->data, 32, "pairwise key (short)");
	cr_assert_leq(res.expiry, (uint64_t)time(NULL) + SHORT_LIFETIME_S);
	kid = strdup(res.key_id);
	*ret_expiry = res.expiry;
	establish_result_clear(&res);
	wolfSSL_CTX_free(ctx);
	return kid;
}

Test(gba_mas, an_expired_pairwise_key_does_not_bootstrap_again, .init = gba_fx_setup,
     .fini = gba_fx_teardown, .timeout = 240)
{
	static const uint8_t psk[] = { WIRE_METHOD_PSK };
	char *zn_url = harness_strdupf("https://127.0.0.1:%u", gba_env.zn), *log_path = NULL;
	char *sock, *log, *kid, want[512];
	struct mas_fixture m;
	struct agent_status st;
	struct m2msa *h = NULL;
	struct m2msa_key *k = NULL;
	uint64_t expiry;
	pid_t agent;

	gba_fx_start_mas(&m, zn_url, IMPI, 5);
	mas_fixture_add_node(&m, SHORT_NODE, gba_fx_psk_km, psk, 1, SHORT_LIFETIME_S);
	gba_fx_agent_usim(&m);
	agent = gba_fx_start_agent(&m, "gba", gba_env.url, &log_path);
	cr_assert_eq(gba_fx_wait_established(&m, 40000, &st), 0, "m2msad did not establish (see %s)",
		     log_path);
	cr_assert_eq(fixture_count_in(log_path, "GBA bootstrap done: B-TID "), 1);
	kid = register_short_key(&m, &expiry);
	while ((uint64_t)time(NULL) <= expiry)
		usleep(200 * 1000);
	/* Not in the agent's cache: it asks the MAS, with a gba proof, and hears "expired". */
	sock = harness_strdupf("%s/agent.sock", m.dir);
	cr_assert_eq(m2msa_open(sock, &h), 0);
	cr_expect_eq(m2msa_resolve_key(h, "Cae2", kid, &k), -EKEYEXPIRED, "%s",
		     m2msa_last_error(h));
	snprintf(want, sizeof(want), "MAS refused: expired: key %s expired at %llu", kid,
		 (unsigned long long)expiry);
	cr_expect_str_eq(m2msa_last_error(h), want);
	m2msa_key_free(k);
	m2msa_close(h);
	/* The key's expiry says nothing about Ks_NAF: no Ub run, now or a little later. */
	snprintf(want, sizeof(want), "end-to-end request resolve %s failed: MAS refused: expired", kid);
	fixture_wait_log_count(log_path, want, 1, 100, 50);
	sleep(4);
	log = fixture_read_text(log_path);
	cr_expect_eq(gba_fx_count(log, "GBA bootstrap done: B-TID "), 1, "%s", log);
	cr_expect_null(strstr(log, "the MAS refused the proof made with Ks_NAF"), "%s", log);
	cr_expect_null(strstr(log, "the MAS refused an end-to-end proof"), "%s", log);
	free(log);
	log = mas_fixture_read_log(&m);
	cr_expect(log_has(log, "node " NODE_ID " from ", ": pairwise key "), "%s", log);
	free(log);
	harness_kill_wait(&agent, SIGTERM);
	mas_fixture_fini(&m);
	free(zn_url), free(log_path), free(sock), free(kid);
}
