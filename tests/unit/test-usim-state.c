/* SPDX-License-Identifier: Apache-2.0 */
/* The tpm USIM backend's state parsers and files (usim/usim-state.c), and IMPI syntax. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/aka.h"
#include "usim/usim-state.h"
#include "usim/usim.h"

#define IMPI "001010000000001@ims.mnc001.mcc001.3gppnetwork.org"

Test(usim_state, parse_sqn)
{
	uint64_t v = 99;

	cr_expect_eq(usim_state_parse_sqn("0\n", 2, &v), 0);
	cr_expect_eq(v, 0);
	cr_expect_eq(usim_state_parse_sqn("281474976710655", 15, &v), 0);
	cr_expect_eq(v, AKA_SQN_MAX);
	cr_expect_eq(usim_state_parse_sqn("281474976710656", 15, &v), -EBADMSG, "2^48");
	cr_expect_eq(usim_state_parse_sqn("", 0, &v), -EBADMSG);
	cr_expect_eq(usim_state_parse_sqn("\n", 1, &v), -EBADMSG);
	cr_expect_eq(usim_state_parse_sqn(" 5", 2, &v), -EBADMSG);
	cr_expect_eq(usim_state_parse_sqn("+5", 2, &v), -EBADMSG);
	cr_expect_eq(usim_state_parse_sqn("-5", 2, &v), -EBADMSG);
	cr_expect_eq(usim_state_parse_sqn("5\n\n", 3, &v), -EBADMSG);
	cr_expect_eq(usim_state_parse_sqn("0x10", 4, &v), -EBADMSG);
	cr_expect_eq(v, AKA_SQN_MAX, "a refused text changed the output");
}

Test(usim_state, parse_conf)
{
	static const char good[] = "# comment\n[usim]\nimpi = " IMPI "\n";
	static const char unknown[] = "[usim]\nimpi = " IMPI "\nk = 00\n";
	static const char twice[] = "[usim]\nimpi = a@b\nimpi = c@d\n";
	static const char bad_impi[] = "[usim]\nimpi = a b\n";
	char *impi = NULL, why[200] = "";

	cr_assert_eq(usim_state_parse_conf(good, strlen(good), &impi, why, sizeof(why)), 0, "%s",
		     why);
	cr_expect_str_eq(impi, IMPI);
	free(impi);
	impi = NULL;
	cr_expect_eq(usim_state_parse_conf(unknown, strlen(unknown), &impi, why, sizeof(why)),
		     -EBADMSG);
	cr_expect(strstr(why, "line 3") && strstr(why, "'k'"), "why: %s", why);
	cr_expect_eq(usim_state_parse_conf(twice, strlen(twice), &impi, why, sizeof(why)),
		     -EBADMSG);
	cr_expect_eq(usim_state_parse_conf(bad_impi, strlen(bad_impi), &impi, why, sizeof(why)),
		     -EBADMSG);
	cr_expect_eq(usim_state_parse_conf("[usim]\0impi = a@b\n", 18, &impi, why, sizeof(why)),
		     -EBADMSG, "a NUL byte");
	cr_expect_null(impi);
}

Test(usim_state, impi_syntax)
{
	char longer[300];

	cr_expect(usim_impi_valid(IMPI));
	cr_expect(usim_impi_valid("user+tag@example.org"));
	cr_expect_not(usim_impi_valid(""));
	cr_expect_not(usim_impi_valid(NULL));
	cr_expect_not(usim_impi_valid("a b@c"));
	cr_expect_not(usim_impi_valid("a\n@c"));
	memset(longer, 'a', 256);
	longer[256] = '\0';
	cr_expect_not(usim_impi_valid(longer), "256 characters");
	longer[255] = '\0';
	cr_expect(usim_impi_valid(longer));
}

/* Write, read back, and the errors a damaged folder gives. */
Test(usim_state, files_round_trip_and_damage)
{
	char dir[] = "/tmp/m2msa-usim-state-XXXXXX", path[256], err[512] = "";
	uint8_t opc[16], got[16];
	char *impi = NULL;
	uint64_t sqn = 0;
	struct stat st;
	FILE *f;

	cr_assert_not_null(mkdtemp(dir));
	for (int i = 0; i < 16; i++)
		opc[i] = (uint8_t)(0xc0 + i);
	cr_expect_eq(usim_state_read(dir, &impi, got, err, sizeof(err)), -ENOENT);
	cr_expect(strstr(err, "m2msactl usim provision"), "err: %s", err);
	cr_assert_eq(usim_state_write(dir, IMPI, opc, 42, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(usim_state_read(dir, &impi, got, err, sizeof(err)), 0, "%s", err);
	cr_expect_str_eq(impi, IMPI);
	cr_expect_arr_eq(got, opc, 16);
	free(impi);
	cr_assert_eq(usim_state_sqn_read(dir, &sqn, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(sqn, 42);
	cr_assert_eq(usim_state_sqn_write(dir, 43, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(usim_state_sqn_read(dir, &sqn, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(sqn, 43);
	snprintf(path, sizeof(path), "%s/" USIM_SQN_FILE, dir);
	cr_assert_eq(stat(path, &st), 0);
	cr_expect_eq(st.st_mode & 0777, 0600);
	cr_expect_eq(usim_state_sqn_write(dir, AKA_SQN_MAX + 1, err, sizeof(err)), -EINVAL);

	/* A damaged SQN file is named, with the way out. */
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs("forty-three\n", f);
	fclose(f);
	cr_expect_eq(usim_state_sqn_read(dir, &sqn, err, sizeof(err)), -EBADMSG);
	cr_expect(strstr(err, USIM_SQN_FILE " is corrupt") && strstr(err, "--sqn"), "err: %s", err);
	/* A short OPc file. */
	snprintf(path, sizeof(path), "%s/" USIM_OPC_FILE, dir);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs("short", f);
	fclose(f);
	cr_expect_eq(usim_state_read(dir, &impi, got, err, sizeof(err)), -EBADMSG);
	cr_expect(strstr(err, "5 bytes"), "err: %s", err);
	cr_expect_eq(usim_state_write(dir, "bad impi", opc, 0, err, sizeof(err)), -EINVAL);

	{
		const char *names[] = { USIM_CONF_FILE, USIM_OPC_FILE, USIM_SQN_FILE };

		for (size_t i = 0; i < 3; i++) {
			snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
			unlink(path);
		}
	}
	cr_expect_eq(rmdir(dir), 0, "files left behind in %s", dir);
}

Test(usim_state, lock_is_exclusive)
{
	char dir[] = "/tmp/m2msa-usim-lock-XXXXXX", path[256], err[256];
	int fd, fd2;

	cr_assert_not_null(mkdtemp(dir));
	fd = usim_state_lock(dir, err, sizeof(err));
	cr_assert_geq(fd, 0, "%s", err);
	fd2 = open(strcat(strcpy(path, dir), "/" USIM_LOCK_FILE), O_RDWR);
	cr_assert_geq(fd2, 0);
	cr_expect_eq(flock(fd2, LOCK_EX | LOCK_NB), -1, "a second lock was granted");
	close(fd);
	cr_expect_eq(flock(fd2, LOCK_EX | LOCK_NB), 0, "the lock outlived its fd");
	close(fd2);
	unlink(path);
	rmdir(dir);
}
