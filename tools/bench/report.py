#!/usr/bin/env python3
"""Turn the raw figures of tools/bench/bench-vm.sh into a report.

Usage: report.py [--check] [--quiet] DIR

DIR holds what the guest wrote (info.txt, measures.txt, fio/<target>/rep<N>/)
and, from the host, host.txt. Writes DIR/results.json and DIR/results.md and
prints the Markdown table and the ratios of crucible to dm-raid raid1 and to
dm-linear. With --check, exits 1 unless every figure the settings call for is
there and non-zero (the smoke test uses it); --quiet prints only problems.

Figures are medians over the repetitions. Ratios are of medians; the range
of the per-repetition ratios (targets run one after another in each
repetition, so those are pairs from the same stretch of time) follows in
brackets.
"""

import json
import os
import statistics
import sys

TARGETS = ["crucible", "raid1", "mirror", "linear"]
TARGET_NAMES = {
    "crucible": "crucible",
    "raid1": "dm-raid raid1",
    "mirror": "dm-mirror",
    "linear": "dm-linear",
}
# job name, fio direction, label, unit of the headline figure
JOBS = [
    ("randread-qd1", "read", "4K random read, QD1", "IOPS"),
    ("randread-qd32", "read", "4K random read, QD32", "IOPS"),
    ("randwrite-qd1", "write", "4K random write, QD1", "IOPS"),
    ("randwrite-qd32", "write", "4K random write, QD32", "IOPS"),
    ("seqread", "read", "1M sequential read, QD4", "MiB/s"),
    ("seqwrite", "write", "1M sequential write, QD4", "MiB/s"),
]
RESYNC_HOWS = [
    ("crucible", "restore", "crucible, restore_leg"),
    ("crucible", "reassembly", "crucible, re-create (assembly)"),
    ("raid1", "raid1", "dm-raid raid1, re-add (bitmap)"),
]
BIG_TARGETS = ["crucible", "raid1", "mirror"]


def read_kv(path):
    d = {}
    if not os.path.exists(path):
        return d
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if "=" in line:
                k, v = line.split("=", 1)
                d[k.strip()] = v.strip()
    return d


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def proc_stat_busy(path):
    """Busy and total jiffies of all CPUs from a saved /proc/stat."""
    with open(path) as f:
        for line in f:
            w = line.split()
            if w and w[0] == "cpu":
                v = [int(x) for x in w[1:]]
                # user nice system idle iowait irq softirq steal ...
                idle = v[3] + v[4]
                total = sum(v[:8])
                return total - idle, total
    raise ValueError("no cpu line in " + path)


def fio_run(dirpath, clk_tck):
    """Per job: headline figure, latency, CPU, of one fio run."""
    with open(os.path.join(dirpath, "fio.json")) as f:
        text = f.read()
    # fio may print notes before the JSON document.
    data = json.loads(text[text.index("{"):])
    out = {}
    for job in data["jobs"]:
        name = job["jobname"]
        spec = next((j for j in JOBS if j[0] == name), None)
        if spec is None:
            continue
        d = job[spec[1]]
        ios = d["total_ios"]
        runtime_ms = job.get("job_runtime") or d.get("runtime") or 0
        pct = d.get("clat_ns", {}).get("percentile", {})
        r = {
            "iops": d["iops"],
            "mib_s": d["bw_bytes"] / 2**20,
            "ios": ios,
            "runtime_ms": runtime_ms,
            "clat_p50_us": pct["50.000000"] / 1000 if "50.000000" in pct else None,
            "clat_p99_us": pct["99.000000"] / 1000 if "99.000000" in pct else None,
            "clat_mean_us": d.get("clat_ns", {}).get("mean", 0) / 1000,
            "cpu_fio_us_per_io": None,
            "cpu_sys_us_per_io": None,
        }
        if ios:
            r["cpu_fio_us_per_io"] = ((job["usr_cpu"] + job["sys_cpu"]) / 100
                                      * runtime_ms * 1000 / ios)
            pre = os.path.join(dirpath, name + ".prerun.txt")
            post = os.path.join(dirpath, name + ".postrun.txt")
            if os.path.exists(pre) and os.path.exists(post):
                b0, _ = proc_stat_busy(pre)
                b1, _ = proc_stat_busy(post)
                r["cpu_sys_us_per_io"] = (b1 - b0) / clk_tck * 1e6 / ios
        out[name] = r
    return out


