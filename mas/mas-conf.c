/* SPDX-License-Identifier: Apache-2.0 */
/* Loading and validating the MAS configuration (m2masd.conf and its drop-in folder). */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/conf.h"
#include "common/dns-name.h"
#include "common/log.h"
#include "common/tls.h"
#include "common/util.h"
#include "mas/mas-conf.h"
#include "mas/store.h"

static const struct conf_item mas_items[] = {
	{ "mas", "listen", conf_parse_string, offsetof(struct mas_conf, listen) },
	{ "mas", "retrieval_listen", conf_parse_string, offsetof(struct mas_conf, retrieval_listen) },
	{ "mas", "fqdn", conf_parse_string, offsetof(struct mas_conf, fqdn) },
	{ "mas", "cert", conf_parse_path, offsetof(struct mas_conf, cert) },
	{ "mas", "key", conf_parse_path, offsetof(struct mas_conf, key) },
	{ "mas", "target_ca", conf_parse_path, offsetof(struct mas_conf, target_ca) },
	{ "mas", "node_ca", conf_parse_path, offsetof(struct mas_conf, node_ca) },
	{ "mas", "lifetime", conf_parse_duration, offsetof(struct mas_conf, lifetime) },
	{ "mas", "handshake_timeout", conf_parse_duration,
	  offsetof(struct mas_conf, handshake_timeout) },
	{ "mas", "idle_timeout", conf_parse_duration, offsetof(struct mas_conf, idle_timeout) },
	{ "mas", "max_failures", conf_parse_uint32, offsetof(struct mas_conf, max_failures) },
	{ "mas", "failure_window", conf_parse_duration, offsetof(struct mas_conf, failure_window) },
	{ "mas", "retrieval_connections", conf_parse_uint32,
	  offsetof(struct mas_conf, retrieval_connections) },
	{ "mas", "connections_per_source", conf_parse_uint32,
	  offsetof(struct mas_conf, connections_per_source) },
	{ "mas", "connection_rate_per_source", conf_parse_uint32,
	  offsetof(struct mas_conf, connection_rate_per_source) },
	{ "mas", "first_byte_timeout", conf_parse_duration,
	  offsetof(struct mas_conf, first_byte_timeout) },
	{ "mas", "workers", conf_parse_uint32, offsetof(struct mas_conf, workers) },
	{ "zn", "bsf_url", conf_parse_string, offsetof(struct mas_conf, zn_bsf_url) },
	{ "zn", "bsf_ca", conf_parse_path, offsetof(struct mas_conf, zn_bsf_ca) },
	{ "zn", "cert", conf_parse_path, offsetof(struct mas_conf, zn_cert) },
	{ "zn", "key", conf_parse_path, offsetof(struct mas_conf, zn_key) },
	{ "zn", "timeout", conf_parse_duration, offsetof(struct mas_conf, zn_timeout) },
	{ "store", "backend", conf_parse_string, offsetof(struct mas_conf, store_backend) },
	{ "store", "path", conf_parse_path, offsetof(struct mas_conf, store_path) },
	{ "store", "conninfo", conf_parse_string, offsetof(struct mas_conf, store_conninfo) },
	{ "store", "password_file", conf_parse_path,
	  offsetof(struct mas_conf, store_password_file) },
	{ "store", "master_key", conf_parse_path, offsetof(struct mas_conf, master_key) },
	{ "metrics", "listen", conf_parse_string, offsetof(struct mas_conf, metrics_listen) },
	{ "log", "level", conf_parse_string, offsetof(struct mas_conf, log_level) },
};

void mas_conf_free(struct mas_conf *c)
{
	if (!c)
		return;
	free(c->listen);
	free(c->retrieval_listen);
	free(c->fqdn);
	free(c->cert);
	free(c->key);
	free(c->target_ca);
	free(c->node_ca);
	free(c->zn_bsf_url);
	free(c->zn_bsf_ca);
	free(c->zn_cert);
	free(c->zn_key);
	free(c->store_backend);
	free(c->store_path);
	free(c->store_conninfo);
	free(c->store_password_file);
	free(c->master_key);
	free(c->metrics_listen);
	free(c->log_level);
	memset(c, 0, sizeof(*c));
}

