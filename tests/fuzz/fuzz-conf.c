/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness for the INI configuration parser (common/conf.c) and the two
 * configuration loaders built on it: the node's (agent/agent-conf.c, with its
 * method-list parser and checks) and the MAS's (mas/mas-conf.c).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "agent/agent-conf.h"
#include "common/conf.h"
#include "mas/mas-conf.h"

struct fuzz_cfg {
	char *s;
	char *p;
	bool b;
	uint16_t port;
	uint32_t n;
	uint64_t d;
};

static const struct conf_item items[] = {
	{ "a", "s", conf_parse_string, offsetof(struct fuzz_cfg, s) },
	{ "a", "p", conf_parse_path, offsetof(struct fuzz_cfg, p) },
	{ "a", "b", conf_parse_bool, offsetof(struct fuzz_cfg, b) },
	{ "b", "port", conf_parse_port, offsetof(struct fuzz_cfg, port) },
	{ "b", "n", conf_parse_uint32, offsetof(struct fuzz_cfg, n) },
	{ "b", "d", conf_parse_duration, offsetof(struct fuzz_cfg, d) },
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	struct fuzz_cfg c = { 0 };
	char err[CONF_ERR_MAX];
	FILE *f;

	if (!path[0])
		snprintf(path, sizeof(path), "/tmp/m2msa-fuzz-conf-%d.conf", (int)getpid());
	f = fopen(path, "w");
	if (!f)
		abort();
	if (size && fwrite(data, 1, size, f) != size)
		abort();
	fclose(f);
	(void)conf_parse_file(path, items, sizeof(items) / sizeof(items[0]), &c, err, sizeof(err));
	free(c.s);
	free(c.p);
	{
		struct agent_conf a;

		if (agent_conf_load(path, &a, &(struct m2msa_err){ .wire_code = 0 }) == 0)
			agent_conf_free(&a);
	}
	{
		struct mas_conf m;

		if (mas_conf_load(path, &m, err, sizeof(err)) == 0)
			mas_conf_free(&m);
	}
	return 0;
}
