/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The tpm USIM backend against a real swtpm: Milenage with K in the TPM equals
 * software Milenage (TS 35.208 sets), a full challenge answered like an AuC
 * expects, wrong K = MAC failure, a replayed challenge = AUTS the AuC verifies,
 * the SQN on disk, K in no file in clear, no TPM handles left behind.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../unit/milenage-kat.h"
#include "auc-fixture.h"
#include "common/aka.h"
#include "common/crypto.h"
#include "common/secret.h"
#include "harness.h"
#include "secrets.h"
#include "tpm/usimkey.h"
#include "usim/usim-state.h"
#include "usim/usim.h"

#define IMPI "001010000000001@ims.mnc001.mcc001.3gppnetwork.org"

struct fixture {
	struct harness_swtpm *tpm;
	char *dir;
	char *state;
	uint8_t k[16], opc[16];
};

static struct fixture fx;

static void fixture_start(struct fixture *f)
{
	cr_assert_eq(harness_swtpm_start(NULL, &f->tpm), 0, "cannot start swtpm");
	cr_assert_eq(harness_tmpdir(&f->dir), 0);
	f->state = harness_strdupf("%s/state", f->dir);
	cr_assert_eq(crypto_random(f->k, sizeof(f->k)), 0);
	cr_assert_eq(crypto_random(f->opc, sizeof(f->opc)), 0);
}

static void fixture_fini(void)
{
	harness_swtpm_stop(fx.tpm);
	secrets_note(fx.k, sizeof(fx.k), "USIM K (test)");
	secrets_assert_logs_clean(fx.dir, NULL, NULL);
	if (fx.dir)
		harness_rmtree(fx.dir);
	free(fx.dir);
	free(fx.state);
	secret_wipe(&fx, sizeof(fx));
}

static struct tpm_ctx *open_tpm(void)
{
	struct tpm_ctx *t = NULL;
	char err[512] = "";

	cr_assert_eq(tpm_open(harness_swtpm_tcti(fx.tpm), &t, err, sizeof(err)), 0, "%s", err);
	return t;
}

/* Provision K (and OPc, SQN) into the fixture's state dir. */
static void provision(const uint8_t k[16], const uint8_t opc[16], uint64_t sqn)
{
	struct tpm_ctx *t = open_tpm();
	char err[512] = "";
	int r = tpm_usim_key_provision(t, fx.state, k);

	cr_assert_eq(r, 0, "tpm_usim_key_provision: %d %s", r, tpm_last_error(t));
	cr_assert_eq(usim_state_write(fx.state, IMPI, opc, sqn, err, sizeof(err)), 0, "%s", err);
	tpm_close(t);
}

static void assert_no_handles(void)
{
	struct tpm_ctx *t = open_tpm();
	size_t tr = 99, ss = 99;

	cr_assert_eq(tpm_count_handles(t, &tr, &ss), 0, "%s", tpm_last_error(t));
	cr_expect_eq(tr, 0, "%zu transient objects left in the TPM", tr);
	cr_expect_eq(ss, 0, "%zu sessions left in the TPM", ss);
	tpm_close(t);
}

Test(usim_tpm, milenage_in_tpm_equals_ts_35_208, .fini = fixture_fini)
{
	HARNESS_REQUIRE_SWTPM();
	fixture_start(&fx);
	for (size_t i = 0; i < ARRAY_SIZE(milenage_kats); i++) {
		struct kat_bytes b;
		struct tpm_ctx *t;
		struct tpm_usim_key *key = NULL;
		struct milenage_cipher c;
		struct milenage m;
		uint8_t opc[16], mac_a[8], mac_s[8], res[8], ak[6], ck[16], ik[16], aks[6];
		int set = milenage_kats[i].set;

		milenage_kat_decode(&milenage_kats[i], &b);
		provision(b.k, b.opc, 0);
		t = open_tpm();
		cr_assert_eq(tpm_usim_key_load(t, fx.state, &key), 0, "%s", tpm_last_error(t));
		tpm_usim_key_cipher(key, &c);
		cr_assert_eq(milenage_opc(&c, b.op, opc), 0, "%s", tpm_last_error(t));
		cr_expect_arr_eq(opc, b.opc, 16, "set %d OPc", set);
		cr_assert_eq(milenage_begin(&m, &c, b.opc, b.rand), 0);
		cr_assert_eq(milenage_f1(&m, b.sqn, b.amf, mac_a, mac_s), 0);
		cr_assert_eq(milenage_f2_f5(&m, res, ak), 0);
		cr_assert_eq(milenage_f3(&m, ck), 0);
		cr_assert_eq(milenage_f4(&m, ik), 0);
		cr_assert_eq(milenage_f5_star(&m, aks), 0);
		cr_expect_arr_eq(mac_a, b.f1, 8, "set %d f1", set);
		cr_expect_arr_eq(mac_s, b.f1s, 8, "set %d f1*", set);
		cr_expect_arr_eq(res, b.f2, 8, "set %d f2", set);
		cr_expect_arr_eq(ak, b.f5, 6, "set %d f5", set);
		cr_expect_arr_eq(ck, b.f3, 16, "set %d f3", set);
		cr_expect_arr_eq(ik, b.f4, 16, "set %d f4", set);
		cr_expect_arr_eq(aks, b.f5s, 6, "set %d f5*", set);
		milenage_end(&m);
		tpm_usim_key_free(key);
		tpm_close(t);
	}
	assert_no_handles();
}

