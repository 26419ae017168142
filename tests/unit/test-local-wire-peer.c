// SPDX-License-Identifier: Apache-2.0
/* The local key service's end-to-end key messages (docs/protocol.md "Local key service"). */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "common/local-wire.h"

static int roundtrip(const struct local_msg *m, struct local_msg *out)
{
	uint8_t buf[LOCAL_WIRE_MSG_MAX];
	size_t len;
	int r = local_wire_encode(m, buf, sizeof(buf), &len);

	return r < 0 ? r : local_wire_decode(buf, len, out);
}

Test(local_wire_peer, peer_key_round_trips_with_target_and_node)
{
	struct local_msg m = { .type = LOCAL_MSG_PEER_KEY, .req = 12, .key_len = 32, .expiry = 99 }, d;

	strcpy(m.ae_id, "Cae1");
	strcpy(m.key_id, "00112233445566778899aabbccddeeff@mas.test");
	strcpy(m.target, "/mn-cse-2/Cae2");
	strcpy(m.node_id, "/mn-cse-1");
	memset(m.key, 0x6b, 32);
	cr_assert_eq(roundtrip(&m, &d), 0);
	cr_expect_str_eq(d.target, "/mn-cse-2/Cae2");
	cr_expect_str_eq(d.node_id, "/mn-cse-1");
	cr_expect_arr_eq(d.key, m.key, 32);
	cr_expect_eq(d.expiry, 99);
	cr_expect_str_eq(local_error_code_to_string(LOCAL_ERR_REVOKED), "revoked");
	cr_expect_eq(local_error_to_errno(LOCAL_ERR_EXPIRED), EKEYEXPIRED);
}

Test(local_wire_peer, requests_need_a_specific_ae_and_a_valid_target)
{
	struct local_msg m = { .type = LOCAL_MSG_GET_PEER_KEY, .req = 1 }, d;

	strcpy(m.target, "/mn-cse-2/Cae2");
	cr_expect_eq(roundtrip(&m, &d), -EINVAL, "the CSE (\"\") cannot be an originator");
	strcpy(m.ae_id, "Cae1");
	cr_expect_eq(roundtrip(&m, &d), 0);
	strcpy(m.target, "mn-cse-2/Cae2");
	cr_expect_eq(roundtrip(&m, &d), -EINVAL);
	strcpy(m.target, "/mn-cse-2/C@e2");
	cr_expect_eq(roundtrip(&m, &d), -EINVAL);
	m = (struct local_msg){ .type = LOCAL_MSG_RESOLVE_KEY, .req = 2 };
	strcpy(m.ae_id, "Cae2");
	cr_expect_eq(roundtrip(&m, &d), -EINVAL, "a resolve-key without a key ID");
	strcpy(m.key_id, "00112233445566778899aabbccddeeff@mas.test");
	cr_expect_eq(roundtrip(&m, &d), 0);
	cr_expect_str_eq(d.key_id, m.key_id);
}
