/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's local key service end to end: the real m2msad with Km in a real
 * swtpm and the real m2masd, clients on the real SOCK_SEQPACKET socket through
 * libm2msa, raw sockets and m2msactl. Authorisation by uid (forked children
 * that drop to unprivileged uids), per-AE keys checked against what the MAS
 * serves the target, pushes before expiry, 200 concurrent clients next to one
 * that never reads, malformed requests, and reconnection after a restart.
 *
 * The test dir is made traversable (0711); the socket is 0660 root:root (or
 * root:m2msa when the machine has that group), so the unprivileged children keep
 * the socket's group as a supplementary group to reach it; clients.d never grants
 * anything to those groups, so authorisation is decided by their uid alone.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <m2msa/m2msa.h>

#include "common/crypto.h"
#include "common/local-wire.h"
#include "common/sa.h"
#include "common/secret.h"
#include "fixture.h"
#include "harness.h"

#define NODE "/mn-cse-1"
#define UID_APP 65533   /* clients.d: ae = Cae1 */
#define UID_OTHER 65534 /* nobody: no clients.d entry */

static struct mas_fixture mas;
static struct harness_swtpm *tpm;
static pid_t agent_pid;
static uint8_t km[32];
static struct fixture_agent_files agent;

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void write_agent_conf(unsigned backoff_min)
{
	mas_fixture_write_agent_conf(&mas, agent.conf,
				     &(struct fixture_agent_conf){
					     .tcti = harness_swtpm_tcti(tpm),
					     .timeout_s = 3,
					     .backoff_min_s = backoff_min,
					     .backoff_max_s = backoff_min * 2,
					     .sock = agent.sock,
					     .clients_dir = agent.clients_dir,
				     });
}

static void start_agent(void)
{
	agent_pid = fixture_start_agent(agent.conf, agent.log, agent.sock, 200);
}

static void stop_agent(int sig)
{
	harness_kill_wait(&agent_pid, sig);
}

static char *read_agent_log(void)
{
	return fixture_read_text(agent.log);
}

/* Wait until the agent's log holds needle at least n times (20 s at most). */
static void wait_log_count(const char *needle, int n)
{
	fixture_wait_log_count(agent.log, needle, n, 200, 100);
}

/* MAS + swtpm with Km provisioned; node lifetime in seconds (0: the MAS's 1 h). */
static void setup_provider(uint64_t lifetime, bool start_mas)
{
	HARNESS_REQUIRE_SWTPM();
	mas_fixture_init(&mas);
	cr_assert_eq(chmod(mas.dir, 0711), 0);
	cr_assert_eq(harness_swtpm_start(NULL, &tpm), 0);
	mas_fixture_provision_node(&mas, harness_swtpm_tcti(tpm), NODE, km, lifetime);
	if (start_mas)
		mas_fixture_start(&mas, NULL, NULL);
	mas_fixture_agent_files(&mas, &agent);
	fixture_write_client(&agent, "app1.conf", "[client]\nuid = 65533\nae = Cae1, Cae3\n");
}

static void setup(void)
{
	setup_provider(0, true);
	write_agent_conf(1);
	start_agent();
}

static void teardown(void)
{
	stop_agent(SIGKILL);
	mas_fixture_fini(&mas);
	harness_swtpm_stop(tpm);
	tpm = NULL;
	fixture_agent_files_free(&agent);
	secret_wipe(km, sizeof(km));
}

TestSuite(keyservice, .init = setup, .fini = teardown, .timeout = 90);

/* ---- helpers ---- */

static struct m2msa *open_handle(void)
{
	struct m2msa *h = NULL;
	int r;

	r = m2msa_open(agent.sock, &h);
	cr_assert_eq(r, 0, "m2msa_open(%s): %s", agent.sock, strerror(-r));
	return h;
}

/*
 * In a forked child: become uid (gid nogroup), keeping the socket's group (root's,
 * or m2msa's when the machine has that group) as a supplementary group.
 */
static int drop_to(uid_t uid, gid_t sock_gid)
{
	gid_t groups[2] = { 0, sock_gid };

	if (setgroups(2, groups) < 0 || setresgid(65534, 65534, 65534) < 0 ||
	    setresuid(uid, uid, uid) < 0)
		return -errno;
	return 0;
}

static gid_t sock_gid(void)
{
	struct stat st;

	cr_assert_eq(stat(agent.sock, &st), 0);
	return st.st_gid;
}

