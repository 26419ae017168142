/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The wall clock jumps forward past the key's expiry under a running agent: the
 * real m2msad (Km in swtpm, key service socket) and m2masd, libm2msa subscribers
 * for the CSE and for an AE. The system clock (CLOCK_REALTIME) is set 2 hours
 * ahead; m2msad's CLOCK_REALTIME timerfd with TFD_TIMER_CANCEL_ON_SET must wake
 * it at once, it must drop the key that is now expired, tell its subscribers,
 * establish a new key and push it, all long before the 10-minute key's rekey
 * time would have come.
 *
 * Setting the clock needs CAP_SYS_TIME and affects the whole machine, so the
 * jumped window is kept short: the clock is put back (to the time before the
 * jump plus the CLOCK_MONOTONIC time elapsed since) as soon as the new key has
 * arrived. A guardian child process makes the jump and puts the clock back when
 * the test tells it to, when the test process dies (its pipe closes: a failed
 * assertion, a crash, a timeout kill), or after 60 s at most.
 * Test certificates are valid for 825 days from their creation, so they stay
 * valid across the jump.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <m2msa/m2msa.h>

#include "common/crypto.h"
#include "common/secret.h"
#include "fixture.h"
#include "harness.h"
#include "secrets.h"

#define NODE "/mn-cse-1"
#define AE "Cae1"
#define LIFETIME 600           /* s: the rekey would come after 450 s at the earliest */
#define JUMP 7200              /* s */
#define GUARD_MAX_MS 60000     /* the guardian restores the clock after this at the latest */

static struct mas_fixture mas;
static struct harness_swtpm *tpm;
static pid_t agent_pid, guard_pid;
static int guard_fd = -1;
static uint8_t km[32];
static char *sock_path, *agent_log, *agent_conf, *clients_dir;
/* Before the jump: the wall clock and CLOCK_MONOTONIC at the same instant. */
static struct timespec jump_wall, jump_mono;
static bool jumped;

static uint64_t ts_ms(const struct timespec *ts)
{
	return (uint64_t)ts->tv_sec * 1000 + (uint64_t)ts->tv_nsec / 1000000;
}

static uint64_t clock_now_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return ts_ms(&ts);
}

/* The wall time it would be now without the jump: before + monotonic time elapsed. */
static struct timespec unjumped_now(void)
{
	struct timespec mono, t;
	int64_t ns;

	clock_gettime(CLOCK_MONOTONIC, &mono);
	ns = ((int64_t)mono.tv_sec - jump_mono.tv_sec) * 1000000000 + (mono.tv_nsec - jump_mono.tv_nsec);
	ns += (int64_t)jump_wall.tv_sec * 1000000000 + jump_wall.tv_nsec;
	t.tv_sec = (time_t)(ns / 1000000000);
	t.tv_nsec = (long)(ns % 1000000000);
	return t;
}

/* In the guardian: put the wall clock back if it still runs ahead. */
static int guardian_restore(void)
{
	struct timespec t = unjumped_now();

	if (clock_now_ms(CLOCK_REALTIME) > ts_ms(&t) + (JUMP / 2) * 1000ULL &&
	    clock_settime(CLOCK_REALTIME, &t) < 0)
		return -errno;
	return 0;
}

/*
 * The guardian owns the jump: a child that notes the wall clock and
 * CLOCK_MONOTONIC, sets the clock JUMP s ahead, reports (0 or errno) on a pipe,
 * then puts the clock back when its command pipe closes or a byte arrives (the
 * test is done, or its process died, e.g. SIGKILLed on a timeout) or after
 * GUARD_MAX_MS of CLOCK_MONOTONIC time, whichever comes first. It ignores
 * SIGTERM/SIGINT/SIGHUP so that nothing but the pipe or the cap ends it.
 * Returns 0 with the clock ahead, or -errno from clock_settime.
 */
