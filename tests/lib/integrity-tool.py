#!/usr/bin/env python3
"""dm-integrity test helpers: on-disk layout, tags, block scans, superblock edits.

Written for this project's tests from the format description in
/work/shared/reference/dm-integrity.md (section 2); no kernel or cryptsetup code.

  sb IMAGE [--meta]            superblock fields and derived layout as shell
                               assignments (sb_*, lay_*)
  loc IMAGE [--meta] SECTOR    "data_byte tag_byte" of the block holding the
                               logical 512-byte SECTOR (data_byte on the data
                               device, tag_byte on the meta device with --meta)
  tagcheck IMAGE DATAIMG ALG [--meta] [--key HEX] [--blocks N]
                               recompute the tags of the first N blocks from
                               the data area and compare with the tag area;
                               prints "ok N" or the first mismatch
  scan DEV BS                  read DEV one BS block at a time with O_DIRECT;
                               prints "blocks N bad I J ..." (EIO blocks)
  sbset IMAGE FIELD=VALUE...   overwrite superblock fields in IMAGE (offset 0)
  corrupt IMAGE DATAIMG SEED NDATA NTAG [--meta]
                               invert one seeded byte in the data of NDATA
                               blocks and in the tag of NTAG other blocks;
                               prints "data|tag BLOCK BYTE_OFFSET" lines
"""
import hashlib
import hmac
import mmap
import os
import struct
import sys

SB_FIELDS = {
    # name: (offset, struct format)
    "magic": (0, "8s"),
    "version": (8, "B"),
    "log2_interleave_sectors": (9, "B"),
    "tag_size": (10, "<H"),
    "journal_sections": (12, "<I"),
    "provided_data_sectors": (16, "<Q"),
    "flags": (24, "<I"),
    "log2_sectors_per_block": (28, "B"),
    "log2_blocks_per_bitmap_bit": (29, "B"),
    "recalc_sector": (32, "<Q"),
    "salt": (48, "16s"),
}
FLAG_JOURNAL_MAC = 1
FLAG_FIXED_PADDING = 8
FLAG_FIXED_HMAC = 0x10


def read_sb(path):
    with open(path, "rb") as f:
        raw = f.read(512)
    sb = {}
    for name, (off, fmt) in SB_FIELDS.items():
        sb[name] = struct.unpack_from(fmt, raw, off)[0]
    return sb


def roundup(x, m):
    return (x + m - 1) // m * m


def layout(sb, meta):
    lay = {}
    log2spb = sb["log2_sectors_per_block"]
    spb = 1 << log2spb
    tag = sb["tag_size"]
    entry = roundup(8 + 8 * spb + tag, 8)
    space = 504 - (8 if sb["flags"] & FLAG_JOURNAL_MAC else 0)
    per_sector = space // entry
    section_entries = per_sector * 8
    section_sectors = section_entries * spb + 8
    initial = 8 + sb["journal_sections"] * section_sectors
    lay.update(spb=spb, entry_size=entry, section_sectors=section_sectors,
               initial_sectors=initial)
    if not meta:
        inter = 1 << sb["log2_interleave_sectors"]
        pad = 4096 if sb["flags"] & FLAG_FIXED_PADDING else 131072
        run = roundup(tag * (inter >> log2spb), pad) // 512
        lay.update(interleave_sectors=inter, metadata_run=run)
    return lay


def locate(sb, lay, meta, sector):
    log2spb = sb["log2_sectors_per_block"]
    tag = sb["tag_size"]
    sector = sector >> log2spb << log2spb
    if meta:
        return sector * 512, lay["initial_sectors"] * 512 + (sector >> log2spb) * tag
    inter = lay["interleave_sectors"]
    run = lay["metadata_run"]
    init = lay["initial_sectors"]
    area, off = divmod(sector, inter)
    data = init + (area + 1) * run + area * inter + off
    tagb = (init + area * (inter + run)) * 512 + (off >> log2spb) * tag
    return data * 512, tagb


def crc32c(data, crc=0xFFFFFFFF):
    table = crc32c.table
    if table is None:
        table = []
        for i in range(256):
            c = i
            for _ in range(8):
                c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
            table.append(c)
        crc32c.table = table
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc


crc32c.table = None


def compute_tag(alg, key, salt, fixed_hmac, sector, data, tag_size):
    msg = (salt if fixed_hmac else b"") + struct.pack("<Q", sector) + data
    if alg == "crc32c":
        d = struct.pack("<I", crc32c(msg) ^ 0xFFFFFFFF)
    elif alg.startswith("hmac-"):
        d = hmac.new(key, msg, alg[5:]).digest()
    else:
        d = hashlib.new(alg, msg).digest()
    return (d + bytes(tag_size))[:tag_size]


