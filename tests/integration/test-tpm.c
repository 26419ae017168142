/* SPDX-License-Identifier: Apache-2.0 */
/* The TPM keystore against a real swtpm: KDF equivalence, tpm2-tools interop, policy, errors. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <tss2/tss2_mu.h>
#include <unistd.h>

#include "common/crypto.h"
#include "common/kdf.h"
#include "common/secret.h"
#include "harness.h"
#include "secrets.h"
#include "tpm/keystore.h"
#include "tpm/tpm-ctx.h"

#define NODE_ID "/mn-cse-test"
#define KM_ID "km-test@mas.example.org"

struct fixture {
	struct harness_swtpm *tpm;
	char *dir;   /* scratch dir for files the test makes */
	char *state; /* keystore state dir, inside dir */
	uint8_t km[TPM_KM_LEN];
};

static void fixture_start(struct fixture *f)
{
	cr_assert_eq(harness_swtpm_start(NULL, &f->tpm), 0, "cannot start swtpm");
	cr_assert_eq(harness_tmpdir(&f->dir), 0);
	f->state = harness_strdupf("%s/state", f->dir);
	cr_assert_eq(crypto_random(f->km, sizeof(f->km)), 0);
}

/* Idempotent; also runs as .fini, so a failed assertion leaves nothing behind. */
static void fixture_stop(struct fixture *f)
{
	harness_swtpm_stop(f->tpm);
	secrets_note(f->km, sizeof(f->km), "Km (test)");
	secrets_assert_logs_clean(f->dir, NULL, NULL); /* no key byte in any log */
	if (f->dir)
		harness_rmtree(f->dir);
	free(f->dir);
	free(f->state);
	secret_wipe(f->km, sizeof(f->km));
	memset(f, 0, sizeof(*f));
}

/* One fixture per test process (Criterion runs each test in its own process). */
static struct fixture fx;

static void fixture_fini(void)
{
	fixture_stop(&fx);
}

static struct tpm_ctx *open_tpm(struct fixture *f)
{
	struct tpm_ctx *t = NULL;
	char err[512] = "";
	int r = tpm_open(harness_swtpm_tcti(f->tpm), &t, err, sizeof(err));

	cr_assert_eq(r, 0, "tpm_open: %d %s", r, err);
	return t;
}

static void provision(struct fixture *f, const char *pcrs)
{
	struct tpm_ctx *t = open_tpm(f);
	int r = tpm_provision(t, f->state, NODE_ID, KM_ID, f->km, sizeof(f->km), pcrs);

	cr_assert_eq(r, 0, "tpm_provision: %d %s", r, tpm_last_error(t));
	tpm_close(t);
}

static char *hex(const uint8_t *b, size_t n)
{
	char *s = malloc(2 * n + 1);

	cr_assert_not_null(s);
	for (size_t i = 0; i < n; i++)
		sprintf(s + 2 * i, "%02x", b[i]);
	return s;
}

/* Run a tpm2-tools command against the fixture's swtpm; returns its stdout (free()). */
static char *tpm2_tool(struct fixture *f, const char *stdin_data, int *ret_status,
		       const char *const *argv)
{
	char *tcti = harness_strdupf("TPM2TOOLS_TCTI=%s", harness_swtpm_tcti(f->tpm));
	const char *env[] = { tcti, "TSS2_LOG=all+NONE", NULL };
	char *out = NULL, *err = NULL;
	int status = -1;

	cr_assert_eq(harness_run(argv, env, stdin_data, &status, &out, &err), 0);
	if (status != 0 && !ret_status)
		cr_assert_fail("%s failed (%d): %s", argv[0], status, err);
	if (ret_status)
		*ret_status = status;
	free(err);
	/* putenv() in the child keeps tcti; the parent may free it. */
	free(tcti);
	return out;
}

