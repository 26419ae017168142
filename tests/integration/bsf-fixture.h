/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The real m2msa-bsf for the GBA tests (test-bsf, test-gba): its configuration,
 * store and one subscriber made with the real m2msa-bsfctl, then the daemon as a
 * child process on free loopback ports. Uses Criterion asserts (like fixture.h).
 *
 *   fixture_make_certs(dir);
 *   bsf_fixture_provision(dir, conf, 3600, NULL, "node1@ims.test");
 *   pid = bsf_fixture_start(conf, log, ports, &ub, &zn);
 *   ... harness_kill_wait(&pid, SIGTERM);
 */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#define BSF_FIXTURE_DOMAIN "bsf.test"

/* The subscriber's USIM: 3GPP TS 35.208 test set 1 K and OPc. */
extern const uint8_t bsf_fixture_k[16];
extern const uint8_t bsf_fixture_opc[16];

/*
 * Write conf for a BSF in dir (which holds the test PKI, fixture_make_certs):
 * domain BSF_FIXTURE_DOMAIN, Ub and Zn on 127.0.0.1 port 0, bsf.crt, naf_ca =
 * the test CA, the given lifetime, extra "key = value\n" lines for [bsf] (or
 * NULL), store and master key in dir, log level debug. Then m2msa-bsfctl init
 * and subscriber add impi with bsf_fixture_k and bsf_fixture_opc (noted for the
 * log scans, secrets_note; written to dir/k.hex and dir/opc.hex).
 */
void bsf_fixture_provision(const char *dir, const char *conf, unsigned lifetime,
			   const char *extra, const char *impi);
/* m2msa-bsfctl --config conf args... (NULL-terminated); asserts exit 0. ret_out: stdout (free()) or NULL. */
void bsf_fixture_ctl(const char *conf, const char *const *args, char **ret_out);
/*
 * Start m2msa-bsf --config conf with its stderr appended to log, killed when the
 * test process dies; wait (15 s at most) for its port file ports. Returns its pid.
 */
pid_t bsf_fixture_start(const char *conf, const char *log, const char *ports, uint16_t *ret_ub,
			uint16_t *ret_zn);
