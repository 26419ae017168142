/* SPDX-License-Identifier: Apache-2.0 */
/* libnl socket setup and NLE_* to -errno, shared by the uplink monitor and the XFRM code. */
#include <errno.h>
#include <fcntl.h>

#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

#include "netlink/nl-sock.h"

int nl_sock_errno(int nle)
{
	switch (nle < 0 ? -nle : nle) {
	case NLE_SUCCESS:
		return 0;
	case NLE_INTR:
	case NLE_DUMP_INTR:
		return -EINTR;
	case NLE_BAD_SOCK:
		return -EBADF;
	case NLE_AGAIN:
		return -EAGAIN;
	case NLE_NOMEM:
		return -ENOMEM;
	case NLE_EXIST:
		return -EEXIST;
	case NLE_INVAL:
		return -EINVAL;
	case NLE_RANGE:
		return -ERANGE;
	case NLE_MSGSIZE:
	case NLE_MSG_TRUNC:
		return -EMSGSIZE;
	case NLE_OPNOTSUPP:
	case NLE_MSGTYPE_NOSUPPORT:
		return -EOPNOTSUPP;
	case NLE_AF_NOSUPPORT:
		return -EAFNOSUPPORT;
	case NLE_PROTO_MISMATCH:
		return -EPROTONOSUPPORT;
	case NLE_NOADDR:
	case NLE_OBJ_NOTFOUND:
		return -ENOENT;
	case NLE_MSG_OVERFLOW:
		return -ENOBUFS;
	case NLE_BUSY:
		return -EBUSY;
	case NLE_NOACCESS:
		return -EACCES;
	case NLE_PERM:
		return -EPERM;
	case NLE_NODEV:
		return -ENODEV;
	default:
		return -EIO;
	}
}

int nl_sock_open(int protocol, enum nl_sock_kind kind, struct nl_sock **ret)
{
	struct nl_sock *sk;
	int r;

	if ((unsigned int)kind >= _NL_SOCK_KIND_MAX || !ret)
		return -EINVAL;
	sk = nl_socket_alloc();
	if (!sk)
		return -ENOMEM;
	if (kind == NL_SOCK_EVENTS) {
		/* Notifications carry no sequence number we asked for. */
		nl_socket_disable_seq_check(sk);
		nl_socket_disable_auto_ack(sk);
	}
	r = nl_connect(sk, protocol);
	if (r < 0) {
		r = nl_sock_errno(r);
		goto fail;
	}
	/* libnl 3.7 opens with SOCK_CLOEXEC; older ones did not. */
	if (fcntl(nl_socket_get_fd(sk), F_SETFD, FD_CLOEXEC) < 0) {
		r = -errno;
		goto fail;
	}
	if (kind == NL_SOCK_EVENTS) {
		r = nl_socket_set_nonblocking(sk);
		if (r < 0) {
			r = nl_sock_errno(r);
			goto fail;
		}
	}
	*ret = sk;
	return 0;
fail:
	nl_socket_free(sk);
	return r;
}
