// SPDX-License-Identifier: GPL-2.0
/*
 * dm-integrity (out of tree): journal_mac and journal_crypt.
 *
 * journal_mac: each section carries a MAC of ([salt || le64 section] if
 * fix_hmac) and the sector field of every entry, 8 bytes of it at the end
 * of each metadata sector.  It is computed on the plain section, before
 * encryption, and checked after decryption when the journal is replayed.
 *
 * journal_crypt has two flavours, chosen by the cipher's block size:
 *  - a stream cipher (block size 1) only serves to make a keystream once:
 *    zeroes the size of the journal (rounded up to a page) followed by the
 *    four commit ids are encrypted with a zero IV; the journal is xor-ed
 *    with the keystream at its own offset and the commit ids in use are the
 *    encrypted ones;
 *  - a block cipher encrypts every section whole, with the IV of section i
 *    being the encryption (zero IV) of le32 i zero-padded to one block.
 *
 * Everything the commit path needs (keystream or IVs, request, IV and
 * scatterlist) is allocated here at table load, so that committing a
 * section allocates no memory.
 */
#include <linux/mm.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/vmalloc.h>
#include <crypto/algapi.h>
#include <crypto/skcipher.h>

#include "dm-integrity.h"

#define ITG_JOURNAL_MAC_SIZE	(ITG_JOURNAL_MAC_PER_SECTOR * ITG_JOURNAL_META_SECTORS)

int itg_jmac_setup(struct itg_c *ic, const char **error)
{
	struct itg_alg *a = &ic->jmac_alg;
	struct crypto_shash *h;
	int r;

	if (!a->name)
		return 0;
	h = crypto_alloc_shash(a->name, 0, CRYPTO_ALG_ALLOCATES_MEMORY);
	if (IS_ERR(h)) {
		*error = "Invalid journal mac";
		return PTR_ERR(h);
	}
	ic->jmac = h;
	if (a->key) {
		r = crypto_shash_setkey(h, a->key, a->key_size);
		if (r) {
			*error = "Error setting journal mac key";
			return r;
		}
	} else if (crypto_shash_get_flags(h) & CRYPTO_TFM_NEED_KEY) {
		*error = "Error setting journal mac key";
		return -ENOKEY;
	}
	return 0;
}

/*
 * Superblock MAC (fix_hmac with journal_mac): the digest of the bytes of
 * sector 0 in front of it, stored at the end of sector 0.
 */
int itg_sb_mac(struct itg_c *ic, bool write)
{
	SHASH_DESC_ON_STACK(desc, ic->jmac);
	unsigned int size = crypto_shash_digestsize(ic->jmac);
	u8 *sb = (u8 *)ic->sb;
	u8 *mac = sb + SECTOR_SIZE - size;
	u8 digest[HASH_MAX_DIGESTSIZE];
	int r;

	if (size > HASH_MAX_DIGESTSIZE ||
	    sizeof(struct itg_superblock) + size > SECTOR_SIZE) {
		itg_error(ic, "digest is too long", -EINVAL);
		return -EINVAL;
	}
	desc->tfm = ic->jmac;
	r = crypto_shash_digest(desc, sb, mac - sb, write ? mac : digest);
	shash_desc_zero(desc);
	if (r) {
		itg_error(ic, "crypto_shash_digest", r);
		return r;
	}
	if (!write && crypto_memneq(mac, digest, size)) {
		atomic64_inc(&ic->mismatches);
		itg_error(ic, "superblock mac", -EILSEQ);
		return -EILSEQ;
	}
	return 0;
}

