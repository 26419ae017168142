/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Method gba at the node against real parts: the real m2msa-bsf (its own AuC,
 * subscribers added with m2msa-bsfctl), a real swtpm holding the USIM's K
 * (usim backend tpm) and then Ks_NAF, the node's Ub client (gba/ub-client.h,
 * gba/ub-http.h) and the agent's asynchronous bootstrap on a common/loop
 * (agent/gba-boot.h) and its Km slot (agent/gba-slot.h).
 * Covers: Ks_NAF at the node equal to the one the BSF gives the NAF over Zn,
 * imported into the TPM next to the psk Km (HMAC under it equals HMAC under
 * Zn's key), a wrong K (MAC failure, exact message), a stale SQN (one AUTS
 * resync, then success), a BSF signed by another CA (refused: the CA is
 * pinned), and a BSF that accepts TCP but never answers (the loop keeps
 * running, the run ends in a timeout). The MAS's Zn client (mas/zn-client.h)
 * on a loop: the node's Ks_NAF and IMPI, an unknown B-TID, a silent BSF (the
 * loop keeps running, a timeout). End to end with the real m2masd as the NAF
 * ([zn] against the real BSF): method gba establishes with Km = Ks_NAF in the
 * TPM, the target retrieves the node's Kc, the expiry is capped at Ks_NAF's,
 * the second establishment uses m2masd's cache (an IMPI other than the node's
 * and an unknown B-TID: test-gba-mas.c); a silent BSF on Zn does not hold up a psk node, and a
 * version 1 psk HELLO still works against the version 2 MAS. After each test: K, OPc and Ks_NAF
 * appear in no log (secrets.h).
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <pthread.h>
#include <unistd.h>

#include "agent/establish.h"
#include "agent/gba-boot.h"
#include "agent/gba-slot.h"
#include "agent/status.h"
#include "common/crypto.h"
#include "common/loop.h"
#include "common/secret.h"
#include "fixture.h"
#include "gba-fixture.h"
#include "gba/ks-naf.h"
#include "gba/ub-http.h"
#include "gba/zn-json.h"
#include "mas/zn-client.h"
#include "harness.h"
#include "secrets.h"
#include "tpm/keystore.h"
#include "tpm/usimkey.h"
#include "usim/usim-state.h"
#include "usim/usim.h"
static void zn_curl(const char *btid, struct gba_zn_response *ret)
{
	struct gba_zn_request req = { 0 };
	struct gba_ub_reply *rep = calloc(1, sizeof(*rep));
	char *json = NULL, *url = harness_strdupf("https://" DOMAIN ":%u" GBA_ZN_PATH, gba_env.zn);
	char *res = harness_strdupf(DOMAIN ":%u:127.0.0.1", gba_env.zn);
	char *crt = harness_strdupf("%s/pki/naf.crt", gba_env.dir);
	char *key = harness_strdupf("%s/pki/naf.key", gba_env.dir);
	struct curl_slist *resolve = curl_slist_append(NULL, res);
	struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	CURL *c = curl_easy_init();
	long status = 0;
	FILE *body;
	char *buf = NULL;
	size_t len = 0;

	snprintf(req.btid, sizeof(req.btid), "%s", btid);
	snprintf(req.naf_fqdn, sizeof(req.naf_fqdn), NAF);
	memcpy(req.ua_id, gba_ua_tls13_psk, 5);
	cr_assert_eq(gba_zn_request_format(&req, &json), 0);
	body = open_memstream(&buf, &len);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_RESOLVE, resolve);
	curl_easy_setopt(c, CURLOPT_CAINFO, gba_env.ca);
	curl_easy_setopt(c, CURLOPT_SSLCERT, crt);
	curl_easy_setopt(c, CURLOPT_SSLKEY, key);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, json);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
	cr_assert_eq(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	fclose(body);
	cr_assert_eq(status, 200, "Zn: %ld %s", status, buf);
	cr_assert_eq(gba_zn_response_parse(buf, len, ret), 0, "Zn body: %s", buf);
	secret_free_buf(buf, len);
	curl_easy_cleanup(c);
	curl_slist_free_all(resolve), curl_slist_free_all(hdrs);
	free(json), free(url), free(res), free(crt), free(key), free(rep);
}

