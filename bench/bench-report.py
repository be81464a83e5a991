#!/usr/bin/env python3
"""Collect the benchmark results of `make bench`, print them with the
plan's target and our goal beside each figure, and keep the history.

    bench-report.py report RAW-DIR LATEST.json HISTORY-DIR MODE
        RAW-DIR holds run-N.json (JSON lines of the benchmark programs, one
        file per repetition), sim-*.json (meshara sim --json) and
        extra.json (JSON lines written by bench-run.sh).  For a metric
        measured in several runs the run with the median p50 is kept
        (median of 3 for the wall-clock figures).  Writes LATEST.json (one
        JSON line per metric, goal and plan target included), prints the
        table, and writes HISTORY-DIR/<date>-<commit>.json.

    bench-report.py dashboard HISTORY-DIR OUT.html
        One self-contained HTML page (inline SVG, no scripts) with a trend
        plot of p50 per metric over the history files.
"""

import glob
import html
import json
import os
import platform
import subprocess
import sys
import time

# name: (plan target, our goal, checks): checks is (field, limit) or a
# list of them when the goal is a number in the metric's unit that the
# field (p50, p99) must not exceed, None when the goal is not a number.
TARGETS = {
    "crypto.ed25519_sign": ("< 10 us", "measured (Nettle is the limit)", None),
    "crypto.ed25519_verify": ("< 30 us", "measured (Nettle is the limit)", None),
    "crypto.x25519": ("< 50 us", "measured (Nettle is the limit)", None),
    "crypto.aead_1k": ("< 5 us", "measured (Nettle is the limit)", None),
    "crypto.sha256_1k": ("< 2 us", "measured (Nettle is the limit)", None),
    "wire.encode_1k": ("< 5 us", "< 1 us", ("p50", 1000)),
    "wire.decode_1k": ("< 10 us", "< 2 us", ("p50", 2000)),
    "session.init": ("-", "measured", None),
    "session.encrypt_64": ("< 1 ms", "< 10 us", ("p50", 10000)),
    "session.decrypt_64": ("< 1 ms", "< 10 us", ("p50", 10000)),
    "routes.lookup_1m": ("< 100 ns", "< 50 ns", ("p50", 50)),
    "routes.bytes_per_entry": ("-", "< 64 bytes", ("p50", 64)),
    "e2e.private_oneway": ("p50 < 10 ms, p99 < 50 ms", "p50 < 60 us, p99 < 500 us", [("p50", 60), ("p99", 500)]),
    "e2e.private_rtt": ("-", "p50 < 100 us, p99 < 300 us", [("p50", 100), ("p99", 300)]),
    # Judged on the whole run (whole_ns_per_op, from whole_ops_per_s):
    # the samples time batches of sends, which can end before their
    # acknowledgments.
    "throughput.private_64": ("10,000 msg/s (stretch 50,000)", ">= 500,000 msg/s", ("whole_ns_per_op", 2000)),
    "throughput.private_1k": ("-", "measured", None),
    "throughput.bulk_100mb": ("100 MB/s (stretch 1 GB/s)", ">= 80 % of one-core ChaCha20-Poly1305", None),
    "net.tls_handshake": ("p50 < 20 ms, p99 < 100 ms", "p50 < 2 ms, p99 < 5 ms", [("p50", 2000), ("p99", 5000)]),
    "net.broadcast_10proc": ("p50 < 50 ms, p99 < 200 ms", "p50 < 3 ms, p99 < 10 ms", [("p50", 3000), ("p99", 10000)]),
    "net.connections_10k_rss_per_conn": ("1,000 connections (stretch 10,000)", "10,000, < 20 KiB each", ("p50", 20)),
    "sim.dht_1000": ("p50 < 100 ms", "<= log2(N) hops, < 1 ms CPU per lookup, p50 < 3 RTT", None),
    "sim.broadcast_1000": ("-", "every node exactly once", None),
    "idle.rss_kb": ("< 50 MB", "< 10 MB", ("p50", 10240)),
    "idle.fds": ("< 100", "< 20", ("p50", 20)),
    "idle.cpu_pct": ("< 1 %", "< 0.1 %", ("p50", 0.1)),
    "peak.rss_kb": ("< 500 MB", "< 100 MB", ("p50", 102400)),
    "peak.cpu_pct": ("< 80 %", "< 50 %", ("p50", 50)),
    "build.clean_seconds": ("< 2 min", "< 1 min", ("p50", 60)),
    "build.check_seconds": ("< 30 s", "< 30 s", ("p50", 30)),
    "build.lib_stripped_bytes": ("< 10 MB", "< 1 MB", ("p50", 1000000)),
}


def read_lines(path):
    out = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except ValueError:
                    print("bench-report: bad line in %s: %s" % (path, line[:80]), file=sys.stderr)
    return out


