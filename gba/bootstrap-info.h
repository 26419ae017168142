/* SPDX-License-Identifier: Apache-2.0 */
/*
 * BootstrappingInfo, the body of the BSF's 200 OK on Ub (TS 24.109 Annex C,
 * MIME type application/vnd.3gpp.bsf+xml):
 *   <?xml version="1.0" encoding="UTF-8"?>
 *   <BootstrappingInfo xmlns="uri:3gpp-gba">
 *     <btid>B-TID</btid><lifetime>2026-12-02T10:00:00Z</lifetime>
 *   </BootstrappingInfo>
 * The parser is small and strict on purpose: an optional XML declaration
 * (version 1.0, UTF-8), the root with at most the xmlns attribute above, then
 * exactly btid and lifetime, whitespace between elements, and the five
 * predefined entities in text. Comments, DOCTYPE, CDATA, processing
 * instructions, other elements or attributes: -EINVAL.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "gba/btid.h"

#define GBA_BSF_XML_TYPE "application/vnd.3gpp.bsf+xml"
#define GBA_BSF_XML_MAX 4096 /* longest document accepted */

struct gba_bootstrap_info {
	char btid[GBA_BTID_MAX + 1];
	int64_t lifetime; /* expiry of Ks, epoch seconds, UTC */
};

/* Write the document into out; -EINVAL for an invalid B-TID, -ENOBUFS when out is too small. */
int gba_bootstrap_info_format(const struct gba_bootstrap_info *info, char *out, size_t out_size);
/* Parse len bytes (no NUL needed); ret written only on success. -EINVAL, -E2BIG (too long). */
int gba_bootstrap_info_parse(const char *doc, size_t len, struct gba_bootstrap_info *ret);
