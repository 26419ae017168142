/* SPDX-License-Identifier: Apache-2.0 */
/* Whole small files: atomic and exclusive writes, size-limited reads (see fileio.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fileio.h"
#include "common/util.h"

/* Write all of data to fd, set its mode and fsync it. */
static int write_all(int fd, const void *data, size_t len, mode_t mode)
{
	const uint8_t *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	if (fchmod(fd, mode) < 0 || fsync(fd) < 0)
		return -errno;
	return 0;
}

/* Write fd (which is path), close it, and remove path if anything failed. */
static int finish(int fd, const char *path, const void *data, size_t len, mode_t mode)
{
	int r = write_all(fd, data, len, mode);

	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r < 0)
		(void)unlink(path);
	return r;
}

int fileio_write_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	_cleanup_free_ char *tmp = NULL;
	const char *slash = strrchr(path, '/');
	int fd, r;

	/* A hidden name next to path, so rename stays within one file system. */
	if (asprintf(&tmp, "%.*s.%s.XXXXXX", slash ? (int)(slash - path + 1) : 0, path,
		     slash ? slash + 1 : path) < 0)
		return -ENOMEM;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = finish(fd, tmp, data, len, mode);
	if (r < 0)
		return r;
	if (rename(tmp, path) < 0) {
		r = -errno;
		(void)unlink(tmp);
	}
	return r;
}

int fileio_write_exclusive(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);

	if (fd < 0)
		return -errno;
	return finish(fd, path, data, len, mode);
}

/* Read fd into buf until end of file; -EFBIG if it holds more than size bytes. */
static int read_all(int fd, uint8_t *buf, size_t size, size_t *ret_len)
{
	size_t n = 0;

	for (;;) {
		uint8_t extra;
		ssize_t k = n < size ? read(fd, buf + n, size - n) : read(fd, &extra, 1);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			break;
		if (n == size)
			return -EFBIG;
		n += (size_t)k;
	}
	*ret_len = n;
	return 0;
}

int fileio_read_fd(int fd, uint8_t *buf, size_t size, size_t *ret_len)
{
	int r = read_all(fd, buf, size, ret_len);

	if (r < 0)
		explicit_bzero(buf, size);
	return r;
}

int fileio_read(const char *path, uint8_t *buf, size_t size, size_t *ret_len)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return -errno;
	return fileio_read_fd(fd, buf, size, ret_len);
}

int fileio_read_alloc(const char *path, size_t max, uint8_t **ret, size_t *ret_len)
{
	uint8_t *buf = malloc(max ? max : 1);
	int r;

	if (!buf)
		return -ENOMEM;
	r = fileio_read(path, buf, max, ret_len);
	if (r < 0) {
		free(buf);
		return r;
	}
	*ret = buf;
	return 0;
}
