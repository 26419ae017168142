/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Revocation and expiry of pairwise keys reach both agents (docs/protocol.md
 * §14.6): the real m2masd, two nodes with Km in two real swtpms, two real
 * m2msad with [agent] peer_check_interval = 5s. Cae1 on node A registers a key
 * towards /mn-cse-2/Cae2, Cae2 on node B resolves it, each with a subscriber on
 * its own agent; `m2masctl peer-key revoke` (or the key's expiry) must reach
 * both subscribers as an event, and the key must not resolve afresh. Root acts
 * as the AEs here (test-peer-agent covers the clients.d side).
 * A check that fails for a local reason keeps the key and pushes no event: the
 * MAS stopped for a while, and (node A a pki node) the node certificate made
 * unreadable for an m2msad without CAP_DAC_OVERRIDE (setpriv), a real -EACCES.
 * A MAS of protocol version 3, which cannot check, is a FAKE (fake_v3_mas()):
 * m2masd speaks version 4 and cannot be made to refuse it.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <m2msa/m2msa.h>

#include "common/crypto.h"
#include "common/frame.h"
#include "common/secret.h"
#include "common/tls.h"
#include "fixture.h"
#include "harness.h"

#define NODE_A "/mn-cse-1"
#define NODE_B "/mn-cse-2"
#define TARGET "/mn-cse-2/Cae2"
#define CHECK_S 5
/* The longest a revoked key may stay cached: 1.25 x the interval + one exchange timeout. */
#define REVOKE_BOUND_S (CHECK_S * 5 / 4 + 5 + 2)

struct agent {
	const char *name, *node_id;
	struct harness_swtpm *tpm;
	uint8_t km[32];
	pid_t pid;
	char *sock, *log, *conf;
};

static struct mas_fixture mas;
static struct agent ag_a = { .name = "a", .node_id = NODE_A },
		    ag_b = { .name = "b", .node_id = NODE_B };

/* Run a program, which must exit 0. */
static void run_ok(const char *const *argv)
{
	char *out = NULL, *err = NULL;
	int status = -1;

	cr_assert_eq(harness_run(argv, NULL, NULL, &status, &out, &err), 0);
	cr_assert_eq(status, 0, "%s %s exited %d: %s%s", argv[0], argv[1], status, out, err);
	free(out);
	free(err);
}

/* Method pki for a's node: a TPM key, its CSR signed by the test node CA, installed. */
static void enrol(const struct agent *a)
{
	char *ctl = harness_strdupf("%s/m2msactl/m2msactl", fixture_builddir());
	char *csr = harness_strdupf("%s/node-%s.csr", mas.dir, a->name);
	char *crt = harness_strdupf("%s/node-%s-issued.crt", mas.dir, a->name);
	char *subject = harness_strdupf("CN=%s,O=m2msa test", a->node_id);
	char *pki = harness_strdupf("%s/pki", mas.dir);
	char *script = harness_strdupf("%s/tests/integration/mkcerts.sh", getenv("SRCDIR"));
	const char *keygen[] = { ctl, "pki-keygen", "--config", a->conf, "--subject", subject,
				 "--out", csr, NULL };
	const char *sign[] = { "sh", script, "sign-csr", pki, "node-ca", csr, crt, NULL };
	const char *install[] = { ctl, "pki-install", "--config", a->conf, "--cert", crt, NULL };

	run_ok(keygen);
	run_ok(sign);
	run_ok(install);
	free(ctl), free(csr), free(crt), free(subject), free(pki), free(script);
}

/*
 * pki: the node offers method pki only (its certificate enrolled first), and
 * m2msad runs without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH, so that a file
 * root cannot read by its mode is refused to it as to any user (-EACCES).
 */
static void agent_start(struct agent *a, uint64_t lifetime, bool pki)
{
	static const uint8_t psk = WIRE_METHOD_PSK, pki_m = WIRE_METHOD_PKI;
	static const char *const no_dac[] = { "setpriv", "--bounding-set",
					      "-dac_override,-dac_read_search", NULL };
	char *state = harness_strdupf("%s/node-%s", mas.dir, a->name), *text;

	cr_assert_eq(harness_swtpm_start(NULL, &a->tpm), 0);
	cr_assert_eq(crypto_random(a->km, 32), 0);
	fixture_provision_km(harness_swtpm_tcti(a->tpm), state, a->node_id, "km-1@" FIXTURE_FQDN,
			     a->km);
	mas_fixture_add_node(&mas, a->node_id, a->km, pki ? &pki_m : &psk, 1, lifetime);
	a->sock = harness_strdupf("%s/agent-%s.sock", mas.dir, a->name);
	a->log = harness_strdupf("%s/m2msad-%s.log", mas.dir, a->name);
	a->conf = harness_strdupf("%s/m2msad-%s.conf", mas.dir, a->name);
	text = harness_strdupf("[node]\nstate_dir = %s\ntcti = %s\n%s"
			       "[mas]\naddress = 127.0.0.1:%u\nca = %s/pki/ca.crt\n"
			       "server_name = " FIXTURE_FQDN "\ntimeout = 5s\n"
			       "[agent]\nstatus_file = %s/status-%s.json\nbackoff_min = 1s\n"
			       "backoff_max = 2s\nsocket = %s\nclients_dir = %s/none.d\n"
			       "peer_check_interval = %ds\n",
			       state, harness_swtpm_tcti(a->tpm),
			       pki ? "node_id = " NODE_A "\nmethods = pki\n" : "", mas.est_port,
			       mas.dir, mas.dir, a->name, a->sock, mas.dir, CHECK_S);
	cr_assert_eq(harness_write_file(a->conf, text, strlen(text), 0644), 0);
	free(text);
	free(state);
	if (pki)
		enrol(a); /* before m2msad: swtpm serves one connection */
	a->pid = fixture_start_agent_under(pki ? no_dac : NULL, a->conf, a->log, a->sock, 200);
}

/* The MAS accepts node certificates of the test node CA. */
static void write_mas_conf(void)
{
	char *extra = harness_strdupf("node_ca = %s/pki/node-ca.crt\n", mas.dir);

	mas_fixture_write_conf(&mas, extra);
	free(extra);
}

/*
 * Node A's lifetime (0: the MAS default) is the lifetime of the keys it
 * registers; pki_a: node A uses method pki (agent_start()).
 */
static void start_nodes(uint64_t lifetime_a, bool pki_a)
{
	signal(SIGPIPE, SIG_IGN);
	HARNESS_REQUIRE_SWTPM();
	if (pki_a && !harness_have_program("setpriv"))
		cr_skip_test("setpriv is not installed (apt install util-linux)");
	mas_fixture_init(&mas);
	write_mas_conf();
	mas_fixture_start(&mas, NULL, NULL);
	agent_start(&ag_a, lifetime_a, pki_a);
	agent_start(&ag_b, 0, false);
}

static void start_all(uint64_t lifetime_a)
{
	start_nodes(lifetime_a, false);
}

static void agent_stop(struct agent *a)
{
	harness_kill_wait(&a->pid, SIGKILL);
	harness_swtpm_stop(a->tpm);
	a->tpm = NULL;
	secret_wipe(a->km, 32);
	free(a->sock);
	free(a->log);
	free(a->conf);
	a->sock = a->log = a->conf = NULL;
}

static void teardown(void)
{
	agent_stop(&ag_a);
	agent_stop(&ag_b);
	mas_fixture_fini(&mas);
}

TestSuite(peer_revoke, .fini = teardown, .timeout = 120);

/* Register on A, resolve on B; subscribers for Cae1 on A and Cae2 on B. */
static char *pair(struct m2msa **sub_a, struct m2msa **sub_b, uint64_t *ret_expiry)
{
	struct m2msa *ha = NULL, *hb = NULL;
	struct m2msa_key *ko = NULL, *kt = NULL;
	char *kid;

	cr_assert_eq(m2msa_open(ag_a.sock, sub_a), 0);
	cr_assert_eq(m2msa_subscribe(*sub_a, "Cae1"), 0);
	cr_assert_eq(m2msa_open(ag_b.sock, sub_b), 0);
	cr_assert_eq(m2msa_subscribe(*sub_b, "Cae2"), 0);
	cr_assert_eq(m2msa_open(ag_a.sock, &ha), 0);
	cr_assert_eq(m2msa_open(ag_b.sock, &hb), 0);
	cr_assert_eq(m2msa_get_peer_key(ha, "Cae1", TARGET, &ko), 0, "%s", m2msa_last_error(ha));
	cr_assert_eq(m2msa_resolve_key(hb, "Cae2", m2msa_key_id(ko), &kt), 0, "%s",
		     m2msa_last_error(hb));
	kid = strdup(m2msa_key_id(ko));
	*ret_expiry = m2msa_key_expiry(ko);
	m2msa_key_free(ko);
	m2msa_key_free(kt);
	m2msa_close(ha);
	m2msa_close(hb);
	return kid;
}

/* Wait up to secs for an event of type want about key_id on sub; its arrival time, or -1. */
static double wait_event(struct m2msa *sub, enum m2msa_event_type want, const char *key_id,
			 double secs)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd p = { .fd = m2msa_fd(sub), .events = POLLIN };
		enum m2msa_event_type type;
		struct m2msa_key *k = NULL;
		double el;

		(void)poll(&p, 1, 200);
		while (m2msa_read_event(sub, &type, &k) == 0) {
			bool hit = type == want && k && strcmp(m2msa_key_id(k), key_id) == 0;

			m2msa_key_free(k);
			k = NULL;
			clock_gettime(CLOCK_MONOTONIC, &t);
			if (hit)
				return (double)(t.tv_sec - t0.tv_sec) +
				       (double)(t.tv_nsec - t0.tv_nsec) / 1e9;
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
		el = (double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9;
		if (el > secs)
			return -1;
	}
}

Test(peer_revoke, revocation_reaches_both_agents_and_the_key_no_longer_resolves)
{
	struct m2msa *sub_a = NULL, *sub_b = NULL, *hb = NULL;
	struct m2msa_key *k = NULL;
	uint64_t expiry;
	char *kid, *cmd, want[512];
	double ta, tb;
	int st;

	start_all(0);
	kid = pair(&sub_a, &sub_b, &expiry);
	cmd = harness_strdupf("%s/mas/m2masctl --store %s --master-key %s peer-key revoke %s "
			      ">%s/revoke.out 2>&1",
			      fixture_builddir(), mas.db, mas.master, kid, mas.dir);
	st = system(cmd);
	free(cmd);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "m2masctl peer-key revoke failed");
	/* Node B's agent: the resolution is refused at once (nothing cached after the drop). */
	ta = wait_event(sub_a, M2MSA_EVENT_REVOKED, kid, REVOKE_BOUND_S);
	tb = wait_event(sub_b, M2MSA_EVENT_REVOKED, kid, REVOKE_BOUND_S);
	cr_expect_geq(ta, 0, "no revoked event on node A's subscriber within %d s", REVOKE_BOUND_S);
	cr_expect_geq(tb, 0, "no revoked event on node B's subscriber within %d s", REVOKE_BOUND_S);
	snprintf(want, sizeof(want), "pairwise key %s (Cae1 on " NODE_A " towards " TARGET
		 ") revoked: dropped from the cache", kid);
	cr_expect_eq(fixture_count_in(ag_a.log, want), 1, "agent A's log lacks '%s'", want);
	cr_expect_eq(fixture_count_in(ag_b.log, want), 1, "agent B's log lacks '%s'", want);

	cr_assert_eq(m2msa_open(ag_b.sock, &hb), 0);
	cr_expect_eq(m2msa_resolve_key(hb, "Cae2", kid, &k), -EKEYREVOKED);
	snprintf(want, sizeof(want), "MAS refused: revoked: key %s is revoked", kid);
	cr_expect_str_eq(m2msa_last_error(hb), want);
	m2msa_close(hb);
	m2msa_close(sub_a);
	m2msa_close(sub_b);
	free(kid);
}

