/* SPDX-License-Identifier: Apache-2.0 */
/* UICC command building and response parsing for the pcsc USIM backend (TS 102 221, TS 31.102). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "usim/apdu.h"

const uint8_t apdu_usim_aid_prefix[7] = { 0xA0, 0x00, 0x00, 0x00, 0x87, 0x10, 0x02 };

void apdu_build_authenticate(const uint8_t rand[static MILENAGE_RAND_LEN],
			     const uint8_t autn[static AKA_AUTN_LEN],
			     uint8_t out[static APDU_AUTH_LEN])
{
	/* CLA 00, INS 88, P1 00, P2 81 (3G context, USIM-specific reference data), Lc 34. */
	static const uint8_t hdr[5] = { 0x00, 0x88, 0x00, 0x81, 0x22 };

	memcpy(out, hdr, sizeof(hdr));
	out[5] = MILENAGE_RAND_LEN;
	memcpy(out + 6, rand, MILENAGE_RAND_LEN);
	out[22] = AKA_AUTN_LEN;
	memcpy(out + 23, autn, AKA_AUTN_LEN);
	out[39] = 0x00; /* Le: all the response data */
}

size_t apdu_build_select_aid(const uint8_t *aid, size_t aid_len, uint8_t *out)
{
	/* P1 04 select by DF name, P2 04 return the FCP template (first or only occurrence). */
	out[0] = 0x00;
	out[1] = 0xA4;
	out[2] = 0x04;
	out[3] = 0x04;
	out[4] = (uint8_t)aid_len;
	memcpy(out + 5, aid, aid_len);
	return 5 + aid_len;
}

/* One length-prefixed field at *off; checks it fits and its length is in [min, max]. */
static int take_lv(const uint8_t *data, size_t len, size_t *off, size_t min, size_t max,
		   const uint8_t **ret, size_t *ret_len)
{
	size_t l;

	if (*off >= len)
		return -EBADMSG;
	l = data[*off];
	if (l < min || l > max || len - *off - 1 < l)
		return -EBADMSG;
	*ret = data + *off + 1;
	*ret_len = l;
	*off += 1 + l;
	return 0;
}

int apdu_parse_auth_response(const uint8_t *data, size_t len, struct usim_result *ret)
{
	const uint8_t *res, *ck, *ik, *kc, *auts;
	size_t res_len, ck_len, ik_len, kc_len, auts_len, off = 1;

	if (!data || len < 1 || !ret)
		return -EBADMSG;
	if (data[0] == 0xDC) {
		if (take_lv(data, len, &off, AKA_AUTS_LEN, AKA_AUTS_LEN, &auts, &auts_len) < 0 ||
		    off != len)
			return -EBADMSG;
		memset(ret, 0, sizeof(*ret));
		ret->result = AKA_RESULT_SYNC_FAILURE;
		memcpy(ret->auts, auts, AKA_AUTS_LEN);
		return 0;
	}
	if (data[0] != 0xDB)
		return -EBADMSG;
	if (take_lv(data, len, &off, 4, USIM_RES_MAX, &res, &res_len) < 0 ||
	    take_lv(data, len, &off, MILENAGE_CK_LEN, MILENAGE_CK_LEN, &ck, &ck_len) < 0 ||
	    take_lv(data, len, &off, MILENAGE_IK_LEN, MILENAGE_IK_LEN, &ik, &ik_len) < 0)
		return -EBADMSG;
	/* Kc (8 bytes) follows when service n°27 (GSM access) is available; we ignore it. */
	if (off < len && (take_lv(data, len, &off, 8, 8, &kc, &kc_len) < 0))
		return -EBADMSG;
	if (off != len)
		return -EBADMSG;
	memset(ret, 0, sizeof(*ret));
	ret->result = AKA_RESULT_OK;
	memcpy(ret->res, res, res_len);
	ret->res_len = res_len;
	memcpy(ret->ck, ck, MILENAGE_CK_LEN);
	memcpy(ret->ik, ik, MILENAGE_IK_LEN);
	return 0;
}

