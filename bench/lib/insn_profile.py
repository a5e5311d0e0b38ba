#!/usr/bin/env python3
"""Guest instructions per I/O from bench/lib/insn-count.c snapshots.

usage: insn_profile.py KALLSYMS SPEC...

Each SPEC is LABEL=BIG:SMALL:N_BIG:N_SMALL: the snapshot files of two runs
of the same job, one of N_BIG I/Os and one of N_SMALL.  Their difference
is the cost of N_BIG - N_SMALL I/Os without what does not grow with the
number of I/Os (fio's start and exit, the shell between them).  The first
SPEC is the reference: the script prints, for each label, the guest
instructions per I/O (all, kernel, user, in dm-filter's modules), the
reference's over the label's (all and kernel only: user space, fio's
reaping loop, varies more from run to run), and the functions whose
instructions per I/O differ most from the reference's.
"""
import bisect
import sys

# Functions of these modules are summed in the "modules" column.
MODULES = "[dm_filter"


def load_symbols(path):
    """Text symbols of the kernel and its modules, sorted by address."""
    syms = []
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) < 3 or parts[1] not in "tTwW":
                continue
            addr = int(parts[0], 16)
            if addr == 0:
                continue
            name = parts[2]
            if len(parts) > 3:
                name += " " + parts[3]
            syms.append((addr, name))
    syms.sort()
    return [a for a, _ in syms], [n for _, n in syms]


def load_counts(path, addrs, names):
    """Instructions per function (user space as one entry) of a snapshot."""
    per = {}
    with open(path) as f:
        for line in f:
            if line.startswith("#"):
                sys.exit(f"{path}: {line.strip()}: make TABLE_BITS larger")
            where, n = line.split()
            n = int(n)
            if where == "user":
                name = "(user space)"
            else:
                i = bisect.bisect_right(addrs, int(where, 16)) - 1
                name = names[i] if i >= 0 else "(unknown kernel)"
            per[name] = per.get(name, 0) + n
    return per


def per_io(spec, addrs, names):
    label, files = spec.split("=", 1)
    big, small, n_big, n_small = files.split(":")
    n = int(n_big) - int(n_small)
    if n <= 0:
        sys.exit(f"{spec}: N_BIG must be larger than N_SMALL")
    a = load_counts(big, addrs, names)
    b = load_counts(small, addrs, names)
    return label, {k: (a.get(k, 0) - b.get(k, 0)) / n for k in set(a) | set(b)}


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    addrs, names = load_symbols(sys.argv[1])
    runs = [per_io(s, addrs, names) for s in sys.argv[2:]]
    ref_label, ref = runs[0]
    ref_total = sum(ref.values())
    ref_kernel = ref_total - ref.get("(user space)", 0)
    print(f"{'config':<12} {'insns/IO':>9} {'ratio':>6} {'kernel':>7} {'ratio':>6} "
          f"{'user':>6} {'modules':>8}")
    for label, prof in runs:
        total = sum(prof.values())
        user = prof.get("(user space)", 0)
        ours = sum(v for k, v in prof.items() if k.endswith("]") and MODULES in k)
        print(f"{label:<12} {total:>9.0f} {ref_total / total:>6.3f} {total - user:>7.0f} "
              f"{ref_kernel / (total - user):>6.3f} {user:>6.0f} {ours:>8.0f}")
    for label, prof in runs[1:]:
        delta = {k: prof.get(k, 0) - ref.get(k, 0) for k in set(prof) | set(ref)}
        print(f"\n{label} - {ref_label}: {sum(delta.values()):+.0f} instructions per I/O;"
              " largest differences by function:")
        for name, d in sorted(delta.items(), key=lambda kv: -abs(kv[1]))[:20]:
            print(f"  {d:+9.1f}  {name}")

if __name__ == "__main__":
    main()
