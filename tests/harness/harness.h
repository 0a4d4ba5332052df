/* SPDX-License-Identifier: MIT */
/*
 * harness.h - the one test harness (tests/harness): start and stop a
 * program as a child (srv.c), talk TCP to it on loopback (net.c), read
 * /proc/PID (sys.c). Every test that runs a binary uses it.
 *
 * Nothing here knows which program runs; all return 0 / -errno or a
 * value, and none asserts: the tests judge.
 */
#ifndef ECHO_TEST_HARNESS_H
#define ECHO_TEST_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define H_MAX_SERVERS 8
#define H_EXIT_SETUP 126 /* a child whose h_start.setup failed exits so */

/* One child process and everything it has written so far. */
struct h_srv {
	pid_t pid; /* 0 once reaped */
	int status; /* waitpid status, valid once reaped */
	int64_t exit_ms; /* h_now_ms() when it was reaped */
	int out_fd; /* its stdout (non-blocking read end), -1 at EOF */
	int err_fd; /* its stderr */
	char *out; /* everything read from stdout, NUL-terminated */
	size_t out_len;
	size_t out_cap;
	char *err; /* everything read from stderr, NUL-terminated */
	size_t err_len;
	size_t err_cap;
	unsigned port; /* parsed from the listening line, 0 if none */
	char cmdline[256]; /* for diagnostics */
};

/* How to start a server (all fields optional). */
struct h_start {
	const char *const *args; /* extra arguments, NULL-terminated */
	unsigned long nofile; /* RLIMIT_NOFILE soft and hard; 0: inherit */
	int extra_fds; /* inherited /dev/null descriptors */
	const char *const *env; /* extra "NAME=value", NULL-terminated */
	bool no_listen; /* do not wait for the listening line */
	int listen_ms; /* how long to wait for it; 0: 5 s */
	/* In the child just before exec (drop privileges, set limits, a
	 * seccomp filter): nonzero makes it exit H_EXIT_SETUP, silently. */
	int (*setup)(void *ctx);
	void *ctx;
};

/* A duplex echo exchange: send len bytes, read them back, verify each. */
struct h_echo {
	const void *data; /* the bytes to send, or NULL: the stream of seed */
	uint64_t seed; /* PRNG stream seed when data is NULL */
	size_t len;
	size_t chunk; /* largest send; 0: 64 KiB */
	uint64_t seg_seed; /* nonzero: each send is 1..chunk bytes at random */
	int timeout_ms; /* for the whole exchange; 0: 10 s */
	bool shut_wr; /* shutdown(SHUT_WR) after the last byte and expect
			    * EOF after the last echoed byte */
};

/* A seeded byte stream (xorshift64*): same seed, same bytes. */
struct h_rng {
	uint64_t s;
	uint64_t word; /* bytes not handed out yet, low byte first */
	unsigned left; /* how many of them */
};

/* h_now_ms - monotonic clock in milliseconds. */
int64_t h_now_ms(void);

/* h_sleep_ms - sleep ms milliseconds (restarted after signals). */
void h_sleep_ms(int ms);

/* h_nofile_max - raise our own soft RLIMIT_NOFILE to the hard limit;
 * returns the soft limit now in force. */
unsigned long h_nofile_max(void);

/* h_nofile_hard - our hard RLIMIT_NOFILE. */
unsigned long h_nofile_hard(void);

/* h_rng_seed - start the stream of seed (any value, 0 included). */
void h_rng_seed(struct h_rng *r, uint64_t seed);

/* h_rng_next - the next 64 random bits (independent of the byte view). */
uint64_t h_rng_next(struct h_rng *r);

/* h_rng_below - a number in [0, n) (n > 0). */
uint64_t h_rng_below(struct h_rng *r, uint64_t n);

/* h_rng_fill - the next len bytes of the stream into buf. */
void h_rng_fill(struct h_rng *r, void *buf, size_t len);

/* h_rng_check - compare buf with the next len bytes of the stream; returns
 * the offset of the first difference, or -1 if all match. */
ssize_t h_rng_check(struct h_rng *r, const void *buf, size_t len);

