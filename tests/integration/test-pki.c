/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Method pki end to end: the node's ECDSA P-256 key in a real swtpm, a CSR made
 * by m2msactl pki-keygen and signed by the test node CA (openssl), TLS 1.3
 * mutual authentication with the CertificateVerify signed by the TPM (wolfSSL
 * PK callback), the real m2masd with [mas] node_ca, method negotiation, and the
 * target's retrieval over mutual TLS. The real agent m2msad with methods = pki:
 * the keys its local key service hands out equal the target's retrieval, and a
 * node without its certificate says what to do and waits for it.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/asn_public.h>

#include "agent/establish.h"
#include "common/sa.h"
#include "fixture.h"
#include "harness.h"
#include "mas/store.h"
#include "tpm/keystore.h"
#include "tpm/signkey.h"
#include "tpm/tpm-ctx.h"

#define NODE "/mn-cse-1"
#define FQDN FIXTURE_FQDN

struct fixture {
	struct mas_fixture mas;
	struct harness_swtpm *tpm;
	uint8_t km[32];
	char *node_conf;
};

static struct fixture fx;

static const uint8_t only_psk[] = { WIRE_METHOD_PSK };
static const uint8_t only_pki[] = { WIRE_METHOD_PKI };
static const uint8_t pki_psk[] = { WIRE_METHOD_PKI, WIRE_METHOD_PSK };
static const uint8_t psk_pki[] = { WIRE_METHOD_PSK, WIRE_METHOD_PKI };

static char *path(const char *name)
{
	return mas_fixture_path(&fx.mas, name);
}

static void write_node_conf(const char *methods)
{
	char *text = harness_strdupf("[node]\nnode_id = " NODE "\nstate_dir = %s/node\ntcti = %s\n"
				     "methods = %s\n[mas]\naddress = 127.0.0.1:%u\n"
				     "ca = %s/pki/ca.crt\nserver_name = " FQDN "\n",
				     fx.mas.dir, harness_swtpm_tcti(fx.tpm), methods,
				     fx.mas.est_port, fx.mas.dir);

	cr_assert_eq(harness_write_file(fx.node_conf, text, strlen(text), 0644), 0);
	free(text);
}

static void setup(void)
{
	char *extra;

	signal(SIGPIPE, SIG_IGN);
	HARNESS_REQUIRE_SWTPM();
	mas_fixture_init(&fx.mas);
	extra = harness_strdupf("handshake_timeout = 5s\nnode_ca = %s/pki/node-ca.crt\n",
				fx.mas.dir);
	mas_fixture_write_conf(&fx.mas, extra);
	free(extra);
	cr_assert_eq(harness_swtpm_start(NULL, &fx.tpm), 0);
	cr_assert_eq(crypto_random(fx.km, sizeof(fx.km)), 0);
	mas_fixture_start(&fx.mas, NULL, NULL);
	fx.node_conf = path("m2msad.conf");
	write_node_conf("pki, psk");
}

static void teardown(void)
{
	mas_fixture_fini(&fx.mas);
	harness_swtpm_stop(fx.tpm);
	fx.tpm = NULL;
	free(fx.node_conf);
	fx.node_conf = NULL;
	secret_wipe(fx.km, sizeof(fx.km));
}

TestSuite(pki, .init = setup, .fini = teardown, .timeout = 120);

static void add_node(const char *node_id, const uint8_t *methods, size_t n)
{
	mas_fixture_add_node(&fx.mas, node_id, fx.km, methods, n, 0);
}

static void provision_km(void)
{
	char *state = path("node");

	fixture_provision_km(harness_swtpm_tcti(fx.tpm), state, NODE, "km-1@" FQDN, fx.km);
	free(state);
}

/* Run a program; assert it exits with want; returns its stderr (free()). */
static char *run(const char *const *argv, int want)
{
	char *out = NULL, *err = NULL;
	int status = -1;

	cr_assert_eq(harness_run(argv, NULL, NULL, &status, &out, &err), 0);
	cr_assert_eq(status, want, "%s exited %d, want %d: %s%s", argv[1], status, want, out, err);
	free(out);
	return err;
}

