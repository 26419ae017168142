/* SPDX-License-Identifier: Apache-2.0 */
/*
 * m2msa-bsfctl: administration of the reference BSF's store (subscribers of its
 * AuC). Works on the store file directly (WAL and a busy timeout let it run
 * beside m2msa-bsf). K and OPc are read from files and never printed.
 * Exit status: 0 success, 1 the operation failed, 2 bad usage.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bsf/bsf-conf.h"
#include "bsf/bsf-store.h"
#include "common/cli.h"
#include "common/conf.h"
#include "common/fileio.h"
#include "common/hex.h"
#include "common/secret.h"
#include "common/util.h"
#include "gba/datetime.h"
#include "common/keyfile.h"

struct ctl {
	const char *config;
	struct bsf_conf conf;
};

static void usage(FILE *f)
{
	fputs("Usage: m2msa-bsfctl [--config FILE] COMMAND ...\n"
	      "\n"
	      "Commands:\n"
	      "  init                               create the master key file and an empty store\n"
	      "  subscriber add --impi IMPI --k-file FILE --opc-file FILE [--amf HEX4] [--sqn N]\n"
	      "                                     add a subscriber of the BSF's AuC\n"
	      "  subscriber list                    IMPI, SQN, AMF, creation time (never K or OPc)\n"
	      "  subscriber delete --impi IMPI      remove a subscriber and its sessions\n"
	      "\n"
	      "K and OPc files hold 16 raw bytes or 32 hex digits (and a newline).\n"
	      "Options:\n"
	      "  -c, --config FILE  m2msa-bsf configuration (default " BSF_CONF_DEFAULT ");\n"
	      "                     only [store] path and master_key are used\n"
	      "  -h, --help         this text\n"
	      "Exit status: 0 success, 1 failure, 2 usage error. See m2msa-bsfctl(1).\n",
	      f);
}

static struct cli tool = { "m2msa-bsfctl", "" };

#define fail(...) cli_fail(&tool, __VA_ARGS__)
#define usage_error(...) cli_usage_error(&tool, __VA_ARGS__)

static int open_store(struct ctl *c, struct bsf_store **ret)
{
	_cleanup_secret_ struct secret *mk = NULL;
	int r;

	r = keyfile_master_load(c->conf.master_key, &mk);
	if (r < 0)
		return fail("cannot read the master key %s: %s%s", c->conf.master_key, strerror(-r),
			    r == -EPERM ? " (make it mode 0600)" :
			    r == -ENOENT ? " (run m2msa-bsfctl init first)" : "");
	r = bsf_store_open(c->conf.store_path, mk->data, ret);
	if (r < 0)
		return fail("cannot open the store %s: %s%s", c->conf.store_path, strerror(-r),
			    r == -EKEYREJECTED ? " (made with another master key)" :
			    r == -EPROTO ? " (not an m2msa-bsf store)" : "");
	return CLI_EXIT_OK;
}

/* 16 raw bytes, or 32 hex digits and trailing whitespace. */
static int read_key16(const char *path, uint8_t out[static 16])
{
	uint8_t buf[128];
	size_t n = 0;
	int r;

	r = fileio_read(path, buf, sizeof(buf), &n);
	if (r < 0)
		return r == -EFBIG ? -EINVAL : r;
	if (n == 16) {
		memcpy(out, buf, 16);
	} else {
		while (n > 32 && buf[n - 1] && strchr(" \t\r\n", buf[n - 1]))
			n--;
		r = n == 32 ? hex_decode((const char *)buf, 16, out) : -EINVAL;
	}
	secret_wipe(buf, sizeof(buf));
	return r;
}

static int cmd_init(struct ctl *c)
{
	struct bsf_store *s = NULL;
	int r;

	r = keyfile_master_create(c->conf.master_key);
	if (r < 0 && r != -EEXIST)
		return fail("cannot create the master key %s: %s", c->conf.master_key, strerror(-r));
	if (r == 0)
		printf("created master key %s\n", c->conf.master_key);
	r = open_store(c, &s);
	if (r != CLI_EXIT_OK)
		return r;
	bsf_store_close(s);
	printf("store %s ready\n", c->conf.store_path);
	return CLI_EXIT_OK;
}

static int parse_amf(const char *s, uint8_t amf[static 2])
{
	unsigned v;
	char end;

	if (strlen(s) != 4 || sscanf(s, "%4x%c", &v, &end) != 1)
		return -EINVAL;
	amf[0] = (uint8_t)(v >> 8);
	amf[1] = (uint8_t)v;
	return 0;
}

