/* SPDX-License-Identifier: Apache-2.0 */
/* The CBOR wire codec: round trips, hand-checked RFC 8949 vectors, every malformation class. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "common/wire.h"
#include "hex.h"

/*
 * A tiny independent CBOR writer for building test bodies, written from RFC 8949
 * §3 (head = major type in the top 3 bits, argument in the low 5 bits: the value
 * itself below 24, else 24/25/26/27 followed by 1/2/4/8 big-endian bytes,
 * §3.1) and §4.2.1 (shortest form). It does not use libcbor, so the codec is
 * checked against the RFC, not against itself.
 */
struct cb {
	uint8_t b[2 * WIRE_FRAME_MAX];
	size_t n;
};

enum { MT_UINT = 0, MT_NEGINT = 1, MT_BSTR = 2, MT_TSTR = 3, MT_ARRAY = 4, MT_MAP = 5, MT_TAG = 6 };

static void cb_head(struct cb *c, unsigned major, uint64_t v)
{
	uint8_t mt = (uint8_t)(major << 5);
	int follow;

	if (v < 24) {
		c->b[c->n++] = mt | (uint8_t)v;
		return;
	}
	if (v <= 0xff) {
		c->b[c->n++] = mt | 24;
		follow = 1;
	} else if (v <= 0xffff) {
		c->b[c->n++] = mt | 25;
		follow = 2;
	} else if (v <= 0xffffffffu) {
		c->b[c->n++] = mt | 26;
		follow = 4;
	} else {
		c->b[c->n++] = mt | 27;
		follow = 8;
	}
	for (int i = follow - 1; i >= 0; i--)
		c->b[c->n++] = (uint8_t)(v >> (8 * i));
}

static void cb_raw(struct cb *c, const void *p, size_t len)
{
	memcpy(c->b + c->n, p, len);
	c->n += len;
}

static void cb_bytes(struct cb *c, const void *p, size_t len)
{
	cb_head(c, MT_BSTR, len);
	cb_raw(c, p, len);
}

static void cb_text_n(struct cb *c, const char *s, size_t len)
{
	cb_head(c, MT_TSTR, len);
	cb_raw(c, s, len);
}

static void cb_text(struct cb *c, const char *s)
{
	cb_text_n(c, s, strlen(s));
}

static void cb_kv_uint(struct cb *c, uint64_t k, uint64_t v)
{
	cb_head(c, MT_UINT, k);
	cb_head(c, MT_UINT, v);
}

static const uint8_t nonce_a[32] = {
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
	0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
};

/* Parts of a HELLO body that tests can vary one at a time. */
struct hello_spec {
	int n_pairs;             /* map size written; 0 = count the pairs */
	const char *node_id;     /* NULL: omit */
	const uint64_t *methods; /* NULL: omit */
	size_t n_methods;
	size_t nonce_len;        /* 0: omit */
	uint64_t type, version;
	bool omit_type, omit_version;
};

static void build_hello(struct cb *c, const struct hello_spec *s)
{
	int pairs = !s->omit_type + !s->omit_version + !!s->node_id + !!s->methods +
		    (s->nonce_len > 0);
	uint8_t nonce[64] = { 0 };

	memcpy(nonce, nonce_a, sizeof(nonce_a));
	c->n = 0;
	cb_head(c, MT_MAP, s->n_pairs ? (uint64_t)s->n_pairs : (uint64_t)pairs);
	if (!s->omit_type)
		cb_kv_uint(c, 0, s->type);
	if (!s->omit_version)
		cb_kv_uint(c, 1, s->version);
	if (s->node_id) {
		cb_head(c, MT_UINT, 2);
		cb_text(c, s->node_id);
	}
	if (s->methods) {
		cb_head(c, MT_UINT, 3);
		cb_head(c, MT_ARRAY, s->n_methods);
		for (size_t i = 0; i < s->n_methods; i++)
			cb_head(c, MT_UINT, s->methods[i]);
	}
	if (s->nonce_len) {
		cb_head(c, MT_UINT, 4);
		cb_bytes(c, nonce, s->nonce_len);
	}
}

static const uint64_t psk_pki[] = { WIRE_METHOD_PSK, WIRE_METHOD_PKI };

static struct hello_spec good_hello(void)
{
	return (struct hello_spec){
		.node_id = "/mn-cse-1",
		.methods = psk_pki,
		.n_methods = 2,
		.nonce_len = 32,
		.type = WIRE_MSG_HELLO,
		.version = WIRE_VERSION_MIN,
	};
}

/*
 * The HELLO body, written out by hand (RFC 8949):
 *   a5                       map, 5 pairs (major 5, §3.1; count < 24 in the initial byte)
 *   00 01                    key 0 (type)    : unsigned 1 = HELLO (major 0, value < 24, §3.1)
 *   01 01                    key 1 (version) : unsigned 1
 *   02 69 2f6d6e2d6373652d31 key 2 (node ID) : text string, 9 bytes "/mn-cse-1" (major 3)
 *   03 82 01 02              key 3 (methods) : array of 2 (major 4): psk, pki
 *   04 58 20 00..1f          key 4 (nonce)   : byte string (major 2), 32 >= 24 so the
 *                                              length follows in one byte (0x58 0x20, §3)
 * Keys in ascending order, all heads in their shortest form (§4.2.1).
 */
#define NONCE_A_HEX "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define HELLO_BODY_HEX "a5" "0001" "0101" "02692f6d6e2d6373652d31" "03820102" "045820" NONCE_A_HEX
static const char hello_body_hex[] = HELLO_BODY_HEX;
/* The same as a frame: 4-byte big-endian length 0x37 = 55, then the body (docs/protocol.md). */
static const char hello_frame_hex[] =
	"00000037" "a5" "0001" "0101" "02692f6d6e2d6373652d31" "03820102" "045820" NONCE_A_HEX;

/*
 * CHALLENGE (docs/protocol.md worked example): method psk, Nm = a0..bf.
 *   a4 | 00 02 | 01 01 | 04 58 20 a0..bf | 05 01
 */
#define NONCE_B_HEX "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
static const char challenge_frame_hex[] =
	"0000002a" "a4" "0002" "0101" "045820" NONCE_B_HEX "0501";

/*
 * A version 2 HELLO for method gba (docs/protocol.md worked example): node
 * /mn-cse-1 offering gba then psk, Nn = 00..1f, and key 15 (btid) the B-TID
 * base64(00..0f) "@bsf.example.net" (TS 33.220 §4.5.2 form; base64 per RFC 4648,
 * checked with Python's base64.b64encode):
 *   a6 | 00 01 | 01 02 | 02 69 "/mn-cse-1" | 03 82 03 01 | 04 58 20 00..1f
 *   | 0f 78 28 "AAECAwQFBgcICQoLDA0ODw==@bsf.example.net" (text, 40 >= 24: one length byte)
 */
