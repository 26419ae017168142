/* SPDX-License-Identifier: Apache-2.0 */
/*
 * m2msa-bsf end to end: the real daemon on free loopback ports with the test PKI
 * (mkcerts.sh: bsf.crt for Ub/Zn, naf.crt as the MAS's Zn client certificate),
 * subscribers added with the real m2msa-bsfctl, and a test-side node: software
 * Milenage as the USIM (common/aka.h aka_usim_run) and libcurl as the HTTP client.
 * Covers: a full Ub run (B-TID, lifetime), Zn giving the Ks_NAF the node computed,
 * a wrong RES, AUTS resynchronisation, a replayed nonce, an unknown B-TID, Zn
 * without a client certificate, rate limiting of failures and of challenges; and after every test, that K, OPc,
 * RES, CK, IK, Ks and Ks_NAF appear nowhere in the BSF's log (secrets.h).
 */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common/aka.h"
#include "common/secret.h"
#include "bsf-fixture.h"
#include "fixture.h"
#include "gba/base64.h"
#include "gba/bootstrap-info.h"
#include "gba/digest.h"
#include "gba/ks-naf.h"
#include "gba/zn-json.h"
#include "harness.h"
#include "secrets.h"

#define IMPI "node1@ims.test"
#define DOMAIN BSF_FIXTURE_DOMAIN
#define LIFETIME 3600

struct bsf_env {
	char *dir, *conf, *log, *ports;
	pid_t pid;
	uint16_t ub, zn;
	/* The subscriber's USIM: TS 35.208 test set 1 K and OPc. */
	uint8_t k[16], opc[16];
	uint64_t sqn_highest;
	/* Every RES seen, for the log scan (secrets_note() wants 16 bytes or more). */
	uint8_t res[16][MILENAGE_RES_LEN];
	size_t n_res;
};

static struct bsf_env T;

struct http_reply {
	long status;
	char www[GBA_HEADER_MAX];
	char ainfo[GBA_HEADER_MAX];
	char ctype[128];
	char body[16384];
	size_t len;
};

static size_t on_header(char *b, size_t size, size_t n, void *userdata)
{
	struct http_reply *r = userdata;
	size_t len = size * n;
	char line[GBA_HEADER_MAX];

	if (len >= sizeof(line))
		return len;
	memcpy(line, b, len);
	line[len] = '\0';
	line[strcspn(line, "\r\n")] = '\0';
	if (strncasecmp(line, "WWW-Authenticate: ", 18) == 0)
		snprintf(r->www, sizeof(r->www), "%s", line + 18);
	if (strncasecmp(line, "Authentication-Info: ", 21) == 0)
		snprintf(r->ainfo, sizeof(r->ainfo), "%s", line + 21);
	if (strncasecmp(line, "Content-Type: ", 14) == 0)
		snprintf(r->ctype, sizeof(r->ctype), "%s", line + 14);
	return len;
}

static size_t on_body(char *b, size_t size, size_t n, void *userdata)
{
	struct http_reply *r = userdata;
	size_t len = size * n;

	if (r->len + len >= sizeof(r->body))
		return 0;
	memcpy(r->body + r->len, b, len);
	r->len += len;
	r->body[r->len] = '\0';
	return len;
}

