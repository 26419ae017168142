/* SPDX-License-Identifier: Apache-2.0 */
/*
 * End-to-end keys between AEs through two agents (docs/protocol.md §14): the
 * real m2masd, two nodes with Km in two real swtpms, two real m2msad, AEs as
 * forked children that drop to unprivileged uids and use libm2msa on the real
 * sockets. AE Cae1 on node A gets a pairwise key towards /mn-cse-2/Cae2, AE Cae2
 * on node B resolves its key ID: the keys are equal; every refusal has its
 * exact errno; no key bytes in any log.
 *
 * Like test-keyservice: the test dir is 0711, the sockets keep their group
 * (root's or m2msa's) and the children keep it as a supplementary group.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <m2msa/m2msa.h>

#include "common/crypto.h"
#include "common/hex.h"
#include "mas/store.h"
#include "common/secret.h"
#include "fixture.h"
#include "harness.h"

#define NODE_A "/mn-cse-1"
#define NODE_B "/mn-cse-2"
#define TARGET "/mn-cse-2/Cae2"
#define UID_AE1 65533 /* node A: ae = Cae1; node B: ae = Cae9 */
#define UID_AE2 65532 /* node B: ae = Cae2 */
#define UID_NOBODY 65534

struct agent {
	const char *name; /* "a", "b" */
	const char *node_id;
	struct harness_swtpm *tpm;
	uint8_t km[32];
	pid_t pid;
	char *sock, *log, *conf, *clients;
};

static struct mas_fixture mas;
static struct agent ag_a = { .name = "a", .node_id = NODE_A },
		    ag_b = { .name = "b", .node_id = NODE_B };

static void agent_setup(struct agent *a, const char *clients_text)
{
	static const uint8_t psk = WIRE_METHOD_PSK;
	char *state = harness_strdupf("%s/node-%s", mas.dir, a->name), *text, *p;

	cr_assert_eq(harness_swtpm_start(NULL, &a->tpm), 0);
	cr_assert_eq(crypto_random(a->km, 32), 0);
	fixture_provision_km(harness_swtpm_tcti(a->tpm), state, a->node_id, "km-1@" FIXTURE_FQDN,
			     a->km);
	mas_fixture_add_node(&mas, a->node_id, a->km, &psk, 1, 0);
	a->sock = harness_strdupf("%s/agent-%s.sock", mas.dir, a->name);
	a->log = harness_strdupf("%s/m2msad-%s.log", mas.dir, a->name);
	a->conf = harness_strdupf("%s/m2msad-%s.conf", mas.dir, a->name);
	a->clients = harness_strdupf("%s/clients-%s.d", mas.dir, a->name);
	cr_assert_eq(mkdir(a->clients, 0755), 0);
	p = harness_strdupf("%s/aes.conf", a->clients);
	cr_assert_eq(harness_write_file(p, clients_text, strlen(clients_text), 0644), 0);
	free(p);
	text = harness_strdupf("[node]\nstate_dir = %s\ntcti = %s\n"
			       "[mas]\naddress = 127.0.0.1:%u\nca = %s/pki/ca.crt\n"
			       "server_name = " FIXTURE_FQDN "\ntimeout = 5s\n"
			       "[agent]\nstatus_file = %s/status-%s.json\nbackoff_min = 1s\n"
			       "backoff_max = 2s\nsocket = %s\nclients_dir = %s\n",
			       state, harness_swtpm_tcti(a->tpm), mas.est_port, mas.dir, mas.dir,
			       a->name, a->sock, a->clients);
	cr_assert_eq(harness_write_file(a->conf, text, strlen(text), 0644), 0);
	free(text);
	free(state);
	a->pid = fixture_start_agent(a->conf, a->log, a->sock, 200);
}

static void setup(void)
{
	signal(SIGPIPE, SIG_IGN);
	HARNESS_REQUIRE_SWTPM();
	mas_fixture_init(&mas);
	cr_assert_eq(chmod(mas.dir, 0711), 0);
	mas_fixture_start(&mas, NULL, NULL);
	agent_setup(&ag_a, "[client]\nuid = 65533\nae = Cae1\n");
	agent_setup(&ag_b, "[client]\nuid = 65532\nae = Cae2\n");
	/* A second file: uid 65533 may act as Cae9 on node B (not as Cae2). */
	{
		char *p = harness_strdupf("%s/other.conf", ag_b.clients);
		const char *t = "[client]\nuid = 65533\nae = Cae9\n";

		cr_assert_eq(harness_write_file(p, t, strlen(t), 0644), 0);
		free(p);
		kill(ag_b.pid, SIGHUP);
		usleep(200 * 1000);
	}
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
	free(a->clients);
	a->sock = a->log = a->conf = a->clients = NULL;
}

