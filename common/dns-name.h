/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DNS names as the configuration and the protocols take them: the MAS's fqdn in
 * key IDs, the BSF's domain in a B-TID, a NAF's FQDN on Zn and Ua.
 */
#pragma once

#include <stdbool.h>

/*
 * A DNS name: dot-separated labels of A-Z a-z 0-9 and '-', each 1 to 63 characters,
 * at most 253 characters in all; no trailing dot.
 */
bool dns_name_valid(const char *s);
