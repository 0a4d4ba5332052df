#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_compare.py - compare.sh --smoke end to end, and its outputs checked.

Runs the smoke matrix against the binaries of this build (no rebuild) and
checks that raw.csv is complete and consistent: every server and cell has
a row; every row either measured something (messages > 0, no errors, the
server's CPU and, for our servers, syscalls per message present, the
generator's engine named) or says why it was skipped (only select past
FD_SETSIZE may be); one engine for every row, the one env.txt names;
memory.csv has every server; summary.csv and report.md exist and name
every server; each fixed-rate row names its offered rate and has its
.hgrm file.
Usage: test_compare.py COMPARE_SH BUILD_DIR
       test_compare.py --cli COMPARE_SH ENGINES_SH  (the command lines:
       --help, every bad option a one-line error and exit 2, suffixes)
"""
import csv
import os
import subprocess
import sys
import tempfile


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def check_rate_row(out, x, where):
    """A fixed-rate row: the rate it was offered, and its .hgrm file."""
    if not x["offered_rate"] or int(x["offered_rate"]) <= 0 or \
            x["load_pct"] not in x["cell"].split("-p")[-1:]:
        fail("{}: offered_rate '{}' load_pct '{}'".format(
            where, x["offered_rate"], x["load_pct"]))
    if "py-selectors" == x["server"]:
        fail("{}: the Python peer is not in the default rate set".format(
            where))
    hgrm = os.path.join(out, "hgrm", "{}.{}.{}.hgrm".format(
        x["server"], x["cell"], x["repeat"]))
    if not os.path.exists(hgrm):
        fail("{}: no {}".format(where, hgrm))
    text = open(hgrm).read().split("\n")
    if text[0].split() != ["Value", "Percentile", "TotalCount",
                           "1/(1-Percentile)"] or \
            not any(l.startswith("#[Mean    =") for l in text):
        fail("{}: {} is not in .hgrm form".format(where, hgrm))
    last = [l for l in text if l.strip() and not l.startswith("#")][-1]
    if last.split()[1] != "1.000000000000":
        fail("{}: {} does not end at percentile 1: {}".format(
            where, hgrm, last))


def cli(compare, engines):
    """compare.sh's and engines.sh's command lines, nothing run."""
    tmp = tempfile.mkdtemp(prefix="compare-cli-")
    for script, name in ((compare, "compare.sh"), (engines, "engines.sh")):
        r = subprocess.run(["bash", script, "--help"], capture_output=True,
                           text=True, timeout=10)
        if r.returncode != 0 or "--duration" not in r.stdout or r.stderr:
            fail("{} --help: exit {}, stdout {!r}, stderr {!r}".format(
                name, r.returncode, r.stdout[:200], r.stderr))
    cases = [
        (compare, ["--repeats"], "--repeats", None),
        (compare, ["--repeats", "x"], "--repeats", "x"),
        (compare, ["--repeats", "0"], "--repeats", "0"),
        (compare, ["--duration", "2x"], "--duration", "2x"),
        (compare, ["--duration", "1", "--warmup"], "--warmup", None),
        (compare, ["--warmup", "-1"], "--warmup", "-1"),
        (compare, ["--servers", "epoll,nosuch"], "--servers", "epoll,nosuch"),
        (compare, ["--servers", ""], "--servers", ""),
        (compare, ["--threads", "1,a"], "--threads", "1,a"),
        (compare, ["--engine", "kqueue"], "--engine", "kqueue"),
        (compare, ["--rates", "150"], "--rates", "150"),
        (compare, ["--rate-servers", "x"], "--rate-servers", "x"),
        (compare, ["--out"], "--out", None),
        (compare, ["--build"], "--build", None),
        (compare, ["--bogus"], "--bogus", None),
        (engines, ["--duration"], "--duration", None),
        (engines, ["--duration", "0.5"], "--duration", "0.5"),
        (engines, ["--size", "big"], "--size", "big"),
        (engines, ["--mode", "rate"], "--mode", "rate"),
        (engines, ["--conns", "1,x"], "--conns", "1,x"),
        (engines, ["--repeats", "-3"], "--repeats", "-3"),
        (engines, ["--nope"], "--nope", None),
    ]
    for script, args, opt, val in cases:
        name = os.path.basename(script)
        out = os.path.join(tmp, "out")
        # --out and --build first: a bad option later must stop the run
        # before either is created (nothing built, nothing written).
        pre = ["--out", out]
        pre += ["--build", os.path.join(tmp, "build")]
        r = subprocess.run(["bash", script] + pre + args,
                           capture_output=True, text=True, timeout=10)
        lines = r.stderr.strip().split("\n")
        what = "{} {}".format(name, " ".join(repr(a) for a in args))
        if r.returncode != 2:
            fail("{}: exit {} (want 2); stderr {!r}".format(
                what, r.returncode, r.stderr))
        if len(lines) != 2 or lines[1] != "Try '{} --help'".format(name):
            fail("{}: want one line and the hint, got {!r}".format(
                what, r.stderr))
        if opt not in lines[0] or (val is not None and
                                   "'{}'".format(val) not in lines[0]):
            fail("{}: the line does not name {} and {!r}: {!r}".format(
                what, opt, val, lines[0]))
        if "unbound" in r.stderr or "line " in r.stderr:
            fail("{}: a bash error: {!r}".format(what, r.stderr))
        if os.path.exists(out) or os.path.exists(os.path.join(tmp, "build")):
            fail("{}: something was created before the usage error".format(
                what))
    # Suffixes become plain seconds; explicit options win over a profile.
    r = subprocess.run(["bash", compare, "--smoke", "--duration", "1500ms",
                        "--warmup", "0.2s", "--repeats", "2", "--rates",
                        "30,60", "--dry-run"], capture_output=True,
                       text=True, timeout=10)
    for want in ("duration=1.5 ", "warmup=0.2 ", "repeats=2 ",
                 "rates=30,60 ", "profile=smoke "):
        if r.returncode != 0 or want not in r.stdout:
            fail("--dry-run: want {!r} in {!r} (exit {}, {!r})".format(
                want, r.stdout, r.returncode, r.stderr))
    print("ok: --help, {} bad command lines, suffixes".format(len(cases)))


def main():
    if sys.argv[1] == "--cli":
        cli(sys.argv[2], sys.argv[3])
        return
    compare, build = sys.argv[1], sys.argv[2]
    out = tempfile.mkdtemp(prefix="compare-smoke-")
    r = subprocess.run(["bash", compare, "--smoke", "--no-build", "--build",
                        build, "--out", out], capture_output=True, text=True,
                       timeout=240)
    if r.returncode != 0:
        fail("compare.sh exited {}: {}".format(r.returncode, r.stderr[-2000:]))
    rows = list(csv.DictReader(open(os.path.join(out, "raw.csv"))))
    servers = sorted({x["server"] for x in rows})
    cells = sorted({x["cell"] for x in rows})
    want = {"select", "poll", "epoll", "epoll-et", "min-epoll",
            "py-selectors", "thread-echo"}
    if os.path.exists(os.path.join(build, "uring", "uring-echo")):
        want |= {"uring-basic", "uring-multishot", "min-uring"}
    if not want <= set(servers):
        fail("servers missing from raw.csv: {}".format(
            sorted(want - set(servers))))
    if len(cells) < 4:
        fail("expected at least 4 cells, got {}".format(cells))
    rate_cells = [c for c in cells if c.startswith("rate-")]
    if not rate_cells:
        fail("no fixed-rate (equal load) cell: {}".format(cells))
    seen = {(x["server"], x["cell"]) for x in rows}
    for s in servers:
        for c in cells:
            if s == "py-selectors" and c in rate_cells:
                continue
            if (s, c) not in seen:
                fail("no row for {} in {}".format(s, c))
    cpu_seen = set()
    for x in rows:
        where = "{} {}".format(x["server"], x["cell"])
        if x["msgs_per_s"] == "":
            if not (x["server"] == "select" and "FD_SETSIZE" in x["note"]):
                fail("{}: no measurement ({})".format(where, x["note"]))
            continue
        if float(x["msgs_per_s"]) <= 0:
            fail("{}: zero messages/s".format(where))
        if x["errors"] != "0":
            fail("{}: {} errors".format(where, x["errors"]))
        # CPU comes in clock ticks (10 ms): a 0.2 s window of a server
        # slowed by a busy host can read 0, so every row must have the
        # column, and every server a CPU reading above 0 somewhere.
        if x["srv_cpu_us_per_msg"] == "" or x["srv_cpu_pct"] == "":
            fail("{}: no server CPU measured".format(where))
        if float(x["srv_cpu_pct"]) > 0:
            cpu_seen.add(x["server"])
        if x["kind"] != "peer" and (x["syscalls_per_msg"] == "" or
                                    float(x["syscalls_per_msg"]) <= 0):
            fail("{}: no syscalls per message".format(where))
        if float(x["p50_us"]) <= 0 or float(x["p99_us"]) < float(x["p50_us"]):
            fail("{}: inconsistent latency p50 {} p99 {}".format(
                where, x["p50_us"], x["p99_us"]))
        if x["gen_engine"] not in ("epoll", "uring"):
            fail("{}: generator engine '{}'".format(where, x["gen_engine"]))
        if x["mode"] == "rate":
            check_rate_row(out, x, where)
        elif x["offered_rate"] or x["load_pct"]:
            fail("{}: closed-loop row with an offered rate".format(where))
    if set(servers) - cpu_seen:
        fail("no server CPU above 0 in any row of {}".format(
            sorted(set(servers) - cpu_seen)))
    engines = {x["gen_engine"] for x in rows if x["msgs_per_s"] != ""}
    if len(engines) != 1:
        fail("generator engines differ between rows: {}".format(engines))
    env = open(os.path.join(out, "env.txt")).read()
    line = [e for e in env.split("\n")
            if e.startswith("generator: echo-load --engine auto: ")]
    if not line or line[0].split(": ")[2].split(" ")[0] not in engines:
        fail("env.txt does not name the engine the rows used ({}): {}".format(
            engines, line))
    mem = {x["server"] for x in csv.DictReader(
        open(os.path.join(out, "memory.csv")))}
    if not want <= mem:
        fail("memory.csv lacks {}".format(sorted(want - mem)))
    report = open(os.path.join(out, "report.md")).read()
    for s in want:
        if s not in report:
            fail("report.md does not mention " + s)
    if not os.path.exists(os.path.join(out, "summary.csv")):
        fail("no summary.csv")
    print("ok: {} servers x {} cells, {} rows; results in {}".format(
        len(servers), len(cells), len(rows), out))


if __name__ == "__main__":
    main()
