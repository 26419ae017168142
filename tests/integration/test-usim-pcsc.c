/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pcsc USIM backend against a real pcscd with vsmartcard's vpcd driver and
 * a virtual USIM card (tests/vcard/vusim.c, software Milenage): answers equal
 * software Milenage, MAC failure, AUTS after a replay, PIN needed, no EF_DIR,
 * no card, card pulled mid-exchange, no pcscd.
 *
 * pcscd's socket is fixed (/run/pcscd/pcscd.comm), so one pcscd runs at a time:
 * each test takes an flock, and skips when some other pcscd is already running.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../vcard/vusim.h"
#include "auc-fixture.h"
#include "common/crypto.h"
#include "common/secret.h"
#include "harness.h"
#include "pcsc-fixture.h"
#include "secrets.h"
#include "usim/usim.h"

#define IMPI "001010000000002@ims.mnc001.mcc001.3gppnetwork.org"

struct fixture {
	char *dir;
	int lock;
	pid_t pcscd;
	uint16_t port;
	struct vusim *card;
	struct usim *usim;
	uint8_t k[16], opc[16];
};

static struct fixture fx = { .lock = -1 };

static void fixture_start(struct fixture *f)
{
	f->lock = pcsc_fx_lock();
	cr_assert_eq(harness_tmpdir(&f->dir), 0);
	cr_assert_eq(crypto_random(f->k, 16), 0);
	cr_assert_eq(crypto_random(f->opc, 16), 0);
	pcsc_fx_start_pcscd(f->dir, &f->pcscd, &f->port);
}

static void stop_pcscd(struct fixture *f)
{
	if (f->pcscd > 0)
		harness_kill_wait(&f->pcscd, SIGTERM);
}

static void fixture_fini(void)
{
	usim_free(fx.usim);
	vusim_stop(fx.card);
	stop_pcscd(&fx);
	secrets_note(fx.k, 16, "USIM K (test)");
	if (fx.dir) {
		secrets_assert_logs_clean(fx.dir, NULL, NULL);
		harness_rmtree(fx.dir);
	}
	free(fx.dir);
	if (fx.lock >= 0)
		close(fx.lock);
	secret_wipe(&fx, sizeof(fx));
	fx.lock = -1;
}

static void insert_card(struct fixture *f, struct vusim_config *cfg)
{
	cfg->port = f->port;
	memcpy(cfg->k, f->k, 16);
	memcpy(cfg->opc, f->opc, 16);
	cr_assert_eq(vusim_start(cfg, &f->card), 0, "the virtual card cannot reach vpcd");
}

/* pcscd notices a new card on its next poll: retry the open for up to 5 s. */
static int open_usim_impi(struct fixture *f, const char *impi, char *err, size_t err_len)
{
	const struct timespec pause = { 0, 100 * 1000 * 1000 };
	int r = -ENODEV;

	for (int i = 0; i < 50; i++) {
		r = usim_pcsc_open(NULL, impi, &f->usim, err, err_len);
		/* A re-inserted card: until pcscd's next poll the old one looks pulled. */
		if (r != -ENODEV && r != -ENXIO)
			break;
		nanosleep(&pause, NULL);
	}
	return r;
}

static int open_usim(struct fixture *f, char *err, size_t err_len)
{
	return open_usim_impi(f, IMPI, err, err_len);
}

Test(usim_pcsc, answers_equal_software_milenage_then_replay_gives_auts, .fini = fixture_fini)
{
	struct vusim_config cfg = { .sqn = 100 };
	struct usim_result res;
	struct auc_vector v;
	struct milenage_cipher c;
	struct milenage m;
	uint8_t sqn_ms[6];
	char err[512] = "";
	int r;

	fixture_start(&fx);
	insert_card(&fx, &cfg);
	r = open_usim(&fx, err, sizeof(err));
	cr_assert_eq(r, 0, "usim_pcsc_open: %d %s", r, err);
	cr_expect_str_eq(usim_backend_name(fx.usim), "pcsc");
	cr_expect_str_eq(usim_impi(fx.usim), IMPI);

	auc_make(fx.k, fx.opc, 101, &v);
	r = usim_authenticate(fx.usim, v.rand, v.autn, &res);
	cr_assert_eq(r, 0, "%d %s", r, usim_last_error(fx.usim));
	cr_assert_eq(res.result, AKA_RESULT_OK, "%s", aka_result_to_string(res.result));
	cr_assert_eq(res.res_len, 8);
	cr_expect_arr_eq(res.res, v.xres, 8, "RES differs from XRES");
	cr_expect_arr_eq(res.ck, v.ck, 16, "CK differs");
	cr_expect_arr_eq(res.ik, v.ik, 16, "IK differs");
	cr_expect_eq(vusim_sqn(fx.card), 101);
	usim_result_wipe(&res);

	r = usim_authenticate(fx.usim, v.rand, v.autn, &res);
	cr_assert_eq(r, 0, "%d %s", r, usim_last_error(fx.usim));
	cr_assert_eq(res.result, AKA_RESULT_SYNC_FAILURE, "%s", aka_result_to_string(res.result));
	cr_assert_eq(milenage_cipher_software_new(fx.k, &c), 0);
	cr_assert_eq(milenage_begin(&m, &c, fx.opc, v.rand), 0);
	cr_assert_eq(aka_auts_open(&m, res.auts, sqn_ms), 0, "the AuC cannot verify the AUTS");
	cr_expect_eq(aka_sqn_get(sqn_ms), 101);
	milenage_end(&m);
	milenage_cipher_software_free(&c);
	cr_expect_eq(vusim_auth_count(fx.card), 2);
}

