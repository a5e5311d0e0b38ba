// SPDX-License-Identifier: GPL-2.0
/*
 * dm-integrity (out of tree): the target -- table parsing, superblock
 * set-up, status, limits, suspend/resume and module registration.
 *
 * Table: <dev> <start> <tag_size|-> <mode> <#opt_args> [opt_args...]
 */
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/kernel.h>

#include "dm-integrity.h"

#define ITG_VERSION_MAJOR	1
#define ITG_VERSION_MINOR	14
#define ITG_VERSION_PATCH	0

void itg_error(struct itg_c *ic, const char *what, int err)
{
	if (!cmpxchg(&ic->failed, 0, err))
		DMERR("Error on %s: %d", what, err);
}

static void itg_set_error(struct dm_target *ti, char *msg)
{
	ti->error = msg;
}

static void itg_free_alg(struct itg_alg *a)
{
	kfree_sensitive(a->name);
	kfree_sensitive(a->key);
	memset(a, 0, sizeof(*a));
}

/* "<option>:<alg>[:<hexkey>]" */
static int itg_parse_alg(const char *arg, struct itg_alg *a, char **error,
			 char *bad)
{
	char *k;

	itg_free_alg(a);
	a->name = kstrdup(strchr(arg, ':') + 1, GFP_KERNEL);
	if (!a->name)
		goto nomem;
	k = strchr(a->name, ':');
	if (!k)
		return 0;
	*k = 0;
	a->key_hex = k + 1;
	if (strlen(a->key_hex) & 1)
		goto inval;
	a->key_size = strlen(a->key_hex) / 2;
	a->key = kmalloc(a->key_size, GFP_KERNEL);
	if (!a->key)
		goto nomem;
	if (hex2bin(a->key, a->key_hex, a->key_size))
		goto inval;
	return 0;
inval:
	*error = bad;
	return -EINVAL;
nomem:
	*error = "Out of memory for an argument";
	return -ENOMEM;
}

struct itg_args {
	unsigned int journal_sectors;
	unsigned int interleave_sectors;
	unsigned int buffer_sectors;
	int log2_sectors_per_bit;
};

static int itg_parse_opts(struct itg_c *ic, struct dm_arg_set *as,
			  struct itg_args *ia)
{
	static const struct dm_arg _args[] = {
		{0, ITG_MAX_OPT_ARGS, "Invalid number of feature args"},
	};
	struct dm_target *ti = ic->ti;
	unsigned int n;
	int r;

	r = dm_read_arg_group(_args, as, &n, &ti->error);
	if (r)
		return r;

