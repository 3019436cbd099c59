/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Small helpers used everywhere: cleanup functions, clocks, identifier
 * validation, fd flags.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "base.h"

void
freep(void *p)
{
	free(*(void **)p);
}

void
closep(int *fdp)
{
	close_fd(fdp);
}

void
close_fd(int *fdp)
{
	if (*fdp >= 0) {
		int saved = errno;

		close(*fdp);
		errno = saved;
	}
	*fdp = -1;
}

static uint64_t
clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t
time_mono_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

uint64_t
time_real_ns(void)
{
	return clock_ns(CLOCK_REALTIME);
}

static bool
ident_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

/*
 * containerd's identifier rule (identifiers/validate.go): alphanumeric
 * runs joined by single '.', '_' or '-'. The same rule keeps guest paths
 * built from ids free of '/' and "..".
 */
bool
ident_valid(const char *s, size_t max)
{
	size_t i, n;

	if (s == NULL)
		return false;
	n = strlen(s);
	if (n == 0 || n > max)
		return false;
	for (i = 0; i < n; i++) {
		if (ident_alnum(s[i]))
			continue;
		if (strchr("._-", s[i]) == NULL)
			return false;
		if (i == 0 || i == n - 1 || !ident_alnum(s[i - 1]))
			return false;
	}
	return true;
}

int
write_all(int fd, const void *p, size_t n)
{
	const uint8_t *c = p;

	while (n > 0) {
		ssize_t w = write(fd, c, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

int
fd_set_nonblock_cloexec(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -1;
	fl = fcntl(fd, F_GETFD);
	if (fl < 0 || fcntl(fd, F_SETFD, fl | FD_CLOEXEC) < 0)
		return -1;
	return 0;
}

int
unix_listen(const char *path, int backlog, struct err *err)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof sun.sun_path)
		return err_set(err, ENAMETOOLONG, "%s: too long for a unix "
		    "socket", path);
	memcpy(sun.sun_path, path, strlen(path) + 1);
	unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_set(err, errno, "socket: %m");
	if (bind(fd, (struct sockaddr *)&sun, sizeof sun) < 0 ||
	    chmod(path, 0600) < 0 || listen(fd, backlog) < 0) {
		err_set(err, errno, "listen on %s: %m", path);
		close(fd);
		unlink(path);
		return -1;
	}
	return fd;
}

size_t
str_copy(char *dst, const char *src, size_t n)
{
	size_t len = strlen(src);

	if (n == 0)
		return len;
	if (len >= n) {
		memcpy(dst, src, n - 1);
		dst[n - 1] = '\0';
	} else
		memcpy(dst, src, len + 1);
	return len;
}