/* One HTTPS request to bsf.test:port; json: POST it; cert: pki/<cert>.crt/.key or NULL. */
static void http(uint16_t port, const char *path, const char *authz, const char *json,
		 const char *cert, struct http_reply *ret)
{
	CURL *c = curl_easy_init();
	struct curl_slist *hdrs = NULL, *resolve = NULL;
	char *url = harness_strdupf("https://" DOMAIN ":%u%s", port, path);
	char *res = harness_strdupf(DOMAIN ":%u:127.0.0.1", port);
	char *ca = harness_strdupf("%s/pki/ca.crt", T.dir);
	char *crt = cert ? harness_strdupf("%s/pki/%s.crt", T.dir, cert) : NULL;
	char *key = cert ? harness_strdupf("%s/pki/%s.key", T.dir, cert) : NULL;
	char *ah = authz ? harness_strdupf("Authorization: %s", authz) : NULL;
	CURLcode rc;

	cr_assert_not_null(c);
	memset(ret, 0, sizeof(*ret));
	resolve = curl_slist_append(resolve, res);
	if (ah)
		hdrs = curl_slist_append(hdrs, ah);
	if (json) {
		hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, json);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_RESOLVE, resolve);
	curl_easy_setopt(c, CURLOPT_CAINFO, ca);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, ret);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, ret);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L); /* slow under valgrind or sanitizers */
	if (cert) {
		curl_easy_setopt(c, CURLOPT_SSLCERT, crt);
		curl_easy_setopt(c, CURLOPT_SSLKEY, key);
	}
	rc = curl_easy_perform(c);
	cr_assert_eq(rc, CURLE_OK, "HTTPS to %s failed: %s", url, curl_easy_strerror(rc));
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &ret->status);
	curl_easy_cleanup(c);
	curl_slist_free_all(hdrs);
	curl_slist_free_all(resolve);
	free(url), free(res), free(ca), free(crt), free(key), free(ah);
}

/* The BSF with one subscriber (IMPI); extra: more "key = value\n" lines for [bsf]. */
static void start_bsf(const char *extra)
{
	const char *list[] = { "subscriber", "list", NULL };
	char *out = NULL, khex[33];

	memset(&T, 0, sizeof(T));
	if (!harness_have_program("openssl"))
		cr_skip_test("openssl is not installed (apt install openssl)");
	cr_assert_eq(harness_tmpdir(&T.dir), 0);
	fixture_make_certs(T.dir);
	T.conf = harness_strdupf("%s/m2msa-bsf.conf", T.dir);
	T.log = harness_strdupf("%s/bsf.log", T.dir);
	T.ports = harness_strdupf("%s/bsf.ports", T.dir);
	memcpy(T.k, bsf_fixture_k, 16);
	memcpy(T.opc, bsf_fixture_opc, 16);
	bsf_fixture_provision(T.dir, T.conf, LIFETIME, extra, IMPI);
	bsf_fixture_ctl(T.conf, list, &out);
	cr_assert(strstr(out, IMPI " ") && strstr(out, "sqn=0 amf=8000"), "list: %s", out);
	for (int i = 0; i < 16; i++)
		snprintf(khex + 2 * i, 3, "%02x", T.k[i]);
	cr_assert_null(strstr(out, khex), "subscriber list printed K");
	free(out);
	T.pid = bsf_fixture_start(T.conf, T.log, T.ports, &T.ub, &T.zn);
}

static void hex_of(const uint8_t *b, size_t n, bool upper, char *out)
{
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, upper ? "%02X" : "%02x", b[i]);
}

static void stop_bsf(void)
{
	char *log = NULL;
	size_t len = 0;

	harness_kill_wait(&T.pid, SIGTERM);
	if (T.dir && harness_read_file(T.log, &log, &len) == 0) {
		for (size_t i = 0; i < T.n_res; i++) {
			char lo[17], up[17];

			hex_of(T.res[i], MILENAGE_RES_LEN, false, lo);
			hex_of(T.res[i], MILENAGE_RES_LEN, true, up);
			if (strstr(log, lo) || strstr(log, up) ||
			    memmem(log, len, T.res[i], MILENAGE_RES_LEN)) {
				fprintf(stderr, "test-bsf: a RES appears in %s\n", T.log);
				abort();
			}
		}
		free(log);
	}
	if (T.dir) {
		secrets_assert_logs_clean(T.dir, NULL, NULL);
		if (!getenv("KEEP_TEST_DIR"))
			harness_rmtree(T.dir);
	}
	free(T.dir), free(T.conf), free(T.log), free(T.ports);
	memset(&T, 0, sizeof(T));
}

/* What the node's USIM made of a challenge. */
struct node_run {
	struct gba_challenge ch;
	uint8_t rand[16];
	struct aka_usim_out out;
};

