/* SPDX-License-Identifier: Apache-2.0 */
/* The agent's status file: JSON out and back, escaping, malformed input, atomic write (agent/status.h). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/status.h"

static struct agent_status sample(void)
{
	struct agent_status st;

	memset(&st, 0, sizeof(st));
	snprintf(st.state, sizeof(st.state), "backoff");
	snprintf(st.node_id, sizeof(st.node_id), "/mn-cse-1");
	snprintf(st.mas, sizeof(st.mas), "[2001:db8::1]:5683");
	snprintf(st.key_id, sizeof(st.key_id), "00112233445566778899aabbccddeeff@mas.test");
	st.expiry = 1700000000;
	st.next_rekey = 0;
	st.retry_at = 1699999999;
	st.failures = 7;
	st.last_failure_time = 1699999990;
	snprintf(st.last_failure_reason, sizeof(st.last_failure_reason),
		 "MAS said \"no\" \\ twice\n\tand a control char \x01");
	st.pid = 4242;
	st.updated = 1699999991;
	return st;
}

Test(agent_status, round_trip_with_escapes)
{
	struct agent_status a = sample(), b;
	char buf[4096];

	cr_assert_eq(agent_status_format(&a, buf, sizeof(buf)), 0);
	cr_expect_null(strchr(buf, '\t'), "raw control character in JSON: %s", buf);
	cr_expect_not_null(strstr(buf, "\\\"no\\\""), "%s", buf);
	cr_expect_not_null(strstr(buf, "\\u0001"), "%s", buf);
	cr_assert_eq(agent_status_parse(buf, &b), 0, "%s", buf);
	cr_expect_str_eq(b.state, a.state);
	cr_expect_str_eq(b.node_id, a.node_id);
	cr_expect_str_eq(b.mas, a.mas);
	cr_expect_str_eq(b.key_id, a.key_id);
	cr_expect_str_eq(b.next_key_id, "");
	cr_expect_eq(b.expiry, a.expiry);
	cr_expect_eq(b.retry_at, a.retry_at);
	cr_expect_eq(b.failures, 7);
	cr_expect_eq(b.last_failure_time, a.last_failure_time);
	cr_expect_str_eq(b.last_failure_reason, a.last_failure_reason);
	cr_expect_eq(b.pid, 4242);
	cr_expect_eq(b.updated, a.updated);
}

Test(agent_status, no_failure_is_null_and_unknown_keys_are_skipped)
{
	struct agent_status a = sample(), b;
	char buf[4096];

	a.last_failure_time = 0;
	cr_assert_eq(agent_status_format(&a, buf, sizeof(buf)), 0);
	cr_expect_not_null(strstr(buf, "\"last_failure\":null"), "%s", buf);
	/* Arrays are part of the format since "esp"; unknown ones are skipped. */
	cr_assert_eq(agent_status_parse("{\"state\":\"idle\",\"future\":{\"a\":[1]},\"pid\":1}", &b), 0);
	cr_assert_eq(agent_status_parse("{\"state\":\"idle\",\"future\":[1,}", &b), -EBADMSG);
	cr_assert_eq(agent_status_parse("{\"state\":\"idle\",\"future\":{\"a\":true},\"pid\":1}", &b), 0);
	cr_expect_str_eq(b.state, "idle");
	cr_expect_eq(b.pid, 1);
}

Test(agent_status, malformed_is_refused)
{
	static const char *const bad[] = {
		"", "{", "{\"state\":}", "{\"state\":\"x\"", "{\"state\":\"x\"} trailing",
		"{\"expiry\":\"soon\",\"state\":\"x\"}", "{\"expiry\":-1,\"state\":\"x\"}",
		"{\"pid\":1}", /* no state */
		"{\"state\":\"a\\qb\"}",
	};
	struct agent_status st = { .pid = 99 };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_eq(agent_status_parse(bad[i], &st), -EBADMSG, "accepted: %s", bad[i]);
	cr_expect_eq(st.pid, 99, "a failed parse wrote its output");
}

