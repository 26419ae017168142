/* SPDX-License-Identifier: Apache-2.0 */
/*
 * m2msa-ae-client: an example AE that talks to the IN-CSE with TLS 1.3 PSK
 * (identity = key ID, key = Kc or its per-AE key, TLS13-AES128-GCM-SHA256,
 * psk_dhe_ke). It sends "hello", prints the IN-CSE's one-line reply and the
 * negotiated suite. The key comes from the command line or a file, or from the
 * agent m2msad through libm2msa (--from-agent): then the AE subscribes to its
 * key, and with --rounds N it waits for each pushed new key and connects again
 * with it, as a long-running AE switches keys after a rekey.
 */
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <m2msa/m2msa.h>

#include "common/fileio.h"
#include "common/frame.h"
#include "common/hex.h"
#include "common/sa.h"
#include "common/secret.h"
#include "common/tls.h"
#include "common/wire.h"

/* Key files hold 32 bytes or 64 hex digits; this is a generous bound. */
#define KEY_FILE_MAX 256
#define AE_IDENTITY_MAX 128 /* TS-0003 10.4; also wolfSSL's MAX_PSK_ID_LEN */
#define AE_TIMEOUT_MS 10000
#define AE_LINE_MAX 512

/* ---- key source: where the AE's key comes from ---- */

struct key_source {
	char *hex;        /* --key-hex (wiped from argv once read) */
	const char *file; /* --key-file: 32 raw bytes or 64 hex digits */
	bool agent;       /* --from-agent: libm2msa */
	const char *socket; /* --socket: the agent's socket (NULL: the default) */
	const char *ae;     /* --ae: the AE-ID to get the key of (NULL: the CSE's Kc) */
	struct m2msa *h;
};

/* Exactly 64 hex digits (trailing whitespace allowed) -> 32 bytes. */
static int key_from_hex(const char *s, size_t len, struct key32 *ret)
{
	while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r' || s[len - 1] == ' '))
		len--;
	if (len != 2 * KEY32_LEN)
		return -EINVAL;
	return hex_decode(s, KEY32_LEN, ret->b); /* constant time: these are key bytes */
}

