/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench-pki: establishment latency of method pki against method psk and against a
 * bare TLS 1.3 handshake, in one run, all against the real m2masd on 127.0.0.1
 * with the node's keys in swtpm:
 *   bare   TLS 1.3 ECDHE-ECDSA handshake with a server holding the MAS certificate
 *   psk    establishment with Km in the TPM (4 TPM HMACs)
 *   pki    establishment with the TPM-held ECDSA key (1 TPM signature in the handshake)
 * The three are interleaved; prints each mean and the ratios pki/bare, pki/psk and
 * psk/bare as "RATIO name value target" lines for bench/run's table (targets below).
 * Usage: bench-pki [iterations, default 40]  (BUILDDIR and SRCDIR set, as in bench/run)
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/establish.h"
#include "bench-common.h"
#include "common/tls.h"
#include "harness.h"
#include "tpm/keystore.h"
#include "tpm/signkey.h"
#include "tpm/tpm-ctx.h"

#define NODE "/mn-cse-bench"

/* Km into the TPM, then the signing key, CSR, certificate from the node CA (m2msactl + openssl). */
static void enrol(void)
{
	const char *dir = bench.dir, *builddir = bench.builddir;
	char *state = bench_path("node"), *conf = bench_path("node.conf"), *text, *cmd;

	bench_provision(NODE, NULL); /* closes it: swtpm serves one client at a time */
	text = harness_strdupf("[node]\nnode_id = " NODE "\nstate_dir = %s\ntcti = %s\n"
			       "[mas]\naddress = 127.0.0.1:1\nca = %s/pki/ca.crt\n"
			       "server_name = " BENCH_FQDN "\n",
			       state, harness_swtpm_tcti(bench.tpm), dir);
	if (harness_write_file(conf, text, strlen(text), 0644) < 0)
		bench_die("cannot write the node config");
	cmd = harness_strdupf("%s/m2msactl/m2msactl pki-keygen --config %s --out %s/node.csr "
			      "2>/dev/null && sh %s/tests/integration/mkcerts.sh sign-csr %s/pki "
			      "node-ca %s/node.csr %s/issued.crt && %s/m2msactl/m2msactl pki-install "
			      "--config %s --cert %s/issued.crt >/dev/null",
			      builddir, conf, dir, bench.srcdir, dir, dir, dir, builddir, conf, dir);
	if (system(cmd) != 0)
		bench_die("failed: %s", cmd);
	free(cmd);
	free(text);
	free(conf);
	free(state);
}

int main(int argc, char **argv)
{
	int iterations = argc > 1 ? atoi(argv[1]) : 40;
	struct tpm_ctx *t = NULL;
	struct tpm_key *k = NULL;
	struct tpm_signkey *sk = NULL;
	struct tls_signer signer = { tpm_signkey_tls_sign, NULL };
	struct kdf_prf prf;
	WOLFSSL_CTX *plain_ctx, *cert_ctx;
	static const uint8_t methods[] = { WIRE_METHOD_PSK, WIRE_METHOD_PKI };
	char err[512], *state, *ca, *node_cert, *node_ca;
	double t_bare = 0, t_psk = 0, t_pki = 0;
	uint16_t bare_port;

	if (iterations <= 0)
		bench_die("iterations must be positive");
	signal(SIGPIPE, SIG_IGN);
	bench_init_pki();
	bench_store(NODE, methods, 2);
	enrol();
	state = bench_path("node");
	if (tpm_open(harness_swtpm_tcti(bench.tpm), &t, err, sizeof(err)) < 0 ||
	    tpm_key_load(t, state, &k) < 0 || tpm_signkey_load(t, state, &sk) < 0)
		bench_die("cannot load the node's TPM keys");
	tpm_key_prf(k, &prf);
	signer.userdata = sk;
	node_ca = harness_strdupf("node_ca = %s/pki/node-ca.crt\n", bench.dir);
	bench_start_mas(BENCH_FQDN, node_ca, false);

	ca = bench_path("pki/ca.crt");
	node_cert = harness_strdupf("%s/" TPM_NODE_CERT_FILE, state);
	plain_ctx = tls_client_ctx_new(ca, NULL, NULL, err, sizeof(err));
	if (!plain_ctx)
		bench_die("%s", err);
	cert_ctx = tls_client_ctx_new_signer(ca, node_cert, NULL, &signer, err, sizeof(err));
	if (!cert_ctx)
		bench_die("%s", err);
	bare_port = bench_bare_server_start();

	/* Warm up every path once. */
	if (bench_bare_handshake(plain_ctx, bare_port) < 0 ||
	    bench_establish(plain_ctx, NODE, WIRE_METHOD_PSK, &prf) < 0 ||
	    bench_establish(cert_ctx, NODE, WIRE_METHOD_PKI, NULL) < 0)
		bench_die("warm-up failed");
	/* Interleave so that machine noise hits every path alike. */
	for (int i = 0; i < iterations; i++) {
		double a = bench_now();

		if (bench_bare_handshake(plain_ctx, bare_port) < 0)
			bench_die("bare handshake failed");
		t_bare += bench_now() - a;
		a = bench_now();
		if (bench_establish(plain_ctx, NODE, WIRE_METHOD_PSK, &prf) < 0)
			bench_die("psk establishment failed");
		t_psk += bench_now() - a;
		a = bench_now();
		if (bench_establish(cert_ctx, NODE, WIRE_METHOD_PKI, NULL) < 0)
			bench_die("pki establishment failed");
		t_pki += bench_now() - a;
	}
	printf("establishment latency (%d runs each, swtpm, m2masd on 127.0.0.1):\n", iterations);
	printf("  bare: TLS 1.3 ECDHE-ECDSA handshake, server certificate only  %8.2f ms\n",
	       1000 * t_bare / iterations);
	printf("  psk:  establishment, Km in the TPM (4 TPM HMACs)              %8.2f ms\n",
	       1000 * t_psk / iterations);
	printf("  pki:  establishment, TPM-held ECDSA key signs the handshake   %8.2f ms\n",
	       1000 * t_pki / iterations);
	/*
	 * Targets (measured on a 2-core VM with swtpm, release build, 3 runs of 40:
	 * pki/bare 1.73-1.78, pki/psk 0.26-0.30, psk/bare 5.7-6.8):
	 *  pki/bare <= 2.5  pki is the bare handshake plus the client certificate (one TPM
	 *                   signature, one verification at the MAS) and one round trip of
	 *                   CBOR with a store write; it must stay within 2.5 handshakes.
	 *  pki/psk  <= 1.0  one TPM command instead of four: pki must never be the slower.
	 *  psk/bare <= 10   four swtpm HMACs in salted sessions dominate; a fifth TPM command
	 *                   or a second session per HMAC would cross it.
	 */
	printf("  ratios: pki/bare %.2f (target <= 2.5), pki/psk %.2f (target <= 1.0), "
	       "psk/bare %.2f (target <= 10)\n",
	       t_pki / t_bare, t_pki / t_psk, t_psk / t_bare);
	printf("RATIO pki/bare %.3f <=2.5\n", t_pki / t_bare);
	printf("RATIO pki/psk %.3f <=1.0\n", t_pki / t_psk);
	printf("RATIO psk/bare %.3f <=10\n", t_psk / t_bare);

	bench_bare_server_stop();
	tpm_signkey_free(sk);
	tpm_key_free(k);
	tpm_close(t);
	bench_cleanup();
	wolfSSL_CTX_free(plain_ctx);
	wolfSSL_CTX_free(cert_ctx);
	free(state);
	free(ca);
	free(node_cert);
	free(node_ca);
	return 0;
}
