// SPDX-License-Identifier: GPL-2.0
/*
 * dm-integrity (out of tree): the journal area.
 *
 * Each 512-byte journal sector is 504 bytes of payload and an 8-byte
 * commit id, the commit id of its sequence xor-ed with (section << 32) ^
 * sector so that a sector written at the wrong place is recognised.  A
 * section starts with 8 metadata sectors of entries; entry n lives in
 * metadata sector n % 8, slot n / 8.  An unused entry has its sector's
 * high word set to 0xffffffff.
 *
 * A write is copied into the open area in memory (up to ITG_JOURNAL_BATCH
 * sections) and completes: its entries are reserved under journal_lock and
 * filled (data, tags) without it.  A full area is committed by the commit
 * worker while writers go on into the next.  The blocks stay locked by
 * journal ranges until a commit has written the area's sections to the
 * ring (one FUA write) and then its data and tags in place, so a read
 * never needs to look into the journal: it waits for the commit it
 * triggers.  A commit returns once the area's in-place writes are
 * submitted; they complete while writers fill the next area and the next
 * commit writes it to the ring.  On the disk an area is just consecutive
 * sections: a torn write of one leaves the ones before it to replay.
 */
#include <linux/blk-integrity.h>
#include <linux/highmem.h>
#include <linux/vmalloc.h>
#include <crypto/algapi.h>

#include "dm-integrity.h"

/*
 * Sections per commit, at most: fewer round trips for big writes and more
 * in-place writes in flight at once for small ones.  A quarter of the ring
 * at most, so that a commit rarely has to flush the device first.
 */
#define ITG_JOURNAL_BATCH	8

static u8 itg_next_seq(u8 seq)
{
	return (seq + 1) % ITG_N_COMMIT_IDS;
}

static u8 itg_prev_seq(u8 seq)
{
	return (seq + ITG_N_COMMIT_IDS - 1) % ITG_N_COMMIT_IDS;
}

static const u64 itg_commit_id_base[ITG_N_COMMIT_IDS] = {
	0x1111111111111111ULL, 0x2222222222222222ULL,
	0x3333333333333333ULL, 0x4444444444444444ULL,
};

static __le64 itg_commit_id(struct itg_c *ic, unsigned int section,
			    unsigned int sector, unsigned int seq)
{
	return ic->commit_ids[seq] ^ cpu_to_le64(((u64)section << 32) ^ sector);
}

static u8 *itg_entry(struct itg_c *ic, u8 *section, unsigned int n)
{
	return section + ((n % ITG_JOURNAL_META_SECTORS) << SECTOR_SHIFT) +
	       (n / ITG_JOURNAL_META_SECTORS) * ic->journal_entry_size;
}

static u8 *itg_entry_data(struct itg_c *ic, u8 *section, unsigned int n)
{
	return section + ((ITG_JOURNAL_META_SECTORS + (n << ic->log2_spb)) <<
			  SECTOR_SHIFT);
}

static u8 *itg_entry_tag(struct itg_c *ic, u8 *entry)
{
	return entry + 8 + 8 * ic->sectors_per_block;
}

/* Entry @n of an open or committed area (entries run section by section). */
static u8 *itg_area_entry(struct itg_c *ic, u8 *area, unsigned int n)
{
	unsigned int e = ic->journal_section_entries;

	return itg_entry(ic, area + (size_t)(n / e) * itg_section_bytes(ic), n % e);
}

static u8 *itg_area_entry_data(struct itg_c *ic, u8 *area, unsigned int n)
{
	unsigned int e = ic->journal_section_entries;

	return itg_entry_data(ic, area + (size_t)(n / e) * itg_section_bytes(ic),
			      n % e);
}

static bool itg_entry_unused(u8 *entry)
{
	return get_unaligned_le32(entry + 4) == ITG_ENTRY_UNUSED_HI;
}

/* Empty the first @n sections of the area buffer @area. */
static void itg_area_clear(struct itg_c *ic, u8 *area, unsigned int n)
{
	unsigned int k;

	memset(area, 0, n * itg_section_bytes(ic));
	for (k = 0; k < n * ic->journal_section_entries; k++)
		put_unaligned_le32(ITG_ENTRY_UNUSED_HI, itg_area_entry(ic, area, k) + 4);
}

/* Build an empty section @section of sequence @seq in @buf. */
static void itg_journal_empty_section(struct itg_c *ic, u8 *buf,
				      unsigned int section, unsigned int seq)
{
	unsigned int j;

	itg_area_clear(ic, buf, 1);
	for (j = 0; j < ic->journal_section_sectors; j++) {
		__le64 *id = (__le64 *)(buf + (j << SECTOR_SHIFT) +
					ITG_JOURNAL_SECTOR_DATA);

		*id = itg_commit_id(ic, section, j, seq);
	}
}

