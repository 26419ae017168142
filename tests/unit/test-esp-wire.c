/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ESP agreement codec (common/esp-wire.c): exact encodings, round trips and
 * the strict decoder's refusals. The expected bytes are written by hand from
 * RFC 8949 3 (major types 0, 3, 5) and 4.2.1 (shortest heads, ascending keys),
 * independently of libcbor.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "common/esp-wire.h"
#include "hex.h"

/* OFFER, SPI 0xc0000001, transport, TCP, node port any, target port 443. */
#define OFFER_HEX "00000015" "a7" "0001" "0101" "021ac0000001" "0301" "0406" "0500" "061901bb"
/* ERROR, code 3 (selectors-refused), reason "no". */
#define ERROR_HEX "0000000b" "a4" "0003" "0101" "0703" "08626e6f"

static struct esp_msg offer(void)
{
	return (struct esp_msg){ .type = ESP_MSG_OFFER,
				 .spi = 0xc0000001,
				 .sel = { .mode = ESP_MODE_TRANSPORT,
					  .proto = IPPROTO_TCP,
					  .target_port = 443 } };
}

static int dec_hex(const char *hex, struct esp_msg *ret)
{
	uint8_t buf[ESP_WIRE_BODY_MAX + 8];
	int n = unhex(hex, buf, sizeof(buf));

	cr_assert_geq(n, 0, "bad hex in the test");
	return esp_wire_decode(buf, (size_t)n, ret);
}

static void expect_encoding(const struct esp_msg *m, const char *hex)
{
	uint8_t want[64], got[64];
	size_t n = 0;
	int wn = unhex(hex, want, sizeof(want));

	cr_assert_eq(esp_wire_encode(m, got, sizeof(got), &n), 0);
	cr_assert_eq(n, (size_t)wn, "length %zu, want %d", n, wn);
	cr_assert_arr_eq(got, want, n);
}

Test(esp_wire, offer_exact_bytes)
{
	struct esp_msg m = offer();

	expect_encoding(&m, OFFER_HEX);
}

Test(esp_wire, error_exact_bytes)
{
	struct esp_msg m = { .type = ESP_MSG_ERROR, .code = ESP_ERR_SELECTORS };

	snprintf(m.reason, sizeof(m.reason), "no");
	expect_encoding(&m, ERROR_HEX);
}

Test(esp_wire, offer_decodes)
{
	struct esp_msg m;

	cr_assert_eq(dec_hex(&OFFER_HEX[8], &m), 0);
	cr_assert_eq(m.type, ESP_MSG_OFFER);
	cr_assert_eq(m.spi, 0xc0000001u);
	cr_assert_eq(m.sel.mode, ESP_MODE_TRANSPORT);
	cr_assert_eq(m.sel.proto, IPPROTO_TCP);
	cr_assert_eq(m.sel.node_port, 0);
	cr_assert_eq(m.sel.target_port, 443);
}

Test(esp_wire, keys_in_any_order_decode)
{
	struct esp_msg m;

	/* The OFFER map with its pairs reversed. */
	cr_assert_eq(dec_hex("a7" "061901bb" "0500" "0406" "0301" "021ac0000001" "0101" "0001", &m), 0);
	cr_assert_eq(m.spi, 0xc0000001u);
	cr_assert_eq(m.sel.target_port, 443);
}

Test(esp_wire, accept_round_trip_tunnel_whole_host)
{
	struct esp_msg m = { .type = ESP_MSG_ACCEPT, .spi = 0xcfffffff,
			     .sel = { .mode = ESP_MODE_TUNNEL } }, back;
	uint8_t buf[64];
	size_t n = 0, body = 0;

	cr_assert_eq(esp_wire_encode(&m, buf, sizeof(buf), &n), 0);
	cr_assert_eq(esp_wire_prefix_len(buf, &body), 0);
	cr_assert_eq(body + ESP_WIRE_PREFIX_LEN, n);
	cr_assert_eq(esp_wire_decode(buf + ESP_WIRE_PREFIX_LEN, body, &back), 0);
	cr_assert_eq(back.type, ESP_MSG_ACCEPT);
	cr_assert_eq(back.spi, 0xcfffffffu);
	cr_assert(esp_selectors_equal(&back.sel, &m.sel));
}

