/* SPDX-License-Identifier: Apache-2.0 */
/*
 * UMTS AKA tokens over Milenage (3GPP TS 33.102 §6.3), for both ends:
 *   AUTN = (SQN xor AK) || AMF || MAC-A        (made by the AuC, opened by the USIM)
 *   AUTS = (SQN_MS xor AK*) || MAC-S           (made by the USIM, opened by the AuC),
 *   MAC-S = f1*(SQN_MS || RAND || AMF*), AMF* = 0x0000 (§6.3.3).
 * and the USIM's side of one run (aka_usim_run): MAC check, SQN freshness check
 * (a single highest-accepted counter with a window, TS 33.102 Annex C.2 without
 * the IND array), then RES/CK/IK or AUTS. Nothing here stores state: the
 * caller persists the accepted SQN before the answer leaves.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "common/milenage.h"

#define AKA_AUTN_LEN 16
#define AKA_AUTS_LEN 14
/* SQN is 48 bits. */
#define AKA_SQN_MAX ((UINT64_C(1) << 48) - 1)
/* Default window: how far ahead of the highest accepted SQN a fresh one may be (2^28, Annex C.2 Δ). */
#define AKA_SQN_WINDOW_DEFAULT (UINT64_C(1) << 28)

uint64_t aka_sqn_get(const uint8_t sqn[static MILENAGE_SQN_LEN]);
void aka_sqn_put(uint64_t v, uint8_t sqn[static MILENAGE_SQN_LEN]);
/* true when sqn > highest and sqn - highest <= window. */
bool aka_sqn_fresh(uint64_t sqn, uint64_t highest, uint64_t window);

/* AuC: AUTN for (SQN, AMF) in the run m. */
int aka_autn_make(const struct milenage *m, const uint8_t sqn[static MILENAGE_SQN_LEN],
		  const uint8_t amf[static MILENAGE_AMF_LEN], uint8_t ret_autn[static AKA_AUTN_LEN]);
/* USIM: recover SQN and AMF from AUTN; -EBADMSG when MAC-A does not verify. */
int aka_autn_open(const struct milenage *m, const uint8_t autn[static AKA_AUTN_LEN],
		  uint8_t ret_sqn[static MILENAGE_SQN_LEN], uint8_t ret_amf[static MILENAGE_AMF_LEN]);
/* USIM: AUTS for SQN_MS (the highest SQN it accepted). */
int aka_auts_make(const struct milenage *m, const uint8_t sqn_ms[static MILENAGE_SQN_LEN],
		  uint8_t ret_auts[static AKA_AUTS_LEN]);
/* AuC: recover SQN_MS from AUTS; -EBADMSG when MAC-S does not verify. */
int aka_auts_open(const struct milenage *m, const uint8_t auts[static AKA_AUTS_LEN],
		  uint8_t ret_sqn_ms[static MILENAGE_SQN_LEN]);

enum aka_result {
	AKA_RESULT_OK,
	AKA_RESULT_SYNC_FAILURE,
	AKA_RESULT_MAC_FAILURE,
	_AKA_RESULT_MAX,
};

/* What the USIM answers. Holds keys: wipe with aka_usim_out_wipe(). */
struct aka_usim_out {
	enum aka_result result;
	uint8_t res[MILENAGE_RES_LEN];   /* OK */
	uint8_t ck[MILENAGE_CK_LEN];     /* OK */
	uint8_t ik[MILENAGE_IK_LEN];     /* OK */
	uint64_t sqn;                    /* OK: the SQN now accepted (persist it) */
	uint8_t auts[AKA_AUTS_LEN];      /* SYNC_FAILURE */
};
void aka_usim_out_wipe(struct aka_usim_out *o);
#define _cleanup_aka_usim_out_ _cleanup_(aka_usim_out_wipe)

/*
 * The USIM side of TS 33.102 §6.3.3 for (RAND, AUTN), given the highest SQN
 * accepted so far: MAC failure, sync failure (with AUTS), or RES/CK/IK and the
 * new highest SQN. Returns 0 whatever the AKA result; -errno when E_K fails.
 */
int aka_usim_run(const struct milenage_cipher *cipher, const uint8_t opc[static MILENAGE_OP_LEN],
		 const uint8_t rand[static MILENAGE_RAND_LEN],
		 const uint8_t autn[static AKA_AUTN_LEN], uint64_t sqn_highest, uint64_t window,
		 struct aka_usim_out *ret);

/* A readable name for a result ("ok", "sync failure", "MAC failure"). */
const char *aka_result_to_string(enum aka_result r);