/* What a child that dropped to an unprivileged uid saw. */
struct child_result {
	int r;
	char key_id[WIRE_KEY_ID_MAX + 1];
	char ae_id[WIRE_ID_MAX + 1];
	uint8_t key[32];
	size_t len;
	pid_t pid;
};

struct get_key_args {
	uid_t uid;
	gid_t sock_gid;
	const char *ae_id;
};

static void get_key_child(const void *arg, void *out)
{
	const struct get_key_args *a = arg;
	struct child_result *c = out;
	struct m2msa *h = NULL;
	struct m2msa_key *k = NULL;

	c->pid = getpid();
	if ((c->r = drop_to(a->uid, a->sock_gid)) < 0) {
		/* c->r says why */
	} else if ((c->r = m2msa_open(agent.sock, &h)) == 0) {
		c->r = m2msa_get_key(h, a->ae_id, &k);
		if (c->r == 0) {
			snprintf(c->key_id, sizeof(c->key_id), "%s", m2msa_key_id(k));
			snprintf(c->ae_id, sizeof(c->ae_id), "%s", m2msa_key_ae_id(k));
			c->len = m2msa_key_len(k);
			memcpy(c->key, m2msa_key_data(k), sizeof(c->key));
			m2msa_key_free(k);
		}
		m2msa_close(h);
	}
}

/* Fork, drop to uid (keeping supplementary group 0 for the socket), get ae_id's key. */
static struct child_result get_key_as(uid_t uid, const char *ae_id)
{
	struct get_key_args a = { .uid = uid, .sock_gid = sock_gid(), .ae_id = ae_id };
	struct child_result res = { .r = -EIO };

	fixture_in_child(get_key_child, &a, &res, sizeof(res));
	return res;
}

static void expect_mas_key(const char *key_id, const char *ae_id, const uint8_t key[32])
{
	struct wire_msg m;
	int r = fixture_retrieve(&mas, "target", key_id, &m);

	cr_assert_eq(r, 0, "retrieving %s: %s", key_id, strerror(-r));
	cr_assert_eq(m.type, WIRE_MSG_KEY_RESPONSE, "the MAS refused %s (%s)", key_id,
		     m.type == WIRE_MSG_ERROR ? m.error.reason : "?");
	cr_expect_str_eq(m.key_response.ae_id, ae_id);
	cr_expect_str_eq(m.key_response.node_id, NODE);
	cr_expect(secret_equal(m.key_response.key, key, 32),
		  "the agent's key for %s differs from the MAS's", key_id);
	wire_msg_wipe(&m);
}

static int raw_connect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	memcpy(sa.sun_path, agent.sock, strlen(agent.sock));
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "connect: %s",
		     strerror(errno));
	return fd;
}

static void raw_send(int fd, const struct local_msg *m)
{
	uint8_t buf[LOCAL_WIRE_MSG_MAX];
	size_t len;

	cr_assert_eq(local_wire_encode(m, buf, sizeof(buf), &len), 0);
	cr_assert_eq(send(fd, buf, len, MSG_NOSIGNAL), (ssize_t)len);
}

/* Receive one message within timeout_ms: 0, or -ECONNRESET at EOF, -ETIMEDOUT. */
static int raw_recv(int fd, int timeout_ms, struct local_msg *ret)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint8_t buf[LOCAL_WIRE_MSG_MAX];
	ssize_t n;

	if (poll(&p, 1, timeout_ms) <= 0)
		return -ETIMEDOUT;
	n = recv(fd, buf, sizeof(buf), 0);
	if (n <= 0)
		return -ECONNRESET;
	return local_wire_decode(buf, (size_t)n, ret);
}

/* ---- tests ---- */

Test(keyservice, socket_is_0660_socket)
{
	struct stat st;

	cr_assert_eq(stat(agent.sock, &st), 0);
	cr_expect(S_ISSOCK(st.st_mode));
	cr_expect_eq(st.st_mode & 07777, 0660, "mode %o", st.st_mode & 07777);
}

