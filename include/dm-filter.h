/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-filter: filters attached to live block devices.
 *
 * A filter type is a module that registers a struct dmf_filter_type with
 * the core (dm-filter.ko), as a device-mapper target registers a
 * target_type.  Each attached filter is a struct dmf_filter; several may be
 * stacked on one block device (whole disk or partition), the first attached
 * seeing a bio first.  See Documentation/dm-filter.rst.
 */
#ifndef DM_FILTER_H
#define DM_FILTER_H

#include <linux/blkdev.h>
#include <linux/module.h>
#include <linux/list.h>
#include <linux/percpu.h>
#include <linux/string.h>

struct dmf_device;

/* What a filter did with a bio it was given. */
enum dmf_result {
	/* Not touched: hand it to the next filter, then to the device. */
	DMF_PASS,
	/* The filter ended it with dmf_bio_complete(), typically with an error. */
	DMF_COMPLETE,
	/*
	 * The filter keeps it and calls dmf_bio_continue() later, from any
	 * context.  Detach waits for every held bio.
	 */
	DMF_HOLD,
};

struct dmf_filter {
	const struct dmf_filter_type *type;
	/* The filtered device (a counted reference, not an open). */
	struct block_device *bdev;
	/* The filter's own state, set by ctr. */
	void *private;
	/* ctr sets this to say why it failed; shown to the user. */
	const char *error;

	/* Core private. */
	struct dmf_device *dev;
	struct list_head list;
	u32 id;
	char *args;
};

struct dmf_filter_type {
	const char *name;
	unsigned int version[3];
	struct module *module;

	/*
	 * Construct from arguments (already split, like a DM table line).
	 * Sleeps allowed.  Return 0 or a negative errno with f->error set.
	 */
	int (*ctr)(struct dmf_filter *f, unsigned int argc, char **argv);
	/* Destroy; no bio is in the filter any more. */
	void (*dtr)(struct dmf_filter *f);
	/*
	 * Every bio submitted to the device, also through its whole disk
	 * (for a partition) or through its partitions (for a whole disk),
	 * with bi_sector in the device's own numbers: use f->bdev, not
	 * bio->bi_bdev.  Called in the submitter's task from inside the
	 * interception hook with preemption disabled, or from dm-filter's
	 * own tasks, always inside an RCU read-side section (RCU state the
	 * filter reads with rcu_dereference_check(p,
	 * rcu_read_lock_any_held()) stays until synchronize_rcu() or
	 * kfree_rcu()): it must not sleep, and must not submit bios itself;
	 * work that does either belongs behind DMF_HOLD.  A bio to a DM
	 * device may come twice (DM resubmits what it held while
	 * suspended): seeing it again must be harmless.  Bios the filter
	 * makes for the same device (from that work) must go through
	 * dmf_submit_bio_direct().
	 */
	enum dmf_result (*submit_bio)(struct dmf_filter *f, struct bio *bio);
	/* One line of status into result (at most maxlen bytes, NUL included). */
	void (*status)(struct dmf_filter *f, char *result, unsigned int maxlen);
	/*
	 * A message from user space; may write an answer into result.
	 * Returns 0 or a negative errno.  Sleeps allowed.
	 */
	int (*message)(struct dmf_filter *f, unsigned int argc, char **argv,
		       char *result, unsigned int maxlen);

	/* Core private. */
	struct list_head list;
};

int dmf_register_filter_type(struct dmf_filter_type *type);
void dmf_unregister_filter_type(struct dmf_filter_type *type);

/* Resume a bio a filter held: the filters after it, then the device. */
void dmf_bio_continue(struct dmf_filter *f, struct bio *bio);
/*
 * End a bio in submit_bio, before returning DMF_COMPLETE: gives it back
 * its submitter's sector numbers, then bio_endio() with status.
 */
void dmf_bio_complete(struct dmf_filter *f, struct bio *bio,
		      blk_status_t status);

/*
 * Event counters of a filter: a struct of u64 fields allocated with
 * alloc_percpu().  The bio path counts with this_cpu_inc(p->field), which
 * needs no locked instruction and shares no cache line; status adds the
 * CPUs' values up with dmf_counter_sum(&p->field).  A reset may lose
 * counts made while it runs.
 */
static inline u64 dmf_counter_sum(const u64 __percpu *counter)
{
	u64 sum = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		sum += *per_cpu_ptr(counter, cpu);
	return sum;
}

static inline void dmf_counters_reset(void __percpu *counters, size_t size)
{
	int cpu;

	for_each_possible_cpu(cpu)
		memset(per_cpu_ptr(counters, cpu), 0, size);
}

/* Submit a bio to a device without any filter seeing it. */
void dmf_submit_bio_direct(struct bio *bio);
/*
 * Wait until every request the device had in flight has completed
 * (blk-mq devices; on bio-based ones only until they were submitted
 * below).  Sleeps.
 */
void dmf_drain_device(struct dmf_filter *f);

/*
 * Append to a status or message result, like DMEMIT: uses the variables
 * result, maxlen and sz of the caller.
 */
#define DMF_EMIT(fmt, ...)						\
	(sz += scnprintf(result + sz, maxlen - sz, fmt, ##__VA_ARGS__))

/* Register a filter type at module load and drop it at unload. */
#define module_dmf(name)						\
static int __init dmf_##name##_init(void)				\
{									\
	return dmf_register_filter_type(&(name##_filter_type));	\
}									\
module_init(dmf_##name##_init);						\
static void __exit dmf_##name##_exit(void)				\
{									\
	dmf_unregister_filter_type(&(name##_filter_type));		\
}									\
module_exit(dmf_##name##_exit)

#endif /* DM_FILTER_H */
