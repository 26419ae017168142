/* SPDX-License-Identifier: Apache-2.0 */
/*
 * "After every integration test, the logs contain no key bytes": the keys a test
 * saw, collected systematically, searched for in every log the test produced.
 * Criterion-free.
 *
 * Keys come from two places: the test itself (secrets_note(): Km it generated,
 * keys it was handed) and the m2masd store it ran against (secrets_note_store():
 * every node's Km, every association's Kc and AE root, and the per-AE key of
 * every AE-ID that appears in a per-AE key ID "<hex KcID>-<AE-ID>@..." in the
 * logs). The logs are every *.log and *.json file under the test's directory
 * (m2masd.log, m2msad.log, standin.log, status.json, ...); deliberate key outputs
 * (m2msactl subscribe's JSON, an AE client's stdout) are named *.out and are not
 * logs. Each key is searched as lower- and uppercase hex of its first 8 bytes,
 * base64 and base64url of its first 24 bytes, and its first 16 raw bytes.
 *
 * Call from every integration suite's .fini (it runs after a failed assertion too):
 *   secrets_assert_logs_clean(dir, db, master);   // db/master NULL: no store
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Remember key (len >= 16 bytes; longer keys are cut to 64). what: "Km", "Kc of ...". */
void secrets_note(const uint8_t *key, size_t len, const char *what);
/* How many keys are noted so far. */
size_t secrets_count(void);
/*
 * Note the keys in the m2masd store db (master key file master), and the per-AE
 * keys of AE-IDs named in per-AE key IDs in the logs under dir (NULL: none).
 * Returns how many keys were noted, or -errno.
 */
int secrets_note_store(const char *db, const char *master, const char *dir);
/*
 * Search every *.log and *.json file under dir for every noted key. Returns 0
 * when clean, the number of hits (the first few described in report), or -errno.
 * Forgets (wipes) the noted keys either way.
 */
int secrets_scan(const char *dir, char *report, size_t report_len);
/* secrets_note_store() when db is not NULL and exists (an unreadable store is
 * reported on stderr and skipped), then secrets_scan(). */
int secrets_check_dir(const char *dir, const char *db, const char *master, char *report,
		      size_t report_len);

/*
 * For a suite's .fini: secrets_check_dir(), and on a hit or an error print the
 * report to stderr and abort(). (Criterion 2.4 ignores a failed cr_assert in
 * .fini; a crash in .fini makes the test program exit non-zero, so meson test
 * fails.) The test dir is left in place when that happens, for a look.
 */
void secrets_assert_logs_clean(const char *dir, const char *db, const char *master);
