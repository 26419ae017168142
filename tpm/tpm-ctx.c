/* SPDX-License-Identifier: Apache-2.0 */
/* TPM connection (TCTI + ESYS), error messages, the storage primary key and sessions. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tss2/tss2_rc.h>

#include "common/secret.h"
#include "tpm/tpm-ctx.h"
#include "tpm/owner-auth.h"
#include "tpm/tpm-internal.h"

int tpm_fail(struct tpm_ctx *t, int err, TSS2_RC rc, const char *fmt, ...)
{
	va_list ap;

	if (!t)
		return err;
	va_start(ap, fmt);
	vsnprintf(t->err, sizeof(t->err), fmt, ap);
	va_end(ap);
	if (rc != TSS2_RC_SUCCESS)
		snprintf(t->detail, sizeof(t->detail), "TSS2 rc 0x%08x: %s", (unsigned)rc,
			 Tss2_RC_Decode(rc));
	else
		t->detail[0] = '\0';
	return err;
}

const char *tpm_last_error(const struct tpm_ctx *t)
{
	return t ? t->err : "";
}

const char *tpm_last_error_detail(const struct tpm_ctx *t)
{
	return t ? t->detail : "";
}

bool tpm_rc_is(TSS2_RC rc, TSS2_RC base)
{
	TSS2_RC layer = rc & TSS2_RC_LAYER_MASK;

	if (layer != TSS2_TPM_RC_LAYER && layer != TSS2_RESMGR_TPM_RC_LAYER)
		return false;
	rc &= 0xffff;
	if (rc & TPM2_RC_FMT1)
		return (rc & (TPM2_RC_FMT1 | 0x3f)) == base;
	return (rc & 0xfff) == base;
}

static bool rc_is_comm(TSS2_RC rc)
{
	TSS2_RC layer = rc & TSS2_RC_LAYER_MASK, code = rc & 0xffff;

	if (layer != TSS2_TCTI_RC_LAYER && layer != TSS2_SYS_RC_LAYER &&
	    layer != TSS2_ESAPI_RC_LAYER)
		return false;
	return code == TSS2_BASE_RC_IO_ERROR || code == TSS2_BASE_RC_NO_CONNECTION ||
	       code == TSS2_BASE_RC_TRY_AGAIN;
}

int tpm_rc_to_errno(TSS2_RC rc)
{
	if (rc == TSS2_RC_SUCCESS)
		return 0;
	if (rc_is_comm(rc))
		return -ECONNRESET;
	if (tpm_rc_is(rc, TPM2_RC_POLICY_FAIL) || tpm_rc_is(rc, TPM2_RC_PCR_CHANGED))
		return -EPERM;
	if (tpm_rc_is(rc, TPM2_RC_AUTH_FAIL) || tpm_rc_is(rc, TPM2_RC_BAD_AUTH))
		return -EACCES;
	if (tpm_rc_is(rc, TPM2_RC_LOCKOUT))
		return -EBUSY;
	if (tpm_rc_is(rc, TPM2_RC_OBJECT_MEMORY) || tpm_rc_is(rc, TPM2_RC_SESSION_MEMORY) ||
	    tpm_rc_is(rc, TPM2_RC_OBJECT_HANDLES) || tpm_rc_is(rc, TPM2_RC_SESSION_HANDLES))
		return -ENOSPC;
	if (tpm_rc_is(rc, TPM2_RC_INTEGRITY) || tpm_rc_is(rc, TPM2_RC_SIZE) ||
	    tpm_rc_is(rc, TPM2_RC_BINDING) || tpm_rc_is(rc, TPM2_RC_KEY))
		return -EBADMSG;
	return -EIO;
}

const char *tpm_rc_text(TSS2_RC rc)
{
	if (rc_is_comm(rc))
		return "lost the connection to the TPM";
	if (tpm_rc_is(rc, TPM2_RC_POLICY_FAIL) || tpm_rc_is(rc, TPM2_RC_PCR_CHANGED))
		return "the TPM refused the key's policy";
	if (tpm_rc_is(rc, TPM2_RC_LOCKOUT))
		return "the TPM is in dictionary-attack lockout (wait, or clear it with tpm2_dictionarylockout -c)";
	if (tpm_rc_is(rc, TPM2_RC_AUTH_FAIL) || tpm_rc_is(rc, TPM2_RC_BAD_AUTH))
		return "the TPM refused the authorization (does the owner hierarchy have a password?)";
	if (tpm_rc_is(rc, TPM2_RC_OBJECT_MEMORY) || tpm_rc_is(rc, TPM2_RC_SESSION_MEMORY) ||
	    tpm_rc_is(rc, TPM2_RC_OBJECT_HANDLES) || tpm_rc_is(rc, TPM2_RC_SESSION_HANDLES))
		return "the TPM is out of object or session slots (use /dev/tpmrm0, or flush with tpm2_flushcontext -t -s)";
	return "the TPM command failed";
}

/* "device:/dev/tpmrm0" or "device" -> the device path; NULL for other TCTIs. */
static const char *tcti_device_path(const char *conf)
{
	if (strcmp(conf, "device") == 0 || strcmp(conf, "device:") == 0)
		return "/dev/tpmrm0";
	if (strncmp(conf, "device:", 7) == 0)
		return conf + 7;
	return NULL;
}