static char *ctl_path(void)
{
	return harness_strdupf("%s/m2msactl/m2msactl", fixture_builddir());
}

/* pki-keygen for subject CN=cn, signed by ca (e.g. "node-ca"), optionally expired; pki-install. */
static void enrol(const char *cn, const char *ca, bool expired)
{
	char *ctl = ctl_path(), *csr = path("node.csr"), *crt = path("node-issued.crt");
	char *subject = harness_strdupf("CN=%s,O=m2msa test", cn), *pki = path("pki");
	char *script = harness_strdupf("%s/tests/integration/mkcerts.sh", getenv("SRCDIR"));
	const char *keygen[] = { ctl, "pki-keygen", "--config", fx.node_conf, "--subject", subject,
				 "--out", csr, NULL };
	const char *sign[] = { "sh", script, "sign-csr", pki, ca, csr, crt,
			       expired ? "expired" : NULL, NULL };
	const char *install[] = { ctl, "pki-install", "--config", fx.node_conf, "--cert", crt, NULL };

	free(run(keygen, 0));
	free(run(sign, 0));
	free(run(install, 0));
	free(ctl);
	free(csr);
	free(crt);
	free(subject);
	free(pki);
	free(script);
}

/*
 * Establish as NODE offering methods. with_cert: present node.crt with the TPM
 * key (else a context without a client certificate). with_km: Km is loaded.
 */
static int run_node(const uint8_t *methods, size_t n, bool with_cert, bool with_km,
		    struct establish_result *res, struct m2msa_err *eerr)
{
	struct tpm_ctx *t = NULL;
	struct tpm_key *k = NULL;
	struct tpm_signkey *sk = NULL;
	struct tls_signer signer = { tpm_signkey_tls_sign, NULL };
	struct kdf_prf prf;
	char err[256] = "", *state = path("node"), *ca = path("pki/ca.crt");
	char *cert = path("node/" TPM_NODE_CERT_FILE), addr[64];
	WOLFSSL_CTX *ctx;
	size_t transient = 99, sessions = 99;
	int r;

	snprintf(addr, sizeof(addr), "127.0.0.1:%u", fx.mas.est_port);
	cr_assert_eq(tpm_open(harness_swtpm_tcti(fx.tpm), &t, err, sizeof(err)), 0, "%s", err);
	if (with_km) {
		cr_assert_eq(tpm_key_load(t, state, &k), 0, "%s", tpm_last_error(t));
		tpm_key_prf(k, &prf);
	}
	if (with_cert) {
		cr_assert_eq(tpm_signkey_load(t, state, &sk), 0, "%s", tpm_last_error(t));
		signer.userdata = sk;
		ctx = tls_client_ctx_new_signer(ca, cert, NULL, &signer, err, sizeof(err));
	} else {
		ctx = tls_client_ctx_new(ca, NULL, NULL, err, sizeof(err));
	}
	cr_assert_not_null(ctx, "%s", err);
	r = establish_run(ctx,
			  &(struct establish_params){ .mas_address = addr,
						      .server_name = FQDN,
						      .node_id = NODE,
						      .methods = methods,
						      .n_methods = n,
						      .timeout_ms = 5000 },
			  with_km ? &prf : NULL, res, eerr);
	wolfSSL_CTX_free(ctx);
	tpm_signkey_free(sk);
	tpm_key_free(k);
	/* Only the storage primary the context keeps is left in the TPM. */
	cr_assert_eq(tpm_count_handles(t, &transient, &sessions), 0);
	cr_expect_leq(transient, 1, "transient objects left: %zu", transient);
	cr_expect_eq(sessions, 0, "sessions left: %zu", sessions);
	tpm_close(t);
	free(state);
	free(ca);
	free(cert);
	return r;
}