def sim_metrics(path):
    res = []
    for r in read_lines(path):
        name = "sim.%s_%d" % (r.get("scenario"), r.get("nodes", 0))
        note = "modeled latency, %s; hops p50/p99 %s/%s; wall %.1f s; passed %s" % (
            "virtual ms", r.get("hops_p50"), r.get("hops_p99"),
            r.get("wall_ms", 0) / 1000.0, r.get("passed"))
        if r.get("scenario") == "dht" and r.get("lookups"):
            note += "; %d lookups, %.3f ms wall (all nodes) per lookup, found %.2f %%" % (
                r["lookups"], r.get("wall_ms", 0) / r["lookups"],
                100.0 * r.get("dht_success_rate", 0))
        res.append({"name": name, "unit": "ms", "n": r.get("delivered", 0),
                    "p50": r.get("latency_ms_p50"), "p95": None,
                    "p99": r.get("latency_ms_p99"), "p999": None, "mean": None,
                    "throughput": None, "target": note,
                    "hops_p50": r.get("hops_p50"), "hops_p99": r.get("hops_p99"),
                    "wall_ms": r.get("wall_ms")})
    return res


def verdict(m):
    t = TARGETS.get(m["name"])
    if not t or not t[2] or m.get("p50") is None:
        return "-"
    checks = t[2] if isinstance(t[2], list) else [t[2]]
    for field, limit in checks:
        v = m.get(field)
        if v is None:
            return "-"
        if v > limit:
            return "MISSED"
    return "met"


def name_is_bulk(m):
    return m["name"] == "throughput.bulk_100mb"


def fmt(v):
    if v is None:
        return "-"
    if isinstance(v, float):
        if abs(v) >= 100:
            return "%.0f" % v
        return "%.2f" % v
    return str(v)


