/* SPDX-License-Identifier: Apache-2.0 */
/* The provider side of integration tests: PKI, store, and a running m2masd. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/crypto.h"
#include "common/frame.h"
#include "common/secret.h"
#include "common/tls.h"
#include "fixture.h"
#include "harness.h"
#include "secrets.h"
#include "mas/keyfile.h"
#include "tpm/keystore.h"
#include "pg-fixture.h"
#include "tpm/tpm-ctx.h"

const char *fixture_builddir(void)
{
	const char *b = getenv("BUILDDIR");

	cr_assert_not_null(b, "BUILDDIR is not set (run through meson test)");
	return b;
}

char *mas_fixture_path(const struct mas_fixture *m, const char *name)
{
	return harness_strdupf("%s/%s", m->dir, name);
}

void fixture_make_certs(const char *dir)
{
	const char *src = getenv("SRCDIR");
	char *script, *pki = harness_strdupf("%s/pki", dir);
	const char *argv[] = { "sh", NULL, pki, NULL };
	int status = -1;

	cr_assert_not_null(src, "SRCDIR is not set (run through meson test)");
	script = harness_strdupf("%s/tests/integration/mkcerts.sh", src);
	argv[1] = script;
	cr_assert_eq(harness_run(argv, NULL, NULL, &status, NULL, NULL), 0);
	cr_assert_eq(status, 0, "mkcerts.sh failed");
	free(script);
	free(pki);
}

struct store *fixture_store_open(const char *db, const char *master)
{
	_cleanup_secret_ struct secret *mk = NULL;
	struct store *s = NULL;

	cr_assert_eq(mas_master_key_load(master, &mk), 0);
	cr_assert_eq(store_open(db, mk->data, &s), 0);
	return s;
}

char *fixture_read_text(const char *path)
{
	char *text = NULL;
	size_t len;

	cr_assert_eq(harness_read_file(path, &text, &len), 0, "cannot read %s", path);
	return text;
}

int fixture_count_in(const char *path, const char *needle)
{
	char *text = fixture_read_text(path), *at = text;
	int n = 0;

	while ((at = strstr(at, needle))) {
		n++;
		at++;
	}
	free(text);
	return n;
}

void fixture_wait_log_count(const char *path, const char *needle, int n, int tries,
			    unsigned interval_ms)
{
	for (int i = 0;; i++) {
		char *log = fixture_read_text(path);
		int count = 0;

		for (const char *p = strstr(log, needle); p; p = strstr(p + 1, needle))
			count++;
		if (count >= n) {
			free(log);
			return;
		}
		cr_assert_lt(i, tries, "%s has '%s' %d times, not %d, after %u ms:\n%s", path,
			     needle, count, n, (unsigned)tries * interval_ms, log);
		free(log);
		usleep(interval_ms * 1000);
	}
}

void fixture_read_ports(const char *ports, const char *log, uint16_t *est_port, uint16_t *ret_port)
{
	char *content = NULL;
	size_t len;

	for (int i = 0; i < 200; i++) {
		if (harness_read_file(ports, &content, &len) == 0 && strchr(content, '\n'))
			break;
		free(content);
		content = NULL;
		usleep(25 * 1000);
	}
	if (!content) {
		char *text = NULL;

		(void)harness_read_file(log, &text, &len);
		cr_assert_fail("m2masd did not write its port file (%s):\n%s", log,
			       text ? text : "(no log)");
	}
	cr_assert_eq(sscanf(content, "establish=%hu retrieve=%hu", est_port, ret_port), 2,
		     "bad port file: %s", content);
	free(content);
}

void fixture_provision_km(const char *tcti, const char *state, const char *node_id,
			  const char *km_id, const uint8_t km[32])
{
	struct tpm_ctx *t = NULL;
	char err[256] = "";

	cr_assert_eq(tpm_open(tcti, &t, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(tpm_provision(t, state, node_id, km_id, km, 32, NULL), 0, "%s",
		     tpm_last_error(t));
	tpm_close(t);
}

pid_t fixture_start_agent(const char *conf, const char *log, const char *sock, int tries)
{
	return fixture_start_agent_under(NULL, conf, log, sock, tries);
}

pid_t fixture_start_agent_under(const char *const *wrapper, const char *conf, const char *log,
				const char *sock, int tries)
{
	char *bin = harness_strdupf("%s/agent/m2msad", fixture_builddir());
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		char *argv[24];
		size_t n = 0;

		(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (!freopen(log, "a", stderr))
			_exit(126);
		unsetenv("NOTIFY_SOCKET");
		unsetenv("JOURNAL_STREAM");
		for (; wrapper && *wrapper && n < 16; wrapper++)
			argv[n++] = strdup(*wrapper); /* execvp's argv is not const */
		argv[n++] = bin;
		argv[n++] = "--config";
		argv[n++] = strdup(conf);
		argv[n++] = "--log-level";
		argv[n++] = "debug";
		argv[n++] = "--log-target";
		argv[n++] = "stderr";
		argv[n] = NULL;
		execvp(argv[0], argv);
		_exit(127);
	}
	free(bin);
	/* The socket exists once the key service listens. */
	for (int i = 0; sock; i++) {
		struct stat st;

		if (stat(sock, &st) == 0 && S_ISSOCK(st.st_mode))
			break;
		cr_assert_lt(i, tries, "m2msad did not create %s (see %s)", sock, log);
		usleep(25 * 1000);
	}
	return pid;
}

