/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Revocation and expiry of pairwise keys reach both agents (docs/protocol.md
 * §14.6): the real m2masd, two nodes with Km in two real swtpms, two real
 * m2msad with [agent] peer_check_interval = 5s. Cae1 on node A registers a key
 * towards /mn-cse-2/Cae2, Cae2 on node B resolves it, each with a subscriber on
 * its own agent; `m2masctl peer-key revoke` (or the key's expiry) must reach
 * both subscribers as an event, and the key must not resolve afresh. Root acts
 * as the AEs here (test-peer-agent covers the clients.d side).
 */
#include <criterion/criterion.h>
#include <errno.h>
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

#define NODE_A "/mn-cse-1"
#define NODE_B "/mn-cse-2"
#define TARGET "/mn-cse-2/Cae2"
#define CHECK_S 5
/* The longest a revoked key may stay cached: 1.25 x the interval + one exchange timeout. */
#define REVOKE_BOUND_S (CHECK_S * 5 / 4 + 5 + 2)

struct agent {
	const char *name, *node_id;
	struct harness_swtpm *tpm;
	uint8_t km[32];
	pid_t pid;
	char *sock, *log, *conf;
};

static struct mas_fixture mas;
static struct agent ag_a = { .name = "a", .node_id = NODE_A },
		    ag_b = { .name = "b", .node_id = NODE_B };

static void agent_start(struct agent *a, uint64_t lifetime)
{
	static const uint8_t psk = WIRE_METHOD_PSK;
	char *state = harness_strdupf("%s/node-%s", mas.dir, a->name), *text;

	cr_assert_eq(harness_swtpm_start(NULL, &a->tpm), 0);
	cr_assert_eq(crypto_random(a->km, 32), 0);
	fixture_provision_km(harness_swtpm_tcti(a->tpm), state, a->node_id, "km-1@" FIXTURE_FQDN,
			     a->km);
	mas_fixture_add_node(&mas, a->node_id, a->km, &psk, 1, lifetime);
	a->sock = harness_strdupf("%s/agent-%s.sock", mas.dir, a->name);
	a->log = harness_strdupf("%s/m2msad-%s.log", mas.dir, a->name);
	a->conf = harness_strdupf("%s/m2msad-%s.conf", mas.dir, a->name);
	text = harness_strdupf("[node]\nstate_dir = %s\ntcti = %s\n"
			       "[mas]\naddress = 127.0.0.1:%u\nca = %s/pki/ca.crt\n"
			       "server_name = " FIXTURE_FQDN "\ntimeout = 5s\n"
			       "[agent]\nstatus_file = %s/status-%s.json\nbackoff_min = 1s\n"
			       "backoff_max = 2s\nsocket = %s\nclients_dir = %s/none.d\n"
			       "peer_check_interval = %ds\n",
			       state, harness_swtpm_tcti(a->tpm), mas.est_port, mas.dir, mas.dir,
			       a->name, a->sock, mas.dir, CHECK_S);
	cr_assert_eq(harness_write_file(a->conf, text, strlen(text), 0644), 0);
	free(text);
	free(state);
	a->pid = fixture_start_agent(a->conf, a->log, a->sock, 200);
}

/* Node A's lifetime (0: the MAS default) is the lifetime of the keys it registers. */
static void start_all(uint64_t lifetime_a)
{
	signal(SIGPIPE, SIG_IGN);
	HARNESS_REQUIRE_SWTPM();
	mas_fixture_init(&mas);
	mas_fixture_start(&mas, NULL, NULL);
	agent_start(&ag_a, lifetime_a);
	agent_start(&ag_b, 0);
}

static void agent_stop(struct agent *a)
{
	harness_kill_wait(&a->pid, SIGKILL);
	harness_swtpm_stop(a->tpm);
	a->tpm = NULL;
	secret_wipe(a->km, 32);
	free(a->sock);
	free(a->log);
	free(a->conf);
	a->sock = a->log = a->conf = NULL;
}

static void teardown(void)
{
	agent_stop(&ag_a);
	agent_stop(&ag_b);
	mas_fixture_fini(&mas);
}

TestSuite(peer_revoke, .fini = teardown, .timeout = 120);

/* Register on A, resolve on B; subscribers for Cae1 on A and Cae2 on B. */
static char *pair(struct m2msa **sub_a, struct m2msa **sub_b, uint64_t *ret_expiry)
{
	struct m2msa *ha = NULL, *hb = NULL;
	struct m2msa_key *ko = NULL, *kt = NULL;
	char *kid;

	cr_assert_eq(m2msa_open(ag_a.sock, sub_a), 0);
	cr_assert_eq(m2msa_subscribe(*sub_a, "Cae1"), 0);
	cr_assert_eq(m2msa_open(ag_b.sock, sub_b), 0);
	cr_assert_eq(m2msa_subscribe(*sub_b, "Cae2"), 0);
	cr_assert_eq(m2msa_open(ag_a.sock, &ha), 0);
	cr_assert_eq(m2msa_open(ag_b.sock, &hb), 0);
	cr_assert_eq(m2msa_get_peer_key(ha, "Cae1", TARGET, &ko), 0, "%s", m2msa_last_error(ha));
	cr_assert_eq(m2msa_resolve_key(hb, "Cae2", m2msa_key_id(ko), &kt), 0, "%s",
		     m2msa_last_error(hb));
	kid = strdup(m2msa_key_id(ko));
	*ret_expiry = m2msa_key_expiry(ko);
	m2msa_key_free(ko);
	m2msa_key_free(kt);
	m2msa_close(ha);
	m2msa_close(hb);
	return kid;
}

/* Wait up to secs for an event of type want about key_id on sub; its arrival time, or -1. */
static double wait_event(struct m2msa *sub, enum m2msa_event_type want, const char *key_id,
			 double secs)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd p = { .fd = m2msa_fd(sub), .events = POLLIN };
		enum m2msa_event_type type;
		struct m2msa_key *k = NULL;
		double el;

		(void)poll(&p, 1, 200);
		while (m2msa_read_event(sub, &type, &k) == 0) {
			bool hit = type == want && k && strcmp(m2msa_key_id(k), key_id) == 0;

			m2msa_key_free(k);
			k = NULL;
			clock_gettime(CLOCK_MONOTONIC, &t);
			if (hit)
				return (double)(t.tv_sec - t0.tv_sec) +
				       (double)(t.tv_nsec - t0.tv_nsec) / 1e9;
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
		el = (double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9;
		if (el > secs)
			return -1;
	}
}

Test(peer_revoke, revocation_reaches_both_agents_and_the_key_no_longer_resolves)
{
	struct m2msa *sub_a = NULL, *sub_b = NULL, *hb = NULL;
	struct m2msa_key *k = NULL;
	uint64_t expiry;
	char *kid, *cmd, want[512];
	double ta, tb;
	int st;

	start_all(0);
	kid = pair(&sub_a, &sub_b, &expiry);
	cmd = harness_strdupf("%s/mas/m2masctl --store %s --master-key %s peer-key revoke %s "
			      ">%s/revoke.out 2>&1",
			      fixture_builddir(), mas.db, mas.master, kid, mas.dir);
	st = system(cmd);
	free(cmd);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "m2masctl peer-key revoke failed");
	/* Node B's agent: the resolution is refused at once (nothing cached after the drop). */
	ta = wait_event(sub_a, M2MSA_EVENT_REVOKED, kid, REVOKE_BOUND_S);
	tb = wait_event(sub_b, M2MSA_EVENT_REVOKED, kid, REVOKE_BOUND_S);
	cr_expect_geq(ta, 0, "no revoked event on node A's subscriber within %d s", REVOKE_BOUND_S);
	cr_expect_geq(tb, 0, "no revoked event on node B's subscriber within %d s", REVOKE_BOUND_S);
	snprintf(want, sizeof(want), "pairwise key %s (Cae1 on " NODE_A " towards " TARGET
		 ") revoked: dropped from the cache", kid);
	cr_expect_eq(fixture_count_in(ag_a.log, want), 1, "agent A's log lacks '%s'", want);
	cr_expect_eq(fixture_count_in(ag_b.log, want), 1, "agent B's log lacks '%s'", want);

	cr_assert_eq(m2msa_open(ag_b.sock, &hb), 0);
	cr_expect_eq(m2msa_resolve_key(hb, "Cae2", kid, &k), -EKEYREVOKED);
	snprintf(want, sizeof(want), "MAS refused: revoked: key %s is revoked", kid);
	cr_expect_str_eq(m2msa_last_error(hb), want);
	m2msa_close(hb);
	m2msa_close(sub_a);
	m2msa_close(sub_b);
	free(kid);
}

