/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node's credentials for an establishment, shared by m2msad and m2msactl:
 * the TPM context, Km (method psk, and the node ID when node_id is unset; the
 * configured node_id is checked against it), the node certificate and chain in
 * state_dir with its TPM signing key (method pki), and the TLS client context
 * built from them.
 *
 * Everything is cached between establishments: node_creds_prepare() only does
 * what is missing. After a failed attempt node_creds_failed() marks the TLS
 * context stale (pki: node.crt may have been renewed, or was what failed) and,
 * when the TPM is suspect, closes it; the next prepare reopens and rebuilds.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "agent/agent-conf.h"
#include "common/err.h"
#include "common/kdf.h"
#include "common/tls.h"
#include "common/util.h"

struct node_creds;
struct tpm_ctx;

/* conf is borrowed and must stay valid until node_creds_set_conf() or _free(). */
int node_creds_new(const struct agent_conf *conf, struct node_creds **ret);
/* Close the TPM, free the TLS context; NULL is fine. */
void node_creds_free(struct node_creds *c);
DEFINE_CLEANUP(struct node_creds *, node_creds_free)

/*
 * Switch to conf. identity_changed (node, TPM or MAS settings differ): drop
 * everything and start over. Otherwise keep the TPM and Km and only rebuild the
 * TLS context before the next attempt (pki: a renewed node.crt).
 */
void node_creds_set_conf(struct node_creds *c, const struct agent_conf *conf,
			 bool identity_changed);

/* Open the TPM (conf's tcti) unless it is open. 0, or -errno with err naming the fix. */
int node_creds_open_tpm(struct node_creds *c, struct m2msa_err *err);

/*
 * Open the TPM and load Km. Km is needed for psk, and to learn the node ID when
 * node_id is not configured; a pki-only node with node_id looks for it once (to
 * check the two agree) and does without it. 0, or -errno with err naming the fix.
 */
int node_creds_identity(struct node_creds *c, struct m2msa_err *err);

/*
 * Everything an attempt needs: with pki offered, node.crt must exist (checked
 * before the TPM is touched); node_creds_identity(); the TLS client context
 * (pki: presenting node.crt plus chain.crt if present, CertificateVerify signed
 * by the TPM key). 0, or -errno with err naming the fix; *ret_tpm_suspect tells
 * whether the TPM may be what failed.
 */
int node_creds_prepare(struct node_creds *c, struct m2msa_err *err, bool *ret_tpm_suspect);

/*
 * An attempt failed: rebuild the TLS context before the next one (pki), and
 * close the TPM if tpm_suspect. Returns true if a TPM connection was closed.
 */
bool node_creds_failed(struct node_creds *c, bool tpm_suspect);

/* After a successful node_creds_prepare(): */
WOLFSSL_CTX *node_creds_tls(const struct node_creds *c);
/* Km's PRF, or NULL for a pki-only node without Km. */
const struct kdf_prf *node_creds_km(const struct node_creds *c);
/* The configured node_id, else the one recorded with Km; "" while unknown. */
const char *node_creds_node_id(const struct node_creds *c);
/* The open TPM context (NULL before node_creds_identity()). */
struct tpm_ctx *node_creds_tpm(const struct node_creds *c);
