/* SPDX-License-Identifier: Apache-2.0 */
/* Parsing of m2msad.conf's [esp] peer lines. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/esp-conf.h"
#include "common/tls.h"

static int parse_num(const char *s, unsigned long max, unsigned long *ret)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	v = strtoul(s, &end, 10);
	if (*end || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

static int parse_proto(const char *s, uint8_t *ret)
{
	static const char *const names[] = { "any", "tcp", "udp", "sctp", "icmp" };
	static const uint8_t protos[] = { 0, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP, IPPROTO_ICMP };
	unsigned long v;

	for (size_t i = 0; i < sizeof(protos); i++)
		if (strcmp(s, names[i]) == 0) {
			*ret = protos[i];
			return 0;
		}
	if (parse_num(s, 255, &v) < 0 || v == 0)
		return -EINVAL;
	*ret = (uint8_t)v;
	return 0;
}

/* One NAME=VALUE option of a peer line. */
static int parse_option(char *opt, struct esp_selectors *sel, char *err, size_t err_len)
{
	char *eq = strchr(opt, '=');
	unsigned long v;

	if (!eq) {
		snprintf(err, err_len, "'%s': expected NAME=VALUE (mode, proto, node_port, "
			 "target_port)", opt);
		return -EINVAL;
	}
	*eq++ = '\0';
	if (strcmp(opt, "mode") == 0) {
		if (strcmp(eq, "transport") == 0)
			sel->mode = ESP_MODE_TRANSPORT;
		else if (strcmp(eq, "tunnel") == 0)
			sel->mode = ESP_MODE_TUNNEL;
		else
			goto bad;
	} else if (strcmp(opt, "proto") == 0) {
		if (parse_proto(eq, &sel->proto) < 0)
			goto bad;
	} else if (strcmp(opt, "node_port") == 0 || strcmp(opt, "target_port") == 0) {
		if (parse_num(eq, 65535, &v) < 0 || v == 0)
			goto bad;
		*(opt[0] == 'n' ? &sel->node_port : &sel->target_port) = (uint16_t)v;
	} else {
		snprintf(err, err_len, "unknown peer option '%s' (mode, proto, node_port, "
			 "target_port)", opt);
		return -EINVAL;
	}
	return 0;
bad:
	snprintf(err, err_len, "bad value '%s' for %s (mode: transport or tunnel; proto: any, "
		 "tcp, udp, sctp, icmp or 1..255; ports: 1..65535)", eq, opt);
	return -EINVAL;
}

int agent_esp_peer_parse(const char *value, void *dst, char *err, size_t err_len)
{
	struct agent_esp_peers *peers = dst;
	struct agent_esp_peer p = { .sel = { .mode = ESP_MODE_TRANSPORT } }, *v;
	char *line = strdup(value), *save = NULL, *tok, host[256];
	uint16_t port = 0;
	int r = 0;

	if (!line)
		return -ENOMEM;
	tok = strtok_r(line, " \t", &save);
	if (!tok || tcp_parse_hostport(tok, host, sizeof(host), &port) < 0 || port == 0) {
		snprintf(err, err_len, "expected HOST:PORT of m2msa-espd first, then options");
		r = -EINVAL;
		goto out;
	}
	p.address = strdup(tok);
	while (r == 0 && (tok = strtok_r(NULL, " \t", &save)))
		r = parse_option(tok, &p.sel, err, err_len);
	if (r == 0 && !esp_selectors_valid(&p.sel)) {
		snprintf(err, err_len, "ports need proto=tcp, udp or sctp");
		r = -EINVAL;
	}
	if (r == 0 && peers->n >= AGENT_ESP_PEERS_MAX) {
		snprintf(err, err_len, "at most %d ESP peers", AGENT_ESP_PEERS_MAX);
		r = -E2BIG;
	}
	if (r == 0 && !p.address)
		r = -ENOMEM;
	if (r < 0)
		goto out;
	v = realloc(peers->v, (peers->n + 1) * sizeof(*v));
	if (!v) {
		r = -ENOMEM;
		goto out;
	}
	peers->v = v;
	peers->v[peers->n++] = p;
	p.address = NULL;
out:
	free(p.address);
	free(line);
	return r;
}

void agent_esp_peers_free(struct agent_esp_peers *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->v[i].address);
	free(p->v);
	p->v = NULL;
	p->n = 0;
}
