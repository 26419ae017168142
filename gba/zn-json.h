/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Zn as a service: the JSON bodies of TS 29.309 Nbsp_GBA
 * "bootstrapping-info-retrieval" (POST {apiRoot}/nbsp-gba/v1/bootstrapping-info-retrieval)
 * and RFC 7807 / TS 29.571 ProblemDetails, on libjansson.
 *   request:  {"btId":"…","nafId":{"nafFqdn":"…","uaSecProtId":"0100000007"}}
 *   response: {"meKeyMaterial":"<64 hex>","keyExpiryTime":"…Z","impi":"…"}
 * Parsers refuse duplicate members, wrong types, invalid values and missing
 * required members; unknown members are ignored, as TS 29.501 §5.2.7 asks of a
 * receiver. The key never goes through a jansson string on the way out, and
 * every buffer jansson frees is wiped first: the first call here installs wiping
 * allocators for the whole process's jansson (m2msa has no other jansson user).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "gba/btid.h"

#define GBA_UA_ID_LEN 5
#define GBA_IMPI_MAX 255
#define GBA_FQDN_MAX 253
#define GBA_ZN_KEY_LEN 32
#define GBA_ZN_PATH "/nbsp-gba/v1/bootstrapping-info-retrieval"
#define GBA_ZN_BODY_MAX 8192 /* longest body the parsers accept */

struct gba_zn_request {
	char btid[GBA_BTID_MAX + 1];
	char naf_fqdn[GBA_FQDN_MAX + 1];
	uint8_t ua_id[GBA_UA_ID_LEN];
};

/* The caller wipes me_key (secret_wipe) when done. */
struct gba_zn_response {
	uint8_t me_key[GBA_ZN_KEY_LEN]; /* Ks_(ext)_NAF */
	int64_t expiry;                 /* keyExpiryTime, epoch seconds */
	char impi[GBA_IMPI_MAX + 1];
};

struct gba_problem {
	int status; /* HTTP status, 100..599 */
	char title[128];
	char detail[256];
	char cause[64]; /* e.g. "USER_NOT_FOUND"; may be empty */
};

/* Formatters return a malloc'd NUL-terminated text in *ret (free with free()). */
int gba_zn_request_format(const struct gba_zn_request *req, char **ret);
int gba_zn_request_parse(const char *body, size_t len, struct gba_zn_request *ret);

/* *ret holds key material: free it with secret_free_buf(*ret, strlen(*ret)). */
int gba_zn_response_format(const struct gba_zn_response *resp, char **ret);
/* ret written only on success; intermediate copies are wiped. */
int gba_zn_response_parse(const char *body, size_t len, struct gba_zn_response *ret);

int gba_problem_format(const struct gba_problem *p, char **ret);
int gba_problem_parse(const char *body, size_t len, struct gba_problem *ret);
