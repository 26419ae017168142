// SPDX-License-Identifier: Apache-2.0
/* The version 3 end-to-end messages (docs/protocol.md §14): exact bytes, strict decoding. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/wire.h"
#include "hex.h"

/* The worked example of docs/protocol.md §14.5: PEER_REGISTER from Cae1 towards /mn-cse-2/Cae2. */
static const char register_frame_hex[] =
	"0000003ea5000801030658204142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f"
	"600d6443616531106e2f6d6e2d6373652d322f43616532";

/* docs/protocol.md §14.6: PEER_RESOLVE with check (version 4) for a cached key. */
static const char check_frame_hex[] =
	"0000005da5000901040658204142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f"
	"600778303030313132323333343435353636373738383939616162626363646465656666406d61732e6578"
	"616d706c652e636f6d1101";

static struct wire_msg good_register(void)
{
	struct wire_msg m = { .type = WIRE_MSG_PEER_REGISTER };

	for (int i = 0; i < WIRE_PROOF_LEN; i++)
		m.peer_register.proof[i] = (uint8_t)(0x41 + i);
	strcpy(m.peer_register.ae_id, "Cae1");
	strcpy(m.peer_register.target, "/mn-cse-2/Cae2");
	return m;
}

static struct wire_msg good_peer_key(void)
{
	struct wire_msg m = { .type = WIRE_MSG_PEER_KEY };
	struct wire_peer_key *k = &m.peer_key;

	memset(k->proof, 0x50, sizeof(k->proof));
	memset(k->key, 0x6b, sizeof(k->key));
	strcpy(k->key_id, "00112233445566778899aabbccddeeff@mas.example.com");
	k->expiry = 1900000000;
	strcpy(k->node_id, "/mn-cse-1");
	strcpy(k->ae_id, "Cae1");
	strcpy(k->target, "/mn-cse-2/Cae2");
	k->suid = WIRE_SUID_PEER;
	return m;
}

static int roundtrip(const struct wire_msg *m, struct wire_msg *out)
{
	uint8_t buf[WIRE_PREFIX_LEN + WIRE_FRAME_MAX];
	size_t len;
	int r = wire_encode(m, buf, sizeof(buf), &len);

	if (r < 0)
		return r;
	return wire_decode(buf + WIRE_PREFIX_LEN, len - WIRE_PREFIX_LEN, out);
}

static int decode_hex(const char *hex, struct wire_msg *m)
{
	uint8_t b[WIRE_FRAME_MAX];
	int n = unhex(hex, b, sizeof(b));

	cr_assert_geq(n, 0);
	return wire_decode(b, (size_t)n, m);
}

Test(wire_peer, register_encodes_to_documented_vector)
{
	struct wire_msg m = good_register(), d;
	uint8_t buf[256];
	char hex[600];
	size_t len;

	cr_assert_eq(wire_encode(&m, buf, sizeof(buf), &len), 0);
	tohex(buf, len, hex);
	cr_assert_str_eq(hex, register_frame_hex);
	cr_assert_eq(roundtrip(&m, &d), 0);
	cr_assert_eq(d.version, WIRE_VERSION_PEER);
	m.version = WIRE_VERSION_PEER;
	cr_assert(wire_msg_equal(&m, &d));
}

Test(wire_peer, resolve_and_peer_key_round_trip_at_version_3)
{
	struct wire_msg m = { .type = WIRE_MSG_PEER_RESOLVE }, d;

	memset(m.peer_resolve.proof, 7, WIRE_PROOF_LEN);
	strcpy(m.peer_resolve.key_id, "00112233445566778899aabbccddeeff@mas.example.com");
	cr_assert_eq(roundtrip(&m, &d), 0);
	m.version = 3;
	cr_assert(wire_msg_equal(&m, &d));

	m = good_peer_key();
	cr_assert_eq(roundtrip(&m, &d), 0);
	m.version = 3;
	cr_assert(wire_msg_equal(&m, &d));
	cr_assert_eq(d.peer_key.suid, 33);
	d.peer_key.key[31] ^= 1;
	cr_assert_not(wire_msg_equal(&m, &d));
}

Test(wire_peer, other_messages_stay_version_1)
{
	struct wire_msg m = { .type = WIRE_MSG_PROOF }, d;

	cr_assert_eq(wire_type_version(WIRE_MSG_HELLO), 1);
	cr_assert_eq(wire_type_version(WIRE_MSG_PEER_KEY), 3);
	cr_assert_eq(roundtrip(&m, &d), 0);
	cr_assert_eq(d.version, 1);
}

Test(wire_peer, one_form_per_message)
{
	struct wire_msg m;

	/* The documented PEER_REGISTER with version 1 instead of 3: malformed, not unsupported. */
	cr_assert_eq(decode_hex("a5000801010658204142434445464748494a4b4c4d4e4f505152535455565758"
				"595a5b5c5d5e5f600d6443616531106e2f6d6e2d6373652d322f43616532",
				&m),
		     -EBADMSG);
	/* A PROOF at version 3. */
	cr_assert_eq(decode_hex("a3000301030658204142434445464748494a4b4c4d4e4f50515253545556575859"
				"5a5b5c5d5e5f60",
				&m),
		     -EBADMSG);
	/* A PROOF at version 2 (the version of a HELLO with btid only): malformed too. */
	cr_assert_eq(decode_hex("a3000301020658204142434445464748494a4b4c4d4e4f50515253545556575859"
				"5a5b5c5d5e5f60",
				&m),
		     -EBADMSG);
	/* A PROOF at version 4 (the version of a PEER_RESOLVE with check only): malformed. */
	cr_assert_eq(decode_hex("a3000301040658204142434445464748494a4b4c4d4e4f50515253545556575859"
				"5a5b5c5d5e5f60",
				&m),
		     -EBADMSG);
	/* Version 5 is not spoken by this codec: unsupported, type reported. */
	cr_assert_eq(decode_hex("a3000301050658204142434445464748494a4b4c4d4e4f50515253545556575859"
				"5a5b5c5d5e5f60",
				&m),
		     -EPROTONOSUPPORT);
	cr_assert_eq(m.type, WIRE_MSG_PROOF);
	cr_assert_eq(m.version, 5);
}

