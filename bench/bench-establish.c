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
 *    the same m2masd (connect, handshake, close). Target ratio >= 0.8.
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
#include "common/tls.h"
#include "tpm/keystore.h"
#include "tpm/tpm-ctx.h"

#define NODE "/mn-cse-bench"
#define THREADS 32

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
	double t_ours = 0, t_base = 0, thr_ours, thr_base;
	long failed_ours, failed_base;
	uint8_t out[32], msg[160] = { 0 };

	signal(SIGPIPE, SIG_IGN);
	bench_init_pki();
	bench_store(NODE, psk, 1);
	bench_provision(NODE, &t);
	state = bench_path("node");
	if (tpm_key_load(t, state, &k) < 0)
		bench_die("cannot provision the TPM");
	tpm_key_prf(k, &prf);
	bench_start_mas(BENCH_FQDN, NULL, false);

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

	thr_base = throughput(1, secs, &failed_base);
	thr_ours = throughput(0, secs, &failed_ours);
	printf("MAS throughput, %d concurrent clients, %.0f s each:\n", THREADS, secs);
	printf("  baseline: bare TLS 1.3 handshakes with m2masd  %8.1f /s (%ld failed)\n", thr_base,
	       failed_base);
	printf("  m2msa:    establishments with m2masd           %8.1f /s (%ld failed)\n", thr_ours,
	       failed_ours);
	printf("  ratio m2msa/baseline: %.2f (target >= 0.8)\n", thr_ours / thr_base);
	printf("RATIO mas-throughput %.3f >=0.8\n", thr_ours / thr_base);

	bench_bare_server_stop();
	tpm_key_free(k);
	tpm_close(t);
	bench_cleanup();
	wolfSSL_CTX_free(client_ctx);
	free(state);
	free(ca);
	return 0;
}
