/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Challenges the BSF sent and has not seen answered: nonce -> IMPI, RAND, XRES,
 * CK, IK, deadline. One-time: bsf_pending_take() removes the entry, so a nonce is
 * consumed by its first answer (right or wrong) and a replay finds nothing.
 * A fixed table in locked memory, wiped entry by entry; when full, the entry
 * closest to its deadline makes room. Times are CLOCK_MONOTONIC milliseconds.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "bsf/auc.h"
#include "gba/digest.h"
#include "gba/zn-json.h"

struct bsf_pending {
	char nonce[GBA_NONCE_TEXT_LEN + 1];
	char impi[GBA_IMPI_MAX + 1];
	struct bsf_vector v;
	uint64_t deadline_ms;
};

struct bsf_pending_table;

int bsf_pending_new(size_t n_slots, struct bsf_pending_table **ret);
void bsf_pending_free(struct bsf_pending_table *t);
/* Remember p (copied). Expired entries are dropped first. */
void bsf_pending_add(struct bsf_pending_table *t, const struct bsf_pending *p, uint64_t now_ms);
/*
 * Find and remove the entry for nonce into ret (the caller wipes ret->v).
 * -ENOENT: unknown or already answered; -ETIMEDOUT: it was there but expired.
 */
int bsf_pending_take(struct bsf_pending_table *t, const char *nonce, uint64_t now_ms,
		     struct bsf_pending *ret);
