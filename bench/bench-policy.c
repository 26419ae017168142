/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench-policy: what signed PCR policies (TPM2_PolicyAuthorize) cost per use of Km.
 * Derivations per second through tpm/ with a Km under a signed policy (each use adds
 * PolicyRestart, PolicyPCR and PolicyAuthorize to the HMAC; the VerifySignature
 * ticket is kept) against the same derivation with a plain Km, same swtpm, same run.
 * Prints both rates and their ratio (signed / plain).
 * Usage: bench-policy [seconds-per-round, default 1]
 */
#include <wolfssl/options.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/random.h>

#include "common/crypto.h"
#include "common/kdf.h"
#include "harness.h"
#include "tpm/keystore.h"
#include "tpm/policy.h"

#define ROUNDS 3

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int rate(const char *tcti, const char *state, double secs, double *ret)
{
	struct tpm_ctx *t = NULL;
	struct tpm_key *k = NULL;
	struct kdf_prf prf;
	uint8_t ctx[112] = { 0 }, out[KDF_OUT_LEN];
	char err[512];
	double start;
	long n = 0;
	int r;

	if (tpm_open(tcti, &t, err, sizeof(err)) < 0 || tpm_key_load(t, state, &k) < 0) {
		fprintf(stderr, "bench-policy: %s\n", t ? tpm_last_error(t) : err);
		tpm_close(t);
		return -EIO;
	}
	tpm_key_prf(k, &prf);
	r = kdf_derive(&prf, "m2msa Kc", ctx, sizeof(ctx), out); /* warm-up: ticket */
	start = now();
	while (r == 0 && now() - start < secs) {
		r = kdf_derive(&prf, "m2msa Kc", ctx, sizeof(ctx), out);
		n++;
	}
	if (r < 0)
		fprintf(stderr, "bench-policy: %s\n", tpm_last_error(t));
	else
		*ret = (double)n / (now() - start);
	tpm_key_free(k);
	tpm_close(t);
	return r;
}

/* A signer key, Km provisioned under it, and a signed policy for PCRs 0,7 (zero in swtpm). */
static int setup_signed(struct tpm_ctx *t, const char *state, const uint8_t km[32])
{
	struct tpm_signed_policy p = { .epoch = 1, .pcr_mask = 1u << 0 | 1u << 7 };
	uint8_t der[256], x[32], y[32];
	char pem[512] = "", *text = NULL, err[TPM_POLICY_ERR_MAX], *path;
	word32 xl = 32, yl = 32;
	TPM2B_PUBLIC signer;
	ecc_key key;
	WC_RNG rng;
	int n, r;

	if (wc_InitRng(&rng) || wc_ecc_init(&key) || wc_ecc_make_key_ex(&rng, 32, &key, ECC_SECP256R1))
		return -EIO;
	n = wc_EccKeyToDer(&key, der, sizeof(der));
	if (n <= 0 || wc_DerToPem(der, (word32)n, (byte *)pem, sizeof(pem) - 1, ECC_PRIVATEKEY_TYPE) <= 0 ||
	    wc_ecc_export_public_raw(&key, x, &xl, y, &yl))
		return -EIO;
	wc_ecc_free(&key);
	wc_FreeRng(&rng);
	tpm_policy_signer_public(x, y, &signer);
	r = tpm_provision_signed(t, state, "/bench-cse", "bench@mas.example", km, 32, &signer);
	if (r < 0) {
		fprintf(stderr, "bench-policy: %s\n", tpm_last_error(t));
		return r;
	}
	if (tpm_policy_sign(&p, pem, strlen(pem), &signer, err, sizeof(err)) < 0 ||
	    tpm_policy_format(&p, &text) < 0) {
		fprintf(stderr, "bench-policy: %s\n", err);
		return -EIO;
	}
	path = harness_strdupf("%s/%s/policy-1.pol", state, TPM_POLICY_DIR);
	r = harness_write_file(path, text, strlen(text), 0644);
	free(path);
	free(text);
	return r;
}

int main(int argc, char **argv)
{
	struct harness_swtpm *tpm = NULL;
	struct tpm_ctx *t = NULL;
	char *dir = NULL, *plain, *signd, err[512];
	double secs = argc > 1 ? atof(argv[1]) : 1.0, best_p = 0, best_s = 0;
	uint8_t km[32];
	int r = 1;

	if (secs <= 0)
		secs = 1.0;
	if (!harness_have_program("swtpm")) {
		fprintf(stderr, "bench-policy: swtpm is not installed (apt install swtpm)\n");
		return 77;
	}
	if (harness_swtpm_start(NULL, &tpm) < 0 || harness_tmpdir(&dir) < 0)
		return 1;
	plain = harness_strdupf("%s/plain", dir);
	signd = harness_strdupf("%s/signed", dir);
	if (crypto_random(km, sizeof(km)) < 0 ||
	    tpm_open(harness_swtpm_tcti(tpm), &t, err, sizeof(err)) < 0)
		goto out;
	if (tpm_provision(t, plain, "/bench-cse", "bench@mas.example", km, 32, NULL) < 0 ||
	    setup_signed(t, signd, km) < 0) {
		fprintf(stderr, "bench-policy: %s\n", tpm_last_error(t));
		goto out;
	}
	tpm_close(t);
	t = NULL;
	printf("bench-policy: swtpm %s, %d rounds of %.1f s each\n", harness_swtpm_tcti(tpm),
	       ROUNDS, secs);
	for (int i = 0; i < ROUNDS; i++) {
		double p = 0, s = 0;

		if (rate(harness_swtpm_tcti(tpm), plain, secs, &p) < 0 ||
		    rate(harness_swtpm_tcti(tpm), signd, secs, &s) < 0)
			goto out;
		printf("  round %d: plain Km %8.1f/s   Km under a signed policy %8.1f/s\n", i + 1, p, s);
		best_p = p > best_p ? p : best_p;
		best_s = s > best_s ? s : best_s;
	}
	printf("plain Km:               %.1f derivations/s\n", best_p);
	printf("under a signed policy:  %.1f derivations/s\n", best_s);
	printf("RATIO signed-policy-derive-throughput %.3f\n", best_s / best_p);
	r = 0;
out:
	tpm_close(t);
	harness_swtpm_stop(tpm);
	harness_rmtree(dir);
	free(dir);
	free(plain);
	free(signd);
	return r;
}
