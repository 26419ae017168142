/* SPDX-License-Identifier: Apache-2.0 */
/* HTTP Digest AKA (RFC 3310 over RFC 2617/7616): header codecs and the response (see digest.h). */
#include <wolfssl/options.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <wolfssl/wolfcrypt/md5.h>

#include "common/hex.h"
#include "common/secret.h"
#include "common/util.h"
#include "gba/base64.h"
#include "gba/digest.h"

/* One parameter the parser knows: its name and where its value goes. */
struct param_spec {
	const char *name;
	size_t offset;
	bool quoted; /* how the formatter writes it */
	bool always; /* written even when empty (the first Ub request has nonce="", response="") */
};

static const struct param_spec challenge_params[] = {
	{ "realm", offsetof(struct gba_challenge, realm), true, false },
	{ "nonce", offsetof(struct gba_challenge, nonce), true, false },
	{ "opaque", offsetof(struct gba_challenge, opaque), true, false },
	{ "domain", offsetof(struct gba_challenge, domain), true, false },
	{ "algorithm", offsetof(struct gba_challenge, algorithm), false, false },
	{ "qop", offsetof(struct gba_challenge, qop), true, false },
	{ "stale", SIZE_MAX, false, false }, /* a flag, handled apart */
};

static const struct param_spec authz_params[] = {
	{ "username", offsetof(struct gba_authorization, username), true, true },
	{ "realm", offsetof(struct gba_authorization, realm), true, true },
	{ "nonce", offsetof(struct gba_authorization, nonce), true, true },
	{ "uri", offsetof(struct gba_authorization, uri), true, true },
	{ "response", offsetof(struct gba_authorization, response), true, true },
	{ "algorithm", offsetof(struct gba_authorization, algorithm), false, false },
	{ "cnonce", offsetof(struct gba_authorization, cnonce), true, false },
	{ "opaque", offsetof(struct gba_authorization, opaque), true, false },
	{ "qop", offsetof(struct gba_authorization, qop), false, false },
	{ "nc", offsetof(struct gba_authorization, nc), false, false },
	{ "auts", offsetof(struct gba_authorization, auts), true, false },
};

static const struct param_spec auth_info_params[] = {
	{ "qop", offsetof(struct gba_auth_info, qop), false, false },
	{ "rspauth", offsetof(struct gba_auth_info, rspauth), true, false },
	{ "cnonce", offsetof(struct gba_auth_info, cnonce), true, false },
	{ "nc", offsetof(struct gba_auth_info, nc), false, false },
	{ "nextnonce", offsetof(struct gba_auth_info, nextnonce), true, false },
};

static bool is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool is_ows(unsigned char c)
{
	return c == ' ' || c == '\t';
}

static bool is_hex_string(const char *s, size_t n)
{
	if (strlen(s) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
		      (s[i] >= 'A' && s[i] <= 'F')))
			return false;
	return true;
}

/* Read a token or quoted-string value at s[*i] into out (GBA_VALUE_MAX + 1 bytes). */
static int parse_value(const char *s, size_t len, size_t *i, char *out)
{
	size_t o = 0, p = *i;

	if (p < len && s[p] == '"') {
		for (p++;; p++) {
			unsigned char c;

			if (p >= len)
				return -EINVAL; /* unterminated */
			c = (unsigned char)s[p];
			if (c == '"')
				break;
			if (c == '\\') {
				if (++p >= len)
					return -EINVAL;
				c = (unsigned char)s[p];
			}
			if ((c < 0x20 && c != '\t') || c == 0x7f)
				return -EINVAL;
			if (o >= GBA_VALUE_MAX)
				return -E2BIG;
			out[o++] = (char)c;
		}
		p++;
	} else {
		while (p < len && is_tchar((unsigned char)s[p])) {
			if (o >= GBA_VALUE_MAX)
				return -E2BIG;
			out[o++] = s[p++];
		}
		if (o == 0)
			return -EINVAL;
	}
	out[o] = '\0';
	*i = p;
	return 0;
}

/*
 * credentials = "Digest" 1*SP auth-param *( OWS "," OWS auth-param ), with
 * auth-param = token BWS "=" BWS ( token / quoted-string ); without the scheme
 * (scheme false) for Authentication-Info. Values go to obj at the spec's
 * offsets; the value of a spec with offset SIZE_MAX goes to flag_value.
 */
