/* SPDX-License-Identifier: Apache-2.0 */
/* The benchmarks' shared setup (bench-common.h). */
#include "bench-common.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent/establish.h"
#include "common/crypto.h"
#include "common/secret.h"
#include "harness.h"
#include "mas/keyfile.h"
#include "mas/store.h"
#include "tpm/keystore.h"
#include "tpm/tpm-ctx.h"

struct bench_env bench;

double bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

long bench_rss_kb(pid_t pid)
{
	char *p = harness_strdupf("/proc/%d/status", (int)pid), *text = NULL, *at;
	size_t len;
	long v = -1;

	if (harness_read_file(p, &text, &len) == 0 && (at = strstr(text, "\nVmRSS:")))
		v = strtol(at + 7, NULL, 10);
	free(text);
	free(p);
	return v;
}

long bench_proc_ticks(pid_t pid, pid_t *ret_ppid)
{
	char *p = harness_strdupf("/proc/%d/stat", (int)pid), *text = NULL, *at;
	unsigned long ut = 0, st = 0;
	long pp = -1, v = -1;
	size_t len;

	/* After the command name (which may hold spaces and parentheses): state is field
	 * 3, the parent 4, utime 14, stime 15 (proc(5)). */
	if (harness_read_file(p, &text, &len) == 0 && (at = strrchr(text, ')')) &&
	    sscanf(at + 2, "%*c %ld %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &pp, &ut,
		   &st) == 3) {
		v = (long)(ut + st);
		if (ret_ppid)
			*ret_ppid = (pid_t)pp;
	}
	free(text);
	free(p);
	return v;
}

char *bench_path(const char *name)
{
	return harness_strdupf("%s/%s", bench.dir, name);
}

static void stop(pid_t *pid)
{
	if (*pid > 0) {
		kill(*pid, SIGTERM);
		waitpid(*pid, NULL, 0);
	}
	*pid = 0;
}

void bench_cleanup(void)
{
	stop(&bench.agent_pid);
	stop(&bench.mas_pid);
	harness_swtpm_stop(bench.tpm);
	bench.tpm = NULL;
	if (bench.dir && !getenv("KEEP_TEST_DIR"))
		harness_rmtree(bench.dir);
	free(bench.dir);
	free(bench.sock);
	bench.dir = bench.sock = NULL;
	secret_wipe(bench.km, sizeof(bench.km));
}

void bench_die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", program_invocation_short_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	bench_cleanup();
	exit(bench.die_status ? bench.die_status : 1);
}

void bench_init_pki(void)
{
	char *script, *pki;
	int status = -1;

	bench.builddir = getenv("BUILDDIR");
	bench.srcdir = getenv("SRCDIR");
	if (!bench.builddir || !bench.srcdir)
		bench_die("run through bench/run, or set BUILDDIR and SRCDIR");
	if (harness_tmpdir(&bench.dir) < 0)
		bench_die("no temp dir");
	script = harness_strdupf("%s/tests/integration/mkcerts.sh", bench.srcdir);
	pki = bench_path("pki");
	if (harness_run((const char *[]){ "sh", script, pki, NULL }, NULL, NULL, &status, NULL,
			NULL) < 0 ||
	    status != 0)
		bench_die("mkcerts.sh failed (is openssl installed?)");
	free(script);
	free(pki);
}

void bench_store(const char *node_id, const uint8_t *methods, size_t n_methods)
{
	char *db = bench_path("mas.db"), *mk = bench_path("master.key");
	_cleanup_secret_ struct secret *master = NULL;
	struct store *s = NULL;

	if (mas_master_key_create(mk) < 0 || mas_master_key_load(mk, &master) < 0 ||
	    store_open(db, master->data, &s) < 0)
		bench_die("cannot create the MAS store");
	if (node_id) {
		struct store_node n = { .n_methods = n_methods };

		memcpy(n.methods, methods, n_methods);
		snprintf(n.node_id, sizeof(n.node_id), "%s", node_id);
		snprintf(n.km_id, sizeof(n.km_id), "km@" BENCH_FQDN);
		snprintf(n.target_id, sizeof(n.target_id), "/in-cse");
		if (crypto_random(bench.km, sizeof(bench.km)) < 0 ||
		    store_node_add(s, &n, bench.km) < 0)
			bench_die("cannot add the node");
	}
	store_close(s);
	free(db);
	free(mk);
}

void bench_provision(const char *node_id, struct tpm_ctx **ret_open)
{
	char *state = bench_path("node"), err[512];
	struct tpm_ctx *t = NULL;

	if (harness_swtpm_start(NULL, &bench.tpm) < 0)
		bench_die("cannot start swtpm (apt install swtpm)");
	if (tpm_open(harness_swtpm_tcti(bench.tpm), &t, err, sizeof(err)) < 0 ||
	    tpm_provision(t, state, node_id, "km@" BENCH_FQDN, bench.km, sizeof(bench.km), NULL) < 0)
		bench_die("cannot provision Km into swtpm");
	if (ret_open)
		*ret_open = t;
	else
		tpm_close(t);
	free(state);
}