#define GBA_BTID "AAECAwQFBgcICQoLDA0ODw==@bsf.example.net"
#define GBA_BTID_HEX "41414543417751464267634943516f4c4441304f44773d3d406273662e6578616d706c652e6e6574"
static const char gba_hello_frame_hex[] = "00000062" "a6" "0001" "0102" "02692f6d6e2d6373652d31"
					  "03820301" "045820" NONCE_A_HEX "0f7828" GBA_BTID_HEX;

static void hex_of(const uint8_t *p, size_t len, char *out)
{
	tohex(p, len, out);
	out[2 * len] = '\0';
}

static int decode_cb(const struct cb *c, struct wire_msg *m)
{
	return wire_decode(c->b, c->n, m);
}

static int decode_hex(const char *hex, struct wire_msg *m)
{
	uint8_t buf[WIRE_FRAME_MAX];
	int n = unhex(hex, buf, sizeof(buf));

	cr_assert_geq(n, 0, "bad test vector");
	return wire_decode(buf, (size_t)n, m);
}

/* ---- known vectors ---- */

Test(wire, hello_vector_decodes_to_expected_struct)
{
	struct wire_msg m;

	cr_assert_eq(decode_hex(hello_body_hex, &m), 0);
	cr_assert_eq(m.type, WIRE_MSG_HELLO);
	cr_assert_eq(m.version, 1);
	cr_assert_str_eq(m.hello.node_id, "/mn-cse-1");
	cr_assert_eq(m.hello.n_methods, 2);
	cr_assert_eq(m.hello.methods[0], WIRE_METHOD_PSK);
	cr_assert_eq(m.hello.methods[1], WIRE_METHOD_PKI);
	cr_assert_arr_eq(m.hello.nonce, nonce_a, 32);
}

Test(wire, hello_encodes_to_exact_vector)
{
	struct wire_msg m = { .type = WIRE_MSG_HELLO };
	uint8_t buf[WIRE_PREFIX_LEN + WIRE_FRAME_MAX];
	char hex[2 * sizeof(buf) + 1];
	struct cb c;
	struct hello_spec s = good_hello();
	size_t len = 0;

	strcpy(m.hello.node_id, "/mn-cse-1");
	m.hello.methods[0] = WIRE_METHOD_PSK;
	m.hello.methods[1] = WIRE_METHOD_PKI;
	m.hello.n_methods = 2;
	memcpy(m.hello.nonce, nonce_a, 32);
	cr_assert_eq(wire_encode(&m, buf, sizeof(buf), &len), 0);
	hex_of(buf, len, hex);
	cr_assert_str_eq(hex, hello_frame_hex);
	/* The independent RFC 8949 writer produces the same bytes. */
	build_hello(&c, &s);
	hex_of(c.b, c.n, hex);
	cr_assert_str_eq(hex, hello_body_hex);
}

Test(wire, gba_hello_is_version_2_with_the_btid)
{
	struct wire_msg m = { .type = WIRE_MSG_HELLO }, d;
	uint8_t buf[WIRE_PREFIX_LEN + WIRE_FRAME_MAX];
	char hex[2 * sizeof(buf) + 1];
	size_t len = 0;

	strcpy(m.hello.node_id, "/mn-cse-1");
	m.hello.methods[0] = WIRE_METHOD_GBA;
	m.hello.methods[1] = WIRE_METHOD_PSK;
	m.hello.n_methods = 2;
	memcpy(m.hello.nonce, nonce_a, 32);
	strcpy(m.hello.btid, GBA_BTID);
	cr_assert_eq(wire_encode(&m, buf, sizeof(buf), &len), 0);
	hex_of(buf, len, hex);
	cr_assert_str_eq(hex, gba_hello_frame_hex);
	cr_assert_eq(wire_decode(buf + WIRE_PREFIX_LEN, len - WIRE_PREFIX_LEN, &d), 0);
	cr_assert_eq(d.version, 2);
	cr_assert_str_eq(d.hello.btid, GBA_BTID);
	m.version = 2;
	cr_assert(wire_msg_equal(&m, &d));
	/* Without a B-TID the same HELLO is version 1, byte for byte as before. */
	m.hello.btid[0] = '\0';
	m.hello.methods[0] = WIRE_METHOD_PSK;
	m.hello.methods[1] = WIRE_METHOD_PKI;
	cr_assert_eq(wire_encode(&m, buf, sizeof(buf), &len), 0);
	hex_of(buf, len, hex);
	cr_assert_str_eq(hex, hello_frame_hex);
}

Test(wire, btid_only_in_a_version_2_hello_and_version_2_only_with_it)
{
	struct wire_msg m;

	/* btid in a version 1 HELLO: a key version 1 does not have. */
	cr_assert_eq(decode_hex("a6" "0001" "0101" "02692f6d6e2d6373652d31" "03820301" "045820"
				NONCE_A_HEX "0f7828" GBA_BTID_HEX, &m), -EBADMSG);
	/* Version 2 without any version 2 field: not the one form of that message. */
	cr_assert_eq(decode_hex("a5" "0001" "0102" "02692f6d6e2d6373652d31" "03820102" "045820"
				NONCE_A_HEX, &m), -EBADMSG);
	/* The gba HELLO at version 3 (the end-to-end messages' version), with and without btid. */
	cr_assert_eq(decode_hex("a6" "0001" "0103" "02692f6d6e2d6373652d31" "03820301" "045820"
				NONCE_A_HEX "0f7828" GBA_BTID_HEX, &m), -EBADMSG);
	cr_assert_eq(decode_hex("a5" "0001" "0103" "02692f6d6e2d6373652d31" "03820102" "045820"
				NONCE_A_HEX, &m), -EBADMSG);
	/* btid in a CHALLENGE. */
	cr_assert_eq(decode_hex("a5" "0002" "0102" "045820" NONCE_B_HEX "0501" "0f7828" GBA_BTID_HEX,
				&m), -EBADMSG);
	/* A B-TID without '@', or with a character outside base64 and DNS names. */
	cr_assert_eq(decode_hex("a6" "0001" "0102" "02692f6d6e2d6373652d31" "03820301" "045820"
				NONCE_A_HEX "0f63" "414141", &m), -EBADMSG);
	cr_assert_eq(decode_hex("a6" "0001" "0102" "02692f6d6e2d6373652d31" "03820301" "045820"
				NONCE_A_HEX "0f65" "4121406273", &m), -EBADMSG);
	cr_assert_eq(decode_hex("a6" "0001" "0102" "02692f6d6e2d6373652d31" "03820301" "045820"
				NONCE_A_HEX "0f65" "4141406273", &m), 0);
	cr_assert_str_eq(m.hello.btid, "AA@bs");
	cr_assert(wire_btid_valid(GBA_BTID));
	cr_assert(!wire_btid_valid("@bsf.example.net"));
	cr_assert(!wire_btid_valid("abc@"));
	cr_assert(!wire_btid_valid("a@b@c"));
	cr_assert(!wire_btid_valid(""));
}

