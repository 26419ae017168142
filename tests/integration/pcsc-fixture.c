/* SPDX-License-Identifier: Apache-2.0 */
/* A private pcscd with vpcd for the pcsc USIM tests (pcsc-fixture.h). */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "pcsc-fixture.h"

#define PCSCD_PID "/run/pcscd/pcscd.pid"
#define LOCK_PATH "/tmp/m2msa-test-pcscd.lock"

bool pcsc_fx_pcscd_running(void)
{
	char *s = NULL;
	size_t len;
	bool alive = false;

	if (harness_read_file(PCSCD_PID, &s, &len) == 0) {
		long pid = strtol(s, NULL, 10);

		alive = pid > 0 && kill((pid_t)pid, 0) == 0;
		free(s);
	}
	return alive;
}

void pcsc_fx_require(void)
{
	if (!harness_have_program("pcscd"))
		cr_skip_test("pcscd is not installed (apt install pcscd libpcsclite-dev)");
	if (access(PCSC_FX_VPCD_DRIVER, R_OK) != 0)
		cr_skip_test("vsmartcard's vpcd driver is not installed (apt install vsmartcard-vpcd)");
}

int pcsc_fx_lock(void)
{
	int fd;

	pcsc_fx_require();
	fd = open(LOCK_PATH, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(flock(fd, LOCK_EX), 0);
	if (pcsc_fx_pcscd_running())
		cr_skip_test("a pcscd is already running on this machine; this test needs its own "
			     "(stop it: systemctl stop pcscd.socket pcscd)");
	return fd;
}

void pcsc_fx_start_pcscd(const char *dir, pid_t *ret_pid, uint16_t *ret_port)
{
	char *conf_dir = harness_strdupf("%s/reader.conf.d", dir);
	char *conf = harness_strdupf("%s/vpcd", conf_dir);
	char *log = harness_strdupf("%s/pcscd.log", dir);
	char *text;
	const struct timespec pause = { 0, 50 * 1000 * 1000 };
	uint16_t port;
	pid_t pid;

	cr_assert_eq(harness_free_port(2, &port), 0);
	text = harness_strdupf("FRIENDLYNAME \"m2msa test vpcd\"\nDEVICENAME /dev/null:%u\n"
			       "LIBPATH " PCSC_FX_VPCD_DRIVER "\nCHANNELID %u\n", port, port);
	cr_assert_eq(mkdir(conf_dir, 0700), 0);
	cr_assert_eq(harness_write_file(conf, text, strlen(text), 0600), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

		prctl(PR_SET_PDEATHSIG, SIGTERM);
		dup2(fd, 1);
		dup2(fd, 2);
		execlp("pcscd", "pcscd", "--foreground", "--config", conf_dir, (char *)NULL);
		_exit(127);
	}
	*ret_pid = pid;
	*ret_port = port;
	/* Ready when its socket answers (pcscd writes the pid file once it is ready). */
	for (int i = 0; i < 100 && !pcsc_fx_pcscd_running(); i++)
		nanosleep(&pause, NULL);
	cr_assert(pcsc_fx_pcscd_running(), "pcscd did not start (see %s)", log);
	free(conf_dir);
	free(conf);
	free(log);
	free(text);
}
