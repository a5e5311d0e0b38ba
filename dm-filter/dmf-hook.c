// SPDX-License-Identifier: GPL-2.0
/*
 * dm-filter interception: an ftrace hook on submit_bio_noacct().
 *
 * The hook is an ftrace_ops with SAVE_REGS and IPMODIFY on the entry of
 * submit_bio_noacct(), registered when the module loads (or, if another
 * module held the hook then, at the next attach) and kept until the module
 * is unloaded.  Its callback looks at the bio (first argument) and, when
 * the bio's device is filtered, runs the filters there and then, in the
 * submitter's task (ftrace calls it straight from the trampoline,
 * preemptible, when it is the function's only hook; the core disables
 * preemption around the filters).  A bio they pass goes on into submit_bio_noacct() untouched,
 * so it costs one pass through the ftrace trampoline, as for any bio.  For
 * a bio a filter completed or holds, the callback rewrites the return
 * instruction pointer so that dmf_hook_consumed(), which does nothing,
 * runs instead of submit_bio_noacct().  The callback leaves a bio alone
 * when
 *
 *  - no disk with a filtered device (whole or partition) hashes to the
 *    bio's disk (one test_bit: the only cost for disks without filters),
 *  - current->bio_list is set: the bio comes from inside a driver's
 *    ->submit_bio (a split remainder, or a stacked driver's bio to its
 *    lower device), which the filters already saw or do not own,
 *  - it is submitted from this module: that is how held bios go on after
 *    the filters (dmf_hook_pass).
 *
 * Only one IPMODIFY ftrace_ops may hook a function: if a livepatch or
 * another product already hooks submit_bio_noacct, registering fails with
 * EBUSY and dm-filter says so.
 *
 * Everything else in dm-filter uses the four functions in dmf-internal.h;
 * another mechanism would replace this file only.
 */
#include <linux/ftrace.h>
#include <linux/hash.h>
#include <linux/percpu.h>
#include <linux/delay.h>
#include "dmf-internal.h"

#define DMF_HASH_BITS	10

static DECLARE_BITMAP(dmf_watched, 1 << DMF_HASH_BITS);
static u16 dmf_watch_count[1 << DMF_HASH_BITS];
/* Tasks sent to dmf_hook_consumed() and not yet out of it. */
static DEFINE_PER_CPU(long, dmf_hook_inflight);
static bool dmf_hook_registered;

/*
 * Keyed by the disk, not the dev_t: a filter on a partition sees bios to
 * the whole disk, and one on the whole disk bios to its partitions.
 */
static unsigned int dmf_hash(const struct gendisk *disk)
{
	return hash_ptr(disk, DMF_HASH_BITS);
}

/* Under dmf_ctl_mutex. */
void dmf_hook_watch(const struct gendisk *disk)
{
	unsigned int h = dmf_hash(disk);

	if (!dmf_watch_count[h]++)
		set_bit(h, dmf_watched);
}

void dmf_hook_unwatch(const struct gendisk *disk)
{
	unsigned int h = dmf_hash(disk);

	if (WARN_ON_ONCE(!dmf_watch_count[h]))
		return;
	if (!--dmf_watch_count[h])
		clear_bit(h, dmf_watched);
}

/*
 * The bio goes on to its device.  The call must not be a tail call: the
 * hook recognises it by its return address inside this module.
 */
noinline notrace void dmf_hook_pass(struct bio *bio)
{
	submit_bio_noacct(bio);
	barrier();
}

/* Runs instead of submit_bio_noacct() for a bio a filter completed or holds. */
static noinline notrace void dmf_hook_consumed(struct bio *bio)
{
	this_cpu_dec(dmf_hook_inflight);
}

static notrace void dmf_hook_callback(unsigned long ip, unsigned long parent_ip,
				      struct ftrace_ops *ops,
				      struct ftrace_regs *fregs)
{
	struct pt_regs *regs = ftrace_get_regs(fregs);
	struct bio *bio;

	if (unlikely(!regs))
		return;
	bio = (struct bio *)regs_get_kernel_argument(regs, 0);
	if (likely(!test_bit(dmf_hash(bio->bi_bdev->bd_disk), dmf_watched)))
		return;
	if (current->bio_list)
		return;
	/* Only dmf_hook_pass() calls submit_bio_noacct() from here. */
	if (dmx_within_own_text(parent_ip))
		return;
	if (dmf_handle_bio(bio))
		return;
	this_cpu_inc(dmf_hook_inflight);
	ftrace_regs_set_instruction_pointer(fregs,
					    (unsigned long)dmf_hook_consumed);
}

static struct ftrace_ops dmf_hook_ops = {
	.func = dmf_hook_callback,
	.flags = FTRACE_OPS_FL_SAVE_REGS | FTRACE_OPS_FL_IPMODIFY,
};

/* Under dmf_ctl_mutex. */
int dmf_hook_enable(void)
{
	int r;

	if (dmf_hook_registered)
		return 0;
	r = ftrace_set_filter_ip(&dmf_hook_ops, (unsigned long)submit_bio_noacct,
				 0, 0);
	if (r) {
		pr_err(DMF_PREFIX "cannot trace submit_bio_noacct (error %d): kernel without DYNAMIC_FTRACE_WITH_REGS?\n",
		       r);
		return r;
	}
	r = register_ftrace_function(&dmf_hook_ops);
	if (r) {
		if (r == -EBUSY)
			pr_err(DMF_PREFIX "submit_bio_noacct is already hooked with IPMODIFY by another module (a livepatch or another block filter product): unload it to use dm-filter\n");
		else
			pr_err(DMF_PREFIX "cannot hook submit_bio_noacct (error %d)\n",
			       r);
		ftrace_set_filter_ip(&dmf_hook_ops,
				     (unsigned long)submit_bio_noacct, 1, 0);
		return r;
	}
	dmf_hook_registered = true;
	return 0;
}

static long dmf_hook_inflight_sum(void)
{
	long sum = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		sum += per_cpu(dmf_hook_inflight, cpu);
	return sum;
}

/* Module exit: nothing is attached any more. */
void dmf_hook_exit(void)
{
	if (!dmf_hook_registered)
		return;
	unregister_ftrace_function(&dmf_hook_ops);
	ftrace_set_filter_ip(&dmf_hook_ops, (unsigned long)submit_bio_noacct,
			     1, 0);
	/* No new task enters dmf_hook_consumed(); wait for those inside. */
	while (dmf_hook_inflight_sum())
		usleep_range(1000, 2000);
	/* ... and for them to leave its last instructions. */
	synchronize_rcu_tasks();
	dmf_hook_registered = false;
}
