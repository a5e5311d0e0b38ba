// SPDX-License-Identifier: GPL-2.0
/*
 * dm-striped-inline: the striped layout, passing inline encryption through.
 *
 * Same table and on-disk layout as the in-kernel "striped" target:
 *
 *	<number of stripes> <chunk size> [<device> <offset>]{number of stripes}
 *
 * Chunks of <chunk size> 512-byte sectors go round-robin to the devices.
 * The target never transforms data, so it declares DM_TARGET_PASSES_CRYPTO:
 * device-mapper then exposes the inline encryption capabilities common to
 * every device of the table, and bios keep their encryption context on their
 * way down.  A bio carrying a context must reach each device in whole data
 * units, so the chunk size has to be a multiple of every data unit size the
 * devices offer: the constructor refuses any other.
 *
 * See Documentation/dm-crypt-inline.rst.
 */
#include <linux/bio.h>
#include <linux/blk-crypto.h>
#include <linux/device-mapper.h>
#include <linux/module.h>
#include <linux/overflow.h>
#include <linux/slab.h>
#include <linux/workqueue.h>

#include <compat.h>
#include <keyslot_passthrough.h>

#define DM_MSG_PREFIX "striped-inline"

/* Errors on a device after which no more events are raised for it. */
#define STI_ERROR_EVENTS 15

struct sti_stripe {
	struct dm_dev *dev;
	sector_t start;		/* offset on @dev, in sectors */
	atomic_t errors;
};

struct sti_c {
	struct dm_target *ti;
	u32 nr_stripes;
	u32 chunk_sectors;
	sector_t width;		/* sectors of the target on each device */
	unsigned int max_du_bytes;	/* largest data unit of the devices */
	struct work_struct event_work;
	struct sti_stripe stripe[] __counted_by(nr_stripes);
};

static struct workqueue_struct *sti_wq;

static void sti_event(struct work_struct *work)
{
	struct sti_c *sc = container_of(work, struct sti_c, event_work);

	dm_table_event(sc->ti->table);
}

/*
 * Where a sector of the target lives: the chunk holding it goes to device
 * (chunk % stripes), in row (chunk / stripes) of that device.
 */
static void sti_locate(struct sti_c *sc, sector_t sector, u32 *stripe,
		       sector_t *dev_sector)
{
	sector_t chunk = dm_target_offset(sc->ti, sector);
	u32 in_chunk, which;

	in_chunk = sector_div(chunk, sc->chunk_sectors);
	which = sector_div(chunk, sc->nr_stripes);	/* chunk is now the row */
	*stripe = which;
	*dev_sector = chunk * sc->chunk_sectors + in_chunk;
}

/*
 * The first sector of device @stripe's share of the target at or after
 * target sector @sector (so also the end of its share of a range ending at
 * @sector).
 */
static sector_t sti_stripe_bound(struct sti_c *sc, sector_t sector,
				 u32 stripe)
{
	sector_t dev_sector, row;
	u32 which;

	sti_locate(sc, sector, &which, &dev_sector);
	if (which == stripe)
		return dev_sector;
	/* Start of the row, then skip this row's chunk if it is behind us. */
	row = dev_sector;
	dev_sector -= sector_div(row, sc->chunk_sectors);
	return which > stripe ? dev_sector + sc->chunk_sectors : dev_sector;
}

/* The largest data unit size in any mode of a capability set, in bytes. */
static unsigned int sti_max_data_unit(const struct blk_crypto_profile *caps)
{
	unsigned int i, max = 0;

	if (!caps)
		return 0;
	for (i = 0; i < ARRAY_SIZE(caps->modes_supported); i++)
		if (caps->modes_supported[i])
			max = max(max, 1U << __fls(caps->modes_supported[i]));
	return max;
}

/*
 * The inline encryption capabilities the table will expose for this target
 * are the intersection of its devices' (device-mapper computes it again,
 * over the whole table); its largest data unit must fit the chunk.
 */
