#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""report.py - turn compare.sh's raw rows into medians, ratios and plots.

Reads DIR/raw.csv, DIR/memory.csv, DIR/env.txt and DIR/logs/startup-*.txt;
writes DIR/summary.csv (median, min and max per server and cell),
DIR/report.md (its header names the network path env.txt records, loopback
or veth between namespaces; a multishot/epoll summary matrix first, then every cell
against epoll with its spread; a difference under TIE_PCT or overlapping
min-max ranges is a tie, never a winner) and PNG plots with gnuplot when
it is installed (a one-line note when not). Standard library only.
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
HEAD = "uring-multishot"  # the summary matrix: HEAD against BASE
# Below this relative difference two servers are tied, whatever the medians.
TIE_PCT = 10.0
# A server process at or above this share of its core was kept busy: the
# same threshold echo-load uses for its own saturation flag.
SRV_BUSY_PCT = 90.0
HIGHER_BETTER = {"msgs_per_s"}


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
            s[m + "_min"], s[m + "_max"] = min(vals), max(vals)
            s[m + "_spread"] = (100.0 * (max(vals) - min(vals)) / med
                                if med else 0.0)
        s["errors"] = sum(int(num(r["errors"]) or 0) for r in rs)
        s["saturated"] = any(r["gen_saturated"] == "1" for r in rs)
        s["note"] = "; ".join(sorted({r["note"] for r in rs if r["note"]}))
        s["offered"] = num(rs[0].get("offered_rate"))
        s["load_pct"] = num(rs[0].get("load_pct"))
        out[key] = s
    return out


def compare(a, b, m):
    """How a stands against b on metric m: (ratio a/b, verdict), verdict
    'a', 'b' or 'tie' (under TIE_PCT apart, or min-max ranges overlap)."""
    if not a or not b or a.get(m) is None or not b.get(m):
        return None, None
    r = a[m] / b[m]
    overlap = a[m + "_min"] <= b[m + "_max"] and b[m + "_min"] <= a[m + "_max"]
    if abs(r - 1.0) * 100.0 < TIE_PCT or overlap:
        return r, "tie"
    better = r > 1.0 if m in HIGHER_BETTER else r < 1.0
    return r, "a" if better else "b"


def fmt(v, digits=1):
    if v is None:
        return "-"
    if abs(v) >= 1000:
        return "{:,.0f}".format(v)
    return "{:.{}f}".format(v, digits)


def fmt_range(x, m, digits=1):
    """median (min-max), or just the median for a single repeat."""
    if x.get(m) is None:
        return "-"
    if x["n"] < 2:
        return fmt(x[m], digits)
    return "{} ({}-{})".format(fmt(x[m], digits), fmt(x[m + "_min"], digits),
                               fmt(x[m + "_max"], digits))


def ratio(v, b):
    if v is None or b in (None, 0):
        return "-"
    return "{:.2f}x".format(v / b)


def write_summary(path, summ, servers, cells):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["server", "cell", "mode", "conns", "size", "idle",
                    "repeats", "offered_rate", "load_pct"] +
                   [c for m in METRICS
                    for c in (m, m + "_min", m + "_max", m + "_spread_pct")] +
                   ["errors", "gen_saturated", "note"])

        def g(v):
            return "" if v is None else "{:.4g}".format(v)
        for c in cells:
            for s in servers:
                x = summ.get((s, c))
                if not x:
                    continue
                m = x["meta"]
                row = [s, c, m["mode"], m["conns"], m["size"], m["idle"],
                       x["n"], g(x["offered"]), g(x["load_pct"])]
                for k in METRICS:
                    if x[k] is None:
                        row += ["", "", "", ""]
                    else:
                        row += [g(x[k]), g(x[k + "_min"]), g(x[k + "_max"]),
                                "{:.1f}".format(x[k + "_spread"])]
                w.writerow(row + [x["errors"], int(x["saturated"]),
                                  x["note"]])


