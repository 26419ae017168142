/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A provider side for integration tests: a temp dir with a throwaway PKI
 * (mkcerts.sh: ca, mas, target, other-target, other-ca ...), an m2masd store with
 * its master key, and the real m2masd as a child process. Uses Criterion asserts,
 * so only Criterion tests link it (harness.c is the Criterion-free part).
 *
 *   struct mas_fixture m;
 *   mas_fixture_init(&m);                              // dir, PKI, store, m2masd.conf
 *   mas_fixture_add_node(&m, "/mn-cse-1", km, psk, 1, 0);
 *   mas_fixture_start(&m, NULL, NULL);                 // m.est_port, m.ret_port
 *   ... fixture_retrieve(&m, "target", key_id, &msg) ...
 *   mas_fixture_fini(&m);                              // stops m2masd, removes the dir
 *
 * KEEP_TEST_DIR=1 in the environment keeps the dir (and the m2masd log) for a look.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/wire.h"
#include "mas/store.h"

#define FIXTURE_FQDN "mas.test"
#define FIXTURE_TARGET "/in-cse"

struct mas_fixture {
	char *dir;
	char *db, *master, *conf, *log, *ports;
	/* Listening ports for write_conf (0: ephemeral); after start, the bound ones. */
	uint16_t est_port, ret_port;
	pid_t pid;
};

/* $BUILDDIR, asserted to be set (meson test sets it). */
const char *fixture_builddir(void);
/* "<dir>/<name>", free() it. */
char *mas_fixture_path(const struct mas_fixture *m, const char *name);

/* mkcerts.sh: the test PKI in <dir>/pki. */
void fixture_make_certs(const char *dir);
/* The m2masd store db with its master key file master (store_close() it). */
struct store *fixture_store_open(const char *db, const char *master);
/* The whole file at path, NUL-terminated (free()); asserts it can be read. */
char *fixture_read_text(const char *path);
/* GET path from 127.0.0.1:port over plain HTTP/1.1; the whole answer, headers included (free()). */
char *fixture_http_get(uint16_t port, const char *path);
/* How often needle occurs in the file at path (overlaps count); asserts it can be read. */
int fixture_count_in(const char *path, const char *needle);
/* Wait until the file at path holds needle at least n times: tries polls interval_ms apart. */
void fixture_wait_log_count(const char *path, const char *needle, int n, int tries,
			    unsigned interval_ms);
/* Wait (5 s at most) for m2masd's port file ports; its log is log. */
void fixture_read_ports(const char *ports, const char *log, uint16_t *est_port, uint16_t *ret_port);
/* Provision Km into the TPM at tcti: state dir state, node node_id, KmID km_id. */
void fixture_provision_km(const char *tcti, const char *state, const char *node_id,
			  const char *km_id, const uint8_t km[32]);
/*
 * Start the agent m2msad --config conf, logging at debug level to log, killed when
 * the test process dies. sock not NULL: wait (tries polls 25 ms apart) until the
 * key service's socket sock exists. Returns its pid.
 */
pid_t fixture_start_agent(const char *conf, const char *log, const char *sock, int tries);
/* The same, run as wrapper[0] wrapper[1..] m2msad ... (wrapper NULL-terminated, looked up
 * in $PATH; e.g. setpriv to drop capabilities). */
pid_t fixture_start_agent_under(const char *const *wrapper, const char *conf, const char *log,
				const char *sock, int tries);

/* Skips the test without openssl. Writes m2masd.conf with mas_fixture_write_conf(m, NULL). */
void mas_fixture_init(struct mas_fixture *m);
void mas_fixture_fini(struct mas_fixture *m);

/*
 * m2masd.conf: listen on 127.0.0.1 (est_port/ret_port), fqdn FIXTURE_FQDN, the
 * fixture's PKI, lifetime 1h, log level debug; mas_extra: more "key = value\n"
 * lines for [mas] (later lines override earlier ones), or NULL.
 */
void mas_fixture_write_conf(struct mas_fixture *m, const char *mas_extra);

/* What varies in the agent m2msad's config between suites. */
struct fixture_agent_conf {
	const char *tcti;
	const char *node_extra; /* more "key = value\n" lines for [node], or NULL */
	unsigned timeout_s, backoff_min_s, backoff_max_s;
	const char *sock, *clients_dir;
	const char *mas_address; /* [mas] address; NULL: 127.0.0.1:<m->est_port> */
};