static int sti_check_data_units(struct sti_c *sc)
{
	struct ksp_devset *set;
	unsigned int i;
	int r = 0;

	set = ksp_devset_alloc(sc->nr_stripes, GFP_KERNEL);
	if (!set)
		return -ENOMEM;
	for (i = 0; i < sc->nr_stripes && !r; i++)
		r = ksp_devset_add(set, sc->stripe[i].dev->bdev);
	if (!r) {
		sc->max_du_bytes = sti_max_data_unit(ksp_devset_caps(set));
		if (sc->max_du_bytes &&
		    ((u64)sc->chunk_sectors << SECTOR_SHIFT) % sc->max_du_bytes)
			r = -EINVAL;
	}
	ksp_devset_free(set);
	return r;
}

static int sti_get_stripe(struct dm_target *ti, struct sti_c *sc,
			  unsigned int i, char **argv)
{
	unsigned long long start;
	int r;

	/* Decimal sectors only: no sign, no base prefix. */
	if (kstrtoull(argv[1], 10, &start) || start != (sector_t)start) {
		ti->error = "Invalid stripe device offset";
		return -EINVAL;
	}
	r = dm_get_device(ti, argv[0], dm_table_get_mode(ti->table),
			  &sc->stripe[i].dev);
	if (r) {
		ti->error = "Stripe device lookup failed";
		return r;
	}
	sc->stripe[i].start = start;
	atomic_set(&sc->stripe[i].errors, 0);
	return 0;
}

static void sti_dtr(struct dm_target *ti)
{
	struct sti_c *sc = ti->private;
	unsigned int i;

	if (!sc)
		return;
	for (i = 0; i < sc->nr_stripes; i++)
		if (sc->stripe[i].dev)
			dm_put_device(ti, sc->stripe[i].dev);
	flush_work(&sc->event_work);
	kfree(sc);
	ti->private = NULL;
}

/*
 * <number of stripes> <chunk size> [<device> <offset>]+
 */
static int sti_ctr(struct dm_target *ti, unsigned int argc, char **argv)
{
	unsigned int stripes, chunk, i;
	sector_t width, rows;
	struct sti_c *sc;
	int r;

	if (argc < 2) {
		ti->error = "Not enough arguments: need <stripes> <chunk size>";
		return -EINVAL;
	}
	if (kstrtouint(argv[0], 10, &stripes) || !stripes) {
		ti->error = "Invalid stripe count";
		return -EINVAL;
	}
	if (kstrtouint(argv[1], 10, &chunk) || !chunk) {
		ti->error = "Invalid chunk size";
		return -EINVAL;
	}
	if (argc - 2 != 2ULL * stripes) {
		ti->error = "Need a <device> <offset> pair per stripe";
		return -EINVAL;
	}
	width = ti->len;
	if (sector_div(width, stripes)) {
		ti->error = "Target length not divisible by number of stripes";
		return -EINVAL;
	}
	rows = width;
	if (sector_div(rows, chunk)) {
		ti->error = "Target length not divisible by chunk size";
		return -EINVAL;
	}

	sc = kzalloc(struct_size(sc, stripe, stripes), GFP_KERNEL);
	if (!sc) {
		ti->error = "Cannot allocate striped-inline context";
		return -ENOMEM;
	}
	sc->nr_stripes = stripes;
	sc->ti = ti;
	sc->chunk_sectors = chunk;
	sc->width = width;
	INIT_WORK(&sc->event_work, sti_event);
	ti->private = sc;

	for (i = 0; i < stripes; i++) {
		r = sti_get_stripe(ti, sc, i, argv + 2 + 2 * i);
		if (r)
			goto bad;
	}

	r = sti_check_data_units(sc);
	if (r) {
		ti->error = r == -EINVAL ?
			"Chunk size not a multiple of the devices' data unit sizes" :
			"Cannot compute the devices' crypto capabilities";
		goto bad;
	}

	r = dm_set_target_max_io_len(ti, chunk);
	if (r) {
		ti->error = "Cannot set the maximum I/O size to the chunk size";
		goto bad;
	}
	ti->num_flush_bios = stripes;
	ti->num_discard_bios = stripes;
	ti->num_secure_erase_bios = stripes;
	ti->num_write_zeroes_bios = stripes;
	return 0;

bad:
	sti_dtr(ti);
	return r;
}

