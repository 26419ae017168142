/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Inside the association manager (agent/sa-manager.h), shared by sa-manager.c
 * (the state machine: establish, rekey, back off, expire) and sa-manager-status.c
 * (what it reports: key, status, description). Nothing else includes it.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/agent-conf.h"
#include "agent/backoff.h"
#include "agent/establish.h"
#include "agent/gba-keeper.h"
#include "agent/node-creds.h"
#include "agent/sa-manager.h"
#include "agent/status.h"
#include "common/loop.h"
#include "common/secret.h"
#include "common/wire.h"

enum sa_manager_state {
	SA_MANAGER_IDLE,
	SA_MANAGER_ESTABLISHING,
	SA_MANAGER_ESTABLISHED,
	SA_MANAGER_REKEYING,
	SA_MANAGER_BACKOFF,
	_SA_MANAGER_STATE_MAX,
};

struct sa_assoc {
	char key_id[WIRE_KEY_ID_MAX + 1];
	struct secret *kc;
	struct secret *ae_root;
	uint64_t issued_ms; /* wall clock */
	uint64_t expiry;    /* epoch seconds, from the MAS */
	uint8_t method;
	char suite[WIRE_SUITE_MAX + 1];
};

struct sa_manager {
	const struct agent_conf *conf;
	size_t endpoint; /* which of conf->mas_addresses this attempt uses */
	enum sa_manager_state state;
	struct sa_assoc *current, *next;

	struct node_creds *creds; /* TPM, Km, node certificate, TLS context: cached */
	struct gba_keeper *gba;   /* method gba offered: the bootstrap kept fresh */

	struct establish_op *op;
	uint64_t op_deadline; /* mono ms */
	uint64_t peer_verify_at; /* mono ms: the last rekey asked for by a refused end-to-end proof */

	struct loop *loop;
	struct loop_watch *op_watch;	    /* the fd of op */
	struct loop_watch *t_mono, *t_wall; /* CLOCK_BOOTTIME deadlines, CLOCK_REALTIME instants */
	bool armed;			    /* armed_* hold what the timers are set to */
	uint64_t armed_mono, armed_wall;
	/* When the timers were last synced: CLOCK_BOOTTIME ms and CLOCK_REALTIME minus it, to
	 * notice a set clock when the kernel reports the wall timer as expired, not cancelled. */
	uint64_t synced_mono;
	int64_t synced_offset;

	struct backoff backoff;
	uint64_t retry_at;      /* mono ms, 0: none */
	uint64_t retry_at_wall; /* epoch s, for the status */
	uint64_t rekey_at;      /* wall ms, 0: none */

	uint32_t failures;
	uint64_t last_failure_time;
	char last_failure[AGENT_STATUS_REASON_MAX];
	bool changed;

	sa_manager_event_fn event_fn;
	void *event_userdata;
};

extern const char *const sa_manager_state_names[_SA_MANAGER_STATE_MAX];

/* CLOCK_REALTIME in ms. */
uint64_t sa_manager_wall_ms(void);
/* a holds a key that has not expired at now_wall (ms). */
bool sa_manager_assoc_valid(const struct sa_assoc *a, uint64_t now_wall);
/* An epoch time as local HH:MM:SS (the number when it cannot be converted). */
void sa_manager_fmt_time(uint64_t epoch, char *buf, size_t len);
