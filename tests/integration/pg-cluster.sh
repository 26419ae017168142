#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# A throwaway PostgreSQL server for the integration tests: initdb and pg_ctl
# into a temp folder as an unprivileged user, on a free loopback port, with its
# unix socket inside the folder; password (SCRAM) authentication for TCP.
#
#   pg-cluster.sh run PROGRAM [ARGS...]
#       start a server, run PROGRAM with the environment below, stop the server,
#       remove the folder, exit with PROGRAM's status
#   pg-cluster.sh start DIR | stop DIR | restart DIR     (what run does, by step;
#       tests use stop/start to cut the database away from a running m2masd)
#
# Environment for PROGRAM:
#   M2MSA_TEST_STORE=postgresql
#   M2MSA_TEST_PG_DIR       the folder (data/, sock/, password, port, log)
#   M2MSA_TEST_PG_HOST, M2MSA_TEST_PG_PORT, M2MSA_TEST_PG_USER
#   M2MSA_TEST_PG_PASSWORD_FILE  the password, one line, mode 0600
#   PGPASSFILE              a .pgpass for the same password (libpq reads it)
# Without PostgreSQL's binaries: exit 77 (meson's "skipped") with a message.
# M2MSA_TEST_PG_BIN overrides the folder of initdb/pg_ctl. M2MSA_TEST_PG_OPTS: more
# server options, after ours (they win), e.g. "-c fsync=on" for a durable commit
# (the default is fsync=off: the tests need no durability, only speed).
set -eu

BIN="${M2MSA_TEST_PG_BIN:-}"
if [ -z "$BIN" ]; then
	for d in /usr/lib/postgresql/*/bin; do
		[ -x "$d/initdb" ] && BIN="$d"
	done
fi
if [ -z "$BIN" ] || [ ! -x "$BIN/initdb" ]; then
	echo "pg-cluster.sh: PostgreSQL server binaries not found (apt-get install postgresql); skipping" >&2
	exit 77
fi

PGUSER_NAME=m2msa
# The server must not run as root: use nobody (as root) or ourselves.
if [ "$(id -u)" -eq 0 ]; then
	RUNAS="runuser -u nobody --"
	OWNER="nobody"
else
	RUNAS=""
	OWNER="$(id -un)"
fi

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

start() {
	dir="$1"
	mkdir -p "$dir/data" "$dir/sock"
	if [ ! -f "$dir/password" ]; then
		head -c 18 /dev/urandom | base64 | tr -d '/+=' > "$dir/password"
		chmod 600 "$dir/password"
	fi
	chown -R "$OWNER" "$dir/data" "$dir/sock"
	chmod 700 "$dir/data"
	if [ ! -f "$dir/data/PG_VERSION" ]; then
		cp "$dir/password" "$dir/sock/pwfile"
		chown "$OWNER" "$dir/sock/pwfile"
		$RUNAS "$BIN/initdb" -D "$dir/data" -U "$PGUSER_NAME" --pwfile="$dir/sock/pwfile" \
			--auth-local=trust --auth-host=scram-sha-256 -E UTF8 --no-sync \
			>"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
		rm -f "$dir/sock/pwfile"
	fi
	[ -f "$dir/port" ] || free_port > "$dir/port"
	port="$(cat "$dir/port")"
	touch "$dir/log" && chown "$OWNER" "$dir/log"
	$RUNAS "$BIN/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 30 \
		-o "-h 127.0.0.1 -p $port -k $dir/sock -c fsync=off -c full_page_writes=off -c max_connections=200 ${M2MSA_TEST_PG_OPTS:-}" \
		start >/dev/null || { cat "$dir/log" >&2; exit 1; }
	printf '127.0.0.1:%s:*:%s:%s\n' "$port" "$PGUSER_NAME" "$(cat "$dir/password")" > "$dir/pgpass"
	chmod 600 "$dir/pgpass"
}

stop() {
	dir="$1"
	[ -f "$dir/data/postmaster.pid" ] || return 0
	$RUNAS "$BIN/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null 2>&1 || true
}

case "${1:-}" in
start) start "$2" ;;
stop) stop "$2" ;;
restart) stop "$2"; start "$2" ;;
run)
	shift
	dir="$(mktemp -d /tmp/m2msa-pg.XXXXXX)"
	chmod 755 "$dir"
	trap 'stop "$dir"; rm -rf "$dir"' EXIT INT TERM
	start "$dir"
	export M2MSA_TEST_STORE=postgresql M2MSA_TEST_PG_DIR="$dir" M2MSA_TEST_PG_HOST=127.0.0.1
	export M2MSA_TEST_PG_PORT="$(cat "$dir/port")" M2MSA_TEST_PG_USER="$PGUSER_NAME"
	export M2MSA_TEST_PG_PASSWORD_FILE="$dir/password" PGPASSFILE="$dir/pgpass"
	export M2MSA_TEST_PG_SCRIPT="$0"
	set +e
	"$@"
	rc=$?
	set -e
	exit $rc
	;;
*)
	echo "usage: pg-cluster.sh run PROGRAM [ARGS...] | start DIR | stop DIR | restart DIR" >&2
	exit 2
	;;
esac