	while (n--) {
		const char *opt = dm_shift_arg(as);
		unsigned long long llval;
		unsigned int val;
		char dummy;

		if (!opt) {
			ti->error = "Not enough feature arguments";
			return -EINVAL;
		}
		if (sscanf(opt, "journal_sectors:%u%c", &val, &dummy) == 1) {
			ia->journal_sectors = val ? val : 1;
		} else if (sscanf(opt, "interleave_sectors:%u%c", &val, &dummy) == 1) {
			ia->interleave_sectors = val;
		} else if (sscanf(opt, "buffer_sectors:%u%c", &val, &dummy) == 1) {
			ia->buffer_sectors = val;
		} else if (sscanf(opt, "journal_watermark:%u%c", &val, &dummy) == 1 &&
			   val <= 100) {
			ic->journal_watermark = val;
		} else if (sscanf(opt, "commit_time:%u%c", &val, &dummy) == 1) {
			ic->commit_msec = val;
		} else if (!strncmp(opt, "meta_device:", strlen("meta_device:"))) {
			if (ic->meta_dev) {
				dm_put_device(ti, ic->meta_dev);
				ic->meta_dev = NULL;
			}
			r = dm_get_device(ti, strchr(opt, ':') + 1,
					  dm_table_get_mode(ti->table), &ic->meta_dev);
			if (r) {
				ti->error = "Device lookup failed";
				return r;
			}
		} else if (sscanf(opt, "block_size:%u%c", &val, &dummy) == 1) {
			if (val < SECTOR_SIZE ||
			    val > ITG_MAX_SECTORS_PER_BLOCK * SECTOR_SIZE ||
			    (val & (val - 1))) {
				ti->error = "Invalid block_size argument";
				return -EINVAL;
			}
			ic->sectors_per_block = val >> SECTOR_SHIFT;
		} else if (sscanf(opt, "sectors_per_bit:%llu%c", &llval, &dummy) == 1) {
			ia->log2_sectors_per_bit = llval ? __ilog2_u64(llval) : 0;
		} else if (sscanf(opt, "bitmap_flush_interval:%u%c", &val, &dummy) == 1) {
			if ((u64)val >= (u64)UINT_MAX * 1000 / HZ) {
				ti->error = "Invalid bitmap_flush_interval argument";
				return -EINVAL;
			}
			ic->bitmap_flush_msec = val;
		} else if (!strncmp(opt, "internal_hash:", strlen("internal_hash:"))) {
			r = itg_parse_alg(opt, &ic->hash_alg, &ti->error,
					  "Invalid internal_hash argument");
			if (r)
				return r;
		} else if (!strncmp(opt, "journal_crypt:", strlen("journal_crypt:"))) {
			r = itg_parse_alg(opt, &ic->jcrypt_alg, &ti->error,
					  "Invalid journal_crypt argument");
			if (r)
				return r;
		} else if (!strncmp(opt, "journal_mac:", strlen("journal_mac:"))) {
			r = itg_parse_alg(opt, &ic->jmac_alg, &ti->error,
					  "Invalid journal_mac argument");
			if (r)
				return r;
		} else if (!strcmp(opt, "recalculate")) {
			ic->recalculate = true;
		} else if (!strcmp(opt, "reset_recalculate")) {
			ic->recalculate = true;
			ic->reset_recalculate = true;
		} else if (!strcmp(opt, "allow_discards")) {
			ic->discard = true;
		} else if (!strcmp(opt, "fix_padding")) {
			ic->fix_padding = true;
		} else if (!strcmp(opt, "fix_hmac")) {
			ic->fix_hmac = true;
		} else if (!strcmp(opt, "legacy_recalculate")) {
			ic->legacy_recalculate = true;
		} else {
			ti->error = "Invalid argument";
			return -EINVAL;
		}
	}
	return 0;
}

/* HMAC tags recalculated from unauthenticated data are refused. */
static bool itg_recalc_forbidden(struct itg_c *ic)
{
	if (ic->legacy_recalculate)
		return false;
	if (!itg_sb_flag(ic, ITG_SB_FIXED_HMAC))
		return ic->hash_alg.key || ic->jmac_alg.key;
	return ic->hash_alg.key && !ic->jmac_alg.key;
}

static void itg_dtr(struct dm_target *ti)
{
	struct itg_c *ic = ti->private;

	if (!ic)
		return;
	if (ic->recalc_wq)
		destroy_workqueue(ic->recalc_wq);
	itg_bitmap_free(ic);
	itg_io_exit(ic);
	itg_inline_free(ic);
	itg_journal_free(ic);
	itg_jcrypt_free(ic);
	if (ic->bufio)
		dm_bufio_client_destroy(ic->bufio);
	if (ic->io)
		dm_io_client_destroy(ic->io);
	itg_hreq_free(ic->recalc_hr);
	itg_hreq_free(ic->replay_hr);
	itg_hash_free(ic);
	kfree(ic->sb);
	if (ic->dev)
		dm_put_device(ti, ic->dev);
	if (ic->meta_dev)
		dm_put_device(ti, ic->meta_dev);
	itg_free_alg(&ic->hash_alg);
	itg_free_alg(&ic->jcrypt_alg);
	itg_free_alg(&ic->jmac_alg);
	kfree_sensitive(ic);
	ti->private = NULL;
}

