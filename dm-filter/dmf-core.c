// SPDX-License-Identifier: GPL-2.0
/*
 * dm-filter core: filter types, filtered devices and their filter chains,
 * attach and detach with I/O in flight, automatic detach of vanished disks.
 *
 * A filtered device is a struct dmf_device holding the ordered list of
 * its filters; the filtered devices of a disk (whole disk, partitions)
 * hang off a struct dmf_disk in a hash table keyed by the disk, looked up
 * under RCU.  A bio meets the filters of its partition (for a bio to the
 * whole disk: of the filtered partition that holds it), then those of the
 * whole disk, each in its own device's sector numbers.  A bio runs
 * through a chain inside an RCU read-side section; a bio a filter
 * holds takes the device's percpu_ref 'active' until it is resumed and
 * leaves the chain.  To change the chain the core closes the gate: new
 * bios are parked on a list, an RCU grace period lets the bios in the
 * chain leave it, the ref is killed and drained (held bios), the chain
 * changes, the ref is revived and the parked bios run through the new
 * chain.  No bio is lost, none is seen twice by a filter, and a filter's
 * destructor runs with no bio inside it.
 *
 * After a filter is added, the device's queue is frozen and thawed once so
 * that every request submitted before the attach has completed when the
 * attach returns.
 *
 * Disks that go away are found by a check every second while any device
 * is filtered (and before every control command): the disk is dead or no
 * longer live (del_gendisk), its sequence number changed (media change,
 * loop detach and re-attach), its size became zero, or the partition is no
 * longer in the disk's partition table.  Their filters are detached and
 * freed; the references the core holds keep the structures valid until
 * then.  Bios of a disk whose sequence number changed skip the filters at
 * once.
 */
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/hashtable.h>
#include <linux/workqueue.h>
#include <linux/string.h>
#include <linux/blk-mq.h>
#include <trace/events/block.h>
#include "dmf-internal.h"

/* Serialises attach, detach, messages and the vanished-disk check. */
DEFINE_MUTEX(dmf_ctl_mutex);
LIST_HEAD(dmf_devices);
/* Disks with filtered devices: the bio path finds its disk in one bucket. */
static DEFINE_HASHTABLE(dmf_disk_table, 10);
static u32 dmf_next_id;

static DEFINE_MUTEX(dmf_types_mutex);
static LIST_HEAD(dmf_types);

static void dmf_check_fn(struct work_struct *work);
static DECLARE_DELAYED_WORK(dmf_check_work, dmf_check_fn);

/* ---- filter types ------------------------------------------------------ */

static struct dmf_filter_type *dmf_find_type(const char *name)
{
	struct dmf_filter_type *t;

	list_for_each_entry(t, &dmf_types, list)
		if (!strcmp(t->name, name))
			return t;
	return NULL;
}

int dmf_register_filter_type(struct dmf_filter_type *type)
{
	int r = 0;

	if (!type->name || !type->name[0] ||
	    strlen(type->name) >= DMF_NAME_LEN || !type->ctr ||
	    !type->submit_bio)
		return -EINVAL;
	mutex_lock(&dmf_types_mutex);
	if (dmf_find_type(type->name))
		r = -EEXIST;
	else
		list_add_tail(&type->list, &dmf_types);
	mutex_unlock(&dmf_types_mutex);
	if (r)
		pr_err(DMF_PREFIX "filter type %s registered twice\n",
		       type->name);
	return r;
}
EXPORT_SYMBOL_GPL(dmf_register_filter_type);

void dmf_unregister_filter_type(struct dmf_filter_type *type)
{
	mutex_lock(&dmf_types_mutex);
	list_del(&type->list);
	mutex_unlock(&dmf_types_mutex);
}
EXPORT_SYMBOL_GPL(dmf_unregister_filter_type);

static struct dmf_filter_type *dmf_try_get_type(const char *name)
{
	struct dmf_filter_type *t;

	mutex_lock(&dmf_types_mutex);
	t = dmf_find_type(name);
	if (t && !try_module_get(t->module))
		t = NULL;
	mutex_unlock(&dmf_types_mutex);
	return t;
}

/* A filter type with a module reference; loads dm-filter-<name>. */
struct dmf_filter_type *dmf_get_type(const char *name)
{
	struct dmf_filter_type *t = dmf_try_get_type(name);

	if (!t && request_module("dm-filter-%s", name) == 0)
		t = dmf_try_get_type(name);
	return t;
}

