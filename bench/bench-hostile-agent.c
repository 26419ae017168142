/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Hostile local clients against the real m2msad (issue #16): while a member of
 * group m2msa floods the key service, an allowed AE keeps getting its key
 * through libm2msa. Floods, bounded in count and time: two processes of a uid
 * that no clients.d file names opening 1,000 connections each and holding
 * them; a uid with a clients.d file asking for another AE's key up to 20,000
 * times in 5 s (reconnecting when the agent closes). Printed: the allowed AE's
 * get-key success rate against the same run's baseline (target 1.0) and
 * m2msad's log lines per 1,000 hostile requests (target <= 10). Needs root (to
 * run the clients as other uids); without it, it says so and exits 0.
 *   BUILDDIR=$PWD/build SRCDIR=$PWD build/bench/bench-hostile-agent
 */
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <m2msa/m2msa.h>

#include "bench-common.h"
#include "common/local-wire.h"
#include "harness.h"

#define NODE "/mn-cse-1"
#define UID_LEGIT 65532   /* clients.d: ae = Cae2 */
#define UID_MEMBER 65533  /* clients.d: ae = Cae1 */
#define UID_STRANGER 65534 /* no clients.d file */
#define ROUNDS 100
#define FLOOD_SECONDS 5

static gid_t sock_gid;

static void become(uid_t uid)
{
	gid_t groups[1] = { sock_gid };

	if (setgroups(1, groups) < 0 || setresgid(65534, 65534, 65534) < 0 ||
	    setresuid(uid, uid, uid) < 0)
		_exit(100);
}

static int raw_connect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	memcpy(sa.sun_path, bench.sock, strlen(bench.sock));
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* In a child as UID_LEGIT: ROUNDS get-keys through libm2msa; exits with the successes. */
static pid_t legitimate(void)
{
	pid_t pid = fork();

	if (pid < 0)
		bench_die("fork: %s", strerror(errno));
	if (pid == 0) {
		int ok = 0;

		become(UID_LEGIT);
		for (int i = 0; i < ROUNDS; i++) {
			struct m2msa *h = NULL;
			struct m2msa_key *k = NULL;

			if (m2msa_open(bench.sock, &h) == 0 && m2msa_get_key(h, "Cae2", &k) == 0)
				ok++;
			m2msa_key_free(k);
			m2msa_close(h);
		}
		_exit(ok);
	}
	return pid;
}