static int check_device(struct tpm_ctx *t, const char *path)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);

	if (fd >= 0) {
		close(fd);
		return 0;
	}
	switch (errno) {
	case ENOENT:
	case ENODEV:
	case ENXIO:
		return tpm_fail(t, -ENOENT, 0,
				"no TPM device at %s (is a TPM 2.0 present and enabled in the firmware, "
				"and the tpm_tis/tpm_crb driver loaded? For tests use a swtpm: TCTI)",
				path);
	case EACCES:
	case EPERM:
		return tpm_fail(t, -EACCES, 0,
				"cannot open %s: Permission denied (is this user in group tss?)", path);
	case EBUSY:
		return tpm_fail(t, -EBUSY, 0,
				"cannot open %s: the device is busy (use the resource manager /dev/tpmrm0)",
				path);
	default:
		return tpm_fail(t, -errno, 0, "cannot open %s: %s", path, strerror(errno));
	}
}

static void ctx_free(struct tpm_ctx *t)
{
	if (!t)
		return;
	if (t->esys) {
		if (t->primary != ESYS_TR_NONE) {
			if (t->primary_persistent)
				(void)Esys_TR_Close(t->esys, &t->primary);
			else
				(void)Esys_FlushContext(t->esys, t->primary);
		}
		Esys_Finalize(&t->esys);
	}
	if (t->tcti)
		Tss2_TctiLdr_Finalize(&t->tcti);
	secret_wipe(&t->owner_auth, sizeof(t->owner_auth));
	free(t->tcti_conf);
	free(t);
}

void tpm_close(struct tpm_ctx *t)
{
	ctx_free(t);
}

static int unreachable(struct tpm_ctx *t, TSS2_RC rc)
{
	return tpm_fail(t, -ECONNREFUSED, rc,
			"cannot reach the TPM at TCTI '%s' (is the TPM or swtpm running and listening there?)",
			t->tcti_conf);
}

