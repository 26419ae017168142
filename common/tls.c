/* SPDX-License-Identifier: Apache-2.0 */
/* wolfSSL TLS 1.3 contexts, exporter, peer identity, TCP sockets with TCP_NODELAY. */
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/openssl/x509v3.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/tls.h"
#include "common/util.h"

DEFINE_CLEANUP(struct addrinfo *, freeaddrinfo)

static pthread_once_t tls_once = PTHREAD_ONCE_INIT;
static int tls_init_result;

static void tls_init_once(void)
{
	tls_init_result = wolfSSL_Init() == WOLFSSL_SUCCESS ? 0 : -EIO;
}

/* Once per process, whichever thread asks first (two threads may build contexts
 * at the same time: the MAS's workers, a test's client and server threads). */
int tls_init(void)
{
	pthread_once(&tls_once, tls_init_once);
	return tls_init_result;
}

/* Only ECDHE key exchange: P-256, X25519, P-384. */
static int ctx_common(WOLFSSL_CTX *ctx, char *err, size_t err_len)
{
	int groups[] = { WOLFSSL_ECC_SECP256R1, WOLFSSL_ECC_X25519, WOLFSSL_ECC_SECP384R1 };

	if (wolfSSL_CTX_set_groups(ctx, groups, (int)ARRAY_SIZE(groups)) != WOLFSSL_SUCCESS) {
		snprintf(err, err_len, "cannot restrict TLS key exchange to ECDHE groups");
		return -EIO;
	}
	return 0;
}

static int load_cert_key(WOLFSSL_CTX *ctx, const char *cert_file, const char *key_file, char *err,
			 size_t err_len)
{
	if (wolfSSL_CTX_use_certificate_chain_file(ctx, cert_file) != WOLFSSL_SUCCESS) {
		snprintf(err, err_len, "cannot load certificate %s (is it a readable PEM file?)",
			 cert_file);
		return access(cert_file, R_OK) < 0 ? -errno : -EINVAL;
	}
	if (wolfSSL_CTX_use_PrivateKey_file(ctx, key_file, WOLFSSL_FILETYPE_PEM) !=
	    WOLFSSL_SUCCESS) {
		snprintf(err, err_len, "cannot load private key %s (is it a readable PEM file?)",
			 key_file);
		return access(key_file, R_OK) < 0 ? -errno : -EINVAL;
	}
	if (wolfSSL_CTX_check_private_key(ctx) != WOLFSSL_SUCCESS) {
		snprintf(err, err_len, "private key %s does not match certificate %s", key_file,
			 cert_file);
		return -EINVAL;
	}
	return 0;
}

static int load_ca(WOLFSSL_CTX *ctx, const char *ca_file, char *err, size_t err_len)
{
	if (wolfSSL_CTX_load_verify_locations(ctx, ca_file, NULL) != WOLFSSL_SUCCESS) {
		snprintf(err, err_len, "cannot load CA certificate %s (is it a readable PEM file?)",
			 ca_file);
		return access(ca_file, R_OK) < 0 ? -errno : -EINVAL;
	}
	return 0;
}

WOLFSSL_CTX *tls_server_ctx_new(const char *cert_file, const char *key_file,
				const char *client_ca, char *err, size_t err_len)
{
	_cleanup_(wolfSSL_CTX_freep) WOLFSSL_CTX *ctx = NULL;

	if (tls_init() < 0) {
		snprintf(err, err_len, "cannot initialise wolfSSL");
		return NULL;
	}
	ctx = wolfSSL_CTX_new(wolfTLSv1_3_server_method());
	if (!ctx) {
		snprintf(err, err_len, "cannot create TLS 1.3 server context: out of memory");
		return NULL;
	}
	if (ctx_common(ctx, err, err_len) < 0 || load_cert_key(ctx, cert_file, key_file, err, err_len) < 0)
		return NULL;
	if (client_ca) {
		if (load_ca(ctx, client_ca, err, err_len) < 0)
			return NULL;
		wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_PEER | WOLFSSL_VERIFY_FAIL_IF_NO_PEER_CERT,
				       NULL);
	} else {
		wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_NONE, NULL);
	}
	/* One exchange per connection: no resumption tickets to manage. */
	wolfSSL_CTX_NoTicketTLSv12(ctx);
	wolfSSL_CTX_no_ticket_TLSv13(ctx);
	return TAKE_PTR(ctx);
}

