/* SPDX-License-Identifier: Apache-2.0 */
/*
 * m2msa-ae-client: an example AE that talks to the IN-CSE with TLS 1.3 PSK
 * (identity = key ID, key = Kc or its per-AE key, TLS13-AES128-GCM-SHA256,
 * psk_dhe_ke). It sends "hello", prints the IN-CSE's one-line reply and the
 * negotiated suite. The key comes from the command line or a file for now;
 * that part (key_source_*) is kept apart so libm2msa can replace it.
 */
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/frame.h"
#include "common/sa.h"
#include "common/secret.h"
#include "common/tls.h"
#include "common/wire.h"

#define AE_IDENTITY_MAX 128 /* TS-0003 10.4; also wolfSSL's MAX_PSK_ID_LEN */
#define AE_TIMEOUT_MS 10000
#define AE_LINE_MAX 512

/* ---- key source: where the AE's key comes from (later: the agent via libm2msa) ---- */

struct key_source {
	char *hex;        /* --key-hex (wiped from argv once read) */
	const char *file; /* --key-file: 32 raw bytes or 64 hex digits */
};

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Exactly 64 hex digits (trailing whitespace allowed) -> 32 bytes. */
static int key_from_hex(const char *s, size_t len, struct key32 *ret)
{
	struct key32 k;

	while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r' || s[len - 1] == ' '))
		len--;
	if (len != 2 * KEY32_LEN)
		return -EINVAL;
	for (size_t i = 0; i < KEY32_LEN; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			secret_wipe(&k, sizeof(k));
			return -EINVAL;
		}
		k.b[i] = (uint8_t)(hi << 4 | lo);
	}
	*ret = k;
	secret_wipe(&k, sizeof(k));
	return 0;
}

static int key_source_load(const struct key_source *src, struct key32 *ret, char *err,
			   size_t err_len)
{
	uint8_t buf[2 * KEY32_LEN + 3];
	ssize_t n;
	int fd, r;

	if (src->hex) {
		r = key_from_hex(src->hex, strlen(src->hex), ret);
		/* Take the key out of our argv (/proc/PID/cmdline) as soon as it is read. */
		secret_wipe(src->hex, strlen(src->hex));
		if (r < 0)
			snprintf(err, err_len, "--key-hex needs exactly 64 hex digits (32 bytes)");
		return r;
	}
	fd = open(src->file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		snprintf(err, err_len, "cannot open key file %s: %s", src->file, strerror(-r));
		return r;
	}
	n = read(fd, buf, sizeof(buf));
	r = n < 0 ? -errno : 0;
	close(fd);
	if (r < 0) {
		snprintf(err, err_len, "cannot read key file %s: %s", src->file, strerror(-r));
	} else if (n == KEY32_LEN) {
		memcpy(ret->b, buf, KEY32_LEN);
	} else {
		r = key_from_hex((const char *)buf, (size_t)n, ret);
		if (r < 0)
			snprintf(err, err_len,
				 "key file %s must hold 32 raw bytes or 64 hex digits", src->file);
	}
	secret_wipe(buf, sizeof(buf));
	return r;
}

/* ---- TLS 1.3 PSK client ---- */

struct psk {
	const char *identity;
	struct key32 key;
};

/* wolfSSL's TLS 1.3 PSK client callback: our identity and key, one suite. */
static unsigned int psk_client_cb(WOLFSSL *ssl, const char *hint, char *identity,
				  unsigned int id_max_len, unsigned char *key,
				  unsigned int key_max_len, const char **ciphersuite)
{
	const struct psk *p = wolfSSL_get_psk_callback_ctx(ssl);
	size_t n;

	(void)hint;
	if (!p)
		return 0;
	n = strlen(p->identity);
	if (n >= id_max_len || key_max_len < KEY32_LEN)
		return 0;
	memcpy(identity, p->identity, n + 1);
	memcpy(key, p->key.b, KEY32_LEN);
	*ciphersuite = SA_SUITE_PSK;
	return KEY32_LEN;
}

static WOLFSSL_CTX *client_ctx_new(void)
{
	int groups[] = { WOLFSSL_ECC_SECP256R1, WOLFSSL_ECC_X25519, WOLFSSL_ECC_SECP384R1 };
	WOLFSSL_CTX *ctx;

	if (tls_init() < 0)
		return NULL;
	ctx = wolfSSL_CTX_new(wolfTLSv1_3_client_method());
	if (!ctx)
		return NULL;
	if (wolfSSL_CTX_set_groups(ctx, groups, (int)ARRAY_SIZE(groups)) != WOLFSSL_SUCCESS ||
	    wolfSSL_CTX_set_cipher_list(ctx, SA_SUITE_PSK) != WOLFSSL_SUCCESS) {
		wolfSSL_CTX_free(ctx);
		return NULL;
	}
	/*
	 * The PSK authenticates the server. No CA is loaded, so a server that tries
	 * to authenticate with a certificate instead fails verification: we never
	 * complete a handshake that did not use our key.
	 */
	wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_PEER, NULL);
	wolfSSL_CTX_set_psk_client_tls13_callback(ctx, psk_client_cb);
	return ctx;
}

