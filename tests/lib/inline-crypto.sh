# shellcheck shell=bash
# Helpers for the inline-crypto cases: load the emulated inline-encryption
# device (keyslot-passthrough/blk-crypto-emu.ko), read its counters, and set
# up fscrypt without the fscrypt tool (python3 ioctls).  Sourced by the cases
# after common.sh.

IC_DEBUGFS=/sys/kernel/debug/blk-crypto-emu

# requires(): the kernel has inline encryption and our modules are built.
_ic_requires() {
	_have_kernel_config BLK_INLINE_ENCRYPTION
	_have_our_module keyslot-passthrough blk-crypto-emu
	_have_program python3 dd cmp sha256sum
}

# Load keyslot-passthrough.ko and blk-crypto-emu.ko with the given
# parameters (after unloading an emulator left by an earlier case).
_ic_load_emu() {
	local lib emu
	lib=$(_our_module_path keyslot-passthrough)
	emu=$(_our_module_path blk-crypto-emu)
	_ic_unload_emu
	[ -d /sys/module/keyslot_passthrough ] || insmod "$lib" ||
		{ fail "insmod $lib failed"; return 1; }
	insmod "$emu" "$@" || { fail "insmod blk-crypto-emu $* failed"; return 1; }
	[ -d "$IC_DEBUGFS" ] ||
		{ fail "no $IC_DEBUGFS (debugfs not mounted?)"; return 1; }
}

_ic_unload_emu() {
	if [ -d /sys/module/blk_crypto_emu ]; then
		rmmod blk_crypto_emu || { fail "rmmod blk_crypto_emu failed"; return 1; }
	fi
	return 0
}

# _ic_stat <dev> <counter>: one counter of an emulated device (bce0...).
_ic_stat() {
	awk -v n="$2" '$1 == n { print $2 }' "$IC_DEBUGFS/$1/stats"
}

# _ic_crypt <dev> <encrypt|decrypt> <mode> <du_size> <dun> <sector>
#   <nr_sectors> <hex key>: transform the backing store in place.
_ic_crypt() {
	local dev=$1
	shift
	echo "$*" >"$IC_DEBUGFS/$dev/crypt"
}

# _ic_raw <dev> <file> [<bytes>]: copy the backing store, bypassing the
# block layer.
_ic_raw() {
	if [ -n "${3:-}" ]; then
		head -c "$3" "$IC_DEBUGFS/$1/raw" >"$2"
	else
		cat "$IC_DEBUGFS/$1/raw" >"$2"
	fi
}

# Kernel log lines since the case started (the harness keeps the log).
_ic_dmesg_has() {
	dmesg | grep -qF -- "$1"
}

# --- fscrypt without the fscrypt tool ------------------------------------------
# _ic_fscrypt add <mountpoint> <64-byte key file>: add a v2 master key, print
#   its identifier (hex).
# _ic_fscrypt set <dir> <identifier> [<contents mode> [<flags>]]: set a v2
#   policy on an empty directory (default AES-256-XTS, AES-256-CTS names).
# _ic_fscrypt remove <mountpoint> <identifier>: remove the key for all users.
_ic_fscrypt() {
	python3 - "$@" <<'PY'
import fcntl, os, struct, sys

def ioc(direction, nr, size):
    return (direction << 30) | (size << 16) | (ord('f') << 8) | nr

FS_IOC_SET_ENCRYPTION_POLICY = ioc(2, 19, 12)
FS_IOC_ADD_ENCRYPTION_KEY = ioc(3, 23, 80)
FS_IOC_REMOVE_ENCRYPTION_KEY_ALL_USERS = ioc(3, 25, 64)
KEY_SPEC_TYPE_IDENTIFIER = 2

cmd = sys.argv[1]
if cmd == "add":
    raw = open(sys.argv[3], "rb").read()
    # key_spec (type, reserved, u[32]), raw_size, key_id, reserved[8], raw
    arg = bytearray(struct.pack("=II32sII32x", KEY_SPEC_TYPE_IDENTIFIER, 0,
                                b"", len(raw), 0) + raw)
    fd = os.open(sys.argv[2], os.O_RDONLY)
    fcntl.ioctl(fd, FS_IOC_ADD_ENCRYPTION_KEY, arg)
    print(bytes(arg[8:24]).hex())
elif cmd == "set":
    ident = bytes.fromhex(sys.argv[3])
    contents = int(sys.argv[4], 0) if len(sys.argv) > 4 else 1
    flags = int(sys.argv[5], 0) if len(sys.argv) > 5 else 0x2
    names = {1: 4, 5: 6, 7: 8, 9: 9}.get(contents, 4)
    # version 2, contents mode, filenames mode, flags, data unit (0:
    # block size), reserved[3], master key identifier
    pol = struct.pack("=BBBBB3x16s", 2, contents, names, flags, 0, ident)
    fd = os.open(sys.argv[2], os.O_RDONLY | os.O_DIRECTORY)
    fcntl.ioctl(fd, FS_IOC_SET_ENCRYPTION_POLICY, pol)
elif cmd == "remove":
    arg = bytearray(struct.pack("=II16s16xI20x", KEY_SPEC_TYPE_IDENTIFIER, 0,
                                bytes.fromhex(sys.argv[3]), 0))
    fd = os.open(sys.argv[2], os.O_RDONLY)
    fcntl.ioctl(fd, FS_IOC_REMOVE_ENCRYPTION_KEY_ALL_USERS, arg)
    status = struct.unpack_from("=I", arg, 40)[0]
    if status:
        print("removal status %#x" % status, file=sys.stderr)
else:
    sys.exit("unknown command " + cmd)
PY
}

