/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness for the Nbsp_GBA JSON parsers (gba/zn-json.c): request,
 * response and ProblemDetails. What parses must format and parse back the same.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/secret.h"
#include "gba/zn-json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct gba_zn_request req, req2;
	struct gba_zn_response resp, resp2;
	struct gba_problem prob, prob2;
	char *out = NULL;

	if (gba_zn_request_parse(s, size, &req) == 0) {
		if (gba_zn_request_format(&req, &out) != 0 ||
		    gba_zn_request_parse(out, strlen(out), &req2) != 0 ||
		    memcmp(&req, &req2, sizeof(req)) != 0)
			abort();
		free(out);
		out = NULL;
	}
	if (gba_zn_response_parse(s, size, &resp) == 0) {
		/* keyExpiryTime may be beyond what the formatter writes (year 9999). */
		if (gba_zn_response_format(&resp, &out) == 0) {
			if (gba_zn_response_parse(out, strlen(out), &resp2) != 0 ||
			    memcmp(&resp, &resp2, sizeof(resp)) != 0)
				abort();
			secret_free_buf(out, strlen(out));
			out = NULL;
		}
	}
	if (gba_problem_parse(s, size, &prob) == 0 && prob.status) {
		/* Text that is not UTF-8 cannot have parsed: jansson checks it. */
		if (gba_problem_format(&prob, &out) != 0 ||
		    gba_problem_parse(out, strlen(out), &prob2) != 0 ||
		    memcmp(&prob, &prob2, sizeof(prob)) != 0)
			abort();
		free(out);
	}
	return 0;
}
