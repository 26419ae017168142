/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The wrapped provisioning path with the built tools against a real swtpm:
 * m2msactl tpm-identity -> m2masctl node add --wrap-to -> m2msactl provision
 * --import -> tpm-check, with Km in no file or output outside the MAS store; a
 * blob tpm2_duplicate made imports too; bad input fails with its message and
 * leaves nothing behind.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/crypto.h"
#include "common/secret.h"
#include "harness.h"
#include "mas/keyfile.h"
#include "mas/store.h"
#include "secrets.h"
#include "tpm/keystore.h"

#define NODE_ID "/mn-cse-wrap"
#define KM_ID "km-wrap@mas.example.org"
#define MSG "firmware may change, Km stays"

struct run {
	int status;
	char *out;
	char *err;
};

static struct harness_swtpm *tpm;
static char *dir, *mas_bin, *ctl_bin, *store_path, *key_path, *state;
static char *signer_key, *signer_pem;

static void setup(void)
{
	const char *build = getenv("BUILDDIR");

	cr_assert_not_null(build, "BUILDDIR is not set (run through meson test)");
	HARNESS_REQUIRE_SWTPM();
	mas_bin = harness_strdupf("%s/mas/m2masctl", build);
	ctl_bin = harness_strdupf("%s/m2msactl/m2msactl", build);
	cr_assert_eq(harness_tmpdir(&dir), 0);
	store_path = harness_strdupf("%s/mas.db", dir);
	key_path = harness_strdupf("%s/master.key", dir);
	state = harness_strdupf("%s/state", dir);
	cr_assert_eq(harness_swtpm_start(NULL, &tpm), 0, "cannot start swtpm");
}

static void teardown(void)
{
	harness_swtpm_stop(tpm);
	tpm = NULL;
	secrets_assert_logs_clean(dir, store_path, key_path);
	if (dir)
		harness_rmtree(dir);
	free(dir);
	free(mas_bin);
	free(ctl_bin);
	free(store_path);
	free(key_path);
	free(state);
	free(signer_key);
	free(signer_pem);
	signer_key = signer_pem = NULL;
	dir = mas_bin = ctl_bin = store_path = key_path = state = NULL;
}

TestSuite(wrap_cli, .init = setup, .fini = teardown);

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
	memset(r, 0, sizeof(*r));
}

/* An extra environment entry for the next run() (e.g. CREDENTIALS_DIRECTORY=...). */
static char *extra_env;

/* Run argv (NULL-terminated, after prog) with TPM2TOOLS_TCTI set to the swtpm. */
static struct run runv(const char *prog, va_list ap)
{
	const char *argv[40] = { prog };
	char *tcti = harness_strdupf("TPM2TOOLS_TCTI=%s", harness_swtpm_tcti(tpm));
	const char *env[] = { tcti, "TSS2_LOG=all+NONE", extra_env, NULL };
	struct run r = { 0 };
	size_t n = 1;

	for (const char *a = va_arg(ap, const char *); a; a = va_arg(ap, const char *)) {
		cr_assert_lt(n, 39);
		argv[n++] = a;
	}
	cr_assert_eq(harness_run(argv, env, NULL, &r.status, &r.out, &r.err), 0);
	free(tcti);
	return r;
}

static struct run run(const char *prog, ...)
{
	va_list ap;
	struct run r;

	va_start(ap, prog);
	r = runv(prog, ap);
	va_end(ap);
	return r;
}

static void ok(const char *prog, ...)
{
	va_list ap;
	struct run r;

	va_start(ap, prog);
	r = runv(prog, ap);
	va_end(ap);
	cr_assert_eq(r.status, 0, "%s failed (%d): %s%s", prog, r.status, r.out, r.err);
	run_free(&r);
}

static char *path(const char *name)
{
	return harness_strdupf("%s/%s", dir, name);
}

static void mas_init(void)
{
	ok(mas_bin, "--store", store_path, "--master-key", key_path, "init", NULL);
}

static void identity(void)
{
	ok(ctl_bin, "tpm-identity", "--tcti", harness_swtpm_tcti(tpm), "--out-dir", dir, NULL);
}

