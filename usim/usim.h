/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node's USIM for method gba: one small interface, two backends.
 *
 *   challenge (RAND, AUTN) in  ->  RES, CK, IK      (AKA_RESULT_OK)
 *                              ->  AUTS             (AKA_RESULT_SYNC_FAILURE)
 *                              ->  nothing          (AKA_RESULT_MAC_FAILURE: not our network)
 *   plus the subscriber's IMPI (the Ub username).
 *
 * Backends:
 *   tpm   a software USIM whose K is an AES-128 key inside the TPM (tpm/usimkey.h);
 *         OPc, IMPI and the highest accepted SQN in the state folder. The SQN is
 *         written (atomically, fsynced) before a result is returned.
 *   pcsc  a real UICC through pcscd: SELECT the USIM application, AUTHENTICATE
 *         in 3G context (TS 31.102 §7.1.2). The card keeps K and SQN itself.
 *
 * usim_authenticate() returns 0 with the AKA result in *ret (MAC and sync
 * failures are results, not errors), or -errno when no answer could be had:
 * -ENODEV no reader or no card, -ENXIO card removed mid-exchange, -EACCES the
 * card wants its PIN, -ENOENT no USIM application / not provisioned, -EIO
 * anything else. usim_last_error() then names the problem and the fix.
 * Nothing here prints; no key byte reaches a message.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "common/aka.h"

#define USIM_RES_MAX 16
#define USIM_IMPI_MAX 255

struct usim;
struct tpm_ctx;

/* What one challenge gave. Holds keys: wipe with usim_result_wipe(). */
struct usim_result {
	enum aka_result result;
	uint8_t res[USIM_RES_MAX]; /* OK: RES, res_len bytes (4..16; Milenage gives 8) */
	size_t res_len;
	uint8_t ck[MILENAGE_CK_LEN];   /* OK */
	uint8_t ik[MILENAGE_IK_LEN];   /* OK */
	uint8_t auts[AKA_AUTS_LEN];    /* SYNC_FAILURE */
};
void usim_result_wipe(struct usim_result *r);
#define _cleanup_usim_result_ _cleanup_(usim_result_wipe)

/*
 * The tpm backend over an open TPM context t (borrowed: it must outlive the
 * usim) and the state folder where m2msactl usim provision put usim.*.
 * On failure err (may be NULL) gets the message.
 */
int usim_tpm_new(struct tpm_ctx *t, const char *state_dir, struct usim **ret, char *err,
		 size_t err_len);
/* The same, opening (and owning) its own TPM context on tcti (NULL: the default device). */
int usim_tpm_open(const char *tcti, const char *state_dir, struct usim **ret, char *err,
		  size_t err_len);

/*
 * The pcsc backend: reader is a PC/SC reader name, or NULL for the first reader
 * with a card. impi is the subscriber's IMPI (from the configuration), or NULL
 * to derive it from the card's IMSI (EF_IMSI, EF_AD; TS 23.003 §13.3), as a
 * USIM without an ISIM does for GBA.
 */
int usim_pcsc_open(const char *reader, const char *impi, struct usim **ret, char *err,
		   size_t err_len);

int usim_authenticate(struct usim *u, const uint8_t rand[static MILENAGE_RAND_LEN],
		      const uint8_t autn[static AKA_AUTN_LEN], struct usim_result *ret);
const char *usim_impi(const struct usim *u);
/* "tpm" or "pcsc". */
const char *usim_backend_name(const struct usim *u);
/* The message for the last failure on u ("" if none). */
const char *usim_last_error(const struct usim *u);
void usim_free(struct usim *u);
static inline void usim_freep(struct usim **u)
{
	usim_free(*u);
	*u = NULL;
}
#define _cleanup_usim_ _cleanup_(usim_freep)

/* An IMPI (NAI, RFC 7542 / TS 23.003 §13.3): 1..255 of A-Z a-z 0-9 . _ - @ + ! ~ % */
bool usim_impi_valid(const char *s);