static int jump_ahead(void)
{
	int cmd[2], rep[2], e = EIO;

	cr_assert_eq(pipe2(cmd, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(rep, O_CLOEXEC), 0);
	guard_pid = fork();
	cr_assert_geq(guard_pid, 0);
	if (guard_pid == 0) {
		struct pollfd pfd = { .fd = cmd[0], .events = POLLIN };
		struct timespec ahead;
		int err = 0, r;

		close(cmd[1]);
		close(rep[0]);
		signal(SIGTERM, SIG_IGN);
		signal(SIGINT, SIG_IGN);
		signal(SIGHUP, SIG_IGN);
		clock_gettime(CLOCK_REALTIME, &jump_wall);
		clock_gettime(CLOCK_MONOTONIC, &jump_mono);
		ahead = jump_wall;
		ahead.tv_sec += JUMP;
		if (clock_settime(CLOCK_REALTIME, &ahead) < 0)
			err = errno;
		(void)!write(rep[1], &err, sizeof(err));
		close(rep[1]);
		if (err)
			_exit(1);
		/* poll()'s timeout runs on CLOCK_MONOTONIC: the jump does not shorten it. */
		(void)poll(&pfd, 1, GUARD_MAX_MS);
		for (int i = 0; i < 5 && (r = guardian_restore()) < 0; i++)
			usleep(100 * 1000);
		if (r < 0)
			dprintf(2, "test-clock: CANNOT PUT THE CLOCK BACK (%s): it runs %d s ahead; "
				   "set it by hand (date -s)\n",
				strerror(-r), JUMP);
		_exit(r < 0 ? 2 : 0);
	}
	close(cmd[0]);
	close(rep[1]);
	guard_fd = cmd[1];
	if (read(rep[0], &e, sizeof(e)) != (ssize_t)sizeof(e))
		e = EIO;
	close(rep[0]);
	jumped = e == 0;
	return -e;
}

/* Tell the guardian to put the clock back and wait until it has. Idempotent. */
static int restore_clock(void)
{
	int status = 0;

	if (guard_fd >= 0)
		close(guard_fd);
	guard_fd = -1;
	if (guard_pid > 0 && waitpid(guard_pid, &status, 0) == guard_pid && jumped &&
	    !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
		guard_pid = 0;
		jumped = false;
		return -EIO;
	}
	guard_pid = 0;
	jumped = false;
	return 0;
}

static void write_agent_conf(void)
{
	char *client = harness_strdupf("%s/app1.conf", clients_dir);
	static const char rule[] = "[client]\nuid = 65533\nae = " AE "\n";

	mas_fixture_write_agent_conf(&mas, agent_conf,
				     &(struct fixture_agent_conf){
					     .tcti = harness_swtpm_tcti(tpm),
					     .timeout_s = 5,
					     .backoff_min_s = 1,
					     .backoff_max_s = 2,
					     .sock = sock_path,
					     .clients_dir = clients_dir,
				     });
	cr_assert_eq(harness_write_file(client, rule, strlen(rule), 0644), 0);
	free(client);
}

static void start_agent(void)
{
	agent_pid = fixture_start_agent(agent_conf, agent_log, sock_path, 400);
}

static void setup(void)
{
	HARNESS_REQUIRE_SWTPM();
	mas_fixture_init(&mas);
	cr_assert_eq(harness_swtpm_start(NULL, &tpm), 0);
	mas_fixture_provision_node(&mas, harness_swtpm_tcti(tpm), NODE, km, LIFETIME);
	mas_fixture_start(&mas, NULL, NULL);
	sock_path = mas_fixture_path(&mas, "agent.sock");
	agent_log = mas_fixture_path(&mas, "m2msad.log");
	agent_conf = mas_fixture_path(&mas, "m2msad.conf");
	clients_dir = mas_fixture_path(&mas, "clients.d");
	cr_assert_eq(mkdir(clients_dir, 0755), 0);
	write_agent_conf();
	start_agent();
}

static void teardown(void)
{
	(void)restore_clock(); /* the guardian reports a failure itself */
	harness_kill_wait(&agent_pid, SIGTERM);
	mas_fixture_stop(&mas);
	secrets_note(km, sizeof(km), "Km (test)"); /* mas_fixture_fini() scans the logs */
	mas_fixture_fini(&mas);
	harness_swtpm_stop(tpm);
	tpm = NULL;
	free(sock_path);
	free(agent_log);
	free(agent_conf);
	free(clients_dir);
	sock_path = agent_log = agent_conf = clients_dir = NULL;
	secret_wipe(km, sizeof(km));
}

/* No Criterion .timeout: Criterion's timer runs on the wall clock, which this test
 * moves; meson's timeout (monotonic) is the backstop. */
TestSuite(clock, .init = setup, .fini = teardown);

static struct m2msa *open_handle(void)
{
	struct m2msa *h = NULL;
	int r = m2msa_open(sock_path, &h);

	cr_assert_eq(r, 0, "m2msa_open(%s): %s", sock_path, strerror(-r));
	return h;
}

/* The next event of h within deadline (CLOCK_MONOTONIC ms); asserts that one comes. */
static enum m2msa_event_type next_event(struct m2msa *h, uint64_t deadline, struct m2msa_key **ret,
					const char *who)
{
	enum m2msa_event_type t = 0;
	int r;

	for (;;) {
		struct pollfd p = { .fd = m2msa_fd(h), .events = POLLIN };

		r = m2msa_read_event(h, &t, ret);
		if (r == 0)
			return t;
		cr_assert_eq(r, -EAGAIN, "%s: m2msa_read_event: %s", who, strerror(-r));
		cr_assert_lt(clock_now_ms(CLOCK_MONOTONIC), deadline,
			     "%s: no event within 30 s of the clock jump (see %s)", who, agent_log);
		(void)poll(&p, 1, 100);
	}
}

static bool log_has(const char *needle)
{
	char *text = NULL;
	size_t len;
	bool found;

	cr_assert_eq(harness_read_file(agent_log, &text, &len), 0);
	found = strstr(text, needle) != NULL;
	free(text);
	return found;
}

Test(clock, jump_past_expiry_reestablishes_and_tells_subscribers)
{
	struct m2msa *h = open_handle(), *sub_cse = open_handle(), *sub_ae = open_handle();
	struct m2msa_key *k = NULL, *ev = NULL;
	char old_id[WIRE_KEY_ID_MAX + 1], old_ae_id[WIRE_KEY_ID_MAX + 1];
	uint8_t old_kc[32];
	uint64_t old_expiry, t_jump, deadline, t_new = 0, t_back;
	enum m2msa_event_type t;
	int r;

	/* The first key (10-minute lifetime); the subscriptions. */
	r = m2msa_get_key(h, NULL, &k);
	cr_assert_eq(r, 0, "first key: %s (%s)", strerror(-r), m2msa_last_error(h));
	snprintf(old_id, sizeof(old_id), "%s", m2msa_key_id(k));
	memcpy(old_kc, m2msa_key_data(k), 32);
	old_expiry = m2msa_key_expiry(k);
	m2msa_key_free(k);
	cr_assert_eq(m2msa_get_key(h, AE, &k), 0);
	snprintf(old_ae_id, sizeof(old_ae_id), "%s", m2msa_key_id(k));
	m2msa_key_free(k);
	cr_assert_eq(m2msa_subscribe(sub_cse, NULL), 0);
	cr_assert_eq(m2msa_subscribe(sub_ae, AE), 0);
	cr_assert_lt(old_expiry * 1000, clock_now_ms(CLOCK_REALTIME) + (JUMP - 60) * 1000ULL,
		     "the key expires after the jump target");

	/* Jump. */
	r = jump_ahead();
	cr_assert_eq(r, 0,
		     "clock_settime(CLOCK_REALTIME, +%d s) failed: %s. This test needs CAP_SYS_TIME: "
		     "run it as root on a machine (or VM) whose clock may be set, not in a "
		     "container without that capability",
		     JUMP, strerror(-r));
	t_jump = clock_now_ms(CLOCK_MONOTONIC);
	deadline = t_jump + 30000;

	/* Each subscriber: the old key's expiry, then a new key. */
	t = next_event(sub_cse, deadline, &ev, "CSE subscriber");
	cr_assert_eq(t, M2MSA_EVENT_EXPIRED, "CSE subscriber: event %d first, not EXPIRED", t);
	cr_expect_str_eq(m2msa_key_id(ev), old_id);
	cr_expect_eq(m2msa_key_len(ev), 0, "an expiry event carries key bytes");
	m2msa_key_free(ev);
	t = next_event(sub_cse, deadline, &ev, "CSE subscriber");
	cr_assert_eq(t, M2MSA_EVENT_NEW_KEY, "CSE subscriber: event %d, not NEW_KEY", t);
	t_new = clock_now_ms(CLOCK_MONOTONIC);
	cr_expect_str_neq(m2msa_key_id(ev), old_id);
	cr_expect(!secret_equal(m2msa_key_data(ev), old_kc, 32), "the new Kc equals the old one");
	cr_expect_gt(m2msa_key_expiry(ev) * 1000, clock_now_ms(CLOCK_REALTIME),
		     "the new key is already expired on the jumped clock");
	{
		struct m2msa_key *ae_ev = NULL;

		t = next_event(sub_ae, deadline, &ae_ev, "AE subscriber");
		cr_assert_eq(t, M2MSA_EVENT_EXPIRED, "AE subscriber: event %d first, not EXPIRED", t);
		cr_expect_str_eq(m2msa_key_id(ae_ev), old_ae_id);
		m2msa_key_free(ae_ev);
		t = next_event(sub_ae, deadline, &ae_ev, "AE subscriber");
		cr_assert_eq(t, M2MSA_EVENT_NEW_KEY, "AE subscriber: event %d, not NEW_KEY", t);
		cr_expect_str_eq(m2msa_key_ae_id(ae_ev), AE);
		cr_expect_str_neq(m2msa_key_id(ae_ev), old_ae_id);
		/* Retrieved below, once the clock is back. */
		k = ae_ev;
	}

	/* Back as soon as the new key is there: the jumped window ends here. */
	cr_assert_eq(restore_clock(), 0, "the guardian could not put the clock back");
	t_back = clock_now_ms(CLOCK_MONOTONIC);
	cr_log_info("clock jump +%d s: new key pushed after %llu ms; clock ahead for %llu ms", JUMP,
		    (unsigned long long)(t_new - t_jump), (unsigned long long)(t_back - t_jump));

	/* The agent said what happened. */
	cr_expect(log_has("the wall clock was set"), "m2msad did not log the clock change (%s)",
		  agent_log);
	cr_expect(log_has("expired without a successor"), "m2msad did not log the expiry (%s)",
		  agent_log);
	/* The new keys are the MAS's, and get-key serves them. */
	{
		struct wire_msg m;

		r = fixture_retrieve(&mas, "target", m2msa_key_id(ev), &m);
		cr_assert_eq(r, 0, "retrieving %s: %s", m2msa_key_id(ev), strerror(-r));
		cr_assert_eq(m.type, WIRE_MSG_KEY_RESPONSE, "the MAS refused the new key (%s)",
			     m.type == WIRE_MSG_ERROR ? m.error.reason : "?");
		cr_expect(secret_equal(m.key_response.key, m2msa_key_data(ev), 32),
			  "the pushed Kc differs from the MAS's");
		wire_msg_wipe(&m);
		r = fixture_retrieve(&mas, "target", m2msa_key_id(k), &m);
		cr_assert_eq(r, 0);
		cr_assert_eq(m.type, WIRE_MSG_KEY_RESPONSE);
		cr_expect(secret_equal(m.key_response.key, m2msa_key_data(k), 32),
			  "the pushed AE key differs from the MAS's");
		wire_msg_wipe(&m);
	}
	{
		struct m2msa_key *cur = NULL;

		cr_assert_eq(m2msa_get_key(h, NULL, &cur), 0);
		cr_expect_str_eq(m2msa_key_id(cur), m2msa_key_id(ev));
		m2msa_key_free(cur);
	}
	m2msa_key_free(k);
	m2msa_key_free(ev);
	m2msa_close(sub_ae);
	m2msa_close(sub_cse);
	m2msa_close(h);
}
