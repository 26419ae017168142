/* SPDX-License-Identifier: Apache-2.0 */
/*
 * m2msad end to end: the real binary with a temp config, Km in a real swtpm, the
 * real m2masd on 127.0.0.1 with a 6-second node lifetime, keys retrieved from the
 * MAS over mutual TLS as an IN-CSE would. Rekey before expiry with no gap, MAS
 * outage with growing backoff, swtpm restart, uplink flap in a network namespace,
 * bad configs, SIGHUP, m2msactl status, and no key byte in a debug-level log.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent/status.h"
#include "common/crypto.h"
#include "common/frame.h"
#include "common/tls.h"
#include "fixture.h"
#include "harness.h"
#include "mas/keyfile.h"
#include "mas/store.h"
#include "tpm/keystore.h"
#include "secrets.h"

#define NODE "/mn-cse-1"
#define TARGET "/in-cse"
#define FQDN "mas.test"
#define MAX_KEYS 16

struct known_key {
	char key_id[WIRE_KEY_ID_MAX + 1];
	uint8_t kc[32];
	uint64_t expiry;
};

struct fixture {
	char *dir;
	struct harness_swtpm *tpm;
	pid_t swtpm_pid; /* our own swtpm after a restart on the same port */
	uint16_t tpm_port;
	pid_t mas_pid, agent_pid;
	uint16_t est_port, ret_port;
	uint8_t km[32];
	char *db, *master, *status, *conf, *agent_log;
	struct known_key keys[MAX_KEYS];
	size_t n_keys;
};

static struct fixture fx;

