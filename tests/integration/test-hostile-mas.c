/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Hostile load against the real m2masd on 127.0.0.1 (issue #16): floods from
 * one source address (127.0.0.2, 127.0.0.3) while a legitimate node
 * (establish_run with Km in software, real TLS 1.3) and the target IN-CSE
 * (mutual TLS retrieval) work from 127.0.0.1. Every flood is bounded in count
 * and time and small enough to run in seconds; bench/bench-hostile has the
 * full-size figures.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent/establish.h"
#include "common/crypto.h"
#include "common/frame.h"
#include "common/secret.h"
#include "common/tls.h"
#include "fixture.h"
#include "harness.h"

#define NODE "/mn-cse-1"
#define ROUNDS 20

static struct mas_fixture mas;
static uint8_t km[32];
static int idle[1200];
static size_t n_idle;

static void setup(void)
{
	static const uint8_t psk[] = { WIRE_METHOD_PSK };

	mas_fixture_init(&mas);
	mas_fixture_write_conf(&mas, "handshake_timeout = 5s\nidle_timeout = 5s\n"
				     "first_byte_timeout = 5s\n");
	cr_assert_eq(crypto_random(km, sizeof(km)), 0);
	mas_fixture_add_node(&mas, NODE, km, psk, 1, 0);
}

static void teardown(void)
{
	for (size_t i = 0; i < n_idle; i++)
		close(idle[i]);
	n_idle = 0;
	mas_fixture_fini(&mas);
	secret_wipe(km, sizeof(km));
}

TestSuite(hostile_mas, .init = setup, .fini = teardown, .timeout = 120);

/* A non-blocking TCP connect from src to 127.0.0.1:port; -1 when refused at once. */
static int connect_from(const char *src, uint16_t port)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct sockaddr_in from = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	cr_assert_eq(inet_pton(AF_INET, src, &from.sin_addr), 1);
	cr_assert_eq(inet_pton(AF_INET, "127.0.0.1", &to.sin_addr), 1);
	cr_assert_eq(bind(fd, (struct sockaddr *)&from, sizeof(from)), 0, "%s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&to, sizeof(to)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* One establishment as the legitimate node; its key ID into key_id. Returns 0 or -errno. */
static int node_establish(char *key_id, size_t len, char *why, size_t why_len)
{
	static const uint8_t psk[] = { WIRE_METHOD_PSK };
	char err[TLS_ERR_MAX], addr[32], *ca = mas_fixture_path(&mas, "pki/ca.crt");
	struct kdf_sw_key key = { km, 32 };
	struct establish_result res = { .kc = NULL };
	struct m2msa_err e = { 0 };
	struct kdf_prf prf;
	WOLFSSL_CTX *ctx = tls_client_ctx_new(ca, NULL, NULL, err, sizeof(err));
	int r;

	cr_assert_not_null(ctx, "%s", err);
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", mas.est_port);
	kdf_prf_software(&key, &prf);
	r = establish_run(ctx,
			  &(struct establish_params){ .mas_address = addr,
						      .server_name = FIXTURE_FQDN,
						      .node_id = NODE, .methods = psk,
						      .n_methods = 1, .timeout_ms = 5000 },
			  &prf, &res, &e);
	if (r == 0)
		snprintf(key_id, len, "%s", res.key_id);
	else
		snprintf(why, why_len, "%s", e.msg);
	establish_result_clear(&res);
	wolfSSL_CTX_free(ctx);
	free(ca);
	return r;
}

/* ROUNDS establishments and retrievals of their keys; asserts every one succeeds. */
static void legitimate_rounds(void)
{
	char key_id[WIRE_KEY_ID_MAX + 1], why[512];
	struct wire_msg m;
	int ok_est = 0, ok_ret = 0;

	for (int i = 0; i < ROUNDS; i++) {
		if (node_establish(key_id, sizeof(key_id), why, sizeof(why)) != 0) {
			cr_log_warn("establishment %d failed: %s", i, why);
			continue;
		}
		ok_est++;
		if (fixture_retrieve(&mas, "target", key_id, &m) == 0 &&
		    m.type == WIRE_MSG_KEY_RESPONSE)
			ok_ret++;
		wire_msg_wipe(&m);
	}
	cr_assert_eq(ok_est, ROUNDS, "legitimate establishments: %d of %d", ok_est, ROUNDS);
	cr_assert_eq(ok_est, ok_ret, "legitimate retrievals: %d of %d", ok_ret, ok_est);
}

/* m2masd's log lines above debug level (the fixture logs at debug: one line a connection). */
static size_t log_lines(void)
{
	char *log = mas_fixture_read_log(&mas);
	size_t n = 0;

	for (char *line = strtok(log, "\n"); line; line = strtok(NULL, "\n"))
		n += strstr(line, ": debug: ") == NULL;
	free(log);
	return n;
}

/* Issue #16, 2: one address holding idle connections on both ports starves nobody. */
Test(hostile_mas, idle_flood_from_one_address_starves_nobody)
{
	struct rlimit rl;
	size_t refused = 0, before;

	/* 1,100 sockets and more: raise the soft limit to the hard one. */
	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	rl.rlim_cur = rl.rlim_max;
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_cur < 1300)
		cr_skip_test("RLIMIT_NOFILE hard limit %lu is below 1300", (unsigned long)rl.rlim_cur);

	/*
	 * 400 in all: 128 for retrieval, 272 for establishment, 64 per source and port;
	 * no rate limit, so that only the open-connection budgets protect.
	 */
	mas_fixture_write_conf(&mas, "handshake_timeout = 5s\nidle_timeout = 5s\n"
				     "first_byte_timeout = 5s\nconnection_rate_per_source = 0\n");
	mas_fixture_start(&mas, "--max-connections", "400");
	before = log_lines();
	for (int i = 0; i < 1100 && n_idle < ARRAY_SIZE(idle); i++) {
		int fd = connect_from("127.0.0.2", i % 2 ? mas.ret_port : mas.est_port);

		if (fd < 0)
			refused++;
		else
			idle[n_idle++] = fd;
	}
	usleep(200 * 1000);
	legitimate_rounds();
	/* The flood cost one warning a second at most, not one a connection. */
	cr_assert_leq(log_lines() - before, 2 * ROUNDS + 10, "%zu log lines",
		      log_lines() - before);
	{
		char *log = mas_fixture_read_log(&mas);

		cr_assert_not_null(strstr(log, "holds as many connections as one source may"));
		free(log);
	}
}

/* Issue #16, 2: a flood of new TLS connections from one address does not halve success. */
Test(hostile_mas, connection_rate_flood_from_one_address_starves_nobody)
{
	pid_t pid;
	int status;

	mas_fixture_start(&mas, NULL, NULL);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		/* The flood: full TLS handshakes from 127.0.0.3, closed at once; 4 s at most. */
		char err[TLS_ERR_MAX], *ca = mas_fixture_path(&mas, "pki/ca.crt");
		WOLFSSL_CTX *ctx = tls_client_ctx_new(ca, NULL, NULL, err, sizeof(err));
		time_t end = time(NULL) + 4;

		for (int i = 0; i < 5000 && time(NULL) < end && ctx; i++) {
			int fd = connect_from("127.0.0.3", mas.est_port);
			WOLFSSL *ssl = fd < 0 ? NULL : tls_client_new(ctx, fd, FIXTURE_FQDN, err,
								      sizeof(err));

			if (ssl) {
				(void)frame_set_timeouts(fd, 1000);
				(void)wolfSSL_connect(ssl);
				wolfSSL_free(ssl);
			}
			if (fd >= 0)
				close(fd);
		}
		_exit(0);
	}
	usleep(300 * 1000);
	legitimate_rounds();
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	{
		char *log = mas_fixture_read_log(&mas);

		cr_assert_not_null(strstr(log, "opens connections faster than one source may"));
		free(log);
	}
}