/* Read or write @count sectors of the journal area from its sector @sector. */
int itg_journal_area_io(struct itg_c *ic, blk_opf_t opf, sector_t sector,
			unsigned int count, void *buf)
{
	struct dm_io_request req = {
		.bi_opf = opf,
		.mem.type = DM_IO_VMA,
		.mem.ptr.vma = buf,
		.client = ic->io,
	};
	struct dm_io_region where = {
		.bdev = itg_meta_bdev(ic),
		.sector = ic->start + ITG_SB_SECTORS + sector,
		.count = count,
	};

	return dm_io(&req, 1, &where, NULL, IOPRIO_DEFAULT);
}

/* Write @n sections from @buf (whole sections) at section @first. */
int itg_journal_io(struct itg_c *ic, blk_opf_t opf, unsigned int first,
		   unsigned int n, u8 *buf)
{
	return itg_journal_area_io(ic, opf,
				   (sector_t)first * ic->journal_section_sectors,
				   n * ic->journal_section_sectors, buf);
}

/* Write empty sections [first, first + n) with sequence @seq. */
int itg_journal_clear(struct itg_c *ic, unsigned int first,
		      unsigned int n, u8 seq)
{
	size_t len = (size_t)ic->journal_section_sectors << SECTOR_SHIFT;
	unsigned int i;
	u8 *buf;
	int r = 0;

	buf = vmalloc(len);
	if (!buf)
		return -ENOMEM;
	for (i = first; i < first + n; i++) {
		itg_journal_empty_section(ic, buf, i, seq);
		r = itg_journal_seal(ic, buf, i, 1);
		if (!r)
			r = itg_journal_io(ic, REQ_OP_WRITE | REQ_FUA, i, 1, buf);
		if (r)
			break;
	}
	vfree(buf);
	return r;
}

/*
 * Open an empty area in ic->jbuf, of which the first @dirty sections hold
 * entries of an earlier commit (the rest are still empty).
 */
static void itg_journal_begin(struct itg_c *ic, unsigned int dirty)
{
	itg_area_clear(ic, ic->jbuf, dirty);
	ic->jused = 0;
	ic->jnranges = 0;
}

/* Entries the open area may take: it ends where the ring does. */
static unsigned int itg_journal_capacity(struct itg_c *ic)
{
	return min(ic->jbatch, ic->journal_sections - ic->jopen_sec) *
	       ic->journal_section_entries;
}

/*
 * The in-place writes of the last commit are all done: their blocks are
 * unlocked and the buffer is free for the next commit.
 */
static void itg_journal_inplace_release(struct work_struct *w)
{
	struct itg_c *ic = container_of(w, struct itg_c, jinplace_work);
	unsigned int i;

	if (READ_ONCE(ic->jinplace_failed))
		itg_error(ic, "copying from journal", -EIO);
	spin_lock(&ic->range_lock);
	for (i = 0; i < ic->jnranges_inplace; i++)
		list_del(&ic->jranges_inplace[i].entry);
	ic->jnranges_inplace = 0;
	spin_unlock(&ic->range_lock);
	/* Pairs with the acquire in itg_journal_inplace_wait(). */
	smp_store_release(&ic->jinplace_busy, false);
	wake_up_all(&ic->range_wait);
	wake_up_all(&ic->jinplace_wait);
}

/* Wait until no in-place write of a commit is in flight. */
static void itg_journal_inplace_wait(struct itg_c *ic)
{
	/* Acquire: the released ranges are seen once busy is seen clear. */
	wait_event(ic->jinplace_wait, !smp_load_acquire(&ic->jinplace_busy));
}

static void itg_journal_commit_full(struct work_struct *w);

