/* SPDX-License-Identifier: Apache-2.0 */
/*
 * m2masd's configuration: /etc/m2msa/m2masd.conf plus m2masd.conf.d/NAME.conf.
 * Shared by m2masd and m2masctl (which needs the store and master key paths).
 * Every key is documented in docs/m2masd.conf.md.
 *
 *   [mas]
 *   listen = 0.0.0.0:5683          node establishment (TLS 1.3, server cert)
 *   retrieval_listen = 0.0.0.0:5684 key retrieval by targets (mutual TLS)
 *   fqdn = mas.example.net         MAS-FQDN used in key IDs (required)
 *   cert = /etc/m2msa/mas.crt      (required)
 *   key = /etc/m2msa/mas.key       (required)
 *   target_ca = /etc/m2msa/target-ca.crt  CA of IN-CSE client certificates (required)
 *   node_ca = /etc/m2msa/node-ca.crt      CA of node certificates; enables method pki
 *   lifetime = 1h                  default association lifetime
 *   handshake_timeout = 10s
 *   idle_timeout = 30s
 *   max_failures = 5               failed proofs per node / per address ...
 *   failure_window = 60s           ... within this window before rate limiting
 *   retrieval_connections = 128    of --max-connections, kept for the retrieval port
 *   connections_per_source = 64    open connections per address (IPv6: /64) and port
 *   connection_rate_per_source = 20 new connections a second per source and port that
 *                                  do not succeed (a success gives its token back)
 *   first_byte_timeout = 3s        a connection that sends nothing is closed
 *   workers = 0                    event-loop threads; 0: one per online CPU
 *   [zn]                           method gba (all of bsf_url, bsf_ca, cert, key; or none)
 *   bsf_url = https://bsf.example.net:8443   Nbsp_GBA API root of the BSF
 *   bsf_ca = /etc/m2msa/bsf-ca.crt  CA of the BSF's certificate (pinned)
 *   cert = /etc/m2msa/naf.crt      the MAS's NAF client certificate
 *   key = /etc/m2msa/naf.key
 *   timeout = 5s
 *   [store]
 *   backend = sqlite               sqlite (one instance) or postgresql (several)
 *   path = /var/lib/m2msa/mas.db   sqlite: the file
 *   conninfo = host=db dbname=m2msa user=m2masd   postgresql: libpq connection string
 *   password_file = /etc/m2msa/pg-password        postgresql: the password, not in conninfo
 *   master_key = /etc/m2msa/mas-master.key
 *   [metrics]
 *   listen = 127.0.0.1:9641        Prometheus GET /metrics (unset: off)
 *   [log]
 *   level = info
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "common/log.h"

#define MAS_CONF_DEFAULT "/etc/m2msa/m2masd.conf"
#define MAS_WORKERS_MAX 256

struct mas_conf {
	char *listen;
	char *retrieval_listen;
	char *fqdn;
	char *cert;
	char *key;
	char *target_ca;
	char *node_ca; /* NULL: method pki off, no client certificates on the establishment port */
	uint64_t lifetime;
	uint64_t handshake_timeout;
	uint64_t idle_timeout;
	uint32_t max_failures;
	uint64_t failure_window;
	uint32_t retrieval_connections;
	uint32_t connections_per_source;
	uint32_t connection_rate_per_source; /* 0: unlimited */
	uint64_t first_byte_timeout;
	uint32_t workers; /* 0: one per online CPU (sysconf(_SC_NPROCESSORS_ONLN)) */
	char *zn_bsf_url; /* NULL: method gba off */
	char *zn_bsf_ca;
	char *zn_cert;
	char *zn_key;
	uint64_t zn_timeout; /* seconds */
	char *store_backend; /* "sqlite" or "postgresql", validated at load */
	char *store_path;
	char *store_conninfo; /* required with postgresql */
	char *store_password_file;
	char *master_key;
	char *metrics_listen; /* NULL: no metrics endpoint */
	char *log_level; /* validated at load */
};

/* Defaults, then path and path.d/ (the drop-in folder is "<path>.d"). Checks required keys. */
int mas_conf_load(const char *path, struct mas_conf *ret, char *err, size_t err_len);
/*
 * For m2masctl: the same file, keys and value checks, but the [mas] keys that
 * only the daemon needs (fqdn, cert, key, target_ca) may be missing.
 */
int mas_conf_load_store(const char *path, struct mas_conf *ret, char *err, size_t err_len);
/* Free c's strings (c itself is the caller's: _cleanup_(mas_conf_free) on the stack works). */
void mas_conf_free(struct mas_conf *c);

struct store_config;
/* The store the loaded configuration names (pointers into c). */
void mas_conf_store_config(const struct mas_conf *c, struct store_config *ret);