# _ic_mkfs_mount <dev> <mountpoint>: ext4 with the encrypt feature, mounted
# with -o inlinecrypt.
_ic_mkfs_mount() {
	mkfs.ext4 -q -F -O encrypt -b 4096 "$1" >/dev/null ||
		{ fail "mkfs.ext4 on $1 failed"; return 1; }
	mkdir -p "$2"
	mount -o inlinecrypt "$1" "$2" || { fail "mount -o inlinecrypt $1 failed"; return 1; }
}

# _ic_umount <mountpoint>...: unmount if mounted.
_ic_umount() {
	local m
	for m in "$@"; do
		mountpoint -q "$m" 2>/dev/null && umount "$m"
	done
	return 0
}

# --- dm-crypt-inline targets ------------------------------------------------------
# shellcheck disable=SC2034
IC_ORACLE="$DMT_REPO/tests/lib/ic-oracle.py"

# requires(): also the striped-inline target and the tools its cases use.
_ic_sti_requires() {
	_ic_requires
	_have_our_module dm-striped-inline
	_have_program dmsetup mkfs.ext4 mountpoint filefrag
	python3 -c 'import cryptography' 2>/dev/null ||
		_skip "python3 cryptography (the independent AES-XTS) not installed"
}

# _ic_load_target <module name>: load our DM target module once (with
# dm-mod under it); _ic_unload_target unloads it if it is loaded.
_ic_load_target() {
	local ko
	[ -d "/sys/module/${1//-/_}" ] && return 0
	modprobe dm-mod 2>/dev/null
	ko=$(_our_module_path "$1")
	insmod "$ko" || { fail "insmod $ko failed: $(dmesg | tail -n 3)"; return 1; }
}

_ic_unload_target() {
	[ -d "/sys/module/${1//-/_}" ] || return 0
	rmmod "${1//-/_}" || { fail "rmmod ${1//-/_} failed"; return 1; }
}

# dm-striped-inline.ko (keyslot-passthrough.ko must be loaded, which
# _ic_load_emu does).
_ic_load_sti() { _ic_load_target dm-striped-inline; }
_ic_unload_sti() { _ic_unload_target dm-striped-inline; }

# _ic_dm_block <dm name>: its dm-N name under /sys/block.
_ic_dm_block() {
	# Without udev /dev/mapper/NAME is a device node, not a link to dm-N:
	# go by its number.
	local mm
	mm=$(dmsetup info -c --noheadings --separator : -o major,minor "$1" | tr -d ' ')
	basename "$(readlink -f "/sys/dev/block/$mm")"
}

# _ic_dm_modes <dm name>: the inline encryption modes the device exposes
# (empty when it has no crypto profile).
_ic_dm_modes() {
	local d
	d=/sys/block/$(_ic_dm_block "$1")/queue/crypto/modes
	[ -d "$d" ] && (cd "$d" && echo *)
	return 0
}

# _ic_log_since <mark>: kernel log lines after the line "<mark>" written to
# /dev/kmsg by the case.
_ic_mark() {
	echo "$1" >/dev/kmsg
}
_ic_log_since() {
	dmesg | sed -n "\|$1\$|,\$p"
}

# _ic_sum <counter> <dev>...: a counter summed over emulated devices.
_ic_sum() {
	local c=$1 d n=0
	shift
	for d in "$@"; do
		n=$((n + $(_ic_stat "$d" "$c")))
	done
	echo "$n"
}

# requires(): the crypt-inline target (dm-crypt-inline.ko) and dm-crypt as
# the oracle.
_ic_cil_requires() {
	_ic_requires
	_have_our_module dm-crypt-inline
	_have_program dmsetup losetup xxd
	_have_kernel_module dm-crypt
}

_ic_load_cil() { _ic_load_target dm-crypt-inline; }
_ic_unload_cil() { _ic_unload_target dm-crypt-inline; }
