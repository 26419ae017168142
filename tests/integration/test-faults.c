/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fault injection with real parts: m2masd killed with SIGKILL in the middle of
 * establishments and restarted (no association lost, the store stays
 * consistent), the SQLite store on a full tmpfs (clear error, no corruption,
 * recovery when space returns), a corrupted TPM state blob (clear message from
 * m2msactl), and the daemons' own protection of key memory (not dumpable, no
 * core file, mlock'ed keys). The swtpm-restart-under-the-agent fault is in
 * test-agent.c (agent/swtpm_restart_recovers).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/ecc.h>

#include "agent/establish.h"
#include "common/crypto.h"
#include "common/sa.h"
#include "common/secret.h"
#include "common/tls.h"
#include "fixture.h"
#include "harness.h"
#include "mas/keyfile.h"
#include "mas/store.h"
#include "secrets.h"

#define NODE "/mn-cse-f"
#define TARGET "/in-cse"
#define FQDN "mas.test"
#define MAX_DONE 4096

/* ASan intercepts mlock() as a no-op: VmLck cannot be checked in a sanitizer build. */
#if defined(__SANITIZE_ADDRESS__)
#define MLOCK_WORKS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MLOCK_WORKS 0
#endif
#endif
#ifndef MLOCK_WORKS
#define MLOCK_WORKS 1
#endif

static struct {
	char *dir, *db, *master, *mas_log;
	pid_t mas_pid, agent_pid;
	uint16_t est_port, ret_port;
	uint8_t km[32];
	WOLFSSL_CTX *client;
	struct harness_swtpm *tpm;
	bool mounted, as_nobody;
	char *mnt;
} fx;

static char *path(const char *name)
{
	return harness_strdupf("%s/%s", fx.dir, name);
}

static void add_node(void)
{
	static const uint8_t psk = WIRE_METHOD_PSK;

	if (access(fx.master, F_OK) != 0)
		cr_assert_eq(mas_master_key_create(fx.master), 0);
	fixture_add_node(fx.db, fx.master, NODE, "km-f@" FQDN, fx.km, &psk, 1, 0);
}