def cheapest(c, summ, servers):
    """The verdict on CPU per message in cell c: (winner or None, the
    servers tied with the cheapest, or [])."""
    ok = [(s, summ[(s, c)]) for s in servers
          if (s, c) in summ and summ[(s, c)]["srv_cpu_us_per_msg"]
          is not None and not summ[(s, c)]["errors"]]
    if not ok:
        return None, []
    ok.sort(key=lambda sx: sx[1]["srv_cpu_us_per_msg"])
    best = ok[0]
    tied = [s for s, x in ok[1:]
            if compare(best[1], x, "srv_cpu_us_per_msg")[1] == "tie"]
    if tied:
        return None, [best[0]] + tied
    return best[0], []


def cell_table(c, summ, notes, servers):
    base = summ.get((BASE, c))
    first = next((summ[(s, c)] for s in servers if (s, c) in summ), None)
    rate = first is not None and first["meta"]["mode"] == "rate"
    lat = "at equal rate" if rate else "throughput-bound"
    lines = ["| server | msgs/s (min-max) | vs epoll | server CPU us/msg "
             "(min-max) | vs epoll | syscalls/msg | p50 us {0} | p99 us {0} "
             "| p99.9 us {0} | notes |".format(lat),
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    best, tied = cheapest(c, summ, servers)
    for s in servers:
        x = summ.get((s, c))
        if not x:
            if (s, c) in notes:
                lines.append("| {} | | | | | | | | | {} |".format(
                    s, notes[(s, c)]))
            continue
        flags = []
        if x["saturated"] and (x["srv_cpu_pct"] or 0) >= SRV_BUSY_PCT:
            flags.append("generator and server cores both saturated")
        elif x["saturated"]:
            flags.append("generator saturated (server core {:.0f}%)".format(
                x["srv_cpu_pct"] or 0))
        if rate and x["offered"] and x["msgs_per_s"] < 0.97 * x["offered"]:
            flags.append("fell behind the offered {:,.0f}/s".format(
                x["offered"]))
        if x["errors"]:
            flags.append("{} errors".format(x["errors"]))
        if x["note"]:
            flags.append(x["note"])
        name = "**{}**".format(s) if s == best else s
        lines.append("| {} | {} | {} | {} | {} | {} | {} | {} | {} "
                     "| {} |".format(
                         name, fmt_range(x, "msgs_per_s", 0),
                         ratio(x["msgs_per_s"], base and base["msgs_per_s"]),
                         fmt_range(x, "srv_cpu_us_per_msg", 2),
                         ratio(x["srv_cpu_us_per_msg"],
                               base and base["srv_cpu_us_per_msg"]),
                         fmt(x["syscalls_per_msg"], 2), fmt(x["p50_us"]),
                         fmt(x["p99_us"]), fmt(x["p999_us"]),
                         ", ".join(flags)))
    lines.append("")
    if rate and first["offered"]:
        lines.append("Offered to every server: {:,.0f} messages/s, {:.0f} % "
                     "of the capacity env.txt names; open loop, latency "
                     "from each intended send time.".format(
                         first["offered"], first["load_pct"] or 0))
        lines.append("")
    if best:
        lines.append("Lowest server CPU per message: **{}** (at least {:.0f} "
                     "% below every other, ranges apart).".format(
                         best, TIE_PCT))
    elif tied:
        lines.append("Lowest server CPU per message: a tie between {} (under "
                     "{:.0f} % apart or overlapping min-max ranges).".format(
                         ", ".join(tied), TIE_PCT))
    return lines, best, tied


def matrix(summ, cells, metric, label):
    """HEAD/BASE on metric over mode x size (rows) and connections
    (columns) of the closed-loop cells."""
    grid, conns = {}, set()
    for c in cells:
        a, b = summ.get((HEAD, c)), summ.get((BASE, c))
        if not a or not b or a["meta"]["mode"] not in ("pingpong",
                                                       "pipeline"):
            continue
        m = a["meta"]
        r, v = compare(a, b, metric)
        if r is None:
            continue
        word = {"tie": "tie", "a": "**multishot**", "b": "**epoll**"}[v]
        grid[(m["mode"], int(m["size"]), int(m["conns"]))] = \
            "{:.2f}x {}".format(r, word)
        conns.add(int(m["conns"]))
    if not grid:
        return []
    conns = sorted(conns)
    rows = sorted({(k[0], k[1]) for k in grid},
                  key=lambda ms: (ms[0] != "pingpong", ms[1]))
    out = ["**{}**".format(label), "",
           "| mode, size | " + " | ".join("{} conns".format(n)
                                         for n in conns) + " |",
           "|---|" + "---:|" * len(conns)]
    for mode, size in rows:
        out.append("| {}, {} B | ".format(mode, size) + " | ".join(
            grid.get((mode, size, n), "-") for n in conns) + " |")
    return out + [""]


def rate_matrix(summ, cells):
    out = []
    pts = []
    for c in cells:
        a, b = summ.get((HEAD, c)), summ.get((BASE, c))
        if a and b and a["meta"]["mode"] == "rate":
            pts.append((a["load_pct"] or 0, c, a, b))
    if not pts:
        return out
    pts.sort()
    out += ["**Equal load** (open loop, the same offered rate for both; "
            "multishot/epoll, lower is better for both rows)", "",
            "| | " + " | ".join("{:.0f} % ({:,.0f}/s)".format(
                p, a["offered"] or 0) for p, _, a, _ in pts) + " |",
            "|---|" + "---:|" * len(pts)]
    for m, label in (("srv_cpu_us_per_msg", "server CPU per message"),
                     ("p99_us", "p99 latency")):
        cols = []
        for _, _, a, b in pts:
            r, v = compare(a, b, m)
            cols.append("-" if r is None else "{:.2f}x {}".format(
                r, {"tie": "tie", "a": "**multishot**",
                    "b": "**epoll**"}[v]))
        out.append("| {} | ".format(label) + " | ".join(cols) + " |")
    return out + [""]


def plots(out, summ, notes, servers, cells):
    if not shutil.which("gnuplot"):
        return "gnuplot is not installed: no plots (tables only)."
    made = []
    pdir = os.path.join(out, "plots")
    os.makedirs(pdir, exist_ok=True)

    def pt(x, metric):
        return (x[metric], x.get(metric + "_min", x[metric]),
                x.get(metric + "_max", x[metric]))

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
                    pts.append((int(m["conns"]),) + pt(x, metric))
            if pts:
                data[s] = sorted(pts)
        return data

    def draw(fname, title, xlabel, ylabel, data, logx=True, logy=False,
             labels=()):
        if not data:
            return
        dat = os.path.join(pdir, fname + ".dat")
        with open(dat, "w") as f:
            for s, pts in data.items():
                f.write('"{}"\n'.format(s))
                for p in pts:
                    f.write(" ".join(str(v) for v in p) + "\n")
                f.write("\n\n")
        script = [
            "set terminal pngcairo size 900,560 noenhanced",
            "set output '{}'".format(os.path.join(pdir, fname + ".png")),
            "set title '{}'".format(title.replace("'", "")),
            "set xlabel '{}'".format(xlabel),
            "set ylabel '{}'".format(ylabel),
            "set key outside right", "set grid",
        ]
        if logx:
            script.append("set logscale x")
        if logy:
            script.append("set logscale y")
        for i, text in enumerate(labels):
            script.append("set label {} '{}' at graph 0.02, graph {:.2f} "
                          "front".format(i + 1, text.replace("'", ""),
                                         0.95 - 0.05 * i))
        # Median with min-max error bars over the repeats.
        script.append("plot for [i=0:{}] '{}' index i using 1:2:3:4 with "
                      "yerrorlines title columnheader(1)".format(
                          len(data) - 1, dat))
        try:
            subprocess.run(["gnuplot"], input="\n".join(script) + "\n",
                           text=True, check=True, capture_output=True)
            made.append(fname + ".png")
        except (subprocess.CalledProcessError, OSError) as e:
            made.append("(failed: {})".format(fname))
            sys.stderr.write("report.py: gnuplot failed for {}: {}\n".format(
                fname, getattr(e, "stderr", e)))

    combos = sorted({(x["meta"]["mode"], x["meta"]["size"])
                     for x in summ.values()
                     if x["meta"]["mode"] in ("pingpong", "pipeline")},
                    key=lambda ms: (ms[0], int(ms[1])))
    for mode, size in combos:
        what = "{}, {} B".format(mode, size)
        tag = "{}-{}".format(mode, size)
        # Servers left out of some cells (select past FD_SETSIZE) say so.
        skipped = sorted({"{}: no point at {} connections ({})".format(
            s, c.split("-c")[1].split("-")[0], n)
            for (s, c), n in notes.items()
            if c.startswith(mode + "-c") and c.endswith("-s" + size)})
        draw("throughput-" + tag, what + ": messages/s (higher is better)",
             "connections", "messages/s", series("msgs_per_s", mode, size),
             labels=skipped)
        draw("cpu-" + tag, what + ": server CPU per message (lower is "
             "better)", "connections", "CPU us/msg",
             series("srv_cpu_us_per_msg", mode, size), labels=skipped)
        draw("p99-" + tag, what + ": p99 latency, throughput-bound (lower "
             "is better)", "connections", "p99 us",
             series("p99_us", mode, size), logy=True, labels=skipped)
    idle, capped = {}, []
    for s in servers:
        pts = []
        for c in cells:
            x = summ.get((s, c))
            if x and x["meta"]["mode"] == "idle" and \
                    x["srv_cpu_us_per_msg"] is not None:
                pts.append((int(x["meta"]["idle"]),) +
                           pt(x, "srv_cpu_us_per_msg"))
                if "FD_SETSIZE" in x["note"]:
                    capped.append("{}: {} (its point is at the idle count "
                                  "it ran)".format(s, x["note"]))
        if pts:
            idle[s] = sorted(pts)
    draw("idle-scaling", "16 active connections plus N idle: server CPU "
         "per message (lower is better)", "idle connections",
         "CPU us/msg", idle, logx=False, labels=sorted(set(capped)))
    rates = {}
    for s in servers:
        pts = [(x["offered"],) + pt(x, "p99_us")
               for c in cells for x in [summ.get((s, c))]
               if x and x["meta"]["mode"] == "rate" and x["offered"]]
        if pts:
            rates[s] = sorted(pts)
    draw("latency-vs-load", "p99 latency at equal offered load, from each "
         "intended send time (lower is better)", "offered messages/s",
         "p99 us", rates, logx=False, logy=True)
    rcpu = {}
    for s in servers:
        pts = [(x["offered"],) + pt(x, "srv_cpu_us_per_msg")
               for c in cells for x in [summ.get((s, c))]
               if x and x["meta"]["mode"] == "rate" and x["offered"] and
               x["srv_cpu_us_per_msg"] is not None]
        if pts:
            rcpu[s] = sorted(pts)
    draw("cpu-vs-load", "server CPU per message at equal offered load "
         "(lower is better)", "offered messages/s", "CPU us/msg", rcpu,
         logx=False)
    return "plots: " + ", ".join(made) if made else "no plots"


def main():
    out = sys.argv[1]
    groups, notes, servers, cells = load_raw(os.path.join(out, "raw.csv"))
    summ = summarize(groups)
    write_summary(os.path.join(out, "summary.csv"), summ, servers, cells)
    plot_note = plots(out, summ, notes, servers, cells)

    env = open(os.path.join(out, "env.txt")).read().rstrip().split("\n")
    net = [l[len("network: "):] for l in env if l.startswith("network: ")]
    veth = [l for l in env if l.startswith("veth: ")]
    if net and net[0].startswith("veth"):
        md = ["# echo-lab comparison over veth, between network "
              "namespaces (not loopback)", ""]
    else:
        md = ["# echo-lab comparison", ""]
    if net:
        md += ["**Network path:** {}.{}".format(
            net[0], " " + veth[0][0].upper() + veth[0][1:] + "." if veth
            else ""), ""]
    md += ["## Summary: {} against {}".format(HEAD, BASE), "",
           "Ratios of medians, {} / {}. A difference under {:.0f} % or "
           "overlapping min-max ranges over the repeats is a **tie**, not a "
           "win; otherwise the better server is named. With one repeat "
           "there is no range: only the {:.0f} % rule applies, and one run "
           "on a busy machine can be off by more.".format(
               HEAD, BASE, TIE_PCT, TIE_PCT), ""]
    summary = (matrix(summ, cells, "msgs_per_s",
                      "Messages/s (higher is better)") +
               matrix(summ, cells, "srv_cpu_us_per_msg",
                      "Server CPU per message (lower is better)") +
               rate_matrix(summ, cells))
    md += summary or ["({} or {} has no closed-loop cell in this run.)"
                      .format(HEAD, BASE), ""]
    md += ["## Environment", "", "```"]
    md += env
    md += ["```", "", "Server start-up lines:", "", "```"]
    for f in sorted(glob.glob(os.path.join(out, "logs", "startup-*.txt"))):
        md += [l for l in open(f).read().rstrip().split("\n") if l]
    md += ["```", ""]
    md += ["## Method", "",
           "One generator (`echo-load`) for every server, pinned to another "
           "CPU than the server; each cell repeated with the server order "
           "rotated; medians shown with (min-max) over the repeats. Server "
           "CPU per message is user + system time of the whole server "
           "process (all its threads, io_uring workers included) over the "
           "measured interval, divided by the messages echoed in it. "
           "Syscalls per message come from the servers' own counters "
           "(SIGUSR1 before and after); '-' for the reference peers, which "
           "keep none.",
           "",
           "Closed-loop cells (pingpong, pipeline, idle, threads) run each "
           "server as fast as it goes, so their latencies are "
           "**throughput-bound**: a faster server queues more, and the "
           "columns say so. The fixed-rate cells (`rate-...`) offer every "
           "server the same load, a share of the slowest rate-set server's "
           "capacity (env.txt), open loop, latency from each message's "
           "intended send time; their latency and CPU per message compare "
           "like with like. Their full distributions are in hgrm/ "
           "(HdrHistogram's .hgrm form, microseconds).",
           "",
           "A row's bold server has the lowest CPU per message without "
           "errors, and only when it is at least {:.0f} % below every other "
           "server with no overlap of min-max ranges; otherwise the line "
           "under the table names the tie. 'generator saturated' marks rows "
           "where echo-load's own core was the limit while the server's was "
           "not (median server CPU under 90% of its core): their messages/s "
           "and latency measure the client, not the server. 'generator and "
           "server cores both saturated' rows kept the server's core busy "
           "too: they measure the server at its capacity, with the client "
           "about as loaded. The generator's engine is in env.txt and "
           "raw.csv (gen_engine).".format(TIE_PCT), ""]
    md += ["## Results", ""]
    wins, ties = {}, 0
    for c in cells:
        lines, best, tied = cell_table(c, summ, notes, servers)
        if best:
            wins[best] = wins.get(best, 0) + 1
        elif tied:
            ties += 1
        md += ["### " + c, ""] + lines + [""]
    md += ["## Clear wins on server CPU per message", ""]
    for s, n in sorted(wins.items(), key=lambda kv: -kv[1]):
        md.append("- {}: {} of {} cells".format(s, n, len(cells)))
    md.append("- ties (no clear winner): {} of {} cells".format(
        ties, len(cells)))
    md += ["", "## Memory per idle connection", "",
           "| server | idle connections | RSS before KiB | RSS after KiB "
           "| bytes per connection |", "|---|---:|---:|---:|---:|"]
    mem = os.path.join(out, "memory.csv")
    if os.path.exists(mem):
        for r in csv.DictReader(open(mem)):
            md.append("| {server} | {idle_conns} | {rss_before_kib} | "
                      "{rss_after_kib} | {bytes_per_conn} |".format(**r))
    md += ["", "## Plots", "",
           "Each plot answers one question; points are medians, bars the "
           "min-max over the repeats.", "", plot_note, ""]
    pdir = os.path.join(out, "plots")
    for p in sorted(glob.glob(os.path.join(pdir, "*.png"))):
        md.append("![{0}](plots/{0})".format(os.path.basename(p)))
    open(os.path.join(out, "report.md"), "w").write("\n".join(md) + "\n")


if __name__ == "__main__":
    main()
