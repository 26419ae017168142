/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The local key service codec (common/local-wire.c): exact encodings, round trips
 * of every message type, and the strict decoder's refusals. The expected bytes
 * are written out by hand from RFC 8949 §3 (major types 0, 2, 3, 5) and §4.2.1
 * (shortest heads, keys in ascending order), independently of libcbor.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "common/local-wire.h"
#include "hex.h"

static size_t enc(const struct local_msg *m, uint8_t *buf, size_t len)
{
	size_t n = 0;
	int r = local_wire_encode(m, buf, len, &n);

	cr_assert_eq(r, 0, "encode: %s", strerror(-r));
	return n;
}

static int dec_hex(const char *hex, struct local_msg *ret)
{
	uint8_t buf[LOCAL_WIRE_MSG_MAX];
	int n = unhex(hex, buf, sizeof(buf));

	cr_assert_geq(n, 0, "bad hex in the test");
	return local_wire_decode(buf, (size_t)n, ret);
}

static struct local_msg key_msg(enum local_msg_type type, uint32_t event)
{
	struct local_msg m = { .type = type, .req = 42, .expiry = 1700000000, .event = event };

	snprintf(m.ae_id, sizeof(m.ae_id), "Cae1");
	snprintf(m.key_id, sizeof(m.key_id), "000102030405060708090a0b0c0d0e0f-Cae1@mas.test");
	snprintf(m.suite, sizeof(m.suite), "TLS13-AES128-GCM-SHA256");
	if (type == LOCAL_MSG_KEY || event == LOCAL_EVENT_NEW_KEY) {
		for (int i = 0; i < 32; i++)
			m.key[i] = (uint8_t)(0xa0 + i);
		m.key_len = 32;
	}
	return m;
}

Test(local_wire, get_key_encodes_to_known_bytes)
{
	struct local_msg m = { .type = LOCAL_MSG_GET_KEY, .req = 7 };
	uint8_t buf[64];
	char hex[129];
	size_t n;

	snprintf(m.ae_id, sizeof(m.ae_id), "Cae1");
	n = enc(&m, buf, sizeof(buf));
	tohex(buf, n, hex);
	/* map(4) {0: 1, 1: 1, 2: 7, 3: "Cae1"} */
	cr_expect_str_eq(hex, "a40001010102070364436165" "31");
}

Test(local_wire, error_encodes_to_known_bytes)
{
	struct local_msg m = { .type = LOCAL_MSG_ERROR, .req = 300, .code = LOCAL_ERR_DENIED };
	uint8_t buf[64];
	char hex[129];
	size_t n;

	snprintf(m.reason, sizeof(m.reason), "no");
	n = enc(&m, buf, sizeof(buf));
	tohex(buf, n, hex);
	/* map(5) {0: 9, 1: 1, 2: 300 (0x19 012c), 9: 3, 10: "no"} */
	cr_expect_str_eq(hex, "a500090101021901" "2c09030a626e6f");
}

