/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Hostile local clients against the real m2msad (issue #16, items 3, 4 and 6):
 * swtpm with Km, the real m2masd and m2msad, and three unprivileged users made
 * by the test with useradd (removed with userdel at teardown): "legit" may act
 * as AE Cae2, "member" as Cae1, "stranger" has no clients.d file. Their clients
 * run in forked children after setgid/setuid. Every flood is bounded in count
 * and time; bench/bench-hostile-agent has the full-size figures.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <m2msa/m2msa.h>

#include "common/local-wire.h"
#include "common/secret.h"
#include "fixture.h"
#include "harness.h"

#define NODE "/mn-cse-1"

enum who { LEGIT, MEMBER, STRANGER, N_USERS };

static const char *const roles[N_USERS] = { "legit", "member", "stranger" };

static struct mas_fixture mas;
static struct harness_swtpm *tpm;
static pid_t agent_pid;
static uint8_t km[32];
static struct fixture_agent_files agent;
static char users[N_USERS][32];
static uid_t uids[N_USERS];
static gid_t user_gid;

/* useradd a system user with a name unique to this process; its uid into uids[w]. */
static void make_user(enum who w)
{
	char *argv[] = { "useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
			 users[w], NULL };
	struct passwd *pw;
	int status;
	pid_t pid;

	snprintf(users[w], sizeof(users[w]), "m2h%d%s", (int)getpid() % 100000, roles[w]);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, STDOUT_FILENO);
		execvp("useradd", argv);
		_exit(127);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "useradd %s failed", users[w]);
	pw = getpwnam(users[w]);
	cr_assert_not_null(pw, "user %s not found after useradd", users[w]);
	uids[w] = pw->pw_uid;
	user_gid = pw->pw_gid;
}

static void remove_user(enum who w)
{
	char *argv[] = { "userdel", users[w], NULL };
	pid_t pid;

	if (!users[w][0])
		return;
	pid = fork();
	if (pid == 0) {
		execvp("userdel", argv);
		_exit(127);
	}
	if (pid > 0)
		waitpid(pid, NULL, 0);
	users[w][0] = '\0';
}

static void write_agent_conf(void)
{
	mas_fixture_write_agent_conf(&mas, agent.conf,
				     &(struct fixture_agent_conf){
					     .tcti = harness_swtpm_tcti(tpm),
					     .timeout_s = 3,
					     .backoff_min_s = 1,
					     .backoff_max_s = 2,
					     .sock = agent.sock,
					     .clients_dir = agent.clients_dir,
				     });
}

static void setup(void)
{
	char *rule;

	if (geteuid() != 0)
		cr_skip_test("needs root to make users and run clients as them");
	HARNESS_REQUIRE_SWTPM();
	for (int w = 0; w < N_USERS; w++)
		make_user((enum who)w);
	mas_fixture_init(&mas);
	cr_assert_eq(chmod(mas.dir, 0711), 0);
	cr_assert_eq(harness_swtpm_start(NULL, &tpm), 0);
	mas_fixture_provision_node(&mas, harness_swtpm_tcti(tpm), NODE, km, 0);
	mas_fixture_start(&mas, NULL, NULL);
	mas_fixture_agent_files(&mas, &agent);
	rule = harness_strdupf("[client]\nuser = %s\nae = Cae2\n", users[LEGIT]);
	fixture_write_client(&agent, "legit.conf", rule);
	free(rule);
	rule = harness_strdupf("[client]\nuser = %s\nae = Cae1\n", users[MEMBER]);
	fixture_write_client(&agent, "member.conf", rule);
	free(rule);
	write_agent_conf();
	agent_pid = fixture_start_agent(agent.conf, agent.log, agent.sock, 200);
}

static void teardown(void)
{
	harness_kill_wait(&agent_pid, SIGKILL);
	mas_fixture_fini(&mas);
	harness_swtpm_stop(tpm);
	tpm = NULL;
	fixture_agent_files_free(&agent);
	for (int w = 0; w < N_USERS; w++)
		remove_user((enum who)w);
	secret_wipe(km, sizeof(km));
}

