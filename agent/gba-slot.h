/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node's Km slot for method gba, next to (never over) the psk Km:
 *
 *   state_dir/gba/km.pub, km.priv, node.conf   Ks_NAF as the Km object (tpm_provision:
 *                                              KEYEDHASH HMAC-SHA256, imported over a
 *                                              salted, parameter-encrypted session)
 *   state_dir/gba/bootstrap                    btid=, expiry= (epoch s), impi=, naf=
 *
 * A new bootstrap is written whole into state_dir/gba.new and then swapped with
 * state_dir/gba in one renameat2(RENAME_EXCHANGE), so a crash leaves either the
 * old slot or the new one, never blobs of one with the B-TID of the other.
 * Ks_NAF is wiped by gba_slot_store() (the caller's result) once in the TPM.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "gba/btid.h"
#include "usim/usim.h"

struct tpm_ctx;
struct tpm_key;
struct gba_ub_result;

#define GBA_SLOT_DIR "gba"
#define GBA_SLOT_INFO_FILE "bootstrap"
#define GBA_SLOT_KM_ID "gba-ks-naf" /* node.conf's km_id; the B-TID is in the info file */
#define GBA_SLOT_INFO_MAX 1024

struct gba_slot {
	char btid[GBA_BTID_MAX + 1];
	int64_t expiry; /* Ks (and so Ks_NAF) expiry, epoch seconds */
	char impi[USIM_IMPI_MAX + 1];
	char naf[256];
};

/*
 * Import res->ks_naf into the TPM as the gba Km of node_id and record the
 * bootstrap; res->ks_naf is wiped whatever happens. 0, or -errno with err.
 */
int gba_slot_store(struct tpm_ctx *t, const char *state_dir, const char *node_id,
		   struct gba_ub_result *res, const char *impi, const char *naf, char *err,
		   size_t err_len);

/*
 * The info file's text (len bytes): exactly the lines btid= (a B-TID), expiry=
 * (epoch seconds > 0), impi= (an IMPI), naf= (a DNS name), each once, in any
 * order. -EBADMSG for anything else; ret written only on success.
 */
int gba_slot_parse(const char *text, size_t len, struct gba_slot *ret);
/* The recorded bootstrap. -ENOENT when there is none; -EBADMSG for a damaged file (err). */
int gba_slot_read(const char *state_dir, struct gba_slot *ret, char *err, size_t err_len);

/* Load the gba Km (tpm_key_load on state_dir/gba). */
int gba_slot_load_key(struct tpm_ctx *t, const char *state_dir, struct tpm_key **ret);
