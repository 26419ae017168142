/* SPDX-License-Identifier: Apache-2.0 */
/* The tpm USIM backend's state files: IMPI, OPc, highest accepted SQN; atomic writes. */
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/aka.h"
#include "common/fileio.h"
#include "common/secret.h"
#include "usim/usim-state.h"
#include "usim/usim.h"

static int fail(char *err, size_t err_len, int r, const char *fmt, ...) _printf_(4, 5);
static int fail(char *err, size_t err_len, int r, const char *fmt, ...)
{
	va_list ap;

	if (err && err_len) {
		va_start(ap, fmt);
		vsnprintf(err, err_len, fmt, ap);
		va_end(ap);
	}
	return r;
}

/* dir/name := data (common/fileio: temp file, fsync, rename), then fsync(dir) so the
 * rename itself survives a crash. */
static int write_atomic(const char *dir, const char *name, const void *data, size_t len,
			char *err, size_t err_len)
{
	_cleanup_free_ char *path = NULL;
	_cleanup_close_ int dfd = -1;
	int r;

	if (asprintf(&path, "%s/%s", dir, name) < 0)
		return -ENOMEM;
	r = fileio_write_atomic(path, data, len, 0600);
	if (r < 0)
		return fail(err, err_len, r, "cannot write %s: %s", path, strerror(-r));
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) < 0)
		return fail(err, err_len, -errno, "cannot sync the folder %s: %s", dir,
			    strerror(errno));
	return 0;
}

/* Read dir/name into buf (at most *len bytes; *len gets the size). */
static int read_small(const char *dir, const char *name, uint8_t *buf, size_t *len, char *err,
		      size_t err_len)
{
	_cleanup_free_ char *path = NULL;
	int r;

	if (asprintf(&path, "%s/%s", dir, name) < 0)
		return -ENOMEM;
	r = fileio_read(path, buf, *len, len);
	if (r == -ENOENT)
		return fail(err, err_len, r,
			    "no USIM provisioned: %s is missing (import one with m2msactl usim "
			    "provision)", path);
	if (r == -EFBIG)
		return fail(err, err_len, -EBADMSG,
			    "%s is corrupt: too large (run m2msactl usim provision --force)", path);
	if (r < 0)
		return fail(err, err_len, r, "cannot read %s: %s", path, strerror(-r));
	return 0;
}

int usim_state_write(const char *dir, const char *impi, const uint8_t opc[static MILENAGE_OP_LEN],
		     uint64_t sqn, char *err, size_t err_len)
{
	_cleanup_free_ char *conf = NULL;
	int r;

	if (!usim_impi_valid(impi))
		return fail(err, err_len, -EINVAL,
			    "invalid IMPI '%s' (1 to 255 characters from A-Z a-z 0-9 . _ - @ + ! ~ %%)",
			    impi ? impi : "");
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return fail(err, err_len, -errno, "cannot create the state folder %s: %s", dir,
			    strerror(errno));
	if (asprintf(&conf,
		     "# Written by m2msactl usim provision; K itself is in usim.pub/usim.priv.\n"
		     "[usim]\nimpi = %s\n", impi) < 0)
		return -ENOMEM;
	r = write_atomic(dir, USIM_OPC_FILE, opc, MILENAGE_OP_LEN, err, err_len);
	if (r == 0)
		r = usim_state_sqn_write(dir, sqn, err, err_len);
	if (r == 0)
		r = write_atomic(dir, USIM_CONF_FILE, conf, strlen(conf), err, err_len);
	return r;
}

struct conf_ctx {
	char *impi;
	char bad[160];
};

static int conf_handler(void *user, const char *section, const char *name, const char *value)
{
	struct conf_ctx *c = user;

	if (strcmp(section, "usim") == 0 && strcmp(name, "impi") == 0 && !c->impi) {
		c->impi = strdup(value);
		return c->impi ? 1 : 0;
	}
	snprintf(c->bad, sizeof(c->bad), "unknown or repeated key '%s' in [%s]", name, section);
	return 0;
}

