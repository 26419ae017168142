/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Per-source connection budgets for one m2masd listener: how many connections a
 * source (an IPv4 address, or an IPv6 /64) may hold open at once, and how many
 * new ones it may open per second (a token bucket holding two seconds' worth;
 * a connection that succeeds gives its token back).
 * Memory is bounded: a fixed table, set-associative with a secret hash seed; an
 * entry with no open connection is reused when its set is full, and a source
 * that finds every entry of its set busy is refused (-ENOSPC). Times are
 * milliseconds of CLOCK_MONOTONIC, supplied by the caller.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* "198.51.100.7" or "2001:db8:1:2::/64": what one source is. */
#define MAS_SOURCE_MAX 48

struct mas_connbudget;

/* n_slots is rounded up to a multiple of the set size. Returns 0 or -ENOMEM / -EINVAL. */
int mas_connbudget_new(size_t n_slots, struct mas_connbudget **ret);
void mas_connbudget_free(struct mas_connbudget *b);
/* max_open 0: no cap; per_second 0: no rate limit. */
void mas_connbudget_set_limits(struct mas_connbudget *b, uint32_t max_open, uint32_t per_second);

/* The source of a peer address (IPv4-mapped IPv6 counts as IPv4). */
void mas_source_of(const struct sockaddr_storage *ss, char source[MAS_SOURCE_MAX]);

/*
 * One new connection from source at now_ms: 0 (counted as open; call
 * mas_connbudget_close() when it ends), -EMFILE (max_open reached), -EAGAIN
 * (over the rate) or -ENOSPC (table set full of busy sources).
 */
int mas_connbudget_open(struct mas_connbudget *b, const char *source, uint64_t now_ms);
void mas_connbudget_close(struct mas_connbudget *b, const char *source);
/*
 * Give back the rate token of a connection that did what it came for (an
 * association established, a key retrieved): a source whose connections
 * succeed is never slowed down; only failing or idle ones use up the rate.
 */
void mas_connbudget_refund(struct mas_connbudget *b, const char *source);
/* Connections open from source now (tests). */
uint32_t mas_connbudget_n_open(struct mas_connbudget *b, const char *source);