Test(peer_revoke, expiry_reaches_both_agents)
{
	struct m2msa *sub_a = NULL, *sub_b = NULL;
	uint64_t expiry;
	double ta, tb, left;
	char *kid, want[512];

	start_all(12); /* node A's keys, pairwise ones too, live 12 s */
	kid = pair(&sub_a, &sub_b, &expiry);
	left = (double)expiry - (double)time(NULL);
	cr_assert_leq(left, 12.0);
	ta = wait_event(sub_a, M2MSA_EVENT_EXPIRED, kid, left + 3);
	tb = wait_event(sub_b, M2MSA_EVENT_EXPIRED, kid, 3);
	cr_expect_geq(ta, 0, "no expired event on node A's subscriber");
	cr_expect_geq(tb, 0, "no expired event on node B's subscriber");
	cr_expect_geq(ta, left - 2.0, "expired %.1f s early", left - ta);
	snprintf(want, sizeof(want), "pairwise key %s (Cae1 on " NODE_A " towards " TARGET
		 ") expired: dropped from the cache", kid);
	cr_expect_eq(fixture_count_in(ag_a.log, want), 1, "agent A's log lacks '%s'", want);
	cr_expect_eq(fixture_count_in(ag_b.log, want), 1, "agent B's log lacks '%s'", want);
	/* Before the expiry both agents checked the key (every 3.75..6.25 s) and kept it. */
	cr_expect_geq(fixture_count_in(mas.log, ") checked by node " NODE_A), 1, "no check by node A");
	cr_expect_geq(fixture_count_in(mas.log, ") checked by node " NODE_B), 1, "no check by node B");
	cr_expect_eq(fixture_count_in(ag_a.log, "cannot check pairwise key"), 0);
	cr_expect_eq(fixture_count_in(ag_b.log, "cannot check pairwise key"), 0);
	cr_expect_eq(fixture_count_in(ag_a.log, "refused by the MAS"), 0);
	m2msa_close(sub_a);
	m2msa_close(sub_b);
	free(kid);
}