/* Read the superblock; format an all-zero one. */
static int itg_setup_sb(struct itg_c *ic, struct itg_args *ia, bool *format)
{
	struct dm_target *ti = ic->ti;
	int r;

	*format = false;
	r = itg_sb_rw(ic, REQ_OP_READ);
	if (r) {
		ti->error = "Error reading superblock";
		return r;
	}
	if (memcmp(ic->sb->magic, ITG_SB_MAGIC, sizeof(ic->sb->magic))) {
		if (ic->mode != 'R' &&
		    memchr_inv(ic->sb, 0, ITG_SB_SECTORS << SECTOR_SHIFT)) {
			ti->error = "The device is not initialized";
			return -EINVAL;
		}
		r = itg_sb_format(ic, ia->journal_sectors, ia->interleave_sectors);
		if (r) {
			ti->error = "Could not initialize superblock";
			return r;
		}
		*format = ic->mode != 'R';
	}
	r = itg_sb_validate(ic, (const char **)&ti->error);
	if (r)
		return r;

	itg_compute_provided(ic);
	if (!ic->provided_data_sectors) {
		ti->error = "The device is too small";
		return -EINVAL;
	}
	while (itg_check_layout(ic)) {
		if (!ic->meta_dev || ic->log2_buffer_sectors <= 3) {
			ti->error = "The device is too small";
			return -EINVAL;
		}
		ic->log2_buffer_sectors--;
	}
	return 0;
}

/* Bitmap granularity: as fine as the journal area can hold. */
static void itg_setup_bitmap_bits(struct itg_c *ic, struct itg_args *ia,
				  bool format)
{
	int l2 = ia->log2_sectors_per_bit;
	u64 bits;

	if (l2 < 0)
		l2 = __fls(ITG_DEFAULT_SECTORS_PER_BIT);
	if (l2 < ic->log2_spb)
		l2 = ic->log2_spb;
	bits = ((u64)ic->journal_section_sectors * ic->journal_sections) <<
	       (SECTOR_SHIFT + 3);
	if (bits > UINT_MAX)
		bits = UINT_MAX;
	if (bits)
		while (bits < (ic->provided_data_sectors + (1ULL << l2) - 1) >> l2)
			l2++;
	ic->log2_blocks_per_bitmap_bit = l2 - ic->log2_spb;
	if (format)
		ic->sb->log2_blocks_per_bitmap_bit = ic->log2_blocks_per_bitmap_bit;
}

