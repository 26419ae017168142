/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libm2msa's request/answer logic against a scripted peer on a real
 * SOCK_SEQPACKET socket (a thread that plays the agent with the real codec):
 * the request timeout when the agent stays silent, an event that arrives before
 * the answer (queued, not lost), an answer to an older request (skipped), an
 * agent that closes the connection, an ERROR mapped to its errno, and a key
 * for another AE-ID than the one asked for (refused). The real
 * agent is exercised in tests/integration/test-keyservice.c; these are the
 * orderings it cannot produce on demand.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <m2msa/m2msa.h>

#include "common/local-wire.h"

enum script {
	SILENT,          /* read the request, never answer */
	EVENT_FIRST,     /* push a NEW_KEY event, then the answer */
	STALE_FIRST,     /* an answer with another request number, then the right one */
	CLOSE_AT_ONCE,   /* close the connection without answering (twice) */
	DENY,            /* answer with ERROR denied */
	WRONG_AE,        /* answer with a key for another AE-ID */
};

struct peer {
	int listen_fd;
	enum script script;
	int accepted;
	char path[108];
	char dir[64];
	pthread_t thread;
};

static void send_msg(int fd, const struct local_msg *m)
{
	uint8_t buf[LOCAL_WIRE_MSG_MAX];
	size_t len = 0;

	cr_assert_eq(local_wire_encode(m, buf, sizeof(buf), &len), 0);
	cr_assert_eq(send(fd, buf, len, MSG_NOSIGNAL), (ssize_t)len);
}

static void key_msg(struct local_msg *m, enum local_msg_type type, uint32_t req, uint8_t fill)
{
	memset(m, 0, sizeof(*m));
	m->type = type;
	m->req = req;
	snprintf(m->key_id, sizeof(m->key_id), "00112233445566778899aabbccddeeff@mas.test");
	memset(m->key, fill, sizeof(m->key));
	m->key_len = LOCAL_WIRE_KEY_LEN;
	m->expiry = 4102444800; /* 2100-01-01 */
	snprintf(m->suite, sizeof(m->suite), "TLS_AES_128_GCM_SHA256");
	if (type == LOCAL_MSG_EVENT)
		m->event = LOCAL_EVENT_NEW_KEY;
}

static void *peer_main(void *arg)
{
	struct peer *p = arg;

	for (int conn = 0; conn < 2; conn++) {
		uint8_t buf[LOCAL_WIRE_MSG_MAX];
		struct local_msg req, m;
		int fd = accept(p->listen_fd, NULL, NULL);
		ssize_t n;

		if (fd < 0)
			return NULL;
		__atomic_add_fetch(&p->accepted, 1, __ATOMIC_SEQ_CST);
		n = recv(fd, buf, sizeof(buf), 0);
		if (n <= 0 || local_wire_decode(buf, (size_t)n, &req) < 0) {
			close(fd);
			continue;
		}
		switch (p->script) {
		case SILENT:
			(void)recv(fd, buf, sizeof(buf), 0); /* until the client closes */
			break;
		case EVENT_FIRST:
			key_msg(&m, LOCAL_MSG_EVENT, 0, 0xEE);
			send_msg(fd, &m);
			key_msg(&m, LOCAL_MSG_KEY, req.req, 0x11);
			send_msg(fd, &m);
			(void)recv(fd, buf, sizeof(buf), 0);
			break;
		case STALE_FIRST:
			key_msg(&m, LOCAL_MSG_KEY, req.req + 1000, 0x99);
			snprintf(m.ae_id, sizeof(m.ae_id), "%s", req.ae_id);
			send_msg(fd, &m);
			key_msg(&m, LOCAL_MSG_KEY, req.req, 0x22);
			snprintf(m.ae_id, sizeof(m.ae_id), "%s", req.ae_id);
			send_msg(fd, &m);
			(void)recv(fd, buf, sizeof(buf), 0);
			break;
		case CLOSE_AT_ONCE:
			break;
		case WRONG_AE:
			key_msg(&m, LOCAL_MSG_KEY, req.req, 0x33);
			snprintf(m.ae_id, sizeof(m.ae_id), "Cother");
			send_msg(fd, &m);
			(void)recv(fd, buf, sizeof(buf), 0);
			break;
		case DENY:
			memset(&m, 0, sizeof(m));
			m.type = LOCAL_MSG_ERROR;
			m.req = req.req;
			m.code = LOCAL_ERR_DENIED;
			snprintf(m.reason, sizeof(m.reason), "uid 1234 may not act as Cae1");
			send_msg(fd, &m);
			(void)recv(fd, buf, sizeof(buf), 0);
			break;
		}
		close(fd);
		if (p->script != CLOSE_AT_ONCE)
			break;
	}
	return NULL;
}