static int check_listen(const char *path, const char *key, const char *value, char *err,
			size_t err_len)
{
	char host[256];
	uint16_t port;

	if (tcp_parse_hostport(value, host, sizeof(host), &port) < 0) {
		snprintf(err, err_len,
			 "%s: [mas] %s '%s' is not host:port (e.g. 0.0.0.0:5683 or [::]:5683)", path,
			 key, value);
		return -EINVAL;
	}
	return 0;
}

/* Does a connection string carry a password (password=..., or user:password@ in a URI)? */
static bool conninfo_has_password(const char *ci)
{
	const char *scheme = strstr(ci, "://"), *at;

	if (strstr(ci, "password"))
		return true;
	if (!scheme)
		return false;
	at = strchr(scheme + 3, '@');
	return at && memchr(scheme + 3, ':', (size_t)(at - (scheme + 3))) != NULL;
}

static int check_store(const char *path, const struct mas_conf *c, char *err, size_t err_len)
{
	enum store_backend b;

	if (store_backend_from_string(c->store_backend, &b) < 0) {
		snprintf(err, err_len, "%s: [store] backend '%s' is not sqlite or postgresql", path,
			 c->store_backend);
		return -EINVAL;
	}
	if (b != STORE_BACKEND_POSTGRESQL)
		return 0;
	if (!c->store_conninfo || !*c->store_conninfo) {
		snprintf(err, err_len,
			 "%s: [store] backend = postgresql needs conninfo (e.g. host=db.example.net "
			 "dbname=m2msa user=m2masd)",
			 path);
		return -EINVAL;
	}
	/* A password in the connection string would sit in a world-readable file. */
	if (conninfo_has_password(c->store_conninfo)) {
		snprintf(err, err_len,
			 "%s: [store] conninfo must not hold the password; put it in a file of "
			 "its own (mode 0600) and name it with password_file",
			 path);
		return -EINVAL;
	}
	return 0;
}

void mas_conf_store_config(const struct mas_conf *c, struct store_config *ret)
{
	enum store_backend b = STORE_BACKEND_SQLITE;

	(void)store_backend_from_string(c->store_backend, &b);
	*ret = (struct store_config){
		.backend = b,
		.location = b == STORE_BACKEND_POSTGRESQL ? c->store_conninfo : c->store_path,
		.password_file = b == STORE_BACKEND_POSTGRESQL ? c->store_password_file : NULL,
	};
}

/* The checks every user of the file needs: values that parse but make no sense. */
static int check_values(const char *path, const struct mas_conf *c, char *err, size_t err_len)
{
	enum log_level lvl;
	int r;

	r = check_listen(path, "listen", c->listen, err, err_len);
	if (r < 0)
		return r;
	r = check_listen(path, "retrieval_listen", c->retrieval_listen, err, err_len);
	if (r < 0)
		return r;
	if (c->fqdn && !dns_name_valid(c->fqdn)) {
		snprintf(err, err_len, "%s: [mas] fqdn '%s' is not a DNS name such as mas.example.net",
			 path, c->fqdn);
		return -EINVAL;
	}
	if (c->lifetime == 0) {
		snprintf(err, err_len, "%s: [mas] lifetime must be at least 1s", path);
		return -EINVAL;
	}
	if (c->handshake_timeout == 0) {
		snprintf(err, err_len, "%s: [mas] handshake_timeout must be at least 1s", path);
		return -EINVAL;
	}
	if (c->idle_timeout == 0) {
		snprintf(err, err_len, "%s: [mas] idle_timeout must be at least 1s", path);
		return -EINVAL;
	}
	if (c->max_failures == 0) {
		snprintf(err, err_len, "%s: [mas] max_failures must be at least 1", path);
		return -EINVAL;
	}
	if (c->failure_window == 0) {
		snprintf(err, err_len, "%s: [mas] failure_window must be at least 1s", path);
		return -EINVAL;
	}
	if (c->retrieval_connections == 0 || c->connections_per_source == 0) {
		snprintf(err, err_len, "%s: [mas] %s must be at least 1", path,
			 c->retrieval_connections == 0 ? "retrieval_connections" :
							 "connections_per_source");
		return -EINVAL;
	}
	if (c->workers > MAS_WORKERS_MAX) {
		snprintf(err, err_len, "%s: [mas] workers must be from 0 (one per online CPU) to %d, "
			 "not %" PRIu32, path, MAS_WORKERS_MAX, c->workers);
		return -EINVAL;
	}
	if (c->first_byte_timeout == 0) {
		snprintf(err, err_len, "%s: [mas] first_byte_timeout must be at least 1s", path);
		return -EINVAL;
	}
	if ((c->zn_bsf_url || c->zn_bsf_ca || c->zn_cert || c->zn_key) &&
	    !(c->zn_bsf_url && c->zn_bsf_ca && c->zn_cert && c->zn_key)) {
		snprintf(err, err_len,
			 "%s: [zn] needs all of bsf_url, bsf_ca, cert and key (or none: method gba off)",
			 path);
		return -EINVAL;
	}
	if (c->zn_bsf_url && strncmp(c->zn_bsf_url, "https://", 8) != 0) {
		snprintf(err, err_len, "%s: [zn] bsf_url '%s' must be an https:// URL", path,
			 c->zn_bsf_url);
		return -EINVAL;
	}
	if (c->zn_timeout == 0) {
		snprintf(err, err_len, "%s: [zn] timeout must be at least 1s", path);
		return -EINVAL;
	}
	if (c->metrics_listen && c->metrics_listen[0] != '\0') {
		char host[256];
		uint16_t port;

		if (tcp_parse_hostport(c->metrics_listen, host, sizeof(host), &port) < 0) {
			snprintf(err, err_len,
				 "%s: [metrics] listen '%s' is not host:port (e.g. 127.0.0.1:9641)",
				 path, c->metrics_listen);
			return -EINVAL;
		}
	}
	r = check_store(path, c, err, err_len);
	if (r < 0)
		return r;
	if (log_level_from_string(c->log_level, &lvl) < 0) {
		snprintf(err, err_len,
			 "%s: [log] level '%s' is not one of error, warning, notice, info, debug",
			 path, c->log_level);
		return -EINVAL;
	}
	return 0;
}

