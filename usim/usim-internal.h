/* SPDX-License-Identifier: Apache-2.0 */
/* What the usim/ backends share: the object, its operations, error recording. */
#pragma once

#include "common/util.h"
#include "usim/usim.h"

#define USIM_ERR_MAX 512

struct usim_ops {
	const char *name;
	int (*authenticate)(struct usim *u, const uint8_t rand[static MILENAGE_RAND_LEN],
			    const uint8_t autn[static AKA_AUTN_LEN], struct usim_result *ret);
	void (*free)(struct usim *u);
};

struct usim {
	const struct usim_ops *ops;
	char *impi;
	void *backend;
	char err[USIM_ERR_MAX];
};

/* A new usim with ops and a copy of impi. */
int usim_alloc(const struct usim_ops *ops, const char *impi, struct usim **ret);
/* Record a message; returns err. */
int usim_fail(struct usim *u, int err, const char *fmt, ...) _printf_(3, 4);
/* Copy msg into err_buf (if not NULL); returns err. */
int usim_err_out(char *err_buf, size_t err_len, int err, const char *msg);