static void peer_start(struct peer *p, enum script s)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	memset(p, 0, sizeof(*p));
	p->script = s;
	snprintf(p->dir, sizeof(p->dir), "/tmp/test-libm2msa.XXXXXX");
	cr_assert_not_null(mkdtemp(p->dir));
	snprintf(p->path, sizeof(p->path), "%s/agent.sock", p->dir);
	memcpy(sa.sun_path, p->path, strlen(p->path));
	p->listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	cr_assert_geq(p->listen_fd, 0);
	cr_assert_eq(bind(p->listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(p->listen_fd, 4), 0);
	cr_assert_eq(pthread_create(&p->thread, NULL, peer_main, p), 0);
}

static void peer_stop(struct peer *p)
{
	shutdown(p->listen_fd, SHUT_RDWR); /* wakes a thread still in accept() */
	pthread_join(p->thread, NULL);
	close(p->listen_fd);
	unlink(p->path);
	rmdir(p->dir);
}

Test(libm2msa, silent_agent_times_out_with_etimedout)
{
	struct peer p;
	struct m2msa *h = NULL;
	struct m2msa_key *k = NULL;

	peer_start(&p, SILENT);
	cr_assert_eq(m2msa_open(p.path, &h), 0);
	cr_assert_eq(m2msa_set_timeout(h, 200), 0);
	cr_assert_eq(m2msa_set_timeout(h, 0), -EINVAL);
	cr_assert_eq(m2msa_get_key(h, NULL, &k), -ETIMEDOUT);
	cr_assert_null(k);
	m2msa_close(h);
	peer_stop(&p);
}

Test(libm2msa, event_before_the_answer_is_queued_not_lost)
{
	struct peer p;
	struct m2msa *h = NULL;
	struct m2msa_key *k = NULL, *ek = NULL;
	enum m2msa_event_type type;

	peer_start(&p, EVENT_FIRST);
	cr_assert_eq(m2msa_open(p.path, &h), 0);
	cr_assert_eq(m2msa_get_key(h, NULL, &k), 0, "%s", m2msa_last_error(h));
	cr_assert_eq(m2msa_key_len(k), 32);
	cr_assert_eq(m2msa_key_data(k)[0], 0x11, "the answer, not the event's key");
	cr_assert_eq(m2msa_read_event(h, &type, &ek), 0);
	cr_assert_eq(type, M2MSA_EVENT_NEW_KEY);
	cr_assert_eq(m2msa_key_data(ek)[31], 0xEE);
	cr_assert_eq(m2msa_read_event(h, &type, NULL), -EAGAIN);
	m2msa_key_free(ek);
	m2msa_key_free(k);
	m2msa_close(h);
	peer_stop(&p);
}

Test(libm2msa, answer_to_another_request_is_skipped)
{
	struct peer p;
	struct m2msa *h = NULL;
	struct m2msa_key *k = NULL;

	peer_start(&p, STALE_FIRST);
	cr_assert_eq(m2msa_open(p.path, &h), 0);
	cr_assert_eq(m2msa_get_key(h, "Cae1", &k), 0, "%s", m2msa_last_error(h));
	cr_assert_eq(m2msa_key_data(k)[0], 0x22);
	m2msa_key_free(k);
	m2msa_close(h);
	peer_stop(&p);
}

Test(libm2msa, agent_that_closes_is_retried_once_then_econnreset)
{
	struct peer p;
	struct m2msa *h = NULL;
	struct m2msa_key *k = NULL;
	int r;

	peer_start(&p, CLOSE_AT_ONCE);
	cr_assert_eq(m2msa_open(p.path, &h), 0);
	r = m2msa_get_key(h, NULL, &k);
	cr_assert(r == -ECONNRESET || r == -ECONNREFUSED, "got %d (%s)", r, strerror(-r));
	cr_assert_null(k);
	cr_assert_eq(__atomic_load_n(&p.accepted, __ATOMIC_SEQ_CST), 2,
		     "one reconnect after the first connection was closed");
	m2msa_close(h);
	peer_stop(&p);
}

Test(libm2msa, denial_maps_to_eacces_with_the_agents_reason)
{
	struct peer p;
	struct m2msa *h = NULL;
	struct m2msa_key *k = NULL;

	peer_start(&p, DENY);
	cr_assert_eq(m2msa_open(p.path, &h), 0);
	cr_assert_eq(m2msa_get_key(h, "Cae1", &k), -EACCES);
	cr_assert_null(k);
	cr_assert_not_null(strstr(m2msa_last_error(h), "may not act as Cae1"), "%s",
			       m2msa_last_error(h));
	m2msa_close(h);
	peer_stop(&p);
}

Test(libm2msa, key_for_another_ae_is_refused_as_ebadmsg)
{
	struct peer p;
	struct m2msa *h = NULL;
	struct m2msa_key *k = NULL;

	peer_start(&p, WRONG_AE);
	cr_assert_eq(m2msa_open(p.path, &h), 0);
	cr_assert_eq(m2msa_get_key(h, "Cae1", &k), -EBADMSG);
	cr_assert_null(k);
	m2msa_close(h);
	peer_stop(&p);
}

Test(libm2msa, no_agent_is_a_clear_errno)
{
	struct m2msa *h = NULL;

	cr_assert_eq(m2msa_open("/nonexistent/m2msa/agent.sock", &h), -ENOENT);
	cr_assert_null(h);
}