static void assert_no_handles(struct fixture *f)
{
	struct tpm_ctx *t = open_tpm(f);
	size_t tr = 99, ss = 99;

	cr_assert_eq(tpm_count_handles(t, &tr, &ss), 0, "%s", tpm_last_error(t));
	cr_expect_eq(tr, 0, "%zu transient objects left in the TPM", tr);
	cr_expect_eq(ss, 0, "%zu sessions left in the TPM", ss);
	tpm_close(t);
}

static void assert_derive_equals_software(struct tpm_key *k, const uint8_t km[TPM_KM_LEN],
					  const char *label, const uint8_t *ctx, size_t ctx_len)
{
	struct kdf_sw_key swk = { .key = km, .len = TPM_KM_LEN };
	struct kdf_prf tprf, sprf;
	uint8_t a[KDF_OUT_LEN], b[KDF_OUT_LEN];
	int r;

	tpm_key_prf(k, &tprf);
	kdf_prf_software(&swk, &sprf);
	r = kdf_derive(&tprf, label, ctx, ctx_len, a);
	cr_assert_eq(r, 0, "TPM kdf_derive: %d", r);
	cr_assert_eq(kdf_derive(&sprf, label, ctx, ctx_len, b), 0);
	cr_assert_arr_eq(a, b, sizeof(a), "TPM and software KDF differ (label %s, ctx %zu bytes)",
			 label, ctx_len);
}

Test(tpm, derive_matches_software_kdf, .fini = fixture_fini)
{
	struct tpm_ctx *t;
	struct tpm_key *k = NULL;
	uint8_t ctx[KDF_MAX_INPUT];
	int r;

	HARNESS_REQUIRE_SWTPM();
	fixture_start(&fx);
	provision(&fx, NULL);
	t = open_tpm(&fx);
	r = tpm_key_load(t, fx.state, &k);
	cr_assert_eq(r, 0, "tpm_key_load: %s", tpm_last_error(t));
	cr_assert_str_eq(tpm_key_node_id(k), NODE_ID);
	cr_assert_str_eq(tpm_key_km_id(k), KM_ID);
	cr_assert_null(tpm_key_pcrs(k));

	/* The key schedule's labels (docs/architecture.md "The key hierarchy"), then 50
	 * random label/context pairs; contexts up to the KDF's limit, so some PRF messages
	 * exceed 1024 bytes and go through an HMAC sequence. */
	assert_derive_equals_software(k, fx.km, "m2msa Kc", NULL, 0);
	assert_derive_equals_software(k, fx.km, "m2msa node proof", (const uint8_t *)"x", 1);
	for (int i = 0; i < 50; i++) {
		char label[33];
		uint16_t rnd;
		size_t label_len, ctx_len;

		cr_assert_eq(crypto_random(&rnd, sizeof(rnd)), 0);
		label_len = 1 + rnd % 32;
		for (size_t j = 0; j < label_len; j++)
			label[j] = (char)('a' + (rnd + j * 7) % 26);
		label[label_len] = '\0';
		cr_assert_eq(crypto_random(&rnd, sizeof(rnd)), 0);
		/* every 5th: the largest contexts kdf_derive accepts */
		ctx_len = i % 5 == 0 ? KDF_MAX_INPUT - 5 - label_len - rnd % 8 : rnd % 600;
		cr_assert_eq(crypto_random(ctx, ctx_len ? ctx_len : 1), 0);
		assert_derive_equals_software(k, fx.km, label, ctx, ctx_len);
	}

	/* Raw TPM2_HMAC around the one-command limit (1024) and well beyond it. */
	{
		static const size_t lens[] = { 0, 1, 1023, 1024, 1025, 2048, 2049, 5000 };
		uint8_t *msg = malloc(5000), a[32], b[32];

		cr_assert_not_null(msg);
		cr_assert_eq(crypto_random(msg, 5000), 0);
		for (size_t i = 0; i < ARRAY_SIZE(lens); i++) {
			r = tpm_key_hmac(k, msg, lens[i], a);
			cr_assert_eq(r, 0, "tpm_key_hmac(%zu): %s", lens[i], tpm_last_error(t));
			cr_assert_eq(crypto_hmac_sha256(fx.km, 32, msg, lens[i], b), 0);
			cr_assert_arr_eq(a, b, 32, "HMAC differs for a %zu-byte message", lens[i]);
		}
		free(msg);
	}
	tpm_key_free(k);
	tpm_close(t);
	assert_no_handles(&fx);
	fixture_stop(&fx);
}

