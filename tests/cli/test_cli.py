#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_cli.py - the command-line conventions, checked on one program.

Usage: test_cli.py PROG -- CMD [ARGS...]

PROG is the name the program calls itself (ready-echo, uring-echo,
echo-load, min-epoll, min-uring, thread-echo, selectors_echo.py); CMD runs
it. Checked:
- `-h` and `--help` exit 0 at once, the same help on stdout ("Usage:"),
  nothing on stderr;
- a bad flag, and each bad value listed below for PROG, exit 2 at once
  with nothing on stdout and exactly two lines on stderr: one naming the
  option and the value, then "Try 'PROG --help' for more information.";
  no control bytes in them.
Nothing is ever started that serves: every case exits at once.
"""
import subprocess
import sys

# PROG -> [(argv, substrings the error line must hold), ...]
BAD = {
    "ready-echo": [
        (["--port", "70000"], ["--port", "70000"]),
        (["--stats=1"], ["--stats", "1"]),
        (["--backend", "kqueue"], ["--backend", "kqueue"]),
    ],
    "uring-echo": [
        (["--port", "x"], ["--port", "'x'"]),
        (["--stats=1"], ["--stats", "1"]),
        (["--sqpoll", "1"], ["--sqpoll=1"]),
        (["--send-zc", "8k"], ["--send-zc=8k"]),
        (["--mode", "turbo"], ["--mode", "turbo"]),
        (["--min-wait", "100001"], ["--min-wait", "'100001'"]),
    ],
    "echo-load": [
        (["--port", "7", "--duration", "1h"], ["--duration", "1h"]),
        (["--port", "7", "--conns", "0"], ["--conns", "'0'"]),
        (["--port", "7", "--csv=1"], ["--csv", "1"]),
        (["--port", "7", "--cpus", "z"], ["--cpus", "z"]),
    ],
    "min-epoll": [
        (["--port", "70000"], ["--port", "70000"]),
        (["99999"], ["99999"]),
        (["--host", "localhost"], ["--host", "localhost"]),
    ],
    "min-uring": [
        (["99999"], ["port", "99999"]),
        (["--host", "localhost"], ["--host", "localhost"]),
        (["1", "2"], ["unexpected argument", "2"]),
    ],
    "thread-echo": [
        (["99999"], ["port", "99999"]),
        (["--host", "::1"], ["--host", "::1"]),
    ],
    "ab.py": [
        (["-r", "x"], ["-r", "'x'"]),
        (["base"], ["NAME=COMMAND", "'base'"]),
    ],
    "selectors_echo.py": [
        (["--port", "70000"], ["--port", "70000"]),
        (["99999"], ["99999"]),
        (["--host", "::1"], ["--host", "::1"]),
    ],
}

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL: " + what)


def run(cmd, args):
    p = subprocess.run(cmd + args, stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=10)
    return p.returncode, p.stdout.decode("utf-8", "replace"), \
        p.stderr.decode("utf-8", "replace")


def check_help(prog, cmd):
    outs = []
    for flag in ("-h", "--help"):
        rc, out, err = run(cmd, [flag])
        check(rc == 0, "%s: exit %d, want 0; stderr %r" % (flag, rc, err))
        check(out.startswith("Usage: " + prog),
              "%s: stdout should start 'Usage: %s', got %r"
              % (flag, prog, out[:80]))
        check(err == "", "%s: stderr should be empty, got %r" % (flag, err))
        outs.append(out)
    check(outs[0] == outs[1], "-h and --help print different texts")


def check_bad(prog, cmd, args, needles):
    what = " ".join(args)
    rc, out, err = run(cmd, args)
    print("%s -> exit %d, stderr %r" % (what, rc, err))
    check(rc == 2, "%s: exit %d, want 2" % (what, rc))
    check(out == "", "%s: stdout should be empty, got %r" % (what, out))
    lines = err.split("\n")
    check(len(lines) == 3 and lines[2] == "",
          "%s: want exactly 2 lines on stderr, got %r" % (what, err))
    if len(lines) < 2:
        return
    first = lines[0]
    check(first.startswith(prog + ": "),
          "%s: error should start '%s: ', got %r" % (what, prog, first))
    for n in needles:
        check(n in first, "%s: error should name %r, got %r"
              % (what, n, first))
    check(all(c >= " " for c in first),
          "%s: control byte in the error %r" % (what, first))
    want = "Try '%s --help' for more information." % prog
    check(lines[1] == want, "%s: second line %r, want %r"
          % (what, lines[1], want))


def main():
    if len(sys.argv) < 4 or sys.argv[2] != "--":
        sys.stderr.write("usage: test_cli.py PROG -- CMD [ARGS...]\n")
        return 2
    prog, cmd = sys.argv[1], sys.argv[3:]
    check_help(prog, cmd)
    check_bad(prog, cmd, ["--no-such-flag"], ["--no-such-flag"])
    for args, needles in BAD.get(prog, []):
        check_bad(prog, cmd, args, needles)
    if failures:
        print("%d check(s) failed" % len(failures))
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
