/* SPDX-License-Identifier: Apache-2.0 */
/* m2msa-espd's --allow rules: parsing and matching. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "espd/espd-allow.h"

static int parse_proto(const char *s, size_t n, uint8_t *ret)
{
	static const struct {
		const char *name;
		uint8_t proto;
	} names[] = { { "tcp", IPPROTO_TCP }, { "udp", IPPROTO_UDP }, { "sctp", IPPROTO_SCTP },
		      { "icmp", IPPROTO_ICMP } };
	char buf[16], *end;
	unsigned long v;

	if (n == 0 || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(buf, names[i].name) == 0) {
			*ret = names[i].proto;
			return 0;
		}
	if (buf[0] < '0' || buf[0] > '9')
		return -EINVAL;
	v = strtoul(buf, &end, 10);
	if (*end || v == 0 || v > 255)
		return -EINVAL;
	*ret = (uint8_t)v;
	return 0;
}

int espd_allow_add(struct espd_allow *a, const char *spec, char *err, size_t err_len)
{
	struct espd_allow_rule rule = { 0 };
	const char *slash = strchr(spec, '/');
	size_t plen = slash ? (size_t)(slash - spec) : strlen(spec);

	if (a->n >= ESPD_ALLOW_MAX) {
		snprintf(err, err_len, "at most %d --allow rules", ESPD_ALLOW_MAX);
		return -E2BIG;
	}
	if (strcmp(spec, "any") == 0) {
		rule.any = true;
	} else if (parse_proto(spec, plen, &rule.proto) < 0) {
		snprintf(err, err_len, "'%s': expected any, tcp, udp, sctp, icmp, a protocol "
			 "number 1..255, or PROTO/PORT", spec);
		return -EINVAL;
	} else if (slash) {
		char *end;
		unsigned long port = strtoul(slash + 1, &end, 10);

		if (slash[1] < '0' || slash[1] > '9' || *end || port == 0 || port > 65535 ||
		    (rule.proto != IPPROTO_TCP && rule.proto != IPPROTO_UDP &&
		     rule.proto != IPPROTO_SCTP)) {
			snprintf(err, err_len, "'%s': a port needs tcp, udp or sctp and 1..65535",
				 spec);
			return -EINVAL;
		}
		rule.target_port = (uint16_t)port;
	}
	a->rules[a->n++] = rule;
	return 0;
}

bool espd_allow_match(const struct espd_allow *a, const struct esp_selectors *sel)
{
	if (!esp_selectors_valid(sel))
		return false;
	if (a->n == 0)
		return true;
	for (size_t i = 0; i < a->n; i++) {
		const struct espd_allow_rule *r = &a->rules[i];

		if (r->any)
			return true;
		if (sel->proto == 0 || r->proto != sel->proto)
			continue;
		if (r->target_port == 0 || r->target_port == sel->target_port)
			return true;
	}
	return false;
}
