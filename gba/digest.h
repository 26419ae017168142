/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HTTP Digest AKA for the GBA Ub interface (3GPP TS 24.109 §5.2, RFC 3310
 * AKAv1-MD5 over RFC 2617/RFC 7616 Digest, qop=auth-int):
 *  - strict parser and formatter of the WWW-Authenticate challenge and the
 *    Authorization credentials (quoted strings with escapes, duplicate and unknown
 *    parameters refused, every value length-limited, no control characters);
 *  - the digest response (MD5, wolfCrypt) with RES, as raw bytes, as the password
 *    (and the empty password for a synchronisation failure answer, RFC 3310 §3.4);
 *  - nonce = base64(RAND || AUTN [|| server data]) and auts = base64(AUTS).
 * Nothing here logs; the HA1 intermediate is wiped.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GBA_HEADER_MAX 4096 /* longest header value accepted or written */
#define GBA_VALUE_MAX 255   /* longest parameter value after unescaping */
#define GBA_RAND_LEN 16
#define GBA_AUTN_LEN 16
#define GBA_AUTS_LEN 14
#define GBA_DIGEST_HEX_LEN 32 /* an MD5 digest as lowercase hex */
#define GBA_ALGORITHM "AKAv1-MD5"

struct gba_challenge {
	char realm[GBA_VALUE_MAX + 1];
	char nonce[GBA_VALUE_MAX + 1];
	char opaque[GBA_VALUE_MAX + 1];    /* empty when absent */
	char algorithm[GBA_VALUE_MAX + 1]; /* "AKAv1-MD5" */
	char qop[GBA_VALUE_MAX + 1];       /* the list as sent, e.g. "auth-int" */
	char domain[GBA_VALUE_MAX + 1];    /* empty when absent */
	bool stale;
};

struct gba_authorization {
	char username[GBA_VALUE_MAX + 1];
	char realm[GBA_VALUE_MAX + 1];
	char nonce[GBA_VALUE_MAX + 1];
	char uri[GBA_VALUE_MAX + 1];
	char response[GBA_VALUE_MAX + 1];
	char algorithm[GBA_VALUE_MAX + 1];
	char cnonce[GBA_VALUE_MAX + 1];
	char opaque[GBA_VALUE_MAX + 1];
	char qop[GBA_VALUE_MAX + 1];
	char nc[GBA_VALUE_MAX + 1];
	char auts[GBA_VALUE_MAX + 1]; /* empty unless a synchronisation failure */
};

/*
 * Parse a WWW-Authenticate / Authorization header value of len bytes (no NUL
 * needed). The scheme must be "Digest". Required: realm and nonce (challenge);
 * username and uri (credentials: the first Ub
 * request of TS 24.109 §5.2.1 has realm, nonce and response empty). -EINVAL for anything malformed,
 * duplicated or unknown, -E2BIG for an over-long header or value. ret is
 * written only on success.
 */
int gba_challenge_parse(const char *hdr, size_t len, struct gba_challenge *ret);
int gba_authorization_parse(const char *hdr, size_t len, struct gba_authorization *ret);

/*
 * Format into out (out_size bytes with the NUL). Empty optional fields are left
 * out. Values with a control character are refused with -EINVAL; -ENOBUFS when
 * out is too small.
 */
int gba_challenge_format(const struct gba_challenge *c, char *out, size_t out_size);
int gba_authorization_format(const struct gba_authorization *a, char *out, size_t out_size);

/*
 * Authentication-Info (RFC 2617 §3.2.3, RFC 7616 §3.5) on the BSF's 200 OK:
 * rspauth proves that the server knew the password (RES) too. It is the digest
 * response computed with an empty method and, for auth-int, the body of the
 * 200 OK (gba_digest_response() with method "" and that body). The header has
 * no scheme; empty fields are left out by the formatter. One without rspauth and
 * without nextnonce says nothing: -EINVAL from both.
 */
struct gba_auth_info {
	char qop[GBA_VALUE_MAX + 1];
	char rspauth[GBA_VALUE_MAX + 1];
	char cnonce[GBA_VALUE_MAX + 1];
	char nc[GBA_VALUE_MAX + 1];
	char nextnonce[GBA_VALUE_MAX + 1];
};

int gba_auth_info_parse(const char *hdr, size_t len, struct gba_auth_info *ret);
int gba_auth_info_format(const struct gba_auth_info *ai, char *out, size_t out_size);

/* Everything the digest response covers (RFC 2617 §3.2.2). */
struct gba_digest_input {
	const char *username, *realm;
	const uint8_t *password; /* RES, raw bytes; empty for an auts answer */
	size_t password_len;
	const char *method, *uri, *nonce;
	const char *nc, *cnonce, *qop; /* qop "auth", "auth-int", or NULL/"" (RFC 2069 form) */
	const uint8_t *body;           /* entity body, for auth-int */
	size_t body_len;
};

/* out = the response as 32 lowercase hex digits and a NUL. -EINVAL for an unknown qop. */
int gba_digest_response(const struct gba_digest_input *in, char out[static GBA_DIGEST_HEX_LEN + 1]);

/* Constant-time check of a received response against the expected one: true when equal. */
bool gba_digest_equal(const char *received, const char expected[static GBA_DIGEST_HEX_LEN + 1]);

/* nonce = base64(RAND || AUTN); out holds 44 characters and a NUL. */
#define GBA_NONCE_TEXT_LEN 44
int gba_nonce_encode(const uint8_t rand[static GBA_RAND_LEN], const uint8_t autn[static GBA_AUTN_LEN],
		     char out[static GBA_NONCE_TEXT_LEN + 1]);
/* Decode a nonce; server-specific data after AUTN is allowed and ignored. -EINVAL otherwise. */
int gba_nonce_decode(const char *nonce, uint8_t ret_rand[static GBA_RAND_LEN],
		     uint8_t ret_autn[static GBA_AUTN_LEN]);

/* auts = base64(AUTS) (20 characters). */
#define GBA_AUTS_TEXT_LEN 20
int gba_auts_encode(const uint8_t auts[static GBA_AUTS_LEN], char out[static GBA_AUTS_TEXT_LEN + 1]);
int gba_auts_decode(const char *text, uint8_t ret[static GBA_AUTS_LEN]);