int tpm_open(const char *tcti, struct tpm_ctx **ret, char *err_buf, size_t err_len)
{
	struct tpm_ctx *t;
	const char *dev;
	TSS2_RC rc;
	int r;

	if (!ret)
		return -EINVAL;
	if (!tcti || !*tcti)
		tcti = TPM_DEFAULT_TCTI;
	/* tpm2-tss logs to stderr by default; a library must not. TSS2_LOG set by the user wins. */
	(void)setenv("TSS2_LOG", "all+NONE", 0);

	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->primary = ESYS_TR_NONE;
	t->tcti_conf = strdup(tcti);
	if (!t->tcti_conf) {
		r = tpm_fail(t, -ENOMEM, 0, "out of memory");
		goto fail;
	}

	dev = tcti_device_path(tcti);
	if (dev) {
		r = check_device(t, dev);
		if (r < 0)
			goto fail;
	}

	rc = Tss2_TctiLdr_Initialize(tcti, &t->tcti);
	if (rc != TSS2_RC_SUCCESS) {
		TSS2_RC code = rc & 0xffff;

		t->tcti = NULL;
		if (code == TSS2_BASE_RC_NOT_SUPPORTED || code == TSS2_BASE_RC_BAD_VALUE ||
		    code == TSS2_BASE_RC_BAD_REFERENCE)
			r = tpm_fail(t, -EINVAL, rc,
				     "cannot use TCTI '%s' (expected e.g. device:/dev/tpmrm0 or "
				     "swtpm:host=127.0.0.1,port=2321; is the libtss2-tcti library installed?)",
				     tcti);
		else
			r = unreachable(t, rc);
		goto fail;
	}

	rc = Esys_Initialize(&t->esys, t->tcti, NULL);
	if (rc != TSS2_RC_SUCCESS) {
		t->esys = NULL;
		r = tpm_fail(t, -EIO, rc, "cannot initialise the TPM software stack for TCTI '%s'",
			     tcti);
		goto fail;
	}
	rc = Esys_Startup(t->esys, TPM2_SU_CLEAR);
	if (rc != TSS2_RC_SUCCESS && !tpm_rc_is(rc, TPM2_RC_INITIALIZE)) {
		if (rc_is_comm(rc))
			r = unreachable(t, rc);
		else
			r = tpm_fail(t, tpm_rc_to_errno(rc), rc,
				     "the TPM at TCTI '%s' does not answer TPM2_Startup: %s", tcti,
				     tpm_rc_text(rc));
		goto fail;
	}
	/* A systemd credential with the owner hierarchy password (owner-auth.c). */
	r = tpm_owner_auth_from_credentials(t);
	if (r < 0)
		goto fail;
	*ret = t;
	return 0;

fail:
	if (err_buf && err_len)
		snprintf(err_buf, err_len, "%s", t->err);
	ctx_free(t);
	return r;
}

const TPM2B_PUBLIC tpm_primary_template = {
	.publicArea = {
		.type = TPM2_ALG_ECC,
		.nameAlg = TPM2_ALG_SHA256,
		.objectAttributes = TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT |
				    TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
				    TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
				    TPMA_OBJECT_NODA,
		.parameters.eccDetail = {
			.symmetric = {
				.algorithm = TPM2_ALG_AES,
				.keyBits.aes = 128,
				.mode.aes = TPM2_ALG_CFB,
			},
			.scheme.scheme = TPM2_ALG_NULL,
			.curveID = TPM2_ECC_NIST_P256,
			.kdf.scheme = TPM2_ALG_NULL,
		},
	},
};