void dmf_put_type(struct dmf_filter_type *type)
{
	module_put(type->module);
}

int dmf_iterate_types(dmf_type_fn fn, void *data)
{
	struct dmf_filter_type *t;
	int r = 0;

	mutex_lock(&dmf_types_mutex);
	list_for_each_entry(t, &dmf_types, list) {
		r = fn(t, data);
		if (r)
			break;
	}
	mutex_unlock(&dmf_types_mutex);
	return r;
}

/* ---- the I/O path ------------------------------------------------------- */

/* In an RCU read-side section (any flavour) or under dmf_ctl_mutex. */
static struct dmf_disk *dmf_lookup_disk(const struct gendisk *disk)
{
	struct dmf_disk *dd;

	hash_for_each_possible_rcu(dmf_disk_table, dd, hash_node,
				   (unsigned long)disk,
				   lockdep_is_held(&dmf_ctl_mutex)) {
		if (dd->disk == disk)
			return dd;
	}
	return NULL;
}

/*
 * How far the bio's sector numbers are from d's: a bio to a partition
 * counts from the partition's start until the block layer has remapped it
 * (BIO_REMAPPED), a bio to the whole disk from the disk's start.  Zero
 * unless a whole-disk bio meets a partition's filters (or a remapped
 * partition bio comes round again).
 */
static sector_t dmf_bio_offset(struct dmf_device *d, struct bio *bio)
{
	struct block_device *bdev = bio->bi_bdev;
	sector_t origin = 0;

	if (bdev_is_partition(bdev) && !bio_flagged(bio, BIO_REMAPPED))
		origin = bdev->bd_start_sect;
	return origin - d->bdev->bd_start_sect;
}

/*
 * A filter sees a bio in its own device's numbers, from d's start
 * (dmf_device_run() moves it there); back to the submitter's numbers.
 */
static void dmf_bio_leave(struct dmf_device *d, struct bio *bio)
{
	if (bio_sectors(bio))
		bio->bi_iter.bi_sector -= dmf_bio_offset(d, bio);
}

/*
 * Runs the bio through the filters from f on.  Returns true when the bio
 * is to go on.  A bio coming from the hook (has_ref false) runs inside an
 * RCU read-side section that keeps the chain in place, and takes the
 * device's reference only when a filter holds it; a resumed held bio
 * (has_ref true) carries that reference, and gives it back when no filter
 * holds it any more.  Inlined: has_ref is a constant at every call.
 */
static __always_inline bool dmf_run_chain(struct dmf_device *d,
					  struct dmf_filter *f,
					  struct bio *bio, bool has_ref)
{
	list_for_each_entry_from(f, &d->filters, list) {
		switch (f->type->submit_bio(f, bio)) {
		case DMF_PASS:
			continue;
		case DMF_COMPLETE:
			if (has_ref)
				percpu_ref_put(&d->active);
			return false;
		case DMF_HOLD:
			/*
			 * Percpu mode while the gate is open: a resume on
			 * another CPU may put before this get.
			 */
			if (!has_ref)
				percpu_ref_get(&d->active);
			return false;
		}
	}
	if (has_ref)
		percpu_ref_put(&d->active);
	return true;
}

/* What became of a bio that found d's gate closed. */
enum dmf_gate_result {
	DMF_GATE_OPENED,	/* open again: run the chain */
	DMF_GATE_PARKED,	/* on d->deferred until the chain has changed */
	DMF_GATE_DEAD,		/* d is going away: the bio skips its filters */
};

static noinline enum dmf_gate_result dmf_device_park(struct dmf_device *d,
						     struct bio *bio)
{
	enum dmf_gate_result r = DMF_GATE_OPENED;
	unsigned long flags;

	spin_lock_irqsave(&d->lock, flags);
	if (d->dead) {
		r = DMF_GATE_DEAD;
	} else if (d->blocked) {
		bio_list_add(&d->deferred, bio);
		r = DMF_GATE_PARKED;
	}
	spin_unlock_irqrestore(&d->lock, flags);
	return r;
}

/*
 * In an RCU read-side section: the bio through every filter of d.  Returns
 * true when it is to go on (every filter passed it, or d is going away, or
 * its disk is another one now); false when a filter completed or holds it,
 * or it is parked until the chain has changed.  whole: d is a whole disk
 * and the bio counts from the disk's start already (sent to the whole
 * disk, or remapped from a partition), so there is no offset to apply.
 */
