# SPDX-License-Identifier: GPL-2.0
#
# Header probes for kernel API differences between the kernels we support
# (Debian 6.1 and 6.12).  Each probe greps the kernel's own headers for the
# declaration that marks the newer API and, when found, defines HAVE_<name>.
# include/compat.h is the only place that tests these symbols.

compat_hdr = $(srctree)/include/$(1)
# $(call compat_probe,<header>,<extended regexp>,<name>)
compat_probe = $(shell grep -qsE '$(2)' $(call compat_hdr,$(1)) && echo -DHAVE_$(3))

# 6.5: block device open mode is blk_mode_t, not fmode_t.
COMPAT_FLAGS += $(call compat_probe,linux/blkdev.h,typedef unsigned int __bitwise blk_mode_t,BLK_MODE_T)
# 6.9: block devices are opened as files.
COMPAT_FLAGS += $(call compat_probe,linux/blkdev.h,struct file \*bdev_file_open_by_path,BDEV_FILE_OPEN)
# 6.11: integrity settings moved into struct queue_limits;
# blk_integrity_register() is gone from then on.
COMPAT_FLAGS += $(call compat_probe,linux/blk-integrity.h,void blk_integrity_register\b,BLK_INTEGRITY_REGISTER)
# module_dm() registration helper.
COMPAT_FLAGS += $(call compat_probe,linux/device-mapper.h,define module_dm\b,MODULE_DM)
# 6.11: queue limits carry feature flags (stable writes among them).
COMPAT_FLAGS += $(call compat_probe,linux/blkdev.h,define BLK_FEAT_STABLE_WRITES\b,BLK_FEAT_STABLE_WRITES)
# 6.12: <asm/unaligned.h> became <linux/unaligned.h>.
COMPAT_FLAGS += $(call compat_probe,linux/unaligned.h,get_unaligned,LINUX_UNALIGNED_H)
# Newest kernels export the blk-crypto functions an encrypting target needs
# (for dm-inlinecrypt); 6.1 and 6.12 do not, and dm-crypt-inline resolves
# them at load instead (dm-crypt-inline/blk-crypto-syms.c).
COMPAT_FLAGS += $(shell for s in bio_crypt_set_ctx blk_crypto_init_key blk_crypto_start_using_key; do \
	grep -qsw "$$s" $(objtree)/Module.symvers || exit 1; done && echo -DHAVE_BLK_CRYPTO_EXPORTS)
# 6.7: SM4-XTS blk-crypto mode.
COMPAT_FLAGS += $(call compat_probe,linux/blk-crypto.h,BLK_ENCRYPTION_MODE_SM4_XTS,BLK_CRYPTO_SM4_XTS)
# 6.2: ftrace_instruction_pointer_set() became
# ftrace_regs_set_instruction_pointer().
COMPAT_FLAGS += $(call compat_probe,linux/ftrace.h,ftrace_regs_set_instruction_pointer,FTRACE_REGS_SET_IP)
# 6.10: the partition number is read through bdev_partno().
COMPAT_FLAGS += $(call compat_probe,linux/blkdev.h,u8 bdev_partno\b,BDEV_PARTNO)
# 6.8: freeze_bdev()/thaw_bdev() became bdev_freeze()/bdev_thaw().
COMPAT_FLAGS += $(call compat_probe,linux/blkdev.h,int bdev_freeze\b,BDEV_FREEZE)
# 6.11: a block integrity profile says which checksum it carries (csum_type;
# NONE for opaque metadata) and a target can ask device-mapper for bio
# sets that carry integrity payloads (ti->mempool_needs_integrity).
COMPAT_FLAGS += $(call compat_probe,linux/blkdev.h,BLK_INTEGRITY_CSUM_NONE,BLK_INTEGRITY_CSUM_TYPE)
COMPAT_FLAGS += $(call compat_probe,linux/device-mapper.h,bool mempool_needs_integrity,DM_MEMPOOL_NEEDS_INTEGRITY)
# Newer kernels than 6.12: struct blk_integrity's tuple_size is metadata_size.
COMPAT_FLAGS += $(call compat_probe,linux/blkdev.h,char[[:space:]]+metadata_size;,BLK_INTEGRITY_METADATA_SIZE)
# 6.4: a module's memory is described per type (struct module_memory).
COMPAT_FLAGS += $(call compat_probe,linux/module.h,struct module_memory \{,MODULE_MEMORY)
