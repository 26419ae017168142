/* SPDX-License-Identifier: Apache-2.0 */
/* m2msactl get-key, subscribe and rekey: the agent's local key service through libm2msa. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <m2msa/m2msa.h>

#include "m2msactl/ctl.h"
#include "common/hex.h"
#include "common/json.h"
#include "common/secret.h"

struct keys_opts {
	const char *ae;
	const char *socket;
	bool json;
	bool show_key;
	long count; /* subscribe: stop after this many events (0: never) */
};

static void usage(FILE *f, const char *cmd)
{
	if (strcmp(cmd, "get-key") == 0)
		fprintf(f,
			"Usage: m2msactl get-key [--ae AE-ID] [--json] [--show-key] [--socket PATH]\n"
			"\n"
			"Get the current key from the agent: the node's CSE key (Kc), or with --ae the\n"
			"per-AE key of AE-ID. Prints the key ID (the TLS PSK identity), the expiry and\n"
			"the suite; the key bytes only with --show-key. If the node holds no key yet,\n"
			"the agent establishes one first.\n");
	else if (strcmp(cmd, "subscribe") == 0)
		fprintf(f,
			"Usage: m2msactl subscribe [--ae AE-ID] [--show-key] [--count N] [--socket PATH]\n"
			"\n"
			"Print one JSON line for every key event the agent pushes for the CSE (or\n"
			"with --ae, for AE-ID): new-key, expired, revoked, reconnected. Key bytes only\n"
			"with --show-key. --count N: exit after N events.\n");
	else
		fprintf(f, "Usage: m2msactl rekey [--socket PATH]\n"
			   "\n"
			   "Ask the agent to run a fresh establishment now (root or group m2msa-admin).\n"
			   "Subscribers get the new key when it is there.\n");
	fprintf(f, "\n  --socket PATH   the agent's socket (default $M2MSA_SOCKET or %s)\n",
		M2MSA_SOCKET_DEFAULT);
}

static int parse(int argc, char **argv, struct keys_opts *o)
{
	static const struct option opts[] = {
		{ "ae", required_argument, NULL, 'a' },
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "show-key", no_argument, NULL, 'k' },
		{ "count", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *cmd = argv[0];
	bool is_get = strcmp(cmd, "get-key") == 0, is_sub = strcmp(cmd, "subscribe") == 0;
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		switch (c) {
		case 'a':
		case 'k':
			if (!is_get && !is_sub)
				goto bad;
			if (c == 'a')
				o->ae = optarg;
			else
				o->show_key = true;
			break;
		case 's':
			o->socket = optarg;
			break;
		case 'j':
			if (!is_get)
				goto bad;
			o->json = true;
			break;
		case 'n': {
			char *end;

			if (!is_sub)
				goto bad;
			o->count = strtol(optarg, &end, 10);
			if (*end || o->count <= 0) {
				fprintf(stderr, "m2msactl %s: --count needs a positive number\n", cmd);
				return CLI_EXIT_USAGE;
			}
			break;
		}
		case 'h':
			usage(stdout, cmd);
			return CLI_EXIT_OK;
		default:
			goto bad;
		}
	}
	if (cli_no_more_args(&(const struct cli){ "m2msactl", cmd }, argc, argv, optind) != CLI_EXIT_OK)
		return CLI_EXIT_USAGE;
	return -1; /* go on */
bad:
	usage(stderr, cmd);
	return CLI_EXIT_USAGE;
}

/* A message that names the fix for each failure. */
static void explain(const char *cmd, const char *what, const struct m2msa *h, int r,
		    const char *socket)
{
	const char *reason = h ? m2msa_last_error(h) : "";

	switch (-r) {
	case ENOENT:
	case ECONNREFUSED:
		fprintf(stderr, "m2msactl %s: the agent m2msad is not running (no listener on %s)\n",
			cmd, socket ? socket : getenv("M2MSA_SOCKET") ? getenv("M2MSA_SOCKET")
								   : M2MSA_SOCKET_DEFAULT);
		break;
	case EACCES:
		fprintf(stderr, "m2msactl %s: %s refused: %s\n", cmd, what,
			reason[0] ? reason : "permission denied on the socket (is this user in group m2msa?)");
		break;
	default:
		fprintf(stderr, "m2msactl %s: %s failed: %s%s%s\n", cmd, what, strerror(-r),
			reason[0] ? ": " : "", reason);
		break;
	}
}

/* The key bytes in hex (common/hex), through a buffer that is wiped afterwards. */
static void print_key_hex(const struct m2msa_key *k)
{
	_cleanup_secret_ struct secret *text = NULL;

	if (secret_new(2 * m2msa_key_len(k) + 1, &text) < 0) {
		printf("(out of memory)");
		return;
	}
	hex_encode(m2msa_key_data(k), m2msa_key_len(k), (char *)text->data);
	fputs((const char *)text->data, stdout);
}