static void teardown(void)
{
	agent_stop(&ag_a);
	agent_stop(&ag_b);
	mas_fixture_fini(&mas);
}

TestSuite(peer_agent, .init = setup, .fini = teardown, .timeout = 120);

/* What a child saw. */
struct result {
	int r;
	char key_id[256];
	char ae_id[129], target[256], node_id[129];
	uint8_t key[32];
	char reason[256];
};

static gid_t sock_gid(const char *sock)
{
	struct stat st;

	cr_assert_eq(stat(sock, &st), 0);
	return st.st_gid;
}

struct as_uid_args {
	uid_t uid;
	gid_t sock_gid;
	const struct agent *a;
	bool resolve;
	const char *ae, *arg;
};

static void as_uid_child(const void *arg, void *out)
{
	const struct as_uid_args *x = arg;
	struct result *c = out;
	gid_t groups[2] = { 0, x->sock_gid };
	struct m2msa *h = NULL;
	struct m2msa_key *k = NULL;

	if (x->uid && (setgroups(2, groups) < 0 || setresgid(65534, 65534, 65534) < 0 ||
		       setresuid(x->uid, x->uid, x->uid) < 0))
		c->r = -errno;
	else if ((c->r = m2msa_open(x->a->sock, &h)) == 0) {
		c->r = x->resolve ? m2msa_resolve_key(h, x->ae, x->arg, &k)
				  : m2msa_get_peer_key(h, x->ae, x->arg, &k);
		snprintf(c->reason, sizeof(c->reason), "%s", m2msa_last_error(h));
		if (c->r == 0) {
			snprintf(c->key_id, sizeof(c->key_id), "%s", m2msa_key_id(k));
			snprintf(c->ae_id, sizeof(c->ae_id), "%s", m2msa_key_ae_id(k));
			snprintf(c->target, sizeof(c->target), "%s", m2msa_key_target(k));
			snprintf(c->node_id, sizeof(c->node_id), "%s", m2msa_key_node_id(k));
			memcpy(c->key, m2msa_key_data(k), 32);
			m2msa_key_free(k);
		}
		m2msa_close(h);
	}
}

/* In a child as uid (0: stay root): get-peer-key (resolve false) or resolve-key. */
static struct result as_uid(uid_t uid, const struct agent *a, bool resolve, const char *ae,
			    const char *arg)
{
	struct as_uid_args x = { .uid = uid, .sock_gid = sock_gid(a->sock), .a = a,
				 .resolve = resolve, .ae = ae, .arg = arg };
	struct result res = { .r = -EIO };

	fixture_in_child(as_uid_child, &x, &res, sizeof(res));
	return res;
}

Test(peer_agent, originator_and_target_get_the_same_key_and_no_key_in_any_log)
{
	struct result o = as_uid(UID_AE1, &ag_a, false, "Cae1", TARGET), t, t2, o2, other;
	char *log;

	cr_assert_eq(o.r, 0, "get-peer-key: %s (%s)", strerror(-o.r), o.reason);
	cr_expect_str_eq(o.ae_id, "Cae1");
	cr_expect_str_eq(o.target, TARGET);
	cr_expect_str_eq(o.node_id, NODE_A);
	t = as_uid(UID_AE2, &ag_b, true, "Cae2", o.key_id);
	cr_assert_eq(t.r, 0, "resolve-key: %s (%s)", strerror(-t.r), t.reason);
	cr_expect_arr_eq(o.key, t.key, 32, "the pairwise key differs between the agents");
	cr_expect_str_eq(t.ae_id, "Cae1");
	cr_expect_str_eq(t.node_id, NODE_A);
	cr_expect_str_eq(t.target, TARGET);

	/* Warm caches: the same pair gets the same key, a second resolution skips the MAS. */
	o2 = as_uid(UID_AE1, &ag_a, false, "Cae1", TARGET);
	cr_assert_eq(o2.r, 0);
	cr_expect_str_eq(o2.key_id, o.key_id);
	t2 = as_uid(UID_AE2, &ag_b, true, "Cae2", o.key_id);
	cr_assert_eq(t2.r, 0);
	cr_expect_arr_eq(t2.key, o.key, 32);
	cr_expect_eq(fixture_count_in(mas.log, "resolved by node " NODE_B), 1);
	cr_expect_eq(fixture_count_in(mas.log, "registered pairwise key"), 1);
	/* Another target: another key. */
	other = as_uid(UID_AE1, &ag_a, false, "Cae1", "/mn-cse-2/Cae3");
	cr_assert_eq(other.r, 0);
	cr_expect(memcmp(other.key, o.key, 32) != 0);

	log = fixture_read_text(ag_a.log);
	fixture_assert_key_absent(log, strlen(log), o.key, "agent A's log");
	free(log);
	log = fixture_read_text(ag_b.log);
	fixture_assert_key_absent(log, strlen(log), o.key, "agent B's log");
	free(log);
	log = fixture_read_text(mas.log);
	fixture_assert_key_absent(log, strlen(log), o.key, "the MAS log");
	free(log);
	secret_wipe(&o, sizeof(o));
	secret_wipe(&t, sizeof(t));
}