TestSuite(hostile_agent, .init = setup, .fini = teardown, .timeout = 120);

/* In a forked child: become user w with the socket's group as a supplementary group. */
static void become(enum who w)
{
	struct stat st;
	gid_t groups[1];

	if (stat(agent.sock, &st) < 0)
		_exit(100);
	groups[0] = st.st_gid;
	if (setgroups(1, groups) < 0 || setresgid(user_gid, user_gid, user_gid) < 0 ||
	    setresuid(uids[w], uids[w], uids[w]) < 0)
		_exit(101);
}

static int raw_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	memcpy(sa.sun_path, path, strlen(path));
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* As user w: get ae_id's key through libm2msa; returns its result (0 or -errno). */
static int get_key_as(enum who w, const char *ae_id)
{
	pid_t pid = fork();
	int status;

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct m2msa *h = NULL;
		struct m2msa_key *k = NULL;
		int r;

		become(w);
		r = m2msa_open(agent.sock, &h);
		if (r == 0)
			r = m2msa_get_key(h, ae_id, &k);
		m2msa_key_free(k);
		m2msa_close(h);
		_exit(r == 0 ? 0 : r == -EACCES ? 1 : r == -EPERM ? 2 : 3);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status));
	return (int[]){ 0, -EACCES, -EPERM, -EIO }[WEXITSTATUS(status) & 3];
}

/* As user w: open up to n connections and hold them for hold_ms. */
static pid_t flood_as(enum who w, int n, int hold_ms)
{
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		become(w);
		for (int i = 0; i < n; i++)
			(void)raw_connect(agent.sock); /* kept open until the child exits */
		usleep((useconds_t)hold_ms * 1000);
		_exit(0);
	}
	return pid;
}

static int count(const char *text, const char *needle)
{
	int n = 0;

	for (const char *p = text; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

/* Item 3: a group member without a clients.d file, and one with, each open 1,000. */
Test(hostile_agent, connection_floods_do_not_starve_allowed_aes)
{
	pid_t stranger, member;
	int ok = 0;
	char *log;

	stranger = flood_as(STRANGER, 1000, 5000);
	/* A second apart, so that each flood's refusals get log lines (10 a second). */
	usleep(1200 * 1000);
	member = flood_as(MEMBER, 1000, 4000);
	usleep(1200 * 1000);
	for (int i = 0; i < 20; i++)
		ok += get_key_as(LEGIT, "Cae2") == 0;
	cr_assert_eq(ok, 20, "allowed AE: %d of 20 get-keys succeeded under the flood", ok);
	waitpid(stranger, NULL, 0);
	waitpid(member, NULL, 0);
	usleep(1500 * 1000);
	log = fixture_read_text(agent.log);
	cr_assert_not_null(strstr(log, "no clients.d file matches it"));
	cr_assert_not_null(strstr(log, "connections already (clients_per_uid)"));
	cr_assert_not_null(strstr(log, "more refusals and denials were not logged"));
	/* 2,000 refusals: at most 10 lines a second plus one count a second. */
	cr_assert_leq(count(log, "refusing a key service client"), 80, "%d lines",
		      count(log, "refusing a key service client"));
	free(log);
	/* The stranger is told why when it connects. */
	cr_assert_eq(get_key_as(STRANGER, "Cae2"), -EACCES);
}

/* Item 4: a member asking for another AE's key is closed after 3 denials. */
Test(hostile_agent, denied_requests_close_the_connection)
{
	pid_t pid = fork();
	int status;
	char *log;

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct local_msg m = { .type = LOCAL_MSG_GET_KEY }, r;
		uint8_t buf[LOCAL_WIRE_MSG_MAX];
		struct pollfd p;
		int fd, n = 0;
		size_t len;

		become(MEMBER);
		fd = raw_connect(agent.sock);
		snprintf(m.ae_id, sizeof(m.ae_id), "Cae2");
		for (int i = 0; fd >= 0 && i < 10; i++) {
			ssize_t got;

			m.req = (uint32_t)i + 1;
			if (local_wire_encode(&m, buf, sizeof(buf), &len) < 0 ||
			    send(fd, buf, len, MSG_NOSIGNAL) != (ssize_t)len)
				break;
			p = (struct pollfd){ .fd = fd, .events = POLLIN };
			if (poll(&p, 1, 2000) <= 0)
				break;
			got = recv(fd, buf, sizeof(buf), 0);
			if (got <= 0 || local_wire_decode(buf, (size_t)got, &r) < 0 ||
			    r.type != LOCAL_MSG_ERROR || r.code != LOCAL_ERR_DENIED)
				break;
			n++;
		}
		_exit(n);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status));
	cr_assert_eq(WEXITSTATUS(status), 3, "answered %d denied requests", WEXITSTATUS(status));
	usleep(100 * 1000);
	log = fixture_read_text(agent.log);
	cr_assert_not_null(strstr(log, "after 3 denied requests"));
	free(log);
	cr_assert_eq(get_key_as(LEGIT, "Cae2"), 0);
}

