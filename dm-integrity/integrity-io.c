// SPDX-License-Identifier: GPL-2.0
/*
 * dm-integrity (out of tree): the I/O path of direct mode (D), also used
 * by R mode (reads, no verification).
 *
 * Every bio is taken to a worker, which locks its range, writes the tags
 * of a write (computed or taken from the integrity payload) and sends the
 * bio, remapped, to the data device.  A completion worker verifies the
 * tags of a read (or fills the payload), unlocks and ends the bio.
 * Tags are only ever computed in these workers, never in end_io: an ahash
 * request may sleep until its engine is done.
 */
#include <linux/bio.h>
#include <linux/blk-integrity.h>
#include <linux/highmem.h>
#include <crypto/algapi.h>

#include "dm-integrity.h"

#define ITG_TAG_BATCH	512

static bool itg_ranges_conflict(struct itg_range *a, struct itg_range *b)
{
	if (!a->write && !b->write)
		return false;
	return a->sector < b->sector + b->n_sectors &&
	       b->sector < a->sector + a->n_sectors;
}

static bool itg_try_lock(struct itg_c *ic, struct itg_range *r)
{
	bool ok = true, journal = false;
	struct itg_range *o;

	spin_lock(&ic->range_lock);
	list_for_each_entry(o, &ic->ranges, entry) {
		if (itg_ranges_conflict(o, r)) {
			ok = false;
			journal = o->journal;
			break;
		}
	}
	if (ok)
		list_add_tail(&r->entry, &ic->ranges);
	spin_unlock(&ic->range_lock);
	/* Blocks waiting in the journal: commit now rather than on the timer. */
	if (journal && !READ_ONCE(ic->suspending))
		mod_delayed_work(ic->end_wq, &ic->commit_work, 0);
	return ok;
}

void itg_range_lock(struct itg_c *ic, struct itg_range *r)
{
	wait_event(ic->range_wait, itg_try_lock(ic, r));
	r->locked = true;
}

void itg_range_unlock(struct itg_c *ic, struct itg_range *r)
{
	if (!r->locked)
		return;
	spin_lock(&ic->range_lock);
	list_del(&r->entry);
	spin_unlock(&ic->range_lock);
	r->locked = false;
	wake_up_all(&ic->range_wait);
}

/* Write dirty tag buffers and flush the caches of the devices. */
void itg_flush_meta(struct itg_c *ic)
{
	int r;

	r = dm_bufio_write_dirty_buffers(ic->bufio);
	if (r)
		itg_error(ic, "writing tags", r);
	if (ic->meta_dev) {
		r = blkdev_issue_flush(ic->meta_dev->bdev);
		if (r)
			itg_error(ic, "flushing metadata device", r);
	}
}

/* Make what is in place durable: tags, then the data device's cache. */
void itg_flush_devices(struct itg_c *ic)
{
	int r;

	itg_flush_meta(ic);
	r = blkdev_issue_flush(ic->dev->bdev);
	if (r)
		itg_error(ic, "flushing data device", r);
}

/* Wait for the writes in flight, then make their data and tags durable. */
void itg_flush_inplace(struct itg_c *ic)
{
	wait_event(ic->inplace_wait, !atomic_read(&ic->inplace_inflight));
	itg_flush_devices(ic);
}

bool itg_check_bio(struct itg_c *ic, struct bio *bio, sector_t logical)
{
	unsigned int mask = ic->sectors_per_block - 1;
	struct bvec_iter iter;
	struct bio_vec bv;

	if (logical + bio_sectors(bio) > ic->provided_data_sectors) {
		DMERR_LIMIT("Too big sector number: 0x%llx + 0x%x > 0x%llx",
			    (unsigned long long)logical, bio_sectors(bio),
			    (unsigned long long)ic->provided_data_sectors);
		return false;
	}
	if ((logical | bio_sectors(bio)) & mask) {
		DMERR_LIMIT("Bio not aligned on %u sectors: 0x%llx, 0x%x",
			    ic->sectors_per_block, (unsigned long long)logical,
			    bio_sectors(bio));
		return false;
	}
	if (ic->sectors_per_block > 1 && bio_op(bio) != REQ_OP_DISCARD) {
		bio_for_each_segment(bv, bio, iter) {
			if (bv.bv_len & ((mask + 1) * SECTOR_SIZE - 1)) {
				DMERR_LIMIT("Bio vector (%u,%u) not aligned on %u sectors",
					    bv.bv_offset, bv.bv_len,
					    ic->sectors_per_block);
				return false;
			}
		}
	}
	return true;
}

