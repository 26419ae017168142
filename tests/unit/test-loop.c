/* SPDX-License-Identifier: Apache-2.0 */
/* The event loop: io readiness, timers once and re-armed, signals, removal in callbacks (common/loop.h). */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/loop.h"

struct counts {
	int calls;
	uint32_t events;
	int fd;
	bool clock_set;
	int signo;
	struct loop_watch *remove; /* removed by the callback */
};

static void on_io(struct loop_watch *w, int fd, uint32_t events, void *userdata)
{
	struct counts *c = userdata;

	c->calls++;
	c->events = events;
	c->fd = fd;
	loop_remove(c->remove);
}

static void on_timer(struct loop_watch *w, bool clock_set, void *userdata)
{
	struct counts *c = userdata;

	c->calls++;
	c->clock_set = clock_set;
}

static void on_signal(struct loop_watch *w, const struct signalfd_siginfo *si, void *userdata)
{
	struct counts *c = userdata;

	c->calls++;
	c->signo = (int)si->ssi_signo;
}

static uint64_t now_ms(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void socketpair_or_die(int sv[2])
{
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv), 0);
}

Test(loop, io_watch_fires_on_readiness_only)
{
	_cleanup_(loop_freep) struct loop *l = NULL;
	struct counts c = { 0 };
	int sv[2];

	socketpair_or_die(sv);
	cr_assert_eq(loop_new(&l), 0);
	cr_assert_eq(loop_add_io(l, sv[0], EPOLLIN, on_io, &c, NULL), 0);
	cr_expect_eq(loop_iterate(l, 0), 0, "nothing readable yet");
	cr_expect_eq(c.calls, 0);
	cr_assert_eq(write(sv[1], "x", 1), 1);
	cr_expect_eq(loop_iterate(l, 1000), 1);
	cr_expect_eq(c.calls, 1);
	cr_expect_eq(c.fd, sv[0]);
	cr_expect(c.events & EPOLLIN);
	close(sv[0]);
	close(sv[1]);
}

Test(loop, io_events_can_be_changed)
{
	_cleanup_(loop_freep) struct loop *l = NULL;
	struct loop_watch *w;
	struct counts c = { 0 };
	int sv[2];

	socketpair_or_die(sv);
	cr_assert_eq(loop_new(&l), 0);
	cr_assert_eq(loop_add_io(l, sv[0], EPOLLIN, on_io, &c, &w), 0);
	cr_expect_eq(loop_iterate(l, 0), 0, "not readable");
	cr_assert_eq(loop_io_set_events(w, EPOLLOUT), 0);
	cr_expect_eq(loop_iterate(l, 1000), 1, "a fresh socket is writable");
	cr_expect(c.events & EPOLLOUT);
	close(sv[0]);
	close(sv[1]);
}

Test(loop, timer_fires_once_then_rearms)
{
	_cleanup_(loop_freep) struct loop *l = NULL;
	struct loop_watch *w;
	struct counts c = { 0 };
	uint64_t t0 = now_ms(CLOCK_MONOTONIC);

	cr_assert_eq(loop_new(&l), 0);
	cr_assert_eq(loop_add_timer(l, CLOCK_MONOTONIC, on_timer, &c, &w), 0);
	cr_expect_eq(loop_iterate(l, 50), 0, "a new timer is disarmed");
	cr_assert_eq(loop_timer_set(w, 20, 0, 0), 0);
	cr_expect_eq(loop_iterate(l, 1000), 1);
	cr_expect_eq(c.calls, 1);
	cr_expect_not(c.clock_set);
	cr_expect_geq(now_ms(CLOCK_MONOTONIC) - t0, 20, "fired early");
	cr_expect_eq(loop_iterate(l, 100), 0, "a one-shot timer fires once");
	cr_expect_eq(c.calls, 1);
	/* Re-armed with an absolute time in the past: fires at once. */
	cr_assert_eq(loop_timer_set(w, now_ms(CLOCK_MONOTONIC) - 5, 0, LOOP_TIMER_ABSOLUTE), 0);
	cr_expect_eq(loop_iterate(l, 1000), 1);
	cr_expect_eq(c.calls, 2);
	/* Disarmed: silent. */
	cr_assert_eq(loop_timer_set(w, 10, 0, 0), 0);
	cr_assert_eq(loop_timer_set(w, 0, 0, 0), 0);
	cr_expect_eq(loop_iterate(l, 100), 0, "a disarmed timer fired");
	cr_expect_eq(c.calls, 2);
}

