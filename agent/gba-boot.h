/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One GBA bootstrap run off the agent's event loop (common/loop.h): each Ub GET
 * (gba/ub-http.h, blocking libcurl) runs in its own short-lived worker thread
 * and reports back through an eventfd watched by the loop; the steps between
 * the GETs (the USIM, which for backend tpm uses the TPM context the loop thread
 * owns; rspauth; Ks_NAF) run on the loop thread, one at a time.
 *
 * Why a thread per GET rather than libcurl's multi interface on the loop: a
 * bootstrap is rare (once per Ks lifetime), so a thread costs nothing that
 * matters; the transfer code is then the same blocking code m2msactl runs one
 * shot; and nothing of the TPM or the USIM ever leaves the loop thread (a
 * tpm_ctx is not thread-safe, and swtpm serves one connection at a time, so a
 * second TPM connection in the worker would wait behind the agent's). A BSF that
 * never answers costs one sleeping thread until [gba] timeout; the loop, key
 * service and other methods carry on meanwhile.
 *
 *   gba_boot_start(loop, &params, usim, done, ctx, &b);
 *   ... done(r, &result, err, ctx) is called once, from the loop ...
 *   gba_boot_free(b);        // also cancels a run in flight (done is not called)
 */
#pragma once

#include "gba/ub-client.h"

struct loop;
struct usim;
struct gba_boot;

struct gba_boot_params {
	const char *bsf_url, *bsf_ca; /* copied */
	long timeout_ms;              /* per GET; 0: 10 s */
	const char *impi;             /* copied; NULL: the USIM's */
	const char *naf_fqdn;         /* copied: the MAS FQDN */
};

/*
 * r: 0 with res (Ks_NAF inside: the callee imports it and wipes it; it is wiped
 * after the callback returns anyway), or -errno with err for a person.
 */
typedef void (*gba_boot_done_fn)(int r, struct gba_ub_result *res, const char *err,
				 void *userdata);

/* usim is borrowed until done or gba_boot_free(). -errno with err when nothing started. */
int gba_boot_start(struct loop *l, const struct gba_boot_params *p, struct usim *usim,
		   gba_boot_done_fn done, void *userdata, struct gba_boot **ret, char *err,
		   size_t err_len);
/* Cancel (a GET in flight finishes in its thread and is thrown away) and free; NULL is fine. */
void gba_boot_free(struct gba_boot *b);
