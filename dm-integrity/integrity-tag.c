// SPDX-License-Identifier: GPL-2.0
/*
 * dm-integrity (out of tree): tags.
 *
 * Tags are computed by the hash engine (integrity-hash.c) and kept in the
 * tag areas, read and written here through dm-bufio.  Without an internal
 * hash the tags come from the bio's integrity payload (dm-crypt AEAD) and
 * the target offers an integrity profile.
 */
#include <linux/blk-integrity.h>
#include <linux/string.h>

#include "dm-integrity.h"

/*
 * Copy @len bytes of tags at byte @byte of the tag space to or from @buf
 * through dm-bufio.
 */
int itg_tags_rw(struct itg_c *ic, u64 byte, u8 *buf, unsigned int len,
		bool write)
{
	unsigned int bsize = itg_buffer_bytes(ic);

	while (len) {
		sector_t block = byte >> (SECTOR_SHIFT + ic->log2_buffer_sectors);
		unsigned int off = byte & (bsize - 1);
		unsigned int n = min(len, bsize - off);
		struct dm_buffer *b;
		u8 *data;

		data = dm_bufio_read(ic->bufio, block, &b);
		if (IS_ERR(data))
			return PTR_ERR(data);
		if (write) {
			if (memcmp(data + off, buf, n)) {
				memcpy(data + off, buf, n);
				dm_bufio_mark_partial_buffer_dirty(b, off, off + n);
			}
		} else {
			memcpy(buf, data + off, n);
		}
		dm_bufio_release(b);
		byte += n;
		buf += n;
		len -= n;
	}
	return 0;
}

/* The profile dm-crypt looks for: opaque tags, one per block. */
void itg_profile_limits(struct itg_c *ic, struct queue_limits *limits)
{
	if (itg_has_hash(ic))
		return;
	dmx_set_integrity_limits(limits, ic->tag_size,
				 ic->log2_spb + SECTOR_SHIFT);
}

int itg_profile_register(struct itg_c *ic)
{
	if (itg_has_hash(ic))
		return 0;
	return dmx_register_integrity(ic->ti, ic->tag_size,
				      ic->log2_spb + SECTOR_SHIFT);
}
