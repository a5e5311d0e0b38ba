// SPDX-License-Identifier: GPL-2.0
/*
 * dm-integrity (out of tree): bitmap mode (B).
 *
 * Data and tags are written in place as in direct mode, but first the
 * region of every write is marked dirty in a bitmap kept in the journal
 * area (4096-byte blocks from journal sector 0; bit i covers
 * 2^(log2_sectors_per_block + log2_blocks_per_bitmap_bit) sectors).  After
 * an unclean stop the tags of dirty regions are recalculated.  Every
 * bitmap_flush_interval, once data and tags are on disk, the bits are
 * cleared.
 */
#include <linux/bitmap.h>
#include <linux/vmalloc.h>

#include "dm-integrity.h"

#define ITG_BITMAP_BLOCK_SECTORS	(ITG_BITMAP_BLOCK_SIZE >> SECTOR_SHIFT)

static unsigned int itg_bit_shift(struct itg_c *ic)
{
	return ic->log2_spb + ic->log2_blocks_per_bitmap_bit;
}

static unsigned long itg_nbits(struct itg_c *ic)
{
	return (ic->provided_data_sectors + (1ULL << itg_bit_shift(ic)) - 1) >>
	       itg_bit_shift(ic);
}

static int itg_bitmap_write(struct itg_c *ic, unsigned int first,
			    unsigned int n)
{
	return itg_journal_area_io(ic, REQ_OP_WRITE | REQ_FUA | REQ_SYNC,
				   first * ITG_BITMAP_BLOCK_SECTORS,
				   n * ITG_BITMAP_BLOCK_SECTORS,
				   (u8 *)ic->bitmap + first * ITG_BITMAP_BLOCK_SIZE);
}

/* Wait for writes in flight, get data and tags on disk, clear the bits. */
static void itg_bitmap_clean(struct itg_c *ic)
{
	unsigned long limit = itg_nbits(ic);
	int r;

	itg_flush_inplace(ic);
	if (itg_sb_flag(ic, ITG_SB_RECALCULATING))
		limit = le64_to_cpu(ic->sb->recalc_sector) >> itg_bit_shift(ic);
	bitmap_clear(ic->bitmap, 0, limit);
	r = itg_bitmap_write(ic, 0, ic->n_bitmap_blocks);
	if (r)
		itg_error(ic, "writing bitmap", r);
}

static void itg_bitmap_work(struct work_struct *w)
{
	struct itg_c *ic = container_of(to_delayed_work(w), struct itg_c,
					bitmap_work);

	mutex_lock(&ic->bitmap_lock);
	itg_bitmap_clean(ic);
	mutex_unlock(&ic->bitmap_lock);
}

int itg_bitmap_alloc(struct itg_c *ic)
{
	u64 bits = ((ic->provided_data_sectors >> ic->log2_spb) +
		    (1ULL << ic->log2_blocks_per_bitmap_bit) - 1) >>
		   ic->log2_blocks_per_bitmap_bit;

	ic->n_bitmap_blocks = DIV_ROUND_UP_ULL(bits, ITG_BITMAP_BLOCK_SIZE * 8);
	mutex_init(&ic->bitmap_lock);
	INIT_DELAYED_WORK(&ic->bitmap_work, itg_bitmap_work);
	ic->bitmap = vzalloc((size_t)ic->n_bitmap_blocks * ITG_BITMAP_BLOCK_SIZE);
	return ic->bitmap ? 0 : -ENOMEM;
}

void itg_bitmap_free(struct itg_c *ic)
{
	if (ic->bitmap && ic->mode == 'B')
		cancel_delayed_work_sync(&ic->bitmap_work);
	vfree(ic->bitmap);
	ic->bitmap = NULL;
}

/* Before a write in B mode: its region must be marked dirty on disk. */
int itg_bitmap_mark(struct itg_io *dio)
{
	struct itg_c *ic = dio->ic;
	unsigned int shift = itg_bit_shift(ic);
	unsigned long first = dio->range.sector >> shift;
	unsigned long last = (dio->range.sector + dio->range.n_sectors - 1) >> shift;
	unsigned long bits_per_block = ITG_BITMAP_BLOCK_SIZE * 8;
	unsigned long b;
	bool queue = false;
	int r = 0;

	mutex_lock(&ic->bitmap_lock);
	for (b = first; b <= last; b++) {
		if (test_bit(b, ic->bitmap))
			continue;
		bitmap_set(ic->bitmap, b, last - b + 1);
		r = itg_bitmap_write(ic, b / bits_per_block,
				     last / bits_per_block - b / bits_per_block + 1);
		queue = true;
		break;
	}
	if (!r) {
		atomic_inc(&ic->inplace_inflight);
		dio->journalled = true;
	}
	mutex_unlock(&ic->bitmap_lock);
	if (queue && !READ_ONCE(ic->suspending))
		queue_delayed_work(ic->end_wq, &ic->bitmap_work,
				   msecs_to_jiffies(ic->bitmap_flush_msec));
	return r;
}

