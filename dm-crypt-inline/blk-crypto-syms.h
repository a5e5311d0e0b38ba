/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The blk-crypto functions an encrypting target needs that 6.1 and 6.12 do
 * not export.  Call them through cil_blk_crypto, filled in by
 * cil_blk_crypto_resolve() at module load: with the kernel's own functions
 * where it exports them (decided at build time, see include/compat.mk), else
 * with the addresses kallsyms gives for them.
 */
#ifndef CIL_BLK_CRYPTO_SYMS_H
#define CIL_BLK_CRYPTO_SYMS_H

#include <linux/blk-crypto.h>

struct cil_blk_crypto_ops {
	int (*init_key)(struct blk_crypto_key *blk_key, const u8 *raw_key,
			enum blk_crypto_mode_num crypto_mode,
			unsigned int dun_bytes, unsigned int data_unit_size);
	int (*start_using_key)(struct block_device *bdev,
			       const struct blk_crypto_key *key);
	void (*set_ctx)(struct bio *bio, const struct blk_crypto_key *key,
			const u64 dun[BLK_CRYPTO_DUN_ARRAY_SIZE],
			gfp_t gfp_mask);
};

extern struct cil_blk_crypto_ops cil_blk_crypto __ro_after_init;

int __init cil_blk_crypto_resolve(void);

#endif /* CIL_BLK_CRYPTO_SYMS_H */
