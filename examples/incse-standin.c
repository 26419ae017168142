/* SPDX-License-Identifier: Apache-2.0 */
/*
 * m2msa-incse-standin: a stand-in for the IN-CSE (or the TLS front before it).
 * It accepts TLS 1.3 PSK clients (psk_dhe_ke, TLS13-AES128-GCM-SHA256), and for
 * each PSK identity it is offered it retrieves the key from the MAS over mutual
 * TLS (mas/retrieve-client.c). Serves one connection at a time. See docs/incse.md.
 * It also forwards sealed end-to-end messages between AEs (a mailbox: "PUT
 * <absolute AE-ID> <JWE>", "GET"), which it cannot read: they are sealed with a
 * pairwise key only the two AEs' agents hold (docs/protocol.md §14).
 */
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/fileio.h"
#include "common/frame.h"
#include "common/log.h"
#include "common/sa.h"
#include "common/secret.h"
#include "common/tls.h"
#include "common/wire.h"
#include "mas/retrieve-client.h"

#define STANDIN_IDENTITY_MAX 128 /* TS-0003 10.4; also wolfSSL's MAX_PSK_ID_LEN */
#define STANDIN_LINE_MAX 8192 /* a PUT line carries a sealed message (JWE) */
#define STANDIN_MAILBOX_MAX 16
#define STANDIN_IO_TIMEOUT_MS 10000

struct options {
	const char *listen;
	const char *port_file;
	bool once;
	enum log_level level;
	struct retrieve_conf mas;
};

/* What the PSK callback learnt about the client, for the log and the reply. */
struct conn {
	struct retrieve_client *mas;
	char key_id[STANDIN_IDENTITY_MAX + 1];
	char node_id[WIRE_ID_MAX + 1];
	char ae_id[WIRE_ID_MAX + 1];
	uint64_t expiry;
	bool key_given;
	char failure[RETRIEVE_ERR_MAX];
};

static volatile sig_atomic_t terminate;

static void on_signal(int sig)
{
	(void)sig;
	terminate = 1;
}

/* TS-0003 10.4: A-Z a-z 0-9 . _ - @ only, 1..128 octets. */
static bool identity_chars_valid(const char *id)
{
	size_t n = strnlen(id, STANDIN_IDENTITY_MAX + 1);

	if (n == 0 || n > STANDIN_IDENTITY_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = id[i];

		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-' || ch == '@'))
			return false;
	}
	return true;
}

/* A log-safe rendering of an identity we refused (it may hold anything). */
static void printable(const char *s, char *buf, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len && s[i]; i++)
		buf[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	buf[i] = '\0';
}

/*
 * wolfSSL's TLS 1.3 PSK server callback: identity -> key. Returns the key
 * length, or 0 to refuse the identity (the handshake then fails).
 */
static unsigned int psk_server_cb(WOLFSSL *ssl, const char *identity, unsigned char *key,
				  unsigned int key_max_len, const char **ciphersuite)
{
	struct conn *c = wolfSSL_get_psk_callback_ctx(ssl);
	struct wire_key_response resp;
	struct retrieve_refusal refusal = { 0 };
	uint8_t kcid[SA_KCID_LEN];
	char ae_id[WIRE_ID_MAX + 1], fqdn[WIRE_KEY_ID_MAX + 1], shown[STANDIN_IDENTITY_MAX + 1];
	char err[RETRIEVE_ERR_MAX] = "";
	unsigned int ret = 0;
	int r;

	if (!c || !identity)
		return 0;
	if (!identity_chars_valid(identity) ||
	    sa_key_id_parse(identity, kcid, ae_id, fqdn) < 0) {
		printable(identity, shown, sizeof(shown));
		snprintf(c->failure, sizeof(c->failure),
			 "PSK identity '%s' is not a key ID (TS-0003 10.4: hex(KcID)[-AE-ID]@FQDN, "
			 "A-Z a-z 0-9 . _ - @, at most %d octets)",
			 shown, STANDIN_IDENTITY_MAX);
		return 0;
	}
	snprintf(c->key_id, sizeof(c->key_id), "%s", identity);
	r = retrieve_key(c->mas, identity, &resp, &refusal, err, sizeof(err));
	if (r == -EACCES) {
		snprintf(c->failure, sizeof(c->failure), "MAS refused key ID %s: %s: %s", identity,
			 wire_error_code_to_string(refusal.code), refusal.reason);
		return 0;
	}
	if (r < 0) {
		snprintf(c->failure, sizeof(c->failure), "cannot retrieve key ID %s from the MAS: %s",
			 identity, err);
		return 0;
	}
	if (resp.expiry <= (uint64_t)time(NULL)) {
		/* TS-0003 8.2.2.3: after expiry B shall fail the PSK handshake. */
		snprintf(c->failure, sizeof(c->failure),
			 "key ID %s expired at %" PRIu64 "; failing the PSK handshake", identity,
			 resp.expiry);
		goto out;
	}
	if (strcmp(resp.ae_id, ae_id) != 0) {
		snprintf(c->failure, sizeof(c->failure),
			 "MAS answered key ID %s for AE '%s', expected '%s'", identity, resp.ae_id,
			 ae_id);
		goto out;
	}
	if (key_max_len < WIRE_KEY_LEN) {
		snprintf(c->failure, sizeof(c->failure), "TLS library has no room for a %d-byte PSK",
			 WIRE_KEY_LEN);
		goto out;
	}
	memcpy(key, resp.key, WIRE_KEY_LEN);
	*ciphersuite = SA_SUITE_PSK;
	snprintf(c->node_id, sizeof(c->node_id), "%s", resp.node_id);
	snprintf(c->ae_id, sizeof(c->ae_id), "%s", resp.ae_id);
	c->expiry = resp.expiry;
	c->key_given = true;
	ret = WIRE_KEY_LEN;
out:
	secret_wipe(&resp, sizeof(resp));
	return ret;
}