static __always_inline bool dmf_device_run_at(struct dmf_device *d,
					      struct bio *bio, bool whole)
{
	sector_t offset = 0;

	/* Pairs with the release in dmf_gate_open(). */
	while (unlikely(smp_load_acquire(&d->blocked))) {
		switch (dmf_device_park(d, bio)) {
		case DMF_GATE_OPENED:
			continue;
		case DMF_GATE_PARKED:
			return false;
		case DMF_GATE_DEAD:
			return true;
		}
	}
	if (unlikely(READ_ONCE(d->ddisk->disk->diskseq) != d->diskseq)) {
		/* Another disk under the same number: not ours to filter. */
		mod_delayed_work(system_wq, &dmf_check_work, 0);
		return true;
	}
	if (!whole && bio_sectors(bio)) {
		offset = dmf_bio_offset(d, bio);
		bio->bi_iter.bi_sector += offset;
	}
	if (!dmf_run_chain(d, list_first_entry(&d->filters, struct dmf_filter,
					       list), bio, false))
		return false;
	bio->bi_iter.bi_sector -= offset;
	return true;
}

static __always_inline bool dmf_device_run(struct dmf_device *d,
					   struct bio *bio)
{
	return dmf_device_run_at(d, bio, false);
}

static __always_inline bool dmf_whole_run(struct dmf_device *d,
					  struct bio *bio)
{
	return dmf_device_run_at(d, bio, true);
}

/*
 * In an RCU read-side section: the filtered partition whose filters see
 * the bio: its own partition, or for a bio to the whole disk the one that
 * holds all of it.  ERR_PTR(-EXDEV) for a bio to the whole disk that
 * crosses a filtered partition's edge: it is split there first.
 */
static noinline struct dmf_device *dmf_partition_of(struct dmf_disk *dd,
						    struct bio *bio)
{
	struct dmf_device *d;
	sector_t start, end, part_start, part_end;

	if (bdev_is_partition(bio->bi_bdev)) {
		list_for_each_entry_rcu(d, &dd->parts, part_node)
			if (d->bdev == bio->bi_bdev)
				return d;
		return NULL;
	}
	/* An empty flush is the disk's: shown to its filters only. */
	if (!bio_sectors(bio))
		return NULL;
	start = bio->bi_iter.bi_sector;
	end = bio_end_sector(bio);
	list_for_each_entry_rcu(d, &dd->parts, part_node) {
		part_start = d->bdev->bd_start_sect;
		part_end = part_start + bdev_nr_sectors(d->bdev);
		if (end <= part_start || start >= part_end)
			continue;
		if (start >= part_start && end <= part_end)
			return d;
		return ERR_PTR(-EXDEV);
	}
	return NULL;
}

/*
 * Whole-disk filters count from the disk's start: a partition's bio is
 * remapped here as the block layer would (which then leaves it alone, so
 * the remap event blktrace shows is emitted here too).  False for a bio
 * beyond the partition's end: the block layer fails it.
 */
static bool dmf_remap_to_disk(struct bio *bio)
{
	struct block_device *part = bio->bi_bdev;
	sector_t nr = bio_sectors(bio), max;

	if (!bdev_is_partition(part) || bio_flagged(bio, BIO_REMAPPED))
		return true;
	if (nr) {
		max = bdev_nr_sectors(part);
		if (nr > max || bio->bi_iter.bi_sector > max - nr)
			return false;
		bio->bi_iter.bi_sector += part->bd_start_sect;
		trace_block_bio_remap(bio, part->bd_dev,
				      bio->bi_iter.bi_sector - part->bd_start_sect);
	}
	bio_set_flag(bio, BIO_REMAPPED);
	return true;
}

/* Where a bio goes on after the filters of a device. */
enum dmf_stage {
	DMF_STAGE_PARTITION,
	DMF_STAGE_DISK,
	DMF_STAGE_DONE,
};

static enum dmf_stage dmf_stage_after(struct dmf_device *d)
{
	return bdev_is_partition(d->bdev) ? DMF_STAGE_DISK : DMF_STAGE_DONE;
}

/*
 * In an RCU read-side section: the bio through the filters it has not met
 * yet, from stage on.  Returns true when it is to go on to the device now.
 */
static bool dmf_run_stages(struct dmf_disk *dd, struct bio *bio,
			   enum dmf_stage stage)
{
	struct dmf_device *d;

