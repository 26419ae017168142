/* SPDX-License-Identifier: Apache-2.0 */
/* Loading and validating m2msa-bsf.conf and its drop-in folder (see bsf-conf.h). */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bsf/bsf-conf.h"
#include "common/conf.h"
#include "common/dns-name.h"
#include "common/log.h"
#include "common/tls.h"
#include "common/util.h"
#include "gba/btid.h"

static const struct conf_item bsf_items[] = {
	{ "bsf", "domain", conf_parse_string, offsetof(struct bsf_conf, domain) },
	{ "bsf", "ub_listen", conf_parse_string, offsetof(struct bsf_conf, ub_listen) },
	{ "bsf", "zn_listen", conf_parse_string, offsetof(struct bsf_conf, zn_listen) },
	{ "bsf", "cert", conf_parse_path, offsetof(struct bsf_conf, cert) },
	{ "bsf", "key", conf_parse_path, offsetof(struct bsf_conf, key) },
	{ "bsf", "naf_ca", conf_parse_path, offsetof(struct bsf_conf, naf_ca) },
	{ "bsf", "lifetime", conf_parse_duration, offsetof(struct bsf_conf, lifetime) },
	{ "bsf", "challenge_timeout", conf_parse_duration,
	  offsetof(struct bsf_conf, challenge_timeout) },
	{ "bsf", "max_failures", conf_parse_uint32, offsetof(struct bsf_conf, max_failures) },
	{ "bsf", "failure_window", conf_parse_duration, offsetof(struct bsf_conf, failure_window) },
	{ "bsf", "max_challenges", conf_parse_uint32, offsetof(struct bsf_conf, max_challenges) },
	{ "store", "path", conf_parse_path, offsetof(struct bsf_conf, store_path) },
	{ "store", "master_key", conf_parse_path, offsetof(struct bsf_conf, master_key) },
	{ "log", "level", conf_parse_string, offsetof(struct bsf_conf, log_level) },
};

void bsf_conf_free(struct bsf_conf *c)
{
	if (!c)
		return;
	free(c->domain);
	free(c->ub_listen);
	free(c->zn_listen);
	free(c->cert);
	free(c->key);
	free(c->naf_ca);
	free(c->store_path);
	free(c->master_key);
	free(c->log_level);
	memset(c, 0, sizeof(*c));
}

static int check_values(const char *path, const struct bsf_conf *c, char *err, size_t err_len)
{
	const char *listens[][2] = { { "ub_listen", c->ub_listen }, { "zn_listen", c->zn_listen } };
	enum log_level lvl;

	for (size_t i = 0; i < ARRAY_SIZE(listens); i++) {
		char host[256];
		uint16_t port;

		if (tcp_parse_hostport(listens[i][1], host, sizeof(host), &port) < 0) {
			snprintf(err, err_len,
				 "%s: [bsf] %s '%s' is not host:port (e.g. 0.0.0.0:8443 or [::]:8443)",
				 path, listens[i][0], listens[i][1]);
			return -EINVAL;
		}
	}
	if (c->domain && !dns_name_valid(c->domain)) {
		snprintf(err, err_len, "%s: [bsf] domain '%s' is not a DNS name such as bsf.example.net",
			 path, c->domain);
		return -EINVAL;
	}
	if (c->lifetime == 0 || c->challenge_timeout == 0 || c->failure_window == 0) {
		snprintf(err, err_len,
			 "%s: [bsf] lifetime, challenge_timeout and failure_window must be at least 1s",
			 path);
		return -EINVAL;
	}
	if (c->max_failures == 0 || c->max_challenges == 0) {
		snprintf(err, err_len, "%s: [bsf] max_failures and max_challenges must be at least 1",
			 path);
		return -EINVAL;
	}
	if (log_level_from_string(c->log_level, &lvl) < 0) {
		snprintf(err, err_len,
			 "%s: [log] level '%s' is not one of error, warning, notice, info, debug",
			 path, c->log_level);
		return -EINVAL;
	}
	return 0;
}

static int load(const char *path, bool require_server, struct bsf_conf *ret, char *err,
		size_t err_len)
{
	struct bsf_conf c = {
		.lifetime = 86400,
		.challenge_timeout = 60,
		.max_failures = 5,
		.failure_window = 300,
		.max_challenges = 30,
	};
	_cleanup_free_ char *dropin = NULL;
	const char *missing;
	int r;

	if (err_len > 0)
		err[0] = '\0';
	c.ub_listen = strdup("0.0.0.0:8443");
	c.zn_listen = strdup("0.0.0.0:8444");
	c.store_path = strdup("/var/lib/m2msa/bsf.db");
	c.master_key = strdup("/etc/m2msa/bsf-master.key");
	c.log_level = strdup("info");
	if (!c.ub_listen || !c.zn_listen || !c.store_path || !c.master_key || !c.log_level ||
	    asprintf(&dropin, "%s.d", path) < 0) {
		dropin = NULL;
		r = -ENOMEM;
		goto fail;
	}
	r = conf_load(path, dropin, bsf_items, ARRAY_SIZE(bsf_items), &c, err, err_len);
	if (r < 0)
		goto fail;
	missing = !c.domain ? "domain" : !c.cert ? "cert" : !c.key ? "key" : !c.naf_ca ? "naf_ca" : NULL;
	if (require_server && missing) {
		snprintf(err, err_len, "%s: [bsf] %s is required", path, missing);
		r = -EINVAL;
		goto fail;
	}
	r = check_values(path, &c, err, err_len);
	if (r < 0)
		goto fail;
	*ret = c;
	return 0;
fail:
	bsf_conf_free(&c);
	return r;
}

int bsf_conf_load(const char *path, struct bsf_conf *ret, char *err, size_t err_len)
{
	return load(path, true, ret, err, err_len);
}

int bsf_conf_load_store(const char *path, struct bsf_conf *ret, char *err, size_t err_len)
{
	return load(path, false, ret, err, err_len);
}
