/* SPDX-License-Identifier: Apache-2.0 */
/*
 * m2msactl doctor: the checks a support engineer runs on a gateway (docs/m2msactl.md),
 * one line each with ok, warn or FAIL and, for the latter two, the fix. --json prints
 * the same as one JSON object. Exit 1 when a check fails.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent-conf.h"
#include "agent/clients.h"
#include "agent/status.h"
#include "m2msactl/ctl.h"
#include "common/cli.h"
#include "common/err.h"
#include "common/json.h"
#include "common/secret.h"
#include "common/tls.h"
#include "tpm/keystore.h"
#include "tpm/signkey.h"

#define DOCTOR_AGENT_USER "m2msa"
#define DOCTOR_SOCKET_GROUP "m2msa"
#define DOCTOR_MAX_GROUPS 128
/* 2025-01-01T00:00:00Z: a clock before this is certainly wrong (this code is newer). */
#define DOCTOR_CLOCK_FLOOR 1735689600LL
/* A MAS certificate that expires sooner than this gets a warning. */
#define DOCTOR_CERT_WARN_DAYS 30

enum doctor_result {
	DOCTOR_RESULT_OK,
	DOCTOR_RESULT_WARN,
	DOCTOR_RESULT_FAIL,
	_DOCTOR_RESULT_MAX,
};

struct doctor {
	bool json;
	const char *config_path;
	const char *agent_user;
	unsigned count[_DOCTOR_RESULT_MAX];
	unsigned n_reported;
	/* The configuration; on an error, the defaults (conf_loaded false). */
	struct agent_conf conf;
	bool conf_loaded;
	const char *tcti, *state_dir, *status_file, *socket_path, *clients_dir;
	/* The user the agent runs as. */
	bool have_user;
	uid_t uid;
	gid_t groups[DOCTOR_MAX_GROUPS];
	int n_groups;
	/* The agent, as its status file shows it. */
	bool agent_running;
	int agent_err;
	struct agent_status st;
};

static const char *const result_word[_DOCTOR_RESULT_MAX] = { "ok", "warn", "FAIL" };
static const char *const result_json[_DOCTOR_RESULT_MAX] = { "ok", "warn", "fail" };

