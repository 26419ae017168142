/* SPDX-License-Identifier: Apache-2.0 */
/* SQLite helpers of the SQLite node store backend (store-sqlite-util.h). */
#include <errno.h>
#include <sqlite3.h>
#include <stdint.h>
#include <string.h>

#include "mas/store-sqlite-util.h"

/* Map an SQLite result code (extended codes on) to -errno. */
int sq_errno(sqlite3 *db, int rc)
{
	int e;

	switch (rc) {
	case SQLITE_OK:
	case SQLITE_ROW:
	case SQLITE_DONE:
		return 0;
	case SQLITE_CONSTRAINT_PRIMARYKEY:
	case SQLITE_CONSTRAINT_UNIQUE:
		return -EEXIST;
	case SQLITE_CONSTRAINT_FOREIGNKEY:
		return -ENOENT;
	default:
		break;
	}
	switch (rc & 0xff) {
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_PERM:
	case SQLITE_AUTH:
	case SQLITE_READONLY:
		return -EACCES;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_TOOBIG:
		return -E2BIG;
	case SQLITE_CONSTRAINT:
	case SQLITE_MISMATCH:
	case SQLITE_RANGE:
		return -EINVAL;
	case SQLITE_CANTOPEN:
		e = db ? sqlite3_system_errno(db) : 0;
		return (e == ENOENT || e == EACCES || e == EPERM || e == ENOTDIR || e == EROFS) ?
			       -e :
			       -EIO;
	default: /* SQLITE_NOTADB, SQLITE_CORRUPT, SQLITE_IOERR, ... */
		return -EIO;
	}
}

/* Step a statement that returns no rows. */
int sq_step_done(sqlite3 *db, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_DONE)
		return 0;
	if (rc == SQLITE_ROW)
		return -EIO;
	return sq_errno(db, rc);
}

/* Step a statement expected to return one row: 1 on a row, 0 on none, or -errno. */
int sq_step_row(sqlite3 *db, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return sq_errno(db, rc);
}

int sq_exec(sqlite3 *db, const char *sql)
{
	int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : sq_errno(db, rc);
}

int sq_tx_end(sqlite3 *db, int r)
{
	if (r < 0) {
		(void)sq_exec(db, "ROLLBACK");
		return r;
	}
	r = sq_exec(db, "COMMIT");
	if (r < 0)
		(void)sq_exec(db, "ROLLBACK");
	return r;
}

/* One integer from a PRAGMA or SELECT without parameters. */
int sq_query_int(sqlite3 *db, const char *sql, int64_t *ret)
{
	_cleanup_stmt_finalize_ sqlite3_stmt *st = NULL;
	int rc, r;

	rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return sq_errno(db, rc);
	r = sq_step_row(db, st);
	if (r < 0)
		return r;
	if (r == 0)
		return -EIO;
	*ret = sqlite3_column_int64(st, 0);
	return 0;
}

int sq_bind_u64(sqlite3_stmt *st, int idx, uint64_t v)
{
	if (v > INT64_MAX)
		return -EINVAL;
	return sqlite3_bind_int64(st, idx, (sqlite3_int64)v) == SQLITE_OK ? 0 : -ENOMEM;
}

int sq_bind_text(sqlite3_stmt *st, int idx, const char *v)
{
	return sqlite3_bind_text(st, idx, v, -1, SQLITE_STATIC) == SQLITE_OK ? 0 : -ENOMEM;
}

int sq_bind_blob(sqlite3_stmt *st, int idx, const void *v, size_t len)
{
	/* len 0: an empty blob, never SQL NULL (NOT NULL columns take it). */
	if (len == 0)
		return sqlite3_bind_zeroblob(st, idx, 0) == SQLITE_OK ? 0 : -ENOMEM;
	return sqlite3_bind_blob(st, idx, v, (int)len, SQLITE_TRANSIENT) == SQLITE_OK ? 0 : -ENOMEM;
}

/* Copy a blob column that must be exactly len bytes. */
int sq_column_blob(sqlite3_stmt *st, int col, uint8_t *buf, size_t len)
{
	const void *blob = sqlite3_column_blob(st, col);

	if (!blob || sqlite3_column_bytes(st, col) != (int)len)
		return -EIO;
	memcpy(buf, blob, len);
	return 0;
}

int sq_copy_text(char *dst, size_t dst_len, const unsigned char *src)
{
	if (!src || strlen((const char *)src) >= dst_len)
		return -EIO;
	strcpy(dst, (const char *)src);
	return 0;
}

