/* SPDX-License-Identifier: Apache-2.0 */
/*
 * wolfSSL TLS 1.3 plumbing shared by the agent, the MAS and the tools:
 * contexts (TLS 1.3 only, ECDHE groups only), TCP with TCP_NODELAY, the RFC 8446
 * exporter, the peer's CSE-ID from its certificate, and wolfSSL codes turned
 * into -errno plus a message a person can act on.
 */
#pragma once

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/util.h"

#define TLS_ERR_MAX 256

/* _cleanup_(wolfSSL_CTX_freep) WOLFSSL_CTX *ctx, _cleanup_(wolfSSL_freep) WOLFSSL *ssl. */
DEFINE_CLEANUP(WOLFSSL_CTX *, wolfSSL_CTX_free)
DEFINE_CLEANUP(WOLFSSL *, wolfSSL_free)

/* Call once per process before any other tls_ function (idempotent). */
int tls_init(void);

/*
 * Server context: certificate chain and key (PEM files). client_ca non-NULL
 * turns on mutual TLS (peer certificate required and verified against it).
 */
WOLFSSL_CTX *tls_server_ctx_new(const char *cert_file, const char *key_file,
				const char *client_ca, char *err, size_t err_len);

/*
 * Client context: the server is verified against ca_file (required). cert/key
 * non-NULL: present a client certificate (mutual TLS).
 */
WOLFSSL_CTX *tls_client_ctx_new(const char *ca_file, const char *cert_file, const char *key_file,
				char *err, size_t err_len);

/*
 * A client session on fd that checks the server's certificate names
 * server_name (SNI is sent too).
 */
WOLFSSL *tls_client_new(WOLFSSL_CTX *ctx, int fd, const char *server_name, char *err,
			size_t err_len);

/* RFC 8446 7.5 exporter with an empty context. */
int tls_exporter(WOLFSSL *ssl, const char *label, uint8_t *out, size_t out_len);

/*
 * The peer certificate's CSE-ID: the first URI subject alternative name if
 * there is one, else the subject CN. -ENOENT if no certificate, -ENAMETOOLONG.
 */
int tls_peer_id(WOLFSSL *ssl, char *buf, size_t buf_len);

/* Describe the last error on ssl for ret (a wolfSSL return code) into err. Returns -errno. */
int tls_error(WOLFSSL *ssl, int ret, char *err, size_t err_len);

/*
 * TCP helpers: all fds are SOCK_CLOEXEC with TCP_NODELAY set.
 * tcp_connect resolves host (numeric or name) and connects, blocking, with a
 * timeout in milliseconds. tcp_listen binds host:port (port 0: any; the bound
 * port is written to *ret_port if not NULL), non-blocking, SO_REUSEADDR.
 */
int tcp_connect(const char *host, uint16_t port, int timeout_ms);
/*
 * Start a non-blocking connect to host:port (first address getaddrinfo gives;
 * name resolution itself may block). Returns the fd; the connection is complete
 * when the fd is writable and tcp_connect_result() returns 0.
 */
int tcp_connect_start(const char *host, uint16_t port);
/* 0 when the connect started by tcp_connect_start() succeeded, else -errno. */
int tcp_connect_result(int fd);
int tcp_listen(const char *host, uint16_t port, uint16_t *ret_port);
/*
 * The same with SO_REUSEPORT: several sockets (one per m2masd worker thread) on
 * one address, the kernel spreading new connections over them.
 */
int tcp_listen_reuseport(const char *host, uint16_t port, uint16_t *ret_port);
int tcp_set_nodelay(int fd);
/* Split "host:port" / "[v6]:port"; host buffer len >= 256. */
int tcp_parse_hostport(const char *s, char *host, size_t host_len, uint16_t *ret_port);

/*
 * Client certificates whose private key is held elsewhere (the TPM): the
 * signer makes the ECDSA signature over the SHA-256 digest wolfSSL hands it
 * (in TLS 1.3 the CertificateVerify transcript hash, RFC 8446 4.4.3) and
 * writes a DER ECDSA-Sig-Value (at most sig_max bytes). Returns 0 or -errno.
 */
typedef int (*tls_ecc_sign_fn)(void *userdata, const uint8_t *digest, size_t digest_len,
			       uint8_t *sig, size_t sig_max, size_t *ret_sig_len);
struct tls_signer {
	tls_ecc_sign_fn sign;
	void *userdata;
};

/*
 * Client context as tls_client_ctx_new() that presents cert_file (PEM leaf,
 * optionally followed by intermediates) plus chain_file (NULL: none), with no
 * private key loaded: wolfSSL's ECC PK callback calls signer, which must
 * outlive the context. The certificate's key must be ECDSA P-256.
 */
WOLFSSL_CTX *tls_client_ctx_new_signer(const char *ca_file, const char *cert_file,
				       const char *chain_file, const struct tls_signer *signer,
				       char *err, size_t err_len);

/*
 * Server side of optional client certificates (the MAS establishment port):
 * ask every client for a certificate and verify one that is sent against
 * ca_file (expired, wrong CA: the handshake fails), but accept clients that
 * send none. tls_peer_has_cert() then tells the two apart.
 */
int tls_server_ctx_request_client_cert(WOLFSSL_CTX *ctx, const char *ca_file, char *err,
				       size_t err_len);
bool tls_peer_has_cert(WOLFSSL *ssl);

/*
 * After a failed read or write: when the peer's last alert says it refused
 * our certificate (bad_certificate, certificate_expired, unknown_ca, ...),
 * describe the alert in err ("alert certificate_expired: ...") and return true.
 */
bool tls_peer_refused_cert(WOLFSSL *ssl, char *err, size_t err_len);

/*
 * A server session on fd (an accepted connection), for any server context:
 * tls_server_ctx_new()'s or tls_psk_server_ctx_new()'s.
 */
WOLFSSL *tls_server_new(WOLFSSL_CTX *ctx, int fd, char *err, size_t err_len);

/*
 * TLS 1.3 PSK contexts, for the oneM2M security association between an AE or
 * CSE and the IN-CSE (TS-0003 8.2.2; identity = key ID, key = Kc or Ke): the same
 * ECDHE groups as every context here (so psk_dhe_ke, forward secrecy), only the
 * cipher suite `suite` (an SA_SUITE_* name); the server issues no resumption
 * tickets. cb is wolfSSL's TLS 1.3 PSK callback; per-session data reaches it
 * through wolfSSL_set_psk_callback_ctx(). The client loads no CA and verifies the
 * peer, so a server that answers with a certificate instead of the PSK fails the
 * handshake; the server asks for no certificate.
 */
WOLFSSL_CTX *tls_psk_server_ctx_new(const char *suite, wc_psk_server_tls13_callback cb,
				    char *err, size_t err_len);
WOLFSSL_CTX *tls_psk_client_ctx_new(const char *suite, wc_psk_client_tls13_callback cb,
				    char *err, size_t err_len);
