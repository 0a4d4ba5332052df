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
       test_compare.py --report REPORT_PY  (report.py on made-up rows: the
       summary matrix, ties, labels, plots)
       test_compare.py --netns COMPARE_SH BUILD_DIR  (root: --netns --smoke
       measures every row over veth and leaves no namespace, also when
       stopped with SIGTERM; it refuses cleanly without root or ip; exit 77
       when not root or no ip)
"""
import csv
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time


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


def ready_rows(compare):
    """compare.sh's readiness rows: one per backend of
    readiness/backends.txt, NAME-et for those that take --edge."""
    top = os.path.dirname(os.path.dirname(os.path.abspath(compare)))
    rows = set()
    for line in open(os.path.join(top, "readiness", "backends.txt")):
        words = line.split()
        if words and not words[0].startswith("#"):
            rows.add(words[0])
            if "edge" in words[1:]:
                rows.add(words[0] + "-et")
    return rows


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
                 "rates=30,60 ", "profile=smoke ", "netns=0"):
        if r.returncode != 0 or want not in r.stdout:
            fail("--dry-run: want {!r} in {!r} (exit {}, {!r})".format(
                want, r.stdout, r.returncode, r.stderr))
    print("ok: --help, {} bad command lines, suffixes".format(len(cases)))


RAW_COLS = ("server,kind,cell,mode,conns,size,idle,repeat,msgs_per_s,"
            "mib_per_s,p50_us,p90_us,p99_us,p999_us,max_us,errors,"
            "gen_cpu_pct,gen_saturated,srv_cpu_us_per_msg,srv_cpu_pct,"
            "syscalls_per_msg,ctx_per_msg,rss_kib,note,gen_engine,"
            "offered_rate,load_pct").split(",")


def check_report(report_py):
    """report.py on made-up rows whose verdicts are known."""
    out = tempfile.mkdtemp(prefix="compare-report-")
    os.makedirs(os.path.join(out, "logs"))
    open(os.path.join(out, "env.txt"), "w").write("made up\n")
    rawf = open(os.path.join(out, "raw.csv"), "w")
    w = csv.DictWriter(rawf, RAW_COLS)
    w.writeheader()

    def row(server, cell, mode, conns, size, rep, mps, cpu, idle=0,
            note="", rate=""):
        d = dict.fromkeys(RAW_COLS, "")
        d.update(server=server, kind="ready", cell=cell, mode=mode,
                 conns=conns, size=size, idle=idle, repeat=rep, note=note,
                 gen_engine="uring", offered_rate=rate,
                 load_pct=cell.split("-p")[-1] if rate else "")
        if mps is not None:
            d.update(msgs_per_s=mps, p50_us=10, p99_us=cpu * 10,
                     p999_us=cpu * 20, errors=0, gen_saturated=0,
                     srv_cpu_us_per_msg=cpu, srv_cpu_pct=50,
                     syscalls_per_msg=1)
        w.writerow(d)
    # CPU per message, three repeats each:
    #   pingpong 64 B: multishot 20 % cheaper, ranges apart: a win;
    #   pipeline 64 B: 5 % apart: a tie;
    #   pingpong 16 KiB: 30 % apart but the ranges overlap: a tie.
    cpu = {("pingpong", 64): ((8, 8.1, 8.2), (10, 10.1, 10.2)),
           ("pipeline", 64): ((9.5, 9.6, 9.7), (10, 10.1, 10.2)),
           ("pingpong", 16384): ((7, 7.1, 12), (10, 10.1, 10.2))}
    for (mode, size), (ms, ep) in cpu.items():
        cell = "{}-c16-s{}".format(mode, size)
        for rep in range(3):
            row("uring-multishot", cell, mode, 16, size, rep + 1,
                1e6 / ms[rep], ms[rep])
            row("epoll", cell, mode, 16, size, rep + 1, 1e6 / ep[rep],
                ep[rep])
    row("select", "pingpong-c4096-s64", "pingpong", 4096, 64, 1, None, None,
        note="skipped: FD_SETSIZE")
    for rep in range(3):
        row("select", "idle-i2000", "idle", 16, 64, rep + 1, 1000, 5,
            idle=984, note="idle capped at 984 (FD_SETSIZE)")
        row("epoll", "idle-i2000", "idle", 16, 64, rep + 1, 1000, 5,
            idle=2000)
        for pct in (50, 90):
            for srv in ("epoll", "uring-multishot"):
                row(srv, "rate-c256-s64-p{}".format(pct), "rate", 256, 64,
                    rep + 1, 100 * pct, 4 + rep / 10.0, rate=100 * pct)
    rawf.close()
    r = subprocess.run([sys.executable, report_py, out], capture_output=True,
                       text=True, timeout=60)
    if r.returncode != 0:
        fail("report.py exited {}: {}".format(r.returncode, r.stderr))
    md = open(os.path.join(out, "report.md")).read()
    head = md[:md.index("## Environment")]
    if "## Summary" not in head or "| pingpong, 64 B |" not in head:
        fail("report.md does not start with the summary matrix")
    for want in ("| pingpong, 64 B | 0.80x **multishot** |",
                 "| pipeline, 64 B | 0.95x tie |",
                 "| pingpong, 16384 B | 0.70x tie |"):
        if want not in head:
            fail("summary matrix lacks {!r}:\n{}".format(want, head))
    if "Equal load" not in head:
        fail("no equal-load row in the summary")
    if "p99 us throughput-bound" not in md or "p99 us at equal rate" \
            not in md:
        fail("latency columns are not labelled throughput-bound / at "
             "equal rate")
    if "a tie between uring-multishot, epoll" not in md and \
            "a tie between epoll, uring-multishot" not in md:
        fail("the 5 % cell is not called a tie")
    if "(8.1" not in md and "8.10 (8.00-8.20)" not in md:
        fail("no min-max spread in the cell tables")
    summ = list(csv.DictReader(open(os.path.join(out, "summary.csv"))))
    if not summ or "srv_cpu_us_per_msg_min" not in summ[0]:
        fail("summary.csv has no min/max columns")
    if shutil.which("gnuplot"):
        pdir = os.path.join(out, "plots")
        for name in ("throughput-pingpong-16384", "cpu-pipeline-64",
                     "p99-pingpong-64", "idle-scaling", "latency-vs-load"):
            if not os.path.exists(os.path.join(pdir, name + ".png")):
                fail("no plot " + name)
        idle = open(os.path.join(pdir, "idle-scaling.dat")).read()
        if "984" not in idle:
            fail("select's capped idle point is not at 984")
        if "better" not in open(os.path.join(
                pdir, "throughput-pingpong-64.dat")).read() and \
                "better" not in md:
            fail("no better-direction label")
    print("ok: report.py verdicts, matrix, labels, plots in " + out)


def ns_names():
    r = subprocess.run(["ip", "netns", "list"], capture_output=True,
                       text=True, timeout=10)
    return {l.split()[0] for l in r.stdout.split("\n") if l.strip()}


def ns_refused(compare, build, tmp):
    """--netns where it cannot work: exit 1, one line naming the cause,
    nothing written. Without ip in PATH, and (with setpriv) as nobody."""
    bindir = os.path.join(tmp, "bin")
    os.makedirs(bindir)
    for tool in ("dirname", "id", "awk", "cat"):
        os.symlink(shutil.which(tool), os.path.join(bindir, tool))
    cases = [("no ip", [shutil.which("bash")], {"PATH": bindir}, "ip")]
    if shutil.which("setpriv"):
        cases.append(("not root", ["setpriv", "--reuid=65534",
                                   "--regid=65534", "--clear-groups",
                                   "bash"], {}, "root"))
    for what, pre, env, needle in cases:
        out = os.path.join(tmp, "out-" + what.replace(" ", "-"))
        r = subprocess.run(pre + [compare, "--netns", "--smoke",
                                  "--no-build", "--build", build, "--out",
                                  out], capture_output=True, text=True,
                           timeout=20, env=dict(os.environ, **env))
        lines = r.stderr.strip().split("\n")
        if r.returncode != 1 or len(lines) != 1 or needle not in lines[0] \
                or "--netns" not in lines[0]:
            fail("--netns, {}: exit {} (want 1), stderr {!r} (want one "
                 "line naming --netns and {})".format(
                     what, r.returncode, r.stderr, needle))
        if os.path.exists(out):
            fail("--netns, {}: {} was created".format(what, out))
    return len(cases)


def netns(compare, build):
    """compare.sh --netns --smoke: every row measured over the veth pair,
    env.txt and report.md say so, and every namespace it made is gone
    afterwards, also when it is stopped with SIGTERM in the middle."""
    if os.geteuid() != 0:
        print("skipped: compare.sh --netns needs root")
        sys.exit(77)
    if not shutil.which("ip"):
        print("skipped: compare.sh --netns needs ip (iproute2)")
        sys.exit(77)
    tmp = tempfile.mkdtemp(prefix="compare-netns-")
    refused = ns_refused(compare, build, tmp)
    before = ns_names()
    out = os.path.join(tmp, "run")
    p = subprocess.Popen(["bash", compare, "--netns", "--smoke",
                          "--no-build", "--build", build, "--out", out],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    _, err = p.communicate(timeout=280)
    mine = {"echolab-{}-srv".format(p.pid), "echolab-{}-gen".format(p.pid)}
    if p.returncode != 0:
        fail("compare.sh --netns exited {}: {}".format(p.returncode,
                                                       err[-2000:]))
    left = ns_names() - before
    if left or mine & ns_names():
        fail("namespaces left after the run: {}".format(
            sorted(left | (mine & ns_names()))))
    rows = list(csv.DictReader(open(os.path.join(out, "raw.csv"))))
    servers = {x["server"] for x in rows}
    want = {"select", "poll", "epoll", "epoll-et", "min-epoll",
            "py-selectors", "thread-echo"}
    if os.path.exists(os.path.join(build, "uring", "uring-echo")):
        want |= {"uring-basic", "uring-multishot", "min-uring"}
    if not want <= servers:
        fail("servers missing from raw.csv: {}".format(
            sorted(want - servers)))
    for x in rows:
        where = "{} {}".format(x["server"], x["cell"])
        if x["msgs_per_s"] == "" or float(x["msgs_per_s"]) <= 0 or \
                x["errors"] != "0":
            fail("{}: not measured over veth: msgs/s {!r}, errors {!r}, "
                 "note {!r}".format(where, x["msgs_per_s"], x["errors"],
                                    x["note"]))
    env = open(os.path.join(out, "env.txt")).read()
    for name in mine:
        if name not in env:
            fail("env.txt does not name the namespace " + name)
    if "network: veth between network namespaces" not in env or \
            "GRO" not in env:
        fail("env.txt does not say the run was over veth:\n" + env)
    # The counters read at the end: traffic crossed the pair, and none
    # went over the server namespace's lo.
    lines = [l.strip() for l in env.split("\n")]
    veth = [l for l in lines if l.startswith("els") and "namespace" in l]
    lo = [l for l in lines if l.startswith("lo in")]
    if not veth or " rx 0 packets" in veth[0] or not lo or \
            " rx 0 packets" not in lo[0]:
        fail("env.txt's counters: veth {!r}, lo {!r}".format(veth, lo))
    # With ethtool, GRO on and TSO off: TCP went through veth's NAPI.
    napi = [l for l in lines if "through veth's NAPI" in l]
    if shutil.which("ethtool") and (not napi or ": 0 packets" in napi[0]):
        fail("nothing received through veth's NAPI: {!r}".format(napi))
    report = open(os.path.join(out, "report.md")).read()
    if not report.startswith("# echo-lab comparison over veth") or \
            "**Network path:** veth" not in report[:600]:
        fail("report.md's header does not say veth: {!r}".format(
            report[:300]))
    # Stopped mid-run: compare.sh ends its server and generator and
    # removes both namespaces; no process is left in either.
    out2 = os.path.join(tmp, "stopped")
    p = subprocess.Popen(["bash", compare, "--netns", "--smoke",
                          "--no-build", "--build", build, "--out", out2],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         text=True)
    mine = {"echolab-{}-srv".format(p.pid), "echolab-{}-gen".format(p.pid)}
    raw2 = os.path.join(out2, "raw.csv")
    deadline = time.monotonic() + 120
    inodes = set()
    while time.monotonic() < deadline and p.poll() is None:
        try:
            inodes = {os.stat("/run/netns/" + n).st_ino for n in mine}
            if len(inodes) == 2 and \
                    len(open(raw2).read().split("\n")) >= 4:
                break
        except OSError:
            pass
        time.sleep(0.1)
    if p.poll() is not None or len(inodes) != 2:
        p.kill()
        fail("no namespaces and rows to interrupt (exit {}): {}".format(
            p.poll(), p.stderr.read()[-1000:]))
    p.send_signal(signal.SIGTERM)
    try:
        rc = p.wait(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        fail("compare.sh still running 30 s after SIGTERM")
    if rc != 143:
        fail("compare.sh after SIGTERM: exit {} (want 143): {}".format(
            rc, p.stderr.read()[-1000:]))
    if mine & ns_names() or ns_names() - before:
        fail("namespaces left after SIGTERM: {}".format(
            sorted((mine & ns_names()) | (ns_names() - before))))
    stuck = []
    for pid in os.listdir("/proc"):
        try:
            if pid.isdigit() and \
                    os.stat("/proc/{}/ns/net".format(pid)).st_ino in inodes:
                stuck.append(pid)
        except OSError:
            pass
    if stuck:
        fail("processes still in the removed namespaces: {}".format(stuck))
    print("ok: {} rows over veth, {} refusals, no namespace left after a "
          "run and after SIGTERM; results in {}".format(
              len(rows), refused, out))


def main():
    if sys.argv[1] == "--netns":
        netns(sys.argv[2], sys.argv[3])
        return
    if sys.argv[1] == "--report":
        check_report(sys.argv[2])
        return
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
    want = {"min-epoll", "py-selectors", "thread-echo"} | ready_rows(compare)
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
