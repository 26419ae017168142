/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness for the UICC response parsers (usim/apdu.c): the pcsc USIM
 * backend parses what a card (or anything posing as one) sends back. The first
 * byte picks the parser (mod 3): AUTHENTICATE response, EF_DIR record, EF_IMSI
 * (and the IMPI made from it, with EF_AD's MNC length from the same bytes).
 * An accepted AUTHENTICATE response must encode back to the same bytes (minus
 * an optional Kc), and lengths must stay in range.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "usim/apdu.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_auth(const uint8_t *data, size_t size)
{
	struct usim_result r;
	uint8_t again[64];
	size_t n = 0;

	if (apdu_parse_auth_response(data, size, &r) < 0)
		return;
	if (r.result == AKA_RESULT_SYNC_FAILURE) {
		again[n++] = 0xDC;
		again[n++] = AKA_AUTS_LEN;
		memcpy(again + n, r.auts, AKA_AUTS_LEN);
		n += AKA_AUTS_LEN;
	} else if (r.result == AKA_RESULT_OK) {
		if (r.res_len < 4 || r.res_len > USIM_RES_MAX)
			abort();
		again[n++] = 0xDB;
		again[n++] = (uint8_t)r.res_len;
		memcpy(again + n, r.res, r.res_len);
		n += r.res_len;
		again[n++] = 16;
		memcpy(again + n, r.ck, 16);
		n += 16;
		again[n++] = 16;
		memcpy(again + n, r.ik, 16);
		n += 16;
	} else {
		abort();
	}
	/* The input is what we re-encoded, or that plus a 9-byte Kc field. */
	if (!(size == n || size == n + 9) || memcmp(again, data, n) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t aid[APDU_AID_MAX];
	int n;

	if (size < 1)
		return 0;
	switch (data[0] % 3) {
	case 0:
		check_auth(data + 1, size - 1);
		break;
	case 1:
		n = apdu_parse_dir_record(data + 1, size - 1, aid);
		if (n > APDU_AID_MAX)
			abort();
		break;
	default: {
		char imsi[APDU_IMSI_MAX + 1], impi[APDU_IMPI_FROM_IMSI_MAX + 1];
		int mnc = apdu_parse_mnc_len(data + 1, size - 1);

		n = apdu_parse_imsi(data + 1, size - 1, imsi);
		if (n < 0)
			break;
		if (n < 6 || n > APDU_IMSI_MAX || strlen(imsi) != (size_t)n)
			abort();
		/* Every parsed IMSI with a valid MNC length gives an IMPI that fits. */
		if (mnc > 0 && apdu_impi_from_imsi(imsi, mnc, impi, sizeof(impi)) < 0)
			abort();
		if (mnc > 0 && !usim_impi_valid(impi))
			abort();
		break;
	}
	}
	return 0;
}
