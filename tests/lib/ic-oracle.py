#!/usr/bin/env python3
# Independent oracle for the inline-crypto cases: what a file's contents must
# look like on the devices under a striped stack, computed in user space from
# the fscrypt master key (HKDF-SHA512 from Python's hmac, AES-256-XTS from
# the "cryptography" package, i.e. OpenSSL), without asking the kernel.
#
#   ic-oracle.py uuid <ext4 device>
#       the filesystem UUID (hex), read from the superblock.
#   ic-oracle.py lblk64-key <master key file> <uuid hex>
#       the AES-256-XTS key fscrypt uses for IV_INO_LBLK_64 policies.
#   ic-oracle.py extents <file>
#       "<logical block> <physical block> <length>" lines (filefrag -v).
#   ic-oracle.py check --key HEX --ino N --plain FILE --extents FILE
#           --chunk SECTORS --member RAW:OFFSET [--member ...] [--block 4096]
#       every block of the file, encrypted with DUN (ino << 32) | lblk, must
#       be where the striped layout puts it on the members' raw stores.
import argparse
import hashlib
import hmac
import re
import subprocess
import sys


def hkdf_sha512(ikm, info, length):
    # RFC 5869 with no salt (a hash-length string of zeroes).
    prk = hmac.new(b"\0" * 64, ikm, hashlib.sha512).digest()
    out, prev, counter = b"", b"", 1
    while len(out) < length:
        prev = hmac.new(prk, prev + info + bytes([counter]),
                        hashlib.sha512).digest()
        out += prev
        counter += 1
    return out[:length]


def cmd_uuid(args):
    with open(args[0], "rb") as f:
        f.seek(1024)
        sb = f.read(1024)
    if sb[0x38:0x3a] != b"\x53\xef":
        sys.exit("%s: no ext4 superblock" % args[0])
    print(sb[0x68:0x78].hex())


def cmd_lblk64_key(args):
    master = open(args[0], "rb").read()
    uuid = bytes.fromhex(args[1])
    # info: "fscrypt\0", context 4 (IV_INO_LBLK_64 key), mode 1
    # (AES-256-XTS), filesystem UUID.
    info = b"fscrypt\0" + bytes([4, 1]) + uuid
    print(hkdf_sha512(master, info, 64).hex())


def extents(path):
    out = subprocess.run(["filefrag", "-v", path], check=True,
                         capture_output=True, text=True).stdout
    ext = []
    for line in out.splitlines():
        m = re.match(r"\s*\d+:\s*(\d+)\.\.\s*(\d+):\s*(\d+)\.\.\s*(\d+):", line)
        if m:
            lo, hi, plo = int(m.group(1)), int(m.group(2)), int(m.group(3))
            ext.append((lo, plo, hi - lo + 1))
    if not ext:
        sys.exit("no extents in filefrag output:\n" + out)
    return ext


def cmd_extents(args):
    for lo, plo, n in extents(args[0]):
        print(lo, plo, n)


def xts_encrypt(key, dun, data):
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    tweak = dun.to_bytes(16, "little")
    enc = Cipher(algorithms.AES(key), modes.XTS(tweak)).encryptor()
    return enc.update(data) + enc.finalize()


def cmd_check(argv):
    p = argparse.ArgumentParser(prog="ic-oracle.py check")
    p.add_argument("--key", required=True)
    p.add_argument("--ino", type=int, required=True)
    p.add_argument("--plain", required=True)
    p.add_argument("--extents", required=True)
    p.add_argument("--chunk", type=int, required=True)
    p.add_argument("--member", action="append", required=True)
    p.add_argument("--block", type=int, default=4096)
    a = p.parse_args(argv)
    key = bytes.fromhex(a.key)
    plain = open(a.plain, "rb").read()
    members = []
    for m in a.member:
        path, off = m.rsplit(":", 1)
        members.append((open(path, "rb").read(), int(off)))
    bs, spb = a.block, a.block // 512
    nblocks = (len(plain) + bs - 1) // bs
    mapped = {}
    for line in open(a.extents):
        lo, plo, n = (int(x) for x in line.split())
        for i in range(n):
            mapped[lo + i] = plo + i
    seen = [0] * len(members)
    for lblk in range(nblocks):
        if lblk not in mapped:
            sys.exit("block %d of the file is not mapped" % lblk)
        sector = mapped[lblk] * spb
        chunk, in_chunk = divmod(sector, a.chunk)
        row, stripe = divmod(chunk, len(members))
        raw, off = members[stripe]
        pos = (off + row * a.chunk + in_chunk) * 512
        got = raw[pos:pos + bs]
        data = plain[lblk * bs:(lblk + 1) * bs].ljust(bs, b"\0")
        want = xts_encrypt(key, (a.ino << 32) | lblk, data)
        if got != want:
            what = "the plaintext" if got == data else "something else"
            sys.exit("block %d (device block %d, member %d, byte %d) holds %s, "
                     "not the AES-256-XTS ciphertext with DUN %#x"
                     % (lblk, mapped[lblk], stripe, pos, what,
                        (a.ino << 32) | lblk))
        seen[stripe] += 1
    print("%d blocks match the independent ciphertext; per member: %s"
          % (nblocks, " ".join(str(n) for n in seen)))


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "uuid":
        cmd_uuid(args)
    elif cmd == "lblk64-key":
        cmd_lblk64_key(args)
    elif cmd == "extents":
        cmd_extents(args)
    elif cmd == "check":
        cmd_check(args)
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
