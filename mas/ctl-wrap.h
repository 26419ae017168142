/* SPDX-License-Identifier: Apache-2.0 */
/*
 * m2masctl's wrapped-key output (node add --wrap-to, node rewrap): Km wrapped in
 * software to a node's TPM storage key (tpm/dup.h), written as km.dup and,
 * optionally, as the three files tpm2_import reads. Km is printed nowhere.
 * These functions print their own "m2masctl: ..." message and return 0 or -errno.
 */
#pragma once

#include <stdint.h>
#include <tss2/tss2_tpm2_types.h>

#include "mas/store.h"

/* Read a policy signer's public key (PEM, P-256) for --policy-signer. */
int mas_wrap_signer_load(const char *path, TPM2B_PUBLIC *ret);

/* Read an srk.pub (m2msactl tpm-identity) and check that it is an ECC P-256 SRK. */
int mas_wrap_srk_load(const char *path, TPM2B_PUBLIC *ret);

/*
 * Wrap km for node_id/km_id to srk (signer: NULL, or the policy signer whose
 * signed PCR policies will authorise Km's use: authPolicy = PolicyAuthorize) and write out (and, with tools_prefix,
 * PREFIX.pub, PREFIX.dpriv, PREFIX.seed for tpm2_import -u/-i/-s). Each file is
 * written whole or not at all.
 */
int mas_wrap_write(const TPM2B_PUBLIC *srk, const uint8_t km[static 32], const char *node_id,
		   const char *km_id, const TPM2B_PUBLIC *signer, const char *out,
		   const char *tools_prefix);

/* node add --wrap-to: load srk_path (and signer_path, may be NULL), then mas_wrap_write(). */
int mas_wrap_km(const char *srk_path, const char *signer_path, const uint8_t km[static 32],
		const char *node_id, const char *km_id, const char *out, const char *tools_prefix);

/* Remove what mas_wrap_write() wrote (when a later step failed). */
void mas_wrap_remove(const char *out, const char *tools_prefix);

/* node rewrap: wrap the stored Km of node_id again (e.g. to a new SRK). */
int mas_wrap_node(struct store *s, const char *node_id, const char *srk_path,
		  const char *signer_path, const char *out, const char *tools_prefix);

