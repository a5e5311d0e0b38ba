#!/usr/bin/env python3
"""Crash-consistency driver for dm-integrity in journal mode (tests/cases/integrity).

usage: integrity-crash.py LOWER LOOPDEV NAME CYCLES SEED BS -- OPEN_CMD...

LOWER is a dm-linear device over LOOPDEV carrying a formatted integrity volume;
OPEN_CMD activates it as /dev/mapper/NAME.  Each cycle: activate (the target
replays its journal), read every block and check it holds a valid
self-describing block (magic, block number, generation, checksum) whose
generation is allowed, then write random blocks with random fsyncs while
another thread cuts the lower device off at a random write (dm-flakey
drop_writes or error_writes, alternately), tear down, restore the lower
device.  Allowed after a crash: the last generation whose fsync returned
before the cut started (or the value from before the cycle), or any
generation written after it.  Exit 0 when every cycle verified.
"""
import hashlib
import mmap
import os
import random
import struct
import subprocess
import sys
import threading
import time

MAGIC = b"DMTCRASH"


def run(*cmd, check=True):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if check and p.returncode != 0:
        raise SystemExit("command failed (%d): %s\n%s" % (p.returncode, " ".join(cmd), p.stdout))
    return p


def make_block(bs, blk, gen):
    head = MAGIC + struct.pack("<QQ", blk, gen)
    body = hashlib.sha256(head).digest() * ((bs - len(head) - 32) // 32 + 1)
    data = head + body[:bs - len(head) - 32]
    return data + hashlib.sha256(data).digest()


def parse_block(bs, data):
    if data[:8] != MAGIC:
        return None, "bad magic"
    if hashlib.sha256(data[:bs - 32]).digest() != data[bs - 32:]:
        return None, "bad checksum"
    blk, gen = struct.unpack_from("<QQ", data, 8)
    return (blk, gen), None


def main():
    lower, loopdev, name, cycles, seed, bs = sys.argv[1:7]
    cycles, bs = int(cycles), int(bs)
    open_cmd = sys.argv[sys.argv.index("--") + 1:]
    dev = "/dev/mapper/" + name
    lower_sectors = int(run("blockdev", "--getsz", loopdev).stdout)
    linear = "0 %d linear %s 0" % (lower_sectors, loopdev)
    rng = random.Random(seed)
    buf = mmap.mmap(-1, bs)

    def activate():
        run(*open_cmd)

    def status_mismatches():
        f = run("dmsetup", "status", name).stdout.split()
        return int(f[3])

    run(*open_cmd)
    size = int(run("blockdev", "--getsize64", dev).stdout)
    nblocks = size // bs
    # Generation 0 everywhere, durable.
    fd = os.open(dev, os.O_RDWR | os.O_DIRECT)
    for b in range(nblocks):
        buf[:] = make_block(bs, b, 0)
        os.pwritev(fd, [buf], b * bs)
    os.fsync(fd)
    os.close(fd)
    run("dmsetup", "remove", name)
    allowed = [{0} for _ in range(nblocks)]
    nextgen = 1
    t0 = time.monotonic()
    totals = {"writes": 0, "durable": 0, "cut_after": 0, "seen_new": 0}

    for cycle in range(1, cycles + 1):
        activate()
        # Verify.
        fd = os.open(dev, os.O_RDONLY | os.O_DIRECT)
        current = []
        for b in range(nblocks):
            try:
                os.preadv(fd, [buf], b * bs)
            except OSError as e:
                raise SystemExit("cycle %d: block %d unreadable after recovery: %s" % (cycle, b, e))
            v, err = parse_block(bs, bytes(buf))
            if err:
                raise SystemExit("cycle %d: block %d: %s after recovery" % (cycle, b, err))
            if v[0] != b:
                raise SystemExit("cycle %d: block %d holds block %d's data" % (cycle, b, v[0]))
            if v[1] not in allowed[b]:
                raise SystemExit("cycle %d: block %d has generation %d, allowed %s"
                                 % (cycle, b, v[1], sorted(allowed[b])))
            if v[1] != min(allowed[b]):
                totals["seen_new"] += 1
            current.append(v[1])
        os.close(fd)
        m = status_mismatches()
        if m:
            raise SystemExit("cycle %d: %d integrity mismatches after recovery" % (cycle, m))
        if cycle == cycles:
            run("dmsetup", "remove", name)
            break

        # Write, cut off at a random write.
        how = "drop_writes" if cycle % 2 else "error_writes"
        nwrites = rng.randrange(20, 120)
        cut_at = rng.randrange(0, nwrites)
        plan = [(rng.randrange(nblocks), rng.random() < 0.15) for _ in range(nwrites)]
        written = [[] for _ in range(nblocks)]   # gens written this cycle, in order
        durable = list(current)                  # last durable gen per block
        pending = []                             # (block, gen) since the last fsync
        cut_started = threading.Event()
        reached = threading.Event()

        def cutter():
            reached.wait()
            cut_started.set()
            run("dmsetup", "suspend", "--noflush", lower)
            run("dmsetup", "load", lower, "--table",
                "0 %d flakey %s 0 0 1 1 %s" % (lower_sectors, loopdev, how))
            run("dmsetup", "resume", lower)

        th = threading.Thread(target=cutter)
        th.start()
        fd = os.open(dev, os.O_RDWR | os.O_DIRECT)
        failed = None
        for i, (b, sync) in enumerate(plan):
            if i == cut_at:
                reached.set()
            gen = nextgen
            nextgen += 1
            buf[:] = make_block(bs, b, gen)
            written[b].append(gen)
            try:
                os.pwritev(fd, [buf], b * bs)
                totals["writes"] += 1
                pending.append((b, gen))
                if sync or i == nwrites - 1:
                    os.fsync(fd)
                    if not cut_started.is_set():
                        for pb, pg in pending:
                            durable[pb] = pg
                            totals["durable"] += 1
                    pending = []
            except OSError as e:
                failed = e
                break
        reached.set()
        th.join()
        if not cut_started.is_set():
            raise SystemExit("cycle %d: cut never started" % cycle)
        try:
            os.close(fd)
        except OSError:
            pass
        totals["cut_after"] += cut_at
        # Allowed now: the durable gen, or anything written after it.
        for b in range(nblocks):
            w = written[b]
            d = durable[b]
            later = w[w.index(d) + 1:] if d in w else w
            allowed[b] = {d} | set(later)
        # Tear down; the integrity device may have failed (error_writes).
        if run("dmsetup", "remove", name, check=False).returncode != 0:
            run("dmsetup", "remove", "--force", name)
        run("dmsetup", "suspend", "--noflush", lower, check=False)
        run("dmsetup", "load", lower, "--table", linear)
        run("dmsetup", "resume", lower)
        print("cycle %d: %s after write %d of %d%s" % (
            cycle, how, cut_at, nwrites, " (writer saw %s)" % failed.strerror if failed else ""),
            flush=True)

    print("%d cycles, %d blocks of %d: %d writes, %d made durable before the cut, "
          "%d block reads found a newer than durable generation; %.0f s"
          % (cycles, nblocks, bs, totals["writes"], totals["durable"], totals["seen_new"],
             time.monotonic() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
