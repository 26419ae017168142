/* SPDX-License-Identifier: Apache-2.0 */
/*
 * m2msactl's command table. Each command lives in its own m2msactl/ctl-*.c file and
 * has the signature int ctl_<name>(int argc, char **argv), where argv[0] is the
 * command name; it handles its own --help and returns an exit status from
 * common/cli.h: CLI_EXIT_OK, CLI_EXIT_FAILURE (the operation failed; a message on
 * stderr names the fix) or CLI_EXIT_USAGE (bad arguments).
 * To add a command: declare it below, add one line to ctl_commands[], and one
 * line to m2msactl_sources in m2msactl/meson.build.
 */
#pragma once

#include <stdbool.h>

#include "common/cli.h"
#include "common/util.h"

struct ctl_command {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv);
};

/* ctl-tpm.c */
int ctl_provision(int argc, char **argv);
int ctl_tpm_check(int argc, char **argv);
struct tpm_ctx;
/*
 * "<prefix><the TPM's last error>" on stderr, and with verbose the raw TSS2 code
 * for a bug report (also for ctl-usim.c).
 */
void ctl_tpm_error(const char *prefix, const struct tpm_ctx *t, bool verbose);

/* ctl-identity.c */
int ctl_tpm_identity(int argc, char **argv);
/* provision --import FILE: TPM2_Import a km.dup (node_id/km_id: NULL or must match it). */
int ctl_provision_import(const char *path, const char *node_id, const char *km_id,
			 const char *tcti, const char *owner_auth, const char *state_dir,
			 bool verbose);
/* provision --import-tpm2-tools PREFIX: PREFIX.pub/.dpriv/.seed from tpm2_duplicate. */
int ctl_provision_import_tools(const char *prefix, const char *node_id, const char *km_id,
			       const char *tcti, const char *owner_auth, const char *state_dir,
			       bool verbose);
/*
 * tpm_open(tcti), then the owner hierarchy password from owner_auth (a file; NULL:
 * none, or the systemd credential tpm_open() finds). On failure a message
 * "m2msactl CMD: ..." is printed and -errno returned.
 */
struct tpm_ctx;
int ctl_tpm_open(const char *cmd, const char *tcti, const char *owner_auth,
		 struct tpm_ctx **ret);

/* ctl-policy.c */
int ctl_policy_install(int argc, char **argv);
int ctl_policy_retire(int argc, char **argv);

/* ctl-establish.c */
int ctl_establish(int argc, char **argv);

/* ctl-pki.c */
int ctl_pki_keygen(int argc, char **argv);
int ctl_pki_install(int argc, char **argv);

/* ctl-status.c */
int ctl_status(int argc, char **argv);

/* ctl-usim.c */
int ctl_usim(int argc, char **argv);

/* ctl-doctor.c */
int ctl_doctor(int argc, char **argv);

/* ctl-keys.c */
int ctl_get_key(int argc, char **argv);
int ctl_subscribe(int argc, char **argv);
int ctl_rekey(int argc, char **argv);

/* ctl-peer.c */
int ctl_peer_key(int argc, char **argv);
int ctl_resolve_key(int argc, char **argv);

static const struct ctl_command ctl_commands[] _unused_ = {
	{ "provision", "import the long-term key Km into the TPM", ctl_provision },
	{ "tpm-check", "check the TPM, the storage key and the provisioned key", ctl_tpm_check },
	{ "tpm-identity", "export the storage key (srk.pub) and EK certificate for a wrapped Km", ctl_tpm_identity },
	{ "policy-install", "install a signed PCR policy for Km (m2masctl policy sign)", ctl_policy_install },
	{ "policy-retire", "retire signed PCR policies below an epoch", ctl_policy_retire },
	{ "establish", "run one security association establishment with the MAS", ctl_establish },
	{ "pki-keygen", "create the TPM signing key and a certificate request (method pki)", ctl_pki_keygen },
	{ "pki-install", "store the node certificate the provider's CA issued", ctl_pki_install },
	{ "status", "show what the agent m2msad is doing (state, key ID, expiry, failures)", ctl_status },
	{ "get-key", "get the CSE's or an AE's current key from the agent", ctl_get_key },
	{ "subscribe", "print every key event the agent pushes, one JSON line each", ctl_subscribe },
	{ "rekey", "ask the agent to rekey now (administrators)", ctl_rekey },
	{ "peer-key", "get an end-to-end key from a local AE towards an AE on another node", ctl_peer_key },
	{ "resolve-key", "resolve an end-to-end key ID received by a local AE", ctl_resolve_key },
	{ "usim", "the node's USIM for method gba: usim provision, usim check", ctl_usim },
	{ "doctor", "check the gateway: TPM, keys, clock, MAS, agent, socket, clients.d", ctl_doctor },
};
