// SPDX-License-Identifier: GPL-2.0
/*
 * Test-only module: hooks submit_bio_noacct() with an IPMODIFY ftrace_ops
 * that changes nothing, as a livepatch or another block filter product
 * would, so that the dm-filter tests can check that dm-filter refuses to
 * attach next to it and says why.
 */
#include <linux/module.h>
#include <linux/ftrace.h>
#include <linux/blkdev.h>

static void notrace dmt_ipmodify_callback(unsigned long ip,
					  unsigned long parent_ip,
					  struct ftrace_ops *ops,
					  struct ftrace_regs *fregs)
{
}

static struct ftrace_ops dmt_ipmodify_ops = {
	.func = dmt_ipmodify_callback,
	.flags = FTRACE_OPS_FL_SAVE_REGS | FTRACE_OPS_FL_IPMODIFY,
};

static int __init dmt_ipmodify_init(void)
{
	int r = ftrace_set_filter_ip(&dmt_ipmodify_ops,
				     (unsigned long)submit_bio_noacct, 0, 0);

	if (r)
		return r;
	r = register_ftrace_function(&dmt_ipmodify_ops);
	if (r)
		ftrace_set_filter_ip(&dmt_ipmodify_ops,
				     (unsigned long)submit_bio_noacct, 1, 0);
	return r;
}
module_init(dmt_ipmodify_init);

static void __exit dmt_ipmodify_exit(void)
{
	unregister_ftrace_function(&dmt_ipmodify_ops);
	ftrace_set_filter_ip(&dmt_ipmodify_ops,
			     (unsigned long)submit_bio_noacct, 1, 0);
}
module_exit(dmt_ipmodify_exit);

MODULE_DESCRIPTION("test only: an IPMODIFY hook on submit_bio_noacct");
MODULE_LICENSE("GPL");