	if (stage == DMF_STAGE_PARTITION && !list_empty(&dd->parts)) {
		d = dmf_partition_of(dd, bio);
		if (IS_ERR(d)) {
			dmf_split_queue(bio);
			return false;
		}
		if (d && !dmf_device_run(d, bio))
			return false;
	}
	if (stage != DMF_STAGE_DONE) {
		d = rcu_dereference_check(dd->whole, rcu_read_lock_any_held());
		if (d && dmf_remap_to_disk(bio) && !dmf_whole_run(d, bio))
			return false;
	}
	return true;
}

/*
 * Called by the hook for bios of disks that may have filtered devices,
 * and by the splitter for the pieces it made.  Returns true when the bio
 * is to go on to the device now, false when a filter completed or holds it
 * (or it is parked or being split).
 *
 * The filters run with preemption disabled: that is an RCU read-side
 * section (synchronize_rcu() waits for it), and with preemptible RCU two
 * calls cheaper per bio than rcu_read_lock().
 */
bool dmf_handle_bio(struct bio *bio)
{
	struct dmf_device *d;
	struct dmf_disk *dd;
	bool pass = true;

	rcu_read_lock_sched_notrace();
	dd = dmf_lookup_disk(bio->bi_bdev->bd_disk);
	if (!dd)
		goto out;
	/*
	 * The common case, a bio to a whole disk without filtered
	 * partitions, inline: no stage walk and no offset.
	 */
	if (likely(list_empty(&dd->parts) && !bdev_is_partition(bio->bi_bdev))) {
		d = rcu_dereference_check(dd->whole, rcu_read_lock_any_held());
		if (d)
			pass = dmf_whole_run(d, bio);
	} else {
		pass = dmf_run_stages(dd, bio, DMF_STAGE_PARTITION);
	}
out:
	rcu_read_unlock_sched_notrace();
	return pass;
}

/*
 * For the splitter: the sectors from the bio's start up to the first edge
 * of a filtered partition inside it (all of them when there is none).
 */
unsigned int dmf_first_piece(struct bio *bio)
{
	sector_t start = bio->bi_iter.bi_sector, end = bio_end_sector(bio);
	sector_t cut = end, edge;
	struct dmf_device *d;
	struct dmf_disk *dd;

	rcu_read_lock();
	dd = dmf_lookup_disk(bio->bi_bdev->bd_disk);
	if (dd && !bdev_is_partition(bio->bi_bdev)) {
		list_for_each_entry_rcu(d, &dd->parts, part_node) {
			edge = d->bdev->bd_start_sect;
			if (edge > start && edge < cut)
				cut = edge;
			edge += bdev_nr_sectors(d->bdev);
			if (edge > start && edge < cut)
				cut = edge;
		}
	}
	rcu_read_unlock();
	return cut - start;
}

/*
 * A bio parked on d: through d's filters (unless d is going away), then
 * those after d.
 */
static bool dmf_device_run_parked(struct dmf_device *d, struct bio *bio)
{
	bool pass;

	rcu_read_lock();
	pass = dmf_device_run(d, bio) &&
	       dmf_run_stages(d->ddisk, bio, dmf_stage_after(d));
	rcu_read_unlock();
	return pass;
}

void dmf_bio_continue(struct dmf_filter *f, struct bio *bio)
{
	struct dmf_device *d = f->dev;
	bool pass;

	/*
	 * Once the chain gives the reference back, a detach may free d and
	 * its disk: the RCU read-side section keeps both until we are done.
	 */
	rcu_read_lock();
	f = list_next_entry(f, list);
	pass = dmf_run_chain(d, f, bio, true);
	if (pass) {
		dmf_bio_leave(d, bio);
		pass = dmf_run_stages(d->ddisk, bio, dmf_stage_after(d));
	}
	rcu_read_unlock();
	if (pass)
		dmf_hook_pass(bio);
}
EXPORT_SYMBOL_GPL(dmf_bio_continue);

void dmf_bio_complete(struct dmf_filter *f, struct bio *bio,
		      blk_status_t status)
{
	/* The submitter's end_io sees the sector it submitted. */
	dmf_bio_leave(f->dev, bio);
	bio->bi_status = status;
	bio_endio(bio);
}
EXPORT_SYMBOL_GPL(dmf_bio_complete);

