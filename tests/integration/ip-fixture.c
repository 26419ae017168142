/* SPDX-License-Identifier: Apache-2.0 */
/* Running iproute2's `ip` from the netlink tests (see ip-fixture.h). */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "ip-fixture.h"

static char *ip_vrun(const char *fmt, va_list ap) _printf_(1, 0);
static char *ip_vrun(const char *fmt, va_list ap)
{
	const char *argv[32] = { "ip" };
	char *line, *save = NULL, *out = NULL, *err = NULL;
	size_t n = 1;
	int status = -1;

	cr_assert_geq(vasprintf(&line, fmt, ap), 0);
	for (char *t = strtok_r(line, " ", &save); t && n < ARRAY_SIZE(argv) - 1;
	     t = strtok_r(NULL, " ", &save))
		argv[n++] = t;
	argv[n] = NULL;
	cr_assert_eq(harness_run(argv, NULL, NULL, &status, &out, &err), 0, "cannot run ip");
	cr_assert_eq(status, 0, "ip %s failed (%d): %s", fmt, status, err ? err : "");
	free(line);
	free(err);
	return out ? out : strdup("");
}

void ip_fx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	free(ip_vrun(fmt, ap));
	va_end(ap);
}

char *ip_fx_out(const char *fmt, ...)
{
	va_list ap;
	char *out;

	va_start(ap, fmt);
	out = ip_vrun(fmt, ap);
	va_end(ap);
	return out;
}