static int check_required(const char *path, const struct mas_conf *c, char *err, size_t err_len)
{
	const char *missing = !c->fqdn ? "fqdn" :
			      !c->cert ? "cert" :
			      !c->key ? "key" :
			      !c->target_ca ? "target_ca" : NULL;

	if (missing) {
		snprintf(err, err_len, "%s: [mas] %s is required", path, missing);
		return -EINVAL;
	}
	return 0;
}

static int load(const char *path, bool require_server, struct mas_conf *ret, char *err,
		size_t err_len)
{
	struct mas_conf c = {
		.lifetime = 3600,
		.handshake_timeout = 10,
		.idle_timeout = 30,
		.max_failures = 5,
		.failure_window = 60,
		.retrieval_connections = 128,
		.connections_per_source = 64,
		.connection_rate_per_source = 20,
		.first_byte_timeout = 3,
		.zn_timeout = 5,
	};
	_cleanup_free_ char *dropin = NULL;
	int r;

	if (err_len > 0)
		err[0] = '\0';
	c.listen = strdup("0.0.0.0:5683");
	c.retrieval_listen = strdup("0.0.0.0:5684");
	c.store_backend = strdup("sqlite");
	c.store_path = strdup("/var/lib/m2msa/mas.db");
	c.master_key = strdup("/etc/m2msa/mas-master.key");
	c.log_level = strdup("info");
	if (!c.listen || !c.retrieval_listen || !c.store_backend || !c.store_path || !c.master_key || !c.log_level ||
	    asprintf(&dropin, "%s.d", path) < 0) {
		dropin = NULL;
		r = -ENOMEM;
		goto fail;
	}
	r = conf_load(path, dropin, mas_items, ARRAY_SIZE(mas_items), &c, err, err_len);
	if (r < 0)
		goto fail;
	if (require_server) {
		r = check_required(path, &c, err, err_len);
		if (r < 0)
			goto fail;
	}
	r = check_values(path, &c, err, err_len);
	if (r < 0)
		goto fail;
	*ret = c;
	return 0;
fail:
	mas_conf_free(&c);
	return r;
}

int mas_conf_load(const char *path, struct mas_conf *ret, char *err, size_t err_len)
{
	return load(path, true, ret, err, err_len);
}

int mas_conf_load_store(const char *path, struct mas_conf *ret, char *err, size_t err_len)
{
	return load(path, false, ret, err, err_len);
}