static uint64_t sqn_on_disk(void)
{
	char err[256] = "";
	uint64_t v = 0;

	cr_assert_eq(usim_state_sqn_read(fx.state, &v, err, sizeof(err)), 0, "%s", err);
	return v;
}

Test(usim_tpm, challenge_then_replay_gives_auts, .fini = fixture_fini)
{
	struct usim *u = NULL;
	struct usim_result res;
	struct auc_vector v;
	char err[512] = "";
	struct milenage_cipher c;
	struct milenage m;
	uint8_t sqn_ms[6];

	HARNESS_REQUIRE_SWTPM();
	fixture_start(&fx);
	provision(fx.k, fx.opc, 31);
	cr_assert_eq(usim_tpm_open(harness_swtpm_tcti(fx.tpm), fx.state, &u, err, sizeof(err)), 0,
		     "%s", err);
	cr_expect_str_eq(usim_impi(u), IMPI);
	cr_expect_str_eq(usim_backend_name(u), "tpm");

	auc_make(fx.k, fx.opc, 32, &v);
	cr_assert_eq(usim_authenticate(u, v.rand, v.autn, &res), 0, "%s", usim_last_error(u));
	cr_assert_eq(res.result, AKA_RESULT_OK, "%s", aka_result_to_string(res.result));
	cr_assert_eq(res.res_len, 8);
	cr_expect_arr_eq(res.res, v.xres, 8, "RES differs from the AuC's XRES");
	cr_expect_arr_eq(res.ck, v.ck, 16, "CK differs");
	cr_expect_arr_eq(res.ik, v.ik, 16, "IK differs");
	cr_expect_eq(sqn_on_disk(), 32, "the accepted SQN is not on disk");
	usim_result_wipe(&res);

	/* The same challenge again: a replay. The USIM answers AUTS with its SQN_MS = 32. */
	cr_assert_eq(usim_authenticate(u, v.rand, v.autn, &res), 0, "%s", usim_last_error(u));
	cr_assert_eq(res.result, AKA_RESULT_SYNC_FAILURE);
	cr_assert_eq(milenage_cipher_software_new(fx.k, &c), 0);
	cr_assert_eq(milenage_begin(&m, &c, fx.opc, v.rand), 0);
	cr_assert_eq(aka_auts_open(&m, res.auts, sqn_ms), 0, "the AuC cannot verify the AUTS");
	cr_expect_eq(aka_sqn_get(sqn_ms), 32);
	milenage_end(&m);
	milenage_cipher_software_free(&c);
	cr_expect_eq(sqn_on_disk(), 32, "a refused challenge moved the SQN");

	/* After resync the AuC continues above SQN_MS, and it works again. */
	auc_make(fx.k, fx.opc, 33, &v);
	cr_assert_eq(usim_authenticate(u, v.rand, v.autn, &res), 0, "%s", usim_last_error(u));
	cr_expect_eq(res.result, AKA_RESULT_OK);
	cr_expect_eq(sqn_on_disk(), 33);
	usim_result_wipe(&res);
	usim_free(u);
	assert_no_handles();
}

Test(usim_tpm, wrong_k_is_mac_failure, .fini = fixture_fini)
{
	struct usim *u = NULL;
	struct usim_result res;
	struct auc_vector v;
	uint8_t other[16];
	char err[512] = "";

	HARNESS_REQUIRE_SWTPM();
	fixture_start(&fx);
	memcpy(other, fx.k, 16);
	other[0] ^= 0x01;
	provision(other, fx.opc, 0);
	cr_assert_eq(usim_tpm_open(harness_swtpm_tcti(fx.tpm), fx.state, &u, err, sizeof(err)), 0,
		     "%s", err);
	auc_make(fx.k, fx.opc, 1, &v);
	cr_assert_eq(usim_authenticate(u, v.rand, v.autn, &res), 0, "%s", usim_last_error(u));
	cr_expect_eq(res.result, AKA_RESULT_MAC_FAILURE, "got %s", aka_result_to_string(res.result));
	cr_expect_eq(sqn_on_disk(), 0);
	usim_free(u);
	secret_wipe(other, sizeof(other));
}

