/* SPDX-License-Identifier: Apache-2.0 */
/* m2msactl's key files: raw bytes or hex digits, read whole (see ctl-keyfile.h). */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "m2msactl/ctl-keyfile.h"
#include "common/fileio.h"
#include "common/hex.h"

static bool is_space(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

int ctl_key_file_read(const char *path, struct secret **ret, size_t *ret_len)
{
	_cleanup_secret_ struct secret *buf = NULL;
	size_t len = 0;
	int r;

	r = secret_new(CTL_KEY_FILE_MAX, &buf);
	if (r < 0)
		return r;
	if (strcmp(path, "-") == 0)
		r = fileio_read_fd(STDIN_FILENO, buf->data, buf->len, &len);
	else
		r = fileio_read(path, buf->data, buf->len, &len);
	if (r < 0)
		return r;
	*ret = buf;
	buf = NULL;
	*ret_len = len;
	return 0;
}

int ctl_key_parse(const uint8_t *buf, size_t len, uint8_t *out, size_t n,
		  size_t *ret_hex_digits)
{
	_cleanup_secret_ struct secret *digits = NULL;
	size_t count = 0;
	int r;

	/* The text without its whitespace (a copy of key material: wiped when done). */
	r = secret_new(len + 1, &digits);
	if (r < 0)
		return r;
	for (size_t i = 0; i < len; i++)
		if (!is_space(buf[i]))
			digits->data[count++] = buf[i];
	digits->data[count] = '\0';
	if (count == 2 * n && hex_decode((const char *)digits->data, n, out) == 0)
		return 0;
	if (len == n) {
		memcpy(out, buf, n);
		return 0;
	}
	*ret_hex_digits =
		strspn((const char *)digits->data, "0123456789abcdefABCDEF") == count ? count : 0;
	return -EINVAL;
}
