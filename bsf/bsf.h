/* SPDX-License-Identifier: Apache-2.0 */
/*
 * m2msa-bsf, the reference BSF: its state, shared by the Ub and Zn handlers and
 * the event loop, and the small HTTP helpers both handlers use (libmicrohttpd).
 */
#pragma once

#include <microhttpd.h>
#include <stddef.h>
#include <stdint.h>

#include "bsf/bsf-conf.h"
#include "bsf/bsf-store.h"
#include "bsf/pending.h"
#include "common/ratelimit.h"

#define BSF_BODY_MAX 8192 /* longest request body read */
#define BSF_ADDR_MAX 64

struct bsf {
	struct bsf_conf conf;
	struct bsf_store *store;
	struct bsf_pending_table *pending;
	struct ratelimit *rl;         /* failed answers */
	struct ratelimit *rl_challenge; /* challenges sent, per minute */
};

#define BSF_CHALLENGE_WINDOW_MS 60000

/* CLOCK_MONOTONIC in milliseconds; wall clock in epoch seconds. */
uint64_t bsf_now_ms(void);
int64_t bsf_now(void);

/* The peer's numeric address for logs and rate limits ("?" when unknown). */
void bsf_peer_address(struct MHD_Connection *c, char out[static BSF_ADDR_MAX]);

/*
 * Queue a response. body is taken over (wiped and freed when MHD is done with it;
 * NULL for none). hdr/value: one extra header, or NULL.
 */
enum MHD_Result bsf_reply(struct MHD_Connection *c, unsigned status, const char *content_type,
			  char *body, const char *hdr, const char *value);
/* A text/plain reply with a formatted one-line message. */
enum MHD_Result bsf_reply_text(struct MHD_Connection *c, unsigned status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The request handlers; body is the whole request body. */
enum MHD_Result bsf_ub_handle(struct bsf *b, struct MHD_Connection *c, const char *url,
			      const char *method, const uint8_t *body, size_t body_len);
enum MHD_Result bsf_zn_handle(struct bsf *b, struct MHD_Connection *c, const char *url,
			      const char *method, const uint8_t *body, size_t body_len);
