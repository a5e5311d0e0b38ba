// SPDX-License-Identifier: GPL-2.0
/*
 * dm-integrity (out of tree): inline mode (I).
 *
 * The tags live in the metadata the lower device keeps beside each block
 * (an NVMe namespace formatted with metadata and no protection
 * information): there is no journal and no tag area.  Logical sector S is
 * at start + 8 + S, and every bio sent down carries one tuple per block in
 * its integrity payload: the digest, cut or zero-padded to the tuple size.
 * A write has its tuples computed before it goes down; a read has them
 * checked after it completes, and a block that fails is read again into a
 * private buffer before it is reported, since the bio's own pages may have
 * been changed while they were read.
 *
 * Tuples are computed in workers only (an ahash request may sleep).  The
 * buffer of a bio's tuples is a page from a mempool, and its integrity
 * payload comes from device-mapper's bio set, created with integrity
 * because the target asks for it: nothing on the I/O path depends on an
 * allocation that could fail or wait for memory reclaim.
 */
#include <linux/bio.h>
#include <linux/blk-integrity.h>
#include <linux/gfp.h>
#include <linux/highmem.h>
#include <linux/slab.h>
#include <crypto/algapi.h>

#include "dm-integrity.h"

/* Tuple pages kept for bios in flight; one more bio waits, none fails. */
#define ITG_INLINE_POOL		16
/* Sectors recalculated at a time: 64 KiB, contiguous pages. */
#define ITG_RECALC_INLINE_SECTORS	128

static sector_t itg_inline_sector(struct itg_c *ic, sector_t logical)
{
	return ic->start + ITG_SB_SECTORS + logical;
}

/* Bytes of a tag that are compared: padding beyond the digest is not. */
static unsigned int itg_inline_cmp_len(struct itg_c *ic)
{
	return min(ic->digest_size, ic->tag_size);
}

/* Table checks of inline mode, in the in-kernel target's order, and pools. */
int itg_inline_setup(struct itg_c *ic, const char **error)
{
	struct blk_integrity *bi;
	unsigned int tuple;
	int r;

	if (ic->meta_dev) {
		*error = "Metadata device not supported in inline mode";
		return -EINVAL;
	}
	if (!ic->hash_alg.name) {
		*error = "Internal hash not set in inline mode";
		return -EINVAL;
	}
	if (ic->jcrypt_alg.name || ic->jmac_alg.name) {
		*error = "Journal crypt not supported in inline mode";
		return -EINVAL;
	}
	if (ic->discard) {
		*error = "Discards not supported in inline mode";
		return -EINVAL;
	}
	if (!DMX_HAVE_INLINE_INTEGRITY) {
		/* Before 6.11 a profile does not say it has no checksum. */
		*error = "Mode I (inline) needs Linux 6.11 or later";
		return -EOPNOTSUPP;
	}
	bi = blk_get_integrity(ic->dev->bdev->bd_disk);
	if (!bi || !dmx_integrity_opaque(bi)) {
		*error = "Integrity profile not supported";
		return -EINVAL;
	}
	tuple = dmx_integrity_tuple_size(bi);
	if (tuple < ic->tag_size) {
		*error = "The integrity profile is smaller than tag size";
		return -EINVAL;
	}
	if (tuple > PAGE_SIZE / 2) {
		*error = "Too big tuple size";
		return -EINVAL;
	}
	if ((1U << bi->interval_exp) != ic->sectors_per_block << SECTOR_SHIFT) {
		*error = "Integrity profile sector size mismatch";
		return -EINVAL;
	}
	ic->tuple_size = tuple;
	/* A bio's tuples fit one page: longer bios are split in map. */
	ic->inline_max_sectors = (PAGE_SIZE / tuple) << ic->log2_spb;

	r = mempool_init_page_pool(&ic->inline_pool, ITG_INLINE_POOL, 0);
	if (!r)
		/* Order 1: the tuple in the first page, the block in the second. */
		r = mempool_init_page_pool(&ic->recheck_pool, 1, 1);
	if (r) {
		*error = "Cannot allocate mempool";
		return r;
	}
	r = bioset_init(&ic->recheck_bs, 1, 0, BIOSET_NEED_BVECS);
	if (r) {
		*error = "Cannot allocate bio set";
		return r;
	}
	r = bioset_integrity_create(&ic->recheck_bs, 1);
	if (!r) {
		r = bioset_init(&ic->recalc_bs, 1, 0, BIOSET_NEED_BVECS);
		if (r) {
			*error = "Cannot allocate bio set";
			return r;
		}
		r = bioset_integrity_create(&ic->recalc_bs, 1);
	}
	if (r) {
		*error = "Cannot allocate bio integrity set";
		return -ENOMEM;
	}
	dmx_set_mempool_needs_integrity(ic->ti);
	return 0;
}