void dmf_submit_bio_direct(struct bio *bio)
{
	dmf_hook_pass(bio);
}
EXPORT_SYMBOL_GPL(dmf_submit_bio_direct);

void dmf_drain_device(struct dmf_filter *f)
{
	struct request_queue *q = bdev_get_queue(f->bdev);

	blk_mq_freeze_queue(q);
	blk_mq_unfreeze_queue(q);
}
EXPORT_SYMBOL_GPL(dmf_drain_device);

/* ---- the gate ------------------------------------------------------------ */

static void dmf_active_release(struct percpu_ref *ref)
{
	struct dmf_device *d = container_of(ref, struct dmf_device, active);

	complete(&d->drained);
}

/* New bios wait; returns when no bio is inside the filters. */
static void dmf_gate_close(struct dmf_device *d)
{
	spin_lock_irq(&d->lock);
	WRITE_ONCE(d->blocked, true);
	spin_unlock_irq(&d->lock);
	/* Bios that did not see the gate closed leave the chain ... */
	synchronize_rcu();
	/* ... and then those held by a filter. */
	percpu_ref_kill(&d->active);
	wait_for_completion(&d->drained);
}

static void dmf_gate_open(struct dmf_device *d)
{
	struct bio_list bios;
	struct bio *bio;

	reinit_completion(&d->drained);
	percpu_ref_reinit(&d->active);
	spin_lock_irq(&d->lock);
	/* The chain and the revived ref before the gate opens. */
	smp_store_release(&d->blocked, false);
	bios = d->deferred;
	bio_list_init(&d->deferred);
	spin_unlock_irq(&d->lock);
	while ((bio = bio_list_pop(&bios)))
		if (dmf_device_run_parked(d, bio))
			dmf_hook_pass(bio);
}

/* ---- devices ---------------------------------------------------------- */

static struct dmf_device *dmf_device_create(dev_t dev, struct block_device *bdev)
{
	struct dmf_device *d = kzalloc(sizeof(*d), GFP_KERNEL);

	if (!d)
		return NULL;
	if (percpu_ref_init(&d->active, dmf_active_release,
			    PERCPU_REF_ALLOW_REINIT, GFP_KERNEL)) {
		kfree(d);
		return NULL;
	}
	d->dev = dev;
	d->bdev = bdev;
	d->diskseq = bdev->bd_disk->diskseq;
	INIT_LIST_HEAD(&d->filters);
	INIT_LIST_HEAD(&d->part_node);
	init_completion(&d->drained);
	spin_lock_init(&d->lock);
	bio_list_init(&d->deferred);
	return d;
}

/* Under dmf_ctl_mutex: d, with its first filter, goes live. */
static void dmf_device_publish(struct dmf_device *d, struct dmf_disk *dd)
{
	d->ddisk = dd;
	if (bdev_is_partition(d->bdev))
		list_add_tail_rcu(&d->part_node, &dd->parts);
	else
		rcu_assign_pointer(dd->whole, d);
	list_add_tail(&d->node, &dmf_devices);
	if (!dd->nr_devices++) {
		hash_add_rcu(dmf_disk_table, &dd->hash_node,
			     (unsigned long)dd->disk);
		dmf_hook_watch(dd->disk);
	}
}

/* The chain is empty and the gate closed: unpublish and free. */
static void dmf_device_destroy(struct dmf_device *d)
{
	struct dmf_disk *dd = d->ddisk;
	struct bio_list bios;
	struct bio *bio;
	bool last;

	spin_lock_irq(&d->lock);
	d->dead = true;
	bios = d->deferred;
	bio_list_init(&d->deferred);
	spin_unlock_irq(&d->lock);
	if (bdev_is_partition(d->bdev))
		list_del_rcu(&d->part_node);
	else
		RCU_INIT_POINTER(dd->whole, NULL);
	last = !--dd->nr_devices;
	if (last) {
		hash_del_rcu(&dd->hash_node);
		dmf_hook_unwatch(dd->disk);
	}
	list_del(&d->node);
	synchronize_rcu();
	/* Parked bios skip d (dead) and meet the filters after it. */
	while ((bio = bio_list_pop(&bios)))
		if (dmf_device_run_parked(d, bio))
			dmf_hook_pass(bio);
	if (last)
		kfree(dd);
	percpu_ref_exit(&d->active);
	dmx_bdev_put(d->bdev);
	kfree(d);
}

