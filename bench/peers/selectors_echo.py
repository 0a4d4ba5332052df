#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""selectors_echo.py - the seed's approach as a reference row of compare.sh.

A Python `selectors` echo server (DefaultSelector: epoll on Linux), written
the way the standard library documents it, but correct: non-blocking
sockets, output kept per connection and finished on EVENT_WRITE before
reading more (short sends), EOF and errors close. Usage:
selectors_echo.py [PORT | --port N] [--host ADDR] (127.0.0.1 unless given);
prints "listening on ADDR:PORT"; SIGINT or SIGTERM exits 0; -h/--help; bad usage is one line and exit 2,
like the other programs.
"""
import selectors
import signal
import socket
import sys

BUF = 65536
PROG = "selectors_echo.py"
USAGE = """\
Usage: selectors_echo.py [PORT] [--port N] [--host ADDR]
A Python selectors echo server: a reference row of bench/compare.sh.
  PORT, --port N      TCP port, 0 or absent picks a free one
  --host ADDR         numeric IPv4 address to listen on (127.0.0.1)
  -h, --help          show this help
The first stdout line is "listening on ADDR:PORT"; SIGINT or
SIGTERM stops it. Exit status: 0 stopped, 1 runtime failure, 2 bad
usage.
"""


def bad(what):
    """One line naming what is wrong, then the hint; exit status 2."""
    sys.stderr.write("%s: %s\nTry '%s --help' for more information.\n"
                     % (PROG, what.encode("unicode_escape", "replace")
                        .decode("ascii"), PROG))
    sys.exit(2)


def parse_args(argv):
    """(host, port) from argv (port 0: any); prints the help and exits on
    -h."""
    val, host, i = None, "127.0.0.1", 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("-h", "--help"):
            sys.stdout.write(USAGE)
            sys.exit(0)
        if arg == "--host" or arg.startswith("--host="):
            if arg == "--host":
                if i + 1 == len(argv):
                    bad("option '--host' needs a value")
                i += 1
                arg = argv[i]
            else:
                arg = arg[len("--host="):]
            try:
                socket.inet_pton(socket.AF_INET, arg)
            except (OSError, ValueError):
                bad("--host '%s': expected a numeric IPv4 address" % arg)
            host = arg
            i += 1
            continue
        if arg == "--port":
            if i + 1 == len(argv):
                bad("option '--port' needs a value")
            i += 1
            arg = argv[i]
        elif arg.startswith("--port="):
            arg = arg[len("--port="):]
        elif arg.startswith("-") and arg != "-":
            bad("unknown option '%s'" % arg)
        if val is not None:
            bad("unexpected argument '%s'" % arg)
        val = arg
        i += 1
    if val is None:
        return host, 0
    if not val.isdigit() or not val.isascii() or int(val) > 65535:
        bad("--port '%s': expected 0..65535" % val)
    return host, int(val)


def main():
    host, port = parse_args(sys.argv[1:])
    sel = selectors.DefaultSelector()
    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    lsock.bind((host, port))
    lsock.listen(4096)
    lsock.setblocking(False)
    sel.register(lsock, selectors.EVENT_READ, None)
    print("listening on %s:%d" % lsock.getsockname(), flush=True)
    # Raise from the handler: PEP 475 would otherwise retry select().
    def on_signal(*_):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    pending = {}  # socket -> bytes not yet echoed

    def close(sock):
        sel.unregister(sock)
        pending.pop(sock, None)
        sock.close()

    while True:
        try:
            events = sel.select()
        except InterruptedError:
            continue
        for key, mask in events:
            sock = key.fileobj
            if key.data is None:
                try:
                    while True:
                        conn, _ = sock.accept()
                        conn.setblocking(False)
                        sel.register(conn, selectors.EVENT_READ, "c")
                except BlockingIOError:
                    pass
                continue
            try:
                out = pending.get(sock, b"")
                if not out:
                    out = sock.recv(BUF)
                    if not out:
                        close(sock)
                        continue
                n = sock.send(out)
                out = out[n:]
            except BlockingIOError:
                n = 0
            except OSError:
                close(sock)
                continue
            if out:
                pending[sock] = out
                sel.modify(sock, selectors.EVENT_WRITE, "c")
            elif sock in pending:
                del pending[sock]
                sel.modify(sock, selectors.EVENT_READ, "c")


if __name__ == "__main__":
    sys.exit(main())
