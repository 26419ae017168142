/* SPDX-License-Identifier: Apache-2.0 */
/*
 * loadgen: N simulated nodes (Km in software, real TLS, the real protocol)
 * establishing and re-establishing with one m2masd for S seconds over C
 * concurrent connections; counts failures by error, checks a sample of keys by
 * retrieving them as the target IN-CSE (mutual TLS), and watches m2masd's RSS.
 *
 *   loadgen --mas HOST:PORT --retrieve HOST:PORT --ca FILE --server-name NAME
 *           --store DB --master-key FILE --target-cert FILE --target-key FILE
 *           --mas-pid PID --nodes N --duration S --concurrency C [--lifetime L]
 *   loadgen --spawn --nodes N --duration S --concurrency C   (needs BUILDDIR, SRCDIR)
 *
 * --spawn makes a temp PKI and store and starts its own m2masd. Exit status 0
 * only when no establishment failed, every sampled key matched and the RSS
 * after the second half grew by at most 10% (+ 2 MiB) over the first half.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/ecc.h>

#include "agent/establish.h"
#include "bench-common.h"
#include "common/crypto.h"
#include "common/secret.h"
#include "common/tls.h"
#include "mas/keyfile.h"
#include "mas/retrieve-client.h"
#include "mas/store.h"

#define TARGET "/in-cse"
#define MAX_LAT 2000000
#define SAMPLE_EVERY 50
#define N_ERRS 16

struct node {
	char id[64];
	uint8_t km[32];
	atomic_flag busy;
};

static struct {
	const char *mas, *retrieve, *ca, *server_name, *store, *master_key;
	const char *target_cert, *target_key;
	pid_t mas_pid;
	long nodes, concurrency;
	double duration;
	uint64_t lifetime;
	bool spawn;
} opt = { .server_name = "mas.test", .nodes = 1000, .concurrency = 32, .duration = 60 };

static struct node *nodes;
static WOLFSSL_CTX *ctx;
static struct retrieve_client *rc;
static atomic_long n_ok, n_fail, n_sampled, n_bad_sample, next_node, n_lat;
static atomic_long err_count[N_ERRS]; /* index: wire code (0: local failure) */
static float *lat_ms;
static double t_end;

static void add_nodes(void)
{
	_cleanup_secret_ struct secret *mk = NULL;
	struct store *s = NULL;
	int r;

	if (mas_master_key_load(opt.master_key, &mk) < 0 || store_open(opt.store, mk->data, &s) < 0)
		bench_die("cannot open the store %s", opt.store);
	nodes = calloc((size_t)opt.nodes, sizeof(*nodes));
	if (!nodes)
		bench_die("out of memory");
	for (long i = 0; i < opt.nodes; i++) {
		struct store_node n = { .n_methods = 1, .methods = { WIRE_METHOD_PSK },
					.lifetime = opt.lifetime };

		snprintf(nodes[i].id, sizeof(nodes[i].id), "/mn-load-%d-%ld", (int)getpid(), i);
		if (crypto_random(nodes[i].km, 32) < 0)
			bench_die("no randomness");
		snprintf(n.node_id, sizeof(n.node_id), "%s", nodes[i].id);
		snprintf(n.km_id, sizeof(n.km_id), "km-%ld@%s", i, opt.server_name);
		snprintf(n.target_id, sizeof(n.target_id), TARGET);
		r = store_node_add(s, &n, nodes[i].km);
		if (r < 0)
			bench_die("cannot add a node: %s", strerror(-r));
	}
	store_close(s);
}

/* Retrieve key_id as the target and compare with what the node derived. */
static void check_sample(const struct establish_result *res)
{
	struct wire_key_response k;
	char err[RETRIEVE_ERR_MAX];

	atomic_fetch_add(&n_sampled, 1);
	if (retrieve_key(rc, res->key_id, &k, NULL, err, sizeof(err)) < 0) {
		fprintf(stderr, "loadgen: retrieving %s failed: %s\n", res->key_id, err);
		atomic_fetch_add(&n_bad_sample, 1);
		return;
	}
	if (!secret_equal(k.key, res->kc->data, 32)) {
		fprintf(stderr, "loadgen: the MAS holds another key for %s\n", res->key_id);
		atomic_fetch_add(&n_bad_sample, 1);
	}
	secret_wipe(&k, sizeof(k));
}

