/* SPDX-License-Identifier: Apache-2.0 */
/* The UICC command builders and response parsers of the pcsc USIM backend (usim/apdu). */
#include <criterion/criterion.h>
#include <errno.h>

#include "hex.h"
#include "usim/apdu.h"

/* TS 31.102 §7.1.2.1: 00 88 00 81 22 | 10 RAND | 10 AUTN | Le 00. */
Test(apdu, authenticate_command_bytes)
{
	uint8_t rand[16], autn[16], cmd[APDU_AUTH_LEN], want[APDU_AUTH_LEN];

	for (int i = 0; i < 16; i++) {
		rand[i] = (uint8_t)i;
		autn[i] = (uint8_t)(0xA0 + i);
	}
	cr_assert_eq(unhex("0088008122"
			   "10000102030405060708090a0b0c0d0e0f"
			   "10a0a1a2a3a4a5a6a7a8a9aaabacadaeaf00", want, sizeof(want)), APDU_AUTH_LEN);
	apdu_build_authenticate(rand, autn, cmd);
	cr_expect_arr_eq(cmd, want, APDU_AUTH_LEN);
}

Test(apdu, select_aid_bytes)
{
	uint8_t cmd[5 + APDU_AID_MAX], want[12];
	size_t n = apdu_build_select_aid(apdu_usim_aid_prefix, sizeof(apdu_usim_aid_prefix), cmd);

	cr_assert_eq(n, 12);
	cr_assert_eq(unhex("00a4040407a0000000871002", want, sizeof(want)), 12);
	cr_expect_arr_eq(cmd, want, 12);
}

Test(apdu, auth_response_success_with_and_without_kc)
{
	uint8_t rsp[64];
	struct usim_result r;
	int n = unhex("db08a54211d5e3ba50bf"
		      "10b40ba9a3c58b2a05bbf0d987b21bf8cb"
		      "10f769bcd751044604127672711c6d3441", rsp, sizeof(rsp));

	cr_assert_eq(apdu_parse_auth_response(rsp, (size_t)n, &r), 0);
	cr_expect_eq(r.result, AKA_RESULT_OK);
	cr_expect_eq(r.res_len, 8);
	cr_expect_eq(r.res[0], 0xa5);
	cr_expect_eq(r.ck[15], 0xcb);
	cr_expect_eq(r.ik[0], 0xf7);
	/* With Kc (GSM access available): accepted, Kc ignored. */
	rsp[n] = 8;
	memset(rsp + n + 1, 0x11, 8);
	cr_expect_eq(apdu_parse_auth_response(rsp, (size_t)n + 9, &r), 0);
	/* Trailing garbage, a short CK, a cut response: refused. */
	cr_expect_eq(apdu_parse_auth_response(rsp, (size_t)n + 1, &r), -EBADMSG);
	cr_expect_eq(apdu_parse_auth_response(rsp, (size_t)n - 1, &r), -EBADMSG);
	rsp[10] = 15;
	cr_expect_eq(apdu_parse_auth_response(rsp, (size_t)n, &r), -EBADMSG);
}

Test(apdu, auth_response_sync_failure_and_bad_tags)
{
	uint8_t rsp[32];
	struct usim_result r = { .result = AKA_RESULT_OK };
	int n = unhex("dc0e000102030405060708090a0b0c0d", rsp, sizeof(rsp));

	cr_assert_eq(apdu_parse_auth_response(rsp, (size_t)n, &r), 0);
	cr_expect_eq(r.result, AKA_RESULT_SYNC_FAILURE);
	cr_expect_eq(r.auts[13], 0x0d);
	rsp[1] = 0x0d; /* AUTS must be 14 bytes */
	cr_expect_eq(apdu_parse_auth_response(rsp, (size_t)n - 1, &r), -EBADMSG);
	rsp[0] = 0xdd;
	cr_expect_eq(apdu_parse_auth_response(rsp, (size_t)n, &r), -EBADMSG);
	cr_expect_eq(apdu_parse_auth_response(rsp, 0, &r), -EBADMSG);
	/* RES shorter than 4 bytes (TS 33.102: 32..128 bits) */
	cr_assert_eq(unhex("db03010203", rsp, sizeof(rsp)), 5);
	cr_expect_eq(apdu_parse_auth_response(rsp, 5, &r), -EBADMSG);
}