/*
 * m2msad.conf at path for the node in the fixture's dir: state_dir <dir>/node, the
 * MAS at 127.0.0.1:m->est_port (CA pki/ca.crt, FIXTURE_FQDN), status_file
 * <dir>/status.json, the key service on c->sock with c->clients_dir.
 */
void mas_fixture_write_agent_conf(const struct mas_fixture *m, const char *path,
				  const struct fixture_agent_conf *c);

/* The files of an m2msad run beside the fixture's m2masd. */
struct fixture_agent_files {
	char *sock, *log, *conf, *clients_dir;
};
/* agent.sock, m2msad.log, m2msad.conf and clients.d in the fixture's dir (clients.d made). */
void mas_fixture_agent_files(const struct mas_fixture *m, struct fixture_agent_files *ret);
/* Free the paths and set them NULL (the files stay); NULL paths are fine. */
void fixture_agent_files_free(struct fixture_agent_files *f);
/* Write clients.d/name with text, mode 0644. */
void fixture_write_client(const struct fixture_agent_files *f, const char *name, const char *text);

/* Start m2masd (logging to m->log) and wait for its port file; opt/val: one more option. */
void mas_fixture_start(struct mas_fixture *m, const char *opt, const char *val);
/* SIGTERM and wait; no-op when not running. */
void mas_fixture_stop(struct mas_fixture *m);
/*
 * Restarts m's m2masd on new ports with mas_extra, which holds a [metrics] section with
 * listen = 127.0.0.1:0, and returns the metrics port it bound.
 */
uint16_t mas_fixture_restart_with_metrics(struct mas_fixture *m, const char *mas_extra);

struct store *mas_fixture_store(const struct mas_fixture *m);
/* Add node_id (KmID km_id, target FIXTURE_TARGET) to the store db. lifetime 0: MAS default. */
void fixture_add_node(const char *db, const char *master, const char *node_id, const char *km_id,
		      const uint8_t km[32], const uint8_t *methods, size_t n_methods,
		      uint64_t lifetime);
/* A node with KmID "km-1@FIXTURE_FQDN" and target FIXTURE_TARGET. lifetime 0: MAS default. */
void mas_fixture_add_node(const struct mas_fixture *m, const char *node_id, const uint8_t km[32],
			  const uint8_t *methods, size_t n_methods, uint64_t lifetime);
/* A random Km (into km) provisioned in the TPM at tcti (state <dir>/node) and node_id added
 * to the store with method psk, as mas_fixture_add_node(). */
void mas_fixture_provision_node(const struct mas_fixture *m, const char *tcti, const char *node_id,
				uint8_t km[32], uint64_t lifetime);
size_t mas_fixture_count_assocs(const struct mas_fixture *m);
/* m2masd's log so far (free()). */
char *mas_fixture_read_log(const struct mas_fixture *m);
/*
 * Run the built m2masctl --config <m's m2masd.conf> arg... (NULL-terminated), as an
 * operator would against the running m2masd's store: its exit status, its stderr in
 * *ret_err (free()).
 */
int mas_fixture_ctl(const struct mas_fixture *m, char **ret_err, const char *arg, ...)
	__attribute__((sentinel));

/*
 * The IN-CSE's retrieval: mutual TLS to m->ret_port with pki/<cert>.crt/.key,
 * KEY_REQUEST key_id, the answer in ret (KEY_RESPONSE or ERROR). Returns 0 or -errno.
 */
int fixture_retrieve(const struct mas_fixture *m, const char *cert, const char *key_id,
		     struct wire_msg *ret);
/* The same against the m2masd at 127.0.0.1:ret_port, with the PKI in <dir>/pki. */
int fixture_retrieve_at(const char *dir, uint16_t ret_port, const char *cert, const char *key_id,
			struct wire_msg *ret);

/*
 * Fork: the child runs fn(arg, out) (typically after dropping to another uid) and
 * sends out's len bytes back; the parent reads them into out and reaps the child.
 * out holds what the caller put there until the child overwrites it.
 */
void fixture_in_child(void (*fn)(const void *arg, void *out), const void *arg, void *out,
		      size_t len);

/* Assert that text holds none of key's bytes: lower- or uppercase hex, or raw. */
void fixture_assert_key_absent(const char *text, size_t len, const uint8_t key[32], const char *what);