int itg_journal_alloc(struct itg_c *ic)
{
	size_t len;
	unsigned int k;

	for (k = 0; k < ITG_N_COMMIT_IDS; k++)
		ic->commit_ids[k] = cpu_to_le64(itg_commit_id_base[k]);
	mutex_init(&ic->jcrypt_lock);
	mutex_init(&ic->journal_lock);
	mutex_init(&ic->commit_lock);
	atomic_set(&ic->inplace_inflight, 0);
	init_waitqueue_head(&ic->inplace_wait);
	init_waitqueue_head(&ic->jinplace_wait);
	INIT_WORK(&ic->jinplace_work, itg_journal_inplace_release);
	init_waitqueue_head(&ic->jopen_wait);
	atomic_set(&ic->jwriters[0], 0);
	atomic_set(&ic->jwriters[1], 0);
	init_waitqueue_head(&ic->jwriters_wait);
	INIT_WORK(&ic->jcommit_work, itg_journal_commit_full);
	if (ic->mode != 'J')
		return 0;
	ic->jbatch = clamp(ic->journal_sections / 4, 1U, ITG_JOURNAL_BATCH);
	len = ic->jbatch * itg_section_bytes(ic);
	ic->jbuf = vmalloc(len);
	ic->jbuf_commit = vmalloc(len);
	/* Only an encrypted journal is written from a copy of the area. */
	if (itg_journal_encrypted(ic))
		ic->jseal = vmalloc(len);
	ic->jbuf_inplace = vmalloc(len);
	ic->jranges = kvcalloc(ic->jbatch * ic->journal_section_entries,
			       sizeof(*ic->jranges), GFP_KERNEL);
	ic->jranges_commit = kvcalloc(ic->jbatch * ic->journal_section_entries,
				      sizeof(*ic->jranges_commit), GFP_KERNEL);
	ic->jranges_inplace = kvcalloc(ic->jbatch * ic->journal_section_entries,
				       sizeof(*ic->jranges_inplace), GFP_KERNEL);
	/* Range release must not wait behind a commit on another queue. */
	ic->jinplace_wq = alloc_workqueue("dm-integrity-jdone", WQ_MEM_RECLAIM, 1);
	/* Unbound: the commit runs beside the writers, not behind them. */
	ic->jcommit_wq = alloc_workqueue("dm-integrity-jcommit",
					 WQ_MEM_RECLAIM | WQ_UNBOUND, 1);
	if (!ic->jbuf || !ic->jbuf_commit || !ic->jbuf_inplace ||
	    (itg_journal_encrypted(ic) && !ic->jseal) ||
	    !ic->jranges || !ic->jranges_commit || !ic->jranges_inplace ||
	    !ic->jinplace_wq || !ic->jcommit_wq)
		return -ENOMEM;
	itg_area_clear(ic, ic->jbuf_commit, ic->jbatch);
	itg_area_clear(ic, ic->jbuf_inplace, ic->jbatch);
	itg_journal_begin(ic, ic->jbatch);
	return 0;
}

void itg_journal_free(struct itg_c *ic)
{
	if (ic->jcommit_wq) {
		destroy_workqueue(ic->jcommit_wq);
		ic->jcommit_wq = NULL;
	}
	if (ic->jinplace_wq) {
		itg_journal_inplace_wait(ic);
		destroy_workqueue(ic->jinplace_wq);
		ic->jinplace_wq = NULL;
	}
	vfree(ic->jbuf);
	ic->jbuf = NULL;
	vfree(ic->jbuf_commit);
	ic->jbuf_commit = NULL;
	vfree(ic->jseal);
	ic->jseal = NULL;
	kvfree(ic->jranges);
	ic->jranges = NULL;
	kvfree(ic->jranges_commit);
	ic->jranges_commit = NULL;
	vfree(ic->jbuf_inplace);
	ic->jbuf_inplace = NULL;
	kvfree(ic->jranges_inplace);
	ic->jranges_inplace = NULL;
}

/* Make every write that is in place durable there. */
static void itg_journal_flush_inplace(struct itg_c *ic)
{
	itg_flush_devices(ic);
	ic->unflushed_sections = 0;
}

void itg_journal_inplace_done(struct itg_c *ic)
{
	if (atomic_dec_and_test(&ic->inplace_inflight))
		wake_up_all(&ic->inplace_wait);
}

/* Put back the sector tails that commit ids replaced in @n entries. */
static void itg_journal_restore_tails(struct itg_c *ic, u8 *area, unsigned int n)
{
	unsigned int k, s;

	for (k = 0; k < n; k++) {
		u8 *je = itg_area_entry(ic, area, k);
		u8 *jd = itg_area_entry_data(ic, area, k);

		for (s = 0; s < ic->sectors_per_block; s++)
			memcpy(jd + (s << SECTOR_SHIFT) + ITG_JOURNAL_SECTOR_DATA,
			       je + 8 + 8 * s, 8);
	}
}

/*
 * Write the sections of the area in ic->jbuf_commit as the next ones of
 * the ring, in one write (the area never reaches past the ring's end).
 * Unencrypted, they go from the buffer itself, whose sector tails are
 * then put back for the writes in place; encrypted, from a sealed copy.
 */