int usim_state_parse_conf(const char *text, size_t len, char **ret_impi, char *why,
			  size_t why_len)
{
	_cleanup_free_ char *copy = NULL;
	struct conf_ctx c = { 0 };
	int r;

	if (memchr(text, '\0', len))
		return fail(why, why_len, -EBADMSG, "a NUL byte in the text");
	copy = strndup(text, len);
	if (!copy)
		return -ENOMEM;
	r = ini_parse_string(copy, conf_handler, &c);
	if (r != 0 || !usim_impi_valid(c.impi)) {
		if (r > 0)
			fail(why, why_len, -EBADMSG, "line %d: %s", r,
			     c.bad[0] ? c.bad : "not an INI line");
		else
			fail(why, why_len, -EBADMSG, "%s", c.bad[0] ? c.bad : "no valid impi in [usim]");
		free(c.impi);
		return -EBADMSG;
	}
	*ret_impi = c.impi;
	return 0;
}

int usim_state_parse_sqn(const char *text, size_t len, uint64_t *ret)
{
	uint64_t v = 0;
	size_t n = len;

	if (n > 0 && text[n - 1] == '\n')
		n--;
	if (n == 0 || n > 15)
		return -EBADMSG;
	for (size_t i = 0; i < n; i++) {
		if (text[i] < '0' || text[i] > '9')
			return -EBADMSG;
		v = v * 10 + (uint64_t)(text[i] - '0');
	}
	if (v > AKA_SQN_MAX)
		return -EBADMSG;
	*ret = v;
	return 0;
}

int usim_state_read(const char *dir, char **ret_impi, uint8_t ret_opc[static MILENAGE_OP_LEN],
		    char *err, size_t err_len)
{
	char text[USIM_CONF_MAX], why[200] = "";
	uint8_t opc[MILENAGE_OP_LEN + 1];
	size_t len = sizeof(text);
	char *impi = NULL;
	int r;

	r = read_small(dir, USIM_CONF_FILE, (uint8_t *)text, &len, err, err_len);
	if (r < 0)
		return r;
	r = usim_state_parse_conf(text, len, &impi, why, sizeof(why));
	if (r < 0)
		return fail(err, err_len, r, "%s/" USIM_CONF_FILE " is corrupt: %s (run m2msactl "
			    "usim provision --force)", dir, why);
	len = sizeof(opc);
	r = read_small(dir, USIM_OPC_FILE, opc, &len, err, err_len);
	if (r == 0 && len != MILENAGE_OP_LEN)
		r = fail(err, err_len, -EBADMSG, "%s/" USIM_OPC_FILE " is corrupt: %zu bytes, OPc is "
			 "16 (run m2msactl usim provision --force)", dir, len);
	if (r == 0) {
		memcpy(ret_opc, opc, MILENAGE_OP_LEN);
		*ret_impi = impi;
	} else {
		free(impi);
	}
	secret_wipe(opc, sizeof(opc));
	return r;
}

int usim_state_sqn_read(const char *dir, uint64_t *ret, char *err, size_t err_len)
{
	char buf[32];
	size_t len = sizeof(buf);
	int r;

	r = read_small(dir, USIM_SQN_FILE, (uint8_t *)buf, &len, err, err_len);
	if (r < 0)
		return r;
	if (usim_state_parse_sqn(buf, len, ret) < 0)
		return fail(err, err_len, -EBADMSG,
			    "%s/" USIM_SQN_FILE " is corrupt: not a 48-bit decimal SQN (restore it, "
			    "or re-provision with m2msactl usim provision --force --sqn N)", dir);
	return 0;
}

int usim_state_sqn_write(const char *dir, uint64_t sqn, char *err, size_t err_len)
{
	char buf[32];
	int n;

	if (sqn > AKA_SQN_MAX)
		return fail(err, err_len, -EINVAL, "SQN %" PRIu64 " is beyond 48 bits", sqn);
	n = snprintf(buf, sizeof(buf), "%" PRIu64 "\n", sqn);
	return write_atomic(dir, USIM_SQN_FILE, buf, (size_t)n, err, err_len);
}

int usim_state_lock(const char *dir, char *err, size_t err_len)
{
	_cleanup_free_ char *path = NULL;
	int fd;

	if (asprintf(&path, "%s/" USIM_LOCK_FILE, dir) < 0)
		return -ENOMEM;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return fail(err, err_len, -errno, "cannot open %s: %s", path, strerror(errno));
	while (flock(fd, LOCK_EX) < 0) {
		int e = errno;

		if (e == EINTR)
			continue;
		close(fd);
		return fail(err, err_len, -e, "cannot lock %s: %s", path, strerror(e));
	}
	return fd;
}
