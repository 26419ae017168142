/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's GBA bootstrap, kept fresh for the association manager
 * (agent/sa-manager.c): Km for method gba is Ks_NAF in the gba slot
 * (agent/gba-slot.h), named by its B-TID and good until the Ks lifetime ends.
 *
 *  - gba_keeper_km(): the slot's key loaded in the TPM, its B-TID and expiry,
 *    when at least GBA_KEEPER_MARGIN of its lifetime is left; else -ENOENT.
 *  - gba_keeper_bootstrap(): one Ub run off the loop (agent/gba-boot.h; the
 *    USIM on the loop thread, over the manager's TPM context), then Ks_NAF into
 *    the slot. Failures back off (the agent's backoff_min..backoff_max) while
 *    the manager keeps offering its other methods.
 *  - Renewal: make before break. At issue + lifetime * U(0.50, 0.60) a new
 *    bootstrap is started while the old Ks_NAF (and every association made with
 *    it, capped at its expiry) stays in use; the new one replaces the slot
 *    whole when it arrives.
 *  - done(userdata) after every bootstrap (success or not) and when a renewal
 *    is due: the manager then looks again (and calls gba_keeper_bootstrap()).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "agent/agent-conf.h"
#include "common/kdf.h"

struct loop;
struct tpm_ctx;
struct gba_keeper;

typedef void (*gba_keeper_fn)(void *userdata);

int gba_keeper_new(const struct agent_conf *conf, struct loop *loop, uint64_t seed,
		   gba_keeper_fn fn, void *userdata, struct gba_keeper **ret);
void gba_keeper_free(struct gba_keeper *k);
/* conf is borrowed; a changed [gba] section takes effect at the next bootstrap. */
void gba_keeper_set_conf(struct gba_keeper *k, const struct agent_conf *conf);

/* 0 with the ready Km (valid until the next call to any gba_keeper_* function), or -ENOENT. */
int gba_keeper_km(struct gba_keeper *k, struct tpm_ctx *t, const char **ret_btid,
		  const struct kdf_prf **ret_prf, uint64_t *ret_expiry);
/*
 * Start a bootstrap now unless one is running or a backoff is pending. t is
 * borrowed until done (or gba_keeper_drop_tpm()). 0 started or already
 * running, -EAGAIN backing off, other -errno (logged) when it could not start.
 */
int gba_keeper_bootstrap(struct gba_keeper *k, struct tpm_ctx *t, const char *node_id,
			 const char *why);
bool gba_keeper_running(const struct gba_keeper *k);
/* A bootstrap should start now: no usable slot, or its renewal is due; not while backing off. */
bool gba_keeper_due(const struct gba_keeper *k);
/* The MAS does not know the B-TID (expired): forget the slot, bootstrap next. */
void gba_keeper_invalidate(struct gba_keeper *k);
/* The TPM context is closing: cancel a bootstrap in flight, drop the loaded key. */
void gba_keeper_drop_tpm(struct gba_keeper *k);
/* For the status: the last failure ("" none). */
const char *gba_keeper_last_error(const struct gba_keeper *k);
