/* SPDX-License-Identifier: Apache-2.0 */
/* Reading 32-byte keys given as raw bytes or hex digits (master key, Km files). */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "mas/keyfile.h"

/* More than either form may hold, so an over-long file is detected. */
#define KEY_FILE_MAX 256

/* Value of one hex digit, or -1; no table indexed by the (secret) digit. */
static int hex_nibble(uint8_t c)
{
	int d = -1;

	d = (c >= '0' && c <= '9') ? c - '0' : d;
	d = (c >= 'a' && c <= 'f') ? c - 'a' + 10 : d;
	d = (c >= 'A' && c <= 'F') ? c - 'A' + 10 : d;
	return d;
}

static bool is_space(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int mas_key_parse(const uint8_t *buf, size_t len, uint8_t out[static MAS_KEY_LEN])
{
	_cleanup_key32_ struct key32 k = { { 0 } };
	bool bad = false;

	if (len == MAS_KEY_LEN) {
		memcpy(out, buf, MAS_KEY_LEN);
		return 0;
	}
	if (len < 2 * MAS_KEY_LEN)
		return -EINVAL;
	for (size_t i = 2 * MAS_KEY_LEN; i < len; i++)
		if (!is_space(buf[i]))
			return -EINVAL;
	for (size_t i = 0; i < MAS_KEY_LEN; i++) {
		int hi = hex_nibble(buf[2 * i]), lo = hex_nibble(buf[2 * i + 1]);

		bad |= hi < 0 || lo < 0;
		k.b[i] = (uint8_t)(((unsigned)hi << 4) | ((unsigned)lo & 0xf));
	}
	if (bad)
		return -EINVAL;
	memcpy(out, k.b, MAS_KEY_LEN);
	return 0;
}

int mas_key_read_fd(int fd, struct secret **ret)
{
	uint8_t buf[KEY_FILE_MAX + 1];
	struct secret *s = NULL;
	size_t len = 0;
	int r;

	while (len < sizeof(buf)) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	r = -EINVAL;
	if (len > KEY_FILE_MAX)
		goto out;
	r = secret_new(MAS_KEY_LEN, &s);
	if (r < 0)
		goto out;
	r = mas_key_parse(buf, len, s->data);
	if (r < 0) {
		secret_free(s);
		goto out;
	}
	*ret = s;
out:
	secret_wipe(buf, sizeof(buf));
	return r;
}

void mas_key_to_hex(const uint8_t key[static MAS_KEY_LEN], char out[static 2 * MAS_KEY_LEN + 1])
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < MAS_KEY_LEN; i++) {
		out[2 * i] = digits[key[i] >> 4];
		out[2 * i + 1] = digits[key[i] & 0xf];
	}
	out[2 * MAS_KEY_LEN] = '\0';
}