Test(tpm, tpm2_tools_interop, .fini = fixture_fini)
{
	static const char msg[] = "oneM2M security association, checked by tpm2-tools";
	uint8_t want[32];
	char *primary, *kmctx, *pub, *priv, *out, *want_hex;

	HARNESS_REQUIRE_TPM2_TOOLS();
	fixture_start(&fx);
	provision(&fx, NULL);
	primary = harness_strdupf("%s/primary.ctx", fx.dir);
	kmctx = harness_strdupf("%s/km.ctx", fx.dir);
	pub = harness_strdupf("%s/km.pub", fx.state);
	priv = harness_strdupf("%s/km.priv", fx.state);

	/* swtpm has 3 object slots and no resource manager: flush between the tools. */
	{
		const char *a1[] = { "tpm2_createprimary", "-Q", "-C", "o", "-g", "sha256", "-G",
				     "ecc", "-a",
				     "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|"
				     "restricted|decrypt|noda",
				     "-c", primary, NULL };
		const char *fl[] = { "tpm2_flushcontext", "-t", NULL };
		const char *a2[] = { "tpm2_load", "-Q", "-C", primary, "-u", pub, "-r", priv, "-c",
				     kmctx, NULL };
		const char *a3[] = { "tpm2_hmac", "-c", kmctx, "--hex", NULL };

		free(tpm2_tool(&fx, NULL, NULL, a1));
		free(tpm2_tool(&fx, NULL, NULL, fl));
		free(tpm2_tool(&fx, NULL, NULL, a2));
		free(tpm2_tool(&fx, NULL, NULL, fl));
		out = tpm2_tool(&fx, msg, NULL, a3);
		free(tpm2_tool(&fx, NULL, NULL, fl));
	}
	cr_assert_eq(crypto_hmac_sha256(fx.km, 32, (const uint8_t *)msg, strlen(msg), want), 0);
	want_hex = hex(want, 32);
	out[strcspn(out, "\r\n")] = '\0';
	cr_assert_str_eq(out, want_hex, "tpm2_hmac gave %s, HMAC(Km, msg) is %s", out, want_hex);
	free(out);
	free(want_hex);
	free(primary);
	free(kmctx);
	free(pub);
	free(priv);
	fixture_stop(&fx);
}

Test(tpm, blobs_reload_after_swtpm_restart, .fini = fixture_fini)
{
	struct tpm_ctx *t;
	struct tpm_key *k = NULL;
	int r;

	HARNESS_REQUIRE_SWTPM();
	fixture_start(&fx);
	provision(&fx, NULL);
	cr_assert_eq(harness_swtpm_restart(fx.tpm), 0);
	t = open_tpm(&fx);
	r = tpm_key_load(t, fx.state, &k);
	cr_assert_eq(r, 0, "tpm_key_load after restart: %s", tpm_last_error(t));
	assert_derive_equals_software(k, fx.km, "m2msa Kc", (const uint8_t *)"after restart", 13);
	tpm_key_free(k);
	tpm_close(t);
	fixture_stop(&fx);
}

