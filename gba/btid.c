/* SPDX-License-Identifier: Apache-2.0 */
/* B-TID construction and validation (see btid.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/dns-name.h"
#include "gba/base64.h"
#include "gba/btid.h"

int gba_btid_make(const uint8_t rand[static 16], const char *domain, char *out, size_t out_size)
{
	char b64[GBA_BASE64_LEN(16) + 1];
	int n;

	if (!dns_name_valid(domain))
		return -EINVAL;
	(void)gba_base64_encode(rand, 16, b64, sizeof(b64));
	n = snprintf(out, out_size, "%s@%s", b64, domain);
	if (n < 0 || (size_t)n >= out_size || n > GBA_BTID_MAX)
		return -ENOBUFS;
	return 0;
}

bool gba_btid_valid(const char *btid)
{
	const char *at = strchr(btid, '@');
	uint8_t raw[GBA_BTID_MAX];
	size_t len = strlen(btid);

	if (len > GBA_BTID_MAX || !at || at == btid)
		return false;
	if (gba_base64_decode(btid, (size_t)(at - btid), raw, sizeof(raw)) <= 0)
		return false;
	return dns_name_valid(at + 1);
}