static void assert_target_gets(const char *key_id, const uint8_t key[32])
{
	struct wire_msg m;

	cr_assert_eq(fixture_retrieve(&fx.mas, "target", key_id, &m), 0);
	cr_assert_eq(m.type, WIRE_MSG_KEY_RESPONSE, "MAS answered %s: %s",
		     wire_msg_type_to_string(m.type),
		     m.type == WIRE_MSG_ERROR ? m.error.reason : "");
	cr_expect_arr_eq(m.key_response.key, key, 32, "the target's key differs from the node's");
	cr_expect_str_eq(m.key_response.node_id, NODE);
	cr_expect_eq(m.key_response.suid, SA_SUID);
	wire_msg_wipe(&m);
}

Test(pki, csr_verifies_with_openssl_and_carries_the_tpm_key)
{
	char *ctl = ctl_path(), *csr = path("node.csr"), *state = path("node");
	const char *keygen[] = { ctl, "pki-keygen", "--config", fx.node_conf, "--subject",
				 "CN=" NODE ",O=Example,C=DE", "--out", csr, NULL };
	const char *verify[] = { "openssl", "req", "-in", csr, "-verify", "-noout", "-subject", NULL };
	const char *pubkey[] = { "openssl", "req", "-in", csr, "-noout", "-pubkey", NULL };
	char *out = NULL, *err = NULL, *pem = NULL;
	struct tpm_ctx *t = NULL;
	struct tpm_signkey *sk = NULL;
	uint8_t x[32], y[32];
	int status = -1;

	free(run(keygen, 0));
	cr_assert_eq(harness_run(verify, NULL, NULL, &status, &out, &err), 0);
	cr_assert_eq(status, 0, "openssl req -verify failed: %s", err);
	cr_expect_not_null(strstr(err, "verify OK"), "%s", err);
	cr_expect_not_null(strstr(out, "CN = " NODE), "%s", out);
	free(out);
	free(err);
	/* The request's key is the TPM's: compare the public point. */
	cr_assert_eq(harness_run(pubkey, NULL, NULL, &status, &pem, NULL), 0);
	cr_assert_eq(status, 0);
	cr_assert_eq(tpm_open(harness_swtpm_tcti(fx.tpm), &t, NULL, 0), 0);
	cr_assert_eq(tpm_signkey_load(t, state, &sk), 0, "%s", tpm_last_error(t));
	tpm_signkey_public(sk, x, y);
	{
		uint8_t der[256];
		int n = wc_PubKeyPemToDer((const unsigned char *)pem, (int)strlen(pem), der,
					  sizeof(der));

		cr_assert_gt(n, 65);
		/* SubjectPublicKeyInfo ends with the uncompressed point 04 || X || Y. */
		cr_expect_eq(der[n - 65], 0x04);
		cr_expect_arr_eq(der + n - 64, x, 32);
		cr_expect_arr_eq(der + n - 32, y, 32);
	}
	tpm_signkey_free(sk);
	tpm_close(t);
	/* A second request reuses the key unless --new-key is given. */
	free(run(keygen, 0));
	free(pem);
	free(ctl);
	free(csr);
	free(state);
}

