/* SPDX-License-Identifier: Apache-2.0 */
/*
 * m2msactl policy-install / policy-retire: the node's signed PCR policies in
 * state_dir/policies/ (tpm/policy.h). The keystore uses the newest one the TPM
 * accepts; these commands add one (after checking its signature against the
 * key's policy signer) and retire old epochs.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <tss2/tss2_mu.h>
#include <unistd.h>

#include "m2msactl/ctl.h"
#include "common/fileio.h"
#include "tpm/keystore.h"
#include "tpm/policy.h"

static int read_file(const char *path, char *buf, size_t size, size_t *ret_len)
{
	int r = fileio_read(path, (uint8_t *)buf, size - 1, ret_len);

	if (r == 0)
		buf[*ret_len] = '\0';
	return r;
}

static int write_file(const char *dir, const char *name, const char *text)
{
	_cleanup_free_ char *path = NULL;

	if (asprintf(&path, "%s/%s", dir, name) < 0)
		return -ENOMEM;
	return fileio_write_atomic(path, text, strlen(text), 0644);
}

static int load_signer(const char *state_dir, TPM2B_PUBLIC *ret)
{
	_cleanup_free_ char *path = NULL;
	char buf[sizeof(TPM2B_PUBLIC) + 1];
	size_t len = 0, off = 0;
	int r;

	if (asprintf(&path, "%s/%s", state_dir, TPM_POLICY_SIGNER_FILE) < 0)
		return -ENOMEM;
	memset(ret, 0, sizeof(*ret)); /* tss2-mu refuses a TPM2B destination with a size */
	r = read_file(path, buf, sizeof(buf), &len);
	if (r == -ENOENT) {
		fprintf(stderr, "m2msactl: the key in %s has no policy signer (it was provisioned "
				"without --policy-signer); signed policies do not apply to it\n",
			state_dir);
		return r;
	}
	if (r == 0 && (Tss2_MU_TPM2B_PUBLIC_Unmarshal((uint8_t *)buf, len, &off, ret) !=
			       TSS2_RC_SUCCESS || off != len))
		r = -EBADMSG;
	if (r < 0)
		fprintf(stderr, "m2msactl: cannot read %s: %s\n", path, strerror(-r));
	return r;
}

static uint32_t retired_below(const char *dir)
{
	_cleanup_free_ char *path = NULL;
	char buf[32];
	size_t len;

	if (asprintf(&path, "%s/%s", dir, TPM_POLICY_RETIRED_FILE) < 0 ||
	    read_file(path, buf, sizeof(buf), &len) < 0)
		return 0;
	return (uint32_t)strtoul(buf, NULL, 10);
}

enum { OPT_STATE_DIR = 0x100, OPT_BELOW };

static const char install_help[] =
	"Usage: m2msactl policy-install FILE [--state-dir DIR]\n\n"
	"Check that FILE is a signed PCR policy from the key's policy signer (m2masctl\n"
	"policy sign) and install it as DIR/policies/policy-EPOCH.pol. The key then works\n"
	"whenever the PCRs hold the values of any installed, not retired policy.\n\n"
	"  --state-dir DIR  default " TPM_DEFAULT_STATE_DIR "\n";