static int itg_journal_write_sections(struct itg_c *ic)
{
	unsigned int n = DIV_ROUND_UP(ic->jused_commit, ic->journal_section_entries);
	bool encrypted = itg_journal_encrypted(ic);
	u8 *out = encrypted ? ic->jseal : ic->jbuf_commit;
	unsigned int i, j;
	int r;

	/*
	 * The sections about to be overwritten were committed a whole ring
	 * ago: their writes, in place since, must be durable there first.
	 */
	if (ic->unflushed_sections + n > ic->journal_sections) {
		itg_journal_inplace_wait(ic);
		itg_journal_flush_inplace(ic);
	}
	if (encrypted)
		memcpy(ic->jseal, ic->jbuf_commit, n * itg_section_bytes(ic));
	for (i = 0; i < n; i++) {
		u8 *sec = out + i * itg_section_bytes(ic);

		for (j = 0; j < ic->journal_section_sectors; j++)
			*(__le64 *)(sec + (j << SECTOR_SHIFT) + ITG_JOURNAL_SECTOR_DATA) =
				itg_commit_id(ic, ic->jsec + i, j, ic->jseq);
	}
	r = itg_journal_seal(ic, out, ic->jsec, n);
	if (!r)
		r = itg_journal_io(ic, REQ_OP_WRITE | REQ_FUA | REQ_SYNC, ic->jsec,
				   n, out);
	if (!encrypted)
		itg_journal_restore_tails(ic, ic->jbuf_commit, ic->jused_commit);
	if (r)
		return r;
	ic->wrote_to_journal = true;
	ic->unflushed_sections += n;
	ic->jsec += n;
	if (ic->jsec >= ic->journal_sections) {
		ic->jsec = 0;
		ic->jseq = itg_next_seq(ic->jseq);
	}
	return 0;
}

static void itg_inplace_endio(unsigned long error, void *context)
{
	struct itg_c *ic = context;

	if (error)
		WRITE_ONCE(ic->jinplace_failed, true);
	if (atomic_dec_and_test(&ic->jinplace_pending))
		queue_work(ic->jinplace_wq, &ic->jinplace_work);
}

/*
 * Submit the blocks of the area in ic->jbuf_inplace to their places and
 * return; the last write to complete releases the area's journal ranges.
 * Each range is a run of consecutive blocks whose entries are consecutive
 * in the area, so its data goes down in as few writes as the interleaving
 * and the section boundaries allow.  Tags go to the metadata buffers.
 */
static void itg_journal_write_inplace(struct itg_c *ic)
{
	struct dm_io_request req = {
		.bi_opf = REQ_OP_WRITE,
		.mem.type = DM_IO_VMA,
		.notify.fn = itg_inplace_endio,
		.notify.context = ic,
		.client = ic->io,
	};
	struct dm_io_region where = { .bdev = ic->dev->bdev };
	unsigned int e = ic->journal_section_entries;
	unsigned int spb = ic->sectors_per_block;
	unsigned int i, entry = 0;
	int r = 0;

	atomic_set(&ic->jinplace_pending, 1);
	for (i = 0; i < ic->jnranges_inplace && !r; i++) {
		struct itg_range *jr = &ic->jranges_inplace[i];
		unsigned int n = jr->n_sectors >> ic->log2_spb;
		unsigned int run = 0, k;

		for (k = 0; k < n; k++) {
			sector_t sector = jr->sector + (sector_t)k * spb;
			u8 *je = itg_area_entry(ic, ic->jbuf_inplace, entry + k);

			if (jr->tags) {
				r = itg_tags_rw(ic, itg_tag_byte(ic, sector),
						itg_entry_tag(ic, je), ic->tag_size, true);
				if (r)
					break;
			}
			if (k + 1 < n && (entry + k + 1) % e &&
			    itg_data_sector(ic, sector + spb) ==
			    itg_data_sector(ic, sector) + spb)
				continue;
			/* Blocks run..k are contiguous on the disk and in memory. */
			req.mem.ptr.vma = itg_area_entry_data(ic, ic->jbuf_inplace,
							      entry + run);
			where.sector = itg_data_sector(ic, jr->sector + (sector_t)run * spb);
			where.count = (k + 1 - run) * spb;
			atomic_inc(&ic->jinplace_pending);
			r = dm_io(&req, 1, &where, NULL, IOPRIO_DEFAULT);
			if (r) {
				atomic_dec(&ic->jinplace_pending);
				break;
			}
			run = k + 1;
		}
		entry += n;
	}
	if (r)
		WRITE_ONCE(ic->jinplace_failed, true);
	if (atomic_dec_and_test(&ic->jinplace_pending))
		queue_work(ic->jinplace_wq, &ic->jinplace_work);
}

/* Exchange the commit buffer and its ranges with the in-place ones. */
static void itg_journal_swap_inplace(struct itg_c *ic)
{
	swap(ic->jbuf_commit, ic->jbuf_inplace);
	swap(ic->jused_commit, ic->jused_inplace);
	swap(ic->jranges_commit, ic->jranges_inplace);
	swap(ic->jnranges_commit, ic->jnranges_inplace);
}

