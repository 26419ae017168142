/* SPDX-License-Identifier: Apache-2.0 */
/* BootstrappingInfo XML, B-TID and timestamps (gba/bootstrap-info.h, btid.h, datetime.h). */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "gba/bootstrap-info.h"
#include "gba/btid.h"
#include "gba/datetime.h"
#include "hex.h"

Test(gba_btid, make_and_validate)
{
	uint8_t rand[16];
	char btid[GBA_BTID_MAX + 1];

	unhex("23553cbe9637a89d218ae64dae47bf35", rand, 16);
	cr_assert_eq(gba_btid_make(rand, "bsf.example.com", btid, sizeof(btid)), 0);
	/* base64 of the RAND, computed with Python base64.b64encode. */
	cr_assert_str_eq(btid, "I1U8vpY3qJ0hiuZNrke/NQ==@bsf.example.com");
	cr_assert(gba_btid_valid(btid));
	cr_assert_eq(gba_btid_make(rand, "bad domain", btid, sizeof(btid)), -EINVAL);
	cr_assert_eq(gba_btid_make(rand, "bsf.example.com", btid, 20), -ENOBUFS);
	cr_assert_not(gba_btid_valid("@bsf.example.com"));
	cr_assert_not(gba_btid_valid("I1U8vpY3qJ0hiuZNrke/NQ=="));
	cr_assert_not(gba_btid_valid("I1U8vpY3qJ0hiuZNrke/NQ==@"));
	cr_assert_not(gba_btid_valid("I1U8!pY3qJ0hiuZNrke/NQ==@bsf.example.com"));
	cr_assert_not(gba_btid_valid("I1U8vpY3qJ0hiuZNrke/NQ==@bsf..example.com"));
}