Test(gba, ub_ks_naf_equals_zn_and_lands_in_the_tpm_beside_the_psk_km, .init = gba_fx_setup,
     .fini = gba_fx_teardown, .timeout = 180)
{
	static const uint8_t local_km[32] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 };
	static const uint8_t msg[] = "m2msa gba test message";
	struct gba_ub_result res;
	struct gba_zn_response zn;
	struct gba_slot slot;
	struct tpm_key *key = NULL;
	uint8_t zero[32] = { 0 }, want[32], got[32];
	char *psk_pub = NULL, *psk_pub2 = NULL, *p = harness_strdupf("%s/km.pub", gba_env.state), err[512];
	size_t n1, n2;
	time_t before = time(NULL);

	fixture_provision_km(harness_swtpm_tcti(gba_env.tpm), gba_env.state, NODE_ID, "psk-km", local_km);
	cr_assert_eq(harness_read_file(p, &psk_pub, &n1), 0);
	gba_fx_node_usim(gba_env.k, 0);
	gba_fx_bootstrap_ok(&res);
	cr_assert_geq(res.lifetime, (int64_t)before + 3600);
	zn_curl(res.btid, &zn);
	cr_assert_arr_eq(zn.me_key, res.ks_naf, 32, "Zn's Ks_NAF differs from the node's");
	cr_assert_str_eq(zn.impi, IMPI);
	cr_assert_eq(zn.expiry, res.lifetime);

	cr_assert_eq(gba_slot_store(gba_env.t, gba_env.state, NODE_ID, &res, IMPI, NAF, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_arr_eq(res.ks_naf, zero, 32, "gba_slot_store left Ks_NAF in the caller's buffer");
	cr_assert_eq(gba_slot_read(gba_env.state, &slot, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(slot.btid, res.btid);
	cr_assert_eq(slot.expiry, res.lifetime);
	cr_assert_str_eq(slot.impi, IMPI);
	cr_assert_str_eq(slot.naf, NAF);
	/* Km in the gba slot is Ks_NAF: the TPM's HMAC equals software HMAC under Zn's key. */
	cr_assert_eq(gba_slot_load_key(gba_env.t, gba_env.state, &key), 0, "%s", tpm_last_error(gba_env.t));
	cr_assert_eq(tpm_key_hmac(key, msg, sizeof(msg), got), 0);
	cr_assert_eq(crypto_hmac_sha256(zn.me_key, 32, msg, sizeof(msg), want), 0);
	cr_assert_arr_eq(got, want, 32);
	tpm_key_free(key);
	/* The psk Km is untouched. */
	cr_assert_eq(harness_read_file(p, &psk_pub2, &n2), 0);
	cr_assert(n1 == n2 && memcmp(psk_pub, psk_pub2, n1) == 0, "the psk km.pub changed");
	secret_wipe(&zn, sizeof(zn));
	free(p), free(psk_pub), free(psk_pub2);
}

Test(gba, wrong_k_is_a_mac_failure_with_a_clear_message, .init = gba_fx_setup, .fini = gba_fx_teardown,
     .timeout = 180)
{
	struct gba_ub_http h = { .bsf_url = gba_env.url, .bsf_ca = gba_env.ca };
	struct gba_ub_result res;
	uint8_t wrong[16];
	char err[512] = "";

	memcpy(wrong, gba_env.k, 16);
	wrong[0] ^= 0x01;
	secrets_note(wrong, 16, "wrong K");
	gba_fx_node_usim(wrong, 0);
	cr_assert_eq(gba_ub_bootstrap(&h, IMPI, gba_env.usim, NAF, &res, err, sizeof(err)),
		     -EKEYREJECTED);
	cr_assert_str_eq(err, "the BSF's challenge does not verify at the USIM (MAC failure): the "
			      "USIM's K or OPc differs from the BSF's subscriber record for " IMPI
			      ", or 127.0.0.1 is not its home BSF");
}

Test(gba, stale_sqn_resynchronises_once_then_succeeds, .init = gba_fx_setup, .fini = gba_fx_teardown,
     .timeout = 180)
{
	struct gba_ub_result res;
	char *log;

	gba_fx_node_usim(gba_env.k, 5000); /* the USIM is ahead of the BSF's SQN (0) */
	gba_fx_bootstrap_ok(&res);
	log = fixture_read_text(gba_env.log);
	cr_assert_not_null(strstr(log, "SQN of " IMPI " resynchronised"), "no resync in %s", log);
	free(log);
	gba_ub_result_wipe(&res);
}

Test(gba, bsf_signed_by_another_ca_is_refused, .init = gba_fx_setup, .fini = gba_fx_teardown, .timeout = 180)
{
	char *other = harness_strdupf("%s/pki/other-ca.crt", gba_env.dir), err[512] = "";
	struct gba_ub_http h = { .bsf_url = gba_env.url, .bsf_ca = other };
	struct gba_ub_result res;

	gba_fx_node_usim(gba_env.k, 0);
	cr_assert_eq(gba_ub_bootstrap(&h, IMPI, gba_env.usim, NAF, &res, err, sizeof(err)), -EPERM,
		     "%s", err);
	cr_assert_not_null(strstr(err, "bsf_ca"), "%s", err);
	free(other);
}

struct boot_run {
	bool done;
	int r;
	char err[512];
	struct gba_ub_result res;
	unsigned ticks_before_done;
	unsigned ticks;
};

static void on_done(int r, struct gba_ub_result *res, const char *err, void *userdata)
{
	struct boot_run *b = userdata;

	b->done = true;
	b->r = r;
	b->ticks_before_done = b->ticks;
	snprintf(b->err, sizeof(b->err), "%s", err ? err : "");
	if (res)
		b->res = *res;
}

static void on_tick(struct loop_watch *w, bool clock_set, void *userdata)
{
	((struct boot_run *)userdata)->ticks++;
}

static void run_boot(const char *url, long timeout_ms, struct boot_run *b)
{
	struct loop *l = NULL;
	struct loop_watch *tick = NULL;
	struct gba_boot *g = NULL;
	struct gba_boot_params p = {
		.bsf_url = url, .bsf_ca = gba_env.ca, .timeout_ms = timeout_ms, .naf_fqdn = NAF,
	};
	char err[512] = "";

	memset(b, 0, sizeof(*b));
	cr_assert_eq(loop_new(&l), 0);
	cr_assert_eq(loop_add_timer(l, CLOCK_MONOTONIC, on_tick, b, &tick), 0);
	cr_assert_eq(loop_timer_set(tick, 20, 20, 0), 0);
	cr_assert_eq(gba_boot_start(l, &p, gba_env.usim, on_done, b, &g, err, sizeof(err)), 0, "%s",
		     err);
	while (!b->done)
		cr_assert_geq(loop_iterate(l, 1000), 0);
	gba_boot_free(g);
	loop_free(l);
}

Test(gba, bootstrap_on_the_loop_gives_the_zn_key, .init = gba_fx_setup, .fini = gba_fx_teardown,
     .timeout = 180)
{
	struct boot_run b;
	struct gba_zn_response zn;

	gba_fx_node_usim(gba_env.k, 0);
	run_boot(gba_env.url, 10000, &b);
	cr_assert_eq(b.r, 0, "%s", b.err);
	gba_fx_note_key(b.res.ks_naf, 32, "Ks_NAF");
	zn_curl(b.res.btid, &zn);
	cr_assert_arr_eq(zn.me_key, b.res.ks_naf, 32);
	secret_wipe(&zn, sizeof(zn));
	secret_wipe(&b, sizeof(b));
}

Test(gba, silent_bsf_does_not_stall_the_loop, .init = gba_fx_setup, .fini = gba_fx_teardown, .timeout = 180)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	struct boot_run b;
	struct timespec t0, t1;
	char *url;
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	long ms;

	/* Accepts TCP (the kernel's backlog) and never says a word. */
	cr_assert_geq(s, 0);
	cr_assert_eq(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(listen(s, 8), 0);
	cr_assert_eq(getsockname(s, (struct sockaddr *)&a, &alen), 0);
	url = harness_strdupf("https://127.0.0.1:%u/", ntohs(a.sin_port));
	gba_fx_node_usim(gba_env.k, 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	run_boot(url, 1500, &b);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	cr_assert_eq(b.r, -ETIMEDOUT, "%d %s", b.r, b.err);
	cr_assert_geq(ms, 1400);
	/* The loop's 20 ms timer kept firing while the GET hung: ~70 ticks in 1.5 s. */
	cr_assert_geq(b.ticks_before_done, 40, "only %u ticks in %ld ms: the loop was blocked",
		      b.ticks_before_done, ms);
	close(s);
	free(url);
}

struct zn_run {
	bool done;
	int r;
	char err[512];
	struct zn_key key;
	unsigned ticks, ticks_at_done;
};

static void zn_done(int r, const struct zn_key *key, const char *err, void *userdata)
{
	struct zn_run *z = userdata;

	z->done = true;
	z->r = r;
	z->ticks_at_done = z->ticks;
	snprintf(z->err, sizeof(z->err), "%s", err ? err : "");
	if (key)
		z->key = *key;
}

static void zn_tick(struct loop_watch *w, bool clock_set, void *userdata)
{
	((struct zn_run *)userdata)->ticks++;
}

/* The MAS's Zn client on a loop, against url, for btid. */
static void run_zn(const char *url, const char *btid, long timeout_ms, struct zn_run *z)
{
	char *crt = harness_strdupf("%s/pki/naf.crt", gba_env.dir), *key = harness_strdupf("%s/pki/naf.key", gba_env.dir);
	struct zn_http_conf conf = { .bsf_url = url, .bsf_ca = gba_env.ca, .cert = crt, .key = key,
				     .naf_fqdn = NAF, .timeout_ms = timeout_ms };
	struct zn_client *c = NULL;
	struct zn_request *req = NULL;
	struct loop *l = NULL;
	struct loop_watch *tick = NULL;
	char err[512] = "";

	memset(z, 0, sizeof(*z));
	cr_assert_eq(loop_new(&l), 0);
	cr_assert_eq(loop_add_timer(l, CLOCK_MONOTONIC, zn_tick, z, &tick), 0);
	cr_assert_eq(loop_timer_set(tick, 20, 20, 0), 0);
	cr_assert_eq(zn_http_new(l, &conf, &c), 0);
	cr_assert_eq(zn_fetch(c, btid, zn_done, z, &req, err, sizeof(err)), 0, "%s", err);
	while (!z->done)
		cr_assert_geq(loop_iterate(l, 1000), 0);
	zn_client_free(c);
	loop_free(l);
	free(crt), free(key);
}

Test(gba, mas_zn_client_gets_the_nodes_ks_naf_and_impi, .init = gba_fx_setup, .fini = gba_fx_teardown,
     .timeout = 180)
{
	struct gba_ub_result res;
	struct zn_run z;
	char *url = harness_strdupf("https://127.0.0.1:%u/", gba_env.zn);

	gba_fx_node_usim(gba_env.k, 0);
	gba_fx_bootstrap_ok(&res);
	run_zn(url, res.btid, 5000, &z);
	cr_assert_eq(z.r, 0, "%s", z.err);
	cr_assert_arr_eq(z.key.ks_naf, res.ks_naf, 32, "Zn Ks_NAF differs from the node's");
	cr_assert_str_eq(z.key.impi, IMPI);
	cr_assert_eq(z.key.expiry, res.lifetime);
	/* A B-TID the BSF never issued. */
	run_zn(url, "AAAAAAAAAAAAAAAAAAAAAA==@" DOMAIN, 5000, &z);
	cr_assert_eq(z.r, -ENOENT, "%d %s", z.r, z.err);
	cr_assert_not_null(strstr(z.err, "does not know B-TID"), "%s", z.err);
	secret_wipe(&z, sizeof(z));
	gba_ub_result_wipe(&res);
	free(url);
}

Test(gba, mas_zn_client_does_not_stall_on_a_silent_bsf, .init = gba_fx_setup, .fini = gba_fx_teardown,
     .timeout = 180)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	struct zn_run z;
	char *url;
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(s, 0);
	cr_assert_eq(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(listen(s, 8), 0);
	cr_assert_eq(getsockname(s, (struct sockaddr *)&a, &alen), 0);
	url = harness_strdupf("https://127.0.0.1:%u", ntohs(a.sin_port));
	run_zn(url, "AAAAAAAAAAAAAAAAAAAAAA==@" DOMAIN, 1500, &z);
	cr_assert_eq(z.r, -ETIMEDOUT, "%d %s", z.r, z.err);
	cr_assert_geq(z.ticks_at_done, 40, "only %u ticks: the loop was blocked", z.ticks_at_done);
	close(s);
	free(url);
}

/* ---- end to end with m2masd as the NAF ---- */

Test(gba, establishment_with_ks_naf_keys_equal_on_node_and_mas, .init = gba_fx_setup, .fini = gba_fx_teardown,
     .timeout = 240)
{
	static const uint8_t gba[] = { WIRE_METHOD_GBA };
	char *zn_url = harness_strdupf("https://127.0.0.1:%u", gba_env.zn), *log;
	struct mas_fixture m;
	struct gba_slot slot;
	struct tpm_key *key = NULL;
	struct kdf_prf prf;
	struct establish_result res = { 0 }, res2 = { 0 };
	struct m2msa_err eerr;
	struct wire_msg got;
	int r;

	gba_fx_bootstrap_into_slot(&slot);
	gba_fx_start_mas(&m, zn_url, IMPI, 5);
	cr_assert_eq(gba_slot_load_key(gba_env.t, gba_env.state, &key), 0, "%s", tpm_last_error(gba_env.t));
	tpm_key_prf(key, &prf);
	r = gba_fx_node_establish(&m, NODE_ID, gba, 1, slot.btid, &prf, (uint64_t)slot.expiry, NULL, &res,
			   &eerr);
	cr_assert_eq(r, 0, "gba establishment: %d %s", r, eerr.msg);
	cr_assert_eq(res.method, WIRE_METHOD_GBA);
	gba_fx_note_key(res.kc->data, 32, "Kc (gba)");
	cr_assert_leq(res.expiry, (uint64_t)slot.expiry, "Kc outlives Ks_NAF");
	/* The target gets the same Kc from the MAS: retrieval by the node's key ID. */
	cr_assert_eq(fixture_retrieve(&m, "target", res.key_id, &got), 0);
	cr_assert_eq(got.type, WIRE_MSG_KEY_RESPONSE, "retrieval: %s", got.error.reason);
	cr_assert_arr_eq(got.key_response.key, res.kc->data, 32, "node and MAS Kc differ");
	cr_assert_str_eq(got.key_response.node_id, NODE_ID);
	cr_assert_leq(got.key_response.expiry, (uint64_t)slot.expiry, "MAS Kc outlives Ks_NAF");
	wire_msg_wipe(&got);
	/* A second establishment: Ks_NAF from m2masd's cache, no second Zn request. */
	r = gba_fx_node_establish(&m, NODE_ID, gba, 1, slot.btid, &prf, (uint64_t)slot.expiry, NULL, &res2,
			   &eerr);
	cr_assert_eq(r, 0, "second gba establishment: %d %s", r, eerr.msg);
	gba_fx_note_key(res2.kc->data, 32, "Kc (gba, second)");
	log = mas_fixture_read_log(&m);
	cr_assert_not_null(strstr(log, "fetching Ks_NAF for B-TID"), "%s", log);
	cr_assert_null(strstr(strstr(log, "fetching Ks_NAF for B-TID") + 1,
			      "fetching Ks_NAF for B-TID"),
		       "m2masd asked Zn twice for one B-TID");
	free(log);
	establish_result_clear(&res);
	establish_result_clear(&res2);
	tpm_key_free(key);
	mas_fixture_fini(&m);
	free(zn_url);
}

/* A B-TID of another IMPI and an unknown B-TID: test-gba-mas.c (answered as decoys). */

struct stuck_gba {
	const struct mas_fixture *m;
	int r;
	struct m2msa_err eerr;
};

static void *stuck_gba_node(void *arg)
{
	static const uint8_t gba[] = { WIRE_METHOD_GBA };
	struct stuck_gba *g = arg;
	struct kdf_sw_key sw = { .key = gba_fx_psk_km, .len = 32 };
	struct kdf_prf prf;
	struct establish_result res = { 0 };

	kdf_prf_software(&sw, &prf);
	g->r = gba_fx_node_establish(g->m, NODE_ID, gba, 1, "AAAAAAAAAAAAAAAAAAAAAA==@" DOMAIN, &prf, 0,
			      NULL, &res, &g->eerr);
	establish_result_clear(&res);
	return NULL;
}

Test(gba, silent_bsf_on_zn_does_not_hold_up_other_nodes, .init = gba_fx_setup, .fini = gba_fx_teardown,
     .timeout = 240)
{
	static const uint8_t psk[] = { WIRE_METHOD_PSK };
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	struct kdf_sw_key sw = { .key = gba_fx_psk_km, .len = 32 };
	struct mas_fixture m;
	struct kdf_prf prf;
	struct establish_result res = { 0 };
	struct m2msa_err eerr;
	struct stuck_gba g = { 0 };
	struct timespec t0, t1;
	pthread_t th;
	char *url;
	long ms;
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(s, 0);
	cr_assert_eq(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(listen(s, 8), 0);
	cr_assert_eq(getsockname(s, (struct sockaddr *)&a, &alen), 0);
	url = harness_strdupf("https://127.0.0.1:%u", ntohs(a.sin_port));
	gba_fx_start_mas(&m, url, IMPI, 4);
	g.m = &m;
	cr_assert_eq(pthread_create(&th, NULL, stuck_gba_node, &g), 0);
	fixture_wait_log_count(m.log, "fetching Ks_NAF for B-TID", 1, 200, 20);
	/* While m2masd waits for the BSF, a psk node establishes at once (version 1 HELLO). */
	kdf_prf_software(&sw, &prf);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_assert_eq(gba_fx_node_establish(&m, "/mn-psk", psk, 1, NULL, NULL, 0, &prf, &res, &eerr), 0,
		     "%s", eerr.msg);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	cr_assert_lt(ms, 2000, "the psk node waited %ld ms behind the silent BSF", ms);
	establish_result_clear(&res);
	cr_assert_eq(pthread_join(th, NULL), 0);
	cr_assert_lt(g.r, 0);
	cr_assert_eq(g.eerr.wire_code, WIRE_ERR_INTERNAL, "%u %s", g.eerr.wire_code, g.eerr.msg);
	mas_fixture_fini(&m);
	close(s);
	free(url);
}

/* ---- the agent m2msad with method gba ---- */

Test(gba, agent_bootstraps_and_establishes_with_gba, .init = gba_fx_setup, .fini = gba_fx_teardown,
     .timeout = 240)
{
	char *zn_url = harness_strdupf("https://127.0.0.1:%u", gba_env.zn), *log_path = NULL, *log;
	struct mas_fixture m;
	struct agent_status st;
	struct wire_msg got;
	pid_t agent;

	gba_fx_start_mas(&m, zn_url, IMPI, 5);
	gba_fx_agent_usim(&m);
	agent = gba_fx_start_agent(&m, "gba", gba_env.url, &log_path);
	cr_assert_eq(gba_fx_wait_established(&m, 30000, &st), 0, "m2msad did not establish (see %s)",
		     log_path);
	log = fixture_read_text(log_path);
	cr_assert_not_null(strstr(log, "GBA bootstrap done: B-TID "), "%s", log);
	cr_assert_not_null(strstr(log, "(gba, TLS13-AES128-GCM-SHA256)"), "%s", log);
	free(log);
	cr_assert_eq(fixture_retrieve(&m, "target", st.key_id, &got), 0);
	cr_assert_eq(got.type, WIRE_MSG_KEY_RESPONSE, "%s", got.error.reason);
	cr_assert_str_eq(got.key_response.node_id, NODE_ID);
	cr_assert_leq(got.key_response.expiry, (uint64_t)time(NULL) + 3600);
	gba_fx_note_key(got.key_response.key, 32, "Kc (agent gba)");
	wire_msg_wipe(&got);
	harness_kill_wait(&agent, SIGTERM);
	mas_fixture_fini(&m);
	free(zn_url), free(log_path);
}

Test(gba, bsf_down_backs_off_and_psk_is_still_offered, .init = gba_fx_setup, .fini = gba_fx_teardown,
     .timeout = 240)
{
	char *zn_url = harness_strdupf("https://127.0.0.1:%u", gba_env.zn), *log_path = NULL, *log;
	char *state;
	struct mas_fixture m;
	struct agent_status st;
	uint16_t dead;
	pid_t agent;

	gba_fx_start_mas(&m, zn_url, IMPI, 5);
	state = harness_strdupf("%s/node", m.dir);
	fixture_provision_km(harness_swtpm_tcti(gba_env.tpm), state, NODE_ID, "km-1@" FIXTURE_FQDN,
			     gba_fx_psk_km);
	free(state);
	gba_fx_agent_usim(&m);
	cr_assert_eq(harness_free_port(1, &dead), 0);
	free(gba_env.url);
	gba_env.url = harness_strdupf("https://127.0.0.1:%u/", dead); /* nothing listens */
	agent = gba_fx_start_agent(&m, "gba,psk", gba_env.url, &log_path);
	cr_assert_eq(gba_fx_wait_established(&m, 30000, &st), 0, "m2msad did not establish (see %s)",
		     log_path);
	fixture_wait_log_count(log_path, "GBA bootstrap with", 2, 200, 50);
	log = fixture_read_text(log_path);
	cr_assert_not_null(strstr(log, "(psk, TLS13-AES128-GCM-SHA256)"), "%s", log);
	cr_assert_not_null(strstr(log, "other methods are still offered"), "%s", log);
	cr_assert_null(strstr(log, "(gba, "), "%s", log);
	free(log);
	harness_kill_wait(&agent, SIGTERM);
	mas_fixture_fini(&m);
	free(zn_url), free(log_path);
}

static void setup_short_ks(void)
{
	gba_fx_bsf_lifetime = 14;
	gba_fx_setup();
}

Test(gba, short_ks_lifetime_rebootstraps_without_a_gap, .init = setup_short_ks,
     .fini = gba_fx_teardown, .timeout = 240)
{
	char *zn_url = harness_strdupf("https://127.0.0.1:%u", gba_env.zn), *log_path = NULL, *log;
	char *status = NULL;
	struct mas_fixture m;
	struct agent_status st;
	pid_t agent;
	unsigned samples = 0;

	gba_fx_start_mas(&m, zn_url, IMPI, 5);
	gba_fx_agent_usim(&m);
	agent = gba_fx_start_agent(&m, "gba", gba_env.url, &log_path);
	cr_assert_eq(gba_fx_wait_established(&m, 30000, &st), 0, "see %s", log_path);
	status = harness_strdupf("%s/status.json", m.dir);
	/* 30 s = two Ks lifetimes: a valid key at every sample, the bootstrap renewed. */
	for (int i = 0; i < 300; i++, samples++) {
		uint64_t now = (uint64_t)time(NULL);

		cr_assert_eq(agent_status_read(status, &st), 0);
		cr_assert((st.key_id[0] && st.expiry > now) ||
			  (st.next_key_id[0] && st.next_expiry > now),
			  "no valid key at sample %u (state %s; see %s)", samples, st.state,
			  log_path);
		usleep(100 * 1000);
	}
	log = fixture_read_text(log_path);
	cr_assert_geq(gba_fx_count(log, "GBA bootstrap done: B-TID "), 2, "no renewal in %s", log_path);
	cr_assert_null(strstr(log, "expired without a successor"), "a gap: %s", log_path);
	free(log);
	harness_kill_wait(&agent, SIGTERM);
	mas_fixture_fini(&m);
	free(zn_url), free(log_path), free(status);
}

Test(gba, m2msactl_establish_bootstraps_then_establishes, .init = gba_fx_setup, .fini = gba_fx_teardown,
     .timeout = 240)
{
	char *zn_url = harness_strdupf("https://127.0.0.1:%u", gba_env.zn);
	char *conf, *bin = harness_strdupf("%s/m2msactl/m2msactl", fixture_builddir());
	char *out = NULL, *err = NULL;
	const char *argv[] = { bin, "establish", "--config", NULL, "--json", NULL };
	struct mas_fixture m;
	struct wire_msg got;
	char key_id[WIRE_KEY_ID_MAX + 1] = "";
	const char *p;
	int status = -1;

	gba_fx_start_mas(&m, zn_url, IMPI, 5);
	gba_fx_agent_usim(&m);
	conf = gba_fx_write_agent_conf(&m, "gba", gba_env.url);
	argv[3] = conf;
	cr_assert_eq(harness_run(argv, NULL, NULL, &status, &out, &err), 0);
	cr_assert_eq(status, 0, "m2msactl establish: %s %s", out, err);
	cr_assert_not_null(strstr(err, "bootstrapped with "), "%s", err);
	cr_assert_not_null(strstr(out, "\"method\":\"gba\""), "%s", out);
	p = strstr(out, "\"key_id\":\"");
	cr_assert_not_null(p);
	sscanf(p + 10, "%255[^\"]", key_id);
	cr_assert_eq(fixture_retrieve(&m, "target", key_id, &got), 0);
	cr_assert_eq(got.type, WIRE_MSG_KEY_RESPONSE, "%s", got.error.reason);
	gba_fx_note_key(got.key_response.key, 32, "Kc (m2msactl gba)");
	wire_msg_wipe(&got);
	free(out), free(err);
	mas_fixture_fini(&m);
	free(zn_url), free(conf), free(bin);
}