def cmd_sb(args):
    meta = "--meta" in args
    args = [a for a in args if a != "--meta"]
    sb = read_sb(args[0])
    for k, v in sb.items():
        if isinstance(v, bytes):
            v = v.hex()
        print("sb_%s=%s" % (k, v))
    for k, v in layout(sb, meta).items():
        print("lay_%s=%s" % (k, v))


def cmd_loc(args):
    meta = "--meta" in args
    args = [a for a in args if a != "--meta"]
    sb = read_sb(args[0])
    d, t = locate(sb, layout(sb, meta), meta, int(args[1]))
    print(d, t)


def cmd_tagcheck(args):
    meta = "--meta" in args
    args = [a for a in args if a != "--meta"]
    key = b""
    nblocks = None
    if "--key" in args:
        i = args.index("--key")
        key = bytes.fromhex(args[i + 1])
        del args[i:i + 2]
    if "--blocks" in args:
        i = args.index("--blocks")
        nblocks = int(args[i + 1])
        del args[i:i + 2]
    image, dataimg, alg = args[0], args[1], args[2]
    sb = read_sb(image)
    lay = layout(sb, meta)
    spb = lay["spb"]
    bs = 512 * spb
    tag = sb["tag_size"]
    total = sb["provided_data_sectors"] // spb
    if nblocks is None or nblocks > total:
        nblocks = total
    fixed = bool(sb["flags"] & FLAG_FIXED_HMAC)
    with open(image, "rb") as mf, open(dataimg, "rb") as df:
        for b in range(nblocks):
            s = b * spb
            d, t = locate(sb, lay, meta, s)
            df.seek(d)
            data = df.read(bs)
            mf.seek(t)
            ondisk = mf.read(tag)
            want = compute_tag(alg, key, sb["salt"], fixed, s, data, tag)
            if ondisk != want:
                print("mismatch block %d data@%d tag@%d disk %s computed %s"
                      % (b, d, t, ondisk.hex(), want.hex()))
                return 1
    print("ok", nblocks)
    return 0


def direct_fd(path, write=False):
    flags = (os.O_RDWR if write else os.O_RDONLY) | os.O_DIRECT
    return os.open(path, flags)


def cmd_scan(args):
    dev, bs = args[0], int(args[1])
    fd = direct_fd(dev)
    size = os.lseek(fd, 0, os.SEEK_END)
    buf = mmap.mmap(-1, bs)
    bad = []
    n = size // bs
    for i in range(n):
        try:
            got = os.preadv(fd, [buf], i * bs)
            if got != bs:
                bad.append(i)
        except OSError:
            bad.append(i)
    os.close(fd)
    print("blocks", n, "bad", *bad)
    return 0


def cmd_sbset(args):
    image = args[0]
    fd = os.open(image, os.O_RDWR)
    raw = bytearray(os.pread(fd, 4096, 0))
    for a in args[1:]:
        name, val = a.split("=", 1)
        off, fmt = SB_FIELDS[name]
        if fmt.endswith("s"):
            v = bytes.fromhex(val)
        else:
            v = int(val, 0)
        struct.pack_into(fmt, raw, off, v)
    os.pwrite(fd, bytes(raw), 0)
    os.fsync(fd)
    os.close(fd)
    return 0


def cmd_corrupt(args):
    import random
    meta = "--meta" in args
    args = [a for a in args if a != "--meta"]
    image, dataimg, seed, nd, nt = args[0], args[1], args[2], int(args[3]), int(args[4])
    sb = read_sb(image)
    lay = layout(sb, meta)
    spb = lay["spb"]
    bs = 512 * spb
    n = sb["provided_data_sectors"] // spb
    r = random.Random(seed)
    for i, b in enumerate(r.sample(range(n), nd + nt)):
        d, t = locate(sb, lay, meta, b * spb)
        if i < nd:
            path, off, kind = dataimg, d + r.randrange(bs), "data"
        else:
            path, off, kind = image, t + r.randrange(sb["tag_size"]), "tag"
        fd = os.open(path, os.O_RDWR)
        c = os.pread(fd, 1, off)
        os.pwrite(fd, bytes([c[0] ^ 0xFF]), off)
        os.fsync(fd)
        os.close(fd)
        print(kind, b, off)
    return 0


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    fn = {"sb": cmd_sb, "loc": cmd_loc, "tagcheck": cmd_tagcheck,
          "scan": cmd_scan, "sbset": cmd_sbset,
          "corrupt": cmd_corrupt}.get(cmd)
    if fn is None:
        print("unknown command", cmd, file=sys.stderr)
        return 2
    return fn(args) or 0


if __name__ == "__main__":
    sys.exit(main())