/*
 * Commit the open area of generation @gen, if that is still the open one:
 * whoever takes commit_lock first commits every entry added so far.
 */
static int itg_journal_commit(struct itg_c *ic, u64 gen)
{
	struct itg_range *ranges;
	unsigned int dirty;
	int r = 0;
	u8 *buf;

	mutex_lock(&ic->commit_lock);
	if (ic->jopen_gen != gen)
		goto out;
	mutex_lock(&ic->journal_lock);
	/* The buffer of the last commit becomes the open one. */
	dirty = DIV_ROUND_UP(ic->jused_commit, ic->journal_section_entries);
	buf = ic->jbuf;
	ic->jbuf = ic->jbuf_commit;
	ic->jbuf_commit = buf;
	ranges = ic->jranges;
	ic->jranges = ic->jranges_commit;
	ic->jranges_commit = ranges;
	ic->jnranges_commit = ic->jnranges;
	ic->jused_commit = ic->jused;
	ic->jopen_sec += DIV_ROUND_UP(ic->jused, ic->journal_section_entries);
	if (ic->jopen_sec >= ic->journal_sections)
		ic->jopen_sec = 0;
	ic->jopen_gen++;
	itg_journal_begin(ic, dirty);
	mutex_unlock(&ic->journal_lock);
	wake_up_all(&ic->jopen_wait);
	/*
	 * Writers may still be filling entries they reserved; the next area
	 * (the other parity) counts its own.  Acquire: their entries are seen.
	 */
	wait_event(ic->jwriters_wait, !atomic_read_acquire(&ic->jwriters[gen & 1]));

	/* Every entry in use is in a range: none means an empty area. */
	if (ic->jnranges_commit) {
		r = itg_journal_write_sections(ic);
		if (r)
			itg_error(ic, "writing journal", r);
	}
	/*
	 * The last commit's writes in place must be over before its buffer
	 * is reused; this one's are only submitted.  On an error the device
	 * has failed (its reads fail from now on): the ranges go at once.
	 */
	itg_journal_inplace_wait(ic);
	itg_journal_swap_inplace(ic);
	ic->jinplace_busy = true;
	ic->jinplace_failed = false;
	if (ic->jnranges_inplace && !r)
		itg_journal_write_inplace(ic);
	else
		itg_journal_inplace_release(&ic->jinplace_work);
out:
	mutex_unlock(&ic->commit_lock);
	return READ_ONCE(ic->failed) ? -EIO : 0;
}

/* Commit whatever the open area holds (flush, timer, suspend). */
int itg_journal_commit_open(struct itg_c *ic)
{
	u64 gen;

	mutex_lock(&ic->journal_lock);
	gen = ic->jopen_gen;
	mutex_unlock(&ic->journal_lock);
	return itg_journal_commit(ic, gen);
}

/*
 * The open area filled up: commit it from the commit worker, so that the
 * writer that filled it goes on into the next area (on another CPU) while
 * the ring write and the writes in place of this one are under way.
 */
static void itg_journal_commit_full(struct work_struct *w)
{
	struct itg_c *ic = container_of(w, struct itg_c, jcommit_work);
	bool full;
	u64 gen;

	mutex_lock(&ic->journal_lock);
	full = ic->jused >= itg_journal_capacity(ic);
	gen = ic->jopen_gen;
	mutex_unlock(&ic->journal_lock);
	/* Not full: a flush, FUA write or the timer committed it already. */
	if (full)
		itg_journal_commit(ic, gen);
}

/*
 * Room for one more entry in the open area: a full one is handed to the
 * commit worker, and the writer waits only until the worker has opened the
 * next area.  Called and returns with journal_lock held.
 */
static int itg_journal_make_room(struct itg_c *ic)
{
	while (ic->jused >= itg_journal_capacity(ic)) {
		u64 gen = ic->jopen_gen;

		mutex_unlock(&ic->journal_lock);
		queue_work(ic->jcommit_wq, &ic->jcommit_work);
		wait_event(ic->jopen_wait, READ_ONCE(ic->jopen_gen) != gen);
		mutex_lock(&ic->journal_lock);
		if (READ_ONCE(ic->failed))
			return -EIO;
	}
	return 0;
}

/* @len bytes from the bio_vec array @vecs at @it, copied to @dst. */
static void itg_bvec_take(const struct bio_vec *vecs, struct bvec_iter *it,
			  u8 *dst, unsigned int len)
{
	while (len && it->bi_size) {
		struct bio_vec bv = bvec_iter_bvec(vecs, *it);
		unsigned int n = min(bv.bv_len, len);
		u8 *mem = bvec_kmap_local(&bv);

		memcpy(dst, mem, n);
		kunmap_local(mem);
		bvec_iter_advance(vecs, it, n);
		dst += n;
		len -= n;
	}
}

