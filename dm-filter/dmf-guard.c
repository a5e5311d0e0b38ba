// SPDX-License-Identifier: GPL-2.0
/*
 * dm-filter "guard": access guard.
 *
 * Refuses, by completing them with an I/O error (EIO), bios that would
 * change data while the guard is read-only, writes that touch a
 * write-denied sector range and reads or writes that touch a
 * read-write-denied range.  Empty flushes always pass.  Refused bios are
 * counted.  Rules are replaced as a whole (RCU), so each bio is judged by
 * one consistent rule set.
 *
 * Arguments: [ro] {w|rw <start sector> <sectors>}...
 * Messages:
 *   mode ro|rw                         read-only on or off
 *   deny w|rw <start> <sectors>        add a rule
 *   allow <start> <sectors>            remove the rules with exactly this range
 *   clear                              remove every rule (mode unchanged)
 *   rules                              list the rules, "w|rw <start> <sectors>" a line
 *   reset                              zero the counters
 * Status: "mode ro|rw rules N denied_reads N denied_writes N passed N"
 */
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/rcupdate.h>
#include "dm-filter.h"

#define GUARD_MAX_RULES	1024

struct guard_rule {
	sector_t start;
	sector_t len;
	bool reads;		/* deny reads too */
};

struct guard_rules {
	struct rcu_head rcu;
	bool ro;
	unsigned int nr;
	struct guard_rule rule[];
};

/* Per-CPU event counters. */
struct guard_counters {
	u64 denied_reads;
	u64 denied_writes;
	u64 passed;
};

struct guard_c {
	struct guard_rules __rcu *rules;
	struct mutex lock;	/* rule updates */
	struct guard_counters __percpu *count;
};

static struct guard_rules *guard_rules_alloc(unsigned int nr)
{
	return kzalloc(struct_size_t(struct guard_rules, rule, nr), GFP_KERNEL);
}

static bool guard_is_write(struct bio *bio)
{
	if (bio_op(bio) == REQ_OP_FLUSH)
		return false;
	return op_is_write(bio_op(bio));
}

static enum dmf_result guard_submit_bio(struct dmf_filter *f, struct bio *bio)
{
	struct guard_c *gc = f->private;
	sector_t s = bio->bi_iter.bi_sector, e = bio_end_sector(bio);
	bool write = guard_is_write(bio), deny = false;
	struct guard_rules *rs;
	unsigned int i;

	/* An empty flush changes no sector (an fsync must not fail). */
	if (!bio_sectors(bio) ||
	    (!write && bio_op(bio) != REQ_OP_READ))
		return DMF_PASS;
	/* submit_bio runs in an RCU read-side section (dm-filter.h). */
	rs = rcu_dereference_check(gc->rules, rcu_read_lock_any_held());
	if (write && rs->ro)
		deny = true;
	for (i = 0; !deny && i < rs->nr; i++) {
		const struct guard_rule *r = &rs->rule[i];

		if ((write || r->reads) && s < r->start + r->len &&
		    e > r->start)
			deny = true;
	}
	if (!deny) {
		this_cpu_inc(gc->count->passed);
		return DMF_PASS;
	}
	if (write)
		this_cpu_inc(gc->count->denied_writes);
	else
		this_cpu_inc(gc->count->denied_reads);
	dmf_bio_complete(f, bio, BLK_STS_IOERR);
	return DMF_COMPLETE;
}

/* "w|rw <start> <len>" at argv[0..2] into r. */
static int guard_parse_rule(char **argv, struct guard_rule *r)
{
	unsigned long long start, len;
	char dummy;

	if (!strcmp(argv[0], "w"))
		r->reads = false;
	else if (!strcmp(argv[0], "rw"))
		r->reads = true;
	else
		return -EINVAL;
	if (sscanf(argv[1], "%llu%c", &start, &dummy) != 1 ||
	    sscanf(argv[2], "%llu%c", &len, &dummy) != 1 || !len ||
	    start + len < start)
		return -EINVAL;
	r->start = start;
	r->len = len;
	return 0;
}

static int guard_ctr(struct dmf_filter *f, unsigned int argc, char **argv)
{
	struct guard_rules *rs;
	struct guard_c *gc;
	unsigned int i = 0;

	rs = guard_rules_alloc(argc / 3);
	gc = kzalloc(sizeof(*gc), GFP_KERNEL);
	if (gc)
		gc->count = alloc_percpu(struct guard_counters);
	if (!rs || !gc || !gc->count) {
		f->error = "out of memory";
		goto bad;
	}
	if (argc && !strcmp(argv[0], "ro")) {
		rs->ro = true;
		i = 1;
	}
	for (; i < argc; i += 3) {
		if (argc - i < 3 ||
		    guard_parse_rule(argv + i, &rs->rule[rs->nr])) {
			f->error = "arguments: [ro] {w|rw <start sector> <sectors>}...";
			goto bad;
		}
		rs->nr++;
	}
	if (rs->nr > GUARD_MAX_RULES) {
		f->error = "too many rules";
		goto bad;
	}
	RCU_INIT_POINTER(gc->rules, rs);
	mutex_init(&gc->lock);
	f->private = gc;
	return 0;
bad:
	kfree(rs);
	if (gc)
		free_percpu(gc->count);
	kfree(gc);
	return -EINVAL;
}

