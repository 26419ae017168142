/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One way to carry an error from where it happens to where it is reported:
 * functions return -errno and, when they can say more, fill a struct m2msa_err
 * with one message that names the thing and the fix. The caller logs or prints
 * err.msg once (STYLE.md "Errors").
 *
 *   int foo_load(const char *path, struct foo **ret, struct m2msa_err *err)
 *   {
 *           ...
 *           if (r < 0)
 *                   return err_set(err, r, "cannot read %s: %s", path, strerror(-r));
 *   }
 */
#pragma once

#include <stdint.h>

#include "common/util.h"

#define M2MSA_ERR_MAX 512

struct m2msa_err {
	uint32_t wire_code; /* the MAS's error code (WIRE_ERR_*) when the failure was its answer, else 0 */
	uint8_t method;	    /* establishment: the CHALLENGE's method when the failure came after it, else 0 */
	char msg[M2MSA_ERR_MAX];
};

/* Format the message into err (NULL: only return r) and return r, a -errno. */
int err_set(struct m2msa_err *err, int r, const char *fmt, ...) _printf_(3, 4);
