/* SPDX-License-Identifier: Apache-2.0 */
/* The gba Km slot in the state folder: Ks_NAF into the TPM with its B-TID and expiry, swapped in whole. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/gba-slot.h"
#include "common/dns-name.h"
#include "common/fileio.h"
#include "common/secret.h"
#include "gba/ub-client.h"
#include "tpm/keystore.h"

/* Remove dir and the plain files in it (the slot holds no subfolders). */
static void remove_slot_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			(void)unlinkat(dirfd(d), e->d_name, 0);
	}
	closedir(d);
	(void)rmdir(dir);
}

static int write_info(const char *dir, const struct gba_slot *s)
{
	char path[4096], text[1024];
	int n;

	snprintf(path, sizeof(path), "%s/" GBA_SLOT_INFO_FILE, dir);
	n = snprintf(text, sizeof(text), "btid=%s\nexpiry=%" PRId64 "\nimpi=%s\nnaf=%s\n", s->btid,
		     s->expiry, s->impi, s->naf);
	if (n < 0 || (size_t)n >= sizeof(text))
		return -EINVAL;
	return fileio_write_atomic(path, text, (size_t)n, 0600);
}

/* Swap dir.new in as dir (or rename it there when dir does not exist yet). */
static int swap_in(const char *fresh, const char *dir)
{
	if (renameat2(AT_FDCWD, fresh, AT_FDCWD, dir, RENAME_EXCHANGE) == 0) {
		remove_slot_dir(fresh); /* now the old slot */
		return 0;
	}
	if (errno != ENOENT)
		return -errno;
	return rename(fresh, dir) < 0 ? -errno : 0;
}

int gba_slot_store(struct tpm_ctx *t, const char *state_dir, const char *node_id,
		   struct gba_ub_result *res, const char *impi, const char *naf, char *err,
		   size_t err_len)
{
	char dir[4096], fresh[4200];
	struct gba_slot s = { 0 };
	int r;

	/* A node with a pcsc USIM and no Km may have nothing in state_dir yet. */
	if (mkdir(state_dir, 0700) < 0 && errno != EEXIST) {
		r = -errno;
		snprintf(err, err_len, "cannot create the state directory %s: %s (the agent's "
			 "[node] state_dir)", state_dir, strerror(-r));
		secret_wipe(res->ks_naf, sizeof(res->ks_naf));
		return r;
	}
	snprintf(dir, sizeof(dir), "%s/" GBA_SLOT_DIR, state_dir);
	snprintf(fresh, sizeof(fresh), "%s.new", dir);
	remove_slot_dir(fresh); /* a leftover of a crash */
	snprintf(s.btid, sizeof(s.btid), "%s", res->btid);
	s.expiry = res->lifetime;
	snprintf(s.impi, sizeof(s.impi), "%s", impi);
	snprintf(s.naf, sizeof(s.naf), "%s", naf);
	r = tpm_provision(t, fresh, node_id, GBA_SLOT_KM_ID, res->ks_naf, sizeof(res->ks_naf), NULL);
	secret_wipe(res->ks_naf, sizeof(res->ks_naf));
	if (r < 0) {
		snprintf(err, err_len, "cannot import Ks_NAF for B-TID %s into the TPM: %s", s.btid,
			 tpm_last_error(t));
		goto fail;
	}
	r = write_info(fresh, &s);
	if (r >= 0)
		r = swap_in(fresh, dir);
	if (r < 0) {
		snprintf(err, err_len, "cannot write the gba slot %s: %s", dir, strerror(-r));
		goto fail;
	}
	return 0;
fail:
	remove_slot_dir(fresh);
	return r;
}

/* One "key=value" line of the info file into s; -EINVAL for anything else. */
static int info_line(char *line, struct gba_slot *s, unsigned *seen)
{
	char *eq = strchr(line, '='), *end;
	const char *v;

	if (!eq)
		return -EINVAL;
	*eq = '\0';
	v = eq + 1;
	if (strcmp(line, "btid") == 0 && gba_btid_valid(v) && strlen(v) < sizeof(s->btid)) {
		snprintf(s->btid, sizeof(s->btid), "%s", v);
		*seen |= 1;
	} else if (strcmp(line, "expiry") == 0) {
		errno = 0;
		s->expiry = strtoll(v, &end, 10);
		if (errno || end == v || *end || s->expiry <= 0)
			return -EINVAL;
		*seen |= 2;
	} else if (strcmp(line, "impi") == 0 && usim_impi_valid(v)) {
		snprintf(s->impi, sizeof(s->impi), "%s", v);
		*seen |= 4;
	} else if (strcmp(line, "naf") == 0 && dns_name_valid(v) && strlen(v) < sizeof(s->naf)) {
		snprintf(s->naf, sizeof(s->naf), "%s", v);
		*seen |= 8;
	} else {
		return -EINVAL;
	}
	return 0;
}

int gba_slot_parse(const char *text, size_t len, struct gba_slot *ret)
{
	char buf[GBA_SLOT_INFO_MAX + 1], *save = NULL, *line;
	struct gba_slot s = { 0 };
	unsigned seen = 0;

	if (len > GBA_SLOT_INFO_MAX || memchr(text, '\0', len))
		return -EBADMSG;
	memcpy(buf, text, len);
	buf[len] = '\0';
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		/* Each key once: a second line of the same key is damage, not an update. */
		unsigned before = seen;

		if (info_line(line, &s, &seen) < 0 || seen == before)
			return -EBADMSG;
	}
	if (seen != 15)
		return -EBADMSG;
	*ret = s;
	return 0;
}

int gba_slot_read(const char *state_dir, struct gba_slot *ret, char *err, size_t err_len)
{
	char path[4096], text[GBA_SLOT_INFO_MAX + 1];
	size_t len;
	int r;

	snprintf(path, sizeof(path), "%s/" GBA_SLOT_DIR "/" GBA_SLOT_INFO_FILE, state_dir);
	r = fileio_read(path, (uint8_t *)text, sizeof(text) - 1, &len);
	if (r < 0) {
		if (r != -ENOENT)
			snprintf(err, err_len, "cannot read %s: %s", path, strerror(-r));
		return r;
	}
	r = gba_slot_parse(text, len, ret);
	if (r < 0)
		snprintf(err, err_len,
			 "%s is damaged (expected btid=, expiry=, impi=, naf= lines): the agent "
			 "bootstraps again",
			 path);
	return r;
}

int gba_slot_load_key(struct tpm_ctx *t, const char *state_dir, struct tpm_key **ret)
{
	char dir[4096];

	snprintf(dir, sizeof(dir), "%s/" GBA_SLOT_DIR, state_dir);
	return tpm_key_load(t, dir, ret);
}