def report(raw, latest, histdir, mode):
    runs = sorted(glob.glob(os.path.join(raw, "run-*.json")))
    by_name = {}
    order = []
    for path in runs:
        for m in read_lines(path):
            if m["name"] not in by_name:
                order.append(m["name"])
            by_name.setdefault(m["name"], []).append(m)
    for path in sorted(glob.glob(os.path.join(raw, "sim-*.json"))):
        for m in sim_metrics(path):
            order.append(m["name"])
            by_name[m["name"]] = [m]
    extra = os.path.join(raw, "extra.json")
    if os.path.exists(extra):
        for m in read_lines(extra):
            order.append(m["name"])
            by_name.setdefault(m["name"], []).append(m)

    results = []
    for name in order:
        if name in (r["name"] for r in results):
            continue
        ms = [m for m in by_name[name] if m.get("p50") is not None]
        if ms:
            ms.sort(key=lambda m: m["p50"])
            m = dict(ms[len(ms) // 2])
        else:
            m = dict(by_name[name][0])
        m["runs"] = len(by_name[name])
        if m["runs"] > 1:
            m["p50_runs"] = [x.get("p50") for x in by_name[name]]
        plan, goal, _ = TARGETS.get(name, ("-", "-", None))
        m["plan"] = plan
        m["goal"] = goal
        wholes = sorted(x["whole_ops_per_s"] for x in by_name[name]
                        if x.get("whole_ops_per_s"))
        if wholes:
            m["whole_ops_per_s"] = wholes[len(wholes) // 2]
            m["whole_ns_per_op"] = 1e9 / m["whole_ops_per_s"]
        m["verdict"] = verdict(m)
        if name.startswith("throughput.private") and m.get("whole_ops_per_s"):
            m["messages_per_s"] = round(m["whole_ops_per_s"])
        elif name.startswith("throughput.private") and m.get("p50"):
            m["messages_per_s"] = round(1e9 / m["p50"])

        results.append(m)

    missing = [n for n in TARGETS if n not in (r["name"] for r in results)]
    with open(latest, "w") as f:
        for m in results:
            f.write(json.dumps(m, sort_keys=True) + "\n")

    print()
    print("%-34s %4s %7s %10s %10s %10s %9s %-7s %-26s %s" % (
        "metric", "runs", "n", "p50", "p99", "p99.9", "unit", "goal?", "our goal", "plan target"))
    for m in results:
        extra = ""
        if m.get("messages_per_s"):
            extra = "  (%d msg/s%s)" % (m["messages_per_s"],
                                         " over the whole run" if m.get("whole_ops_per_s") else "")
        elif name_is_bulk(m) and m.get("whole_ops_per_s"):
            extra = "  (%.1f MB/s over the whole run)" % (m["whole_ops_per_s"] * 65536 / 1e6)
        elif m.get("throughput"):
            extra = "  (%.1f MB/s)" % m["throughput"]
        print("%-34s %4d %7s %10s %10s %10s %9s %-7s %-26s %s%s" % (
            m["name"], m["runs"], m.get("n", "-"), fmt(m.get("p50")), fmt(m.get("p99")),
            fmt(m.get("p999")), m.get("unit", ""), m["verdict"], m["goal"][:26], m["plan"], extra))
    if missing:
        print("\nnot measured in this mode: " + ", ".join(missing))
    print("\nJSON lines: %s" % latest)

    if histdir:
        os.makedirs(histdir, exist_ok=True)
        try:
            commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                    text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            commit = "unknown"
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        cpu = "?"
        try:
            with open("/proc/cpuinfo") as f:
                for line in f:
                    if line.startswith("model name"):
                        cpu = line.split(":", 1)[1].strip()
                        break
        except OSError:
            pass
        entry = {"commit": commit, "date": stamp, "mode": mode,
                 "machine": {"host": platform.node(), "system": platform.platform(),
                             "cpu": cpu, "cpus": os.cpu_count()},
                 "results": results}
        path = os.path.join(histdir, "%s-%s.json" % (stamp, commit))
        with open(path, "w") as f:
            json.dump(entry, f, indent=1, sort_keys=True)
            f.write("\n")
        print("history: %s" % path)


def plot(points, width=360, height=120):
    """points: [(label, value)], drawn as a polyline with dots."""
    vals = [v for _, v in points]
    lo, hi = min(vals), max(vals)
    if hi == lo:
        lo, hi = lo * 0.9 if lo else -1, hi * 1.1 if hi else 1
    pad = 28
    xs = [pad + (width - 2 * pad) * (i / max(len(points) - 1, 1)) for i in range(len(points))]
    ys = [height - 18 - (height - 36) * ((v - lo) / (hi - lo)) for v in vals]
    parts = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d">' % (width, height),
             '<rect width="100%" height="100%" fill="#fafafa" stroke="#ccc"/>',
             '<text x="2" y="12" font-size="10">%s</text>' % html.escape(fmt(hi)),
             '<text x="2" y="%d" font-size="10">%s</text>' % (height - 20, html.escape(fmt(lo)))]
    if len(points) > 1:
        parts.append('<polyline fill="none" stroke="#c0392b" stroke-width="1.5" points="%s"/>'
                     % " ".join("%.1f,%.1f" % p for p in zip(xs, ys)))
    for (label, v), x, y in zip(points, xs, ys):
        parts.append('<circle cx="%.1f" cy="%.1f" r="3" fill="#c0392b"><title>%s: %s</title></circle>'
                     % (x, y, html.escape(label), html.escape(fmt(v))))
    parts.append('<text x="%d" y="%d" font-size="10">%s</text>' % (pad, height - 4, html.escape(points[0][0])))
    parts.append('<text x="%d" y="%d" font-size="10" text-anchor="end">%s</text>'
                 % (width - pad, height - 4, html.escape(points[-1][0])))
    parts.append("</svg>")
    return "".join(parts)


def dashboard(histdir, out):
    entries = []
    for path in sorted(glob.glob(os.path.join(histdir, "*.json"))):
        try:
            with open(path) as f:
                entries.append(json.load(f))
        except (OSError, ValueError) as e:
            print("bench-report: skipping %s: %s" % (path, e), file=sys.stderr)
    entries.sort(key=lambda e: e.get("date", ""))
    series = {}
    for e in entries:
        for m in e.get("results", []):
            if m.get("p50") is None:
                continue
            series.setdefault(m["name"], []).append(
                ("%s %s" % (e.get("date", "?")[:13], e.get("commit", "?")), m["p50"], m))
    rows = []
    for name in sorted(series):
        pts = series[name]
        last = pts[-1][2]
        rows.append('<div class="m"><h2>%s</h2><p>p50 in %s over %d runs; last %s; goal %s; plan %s</p>%s</div>'
                    % (html.escape(name), html.escape(str(last.get("unit", ""))), len(pts),
                       html.escape(fmt(last.get("p50"))), html.escape(last.get("goal", "-")),
                       html.escape(last.get("plan", "-")), plot([(p[0], p[1]) for p in pts])))
    page = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>meshara benchmarks</title>
<style>body{font-family:sans-serif;margin:1em} .m{display:inline-block;vertical-align:top;
margin:0 1em 1em 0;width:370px} h2{font-size:13px;margin:0} p{font-size:11px;margin:2px 0}</style>
</head><body><h1>meshara benchmarks</h1>
<p>%d runs from %s; one plot per metric (p50 of each run, oldest left).</p>
%s
</body></html>
""" % (len(entries), html.escape(histdir), "\n".join(rows))
    with open(out, "w") as f:
        f.write(page)
    print("dashboard: %s (%d metrics, %d runs)" % (out, len(series), len(entries)))


def main():
    if len(sys.argv) == 6 and sys.argv[1] == "report":
        report(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5])
    elif len(sys.argv) == 4 and sys.argv[1] == "dashboard":
        dashboard(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
