// SPDX-License-Identifier: GPL-2.0
/*
 * dm-integrity (out of tree): recalculation of the tags of data written
 * without them (the "recalculate" option), from recalc_sector on.
 */
#include <linux/vmalloc.h>

#include "dm-integrity.h"

#define ITG_RECALC_CHUNK	256	/* sectors read at a time */

static void itg_recalc_save(struct itg_c *ic)
{
	int r;

	r = dm_bufio_write_dirty_buffers(ic->bufio);
	if (!r)
		r = itg_sb_rw(ic, REQ_OP_WRITE | REQ_FUA);
	if (r)
		itg_error(ic, "writing superblock", r);
}

void itg_recalc_work(struct work_struct *w)
{
	struct itg_c *ic = container_of(w, struct itg_c, recalc_work);
	unsigned int bsize = ic->sectors_per_block << SECTOR_SHIFT;
	struct dm_io_request req = {
		.bi_opf = REQ_OP_READ,
		.mem.type = DM_IO_VMA,
		.client = ic->io,
	};
	struct dm_io_region where = { .bdev = ic->dev->bdev };
	struct itg_range range = { .write = true };
	unsigned int since_save = 0;
	u8 *buf, *tags;
	int r = 0;

	buf = vmalloc(ITG_RECALC_CHUNK << SECTOR_SHIFT);
	tags = kmalloc((ITG_RECALC_CHUNK >> ic->log2_spb) * ic->tag_size,
		       GFP_KERNEL);
	if (!buf || !tags) {
		DMERR("out of memory for recalculation");
		goto out;
	}
	req.mem.ptr.vma = buf;

	for (;;) {
		sector_t pos = le64_to_cpu(ic->sb->recalc_sector);
		sector_t n = min_t(sector_t, ITG_RECALC_CHUNK,
				   ic->provided_data_sectors - pos);
		unsigned int i, blocks;

		if (pos >= ic->provided_data_sectors || READ_ONCE(ic->suspending) ||
		    READ_ONCE(ic->failed))
			break;
		if (!ic->meta_dev) {
			sector_t area_left = (1ULL << ic->sb->log2_interleave_sectors) -
				(pos & ((1ULL << ic->sb->log2_interleave_sectors) - 1));

			n = min(n, area_left);
		}
		if (itg_bitmap_skip(ic, pos)) {
			WRITE_ONCE(ic->sb->recalc_sector, cpu_to_le64(pos + n));
			continue;
		}
		range.sector = pos;
		range.n_sectors = n;
		itg_range_lock(ic, &range);
		where.sector = itg_data_sector(ic, pos);
		where.count = n;
		r = dm_io(&req, 1, &where, NULL, IOPRIO_DEFAULT);
		if (!r) {
			blocks = n >> ic->log2_spb;
			for (i = 0; i < blocks; i++)
				itg_tag_buf(ic, ic->recalc_hr,
					    pos + ((sector_t)i << ic->log2_spb),
					    buf + (size_t)i * bsize,
					    tags + i * ic->tag_size);
			r = itg_tags_rw(ic, itg_tag_byte(ic, pos), tags,
					blocks * ic->tag_size, true);
		}
		if (!r)
			WRITE_ONCE(ic->sb->recalc_sector, cpu_to_le64(pos + n));
		itg_range_unlock(ic, &range);
		if (r) {
			itg_error(ic, "recalculating tags", r);
			break;
		}
		since_save += n;
		if (since_save >= ITG_RECALC_SECTORS * ITG_RECALC_SB_EVERY) {
			itg_recalc_save(ic);
			since_save = 0;
		}
		cond_resched();
	}
	itg_recalc_save(ic);
out:
	kfree(tags);
	vfree(buf);
}

void itg_recalc_start(struct itg_c *ic)
{
	sector_t pos;

	if (!itg_sb_flag(ic, ITG_SB_RECALCULATING) || !ic->recalc_wq)
		return;
	pos = le64_to_cpu(ic->sb->recalc_sector);
	if (pos < ic->provided_data_sectors) {
		queue_work(ic->recalc_wq, &ic->recalc_work);
	} else if (pos > ic->provided_data_sectors) {
		ic->sb->recalc_sector = cpu_to_le64(ic->provided_data_sectors);
		itg_recalc_save(ic);
	}
}