Test(peer_revoke, expiry_reaches_both_agents)
{
	struct m2msa *sub_a = NULL, *sub_b = NULL;
	uint64_t expiry;
	double ta, tb, left;
	char *kid, want[512];

	start_all(12); /* node A's keys, pairwise ones too, live 12 s */
	kid = pair(&sub_a, &sub_b, &expiry);
	left = (double)expiry - (double)time(NULL);
	cr_assert_leq(left, 12.0);
	ta = wait_event(sub_a, M2MSA_EVENT_EXPIRED, kid, left + 3);
	tb = wait_event(sub_b, M2MSA_EVENT_EXPIRED, kid, 3);
	cr_expect_geq(ta, 0, "no expired event on node A's subscriber");
	cr_expect_geq(tb, 0, "no expired event on node B's subscriber");
	cr_expect_geq(ta, left - 2.0, "expired %.1f s early", left - ta);
	snprintf(want, sizeof(want), "pairwise key %s (Cae1 on " NODE_A " towards " TARGET
		 ") expired: dropped from the cache", kid);
	cr_expect_eq(fixture_count_in(ag_a.log, want), 1, "agent A's log lacks '%s'", want);
	cr_expect_eq(fixture_count_in(ag_b.log, want), 1, "agent B's log lacks '%s'", want);
	/* Before the expiry both agents checked the key (every 3.75..6.25 s) and kept it. */
	cr_expect_geq(fixture_count_in(mas.log, ") checked by node " NODE_A), 1, "no check by node A");
	cr_expect_geq(fixture_count_in(mas.log, ") checked by node " NODE_B), 1, "no check by node B");
	cr_expect_eq(fixture_count_in(ag_a.log, "cannot check pairwise key"), 0);
	cr_expect_eq(fixture_count_in(ag_b.log, "cannot check pairwise key"), 0);
	cr_expect_eq(fixture_count_in(ag_a.log, "refused by the MAS"), 0);
	m2msa_close(sub_a);
	m2msa_close(sub_b);
	free(kid);
}
