/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Hostile load against the real m2masd on 127.0.0.1 (issue #16): while a flood
 * runs from another loopback address, a legitimate node establishes (Km in
 * software, real TLS 1.3) and the IN-CSE retrieves each key; printed: the
 * legitimate success rate under attack against the same run's baseline without
 * attack (target 1.0), m2masd's log lines per 1,000 hostile requests (target
 * <= 10) and its memory per open connection. Floods, each bounded in count and
 * time: 1,100 idle connections from one address (both ports); new TLS
 * connections from one address as fast as one process can make them for 5 s;
 * wrong PROOFs for the legitimate node's name for 5 s, as fast as they go from
 * another address and at 10 a second from the node's own address (a NAT).
 *   BUILDDIR=$PWD/build SRCDIR=$PWD build/bench/bench-hostile
 */
#include <wolfssl/options.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/establish.h"
#include "bench-common.h"
#include "common/crypto.h"
#include "common/frame.h"
#include "common/tls.h"
#include "harness.h"
#include "mas/retrieve-client.h"

#define NODE "/mn-cse-1"
#define ROUNDS 50
#define IDLE_FLOOD 1100
#define FLOOD_SECONDS 5

static WOLFSSL_CTX *ctx;
static struct retrieve_client *rc;

static int connect_from(const char *src, uint16_t port)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct sockaddr_in from = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	inet_pton(AF_INET, src, &from.sin_addr);
	inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
	if (bind(fd, (struct sockaddr *)&from, sizeof(from)) < 0 ||
	    connect(fd, (struct sockaddr *)&to, sizeof(to)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* One establishment with km (the node's or a wrong one); 0 or -errno. */
static int establish(const uint8_t km[32], char *key_id, size_t len)
{
	static const uint8_t psk[] = { WIRE_METHOD_PSK };
	struct kdf_sw_key key = { km, 32 };
	struct establish_result res = { .kc = NULL };
	struct m2msa_err err = { 0 };
	struct kdf_prf prf;
	char addr[32];
	int r;

	snprintf(addr, sizeof(addr), "127.0.0.1:%u", bench.est_port);
	kdf_prf_software(&key, &prf);
	r = establish_run(ctx,
			  &(struct establish_params){ .mas_address = addr,
						      .server_name = BENCH_FQDN, .node_id = NODE,
						      .methods = psk, .n_methods = 1,
						      .timeout_ms = 5000 },
			  &prf, &res, &err);
	if (r == 0 && key_id)
		snprintf(key_id, len, "%s", res.key_id);
	establish_result_clear(&res);
	return r;
}

/* ROUNDS establishments, each followed by the IN-CSE's retrieval: the share that succeeded. */
static double legitimate(void)
{
	char key_id[WIRE_KEY_ID_MAX + 1], err[RETRIEVE_ERR_MAX];
	struct wire_key_response k;
	int ok = 0;

	for (int i = 0; i < ROUNDS; i++) {
		if (establish(bench.km, key_id, sizeof(key_id)) < 0)
			continue;
		if (retrieve_key(rc, key_id, &k, NULL, err, sizeof(err)) == 0)
			ok++;
		secret_wipe(&k, sizeof(k));
	}
	return (double)ok / ROUNDS;
}

static long log_lines(void)
{
	char *p = bench_path("m2masd.log"), *text = NULL;
	size_t len = 0;
	long n = 0;

	if (harness_read_file(p, &text, &len) == 0)
		for (size_t i = 0; i < len; i++)
			n += text[i] == '\n';
	free(text);
	free(p);
	return n;
}

/* Fork a flood: fn runs in the child, which reports its request count through a pipe. */
static pid_t flood(long (*fn)(void), int *ret_pipe)
{
	int p[2];
	pid_t pid;

	if (pipe(p) < 0)
		bench_die("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		bench_die("fork: %s", strerror(errno));
	if (pid == 0) {
		long n;

		close(p[0]);
		n = fn();
		if (write(p[1], &n, sizeof(n)) != (ssize_t)sizeof(n))
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	*ret_pipe = p[0];
	return pid;
}

static long flood_wait(pid_t pid, int fd)
{
	long n = 0;

	if (read(fd, &n, sizeof(n)) != (ssize_t)sizeof(n))
		n = 0;
	close(fd);
	waitpid(pid, NULL, 0);
	return n;
}

/* 1,100 idle connections from 127.0.0.2, both ports, held for FLOOD_SECONDS. */
static long idle_flood(void)
{
	long n = 0;

	for (int i = 0; i < IDLE_FLOOD; i++)
		n += connect_from("127.0.0.2", i % 2 ? bench.ret_port : bench.est_port) >= 0;
	sleep(FLOOD_SECONDS);
	return IDLE_FLOOD;
}

/* TLS handshakes from 127.0.0.3, closed at once, as fast as they go for FLOOD_SECONDS. */
static long tls_flood(void)
{
	double end = bench_now() + FLOOD_SECONDS;
	char err[256];
	long n = 0;

	while (bench_now() < end && n < 100000) {
		int fd = connect_from("127.0.0.3", bench.est_port);
		WOLFSSL *ssl;

		n++;
		if (fd < 0)
			continue;
		ssl = tls_client_new(ctx, fd, BENCH_FQDN, err, sizeof(err));
		if (ssl) {
			(void)wolfSSL_connect(ssl);
			wolfSSL_free(ssl);
		}
		close(fd);
	}
	return n;
}

/* HELLO for NODE from src, then a random PROOF; the connection is closed after the answer. */
static void wrong_proof_from(const char *src)
{
	struct wire_msg m = { .type = WIRE_MSG_HELLO }, r;
	int fd = connect_from(src, bench.est_port);
	char err[256];
	WOLFSSL *ssl = fd < 0 ? NULL : tls_client_new(ctx, fd, BENCH_FQDN, err, sizeof(err));

	if (!ssl || frame_set_timeouts(fd, 5000) < 0 || wolfSSL_connect(ssl) != WOLFSSL_SUCCESS)
		goto out;
	snprintf(m.hello.node_id, sizeof(m.hello.node_id), "%s", NODE);
	m.hello.n_methods = 1;
	m.hello.methods[0] = WIRE_METHOD_PSK;
	if (crypto_random(m.hello.nonce, sizeof(m.hello.nonce)) < 0 ||
	    frame_send(ssl, &m, err, sizeof(err)) < 0 || frame_recv(ssl, &r, err, sizeof(err)) < 0 ||
	    r.type != WIRE_MSG_CHALLENGE)
		goto out;
	memset(&m, 0, sizeof(m));
	m.type = WIRE_MSG_PROOF;
	if (crypto_random(m.proof.proof, sizeof(m.proof.proof)) == 0 &&
	    frame_send(ssl, &m, err, sizeof(err)) == 0)
		(void)frame_recv(ssl, &r, err, sizeof(err));
out:
	if (ssl)
		wolfSSL_free(ssl);
	if (fd >= 0)
		close(fd);
}

/* Wrong PROOFs from src for FLOOD_SECONDS; pause_ms between them. */
static long proof_loop(const char *src, unsigned pause_ms)
{
	double end = bench_now() + FLOOD_SECONDS;
	long n = 0;

	while (bench_now() < end && n < 100000) {
		wrong_proof_from(src);
		n++;
		if (pause_ms)
			usleep(pause_ms * 1000);
	}
	return n;
}

/* Wrong PROOFs for the node's name from another address: 4 processes for FLOOD_SECONDS. */
static long proof_flood(void)
{
	enum { WORKERS = 4 };
	int p[2];
	long total = 0;

	if (pipe(p) < 0)
		return 0;
	for (int i = 0; i < WORKERS; i++) {
		pid_t pid = fork();

		if (pid == 0) {
			long n = proof_loop("127.0.0.5", 0);

			_exit(write(p[1], &n, sizeof(n)) == (ssize_t)sizeof(n) ? 0 : 1);
		}
	}
	close(p[1]);
	for (int i = 0; i < WORKERS; i++) {
		long n;

		if (read(p[0], &n, sizeof(n)) == (ssize_t)sizeof(n))
			total += n;
	}
	close(p[0]);
	while (wait(NULL) > 0)
		;
	return total;
}

/*
 * The same from the node's own address (a shared NAT), at a pace one source may
 * keep up (connection_rate_per_source, 20 a second): a faster flood from the node's
 * address uses up that address's connection rate, and the node waits with it.
 */
static long nat_proof_flood(void)
{
	return proof_loop("127.0.0.1", 100);
}

struct phase {
	const char *name;
	long (*fn)(void);
	bool log_ratio; /* a flood big enough for "log lines per 1,000" to mean something */
};

static void run_phase(const struct phase *ph, double baseline)
{
	long before = log_lines(), rss0 = bench_rss_kb(bench.mas_pid), rss1, hostile, lines;
	double rate;
	int fd;
	pid_t pid = flood(ph->fn, &fd);

	usleep(500 * 1000);
	rss1 = bench_rss_kb(bench.mas_pid);
	rate = legitimate();
	hostile = flood_wait(pid, fd);
	usleep(1100 * 1000); /* the next second's line counts the suppressed ones */
	lines = log_lines() - before;
	printf("%s: %ld hostile requests; legitimate success %.2f (baseline %.2f); "
	       "%ld log lines (%.1f per 1,000); m2masd RSS %ld -> %ld kB\n",
	       ph->name, hostile, rate, baseline, lines,
	       hostile ? 1000.0 * (double)lines / (double)hostile : 0.0, rss0, rss1);
	printf("RATIO hostile-%s-success %.3f >=1.0\n", ph->name, baseline > 0 ? rate / baseline : 0);
	if (ph->log_ratio)
		printf("RATIO hostile-%s-log-per-1000 %.1f <=10\n", ph->name,
		       hostile ? 1000.0 * (double)lines / (double)hostile : 0.0);
}

/* Memory per open connection: K idle ones (no TLS session yet), then K with TLS done. */
static void memory_per_connection(void)
{
	enum { K = 60 };
	int fds[K];
	WOLFSSL *ssl[K];
	char err[256];
	long r0 = bench_rss_kb(bench.mas_pid), r1, r2;

	for (int i = 0; i < K; i++)
		fds[i] = connect_from("127.0.0.4", bench.est_port);
	usleep(300 * 1000);
	r1 = bench_rss_kb(bench.mas_pid);
	for (int i = 0; i < K; i++) {
		ssl[i] = fds[i] < 0 ? NULL : tls_client_new(ctx, fds[i], BENCH_FQDN, err, sizeof(err));
		if (ssl[i])
			(void)wolfSSL_connect(ssl[i]);
	}
	usleep(300 * 1000);
	r2 = bench_rss_kb(bench.mas_pid);
	printf("m2masd memory per open connection: %.1f kB before the first byte, %.1f kB with "
	       "a TLS session (%d connections)\n",
	       (double)(r1 - r0) / K, (double)(r2 - r0) / K, K);
	for (int i = 0; i < K; i++) {
		if (ssl[i])
			wolfSSL_free(ssl[i]);
		if (fds[i] >= 0)
			close(fds[i]);
	}
}

int main(void)
{
	static const uint8_t psk[] = { WIRE_METHOD_PSK };
	static const struct phase phases[] = {
		{ "idle-flood", idle_flood, true },
		{ "tls-flood", tls_flood, true },
		{ "proof-flood", proof_flood, true },
		/* 50 wrong proofs: max_failures (5) warnings, then debug only. */
		{ "nat-proof-flood", nat_proof_flood, false },
	};
	char err[RETRIEVE_ERR_MAX], addr[32], *ca, *cert, *key;
	struct rlimit rl;
	double baseline;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	bench_init_pki();
	bench_store(NODE, psk, 1);
	bench_start_mas(BENCH_FQDN, NULL, true);
	ca = bench_path("pki/ca.crt");
	cert = bench_path("pki/target.crt");
	key = bench_path("pki/target.key");
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", bench.ret_port);
	ctx = tls_client_ctx_new(ca, NULL, NULL, err, sizeof(err));
	if (!ctx)
		bench_die("%s", err);
	if (retrieve_client_new(&(struct retrieve_conf){ .mas = addr, .mas_ca = ca,
							  .mas_name = BENCH_FQDN, .cert = cert,
							  .key = key },
				&rc, err, sizeof(err)) < 0)
		bench_die("%s", err);
	baseline = legitimate();
	printf("baseline without attack: legitimate success %.2f (%d establishments + "
	       "retrievals)\n",
	       baseline, ROUNDS);
	memory_per_connection();
	for (size_t i = 0; i < ARRAY_SIZE(phases); i++)
		run_phase(&phases[i], baseline);
	retrieve_client_free(rc);
	wolfSSL_CTX_free(ctx);
	free(ca);
	free(cert);
	free(key);
	bench_cleanup();
	return 0;
}
