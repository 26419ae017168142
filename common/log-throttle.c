/* SPDX-License-Identifier: Apache-2.0 */
/* Per-second log budgets with a count of the suppressed lines (log-throttle.h). */
#include <inttypes.h>

#include "common/log-throttle.h"
#include "common/log.h"

void log_throttle_flush(struct log_throttle *t, uint64_t now_ms, const char *what)
{
	uint64_t sec = now_ms / 1000;

	if (sec == t->second)
		return;
	if (t->dropped)
		log_warning("%" PRIu64 " more %s were not logged (at most %" PRIu32 " a second)",
			    t->dropped, what, t->per_second);
	t->second = sec;
	t->lines = 0;
	t->dropped = 0;
}

bool log_throttle_ok(struct log_throttle *t, uint64_t now_ms, const char *what)
{
	log_throttle_flush(t, now_ms, what);
	if (t->lines < t->per_second) {
		t->lines++;
		return true;
	}
	t->dropped++;
	return false;
}