Test(keyservice, authorised_uid_gets_per_ae_key_equal_to_mas_and_no_key_in_log)
{
	struct child_result c = get_key_as(UID_APP, "Cae1");
	struct m2msa *h = open_handle();
	struct m2msa_key *k = NULL;
	uint8_t kcid[SA_KCID_LEN];
	char ae[WIRE_ID_MAX + 1], fqdn[WIRE_KEY_ID_MAX + 1];
	char *log;

	cr_assert_eq(c.r, 0, "uid %u get-key Cae1: %s", UID_APP, strerror(-c.r));
	cr_expect_eq(c.len, 32);
	cr_expect_str_eq(c.ae_id, "Cae1");
	cr_assert_eq(sa_key_id_parse(c.key_id, kcid, ae, fqdn), 0, "per-AE key ID '%s'", c.key_id);
	cr_expect_str_eq(ae, "Cae1");
	cr_expect_str_eq(fqdn, FIXTURE_FQDN);
	/* The target retrieves the same key from the MAS by the per-AE key ID alone. */
	expect_mas_key(c.key_id, "Cae1", c.key);

	/* The CSE's key (root may ask) belongs to the same association, and differs. */
	cr_assert_eq(m2msa_get_key(h, NULL, &k), 0);
	cr_expect_str_eq(m2msa_key_ae_id(k), "");
	cr_expect(strncmp(m2msa_key_id(k), c.key_id, 2 * SA_KCID_LEN) == 0,
		  "%s and %s are not the same association", m2msa_key_id(k), c.key_id);
	cr_expect(!secret_equal(m2msa_key_data(k), c.key, 32), "the AE key equals Kc");
	expect_mas_key(m2msa_key_id(k), "", m2msa_key_data(k));

	log = read_agent_log();
	fixture_assert_key_absent(log, strlen(log), c.key, "the agent log (AE key)");
	fixture_assert_key_absent(log, strlen(log), m2msa_key_data(k), "the agent log (Kc)");
	free(log);
	m2msa_key_free(k);
	m2msa_close(h);
}

Test(keyservice, unauthorised_uid_is_refused_with_eacces_and_logged)
{
	struct child_result c = get_key_as(UID_OTHER, "Cae1");
	char *log, *line;

	cr_assert_eq(c.r, -EACCES, "uid %u: %d (%s)", UID_OTHER, c.r, strerror(-c.r));
	usleep(100 * 1000);
	log = read_agent_log();
	/*
	 * Issue #16: a uid that no clients.d file names is refused when it connects
	 * (ERROR denied for request 0, then closed), no longer per request.
	 */
	line = harness_strdupf("refusing a key service client pid %ld uid %u", (long)c.pid,
			       UID_OTHER);
	cr_expect_not_null(strstr(log, line), "no log line '%s'", line);
	free(line);
	free(log);
}

Test(keyservice, ae_cannot_get_another_aes_or_the_cses_key)
{
	struct child_result c;

	c = get_key_as(UID_APP, "Cae2");
	cr_expect_eq(c.r, -EACCES, "another AE's key: %d", c.r);
	c = get_key_as(UID_APP, NULL);
	cr_expect_eq(c.r, -EACCES, "the CSE's key: %d", c.r);
	c = get_key_as(UID_APP, "Cae3");
	cr_expect_eq(c.r, 0, "its second AE: %d", c.r);
	cr_expect_str_eq(c.ae_id, "Cae3");
}

Test(keyservice, sighup_reloads_clients_d)
{
	struct child_result c = get_key_as(UID_OTHER, "Cae2");

	cr_assert_eq(c.r, -EACCES);
	fixture_write_client(&agent, "other.conf", "[client]\nuid = 65534\nae = Cae2\n");
	cr_assert_eq(kill(agent_pid, SIGHUP), 0);
	wait_log_count("SIGHUP: reload done", 1);
	c = get_key_as(UID_OTHER, "Cae2");
	cr_expect_eq(c.r, 0, "after SIGHUP: %d", c.r);
	/* A bad file keeps the running policy, and the log names file, line and key. */
	fixture_write_client(&agent, "zz-bad.conf", "[client]\nuid = 65534\nae = Cae2\nfoo = bar\n");
	cr_assert_eq(kill(agent_pid, SIGHUP), 0);
	wait_log_count("SIGHUP: reload done", 2);
	c = get_key_as(UID_OTHER, "Cae2");
	cr_expect_eq(c.r, 0, "a bad reload dropped the policy: %d", c.r);
	{
		char *log = read_agent_log();

		cr_expect_not_null(strstr(log, "zz-bad.conf:4: unknown key 'foo' in section [client]"),
				   "no file:line:key error in the log");
		free(log);
	}
}

/* As UID_APP: out[0] what rekey returned, out[1] what status returned. */
static void rekey_and_status_child(const void *arg, void *out)
{
	const gid_t *g = arg;
	int *res = out;
	struct m2msa *h = NULL;
	char *json = NULL;

	if (drop_to(UID_APP, *g) == 0 && (res[0] = m2msa_open(agent.sock, &h)) == 0) {
		res[0] = m2msa_rekey(h);
		res[1] = m2msa_status(h, &json);
		free(json);
		m2msa_close(h);
	}
}