static bool contains_hex(const char *s, const uint8_t *key)
{
	char hex[65];

	for (int i = 0; i < 32; i++)
		sprintf(hex + 2 * i, "%02x", key[i]);
	return strstr(s, hex) != NULL;
}

/* HMAC(msg) with the key in state equals HMAC(km, msg) in software. */
static void assert_state_key_is(const uint8_t km[static 32])
{
	struct tpm_ctx *t = NULL;
	struct tpm_key *k = NULL;
	uint8_t got[32], want[32];
	char err[512];

	cr_assert_eq(tpm_open(harness_swtpm_tcti(tpm), &t, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(tpm_key_load(t, state, &k), 0, "%s", tpm_last_error(t));
	cr_assert_eq(tpm_key_hmac(k, (const uint8_t *)MSG, strlen(MSG), got), 0);
	cr_assert_eq(crypto_hmac_sha256(km, 32, (const uint8_t *)MSG, strlen(MSG), want), 0);
	cr_assert_eq(memcmp(got, want, 32), 0, "the TPM's key is not the MAS's Km");
	tpm_key_free(k);
	tpm_close(t);
}

Test(wrap_cli, km_reaches_the_tpm_without_appearing_anywhere)
{
	_cleanup_free_ char *srk = path("srk.pub"), *dup = path("km.dup");
	_cleanup_secret_ struct secret *km = NULL, *mk = NULL;
	struct store *s = NULL;
	struct run add, imp, chk, id;

	mas_init();
	id = run(ctl_bin, "tpm-identity", "--tcti", harness_swtpm_tcti(tpm), "--out-dir", dir,
		 "--json", NULL);
	cr_assert_eq(id.status, 0, "%s", id.err);
	cr_assert(strstr(id.out, "\"srk_name\":\"000b") && strstr(id.out, "\"ek_cert\":null"),
		  "%s", id.out);
	add = run(mas_bin, "--store", store_path, "--master-key", key_path, "node", "add", NODE_ID,
		  "--km-id", KM_ID, "--target", "/in-cse", "--generate-km", "--wrap-to", srk,
		  "--out", dup, NULL);
	cr_assert_eq(add.status, 0, "%s", add.err);
	cr_assert_str_eq(add.out, "", "m2masctl printed something on stdout with --wrap-to");
	cr_assert(strstr(add.err, "Km itself is shown nowhere"), "%s", add.err);
	imp = run(ctl_bin, "provision", "--import", dup, "--tcti", harness_swtpm_tcti(tpm),
		  "--state-dir", state, NULL);
	cr_assert_eq(imp.status, 0, "%s", imp.err);
	chk = run(ctl_bin, "tpm-check", "--tcti", harness_swtpm_tcti(tpm), "--state-dir", state,
		  NULL);
	cr_assert_eq(chk.status, 0, "%s%s", chk.out, chk.err);

	cr_assert_eq(mas_master_key_load(key_path, &mk), 0);
	cr_assert_eq(store_open(store_path, mk->data, &s), 0);
	cr_assert_eq(store_node_get_km(s, NODE_ID, &km), 0);
	store_close(s);
	assert_state_key_is(km->data);
	/* Km in no output, and in no file outside the MAS store (km.dup holds it wrapped). */
	secrets_note(km->data, 32, "Km (wrapped path)");
	for (const struct run *r = (const struct run[]){ add, imp, chk, id }, *e = r + 4; r < e; r++)
		cr_assert(!contains_hex(r->out, km->data) && !contains_hex(r->err, km->data));
	{
		char *blob = NULL;
		size_t n = 0;

		cr_assert_eq(harness_read_file(dup, &blob, &n), 0);
		cr_assert_null(memmem(blob, n, km->data, 32), "km.dup holds Km in clear");
		free(blob);
	}
	run_free(&add);
	run_free(&imp);
	run_free(&chk);
	run_free(&id);
}

Test(wrap_cli, a_blob_tpm2_duplicate_made_imports)
{
	_cleanup_free_ char *srk = path("srk.pub"), *src = path("src.ctx"), *pol = path("dup.pol"),
			    *sess = path("s.ctx"), *pub = path("t.pub"), *priv = path("t.priv"),
			    *kctx = path("k.ctx"), *np = path("np.ctx"), *dpriv = path("t.dpriv"),
			    *seed = path("t.seed"), *prefix = path("t"), *sarg = NULL;
	struct run h;
	uint8_t got[32];

	if (!harness_have_program("tpm2_duplicate"))
		cr_skip_test("tpm2-tools is not installed (apt install tpm2-tools)");
	identity();
	sarg = harness_strdupf("session:%s", sess);
	/* Debian's tpm2-tools 5.4 cannot wrap an external HMAC key (tpm2_duplicate -k takes
	 * RSA/ECC PEM only, tpm2_create -i makes sealed objects): a TPM-made HMAC key with
	 * a PolicyCommandCode(Duplicate) policy is duplicated to the node's srk.pub. */
	ok("tpm2_createprimary", "-Q", "-C", "o", "-G", "ecc", "-c", src, NULL);
	ok("tpm2_flushcontext", "-t", NULL);
	ok("tpm2_startauthsession", "-S", sess, NULL);
	ok("tpm2_policycommandcode", "-Q", "-S", sess, "-L", pol, "TPM2_CC_Duplicate", NULL);
	ok("tpm2_flushcontext", sess, NULL);
	ok("tpm2_create", "-Q", "-C", src, "-G", "hmac", "-a", "sign|userwithauth|sensitivedataorigin",
	   "-L", pol, "-u", pub, "-r", priv, NULL);
	ok("tpm2_flushcontext", "-t", NULL);
	ok("tpm2_load", "-Q", "-C", src, "-u", pub, "-r", priv, "-c", kctx, NULL);
	ok("tpm2_flushcontext", "-t", NULL);
	h = run("sh", "-c", "printf '%s' \"$0\" | tpm2_hmac -c \"$1\" --hex", MSG, kctx, NULL);
	cr_assert_eq(h.status, 0, "%s", h.err);
	ok("tpm2_flushcontext", "-t", NULL);
	ok("tpm2_loadexternal", "-Q", "-C", "o", "-u", srk, "-c", np, NULL);
	ok("tpm2_flushcontext", "-t", NULL);
	ok("tpm2_startauthsession", "--policy-session", "-S", sess, NULL);
	ok("tpm2_policycommandcode", "-Q", "-S", sess, "TPM2_CC_Duplicate", NULL);
	ok("tpm2_duplicate", "-C", np, "-c", kctx, "-G", "null", "-p", sarg, "-r", dpriv, "-s",
	   seed, NULL);
	ok("tpm2_flushcontext", sess, NULL);
	ok("tpm2_flushcontext", "-t", NULL);

	ok(ctl_bin, "provision", "--import-tpm2-tools", prefix, "--node-id", NODE_ID, "--km-id",
	   KM_ID, "--tcti", harness_swtpm_tcti(tpm), "--state-dir", state, NULL);
	{
		struct tpm_ctx *t = NULL;
		struct tpm_key *k = NULL;
		char err[512], hex[65];

		cr_assert_eq(tpm_open(harness_swtpm_tcti(tpm), &t, err, sizeof(err)), 0, "%s", err);
		cr_assert_eq(tpm_key_load(t, state, &k), 0, "%s", tpm_last_error(t));
		cr_assert_eq(tpm_key_hmac(k, (const uint8_t *)MSG, strlen(MSG), got), 0);
		tpm_key_free(k);
		tpm_close(t);
		for (int i = 0; i < 32; i++)
			sprintf(hex + 2 * i, "%02x", got[i]);
		h.out[strcspn(h.out, "\r\n")] = '\0';
		cr_assert_str_eq(hex, h.out, "imported key's HMAC != the source key's tpm2_hmac");
	}
	run_free(&h);
}

Test(wrap_cli, a_file_that_is_not_an_srk_adds_no_node)
{
	_cleanup_free_ char *name = path("srk.name"), *dup = path("km.dup");
	struct run r;

	mas_init();
	identity();
	r = run(mas_bin, "--store", store_path, "--master-key", key_path, "node", "add", NODE_ID,
		"--km-id", KM_ID, "--target", "/in-cse", "--generate-km", "--wrap-to", name, "--out",
		dup, NULL);
	cr_assert_eq(r.status, 1, "%s", r.err);
	cr_assert(strstr(r.err, "srk.name: not a storage key's public part (expected a marshalled "
				"TPM2B_PUBLIC as m2msactl tpm-identity writes it to srk.pub)"),
		  "%s", r.err);
	cr_assert_str_eq(r.out, "");
	cr_assert(access(dup, F_OK) < 0, "km.dup was written for a refused node");
	run_free(&r);
	r = run(mas_bin, "--store", store_path, "--master-key", key_path, "node", "show", NODE_ID,
		NULL);
	cr_assert_eq(r.status, 1, "the node was added although its SRK was refused");
	run_free(&r);
}

Test(wrap_cli, a_blob_for_another_tpm_leaves_the_state_dir_untouched)
{
	_cleanup_free_ char *srk = path("srk.pub"), *dup = path("km.dup"), *other = NULL;
	struct harness_swtpm *tpm2 = NULL;
	struct stat st;
	struct run r;

	mas_init();
	/* The other node's TPM: its own swtpm, its own owner seed, its own SRK. */
	cr_assert_eq(harness_swtpm_start(NULL, &tpm2), 0);
	other = harness_strdupf("%s/other", dir);
	cr_assert_eq(mkdir(other, 0700), 0);
	ok(ctl_bin, "tpm-identity", "--tcti", harness_swtpm_tcti(tpm2), "--out-dir", other, NULL);
	harness_swtpm_stop(tpm2);
	{
		_cleanup_free_ char *osrk = harness_strdupf("%s/srk.pub", other);

		ok(mas_bin, "--store", store_path, "--master-key", key_path, "node", "add", NODE_ID,
		   "--km-id", KM_ID, "--target", "/in-cse", "--generate-km", "--wrap-to", osrk,
		   "--out", dup, NULL);
	}
	r = run(ctl_bin, "provision", "--import", dup, "--tcti", harness_swtpm_tcti(tpm),
		"--state-dir", state, NULL);
	cr_assert_eq(r.status, 1);
	cr_assert(strstr(r.err, "the blob is wrapped to another storage key") &&
			  strstr(r.err, "m2masctl node rewrap"),
		  "%s", r.err);
	cr_assert(stat(state, &st) < 0 && errno == ENOENT, "the state dir was created");
	run_free(&r);

	/* The fix the message names: rewrap to this node's srk.pub, and it imports. */
	identity();
	ok(mas_bin, "--store", store_path, "--master-key", key_path, "node", "rewrap", NODE_ID,
	   "--wrap-to", srk, "--out", dup, NULL);
	ok(ctl_bin, "provision", "--import", dup, "--tcti", harness_swtpm_tcti(tpm), "--state-dir",
	   state, NULL);
}

/* ---- signed PCR policies ---- */

/* A P-256 policy signing key made by openssl, as a provider would make it. */
static void make_signer(const char *name)
{
	free(signer_key);
	free(signer_pem);
	signer_key = harness_strdupf("%s/%s.key", dir, name);
	signer_pem = harness_strdupf("%s/%s.pem", dir, name);
	ok("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out",
	   signer_key, NULL);
	ok("openssl", "pkey", "-in", signer_key, "-pubout", "-out", signer_pem, NULL);
}

static void sign_policy(const char *key, const char *values, const char *epoch, const char *out)
{
	ok(mas_bin, "policy", "sign", "--pcrs", "sha256:0,2,4,7", "--pcr-values", values, "--key",
	   key, "--epoch", epoch, "--out", out, NULL);
}

static void pcrread(const char *out)
{
	struct run r = run("tpm2_pcrread", "sha256:0,2,4,7", NULL);

	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_eq(harness_write_file(out, r.out, strlen(r.out), 0644), 0);
	run_free(&r);
}

static struct run tpm_check(void)
{
	return run(ctl_bin, "tpm-check", "--tcti", harness_swtpm_tcti(tpm), "--state-dir", state,
		   NULL);
}

/* A node provisioned through the wrapped path with Km bound to the signer. */
static void provision_signed(uint8_t km_out[static 32])
{
	_cleanup_free_ char *srk = path("srk.pub"), *dup = path("km.dup");
	_cleanup_secret_ struct secret *km = NULL, *mk = NULL;
	struct store *s = NULL;

	if (!harness_have_program("tpm2_pcrread") || !harness_have_program("openssl"))
		cr_skip_test("tpm2-tools or openssl is not installed");
	make_signer("signer");
	mas_init();
	identity();
	ok(mas_bin, "--store", store_path, "--master-key", key_path, "node", "add", NODE_ID,
	   "--km-id", KM_ID, "--target", "/in-cse", "--generate-km", "--wrap-to", srk,
	   "--policy-signer", signer_pem, "--out", dup, NULL);
	ok(ctl_bin, "provision", "--import", dup, "--tcti", harness_swtpm_tcti(tpm), "--state-dir",
	   state, NULL);
	cr_assert_eq(mas_master_key_load(key_path, &mk), 0);
	cr_assert_eq(store_open(store_path, mk->data, &s), 0);
	cr_assert_eq(store_node_get_km(s, NODE_ID, &km), 0);
	store_close(s);
	memcpy(km_out, km->data, 32);
	secrets_note(km->data, 32, "Km (signed policy)");
}

Test(wrap_cli, a_firmware_update_needs_a_new_signed_policy_not_a_new_km)
{
	_cleanup_free_ char *v1 = path("v1.txt"), *v2 = path("v2.txt"), *p1 = path("p1.pol"),
			    *p2 = path("p2.pol");
	uint8_t km[32];
	struct run r;

	provision_signed(km);
	r = tpm_check();
	cr_assert_eq(r.status, 1, "Km was usable with no signed policy installed");
	cr_assert(strstr(r.err, "no usable signed policy in"), "%s", r.err);
	run_free(&r);

	pcrread(v1);
	sign_policy(signer_key, v1, "1", p1);
	ok(ctl_bin, "policy-install", p1, "--state-dir", state, NULL);
	ok(ctl_bin, "tpm-check", "--tcti", harness_swtpm_tcti(tpm), "--state-dir", state, NULL);
	assert_state_key_is(km);

	/* The firmware update: PCR 4 (boot manager code) changes. */
	ok("tpm2_pcrextend",
	   "4:sha256=00000000000000000000000000000000000000000000000000000000000000f1", NULL);
	r = tpm_check();
	cr_assert_eq(r.status, 1, "the old policy still worked after PCR 4 changed");
	cr_assert(strstr(r.out, "FAIL  derivation: no signed policy in ") ||
			  strstr(r.err, "FAIL  derivation: no signed policy in "),
		  "%s%s", r.out, r.err);
	cr_assert(strstr(r.err, "matches the current PCR values: the newest, policy-1.pol "
				"(epoch 1), differs in PCR 4. After a firmware or boot change, read "
				"the new values (tpm2_pcrread), have the provider sign them (m2masctl "
				"policy sign) and install the file (m2msactl policy-install)"),
		  "%s", r.err);
	run_free(&r);

	/* The provider signs the new values; no re-provisioning. */
	pcrread(v2);
	sign_policy(signer_key, v2, "2", p2);
	ok(ctl_bin, "policy-install", p2, "--state-dir", state, NULL);
	ok(ctl_bin, "tpm-check", "--tcti", harness_swtpm_tcti(tpm), "--state-dir", state, NULL);
	assert_state_key_is(km);

	/* The old epoch is retired and cannot come back. */
	ok(ctl_bin, "policy-retire", "--below", "2", "--state-dir", state, NULL);
	r = run(ctl_bin, "policy-install", p1, "--state-dir", state, NULL);
	cr_assert_eq(r.status, 1);
	cr_assert(strstr(r.err, "epoch 1 is retired (policies below epoch 2 are); ask for a newer "
				"policy"), "%s", r.err);
	run_free(&r);
	ok(ctl_bin, "tpm-check", "--tcti", harness_swtpm_tcti(tpm), "--state-dir", state, NULL);
}

Test(wrap_cli, a_policy_from_another_signer_is_refused)
{
	_cleanup_free_ char *v1 = path("v1.txt"), *p1 = path("p1.pol"), *dst = NULL;
	uint8_t km[32];
	struct run r;

	provision_signed(km);
	make_signer("intruder");
	pcrread(v1);
	sign_policy(signer_key, v1, "5", p1);
	r = run(ctl_bin, "policy-install", p1, "--state-dir", state, NULL);
	cr_assert_eq(r.status, 1);
	cr_assert(strstr(r.err, "p1.pol is not signed by this key's policy signer (ask the provider "
				"for a policy signed with the key given at provisioning)"),
		  "%s", r.err);
	run_free(&r);
	/* Put there by hand: the TPM refuses it as well (TPM2_VerifySignature). */
	dst = harness_strdupf("%s/policies/policy-5.pol", state);
	{
		char *text = NULL;
		size_t n = 0;

		cr_assert_eq(harness_read_file(p1, &text, &n), 0);
		cr_assert_eq(harness_write_file(dst, text, n, 0644), 0);
		free(text);
	}
	r = tpm_check();
	cr_assert_eq(r.status, 1);
	cr_assert(strstr(r.err, "/policies/policy-5.pol is not signed by this key's policy signer"),
		  "%s", r.err);
	run_free(&r);
}

Test(wrap_cli, a_policy_for_other_pcr_values_is_refused)
{
	_cleanup_free_ char *v = path("v.txt"), *p = path("p.pol");
	static const char values[] =
		"  sha256:\n"
		"    0 : 0x0000000000000000000000000000000000000000000000000000000000000000\n"
		"    2 : 0x0000000000000000000000000000000000000000000000000000000000000000\n"
		"    4 : 0x0000000000000000000000000000000000000000000000000000000000000000\n"
		"    7 : 0x3333333333333333333333333333333333333333333333333333333333333333\n";
	uint8_t km[32];
	struct run r;

	provision_signed(km);
	cr_assert_eq(harness_write_file(v, values, strlen(values), 0644), 0);
	sign_policy(signer_key, v, "1", p);
	ok(ctl_bin, "policy-install", p, "--state-dir", state, NULL);
	r = tpm_check();
	cr_assert_eq(r.status, 1, "a policy for other PCR values was accepted");
	cr_assert(strstr(r.err, "the newest, policy-1.pol (epoch 1), differs in PCR 7."), "%s",
		  r.err);
	run_free(&r);
}

Test(wrap_cli, a_key_file_provisioned_with_a_policy_signer_follows_signed_policies)
{
	_cleanup_free_ char *kf = path("km.hex"), *v = path("v.txt"), *p = path("p.pol");
	uint8_t km[32];
	char hex[65];
	struct run r;

	if (!harness_have_program("tpm2_pcrread") || !harness_have_program("openssl"))
		cr_skip_test("tpm2-tools or openssl is not installed");
	make_signer("signer");
	cr_assert_eq(crypto_random(km, sizeof(km)), 0);
	secrets_note(km, sizeof(km), "Km (key file, signed policy)");
	for (int i = 0; i < 32; i++)
		sprintf(hex + 2 * i, "%02x", km[i]);
	cr_assert_eq(harness_write_file(kf, hex, 64, 0600), 0);
	r = run(ctl_bin, "provision", "--node-id", NODE_ID, "--km-id", KM_ID, "--key-file", kf,
		"--pcrs", "sha256:0", "--policy-signer", signer_pem, "--tcti",
		harness_swtpm_tcti(tpm), "--state-dir", state, NULL);
	cr_assert_eq(r.status, 2, "--pcrs with --policy-signer was accepted");
	run_free(&r);
	ok(ctl_bin, "provision", "--node-id", NODE_ID, "--km-id", KM_ID, "--key-file", kf,
	   "--policy-signer", signer_pem, "--tcti", harness_swtpm_tcti(tpm), "--state-dir", state,
	   NULL);
	(void)unlink(kf);
	r = tpm_check();
	cr_assert_eq(r.status, 1, "Km was usable with no signed policy installed");
	run_free(&r);
	pcrread(v);
	sign_policy(signer_key, v, "1", p);
	ok(ctl_bin, "policy-install", p, "--state-dir", state, NULL);
	ok(ctl_bin, "tpm-check", "--tcti", harness_swtpm_tcti(tpm), "--state-dir", state, NULL);
	assert_state_key_is(km);
	ok("tpm2_pcrextend",
	   "0:sha256=00000000000000000000000000000000000000000000000000000000000000f2", NULL);
	r = tpm_check();
	cr_assert_eq(r.status, 1);
	cr_assert(strstr(r.err, "differs in PCR 0."), "%s", r.err);
	run_free(&r);

	/* Provisioned again without a signer: no signer is left behind to accept policies. */
	cr_assert_eq(harness_write_file(kf, hex, 64, 0600), 0);
	ok(ctl_bin, "provision", "--node-id", NODE_ID, "--km-id", KM_ID, "--key-file", kf,
	   "--force", "--tcti", harness_swtpm_tcti(tpm), "--state-dir", state, NULL);
	(void)unlink(kf);
	ok(ctl_bin, "tpm-check", "--tcti", harness_swtpm_tcti(tpm), "--state-dir", state, NULL);
	r = run(ctl_bin, "policy-install", p, "--state-dir", state, NULL);
	cr_assert_eq(r.status, 1);
	cr_assert(strstr(r.err, "has no policy signer (it was provisioned without "
				"--policy-signer); signed policies do not apply to it"),
		  "%s", r.err);
	run_free(&r);
}

/* ---- owner hierarchy password ---- */

Test(wrap_cli, the_owner_password_comes_from_a_file_or_a_credential)
{
	_cleanup_free_ char *pw = path("owner.pw"), *bad = path("bad.pw"), *cred = path("cred"),
			    *credfile = NULL, *dup = path("km.dup"), *srk = path("srk.pub");
	struct stat st;
	struct run r;

	if (!harness_have_program("tpm2_changeauth"))
		cr_skip_test("tpm2-tools is not installed (apt install tpm2-tools)");
	mas_init();
	identity(); /* before the owner hierarchy gets its password */
	ok(mas_bin, "--store", store_path, "--master-key", key_path, "node", "add", NODE_ID,
	   "--km-id", KM_ID, "--target", "/in-cse", "--generate-km", "--wrap-to", srk, "--out",
	   dup, NULL);
	ok("tpm2_changeauth", "-c", "o", "n0de-owner", NULL);
	cr_assert_eq(harness_write_file(pw, "n0de-owner\n", 11, 0600), 0);
	cr_assert_eq(harness_write_file(bad, "guess", 5, 0600), 0);

	r = run(ctl_bin, "provision", "--import", dup, "--tcti", harness_swtpm_tcti(tpm),
		"--state-dir", state, NULL);
	cr_assert_eq(r.status, 1);
	cr_assert(strstr(r.err, "m2msactl provision: " /* the path, then: */), "%s", r.err);
	cr_assert(strstr(r.err, "the owner hierarchy refused an empty password: it has one; give "
				"it in a file (--owner-auth-file FILE) or as the systemd credential "
				"tpm-owner-auth (LoadCredential=), never on the command line"),
		  "%s", r.err);
	cr_assert(stat(state, &st) < 0 && errno == ENOENT, "the state dir was created");
	run_free(&r);

	ok(ctl_bin, "provision", "--import", dup, "--tcti", harness_swtpm_tcti(tpm),
	   "--owner-auth-file", pw, "--state-dir", state, NULL);

	/* As a daemon under systemd: LoadCredential=tpm-owner-auth:... */
	cr_assert_eq(mkdir(cred, 0700), 0);
	credfile = harness_strdupf("%s/tpm-owner-auth", cred);
	cr_assert_eq(harness_write_file(credfile, "n0de-owner", 10, 0600), 0);
	extra_env = harness_strdupf("CREDENTIALS_DIRECTORY=%s", cred);
	ok(ctl_bin, "tpm-check", "--tcti", harness_swtpm_tcti(tpm), "--state-dir", state, NULL);
	free(extra_env);
	extra_env = NULL;

	/* Last, as it counts towards the dictionary-attack lockout. */
	r = run(ctl_bin, "tpm-identity", "--tcti", harness_swtpm_tcti(tpm), "--owner-auth-file",
		bad, "--out-dir", dir, NULL);
	cr_assert_eq(r.status, 1);
	cr_assert(strstr(r.err, "the owner hierarchy refused the password from ") &&
			  strstr(r.err, "bad.pw: it is wrong (fix the file; repeated failures lock "
					"the TPM out)"),
		  "%s", r.err);
	run_free(&r);
}

/* ---- EK certificate ---- */

/* A TPM "manufactured" by swtpm_setup: ECC EK and its certificate from a local CA. */
static char *manufacture_tpm(void)
{
	char *tstate = harness_strdupf("%s/mfg-state", dir), *ca = harness_strdupf("%s/mfg-ca", dir);
	char *lconf = harness_strdupf("%s/localca.conf", dir), *sconf = harness_strdupf("%s/setup.conf", dir);
	char *text;

	cr_assert_eq(mkdir(tstate, 0700), 0);
	cr_assert_eq(mkdir(ca, 0700), 0);
	text = harness_strdupf("statedir = %s\nsigningkey = %s/signkey.pem\n"
			       "issuercert = %s/issuercert.pem\ncertserial = %s/certserial\n",
			       ca, ca, ca, ca);
	cr_assert_eq(harness_write_file(lconf, text, strlen(text), 0600), 0);
	free(text);
	text = harness_strdupf("create_certs_tool = /usr/bin/swtpm_localca\n"
			       "create_certs_tool_config = %s\n"
			       "create_certs_tool_options = /etc/swtpm-localca.options\n"
			       "active_pcr_banks = sha256\n", lconf);
	cr_assert_eq(harness_write_file(sconf, text, strlen(text), 0600), 0);
	free(text);
	ok("swtpm_setup", "--tpm2", "--tpmstate", tstate, "--create-ek-cert", "--ecc", "--config",
	   sconf, "--overwrite", NULL);
	free(ca);
	free(lconf);
	free(sconf);
	return tstate;
}

Test(wrap_cli, tpm_identity_exports_the_ek_certificate, .timeout = 120)
{
	_cleanup_free_ char *out = path("mfg-id"), *cert = NULL, *mfg = NULL;
	struct harness_swtpm *made = NULL;
	char *der = NULL, *nv = NULL, index[16];
	size_t n = 0, m = 0;
	struct run r;

	if (!harness_have_program("swtpm_setup") || !harness_have_program("swtpm_localca") ||
	    !harness_have_program("tpm2_nvread"))
		cr_skip_test("swtpm-tools or tpm2-tools is not installed");
	mfg = manufacture_tpm();
	cr_assert_eq(harness_swtpm_start(mfg, &made), 0);
	cr_assert_eq(mkdir(out, 0700), 0);
	r = run(ctl_bin, "tpm-identity", "--tcti", harness_swtpm_tcti(made), "--out-dir", out,
		"--json", NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	/* swtpm_setup writes the RSA EK certificate at 0x01c00002 and, with --ecc, a
	 * P-384 one at the high-range 0x01c00016; tpm-identity takes the first it finds. */
	{
		const char *at = strstr(r.out, "\"ek_cert_nv_index\":\"0x");

		cr_assert_not_null(at, "%s", r.out);
		snprintf(index, sizeof(index), "%.10s", at + strlen("\"ek_cert_nv_index\":\""));
		cr_assert(strcmp(index, "0x01c00002") == 0 || strcmp(index, "0x01c00016") == 0,
			  "%s", r.out);
	}
	run_free(&r);
	cert = harness_strdupf("%s/ek-cert.der", out);
	cr_assert_eq(harness_read_file(cert, &der, &n), 0);
	{
		char *nvfile = harness_strdupf("%s/nv.der", dir);
		char *tcti = harness_strdupf("TPM2TOOLS_TCTI=%s", harness_swtpm_tcti(made));
		const char *argv[] = { "tpm2_nvread", index, "-o", nvfile, NULL };
		const char *env[] = { tcti, "TSS2_LOG=all+NONE", NULL };
		int status = -1;

		cr_assert_eq(harness_run(argv, env, NULL, &status, NULL, NULL), 0);
		cr_assert_eq(status, 0);
		cr_assert_eq(harness_read_file(nvfile, &nv, &m), 0);
		free(nvfile);
		free(tcti);
	}
	cr_assert_eq(n, m);
	cr_assert_eq(memcmp(der, nv, n), 0, "ek-cert.der differs from NV %s", index);
	r = run("openssl", "x509", "-inform", "der", "-in", cert, "-noout", "-issuer", NULL);
	cr_assert_eq(r.status, 0, "openssl cannot read ek-cert.der: %s", r.err);
	run_free(&r);
	harness_swtpm_stop(made);
	free(der);
	free(nv);
}