Test(gba_time, format_and_parse)
{
	char t[GBA_TIME_TEXT_LEN + 1];
	int64_t v;

	/* 1764673200 = 2025-12-02T11:00:00Z (date -u -d @1764673200). */
	cr_assert_eq(gba_time_format(1764673200, t), 0);
	cr_assert_str_eq(t, "2025-12-02T11:00:00Z");
	cr_assert_eq(gba_time_parse(t, &v), 0);
	cr_assert_eq(v, 1764673200);
	cr_assert_eq(gba_time_parse("2025-12-02T11:00:00.250Z", &v), 0);
	cr_assert_eq(v, 1764673200);
	cr_assert_eq(gba_time_parse("2024-02-29T00:00:00Z", &v), 0);
	static const char *const bad[] = {
		"2025-12-02T11:00:00",	   "2025-12-02T11:00:00+01:00", "2025-12-02 11:00:00Z",
		"2025-13-02T11:00:00Z",	   "2025-02-30T11:00:00Z",	"2023-02-29T11:00:00Z",
		"2025-12-02T24:00:00Z",	   "2025-12-02T11:00:00.Z",	"2025-12-02T11:00:00ZZ",
		"1969-12-31T23:59:59Z",	   "",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_eq(gba_time_parse(bad[i], &v), -EINVAL, "accepted: %s", bad[i]);
}

Test(gba_xml, round_trip)
{
	struct gba_bootstrap_info info = { .lifetime = 1764673200 }, back;
	char doc[GBA_BSF_XML_MAX];

	strcpy(info.btid, "I1U8vpY3qJ0hiuZNrke/NQ==@bsf.example.com");
	cr_assert_eq(gba_bootstrap_info_format(&info, doc, sizeof(doc)), 0);
	cr_assert_str_eq(doc, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
			      "<BootstrappingInfo xmlns=\"uri:3gpp-gba\">\n"
			      "  <btid>I1U8vpY3qJ0hiuZNrke/NQ==@bsf.example.com</btid>\n"
			      "  <lifetime>2025-12-02T11:00:00Z</lifetime>\n"
			      "</BootstrappingInfo>\n");
	cr_assert_eq(gba_bootstrap_info_parse(doc, strlen(doc), &back), 0);
	cr_assert_str_eq(back.btid, info.btid);
	cr_assert_eq(back.lifetime, info.lifetime);
	cr_assert_eq(gba_bootstrap_info_format(&info, doc, 100), -ENOBUFS);
	strcpy(info.btid, "no-at-sign");
	cr_assert_eq(gba_bootstrap_info_format(&info, doc, sizeof(doc)), -EINVAL);
}

Test(gba_xml, accepts_other_valid_forms)
{
	static const char *const ok[] = {
		"<BootstrappingInfo><btid>QQ==@b.example</btid><lifetime>2025-12-02T11:00:00Z"
		"</lifetime></BootstrappingInfo>",
		"<?xml version='1.0'?>\r\n<BootstrappingInfo xmlns='uri:3gpp-gba' >\n\t<btid>QQ==@b."
		"example</btid>\n<lifetime>2025-12-02T11:00:00Z</lifetime></BootstrappingInfo>\n\n",
		"<?xml version=\"1.0\" encoding=\"utf-8\" standalone=\"yes\"?><BootstrappingInfo>"
		"<btid>QQ&#61;&#61;@b.example</btid><lifetime>2025-12-02T11:00:00Z</lifetime>"
		"</BootstrappingInfo>",
	};
	struct gba_bootstrap_info info;

	cr_assert_eq(gba_bootstrap_info_parse(ok[0], strlen(ok[0]), &info), 0);
	cr_assert_str_eq(info.btid, "QQ==@b.example");
	cr_assert_eq(gba_bootstrap_info_parse(ok[1], strlen(ok[1]), &info), 0);
	/* Numeric character references are not among the five entities we take. */
	cr_assert_eq(gba_bootstrap_info_parse(ok[2], strlen(ok[2]), &info), -EINVAL);
}

Test(gba_xml, refuses_unexpected)
{
	static const char *const bad[] = {
		"",
		"<BootstrappingInfo><btid>QQ==@b.example</btid></BootstrappingInfo>",
		"<BootstrappingInfo><lifetime>2025-12-02T11:00:00Z</lifetime><btid>QQ==@b.example"
		"</btid></BootstrappingInfo>",
		"<BootstrappingInfo><btid>QQ==@b.example</btid><lifetime>2025-12-02T11:00:00Z"
		"</lifetime><extra/></BootstrappingInfo>",
		"<BootstrappingInfo><!-- c --><btid>QQ==@b.example</btid><lifetime>2025-12-02T11:00:"
		"00Z</lifetime></BootstrappingInfo>",
		"<!DOCTYPE x [<!ENTITY e \"x\">]><BootstrappingInfo><btid>QQ==@b.example</btid>"
		"<lifetime>2025-12-02T11:00:00Z</lifetime></BootstrappingInfo>",
		"<BootstrappingInfo xmlns=\"urn:other\"><btid>QQ==@b.example</btid><lifetime>2025-"
		"12-02T11:00:00Z</lifetime></BootstrappingInfo>",
		"<BootstrappingInfo id=\"1\"><btid>QQ==@b.example</btid><lifetime>2025-12-02T11:00:"
		"00Z</lifetime></BootstrappingInfo>",
		"<BootstrappingInfo><btid><![CDATA[QQ==@b.example]]></btid><lifetime>2025-12-02T11:"
		"00:00Z</lifetime></BootstrappingInfo>",
		"<BootstrappingInfo><btid>QQ==@b.example</btid><lifetime>2025-12-02T11:00:00Z"
		"</lifetime></BootstrappingInfo><BootstrappingInfo/>",
		"<BootstrappingInfo><btid> QQ==@b.example</btid><lifetime>2025-12-02T11:00:00Z"
		"</lifetime></BootstrappingInfo>",
		"<BootstrappingInfo><btid>QQ==@b.example</btid><lifetime>tomorrow</lifetime>"
		"</BootstrappingInfo>",
		"<BootstrappingInfo><btid>QQ==@b.example&foo;</btid><lifetime>2025-12-02T11:00:00Z"
		"</lifetime></BootstrappingInfo>",
		"<?xml version=\"1.1\"?><BootstrappingInfo><btid>QQ==@b.example</btid><lifetime>"
		"2025-12-02T11:00:00Z</lifetime></BootstrappingInfo>",
		"<?xml encoding=\"UTF-8\"?><BootstrappingInfo><btid>QQ==@b.example</btid><lifetime>"
		"2025-12-02T11:00:00Z</lifetime></BootstrappingInfo>",
		"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><BootstrappingInfo><btid>QQ==@b."
		"example</btid><lifetime>2025-12-02T11:00:00Z</lifetime></BootstrappingInfo>",
		"<?xml-stylesheet href=\"x\"?><BootstrappingInfo><btid>QQ==@b.example</btid>"
		"<lifetime>2025-12-02T11:00:00Z</lifetime></BootstrappingInfo>",
	};
	struct gba_bootstrap_info info;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_lt(gba_bootstrap_info_parse(bad[i], strlen(bad[i]), &info), 0,
			     "accepted: %s", bad[i]);
	/* Entities are decoded: &amp; is '&', which no B-TID contains. */
	static const char amp[] = "<BootstrappingInfo><btid>QQ==@b&amp;example</btid><lifetime>"
				  "2025-12-02T11:00:00Z</lifetime></BootstrappingInfo>";
	cr_assert_eq(gba_bootstrap_info_parse(amp, strlen(amp), &info), -EINVAL);
	/* An embedded NUL and an over-long document. */
	cr_assert_eq(gba_bootstrap_info_parse("<Bootstrapping\0Info>", 20, &info), -EINVAL);
	cr_assert_eq(gba_bootstrap_info_parse(amp, GBA_BSF_XML_MAX + 1, &info), -E2BIG);
}
