/* SPDX-License-Identifier: Apache-2.0 */
/*
 * m2msactl doctor against real parts: Km in a real swtpm, the real m2masd and the real
 * m2msad with its key service. A healthy gateway gives no FAIL line (the software TPM
 * is a warn) and exit 0; the TPM checks run through swtpm while no agent holds it; a
 * broken setup (a TPM device that is not there, a MAS nobody listens for, a MAS name
 * that does not match its certificate, a clients.d syntax error, an agent that does
 * not run, key blobs the agent user cannot read) gives FAIL lines with their fix and
 * exit 1. --json is checked with python3's json module: the check names in order, the
 * results, a fix with every fail and the counts.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/secret.h"
#include "fixture.h"
#include "harness.h"

#define NODE "/mn-cse-1"

static struct mas_fixture mas;
static struct harness_swtpm *tpm;
static pid_t agent_pid;
static uint8_t km[32];
static struct fixture_agent_files agent;

static void setup(void)
{
	HARNESS_REQUIRE_SWTPM();
	mas_fixture_init(&mas);
	cr_assert_eq(harness_swtpm_start(NULL, &tpm), 0);
	mas_fixture_provision_node(&mas, harness_swtpm_tcti(tpm), NODE, km, 0);
	mas_fixture_agent_files(&mas, &agent);
	fixture_write_client(&agent, "app1.conf", "[client]\nuid = 65533\nae = Cae1\n");
}

static void teardown(void)
{
	harness_kill_wait(&agent_pid, SIGKILL);
	mas_fixture_fini(&mas);
	harness_swtpm_stop(tpm);
	tpm = NULL;
	fixture_agent_files_free(&agent);
	secret_wipe(km, sizeof(km));
}

TestSuite(doctor, .init = setup, .fini = teardown, .timeout = 90);

static void write_agent_conf(const char *tcti)
{
	mas_fixture_write_agent_conf(&mas, agent.conf,
				     &(struct fixture_agent_conf){
					     .tcti = tcti ? tcti : harness_swtpm_tcti(tpm),
					     .timeout_s = 10,
					     .backoff_min_s = 1,
					     .backoff_max_s = 2,
					     .sock = agent.sock,
					     .clients_dir = agent.clients_dir,
				     });
}

/* m2msactl doctor --config agent.conf [--json] --agent-user user: its exit status and stdout. */
static int doctor(bool json, const char *user, char **ret_out)
{
	char *ctl = harness_strdupf("%s/m2msactl/m2msactl", fixture_builddir());
	const char *argv[] = { ctl, "doctor", "--config", agent.conf, "--agent-user", user,
			       json ? "--json" : NULL, NULL };
	char *err = NULL;
	int status = -1;

	cr_assert_eq(harness_run(argv, NULL, NULL, &status, ret_out, &err), 0);
	cr_log_info("m2msactl doctor%s (status %d):\n%s%s", json ? " --json" : "", status, *ret_out,
		    err);
	free(err);
	free(ctl);
	return status;
}

/* The line of check name in doctor's text output (asserted present), up to its fix line. */
static char *check_line(const char *out, const char *name)
{
	const char *p = out;
	size_t n = strlen(name);

	for (; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		const char *q = p + 6; /* "ok    ", "warn  ", "FAIL  " */

		if (strlen(p) > 6 && strncmp(q, name, n) == 0 && q[n] == ' ') {
			const char *end = strchr(p, '\n');

			if (end && strncmp(end + 1, "      fix: ", 11) == 0)
				end = strchr(end + 1, '\n');
			return strndup(p, end ? (size_t)(end - p) : strlen(p));
		}
	}
	cr_assert_fail("doctor printed no line for the check %s:\n%s", name, out);
	return NULL;
}

/* Assert check name's result word and that its line (with the fix) contains text. */
static void expect(const char *out, const char *name, const char *word, const char *text)
{
	char *line = check_line(out, name);

	cr_assert_eq(strncmp(line, word, strlen(word)), 0, "check %s: expected %s, got: %s", name,
		     word, line);
	cr_assert(!text || strstr(line, text), "check %s: '%s' not in: %s", name, text, line);
	cr_assert_eq(strstr(line, "      fix: ") != NULL, strcmp(word, "ok") != 0,
		     "check %s: a fix line goes with warn and FAIL only: %s", name, line);
	free(line);
}