/* PRAGMA integrity_check on the store file, read-only, through the SQLite API. */
static void assert_store_intact(void)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;

	cr_assert_eq(sqlite3_open_v2(fx.db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
	cr_assert_str_eq((const char *)sqlite3_column_text(st, 0), "ok", "store %s is corrupt",
			 fx.db);
	sqlite3_finalize(st);
	sqlite3_close(db);
}

/* In a forked child before exec: as root, drop to nobody (65534). */
static void run_as_nobody(void)
{
	if (geteuid() == 0 && (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0))
		_exit(125);
}

static void start_mas(uint16_t est, uint16_t ret)
{
	char *conf = path("m2masd.conf"), *ports = path("mas.ports");
	char *mas = harness_strdupf("%s/mas/m2masd", fixture_builddir());
	char *text = harness_strdupf(
		"[mas]\nlisten = 127.0.0.1:%u\nretrieval_listen = 127.0.0.1:%u\nfqdn = " FQDN "\n"
		"cert = %s/pki/mas.crt\nkey = %s/pki/mas.key\ntarget_ca = %s/pki/ca.crt\n"
		"lifetime = 1h\nhandshake_timeout = 5s\n[store]\npath = %s\nmaster_key = %s\n"
		"[log]\nlevel = info\n",
		est, ret, fx.dir, fx.dir, fx.dir, fx.db, fx.master);

	unlink(ports);
	cr_assert_eq(harness_write_file(conf, text, strlen(text), 0600), 0);
	if (fx.as_nobody && geteuid() == 0)
		cr_assert_eq(chown(conf, 65534, 65534), 0);
	fx.mas_pid = fork();
	cr_assert_geq(fx.mas_pid, 0);
	if (fx.mas_pid == 0) {
		(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (!freopen(fx.mas_log, "a", stderr))
			_exit(126);
		if (fx.as_nobody)
			run_as_nobody();
		execl(mas, mas, "--config", conf, "--port-file", ports, "--foreground", (char *)NULL);
		_exit(127);
	}
	fixture_read_ports(ports, fx.mas_log, &fx.est_port, &fx.ret_port);
	free(conf);
	free(ports);
	free(mas);
	free(text);
}

static void setup(void)
{
	memset(&fx, 0, sizeof(fx));
	signal(SIGPIPE, SIG_IGN);
	cr_assert_eq(tls_init(), 0);
	cr_assert_eq(harness_tmpdir(&fx.dir), 0);
	fx.db = path("mas.db");
	fx.master = path("master.key");
	fx.mas_log = path("m2masd.log");
	fixture_make_certs(fx.dir);
	cr_assert_eq(crypto_random(fx.km, sizeof(fx.km)), 0);
}

static void teardown(void)
{
	harness_kill_wait(&fx.agent_pid, SIGKILL);
	harness_kill_wait(&fx.mas_pid, SIGKILL);
	harness_swtpm_stop(fx.tpm);
	if (fx.client)
		wolfSSL_CTX_free(fx.client);
	secrets_note(fx.km, sizeof(fx.km), "Km (test)");
	secrets_assert_logs_clean(fx.dir, fx.db, fx.master); /* no key byte in any log */
	if (fx.mounted)
		(void)umount2(fx.mnt, MNT_DETACH);
	harness_rmtree(fx.dir);
	free(fx.dir);
	free(fx.db);
	free(fx.master);
	free(fx.mas_log);
	free(fx.mnt);
}

TestSuite(faults, .init = setup, .fini = teardown, .timeout = 120);

static WOLFSSL_CTX *client_ctx(void)
{
	char err[256] = "", *ca;

	if (fx.client)
		return fx.client;
	ca = path("pki/ca.crt");
	fx.client = tls_client_ctx_new(ca, NULL, NULL, err, sizeof(err));
	cr_assert_not_null(fx.client, "%s", err);
	free(ca);
	return fx.client;
}

/* One establishment of NODE with Km in software (the real protocol and TLS). */
static int node_establish(struct establish_result *ret, struct m2msa_err *err)
{
	static const uint8_t methods[] = { WIRE_METHOD_PSK };
	struct kdf_sw_key key = { fx.km, sizeof(fx.km) };
	struct establish_result res = { .kc = NULL };
	struct kdf_prf prf;
	char addr[32];
	int r;

	kdf_prf_software(&key, &prf);
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", fx.est_port);
	r = establish_run(client_ctx(),
			  &(struct establish_params){ .mas_address = addr, .server_name = FQDN,
						      .node_id = NODE, .methods = methods,
						      .n_methods = 1, .timeout_ms = 3000 },
			  &prf, &res, err);
	if (r == 0 && ret)
		*ret = res;
	else
		establish_result_clear(&res);
	return r;
}

/* The MAS hands out key_id with exactly kc. */
static void assert_retrievable(const char *key_id, const uint8_t kc[32])
{
	struct wire_msg m;

	cr_assert_eq(fixture_retrieve_at(fx.dir, fx.ret_port, "target", key_id, &m), 0);
	cr_assert_eq(m.type, WIRE_MSG_KEY_RESPONSE, "association %s was lost", key_id);
	cr_assert(secret_equal(m.key_response.key, kc, 32), "wrong key for %s", key_id);
	wire_msg_wipe(&m);
}

/* No byte string of kc (hex either case, 8-byte prefix, raw 16 bytes) in the file at path. */
static void assert_key_not_in(const char *file, const uint8_t kc[32])
{
	char *text = NULL, lo[65], up[65];
	size_t len;

	cr_assert_eq(harness_read_file(file, &text, &len), 0);
	for (int j = 0; j < 32; j++) {
		snprintf(lo + 2 * j, 3, "%02x", kc[j]);
		snprintf(up + 2 * j, 3, "%02X", kc[j]);
	}
	lo[16] = up[16] = '\0';
	cr_assert_null(strstr(text, lo), "key bytes in %s", file);
	cr_assert_null(strstr(text, up), "key bytes in %s", file);
	cr_assert_null(memmem(text, len, kc, 16), "raw key bytes in %s", file);
	free(text);
}

/* --- m2masd killed with SIGKILL mid-handshake --- */

struct done_key {
	char key_id[WIRE_KEY_ID_MAX + 1];
	uint8_t kc[32];
};

static struct done_key done[MAX_DONE];
static atomic_int n_done;
static atomic_bool stop_workers;

static void *hammer(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop_workers)) {
		struct establish_result res = { .kc = NULL };
		struct m2msa_err err;

		if (node_establish(&res, &err) == 0) {
			int i = atomic_fetch_add(&n_done, 1);

			if (i < MAX_DONE) {
				snprintf(done[i].key_id, sizeof(done[i].key_id), "%s", res.key_id);
				memcpy(done[i].kc, res.kc->data, 32);
			}
			establish_result_clear(&res);
		} else {
			usleep(10 * 1000);
		}
	}
	wc_ecc_fp_free(); /* wolfSSL's per-thread fixed-point ECC cache (FP_ECC) */
	return NULL;
}