Test(usim_pcsc, wrong_network_key_is_mac_failure, .fini = fixture_fini)
{
	struct vusim_config cfg = { 0 };
	struct usim_result res;
	struct auc_vector v;
	uint8_t other[16];
	char err[512] = "";

	fixture_start(&fx);
	insert_card(&fx, &cfg);
	cr_assert_eq(open_usim(&fx, err, sizeof(err)), 0, "%s", err);
	memcpy(other, fx.k, 16);
	other[15] ^= 0x80;
	auc_make(other, fx.opc, 1, &v);
	cr_assert_eq(usim_authenticate(fx.usim, v.rand, v.autn, &res), 0, "%s",
		     usim_last_error(fx.usim));
	cr_expect_eq(res.result, AKA_RESULT_MAC_FAILURE, "%s", aka_result_to_string(res.result));
	cr_expect_eq(vusim_sqn(fx.card), 0);
}

Test(usim_pcsc, no_ef_dir_uses_the_partial_aid, .fini = fixture_fini)
{
	struct vusim_config cfg = { .no_ef_dir = true };
	struct usim_result res;
	struct auc_vector v;
	char err[512] = "";

	fixture_start(&fx);
	insert_card(&fx, &cfg);
	cr_assert_eq(open_usim(&fx, err, sizeof(err)), 0, "%s", err);
	auc_make(fx.k, fx.opc, 5, &v);
	cr_assert_eq(usim_authenticate(fx.usim, v.rand, v.autn, &res), 0, "%s",
		     usim_last_error(fx.usim));
	cr_expect_eq(res.result, AKA_RESULT_OK);
	usim_result_wipe(&res);
}

Test(usim_pcsc, pin_needed_is_named, .fini = fixture_fini)
{
	struct vusim_config cfg = { .pin_required = true };
	struct usim_result res;
	struct auc_vector v;
	char err[512] = "";

	fixture_start(&fx);
	insert_card(&fx, &cfg);
	cr_assert_eq(open_usim(&fx, err, sizeof(err)), 0, "%s", err);
	auc_make(fx.k, fx.opc, 1, &v);
	cr_expect_eq(usim_authenticate(fx.usim, v.rand, v.autn, &res), -EACCES);
	cr_expect(strstr(usim_last_error(fx.usim), "PIN"), "message: %s",
		  usim_last_error(fx.usim));
}

Test(usim_pcsc, card_pulled_mid_exchange, .fini = fixture_fini)
{
	struct vusim_config cfg = { .drop_on_auth = true };
	struct usim_result res;
	struct auc_vector v;
	char err[512] = "";
	int r;

	fixture_start(&fx);
	insert_card(&fx, &cfg);
	cr_assert_eq(open_usim(&fx, err, sizeof(err)), 0, "%s", err);
	auc_make(fx.k, fx.opc, 1, &v);
	r = usim_authenticate(fx.usim, v.rand, v.autn, &res);
	cr_expect_eq(r, -ENXIO, "got %d: %s", r, usim_last_error(fx.usim));
	cr_expect(strstr(usim_last_error(fx.usim), "removed"), "message: %s",
		  usim_last_error(fx.usim));
	cr_expect_eq(vusim_auth_count(fx.card), 1, "the command did not reach the card");
}

