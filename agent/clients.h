/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Who may ask the local key service for what: /etc/m2msa/clients.d/NAME.conf
 * (docs/m2msad.conf.md "clients.d"), one client per file:
 *
 *   [client]
 *   user = app1          exactly one of user= (name), uid= (number), group= (name)
 *   ae = C-ae1, C-ae2    the AE-IDs it may get keys for and subscribe to
 *   targets = /mn-cse-2/Cae2, /mn-cse-3/<star>   optional: the only targets its AEs
 *                        may request pairwise keys towards (none: any target);
 *                        "/<CSE-ID>/" and a star is every AE of that CSE
 *   cse = no             the node's CSE key (Kc)
 *   admin = no           status and rekey requests
 *
 * Peers are matched by SO_PEERCRED uid/gid plus their supplementary groups
 * (SO_PEERGROUPS). uid 0 and members of group m2msa-admin are admins; uid 0 may
 * also act as any AE and as the CSE.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "common/err.h"
#include "common/util.h"

#define CLIENTS_ADMIN_GROUP "m2msa-admin"
#define CLIENTS_MAX_GROUPS 64

struct clients;

/* The credentials of a connected peer. */
struct clients_peer {
	pid_t pid;
	uid_t uid;
	gid_t gid;
	gid_t groups[CLIENTS_MAX_GROUPS]; /* supplementary groups, as far as they fit */
	size_t n_groups;
};

/*
 * Load every *.conf in dir in lexical order. A missing dir is an empty policy.
 * Errors: -EINVAL with "file:line: ..." (or "file: ...") in err, -ENOMEM, -EACCES.
 */
int clients_load(const char *dir, struct clients **ret, struct m2msa_err *err);
void clients_free(struct clients *c);
DEFINE_CLEANUP(struct clients *, clients_free)
/* Number of client files loaded. */
size_t clients_count(const struct clients *c);

/* SO_PEERCRED and SO_PEERGROUPS of a connected AF_UNIX socket. */
int clients_peer_from_fd(int fd, struct clients_peer *ret);

/* May the peer act as ae_id ("" or NULL: the node's CSE)? */
bool clients_may_act_as(const struct clients *c, const struct clients_peer *p, const char *ae_id);
/*
 * May the peer, acting as ae_id, request a pairwise key towards target? True when
 * a clients.d file that matches the peer and grants ae_id has no targets= or a
 * targets= entry that matches (exactly, or "/<CSE-ID>/" then a star for any AE of it).
 */
bool clients_may_target(const struct clients *c, const struct clients_peer *p, const char *ae_id,
			const char *target);
/* May the peer ask for status and rekey? */
bool clients_is_admin(const struct clients *c, const struct clients_peer *p);
/* May the peer ask for anything at all (an admin, or a clients.d file matches it)? */
bool clients_known(const struct clients *c, const struct clients_peer *p);
