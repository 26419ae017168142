/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pcsc USIM backend: a real UICC through pcscd (libpcsclite). Each challenge
 * runs in one PC/SC transaction: SELECT the USIM application (its AID from EF_DIR,
 * else the partial AID A0000000871002), then AUTHENTICATE in 3G context.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <PCSC/winscard.h>
#include <PCSC/wintypes.h>

#include "common/secret.h"
#include "usim/apdu.h"
#include "usim/usim-internal.h"

#define RAPDU_MAX 258
#define DIR_RECORDS_MAX 16

struct usim_pcsc {
	SCARDCONTEXT ctx;
	SCARDHANDLE card;
	DWORD proto;
	char *reader;
	uint8_t aid[APDU_AID_MAX];
	size_t aid_len;
};

/* -errno and a sentence for a PC/SC error while talking to the card. */
static int pcsc_fail(struct usim *u, LONG rv, const char *doing)
{
	struct usim_pcsc *p = u->backend;
	const char *reader = p && p->reader ? p->reader : "(none)";

	switch (rv) {
	case SCARD_W_REMOVED_CARD:
	case SCARD_E_NO_SMARTCARD:
	case SCARD_E_NOT_TRANSACTED:
	case SCARD_W_UNRESPONSIVE_CARD:
	case SCARD_W_UNPOWERED_CARD:
		return usim_fail(u, -ENXIO, "%s: the card in reader '%s' was removed or stopped "
				 "answering (%s); put the card back and retry", doing, reader,
				 pcsc_stringify_error(rv));
	case SCARD_E_READER_UNAVAILABLE:
	case SCARD_E_UNKNOWN_READER:
		return usim_fail(u, -ENODEV, "%s: reader '%s' is gone (%s)", doing, reader,
				 pcsc_stringify_error(rv));
	case SCARD_E_NO_SERVICE:
	case SCARD_E_SERVICE_STOPPED:
		return usim_fail(u, -ENODEV, "%s: pcscd is not running (start pcscd)", doing);
	default:
		return usim_fail(u, -EIO, "%s: %s", doing, pcsc_stringify_error(rv));
	}
}

/*
 * Send one command; fetch the response data of 61 xx with GET RESPONSE, resend
 * once on 6C xx. *sw gets the final status word; data (without SW) in out.
 */
static int transmit(struct usim *u, const uint8_t *cmd, size_t cmd_len, uint8_t *out,
		    size_t *out_len, uint16_t *sw, const char *doing)
{
	struct usim_pcsc *p = u->backend;
	const SCARD_IO_REQUEST *pci = p->proto == SCARD_PROTOCOL_T1 ? SCARD_PCI_T1 : SCARD_PCI_T0;
	uint8_t buf[RAPDU_MAX], again[300];
	DWORD n = sizeof(buf);
	LONG rv;

	rv = SCardTransmit(p->card, pci, cmd, (DWORD)cmd_len, NULL, buf, &n);
	if (rv == SCARD_S_SUCCESS && n == 2 && buf[0] == 0x6C && cmd_len >= 5 &&
	    cmd_len < sizeof(again)) {
		memcpy(again, cmd, cmd_len);
		again[cmd_len - 1] = buf[1]; /* Le = what the card offers */
		n = sizeof(buf);
		rv = SCardTransmit(p->card, pci, again, (DWORD)cmd_len, NULL, buf, &n);
		secret_wipe(again, sizeof(again));
	}
	if (rv == SCARD_S_SUCCESS && n == 2 && buf[0] == 0x61) {
		const uint8_t get[5] = { 0x00, 0xC0, 0x00, 0x00, buf[1] };

		n = sizeof(buf);
		rv = SCardTransmit(p->card, pci, get, sizeof(get), NULL, buf, &n);
	}
	if (rv != SCARD_S_SUCCESS) {
		secret_wipe(buf, sizeof(buf));
		return pcsc_fail(u, rv, doing);
	}
	if (n < 2) {
		/* vpcd and some readers report a vanished card as an empty response. */
		secret_wipe(buf, sizeof(buf));
		return usim_fail(u, -ENXIO, "%s: the card in reader '%s' was removed or stopped "
				 "answering (no status word); put the card back and retry", doing,
				 p->reader);
	}
	if (n - 2 > *out_len) {
		secret_wipe(buf, sizeof(buf));
		return usim_fail(u, -EBADMSG, "%s: the card sent a malformed response (%lu bytes)",
				 doing, (unsigned long)n);
	}
	*sw = (uint16_t)(buf[n - 2] << 8 | buf[n - 1]);
	memcpy(out, buf, n - 2);
	*out_len = n - 2;
	secret_wipe(buf, sizeof(buf));
	return 0;
}

