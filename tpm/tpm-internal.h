/* SPDX-License-Identifier: Apache-2.0 */
/* Internals shared by the tpm/ source files: the context, error recording, sessions. */
#pragma once

#include <stdarg.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_tctildr.h>

#include "common/util.h"
#include "tpm/keystore.h"
#include "tpm/tpm-ctx.h"

#define TPM_ERR_MAX 512
#define TPM_DETAIL_MAX 256

struct tpm_ctx {
	char *tcti_conf;
	TSS2_TCTI_CONTEXT *tcti;
	ESYS_CONTEXT *esys;
	ESYS_TR primary;
	bool primary_persistent;
	TPM2B_AUTH owner_auth;     /* owner hierarchy password (owner-auth.c), wiped on close */
	char owner_auth_src[256];  /* where it came from, for messages; "" = none given */
	char err[TPM_ERR_MAX];
	char detail[TPM_DETAIL_MAX];
};

struct tpm_key {
	struct tpm_ctx *t;
	ESYS_TR handle;
	ESYS_TR enc_session;    /* salted HMAC session, ENCRYPT: the output comes back encrypted */
	ESYS_TR policy_session; /* PolicyPCR session, when the key has a policy */
	uint32_t pcr_mask;
	/* Signed PCR policy (PolicyAuthorize; tpm/policy-session.c): */
	bool signed_policy;
	char *state_dir;
	ESYS_TR signer;              /* the policy signer's public key, loaded on first use */
	TPM2B_PUBLIC signer_pub;
	bool have_approved;          /* the policy that worked last, with its ticket */
	TPM2B_DIGEST approved;
	TPMT_TK_VERIFIED ticket;
	uint32_t approved_mask;
	char *node_id;
	char *km_id;
	char *pcrs;
};

/* Record a message (and, if rc != 0, the decoded TSS2 code as detail); returns err. */
int tpm_fail(struct tpm_ctx *t, int err, TSS2_RC rc, const char *fmt, ...) _printf_(4, 5);
/* Map a TSS2 response code to -errno (communication failures: -ECONNRESET etc.). */
int tpm_rc_to_errno(TSS2_RC rc);
/* True when rc is the TPM format-one/zero error base (ignoring handle/session/parameter numbers). */
bool tpm_rc_is(TSS2_RC rc, TSS2_RC base);
/* A human sentence for an rc from a command on the TPM (no hex). */
const char *tpm_rc_text(TSS2_RC rc);

/* Start a session salted with the primary key, AES-128-CFB, SHA-256; type HMAC or POLICY. */
int tpm_start_salted_session(struct tpm_ctx *t, TPM2_SE type, TPMA_SESSION attrs,
			     ESYS_TR *ret);
/* Flush a handle if it is not ESYS_TR_NONE and set it to ESYS_TR_NONE. */
void tpm_flush(struct tpm_ctx *t, ESYS_TR *h);
/* Fill a TPML_PCR_SELECTION for sha256 and the PCRs in mask. */
void tpm_pcr_selection(uint32_t mask, TPML_PCR_SELECTION *ret);
/* Format mask as "sha256:0,7" into buf. */
void tpm_pcrs_format(uint32_t mask, char *buf, size_t len);

/* signed PCR policies (policy-session.c) */
/* Satisfy the key's PolicyAuthorize in k->policy_session with the newest signed policy
 * the TPM accepts; -EPERM with a message naming the differing PCRs otherwise. */
int tpm_key_signed_policy(struct tpm_key *k);
/* Write state_dir/policy-signer.pub (the signer template with signer's point) and
 * create state_dir/policies/. */
int tpm_signer_write(struct tpm_ctx *t, const char *state_dir, const TPM2B_PUBLIC *signer);
/* Remove a policy-signer.pub left by an earlier provisioning (the new key has none). */
void tpm_signer_remove(const char *state_dir);
/* Flush the signer key handle. */
void tpm_key_signed_policy_free(struct tpm_key *k);

/* state dir files (state.c) */
/* Write dir/name atomically (common/fileio.h), mode 0600. */
/* Marshal priv and pub and write them atomically as dir/priv_name and dir/pub_name;
 * whose names the key in errors ("the signing key's"). */
int tpm_blobs_write(struct tpm_ctx *t, const char *dir, const char *priv_name,
		    const char *pub_name, const TPM2B_PRIVATE *priv, const TPM2B_PUBLIC *pub,
		    const char *whose);
int tpm_file_write_atomic(struct tpm_ctx *t, const char *dir, const char *name, const void *data,
			  size_t len);
/*
 * Read dir/name into buf (*len: its size in, the bytes read out). A missing file
 * fails with -ENOENT and "<missing>: <path> is missing (<remedy>)", a file larger
 * than buf with -EBADMSG and "<path> is corrupt: too large (<fix>)".
 */
int tpm_file_read(struct tpm_ctx *t, const char *dir, const char *name, uint8_t *buf, size_t *len,
		  const char *missing, const char *remedy, const char *fix);
int tpm_state_write(struct tpm_ctx *t, const char *state_dir, const TPM2B_PUBLIC *pub,
		    const TPM2B_PRIVATE *priv, const char *node_id, const char *km_id,
		    uint32_t pcr_mask, bool signed_policy);
int tpm_state_read(struct tpm_ctx *t, const char *state_dir, TPM2B_PUBLIC *ret_pub,
		   TPM2B_PRIVATE *ret_priv, char **ret_node_id, char **ret_km_id,
		   uint32_t *ret_pcr_mask, bool *ret_signed_policy);
/* Node and key IDs: 1..255 characters from A-Z a-z 0-9 . _ - @ / : ~ */
bool tpm_id_valid(const char *s);
