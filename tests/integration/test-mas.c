/* SPDX-License-Identifier: Apache-2.0 */
/*
 * m2masd end to end: the real daemon on 127.0.0.1 (fork/exec of BUILDDIR/mas/m2masd),
 * a software node written here (common/tls.h + wire + sa + a software PRF over Km)
 * and targets with real client certificates from tests/integration/mkcerts.sh.
 * Every exchange is real TLS 1.3 over real sockets.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/crypto.h"
#include "common/frame.h"
#include "common/kdf.h"
#include "common/sa.h"
#include "common/secret.h"
#include "common/tls.h"
#include "fixture.h"
#include "harness.h"
#include "pg-fixture.h"
#include "mas/store.h"

#define NODE "/mn-cse-1"
#define NODE_B "/mn-cse-2"
#define TARGET FIXTURE_TARGET
#define FQDN FIXTURE_FQDN
#define MAX_FAILURES 3

struct fixture {
	struct mas_fixture mas;
	uint8_t km[32];
};

static struct fixture fx;

static char *path(const char *name)
{
	return mas_fixture_path(&fx.mas, name);
}

static struct store *open_store(void)
{
	return mas_fixture_store(&fx.mas);
}

static void add_node(const char *node_id, const uint8_t km[32], const uint8_t *methods,
		     size_t n_methods, uint64_t lifetime)
{
	mas_fixture_add_node(&fx.mas, node_id, km, methods, n_methods, lifetime);
}

static const uint8_t psk_only[] = { WIRE_METHOD_PSK };

static void write_conf(const char *extra)
{
	char *text = harness_strdupf("handshake_timeout = 1s\nidle_timeout = 5s\n"
				     "max_failures = %d\nfailure_window = 60s\n%s",
				     MAX_FAILURES, extra ? extra : "");

	mas_fixture_write_conf(&fx.mas, text);
	free(text);
}

/* Start m2masd; opt/val: one more option and its value, or NULL. */
static void start_mas_with(const char *opt, const char *val)
{
	mas_fixture_start(&fx.mas, opt, val);
}

static void start_mas(void)
{
	start_mas_with(NULL, NULL);
}

static void setup(void)
{
	memset(&fx, 0, sizeof(fx));
	mas_fixture_init(&fx.mas);
	cr_assert_eq(crypto_random(fx.km, sizeof(fx.km)), 0);
	add_node(NODE, fx.km, psk_only, 1, 0);
	write_conf(NULL);
}

static void stop_mas(void)
{
	mas_fixture_stop(&fx.mas);
}

static void teardown(void)
{
	mas_fixture_fini(&fx.mas);
	secret_wipe(&fx, sizeof(fx));
}

static void start(void)
{
	setup();
	start_mas();
}

TestSuite(mas, .init = start, .fini = teardown, .timeout = 60);

/* ---- a software node and a software target ---- */

/* A blocking TCP connection to 127.0.0.1:port from source address src (NULL: any). */
static int connect_from(const char *src, uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	if (src) {
		struct sockaddr_in from = { .sin_family = AF_INET };

		cr_assert_eq(inet_pton(AF_INET, src, &from.sin_addr), 1);
		cr_assert_eq(bind(fd, (struct sockaddr *)&from, sizeof(from)), 0, "bind %s: %s", src,
			     strerror(errno));
	}
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "connect: %s",
		     strerror(errno));
	cr_assert_eq(frame_set_timeouts(fd, 5000), 0);
	(void)tcp_set_nodelay(fd);
	return fd;
}

struct tls_conn {
	WOLFSSL_CTX *ctx;
	WOLFSSL *ssl;
	int fd;
};

/* TLS to the MAS as a node (no client cert) or as a target (cert pki/<cert>.crt). */
static void tls_open(const char *src, uint16_t port, const char *cert, struct tls_conn *ret)
{
	char err[TLS_ERR_MAX] = "", *ca = path("pki/ca.crt"), *crt = NULL, *key = NULL;
	int r;

	if (cert) {
		crt = harness_strdupf("%s/pki/%s.crt", fx.mas.dir, cert);
		key = harness_strdupf("%s/pki/%s.key", fx.mas.dir, cert);
	}
	ret->ctx = tls_client_ctx_new(ca, crt, key, err, sizeof(err));
	cr_assert_not_null(ret->ctx, "%s", err);
	ret->fd = connect_from(src, port);
	ret->ssl = tls_client_new(ret->ctx, ret->fd, FQDN, err, sizeof(err));
	cr_assert_not_null(ret->ssl, "%s", err);
	r = wolfSSL_connect(ret->ssl);
	cr_assert_eq(r, WOLFSSL_SUCCESS, "TLS handshake with m2masd failed (wolfSSL %d)",
		     wolfSSL_get_error(ret->ssl, r));
	free(ca);
	free(crt);
	free(key);
}

static void tls_close(struct tls_conn *c)
{
	wolfSSL_shutdown(c->ssl);
	wolfSSL_free(c->ssl);
	wolfSSL_CTX_free(c->ctx);
	close(c->fd);
}

struct node_in {
	const char *node_id;
	const uint8_t *km;
	const uint8_t *methods; /* NULL: psk */
	size_t n_methods;
	const char *src;            /* source address; NULL: any */
	const uint8_t *nn;          /* NULL: random */
	const uint8_t *proof;       /* NULL: computed; else sent as is (replay) */
};

struct node_out {
	uint32_t code; /* 0: established, else the MAS's error code */
	char reason[WIRE_REASON_MAX + 1];
	struct wire_established est;
	bool mas_proof_ok;
	uint8_t kc[32], ae_root[32], nn[32], proof[32];
};