static int wait_status(pid_t pid)
{
	int st = 0;

	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

/* A child as uid running fn; its exit status is fn's (capped) count. */
static pid_t as_child(uid_t uid, int (*fn)(void))
{
	pid_t pid = fork();

	if (pid < 0)
		bench_die("fork: %s", strerror(errno));
	if (pid == 0) {
		become(uid);
		_exit(fn());
	}
	return pid;
}

/* 1,000 connections held for FLOOD_SECONDS. */
static int hold_connections(void)
{
	for (int i = 0; i < 1000; i++)
		(void)raw_connect();
	sleep(FLOOD_SECONDS);
	return 0;
}

/* get-key for Cae2 (not allowed) up to 20,000 times in FLOOD_SECONDS; the count to fd. */
static int count_fd = -1;

static int denied_requests(void)
{
	struct local_msg m = { .type = LOCAL_MSG_GET_KEY };
	double end = bench_now() + FLOOD_SECONDS;
	uint8_t buf[LOCAL_WIRE_MSG_MAX];
	size_t len;
	int fd = -1;
	long n = 0;

	snprintf(m.ae_id, sizeof(m.ae_id), "Cae2");
	for (int i = 0; i < 20000 && bench_now() < end; i++, n++) {
		if (fd < 0)
			fd = raw_connect();
		m.req = (uint32_t)i + 1;
		if (fd < 0 || local_wire_encode(&m, buf, sizeof(buf), &len) < 0 ||
		    send(fd, buf, len, MSG_NOSIGNAL) != (ssize_t)len ||
		    recv(fd, buf, sizeof(buf), 0) <= 0) {
			if (fd >= 0)
				close(fd);
			fd = -1;
		}
	}
	return write(count_fd, &n, sizeof(n)) == (ssize_t)sizeof(n) ? 0 : 1;
}

static long log_lines(void)
{
	char *p = bench_path("m2msad.log"), *text = NULL;
	size_t len = 0;
	long n = 0;

	if (harness_read_file(p, &text, &len) == 0)
		for (size_t i = 0; i < len; i++)
			n += text[i] == '\n';
	free(text);
	free(p);
	return n;
}

static void report(const char *name, int ok, int baseline, long hostile, long lines)
{
	double rate = (double)ok / ROUNDS, base = (double)baseline / ROUNDS;

	printf("%s: %ld hostile requests; allowed AE get-key success %.2f (baseline %.2f); %ld "
	       "log lines (%.1f per 1,000)\n",
	       name, hostile, rate, base, lines, 1000.0 * (double)lines / (double)hostile);
	printf("RATIO hostile-agent-%s-success %.3f >=1.0\n", name, base > 0 ? rate / base : 0);
	printf("RATIO hostile-agent-%s-log-per-1000 %.1f <=10\n", name,
	       1000.0 * (double)lines / (double)hostile);
}

int main(void)
{
	static const uint8_t psk[] = { WIRE_METHOD_PSK };
	char *dir, *f;
	const char *rules = "[client]\nuid = 65532\nae = Cae2\n";
	const char *member = "[client]\nuid = 65533\nae = Cae1\n";
	struct stat st;
	int baseline, ok;
	long before, denied = 0;
	int p[2];
	pid_t a, b, l;

	if (geteuid() != 0) {
		printf("bench-hostile-agent: skipped (needs root to run clients as other uids)\n");
		return 0;
	}
	bench_init_pki();
	bench_store(NODE, psk, 1);
	bench_provision(NODE, NULL);
	bench_start_mas(BENCH_FQDN, NULL, true);
	dir = bench_path("clients.d");
	if (mkdir(dir, 0755) < 0)
		bench_die("mkdir %s: %s", dir, strerror(errno));
	f = harness_strdupf("%s/legit.conf", dir);
	(void)harness_write_file(f, rules, strlen(rules), 0644);
	free(f);
	f = harness_strdupf("%s/member.conf", dir);
	(void)harness_write_file(f, member, strlen(member), 0644);
	free(f);
	free(dir);
	(void)chmod(bench.dir, 0711);
	bench_start_agent();
	for (int i = 0; i < 400 && stat(bench.sock, &st) < 0; i++)
		usleep(25 * 1000);
	if (stat(bench.sock, &st) < 0)
		bench_die("the agent's socket %s did not appear", bench.sock);
	sock_gid = st.st_gid;

	baseline = wait_status(legitimate());
	printf("baseline without attack: %d of %d get-keys\n", baseline, ROUNDS);

	before = log_lines();
	a = as_child(UID_STRANGER, hold_connections);
	b = as_child(UID_MEMBER, hold_connections);
	usleep(1000 * 1000);
	l = legitimate();
	ok = wait_status(l);
	wait_status(a);
	wait_status(b);
	sleep(1);
	report("connection-flood", ok, baseline, 2000, log_lines() - before);

	before = log_lines();
	if (pipe(p) < 0)
		bench_die("pipe: %s", strerror(errno));
	count_fd = p[1];
	a = as_child(UID_MEMBER, denied_requests);
	close(p[1]);
	l = legitimate();
	ok = wait_status(l);
	if (read(p[0], &denied, sizeof(denied)) != (ssize_t)sizeof(denied) || denied <= 0)
		bench_die("the denial flood did not run");
	close(p[0]);
	wait_status(a);
	sleep(1);
	report("denial-flood", ok, baseline, denied, log_lines() - before);
	bench_cleanup();
	return 0;
}