Test(apdu, dir_records)
{
	uint8_t rec[40], aid[APDU_AID_MAX];
	/* 61 14 { 4F 0C <USIM AID> 50 04 "USIM" } FF padding */
	int n = unhex("61144f0ca0000000871002ff49ff058950045553494d"
		      "ffffffffffffff", rec, sizeof(rec));

	cr_assert_eq(apdu_parse_dir_record(rec, (size_t)n, aid), 12);
	cr_expect_eq(aid[11], 0x89);
	memset(rec, 0xff, sizeof(rec));
	cr_expect_eq(apdu_parse_dir_record(rec, sizeof(rec), aid), 0, "an empty record");
	cr_assert_eq(unhex("6105500355534d", rec, sizeof(rec)), 7);
	cr_expect_eq(apdu_parse_dir_record(rec, 7, aid), -EBADMSG, "no AID");
	cr_assert_eq(unhex("61084f08a000000087", rec, sizeof(rec)), 9);
	cr_expect_eq(apdu_parse_dir_record(rec, 9, aid), -EBADMSG, "cut");
}

Test(apdu, status_word_texts)
{
	cr_expect(strstr(apdu_sw_text(APDU_SW_SECURITY_NOT_SATISFIED), "PIN"));
	cr_expect(strstr(apdu_sw_text(APDU_SW_MAC_FAILURE), "MAC"));
	cr_expect_str_eq(apdu_sw_text(0x1234), "unexpected status word");
}

/* EF_IMSI bytes as TS 31.102 §4.2.2 lays them out, and the TS 23.003 §13.3 IMPI. */
Test(apdu, imsi_and_impi)
{
	uint8_t ef[9];
	char imsi[APDU_IMSI_MAX + 1], impi[APDU_IMPI_FROM_IMSI_MAX + 1];

	/* 15 digits 001010000000001: 08 | 0 + parity odd/IMSI (9) | 10 10 00 00 00 00 10 */
	cr_assert_eq(unhex("080910100000000010", ef, sizeof(ef)), 9);
	cr_assert_eq(apdu_parse_imsi(ef, 9, imsi), 15);
	cr_expect_str_eq(imsi, "001010000000001");
	cr_assert_eq(apdu_impi_from_imsi(imsi, 2, impi, sizeof(impi)), 0);
	cr_expect_str_eq(impi, "001010000000001@ims.mnc001.mcc001.3gppnetwork.org");
	cr_assert_eq(apdu_impi_from_imsi("310150123456789", 3, impi, sizeof(impi)), 0);
	cr_expect_str_eq(impi, "310150123456789@ims.mnc150.mcc310.3gppnetwork.org");
	/* 14 digits 23415099999999: parity even (1), F filler in the last high nibble */
	cr_assert_eq(unhex("082143519099999999", ef, sizeof(ef)), 9);
	ef[8] = 0xF9;
	cr_assert_eq(apdu_parse_imsi(ef, 9, imsi), 14, "%s", imsi);
	cr_expect_str_eq(imsi, "23415099999999");
	/* Wrong parity, a non-digit nibble, a length beyond the data, not type IMSI. */
	ef[1] = 0x29;
	cr_expect_eq(apdu_parse_imsi(ef, 9, imsi), -EBADMSG, "parity says odd");
	ef[1] = 0x21;
	ef[4] = 0xA9;
	cr_expect_eq(apdu_parse_imsi(ef, 9, imsi), -EBADMSG, "nibble A");
	cr_expect_eq(apdu_parse_imsi(ef, 5, imsi), -EBADMSG, "cut");
	ef[4] = 0x99;
	ef[1] = 0x22;
	cr_expect_eq(apdu_parse_imsi(ef, 9, imsi), -EBADMSG, "type 010 is not an IMSI");
	/* EF_AD's MNC length; IMPI inputs. */
	cr_assert_eq(unhex("00000003", ef, sizeof(ef)), 4);
	cr_expect_eq(apdu_parse_mnc_len(ef, 4), 3);
	cr_expect_eq(apdu_parse_mnc_len(ef, 3), -EBADMSG);
	ef[3] = 0x04;
	cr_expect_eq(apdu_parse_mnc_len(ef, 4), -EBADMSG);
	cr_expect_eq(apdu_impi_from_imsi("12345", 2, impi, sizeof(impi)), -EINVAL);
	cr_expect_eq(apdu_impi_from_imsi("00101000000000a", 2, impi, sizeof(impi)), -EINVAL);
	cr_expect_eq(apdu_impi_from_imsi("001010000000001", 4, impi, sizeof(impi)), -EINVAL);
	cr_expect_eq(apdu_impi_from_imsi("001010000000001", 2, impi, 20), -ENOBUFS);
}