/* The key a (Cae1 -> TARGET) is still served from its cache on A (and B when resolve_b). */
static void expect_served(const char *kid, bool resolve_b)
{
	struct m2msa *h = NULL;
	struct m2msa_key *k = NULL;

	cr_assert_eq(m2msa_open(ag_a.sock, &h), 0);
	cr_expect_eq(m2msa_get_peer_key(h, "Cae1", TARGET, &k), 0, "%s", m2msa_last_error(h));
	if (k)
		cr_expect_str_eq(m2msa_key_id(k), kid, "node A handed out another key");
	m2msa_key_free(k);
	k = NULL;
	m2msa_close(h);
	if (!resolve_b)
		return;
	cr_assert_eq(m2msa_open(ag_b.sock, &h), 0);
	cr_expect_eq(m2msa_resolve_key(h, "Cae2", kid, &k), 0, "%s", m2msa_last_error(h));
	m2msa_key_free(k);
	m2msa_close(h);
}

/* No event at all about key_id on sub for secs. */
static void expect_no_event(struct m2msa *sub, const char *key_id, const char *who, double secs)
{
	cr_expect_lt(wait_event(sub, M2MSA_EVENT_REVOKED, key_id, secs), 0,
		     "a revoked event reached %s's subscriber", who);
	cr_expect_lt(wait_event(sub, M2MSA_EVENT_EXPIRED, key_id, 0.3), 0,
		     "an expired event reached %s's subscriber", who);
}

