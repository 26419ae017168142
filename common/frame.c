/* SPDX-License-Identifier: Apache-2.0 */
/* Blocking length-prefixed wire frames over wolfSSL. */
#include <errno.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "common/frame.h"
#include "common/secret.h"
#include "common/tls.h"

int frame_set_timeouts(int fd, int timeout_ms)
{
	struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };

	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
		return -errno;
	return 0;
}

static int io_error(WOLFSSL *ssl, int ret, char *err, size_t err_len)
{
	int e = wolfSSL_get_error(ssl, ret);

	/* With SO_RCVTIMEO a timed-out read surfaces as WANT_READ. */
	if (e == WOLFSSL_ERROR_WANT_READ || e == WOLFSSL_ERROR_WANT_WRITE) {
		snprintf(err, err_len, "timed out waiting for the peer");
		return -ETIMEDOUT;
	}
	return tls_error(ssl, ret, err, err_len);
}

int frame_send(WOLFSSL *ssl, const struct wire_msg *m, char *err, size_t err_len)
{
	uint8_t buf[WIRE_PREFIX_LEN + WIRE_FRAME_MAX];
	size_t len;
	int r;

	r = wire_encode(m, buf, sizeof(buf), &len);
	if (r < 0) {
		snprintf(err, err_len, "cannot encode %s message", wire_msg_type_to_string(m->type));
		goto out;
	}
	r = wolfSSL_write(ssl, buf, (int)len);
	if (r != (int)len)
		r = io_error(ssl, r, err, err_len);
	else
		r = 0;
out:
	secret_wipe(buf, sizeof(buf));
	return r;
}

static int read_full(WOLFSSL *ssl, uint8_t *p, size_t len, char *err, size_t err_len)
{
	while (len > 0) {
		int n = wolfSSL_read(ssl, p, (int)len);

		if (n <= 0)
			return io_error(ssl, n, err, err_len);
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int frame_recv(WOLFSSL *ssl, struct wire_msg *ret, char *err, size_t err_len)
{
	uint8_t buf[WIRE_FRAME_MAX];
	int r, len;

	r = read_full(ssl, buf, WIRE_PREFIX_LEN, err, err_len);
	if (r < 0)
		return r;
	len = wire_frame_length(buf);
	if (len < 0) {
		snprintf(err, err_len, "peer sent a frame of invalid length");
		return len;
	}
	r = read_full(ssl, buf, (size_t)len, err, err_len);
	if (r == 0) {
		r = wire_decode(buf, (size_t)len, ret);
		if (r < 0)
			snprintf(err, err_len, "peer sent a malformed message");
	}
	secret_wipe(buf, sizeof(buf));
	return r;
}