/* Read one line (without '\n') from the client; a close ends the line too. */
static int read_line(WOLFSSL *ssl, char *buf, size_t len)
{
	size_t n = 0;

	while (n + 1 < len) {
		char ch;
		int r = wolfSSL_read(ssl, &ch, 1);

		if (r <= 0) {
			if (n > 0 && wolfSSL_get_error(ssl, r) == WOLFSSL_ERROR_ZERO_RETURN)
				break;
			return -EIO;
		}
		if (ch == '\n')
			break;
		buf[n++] = ch;
	}
	buf[n] = '\0';
	return (int)n;
}

/* A sealed message waiting for its target AE. */
struct mail {
	char to[WIRE_TARGET_MAX + 1];
	char from[WIRE_TARGET_MAX + 1];
	char *jwe;
};
static struct mail mailbox[STANDIN_MAILBOX_MAX];

/* "PUT <to> <jwe>" from the AE from: queue it. The stand-in has no key for it. */
static const char *mail_put(const char *from, char *args)
{
	char *sp = strchr(args, ' ');

	if (!sp || sp == args || (size_t)(sp - args) > WIRE_TARGET_MAX || !sp[1] ||
	    strchr(sp + 1, ' '))
		return "ERROR usage: PUT <absolute AE-ID> <JWE>\n";
	*sp = '\0';
	for (size_t i = 0; i < STANDIN_MAILBOX_MAX; i++) {
		if (mailbox[i].jwe)
			continue;
		mailbox[i].jwe = strdup(sp + 1);
		if (!mailbox[i].jwe)
			return "ERROR out of memory\n";
		snprintf(mailbox[i].to, sizeof(mailbox[i].to), "%s", args);
		snprintf(mailbox[i].from, sizeof(mailbox[i].from), "%s", from);
		log_info("queued a sealed message of %zu bytes from %s to %s (not readable here)",
			 strlen(mailbox[i].jwe), from, args);
		return "QUEUED\n";
	}
	return "ERROR mailbox full\n";
}

/* "GET": the oldest message for the AE me, as "MSG <from> <jwe>", or "NONE". */
static int mail_get(WOLFSSL *ssl, const char *me)
{
	for (size_t i = 0; i < STANDIN_MAILBOX_MAX; i++) {
		struct mail *m = &mailbox[i];
		char *out;
		int n, r;

		if (!m->jwe || strcmp(m->to, me) != 0)
			continue;
		n = asprintf(&out, "MSG %s %s\n", m->from, m->jwe);
		if (n < 0)
			return -ENOMEM;
		r = wolfSSL_write(ssl, out, n) == n ? 0 : -EIO;
		log_info("forwarded a sealed message from %s to %s", m->from, m->to);
		free(out);
		free(m->jwe);
		memset(m, 0, sizeof(*m));
		return r;
	}
	return wolfSSL_write(ssl, "NONE\n", 5) == 5 ? 0 : -EIO;
}