Test(keyservice, non_admin_cannot_rekey_or_status)
{
	int res[2] = { -EIO, -EIO };
	gid_t g = sock_gid();

	fixture_in_child(rekey_and_status_child, &g, res, sizeof(res));
	cr_expect_eq(res[0], -EACCES, "rekey: %d", res[0]);
	cr_expect_eq(res[1], -EACCES, "status: %d", res[1]);
}

Test(keyservice, admin_status_and_rekey_push_new_key_to_subscribers)
{
	struct m2msa *h = open_handle(), *sub = open_handle();
	struct m2msa_key *k = NULL, *ev_key = NULL;
	enum m2msa_event_type t = 0;
	char *json = NULL, old_id[WIRE_KEY_ID_MAX + 1];
	uint64_t end;
	int r;

	cr_assert_eq(m2msa_get_key(h, "Cae1", &k), 0);
	snprintf(old_id, sizeof(old_id), "%s", m2msa_key_id(k));
	m2msa_key_free(k);
	cr_assert_eq(m2msa_status(h, &json), 0);
	cr_expect_not_null(strstr(json, "\"state\":\"established\""), "%s", json);
	free(json);
	cr_assert_eq(m2msa_subscribe(sub, "Cae1"), 0);
	cr_assert_eq(m2msa_rekey(h), 0);
	end = mono_ms() + 10000;
	do {
		struct pollfd p = { .fd = m2msa_fd(sub), .events = POLLIN };

		r = m2msa_read_event(sub, &t, &ev_key);
		if (r == -EAGAIN)
			(void)poll(&p, 1, 200);
	} while (r == -EAGAIN && mono_ms() < end);
	cr_assert_eq(r, 0, "no event within 10 s after rekey: %s", strerror(-r));
	cr_assert_eq(t, M2MSA_EVENT_NEW_KEY);
	cr_expect_str_neq(m2msa_key_id(ev_key), old_id);
	cr_expect_str_eq(m2msa_key_ae_id(ev_key), "Cae1");
	expect_mas_key(m2msa_key_id(ev_key), "Cae1", m2msa_key_data(ev_key));
	/* get-key now answers with the new key. */
	cr_assert_eq(m2msa_get_key(h, "Cae1", &k), 0);
	cr_expect_str_eq(m2msa_key_id(k), m2msa_key_id(ev_key));
	m2msa_key_free(k);
	m2msa_key_free(ev_key);
	m2msa_close(sub);
	m2msa_close(h);
}

Test(keyservice, malformed_requests_get_an_error_and_are_closed)
{
	static const uint8_t garbage[] = { 0xff, 0x00, 0x13, 0x37 };
	static const uint8_t wrong_version[] = { 0xa3, 0x00, 0x01, 0x01, 0x02, 0x02, 0x05 };
	struct local_msg m, key_msg = { .type = LOCAL_MSG_KEY, .key_len = 32 };
	static uint8_t big[LOCAL_WIRE_MSG_MAX + 100];
	struct m2msa *h;
	struct m2msa_key *k = NULL;
	int fd;

	/* Bad CBOR. */
	fd = raw_connect();
	cr_assert_eq(send(fd, garbage, sizeof(garbage), 0), (ssize_t)sizeof(garbage));
	cr_assert_eq(raw_recv(fd, 2000, &m), 0);
	cr_expect_eq(m.type, LOCAL_MSG_ERROR);
	cr_expect_eq(m.code, LOCAL_ERR_MALFORMED);
	cr_expect_eq(raw_recv(fd, 2000, &m), -ECONNRESET, "the connection stayed open");
	close(fd);

	/* A well-formed message of a type that is not a request. */
	snprintf(key_msg.key_id, sizeof(key_msg.key_id), "00@x");
	snprintf(key_msg.suite, sizeof(key_msg.suite), "s");
	fd = raw_connect();
	raw_send(fd, &key_msg);
	cr_assert_eq(raw_recv(fd, 2000, &m), 0);
	cr_expect_eq(m.type, LOCAL_MSG_ERROR);
	cr_expect_eq(m.code, LOCAL_ERR_MALFORMED);
	cr_expect_eq(raw_recv(fd, 2000, &m), -ECONNRESET);
	close(fd);

	/* Oversize. */
	memset(big, 0xa0, sizeof(big));
	fd = raw_connect();
	cr_assert_eq(send(fd, big, sizeof(big), 0), (ssize_t)sizeof(big));
	cr_assert_eq(raw_recv(fd, 2000, &m), 0);
	cr_expect_eq(m.type, LOCAL_MSG_ERROR);
	cr_expect_eq(m.code, LOCAL_ERR_MALFORMED);
	cr_expect_eq(raw_recv(fd, 2000, &m), -ECONNRESET);
	close(fd);

	/* Another protocol version: {0: 1, 1: 2, 2: 5}. */
	fd = raw_connect();
	cr_assert_eq(send(fd, wrong_version, sizeof(wrong_version), 0),
		     (ssize_t)sizeof(wrong_version));
	cr_assert_eq(raw_recv(fd, 2000, &m), 0);
	cr_expect_eq(m.type, LOCAL_MSG_ERROR);
	cr_expect_eq(m.code, LOCAL_ERR_VERSION);
	cr_expect_eq(m.req, 5);
	close(fd);

	/* The agent is unaffected. */
	cr_expect_eq(kill(agent_pid, 0), 0, "m2msad died");
	h = open_handle();
	cr_expect_eq(m2msa_get_key(h, "Cae1", &k), 0);
	m2msa_key_free(k);
	m2msa_close(h);
}

