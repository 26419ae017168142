/* SPDX-License-Identifier: Apache-2.0 */
/* Levelled logging to stderr or the systemd journal. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <systemd/sd-journal.h>

#include "common/log.h"

static const char *log_ident = "m2msa";
static enum log_target log_target = LOG_TARGET_STDERR;
static enum log_level log_max = LOG_LEVEL_INFO;

static const char *const level_names[_LOG_LEVEL_MAX] = {
	[LOG_LEVEL_ERROR] = "error",   [LOG_LEVEL_WARNING] = "warning",
	[LOG_LEVEL_NOTICE] = "notice", [LOG_LEVEL_INFO] = "info",
	[LOG_LEVEL_DEBUG] = "debug",
};

static const int level_priority[_LOG_LEVEL_MAX] = {
	[LOG_LEVEL_ERROR] = LOG_ERR,	   [LOG_LEVEL_WARNING] = LOG_WARNING,
	[LOG_LEVEL_NOTICE] = LOG_NOTICE, [LOG_LEVEL_INFO] = LOG_INFO,
	[LOG_LEVEL_DEBUG] = LOG_DEBUG,
};

void log_setup(const char *ident, enum log_target target, enum log_level max_level)
{
	if (ident)
		log_ident = ident;
	log_target = target;
	log_max = max_level;
}

/* m2masd's workers log while its main thread changes the level (SIGHUP): atomic. */
void log_set_level(enum log_level max_level)
{
	__atomic_store_n(&log_max, max_level, __ATOMIC_RELAXED);
}

int log_level_from_string(const char *s, enum log_level *ret)
{
	for (int i = 0; i < _LOG_LEVEL_MAX; i++)
		if (s && strcmp(s, level_names[i]) == 0) {
			*ret = (enum log_level)i;
			return 0;
		}
	return -EINVAL;
}

int log_target_from_string(const char *s, enum log_target *ret)
{
	if (s && strcmp(s, "stderr") == 0)
		*ret = LOG_TARGET_STDERR;
	else if (s && strcmp(s, "journal") == 0)
		*ret = LOG_TARGET_JOURNAL;
	else
		return -EINVAL;
	return 0;
}

int log_setup_daemon(const char *ident, const char *target, const char *level,
		     enum log_level *ret_level, char *err, size_t err_len)
{
	enum log_target t = getenv("JOURNAL_STREAM") ? LOG_TARGET_JOURNAL : LOG_TARGET_STDERR;
	enum log_level l = LOG_LEVEL_INFO;

	if (target && log_target_from_string(target, &t) < 0) {
		snprintf(err, err_len, "unknown log target '%s' (use stderr or journal)", target);
		return -EINVAL;
	}
	if (level && log_level_from_string(level, &l) < 0) {
		snprintf(err, err_len,
			 "unknown log level '%s' (use error, warning, notice, info or debug)",
			 level);
		return -EINVAL;
	}
	log_setup(ident, t, l);
	if (ret_level)
		*ret_level = l;
	return 0;
}

void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	char buf[2048];
	int saved_errno = errno;

	if (level < 0 || level >= _LOG_LEVEL_MAX ||
	    level > __atomic_load_n(&log_max, __ATOMIC_RELAXED))
		return;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	if (log_target == LOG_TARGET_JOURNAL)
		sd_journal_send("MESSAGE=%s", buf, "PRIORITY=%d", level_priority[level],
				"SYSLOG_IDENTIFIER=%s", log_ident, NULL);
	else
		fprintf(stderr, "%s: %s: %s\n", log_ident, level_names[level], buf);
	errno = saved_errno;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}
