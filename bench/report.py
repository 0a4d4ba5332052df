#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""report.py - turn compare.sh's raw rows into medians, ratios and plots.

Reads DIR/raw.csv, DIR/memory.csv, DIR/env.txt and DIR/logs/startup-*.txt;
writes DIR/summary.csv (median and spread per server and cell),
DIR/report.md (each server against epoll as ratios, the winner per row),
and PNG plots with gnuplot when it is installed (a one-line note when not).
Standard library only.
"""
import csv
import glob
import os
import shutil
import statistics
import subprocess
import sys

METRICS = ["msgs_per_s", "srv_cpu_us_per_msg", "syscalls_per_msg",
           "p50_us", "p99_us", "p999_us", "srv_cpu_pct", "gen_cpu_pct",
           "ctx_per_msg", "rss_kib"]
BASE = "epoll"
# A server process at or above this share of its core was kept busy: the
# same threshold echo-load uses for its own saturation flag.
SRV_BUSY_PCT = 90.0


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def load_raw(path):
    rows = list(csv.DictReader(open(path)))
    groups, notes = {}, {}
    order_s, order_c = [], []
    for r in rows:
        key = (r["server"], r["cell"])
        if r["server"] not in order_s:
            order_s.append(r["server"])
        if r["cell"] not in order_c:
            order_c.append(r["cell"])
        if r["msgs_per_s"] == "":
            notes[key] = r["note"]
            continue
        groups.setdefault(key, []).append(r)
    return groups, notes, order_s, order_c


def summarize(groups):
    out = {}
    for key, rs in groups.items():
        s = {"n": len(rs), "meta": rs[0]}
        for m in METRICS:
            vals = [num(r[m]) for r in rs if num(r[m]) is not None]
            if not vals:
                s[m] = None
                continue
            med = statistics.median(vals)
            s[m] = med
            s[m + "_spread"] = (100.0 * (max(vals) - min(vals)) / med
                                if med else 0.0)
        s["errors"] = sum(int(num(r["errors"]) or 0) for r in rs)
        s["saturated"] = any(r["gen_saturated"] == "1" for r in rs)
        s["note"] = "; ".join(sorted({r["note"] for r in rs if r["note"]}))
        out[key] = s
    return out


def fmt(v, digits=1):
    if v is None:
        return "-"
    if abs(v) >= 1000:
        return "{:,.0f}".format(v)
    return "{:.{}f}".format(v, digits)


def ratio(v, b):
    if v is None or b in (None, 0):
        return "-"
    return "{:.2f}x".format(v / b)


def write_summary(path, summ, servers, cells):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["server", "cell", "mode", "conns", "size", "idle",
                    "repeats"] + [c for m in METRICS
                                  for c in (m, m + "_spread_pct")] +
                   ["errors", "gen_saturated", "note"])
        for c in cells:
            for s in servers:
                x = summ.get((s, c))
                if not x:
                    continue
                m = x["meta"]
                w.writerow([s, c, m["mode"], m["conns"], m["size"],
                            m["idle"], x["n"]] +
                           [v for k in METRICS for v in (
                               "" if x[k] is None else "{:.4g}".format(x[k]),
                               "" if x[k] is None else
                               "{:.1f}".format(x[k + "_spread"]))] +
                           [x["errors"], int(x["saturated"]), x["note"]])


def cell_table(c, summ, notes, servers):
    base = summ.get((BASE, c))
    lines = ["| server | msgs/s | vs epoll | server CPU us/msg | vs epoll "
             "| syscalls/msg | p50 us | p99 us | p99.9 us | spread | notes |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    best, best_v = None, None
    for s in servers:
        x = summ.get((s, c))
        if x and x["srv_cpu_us_per_msg"] is not None and not x["errors"]:
            if best_v is None or x["srv_cpu_us_per_msg"] < best_v:
                best, best_v = s, x["srv_cpu_us_per_msg"]
    for s in servers:
        x = summ.get((s, c))
        if not x:
            if (s, c) in notes:
                lines.append("| {} | | | | | | | | | | {} |".format(
                    s, notes[(s, c)]))
            continue
        flags = []
        if x["saturated"] and (x["srv_cpu_pct"] or 0) >= SRV_BUSY_PCT:
            flags.append("generator and server cores both saturated")
        elif x["saturated"]:
            flags.append("generator saturated (server core {:.0f}%)".format(
                x["srv_cpu_pct"] or 0))
        if x["errors"]:
            flags.append("{} errors".format(x["errors"]))
        if x["note"]:
            flags.append(x["note"])
        name = "**{}**".format(s) if s == best else s
        spread = max(x.get("msgs_per_s_spread", 0),
                     x.get("srv_cpu_us_per_msg_spread", 0) or 0)
        lines.append("| {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.0f}% "
                     "| {} |".format(
                         name, fmt(x["msgs_per_s"], 0),
                         ratio(x["msgs_per_s"],
                               base and base["msgs_per_s"]),
                         fmt(x["srv_cpu_us_per_msg"], 2),
                         ratio(x["srv_cpu_us_per_msg"],
                               base and base["srv_cpu_us_per_msg"]),
                         fmt(x["syscalls_per_msg"], 2), fmt(x["p50_us"]),
                         fmt(x["p99_us"]), fmt(x["p999_us"]), spread,
                         ", ".join(flags)))
    return lines, best


def plots(out, summ, servers, cells):
    if not shutil.which("gnuplot"):
        return "gnuplot is not installed: no plots (tables only)."
    made = []
    pdir = os.path.join(out, "plots")
    os.makedirs(pdir, exist_ok=True)

    def series(metric, mode, size):
        data = {}
        for s in servers:
            pts = []
            for c in cells:
                x = summ.get((s, c))
                if not x or x[metric] is None:
                    continue
                m = x["meta"]
                if m["mode"] == mode and m["size"] == size and \
                        m["idle"] == "0":
                    pts.append((int(m["conns"]), x[metric]))
            if pts:
                data[s] = sorted(pts)
        return data

    def draw(fname, title, xlabel, ylabel, data, logx=True, logy=False):
        if not data:
            return
        dat = os.path.join(pdir, fname + ".dat")
        with open(dat, "w") as f:
            for s, pts in data.items():
                f.write('"{}"\n'.format(s))
                for x, y in pts:
                    f.write("{} {}\n".format(x, y))
                f.write("\n\n")
        script = [
            "set terminal pngcairo size 900,560 noenhanced",
            "set output '{}'".format(os.path.join(pdir, fname + ".png")),
            "set title '{}'".format(title),
            "set xlabel '{}'".format(xlabel),
            "set ylabel '{}'".format(ylabel),
            "set key outside right", "set grid",
        ]
        if logx:
            script.append("set logscale x")
        if logy:
            script.append("set logscale y")
        script.append("plot for [i=0:{}] '{}' index i using 1:2 with "
                      "linespoints title columnheader(1)".format(
                          len(data) - 1, dat))
        try:
            subprocess.run(["gnuplot"], input="\n".join(script) + "\n",
                           text=True, check=True, capture_output=True)
            made.append(fname + ".png")
        except (subprocess.CalledProcessError, OSError) as e:
            made.append("(failed: {})".format(fname))
            sys.stderr.write("report.py: gnuplot failed for {}: {}\n".format(
                fname, getattr(e, "stderr", e)))

    for size in ("64", "1024"):
        draw("throughput-pingpong-" + size,
             "ping-pong, {} B: messages/s".format(size), "connections",
             "messages/s", series("msgs_per_s", "pingpong", size))
        draw("cpu-pingpong-" + size,
             "ping-pong, {} B: server CPU per message".format(size),
             "connections", "CPU us/msg",
             series("srv_cpu_us_per_msg", "pingpong", size))
        draw("p99-pingpong-" + size,
             "ping-pong, {} B: p99 latency".format(size), "connections",
             "p99 us", series("p99_us", "pingpong", size), logy=True)
    idle = {}
    for s in servers:
        pts = []
        for c in cells:
            x = summ.get((s, c))
            if x and x["meta"]["mode"] == "idle" and \
                    x["srv_cpu_us_per_msg"] is not None:
                pts.append((int(x["meta"]["idle"]), x["srv_cpu_us_per_msg"]))
        if pts:
            idle[s] = sorted(pts)
    draw("idle-scaling", "16 active connections plus N idle: server CPU "
         "per message", "idle connections", "CPU us/msg", idle, logx=False)
    return "plots: " + ", ".join(made) if made else "no plots"


def main():
    out = sys.argv[1]
    groups, notes, servers, cells = load_raw(os.path.join(out, "raw.csv"))
    summ = summarize(groups)
    write_summary(os.path.join(out, "summary.csv"), summ, servers, cells)
    plot_note = plots(out, summ, servers, cells)

    md = ["# echo-lab comparison", ""]
    md += ["## Environment", "", "```"]
    md += open(os.path.join(out, "env.txt")).read().rstrip().split("\n")
    md += ["```", "", "Server start-up lines:", "", "```"]
    for f in sorted(glob.glob(os.path.join(out, "logs", "startup-*.txt"))):
        md += [l for l in open(f).read().rstrip().split("\n") if l]
    md += ["```", ""]
    md += ["## Method", "",
           "One generator (`echo-load`) for every server, pinned to another "
           "CPU than the server; each cell repeated with the server order "
           "rotated; medians shown, spread = (max - min) / median of "
           "messages/s or CPU per message, whichever is larger. Server CPU "
           "per message is user + system time of the whole server process "
           "(all its threads, io_uring workers included) over the measured "
           "interval, divided by the messages echoed in it. Syscalls per "
           "message come from the servers' own counters (SIGUSR1 before and "
           "after); '-' for the reference peers, which keep none. The "
           "winner of a row (bold) has the lowest CPU per message without "
           "errors. 'generator saturated' marks rows where echo-load's own "
           "core was the limit while the server's was not (median server "
           "CPU under 90% of its core): their messages/s and latency "
           "measure the client, not the server. 'generator and server cores "
           "both saturated' rows kept "
           "the server's core busy too: they measure the server at its "
           "capacity, with the client about as loaded. The generator's "
           "engine is in env.txt and raw.csv (gen_engine).", ""]
    md += ["## Results", ""]
    wins = {}
    for c in cells:
        lines, best = cell_table(c, summ, notes, servers)
        if best:
            wins[best] = wins.get(best, 0) + 1
        md += ["### " + c, ""] + lines + [""]
    md += ["## Winners (lowest server CPU per message)", ""]
    for s, n in sorted(wins.items(), key=lambda kv: -kv[1]):
        md.append("- {}: {} of {} rows".format(s, n, len(cells)))
    md += ["", "## Memory per idle connection", "",
           "| server | idle connections | RSS before KiB | RSS after KiB "
           "| bytes per connection |", "|---|---:|---:|---:|---:|"]
    mem = os.path.join(out, "memory.csv")
    if os.path.exists(mem):
        for r in csv.DictReader(open(mem)):
            md.append("| {server} | {idle_conns} | {rss_before_kib} | "
                      "{rss_after_kib} | {bytes_per_conn} |".format(**r))
    md += ["", "## Plots", "", plot_note, ""]
    pdir = os.path.join(out, "plots")
    for p in sorted(glob.glob(os.path.join(pdir, "*.png"))):
        md.append("![{0}](plots/{0})".format(os.path.basename(p)))
    open(os.path.join(out, "report.md"), "w").write("\n".join(md) + "\n")


if __name__ == "__main__":
    main()