def headline(r, unit):
    return r["mib_s"] if unit == "MiB/s" else r["iops"]


def load(dirpath):
    info = read_kv(os.path.join(dirpath, "info.txt"))
    host = read_kv(os.path.join(dirpath, "host.txt"))
    clk_tck = int(info.get("clk_tck", "100"))
    runs = {}  # target -> rep -> job -> figures
    fio_dir = os.path.join(dirpath, "fio")
    for t in TARGETS:
        tdir = os.path.join(fio_dir, t)
        if not os.path.isdir(tdir):
            continue
        for rep in sorted(os.listdir(tdir)):
            p = os.path.join(tdir, rep)
            if os.path.exists(os.path.join(p, "fio.json")):
                runs.setdefault(t, {})[rep] = fio_run(p, clk_tck)
    measures = []
    mpath = os.path.join(dirpath, "measures.txt")
    if os.path.exists(mpath):
        with open(mpath) as f:
            for line in f:
                w = line.split()
                if not w:
                    continue
                m = {"kind": w[0]}
                for kv in w[1:]:
                    k, v = kv.split("=", 1)
                    try:
                        m[k] = int(v)
                    except ValueError:
                        try:
                            m[k] = float(v)
                        except ValueError:
                            m[k] = v
                measures.append(m)
    return info, host, runs, measures


def ratio(a, b):
    if a is None or b in (None, 0):
        return None
    return a / b


def summarise(info, host, runs, measures):
    res = {
        "info": info,
        "host": host,
        "fio": {},
        "ratios": {},
        "resync": [],
        "hydration": {},
        "big": {},
        "goals": [],
    }
    for t in TARGETS:
        reps = runs.get(t, {})
        res["fio"][t] = {}
        for name, _, label, unit in JOBS:
            per_rep = [reps[r][name] for r in sorted(reps) if name in reps[r]]
            if not per_rep:
                continue
            fig = {"label": label, "unit": unit, "reps": per_rep}
            for k in ("iops", "mib_s", "clat_p50_us", "clat_p99_us",
                      "cpu_fio_us_per_io", "cpu_sys_us_per_io"):
                fig[k] = median([r[k] for r in per_rep])
            fig["value"] = median([headline(r, unit) for r in per_rep])
            res["fio"][t][name] = fig

    for base in ("raid1", "mirror", "linear"):
        rr = {}
        for name, _, _, unit in JOBS:
            c = res["fio"].get("crucible", {}).get(name)
            b = res["fio"].get(base, {}).get(name)
            if not c or not b:
                continue
            per = []
            for cr, br in zip(c["reps"], b["reps"]):
                x = ratio(headline(cr, unit), headline(br, unit))
                if x is not None:
                    per.append(x)
            rr[name] = {
                "ratio": ratio(c["value"], b["value"]),
                "per_rep_min": min(per) if per else None,
                "per_rep_max": max(per) if per else None,
                "p99_ratio": ratio(c["clat_p99_us"], b["clat_p99_us"]),
            }
        res["ratios"]["crucible/" + base] = rr

    pcts = [int(p) for p in info.get("pcts", "1 10 100").split()]
    for pct in pcts:
        for target, how, label in RESYNC_HOWS:
            ms = [m for m in measures if m["kind"] == "resync"
                  and m.get("how") == how and m.get("pct") == pct]
            if not ms:
                continue
            written = ms[0]["written_bytes"]
            e = {
                "pct": pct,
                "target": target,
                "how": how,
                "label": label,
                "regions": ms[0]["regions"],
                "nr_regions": ms[0]["nr_regions"],
                "written_bytes": written,
                "seconds": median([m["seconds"] for m in ms]),
                "seconds_reps": [m["seconds"] for m in ms],
                "repaired_blocks": (median([m["repaired_blocks"] for m in ms])
                                    if target == "crucible" else None),
                "leg_bytes": median([m["leg_bytes"] for m in ms]),
                "leg_bytes_settled": median([m["leg_bytes_settled"] for m in ms]),
            }
            e["copied_bytes"] = (e["repaired_blocks"] * 4096 if target == "crucible"
                                 else e["leg_bytes"])
            e["copied_x_written"] = ratio(e["copied_bytes"], written)
            e["leg_bytes_x_written"] = ratio(e["leg_bytes_settled"], written)
            res["resync"].append(e)

    h = {}
    for kind in ("dd", "hydration"):
        ms = [m for m in measures if m["kind"] == "hydrate" and m.get("what") == kind]
        if not ms:
            continue
        rates = [m["mib"] / m["seconds"] for m in ms if m["seconds"]]
        h[kind] = {"mib": ms[0]["mib"], "seconds": median([m["seconds"] for m in ms]),
                   "mib_s": median(rates), "mib_s_reps": rates}
    if "dd" in h and "hydration" in h:
        h["ratio_hydration_to_dd"] = ratio(h["hydration"]["mib_s"], h["dd"]["mib_s"])
    res["hydration"] = h

    for t in BIG_TARGETS:
        ms = [m for m in measures if m["kind"] == "big" and m.get("target") == t]
        if ms:
            res["big"][t] = {
                "gib": ms[0]["gib"],
                "create_ms": median([m["create_ms"] for m in ms]),
                "kernel_kib": median([m["kernel_kib"] for m in ms]),
                "memfree_kib": median([m["memfree_kib"] for m in ms]),
                "reps": len(ms),
            }

    def goal(text, figures, op, need):
        vals = [v for _, v in figures]
        ok = (lambda v: v >= need) if op == ">=" else (lambda v: v <= need)
        met = bool(vals) and all(v is not None and ok(v) for v in vals)
        res["goals"].append({
            "goal": text,
            "op": op,
            "need": need,
            "figures": {k: v for k, v in figures},
            "met": met,
        })

    r_raid = res["ratios"].get("crucible/raid1", {})
    r_lin = res["ratios"].get("crucible/linear", {})

    def pick(rr, names):
        return [(n, rr.get(n, {}).get("ratio")) for n in names]

    goal("4K random write >= 0.95x dm-raid raid1",
         pick(r_raid, ["randwrite-qd1", "randwrite-qd32"]), ">=", 0.95)
    goal("4K random read >= 1.0x dm-raid raid1 (hash verification on)",
         pick(r_raid, ["randread-qd1", "randread-qd32"]), ">=", 1.0)
    goal("1M sequential write >= 0.95x dm-raid raid1", pick(r_raid, ["seqwrite"]), ">=", 0.95)
    goal("1M sequential read >= 1.0x dm-raid raid1", pick(r_raid, ["seqread"]), ">=", 1.0)
    goal("4K random read >= 0.9x dm-linear",
         pick(r_lin, ["randread-qd1", "randread-qd32"]), ">=", 0.9)
    goal("resync bytes <= 2x the bytes written during the outage (crucible; all bytes "
         "written to the returning leg, metadata included)",
         [("%s %d%%" % (e["how"], e["pct"]), e["leg_bytes_x_written"])
          for e in res["resync"] if e["target"] == "crucible"], "<=", 2.0)
    return res


