#!/usr/bin/env python3
"""Malformed dm-integrity tables and superblocks (tests/cases/integrity/006).

usage: integrity-badtables.py tables COUNT SEED ZDEV ZFILE FDEV FPROVIDED TDEV
       integrity-badtables.py sbs FDEV FFILE FPROVIDED

tables: COUNT table lines from a seeded generator, each built around one
defect that makes it invalid (wrong argument counts, bad numbers, unknown
keys, bad algorithms and hex keys, conflicting options, huge values, bad
devices, superblock mismatches), padded with valid options in random order
and duplicates.  Each is given to `dmsetup create`; it must fail, and the
kernel must log a "device-mapper: table:" error for it.  ZDEV is a zeroed
device (a table the target accepts would format it: the superblock is
zeroed again after every line), FDEV a formatted crc32c volume providing
FPROVIDED sectors, TDEV a device too small to hold anything.

sbs: FFILE's superblock is corrupted one way at a time and a valid table is
loaded on it; each must be refused (or, for defects the in-kernel target
ignores, accepted with the data intact).

Both: the kernel log is read from /dev/kmsg as it grows and any splat fails
the run.  Prints a summary per category; exit status 0 when all held.
"""
import os
import random
import re
import struct
import subprocess
import sys
import time

SPLAT = re.compile(
    r"WARNING:|BUG:|Oops|KASAN:|general protection fault|Kernel panic|"
    r"sleeping function called from invalid context|possible (circular|recursive) locking|"
    r"inconsistent lock state|lock held when returning|DEBUG_LOCKS_WARN_ON|"
    r"blocked for more than|soft lockup|hard LOCKUP|UBSAN:|list_add corruption|"
    r"list_del corruption|cut here")
TABLE_ERR = re.compile(r"device-mapper: table: \S+: ")
NAME = "dmt-int006"


class Kmsg:
    def __init__(self):
        self.fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
        os.lseek(self.fd, 0, os.SEEK_END)
        self.splats = []

    def read(self):
        out = []
        while True:
            try:
                rec = os.read(self.fd, 8192)
            except BlockingIOError:
                break
            except BrokenPipeError:
                out.append("(kmsg records lost)")
                continue
            msg = rec.decode(errors="replace").split(";", 1)[-1].split("\n", 1)[0]
            out.append(msg)
            if SPLAT.search(msg):
                self.splats.append(msg)
        return out


