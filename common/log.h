/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Logging for the daemons and tools: levels, to stderr or the journal (sd-journal),
 * chosen once at start. Libraries do not log; they return errors.
 * Never pass key bytes to these functions: use secret_redact().
 */
#pragma once

#include <stdarg.h>

#include "common/util.h"

enum log_level {
	LOG_LEVEL_ERROR,
	LOG_LEVEL_WARNING,
	LOG_LEVEL_NOTICE,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
	_LOG_LEVEL_MAX,
};

enum log_target {
	LOG_TARGET_STDERR,
	LOG_TARGET_JOURNAL,
	_LOG_TARGET_MAX,
};

void log_setup(const char *ident, enum log_target target, enum log_level max_level);
void log_set_level(enum log_level max_level);
/* Parses "error", "warning", "notice", "info", "debug"; -EINVAL otherwise. */
int log_level_from_string(const char *s, enum log_level *ret);
/* Parses "stderr", "journal"; -EINVAL otherwise. */
int log_target_from_string(const char *s, enum log_target *ret);
/*
 * A daemon's log_setup() from its --log-target and --log-level values (level may come
 * from its config file instead). NULL takes the default: the journal when systemd gave
 * the daemon a journal stream (JOURNAL_STREAM is set), else stderr; level info. An
 * unknown value sets up nothing: -EINVAL, and err holds a message naming the value and
 * the ones there are. *ret_level (may be NULL) is the level set.
 */
int log_setup_daemon(const char *ident, const char *target, const char *level,
		     enum log_level *ret_level, char *err, size_t err_len);

void log_msg(enum log_level level, const char *fmt, ...) _printf_(2, 3);
void log_vmsg(enum log_level level, const char *fmt, va_list ap) _printf_(2, 0);

#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_LEVEL_WARNING, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_LEVEL_NOTICE, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)