Test(wire, encoder_refuses_a_bad_btid)
{
	struct wire_msg m = { .type = WIRE_MSG_HELLO };
	uint8_t buf[WIRE_PREFIX_LEN + WIRE_FRAME_MAX];
	size_t len;

	strcpy(m.hello.node_id, "/mn-cse-1");
	m.hello.methods[0] = WIRE_METHOD_GBA;
	m.hello.n_methods = 1;
	strcpy(m.hello.btid, "no at sign");
	cr_assert_eq(wire_encode(&m, buf, sizeof(buf), &len), -EINVAL);
	memset(m.hello.btid, 'A', sizeof(m.hello.btid)); /* unterminated */
	cr_assert_eq(wire_encode(&m, buf, sizeof(buf), &len), -EINVAL);
}

Test(wire, challenge_encodes_to_documented_vector)
{
	struct wire_msg m = { .type = WIRE_MSG_CHALLENGE }, d;
	uint8_t buf[WIRE_PREFIX_LEN + WIRE_FRAME_MAX];
	char hex[2 * sizeof(buf) + 1];
	size_t len = 0;

	m.challenge.method = WIRE_METHOD_PSK;
	for (int i = 0; i < 32; i++)
		m.challenge.nonce[i] = (uint8_t)(0xa0 + i);
	cr_assert_eq(wire_encode(&m, buf, sizeof(buf), &len), 0);
	hex_of(buf, len, hex);
	cr_assert_str_eq(hex, challenge_frame_hex);
	cr_assert_eq(wire_frame_length(buf), (int)len - WIRE_PREFIX_LEN);
	cr_assert_eq(wire_decode(buf + WIRE_PREFIX_LEN, len - WIRE_PREFIX_LEN, &d), 0);
	m.version = WIRE_VERSION_MIN;
	cr_assert(wire_msg_equal(&m, &d));
	cr_assert_eq(d.challenge.method, WIRE_METHOD_PSK);
	cr_assert_arr_eq(d.challenge.nonce, m.challenge.nonce, 32);
}

Test(wire, keys_in_any_order_are_accepted)
{
	/* RFC 8949 maps are unordered; only the encoder sorts. Nonce first, type last. */
	struct wire_msg m;

	cr_assert_eq(decode_hex("a5" "045820" NONCE_A_HEX "03820102" "02692f6d6e2d6373652d31"
				"0101" "0001", &m), 0);
	cr_assert_str_eq(m.hello.node_id, "/mn-cse-1");
}

/* ---- round trips ---- */

static void round_trip(struct wire_msg *m)
{
	uint8_t buf[WIRE_PREFIX_LEN + WIRE_FRAME_MAX];
	struct wire_msg d;
	size_t len = 0;

	m->version = m->type == WIRE_MSG_HELLO && m->hello.btid[0] ? WIRE_VERSION_BTID
		     : m->type == WIRE_MSG_PEER_RESOLVE && m->peer_resolve.check
			     ? WIRE_VERSION_CHECK
			     : wire_type_version(m->type);
	cr_assert_eq(wire_encode(m, buf, sizeof(buf), &len), 0, "encode %s",
		     wire_msg_type_to_string(m->type));
	cr_assert_eq(wire_frame_length(buf), (int)(len - WIRE_PREFIX_LEN));
	memset(&d, 0x5a, sizeof(d));
	cr_assert_eq(wire_decode(buf + WIRE_PREFIX_LEN, len - WIRE_PREFIX_LEN, &d), 0, "decode %s",
		     wire_msg_type_to_string(m->type));
	cr_assert(wire_msg_equal(m, &d), "%s differs after a round trip",
		  wire_msg_type_to_string(m->type));
	wire_msg_wipe(&d);
}

static void fill(uint8_t *p, size_t len, uint8_t seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed + 7 * i);
}

Test(wire, round_trip_every_type)
{
	struct wire_msg m;

	memset(&m, 0, sizeof(m));
	m.type = WIRE_MSG_HELLO;
	strcpy(m.hello.node_id, "mn-cse.example_1@op");
	m.hello.methods[0] = WIRE_METHOD_GBA;
	m.hello.methods[1] = WIRE_METHOD_PSK;
	m.hello.methods[2] = WIRE_METHOD_PKI;
	m.hello.n_methods = 3;
	fill(m.hello.nonce, 32, 1);
	round_trip(&m);

	memset(&m, 0, sizeof(m));
	m.type = WIRE_MSG_CHALLENGE;
	m.challenge.method = WIRE_METHOD_PKI;
	fill(m.challenge.nonce, 32, 2);
	round_trip(&m);

	memset(&m, 0, sizeof(m));
	m.type = WIRE_MSG_PROOF;
	fill(m.proof.proof, 32, 3);
	round_trip(&m);

	memset(&m, 0, sizeof(m));
	m.type = WIRE_MSG_ESTABLISHED;
	fill(m.established.proof, 32, 4);
	strcpy(m.established.key_id, "00112233445566778899aabbccddeeff@mas.example.com");
	m.established.expiry = 1767225600; /* needs a 4-byte argument */
	m.established.method = WIRE_METHOD_PSK;
	strcpy(m.established.suite, "TLS13-AES128-GCM-SHA256");
	round_trip(&m);
	m.established.expiry = UINT64_MAX; /* 8-byte argument */
	round_trip(&m);

	memset(&m, 0, sizeof(m));
	m.type = WIRE_MSG_ERROR;
	m.error.code = WIRE_ERR_UNKNOWN_NODE;
	strcpy(m.error.reason, "node \"x\" is not registered; ask the operator (äöü)");
	round_trip(&m);
	m.error.reason[0] = '\0'; /* an empty reason is allowed */
	m.error.code = 70000;     /* and codes this version does not know */
	round_trip(&m);

	memset(&m, 0, sizeof(m));
	m.type = WIRE_MSG_KEY_REQUEST;
	strcpy(m.key_request.key_id, "00112233445566778899aabbccddeeff-Cae1@mas.example.com");
	round_trip(&m);

	memset(&m, 0, sizeof(m));
	m.type = WIRE_MSG_KEY_RESPONSE;
	fill(m.key_response.key, 32, 5);
	m.key_response.expiry = 300;
	strcpy(m.key_response.node_id, "/mn-cse-1");
	strcpy(m.key_response.ae_id, "Cae1");
	m.key_response.suid = 32;
	round_trip(&m);
	m.key_response.ae_id[0] = '\0'; /* the node's own Kc */
	round_trip(&m);
	wire_msg_wipe(&m);
}