static bool dmf_device_alive(struct dmf_device *d)
{
	struct block_device *bdev = d->bdev;
	struct gendisk *disk = bdev->bd_disk;
	bool in_table;

	if (test_bit(GD_DEAD, &disk->state) || !disk_live(disk))
		return false;
	if (READ_ONCE(disk->diskseq) != d->diskseq || !bdev_nr_sectors(bdev))
		return false;
	rcu_read_lock();
	in_table = xa_load(&disk->part_tbl, bdev_partno(bdev)) == bdev;
	rcu_read_unlock();
	return in_table;
}

static void dmf_filter_free(struct dmf_filter *f)
{
	if (f->type->dtr)
		f->type->dtr(f);
	dmx_bdev_put(f->bdev);
	dmf_put_type((struct dmf_filter_type *)f->type);
	kfree(f->args);
	kfree(f);
}

/* Under dmf_ctl_mutex. */
static void dmf_detach_filter(struct dmf_filter *f)
{
	struct dmf_device *d = f->dev;

	dmf_gate_close(d);
	list_del(&f->list);
	d->nr_filters--;
	if (list_empty(&d->filters))
		dmf_device_destroy(d);
	else
		dmf_gate_open(d);
	dmf_filter_free(f);
	module_put(THIS_MODULE);
}

static void dmf_detach_all(struct dmf_device *d)
{
	unsigned int n = d->nr_filters;

	/*
	 * Detaching the last filter frees d: count, never look at d->filters
	 * after that detach.
	 */
	while (n--)
		dmf_detach_filter(list_last_entry(&d->filters,
						  struct dmf_filter, list));
}

/* Under dmf_ctl_mutex: detach the filters of vanished devices. */
static void dmf_check_devices(void)
{
	struct dmf_device *d, *tmp;

	list_for_each_entry_safe(d, tmp, &dmf_devices, node) {
		if (dmf_device_alive(d))
			continue;
		pr_info(DMF_PREFIX "%u:%u went away: detaching %u filter(s)\n",
			MAJOR(d->dev), MINOR(d->dev), d->nr_filters);
		dmf_detach_all(d);
	}
}

static void dmf_check_fn(struct work_struct *work)
{
	mutex_lock(&dmf_ctl_mutex);
	dmf_check_devices();
	if (!list_empty(&dmf_devices))
		schedule_delayed_work(&dmf_check_work, HZ);
	mutex_unlock(&dmf_ctl_mutex);
}

/* Under dmf_ctl_mutex, at the start of every control command. */
void dmf_check_now(void)
{
	dmf_check_devices();
}

/* Under dmf_ctl_mutex. */
static struct dmf_device *dmf_find_device(dev_t dev)
{
	struct dmf_device *d;

	list_for_each_entry(d, &dmf_devices, node)
		if (d->dev == dev)
			return d;
	return NULL;
}

struct dmf_filter *dmf_find_filter(dev_t dev, u32 id, const char *type)
{
	struct dmf_device *d = dmf_find_device(dev);
	struct dmf_filter *f, *found = NULL;

	if (!d)
		return NULL;
	list_for_each_entry(f, &d->filters, list) {
		if (id ? f->id == id : !strcmp(f->type->name, type))
			found = f;
	}
	return found;
}

