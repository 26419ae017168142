/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench-usim: AKA challenges per second through the tpm USIM backend (usim/,
 * K in swtpm, SQN persisted per challenge) against, in the same run:
 *   - software Milenage (aka_usim_run with K in memory): what the TPM costs;
 *   - a bare loop of the same five TPM2_EncryptDecrypt2 calls per challenge
 *     (tpm_usim_key_encrypt): what the backend adds around the TPM (the SQN
 *     write with fsync, the lock, the file reads).
 * Prints the rates, the per-challenge time, and two RATIO lines.
 * Usage: bench-usim [seconds-per-round, default 1]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/aka.h"
#include "common/crypto.h"
#include "common/secret.h"
#include "harness.h"
#include "tpm/usimkey.h"
#include "usim/usim-state.h"
#include "usim/usim.h"

#define ROUNDS 3
#define VECTORS 4000
#define IMPI "bench@ims.mnc001.mcc001.3gppnetwork.org"

struct vec {
	uint8_t rand[16], autn[16];
};

static uint8_t k[16], opc[16];
static struct vec *vecs;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The AuC's vectors, SQN 1, 2, ... (software Milenage). */
static int make_vectors(void)
{
	static const uint8_t amf[2] = { 0x80, 0x00 };
	struct milenage_cipher c;
	int r;

	vecs = calloc(VECTORS, sizeof(*vecs));
	if (!vecs)
		return -ENOMEM;
	r = milenage_cipher_software_new(k, &c);
	for (size_t i = 0; r == 0 && i < VECTORS; i++) {
		struct milenage m;
		uint8_t sqn[6];

		aka_sqn_put(i + 1, sqn);
		r = crypto_random(vecs[i].rand, 16);
		if (r == 0)
			r = milenage_begin(&m, &c, opc, vecs[i].rand);
		if (r == 0) {
			r = aka_autn_make(&m, sqn, amf, vecs[i].autn);
			milenage_end(&m);
		}
	}
	milenage_cipher_software_free(&c);
	return r;
}

static int run_software(double secs, double *ret_rate)
{
	struct milenage_cipher c;
	struct aka_usim_out o;
	double start, end = 0;
	size_t n = 0;
	int r;

	r = milenage_cipher_software_new(k, &c);
	start = end = now();
	do {
		for (int i = 0; i < 100 && r == 0; i++, n++) {
			r = aka_usim_run(&c, opc, vecs[n % VECTORS].rand, vecs[n % VECTORS].autn, 0,
					 AKA_SQN_MAX, &o);
			if (r == 0 && o.result != AKA_RESULT_OK)
				r = -EBADMSG;
			aka_usim_out_wipe(&o);
		}
		end = now();
	} while (r == 0 && end - start < secs);
	milenage_cipher_software_free(&c);
	*ret_rate = (double)n / (end - start);
	return r;
}

static int run_backend(const char *tcti, const char *state, size_t *next, double secs,
		       double *ret_rate)
{
	struct usim *u = NULL;
	struct usim_result res;
	char err[512];
	double start, end = 0;
	size_t n = 0;
	int r;

	r = usim_tpm_open(tcti, state, &u, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "bench-usim: %s\n", err);
		return r;
	}
	start = end = now();
	do {
		if (*next >= VECTORS) {
			fprintf(stderr, "bench-usim: out of vectors; shorten the rounds\n");
			r = -ENOSPC;
			break;
		}
		r = usim_authenticate(u, vecs[*next].rand, vecs[*next].autn, &res);
		if (r == 0 && res.result != AKA_RESULT_OK)
			r = -EBADMSG;
		usim_result_wipe(&res);
		(*next)++;
		n++;
		end = now();
	} while (r == 0 && end - start < secs);
	if (r < 0)
		fprintf(stderr, "bench-usim: challenge %zu: %d %s\n", *next, r, usim_last_error(u));
	usim_free(u);
	*ret_rate = (double)n / (end - start);
	return r;
}

