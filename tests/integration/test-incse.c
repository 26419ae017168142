/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The IN-CSE side end to end: the real m2masd on 127.0.0.1 with an association
 * put straight into its store, the IN-CSE stand-in (examples/incse-standin.c)
 * retrieving keys from it over mutual TLS, and TLS 1.3 PSK clients: our
 * m2msa-ae-client, and OpenSSL's s_client for interoperability.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/crypto.h"
#include "common/tls.h"
#include "common/sa.h"
#include "common/secret.h"
#include "common/wire.h"
#include "mas/retrieve-client.h"
#include "fixture.h"
#include "harness.h"
#include "mas/store.h"

#define NODE "/mn-cse-1"
#define TARGET FIXTURE_TARGET
#define FQDN FIXTURE_FQDN
#define SUITE_LINE "psk handshake ok (TLS1.3, TLS13-AES128-GCM-SHA256)"

struct fixture {
	struct mas_fixture mas;
	pid_t standins[16]; /* stand-ins not yet reaped: killed in teardown if a test fails */
};

static struct fixture fx;

/* One association in the store: its key ID and keys. */
struct assoc {
	uint8_t kcid[SA_KCID_LEN];
	uint8_t kc[32];
	uint8_t ae_root[32];
	char key_id[WIRE_KEY_ID_MAX + 1];
};

/* A running stand-in. */
struct standin {
	pid_t pid;
	uint16_t port;
	char *log;
};

static const char *builddir(void)
{
	return fixture_builddir();
}

static char *path(const char *name)
{
	return mas_fixture_path(&fx.mas, name);
}

