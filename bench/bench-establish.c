/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench-establish: the establishment's cost against its baselines, in one run.
 *
 * 1. Latency: a node with Km in swtpm establishing with m2masd on 127.0.0.1,
 *    against a bare wolfSSL TLS 1.3 ECDHE-ECDSA handshake with the same MAS
 *    certificate plus the same number of bare TPM HMACs (four: node proof, MAS
 *    proof, Kc, AE root). Target ratio <= 1.2.
 * 2. Throughput: 32 concurrent software nodes (Km in memory: this measures the
 *    MAS) establishing with m2masd, against 32 concurrent bare TLS handshakes with
 *    the same m2masd (connect, handshake, close), first with [mas] workers = 1
 *    (mas-1worker-vs-bare-tls, target >= 0.85), then with the default (one worker
 *    per CPU: mas-throughput, target >= 0.8); and all workers against one
 *    (mas-workers-vs-1worker, target >= 1.6). The load generator runs on the same
 *    cores, so the server's CPU time per establishment (/proc/PID/stat) is printed
 *    too: it tells whether the server scales per CPU when the ratio cannot.
 *    The MAS under test allows the bench's concurrency from 127.0.0.1
 *    (connections_per_source, connection_rate_per_source = 0): the bare
 *    handshakes never finish an exchange, so the default budgets would refuse them.
 * Usage: bench-establish [iterations, default 40] [seconds for throughput, default 3]
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/establish.h"
#include "bench-common.h"
#include "harness.h"
#include "common/tls.h"
#include "tpm/keystore.h"
#include "tpm/tpm-ctx.h"

#define NODE "/mn-cse-bench"
#define THREADS 32
#define ROUNDS 3 /* of each throughput setting, alternating */
/* The budgets of the MAS under test: the bench's 32 clients from one address (see above). */
#define MAS_BUDGETS "connections_per_source = 256\nconnection_rate_per_source = 0\n"

static WOLFSSL_CTX *client_ctx;

/* --- throughput --- */

struct worker {
	pthread_t th;
	int bare;
	double until;
	long done, failed;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct kdf_sw_key key = { bench.km, sizeof(bench.km) };
	struct kdf_prf prf;

	kdf_prf_software(&key, &prf);
	while (bench_now() < w->until) {
		int r = w->bare ? bench_bare_handshake(client_ctx, bench.est_port)
				: bench_establish(client_ctx, NODE, WIRE_METHOD_PSK, &prf);

		if (r == 0)
			w->done++;
		else
			w->failed++;
	}
	return NULL;
}

static double throughput(int bare, double secs, long *ret_failed)
{
	struct worker w[THREADS];
	double start = bench_now();
	long total = 0, failed = 0;

	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){ .bare = bare, .until = start + secs };
		pthread_create(&w[i].th, NULL, worker_main, &w[i]);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(w[i].th, NULL);
		total += w[i].done;
		failed += w[i].failed;
	}
	*ret_failed = failed;
	return (double)total / (bench_now() - start);
}

/* utime + stime of pid in seconds (all its threads), or -1. */
static double cpu_seconds(pid_t pid)
{
	long t = bench_proc_ticks(pid, NULL);

	return t < 0 ? -1 : (double)t / (double)sysconf(_SC_CLK_TCK);
}

/* Sums over the rounds of one setting: counts, wall seconds, CPU seconds. */
struct mas_run {
	long n_bare, n_est, bare_failed, est_failed;
	double secs;
	double srv_bare, srv_est; /* m2masd's CPU */
	double cli_bare, cli_est; /* the bench's own: the clients' CPU */
};

/* Restart m2masd with [mas] workers (0: its default), then add both throughputs to r. */
static void mas_throughput(unsigned workers, double secs, struct mas_run *r)
{
	char extra[160], *ports = bench_path("mas.ports");
	double c0, c1, c2, m0, m1, m2, rate;
	long failed;

	if (bench.mas_pid > 0)
		harness_kill_wait(&bench.mas_pid, SIGTERM);
	unlink(ports); /* bench_start_mas() waits for the new one's */
	free(ports);
	snprintf(extra, sizeof(extra), MAS_BUDGETS "workers = %u\n", workers);
	bench_start_mas(BENCH_FQDN, extra, true);
	c0 = cpu_seconds(bench.mas_pid);
	m0 = cpu_seconds(getpid());
	rate = throughput(1, secs, &failed);
	r->n_bare += (long)(rate * secs + 0.5);
	r->bare_failed += failed;
	c1 = cpu_seconds(bench.mas_pid);
	m1 = cpu_seconds(getpid());
	rate = throughput(0, secs, &failed);
	r->n_est += (long)(rate * secs + 0.5);
	r->est_failed += failed;
	c2 = cpu_seconds(bench.mas_pid);
	m2 = cpu_seconds(getpid());
	r->secs += secs;
	r->srv_bare += c1 - c0;
	r->srv_est += c2 - c1;
	r->cli_bare += m1 - m0;
	r->cli_est += m2 - m1;
}

static double per(double cpu, long n)
{
	return n > 0 ? 1000 * cpu / (double)n : -1;
}

static void print_run(const char *what, const struct mas_run *r)
{
	printf("  %s:\n", what);
	printf("    baseline: bare TLS 1.3 handshakes with m2masd  %8.1f /s (%ld failed), "
	       "CPU ms each: server %.3f, clients %.3f\n",
	       r->n_bare / r->secs, r->bare_failed, per(r->srv_bare, r->n_bare),
	       per(r->cli_bare, r->n_bare));
	printf("    m2msa:    establishments with m2masd           %8.1f /s (%ld failed), "
	       "CPU ms each: server %.3f, clients %.3f\n",
	       r->n_est / r->secs, r->est_failed, per(r->srv_est, r->n_est),
	       per(r->cli_est, r->n_est));
}

