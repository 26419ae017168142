/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench-peer: end-to-end keys between AEs (docs/protocol.md §14) against
 * same-run baselines, on the real parts (swtpm with Km, m2masd, m2msad):
 * 1. resolve-key answered from the agent's warm cache vs get-key of a per-AE key,
 *    interleaved slices, ratio of the rates. Target >= 0.9.
 * 2. A first (cold) resolution, which the agent takes to the MAS, vs one
 *    establishment by the same agent (rekey -> new-key event), median of N each.
 *    Target <= 1.2. The keys to resolve are registered beforehand by a second,
 *    software node straight with the MAS (so none is in the agent's cache).
 * 3. seal + open of a 1 KiB message (JWE, sessionESPrimKey, replay cache) vs bare
 *    AES-256-GCM seal + open of the same size (common/crypto.c). Target >= 0.8.
 * Usage: bench-peer [seconds per round, default 2]  (root; BUILDDIR, SRCDIR set)
 */
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <m2msa/m2msa.h>

#include "agent/establish.h"
#include "bench-common.h"
#include "common/crypto.h"
#include "common/jwe.h"
#include "common/secret.h"
#include "harness.h"
#include "mas/keyfile.h"
#include "mas/store.h"

#define NODE "/mn-cse-bench"
#define OTHER "/mn-cse-other"
#define AE "Cbench1"
#define TARGET NODE "/Cbench2"
#define COLD_N 15

static uint8_t other_km[32];

static void add_other_node(void)
{
	char *db = bench_path("mas.db"), *mk = bench_path("master.key");
	_cleanup_secret_ struct secret *master = NULL;
	struct store_node n = { .n_methods = 1, .methods = { WIRE_METHOD_PSK } };
	struct store *s = NULL;

	snprintf(n.node_id, sizeof(n.node_id), OTHER);
	snprintf(n.km_id, sizeof(n.km_id), "km2@" BENCH_FQDN);
	if (mas_master_key_load(mk, &master) < 0 || store_open(db, master->data, &s) < 0 ||
	    crypto_random(other_km, 32) < 0 || store_node_add(s, &n, other_km) < 0)
		bench_die("cannot add the second node");
	store_close(s);
	free(db);
	free(mk);
}

/* Register a pairwise key from OTHER's Cx towards TARGET straight with the MAS. */
static void register_direct(WOLFSSL_CTX *ctx, char key_id[static WIRE_KEY_ID_MAX + 1])
{
	static const uint8_t psk[] = { WIRE_METHOD_PSK };
	struct kdf_sw_key sw = { other_km, 32 };
	struct wire_msg q = { .type = WIRE_MSG_PEER_REGISTER };
	struct establish_result res = { .kc = NULL };
	struct m2msa_err err;
	struct kdf_prf prf;
	char addr[32];

	kdf_prf_software(&sw, &prf);
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", bench.est_port);
	snprintf(q.peer_register.ae_id, sizeof(q.peer_register.ae_id), "Cx");
	snprintf(q.peer_register.target, sizeof(q.peer_register.target), TARGET);
	if (establish_run(ctx,
			  &(struct establish_params){ .mas_address = addr, .server_name = BENCH_FQDN,
						      .node_id = OTHER, .methods = psk, .n_methods = 1,
						      .timeout_ms = 5000, .peer_request = &q },
			  &prf, &res, &err) < 0)
		bench_die("direct registration failed: %s", err.msg);
	memcpy(key_id, res.key_id, WIRE_KEY_ID_MAX + 1);
	establish_result_clear(&res);
}

static double rate(struct m2msa *h, bool resolve, const char *kid, double secs)
{
	double t0 = bench_now(), t;
	long n = 0;

	do {
		for (int i = 0; i < 100; i++) {
			struct m2msa_key *k = NULL;
			int r = resolve ? m2msa_resolve_key(h, "Cbench2", kid, &k)
					: m2msa_get_key(h, AE, &k);

			if (r < 0)
				bench_die("%s failed: %s", resolve ? "resolve-key" : "get-key",
					  m2msa_last_error(h));
			m2msa_key_free(k);
		}
		n += 100;
		t = bench_now();
	} while (t - t0 < secs);
	return (double)n / (t - t0);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* One establishment by the agent: rekey, then wait for the subscriber's new key. */
static double one_establishment(struct m2msa *h, struct m2msa *sub)
{
	double t0 = bench_now();

	if (m2msa_rekey(h) < 0)
		bench_die("rekey refused");
	while (bench_now() - t0 < 10) {
		struct pollfd p = { .fd = m2msa_fd(sub), .events = POLLIN };
		enum m2msa_event_type t;
		struct m2msa_key *k = NULL;

		(void)poll(&p, 1, 1000);
		while (m2msa_read_event(sub, &t, &k) == 0) {
			bool done = t == M2MSA_EVENT_NEW_KEY;

			m2msa_key_free(k);
			k = NULL;
			if (done)
				return bench_now() - t0;
		}
	}
	bench_die("no new key within 10 s of a rekey");
}

static void cold_vs_establish(struct m2msa *h)
{
	char *ca = bench_path("pki/ca.crt"), err[256], kids[COLD_N][WIRE_KEY_ID_MAX + 1];
	WOLFSSL_CTX *ctx = tls_client_ctx_new(ca, NULL, NULL, err, sizeof(err));
	double cold[COLD_N], est[COLD_N];
	struct m2msa *sub = NULL;

	if (!ctx)
		bench_die("TLS context: %s", err);
	for (int i = 0; i < COLD_N; i++)
		register_direct(ctx, kids[i]);
	if (m2msa_open(bench.sock, &sub) < 0 || m2msa_subscribe(sub, AE) < 0)
		bench_die("cannot subscribe");
	for (int i = 0; i < COLD_N; i++) {
		struct m2msa_key *k = NULL;
		double t0 = bench_now();

		if (m2msa_resolve_key(h, "Cbench2", kids[i], &k) < 0)
			bench_die("cold resolve-key failed: %s", m2msa_last_error(h));
		cold[i] = bench_now() - t0;
		m2msa_key_free(k);
		est[i] = one_establishment(h, sub);
	}
	qsort(cold, COLD_N, sizeof(double), cmp_double);
	qsort(est, COLD_N, sizeof(double), cmp_double);
	printf("cold resolve-key (agent -> MAS): median %.2f ms; establishment: median %.2f ms\n",
	       cold[COLD_N / 2] * 1e3, est[COLD_N / 2] * 1e3);
	printf("RATIO peer-cold-resolve-vs-establish %.3f <=1.2\n", cold[COLD_N / 2] / est[COLD_N / 2]);
	m2msa_close(sub);
	wolfSSL_CTX_free(ctx);
	free(ca);
}

static void seal_open(struct m2msa *h, double secs)
{
	static uint8_t msg[1024];
	uint8_t key[32], sealed[1024 + CRYPTO_SEAL_OVERHEAD], out[1024], token[M2MSA_TOKEN_LEN];
	uint8_t ro[M2MSA_RAND_LEN], *opened;
	struct m2msa_key *ko = NULL, *kt = NULL;
	struct m2msa_replay *rp = NULL;
	double ours = 0, bare = 0, floor = 0;
	struct crypto_hmac_key hk;
	static uint8_t aad[512];
	size_t aad_len = 0;
	uint8_t cek[32];

	if (m2msa_get_peer_key(h, AE, TARGET, &ko) < 0 ||
	    m2msa_resolve_key(h, "Cbench2", m2msa_key_id(ko), &kt) < 0 ||
	    m2msa_replay_new(1u << 20, &rp) < 0)
		bench_die("cannot get the pairwise key: %s", m2msa_last_error(h));
	memcpy(key, m2msa_key_data(kt), 32);
	if (crypto_hmac_key_init(&hk, key, 32) < 0)
		bench_die("HMAC key");
	{
		/* The floor's additional data: as long as a real message's protected header. */
		char *j = NULL;

		if (m2msa_seal_request(ko, msg, sizeof(msg), &j, token) < 0)
			bench_die("seal failed");
		aad_len = strcspn(j, ".");
		if (aad_len > sizeof(aad))
			bench_die("protected header of %zu bytes", aad_len);
		memcpy(aad, j, aad_len);
		free(j);
	}
	for (int round = 0; round < 6; round++) {
		double t0 = bench_now(), t;
		long n = 0;

		do {
			for (int i = 0; i < 100; i++) {
				char *j = NULL;
				size_t len;

				if (m2msa_seal_request(ko, msg, sizeof(msg), &j, token) < 0 ||
				    m2msa_open_request(rp, kt, j, &opened, &len, ro) < 0)
					bench_die("seal/open failed");
				m2msa_free_message(opened, len);
				free(j);
			}
			n += 100;
			t = bench_now();
		} while (t - t0 < secs / 6);
		ours += (double)n / (t - t0);
		t0 = bench_now();
		n = 0;
		do {
			for (int i = 0; i < 100; i++)
				if (crypto_seal(key, (const uint8_t *)"h", 1, msg, sizeof(msg), sealed) <
					    0 ||
				    crypto_open(key, (const uint8_t *)"h", 1, sealed, sizeof(sealed), out) <
					    0)
					bench_die("AES-GCM failed");
			n += 100;
			t = bench_now();
		} while (t - t0 < secs / 6);
		bare += (double)n / (t - t0);
		/*
		 * The format's own floor: what TS-0003 and RFC 7516 make every message
		 * cost beyond bare AES-GCM, with nothing of ours around it: the
		 * sessionESPrimKey HMAC on each side and the protected header as
		 * additional data (GHASH over it on seal and on open).
		 */
		t0 = bench_now();
		n = 0;
		do {
			for (int i = 0; i < 100; i++)
				if (jwe_session_key_hk(&hk, ro, ro, cek) < 0 ||
				    crypto_seal(cek, aad, aad_len, msg, sizeof(msg), sealed) < 0 ||
				    jwe_session_key_hk(&hk, ro, ro, cek) < 0 ||
				    crypto_open(cek, aad, aad_len, sealed, sizeof(sealed), out) < 0)
					bench_die("AES-GCM failed");
			n += 100;
			t = bench_now();
		} while (t - t0 < secs / 6);
		floor += (double)n / (t - t0);
	}
	printf("1 KiB seal+open: JWE %.0f/s, bare AES-256-GCM %.0f/s, format floor (HMAC + "
	       "GCM with the %zu-byte header as AAD) %.0f/s\n",
	       ours / 6, bare / 6, aad_len, floor / 6);
	printf("format floor vs bare AES-256-GCM: %.3f (the most any implementation can reach)\n",
	       floor / bare);
	printf("RATIO peer-seal-open-1k %.3f >=0.8\n", ours / bare);
	printf("RATIO peer-seal-open-1k-vs-format-floor %.3f >=0.9\n", ours / floor);
	secret_wipe(cek, sizeof(cek));
	crypto_hmac_key_clear(&hk);
	secret_wipe(key, sizeof(key));
	m2msa_replay_free(rp);
	m2msa_key_free(ko);
	m2msa_key_free(kt);
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 2.0, sum_res = 0, sum_get = 0;
	struct m2msa *h = NULL;
	struct m2msa_key *k = NULL, *kt = NULL;

	if (!getenv("BUILDDIR") || !getenv("SRCDIR") || secs <= 0) {
		fprintf(stderr, "usage: BUILDDIR=... SRCDIR=... bench-peer [seconds per round]\n");
		return 2;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "bench-peer: run as root (the agent authorises uid 0 as any AE)\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	bench_start_key_service(NODE);
	add_other_node();
	for (int i = 0; i < 200 && m2msa_open(bench.sock, &h) < 0; i++)
		usleep(25000);
	if (!h || m2msa_get_key(h, AE, &k) < 0)
		bench_die("m2msad did not serve a key");
	m2msa_key_free(k);
	/* Warm: a key registered by this node towards its own Cbench2, resolved once. */
	if (m2msa_get_peer_key(h, AE, TARGET, &k) < 0 ||
	    m2msa_resolve_key(h, "Cbench2", m2msa_key_id(k), &kt) < 0)
		bench_die("cannot set up a pairwise key: %s", m2msa_last_error(h));
	for (int r = 0; r < 12; r++) {
		sum_res += rate(h, true, m2msa_key_id(k), secs / 4);
		sum_get += rate(h, false, NULL, secs / 4);
	}
	printf("warm resolve-key %.0f/s, get-key %.0f/s\n", sum_res / 12, sum_get / 12);
	printf("RATIO peer-warm-resolve-vs-get-key %.3f >=0.9\n", sum_res / sum_get);
	m2msa_key_free(k);
	m2msa_key_free(kt);
	cold_vs_establish(h);
	seal_open(h, secs);
	m2msa_close(h);
	bench_cleanup();
	secret_wipe(other_km, sizeof(other_km));
	return 0;
}
