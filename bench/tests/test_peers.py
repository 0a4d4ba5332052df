#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_peers.py - end-to-end scenarios for compare.sh's reference peers.

The peers (min-epoll, min-uring, thread-echo) take `[PORT] [--host ADDR]`,
print "listening on ADDR:PORT" first (127.0.0.1 unless --host) and keep no
stats, so tests/e2e's harness (which wants --port and a stats line) does
not fit them. One scenario per process: byte-exact echo, half-close,
resets, many connections, signals, usage, another address. Exit 0 pass,
1 fail.
Usage: test_peers.py SCENARIO SERVER [ARGS...]
"""
import os
import random
import resource
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

T = 10.0  # seconds for one exchange: generous, only a hang hits it


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


class Server:
    def __init__(self, cmd, limit=None, host=None):
        # Under AddressSanitizer (CI), no leak report at exit: the peers
        # keep no list of open connections to free when a signal stops
        # them (min-epoll's per-connection buffers are referenced only by
        # the kernel's epoll set). Memory errors are still caught.
        env = dict(os.environ)
        env["ASAN_OPTIONS"] = ":".join(
            o for o in (env.get("ASAN_OPTIONS"), "detect_leaks=0") if o)
        extra = ["--host", host] if host else []
        self.host = host or "127.0.0.1"
        self.p = subprocess.Popen(cmd + ["0"] + extra,
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True,
                                  preexec_fn=limit, env=env)
        line = self.p.stdout.readline()
        if not line.startswith("listening on {}:".format(self.host)):
            self.p.kill()
            fail("expected a listening line first, got {!r}; stderr {!r}"
                 .format(line, self.p.stderr.read()[-500:]))
        self.port = int(line.rsplit(":", 1)[1])

    def alive(self):
        return self.p.poll() is None

    def stop(self, sig=signal.SIGTERM):
        t0 = time.monotonic()
        self.p.send_signal(sig)
        try:
            rc = self.p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            fail("signal {}: still running after 5 s".format(sig))
        return rc, time.monotonic() - t0


def dial(port, host="127.0.0.1"):
    s = socket.create_connection((host, port), timeout=T)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def recv_exact(s, n):
    got = bytearray()
    while len(got) < n:
        b = s.recv(min(1 << 20, n - len(got)))
        if not b:
            fail("EOF after {} of {} bytes".format(len(got), n))
        got += b
    return bytes(got)


def echo_check(srv, s, data, chunks):
    """Send data in pieces of random sizes from a thread, read it back."""
    def writer():
        off = 0
        while off < len(data):
            n = random.choice(chunks)
            s.sendall(data[off:off + n])
            off += n
    w = threading.Thread(target=writer)
    w.start()
    got = recv_exact(s, len(data))
    w.join()
    if got != data:
        i = next(i for i in range(len(data)) if got[i] != data[i])
        fail("echo differs at byte {} of {}".format(i, len(data)))


def sc_echo_bytes(srv):
    rnd = random.Random(7)
    socks = [dial(srv.port) for _ in range(4)]
    data = [rnd.randbytes(n) for n in (1, 4096, 1 << 20, 3 << 20)]
    ts = [threading.Thread(target=echo_check,
                           args=(srv, s, d, (1, 7, 100, 1500, 65536)))
          for s, d in zip(socks, data)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for s in socks:
        s.close()
    return "4 connections, 1 B to 3 MiB, byte-exact"


def sc_host(srv):
    """Started with --host 127.0.0.2 (compare.sh --netns gives the veth
    address): it echoes there, and 127.0.0.1 is not listened on."""
    s = dial(srv.port, srv.host)
    echo_check(srv, s, random.Random(3).randbytes(100000), (1, 999, 8192))
    s.close()
    try:
        dial(srv.port).close()
    except ConnectionRefusedError:
        return "--host 127.0.0.2: echoes there, 127.0.0.1 refused"
    fail("127.0.0.1:{} accepted a connection".format(srv.port))


def sc_slow_reader(srv):
    # Readers that pause while their writers go on: the server's sends
    # come back short and its buffers run out (io_uring: -ENOBUFS, then
    # the recv re-armed when sends give buffers back). Every byte must
    # still come back in order.
    rnd = random.Random(11)
    n, size = 4, 8 << 20
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(T)
        s.connect(("127.0.0.1", srv.port))
        socks.append(s)
    data = [rnd.randbytes(size) for _ in range(n)]
    ws = [threading.Thread(target=lambda s=s, d=d: s.sendall(d))
          for s, d in zip(socks, data)]
    for w in ws:
        w.start()
    time.sleep(1.5)
    bad = []
    rs = [threading.Thread(target=lambda s=s, d=d: bad.append(
        recv_exact(s, size) != d)) for s, d in zip(socks, data)]
    for t in rs + ws:
        t.start() if t in rs else None
    for t in rs + ws:
        t.join()
    if any(bad) or len(bad) != n:
        fail("slow reader: echo differs or missing ({})".format(bad))
    for s in socks:
        s.close()
    return "{} x {} MiB with readers paused 1.5 s, byte-exact".format(
        n, size >> 20)


def sc_half_close(srv):
    s = dial(srv.port)
    data = random.Random(3).randbytes(300000)
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    got = bytearray()
    while True:
        b = s.recv(1 << 16)
        if not b:
            break
        got += b
    if bytes(got) != data:
        fail("half-close: got {} bytes back of {}".format(len(got),
                                                          len(data)))
    return "300000 bytes echoed after SHUT_WR, then EOF"


def sc_reset(srv):
    # Connections reset mid-transfer (RST via SO_LINGER 0), some with
    # unread echoes: the server must drop them and keep serving.
    rnd = random.Random(5)
    for i in range(200):
        s = dial(srv.port)
        s.sendall(rnd.randbytes(rnd.choice((10, 5000, 200000))))
        if i % 3:
            time.sleep(0.001)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                     struct.pack("ii", 1, 0))
        s.close()
    if not srv.alive():
        fail("server exited after resets")
    s = dial(srv.port)
    echo_check(srv, s, b"after the resets" * 1000, (16000,))
    s.close()
    return "200 reset connections, then a clean echo"


def sc_many_conns(srv):
    n = 2000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n + 100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 200), hard))
    socks = [dial(srv.port) for _ in range(n)]
    for i, s in enumerate(socks):
        s.sendall(b"%08d" % i)
    for i, s in enumerate(socks):
        got = recv_exact(s, 8)
        if got != b"%08d" % i:
            fail("connection {}: got {!r}".format(i, got))
    for s in socks:
        s.close()
    s = dial(srv.port)
    echo_check(srv, s, b"x" * 100, (100,))
    s.close()
    return "{} connections open at once, each echoed".format(n)


def sc_signals(srv):
    for sig in (signal.SIGINT, signal.SIGTERM):
        if sig == signal.SIGTERM:
            srv = Server(srv.cmd)
        s = dial(srv.port)
        echo_check(srv, s, b"hi", (2,))
        rc, took = srv.stop(sig)
        s.close()
        if rc != 0 or took > 1.0:
            fail("signal {}: exit {} after {:.2f} s (want 0 within 1 s)"
                 .format(sig, rc, took))
    return "SIGINT and SIGTERM: exit 0 within 1 s"


def sc_no_threads(srv):
    # Started with RLIMIT_AS capped (see Server): after a few hundred
    # threads pthread_create fails. Those connections must be closed (EOF
    # or reset), the ones that got a thread still echo, and once they are
    # gone new connections are served again.
    n = 1500
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n + 100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 200), hard))
    socks, served, refused = [], 0, 0
    for i in range(n):
        s = dial(srv.port)
        socks.append(s)
    for i, s in enumerate(socks):
        try:
            s.sendall(b"%08d" % i)
            got = s.recv(8)
        except (ConnectionResetError, BrokenPipeError):
            got = b""
        if got == b"":
            refused += 1
        elif got == b"%08d" % i:
            served += 1
        else:
            fail("connection {}: got {!r}".format(i, got))
    if not refused:
        fail("the thread limit was not reached ({} served)".format(served))
    if not served:
        fail("no connection was served")
    if not srv.alive():
        fail("server exited when it could not create a thread")
    for s in socks:
        s.close()
    time.sleep(0.5)
    s = dial(srv.port)
    echo_check(srv, s, b"served again" * 100, (1200,))
    s.close()
    return "{} served, {} closed for want of a thread, then served again" \
        .format(served, refused)


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        sys.exit(2)
    sc, cmd = sys.argv[1], sys.argv[2:]
    if sc == "usage":
        for h in ("-h", "--help"):
            r = subprocess.run(cmd + [h], capture_output=True, text=True,
                               timeout=5)
            if r.returncode != 0 or "usage" not in r.stdout.lower():
                fail("{}: exit {}, stdout {!r}".format(h, r.returncode,
                                                       r.stdout))
        r = subprocess.run(cmd + ["notaport"], capture_output=True,
                           text=True, timeout=5)
        # A one-line error: the usage, or the value and "Try ... --help".
        if r.returncode != 2 or ("usage" not in r.stderr and
                                 "--help" not in r.stderr):
            fail("bad port: exit {} (want 2), stderr {!r}".format(
                r.returncode, r.stderr))
        print("ok: usage")
        return
    fn = globals().get("sc_" + sc)
    if not fn:
        fail("unknown scenario " + sc)
    limit = None
    if sc == "no_threads" and b"__asan_init" in open(
            shutil.which(cmd[0]) or cmd[0], "rb").read():
        # AddressSanitizer reserves terabytes of address space: a capped
        # RLIMIT_AS stops it before main.
        print("skipped: an AddressSanitizer build cannot run under a "
              "small RLIMIT_AS")
        sys.exit(77)
    if sc == "no_threads":
        # 48 MiB of address space: a few hundred 64 KiB stacks.
        def limit():
            resource.setrlimit(resource.RLIMIT_AS, (48 << 20, 48 << 20))
    srv = Server(cmd, limit, "127.0.0.2" if sc == "host" else None)
    srv.cmd = cmd
    try:
        what = fn(srv)
        if srv.alive():
            rc, _ = srv.stop()
            if rc != 0:
                fail("exit status {} after SIGTERM".format(rc))
    finally:
        if srv.p.poll() is None:
            srv.p.kill()
            srv.p.wait()
    print("ok: " + what)


if __name__ == "__main__":
    main()
