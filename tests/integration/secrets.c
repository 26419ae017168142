/* SPDX-License-Identifier: Apache-2.0 */
/* Integration tests: find key bytes in the logs a test produced (secrets.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/sa.h"
#include "common/secret.h"
#include "mas/keyfile.h"
#include "mas/store.h"
#include "secrets.h"

#define SECRETS_MAX 4096
#define AE_IDS_MAX 64
#define KEY_MAX 64
#define HEX_PREFIX 8    /* bytes */
#define B64_PREFIX 24   /* bytes: 32 characters, no padding */
#define RAW_PREFIX 16   /* bytes */

struct noted {
	uint8_t key[KEY_MAX];
	size_t len;
	char what[96];
};

static struct noted *noted;
static size_t n_noted;

void secrets_note(const uint8_t *key, size_t len, const char *what)
{
	size_t same = 1;

	if (!key || len < RAW_PREFIX)
		return;
	while (same < len && key[same] == key[0])
		same++;
	if (same == len) /* not a key (an unset buffer): "000000..." is in logs for other reasons */
		return;
	if (!noted && !(noted = calloc(SECRETS_MAX, sizeof(*noted))))
		return;
	for (size_t i = 0; i < n_noted; i++)
		if (noted[i].len == (len < KEY_MAX ? len : KEY_MAX) &&
		    memcmp(noted[i].key, key, noted[i].len) == 0)
			return;
	if (n_noted >= SECRETS_MAX)
		return;
	noted[n_noted].len = len < KEY_MAX ? len : KEY_MAX;
	memcpy(noted[n_noted].key, key, noted[n_noted].len);
	snprintf(noted[n_noted].what, sizeof(noted[n_noted].what), "%s", what ? what : "a key");
	n_noted++;
}

size_t secrets_count(void)
{
	return n_noted;
}

static void forget(void)
{
	if (noted)
		secret_wipe(noted, SECRETS_MAX * sizeof(*noted));
	free(noted);
	noted = NULL;
	n_noted = 0;
}

static bool is_log(const char *name)
{
	size_t n = strlen(name);

	return (n > 4 && strcmp(name + n - 4, ".log") == 0) ||
	       (n > 5 && strcmp(name + n - 5, ".json") == 0);
}

/* Calls fn for every log file under dir (recursively, not following symlinks). */
static int for_each_log(const char *dir, int (*fn)(const char *path, const char *text, size_t len,
						   void *userdata),
			void *userdata)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int r = 0;

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while (r >= 0 && (e = readdir(d))) {
		char *p;
		struct stat st;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (asprintf(&p, "%s/%s", dir, e->d_name) < 0) {
			r = -ENOMEM;
			break;
		}
		if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
			r = for_each_log(p, fn, userdata);
		} else if (S_ISREG(st.st_mode) && is_log(e->d_name)) {
			FILE *f = fopen(p, "re");
			char *text = NULL;
			size_t len = 0;

			if (f) {
				text = malloc((size_t)st.st_size + 1);
				if (text) {
					len = fread(text, 1, (size_t)st.st_size, f);
					text[len] = '\0';
					r = fn(p, text, len, userdata);
				} else {
					r = -ENOMEM;
				}
				free(text);
				fclose(f);
			}
		}
		free(p);
	}
	closedir(d);
	return r;
}

/* ---- the store ---- */