Test(wire, round_trip_at_the_string_limits)
{
	struct wire_msg m = { .type = WIRE_MSG_ESTABLISHED };

	memset(m.established.key_id, 'k', WIRE_KEY_ID_MAX);
	memset(m.established.suite, 'S', WIRE_SUITE_MAX);
	m.established.method = WIRE_METHOD_GBA;
	round_trip(&m);

	memset(&m, 0, sizeof(m));
	m.type = WIRE_MSG_KEY_RESPONSE;
	memset(m.key_response.node_id, 'n', WIRE_ID_MAX);
	memset(m.key_response.ae_id, 'a', WIRE_ID_MAX);
	m.key_response.suid = UINT32_MAX;
	round_trip(&m);

	memset(&m, 0, sizeof(m));
	m.type = WIRE_MSG_ERROR;
	memset(m.error.reason, 'r', WIRE_REASON_MAX);
	round_trip(&m);
}

/* ---- malformations ---- */

Test(wire, truncated_body_is_refused)
{
	uint8_t buf[128];
	struct wire_msg m;
	int n = unhex(hello_body_hex, buf, sizeof(buf));

	cr_assert_eq(wire_decode(buf, (size_t)n, &m), 0);
	for (int i = 0; i < n; i++)
		cr_assert_eq(wire_decode(buf, (size_t)i, &m), -EBADMSG, "prefix of %d bytes", i);
}

Test(wire, trailing_bytes_are_refused)
{
	struct wire_msg m;

	cr_assert_eq(decode_hex(HELLO_BODY_HEX "00", &m), -EBADMSG);
	cr_assert_eq(decode_hex(HELLO_BODY_HEX "a0", &m), -EBADMSG);
	/* A second complete message in the same body is trailing bytes too. */
	cr_assert_eq(decode_hex(HELLO_BODY_HEX "a3000301010600", &m), -EBADMSG);
}

Test(wire, failed_decode_leaves_output_untouched)
{
	struct wire_msg m, before;

	memset(&m, 0xa5, sizeof(m));
	before = m;
	cr_assert_eq(decode_hex(HELLO_BODY_HEX "00", &m), -EBADMSG);
	cr_assert_eq(memcmp(&m, &before, sizeof(m)), 0);
}

Test(wire, wrong_type_per_field_is_refused)
{
	/* Each vector is the good HELLO with one value replaced by another CBOR type. */
	static const char *const bad[] = {
		/* type as text "1" */
		"a5" "006131" "0101" "02692f6d6e2d6373652d31" "03820102" "045820" NONCE_A_HEX,
		/* version as a byte string */
		"a5" "0001" "014101" "02692f6d6e2d6373652d31" "03820102" "045820" NONCE_A_HEX,
		/* version negative (-2: major 1) */
		"a5" "0001" "0121" "02692f6d6e2d6373652d31" "03820102" "045820" NONCE_A_HEX,
		/* node ID as a byte string */
		"a5" "0001" "0101" "02492f6d6e2d6373652d31" "03820102" "045820" NONCE_A_HEX,
		/* node ID as an unsigned integer */
		"a5" "0001" "0101" "0207" "03820102" "045820" NONCE_A_HEX,
		/* methods as a single unsigned integer */
		"a5" "0001" "0101" "02692f6d6e2d6373652d31" "0301" "045820" NONCE_A_HEX,
		/* a method as text */
		"a5" "0001" "0101" "02692f6d6e2d6373652d31" "0382613102" "045820" NONCE_A_HEX,
		/* a method as a nested array */
		"a5" "0001" "0101" "02692f6d6e2d6373652d31" "0382810102" "045820" NONCE_A_HEX,
		/* methods as a map */
		"a5" "0001" "0101" "02692f6d6e2d6373652d31" "03a10102" "045820" NONCE_A_HEX,
		/* nonce as a text string */
		"a5" "0001" "0101" "02692f6d6e2d6373652d31" "03820102" "047820" NONCE_A_HEX,
		/* nonce as a tagged byte string (tag 24, RFC 8949 §3.4.5.1) */
		"a5" "0001" "0101" "02692f6d6e2d6373652d31" "03820102" "04d85820" NONCE_A_HEX,
		/* nonce as null / true / a float */
		"a5" "0001" "0101" "02692f6d6e2d6373652d31" "03820102" "04f6",
		"a5" "0001" "0101" "02692f6d6e2d6373652d31" "03820102" "04f5",
		"a5" "0001" "0101" "02692f6d6e2d6373652d31" "03820102" "04f93c00",
		/* a key that is text */
		"a5" "0001" "0101" "02692f6d6e2d6373652d31" "03820102" "615820" NONCE_A_HEX,
		/* a key that is negative */
		"a5" "0001" "0101" "02692f6d6e2d6373652d31" "03820102" "235820" NONCE_A_HEX,
		/* the body is an array, not a map */
		"85" "01" "01" "692f6d6e2d6373652d31" "820102" "5820" NONCE_A_HEX,
	};
	struct wire_msg m;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		cr_assert_eq(decode_hex(bad[i], &m), -EBADMSG, "vector %zu decoded", i);
}

Test(wire, wrong_type_in_other_messages_is_refused)
{
	struct cb c = { 0 };
	struct wire_msg m;

	/* ERROR with the code as text. */
	cb_head(&c, MT_MAP, 4);
	cb_kv_uint(&c, 0, WIRE_MSG_ERROR);
	cb_kv_uint(&c, 1, 1);
	cb_head(&c, MT_UINT, 10);
	cb_text(&c, "3");
	cb_head(&c, MT_UINT, 11);
	cb_text(&c, "why");
	cr_assert_eq(decode_cb(&c, &m), -EBADMSG);

	/* KEY_RESPONSE with SUID beyond 32 bits and with expiry as text. */
	for (int variant = 0; variant < 2; variant++) {
		uint8_t key[32] = { 0 };

		c.n = 0;
		cb_head(&c, MT_MAP, 7);
		cb_kv_uint(&c, 0, WIRE_MSG_KEY_RESPONSE);
		cb_kv_uint(&c, 1, 1);
		cb_head(&c, MT_UINT, 2);
		cb_text(&c, "/mn-cse-1");
		cb_head(&c, MT_UINT, 8);
		if (variant == 1)
			cb_text(&c, "300");
		else
			cb_head(&c, MT_UINT, 300);
		cb_head(&c, MT_UINT, 12);
		cb_bytes(&c, key, 32);
		cb_head(&c, MT_UINT, 13);
		cb_text(&c, "");
		cb_kv_uint(&c, 14, variant == 0 ? 0x100000000ull : 32);
		cr_assert_eq(decode_cb(&c, &m), -EBADMSG, "variant %d", variant);
	}
}

