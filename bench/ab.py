#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""ab.py - two (or more) servers on one load, side by side, as ratios.

    bench/ab.py [options] NAME=COMMAND [NAME=COMMAND ...]

Each COMMAND is a server that takes `--port 0` and prints `listening on
HOST:PORT` first (our servers; for the reference peers, whose port is an
argument, end the command with `{port0}` and it becomes `0`). Every round
runs each server once, in an order rotated round by round, on the same
echo-load cell; the server pinned to one CPU, the generator to the other.
Per run: server CPU time over the measured interval, summed over all its
threads from /proc/PID/task/*/schedstat (ns), divided by the messages the
generator counted. Prints, per server, the median CPU per message and
messages/s with their min-max, and the median of the per-round ratios
against the first server: the form the developers' guide asks for
(this machine is noisy; one server against itself spreads 5-10 %).

Example, the 16 KiB ping-pong cell, main's multishot against a patched one:
    bench/ab.py -r 5 --load "--conns 16 --size 16k" \\
        base="build-base/uring/uring-echo --mode multishot" \\
        new="build-release/uring/uring-echo --mode multishot"
"""
import argparse
import json
import os
import shlex
import signal
import statistics
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def task_ns(pid):
    """CPU time of every thread of pid so far, in ns (schedstat)."""
    total = 0
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return 0
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except (FileNotFoundError, ProcessLookupError, ValueError):
            pass
    return total


def start(cmd, cpu):
    argv = shlex.split(cmd)
    if "{port0}" in argv:
        argv = [a.replace("{port0}", "0") for a in argv]
    else:
        argv += ["--port", "0"]
    if cpu is not None:
        argv = ["taskset", "-c", str(cpu)] + argv
    p = subprocess.Popen(argv, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True)
    line = p.stdout.readline().strip()
    if not line.startswith("listening on "):
        p.kill()
        p.wait()
        sys.exit(f"ab.py: {cmd!r} did not start (first line: {line!r})")
    return p, int(line.rsplit(":", 1)[1])


def stop(p):
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(timeout=3)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def run_one(args, cmd):
    srv, port = start(cmd, args.srv_cpu)
    gen = [args.load, "--port", str(port), "--json",
           "--duration", str(args.duration), "--warmup", str(args.warmup)]
    gen += shlex.split(args.load_args)
    if args.gen_cpu is not None:
        gen += ["--cpus", str(args.gen_cpu)]
    g = subprocess.Popen(gen, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    # The generator's measured interval starts after its warm-up.
    time.sleep(args.warmup + 0.05)
    t0, c0 = time.monotonic(), task_ns(srv.pid)
    time.sleep(max(args.duration - 0.1, 0.05))
    t1, c1 = time.monotonic(), task_ns(srv.pid)
    out, err = g.communicate()
    stop(srv)
    if g.returncode != 0:
        sys.exit(f"ab.py: echo-load failed on {cmd!r}: {err.strip()}")
    r = json.loads(out.strip().splitlines()[-1])
    rate = r["msgs_per_s"]
    # CPU over our window, messages over the same window at the
    # generator's measured rate.
    return {"us_per_msg": (c1 - c0) / 1e3 / (rate * (t1 - t0)),
            "msgs_per_s": rate, "p99_us": r["p99_us"],
            "gen_saturated": r.get("gen_saturated", 0)}


def spread(xs):
    return f"{statistics.median(xs):.3f} [{min(xs):.3f}-{max(xs):.3f}]"


class Parser(argparse.ArgumentParser):
    """The project's conventions: "Usage:" help on stdout; an error is one
    line naming the option and the value, then the hint, exit 2."""

    def format_help(self):
        text = super().format_help()
        return "Usage:" + text[len("usage:"):] if text.startswith(
            "usage:") else text

    def error(self, message):
        sys.stderr.write(f"ab.py: {message}\n"
                         "Try 'ab.py --help' for more information.\n")
        sys.exit(2)


def main():
    ap = Parser(prog="ab.py",
                description="servers on one echo-load cell, side by "
                "side, as ratios")
    ap.add_argument("servers", nargs="*", metavar="NAME=COMMAND")
    ap.add_argument("-r", "--rounds", type=int, default=5)
    ap.add_argument("--load", default=os.path.join(
        TOP, "build-release", "bench", "echo-load"))
    ap.add_argument("--load-args", "--cell", default="",
                    help="echo-load options of the cell (mode, conns, size)")
    ap.add_argument("--duration", type=float, default=2.0)
    ap.add_argument("--warmup", type=float, default=0.5)
    ap.add_argument("--srv-cpu", type=int, default=1)
    ap.add_argument("--gen-cpu", type=int, default=0)
    args = ap.parse_args()
    if os.cpu_count() < 2:
        args.srv_cpu = args.gen_cpu = None
    if not args.servers:
        ap.error("expected at least one NAME=COMMAND")
    servers = []
    for s in args.servers:
        name, sep, cmd = s.partition("=")
        if not sep or not cmd:
            ap.error(f"expected NAME=COMMAND, got {s!r}")
        servers.append((name, cmd))
    res = {name: [] for name, _ in servers}
    for rnd in range(args.rounds):
        k = rnd % len(servers)
        for name, cmd in servers[k:] + servers[:k]:
            res[name].append(run_one(args, cmd))
    base = servers[0][0]
    print(f"cell: {args.load_args or '(echo-load defaults)'}; "
          f"{args.rounds} rounds x {args.duration} s, order rotated")
    print(f"{'server':<14} {'CPU us/msg':<24} {'x ' + base:<22} "
          f"{'msgs/s':<30} p99 us (median)")
    for name, _ in servers:
        us = [x["us_per_msg"] for x in res[name]]
        ratio = [a["us_per_msg"] / b["us_per_msg"]
                 for a, b in zip(res[name], res[base])]
        rate = [x["msgs_per_s"] for x in res[name]]
        p99 = statistics.median(x["p99_us"] for x in res[name])
        sat = sum(x["gen_saturated"] for x in res[name])
        note = f"  generator saturated in {sat} runs" if sat else ""
        print(f"{name:<14} {spread(us):<24} {spread(ratio):<22} "
              f"{statistics.median(rate):<10.0f} [{min(rate):.0f}-"
              f"{max(rate):.0f}]   {p99:.1f}{note}")


if __name__ == "__main__":
    main()
