/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness for m2msa-bsf's configuration loader (bsf/bsf-conf.c on
 * common/conf.c): both the daemon's load (required keys) and m2msa-bsfctl's.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "bsf/bsf-conf.h"
#include "common/conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	char err[CONF_ERR_MAX];
	struct bsf_conf c;
	FILE *f;

	if (!path[0])
		snprintf(path, sizeof(path), "/tmp/m2msa-fuzz-bsf-conf-%d.conf", (int)getpid());
	f = fopen(path, "w");
	if (!f)
		abort();
	if (size && fwrite(data, 1, size, f) != size)
		abort();
	fclose(f);
	if (bsf_conf_load(path, &c, err, sizeof(err)) == 0) {
		/* What loads has the required keys. */
		if (!c.domain || !c.cert || !c.key || !c.naf_ca || !c.lifetime)
			abort();
		bsf_conf_free(&c);
	}
	if (bsf_conf_load_store(path, &c, err, sizeof(err)) == 0)
		bsf_conf_free(&c);
	return 0;
}