WOLFSSL_CTX *tls_client_ctx_new(const char *ca_file, const char *cert_file, const char *key_file,
				char *err, size_t err_len)
{
	_cleanup_(wolfSSL_CTX_freep) WOLFSSL_CTX *ctx = NULL;

	if (tls_init() < 0) {
		snprintf(err, err_len, "cannot initialise wolfSSL");
		return NULL;
	}
	if (!ca_file) {
		snprintf(err, err_len, "no CA certificate configured to verify the server");
		return NULL;
	}
	ctx = wolfSSL_CTX_new(wolfTLSv1_3_client_method());
	if (!ctx) {
		snprintf(err, err_len, "cannot create TLS 1.3 client context: out of memory");
		return NULL;
	}
	if (ctx_common(ctx, err, err_len) < 0 || load_ca(ctx, ca_file, err, err_len) < 0)
		return NULL;
	if (cert_file && load_cert_key(ctx, cert_file, key_file, err, err_len) < 0)
		return NULL;
	wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_PEER, NULL);
	return TAKE_PTR(ctx);
}

WOLFSSL *tls_client_new(WOLFSSL_CTX *ctx, int fd, const char *server_name, char *err,
			size_t err_len)
{
	_cleanup_(wolfSSL_freep) WOLFSSL *ssl = wolfSSL_new(ctx);

	if (!ssl) {
		snprintf(err, err_len, "cannot create TLS session: out of memory");
		return NULL;
	}
	if (wolfSSL_set_fd(ssl, fd) != WOLFSSL_SUCCESS ||
	    (server_name &&
	     (wolfSSL_UseSNI(ssl, WOLFSSL_SNI_HOST_NAME, server_name,
			     (unsigned short)strlen(server_name)) != WOLFSSL_SUCCESS ||
	      wolfSSL_check_domain_name(ssl, server_name) != WOLFSSL_SUCCESS))) {
		snprintf(err, err_len, "cannot set up TLS session for %s",
			 server_name ? server_name : "?");
		return NULL;
	}
	return TAKE_PTR(ssl);
}

int tls_exporter(WOLFSSL *ssl, const char *label, uint8_t *out, size_t out_len)
{
	/* RFC 8446 7.5: in TLS 1.3 no context is the same as an empty one. */
	if (wolfSSL_export_keying_material(ssl, out, out_len, label, strlen(label), NULL, 0, 0) !=
	    WOLFSSL_SUCCESS)
		return -EIO;
	return 0;
}

static int copy_id(const char *s, size_t n, char *buf, size_t buf_len)
{
	if (n == 0)
		return -ENOENT;
	if (n >= buf_len)
		return -ENAMETOOLONG;
	if (memchr(s, '\0', n))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return 0;
}

int tls_peer_id(WOLFSSL *ssl, char *buf, size_t buf_len)
{
	WOLFSSL_X509 *x = wolfSSL_get_peer_certificate(ssl);
	WOLFSSL_STACK *names;
	int r = -ENOENT;

	if (!x)
		return -ENOENT;
	names = wolfSSL_X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	if (names) {
		int n = wolfSSL_sk_GENERAL_NAME_num(names);

		for (int i = 0; i < n && r == -ENOENT; i++) {
			WOLFSSL_GENERAL_NAME *g = wolfSSL_sk_GENERAL_NAME_value(names, i);

			if (g && g->type == GEN_URI && g->d.uniformResourceIdentifier)
				r = copy_id((const char *)wolfSSL_ASN1_STRING_data(
						    g->d.uniformResourceIdentifier),
					    (size_t)wolfSSL_ASN1_STRING_length(
						    g->d.uniformResourceIdentifier),
					    buf, buf_len);
		}
		wolfSSL_sk_GENERAL_NAME_pop_free(names, wolfSSL_GENERAL_NAME_free);
	}
	if (r == -ENOENT) {
		char cn[256];
		int n = wolfSSL_X509_NAME_get_text_by_NID(wolfSSL_X509_get_subject_name(x),
							  NID_commonName, cn, sizeof(cn));
		if (n > 0)
			r = copy_id(cn, (size_t)n, buf, buf_len);
	}
	wolfSSL_X509_free(x);
	return r;
}

