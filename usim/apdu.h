/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The UICC commands the pcsc USIM backend sends, and parsers for what comes back
 * (ETSI TS 102 221, 3GPP TS 31.102). Pure code: no I/O, fuzzed (tests/fuzz/fuzz-apdu.c).
 *
 *   SELECT MF / EF_DIR   00 A4 00 04 02 3F00 | 2F00          (select by file ID, FCP back)
 *   READ RECORD n        00 B2 nn 04 00                      (EF_DIR: 61 L { 4F L AID ... })
 *   SELECT USIM ADF      00 A4 04 04 Lc AID                  (by DF name; a partial AID
 *                                                             A0000000871002 selects the first USIM)
 *   AUTHENTICATE         00 88 00 81 22 10 RAND 10 AUTN 00   (TS 31.102 §7.1.2, 3G context)
 *     success            DB L RES L CK L IK [L Kc]
 *     sync failure       DC 0E AUTS
 *   SELECT EF by FID     00 A4 00 04 02 FID                  (under the USIM ADF: 6F07 IMSI, 6FAD AD)
 *   READ BINARY          00 B0 00 00 00                      (6C xx: resend with Le xx)
 * Status words: 90 00 ok; 61 xx: xx bytes wait for GET RESPONSE (00 C0 00 00 xx); 6C xx:
 * resend with Le = xx; 98 62 MAC failure (the network is not genuine); 69 82 security status
 * not satisfied (PIN needed); 6A 82 / 6A 83 file / record not found.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "common/aka.h"
#include "usim/usim.h"

#define APDU_AUTH_LEN 40
#define APDU_AID_MAX 16
#define APDU_SW_OK 0x9000
#define APDU_SW_MAC_FAILURE 0x9862
#define APDU_SW_SECURITY_NOT_SATISFIED 0x6982
#define APDU_SW_FILE_NOT_FOUND 0x6A82
#define APDU_SW_RECORD_NOT_FOUND 0x6A83

/* The 3GPP RID and USIM application code: the first 7 bytes of every USIM AID. */
extern const uint8_t apdu_usim_aid_prefix[7];

/* AUTHENTICATE (3G context) for RAND, AUTN into out (APDU_AUTH_LEN bytes). */
void apdu_build_authenticate(const uint8_t rand[static MILENAGE_RAND_LEN],
			     const uint8_t autn[static AKA_AUTN_LEN],
			     uint8_t out[static APDU_AUTH_LEN]);
/* SELECT by DF name (AID, 1..16 bytes) into out (at least 5 + aid_len bytes); returns its length. */
size_t apdu_build_select_aid(const uint8_t *aid, size_t aid_len, uint8_t *out);

/*
 * The data of a successful AUTHENTICATE response (without the status word):
 * DB -> AKA_RESULT_OK with RES (4..16 bytes), CK, IK; DC -> AKA_RESULT_SYNC_FAILURE
 * with AUTS. -EBADMSG for anything else (wrong tag, lengths, trailing bytes).
 * ret is written only on success; the caller wipes it.
 */
int apdu_parse_auth_response(const uint8_t *data, size_t len, struct usim_result *ret);

/*
 * The AID in one EF_DIR record (61 L { ... 4F L AID ... }, padded with FF).
 * Returns the AID's length, 0 for an empty (all FF) record, -EBADMSG when malformed.
 */
int apdu_parse_dir_record(const uint8_t *rec, size_t len, uint8_t aid[static APDU_AID_MAX]);

#define APDU_IMSI_MAX 15
/* Longest IMPI derived from an IMSI: IMSI "@ims.mncNNN.mccNNN.3gppnetwork.org". */
#define APDU_IMPI_FROM_IMSI_MAX (APDU_IMSI_MAX + 34)

/*
 * EF_IMSI (TS 31.102 §4.2.2): length byte (1..8), then BCD digits, low nibble
 * first; the first low nibble is the parity/type (x001), F fills. imsi gets
 * 6..15 digits and a NUL; returns the digit count or -EBADMSG.
 */
int apdu_parse_imsi(const uint8_t *ef, size_t len, char imsi[static APDU_IMSI_MAX + 1]);
/* EF_AD (TS 31.102 §4.2.18): the MNC length (2 or 3) in byte 4; -EBADMSG otherwise. */
int apdu_parse_mnc_len(const uint8_t *ef, size_t len);
/*
 * The IMPI a USIM without ISIM uses (TS 23.003 §13.3):
 * "<IMSI>@ims.mnc<MNC, 3 digits>.mcc<MCC>.3gppnetwork.org". out needs
 * APDU_IMPI_FROM_IMSI_MAX + 1 bytes.
 */
int apdu_impi_from_imsi(const char *imsi, int mnc_len, char *out, size_t out_len);

/* A sentence for a status word ("the card wants its PIN (security status not satisfied)"). */
const char *apdu_sw_text(uint16_t sw);
