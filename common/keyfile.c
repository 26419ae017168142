/* SPDX-License-Identifier: Apache-2.0 */
/* 32-byte key files (raw bytes or hex digits): Km files, and the master key file of the MAS and the BSF. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/crypto.h"
#include "common/fileio.h"
#include "common/hex.h"
#include "common/keyfile.h"

/* More than either form may hold, so an over-long file is detected. */
#define KEY_FILE_MAX 256

static bool is_space(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int keyfile_parse(const uint8_t *buf, size_t len, uint8_t out[static KEYFILE_KEY_LEN])
{
	_cleanup_key32_ struct key32 k = { { 0 } };

	if (len == KEYFILE_KEY_LEN) {
		memcpy(out, buf, KEYFILE_KEY_LEN);
		return 0;
	}
	if (len < 2 * KEYFILE_KEY_LEN)
		return -EINVAL;
	for (size_t i = 2 * KEYFILE_KEY_LEN; i < len; i++)
		if (!is_space(buf[i]))
			return -EINVAL;
	if (hex_decode((const char *)buf, KEYFILE_KEY_LEN, k.b) < 0)
		return -EINVAL;
	memcpy(out, k.b, KEYFILE_KEY_LEN);
	return 0;
}

int keyfile_read_fd(int fd, struct secret **ret)
{
	uint8_t buf[KEY_FILE_MAX];
	struct secret *s = NULL;
	size_t len = 0;
	int r;

	r = fileio_read_fd(fd, buf, sizeof(buf), &len);
	if (r == -EFBIG)
		r = -EINVAL; /* longer than any key file */
	if (r < 0)
		goto out;
	r = secret_new(KEYFILE_KEY_LEN, &s);
	if (r < 0)
		goto out;
	r = keyfile_parse(buf, len, s->data);
	if (r < 0) {
		secret_free(s);
		goto out;
	}
	*ret = s;
out:
	secret_wipe(buf, sizeof(buf));
	return r;
}

void keyfile_to_hex(const uint8_t key[static KEYFILE_KEY_LEN], char out[static 2 * KEYFILE_KEY_LEN + 1])
{
	hex_encode(key, KEYFILE_KEY_LEN, out);
}

int keyfile_master_load(const char *path, struct secret **ret)
{
	_cleanup_close_ int fd = -1;
	struct stat st;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if (st.st_mode & (S_IRWXG | S_IRWXO))
		return -EPERM;
	return keyfile_read_fd(fd, ret);
}

int keyfile_master_create(const char *path)
{
	_cleanup_key32_ struct key32 k = { { 0 } };
	char hex[2 * KEYFILE_KEY_LEN + 1];
	int r;

	r = crypto_random(k.b, sizeof(k.b));
	if (r < 0)
		return r;
	keyfile_to_hex(k.b, hex);
	hex[2 * KEYFILE_KEY_LEN] = '\n';
	r = fileio_write_exclusive(path, hex, sizeof(hex), 0600);
	secret_wipe(hex, sizeof(hex));
	return r;
}
