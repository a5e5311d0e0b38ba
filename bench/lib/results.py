#!/usr/bin/env python3
"""Bench results: read the fio JSON of every stack and print the job x stack
table, each stack's value with its ratio to its reference stack.

  results.py DIR SPEC...

DIR holds round.N.json (or round.N.P.json, one per fio run of round N), the
fio output of each round, whose jobs are named JOB@STACK; SPEC is STACK=REF, or STACK= for no ratio, in column order.
Prints one detail line per job, stack and round, then the table.  Exits 1
(reason on stderr) if fio reported an error, a job did no I/O, or a stack
lacks a result another has.

Unit: IOPS for jobs with blocks under 64 KiB, else MB/s (10^6 bytes/s); the
cell is the median over rounds, its ratio the median of the per-round
ratios (printed before the table, to show the spread).
"""
import glob
import json
import os
import statistics
import sys


def size_bytes(text):
    text = str(text).strip().lower().rstrip("b")
    mult = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    if text and text[-1] in mult:
        return int(float(text[:-1]) * mult[text[-1]])
    return int(text)


def die(msg):
    print(f"results.py: {msg}", file=sys.stderr)
    sys.exit(1)


def load(path):
    """[(jobname, unit, value, iops, mb_s, lat_us)] of one fio run."""
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        die(f"fio output {path} unreadable: {e}")
    out = []
    for j in data.get("jobs", []):
        job = j["jobname"]
        if j.get("error"):
            die(f"fio job {job}: error {j['error']} ({path})")
        opts = dict(data.get("global options", {}))
        opts.update(j.get("job options", {}))
        side = "write" if "write" in opts.get("rw", "") else "read"
        s = j[side]
        if not s.get("io_bytes"):
            die(f"fio job {job}: no {side} I/O done ({path})")
        bs = size_bytes(opts.get("bs", "4k"))
        iops = float(s["iops"])
        mb_s = float(s["bw_bytes"]) / 1e6
        lat_us = float(s.get("lat_ns", {}).get("mean", 0)) / 1000
        unit = "IOPS" if bs < 65536 else "MB/s"
        out.append((job, unit, iops if unit == "IOPS" else mb_s, iops, mb_s, lat_us))
    if not out:
        die(f"fio output {path} has no jobs")
    return out


def fmt(value, unit):
    return f"{value:.0f}" if unit == "IOPS" else f"{value:.1f}"


def main(argv):
    if len(argv) < 3:
        die(__doc__)
    rundir, specs = argv[1], argv[2:]
    stacks, refs, details = [], {}, {}
    for spec in specs:
        name, _, ref = spec.partition("=")
        stacks.append(name)
        refs[name] = ref or None

    # round.N.json, or round.N.P.json when a round took one fio run per
    # dm-integrity implementation (P); a stack measured in several runs of
    # a round (one that needs neither) has a value from each.
    files = sorted(glob.glob(os.path.join(rundir, "round.*.json")),
                   key=lambda p: [int(x) for x in
                                  os.path.basename(p).split(".")[1:-1]])
    if not files:
        die(f"no fio results (round.N.json) in {rundir}")
    rounds = sorted({int(os.path.basename(p).split(".")[1]) for p in files})
    vals, units, jobs, seen, by_round = {}, {}, [], {}, {}
    for path in files:
        rnd = int(os.path.basename(path).split(".")[1])
        for name, unit, value, iops, mb_s, lat_us in load(path):
            job, _, s = name.rpartition("@")
            if s not in refs:
                continue
            if job not in jobs:
                jobs.append(job)
            units[job] = unit
            vals.setdefault((job, s), []).append(value)
            by_round.setdefault((job, s, rnd), []).append(value)
            seen.setdefault((job, s), set()).add(rnd)
            details.setdefault(s, []).append(
                f"{s:<12} {job:<14} round {rnd}: {fmt(value, unit):>8} {unit:<4}"
                f"  ({iops:.0f} IOPS, {mb_s:.1f} MB/s, mean latency {lat_us:.0f} us)")
    for s in stacks:
        print("\n".join(details.get(s, [])))
    for job in jobs:
        for s in stacks:
            if seen.get((job, s), set()) != set(rounds):
                die(f"stack {s} lacks results for job {job}")
    med = {k: statistics.median(v) for k, v in vals.items()}

    # A ratio is the median of the per-round ratios: the stacks of one job
    # run back to back within a round, so a host whose load drifts between
    # rounds moves both sides of each round's ratio alike.
    def round_value(job, s, rnd):
        v = by_round[(job, s, rnd)]
        return sum(v) / len(v)

    ratio = {}
    for job in jobs:
        for s in stacks:
            r = refs[s]
            if not r:
                continue
            per = [round_value(job, s, n) / round_value(job, r, n)
                   for n in rounds if round_value(job, r, n)]
            if per:
                ratio[(job, s)] = statistics.median(per)
                print(f"{s:<12} {job:<14} vs {r}: per-round ratios "
                      + " ".join(f"{x:.2f}" for x in per)
                      + f" (median {ratio[(job, s)]:.2f})")

    head1, head2, rows = ["job", "unit"], ["", ""], []
    for s in stacks:
        head1.append(s)
        head2.append(f"vs {refs[s]}" if refs[s] else "")
    for job in jobs:
        unit = units[job]
        row = [job, unit]
        for s in stacks:
            cell = fmt(med[(job, s)], unit)
            r = refs[s]
            if r:
                cell += f" {ratio[(job, s)]:5.2f}x" if (job, s) in ratio else "     -"
            row.append(cell)
        rows.append(row)
    widths = [max(len(r[i]) for r in [head1, head2] + rows) for i in range(len(head1))]

    def line(r):
        out = [r[0].ljust(widths[0]), r[1].ljust(widths[1])]
        out += [c.rjust(w) for c, w in zip(r[2:], widths[2:])]
        return "  ".join(out).rstrip()

    print("----- bench table begin -----")
    for header in os.environ.get("BENCH_TABLE_HEADER", "").splitlines():
        print(header)
    print(line(head1))
    print(line(head2))
    for r in rows:
        print(line(r))
    if len(rounds) > 1:
        print(f"(cells: median of {len(rounds)} rounds; ratios: median of"
              " the per-round ratios)")
    print("----- bench table end -----")


if __name__ == "__main__":
    main(sys.argv)
