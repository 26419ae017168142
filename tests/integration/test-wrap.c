/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Wrapped import of Km against a real swtpm: the software duplication blob
 * (tpm/dup.c) imports with TPM2_Import, tpm2-tools accepts it, and every kind of
 * bad input (another SRK, damaged blob, wrong curve, not an SRK) fails with its
 * message and leaves nothing in the state directory.
 */
#include <criterion/criterion.h>
#include <wolfssl/options.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <tss2/tss2_mu.h>
#include <unistd.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/random.h>

#include "common/crypto.h"
#include "common/secret.h"
#include "harness.h"
#include "secrets.h"
#include "tpm/dup.h"
#include "tpm/import.h"
#include "tpm/keystore.h"

#define NODE_ID "/mn-cse-wrap"
#define KM_ID "km-wrap@mas.example.org"
#define MSG "oneM2M: Km arrived wrapped"

struct fixture {
	struct harness_swtpm *tpm;
	char *dir;
	char *state;
	uint8_t km[TPM_KM_LEN];
};

static struct fixture fx;

static void fixture_start(struct fixture *f)
{
	HARNESS_REQUIRE_SWTPM();
	cr_assert_eq(harness_swtpm_start(NULL, &f->tpm), 0, "cannot start swtpm");
	cr_assert_eq(harness_tmpdir(&f->dir), 0);
	f->state = harness_strdupf("%s/state", f->dir);
	cr_assert_eq(crypto_random(f->km, sizeof(f->km)), 0);
}

static void fixture_fini(void)
{
	harness_swtpm_stop(fx.tpm);
	secrets_note(fx.km, sizeof(fx.km), "Km (test)");
	secrets_assert_logs_clean(fx.dir, NULL, NULL);
	if (fx.dir)
		harness_rmtree(fx.dir);
	free(fx.dir);
	free(fx.state);
	secret_wipe(fx.km, sizeof(fx.km));
	memset(&fx, 0, sizeof(fx));
}

static struct tpm_ctx *open_tpm(void)
{
	struct tpm_ctx *t = NULL;
	char err[512] = "";
	int r = tpm_open(harness_swtpm_tcti(fx.tpm), &t, err, sizeof(err));

	cr_assert_eq(r, 0, "tpm_open: %d %s", r, err);
	return t;
}

static char *hex(const uint8_t *b, size_t n)
{
	char *s = malloc(2 * n + 1);

	cr_assert_not_null(s);
	for (size_t i = 0; i < n; i++)
		sprintf(s + 2 * i, "%02x", b[i]);
	return s;
}

static char *tpm2_tool(const char *stdin_data, int *ret_status, char **ret_err,
		       const char *const *argv)
{
	char *tcti = harness_strdupf("TPM2TOOLS_TCTI=%s", harness_swtpm_tcti(fx.tpm));
	const char *env[] = { tcti, "TSS2_LOG=all+NONE", NULL };
	char *out = NULL, *err = NULL;
	int status = -1;

	cr_assert_eq(harness_run(argv, env, stdin_data, &status, &out, &err), 0);
	if (status != 0 && !ret_status)
		cr_assert_fail("%s failed (%d): %s", argv[0], status, err);
	if (ret_status)
		*ret_status = status;
	if (ret_err)
		*ret_err = err;
	else
		free(err);
	free(tcti);
	return out;
}

static void flush_transients(void)
{
	const char *fl[] = { "tpm2_flushcontext", "-t", NULL };

	free(tpm2_tool(NULL, NULL, NULL, fl));
}

/* The node's SRK public part, as m2msactl tpm-identity exports it. */
static void srk_public(TPM2B_PUBLIC *ret)
{
	struct tpm_ctx *t = open_tpm();

	cr_assert_eq(tpm_srk_identity(t, ret, NULL, NULL), 0, "%s", tpm_last_error(t));
	tpm_close(t);
}

static void wrap_to(const TPM2B_PUBLIC *srk, struct tpm_dup_blob *b)
{
	char err[TPM_DUP_ERR_MAX] = "";

	memset(b, 0, sizeof(*b));
	strcpy(b->node_id, NODE_ID);
	strcpy(b->km_id, KM_ID);
	cr_assert_eq(tpm_dup_wrap(srk, fx.km, NULL, b, err, sizeof(err)), 0, "%s", err);
}

static int import(const struct tpm_dup_blob *b, char *msg, size_t msg_len)
{
	struct tpm_ctx *t = open_tpm();
	int r = tpm_import_dup(t, fx.state, b);

	snprintf(msg, msg_len, "%s", tpm_last_error(t));
	tpm_close(t);
	return r;
}

static void assert_state_empty(void)
{
	struct stat st;

	cr_assert(stat(fx.state, &st) < 0 && errno == ENOENT,
		  "the state directory %s was written after a failed import", fx.state);
}