Test(pki, pki_establishment_kc_equals_target_retrieval)
{
	struct establish_result res = { .kc = NULL };
	struct m2msa_err eerr;
	uint8_t ae_key[32];
	char ae_id[WIRE_KEY_ID_MAX + 1];
	uint8_t kcid[SA_KCID_LEN];

	add_node(NODE, only_pki, 1);
	enrol(NODE, "node-ca", false);
	/* No Km in the TPM at all: pki needs none. */
	cr_assert_eq(run_node(only_pki, 1, true, false, &res, &eerr), 0, "%s", eerr.msg);
	cr_expect_eq(res.method, WIRE_METHOD_PKI);
	cr_expect_str_eq(res.suite, SA_SUITE_PSK);
	cr_expect_gt(res.expiry, (uint64_t)time(NULL) + 3500);
	cr_expect(memcmp(res.kc->data, res.ae_root->data, 32) != 0);
	cr_assert_eq(mas_fixture_count_assocs(&fx.mas), 1);
	assert_target_gets(res.key_id, res.kc->data);
	/* Per-AE keys work as for psk: derived from the AE root, retrieved by the target. */
	cr_assert_eq(sa_ae_key(res.ae_root->data, "CAE1", ae_key), 0);
	memcpy(kcid, res.kcid, sizeof(kcid));
	cr_assert_eq(sa_key_id_format(kcid, "CAE1", FQDN, ae_id, sizeof(ae_id)), 0);
	assert_target_gets(ae_id, ae_key);
	/* No key byte in the MAS's debug log. */
	{
		char *log = mas_fixture_read_log(&fx.mas);

		fixture_assert_key_absent(log, strlen(log), res.kc->data, "m2masd log (Kc)");
		fixture_assert_key_absent(log, strlen(log), res.ae_root->data, "m2masd log (AE root)");
		fixture_assert_key_absent(log, strlen(log), ae_key, "m2masd log (AE key)");
		free(log);
	}
	secret_wipe(ae_key, sizeof(ae_key));
	establish_result_clear(&res);
}

Test(pki, psk_still_works_with_and_without_a_node_certificate)
{
	struct establish_result res = { .kc = NULL };
	struct m2msa_err eerr;

	add_node(NODE, only_psk, 1);
	provision_km();
	cr_assert_eq(run_node(only_psk, 1, false, true, &res, &eerr), 0, "%s", eerr.msg);
	cr_expect_eq(res.method, WIRE_METHOD_PSK);
	assert_target_gets(res.key_id, res.kc->data);
	establish_result_clear(&res);

	enrol(NODE, "node-ca", false);
	cr_assert_eq(run_node(only_psk, 1, true, true, &res, &eerr), 0, "%s", eerr.msg);
	cr_expect_eq(res.method, WIRE_METHOD_PSK);
	assert_target_gets(res.key_id, res.kc->data);
	establish_result_clear(&res);
}

Test(pki, both_offered_the_node_preference_wins)
{
	struct establish_result res = { .kc = NULL };
	struct m2msa_err eerr;

	add_node(NODE, psk_pki, 2);
	provision_km();
	enrol(NODE, "node-ca", false);
	cr_assert_eq(run_node(pki_psk, 2, true, true, &res, &eerr), 0, "%s", eerr.msg);
	cr_expect_eq(res.method, WIRE_METHOD_PKI);
	assert_target_gets(res.key_id, res.kc->data);
	establish_result_clear(&res);
	cr_assert_eq(run_node(psk_pki, 2, true, true, &res, &eerr), 0, "%s", eerr.msg);
	cr_expect_eq(res.method, WIRE_METHOD_PSK);
	assert_target_gets(res.key_id, res.kc->data);
	establish_result_clear(&res);
}

Test(pki, subscription_decides_between_offered_methods)
{
	struct establish_result res = { .kc = NULL };
	struct m2msa_err eerr;
	struct store *s;

	add_node(NODE, only_psk, 1);
	provision_km();
	enrol(NODE, "node-ca", false);
	/* The node prefers pki; its subscription allows only psk. */
	cr_assert_eq(run_node(pki_psk, 2, true, true, &res, &eerr), 0, "%s", eerr.msg);
	cr_expect_eq(res.method, WIRE_METHOD_PSK);
	establish_result_clear(&res);
	/* m2masctl node set-methods does this in production; the store is the same. */
	s = mas_fixture_store(&fx.mas);
	cr_assert_eq(store_node_set_methods(s, NODE, only_pki, 1), 0);
	store_close(s);
	cr_assert_eq(run_node(psk_pki, 2, true, true, &res, &eerr), 0, "%s", eerr.msg);
	cr_expect_eq(res.method, WIRE_METHOD_PKI);
	establish_result_clear(&res);
}