static int itg_ctr(struct dm_target *ti, unsigned int argc, char **argv)
{
	struct itg_args ia = {
		.interleave_sectors = ITG_DEFAULT_INTERLEAVE,
		.buffer_sectors = ITG_DEFAULT_BUFFER_SECTORS,
		.log2_sectors_per_bit = -1,
	};
	unsigned long long start;
	struct dm_arg_set as;
	struct itg_c *ic;
	bool format;
	char dummy;
	u64 threshold;
	int r;

	if (argc <= 4) {
		ti->error = "Invalid argument count";
		return -EINVAL;
	}
	ic = kzalloc(sizeof(*ic), GFP_KERNEL);
	if (!ic) {
		ti->error = "Cannot allocate integrity context";
		return -ENOMEM;
	}
	ti->private = ic;
	ic->ti = ti;
	atomic64_set(&ic->mismatches, 0);
	ic->sectors_per_block = 1;
	ic->journal_watermark = ITG_DEFAULT_WATERMARK;
	ic->commit_msec = ITG_DEFAULT_COMMIT_MS;
	ic->bitmap_flush_msec = ITG_DEFAULT_BITMAP_FLUSH_MS;

	r = dm_get_device(ti, argv[0], dm_table_get_mode(ti->table), &ic->dev);
	if (r) {
		ti->error = "Device lookup failed";
		goto bad;
	}
	r = -EINVAL;
	if (sscanf(argv[1], "%llu%c", &start, &dummy) != 1 ||
	    start != (sector_t)start) {
		ti->error = "Invalid starting offset";
		goto bad;
	}
	ic->start = start;
	if (strcmp(argv[2], "-") &&
	    (sscanf(argv[2], "%u%c", &ic->tag_size, &dummy) != 1 || !ic->tag_size)) {
		ti->error = "Invalid tag size";
		goto bad;
	}
	if (strlen(argv[3]) != 1 || !strchr("JBDRI", argv[3][0])) {
		ti->error = "Invalid mode (expecting J, B, D, R, I)";
		goto bad;
	}
	ic->mode = argv[3][0];

	as.argc = argc - 4;
	as.argv = argv + 4;
	r = itg_parse_opts(ic, &as, &ia);
	if (r)
		goto bad;
	ic->log2_spb = __ffs(ic->sectors_per_block);

	ic->data_device_sectors = bdev_nr_sectors(ic->dev->bdev);
	ic->meta_device_sectors = ic->meta_dev ?
		bdev_nr_sectors(ic->meta_dev->bdev) : ic->data_device_sectors;
	if (!ia.journal_sectors)
		ia.journal_sectors = min_t(sector_t, ITG_MAX_JOURNAL_SECTORS,
					   ic->data_device_sectors >> ITG_JOURNAL_SIZE_SHIFT);
	if (!ia.buffer_sectors)
		ia.buffer_sectors = 1;
	ic->log2_buffer_sectors = min_t(unsigned int, __fls(ia.buffer_sectors),
					31 - SECTOR_SHIFT);

	r = itg_hash_setup(ic, (const char **)&ti->error);
	if (r)
		goto bad;
	r = itg_jmac_setup(ic, (const char **)&ti->error);
	if (r)
		goto bad;
	ic->per_io_size = itg_hash_per_io_size(ic);
	ti->per_io_data_size = ic->per_io_size;
	if (ic->hash.ahash) {
		/* Recalculation hashes under a range lock: allocate now. */
		ic->recalc_hr = itg_hreq_alloc(ic);
		ic->replay_hr = itg_hreq_alloc(ic);
		if (!ic->recalc_hr || !ic->replay_hr) {
			r = -ENOMEM;
			ti->error = "Cannot allocate hash requests";
			goto bad;
		}
	}
	r = -EINVAL;
	if (!ic->tag_size) {
		if (!itg_has_hash(ic)) {
			ti->error = "Unknown tag size";
			goto bad;
		}
		ic->tag_size = ic->digest_size;
	}
	if (ic->tag_size > ITG_MAX_TAG_SIZE) {
		ti->error = "Too big tag size";
		goto bad;
	}
	ic->log2_tag_size = is_power_of_2(ic->tag_size) ? __ffs(ic->tag_size) : -1;
	if (ic->mode == 'I') {
		r = itg_inline_setup(ic, (const char **)&ti->error);
		if (r)
			goto bad;
		r = -EINVAL;
	}
	if (ic->mode == 'B' && !itg_has_hash(ic)) {
		ti->error = "Bitmap mode can be only used with internal hash";
		goto bad;
	}
	if (ic->discard && !itg_has_hash(ic)) {
		ti->error = "Discard can be only used with internal hash";
		goto bad;
	}
	ic->io = dm_io_client_create();
	if (IS_ERR(ic->io)) {
		r = PTR_ERR(ic->io);
		ic->io = NULL;
		ti->error = "Cannot allocate dm io";
		goto bad;
	}
	r = itg_io_init(ic);
	if (r) {
		ti->error = "Cannot allocate workqueue";
		goto bad;
	}
	ic->sb = kzalloc(ITG_SB_SECTORS << SECTOR_SHIFT, GFP_KERNEL);
	if (!ic->sb) {
		r = -ENOMEM;
		ti->error = "Cannot allocate superblock area";
		goto bad;
	}

	r = itg_setup_sb(ic, &ia, &format);
	if (r)
		goto bad;
	itg_setup_bitmap_bits(ic, &ia, format);
	r = itg_journal_alloc(ic);
	if (r) {
		ti->error = "Could not allocate memory for journal";
		goto bad;
	}
	if (ic->mode != 'R' && ic->mode != 'I') {
		r = itg_bitmap_alloc(ic);
		if (r) {
			ti->error = "Could not allocate memory for bitmap";
			goto bad;
		}
	}
	/* No tag area in I mode: buffer_sectors stays as given. */
	if (!ic->meta_dev && ic->mode != 'I')
		ic->log2_buffer_sectors = min_t(unsigned int, ic->log2_buffer_sectors,
						__ffs(ic->metadata_run));

	r = -EINVAL;
	if (ti->len > ic->provided_data_sectors) {
		ti->error = "Not enough provided sectors for requested mapping size";
		goto bad;
	}
	threshold = (u64)ic->journal_entries * (100 - ic->journal_watermark) + 50;
	do_div(threshold, 100);
	ic->free_sectors_threshold = threshold;

	if (ic->recalculate && !itg_sb_flag(ic, ITG_SB_RECALCULATING)) {
		ic->sb->flags |= cpu_to_le32(ITG_SB_RECALCULATING);
		ic->sb->recalc_sector = 0;
	}
	if (itg_has_hash(ic)) {
		ic->recalc_wq = alloc_workqueue("dm-integrity-recalc",
						WQ_MEM_RECLAIM, 1);
		if (!ic->recalc_wq) {
			r = -ENOMEM;
			ti->error = "Cannot allocate workqueue";
			goto bad;
		}
		INIT_WORK(&ic->recalc_work, ic->mode == 'I' ? itg_recalc_inline_work :
							      itg_recalc_work);
	} else if (itg_sb_flag(ic, ITG_SB_RECALCULATING)) {
		ti->error = "Recalculate can only be specified with internal_hash";
		goto bad;
	}
	if (itg_sb_flag(ic, ITG_SB_RECALCULATING) &&
	    le64_to_cpu(ic->sb->recalc_sector) < ic->provided_data_sectors &&
	    itg_recalc_forbidden(ic)) {
		itg_set_error(ti,
			      "Recalculating with HMAC is disabled for security reasons - if you really need it, use the argument \"legacy_recalculate\"");
		r = -EOPNOTSUPP;
		goto bad;
	}

	ic->bufio = dm_bufio_client_create(itg_meta_bdev(ic), itg_buffer_bytes(ic),
					   1, 0, NULL, NULL, 0);
	if (IS_ERR(ic->bufio)) {
		r = PTR_ERR(ic->bufio);
		ic->bufio = NULL;
		ti->error = "Cannot initialize dm-bufio";
		goto bad;
	}
	dm_bufio_set_sector_offset(ic->bufio, ic->start + ic->initial_sectors);

	if (ic->mode != 'R') {
		r = itg_jcrypt_setup(ic, (const char **)&ti->error);
		if (r)
			goto bad;
	}

	if (format && ic->mode != 'I') {
		r = itg_journal_init_disk(ic);
		if (r) {
			ti->error = "Error initializing journal";
			goto bad;
		}
	}
	if (format) {
		r = itg_sb_rw(ic, REQ_OP_WRITE | REQ_FUA);
		if (r) {
			ti->error = "Error initializing superblock";
			goto bad;
		}
		ic->just_formatted = true;
	}
	memcpy(&ic->sb_copy, ic->sb, sizeof(ic->sb_copy));

	if (!ic->meta_dev && ic->mode != 'I') {
		r = dm_set_target_max_io_len(ti, 1U << ic->sb->log2_interleave_sectors);
		if (r)
			goto bad;
	}
	ti->num_flush_bios = 1;
	ti->flush_supported = true;
	if (ic->discard)
		ti->num_discard_bios = 1;

	r = itg_profile_register(ic);
	if (r) {
		ti->error = "Cannot register the integrity profile";
		goto bad;
	}
	return 0;

bad:
	itg_dtr(ti);
	return r;
}

