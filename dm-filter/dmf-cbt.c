// SPDX-License-Identifier: GPL-2.0
/*
 * dm-filter "cbt": change block tracking.
 *
 * One bit per block of the device (block size an argument): set when a
 * bio that changes data (write, write zeroes, discard, secure erase) is
 * submitted for the block, before it reaches the device, so no write that
 * completes after the attach is missed.  Bits are set for whole blocks: a
 * partial block write marks the block.
 *
 * Generations: the "active" map collects the current generation.  The
 * message "next" starts a new generation atomically: a new empty map
 * becomes active, the old one becomes the "snapshot" (read-only) once
 * every write marked in it has completed on the device (RCU grace period,
 * then a queue drain), so a backup that reads the snapshot's blocks after
 * "next" returns sees every write it recorded.
 *
 * Nothing is persisted: the maps live in memory and are lost at detach or
 * reboot; user space must save them if it needs them.
 *
 * Arguments: [<block size in bytes>] (power of two, 512 .. 1 MiB; 4096)
 * Messages:
 *   next                                 new generation, answers "generation N"
 *   dirty <block> <count>                mark blocks dirty in the active map
 *   ranges active|snapshot <block> <count>
 *         dirty ranges in [block, block+count) as lines "<start> <length>";
 *         when the answer buffer is full the last line is "continue <block>"
 *   bitmap active|snapshot <block> <count>
 *         the bits as hex, two digits per 8 blocks, lowest block in the
 *         lowest bit; block must be a multiple of 8
 *   clear                                clear the active map
 */
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/mm.h>
#include <linux/bitmap.h>
#include <linux/log2.h>
#include <linux/rcupdate.h>
#include "dm-filter.h"

/* Per-CPU event counters. */
struct cbt_counters {
	u64 writes;
	u64 beyond;	/* writes past the end of the map */
};

struct cbt_c {
	struct dmf_filter *f;
	unsigned int block_size;
	unsigned int block_shift;	/* sectors to blocks */
	u64 nr_blocks;
	unsigned long __rcu *active;
	unsigned long *snapshot;	/* NULL before the first "next" */
	u64 generation;
	struct mutex lock;		/* messages */
	struct cbt_counters __percpu *count;
};

static unsigned long *cbt_alloc_map(u64 nr_blocks)
{
	return kvcalloc(BITS_TO_LONGS(nr_blocks), sizeof(unsigned long),
			GFP_KERNEL);
}

/*
 * Set bits first..last (inclusive), atomically word by word; a word
 * already set is only read.  Inlined: most bios touch one word.
 */
static inline void cbt_set_range(unsigned long *map, u64 first, u64 last)
{
	u64 w = first / BITS_PER_LONG, lw = last / BITS_PER_LONG;

	for (; w <= lw; w++) {
		unsigned long mask = ~0UL;

		if (w == first / BITS_PER_LONG)
			mask &= BITMAP_FIRST_WORD_MASK(first);
		if (w == lw)
			mask &= BITMAP_LAST_WORD_MASK(last + 1);
		if (~READ_ONCE(map[w]) & mask)
			atomic_long_or(mask, (atomic_long_t *)&map[w]);
	}
}

static bool cbt_changes_data(struct bio *bio)
{
	switch (bio_op(bio)) {
	case REQ_OP_WRITE:
	case REQ_OP_WRITE_ZEROES:
	case REQ_OP_DISCARD:
	case REQ_OP_SECURE_ERASE:
		return bio_sectors(bio) != 0;
	default:
		return false;
	}
}

static enum dmf_result cbt_submit_bio(struct dmf_filter *f, struct bio *bio)
{
	struct cbt_c *cc = f->private;
	sector_t sector = bio->bi_iter.bi_sector;
	u64 first, last;
	unsigned long *map;

	if (!cbt_changes_data(bio))
		return DMF_PASS;
	this_cpu_inc(cc->count->writes);
	first = sector >> cc->block_shift;
	last = (sector + bio_sectors(bio) - 1) >> cc->block_shift;
	if (last >= cc->nr_blocks) {
		this_cpu_inc(cc->count->beyond);
		if (first >= cc->nr_blocks)
			return DMF_PASS;
		last = cc->nr_blocks - 1;
	}
	/* submit_bio runs in an RCU read-side section (dm-filter.h). */
	map = rcu_dereference_check(cc->active, rcu_read_lock_any_held());
	cbt_set_range(map, first, last);
	return DMF_PASS;
}

