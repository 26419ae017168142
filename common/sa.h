/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The security association's key schedule (docs/architecture.md "The key hierarchy",
 * docs/protocol.md "Key derivation"), the same on node and MAS. The PRF is
 * keyed with Km: TPM2_HMAC on the node, software on the MAS.
 *
 *   cb  = Exporter("EXPORTER-Channel-Binding", "", 32)      RFC 9266
 *   X   = Exporter("EXPORTER-oneM2M-Connection", "", 48)    TS-0003 10.3.1
 *   KcID = X[0..15], E = X[16..47]
 *   node proof = KDF(Km, "m2msa node proof", cb || Nn || Nm || node-ID)
 *   MAS proof  = KDF(Km, "m2msa mas proof",  cb || Nn || Nm || node-ID)
 *   Kc         = KDF(Km, "m2msa Kc",      KcID || E || Nn || Nm)
 *   AE root    = KDF(Km, "m2msa AE root", KcID || E || Nn || Nm)
 *   AE key     = KDF(AE root, "m2msa AE key", AE-ID)
 *
 * Key IDs: node "hex(KcID)@FQDN"; AE "hex(KcID)-AE-ID@FQDN" (32 lowercase hex
 * digits, so the AE-ID and the association are found from the ID alone).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "common/kdf.h"
#include "common/wire.h"

#define SA_LABEL_CB "EXPORTER-Channel-Binding"
#define SA_LABEL_X "EXPORTER-oneM2M-Connection"
#define SA_CB_LEN 32
#define SA_X_LEN 48
#define SA_KCID_LEN 16

struct sa_binding {
	uint8_t cb[SA_CB_LEN];
	uint8_t x[SA_X_LEN];
};

struct WOLFSSL;
/* Fill b from an established TLS 1.3 session (both exporters). */
int sa_binding_from_tls(struct WOLFSSL *ssl, struct sa_binding *ret);
void sa_binding_wipe(struct sa_binding *b);

enum sa_proof_role {
	SA_PROOF_NODE,
	SA_PROOF_MAS,
	_SA_PROOF_ROLE_MAX,
};

int sa_proof(const struct kdf_prf *km, enum sa_proof_role role, const struct sa_binding *b,
	     const uint8_t nn[static WIRE_NONCE_LEN], const uint8_t nm[static WIRE_NONCE_LEN],
	     const char *node_id, uint8_t out[static KDF_OUT_LEN]);
int sa_kc(const struct kdf_prf *km, const struct sa_binding *b,
	  const uint8_t nn[static WIRE_NONCE_LEN], const uint8_t nm[static WIRE_NONCE_LEN],
	  uint8_t out[static KDF_OUT_LEN]);
int sa_ae_root(const struct kdf_prf *km, const struct sa_binding *b,
	       const uint8_t nn[static WIRE_NONCE_LEN], const uint8_t nm[static WIRE_NONCE_LEN],
	       uint8_t out[static KDF_OUT_LEN]);
int sa_ae_key(const uint8_t ae_root[static KDF_OUT_LEN], const char *ae_id,
	      uint8_t out[static KDF_OUT_LEN]);
void sa_kcid(const struct sa_binding *b, uint8_t out[static SA_KCID_LEN]);

/* ae_id NULL or "" for the node's key ID. -ENAMETOOLONG, -EINVAL for bad IDs. */
int sa_key_id_format(const uint8_t kcid[static SA_KCID_LEN], const char *ae_id, const char *fqdn,
		     char *buf, size_t buf_len);
/*
 * Parse a key ID; ret_ae_id gets "" for a node key ID. Buffers of
 * WIRE_ID_MAX + 1 and WIRE_KEY_ID_MAX + 1 bytes. -EINVAL when malformed.
 */
int sa_key_id_parse(const char *key_id, uint8_t ret_kcid[static SA_KCID_LEN],
		    char ret_ae_id[static WIRE_ID_MAX + 1], char ret_fqdn[static WIRE_KEY_ID_MAX + 1]);

/*
 * Method pki (docs/protocol.md "Method pki"): both ends authenticated by
 * certificates in the TLS handshake, so the keys come from the session alone:
 *   KcID = X[0..15], Kc = X[16..47]                                   TS-0003 10.3.1
 *   AE root = Exporter("EXPORTER-m2msa-pki-AE-root", "", 32)  (independent of Kc)
 *   node / MAS confirmation = sa_proof() with the PRF keyed by Kc
 */
#define SA_LABEL_PKI_AE_ROOT "EXPORTER-m2msa-pki-AE-root"
void sa_pki_kc(const struct sa_binding *b, uint8_t out[static KDF_OUT_LEN]);
int sa_pki_ae_root(struct WOLFSSL *ssl, uint8_t out[static KDF_OUT_LEN]);

/* The TLS suite the node uses with the IN-CSE (method parameter). */
#define SA_SUITE_PSK "TLS13-AES128-GCM-SHA256"
#define SA_SUID 32