Test(local_wire, every_type_round_trips)
{
	struct local_msg in[] = {
		{ .type = LOCAL_MSG_GET_KEY, .req = 1 },
		{ .type = LOCAL_MSG_SUBSCRIBE, .req = 2 },
		{ .type = LOCAL_MSG_STATUS, .req = 3 },
		{ .type = LOCAL_MSG_REKEY, .req = UINT32_MAX },
		key_msg(LOCAL_MSG_KEY, 0),
		key_msg(LOCAL_MSG_EVENT, LOCAL_EVENT_NEW_KEY),
		key_msg(LOCAL_MSG_EVENT, LOCAL_EVENT_EXPIRED),
		key_msg(LOCAL_MSG_EVENT, LOCAL_EVENT_REVOKED),
		{ .type = LOCAL_MSG_OK, .req = 9 },
		{ .type = LOCAL_MSG_STATUS_REPLY, .req = 10 },
		{ .type = LOCAL_MSG_ERROR, .req = 11, .code = LOCAL_ERR_NO_KEY },
	};

	snprintf(in[1].ae_id, sizeof(in[1].ae_id), "C-ae_2.x");
	snprintf(in[9].status, sizeof(in[9].status), "{\"state\":\"established\"}");
	snprintf(in[10].reason, sizeof(in[10].reason), "establishment failed: MAS unreachable");
	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		uint8_t buf[LOCAL_WIRE_MSG_MAX];
		struct local_msg out;
		size_t n = enc(&in[i], buf, sizeof(buf));

		cr_assert_eq(local_wire_decode(buf, n, &out), 0, "type %d", in[i].type);
		cr_expect_eq(out.type, in[i].type);
		cr_expect_eq(out.version, LOCAL_WIRE_VERSION);
		cr_expect_eq(out.req, in[i].req);
		cr_expect_str_eq(out.ae_id, in[i].ae_id);
		cr_expect_str_eq(out.key_id, in[i].key_id);
		cr_expect_eq(out.key_len, in[i].key_len);
		cr_expect_arr_eq(out.key, in[i].key, in[i].key_len);
		cr_expect_eq(out.expiry, in[i].expiry);
		cr_expect_str_eq(out.suite, in[i].suite);
		cr_expect_eq(out.event, in[i].event);
		cr_expect_eq(out.code, in[i].code);
		cr_expect_str_eq(out.reason, in[i].reason);
		cr_expect_str_eq(out.status, in[i].status);
		local_msg_wipe(&out);
	}
}