/* python3 checks --json's output: the names in order, results as given ("-": any). */
static void expect_json(const char *json, const char *results)
{
	const char *script =
		"import json, sys\n"
		"d = json.loads(sys.stdin.read())\n"
		"names = ['config', 'tpm-device', 'resource-manager', 'storage-key', "
		"'provisioned-key', 'policy', 'clock', 'mas', 'agent', 'socket', 'clients']\n"
		"assert [c['name'] for c in d['checks']] == names, d['checks']\n"
		"want = sys.argv[1].split(',')\n"
		"for c, w in zip(d['checks'], want):\n"
		"    assert set(c) == {'name', 'result', 'detail', 'fix'}, c\n"
		"    assert w == '-' or c['result'] == w, (c, w)\n"
		"    assert (c['fix'] is None) == (c['result'] == 'ok'), c\n"
		"    assert c['detail'], c\n"
		"for r in ('ok', 'warn', 'fail'):\n"
		"    assert d[r] == sum(c['result'] == r for c in d['checks']), (r, d)\n";
	const char *argv[] = { "python3", "-c", script, results, NULL };
	char *out = NULL, *err = NULL;
	int status = -1;

	if (!harness_have_program("python3"))
		cr_skip_test("python3 is not installed (apt install python3)");
	cr_assert_eq(harness_run(argv, NULL, json, &status, &out, &err), 0);
	cr_assert_eq(status, 0, "doctor --json: %s%s\n%s", out, err, json);
	free(out);
	free(err);
}

static bool status_established(void)
{
	char *p = mas_fixture_path(&mas, "status.json"), *text = NULL;
	size_t len;
	bool est = harness_read_file(p, &text, &len) == 0 && strstr(text, "\"established\"");

	free(text);
	free(p);
	return est;
}

Test(doctor, healthy_gateway_no_fail)
{
	bool have_group = getgrnam("m2msa") != NULL;
	char *out = NULL;

	mas_fixture_start(&mas, NULL, NULL);
	write_agent_conf(NULL);
	agent_pid = fixture_start_agent(agent.conf, agent.log, agent.sock, 200);
	for (int i = 0; i < 400 && !status_established(); i++)
		usleep(50 * 1000);
	cr_assert(status_established(), "m2msad did not establish within 20 s");

	cr_assert_eq(doctor(false, "root", &out), 0, "doctor failed on a healthy gateway:\n%s", out);
	expect(out, "config", "ok", "valid");
	expect(out, "tpm-device", "warn", "is a software TPM");
	expect(out, "resource-manager", "ok", NULL);
	/* The agent holds swtpm's only connection: doctor says so instead of hanging. */
	expect(out, "storage-key", "ok", "holds the software TPM's only connection");
	expect(out, "clock", "ok", "within the MAS CA's validity");
	expect(out, "mas", "ok", "reached over TLS 1.3; its certificate names mas.test");
	expect(out, "agent", "ok", "is established: key ID ");
	/* Without a group m2msa on this machine the socket stays root's: a warn. */
	expect(out, "socket", have_group ? "ok" : "warn", have_group ? "mode 0660" : "no group m2msa");
	expect(out, "clients", "ok", "1 client file in");
	cr_assert(strstr(out, " 0 FAIL\n"), "%s", out);
	free(out);

	cr_assert_eq(doctor(true, "root", &out), 0);
	expect_json(out, have_group ? "ok,warn,ok,ok,ok,ok,ok,ok,ok,ok,ok"
				    : "ok,warn,ok,ok,ok,ok,ok,ok,ok,warn,ok");
	free(out);
}

