/* SPDX-License-Identifier: Apache-2.0 */
/* The m2msa-bsf start-up shared by test-bsf and test-gba (see bsf-fixture.h). */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "bsf-fixture.h"
#include "fixture.h"
#include "harness.h"
#include "secrets.h"

/* 3GPP TS 35.208 section 4.3, test set 1: K and OPc. */
const uint8_t bsf_fixture_k[16] = { 0x46, 0x5b, 0x5c, 0xe8, 0xb1, 0x99, 0xb4, 0x9f,
				    0xaa, 0x5f, 0x0a, 0x2e, 0xe2, 0x38, 0xa6, 0xbc };
const uint8_t bsf_fixture_opc[16] = { 0xcd, 0x63, 0xcb, 0x71, 0x95, 0x4a, 0x9f, 0x4e,
				      0x48, 0xa5, 0x99, 0x4e, 0x37, 0xa0, 0x2b, 0xaf };

/* 100 polls 25 ms apart per second: 15 s, for slow sanitizer and valgrind runs. */
#define BSF_START_TRIES 600

/* dir/name holding b as hex digits and a newline, mode 0600; returns the path (free()). */
static char *hex_file(const char *dir, const char *name, const uint8_t b[16])
{
	char *path = harness_strdupf("%s/%s", dir, name), hex[34];

	for (size_t i = 0; i < 16; i++)
		snprintf(hex + 2 * i, 3, "%02x", b[i]);
	strcat(hex, "\n");
	cr_assert_eq(harness_write_file(path, hex, strlen(hex), 0600), 0);
	return path;
}

void bsf_fixture_ctl(const char *conf, const char *const *args, char **ret_out)
{
	const char *argv[16] = { NULL };
	char *bin = harness_strdupf("%s/bsf/m2msa-bsfctl", fixture_builddir());
	char *out = NULL, *err = NULL;
	size_t n = 0;
	int status = -1;

	argv[n++] = bin;
	argv[n++] = "--config";
	argv[n++] = conf;
	for (; *args && n < 15; args++)
		argv[n++] = *args;
	cr_assert_eq(harness_run(argv, NULL, NULL, &status, &out, &err), 0);
	cr_assert_eq(status, 0, "m2msa-bsfctl %s failed: %s", argv[3], err);
	free(bin);
	free(err);
	if (ret_out)
		*ret_out = out;
	else
		free(out);
}

void bsf_fixture_provision(const char *dir, const char *conf, unsigned lifetime,
			   const char *extra, const char *impi)
{
	static const char *const init[] = { "init", NULL };
	const char *add[] = { "subscriber", "add", "--impi", impi, "--k-file", NULL,
			      "--opc-file", NULL, NULL };
	char *text, *kf, *of;

	text = harness_strdupf("[bsf]\ndomain = " BSF_FIXTURE_DOMAIN "\nub_listen = 127.0.0.1:0\n"
			       "zn_listen = 127.0.0.1:0\ncert = %s/pki/bsf.crt\nkey = %s/pki/bsf.key\n"
			       "naf_ca = %s/pki/ca.crt\nlifetime = %u\n%s"
			       "[store]\npath = %s/bsf.db\nmaster_key = %s/master.key\n"
			       "[log]\nlevel = debug\n",
			       dir, dir, dir, lifetime, extra ? extra : "", dir, dir);
	cr_assert_eq(harness_write_file(conf, text, strlen(text), 0644), 0);
	free(text);
	secrets_note(bsf_fixture_k, 16, "K");
	secrets_note(bsf_fixture_opc, 16, "OPc");
	kf = hex_file(dir, "k.hex", bsf_fixture_k);
	of = hex_file(dir, "opc.hex", bsf_fixture_opc);
	add[5] = kf;
	add[7] = of;
	bsf_fixture_ctl(conf, init, NULL);
	bsf_fixture_ctl(conf, add, NULL);
	free(kf);
	free(of);
}

pid_t bsf_fixture_start(const char *conf, const char *log, const char *ports, uint16_t *ret_ub,
			uint16_t *ret_zn)
{
	char *bin = harness_strdupf("%s/bsf/m2msa-bsf", fixture_builddir());
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (!freopen(log, "a", stderr))
			_exit(126);
		unsetenv("NOTIFY_SOCKET");
		unsetenv("JOURNAL_STREAM");
		execl(bin, bin, "--config", conf, "--log-target", "stderr", "--port-file", ports,
		      (char *)NULL);
		_exit(127);
	}
	free(bin);
	for (int tries = 0;; tries++) {
		char *text = NULL;
		size_t len;
		unsigned ub, zn;

		if (harness_read_file(ports, &text, &len) == 0 &&
		    sscanf(text, "ub=%u zn=%u", &ub, &zn) == 2) {
			free(text);
			*ret_ub = (uint16_t)ub;
			*ret_zn = (uint16_t)zn;
			return pid;
		}
		free(text);
		if (tries >= BSF_START_TRIES)
			harness_kill_wait(&pid, SIGKILL);
		cr_assert_lt(tries, BSF_START_TRIES, "m2msa-bsf did not start in 15 s (see %s)",
			     log);
		usleep(25 * 1000);
	}
}