Test(peer_revoke, a_check_that_cannot_reach_the_mas_keeps_the_key)
{
	struct m2msa *sub_a = NULL, *sub_b = NULL;
	uint64_t expiry;
	char *kid, want[512];
	int checks;

	start_all(0);
	kid = pair(&sub_a, &sub_b, &expiry);
	mas_fixture_stop(&mas);
	/* Each agent checks within 1.25 intervals; connect() is refused at once. */
	snprintf(want, sizeof(want), "cannot check pairwise key %s with the MAS (kept, next check "
		 "later): ", kid);
	fixture_wait_log_count(ag_a.log, want, 1, 2 * REVOKE_BOUND_S * 10, 100);
	fixture_wait_log_count(ag_b.log, want, 1, 2 * REVOKE_BOUND_S * 10, 100);
	/* The MAS is still away: the key is served from the caches, and nobody heard of a drop. */
	expect_served(kid, true);
	expect_no_event(sub_a, kid, "node A", 0.5);
	expect_no_event(sub_b, kid, "node B", 0.5);
	cr_expect_eq(fixture_count_in(ag_a.log, "dropped from the cache"), 0);
	cr_expect_eq(fixture_count_in(ag_b.log, "dropped from the cache"), 0);
	/* The MAS back on its ports: the next checks pass and keep the key. */
	checks = fixture_count_in(mas.log, ") checked by node " NODE_A);
	write_mas_conf();
	mas_fixture_start(&mas, NULL, NULL);
	fixture_wait_log_count(mas.log, ") checked by node " NODE_A, checks + 1,
			       2 * REVOKE_BOUND_S * 10, 100);
	expect_served(kid, true);
	expect_no_event(sub_a, kid, "node A", 0.3);
	expect_no_event(sub_b, kid, "node B", 0.3);
	m2msa_close(sub_a);
	m2msa_close(sub_b);
	free(kid);
}