Test(tpm, pcr_policy_binds_key_to_pcrs, .fini = fixture_fini)
{
	struct tpm_ctx *t;
	struct tpm_key *k = NULL;
	TPM2B_PUBLIC pub = { 0 };
	char *path, *data;
	size_t len, off = 0;
	uint8_t out[32];
	int r;

	HARNESS_REQUIRE_TPM2_TOOLS();
	fixture_start(&fx);
	provision(&fx, "sha256:0,7");

	/* The key carries a PolicyPCR authPolicy and cannot be used with a password. */
	path = harness_strdupf("%s/km.pub", fx.state);
	cr_assert_eq(harness_read_file(path, &data, &len), 0);
	cr_assert_eq(Tss2_MU_TPM2B_PUBLIC_Unmarshal((uint8_t *)data, len, &off, &pub), 0);
	cr_expect_eq(pub.publicArea.authPolicy.size, 32);
	cr_expect_eq(pub.publicArea.objectAttributes & TPMA_OBJECT_USERWITHAUTH, 0);
	free(data);
	free(path);

	t = open_tpm(&fx);
	r = tpm_key_load(t, fx.state, &k);
	cr_assert_eq(r, 0, "tpm_key_load: %s", tpm_last_error(t));
	cr_assert_str_eq(tpm_key_pcrs(k), "sha256:0,7");
	for (int i = 0; i < 3; i++) /* the policy session is reused across commands */
		assert_derive_equals_software(k, fx.km, "m2msa Kc", (const uint8_t *)"pcr", 3);
	tpm_key_free(k);
	tpm_close(t);

	{
		const char *ext[] = { "tpm2_pcrextend",
				      "7:sha256=0000000000000000000000000000000000000000000000000000000000000001",
				      NULL };

		free(tpm2_tool(&fx, NULL, NULL, ext));
	}
	t = open_tpm(&fx);
	r = tpm_key_load(t, fx.state, &k);
	cr_assert_eq(r, 0, "loading works; only use is refused: %s", tpm_last_error(t));
	r = tpm_key_hmac(k, (const uint8_t *)"x", 1, out);
	cr_assert_eq(r, -EPERM, "HMAC after PCR change: %d", r);
	cr_assert(strstr(tpm_last_error(t), "PCR values (sha256:0,7) changed since the key was "
					    "provisioned"),
		  "message: %s", tpm_last_error(t));
	cr_assert(strstr(tpm_last_error(t), "re-provision"), "message: %s", tpm_last_error(t));
	cr_assert_null(strstr(tpm_last_error(t), "0x"), "raw code in message: %s",
		       tpm_last_error(t));
	/* The failure leaves nothing behind, and a second attempt fails the same way. */
	cr_assert_eq(tpm_key_hmac(k, (const uint8_t *)"x", 1, out), -EPERM);
	tpm_key_free(k);
	tpm_close(t);
	assert_no_handles(&fx);

	/* PCRs reset on a restart (like a reboot into the provisioned state): works again. */
	cr_assert_eq(harness_swtpm_restart(fx.tpm), 0);
	t = open_tpm(&fx);
	cr_assert_eq(tpm_key_load(t, fx.state, &k), 0, "%s", tpm_last_error(t));
	assert_derive_equals_software(k, fx.km, "m2msa Kc", NULL, 0);
	tpm_key_free(k);
	tpm_close(t);
	fixture_stop(&fx);
}

Test(tpm, no_handles_leak, .fini = fixture_fini)
{
	struct tpm_ctx *t;
	struct tpm_key *k = NULL;
	uint8_t big[1500] = { 0 }, out[32];
	size_t tr, ss;

	HARNESS_REQUIRE_TPM2_TOOLS();
	fixture_start(&fx);
	provision(&fx, "sha256:7");
	assert_no_handles(&fx);

	t = open_tpm(&fx);
	for (int round = 0; round < 5; round++) {
		cr_assert_eq(tpm_key_load(t, fx.state, &k), 0, "%s", tpm_last_error(t));
		cr_assert_eq(tpm_key_hmac(k, big, 10, out), 0, "%s", tpm_last_error(t));
		cr_assert_eq(tpm_key_hmac(k, big, sizeof(big), out), 0, "%s", tpm_last_error(t));
		cr_assert_eq(tpm_count_handles(t, &tr, &ss), 0);
		/* primary + Km; the encryption session + the policy session */
		cr_expect_eq(tr, 2, "transient objects while loaded: %zu", tr);
		cr_expect_eq(ss, 2, "sessions while loaded: %zu", ss);
		tpm_key_free(k);
		cr_assert_eq(tpm_count_handles(t, &tr, &ss), 0);
		cr_expect_eq(tr, 1, "only the primary should stay: %zu", tr);
		cr_expect_eq(ss, 0, "sessions after tpm_key_free: %zu", ss);
	}
	tpm_close(t);
	assert_no_handles(&fx);

	/* Cross-check with tpm2-tools, which lists what the TPM itself holds. */
	{
		const char *a[] = { "tpm2_getcap", "handles-transient", NULL };
		const char *b[] = { "tpm2_getcap", "handles-loaded-session", NULL };
		char *o1 = tpm2_tool(&fx, NULL, NULL, a), *o2 = tpm2_tool(&fx, NULL, NULL, b);

		cr_expect_null(strstr(o1, "0x"), "tpm2_getcap handles-transient: %s", o1);
		cr_expect_null(strstr(o2, "0x"), "tpm2_getcap handles-loaded-session: %s", o2);
		free(o1);
		free(o2);
	}
	fixture_stop(&fx);
}

