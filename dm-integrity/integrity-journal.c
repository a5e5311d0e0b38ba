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
 */
#include <linux/vmalloc.h>

#include "dm-integrity.h"

static const u64 itg_commit_id_base[ITG_N_COMMIT_IDS] = {
	0x1111111111111111ULL, 0x2222222222222222ULL,
	0x3333333333333333ULL, 0x4444444444444444ULL,
};

static __le64 itg_commit_id(unsigned int section, unsigned int sector,
			    unsigned int seq)
{
	return cpu_to_le64(itg_commit_id_base[seq] ^
			   (((u64)section << 32) ^ sector));
}

/* Build an empty section @section of sequence @seq in @buf. */
static void itg_journal_empty_section(struct itg_c *ic, u8 *buf,
				      unsigned int section, unsigned int seq)
{
	unsigned int j, k;

	memset(buf, 0, (size_t)ic->journal_section_sectors << SECTOR_SHIFT);
	for (j = 0; j < ITG_JOURNAL_META_SECTORS; j++) {
		u8 *js = buf + (j << SECTOR_SHIFT);

		for (k = 0; k < ic->journal_entries_per_sector; k++) {
			__le32 *hi = (__le32 *)(js + k * ic->journal_entry_size + 4);

			*hi = cpu_to_le32(ITG_ENTRY_UNUSED_HI);
		}
	}
	for (j = 0; j < ic->journal_section_sectors; j++) {
		__le64 *id = (__le64 *)(buf + (j << SECTOR_SHIFT) +
					ITG_JOURNAL_SECTOR_DATA);

		*id = itg_commit_id(section, j, seq);
	}
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
		where.sector = ic->start + ITG_SB_SECTORS +
			       (sector_t)i * ic->journal_section_sectors;
		r = dm_io(&req, 1, &where, NULL, IOPRIO_DEFAULT);
		if (r)
			break;
	}
	vfree(buf);
	return r;
}