static void itg_end_bio(struct itg_io *dio)
{
	struct itg_c *ic = dio->ic;
	struct bio *bio = itg_io_bio(dio);

	if (dio->journalled) {
		dio->journalled = false;
		itg_journal_inplace_done(ic);
	}
	itg_range_unlock(ic, &dio->range);
	if ((dio->op == REQ_OP_WRITE || dio->op == REQ_OP_DISCARD) &&
	    !ic->suspending)
		queue_delayed_work(ic->end_wq, &ic->commit_work,
				   msecs_to_jiffies(ic->commit_msec));
	if (dio->status && !bio->bi_status)
		bio->bi_status = dio->status;
	else if (!bio->bi_status && READ_ONCE(ic->failed))
		bio->bi_status = BLK_STS_IOERR;
	bio_endio(bio);
}

/* The hash request of @dio, if the engine needs one. */
struct itg_hreq *itg_dio_hreq(struct itg_io *dio)
{
	return dio->ic->hash.ahash ? itg_io_hreq(dio) : NULL;
}

/* Tags of the data of a write, computed block by block. */
static int itg_write_hash_tags(struct itg_io *dio, struct bio *bio)
{
	struct itg_c *ic = dio->ic;
	struct itg_hreq *hr = itg_dio_hreq(dio);
	unsigned int bsize = ic->sectors_per_block << SECTOR_SHIFT;
	u64 tag_byte = itg_tag_byte(ic, dio->range.sector);
	sector_t sector = dio->range.sector;
	u8 tags[ITG_TAG_BATCH];
	unsigned int used = 0;
	struct bvec_iter iter;
	struct bio_vec bv;
	int r;

	bio_for_each_segment(bv, bio, iter) {
		unsigned int pos;

		for (pos = 0; pos + bsize <= bv.bv_len; pos += bsize) {
			if (used + ic->tag_size > sizeof(tags)) {
				r = itg_tags_rw(ic, tag_byte, tags, used, true);
				if (r)
					return r;
				tag_byte += used;
				used = 0;
			}
			itg_tag_page(ic, hr, sector, bv.bv_page,
				     bv.bv_offset + pos, tags + used);
			used += ic->tag_size;
			sector += ic->sectors_per_block;
		}
	}
	if (used)
		return itg_tags_rw(ic, tag_byte, tags, used, true);
	return 0;
}

/* Tags of a read, checked against the data read. */
static int itg_verify_hash_tags(struct itg_io *dio, struct bio *bio)
{
	struct itg_c *ic = dio->ic;
	struct itg_hreq *hr = itg_dio_hreq(dio);
	unsigned int bsize = ic->sectors_per_block << SECTOR_SHIFT;
	sector_t sector = dio->range.sector;
	sector_t limit = ic->provided_data_sectors;
	u8 want[ITG_MAX_TAG_SIZE + 1];
	u8 have[ITG_MAX_TAG_SIZE + 1];
	struct bvec_iter iter;
	struct bio_vec bv;
	int r;

	if (itg_sb_flag(ic, ITG_SB_RECALCULATING))
		limit = le64_to_cpu(READ_ONCE(ic->sb->recalc_sector));

	bio_for_each_segment(bv, bio, iter) {
		unsigned int pos;

		if (sector >= limit)
			break;
		for (pos = 0; pos + bsize <= bv.bv_len && sector < limit;
		     pos += bsize, sector += ic->sectors_per_block) {
			r = itg_tags_rw(ic, itg_tag_byte(ic, sector), have,
					ic->tag_size, false);
			if (r)
				return r;
			itg_tag_page(ic, hr, sector, bv.bv_page,
				     bv.bv_offset + pos, want);
			if (!crypto_memneq(want, have, ic->tag_size))
				continue;
			if (ic->discard &&
			    !memchr_inv(have, ITG_DISCARD_FILLER, ic->tag_size))
				continue;
			atomic64_inc(&ic->mismatches);
			DMERR_LIMIT("%pg: Checksum failed at sector 0x%llx",
				    ic->dev->bdev, (unsigned long long)sector);
			return -EILSEQ;
		}
	}
	return 0;
}

/* Tags to or from the integrity payload of the bio (dm-crypt AEAD). */
static int itg_payload_tags(struct itg_io *dio, struct bio_integrity_payload *bip,
			    bool write)
{
	struct itg_c *ic = dio->ic;
	u64 tag_byte = itg_tag_byte(ic, dio->range.sector);
	unsigned int left = (dio->range.n_sectors >> ic->log2_spb) * ic->tag_size;
	struct bvec_iter iter;
	struct bio_vec bv;
	int r;

	bip_for_each_vec(bv, bip, iter) {
		unsigned int n = min(bv.bv_len, left);
		u8 *mem = bvec_kmap_local(&bv);

		r = itg_tags_rw(ic, tag_byte, mem, n, write);
		kunmap_local(mem);
		if (r)
			return r;
		tag_byte += n;
		left -= n;
		if (!left)
			break;
	}
	return 0;
}

