/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness for the BootstrappingInfo XML parser (gba/bootstrap-info.c).
 * A document that parses must format and parse back to the same B-TID and lifetime.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gba/bootstrap-info.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gba_bootstrap_info info, back;
	char out[GBA_BSF_XML_MAX];

	if (gba_bootstrap_info_parse((const char *)data, size, &info) != 0)
		return 0;
	if (gba_bootstrap_info_format(&info, out, sizeof(out)) != 0)
		abort();
	if (gba_bootstrap_info_parse(out, strlen(out), &back) != 0 ||
	    strcmp(info.btid, back.btid) != 0 || info.lifetime != back.lifetime)
		abort();
	return 0;
}
