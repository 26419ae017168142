/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The TPM keystore: the node's long-term key Km lives only inside the TPM, as a
 * KEYEDHASH HMAC-SHA256 object under the storage primary key, and every
 * derivation from it runs inside the TPM (TPM2_HMAC is the PRF of kdf_derive()).
 *
 * Usage:
 *   struct tpm_ctx *t;  struct tpm_key *k;  struct kdf_prf prf;
 *   tpm_open("device:/dev/tpmrm0", &t, err, sizeof(err)); // NULL tcti: that default
 *   tpm_provision(t, "/var/lib/m2msa", node_id, km_id, km, 32, "sha256:0,7");
 *   tpm_key_load(t, "/var/lib/m2msa", &k);
 *   tpm_key_prf(k, &prf);
 *   kdf_derive(&prf, "m2msa Kc", ctx, ctx_len, kc);
 *   tpm_key_free(k);  tpm_close(t);
 *
 * State directory (written by tpm_provision, mode 0600 files in a 0700 dir):
 *   km.pub    marshalled TPM2B_PUBLIC  (tpm2_load -u km.pub)
 *   km.priv   marshalled TPM2B_PRIVATE (tpm2_load -r km.priv)
 *   node.conf INI: [node] node_id=..., km_id=..., pcrs=sha256:0,7 (pcrs only with a policy)
 * See docs/tpm.md for the templates, the policy and the error messages.
 *
 * The context (tpm_open, tpm_close, errors, the storage primary key) is in
 * tpm/tpm-ctx.h, which this header includes.
 *
 * Errors: every function returns 0 or -errno and leaves a message a person can
 * act on in tpm_last_error() (e.g. "cannot open /dev/tpmrm0: Permission denied
 * (is this user in group tss?)"). tpm_last_error_detail() holds the raw TSS2
 * response code text for a debug log line, or "" when there is none. Nothing
 * here prints; no key byte ever reaches either message.
 *
 * A tpm_ctx is not thread-safe. Keys must be freed before their context.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <tss2/tss2_tpm2_types.h>

#include "common/kdf.h"
#include "tpm/tpm-ctx.h"

#define TPM_DEFAULT_STATE_DIR "/var/lib/m2msa"
#define TPM_KM_LEN 32

#define TPM_KM_PUB_FILE "km.pub"
#define TPM_KM_PRIV_FILE "km.priv"
#define TPM_NODE_CONF_FILE "node.conf"

struct tpm_key;

/*
 * Import km (km_len must be TPM_KM_LEN) into the TPM under the storage primary
 * key, over a salted, parameter-encrypted session, and write km.pub, km.priv and
 * node.conf into state_dir (created 0700 if missing; files replaced atomically).
 * pcrs: NULL/"" for no policy, or "sha256:0,7" to bind the key to the current
 * values of those PCRs. The caller wipes km. Errors: -EINVAL bad argument or
 * key length, -EACCES/-EROFS... on the state dir, TPM errors as tpm_open.
 */
int tpm_provision(struct tpm_ctx *t, const char *state_dir, const char *node_id,
		  const char *km_id, const uint8_t *km, size_t km_len, const char *pcrs);

/*
 * As tpm_provision(), but Km's authPolicy is TPM2_PolicyAuthorize(signer) (a P-256
 * public area, see tpm/policy.h): Km is usable under the PCR policies the signer
 * signs (installed in state_dir/policies/), which survive firmware updates.
 */
int tpm_provision_signed(struct tpm_ctx *t, const char *state_dir, const char *node_id,
			 const char *km_id, const uint8_t *km, size_t km_len,
			 const TPM2B_PUBLIC *signer);

/*
 * Load the provisioned Km from state_dir and keep it loaded until
 * tpm_key_free(). Errors: -ENOENT blobs or node.conf missing, -EBADMSG blobs
 * corrupt or not made under this TPM's storage key, TPM errors as tpm_open.
 */
int tpm_key_load(struct tpm_ctx *t, const char *state_dir, struct tpm_key **ret);
/* Flush the key and its sessions; NULL is fine. */
void tpm_key_free(struct tpm_key *k);
static inline void tpm_key_freep(struct tpm_key **k)
{
	tpm_key_free(*k);
	*k = NULL;
}

const char *tpm_key_node_id(const struct tpm_key *k);
const char *tpm_key_km_id(const struct tpm_key *k);
/* The PCR selection the key is bound to ("sha256:0,7"), or NULL without a policy. */
const char *tpm_key_pcrs(const struct tpm_key *k);
/* True when the key is used under signed PCR policies (state_dir/policies/, tpm/policy.h). */
bool tpm_key_has_signed_policy(const struct tpm_key *k);

/*
 * out = HMAC-SHA256(Km, msg), computed by the TPM (TPM2_HMAC, or an HMAC
 * sequence above 1024 bytes); the result comes back over an encrypted session.
 * With a PCR policy, -EPERM when the PCR values differ from provisioning time.
 * Errors are also recorded in the key's context (tpm_last_error).
 */
int tpm_key_hmac(struct tpm_key *k, const uint8_t *msg, size_t msg_len,
		 uint8_t out[static SHA256_LEN]);

/* A PRF for kdf_derive()/kdf_counter() backed by tpm_key_hmac(); k must outlive it. */
void tpm_key_prf(struct tpm_key *k, struct kdf_prf *ret);
