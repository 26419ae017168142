/* SPDX-License-Identifier: Apache-2.0 */
/*
 * m2masd with [mas] workers = 2 (issue #17, "every core"): the real daemon,
 * real TLS 1.3 on 127.0.0.1. Many nodes and targets at once from several
 * threads all succeed and every target gets the node's Kc; the per-source
 * connection budget and the failed-proof limit hold across the workers (the
 * kernel spreads connections over the workers' SO_REUSEPORT listeners, and the
 * debug log names the worker of each connection, so the tests check that both
 * took part); SIGTERM stops every worker and m2masd exits 0.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/crypto.h"
#include "common/frame.h"
#include "common/kdf.h"
#include "common/sa.h"
#include "common/secret.h"
#include "common/tls.h"
#include "fixture.h"
#include "harness.h"

#define NODE "/mn-cse-1"
#define MAX_FAILURES 20
#define PER_SOURCE 12
#define THREADS 6
#define PER_THREAD 8

static struct mas_fixture mas;
static uint8_t km[32];
static WOLFSSL_CTX *node_ctx, *target_ctx;
static const uint8_t psk_only[] = { WIRE_METHOD_PSK };

static void setup(void)
{
	char err[TLS_ERR_MAX] = "", *ca, *crt, *key, *extra;

	mas_fixture_init(&mas);
	cr_assert_eq(crypto_random(km, sizeof(km)), 0);
	mas_fixture_add_node(&mas, NODE, km, psk_only, 1, 0);
	extra = harness_strdupf("workers = 2\nmax_failures = %d\nfailure_window = 60s\n"
				"connections_per_source = %d\nfirst_byte_timeout = 20s\n"
				"handshake_timeout = 20s\n",
				MAX_FAILURES, PER_SOURCE);
	mas_fixture_write_conf(&mas, extra);
	free(extra);
	mas_fixture_start(&mas, NULL, NULL);
	ca = mas_fixture_path(&mas, "pki/ca.crt");
	crt = mas_fixture_path(&mas, "pki/target.crt");
	key = mas_fixture_path(&mas, "pki/target.key");
	node_ctx = tls_client_ctx_new(ca, NULL, NULL, err, sizeof(err));
	cr_assert_not_null(node_ctx, "%s", err);
	target_ctx = tls_client_ctx_new(ca, crt, key, err, sizeof(err));
	cr_assert_not_null(target_ctx, "%s", err);
	free(ca);
	free(crt);
	free(key);
}

static void teardown(void)
{
	wolfSSL_CTX_free(node_ctx);
	wolfSSL_CTX_free(target_ctx);
	mas_fixture_fini(&mas);
	secret_wipe(km, sizeof(km));
}

TestSuite(mas_workers, .init = setup, .fini = teardown, .timeout = 120);

/* ---- a node and a target that report instead of asserting (they run in threads) ---- */

struct session {
	int fd;
	WOLFSSL *ssl;
};

static int session_open(WOLFSSL_CTX *ctx, uint16_t port, struct session *s)
{
	char err[TLS_ERR_MAX];
	int r;

	s->ssl = NULL;
	s->fd = tcp_connect("127.0.0.1", port, 5000);
	if (s->fd < 0)
		return s->fd;
	(void)frame_set_timeouts(s->fd, 10000);
	s->ssl = tls_client_new(ctx, s->fd, FIXTURE_FQDN, err, sizeof(err));
	if (!s->ssl)
		return -ENOMEM;
	r = wolfSSL_connect(s->ssl);
	return r == WOLFSSL_SUCCESS ? 0 : tls_error(s->ssl, r, err, sizeof(err));
}

static void session_close(struct session *s)
{
	if (s->ssl) {
		wolfSSL_shutdown(s->ssl);
		wolfSSL_free(s->ssl);
	}
	if (s->fd >= 0)
		close(s->fd);
}

struct node_result {
	int r;         /* 0, or -errno of the transport */
	uint32_t code; /* 0: established, else the MAS's error code */
	char key_id[WIRE_KEY_ID_MAX + 1];
	uint8_t kc[32];
};