static int read_line(WOLFSSL *ssl, char *buf, size_t len)
{
	size_t n = 0;

	while (n + 1 < len) {
		char ch;
		int r = wolfSSL_read(ssl, &ch, 1);

		if (r <= 0) {
			if (n > 0)
				break;
			return -EIO;
		}
		if (ch == '\n')
			break;
		buf[n++] = (ch >= 0x20 && ch < 0x7f) ? ch : '?';
	}
	buf[n] = '\0';
	return (int)n;
}

static int talk(const char *connect_to, struct psk *psk)
{
	char host[256], line[AE_LINE_MAX], terr[TLS_ERR_MAX] = "";
	static const char hello[] = "hello\n";
	WOLFSSL_CTX *ctx = NULL;
	WOLFSSL *ssl = NULL;
	uint16_t port;
	int fd = -1, r;

	if (tcp_parse_hostport(connect_to, host, sizeof(host), &port) < 0 || port == 0) {
		fprintf(stderr, "invalid --connect '%s' (expected HOST:PORT)\n", connect_to);
		return -EINVAL;
	}
	ctx = client_ctx_new();
	if (!ctx) {
		fprintf(stderr, "cannot create the TLS 1.3 PSK client context\n");
		r = -ENOMEM;
		goto out;
	}
	fd = tcp_connect(host, port, AE_TIMEOUT_MS);
	if (fd < 0) {
		r = fd;
		fprintf(stderr, "cannot connect to %s: %s\n", connect_to, strerror(-r));
		goto out;
	}
	(void)frame_set_timeouts(fd, AE_TIMEOUT_MS);
	ssl = wolfSSL_new(ctx);
	if (!ssl || wolfSSL_set_fd(ssl, fd) != WOLFSSL_SUCCESS ||
	    wolfSSL_set_psk_callback_ctx(ssl, psk) != WOLFSSL_SUCCESS) {
		fprintf(stderr, "cannot set up a TLS session: out of memory\n");
		r = -ENOMEM;
		goto out;
	}
	r = wolfSSL_connect(ssl);
	if (r != WOLFSSL_SUCCESS) {
		r = tls_error(ssl, r, terr, sizeof(terr));
		fprintf(stderr,
			"TLS 1.3 PSK handshake with %s failed: %s\n"
			"(the IN-CSE did not accept key ID %s with this key: wrong or expired key, "
			"unknown key ID, or the IN-CSE may not retrieve it; see its log)\n",
			connect_to, terr, psk->identity);
		goto out;
	}
	if (wolfSSL_write(ssl, hello, (int)strlen(hello)) != (int)strlen(hello) ||
	    read_line(ssl, line, sizeof(line)) < 0) {
		fprintf(stderr, "handshake done, but %s closed the connection without a reply\n",
			connect_to);
		r = -EIO;
		goto out;
	}
	printf("%s\n", line);
	printf("psk handshake ok (TLS1.3, %s)\n", wolfSSL_get_cipher_name(ssl));
	(void)wolfSSL_shutdown(ssl);
	r = 0;
out:
	wolfSSL_free(ssl);
	if (fd >= 0)
		close(fd);
	wolfSSL_CTX_free(ctx);
	return r;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: m2msa-ae-client --connect HOST:PORT --key-id ID (--key-hex HEX | --key-file FILE)\n"
		"\n"
		"Connects to the IN-CSE with TLS 1.3 PSK (identity = key ID, key = Kc or the AE's\n"
		"key), sends \"hello\" and prints the reply. Exit 0 on success, 1 on failure.\n"
		"\n"
		"  --connect HOST:PORT  the IN-CSE (or its TLS front)\n"
		"  --key-id ID          the key ID from the establishment (the PSK identity)\n"
		"  --key-hex HEX        the 32-byte key as 64 hex digits\n"
		"  --key-file FILE      a file holding the key: 32 raw bytes or 64 hex digits\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "connect", required_argument, NULL, 'c' },
		{ "key-id", required_argument, NULL, 'i' },
		{ "key-hex", required_argument, NULL, 'x' },
		{ "key-file", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct key_source src = { 0 };
	struct psk psk = { 0 };
	const char *connect_to = NULL;
	char err[512] = "";
	uint8_t kcid[SA_KCID_LEN];
	char ae_id[WIRE_ID_MAX + 1], fqdn[WIRE_KEY_ID_MAX + 1];
	int opt, r;

	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c': connect_to = optarg; break;
		case 'i': psk.identity = optarg; break;
		case 'x': src.hex = optarg; break;
		case 'f': src.file = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 1;
		}
	}
	if (optind < argc || !connect_to || !psk.identity || !src.hex == !src.file) {
		fprintf(stderr, "m2msa-ae-client: --connect, --key-id and exactly one of --key-hex "
				"or --key-file are required (see --help)\n");
		return 1;
	}
	if (strlen(psk.identity) > AE_IDENTITY_MAX ||
	    sa_key_id_parse(psk.identity, kcid, ae_id, fqdn) < 0) {
		fprintf(stderr, "--key-id '%s' is not a key ID (hex(KcID)[-AE-ID]@FQDN, at most %d "
				"octets)\n", psk.identity, AE_IDENTITY_MAX);
		return 1;
	}
	r = key_source_load(&src, &psk.key, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "m2msa-ae-client: %s\n", err);
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	r = talk(connect_to, &psk);
	secret_wipe(&psk.key, sizeof(psk.key));
	wolfSSL_Cleanup();
	return r < 0 ? 1 : 0;
}