struct ae_ids {
	char id[AE_IDS_MAX][WIRE_ID_MAX + 1];
	size_t n;
};

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Collect AE-IDs from per-AE key IDs: 32 hex digits, '-', AE-ID, '@'. */
static int collect_ae_ids(const char *path, const char *text, size_t len, void *userdata)
{
	struct ae_ids *ids = userdata;

	(void)path;
	for (size_t i = 32; i + 2 < len; i++) {
		size_t j, k;
		bool hex = true;

		if (text[i] != '-')
			continue;
		for (k = i - 32; k < i && hex; k++)
			hex = is_hex(text[k]);
		if (!hex)
			continue;
		for (j = i + 1; j < len && j - i <= WIRE_ID_MAX && text[j] != '@' && text[j] > ' ' &&
				text[j] != '"';
		     j++)
			;
		if (j >= len || text[j] != '@' || j == i + 1 || j - i - 1 > WIRE_ID_MAX)
			continue;
		{
			char id[WIRE_ID_MAX + 1];
			bool seen = false;

			memcpy(id, text + i + 1, j - i - 1);
			id[j - i - 1] = '\0';
			for (size_t n = 0; n < ids->n && !seen; n++)
				seen = strcmp(ids->id[n], id) == 0;
			if (!seen && ids->n < AE_IDS_MAX)
				snprintf(ids->id[ids->n++], WIRE_ID_MAX + 1, "%s", id);
		}
	}
	return 0;
}

struct store_walk {
	struct store *s;
	const struct ae_ids *ids;
	int count;
};

static int note_node(const struct store_node *n, void *userdata)
{
	struct store_walk *w = userdata;
	_cleanup_secret_ struct secret *km = NULL;
	char what[96];

	if (store_node_get_km(w->s, n->node_id, &km) == 0 && km->len >= RAW_PREFIX) {
		snprintf(what, sizeof(what), "Km of %s", n->node_id);
		secrets_note(km->data, km->len, what);
		w->count++;
	}
	return 0;
}

static int note_assoc(const struct store_assoc *a, void *userdata)
{
	struct store_walk *w = userdata;
	_cleanup_secret_ struct secret *kc = NULL, *root = NULL;
	char what[96], hex[2 * STORE_KCID_LEN + 1];

	for (size_t i = 0; i < STORE_KCID_LEN; i++)
		snprintf(hex + 2 * i, 3, "%02x", a->kcid[i]);
	if (store_assoc_get_keys(w->s, a->kcid, &kc, &root) < 0)
		return 0;
	if (kc) {
		snprintf(what, sizeof(what), "Kc %s", hex);
		secrets_note(kc->data, kc->len, what);
		w->count++;
	}
	if (root && root->len == KDF_OUT_LEN) {
		snprintf(what, sizeof(what), "AE root of %s", hex);
		secrets_note(root->data, root->len, what);
		w->count++;
		for (size_t i = 0; i < w->ids->n; i++) {
			uint8_t k[KDF_OUT_LEN];

			if (sa_ae_key(root->data, w->ids->id[i], k) == 0) {
				snprintf(what, sizeof(what), "key of AE %s in %s", w->ids->id[i], hex);
				secrets_note(k, sizeof(k), what);
				w->count++;
			}
			secret_wipe(k, sizeof(k));
		}
	}
	return 0;
}

int secrets_note_store(const char *db, const char *master, const char *dir)
{
	_cleanup_secret_ struct secret *mk = NULL;
	struct ae_ids *ids = calloc(1, sizeof(*ids));
	struct store_walk w = { .ids = ids };
	int r;

	if (!ids)
		return -ENOMEM;
	if (dir && (r = for_each_log(dir, collect_ae_ids, ids)) < 0)
		goto out;
	r = mas_master_key_load(master, &mk);
	if (r < 0)
		goto out;
	r = store_open(db, mk->data, &w.s);
	if (r < 0)
		goto out;
	r = store_node_foreach(w.s, note_node, &w);
	if (r >= 0)
		r = store_assoc_foreach(w.s, NULL, note_assoc, &w);
	store_close(w.s);
	if (r >= 0)
		r = w.count;
out:
	free(ids);
	return r;
}

/* ---- the scan ---- */

struct scan {
	char *report;
	size_t report_len;
	int hits;
};

