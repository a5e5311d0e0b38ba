/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-filter core: what the parts of dm-filter.ko share.
 */
#ifndef DMF_INTERNAL_H
#define DMF_INTERNAL_H

#include <linux/blkdev.h>
#include <linux/mutex.h>
#include <linux/percpu-refcount.h>
#include "compat.h"
#include "dm-filter.h"
#include <uapi/linux/dm-filter.h>

#define DMF_PREFIX "dm-filter: "

/*
 * The filtered devices of one disk: the whole disk and its partitions.
 * A bio meets the filters of its partition first, then those of the disk.
 */
struct dmf_disk {
	struct gendisk *disk;		/* kept by the devices' references */
	struct hlist_node hash_node;	/* dmf_disk_table */
	struct dmf_device __rcu *whole;
	struct list_head parts;		/* dmf_device.part_node, RCU */
	unsigned int nr_devices;
};

/* One filtered block device (whole disk or partition). */
struct dmf_device {
	dev_t dev;
	struct block_device *bdev;	/* counted reference */
	struct dmf_disk *ddisk;
	u64 diskseq;			/* of the disk at attach */
	struct list_head filters;	/* first to see a bio first */
	unsigned int nr_filters;
	struct list_head node;		/* dmf_devices */
	struct list_head part_node;	/* dmf_disk.parts (partitions) */

	/* Held by every bio a filter holds, until it leaves the chain. */
	struct percpu_ref active;
	struct completion drained;

	/* While the filter chain changes, new bios wait here. */
	spinlock_t lock;
	bool blocked;
	bool dead;
	struct bio_list deferred;
};

/* dmf-hook.c: the interception mechanism. */
int dmf_hook_enable(void);
void dmf_hook_exit(void);
void dmf_hook_watch(const struct gendisk *disk);
void dmf_hook_unwatch(const struct gendisk *disk);
void dmf_hook_pass(struct bio *bio);

/* dmf-core.c */
extern struct mutex dmf_ctl_mutex;
extern struct list_head dmf_devices;
bool dmf_handle_bio(struct bio *bio);
unsigned int dmf_first_piece(struct bio *bio);
struct dmf_filter_type *dmf_get_type(const char *name);
void dmf_put_type(struct dmf_filter_type *type);
typedef int (*dmf_type_fn)(struct dmf_filter_type *type, void *data);
int dmf_iterate_types(dmf_type_fn fn, void *data);
int dmf_attach(dev_t dev, const char *type, const char *args, u32 *id,
	       char *error, size_t error_len);
int dmf_detach(dev_t dev, u32 id, const char *type);
void dmf_check_now(void);
struct dmf_filter *dmf_find_filter(dev_t dev, u32 id, const char *type);
int dmf_core_init(void);
void dmf_core_exit(void);

/* dmf-split.c: whole-disk bios that cross a filtered partition's edge. */
int dmf_split_init(void);
void dmf_split_exit(void);
void dmf_split_queue(struct bio *bio);

/* dmf-ctl.c */
int dmf_ctl_init(void);
void dmf_ctl_exit(void);

#endif /* DMF_INTERNAL_H */