Test(local_wire, decoder_refuses_malformed_input)
{
	static const struct {
		const char *hex, *why;
	} bad[] = {
		{ "", "empty" },
		{ "ff", "a break byte" },
		{ "83010203", "an array, not a map" },
		{ "a40001010102070364436165", "truncated text" },
		{ "a400010101020703644361653100", "trailing byte" },
		{ "a3000101010207", "get-key without its AE-ID" },
		{ "a50001010102070364436165310401", "an extra key (key ID as uint)" },
		{ "a500010101020703644361653118" "2a01", "an unknown key" },
		{ "a4000101010207036443616531" "00", "trailing byte after the map" },
		{ "a40001010102070343" "436165", "AE-ID as a byte string" },
		{ "a4000101010218070364436165" "31", "request number not in shortest form" },
		{ "a4000101010220036443616531", "a negative request number" },
		{ "a40001010102070364436140" "31", "AE-ID with '@'" },
		{ "a400010101021b0000000100000000036443616531", "request number above 2^32-1" },
		{ "a3000a01010207", "an unknown type" },
		{ "bf0001010102070364436165" "31ff", "an indefinite-length map" },
		{ "a40001000102070364436165" "31", "the same key twice" },
		{ "a400010101020703c0644361653" "1", "a tag" },
		/* Found by fuzz-local-wire: a NUL inside the AE-ID text. */
		{ "a4000201010202036443006531", "a NUL inside the AE-ID" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct local_msg m;

		cr_expect_eq(dec_hex(bad[i].hex, &m), -EBADMSG, "%s (%s)", bad[i].why, bad[i].hex);
	}
}

Test(local_wire, key_sizes_are_exact)
{
	struct local_msg m = key_msg(LOCAL_MSG_KEY, 0), e = key_msg(LOCAL_MSG_EVENT,
								     LOCAL_EVENT_EXPIRED);
	uint8_t buf[LOCAL_WIRE_MSG_MAX];
	size_t n;

	m.key_len = 31;
	cr_expect_eq(local_wire_encode(&m, buf, sizeof(buf), &n), -EINVAL, "a 31-byte key");
	e.key_len = 32;
	cr_expect_eq(local_wire_encode(&e, buf, sizeof(buf), &n), -EINVAL,
		     "key bytes in an expiry event");
	e.key_len = 0;
	e.event = 99;
	cr_expect_eq(local_wire_encode(&e, buf, sizeof(buf), &n), -EINVAL, "an unknown event");
	/* Decoder side: a KEY whose bstr is one byte short. */
	m.key_len = 32;
	n = enc(&m, buf, sizeof(buf));
	{
		/* Find the 32-byte bstr head (0x58 0x20) and shorten it to 31 bytes, dropping one. */
		uint8_t *p = memmem(buf, n, "\x05\x58\x20", 3);
		struct local_msg out;

		cr_assert_not_null(p);
		p[2] = 31;
		memmove(p + 3 + 31, p + 3 + 32, n - (size_t)(p + 3 + 32 - buf));
		cr_expect_eq(local_wire_decode(buf, n - 1, &out), -EBADMSG);
	}
}

Test(local_wire, another_version_is_reported_with_type_and_request)
{
	struct local_msg m;

	/* {0: 1, 1: 2, 2: 5} and keys a later version might add. */
	cr_expect_eq(dec_hex("a5000101020205036443616531181e01", &m), -EPROTONOSUPPORT);
	cr_expect_eq(m.type, LOCAL_MSG_GET_KEY);
	cr_expect_eq(m.version, 2);
	cr_expect_eq(m.req, 5);
}

Test(local_wire, oversize_is_refused_both_ways)
{
	static uint8_t big[LOCAL_WIRE_MSG_MAX + 1];
	struct local_msg m = { .type = LOCAL_MSG_STATUS_REPLY };
	uint8_t small[16];
	size_t n = 0;

	cr_expect_eq(local_wire_decode(big, sizeof(big), &m), -EBADMSG);
	memset(m.status, 'x', LOCAL_WIRE_STATUS_MAX);
	m.status[LOCAL_WIRE_STATUS_MAX] = '\0';
	cr_expect_eq(local_wire_encode(&m, small, sizeof(small), &n), -EMSGSIZE);
}

Test(local_wire, encoder_refuses_bad_fields_and_wipes_on_overflow)
{
	struct local_msg m = key_msg(LOCAL_MSG_KEY, 0);
	uint8_t buf[40];
	size_t n;

	snprintf(m.ae_id, sizeof(m.ae_id), "a@b");
	cr_expect_eq(local_wire_encode(&m, buf, sizeof(buf), &n), -EINVAL, "'@' in an AE-ID");
	snprintf(m.ae_id, sizeof(m.ae_id), "Cae1");
	snprintf(m.reason, sizeof(m.reason), "x");
	memset(buf, 0x55, sizeof(buf));
	cr_expect_eq(local_wire_encode(&m, buf, sizeof(buf), &n), -EMSGSIZE);
	for (size_t i = 0; i < sizeof(buf); i++)
		cr_expect_eq(buf[i], 0, "byte %zu left in the buffer after a failed encode", i);
	m = (struct local_msg){ .type = LOCAL_MSG_ERROR };
	m.reason[0] = '\n';
	cr_expect_eq(local_wire_encode(&m, buf, sizeof(buf), &n), -EINVAL, "control character");
	m = (struct local_msg){ .type = 0 };
	cr_expect_eq(local_wire_encode(&m, buf, sizeof(buf), &n), -EINVAL, "type 0");
}

Test(local_wire, errors_map_to_errno)
{
	cr_expect_eq(local_error_to_errno(LOCAL_ERR_DENIED), EACCES);
	cr_expect_eq(local_error_to_errno(LOCAL_ERR_NO_KEY), ENOKEY);
	cr_expect_eq(local_error_to_errno(LOCAL_ERR_MALFORMED), EBADMSG);
	cr_expect_eq(local_error_to_errno(LOCAL_ERR_VERSION), EPROTONOSUPPORT);
	cr_expect_eq(local_error_to_errno(1000), EPROTO);
	cr_expect_str_eq(local_error_code_to_string(LOCAL_ERR_DENIED), "denied");
	cr_expect_str_eq(local_msg_type_to_string(LOCAL_MSG_GET_KEY), "get-key");
	cr_expect_str_eq(local_event_to_string(LOCAL_EVENT_EXPIRED), "expired");
}