static int cbt_ctr(struct dmf_filter *f, unsigned int argc, char **argv)
{
	unsigned int bs = 4096;
	struct cbt_c *cc;
	unsigned long *map;
	char dummy;

	if (argc > 1) {
		f->error = "expected at most one argument: <block size in bytes>";
		return -EINVAL;
	}
	if (argc == 1 && (sscanf(argv[0], "%u%c", &bs, &dummy) != 1 ||
			  !is_power_of_2(bs) || bs < 512 || bs > (1U << 20))) {
		f->error = "block size must be a power of two from 512 to 1048576";
		return -EINVAL;
	}
	cc = kzalloc(sizeof(*cc), GFP_KERNEL);
	if (!cc) {
		f->error = "out of memory";
		return -ENOMEM;
	}
	cc->count = alloc_percpu(struct cbt_counters);
	if (!cc->count) {
		kfree(cc);
		f->error = "out of memory";
		return -ENOMEM;
	}
	cc->f = f;
	cc->block_size = bs;
	cc->block_shift = ilog2(bs >> SECTOR_SHIFT);
	cc->nr_blocks = DIV_ROUND_UP_ULL(bdev_nr_sectors(f->bdev),
					 bs >> SECTOR_SHIFT);
	if (!cc->nr_blocks) {
		free_percpu(cc->count);
		kfree(cc);
		f->error = "device has no blocks";
		return -EINVAL;
	}
	map = cbt_alloc_map(cc->nr_blocks);
	if (!map) {
		free_percpu(cc->count);
		kfree(cc);
		f->error = "no memory for the bitmap: use a larger block size";
		return -ENOMEM;
	}
	RCU_INIT_POINTER(cc->active, map);
	mutex_init(&cc->lock);
	f->private = cc;
	return 0;
}

static void cbt_dtr(struct dmf_filter *f)
{
	struct cbt_c *cc = f->private;

	kvfree(rcu_dereference_protected(cc->active, true));
	kvfree(cc->snapshot);
	mutex_destroy(&cc->lock);
	free_percpu(cc->count);
	kfree(cc);
}

static unsigned long *cbt_active(struct cbt_c *cc)
{
	return rcu_dereference_protected(cc->active, lockdep_is_held(&cc->lock));
}

static u64 cbt_weight(struct cbt_c *cc, unsigned long *map)
{
	return map ? bitmap_weight(map, cc->nr_blocks) : 0;
}

static void cbt_status(struct dmf_filter *f, char *result, unsigned int maxlen)
{
	struct cbt_c *cc = f->private;
	unsigned int sz = 0;

	mutex_lock(&cc->lock);
	DMF_EMIT("block_size %u blocks %llu generation %llu ",
		 cc->block_size, cc->nr_blocks, cc->generation);
	DMF_EMIT("dirty %llu snapshot_dirty %llu writes %llu beyond %llu",
		 cbt_weight(cc, cbt_active(cc)), cbt_weight(cc, cc->snapshot),
		 dmf_counter_sum(&cc->count->writes),
		 dmf_counter_sum(&cc->count->beyond));
	mutex_unlock(&cc->lock);
}

static int cbt_next(struct cbt_c *cc, char *result, unsigned int maxlen)
{
	unsigned long *new, *old;
	unsigned int sz = 0;

	new = cbt_alloc_map(cc->nr_blocks);
	if (!new)
		return -ENOMEM;
	old = cbt_active(cc);
	rcu_assign_pointer(cc->active, new);
	/* No writer marks the old map any more ... */
	synchronize_rcu();
	/* ... and every write it marked has completed. */
	dmf_drain_device(cc->f);
	kvfree(cc->snapshot);
	cc->snapshot = old;
	cc->generation++;
	DMF_EMIT("generation %llu", cc->generation);
	return 0;
}

