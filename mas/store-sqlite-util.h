/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SQLite helpers of the SQLite backend (store-sqlite-util.c): result codes to
 * -errno, stepping, transactions, binding and reading columns. Not for use
 * outside store-sqlite*.c.
 */
#pragma once

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "common/util.h"

/* Cleanup for cached statements: ready for the next use, bindings dropped. */
static inline void sq_stmt_resetp(sqlite3_stmt **st)
{
	if (*st) {
		sqlite3_reset(*st);
		sqlite3_clear_bindings(*st);
	}
}
#define _cleanup_stmt_reset_ _cleanup_(sq_stmt_resetp)

static inline void sq_stmt_finalizep(sqlite3_stmt **st)
{
	sqlite3_finalize(*st);
}
#define _cleanup_stmt_finalize_ _cleanup_(sq_stmt_finalizep)

/* Map an SQLite result code (extended codes on) to -errno. */
int sq_errno(sqlite3 *db, int rc);
/* Step a statement that returns no rows. */
int sq_step_done(sqlite3 *db, sqlite3_stmt *st);
/* Step a statement expected to return one row: 1 on a row, 0 on none, or -errno. */
int sq_step_row(sqlite3 *db, sqlite3_stmt *st);
int sq_exec(sqlite3 *db, const char *sql);
/* End the transaction: COMMIT if r >= 0 (ROLLBACK if that fails), else ROLLBACK; r or the error. */
int sq_tx_end(sqlite3 *db, int r);
/* One integer from a PRAGMA or SELECT without parameters. */
int sq_query_int(sqlite3 *db, const char *sql, int64_t *ret);

int sq_bind_u64(sqlite3_stmt *st, int idx, uint64_t v);
int sq_bind_text(sqlite3_stmt *st, int idx, const char *v);
int sq_bind_blob(sqlite3_stmt *st, int idx, const void *v, size_t len);
/* Copy a blob column that must be exactly len bytes. */
int sq_column_blob(sqlite3_stmt *st, int col, uint8_t *buf, size_t len);
/* Copy a text column into dst; -EIO if NULL or too long. */
int sq_copy_text(char *dst, size_t dst_len, const unsigned char *src);