Test(peer_agent, refusals_have_their_exact_errors)
{
	struct result o = as_uid(UID_AE1, &ag_a, false, "Cae1", TARGET), r;

	cr_assert_eq(o.r, 0, "%s", o.reason);
	/* An AE asking to be an originator it is not (clients.d). */
	r = as_uid(UID_AE1, &ag_a, false, "Cae2", TARGET);
	cr_expect_eq(r.r, -EACCES, "%d", r.r);
	cr_expect_str_eq(r.reason, "uid 65533 may not act as Cae2 (see clients.d)");
	r = as_uid(UID_NOBODY, &ag_a, false, "Cae1", TARGET);
	cr_expect_eq(r.r, -EACCES, "%d", r.r);
	/* A key registered for Cae2 resolved by a client acting as Cae9 on the right node. */
	r = as_uid(UID_AE1, &ag_b, true, "Cae9", o.key_id);
	cr_expect_eq(r.r, -EACCES, "%d", r.r);
	cr_expect_not_null(strstr(r.reason, "is for " TARGET ", not for AE Cae9"), "%s", r.reason);
	/* A key ID registered for another node: the MAS refuses node A. */
	r = as_uid(0, &ag_a, true, "Cae2", o.key_id);
	cr_expect_eq(r.r, -EACCES, "%d", r.r);
	cr_expect_not_null(strstr(r.reason, "not-authorised: key"), "%s", r.reason);
	cr_expect_not_null(strstr(r.reason, "not for node " NODE_A), "%s", r.reason);
	/* Unknown key ID. */
	r = as_uid(UID_AE2, &ag_b, true, "Cae2", "00112233445566778899aabbccddeeff@" FIXTURE_FQDN);
	cr_expect_eq(r.r, -ENOKEY, "%d", r.r);
	cr_expect_not_null(strstr(r.reason, "unknown-key: no pairwise key"), "%s", r.reason);
	/* A target on a node the MAS does not know. */
	r = as_uid(UID_AE1, &ag_a, false, "Cae1", "/mn-cse-9/Cae2");
	cr_expect_eq(r.r, -ENOKEY, "%d", r.r);
	cr_expect_not_null(strstr(r.reason, "unknown-node: no node /mn-cse-9"), "%s", r.reason);
	/* A malformed target never leaves the library. */
	r = as_uid(UID_AE1, &ag_a, false, "Cae1", "mn-cse-2/Cae2");
	cr_expect_eq(r.r, -EINVAL, "%d", r.r);
	secret_wipe(&o, sizeof(o));
}