static int cmd_subscriber_add(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "impi", required_argument, NULL, 'i' }, { "k-file", required_argument, NULL, 'k' },
		{ "opc-file", required_argument, NULL, 'o' }, { "amf", required_argument, NULL, 'a' },
		{ "sqn", required_argument, NULL, 's' },	{ NULL, 0, NULL, 0 },
	};
	struct bsf_subscriber sub = { .amf = { 0x80, 0x00 } };
	const char *impi = NULL, *kf = NULL, *of = NULL;
	uint8_t k[16], opc[16];
	struct bsf_store *s = NULL;
	int o, r;

	optind = 1;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o == 'i')
			impi = optarg;
		else if (o == 'k')
			kf = optarg;
		else if (o == 'o')
			of = optarg;
		else if (o == 'a' && parse_amf(optarg, sub.amf) < 0)
			return usage_error("--amf wants 4 hex digits such as 8000, not '%s'", optarg);
		else if (o == 's') {
			char *end;

			errno = 0;
			sub.sqn = strtoull(optarg, &end, 10);
			if (errno || *end || !optarg[0] || sub.sqn >= (UINT64_C(1) << 48))
				return usage_error("--sqn wants a number below 2^48, not '%s'", optarg);
		} else if (o == '?' || o == ':')
			return usage_error("unknown option");
	}
	if (!impi || !kf || !of)
		return usage_error("--impi, --k-file and --opc-file are required");
	if (!impi[0] || strlen(impi) > GBA_IMPI_MAX || strpbrk(impi, " \t\r\n\"\\"))
		return usage_error("--impi '%s' is not an IMPI such as user@ims.example.net", impi);
	snprintf(sub.impi, sizeof(sub.impi), "%s", impi);
	r = read_key16(kf, k);
	if (r < 0)
		return fail("cannot read K from %s: %s (16 raw bytes or 32 hex digits)", kf,
			    strerror(-r));
	r = read_key16(of, opc);
	if (r < 0) {
		secret_wipe(k, sizeof(k));
		return fail("cannot read OPc from %s: %s (16 raw bytes or 32 hex digits)", of,
			    strerror(-r));
	}
	r = open_store(c, &s);
	if (r == CLI_EXIT_OK) {
		int e = bsf_store_subscriber_add(s, &sub, k, opc);

		r = e == 0 ? CLI_EXIT_OK :
		    e == -EEXIST ? fail("subscriber %s exists already (delete it first)", impi) :
				 fail("cannot add %s: %s", impi, strerror(-e));
		bsf_store_close(s);
	}
	secret_wipe(k, sizeof(k));
	secret_wipe(opc, sizeof(opc));
	if (r == CLI_EXIT_OK)
		printf("added subscriber %s\n", impi);
	return r;
}

static int print_sub(const struct bsf_subscriber *sub, void *userdata)
{
	char when[GBA_TIME_TEXT_LEN + 1];

	if (gba_time_format(sub->created, when) < 0)
		snprintf(when, sizeof(when), "%lld", (long long)sub->created);
	printf("%-40s sqn=%llu amf=%02x%02x created=%s\n", sub->impi,
	       (unsigned long long)sub->sqn, sub->amf[0], sub->amf[1], when);
	return 0;
}

static int cmd_subscriber_list(struct ctl *c)
{
	struct bsf_store *s = NULL;
	int r = open_store(c, &s);

	if (r != CLI_EXIT_OK)
		return r;
	r = bsf_store_subscriber_foreach(s, print_sub, NULL);
	bsf_store_close(s);
	return r < 0 ? fail("cannot list subscribers: %s", strerror(-r)) : CLI_EXIT_OK;
}

static int cmd_subscriber_delete(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = { { "impi", required_argument, NULL, 'i' },
					      { NULL, 0, NULL, 0 } };
	struct bsf_store *s = NULL;
	const char *impi = NULL;
	int o, r;

	optind = 1;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o == 'i')
			impi = optarg;
		else
			return usage_error("unknown option");
	}
	if (!impi)
		return usage_error("--impi is required");
	r = open_store(c, &s);
	if (r != CLI_EXIT_OK)
		return r;
	r = bsf_store_subscriber_delete(s, impi);
	bsf_store_close(s);
	if (r == -ENOENT)
		return fail("no subscriber %s", impi);
	if (r < 0)
		return fail("cannot delete %s: %s", impi, strerror(-r));
	printf("deleted subscriber %s\n", impi);
	return CLI_EXIT_OK;
}

static int dispatch(struct ctl *c, int argc, char **argv)
{
	static char cmd[64];

	snprintf(cmd, sizeof(cmd), "%s%s%s", argv[0], argc > 1 ? " " : "", argc > 1 ? argv[1] : "");
	tool.cmd = cmd;
	if (strcmp(argv[0], "init") == 0 && argc == 1)
		return cmd_init(c);
	if (strcmp(argv[0], "subscriber") == 0 && argc >= 2) {
		if (strcmp(argv[1], "add") == 0)
			return cmd_subscriber_add(c, argc - 1, argv + 1);
		if (strcmp(argv[1], "list") == 0 && argc == 2)
			return cmd_subscriber_list(c);
		if (strcmp(argv[1], "delete") == 0)
			return cmd_subscriber_delete(c, argc - 1, argv + 1);
	}
	return usage_error("unknown command '%s%s%s'", argv[0], argc > 1 ? " " : "",
			   argc > 1 ? argv[1] : "");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = { { "config", required_argument, NULL, 'c' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	struct ctl c = { .config = BSF_CONF_DEFAULT };
	char err[CONF_ERR_MAX];
	int o, r;

	while ((o = getopt_long(argc, argv, "+c:h", opts, NULL)) != -1) {
		if (o == 'c')
			c.config = optarg;
		else if (o == 'h') {
			usage(stdout);
			return CLI_EXIT_OK;
		} else {
			usage(stderr);
			return CLI_EXIT_USAGE;
		}
	}
	if (optind >= argc)
		return usage_error("no command given");
	r = bsf_conf_load_store(c.config, &c.conf, err, sizeof(err));
	if (r < 0)
		return fail("%s", err);
	r = dispatch(&c, argc - optind, argv + optind);
	bsf_conf_free(&c.conf);
	return r;
}