/*
 * In a child: n TLS connections from 127.0.0.6, each sending one malformed frame (at
 * most 10 s); the number sent goes to report_fd. Children exit 0 (Criterion counts a
 * child's non-zero status as a failure).
 */
static pid_t malformed_sender(int n, int report_fd)
{
	static const uint8_t garbage[] = { 0, 0, 0, 5, 'h', 'e', 'l', 'l', 'o' };
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		char err[TLS_ERR_MAX], *ca = mas_fixture_path(&mas, "pki/ca.crt");
		WOLFSSL_CTX *ctx = tls_client_ctx_new(ca, NULL, NULL, err, sizeof(err));
		time_t t0 = time(NULL);
		int sent = 0;

		for (int i = 0; ctx && i < n && time(NULL) < t0 + 10; i++) {
			int fd = connect_from("127.0.0.6", mas.est_port);
			WOLFSSL *ssl = fd < 0 ? NULL : tls_client_new(ctx, fd, FIXTURE_FQDN, err,
								      sizeof(err));
			uint8_t buf[256];

			if (ssl && frame_set_timeouts(fd, 2000) == 0 &&
			    wolfSSL_connect(ssl) == WOLFSSL_SUCCESS &&
			    wolfSSL_write(ssl, garbage, sizeof(garbage)) == (int)sizeof(garbage)) {
				sent++;
				(void)wolfSSL_read(ssl, buf, sizeof(buf));
			}
			wolfSSL_free(ssl);
			if (fd >= 0)
				close(fd);
		}
		(void)!write(report_fd, &sent, sizeof(sent));
		_exit(0);
	}
	return pid;
}

