/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Bootstrapping Transaction Identifier (TS 33.220 §4.5.2, TS 24.109):
 * B-TID = base64(RAND) "@" BSF server name. The B-TID names the bootstrapped
 * Ks on Ub, Ua and Zn; in oneM2M's GBA RSPF it is also the KmID.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GBA_BTID_MAX 255

/* out = base64(rand) "@" domain; -EINVAL for a domain that is not a DNS name, -ENOBUFS. */
int gba_btid_make(const uint8_t rand[static 16], const char *domain, char *out, size_t out_size);
/* A B-TID of the form above (any RAND length) with a DNS name after the '@'. */
bool gba_btid_valid(const char *btid);