/*
 * Lock @n blocks from @sector, just given entries at the end of the open
 * area, by a journal range: the last one grows if it ends there.  The
 * bio's own range covers them until the bio completes, this one until they
 * are in place.
 */
static void itg_journal_lock_blocks(struct itg_c *ic, sector_t sector,
				    unsigned int n, bool tags)
{
	struct itg_range *jr = ic->jnranges ? &ic->jranges[ic->jnranges - 1] : NULL;

	spin_lock(&ic->range_lock);
	if (!jr || jr->sector + jr->n_sectors != sector || jr->tags != tags) {
		jr = &ic->jranges[ic->jnranges++];
		jr->sector = sector;
		jr->n_sectors = 0;
		jr->write = true;
		jr->locked = true;
		jr->journal = true;
		jr->tags = tags;
		list_add_tail(&jr->entry, &ic->ranges);
	}
	jr->n_sectors += n << ic->log2_spb;
	spin_unlock(&ic->range_lock);
}

/* A writer is done with the entries it reserved in area @gen. */
static void itg_journal_writer_done(struct itg_c *ic, u64 gen)
{
	if (atomic_dec_and_test(&ic->jwriters[gen & 1]))
		wake_up_all(&ic->jwriters_wait);
}

/*
 * Journal the blocks of a write bio.  Under journal_lock a run of entries
 * of the open area is reserved and locked; the data, sector tails and tags
 * are then filled in without the lock, so that writers hash in parallel,
 * and the commit of the area waits for them (jwriters).  The bio may
 * complete then, a FUA one once its last area is committed.
 */
int itg_journal_write_bio(struct itg_io *dio, struct bio *bio)
{
	struct itg_c *ic = dio->ic;
	struct bio_integrity_payload *bip = bio_integrity(bio);
	struct itg_hreq *hr = ic->hash.ahash ? itg_io_hreq(dio) : NULL;
	unsigned int bsize = ic->sectors_per_block << SECTOR_SHIFT;
	unsigned int left = dio->range.n_sectors >> ic->log2_spb;
	bool tags = itg_has_hash(ic) || bip;
	sector_t sector = dio->range.sector;
	struct bvec_iter data_it = bio->bi_iter;
	struct bvec_iter bip_it = {};
	u64 gen = 0;
	int r = 0;

	/* A failed device (e.g. a journal MAC mismatch) keeps its journal. */
	if (READ_ONCE(ic->failed))
		return -EIO;
	if (bip)
		bip_it = bip->bip_iter;
	while (left) {
		unsigned int first, n, k;
		u8 *area;

		mutex_lock(&ic->journal_lock);
		r = itg_journal_make_room(ic);
		if (r) {
			mutex_unlock(&ic->journal_lock);
			return r;
		}
		n = min(left, itg_journal_capacity(ic) - ic->jused);
		first = ic->jused;
		area = ic->jbuf;
		gen = ic->jopen_gen;
		atomic_inc(&ic->jwriters[gen & 1]);
		itg_journal_lock_blocks(ic, sector, n, tags);
		ic->jused += n;
		mutex_unlock(&ic->journal_lock);

		for (k = 0; k < n; k++) {
			u8 *je = itg_area_entry(ic, area, first + k);
			u8 *jd = itg_area_entry_data(ic, area, first + k);
			unsigned int s;

			itg_bvec_take(bio->bi_io_vec, &data_it, jd, bsize);
			for (s = 0; s < ic->sectors_per_block; s++)
				memcpy(je + 8 + 8 * s,
				       jd + (s << SECTOR_SHIFT) + ITG_JOURNAL_SECTOR_DATA, 8);
			/* From the journal's copy: the tag is of what goes in place. */
			if (itg_has_hash(ic))
				itg_tag_buf(ic, hr, sector, jd, itg_entry_tag(ic, je));
			else if (bip)
				itg_bvec_take(bip->bip_vec, &bip_it,
					      itg_entry_tag(ic, je), ic->tag_size);
			put_unaligned_le64(sector, je);
			sector += ic->sectors_per_block;
		}
		itg_journal_writer_done(ic, gen);
		left -= n;
	}
	if (dio->fua)
		r = itg_journal_commit(ic, gen);
	return r;
}