Test(loop, periodic_timer_fires_repeatedly)
{
	_cleanup_(loop_freep) struct loop *l = NULL;
	struct loop_watch *w;
	struct counts c = { 0 };

	cr_assert_eq(loop_new(&l), 0);
	cr_assert_eq(loop_add_timer(l, CLOCK_MONOTONIC, on_timer, &c, &w), 0);
	cr_assert_eq(loop_timer_set(w, 10, 10, 0), 0);
	for (int i = 0; i < 3; i++)
		cr_expect_eq(loop_iterate(l, 1000), 1);
	cr_expect_eq(c.calls, 3);
}

Test(loop, signal_arrives_through_signalfd)
{
	_cleanup_(loop_freep) struct loop *l = NULL;
	static const int sigs[] = { SIGUSR1 };
	struct counts c = { 0 };
	sigset_t cur;

	cr_assert_eq(loop_new(&l), 0);
	cr_assert_eq(loop_add_signals(l, sigs, 1, on_signal, &c, NULL), 0);
	cr_assert_eq(sigprocmask(SIG_BLOCK, NULL, &cur), 0);
	cr_expect(sigismember(&cur, SIGUSR1), "the watched signal is blocked");
	cr_assert_eq(raise(SIGUSR1), 0);
	cr_expect_eq(loop_iterate(l, 1000), 1);
	cr_expect_eq(c.calls, 1);
	cr_expect_eq(c.signo, SIGUSR1);
	loop_free(l);
	l = NULL;
	cr_assert_eq(sigprocmask(SIG_BLOCK, NULL, &cur), 0);
	cr_expect_not(sigismember(&cur, SIGUSR1), "the old mask is back after the loop is freed");
}

Test(loop, removing_watches_inside_a_callback_is_safe)
{
	_cleanup_(loop_freep) struct loop *l = NULL;
	struct counts a = { 0 }, b = { 0 };
	struct loop_watch *wa, *wb;
	int sa[2], sb[2];

	socketpair_or_die(sa);
	socketpair_or_die(sb);
	cr_assert_eq(loop_new(&l), 0);
	cr_assert_eq(loop_add_io(l, sa[0], EPOLLIN, on_io, &a, &wa), 0);
	cr_assert_eq(loop_add_io(l, sb[0], EPOLLIN, on_io, &b, &wb), 0);
	/* Each removes the other: whichever runs first, the other one must not run. */
	a.remove = wb;
	b.remove = wa;
	cr_assert_eq(write(sa[1], "x", 1), 1);
	cr_assert_eq(write(sb[1], "x", 1), 1);
	cr_expect_eq(loop_iterate(l, 1000), 1, "one callback ran, the other was removed");
	cr_expect_eq(a.calls + b.calls, 1);
	/* The survivor removes itself from inside its own callback. */
	if (a.calls) {
		a.remove = wa;
		cr_expect_eq(loop_iterate(l, 1000), 1);
		cr_expect_eq(a.calls, 2);
	} else {
		b.remove = wb;
		cr_expect_eq(loop_iterate(l, 1000), 1);
		cr_expect_eq(b.calls, 2);
	}
	cr_expect_eq(loop_iterate(l, 50), 0, "no watch is left, both fds still readable");
	cr_expect_eq(a.calls + b.calls, 2);
	close(sa[0]);
	close(sa[1]);
	close(sb[0]);
	close(sb[1]);
}
