// SPDX-License-Identifier: GPL-2.0
/*
 * dm-integrity (out of tree): superblock and layout.
 *
 * Layout without a metadata device, relative to <start>:
 *   [superblock 8][journal sections][run A0][data A0][run A1][data A1]...
 * where a "run" holds the tags of the data area behind it.  With a
 * metadata device, the superblock, journal and all tags are on the
 * metadata device and the data device is used as is.
 */
#include <linux/bitops.h>
#include <linux/log2.h>
#include <linux/random.h>
#include <linux/string.h>

#include "dm-integrity.h"

void itg_sb_set_version(struct itg_c *ic)
{
	u8 v = 1;

	if (itg_sb_flag(ic, ITG_SB_INLINE))
		v = 6;
	else if (itg_sb_flag(ic, ITG_SB_FIXED_HMAC))
		v = 5;
	else if (itg_sb_flag(ic, ITG_SB_FIXED_PADDING))
		v = 4;
	else if (ic->mode == 'B' || itg_sb_flag(ic, ITG_SB_DIRTY_BITMAP))
		v = 3;
	else if (ic->meta_dev || itg_sb_flag(ic, ITG_SB_RECALCULATING))
		v = 2;
	ic->sb->version = v;
}

/* Read or write the 8 superblock sectors synchronously. */
int itg_sb_rw(struct itg_c *ic, blk_opf_t opf)
{
	struct dm_io_region where = {
		.bdev = itg_meta_bdev(ic),
		.sector = ic->start,
		.count = ITG_SB_SECTORS,
	};
	struct dm_io_request req = {
		.bi_opf = opf,
		.mem.type = DM_IO_KMEM,
		.mem.ptr.addr = ic->sb,
		.client = ic->io,
	};
	int r;

	if ((opf & REQ_OP_MASK) == REQ_OP_WRITE) {
		itg_sb_set_version(ic);
		if (ic->jmac && itg_sb_flag(ic, ITG_SB_FIXED_HMAC)) {
			r = itg_sb_mac(ic, true);
			if (r)
				return r;
		}
	}
	r = dm_io(&req, 1, &where, NULL, IOPRIO_DEFAULT);
	if (r || (opf & REQ_OP_MASK) != REQ_OP_READ)
		return r;
	/* The MAC is checked on what was read; recovery mode takes anything. */
	if (ic->mode != 'R' && ic->jmac && itg_sb_flag(ic, ITG_SB_FIXED_HMAC))
		return itg_sb_mac(ic, false);
	return 0;
}

/* Journal geometry from the superblock's tag size, block size and flags. */
void itg_journal_geometry(struct itg_c *ic)
{
	unsigned int space = ITG_JOURNAL_SECTOR_DATA;

	ic->journal_sections = le32_to_cpu(ic->sb->journal_sections);
	ic->journal_entry_size = round_up(8 + 8 * ic->sectors_per_block +
					  ic->tag_size, ITG_JOURNAL_ENTRY_ALIGN);
	if (itg_sb_flag(ic, ITG_SB_HAVE_JOURNAL_MAC))
		space -= ITG_JOURNAL_MAC_PER_SECTOR;
	ic->journal_entries_per_sector = space / ic->journal_entry_size;
	ic->journal_section_entries = ic->journal_entries_per_sector *
				      ITG_JOURNAL_META_SECTORS;
	ic->journal_section_sectors = (ic->journal_section_entries << ic->log2_spb) +
				      ITG_JOURNAL_META_SECTORS;
	ic->journal_entries = ic->journal_section_entries * ic->journal_sections;
}

static void itg_area_offset(struct itg_c *ic, sector_t logical, u64 *area,
			    u64 *offset)
{
	unsigned int shift = ic->sb->log2_interleave_sectors;

	if (ic->meta_dev) {
		*area = 0;
		*offset = logical;
	} else {
		*area = logical >> shift;
		*offset = logical & ((1ULL << shift) - 1);
	}
}