Test(peer_revoke, a_check_refused_locally_keeps_the_key)
{
	struct m2msa *sub_a = NULL, *sub_b = NULL;
	uint64_t expiry;
	char *kid, *cert, want[512];
	int checks;

	start_nodes(0, true); /* node A: method pki, m2msad without CAP_DAC_OVERRIDE */
	kid = pair(&sub_a, &sub_b, &expiry);
	/* The node certificate unreadable, and read again (a reload re-reads it, §pki-install). */
	cert = harness_strdupf("%s/node-a/node.crt", mas.dir);
	cr_assert_eq(chmod(cert, 0), 0);
	cr_assert_eq(kill(ag_a.pid, SIGHUP), 0);
	fixture_wait_log_count(ag_a.log, "SIGHUP: reload done", 1, 100, 50);
	snprintf(want, sizeof(want), "cannot check pairwise key %s with the MAS (kept, next check "
		 "later): method pki is configured but the node certificate %s is Permission "
		 "denied", kid, cert);
	fixture_wait_log_count(ag_a.log, want, 1, 2 * REVOKE_BOUND_S * 10, 100);
	expect_served(kid, false);
	expect_no_event(sub_a, kid, "node A", 0.5);
	cr_expect_eq(fixture_count_in(ag_a.log, "refused by the MAS"), 0);
	cr_expect_eq(fixture_count_in(ag_a.log, "dropped from the cache"), 0);
	/* Readable again: the next check passes at the MAS, with the certificate. */
	checks = fixture_count_in(mas.log, ") checked by node " NODE_A);
	cr_assert_eq(chmod(cert, 0644), 0);
	fixture_wait_log_count(mas.log, ") checked by node " NODE_A, checks + 1,
			       2 * REVOKE_BOUND_S * 10, 100);
	expect_served(kid, false);
	expect_no_event(sub_a, kid, "node A", 0.3);
	m2msa_close(sub_a);
	m2msa_close(sub_b);
	free(cert);
	free(kid);
}

/* One line at the end of path (O_APPEND: whole lines even from several writers). */
static void append_line(const char *path, const char *line)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

	if (fd < 0)
		return;
	(void)dprintf(fd, "%s\n", line);
	close(fd);
}

/*
 * FAKE: a MAS of protocol version 3 on a port, with the MAS's certificate.
 * It answers HELLO with a CHALLENGE and the version-4 check that follows with
 * unsupported-version, as a version-3 m2masd would; nothing is verified. Each
 * check it refused is a line in fake.log. A thread of the test process, so it
 * ends with it.
 */
static struct {
	WOLFSSL_CTX *ctx;
	int lfd;
	char *log;
} fake;