Test(wire, missing_field_is_refused)
{
	struct hello_spec s;
	struct cb c;
	struct wire_msg m;

	s = good_hello();
	s.omit_type = true;
	build_hello(&c, &s);
	cr_assert_eq(decode_cb(&c, &m), -EBADMSG, "no type");
	s = good_hello();
	s.omit_version = true;
	build_hello(&c, &s);
	cr_assert_eq(decode_cb(&c, &m), -EBADMSG, "no version");
	s = good_hello();
	s.node_id = NULL;
	build_hello(&c, &s);
	cr_assert_eq(decode_cb(&c, &m), -EBADMSG, "no node ID");
	s = good_hello();
	s.methods = NULL;
	build_hello(&c, &s);
	cr_assert_eq(decode_cb(&c, &m), -EBADMSG, "no methods");
	s = good_hello();
	s.nonce_len = 0;
	build_hello(&c, &s);
	cr_assert_eq(decode_cb(&c, &m), -EBADMSG, "no nonce");
	/* A map that announces more pairs than it holds is truncated. */
	s = good_hello();
	s.n_pairs = 6;
	build_hello(&c, &s);
	cr_assert_eq(decode_cb(&c, &m), -EBADMSG, "announced 6 pairs");
	/* The empty map. */
	cr_assert_eq(decode_hex("a0", &m), -EBADMSG);
}

Test(wire, field_of_another_type_is_refused)
{
	/* A HELLO that also carries CHALLENGE's method (key 5): not a HELLO field. */
	struct wire_msg m;

	cr_assert_eq(decode_hex(hello_body_hex, &m), 0);
	cr_assert_eq(decode_hex("a6" "0001" "0101" "02692f6d6e2d6373652d31" "03820102"
				"045820" NONCE_A_HEX "0501", &m), -EBADMSG);
	/* A PROOF with a HELLO's layout. */
	cr_assert_eq(decode_hex("a5" "0003" "0101" "02692f6d6e2d6373652d31" "03820102"
				"045820" NONCE_A_HEX, &m), -EBADMSG);
}

Test(wire, duplicate_field_is_refused)
{
	struct wire_msg m;

	/* node ID twice, same value */
	cr_assert_eq(decode_hex("a6" "0001" "0101" "02692f6d6e2d6373652d31" "02692f6d6e2d6373652d31"
				"03820102" "045820" NONCE_A_HEX, &m), -EBADMSG);
	/* type twice */
	cr_assert_eq(decode_hex("a6" "0001" "0001" "0101" "02692f6d6e2d6373652d31" "03820102"
				"045820" NONCE_A_HEX, &m), -EBADMSG);
	/* a method offered twice */
	cr_assert_eq(decode_hex("a5" "0001" "0101" "02692f6d6e2d6373652d31" "03820101"
				"045820" NONCE_A_HEX, &m), -EBADMSG);
}

Test(wire, unknown_key_is_refused)
{
	struct wire_msg m;

	/* key 15 (the first unassigned), key 24 (one-byte argument), key 2^32 */
	cr_assert_eq(decode_hex("a6" "0001" "0101" "02692f6d6e2d6373652d31" "03820102"
				"045820" NONCE_A_HEX "0f00", &m), -EBADMSG);
	cr_assert_eq(decode_hex("a6" "0001" "0101" "02692f6d6e2d6373652d31" "03820102"
				"045820" NONCE_A_HEX "181800", &m), -EBADMSG);
	cr_assert_eq(decode_hex("a6" "0001" "0101" "02692f6d6e2d6373652d31" "03820102"
				"045820" NONCE_A_HEX "1b000000010000000000", &m), -EBADMSG);
}

Test(wire, unknown_message_type_is_refused)
{
	static const uint64_t types[] = { 0, _WIRE_MSG_MAX, 99, UINT32_MAX, UINT64_MAX };
	struct hello_spec s;
	struct cb c;
	struct wire_msg m;

	for (size_t i = 0; i < ARRAY_SIZE(types); i++) {
		s = good_hello();
		s.type = types[i];
		build_hello(&c, &s);
		cr_assert_eq(decode_cb(&c, &m), -EBADMSG, "type %llu", (unsigned long long)types[i]);
	}
}

Test(wire, over_long_strings_are_refused)
{
	char id[WIRE_KEY_ID_MAX + 2];
	struct hello_spec s = good_hello();
	struct cb c;
	struct wire_msg m;

	memset(id, 'a', sizeof(id));
	id[WIRE_ID_MAX] = '\0';
	s.node_id = id;
	build_hello(&c, &s);
	cr_assert_eq(decode_cb(&c, &m), 0, "128 octets is the limit");
	cr_assert_eq(strlen(m.hello.node_id), WIRE_ID_MAX);
	id[WIRE_ID_MAX] = 'a';
	id[WIRE_ID_MAX + 1] = '\0';
	build_hello(&c, &s);
	cr_assert_eq(decode_cb(&c, &m), -EBADMSG, "129 octets");

	/* KEY_REQUEST key ID: 255 fine, 256 refused. */
	for (size_t n = WIRE_KEY_ID_MAX; n <= WIRE_KEY_ID_MAX + 1; n++) {
		c.n = 0;
		cb_head(&c, MT_MAP, 3);
		cb_kv_uint(&c, 0, WIRE_MSG_KEY_REQUEST);
		cb_kv_uint(&c, 1, 1);
		cb_head(&c, MT_UINT, 7);
		memset(id, 'k', sizeof(id));
		cb_text_n(&c, id, n);
		cr_assert_eq(decode_cb(&c, &m), n == WIRE_KEY_ID_MAX ? 0 : -EBADMSG, "%zu", n);
	}

	/* ERROR reason: 255 fine, 256 refused. */
	for (size_t n = WIRE_REASON_MAX; n <= WIRE_REASON_MAX + 1; n++) {
		char reason[WIRE_REASON_MAX + 1];

		memset(reason, 'r', sizeof(reason));
		c.n = 0;
		cb_head(&c, MT_MAP, 4);
		cb_kv_uint(&c, 0, WIRE_MSG_ERROR);
		cb_kv_uint(&c, 1, 1);
		cb_kv_uint(&c, 10, WIRE_ERR_INTERNAL);
		cb_head(&c, MT_UINT, 11);
		cb_text_n(&c, reason, n);
		cr_assert_eq(decode_cb(&c, &m), n == WIRE_REASON_MAX ? 0 : -EBADMSG, "%zu", n);
	}
}