/* One check's outcome; fix (NULL for none) tells what to do about a warn or FAIL. */
static void _printf_(5, 6) report(struct doctor *d, const char *name, enum doctor_result res,
				  const char *fix, const char *fmt, ...)
{
	char detail[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	d->count[res]++;
	if (d->json) {
		printf("%s{\"name\":", d->n_reported ? "," : "{\"checks\":[");
		json_write_string(stdout, name);
		printf(",\"result\":\"%s\",\"detail\":", result_json[res]);
		json_write_string(stdout, detail);
		fputs(",\"fix\":", stdout);
		if (fix && res != DOCTOR_RESULT_OK)
			json_write_string(stdout, fix);
		else
			fputs("null", stdout);
		putchar('}');
	} else {
		printf("%-5s %-17s %s\n", result_word[res], name, detail);
		if (fix && res != DOCTOR_RESULT_OK)
			printf("      fix: %s\n", fix);
	}
	d->n_reported++;
}

static bool user_in_group(const struct doctor *d, gid_t gid)
{
	for (int i = 0; i < d->n_groups; i++)
		if (d->groups[i] == gid)
			return true;
	return false;
}

/* May the agent user access a file with stat st for want (4 read, 2 write, 6 both)? */
static bool user_may(const struct doctor *d, const struct stat *st, unsigned want)
{
	if (d->uid == 0)
		return true;
	if (st->st_uid == d->uid)
		return ((st->st_mode >> 6) & want) == want;
	if (user_in_group(d, st->st_gid))
		return ((st->st_mode >> 3) & want) == want;
	return (st->st_mode & want) == want;
}

/* The name of group gid (or user uid), else the number. */
static const char *group_name(gid_t gid, char *buf, size_t len)
{
	struct group *g = getgrgid(gid);

	if (g)
		snprintf(buf, len, "%s", g->gr_name);
	else
		snprintf(buf, len, "%lu", (unsigned long)gid);
	return buf;
}

static const char *user_name(uid_t uid, char *buf, size_t len)
{
	struct passwd *p = getpwuid(uid);

	if (p)
		snprintf(buf, len, "%s", p->pw_name);
	else
		snprintf(buf, len, "%lu", (unsigned long)uid);
	return buf;
}

static void lookup_user(struct doctor *d)
{
	struct passwd *p = getpwnam(d->agent_user);

	if (!p)
		return;
	d->have_user = true;
	d->uid = p->pw_uid;
	d->n_groups = DOCTOR_MAX_GROUPS;
	if (getgrouplist(p->pw_name, p->pw_gid, d->groups, &d->n_groups) < 0)
		d->n_groups = 0;
}

static void check_config(struct doctor *d)
{
	struct m2msa_err err = { 0 };
	int r = agent_conf_load(d->config_path, &d->conf, &err);

	d->tcti = TPM_DEFAULT_TCTI;
	d->state_dir = TPM_DEFAULT_STATE_DIR;
	d->status_file = AGENT_CONF_STATUS_FILE_DEFAULT;
	d->socket_path = AGENT_CONF_SOCKET_DEFAULT;
	d->clients_dir = AGENT_CONF_CLIENTS_DIR_DEFAULT;
	if (r < 0) {
		report(d, "config", DOCTOR_RESULT_FAIL,
		       "correct the setting named above (see m2msad.conf(5)); `m2msad --check` "
		       "reads the configuration the same way. The checks below use the defaults.",
		       "%s", err.msg[0] ? err.msg : strerror(-r));
		return;
	}
	d->conf_loaded = true;
	d->tcti = d->conf.tcti;
	d->state_dir = d->conf.state_dir;
	d->status_file = d->conf.status_file;
	d->socket_path = d->conf.socket_path;
	d->clients_dir = d->conf.clients_dir;
	report(d, "config", DOCTOR_RESULT_OK, NULL, "%s (and %s.d/*.conf) valid: MAS %s, TCTI %s",
	       d->config_path, d->config_path, d->conf.mas_address, d->tcti);
}

/* The device path of a device TCTI ("device:PATH", "device": /dev/tpmrm0), else NULL. */
static const char *tcti_device(const char *tcti)
{
	if (strncmp(tcti, "device", 6) != 0 || (tcti[6] != '\0' && tcti[6] != ':'))
		return NULL;
	return tcti[6] == ':' && tcti[7] ? tcti + 7 : "/dev/tpmrm0";
}

static bool tcti_is_software(const char *tcti)
{
	return strncmp(tcti, "swtpm", 5) == 0 || strncmp(tcti, "mssim", 5) == 0;
}

static void check_tpm_device(struct doctor *d)
{
	const char *dev = tcti_device(d->tcti);
	char owner[64], group[64], fix[512];
	struct stat st;

	if (!dev) {
		if (tcti_is_software(d->tcti))
			report(d, "tpm-device", DOCTOR_RESULT_WARN,
			       "on a gateway use the hardware TPM: [node] tcti = device:/dev/tpmrm0 "
			       "(the default), and provision Km there",
			       "TCTI %s is a software TPM: Km is not protected by hardware", d->tcti);
		else
			report(d, "tpm-device", DOCTOR_RESULT_OK, NULL,
			       "TCTI %s is not a device; not checked here", d->tcti);
		return;
	}
	if (stat(dev, &st) < 0) {
		report(d, "tpm-device", DOCTOR_RESULT_FAIL,
		       "enable the TPM in the firmware setup; `dmesg | grep -i tpm` shows whether the "
		       "tpm_tis or tpm_crb driver found it",
		       "%s: %s (no TPM driver bound?)", dev, strerror(errno));
		return;
	}
	if (!S_ISCHR(st.st_mode)) {
		report(d, "tpm-device", DOCTOR_RESULT_FAIL, "set [node] tcti = device:/dev/tpmrm0",
		       "%s is not a character device", dev);
		return;
	}
	if (!d->have_user) {
		snprintf(fix, sizeof(fix), "reinstall the m2msa package: systemd-sysusers creates "
			 "the user from /usr/lib/sysusers.d/m2msa.conf");
		report(d, "tpm-device", DOCTOR_RESULT_FAIL, fix, "the agent user %s does not exist",
		       d->agent_user);
		return;
	}
	user_name(st.st_uid, owner, sizeof(owner));
	group_name(st.st_gid, group, sizeof(group));
	if (user_may(d, &st, 6)) {
		report(d, "tpm-device", DOCTOR_RESULT_OK, NULL,
		       "%s is %s:%s mode %04o; the user %s may open it", dev, owner, group,
		       (unsigned)(st.st_mode & 07777), d->agent_user);
		return;
	}
	if (st.st_gid == 0 || (st.st_mode & 060) != 060)
		snprintf(fix, sizeof(fix),
			 "install tpm-udev (its udev rule makes the TPM devices group tss mode 0660), "
			 "then: udevadm trigger --subsystem-match=tpmrm --subsystem-match=tpm");
	else
		snprintf(fix, sizeof(fix), "usermod -aG %s %s (m2msad.service also sets "
			 "SupplementaryGroups=tss; sysusers.d/m2msa.conf adds it)", group, d->agent_user);
	report(d, "tpm-device", DOCTOR_RESULT_FAIL, fix,
	       "%s is %s:%s mode %04o: the user %s cannot open it", dev, owner, group,
	       (unsigned)(st.st_mode & 07777), d->agent_user);
}

static void check_resource_manager(struct doctor *d)
{
	const char *dev = tcti_device(d->tcti), *base;

	if (!dev) {
		report(d, "resource-manager", DOCTOR_RESULT_OK, NULL,
		       "not a kernel device (TCTI %s); nothing to check", d->tcti);
		return;
	}
	base = strrchr(dev, '/') ? strrchr(dev, '/') + 1 : dev;
	if (strncmp(base, "tpmrm", 5) != 0) {
		report(d, "resource-manager", DOCTOR_RESULT_WARN,
		       "set [node] tcti = device:/dev/tpmrm0 (the kernel's resource manager)",
		       "%s is the raw TPM: one process at a time, so the agent and m2msactl "
		       "block each other", dev);
		return;
	}
	if (access(dev, F_OK) == 0)
		report(d, "resource-manager", DOCTOR_RESULT_OK, NULL,
		       "%s: the kernel's resource manager; the agent and m2msactl share the TPM", dev);
	else if (access("/dev/tpm0", F_OK) == 0)
		report(d, "resource-manager", DOCTOR_RESULT_FAIL,
		       "Linux 4.12 or later with a TPM 2.0 provides /dev/tpmrm0; a TPM 1.2 cannot "
		       "hold Km",
		       "/dev/tpm0 exists but %s does not: no TPM 2.0 resource manager", dev);
	else
		report(d, "resource-manager", DOCTOR_RESULT_FAIL, "see tpm-device above",
		       "%s does not exist", dev);
}

static bool file_exists(const char *dir, const char *name)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return access(path, F_OK) == 0;
}