int tls_error(WOLFSSL *ssl, int ret, char *err, size_t err_len)
{
	char text[WOLFSSL_MAX_ERROR_SZ];
	int e = ssl ? wolfSSL_get_error(ssl, ret) : ret;
	int r;

	switch (e) {
	case WOLFSSL_ERROR_WANT_READ:
	case WOLFSSL_ERROR_WANT_WRITE:
		snprintf(err, err_len, "TLS operation would block");
		return -EAGAIN;
	case WOLFSSL_ERROR_ZERO_RETURN:
		snprintf(err, err_len, "peer closed the TLS connection");
		return -ECONNRESET;
	case SOCKET_PEER_CLOSED_E:
	case SOCKET_ERROR_E:
		snprintf(err, err_len, "connection closed by peer during TLS");
		return -ECONNRESET;
	case ASN_NO_SIGNER_E:
		snprintf(err, err_len,
			 "peer certificate is not signed by the configured CA (check the CA file)");
		return -EPERM;
	case DOMAIN_NAME_MISMATCH:
		snprintf(err, err_len,
			 "peer certificate does not name the expected server (check server_name)");
		return -EPERM;
	case ASN_AFTER_DATE_E:
		snprintf(err, err_len, "peer certificate has expired");
		return -EPERM;
	case ASN_BEFORE_DATE_E:
		snprintf(err, err_len, "peer certificate is not yet valid (check the clock)");
		return -EPERM;
	default:
		break;
	}
	wolfSSL_ERR_error_string_n((unsigned long)e, text, sizeof(text));
	r = (e == VERIFY_CERT_ERROR || e == ASN_SIG_CONFIRM_E || e == NO_PEER_CERT) ? -EPERM
										     : -EPROTO;
	snprintf(err, err_len, "TLS failure: %s (wolfSSL %d)", text, e);
	return r;
}

int tcp_set_nodelay(int fd)
{
	int one = 1;

	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
		return -errno;
	return 0;
}

static int wait_connected(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	socklen_t len = sizeof(int);
	int r, soerr = 0;

	do
		r = poll(&p, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	if (r == 0)
		return -ETIMEDOUT;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
		return -errno;
	return soerr ? -soerr : 0;
}

int tcp_connect(const char *host, uint16_t port, int timeout_ms)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_family = AF_UNSPEC };
	_cleanup_(freeaddrinfop) struct addrinfo *res = NULL;
	char service[8];
	int r = -EHOSTUNREACH;

	snprintf(service, sizeof(service), "%u", port);
	if (getaddrinfo(host, service, &hints, &res) != 0)
		return -EHOSTUNREACH;
	for (const struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
				ai->ai_protocol);
		int flags;

		if (fd < 0) {
			r = -errno;
			continue;
		}
		(void)tcp_set_nodelay(fd);
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS)
			r = -errno;
		else
			r = wait_connected(fd, timeout_ms);
		if (r == 0) {
			flags = fcntl(fd, F_GETFL);
			if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0) {
				r = -errno;
				close(fd);
				continue;
			}
			return fd;
		}
		close(fd);
	}
	return r;
}

int tcp_connect_start(const char *host, uint16_t port)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_family = AF_UNSPEC };
	_cleanup_(freeaddrinfop) struct addrinfo *res = NULL;
	_cleanup_close_ int fd = -1;
	char service[8];

	snprintf(service, sizeof(service), "%u", port);
	if (getaddrinfo(host, service, &hints, &res) != 0)
		return -EHOSTUNREACH;
	fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
		    res->ai_protocol);
	if (fd < 0)
		return -errno;
	(void)tcp_set_nodelay(fd);
	if (connect(fd, res->ai_addr, res->ai_addrlen) < 0 && errno != EINPROGRESS)
		return -errno;
	return TAKE_FD(fd);
}

int tcp_connect_result(int fd)
{
	socklen_t len = sizeof(int);
	int soerr = 0;

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
		return -errno;
	return soerr ? -soerr : 0;
}

static int listen_on(const char *host, uint16_t port, bool reuseport, uint16_t *ret_port)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE };
	_cleanup_(freeaddrinfop) struct addrinfo *res = NULL;
	_cleanup_close_ int fd = -1;
	char service[8];
	int one = 1;

	snprintf(service, sizeof(service), "%u", port);
	if (getaddrinfo(host, service, &hints, &res) != 0)
		return -EADDRNOTAVAIL;
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
		return -errno;
	(void)tcp_set_nodelay(fd);
	if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 512) < 0)
		return -errno;
	if (ret_port) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);

		if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
			return -errno;
		*ret_port = ntohs(ss.ss_family == AF_INET6
					  ? ((struct sockaddr_in6 *)&ss)->sin6_port
					  : ((struct sockaddr_in *)&ss)->sin_port);
	}
	return TAKE_FD(fd);
}

int tcp_listen(const char *host, uint16_t port, uint16_t *ret_port)
{
	return listen_on(host, port, false, ret_port);
}

int tcp_listen_reuseport(const char *host, uint16_t port, uint16_t *ret_port)
{
	return listen_on(host, port, true, ret_port);
}