Test(wire, wrong_nonce_length_is_refused)
{
	static const size_t lens[] = { 1, 16, 31, 33, 64 };
	struct hello_spec s = good_hello();
	struct cb c;
	struct wire_msg m;

	for (size_t i = 0; i < ARRAY_SIZE(lens); i++) {
		s.nonce_len = lens[i];
		build_hello(&c, &s);
		cr_assert_eq(decode_cb(&c, &m), -EBADMSG, "nonce of %zu bytes", lens[i]);
	}
	/* An empty byte string. */
	cr_assert_eq(decode_hex("a5" "0001" "0101" "02692f6d6e2d6373652d31" "03820102" "0440", &m),
		     -EBADMSG);
}

Test(wire, bad_id_characters_are_refused)
{
	static const char *const bad[] = { "", "mn cse", "mn\tcse", "mn:cse", "mn,cse", "m\xc3\xa4",
					   "mn#1", "a\"b" };
	struct hello_spec s = good_hello();
	struct cb c;
	struct wire_msg m;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		s.node_id = bad[i];
		build_hello(&c, &s);
		cr_assert_eq(decode_cb(&c, &m), -EBADMSG, "node ID \"%s\"", bad[i]);
		cr_assert_eq(wire_id_valid(bad[i]), 0, "\"%s\"", bad[i]);
	}
	/* An embedded NUL in a text string. */
	c.n = 0;
	cb_head(&c, MT_MAP, 5);
	cb_kv_uint(&c, 0, 1);
	cb_kv_uint(&c, 1, 1);
	cb_head(&c, MT_UINT, 2);
	cb_text_n(&c, "mn\0cse", 6);
	cb_head(&c, MT_UINT, 3);
	cb_head(&c, MT_ARRAY, 1);
	cb_head(&c, MT_UINT, 1);
	cb_head(&c, MT_UINT, 4);
	cb_bytes(&c, nonce_a, 32);
	cr_assert_eq(decode_cb(&c, &m), -EBADMSG);
	/* ... also in free text (ERROR reason). */
	c.n = 0;
	cb_head(&c, MT_MAP, 4);
	cb_kv_uint(&c, 0, WIRE_MSG_ERROR);
	cb_kv_uint(&c, 1, 1);
	cb_kv_uint(&c, 10, 1);
	cb_head(&c, MT_UINT, 11);
	cb_text_n(&c, "bad\0", 4);
	cr_assert_eq(decode_cb(&c, &m), -EBADMSG);
}

Test(wire, too_many_or_no_methods_are_refused)
{
	static const uint64_t five[] = { 1, 2, 3, 1, 2 };
	struct hello_spec s = good_hello();
	struct cb c;
	struct wire_msg m;

	s.methods = five;
	s.n_methods = 5;
	build_hello(&c, &s);
	cr_assert_eq(decode_cb(&c, &m), -EBADMSG, "5 methods");
	s.n_methods = 0;
	build_hello(&c, &s);
	cr_assert_eq(decode_cb(&c, &m), -EBADMSG, "no methods");
	s.n_methods = 3;
	build_hello(&c, &s);
	cr_assert_eq(decode_cb(&c, &m), 0, "3 distinct methods");
	/* An array that claims 2^32 elements. */
	cr_assert_eq(decode_hex("a5" "0001" "0101" "02692f6d6e2d6373652d31" "039b0000000100000000"
				"045820" NONCE_A_HEX, &m), -EBADMSG);
}

Test(wire, unknown_method_is_refused)
{
	static const uint64_t zero[] = { 0 }, four[] = { 1, 4 }, big[] = { 257 };
	struct hello_spec s = good_hello();
	struct cb c;
	struct wire_msg m;

	s.methods = zero;
	s.n_methods = 1;
	build_hello(&c, &s);
	cr_assert_eq(decode_cb(&c, &m), -EBADMSG);
	s.methods = four;
	s.n_methods = 2;
	build_hello(&c, &s);
	cr_assert_eq(decode_cb(&c, &m), -EBADMSG);
	s.methods = big;
	s.n_methods = 1;
	build_hello(&c, &s);
	cr_assert_eq(decode_cb(&c, &m), -EBADMSG, "257 must not wrap to psk");
	/* CHALLENGE with method 4. */
	cr_assert_eq(decode_hex("a4" "0002" "0101" "045820" NONCE_B_HEX "0504", &m), -EBADMSG);
	cr_assert_eq(decode_hex("a4" "0002" "0101" "045820" NONCE_B_HEX "0501", &m), 0);
}

Test(wire, non_preferred_and_indefinite_encodings_are_refused)
{
	struct wire_msg m;

	/* type 1 with a one-byte argument (0x18 0x01): not the shortest head, §4.2.1. */
	cr_assert_eq(decode_hex("a5" "001801" "0101" "02692f6d6e2d6373652d31" "03820102"
				"045820" NONCE_A_HEX, &m), -EBADMSG);
	/* map size with a one-byte argument */
	cr_assert_eq(decode_hex("b805" "0001" "0101" "02692f6d6e2d6373652d31" "03820102"
				"045820" NONCE_A_HEX, &m), -EBADMSG);
	/* nonce length in two bytes (0x59 0x0020) */
	cr_assert_eq(decode_hex("a5" "0001" "0101" "02692f6d6e2d6373652d31" "03820102"
				"04590020" NONCE_A_HEX, &m), -EBADMSG);
	/* node ID length in one byte although 9 < 24 */
	cr_assert_eq(decode_hex("a5" "0001" "0101" "0278092f6d6e2d6373652d31" "03820102"
				"045820" NONCE_A_HEX, &m), -EBADMSG);
	/* indefinite-length map (0xbf ... 0xff), §3.2.2 */
	cr_assert_eq(decode_hex("bf" "0001" "0101" "02692f6d6e2d6373652d31" "03820102"
				"045820" NONCE_A_HEX "ff", &m), -EBADMSG);
	/* indefinite-length text string made of chunks, §3.2.3 */
	cr_assert_eq(decode_hex("a5" "0001" "0101" "027f642f6d6e2d63637365ff" "03820102"
				"045820" NONCE_A_HEX, &m), -EBADMSG);
	/* indefinite-length methods array */
	cr_assert_eq(decode_hex("a5" "0001" "0101" "02692f6d6e2d6373652d31" "039f0102ff"
				"045820" NONCE_A_HEX, &m), -EBADMSG);
	/* reserved additional information 28 (§3: malformed) */
	cr_assert_eq(decode_hex("a5" "001c" "0101" "02692f6d6e2d6373652d31" "03820102"
				"045820" NONCE_A_HEX, &m), -EBADMSG);
	/* a lone break */
	cr_assert_eq(decode_hex("ff", &m), -EBADMSG);
}