/* One client: PSK handshake (the callback asks the MAS), one line, one answer. */
static int serve(WOLFSSL_CTX *ctx, struct retrieve_client *mas, int fd)
{
	struct conn c = { .mas = mas };
	char line[STANDIN_LINE_MAX], reply[3 * WIRE_ID_MAX + 64], terr[TLS_ERR_MAX] = "";
	WOLFSSL *ssl = NULL;
	const char *group;
	int r, n;

	r = frame_set_timeouts(fd, STANDIN_IO_TIMEOUT_MS);
	if (r < 0) {
		log_error("cannot set socket timeouts: %s", strerror(-r));
		return r;
	}
	ssl = tls_server_new(ctx, fd, terr, sizeof(terr));
	if (!ssl || wolfSSL_set_psk_callback_ctx(ssl, &c) != WOLFSSL_SUCCESS) {
		log_error("cannot set up a TLS session: out of memory");
		r = -ENOMEM;
		goto out;
	}
	r = wolfSSL_accept(ssl);
	if (r != WOLFSSL_SUCCESS) {
		r = tls_error(ssl, r, terr, sizeof(terr));
		if (c.failure[0])
			log_error("PSK handshake failed: %s", c.failure);
		else if (c.key_given)
			log_error("PSK handshake with key ID %s failed: %s (wrong key on the "
				  "client side?)",
				  c.key_id, terr);
		else
			log_error("PSK handshake failed: %s", terr);
		if (r == 0)
			r = -EPROTO;
		goto out;
	}
	if (!c.key_given) {
		/* Cannot happen without a certificate, but never serve an unknown peer. */
		log_error("TLS handshake completed without a PSK from the MAS; closing");
		r = -EPROTO;
		goto out;
	}
	group = wolfSSL_get_curve_name(ssl);
	if (!group) {
		/* psk_ke alone: no forward secrecy (wolfSSL cannot refuse it up front). */
		log_error("client with key ID %s used PSK without ECDHE (psk_ke); refusing: "
			  "configure it for psk_dhe_ke",
			  c.key_id);
		r = -EPROTO;
		goto out;
	}
	log_info("PSK handshake ok: key ID %s, node %s, AE %s, %s %s, %s, key expires %" PRIu64,
		 c.key_id, c.node_id, c.ae_id[0] ? c.ae_id : "-", wolfSSL_get_version(ssl),
		 wolfSSL_get_cipher_name(ssl), group, c.expiry);
	n = read_line(ssl, line, sizeof(line));
	if (n > 0 && c.ae_id[0] && (strncmp(line, "PUT ", 4) == 0 || strcmp(line, "GET") == 0)) {
		char me[WIRE_TARGET_MAX + 1];
		const char *ans;

		/* The AE's absolute ID, from its key ID: "/<CSE-ID>/<AE-ID>". */
		snprintf(me, sizeof(me), "%s%s/%s", c.node_id[0] == '/' ? "" : "/", c.node_id,
			 c.ae_id);
		if (line[0] == 'G') {
			if (mail_get(ssl, me) < 0)
				log_warning("cannot send a message to %s", me);
		} else {
			ans = mail_put(me, line + 4);
			if (wolfSSL_write(ssl, ans, (int)strlen(ans)) != (int)strlen(ans))
				log_warning("cannot answer %s", me);
		}
		(void)wolfSSL_shutdown(ssl);
		r = 0;
		goto out;
	}
	if (n < 0) {
		log_warning("client with key ID %s sent no line", c.key_id);
	} else {
		printable(line, line, sizeof(line));
		log_debug("client said: %s", line);
	}
	n = snprintf(reply, sizeof(reply), "OK %s %s %" PRIu64 "\n", c.node_id,
		     c.ae_id[0] ? c.ae_id : "-", c.expiry);
	if (wolfSSL_write(ssl, reply, n) != n)
		log_warning("cannot send the reply to key ID %s", c.key_id);
	(void)wolfSSL_shutdown(ssl);
	r = 0;
out:
	wolfSSL_free(ssl);
	return r;
}

static int write_port_file(const char *path, uint16_t port)
{
	char line[16];
	int n = snprintf(line, sizeof(line), "%u\n", port);

	return fileio_write_atomic(path, line, (size_t)n, 0644);
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: m2msa-incse-standin --listen HOST:PORT --mas HOST:PORT --mas-ca FILE\n"
		"                           --mas-name NAME --cert FILE --key FILE\n"
		"                           [--port-file FILE] [--once] [--log-level LEVEL]\n"
		"\n"
		"A stand-in for the IN-CSE: accepts TLS 1.3 PSK clients (identity = key ID) and\n"
		"retrieves each key from the MAS over mutual TLS. See docs/incse.md.\n"
		"\n"
		"  --listen HOST:PORT  where to accept TLS 1.3 PSK clients (port 0: any free port)\n"
		RETRIEVE_CONF_USAGE
		"  --cert FILE         our client certificate for the MAS (URI SAN/CN = CSE-ID)\n"
		"  --key FILE          its private key\n"
		"  --port-file FILE    write the bound port there once listening\n"
		"  --once              serve one connection; exit 0 if its handshake succeeded\n"
		"  --log-level LEVEL   error, warning, notice, info (default), debug\n");
}