int tpm_primary(struct tpm_ctx *t, bool *ret_persistent)
{
	TPM2B_SENSITIVE_CREATE sens = { 0 };
	TPM2B_DATA outside = { 0 };
	TPML_PCR_SELECTION creation_pcr = { 0 };
	ESYS_TR h = ESYS_TR_NONE;
	TSS2_RC rc;

	if (!t)
		return -EINVAL;
	if (t->primary != ESYS_TR_NONE)
		goto done;

	rc = Esys_TR_FromTPMPublic(t->esys, TPM_SRK_HANDLE, ESYS_TR_NONE, ESYS_TR_NONE,
				   ESYS_TR_NONE, &h);
	if (rc == TSS2_RC_SUCCESS) {
		t->primary = h;
		t->primary_persistent = true;
		goto done;
	}
	if (rc_is_comm(rc))
		return tpm_fail(t, -ECONNRESET, rc, "lost the connection to the TPM at TCTI '%s'",
				t->tcti_conf);

	rc = Esys_CreatePrimary(t->esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE,
				ESYS_TR_NONE, &sens, &tpm_primary_template, &outside, &creation_pcr,
				&h, NULL, NULL, NULL, NULL);
	if (rc != TSS2_RC_SUCCESS && (tpm_rc_is(rc, TPM2_RC_BAD_AUTH) || tpm_rc_is(rc, TPM2_RC_AUTH_FAIL)))
		return tpm_fail(t, -EACCES, rc,
				t->owner_auth_src[0] ?
					"the owner hierarchy refused the password from %s: it is wrong "
					"(fix the file; repeated failures lock the TPM out)" :
					"the owner hierarchy refused an empty password: it has one%s; give "
					"it in a file (--owner-auth-file FILE) or as the systemd credential "
					TPM_OWNER_AUTH_CREDENTIAL " (LoadCredential=), never on the command "
					"line",
				t->owner_auth_src);
	if (rc != TSS2_RC_SUCCESS)
		return tpm_fail(t, tpm_rc_to_errno(rc), rc,
				"cannot create the storage primary key in the owner hierarchy: %s",
				tpm_rc_text(rc));
	t->primary = h;
	t->primary_persistent = false;
done:
	if (ret_persistent)
		*ret_persistent = t->primary_persistent;
	return 0;
}

int tpm_start_salted_session(struct tpm_ctx *t, TPM2_SE type, TPMA_SESSION attrs, ESYS_TR *ret)
{
	const TPMT_SYM_DEF sym = {
		.algorithm = TPM2_ALG_AES,
		.keyBits.aes = 128,
		.mode.aes = TPM2_ALG_CFB,
	};
	ESYS_TR s = ESYS_TR_NONE;
	TSS2_RC rc;
	int r;

	r = tpm_primary(t, NULL);
	if (r < 0)
		return r;
	rc = Esys_StartAuthSession(t->esys, t->primary, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
				   ESYS_TR_NONE, NULL, type, &sym, TPM2_ALG_SHA256, &s);
	if (rc != TSS2_RC_SUCCESS)
		return tpm_fail(t, tpm_rc_to_errno(rc), rc,
				"cannot start a salted session with the storage key: %s",
				tpm_rc_text(rc));
	rc = Esys_TRSess_SetAttributes(t->esys, s, attrs, 0xff);
	if (rc != TSS2_RC_SUCCESS) {
		tpm_flush(t, &s);
		return tpm_fail(t, -EIO, rc, "cannot set the session attributes");
	}
	*ret = s;
	return 0;
}

void tpm_flush(struct tpm_ctx *t, ESYS_TR *h)
{
	if (!t || !h || *h == ESYS_TR_NONE)
		return;
	(void)Esys_FlushContext(t->esys, *h);
	*h = ESYS_TR_NONE;
}

static int count_range(struct tpm_ctx *t, TPM2_HANDLE first, TPM2_HANDLE last, size_t *ret)
{
	TPMS_CAPABILITY_DATA *cap = NULL;
	TPMI_YES_NO more = TPM2_YES;
	TPM2_HANDLE next = first;
	size_t n = 0;
	TSS2_RC rc;

	while (more) {
		rc = Esys_GetCapability(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
					TPM2_CAP_HANDLES, next, TPM2_MAX_CAP_HANDLES, &more, &cap);
		if (rc != TSS2_RC_SUCCESS)
			return tpm_fail(t, tpm_rc_to_errno(rc), rc,
					"cannot list the TPM's handles: %s", tpm_rc_text(rc));
		for (UINT32 i = 0; i < cap->data.handles.count; i++) {
			TPM2_HANDLE h = cap->data.handles.handle[i];

			if (h < first || h > last) {
				more = TPM2_NO;
				break;
			}
			n++;
			next = h + 1;
		}
		if (cap->data.handles.count == 0)
			more = TPM2_NO;
		Esys_Free(cap);
		cap = NULL;
	}
	*ret = n;
	return 0;
}