static void node_run(const struct node_in *in, struct node_out *out)
{
	_cleanup_key32_ struct key32 expected = { 0 };
	struct kdf_sw_key sw = { in->km, 32 };
	struct wire_msg m = { .type = WIRE_MSG_HELLO }, r;
	char err[TLS_ERR_MAX] = "";
	struct sa_binding b;
	struct tls_conn c;
	struct kdf_prf prf;
	uint8_t nm[32];

	memset(out, 0, sizeof(*out));
	kdf_prf_software(&sw, &prf);
	tls_open(in->src, fx.mas.est_port, NULL, &c);

	snprintf(m.hello.node_id, sizeof(m.hello.node_id), "%s", in->node_id);
	m.hello.n_methods = in->methods ? in->n_methods : 1;
	memcpy(m.hello.methods, in->methods ? in->methods : psk_only, m.hello.n_methods);
	if (in->nn)
		memcpy(m.hello.nonce, in->nn, 32);
	else
		cr_assert_eq(crypto_random(m.hello.nonce, 32), 0);
	memcpy(out->nn, m.hello.nonce, 32);
	cr_assert_eq(frame_send(c.ssl, &m, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(frame_recv(c.ssl, &r, err, sizeof(err)), 0, "HELLO: %s", err);
	if (r.type == WIRE_MSG_ERROR) {
		out->code = r.error.code;
		snprintf(out->reason, sizeof(out->reason), "%s", r.error.reason);
		goto done;
	}
	cr_assert_eq(r.type, WIRE_MSG_CHALLENGE, "expected CHALLENGE, got %d", r.type);
	cr_assert_eq(r.challenge.method, WIRE_METHOD_PSK);
	memcpy(nm, r.challenge.nonce, 32);

	cr_assert_eq(sa_binding_from_tls(c.ssl, &b), 0);
	memset(&m, 0, sizeof(m));
	m.type = WIRE_MSG_PROOF;
	if (in->proof)
		memcpy(m.proof.proof, in->proof, 32);
	else
		cr_assert_eq(sa_proof(&prf, SA_PROOF_NODE, &b, out->nn, nm, in->node_id,
				      m.proof.proof),
			     0);
	memcpy(out->proof, m.proof.proof, 32);
	cr_assert_eq(frame_send(c.ssl, &m, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(frame_recv(c.ssl, &r, err, sizeof(err)), 0, "PROOF: %s", err);
	if (r.type == WIRE_MSG_ERROR) {
		out->code = r.error.code;
		snprintf(out->reason, sizeof(out->reason), "%s", r.error.reason);
		goto done;
	}
	cr_assert_eq(r.type, WIRE_MSG_ESTABLISHED, "expected ESTABLISHED, got %d", r.type);
	out->est = r.established;
	cr_assert_eq(sa_proof(&prf, SA_PROOF_MAS, &b, out->nn, nm, in->node_id, expected.b), 0);
	out->mas_proof_ok = secret_equal(expected.b, r.established.proof, 32);
	cr_assert_eq(sa_kc(&prf, &b, out->nn, nm, out->kc), 0);
	cr_assert_eq(sa_ae_root(&prf, &b, out->nn, nm, out->ae_root), 0);
	sa_binding_wipe(&b);
done:
	wire_msg_wipe(&r);
	tls_close(&c);
}

static void node_simple(const char *node_id, const uint8_t *km, struct node_out *out)
{
	struct node_in in = { .node_id = node_id, .km = km };

	node_run(&in, out);
}

/* Ask for key_id as the holder of pki/<cert>.crt; returns 0 or the MAS's error code. */
static uint32_t target_get(const char *cert, const char *key_id, struct wire_key_response *ret,
			   char *reason, size_t reason_len)
{
	struct wire_msg m = { .type = WIRE_MSG_KEY_REQUEST }, r;
	char err[TLS_ERR_MAX] = "";
	struct tls_conn c;
	uint32_t code = 0;

	tls_open(NULL, fx.mas.ret_port, cert, &c);
	snprintf(m.key_request.key_id, sizeof(m.key_request.key_id), "%s", key_id);
	cr_assert_eq(frame_send(c.ssl, &m, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(frame_recv(c.ssl, &r, err, sizeof(err)), 0, "KEY_REQUEST: %s", err);
	if (r.type == WIRE_MSG_ERROR) {
		code = r.error.code;
		if (reason)
			snprintf(reason, reason_len, "%s", r.error.reason);
	} else {
		cr_assert_eq(r.type, WIRE_MSG_KEY_RESPONSE);
		*ret = r.key_response;
	}
	wire_msg_wipe(&r);
	tls_close(&c);
	return code;
}

static size_t n_assocs(void)
{
	return mas_fixture_count_assocs(&fx.mas);
}

static char *read_log(void)
{
	return mas_fixture_read_log(&fx.mas);
}

/* No log line may carry key bytes, in hex of either case. */
static void assert_not_in_log(const uint8_t key[32])
{
	char hex[65], *log = read_log();

	for (size_t i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", key[i]);
	cr_assert_null(strcasestr(log, hex), "key bytes appear in the m2masd log");
	secret_wipe(hex, sizeof(hex));
	free(log);
}

static void assert_log_has(const char *needle)
{
	char *log = read_log();

	cr_assert_not_null(strstr(log, needle), "'%s' is not in the m2masd log:\n%s", needle, log);
	free(log);
}

/* ---- establishment ---- */

Test(mas, establish_and_retrieve)
{
	struct wire_key_response kr = { 0 };
	struct node_out out;
	char ae_kid[WIRE_KEY_ID_MAX + 1], parsed_ae[WIRE_ID_MAX + 1], parsed_fqdn[WIRE_KEY_ID_MAX + 1];
	uint8_t kcid[SA_KCID_LEN], ae_key[32];
	uint64_t now = (uint64_t)time(NULL);
	regex_t re;

	node_simple(NODE, fx.km, &out);
	cr_assert_eq(out.code, 0, "MAS refused: %s", out.reason);
	cr_assert(out.mas_proof_ok, "the MAS proof did not verify");
	cr_assert_eq(regcomp(&re, "^[0-9a-f]{32}@mas\\.test$", REG_EXTENDED | REG_NOSUB), 0);
	cr_assert_eq(regexec(&re, out.est.key_id, 0, NULL, 0), 0, "bad key ID %s", out.est.key_id);
	regfree(&re);
	cr_assert_eq(out.est.method, WIRE_METHOD_PSK);
	cr_assert_str_eq(out.est.suite, SA_SUITE_PSK);
	cr_assert(out.est.expiry >= now + 3600 && out.est.expiry <= now + 3600 + 5,
		  "expiry %lu is not now + 1h", (unsigned long)out.est.expiry);
	cr_assert_eq(n_assocs(), 1);

	cr_assert_eq(target_get("target", out.est.key_id, &kr, NULL, 0), 0);
	cr_assert_arr_eq(kr.key, out.kc, 32, "retrieved key differs from the node's Kc");
	cr_assert_eq(kr.expiry, out.est.expiry);
	cr_assert_str_eq(kr.node_id, NODE);
	cr_assert_str_eq(kr.ae_id, "");
	cr_assert_eq(kr.suid, 32);

	/* A per-AE key ID gives KDF(AE root, "m2msa AE key", AE-ID), not Kc. */
	cr_assert_eq(sa_key_id_parse(out.est.key_id, kcid, parsed_ae, parsed_fqdn), 0);
	cr_assert_eq(sa_key_id_format(kcid, "Cae-1", FQDN, ae_kid, sizeof(ae_kid)), 0);
	cr_assert_eq(target_get("target", ae_kid, &kr, NULL, 0), 0);
	cr_assert_eq(sa_ae_key(out.ae_root, "Cae-1", ae_key), 0);
	cr_assert_arr_eq(kr.key, ae_key, 32, "per-AE key differs");
	cr_assert_str_eq(kr.ae_id, "Cae-1");
	cr_assert_arr_neq(kr.key, out.kc, 32);

	assert_log_has("established ");
	assert_not_in_log(out.kc);
	assert_not_in_log(out.ae_root);
	assert_not_in_log(ae_key);
	assert_not_in_log(fx.km);
	secret_wipe(&kr, sizeof(kr));
	secret_wipe(&out, sizeof(out));
}

Test(mas, two_establishments_give_distinct_keys)
{
	struct node_out a, b;

	node_simple(NODE, fx.km, &a);
	node_simple(NODE, fx.km, &b);
	cr_assert_eq(a.code, 0, "%s", a.reason);
	cr_assert_eq(b.code, 0, "%s", b.reason);
	cr_assert_str_neq(a.est.key_id, b.est.key_id);
	cr_assert_arr_neq(a.kc, b.kc, 32);
	cr_assert_eq(n_assocs(), 2);
}

Test(mas, wrong_km_is_auth_failed_and_stores_nothing)
{
	struct node_out out;
	uint8_t wrong[32];

	memcpy(wrong, fx.km, 32);
	wrong[31] ^= 0x80;
	node_simple(NODE, wrong, &out);
	cr_assert_eq(out.code, WIRE_ERR_AUTH_FAILED, "got %u: %s", out.code, out.reason);
	cr_assert_eq(n_assocs(), 0);
	assert_log_has("proof of node " NODE " from 127.0.0.1:");
	assert_not_in_log(fx.km);
}

/*
 * Issue #16, 5 (behaviour change): an unauthenticated peer gets the same answers for
 * an unknown, a revoked and a method-mismatched node as for a registered node with a
 * wrong key (CHALLENGE, then auth-failed); the MAS log has the detail.
 */
static void assert_like_a_wrong_key(const char *node_id, const uint8_t *methods, size_t n,
				    const char *log_detail)
{
	struct node_in in = { .node_id = node_id, .km = fx.km, .methods = methods,
			      .n_methods = n };
	struct node_out out;

	node_run(&in, &out);
	cr_assert_eq(out.code, WIRE_ERR_AUTH_FAILED, "%s: got %u: %s", node_id, out.code,
		     out.reason);
	cr_assert_str_eq(out.reason, "proof did not verify");
	cr_assert_eq(n_assocs(), 0);
	assert_log_has(log_detail);
}

Test(mas, unknown_node_is_answered_like_a_wrong_key)
{
	struct node_in in = { .node_id = NODE };
	struct node_out wrong;
	uint8_t other[32];

	assert_like_a_wrong_key("/mn-cse-nobody", NULL, 0, "unknown node /mn-cse-nobody from 127.0.0.1:");
	/* The same as a registered node with a wrong key. */
	cr_assert_eq(crypto_random(other, sizeof(other)), 0);
	in.km = other;
	node_run(&in, &wrong);
	cr_assert_eq(wrong.code, WIRE_ERR_AUTH_FAILED);
	cr_assert_str_eq(wrong.reason, "proof did not verify");
}

Test(mas, revoked_node_is_answered_like_a_wrong_key)
{
	struct store *s = open_store();

	cr_assert_eq(store_node_revoke(s, NODE), 0);
	store_close(s);
	assert_like_a_wrong_key(NODE, NULL, 0, "revoked node /mn-cse-1 from 127.0.0.1:");
}

Test(mas, no_common_method_is_answered_like_a_wrong_key)
{
	static const uint8_t pki_psk[] = { WIRE_METHOD_PKI, WIRE_METHOD_PSK };
	static const uint8_t pki[] = { WIRE_METHOD_PKI };
	struct node_in in = { .node_id = NODE_B, .km = fx.km, .methods = pki, .n_methods = 1 };
	struct node_out out;

	/* NODE_B may use pki only, which this MAS (no node_ca) does not implement ... */
	add_node(NODE_B, fx.km, pki, 1, 0);
	assert_like_a_wrong_key(NODE_B, pki_psk, 2,
				"no method for node /mn-cse-2 from 127.0.0.1:");
	/* ... and an offer of only unimplemented methods gets an answer about the MAS alone. */
	node_run(&in, &out);
	cr_assert_eq(out.code, WIRE_ERR_NO_METHOD, "got %u: %s", out.code, out.reason);
	cr_assert_str_eq(out.reason, "method pki not supported by this MAS yet");
	in.node_id = "/mn-cse-nobody";
	node_run(&in, &out);
	cr_assert_eq(out.code, WIRE_ERR_NO_METHOD, "got %u: %s", out.code, out.reason);
	cr_assert_str_eq(out.reason, "method pki not supported by this MAS yet");
}

Test(mas, pki_is_not_implemented_yet)
{
	static const uint8_t pki[] = { WIRE_METHOD_PKI };
	static const uint8_t pki_psk[] = { WIRE_METHOD_PKI, WIRE_METHOD_PSK };
	struct node_in in = { .node_id = NODE_B, .km = fx.km, .methods = pki, .n_methods = 1 };
	struct node_out out;

	add_node(NODE_B, fx.km, pki_psk, 2, 0);
	node_run(&in, &out);
	cr_assert_eq(out.code, WIRE_ERR_NO_METHOD, "got %u: %s", out.code, out.reason);
	cr_assert_str_eq(out.reason, "method pki not supported by this MAS yet");
	/* Offering pki first and psk second falls back to psk, which works. */
	in.methods = pki_psk;
	in.n_methods = 2;
	node_run(&in, &out);
	cr_assert_eq(out.code, 0, "got %u: %s", out.code, out.reason);
	cr_assert_eq(out.est.method, WIRE_METHOD_PSK);
}

Test(mas, replayed_proof_in_another_session_fails)
{
	struct node_in in = { .node_id = NODE, .km = fx.km };
	struct node_out first, replay;

	node_run(&in, &first);
	cr_assert_eq(first.code, 0, "%s", first.reason);
	/* Same Nn, the proof of session 1: the MAS's fresh Nm and the new channel differ. */
	in.nn = first.nn;
	in.proof = first.proof;
	node_run(&in, &replay);
	cr_assert_eq(replay.code, WIRE_ERR_AUTH_FAILED, "got %u: %s", replay.code, replay.reason);
	cr_assert_eq(n_assocs(), 1);
}

/* ---- retrieval ---- */

Test(mas, other_target_is_not_authorised)
{
	struct wire_key_response kr;
	struct node_out out;
	char reason[WIRE_REASON_MAX + 1] = "";

	node_simple(NODE, fx.km, &out);
	cr_assert_eq(out.code, 0, "%s", out.reason);
	cr_assert_eq(target_get("other-target", out.est.key_id, &kr, reason, sizeof(reason)),
		     WIRE_ERR_NOT_AUTHORISED, "%s", reason);
	assert_log_has("target /other-cse at 127.0.0.1:");
	assert_log_has(out.est.key_id);
}

Test(mas, unknown_and_foreign_keys)
{
	struct wire_key_response kr;
	struct node_out out;
	uint8_t kcid[SA_KCID_LEN];
	char kid[WIRE_KEY_ID_MAX + 1], ae[WIRE_ID_MAX + 1], fqdn[WIRE_KEY_ID_MAX + 1];

	cr_assert_eq(crypto_random(kcid, sizeof(kcid)), 0);
	cr_assert_eq(sa_key_id_format(kcid, NULL, FQDN, kid, sizeof(kid)), 0);
	cr_assert_eq(target_get("target", kid, &kr, NULL, 0), WIRE_ERR_UNKNOWN_KEY);
	/* A real association asked for under another MAS's FQDN. */
	node_simple(NODE, fx.km, &out);
	cr_assert_eq(out.code, 0, "%s", out.reason);
	cr_assert_eq(sa_key_id_parse(out.est.key_id, kcid, ae, fqdn), 0);
	cr_assert_eq(sa_key_id_format(kcid, NULL, "other.test", kid, sizeof(kid)), 0);
	cr_assert_eq(target_get("target", kid, &kr, NULL, 0), WIRE_ERR_UNKNOWN_KEY);
}

Test(mas, expired_association)
{
	struct wire_key_response kr;
	struct node_out out;
	struct store *s = open_store();

	cr_assert_eq(store_node_set_lifetime(s, NODE, 1), 0);
	store_close(s);
	node_simple(NODE, fx.km, &out);
	cr_assert_eq(out.code, 0, "%s", out.reason);
	cr_assert_leq(out.est.expiry, (uint64_t)time(NULL) + 1);
	sleep(2);
	cr_assert_eq(target_get("target", out.est.key_id, &kr, NULL, 0), WIRE_ERR_EXPIRED);
}

Test(mas, revoked_association)
{
	struct wire_key_response kr;
	struct node_out out;
	uint8_t kcid[SA_KCID_LEN];
	char ae[WIRE_ID_MAX + 1], fqdn[WIRE_KEY_ID_MAX + 1];
	struct store *s;

	node_simple(NODE, fx.km, &out);
	cr_assert_eq(out.code, 0, "%s", out.reason);
	cr_assert_eq(target_get("target", out.est.key_id, &kr, NULL, 0), 0);
	cr_assert_eq(sa_key_id_parse(out.est.key_id, kcid, ae, fqdn), 0);
	s = open_store();
	cr_assert_eq(store_assoc_revoke(s, kcid), 0);
	store_close(s);
	cr_assert_eq(target_get("target", out.est.key_id, &kr, NULL, 0), WIRE_ERR_REVOKED);
	secret_wipe(&kr, sizeof(kr));
}

/* ---- bad input, slow peers ---- */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Read and discard from fd; true when the peer closed (EOF or reset) within timeout_ms. */
static bool closed_within(int fd, int timeout_ms)
{
	uint64_t end = now_ms() + (uint64_t)timeout_ms;
	uint8_t buf[512];

	for (;;) {
		uint64_t now = now_ms();
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (now >= end || poll(&p, 1, (int)(end - now)) <= 0)
			return false;
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			return true;
	}
}

/* Send raw bytes inside TLS and read the MAS's answer; expects ERROR code, then close. */
static void expect_error_after(const uint8_t *bytes, size_t len, uint32_t code)
{
	char err[TLS_ERR_MAX] = "";
	struct tls_conn c;
	struct wire_msg r;
	uint8_t one;
	int n;

	tls_open(NULL, fx.mas.est_port, NULL, &c);
	cr_assert_eq(wolfSSL_write(c.ssl, bytes, (int)len), (int)len);
	cr_assert_eq(frame_recv(c.ssl, &r, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(r.type, WIRE_MSG_ERROR);
	cr_assert_eq(r.error.code, code, "got %u: %s", r.error.code, r.error.reason);
	n = wolfSSL_read(c.ssl, &one, 1);
	cr_assert_leq(n, 0, "the MAS kept talking after its ERROR");
	tls_close(&c);
}

Test(mas, malformed_frame_is_refused)
{
	static const uint8_t garbage[] = { 0, 0, 0, 6, 0xff, 0x00, 0x13, 0x37, 0x42, 0x99 };

	expect_error_after(garbage, sizeof(garbage), WIRE_ERR_MALFORMED);
}

Test(mas, oversize_prefix_is_refused_at_once)
{
	/* Only the prefix: the MAS must not wait for 1 MiB that never comes. */
	static const uint8_t big[] = { 0, 0x10, 0, 0 };

	expect_error_after(big, sizeof(big), WIRE_ERR_MALFORMED);
}

Test(mas, oversize_prefix_with_more_data_behind_still_gets_its_error)
{
	/* The MAS stops reading after the prefix; its reply must survive the unread rest. */
	static uint8_t flood[4 + 12000];

	memset(flood, 0x5a, sizeof(flood));
	flood[0] = 0x7f;
	expect_error_after(flood, sizeof(flood), WIRE_ERR_MALFORMED);
}

Test(mas, other_version_is_refused)
{
	/* {0: 1 (HELLO), 1: 5 (version 5, past what this MAS speaks)}: two uint pairs. */
	static const uint8_t v5[] = { 0, 0, 0, 5, 0xa2, 0x00, 0x01, 0x01, 0x05 };
	/* Versions 2 to 4 are spoken: the same map is then merely incomplete. */
	static const uint8_t v4[] = { 0, 0, 0, 5, 0xa2, 0x00, 0x01, 0x01, 0x04 };

	expect_error_after(v5, sizeof(v5), WIRE_ERR_VERSION);
	expect_error_after(v4, sizeof(v4), WIRE_ERR_MALFORMED);
}

Test(mas, proof_before_hello_is_refused)
{
	struct wire_msg m = { .type = WIRE_MSG_PROOF };
	uint8_t buf[64];
	size_t len;

	cr_assert_eq(wire_encode(&m, buf, sizeof(buf), &len), 0);
	expect_error_after(buf, len, WIRE_ERR_MALFORMED);
}

Test(mas, broken_peers_do_not_disturb_a_good_node)
{
	static const char http[] = "GET / HTTP/1.0\r\n\r\n";
	/* The first bytes of a TLS ClientHello record announcing 512 bytes, then silence. */
	static const uint8_t half_hello[] = { 0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc,
					      0x03, 0x03 };
	struct node_out out;
	int garbage = connect_from(NULL, fx.mas.est_port);
	int half = connect_from(NULL, fx.mas.est_port);
	int early_close = connect_from(NULL, fx.mas.est_port);

	cr_assert_eq(send(garbage, http, sizeof(http) - 1, 0), (ssize_t)(sizeof(http) - 1));
	cr_assert_eq(send(half, half_hello, sizeof(half_hello), 0), (ssize_t)sizeof(half_hello));
	cr_assert_eq(send(early_close, half_hello, sizeof(half_hello), 0),
		     (ssize_t)sizeof(half_hello));
	close(early_close);

	node_simple(NODE, fx.km, &out);
	cr_assert_eq(out.code, 0, "%s", out.reason);
	cr_assert(closed_within(garbage, 2000), "the MAS kept the garbage connection open");
	cr_assert(closed_within(half, 4000), "the MAS kept the half handshake open");
	close(garbage);
	close(half);

	/* And the MAS still serves. */
	node_simple(NODE, fx.km, &out);
	cr_assert_eq(out.code, 0, "%s", out.reason);
}

Test(mas, silent_client_does_not_stall_others)
{
	struct node_out out;
	int silent[8];
	struct timespec t0, t1;

	for (size_t i = 0; i < 8; i++)
		silent[i] = connect_from(NULL, i % 2 ? fx.mas.ret_port : fx.mas.est_port);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	node_simple(NODE, fx.km, &out);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	cr_assert_eq(out.code, 0, "%s", out.reason);
	/* Well under the 1 s handshake timeout: it did not wait for the silent ones. */
	cr_assert_lt((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000, 800,
		     "the good node waited for the silent ones");
	/* handshake_timeout = 1s in the test configuration: it bounds the first-byte wait too. */
	for (size_t i = 0; i < 8; i++) {
		cr_assert(closed_within(silent[i], 4000), "silent connection %zu not closed", i);
		close(silent[i]);
	}
	assert_log_has("it sent nothing within 1000 ms");
}

/* Many nodes at once, their messages interleaved: the loop serves them all. */
Test(mas, interleaved_nodes_all_establish)
{
	enum { N = 24 };
	struct kdf_sw_key sw = { fx.km, 32 };
	struct tls_conn c[N];
	struct wire_msg m, r;
	struct sa_binding b;
	struct kdf_prf prf;
	uint8_t nn[N][32], nm[N][32];
	char err[TLS_ERR_MAX] = "";

	kdf_prf_software(&sw, &prf);
	for (int i = 0; i < N; i++)
		tls_open(NULL, fx.mas.est_port, NULL, &c[i]);
	for (int i = 0; i < N; i++) {
		memset(&m, 0, sizeof(m));
		m.type = WIRE_MSG_HELLO;
		snprintf(m.hello.node_id, sizeof(m.hello.node_id), "%s", NODE);
		m.hello.n_methods = 1;
		m.hello.methods[0] = WIRE_METHOD_PSK;
		cr_assert_eq(crypto_random(nn[i], 32), 0);
		memcpy(m.hello.nonce, nn[i], 32);
		cr_assert_eq(frame_send(c[i].ssl, &m, err, sizeof(err)), 0, "%s", err);
	}
	/* Answer the challenges in reverse order. */
	for (int i = N - 1; i >= 0; i--) {
		cr_assert_eq(frame_recv(c[i].ssl, &r, err, sizeof(err)), 0, "%s", err);
		cr_assert_eq(r.type, WIRE_MSG_CHALLENGE);
		memcpy(nm[i], r.challenge.nonce, 32);
		cr_assert_eq(sa_binding_from_tls(c[i].ssl, &b), 0);
		memset(&m, 0, sizeof(m));
		m.type = WIRE_MSG_PROOF;
		cr_assert_eq(sa_proof(&prf, SA_PROOF_NODE, &b, nn[i], nm[i], NODE, m.proof.proof), 0);
		cr_assert_eq(frame_send(c[i].ssl, &m, err, sizeof(err)), 0, "%s", err);
	}
	for (int i = 0; i < N; i++) {
		cr_assert_eq(frame_recv(c[i].ssl, &r, err, sizeof(err)), 0, "%s", err);
		cr_assert_eq(r.type, WIRE_MSG_ESTABLISHED, "node %d: type %d", i, r.type);
		tls_close(&c[i]);
	}
	cr_assert_eq(n_assocs(), N);
}

Test(mas, connections_over_the_cap_are_closed)
{
	struct node_out out;
	struct wire_key_response kr;
	char reason[WIRE_REASON_MAX + 1];
	int held[3], extra;

	/* 4 in all: 2 for the retrieval port (half at most), 2 for establishment. */
	stop_mas();
	start_mas_with("--max-connections", "4");
	node_simple(NODE, fx.km, &out);
	cr_assert_eq(out.code, 0, "%s", out.reason);
	/* Its connection may end on another worker than the one that accepts the next. */
	usleep(200 * 1000);
	for (size_t i = 0; i < 2; i++)
		held[i] = connect_from(NULL, fx.mas.est_port);
	usleep(100 * 1000);
	/* The third on the establishment port is accepted and closed at once ... */
	extra = connect_from(NULL, fx.mas.est_port);
	cr_assert(closed_within(extra, 500), "the connection over the cap stayed open");
	close(extra);
	assert_log_has("connections open (the maximum)");
	/* ... while the retrieval port still serves: its share is its own. */
	cr_assert_eq(target_get("target", out.est.key_id, &kr, reason, sizeof(reason)), 0, "%s",
		     reason);
	secret_wipe(&kr, sizeof(kr));
	held[2] = connect_from(NULL, fx.mas.ret_port);
	/* Once the held ones are gone, the MAS serves again. */
	for (size_t i = 0; i < 3; i++)
		close(held[i]);
	usleep(100 * 1000);
	node_simple(NODE, fx.km, &out);
	cr_assert_eq(out.code, 0, "%s", out.reason);
}

/* ---- rate limiting ---- */

/*
 * Behaviour changed with issue #16: failures are counted per (node, address) and
 * per address and never refuse a valid proof; over the limit a wrong proof is
 * answered rate-limited instead of auth-failed.
 */
Test(mas, rate_limit_answers_wrong_proofs_and_lets_valid_ones_through)
{
	struct node_in in = { .node_id = NODE, .km = fx.km };
	struct node_out out;
	uint8_t wrong[32];

	memcpy(wrong, fx.km, 32);
	wrong[0] ^= 1;
	add_node(NODE_B, fx.km, psk_only, 1, 0);
	in.km = wrong;
	for (int i = 0; i < MAX_FAILURES - 1; i++) {
		node_run(&in, &out);
		cr_assert_eq(out.code, WIRE_ERR_AUTH_FAILED, "attempt %d: got %u: %s", i + 1,
			     out.code, out.reason);
	}
	/* Failure MAX_FAILURES reaches the limit: rate-limited, with the time to wait. */
	node_run(&in, &out);
	cr_assert_eq(out.code, WIRE_ERR_RATE_LIMITED, "got %u: %s", out.code, out.reason);
	cr_assert(strstr(out.reason, "try again in"), "%s", out.reason);
	/* The right key still gets through, for this node and another from the address. */
	in.km = fx.km;
	node_run(&in, &out);
	cr_assert_eq(out.code, 0, "got %u: %s", out.code, out.reason);
	in.node_id = NODE_B;
	node_run(&in, &out);
	cr_assert_eq(out.code, 0, "got %u: %s", out.code, out.reason);
	/* The address stays limited: a wrong proof for NODE_B is rate-limited at once ... */
	in.km = wrong;
	node_run(&in, &out);
	cr_assert_eq(out.code, WIRE_ERR_RATE_LIMITED, "got %u: %s", out.code, out.reason);
	/* ... and from 127.0.0.2 it is a plain auth failure. */
	in.src = "127.0.0.2";
	node_run(&in, &out);
	cr_assert_eq(out.code, WIRE_ERR_AUTH_FAILED, "got %u: %s", out.code, out.reason);
	assert_log_has("too many failed proofs from this address");
}

/* Issue #16, 1: an attacker hammering a node's name cannot lock the node out. */
Test(mas, wrong_proofs_for_a_node_do_not_lock_it_out)
{
	struct node_in bad = { .node_id = NODE }, good = { .node_id = NODE, .km = fx.km };
	struct node_out out;
	uint8_t wrong[32];
	char *log;
	size_t lines = 0;

	cr_assert_eq(crypto_random(wrong, sizeof(wrong)), 0);
	bad.km = wrong;
	/* From another address, and from the node's own (a shared NAT). */
	for (int round = 0; round < 4; round++) {
		bad.src = round % 2 ? "127.0.0.1" : "127.0.0.3";
		for (int i = 0; i < 2 * MAX_FAILURES; i++) {
			node_run(&bad, &out);
			cr_assert(out.code == WIRE_ERR_AUTH_FAILED ||
					  out.code == WIRE_ERR_RATE_LIMITED,
				  "got %u: %s", out.code, out.reason);
		}
		node_run(&good, &out);
		cr_assert_eq(out.code, 0, "round %d: the node was locked out: %u %s", round,
			     out.code, out.reason);
	}
	/* The log stays bounded: per source, MAX_FAILURES warnings a window. */
	log = read_log();
	for (char *line = strtok(log, "\n"); line; line = strtok(NULL, "\n"))
		if (strstr(line, "did not verify") && !strstr(line, "(source rate-limited)"))
			lines++;
	free(log);
	cr_assert_leq(lines, 2 * MAX_FAILURES, "%zu failure warnings", lines);
}

Test(mas, rate_limit_window_passes)
{
	struct node_in in = { .node_id = NODE };
	struct node_out out;
	uint8_t wrong[32];

	stop_mas();
	write_conf(NULL);
	{
		/* A 2-second window: edit the configuration and restart. */
		char *text = NULL, *p;
		size_t len;

		cr_assert_eq(harness_read_file(fx.mas.conf, &text, &len), 0);
		p = strstr(text, "failure_window = 60s");
		cr_assert_not_null(p);
		memcpy(p, "failure_window =  2s", 20);
		cr_assert_eq(harness_write_file(fx.mas.conf, text, len, 0600), 0);
		free(text);
	}
	start_mas();
	memcpy(wrong, fx.km, 32);
	wrong[5] ^= 1;
	in.km = wrong;
	for (int i = 0; i < MAX_FAILURES; i++)
		node_run(&in, &out);
	node_run(&in, &out);
	cr_assert_eq(out.code, WIRE_ERR_RATE_LIMITED, "got %u: %s", out.code, out.reason);
	sleep(3);
	node_run(&in, &out);
	cr_assert_eq(out.code, WIRE_ERR_AUTH_FAILED, "got %u: %s", out.code, out.reason);
}

/* ---- the program ---- */

static int run_mas(const char *conf, char **ret_out, char **ret_err)
{
	char *mas = harness_strdupf("%s/mas/m2masd", fixture_builddir());
	const char *argv[] = { mas, "--config", conf, "--check", "--log-target", "stderr", NULL };
	int status = -1;

	cr_assert_eq(harness_run(argv, NULL, NULL, &status, ret_out, ret_err), 0);
	free(mas);
	return status;
}

Test(mas, check_accepts_a_good_configuration)
{
	char *out = NULL, *err = NULL;

	cr_assert_eq(run_mas(fx.mas.conf, &out, &err), 0, "stdout: %s\nstderr: %s", out, err);
	cr_assert_not_null(strstr(out, "usable"), "%s", out);
	free(out);
	free(err);
}

Test(mas, check_refuses_a_missing_certificate)
{
	char *store = store_fixture_conf_lines(fx.mas.db);
	char *text = harness_strdupf("[mas]\nfqdn = " FQDN "\ncert = %s/pki/nope.crt\n"
				     "key = %s/pki/mas.key\ntarget_ca = %s/pki/ca.crt\n"
				     "[store]\n%smaster_key = %s\n",
				     fx.mas.dir, fx.mas.dir, fx.mas.dir, store, fx.mas.master);
	char *conf = path("bad.conf"), *out = NULL, *err = NULL;

	cr_assert_eq(harness_write_file(conf, text, strlen(text), 0600), 0);
	cr_assert_eq(run_mas(conf, &out, &err), 1, "stdout: %s\nstderr: %s", out, err);
	cr_assert_not_null(strstr(err, "nope.crt"), "the message does not name the file: %s", err);
	free(store);
	free(text);
	free(conf);
	free(out);
	free(err);
}

Test(mas, check_refuses_a_readable_master_key)
{
	char *out = NULL, *err = NULL;

	cr_assert_eq(chmod(fx.mas.master, 0644), 0);
	cr_assert_eq(run_mas(fx.mas.conf, &out, &err), 1, "stdout: %s\nstderr: %s", out, err);
	cr_assert_not_null(strstr(err, fx.mas.master), "%s", err);
	free(out);
	free(err);
}

Test(mas, sighup_reloads_and_sigterm_exits_cleanly)
{
	struct node_out out;
	int status = -1;

	/* Reload with a new default lifetime: the next association gets it. */
	write_conf(NULL);
	{
		char *text = NULL, *p;
		size_t len;

		cr_assert_eq(harness_read_file(fx.mas.conf, &text, &len), 0);
		p = strstr(text, "lifetime = 1h");
		cr_assert_not_null(p);
		memcpy(p, "lifetime = 2h", 13);
		cr_assert_eq(harness_write_file(fx.mas.conf, text, len, 0600), 0);
		free(text);
	}
	cr_assert_eq(kill(fx.mas.pid, SIGHUP), 0);
	for (int i = 0; i < 100; i++) {
		char *log = read_log();
		bool done = strstr(log, "configuration reloaded") != NULL;

		free(log);
		if (done)
			break;
		usleep(20 * 1000);
	}
	assert_log_has("configuration reloaded");
	node_simple(NODE, fx.km, &out);
	cr_assert_eq(out.code, 0, "%s", out.reason);
	cr_assert_geq(out.est.expiry, (uint64_t)time(NULL) + 7200 - 5);

	cr_assert_eq(kill(fx.mas.pid, SIGTERM), 0);
	cr_assert_eq(waitpid(fx.mas.pid, &status, 0), fx.mas.pid);
	fx.mas.pid = 0;
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "m2masd exited with %d", status);
}

/* A database server that is not up yet (boot order, its restart): exit 75, which the
 * unit's Restart=on-failure retries (exit 1 it does not: RestartPreventExitStatus). */
Test(mas, unreachable_database_exits_75_to_be_restarted)
{
	char *text = harness_strdupf("[mas]\nlisten = 127.0.0.1:0\nretrieval_listen = 127.0.0.1:0\n"
				     "fqdn = " FQDN "\ncert = %s/pki/mas.crt\nkey = %s/pki/mas.key\n"
				     "target_ca = %s/pki/ca.crt\n[store]\nbackend = postgresql\n"
				     "conninfo = host=127.0.0.1 port=1 dbname=x connect_timeout=2\n"
				     "master_key = %s\n",
				     fx.mas.dir, fx.mas.dir, fx.mas.dir, fx.mas.master);
	char *conf = path("nodb.conf"), *mas = harness_strdupf("%s/mas/m2masd", fixture_builddir());
	const char *argv[] = { mas, "--config", conf, "--foreground", "--log-target", "stderr",
			       NULL };
	char *out = NULL, *err = NULL;
	int status = -1;

	cr_assert_eq(harness_write_file(conf, text, strlen(text), 0600), 0);
	cr_assert_eq(harness_run(argv, NULL, NULL, &status, &out, &err), 0);
	cr_assert_eq(status, 75, "stdout: %s\nstderr: %s", out, err);
	cr_assert_not_null(strstr(err, "is the database server running"), "%s", err);
	free(text);
	free(out);
	free(err);
	free(conf);
	free(mas);
}

/* m2masd against the test server with conninfo lines; its exit status, stderr in *ret_err. */
static int run_with_conninfo(const char *name, const char *store_lines, char **ret_err)
{
	char *text = harness_strdupf(
		"[mas]\nlisten = 127.0.0.1:0\nretrieval_listen = 127.0.0.1:0\nfqdn = " FQDN
		"\ncert = %s/pki/mas.crt\nkey = %s/pki/mas.key\ntarget_ca = %s/pki/ca.crt\n"
		"[store]\n%smaster_key = %s\n",
		fx.mas.dir, fx.mas.dir, fx.mas.dir, store_lines, fx.mas.master);
	char *conf = path(name), *mas = harness_strdupf("%s/mas/m2masd", fixture_builddir());
	const char *argv[] = { mas, "--config", conf, "--foreground", "--log-target", "stderr",
			       NULL };
	char *out = NULL;
	int status = -1;

	cr_assert_eq(harness_write_file(conf, text, strlen(text), 0600), 0);
	cr_assert_eq(harness_run(argv, NULL, NULL, &status, &out, ret_err), 0);
	free(text);
	free(out);
	free(conf);
	free(mas);
	return status;
}

/* A misconfiguration restarting cannot mend exits 1, not 75: the unit must not loop on it. */
Test(mas, database_misconfiguration_exits_1_not_75)
{
	char *url, *lines, *err = NULL, *pw = path("wrong.pw");
	int status;

	if (!pg_fixture_enabled())
		cr_skip_test("PostgreSQL only (suite integration-pg)");
	url = pg_fixture_new_db();
	/* SSL required, the test server has none: libpq's message is no temporary one. */
	lines = harness_strdupf("backend = postgresql\nconninfo = %s%ssslmode=require\n"
				"password_file = %s\n",
				url, strchr(url, '?') ? "&" : "?", pg_fixture_password_file());
	status = run_with_conninfo("ssl.conf", lines, &err);
	cr_expect_eq(status, 1, "stderr: %s", err);
	cr_expect_not_null(strstr(err, "SSL"), "%s", err);
	cr_expect_not_null(strstr(err, "check [store] conninfo"), "%s", err);
	free(lines);
	free(err);
	/* A refused password: exit 1 too. */
	lines = harness_strdupf("backend = postgresql\nconninfo = %s\npassword_file = %s\n", url,
				pw);
	cr_assert_eq(harness_write_file(pw, "wrong\n", 6, 0600), 0);
	status = run_with_conninfo("pw.conf", lines, &err);
	cr_expect_eq(status, 1, "stderr: %s", err);
	cr_expect_not_null(strstr(err, "password"), "%s", err);
	free(lines);
	free(err);
	free(url);
	free(pw);
}

/* ---- running out of file descriptors ---- */

static int log_count(const char *needle)
{
	char *log = read_log();
	int n = 0;

	for (const char *p = log; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	free(log);
	return n;
}

/* The lowest fd number m2masd has free: as its soft RLIMIT_NOFILE, every accept fails. */
static rlim_t lowest_free_fd(pid_t pid)
{
	char dir[64];
	bool used[4096] = { false };
	struct dirent *e;
	DIR *d;
	rlim_t n = 0;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	d = opendir(dir);
	cr_assert_not_null(d, "%s: %s", dir, strerror(errno));
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' && atoi(e->d_name) < 4096)
			used[atoi(e->d_name)] = true;
	closedir(d);
	while (n < 4096 && used[n])
		n++;
	return n;
}

static void set_nofile(pid_t pid, rlim_t soft, struct rlimit *ret_old)
{
	struct rlimit old, lim;

	cr_assert_eq(prlimit(pid, RLIMIT_NOFILE, NULL, &old), 0, "%s", strerror(errno));
	lim = (struct rlimit){ .rlim_cur = soft, .rlim_max = old.rlim_max };
	cr_assert_eq(prlimit(pid, RLIMIT_NOFILE, &lim, NULL), 0, "%s", strerror(errno));
	if (ret_old)
		*ret_old = old;
}

/* Wait up to ms for the MAS log to hold at least n lines with needle. */
static bool wait_log_count(const char *needle, int n, int ms)
{
	for (int i = 0; i < ms / 20; i++) {
		if (log_count(needle) >= n)
			return true;
		usleep(20 * 1000);
	}
	return log_count(needle) >= n;
}

/*
 * Out of fds is process-wide: a worker with no connection of its own must not spin
 * on its readable listener, and a paused one accepts again (about every 100 ms)
 * once fds are free, whoever frees them, not only when one of its own closes.
 */
Test(mas, accepting_pauses_and_retries_when_out_of_fds)
{
	static const char accepted[] = "connection from node 127.0.0.1";
	static const char failed[] = "cannot accept connections";
	struct rlimit old;
	int a, b1, b2, before;

	stop_mas();
	write_conf("workers = 1\nhandshake_timeout = 30s\nfirst_byte_timeout = 30s\n");
	start_mas();
	/* No connection of its own: a readable listener, every accept EMFILE. */
	set_nofile(fx.mas.pid, lowest_free_fd(fx.mas.pid), &old);
	before = log_count(accepted);
	b1 = connect_from(NULL, fx.mas.est_port);
	cr_assert(wait_log_count(failed, 1, 2000), "accept never failed");
	usleep(1000 * 1000);
	/* Before: one warning per loop turn, thousands a second. */
	cr_expect_leq(log_count(failed), 5, "%d warnings in a second: spinning",
		      log_count(failed));
	set_nofile(fx.mas.pid, old.rlim_cur, NULL);
	cr_expect(wait_log_count(accepted, before + 1, 2000), "never accepted again");
	/* Paused with a connection of its own that stays open (30 s). */
	a = connect_from(NULL, fx.mas.est_port); /* b1 is open too */
	cr_assert(wait_log_count(accepted, before + 2, 2000), "the first connection not accepted");
	set_nofile(fx.mas.pid, lowest_free_fd(fx.mas.pid), NULL);
	before = log_count(accepted);
	b2 = connect_from(NULL, fx.mas.est_port);
	usleep(300 * 1000);
	cr_assert_eq(log_count(accepted), before, "accepted in spite of the limit");
	set_nofile(fx.mas.pid, old.rlim_cur, NULL);
	/* Before: paused until a or b1 closes, 30 s from now. */
	cr_expect(wait_log_count(accepted, before + 1, 2000),
		  "not accepting again while its own connections stay open");
	close(b2);
	close(a);
	close(b1);
}