/* The MAC of plain section @section at @buf, 64 bytes, zero-padded. */
static void itg_section_mac(struct itg_c *ic, const u8 *buf,
			    unsigned int section, u8 *result)
{
	SHASH_DESC_ON_STACK(desc, ic->jmac);
	unsigned int size = crypto_shash_digestsize(ic->jmac);
	u8 digest[HASH_MAX_DIGESTSIZE];
	unsigned int n;
	int r;

	desc->tfm = ic->jmac;
	r = crypto_shash_init(desc);
	if (!r && itg_sb_flag(ic, ITG_SB_FIXED_HMAC)) {
		__le64 le = cpu_to_le64(section);

		r = crypto_shash_update(desc, ic->sb->salt, ITG_SALT_SIZE);
		if (!r)
			r = crypto_shash_update(desc, (u8 *)&le, sizeof(le));
	}
	for (n = 0; !r && n < ic->journal_section_entries; n++) {
		const u8 *je = buf + ((n % ITG_JOURNAL_META_SECTORS) << SECTOR_SHIFT) +
			       (n / ITG_JOURNAL_META_SECTORS) * ic->journal_entry_size;

		r = crypto_shash_update(desc, je, 8);
	}
	if (!r)
		r = crypto_shash_final(desc, digest);
	shash_desc_zero(desc);
	memset(result, 0, ITG_JOURNAL_MAC_SIZE);
	if (r) {
		/* Written as zeroes, as a MAC that will not verify. */
		itg_error(ic, "journal mac computation", r);
		return;
	}
	memcpy(result, digest, min_t(unsigned int, size, ITG_JOURNAL_MAC_SIZE));
	memzero_explicit(digest, sizeof(digest));
}

static u8 *itg_sector_mac(u8 *buf, unsigned int j)
{
	return buf + (j << SECTOR_SHIFT) + ITG_JOURNAL_SECTOR_DATA -
	       ITG_JOURNAL_MAC_PER_SECTOR;
}

/*
 * Check the MAC of plain section @section at @buf.  Like the in-kernel
 * target, every metadata sector whose MAC differs counts as a mismatch.
 */
bool itg_journal_mac_ok(struct itg_c *ic, u8 *buf, unsigned int section)
{
	u8 result[ITG_JOURNAL_MAC_SIZE];
	unsigned int j;
	bool ok = true;

	if (!ic->jmac)
		return true;
	itg_section_mac(ic, buf, section, result);
	for (j = 0; j < ITG_JOURNAL_META_SECTORS; j++) {
		if (crypto_memneq(itg_sector_mac(buf, j),
				  result + j * ITG_JOURNAL_MAC_PER_SECTOR,
				  ITG_JOURNAL_MAC_PER_SECTOR)) {
			atomic64_inc(&ic->mismatches);
			itg_error(ic, "journal mac", -EILSEQ);
			ok = false;
		}
	}
	return ok;
}

/* Scatterlist of @len bytes at @buf (vmalloc or linear memory). */
static unsigned int itg_fill_sg(struct scatterlist *sg, unsigned int nents,
				u8 *buf, size_t len)
{
	unsigned int n = 0;

	sg_init_table(sg, nents);
	while (len && n < nents) {
		unsigned int off = offset_in_page(buf);
		unsigned int step = min_t(size_t, len, PAGE_SIZE - off);
		struct page *p = is_vmalloc_addr(buf) ? vmalloc_to_page(buf) :
				 virt_to_page(buf);

		sg_set_page(&sg[n++], p, step, off);
		buf += step;
		len -= step;
	}
	if (n)
		sg_mark_end(&sg[n - 1]);
	return len ? 0 : n;
}

/* Encrypt or decrypt @len bytes in place; sleeps until it is done. */
static int itg_crypt(struct crypto_skcipher *tfm, struct skcipher_request *req,
		     struct scatterlist *sg, unsigned int len, u8 *iv,
		     bool encrypt)
{
	DECLARE_CRYPTO_WAIT(wait);
	int r;

	skcipher_request_set_callback(req, CRYPTO_TFM_REQ_MAY_BACKLOG |
				      CRYPTO_TFM_REQ_MAY_SLEEP,
				      crypto_req_done, &wait);
	skcipher_request_set_crypt(req, sg, sg, len, iv);
	r = encrypt ? crypto_skcipher_encrypt(req) : crypto_skcipher_decrypt(req);
	return crypto_wait_req(r, &wait);
}