int tcp_parse_hostport(const char *s, char *host, size_t host_len, uint16_t *ret_port)
{
	const char *colon, *h = s;
	size_t hl;
	char *end;
	unsigned long p;

	if (s[0] == '[') {
		const char *rb = strchr(s, ']');

		if (!rb || rb[1] != ':')
			return -EINVAL;
		h = s + 1;
		hl = (size_t)(rb - h);
		colon = rb + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return -EINVAL;
		hl = (size_t)(colon - s);
	}
	if (hl == 0 || hl >= host_len)
		return -EINVAL;
	errno = 0;
	p = strtoul(colon + 1, &end, 10);
	if (errno || *end || colon[1] == '\0' || p > 65535)
		return -EINVAL;
	memcpy(host, h, hl);
	host[hl] = '\0';
	*ret_port = (uint16_t)p;
	return 0;
}

/* wolfSSL's ECC PK callback: hand the digest to the caller's signer (the TPM). */
static int ecc_sign_cb(WOLFSSL *ssl, const unsigned char *in, unsigned int in_len,
		       unsigned char *out, word32 *out_len, const unsigned char *key_der,
		       unsigned int key_len, void *ctx)
{
	const struct tls_signer *s = ctx;
	size_t n = 0;

	(void)ssl;
	(void)key_der;
	(void)key_len;
	if (!s || !s->sign)
		return BAD_FUNC_ARG;
	if (s->sign(s->userdata, in, in_len, out, *out_len, &n) < 0 || n > *out_len)
		return WC_HW_E;
	*out_len = (word32)n;
	return 0;
}

static int read_pem(const char *path, char **buf, size_t *len)
{
	FILE *f = fopen(path, "re");
	char *p = NULL;
	size_t n = 0, cap = 0;

	if (!f)
		return -errno;
	for (;;) {
		if (n + 4096 > cap) {
			char *q = realloc(p, cap + 8192);

			if (!q || cap > 256 * 1024) {
				free(q ? q : p);
				fclose(f);
				return -EFBIG;
			}
			p = q;
			cap += 8192;
		}
		size_t k = fread(p + n, 1, cap - n, f);

		n += k;
		if (k == 0)
			break;
	}
	fclose(f);
	*buf = p;
	*len = n;
	return 0;
}

WOLFSSL_CTX *tls_client_ctx_new_signer(const char *ca_file, const char *cert_file,
				       const char *chain_file, const struct tls_signer *signer,
				       char *err, size_t err_len)
{
	_cleanup_(wolfSSL_CTX_freep) WOLFSSL_CTX *ctx = NULL;
	_cleanup_free_ char *pem = NULL, *chain = NULL;
	size_t pem_len = 0, chain_len = 0;
	int r;

	if (!cert_file || !signer || !signer->sign) {
		snprintf(err, err_len, "no client certificate or signer given");
		return NULL;
	}
	r = read_pem(cert_file, &pem, &pem_len);
	if (r < 0) {
		snprintf(err, err_len, "cannot read certificate %s: %s", cert_file, strerror(-r));
		return NULL;
	}
	if (chain_file) {
		char *both;

		r = read_pem(chain_file, &chain, &chain_len);
		if (r < 0) {
			snprintf(err, err_len, "cannot read certificate chain %s: %s", chain_file,
				 strerror(-r));
			return NULL;
		}
		both = realloc(pem, pem_len + chain_len + 1);
		if (!both) {
			snprintf(err, err_len, "out of memory");
			return NULL;
		}
		pem = both;
		pem[pem_len++] = '\n';
		memcpy(pem + pem_len, chain, chain_len);
		pem_len += chain_len;
	}
	ctx = tls_client_ctx_new(ca_file, NULL, NULL, err, err_len);
	if (!ctx)
		return NULL;
	if (wolfSSL_CTX_use_certificate_chain_buffer_format(ctx, (const unsigned char *)pem,
							     (long)pem_len, WOLFSSL_FILETYPE_PEM) !=
	    WOLFSSL_SUCCESS) {
		snprintf(err, err_len, "cannot load certificate %s%s%s (is it PEM?)", cert_file,
			 chain_file ? " with chain " : "", chain_file ? chain_file : "");
		return NULL;
	}
	/* No private key: wolfSSL signs the CertificateVerify through the callback. */
	wolfSSL_CTX_SetEccSignCb(ctx, ecc_sign_cb);
	wolfSSL_CTX_SetEccSignCtx(ctx, (void *)(uintptr_t)signer);
	return TAKE_PTR(ctx);
}

