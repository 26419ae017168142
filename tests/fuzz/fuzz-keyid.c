/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness for key-ID parsing (common/sa.c sa_key_id_parse): the IN-CSE
 * stand-in and the MAS parse PSK identities and key IDs that come from the network.
 * Every accepted ID must format back to exactly the same string.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/sa.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char id[WIRE_KEY_ID_MAX + 2], again[WIRE_KEY_ID_MAX + 1];
	char ae[WIRE_ID_MAX + 1], fqdn[WIRE_KEY_ID_MAX + 1];
	uint8_t kcid[SA_KCID_LEN];

	if (size > WIRE_KEY_ID_MAX + 1)
		size = WIRE_KEY_ID_MAX + 1;
	memcpy(id, data, size);
	id[size] = '\0';
	if (sa_key_id_parse(id, kcid, ae, fqdn) < 0)
		return 0;
	if (sa_key_id_format(kcid, ae[0] ? ae : NULL, fqdn, again, sizeof(again)) < 0)
		abort(); /* parse accepted what format refuses */
	if (strcmp(id, again) != 0)
		abort(); /* two spellings of one key ID */
	return 0;
}