int ctl_policy_install(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *state_dir = TPM_DEFAULT_STATE_DIR;
	_cleanup_free_ char *text = malloc(TPM_POLICY_FILE_MAX + 1), *dir = NULL;
	struct tpm_signed_policy p;
	char err[TPM_POLICY_ERR_MAX], name[32];
	TPM2B_PUBLIC signer;
	size_t len = 0;
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		if (c == OPT_STATE_DIR)
			state_dir = optarg;
		else if (c == 'h')
			return fputs(install_help, stdout), CLI_EXIT_OK;
		else
			return fputs("(see m2msactl policy-install --help)\n", stderr), CLI_EXIT_USAGE;
	}
	if (optind + 1 != argc || !text) {
		fputs("m2msactl policy-install: give one FILE (see --help)\n", stderr);
		return CLI_EXIT_USAGE;
	}
	r = read_file(argv[optind], text, TPM_POLICY_FILE_MAX + 1, &len);
	if (r < 0) {
		fprintf(stderr, "m2msactl policy-install: cannot read %s: %s\n", argv[optind],
			strerror(-r));
		return CLI_EXIT_FAILURE;
	}
	if (tpm_policy_parse(text, len, &p, err, sizeof(err)) < 0) {
		fprintf(stderr, "m2msactl policy-install: %s: %s\n", argv[optind], err);
		return CLI_EXIT_FAILURE;
	}
	if (load_signer(state_dir, &signer) < 0)
		return CLI_EXIT_FAILURE;
	if (tpm_policy_verify(&p, &signer) < 0) {
		fprintf(stderr, "m2msactl policy-install: %s is not signed by this key's policy "
				"signer (ask the provider for a policy signed with the key given at "
				"provisioning)\n", argv[optind]);
		return CLI_EXIT_FAILURE;
	}
	if (asprintf(&dir, "%s/%s", state_dir, TPM_POLICY_DIR) < 0)
		return CLI_EXIT_FAILURE;
	if (p.epoch < retired_below(dir)) {
		fprintf(stderr, "m2msactl policy-install: epoch %u is retired (policies below epoch "
				"%u are); ask for a newer policy\n", (unsigned)p.epoch,
			(unsigned)retired_below(dir));
		return CLI_EXIT_FAILURE;
	}
	(void)mkdir(dir, 0700);
	snprintf(name, sizeof(name), "policy-%u.pol", (unsigned)p.epoch);
	r = write_file(dir, name, text);
	if (r < 0) {
		fprintf(stderr, "m2msactl policy-install: cannot write %s/%s: %s\n", dir, name,
			strerror(-r));
		return CLI_EXIT_FAILURE;
	}
	printf("Installed the signed policy epoch %u in %s/%s.\n", (unsigned)p.epoch, dir, name);
	return CLI_EXIT_OK;
}

static const char retire_help[] =
	"Usage: m2msactl policy-retire --below N [--state-dir DIR]\n\n"
	"Retire the signed policies with an epoch below N: delete them and refuse them from\n"
	"now on (e.g. the policy for the firmware before an update). Refuses to retire the\n"
	"last installed policy.\n\n"
	"  --state-dir DIR  default " TPM_DEFAULT_STATE_DIR "\n";

int ctl_policy_retire(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "below", required_argument, NULL, OPT_BELOW },
		{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *state_dir = TPM_DEFAULT_STATE_DIR, *below = NULL;
	_cleanup_free_ char *dir = NULL;
	char num[16];
	unsigned kept = 0, removed = 0;
	unsigned long n = 0;
	struct dirent *de;
	DIR *d;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		if (c == OPT_STATE_DIR)
			state_dir = optarg;
		else if (c == OPT_BELOW)
			below = optarg;
		else if (c == 'h')
			return fputs(retire_help, stdout), CLI_EXIT_OK;
		else
			return fputs("(see m2msactl policy-retire --help)\n", stderr), CLI_EXIT_USAGE;
	}
	if (!below || optind != argc || (n = strtoul(below, NULL, 10)) == 0 || n > UINT32_MAX) {
		fputs("m2msactl policy-retire: --below N (an epoch above 0) is required\n", stderr);
		return CLI_EXIT_USAGE;
	}
	if (asprintf(&dir, "%s/%s", state_dir, TPM_POLICY_DIR) < 0)
		return CLI_EXIT_FAILURE;
	for (int pass = 0; pass < 2; pass++) {
		d = opendir(dir);
		if (!d) {
			fprintf(stderr, "m2msactl policy-retire: cannot open %s: %s\n", dir,
				strerror(errno));
			return CLI_EXIT_FAILURE;
		}
		while ((de = readdir(d))) {
			unsigned long e;
			char *end;

			if (strncmp(de->d_name, "policy-", 7) != 0)
				continue;
			e = strtoul(de->d_name + 7, &end, 10);
			if (strcmp(end, ".pol") != 0)
				continue;
			if (e >= n)
				kept += pass == 0;
			else if (pass == 1 && unlinkat(dirfd(d), de->d_name, 0) == 0)
				removed++;
		}
		closedir(d);
		if (pass == 0 && kept == 0) {
			fprintf(stderr, "m2msactl policy-retire: no installed policy has epoch %lu or "
					"higher; retiring would leave Km unusable (install a newer "
					"policy first)\n", n);
			return CLI_EXIT_FAILURE;
		}
		if (pass == 0) {
			snprintf(num, sizeof(num), "%lu\n", n);
			if (write_file(dir, TPM_POLICY_RETIRED_FILE, num) < 0) {
				fprintf(stderr, "m2msactl policy-retire: cannot write %s/%s\n", dir,
					TPM_POLICY_RETIRED_FILE);
				return CLI_EXIT_FAILURE;
			}
		}
	}
	printf("Retired policies below epoch %lu (%u removed, %u kept).\n", n, removed, kept);
	return CLI_EXIT_OK;
}