static int parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "listen", required_argument, NULL, 'l' },
		RETRIEVE_CONF_LONGOPTS,
		{ "port-file", required_argument, NULL, 'p' },
		{ "once", no_argument, NULL, '1' },
		{ "log-level", required_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int opt;

	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'l': o->listen = optarg; break;
		case 'p': o->port_file = optarg; break;
		case '1': o->once = true; break;
		case 'L':
			if (log_level_from_string(optarg, &o->level) < 0) {
				fprintf(stderr, "unknown log level '%s' (use error, warning, "
						"notice, info or debug)\n", optarg);
				return -EINVAL;
			}
			break;
		case 'h': usage(stdout); exit(0);
		default:
			if (retrieve_conf_option(&o->mas, opt, optarg))
				break;
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc || !o->listen || !retrieve_conf_complete(&o->mas)) {
		fprintf(stderr, "m2msa-incse-standin: --listen, --mas, --mas-ca, --mas-name, "
				"--cert and --key are required (see --help)\n");
		return -EINVAL;
	}
	return 0;
}

/* Wait for a client or a signal; returns the client fd, -ECANCELED on SIGTERM/SIGINT, or -errno. */
static int wait_client(int lfd, const sigset_t *run_mask)
{
	struct pollfd p = { .fd = lfd, .events = POLLIN };
	int fd;

	for (;;) {
		if (terminate)
			return -ECANCELED;
		if (ppoll(&p, 1, NULL, run_mask) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0) {
			(void)tcp_set_nodelay(fd);
			return fd;
		}
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			return -errno;
	}
}

int main(int argc, char **argv)
{
	struct options o = { .level = LOG_LEVEL_INFO };
	struct retrieve_client *mas = NULL;
	struct sigaction sa = { .sa_handler = on_signal };
	sigset_t block, run_mask;
	WOLFSSL_CTX *ctx = NULL;
	char host[256], err[RETRIEVE_ERR_MAX] = "";
	uint16_t port, bound = 0;
	int lfd = -1, r, status = 1;

	if (parse_args(argc, argv, &o) < 0)
		return 2;
	log_setup("m2msa-incse-standin", LOG_TARGET_STDERR, o.level);
	if (tcp_parse_hostport(o.listen, host, sizeof(host), &port) < 0) {
		log_error("invalid --listen '%s' (expected HOST:PORT)", o.listen);
		return 2;
	}

	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &run_mask);
	sigdelset(&run_mask, SIGTERM);
	sigdelset(&run_mask, SIGINT);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	r = retrieve_client_new(&o.mas, &mas, err, sizeof(err));
	if (r < 0) {
		log_error("cannot set up key retrieval from the MAS: %s", err);
		goto out;
	}
	ctx = tls_psk_server_ctx_new(SA_SUITE_PSK, psk_server_cb, err, sizeof(err));
	if (!ctx) {
		log_error("cannot create the TLS 1.3 PSK server context: %s", err);
		goto out;
	}
	lfd = tcp_listen(host, port, &bound);
	if (lfd < 0) {
		log_error("cannot listen on %s: %s", o.listen, strerror(-lfd));
		goto out;
	}
	if (o.port_file) {
		r = write_port_file(o.port_file, bound);
		if (r < 0) {
			log_error("cannot write port file %s: %s", o.port_file, strerror(-r));
			goto out;
		}
	}
	log_notice("listening for TLS 1.3 PSK clients on %s:%u; keys from the MAS at %s (%s)",
		   host, bound, o.mas.mas, o.mas.mas_name);

	for (;;) {
		int fd = wait_client(lfd, &run_mask);

		if (fd == -ECANCELED) {
			log_notice("terminating");
			status = 0;
			break;
		}
		if (fd < 0) {
			log_error("cannot accept a client: %s", strerror(-fd));
			break;
		}
		r = serve(ctx, mas, fd);
		close(fd);
		if (o.once) {
			status = r < 0 ? 1 : 0;
			break;
		}
	}
out:
	if (lfd >= 0)
		close(lfd);
	if (ctx)
		wolfSSL_CTX_free(ctx);
	retrieve_client_free(mas);
	wolfSSL_Cleanup();
	return status;
}