static int parse_params(const char *s, size_t len, bool scheme, const struct param_spec *spec,
			size_t n, void *obj, char *flag_value)
{
	uint32_t seen = 0;
	size_t i = 0;

	if (len > GBA_HEADER_MAX)
		return -E2BIG;
	while (i < len && is_ows((unsigned char)s[i]))
		i++;
	if (scheme) {
		if (len - i < 7 || strncasecmp(s + i, "Digest", 6) != 0 || s[i + 6] != ' ')
			return -EINVAL;
		i += 7;
	}
	for (;;) {
		char name[32];
		size_t nl = 0, k;
		char *dst;
		int r;

		while (i < len && is_ows((unsigned char)s[i]))
			i++;
		while (i < len && is_tchar((unsigned char)s[i]) && nl < sizeof(name) - 1)
			name[nl++] = s[i++];
		name[nl] = '\0';
		if (nl == 0 || (i < len && is_tchar((unsigned char)s[i])))
			return -EINVAL;
		for (k = 0; k < n; k++)
			if (strcasecmp(name, spec[k].name) == 0)
				break;
		if (k == n || (seen & (1u << k)))
			return -EINVAL; /* unknown or duplicate */
		seen |= 1u << k;
		while (i < len && is_ows((unsigned char)s[i]))
			i++;
		if (i >= len || s[i++] != '=')
			return -EINVAL;
		while (i < len && is_ows((unsigned char)s[i]))
			i++;
		dst = spec[k].offset == SIZE_MAX ? flag_value : (char *)obj + spec[k].offset;
		r = parse_value(s, len, &i, dst);
		if (r < 0)
			return r;
		while (i < len && is_ows((unsigned char)s[i]))
			i++;
		if (i == len)
			return 0;
		if (s[i++] != ',')
			return -EINVAL;
	}
}

int gba_challenge_parse(const char *hdr, size_t len, struct gba_challenge *ret)
{
	struct gba_challenge c = { 0 };
	char stale[GBA_VALUE_MAX + 1] = "";
	int r;

	r = parse_params(hdr, len, true, challenge_params, ARRAY_SIZE(challenge_params), &c, stale);
	if (r < 0)
		return r;
	if (!c.realm[0] || !c.nonce[0])
		return -EINVAL;
	if (strcasecmp(stale, "true") == 0)
		c.stale = true;
	else if (stale[0] && strcasecmp(stale, "false") != 0)
		return -EINVAL;
	*ret = c;
	return 0;
}

int gba_authorization_parse(const char *hdr, size_t len, struct gba_authorization *ret)
{
	struct gba_authorization a = { 0 };
	int r;

	r = parse_params(hdr, len, true, authz_params, ARRAY_SIZE(authz_params), &a, NULL);
	if (r < 0)
		return r;
	if (!a.username[0] || !a.uri[0])
		return -EINVAL;
	if (a.response[0] && !is_hex_string(a.response, GBA_DIGEST_HEX_LEN))
		return -EINVAL;
	if (a.qop[0] && (!a.cnonce[0] || !is_hex_string(a.nc, 8)))
		return -EINVAL;
	if (!a.qop[0] && (a.cnonce[0] || a.nc[0]))
		return -EINVAL;
	*ret = a;
	return 0;
}

/* Append name=value (quoted and escaped, or a token) to out at *o; the list began at start. */
static int append_param(char *out, size_t out_size, size_t start, size_t *o, const char *name,
			const char *value, bool quoted)
{
	size_t p = *o;
	int n;

	n = snprintf(out + p, out_size - p, "%s%s=%s", p > start ? ", " : "", name,
		     quoted ? "\"" : "");
	if (n < 0 || (size_t)n >= out_size - p)
		return -ENOBUFS;
	p += (size_t)n;
	if (!quoted && !value[0])
		return -EINVAL;
	for (const char *v = value; *v; v++) {
		unsigned char c = (unsigned char)*v;

		if (c < 0x20 || c == 0x7f || (!quoted && !is_tchar(c)))
			return -EINVAL;
		if (quoted && (c == '"' || c == '\\')) {
			if (p + 1 >= out_size)
				return -ENOBUFS;
			out[p++] = '\\';
		}
		if (p + 1 >= out_size)
			return -ENOBUFS;
		out[p++] = (char)c;
	}
	if (quoted) {
		if (p + 1 >= out_size)
			return -ENOBUFS;
		out[p++] = '"';
	}
	out[p] = '\0';
	*o = p;
	return 0;
}