Test(faults, mas_sigkill_mid_handshake_loses_nothing_store_consistent)
{
	pthread_t th[8];
	struct establish_result res = { .kc = NULL };
	struct m2msa_err err;
	uint16_t est, ret;
	int fd, before, total;

	add_node();
	start_mas(0, 0);
	est = fx.est_port;
	ret = fx.ret_port;
	(void)client_ctx(); /* not from the threads: cr_assert only works on the test's thread */
	atomic_store(&n_done, 0);
	atomic_store(&stop_workers, false);
	for (size_t i = 0; i < 8; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, hammer, NULL), 0);
	/* A half-open handshake too: TCP connected, ClientHello never finished. */
	fd = tcp_connect("127.0.0.1", est, 3000);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "\x16\x03\x01\x02\x00\x01", 6), 6);
	while (atomic_load(&n_done) < 20)
		usleep(5 * 1000);
	harness_kill_wait(&fx.mas_pid, SIGKILL); /* eight handshakes are in flight right now */
	before = atomic_load(&n_done);
	usleep(300 * 1000);
	atomic_store(&stop_workers, true);
	for (size_t i = 0; i < 8; i++)
		pthread_join(th[i], NULL);
	close(fd);
	total = atomic_load(&n_done);
	cr_assert_eq(total, before, "an establishment succeeded with m2masd dead");
	cr_assert_leq(total, MAX_DONE);

	assert_store_intact();
	start_mas(est, ret); /* same ports, same store */
	/* Every association a node saw as established is still there, with its key. */
	for (int i = 0; i < total; i++)
		assert_retrievable(done[i].key_id, done[i].kc);
	/* And the node establishes again. */
	cr_assert_eq(node_establish(&res, &err), 0, "%s", err.msg);
	assert_retrievable(res.key_id, res.kc->data);
	establish_result_clear(&res);
	harness_kill_wait(&fx.mas_pid, SIGTERM);
	assert_store_intact();
	for (int i = 0; i < total; i++)
		assert_key_not_in(fx.mas_log, done[i].kc);
	cr_log_info("%d associations survived the SIGKILL", total);
}

/* --- the store on a full filesystem --- */