Test(doctor, tpm_checks_through_swtpm_without_agent)
{
	char *out = NULL;

	mas_fixture_start(&mas, NULL, NULL);
	write_agent_conf(NULL);
	cr_assert_eq(doctor(false, "root", &out), 1, "doctor passed with no agent running");
	expect(out, "storage-key", "ok", "SRK");
	expect(out, "provisioned-key", "ok", "Km of node " NODE ", KmID km-1@mas.test");
	expect(out, "policy", "ok", "no PCR policy");
	expect(out, "mas", "ok", NULL);
	expect(out, "agent", "FAIL", "fix: systemctl start m2msad");
	expect(out, "socket", "FAIL", "fix: start m2msad: it creates the socket");
	free(out);

	/* Blobs written by root, mode 0600: the agent user (nobody here) cannot read them. */
	cr_assert_eq(doctor(false, "nobody", &out), 1);
	expect(out, "provisioned-key", "FAIL", "the agent user nobody cannot read it");
	expect(out, "provisioned-key", "FAIL", "fix: chown -R nobody: ");
	free(out);

	/* A gba-only node keeps no Km in the TPM: nothing to fail there. */
	{
		char *dir = harness_strdupf("%s.d", agent.conf), *dropin = harness_strdupf("%s/gba.conf", dir);
		/* Method gba needs its [gba] BSF settings (m2msad.conf(5)). */
		const char *gba = "[node]\nmethods = gba\n[gba]\nbsf_url = https://bsf.test/\n"
				  "bsf_ca = /etc/m2msa/bsf-ca.crt\n";

		cr_assert_eq(mkdir(dir, 0755), 0);
		cr_assert_eq(harness_write_file(dropin, gba, strlen(gba), 0644), 0);
		doctor(false, "nobody", &out);
		expect(out, "provisioned-key", "ok", "method gba only");
		expect(out, "policy", "ok", "method gba");
		free(out);
		unlink(dropin);
		rmdir(dir);
		free(dropin);
		free(dir);
	}
}

Test(doctor, broken_setup_fails_with_the_fix)
{
	char *out = NULL, *dropin_dir, *dropin;
	const char *bad = "[client]\nuid = 65533\nfrobnicate = yes\n";
	const char *wrong_name = "[mas]\nserver_name = wrong.test\n";
	const char *typo = "[mas]\nserver_nam = mas.test\n";
	uint16_t port;

	/* Nobody listens on the MAS address; no TPM device at the TCTI's path. */
	cr_assert_eq(harness_free_port(1, &port), 0);
	mas.est_port = port;
	write_agent_conf("device:/nonexistent/tpmrm0");
	fixture_write_client(&agent, "bad.conf", bad);

	cr_assert_eq(doctor(false, "root", &out), 1);
	expect(out, "config", "ok", NULL);
	expect(out, "tpm-device", "FAIL", "fix: enable the TPM in the firmware setup");
	expect(out, "resource-manager", "FAIL", "/nonexistent/tpmrm0 does not exist");
	expect(out, "storage-key", "FAIL", "fix: see tpm-device above");
	expect(out, "mas", "FAIL", "cannot reach the MAS at 127.0.0.1:");
	expect(out, "mas", "FAIL", "fix: check [mas] address");
	expect(out, "agent", "FAIL", "not running");
	expect(out, "clients", "FAIL", "bad.conf:3: unknown key 'frobnicate'");
	expect(out, "clients", "FAIL", "fix: correct the line named above");
	free(out);
	cr_assert_eq(doctor(true, "root", &out), 1);
	expect_json(out, "ok,fail,fail,fail,warn,warn,ok,fail,fail,fail,fail");
	free(out);

	/* The MAS is up, but its certificate does not name the server_name asked for. */
	mas.est_port = 0;
	mas_fixture_start(&mas, NULL, NULL);
	write_agent_conf(NULL);
	dropin_dir = harness_strdupf("%s.d", agent.conf);
	dropin = harness_strdupf("%s/50-name.conf", dropin_dir);
	cr_assert_eq(mkdir(dropin_dir, 0755), 0);
	cr_assert_eq(harness_write_file(dropin, wrong_name, strlen(wrong_name), 0644), 0);
	doctor(false, "root", &out);
	expect(out, "mas", "FAIL", "TLS with the MAS at 127.0.0.1:");
	expect(out, "mas", "FAIL", "fix: the MAS certificate must chain to [mas] ca");
	free(out);

	/* A configuration error names the file, the line and the key. */
	cr_assert_eq(harness_write_file(dropin, typo, strlen(typo), 0644), 0);
	cr_assert_eq(doctor(false, "root", &out), 1);
	expect(out, "config", "FAIL", "50-name.conf:2: unknown key 'server_nam'");
	expect(out, "mas", "FAIL", "fix: fix config first");
	free(out);
	unlink(dropin);
	rmdir(dropin_dir);
	free(dropin);
	free(dropin_dir);
}
