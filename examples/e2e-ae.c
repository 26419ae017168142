/* SPDX-License-Identifier: Apache-2.0 */
/*
 * m2msa-e2e-ae: an AE that exchanges one sealed request and response with an AE
 * on another node, through the IN-CSE stand-in's mailbox, which forwards the
 * sealed messages without being able to read them (docs/protocol.md §14,
 * docs/libm2msa.md "Sealed messages"). Every connection to the stand-in is TLS
 * 1.3 PSK with the AE's own per-AE key; the end-to-end pairwise key comes from the
 * agent (originator: m2msa_get_peer_key; receiver: m2msa_resolve_key of the
 * request's kid).
 *
 *   m2msa-e2e-ae --connect HOST:PORT --ae Cae1 originator /mn-cse-2/Cae2 'request'
 *   m2msa-e2e-ae --connect HOST:PORT --ae Cae2 receiver 'response'
 */
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <m2msa/m2msa.h>

#include "common/frame.h"
#include "common/sa.h"
#include "common/secret.h"
#include "common/tls.h"

#define E2E_TIMEOUT_MS 10000
#define E2E_LINE_MAX 8192
#define E2E_WAIT_S 30

struct ae {
	const char *connect, *socket, *ae_id;
	struct m2msa *h;
	char identity[256];
	struct key32 psk;
};

static unsigned int psk_cb(WOLFSSL *ssl, const char *hint, char *identity, unsigned int id_max,
			   unsigned char *key, unsigned int key_max, const char **suite)
{
	const struct ae *a = wolfSSL_get_psk_callback_ctx(ssl);
	size_t n = a ? strlen(a->identity) : 0;

	(void)hint;
	if (!a || n >= id_max || key_max < KEY32_LEN)
		return 0;
	memcpy(identity, a->identity, n + 1);
	memcpy(key, a->psk.b, KEY32_LEN);
	*suite = SA_SUITE_PSK;
	return KEY32_LEN;
}

/* One line to the stand-in over TLS 1.3 PSK (the AE's own key), one line back into ret. */
static int ask(struct ae *a, const char *line, char *ret, size_t ret_len)
{
	int groups[] = { WOLFSSL_ECC_SECP256R1, WOLFSSL_ECC_X25519 };
	char host[256], terr[TLS_ERR_MAX];
	WOLFSSL_CTX *ctx = wolfSSL_CTX_new(wolfTLSv1_3_client_method());
	WOLFSSL *ssl = NULL;
	size_t n = 0;
	uint16_t port;
	int fd = -1, r = -EIO;

	if (!ctx || tcp_parse_hostport(a->connect, host, sizeof(host), &port) < 0)
		goto out;
	(void)wolfSSL_CTX_set_groups(ctx, groups, 2);
	(void)wolfSSL_CTX_set_cipher_list(ctx, SA_SUITE_PSK);
	wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_PEER, NULL); /* only the PSK authenticates */
	wolfSSL_CTX_set_psk_client_tls13_callback(ctx, psk_cb);
	fd = tcp_connect(host, port, E2E_TIMEOUT_MS);
	if (fd < 0) {
		r = fd;
		fprintf(stderr, "cannot connect to %s: %s\n", a->connect, strerror(-r));
		goto out;
	}
	(void)frame_set_timeouts(fd, E2E_TIMEOUT_MS);
	ssl = wolfSSL_new(ctx);
	if (!ssl || wolfSSL_set_fd(ssl, fd) != WOLFSSL_SUCCESS ||
	    wolfSSL_set_psk_callback_ctx(ssl, a) != WOLFSSL_SUCCESS)
		goto out;
	r = wolfSSL_connect(ssl);
	if (r != WOLFSSL_SUCCESS) {
		r = tls_error(ssl, r, terr, sizeof(terr));
		fprintf(stderr, "TLS 1.3 PSK handshake with %s failed: %s\n", a->connect, terr);
		goto out;
	}
	r = -EIO;
	if (wolfSSL_write(ssl, line, (int)strlen(line)) != (int)strlen(line) ||
	    wolfSSL_write(ssl, "\n", 1) != 1)
		goto out;
	while (n + 1 < ret_len) {
		char ch;

		if (wolfSSL_read(ssl, &ch, 1) <= 0 || ch == '\n')
			break;
		ret[n++] = ch;
	}
	ret[n] = '\0';
	r = n > 0 ? 0 : -EIO;
out:
	wolfSSL_free(ssl);
	if (fd >= 0)
		close(fd);
	wolfSSL_CTX_free(ctx);
	return r;
}

/* Poll the mailbox until a message arrives: "MSG <from> <jwe>" split into from and jwe. */
static int wait_mail(struct ae *a, char *buf, size_t len, char **from, char **jwe)
{
	for (int i = 0; i < E2E_WAIT_S * 5; i++) {
		if (ask(a, "GET", buf, len) < 0)
			return -EIO;
		if (strncmp(buf, "MSG ", 4) == 0) {
			*from = buf + 4;
			*jwe = strchr(*from, ' ');
			if (!*jwe)
				return -EBADMSG;
			*(*jwe)++ = '\0';
			return 0;
		}
		usleep(200 * 1000);
	}
	fprintf(stderr, "no message within %d s\n", E2E_WAIT_S);
	return -ETIMEDOUT;
}

