/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench-instances: two m2masd instances on one PostgreSQL (issue #17), with
 * software nodes (Km in software, real TLS, the real protocol) as in loadgen.
 *
 *   bench-instances [--nodes N] [--phase S] [--concurrency C] [--fsync on|off]
 *       The same client load (C closed-loop connections over N nodes) against one
 *       instance, then spread over two (node i prefers instance i mod 2), in
 *       alternating phases of S s (1, 2, 1, 2): prints per phase the establishments
 *       per second per instance and the CPU used by each m2masd, PostgreSQL, this
 *       load generator and the whole machine, then
 *         RATIO mas-2instances-vs-1-pg R >=1.6
 *       Defaults: 400 nodes, 10 s phases, 32 connections, fsync on (a durable
 *       commit, as in production; "off" is what the tests' server uses).
 *   bench-instances --failover [--nodes N] [--duration S] [--kills K] [--concurrency C]
 *       N nodes listing both instances (node i: instance i mod 2 first, the other
 *       next), failing over the way m2msad does: the next instance at once when
 *       agent_conf_failover_helps() says so, after the last one a jittered
 *       exponential backoff (agent/backoff.h, m2msad's defaults 1 s .. 300 s).
 *       Instance 1 is SIGKILLed K times and restarted on its ports; instance 2
 *       survives. Prints, with RATIO lines (target 0, 0, <= 1.1):
 *         failed establishments: node attempts where no instance established (the
 *           node had to back off); an attempt that failed at one instance and
 *           succeeded at the next is a failover, counted apart;
 *         lost associations: every association a node was told is established,
 *           retrieved as the target IN-CSE from the surviving instance at the end
 *           and compared with the node's Kc (all of them, not a sample);
 *         the survivor's RSS after the idle end / after its first minute
 *           (or a quarter of the run when shorter).
 *       Defaults: 2000 nodes, 300 s, 2 kills, 32 connections.
 *
 * Runs itself under tests/integration/pg-cluster.sh (a throwaway PostgreSQL server;
 * without PostgreSQL's binaries the script says so and exits 77). The nodes are
 * registered in bulk by this process through mas/store.h, not one process per node.
 * Needs BUILDDIR and SRCDIR (bench/run sets them). KEEP_TEST_DIR=1 keeps the logs.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/ecc.h>

#include "agent/agent-conf.h"
#include "agent/backoff.h"
#include "agent/establish.h"
#include "bench-common.h"
#include "common/crypto.h"
#include "common/secret.h"
#include "harness.h"
#include "mas/keyfile.h"
#include "mas/retrieve-client.h"
#include "mas/store.h"

#define TARGET "/in-cse"
#define N_INST 2
#define N_ERRS 16
#define DB_NAME "bench_instances"
#define CHECK_THREADS 8
#define CHECK_TRIES 5

struct node {
	char id[64];
	uint8_t km[32];
	atomic_flag busy;
	struct backoff backoff; /* these two only while busy is held */
	double retry_at;
};

struct inst {
	char name[16], addr[32];
	pid_t pid;
	uint16_t est, ret;
	atomic_long ok, failed; /* establishments, failed attempts */
};

struct assoc_rec {
	char key_id[WIRE_KEY_ID_MAX + 1];
	uint8_t kc[32];
};

static struct {
	long nodes, concurrency, kills;
	double phase, duration;
	bool failover, fsync;
} opt = { .nodes = -1, .concurrency = 32, .kills = 2, .phase = 10, .duration = 300,
	  .fsync = true };

static struct node *nodes;
static struct inst inst[N_INST];
static WOLFSSL_CTX *ctx;
static char *store_lines;
static int n_ep; /* how many instances the nodes use in this phase */
static double t_end;
static atomic_long n_ok, n_fail, n_failover, next_node;
static atomic_long err_count[N_ERRS]; /* index: wire code (0: local failure) */
static bool record;
static pthread_mutex_t rec_lock = PTHREAD_MUTEX_INITIALIZER;
static struct assoc_rec *recs;
static size_t n_recs, cap_recs;

/* Every simulated node connects from 127.0.0.1: one source, so no per-source caps. */
#define MAS_EXTRA "connections_per_source = 100000\nconnection_rate_per_source = 0\n"

/* Run again under pg-cluster.sh run (which sets M2MSA_TEST_PG_*). */
static void reexec_under_pg(int argc, char **argv)
{
	const char *src = getenv("SRCDIR") ? getenv("SRCDIR") : ".";
	char *script = harness_strdupf("%s/tests/integration/pg-cluster.sh", src);
	char **args = calloc((size_t)argc + 3, sizeof(*args));
	static char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (!args || n <= 0)
		bench_die("out of memory, or no /proc/self/exe");
	args[0] = script;
	args[1] = (char *)"run";
	args[2] = self; /* the same program, whatever the caller's PATH and folder */
	for (int i = 1; i < argc; i++)
		args[i + 2] = argv[i];
	if (opt.fsync)
		setenv("M2MSA_TEST_PG_OPTS", "-c fsync=on -c full_page_writes=on", 1);
	execv(script, args);
	bench_die("cannot run %s: %s", script, strerror(errno));
}

static void pg_exec(const char *conninfo, const char *q)
{
	PGconn *c = PQconnectdb(conninfo);
	PGresult *r = PQexec(c, q);

	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		bench_die("%s: %s", q, PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
}

/* SHOW name on the bench's server, into buf (for the header: what was measured). */
static const char *pg_show(const char *name, char *buf, size_t len)
{
	char *ci = harness_strdupf("postgresql://%s@127.0.0.1:%s/postgres",
				   getenv("M2MSA_TEST_PG_USER"), getenv("M2MSA_TEST_PG_PORT"));
	char *q = harness_strdupf("SHOW %s", name);
	PGconn *c = PQconnectdb(ci);
	PGresult *r = PQexec(c, q);

	snprintf(buf, len, "%s", PQresultStatus(r) == PGRES_TUPLES_OK ? PQgetvalue(r, 0, 0) : "?");
	PQclear(r);
	PQfinish(c);
	free(ci);
	free(q);
	return buf;
}

/* The database, the master key, the nodes (one store connection, no fsync wait). */
static void setup_store(void)
{
	const char *port = getenv("M2MSA_TEST_PG_PORT"), *user = getenv("M2MSA_TEST_PG_USER");
	char *admin = harness_strdupf("postgresql://%s@127.0.0.1:%s/postgres", user, port);
	char *url = harness_strdupf("postgresql://%s@127.0.0.1:%s/" DB_NAME
				    "?options=-c%%20synchronous_commit%%3Doff", user, port);
	char *mkp = bench_path("master.key");
	_cleanup_secret_ struct secret *mk = NULL;
	struct store *s = NULL;
	int r;

	pg_exec(admin, "CREATE DATABASE " DB_NAME);
	if (mas_master_key_create(mkp) < 0 || mas_master_key_load(mkp, &mk) < 0 ||
	    (r = store_open(url, mk->data, &s)) < 0)
		bench_die("cannot create the store in %s", url);
	nodes = calloc((size_t)opt.nodes, sizeof(*nodes));
	if (!nodes)
		bench_die("out of memory");
	for (long i = 0; i < opt.nodes; i++) {
		struct store_node n = { .n_methods = 1, .methods = { WIRE_METHOD_PSK } };

		snprintf(nodes[i].id, sizeof(nodes[i].id), "/mn-inst-%ld", i);
		if (crypto_random(nodes[i].km, 32) < 0)
			bench_die("no randomness");
		(void)backoff_init(&nodes[i].backoff, 1000, 300000, (uint64_t)i + 1);
		snprintf(n.node_id, sizeof(n.node_id), "%s", nodes[i].id);
		snprintf(n.km_id, sizeof(n.km_id), "km-%ld@" BENCH_FQDN, i);
		snprintf(n.target_id, sizeof(n.target_id), TARGET);
		r = store_node_add(s, &n, nodes[i].km);
		if (r < 0)
			bench_die("cannot add a node: %s", strerror(-r));
	}
	store_close(s);
	store_lines = harness_strdupf("backend = postgresql\nconninfo = host=127.0.0.1 port=%s "
				      "dbname=" DB_NAME " user=%s\npassword_file = %s\n",
				      port, user, getenv("M2MSA_TEST_PG_PASSWORD_FILE"));
	free(admin);
	free(url);
	free(mkp);
}

/* Start (or restart, on its old ports) an instance; workers may be reading in->addr. */
static void inst_start(struct inst *in)
{
	char addr[sizeof(in->addr)];

	in->pid = bench_start_mas_instance(in->name, BENCH_FQDN, MAS_EXTRA, store_lines, &in->est,
					   &in->ret);
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", in->est);
	if (strcmp(addr, in->addr) != 0)
		memcpy(in->addr, addr, sizeof(addr)); /* only before the workers start */
}

static void rec_add(const struct establish_result *res)
{
	pthread_mutex_lock(&rec_lock);
	if (n_recs == cap_recs) {
		size_t cap = cap_recs ? cap_recs * 2 : 4096;
		struct assoc_rec *p = realloc(recs, cap * sizeof(*p));

		if (!p)
			bench_die("out of memory");
		recs = p;
		cap_recs = cap;
	}
	snprintf(recs[n_recs].key_id, sizeof(recs[n_recs].key_id), "%s", res->key_id);
	memcpy(recs[n_recs].kc, res->kc->data, 32);
	n_recs++;
	pthread_mutex_unlock(&rec_lock);
}

/* One attempt of node i: its instances in its order, the next at once when that may help. */
static void node_attempt(struct node *n, long i)
{
	static const uint8_t methods[] = { WIRE_METHOD_PSK };
	struct kdf_sw_key key = { n->km, 32 };
	struct m2msa_err err = { 0 };
	struct kdf_prf prf;
	int first = (int)(i % n_ep), r = 0;

	kdf_prf_software(&key, &prf);
	for (int k = 0; k < n_ep; k++) {
		struct inst *in = &inst[(first + k) % n_ep];
		struct establish_result res = { .kc = NULL };

		memset(&err, 0, sizeof(err));
		r = establish_run(ctx,
				  &(struct establish_params){ .mas_address = in->addr,
							      .server_name = BENCH_FQDN,
							      .node_id = n->id, .methods = methods,
							      .n_methods = 1, .timeout_ms = 10000 },
				  &prf, &res, &err);
		if (r == 0) {
			atomic_fetch_add(&in->ok, 1);
			atomic_fetch_add(&n_ok, 1);
			if (k > 0)
				atomic_fetch_add(&n_failover, 1);
			if (record)
				rec_add(&res);
			establish_result_clear(&res);
			backoff_reset(&n->backoff);
			return;
		}
		establish_result_clear(&res);
		atomic_fetch_add(&in->failed, 1);
		if (err.wire_code || !agent_conf_failover_helps(r))
			break; /* about the node itself: another instance says the same */
	}
	atomic_fetch_add(&n_fail, 1);
	atomic_fetch_add(&err_count[err.wire_code < N_ERRS ? err.wire_code : 0], 1);
	if (atomic_load(&n_fail) <= 5)
		fprintf(stderr, "bench-instances: %s: no instance established: %s\n", n->id, err.msg);
	n->retry_at = bench_now() + (double)backoff_next(&n->backoff) / 1000;
}

static void *worker(void *arg)
{
	(void)arg;
	while (bench_now() < t_end) {
		long i = atomic_fetch_add(&next_node, 1) % opt.nodes;
		struct node *n = &nodes[i];

		if (atomic_flag_test_and_set(&n->busy))
			continue; /* one connection per node at a time, like a real node */
		if (n->retry_at > bench_now()) {
			atomic_flag_clear(&n->busy);
			usleep(1000); /* backing off */
			continue;
		}
		node_attempt(n, i);
		atomic_flag_clear(&n->busy);
	}
	wc_ecc_fp_free(); /* wolfSSL's per-thread fixed-point ECC cache (FP_ECC) */
	return NULL;
}

static pthread_t *workers_start(double secs)
{
	pthread_t *th = calloc((size_t)opt.concurrency, sizeof(*th));

	if (!th)
		bench_die("out of memory");
	t_end = bench_now() + secs;
	for (long i = 0; i < opt.concurrency; i++)
		if (pthread_create(&th[i], NULL, worker, NULL) != 0)
			bench_die("cannot start a thread");
	return th;
}

static void workers_join(pthread_t *th)
{
	for (long i = 0; i < opt.concurrency; i++)
		pthread_join(th[i], NULL);
	free(th);
}

/* The PostgreSQL server's ticks: its postmaster and the postmaster's children. */
static long pg_ticks(void)
{
	char *pidf = harness_strdupf("%s/data/postmaster.pid", getenv("M2MSA_TEST_PG_DIR"));
	char *text = NULL;
	size_t len;
	long sum;
	pid_t pm, pp;
	DIR *d;
	struct dirent *e;

	if (harness_read_file(pidf, &text, &len) < 0) {
		free(pidf);
		return 0;
	}
	pm = (pid_t)atol(text);
	free(text);
	free(pidf);
	sum = bench_proc_ticks(pm, NULL);
	d = opendir("/proc");
	while (d && (e = readdir(d))) {
		pid_t pid = (pid_t)atol(e->d_name);
		long t;

		if (pid > 0 && pid != pm && (t = bench_proc_ticks(pid, &pp)) >= 0 && pp == pm)
			sum += t;
	}
	if (d)
		closedir(d);
	return sum;
}

/* The machine's busy and total ticks over all cores (/proc/stat). */
static void machine_ticks(long *busy, long *total)
{
	unsigned long v[8] = { 0 };
	FILE *f = fopen("/proc/stat", "r");

	*busy = *total = 0;
	if (!f)
		return;
	if (fscanf(f, "cpu %lu %lu %lu %lu %lu %lu %lu %lu", &v[0], &v[1], &v[2], &v[3], &v[4],
		   &v[5], &v[6], &v[7]) == 8) {
		for (int i = 0; i < 8; i++)
			*total += (long)v[i];
		*busy = *total - (long)(v[3] + v[4]); /* less idle and iowait */
	}
	fclose(f);
}

struct cpu_snap {
	long mas[N_INST], pg, self, busy, total;
	long ok[N_INST];
	double t;
};

static void cpu_snap(struct cpu_snap *s)
{
	for (int i = 0; i < N_INST; i++) {
		s->mas[i] = bench_proc_ticks(inst[i].pid, NULL);
		s->ok[i] = atomic_load(&inst[i].ok);
	}
	s->pg = pg_ticks();
	s->self = bench_proc_ticks(getpid(), NULL);
	machine_ticks(&s->busy, &s->total);
	s->t = bench_now();
}

/* What one phase measured: rates per second, CPU in cores (1.0: one core busy). */
struct phase_res {
	double rate, mas_cpu, pg_cpu, self_cpu, busy;
};

/* One phase of secs over instances 1..ep: prints its line, adds what it measured to *sum. */
static void phase(int ep, double secs, struct phase_res *sum)
{
	double hz = (double)sysconf(_SC_CLK_TCK), wall;
	struct phase_res p = { 0 };
	struct cpu_snap a, b;
	long fail0 = atomic_load(&n_fail), cores = sysconf(_SC_NPROCESSORS_ONLN);

	n_ep = ep;
	cpu_snap(&a);
	workers_join(workers_start(secs));
	cpu_snap(&b);
	wall = b.t - a.t;
	printf("  %d instance%s:", ep, ep > 1 ? "s" : " ");
	for (int i = 0; i < N_INST; i++) {
		double r = (double)(b.ok[i] - a.ok[i]) / wall;
		double c = (double)(b.mas[i] - a.mas[i]) / hz / wall;

		p.rate += r;
		p.mas_cpu += c;
		printf(" m2masd%d %6.1f/s cpu %3.0f%%,", i + 1, r, 100 * c);
	}
	p.pg_cpu = (double)(b.pg - a.pg) / hz / wall;
	p.self_cpu = (double)(b.self - a.self) / hz / wall;
	p.busy = b.total > a.total ? (double)cores * (double)(b.busy - a.busy) /
					     (double)(b.total - a.total) :
				     0;
	printf(" total %6.1f/s; postgres cpu %3.0f%%, loadgen cpu %3.0f%%, machine busy %3.0f%% of "
	       "%ld cores; failed %ld\n",
	       p.rate, 100 * p.pg_cpu, 100 * p.self_cpu, 100 * p.busy / (double)cores, cores,
	       atomic_load(&n_fail) - fail0);
	fflush(stdout);
	if (sum) {
		sum->rate += p.rate / 2;
		sum->mas_cpu += p.mas_cpu / 2;
		sum->pg_cpu += p.pg_cpu / 2;
		sum->self_cpu += p.self_cpu / 2;
		sum->busy += p.busy / 2;
	}
}

/* Why the ratio is what it is: who used the cores, per establishment. */
static void explain(const struct phase_res *one, const struct phase_res *two)
{
	double cores = (double)sysconf(_SC_NPROCESSORS_ONLN);

	if (one->rate <= 0 || two->rate <= 0)
		return;
	printf("  CPU per establishment (ms): m2masd %.2f, postgres %.2f, loadgen %.2f (one "
	       "instance); m2masd %.2f, postgres %.2f, loadgen %.2f (two)\n",
	       1000 * one->mas_cpu / one->rate, 1000 * one->pg_cpu / one->rate,
	       1000 * one->self_cpu / one->rate, 1000 * two->mas_cpu / two->rate,
	       1000 * two->pg_cpu / two->rate, 1000 * two->self_cpu / two->rate);
	printf("  one instance: m2masd busy %.0f%% of its core (the rest waiting on PostgreSQL "
	       "and clients), machine %.0f%% busy; two: machine %.0f%% busy\n",
	       100 * one->mas_cpu, 100 * one->busy / cores, 100 * two->busy / cores);
	if (two->busy / cores >= 0.85)
		printf("  verdict: CPU-bound: the two instances, PostgreSQL and the load generator "
		       "share %.0f cores, which are saturated; more instances on these cores "
		       "cannot add throughput (one instance alone would do %.0f/s per core it "
		       "gets)\n",
		       cores, one->rate / one->mas_cpu);
	else
		printf("  verdict: not CPU-bound (cores left over): the instances wait on "
		       "PostgreSQL or on the clients\n");
}

static int run_ratio(void)
{
	struct phase_res one = { 0 }, two = { 0 };
	char fs[16], sc[16];

	printf("bench-instances: %ld nodes, %ld connections, PostgreSQL fsync = %s, "
	       "synchronous_commit = %s, phases of %.0f s\n",
	       opt.nodes, opt.concurrency, pg_show("fsync", fs, sizeof(fs)),
	       pg_show("synchronous_commit", sc, sizeof(sc)), opt.phase);
	phase(2, opt.phase / 4, NULL); /* warm-up: connections, caches */
	for (int round = 0; round < 2; round++) { /* alternating: load drifts hit both */
		phase(1, opt.phase, &one);
		phase(2, opt.phase, &two);
	}
	printf("  establishments/s: one instance %.1f, two instances %.1f\n", one.rate, two.rate);
	explain(&one, &two);
	printf("RATIO mas-2instances-vs-1-pg %.3f >=1.6\n", one.rate > 0 ? two.rate / one.rate : 0);
	return atomic_load(&n_fail) ? 1 : 0;
}

struct check_arg {
	const char *addr;
	size_t from, to;
	long bad, unchecked; /* refused or another key; no answer after CHECK_TRIES */
	pthread_t th;
};

/* Retrieve recs[from..to) as the target IN-CSE at addr and compare with the nodes' Kc. */
static void *check_worker(void *arg)
{
	struct check_arg *a = arg;
	char *ca = bench_path("pki/ca.crt"), *cert = bench_path("pki/target.crt");
	char *key = bench_path("pki/target.key"), err[RETRIEVE_ERR_MAX];
	struct retrieve_conf rcf = { .mas = a->addr, .mas_ca = ca, .mas_name = BENCH_FQDN,
				     .cert = cert, .key = key };
	struct retrieve_client *rc = NULL;

	if (retrieve_client_new(&rcf, &rc, err, sizeof(err)) < 0) {
		fprintf(stderr, "bench-instances: %s\n", err);
		a->unchecked = (long)(a->to - a->from);
	}
	for (size_t i = a->from; rc && i < a->to; i++) {
		struct wire_key_response k;
		int r = -EIO;

		/* A connection or TLS failure says nothing about the key: ask again. */
		for (int t = 0; t < CHECK_TRIES && r < 0 && r != -EACCES; t++) {
			if (t)
				usleep(200000);
			r = retrieve_key(rc, recs[i].key_id, &k, NULL, err, sizeof(err));
		}
		if (r < 0) {
			if (r != -EACCES)
				a->unchecked++;
			else
				a->bad++;
			if (a->bad + a->unchecked <= 3)
				fprintf(stderr, "bench-instances: %s %s: %s\n",
					r == -EACCES ? "lost" : "cannot check", recs[i].key_id, err);
			continue;
		}
		if (!secret_equal(k.key, recs[i].kc, 32) && a->bad++ < 3)
			fprintf(stderr, "bench-instances: another key for %s\n", recs[i].key_id);
		secret_wipe(&k, sizeof(k));
	}
	retrieve_client_free(rc);
	wc_ecc_fp_free();
	free(ca);
	free(cert);
	free(key);
	return NULL;
}

/* Every recorded association at the instance's retrieval port: how many are missing or
 * wrong; *ret_unchecked: how many got no answer at all. */
static long check_all(const struct inst *in, double *ret_secs, long *ret_unchecked)
{
	struct check_arg a[CHECK_THREADS];
	char addr[32];
	double t0 = bench_now();
	long bad = 0;

	snprintf(addr, sizeof(addr), "127.0.0.1:%u", in->ret);
	for (size_t i = 0; i < CHECK_THREADS; i++) {
		a[i] = (struct check_arg){ .addr = addr, .from = n_recs * i / CHECK_THREADS,
					   .to = n_recs * (i + 1) / CHECK_THREADS };
		if (pthread_create(&a[i].th, NULL, check_worker, &a[i]) != 0)
			bench_die("cannot start a thread");
	}
	for (size_t i = 0; i < CHECK_THREADS; i++) {
		pthread_join(a[i].th, NULL);
		bad += a[i].bad;
		*ret_unchecked += a[i].unchecked;
	}
	*ret_secs = bench_now() - t0;
	return bad;
}

/* Run the load for opt.duration, killing and restarting instance 1 opt.kills times. */
static void failover_timeline(long *rss_first)
{
	double down = opt.duration / 10, start, next_kill, up_at = 0, killed_at = 0;
	pthread_t *th;
	long kills = 0;

	down = down < 2 ? 2 : down > 10 ? 10 : down;
	th = workers_start(opt.duration);
	start = bench_now();
	next_kill = start + opt.duration / (double)(opt.kills + 1);
	while (bench_now() < t_end) {
		double now = bench_now();

		if (*rss_first < 0 && now - start >= (opt.duration / 4 < 60 ? opt.duration / 4 : 60))
			*rss_first = bench_rss_kb(inst[1].pid);
		if (!killed_at && kills < opt.kills && now >= next_kill) {
			harness_kill_wait(&inst[0].pid, SIGKILL);
			killed_at = now;
			up_at = now + down;
			printf("  +%5.1f s: m2masd1 SIGKILLed\n", now - start);
		} else if (killed_at && now >= up_at) {
			inst_start(&inst[0]);
			printf("  +%5.1f s: m2masd1 restarted on its ports (down %.1f s)\n",
			       bench_now() - start, bench_now() - killed_at);
			killed_at = 0;
			kills++;
			next_kill = start + opt.duration * (double)(kills + 1) / (double)(opt.kills + 1);
		}
		fflush(stdout);
		usleep(100000);
	}
	workers_join(th);
	if (killed_at)
		inst_start(&inst[0]);
}

static int run_failover(void)
{
	long rss_first = -1, rss_end, lost, unchecked = 0;
	double check_secs;
	bool ok;

	record = true;
	n_ep = N_INST;
	char fs[16];

	printf("bench-instances --failover: %ld nodes, %ld connections, %.0f s, m2masd1 killed "
	       "%ld times, PostgreSQL fsync = %s\n",
	       opt.nodes, opt.concurrency, opt.duration, opt.kills, pg_show("fsync", fs, sizeof(fs)));
	failover_timeline(&rss_first);
	sleep(3); /* idle: connections closed, buffers returned */
	rss_end = bench_rss_kb(inst[1].pid);
	lost = check_all(&inst[1], &check_secs, &unchecked);
	printf("  establishments: %ld (m2masd1 %ld, m2masd2 %ld), %.1f /s\n", atomic_load(&n_ok),
	       atomic_load(&inst[0].ok), atomic_load(&inst[1].ok),
	       (double)atomic_load(&n_ok) / opt.duration);
	printf("  failed attempts at one instance: m2masd1 %ld, m2masd2 %ld; of those, failed over "
	       "to the other and established there: %ld\n",
	       atomic_load(&inst[0].failed), atomic_load(&inst[1].failed), atomic_load(&n_failover));
	printf("  failed establishments (no instance established, the node backed off): %ld\n",
	       atomic_load(&n_fail));
	for (int i = 0; i < N_ERRS; i++)
		if (atomic_load(&err_count[i]))
			printf("    with %s: %ld\n", i ? wire_error_code_to_string((uint32_t)i) :
						     "local error",
			       atomic_load(&err_count[i]));
	printf("  associations checked at the survivor m2masd2 (all %zu, %.0f s): lost or wrong %ld, "
	       "no answer after %d tries %ld\n",
	       n_recs, check_secs, lost, CHECK_TRIES, unchecked);
	printf("  m2masd2 RSS (kB): first minute %ld, idle end %ld\n", rss_first, rss_end);
	printf("RATIO failover-failed-establishments %ld ==0\n", atomic_load(&n_fail));
	printf("RATIO failover-lost-associations %ld ==0\n", lost + unchecked);
	if (rss_first > 0 && rss_end > 0)
		printf("RATIO failover-survivor-rss-growth %.3f <=1.1\n",
		       (double)rss_end / (double)rss_first);
	ok = !atomic_load(&n_fail) && !lost && !unchecked && n_recs > 0 && rss_first > 0 &&
	     rss_end <= rss_first + rss_first / 10;
	return ok ? 0 : 1;
}

static void usage(void)
{
	fputs("usage: bench-instances [--nodes N] [--phase S] [--concurrency C] [--fsync on|off]\n"
	      "       bench-instances --failover [--nodes N] [--duration S] [--kills K]\n"
	      "                       [--concurrency C] [--fsync on|off]\n",
	      stderr);
	exit(2);
}

static void parse(int argc, char **argv)
{
	static const struct option o[] = {
		{ "nodes", required_argument, NULL, 'n' },
		{ "phase", required_argument, NULL, 'p' },
		{ "duration", required_argument, NULL, 'd' },
		{ "concurrency", required_argument, NULL, 'c' },
		{ "kills", required_argument, NULL, 'k' },
		{ "fsync", required_argument, NULL, 'f' },
		{ "failover", no_argument, NULL, 'F' },
		{ 0 }
	};
	int c;

	while ((c = getopt_long(argc, argv, "", o, NULL)) >= 0) {
		switch (c) {
		case 'n': opt.nodes = atol(optarg); break;
		case 'p': opt.phase = atof(optarg); break;
		case 'd': opt.duration = atof(optarg); break;
		case 'c': opt.concurrency = atol(optarg); break;
		case 'k': opt.kills = atol(optarg); break;
		case 'f': opt.fsync = strcmp(optarg, "off") != 0; break;
		case 'F': opt.failover = true; break;
		default: usage();
		}
	}
	if (opt.nodes < 0)
		opt.nodes = opt.failover ? 2000 : 400;
	if (optind != argc || opt.nodes < 1 || opt.concurrency < 1 || opt.phase <= 0 ||
	    opt.duration <= 0 || opt.kills < 0)
		usage();
}

int main(int argc, char **argv)
{
	char err[512];
	int status;

	bench.die_status = 2;
	parse(argc, argv);
	if (!getenv("M2MSA_TEST_PG_PORT"))
		reexec_under_pg(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	if (tls_init() < 0)
		bench_die("cannot initialise wolfSSL");
	bench_init_pki();
	setup_store();
	ctx = tls_client_ctx_new(bench_path("pki/ca.crt"), NULL, NULL, err, sizeof(err));
	if (!ctx)
		bench_die("%s", err);
	for (int i = 0; i < N_INST; i++) {
		snprintf(inst[i].name, sizeof(inst[i].name), "m2masd%d", i + 1);
		inst_start(&inst[i]);
	}
	status = opt.failover ? run_failover() : run_ratio();
	for (int i = 0; i < N_INST; i++)
		harness_kill_wait(&inst[i].pid, SIGTERM);
	bench_cleanup();
	wolfSSL_CTX_free(ctx);
	if (nodes)
		secret_wipe(nodes, (size_t)opt.nodes * sizeof(*nodes));
	free(nodes);
	if (recs)
		secret_wipe(recs, cap_recs * sizeof(*recs));
	free(recs);
	free(store_lines);
	return status;
}
