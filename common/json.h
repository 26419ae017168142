/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one JSON string writer, for every JSON the project prints or stores: the
 * tools' --json output (m2masctl, m2msactl) and the agent's status object.
 */
#pragma once

#include <stdio.h>

/*
 * s as a JSON string with its quotes (RFC 8259 section 7): '"' and '\' escaped,
 * control characters (and DEL) as \u00XX, everything else (UTF-8 included) as it is.
 */
void json_write_string(FILE *f, const char *s);