static void *worker(void *arg)
{
	static const uint8_t methods[] = { WIRE_METHOD_PSK };

	(void)arg;
	while (bench_now() < t_end) {
		long i = atomic_fetch_add(&next_node, 1) % opt.nodes;
		struct node *n = &nodes[i];
		struct kdf_sw_key key = { n->km, 32 };
		struct establish_result res = { .kc = NULL };
		struct m2msa_err err = { 0 };
		struct kdf_prf prf;
		double a;
		int r;

		if (atomic_flag_test_and_set(&n->busy))
			continue; /* one connection per node at a time, like a real node */
		kdf_prf_software(&key, &prf);
		a = bench_now();
		r = establish_run(ctx,
				  &(struct establish_params){ .mas_address = opt.mas,
							      .server_name = opt.server_name,
							      .node_id = n->id, .methods = methods,
							      .n_methods = 1, .timeout_ms = 10000 },
				  &prf, &res, &err);
		if (r == 0) {
			long k = atomic_fetch_add(&n_ok, 1);
			long l = atomic_fetch_add(&n_lat, 1);

			if (l < MAX_LAT)
				lat_ms[l] = (float)((bench_now() - a) * 1000);
			if (rc && k % SAMPLE_EVERY == 0)
				check_sample(&res);
		} else {
			atomic_fetch_add(&n_fail, 1);
			atomic_fetch_add(&err_count[err.wire_code < N_ERRS ? err.wire_code : 0], 1);
			if (atomic_load(&n_fail) <= 5)
				fprintf(stderr, "loadgen: %s: %s\n", n->id, err.msg);
		}
		establish_result_clear(&res);
		atomic_flag_clear(&n->busy);
	}
	wc_ecc_fp_free(); /* wolfSSL's per-thread fixed-point ECC cache (FP_ECC) */
	return NULL;
}

static int cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;

	return (x > y) - (x < y);
}

/* A temp PKI and store and our own m2masd (bench-common.h); opt points at them. */
static void spawn_mas(void)
{
	static char addr_est[32], addr_ret[32];

	bench_init_pki();
	opt.store = bench_path("mas.db");
	opt.master_key = bench_path("master.key");
	opt.ca = bench_path("pki/ca.crt");
	opt.target_cert = bench_path("pki/target.crt");
	opt.target_key = bench_path("pki/target.key");
	bench_store(NULL, NULL, 0);
	/* Every simulated node connects from 127.0.0.1: one source, so no per-source caps. */
	bench_start_mas(opt.server_name,
			"connections_per_source = 100000\nconnection_rate_per_source = 0\n", true);
	snprintf(addr_est, sizeof(addr_est), "127.0.0.1:%u", bench.est_port);
	snprintf(addr_ret, sizeof(addr_ret), "127.0.0.1:%u", bench.ret_port);
	opt.mas = addr_est;
	opt.retrieve = addr_ret;
	opt.mas_pid = bench.mas_pid;
}

static void usage(void)
{
	fputs("usage: loadgen (--spawn | --mas HOST:PORT --retrieve HOST:PORT --ca FILE\n"
	      "         --store DB --master-key FILE --target-cert FILE --target-key FILE\n"
	      "         [--mas-pid PID] [--server-name NAME])\n"
	      "         [--nodes N] [--duration S] [--concurrency C] [--lifetime L]\n",
	      stderr);
	exit(2);
}

static void parse(int argc, char **argv)
{
	static const struct option o[] = {
		{ "mas", required_argument, NULL, 'm' },
		{ "retrieve", required_argument, NULL, 'r' },
		{ "ca", required_argument, NULL, 'a' },
		{ "server-name", required_argument, NULL, 's' },
		{ "store", required_argument, NULL, 'S' },
		{ "master-key", required_argument, NULL, 'k' },
		{ "target-cert", required_argument, NULL, 'C' },
		{ "target-key", required_argument, NULL, 'K' },
		{ "mas-pid", required_argument, NULL, 'p' },
		{ "nodes", required_argument, NULL, 'n' },
		{ "duration", required_argument, NULL, 'd' },
		{ "concurrency", required_argument, NULL, 'c' },
		{ "lifetime", required_argument, NULL, 'l' },
		{ "spawn", no_argument, NULL, 'x' },
		{ 0 }
	};
	int c;

	while ((c = getopt_long(argc, argv, "", o, NULL)) >= 0) {
		switch (c) {
		case 'm': opt.mas = optarg; break;
		case 'r': opt.retrieve = optarg; break;
		case 'a': opt.ca = optarg; break;
		case 's': opt.server_name = optarg; break;
		case 'S': opt.store = optarg; break;
		case 'k': opt.master_key = optarg; break;
		case 'C': opt.target_cert = optarg; break;
		case 'K': opt.target_key = optarg; break;
		case 'p': opt.mas_pid = (pid_t)atol(optarg); break;
		case 'n': opt.nodes = atol(optarg); break;
		case 'd': opt.duration = atof(optarg); break;
		case 'c': opt.concurrency = atol(optarg); break;
		case 'l': opt.lifetime = strtoull(optarg, NULL, 10); break;
		case 'x': opt.spawn = true; break;
		default: usage();
		}
	}
	if (optind != argc || opt.nodes < 1 || opt.concurrency < 1 || opt.duration <= 0 ||
	    (!opt.spawn && (!opt.mas || !opt.ca || !opt.store || !opt.master_key)))
		usage();
}

