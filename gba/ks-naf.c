/* SPDX-License-Identifier: Apache-2.0 */
/* Ks_NAF from Ks or from CK and IK (see ks-naf.h). */
#include <errno.h>
#include <string.h>

#include "common/dns-name.h"
#include "common/kdf.h"
#include "common/secret.h"
#include "gba/btid.h"
#include "gba/ks-naf.h"
#include "gba/zn-json.h"

const uint8_t gba_ua_tls13_psk[5] = { 0x01, 0x00, 0x00, 0x00, 0x07 };

int gba_ks_naf(const uint8_t ks[static GBA_KS_LEN], const uint8_t rand[static 16], const char *impi,
	       const char *naf_fqdn, const uint8_t ua_id[static 5], uint8_t out[static 32])
{
	uint8_t naf_id[GBA_FQDN_MAX + 5];
	size_t n = strlen(naf_fqdn);

	if (!dns_name_valid(naf_fqdn) || !impi[0] || strlen(impi) > GBA_IMPI_MAX)
		return -EINVAL;
	memcpy(naf_id, naf_fqdn, n);
	memcpy(naf_id + n, ua_id, 5);
	return kdf_ks_naf(ks, rand, impi, naf_id, n + 5, out);
}

int gba_ks_naf_ck_ik(const uint8_t ck[static GBA_CK_LEN], const uint8_t ik[static GBA_IK_LEN],
		     const uint8_t rand[static 16], const char *impi, const char *naf_fqdn,
		     const uint8_t ua_id[static 5], uint8_t out[static 32])
{
	_cleanup_key32_ struct key32 ks;
	memcpy(ks.b, ck, GBA_CK_LEN);
	memcpy(ks.b + GBA_CK_LEN, ik, GBA_IK_LEN);
	return gba_ks_naf(ks.b, rand, impi, naf_fqdn, ua_id, out);
}