static void *fake_v3_mas(void *unused)
{
	char err[256];

	(void)unused;
	for (;;) {
		int fd = accept(fake.lfd, NULL, NULL);
		WOLFSSL *ssl = fd >= 0 ? wolfSSL_new(fake.ctx) : NULL;
		struct wire_msg q = { .type = WIRE_MSG_ERROR }, a = { .type = WIRE_MSG_CHALLENGE };

		if (fd < 0 && errno != EINTR && errno != ECONNABORTED)
			return NULL;
		if (!ssl || wolfSSL_set_fd(ssl, fd) != WOLFSSL_SUCCESS ||
		    frame_set_timeouts(fd, 5000) < 0 || frame_recv(ssl, &q, err, sizeof(err)) < 0 ||
		    q.type != WIRE_MSG_HELLO) {
			append_line(fake.log, err);
			goto next;
		}
		a.challenge.method = q.hello.methods[0];
		(void)crypto_random(a.challenge.nonce, sizeof(a.challenge.nonce));
		if (frame_send(ssl, &a, err, sizeof(err)) < 0 ||
		    frame_recv(ssl, &q, err, sizeof(err)) < 0) {
			append_line(fake.log, err);
			goto next;
		}
		append_line(fake.log, wire_msg_type_to_string(q.type));
		if (q.type == WIRE_MSG_PEER_RESOLVE && q.peer_resolve.check) {
			a = (struct wire_msg){ .type = WIRE_MSG_ERROR };
			a.error.code = WIRE_ERR_VERSION;
			snprintf(a.error.reason, sizeof(a.error.reason),
				 "protocol version 4 is not supported");
			(void)frame_send(ssl, &a, err, sizeof(err));
			append_line(fake.log, "check refused");
		}
	next:
		wire_msg_wipe(&q);
		if (ssl)
			wolfSSL_free(ssl);
		if (fd >= 0)
			close(fd);
	}
}

static void fake_v3_mas_start(uint16_t port)
{
	char *crt = harness_strdupf("%s/pki/mas.crt", mas.dir);
	char *key = harness_strdupf("%s/pki/mas.key", mas.dir);
	char err[256];
	pthread_t t;

	fake.log = harness_strdupf("%s/fake-v3.log", mas.dir);
	cr_assert_eq(harness_write_file(fake.log, "", 0, 0600), 0);
	fake.ctx = tls_server_ctx_new(crt, key, NULL, err, sizeof(err));
	cr_assert_not_null(fake.ctx, "%s", err);
	fake.lfd = tcp_listen("127.0.0.1", port, NULL);
	cr_assert_geq(fake.lfd, 0, "cannot listen on port %u: %s", port, strerror(-fake.lfd));
	/* tcp_listen() makes a non-blocking listener, for the daemons' loops. */
	cr_assert_eq(fcntl(fake.lfd, F_SETFL, fcntl(fake.lfd, F_GETFL) & ~O_NONBLOCK), 0);
	cr_assert_eq(pthread_create(&t, NULL, fake_v3_mas, NULL), 0);
	cr_assert_eq(pthread_detach(t), 0);
	free(crt);
	free(key);
}

Test(peer_revoke, a_mas_without_checks_is_asked_once_and_the_key_kept_until_expiry)
{
	static const char warn[] = "the MAS does not re-validate pairwise keys (no protocol "
				   "version 4): cached keys stay until their expiry";
	struct m2msa *sub_a = NULL, *sub_b = NULL;
	uint64_t expiry;
	char *kid;

	start_all(0);
	kid = pair(&sub_a, &sub_b, &expiry);
	mas_fixture_stop(&mas);
	fake_v3_mas_start(mas.est_port);
	/* One check from each agent, refused as unsupported: each says so once. */
	fixture_wait_log_count(fake.log, "check refused", 2, 2 * REVOKE_BOUND_S * 10, 100);
	fixture_wait_log_count(ag_a.log, warn, 1, 50, 100);
	fixture_wait_log_count(ag_b.log, warn, 1, 50, 100);
	/* Two more intervals: no agent asks again, the key is served, nothing dropped. */
	expect_no_event(sub_a, kid, "node A", 2.0 * CHECK_S * 5 / 4);
	expect_no_event(sub_b, kid, "node B", 0.3);
	cr_expect_eq(fixture_count_in(fake.log, "check refused"), 2, "an agent checked again");
	cr_expect_eq(fixture_count_in(ag_a.log, warn), 1);
	cr_expect_eq(fixture_count_in(ag_b.log, warn), 1);
	expect_served(kid, true);
	cr_expect_eq(fixture_count_in(ag_a.log, "dropped from the cache"), 0);
	cr_expect_eq(fixture_count_in(ag_b.log, "dropped from the cache"), 0);
	m2msa_close(sub_a);
	m2msa_close(sub_b);
	free(kid);
}
