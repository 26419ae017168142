/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness for the agent's clients.d parser (agent/clients.c): the input
 * is one client file in a private folder; when it loads, the authorisation
 * checks run against a few peers (root, an unlisted uid, uid 65533 with groups),
 * and the targets= checks against a few targets (exact, wildcard, nested CSE).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/clients.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char dir[64], path[96];
	static const struct clients_peer peers[] = {
		{ .uid = 0, .gid = 0 },
		{ .uid = 65534, .gid = 65534 },
		{ .uid = 65533, .gid = 100, .groups = { 0, 27, 65534 }, .n_groups = 3 },
	};
	static const char *const ae_ids[] = { NULL, "", "Cae1", "C-ae2", "Cae1,Cae2", "S" };
	static const char *const targets[] = { "/mn-cse-2/Cae2", "/mn-cse-2/*", "/mn-cse-3/C",
					       "/a/b/Cae2", "" };
	struct clients *c = NULL;
	struct m2msa_err err;
	FILE *f;

	if (!dir[0]) {
		snprintf(dir, sizeof(dir), "/tmp/m2msa-fuzz-clients-%d", (int)getpid());
		snprintf(path, sizeof(path), "%s/client.conf", dir);
		if (mkdir(dir, 0700) < 0)
			; /* left over from an earlier run with this pid: reuse it */
	}
	f = fopen(path, "w");
	if (!f)
		abort();
	if (size && fwrite(data, 1, size, f) != size)
		abort();
	fclose(f);
	if (clients_load(dir, &c, &err) == 0) {
		for (size_t p = 0; p < sizeof(peers) / sizeof(peers[0]); p++) {
			(void)clients_is_admin(c, &peers[p]);
			for (size_t a = 0; a < sizeof(ae_ids) / sizeof(ae_ids[0]); a++) {
				(void)clients_may_act_as(c, &peers[p], ae_ids[a]);
				for (size_t t = 0; ae_ids[a] && t < sizeof(targets) / sizeof(targets[0]);
				     t++)
					(void)clients_may_target(c, &peers[p], ae_ids[a], targets[t]);
			}
		}
		(void)clients_count(c);
		clients_free(c);
	}
	return 0;
}