/* The USIM AID from EF_DIR (MF/2F00); -ENOENT when there is none. */
static int find_usim_aid(struct usim *u)
{
	static const uint8_t sel_mf[] = { 0x00, 0xA4, 0x00, 0x04, 0x02, 0x3F, 0x00 };
	static const uint8_t sel_dir[] = { 0x00, 0xA4, 0x00, 0x04, 0x02, 0x2F, 0x00 };
	struct usim_pcsc *p = u->backend;
	uint8_t data[RAPDU_MAX], aid[APDU_AID_MAX];
	size_t len = sizeof(data);
	uint16_t sw;
	int r;

	r = transmit(u, sel_mf, sizeof(sel_mf), data, &len, &sw, "selecting the MF");
	if (r < 0 || sw != APDU_SW_OK)
		return r < 0 ? r : -ENOENT;
	len = sizeof(data);
	r = transmit(u, sel_dir, sizeof(sel_dir), data, &len, &sw, "selecting EF_DIR");
	if (r < 0 || sw != APDU_SW_OK)
		return r < 0 ? r : -ENOENT;
	for (uint8_t rec = 1; rec <= DIR_RECORDS_MAX; rec++) {
		const uint8_t read[5] = { 0x00, 0xB2, rec, 0x04, 0x00 };
		int n;

		len = sizeof(data);
		r = transmit(u, read, sizeof(read), data, &len, &sw, "reading EF_DIR");
		if (r < 0)
			return r;
		if (sw != APDU_SW_OK)
			break;
		n = apdu_parse_dir_record(data, len, aid);
		if (n >= (int)sizeof(apdu_usim_aid_prefix) &&
		    memcmp(aid, apdu_usim_aid_prefix, sizeof(apdu_usim_aid_prefix)) == 0) {
			memcpy(p->aid, aid, (size_t)n);
			p->aid_len = (size_t)n;
			return 0;
		}
	}
	return -ENOENT;
}

static int select_usim(struct usim *u)
{
	struct usim_pcsc *p = u->backend;
	uint8_t cmd[5 + APDU_AID_MAX], data[RAPDU_MAX];
	size_t len = sizeof(data), n;
	uint16_t sw;
	int r;

	if (p->aid_len == 0) {
		r = find_usim_aid(u);
		if (r == -ENOENT) {
			/* No EF_DIR entry: the partial AID selects the first USIM (TS 102 221 §8.5). */
			memcpy(p->aid, apdu_usim_aid_prefix, sizeof(apdu_usim_aid_prefix));
			p->aid_len = sizeof(apdu_usim_aid_prefix);
		} else if (r < 0) {
			return r;
		}
	}
	n = apdu_build_select_aid(p->aid, p->aid_len, cmd);
	r = transmit(u, cmd, n, data, &len, &sw, "selecting the USIM application");
	if (r < 0)
		return r;
	if (sw != APDU_SW_OK)
		return usim_fail(u, sw == APDU_SW_FILE_NOT_FOUND ? -ENOENT : -EIO,
				 "the card in reader '%s' has no USIM application: %s (SW %04X)",
				 p->reader, apdu_sw_text(sw), sw);
	return 0;
}

static int auth_sw(struct usim *u, uint16_t sw, const uint8_t *data, size_t len,
		   struct usim_result *ret)
{
	struct usim_pcsc *p = u->backend;

