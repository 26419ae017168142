/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The BSF store (SQLite): subscribers {IMPI, K, OPc, SQN, AMF} of the BSF's own
 * AuC, and bootstrapping sessions {B-TID, IMPI, RAND, Ks, expiry}. K || OPc and
 * Ks are sealed at rest with AES-256-GCM under the BSF master key
 * (common/crypto.h crypto_seal), the row's IMPI or B-TID bound as additional data
 * so that a blob moved to another row does not open. A sealed check value in
 * the meta table tells a wrong master key (-EKEYREJECTED) from a corrupt file.
 * Nothing here logs; listings never carry key bytes.
 */
#pragma once

#include <stdint.h>

#include "common/secret.h"
#include "gba/btid.h"
#include "gba/zn-json.h"

#define BSF_K_LEN 16
#define BSF_OPC_LEN 16
#define BSF_KS_LEN 32

struct bsf_store;

struct bsf_subscriber {
	char impi[GBA_IMPI_MAX + 1];
	uint64_t sqn; /* the last SQN the AuC used (48 bits) */
	uint8_t amf[2];
	int64_t created;
};

struct bsf_session {
	char btid[GBA_BTID_MAX + 1];
	char impi[GBA_IMPI_MAX + 1];
	uint8_t rand[16];
	int64_t created, expiry; /* epoch seconds */
};

/* Open or create. -EPROTO: not a BSF store; -EKEYREJECTED: wrong master key. */
int bsf_store_open(const char *path, const uint8_t master_key[static 32], struct bsf_store **ret);
void bsf_store_close(struct bsf_store *s);

/* -EEXIST when the IMPI is taken. */
int bsf_store_subscriber_add(struct bsf_store *s, const struct bsf_subscriber *sub,
			     const uint8_t k[static BSF_K_LEN], const uint8_t opc[static BSF_OPC_LEN]);
/* -ENOENT when unknown. ret_k_opc (may be NULL): a new secret of K || OPc (32 bytes). */
int bsf_store_subscriber_get(struct bsf_store *s, const char *impi, struct bsf_subscriber *ret,
			     struct secret **ret_k_opc);
int bsf_store_subscriber_set_sqn(struct bsf_store *s, const char *impi, uint64_t sqn);
/* Deleting a subscriber also deletes its sessions. -ENOENT when unknown. */
int bsf_store_subscriber_delete(struct bsf_store *s, const char *impi);
/* cb for every subscriber in IMPI order; a non-zero return stops with that value. */
int bsf_store_subscriber_foreach(struct bsf_store *s,
				 int (*cb)(const struct bsf_subscriber *sub, void *userdata),
				 void *userdata);

/* Insert or replace the session with this B-TID. */
int bsf_store_session_put(struct bsf_store *s, const struct bsf_session *sess,
			  const uint8_t ks[static BSF_KS_LEN]);
/* -ENOENT when unknown. ret_ks (may be NULL): a new 32-byte secret. */
int bsf_store_session_get(struct bsf_store *s, const char *btid, struct bsf_session *ret,
			  struct secret **ret_ks);
/* Delete sessions with expiry <= now; returns how many. */
int bsf_store_session_purge(struct bsf_store *s, int64_t now);