static size_t fill(const char *filler)
{
	static const char block[4096];
	int fd = open(filler, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	size_t n = 0;
	ssize_t w;

	cr_assert_geq(fd, 0);
	while ((w = write(fd, block, sizeof(block))) > 0)
		n += (size_t)w;
	cr_assert_eq(errno, ENOSPC);
	/* Byte by byte for the last partial block. */
	while (write(fd, block, 1) == 1)
		n++;
	close(fd);
	return n;
}

Test(faults, store_on_full_filesystem_clear_error_no_corruption_recovers)
{
	struct establish_result res = { .kc = NULL };
	struct m2msa_err err;
	char *filler, *log = NULL;
	size_t len;
	int r = 0, failed_at = -1;

	if (geteuid() != 0)
		cr_skip_test("mounting a tmpfs needs root");
	fx.mnt = path("fs");
	cr_assert_eq(mkdir(fx.mnt, 0700), 0);
	/* A private mount namespace: the tmpfs goes away with this worker whatever happens. */
	if (unshare(CLONE_NEWNS) == 0)
		(void)mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
	if (mount("tmpfs", fx.mnt, "tmpfs", 0, "size=512k,mode=0700") < 0)
		cr_skip_test("cannot mount a tmpfs (%s): no CAP_SYS_ADMIN here", strerror(errno));
	fx.mounted = true;
	free(fx.db);
	fx.db = harness_strdupf("%s/mas.db", fx.mnt);
	filler = harness_strdupf("%s/filler", fx.mnt);

	add_node();
	start_mas(0, 0);
	cr_assert_eq(node_establish(&res, &err), 0, "%s", err.msg);
	establish_result_clear(&res);

	fill(filler);
	/* SQLite may still have free pages; the store fills up within a few hundred. */
	for (int i = 0; i < 2000; i++) {
		r = node_establish(&res, &err);
		if (r < 0) {
			failed_at = i;
			break;
		}
		establish_result_clear(&res);
	}
	cr_assert_lt(r, 0, "2000 establishments succeeded on a full filesystem");
	cr_log_info("store full after %d more establishments", failed_at);
	cr_assert_eq(err.wire_code, WIRE_ERR_INTERNAL, "error %u: %s", err.wire_code, err.msg);
	cr_assert_not_null(strstr(err.msg, "store"), "the node's message names no cause: %s",
			   err.msg);
	cr_assert_eq(harness_read_file(fx.mas_log, &log, &len), 0);
	cr_assert_not_null(strstr(log, "No space left on device"),
			   "m2masd's log does not say the disk is full:\n%s", log);
	cr_assert_not_null(strstr(log, fx.db), "m2masd's full-disk line does not name the store %s:\n%s",
			   fx.db, log);
	free(log);
	/* m2masd stays up and answers while full. */
	cr_assert_eq(kill(fx.mas_pid, 0), 0);
	assert_store_intact();

	cr_assert_eq(unlink(filler), 0);
	cr_assert_eq(node_establish(&res, &err), 0, "no recovery after space returned: %s",
		     err.msg);
	assert_retrievable(res.key_id, res.kc->data);
	establish_result_clear(&res);
	harness_kill_wait(&fx.mas_pid, SIGTERM);
	assert_store_intact();
	free(filler);
}

/* --- key memory of the daemons --- */

/* Field "name:" of /proc/pid/status as a number (kB for Vm*), or -1. */
static long proc_status_field(pid_t pid, const char *name)
{
	char *p = harness_strdupf("/proc/%d/status", (int)pid), *text = NULL, *at;
	char *needle = harness_strdupf("\n%s:", name);
	size_t len;
	long v = -1;

	if (harness_read_file(p, &text, &len) == 0 && (at = strstr(text, needle)))
		v = strtol(at + strlen(needle), NULL, 10);
	free(text);
	free(needle);
	free(p);
	return v;
}

/*
 * Whether pid is dumpable: the kernel gives the /proc/pid files of a
 * non-dumpable process to root (proc_pid_make_inode, task_dump_owner), those of
 * a dumpable one to its uid. That only tells when the process does not run as
 * root, so as root the daemons under test are started as nobody (run_as_nobody).
 */
static bool is_dumpable(pid_t pid)
{
	char *p = harness_strdupf("/proc/%d/environ", (int)pid);
	struct stat st;
	long uid = proc_status_field(pid, "Uid");

	cr_assert_eq(stat(p, &st), 0);
	cr_assert_gt(uid, 0, "pid %d runs as root: dumpability cannot be seen", (int)pid);
	free(p);
	return st.st_uid == (uid_t)uid;
}

/* Make the test dir usable by nobody (the daemons run as nobody when we are root). */
static void give_dir_to_nobody(void)
{
	const char *argv[] = { "chown", "-R", "65534:65534", fx.dir, NULL };
	int status = -1;

	if (geteuid() != 0)
		return;
	cr_assert_eq(harness_run(argv, NULL, NULL, &status, NULL, NULL), 0);
	cr_assert_eq(status, 0);
}

static void assert_no_core(pid_t pid, const char *who)
{
	char *p = harness_strdupf("/proc/%d/limits", (int)pid), *text = NULL, *line;
	size_t len;
	unsigned long soft = 1;

	cr_assert_eq(harness_read_file(p, &text, &len), 0);
	line = strstr(text, "Max core file size");
	cr_assert_not_null(line);
	cr_assert_eq(sscanf(line, "Max core file size %lu", &soft), 1, "%s", line);
	cr_assert_eq(soft, 0, "%s may write a core file: %.60s", who, line);
	cr_assert_not(is_dumpable(pid), "%s is dumpable", who);
	free(text);
	free(p);
}

Test(faults, dumpable_probe_detects_a_dumpable_process)
{
	pid_t c = fork();

	cr_assert_geq(c, 0);
	if (c == 0) {
		run_as_nobody(); /* exec makes it dumpable again after the uid change */
		execlp("sleep", "sleep", "30", (char *)NULL);
		_exit(127);
	}
	usleep(100 * 1000);
	cr_assert(is_dumpable(c), "the probe cannot tell a dumpable process");
	harness_kill_wait(&c, SIGKILL);
}

Test(faults, mas_not_dumpable_no_core_key_memory_locked)
{
	add_node();
	give_dir_to_nobody();
	fx.as_nobody = true;
	start_mas(0, 0);
	assert_no_core(fx.mas_pid, "m2masd");
	if (MLOCK_WORKS)
		cr_assert_gt(proc_status_field(fx.mas_pid, "VmLck"), 0,
			     "m2masd holds its master key in unlocked memory");
}

/* swtpm with Km provisioned in <dir>/node, the node in the store, m2masd running; returns the
 * path of an m2msad.conf for that node (free()). */
static char *start_node_and_mas(void)
{
	char *conf = path("m2msad.conf"), *state = path("node");
	char *text;

	HARNESS_REQUIRE_SWTPM();
	cr_assert_eq(harness_swtpm_start(NULL, &fx.tpm), 0);
	fixture_provision_km(harness_swtpm_tcti(fx.tpm), state, NODE, "km-f@" FQDN, fx.km);
	add_node();
	start_mas(0, 0);
	text = harness_strdupf(
		"[node]\nstate_dir = %s/node\ntcti = swtpm:host=127.0.0.1,port=%u\n"
		"[mas]\naddress = 127.0.0.1:%u\nca = %s/pki/ca.crt\nserver_name = " FQDN "\n"
		"timeout = 3s\n[agent]\nstatus_file = %s/status\nbackoff_min = 1s\n"
		"backoff_max = 2s\n",
		fx.dir, harness_swtpm_port(fx.tpm), fx.est_port, fx.dir, fx.dir);

	cr_assert_eq(harness_write_file(conf, text, strlen(text), 0644), 0);
	free(text);
	free(state);
	return conf;
}

Test(faults, agent_not_dumpable_no_core_key_memory_locked)
{
	char *conf, *status = path("status"), *agent, *text = NULL;
	char *alog = path("m2msad.log");
	size_t len;
	int i;

	conf = start_node_and_mas();
	give_dir_to_nobody();
	agent = harness_strdupf("%s/agent/m2msad", fixture_builddir());
	fx.agent_pid = fork();
	cr_assert_geq(fx.agent_pid, 0);
	if (fx.agent_pid == 0) {
		(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (!freopen(alog, "a", stderr))
			_exit(126);
		unsetenv("NOTIFY_SOCKET");
		run_as_nobody();
		execl(agent, agent, "--config", conf, "--log-target", "stderr", (char *)NULL);
		_exit(127);
	}
	/* Wait until the agent holds Kc. */
	for (i = 0; i < 200; i++) {
		free(text);
		text = NULL;
		if (harness_read_file(status, &text, &len) == 0 && strstr(text, "established"))
			break;
		usleep(50 * 1000);
	}
	cr_assert_lt(i, 200, "the agent did not establish (see %s)", alog);
	assert_no_core(fx.agent_pid, "m2msad");
	if (MLOCK_WORKS)
		cr_assert_gt(proc_status_field(fx.agent_pid, "VmLck"), 0,
			     "m2msad holds Kc in unlocked memory");
	free(text);
	free(conf);
	free(status);
	free(agent);
	free(alog);
}

/* --- a corrupted TPM state blob --- */

Test(faults, corrupted_state_blob_clear_message_from_m2msactl)
{
	char *state = path("node"), *priv = path("node/km.priv"), *conf, *blob = NULL;
	char *ctl = harness_strdupf("%s/m2msactl/m2msactl", fixture_builddir());
	char *out = NULL, *errout = NULL;
	size_t len;
	int st = -1;

	conf = start_node_and_mas();

	/* Flip bytes in the middle of the sealed private part (past its size field). */
	cr_assert_eq(harness_read_file(priv, &blob, &len), 0);
	cr_assert_gt(len, 40);
	for (size_t i = len / 2; i < len / 2 + 8; i++)
		blob[i] ^= 0x5a;
	cr_assert_eq(harness_write_file(priv, blob, len, 0600), 0);

	{
		const char *argv[] = { ctl, "establish", "--config", conf, NULL };

		cr_assert_eq(harness_run(argv, NULL, NULL, &st, &out, &errout), 0);
		cr_assert_neq(st, 0, "m2msactl establish succeeded with a corrupt blob");
		cr_assert_not_null(strstr(errout, "corrupt"), "unclear message: %s", errout);
		cr_assert_not_null(strstr(errout, "m2msactl provision"), "no fix named: %s",
				   errout);
		free(out);
		free(errout);
	}
	{
		char *tcti = harness_strdupf("%s", harness_swtpm_tcti(fx.tpm));
		const char *argv[] = { ctl, "tpm-check", "--tcti", tcti, "--state-dir", state, NULL };

		cr_assert_eq(harness_run(argv, NULL, NULL, &st, &out, &errout), 0);
		cr_assert_neq(st, 0, "m2msactl tpm-check passed with a corrupt blob");
		cr_assert_not_null(strstr(errout, "corrupt"), "unclear message: %s", errout);
		free(out);
		free(errout);
		free(tcti);
	}
	free(blob);
	free(priv);
	free(state);
	free(conf);
	free(ctl);
}

/* --- the log scan every suite's .fini runs (secrets.h) can fail --- */

/* An encoder of its own (not the scanner's), so that the scan is checked against it. */
static void b64_encode(const uint8_t *in, size_t len, char *out)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;

	for (size_t i = 0; i + 3 <= len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

		out[o++] = a[v >> 18 & 63];
		out[o++] = a[v >> 12 & 63];
		out[o++] = a[v >> 6 & 63];
		out[o++] = a[v & 63];
	}
	out[o] = '\0';
}

Test(faults, log_scan_finds_planted_key_bytes)
{
	struct store_assoc a = { .method = WIRE_METHOD_PSK };
	uint8_t kc[32], root[32], ae_key[32];
	char report[2048], kcid_hex[33], b64[64], *text, *log = path("planted.log");
	char *sub = path("sub"), *log2;
	struct store *s;
	int r;

	add_node();
	cr_assert_eq(crypto_random(kc, sizeof(kc)), 0);
	cr_assert_eq(crypto_random(root, sizeof(root)), 0);
	cr_assert_eq(crypto_random(a.kcid, sizeof(a.kcid)), 0);
	snprintf(a.node_id, sizeof(a.node_id), "%s", NODE);
	snprintf(a.target_id, sizeof(a.target_id), "%s", TARGET);
	a.created = (uint64_t)time(NULL);
	a.expiry = a.created + 3600;
	s = fixture_store_open(fx.db, fx.master);
	cr_assert_eq(store_assoc_add(s, &a, kc, root), 0);
	store_close(s);
	for (int i = 0; i < 16; i++)
		snprintf(kcid_hex + 2 * i, 3, "%02x", a.kcid[i]);

	/* Clean logs: key IDs only. */
	text = harness_strdupf("issued %s@" FQDN " and %s-Cae9@" FQDN "\n", kcid_hex, kcid_hex);
	cr_assert_eq(harness_write_file(log, text, strlen(text), 0600), 0);
	free(text);
	cr_assert_eq(secrets_check_dir(fx.dir, fx.db, fx.master, report, sizeof(report)), 0, "%s",
		     report);

	/* The per-AE key of Cae9 (named only by its key ID in the log), in base64, in a
	 * log in a subfolder; Km's first bytes in uppercase hex in a .json file. */
	cr_assert_eq(sa_ae_key(root, "Cae9", ae_key), 0);
	b64_encode(ae_key, 30, b64);
	cr_assert_eq(mkdir(sub, 0700), 0);
	log2 = harness_strdupf("%s/agent.log", sub);
	text = harness_strdupf("key %s-Cae9@" FQDN " is %s\n", kcid_hex, b64);
	cr_assert_eq(harness_write_file(log2, text, strlen(text), 0600), 0);
	free(text);
	free(log2);
	log2 = path("status.json");
	text = harness_strdupf("{\"x\":\"%02X%02X%02X%02X%02X%02X%02X%02X%02X\"}", fx.km[0],
			       fx.km[1], fx.km[2], fx.km[3], fx.km[4], fx.km[5], fx.km[6], fx.km[7],
			       fx.km[8]);
	cr_assert_eq(harness_write_file(log2, text, strlen(text), 0600), 0);
	free(text);
	r = secrets_check_dir(fx.dir, fx.db, fx.master, report, sizeof(report));
	cr_expect_eq(r, 2, "hits %d:\n%s", r, report);
	cr_expect_not_null(strstr(report, "key of AE Cae9"), "%s", report);
	cr_expect_not_null(strstr(report, "base64"), "%s", report);
	cr_expect_not_null(strstr(report, "Km of " NODE " (HEX)"), "%s", report);
	/* Kc in raw bytes, noted by the test rather than found in a store. */
	text = malloc(40);
	memcpy(text, "raw:", 4);
	memcpy(text + 4, kc, 32);
	cr_assert_eq(harness_write_file(log, text, 36, 0600), 0);
	free(text);
	secrets_note(kc, sizeof(kc), "the planted Kc");
	r = secrets_scan(fx.dir, report, sizeof(report));
	cr_expect_eq(r, 1, "hits %d:\n%s", r, report);
	cr_expect_not_null(strstr(report, "the planted Kc (raw bytes)"), "%s", report);

	/* Leave clean logs for this suite's own .fini check. */
	cr_assert_eq(harness_rmtree(sub), 0);
	cr_assert_eq(unlink(log2), 0);
	cr_assert_eq(unlink(log), 0);
	secret_wipe(kc, sizeof(kc));
	secret_wipe(root, sizeof(root));
	secret_wipe(ae_key, sizeof(ae_key));
	free(log2);
	free(sub);
	free(log);
}
