/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness for the ESP agreement codec (common/esp-wire.c), the
 * decoder m2msa-espd runs on what a node sends after the PSK handshake and
 * m2msad runs on the answer: decode any input; whatever decodes must
 * re-encode to exactly the input's length, decode again to the same fields,
 * and re-encode to the same bytes. Any violated invariant aborts.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/esp-wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
	if (!ok)
		abort();
}

static int same(const struct esp_msg *a, const struct esp_msg *b)
{
	return a->type == b->type && a->version == b->version && a->spi == b->spi &&
	       esp_selectors_equal(&a->sel, &b->sel) && a->code == b->code &&
	       strcmp(a->reason, b->reason) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t buf[ESP_WIRE_PREFIX_LEN + ESP_WIRE_BODY_MAX];
	static uint8_t buf2[ESP_WIRE_PREFIX_LEN + ESP_WIRE_BODY_MAX];
	struct esp_msg m, m2;
	size_t len = 0, len2 = 0, body = 0;
	int r;

	r = esp_wire_decode(data, size, &m);
	if (r == -EPROTONOSUPPORT) {
		check(m.version != ESP_WIRE_VERSION);
		return 0;
	}
	check(r == 0 || r == -EBADMSG);
	if (r < 0)
		return 0;
	check(esp_wire_encode(&m, buf, sizeof(buf), &len) == 0);
	check(len == size + ESP_WIRE_PREFIX_LEN);
	check(esp_wire_prefix_len(buf, &body) == 0 && body == size);
	check(esp_wire_decode(buf + ESP_WIRE_PREFIX_LEN, body, &m2) == 0);
	check(same(&m, &m2));
	check(esp_wire_encode(&m2, buf2, sizeof(buf2), &len2) == 0);
	check(len2 == len && memcmp(buf, buf2, len) == 0);
	check(esp_wire_encode(&m, buf2, len - 1, &len2) == -EMSGSIZE);
	return 0;
}
