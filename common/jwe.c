/* SPDX-License-Identifier: Apache-2.0 */
/* m2msa's JWE compact profile for ESPrim-protected messages (common/jwe.h). */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "common/jwe.h"
#include "common/secret.h"

const char jwe_session_label[] = "oneM2M HMAC-SHA256 sessionESPrimKey derivation algorithm";

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static size_t b64_len(size_t n)
{
	return n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
}

/*
 * Two output characters per lookup: the 4096 pairs of the alphabet, built once
 * (b64_pairs_init under pthread_once), so a 3-byte group costs two lookups.
 */
static uint16_t b64_pairs[4096];
static pthread_once_t b64_pairs_once = PTHREAD_ONCE_INIT;

static void b64_pairs_init(void)
{
	for (unsigned i = 0; i < 4096; i++) {
		char two[2] = { b64url[i >> 6], b64url[i & 63] };

		memcpy(&b64_pairs[i], two, 2);
	}
}

/* RFC 4648 §5 without padding; out gets b64_len(n) chars and a NUL. */
static void b64_encode(const uint8_t *in, size_t n, char *out)
{
	size_t o = 0, i;

	(void)pthread_once(&b64_pairs_once, b64_pairs_init);
	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

		memcpy(out + o, &b64_pairs[v >> 12], 2);
		memcpy(out + o + 2, &b64_pairs[v & 4095], 2);
		o += 4;
	}
	if (n - i == 1) {
		out[o++] = b64url[in[i] >> 2];
		out[o++] = b64url[(in[i] & 3) << 4];
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)in[i] << 8 | in[i + 1];

		out[o++] = b64url[v >> 10];
		out[o++] = b64url[(v >> 4) & 63];
		out[o++] = b64url[(v & 15) << 2];
	}
	out[o] = '\0';
}

/* The alphabet's values (RFC 4648 table 2), 0xff for every other byte. */
static const uint8_t b64_table[256] = {
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3e, 0xff, 0xff,
	0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e,
	0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0xff, 0xff, 0xff, 0xff, 0x3f,
	0xff, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28,
	0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x32, 0x33, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
};

static int b64_val(char c)
{
	uint8_t v = b64_table[(unsigned char)c];

	return v == 0xff ? -1 : v;
}

/*
 * Strict decode of len chars: only the url alphabet, no padding, no length that
 * leaves 1 char, zero trailing bits. out holds at least len * 3 / 4 bytes.
 */