int apdu_parse_dir_record(const uint8_t *rec, size_t len, uint8_t aid[static APDU_AID_MAX])
{
	size_t off = 0, end;
	bool empty = true;

	if (!rec)
		return -EBADMSG;
	for (size_t i = 0; i < len; i++)
		if (rec[i] != 0xFF)
			empty = false;
	if (empty)
		return 0;
	/* Application template: 61 L, L < 128 (one length byte in EF_DIR records). */
	if (len < 2 || rec[0] != 0x61 || rec[1] > 0x7F || rec[1] > len - 2)
		return -EBADMSG;
	end = 2 + (size_t)rec[1];
	off = 2;
	while (off + 2 <= end) {
		uint8_t tag = rec[off], l = rec[off + 1];

		if (l > 0x7F || l > end - off - 2)
			return -EBADMSG;
		if (tag == 0x4F) {
			if (l < 1 || l > APDU_AID_MAX)
				return -EBADMSG;
			memcpy(aid, rec + off + 2, l);
			return l;
		}
		off += 2 + (size_t)l;
	}
	return -EBADMSG;
}

int apdu_parse_imsi(const uint8_t *ef, size_t len, char imsi[static APDU_IMSI_MAX + 1])
{
	char d[2 * 8];
	size_t n = 0, l;

	if (!ef || len < 2 || ef[0] < 1 || ef[0] > 8 || ef[0] > len - 1)
		return -EBADMSG;
	l = ef[0];
	/* The first byte: parity/type nibble (x001, IMSI) then the first digit. */
	if ((ef[1] & 0x07) != 0x01)
		return -EBADMSG;
	for (size_t i = 1; i <= l; i++) {
		uint8_t lo = ef[i] & 0x0F, hi = ef[i] >> 4;

		if (i > 1)
			d[n++] = (char)lo;
		d[n++] = (char)hi;
	}
	/* Trailing F filler (only in the last position), digits 0-9 elsewhere. */
	if (n > 0 && d[n - 1] == 0x0F)
		n--;
	if (n < 6 || n > APDU_IMSI_MAX)
		return -EBADMSG;
	/* The parity bit says whether the digit count is odd. */
	if (((ef[1] & 0x08) != 0) != (n % 2 == 1))
		return -EBADMSG;
	for (size_t i = 0; i < n; i++) {
		if (d[i] > 9)
			return -EBADMSG;
		imsi[i] = (char)('0' + d[i]);
	}
	imsi[n] = '\0';
	return (int)n;
}

int apdu_parse_mnc_len(const uint8_t *ef, size_t len)
{
	int m;

	if (!ef || len < 4)
		return -EBADMSG;
	m = ef[3] & 0x0F;
	return m == 2 || m == 3 ? m : -EBADMSG;
}

int apdu_impi_from_imsi(const char *imsi, int mnc_len, char *out, size_t out_len)
{
	size_t n = imsi ? strlen(imsi) : 0;
	int w;

	if (n < 6 || n > APDU_IMSI_MAX || (mnc_len != 2 && mnc_len != 3) ||
	    strspn(imsi, "0123456789") != n)
		return -EINVAL;
	w = snprintf(out, out_len, "%s@ims.mnc%s%.*s.mcc%.3s.3gppnetwork.org", imsi,
		     mnc_len == 2 ? "0" : "", mnc_len, imsi + 3, imsi);
	return w < 0 || (size_t)w >= out_len ? -ENOBUFS : 0;
}

const char *apdu_sw_text(uint16_t sw)
{
	switch (sw) {
	case APDU_SW_OK:
		return "ok";
	case APDU_SW_MAC_FAILURE:
		return "authentication error, incorrect MAC";
	case 0x9864:
		return "authentication error, security context not supported";
	case 0x9865:
		return "key freshness failure";
	case APDU_SW_SECURITY_NOT_SATISFIED:
		return "security status not satisfied: the card wants its PIN (verify it, or "
		       "disable the PIN on this card)";
	case 0x6983:
		return "the PIN is blocked (unblock it with the PUK)";
	case APDU_SW_FILE_NOT_FOUND:
		return "file or application not found (is this a USIM?)";
	case APDU_SW_RECORD_NOT_FOUND:
		return "record not found";
	case 0x6D00:
		return "instruction not supported (not a UICC, or no USIM application)";
	case 0x6E00:
		return "class not supported (not a UICC)";
	case 0x6A86:
		return "incorrect P1/P2 (the card does not support AUTHENTICATE in 3G context)";
	case 0x6700:
		return "wrong length";
	default:
		return "unexpected status word";
	}
}