Test(pki, no_common_method_names_both_lists)
{
	struct establish_result res = { .kc = NULL };
	struct m2msa_err eerr;

	add_node(NODE, only_psk, 1);
	enrol(NODE, "node-ca", false);
	cr_assert_eq(run_node(only_pki, 1, true, false, &res, &eerr), -EPROTONOSUPPORT, "%s",
		     eerr.msg);
	cr_expect_eq(eerr.wire_code, WIRE_ERR_NO_METHOD);
	cr_expect_not_null(strstr(eerr.msg, "node offered pki; subscription allows psk"), "%s",
			   eerr.msg);
	cr_expect_null(res.kc);
	cr_expect_eq(mas_fixture_count_assocs(&fx.mas), 0);
}

static void assert_cert_refused(const char *alert, const char *why_in_log)
{
	struct establish_result res = { .kc = NULL };
	struct m2msa_err eerr;
	char *log;

	cr_assert_eq(run_node(only_pki, 1, true, false, &res, &eerr), -EKEYREJECTED, "%s",
		     eerr.msg);
	cr_expect_not_null(strstr(eerr.msg, "refused this node's certificate"), "%s", eerr.msg);
	cr_expect_not_null(strstr(eerr.msg, alert), "%s", eerr.msg);
	cr_log_info("node: %s", eerr.msg);
	cr_expect_null(res.kc);
	cr_expect_eq(mas_fixture_count_assocs(&fx.mas), 0);
	/* m2masd logs after wolfSSL sent the alert: give it a moment. */
	for (int i = 0;; i++) {
		log = mas_fixture_read_log(&fx.mas);
		if (strstr(log, why_in_log) || i == 50)
			break;
		free(log);
		usleep(20000);
	}
	cr_expect_not_null(strstr(log, why_in_log), "m2masd log lacks '%s':\n%s", why_in_log, log);
	free(log);
}

Test(pki, certificate_from_another_ca_refused)
{
	add_node(NODE, only_pki, 1);
	enrol(NODE, "other-ca", false);
	assert_cert_refused("alert unknown_ca", "not signed by the configured CA");
}

Test(pki, expired_certificate_refused)
{
	add_node(NODE, only_pki, 1);
	enrol(NODE, "node-ca", true);
	assert_cert_refused("alert certificate_expired", "peer certificate has expired");
}

Test(pki, certificate_for_another_node_refused)
{
	struct establish_result res = { .kc = NULL };
	struct m2msa_err eerr;

	add_node(NODE, only_pki, 1);
	add_node("/mn-cse-2", only_pki, 1);
	enrol("/mn-cse-2", "node-ca", false);
	cr_assert_eq(run_node(only_pki, 1, true, false, &res, &eerr), -EKEYREJECTED, "%s",
		     eerr.msg);
	cr_expect_eq(eerr.wire_code, WIRE_ERR_AUTH_FAILED);
	cr_expect_not_null(strstr(eerr.msg, "certificate is for /mn-cse-2, not for node " NODE),
			   "%s", eerr.msg);
	cr_expect_eq(mas_fixture_count_assocs(&fx.mas), 0);
}

Test(pki, pki_without_a_certificate_refused)
{
	struct establish_result res = { .kc = NULL };
	struct m2msa_err eerr;

	add_node(NODE, only_pki, 1);
	cr_assert_eq(run_node(only_pki, 1, false, false, &res, &eerr), -EKEYREJECTED, "%s",
		     eerr.msg);
	cr_expect_eq(eerr.wire_code, WIRE_ERR_AUTH_FAILED);
	cr_expect_not_null(strstr(eerr.msg, "presented none"), "%s", eerr.msg);
}