/* Item 6: the agent refuses a socket folder that others can write. */
Test(hostile_agent, socket_in_a_folder_others_can_write_is_refused)
{
	char *dir = mas_fixture_path(&mas, "shared");

	harness_kill_wait(&agent_pid, SIGTERM);
	cr_assert_eq(mkdir(dir, 0755), 0);
	cr_assert_eq(chmod(dir, 01777), 0);
	free(agent.sock);
	agent.sock = harness_strdupf("%s/agent.sock", dir);
	write_agent_conf();
	agent_pid = fixture_start_agent(agent.conf, agent.log, NULL, 0);
	fixture_wait_log_count(agent.log, "refusing to create", 1, 200, 50);
	{
		char *log = fixture_read_text(agent.log);

		cr_assert_not_null(strstr(log, "is writable by every user"), "%s", log);
		free(log);
	}
	cr_assert_neq(access(agent.sock, F_OK), 0, "the socket was created in %s", dir);
	free(dir);
}

/* Item 6: libm2msa talks only to the agent's uid (or root). */
Test(hostile_agent, library_refuses_a_socket_answered_by_another_uid)
{
	char *dir = mas_fixture_path(&mas, "swapped");
	char *fake = harness_strdupf("%s/agent.sock", dir), *uid;
	struct m2msa *h = NULL;
	int p[2], r;
	char c;
	pid_t pid;

	/* The stranger answers on a socket in a folder that is root's. */
	cr_assert_eq(mkdir(dir, 0755), 0);
	cr_assert_eq(chmod(dir, 01777), 0);
	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		int fd;

		if (setresgid(user_gid, user_gid, user_gid) < 0 ||
		    setresuid(uids[STRANGER], uids[STRANGER], uids[STRANGER]) < 0)
			_exit(2);
		fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		memcpy(sa.sun_path, fake, strlen(fake));
		if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
		    chmod(fake, 0666) < 0 || listen(fd, 4) < 0)
			_exit(3);
		(void)!write(p[1], "r", 1);
		sleep(10);
		_exit(0);
	}
	close(p[1]);
	cr_assert_eq(read(p[0], &c, 1), 1, "the impostor did not start");
	close(p[0]);
	r = m2msa_open(fake, &h);
	cr_expect_eq(r, -EPERM, "m2msa_open on an impostor's socket: %d (%s)", r, strerror(-r));
	if (r == 0)
		m2msa_close(h);
	/* Told to expect that uid, the library connects. */
	uid = harness_strdupf("%u", (unsigned)uids[STRANGER]);
	setenv("M2MSA_AGENT_UID", uid, 1);
	r = m2msa_open(fake, &h);
	unsetenv("M2MSA_AGENT_UID");
	cr_expect_eq(r, 0, "with M2MSA_AGENT_UID: %d (%s)", r, strerror(-r));
	if (r == 0)
		m2msa_close(h);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	free(uid);
	free(fake);
	free(dir);
}