/* Suspend: clean bitmap, a fresh journal in its place, superblock clean. */
void itg_bitmap_suspend(struct itg_c *ic)
{
	int r;

	cancel_delayed_work_sync(&ic->bitmap_work);
	mutex_lock(&ic->bitmap_lock);
	itg_bitmap_clean(ic);
	r = itg_journal_clear(ic, 0, ic->journal_sections, 0);
	if (r)
		itg_error(ic, "writing journal", r);
	ic->sb->flags &= ~cpu_to_le32(ITG_SB_DIRTY_BITMAP);
	r = itg_sb_rw(ic, REQ_OP_WRITE | REQ_FUA);
	if (r)
		itg_error(ic, "writing superblock", r);
	mutex_unlock(&ic->bitmap_lock);
}

static void itg_start_recalc_from_zero(struct itg_c *ic)
{
	ic->sb->flags |= cpu_to_le32(ITG_SB_RECALCULATING);
	ic->sb->recalc_sector = 0;
}

/*
 * Resume: a bitmap left dirty (unclean stop in B mode) asks for tags to be
 * recalculated; a clean B-mode start marks the superblock dirty-bitmap.
 * Journal replay is done here too, as it belongs in between.
 */
void itg_bitmap_resume(struct itg_c *ic, bool *write_sb)
{
	unsigned long nbits = itg_nbits(ic);
	bool same_bits = ic->sb->log2_blocks_per_bitmap_bit ==
			 ic->log2_blocks_per_bitmap_bit;
	int r;

	if (itg_sb_flag(ic, ITG_SB_DIRTY_BITMAP)) {
		r = itg_journal_area_io(ic, REQ_OP_READ, 0,
					ic->n_bitmap_blocks * ITG_BITMAP_BLOCK_SECTORS,
					ic->bitmap);
		if (r)
			itg_error(ic, "reading bitmap", r);
		if (ic->mode == 'B') {
			if (same_bits && !ic->reset_recalculate) {
				if (find_first_bit(ic->bitmap, nbits) < nbits)
					itg_start_recalc_from_zero(ic);
			} else {
				ic->sb->log2_blocks_per_bitmap_bit =
					ic->log2_blocks_per_bitmap_bit;
				bitmap_set(ic->bitmap, 0, nbits);
				r = itg_bitmap_write(ic, 0, ic->n_bitmap_blocks);
				if (r)
					itg_error(ic, "writing bitmap", r);
				itg_start_recalc_from_zero(ic);
			}
		} else {
			if (!same_bits || find_first_bit(ic->bitmap, nbits) < nbits ||
			    ic->reset_recalculate)
				itg_start_recalc_from_zero(ic);
			r = itg_journal_clear(ic, 0, ic->journal_sections, 0);
			if (r)
				itg_error(ic, "writing journal", r);
			ic->journal_uptodate = false;
			itg_journal_replay(ic);
			ic->sb->flags &= ~cpu_to_le32(ITG_SB_DIRTY_BITMAP);
		}
		*write_sb = true;
		return;
	}

	itg_journal_replay(ic);
	if (ic->reset_recalculate) {
		itg_start_recalc_from_zero(ic);
		*write_sb = true;
	}
	if (ic->mode != 'B')
		return;
	ic->sb->flags |= cpu_to_le32(ITG_SB_DIRTY_BITMAP);
	ic->sb->log2_blocks_per_bitmap_bit = ic->log2_blocks_per_bitmap_bit;
	r = itg_sb_rw(ic, REQ_OP_WRITE | REQ_FUA);
	if (r)
		itg_error(ic, "writing superblock", r);
	bitmap_zero(ic->bitmap, nbits);
	if (itg_sb_flag(ic, ITG_SB_RECALCULATING)) {
		u64 pos = le64_to_cpu(ic->sb->recalc_sector);

		if (pos < ic->provided_data_sectors)
			bitmap_set(ic->bitmap, pos >> itg_bit_shift(ic),
				   nbits - (pos >> itg_bit_shift(ic)));
	}
	r = itg_bitmap_write(ic, 0, ic->n_bitmap_blocks);
	if (r)
		itg_error(ic, "writing bitmap", r);
}

/* Recalculation in B mode only visits regions marked dirty. */
bool itg_bitmap_skip(struct itg_c *ic, sector_t sector)
{
	if (ic->mode != 'B')
		return false;
	return !test_bit(sector >> itg_bit_shift(ic), ic->bitmap);
}
