#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""selectors_echo.py - the seed's approach as a reference row of compare.sh.

A Python `selectors` echo server (DefaultSelector: epoll on Linux), written
the way the standard library documents it, but correct: non-blocking
sockets, output kept per connection and finished on EVENT_WRITE before
reading more (short sends), EOF and errors close. Usage:
selectors_echo.py [PORT]; prints "listening on 127.0.0.1:PORT"; SIGINT or
SIGTERM exits 0.
"""
import selectors
import signal
import socket
import sys

BUF = 65536


def main():
    sel = selectors.DefaultSelector()
    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    lsock.bind(("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 0))
    lsock.listen(4096)
    lsock.setblocking(False)
    sel.register(lsock, selectors.EVENT_READ, None)
    print("listening on 127.0.0.1:%d" % lsock.getsockname()[1], flush=True)
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
