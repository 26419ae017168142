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
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <m2msa/m2msa.h>

#include "bench-common.h"
#include "common/local-wire.h"
#include "common/secret.h"

#define NODE "/mn-cse-bench"
#define AE "Cbench1"
#define ROUNDS 3
#define SUBSCRIBERS 500

/* Wait for the agent's first key. */
static struct m2msa *connect_agent(void)
{
	struct m2msa *h = NULL;
	struct m2msa_key *k = NULL;

	for (int i = 0; i < 200 && m2msa_open(bench.sock, &h) < 0; i++)
		usleep(25000);
	if (!h || m2msa_get_key(h, AE, &k) < 0)
		bench_die("m2msad did not serve a key (see its log in the temp dir; KEEP_TEST_DIR=1)");
	m2msa_key_free(k);
	return h;
}

static double rate_ours(struct m2msa *h, double secs)
{
	double t0 = bench_now(), t;
	long n = 0;

	do {
		struct m2msa_key *k = NULL;

		for (int i = 0; i < 100; i++) {
			if (m2msa_get_key(h, AE, &k) < 0)
				bench_die("get-key failed during the benchmark");
			m2msa_key_free(k);
		}
		n += 100;
		t = bench_now();
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
		bench_die("socketpair");
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
	t0 = bench_now();
	do {
		for (int i = 0; i < 100; i++) {
			struct pollfd p = { .fd = sv[0], .events = POLLIN };

			if (send(sv[0], req, req_len, MSG_NOSIGNAL) < 0 || poll(&p, 1, 5000) != 1 ||
			    recv(sv[0], rep, sizeof(rep), 0) <= 0)
				bench_die("the baseline ping-pong failed");
		}
		n += 100;
		t = bench_now();
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
		bench_die("cannot size the messages");
	a = (struct local_msg){ .type = LOCAL_MSG_KEY, .req = 100000, .key_len = 32,
				.expiry = m2msa_key_expiry(k) };
	snprintf(a.ae_id, sizeof(a.ae_id), AE);
	snprintf(a.key_id, sizeof(a.key_id), "%s", m2msa_key_id(k));
	snprintf(a.suite, sizeof(a.suite), "%s", m2msa_key_suite(k));
	if (local_wire_encode(&a, buf, sizeof(buf), ret_rep) < 0)
		bench_die("cannot size the messages");
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
		if (m2msa_open(bench.sock, &subs[i]) < 0 || m2msa_subscribe(subs[i], AE) < 0)
			bench_die("cannot open 500 subscribers (RLIMIT_NOFILE?)");
	t0 = bench_now();
	if (m2msa_rekey(admin) < 0)
		bench_die("rekey refused");
	while (have < SUBSCRIBERS && bench_now() - t0 < 20) {
		for (int i = 0; i < SUBSCRIBERS; i++)
			p[i] = (struct pollfd){ .fd = m2msa_fd(subs[i]), .events = POLLIN };
		if (poll(p, SUBSCRIBERS, 1000) < 0)
			bench_die("poll");
		for (int i = 0; i < SUBSCRIBERS; i++) {
			enum m2msa_event_type t;
			struct m2msa_key *k = NULL;

			if (got[i] || !(p[i].revents & POLLIN))
				continue;
			while (!got[i] && m2msa_read_event(subs[i], &t, &k) == 0) {
				if (t == M2MSA_EVENT_NEW_KEY && m2msa_key_len(k) == 32) {
					got[i] = true;
					have++;
					last = bench_now() - t0;
					if (have == 1)
						first = last;
				}
				m2msa_key_free(k);
				k = NULL;
			}
		}
	}
	if (have < SUBSCRIBERS)
		bench_die("not every subscriber got the new key within 20 s");
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
	double secs = argc > 1 ? atof(argv[1]) : 2.0, sum_ours = 0, sum_bare = 0;
	size_t req_len = 0, rep_len = 0;
	struct m2msa *h;

	if (!getenv("BUILDDIR") || !getenv("SRCDIR") || secs <= 0) {
		fprintf(stderr, "usage: BUILDDIR=... SRCDIR=... bench-keys [seconds per round]\n");
		return 2;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "bench-keys: run as root (the agent's key service authorises uid 0)\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	bench_start_key_service(NODE);
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
	bench_cleanup();
	return 0;
}