void mas_fixture_init(struct mas_fixture *m)
{
	memset(m, 0, sizeof(*m));
	if (!harness_have_program("openssl"))
		cr_skip_test("openssl is not installed (apt install openssl)");
	cr_assert_eq(harness_tmpdir(&m->dir), 0);
	fixture_make_certs(m->dir);
	m->db = store_fixture_location(m->dir); /* a file, or a PostgreSQL database */
	m->master = mas_fixture_path(m, "master.key");
	m->conf = mas_fixture_path(m, "m2masd.conf");
	m->log = mas_fixture_path(m, "m2masd.log");
	m->ports = mas_fixture_path(m, "mas.ports");
	cr_assert_eq(mas_master_key_create(m->master), 0);
	store_close(mas_fixture_store(m));
	mas_fixture_write_conf(m, NULL);
	cr_assert_eq(tls_init(), 0);
}

void mas_fixture_fini(struct mas_fixture *m)
{
	mas_fixture_stop(m);
	/* Every key in the store (and any the test noted) is absent from the logs. */
	secrets_assert_logs_clean(m->dir, m->db, m->master);
	if (m->dir && !getenv("KEEP_TEST_DIR"))
		harness_rmtree(m->dir);
	free(m->dir);
	free(m->db);
	free(m->master);
	free(m->conf);
	free(m->log);
	free(m->ports);
	memset(m, 0, sizeof(*m));
}

/*
 * M2MSA_TEST_MAS_WORKERS=N runs every fixture MAS with [mas] workers = N (unset:
 * m2masd's default, one worker per online CPU), unless the test sets workers itself.
 */
static const char *workers_line(const char *mas_extra, char *buf, size_t len)
{
	const char *n = getenv("M2MSA_TEST_MAS_WORKERS");

	if (!n || !n[0] || (mas_extra && strstr(mas_extra, "workers")))
		return "";
	snprintf(buf, len, "workers = %s\n", n);
	return buf;
}

void mas_fixture_write_conf(struct mas_fixture *m, const char *mas_extra)
{
	char *store = store_fixture_conf_lines(m->db), workers[64];
	char *text = harness_strdupf(
		"[mas]\nlisten = 127.0.0.1:%u\nretrieval_listen = 127.0.0.1:%u\nfqdn = " FIXTURE_FQDN
		"\ncert = %s/pki/mas.crt\nkey = %s/pki/mas.key\ntarget_ca = %s/pki/ca.crt\n"
		"lifetime = 1h\n%s%s[store]\n%smaster_key = %s\n[log]\nlevel = debug\n",
		m->est_port, m->ret_port, m->dir, m->dir, m->dir,
		workers_line(mas_extra, workers, sizeof(workers)), mas_extra ? mas_extra : "", store,
		m->master);

	cr_assert_eq(harness_write_file(m->conf, text, strlen(text), 0600), 0);
	free(text);
	free(store);
}

void mas_fixture_write_agent_conf(const struct mas_fixture *m, const char *path,
				  const struct fixture_agent_conf *c)
{
	char *addr = c->mas_address ? strdup(c->mas_address) :
				      harness_strdupf("127.0.0.1:%u", m->est_port);
	char *text = harness_strdupf(
		"[node]\nstate_dir = %s/node\ntcti = %s\n%s"
		"[mas]\naddress = %s\nca = %s/pki/ca.crt\nserver_name = " FIXTURE_FQDN "\n"
		"timeout = %us\n[agent]\nstatus_file = %s/status.json\nbackoff_min = %us\n"
		"backoff_max = %us\nsocket = %s\nclients_dir = %s\n",
		m->dir, c->tcti, c->node_extra ? c->node_extra : "", addr, m->dir,
		c->timeout_s, m->dir, c->backoff_min_s, c->backoff_max_s, c->sock, c->clients_dir);

	cr_assert_not_null(addr);
	cr_assert_eq(harness_write_file(path, text, strlen(text), 0644), 0);
	free(text);
	free(addr);
}