pid_t bench_spawn(char **args, const char *log)
{
	pid_t pid = fork();

	if (pid == 0) {
		(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (log && !freopen(log, "a", stderr))
			_exit(126);
		unsetenv("NOTIFY_SOCKET");
		execv(args[0], args);
		_exit(127);
	}
	return pid;
}

/* Wait up to 5 s for m2masd's --port-file; false if it did not appear. */
static bool wait_ports(const char *ports, uint16_t *est, uint16_t *ret)
{
	char *content = NULL;
	size_t len;
	bool ok;

	for (int i = 0; i < 200 && !content; i++) {
		if (harness_read_file(ports, &content, &len) < 0 || !strchr(content, '\n')) {
			free(content);
			content = NULL;
			usleep(25000);
		}
	}
	ok = content && sscanf(content, "establish=%hu retrieve=%hu", est, ret) == 2;
	free(content);
	return ok;
}

pid_t bench_start_mas_instance(const char *name, const char *fqdn, const char *mas_extra,
			       const char *store_lines, uint16_t *est, uint16_t *ret)
{
	const char *d = bench.dir;
	char *conf = harness_strdupf("%s/%s.conf", d, name);
	char *ports = harness_strdupf("%s/%s.ports", d, name);
	char *mlog = harness_strdupf("%s/%s.log", d, name);
	char *mas = harness_strdupf("%s/mas/m2masd", bench.builddir);
	char *text = harness_strdupf(
		"[mas]\nlisten = 127.0.0.1:%u\nretrieval_listen = 127.0.0.1:%u\nfqdn = %s\n"
		"cert = %s/pki/mas.crt\nkey = %s/pki/mas.key\ntarget_ca = %s/pki/ca.crt\n"
		"%slifetime = 1h\n[store]\n%smaster_key = %s/master.key\n[log]\nlevel = warning\n",
		*est, *ret, fqdn, d, d, d, mas_extra ? mas_extra : "", store_lines, d);
	char *args[] = { mas, "--config", conf, "--port-file", ports, "--foreground", NULL };
	pid_t pid;

	unlink(ports);
	if (harness_write_file(conf, text, strlen(text), 0600) < 0)
		bench_die("cannot write %s", conf);
	pid = bench_spawn(args, mlog);
	if (pid < 0 || !wait_ports(ports, est, ret)) {
		if (pid > 0)
			harness_kill_wait(&pid, SIGKILL);
		bench_die("m2masd did not start (see %s; KEEP_TEST_DIR=1 keeps it)", mlog);
	}
	free(conf);
	free(ports);
	free(mlog);
	free(mas);
	free(text);
	return pid;
}

void bench_start_mas(const char *fqdn, const char *mas_extra, bool log)
{
	const char *d = bench.dir;
	char *conf = bench_path("m2masd.conf"), *ports = bench_path("mas.ports");
	char *mlog = log ? bench_path("m2masd.log") : NULL;
	char *mas = harness_strdupf("%s/mas/m2masd", bench.builddir);
	char *text = harness_strdupf(
		"[mas]\nlisten = 127.0.0.1:0\nretrieval_listen = 127.0.0.1:0\nfqdn = %s\n"
		"cert = %s/pki/mas.crt\nkey = %s/pki/mas.key\ntarget_ca = %s/pki/ca.crt\n"
		"%slifetime = 1h\n[store]\npath = %s/mas.db\nmaster_key = %s/master.key\n"
		"[log]\nlevel = warning\n",
		fqdn, d, d, d, mas_extra ? mas_extra : "", d, d);
	char *args[] = { mas, "--config", conf, "--port-file", ports, "--foreground", NULL };

	if (harness_write_file(conf, text, strlen(text), 0600) < 0)
		bench_die("cannot write m2masd.conf");
	bench.mas_pid = bench_spawn(args, mlog);
	if (!wait_ports(ports, &bench.est_port, &bench.ret_port))
		bench_die("m2masd did not start%s%s%s", mlog ? " (see " : "", mlog ? mlog : "",
			  mlog ? "; KEEP_TEST_DIR=1 keeps it)" : "");
	free(conf);
	free(ports);
	free(mlog);
	free(mas);
	free(text);
}

void bench_start_agent(void)
{
	const char *d = bench.dir;
	char *conf = bench_path("m2msad.conf"), *log = bench_path("m2msad.log");
	char *agent = harness_strdupf("%s/agent/m2msad", bench.builddir);
	char *text;
	char *args[] = { agent, "--config", conf, "--log-level", "warning", "--log-target", "stderr",
			 NULL };

	bench.sock = bench_path("agent.sock");
	text = harness_strdupf(
		"[node]\nstate_dir = %s/node\ntcti = %s\n[mas]\naddress = 127.0.0.1:%u\n"
		"ca = %s/pki/ca.crt\nserver_name = " BENCH_FQDN "\ntimeout = 5s\n[agent]\n"
		"status_file = %s/status.json\nsocket = %s\nclients_dir = %s/clients.d\n",
		d, harness_swtpm_tcti(bench.tpm), bench.est_port, d, d, bench.sock, d);
	if (harness_write_file(conf, text, strlen(text), 0600) < 0)
		bench_die("cannot write m2msad.conf");
	bench.agent_pid = bench_spawn(args, log);
	free(conf);
	free(log);
	free(agent);
	free(text);
}

void bench_start_key_service(const char *node_id)
{
	static const uint8_t psk[] = { WIRE_METHOD_PSK };

	bench_init_pki();
	bench_store(node_id, psk, 1);
	bench_provision(node_id, NULL);
	bench_start_mas(BENCH_FQDN, NULL, true);
	bench_start_agent();
}

static struct {
	WOLFSSL_CTX *ctx;
	int listen_fd;
	pthread_t thread;
	atomic_bool stop;
} bare;

static void *bare_server(void *arg)
{
	(void)arg;
	while (!atomic_load(&bare.stop)) {
		int fd = accept(bare.listen_fd, NULL, NULL);
		char err[TLS_ERR_MAX];
		WOLFSSL *ssl;

		if (fd < 0)
			continue;
		tcp_set_nodelay(fd);
		ssl = tls_server_new(bare.ctx, fd, err, sizeof(err));
		if (ssl && wolfSSL_accept(ssl) == WOLFSSL_SUCCESS)
			(void)wolfSSL_shutdown(ssl);
		wolfSSL_free(ssl);
		close(fd);
	}
	return NULL;
}

uint16_t bench_bare_server_start(void)
{
	char *cert = bench_path("pki/mas.crt"), *key = bench_path("pki/mas.key");
	char err[TLS_ERR_MAX];
	uint16_t port;

	bare.ctx = tls_server_ctx_new(cert, key, NULL, err, sizeof(err));
	free(cert);
	free(key);
	if (!bare.ctx)
		bench_die("%s", err);
	bare.listen_fd = tcp_listen("127.0.0.1", 0, &port);
	/* Blocking accept: the thread waits in it until bench_bare_server_stop(). */
	if (bare.listen_fd < 0 || fcntl(bare.listen_fd, F_SETFL, 0) < 0)
		bench_die("cannot listen");
	atomic_store(&bare.stop, false);
	if (pthread_create(&bare.thread, NULL, bare_server, NULL) != 0)
		bench_die("cannot start the bare TLS server thread");
	return port;
}

void bench_bare_server_stop(void)
{
	atomic_store(&bare.stop, true);
	shutdown(bare.listen_fd, SHUT_RDWR);
	close(bare.listen_fd);
	pthread_join(bare.thread, NULL);
	wolfSSL_CTX_free(bare.ctx);
	bare.ctx = NULL;
}

int bench_bare_handshake(WOLFSSL_CTX *client_ctx, uint16_t port)
{
	char err[TLS_ERR_MAX];
	int fd = tcp_connect("127.0.0.1", port, 5000);
	WOLFSSL *ssl;
	bool ok;

	if (fd < 0)
		return fd;
	ssl = tls_client_new(client_ctx, fd, BENCH_FQDN, err, sizeof(err));
	ok = ssl && wolfSSL_connect(ssl) == WOLFSSL_SUCCESS;
	wolfSSL_free(ssl);
	close(fd);
	return ok ? 0 : -EPROTO;
}

int bench_establish(WOLFSSL_CTX *ctx, const char *node_id, uint8_t method,
		    const struct kdf_prf *prf)
{
	struct establish_result res = { .kc = NULL };
	struct m2msa_err err;
	char addr[32];
	int r;

	snprintf(addr, sizeof(addr), "127.0.0.1:%u", bench.est_port);
	r = establish_run(ctx,
			  &(struct establish_params){ .mas_address = addr, .server_name = BENCH_FQDN,
						      .node_id = node_id, .methods = &method,
						      .n_methods = 1, .timeout_ms = 10000 },
			  prf, &res, &err);
	if (r < 0)
		fprintf(stderr, "%s: %s\n", program_invocation_short_name, err.msg);
	else if (res.method != method)
		r = -EPROTO;
	establish_result_clear(&res);
	return r;
}