static int key_source_load(const struct key_source *src, struct key32 *ret, char *err,
			   size_t err_len)
{
	uint8_t buf[KEY_FILE_MAX];
	size_t n = 0;
	int r;

	if (src->hex) {
		r = key_from_hex(src->hex, strlen(src->hex), ret);
		/* Take the key out of our argv (/proc/PID/cmdline) as soon as it is read. */
		secret_wipe(src->hex, strlen(src->hex));
		if (r < 0)
			snprintf(err, err_len, "--key-hex needs exactly 64 hex digits (32 bytes)");
		return r;
	}
	r = fileio_read(src->file, buf, sizeof(buf), &n);
	if (r == -ENOENT || r == -EACCES) {
		snprintf(err, err_len, "cannot open key file %s: %s", src->file, strerror(-r));
	} else if (r == -EFBIG) {
		snprintf(err, err_len,
			 "key file %s must hold 32 raw bytes or 64 hex digits", src->file);
		r = -EINVAL;
	} else if (r < 0) {
		snprintf(err, err_len, "cannot read key file %s: %s", src->file, strerror(-r));
	} else if (n == KEY32_LEN) {
		memcpy(ret->b, buf, KEY32_LEN);
	} else {
		r = key_from_hex((const char *)buf, n, ret);
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
	char identity_buf[WIRE_KEY_ID_MAX + 1]; /* identity when it comes from the agent */
};

/* Take the key object's ID and bytes into psk; the object is freed (wiped). */
static int psk_from_agent_key(struct psk *psk, struct m2msa_key *k, char *err, size_t err_len)
{
	int r = 0;

	if (m2msa_key_len(k) != KEY32_LEN || strlen(m2msa_key_id(k)) > AE_IDENTITY_MAX) {
		snprintf(err, err_len, "the agent's key %s does not fit a PSK", m2msa_key_id(k));
		r = -EINVAL;
	} else {
		snprintf(psk->identity_buf, sizeof(psk->identity_buf), "%s", m2msa_key_id(k));
		memcpy(psk->key.b, m2msa_key_data(k), KEY32_LEN);
		psk->identity = psk->identity_buf;
	}
	m2msa_key_free(k);
	return r;
}

/* --from-agent: connect, subscribe (for the pushes), get the current key. */
static int key_source_agent_open(struct key_source *src, struct psk *psk, char *err,
				 size_t err_len)
{
	struct m2msa_key *k = NULL;
	int r;

	r = m2msa_open(src->socket, &src->h);
	if (r < 0) {
		snprintf(err, err_len, "cannot reach the agent m2msad: %s", strerror(-r));
		return r;
	}
	r = m2msa_subscribe(src->h, src->ae);
	if (r == 0)
		r = m2msa_get_key(src->h, src->ae, &k);
	if (r < 0) {
		snprintf(err, err_len, "the agent refused the key of %s: %s%s%s",
			 src->ae ? src->ae : "the CSE", strerror(-r),
			 m2msa_last_error(src->h)[0] ? ": " : "", m2msa_last_error(src->h));
		return r;
	}
	return psk_from_agent_key(psk, k, err, err_len);
}

/* Wait up to timeout_ms for the agent to push a new key; take it into psk. */
static int key_source_agent_wait(struct key_source *src, struct psk *psk, int timeout_ms,
				 char *err, size_t err_len)
{
	struct timespec t0, now;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd p = { .fd = m2msa_fd(src->h), .events = POLLIN };
		enum m2msa_event_type type;
		struct m2msa_key *k = NULL;
		long left;
		int r = m2msa_read_event(src->h, &type, &k);

		if (r == 0 && type == M2MSA_EVENT_NEW_KEY)
			return psk_from_agent_key(psk, k, err, err_len);
		if (r == 0 && type == M2MSA_EVENT_RECONNECTED) {
			/* The agent restarted: its key may be new; ask for it. */
			r = m2msa_get_key(src->h, src->ae, &k);
			if (r == 0)
				return psk_from_agent_key(psk, k, err, err_len);
		}
		m2msa_key_free(k);
		if (r < 0 && r != -EAGAIN) {
			snprintf(err, err_len, "waiting for a new key: %s", strerror(-r));
			return r;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		left = timeout_ms - ((now.tv_sec - t0.tv_sec) * 1000 +
				     (now.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0) {
			snprintf(err, err_len, "no new key from the agent within %d ms", timeout_ms);
			return -ETIMEDOUT;
		}
		(void)poll(&p, 1, (int)left);
	}
}

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
	ctx = tls_psk_client_ctx_new(SA_SUITE_PSK, psk_client_cb, terr, sizeof(terr));
	if (!ctx) {
		fprintf(stderr, "cannot create the TLS 1.3 PSK client context: %s\n", terr);
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
	ssl = tls_client_new(ctx, fd, NULL, terr, sizeof(terr));
	if (!ssl || wolfSSL_set_psk_callback_ctx(ssl, psk) != WOLFSSL_SUCCESS) {
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
		"       m2msa-ae-client --connect HOST:PORT --from-agent [--ae AE-ID] [--socket PATH]\n"
		"                       [--rounds N] [--wait SECONDS]\n"
		"\n"
		"Connects to the IN-CSE with TLS 1.3 PSK (identity = key ID, key = Kc or the AE's\n"
		"key), sends \"hello\" and prints the reply. Exit 0 on success, 1 on failure.\n"
		"\n"
		"  --connect HOST:PORT  the IN-CSE (or its TLS front)\n"
		"  --key-id ID          the key ID from the establishment (the PSK identity)\n"
		"  --key-hex HEX        the 32-byte key as 64 hex digits\n"
		"  --key-file FILE      a file holding the key: 32 raw bytes or 64 hex digits\n"
		"  --from-agent         get the key from m2msad through libm2msa and subscribe to it\n"
		"  --ae AE-ID           with --from-agent: this AE's key (default: the CSE's Kc)\n"
		"  --socket PATH        with --from-agent: the agent's socket (default %s)\n"
		"  --rounds N           with --from-agent: after each exchange, wait for the next\n"
		"                       pushed key and connect again with it, N exchanges in all\n"
		"  --wait SECONDS       how long to wait for each pushed key (default 60)\n",
		M2MSA_SOCKET_DEFAULT);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "connect", required_argument, NULL, 'c' },
		{ "key-id", required_argument, NULL, 'i' },
		{ "key-hex", required_argument, NULL, 'x' },
		{ "key-file", required_argument, NULL, 'f' },
		{ "from-agent", no_argument, NULL, 'A' },
		{ "ae", required_argument, NULL, 'a' },
		{ "socket", required_argument, NULL, 's' },
		{ "rounds", required_argument, NULL, 'n' },
		{ "wait", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct key_source src = { 0 };
	struct psk psk = { 0 };
	const char *connect_to = NULL;
	long rounds = 1, wait_s = 60;
	char *end;
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
		case 'A': src.agent = true; break;
		case 'a': src.ae = optarg; break;
		case 's': src.socket = optarg; break;
		case 'n':
		case 'w':
			errno = 0;
			*(opt == 'n' ? &rounds : &wait_s) = strtol(optarg, &end, 10);
			if (errno || *end || (opt == 'n' ? rounds : wait_s) < 1) {
				fprintf(stderr, "m2msa-ae-client: --%s needs a positive number\n",
					opt == 'n' ? "rounds" : "wait");
				return 1;
			}
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 1;
		}
	}
	if (src.agent) {
		if (optind < argc || !connect_to || psk.identity || src.hex || src.file) {
			fprintf(stderr, "m2msa-ae-client: --from-agent needs --connect and takes no "
					"--key-id, --key-hex or --key-file (see --help)\n");
			return 1;
		}
		signal(SIGPIPE, SIG_IGN);
		r = key_source_agent_open(&src, &psk, err, sizeof(err));
		for (long i = 0; r == 0 && i < rounds; i++) {
			if (i > 0) {
				r = key_source_agent_wait(&src, &psk, (int)(wait_s * 1000), err,
							  sizeof(err));
				if (r < 0)
					break;
				printf("switched to the new key %s\n", psk.identity);
			}
			printf("key %s from the agent\n", psk.identity);
			fflush(stdout);
			r = talk(connect_to, &psk);
			fflush(stdout);
			err[0] = '\0';
		}
		if (r < 0 && err[0])
			fprintf(stderr, "m2msa-ae-client: %s\n", err);
		secret_wipe(&psk.key, sizeof(psk.key));
		m2msa_close(src.h);
		wolfSSL_Cleanup();
		return r < 0 ? 1 : 0;
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