/* <block> <count> within the map. */
static int cbt_parse_range(struct cbt_c *cc, char **argv, u64 *first, u64 *count)
{
	char dummy;

	if (sscanf(argv[0], "%llu%c", first, &dummy) != 1 ||
	    sscanf(argv[1], "%llu%c", count, &dummy) != 1)
		return -EINVAL;
	if (*first >= cc->nr_blocks)
		return -ERANGE;
	*count = min(*count, cc->nr_blocks - *first);
	return 0;
}

static unsigned long *cbt_pick_map(struct cbt_c *cc, const char *name)
{
	if (!strcmp(name, "active"))
		return cbt_active(cc);
	if (!strcmp(name, "snapshot"))
		return cc->snapshot;
	return ERR_PTR(-EINVAL);
}

static int cbt_ranges(struct cbt_c *cc, unsigned long *map, u64 first,
		      u64 count, char *result, unsigned int maxlen)
{
	u64 end = first + count, b = first, e;
	unsigned int sz = 0, len;
	char line[48];

	while (map && b < end) {
		b = find_next_bit(map, end, b);
		if (b >= end)
			break;
		e = find_next_zero_bit(map, end, b);
		len = scnprintf(line, sizeof(line), "%llu %llu\n", b, e - b);
		/* Keep room for the "continue" line. */
		if (sz + len + sizeof(line) >= maxlen) {
			DMF_EMIT("continue %llu\n", b);
			return 0;
		}
		DMF_EMIT("%s", line);
		b = e;
	}
	return 0;
}

static int cbt_bitmap(struct cbt_c *cc, unsigned long *map, u64 first,
		      u64 count, char *result, unsigned int maxlen)
{
	unsigned int sz = 0;
	u64 b;

	if (first % 8)
		return -EINVAL;
	if (DIV_ROUND_UP(count, 8) * 2 + 1 > maxlen)
		return -ENOSPC;
	for (b = first; b < first + count; b += 8) {
		unsigned int byte = 0, i;

		for (i = 0; i < 8 && b + i < first + count; i++)
			if (map && test_bit(b + i, map))
				byte |= 1U << i;
		DMF_EMIT("%02x", byte);
	}
	return 0;
}

static int cbt_message(struct dmf_filter *f, unsigned int argc, char **argv,
		       char *result, unsigned int maxlen)
{
	struct cbt_c *cc = f->private;
	unsigned long *map;
	u64 first, count;
	int r = -EINVAL;

	mutex_lock(&cc->lock);
	if (argc == 1 && !strcmp(argv[0], "next")) {
		r = cbt_next(cc, result, maxlen);
	} else if (argc == 1 && !strcmp(argv[0], "clear")) {
		bitmap_zero(cbt_active(cc), cc->nr_blocks);
		r = 0;
	} else if (argc == 3 && !strcmp(argv[0], "dirty")) {
		r = cbt_parse_range(cc, argv + 1, &first, &count);
		if (!r && count)
			cbt_set_range(cbt_active(cc), first, first + count - 1);
	} else if (argc == 4 && (!strcmp(argv[0], "ranges") ||
				 !strcmp(argv[0], "bitmap"))) {
		map = cbt_pick_map(cc, argv[1]);
		r = PTR_ERR_OR_ZERO(map);
		if (!r)
			r = cbt_parse_range(cc, argv + 2, &first, &count);
		if (!r && argv[0][0] == 'r')
			r = cbt_ranges(cc, map, first, count, result, maxlen);
		else if (!r)
			r = cbt_bitmap(cc, map, first, count, result, maxlen);
	}
	mutex_unlock(&cc->lock);
	if (r == -EINVAL && !result[0])
		scnprintf(result, maxlen,
			  "usage: next | clear | dirty <block> <count> | ranges|bitmap active|snapshot <block> <count>");
	return r;
}

static struct dmf_filter_type cbt_filter_type = {
	.name = "cbt",
	.version = { 1, 0, 0 },
	.module = THIS_MODULE,
	.ctr = cbt_ctr,
	.dtr = cbt_dtr,
	.submit_bio = cbt_submit_bio,
	.status = cbt_status,
	.message = cbt_message,
};

module_dmf(cbt);

MODULE_DESCRIPTION("dm-filter change block tracking");
MODULE_LICENSE("GPL");
