/* SPDX-License-Identifier: Apache-2.0 */
/*
 * UTC timestamps as GBA writes them: xs:dateTime in BootstrappingInfo (TS 24.109
 * Annex C) and DateTime (RFC 3339) in Nbsp_GBA JSON (TS 29.571), always in the
 * one form "YYYY-MM-DDThh:mm:ssZ". The parser accepts that form and an optional
 * fraction of a second (dropped); offsets other than Z are refused.
 */
#pragma once

#include <stdint.h>

#define GBA_TIME_TEXT_LEN 20

int gba_time_format(int64_t epoch, char out[static GBA_TIME_TEXT_LEN + 1]);
/* -EINVAL for anything else than the form above, or an impossible date. */
int gba_time_parse(const char *text, int64_t *ret);