/* One establishment as NODE with key k (a wrong k: a wrong proof). */
static void node_establish(const uint8_t k[32], struct node_result *out)
{
	struct kdf_sw_key sw = { k, 32 };
	struct wire_msg m = { .type = WIRE_MSG_HELLO }, r = { 0 };
	char err[TLS_ERR_MAX];
	struct sa_binding b;
	struct kdf_prf prf;
	struct session s;
	uint8_t nn[32];

	memset(out, 0, sizeof(*out));
	kdf_prf_software(&sw, &prf);
	out->r = session_open(node_ctx, mas.est_port, &s);
	if (out->r < 0)
		goto done;
	snprintf(m.hello.node_id, sizeof(m.hello.node_id), "%s", NODE);
	m.hello.n_methods = 1;
	m.hello.methods[0] = WIRE_METHOD_PSK;
	(void)crypto_random(nn, 32);
	memcpy(m.hello.nonce, nn, 32);
	out->r = frame_send(s.ssl, &m, err, sizeof(err));
	if (out->r == 0)
		out->r = frame_recv(s.ssl, &r, err, sizeof(err));
	if (out->r < 0 || r.type == WIRE_MSG_ERROR)
		goto reply;
	if (r.type != WIRE_MSG_CHALLENGE || sa_binding_from_tls(s.ssl, &b) < 0) {
		out->r = -EPROTO;
		goto done;
	}
	memset(&m, 0, sizeof(m));
	m.type = WIRE_MSG_PROOF;
	out->r = sa_proof(&prf, SA_PROOF_NODE, &b, nn, r.challenge.nonce, NODE, m.proof.proof);
	if (out->r == 0)
		out->r = sa_kc(&prf, &b, nn, r.challenge.nonce, out->kc);
	sa_binding_wipe(&b);
	wire_msg_wipe(&r);
	if (out->r == 0)
		out->r = frame_send(s.ssl, &m, err, sizeof(err));
	if (out->r == 0)
		out->r = frame_recv(s.ssl, &r, err, sizeof(err));
reply:
	if (out->r == 0 && r.type == WIRE_MSG_ERROR)
		out->code = r.error.code;
	else if (out->r == 0 && r.type == WIRE_MSG_ESTABLISHED)
		snprintf(out->key_id, sizeof(out->key_id), "%s", r.established.key_id);
	else if (out->r == 0)
		out->r = -EPROTO;
done:
	wire_msg_wipe(&r);
	session_close(&s);
}

/* The key of key_id as the registered target: 0 and the key, or -errno / the MAS's code. */
static int target_get(const char *key_id, uint8_t ret_key[32])
{
	struct wire_msg m = { .type = WIRE_MSG_KEY_REQUEST }, r = { 0 };
	char err[TLS_ERR_MAX];
	struct session s;
	int rc = session_open(target_ctx, mas.ret_port, &s);

	snprintf(m.key_request.key_id, sizeof(m.key_request.key_id), "%s", key_id);
	if (rc == 0)
		rc = frame_send(s.ssl, &m, err, sizeof(err));
	if (rc == 0)
		rc = frame_recv(s.ssl, &r, err, sizeof(err));
	if (rc == 0 && r.type == WIRE_MSG_KEY_RESPONSE)
		memcpy(ret_key, r.key_response.key, 32);
	else if (rc == 0)
		rc = r.type == WIRE_MSG_ERROR ? (int)r.error.code : -EPROTO;
	wire_msg_wipe(&r);
	session_close(&s);
	return rc;
}

/* How many "connection from <role> <addr>:port (worker <w>," lines the log has. */
static int log_count_worker(const char *role_addr, unsigned worker)
{
	char *log = mas_fixture_read_log(&mas), *p = log, tail[32];
	int n = 0;

	snprintf(tail, sizeof(tail), "(worker %u,", worker);
	while ((p = strstr(p, "connection from "))) {
		char *eol = strchr(p, '\n');

		if (eol)
			*eol = '\0';
		if (strstr(p, role_addr) && strstr(p, tail))
			n++;
		if (!eol)
			break;
		p = eol + 1;
	}
	free(log);
	return n;
}

/* ---- the tests ---- */

struct job {
	int ok, failed;
	char first_error[160];
};

