/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The establishment end to end from the node's side: Km in a real swtpm, the
 * real m2masd on 127.0.0.1, real TLS 1.3; the target's retrieval over mutual TLS.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/ecc.h>

#include "agent/establish.h"
#include "common/frame.h"
#include "common/sa.h"
#include "fixture.h"
#include "harness.h"
#include "mas/store.h"
#include "tpm/keystore.h"
#include "tpm/tpm-ctx.h"

#define NODE "/mn-cse-1"
#define TARGET FIXTURE_TARGET
#define FQDN FIXTURE_FQDN

struct fixture {
	struct mas_fixture mas;
	struct harness_swtpm *tpm;
	uint8_t km[32];
};

static struct fixture fx;

static char *path(const char *name)
{
	return mas_fixture_path(&fx.mas, name);
}

static void add_node(const char *node_id, const uint8_t km[32], uint64_t lifetime)
{
	static const uint8_t psk[] = { WIRE_METHOD_PSK };

	mas_fixture_add_node(&fx.mas, node_id, km, psk, 1, lifetime);
}

static size_t count_assocs(void)
{
	return mas_fixture_count_assocs(&fx.mas);
}

static void provision(const char *node_id, const uint8_t km[32])
{
	struct tpm_ctx *t = NULL;
	char err[256] = "", *state = path("node");

	cr_assert_eq(tpm_open(harness_swtpm_tcti(fx.tpm), &t, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(tpm_provision(t, state, node_id, "km-1@" FQDN, km, 32, NULL), 0, "%s",
		     tpm_last_error(t));
	tpm_close(t);
	free(state);
}

static void setup(void)
{
	/* A peer that hangs up must give an error, not kill the test. */
	signal(SIGPIPE, SIG_IGN);
	HARNESS_REQUIRE_SWTPM();
	mas_fixture_init(&fx.mas);
	mas_fixture_write_conf(&fx.mas, "handshake_timeout = 5s\n");
	cr_assert_eq(harness_swtpm_start(NULL, &fx.tpm), 0);
	cr_assert_eq(crypto_random(fx.km, sizeof(fx.km)), 0);
	mas_fixture_start(&fx.mas, NULL, NULL);
}

static void teardown(void)
{
	mas_fixture_fini(&fx.mas);
	harness_swtpm_stop(fx.tpm);
	fx.tpm = NULL;
	secret_wipe(fx.km, sizeof(fx.km));
}

TestSuite(establish, .init = setup, .fini = teardown, .timeout = 120);

static WOLFSSL_CTX *node_ctx(const char *ca)
{
	char err[256] = "", *p = path(ca);
	WOLFSSL_CTX *ctx = tls_client_ctx_new(p, NULL, NULL, err, sizeof(err));

	cr_assert_not_null(ctx, "%s", err);
	free(p);
	return ctx;
}

/* Establish as NODE with the Km provisioned in the TPM. */
static int run_node(const char *ca, const char *server_name, uint16_t port,
		    struct establish_result *res, struct m2msa_err *eerr)
{
	static const uint8_t methods[] = { WIRE_METHOD_PSK };
	struct tpm_ctx *t = NULL;
	struct tpm_key *k = NULL;
	struct kdf_prf prf;
	char err[256] = "", *state = path("node"), addr[64];
	WOLFSSL_CTX *ctx = node_ctx(ca);
	size_t transient = 99, sessions = 99;
	int r;

	snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
	cr_assert_eq(tpm_open(harness_swtpm_tcti(fx.tpm), &t, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(tpm_key_load(t, state, &k), 0, "%s", tpm_last_error(t));
	tpm_key_prf(k, &prf);
	r = establish_run(ctx,
			  &(struct establish_params){ .mas_address = addr,
						      .server_name = server_name,
						      .node_id = tpm_key_node_id(k),
						      .methods = methods,
						      .n_methods = 1,
						      .timeout_ms = 5000 },
			  &prf, res, eerr);
	tpm_key_free(k);
	/* Whatever happened, the TPM holds no transient objects or sessions of ours now
	 * but the storage primary the context keeps loaded until tpm_close(). */
	cr_assert_eq(tpm_count_handles(t, &transient, &sessions), 0);
	cr_expect_leq(transient, 1, "transient objects left: %zu", transient);
	cr_expect_eq(sessions, 0, "sessions left: %zu", sessions);
	tpm_close(t);
	wolfSSL_CTX_free(ctx);
	free(state);
	return r;
}

static int retrieve(const char *cert, const char *key_id, struct wire_msg *ret)
{
	return fixture_retrieve(&fx.mas, cert, key_id, ret);
}

Test(establish, success_node_kc_equals_target_retrieval)
{
	struct establish_result res = { .kc = NULL };
	struct m2msa_err eerr;
	struct wire_msg m;
	regex_t re;
	int r;

	add_node(NODE, fx.km, 0);
	provision(NODE, fx.km);
	r = run_node("pki/ca.crt", FQDN, fx.mas.est_port, &res, &eerr);
	cr_assert_eq(r, 0, "establish failed: %s", eerr.msg);
	/* SecureConnectionID in TS-0003 form: hex(KcID)@MAS-FQDN. */
	cr_assert_eq(regcomp(&re, "^[0-9a-f]{32}@mas\\.test$", REG_EXTENDED | REG_NOSUB), 0);
	cr_expect_eq(regexec(&re, res.key_id, 0, NULL, 0), 0, "key ID '%s'", res.key_id);
	regfree(&re);
	cr_expect_eq(res.method, WIRE_METHOD_PSK);
	cr_expect_str_eq(res.suite, SA_SUITE_PSK);
	cr_expect_gt(res.expiry, (uint64_t)time(NULL) + 3500);
	cr_expect_leq(res.expiry, (uint64_t)time(NULL) + 3600);
	cr_assert_eq(count_assocs(), 1);

	cr_assert_eq(retrieve("target", res.key_id, &m), 0);
	cr_assert_eq(m.type, WIRE_MSG_KEY_RESPONSE, "MAS answered %s", wire_msg_type_to_string(m.type));
	cr_expect_arr_eq(m.key_response.key, res.kc->data, 32, "the target's key differs from the node's Kc");
	cr_expect_eq(m.key_response.expiry, res.expiry);
	cr_expect_str_eq(m.key_response.node_id, NODE);
	cr_expect_str_eq(m.key_response.ae_id, "");
	cr_expect_eq(m.key_response.suid, 32);
	wire_msg_wipe(&m);

	/* Another CSE's certificate: refused. */
	cr_assert_eq(retrieve("other-target", res.key_id, &m), 0);
	cr_assert_eq(m.type, WIRE_MSG_ERROR);
	cr_expect_eq(m.error.code, WIRE_ERR_NOT_AUTHORISED);
	establish_result_clear(&res);
}

Test(establish, two_establishments_give_different_keys)
{
	struct establish_result a = { .kc = NULL }, b = { .kc = NULL };
	struct m2msa_err eerr;

	add_node(NODE, fx.km, 0);
	provision(NODE, fx.km);
	cr_assert_eq(run_node("pki/ca.crt", FQDN, fx.mas.est_port, &a, &eerr), 0, "%s", eerr.msg);
	cr_assert_eq(run_node("pki/ca.crt", FQDN, fx.mas.est_port, &b, &eerr), 0, "%s", eerr.msg);
	cr_expect_str_neq(a.key_id, b.key_id);
	cr_expect(memcmp(a.kc->data, b.kc->data, 32) != 0);
	cr_expect(memcmp(a.kc->data, a.ae_root->data, 32) != 0);
	establish_result_clear(&a);
	establish_result_clear(&b);
}

Test(establish, wrong_km_refused_nothing_stored)
{
	struct establish_result res = { .kc = NULL };
	struct m2msa_err eerr;
	uint8_t other[32];

	add_node(NODE, fx.km, 0);
	memcpy(other, fx.km, 32);
	other[31] ^= 0x01;
	provision(NODE, other);
	cr_assert_eq(run_node("pki/ca.crt", FQDN, fx.mas.est_port, &res, &eerr), -EKEYREJECTED);
	cr_expect_eq(eerr.wire_code, WIRE_ERR_AUTH_FAILED);
	cr_expect_not_null(strstr(eerr.msg, "auth"), "message: %s", eerr.msg);
	cr_expect_eq(count_assocs(), 0);
	cr_expect_null(res.kc);
}

Test(establish, unknown_node_refused)
{
	struct establish_result res = { .kc = NULL };
	struct m2msa_err eerr;

	provision("/mn-cse-unknown", fx.km);
	/* Issue #16: answered like a wrong key, so that nobody can probe for node names. */
	cr_assert_eq(run_node("pki/ca.crt", FQDN, fx.mas.est_port, &res, &eerr), -EKEYREJECTED);
	cr_expect_eq(eerr.wire_code, WIRE_ERR_AUTH_FAILED);
	cr_expect_eq(count_assocs(), 0);
	/* One warning for the attempt (at HELLO); the refused decoy proof at debug level. */
	cr_expect_eq(fixture_count_in(fx.mas.log, "warning: unknown node /mn-cse-unknown"), 1);
	cr_expect_eq(fixture_count_in(fx.mas.log, "warning: decoy proof"), 0);
	cr_expect_eq(fixture_count_in(fx.mas.log, "debug: decoy proof for node /mn-cse-unknown"),
		     1);
}

Test(establish, revoked_node_refused)
{
	struct establish_result res = { .kc = NULL };
	struct m2msa_err eerr;
	struct store *s;

	add_node(NODE, fx.km, 0);
	provision(NODE, fx.km);
	s = mas_fixture_store(&fx.mas);
	cr_assert_eq(store_node_revoke(s, NODE), 0);
	store_close(s);
	/* Issue #16: answered like a wrong key; the MAS log says "revoked". */
	cr_assert_eq(run_node("pki/ca.crt", FQDN, fx.mas.est_port, &res, &eerr), -EKEYREJECTED);
	cr_expect_eq(eerr.wire_code, WIRE_ERR_AUTH_FAILED);
	cr_expect_eq(count_assocs(), 0);
}

Test(establish, wrong_ca_refuses_mas)
{
	struct establish_result res = { .kc = NULL };
	struct m2msa_err eerr;

	add_node(NODE, fx.km, 0);
	provision(NODE, fx.km);
	cr_assert_eq(run_node("pki/other-ca.crt", FQDN, fx.mas.est_port, &res, &eerr), -EPERM);
	cr_expect_not_null(strstr(eerr.msg, "CA"), "message: %s", eerr.msg);
	cr_expect_eq(count_assocs(), 0);
}

Test(establish, wrong_server_name_refuses_mas)
{
	struct establish_result res = { .kc = NULL };
	struct m2msa_err eerr;

	add_node(NODE, fx.km, 0);
	provision(NODE, fx.km);
	cr_assert_eq(run_node("pki/ca.crt", "other.test", fx.mas.est_port, &res, &eerr), -EPERM);
	cr_expect_not_null(strstr(eerr.msg, "server_name"), "message: %s", eerr.msg);
}

Test(establish, mas_unreachable_is_clear)
{
	struct establish_result res = { .kc = NULL };
	struct m2msa_err eerr;
	uint16_t port;

	add_node(NODE, fx.km, 0);
	provision(NODE, fx.km);
	cr_assert_eq(harness_free_port(1, &port), 0);
	cr_assert_eq(run_node("pki/ca.crt", FQDN, port, &res, &eerr), -ECONNREFUSED);
	cr_expect_not_null(strstr(eerr.msg, "cannot reach the MAS"), "message: %s", eerr.msg);
}

Test(establish, expired_association_refused_to_target)
{
	struct establish_result res = { .kc = NULL };
	struct m2msa_err eerr;
	struct wire_msg m;

	/* 3 s: a 1 s key could expire (whole seconds) before a busy node reads ESTABLISHED. */
	add_node(NODE, fx.km, 3);
	provision(NODE, fx.km);
	cr_assert_eq(run_node("pki/ca.crt", FQDN, fx.mas.est_port, &res, &eerr), 0, "%s", eerr.msg);
	sleep(4);
	cr_assert_eq(retrieve("target", res.key_id, &m), 0);
	cr_assert_eq(m.type, WIRE_MSG_ERROR);
	cr_expect(m.error.code == WIRE_ERR_EXPIRED || m.error.code == WIRE_ERR_UNKNOWN_KEY,
		  "code %u", m.error.code);
	establish_result_clear(&res);
}

/*
 * An impostor MAS (a fake, on purpose: a real m2masd cannot be made to send a wrong
 * MAS proof). It holds a valid certificate but not the node's Km: it answers the
 * node's proof with a MAS proof made from another key. The node must refuse.
 */
struct impostor {
	int listen_fd;
	uint16_t port;
};

static void *impostor_main(void *arg)
{
	struct impostor *imp = arg;
	char err[256], *cert = path("pki/mas.crt"), *key = path("pki/mas.key");
	WOLFSSL_CTX *ctx = tls_server_ctx_new(cert, key, NULL, err, sizeof(err));
	uint8_t wrong_km[32];
	struct kdf_sw_key sk = { wrong_km, 32 };
	struct kdf_prf prf;
	struct sa_binding b;
	struct wire_msg hello, m;
	uint8_t nm[32];
	WOLFSSL *ssl;
	int fd;

	memset(wrong_km, 0x66, sizeof(wrong_km));
	kdf_prf_software(&sk, &prf);
	fd = accept(imp->listen_fd, NULL, NULL);
	ssl = wolfSSL_new(ctx);
	wolfSSL_set_fd(ssl, fd);
	if (wolfSSL_accept(ssl) != WOLFSSL_SUCCESS || frame_recv(ssl, &hello, err, sizeof(err)) < 0)
		goto out;
	memset(&m, 0, sizeof(m));
	m.type = WIRE_MSG_CHALLENGE;
	m.challenge.method = WIRE_METHOD_PSK;
	crypto_random(nm, sizeof(nm));
	memcpy(m.challenge.nonce, nm, 32);
	frame_send(ssl, &m, err, sizeof(err));
	if (frame_recv(ssl, &m, err, sizeof(err)) < 0)
		goto out;
	sa_binding_from_tls(ssl, &b);
	memset(&m, 0, sizeof(m));
	m.type = WIRE_MSG_ESTABLISHED;
	sa_proof(&prf, SA_PROOF_MAS, &b, hello.hello.nonce, nm, hello.hello.node_id, m.established.proof);
	sa_key_id_format(b.x, NULL, FQDN, m.established.key_id, sizeof(m.established.key_id));
	m.established.expiry = (uint64_t)time(NULL) + 3600;
	m.established.method = WIRE_METHOD_PSK;
	snprintf(m.established.suite, sizeof(m.established.suite), "%s", SA_SUITE_PSK);
	frame_send(ssl, &m, err, sizeof(err));
	/* Wait for the node to hang up. */
	(void)wolfSSL_read(ssl, err, sizeof(err));
out:
	wolfSSL_free(ssl);
	close(fd);
	wolfSSL_CTX_free(ctx);
	free(cert);
	free(key);
	/* wolfSSL's fixed-point ECC cache is per thread: free this thread's. */
	wc_ecc_fp_free();
	return NULL;
}

Test(establish, impostor_mas_proof_refused)
{
	struct establish_result res = { .kc = NULL };
	struct m2msa_err eerr;
	struct impostor imp;
	pthread_t th;

	add_node(NODE, fx.km, 0);
	provision(NODE, fx.km);
	imp.listen_fd = tcp_listen("127.0.0.1", 0, &imp.port);
	cr_assert_geq(imp.listen_fd, 0);
	/* The listening socket is non-blocking; the impostor accepts blocking. */
	cr_assert_eq(fcntl(imp.listen_fd, F_SETFL, 0), 0);
	cr_assert_eq(pthread_create(&th, NULL, impostor_main, &imp), 0);
	cr_assert_eq(run_node("pki/ca.crt", FQDN, imp.port, &res, &eerr), -EBADMSG);
	cr_expect_not_null(strstr(eerr.msg, "MAS proof did not verify"), "message: %s", eerr.msg);
	cr_expect_null(res.kc);
	pthread_join(th, NULL);
	close(imp.listen_fd);
}

Test(establish, m2msactl_establish_prints_outputs_but_no_key)
{
	char *conf = path("m2msad.conf"), *kc_file = path("kc.bin");
	char *ctl = harness_strdupf("%s/m2msactl/m2msactl", fixture_builddir());
	char *text = harness_strdupf("[node]\nstate_dir = %s/node\ntcti = %s\n[mas]\n"
				     "address = 127.0.0.1:%u\nca = %s/pki/ca.crt\nserver_name = " FQDN "\n",
				     fx.mas.dir, harness_swtpm_tcti(fx.tpm), fx.mas.est_port, fx.mas.dir);
	const char *argv[] = { ctl, "establish", "--config", conf, "--key-out", kc_file, NULL };
	const char *argv_json[] = { ctl, "establish", "--config", conf, "--json", NULL };
	char *out = NULL, *errout = NULL, *kc = NULL, hex[65];
	size_t kc_len;
	int status = -1;

	add_node(NODE, fx.km, 0);
	provision(NODE, fx.km);
	cr_assert_eq(harness_write_file(conf, text, strlen(text), 0644), 0);
	cr_assert_eq(harness_run(argv, NULL, NULL, &status, &out, &errout), 0);
	cr_assert_eq(status, 0, "m2msactl establish failed: %s", errout);
	cr_expect_not_null(strstr(out, "key ID:    "), "%s", out);
	cr_expect_not_null(strstr(out, "@" FQDN), "%s", out);
	cr_expect_not_null(strstr(out, "method:    psk"), "%s", out);
	cr_expect_not_null(strstr(out, "suite:     " SA_SUITE_PSK), "%s", out);
	cr_assert_eq(harness_read_file(kc_file, &kc, &kc_len), 0);
	cr_assert_eq(kc_len, 32);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", (uint8_t)kc[i]);
	cr_expect_null(strstr(out, hex), "Kc printed on stdout");
	cr_expect_null(strstr(errout, hex), "Kc printed on stderr");
	free(out);
	free(errout);
	out = errout = NULL;
	cr_assert_eq(harness_run(argv_json, NULL, NULL, &status, &out, &errout), 0);
	cr_assert_eq(status, 0, "%s", errout);
	cr_expect_eq(out[0], '{');
	cr_expect_not_null(strstr(out, "\"method\":\"psk\""), "%s", out);
	cr_expect_not_null(strstr(out, "\"node_id\":\"" NODE "\""), "%s", out);
	/* The existing --key-out file is not overwritten. */
	free(out);
	free(errout);
	cr_assert_eq(harness_run(argv, NULL, NULL, &status, &out, &errout), 0);
	cr_expect_eq(status, 1);
	cr_expect_not_null(strstr(errout, "already exists"), "%s", errout);
	secret_wipe(kc, kc_len);
	free(kc);
	free(out);
	free(errout);
	free(conf);
	free(kc_file);
	free(ctl);
	free(text);
}