Test(pki, m2msactl_establish_with_pki_then_psk)
{
	char *ctl = ctl_path(), *kc_file = path("kc.bin");
	const char *argv[] = { ctl, "establish", "--config", fx.node_conf, "--json", "--key-out",
			       kc_file, NULL };
	char *out = NULL, *err = NULL, *kc = NULL, *p;
	char key_id[WIRE_KEY_ID_MAX + 1] = "";
	size_t kc_len = 0;
	int status = -1;

	add_node(NODE, pki_psk, 2);
	provision_km();
	enrol(NODE, "node-ca", false);
	cr_assert_eq(harness_run(argv, NULL, NULL, &status, &out, &err), 0);
	cr_assert_eq(status, 0, "m2msactl establish failed: %s", err);
	cr_expect_not_null(strstr(out, "\"method\":\"pki\""), "%s", out);
	p = strstr(out, "\"key_id\":\"");
	cr_assert_not_null(p, "%s", out);
	sscanf(p + strlen("\"key_id\":\""), "%255[^\"]", key_id);
	cr_assert_eq(harness_read_file(kc_file, &kc, &kc_len), 0);
	cr_assert_eq(kc_len, 32);
	assert_target_gets(key_id, (const uint8_t *)kc);
	fixture_assert_key_absent(out, strlen(out), (const uint8_t *)kc, "m2msactl stdout");
	fixture_assert_key_absent(err, strlen(err), (const uint8_t *)kc, "m2msactl stderr");
	secret_wipe(kc, kc_len);
	free(kc);
	free(out);
	free(err);
	free(ctl);
	free(kc_file);
}

/* ---- the agent m2msad with method pki ---- */

struct agent {
	pid_t pid;
	char *conf, *log, *sock;
};

static void agent_start(struct agent *a, const char *methods)
{
	char *node_extra = harness_strdupf("node_id = " NODE "\nmethods = %s\n", methods);
	char *clients_dir = path("clients.d");

	a->conf = path("m2msad-agent.conf");
	a->log = path("m2msad.log");
	a->sock = path("agent.sock");
	/* backoff 1..2 s: a node waiting for its certificate retries often in the test. */
	mas_fixture_write_agent_conf(&fx.mas, a->conf,
				     &(struct fixture_agent_conf){
					     .tcti = harness_swtpm_tcti(fx.tpm),
					     .node_extra = node_extra,
					     .timeout_s = 5,
					     .backoff_min_s = 1,
					     .backoff_max_s = 2,
					     .sock = a->sock,
					     .clients_dir = clients_dir,
				     });
	free(node_extra);
	free(clients_dir);
	a->pid = fixture_start_agent(a->conf, a->log, a->sock, 400);
}

/* SIGTERM; asserts m2msad was still running and exits 0 on it. */
static void agent_stop(struct agent *a)
{
	int status = -1;

	cr_assert_eq(waitpid(a->pid, &status, WNOHANG), 0, "m2msad exited early (0x%x), see %s",
		     status, a->log);
	kill(a->pid, SIGTERM);
	cr_assert_eq(waitpid(a->pid, &status, 0), a->pid);
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "m2msad: status 0x%x", status);
	free(a->conf);
	free(a->log);
	free(a->sock);
	memset(a, 0, sizeof(*a));
}

static char *agent_log(const struct agent *a)
{
	return fixture_read_text(a->log);
}

/* Wait until the agent's log holds needle n times (60 s at most, a slow shared machine). */
static void agent_wait_log(const struct agent *a, const char *needle, int n)
{
	fixture_wait_log_count(a->log, needle, n, 600, 100);
}

/* m2msactl get-key --json --show-key for ae ("" : the CSE): key ID and key bytes. */
static void agent_get_key(const struct agent *a, const char *ae, char key_id[WIRE_KEY_ID_MAX + 1],
			  uint8_t key[32])
{
	char *ctl = ctl_path(), *out = NULL, *err = NULL, hex[65] = "";
	const char *argv[] = { ctl, "get-key", "--json", "--show-key", "--socket", a->sock,
			       ae[0] ? "--ae" : NULL, ae, NULL };
	const char *p;
	int status = -1;

	cr_assert_eq(harness_run(argv, NULL, NULL, &status, &out, &err), 0);
	cr_assert_eq(status, 0, "m2msactl get-key %s failed: %s", ae, err);
	p = strstr(out, "\"key_id\":\"");
	cr_assert_not_null(p, "%s", out);
	cr_assert_eq(sscanf(p + strlen("\"key_id\":\""), "%255[^\"]", key_id), 1);
	p = strstr(out, "\"key\":\"");
	cr_assert_not_null(p, "%s", out);
	cr_assert_eq(sscanf(p + strlen("\"key\":\""), "%64[0-9a-f]", hex), 1);
	cr_assert_eq(strlen(hex), 64, "%s", out);
	for (int i = 0; i < 32; i++)
		cr_assert_eq(sscanf(hex + 2 * i, "%2hhx", &key[i]), 1);
	secret_wipe(hex, sizeof(hex));
	secret_wipe(out, strlen(out));
	free(out);
	free(err);
	free(ctl);
}