/* clients.d targets=: uid 65531 may act as Cae1 on node A, towards /mn-cse-2/Cae2 only. */
Test(peer_agent, targets_in_clients_d_restrict_pairwise_keys)
{
	char *p = harness_strdupf("%s/targets.conf", ag_a.clients), *log;
	const char *t = "[client]\nuid = 65531\nae = Cae1\ntargets = " TARGET "\n";
	struct result r;

	cr_assert_eq(harness_write_file(p, t, strlen(t), 0644), 0);
	free(p);
	kill(ag_a.pid, SIGHUP);
	for (int i = 0; i < 100 && fixture_count_in(ag_a.log, "SIGHUP: reload done") == 0; i++)
		usleep(50 * 1000);
	r = as_uid(65531, &ag_a, false, "Cae1", TARGET);
	cr_expect_eq(r.r, 0, "%s", r.reason);
	r = as_uid(65531, &ag_a, false, "Cae1", "/mn-cse-2/Cae3");
	cr_expect_eq(r.r, -EACCES, "%d", r.r);
	cr_expect_str_eq(r.reason, "uid 65531 may not request pairwise keys towards "
				   "/mn-cse-2/Cae3 (see targets= in clients.d)");
	log = fixture_read_text(ag_a.log);
	cr_expect_not_null(strstr(log, "denied get-peer-key for AE Cae1 towards /mn-cse-2/Cae3 to "
				       "pid "),
			   "agent A's log lacks the denial");
	cr_expect_not_null(strstr(log, " uid 65531 gid 65534: no targets= entry of its clients.d "
				       "file allows it"),
			   "agent A's log lacks uid/gid of the denial");
	free(log);
	/* uid 65533's file has no targets=: any target. */
	r = as_uid(UID_AE1, &ag_a, false, "Cae1", "/mn-cse-2/Cae3");
	cr_expect_eq(r.r, 0, "%s", r.reason);
}

/* In this process (root may act as any AE): the originator's and the receiver's key objects. */
static void root_keys(const char *target, struct m2msa_key **ret_o, struct m2msa_key **ret_t)
{
	struct m2msa *ha = NULL, *hb = NULL;
	char ae[64];
	int r;

	snprintf(ae, sizeof(ae), "%s", strrchr(target, '/') + 1);
	cr_assert_eq(m2msa_open(ag_a.sock, &ha), 0);
	cr_assert_eq(m2msa_open(ag_b.sock, &hb), 0);
	r = m2msa_get_peer_key(ha, "Cae1", target, ret_o);
	cr_assert_eq(r, 0, "%s", m2msa_last_error(ha));
	r = m2msa_resolve_key(hb, ae, m2msa_key_id(*ret_o), ret_t);
	cr_assert_eq(r, 0, "%s", m2msa_last_error(hb));
	m2msa_close(ha);
	m2msa_close(hb);
}

Test(peer_agent, sealed_request_and_response_replay_and_tampering)
{
	static const char req[] = "{\"op\":\"retrieve\",\"to\":\"/mn-cse-2/Cae2/temp\"}";
	static const char rsp[] = "{\"rsc\":2000,\"pc\":{\"temp\":21}}";
	struct m2msa_key *ko = NULL, *kt = NULL;
	struct m2msa_replay *rp = NULL;
	uint8_t token[M2MSA_TOKEN_LEN], ro[M2MSA_RAND_LEN], *msg = NULL;
	char *jreq = NULL, *jrsp = NULL, kid[256];
	size_t len = 0;

	root_keys(TARGET, &ko, &kt);
	cr_assert_eq(m2msa_replay_new(1024, &rp), 0);
	cr_assert_eq(m2msa_seal_request(ko, req, strlen(req), &jreq, token), 0);
	cr_assert_eq(m2msa_jwe_kid(jreq, kid, sizeof(kid)), 0);
	cr_expect_str_eq(kid, m2msa_key_id(ko));
	cr_expect_null(strstr(jreq, "retrieve"), "the request travels in clear");
	cr_assert_eq(m2msa_open_request(rp, kt, jreq, &msg, &len, ro), 0);
	cr_expect_eq(len, strlen(req));
	cr_expect_arr_eq(msg, req, len);
	m2msa_free_message(msg, len);
	/* The same request again: a replay within the key's lifetime. */
	msg = NULL;
	cr_expect_eq(m2msa_open_request(rp, kt, jreq, &msg, &len, ro), -EALREADY);
	cr_expect_null(msg);

	cr_assert_eq(m2msa_seal_response(kt, ro, rsp, strlen(rsp), &jrsp), 0);
	cr_assert_eq(m2msa_open_response(ko, token, jrsp, &msg, &len), 0);
	cr_expect_arr_eq(msg, rsp, strlen(rsp));
	m2msa_free_message(msg, len);
	/* The request reflected back as its own response. */
	cr_expect_eq(m2msa_open_response(ko, token, jreq, &msg, &len), -EALREADY);
	/* A response to another request. */
	token[0] ^= 1;
	cr_expect_eq(m2msa_open_response(ko, token, jrsp, &msg, &len), -EALREADY);
	token[0] ^= 1;

	/* Tampering: header, IV, ciphertext, tag (one character each). */
	for (int part = 0; part < 5; part++) {
		char *t = strdup(jreq), *p = t;

		if (part == 1) {
			free(t);
			continue;
		}
		for (int i = 0; i < part; i++)
			p = strchr(p, '.') + 1;
		p[1] = p[1] == 'A' ? 'B' : 'A';
		cr_expect_eq(m2msa_open_request(rp, kt, t, &msg, &len, ro), -EBADMSG, "part %d",
			     part);
		free(t);
	}
	free(jreq);
	free(jrsp);
	m2msa_replay_free(rp);
	m2msa_key_free(ko);
	m2msa_key_free(kt);
}