/* prefix, then every non-empty field of obj named in spec, in spec order. */
static int format_params(const char *prefix, const struct param_spec *spec, size_t n,
			 const void *obj, char *out, size_t out_size, size_t *o)
{
	size_t start = strlen(prefix);

	if (out_size < start + 1)
		return -ENOBUFS;
	memcpy(out, prefix, start + 1);
	*o = start;
	for (size_t k = 0; k < n; k++) {
		const char *v;
		int r;

		if (spec[k].offset == SIZE_MAX)
			continue;
		v = (const char *)obj + spec[k].offset;
		if (!v[0] && !spec[k].always)
			continue;
		r = append_param(out, out_size, start, o, spec[k].name, v, spec[k].quoted);
		if (r < 0)
			return r;
	}
	return 0;
}

int gba_challenge_format(const struct gba_challenge *c, char *out, size_t out_size)
{
	size_t o;
	int r;

	if (!c->realm[0] || !c->nonce[0])
		return -EINVAL;
	r = format_params("Digest ", challenge_params, ARRAY_SIZE(challenge_params), c, out, out_size, &o);
	if (r == 0 && c->stale)
		r = append_param(out, out_size, 7, &o, "stale", "true", false);
	return r;
}

int gba_authorization_format(const struct gba_authorization *a, char *out, size_t out_size)
{
	size_t o;

	if (!a->username[0] || !a->uri[0])
		return -EINVAL;
	return format_params("Digest ", authz_params, ARRAY_SIZE(authz_params), a, out, out_size, &o);
}

int gba_auth_info_parse(const char *hdr, size_t len, struct gba_auth_info *ret)
{
	struct gba_auth_info ai = { 0 };
	int r;

	r = parse_params(hdr, len, false, auth_info_params, ARRAY_SIZE(auth_info_params), &ai,
			 NULL);
	if (r < 0)
		return r;
	if (!ai.rspauth[0] && !ai.nextnonce[0])
		return -EINVAL; /* says nothing */
	if (ai.rspauth[0] && !is_hex_string(ai.rspauth, GBA_DIGEST_HEX_LEN))
		return -EINVAL;
	if (ai.nc[0] && !is_hex_string(ai.nc, 8))
		return -EINVAL;
	*ret = ai;
	return 0;
}

int gba_auth_info_format(const struct gba_auth_info *ai, char *out, size_t out_size)
{
	size_t o;

	if (!ai->rspauth[0] && !ai->nextnonce[0])
		return -EINVAL;
	return format_params("", auth_info_params, ARRAY_SIZE(auth_info_params), ai, out, out_size,
			     &o);
}

/* out = hex(MD5(p[0] ":" p[1] ":" ... )), each part (data, len). */
static int md5_hex_parts(const uint8_t *const *parts, const size_t *lens, size_t n,
			 char out[static GBA_DIGEST_HEX_LEN + 1])
{
	wc_Md5 md5;
	uint8_t d[WC_MD5_DIGEST_SIZE];
	int r = -EIO;

	if (wc_InitMd5(&md5) != 0)
		return -EIO;
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && wc_Md5Update(&md5, (const uint8_t *)":", 1) != 0)
			goto out;
		if (lens[i] > UINT32_MAX || wc_Md5Update(&md5, parts[i], (uint32_t)lens[i]) != 0)
			goto out;
	}
	if (wc_Md5Final(&md5, d) != 0)
		goto out;
	hex_encode(d, sizeof(d), out);
	r = 0;
out:
	wc_Md5Free(&md5);
	secret_wipe(&md5, sizeof(md5));
	secret_wipe(d, sizeof(d));
	return r;
}

#define S(x) (const uint8_t *)(x)

