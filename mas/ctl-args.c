/* SPDX-License-Identifier: Apache-2.0 */
/* m2masctl: option parsing, argument checks and output formats the commands share. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "mas/ctl.h"

/*
 * getopt_long over argv (argv[0] is the command word). Returns the option, -1
 * at the end, or '?' after printing a usage message.
 */
int ctl_next_opt(const struct ctl *c, int argc, char **argv, const struct option *opts)
{
	int o;

	opterr = 0;
	/* Global options stop at the command word; a command's options may follow its
	 * arguments (GNU getopt reorders argv). */
	o = getopt_long(argc, argv, c->cli.cmd[0] ? ":h" : "+:h", opts, NULL);
	if (o == ':') {
		cli_usage_error(&c->cli, "option '%s' needs a value", argv[optind - 1]);
		return '?';
	}
	if (o == '?') {
		if (optopt && optopt != '?')
			cli_usage_error(&c->cli, "unknown option '-%c'", optopt);
		else
			cli_usage_error(&c->cli, "unknown option '%s'", argv[optind - 1]);
		return '?';
	}
	return o;
}

int ctl_check_id(const struct ctl *c, const char *what, const char *id)
{
	if (wire_id_valid(id))
		return 0;
	return cli_usage_error(&c->cli,
			   "%s '%s' is not valid: use 1 to %d of A-Z a-z 0-9 . _ - @ / "
			   "(e.g. /mn-cse-1)",
			   what, id, WIRE_ID_MAX);
}

int ctl_parse_methods(const char *value, uint8_t methods[static WIRE_METHODS_MAX],
			 size_t *ret_n)
{
	char buf[64], *save = NULL;
	size_t n = 0;

	if (strlen(value) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, value);
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		uint8_t m;

		if (n == WIRE_METHODS_MAX || wire_method_from_string(t, &m) < 0)
			return -EINVAL;
		for (size_t i = 0; i < n; i++)
			if (methods[i] == m)
				return -EINVAL;
		methods[n++] = m;
	}
	if (n == 0)
		return -EINVAL;
	*ret_n = n;
	return 0;
}

int ctl_parse_no_opts(struct ctl *c, int argc, char **argv, int max_args)
{
	static const struct option opts[] = { { "help", no_argument, NULL, 'h' }, { 0 } };
	int o;

	while ((o = ctl_next_opt(c, argc, argv, opts)) != -1) {
		if (o == 'h') {
			ctl_usage(stdout);
			return -1;
		}
		return CLI_EXIT_USAGE;
	}
	return cli_no_more_args(&c->cli, argc, argv, optind + max_args);
}

int ctl_parse_list_opts(struct ctl *c, int argc, char **argv, bool *json, const char **node)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "node", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int o;

	while ((o = ctl_next_opt(c, argc, argv, opts)) != -1) {
		if (o == 'j') {
			*json = true;
		} else if (o == 'n' && node) {
			*node = optarg;
		} else if (o == 'h') {
			ctl_usage(stdout);
			return -1;
		} else {
			if (o == 'n')
				cli_usage_error(&c->cli, "unknown option '--node'");
			return CLI_EXIT_USAGE;
		}
	}
	return CLI_EXIT_OK;
}

void ctl_format_time(uint64_t t, char buf[static 32])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t > (uint64_t)INT32_MAX * 64 || !gmtime_r(&tt, &tm) ||
	    strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, 32, "%llu", (unsigned long long)t);
}

void ctl_format_duration(uint64_t s, char buf[static 32])
{
	if (s == 0)
		snprintf(buf, 32, "default");
	else if (s % 86400 == 0)
		snprintf(buf, 32, "%llud", (unsigned long long)(s / 86400));
	else if (s % 3600 == 0)
		snprintf(buf, 32, "%lluh", (unsigned long long)(s / 3600));
	else if (s % 60 == 0)
		snprintf(buf, 32, "%llum", (unsigned long long)(s / 60));
	else
		snprintf(buf, 32, "%llus", (unsigned long long)s);
}

void ctl_format_methods(const uint8_t *m, size_t n, char buf[static 64])
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && off < 64; i++)
		off += (size_t)snprintf(buf + off, 64 - off, "%s%s", i ? "," : "",
					wire_method_to_string(m[i]));
}

const char *ctl_assoc_state(const struct store_assoc *a, uint64_t now)
{
	if (a->revoked)
		return "revoked";
	if (a->expiry <= now)
		return "expired";
	return "active";
}

int ctl_list_finish(const struct ctl *c, const struct ctl_list *l, int r, const char *what,
		    const char *none)
{
	if (r < 0)
		return cli_fail(&c->cli, "cannot list %s: %s", what, strerror(-r));
	if (l->json)
		printf("%s]\n", l->count ? "\n" : "");
	else if (l->count == 0)
		fprintf(stderr, "m2masctl: %s\n", none);
	return CLI_EXIT_OK;
}