/* Sector on the data device that holds logical sector @logical. */
u64 itg_data_sector(struct itg_c *ic, sector_t logical)
{
	u64 area, offset;

	itg_area_offset(ic, logical, &area, &offset);
	if (ic->meta_dev)
		return offset;
	return ic->start + ic->initial_sectors +
	       (area << ic->sb->log2_interleave_sectors) +
	       (area + 1) * ic->metadata_run + offset;
}

/*
 * Byte address of the tag of the block at @logical, relative to the start
 * of the tag space (start + initial_sectors on the metadata device).
 */
u64 itg_tag_byte(struct itg_c *ic, sector_t logical)
{
	u64 area, offset, run;

	itg_area_offset(ic, logical, &area, &offset);
	run = ic->meta_dev ? 0 : area * (((u64)1 << ic->sb->log2_interleave_sectors) +
					 ic->metadata_run);
	return (run << SECTOR_SHIFT) + (offset >> ic->log2_spb) * ic->tag_size;
}

/*
 * Check that the superblock, the journal, the tags and the data of
 * provided_data_sectors fit; compute initial_sectors and metadata_run.
 */
int itg_check_layout(struct itg_c *ic)
{
	u64 initial, last;

	itg_journal_geometry(ic);
	initial = ITG_SB_SECTORS + (u64)ic->journal_section_sectors * ic->journal_sections;
	if (initial + 8 >= ic->meta_device_sectors || initial > UINT_MAX)
		return -EINVAL;
	ic->initial_sectors = initial;

	if (ic->mode == 'I') {
		/* The data follows the superblock; tags are in its metadata. */
		if (initial + ic->provided_data_sectors > ic->meta_device_sectors)
			return -EINVAL;
	} else if (!ic->meta_dev) {
		u64 pad = itg_sb_flag(ic, ITG_SB_FIXED_PADDING) ?
			  ITG_PADDING_FIXED : ITG_PADDING_LEGACY;
		u64 bytes = (u64)ic->tag_size <<
			    (ic->sb->log2_interleave_sectors - ic->log2_spb);

		ic->metadata_run = round_up(bytes, pad) >> SECTOR_SHIFT;
		last = itg_data_sector(ic, ic->provided_data_sectors - 1);
		if (last < ic->start || last >= ic->meta_device_sectors)
			return -EINVAL;
	} else {
		u64 meta = (ic->provided_data_sectors >> ic->log2_spb) * ic->tag_size;
		unsigned int bshift = ic->log2_buffer_sectors + SECTOR_SHIFT;

		meta = ((meta + (1ULL << bshift) - 1) >> bshift) << ic->log2_buffer_sectors;
		if (ic->initial_sectors + meta < ic->initial_sectors ||
		    ic->initial_sectors + meta > ic->meta_device_sectors)
			return -EINVAL;
		ic->metadata_run = 1;
	}
	return 0;
}

/* The largest data size that fits, built bit by bit from the top. */
void itg_compute_provided(struct itg_c *ic)
{
	int bit;

	if (ic->meta_dev) {
		ic->provided_data_sectors = ic->data_device_sectors &
					    ~(sector_t)(ic->sectors_per_block - 1);
		return;
	}
	ic->provided_data_sectors = 0;
	for (bit = fls64(ic->meta_device_sectors) - 1; bit >= 3; bit--) {
		sector_t prev = ic->provided_data_sectors;

		ic->provided_data_sectors |= (sector_t)1 << bit;
		if (itg_check_layout(ic))
			ic->provided_data_sectors = prev;
	}
}