int gba_digest_response(const struct gba_digest_input *in, char out[static GBA_DIGEST_HEX_LEN + 1])
{
	char ha1[GBA_DIGEST_HEX_LEN + 1], ha2[GBA_DIGEST_HEX_LEN + 1], hbody[GBA_DIGEST_HEX_LEN + 1];
	bool auth_int = in->qop && strcmp(in->qop, "auth-int") == 0;
	bool has_qop = in->qop && in->qop[0];
	int r;

	if (has_qop && !auth_int && strcmp(in->qop, "auth") != 0)
		return -EINVAL;
	if (has_qop && (!in->nc || !in->cnonce))
		return -EINVAL;
	{
		const uint8_t *p[] = { S(in->username), S(in->realm), in->password };
		const size_t l[] = { strlen(in->username), strlen(in->realm), in->password_len };

		r = md5_hex_parts(p, l, 3, ha1);
	}
	if (r == 0 && auth_int) {
		const uint8_t *p[] = { in->body ? in->body : S("") };
		const size_t l[] = { in->body_len };

		r = md5_hex_parts(p, l, 1, hbody);
	}
	if (r == 0) {
		const uint8_t *p[] = { S(in->method), S(in->uri), S(hbody) };
		const size_t l[] = { strlen(in->method), strlen(in->uri), GBA_DIGEST_HEX_LEN };

		r = md5_hex_parts(p, l, auth_int ? 3 : 2, ha2);
	}
	if (r == 0 && has_qop) {
		const uint8_t *p[] = { S(ha1), S(in->nonce), S(in->nc), S(in->cnonce), S(in->qop),
				       S(ha2) };
		const size_t l[] = { GBA_DIGEST_HEX_LEN, strlen(in->nonce), strlen(in->nc),
				     strlen(in->cnonce), strlen(in->qop), GBA_DIGEST_HEX_LEN };

		r = md5_hex_parts(p, l, 6, out);
	} else if (r == 0) {
		const uint8_t *p[] = { S(ha1), S(in->nonce), S(ha2) };
		const size_t l[] = { GBA_DIGEST_HEX_LEN, strlen(in->nonce), GBA_DIGEST_HEX_LEN };

		r = md5_hex_parts(p, l, 3, out);
	}
	secret_wipe(ha1, sizeof(ha1));
	return r;
}

bool gba_digest_equal(const char *received, const char expected[static GBA_DIGEST_HEX_LEN + 1])
{
	char lower[GBA_DIGEST_HEX_LEN];

	if (strlen(received) != GBA_DIGEST_HEX_LEN)
		return false;
	for (size_t i = 0; i < GBA_DIGEST_HEX_LEN; i++) {
		char c = received[i];

		lower[i] = (c >= 'A' && c <= 'F') ? (char)(c - 'A' + 'a') : c;
	}
	return secret_equal(lower, expected, GBA_DIGEST_HEX_LEN);
}

int gba_nonce_encode(const uint8_t rand[static GBA_RAND_LEN], const uint8_t autn[static GBA_AUTN_LEN],
		     char out[static GBA_NONCE_TEXT_LEN + 1])
{
	uint8_t raw[GBA_RAND_LEN + GBA_AUTN_LEN];

	memcpy(raw, rand, GBA_RAND_LEN);
	memcpy(raw + GBA_RAND_LEN, autn, GBA_AUTN_LEN);
	return gba_base64_encode(raw, sizeof(raw), out, GBA_NONCE_TEXT_LEN + 1);
}

int gba_nonce_decode(const char *nonce, uint8_t ret_rand[static GBA_RAND_LEN],
		     uint8_t ret_autn[static GBA_AUTN_LEN])
{
	uint8_t raw[GBA_VALUE_MAX];
	int n;

	n = gba_base64_decode(nonce, strlen(nonce), raw, sizeof(raw));
	if (n < 0)
		return -EINVAL;
	if (n < GBA_RAND_LEN + GBA_AUTN_LEN)
		return -EINVAL;
	memcpy(ret_rand, raw, GBA_RAND_LEN);
	memcpy(ret_autn, raw + GBA_RAND_LEN, GBA_AUTN_LEN);
	return 0;
}

int gba_auts_encode(const uint8_t auts[static GBA_AUTS_LEN], char out[static GBA_AUTS_TEXT_LEN + 1])
{
	return gba_base64_encode(auts, GBA_AUTS_LEN, out, GBA_AUTS_TEXT_LEN + 1);
}

int gba_auts_decode(const char *text, uint8_t ret[static GBA_AUTS_LEN])
{
	uint8_t raw[GBA_AUTS_LEN];
	int n;

	n = gba_base64_decode(text, strlen(text), raw, sizeof(raw));
	if (n != GBA_AUTS_LEN)
		return -EINVAL;
	memcpy(ret, raw, GBA_AUTS_LEN);
	return 0;
}
