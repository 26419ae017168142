/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node side of the wrapped import (see tpm/dup.h for the blob): the storage
 * key's public part and Name to send to the provider (m2msactl tpm-identity), the
 * EK certificate when the TPM holds one, and TPM2_Import of a km.dup under the
 * storage key, which leaves km.pub/km.priv/node.conf in the state directory
 * exactly as tpm_provision() does.
 *
 * Errors as in tpm/keystore.h: 0 or -errno, with the message in tpm_last_error().
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <tss2/tss2_tpm2_types.h>

#include "tpm/dup.h"
#include "tpm/keystore.h"

/* TCG EK Credential Profile 2.x §2.2.1.5: NV indices of the EK certificates (low
 * range: RSA 2048, ECC NIST P-256; high range: RSA 2048/3072/4096, ECC P-256/P-384/P-521). */
#define TPM_EK_CERT_NV_RSA 0x01c00002u
#define TPM_EK_CERT_NV_ECC 0x01c0000au
#define TPM_EK_CERT_NV_HIGH_FIRST 0x01c00012u
#define TPM_EK_CERT_NV_HIGH_LAST 0x01c0001cu

/*
 * The storage key (persistent SRK at TPM_SRK_HANDLE if present, else the standard
 * ECC P-256 storage primary, which the TPM re-creates identically from the owner
 * seed), its public area and Name. -EINVAL when the persistent SRK is not the
 * ECC P-256 storage key wrapped import needs.
 */
int tpm_srk_identity(struct tpm_ctx *t, TPM2B_PUBLIC *ret_pub, TPM2B_NAME *ret_name,
		     bool *ret_persistent);

/*
 * The EK certificate (DER) from the TCG NV indices: the low-range ECC one, the RSA
 * one, then the high range in order. *ret is malloc()ed. -ENOENT when there is none.
 */
int tpm_ek_cert_read(struct tpm_ctx *t, uint8_t **ret, size_t *ret_len, uint32_t *ret_index);

/*
 * TPM2_Import the blob under the storage key, check that the result loads, and
 * write km.pub, km.priv and node.conf (node ID and KmID from the blob) into
 * state_dir. Errors: -EXDEV the blob is wrapped to another storage key (its SRK
 * Name differs), -EBADMSG the TPM's integrity check failed (damaged, or made for
 * another TPM), -EINVAL the object is not an importable HMAC-SHA256 key.
 */
int tpm_import_dup(struct tpm_ctx *t, const char *state_dir, const struct tpm_dup_blob *b);