static char *path(const char *name)
{
	return harness_strdupf("%s/%s", fx.dir, name);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void add_node(uint64_t lifetime)
{
	static const uint8_t psk = WIRE_METHOD_PSK;

	fixture_add_node(fx.db, fx.master, NODE, "km-1@" FQDN, fx.km, &psk, 1, lifetime);
}

static void provision(void)
{
	char *state = path("node");

	fixture_provision_km(harness_swtpm_tcti(fx.tpm), state, NODE, "km-1@" FQDN, fx.km);
	free(state);
}

/* Start m2masd; ports 0: any (then read back from the port file). */
static void start_mas(uint16_t est, uint16_t ret)
{
	char *conf = path("m2masd.conf"), *ports = path("mas.ports"), *log = path("m2masd.log");
	char *mas = harness_strdupf("%s/mas/m2masd", fixture_builddir());
	char *text = harness_strdupf(
		"[mas]\nlisten = 127.0.0.1:%u\nretrieval_listen = 127.0.0.1:%u\nfqdn = " FQDN "\n"
		"cert = %s/pki/mas.crt\nkey = %s/pki/mas.key\ntarget_ca = %s/pki/ca.crt\n"
		"lifetime = 1h\nhandshake_timeout = 5s\n[store]\npath = %s\nmaster_key = %s\n"
		"[log]\nlevel = debug\n",
		est, ret, fx.dir, fx.dir, fx.dir, fx.db, fx.master);

	unlink(ports);
	cr_assert_eq(harness_write_file(conf, text, strlen(text), 0600), 0);
	fx.mas_pid = fork();
	cr_assert_geq(fx.mas_pid, 0);
	if (fx.mas_pid == 0) {
		(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (!freopen(log, "a", stderr))
			_exit(126);
		execl(mas, mas, "--config", conf, "--port-file", ports, "--foreground", (char *)NULL);
		_exit(127);
	}
	fixture_read_ports(ports, log, &fx.est_port, &fx.ret_port);
	free(conf);
	free(ports);
	free(log);
	free(mas);
	free(text);
}

/*
 * The agent's config; line numbers matter to the bad-config test: the 13th line
 * is the first of extra. tcti NULL: the test's swtpm.
 */
static void write_agent_conf(const char *tcti, unsigned backoff_min, unsigned backoff_max,
			     const char *extra)
{
	char *dflt = harness_strdupf("swtpm:host=127.0.0.1,port=%u", fx.tpm_port);
	char *text = harness_strdupf(
		"[node]\nstate_dir = %s/node\ntcti = %s\n"
		"[mas]\naddress = 127.0.0.1:%u\nca = %s/pki/ca.crt\nserver_name = " FQDN "\n"
		"timeout = 3s\n[agent]\nstatus_file = %s\nbackoff_min = %us\nbackoff_max = %us\n%s",
		fx.dir, tcti ? tcti : dflt, fx.est_port, fx.dir, fx.status, backoff_min, backoff_max,
		extra ? extra : "");

	free(dflt);

	cr_assert_eq(harness_write_file(fx.conf, text, strlen(text), 0644), 0);
	free(text);
}

static void start_agent(void)
{
	fx.agent_pid = fixture_start_agent(fx.conf, fx.agent_log, NULL, 0);
}

static int read_status(struct agent_status *st)
{
	return agent_status_read(fx.status, st);
}

/* Wait up to timeout_ms until the status says state and (not_key != NULL) a key other than not_key. */
static int wait_state(const char *state, const char *not_key, int timeout_ms,
		      struct agent_status *ret)
{
	uint64_t end = now_ms() + (uint64_t)timeout_ms;
	struct agent_status st;

	do {
		if (read_status(&st) == 0 && strcmp(st.state, state) == 0 &&
		    (!not_key || (st.key_id[0] && strcmp(st.key_id, not_key) != 0))) {
			if (ret)
				*ret = st;
			return 0;
		}
		usleep(20 * 1000);
	} while (now_ms() < end);
	return -ETIMEDOUT;
}

/* Retrieve key_id (once) and remember its Kc for the log check. Returns the MAS's answer type. */
static int learn_key(const char *key_id)
{
	struct wire_msg m;
	int type;

	for (size_t i = 0; i < fx.n_keys; i++)
		if (strcmp(fx.keys[i].key_id, key_id) == 0)
			return WIRE_MSG_KEY_RESPONSE;
	cr_assert_eq(fixture_retrieve_at(fx.dir, fx.ret_port, "target", key_id, &m), 0);
	type = m.type;
	if (m.type == WIRE_MSG_KEY_RESPONSE && fx.n_keys < MAX_KEYS) {
		struct known_key *k = &fx.keys[fx.n_keys++];

		snprintf(k->key_id, sizeof(k->key_id), "%s", key_id);
		memcpy(k->kc, m.key_response.key, 32);
		k->expiry = m.key_response.expiry;
	}
	wire_msg_wipe(&m);
	return type;
}

static char *agent_log(void)
{
	return fixture_read_text(fx.agent_log);
}

/* Wait until the agent's log holds needle at least n times (10 s at most). */
static void wait_log_count(const char *needle, int n)
{
	fixture_wait_log_count(fx.agent_log, needle, n, 200, 50);
}

static size_t count_matches(const char *text, const char *needle)
{
	size_t n = 0;

	for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* No Kc the MAS handed out appears in the agent's log: as hex (either case) or raw. */
static void assert_no_key_in_log(void)
{
	char *log = NULL;
	size_t len;

	cr_assert_eq(harness_read_file(fx.agent_log, &log, &len), 0);
	cr_assert_gt(fx.n_keys, 0, "no key was retrieved to look for");
	for (size_t i = 0; i < fx.n_keys; i++) {
		char lo[65], up[65], half[17];

		for (int j = 0; j < 32; j++) {
			snprintf(lo + 2 * j, 3, "%02x", fx.keys[i].kc[j]);
			snprintf(up + 2 * j, 3, "%02X", fx.keys[i].kc[j]);
		}
		memcpy(half, lo, 16);
		half[16] = '\0';
		cr_expect_null(strstr(log, lo), "Kc of %s in the log as hex", fx.keys[i].key_id);
		cr_expect_null(strstr(log, up), "Kc of %s in the log as HEX", fx.keys[i].key_id);
		cr_expect_null(strstr(log, half), "8 bytes of Kc of %s in the log", fx.keys[i].key_id);
		cr_expect_null(memmem(log, len, fx.keys[i].kc, 16), "raw Kc of %s in the log",
			       fx.keys[i].key_id);
	}
	free(log);
}

static void setup(void)
{
	HARNESS_REQUIRE_SWTPM();
	memset(&fx, 0, sizeof(fx));
	cr_assert_eq(harness_tmpdir(&fx.dir), 0);
	fixture_make_certs(fx.dir);
	{
		char *tpmstate = path("tpmstate");

		cr_assert_eq(mkdir(tpmstate, 0700), 0);
		cr_assert_eq(harness_swtpm_start(tpmstate, &fx.tpm), 0);
		free(tpmstate);
	}
	fx.tpm_port = harness_swtpm_port(fx.tpm);
	fx.db = path("mas.db");
	fx.master = path("master.key");
	fx.status = path("status.json");
	fx.conf = path("m2msad.conf");
	fx.agent_log = path("m2msad.log");
	cr_assert_eq(mas_master_key_create(fx.master), 0);
	cr_assert_eq(crypto_random(fx.km, sizeof(fx.km)), 0);
	provision();
}

static void teardown(void)
{
	harness_kill_wait(&fx.agent_pid, SIGKILL);
	harness_kill_wait(&fx.mas_pid, SIGKILL);
	harness_kill_wait(&fx.swtpm_pid, SIGKILL);
	harness_swtpm_stop(fx.tpm);
	secrets_note(fx.km, sizeof(fx.km), "Km (test)");
	secrets_assert_logs_clean(fx.dir, fx.db, fx.master); /* no key byte in any log */
	if (fx.dir && !getenv("M2MSA_KEEP_TEST_DIR"))
		harness_rmtree(fx.dir);
	free(fx.dir);
	free(fx.db);
	free(fx.master);
	free(fx.status);
	free(fx.conf);
	free(fx.agent_log);
	secret_wipe(&fx, sizeof(fx));
}

TestSuite(agent, .init = setup, .fini = teardown, .timeout = 60);

/* Stop the agent with SIGTERM: exit 0, status file removed. */
static void stop_agent_cleanly(void)
{
	int status = -1;

	cr_assert_gt(fx.agent_pid, 0);
	cr_assert_eq(kill(fx.agent_pid, SIGTERM), 0);
	cr_assert_eq(waitpid(fx.agent_pid, &status, 0), fx.agent_pid);
	fx.agent_pid = 0;
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "m2msad: status 0x%x on SIGTERM",
		  status);
	cr_expect_neq(access(fx.status, F_OK), 0, "the status file outlived m2msad");
}

/* swtpm on a given port with the fixture's state dir (to restart it where the agent looks). */
static void spawn_swtpm(uint16_t port)
{
	char server[96], ctrl[96], state[512];
	pid_t parent = getpid();

	snprintf(server, sizeof(server), "type=tcp,port=%u,bindaddr=127.0.0.1", port);
	snprintf(ctrl, sizeof(ctrl), "type=tcp,port=%u,bindaddr=127.0.0.1", port + 1);
	snprintf(state, sizeof(state), "dir=%s/tpmstate", fx.dir);
	fx.swtpm_pid = fork();
	cr_assert_geq(fx.swtpm_pid, 0);
	if (fx.swtpm_pid == 0) {
		int devnull = open("/dev/null", O_RDWR);

		(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
		dup2(devnull, STDIN_FILENO);
		dup2(devnull, STDOUT_FILENO);
		dup2(devnull, STDERR_FILENO);
		execlp("swtpm", "swtpm", "socket", "--tpm2", "--server", server, "--ctrl", ctrl,
		       "--tpmstate", state, "--flags", "not-need-init,startup-clear", (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 100; i++) {
		int fd = tcp_connect("127.0.0.1", port, 200);

		if (fd >= 0) {
			close(fd);
			return;
		}
		usleep(50 * 1000);
	}
	cr_assert_fail("swtpm did not come back on port %u", port);
}

static int run_quiet(const char *const *argv, char **ret_err)
{
	int status = -1;

	cr_assert_eq(harness_run(argv, NULL, NULL, &status, NULL, ret_err), 0);
	return status;
}

static void ip(const char *a, const char *b, const char *c, const char *d, const char *e)
{
	const char *argv[] = { "ip", a, b, c, d, e, NULL };
	char *err = NULL;
	int st = run_quiet(argv, &err);

	cr_assert_eq(st, 0, "ip %s %s %s %s failed: %s", a, b, c, d ? d : "", err);
	free(err);
}

Test(agent, rekey_before_expiry_no_gap_old_key_retrievable_no_key_in_log)
{
	struct agent_status st;
	char seen[MAX_KEYS][WIRE_KEY_ID_MAX + 1], old_checked[WIRE_KEY_ID_MAX + 1] = "";
	size_t n_seen = 0, samples = 0, rekeys_seen = 0, old_retrieved = 0;
	uint64_t end;
	regex_t re;

	add_node(6);
	start_mas(0, 0);
	write_agent_conf(NULL, 1, 4, NULL);
	start_agent();
	cr_assert_eq(wait_state("established", NULL, 5000, &st), 0,
		     "m2msad did not establish within 5 s (see %s)", fx.agent_log);
	cr_assert_eq(regcomp(&re, "^[0-9a-f]{32}@mas\\.test$", REG_EXTENDED | REG_NOSUB), 0);
	cr_expect_eq(regexec(&re, st.key_id, 0, NULL, 0), 0, "key ID '%s'", st.key_id);
	cr_expect_str_eq(st.node_id, NODE);
	cr_expect_eq(st.pid, fx.agent_pid);
	cr_expect_gt(st.next_rekey, (uint64_t)time(NULL) - 1);
	cr_expect_lt(st.next_rekey, st.expiry, "rekey must be scheduled before expiry");

	/* Sample every 100 ms for 15 s: 6-second keys, rekeyed at 75..85 % of their life. */
	end = now_ms() + 15000;
	while (now_ms() < end) {
		struct timespec ts;
		uint64_t wall;
		bool cur_ok, next_ok;

		cr_assert_eq(read_status(&st), 0, "status file unreadable at sample %zu", samples);
		clock_gettime(CLOCK_REALTIME, &ts);
		wall = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
		cur_ok = st.key_id[0] && st.expiry * 1000 > wall;
		next_ok = st.next_key_id[0] && st.next_expiry * 1000 > wall;
		cr_assert(cur_ok || next_ok,
			  "sample %zu: no valid key (state %s, key '%s' expiry %llu, next '%s' "
			  "expiry %llu, now %llu ms)",
			  samples, st.state, st.key_id, (unsigned long long)st.expiry, st.next_key_id,
			  (unsigned long long)st.next_expiry, (unsigned long long)wall);
		for (int k = 0; k < 2; k++) {
			const char *id = k ? st.next_key_id : st.key_id;
			bool known = false;

			if (!id[0])
				continue;
			for (size_t i = 0; i < n_seen; i++)
				known |= strcmp(seen[i], id) == 0;
			if (!known && n_seen < MAX_KEYS) {
				cr_expect_eq(regexec(&re, id, 0, NULL, 0), 0, "key ID '%s'", id);
				snprintf(seen[n_seen++], sizeof(seen[0]), "%s", id);
				cr_expect_eq(learn_key(id), WIRE_MSG_KEY_RESPONSE,
					     "the MAS does not know the agent's new key %s", id);
				if (k == 1) {
					rekeys_seen++;
					cr_expect(cur_ok, "successor %s arrived after key %s expired",
						  id, st.key_id);
				}
			}
		}
		/* Make-before-break: while a successor exists, the old key is still served. */
		if (st.next_key_id[0] && strcmp(old_checked, st.key_id) != 0 &&
		    st.expiry * 1000 > wall + 400) {
			struct wire_msg m;

			cr_assert_eq(fixture_retrieve_at(fx.dir, fx.ret_port, "target", st.key_id, &m), 0);
			cr_expect_eq(m.type, WIRE_MSG_KEY_RESPONSE,
				     "old key %s refused by the MAS before its expiry", st.key_id);
			wire_msg_wipe(&m);
			snprintf(old_checked, sizeof(old_checked), "%s", st.key_id);
			old_retrieved++;
		}
		samples++;
		usleep(100 * 1000);
	}
	regfree(&re);
	cr_expect_geq(n_seen, 3, "only %zu keys in 15 s of 6-second lifetimes", n_seen);
	cr_expect_geq(rekeys_seen, 2, "successors seen while the old key was valid: %zu",
		      rekeys_seen);
	cr_expect_geq(old_retrieved, 1, "never checked an old key during make-before-break");
	for (size_t i = 0; i < fx.n_keys; i++)
		for (size_t j = i + 1; j < fx.n_keys; j++)
			cr_expect(memcmp(fx.keys[i].kc, fx.keys[j].kc, 32) != 0, "Kc repeated");
	{
		char *log = agent_log();

		cr_expect_null(strstr(log, "expired without a successor"), "a key lapsed:\n%s", log);
		cr_expect_geq(count_matches(log, "established key "), 3);
		free(log);
	}
	stop_agent_cleanly();
	assert_no_key_in_log();
}

/* "attempt N): ...; retrying in S.mmm s (backoff ceiling C s)" lines of the log. */
static size_t parse_backoff(const char *log, unsigned attempt[], double delay[], unsigned ceiling[],
			    size_t max)
{
	regex_t re;
	regmatch_t mt[5];
	size_t n = 0;

	cr_assert_eq(regcomp(&re,
			     "failed \\(attempt ([0-9]+)\\): [^\n]*; retrying in ([0-9]+\\.[0-9]{3}) s "
			     "\\(backoff ceiling ([0-9]+) s\\)",
			     REG_EXTENDED),
		     0);
	for (const char *p = log; n < max && regexec(&re, p, 4, mt, 0) == 0; p += mt[0].rm_eo) {
		attempt[n] = (unsigned)strtoul(p + mt[1].rm_so, NULL, 10);
		delay[n] = strtod(p + mt[2].rm_so, NULL);
		ceiling[n] = (unsigned)strtoul(p + mt[3].rm_so, NULL, 10);
		n++;
	}
	regfree(&re);
	return n;
}

Test(agent, mas_outage_backoff_grows_with_jitter_then_recovers)
{
	struct agent_status st;
	char first[WIRE_KEY_ID_MAX + 1];
	unsigned attempt[32], ceiling[32];
	double delay[32];
	size_t n = 0;
	uint64_t end;
	char *log = NULL;

	add_node(6);
	start_mas(0, 0);
	write_agent_conf(NULL, 1, 4, NULL);
	start_agent();
	cr_assert_eq(wait_state("established", NULL, 5000, &st), 0, "see %s", fx.agent_log);
	snprintf(first, sizeof(first), "%s", st.key_id);
	cr_assert_eq(learn_key(first), WIRE_MSG_KEY_RESPONSE);
	harness_kill_wait(&fx.mas_pid, SIGKILL);

	/* Rekey at ~5 s fails; retries after 1, <=2, <=4, <=4 s. */
	end = now_ms() + 20000;
	do {
		usleep(200 * 1000);
		free(log);
		log = agent_log();
		n = parse_backoff(log, attempt, delay, ceiling, 32);
	} while (n < 4 && now_ms() < end);
	cr_assert_geq(n, 4, "fewer than 4 failed attempts logged:\n%s", log);
	for (size_t i = 0; i < n; i++) {
		static const unsigned want[] = { 1, 2, 4, 4, 4, 4, 4, 4 };

		cr_expect_eq(attempt[i], i + 1);
		cr_expect_eq(ceiling[i], i < 8 ? want[i] : 4, "attempt %zu: ceiling %u", i + 1,
			     ceiling[i]);
		cr_expect(delay[i] >= 1.0 && delay[i] <= ceiling[i],
			  "attempt %zu: delay %.3f s outside [1, %u]", i + 1, delay[i], ceiling[i]);
	}
	cr_expect_eq(delay[0], 1.0, "the first retry waits exactly backoff_min");
	cr_expect_gt(ceiling[2], ceiling[0], "backoff did not grow");
	cr_expect_not_null(strstr(log, "expired without a successor"),
			   "the lapsed key was not reported:\n%s", log);
	free(log);
	cr_assert_eq(read_status(&st), 0);
	cr_expect(strcmp(st.state, "backoff") == 0 || strcmp(st.state, "establishing") == 0,
		  "state %s during the outage", st.state);
	cr_expect_geq(st.failures, 3);
	cr_expect_gt(st.last_failure_time, 0);
	cr_expect_not_null(strstr(st.last_failure_reason, "MAS"), "reason: %s",
			   st.last_failure_reason);
	cr_expect_str_eq(st.key_id, "", "a key was kept past its expiry");

	/* The MAS comes back on the same ports: re-established within one backoff_max. */
	start_mas(fx.est_port, fx.ret_port);
	cr_assert_eq(wait_state("established", first, 6000, &st), 0,
		     "not re-established after the MAS came back (see %s)", fx.agent_log);
	cr_expect_eq(st.failures, 0, "failures not reset on success");
	cr_expect_str_neq(st.key_id, first);
	cr_expect_eq(learn_key(st.key_id), WIRE_MSG_KEY_RESPONSE);
	stop_agent_cleanly();
	assert_no_key_in_log();
}

Test(agent, swtpm_restart_recovers)
{
	struct agent_status st;
	char first[WIRE_KEY_ID_MAX + 1];
	char *log;

	add_node(6);
	start_mas(0, 0);
	write_agent_conf(NULL, 1, 2, NULL);
	start_agent();
	cr_assert_eq(wait_state("established", NULL, 5000, &st), 0, "see %s", fx.agent_log);
	snprintf(first, sizeof(first), "%s", st.key_id);
	/* Kill swtpm (state kept) and start it again on the same port. */
	harness_swtpm_stop(fx.tpm);
	fx.tpm = NULL;
	usleep(300 * 1000);
	spawn_swtpm(fx.tpm_port);
	cr_assert_eq(wait_state("established", first, 15000, &st), 0,
		     "no new key after the swtpm restart (see %s)", fx.agent_log);
	cr_expect_eq(learn_key(st.key_id), WIRE_MSG_KEY_RESPONSE);
	log = agent_log();
	cr_expect_not_null(strstr(log, "closing the TPM connection"),
			   "the TPM failure was not noticed:\n%s", log);
	free(log);
	stop_agent_cleanly();
}

Test(agent, uplink_flap_in_netns_reestablishes_within_one_second)
{
	struct agent_status st;
	uint64_t t0, elapsed;
	char *log;

	if (geteuid() != 0)
		cr_skip_test("needs root to create a network namespace and a veth pair");
	if (!harness_have_program("ip"))
		cr_skip_test("iproute2 (ip) is not installed");
	if (unshare(CLONE_NEWNET) < 0)
		cr_skip_test("cannot create a network namespace: %s", strerror(errno));
	ip("link", "set", "lo", "up", NULL);
	{
		const char *argv[] = { "ip", "link", "add", "veth0", "type", "veth", "peer", "name",
				       "veth1", NULL };
		char *err = NULL;

		if (run_quiet(argv, &err) != 0)
			cr_skip_test("cannot create a veth pair: %s", err);
		free(err);
	}
	ip("link", "set", "veth0", "up", NULL);
	ip("link", "set", "veth1", "up", NULL);
	/* swtpm from setup() lives outside: run one in here, on the same port. */
	harness_swtpm_stop(fx.tpm);
	fx.tpm = NULL;
	spawn_swtpm(fx.tpm_port);

	add_node(0);
	start_mas(0, 0); /* to learn free ports, then down: the first attempt must fail */
	harness_kill_wait(&fx.mas_pid, SIGKILL);
	write_agent_conf(NULL, 30, 60, "uplink = veth0\n");
	start_agent();
	cr_assert_eq(wait_state("backoff", NULL, 5000, &st), 0, "see %s", fx.agent_log);
	cr_expect_geq(st.retry_at, (uint64_t)time(NULL) + 25, "backoff_min 30 s not applied");
	start_mas(fx.est_port, fx.ret_port);
	ip("link", "set", "veth1", "down", NULL);
	usleep(300 * 1000);
	cr_assert_eq(read_status(&st), 0);
	cr_assert_str_eq(st.state, "backoff", "link down alone must not trigger an attempt");
	t0 = now_ms();
	ip("link", "set", "veth1", "up", NULL);
	cr_assert_eq(wait_state("established", NULL, 3000, &st), 0,
		     "not established after the uplink came back (see %s)", fx.agent_log);
	elapsed = now_ms() - t0;
	cr_expect_leq(elapsed, 1000, "re-established %llu ms after link up",
		      (unsigned long long)elapsed);
	log = agent_log();
	cr_expect_not_null(strstr(log, "retrying now instead of waiting out the backoff"), "%s", log);
	free(log);
	stop_agent_cleanly();
}

Test(agent, bad_config_names_file_line_and_key)
{
	char *agent = harness_strdupf("%s/agent/m2msad", fixture_builddir());
	char *where = harness_strdupf("%s:14:", fx.conf);
	const char *check[] = { agent, "--config", fx.conf, "--check", NULL };
	const char *run[] = { agent, "--config", fx.conf, "--log-target", "stderr", NULL };
	char *out = NULL, *err = NULL;
	int status = -1;

	write_agent_conf(NULL, 1, 4, "[mas]\nprot = 5683\n");
	cr_assert_eq(harness_run(check, NULL, NULL, &status, &out, &err), 0);
	cr_expect_eq(status, 1, "--check on a bad config: exit %d", status);
	cr_expect_not_null(strstr(err, where), "no file:line in: %s", err);
	cr_expect_not_null(strstr(err, "prot"), "the key is not named: %s", err);
	free(out);
	free(err);
	cr_assert_eq(harness_run(run, NULL, NULL, &status, &out, &err), 0);
	cr_expect_eq(status, 1, "start with a bad config: exit %d", status);
	cr_expect_not_null(strstr(err, where), "no file:line in: %s", err);
	cr_expect_neq(access(fx.status, F_OK), 0, "a status file was written");
	free(out);
	free(err);

	write_agent_conf(NULL, 10, 4, NULL);
	cr_assert_eq(harness_run(check, NULL, NULL, &status, &out, &err), 0);
	cr_expect_eq(status, 1);
	cr_expect_not_null(strstr(err, "backoff_max"), "%s", err);
	free(out);
	free(err);

	write_agent_conf(NULL, 1, 4, "uplink = eth0\nsocket = /run/m2msa/agent.sock\n");
	cr_assert_eq(harness_run(check, NULL, NULL, &status, &out, &err), 0);
	cr_expect_eq(status, 0, "--check on a good config: %s", err);
	cr_expect_not_null(strstr(out, "configuration OK"), "%s", out);
	free(out);
	free(err);
	free(agent);
	free(where);
}

Test(agent, sighup_reload_and_m2msactl_status)
{
	char *ctl = harness_strdupf("%s/m2msactl/m2msactl", fixture_builddir());
	const char *words[] = { ctl, "status", "--status-file", fx.status, NULL };
	const char *json[] = { ctl, "status", "--json", "--status-file", fx.status, NULL };
	struct agent_status st, parsed;
	char first[WIRE_KEY_ID_MAX + 1], *out = NULL, *err = NULL, *log, *where;
	int status = -1;

	/* Before the agent starts; the socket is this test's own, so an agent running
	 * elsewhere on the machine (at the default socket) cannot answer instead. */
	char *no_sock = path("no-agent.sock");
	const char *words_none[] = { ctl, "status", "--socket", no_sock, "--status-file", fx.status,
				     NULL };

	add_node(0); /* the MAS default lifetime: 1 h */
	start_mas(0, 0);
	cr_assert_eq(harness_run(words_none, NULL, NULL, &status, &out, &err), 0);
	free(no_sock);
	cr_expect_eq(status, 1);
	where = harness_strdupf("m2msad is not running (no %s)", fx.status);
	cr_expect_not_null(strstr(err, where), "%s", err);
	free(where);
	free(out);
	free(err);

	write_agent_conf(NULL, 1, 4, NULL);
	start_agent();
	cr_assert_eq(wait_state("established", NULL, 5000, &st), 0, "see %s", fx.agent_log);
	snprintf(first, sizeof(first), "%s", st.key_id);
	cr_assert_eq(learn_key(first), WIRE_MSG_KEY_RESPONSE);

	cr_assert_eq(harness_run(words, NULL, NULL, &status, &out, &err), 0);
	cr_expect_eq(status, 0, "%s", err);
	cr_expect_not_null(strstr(out, "state:         established"), "%s", out);
	cr_expect_not_null(strstr(out, first), "%s", out);
	cr_expect_not_null(strstr(out, "next rekey:"), "%s", out);
	cr_expect_not_null(strstr(out, "last failure:  none"), "%s", out);
	free(out);
	free(err);
	cr_assert_eq(harness_run(json, NULL, NULL, &status, &out, &err), 0);
	cr_expect_eq(status, 0, "%s", err);
	cr_assert_eq(agent_status_parse(out, &parsed), 0, "not JSON: %s", out);
	cr_expect_str_eq(parsed.key_id, first);
	cr_expect_eq(parsed.expiry, st.expiry);
	cr_expect_str_eq(parsed.node_id, NODE);
	cr_expect_not_null(strstr(out, "\"mas\":\"127.0.0.1:"), "%s", out);
	free(out);
	free(err);

	/* A harmless change: the association is kept. */
	write_agent_conf(NULL, 2, 8, NULL);
	cr_assert_eq(kill(fx.agent_pid, SIGHUP), 0);
	wait_log_count("SIGHUP: reload done", 1);
	cr_assert_eq(read_status(&st), 0);
	cr_expect_str_eq(st.state, "established");
	cr_expect_str_eq(st.key_id, first, "a timing-only reload replaced the key");

	/* A broken config: logged with file, line and key; the old one keeps running. */
	write_agent_conf(NULL, 1, 4, "bogus_key = 1\n");
	cr_assert_eq(kill(fx.agent_pid, SIGHUP), 0);
	wait_log_count("keeping the running one", 1);
	cr_expect_eq(waitpid(fx.agent_pid, &status, WNOHANG), 0, "m2msad died on a bad reload");
	cr_assert_eq(read_status(&st), 0);
	cr_expect_str_eq(st.state, "established");
	cr_expect_str_eq(st.key_id, first);
	log = agent_log();
	where = harness_strdupf("%s:13:", fx.conf);
	cr_expect_not_null(strstr(log, "keeping the running one"), "%s", log);
	cr_expect_not_null(strstr(log, where), "no file:line in the reload error:\n%s", log);
	cr_expect_not_null(strstr(log, "bogus_key"), "%s", log);
	free(where);
	free(log);

	/* The TPM setting changed (same swtpm, other spelling): dropped and re-established. */
	{
		char *tcti = harness_strdupf("swtpm:port=%u,host=127.0.0.1", fx.tpm_port);

		write_agent_conf(tcti, 1, 4, NULL);
		free(tcti);
	}
	cr_assert_eq(kill(fx.agent_pid, SIGHUP), 0);
	cr_assert_eq(wait_state("established", first, 5000, &st), 0,
		     "no new association after the TPM setting changed (see %s)", fx.agent_log);
	cr_expect_str_eq(st.next_key_id, "", "the dropped key lingers as a successor");
	cr_expect_eq(learn_key(st.key_id), WIRE_MSG_KEY_RESPONSE);
	stop_agent_cleanly();
	assert_no_key_in_log();
	free(ctl);
}