static int itg_discard_tags(struct itg_io *dio)
{
	struct itg_c *ic = dio->ic;
	u64 tag_byte = itg_tag_byte(ic, dio->range.sector);
	u64 left = (u64)(dio->range.n_sectors >> ic->log2_spb) * ic->tag_size;
	u8 fill[ITG_TAG_BATCH];
	int r;

	memset(fill, ITG_DISCARD_FILLER, sizeof(fill));
	while (left) {
		unsigned int n = min_t(u64, left, sizeof(fill));

		r = itg_tags_rw(ic, tag_byte, fill, n, true);
		if (r)
			return r;
		tag_byte += n;
		left -= n;
	}
	return 0;
}

static void itg_complete_work(struct work_struct *w)
{
	struct itg_io *dio = container_of(w, struct itg_io, work);
	struct itg_c *ic = dio->ic;
	struct bio *bio = itg_io_bio(dio);
	int r = 0;

	if (dio->status)
		goto out;
	if (dio->op == REQ_OP_READ) {
		if (dio->saved_bip)
			r = itg_payload_tags(dio, dio->saved_bip, false);
		else if (itg_has_hash(ic) && ic->mode != 'R')
			r = itg_verify_hash_tags(dio, bio);
	} else if (dio->fua) {
		itg_flush_meta(ic);
		r = blkdev_issue_flush(ic->dev->bdev);
	}
	if (r)
		dio->status = errno_to_blk_status(r);
out:
	itg_end_bio(dio);
}

static void itg_data_endio(struct bio *bio)
{
	struct itg_io *dio = bio->bi_private;

	if (bio->bi_status && !dio->status)
		dio->status = bio->bi_status;
	bio->bi_iter = dio->saved_iter;
	bio->bi_end_io = dio->saved_end_io;
	bio->bi_private = dio->saved_private;
	bio->bi_bdev = dio->saved_bdev;
	bio->bi_flags = dio->saved_flags;
	dmx_bio_attach_integrity(bio, dio->saved_bip);

	INIT_WORK(&dio->work, itg_complete_work);
	queue_work(dio->ic->end_wq, &dio->work);
}

static void itg_submit_data(struct itg_io *dio)
{
	struct itg_c *ic = dio->ic;
	struct bio *bio = itg_io_bio(dio);

	dio->saved_iter = bio->bi_iter;
	dio->saved_end_io = bio->bi_end_io;
	dio->saved_private = bio->bi_private;
	dio->saved_bdev = bio->bi_bdev;
	dio->saved_flags = bio->bi_flags;
	dio->saved_bip = dmx_bio_detach_integrity(bio);

	bio->bi_end_io = itg_data_endio;
	/* The per-bio data size depends on the table: find dio this way. */
	bio->bi_private = dio;
	bio_set_dev(bio, ic->dev->bdev);
	bio->bi_iter.bi_sector = itg_data_sector(ic, dio->range.sector);
	submit_bio_noacct(bio);
}

static void itg_io_work(struct work_struct *w)
{
	struct itg_io *dio = container_of(w, struct itg_io, work);
	struct itg_c *ic = dio->ic;
	struct bio *bio = itg_io_bio(dio);
	struct bio_integrity_payload *bip = bio_integrity(bio);
	int r = 0;

	itg_range_lock(ic, &dio->range);
	if (dio->op == REQ_OP_WRITE && ic->mode == 'J') {
		/* The journal writes it in place later. */
		r = itg_journal_write_bio(dio, bio);
		goto end;
	}
	if (dio->op != REQ_OP_READ && ic->mode == 'B')
		r = itg_bitmap_mark(dio);
	if (r)
		goto end;
	if (dio->op == REQ_OP_WRITE) {
		if (itg_has_hash(ic))
			r = itg_write_hash_tags(dio, bio);
		else if (bip)
			r = itg_payload_tags(dio, bip, true);
	} else if (dio->op == REQ_OP_DISCARD) {
		r = itg_discard_tags(dio);
		/* Outside D mode the filler tags go first, then the discard. */
		if (!r && ic->mode != 'D')
			r = dm_bufio_write_dirty_buffers(ic->bufio);
	}
	if (r)
		goto end;
	itg_submit_data(dio);
	return;
end:
	dio->status = errno_to_blk_status(r);
	itg_end_bio(dio);
}

