/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The benchmarks' shared setup (harness.c is their other half): a temp dir with
 * mkcerts.sh's PKI, an m2masd store, swtpm with Km, and the real m2masd and
 * m2msad as children (PR_SET_PDEATHSIG: they die with the benchmark).
 *
 *   bench_init_pki();                                 // $BUILDDIR, $SRCDIR, dir, dir/pki
 *   bench_store(NODE, methods, 1);                    // bench.km, dir/mas.db
 *   bench_provision(NODE, NULL);                      // swtpm, Km in dir/node
 *   bench_start_mas(BENCH_FQDN, NULL, true);          // bench.est_port, bench.ret_port
 *   bench_start_agent();                              // bench.sock
 *   ...
 *   bench_cleanup();                                  // or bench_die("...") on failure
 *
 * KEEP_TEST_DIR=1 in the environment keeps the dir (and the daemons' logs).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/tls.h"

#define BENCH_FQDN "mas.test"

struct tpm_ctx;

struct bench_env {
	const char *builddir, *srcdir; /* $BUILDDIR, $SRCDIR */
	char *dir;                     /* the temp dir */
	char *sock;                    /* m2msad's key service socket, dir/agent.sock */
	uint8_t km[32];                /* the node's Km */
	struct harness_swtpm *tpm;
	pid_t mas_pid, agent_pid;
	uint16_t est_port, ret_port;   /* m2masd's bound ports */
	int die_status;                /* bench_die's exit status; 0: 1 */
};

extern struct bench_env bench;

/* CLOCK_MONOTONIC in seconds. */
double bench_now(void);
/* VmRSS of pid in kB, or -1. */
long bench_rss_kb(pid_t pid);
/* utime + stime of pid in clock ticks, all its threads (its parent in *ret_ppid), or -1. */
long bench_proc_ticks(pid_t pid, pid_t *ret_ppid);
/* "dir/name", free() it. */
char *bench_path(const char *name);

/* Print "<program>: message" on stderr, bench_cleanup(), exit(bench.die_status or 1). */
__attribute__((format(printf, 1, 2), noreturn)) void bench_die(const char *fmt, ...);
/* Stop m2msad, m2masd and swtpm, remove the dir (unless KEEP_TEST_DIR), wipe Km. */
void bench_cleanup(void);

/* bench.builddir and srcdir from the environment (dies unless both are set), the
 * temp dir, and mkcerts.sh's PKI in dir/pki. */
void bench_init_pki(void);
/* dir/master.key and the store dir/mas.db; with node_id, a fresh random bench.km and
 * the node (KmID km@BENCH_FQDN, target /in-cse) with those methods. */
void bench_store(const char *node_id, const uint8_t *methods, size_t n_methods);
/* Start swtpm and provision bench.km for node_id into dir/node. ret_open NULL: close
 * the TPM (swtpm serves one client at a time); else hand it over, open. */
void bench_provision(const char *node_id, struct tpm_ctx **ret_open);
/* Write dir/m2masd.conf (fqdn, the PKI, lifetime 1h; mas_extra: more [mas] lines, or
 * NULL), start m2masd (stderr to dir/m2masd.log when log) and wait for its ports. */
void bench_start_mas(const char *fqdn, const char *mas_extra, bool log);
/*
 * Another m2masd (several instances on one store): dir/NAME.conf like bench_start_mas's
 * but with store_lines as its [store] section (without master_key: dir/master.key) and
 * listening on 127.0.0.1:*est / *ret (0: any; a restart passes the old ports), logging
 * to dir/NAME.log. Waits for its ports, fills *est and *ret, returns its pid; the
 * caller stops it (bench_cleanup does not know it).
 */
pid_t bench_start_mas_instance(const char *name, const char *fqdn, const char *mas_extra,
			       const char *store_lines, uint16_t *est, uint16_t *ret);
/* fork + execv args (PR_SET_PDEATHSIG: dies with us), stderr appended to log if not NULL. */
pid_t bench_spawn(char **args, const char *log);
/* The key service's whole setup: bench_init_pki(), node_id with method psk in the
 * store and in swtpm, m2masd (logging to dir/m2masd.log), then bench_start_agent(). */
void bench_start_key_service(const char *node_id);
/* Write dir/m2msad.conf (bench.tpm, m2masd at bench.est_port, socket bench.sock) and
 * start m2msad, logging to dir/m2msad.log. */
void bench_start_agent(void);

/*
 * The baselines' bare TLS server: a thread accepting TLS 1.3 handshakes on 127.0.0.1
 * with the MAS certificate (dir/pki/mas.crt, common/tls.h's server context and
 * session), one per connection, closed after the handshake. Returns its port.
 */
uint16_t bench_bare_server_start(void);
void bench_bare_server_stop(void);
/* One bare handshake with 127.0.0.1:port checking BENCH_FQDN: connect, handshake, close. */
int bench_bare_handshake(WOLFSSL_CTX *client_ctx, uint16_t port);

struct kdf_prf;
/*
 * One establishment of node_id with m2masd at 127.0.0.1:bench.est_port over ctx,
 * offering only method, Km through prf (NULL for method pki). 0, or -errno with
 * the failure on stderr; -EPROTO when the MAS chose another method.
 */
int bench_establish(WOLFSSL_CTX *ctx, const char *node_id, uint8_t method,
		    const struct kdf_prf *prf);