void itg_inline_free(struct itg_c *ic)
{
	bioset_exit(&ic->recalc_bs);
	bioset_exit(&ic->recheck_bs);
	mempool_exit(&ic->recheck_pool);
	mempool_exit(&ic->inline_pool);
}

static void itg_inline_end(struct itg_io *dio)
{
	struct itg_c *ic = dio->ic;
	struct bio *bio = itg_io_bio(dio);

	if (dio->tuples) {
		mempool_free(dio->tuples, &ic->inline_pool);
		dio->tuples = NULL;
	}
	itg_range_unlock(ic, &dio->range);
	bio->bi_status = dio->status;
	bio_endio(bio);
}

/* Put back what was changed to send the bio down. */
static void itg_inline_restore(struct itg_io *dio, struct bio *bio)
{
	bio->bi_iter = dio->saved_iter;
	bio->bi_end_io = dio->saved_end_io;
	bio->bi_private = dio->saved_private;
	bio->bi_bdev = dio->saved_bdev;
	/* Flags the lower queue set (rq-qos) must not be seen above it. */
	bio->bi_flags = dio->saved_flags;
}

/*
 * Read the block at @sector again, with its tuple, into a buffer nobody
 * else can change.  Its tag still wrong: a mismatch, counted once for the
 * bio.  Right: the bio's pages were changed under the first read; they get
 * the data just checked.
 */
static int itg_inline_recheck(struct itg_io *dio, sector_t sector,
			      struct bio_vec *bv)
{
	struct itg_c *ic = dio->ic;
	unsigned int bsize = ic->sectors_per_block << SECTOR_SHIFT;
	struct page *pages = mempool_alloc(&ic->recheck_pool, GFP_NOIO);
	struct page *data = nth_page(pages, 1);
	u8 want[ITG_MAX_TAG_SIZE];
	struct bio_integrity_payload *bip;
	struct bio *rb;
	u8 *mem;
	int r;

	rb = bio_alloc_bioset(ic->dev->bdev, 1, REQ_OP_READ, GFP_NOIO,
			      &ic->recheck_bs);
	rb->bi_iter.bi_sector = itg_inline_sector(ic, sector);
	__bio_add_page(rb, data, bsize, 0);
	bip = bio_integrity_alloc(rb, GFP_NOIO, 1);
	if (IS_ERR(bip)) {
		r = PTR_ERR(bip);
		goto out;
	}
	if (bio_integrity_add_page(rb, pages, ic->tuple_size, 0) != ic->tuple_size) {
		r = -ENOMEM;
		goto out;
	}
	r = submit_bio_wait(rb);
	if (r)
		goto out;
	itg_tag_page(ic, itg_dio_hreq(dio), sector, data, 0, want);
	if (crypto_memneq(want, page_address(pages), itg_inline_cmp_len(ic))) {
		atomic64_inc(&ic->mismatches);
		DMERR_LIMIT("%pg: Checksum failed at sector 0x%llx",
			    ic->dev->bdev, (unsigned long long)sector);
		r = -EILSEQ;
		goto out;
	}
	mem = bvec_kmap_local(bv);
	memcpy(mem, page_address(data), bsize);
	kunmap_local(mem);
out:
	bio_put(rb);
	mempool_free(pages, &ic->recheck_pool);
	return r;
}

/*
 * Check the tuples a read brought back.  Bio segments hold whole blocks
 * (dma_alignment is the block size less one).
 */
static void itg_inline_verify_work(struct work_struct *w)
{
	struct itg_io *dio = container_of(w, struct itg_io, work);
	struct itg_c *ic = dio->ic;
	struct bio *bio = itg_io_bio(dio);
	struct itg_hreq *hr = itg_dio_hreq(dio);
	unsigned int bsize = ic->sectors_per_block << SECTOR_SHIFT;
	struct bvec_iter iter = bio->bi_iter;
	sector_t sector = dio->range.sector;
	u8 *tuple = page_address(dio->tuples);
	u8 want[ITG_MAX_TAG_SIZE];
	int r;

	/* Locked: not recalculated yet when it was read, nothing to check. */
	while (iter.bi_size && dio->op == REQ_OP_READ && !dio->range.locked) {
		struct bio_vec bv = bio_iter_iovec(bio, iter);

		itg_tag_page(ic, hr, sector, bv.bv_page, bv.bv_offset, want);
		if (unlikely(crypto_memneq(want, tuple, itg_inline_cmp_len(ic)))) {
			r = itg_inline_recheck(dio, sector, &bv);
			if (r) {
				dio->status = errno_to_blk_status(r);
				break;
			}
		}
		tuple += ic->tuple_size;
		sector += ic->sectors_per_block;
		bio_advance_iter_single(bio, &iter, bsize);
	}
	itg_inline_end(dio);
}