int tls_server_ctx_request_client_cert(WOLFSSL_CTX *ctx, const char *ca_file, char *err,
				       size_t err_len)
{
	int r = load_ca(ctx, ca_file, err, err_len);

	if (r < 0)
		return r;
	/* VERIFY_PEER without FAIL_IF_NO_PEER_CERT: a sent certificate must verify. */
	wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_PEER, NULL);
	return 0;
}

bool tls_peer_has_cert(WOLFSSL *ssl)
{
	WOLFSSL_X509 *x = wolfSSL_get_peer_certificate(ssl);

	if (!x)
		return false;
	wolfSSL_X509_free(x);
	return true;
}

bool tls_peer_refused_cert(WOLFSSL *ssl, char *err, size_t err_len)
{
	WOLFSSL_ALERT_HISTORY h;
	const char *why;

	if (!ssl || wolfSSL_get_alert_history(ssl, &h) != WOLFSSL_SUCCESS)
		return false;
	switch (h.last_rx.code) {
	case bad_certificate:
		why = "bad_certificate: it does not verify against the peer's CA, or its key did not sign";
		break;
	case unsupported_certificate:
		why = "unsupported_certificate";
		break;
	case certificate_revoked:
		why = "certificate_revoked";
		break;
	case certificate_expired:
		why = "certificate_expired: check its validity dates and the clocks";
		break;
	case certificate_unknown:
		why = "certificate_unknown";
		break;
	case unknown_ca:
		why = "unknown_ca: it was not issued by a CA the peer trusts";
		break;
	case certificate_required:
		why = "certificate_required";
		break;
	default:
		return false;
	}
	snprintf(err, err_len, "alert %s", why);
	return true;
}

WOLFSSL *tls_server_new(WOLFSSL_CTX *ctx, int fd, char *err, size_t err_len)
{
	WOLFSSL *ssl = wolfSSL_new(ctx);

	if (!ssl || wolfSSL_set_fd(ssl, fd) != WOLFSSL_SUCCESS) {
		snprintf(err, err_len, "cannot create TLS session: out of memory");
		wolfSSL_free(ssl);
		return NULL;
	}
	return ssl;
}

/* A TLS 1.3 context (server or client method) with ECDHE groups and one PSK suite. */
static WOLFSSL_CTX *psk_ctx_new(WOLFSSL_METHOD *method, const char *suite, char *err,
				size_t err_len)
{
	WOLFSSL_CTX *ctx;

	ctx = method ? wolfSSL_CTX_new(method) : NULL;
	if (!ctx) {
		snprintf(err, err_len, "cannot create TLS 1.3 PSK context: out of memory");
		return NULL;
	}
	if (ctx_common(ctx, err, err_len) < 0)
		goto fail;
	if (wolfSSL_CTX_set_cipher_list(ctx, suite) != WOLFSSL_SUCCESS) {
		snprintf(err, err_len, "cannot restrict TLS to the cipher suite %s", suite);
		goto fail;
	}
	return ctx;
fail:
	wolfSSL_CTX_free(ctx);
	return NULL;
}

WOLFSSL_CTX *tls_psk_server_ctx_new(const char *suite, wc_psk_server_tls13_callback cb,
				    char *err, size_t err_len)
{
	WOLFSSL_CTX *ctx;

	if (tls_init() < 0) {
		snprintf(err, err_len, "cannot initialise wolfSSL");
		return NULL;
	}
	ctx = psk_ctx_new(wolfTLSv1_3_server_method(), suite, err, err_len);
	if (!ctx)
		return NULL;
	wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_NONE, NULL);
	/* One exchange per connection: no resumption tickets. */
	wolfSSL_CTX_no_ticket_TLSv13(ctx);
	wolfSSL_CTX_set_psk_server_tls13_callback(ctx, cb);
	return ctx;
}

WOLFSSL_CTX *tls_psk_client_ctx_new(const char *suite, wc_psk_client_tls13_callback cb,
				    char *err, size_t err_len)
{
	WOLFSSL_CTX *ctx;

	if (tls_init() < 0) {
		snprintf(err, err_len, "cannot initialise wolfSSL");
		return NULL;
	}
	ctx = psk_ctx_new(wolfTLSv1_3_client_method(), suite, err, err_len);
	if (!ctx)
		return NULL;
	/* No CA loaded: a server that authenticates with a certificate fails verification. */
	wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_PEER, NULL);
	wolfSSL_CTX_set_psk_client_tls13_callback(ctx, cb);
	return ctx;
}