/* Run the USIM on the challenge in www (TS 33.102 §6.3.3, software Milenage). */
static void usim(const char *www, struct node_run *ret)
{
	_cleanup_milenage_cipher_ struct milenage_cipher cipher = { 0 };
	uint8_t autn[16];

	memset(ret, 0, sizeof(*ret));
	cr_assert_eq(gba_challenge_parse(www, strlen(www), &ret->ch), 0, "challenge: %s", www);
	cr_assert_str_eq(ret->ch.realm, DOMAIN);
	cr_assert_str_eq(ret->ch.algorithm, GBA_ALGORITHM);
	cr_assert_str_eq(ret->ch.qop, "auth-int");
	cr_assert_eq(gba_nonce_decode(ret->ch.nonce, ret->rand, autn), 0);
	cr_assert_eq(milenage_cipher_software_new(T.k, &cipher), 0);
	cr_assert_eq(aka_usim_run(&cipher, T.opc, ret->rand, autn, T.sqn_highest,
				  AKA_SQN_WINDOW_DEFAULT, &ret->out),
		     0);
	if (ret->out.result == AKA_RESULT_OK) {
		T.sqn_highest = ret->out.sqn;
		cr_assert_lt(T.n_res, 16);
		memcpy(T.res[T.n_res++], ret->out.res, MILENAGE_RES_LEN);
		secrets_note(ret->out.ck, 16, "CK");
		secrets_note(ret->out.ik, 16, "IK");
	}
}

/* The Authorization answer to the run's challenge: RES as password, or auts. */
static void answer(const struct node_run *n, const uint8_t *pw, size_t pw_len, const char *auts,
		   char out[static GBA_HEADER_MAX])
{
	struct gba_authorization a = { 0 };
	struct gba_digest_input in = {
		.username = IMPI,
		.realm = n->ch.realm,
		.password = pw,
		.password_len = pw_len,
		.method = "GET",
		.uri = "/",
		.nonce = n->ch.nonce,
		.nc = "00000001",
		.cnonce = "0a4f113b",
		.qop = "auth-int",
	};

	strcpy(a.username, IMPI);
	strcpy(a.realm, n->ch.realm);
	strcpy(a.nonce, n->ch.nonce);
	strcpy(a.uri, "/");
	strcpy(a.algorithm, GBA_ALGORITHM);
	strcpy(a.cnonce, in.cnonce);
	strcpy(a.qop, "auth-int");
	strcpy(a.nc, in.nc);
	if (auts)
		strcpy(a.auts, auts);
	cr_assert_eq(gba_digest_response(&in, a.response), 0);
	cr_assert_eq(gba_authorization_format(&a, out, GBA_HEADER_MAX), 0);
}

static const char first_request[] = "Digest username=\"" IMPI "\", realm=\"" DOMAIN
				    "\", nonce=\"\", uri=\"/\", response=\"\"";

/* The first GET: a 401 with a challenge the USIM accepts. */
static void challenge(struct node_run *n)
{
	struct http_reply r;

	http(T.ub, "/", first_request, NULL, NULL, &r);
	cr_assert_eq(r.status, 401, "first GET: %ld %s", r.status, r.body);
	usim(r.www, n);
}

/* The BSF proves it knows RES too: rspauth over the 200 OK's body (RFC 2617 §3.2.3). */
static void check_rspauth(const struct node_run *n, const struct http_reply *r)
{
	struct gba_auth_info ai;
	char want[GBA_DIGEST_HEX_LEN + 1];
	struct gba_digest_input in = {
		.username = IMPI,
		.realm = n->ch.realm,
		.password = n->out.res,
		.password_len = MILENAGE_RES_LEN,
		.method = "",
		.uri = "/",
		.nonce = n->ch.nonce,
		.nc = "00000001",
		.cnonce = "0a4f113b",
		.qop = "auth-int",
		.body = (const uint8_t *)r->body,
		.body_len = r->len,
	};

	cr_assert(r->ainfo[0], "200 OK without Authentication-Info");
	cr_assert_eq(gba_auth_info_parse(r->ainfo, strlen(r->ainfo), &ai), 0, "%s", r->ainfo);
	cr_assert_eq(gba_digest_response(&in, want), 0);
	cr_assert(gba_digest_equal(ai.rspauth, want), "rspauth does not verify: %s", r->ainfo);
	cr_assert_str_eq(ai.qop, "auth-int");
	cr_assert_str_eq(ai.cnonce, "0a4f113b");
}

