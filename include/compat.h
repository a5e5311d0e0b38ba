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
#include <linux/file.h>
#include <linux/ftrace.h>

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

#ifndef HAVE_FTRACE_REGS_SET_IP
#define ftrace_regs_set_instruction_pointer(fregs, ip)			\
	ftrace_instruction_pointer_set(fregs, ip)
#endif

#ifndef HAVE_BDEV_PARTNO
static inline u8 bdev_partno(const struct block_device *bdev)
{
	return bdev->bd_partno;
}
#endif

#ifndef HAVE_BDEV_FREEZE
#define bdev_freeze(bdev)	freeze_bdev(bdev)
#define bdev_thaw(bdev)		thaw_bdev(bdev)
#endif

/*
 * A counted reference to the block device dev, without keeping it open
 * (an open would, for instance, turn a loop detach into a deferred
 * autoclear).  Drop it with dmx_bdev_put().
 */
static inline struct block_device *dmx_bdev_get(dev_t dev)
{
	struct block_device *bdev;
#ifdef HAVE_BDEV_FILE_OPEN
	struct file *file = bdev_file_open_by_dev(dev, BLK_OPEN_READ, NULL,
						  NULL);

	if (IS_ERR(file))
		return ERR_CAST(file);
	bdev = file_bdev(file);
	get_device(&bdev->bd_device);
	fput(file);
#else
	bdev = blkdev_get_by_dev(dev, FMODE_READ, NULL);
	if (IS_ERR(bdev))
		return bdev;
	get_device(&bdev->bd_device);
	blkdev_put(bdev, FMODE_READ);
#endif
	return bdev;
}

static inline void dmx_bdev_put(struct block_device *bdev)
{
	put_device(&bdev->bd_device);
}

#endif /* DMX_COMPAT_H */
