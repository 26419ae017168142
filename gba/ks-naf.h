/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Ks_NAF from the outputs of one AKA run, as both GBA ends compute it
 * (TS 33.220 §4.5.2 and Annex B.3): Ks = CK || IK, NAF_Id = NAF FQDN || Ua
 * security protocol identifier, Ks_NAF = KDF(Ks, "gba-me", RAND, IMPI, NAF_Id)
 * through common/kdf.h kdf_ks_naf(). Ks is wiped before return.
 */
#pragma once

#include <stdint.h>

#define GBA_CK_LEN 16
#define GBA_IK_LEN 16
#define GBA_KS_LEN 32

/* Ua identifier for shared-key TLS 1.3 (TS 33.220 Annex H): 01 00 00 00 07. */
extern const uint8_t gba_ua_tls13_psk[5];

/* Ks_NAF from Ks (32 bytes). -EINVAL for an invalid IMPI or NAF FQDN. */
int gba_ks_naf(const uint8_t ks[static GBA_KS_LEN], const uint8_t rand[static 16], const char *impi,
	       const char *naf_fqdn, const uint8_t ua_id[static 5], uint8_t out[static 32]);
/* The same from CK and IK. */
int gba_ks_naf_ck_ik(const uint8_t ck[static GBA_CK_LEN], const uint8_t ik[static GBA_IK_LEN],
		     const uint8_t rand[static 16], const char *impi, const char *naf_fqdn,
		     const uint8_t ua_id[static 5], uint8_t out[static 32]);
