/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A virtual USIM for the pcsc backend's tests: it plugs into pcscd through
 * vsmartcard's vpcd driver (a TCP connection to the port in reader.conf) and
 * answers APDUs from software Milenage (common/milenage, common/aka).
 *
 * vpcd's protocol: every message is a 2-byte big-endian length and the bytes.
 * From vpcd, a 1-byte message is a control: 00 power off, 01 power on, 02 reset,
 * 04 "send your ATR" (answered with the ATR as a message). Anything longer is a
 * command APDU, answered with the response APDU (data || SW1 SW2).
 *
 * The card: MF 3F00, EF_DIR 2F00 with one record naming the USIM AID
 * A0000000871002FF49FF0589 (unless no_ef_dir), the USIM ADF selectable by full
 * or partial AID, under it EF_IMSI 6F07 and EF_AD 6FAD (READ BINARY answers
 * 6C xx to a wrong Le, like a T=0 card), AUTHENTICATE 3G context (answered through 61 xx and GET
 * RESPONSE, like a T=0 card). Its SQN state is in memory.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct vusim;

struct vusim_config {
	uint16_t port;           /* vpcd's port (reader.conf CHANNELID) */
	uint8_t k[16];
	uint8_t opc[16];
	uint64_t sqn;            /* highest SQN accepted so far */
	bool pin_required;       /* AUTHENTICATE answers 69 82 */
	bool drop_on_auth;       /* close the connection when AUTHENTICATE arrives (card pulled) */
	bool no_ef_dir;          /* EF_DIR missing: the reader must use the partial AID */
	const char *imsi;        /* EF_IMSI digits (NULL: "001010000000001") */
	int mnc_len;             /* EF_AD's MNC length (0: 2) */
};

/* Connect to vpcd (retrying up to 5 s) and serve in a thread. */
int vusim_start(const struct vusim_config *cfg, struct vusim **ret);
/* Disconnect (the card is pulled), join the thread, wipe, free. NULL is fine. */
void vusim_stop(struct vusim *v);
/* How many AUTHENTICATE commands the card has seen. */
unsigned vusim_auth_count(struct vusim *v);
/* The card's highest accepted SQN now. */
uint64_t vusim_sqn(struct vusim *v);
