/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Integration-test harness: a real swtpm per test, temp dirs, external commands.
 * No dependency on Criterion (bench/ compiles it too); the HARNESS_REQUIRE_*
 * macros expand to cr_skip_test() only where a Criterion test uses them.
 *
 * Typical test:
 *   static struct harness_swtpm *tpm;
 *   static void stop(void) { harness_swtpm_stop(tpm); tpm = NULL; } // kills swtpm, rm dir
 *   Test(tpm, derive, .fini = stop) {
 *       HARNESS_REQUIRE_SWTPM();                         // skips with a message if missing
 *       cr_assert_eq(harness_swtpm_start(NULL, &tpm), 0);
 *       ... tpm_open(harness_swtpm_tcti(tpm), ...) ...
 *   }
 *
 * swtpm is started as
 *   swtpm socket --tpm2 --server type=tcp,port=P,bindaddr=127.0.0.1
 *         --ctrl type=tcp,port=P+1,bindaddr=127.0.0.1 --tpmstate dir=D
 *         --flags not-need-init,startup-clear
 * on a free loopback port pair, and the harness waits until P accepts. The TCTI
 * string for tpm2-tss and tpm2-tools (TPM2TOOLS_TCTI) is "swtpm:host=127.0.0.1,port=P".
 * swtpm serves one client connection at a time: close every tpm_ctx before
 * running tpm2-tools against the same swtpm.
 *
 * Stopping uses SIGKILL: swtpm writes its permanent state (seeds, NV, persistent
 * objects) to D as soon as it changes, so nothing a restart needs is lost, and it
 * saves the ~1.5 s a SIGTERM shutdown takes. Transient objects and sessions do
 * not survive a restart (startup-clear), exactly as on a reboot.
 *
 * swtpm gets PR_SET_PDEATHSIG(SIGKILL): if the test process dies on a failed
 * assertion, swtpm dies with it. Its state dir is only removed by
 * harness_swtpm_stop(), so call that from a Criterion .fini function, which runs
 * after a failed assertion too.
 *
 * All functions return 0 or -errno; none print except to explain a failure on stderr.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct harness_swtpm;

/* True when an executable named prog is in $PATH. */
bool harness_have_program(const char *prog);

/* Skip the current Criterion test unless swtpm (and, for the _TOOLS variant, tpm2-tools) exist. */
#define HARNESS_REQUIRE_SWTPM()                                                              \
	do {                                                                                 \
		if (!harness_have_program("swtpm"))                                          \
			cr_skip_test("swtpm is not installed (apt install swtpm swtpm-tools)"); \
	} while (0)
#define HARNESS_REQUIRE_TPM2_TOOLS()                                                         \
	do {                                                                                 \
		HARNESS_REQUIRE_SWTPM();                                                     \
		if (!harness_have_program("tpm2_load"))                                      \
			cr_skip_test("tpm2-tools is not installed (apt install tpm2-tools)");   \
	} while (0)

/*
 * Start swtpm. state_dir NULL: a fresh temp dir the harness owns and removes on
 * stop; otherwise that dir (kept on stop). Waits up to 5 s for the port.
 */
int harness_swtpm_start(const char *state_dir, struct harness_swtpm **ret);
/* Stop (SIGKILL + wait) and start again on a new port pair with the same state dir. */
int harness_swtpm_restart(struct harness_swtpm *s);
/* Stop swtpm, remove its state dir if the harness made it, free s. NULL is fine. */
void harness_swtpm_stop(struct harness_swtpm *s);
/* "swtpm:host=127.0.0.1,port=P", valid until restart/stop. */
const char *harness_swtpm_tcti(const struct harness_swtpm *s);
const char *harness_swtpm_state_dir(const struct harness_swtpm *s);
uint16_t harness_swtpm_port(const struct harness_swtpm *s);

/* Send *pid sig and reap it, then *pid = 0; no-op when *pid <= 0. */
void harness_kill_wait(pid_t *pid, int sig);

/* A free TCP port P on 127.0.0.1 such that P+1 is free too (n_ports 1 or 2). */
int harness_free_port(unsigned n_ports, uint16_t *ret);

/* mkdtemp under $TMPDIR (or /tmp), "m2msa-test-XXXXXX"; free() the result. */
int harness_tmpdir(char **ret);
/* rm -rf path (no error if it does not exist). */
int harness_rmtree(const char *path);

/*
 * Run argv[0] (looked up in $PATH) with argv, environment = ours plus env
 * ("NAME=value" strings, NULL-terminated; may be NULL). stdin is /dev/null unless
 * stdin_data is given. Captures stdout (and stderr when ret_stderr) as NUL-terminated
 * strings (free()); *ret_status is the exit status, or 128+signal if killed.
 */
int harness_run(const char *const *argv, const char *const *env, const char *stdin_data,
		int *ret_status, char **ret_stdout, char **ret_stderr);

/* Read a whole file; *ret is NUL-terminated (not counted in *ret_len); free(). */
int harness_read_file(const char *path, char **ret, size_t *ret_len);
/* Create or replace path with len bytes of data, mode mode. */
int harness_write_file(const char *path, const void *data, size_t len, mode_t mode);
/* asprintf that returns the string or aborts on OOM (tests only). */
char *harness_strdupf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