int main(int argc, char **argv)
{
	int iterations = argc > 1 ? atoi(argv[1]) : 40;
	double secs = argc > 2 ? atof(argv[2]) : 3.0;
	struct tpm_ctx *t = NULL;
	struct tpm_key *k = NULL;
	struct kdf_prf prf;
	uint16_t bare_port;
	static const uint8_t psk[] = { WIRE_METHOD_PSK };
	char err[512], *state, *ca;
	double t_ours = 0, t_base = 0;
	struct mas_run one = { 0 }, all = { 0 };
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	double r1, ra, rw;
	uint8_t out[32], msg[160] = { 0 };

	signal(SIGPIPE, SIG_IGN);
	bench_init_pki();
	bench_store(NODE, psk, 1);
	bench_provision(NODE, &t);
	state = bench_path("node");
	if (tpm_key_load(t, state, &k) < 0)
		bench_die("cannot provision the TPM");
	tpm_key_prf(k, &prf);
	bench_start_mas(BENCH_FQDN, MAS_BUDGETS "workers = 1\n", true);

	ca = bench_path("pki/ca.crt");
	client_ctx = tls_client_ctx_new(ca, NULL, NULL, err, sizeof(err));
	if (!client_ctx)
		bench_die("%s", err);
	bare_port = bench_bare_server_start();

	/* Warm up both paths once. */
	if (bench_establish(client_ctx, NODE, WIRE_METHOD_PSK, &prf) < 0 ||
	    bench_bare_handshake(client_ctx, bare_port) < 0)
		bench_die("warm-up failed");
	/* Interleave so that machine noise hits both sides alike. */
	for (int i = 0; i < iterations; i++) {
		double a = bench_now();

		if (bench_bare_handshake(client_ctx, bare_port) < 0)
			bench_die("bare handshake failed");
		for (int j = 0; j < 4; j++)
			if (tpm_key_hmac(k, msg, sizeof(msg), out) < 0)
				bench_die("bare TPM HMAC failed");
		t_base += bench_now() - a;
		a = bench_now();
		if (bench_establish(client_ctx, NODE, WIRE_METHOD_PSK, &prf) < 0)
			bench_die("establishment failed");
		t_ours += bench_now() - a;
	}
	printf("establishment latency (%d runs, swtpm):\n", iterations);
	printf("  baseline: bare TLS 1.3 ECDHE-ECDSA handshake + 4 TPM HMACs  %8.2f ms\n",
	       1000 * t_base / iterations);
	printf("  m2msa:    establishment with m2masd, Km in the TPM          %8.2f ms\n",
	       1000 * t_ours / iterations);
	printf("  ratio m2msa/baseline: %.2f (target <= 1.2)\n", t_ours / t_base);
	printf("RATIO establish-latency %.3f <=1.2\n", t_ours / t_base);

	printf("MAS throughput, %d concurrent clients on this machine's %ld CPUs, %d x %.0f s each;\n"
	       "  the MAS allows them: connections_per_source = 256, connection_rate_per_source = 0\n",
	       THREADS, cpus, ROUNDS, secs);
	/* Alternate the settings, so that the machine's other load hits both alike. */
	for (int round = 0; round < ROUNDS; round++) {
		mas_throughput(1, secs, &one);
		mas_throughput(0, secs, &all);
	}
	print_run("one worker ([mas] workers = 1)", &one);
	print_run("the default workers (one per CPU)", &all);
	r1 = (double)one.n_est / (double)one.n_bare;
	ra = (double)all.n_est / (double)all.n_bare;
	rw = (double)all.n_est / (double)one.n_est;
	printf("  ratio m2msa/baseline, one worker: %.2f (target >= 0.85)\n", r1);
	printf("RATIO mas-1worker-vs-bare-tls %.3f >=0.85\n", r1);
	printf("  ratio m2msa/baseline, all workers: %.2f (target >= 0.8)\n", ra);
	printf("RATIO mas-throughput %.3f >=0.8\n", ra);
	printf("  establishments/s, all workers against one: %.2f (target >= 1.6; the %d client\n"
	       "  threads share the %ld CPUs with the server)\n", rw, THREADS, cpus);
	printf("RATIO mas-workers-vs-1worker %.3f >=1.6\n", rw);
	printf("  server CPU per establishment: %.3f ms with one worker, %.3f ms with %ld "
	       "(ratio %.2f; about 1: the server's work per establishment does not grow with "
	       "its workers)\n",
	       per(one.srv_est, one.n_est), per(all.srv_est, all.n_est), cpus,
	       per(all.srv_est, all.n_est) / per(one.srv_est, one.n_est));
	printf("  derived, not measured: with the CPUs to itself the server would do %.0f /s with "
	       "one worker and %.0f /s with %ld (%.2fx); the clients' CPU per establishment "
	       "(%.3f ms) is what bounds this machine\n",
	       1000 / per(one.srv_est, one.n_est), (double)cpus * 1000 / per(all.srv_est, all.n_est),
	       cpus, (double)cpus * per(one.srv_est, one.n_est) / per(all.srv_est, all.n_est),
	       per(one.cli_est + all.cli_est, one.n_est + all.n_est));

	bench_bare_server_stop();
	tpm_key_free(k);
	tpm_close(t);
	bench_cleanup();
	wolfSSL_CTX_free(client_ctx);
	free(state);
	free(ca);
	return 0;
}