Test(tpm_errors, no_tpm_listening)
{
	struct tpm_ctx *t = NULL;
	char err[512] = "", *tcti;
	uint16_t port;
	int r;

	cr_assert_eq(harness_free_port(2, &port), 0);
	tcti = harness_strdupf("swtpm:host=127.0.0.1,port=%u", port);
	r = tpm_open(tcti, &t, err, sizeof(err));
	cr_assert_eq(r, -ECONNREFUSED, "tpm_open: %d %s", r, err);
	cr_assert_null(t);
	cr_assert(strstr(err, tcti), "the message names the TCTI: %s", err);
	cr_assert(strstr(err, "swtpm running"), "the message says what to check: %s", err);
	free(tcti);
}

Test(tpm_errors, no_tpm_device)
{
	struct tpm_ctx *t = NULL;
	char err[512] = "";
	int r = tpm_open("device:/nonexistent/tpmrm0", &t, err, sizeof(err));

	cr_assert_eq(r, -ENOENT, "%d %s", r, err);
	cr_assert(strstr(err, "no TPM device at /nonexistent/tpmrm0"), "%s", err);
}

Test(tpm_errors, device_permission_denied)
{
	struct tpm_ctx *t = NULL;
	char err[512] = "", *dir = NULL, *path = NULL;
	const char *dev;
	int r, fd;

	if (geteuid() != 0) {
		cr_assert_eq(harness_tmpdir(&dir), 0);
		path = harness_strdupf("%s/tpmrm0", dir);
		cr_assert_eq(harness_write_file(path, "", 0, 0), 0);
		dev = path;
	} else {
		/* root passes DAC checks; sysfs still refuses writing a read-only attribute */
		dev = "/sys/kernel/notes";
		fd = open(dev, O_RDWR);
		if (fd >= 0 || errno != EACCES) {
			if (fd >= 0)
				close(fd);
			cr_skip_test("running as root and no file refuses O_RDWR with EACCES");
		}
	}
	{
		char *tcti = harness_strdupf("device:%s", dev);

		r = tpm_open(tcti, &t, err, sizeof(err));
		free(tcti);
	}
	cr_assert_eq(r, -EACCES, "%d %s", r, err);
	cr_assert(strstr(err, "Permission denied"), "%s", err);
	cr_assert(strstr(err, "group tss"), "the message names the group: %s", err);
	if (dir)
		harness_rmtree(dir);
	free(dir);
	free(path);
}

