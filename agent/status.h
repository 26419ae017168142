/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's status file (default /run/m2msa/status.json): what m2msad is doing,
 * for `m2msactl status` and for monitoring. One JSON object, rewritten atomically
 * (temporary file + rename, mode 0644) on every state change; it carries key IDs
 * and times, never key bytes:
 *
 *   {"state":"established","node_id":"/mn-cse-1","mas":"mas.example.net:5683",
 *    "key_id":"00..ff@mas.example.net","expiry":1700000000,
 *    "next_key_id":"","next_expiry":0,"next_rekey":1699999000,"retry_at":0,
 *    "failures":0,"last_failure":{"time":1699990000,"reason":"cannot reach the MAS ..."},
 *    "pid":1234,"updated":1699995000,
 *    "esp":[{"peer":"incse.example.net:4500","state":"up","spi_in":3371201035,
 *            "spi_out":3235278897,"expiry":1700000000,"error":""}]}
 *
 * "esp" lists the [esp] peers (at most AGENT_STATUS_ESP_MAX; absent without any):
 * SPIs of the current SAs (0 when none), their hard expiry (Kc's), the last error.
 * Times are epoch seconds; 0 means "none". last_failure is null until the first failure.
 */
#pragma once

#include <stdint.h>

#include "common/wire.h"

#define AGENT_STATUS_REASON_MAX 512
#define AGENT_STATUS_MAS_MAX 300
#define AGENT_STATUS_ESP_MAX 4 /* the status must fit one local message (2 KiB) */
#define AGENT_STATUS_ESP_ERROR_MAX 120

struct agent_status_esp {
	char peer[80];
	char state[32];
	uint32_t spi_in;
	uint32_t spi_out;
	uint64_t expiry;
	char error[AGENT_STATUS_ESP_ERROR_MAX];
};

struct agent_status {
	char state[32];
	char node_id[WIRE_ID_MAX + 1];
	char mas[AGENT_STATUS_MAS_MAX];
	char key_id[WIRE_KEY_ID_MAX + 1]; /* "" when the node holds no key */
	uint64_t expiry;
	char next_key_id[WIRE_KEY_ID_MAX + 1]; /* the successor during make-before-break */
	uint64_t next_expiry;
	uint64_t next_rekey;
	uint64_t retry_at;
	uint32_t failures; /* consecutive, since the last success */
	uint64_t last_failure_time;
	char last_failure_reason[AGENT_STATUS_REASON_MAX];
	int64_t pid;
	uint64_t updated;
	struct agent_status_esp esp[AGENT_STATUS_ESP_MAX];
	size_t n_esp;
};

/* Serialise st as one line of JSON (with a trailing newline) into buf. -ENOBUFS if too small. */
int agent_status_format(const struct agent_status *st, char *buf, size_t buf_len);
/* Parse what agent_status_format() wrote (unknown keys are skipped). -EBADMSG if malformed. */
int agent_status_parse(const char *json, struct agent_status *ret);

/* Write atomically (common/fileio: a temporary file in path's folder, renamed); mode 0644. */
int agent_status_write(const char *path, const struct agent_status *st);
/* Read and parse; -ENOENT when there is no file (the agent is not running). */
int agent_status_read(const char *path, struct agent_status *ret);