static void b64(const uint8_t *in, size_t len, bool url, char *out)
{
	const char *a = url ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" :
			      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;

	for (size_t i = 0; i + 3 <= len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

		out[o++] = a[v >> 18 & 63];
		out[o++] = a[v >> 12 & 63];
		out[o++] = a[v >> 6 & 63];
		out[o++] = a[v & 63];
	}
	out[o] = '\0';
}

static void hit(struct scan *sc, const char *path, const struct noted *k, const char *form)
{
	size_t used = strlen(sc->report);

	sc->hits++;
	if (sc->hits <= 8 && used + 1 < sc->report_len)
		snprintf(sc->report + used, sc->report_len - used, "%s (%s) in %s\n", k->what, form,
			 path);
}

static int scan_file(const char *path, const char *text, size_t len, void *userdata)
{
	struct scan *sc = userdata;

	for (size_t i = 0; i < n_noted; i++) {
		const struct noted *k = &noted[i];
		char lower[2 * HEX_PREFIX + 1], upper[2 * HEX_PREFIX + 1];
		char std[B64_PREFIX / 3 * 4 + 1], url[B64_PREFIX / 3 * 4 + 1];

		for (size_t j = 0; j < HEX_PREFIX; j++) {
			snprintf(lower + 2 * j, 3, "%02x", k->key[j]);
			snprintf(upper + 2 * j, 3, "%02X", k->key[j]);
		}
		if (memmem(text, len, lower, strlen(lower)))
			hit(sc, path, k, "hex");
		else if (memmem(text, len, upper, strlen(upper)))
			hit(sc, path, k, "HEX");
		else if (memmem(text, len, k->key, RAW_PREFIX))
			hit(sc, path, k, "raw bytes");
		else if (k->len >= B64_PREFIX) {
			b64(k->key, B64_PREFIX, false, std);
			b64(k->key, B64_PREFIX, true, url);
			if (memmem(text, len, std, strlen(std)))
				hit(sc, path, k, "base64");
			else if (memmem(text, len, url, strlen(url)))
				hit(sc, path, k, "base64url");
			secret_wipe(std, sizeof(std));
			secret_wipe(url, sizeof(url));
		}
		secret_wipe(lower, sizeof(lower));
		secret_wipe(upper, sizeof(upper));
	}
	return 0;
}

int secrets_scan(const char *dir, char *report, size_t report_len)
{
	struct scan sc = { .report = report, .report_len = report_len };
	int r;

	if (report_len)
		report[0] = '\0';
	r = for_each_log(dir, scan_file, &sc);
	forget();
	if (r < 0) {
		snprintf(report, report_len, "%s", strerror(-r));
		return r;
	}
	if (sc.hits > 8) {
		size_t used = strlen(report);

		snprintf(report + used, report_len - used, "... %d hits in all\n", sc.hits);
	}
	return sc.hits;
}

int secrets_check_dir(const char *dir, const char *db, const char *master, char *report,
		      size_t report_len)
{
	int r;

	if (db && master &&
	    (store_backend_for_location(db) == STORE_BACKEND_POSTGRESQL || access(db, F_OK) == 0)) {
		r = secrets_note_store(db, master, dir);
		/* Tests that break the store or its master key on purpose: search the keys
		 * the test noted, and say what was not searched. */
		if (r < 0)
			fprintf(stderr, "note: the store %s cannot be read (%s): its keys are not "
					"searched in the logs\n",
				db, strerror(-r));
	}
	return secrets_scan(dir, report, report_len);
}

void secrets_assert_logs_clean(const char *dir, const char *db, const char *master)
{
	char report[2048] = "";
	int r;

	if (!dir)
		return;
	r = secrets_check_dir(dir, db, master, report, sizeof(report));
	if (r == 0)
		return;
	if (r < 0)
		fprintf(stderr, "FAIL: cannot check the logs under %s for key bytes: %s\n", dir, report);
	else
		fprintf(stderr, "FAIL: key bytes in the logs under %s (kept for a look):\n%s", dir,
			report);
	abort();
}