/* provisioned-key's file checks; true when the key files are there and readable. */
static bool check_key_files(struct doctor *d, bool *ret_pki)
{
	char path[4096], owner[64], fix[1024];
	struct stat st;

	*ret_pki = false;
	if (!file_exists(d->state_dir, TPM_KM_PUB_FILE) && file_exists(d->state_dir, TPM_SIGNKEY_PRIV_FILE) &&
	    file_exists(d->state_dir, TPM_NODE_CERT_FILE)) {
		*ret_pki = true;
		snprintf(path, sizeof(path), "%s/" TPM_SIGNKEY_PRIV_FILE, d->state_dir);
	} else {
		snprintf(path, sizeof(path), "%s/" TPM_KM_PRIV_FILE, d->state_dir);
	}
	if (stat(path, &st) < 0) {
		report(d, "provisioned-key", DOCTOR_RESULT_FAIL,
		       "as the user m2msa: sudo -u m2msa m2msactl provision --node-id CSE-ID "
		       "--km-id KMID --key-file FILE (the Km the provider issued; for method pki: "
		       "m2msactl pki-keygen and pki-install)",
		       "no long-term key in %s (%s: %s)", d->state_dir, path, strerror(errno));
		return false;
	}
	if (d->have_user && !user_may(d, &st, 4)) {
		snprintf(fix, sizeof(fix), "chown -R %s: %s (next time provision as the user %s)",
			 d->agent_user, d->state_dir, d->agent_user);
		report(d, "provisioned-key", DOCTOR_RESULT_FAIL, fix,
		       "%s is owned by %s mode %04o: the agent user %s cannot read it", path,
		       user_name(st.st_uid, owner, sizeof(owner)), (unsigned)(st.st_mode & 07777),
		       d->agent_user);
		return false;
	}
	return true;
}

static bool offers(const struct doctor *d, uint8_t method)
{
	for (size_t i = 0; d->conf_loaded && i < d->conf.n_methods; i++)
		if (d->conf.methods[i] == method)
			return true;
	return false;
}

