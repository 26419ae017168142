/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench-keys: the local key service's cost against a baseline, in one run.
 *
 * Sets up the real parts (swtpm with Km, m2masd and m2msad on 127.0.0.1, in a
 * temp dir), then:
 * 1. get-key round trips per second through libm2msa (a per-AE key: authorise,
 *    derive, encode) against a bare SOCK_SEQPACKET ping-pong between two
 *    processes with the same message sizes (the GET_KEY request and the KEY
 *    answer), in interleaved slices; the ratio of the totals. Target ratio >= 0.8.
 * 2. Fan-out: 500 libm2msa subscribers; time from a rekey request to the first
 *    and to the last subscriber holding the new key (the establishment with the
 *    MAS is in both; their difference is the push itself).
 * Usage: bench-keys [seconds per round, default 2]   (run as root: BUILDDIR, SRCDIR set)
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <m2msa/m2msa.h>

#include "common/crypto.h"
#include "common/local-wire.h"
#include "common/secret.h"
#include "harness.h"
#include "mas/store.h"
#include "tpm/keystore.h"

#define NODE "/mn-cse-bench"
#define FQDN "mas.test"
#define AE "Cbench1"
#define ROUNDS 3
#define SUBSCRIBERS 500

static char *dir, *sock_path;
static uint16_t est_port;
static uint8_t km[32];
static struct harness_swtpm *tpm;
static pid_t mas_pid, agent_pid;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void cleanup(void)
{
	if (agent_pid > 0) {
		kill(agent_pid, SIGTERM);
		waitpid(agent_pid, NULL, 0);
	}
	if (mas_pid > 0) {
		kill(mas_pid, SIGTERM);
		waitpid(mas_pid, NULL, 0);
	}
	harness_swtpm_stop(tpm);
	if (dir && !getenv("KEEP_TEST_DIR"))
		harness_rmtree(dir);
	secret_wipe(km, sizeof(km));
}

static void die(const char *what)
{
	fprintf(stderr, "bench-keys: %s\n", what);
	cleanup();
	exit(1);
}

static void setup(const char *builddir, const char *srcdir)
{
	char *script = harness_strdupf("%s/tests/integration/mkcerts.sh", srcdir);
	char *pki = harness_strdupf("%s/pki", dir), *db = harness_strdupf("%s/mas.db", dir);
	char *mk = harness_strdupf("%s/master.key", dir), *state = harness_strdupf("%s/node", dir);
	const char *argv[] = { "sh", script, pki, NULL };
	struct store_node n = { .n_methods = 1, .methods = { WIRE_METHOD_PSK } };
	struct secret *master = NULL;
	struct store *s = NULL;
	struct tpm_ctx *t = NULL;
	char err[256];
	int status = -1;

	if (harness_run(argv, NULL, NULL, &status, NULL, NULL) < 0 || status != 0)
		die("mkcerts.sh failed (is openssl installed?)");
	if (crypto_random(km, sizeof(km)) < 0 || store_master_key_create(mk) < 0 ||
	    store_master_key_load(mk, &master) < 0 || store_open(db, master->data, &s) < 0)
		die("cannot create the MAS store");
	snprintf(n.node_id, sizeof(n.node_id), NODE);
	snprintf(n.km_id, sizeof(n.km_id), "km@" FQDN);
	snprintf(n.target_id, sizeof(n.target_id), "/in-cse");
	if (store_node_add(s, &n, km) < 0)
		die("cannot add the node");
	store_close(s);
	secret_free(master);
	if (harness_swtpm_start(NULL, &tpm) < 0)
		die("cannot start swtpm (apt install swtpm)");
	if (tpm_open(harness_swtpm_tcti(tpm), &t, err, sizeof(err)) < 0 ||
	    tpm_provision(t, state, NODE, "km@" FQDN, km, 32, NULL) < 0)
		die("cannot provision Km into swtpm");
	tpm_close(t);
	free(script);
	free(pki);
	free(db);
	free(mk);
	free(state);
	(void)builddir;
}