/* A full Ub run: ret gets the BootstrappingInfo, n the USIM's run. */
static void bootstrap(struct node_run *n, struct gba_bootstrap_info *ret)
{
	char authz[GBA_HEADER_MAX];
	struct http_reply r;

	challenge(n);
	cr_assert_eq(n->out.result, AKA_RESULT_OK);
	answer(n, n->out.res, MILENAGE_RES_LEN, NULL, authz);
	http(T.ub, "/", authz, NULL, NULL, &r);
	cr_assert_eq(r.status, 200, "answer: %ld %s", r.status, r.body);
	cr_assert_str_eq(r.ctype, GBA_BSF_XML_TYPE);
	cr_assert_eq(gba_bootstrap_info_parse(r.body, r.len, ret), 0, "body: %s", r.body);
	check_rspauth(n, &r);
}

static void zn(const char *btid, const char *naf, const char *cert, struct http_reply *r)
{
	struct gba_zn_request req = { 0 };
	char *json = NULL;

	snprintf(req.btid, sizeof(req.btid), "%s", btid);
	snprintf(req.naf_fqdn, sizeof(req.naf_fqdn), "%s", naf);
	memcpy(req.ua_id, gba_ua_tls13_psk, 5);
	cr_assert_eq(gba_zn_request_format(&req, &json), 0);
	http(T.zn, GBA_ZN_PATH, NULL, json, cert, r);
	free(json);
}

Test(bsf, ub_bootstrap_then_zn_gives_the_same_ks_naf, .fini = stop_bsf, .timeout = 120)
{
	struct node_run n;
	struct gba_bootstrap_info info;
	struct gba_zn_response resp;
	struct http_reply r;
	char b64[25], want_btid[64];
	uint8_t ks[32], ks_naf[32];
	time_t before = time(NULL);

	start_bsf(NULL);
	bootstrap(&n, &info);
	/* B-TID = base64(RAND)@domain; lifetime = now + [bsf] lifetime. */
	cr_assert_eq(gba_base64_encode(n.rand, 16, b64, sizeof(b64)), 0);
	snprintf(want_btid, sizeof(want_btid), "%s@" DOMAIN, b64);
	cr_assert_str_eq(info.btid, want_btid);
	cr_assert_geq(info.lifetime, (int64_t)before + LIFETIME);
	cr_assert_leq(info.lifetime, (int64_t)time(NULL) + LIFETIME);
	memcpy(ks, n.out.ck, 16);
	memcpy(ks + 16, n.out.ik, 16);
	secrets_note(ks, 32, "Ks");
	cr_assert_eq(gba_ks_naf_ck_ik(n.out.ck, n.out.ik, n.rand, IMPI, "mas.test",
				      gba_ua_tls13_psk, ks_naf),
		     0);
	secrets_note(ks_naf, 32, "Ks_NAF");

	zn(info.btid, "mas.test", "naf", &r);
	cr_assert_eq(r.status, 200, "Zn: %ld %s", r.status, r.body);
	cr_assert_eq(gba_zn_response_parse(r.body, r.len, &resp), 0, "Zn body: %s", r.body);
	cr_assert_arr_eq(resp.me_key, ks_naf, 32, "Zn Ks_NAF differs from the node's");
	cr_assert_eq(resp.expiry, info.lifetime);
	cr_assert_str_eq(resp.impi, IMPI);
	fixture_wait_log_count(T.log, "bootstrapped from 127.0.0.1: B-TID", 1, 40, 25);
	secret_wipe(&resp, sizeof(resp));
	secret_wipe(ks, sizeof(ks));
	aka_usim_out_wipe(&n.out);
}