/* Suspend: everything in place, then a clean journal that keeps the ring. */
void itg_journal_suspend(struct itg_c *ic)
{
	int r = 0;

	flush_work(&ic->jcommit_work);
	itg_journal_commit_open(ic);
	mutex_lock(&ic->commit_lock);
	itg_journal_inplace_wait(ic);
	itg_journal_flush_inplace(ic);
	if (ic->wrote_to_journal) {
		r = itg_journal_clear(ic, ic->jsec, ic->journal_sections - ic->jsec,
				      ic->jseq);
		if (!r && ic->jsec)
			r = itg_journal_clear(ic, 0, ic->jsec, itg_next_seq(ic->jseq));
		if (r)
			itg_error(ic, "writing journal", r);
		ic->wrote_to_journal = false;
	}
	ic->journal_uptodate = true;
	mutex_unlock(&ic->commit_lock);
}

static int itg_find_seq(struct itg_c *ic, unsigned int section,
			unsigned int sector, __le64 id)
{
	int k;

	for (k = 0; k < ITG_N_COMMIT_IDS; k++)
		if (itg_commit_id(ic, section, sector, k) == id)
			return k;
	return -1;
}

static __le64 itg_sector_id(struct itg_c *ic, u8 *journal, unsigned int i,
			    unsigned int j)
{
	u8 *p = journal + (((size_t)i * ic->journal_section_sectors + j) << SECTOR_SHIFT);

	return *(__le64 *)(p + ITG_JOURNAL_SECTOR_DATA);
}

/* Write the committed entries of @n sections from @first in place. */
static void itg_journal_apply(struct itg_c *ic, u8 *journal, unsigned int first,
			      unsigned int n)
{
	struct dm_io_request req = {
		.bi_opf = REQ_OP_WRITE,
		.mem.type = DM_IO_VMA,
		.client = ic->io,
	};
	struct dm_io_region where = {
		.bdev = ic->dev->bdev,
		.count = ic->sectors_per_block,
	};
	u8 tag[ITG_MAX_TAG_SIZE + 1];
	unsigned int c, i, e, s;
	int r;

	for (c = 0, i = first; c < n; c++, i = (i + 1) % ic->journal_sections) {
		u8 *sec_buf = journal + (((size_t)i * ic->journal_section_sectors) << SECTOR_SHIFT);

		for (e = 0; e < ic->journal_section_entries; e++) {
			u8 *je = itg_entry(ic, sec_buf, e);
			u8 *jd = itg_entry_data(ic, sec_buf, e);
			u64 sector;

			if (itg_entry_unused(je))
				continue;
			sector = get_unaligned_le64(je);
			if (sector & (ic->sectors_per_block - 1)) {
				itg_error(ic, "invalid sector in journal", -EIO);
				sector &= ~(u64)(ic->sectors_per_block - 1);
			}
			if (sector >= ic->provided_data_sectors)
				continue;
			for (s = 0; s < ic->sectors_per_block; s++)
				memcpy(jd + (s << SECTOR_SHIFT) + ITG_JOURNAL_SECTOR_DATA,
				       je + 8 + 8 * s, 8);
			if (itg_has_hash(ic)) {
				itg_tag_buf(ic, ic->replay_hr, sector, jd, tag);
				if (crypto_memneq(tag, itg_entry_tag(ic, je), ic->tag_size)) {
					atomic64_inc(&ic->mismatches);
					itg_error(ic, "tag mismatch when replaying journal",
						  -EILSEQ);
				}
			}
			r = itg_tags_rw(ic, itg_tag_byte(ic, sector),
					itg_entry_tag(ic, je), ic->tag_size, true);
			if (r)
				itg_error(ic, "writing tags", r);
			req.mem.ptr.vma = jd;
			where.sector = itg_data_sector(ic, sector);
			r = dm_io(&req, 1, &where, NULL, IOPRIO_DEFAULT);
			if (r)
				itg_error(ic, "copying from journal", r);
		}
	}
	itg_flush_devices(ic);
}

/*
 * Replay a journal left by an unclean stop (by either implementation):
 * find the oldest consistent point of the ring from the commit ids, write
 * every committed entry from there in place, and pick up the ring where
 * it is (J mode) or start over with a cleared journal.
 */