static pid_t spawn(const char *exe, char **args, const char *log)
{
	pid_t pid = fork();

	if (pid == 0) {
		(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (log && !freopen(log, "a", stderr))
			_exit(126);
		unsetenv("NOTIFY_SOCKET");
		execv(exe, args);
		_exit(127);
	}
	return pid;
}

static void start_daemons(const char *builddir)
{
	char *conf = harness_strdupf("%s/m2masd.conf", dir), *ports = harness_strdupf("%s/mas.ports", dir);
	char *text = harness_strdupf(
		"[mas]\nlisten = 127.0.0.1:0\nretrieval_listen = 127.0.0.1:0\nfqdn = " FQDN "\n"
		"cert = %s/pki/mas.crt\nkey = %s/pki/mas.key\ntarget_ca = %s/pki/ca.crt\n"
		"lifetime = 1h\n[store]\npath = %s/mas.db\nmaster_key = %s/master.key\n"
		"[log]\nlevel = warning\n", dir, dir, dir, dir, dir);
	char *mas = harness_strdupf("%s/mas/m2masd", builddir), *agent = harness_strdupf("%s/agent/m2msad", builddir);
	char *aconf = harness_strdupf("%s/m2msad.conf", dir), *alog = harness_strdupf("%s/m2msad.log", dir);
	char *mlog = harness_strdupf("%s/m2masd.log", dir), *content = NULL, *atext;
	char *margs[] = { mas, "--config", conf, "--port-file", ports, "--foreground", NULL };
	char *aargs[] = { agent, "--config", aconf, "--log-level", "warning", "--log-target",
			  "stderr", NULL };
	uint16_t ret_port;
	size_t len;

	if (harness_write_file(conf, text, strlen(text), 0600) < 0)
		die("cannot write m2masd.conf");
	mas_pid = spawn(mas, margs, mlog);
	for (int i = 0; i < 200 && !content; i++) {
		if (harness_read_file(ports, &content, &len) < 0 || !strchr(content, '\n')) {
			free(content);
			content = NULL;
			usleep(25000);
		}
	}
	if (!content || sscanf(content, "establish=%hu retrieve=%hu", &est_port, &ret_port) != 2)
		die("m2masd did not start");
	atext = harness_strdupf(
		"[node]\nstate_dir = %s/node\ntcti = %s\n[mas]\naddress = 127.0.0.1:%u\n"
		"ca = %s/pki/ca.crt\nserver_name = " FQDN "\ntimeout = 5s\n[agent]\n"
		"status_file = %s/status.json\nsocket = %s\nclients_dir = %s/clients.d\n",
		dir, harness_swtpm_tcti(tpm), est_port, dir, dir, sock_path, dir);
	if (harness_write_file(aconf, atext, strlen(atext), 0600) < 0)
		die("cannot write m2msad.conf");
	agent_pid = spawn(agent, aargs, alog);
	free(content);
	free(conf);
	free(ports);
	free(text);
	free(mas);
	free(agent);
	free(aconf);
	free(alog);
	free(mlog);
	free(atext);
}

/* Wait for the agent's first key. */
static struct m2msa *connect_agent(void)
{
	struct m2msa *h = NULL;
	struct m2msa_key *k = NULL;

	for (int i = 0; i < 200 && m2msa_open(sock_path, &h) < 0; i++)
		usleep(25000);
	if (!h || m2msa_get_key(h, AE, &k) < 0)
		die("m2msad did not serve a key (see its log in the temp dir; KEEP_TEST_DIR=1)");
	m2msa_key_free(k);
	return h;
}

static double rate_ours(struct m2msa *h, double secs)
{
	double t0 = now(), t;
	long n = 0;

	do {
		struct m2msa_key *k = NULL;

		for (int i = 0; i < 100; i++) {
			if (m2msa_get_key(h, AE, &k) < 0)
				die("get-key failed during the benchmark");
			m2msa_key_free(k);
		}
		n += 100;
		t = now();
	} while (t - t0 < secs);
	return (double)n / (t - t0);
}

/* The baseline: a second process answering every packet with a packet of the KEY size. */
static double rate_bare(size_t req_len, size_t rep_len, double secs)
{
	uint8_t req[LOCAL_WIRE_MSG_MAX] = { 0 }, rep[LOCAL_WIRE_MSG_MAX] = { 0 };
	int sv[2];
	pid_t pid;
	double t0, t;
	long n = 0;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		die("socketpair");
	pid = fork();
	if (pid == 0) {
		uint8_t buf[LOCAL_WIRE_MSG_MAX + 1];

		close(sv[0]);
		/* Like the agent: poll, then a non-blocking receive and send. */
		for (;;) {
			struct pollfd p = { .fd = sv[1], .events = POLLIN };
			ssize_t got;

			if (poll(&p, 1, -1) < 0)
				_exit(1);
			got = recv(sv[1], buf, sizeof(buf), MSG_DONTWAIT);
			if (got <= 0)
				_exit(0);
			if (send(sv[1], rep, rep_len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
				_exit(1);
		}
	}
	close(sv[1]);
	t0 = now();
	do {
		for (int i = 0; i < 100; i++) {
			struct pollfd p = { .fd = sv[0], .events = POLLIN };

			if (send(sv[0], req, req_len, MSG_NOSIGNAL) < 0 || poll(&p, 1, 5000) != 1 ||
			    recv(sv[0], rep, sizeof(rep), 0) <= 0)
				die("the baseline ping-pong failed");
		}
		n += 100;
		t = now();
	} while (t - t0 < secs);
	close(sv[0]);
	waitpid(pid, NULL, 0);
	return (double)n / (t - t0);
}

/* Encoded sizes of one GET_KEY for AE and its KEY answer. */
static void message_sizes(struct m2msa *h, size_t *ret_req, size_t *ret_rep)
{
	struct local_msg q = { .type = LOCAL_MSG_GET_KEY, .req = 100000 }, a;
	struct m2msa_key *k = NULL;
	uint8_t buf[LOCAL_WIRE_MSG_MAX];

	snprintf(q.ae_id, sizeof(q.ae_id), AE);
	if (local_wire_encode(&q, buf, sizeof(buf), ret_req) < 0 || m2msa_get_key(h, AE, &k) < 0)
		die("cannot size the messages");
	a = (struct local_msg){ .type = LOCAL_MSG_KEY, .req = 100000, .key_len = 32,
				.expiry = m2msa_key_expiry(k) };
	snprintf(a.ae_id, sizeof(a.ae_id), AE);
	snprintf(a.key_id, sizeof(a.key_id), "%s", m2msa_key_id(k));
	snprintf(a.suite, sizeof(a.suite), "%s", m2msa_key_suite(k));
	if (local_wire_encode(&a, buf, sizeof(buf), ret_rep) < 0)
		die("cannot size the messages");
	m2msa_key_free(k);
	secret_wipe(buf, sizeof(buf));
}

static void fanout(struct m2msa *admin)
{
	static struct m2msa *subs[SUBSCRIBERS];
	static struct pollfd p[SUBSCRIBERS];
	static bool got[SUBSCRIBERS];
	struct rlimit rl = { 8192, 8192 };
	double t0, first = 0, last = 0;
	int have = 0;

	(void)setrlimit(RLIMIT_NOFILE, &rl);
	for (int i = 0; i < SUBSCRIBERS; i++)
		if (m2msa_open(sock_path, &subs[i]) < 0 || m2msa_subscribe(subs[i], AE) < 0)
			die("cannot open 500 subscribers (RLIMIT_NOFILE?)");
	t0 = now();
	if (m2msa_rekey(admin) < 0)
		die("rekey refused");
	while (have < SUBSCRIBERS && now() - t0 < 20) {
		for (int i = 0; i < SUBSCRIBERS; i++)
			p[i] = (struct pollfd){ .fd = m2msa_fd(subs[i]), .events = POLLIN };
		if (poll(p, SUBSCRIBERS, 1000) < 0)
			die("poll");
		for (int i = 0; i < SUBSCRIBERS; i++) {
			enum m2msa_event_type t;
			struct m2msa_key *k = NULL;

			if (got[i] || !(p[i].revents & POLLIN))
				continue;
			while (!got[i] && m2msa_read_event(subs[i], &t, &k) == 0) {
				if (t == M2MSA_EVENT_NEW_KEY && m2msa_key_len(k) == 32) {
					got[i] = true;
					have++;
					last = now() - t0;
					if (have == 1)
						first = last;
				}
				m2msa_key_free(k);
				k = NULL;
			}
		}
	}
	if (have < SUBSCRIBERS)
		die("not every subscriber got the new key within 20 s");
	printf("rekey -> first of %d subscribers holds the new key: %.1f ms\n", SUBSCRIBERS,
	       first * 1e3);
	printf("rekey -> last of %d subscribers holds the new key:  %.1f ms (push fan-out %.1f ms)\n",
	       SUBSCRIBERS, last * 1e3, (last - first) * 1e3);
	printf("RATIO keys-fanout-ms %.1f <=1000\n", last * 1e3);
	for (int i = 0; i < SUBSCRIBERS; i++)
		m2msa_close(subs[i]);
}

int main(int argc, char **argv)
{
	const char *builddir = getenv("BUILDDIR"), *srcdir = getenv("SRCDIR");
	double secs = argc > 1 ? atof(argv[1]) : 2.0, sum_ours = 0, sum_bare = 0;
	size_t req_len = 0, rep_len = 0;
	struct m2msa *h;

	if (!builddir || !srcdir || secs <= 0) {
		fprintf(stderr, "usage: BUILDDIR=... SRCDIR=... bench-keys [seconds per round]\n");
		return 2;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "bench-keys: run as root (the agent's key service authorises uid 0)\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (harness_tmpdir(&dir) < 0)
		die("mkdtemp");
	sock_path = harness_strdupf("%s/agent.sock", dir);
	setup(builddir, srcdir);
	start_daemons(builddir);
	h = connect_agent();
	message_sizes(h, &req_len, &rep_len);
	printf("get-key round trip: request %zu bytes, answer %zu bytes\n", req_len, rep_len);
	/* Interleaved slices, so both sides see the same machine load; ratio of the totals. */
	for (int r = 0; r < ROUNDS * 4; r++) {
		double ours = rate_ours(h, secs / 4), bare = rate_bare(req_len, rep_len, secs / 4);

		sum_ours += ours;
		sum_bare += bare;
		if ((r + 1) % 4 == 0) {
			printf("round %d: libm2msa get-key %.0f/s, bare SOCK_SEQPACKET ping-pong %.0f/s\n",
			       (r + 1) / 4, sum_ours / (r + 1), sum_bare / (r + 1));
		}
	}
	printf("RATIO keys-get-key-throughput %.3f >=0.8\n", sum_ours / sum_bare);
	fanout(h);
	m2msa_close(h);
	cleanup();
	return 0;
}