void mas_fixture_agent_files(const struct mas_fixture *m, struct fixture_agent_files *ret)
{
	ret->sock = mas_fixture_path(m, "agent.sock");
	ret->log = mas_fixture_path(m, "m2msad.log");
	ret->conf = mas_fixture_path(m, "m2msad.conf");
	ret->clients_dir = mas_fixture_path(m, "clients.d");
	cr_assert_eq(mkdir(ret->clients_dir, 0755), 0, "mkdir %s: %s", ret->clients_dir,
		     strerror(errno));
}

void fixture_agent_files_free(struct fixture_agent_files *f)
{
	free(f->sock);
	free(f->log);
	free(f->conf);
	free(f->clients_dir);
	*f = (struct fixture_agent_files){ 0 };
}

void fixture_write_client(const struct fixture_agent_files *f, const char *name, const char *text)
{
	char *p = harness_strdupf("%s/%s", f->clients_dir, name);

	cr_assert_eq(harness_write_file(p, text, strlen(text), 0644), 0);
	free(p);
}

void fixture_in_child(void (*fn)(const void *arg, void *out), const void *arg, void *out,
		      size_t len)
{
	int p[2];
	pid_t pid;

	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		close(p[0]);
		fn(arg, out);
		if (write(p[1], out, len) != (ssize_t)len)
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	cr_assert_eq(read(p[0], out, len), (ssize_t)len, "the child sent no answer");
	close(p[0]);
	cr_assert_eq(waitpid(pid, NULL, 0), pid);
}