Test(peer_agent, jwe_for_another_key_and_revoked_key)
{
	struct m2msa_key *ko = NULL, *kt = NULL, *ko2 = NULL, *kt2 = NULL, *k = NULL;
	struct m2msa_replay *rp = NULL;
	uint8_t token[M2MSA_TOKEN_LEN], ro[M2MSA_RAND_LEN], *msg = NULL, id[16];
	char *j = NULL;
	size_t len;
	struct m2msa *ha = NULL, *hb = NULL;
	struct store *s;

	root_keys(TARGET, &ko, &kt);
	root_keys("/mn-cse-2/Cae3", &ko2, &kt2);
	cr_assert_eq(m2msa_replay_new(16, &rp), 0);
	cr_assert_eq(m2msa_seal_request(ko2, "x", 1, &j, token), 0);
	cr_expect_eq(m2msa_open_request(rp, kt, j, &msg, &len, ro), -ENOKEY);
	free(j);

	/* A pairwise key revoked at the MAS before node B resolves it. */
	cr_assert_eq(m2msa_open(ag_a.sock, &ha), 0);
	cr_assert_eq(m2msa_open(ag_b.sock, &hb), 0);
	cr_assert_eq(m2msa_get_peer_key(ha, "Cae1", "/mn-cse-2/Cae4", &k), 0);
	cr_assert_eq(hex_decode(m2msa_key_id(k), 16, id), 0);
	s = mas_fixture_store(&mas);
	cr_assert_eq(store_peer_key_revoke(s, id), 0);
	store_close(s);
	m2msa_key_free(kt2);
	kt2 = NULL;
	cr_expect_eq(m2msa_resolve_key(hb, "Cae4", m2msa_key_id(k), &kt2), -EKEYREVOKED);
	cr_expect_not_null(strstr(m2msa_last_error(hb), "revoked: key"), "%s", m2msa_last_error(hb));
	m2msa_key_free(k);
	m2msa_close(ha);
	m2msa_close(hb);
	m2msa_replay_free(rp);
	m2msa_key_free(ko);
	m2msa_key_free(kt);
	m2msa_key_free(ko2);
}