static void *establish_and_retrieve(void *userdata)
{
	struct job *j = userdata;

	for (int i = 0; i < PER_THREAD; i++) {
		struct node_result nr;
		uint8_t key[32];
		int r;

		node_establish(km, &nr);
		if (nr.r < 0 || nr.code != 0) {
			if (!j->failed++)
				snprintf(j->first_error, sizeof(j->first_error),
					 "establish: %s, code %u", strerror(-nr.r), nr.code);
			continue;
		}
		r = target_get(nr.key_id, key);
		if (r != 0 || !secret_equal(key, nr.kc, 32)) {
			if (!j->failed++)
				snprintf(j->first_error, sizeof(j->first_error),
					 "retrieve %s: %d%s", nr.key_id, r,
					 r == 0 ? " (the target's key is not the node's Kc)" : "");
		} else {
			j->ok++;
		}
		secret_wipe(key, sizeof(key));
		secret_wipe(&nr, sizeof(nr));
	}
	return NULL;
}

Test(mas_workers, concurrent_establishments_and_retrievals_all_succeed)
{
	pthread_t t[THREADS];
	struct job jobs[THREADS] = { 0 };
	int ok = 0;

	for (int i = 0; i < THREADS; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, establish_and_retrieve, &jobs[i]), 0);
	for (int i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
		cr_expect_eq(jobs[i].failed, 0, "thread %d: %d failed, first: %s", i,
			     jobs[i].failed, jobs[i].first_error);
		ok += jobs[i].ok;
	}
	cr_assert_eq(ok, THREADS * PER_THREAD);
	cr_assert_eq(mas_fixture_count_assocs(&mas), (size_t)(THREADS * PER_THREAD));
	/* Both workers served nodes and targets (2 x 96 connections: never all on one). */
	cr_assert_gt(log_count_worker("node 127.0.0.1:", 1), 0);
	cr_assert_gt(log_count_worker("node 127.0.0.1:", 2), 0);
	cr_assert_gt(log_count_worker("target 127.0.0.1:", 1), 0);
	cr_assert_gt(log_count_worker("target 127.0.0.1:", 2), 0);
}

/*
 * MAX_FAILURES wrong proofs from one address, one connection each, spread by
 * the kernel over both workers: the limit counts them as one (the last one is
 * answered rate-limited). Per-worker counters would let it through as a plain
 * auth failure (each worker would have seen about half).
 */
Test(mas_workers, failed_proof_limit_holds_across_workers)
{
	struct node_result nr;
	uint8_t wrong[32];

	memcpy(wrong, km, 32);
	wrong[0] ^= 1;
	for (int i = 1; i < MAX_FAILURES; i++) {
		node_establish(wrong, &nr);
		cr_assert_eq(nr.r, 0, "attempt %d: %s", i, strerror(-nr.r));
		cr_assert_eq(nr.code, WIRE_ERR_AUTH_FAILED, "attempt %d: code %u", i, nr.code);
	}
	node_establish(wrong, &nr);
	cr_assert_eq(nr.r, 0, "%s", strerror(-nr.r));
	cr_assert_eq(nr.code, WIRE_ERR_RATE_LIMITED, "failure %d: code %u", MAX_FAILURES, nr.code);
	/* 20 connections: both workers saw some (all on one: probability 2^-19). */
	cr_assert_gt(log_count_worker("node 127.0.0.1:", 1), 0);
	cr_assert_gt(log_count_worker("node 127.0.0.1:", 2), 0);
	/* The right key still gets through (issue #16: a valid proof is never refused). */
	node_establish(km, &nr);
	cr_assert_eq(nr.code, 0, "code %u", nr.code);
	secret_wipe(&nr, sizeof(nr));
}

static bool closed_within(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char b;

	return poll(&p, 1, timeout_ms) == 1 && recv(fd, &b, 1, MSG_DONTWAIT) <= 0;
}

/*
 * PER_SOURCE silent connections from one source, spread over both workers,
 * use up that source's budget: the next one is closed at once, whichever
 * worker accepts it; other sources still get in.
 */
