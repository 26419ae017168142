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
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent/establish.h"
#include "common/crypto.h"
#include "common/secret.h"
#include "common/tls.h"
#include "harness.h"
#include "mas/store.h"
#include "tpm/keystore.h"

#define NODE "/mn-cse-bench"
#define FQDN "mas.test"
#define THREADS 32

static char *dir;
static uint16_t est_port;
static WOLFSSL_CTX *client_ctx;
static uint8_t km[32];

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int die(const char *what)
{
	fprintf(stderr, "bench-establish: %s\n", what);
	exit(1);
}

static pid_t start_mas(const char *builddir)
{
	char *conf = harness_strdupf("%s/m2masd.conf", dir);
	char *ports = harness_strdupf("%s/mas.ports", dir);
	char *text = harness_strdupf(
		"[mas]\nlisten = 127.0.0.1:0\nretrieval_listen = 127.0.0.1:0\nfqdn = " FQDN "\n"
		"cert = %s/pki/mas.crt\nkey = %s/pki/mas.key\ntarget_ca = %s/pki/ca.crt\n"
		"lifetime = 1h\n[store]\npath = %s/mas.db\nmaster_key = %s/master.key\n"
		"[log]\nlevel = warning\n",
		dir, dir, dir, dir, dir);
	char *mas = harness_strdupf("%s/mas/m2masd", builddir), *content = NULL;
	uint16_t ret_port;
	size_t len;
	pid_t pid;

	if (harness_write_file(conf, text, strlen(text), 0600) < 0)
		die("cannot write the MAS config");
	pid = fork();
	if (pid == 0) {
		execl(mas, mas, "--config", conf, "--port-file", ports, "--foreground", (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 200 && !content; i++) {
		if (harness_read_file(ports, &content, &len) < 0 || !strchr(content, '\n')) {
			free(content);
			content = NULL;
			usleep(25000);
		}
	}
	if (!content || sscanf(content, "establish=%hu retrieve=%hu", &est_port, &ret_port) != 2)
		die("m2masd did not start");
	free(content);
	free(conf);
	free(ports);
	free(text);
	free(mas);
	return pid;
}

static void setup_store(void)
{
	struct store_node n = { .n_methods = 1, .methods = { WIRE_METHOD_PSK } };
	char *db = harness_strdupf("%s/mas.db", dir), *mk = harness_strdupf("%s/master.key", dir);
	struct secret *master = NULL;
	struct store *s = NULL;

	if (store_master_key_create(mk) < 0 || store_master_key_load(mk, &master) < 0 ||
	    store_open(db, master->data, &s) < 0)
		die("cannot create the MAS store");
	snprintf(n.node_id, sizeof(n.node_id), NODE);
	snprintf(n.km_id, sizeof(n.km_id), "km@" FQDN);
	snprintf(n.target_id, sizeof(n.target_id), "/in-cse");
	if (store_node_add(s, &n, km) < 0)
		die("cannot add the node");
	store_close(s);
	secret_free(master);
	free(db);
	free(mk);
}

/* --- baseline server: bare TLS 1.3 handshakes with the MAS certificate --- */

static int bare_listen_fd;
static uint16_t bare_port;
static atomic_bool bare_stop;

static void *bare_server(void *arg)
{
	WOLFSSL_CTX *ctx = arg;

	while (!atomic_load(&bare_stop)) {
		int fd = accept(bare_listen_fd, NULL, NULL);
		WOLFSSL *ssl;

		if (fd < 0)
			continue;
		tcp_set_nodelay(fd);
		ssl = wolfSSL_new(ctx);
		wolfSSL_set_fd(ssl, fd);
		if (wolfSSL_accept(ssl) == WOLFSSL_SUCCESS)
			(void)wolfSSL_shutdown(ssl);
		wolfSSL_free(ssl);
		close(fd);
	}
	return NULL;
}

static int bare_handshake(uint16_t port)
{
	char err[256];
	int fd = tcp_connect("127.0.0.1", port, 5000);
	WOLFSSL *ssl;
	int ok;

	if (fd < 0)
		return fd;
	ssl = tls_client_new(client_ctx, fd, FQDN, err, sizeof(err));
	ok = ssl && wolfSSL_connect(ssl) == WOLFSSL_SUCCESS;
	if (ssl)
		wolfSSL_free(ssl);
	close(fd);
	return ok ? 0 : -EPROTO;
}

static int node_establish(const struct kdf_prf *prf)
{
	static const uint8_t methods[] = { WIRE_METHOD_PSK };
	struct establish_result res = { .kc = NULL };
	struct establish_error err;
	char addr[32];
	int r;

	snprintf(addr, sizeof(addr), "127.0.0.1:%u", est_port);
	r = establish_run(client_ctx,
			  &(struct establish_params){ .mas_address = addr, .server_name = FQDN,
						      .node_id = NODE, .methods = methods,
						      .n_methods = 1, .timeout_ms = 10000 },
			  prf, &res, &err);
	if (r < 0)
		fprintf(stderr, "bench-establish: %s\n", err.msg);
	establish_result_clear(&res);
	return r;
}

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
	struct kdf_sw_key key = { km, sizeof(km) };
	struct kdf_prf prf;

	kdf_prf_software(&key, &prf);
	while (now() < w->until) {
		int r = w->bare ? bare_handshake(est_port) : node_establish(&prf);

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
	double start = now();
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
	return (double)total / (now() - start);
}

int main(int argc, char **argv)
{
	int iterations = argc > 1 ? atoi(argv[1]) : 40;
	double secs = argc > 2 ? atof(argv[2]) : 3.0;
	const char *builddir = getenv("BUILDDIR");
	const char *srcdir = getenv("SRCDIR");
	struct harness_swtpm *swtpm = NULL;
	struct tpm_ctx *t = NULL;
	struct tpm_key *k = NULL;
	struct kdf_prf prf;
	WOLFSSL_CTX *server_ctx;
	pthread_t bare_th;
	char err[512], *state, *ca, *cert, *key, *mkcerts;
	double t_ours = 0, t_base = 0, thr_ours, thr_base;
	long failed_ours, failed_base;
	uint8_t out[32], msg[160] = { 0 };
	pid_t mas;
	int status;

	if (!builddir || !srcdir)
		die("run through bench/run, or set BUILDDIR and SRCDIR");
	signal(SIGPIPE, SIG_IGN);
	if (harness_tmpdir(&dir) < 0)
		die("no temp dir");
	mkcerts = harness_strdupf("%s/tests/integration/mkcerts.sh %s/pki >/dev/null", srcdir, dir);
	if (system(mkcerts) != 0)
		die("mkcerts.sh failed");
	crypto_random(km, sizeof(km));
	setup_store();
	if (harness_swtpm_start(NULL, &swtpm) < 0)
		die("cannot start swtpm");
	state = harness_strdupf("%s/node", dir);
	if (tpm_open(harness_swtpm_tcti(swtpm), &t, err, sizeof(err)) < 0 ||
	    tpm_provision(t, state, NODE, "km@" FQDN, km, 32, NULL) < 0 ||
	    tpm_key_load(t, state, &k) < 0)
		die("cannot provision the TPM");
	tpm_key_prf(k, &prf);
	mas = start_mas(builddir);

	ca = harness_strdupf("%s/pki/ca.crt", dir);
	cert = harness_strdupf("%s/pki/mas.crt", dir);
	key = harness_strdupf("%s/pki/mas.key", dir);
	client_ctx = tls_client_ctx_new(ca, NULL, NULL, err, sizeof(err));
	server_ctx = tls_server_ctx_new(cert, key, NULL, err, sizeof(err));
	if (!client_ctx || !server_ctx)
		die(err);
	bare_listen_fd = tcp_listen("127.0.0.1", 0, &bare_port);
	if (bare_listen_fd < 0 || fcntl(bare_listen_fd, F_SETFL, 0) < 0)
		die("cannot listen");
	pthread_create(&bare_th, NULL, bare_server, server_ctx);

	/* Warm up both paths once. */
	if (node_establish(&prf) < 0 || bare_handshake(bare_port) < 0)
		die("warm-up failed");
	/* Interleave so that machine noise hits both sides alike. */
	for (int i = 0; i < iterations; i++) {
		double a = now();

		if (bare_handshake(bare_port) < 0)
			die("bare handshake failed");
		for (int j = 0; j < 4; j++)
			if (tpm_key_hmac(k, msg, sizeof(msg), out) < 0)
				die("bare TPM HMAC failed");
		t_base += now() - a;
		a = now();
		if (node_establish(&prf) < 0)
			die("establishment failed");
		t_ours += now() - a;
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

	atomic_store(&bare_stop, true);
	shutdown(bare_listen_fd, SHUT_RDWR);
	close(bare_listen_fd);
	pthread_join(bare_th, NULL);
	kill(mas, SIGTERM);
	waitpid(mas, &status, 0);
	tpm_key_free(k);
	tpm_close(t);
	harness_swtpm_stop(swtpm);
	harness_rmtree(dir);
	wolfSSL_CTX_free(client_ctx);
	wolfSSL_CTX_free(server_ctx);
	return 0;
}