def dmsetup(*args):
    p = subprocess.run(("dmsetup",) + args, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    return p.returncode, p.stdout


def remove():
    if dmsetup("info", NAME)[0] == 0:
        rc, _ = dmsetup("remove", NAME)
        if rc:
            dmsetup("remove", "--force", NAME)


# --- the generator -------------------------------------------------------------
def filler(r, exclude, hash_ok):
    """Valid optional arguments (some duplicated), none with a key in exclude."""
    pool = [
        lambda: "journal_sectors:%d" % r.randrange(64, 4096),
        lambda: "interleave_sectors:%d" % (1 << r.randrange(3, 16)),
        lambda: "buffer_sectors:%d" % r.randrange(1, 257),
        lambda: "journal_watermark:%d" % r.randrange(0, 101),
        lambda: "commit_time:%d" % r.randrange(1, 100000),
        lambda: "fix_padding",
        lambda: "legacy_recalculate",
    ]
    if hash_ok:
        pool.append(lambda: "internal_hash:crc32c")
    out = []
    for _ in range(r.randrange(0, 5)):
        a = r.choice(pool)()
        if a.split(":")[0] in exclude:
            continue
        out.append(a)
        if r.random() < 0.2:
            out.append(a)       # duplicate
    return out


def line(dev, start, tag, mode, opts, count=None, length=8):
    if count is None:
        count = len(opts)
    return "0 %d integrity %s %s %s %s %s %s" % (
        length, dev, start, tag, mode, count, " ".join(opts))


def generate(r, z, f, fprov, t):
    """One (category, table line) around one defect."""
    cat = r.choice([
        "argc", "start", "tag", "mode", "count", "unknown_key", "bad_number",
        "huge", "bad_alg", "bad_hex", "conflict", "bad_dev", "too_long",
        "sb_mismatch", "meta_dev"])
    hex64 = "%064x" % r.getrandbits(256)
    if cat == "argc":
        parts = [z, "0", "4", "J"][:r.randrange(0, 4)]
        return cat, "0 8 integrity " + " ".join(parts)
    if cat == "start":
        s = r.choice(["x", "1x", "0x10", "1.5", "1,0", "abc", "99999999999999"])
        return cat, line(z, s, "4", "J", filler(r, set(), False))
    if cat == "tag":
        tg = r.choice(["x", "4x", "0", "-", "99999999999999999999", "4.0"])
        return cat, line(z, "0", tg, "J", filler(r, set(), False))
    if cat == "mode":
        m = r.choice(["X", "j", "JD", "JJ", "0", "-", "b", "d", "Q", "JOURNAL"])
        return cat, line(z, "0", "4", m, filler(r, set(), False))
    if cat == "count":
        opts = filler(r, set(), False)
        how = r.choice(["more", "nan", "over18"])
        if how == "more":
            return cat, line(z, "0", "4", "J", opts, count=len(opts) + r.randrange(1, 5))
        if how == "nan":
            return cat, line(z, "0", "4", "J", opts, count=r.choice(["x", "1x", "", "0x1"]) or "x")
        opts = ["buffer_sectors:%d" % r.randrange(1, 200) for _ in range(r.randrange(19, 40))]
        return cat, line(z, "0", "4", "J", opts)
    if cat == "unknown_key":
        k = r.choice(["foo", "foo:1", "journal_sector:64", "Journal_sectors:64",
                      "internal-hash:crc32c", ":", "journal_sectors", "block_size",
                      "meta_device", "allow_discards:1", "fix_padding:1", "recalculate=1",
                      "internal_hash", "journal_crypt", "bitmap_flush_interval",
                      "sectors_per_bit", "x" * r.randrange(1, 300)])
        opts = filler(r, set(), False)
        opts.insert(r.randrange(len(opts) + 1), k)
        return cat, line(z, "0", "4", "J", opts)
    if cat == "bad_number":
        key = r.choice(["journal_sectors", "interleave_sectors", "buffer_sectors",
                        "journal_watermark", "commit_time", "block_size",
                        "sectors_per_bit", "bitmap_flush_interval"])
        v = r.choice(["x", "64x", "", "1.5", "0x", "+-1", "1 1"])
        if v == "1 1":
            v = "1_1"
        opts = filler(r, {key}, False)
        opts.insert(r.randrange(len(opts) + 1), "%s:%s" % (key, v))
        return cat, line(z, "0", "4", "J", opts)
    if cat == "huge":
        a = r.choice(["journal_watermark:%d" % r.randrange(101, 4000000000),
                      "block_size:%d" % r.choice([0, 1, 256, 513, 1000, 3072, 8192, 65536, 1048576]),
                      "journal_watermark:18446744073709551615"])
        opts = filler(r, {a.split(":")[0]}, False)
        opts.insert(r.randrange(len(opts) + 1), a)
        return cat, line(z, "0", "4", "J", opts)
    if cat == "bad_alg":
        a = r.choice(["internal_hash:nosuchalg", "internal_hash:sha256x", "internal_hash:",
                      "internal_hash:cbc(aes)", "internal_hash:hmac(nosuch)",
                      "journal_crypt:nosuchalg", "journal_mac:nosuchalg",
                      "journal_crypt:sha256", "journal_mac:cbc(aes)", "journal_crypt:"])
        opts = filler(r, {"internal_hash"}, False)
        opts.insert(r.randrange(len(opts) + 1), a)
        if not a.startswith("internal_hash"):
            opts.append("internal_hash:crc32c")
        return cat, line(z, "0", "-" if a.startswith("internal_hash") else "4", "J", opts)
    if cat == "bad_hex":
        a = r.choice(["internal_hash:hmac(sha256):zz", "internal_hash:hmac(sha256):abc",
                      "internal_hash:hmac(sha256):0g0g",
                      "journal_mac:hmac(sha256):xyz", "journal_mac:hmac(sha256):" + hex64[:-1],
                      "journal_crypt:ctr(aes):123", "journal_crypt:ctr(aes):00",
                      "journal_crypt:ctr(aes):" + hex64[:-2] + "zz",
                      "journal_crypt:cbc(aes):" + hex64[:30]])
        opts = filler(r, {"internal_hash"}, False)
        opts.insert(r.randrange(len(opts) + 1), a)
        if not a.startswith("internal_hash"):
            opts.append("internal_hash:crc32c")
        return cat, line(z, "0", "-" if a.startswith("internal_hash") else "4", "J", opts)
    if cat == "conflict":
        how = r.choice(["B_nohash", "discard_nohash", "recalc_nohash", "reset_nohash",
                        "tag0_nohash", "dash_nohash", "I_noprofile", "hmac_recalc"])
        opts = filler(r, {"internal_hash"}, False)
        if how == "B_nohash":
            return cat, line(z, "0", "4", "B", opts)
        if how == "discard_nohash":
            return cat, line(z, "0", "4", "J", opts + ["allow_discards"])
        if how == "recalc_nohash":
            return cat, line(z, "0", "4", "J", opts + ["recalculate"])
        if how == "reset_nohash":
            return cat, line(z, "0", "4", "J", opts + ["reset_recalculate"])
        if how == "tag0_nohash":
            return cat, line(z, "0", "0", r.choice("JDB"), opts)
        if how == "dash_nohash":
            return cat, line(z, "0", "-", r.choice("JD"), opts)
        if how == "I_noprofile":
            return cat, line(z, "0", "4", "I", opts + ["internal_hash:crc32c"])
        opts = [o for o in opts if o != "legacy_recalculate"]
        return cat, line(z, "0", "-", "J", opts + ["internal_hash:hmac(sha256):" + hex64,
                                                   "recalculate"])
    if cat == "bad_dev":
        d = r.choice(["/dev/nonexistent", "nodev", "/tmp", "/dev/null", "254:9999",
                      "0:0", t])
        return cat, line(d, "0", "4", "J", filler(r, set(), False))
    if cat == "too_long":
        if r.random() < 0.5:
            return cat, line(f, "0", "4", "J", ["internal_hash:crc32c"],
                             length=fprov + r.randrange(1, 1 << 20))
        return cat, line(z, "0", "4", "J", filler(r, set(), False),
                         length=r.randrange(1 << 20, 1 << 40))
    if cat == "sb_mismatch":
        how = r.choice(["tag", "block", "tagdash"])
        if how == "tag":
            return cat, line(f, "0", str(r.choice([1, 2, 3, 5, 8, 16, 32])), "J",
                             ["internal_hash:crc32c"], length=fprov)
        if how == "tagdash":
            return cat, line(f, "0", "-", "J", ["internal_hash:sha256"], length=fprov)
        return cat, line(f, "0", "4", "J", ["internal_hash:crc32c",
                                             "block_size:%d" % r.choice([1024, 2048, 4096])],
                         length=8)
    # meta_dev
    m = r.choice(["/dev/nonexistent", "", "/tmp", "nodev", t])
    opts = filler(r, set(), False)
    opts.insert(r.randrange(len(opts) + 1), "meta_device:" + m)
    return cat, line(z, "0", "4", "J", opts)


def zero_sb(zfile):
    fd = os.open(zfile, os.O_RDWR)
    if os.pread(fd, 4096, 0) != bytes(4096):
        os.pwrite(fd, bytes(4096), 0)
        os.fsync(fd)
        os.close(fd)
        return True
    os.close(fd)
    return False


def cmd_tables(argv):
    count, seed, z, zfile, f, fprov, t = argv
    count, fprov = int(count), int(fprov)
    r = random.Random(seed)
    km = Kmsg()
    stats = {}
    bad = []
    reformatted = 0
    t0 = time.monotonic()
    for i in range(count):
        cat, tbl = generate(r, z, f, fprov, t)
        st = stats.setdefault(cat, [0, 0])
        st[0] += 1
        km.read()
        rc, out = dmsetup("create", NAME, "--table", tbl)
        msgs = km.read()
        if rc == 0:
            remove()
            bad.append("ACCEPTED [%s] %s" % (cat, tbl))
            zero_sb(zfile)
            continue
        elif not any(TABLE_ERR.search(m) for m in msgs):
            bad.append("no 'device-mapper: table:' error [%s] %s: dmsetup said %s"
                       % (cat, tbl, out.strip().replace("\n", " | ")))
        else:
            st[1] += 1
        # (a failed dmsetup create removes the device it made)
        if zero_sb(zfile):
            reformatted += 1
    km.read()
    secs = time.monotonic() - t0
    for cat in sorted(stats):
        print("  %-12s %4d lines, %4d refused with a table error" % (cat, stats[cat][0], stats[cat][1]))
    print("%d lines in %.0f s (%.1f ms each); zero device formatted by %d refused lines"
          % (count, secs, 1000 * secs / max(count, 1), reformatted))
    for b in bad[:30]:
        print(b)
    for s in km.splats[:10]:
        print("SPLAT:", s)
    return 1 if bad or km.splats else 0


def target_minor():
    _, out = dmsetup("targets")
    for ln in out.splitlines():
        f = ln.split()
        if f and f[0] == "integrity":
            return int(f[1].lstrip("v").split(".")[1])
    return 0


def cmd_sbs(argv):
    fdev, ffile, fprov = argv
    fprov = int(fprov)
    with open(ffile, "rb") as fh:
        orig = fh.read(4096)
    valid = "0 %d integrity %s 0 4 J 1 internal_hash:crc32c" % (fprov, fdev)
    validb = "0 %d integrity %s 0 4 B 1 internal_hash:crc32c" % (fprov, fdev)
    # name, field edits (offset, struct format, value), table, expectation
    # "refuse", or "same": the in-kernel target accepts it (unknown flag
    # bits, a provided_data_sectors it recomputes from the device, a bitmap
    # granularity B mode recomputes); if accepted, the data must still read
    # back and the device provide what the volume was formatted with.
    cases = [
        ("magic byte", [(7, "B", 0xFF)], valid, "refuse"),
        ("magic zeroed", [(0, "8s", bytes(8))], valid, "refuse"),
        ("version 0", [(8, "B", 0)], valid, "refuse"),
        ("version 7", [(8, "B", 7)], valid, "v7"),
        ("version 8", [(8, "B", 8)], valid, "refuse"),
        ("version 255", [(8, "B", 255)], valid, "refuse"),
        ("log2_interleave 2", [(9, "B", 2)], valid, "refuse"),
        ("log2_interleave 32", [(9, "B", 32)], valid, "refuse"),
        ("log2_interleave 255", [(9, "B", 255)], valid, "refuse"),
        ("tag_size 8 vs table 4", [(10, "<H", 8)], valid, "refuse"),
        ("tag_size 0", [(10, "<H", 0)], valid, "refuse"),
        ("tag_size 65535", [(10, "<H", 65535)], valid, "refuse"),
        ("journal_sections 0", [(12, "<I", 0)], valid, "refuse"),
        ("journal_sections huge", [(12, "<I", 0xFFFFFFFF)], valid, "refuse"),
        ("journal_sections 1<<20", [(12, "<I", 1 << 20)], valid, "refuse"),
        ("provided beyond device", [(16, "<Q", 1 << 40)], valid, "same"),
        ("provided all ones", [(16, "<Q", (1 << 64) - 1)], valid, "same"),
        ("provided + 4096", [(16, "<Q", fprov + 4096)], valid, "same"),
        ("log2_sectors_per_block 3 vs table 512", [(28, "B", 3)], valid, "refuse"),
        ("log2_sectors_per_block 4", [(28, "B", 4)], valid, "refuse"),
        ("log2_sectors_per_block 255", [(28, "B", 255)], valid, "refuse"),
        ("journal MAC flag, no journal_mac", [(24, "<I", 0x18 | 1)], valid, "refuse"),
        ("inline flag on J table", [(24, "<I", 0x18 | 0x20)], valid, "inline"),
        ("flags unknown bit 0x100", [(24, "<I", 0x18 | 0x100)], valid, "same"),
        ("flags unknown bit 1<<31", [(24, "<I", 0x18 | (1 << 31))], valid, "same"),
        ("B mode, log2_blocks_per_bitmap_bit 200", [(29, "B", 200)], validb, "same"),
    ]
    km = Kmsg()
    bad = []
    is_ours = "O" in open("/sys/module/dm_integrity/taint").read() \
        if os.path.exists("/sys/module/dm_integrity/taint") else False
    kver = os.uname().release
    for name, edits, tbl, expect in cases:
        raw = bytearray(orig)
        for off, fmt, val in edits:
            struct.pack_into(fmt, raw, off, val)
        fd = os.open(ffile, os.O_RDWR)
        os.pwrite(fd, bytes(raw), 0)
        os.fsync(fd)
        os.close(fd)
        km.read()
        rc, out = dmsetup("create", NAME, "--table", tbl)
        msgs = km.read()
        verdict = "refused" if rc else "accepted"
        note = ""
        if rc == 0:
            # Accepted: the data must read back intact.
            p = subprocess.run(["dd", "if=/dev/mapper/" + NAME, "of=/dev/null", "bs=64k",
                                "iflag=direct", "status=none"], stderr=subprocess.PIPE)
            _, st = dmsetup("status", NAME)
            remove()
            note = " (data read: %s, status: %s)" % ("ok" if p.returncode == 0 else "EIO", st.strip())
        print("  %-40s %s%s" % (name, verdict, note))
        if expect == "v7":
            # Debian's 6.12 target carries a backport that adds superblock
            # version 7; mainline and ours (v1..v6) refuse it.
            expect = "same" if (not is_ours and kver.startswith("6.12")) else "refuse"
        if expect == "inline":
            # Targets before 1.12 (Debian 6.1's) do not know inline mode and
            # ignore its flag like any unknown bit.
            expect = "refuse" if is_ours or target_minor() >= 12 else "same"
        if expect == "refuse":
            if rc == 0:
                bad.append("ACCEPTED corrupted superblock: %s" % name)
            elif not any(TABLE_ERR.search(m) for m in msgs):
                bad.append("no 'device-mapper: table:' error for %s: %s" % (name, out.strip()))
        elif rc == 0 and "EIO" in note:
            bad.append("accepted %s but the data does not read back" % name)
        elif rc == 0 and st.split()[4:5] != [str(fprov)]:
            # What the in-kernel target does: the superblock's
            # provided_data_sectors is recomputed from the device.
            bad.append("accepted %s but provides %s sectors, not %d" % (name, st.split()[4:5], fprov))
        remove()
    fd = os.open(ffile, os.O_RDWR)
    os.pwrite(fd, orig, 0)
    os.fsync(fd)
    os.close(fd)
    km.read()
    for b in bad:
        print(b)
    for s in km.splats[:10]:
        print("SPLAT:", s)
    return 1 if bad or km.splats else 0


def main():
    if sys.argv[1] == "tables":
        return cmd_tables(sys.argv[2:])
    if sys.argv[1] == "sbs":
        return cmd_sbs(sys.argv[2:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
