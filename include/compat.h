/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shims for kernel API differences between the kernels this tree builds
 * against.  The HAVE_* symbols come from header probes in compat.mk; no
 * other file tests kernel versions.
 */
#ifndef DMX_COMPAT_H
#define DMX_COMPAT_H

#include <linux/blkdev.h>
#include <linux/module.h>
#include <linux/device-mapper.h>

#ifndef HAVE_BLK_MODE_T
/* Before 6.5 the open mode of a block device was an fmode_t. */
typedef fmode_t blk_mode_t;
#define BLK_OPEN_READ	FMODE_READ
#define BLK_OPEN_WRITE	FMODE_WRITE
#define BLK_OPEN_EXCL	FMODE_EXCL
#endif

#ifndef HAVE_MODULE_DM
/* Register a target at module load and drop it at unload. */
#define module_dm(name)							\
static int __init dm_##name##_init(void)				\
{									\
	return dm_register_target(&(name##_target));			\
}									\
module_init(dm_##name##_init);						\
static void __exit dm_##name##_exit(void)				\
{									\
	dm_unregister_target(&(name##_target));				\
}									\
module_exit(dm_##name##_exit)
#endif

/*
 * blk-crypto functions that only the newest kernels export: elsewhere
 * dm-crypt-inline looks them up when it loads (blk-crypto-syms.c).
 */
#ifdef HAVE_BLK_CRYPTO_EXPORTS
#define DMX_BLK_CRYPTO_EXPORTED	1
#else
#define DMX_BLK_CRYPTO_EXPORTED	0
#endif

/* SM4-XTS inline encryption (6.7); 0 (invalid) where it is missing. */
#ifdef HAVE_BLK_CRYPTO_SM4_XTS
#define DMX_BLK_ENCRYPTION_MODE_SM4_XTS	BLK_ENCRYPTION_MODE_SM4_XTS
#else
#define DMX_BLK_ENCRYPTION_MODE_SM4_XTS	0
#endif

#endif /* DMX_COMPAT_H */