Test(wire, huge_lengths_do_not_read_past_the_body)
{
	struct wire_msg m;

	/* A byte string that claims 2^64-1 bytes, and one that claims 2^32. */
	cr_assert_eq(decode_hex("a5" "0001" "0101" "02692f6d6e2d6373652d31" "03820102"
				"045bffffffffffffffff" "00", &m), -EBADMSG);
	cr_assert_eq(decode_hex("a5" "0001" "0101" "027b0000000100000000" "41", &m), -EBADMSG);
	/* A map that claims 2^64-1 pairs. */
	cr_assert_eq(decode_hex("bbffffffffffffffff" "0001", &m), -EBADMSG);
}

Test(wire, oversize_body_is_refused)
{
	static uint8_t body[WIRE_FRAME_MAX + 1];
	struct wire_msg m;
	uint8_t ok[128];
	int n = unhex(hello_body_hex, ok, sizeof(ok));

	memcpy(body, ok, (size_t)n);
	cr_assert_eq(wire_decode(body, WIRE_FRAME_MAX + 1, &m), -EBADMSG);
	cr_assert_eq(wire_decode(body, 0, &m), -EBADMSG);
}

Test(wire, frame_prefix)
{
	static const uint8_t zero[4] = { 0, 0, 0, 0 }, one[4] = { 0, 0, 0, 1 },
			     max[4] = { 0, 0, 0x10, 0x00 }, over[4] = { 0, 0, 0x10, 0x01 },
			     huge[4] = { 0xff, 0xff, 0xff, 0xff }, high[4] = { 0x80, 0, 0, 0x37 };

	cr_assert_eq(wire_frame_length(zero), -EBADMSG);
	cr_assert_eq(wire_frame_length(one), 1);
	cr_assert_eq(wire_frame_length(max), WIRE_FRAME_MAX);
	cr_assert_eq(wire_frame_length(over), -EMSGSIZE);
	cr_assert_eq(wire_frame_length(huge), -EMSGSIZE);
	cr_assert_eq(wire_frame_length(high), -EMSGSIZE);
}

Test(wire, other_version_is_reported_with_type)
{
	struct hello_spec s = good_hello();
	struct cb c;
	struct wire_msg m;

	s.version = WIRE_VERSION_MAX + 1;
	build_hello(&c, &s);
	memset(&m, 0xee, sizeof(m));
	cr_assert_eq(decode_cb(&c, &m), -EPROTONOSUPPORT);
	cr_assert_eq(m.type, WIRE_MSG_HELLO);
	cr_assert_eq(m.version, WIRE_VERSION_MAX + 1);

	/* Version 0, and a later version with a field version 1 does not know. */
	s.version = 0;
	build_hello(&c, &s);
	cr_assert_eq(decode_cb(&c, &m), -EPROTONOSUPPORT);
	cr_assert_eq(m.version, 0);
	cr_assert_eq(decode_hex("a6" "0001" "0105" "02692f6d6e2d6373652d31" "03820102"
				"045820" NONCE_A_HEX "1820" "6474657874", &m), -EPROTONOSUPPORT);
	cr_assert_eq(m.version, 5);
	/* Still garbage if the version is unreadable. */
	cr_assert_eq(decode_hex("a5" "0001" "016132" "02692f6d6e2d6373652d31" "03820102"
				"045820" NONCE_A_HEX, &m), -EBADMSG);
}

Test(wire, buffer_too_small)
{
	struct wire_msg m = { .type = WIRE_MSG_KEY_RESPONSE };
	uint8_t buf[WIRE_PREFIX_LEN + WIRE_FRAME_MAX];
	size_t len = 0, need;

	memset(m.key_response.key, 0x6b, 32);
	strcpy(m.key_response.node_id, "/mn-cse-1");
	m.key_response.suid = 32;
	cr_assert_eq(wire_encode(&m, buf, sizeof(buf), &len), 0);
	need = len;
	for (size_t n = 0; n < need; n++) {
		len = 12345;
		memset(buf, 0xcc, sizeof(buf));
		cr_assert_eq(wire_encode(&m, buf, n, &len), -EMSGSIZE, "buffer of %zu", n);
		cr_assert_eq(len, 12345, "ret_len written on failure");
		/* Nothing of the key is left behind in a partial encoding. */
		for (size_t i = 0; i < n; i++)
			cr_assert_neq(buf[i], 0x6b, "key byte left at %zu of %zu", i, n);
	}
	cr_assert_eq(wire_encode(&m, buf, need, &len), 0);
	cr_assert_eq(len, need);
}

Test(wire, encoder_refuses_what_the_decoder_would)
{
	uint8_t buf[WIRE_PREFIX_LEN + WIRE_FRAME_MAX];
	struct wire_msg m;
	size_t len;

	memset(&m, 0, sizeof(m));
	m.type = WIRE_MSG_HELLO;
	strcpy(m.hello.node_id, "bad id");
	m.hello.methods[0] = 1;
	m.hello.n_methods = 1;
	cr_assert_eq(wire_encode(&m, buf, sizeof(buf), &len), -EINVAL, "bad id");
	strcpy(m.hello.node_id, "good");
	m.hello.n_methods = 0;
	cr_assert_eq(wire_encode(&m, buf, sizeof(buf), &len), -EINVAL, "no methods");
	m.hello.n_methods = WIRE_METHODS_MAX + 1;
	cr_assert_eq(wire_encode(&m, buf, sizeof(buf), &len), -EINVAL, "too many methods");
	m.hello.n_methods = 1;
	m.hello.methods[0] = 9;
	cr_assert_eq(wire_encode(&m, buf, sizeof(buf), &len), -EINVAL, "unknown method");
	m.hello.methods[0] = 1;
	cr_assert_eq(wire_encode(&m, buf, sizeof(buf), &len), 0);

	memset(&m, 0, sizeof(m));
	m.type = WIRE_MSG_KEY_REQUEST;
	memset(m.key_request.key_id, 'k', sizeof(m.key_request.key_id)); /* unterminated */
	cr_assert_eq(wire_encode(&m, buf, sizeof(buf), &len), -EINVAL, "unterminated key ID");
	m.key_request.key_id[0] = '\0';
	cr_assert_eq(wire_encode(&m, buf, sizeof(buf), &len), -EINVAL, "empty key ID");

	memset(&m, 0, sizeof(m));
	m.type = WIRE_MSG_CHALLENGE;
	cr_assert_eq(wire_encode(&m, buf, sizeof(buf), &len), -EINVAL, "method 0");
	m.type = (enum wire_msg_type)0;
	cr_assert_eq(wire_encode(&m, buf, sizeof(buf), &len), -EINVAL, "type 0");
	m.type = _WIRE_MSG_MAX;
	cr_assert_eq(wire_encode(&m, buf, sizeof(buf), &len), -EINVAL, "type past the end");
}