Test(bsf, wrong_res_gets_a_new_challenge_and_a_clear_log_line, .fini = stop_bsf, .timeout = 120)
{
	struct node_run n, n2;
	struct gba_bootstrap_info info;
	char authz[GBA_HEADER_MAX];
	uint8_t bad[MILENAGE_RES_LEN];
	struct http_reply r;

	start_bsf(NULL);
	challenge(&n);
	memcpy(bad, n.out.res, sizeof(bad));
	bad[0] ^= 1;
	answer(&n, bad, sizeof(bad), NULL, authz);
	http(T.ub, "/", authz, NULL, NULL, &r);
	cr_assert_eq(r.status, 401, "wrong RES: %ld %s", r.status, r.body);
	cr_assert(r.www[0], "no new challenge after a wrong RES");
	cr_assert_null(strstr(r.www, n.ch.nonce), "the same nonce again");
	fixture_wait_log_count(T.log, "wrong answer from " IMPI " (127.0.0.1)", 1, 40, 25);
	/* The node can still bootstrap afterwards. */
	bootstrap(&n2, &info);
	aka_usim_out_wipe(&n.out);
	aka_usim_out_wipe(&n2.out);
}

Test(bsf, auts_resynchronises_sqn_then_succeeds, .fini = stop_bsf, .timeout = 120)
{
	struct node_run n, n2;
	char authz[GBA_HEADER_MAX], auts[GBA_AUTS_TEXT_LEN + 1];
	struct http_reply r;

	start_bsf(NULL);
	T.sqn_highest = 5000; /* the USIM is ahead of the BSF's SQN (0) */
	challenge(&n);
	cr_assert_eq(n.out.result, AKA_RESULT_SYNC_FAILURE);
	cr_assert_eq(gba_auts_encode(n.out.auts, auts), 0);
	answer(&n, (const uint8_t *)"", 0, auts, authz);
	http(T.ub, "/", authz, NULL, NULL, &r);
	cr_assert_eq(r.status, 401, "auts answer: %ld %s", r.status, r.body);
	fixture_wait_log_count(T.log, "SQN of " IMPI " resynchronised", 1, 40, 25);
	usim(r.www, &n2);
	cr_assert_eq(n2.out.result, AKA_RESULT_OK, "after resync: %s",
		     aka_result_to_string(n2.out.result));
	cr_assert_eq(n2.out.sqn, 5001);
	answer(&n2, n2.out.res, MILENAGE_RES_LEN, NULL, authz);
	http(T.ub, "/", authz, NULL, NULL, &r);
	cr_assert_eq(r.status, 200, "after resync: %ld %s", r.status, r.body);
	aka_usim_out_wipe(&n2.out);
}

Test(bsf, auts_with_a_bad_mac_leaves_sqn_alone, .fini = stop_bsf, .timeout = 120)
{
	struct node_run n;
	char authz[GBA_HEADER_MAX], auts[GBA_AUTS_TEXT_LEN + 1];
	struct http_reply r;

	start_bsf(NULL);
	T.sqn_highest = 5000;
	challenge(&n);
	cr_assert_eq(n.out.result, AKA_RESULT_SYNC_FAILURE);
	n.out.auts[13] ^= 1; /* MAC-S */
	cr_assert_eq(gba_auts_encode(n.out.auts, auts), 0);
	answer(&n, (const uint8_t *)"", 0, auts, authz);
	http(T.ub, "/", authz, NULL, NULL, &r);
	cr_assert_eq(r.status, 401);
	fixture_wait_log_count(T.log, "does not verify (MAC-S): SQN unchanged", 1, 40, 25);
	/* SQN stayed behind the USIM: the next challenge is still a sync failure. */
	usim(r.www, &n);
	cr_assert_eq(n.out.result, AKA_RESULT_SYNC_FAILURE);
}