static void guard_dtr(struct dmf_filter *f)
{
	struct guard_c *gc = f->private;

	kfree(rcu_dereference_protected(gc->rules, true));
	mutex_destroy(&gc->lock);
	free_percpu(gc->count);
	kfree(gc);
}

static struct guard_rules *guard_current(struct guard_c *gc)
{
	return rcu_dereference_protected(gc->rules, lockdep_is_held(&gc->lock));
}

static void guard_status(struct dmf_filter *f, char *result, unsigned int maxlen)
{
	struct guard_c *gc = f->private;
	struct guard_rules *rs;
	unsigned int sz = 0;

	mutex_lock(&gc->lock);
	rs = guard_current(gc);
	DMF_EMIT("mode %s rules %u denied_reads %llu denied_writes %llu passed %llu",
		 rs->ro ? "ro" : "rw", rs->nr,
		 dmf_counter_sum(&gc->count->denied_reads),
		 dmf_counter_sum(&gc->count->denied_writes),
		 dmf_counter_sum(&gc->count->passed));
	mutex_unlock(&gc->lock);
}

/* A copy of the current rules with room for extra more. */
static struct guard_rules *guard_copy(struct guard_rules *old, unsigned int extra)
{
	struct guard_rules *rs = guard_rules_alloc(old->nr + extra);

	if (!rs)
		return NULL;
	rs->ro = old->ro;
	rs->nr = old->nr;
	memcpy(rs->rule, old->rule, old->nr * sizeof(old->rule[0]));
	return rs;
}

static int guard_message(struct dmf_filter *f, unsigned int argc, char **argv,
			 char *result, unsigned int maxlen)
{
	struct guard_c *gc = f->private;
	struct guard_rules *old, *rs = NULL;
	struct guard_rule r;
	unsigned int i, n, sz = 0;
	int ret = -EINVAL;

	mutex_lock(&gc->lock);
	old = guard_current(gc);
	if (argc == 2 && !strcmp(argv[0], "mode") &&
	    (!strcmp(argv[1], "ro") || !strcmp(argv[1], "rw"))) {
		ret = 0;
		rs = guard_copy(old, 0);
		if (rs)
			rs->ro = argv[1][1] == 'o';
	} else if (argc == 4 && !strcmp(argv[0], "deny")) {
		ret = guard_parse_rule(argv + 1, &r);
		if (!ret && old->nr >= GUARD_MAX_RULES)
			ret = -ENOSPC;
		if (!ret) {
			rs = guard_copy(old, 1);
			if (rs)
				rs->rule[rs->nr++] = r;
		}
	} else if (argc == 3 && !strcmp(argv[0], "allow")) {
		char *v[3] = { "w", argv[1], argv[2] };

		ret = guard_parse_rule(v, &r);
		if (!ret) {
			rs = guard_copy(old, 0);
			if (rs) {
				for (i = 0, n = 0; i < old->nr; i++)
					if (old->rule[i].start != r.start ||
					    old->rule[i].len != r.len)
						rs->rule[n++] = old->rule[i];
				if (n == old->nr)
					ret = -ENOENT;
				rs->nr = n;
			}
		}
	} else if (argc == 1 && !strcmp(argv[0], "clear")) {
		ret = 0;
		rs = guard_copy(old, 0);
		if (rs)
			rs->nr = 0;
	} else if (argc == 1 && !strcmp(argv[0], "rules")) {
		for (i = 0; i < old->nr; i++)
			DMF_EMIT("%s %llu %llu\n",
				 old->rule[i].reads ? "rw" : "w",
				 (unsigned long long)old->rule[i].start,
				 (unsigned long long)old->rule[i].len);
		ret = 0;
	} else if (argc == 1 && !strcmp(argv[0], "reset")) {
		dmf_counters_reset(gc->count, sizeof(*gc->count));
		ret = 0;
	} else {
		scnprintf(result, maxlen,
			  "usage: mode ro|rw | deny w|rw <start> <sectors> | allow <start> <sectors> | clear | rules | reset");
	}
	if (rs) {
		if (ret == -ENOENT) {
			kfree(rs);
		} else {
			rcu_assign_pointer(gc->rules, rs);
			kfree_rcu(old, rcu);
			ret = 0;
		}
	} else if (ret == 0 && result[0] == '\0' && argc && strcmp(argv[0], "rules") &&
		   strcmp(argv[0], "reset")) {
		ret = -ENOMEM;
	}
	mutex_unlock(&gc->lock);
	return ret;
}

static struct dmf_filter_type guard_filter_type = {
	.name = "guard",
	.version = { 1, 0, 0 },
	.module = THIS_MODULE,
	.ctr = guard_ctr,
	.dtr = guard_dtr,
	.submit_bio = guard_submit_bio,
	.status = guard_status,
	.message = guard_message,
};

module_dmf(guard);

MODULE_DESCRIPTION("dm-filter access guard");
MODULE_LICENSE("GPL");
