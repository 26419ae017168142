/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Small whole files: written atomically (readers see the old file or the new one,
 * never part of one), written exclusively (never over an existing file), and read
 * whole with a size limit. Every fd is O_CLOEXEC; the writers never follow a
 * symbolic link at path and leave nothing behind when they fail. Nothing here
 * prints; errors are -errno.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Replace path with data: a new file in path's folder, written, chmod'ed to mode,
 * fsync'ed and renamed over path. On error path is untouched and the new file removed.
 */
int fileio_write_atomic(const char *path, const void *data, size_t len, mode_t mode);
/*
 * Create path with data and mode, fsync'ed; -EEXIST if path exists (a symbolic
 * link included). On error the file is removed again.
 */
int fileio_write_exclusive(const char *path, const void *data, size_t len, mode_t mode);
/*
 * Read the whole of path into buf (size bytes): the length in *ret_len. -EFBIG if
 * the file holds more than size bytes; on any error buf is wiped (it may hold a key).
 */
int fileio_read(const char *path, uint8_t *buf, size_t size, size_t *ret_len);
/* As fileio_read, from an open fd (standard input, say) to its end; fd stays open. */
int fileio_read_fd(int fd, uint8_t *buf, size_t size, size_t *ret_len);
/* As fileio_read, into a new buffer of at most max bytes (caller frees). */
int fileio_read_alloc(const char *path, size_t max, uint8_t **ret, size_t *ret_len);
