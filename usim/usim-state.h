/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The tpm backend's files in the state folder (next to km.*; mode 0600):
 *   usim.pub, usim.priv  K, wrapped by the TPM (tpm/usimkey.h)
 *   usim.conf            [usim] impi = <IMPI>
 *   usim.opc             OPc, 16 raw bytes
 *   usim.sqn             the highest SQN accepted so far, decimal, one line
 *   usim.lock            flock()ed while a challenge runs (one at a time)
 * Every write goes to a temp file, is fsynced, renamed over the old one, and
 * the folder is fsynced: a crash leaves the old or the new file, never half.
 * Errors: 0 or -errno with a message in err (err_len bytes).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "common/milenage.h"

#define USIM_CONF_FILE "usim.conf"
#define USIM_OPC_FILE "usim.opc"
#define USIM_SQN_FILE "usim.sqn"
#define USIM_LOCK_FILE "usim.lock"
/* usim.conf is small; a larger file is refused as corrupt. */
#define USIM_CONF_MAX 4096

/* Write usim.conf, usim.opc and usim.sqn (provisioning). */
int usim_state_write(const char *dir, const char *impi, const uint8_t opc[static MILENAGE_OP_LEN],
		     uint64_t sqn, char *err, size_t err_len);
/* Read IMPI (malloc'd) and OPc. */
int usim_state_read(const char *dir, char **ret_impi, uint8_t ret_opc[static MILENAGE_OP_LEN],
		    char *err, size_t err_len);
int usim_state_sqn_read(const char *dir, uint64_t *ret, char *err, size_t err_len);
int usim_state_sqn_write(const char *dir, uint64_t sqn, char *err, size_t err_len);
/*
 * The parsers behind the readers (pure; fuzzed by tests/fuzz/fuzz-usim-state.c):
 * usim.conf's text -> IMPI (malloc'd; why gets the reason on -EBADMSG), and
 * usim.sqn's text (decimal digits, an optional newline, at most 2^48-1) -> SQN.
 */
int usim_state_parse_conf(const char *text, size_t len, char **ret_impi, char *why,
			  size_t why_len);
int usim_state_parse_sqn(const char *text, size_t len, uint64_t *ret);
/* Open and flock (exclusive) usim.lock; returns the fd (close() unlocks) or -errno. */
int usim_state_lock(const char *dir, char *err, size_t err_len);