static void skip_tpm_checks(struct doctor *d, enum doctor_result res, const char *fix,
			    const char *why)
{
	report(d, "storage-key", res, fix, "not checked: %s", why);
	report(d, "provisioned-key", res, fix, "not checked: %s", why);
	report(d, "policy", res, fix, "not checked: %s", why);
}

/* storage-key, provisioned-key and policy: through the TPM itself. */
static void check_tpm(struct doctor *d)
{
	_cleanup_(tpm_closep) struct tpm_ctx *t = NULL;
	_cleanup_(tpm_key_freep) struct tpm_key *k = NULL;
	_cleanup_key32_ struct key32 out = { 0 };
	struct kdf_prf prf;
	char err[512];
	bool persistent, pki;
	int r;

	if (tcti_is_software(d->tcti) && d->agent_running) {
		/* swtpm serves one connection, which the running agent holds. */
		bool est = strcmp(d->st.state, "established") == 0;

		skip_tpm_checks(d, est ? DOCTOR_RESULT_OK : DOCTOR_RESULT_WARN,
				"stop m2msad to let doctor check the software TPM",
				est ? "the agent holds the software TPM's only connection and is "
				      "established with the key"
				    : "the agent holds the software TPM's only connection");
		return;
	}
	r = tpm_open(d->tcti, &t, err, sizeof(err));
	if (r < 0) {
		report(d, "storage-key", DOCTOR_RESULT_FAIL,
		       "see tpm-device above; `m2msactl tpm-check -v` shows the TPM's response codes",
		       "%s", err);
		for (int i = 0; i < 2; i++)
			report(d, i ? "policy" : "provisioned-key", DOCTOR_RESULT_WARN,
			       "fix storage-key first", "not checked: no TPM connection");
		return;
	}
	r = tpm_primary(t, &persistent);
	if (r < 0) {
		report(d, "storage-key", DOCTOR_RESULT_FAIL,
		       "the TPM may be in dictionary-attack lockout or its owner hierarchy may have a "
		       "password (see docs/tpm.md)",
		       "%s", tpm_last_error(t));
		return;
	}
	report(d, "storage-key", DOCTOR_RESULT_OK, NULL,
	       persistent ? "persistent SRK at 0x%08x" :
			    "no persistent SRK at 0x%08x: the standard ECC P-256 primary is created "
			    "when needed", TPM_SRK_HANDLE);
	if (offers(d, WIRE_METHOD_GBA) && !offers(d, WIRE_METHOD_PSK) && !offers(d, WIRE_METHOD_PKI)) {
		report(d, "provisioned-key", DOCTOR_RESULT_OK, NULL,
		       "method gba only: no Km in the TPM (`m2msactl usim check` checks the USIM)");
		report(d, "policy", DOCTOR_RESULT_OK, NULL, "method gba: no PCR policy");
		return;
	}
	if (!check_key_files(d, &pki)) {
		report(d, "policy", DOCTOR_RESULT_WARN, "fix provisioned-key first",
		       "not checked: no usable key");
		return;
	}
	if (pki) {
		report(d, "provisioned-key", DOCTOR_RESULT_OK, NULL,
		       "method pki: signing key and node certificate in %s", d->state_dir);
		report(d, "policy", DOCTOR_RESULT_OK, NULL, "method pki: no PCR policy");
		return;
	}
	r = tpm_key_load(t, d->state_dir, &k);
	if (r < 0) {
		report(d, "provisioned-key", DOCTOR_RESULT_FAIL,
		       "the blobs belong to another TPM or this TPM was cleared: provision again "
		       "(m2msactl provision --force) with the Km the provider issues",
		       "%s", tpm_last_error(t));
		report(d, "policy", DOCTOR_RESULT_WARN, "fix provisioned-key first",
		       "not checked: the key does not load");
		return;
	}
	report(d, "provisioned-key", DOCTOR_RESULT_OK, NULL, "Km of node %s, KmID %s, in %s",
	       tpm_key_node_id(k), tpm_key_km_id(k), d->state_dir);
	tpm_key_prf(k, &prf);
	r = kdf_derive(&prf, "m2msa doctor", NULL, 0, out.b);
	if (r < 0)
		report(d, "policy", DOCTOR_RESULT_FAIL,
		       tpm_key_has_signed_policy(k)
			       ? "the PCR values match no installed signed policy (firmware or boot "
				 "loader update?): install the provider's newly signed policy with "
				 "m2msactl policy-install"
			       : "the PCR values changed since provisioning (firmware or boot loader "
				 "update?): provision again with --force and the same --pcrs",
		       "the TPM refused a derivation with Km: %s", tpm_last_error(t));
	else if (tpm_key_has_signed_policy(k))
		report(d, "policy", DOCTOR_RESULT_OK, NULL,
		       "signed PCR policy satisfied (PCRs %s): Km derives",
		       tpm_key_pcrs(k) ? tpm_key_pcrs(k) : "as signed");
	else if (tpm_key_pcrs(k))
		report(d, "policy", DOCTOR_RESULT_OK, NULL,
		       "PCR policy %s satisfied: Km derives", tpm_key_pcrs(k));
	else
		report(d, "policy", DOCTOR_RESULT_OK, NULL,
		       "no PCR policy (Km is not bound to PCRs); Km derives");
}