static int fail(struct ae *a, const char *what, int r)
{
	fprintf(stderr, "%s: %s%s%s\n", what, strerror(-r), a->h && m2msa_last_error(a->h)[0] ? ": " : "",
		a->h ? m2msa_last_error(a->h) : "");
	return 1;
}

static int originator(struct ae *a, const char *target, const char *text)
{
	static char buf[E2E_LINE_MAX];
	struct m2msa_key *k = NULL;
	uint8_t token[M2MSA_TOKEN_LEN], *msg = NULL;
	char *jwe = NULL, *line, *from, *rsp;
	size_t len;
	int r;

	r = m2msa_get_peer_key(a->h, a->ae_id, target, &k);
	if (r < 0)
		return fail(a, "get-peer-key", r);
	printf("pairwise key %s towards %s\n", m2msa_key_id(k), target);
	r = m2msa_seal_request(k, text, strlen(text), &jwe, token);
	if (r < 0 || asprintf(&line, "PUT %s %s", target, jwe) < 0)
		return fail(a, "seal", r < 0 ? r : -ENOMEM);
	r = ask(a, line, buf, sizeof(buf));
	free(line);
	free(jwe);
	if (r < 0 || strcmp(buf, "QUEUED") != 0)
		return fail(a, "the stand-in did not queue the request", -EIO);
	r = wait_mail(a, buf, sizeof(buf), &from, &rsp);
	if (r < 0)
		return fail(a, "waiting for the response", r);
	r = m2msa_open_response(k, token, rsp, &msg, &len);
	if (r < 0)
		return fail(a, "open the response", r);
	printf("response from %s: %.*s\n", from, (int)len, (const char *)msg);
	m2msa_free_message(msg, len);
	m2msa_key_free(k);
	return 0;
}

static int receiver(struct ae *a, const char *text)
{
	static char buf[E2E_LINE_MAX];
	struct m2msa_replay *rp = NULL;
	struct m2msa_key *k = NULL;
	uint8_t ro[M2MSA_RAND_LEN], *msg = NULL;
	char kid[256], *from, *jwe, *line, *out = NULL;
	size_t len;
	int r;

	r = wait_mail(a, buf, sizeof(buf), &from, &jwe);
	if (r < 0)
		return fail(a, "waiting for a request", r);
	r = m2msa_jwe_kid(jwe, kid, sizeof(kid));
	if (r == 0)
		r = m2msa_resolve_key(a->h, a->ae_id, kid, &k);
	if (r < 0)
		return fail(a, "resolve the request's key", r);
	r = m2msa_replay_new(1024, &rp);
	if (r == 0)
		r = m2msa_open_request(rp, k, jwe, &msg, &len, ro);
	if (r < 0)
		return fail(a, "open the request", r);
	printf("request from %s (originator %s/%s): %.*s\n", from, m2msa_key_node_id(k),
	       m2msa_key_ae_id(k), (int)len, (const char *)msg);
	m2msa_free_message(msg, len);
	r = m2msa_seal_response(k, ro, text, strlen(text), &out);
	if (r < 0 || asprintf(&line, "PUT %s %s", from, out) < 0)
		return fail(a, "seal the response", r < 0 ? r : -ENOMEM);
	r = ask(a, line, buf, sizeof(buf));
	free(line);
	free(out);
	m2msa_replay_free(rp);
	m2msa_key_free(k);
	if (r < 0 || strcmp(buf, "QUEUED") != 0)
		return fail(a, "the stand-in did not queue the response", -EIO);
	printf("response sent\n");
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: m2msa-e2e-ae --connect HOST:PORT --ae AE-ID [--socket PATH] originator TARGET TEXT\n"
		   "       m2msa-e2e-ae --connect HOST:PORT --ae AE-ID [--socket PATH] receiver TEXT\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "connect", required_argument, NULL, 'c' }, { "ae", required_argument, NULL, 'a' },
		{ "socket", required_argument, NULL, 's' },  { "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct ae a = { .connect = NULL };
	struct m2msa_key *own = NULL;
	int c, r, status;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		switch (c) {
		case 'c': a.connect = optarg; break;
		case 'a': a.ae_id = optarg; break;
		case 's': a.socket = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!a.connect || !a.ae_id || optind >= argc ||
	    !((strcmp(argv[optind], "originator") == 0 && argc - optind == 3) ||
	      (strcmp(argv[optind], "receiver") == 0 && argc - optind == 2))) {
		usage(stderr);
		return 2;
	}
	if (tls_init() < 0)
		return 1;
	r = m2msa_open(a.socket, &a.h);
	if (r == 0)
		r = m2msa_get_key(a.h, a.ae_id, &own); /* for the TLS PSK to the stand-in */
	if (r < 0)
		return fail(&a, "the AE's own key from the agent", r);
	snprintf(a.identity, sizeof(a.identity), "%s", m2msa_key_id(own));
	memcpy(a.psk.b, m2msa_key_data(own), KEY32_LEN);
	m2msa_key_free(own);
	status = argv[optind][0] == 'o' ? originator(&a, argv[optind + 1], argv[optind + 2])
					: receiver(&a, argv[optind + 1]);
	secret_wipe(&a.psk, sizeof(a.psk));
	m2msa_close(a.h);
	wolfSSL_Cleanup();
	return status;
}