/* A TPM2_PT_* property from the volatile (TPM2_PT_VAR) group. */
static int get_property(struct tpm_ctx *t, TPM2_PT prop, uint32_t *ret)
{
	TPMS_CAPABILITY_DATA *cap = NULL;
	TPMI_YES_NO more;
	TSS2_RC rc;
	int r = 0;

	rc = Esys_GetCapability(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
				TPM2_CAP_TPM_PROPERTIES, prop, 1, &more, &cap);
	if (rc != TSS2_RC_SUCCESS)
		return tpm_fail(t, tpm_rc_to_errno(rc), rc, "cannot read the TPM's properties: %s",
				tpm_rc_text(rc));
	if (cap->data.tpmProperties.count < 1 ||
	    cap->data.tpmProperties.tpmProperty[0].property != prop)
		r = tpm_fail(t, -EIO, 0, "the TPM did not report property 0x%x", (unsigned)prop);
	else
		*ret = cap->data.tpmProperties.tpmProperty[0].value;
	Esys_Free(cap);
	return r;
}

int tpm_count_handles(struct tpm_ctx *t, size_t *ret_transient, size_t *ret_sessions)
{
	uint32_t active = 0;
	size_t tr = 0;
	int r;

	if (!t)
		return -EINVAL;
	/* 0x80000000..0x80ffffff; the TPM2_TRANSIENT_* macros shift a signed int (UB). */
	r = count_range(t, UINT32_C(0x80000000), UINT32_C(0x80ffffff), &tr);
	if (r < 0)
		return r;
	/* Policy sessions are not always listed under TPM2_CAP_HANDLES (0x03 is also
	 * TPM2_HT_SAVED_SESSION); HR_ACTIVE counts every loaded and saved session. */
	r = get_property(t, TPM2_PT_HR_ACTIVE, &active);
	if (r < 0)
		return r;
	if (ret_transient)
		*ret_transient = tr;
	if (ret_sessions)
		*ret_sessions = active;
	return 0;
}

int tpm_pcrs_parse(const char *s, uint32_t *ret_mask)
{
	uint32_t mask = 0;
	const char *p;

	if (!s || !ret_mask)
		return -EINVAL;
	if (strncmp(s, "sha256:", 7) != 0)
		return -EINVAL;
	p = s + 7;
	for (;;) {
		unsigned long v;
		char *end;

		if (*p < '0' || *p > '9')
			return -EINVAL;
		errno = 0;
		v = strtoul(p, &end, 10);
		if (errno || end == p || v > 23 || end - p > 2)
			return -EINVAL;
		mask |= UINT32_C(1) << v;
		p = end;
		if (*p == '\0')
			break;
		if (*p != ',')
			return -EINVAL;
		p++;
	}
	*ret_mask = mask;
	return 0;
}

void tpm_pcr_selection(uint32_t mask, TPML_PCR_SELECTION *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->count = 1;
	ret->pcrSelections[0].hash = TPM2_ALG_SHA256;
	ret->pcrSelections[0].sizeofSelect = 3;
	for (unsigned i = 0; i < 24; i++)
		if (mask & (UINT32_C(1) << i))
			ret->pcrSelections[0].pcrSelect[i / 8] |= (uint8_t)(1u << (i % 8));
}

void tpm_pcrs_format(uint32_t mask, char *buf, size_t len)
{
	size_t n;
	bool first = true;

	n = (size_t)snprintf(buf, len, "sha256:");
	for (unsigned i = 0; i < 24 && n < len; i++) {
		if (!(mask & (UINT32_C(1) << i)))
			continue;
		n += (size_t)snprintf(buf + n, len - n, "%s%u", first ? "" : ",", i);
		first = false;
	}
}