	if (sw == APDU_SW_MAC_FAILURE) {
		memset(ret, 0, sizeof(*ret));
		ret->result = AKA_RESULT_MAC_FAILURE;
		return 0;
	}
	if (sw == APDU_SW_SECURITY_NOT_SATISFIED || sw == 0x6983)
		return usim_fail(u, -EACCES, "the USIM in reader '%s' refused AUTHENTICATE: %s",
				 p->reader, apdu_sw_text(sw));
	if (sw != APDU_SW_OK)
		return usim_fail(u, -EIO, "the USIM in reader '%s' refused AUTHENTICATE: %s "
				 "(SW %04X)", p->reader, apdu_sw_text(sw), sw);
	if (apdu_parse_auth_response(data, len, ret) < 0)
		return usim_fail(u, -EBADMSG, "the USIM in reader '%s' sent a malformed "
				 "AUTHENTICATE response (%zu bytes)", p->reader, len);
	return 0;
}

static int pcsc_authenticate(struct usim *u, const uint8_t rand[static MILENAGE_RAND_LEN],
			     const uint8_t autn[static AKA_AUTN_LEN], struct usim_result *ret)
{
	struct usim_pcsc *p = u->backend;
	uint8_t cmd[APDU_AUTH_LEN], data[RAPDU_MAX];
	size_t len = sizeof(data);
	uint16_t sw = 0;
	LONG rv;
	int r;

	rv = SCardBeginTransaction(p->card);
	if (rv == SCARD_W_RESET_CARD) {
		rv = SCardReconnect(p->card, SCARD_SHARE_SHARED,
				    SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, SCARD_LEAVE_CARD,
				    &p->proto);
		if (rv == SCARD_S_SUCCESS)
			rv = SCardBeginTransaction(p->card);
	}
	if (rv != SCARD_S_SUCCESS)
		return pcsc_fail(u, rv, "starting a transaction with the card");
	r = select_usim(u);
	if (r == 0) {
		apdu_build_authenticate(rand, autn, cmd);
		r = transmit(u, cmd, sizeof(cmd), data, &len, &sw, "AUTHENTICATE");
		secret_wipe(cmd, sizeof(cmd));
	}
	if (r == 0)
		r = auth_sw(u, sw, data, len, ret);
	secret_wipe(data, sizeof(data));
	(void)SCardEndTransaction(p->card, SCARD_LEAVE_CARD);
	return r;
}

static void pcsc_free(struct usim *u)
{
	struct usim_pcsc *p = u->backend;

	if (!p)
		return;
	if (p->card)
		(void)SCardDisconnect(p->card, SCARD_LEAVE_CARD);
	if (p->ctx)
		(void)SCardReleaseContext(p->ctx);
	free(p->reader);
	free(p);
	u->backend = NULL;
}

static const struct usim_ops pcsc_ops = {
	.name = "pcsc",
	.authenticate = pcsc_authenticate,
	.free = pcsc_free,
};

/* Connect to reader, or to the first reader that has a card. */
static int pcsc_connect(struct usim *u, const char *reader)
{
	struct usim_pcsc *p = u->backend;
	_cleanup_free_ char *list = NULL;
	DWORD n = 0;
	LONG rv, last = SCARD_E_NO_SMARTCARD;
	bool found = false;

	rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &p->ctx);
	if (rv != SCARD_S_SUCCESS) {
		p->ctx = 0;
		return pcsc_fail(u, rv, "connecting to pcscd");
	}
	rv = SCardListReaders(p->ctx, NULL, NULL, &n);
	if (rv == SCARD_S_SUCCESS && n > 0) {
		list = calloc(1, n + 1);
		if (!list)
			return -ENOMEM;
		rv = SCardListReaders(p->ctx, NULL, list, &n);
	}
	if (rv == SCARD_E_NO_READERS_AVAILABLE || (rv == SCARD_S_SUCCESS && !list))
		return usim_fail(u, -ENODEV, "no smart card reader found (plug one in; is its "
				 "driver installed for pcscd?)");
	if (rv != SCARD_S_SUCCESS)
		return pcsc_fail(u, rv, "listing the readers");
	for (const char *r = list; *r; r += strlen(r) + 1) {
		if (reader && strcmp(reader, r) != 0)
			continue;
		found = true;
		last = SCardConnect(p->ctx, r, SCARD_SHARE_SHARED,
				    SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, &p->card, &p->proto);
		if (last == SCARD_S_SUCCESS) {
			p->reader = strdup(r);
			return p->reader ? 0 : -ENOMEM;
		}
		p->card = 0;
	}
	if (!reader)
		return usim_fail(u, -ENODEV, "no card in any reader (insert the SIM card)");
	if (!found)
		return usim_fail(u, -ENODEV, "no reader named '%s' (pcsc_scan lists the readers)",
				 reader);
	if (last == SCARD_E_NO_SMARTCARD || last == SCARD_W_REMOVED_CARD)
		return usim_fail(u, -ENODEV, "no card in reader '%s' (insert the SIM card)", reader);
	return pcsc_fail(u, last, "connecting to the card");
}

