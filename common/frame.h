/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Blocking send/receive of one length-prefixed wire message over a TLS session
 * (clients: the node's establishment, the IN-CSE's key retrieval). The MAS uses
 * its own non-blocking reader. Timeouts come from the socket (SO_RCVTIMEO).
 */
#pragma once

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include "common/wire.h"

/* Encode and write m. Returns 0 or -errno (message in err). */
int frame_send(WOLFSSL *ssl, const struct wire_msg *m, char *err, size_t err_len);
/*
 * Read one frame and decode it into ret. -ECONNRESET when the peer closed,
 * -ETIMEDOUT, -EBADMSG / -EMSGSIZE / -EPROTONOSUPPORT for bad frames.
 */
int frame_recv(WOLFSSL *ssl, struct wire_msg *ret, char *err, size_t err_len);
/* Set send and receive timeouts on a socket, in milliseconds. */
int frame_set_timeouts(int fd, int timeout_ms);
