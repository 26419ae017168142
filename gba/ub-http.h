/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Ub's transport: one HTTPS GET to the BSF over libcurl with the BSF's CA
 * pinned (CURLOPT_CAINFO only: no system CA file or folder), TLS 1.2 or newer,
 * https only, no redirects, no proxy from the environment, a time limit. Safe
 * to call from a worker thread (CURLOPT_NOSIGNAL; curl_global_init() must have
 * run once in the main thread first: gba_ub_http_global_init()).
 *
 * gba_ub_bootstrap() strings the steps of gba/ub-client.h together with
 * blocking GETs, for one-shot tools (m2msactl) and tests. The agent runs the
 * same steps with each GET in a worker thread (agent/gba-boot.h).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "gba/bootstrap-info.h"
#include "gba/digest.h"
#include "gba/ub-client.h"

struct usim;

struct gba_ub_http {
	const char *bsf_url; /* https://bsf.example.net[:port][/path] */
	const char *bsf_ca;  /* PEM file with the CA(s) that may sign the BSF's certificate */
	long timeout_ms;     /* for the whole GET; 0: 10 s */
};

/* curl_global_init(CURL_GLOBAL_DEFAULT) once; 0 or -EIO. */
int gba_ub_http_global_init(void);

/*
 * GET the URL with Authorization: authz. 0 with the reply (any HTTP status), or
 * -errno with err naming the problem: -ETIMEDOUT, -ECONNREFUSED, -EHOSTUNREACH,
 * -EPERM (the BSF's certificate does not verify against bsf_ca), -EMSGSIZE (reply
 * too long), -EIO otherwise.
 */
int gba_ub_http_get(const struct gba_ub_http *h, const char *authz, struct gba_ub_reply *ret,
		    char *err, size_t err_len);

/*
 * The whole Ub run with blocking GETs: first GET, 401, USIM, answer (one AUTS
 * resync round when needed), 200. Errors as gba_ub_on_challenge(),
 * gba_ub_on_success() and gba_ub_http_get(); -EACCES when the BSF refuses the
 * subscriber (403) or the answer (another 401 after a RES answer).
 */
int gba_ub_bootstrap(const struct gba_ub_http *h, const char *impi, struct usim *usim,
		     const char *naf_fqdn, struct gba_ub_result *ret, char *err, size_t err_len);

