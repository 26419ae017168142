/* SPDX-License-Identifier: Apache-2.0 */
/*
 * m2msactl status: what m2msad is doing, in words or as JSON: asked over the agent's
 * socket (administrators), else read from its status file.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <m2msa/m2msa.h>

#include "agent/agent-conf.h"
#include "agent/status.h"
#include "m2msactl/ctl.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: m2msactl status [--json] [--socket PATH] [--status-file FILE]\n"
		"\n"
		"Show what the agent m2msad is doing: its state, the key ID in use and when it\n"
		"expires, the next rekey, the last failure and its reason, and the MAS. Never\n"
		"shows key bytes. Asks the agent over its socket (root or group m2msa-admin);\n"
		"when that is not possible, reads the status file.\n"
		"\n"
		"  --json               print the status object as JSON\n"
		"  --socket PATH        the agent's socket (default $M2MSA_SOCKET or %s)\n"
		"  --status-file FILE   the agent's status file (default %s)\n",
		M2MSA_SOCKET_DEFAULT, AGENT_CONF_STATUS_FILE_DEFAULT);
}

static void when(uint64_t epoch, uint64_t now, char *buf, size_t len)
{
	time_t t = (time_t)epoch;
	struct tm tm;
	char s[32];
	long long d = (long long)epoch - (long long)now;

	if (!localtime_r(&t, &tm) || strftime(s, sizeof(s), "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(s, sizeof(s), "%llu", (unsigned long long)epoch);
	if (d >= 0)
		snprintf(buf, len, "%s (in %lld s)", s, d);
	else
		snprintf(buf, len, "%s (%lld s ago)", s, -d);
}

static void print_words(const struct agent_status *st)
{
	uint64_t now = (uint64_t)time(NULL);
	char t[80];

	printf("state:         %s\n", st->state);
	printf("node ID:       %s\n", st->node_id[0] ? st->node_id : "(not known yet)");
	printf("MAS:           %s\n", st->mas);
	if (st->key_id[0]) {
		when(st->expiry, now, t, sizeof(t));
		printf("key ID:        %s\n", st->key_id);
		printf("expires:       %s\n", t);
	} else {
		printf("key ID:        (none: the node holds no valid key)\n");
	}
	if (st->next_key_id[0]) {
		when(st->next_expiry, now, t, sizeof(t));
		printf("successor:     %s, expires %s\n", st->next_key_id, t);
	}
	if (st->next_rekey) {
		when(st->next_rekey, now, t, sizeof(t));
		printf("next rekey:    %s\n", t);
	}
	if (st->retry_at) {
		when(st->retry_at, now, t, sizeof(t));
		printf("next attempt:  %s (after %u failures)\n", t, st->failures);
	}
	if (st->last_failure_time) {
		when(st->last_failure_time, now, t, sizeof(t));
		printf("last failure:  %s: %s\n", t, st->last_failure_reason);
	} else {
		printf("last failure:  none\n");
	}
	printf("agent PID:     %lld\n", (long long)st->pid);
	for (size_t i = 0; i < st->n_esp; i++) {
		const struct agent_status_esp *e = &st->esp[i];

		printf("ESP peer:      %s: %s", e->peer, e->state);
		if (e->spi_in || e->spi_out) {
			when(e->expiry, now, t, sizeof(t));
			printf(", SPI in 0x%08x out 0x%08x, expires %s", (unsigned)e->spi_in,
			       (unsigned)e->spi_out, t);
		}
		printf("%s%s\n", e->error[0] ? "; last error: " : "", e->error);
	}
}

/* Ask the agent itself: 0 and ret filled, or -errno (then the caller reads the file). */
static int status_from_socket(const char *socket, struct agent_status *ret)
{
	struct m2msa *h = NULL;
	char *json = NULL;
	int r;

	r = m2msa_open(socket, &h);
	if (r < 0)
		return r;
	r = m2msa_set_timeout(h, 5000);
	if (r == 0)
		r = m2msa_status(h, &json);
	m2msa_close(h);
	if (r < 0)
		return r;
	r = agent_status_parse(json, ret);
	free(json);
	return r;
}

int ctl_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "status-file", required_argument, NULL, 's' },
		{ "socket", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *file = AGENT_CONF_STATUS_FILE_DEFAULT, *socket = NULL;
	struct agent_status st;
	char buf[4096];
	bool json = false;
	int c, r;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 's':
			file = optarg;
			break;
		case 'S':
			socket = optarg;
			break;
		case 'h':
			usage(stdout);
			return CLI_EXIT_OK;
		default:
			usage(stderr);
			return CLI_EXIT_USAGE;
		}
	}
	r = cli_no_more_args(&(const struct cli){ "m2msactl", "status" }, argc, argv, optind);
	if (r != CLI_EXIT_OK)
		return r;
	r = status_from_socket(socket, &st);
	if (r < 0)
		r = agent_status_read(file, &st);
	if (r == -ENOENT) {
		fprintf(stderr, "m2msad is not running (no %s)\n", file);
		return CLI_EXIT_FAILURE;
	}
	if (r < 0) {
		fprintf(stderr, "m2msactl status: cannot read %s: %s\n", file,
			r == -EBADMSG ? "not an m2msad status file" : strerror(-r));
		return CLI_EXIT_FAILURE;
	}
	if (json) {
		if (agent_status_format(&st, buf, sizeof(buf)) < 0)
			return CLI_EXIT_FAILURE;
		fputs(buf, stdout);
	} else {
		print_words(&st);
	}
	return CLI_EXIT_OK;
}
