/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness for the tpm USIM backend's state parsers (usim/usim-state.c):
 * usim.conf (INI, one key) and usim.sqn (a decimal SQN). First byte even: conf,
 * odd: SQN. An accepted IMPI must be valid; an accepted SQN must print back to
 * the same digits and fit in 48 bits.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/aka.h"
#include "usim/usim-state.h"
#include "usim/usim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data + 1;
	char why[200], again[32];
	char *impi = NULL;
	uint64_t sqn;
	size_t n;

	if (size < 1 || size > USIM_CONF_MAX)
		return 0;
	n = size - 1;
	if (data[0] % 2 == 0) {
		if (usim_state_parse_conf(text, n, &impi, why, sizeof(why)) == 0) {
			if (!usim_impi_valid(impi))
				abort();
			free(impi);
		}
		return 0;
	}
	if (usim_state_parse_sqn(text, n, &sqn) < 0)
		return 0;
	if (sqn > AKA_SQN_MAX)
		abort();
	snprintf(again, sizeof(again), "%" PRIu64, sqn);
	/* Leading zeros are accepted; the value must still match the digits. */
	while (n > 1 && text[0] == '0' && text[1] != '\n') {
		text++;
		n--;
	}
	if (strncmp(again, text, strlen(again)) != 0)
		abort();
	return 0;
}