static void itg_postsuspend(struct dm_target *ti)
{
	struct itg_c *ic = ti->private;

	WRITE_ONCE(ic->suspending, true);
	if (ic->recalc_wq)
		drain_workqueue(ic->recalc_wq);
	cancel_delayed_work_sync(&ic->commit_work);
	if (ic->mode == 'J')
		itg_journal_suspend(ic);
	if (ic->mode == 'B')
		itg_bitmap_suspend(ic);
	if (ic->mode != 'R') {
		ic->journal_uptodate = true;
		itg_flush_meta(ic);
		if (blkdev_issue_flush(ic->dev->bdev))
			itg_error(ic, "flushing data device", -EIO);
	}
}

static bool itg_sb_changed(struct itg_c *ic)
{
	const __le32 fixed = cpu_to_le32(ITG_SB_HAVE_JOURNAL_MAC |
					 ITG_SB_FIXED_PADDING |
					 ITG_SB_FIXED_HMAC | ITG_SB_INLINE);
	struct itg_superblock *a = ic->sb, *b = &ic->sb_copy;

	return memcmp(a->magic, b->magic, sizeof(a->magic)) ||
	       a->log2_interleave_sectors != b->log2_interleave_sectors ||
	       a->tag_size != b->tag_size ||
	       a->journal_sections != b->journal_sections ||
	       a->log2_sectors_per_block != b->log2_sectors_per_block ||
	       ((a->flags ^ b->flags) & fixed) ||
	       memcmp(a->salt, b->salt, ITG_SALT_SIZE);
}