static void itg_inline_endio(struct bio *bio)
{
	struct itg_io *dio = bio->bi_private;

	dio->status = bio->bi_status;
	itg_inline_restore(dio, bio);
	/* A range lock is not released in interrupt context. */
	if ((dio->op == REQ_OP_READ && !dio->status) || dio->range.locked) {
		INIT_WORK(&dio->work, itg_inline_verify_work);
		queue_work(dio->ic->end_wq, &dio->work);
		return;
	}
	itg_inline_end(dio);
}

/* The tuples of a write, block by block, into the bio's tuple page. */
static void itg_inline_write_tuples(struct itg_io *dio, struct bio *bio)
{
	struct itg_c *ic = dio->ic;
	struct itg_hreq *hr = itg_dio_hreq(dio);
	unsigned int bsize = ic->sectors_per_block << SECTOR_SHIFT;
	struct bvec_iter iter = bio->bi_iter;
	sector_t sector = dio->range.sector;
	u8 *tuple = page_address(dio->tuples);

	while (iter.bi_size) {
		struct bio_vec bv = bio_iter_iovec(bio, iter);

		itg_tuple_page(ic, hr, sector, bv.bv_page, bv.bv_offset, tuple,
			       ic->tuple_size);
		tuple += ic->tuple_size;
		sector += ic->sectors_per_block;
		bio_advance_iter_single(bio, &iter, bsize);
	}
}

/* Attach the tuples and send the bio to the lower device. */
static void itg_inline_work(struct work_struct *w)
{
	struct itg_io *dio = container_of(w, struct itg_io, work);
	struct itg_c *ic = dio->ic;
	struct bio *bio = itg_io_bio(dio);
	unsigned int len = (dio->range.n_sectors >> ic->log2_spb) * ic->tuple_size;
	struct bio_integrity_payload *bip;

	/* Blocks not recalculated yet: wait for the recalculation to pass. */
	if (itg_sb_flag(ic, ITG_SB_RECALCULATING) &&
	    dio->range.sector + dio->range.n_sectors >
	    le64_to_cpu(READ_ONCE(ic->sb->recalc_sector)))
		itg_range_lock(ic, &dio->range);
	dio->tuples = mempool_alloc(&ic->inline_pool, GFP_NOIO);
	if (dio->op == REQ_OP_WRITE)
		itg_inline_write_tuples(dio, bio);

	dio->saved_iter = bio->bi_iter;
	dio->saved_end_io = bio->bi_end_io;
	dio->saved_private = bio->bi_private;
	dio->saved_bdev = bio->bi_bdev;
	dio->saved_flags = bio->bi_flags;

	bio_set_dev(bio, ic->dev->bdev);
	bio->bi_iter.bi_sector = itg_inline_sector(ic, dio->range.sector);
	/* From device-mapper's bio set: see dmx_set_mempool_needs_integrity. */
	bip = bio_integrity_alloc(bio, GFP_NOIO, 1);
	if (IS_ERR(bip)) {
		dio->status = errno_to_blk_status(PTR_ERR(bip));
		goto fail;
	}
	if (bio_integrity_add_page(bio, dio->tuples, len, 0) != len) {
		dio->status = BLK_STS_RESOURCE;
		goto fail;
	}
	bio->bi_end_io = itg_inline_endio;
	/* The per-bio data size depends on the table: find dio this way. */
	bio->bi_private = dio;
	submit_bio_noacct(bio);
	return;
fail:
	itg_inline_restore(dio, bio);
	itg_inline_end(dio);
}

int itg_inline_map(struct itg_io *dio, struct bio *bio)
{
	struct itg_c *ic = dio->ic;

	dio->tuples = NULL;
	if (unlikely(bio_integrity(bio))) {
		bio->bi_status = BLK_STS_NOTSUPP;
		bio_endio(bio);
		return DM_MAPIO_SUBMITTED;
	}
	if (bio->bi_opf & REQ_PREFLUSH) {
		/* Data and tuples are written together: nothing to add. */
		bio_set_dev(bio, ic->dev->bdev);
		return DM_MAPIO_REMAPPED;
	}
	if (dio->op != REQ_OP_READ && dio->op != REQ_OP_WRITE)
		return DM_MAPIO_KILL;
	if (!itg_check_bio(ic, bio, dio->range.sector))
		return DM_MAPIO_KILL;
	if (bio_sectors(bio) > ic->inline_max_sectors) {
		dm_accept_partial_bio(bio, ic->inline_max_sectors);
		dio->range.n_sectors = ic->inline_max_sectors;
	}
	INIT_WORK(&dio->work, itg_inline_work);
	queue_work(ic->wq, &dio->work);
	return DM_MAPIO_SUBMITTED;
}