/* Five E_K calls per challenge, as aka_usim_run makes for a successful one. */
static int run_bare(const char *tcti, const char *state, double secs, double *ret_rate)
{
	struct tpm_ctx *t = NULL;
	struct tpm_usim_key *key = NULL;
	uint8_t block[16] = { 0 };
	char err[512];
	double start, end = 0;
	size_t n = 0;
	int r;

	r = tpm_open(tcti, &t, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "bench-usim: %s\n", err);
		return r;
	}
	r = tpm_usim_key_load(t, state, &key);
	if (r == 0)
		r = tpm_usim_key_encrypt(key, block, block); /* warm-up: the session starts here */
	start = end = now();
	do {
		for (int i = 0; i < 5 && r == 0; i++)
			r = tpm_usim_key_encrypt(key, block, block);
		n++;
		end = now();
	} while (r == 0 && end - start < secs);
	if (r < 0)
		fprintf(stderr, "bench-usim: %s\n", tpm_last_error(t));
	secret_wipe(block, sizeof(block));
	tpm_usim_key_free(key);
	tpm_close(t);
	*ret_rate = (double)n / (end - start);
	return r;
}

static int provision(const char *tcti, const char *state)
{
	struct tpm_ctx *t = NULL;
	char err[512];
	int r;

	r = tpm_open(tcti, &t, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "bench-usim: %s\n", err);
		return r;
	}
	r = tpm_usim_key_provision(t, state, k);
	if (r < 0)
		fprintf(stderr, "bench-usim: %s\n", tpm_last_error(t));
	tpm_close(t);
	if (r == 0)
		r = usim_state_write(state, IMPI, opc, 0, err, sizeof(err));
	if (r < 0 && err[0])
		fprintf(stderr, "bench-usim: %s\n", err);
	return r;
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 1.0, sw = 0, be = 0, bare = 0;
	double best_sw = 0, best_be = 0, best_bare = 0;
	struct harness_swtpm *tpm = NULL;
	char *dir = NULL, *state = NULL;
	size_t next = 0;
	int r;

	if (secs <= 0 || secs > 5) {
		fprintf(stderr, "usage: bench-usim [seconds-per-round, 0 < s <= 5]\n");
		return 2;
	}
	r = crypto_random(k, 16);
	if (r == 0)
		r = crypto_random(opc, 16);
	if (r == 0)
		r = make_vectors();
	if (r == 0)
		r = harness_swtpm_start(NULL, &tpm);
	if (r == 0)
		r = harness_tmpdir(&dir);
	if (r == 0) {
		state = harness_strdupf("%s/state", dir);
		r = provision(harness_swtpm_tcti(tpm), state);
	}
	for (int round = 0; r == 0 && round < ROUNDS; round++) {
		r = run_software(secs, &sw);
		if (r == 0)
			r = run_backend(harness_swtpm_tcti(tpm), state, &next, secs, &be);
		if (r == 0)
			r = run_bare(harness_swtpm_tcti(tpm), state, secs, &bare);
		if (r == 0) {
			printf("round %d: software %.0f/s, tpm backend %.1f/s, bare 5x EncryptDecrypt2 "
			       "%.1f/s\n", round + 1, sw, be, bare);
			best_sw = sw > best_sw ? sw : best_sw;
			best_be = be > best_be ? be : best_be;
			best_bare = bare > best_bare ? bare : best_bare;
		}
	}
	harness_swtpm_stop(tpm);
	if (dir)
		harness_rmtree(dir);
	free(dir);
	free(state);
	free(vecs);
	secret_wipe(k, sizeof(k));
	secret_wipe(opc, sizeof(opc));
	if (r < 0) {
		fprintf(stderr, "bench-usim: failed (%d)\n", r);
		return 1;
	}
	printf("one challenge: software %.1f us, tpm backend %.2f ms (swtpm)\n", 1e6 / best_sw,
	       1e3 / best_be);
	/* What the TPM costs: informational floor (a swtpm challenge is ~100x software or worse). */
	printf("RATIO usim-tpm-vs-software %.6f >=0.000005\n", best_be / best_sw);
	/* What the backend adds around the five TPM calls (SQN fsync, lock, state reads). */
	printf("RATIO usim-tpm-vs-bare-tpm %.3f >=0.5\n", best_be / best_bare);
	return 0;
}
