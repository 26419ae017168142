/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The BSF's own AuC (a lab component: a real BSF asks the HSS over Zh):
 * authentication vectors from the subscriber's K, OPc, SQN and AMF with Milenage
 * (common/milenage.h, common/aka.h), and SQN resynchronisation from AUTS
 * (TS 33.102 §6.3.5). The new SQN is stored before the vector is returned, so a
 * vector is never handed out twice with the same SQN.
 */
#pragma once

#include <stdint.h>

#include "bsf/bsf-store.h"
#include "common/aka.h"

struct bsf_vector {
	uint8_t rand[MILENAGE_RAND_LEN];
	uint8_t xres[MILENAGE_RES_LEN];
	uint8_t ck[MILENAGE_CK_LEN];
	uint8_t ik[MILENAGE_IK_LEN];
	uint8_t autn[AKA_AUTN_LEN];
};

/* Wipes the vector. */
void bsf_vector_wipe(struct bsf_vector *v);

/* A fresh vector for impi: RAND random, SQN + 1 stored. -ENOENT for an unknown IMPI. */
int bsf_auc_vector(struct bsf_store *s, const char *impi, struct bsf_vector *ret);
/*
 * AUTS for the challenge with rand: MAC-S checked (-EBADMSG when it does not
 * verify), then SQN := SQN_MS, so the next vector carries SQN_MS + 1.
 */
int bsf_auc_resync(struct bsf_store *s, const char *impi, const uint8_t rand[static MILENAGE_RAND_LEN],
		   const uint8_t auts[static AKA_AUTS_LEN]);
