/* SPDX-License-Identifier: Apache-2.0 */
/* The USIM interface: dispatch to the backend, results, errors, IMPI syntax. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/secret.h"
#include "usim/usim-internal.h"

void usim_result_wipe(struct usim_result *r)
{
	if (r)
		secret_wipe(r, sizeof(*r));
}

bool usim_impi_valid(const char *s)
{
	size_t n;

	if (!s)
		return false;
	n = strlen(s);
	if (n == 0 || n > USIM_IMPI_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr("._-@+!~%", c)))
			return false;
	}
	return true;
}

int usim_alloc(const struct usim_ops *ops, const char *impi, struct usim **ret)
{
	struct usim *u = calloc(1, sizeof(*u));

	if (!u)
		return -ENOMEM;
	u->ops = ops;
	if (impi) {
		u->impi = strdup(impi);
		if (!u->impi) {
			free(u);
			return -ENOMEM;
		}
	}
	*ret = u;
	return 0;
}

int usim_fail(struct usim *u, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(u->err, sizeof(u->err), fmt, ap);
	va_end(ap);
	return err;
}

int usim_err_out(char *err_buf, size_t err_len, int err, const char *msg)
{
	if (err_buf && err_len)
		snprintf(err_buf, err_len, "%s", msg);
	return err;
}

int usim_authenticate(struct usim *u, const uint8_t rand[static MILENAGE_RAND_LEN],
		      const uint8_t autn[static AKA_AUTN_LEN], struct usim_result *ret)
{
	_cleanup_usim_result_ struct usim_result res = { 0 };
	int r;

	if (!u || !ret)
		return -EINVAL;
	u->err[0] = '\0';
	r = u->ops->authenticate(u, rand, autn, &res);
	if (r < 0)
		return r;
	*ret = res;
	return 0;
}

const char *usim_impi(const struct usim *u)
{
	return u ? u->impi : NULL;
}

const char *usim_backend_name(const struct usim *u)
{
	return u ? u->ops->name : NULL;
}

const char *usim_last_error(const struct usim *u)
{
	return u ? u->err : "";
}

void usim_free(struct usim *u)
{
	if (!u)
		return;
	if (u->ops && u->ops->free)
		u->ops->free(u);
	free(u->impi);
	free(u);
}