/*
 * h_srv_start - fork and exec cmd (NULL-terminated) followed by st->args,
 * stdout and stderr on pipes, stdin on /dev/null, default signal
 * dispositions, no other descriptor. Unless st->no_listen, wait up to
 * st->listen_ms (5 s) for "listening on HOST:PORT" on stdout and set
 * s->port. s is registered for h_srv_cleanup_all(), even if the start
 * fails; starting a registered s again frees what it held first. Returns
 * 0, -ETIMEDOUT (no line in time), -ECHILD (it exited first: s->status is
 * set), -EPROTO (bad first line), -ENOMEM or another -errno. Unless
 * -ENOMEM, s->out and s->err are NUL-terminated strings (empty at first),
 * kept after a failure for diagnostics.
 */
int h_srv_start(struct h_srv *s, char *const *cmd, const struct h_start *st);

/* h_srv_run - h_srv_start without waiting for a listening line, then
 * h_srv_wait up to timeout_ms: 0 once it exited (s->status), -ETIMEDOUT
 * while it still runs, or h_srv_start's error. */
int h_srv_run(struct h_srv *s, char *const *cmd, const struct h_start *st,
	      int timeout_ms);

/* h_srv_pump - read whatever the child has written, without blocking. */
void h_srv_pump(struct h_srv *s);

/* h_srv_read - wait up to timeout_ms for output and read it; false once
 * both pipes are at EOF (nothing more can come). */
bool h_srv_read(struct h_srv *s, int timeout_ms);

/* h_srv_exit_code - the exit status once reaped, 128 + the signal if one
 * killed it, -1 while it runs or if the status was lost. */
int h_srv_exit_code(const struct h_srv *s);

/* h_srv_wait - wait up to timeout_ms for the child to exit (pumping its
 * output); 0 and s->status set, or -ETIMEDOUT. *ms, if given, gets the
 * time waited. After exit, reads its output to EOF. */
int h_srv_wait(struct h_srv *s, int timeout_ms, int64_t *ms);

/*
 * h_srv_stop - send sig (0: SIGTERM) and wait up to timeout_ms for the
 * exit; on timeout SIGKILL the child and return -ETIMEDOUT. *ms gets the
 * time from the signal to the exit. 0 if it exited (see s->status).
 */
int h_srv_stop(struct h_srv *s, int sig, int timeout_ms, int64_t *ms);

/* h_srv_alive - true while the child has not exited. */
bool h_srv_alive(struct h_srv *s);

/* h_srv_free - kill (if still running), reap, close and free; idempotent. */
void h_srv_free(struct h_srv *s);

/* h_srv_cleanup_all - h_srv_free every server started and not freed. */
void h_srv_cleanup_all(void);

/* h_srv_diag - print each registered server's command, state and the
 * last nlines of its stderr (for assertion failures). */
void h_srv_diag(int nlines);

/* h_fail - for programs without cmocka: print "PROG: FAIL: " and the
 * message, then h_srv_diag(nlines), then exit 1 (the atexit handlers
 * stop the children). */
void h_fail(const char *prog, int nlines, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));

/* h_srv_stats - SIGUSR1 the server and wait up to timeout_ms for a new
 * "stats:" line on its stderr. 0 or -ETIMEDOUT / -ESRCH. */
int h_srv_stats(struct h_srv *s, int timeout_ms);

/* h_srv_stat - counter name from the most recent complete stats line;
 * -1 if there is none or it lacks the name. */
long long h_srv_stat(const struct h_srv *s, const char *name);

/* h_srv_stat_now - h_srv_stats then h_srv_stat; -1 on any failure. */
long long h_srv_stat_now(struct h_srv *s, const char *name);

/* h_lines - count complete lines in text; h_count_lines_with - those
 * containing needle. */
int h_lines(const char *text);
int h_count_lines_with(const char *text, const char *needle);

/* h_last_line - copy the last non-empty line of text into buf. */
void h_last_line(const char *text, char *buf, size_t len);

/* h_proc_fds - number of open descriptors of pid, or -errno. */
int h_proc_fds(pid_t pid);

/* h_proc_fds_wait - poll h_proc_fds every 5 ms until it reads want or
 * timeout_ms passes; returns the last count (or -errno). */
