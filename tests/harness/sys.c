/* SPDX-License-Identifier: MIT */
/*
 * sys.c - the harness's clock, descriptor limits, /proc/PID readers and
 * the seccomp filter that refuses io_uring to a child.
 *
 * Black box only: a test reads a server through /proc, never its memory.
 * No assertions here; every helper returns 0 / -errno or a value.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int64_t h_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void h_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

unsigned long h_nofile_max(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 0;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	return rl.rlim_cur;
}

unsigned long h_nofile_hard(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 0;
	return rl.rlim_max;
}

/* --- /proc -------------------------------------------------------------- */

int h_proc_fds(pid_t pid)
{
	char path[64];
	struct dirent *d;
	DIR *dir;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	dir = opendir(path);
	if (!dir)
		return -errno;
	while ((d = readdir(dir)))
		if (d->d_name[0] != '.')
			n++;
	closedir(dir);
	return n;
}

int h_proc_fds_wait(pid_t pid, int want, int timeout_ms)
{
	int64_t deadline = h_now_ms() + timeout_ms;
	int n;

	for (;;) {
		n = h_proc_fds(pid);
		if (n == want || h_now_ms() >= deadline)
			return n;
		h_sleep_ms(5);
	}
}

static int h_read_proc(pid_t pid, const char *what, char *buf, size_t len)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, what);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -EIO;
	buf[n] = '\0';
	return 0;
}

long h_proc_rss_kib(pid_t pid)
{
	char buf[4096];
	const char *p;
	int rc = h_read_proc(pid, "status", buf, sizeof(buf));

	if (rc < 0)
		return rc;
	p = strstr(buf, "\nVmRSS:");
	if (!p)
		return -ENOENT;
	return strtol(p + strlen("\nVmRSS:"), NULL, 10);
}

long long h_proc_cpu_ticks(pid_t pid)
{
	char buf[1024];
	unsigned long long ut = 0, st = 0;
	const char *p;
	int rc = h_read_proc(pid, "stat", buf, sizeof(buf));

	if (rc < 0)
		return rc;
	/* Field 2 is "(comm)" and may hold spaces or ')': start after the
	 * last ')'; then the state is field 3 and utime, stime are 14, 15. */
	p = strrchr(buf, ')');
	if (!p ||
	    sscanf(p + 1,
		   " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
		   &ut, &st) != 2)
		return -EPROTO;
	return (long long)(ut + st);
}

long long h_proc_cpu_ns(pid_t pid)
{
	char path[64], buf[128];
	unsigned long long ns, sum = 0;
	struct dirent *d;
	DIR *dir;
	int rc;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	dir = opendir(path);
	if (!dir)
		return -errno;
	while ((d = readdir(dir))) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "task/%.20s/schedstat", d->d_name);
		/* A thread that exits meanwhile has no more time to add. */
		rc = h_read_proc(pid, path, buf, sizeof(buf));
		if (rc < 0 || sscanf(buf, "%llu", &ns) != 1)
			continue;
		sum += ns;
	}
	closedir(dir);
	return (long long)sum;
}

bool h_proc_asan(pid_t pid)
{
	const char *env = getenv("E2E_ASAN");
	char path[64], line[512];
	bool found = false;
	FILE *f;

#if defined(__SANITIZE_ADDRESS__)
	/* One meson build sanitizes every target: the server as well. */
	return true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
	return true;
#endif
#endif
	if (env && !strcmp(env, "1"))
		return true;
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, "libasan") || strstr(line, "rt.asan");
	fclose(f);
	return found;
}

int h_deny_uring(void *ctx)
{
	int err = *(const int *)ctx;
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
		BPF_STMT(BPF_RET | BPF_K,
			 SECCOMP_RET_ERRNO | (err & SECCOMP_RET_DATA)),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]),
				   .filter = f };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog))
		return -errno;
	return 0;
}

bool h_have_ipv6_loopback(void)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6 };
	int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok;

	if (fd < 0)
		return false;
	a.sin6_addr = in6addr_loopback;
	ok = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return ok;
}
