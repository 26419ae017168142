/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The issue's "done when", with the real parts: a node provisioned through the
 * wrapped path with a signed PCR policy (Km in no file or output outside the MAS),
 * establishing with the real m2masd; after a simulated firmware update (PCR 4
 * extended) establishment fails with the PCR named, and works again with a newly
 * signed policy, without re-provisioning.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fixture.h"
#include "harness.h"
#include "secrets.h"

#define NODE "/mn-cse-1"
#define KM_ID "km-1@" FIXTURE_FQDN

static struct mas_fixture mas;
static struct harness_swtpm *tpm;

static void setup(void)
{
	HARNESS_REQUIRE_TPM2_TOOLS();
	mas_fixture_init(&mas);
	cr_assert_eq(harness_swtpm_start(NULL, &tpm), 0, "cannot start swtpm");
}

static void teardown(void)
{
	harness_swtpm_stop(tpm);
	tpm = NULL;
	mas_fixture_fini(&mas);
}

TestSuite(wrap_establish, .init = setup, .fini = teardown, .timeout = 240);

struct run {
	int status;
	char *out, *err;
};

static struct run run(const char *prog, ...)
{
	const char *argv[40] = { prog };
	char *tcti = harness_strdupf("TPM2TOOLS_TCTI=%s", harness_swtpm_tcti(tpm));
	const char *env[] = { tcti, "TSS2_LOG=all+NONE", NULL };
	struct run r = { 0 };
	size_t n = 1;
	va_list ap;

	va_start(ap, prog);
	for (const char *a = va_arg(ap, const char *); a; a = va_arg(ap, const char *)) {
		cr_assert_lt(n, 39);
		argv[n++] = a;
	}
	va_end(ap);
	cr_assert_eq(harness_run(argv, env, NULL, &r.status, &r.out, &r.err), 0);
	free(tcti);
	return r;
}

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
}

#define OK(...)                                                                          \
	do {                                                                             \
		struct run ok_ = run(__VA_ARGS__, NULL);                                 \
		cr_assert_eq(ok_.status, 0, "%s%s", ok_.out, ok_.err);                   \
		run_free(&ok_);                                                          \
	} while (0)

static char *bin(const char *rel)
{
	return harness_strdupf("%s/%s", fixture_builddir(), rel);
}

static void sign_and_install(const char *mas_ctl, const char *ctl, const char *key,
			     const char *epoch)
{
	char *values = mas_fixture_path(&mas, "pcrs.txt"), *pol = mas_fixture_path(&mas, "p.pol");
	char *state = mas_fixture_path(&mas, "node");
	struct run r = run("tpm2_pcrread", "sha256:0,2,4,7", NULL);

	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_eq(harness_write_file(values, r.out, strlen(r.out), 0644), 0);
	run_free(&r);
	OK(mas_ctl, "--config", mas.conf, "policy", "sign", "--pcrs", "sha256:0,2,4,7",
	   "--pcr-values", values, "--key", key, "--epoch", epoch, "--out", pol);
	OK(ctl, "policy-install", pol, "--state-dir", state);
	free(values);
	free(pol);
	free(state);
}

Test(wrap_establish, wrapped_km_with_signed_policy_survives_a_firmware_update)
{
	char *mas_ctl = bin("mas/m2masctl"), *ctl = bin("m2msactl/m2msactl");
	char *key = mas_fixture_path(&mas, "signer.key"), *pem = mas_fixture_path(&mas, "signer.pem");
	char *srk = mas_fixture_path(&mas, "srk.pub"), *dup = mas_fixture_path(&mas, "km.dup");
	char *state = mas_fixture_path(&mas, "node"), *conf = mas_fixture_path(&mas, "m2msad.conf");
	char *text;
	struct run add, est;

	if (!harness_have_program("openssl"))
		cr_skip_test("openssl is not installed");
	OK("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out",
	   key);
	OK("openssl", "pkey", "-in", key, "-pubout", "-out", pem);
	OK(ctl, "tpm-identity", "--tcti", harness_swtpm_tcti(tpm), "--out-dir", mas.dir);
	add = run(mas_ctl, "--config", mas.conf, "node", "add", NODE, "--km-id", KM_ID, "--target",
		  FIXTURE_TARGET, "--generate-km", "--wrap-to", srk, "--policy-signer", pem,
		  "--out", dup, NULL);
	cr_assert_eq(add.status, 0, "%s", add.err);
	cr_assert_str_eq(add.out, "", "m2masctl printed something on stdout");
	run_free(&add);
	OK(ctl, "provision", "--import", dup, "--tcti", harness_swtpm_tcti(tpm), "--state-dir",
	   state);
	sign_and_install(mas_ctl, ctl, key, "1");
	mas_fixture_start(&mas, NULL, NULL);
	text = harness_strdupf("[node]\nstate_dir = %s\ntcti = %s\n[mas]\naddress = 127.0.0.1:%u\n"
			       "ca = %s/pki/ca.crt\nserver_name = " FIXTURE_FQDN "\n",
			       state, harness_swtpm_tcti(tpm), mas.est_port, mas.dir);
	cr_assert_eq(harness_write_file(conf, text, strlen(text), 0644), 0);
	free(text);
	est = run(ctl, "establish", "--config", conf, NULL);
	cr_assert_eq(est.status, 0, "establish with the wrapped Km: %s%s", est.out, est.err);
	cr_assert(strstr(est.out, "@" FIXTURE_FQDN), "%s", est.out);
	run_free(&est);

	/* The firmware update. */
	OK("tpm2_pcrextend", "4:sha256=00000000000000000000000000000000000000000000000000000000000000a5");
	est = run(ctl, "establish", "--config", conf, NULL);
	cr_assert_neq(est.status, 0, "establishment worked with PCR 4 changed");
	/* establish passes on the TPM's reason: the PCR that differs and the fix. */
	cr_assert(strstr(est.err, "differs in PCR 4. After a firmware or boot change"), "%s",
		  est.err);
	run_free(&est);
	/* tpm-check says the same. */
	est = run(ctl, "tpm-check", "--tcti", harness_swtpm_tcti(tpm), "--state-dir", state, NULL);
	cr_assert_eq(est.status, 1);
	cr_assert(strstr(est.err, "differs in PCR 4. After a firmware or boot change"), "%s",
		  est.err);
	run_free(&est);

	/* A newly signed policy; no re-provisioning. */
	sign_and_install(mas_ctl, ctl, key, "2");
	est = run(ctl, "establish", "--config", conf, NULL);
	cr_assert_eq(est.status, 0, "establish after the new policy: %s%s", est.out, est.err);
	run_free(&est);
	/* Km (from the store) in no log or output file of the run. */
	secrets_assert_logs_clean(mas.dir, mas.db, mas.master);

	free(mas_ctl);
	free(ctl);
	free(key);
	free(pem);
	free(srk);
	free(dup);
	free(state);
	free(conf);
}