/* SELECT an EF under the USIM ADF and READ BINARY all of it. */
static int read_ef(struct usim *u, uint16_t fid, const char *name, uint8_t *out, size_t *len)
{
	const uint8_t sel[7] = { 0x00, 0xA4, 0x00, 0x04, 0x02, (uint8_t)(fid >> 8), (uint8_t)fid };
	static const uint8_t read[5] = { 0x00, 0xB0, 0x00, 0x00, 0x00 };
	struct usim_pcsc *p = u->backend;
	uint8_t fcp[RAPDU_MAX];
	size_t fcp_len = sizeof(fcp);
	uint16_t sw = 0;
	int r;

	r = transmit(u, sel, sizeof(sel), fcp, &fcp_len, &sw, name);
	if (r == 0 && sw == APDU_SW_OK)
		r = transmit(u, read, sizeof(read), out, len, &sw, name);
	if (r < 0)
		return r;
	if (sw == APDU_SW_SECURITY_NOT_SATISFIED)
		return usim_fail(u, -EACCES, "cannot read %s of the USIM in reader '%s': %s", name,
				 p->reader, apdu_sw_text(sw));
	if (sw != APDU_SW_OK)
		return usim_fail(u, -ENOENT, "cannot read %s of the USIM in reader '%s': %s (SW "
				 "%04X)", name, p->reader, apdu_sw_text(sw), sw);
	return 0;
}

/* No IMPI configured: derive it from EF_IMSI and EF_AD (TS 23.003 §13.3). */
static int impi_from_card(struct usim *u)
{
	char imsi[APDU_IMSI_MAX + 1], impi[APDU_IMPI_FROM_IMSI_MAX + 1];
	uint8_t ef[RAPDU_MAX];
	size_t len = sizeof(ef);
	int r, mnc;

	r = read_ef(u, 0x6F07, "EF_IMSI", ef, &len);
	if (r < 0)
		return r;
	if (apdu_parse_imsi(ef, len, imsi) < 0)
		return usim_fail(u, -EBADMSG, "the USIM's EF_IMSI is malformed (set the IMPI in "
				 "the configuration)");
	len = sizeof(ef);
	r = read_ef(u, 0x6FAD, "EF_AD", ef, &len);
	if (r < 0)
		return r;
	mnc = apdu_parse_mnc_len(ef, len);
	if (mnc < 0)
		return usim_fail(u, -EBADMSG, "the USIM's EF_AD does not give the MNC length (set "
				 "the IMPI in the configuration)");
	r = apdu_impi_from_imsi(imsi, mnc, impi, sizeof(impi));
	if (r < 0)
		return usim_fail(u, r, "cannot derive an IMPI from the IMSI (set the IMPI in the "
				 "configuration)");
	u->impi = strdup(impi);
	return u->impi ? 0 : -ENOMEM;
}

int usim_pcsc_open(const char *reader, const char *impi, struct usim **ret, char *err,
		   size_t err_len)
{
	struct usim *u = NULL;
	int r;

	if (!ret)
		return -EINVAL;
	if (impi && !usim_impi_valid(impi))
		return usim_err_out(err, err_len, -EINVAL, "invalid IMPI for the pcsc USIM (1 to "
				    "255 characters from A-Z a-z 0-9 . _ - @ + ! ~ %)");
	r = usim_alloc(&pcsc_ops, impi, &u);
	if (r < 0)
		return r;
	u->backend = calloc(1, sizeof(struct usim_pcsc));
	r = u->backend ? pcsc_connect(u, reader) : -ENOMEM;
	if (r == 0)
		r = select_usim(u);
	if (r == 0 && !impi)
		r = impi_from_card(u);
	if (r < 0) {
		usim_err_out(err, err_len, r, u->err);
		usim_free(u);
		return r;
	}
	*ret = u;
	return 0;
}