/*
 * Device-mapper splits bios at chunk boundaries, which the constructor made
 * data unit boundaries; a bio whose data units do not start on one (or a
 * piece of one that a split cut inside a data unit) cannot be encrypted by
 * the device below.  The block layer would refuse it there too; refuse it
 * here, with the reason.
 */
static bool sti_crypt_fits(struct dm_target *ti, struct bio *bio)
{
	unsigned int du_sectors;

	if (!bio_has_crypt_ctx(bio))
		return true;
	du_sectors = bio->bi_crypt_context->bc_key->crypto_cfg.data_unit_size >>
		     SECTOR_SHIFT;
	if (likely(!(bio_sectors(bio) & (du_sectors - 1))))
		return true;
	DMERR_LIMIT("%s: encrypted bio (%u sectors at %llu) splits a %u-byte data unit",
		    dm_table_device_name(ti->table), bio_sectors(bio),
		    (unsigned long long)bio->bi_iter.bi_sector,
		    du_sectors << SECTOR_SHIFT);
	return false;
}

/* Discards and the like go to every device, each its share of the range. */
static int sti_map_range(struct sti_c *sc, struct bio *bio, u32 stripe)
{
	sector_t begin, end;

	begin = sti_stripe_bound(sc, bio->bi_iter.bi_sector, stripe);
	end = sti_stripe_bound(sc, bio_end_sector(bio), stripe);
	if (begin >= end) {
		bio_endio(bio);
		return DM_MAPIO_SUBMITTED;
	}
	bio_set_dev(bio, sc->stripe[stripe].dev->bdev);
	bio->bi_iter.bi_sector = sc->stripe[stripe].start + begin;
	bio->bi_iter.bi_size = to_bytes(end - begin);
	return DM_MAPIO_REMAPPED;
}

static int sti_map(struct dm_target *ti, struct bio *bio)
{
	struct sti_c *sc = ti->private;
	sector_t dev_sector;
	u32 stripe;

	if (bio->bi_opf & REQ_PREFLUSH) {
		stripe = dm_bio_get_target_bio_nr(bio);
		if (WARN_ON_ONCE(stripe >= sc->nr_stripes))
			return DM_MAPIO_KILL;
		bio_set_dev(bio, sc->stripe[stripe].dev->bdev);
		return DM_MAPIO_REMAPPED;
	}
	switch (bio_op(bio)) {
	case REQ_OP_DISCARD:
	case REQ_OP_SECURE_ERASE:
	case REQ_OP_WRITE_ZEROES:
		stripe = dm_bio_get_target_bio_nr(bio);
		if (WARN_ON_ONCE(stripe >= sc->nr_stripes))
			return DM_MAPIO_KILL;
		return sti_map_range(sc, bio, stripe);
	default:
		break;
	}

	if (unlikely(!sti_crypt_fits(ti, bio)))
		return DM_MAPIO_KILL;
	sti_locate(sc, bio->bi_iter.bi_sector, &stripe, &dev_sector);
	bio_set_dev(bio, sc->stripe[stripe].dev->bdev);
	bio->bi_iter.bi_sector = sc->stripe[stripe].start + dev_sector;
	return DM_MAPIO_REMAPPED;
}

/* Count errors per device and raise a table event for the first ones. */
static int sti_end_io(struct dm_target *ti, struct bio *bio,
		      blk_status_t *error)
{
	struct sti_c *sc = ti->private;
	dev_t dev = bio_dev(bio);
	unsigned int i;

	if (!*error || *error == BLK_STS_NOTSUPP || (bio->bi_opf & REQ_RAHEAD))
		return DM_ENDIO_DONE;
	for (i = 0; i < sc->nr_stripes; i++) {
		if (sc->stripe[i].dev->bdev->bd_dev != dev)
			continue;
		if (atomic_inc_return(&sc->stripe[i].errors) < STI_ERROR_EVENTS)
			queue_work(sti_wq, &sc->event_work);
	}
	return DM_ENDIO_DONE;
}