Test(wire, msg_wipe_zeroes_everything)
{
	struct wire_msg m;
	uint8_t zero[sizeof(m)];

	memset(&m, 0x77, sizeof(m));
	memset(zero, 0, sizeof(zero));
	wire_msg_wipe(&m);
	cr_assert_eq(memcmp(&m, zero, sizeof(m)), 0);
}

/* ---- names and identifiers ---- */

Test(wire, id_valid)
{
	char id[WIRE_ID_MAX + 2];

	cr_assert_eq(wire_id_valid("/mn-cse-1"), 1);
	cr_assert_eq(wire_id_valid("Cae.1_x-y@host"), 1);
	cr_assert_eq(wire_id_valid("AZaz09"), 1);
	cr_assert_eq(wire_id_valid(""), 0);
	cr_assert_eq(wire_id_valid(NULL), 0);
	cr_assert_eq(wire_id_valid("a b"), 0);
	cr_assert_eq(wire_id_valid("a+b"), 0);
	cr_assert_eq(wire_id_valid("a\\b"), 0);
	memset(id, 'x', sizeof(id));
	id[WIRE_ID_MAX] = '\0';
	cr_assert_eq(wire_id_valid(id), 1);
	id[WIRE_ID_MAX] = 'x';
	id[WIRE_ID_MAX + 1] = '\0';
	cr_assert_eq(wire_id_valid(id), 0);
}

Test(wire, names)
{
	uint8_t m = 0;

	cr_assert_eq(wire_method_from_string("psk", &m), 0);
	cr_assert_eq(m, WIRE_METHOD_PSK);
	cr_assert_eq(wire_method_from_string("pki", &m), 0);
	cr_assert_eq(m, WIRE_METHOD_PKI);
	cr_assert_eq(wire_method_from_string("gba", &m), 0);
	cr_assert_eq(m, WIRE_METHOD_GBA);
	m = 77;
	cr_assert_eq(wire_method_from_string("PSK", &m), -EINVAL);
	cr_assert_eq(wire_method_from_string("", &m), -EINVAL);
	cr_assert_eq(wire_method_from_string("unknown", &m), -EINVAL);
	cr_assert_eq(m, 77);
	cr_assert_str_eq(wire_method_to_string(WIRE_METHOD_PSK), "psk");
	cr_assert_str_eq(wire_method_to_string(WIRE_METHOD_PKI), "pki");
	cr_assert_str_eq(wire_method_to_string(WIRE_METHOD_GBA), "gba");
	cr_assert_str_eq(wire_method_to_string(0), "unknown");
	cr_assert_str_eq(wire_method_to_string(200), "unknown");

	cr_assert_str_eq(wire_error_code_to_string(WIRE_ERR_UNKNOWN_NODE), "unknown-node");
	cr_assert_str_eq(wire_error_code_to_string(WIRE_ERR_NOT_AUTHORISED), "not-authorised");
	cr_assert_str_eq(wire_error_code_to_string(0), "unknown");
	cr_assert_str_eq(wire_error_code_to_string(_WIRE_ERR_MAX), "unknown");
	for (uint32_t c = 1; c < _WIRE_ERR_MAX; c++)
		cr_assert_str_neq(wire_error_code_to_string(c), "unknown", "code %u", c);

	cr_assert_str_eq(wire_msg_type_to_string(WIRE_MSG_HELLO), "hello");
	cr_assert_str_eq(wire_msg_type_to_string(WIRE_MSG_KEY_RESPONSE), "key-response");
	cr_assert_str_eq(wire_msg_type_to_string((enum wire_msg_type)0), "unknown");
	cr_assert_str_eq(wire_msg_type_to_string(_WIRE_MSG_MAX), "unknown");
	for (int t = 1; t < _WIRE_MSG_MAX; t++)
		cr_assert_str_neq(wire_msg_type_to_string((enum wire_msg_type)t), "unknown");
}

Test(wire, msg_equal_notices_each_field)
{
	struct wire_msg a = { .type = WIRE_MSG_KEY_RESPONSE, .version = 1 }, b;

	strcpy(a.key_response.node_id, "n");
	b = a;
	cr_assert(wire_msg_equal(&a, &b));
	b.key_response.key[31] ^= 1;
	cr_assert_not(wire_msg_equal(&a, &b));
	b = a;
	b.key_response.suid = 32;
	cr_assert_not(wire_msg_equal(&a, &b));
	b = a;
	strcpy(b.key_response.ae_id, "x");
	cr_assert_not(wire_msg_equal(&a, &b));
	b = a;
	b.version = 2;
	cr_assert_not(wire_msg_equal(&a, &b));
}

/* The fuzzing seed corpus (tests/fuzz/gen-wire-corpus.py) stays valid: one body per type. */
Test(wire, fuzz_seed_corpus_decodes)
{
	const char *src = getenv("SRCDIR");
	char dir[4096], path[4400];
	unsigned seen = 0;
	struct dirent *de;
	DIR *d;

	cr_assert_not_null(src, "SRCDIR is not set (run through meson test)");
	snprintf(dir, sizeof(dir), "%s/tests/fuzz/corpus/wire", src);
	d = opendir(dir);
	cr_assert_not_null(d, "cannot open %s", dir);
	while ((de = readdir(d))) {
		uint8_t body[WIRE_FRAME_MAX + 1];
		struct wire_msg m;
		size_t n;
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		f = fopen(path, "rb");
		cr_assert_not_null(f, "%s", path);
		n = fread(body, 1, sizeof(body), f);
		fclose(f);
		cr_assert_eq(wire_decode(body, n, &m), 0, "%s does not decode", path);
		seen |= 1u << m.type;
	}
	closedir(d);
	for (int t = 1; t < _WIRE_MSG_MAX; t++)
		cr_assert(seen & (1u << t), "no seed for %s", wire_msg_type_to_string((enum wire_msg_type)t));
}

/* docs/protocol.md §12 shows the frames the encoder produces (so the document cannot go stale). */
Test(wire, protocol_doc_shows_the_tested_frames)
{
	const char *src = getenv("SRCDIR");
	static char doc[131072];
	char path[4096];
	size_t n;
	FILE *f;

	cr_assert_not_null(src, "SRCDIR is not set (run through meson test)");
	snprintf(path, sizeof(path), "%s/docs/protocol.md", src);
	f = fopen(path, "r");
	cr_assert_not_null(f, "cannot open %s", path);
	n = fread(doc, 1, sizeof(doc) - 1, f);
	fclose(f);
	doc[n] = '\0';
	cr_assert_not_null(strstr(doc, hello_frame_hex), "HELLO frame missing from %s", path);
	cr_assert_not_null(strstr(doc, challenge_frame_hex), "CHALLENGE frame missing from %s", path);
	cr_assert_not_null(strstr(doc, gba_hello_frame_hex), "gba HELLO frame missing from %s", path);
}
