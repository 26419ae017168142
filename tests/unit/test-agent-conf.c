/* SPDX-License-Identifier: Apache-2.0 */
/* The node side's configuration: defaults, required keys, method lists, drop-ins. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>

#include "agent/agent-conf.h"

static char dir[64], path[128];

static void setup(void)
{
	strcpy(dir, "/tmp/m2msa-test-agent-conf-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/m2msad.conf", dir);
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

static void write_text(const char *p, const char *text)
{
	FILE *f = fopen(p, "w");

	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
}

TestSuite(agent_conf, .init = setup, .fini = teardown);

static const char minimal[] = "[mas]\naddress = mas.example.net:5683\nca = /etc/m2msa/mas-ca.crt\n"
			      "server_name = mas.example.net\n";

Test(agent_conf, minimal_file_gets_defaults)
{
	struct agent_conf c;
	struct m2msa_err err = { .wire_code = 0 };

	write_text(path, minimal);
	cr_assert_eq(agent_conf_load(path, &c, &err), 0, "%s", err.msg);
	cr_expect_null(c.node_id);
	cr_expect_str_eq(c.state_dir, "/var/lib/m2msa");
	cr_expect_str_eq(c.tcti, "device:/dev/tpmrm0");
	cr_expect_eq(c.n_methods, 1);
	cr_expect_eq(c.methods[0], WIRE_METHOD_PSK);
	cr_expect_eq(c.timeout, 10);
	cr_expect_str_eq(c.mas_address, "mas.example.net:5683");
	cr_expect_eq(c.client_idle_timeout, 60);
	cr_expect_eq(c.clients_per_uid, 64);
	cr_expect_eq(c.peer_check_interval, 60);
	agent_conf_free(&c);
}

Test(agent_conf, methods_and_dropin)
{
	struct agent_conf c;
	struct m2msa_err err = { .wire_code = 0 };
	char d[160], p[200];

	write_text(path, minimal);
	snprintf(d, sizeof(d), "%s.d", path);
	cr_assert_eq(mkdir(d, 0755), 0);
	snprintf(p, sizeof(p), "%s/50-node.conf", d);
	write_text(p, "[node]\nnode_id = /mn-cse-7\nmethods = pki, psk\n[mas]\ntimeout = 3s\n");
	cr_assert_eq(agent_conf_load(path, &c, &err), 0, "%s", err.msg);
	cr_expect_str_eq(c.node_id, "/mn-cse-7");
	cr_expect_eq(c.n_methods, 2);
	cr_expect_eq(c.methods[0], WIRE_METHOD_PKI);
	cr_expect_eq(c.methods[1], WIRE_METHOD_PSK);
	cr_expect_eq(c.timeout, 3);
	agent_conf_free(&c);
}

static void expect_error(const char *text, const char *want_suffix)
{
	struct agent_conf c;
	struct m2msa_err err = { .wire_code = 0 };
	char want[512];

	write_text(path, text);
	snprintf(want, sizeof(want), "%s%s", path, want_suffix);
	cr_expect_eq(agent_conf_load(path, &c, &err), -EINVAL);
	cr_expect_str_eq(err.msg, want);
}

Test(agent_conf, missing_mas_address)
{
	expect_error("[mas]\nca = /x\nserver_name = m\n", ": [mas] address is required");
}

Test(agent_conf, bad_address)
{
	expect_error("[mas]\naddress = nohost\nca = /x\nserver_name = m\n",
		     ": [mas] address 'nohost' is not host:port");
}

Test(agent_conf, unknown_method)
{
	expect_error("[node]\nmethods = psk,foo\n",
		     ":2: invalid value for 'methods' in [node]: unknown method 'foo' (known: psk, pki, gba)");
}

Test(agent_conf, duplicate_method)
{
	expect_error("[node]\nmethods = psk,psk\n",
		     ":2: invalid value for 'methods' in [node]: method 'psk' listed twice");
}

Test(agent_conf, bad_node_id)
{
	expect_error("[node]\nnode_id = mn cse\n[mas]\naddress = a:1\nca = /x\nserver_name = m\n",
		     ": [node] node_id 'mn cse' is not a valid CSE-ID (A-Z a-z 0-9 . _ - @ /, at most 128)");
}

Test(agent_conf, peer_check_interval_bounds)
{
	expect_error("[mas]\naddress = a:1\nca = /x\nserver_name = m\n[agent]\npeer_check_interval = 4s\n",
		     ": [agent] peer_check_interval must be between 5s and 24h");
	expect_error("[mas]\naddress = a:1\nca = /x\nserver_name = m\n[agent]\npeer_check_interval = 25h\n",
		     ": [agent] peer_check_interval must be between 5s and 24h");
}

Test(agent_conf, bad_log_level)
{
	expect_error("[mas]\naddress = a:1\nca = /x\nserver_name = m\n[log]\nlevel = loud\n",
		     ": [log] level 'loud' is not one of error, warning, notice, info, debug");
}

Test(agent_conf, esp_peers_are_appended)
{
	struct agent_conf c;
	struct m2msa_err err = { .wire_code = 0 };
	char text[512];

	snprintf(text, sizeof(text), "%s[esp]\npeer = incse.example.net:4500\n"
		 "peer = 192.0.2.20:4500 mode=tunnel proto=tcp node_port=5000 target_port=443\n"
		 "peer = [2001:db8::1]:4500 proto=icmp\n", minimal);
	write_text(path, text);
	cr_assert_eq(agent_conf_load(path, &c, &err), 0, "%s", err.msg);
	cr_assert_eq(c.esp_peers.n, 3);
	cr_expect_str_eq(c.esp_peers.v[0].address, "incse.example.net:4500");
	cr_expect_eq(c.esp_peers.v[0].sel.mode, ESP_MODE_TRANSPORT);
	cr_expect_eq(c.esp_peers.v[0].sel.proto, 0);
	cr_expect_eq(c.esp_peers.v[1].sel.mode, ESP_MODE_TUNNEL);
	cr_expect_eq(c.esp_peers.v[1].sel.proto, 6);
	cr_expect_eq(c.esp_peers.v[1].sel.node_port, 5000);
	cr_expect_eq(c.esp_peers.v[1].sel.target_port, 443);
	cr_expect_eq(c.esp_peers.v[2].sel.proto, 1);
	agent_conf_free(&c);
}

Test(agent_conf, bad_esp_peers)
{
	static const char *const bad[] = {
		"peer = nohost\n",
		"peer = 192.0.2.20:4500 proto=icmp target_port=443\n",
		"peer = 192.0.2.20:4500 mode=beet\n",
		"peer = 192.0.2.20:4500 speed=fast\n",
		"peer = 192.0.2.20:4500 proto=tcp target_port=70000\n",
		"peer = 192.0.2.20:4500 proto=tcp target_port\n",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct agent_conf c;
		struct m2msa_err err = { .wire_code = 0 };
		char text[512];

		snprintf(text, sizeof(text), "%s[esp]\n%s", minimal, bad[i]);
		write_text(path, text);
		cr_expect_eq(agent_conf_load(path, &c, &err), -EINVAL, "%s", bad[i]);
		cr_expect(strstr(err.msg, "m2msad.conf:6: invalid value for 'peer' in [esp]") != NULL,
			  "error names the line: %s", err.msg);
	}
}