Test(tpm_errors, wrong_key_length_and_bad_ids, .fini = fixture_fini)
{
	struct tpm_ctx *t;
	uint8_t km[33] = { 1 };

	HARNESS_REQUIRE_SWTPM();
	fixture_start(&fx);
	t = open_tpm(&fx);
	cr_assert_eq(tpm_provision(t, fx.state, NODE_ID, KM_ID, km, 16, NULL), -EINVAL);
	cr_assert(strstr(tpm_last_error(t), "wrong key length: Km must be 32 bytes, got 16"), "%s",
		  tpm_last_error(t));
	cr_assert_eq(tpm_provision(t, fx.state, NODE_ID, KM_ID, km, 33, NULL), -EINVAL);
	cr_assert_eq(tpm_provision(t, fx.state, "bad id\n", KM_ID, km, 32, NULL), -EINVAL);
	cr_assert(strstr(tpm_last_error(t), "invalid node ID"), "%s", tpm_last_error(t));
	cr_assert_eq(tpm_provision(t, fx.state, NODE_ID, KM_ID, km, 32, "sha1:0"), -EINVAL);
	cr_assert(strstr(tpm_last_error(t), "invalid PCR selection"), "%s", tpm_last_error(t));
	cr_assert_eq(tpm_provision(t, fx.state, NODE_ID, KM_ID, km, 32, "sha256:24"), -EINVAL);
	cr_assert_eq(access(fx.state, F_OK), -1, "nothing written on refusal");
	tpm_close(t);
	fixture_stop(&fx);
}

static void assert_load_fails(struct fixture *f, int want, const char *needle)
{
	struct tpm_ctx *t = open_tpm(f);
	struct tpm_key *k = NULL;
	int r = tpm_key_load(t, f->state, &k);

	cr_assert_eq(r, want, "tpm_key_load: %d (%s), want %d", r, tpm_last_error(t), want);
	cr_assert_null(k);
	cr_assert(strstr(tpm_last_error(t), needle), "message '%s' lacks '%s'", tpm_last_error(t),
		  needle);
	cr_assert_null(strstr(tpm_last_error(t), "0x"), "raw code in message: %s",
		       tpm_last_error(t));
	tpm_close(t);
}

Test(tpm_errors, missing_and_corrupt_blobs, .fini = fixture_fini)
{
	char *pub, *priv, *conf, *data;
	size_t len;

	HARNESS_REQUIRE_SWTPM();
	fixture_start(&fx);
	assert_load_fails(&fx, -ENOENT, "is missing");
	provision(&fx, NULL);
	pub = harness_strdupf("%s/km.pub", fx.state);
	priv = harness_strdupf("%s/km.priv", fx.state);
	conf = harness_strdupf("%s/node.conf", fx.state);

	/* Flip a byte inside the encrypted private area: the TPM's integrity check refuses it. */
	cr_assert_eq(harness_read_file(priv, &data, &len), 0);
	data[len - 5] ^= 0x40;
	cr_assert_eq(harness_write_file(priv, data, len, 0600), 0);
	assert_load_fails(&fx, -EBADMSG, "corrupt");
	/* Truncated: not a marshalled TPM2B_PRIVATE at all. */
	cr_assert_eq(harness_write_file(priv, data, 10, 0600), 0);
	assert_load_fails(&fx, -EBADMSG, "km.priv is corrupt");
	free(data);
	cr_assert_eq(harness_write_file(pub, "garbage", 7, 0600), 0);
	assert_load_fails(&fx, -EBADMSG, "km.pub is corrupt");
	cr_assert_eq(unlink(pub), 0);
	assert_load_fails(&fx, -ENOENT, "km.pub is missing");

	provision(&fx, NULL);
	cr_assert_eq(unlink(conf), 0);
	assert_load_fails(&fx, -ENOENT, "node.conf is missing");
	assert_no_handles(&fx);
	free(pub);
	free(priv);
	free(conf);
	fixture_stop(&fx);
}

/* ---- m2msactl provision / tpm-check ---- */

static char *ctl_path(void)
{
	const char *b = getenv("BUILDDIR");

	return harness_strdupf("%s/m2msactl/m2msactl", b ? b : ".");
}

static int run_ctl(const char *const *argv, const char *stdin_data, char **ret_out,
		   char **ret_err)
{
	int status = -1;

	cr_assert_eq(harness_run(argv, NULL, stdin_data, &status, ret_out, ret_err), 0,
		     "cannot run %s", argv[0]);
	return status;
}