/* Search every file under dir for the 16 raw bytes of k, and its hex. */
static int count_key_in_files(const char *dir, const uint8_t k[16])
{
	char hex_lo[33], path[4096];
	struct dirent *e;
	DIR *d = opendir(dir);
	int hits = 0;

	cr_assert_not_null(d, "cannot open %s", dir);
	tohex(k, 16, hex_lo);
	while ((e = readdir(d))) {
		struct stat st;
		char *data = NULL;
		size_t len = 0;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (lstat(path, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			hits += count_key_in_files(path, k);
			continue;
		}
		if (!S_ISREG(st.st_mode) || harness_read_file(path, &data, &len) < 0)
			continue;
		if (memmem(data, len, k, 16) || memmem(data, len, hex_lo, 32)) {
			fprintf(stderr, "K found in %s\n", path);
			hits++;
		}
		free(data);
	}
	closedir(d);
	return hits;
}

Test(usim_tpm, k_in_no_file_and_state_files_private, .fini = fixture_fini)
{
	struct usim *u = NULL;
	struct usim_result res;
	struct auc_vector v;
	char err[512] = "";
	const char *files[] = { TPM_USIM_PUB_FILE, TPM_USIM_PRIV_FILE, USIM_CONF_FILE,
				USIM_OPC_FILE, USIM_SQN_FILE };

	HARNESS_REQUIRE_SWTPM();
	fixture_start(&fx);
	provision(fx.k, fx.opc, 0);
	cr_assert_eq(usim_tpm_open(harness_swtpm_tcti(fx.tpm), fx.state, &u, err, sizeof(err)), 0,
		     "%s", err);
	auc_make(fx.k, fx.opc, 1, &v);
	cr_assert_eq(usim_authenticate(u, v.rand, v.autn, &res), 0, "%s", usim_last_error(u));
	cr_assert_eq(res.result, AKA_RESULT_OK);
	usim_free(u);
	cr_expect_eq(count_key_in_files(fx.dir, fx.k), 0, "K is in a file in clear");
	cr_expect_eq(count_key_in_files(harness_swtpm_state_dir(fx.tpm), fx.k), 0,
		     "K is in the TPM's state in clear");
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		struct stat st;
		char *p = harness_strdupf("%s/%s", fx.state, files[i]);

		cr_assert_eq(stat(p, &st), 0, "%s missing", p);
		cr_expect_eq(st.st_mode & 0777, 0600, "%s has mode %o", p, st.st_mode & 0777);
		free(p);
	}
	usim_result_wipe(&res);
}

Test(usim_tpm, not_provisioned_names_the_fix, .fini = fixture_fini)
{
	struct usim *u = NULL;
	char err[512] = "";

	HARNESS_REQUIRE_SWTPM();
	fixture_start(&fx);
	cr_expect_eq(usim_tpm_open(harness_swtpm_tcti(fx.tpm), fx.state, &u, err, sizeof(err)),
		     -ENOENT);
	cr_expect_null(u);
	cr_expect(strstr(err, "m2msactl usim provision"), "message: %s", err);
}

