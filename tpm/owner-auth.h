/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Owner hierarchy authorisation: when the TPM's owner hierarchy has a password,
 * creating the storage primary key needs it. It is read from a file or from the
 * systemd credential TPM_OWNER_AUTH_CREDENTIAL (LoadCredential=tpm-owner-auth:FILE
 * in the unit; tpm_open() picks it up from $CREDENTIALS_DIRECTORY by itself), never
 * from the command line. The file holds the password as it is (one trailing
 * newline is ignored), at most 64 bytes. The value is wiped with the context.
 */
#pragma once

#include "tpm/tpm-ctx.h"

#define TPM_OWNER_AUTH_CREDENTIAL "tpm-owner-auth"
#define TPM_OWNER_AUTH_MAX 64

/* Use the password in path for the owner hierarchy. -errno with a message. */
int tpm_owner_auth_file(struct tpm_ctx *t, const char *path);
/* The systemd credential, if $CREDENTIALS_DIRECTORY holds it: 1 used, 0 none, -errno. */
int tpm_owner_auth_from_credentials(struct tpm_ctx *t);