/* Run the workers until t_end. */
static void run_phase(double secs)
{
	pthread_t *th = calloc((size_t)opt.concurrency, sizeof(*th));

	if (!th)
		bench_die("out of memory");
	t_end = bench_now() + secs;
	for (long i = 0; i < opt.concurrency; i++)
		if (pthread_create(&th[i], NULL, worker, NULL) != 0)
			bench_die("cannot start a thread");
	for (long i = 0; i < opt.concurrency; i++)
		pthread_join(th[i], NULL);
	free(th);
}

int main(int argc, char **argv)
{
	char err[512];
	long rss0 = -1, rss1 = -1, rss2 = -1, rss3 = -1, ok, fail, lat_n;
	double start, elapsed;
	bool flat = true;
	int status = 0;

	bench.die_status = 2;
	parse(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	if (tls_init() < 0)
		bench_die("cannot initialise wolfSSL");
	if (opt.spawn)
		spawn_mas();
	add_nodes();
	ctx = tls_client_ctx_new(opt.ca, NULL, NULL, err, sizeof(err));
	if (!ctx)
		bench_die("%s", err);
	if (opt.retrieve && opt.target_cert && opt.target_key) {
		struct retrieve_conf rcf = { .mas = opt.retrieve, .mas_ca = opt.ca,
					     .mas_name = opt.server_name, .cert = opt.target_cert,
					     .key = opt.target_key };

		if (retrieve_client_new(&rcf, &rc, err, sizeof(err)) < 0)
			bench_die("%s", err);
	}
	lat_ms = calloc(MAX_LAT, sizeof(*lat_ms));
	if (!lat_ms)
		bench_die("out of memory");

	if (opt.mas_pid)
		rss0 = bench_rss_kb(opt.mas_pid);
	start = bench_now();
	run_phase(opt.duration / 2);
	if (opt.mas_pid)
		rss1 = bench_rss_kb(opt.mas_pid);
	run_phase(opt.duration / 2);
	elapsed = bench_now() - start;
	if (opt.mas_pid) {
		rss2 = bench_rss_kb(opt.mas_pid);
		sleep(3); /* idle: connections closed, buffers returned */
		rss3 = bench_rss_kb(opt.mas_pid);
		flat = rss3 >= 0 && rss1 >= 0 && rss3 <= rss1 + rss1 / 10 + 2048;
	}

	ok = atomic_load(&n_ok);
	fail = atomic_load(&n_fail);
	lat_n = ok < MAX_LAT ? ok : MAX_LAT;
	qsort(lat_ms, (size_t)lat_n, sizeof(*lat_ms), cmp_float);
	printf("loadgen: %ld nodes, %ld connections, %.0f s\n", opt.nodes, opt.concurrency, elapsed);
	printf("  establishments: %ld ok, %ld failed (%.1f /s)\n", ok, fail, (double)ok / elapsed);
	for (int i = 0; i < N_ERRS; i++)
		if (atomic_load(&err_count[i]))
			printf("    failures with %s: %ld\n",
			       i ? wire_error_code_to_string((uint32_t)i) : "local error",
			       atomic_load(&err_count[i]));
	if (lat_n)
		printf("  latency: p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", lat_ms[lat_n / 2],
		       lat_ms[lat_n * 99 / 100], lat_ms[lat_n - 1]);
	printf("  keys sampled from the MAS as the target: %ld, mismatched or lost: %ld\n",
	       atomic_load(&n_sampled), atomic_load(&n_bad_sample));
	if (opt.mas_pid)
		printf("  m2masd RSS (kB): start %ld, half %ld, end %ld, idle %ld: %s\n", rss0, rss1,
		       rss2, rss3, flat ? "flat" : "GROWING");
	printf("RATIO loadgen-failures %ld ==0\n", fail + atomic_load(&n_bad_sample));
	if (rss1 > 0 && rss3 > 0)
		printf("RATIO loadgen-mas-rss-growth %.3f <=1.1\n", (double)rss3 / (double)rss1);
	if (fail || atomic_load(&n_bad_sample) || !flat || ok == 0)
		status = 1;

	bench_cleanup(); /* the --spawn m2masd and its dir */
	retrieve_client_free(rc);
	wolfSSL_CTX_free(ctx);
	free(lat_ms);
	if (nodes)
		secret_wipe(nodes, (size_t)opt.nodes * sizeof(*nodes));
	free(nodes);
	return status;
}