def fmt(v, digits=None):
    if v is None:
        return "-"
    if digits is None:
        if abs(v) >= 100:
            return "%.0f" % v
        if abs(v) >= 10:
            return "%.1f" % v
        return "%.2f" % v
    return "%.*f" % (digits, v)


def fmt_ratio(rr):
    if not rr or rr.get("ratio") is None:
        return "-"
    s = "%.2f" % rr["ratio"]
    lo, hi = rr.get("per_rep_min"), rr.get("per_rep_max")
    if lo is not None and hi is not None and lo != hi:
        s += " (%.2f-%.2f)" % (lo, hi)
    return s


def kib(b):
    return "%.0f KiB" % (b / 1024) if b < 10 * 2**20 else "%.1f MiB" % (b / 2**20)


def markdown(res):
    info, host = res["info"], res["host"]
    out = []
    a = out.append
    a("Settings: mode `%s`, %s repetition(s), %s per time-based fio job, %s MiB volumes "
      "(%s KiB regions), legs: %s." % (
          info.get("mode"), info.get("reps"), info.get("runtime"),
          info.get("volume_mib"), info.get("region_kib"), info.get("legs")))
    a("Guest: kernel %s, %s vCPUs (QEMU TCG, `%s`), %s MiB RAM, %s." % (
        info.get("kernel"), info.get("vcpus"), info.get("cpu_model", "?"),
        int(info.get("mem_total_kib", "0")) // 1024, info.get("fio")))
    if host:
        a("Host: %s; load (`uptime`) before: `%s`; after: `%s`." % (
            host.get("host", "?"), host.get("uptime_before", "?"),
            host.get("uptime_after", "?")))
        if host.get("command"):
            a("Command: `%s` (tree %s)." % (host["command"], host.get("git", "?")))
    a("")
    a("### fio: headline figure (median)")
    a("")
    hdr = "| workload | unit | " + " | ".join(TARGET_NAMES[t] for t in TARGETS) + \
          " | crucible / raid1 | crucible / linear |"
    a(hdr)
    a("|---|---|" + "---:|" * len(TARGETS) + "---:|---:|")
    for name, _, label, unit in JOBS:
        row = ["| %s | %s" % (label, unit)]
        for t in TARGETS:
            f = res["fio"].get(t, {}).get(name)
            row.append(fmt(f["value"]) if f else "-")
        row.append(fmt_ratio(res["ratios"].get("crucible/raid1", {}).get(name)))
        row.append(fmt_ratio(res["ratios"].get("crucible/linear", {}).get(name)))
        a(" | ".join(row) + " |")
    a("")
    a("### Completion latency p50 / p99 (µs, median)")
    a("")
    a("| workload | " + " | ".join(TARGET_NAMES[t] for t in TARGETS) + " |")
    a("|---|" + "---:|" * len(TARGETS))
    for name, _, label, _ in JOBS:
        row = ["| " + label]
        for t in TARGETS:
            f = res["fio"].get(t, {}).get(name)
            row.append("%s / %s" % (fmt(f["clat_p50_us"]), fmt(f["clat_p99_us"])) if f else "-")
        a(" | ".join(row) + " |")
    a("")
    a("### CPU time per I/O (µs, median): fio's usr+sys / whole guest")
    a("")
    a("fio's figure counts only fio's own process; the guest's covers kernel threads "
      "and workqueues too (crucible completes reads and writes in a workqueue).")
    a("")
    a("| workload | " + " | ".join(TARGET_NAMES[t] for t in TARGETS) + " |")
    a("|---|" + "---:|" * len(TARGETS))
    for name, _, label, _ in JOBS:
        row = ["| " + label]
        for t in TARGETS:
            f = res["fio"].get(t, {}).get(name)
            row.append("%s / %s" % (fmt(f["cpu_fio_us_per_io"]), fmt(f["cpu_sys_us_per_io"]))
                       if f else "-")
        a(" | ".join(row) + " |")
    a("")
    a("### Resync after an outage of one leg (median)")
    a("")
    a("During the outage %s KiB were written at the start of each chosen region. "
      "*Copied*: crucible's repaired_blocks x 4 KiB; for dm-raid the bytes written to the "
      "leg. *Leg total*: everything written to the returning leg and its metadata device, "
      "until %s s after it was in sync (metadata included)." % (
          info.get("outage_kib_per_region", "?"), info.get("settle_s", "?")))
    a("")
    a("| regions written | bytes written | how | time (s) | copied | leg total | leg total / written |")
    a("|---|---:|---|---:|---:|---:|---:|")
    for e in res["resync"]:
        a("| %d%% (%d of %d) | %s | %s | %s | %s | %s | %s |" % (
            e["pct"], e["regions"], e["nr_regions"], kib(e["written_bytes"]), e["label"],
            fmt(e["seconds"]), kib(e["copied_bytes"]), kib(e["leg_bytes_settled"]),
            fmt(e["leg_bytes_x_written"])))
    a("")
    h = res["hydration"]
    if h:
        a("### Hydration (median)")
        a("")
        a("| copy of a %s MiB parent | s | MiB/s |" % h.get("dd", h.get("hydration", {})).get("mib", "?"))
        a("|---|---:|---:|")
        if "dd" in h:
            a("| `dd bs=1M iflag=direct oflag=direct` onto one leg | %s | %s |" % (
                fmt(h["dd"]["seconds"]), fmt(h["dd"]["mib_s"])))
        if "hydration" in h:
            a("| hydration into three legs, `dmsetup create` to `done` | %s | %s |" % (
                fmt(h["hydration"]["seconds"]), fmt(h["hydration"]["mib_s"])))
        if h.get("ratio_hydration_to_dd") is not None:
            a("")
            a("Hydration / dd: %.2f." % h["ratio_hydration_to_dd"])
        a("")
    if res["big"]:
        gib = next(iter(res["big"].values()))["gib"]
        a("### A %s GiB volume over sparse legs (median)" % gib)
        a("")
        a("| target | create (ms) | kernel memory (KiB) | MemFree drop (KiB) |")
        a("|---|---:|---:|---:|")
        for t in BIG_TARGETS:
            b = res["big"].get(t)
            if b:
                a("| %s | %d | %d | %d |" % (TARGET_NAMES[t], b["create_ms"], b["kernel_kib"],
                                           b["memfree_kib"]))
        a("")
        a("Kernel memory: Slab + VmallocUsed + PageTables + Percpu, after minus before "
          "`dmsetup create`; MemFree drop also counts page allocations (dm-bufio buffers).")
        a("")
    a("### Goals")
    a("")
    a("| goal | figures | met |")
    a("|---|---|---|")
    for g in res["goals"]:
        figs = ", ".join("%s %s" % (k, fmt(v)) for k, v in g["figures"].items())
        a("| %s | %s | %s |" % (g["goal"], figs or "-", "yes" if g["met"] else "**no**"))
    a("")
    return "\n".join(out)


def ratios_text(res):
    out = []
    for base in ("raid1", "linear"):
        rr = res["ratios"].get("crucible/" + base, {})
        out.append("ratios crucible / %s:" % TARGET_NAMES[base])
        for name, _, label, unit in JOBS:
            r = rr.get(name)
            out.append("  %-28s %s" % (label, fmt_ratio(r)))
    return "\n".join(out)


def check(res, info):
    problems = []
    for t in TARGETS:
        for name, _, _, _ in JOBS:
            f = res["fio"].get(t, {}).get(name)
            if not f:
                problems.append("no fio figure for %s %s" % (t, name))
                continue
            for k in ("value", "clat_p50_us", "clat_p99_us", "cpu_sys_us_per_io"):
                if not f.get(k):
                    problems.append("%s %s: %s missing or zero" % (t, name, k))
    pcts = [int(p) for p in info.get("pcts", "1 10 100").split()]
    for pct in pcts:
        for target, how, _ in RESYNC_HOWS:
            e = [x for x in res["resync"] if x["how"] == how and x["pct"] == pct]
            if not e:
                problems.append("no resync figure for %s %d%%" % (how, pct))
            elif not e[0]["seconds"] or not e[0]["copied_bytes"]:
                problems.append("resync %s %d%%: time or bytes zero" % (how, pct))
    for kind in ("dd", "hydration"):
        if not res["hydration"].get(kind, {}).get("mib_s"):
            problems.append("no hydration figure for %s" % kind)
    for t in BIG_TARGETS:
        if t not in res["big"]:
            problems.append("no big-volume figure for %s" % t)
    if not res["goals"] or any(not g["figures"] for g in res["goals"]):
        problems.append("a goal has no figures")
    return problems


def main(argv):
    args = [a for a in argv[1:] if not a.startswith("--")]
    opts = [a for a in argv[1:] if a.startswith("--")]
    for o in opts:
        if o not in ("--check", "--quiet"):
            print(__doc__, file=sys.stderr)
            return 2
    if len(args) != 1 or not os.path.isdir(args[0]):
        print(__doc__, file=sys.stderr)
        return 2
    d = args[0]
    info, host, runs, measures = load(d)
    if not info:
        print("report: %s/info.txt missing: not a bench result directory" % d, file=sys.stderr)
        return 1
    res = summarise(info, host, runs, measures)
    md = markdown(res)
    with open(os.path.join(d, "results.json"), "w") as f:
        json.dump(res, f, indent=1, sort_keys=True)
        f.write("\n")
    with open(os.path.join(d, "results.md"), "w") as f:
        f.write(md + "\n")
    if "--quiet" not in opts:
        print(md)
        print(ratios_text(res))
    if "--check" in opts:
        problems = check(res, info)
        for p in problems:
            print("report: " + p, file=sys.stderr)
        if problems:
            return 1
        print("report: every figure present (%d fio runs, %d resync, %d hydration, %d big)" % (
            sum(len(v) for v in runs.values()),
            len([m for m in measures if m["kind"] == "resync"]),
            len([m for m in measures if m["kind"] == "hydrate"]),
            len([m for m in measures if m["kind"] == "big"])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
