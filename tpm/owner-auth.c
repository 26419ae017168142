/* SPDX-License-Identifier: Apache-2.0 */
/* Owner hierarchy authorisation from a file or a systemd credential (never the command line). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fileio.h"
#include "common/secret.h"
#include "tpm/owner-auth.h"
#include "tpm/tpm-internal.h"

int tpm_owner_auth_file(struct tpm_ctx *t, const char *path)
{
	uint8_t buf[TPM_OWNER_AUTH_MAX + 2];
	size_t len = 0;
	TSS2_RC rc;
	int r;

	if (!t || !path)
		return -EINVAL;
	r = fileio_read(path, buf, sizeof(buf), &len);
	if (r == -EFBIG)
		return tpm_fail(t, -EINVAL, 0,
				"the owner hierarchy password in %s is longer than %d bytes",
				path, TPM_OWNER_AUTH_MAX);
	if (r < 0)
		return tpm_fail(t, r, 0, "cannot read the owner hierarchy password from %s: %s",
				path, strerror(-r));
	if (len && buf[len - 1] == '\n')
		len--;
	if (len > TPM_OWNER_AUTH_MAX) {
		secret_wipe(buf, sizeof(buf));
		return tpm_fail(t, -EINVAL, 0,
				"the owner hierarchy password in %s is longer than %d bytes",
				path, TPM_OWNER_AUTH_MAX);
	}
	secret_wipe(&t->owner_auth, sizeof(t->owner_auth));
	t->owner_auth.size = (UINT16)len;
	memcpy(t->owner_auth.buffer, buf, len);
	secret_wipe(buf, sizeof(buf));
	snprintf(t->owner_auth_src, sizeof(t->owner_auth_src), "%s", path);
	rc = Esys_TR_SetAuth(t->esys, ESYS_TR_RH_OWNER, &t->owner_auth);
	if (rc != TSS2_RC_SUCCESS)
		return tpm_fail(t, -EIO, rc, "cannot set the owner hierarchy's authorization");
	return 0;
}

int tpm_owner_auth_from_credentials(struct tpm_ctx *t)
{
	const char *dir = getenv("CREDENTIALS_DIRECTORY");
	_cleanup_free_ char *path = NULL;
	int r;

	if (!dir || !*dir)
		return 0;
	if (asprintf(&path, "%s/%s", dir, TPM_OWNER_AUTH_CREDENTIAL) < 0)
		return -ENOMEM;
	if (access(path, F_OK) < 0)
		return 0;
	r = tpm_owner_auth_file(t, path);
	return r < 0 ? r : 1;
}