Test(m2msactl, provision_and_tpm_check, .fini = fixture_fini)
{
	char *ctl = ctl_path(), *keyfile, *out, *err, *km_hex;
	const char *tcti;
	int st;

	HARNESS_REQUIRE_SWTPM();
	fixture_start(&fx);
	tcti = harness_swtpm_tcti(fx.tpm);
	km_hex = hex(fx.km, 32);
	keyfile = harness_strdupf("%s/km.hex", fx.dir);
	{
		/* hex with whitespace and a newline is accepted */
		char *spaced = harness_strdupf("  %.32s\n%s\n", km_hex, km_hex + 32);

		cr_assert_eq(harness_write_file(keyfile, spaced, strlen(spaced), 0600), 0);
		free(spaced);
	}
	{
		const char *a[] = { ctl, "provision", "--node-id", NODE_ID, "--km-id", KM_ID,
				    "--key-file", keyfile, "--tcti", tcti, "--state-dir", fx.state,
				    NULL };

		st = run_ctl(a, NULL, &out, &err);
		cr_assert_eq(st, 0, "provision: %d %s", st, err);
		cr_assert_null(strstr(out, km_hex), "the key is echoed");
		cr_assert_null(strstr(err, km_hex), "the key is echoed");
		free(out);
		free(err);
	}
	{
		const char *a[] = { ctl, "tpm-check", "--tcti", tcti, "--state-dir", fx.state, NULL };

		st = run_ctl(a, NULL, &out, &err);
		cr_assert_eq(st, 0, "tpm-check: %d %s %s", st, out, err);
		cr_assert(strstr(out, "derivation through TPM2_HMAC works"), "%s", out);
		cr_assert(strstr(out, KM_ID), "%s", out);
		free(out);
		free(err);
	}
	/* A second provision into the same state dir needs --force. */
	{
		const char *a[] = { ctl, "provision", "--node-id", NODE_ID, "--km-id", KM_ID,
				    "--key-file", keyfile, "--tcti", tcti, "--state-dir", fx.state,
				    NULL };
		const char *f[] = { ctl, "provision", "--node-id", NODE_ID, "--km-id", KM_ID,
				    "--key-file", keyfile, "--tcti", tcti, "--state-dir", fx.state,
				    "--force", NULL };

		st = run_ctl(a, NULL, &out, &err);
		cr_assert_eq(st, 1, "re-provision without --force: %d", st);
		cr_assert(strstr(err, "already provisioned") && strstr(err, "--force"), "%s", err);
		free(out);
		free(err);
		st = run_ctl(f, NULL, &out, &err);
		cr_assert_eq(st, 0, "re-provision with --force: %d %s", st, err);
		free(out);
		free(err);
	}
	/* The CLI-provisioned key equals Km: derive through the API and compare. */
	{
		struct tpm_ctx *t = open_tpm(&fx);
		struct tpm_key *k = NULL;

		cr_assert_eq(tpm_key_load(t, fx.state, &k), 0, "%s", tpm_last_error(t));
		assert_derive_equals_software(k, fx.km, "m2msa Kc", NULL, 0);
		tpm_key_free(k);
		tpm_close(t);
	}
	/* Raw 32 bytes on stdin */
	{
		char *st2 = harness_strdupf("%s/st2", fx.dir);
		char raw[33];
		const char *a[] = { ctl, "provision", "--node-id", NODE_ID, "--km-id", KM_ID,
				    "--key-file", "-", "--tcti", tcti, "--state-dir", st2, NULL };

		/* harness_run's stdin is a C string: use a key without NUL bytes */
		for (int i = 0; i < 32; i++)
			raw[i] = (char)(fx.km[i] | 1);
		raw[32] = '\0';
		st = run_ctl(a, raw, &out, &err);
		cr_assert_eq(st, 0, "provision from stdin: %d %s", st, err);
		free(out);
		free(err);
		free(st2);
	}
	free(ctl);
	free(keyfile);
	free(km_hex);
	fixture_stop(&fx);
}

