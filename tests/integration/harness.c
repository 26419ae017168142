/* SPDX-License-Identifier: Apache-2.0 */
/* Integration-test harness: swtpm per test, free ports, temp dirs, running external tools. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

extern char **environ;

struct harness_swtpm {
	pid_t pid;
	uint16_t port;
	bool own_dir;
	char *state_dir;
	char tcti[64];
};

char *harness_strdupf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		abort();
	va_end(ap);
	return s;
}

bool harness_have_program(const char *prog)
{
	const char *path = getenv("PATH");
	char *dup, *save = NULL;
	bool found = false;

	if (strchr(prog, '/'))
		return access(prog, X_OK) == 0;
	dup = strdup(path ? path : "/usr/bin:/bin");
	if (!dup)
		return false;
	for (char *d = strtok_r(dup, ":", &save); d && !found; d = strtok_r(NULL, ":", &save)) {
		char *p = harness_strdupf("%s/%s", d, prog);

		found = access(p, X_OK) == 0;
		free(p);
	}
	free(dup);
	return found;
}

static int try_bind(uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int r = 0;

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		r = -errno;
	close(fd);
	return r;
}

int harness_free_port(unsigned n_ports, uint16_t *ret)
{
	static unsigned seeded;

	if (n_ports < 1 || n_ports > 2)
		return -EINVAL;
	if (!seeded++)
		srandom((unsigned)time(NULL) ^ (unsigned)getpid());
	/* Random even ports in 20000..59998 so parallel test programs rarely collide. */
	for (int i = 0; i < 200; i++) {
		uint16_t p = (uint16_t)(20000 + 2 * (random() % 20000));

		if (try_bind(p) < 0)
			continue;
		if (n_ports == 2 && try_bind((uint16_t)(p + 1)) < 0)
			continue;
		*ret = p;
		return 0;
	}
	return -EADDRINUSE;
}

int harness_tmpdir(char **ret)
{
	const char *base = getenv("TMPDIR");
	char *p = harness_strdupf("%s/m2msa-test-XXXXXX", base && *base ? base : "/tmp");

	if (!mkdtemp(p)) {
		int r = -errno;

		free(p);
		return r;
	}
	*ret = p;
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		return rmdir(path) < 0 ? -1 : 0;
	return unlink(path) < 0 ? -1 : 0;
}

int harness_rmtree(const char *path)
{
	struct stat st;

	if (!path || lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS) < 0)
		return -errno;
	return 0;
}