Test(esp_wire, refusals)
{
	struct esp_msg m;

	/* Truncated. */
	cr_assert_eq(dec_hex("a70001010102", &m), -EBADMSG);
	/* Missing target_port. */
	cr_assert_eq(dec_hex("a6" "0001" "0101" "021ac0000001" "0301" "0406" "0500", &m), -EBADMSG);
	/* Duplicate key. */
	cr_assert_eq(dec_hex("a8" "0001" "0101" "021ac0000001" "0301" "0406" "0500" "061901bb" "0500", &m),
		     -EBADMSG);
	/* Unknown key 9. */
	cr_assert_eq(dec_hex("a8" "0001" "0101" "021ac0000001" "0301" "0406" "0500" "061901bb" "0900", &m),
		     -EBADMSG);
	/* Non-shortest head for the SPI-less key (0x18 0x01 for 1). */
	cr_assert_eq(dec_hex("a7" "001801" "0101" "021ac0000001" "0301" "0406" "0500" "061901bb", &m),
		     -EBADMSG);
	/* SPI 255 is reserved (RFC 4303 2.1). */
	cr_assert_eq(dec_hex("a7" "0001" "0101" "0218ff" "0301" "0406" "0500" "061901bb", &m), -EBADMSG);
	/* SPI above 32 bits. */
	cr_assert_eq(dec_hex("a7" "0001" "0101" "021b0000000100000000" "0301" "0406" "0500" "0600", &m),
		     -EBADMSG);
	/* Unknown mode 3. */
	cr_assert_eq(dec_hex("a7" "0001" "0101" "021ac0000001" "0303" "0406" "0500" "0600", &m), -EBADMSG);
	/* Ports with ICMP (1). */
	cr_assert_eq(dec_hex("a7" "0001" "0101" "021ac0000001" "0301" "0401" "0500" "061901bb", &m),
		     -EBADMSG);
	/* Port above 16 bits. */
	cr_assert_eq(dec_hex("a7" "0001" "0101" "021ac0000001" "0301" "0406" "0500" "061a00010000", &m),
		     -EBADMSG);
	/* Error keys in an OFFER. */
	cr_assert_eq(dec_hex("a4" "0001" "0101" "0703" "08626e6f", &m), -EBADMSG);
	/* Error code 0. */
	cr_assert_eq(dec_hex("a4" "0003" "0101" "0700" "08626e6f", &m), -EBADMSG);
	/* NUL in the reason. */
	cr_assert_eq(dec_hex("a4" "0003" "0101" "0703" "08626e00", &m), -EBADMSG);
	/* Unknown type. */
	cr_assert_eq(dec_hex("a2" "0004" "0101", &m), -EBADMSG);
	/* Trailing byte. */
	cr_assert_eq(dec_hex("a4" "0003" "0101" "0703" "08626e6f" "00", &m), -EBADMSG);
	/* Empty. */
	cr_assert_eq(esp_wire_decode((const uint8_t *)"", 0, &m), -EBADMSG);
}

Test(esp_wire, other_version_is_reported)
{
	struct esp_msg m;

	cr_assert_eq(dec_hex("a2" "0001" "0102", &m), -EPROTONOSUPPORT);
	cr_assert_eq(m.version, 2);
	cr_assert_eq(m.type, ESP_MSG_OFFER);
}

Test(esp_wire, encoder_refuses_what_would_not_decode)
{
	struct esp_msg m = offer();
	uint8_t buf[64];
	size_t n = 0;

	m.spi = 255;
	cr_assert_eq(esp_wire_encode(&m, buf, sizeof(buf), &n), -EINVAL);
	m = offer();
	m.sel.proto = IPPROTO_ICMP;
	cr_assert_eq(esp_wire_encode(&m, buf, sizeof(buf), &n), -EINVAL);
	m = offer();
	m.sel.mode = 0;
	cr_assert_eq(esp_wire_encode(&m, buf, sizeof(buf), &n), -EINVAL);
	m = (struct esp_msg){ .type = ESP_MSG_ERROR, .code = 0 };
	cr_assert_eq(esp_wire_encode(&m, buf, sizeof(buf), &n), -EINVAL);
	m = offer();
	cr_assert_eq(esp_wire_encode(&m, buf, 20, &n), -EMSGSIZE);
	cr_assert_eq(esp_wire_encode(&m, buf, 3, &n), -EMSGSIZE);
}

Test(esp_wire, prefix_bounds)
{
	const uint8_t zero[4] = { 0, 0, 0, 0 }, big[4] = { 0, 0, 2, 1 }, ok[4] = { 0, 0, 2, 0 };
	size_t n = 7;

	cr_assert_eq(esp_wire_prefix_len(zero, &n), -EMSGSIZE);
	cr_assert_eq(esp_wire_prefix_len(big, &n), -EMSGSIZE);
	cr_assert_eq(n, 7);
	cr_assert_eq(esp_wire_prefix_len(ok, &n), 0);
	cr_assert_eq(n, 512);
}

Test(esp_wire, key_layout)
{
	uint8_t keymat[ESP_WIRE_KEYMAT_LEN], a[ESP_WIRE_SA_KEY_LEN], b[ESP_WIRE_SA_KEY_LEN];

	for (size_t i = 0; i < sizeof(keymat); i++)
		keymat[i] = (uint8_t)i;
	esp_wire_split_keys(keymat, a, b);
	cr_assert_eq(a[0], 0);
	cr_assert_eq(a[19], 19);
	cr_assert_eq(b[0], 20);
	cr_assert_eq(b[19], 39);
}