static int b64_decode(const char *in, size_t len, uint8_t *out, size_t *ret_n)
{
	size_t o = 0, i = 0;
	uint32_t acc = 0, bad = 0;
	int bits = 0;

	if (len % 4 == 1)
		return -EBADMSG;
	/* Whole quads first, then the 2 or 3 chars of the tail. */
	for (; i + 4 <= len; i += 4) {
		uint32_t a = b64_table[(unsigned char)in[i]], b = b64_table[(unsigned char)in[i + 1]],
			 c = b64_table[(unsigned char)in[i + 2]], d = b64_table[(unsigned char)in[i + 3]];
		uint32_t v = a << 18 | b << 12 | c << 6 | d;

		bad |= a | b | c | d; /* 0xff (bit 7) only from a byte outside the alphabet */
		out[o++] = (uint8_t)(v >> 16);
		out[o++] = (uint8_t)(v >> 8);
		out[o++] = (uint8_t)v;
	}
	if (bad & 0x80)
		return -EBADMSG;
	for (; i < len; i++) {
		int v = b64_val(in[i]);

		if (v < 0)
			return -EBADMSG;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	if (bits && (acc & ((1u << bits) - 1)))
		return -EBADMSG; /* non-canonical: trailing bits set */
	*ret_n = o;
	return 0;
}

int jwe_session_key_hk(const struct crypto_hmac_key *pairwise, const uint8_t rr[static JWE_RAND_LEN],
		       const uint8_t ro[static JWE_RAND_LEN], uint8_t out[static JWE_KEY_LEN])
{
	uint8_t data[2 * JWE_RAND_LEN + sizeof(jwe_session_label)];
	size_t n = 0;
	int r;

	memcpy(data, rr, JWE_RAND_LEN);
	n += JWE_RAND_LEN;
	memcpy(data + n, ro, JWE_RAND_LEN);
	n += JWE_RAND_LEN;
	memcpy(data + n, jwe_session_label, sizeof(jwe_session_label) - 1);
	n += sizeof(jwe_session_label) - 1;
	r = crypto_hmac_key_sha256(pairwise, data, n, out);
	secret_wipe(data, sizeof(data));
	return r;
}

int jwe_session_key(const uint8_t pairwise[static JWE_KEY_LEN], const uint8_t rr[static JWE_RAND_LEN],
		    const uint8_t ro[static JWE_RAND_LEN], uint8_t out[static JWE_KEY_LEN])
{
	struct crypto_hmac_key hk;
	int r = crypto_hmac_key_init(&hk, pairwise, JWE_KEY_LEN);

	if (r == 0)
		r = jwe_session_key_hk(&hk, rr, ro, out);
	crypto_hmac_key_clear(&hk);
	return r;
}

static bool kid_valid(const char *kid)
{
	size_t n = kid ? strnlen(kid, WIRE_KEY_ID_MAX + 1) : 0;

	if (n == 0 || n > WIRE_KEY_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)kid[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-' || c == '@' || c == '/'))
			return false;
	}
	return true;
}

/* The protected header, exactly: the only form jwe_parse() accepts. Built with
 * memcpy (no format parsing per message); kid is valid (kid_valid), so no escaping. */
static int header_json(const char *kid, const uint8_t ro[static JWE_RAND_LEN],
		       const uint8_t rr[static JWE_RAND_LEN], char *out, size_t out_len)
{
	static const char pre[] = "{\"alg\":\"dir\",\"enc\":\"A256GCM\",\"kid\":\"";
	static const char mid_ro[] = "\",\"ro\":\"", mid_rr[] = "\",\"rr\":\"", end[] = "\"}";
	size_t kid_len = strlen(kid), n = 0, r64 = b64_len(JWE_RAND_LEN);
	size_t total = sizeof(pre) - 1 + kid_len + sizeof(mid_ro) - 1 + r64 + sizeof(mid_rr) - 1 +
		       r64 + sizeof(end) - 1;

	if (total >= out_len)
		return -EINVAL;
	memcpy(out, pre, sizeof(pre) - 1);
	n += sizeof(pre) - 1;
	memcpy(out + n, kid, kid_len);
	n += kid_len;
	memcpy(out + n, mid_ro, sizeof(mid_ro) - 1);
	n += sizeof(mid_ro) - 1;
	b64_encode(ro, JWE_RAND_LEN, out + n);
	n += r64;
	memcpy(out + n, mid_rr, sizeof(mid_rr) - 1);
	n += sizeof(mid_rr) - 1;
	b64_encode(rr, JWE_RAND_LEN, out + n);
	n += r64;
	memcpy(out + n, end, sizeof(end)); /* with the NUL */
	n += sizeof(end) - 1;
	return (int)n;
}

#define HEADER_MAX (WIRE_KEY_ID_MAX + 128)

int jwe_seal(const uint8_t pairwise[static JWE_KEY_LEN], const char *kid,
	     const uint8_t ro[static JWE_RAND_LEN], const uint8_t rr[static JWE_RAND_LEN],
	     const uint8_t *msg, size_t len, char **ret)
{
	struct crypto_hmac_key hk;
	uint8_t iv[AES_GCM_IV_LEN];
	int r = crypto_random(iv, sizeof(iv));

	if (r == 0)
		r = crypto_hmac_key_init(&hk, pairwise, JWE_KEY_LEN);
	if (r < 0)
		return r;
	r = jwe_seal_hk(&hk, kid, ro, rr, iv, msg, len, ret);
	crypto_hmac_key_clear(&hk);
	return r;
}

int jwe_seal_hk(const struct crypto_hmac_key *pairwise, const char *kid,
		const uint8_t ro[static JWE_RAND_LEN], const uint8_t rr[static JWE_RAND_LEN],
		const uint8_t iv[static AES_GCM_IV_LEN], const uint8_t *msg, size_t len, char **ret)
{
	_cleanup_key32_ struct key32 cek = { 0 };
	char hdr[HEADER_MAX], *out, *p;
	size_t sealed_len = len + CRYPTO_SEAL_OVERHEAD, hdr64_len, total;
	uint8_t *sealed;
	int n, r;

	if (!kid_valid(kid) || len > JWE_MSG_MAX || (!msg && len))
		return -EINVAL;
	n = header_json(kid, ro, rr, hdr, sizeof(hdr));
	if (n < 0)
		return n;
	hdr64_len = b64_len((size_t)n);
	total = hdr64_len + 2 + b64_len(AES_GCM_IV_LEN) + 1 + b64_len(len) + 1 +
		b64_len(AES_GCM_TAG_LEN) + 1;
	out = malloc(total);
	sealed = malloc(sealed_len);
	if (!out || !sealed) {
		free(out);
		free(sealed);
		return -ENOMEM;
	}
	b64_encode((const uint8_t *)hdr, (size_t)n, out);
	r = jwe_session_key_hk(pairwise, rr, ro, cek.b);
	if (r == 0)
		r = crypto_seal_iv(cek.b, iv, (const uint8_t *)out, hdr64_len, msg, len, sealed);
	if (r < 0) {
		secret_free_buf(sealed, sealed_len);
		free(out);
		return r;
	}
	p = out + hdr64_len;
	*p++ = '.';
	*p++ = '.'; /* "dir": the JWE Encrypted Key is empty */
	b64_encode(sealed, AES_GCM_IV_LEN, p);
	p += strlen(p);
	*p++ = '.';
	b64_encode(sealed + AES_GCM_IV_LEN, len, p);
	p += strlen(p);
	*p++ = '.';
	b64_encode(sealed + AES_GCM_IV_LEN + len, AES_GCM_TAG_LEN, p);
	secret_free_buf(sealed, sealed_len);
	*ret = out;
	return 0;
}

void jwe_parsed_clear(struct jwe_parsed *p)
{
	if (!p)
		return;
	if (p->sealed)
		secret_free_buf(p->sealed, p->sealed_len);
	memset(p, 0, sizeof(*p));
}

/* Split at exactly four dots. */
static int split(const char *s, size_t len, const char *part[5], size_t part_len[5])
{
	const char *p = s, *end = s + len;

	for (size_t k = 0; k < 5; k++) {
		const char *dot = k < 4 ? memchr(p, '.', (size_t)(end - p)) : NULL;

		if (k < 4 && !dot)
			return -EBADMSG;
		part[k] = p;
		part_len[k] = (size_t)((dot ? dot : end) - p);
		p = dot ? dot + 1 : end;
	}
	return memchr(part[4], '.', part_len[4]) ? -EBADMSG : 0;
}

/* The header's fields, taken by position, then checked by writing them back. */
static int parse_header(const char *json, size_t n, struct jwe_parsed *ret)
{
	static const char pre[] = "{\"alg\":\"dir\",\"enc\":\"A256GCM\",\"kid\":\"";
	char again[HEADER_MAX];
	const char *kid_end, *ro, *rr;
	size_t kid_len, rn;
	uint8_t tmp[32];

	if (n < sizeof(pre) - 1 || memcmp(json, pre, sizeof(pre) - 1) != 0)
		return -EBADMSG;
	kid_end = memchr(json + sizeof(pre) - 1, '"', n - (sizeof(pre) - 1));
	if (!kid_end)
		return -EBADMSG;
	kid_len = (size_t)(kid_end - (json + sizeof(pre) - 1));
	if (kid_len == 0 || kid_len > WIRE_KEY_ID_MAX)
		return -EBADMSG;
	memcpy(ret->kid, json + sizeof(pre) - 1, kid_len);
	ret->kid[kid_len] = '\0';
	if (!kid_valid(ret->kid))
		return -EBADMSG;
	/* From the kid's closing quote: ","ro":"<22>","rr":"<22>"} */
	if ((size_t)(json + n - kid_end) != 8 + 22 + 8 + 22 + 2)
		return -EBADMSG;
	ro = kid_end + 8;
	rr = ro + 22 + 8;
	if (b64_decode(ro, 22, tmp, &rn) < 0 || rn != JWE_RAND_LEN)
		return -EBADMSG;
	memcpy(ret->ro, tmp, JWE_RAND_LEN);
	if (b64_decode(rr, 22, tmp, &rn) < 0 || rn != JWE_RAND_LEN)
		return -EBADMSG;
	memcpy(ret->rr, tmp, JWE_RAND_LEN);
	if (header_json(ret->kid, ret->ro, ret->rr, again, sizeof(again)) != (int)n ||
	    memcmp(again, json, n) != 0)
		return -EBADMSG;
	return 0;
}

int jwe_parse(const char *jwe, size_t len, struct jwe_parsed *ret)
{
	struct jwe_parsed p = { .sealed = NULL };
	const char *part[5];
	size_t part_len[5], n, ct_len;
	char hdr[HEADER_MAX];
	int r;

	if (!jwe || !ret)
		return -EINVAL;
	if (len > JWE_MAX || split(jwe, len, part, part_len) < 0 || part_len[1] != 0 ||
	    part_len[0] > b64_len(sizeof(hdr) - 1) || part_len[2] != b64_len(AES_GCM_IV_LEN) ||
	    part_len[4] != b64_len(AES_GCM_TAG_LEN))
		return -EBADMSG;
	r = b64_decode(part[0], part_len[0], (uint8_t *)hdr, &n);
	if (r < 0 || (r = parse_header(hdr, n, &p)) < 0)
		return -EBADMSG;
	ct_len = part_len[3] * 3 / 4;
	p.sealed_len = AES_GCM_IV_LEN + ct_len + AES_GCM_TAG_LEN;
	p.sealed = malloc(p.sealed_len);
	if (!p.sealed)
		return -ENOMEM;
	r = b64_decode(part[2], part_len[2], p.sealed, &n);
	if (r == 0 && n == AES_GCM_IV_LEN)
		r = b64_decode(part[3], part_len[3], p.sealed + AES_GCM_IV_LEN, &ct_len);
	else if (r == 0)
		r = -EBADMSG;
	if (r == 0)
		r = b64_decode(part[4], part_len[4], p.sealed + AES_GCM_IV_LEN + ct_len, &n);
	if (r < 0 || n != AES_GCM_TAG_LEN || ct_len > JWE_MSG_MAX) {
		jwe_parsed_clear(&p);
		return -EBADMSG;
	}
	p.sealed_len = AES_GCM_IV_LEN + ct_len + AES_GCM_TAG_LEN;
	p.aad = part[0];
	p.aad_len = part_len[0];
	*ret = p;
	return 0;
}

int jwe_open(const uint8_t pairwise[static JWE_KEY_LEN], const struct jwe_parsed *p,
	     uint8_t **ret_msg, size_t *ret_len)
{
	struct crypto_hmac_key hk;
	int r = crypto_hmac_key_init(&hk, pairwise, JWE_KEY_LEN);

	if (r == 0)
		r = jwe_open_hk(&hk, p, ret_msg, ret_len);
	crypto_hmac_key_clear(&hk);
	return r;
}

int jwe_open_hk(const struct crypto_hmac_key *pairwise, const struct jwe_parsed *p,
		uint8_t **ret_msg, size_t *ret_len)
{
	_cleanup_key32_ struct key32 cek = { 0 };
	size_t len = p->sealed_len - CRYPTO_SEAL_OVERHEAD;
	uint8_t *out = malloc(len ? len : 1);
	int r;

	if (!out)
		return -ENOMEM;
	r = jwe_session_key_hk(pairwise, p->rr, p->ro, cek.b);
	if (r == 0)
		r = crypto_open(cek.b, (const uint8_t *)p->aad, p->aad_len, p->sealed, p->sealed_len,
				out);
	if (r < 0) {
		secret_wipe(out, len);
		free(out);
		return r;
	}
	*ret_msg = out;
	*ret_len = len;
	return 0;
}