/* Stream flavour: the keystream, and the commit ids encrypted after it. */
static int itg_make_keystream(struct itg_c *ic, struct crypto_skcipher *tfm,
			      const char **error)
{
	size_t len = round_up((size_t)ic->journal_sections * itg_section_bytes(ic),
			      PAGE_SIZE);
	unsigned int ivsize = crypto_skcipher_ivsize(tfm);
	unsigned int npages = len >> PAGE_SHIFT, i;
	struct skcipher_request *req;
	struct scatterlist *sg;
	u8 *iv;
	int r;

	ic->jxor = vzalloc(len);
	iv = kzalloc(max(ivsize, 1U), GFP_KERNEL);
	sg = kvmalloc_array(npages + 1, sizeof(*sg), GFP_KERNEL);
	req = skcipher_request_alloc(tfm, GFP_KERNEL);
	if (!ic->jxor || !iv || !sg || !req) {
		*error = "Could not allocate memory for journal xor";
		r = -ENOMEM;
		goto out;
	}
	sg_init_table(sg, npages + 1);
	for (i = 0; i < npages; i++)
		sg_set_page(&sg[i], vmalloc_to_page(ic->jxor + ((size_t)i << PAGE_SHIFT)),
			    PAGE_SIZE, 0);
	sg_set_buf(&sg[npages], ic->commit_ids, sizeof(ic->commit_ids));
	r = itg_crypt(tfm, req, sg, len + sizeof(ic->commit_ids), iv, true);
	if (r) {
		itg_error(ic, "encrypt", r);
		*error = "Unable to encrypt journal";
	}
out:
	skcipher_request_free(req);
	kvfree(sg);
	kfree(iv);
	return r;
}

/* Block flavour: the IV of every section, and what encrypting one needs. */
static int itg_make_section_ivs(struct itg_c *ic, struct crypto_skcipher *tfm,
				const char **error)
{
	unsigned int ivsize = crypto_skcipher_ivsize(tfm);
	unsigned int len = round_up(ivsize, crypto_skcipher_blocksize(tfm));
	struct scatterlist sg;
	unsigned int i;
	u8 *data;
	int r = 0;

	ic->jivsize = ivsize;
	ic->jsg_n = DIV_ROUND_UP(itg_section_bytes(ic), PAGE_SIZE) + 1;
	ic->jsg = kcalloc(ic->jsg_n, sizeof(*ic->jsg), GFP_KERNEL);
	ic->jreq = skcipher_request_alloc(tfm, GFP_KERNEL);
	ic->jiv = kzalloc(max(ivsize, 1U), GFP_KERNEL);
	ic->jivs = kvcalloc(ic->journal_sections, max(ivsize, 1U), GFP_KERNEL);
	data = kzalloc(max(len, 1U), GFP_KERNEL);
	if (!ic->jsg || !ic->jreq || !ic->jiv || !ic->jivs || !data) {
		*error = "Could not allocate memory for journal io";
		r = -ENOMEM;
		goto out;
	}
	for (i = 0; ivsize && i < ic->journal_sections; i++) {
		memset(data, 0, len);
		put_unaligned_le32(i, data);
		memset(ic->jiv, 0, ivsize);
		sg_init_one(&sg, data, len);
		r = itg_crypt(tfm, ic->jreq, &sg, len, ic->jiv, true);
		if (r) {
			itg_error(ic, "encrypt", r);
			*error = "Unable to generate iv";
			goto out;
		}
		memcpy(ic->jivs + (size_t)i * ivsize, data, ivsize);
	}
out:
	kfree_sensitive(data);
	return r;
}

/* Commit ids must stay distinct whatever the keystream made of them. */
static void itg_unique_commit_ids(struct itg_c *ic)
{
	unsigned int i, j;

	for (i = 1; i < ITG_N_COMMIT_IDS; i++) {
		j = 0;
		while (j < i) {
			if (ic->commit_ids[j] == ic->commit_ids[i]) {
				le64_add_cpu(&ic->commit_ids[i], 1);
				j = 0;
			} else {
				j++;
			}
		}
	}
}