static void hex(const uint8_t *b, size_t len, char *out)
{
	for (size_t i = 0; i < len; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

static struct store *open_store(void)
{
	return mas_fixture_store(&fx.mas);
}

static void setup(void)
{
	static const uint8_t psk[] = { WIRE_METHOD_PSK };
	uint8_t km[32];

	mas_fixture_init(&fx.mas);
	mas_fixture_write_conf(&fx.mas, "handshake_timeout = 5s\n");
	cr_assert_eq(crypto_random(km, sizeof(km)), 0);
	mas_fixture_add_node(&fx.mas, NODE, km, psk, 1, 0);
	secret_wipe(km, sizeof(km));
	mas_fixture_start(&fx.mas, NULL, NULL);
}

static void teardown(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(fx.standins); i++)
		if (fx.standins[i] > 0) {
			kill(fx.standins[i], SIGKILL);
			waitpid(fx.standins[i], NULL, 0);
		}
	mas_fixture_fini(&fx.mas);
	memset(&fx, 0, sizeof(fx));
}

TestSuite(incse, .init = setup, .fini = teardown, .timeout = 120);

/* Register an association for NODE with target TARGET, random keys, expiry now + lifetime. */
static void add_assoc(uint64_t lifetime, struct assoc *ret)
{
	struct store_assoc a = { .method = WIRE_METHOD_PSK };
	struct store *s;

	cr_assert_eq(crypto_random(ret->kcid, sizeof(ret->kcid)), 0);
	cr_assert_eq(crypto_random(ret->kc, sizeof(ret->kc)), 0);
	cr_assert_eq(crypto_random(ret->ae_root, sizeof(ret->ae_root)), 0);
	memcpy(a.kcid, ret->kcid, sizeof(a.kcid));
	snprintf(a.node_id, sizeof(a.node_id), "%s", NODE);
	snprintf(a.target_id, sizeof(a.target_id), "%s", TARGET);
	a.created = (uint64_t)time(NULL);
	a.expiry = a.created + lifetime;
	s = open_store();
	cr_assert_eq(store_assoc_add(s, &a, ret->kc, ret->ae_root), 0);
	store_close(s);
	cr_assert_eq(sa_key_id_format(ret->kcid, NULL, FQDN, ret->key_id, sizeof(ret->key_id)), 0);
}

static void ae_key_id(const struct assoc *a, const char *ae_id, char *buf, size_t len)
{
	cr_assert_eq(sa_key_id_format(a->kcid, ae_id, FQDN, buf, len), 0);
}

/* Start the stand-in with the certificate pki/<cert>.crt; --once unless forever. */
static void standin_start(const char *cert, bool once, struct standin *ret)
{
	char *exe = harness_strdupf("%s/examples/m2msa-incse-standin", builddir());
	char *mas = harness_strdupf("127.0.0.1:%u", fx.mas.ret_port);
	char *ca = path("pki/ca.crt");
	char *crt = harness_strdupf("%s/pki/%s.crt", fx.mas.dir, cert);
	char *key = harness_strdupf("%s/pki/%s.key", fx.mas.dir, cert);
	static int n;
	int id = n++;
	char *pf = harness_strdupf("%s/standin-%d.port", fx.mas.dir, id);
	char *content = NULL;
	size_t len;

	ret->log = harness_strdupf("%s/standin-%d.log", fx.mas.dir, id);
	cr_assert_lt((size_t)id, ARRAY_SIZE(fx.standins), "too many stand-ins in one test");
	ret->pid = fork();
	cr_assert_geq(ret->pid, 0);
	if (ret->pid > 0)
		fx.standins[id] = ret->pid;
	if (ret->pid == 0) {
		if (!freopen(ret->log, "w", stderr) || !freopen("/dev/null", "w", stdout))
			_exit(126);
		execl(exe, exe, "--listen", "127.0.0.1:0", "--mas", mas, "--mas-ca", ca,
		      "--mas-name", FQDN, "--cert", crt, "--key", key, "--port-file", pf,
		      "--log-level", "debug", once ? "--once" : (char *)NULL, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 100; i++) {
		if (harness_read_file(pf, &content, &len) == 0 && strchr(content, '\n'))
			break;
		free(content);
		content = NULL;
		usleep(50 * 1000);
	}
	cr_assert_not_null(content, "the stand-in did not write its port file (see %s)", ret->log);
	cr_assert_eq(sscanf(content, "%hu", &ret->port), 1);
	free(content);
	free(exe);
	free(mas);
	free(ca);
	free(crt);
	free(key);
	free(pf);
}

/* Wait for the stand-in to exit; returns its exit status and its log (free()). */
static int standin_wait(struct standin *st, char **ret_log)
{
	int status = -1;
	size_t len;

	cr_assert_eq(waitpid(st->pid, &status, 0), st->pid);
	for (size_t i = 0; i < ARRAY_SIZE(fx.standins); i++)
		if (fx.standins[i] == st->pid)
			fx.standins[i] = 0;
	cr_assert(WIFEXITED(status), "the stand-in died from a signal");
	cr_assert_eq(harness_read_file(st->log, ret_log, &len), 0);
	free(st->log);
	st->log = NULL;
	return WEXITSTATUS(status);
}

/* Run m2msa-ae-client; returns its exit status, stdout and stderr (free()). */
static int ae_client(uint16_t port, const char *key_id, const uint8_t key[32], char **ret_out,
		     char **ret_err)
{
	char *exe = harness_strdupf("%s/examples/m2msa-ae-client", builddir());
	char *addr = harness_strdupf("127.0.0.1:%u", port);
	char khex[65];
	const char *argv[] = { exe, "--connect", addr, "--key-id", key_id, "--key-hex", khex, NULL };
	int status = -1;

	hex(key, 32, khex);
	cr_assert_eq(harness_run(argv, NULL, NULL, &status, ret_out, ret_err), 0);
	secret_wipe(khex, sizeof(khex));
	free(exe);
	free(addr);
	return status;
}

/* No log of the run may hold the key bytes, in hex either case. */
static void assert_key_not_in(const char *text, const uint8_t key[32])
{
	char khex[65];

	hex(key, 32, khex);
	cr_assert_null(strcasestr(text, khex), "key bytes appear in a log");
	secret_wipe(khex, sizeof(khex));
}

static void assert_key_not_in_mas_log(const uint8_t key[32])
{
	char *p = path("m2masd.log"), *log = NULL;
	size_t len;

	cr_assert_eq(harness_read_file(p, &log, &len), 0);
	assert_key_not_in(log, key);
	free(log);
	free(p);
}

Test(incse, node_key_handshake_ok_reply_names_node)
{
	struct assoc a;
	struct standin st;
	char *out = NULL, *err = NULL, *log = NULL, *want;
	int rc;

	add_assoc(60, &a);
	standin_start("target", true, &st);
	rc = ae_client(st.port, a.key_id, a.kc, &out, &err);
	cr_assert_eq(rc, 0, "client failed: %s", err);
	want = harness_strdupf("OK " NODE " - ");
	cr_assert_not_null(strstr(out, want), "unexpected reply: %s", out);
	cr_assert_not_null(strstr(out, SUITE_LINE), "no handshake line: %s", out);
	cr_assert_eq(standin_wait(&st, &log), 0, "stand-in failed: %s", log);
	cr_assert_not_null(strstr(log, a.key_id), "stand-in did not log the key ID: %s", log);
	assert_key_not_in(log, a.kc);
	assert_key_not_in(out, a.kc);
	assert_key_not_in(err, a.kc);
	assert_key_not_in_mas_log(a.kc);
	free(want);
	free(out);
	free(err);
	free(log);
}

Test(incse, wrong_key_fails_both_sides)
{
	struct assoc a;
	struct standin st;
	uint8_t wrong[32];
	char *out = NULL, *err = NULL, *log = NULL;

	add_assoc(60, &a);
	memcpy(wrong, a.kc, sizeof(wrong));
	wrong[0] ^= 0x01;
	standin_start("target", true, &st);
	cr_assert_eq(ae_client(st.port, a.key_id, wrong, &out, &err), 1);
	cr_assert_null(strstr(out, "psk handshake ok"), "client claims success: %s", out);
	cr_assert_not_null(strstr(err, "handshake"), "client gave no reason: %s", err);
	cr_assert_eq(standin_wait(&st, &log), 1, "stand-in accepted a wrong key: %s", log);
	assert_key_not_in(log, a.kc);
	free(out);
	free(err);
	free(log);
}

Test(incse, per_ae_key_ok_other_ae_key_fails)
{
	struct assoc a;
	struct standin st;
	uint8_t k1[32], k2[32];
	char id[WIRE_KEY_ID_MAX + 1];
	char *out = NULL, *err = NULL, *log = NULL;

	add_assoc(60, &a);
	ae_key_id(&a, "C-ae1", id, sizeof(id));
	cr_assert_eq(sa_ae_key(a.ae_root, "C-ae1", k1), 0);
	cr_assert_eq(sa_ae_key(a.ae_root, "C-ae2", k2), 0);

	/* C-ae1's key under C-ae1's key ID. */
	standin_start("target", true, &st);
	cr_assert_eq(ae_client(st.port, id, k1, &out, &err), 0, "client failed: %s", err);
	cr_assert_not_null(strstr(out, "OK " NODE " C-ae1 "), "unexpected reply: %s", out);
	cr_assert_eq(standin_wait(&st, &log), 0, "stand-in failed: %s", log);
	assert_key_not_in(log, k1);
	free(out);
	free(err);
	free(log);

	/* Another AE's key under the same key ID. */
	standin_start("target", true, &st);
	cr_assert_eq(ae_client(st.port, id, k2, &out, &err), 1, "another AE's key worked: %s", out);
	cr_assert_eq(standin_wait(&st, &log), 1, "stand-in accepted another AE's key: %s", log);
	free(out);
	free(err);
	free(log);

	/* The node's Kc under the AE's key ID. */
	standin_start("target", true, &st);
	cr_assert_eq(ae_client(st.port, id, a.kc, &out, &err), 1, "Kc worked as an AE key");
	cr_assert_eq(standin_wait(&st, &log), 1);
	free(out);
	free(err);
	free(log);
	secret_wipe(k1, sizeof(k1));
	secret_wipe(k2, sizeof(k2));
}

Test(incse, expired_association_fails_psk_handshake)
{
	struct assoc a;
	struct standin st;
	char *out = NULL, *err = NULL, *log = NULL;

	add_assoc(1, &a);
	sleep(2);
	standin_start("target", true, &st);
	cr_assert_eq(ae_client(st.port, a.key_id, a.kc, &out, &err), 1,
		     "expired key accepted: %s", out);
	cr_assert_eq(standin_wait(&st, &log), 1);
	cr_assert_not_null(strcasestr(log, "expired"), "stand-in log gives no reason: %s", log);
	free(out);
	free(err);
	free(log);
}

Test(incse, unknown_key_id_fails)
{
	struct assoc a;
	struct standin st;
	char *out = NULL, *err = NULL, *log = NULL, *want;

	add_assoc(60, &a);
	a.kcid[0] ^= 0xff; /* a key ID the MAS never issued */
	cr_assert_eq(sa_key_id_format(a.kcid, NULL, FQDN, a.key_id, sizeof(a.key_id)), 0);
	standin_start("target", true, &st);
	cr_assert_eq(ae_client(st.port, a.key_id, a.kc, &out, &err), 1);
	cr_assert_eq(standin_wait(&st, &log), 1);
	want = harness_strdupf("MAS refused key ID %s: %s", a.key_id,
			       wire_error_code_to_string(WIRE_ERR_UNKNOWN_KEY));
	cr_assert_not_null(strstr(log, want), "expected '%s' in: %s", want, log);
	free(want);
	free(out);
	free(err);
	free(log);
}

Test(incse, other_target_is_refused_by_mas)
{
	struct assoc a;
	struct standin st;
	char *out = NULL, *err = NULL, *log = NULL, *want;

	add_assoc(60, &a);
	standin_start("other-target", true, &st);
	cr_assert_eq(ae_client(st.port, a.key_id, a.kc, &out, &err), 1);
	cr_assert_eq(standin_wait(&st, &log), 1);
	want = harness_strdupf("MAS refused key ID %s: %s", a.key_id,
			       wire_error_code_to_string(WIRE_ERR_NOT_AUTHORISED));
	cr_assert_not_null(strstr(log, want), "expected '%s' in: %s", want, log);
	free(want);
	free(out);
	free(err);
	free(log);
}

/* Not a key ID (TS-0003 10.4 character set): refused before the MAS is asked. */
Test(incse, malformed_identity_refused)
{
	struct standin st;
	char *log = NULL, *out = NULL, *khex = NULL;
	char *addr;
	int status = -1;
	uint8_t key[32];

	if (!harness_have_program("openssl"))
		cr_skip_test("openssl is not installed (apt install openssl)");
	cr_assert_eq(crypto_random(key, sizeof(key)), 0);
	khex = calloc(1, 65);
	hex(key, 32, khex);
	standin_start("target", true, &st);
	addr = harness_strdupf("127.0.0.1:%u", st.port);
	{
		const char *argv[] = { "openssl", "s_client", "-tls1_3", "-quiet", "-psk", khex,
				       "-psk_identity", "0123/../etc@mas.test", "-ciphersuites",
				       "TLS_AES_128_GCM_SHA256", "-connect", addr, NULL };

		cr_assert_eq(harness_run(argv, NULL, "hello\n", &status, &out, NULL), 0);
	}
	cr_assert_null(strstr(out, "OK "), "malformed identity was served: %s", out);
	cr_assert_eq(standin_wait(&st, &log), 1);
	cr_assert_not_null(strstr(log, "is not a key ID"), "no reason logged: %s", log);
	free(addr);
	free(out);
	free(log);
	free(khex);
}

Test(incse, openssl_s_client_interop)
{
	struct assoc a;
	struct standin st;
	char *out = NULL, *err = NULL, *log = NULL, *addr, *want;
	char khex[65];
	int status = -1;

	if (!harness_have_program("openssl"))
		cr_skip_test("openssl is not installed (apt install openssl)");
	add_assoc(60, &a);
	hex(a.kc, 32, khex);
	standin_start("target", true, &st);
	addr = harness_strdupf("127.0.0.1:%u", st.port);
	{
		/* -ign_eof: keep reading after stdin ends, print the session summary. */
		const char *argv[] = { "openssl", "s_client", "-tls1_3", "-ign_eof", "-psk", khex,
				       "-psk_identity", a.key_id, "-ciphersuites",
				       "TLS_AES_128_GCM_SHA256", "-connect", addr, NULL };

		cr_assert_eq(harness_run(argv, NULL, "hello\n", &status, &out, &err), 0);
	}
	want = harness_strdupf("OK " NODE " - ");
	cr_assert_not_null(strstr(out, want), "s_client got no reply (status %d): %s / %s", status,
			   out, err);
	/* OpenSSL reports a PSK handshake as "Reused"; a temp key means psk_dhe_ke (ECDHE). */
	cr_assert_not_null(strstr(out, "Reused, TLSv1.3, Cipher is TLS_AES_128_GCM_SHA256"),
			   "not a TLS 1.3 PSK session: %s", out);
	cr_assert_not_null(strstr(out, "Server Temp Key:"), "no ECDHE (psk_dhe_ke): %s", out);
	cr_assert_eq(standin_wait(&st, &log), 0, "stand-in failed with s_client: %s", log);
	cr_assert_not_null(strstr(log, "TLS13-AES128-GCM-SHA256"), "suite not logged: %s", log);
	secret_wipe(khex, sizeof(khex));
	free(want);
	free(addr);
	free(out);
	free(err);
	free(log);
}

Test(incse, openssl_s_client_wrong_key_fails)
{
	struct assoc a;
	struct standin st;
	char *out = NULL, *log = NULL, *addr;
	char khex[65];
	int status = -1;

	if (!harness_have_program("openssl"))
		cr_skip_test("openssl is not installed (apt install openssl)");
	add_assoc(60, &a);
	a.kc[31] ^= 0x80;
	hex(a.kc, 32, khex);
	standin_start("target", true, &st);
	addr = harness_strdupf("127.0.0.1:%u", st.port);
	{
		const char *argv[] = { "openssl", "s_client", "-tls1_3", "-quiet", "-psk", khex,
				       "-psk_identity", a.key_id, "-ciphersuites",
				       "TLS_AES_128_GCM_SHA256", "-connect", addr, NULL };

		cr_assert_eq(harness_run(argv, NULL, "hello\n", &status, &out, NULL), 0);
	}
	cr_assert_null(strstr(out, "OK "), "wrong key was served: %s", out);
	cr_assert_neq(status, 0);
	cr_assert_eq(standin_wait(&st, &log), 1);
	free(addr);
	free(out);
	free(log);
}

/* Without --once: several clients one after another, SIGTERM exits 0. */
Test(incse, serves_many_and_exits_0_on_sigterm)
{
	struct assoc a;
	struct standin st;
	uint8_t wrong[32] = { 0 };
	char *out = NULL, *err = NULL, *log = NULL;

	add_assoc(60, &a);
	standin_start("target", false, &st);
	cr_assert_eq(ae_client(st.port, a.key_id, a.kc, &out, &err), 0, "%s", err);
	free(out);
	free(err);
	cr_assert_eq(ae_client(st.port, a.key_id, wrong, &out, &err), 1);
	free(out);
	free(err);
	cr_assert_eq(ae_client(st.port, a.key_id, a.kc, &out, &err), 0, "%s", err);
	cr_assert_not_null(strstr(out, "OK " NODE " - "));
	free(out);
	free(err);
	cr_assert_eq(kill(st.pid, SIGTERM), 0);
	cr_assert_eq(standin_wait(&st, &log), 0, "SIGTERM did not exit 0: %s", log);
	free(log);
}

/* The retrieval client on its own (mas/retrieve-client.c). */
Test(incse, retrieve_key_direct)
{
	struct assoc a;
	struct retrieve_client *c = NULL, *other = NULL;
	struct wire_key_response resp;
	struct retrieve_refusal refusal = { 0 };
	char err[RETRIEVE_ERR_MAX] = "", id[WIRE_KEY_ID_MAX + 1];
	char *mas = harness_strdupf("127.0.0.1:%u", fx.mas.ret_port), *ca = path("pki/ca.crt");
	char *crt = path("pki/target.crt"), *key = path("pki/target.key");
	char *ocrt = path("pki/other-target.crt"), *okey = path("pki/other-target.key");
	struct retrieve_conf conf = { .mas = mas, .mas_ca = ca, .mas_name = FQDN, .cert = crt,
				      .key = key };
	struct retrieve_conf oconf = conf;
	uint8_t k1[32];

	oconf.cert = ocrt;
	oconf.key = okey;
	add_assoc(60, &a);
	cr_assert_eq(retrieve_client_new(&conf, &c, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(retrieve_client_new(&oconf, &other, err, sizeof(err)), 0, "%s", err);

	cr_assert_eq(retrieve_key(c, a.key_id, &resp, &refusal, err, sizeof(err)), 0, "%s", err);
	cr_assert(secret_equal(resp.key, a.kc, 32), "retrieved key is not Kc");
	cr_assert_str_eq(resp.node_id, NODE);
	cr_assert_str_eq(resp.ae_id, "");
	cr_assert_eq(resp.suid, SA_SUID);
	cr_assert_gt(resp.expiry, (uint64_t)time(NULL));
	secret_wipe(&resp, sizeof(resp));

	ae_key_id(&a, "C-ae1", id, sizeof(id));
	cr_assert_eq(sa_ae_key(a.ae_root, "C-ae1", k1), 0);
	cr_assert_eq(retrieve_key(c, id, &resp, NULL, err, sizeof(err)), 0, "%s", err);
	cr_assert(secret_equal(resp.key, k1, 32), "retrieved key is not C-ae1's key");
	cr_assert_str_eq(resp.ae_id, "C-ae1");
	secret_wipe(&resp, sizeof(resp));

	cr_assert_eq(retrieve_key(other, a.key_id, &resp, &refusal, err, sizeof(err)), -EACCES);
	cr_assert_eq(refusal.code, WIRE_ERR_NOT_AUTHORISED);
	cr_assert_not_null(strstr(err, wire_error_code_to_string(WIRE_ERR_NOT_AUTHORISED)), "%s",
			   err);

	cr_assert_eq(retrieve_key(c, "not a key id", &resp, NULL, err, sizeof(err)), -EINVAL);

	retrieve_client_free(c);
	retrieve_client_free(other);
	secret_wipe(k1, sizeof(k1));
	free(mas);
	free(ca);
	free(crt);
	free(key);
	free(ocrt);
	free(okey);
}

/* A MAS certificate that does not carry --mas-name is not trusted. */
Test(incse, retrieve_rejects_wrong_mas_name)
{
	struct assoc a;
	struct retrieve_client *c = NULL;
	struct wire_key_response resp;
	char err[RETRIEVE_ERR_MAX] = "";
	char *mas = harness_strdupf("127.0.0.1:%u", fx.mas.ret_port), *ca = path("pki/ca.crt");
	char *crt = path("pki/target.crt"), *key = path("pki/target.key");
	struct retrieve_conf conf = { .mas = mas, .mas_ca = ca, .mas_name = "evil.test",
				      .cert = crt, .key = key };
	int r;

	add_assoc(60, &a);
	cr_assert_eq(retrieve_client_new(&conf, &c, err, sizeof(err)), 0, "%s", err);
	r = retrieve_key(c, a.key_id, &resp, NULL, err, sizeof(err));
	cr_assert(r < 0 && r != -EACCES, "retrieval from a misnamed MAS: %d", r);
	retrieve_client_free(c);
	free(mas);
	free(ca);
	free(crt);
	free(key);
}

/* A wolfSSL PSK client that offers psk_ke only (no ECDHE), for the test below. */
static const char *psk_ke_identity;
static const uint8_t *psk_ke_key;

static unsigned int psk_ke_cb(WOLFSSL *ssl, const char *hint, char *identity,
			      unsigned int id_max_len, unsigned char *key, unsigned int key_max_len,
			      const char **ciphersuite)
{
	if (strlen(psk_ke_identity) >= id_max_len || key_max_len < 32)
		return 0;
	strcpy(identity, psk_ke_identity);
	memcpy(key, psk_ke_key, 32);
	*ciphersuite = SA_SUITE_PSK;
	return 32;
}

/* psk_ke has no forward secrecy: the stand-in refuses it even with the right key. */
Test(incse, psk_ke_without_ecdhe_refused)
{
	struct assoc a;
	struct standin st;
	WOLFSSL_CTX *ctx;
	WOLFSSL *ssl;
	char *log = NULL, buf[64];
	int fd, r;

	add_assoc(60, &a);
	standin_start("target", true, &st);
	cr_assert_eq(tls_init(), 0);
	ctx = wolfSSL_CTX_new(wolfTLSv1_3_client_method());
	cr_assert_not_null(ctx);
	cr_assert_eq(wolfSSL_CTX_set_cipher_list(ctx, SA_SUITE_PSK), WOLFSSL_SUCCESS);
	wolfSSL_CTX_set_psk_client_tls13_callback(ctx, psk_ke_cb);
	psk_ke_identity = a.key_id;
	psk_ke_key = a.kc;
	fd = tcp_connect("127.0.0.1", st.port, 5000);
	cr_assert_geq(fd, 0);
	ssl = wolfSSL_new(ctx);
	cr_assert_not_null(ssl);
	cr_assert_eq(wolfSSL_no_dhe_psk(ssl), 0);
	cr_assert_eq(wolfSSL_set_fd(ssl, fd), WOLFSSL_SUCCESS);
	r = wolfSSL_connect(ssl);
	if (r == WOLFSSL_SUCCESS) {
		/* Handshake done without ECDHE: the stand-in must close without a reply. */
		wolfSSL_write(ssl, "hello\n", 6);
		cr_assert_leq(wolfSSL_read(ssl, buf, sizeof(buf)), 0, "stand-in answered a psk_ke client");
	}
	wolfSSL_free(ssl);
	close(fd);
	wolfSSL_CTX_free(ctx);
	cr_assert_eq(standin_wait(&st, &log), 1, "stand-in accepted psk_ke: %s", log);
	cr_assert_not_null(strstr(log, "psk_ke"), "no reason logged: %s", log);
	free(log);
}