int h_proc_fds_wait(pid_t pid, int want, int timeout_ms);

/* h_proc_rss_kib - VmRSS of pid in KiB, or -errno. */
long h_proc_rss_kib(pid_t pid);

/* h_proc_cpu_ticks - utime + stime of pid in clock ticks, or -errno. */
long long h_proc_cpu_ticks(pid_t pid);

/* h_proc_cpu_ns - CPU time of every thread of pid, in ns (the sum of
 * /proc/PID/task/TID/schedstat: nanoseconds, not 10 ms ticks), or -errno. */
long long h_proc_cpu_ns(pid_t pid);

/* h_proc_asan - true if pid runs with AddressSanitizer (its maps name
 * libasan) or E2E_ASAN=1 is set in our environment. */
bool h_proc_asan(pid_t pid);

/* h_deny_uring - an h_start.setup: make io_uring_setup fail with the
 * errno *ctx points to, by a seccomp filter (as Docker's default profile
 * does); 0 or -errno (no seccomp here). */
int h_deny_uring(void *ctx);

/* h_have_ipv6_loopback - true if a socket can bind [::1]. */
bool h_have_ipv6_loopback(void);

/*
 * h_connect - a TCP socket (close-on-exec) to host (numeric "127.0.0.1"
 * or "::1"):port. rcvbuf/sndbuf (if > 0) are set before connect. With
 * nonblock the socket stays non-blocking and the connect may still be in
 * progress (see h_connected). Returns the fd or -errno.
 */
int h_connect(const char *host, unsigned port, int rcvbuf, int sndbuf,
	      bool nonblock);

/* h_connected - wait up to timeout_ms for a non-blocking connect; 0,
 * -ETIMEDOUT or the connect error. */
int h_connected(int fd, int timeout_ms);

/* h_nonblock - set or clear O_NONBLOCK; 0 or -errno. */
int h_nonblock(int fd, bool on);

/* h_rst - close fd with an RST (SO_LINGER {1, 0}); 0 or -errno. */
int h_rst(int fd);

/* h_send_all - send len bytes within timeout_ms; 0, -ETIMEDOUT, -errno. */
int h_send_all(int fd, const void *buf, size_t len, int timeout_ms);

/* h_recv_exact - receive len bytes within timeout_ms; 0, -ETIMEDOUT,
 * -EPIPE (EOF first, *got bytes read) or -errno. got may be NULL. */
int h_recv_exact(int fd, void *buf, size_t len, int timeout_ms, size_t *got);

/* h_recv_eof - wait up to timeout_ms for EOF: 0 at EOF, 1 if data came
 * instead, -ETIMEDOUT, or the socket error (e.g. -ECONNRESET). */
int h_recv_eof(int fd, int timeout_ms);

/* h_readable - poll fd for input up to timeout_ms; 1 ready, 0 not, -errno. */
int h_readable(int fd, int timeout_ms);

/*
 * h_echo_run - the exchange described by e on fd, sending and receiving
 * at once so no amount deadlocks. Returns 0 when every byte came back
 * intact (and EOF followed, with shut_wr); -EPROTO on a wrong byte (*at =
 * its offset), -EPIPE on an early EOF (*at = bytes seen), -ETIMEDOUT, or
 * the socket error. at may be NULL.
 */
int h_echo_run(int fd, const struct h_echo *e, size_t *at);

/* h_echo_buf - h_echo_run of one buffer in 64 KiB sends. */
int h_echo_buf(int fd, const void *buf, size_t len, int timeout_ms);

/* h_echo_small - echo an 8-byte message made of tag; 0 or -errno. */
int h_echo_small(int fd, uint64_t tag, int timeout_ms);

/* h_send_tag - send tag as 8 little-endian bytes (2 s at most); 0 or
 * -errno. h_recv_tag - read them back within timeout_ms: 0, -EPROTO
 * (other bytes) or -errno. */
int h_send_tag(int fd, uint64_t tag);
int h_recv_tag(int fd, uint64_t tag, int timeout_ms);

/* h_err_str - "ok" for 0, else strerror of a negative or positive errno. */
const char *h_err_str(int rc);

#endif
