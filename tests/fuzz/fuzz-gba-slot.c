/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness for the agent's gba slot info file (agent/gba-slot.h
 * gba_slot_parse): any input is either refused with -EBADMSG or gives a slot
 * whose fields are valid, and whose file form parses back to the same slot.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/gba-slot.h"
#include "common/dns-name.h"
#include "gba/btid.h"

#define check(x)                                                        \
	do {                                                            \
		if (!(x)) {                                             \
			fprintf(stderr, "check failed: %s\n", #x);      \
			abort();                                        \
		}                                                       \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gba_slot s, s2;
	char text[2048];
	int r = gba_slot_parse((const char *)data, size, &s), n;

	if (r < 0) {
		check(r == -EBADMSG);
		return 0;
	}
	check(gba_btid_valid(s.btid) && s.expiry > 0 && usim_impi_valid(s.impi) &&
	      dns_name_valid(s.naf));
	n = snprintf(text, sizeof(text), "btid=%s\nexpiry=%" PRId64 "\nimpi=%s\nnaf=%s\n", s.btid,
		     s.expiry, s.impi, s.naf);
	check(n > 0 && (size_t)n < sizeof(text));
	check(gba_slot_parse(text, (size_t)n, &s2) == 0);
	check(memcmp(&s, &s2, sizeof(s)) == 0);
	return 0;
}