Test(mas_workers, connection_budget_holds_across_workers)
{
	int held[PER_SOURCE], extra;
	struct node_result nr;

	for (int i = 0; i < PER_SOURCE; i++) {
		held[i] = tcp_connect("127.0.0.1", mas.est_port, 5000);
		cr_assert_geq(held[i], 0);
	}
	usleep(300 * 1000);
	cr_assert_gt(log_count_worker("node 127.0.0.1:", 1), 0);
	cr_assert_gt(log_count_worker("node 127.0.0.1:", 2), 0);
	for (int i = 0; i < 4; i++) {
		extra = tcp_connect("127.0.0.1", mas.est_port, 5000);
		cr_assert_geq(extra, 0);
		cr_assert(closed_within(extra, 2000), "connection %d over the budget stayed open",
			  PER_SOURCE + 1 + i);
		close(extra);
	}
	{
		char *log = mas_fixture_read_log(&mas);

		cr_assert_not_null(strstr(log, "127.0.0.1 holds as many connections as one source"),
				   "no refusal in the log");
		free(log);
	}
	for (int i = 0; i < PER_SOURCE; i++)
		close(held[i]);
	usleep(300 * 1000);
	node_establish(km, &nr);
	cr_assert_eq(nr.code, 0, "code %u (r %d)", nr.code, nr.r);
	secret_wipe(&nr, sizeof(nr));
}

/* m2masd's further workers: its threads named m2masd-w<N> (the main thread is worker 1). */
static int n_worker_threads(pid_t pid)
{
	char *dir = harness_strdupf("/proc/%d/task", (int)pid);
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	cr_assert_not_null(d, "%s: %s", dir, strerror(errno));
	while ((e = readdir(d))) {
		char *comm, *path;

		if (e->d_name[0] == '.')
			continue;
		path = harness_strdupf("%s/%s/comm", dir, e->d_name);
		comm = fixture_read_text(path);
		if (comm && strncmp(comm, "m2masd-w", 8) == 0)
			n++;
		free(comm);
		free(path);
	}
	closedir(d);
	free(dir);
	return n;
}

Test(mas_workers, sigterm_stops_every_worker)
{
	struct node_result nr;
	int status = -1;
	char *log;

	cr_assert_eq(n_worker_threads(mas.pid), 1, "m2masd with workers = 2 runs one more thread");
	node_establish(km, &nr);
	cr_assert_eq(nr.code, 0, "code %u", nr.code);
	secret_wipe(&nr, sizeof(nr));
	cr_assert_eq(kill(mas.pid, SIGTERM), 0);
	cr_assert_eq(waitpid(mas.pid, &status, 0), mas.pid);
	mas.pid = 0;
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "m2masd exited with %d", status);
	log = mas_fixture_read_log(&mas);
	cr_assert_not_null(strstr(log, "2 workers"), "%s", log);
	cr_assert_not_null(strstr(log, "m2masd stopped"), "%s", log);
	cr_assert_null(strstr(log, "stopped with an error"), "%s", log);
	free(log);
}

/*
 * With workers the listeners are SO_REUSEPORT: a second m2masd (same user, same
 * addresses) would bind them too and take a share of the connections. It must
 * fail to start instead, naming the address. timeout(1) ends it if it does not.
 */
Test(mas_workers, second_instance_on_the_same_address_refuses_to_start)
{
	struct mas_fixture other;
	char *mas_bin = harness_strdupf("%s/mas/m2masd", fixture_builddir()), *out = NULL,
	     *err = NULL, *want;
	const char *argv[] = { "timeout", "10", mas_bin, "--config", NULL, "--foreground",
			       "--log-target", "stderr", NULL };
	int status = -1;

	mas_fixture_init(&other);
	mas_fixture_add_node(&other, NODE, km, psk_only, 1, 0);
	other.est_port = mas.est_port;
	other.ret_port = mas.ret_port;
	mas_fixture_write_conf(&other, "workers = 2\n");
	argv[4] = other.conf;
	cr_assert_eq(harness_run(argv, NULL, NULL, &status, &out, &err), 0);
	cr_expect_eq(status, 1, "status %d (124: it ran, sharing the port)\n%s", status, err);
	want = harness_strdupf("another m2masd already listens on 127.0.0.1:%u (with workers > 1 "
			       "the listeners use SO_REUSEPORT", mas.est_port);
	cr_expect_not_null(strstr(err, want), "%s", err);
	/* The first one still serves. */
	{
		struct node_result nr;

		node_establish(km, &nr);
		cr_expect_eq(nr.code, 0, "code %u", nr.code);
		secret_wipe(&nr, sizeof(nr));
	}
	free(want);
	free(out);
	free(err);
	free(mas_bin);
	mas_fixture_fini(&other);
}