static void itg_resume(struct dm_target *ti)
{
	struct itg_c *ic = ti->private;
	u64 old_provided = le64_to_cpu(ic->sb->provided_data_sectors);
	__le32 keep = ic->sb->flags & cpu_to_le32(ITG_SB_RECALCULATING);
	bool write = false;
	int r;

	r = itg_sb_rw(ic, REQ_OP_READ);
	if (r)
		itg_error(ic, "reading superblock", r);
	if (itg_sb_changed(ic)) {
		memcpy(ic->sb, &ic->sb_copy, sizeof(ic->sb_copy));
		DMERR("The superblock was changed while the device was suspended");
		itg_error(ic, "superblock check", -EINVAL);
		goto out;
	}
	if (ic->mode == 'R')
		goto out;

	if ((ic->sb->flags & keep) != keep) {
		ic->sb->flags |= keep;
		write = true;
	}
	if (ic->provided_data_sectors != old_provided) {
		ic->sb->provided_data_sectors = cpu_to_le64(ic->provided_data_sectors);
		write = true;
	}
	if (write) {
		r = itg_sb_rw(ic, REQ_OP_WRITE | REQ_FUA);
		if (r)
			itg_error(ic, "writing superblock", r);
	}
	write = false;
	if (ic->mode != 'I') {
		itg_bitmap_resume(ic, &write);
	} else if (ic->reset_recalculate) {
		ic->sb->flags |= cpu_to_le32(ITG_SB_RECALCULATING);
		ic->sb->recalc_sector = 0;
		write = true;
	}
	if (write) {
		r = itg_sb_rw(ic, REQ_OP_WRITE | REQ_FUA);
		if (r)
			itg_error(ic, "writing superblock", r);
	}
	WRITE_ONCE(ic->suspending, false);
	itg_recalc_start(ic);
out:
	WRITE_ONCE(ic->suspending, false);
}

static void itg_emit_alg(char *result, unsigned int maxlen, size_t *szp,
			 const char *opt, struct itg_alg *a)
{
	size_t sz = *szp;

	if (!a->name)
		return;
	DMEMIT(" %s:%s", opt, a->name);
	if (a->key_hex)
		DMEMIT(":%s", a->key_hex);
	*szp = sz;
}