static int connect_ok(uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int r = 0;

	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		r = -errno;
	close(fd);
	return r;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int swtpm_spawn(struct harness_swtpm *s)
{
	for (int attempt = 0; attempt < 5; attempt++) {
		char server[96], ctrl[96], state[PATH_MAX + 16];
		uint16_t port;
		pid_t pid;
		int r, status;

		r = harness_free_port(2, &port);
		if (r < 0)
			return r;
		snprintf(server, sizeof(server), "type=tcp,port=%u,bindaddr=127.0.0.1", port);
		snprintf(ctrl, sizeof(ctrl), "type=tcp,port=%u,bindaddr=127.0.0.1", port + 1);
		snprintf(state, sizeof(state), "dir=%s", s->state_dir);
		pid_t parent = getpid();

		pid = fork();
		if (pid < 0)
			return -errno;
		if (pid == 0) {
			int devnull;

			/* A test that dies (failed assertion, crash) must not leave swtpm behind. */
			(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() != parent)
				_exit(1);
			devnull = open("/dev/null", O_RDWR);

			if (devnull >= 0) {
				dup2(devnull, STDIN_FILENO);
				dup2(devnull, STDOUT_FILENO);
				dup2(devnull, STDERR_FILENO);
			}
			execlp("swtpm", "swtpm", "socket", "--tpm2", "--server", server, "--ctrl",
			       ctrl, "--tpmstate", state, "--flags", "not-need-init,startup-clear",
			       (char *)NULL);
			_exit(127);
		}
		for (int i = 0; i < 500; i++) {
			if (waitpid(pid, &status, WNOHANG) == pid) {
				pid = 0; /* exited: port taken meanwhile, or swtpm broken */
				break;
			}
			if (connect_ok(port) == 0) {
				s->pid = pid;
				s->port = port;
				snprintf(s->tcti, sizeof(s->tcti), "swtpm:host=127.0.0.1,port=%u",
					 port);
				return 0;
			}
			sleep_ms(10);
		}
		if (pid > 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
		}
	}
	fprintf(stderr, "harness: swtpm did not start (state dir %s)\n", s->state_dir);
	return -ETIMEDOUT;
}

void harness_kill_wait(pid_t *pid, int sig)
{
	if (*pid > 0) {
		kill(*pid, sig);
		while (waitpid(*pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	*pid = 0;
}

static void swtpm_kill(struct harness_swtpm *s)
{
	harness_kill_wait(&s->pid, SIGKILL);
}

int harness_swtpm_start(const char *state_dir, struct harness_swtpm **ret)
{
	struct harness_swtpm *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return -ENOMEM;
	if (state_dir) {
		s->state_dir = strdup(state_dir);
		if (!s->state_dir) {
			free(s);
			return -ENOMEM;
		}
	} else {
		r = harness_tmpdir(&s->state_dir);
		if (r < 0) {
			free(s);
			return r;
		}
		s->own_dir = true;
	}
	r = swtpm_spawn(s);
	if (r < 0) {
		harness_swtpm_stop(s);
		return r;
	}
	*ret = s;
	return 0;
}

int harness_swtpm_restart(struct harness_swtpm *s)
{
	if (!s)
		return -EINVAL;
	swtpm_kill(s);
	return swtpm_spawn(s);
}

void harness_swtpm_stop(struct harness_swtpm *s)
{
	if (!s)
		return;
	swtpm_kill(s);
	if (s->own_dir)
		(void)harness_rmtree(s->state_dir);
	free(s->state_dir);
	free(s);
}

const char *harness_swtpm_tcti(const struct harness_swtpm *s)
{
	return s->tcti;
}

const char *harness_swtpm_state_dir(const struct harness_swtpm *s)
{
	return s->state_dir;
}

uint16_t harness_swtpm_port(const struct harness_swtpm *s)
{
	return s->port;
}

struct sink {
	int fd;
	char *buf;
	size_t len, cap;
};

static int sink_read(struct sink *k)
{
	char tmp[4096];
	ssize_t n = read(k->fd, tmp, sizeof(tmp));

	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 1 : -errno;
	if (n == 0)
		return 0;
	if (k->len + (size_t)n + 1 > k->cap) {
		size_t cap = (k->len + (size_t)n + 1) * 2;
		char *b = realloc(k->buf, cap);

		if (!b)
			return -ENOMEM;
		k->buf = b;
		k->cap = cap;
	}
	memcpy(k->buf + k->len, tmp, (size_t)n);
	k->len += (size_t)n;
	k->buf[k->len] = '\0';
	return 1;
}

int harness_run(const char *const *argv, const char *const *env, const char *stdin_data,
		int *ret_status, char **ret_stdout, char **ret_stderr)
{
	int out[2] = { -1, -1 }, err[2] = { -1, -1 }, in[2] = { -1, -1 };
	struct sink sinks[2] = { { .fd = -1 }, { .fd = -1 } };
	int status, r = 0;
	pid_t pid;

	if (!argv || !argv[0] || !ret_status)
		return -EINVAL;
	if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0 || pipe2(in, O_CLOEXEC) < 0) {
		r = -errno;
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		r = -errno;
		goto out;
	}
	if (pid == 0) {
		dup2(in[0], STDIN_FILENO);
		dup2(out[1], STDOUT_FILENO);
		dup2(err[1], STDERR_FILENO);
		for (const char *const *e = env; e && *e; e++)
			putenv((char *)(uintptr_t)*e);
		execvp(argv[0], (char *const *)(uintptr_t)argv);
		fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(in[0]);
	in[0] = -1;
	if (stdin_data) {
		size_t len = strlen(stdin_data);
		const char *p = stdin_data;

		signal(SIGPIPE, SIG_IGN);
		while (len > 0) {
			ssize_t n = write(in[1], p, len);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			p += n;
			len -= (size_t)n;
		}
	}
	close(in[1]);
	in[1] = -1;
	close(out[1]);
	close(err[1]);
	out[1] = err[1] = -1;
	sinks[0].fd = out[0];
	sinks[1].fd = err[0];
	while (sinks[0].fd >= 0 || sinks[1].fd >= 0) {
		struct pollfd pfd[2] = { { sinks[0].fd, POLLIN, 0 }, { sinks[1].fd, POLLIN, 0 } };

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		for (int i = 0; i < 2; i++) {
			int k;

			if (sinks[i].fd < 0 || !pfd[i].revents)
				continue;
			k = sink_read(&sinks[i]);
			if (k <= 0) {
				if (k < 0)
					r = k;
				sinks[i].fd = -1;
			}
		}
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			r = -errno;
			goto out;
		}
	}
	if (r < 0)
		goto out;
	*ret_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	if (ret_stdout) {
		*ret_stdout = sinks[0].buf ? sinks[0].buf : strdup("");
		sinks[0].buf = NULL;
	}
	if (ret_stderr) {
		*ret_stderr = sinks[1].buf ? sinks[1].buf : strdup("");
		sinks[1].buf = NULL;
	}
out:
	for (int i = 0; i < 2; i++) {
		if (out[i] >= 0)
			close(out[i]);
		if (err[i] >= 0)
			close(err[i]);
		if (in[i] >= 0)
			close(in[i]);
	}
	free(sinks[0].buf);
	free(sinks[1].buf);
	return r;
}

int harness_read_file(const char *path, char **ret, size_t *ret_len)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t n;

		if (len + 4097 > cap) {
			char *b = realloc(buf, cap = len + 8192);

			if (!b) {
				r = -ENOMEM;
				break;
			}
			buf = b;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (r < 0) {
		free(buf);
		return r;
	}
	buf[len] = '\0';
	*ret = buf;
	if (ret_len)
		*ret_len = len;
	return 0;
}

int harness_write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	const char *p = data;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode), r = 0;

	if (fd < 0)
		return -errno;
	if (fchmod(fd, mode) < 0)
		r = -errno;
	while (r == 0 && len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		p += n;
		len -= (size_t)n;
	}
	if (close(fd) < 0 && r == 0)
		r = -errno;
	return r;
}