/* Issue #16, 4: a flood of malformed messages costs at most 10 log lines a second. */
Test(hostile_mas, malformed_messages_keep_the_log_bounded)
{
	char key_id[WIRE_KEY_ID_MAX + 1], why[512], *log;
	pid_t senders[4];
	time_t t0, t1;
	int sent = 0, lines = 0, fds[2];

	/* No connection rate limit: every connection gets to send its garbage. */
	mas_fixture_write_conf(&mas, "handshake_timeout = 5s\nconnection_rate_per_source = 0\n");
	mas_fixture_start(&mas, NULL, NULL);
	cr_assert_eq(pipe2(fds, O_CLOEXEC), 0);
	t0 = time(NULL);
	for (size_t i = 0; i < ARRAY_SIZE(senders); i++)
		senders[i] = malformed_sender(100, fds[1]);
	close(fds[1]);
	for (size_t i = 0; i < ARRAY_SIZE(senders); i++) {
		int n = 0;

		cr_assert_eq(waitpid(senders[i], NULL, 0), senders[i]);
		if (read(fds[0], &n, sizeof(n)) == (ssize_t)sizeof(n))
			sent += n;
	}
	close(fds[0]);
	t1 = time(NULL);
	cr_assert_eq(node_establish(key_id, sizeof(key_id), why, sizeof(why)), 0, "%s", why);
	sleep(2);
	cr_assert_eq(node_establish(key_id, sizeof(key_id), why, sizeof(why)), 0, "%s", why);
	log = mas_fixture_read_log(&mas);
	for (const char *p = log; (p = strstr(p, "malformed message from")); p++)
		lines++;
	cr_log_info("%d malformed messages in %d s: %d log lines", sent, (int)(t1 - t0), lines);
	cr_assert_gt(sent, 200, "only %d malformed messages went out", sent);
	/* Before issue #16 every one was logged. */
	cr_assert_lt(lines, sent / 2, "%d lines for %d messages", lines, sent);
	cr_assert_leq(lines, 10 * (int)(t1 - t0 + 2), "%d lines for %d messages in %d s", lines, sent,
		      (int)(t1 - t0));
	cr_assert_not_null(strstr(log, "more messages about failed or refused connections were not "
				       "logged"));
	free(log);
}
