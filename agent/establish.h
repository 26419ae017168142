/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node's side of the establishment exchange (docs/protocol.md): TLS 1.3 to
 * the MAS, Hello / Challenge / Proof / Established, with every use of Km going
 * through the caller's PRF (the TPM keystore in m2msad and m2msactl). The MAS
 * proof is checked in constant time before any key is derived. The result is
 * the seed's four outputs: SecureConnectionID (key ID), Kc, lifetime (expiry),
 * method and parameters (suite).
 */
#pragma once

#include <stdint.h>

#include "common/err.h"
#include "common/kdf.h"
#include "common/sa.h"
#include "common/secret.h"
#include "common/tls.h"
#include "common/wire.h"

struct establish_params {
	const char *mas_address; /* host:port */
	const char *server_name; /* the name the MAS certificate must carry */
	const char *node_id;
	const uint8_t *methods; /* offered, in preference order */
	size_t n_methods;
	int timeout_ms; /* per network step */
	/*
	 * Method gba (offered in methods): the B-TID HELLO carries (protocol version 2),
	 * the PRF of Km = Ks_NAF (the gba slot's TPM key) and its expiry: Kc never
	 * outlives it (the result's expiry is capped there too).
	 */
	const char *btid;
	const struct kdf_prf *gba_km;
	uint64_t gba_expiry;
	/*
	 * End-to-end keys (docs/protocol.md §14): NULL for an establishment, else a
	 * PEER_REGISTER or PEER_RESOLVE sent in place of PROOF (its proof is filled
	 * by the op); the answer is PEER_KEY, returned in the result (below).
	 */
	const struct wire_msg *peer_request;
};

struct establish_result {
	char key_id[WIRE_KEY_ID_MAX + 1];
	uint8_t kcid[SA_KCID_LEN];
	struct secret *kc;      /* 32 bytes */
	struct secret *ae_root; /* 32 bytes: per-AE keys are derived from it */
	uint64_t expiry;	/* epoch seconds */
	uint8_t method;
	char suite[WIRE_SUITE_MAX + 1];
	/*
	 * With a peer_request: kc holds the pairwise key, key_id its ID, expiry its
	 * expiry; ae_root is NULL and suite empty; the registration's originator and
	 * target are here.
	 */
	char peer_node_id[WIRE_ID_MAX + 1];
	char peer_ae_id[WIRE_ID_MAX + 1];
	char peer_target[WIRE_TARGET_MAX + 1];
};

/*
 * Run one establishment, blocking (establish_op_* in a poll loop). ctx is a client context from tls_client_ctx_new() with
 * the MAS CA (reuse it across runs); when the node offers pki, one from
 * tls_client_ctx_new_signer() that presents the node certificate with the TPM
 * signing key (it serves psk too). km may be NULL when psk is not offered.
 * Method pki: Kc and KcID come from the TLS exporter (TS-0003 10.3.1), the
 * PROOF/ESTABLISHED pair confirms them (docs/protocol.md "Method pki").
 * Returns 0 and fills ret, or -errno and err:
 *   -ECONNREFUSED/-ETIMEDOUT/-EHOSTUNREACH  MAS unreachable
 *   -EPERM           the MAS certificate did not verify (CA or server name)
 *   -ENOENT          unknown node           (WIRE_ERR_UNKNOWN_NODE)
 *   -EKEYREVOKED     node revoked           (WIRE_ERR_REVOKED)
 *   -EKEYREJECTED    proof refused: wrong Km (WIRE_ERR_AUTH_FAILED); for pki: the
 *                    MAS refused the node certificate (TLS alert: other CA, expired)
 *                    or it names another node
 *   -EPROTONOSUPPORT no common method / version
 *   -EBUSY           rate limited
 *   -EBADMSG         the MAS proof did not verify, or a malformed answer
 *   other -errno     from the PRF (the TPM) or the system
 */
int establish_run(WOLFSSL_CTX *ctx, const struct establish_params *p, const struct kdf_prf *km,
		  struct establish_result *ret, struct m2msa_err *err);

/*
 * The same exchange as a non-blocking state machine, for an event loop: each
 * establish_op_step() does at most one network read/write burst and, when a
 * message arrives, the TPM commands it needs (one HMAC for the proof; three when
 * Established arrives: MAS proof, Kc, AE root). Strings and km in p are copied
 * or borrowed as noted; ctx and km must outlive the op.
 */
struct establish_op;

/* Start: resolve and begin a non-blocking connect. */
/*
 * Should the node bootstrap again after this failed establishment? Yes when the
 * MAS refused a proof made with Ks_NAF (auth-failed or rate-limited after a gba
 * CHALLENGE: the MAS answers an unknown or expired B-TID exactly so, to tell
 * strangers nothing; docs/protocol.md §5), or said expired (MAS of 0.2).
 */
bool establish_gba_refused(const struct m2msa_err *err);

int establish_op_new(WOLFSSL_CTX *ctx, const struct establish_params *p, const struct kdf_prf *km,
		     struct establish_op **ret, struct m2msa_err *err);
int establish_op_fd(const struct establish_op *op);
/* POLLIN and/or POLLOUT: what the op waits for. */
short establish_op_events(const struct establish_op *op);
/*
 * Advance after the fd became ready (or spuriously). -EAGAIN: wait for
 * establish_op_events() again. 0: done, the result is moved into *ret.
 * Other -errno: failed, as establish_run(), with err filled.
 */
int establish_op_step(struct establish_op *op, struct establish_result *ret,
		      struct m2msa_err *err);
/* Close the connection and wipe everything; NULL is fine. */
void establish_op_free(struct establish_op *op);

/* Wipe and free the keys in r and zero it. */
void establish_result_clear(struct establish_result *r);

/* The -errno establish_run() returns for a MAS error code. */
int establish_errno_from_wire(uint32_t code);
