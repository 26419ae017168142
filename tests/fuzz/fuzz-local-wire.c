/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness for the local key service codec (common/local-wire.c), the
 * decoder m2msad runs on every message a local process sends: decode any input;
 * whatever decodes must re-encode, decode again to the same fields, and
 * re-encode to exactly the input's length (the decoder accepts only
 * shortest-form heads and known keys, so only the key order may differ). Any
 * violated invariant aborts, which libFuzzer reports as a crash.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/local-wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
	if (!ok)
		abort();
}

static int same(const struct local_msg *a, const struct local_msg *b)
{
	return a->type == b->type && a->version == b->version && a->req == b->req &&
	       strcmp(a->ae_id, b->ae_id) == 0 && strcmp(a->key_id, b->key_id) == 0 &&
	       a->key_len == b->key_len && memcmp(a->key, b->key, a->key_len) == 0 &&
	       a->expiry == b->expiry && strcmp(a->suite, b->suite) == 0 && a->event == b->event &&
	       a->code == b->code && strcmp(a->reason, b->reason) == 0 &&
	       strcmp(a->status, b->status) == 0 && strcmp(a->target, b->target) == 0 &&
	       strcmp(a->node_id, b->node_id) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t buf[LOCAL_WIRE_MSG_MAX], buf2[LOCAL_WIRE_MSG_MAX];
	static struct local_msg m, m2;
	size_t len = 0, len2 = 0;
	int r;

	r = local_wire_decode(data, size, &m);
	if (r == -EPROTONOSUPPORT) {
		check(m.version != LOCAL_WIRE_VERSION);
		local_msg_wipe(&m);
		return 0;
	}
	check(r == 0 || r == -EBADMSG);
	if (r < 0)
		return 0;
	check(m.version == LOCAL_WIRE_VERSION);
	check(local_wire_encode(&m, buf, sizeof(buf), &len) == 0);
	check(len == size);
	check(local_wire_decode(buf, len, &m2) == 0);
	check(same(&m, &m2));
	check(local_wire_encode(&m2, buf2, sizeof(buf2), &len2) == 0);
	check(len2 == len && memcmp(buf, buf2, len) == 0);
	/* Every shorter buffer fails cleanly. */
	if (len > 1)
		check(local_wire_encode(&m, buf2, len - 1, &len2) == -EMSGSIZE);
	local_msg_wipe(&m);
	local_msg_wipe(&m2);
	return 0;
}