/* Called at table load after the superblock is known (not in R or I mode). */
int itg_jcrypt_setup(struct itg_c *ic, const char **error)
{
	struct crypto_skcipher *tfm;
	int r;

	if (!ic->jcrypt_alg.name)
		return 0;
	tfm = crypto_alloc_skcipher(ic->jcrypt_alg.name, 0,
				    CRYPTO_ALG_ALLOCATES_MEMORY);
	if (IS_ERR(tfm)) {
		*error = "Invalid journal cipher";
		return PTR_ERR(tfm);
	}
	if (ic->jcrypt_alg.key) {
		r = crypto_skcipher_setkey(tfm, ic->jcrypt_alg.key,
					   ic->jcrypt_alg.key_size);
		if (r) {
			*error = "Error setting encryption key";
			goto bad;
		}
	}
	if (crypto_skcipher_blocksize(tfm) == 1) {
		r = itg_make_keystream(ic, tfm, error);
		/* The keystream is all that is needed from now on. */
		crypto_free_skcipher(tfm);
		if (r)
			return r;
	} else {
		ic->jcrypt = tfm;
		r = itg_make_section_ivs(ic, tfm, error);
		if (r)
			return r;
	}
	itg_unique_commit_ids(ic);
	return 0;
bad:
	crypto_free_skcipher(tfm);
	return r;
}

void itg_jcrypt_free(struct itg_c *ic)
{
	skcipher_request_free(ic->jreq);
	ic->jreq = NULL;
	if (ic->jcrypt)
		crypto_free_skcipher(ic->jcrypt);
	ic->jcrypt = NULL;
	kfree(ic->jsg);
	ic->jsg = NULL;
	kfree_sensitive(ic->jiv);
	ic->jiv = NULL;
	kvfree_sensitive(ic->jivs, (size_t)ic->journal_sections * max(ic->jivsize, 1U));
	ic->jivs = NULL;
	vfree(ic->jxor);
	ic->jxor = NULL;
	if (ic->jmac)
		crypto_free_shash(ic->jmac);
	ic->jmac = NULL;
}

/* En- or decrypt @n whole sections at @buf, the first being @first. */
static int itg_journal_crypt(struct itg_c *ic, u8 *buf, unsigned int first,
			     unsigned int n, bool encrypt)
{
	size_t sbytes = itg_section_bytes(ic);
	unsigned int i, nents;
	int r = 0;

	if (ic->jxor) {
		crypto_xor(buf, ic->jxor + first * sbytes, n * sbytes);
		return 0;
	}
	if (!ic->jcrypt)
		return 0;
	mutex_lock(&ic->jcrypt_lock);
	for (i = 0; i < n && !r; i++, buf += sbytes) {
		nents = itg_fill_sg(ic->jsg, ic->jsg_n, buf, sbytes);
		if (!nents) {
			r = -EINVAL;
			break;
		}
		memcpy(ic->jiv, ic->jivs + (size_t)(first + i) * ic->jivsize,
		       ic->jivsize);
		r = itg_crypt(ic->jcrypt, ic->jreq, ic->jsg, sbytes, ic->jiv,
			      encrypt);
	}
	mutex_unlock(&ic->jcrypt_lock);
	if (r)
		itg_error(ic, encrypt ? "encrypt" : "decrypt", r);
	return r;
}

/*
 * Make @n plain sections at @buf, starting with section @first, ready for
 * the disk: MACs in, then encrypted in place.
 */
int itg_journal_seal(struct itg_c *ic, u8 *buf, unsigned int first,
		     unsigned int n)
{
	u8 result[ITG_JOURNAL_MAC_SIZE];
	unsigned int i, j;

	for (i = 0; ic->jmac && i < n; i++) {
		u8 *sec = buf + i * itg_section_bytes(ic);

		itg_section_mac(ic, sec, first + i, result);
		for (j = 0; j < ITG_JOURNAL_META_SECTORS; j++)
			memcpy(itg_sector_mac(sec, j),
			       result + j * ITG_JOURNAL_MAC_PER_SECTOR,
			       ITG_JOURNAL_MAC_PER_SECTOR);
	}
	return itg_journal_crypt(ic, buf, first, n, true);
}

/* Decrypt @n sections read from the disk into @buf, in place. */
int itg_journal_unseal(struct itg_c *ic, u8 *buf, unsigned int first,
		       unsigned int n)
{
	return itg_journal_crypt(ic, buf, first, n, false);
}
