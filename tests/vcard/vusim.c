/* SPDX-License-Identifier: Apache-2.0 */
/* A virtual USIM on vpcd's socket protocol, answering from software Milenage (tests only). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/aka.h"
#include "common/secret.h"
#include "vusim.h"

enum sel { SEL_NONE, SEL_MF, SEL_DIR, SEL_ADF, SEL_IMSI, SEL_AD };

struct vusim {
	struct vusim_config cfg;
	struct milenage_cipher cipher;
	pthread_t thread;
	pthread_mutex_t lock;
	int fd;
	enum sel sel;
	uint8_t pending[64]; /* response data waiting for GET RESPONSE */
	size_t pending_len;
	unsigned auth_count;
};

static const uint8_t atr[] = { 0x3B, 0x02, 0x14, 0x50 };
static const uint8_t aid[] = { 0xA0, 0x00, 0x00, 0x00, 0x87, 0x10, 0x02, 0xFF,
			       0x49, 0xFF, 0x05, 0x89 };
static const uint8_t fcp[] = { 0x62, 0x03, 0x82, 0x01, 0x38 };

static int read_full(int fd, uint8_t *p, size_t n)
{
	while (n) {
		ssize_t r = read(fd, p, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static int send_msg(int fd, const uint8_t *p, size_t n)
{
	uint8_t buf[2 + 300];

	if (n > 300)
		return -1;
	buf[0] = (uint8_t)(n >> 8);
	buf[1] = (uint8_t)n;
	memcpy(buf + 2, p, n);
	return write(fd, buf, n + 2) == (ssize_t)(n + 2) ? 0 : -1;
}

static size_t sw(uint8_t *out, size_t n, uint16_t w)
{
	out[n] = (uint8_t)(w >> 8);
	out[n + 1] = (uint8_t)w;
	return n + 2;
}

/* Response data through 61 xx: keep it for GET RESPONSE. */
static size_t defer(struct vusim *v, uint8_t *out, const uint8_t *data, size_t n)
{
	memcpy(v->pending, data, n);
	v->pending_len = n;
	return sw(out, 0, (uint16_t)(0x6100 | n));
}

static size_t do_select(struct vusim *v, const uint8_t *c, size_t n, uint8_t *out)
{
	size_t lc = n > 4 ? c[4] : 0;

	if (n < 5 + lc)
		return sw(out, 0, 0x6700);
	if (c[2] == 0x00 && lc == 2 && c[5] == 0x3F && c[6] == 0x00) {
		v->sel = SEL_MF;
	} else if (c[2] == 0x00 && lc == 2 && c[5] == 0x2F && c[6] == 0x00 && v->sel == SEL_MF &&
		   !v->cfg.no_ef_dir) {
		v->sel = SEL_DIR;
	} else if (c[2] == 0x00 && lc == 2 && c[5] == 0x6F && (c[6] == 0x07 || c[6] == 0xAD) &&
		   (v->sel == SEL_ADF || v->sel == SEL_IMSI || v->sel == SEL_AD)) {
		v->sel = c[6] == 0x07 ? SEL_IMSI : SEL_AD;
	} else if (c[2] == 0x04 && lc >= 7 && lc <= sizeof(aid) && memcmp(c + 5, aid, lc) == 0) {
		v->sel = SEL_ADF;
	} else {
		return sw(out, 0, 0x6A82);
	}
	memcpy(out, fcp, sizeof(fcp));
	return sw(out, sizeof(fcp), 0x9000);
}

static size_t do_read_record(struct vusim *v, const uint8_t *c, uint8_t *out)
{
	if (v->sel != SEL_DIR)
		return sw(out, 0, 0x6986);
	if (c[2] != 1)
		return sw(out, 0, 0x6A83);
	/* 61 L { 4F 0C AID 50 04 "USIM" } padded to 32 bytes with FF. */
	memset(out, 0xFF, 32);
	out[0] = 0x61;
	out[1] = (uint8_t)(2 + sizeof(aid) + 6);
	out[2] = 0x4F;
	out[3] = sizeof(aid);
	memcpy(out + 4, aid, sizeof(aid));
	out[4 + sizeof(aid)] = 0x50;
	out[5 + sizeof(aid)] = 4;
	memcpy(out + 6 + sizeof(aid), "USIM", 4);
	return sw(out, 32, 0x9000);
}

/* EF_IMSI: length, parity/type nibble + digit 1, then digit pairs low nibble first, F fill. */
static size_t imsi_ef(const char *imsi, uint8_t *ef)
{
	size_t n = strlen(imsi), k = 1;

	memset(ef, 0xFF, 9);
	ef[1] = (uint8_t)(((imsi[0] - '0') << 4) | (n % 2 ? 0x09 : 0x01));
	for (size_t i = 1; i < n; i += 2) {
		uint8_t lo = (uint8_t)(imsi[i] - '0');
		uint8_t hi = i + 1 < n ? (uint8_t)(imsi[i + 1] - '0') : 0x0F;

		ef[++k] = (uint8_t)(hi << 4 | lo);
	}
	ef[0] = (uint8_t)k;
	return 9;
}

static size_t do_read_binary(struct vusim *v, const uint8_t *c, size_t n, uint8_t *out)
{
	uint8_t ef[9];
	size_t len;

	if (v->sel == SEL_IMSI) {
		if (v->cfg.pin_required)
			return sw(out, 0, 0x6982);
		len = imsi_ef(v->cfg.imsi ? v->cfg.imsi : "001010000000001", ef);
	} else if (v->sel == SEL_AD) {
		ef[0] = 0x00;
		ef[1] = 0x00;
		ef[2] = 0x00;
		ef[3] = (uint8_t)(v->cfg.mnc_len ? v->cfg.mnc_len : 2);
		len = 4;
	} else {
		return sw(out, 0, 0x6986);
	}
	if (n < 5 || c[4] != len)
		return sw(out, 0, (uint16_t)(0x6C00 | len));
	memcpy(out, ef, len);
	return sw(out, len, 0x9000);
}

static size_t do_authenticate(struct vusim *v, const uint8_t *c, size_t n, uint8_t *out)
{
	_cleanup_aka_usim_out_ struct aka_usim_out o = { 0 };
	uint8_t data[64];
	size_t len = 0, res;

	v->auth_count++;
	if (v->sel != SEL_ADF)
		return sw(out, 0, 0x6985);
	if (v->cfg.pin_required)
		return sw(out, 0, 0x6982);
	if (c[3] != 0x81)
		return sw(out, 0, 0x6A86);
	if (n < 5 + 34 || c[4] != 34 || c[5] != 16 || c[22] != 16)
		return sw(out, 0, 0x6700);
	if (aka_usim_run(&v->cipher, v->cfg.opc, c + 6, c + 23, v->cfg.sqn,
			 AKA_SQN_WINDOW_DEFAULT, &o) < 0)
		return sw(out, 0, 0x6F00);
	if (o.result == AKA_RESULT_MAC_FAILURE)
		return sw(out, 0, 0x9862);
	if (o.result == AKA_RESULT_SYNC_FAILURE) {
		data[len++] = 0xDC;
		data[len++] = AKA_AUTS_LEN;
		memcpy(data + len, o.auts, AKA_AUTS_LEN);
		len += AKA_AUTS_LEN;
	} else {
		v->cfg.sqn = o.sqn;
		data[len++] = 0xDB;
		data[len++] = MILENAGE_RES_LEN;
		memcpy(data + len, o.res, MILENAGE_RES_LEN);
		len += MILENAGE_RES_LEN;
		data[len++] = MILENAGE_CK_LEN;
		memcpy(data + len, o.ck, MILENAGE_CK_LEN);
		len += MILENAGE_CK_LEN;
		data[len++] = MILENAGE_IK_LEN;
		memcpy(data + len, o.ik, MILENAGE_IK_LEN);
		len += MILENAGE_IK_LEN;
	}
	res = defer(v, out, data, len);
	secret_wipe(data, sizeof(data));
	return res;
}

/* One command APDU -> response APDU in out; 0: drop the connection. */
static size_t answer(struct vusim *v, const uint8_t *c, size_t n, uint8_t *out)
{
	if (n < 4)
		return sw(out, 0, 0x6700);
	if (c[0] != 0x00)
		return sw(out, 0, 0x6E00);
	switch (c[1]) {
	case 0xA4:
		return do_select(v, c, n, out);
	case 0xB2:
		return do_read_record(v, c, out);
	case 0xB0:
		return do_read_binary(v, c, n, out);
	case 0x88:
		if (v->cfg.drop_on_auth) {
			v->auth_count++;
			return 0;
		}
		return do_authenticate(v, c, n, out);
	case 0xC0: {
		size_t len = v->pending_len;

		if (!len)
			return sw(out, 0, 0x6985);
		memcpy(out, v->pending, len);
		secret_wipe(v->pending, sizeof(v->pending));
		v->pending_len = 0;
		return sw(out, len, 0x9000);
	}
	default:
		return sw(out, 0, 0x6D00);
	}
}

static void *serve(void *arg)
{
	struct vusim *v = arg;
	uint8_t hdr[2], cmd[300], out[300];

	for (;;) {
		size_t n, rn;

		if (read_full(v->fd, hdr, 2) < 0)
			break;
		n = (size_t)hdr[0] << 8 | hdr[1];
		if (n == 0 || n > sizeof(cmd) || read_full(v->fd, cmd, n) < 0)
			break;
		pthread_mutex_lock(&v->lock);
		if (n == 1) {
			rn = 0;
			if (cmd[0] == 0x04 && send_msg(v->fd, atr, sizeof(atr)) < 0)
				rn = 1;
			if (cmd[0] <= 0x02)
				v->sel = SEL_NONE;
			pthread_mutex_unlock(&v->lock);
			if (rn)
				break;
			continue;
		}
		rn = answer(v, cmd, n, out);
		pthread_mutex_unlock(&v->lock);
		if (rn == 0) {
			shutdown(v->fd, SHUT_RDWR);
			break;
		}
		if (send_msg(v->fd, out, rn) < 0)
			break;
	}
	secret_wipe(cmd, sizeof(cmd));
	secret_wipe(out, sizeof(out));
	return NULL;
}

static int connect_vpcd(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	const struct timespec pause = { 0, 50 * 1000 * 1000 };

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (int i = 0; i < 100; i++) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

		if (fd < 0)
			return -errno;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
			return fd;
		close(fd);
		nanosleep(&pause, NULL);
	}
	return -ECONNREFUSED;
}

int vusim_start(const struct vusim_config *cfg, struct vusim **ret)
{
	struct vusim *v = calloc(1, sizeof(*v));
	int r;

	if (!v)
		return -ENOMEM;
	v->cfg = *cfg;
	pthread_mutex_init(&v->lock, NULL);
	r = milenage_cipher_software_new(cfg->k, &v->cipher);
	if (r == 0) {
		v->fd = connect_vpcd(cfg->port);
		r = v->fd < 0 ? v->fd : 0;
	}
	if (r == 0 && pthread_create(&v->thread, NULL, serve, v) != 0) {
		close(v->fd);
		r = -EAGAIN;
	}
	if (r < 0) {
		milenage_cipher_software_free(&v->cipher);
		secret_wipe(v, sizeof(*v));
		free(v);
		return r;
	}
	*ret = v;
	return 0;
}

void vusim_stop(struct vusim *v)
{
	if (!v)
		return;
	shutdown(v->fd, SHUT_RDWR);
	pthread_join(v->thread, NULL);
	close(v->fd);
	milenage_cipher_software_free(&v->cipher);
	pthread_mutex_destroy(&v->lock);
	secret_wipe(v, sizeof(*v));
	free(v);
}

unsigned vusim_auth_count(struct vusim *v)
{
	unsigned n;

	pthread_mutex_lock(&v->lock);
	n = v->auth_count;
	pthread_mutex_unlock(&v->lock);
	return n;
}

uint64_t vusim_sqn(struct vusim *v)
{
	uint64_t s;

	pthread_mutex_lock(&v->lock);
	s = v->cfg.sqn;
	pthread_mutex_unlock(&v->lock);
	return s;
}
