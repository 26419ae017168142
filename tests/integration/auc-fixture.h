/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The AuC side of the USIM tests, in software (common/milenage.h, common/aka.h):
 * a challenge for a USIM with K and OPc, and the answers it should give.
 */
#pragma once

#include <stdint.h>

struct auc_vector {
	uint8_t rand[16], autn[16], xres[8], ck[16], ik[16];
};

/* A random RAND, AUTN for SQN sqn (AMF 0x8000), and the expected RES, CK and IK; asserts. */
void auc_make(const uint8_t k[16], const uint8_t opc[16], uint64_t sqn, struct auc_vector *v);