/* Fill in a new superblock for an all-zero device. */
int itg_sb_format(struct itg_c *ic, unsigned int journal_sectors,
		  unsigned int interleave_sectors)
{
	struct itg_superblock *sb = ic->sb;
	unsigned int sections;
	u32 flags = 0;
	int bit;

	memset(sb, 0, ITG_SB_SECTORS << SECTOR_SHIFT);
	memcpy(sb->magic, ITG_SB_MAGIC, sizeof(sb->magic));
	sb->tag_size = cpu_to_le16(ic->tag_size);
	sb->log2_sectors_per_block = ic->log2_spb;
	if (ic->jmac_alg.name)
		flags |= ITG_SB_HAVE_JOURNAL_MAC;
	if (ic->fix_hmac && (ic->hash_alg.name || ic->jmac_alg.name)) {
		flags |= ITG_SB_FIXED_HMAC;
		get_random_bytes(sb->salt, ITG_SALT_SIZE);
	}
	if (!ic->meta_dev && ic->fix_padding)
		flags |= ITG_SB_FIXED_PADDING;
	if (ic->mode == 'I')
		flags |= ITG_SB_INLINE;
	sb->flags = cpu_to_le32(flags);

	itg_journal_geometry(ic);
	sections = journal_sectors / ic->journal_section_sectors;
	if (!sections)
		sections = 1;
	if (ic->mode == 'I')
		sections = 0;

	if (!ic->meta_dev) {
		unsigned int l2;

		sb->journal_sections = cpu_to_le32(sections);
		if (!interleave_sectors)
			interleave_sectors = ITG_DEFAULT_INTERLEAVE;
		l2 = __fls(interleave_sectors);
		l2 = clamp_t(unsigned int, l2, ITG_MIN_LOG2_INTERLEAVE,
			     ITG_MAX_LOG2_INTERLEAVE);
		sb->log2_interleave_sectors = l2;
		itg_compute_provided(ic);
		if (!ic->provided_data_sectors)
			return -EINVAL;
	} else {
		sb->log2_interleave_sectors = 0;
		itg_compute_provided(ic);
		if (!ic->provided_data_sectors)
			return -EINVAL;
		for (;;) {
			u32 have = 0;

			for (bit = fls(sections) - 1; bit >= 0; bit--) {
				u32 try = have | (1U << bit);

				if (try > sections)
					continue;
				sb->journal_sections = cpu_to_le32(try);
				if (itg_check_layout(ic))
					sb->journal_sections = cpu_to_le32(have);
				else
					have = try;
			}
			sb->journal_sections = cpu_to_le32(have);
			if (have)
				break;
			if (ic->log2_buffer_sectors <= 3)
				return -EINVAL;
			ic->log2_buffer_sectors--;
		}
	}
	sb->provided_data_sectors = cpu_to_le64(ic->provided_data_sectors);
	itg_sb_set_version(ic);
	return 0;
}

/* Check a superblock read from disk against the table. */
int itg_sb_validate(struct itg_c *ic, const char **error)
{
	struct itg_superblock *sb = ic->sb;

	if (!sb->version || sb->version > ITG_SB_VERSION_MAX) {
		*error = "Unknown version";
		return -EINVAL;
	}
	if (!!itg_sb_flag(ic, ITG_SB_INLINE) != (ic->mode == 'I')) {
		*error = "Inline flag mismatch";
		return -EINVAL;
	}
	if (le16_to_cpu(sb->tag_size) != ic->tag_size) {
		*error = "Tag size doesn't match the information in superblock";
		return -EINVAL;
	}
	if (sb->log2_sectors_per_block != ic->log2_spb) {
		*error = "Block size doesn't match the information in superblock";
		return -EINVAL;
	}
	if (ic->mode != 'I' && !le32_to_cpu(sb->journal_sections)) {
		*error = "Corrupted superblock, journal_sections is 0";
		return -EINVAL;
	}
	if (ic->mode == 'I' && le32_to_cpu(sb->journal_sections)) {
		*error = "Corrupted superblock, journal_sections is not 0";
		return -EINVAL;
	}
	if (!ic->meta_dev) {
		if (sb->log2_interleave_sectors < ITG_MIN_LOG2_INTERLEAVE ||
		    sb->log2_interleave_sectors > ITG_MAX_LOG2_INTERLEAVE) {
			*error = "Invalid interleave_sectors in the superblock";
			return -EINVAL;
		}
	} else if (sb->log2_interleave_sectors) {
		*error = "Invalid interleave_sectors in the superblock";
		return -EINVAL;
	}
	if (!!itg_sb_flag(ic, ITG_SB_HAVE_JOURNAL_MAC) != !!ic->jmac_alg.name) {
		*error = "Journal mac mismatch";
		return -EINVAL;
	}
	return 0;
}
