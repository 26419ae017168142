/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The IN-CSE side of the key retrieval protocol (docs/protocol.md, "Key
 * retrieval"): over mutual TLS 1.3 to the MAS, send KEY_REQUEST {key ID} and
 * read KEY_RESPONSE (key, expiry, node ID, AE-ID, SUID) or ERROR. The MAS knows
 * the requester by its client certificate (URI SAN or CN = its CSE-ID) and
 * answers only the target registered for the node. Used by the IN-CSE stand-in,
 * the integration tests and the benchmarks (its own small library,
 * retrieve_client_dep in mas/meson.build: it needs only common/, not the store).
 * Nothing here logs or prints.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include "common/wire.h"

#define RETRIEVE_ERR_MAX 512
#define RETRIEVE_TIMEOUT_MS_DEFAULT 5000

/* Where the MAS is and who we are; the strings must outlive the client. */
struct retrieve_conf {
	const char *mas;       /* "host:port" of the MAS retrieval listener */
	const char *mas_ca;    /* CA that signed the MAS certificate (PEM) */
	const char *mas_name;  /* name the MAS certificate must carry (also sent as SNI) */
	const char *cert;      /* our client certificate (PEM); its URI SAN/CN is our CSE-ID */
	const char *key;       /* its private key (PEM) */
	int timeout_ms;        /* connect and per-read/write timeout; 0: the default */
};

/*
 * The command-line options of a program that retrieves keys (m2msa-espd,
 * m2msa-incse-standin): put RETRIEVE_CONF_LONGOPTS in the getopt_long table
 * (needs <getopt.h>), hand each option getopt returns to retrieve_conf_option()
 * and check retrieve_conf_complete() after the loop. The option characters
 * 'm', 'A', 'N', 'c', 'k' are taken.
 */
#define RETRIEVE_CONF_LONGOPTS                                 \
	{ "mas", required_argument, NULL, 'm' },              \
	{ "mas-ca", required_argument, NULL, 'A' },           \
	{ "mas-name", required_argument, NULL, 'N' },         \
	{ "cert", required_argument, NULL, 'c' },             \
	{ "key", required_argument, NULL, 'k' }
/* The usage lines of --mas, --mas-ca and --mas-name (--cert and --key say whose they are). */
#define RETRIEVE_CONF_USAGE                                                             \
	"  --mas HOST:PORT     the MAS key retrieval listener\n"                        \
	"  --mas-ca FILE       CA certificate that signed the MAS certificate\n"        \
	"  --mas-name NAME     name the MAS certificate must carry\n"

/* Store arg when opt is one of RETRIEVE_CONF_LONGOPTS (arg must outlive conf); false if not. */
bool retrieve_conf_option(struct retrieve_conf *conf, int opt, const char *arg);
/* Whether the MAS address, its CA and name, and our certificate and key are all set. */
bool retrieve_conf_complete(const struct retrieve_conf *conf);

/* Filled when the MAS answers with an ERROR message (retrieve_key returns -EACCES). */
struct retrieve_refusal {
	uint32_t code; /* enum wire_error_code */
	char reason[WIRE_REASON_MAX + 1];
};

struct retrieve_client;

/*
 * Load the certificates and create the TLS context once; each retrieve_key()
 * then opens one connection. Returns 0, or -errno with a message in err.
 */
int retrieve_client_new(const struct retrieve_conf *conf, struct retrieve_client **ret,
			char *err, size_t err_len);
void retrieve_client_free(struct retrieve_client *c);

/*
 * Ask the MAS for the key registered under key_id (a node or per-AE key ID).
 * Returns:
 *   0        *ret holds the MAS's KEY_RESPONSE (key bytes: wipe it with
 *            secret_wipe() when done);
 *   -EACCES  the MAS refused (ERROR message): *refusal (if not NULL) holds the
 *            code and the MAS's reason, err says "<code name>: <reason>";
 *   -EINVAL  key_id is not a valid key ID (never sent);
 *   other -errno for connection, TLS or protocol failures (err says which).
 * Nothing is kept between calls; the connection is closed before returning.
 */
int retrieve_key(struct retrieve_client *c, const char *key_id, struct wire_key_response *ret,
		 struct retrieve_refusal *refusal, char *err, size_t err_len);