void itg_journal_replay(struct itg_c *ic)
{
	unsigned int nsec = ic->journal_sections, nss = ic->journal_section_sectors;
	bool used[ITG_N_COMMIT_IDS] = {};
	unsigned int last_sec[ITG_N_COMMIT_IDS] = {};
	unsigned int i, j, e, start = 0, good;
	u8 unused, last_used = 0, seq, erase;
	bool empty = true, mac_ok;
	u8 *journal;
	int r;

	if (ic->journal_uptodate)
		return;
	journal = vmalloc(((size_t)nsec * nss) << SECTOR_SHIFT);
	if (!journal) {
		itg_error(ic, "allocating journal", -ENOMEM);
		return;
	}
	r = itg_journal_io(ic, REQ_OP_READ, 0, nsec, journal);
	if (r) {
		itg_error(ic, "reading journal", r);
		goto clear;
	}
	if (itg_journal_unseal(ic, journal, 0, nsec))
		goto clear;

	for (i = 0; i < nsec; i++) {
		u8 *sec_buf = journal + (((size_t)i * nss) << SECTOR_SHIFT);

		for (j = 0; j < nss; j++) {
			int k = itg_find_seq(ic, i, j, itg_sector_id(ic, journal, i, j));

			if (k < 0) {
				itg_error(ic, "journal commit id", -EIO);
				goto clear;
			}
			used[k] = true;
			last_sec[k] = i;
		}
		for (e = 0; empty && e < ic->journal_section_entries; e++)
			if (!itg_entry_unused(itg_entry(ic, sec_buf, e)))
				empty = false;
	}

	if (!used[ITG_N_COMMIT_IDS - 1]) {
		unused = ITG_N_COMMIT_IDS - 1;
		while (unused && !used[unused - 1])
			unused--;
	} else {
		for (unused = 0; unused < ITG_N_COMMIT_IDS; unused++)
			if (!used[unused])
				break;
		if (unused == ITG_N_COMMIT_IDS) {
			itg_error(ic, "journal commit ids", -EIO);
			goto clear;
		}
	}
	last_used = itg_prev_seq(unused);
	seq = itg_prev_seq(last_used);
	if (!used[seq] && used[itg_prev_seq(seq)])
		empty = true;

	start = last_sec[last_used] + 1;
	if (start >= nsec) {
		seq = itg_next_seq(seq);
		start -= nsec;
	}
	i = start;
	for (good = 0; good < nsec; good++) {
		for (j = 0; j < nss; j++)
			if (itg_sector_id(ic, journal, i, j) != itg_commit_id(ic, i, j, seq))
				goto torn;
		if (++i >= nsec) {
			seq = itg_next_seq(seq);
			i = 0;
		}
	}
torn:
	if (!empty) {
		/*
		 * A section whose MAC does not verify is not ours to trust:
		 * nothing is replayed and the device fails, the journal being
		 * kept as it is.
		 */
		for (i = start, j = 0, mac_ok = true; j < good; j++) {
			u8 *sec_buf = journal + (((size_t)i * nss) << SECTOR_SHIFT);

			mac_ok &= itg_journal_mac_ok(ic, sec_buf, i);
			if (++i >= nsec)
				i = 0;
		}
		if (!mac_ok) {
			DMERR("journal mac mismatch: not replaying the journal");
			goto out;
		}
		DMINFO("replaying %u journal sections from %u", good, start);
		itg_journal_apply(ic, journal, start, good);
	}
	if (good == nsec && (ic->mode == 'J' || empty)) {
		ic->jsec = start;
		ic->jopen_sec = start;
		ic->jseq = seq;
		goto out;
	}
clear:
	erase = itg_prev_seq(itg_prev_seq(last_used));
	/* A failed device keeps its journal, as the in-kernel target's does. */
	r = READ_ONCE(ic->failed) ? 0 : itg_journal_clear(ic, 0, nsec, erase);
	if (r)
		itg_error(ic, "clearing journal", r);
	ic->jsec = 0;
	ic->jopen_sec = 0;
	ic->jseq = itg_next_seq(erase);
out:
	ic->unflushed_sections = 0;
	ic->journal_uptodate = true;
	vfree(journal);
}

/* Write an empty journal (commit sequence 0) over the whole journal area. */
int itg_journal_init_disk(struct itg_c *ic)
{
	size_t len = (size_t)ic->journal_section_sectors << SECTOR_SHIFT;
	struct dm_io_request req = {
		.bi_opf = REQ_OP_WRITE,
		.mem.type = DM_IO_VMA,
		.client = ic->io,
	};
	struct dm_io_region where = {
		.bdev = itg_meta_bdev(ic),
		.count = ic->journal_section_sectors,
	};
	unsigned int i;
	u8 *buf;
	int r = 0;

	buf = vmalloc(len);
	if (!buf)
		return -ENOMEM;
	req.mem.ptr.vma = buf;
	for (i = 0; i < ic->journal_sections; i++) {
		itg_journal_empty_section(ic, buf, i, 0);
		r = itg_journal_seal(ic, buf, i, 1);
		if (r)
			break;
		where.sector = ic->start + ITG_SB_SECTORS +
			       (sector_t)i * ic->journal_section_sectors;
		r = dm_io(&req, 1, &where, NULL, IOPRIO_DEFAULT);
		if (r)
			break;
	}
	vfree(buf);
	return r;
}