Test(pki, m2msad_with_pki_serves_keys_the_target_retrieves)
{
	struct agent a;
	uint8_t kc[32], ae_key[32];
	char kc_id[WIRE_KEY_ID_MAX + 1], ae_id[WIRE_KEY_ID_MAX + 1];
	char *log;

	add_node(NODE, only_pki, 1);
	/* No Km in the TPM at all: a pki node needs only its certificate and signing key. */
	enrol(NODE, "node-ca", false);
	agent_start(&a, "pki");
	agent_wait_log(&a, "(pki, " SA_SUITE_PSK ")", 1);
	cr_assert_eq(mas_fixture_count_assocs(&fx.mas), 1);

	/* The CSE's key: Kc straight from the TLS exporter, as the target gets it. */
	agent_get_key(&a, "", kc_id, kc);
	assert_target_gets(kc_id, kc);
	/* An AE's key: derived from the pki AE root, retrievable by its key ID alone. */
	agent_get_key(&a, "CAE1", ae_id, ae_key);
	cr_expect(strncmp(ae_id, kc_id, 2 * SA_KCID_LEN) == 0, "%s and %s: not one association",
		  ae_id, kc_id);
	cr_expect(memcmp(ae_key, kc, 32) != 0, "the AE key equals Kc");
	assert_target_gets(ae_id, ae_key);
	agent_stop(&a);

	log = mas_fixture_read_log(&fx.mas);
	fixture_assert_key_absent(log, strlen(log), kc, "m2masd log (Kc)");
	fixture_assert_key_absent(log, strlen(log), ae_key, "m2masd log (AE key)");
	free(log);
	a.log = path("m2msad.log");
	log = agent_log(&a);
	fixture_assert_key_absent(log, strlen(log), kc, "m2msad log (Kc)");
	fixture_assert_key_absent(log, strlen(log), ae_key, "m2msad log (AE key)");
	free(log);
	free(a.log);
	secret_wipe(kc, sizeof(kc));
	secret_wipe(ae_key, sizeof(ae_key));
}

Test(pki, m2msad_with_pki_and_no_certificate_says_what_to_do_and_stays_up)
{
	struct agent a;
	char *log, *crt = path("node/" TPM_NODE_CERT_FILE);
	char want[512];

	add_node(NODE, only_pki, 1);
	agent_start(&a, "pki");
	snprintf(want, sizeof(want),
		 "method pki is configured but the node certificate %s is missing (run m2msactl "
		 "pki-keygen",
		 crt);
	/* Retried with backoff, not a crash loop: the same clear line, twice, same process. */
	agent_wait_log(&a, want, 2);
	log = agent_log(&a);
	cr_expect_not_null(strstr(log, "then m2msactl pki-install --cert FILE"), "%s", log);
	cr_expect_null(strstr(log, "m2msactl provision"), "a pki node was told to provision Km");
	free(log);
	cr_assert_eq(waitpid(a.pid, NULL, WNOHANG), 0, "m2msad exited without a certificate");
	cr_expect_eq(mas_fixture_count_assocs(&fx.mas), 0);

	/* Enrolled while it runs: the next retry establishes with pki, no restart needed. */
	enrol(NODE, "node-ca", false);
	agent_wait_log(&a, "(pki, " SA_SUITE_PSK ")", 1);
	cr_expect_eq(mas_fixture_count_assocs(&fx.mas), 1);
	agent_stop(&a);
	free(crt);
}