Test(bsf, replayed_nonce_is_refused, .fini = stop_bsf, .timeout = 120)
{
	struct node_run n;
	char authz[GBA_HEADER_MAX];
	struct http_reply r;

	start_bsf(NULL);
	challenge(&n);
	answer(&n, n.out.res, MILENAGE_RES_LEN, NULL, authz);
	http(T.ub, "/", authz, NULL, NULL, &r);
	cr_assert_eq(r.status, 200);
	/* The very same answer again: the nonce was consumed. */
	http(T.ub, "/", authz, NULL, NULL, &r);
	cr_assert_eq(r.status, 401, "replay: %ld %s", r.status, r.body);
	cr_assert_null(strstr(r.body, "BootstrappingInfo"));
	fixture_wait_log_count(T.log, "unknown or already used", 1, 40, 25);
	aka_usim_out_wipe(&n.out);
}

Test(bsf, zn_unknown_btid_is_404, .fini = stop_bsf, .timeout = 120)
{
	struct gba_problem p;
	struct http_reply r;

	start_bsf(NULL);
	zn("I1U8vpY3qJ0hiuZNrke/NQ==@" DOMAIN, "mas.test", "naf", &r);
	cr_assert_eq(r.status, 404, "%ld %s", r.status, r.body);
	cr_assert_str_eq(r.ctype, "application/problem+json");
	cr_assert_eq(gba_problem_parse(r.body, r.len, &p), 0);
	cr_assert_eq(p.status, 404);
}

Test(bsf, zn_needs_the_naf_client_certificate, .fini = stop_bsf, .timeout = 120)
{
	struct node_run n;
	struct gba_bootstrap_info info;
	struct http_reply r;

	start_bsf(NULL);
	bootstrap(&n, &info);
	zn(info.btid, "mas.test", NULL, &r);
	cr_assert_eq(r.status, 403, "no client certificate: %ld %s", r.status, r.body);
	cr_assert_null(strstr(r.body, "meKeyMaterial"));
	/* A certificate from the CA, but not naming the NAF asked for (and not for client auth). */
	zn(info.btid, "other.test", "naf", &r);
	cr_assert_eq(r.status, 403, "wrong NAF: %ld %s", r.status, r.body);
	zn(info.btid, "mas.test", "target", &r);
	cr_assert_eq(r.status, 403, "certificate without the NAF name: %ld %s", r.status, r.body);
	fixture_wait_log_count(T.log, "Zn: refused", 3, 40, 25);
	aka_usim_out_wipe(&n.out);
}

Test(bsf, failed_answers_are_rate_limited, .fini = stop_bsf, .timeout = 120)
{
	struct node_run n;
	char authz[GBA_HEADER_MAX];
	uint8_t bad[MILENAGE_RES_LEN] = { 0 };
	struct http_reply r;

	start_bsf("max_failures = 2\nfailure_window = 1h\n");
	challenge(&n);
	for (int i = 0; i < 2; i++) {
		answer(&n, bad, sizeof(bad), NULL, authz);
		http(T.ub, "/", authz, NULL, NULL, &r);
		cr_assert_eq(r.status, 401);
		usim(r.www, &n);
	}
	http(T.ub, "/", first_request, NULL, NULL, &r);
	cr_assert_eq(r.status, 429, "after 2 failures: %ld %s", r.status, r.body);
	fixture_wait_log_count(T.log, "is rate limited", 1, 40, 25);
}

Test(bsf, challenge_floods_are_limited, .fini = stop_bsf, .timeout = 120)
{
	struct http_reply r;

	start_bsf("max_challenges = 3\n");
	for (int i = 0; i < 3; i++) {
		http(T.ub, "/", first_request, NULL, NULL, &r);
		cr_assert_eq(r.status, 401, "challenge %d: %ld %s", i + 1, r.status, r.body);
	}
	http(T.ub, "/", first_request, NULL, NULL, &r);
	cr_assert_eq(r.status, 429, "fourth challenge in a minute: %ld %s", r.status, r.body);
	fixture_wait_log_count(T.log, "too many challenges for address 127.0.0.1", 1, 40, 25);
}