int dmf_attach(dev_t dev, const char *type_name, const char *args, u32 *id,
	       char *error, size_t error_len)
{
	struct dmf_filter_type *type;
	struct dmf_device *d, *new_d = NULL;
	struct dmf_disk *dd = NULL, *new_dd = NULL;
	struct dmf_filter *f;
	char **argv = NULL;
	int argc = 0, r;

	type = dmf_get_type(type_name);
	if (!type) {
		snprintf(error, error_len,
			 "no filter type '%s' (is module dm-filter-%s available?)",
			 type_name, type_name);
		return -ENOENT;
	}
	r = -ENOMEM;
	f = kzalloc(sizeof(*f), GFP_KERNEL);
	if (!f)
		goto bad_type;
	f->type = type;
	f->args = kstrdup(args, GFP_KERNEL);
	if (!f->args)
		goto bad_filter;
	f->bdev = dmx_bdev_get(dev);
	if (IS_ERR(f->bdev)) {
		r = PTR_ERR(f->bdev);
		snprintf(error, error_len, "cannot find block device %u:%u",
			 MAJOR(dev), MINOR(dev));
		goto bad_filter;
	}
	if (args[0]) {
		argv = argv_split(GFP_KERNEL, args, &argc);
		if (!argv)
			goto bad_bdev;
	}
	r = type->ctr(f, argc, argv);
	if (argv)
		argv_free(argv);
	if (r) {
		snprintf(error, error_len, "%s: %s", type->name,
			 f->error ?: "cannot construct filter");
		goto bad_bdev;
	}

	mutex_lock(&dmf_ctl_mutex);
	dmf_check_devices();
	r = dmf_hook_enable();
	if (r) {
		snprintf(error, error_len, r == -EBUSY ?
			 "submit_bio_noacct is hooked by another module; see the kernel log" :
			 "cannot hook submit_bio_noacct; see the kernel log");
		goto bad_unlock;
	}
	d = dmf_find_device(dev);
	if (!d) {
		struct block_device *bdev = dmx_bdev_get(dev);

		r = PTR_ERR_OR_ZERO(bdev);
		if (r)
			goto bad_unlock;
		r = -ENOMEM;
		new_d = dmf_device_create(dev, bdev);
		if (!new_d) {
			dmx_bdev_put(bdev);
			goto bad_unlock;
		}
		d = new_d;
		if (!dmf_device_alive(d)) {
			snprintf(error, error_len, "device %u:%u is going away",
				 MAJOR(dev), MINOR(dev));
			r = -ENODEV;
			goto bad_new;
		}
		dd = dmf_lookup_disk(bdev->bd_disk);
		if (!dd) {
			new_dd = kzalloc(sizeof(*new_dd), GFP_KERNEL);
			if (!new_dd)
				goto bad_new;
			new_dd->disk = bdev->bd_disk;
			INIT_LIST_HEAD(&new_dd->parts);
			dd = new_dd;
		}
	}
	if (!++dmf_next_id)
		++dmf_next_id;
	f->id = dmf_next_id;
	f->dev = d;
	__module_get(THIS_MODULE);
	if (new_d) {
		list_add_tail(&f->list, &d->filters);
		d->nr_filters = 1;
		dmf_device_publish(d, dd);
		schedule_delayed_work(&dmf_check_work, HZ);
	} else {
		dmf_gate_close(d);
		list_add_tail(&f->list, &d->filters);
		d->nr_filters++;
		dmf_gate_open(d);
	}
	/* Requests submitted before the attach complete before it returns. */
	dmf_drain_device(f);
	*id = f->id;
	mutex_unlock(&dmf_ctl_mutex);
	return 0;

bad_new:
	percpu_ref_exit(&new_d->active);
	dmx_bdev_put(new_d->bdev);
	kfree(new_d);
bad_unlock:
	mutex_unlock(&dmf_ctl_mutex);
	if (type->dtr)
		type->dtr(f);
bad_bdev:
	dmx_bdev_put(f->bdev);
bad_filter:
	kfree(f->args);
	kfree(f);
bad_type:
	dmf_put_type(type);
	return r;
}

/* Under dmf_ctl_mutex. */
int dmf_detach(dev_t dev, u32 id, const char *type)
{
	struct dmf_filter *f = dmf_find_filter(dev, id, type);

	if (!f)
		return -ENOENT;
	dmf_detach_filter(f);
	return 0;
}

int dmf_core_init(void)
{
	int r = dmf_split_init();

	if (r)
		return r;
	/*
	 * Hook now, while no filtered device has I/O in flight; if another
	 * module holds the hook, load anyway: attach retries and refuses
	 * with the reason.
	 */
	mutex_lock(&dmf_ctl_mutex);
	dmf_hook_enable();
	mutex_unlock(&dmf_ctl_mutex);
	return 0;
}

void dmf_core_exit(void)
{
	/* Nothing can be attached: every filter holds a module reference. */
	cancel_delayed_work_sync(&dmf_check_work);
	WARN_ON_ONCE(!list_empty(&dmf_devices));
	dmf_hook_exit();
	dmf_split_exit();
}

static int __init dmf_init(void)
{
	int r = dmf_core_init();

	if (r)
		return r;
	r = dmf_ctl_init();
	if (r)
		dmf_core_exit();
	return r;
}

static void __exit dmf_exit(void)
{
	dmf_ctl_exit();
	dmf_core_exit();
}

module_init(dmf_init);
module_exit(dmf_exit);

MODULE_DESCRIPTION("dm-filter: filters attached to live block devices");
MODULE_LICENSE("GPL");
