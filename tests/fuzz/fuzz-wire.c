/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness for the wire codec (common/wire.c): decode any input as a
 * body; whatever decodes must re-encode, decode again to the same message, and
 * re-encode to a body of the input's size (the decoder accepts only shortest-form
 * heads and no extra items, so only the key order may differ). Any violated
 * invariant aborts, which libFuzzer reports as a crash.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
	if (!ok)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t buf[WIRE_PREFIX_LEN + WIRE_FRAME_MAX], buf2[WIRE_PREFIX_LEN + WIRE_FRAME_MAX];
	struct wire_msg m, m2;
	size_t len = 0, len2 = 0;
	uint8_t *short_buf;
	int r;

	if (size >= WIRE_PREFIX_LEN) {
		r = wire_frame_length(data);
		check((r > 0 && r <= WIRE_FRAME_MAX) || r == -EBADMSG || r == -EMSGSIZE);
	}

	r = wire_decode(data, size, &m);
	if (r == -EPROTONOSUPPORT) {
		check(m.version < WIRE_VERSION_MIN || m.version > WIRE_VERSION_MAX);
		wire_msg_wipe(&m);
		return 0;
	}
	if (r < 0) {
		check(r == -EBADMSG);
		return 0;
	}
	/*
	 * One form per message: a HELLO with a btid at version 2, a PEER_RESOLVE with
	 * check at version 4, else its type's version.
	 */
	check(r == 0 && size <= WIRE_FRAME_MAX &&
	      m.version == (m.type == WIRE_MSG_HELLO && m.hello.btid[0] ? WIRE_VERSION_BTID
			    : m.type == WIRE_MSG_PEER_RESOLVE && m.peer_resolve.check
				    ? WIRE_VERSION_CHECK
				    : wire_type_version(m.type)));

	check(wire_encode(&m, buf, sizeof(buf), &len) == 0);
	check(len > WIRE_PREFIX_LEN && len - WIRE_PREFIX_LEN == size);
	check(wire_frame_length(buf) == (int)(len - WIRE_PREFIX_LEN));
	check(wire_decode(buf + WIRE_PREFIX_LEN, len - WIRE_PREFIX_LEN, &m2) == 0);
	check(wire_msg_equal(&m, &m2));

	/* The encoder is deterministic. */
	check(wire_encode(&m2, buf2, sizeof(buf2), &len2) == 0);
	check(len2 == len && memcmp(buf, buf2, len) == 0);

	/* One byte short is reported, never overrun (a heap buffer of exactly that size for ASan). */
	short_buf = malloc(len - 1);
	check(short_buf != NULL);
	check(wire_encode(&m, short_buf, len - 1, &len2) == -EMSGSIZE);
	free(short_buf);

	wire_msg_wipe(&m);
	wire_msg_wipe(&m2);
	return 0;
}