/* Write @n sectors at @pos from @buf with their tuples from @tuples. */
static int itg_recalc_inline_write(struct itg_c *ic, sector_t pos,
				   unsigned int n, u8 *buf, u8 *tuples)
{
	unsigned int len = (n >> ic->log2_spb) * ic->tuple_size;
	struct bio_integrity_payload *bip;
	struct bio *bio;
	int r;

	bio = bio_alloc_bioset(ic->dev->bdev, 1, REQ_OP_WRITE, GFP_NOIO,
			       &ic->recalc_bs);
	bio->bi_iter.bi_sector = itg_inline_sector(ic, pos);
	__bio_add_page(bio, virt_to_page(buf), n << SECTOR_SHIFT, 0);
	bip = bio_integrity_alloc(bio, GFP_NOIO, 1);
	if (IS_ERR(bip)) {
		r = PTR_ERR(bip);
		goto out;
	}
	r = -ENOMEM;
	if (bio_integrity_add_page(bio, virt_to_page(tuples), len,
				   offset_in_page(tuples)) != len)
		goto out;
	r = submit_bio_wait(bio);
out:
	bio_put(bio);
	return r;
}

/*
 * Recalculation in I mode, from recalc_sector on: under a range lock, read
 * a chunk, compute its tuples, write the chunk back with them.  The buffers
 * are allocated here, before any range is locked.
 */
void itg_recalc_inline_work(struct work_struct *w)
{
	struct itg_c *ic = container_of(w, struct itg_c, recalc_work);
	unsigned int bsize = ic->sectors_per_block << SECTOR_SHIFT;
	unsigned int order = get_order(ITG_RECALC_INLINE_SECTORS << SECTOR_SHIFT);
	struct dm_io_request req = {
		.bi_opf = REQ_OP_READ,
		.mem.type = DM_IO_KMEM,
		.client = ic->io,
	};
	struct dm_io_region where = { .bdev = ic->dev->bdev };
	struct itg_range range = { .write = true };
	unsigned int since_save = 0;
	u8 *buf, *tuples;
	int r = 0;

	buf = (u8 *)__get_free_pages(GFP_KERNEL, order);
	tuples = kmalloc((ITG_RECALC_INLINE_SECTORS >> ic->log2_spb) * ic->tuple_size,
			 GFP_KERNEL);
	if (!buf || !tuples) {
		DMERR("out of memory for recalculation");
		goto out;
	}
	req.mem.ptr.addr = buf;

	for (;;) {
		sector_t pos = le64_to_cpu(ic->sb->recalc_sector);
		unsigned int n, i;

		if (pos >= ic->provided_data_sectors || READ_ONCE(ic->suspending) ||
		    READ_ONCE(ic->failed))
			break;
		n = min_t(sector_t, ITG_RECALC_INLINE_SECTORS,
			  ic->provided_data_sectors - pos);
		range.sector = pos;
		range.n_sectors = n;
		itg_range_lock(ic, &range);
		where.sector = itg_inline_sector(ic, pos);
		where.count = n;
		r = dm_io(&req, 1, &where, NULL, IOPRIO_DEFAULT);
		if (!r) {
			for (i = 0; i < n >> ic->log2_spb; i++) {
				u8 *data = buf + (size_t)i * bsize;

				itg_tuple_page(ic, ic->recalc_hr,
					       pos + ((sector_t)i << ic->log2_spb),
					       virt_to_page(data), offset_in_page(data),
					       tuples + i * ic->tuple_size,
					       ic->tuple_size);
			}
			r = itg_recalc_inline_write(ic, pos, n, buf, tuples);
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
			r = itg_sb_rw(ic, REQ_OP_WRITE | REQ_FUA);
			if (r)
				itg_error(ic, "writing superblock", r);
			since_save = 0;
		}
		cond_resched();
	}
	r = itg_sb_rw(ic, REQ_OP_WRITE | REQ_FUA);
	if (r)
		itg_error(ic, "writing superblock", r);
out:
	kfree(tuples);
	if (buf)
		free_pages((unsigned long)buf, order);
}
