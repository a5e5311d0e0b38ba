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
#ifdef HAVE_LINUX_UNALIGNED_H
#include <linux/unaligned.h>
#else
#include <asm/unaligned.h>
#endif

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
 * Integrity profile offered by a device-mapper target that stores opaque
 * per-block tags itself (dm-integrity without an internal hash, used by
 * dm-crypt's AEAD modes).  From 6.11 the profile is part of the queue
 * limits, set from the target's io_hints; before, the target registers it
 * on the mapped device's disk from its constructor.
 */
#ifdef HAVE_BLK_INTEGRITY_REGISTER
#include <linux/blk-integrity.h>

static inline void dmx_set_integrity_limits(struct queue_limits *limits,
					    unsigned int tuple_size,
					    unsigned int interval_exp)
{
}

static inline int dmx_register_integrity(struct dm_target *ti,
					 unsigned int tuple_size,
					 unsigned int interval_exp)
{
	static const struct blk_integrity_profile dmx_tag_profile = {
		.name = "DM-DIF-EXT-TAG",
	};
	struct gendisk *disk = dm_disk(dm_table_get_md(ti->table));
	struct blk_integrity bi = {
		.profile = &dmx_tag_profile,
		.tuple_size = tuple_size,
		.tag_size = tuple_size,
		.interval_exp = interval_exp,
	};

	blk_integrity_register(disk, &bi);
	blk_queue_max_integrity_segments(disk->queue, UINT_MAX);
	return 0;
}
#else
static inline void dmx_set_integrity_limits(struct queue_limits *limits,
					    unsigned int tuple_size,
					    unsigned int interval_exp)
{
	struct blk_integrity *bi = &limits->integrity;

	memset(bi, 0, sizeof(*bi));
	bi->tuple_size = tuple_size;
	bi->tag_size = tuple_size;
	bi->interval_exp = interval_exp;
	limits->max_integrity_segments = USHRT_MAX;
}

static inline int dmx_register_integrity(struct dm_target *ti,
					 unsigned int tuple_size,
					 unsigned int interval_exp)
{
	return 0;
}
#endif

/*
 * Inline mode of dm-integrity: tags go in the metadata of a lower device
 * whose profile carries no checksum of its own (csum_type NONE), and the
 * bios sent down take their payloads from device-mapper's bio sets.  Both
 * appear in 6.11; before, the target refuses inline mode.
 */
#if defined(HAVE_BLK_INTEGRITY_CSUM_TYPE) && defined(HAVE_DM_MEMPOOL_NEEDS_INTEGRITY)
#define DMX_HAVE_INLINE_INTEGRITY	1

static inline bool dmx_integrity_opaque(const struct blk_integrity *bi)
{
	return bi->csum_type == BLK_INTEGRITY_CSUM_NONE;
}

static inline void dmx_set_mempool_needs_integrity(struct dm_target *ti)
{
	ti->mempool_needs_integrity = true;
}
#else
#define DMX_HAVE_INLINE_INTEGRITY	0

static inline bool dmx_integrity_opaque(const struct blk_integrity *bi)
{
	return false;
}

static inline void dmx_set_mempool_needs_integrity(struct dm_target *ti)
{
}
#endif

/* Bytes of metadata per integrity interval of a profile. */
#ifdef HAVE_BLK_INTEGRITY_METADATA_SIZE
#define dmx_integrity_tuple_size(bi)	((bi)->metadata_size)
#else
#define dmx_integrity_tuple_size(bi)	((bi)->tuple_size)
#endif

/* Stable pages during writes: a queue-limits feature from 6.11. */
#ifdef HAVE_BLK_FEAT_STABLE_WRITES
static inline void dmx_set_stable_writes(struct queue_limits *limits)
{
	limits->features |= BLK_FEAT_STABLE_WRITES;
}
#else
static inline void dmx_set_stable_writes(struct queue_limits *limits)
{
}
#endif

/* The integrity payload of a bio, detached while the bio goes down. */
#ifdef CONFIG_BLK_DEV_INTEGRITY
static inline void *dmx_bio_detach_integrity(struct bio *bio)
{
	void *bip = bio->bi_integrity;

	bio->bi_integrity = NULL;
	bio->bi_opf &= ~REQ_INTEGRITY;
	return bip;
}

static inline void dmx_bio_attach_integrity(struct bio *bio, void *bip)
{
	bio->bi_integrity = bip;
	if (bip)
		bio->bi_opf |= REQ_INTEGRITY;
}
#else
static inline void *dmx_bio_detach_integrity(struct bio *bio)
{
	return NULL;
}

static inline void dmx_bio_attach_integrity(struct bio *bio, void *bip)
{
}
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
#ifndef HAVE_FTRACE_REGS_SET_IP
#define ftrace_regs_set_instruction_pointer(fregs, ip)			\
	ftrace_instruction_pointer_set(fregs, ip)
#endif

/*
 * Whether addr lies in the calling module's text: where calls made from
 * it return to.  From 6.4 a module's memory is one range per type and
 * within_module() walks all seven; one range is all this needs.
 */
#ifdef HAVE_MODULE_MEMORY
#define dmx_within_own_text(addr)					\
	within_module_mem_type(addr, THIS_MODULE, MOD_TEXT)
#else
#define dmx_within_own_text(addr)	within_module_core(addr, THIS_MODULE)
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

/* Atomic writes (REQ_ATOMIC, 6.11 on): bios that must not be split. */
#ifdef REQ_ATOMIC
#define DMX_REQ_ATOMIC	REQ_ATOMIC
#else
#define DMX_REQ_ATOMIC	((__force blk_opf_t)0)
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
