/* SPDX-License-Identifier: Apache-2.0 */
/* Loading and validating the node side's configuration (m2msad.conf). */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent-conf.h"
#include "common/conf.h"
#include "common/log.h"
#include "common/tls.h"
#include "common/util.h"

/* methods and n_methods are adjacent in struct agent_conf; the parser fills both. */
struct methods_field {
	uint8_t methods[WIRE_METHODS_MAX];
	size_t n_methods;
};

int agent_conf_parse_methods(const char *value, void *dst, char *err, size_t err_len)
{
	struct methods_field m = { .n_methods = 0 };
	char buf[128], *save = NULL;

	if (strlen(value) >= sizeof(buf)) {
		snprintf(err, err_len, "list too long");
		return -EINVAL;
	}
	strcpy(buf, value);
	for (char *t = strtok_r(buf, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
		uint8_t method;

		if (wire_method_from_string(t, &method) < 0) {
			snprintf(err, err_len, "unknown method '%s' (known: psk, pki, gba)", t);
			return -EINVAL;
		}
		for (size_t i = 0; i < m.n_methods; i++)
			if (m.methods[i] == method) {
				snprintf(err, err_len, "method '%s' listed twice", t);
				return -EINVAL;
			}
		if (m.n_methods == WIRE_METHODS_MAX) {
			snprintf(err, err_len, "at most %d methods", WIRE_METHODS_MAX);
			return -EINVAL;
		}
		m.methods[m.n_methods++] = method;
	}
	if (m.n_methods == 0) {
		snprintf(err, err_len, "expected a list such as psk,pki");
		return -EINVAL;
	}
	memcpy(dst, &m, sizeof(m));
	return 0;
}

/* An interface name: what the kernel accepts (1..IFNAMSIZ-1 bytes, no '/', ':' or blanks). */
static int agent_conf_parse_ifname(const char *value, void *dst, char *err, size_t err_len)
{
	size_t len = strlen(value);

	if (len == 0 || len >= IFNAMSIZ || strcmp(value, ".") == 0 || strcmp(value, "..") == 0 ||
	    strpbrk(value, "/: \t")) {
		snprintf(err, err_len, "expected an interface name such as eth0 (at most %d characters)",
			 IFNAMSIZ - 1);
		return -EINVAL;
	}
	return conf_parse_string(value, dst, err, err_len);
}

static const struct conf_item agent_items[] = {
	{ "node", "node_id", conf_parse_string, offsetof(struct agent_conf, node_id) },
	{ "node", "state_dir", conf_parse_path, offsetof(struct agent_conf, state_dir) },
	{ "node", "tcti", conf_parse_string, offsetof(struct agent_conf, tcti) },
	{ "node", "methods", agent_conf_parse_methods, offsetof(struct agent_conf, methods) },
	{ "mas", "address", conf_parse_string, offsetof(struct agent_conf, mas_address) },
	{ "mas", "ca", conf_parse_path, offsetof(struct agent_conf, mas_ca) },
	{ "mas", "server_name", conf_parse_string, offsetof(struct agent_conf, server_name) },
	{ "mas", "timeout", conf_parse_duration, offsetof(struct agent_conf, timeout) },
	{ "log", "level", conf_parse_string, offsetof(struct agent_conf, log_level) },
	{ "agent", "status_file", conf_parse_path, offsetof(struct agent_conf, status_file) },
	{ "agent", "uplink", agent_conf_parse_ifname, offsetof(struct agent_conf, uplink) },
	{ "agent", "backoff_min", conf_parse_duration, offsetof(struct agent_conf, backoff_min) },
	{ "agent", "backoff_max", conf_parse_duration, offsetof(struct agent_conf, backoff_max) },
	{ "agent", "socket", conf_parse_path, offsetof(struct agent_conf, socket_path) },
	{ "agent", "clients_dir", conf_parse_path, offsetof(struct agent_conf, clients_dir) },
	{ "agent", "client_idle_timeout", conf_parse_duration,
	  offsetof(struct agent_conf, client_idle_timeout) },
	{ "agent", "clients_per_uid", conf_parse_uint32,
	  offsetof(struct agent_conf, clients_per_uid) },
	{ "agent", "peer_check_interval", conf_parse_duration,
	  offsetof(struct agent_conf, peer_check_interval) },
	{ "gba", "bsf_url", conf_parse_string, offsetof(struct agent_conf, gba_bsf_url) },
	{ "gba", "bsf_ca", conf_parse_path, offsetof(struct agent_conf, gba_bsf_ca) },
	{ "gba", "usim", conf_parse_string, offsetof(struct agent_conf, gba_usim) },
	{ "gba", "reader", conf_parse_string, offsetof(struct agent_conf, gba_reader) },
	{ "gba", "impi", conf_parse_string, offsetof(struct agent_conf, gba_impi) },
	{ "gba", "timeout", conf_parse_duration, offsetof(struct agent_conf, gba_timeout) },
	{ "esp", "peer", agent_esp_peer_parse, offsetof(struct agent_conf, esp_peers) },
};

_Static_assert(offsetof(struct agent_conf, n_methods) - offsetof(struct agent_conf, methods) ==
		       offsetof(struct methods_field, n_methods),
	       "methods and n_methods must be laid out as struct methods_field");

void agent_conf_free(struct agent_conf *c)
{
	if (!c)
		return;
	free(c->node_id);
	free(c->state_dir);
	free(c->tcti);
	free(c->mas_address);
	for (size_t i = 0; i < c->n_mas_addresses; i++)
		free(c->mas_addresses[i]);
	free(c->mas_ca);
	free(c->server_name);
	free(c->log_level);
	free(c->status_file);
	free(c->uplink);
	free(c->socket_path);
	free(c->clients_dir);
	free(c->gba_bsf_url);
	free(c->gba_bsf_ca);
	free(c->gba_usim);
	free(c->gba_reader);
	free(c->gba_impi);
	agent_esp_peers_free(&c->esp_peers);
	memset(c, 0, sizeof(*c));
}

/* [gba]: checked whether or not gba is offered; bsf_url and bsf_ca required when it is. */
static int check_gba(const char *path, const struct agent_conf *c, struct m2msa_err *err)
{
	if (strcmp(c->gba_usim, "tpm") != 0 && strcmp(c->gba_usim, "pcsc") != 0)
		return err_set(err, -EINVAL, "%s: [gba] usim '%s' is not tpm or pcsc", path,
			       c->gba_usim);
	if (c->gba_bsf_url && strncmp(c->gba_bsf_url, "https://", 8) != 0)
		return err_set(err, -EINVAL, "%s: [gba] bsf_url '%s' must be an https:// URL", path,
			       c->gba_bsf_url);
	if (c->gba_timeout == 0)
		return err_set(err, -EINVAL, "%s: [gba] timeout must be at least 1s", path);
	if (agent_conf_offers(c, WIRE_METHOD_GBA) && (!c->gba_bsf_url || !c->gba_bsf_ca))
		return err_set(err, -EINVAL, "%s: [gba] %s is required for method gba", path,
			       !c->gba_bsf_url ? "bsf_url" : "bsf_ca");
	return 0;
}

/* [mas] address: one or more host:port, separated by commas and/or blanks. */
static int split_addresses(const char *path, struct agent_conf *c, struct m2msa_err *err)
{
	_cleanup_free_ char *copy = strdup(c->mas_address);
	char host[256], *save = NULL;
	uint16_t port;

	if (!copy)
		return err_set(err, -ENOMEM, "out of memory");
	for (char *t = strtok_r(copy, ", \t", &save); t; t = strtok_r(NULL, ", \t", &save)) {
		if (tcp_parse_hostport(t, host, sizeof(host), &port) < 0)
			return err_set(err, -EINVAL, "%s: [mas] address '%s' is not host:port", path,
				       t);
		if (c->n_mas_addresses == AGENT_CONF_MAS_MAX)
			return err_set(err, -EINVAL, "%s: [mas] address lists more than %d endpoints",
				       path, AGENT_CONF_MAS_MAX);
		c->mas_addresses[c->n_mas_addresses] = strdup(t);
		if (!c->mas_addresses[c->n_mas_addresses])
			return err_set(err, -ENOMEM, "out of memory");
		c->n_mas_addresses++;
	}
	if (c->n_mas_addresses == 0)
		return err_set(err, -EINVAL, "%s: [mas] address is empty (host:port, or several)",
			       path);
	return 0;
}

int agent_conf_load(const char *path, struct agent_conf *ret, struct m2msa_err *err)
{
	_cleanup_(agent_conf_free) struct agent_conf c = {
		.methods = { WIRE_METHOD_PSK },
		.n_methods = 1,
		.timeout = 10,
		.backoff_min = 1,
		.backoff_max = 300,
		.client_idle_timeout = 60,
		.clients_per_uid = 64,
		.peer_check_interval = 60,
		.gba_timeout = 10,
	};
	char dropin[4096];
	enum log_level lvl;
	int r;

	c.state_dir = strdup("/var/lib/m2msa");
	c.tcti = strdup("device:/dev/tpmrm0");
	c.log_level = strdup("info");
	c.status_file = strdup(AGENT_CONF_STATUS_FILE_DEFAULT);
	c.socket_path = strdup(AGENT_CONF_SOCKET_DEFAULT);
	c.clients_dir = strdup(AGENT_CONF_CLIENTS_DIR_DEFAULT);
	c.gba_usim = strdup("tpm");
	if (!c.state_dir || !c.tcti || !c.log_level || !c.status_file || !c.socket_path ||
	    !c.clients_dir || !c.gba_usim)
		return err_set(err, -ENOMEM, "out of memory");
	snprintf(dropin, sizeof(dropin), "%s.d", path);
	r = conf_load(path, dropin, agent_items, ARRAY_SIZE(agent_items), &c, err->msg,
		      sizeof(err->msg));
	if (r < 0)
		return r;
	if (!c.mas_address || !c.mas_ca || !c.server_name)
		return err_set(err, -EINVAL, "%s: [mas] %s is required", path,
			       !c.mas_address ? "address" : !c.mas_ca ? "ca" : "server_name");
	r = split_addresses(path, &c, err);
	if (r < 0)
		return r;
	if (c.node_id && !wire_id_valid(c.node_id))
		return err_set(err, -EINVAL,
			       "%s: [node] node_id '%s' is not a valid CSE-ID (A-Z a-z 0-9 . _ - @ /, "
			       "at most %d)",
			       path, c.node_id, WIRE_ID_MAX);
	if (log_level_from_string(c.log_level, &lvl) < 0)
		return err_set(err, -EINVAL,
			       "%s: [log] level '%s' is not one of error, warning, notice, info, debug",
			       path, c.log_level);
	if (c.timeout == 0)
		return err_set(err, -EINVAL, "%s: [mas] timeout must be at least 1s", path);
	if (c.backoff_min == 0)
		return err_set(err, -EINVAL, "%s: [agent] backoff_min must be at least 1s", path);
	if (c.client_idle_timeout == 0)
		return err_set(err, -EINVAL, "%s: [agent] client_idle_timeout must be at least 1s",
			       path);
	if (c.peer_check_interval < 5 || c.peer_check_interval > 86400)
		return err_set(err, -EINVAL,
			       "%s: [agent] peer_check_interval must be between 5s and 24h", path);
	if (c.backoff_max < c.backoff_min)
		return err_set(err, -EINVAL,
			       "%s: [agent] backoff_max (%llus) must not be below backoff_min (%llus)",
			       path, (unsigned long long)c.backoff_max,
			       (unsigned long long)c.backoff_min);
	r = check_gba(path, &c, err);
	if (r < 0)
		return r;
	*ret = c;
	c = (struct agent_conf){ .n_methods = 0 }; /* handed over: nothing left to free */
	return 0;
}

bool agent_conf_failover_helps(int r)
{
	switch (r) {
	case -ENOENT:	       /* unknown node */
	case -EKEYREVOKED:     /* revoked */
	case -EKEYREJECTED:    /* wrong Km or refused certificate */
	case -EPROTONOSUPPORT: /* no common method or version */
	case -EPERM:	       /* the MAS certificate did not verify: same CA for all */
		return false;
	default:
		return true;
	}
}

bool agent_conf_offers(const struct agent_conf *c, uint8_t method)
{
	for (size_t i = 0; i < c->n_methods; i++)
		if (c->methods[i] == method)
			return true;
	return false;
}
