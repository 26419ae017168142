/* SPDX-License-Identifier: Apache-2.0 */
/*
 * m2msa-bsf's configuration: /etc/m2msa/m2msa-bsf.conf plus m2msa-bsf.conf.d/NAME.conf,
 * shared by m2msa-bsf and m2msa-bsfctl (which needs only [store]). Every key is
 * documented in docs/man/m2msa-bsf.conf.5.
 *
 *   [bsf]
 *   domain = bsf.example.net       B-TID domain and Digest realm (required)
 *   ub_listen = 0.0.0.0:8443       Ub: HTTPS, server certificate
 *   zn_listen = 0.0.0.0:8444       Zn: HTTPS, NAF client certificates from naf_ca
 *   cert = /etc/m2msa/bsf.crt      (required)
 *   key = /etc/m2msa/bsf.key       (required)
 *   naf_ca = /etc/m2msa/naf-ca.crt (required)
 *   lifetime = 1d                  Ks lifetime (B-TID expiry)
 *   challenge_timeout = 60s        how long a challenge's nonce can be answered
 *   max_failures = 5               failed answers per IMPI / per address ...
 *   failure_window = 5m            ... within this window before rate limiting
 *   max_challenges = 30            challenges per IMPI / per address per minute
 *   [store]
 *   path = /var/lib/m2msa/bsf.db
 *   master_key = /etc/m2msa/bsf-master.key
 *   [log]
 *   level = info
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define BSF_CONF_DEFAULT "/etc/m2msa/m2msa-bsf.conf"

struct bsf_conf {
	char *domain;
	char *ub_listen;
	char *zn_listen;
	char *cert;
	char *key;
	char *naf_ca;
	uint64_t lifetime;
	uint64_t challenge_timeout;
	uint32_t max_failures;
	uint64_t failure_window;
	uint32_t max_challenges;
	char *store_path;
	char *master_key;
	char *log_level;
};

/* Defaults, then path and "<path>.d/". Checks required keys and values. */
int bsf_conf_load(const char *path, struct bsf_conf *ret, char *err, size_t err_len);
/* For m2msa-bsfctl: the same, but [bsf] domain/cert/key/naf_ca may be missing. */
int bsf_conf_load_store(const char *path, struct bsf_conf *ret, char *err, size_t err_len);
void bsf_conf_free(struct bsf_conf *c);
