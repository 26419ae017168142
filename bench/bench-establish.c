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
	char path[64], buf[1024], *p;
	unsigned long ut, st;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')'); /* after comm: state is field 3, utime 14, stime 15 */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut,
			 &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

struct mas_run {
	double bare, est;     /* per second */
	long bare_failed, est_failed, n_est;
	double cpu_per_bare, cpu_per_est; /* server CPU seconds per handshake / establishment */
};

/* Restart m2masd with [mas] workers (0: its default), then both throughputs. */
static void mas_throughput(unsigned workers, double secs, struct mas_run *r)
{
	char extra[160];
	double c0, c1, c2;
	long n_bare;

	if (bench.mas_pid > 0)
		harness_kill_wait(&bench.mas_pid, SIGTERM);
	snprintf(extra, sizeof(extra), MAS_BUDGETS "workers = %u\n", workers);
	bench_start_mas(BENCH_FQDN, extra, true);
	c0 = cpu_seconds(bench.mas_pid);
	r->bare = throughput(1, secs, &r->bare_failed);
	n_bare = (long)(r->bare * secs + 0.5);
	c1 = cpu_seconds(bench.mas_pid);
	r->est = throughput(0, secs, &r->est_failed);
	r->n_est = (long)(r->est * secs + 0.5);
	c2 = cpu_seconds(bench.mas_pid);
	r->cpu_per_bare = n_bare > 0 && c0 >= 0 ? (c1 - c0) / (double)n_bare : -1;
	r->cpu_per_est = r->n_est > 0 && c1 >= 0 ? (c2 - c1) / (double)r->n_est : -1;
}

static void print_run(const char *what, const struct mas_run *r)
{
	printf("  %s:\n", what);
	printf("    baseline: bare TLS 1.3 handshakes with m2masd  %8.1f /s (%ld failed), "
	       "server CPU %.3f ms each\n",
	       r->bare, r->bare_failed, 1000 * r->cpu_per_bare);
	printf("    m2msa:    establishments with m2masd           %8.1f /s (%ld failed), "
	       "server CPU %.3f ms each\n",
	       r->est, r->est_failed, 1000 * r->cpu_per_est);
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
	struct mas_run one, all;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
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

	printf("MAS throughput, %d concurrent clients on this machine's %ld CPUs, %.0f s each;\n"
	       "  the MAS allows them: connections_per_source = 256, connection_rate_per_source = 0\n",
	       THREADS, cpus, secs);
	mas_throughput(1, secs, &one);
	print_run("one worker ([mas] workers = 1)", &one);
	mas_throughput(0, secs, &all);
	print_run("the default workers (one per CPU)", &all);
	printf("  ratio m2msa/baseline, one worker: %.2f (target >= 0.85)\n", one.est / one.bare);
	printf("RATIO mas-1worker-vs-bare-tls %.3f >=0.85\n", one.est / one.bare);
	printf("  ratio m2msa/baseline, all workers: %.2f (target >= 0.8)\n", all.est / all.bare);
	printf("RATIO mas-throughput %.3f >=0.8\n", all.est / all.bare);
	printf("  establishments/s, all workers against one: %.2f (target >= 1.6; the %d client\n"
	       "  threads share the %ld CPUs with the server)\n", all.est / one.est, THREADS, cpus);
	printf("RATIO mas-workers-vs-1worker %.3f >=1.6\n", all.est / one.est);
	printf("  server CPU per establishment: %.3f ms with one worker, %.3f ms with %ld "
	       "(ratio %.2f: ~1 means the server's work per establishment does not grow with "
	       "workers)\n",
	       1000 * one.cpu_per_est, 1000 * all.cpu_per_est, cpus,
	       all.cpu_per_est / one.cpu_per_est);

	bench_bare_server_stop();
	tpm_key_free(k);
	tpm_close(t);
	bench_cleanup();
	wolfSSL_CTX_free(client_ctx);
	free(state);
	free(ca);
	return 0;
}