void mas_fixture_start(struct mas_fixture *m, const char *opt, const char *val)
{
	char *mas = harness_strdupf("%s/mas/m2masd", fixture_builddir());

	unlink(m->ports);
	m->pid = fork();
	cr_assert_geq(m->pid, 0);
	if (m->pid == 0) {
		/* Dies with the test process, even when Criterion kills or loses it. */
		(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (!freopen(m->log, "a", stderr))
			_exit(126);
		execl(mas, mas, "--config", m->conf, "--port-file", m->ports, "--log-target",
		      "stderr", opt, val, (char *)NULL);
		_exit(127);
	}
	fixture_read_ports(m->ports, m->log, &m->est_port, &m->ret_port);
	free(mas);
}

void mas_fixture_stop(struct mas_fixture *m)
{
	harness_kill_wait(&m->pid, SIGTERM);
}

uint16_t mas_fixture_restart_with_metrics(struct mas_fixture *m, const char *mas_extra)
{
	uint16_t port = 0;
	char *ports;

	mas_fixture_stop(m);
	m->est_port = m->ret_port = 0;
	mas_fixture_write_conf(m, mas_extra);
	mas_fixture_start(m, NULL, NULL);
	ports = fixture_read_text(m->ports);
	cr_assert(strstr(ports, "metrics="), "%s", ports);
	cr_assert_eq(sscanf(strstr(ports, "metrics="), "metrics=%hu", &port), 1);
	free(ports);
	return port;
}

struct store *mas_fixture_store(const struct mas_fixture *m)
{
	return fixture_store_open(m->db, m->master);
}

void fixture_add_node(const char *db, const char *master, const char *node_id, const char *km_id,
		      const uint8_t km[32], const uint8_t *methods, size_t n_methods,
		      uint64_t lifetime)
{
	struct store_node n = { .lifetime = lifetime, .n_methods = n_methods };
	struct store *s = fixture_store_open(db, master);

	memcpy(n.methods, methods, n_methods);
	snprintf(n.node_id, sizeof(n.node_id), "%s", node_id);
	snprintf(n.km_id, sizeof(n.km_id), "%s", km_id);
	snprintf(n.target_id, sizeof(n.target_id), "%s", FIXTURE_TARGET);
	cr_assert_eq(store_node_add(s, &n, km), 0);
	store_close(s);
}

void mas_fixture_add_node(const struct mas_fixture *m, const char *node_id, const uint8_t km[32],
			  const uint8_t *methods, size_t n_methods, uint64_t lifetime)
{
	fixture_add_node(m->db, m->master, node_id, "km-1@" FIXTURE_FQDN, km, methods, n_methods,
			 lifetime);
}

void mas_fixture_provision_node(const struct mas_fixture *m, const char *tcti, const char *node_id,
				uint8_t km[32], uint64_t lifetime)
{
	static const uint8_t psk = WIRE_METHOD_PSK;
	char *state = mas_fixture_path(m, "node");

	cr_assert_eq(crypto_random(km, 32), 0);
	fixture_provision_km(tcti, state, node_id, "km-1@" FIXTURE_FQDN, km);
	free(state);
	mas_fixture_add_node(m, node_id, km, &psk, 1, lifetime);
}

static int count_cb(const struct store_assoc *a, void *userdata)
{
	(void)a;
	(*(size_t *)userdata)++;
	return 0;
}

size_t mas_fixture_count_assocs(const struct mas_fixture *m)
{
	struct store *s = mas_fixture_store(m);
	size_t n = 0;

	cr_assert_geq(store_assoc_foreach(s, NULL, count_cb, &n), 0);
	store_close(s);
	return n;
}

char *mas_fixture_read_log(const struct mas_fixture *m)
{
	return fixture_read_text(m->log);
}

int mas_fixture_ctl(const struct mas_fixture *m, char **ret_err, const char *arg, ...)
{
	const char *argv[16] = { NULL };
	char *bin = harness_strdupf("%s/mas/m2masctl", fixture_builddir()), *out = NULL;
	size_t n = 0;
	int status = -1;
	va_list ap;

	argv[n++] = bin;
	argv[n++] = "--config";
	argv[n++] = m->conf;
	va_start(ap, arg);
	for (const char *a = arg; a; a = va_arg(ap, const char *)) {
		cr_assert_lt(n, sizeof(argv) / sizeof(argv[0]) - 1, "too many m2masctl arguments");
		argv[n++] = a;
	}
	va_end(ap);
	cr_assert_eq(harness_run(argv, NULL, NULL, &status, &out, ret_err), 0);
	free(bin);
	free(out);
	return status;
}

int fixture_retrieve(const struct mas_fixture *m, const char *cert, const char *key_id,
		     struct wire_msg *ret)
{
	return fixture_retrieve_at(m->dir, m->ret_port, cert, key_id, ret);
}

int fixture_retrieve_at(const char *dir, uint16_t ret_port, const char *cert, const char *key_id,
			struct wire_msg *ret)
{
	char err[256] = "", *ca = harness_strdupf("%s/pki/ca.crt", dir);
	char *c = harness_strdupf("%s/pki/%s.crt", dir, cert);
	char *k = harness_strdupf("%s/pki/%s.key", dir, cert);
	WOLFSSL_CTX *ctx = tls_client_ctx_new(ca, c, k, err, sizeof(err));
	struct wire_msg req = { .type = WIRE_MSG_KEY_REQUEST };
	WOLFSSL *ssl = NULL;
	int fd, r;

	cr_assert_not_null(ctx, "%s", err);
	fd = tcp_connect("127.0.0.1", ret_port, 5000);
	if (fd < 0) {
		r = fd;
		goto out;
	}
	frame_set_timeouts(fd, 5000);
	ssl = tls_client_new(ctx, fd, FIXTURE_FQDN, err, sizeof(err));
	cr_assert_not_null(ssl, "%s", err);
	r = wolfSSL_connect(ssl);
	if (r != WOLFSSL_SUCCESS) {
		r = tls_error(ssl, r, err, sizeof(err));
		goto out;
	}
	snprintf(req.key_request.key_id, sizeof(req.key_request.key_id), "%s", key_id);
	r = frame_send(ssl, &req, err, sizeof(err));
	if (r == 0)
		r = frame_recv(ssl, ret, err, sizeof(err));
out:
	if (ssl)
		wolfSSL_free(ssl);
	if (fd >= 0)
		close(fd);
	wolfSSL_CTX_free(ctx);
	free(ca);
	free(c);
	free(k);
	return r;
}

void fixture_assert_key_absent(const char *text, size_t len, const uint8_t key[32], const char *what)
{
	char lower[65], upper[65];

	for (int i = 0; i < 32; i++) {
		snprintf(lower + 2 * i, 3, "%02x", key[i]);
		snprintf(upper + 2 * i, 3, "%02X", key[i]);
	}
	cr_assert_null(strstr(text, lower), "key bytes (hex) in %s", what);
	cr_assert_null(strstr(text, upper), "key bytes (HEX) in %s", what);
	cr_assert_null(memmem(text, len, key, 32), "key bytes (raw) in %s", what);
}

/* GET path from 127.0.0.1:port; the whole answer (free()). */
char *fixture_http_get(uint16_t port, const char *path)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	char *req = harness_strdupf("GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path);
	size_t len = 0, cap = 65536;
	char *buf = calloc(1, cap);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ssize_t n;

	cr_assert(buf && fd >= 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	while ((n = read(fd, buf + len, cap - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	free(req);
	return buf;
}
