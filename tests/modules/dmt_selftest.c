// SPDX-License-Identifier: GPL-2.0
/*
 * Harness self-test module: does one deliberately wrong thing at load time
 * so that the harness can prove it reports the resulting kernel splat as a
 * failure.  Test use only; never installed.
 */
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/smp.h>
#include <linux/spinlock.h>

#include "compat.h"

static char *action = "none";
module_param(action, charp, 0444);
MODULE_PARM_DESC(action, "none, warn, leak, atomic_sleep or freeze");

static DEFINE_SPINLOCK(selftest_lock);
static void *selftest_lost;

/* Never returns: with every CPU spinning, interrupts off, the guest is dead. */
static void dmt_selftest_spin(void *unused)
{
	local_irq_disable();
	for (;;)
		cpu_relax();
}

static int __init dmt_selftest_init(void)
{
	if (!strcmp(action, "none"))
		return 0;

	if (!strcmp(action, "warn")) {
		WARN(1, "dmt_selftest: deliberate warning");
		return 0;
	}

	if (!strcmp(action, "leak")) {
		int i;

		/*
		 * Keep no reference: kmemleak must find these once we forget
		 * them.  Several, so that a stale copy of one pointer left in
		 * a register or on a stack cannot hide them all.
		 */
		for (i = 0; i < 16; i++)
			WRITE_ONCE(selftest_lost, kmalloc(128, GFP_KERNEL));
		WRITE_ONCE(selftest_lost, NULL);
		return 0;
	}

	if (!strcmp(action, "atomic_sleep")) {
		/* The classic bug: an allocation that may sleep under a spinlock. */
		spin_lock(&selftest_lock);
		kfree(kmalloc(64, GFP_KERNEL));
		spin_unlock(&selftest_lock);
		return 0;
	}

	if (!strcmp(action, "freeze")) {
		on_each_cpu(dmt_selftest_spin, NULL, 0);
		return 0;
	}

	pr_err("dmt_selftest: unknown action '%s'\n", action);
	return -EINVAL;
}

static void __exit dmt_selftest_exit(void)
{
}

module_init(dmt_selftest_init);
module_exit(dmt_selftest_exit);
MODULE_DESCRIPTION("Harness self-test: provokes kernel splats on request");
MODULE_LICENSE("GPL");