static char sti_health(struct sti_stripe *s)
{
	return atomic_read(&s->errors) ? 'D' : 'A';
}

/*
 * INFO:  <stripes> <device>... 1 <A|D per device>
 * TABLE: <stripes> <chunk size> [<device> <offset>]...
 */
static void sti_status(struct dm_target *ti, status_type_t type,
		       unsigned int status_flags, char *result,
		       unsigned int maxlen)
{
	struct sti_c *sc = ti->private;
	unsigned int sz = 0, i;

	switch (type) {
	case STATUSTYPE_INFO:
		DMEMIT("%u ", sc->nr_stripes);
		for (i = 0; i < sc->nr_stripes; i++)
			DMEMIT("%s ", sc->stripe[i].dev->name);
		DMEMIT("1 ");
		for (i = 0; i < sc->nr_stripes; i++)
			DMEMIT("%c", sti_health(&sc->stripe[i]));
		break;
	case STATUSTYPE_TABLE:
		DMEMIT("%u %u", sc->nr_stripes, sc->chunk_sectors);
		for (i = 0; i < sc->nr_stripes; i++)
			DMEMIT(" %s %llu", sc->stripe[i].dev->name,
			       (unsigned long long)sc->stripe[i].start);
		break;
	case STATUSTYPE_IMA:
		DMEMIT_TARGET_NAME_VERSION(ti->type);
		DMEMIT(",stripes=%u,chunk_size=%u", sc->nr_stripes,
		       sc->chunk_sectors);
		for (i = 0; i < sc->nr_stripes; i++) {
			DMEMIT(",stripe_%u_device_name=%s", i,
			       sc->stripe[i].dev->name);
			DMEMIT(",stripe_%u_physical_start=%llu", i,
			       (unsigned long long)sc->stripe[i].start);
			DMEMIT(",stripe_%u_status=%c", i,
			       sti_health(&sc->stripe[i]));
		}
		DMEMIT(";");
		break;
	}
}

/*
 * Also how device-mapper intersects the devices' inline encryption
 * capabilities and evicts keys from them: every device must be visited.
 */
static int sti_iterate_devices(struct dm_target *ti,
			       iterate_devices_callout_fn fn, void *data)
{
	struct sti_c *sc = ti->private;
	unsigned int i;
	int r = 0;

	for (i = 0; i < sc->nr_stripes && !r; i++)
		r = fn(ti, sc->stripe[i].dev, sc->stripe[i].start, sc->width,
		       data);
	return r;
}

static void sti_io_hints(struct dm_target *ti, struct queue_limits *limits)
{
	struct sti_c *sc = ti->private;
	unsigned int io_min, io_opt;

	limits->chunk_sectors = sc->chunk_sectors;
	if (!check_shl_overflow(sc->chunk_sectors, SECTOR_SHIFT, &io_min) &&
	    !check_mul_overflow(io_min, sc->nr_stripes, &io_opt)) {
		limits->io_min = io_min;
		limits->io_opt = io_opt;
	}
}

static struct target_type striped_inline_target = {
	.name = "striped-inline",
	.version = {1, 0, 0},
	.features = DM_TARGET_PASSES_CRYPTO | DM_TARGET_NOWAIT,
	.module = THIS_MODULE,
	.ctr = sti_ctr,
	.dtr = sti_dtr,
	.map = sti_map,
	.end_io = sti_end_io,
	.status = sti_status,
	.iterate_devices = sti_iterate_devices,
	.io_hints = sti_io_hints,
};

static int __init sti_init(void)
{
	int r;

	sti_wq = alloc_workqueue("dm_striped_inline", 0, 0);
	if (!sti_wq)
		return -ENOMEM;
	r = dm_register_target(&striped_inline_target);
	if (r)
		destroy_workqueue(sti_wq);
	return r;
}

static void __exit sti_exit(void)
{
	dm_unregister_target(&striped_inline_target);
	destroy_workqueue(sti_wq);
}

module_init(sti_init);
module_exit(sti_exit);

MODULE_DESCRIPTION(DM_NAME " striped target passing inline encryption through");
MODULE_LICENSE("GPL");