static void assert_tpm_hmac_matches(void)
{
	struct tpm_ctx *t = open_tpm();
	struct tpm_key *k = NULL;
	uint8_t got[32], want[32];

	cr_assert_eq(tpm_key_load(t, fx.state, &k), 0, "%s", tpm_last_error(t));
	cr_assert_str_eq(tpm_key_node_id(k), NODE_ID);
	cr_assert_str_eq(tpm_key_km_id(k), KM_ID);
	cr_assert_eq(tpm_key_hmac(k, (const uint8_t *)MSG, strlen(MSG), got), 0, "%s",
		     tpm_last_error(t));
	cr_assert_eq(crypto_hmac_sha256(fx.km, 32, (const uint8_t *)MSG, strlen(MSG), want), 0);
	cr_assert_eq(memcmp(got, want, 32), 0, "TPM2_HMAC with the imported key != HMAC(Km)");
	tpm_key_free(k);
	tpm_close(t);
}

Test(wrap, import_gives_km_in_the_tpm, .fini = fixture_fini)
{
	TPM2B_PUBLIC srk;
	struct tpm_dup_blob b, d;
	uint8_t file[TPM_DUP_FILE_MAX];
	char err[TPM_DUP_ERR_MAX] = "";
	size_t len;

	fixture_start(&fx);
	srk_public(&srk);
	wrap_to(&srk, &b);
	cr_assert_eq(tpm_dup_blob_encode(&b, file, sizeof(file), &len), 0);
	cr_assert_eq(tpm_dup_blob_decode(file, len, &d, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(import(&d, err, sizeof(err)), 0, "%s", err);
	assert_tpm_hmac_matches();
	/* The imported object is not fixedTPM/fixedParent (TPM2_Import refuses those). */
	cr_assert_eq(d.pub.publicArea.objectAttributes &
			     (TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT), 0);
	{
		struct tpm_ctx *t = open_tpm();
		size_t tr = 99, ss = 99;

		cr_assert_eq(tpm_count_handles(t, &tr, &ss), 0);
		cr_expect_eq(tr, 0, "%zu transient objects left", tr);
		cr_expect_eq(ss, 0, "%zu sessions left", ss);
		tpm_close(t);
	}
}

/* Write the three tpm2-tools files (tpm2_import -u / -i / -s) of a blob. */
static void write_tpm2_tools_files(const struct tpm_dup_blob *b, const char *pub,
				   const char *dpriv, const char *seed)
{
	uint8_t buf[sizeof(TPM2B_PUBLIC) + 8];
	size_t off = 0;

	cr_assert_eq(Tss2_MU_TPM2B_PUBLIC_Marshal(&b->pub, buf, sizeof(buf), &off), 0);
	cr_assert_eq(harness_write_file(pub, buf, off, 0600), 0);
	off = 0;
	cr_assert_eq(Tss2_MU_TPM2B_PRIVATE_Marshal(&b->dup, buf, sizeof(buf), &off), 0);
	cr_assert_eq(harness_write_file(dpriv, buf, off, 0600), 0);
	off = 0;
	cr_assert_eq(Tss2_MU_TPM2B_ENCRYPTED_SECRET_Marshal(&b->seed, buf, sizeof(buf), &off), 0);
	cr_assert_eq(harness_write_file(seed, buf, off, 0600), 0);
}

Test(wrap, tpm2_tools_import_load_hmac_accept_the_blob, .fini = fixture_fini)
{
	TPM2B_PUBLIC srk;
	struct tpm_dup_blob b;
	uint8_t want[32];
	char *primary, *pub, *dpriv, *seed, *priv, *kctx, *out, *want_hex;

	HARNESS_REQUIRE_TPM2_TOOLS();
	fixture_start(&fx);
	srk_public(&srk);
	wrap_to(&srk, &b);
	primary = harness_strdupf("%s/primary.ctx", fx.dir);
	pub = harness_strdupf("%s/dup.pub", fx.dir);
	dpriv = harness_strdupf("%s/dup.dpriv", fx.dir);
	seed = harness_strdupf("%s/dup.seed", fx.dir);
	priv = harness_strdupf("%s/imported.priv", fx.dir);
	kctx = harness_strdupf("%s/km.ctx", fx.dir);
	write_tpm2_tools_files(&b, pub, dpriv, seed);
	{
		/* The same storage primary tpm-identity exported (same template, owner seed). */
		const char *a1[] = { "tpm2_createprimary", "-Q", "-C", "o", "-g", "sha256", "-G",
				     "ecc256:aes128cfb", "-a",
				     "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|"
				     "restricted|decrypt|noda",
				     "-c", primary, NULL };
		const char *a2[] = { "tpm2_import", "-Q", "-C", primary, "-u", pub, "-i", dpriv,
				     "-s", seed, "-r", priv, NULL };
		const char *a3[] = { "tpm2_load", "-Q", "-C", primary, "-u", pub, "-r", priv, "-c",
				     kctx, NULL };
		const char *a4[] = { "tpm2_hmac", "-c", kctx, "--hex", NULL };

		free(tpm2_tool(NULL, NULL, NULL, a1));
		flush_transients();
		free(tpm2_tool(NULL, NULL, NULL, a2));
		flush_transients();
		free(tpm2_tool(NULL, NULL, NULL, a3));
		flush_transients();
		out = tpm2_tool(MSG, NULL, NULL, a4);
		flush_transients();
	}
	cr_assert_eq(crypto_hmac_sha256(fx.km, 32, (const uint8_t *)MSG, strlen(MSG), want), 0);
	want_hex = hex(want, 32);
	out[strcspn(out, "\r\n")] = '\0';
	cr_assert_str_eq(out, want_hex, "tpm2_hmac gave %s, HMAC(Km) is %s", out, want_hex);
	free(out);
	free(want_hex);
	free(primary);
	free(pub);
	free(dpriv);
	free(seed);
	free(priv);
	free(kctx);
}

/* A genuine P-256 storage key that is not this TPM's: fresh key made with wolfCrypt. */
static void other_srk(const TPM2B_PUBLIC *mine, TPM2B_PUBLIC *ret)
{
	ecc_key k;
	WC_RNG rng;
	word32 xl = 32, yl = 32;

	*ret = *mine;
	cr_assert_eq(wc_InitRng(&rng), 0);
	cr_assert_eq(wc_ecc_init(&k), 0);
	cr_assert_eq(wc_ecc_make_key_ex(&rng, 32, &k, ECC_SECP256R1), 0);
	cr_assert_eq(wc_ecc_export_public_raw(&k, ret->publicArea.unique.ecc.x.buffer, &xl,
					      ret->publicArea.unique.ecc.y.buffer, &yl),
		     0);
	ret->publicArea.unique.ecc.x.size = (UINT16)xl;
	ret->publicArea.unique.ecc.y.size = (UINT16)yl;
	wc_ecc_free(&k);
	wc_FreeRng(&rng);
}

Test(wrap, blob_for_another_srk_is_refused_by_name, .fini = fixture_fini)
{
	TPM2B_PUBLIC srk, other;
	struct tpm_dup_blob b;
	char msg[512];

	fixture_start(&fx);
	srk_public(&srk);
	other_srk(&srk, &other);
	wrap_to(&other, &b);
	cr_assert_eq(import(&b, msg, sizeof(msg)), -EXDEV, "%s", msg);
	cr_assert(strstr(msg, "the blob is wrapped to another storage key") &&
			  strstr(msg, "m2masctl node rewrap"),
		  "message: %s", msg);
	assert_state_empty();
}

Test(wrap, blob_for_another_srk_without_name_fails_in_the_tpm, .fini = fixture_fini)
{
	TPM2B_PUBLIC srk, other;
	struct tpm_dup_blob b;
	char msg[512];

	fixture_start(&fx);
	srk_public(&srk);
	other_srk(&srk, &other);
	wrap_to(&other, &b);
	b.parent_name.size = 0; /* as a tpm2-tools blob: no Name to compare, the TPM decides */
	cr_assert_eq(import(&b, msg, sizeof(msg)), -EBADMSG, "%s", msg);
	cr_assert_str_eq(msg, "the TPM refused the wrapped key: the blob is damaged, or was made "
			      "for another TPM's storage key (ask the provider to wrap Km again to "
			      "this node's srk.pub from m2msactl tpm-identity)");
	assert_state_empty();
}

Test(wrap, bit_flipped_blob_is_refused, .fini = fixture_fini)
{
	TPM2B_PUBLIC srk;
	struct tpm_dup_blob b, bad;
	char msg[512];
	/* a byte of the outer HMAC, of the encrypted sensitive area, of the seed point */
	const size_t dup_at[] = { 5, 40 };

	fixture_start(&fx);
	srk_public(&srk);
	wrap_to(&srk, &b);
	for (size_t i = 0; i < ARRAY_SIZE(dup_at); i++) {
		bad = b;
		bad.dup.buffer[dup_at[i]] ^= 0x01;
		cr_assert_eq(import(&bad, msg, sizeof(msg)), -EBADMSG, "dup[%zu]: %s", dup_at[i],
			     msg);
		cr_assert(strstr(msg, "the blob is damaged"), "message: %s", msg);
	}
	bad = b;
	bad.seed.secret[10] ^= 0x01;
	cr_assert_eq(import(&bad, msg, sizeof(msg)), -EBADMSG, "seed: %s", msg);
	cr_assert(strstr(msg, "the blob is damaged"), "message: %s", msg);
	bad = b;
	bad.pub.publicArea.unique.keyedHash.buffer[0] ^= 0x01; /* changes the object's Name */
	cr_assert_eq(import(&bad, msg, sizeof(msg)), -EBADMSG, "public: %s", msg);
	assert_state_empty();
}

Test(wrap, truncated_and_flipped_files_are_refused_by_the_decoder)
{
	TPM2B_PUBLIC srk = { 0 };
	struct tpm_dup_blob b = { 0 }, d;
	uint8_t file[TPM_DUP_FILE_MAX];
	char err[TPM_DUP_ERR_MAX];
	size_t len;

	/* A syntactically complete blob is enough for the decoder. */
	tpm_dup_km_template(NULL, &b.pub);
	strcpy(b.node_id, NODE_ID);
	strcpy(b.km_id, KM_ID);
	b.dup.size = 100;
	b.seed.size = 68;
	(void)srk;
	cr_assert_eq(tpm_dup_blob_encode(&b, file, sizeof(file), &len), 0);
	for (size_t cut = 0; cut < len; cut += 7) {
		cr_assert_eq(tpm_dup_blob_decode(file, cut, &d, err, sizeof(err)), -EBADMSG,
			     "a km.dup cut at %zu bytes was accepted", cut);
		if (cut >= 10)
			cr_assert(strstr(err, "truncated"), "cut %zu: %s", cut, err);
	}
	file[0] ^= 0x20;
	cr_assert_eq(tpm_dup_blob_decode(file, len, &d, err, sizeof(err)), -EBADMSG);
	cr_assert_str_eq(err, "not a km.dup file (it does not start with M2MSADUP; make one with "
			      "m2masctl node add --wrap-to)");
	file[0] ^= 0x20;
	file[len] = 0;
	cr_assert_eq(tpm_dup_blob_decode(file, len + 1, &d, err, sizeof(err)), -EBADMSG);
	cr_assert_str_eq(err, "the km.dup file has 1 unexpected bytes at its end (damaged? ask for "
			      "it again)");
}

/* Public part of a key tpm2_createprimary makes with key_alg and attrs, via tpm2_readpublic. */
static void tool_public(const char *key_alg, const char *attrs, uint8_t *buf, size_t *len)
{
	char *ctx = harness_strdupf("%s/k.ctx", fx.dir), *pub = harness_strdupf("%s/k.pub", fx.dir);
	const char *a1[] = { "tpm2_createprimary", "-Q", "-C", "o", "-G", key_alg, "-a", attrs,
			     "-c", ctx, NULL };
	const char *a2[] = { "tpm2_readpublic", "-Q", "-c", ctx, "-o", pub, NULL };
	char *data = NULL;
	size_t n = 0;

	free(tpm2_tool(NULL, NULL, NULL, a1));
	free(tpm2_tool(NULL, NULL, NULL, a2));
	flush_transients();
	cr_assert_eq(harness_read_file(pub, &data, &n), 0);
	cr_assert_leq(n, *len);
	memcpy(buf, data, n);
	*len = n;
	free(data);
	free(ctx);
	free(pub);
}

Test(wrap, srk_files_that_are_not_p256_srks_are_refused, .fini = fixture_fini)
{
	uint8_t buf[sizeof(TPM2B_PUBLIC)];
	TPM2B_PUBLIC p;
	char err[TPM_DUP_ERR_MAX];
	size_t len;

	HARNESS_REQUIRE_TPM2_TOOLS();
	fixture_start(&fx);
	len = sizeof(buf);
	tool_public("ecc384:aes128cfb",
		    "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|restricted|decrypt",
		    buf, &len);
	cr_assert_eq(tpm_srk_pub_parse(buf, len, &p, err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "wrong curve: the key uses NIST P-384, m2msa wraps to NIST P-256 "
			      "storage keys (use the srk.pub m2msactl tpm-identity writes)");
	len = sizeof(buf);
	tool_public("ecc256:ecdsa-sha256",
		    "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign", buf, &len);
	cr_assert_eq(tpm_srk_pub_parse(buf, len, &p, err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "not an SRK: the key is not a restricted decryption (storage) key "
			      "with AES-128-CFB and SHA-256 (an EK or signing key? use the srk.pub "
			      "m2msactl tpm-identity writes)");
	len = sizeof(buf);
	tool_public("rsa2048:aes128cfb",
		    "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|restricted|decrypt",
		    buf, &len);
	cr_assert_eq(tpm_srk_pub_parse(buf, len, &p, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "it is an RSA key, not ECC"), "%s", err);
	cr_assert_eq(tpm_srk_pub_parse(buf, len - 3, &p, err, sizeof(err)), -EBADMSG);
	cr_assert(strstr(err, "not a storage key's public part"), "%s", err);
}