/* An empty flush: tags to disk first, then the flush goes down. */
static void itg_flush_work(struct work_struct *w)
{
	struct itg_io *dio = container_of(w, struct itg_io, work);
	struct itg_c *ic = dio->ic;
	struct bio *bio = itg_io_bio(dio);

	/* What writes completed so far is in the journal's open section. */
	if (ic->mode == 'J')
		itg_journal_commit_open(ic);
	itg_flush_meta(ic);
	if (bio_sectors(bio)) {
		bio->bi_opf &= ~REQ_PREFLUSH;
		itg_io_work(w);
		return;
	}
	bio_set_dev(bio, ic->dev->bdev);
	submit_bio_noacct(bio);
}

int itg_map(struct dm_target *ti, struct bio *bio)
{
	struct itg_c *ic = ti->private;
	struct itg_io *dio = dm_per_bio_data(bio, ic->per_io_size);
	struct bio_integrity_payload *bip = bio_integrity(bio);
	sector_t logical = dm_target_offset(ti, bio->bi_iter.bi_sector);

	dio->ic = ic;
	dio->status = 0;
	dio->op = bio_op(bio);
	dio->fua = false;
	dio->journalled = false;
	dio->saved_bip = NULL;
	dio->range.sector = logical;
	dio->range.n_sectors = bio_sectors(bio);
	dio->range.write = dio->op != REQ_OP_READ;
	dio->range.locked = false;

	if (ic->mode == 'I')
		return itg_inline_map(dio, bio);

	if (dio->op == REQ_OP_DISCARD && ti->max_io_len) {
		sector_t room = ti->max_io_len - (logical & (ti->max_io_len - 1));

		if (bio_sectors(bio) > room) {
			dm_accept_partial_bio(bio, room);
			dio->range.n_sectors = room;
		}
	}

	if (bio->bi_opf & REQ_PREFLUSH) {
		if (ic->mode == 'R' && bio_sectors(bio))
			return DM_MAPIO_KILL;
		INIT_WORK(&dio->work, itg_flush_work);
		queue_work(ic->wq, &dio->work);
		return DM_MAPIO_SUBMITTED;
	}

	if (dio->op != REQ_OP_READ && dio->op != REQ_OP_WRITE &&
	    dio->op != REQ_OP_DISCARD)
		return DM_MAPIO_KILL;
	if (ic->mode == 'R' && dio->op != REQ_OP_READ)
		return DM_MAPIO_KILL;
	if (!itg_check_bio(ic, bio, logical))
		return DM_MAPIO_KILL;

	if (dio->op == REQ_OP_WRITE && (bio->bi_opf & REQ_FUA)) {
		/* The tags need a flush after the data anyway. */
		bio->bi_opf &= ~REQ_FUA;
		/* In J mode the bio waits for its journal commit instead. */
		dio->fua = true;
	}

	if (itg_has_hash(ic)) {
		if (bip) {
			DMERR_LIMIT("Unexpected integrity data when using internal hash");
			return DM_MAPIO_KILL;
		}
	} else if (bip) {
		unsigned int want = (bio_sectors(bio) >> ic->log2_spb) * ic->tag_size;

		if (want != bip->bip_iter.bi_size) {
			DMERR_LIMIT("Invalid integrity data size %u, expected %u",
				    bip->bip_iter.bi_size, want);
			return DM_MAPIO_KILL;
		}
	}

	INIT_WORK(&dio->work, itg_io_work);
	queue_work(ic->wq, &dio->work);
	return DM_MAPIO_SUBMITTED;
}

static void itg_commit_work(struct work_struct *w)
{
	struct itg_c *ic = container_of(to_delayed_work(w), struct itg_c,
					commit_work);
	int r;

	if (ic->mode == 'J')
		itg_journal_commit_open(ic);
	r = dm_bufio_write_dirty_buffers(ic->bufio);
	if (r)
		itg_error(ic, "writing tags", r);
}

int itg_io_init(struct itg_c *ic)
{
	spin_lock_init(&ic->range_lock);
	INIT_LIST_HEAD(&ic->ranges);
	init_waitqueue_head(&ic->range_wait);
	INIT_DELAYED_WORK(&ic->commit_work, itg_commit_work);

	ic->wq = alloc_workqueue("dm-integrity-io", WQ_MEM_RECLAIM, 0);
	if (!ic->wq)
		return -ENOMEM;
	ic->end_wq = alloc_workqueue("dm-integrity-end", WQ_MEM_RECLAIM, 0);
	if (!ic->end_wq)
		return -ENOMEM;
	return 0;
}

void itg_io_exit(struct itg_c *ic)
{
	if (ic->end_wq) {
		cancel_delayed_work_sync(&ic->commit_work);
		destroy_workqueue(ic->end_wq);
	}
	if (ic->wq)
		destroy_workqueue(ic->wq);
}