Test(keyservice, two_hundred_concurrent_clients_and_one_that_never_reads)
{
	enum { N = 200 };
	static int fds[N];
	struct m2msa *h = open_handle();
	struct m2msa_key *ref = NULL;
	int lazy, done = 0, sent_lazy = 0;
	uint64_t t0, elapsed;

	cr_assert_eq(m2msa_get_key(h, "Cae1", &ref), 0);
	/* The lazy client floods requests and never reads a single answer. */
	lazy = raw_connect();
	for (int i = 0; i < 5000; i++) {
		struct local_msg q = { .type = LOCAL_MSG_GET_KEY, .req = (uint32_t)i + 1 };
		uint8_t buf[64];
		size_t len;

		snprintf(q.ae_id, sizeof(q.ae_id), "Cae1");
		cr_assert_eq(local_wire_encode(&q, buf, sizeof(buf), &len), 0);
		if (send(lazy, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
			break;
		sent_lazy++;
	}
	cr_expect_gt(sent_lazy, 64, "the lazy client could send only %d requests", sent_lazy);

	t0 = mono_ms();
	for (int i = 0; i < N; i++) {
		struct local_msg q = { .type = LOCAL_MSG_GET_KEY, .req = 7 };

		snprintf(q.ae_id, sizeof(q.ae_id), "Cae1");
		fds[i] = raw_connect();
		raw_send(fds[i], &q);
	}
	while (done < N && mono_ms() - t0 < 10000) {
		static struct pollfd p[N];
		int n = 0;

		for (int i = 0; i < N; i++)
			p[i] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
		n = poll(p, N, 1000);
		cr_assert_geq(n, 0);
		for (int i = 0; i < N; i++) {
			struct local_msg m;

			if (fds[i] < 0 || !(p[i].revents & POLLIN))
				continue;
			cr_assert_eq(raw_recv(fds[i], 0, &m), 0, "client %d", i);
			cr_assert_eq(m.type, LOCAL_MSG_KEY, "client %d got %s (%s)", i,
				     local_msg_type_to_string(m.type), m.reason);
			cr_expect_eq(m.req, 7);
			cr_expect_str_eq(m.key_id, m2msa_key_id(ref));
			cr_expect(secret_equal(m.key, m2msa_key_data(ref), 32), "client %d: wrong key", i);
			local_msg_wipe(&m);
			close(fds[i]);
			fds[i] = -1;
			done++;
		}
	}
	elapsed = mono_ms() - t0;
	cr_assert_eq(done, N, "only %d of %d clients got their key in 10 s", done, N);
	cr_expect_lt(elapsed, 2000, "200 clients took %llu ms", (unsigned long long)elapsed);
	cr_log_info("200 concurrent clients: %llu ms", (unsigned long long)elapsed);
	close(lazy);
	m2msa_key_free(ref);
	m2msa_close(h);
}

Test(keyservice, library_reconnects_after_agent_restart)
{
	struct m2msa *h = open_handle();
	struct m2msa_key *k = NULL;
	enum m2msa_event_type t = 0;
	int fd_before, r;
	uint64_t end;

	cr_assert_eq(m2msa_subscribe(h, "Cae1"), 0);
	cr_assert_eq(m2msa_get_key(h, "Cae1", &k), 0);
	m2msa_key_free(k);
	fd_before = m2msa_fd(h);
	stop_agent(SIGTERM);
	cr_expect_neq(access(agent.sock, F_OK), 0, "the socket outlived m2msad");
	start_agent();
	/* The application's loop: the same fd reports the reconnection. */
	end = mono_ms() + 10000;
	do {
		struct pollfd p = { .fd = m2msa_fd(h), .events = POLLIN };

		r = m2msa_read_event(h, &t, &k);
		if (r == -EAGAIN)
			(void)poll(&p, 1, 200);
	} while ((r == -EAGAIN || (r == 0 && t != M2MSA_EVENT_RECONNECTED && (m2msa_key_free(k), 1))) &&
		 mono_ms() < end);
	cr_assert_eq(r, 0, "no reconnection within 10 s: %s", strerror(-r));
	cr_expect_eq(t, M2MSA_EVENT_RECONNECTED);
	cr_expect_eq(m2msa_fd(h), fd_before, "m2msa_fd() changed across the reconnection");
	cr_assert_eq(m2msa_get_key(h, "Cae1", &k), 0, "get-key after the restart: %s",
		     m2msa_last_error(h));
	expect_mas_key(m2msa_key_id(k), "Cae1", m2msa_key_data(k));
	m2msa_key_free(k);
	/* And a restart between two requests is invisible to get-key. */
	stop_agent(SIGTERM);
	start_agent();
	r = m2msa_get_key(h, NULL, &k);
	cr_expect_eq(r, 0, "get-key right after a restart: %s", strerror(-r));
	m2msa_key_free(k);
	m2msa_close(h);
}

Test(keyservice, m2msactl_get_key_subscribe_rekey_status)
{
	char *ctl = harness_strdupf("%s/m2msactl/m2msactl", fixture_builddir());
	char *out = NULL, *err = NULL;
	int status = -1;
	struct m2msa *h = open_handle();
	struct m2msa_key *k = NULL;
	char hex[65];

	cr_assert_eq(m2msa_get_key(h, "Cae1", &k), 0);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", m2msa_key_data(k)[i]);
	{
		const char *argv[] = { ctl, "get-key", "--ae", "Cae1", "--json", "--socket", agent.sock, NULL };

		cr_assert_eq(harness_run(argv, NULL, NULL, &status, &out, &err), 0);
		cr_assert_eq(status, 0, "%s", err);
		cr_expect_not_null(strstr(out, m2msa_key_id(k)), "%s", out);
		cr_expect_null(strstr(out, hex), "key bytes printed without --show-key");
		cr_expect_null(strstr(out, "\"key\""), "%s", out);
		free(out);
		free(err);
	}
	{
		const char *argv[] = { ctl, "get-key", "--ae", "Cae1", "--json", "--show-key",
				       "--socket", agent.sock, NULL };

		cr_assert_eq(harness_run(argv, NULL, NULL, &status, &out, &err), 0);
		cr_assert_eq(status, 0, "%s", err);
		cr_expect_not_null(strstr(out, hex), "--show-key: %s", out);
		free(out);
		free(err);
	}
	{
		const char *argv[] = { ctl, "status", "--json", "--socket", agent.sock, NULL };

		cr_assert_eq(harness_run(argv, NULL, NULL, &status, &out, &err), 0);
		cr_assert_eq(status, 0, "%s", err);
		cr_expect_not_null(strstr(out, "\"state\":\"established\""), "%s", out);
		free(out);
		free(err);
	}
	{
		/* subscribe in the background, then rekey: one JSON line with the new key. */
		char *outfile = mas_fixture_path(&mas, "subscribe.out");
		pid_t pid = fork();
		char *text = NULL;
		size_t len;

		cr_assert_geq(pid, 0);
		if (pid == 0) {
			if (!freopen(outfile, "w", stdout))
				_exit(126);
			execl(ctl, ctl, "subscribe", "--ae", "Cae1", "--count", "1", "--socket",
			      agent.sock, (char *)NULL);
			_exit(127);
		}
		/* Rekey only once the agent has the subscription (its log says so). */
		wait_log_count("subscribed to the keys of Cae1", 1);
		{
			const char *argv[] = { ctl, "rekey", "--socket", agent.sock, NULL };

			cr_assert_eq(harness_run(argv, NULL, NULL, &status, &out, &err), 0);
			cr_assert_eq(status, 0, "%s", err);
			free(out);
			free(err);
		}
		for (int i = 0; i < 100; i++) {
			if (waitpid(pid, &status, WNOHANG) == pid)
				break;
			usleep(100 * 1000);
		}
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "subscribe: 0x%x", status);
		cr_assert_eq(harness_read_file(outfile, &text, &len), 0);
		cr_expect_not_null(strstr(text, "{\"event\":\"new-key\",\"key_id\":\""), "%s", text);
		cr_expect_null(strstr(text, m2msa_key_id(k)), "the old key was pushed: %s", text);
		cr_expect_null(strstr(text, "\"key\""), "%s", text);
		free(text);
		free(outfile);
	}
	m2msa_key_free(k);
	m2msa_close(h);
	free(ctl);
}

/* ---- suites with their own agent setup ---- */

static void setup_short(void)
{
	setup_provider(6, true);
	write_agent_conf(1);
	start_agent();
}

TestSuite(keyservice_short, .init = setup_short, .fini = teardown, .timeout = 90);

Test(keyservice_short, subscriber_gets_new_key_before_old_one_expires)
{
	struct m2msa *h = open_handle(), *sub = open_handle();
	struct m2msa_key *k = NULL, *ev_key = NULL;
	enum m2msa_event_type t = 0;
	char old_id[WIRE_KEY_ID_MAX + 1];
	uint64_t old_expiry, end, arrived;
	int r;

	/* get-key waits for the first establishment; the subscription then sees the rekey. */
	cr_assert_eq(m2msa_get_key(h, NULL, &k), 0);
	snprintf(old_id, sizeof(old_id), "%s", m2msa_key_id(k));
	old_expiry = m2msa_key_expiry(k);
	m2msa_key_free(k);
	cr_assert_eq(m2msa_subscribe(sub, NULL), 0);
	end = mono_ms() + 12000;
	for (;;) {
		struct pollfd p = { .fd = m2msa_fd(sub), .events = POLLIN };

		r = m2msa_read_event(sub, &t, &ev_key);
		if (r == 0 && t == M2MSA_EVENT_NEW_KEY)
			break;
		if (r == 0)
			m2msa_key_free(ev_key);
		cr_assert(r == 0 || r == -EAGAIN, "%s", strerror(-r));
		cr_assert_lt(mono_ms(), end, "no new key pushed within 12 s (6-second keys)");
		(void)poll(&p, 1, 100);
	}
	arrived = wall_ms();
	cr_expect_str_neq(m2msa_key_id(ev_key), old_id);
	cr_expect_lt(arrived, old_expiry * 1000, "the new key arrived %llu ms after the old expired",
		     (unsigned long long)(arrived - old_expiry * 1000));
	expect_mas_key(m2msa_key_id(ev_key), "", m2msa_key_data(ev_key));
	m2msa_key_free(ev_key);
	/* Then the old key's expiry is pushed too, at its expiry. */
	end = mono_ms() + 8000;
	for (;;) {
		struct pollfd p = { .fd = m2msa_fd(sub), .events = POLLIN };

		r = m2msa_read_event(sub, &t, &ev_key);
		if (r == 0 && t == M2MSA_EVENT_EXPIRED)
			break;
		if (r == 0)
			m2msa_key_free(ev_key);
		cr_assert_lt(mono_ms(), end, "no expiry event for %s", old_id);
		(void)poll(&p, 1, 100);
	}
	cr_expect_str_eq(m2msa_key_id(ev_key), old_id);
	cr_expect_eq(m2msa_key_len(ev_key), 0);
	cr_expect_geq(wall_ms() + 50, old_expiry * 1000, "expiry pushed early");
	cr_expect_lt(wall_ms(), old_expiry * 1000 + 1000, "expiry pushed late");
	m2msa_key_free(ev_key);
	m2msa_close(sub);
	m2msa_close(h);
}

static void setup_no_mas(void)
{
	/* The MAS is down at first: the agent's first attempt fails, then it backs off 30 s. */
	setup_provider(0, false);
	mas.est_port = 0;
	{
		uint16_t port;

		cr_assert_eq(harness_free_port(1, &port), 0);
		mas.est_port = port;
		cr_assert_eq(harness_free_port(1, &port), 0);
		mas.ret_port = port;
		mas_fixture_write_conf(&mas, NULL);
	}
	write_agent_conf(30);
	start_agent();
}

TestSuite(keyservice_trigger, .init = setup_no_mas, .fini = teardown, .timeout = 90);

Test(keyservice_trigger, get_key_without_association_fails_then_triggers_establishment)
{
	struct m2msa *h = open_handle();
	struct m2msa_key *k = NULL;
	uint64_t t0;
	int r;

	/* No MAS: the get-key starts an attempt at once and reports its failure. */
	t0 = mono_ms();
	r = m2msa_get_key(h, "Cae1", &k);
	cr_expect_eq(r, -ENOKEY, "get-key without a MAS: %d (%s)", r, strerror(-r));
	cr_expect_lt(mono_ms() - t0, 5000);
	cr_expect_neq(m2msa_last_error(h)[0], '\0', "no reason given");
	/* The MAS comes up; the agent would wait out its 30 s backoff, but a get-key
	 * cuts it short and answers when the establishment completes. */
	mas_fixture_start(&mas, NULL, NULL);
	t0 = mono_ms();
	r = m2msa_get_key(h, "Cae1", &k);
	cr_assert_eq(r, 0, "get-key after the MAS came up: %s (%s)", strerror(-r),
		     m2msa_last_error(h));
	cr_expect_lt(mono_ms() - t0, 5000, "get-key waited for the backoff");
	expect_mas_key(m2msa_key_id(k), "Cae1", m2msa_key_data(k));
	m2msa_key_free(k);
	m2msa_close(h);
}

/* ---- the example AE: key from the agent, TLS 1.3 PSK to the IN-CSE stand-in ---- */

Test(keyservice, example_ae_gets_key_from_agent_and_switches_after_push)
{
	char *standin = harness_strdupf("%s/examples/m2msa-incse-standin", fixture_builddir());
	char *ae = harness_strdupf("%s/examples/m2msa-ae-client", fixture_builddir());
	char *mas_addr = harness_strdupf("127.0.0.1:%u", mas.ret_port);
	char *ca = mas_fixture_path(&mas, "pki/ca.crt"), *crt = mas_fixture_path(&mas, "pki/target.crt");
	char *key = mas_fixture_path(&mas, "pki/target.key"), *pf = mas_fixture_path(&mas, "standin.port");
	char *slog = mas_fixture_path(&mas, "standin.log"), *aeout = mas_fixture_path(&mas, "ae.out");
	char *content = NULL, *connect_to;
	struct m2msa *h = open_handle();
	pid_t spid, apid;
	uint16_t port = 0;
	size_t len;
	int status = -1;

	spid = fork();
	cr_assert_geq(spid, 0);
	if (spid == 0) {
		(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (!freopen(slog, "w", stderr) || !freopen("/dev/null", "w", stdout))
			_exit(126);
		execl(standin, standin, "--listen", "127.0.0.1:0", "--mas", mas_addr, "--mas-ca", ca,
		      "--mas-name", FIXTURE_FQDN, "--cert", crt, "--key", key, "--port-file", pf,
		      (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 100 && !content; i++) {
		if (harness_read_file(pf, &content, &len) != 0 || !strchr(content, '\n')) {
			free(content);
			content = NULL;
			usleep(50 * 1000);
		}
	}
	cr_assert_not_null(content, "the stand-in did not start (see %s)", slog);
	cr_assert_eq(sscanf(content, "%hu", &port), 1);
	free(content);
	content = NULL;
	connect_to = harness_strdupf("127.0.0.1:%u", port);

	apid = fork();
	cr_assert_geq(apid, 0);
	if (apid == 0) {
		(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (!freopen(aeout, "w", stdout))
			_exit(126);
		execl(ae, ae, "--connect", connect_to, "--from-agent", "--ae", "Cae1", "--socket",
		      agent.sock, "--rounds", "2", "--wait", "20", (char *)NULL);
		_exit(127);
	}
	/* Once the first exchange is done, rekey: the AE must switch to the pushed key. */
	for (int i = 0; i < 200; i++) {
		free(content);
		content = NULL;
		if (harness_read_file(aeout, &content, &len) == 0 && strstr(content, "psk handshake ok"))
			break;
		usleep(50 * 1000);
	}
	cr_assert_not_null(content);
	cr_assert_not_null(strstr(content, "psk handshake ok"), "first exchange: %s", content);
	cr_assert_eq(m2msa_rekey(h), 0);
	for (int i = 0; i < 300; i++) {
		if (waitpid(apid, &status, WNOHANG) == apid)
			break;
		usleep(50 * 1000);
	}
	kill(spid, SIGTERM);
	waitpid(spid, NULL, 0);
	free(content);
	cr_assert_eq(harness_read_file(aeout, &content, &len), 0);
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "ae-client: 0x%x\n%s", status,
		  content);
	cr_expect_not_null(strstr(content, "switched to the new key"), "%s", content);
	{
		const char *first = strstr(content, "psk handshake ok");

		cr_expect(first && strstr(first + 1, "psk handshake ok"), "two exchanges: %s", content);
	}
	free(content);
	m2msa_close(h);
	free(standin);
	free(ae);
	free(mas_addr);
	free(ca);
	free(crt);
	free(key);
	free(pf);
	free(slog);
	free(aeout);
	free(connect_to);
}