Test(wire_peer, bad_targets_and_ae_ids_are_refused_both_ways)
{
	static const char *const bad_targets[] = {
		"mn-cse-2/Cae2", /* not absolute */
		"/Cae2",	 /* no CSE part */
		"//Cae2",	 /* empty CSE part */
		"/mn-cse-2/",	 /* no AE part */
		"/mn-cse-2/C@e", /* '@' in the AE-ID */
		"/mn cse/Cae2",	 /* space */
	};
	struct wire_msg m, d;
	char cse[WIRE_ID_MAX + 1], ae[WIRE_ID_MAX + 1];

	for (size_t i = 0; i < sizeof(bad_targets) / sizeof(bad_targets[0]); i++) {
		m = good_register();
		strcpy(m.peer_register.target, bad_targets[i]);
		cr_assert_eq(roundtrip(&m, &d), -EINVAL, "%s", bad_targets[i]);
		cr_assert_eq(wire_target_split(bad_targets[i], cse, ae), -EINVAL);
	}
	m = good_register();
	strcpy(m.peer_register.ae_id, "a/b");
	cr_assert_eq(roundtrip(&m, &d), -EINVAL);
	/* Decoder: the documented frame with the target "/mn-cse-2/" (last byte cut). */
	cr_assert_eq(decode_hex("a5000801030658204142434445464748494a4b4c4d4e4f505152535455565758"
				"595a5b5c5d5e5f600d6443616531106a2f6d6e2d6373652d322f",
				&m),
		     -EBADMSG);
	cr_assert_eq(wire_target_split("/in-cse/mn-cse-2/Cae2", cse, ae), 0);
	cr_assert_str_eq(cse, "/in-cse/mn-cse-2");
	cr_assert_str_eq(ae, "Cae2");
	cr_assert_eq(wire_target_names_node("/mn-cse-2/Cae2", "/mn-cse-2"), 1);
	cr_assert_eq(wire_target_names_node("/mn-cse-2/Cae2", "mn-cse-2"), 1);
	cr_assert_eq(wire_target_names_node("/mn-cse-2/Cae2", "/mn-cse-1"), 0);
	cr_assert_eq(wire_target_names_node("/mn-cse-2/Cae2", "/mn-cse-2/Cae2"), 0);
	cr_assert_eq(wire_target_names_node("/mn-cse-2/Cae2", ""), 0);
}

Test(wire_peer, protocol_doc_shows_the_tested_frame)
{
	const char *src = getenv("SRCDIR");
	static char doc[262144];
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
	cr_assert_not_null(strstr(doc, register_frame_hex), "PEER_REGISTER frame missing");
	cr_assert_not_null(strstr(doc, check_frame_hex), "PEER_RESOLVE check frame missing");
}

Test(wire_peer, check_encodes_to_documented_vector_at_version_4)
{
	struct wire_msg m = { .type = WIRE_MSG_PEER_RESOLVE }, d;
	uint8_t buf[256];
	char hex[600];
	size_t len;

	for (int i = 0; i < WIRE_PROOF_LEN; i++)
		m.peer_resolve.proof[i] = (uint8_t)(0x41 + i);
	strcpy(m.peer_resolve.key_id, "00112233445566778899aabbccddeeff@mas.example.com");
	m.peer_resolve.check = true;
	cr_assert_eq(wire_encode(&m, buf, sizeof(buf), &len), 0);
	tohex(buf, len, hex);
	cr_assert_str_eq(hex, check_frame_hex);
	cr_assert_eq(roundtrip(&m, &d), 0);
	cr_assert_eq(d.version, WIRE_VERSION_CHECK);
	cr_assert(d.peer_resolve.check);
	m.version = WIRE_VERSION_CHECK;
	cr_assert(wire_msg_equal(&m, &d));
	/* Without check the same request stays a version 3 message. */
	m.peer_resolve.check = false;
	cr_assert_eq(roundtrip(&m, &d), 0);
	cr_assert_eq(d.version, WIRE_VERSION_PEER);
	cr_assert_not(d.peer_resolve.check);
}

Test(wire_peer, check_has_one_form)
{
	struct wire_msg m;
	/* The documented check body (without the length prefix), then variants. */
	char hex[400];

	snprintf(hex, sizeof(hex), "%s", check_frame_hex + 8);
	cr_assert_eq(decode_hex(hex, &m), 0);
	/* check = 2: malformed. */
	hex[strlen(hex) - 1] = '2';
	cr_assert_eq(decode_hex(hex, &m), -EBADMSG);
	/* check at version 3: malformed. */
	snprintf(hex, sizeof(hex), "%s", check_frame_hex + 8);
	hex[9] = '3';
	cr_assert_eq(decode_hex(hex, &m), -EBADMSG);
	/* A version 4 PEER_RESOLVE without check (map of 4, key 17 cut): malformed. */
	snprintf(hex, sizeof(hex), "%s", check_frame_hex + 8);
	hex[1] = '4';
	hex[strlen(hex) - 4] = '\0';
	cr_assert_eq(decode_hex(hex, &m), -EBADMSG);
}
