/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A log budget for one kind of event that an attacker can repeat at will
 * (refused connections, denied requests, malformed input): at most per_second
 * lines a second; the others are only counted, and the count is logged as a
 * warning once its second is over ("<n> more <what> were not logged (at most
 * <per_second> a second)"). Times are CLOCK_MONOTONIC milliseconds.
 *
 *   static struct log_throttle t = { .per_second = 10 };
 *   if (log_throttle_ok(&t, now_ms, "refusals"))
 *           log_warning("refusing ...");
 *   ... and from a timer or the event loop: log_throttle_flush(&t, now_ms, "refusals");
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct log_throttle {
	uint32_t per_second;
	uint64_t second;  /* the second lines counts */
	uint64_t lines;   /* logged in that second */
	uint64_t dropped; /* not logged in that second */
};

/* May one more line be logged now? Reports an earlier second's count first. */
bool log_throttle_ok(struct log_throttle *t, uint64_t now_ms, const char *what);
/* Report the count of a second that is over, if any (nothing else is logged meanwhile). */
void log_throttle_flush(struct log_throttle *t, uint64_t now_ms, const char *what);