Test(usim_pcsc, no_card_and_no_pcscd, .fini = fixture_fini)
{
	char err[512] = "";
	int r;

	fixture_start(&fx);
	r = usim_pcsc_open(NULL, IMPI, &fx.usim, err, sizeof(err));
	cr_expect_eq(r, -ENODEV, "got %d: %s", r, err);
	cr_expect(strstr(err, "no card"), "message: %s", err);
	r = usim_pcsc_open("m2msa test vpcd 00 00", IMPI, &fx.usim, err, sizeof(err));
	cr_expect_eq(r, -ENODEV, "got %d: %s", r, err);
	cr_expect(strstr(err, "no card in reader 'm2msa test vpcd 00 00'"), "message: %s", err);
	r = usim_pcsc_open("no such reader", IMPI, &fx.usim, err, sizeof(err));
	cr_expect_eq(r, -ENODEV, "got %d: %s", r, err);
	cr_expect(strstr(err, "no reader named 'no such reader'"), "message: %s", err);
	stop_pcscd(&fx);
	r = usim_pcsc_open(NULL, IMPI, &fx.usim, err, sizeof(err));
	cr_expect_eq(r, -ENODEV, "got %d: %s", r, err);
	cr_expect(strstr(err, "pcscd is not running"), "message: %s", err);
	cr_expect_eq(usim_pcsc_open(NULL, "bad impi", &fx.usim, err, sizeof(err)), -EINVAL);
}

/* No IMPI configured: TS 23.003 §13.3 from EF_IMSI and EF_AD. One card per test: a card
 * re-inserted on the same vpcd port is not always seen again in time. */
static void expect_impi_from_card(const struct vusim_config *c, const char *want)
{
	struct vusim_config cfg = *c;
	char err[512] = "";
	int r;

	fixture_start(&fx);
	insert_card(&fx, &cfg);
	r = open_usim_impi(&fx, NULL, err, sizeof(err));
	cr_assert_eq(r, 0, "%d %s", r, err);
	cr_expect_str_eq(usim_impi(fx.usim), want);
}

Test(usim_pcsc, impi_from_imsi_15_digits_3_digit_mnc, .fini = fixture_fini)
{
	const struct vusim_config cfg = { .imsi = "310150123456789", .mnc_len = 3 };

	expect_impi_from_card(&cfg, "310150123456789@ims.mnc150.mcc310.3gppnetwork.org");
}

Test(usim_pcsc, impi_from_imsi_14_digits_2_digit_mnc, .fini = fixture_fini)
{
	const struct vusim_config cfg = { .imsi = "23415099999999", .mnc_len = 2 };

	expect_impi_from_card(&cfg, "23415099999999@ims.mnc015.mcc234.3gppnetwork.org");
}

Test(usim_pcsc, impi_from_imsi_needs_the_pin, .fini = fixture_fini)
{
	struct vusim_config cfg = { .pin_required = true };
	char err[512] = "";
	int r;

	fixture_start(&fx);
	insert_card(&fx, &cfg);
	r = open_usim_impi(&fx, NULL, err, sizeof(err));
	cr_expect_eq(r, -EACCES, "%d %s", r, err);
	cr_expect(strstr(err, "EF_IMSI") && strstr(err, "PIN"), "message: %s", err);
}

/* m2msactl usim check --pcsc: the card, its USIM and the IMPI from its IMSI. */
Test(usim_pcsc, m2msactl_usim_check_pcsc, .fini = fixture_fini)
{
	struct vusim_config cfg = { .imsi = "001010123456789" };
	const char *b = getenv("BUILDDIR");
	char *bin, *out = NULL, *err = NULL;
	int status = -1;

	cr_assert_not_null(b, "BUILDDIR is not set (run through meson test)");
	fixture_start(&fx);
	insert_card(&fx, &cfg);
	bin = harness_strdupf("%s/m2msactl/m2msactl", b);
	/* pcscd notices the card on its next poll: retry for up to 5 s. */
	for (int i = 0; i < 50; i++) {
		const char *argv[] = { bin, "usim", "check", "--pcsc", NULL };
		const struct timespec pause = { 0, 100 * 1000 * 1000 };

		free(out);
		free(err);
		cr_assert_eq(harness_run(argv, NULL, NULL, &status, &out, &err), 0);
		if (status == 0)
			break;
		nanosleep(&pause, NULL);
	}
	cr_expect_eq(status, 0, "usim check --pcsc: %s", err);
	cr_expect(strstr(out, "IMPI 001010123456789@ims.mnc001.mcc001.3gppnetwork.org"),
		  "output: %s", out);
	free(out);
	free(err);
	free(bin);
}