/* Run m2msactl with args; its stdout into out. Returns the exit status. */
static int ctl(char *out, size_t out_len, const char *args)
{
	char *cmd = harness_strdupf("%s/m2msactl/m2msactl %s 2>&1", fixture_builddir(), args);
	FILE *p = popen(cmd, "r");
	size_t n;
	int st;

	cr_assert_not_null(p);
	n = fread(out, 1, out_len - 1, p);
	out[n] = '\0';
	st = pclose(p);
	free(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

Test(peer_agent, m2msactl_peer_key_and_resolve_key)
{
	char a[1024], b[1024], *args, kid[64], key_a[65], key_b[65];
	const char *at;

	args = harness_strdupf("peer-key --socket %s --ae Cae1 --json --show-key " TARGET, ag_a.sock);
	cr_assert_eq(ctl(a, sizeof(a), args), 0, "%s", a);
	free(args);
	at = strstr(a, "\"key_id\":\"");
	cr_assert_not_null(at, "%s", a);
	cr_assert_eq(sscanf(at, "\"key_id\":\"%63[^\"]", kid), 1);
	cr_assert_not_null(strstr(a, "\"target\":\"" TARGET "\""), "%s", a);
	cr_assert_eq(sscanf(strstr(a, "\"key\":\""), "\"key\":\"%64[0-9a-f]", key_a), 1);
	args = harness_strdupf("resolve-key --socket %s --ae Cae2 --json --show-key %s", ag_b.sock,
			       kid);
	cr_assert_eq(ctl(b, sizeof(b), args), 0, "%s", b);
	free(args);
	cr_assert_not_null(strstr(b, "\"node_id\":\"" NODE_A "\",\"ae_id\":\"Cae1\""), "%s", b);
	cr_assert_eq(sscanf(strstr(b, "\"key\":\""), "\"key\":\"%64[0-9a-f]", key_b), 1);
	cr_expect_str_eq(key_a, key_b);
	/* Without --show-key no key bytes; a refusal names the reason. */
	args = harness_strdupf("resolve-key --socket %s --ae Cae2 %s", ag_a.sock, kid);
	cr_expect_eq(ctl(b, sizeof(b), args), 1, "%s", b);
	cr_expect_not_null(strstr(b, "not-authorised"), "%s", b);
	free(args);
}

/* The example: two AEs exchange a sealed request and response through the stand-in. */
Test(peer_agent, example_aes_exchange_sealed_messages_through_the_standin)
{
	char *exe = harness_strdupf("%s/examples/m2msa-incse-standin", fixture_builddir());
	char *ae = harness_strdupf("%s/examples/m2msa-e2e-ae", fixture_builddir());
	char *mas_addr = harness_strdupf("127.0.0.1:%u", mas.ret_port);
	char *ca = mas_fixture_path(&mas, "pki/ca.crt"), *crt = mas_fixture_path(&mas, "pki/target.crt");
	char *key = mas_fixture_path(&mas, "pki/target.key"), *pf = mas_fixture_path(&mas, "standin.port");
	char *slog = mas_fixture_path(&mas, "standin.log"), *text, *connect, *cmd, out[2048];
	uint16_t port = 0;
	pid_t standin, recv_pid;
	FILE *p;
	size_t n;
	int st;

	standin = fork();
	cr_assert_geq(standin, 0);
	if (standin == 0) {
		if (!freopen(slog, "w", stderr))
			_exit(126);
		execl(exe, exe, "--listen", "127.0.0.1:0", "--mas", mas_addr, "--mas-ca", ca,
		      "--mas-name", FIXTURE_FQDN, "--cert", crt, "--key", key, "--port-file", pf,
		      "--log-level", "info", (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 200 && !port; i++) {
		FILE *f = fopen(pf, "r");

		if (f) {
			unsigned v = 0;

			if (fscanf(f, "%u", &v) == 1)
				port = (uint16_t)v;
			fclose(f);
		}
		if (!port)
			usleep(25000);
	}
	cr_assert_neq(port, 0, "the stand-in did not start");
	connect = harness_strdupf("127.0.0.1:%u", port);
	/* The receiver waits for the request in the background. */
	cmd = harness_strdupf("%s --connect %s --ae Cae2 --socket %s receiver 'temp=21' > %s/recv.out 2>&1",
			      ae, connect, ag_b.sock, mas.dir);
	recv_pid = fork();
	cr_assert_geq(recv_pid, 0);
	if (recv_pid == 0) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	free(cmd);
	cmd = harness_strdupf("%s --connect %s --ae Cae1 --socket %s originator " TARGET
			      " 'retrieve temp' 2>&1", ae, connect, ag_a.sock);
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	st = pclose(p);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "originator: %s", out);
	cr_expect_not_null(strstr(out, "response from /mn-cse-2/Cae2: temp=21"), "%s", out);
	cr_assert_eq(waitpid(recv_pid, &st, 0), recv_pid);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	text = harness_strdupf("%s/recv.out", mas.dir);
	free(cmd);
	cmd = fixture_read_text(text);
	cr_expect_not_null(strstr(cmd, "request from /mn-cse-1/Cae1 (originator /mn-cse-1/Cae1): "
				       "retrieve temp"), "%s", cmd);
	free(cmd);
	kill(standin, SIGTERM);
	waitpid(standin, NULL, 0);
	/* The stand-in forwarded both messages and never saw the plaintext. */
	cmd = fixture_read_text(slog);
	cr_expect_not_null(strstr(cmd, "forwarded a sealed message from /mn-cse-1/Cae1 to /mn-cse-2/Cae2"), "%s", cmd);
	cr_expect_not_null(strstr(cmd, "forwarded a sealed message from /mn-cse-2/Cae2 to /mn-cse-1/Cae1"), "%s", cmd);
	cr_expect_null(strstr(cmd, "retrieve temp"));
	cr_expect_null(strstr(cmd, "temp=21"));
	free(cmd);
	free(text);
	free(exe);
	free(ae);
	free(mas_addr);
	free(ca);
	free(crt);
	free(key);
	free(pf);
	free(slog);
	free(connect);
}
