// SPDX-License-Identifier: GPL-2.0
/*
 * dm-filter "pass": lets every bio through and counts them.
 *
 * Arguments: none, or "defer": every bio is held and resumed from a
 * workqueue (exercises the hold-and-resume path of the core).
 * Status: "bios <n> reads <n> writes <n> deferred <0|1>".
 */
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/workqueue.h>
#include "dm-filter.h"

/* Per-CPU event counters: one increment per bio; "bios" is their sum. */
struct pass_counters {
	u64 reads;
	u64 writes;
	u64 others;
};

struct pass_c {
	struct dmf_filter *f;
	bool defer;
	struct pass_counters __percpu *count;
	spinlock_t lock;		/* protects held */
	struct bio_list held;
	struct work_struct work;
};

static struct workqueue_struct *pass_wq;

static void pass_work(struct work_struct *work)
{
	struct pass_c *pc = container_of(work, struct pass_c, work);
	struct bio_list bios;
	struct bio *bio;

	spin_lock_irq(&pc->lock);
	bios = pc->held;
	bio_list_init(&pc->held);
	spin_unlock_irq(&pc->lock);
	while ((bio = bio_list_pop(&bios)))
		dmf_bio_continue(pc->f, bio);
}

static int pass_ctr(struct dmf_filter *f, unsigned int argc, char **argv)
{
	struct pass_c *pc;

	if (argc > 1 || (argc == 1 && strcmp(argv[0], "defer"))) {
		f->error = "expected no argument or \"defer\"";
		return -EINVAL;
	}
	pc = kzalloc(sizeof(*pc), GFP_KERNEL);
	if (!pc) {
		f->error = "out of memory";
		return -ENOMEM;
	}
	pc->count = alloc_percpu(struct pass_counters);
	if (!pc->count) {
		kfree(pc);
		f->error = "out of memory";
		return -ENOMEM;
	}
	pc->f = f;
	pc->defer = argc == 1;
	spin_lock_init(&pc->lock);
	bio_list_init(&pc->held);
	INIT_WORK(&pc->work, pass_work);
	f->private = pc;
	return 0;
}

static void pass_dtr(struct dmf_filter *f)
{
	struct pass_c *pc = f->private;

	flush_work(&pc->work);
	free_percpu(pc->count);
	kfree(pc);
}

/* Out of line: the common case, a bio let through, needs no spilled registers. */
static noinline enum dmf_result pass_hold(struct pass_c *pc, struct bio *bio)
{
	unsigned long flags;

	spin_lock_irqsave(&pc->lock, flags);
	bio_list_add(&pc->held, bio);
	spin_unlock_irqrestore(&pc->lock, flags);
	queue_work(pass_wq, &pc->work);
	return DMF_HOLD;
}

static enum dmf_result pass_submit_bio(struct dmf_filter *f, struct bio *bio)
{
	struct pass_c *pc = f->private;

	if (op_is_write(bio_op(bio)))
		this_cpu_inc(pc->count->writes);
	else if (bio_op(bio) == REQ_OP_READ)
		this_cpu_inc(pc->count->reads);
	else
		this_cpu_inc(pc->count->others);
	if (unlikely(pc->defer))
		return pass_hold(pc, bio);
	return DMF_PASS;
}

static void pass_status(struct dmf_filter *f, char *result, unsigned int maxlen)
{
	struct pass_c *pc = f->private;
	unsigned int sz = 0;
	u64 reads = dmf_counter_sum(&pc->count->reads);
	u64 writes = dmf_counter_sum(&pc->count->writes);
	u64 others = dmf_counter_sum(&pc->count->others);

	DMF_EMIT("bios %llu reads %llu writes %llu deferred %d",
		 reads + writes + others, reads, writes, pc->defer);
}

static struct dmf_filter_type pass_filter_type = {
	.name = "pass",
	.version = { 1, 0, 0 },
	.module = THIS_MODULE,
	.ctr = pass_ctr,
	.dtr = pass_dtr,
	.submit_bio = pass_submit_bio,
	.status = pass_status,
};

static int __init dmf_pass_init(void)
{
	int r;

	pass_wq = alloc_workqueue("dmf-pass", WQ_MEM_RECLAIM, 0);
	if (!pass_wq)
		return -ENOMEM;
	r = dmf_register_filter_type(&pass_filter_type);
	if (r)
		destroy_workqueue(pass_wq);
	return r;
}
module_init(dmf_pass_init);

static void __exit dmf_pass_exit(void)
{
	dmf_unregister_filter_type(&pass_filter_type);
	destroy_workqueue(pass_wq);
}
module_exit(dmf_pass_exit);

MODULE_DESCRIPTION("dm-filter pass-through filter");
MODULE_LICENSE("GPL");