/* Run m2msactl from the build tree; returns the exit status, stdout/stderr in out/err (free()). */
static int ctl(char **out, char **err, const char *const *args)
{
	const char *b = getenv("BUILDDIR");
	char *bin;
	const char *argv[16];
	size_t n = 0;
	int status = -1;

	cr_assert_not_null(b, "BUILDDIR is not set (run through meson test)");
	bin = harness_strdupf("%s/m2msactl/m2msactl", b);
	argv[n++] = bin;
	for (size_t i = 0; args[i] && n < ARRAY_SIZE(argv) - 1; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	cr_assert_eq(harness_run(argv, NULL, NULL, &status, out, err), 0);
	free(bin);
	return status;
}

Test(usim_tpm, m2msactl_usim_provision_and_check, .fini = fixture_fini)
{
	struct kat_bytes b;
	char *kf, *opf, *badf, *tcti, *out = NULL, *err = NULL, *opc_path, *opc = NULL;
	size_t opc_len = 0;
	int st;

	HARNESS_REQUIRE_SWTPM();
	fixture_start(&fx);
	milenage_kat_decode(&milenage_kats[0], &b);
	memcpy(fx.k, b.k, 16); /* noted for the log scan */
	kf = harness_strdupf("%s/k.hex", fx.dir);
	opf = harness_strdupf("%s/op.hex", fx.dir);
	badf = harness_strdupf("%s/short.hex", fx.dir);
	tcti = harness_strdupf("%s", harness_swtpm_tcti(fx.tpm));
	cr_assert_eq(harness_write_file(kf, milenage_kats[0].k, 32, 0600), 0);
	cr_assert_eq(harness_write_file(opf, "cdc202d5 123e20f6\n2b6d676a c72cb318\n", 36, 0600), 0);
	cr_assert_eq(harness_write_file(badf, milenage_kats[0].k, 30, 0600), 0);

	{
		const char *a[] = { "usim", "provision", "--impi", IMPI, "--k-file", kf, "--op-file",
				    opf, "--sqn", "7", "--tcti", tcti, "--state-dir", fx.state, NULL };
		st = ctl(&out, &err, a);
		cr_assert_eq(st, 0, "provision failed: %s", err);
		free(out);
		free(err);
	}
	/* OPc was computed in the TPM from OP: TS 35.208 set 1's OPc. */
	opc_path = harness_strdupf("%s/" USIM_OPC_FILE, fx.state);
	cr_assert_eq(harness_read_file(opc_path, &opc, &opc_len), 0);
	cr_assert_eq(opc_len, 16);
	cr_expect_arr_eq(opc, b.opc, 16, "OPc computed in the TPM differs from TS 35.208 set 1");
	cr_expect_eq(sqn_on_disk(), 7);
	{
		const char *a[] = { "usim", "check", "--tcti", tcti, "--state-dir", fx.state, NULL };
		st = ctl(&out, &err, a);
		cr_expect_eq(st, 0, "check failed: %s", err);
		cr_expect(strstr(out, IMPI) && strstr(out, "SQN 7"), "check output: %s", out);
		free(out);
		free(err);
	}
	{
		const char *a[] = { "usim", "provision", "--impi", IMPI, "--k-file", kf, "--op-file",
				    opf, "--tcti", tcti, "--state-dir", fx.state, NULL };
		st = ctl(&out, &err, a);
		cr_expect_eq(st, 1, "a second provision without --force must fail");
		cr_expect(strstr(err, "--force"), "message: %s", err);
		free(out);
		free(err);
	}
	{
		const char *a[] = { "usim", "provision", "--impi", IMPI, "--k-file", badf,
				    "--opc-file", opf, "--force", "--tcti", tcti, "--state-dir",
				    fx.state, NULL };
		st = ctl(&out, &err, a);
		cr_expect_eq(st, 1);
		cr_expect(strstr(err, "wrong length for K: 30 hex digits"), "message: %s", err);
		free(out);
		free(err);
	}
	cr_expect_eq(sqn_on_disk(), 7, "a failed provision changed the state");
	free(kf);
	free(opf);
	free(badf);
	free(tcti);
	free(opc_path);
	free(opc);
}

/* E_K in both modes equals wolfCrypt's AES-128 on random blocks; swtpm keeps CBC (the
 * mode that hides the block on the wire). */
Test(usim_tpm, e_k_cbc_and_cfb_fallback_equal_software, .fini = fixture_fini)
{
	struct milenage_cipher sw;
	struct tpm_ctx *t;
	struct tpm_usim_key *key = NULL;

	HARNESS_REQUIRE_SWTPM();
	fixture_start(&fx);
	provision(fx.k, fx.opc, 0);
	cr_assert_eq(milenage_cipher_software_new(fx.k, &sw), 0);
	t = open_tpm();
	cr_assert_eq(tpm_usim_key_load(t, fx.state, &key), 0, "%s", tpm_last_error(t));
	for (int mode = TPM_USIM_MODE_CBC; mode < _TPM_USIM_MODE_MAX; mode++) {
		tpm_usim_key_set_mode(key, (enum tpm_usim_mode)mode);
		for (int i = 0; i < 20; i++) {
			uint8_t in[16], a[16], b[16];

			cr_assert_eq(crypto_random(in, 16), 0);
			cr_assert_eq(tpm_usim_key_encrypt(key, in, a), 0, "%s", tpm_last_error(t));
			cr_assert_eq(sw.encrypt(sw.ctx, in, b), 0);
			cr_assert_arr_eq(a, b, 16, "E_K differs in mode %d", mode);
		}
		cr_expect_eq(tpm_usim_key_mode(key), mode, "swtpm refused mode %d", mode);
	}
	tpm_usim_key_free(key);
	tpm_close(t);
	milenage_cipher_software_free(&sw);
	assert_no_handles();
}