static void print_key_json(const char *event, const struct m2msa_key *k, bool show_key)
{
	printf("{");
	if (event)
		printf("\"event\":\"%s\"%s", event, k ? "," : "");
	if (k) {
		printf("\"key_id\":");
		json_write_string(stdout, m2msa_key_id(k));
		printf(",\"ae_id\":");
		json_write_string(stdout, m2msa_key_ae_id(k));
		printf(",\"expiry\":%llu,\"suite\":", (unsigned long long)m2msa_key_expiry(k));
		json_write_string(stdout, m2msa_key_suite(k));
		if (show_key && m2msa_key_len(k)) {
			printf(",\"key\":\"");
			print_key_hex(k);
			printf("\"");
		}
	}
	printf("}\n");
}

int ctl_get_key(int argc, char **argv)
{
	struct keys_opts o = { .ae = NULL };
	struct m2msa *h = NULL;
	struct m2msa_key *k = NULL;
	int r = parse(argc, argv, &o);

	if (r >= 0)
		return r;
	r = m2msa_open(o.socket, &h);
	if (r < 0) {
		explain("get-key", "connecting", NULL, r, o.socket);
		return CLI_EXIT_FAILURE;
	}
	r = m2msa_get_key(h, o.ae, &k);
	if (r < 0) {
		explain("get-key", o.ae ? "the key of this AE" : "the CSE key", h, r, o.socket);
		m2msa_close(h);
		return CLI_EXIT_FAILURE;
	}
	if (o.json) {
		print_key_json(NULL, k, o.show_key);
	} else {
		printf("key ID:  %s\n", m2msa_key_id(k));
		printf("AE-ID:   %s\n", m2msa_key_ae_id(k)[0] ? m2msa_key_ae_id(k) : "(the node's CSE)");
		{
			time_t t = (time_t)m2msa_key_expiry(k);
			struct tm tm;
			char when[40] = "?";

			if (gmtime_r(&t, &tm))
				strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
			printf("expires: %s (%llu)\n", when, (unsigned long long)m2msa_key_expiry(k));
		}
		printf("suite:   %s\n", m2msa_key_suite(k));
		if (o.show_key) {
			printf("key:     ");
			print_key_hex(k);
			printf("\n");
		}
	}
	fflush(stdout);
	m2msa_key_free(k);
	m2msa_close(h);
	return CLI_EXIT_OK;
}

static const char *event_name(enum m2msa_event_type t)
{
	switch (t) {
	case M2MSA_EVENT_NEW_KEY:
		return "new-key";
	case M2MSA_EVENT_EXPIRED:
		return "expired";
	case M2MSA_EVENT_REVOKED:
		return "revoked";
	case M2MSA_EVENT_RECONNECTED:
		return "reconnected";
	default:
		return "unknown";
	}
}

int ctl_subscribe(int argc, char **argv)
{
	struct keys_opts o = { .ae = NULL };
	struct m2msa *h = NULL;
	long seen = 0;
	int r = parse(argc, argv, &o);

	if (r >= 0)
		return r;
	r = m2msa_open(o.socket, &h);
	if (r < 0) {
		explain("subscribe", "connecting", NULL, r, o.socket);
		return CLI_EXIT_FAILURE;
	}
	r = m2msa_subscribe(h, o.ae);
	if (r < 0) {
		explain("subscribe", "subscribing", h, r, o.socket);
		m2msa_close(h);
		return CLI_EXIT_FAILURE;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (o.count == 0 || seen < o.count) {
		struct pollfd p = { .fd = m2msa_fd(h), .events = POLLIN };
		enum m2msa_event_type t;
		struct m2msa_key *k = NULL;

		r = m2msa_read_event(h, &t, &k);
		if (r == -EAGAIN) {
			if (poll(&p, 1, -1) < 0 && errno != EINTR)
				break;
			continue;
		}
		if (r < 0) {
			explain("subscribe", "reading events", h, r, o.socket);
			m2msa_close(h);
			return CLI_EXIT_FAILURE;
		}
		print_key_json(event_name(t), k, o.show_key);
		m2msa_key_free(k);
		seen++;
	}
	m2msa_close(h);
	return CLI_EXIT_OK;
}

int ctl_rekey(int argc, char **argv)
{
	struct keys_opts o = { .ae = NULL };
	struct m2msa *h = NULL;
	int r = parse(argc, argv, &o);

	if (r >= 0)
		return r;
	r = m2msa_open(o.socket, &h);
	if (r < 0) {
		explain("rekey", "connecting", NULL, r, o.socket);
		return CLI_EXIT_FAILURE;
	}
	r = m2msa_rekey(h);
	if (r < 0) {
		explain("rekey", "the rekey request", h, r, o.socket);
		m2msa_close(h);
		return CLI_EXIT_FAILURE;
	}
	printf("rekey started; `m2msactl subscribe` shows the new key when it is there\n");
	m2msa_close(h);
	return CLI_EXIT_OK;
}