static void itg_status(struct dm_target *ti, status_type_t type,
		       unsigned int status_flags, char *result, unsigned int maxlen)
{
	struct itg_c *ic = ti->private;
	bool recalc = itg_sb_flag(ic, ITG_SB_RECALCULATING);
	bool fpad = itg_sb_flag(ic, ITG_SB_FIXED_PADDING);
	bool fhmac = itg_sb_flag(ic, ITG_SB_FIXED_HMAC);
	unsigned int argc;
	size_t sz = 0;

	switch (type) {
	case STATUSTYPE_INFO:
		DMEMIT("%llu %llu", (unsigned long long)atomic64_read(&ic->mismatches),
		       (unsigned long long)ic->provided_data_sectors);
		if (recalc)
			DMEMIT(" %llu", le64_to_cpu(ic->sb->recalc_sector));
		else
			DMEMIT(" -");
		break;
	case STATUSTYPE_TABLE:
		argc = 3 + !!ic->meta_dev + (ic->sectors_per_block != 1) + recalc +
		       ic->reset_recalculate + ic->discard +
		       2 * (ic->mode == 'J') + 2 * (ic->mode == 'B') +
		       !!ic->hash_alg.name + !!ic->jcrypt_alg.name +
		       !!ic->jmac_alg.name + fpad + fhmac + ic->legacy_recalculate;
		DMEMIT("%s %llu %u %c %u", ic->dev->name,
		       (unsigned long long)ic->start, ic->tag_size, ic->mode, argc);
		if (ic->meta_dev)
			DMEMIT(" meta_device:%s", ic->meta_dev->name);
		if (ic->sectors_per_block != 1)
			DMEMIT(" block_size:%u", ic->sectors_per_block << SECTOR_SHIFT);
		if (recalc)
			DMEMIT(" recalculate");
		if (ic->reset_recalculate)
			DMEMIT(" reset_recalculate");
		if (ic->discard)
			DMEMIT(" allow_discards");
		DMEMIT(" journal_sectors:%u", ic->initial_sectors - ITG_SB_SECTORS);
		DMEMIT(" interleave_sectors:%u", 1U << ic->sb->log2_interleave_sectors);
		DMEMIT(" buffer_sectors:%u", 1U << ic->log2_buffer_sectors);
		if (ic->mode == 'J') {
			u64 pct = (u64)(ic->journal_entries - ic->free_sectors_threshold) * 100 +
				  ic->journal_entries / 2;

			do_div(pct, ic->journal_entries);
			DMEMIT(" journal_watermark:%u", (unsigned int)pct);
			DMEMIT(" commit_time:%u", ic->commit_msec);
		}
		if (ic->mode == 'B') {
			DMEMIT(" sectors_per_bit:%llu",
			       (unsigned long long)ic->sectors_per_block <<
			       ic->log2_blocks_per_bitmap_bit);
			DMEMIT(" bitmap_flush_interval:%u", ic->bitmap_flush_msec);
		}
		if (fpad)
			DMEMIT(" fix_padding");
		if (fhmac)
			DMEMIT(" fix_hmac");
		if (ic->legacy_recalculate)
			DMEMIT(" legacy_recalculate");
		itg_emit_alg(result, maxlen, &sz, "internal_hash", &ic->hash_alg);
		itg_emit_alg(result, maxlen, &sz, "journal_crypt", &ic->jcrypt_alg);
		itg_emit_alg(result, maxlen, &sz, "journal_mac", &ic->jmac_alg);
		break;
	case STATUSTYPE_IMA:
		DMEMIT_TARGET_NAME_VERSION(ti->type);
		DMEMIT(",dev_name=%s,start=%llu,tag_size=%u,mode=%c",
		       ic->dev->name, (unsigned long long)ic->start, ic->tag_size,
		       ic->mode);
		if (ic->meta_dev)
			DMEMIT(",meta_device=%s", ic->meta_dev->name);
		if (ic->sectors_per_block != 1)
			DMEMIT(",block_size=%u", ic->sectors_per_block << SECTOR_SHIFT);
		DMEMIT(",recalculate=%c", recalc ? 'y' : 'n');
		DMEMIT(",allow_discards=%c", ic->discard ? 'y' : 'n');
		DMEMIT(",fix_padding=%c", fpad ? 'y' : 'n');
		DMEMIT(",fix_hmac=%c", fhmac ? 'y' : 'n');
		DMEMIT(",legacy_recalculate=%c", ic->legacy_recalculate ? 'y' : 'n');
		DMEMIT(",journal_sectors=%u", ic->initial_sectors - ITG_SB_SECTORS);
		DMEMIT(",interleave_sectors=%u", 1U << ic->sb->log2_interleave_sectors);
		DMEMIT(",buffer_sectors=%u", 1U << ic->log2_buffer_sectors);
		DMEMIT(";");
		break;
	}
}