Test(agent_status, too_small_buffer)
{
	struct agent_status a = sample();
	char buf[64];

	cr_expect_eq(agent_status_format(&a, buf, sizeof(buf)), -ENOBUFS);
}

Test(agent_status, write_is_atomic_0644_and_readable)
{
	char dir[] = "/tmp/m2msa-status-XXXXXX", path[64];
	struct agent_status a = sample(), b;
	struct stat s;
	struct dirent *e;
	DIR *d;
	int entries = 0;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/status.json", dir);
	cr_expect_eq(agent_status_read(path, &b), -ENOENT);
	umask(077);
	cr_assert_eq(agent_status_write(path, &a), 0);
	cr_assert_eq(stat(path, &s), 0);
	cr_expect_eq(s.st_mode & 0777, 0644);
	/* Only status.json in the folder: no temporary file left behind, whatever its name. */
	cr_assert_not_null(d = opendir(dir));
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			cr_expect_str_eq(e->d_name, "status.json", "temporary file left behind");
			entries++;
		}
	}
	closedir(d);
	cr_expect_eq(entries, 1);
	cr_assert_eq(agent_status_read(path, &b), 0);
	cr_expect_str_eq(b.key_id, a.key_id);
	snprintf(a.state, sizeof(a.state), "established");
	cr_assert_eq(agent_status_write(path, &a), 0);
	cr_assert_eq(agent_status_read(path, &b), 0);
	cr_expect_str_eq(b.state, "established");
	unlink(path);
	rmdir(dir);
}

Test(agent_status, esp_peers_round_trip)
{
	struct agent_status st = { .pid = 1 }, back;
	char buf[4096];

	snprintf(st.state, sizeof(st.state), "established");
	st.n_esp = 2;
	snprintf(st.esp[0].peer, sizeof(st.esp[0].peer), "10.0.0.2:4500");
	snprintf(st.esp[0].state, sizeof(st.esp[0].state), "up");
	st.esp[0].spi_in = 0xc0000001;
	st.esp[0].spi_out = 0xcfffffff;
	st.esp[0].expiry = 1700000000;
	snprintf(st.esp[1].peer, sizeof(st.esp[1].peer), "[2001:db8::1]:4500");
	snprintf(st.esp[1].state, sizeof(st.esp[1].state), "retrying");
	snprintf(st.esp[1].error, sizeof(st.esp[1].error), "cannot connect: \"refused\"");
	cr_assert_eq(agent_status_format(&st, buf, sizeof(buf)), 0);
	cr_assert(strstr(buf, ",\"esp\":[{\"peer\":\"10.0.0.2:4500\",\"state\":\"up\",\"spi_in\":3221225473,"
			      "\"spi_out\":3489660927,\"expiry\":1700000000,\"error\":\"\"},{"), "%s", buf);
	cr_assert_eq(agent_status_parse(buf, &back), 0);
	cr_assert_eq(back.n_esp, 2);
	cr_assert_str_eq(back.esp[0].peer, "10.0.0.2:4500");
	cr_assert_eq(back.esp[0].spi_in, 0xc0000001u);
	cr_assert_eq(back.esp[0].spi_out, 0xcfffffffu);
	cr_assert_eq(back.esp[0].expiry, 1700000000u);
	cr_assert_str_eq(back.esp[1].state, "retrying");
	cr_assert_str_eq(back.esp[1].error, "cannot connect: \"refused\"");
}

Test(agent_status, without_esp_peers_no_esp_key)
{
	struct agent_status st = { .pid = 1 }, back;
	char buf[4096];

	snprintf(st.state, sizeof(st.state), "idle");
	cr_assert_eq(agent_status_format(&st, buf, sizeof(buf)), 0);
	cr_assert_null(strstr(buf, "esp"));
	cr_assert_eq(agent_status_parse(buf, &back), 0);
	cr_assert_eq(back.n_esp, 0);
	/* Arrays of unknown keys are skipped too (a newer agent's status). */
	cr_assert_eq(agent_status_parse("{\"state\":\"idle\",\"later\":[1,{\"a\":[]},\"x\"]}", &back), 0);
	cr_assert_str_eq(back.state, "idle");
}