Test(m2msactl, errors_name_the_fix, .fini = fixture_fini)
{
	char *ctl = ctl_path(), *keyfile, *missing, *out, *err;
	const char *tcti;
	int st;

	HARNESS_REQUIRE_SWTPM();
	fixture_start(&fx);
	tcti = harness_swtpm_tcti(fx.tpm);
	keyfile = harness_strdupf("%s/short.key", fx.dir);
	missing = harness_strdupf("%s/nope.key", fx.dir);
	cr_assert_eq(harness_write_file(keyfile, "00112233445566778899aabbccddeeff\n", 33, 0600), 0);

	{
		const char *a[] = { ctl, "--help", NULL };

		st = run_ctl(a, NULL, &out, &err);
		cr_assert_eq(st, 0);
		cr_assert(strstr(out, "provision") && strstr(out, "tpm-check"), "%s", out);
		free(out);
		free(err);
	}
	{
		const char *a[] = { ctl, "frobnicate", NULL };

		cr_assert_eq(run_ctl(a, NULL, &out, &err), 2);
		cr_assert(strstr(err, "unknown command"), "%s", err);
		free(out);
		free(err);
	}
	{
		const char *a[] = { ctl, "provision", "--node-id", NODE_ID, NULL };

		cr_assert_eq(run_ctl(a, NULL, &out, &err), 2);
		cr_assert(strstr(err, "--key-file"), "%s", err);
		free(out);
		free(err);
	}
	{
		const char *a[] = { ctl, "provision", "--help", NULL };

		cr_assert_eq(run_ctl(a, NULL, &out, &err), 0);
		cr_assert(strstr(out, "--pcrs"), "%s", out);
		free(out);
		free(err);
	}
	{
		const char *a[] = { ctl, "provision", "--node-id", NODE_ID, "--km-id", KM_ID,
				    "--key-file", keyfile, "--tcti", tcti, "--state-dir", fx.state,
				    NULL };

		cr_assert_eq(run_ctl(a, NULL, &out, &err), 1);
		cr_assert(strstr(err, "wrong key length: 32 hex digits (16 bytes)"), "%s", err);
		free(out);
		free(err);
	}
	{
		const char *a[] = { ctl, "provision", "--node-id", NODE_ID, "--km-id", KM_ID,
				    "--key-file", missing, "--tcti", tcti, "--state-dir", fx.state,
				    NULL };

		cr_assert_eq(run_ctl(a, NULL, &out, &err), 1);
		cr_assert(strstr(err, "cannot read the key file") &&
				  strstr(err, "No such file or directory"),
			  "%s", err);
		free(out);
		free(err);
	}
	{
		const char *a[] = { ctl, "provision", "--node-id", NODE_ID, "--km-id", KM_ID,
				    "--key-file", "-", "--tcti", tcti, "--state-dir", fx.state,
				    NULL };

		cr_assert_eq(run_ctl(a, "not a key, 19 bytes", &out, &err), 1);
		cr_assert(strstr(err, "wrong key length"), "%s", err);
		free(out);
		free(err);
	}
	cr_assert_eq(access(fx.state, F_OK), -1, "nothing provisioned by the failures");
	{
		const char *a[] = { ctl, "tpm-check", "--tcti", tcti, "--state-dir", fx.state, NULL };

		cr_assert_eq(run_ctl(a, NULL, &out, &err), 1);
		cr_assert(strstr(out, "ok    TPM reachable"), "%s", out);
		cr_assert(strstr(err, "is missing") && strstr(err, "m2msactl provision"), "%s", err);
		free(out);
		free(err);
	}
	{
		char *dead;
		uint16_t port;
		const char *a[] = { ctl, "tpm-check", "--tcti", NULL, "--state-dir", fx.state, NULL };

		cr_assert_eq(harness_free_port(2, &port), 0);
		dead = harness_strdupf("swtpm:host=127.0.0.1,port=%u", port);
		a[3] = dead;
		cr_assert_eq(run_ctl(a, NULL, &out, &err), 1);
		cr_assert(strstr(err, "cannot reach the TPM") && strstr(err, dead), "%s", err);
		free(out);
		free(err);
		free(dead);
	}
	free(ctl);
	free(keyfile);
	free(missing);
	fixture_stop(&fx);
}
