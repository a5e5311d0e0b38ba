// SPDX-License-Identifier: GPL-2.0
/*
 * dm-filter splitter: a bio to a whole disk that crosses the edge of a
 * filtered partition.
 *
 * A partition's filters must see every write that lands in the partition,
 * also one made through the whole disk; such a bio is shown to them in
 * the partition's numbers.  A bio that lies partly inside and partly
 * outside a filtered partition is cut at the partition's edges first.
 * Cutting allocates, which the hook (maybe atomic, maybe under memory
 * pressure) must not do, so these bios, rare outside tools that
 * write the whole disk, go to a WQ_MEM_RECLAIM worker that cuts them with
 * GFP_NOIO from a bio_set of its own (a mempool: no deadlock when memory
 * is short) and runs each piece through the filters.
 *
 * The pieces end in dmf_piece_end().  Each holds a reference on the
 * module, so rmmod is refused (EBUSY) while one is in flight rather than
 * waiting in module exit for a device that may never complete it.
 */
#include <linux/bio.h>
#include <linux/module.h>
#include <linux/workqueue.h>
#include <linux/atomic.h>
#include <linux/delay.h>
#include "dmf-internal.h"

static struct bio_set dmf_split_set;
static struct workqueue_struct *dmf_split_wq;
static DEFINE_SPINLOCK(dmf_split_lock);
static struct bio_list dmf_split_bios = BIO_EMPTY_LIST;
/* Pieces made and not yet ended. */
static atomic_t dmf_pieces_inflight = ATOMIC_INIT(0);

static void dmf_split_fn(struct work_struct *work);
static DECLARE_WORK(dmf_split_work, dmf_split_fn);

/* Any context: the bio is cut and filtered in the worker. */
void dmf_split_queue(struct bio *bio)
{
	unsigned long flags;

	/*
	 * A polled bio's submitter polls the bio it submitted, which is not
	 * the piece that reaches a queue: complete by interrupt instead.  A
	 * NOWAIT piece could fail with EAGAIN after another was written, and
	 * the submitter is not waiting here anyway.
	 */
	bio_clear_polled(bio);
	bio->bi_opf &= ~REQ_NOWAIT;
	spin_lock_irqsave(&dmf_split_lock, flags);
	bio_list_add(&dmf_split_bios, bio);
	spin_unlock_irqrestore(&dmf_split_lock, flags);
	queue_work(dmf_split_wq, &dmf_split_work);
}

/* As bio_chain()'s end_io, but in this module, so unload can wait for it. */
static void dmf_piece_end(struct bio *piece)
{
	struct bio *parent = piece->bi_private;

	if (piece->bi_status && !parent->bi_status)
		parent->bi_status = piece->bi_status;
	bio_put(piece);
	bio_endio(parent);
	atomic_dec(&dmf_pieces_inflight);
	/* The rest of this function is covered by the RCU waits in exit. */
	module_put(THIS_MODULE);
}

/* A piece (or the last part of a bio) through the filters, then on. */
static void dmf_split_submit(struct bio *bio)
{
	if (dmf_handle_bio(bio))
		dmf_hook_pass(bio);
}

static void dmf_split_one(struct bio *bio)
{
	unsigned int sectors;
	struct bio *piece;

	for (;;) {
		sectors = dmf_first_piece(bio);
		if (sectors >= bio_sectors(bio))
			break;
		/*
		 * An atomic write or a zone append must not be cut (the block
		 * layer refuses to split them too; zoned disks have no
		 * partitions): fail it rather than let it past the filters.
		 * The mempool makes bio_split() wait rather than fail (it
		 * returns NULL or, from 6.14, an ERR_PTR when it refuses).
		 */
		piece = NULL;
		if (bio_op(bio) != REQ_OP_ZONE_APPEND &&
		    !(bio->bi_opf & DMX_REQ_ATOMIC))
			piece = bio_split(bio, sectors, GFP_NOIO,
					  &dmf_split_set);
		if (IS_ERR_OR_NULL(piece)) {
			pr_err_ratelimited(DMF_PREFIX "cannot cut a bio across a filtered partition's edge: failed\n");
			bio->bi_status = BLK_STS_NOTSUPP;
			bio_endio(bio);
			return;
		}
		__module_get(THIS_MODULE);
		atomic_inc(&dmf_pieces_inflight);
		bio_inc_remaining(bio);
		piece->bi_private = bio;
		piece->bi_end_io = dmf_piece_end;
		dmf_split_submit(piece);
	}
	dmf_split_submit(bio);
}

static void dmf_split_fn(struct work_struct *work)
{
	struct bio_list bios;
	struct bio *bio;

	spin_lock_irq(&dmf_split_lock);
	bios = dmf_split_bios;
	bio_list_init(&dmf_split_bios);
	spin_unlock_irq(&dmf_split_lock);
	while ((bio = bio_list_pop(&bios)))
		dmf_split_one(bio);
}

int dmf_split_init(void)
{
	int r = bioset_init(&dmf_split_set, BIO_POOL_SIZE, 0, 0);

	if (r)
		return r;
	dmf_split_wq = alloc_workqueue("dmf_split", WQ_MEM_RECLAIM, 0);
	if (!dmf_split_wq) {
		bioset_exit(&dmf_split_set);
		return -ENOMEM;
	}
	return 0;
}

/*
 * Module exit: nothing is attached, so no new bio is queued, and no piece
 * is in flight (each holds a module reference); only a forced unload can
 * find one, and then waits for it.
 */
void dmf_split_exit(void)
{
	flush_work(&dmf_split_work);
	while (atomic_read(&dmf_pieces_inflight))
		usleep_range(1000, 2000);
	/*
	 * The last dmf_piece_end() may still be returning: it runs in
	 * interrupts and in tasks, wait for both.
	 */
	synchronize_rcu();
	synchronize_rcu_tasks();
	destroy_workqueue(dmf_split_wq);
	bioset_exit(&dmf_split_set);
}
