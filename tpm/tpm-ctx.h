/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The TPM context (tpm-ctx.c): the connection to the TPM through a TCTI, the
 * message of the last failure, the storage primary key, handle counting, and
 * PCR selections. The keys that live under it are in tpm/keystore.h (Km) and
 * tpm/signkey.h (the PKI signing key).
 *
 * Errors: every function returns 0 or -errno and leaves a message a person can
 * act on in tpm_last_error(); nothing here prints. A tpm_ctx is not thread-safe.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <tss2/tss2_tpm2_types.h>

#define TPM_DEFAULT_TCTI "device:/dev/tpmrm0"
/* The persistent storage root key handle tpm2-tools and the TCG guidance use. */
#define TPM_SRK_HANDLE 0x81000001u

struct tpm_ctx;

/*
 * Connect to the TPM through tcti (NULL: TPM_DEFAULT_TCTI), e.g.
 * "swtpm:host=127.0.0.1,port=2321". ESYS's own stderr logging is silenced
 * unless TSS2_LOG is already set. Errors: -ENOENT no TPM device, -EACCES
 * permission denied, -ECONNREFUSED TCTI unreachable, -EINVAL bad TCTI string,
 * -EIO other TPM failure. On failure *ret is untouched and, when err_buf is
 * not NULL, the human message is copied to err_buf (err_len bytes).
 */
int tpm_open(const char *tcti, struct tpm_ctx **ret, char *err_buf, size_t err_len);
/* Flush every handle this context created and disconnect; NULL is fine. */
void tpm_close(struct tpm_ctx *t);
static inline void tpm_closep(struct tpm_ctx **t)
{
	tpm_close(*t);
	*t = NULL;
}

/* The message for the last failure on t ("" if none). Valid until the next call on t. */
const char *tpm_last_error(const struct tpm_ctx *t);
/* The raw TSS2 response code text of the last failure, for debug logs only ("" if none). */
const char *tpm_last_error_detail(const struct tpm_ctx *t);

/*
 * Make sure the storage primary key is loaded: the persistent SRK at
 * TPM_SRK_HANDLE if present, else the standard ECC P-256 storage primary created
 * in the owner hierarchy. *ret_persistent (may be NULL) tells which.
 */
int tpm_primary(struct tpm_ctx *t, bool *ret_persistent);
/*
 * The template of that created primary: the standard ECC P-256 storage primary (TCG,
 * tpm2_createprimary -G ecc) with noDA. bench-tpm's bare-ESYS baseline uses it too.
 */
extern const TPM2B_PUBLIC tpm_primary_template;

/*
 * Count the transient objects and loaded sessions present in the TPM
 * (TPM2_GetCapability TPM2_CAP_HANDLES), including this context's own.
 * For leak checks and m2msactl tpm-check.
 */
int tpm_count_handles(struct tpm_ctx *t, size_t *ret_transient, size_t *ret_sessions);

/*
 * Parse a PCR selection "sha256:0,7" (bank sha256 only, PCRs 0..23) into a
 * TPML_PCR_SELECTION-compatible bitmap: bit i of *ret_mask = PCR i.
 */
int tpm_pcrs_parse(const char *s, uint32_t *ret_mask);