/* "hash_info" tells which crypto implementation computes the tags. */
static int itg_message(struct dm_target *ti, unsigned int argc, char **argv,
		       char *result, unsigned int maxlen)
{
	struct itg_c *ic = ti->private;

	if (argc == 1 && !strcasecmp(argv[0], "hash_info")) {
		itg_hash_info(ic, result, maxlen);
		return 1;
	}
	DMWARN("Unrecognised message received");
	return -EINVAL;
}

static int itg_iterate_devices(struct dm_target *ti,
			       iterate_devices_callout_fn fn, void *data)
{
	struct itg_c *ic = ti->private;

	if (!ic->meta_dev)
		return fn(ti, ic->dev, ic->start + ic->initial_sectors +
			  ic->metadata_run, ti->len, data);
	return fn(ti, ic->dev, 0, ti->len, data);
}

static void itg_io_hints(struct dm_target *ti, struct queue_limits *limits)
{
	struct itg_c *ic = ti->private;
	unsigned int bs = ic->sectors_per_block << SECTOR_SHIFT;

	if (ic->sectors_per_block > 1) {
		limits->logical_block_size = bs;
		limits->physical_block_size = bs;
		limits->io_min = bs;
		limits->dma_alignment = bs - 1;
		limits->discard_granularity = bs;
	}
	if (itg_has_hash(ic) &&
	    (ic->mode == 'D' || ic->mode == 'B' || ic->mode == 'I'))
		dmx_set_stable_writes(limits);
	itg_profile_limits(ic, limits);
}

static struct target_type integrity_target = {
	.name			= "integrity",
	.version		= {ITG_VERSION_MAJOR, ITG_VERSION_MINOR,
				   ITG_VERSION_PATCH},
	.module			= THIS_MODULE,
	.features		= DM_TARGET_SINGLETON | DM_TARGET_INTEGRITY,
	.ctr			= itg_ctr,
	.dtr			= itg_dtr,
	.map			= itg_map,
	.postsuspend		= itg_postsuspend,
	.resume			= itg_resume,
	.status			= itg_status,
	.message		= itg_message,
	.iterate_devices	= itg_iterate_devices,
	.io_hints		= itg_io_hints,
};

static int __init itg_init(void)
{
	int r;

	r = dm_register_target(&integrity_target);
	if (r == -EEXIST)
		DMERR("%s",
		      "target \"integrity\" is already registered, probably by the in-kernel dm_integrity: unload it (rmmod dm_integrity) before loading this module");
	else if (r)
		DMERR("cannot register the target: %d", r);
	return r;
}

static void __exit itg_exit(void)
{
	dm_unregister_target(&integrity_target);
}

module_init(itg_init);
module_exit(itg_exit);

MODULE_DESCRIPTION(DM_NAME " target for integrity tags (out-of-tree, on-disk compatible)");
MODULE_LICENSE("GPL");