static bool asn1_epoch(const WOLFSSL_ASN1_TIME *a, time_t *ret)
{
	struct tm tm = { 0 };

	if (!a || wolfSSL_ASN1_TIME_to_tm(a, &tm) != WOLFSSL_SUCCESS)
		return false;
	*ret = timegm(&tm);
	return true;
}

static void utc(time_t t, char *buf, size_t len)
{
	struct tm tm;

	if (!gmtime_r(&t, &tm) || strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(buf, len, "%lld", (long long)t);
}

static void check_clock(struct doctor *d)
{
	time_t now = time(NULL), nb, na;
	char s_now[40], s_nb[40], s_na[40];
	const char *ntp = access("/run/systemd/timesync/synchronized", F_OK) == 0
				  ? "; systemd-timesyncd synchronised it" : "";
	WOLFSSL_X509 *x;

	utc(now, s_now, sizeof(s_now));
	if ((long long)now < DOCTOR_CLOCK_FLOOR) {
		report(d, "clock", DOCTOR_RESULT_FAIL,
		       "set the time: timedatectl set-ntp true (or set the RTC); TLS refuses "
		       "certificates that are not yet valid",
		       "the clock says %s, before this program was written", s_now);
		return;
	}
	if (!d->conf_loaded) {
		report(d, "clock", DOCTOR_RESULT_WARN, "fix config first",
		       "%s; the MAS CA's validity not checked (no usable configuration)", s_now);
		return;
	}
	x = wolfSSL_X509_load_certificate_file(d->conf.mas_ca, WOLFSSL_FILETYPE_PEM);
	if (!x || !asn1_epoch(wolfSSL_X509_get_notBefore(x), &nb) ||
	    !asn1_epoch(wolfSSL_X509_get_notAfter(x), &na)) {
		wolfSSL_X509_free(x);
		report(d, "clock", DOCTOR_RESULT_FAIL,
		       "set [mas] ca to the PEM file of the CA the provider gave you",
		       "cannot read a PEM certificate from [mas] ca %s", d->conf.mas_ca);
		return;
	}
	wolfSSL_X509_free(x);
	utc(nb, s_nb, sizeof(s_nb));
	utc(na, s_na, sizeof(s_na));
	if (now < nb)
		report(d, "clock", DOCTOR_RESULT_FAIL,
		       "set the time: timedatectl set-ntp true (or set the RTC); TLS refuses "
		       "certificates that are not yet valid",
		       "the clock says %s, before the MAS CA %s is valid (from %s)", s_now,
		       d->conf.mas_ca, s_nb);
	else if (now > na)
		report(d, "clock", DOCTOR_RESULT_FAIL,
		       "check the clock; if it is right, get the provider's current CA for [mas] ca",
		       "the clock says %s, after the MAS CA %s expired (%s)", s_now, d->conf.mas_ca,
		       s_na);
	else
		report(d, "clock", DOCTOR_RESULT_OK, NULL,
		       "%s, within the MAS CA's validity (%s to %s)%s", s_now, s_nb, s_na, ntp);
}

/* TLS with the MAS: 0, or -errno with the reason in err. *ret_not_after: its certificate. */
static int mas_handshake(const struct doctor *d, int fd, time_t *ret_not_after, char *err,
			 size_t err_len)
{
	WOLFSSL_CTX *ctx = tls_client_ctx_new(d->conf.mas_ca, NULL, NULL, err, err_len);
	WOLFSSL *ssl = NULL;
	WOLFSSL_X509 *peer;
	int r = -EPROTO, ret;

	if (!ctx)
		return -EINVAL;
	ssl = tls_client_new(ctx, fd, d->conf.server_name, err, err_len);
	if (!ssl)
		goto out;
	ret = wolfSSL_connect(ssl);
	if (ret != WOLFSSL_SUCCESS) {
		r = tls_error(ssl, ret, err, err_len);
		goto out;
	}
	peer = wolfSSL_get_peer_certificate(ssl);
	r = peer && asn1_epoch(wolfSSL_X509_get_notAfter(peer), ret_not_after) ? 0 : -EBADMSG;
	if (r < 0)
		snprintf(err, err_len, "the MAS sent no readable certificate");
	wolfSSL_X509_free(peer);
	(void)wolfSSL_shutdown(ssl);
out:
	wolfSSL_free(ssl);
	wolfSSL_CTX_free(ctx);
	return r;
}

static void check_mas(struct doctor *d)
{
	struct timeval tv = { .tv_sec = (time_t)d->conf.timeout };
	char host[256], err[TLS_ERR_MAX + 256], fix[1024], s_na[40];
	_cleanup_close_ int fd = -1;
	time_t not_after = 0;
	uint16_t port;
	long days;
	int r;

	if (!d->conf_loaded || tcp_parse_hostport(d->conf.mas_address, host, sizeof(host), &port) < 0) {
		report(d, "mas", DOCTOR_RESULT_FAIL, "fix config first",
		       "not checked: no usable [mas] address");
		return;
	}
	fd = tcp_connect(host, port, (int)d->conf.timeout * 1000);
	if (fd < 0) {
		report(d, "mas", DOCTOR_RESULT_FAIL,
		       "check [mas] address, the uplink, DNS and the firewall (TCP to the MAS); "
		       "is m2masd running there?",
		       "cannot reach the MAS at %s: %s", d->conf.mas_address, strerror(-fd));
		return;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	r = mas_handshake(d, fd, &not_after, err, sizeof(err));
	if (r < 0) {
		snprintf(fix, sizeof(fix), "the MAS certificate must chain to [mas] ca (%s) and "
			 "name [mas] server_name (%s); check both, and the clock, with the provider",
			 d->conf.mas_ca, d->conf.server_name);
		report(d, "mas", DOCTOR_RESULT_FAIL, fix, "TLS with the MAS at %s: %s",
		       d->conf.mas_address, err);
		return;
	}
	utc(not_after, s_na, sizeof(s_na));
	days = (long)((not_after - time(NULL)) / 86400);
	if (days < DOCTOR_CERT_WARN_DAYS)
		report(d, "mas", DOCTOR_RESULT_WARN, "ask the provider to renew the MAS certificate",
		       "%s reached over TLS 1.3 as %s; its certificate expires in %ld days (%s)",
		       d->conf.mas_address, d->conf.server_name, days, s_na);
	else
		report(d, "mas", DOCTOR_RESULT_OK, NULL,
		       "%s reached over TLS 1.3; its certificate names %s, chains to %s and is valid "
		       "until %s", d->conf.mas_address, d->conf.server_name, d->conf.mas_ca, s_na);
}

/* Read the agent's status before the TPM checks (a running agent holds a software TPM). */
static void find_agent(struct doctor *d)
{
	d->agent_err = agent_status_read(d->status_file, &d->st);
	if (d->agent_err < 0)
		return;
	if (d->st.pid > 0 && (kill((pid_t)d->st.pid, 0) == 0 || errno == EPERM))
		d->agent_running = true;
	else
		d->agent_err = -ESRCH;
}

static void check_agent(struct doctor *d)
{
	char exp[40], fix[256];

	if (d->agent_err < 0) {
		snprintf(fix, sizeof(fix), "systemctl start m2msad; `journalctl -u m2msad` says why it %s",
			 d->agent_err == -ESRCH ? "stopped" : "is not running (or was skipped)");
		if (d->agent_err == -ENOENT)
			report(d, "agent", DOCTOR_RESULT_FAIL, fix, "m2msad is not running (no %s)",
			       d->status_file);
		else if (d->agent_err == -ESRCH)
			report(d, "agent", DOCTOR_RESULT_FAIL, fix,
			       "m2msad is not running: %s names pid %lld, which is gone", d->status_file,
			       (long long)d->st.pid);
		else
			report(d, "agent", DOCTOR_RESULT_FAIL, fix, "cannot read %s: %s",
			       d->status_file, strerror(-d->agent_err));
		return;
	}
	if (strcmp(d->st.state, "established") == 0) {
		utc((time_t)d->st.expiry, exp, sizeof(exp));
		report(d, "agent", DOCTOR_RESULT_OK, NULL,
		       "m2msad (pid %lld) is established: key ID %s until %s", (long long)d->st.pid,
		       d->st.key_id, exp);
	} else {
		report(d, "agent", DOCTOR_RESULT_WARN,
		       "see `m2msactl status` and `journalctl -u m2msad`; the mas, clock and "
		       "provisioned-key checks name the usual causes",
		       "m2msad (pid %lld) is %s%s%s", (long long)d->st.pid, d->st.state,
		       d->st.last_failure_time ? "; last failure: " : "",
		       d->st.last_failure_time ? d->st.last_failure_reason : "");
	}
}

static void check_socket(struct doctor *d)
{
	struct group *g = getgrnam(DOCTOR_SOCKET_GROUP);
	char dir[4096], owner[64], group[64], fix[512];
	struct stat st, dst;
	char *slash;

	if (stat(d->socket_path, &st) < 0) {
		report(d, "socket", DOCTOR_RESULT_FAIL, "start m2msad: it creates the socket",
		       "%s: %s", d->socket_path, strerror(errno));
		return;
	}
	if (!S_ISSOCK(st.st_mode)) {
		report(d, "socket", DOCTOR_RESULT_FAIL, "remove it and restart m2msad",
		       "%s is not a socket", d->socket_path);
		return;
	}
	user_name(st.st_uid, owner, sizeof(owner));
	group_name(st.st_gid, group, sizeof(group));
	if (!g) {
		report(d, "socket", DOCTOR_RESULT_WARN,
		       "reinstall the m2msa package (systemd-sysusers creates the group)",
		       "%s is %s:%s mode %04o, but there is no group %s: no local AE can be let in",
		       d->socket_path, owner, group, (unsigned)(st.st_mode & 07777), DOCTOR_SOCKET_GROUP);
		return;
	}
	if ((st.st_mode & 07777) != 0660 || st.st_gid != g->gr_gid) {
		report(d, "socket", DOCTOR_RESULT_FAIL,
		       "restart m2msad, which makes it group " DOCTOR_SOCKET_GROUP " mode 0660 itself; "
		       "look for a drop-in or tmpfiles.d entry that changes /run/m2msa",
		       "%s is %s:%s mode %04o; AEs in group %s need group %s mode 0660", d->socket_path,
		       owner, group, (unsigned)(st.st_mode & 07777), DOCTOR_SOCKET_GROUP,
		       DOCTOR_SOCKET_GROUP);
		return;
	}
	snprintf(dir, sizeof(dir), "%s", d->socket_path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir)
		*slash = '\0';
	if (stat(dir, &dst) == 0 && !(dst.st_mode & 0001) &&
	    !(dst.st_gid == g->gr_gid && (dst.st_mode & 0010))) {
		snprintf(fix, sizeof(fix), "chmod 0755 %s (m2msad.service: RuntimeDirectoryMode=0755)",
			 dir);
		report(d, "socket", DOCTOR_RESULT_FAIL, fix,
		       "%s is mode %04o: members of group %s cannot reach the socket in it", dir,
		       (unsigned)(dst.st_mode & 07777), DOCTOR_SOCKET_GROUP);
		return;
	}
	report(d, "socket", DOCTOR_RESULT_OK, NULL,
	       "%s is %s:%s mode 0660: members of group %s may connect", d->socket_path, owner,
	       group, DOCTOR_SOCKET_GROUP);
}

/* A clients.d file the agent user cannot read: its name in bad, true. */
static bool unreadable_client_file(const struct doctor *d, char *bad, size_t len)
{
	DIR *dir;
	struct dirent *e;
	bool found = false;

	if (!d->have_user || !(dir = opendir(d->clients_dir)))
		return false;
	while (!found && (e = readdir(dir))) {
		size_t n = strlen(e->d_name);
		struct stat st;

		if (n < 6 || strcmp(e->d_name + n - 5, ".conf") != 0)
			continue;
		snprintf(bad, len, "%s/%s", d->clients_dir, e->d_name);
		found = stat(bad, &st) == 0 && !user_may(d, &st, 4);
	}
	closedir(dir);
	return found;
}

static void check_clients(struct doctor *d)
{
	struct clients *c = NULL;
	struct m2msa_err err = { 0 };
	char fix[1024], bad[4096];
	size_t n;
	int r = clients_load(d->clients_dir, &c, &err);

	if (r < 0) {
		report(d, "clients", DOCTOR_RESULT_FAIL,
		       "correct the line named above (the clients.d section of m2msad.conf(5)), "
		       "then: systemctl reload m2msad",
		       "%s", err.msg[0] ? err.msg : strerror(-r));
		return;
	}
	n = clients_count(c);
	clients_free(c);
	if (unreadable_client_file(d, bad, sizeof(bad))) {
		snprintf(fix, sizeof(fix), "chmod 0644 %s", bad);
		report(d, "clients", DOCTOR_RESULT_FAIL, fix, "%s is not readable by the agent user %s",
		       bad, d->agent_user);
	} else if (n == 0) {
		snprintf(fix, sizeof(fix), "add %s/NAME.conf with [client] user= and ae= (see "
			 "example.conf.sample there), then: systemctl reload m2msad", d->clients_dir);
		report(d, "clients", DOCTOR_RESULT_WARN, fix,
		       "no client file in %s: only root may get keys", d->clients_dir);
	} else {
		report(d, "clients", DOCTOR_RESULT_OK, NULL, "%zu client file%s in %s parse", n,
		       n == 1 ? "" : "s", d->clients_dir);
	}
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: m2msactl doctor [--json] [--config FILE] [--agent-user USER]\n"
		"\n"
		"Check the gateway: the configuration, the TPM device and the agent user's access\n"
		"to it, the kernel's resource manager, the storage key, the provisioned key and\n"
		"its PCR policy, the clock against the MAS CA, the MAS (TCP, TLS, its certificate),\n"
		"the running agent, its socket's mode and group, and clients.d. One line per check:\n"
		"ok, warn or FAIL, and for the latter two the fix. Exit status 1 if a check fails.\n"
		"Run it as root (or as the agent user) to check the TPM.\n"
		"\n"
		"  --json             one JSON object: {\"checks\":[{\"name\",\"result\",\"detail\",\n"
		"                     \"fix\"}...],\"ok\":N,\"warn\":N,\"fail\":N}\n"
		"  --config FILE      the agent's configuration (default %s)\n"
		"  --agent-user USER  the user m2msad runs as (default %s)\n",
		AGENT_CONF_DEFAULT, DOCTOR_AGENT_USER);
}

int ctl_doctor(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "config", required_argument, NULL, 'c' },
		{ "agent-user", required_argument, NULL, 'u' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct doctor d = { .config_path = AGENT_CONF_DEFAULT, .agent_user = DOCTOR_AGENT_USER };
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		switch (c) {
		case 'j': d.json = true; break;
		case 'c': d.config_path = optarg; break;
		case 'u': d.agent_user = optarg; break;
		case 'h': usage(stdout); return CLI_EXIT_OK;
		default: usage(stderr); return CLI_EXIT_USAGE;
		}
	}
	if (optind != argc)
		return cli_no_more_args(&(struct cli){ "m2msactl", "doctor" }, argc, argv, optind);
	if (tls_init() < 0) {
		fprintf(stderr, "m2msactl doctor: cannot initialise wolfSSL\n");
		return CLI_EXIT_FAILURE;
	}
	lookup_user(&d);
	check_config(&d);
	find_agent(&d);
	check_tpm_device(&d);
	check_resource_manager(&d);
	check_tpm(&d);
	check_clock(&d);
	check_mas(&d);
	check_agent(&d);
	check_socket(&d);
	check_clients(&d);
	if (d.json)
		printf("],\"ok\":%u,\"warn\":%u,\"fail\":%u}\n", d.count[DOCTOR_RESULT_OK],
		       d.count[DOCTOR_RESULT_WARN], d.count[DOCTOR_RESULT_FAIL]);
	else
		printf("\n%u ok, %u warn, %u FAIL\n", d.count[DOCTOR_RESULT_OK],
		       d.count[DOCTOR_RESULT_WARN], d.count[DOCTOR_RESULT_FAIL]);
	if (d.conf_loaded)
		agent_conf_free(&d.conf);
	return d.count[DOCTOR_RESULT_FAIL] ? CLI_EXIT_FAILURE : CLI_EXIT_OK;
}
