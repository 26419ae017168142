/* SPDX-License-Identifier: Apache-2.0 */
/* The error message type (err.h). */
#include <stdarg.h>
#include <stdio.h>

#include "common/err.h"

int err_set(struct m2msa_err *err, int r, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return r;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return r;
}
