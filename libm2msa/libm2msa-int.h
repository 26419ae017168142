/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libm2msa's internals shared between its source files (libm2msa/libm2msa.c, the
 * connection and key objects; libm2msa/libm2msa-peer.c, end-to-end keys). Not
 * exported: the version script exports m2msa_* only.
 */
#pragma once

#include <m2msa/m2msa.h>

#include "common/crypto.h"
#include "common/local-wire.h"

/*
 * Send req and wait for the answer with its number; events that arrive meanwhile
 * are queued. On a lost connection: reconnect once and send again. An ERROR
 * answer is -errno with m2msa_last_error() set.
 */
int libm2msa_request(struct m2msa *h, struct local_msg *req, struct local_msg *ret);
/* A key object from a KEY, EVENT or PEER_KEY message; NULL when out of memory. */
struct m2msa_key *libm2msa_key_new(const struct local_msg *m);
/*
 * The key's HMAC-SHA256 pads (crypto_hmac_key), computed once when the object is
 * made, for the per-message sessionESPrimKey; NULL for a key without 32 bytes.
 */
const struct crypto_hmac_key *libm2msa_key_hmac(const struct m2msa_key *k);
