// SPDX-License-Identifier: GPL-2.0
/*
 * dm-integrity (out of tree): the engine behind internal_hash.
 *
 * A tag is H([salt] || le64 sector || block), cut or zero-padded to the tag
 * size.  H is used through one of the two crypto interfaces:
 *
 *  - crypto_shash, synchronous, on the caller's stack;
 *  - crypto_ahash, possibly asynchronous (an offload engine).  Everything a
 *    request needs (request, scatterlist, le64 sector, digest) lives in a
 *    struct itg_hreq: in the per-bio data for bios, preallocated for the
 *    work done without a bio (recalculation, journal replay), so that no
 *    memory is allocated on the I/O path.  The caller sleeps until the
 *    request completes; the completion callback only wakes it, as it may
 *    run in softirq or interrupt context.
 */
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/random.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/vmalloc.h>

#include "dm-integrity.h"

enum itg_hash_iface {
	ITG_HASH_AUTO,
	ITG_HASH_SHASH,
	ITG_HASH_AHASH,
	ITG_HASH_CRYPTD,
};

static const char * const itg_hash_iface_names[] = {
	[ITG_HASH_AUTO] = "auto",
	[ITG_HASH_SHASH] = "shash",
	[ITG_HASH_AHASH] = "ahash",
	[ITG_HASH_CRYPTD] = "cryptd",
};

static int itg_hash_iface = ITG_HASH_AUTO;

static int itg_hash_iface_set(const char *val, const struct kernel_param *kp)
{
	int i = sysfs_match_string(itg_hash_iface_names, val);

	if (i < 0)
		return -EINVAL;
	WRITE_ONCE(*(int *)kp->arg, i);
	return 0;
}

static int itg_hash_iface_get(char *buf, const struct kernel_param *kp)
{
	return scnprintf(buf, PAGE_SIZE, "%s\n",
			 itg_hash_iface_names[READ_ONCE(*(int *)kp->arg)]);
}

static const struct kernel_param_ops itg_hash_iface_ops = {
	.set = itg_hash_iface_set,
	.get = itg_hash_iface_get,
};

/* Read at each table load: changing it affects the tables loaded after. */
module_param_cb(hash_interface, &itg_hash_iface_ops, &itg_hash_iface, 0644);
MODULE_PARM_DESC(hash_interface,
		 "Testing knob: crypto interface of internal_hash: auto (default: shash, or ahash if it comes from another driver), shash, ahash (the shash's driver through the ahash interface), or cryptd (the algorithm's driver wrapped in cryptd, always asynchronous)");

/* The ahash request follows the itg_hreq, aligned as the crypto API wants. */
#define ITG_HREQ_REQ_OFFSET \
	ALIGN(sizeof(struct itg_hreq), __alignof__(struct ahash_request))

static struct ahash_request *itg_hreq_req(struct itg_hreq *hr)
{
	return (void *)((u8 *)hr + ITG_HREQ_REQ_OFFSET);
}

static const char *itg_hash_driver(struct itg_hash *h)
{
	if (h->shash)
		return crypto_tfm_alg_driver_name(crypto_shash_tfm(h->shash));
	return crypto_tfm_alg_driver_name(crypto_ahash_tfm(h->ahash));
}

static int itg_hash_setkey(struct itg_hash *h, struct itg_alg *a)
{
	u32 flags;

	if (a->key) {
		if (h->shash)
			return crypto_shash_setkey(h->shash, a->key, a->key_size);
		return crypto_ahash_setkey(h->ahash, a->key, a->key_size);
	}
	flags = h->shash ? crypto_shash_get_flags(h->shash) :
			   crypto_ahash_get_flags(h->ahash);
	return flags & CRYPTO_TFM_NEED_KEY ? -ENOKEY : 0;
}

static struct crypto_ahash *itg_alloc_ahash(const char *name)
{
	struct crypto_ahash *t = crypto_alloc_ahash(name, 0,
						    CRYPTO_ALG_ALLOCATES_MEMORY);

	return IS_ERR(t) ? NULL : t;
}

/*
 * hash_interface=cryptd: the driver the name resolves to, behind cryptd, so
 * that every request completes from cryptd's worker.  A name with no
 * synchronous implementation already is asynchronous and is used as it is.
 */
static int itg_alloc_cryptd(struct itg_c *ic, struct crypto_shash *s,
			    const char **error)
{
	char name[CRYPTO_MAX_ALG_NAME];

	if (!s) {
		ic->hash.ahash = itg_alloc_ahash(ic->hash_alg.name);
		return 0;
	}
	if (snprintf(name, sizeof(name), "cryptd(%s)",
		     crypto_tfm_alg_driver_name(crypto_shash_tfm(s))) >= sizeof(name)) {
		*error = "Invalid internal hash: name too long for cryptd";
		return -ENAMETOOLONG;
	}
	ic->hash.ahash = itg_alloc_ahash(name);
	if (!ic->hash.ahash) {
		*error = "Invalid internal hash: cannot allocate it through cryptd";
		return -ENOENT;
	}
	return 0;
}

/*
 * Whether the ahash @a is worth more than the shash @s: only if it comes
 * from another driver.  From the same driver it only wraps the shash.  A
 * cryptd instance (registered under the algorithm's name, with a higher
 * priority, by whoever used one first) is a software wrapper too, not an
 * offload engine.
 */
static bool itg_ahash_offloads(struct crypto_shash *s, struct crypto_ahash *a)
{
	const char *sd = crypto_tfm_alg_driver_name(crypto_shash_tfm(s));
	const char *ad = crypto_tfm_alg_driver_name(crypto_ahash_tfm(a));

	return strcmp(sd, ad) && strncmp(ad, "cryptd(", strlen("cryptd("));
}

static const char itg_err_async_only[] =
	"Invalid internal hash: asynchronous only, but hash_interface=shash";

/* Choose shash or ahash for the table's internal_hash (see the parameter). */
int itg_hash_setup(struct itg_c *ic, const char **error)
{
	struct itg_hash *h = &ic->hash;
	struct itg_alg *a = &ic->hash_alg;
	int iface = READ_ONCE(itg_hash_iface);
	struct crypto_shash *s;
	int r = 0;

	if (!a->name)
		return 0;
	h->iface = itg_hash_iface_names[iface];
	s = crypto_alloc_shash(a->name, 0, CRYPTO_ALG_ALLOCATES_MEMORY);
	if (IS_ERR(s))
		s = NULL;

	switch (iface) {
	case ITG_HASH_AUTO:
		h->ahash = itg_alloc_ahash(a->name);
		if (s && h->ahash && !itg_ahash_offloads(s, h->ahash)) {
			crypto_free_ahash(h->ahash);
			h->ahash = NULL;
		}
		if (!h->ahash) {
			h->shash = s;
			s = NULL;
		}
		break;
	case ITG_HASH_SHASH:
		if (!s) {
			h->ahash = itg_alloc_ahash(a->name);
			if (h->ahash) {
				*error = itg_err_async_only;
				r = -ENOENT;
				goto out;
			}
		}
		h->shash = s;
		s = NULL;
		break;
	case ITG_HASH_AHASH:
		/*
		 * The shash's own driver through the ahash interface: by name,
		 * a cryptd instance someone made earlier could be picked.
		 */
		h->ahash = itg_alloc_ahash(s ? crypto_tfm_alg_driver_name(crypto_shash_tfm(s)) :
					   a->name);
		break;
	case ITG_HASH_CRYPTD:
		r = itg_alloc_cryptd(ic, s, error);
		if (r)
			goto out;
		break;
	}
	if (!h->shash && !h->ahash) {
		DMERR("internal hash %s: no such algorithm", a->name);
		*error = "Invalid internal hash";
		r = -ENOENT;
		goto out;
	}
	r = itg_hash_setkey(h, a);
	if (r) {
		*error = "Error setting internal hash key";
		goto out;
	}
	if (h->shash) {
		ic->digest_size = crypto_shash_digestsize(h->shash);
	} else {
		ic->digest_size = crypto_ahash_digestsize(h->ahash);
		h->hreq_size = ITG_HREQ_REQ_OFFSET + sizeof(struct ahash_request) +
			       crypto_ahash_reqsize(h->ahash);
	}
	if (ic->digest_size > HASH_MAX_DIGESTSIZE) {
		*error = "Invalid internal hash: digest too big";
		r = -EINVAL;
		goto out;
	}
	DMINFO("%s: internal_hash %s: %s %s (hash_interface=%s)",
	       dm_device_name(dm_table_get_md(ic->ti->table)), a->name,
	       h->shash ? "shash" : "ahash", itg_hash_driver(h), h->iface);
out:
	if (s)
		crypto_free_shash(s);
	return r;
}

void itg_hash_free(struct itg_c *ic)
{
	if (ic->hash.shash)
		crypto_free_shash(ic->hash.shash);
	if (ic->hash.ahash)
		crypto_free_ahash(ic->hash.ahash);
	ic->hash.shash = NULL;
	ic->hash.ahash = NULL;
}

/*
 * The per-bio data: the struct itg_io, then (ahash only) an itg_hreq and
 * its request.  The total stays a multiple of the crypto alignment, so
 * that the request, counted from the end of the per-bio data, keeps it.
 */
unsigned int itg_hash_per_io_size(struct itg_c *ic)
{
	struct itg_hash *h = &ic->hash;

	if (!h->ahash)
		return ALIGN(sizeof(struct itg_io), __alignof__(struct ahash_request));
	h->hreq_offset = ALIGN(sizeof(struct itg_io), __alignof__(struct itg_hreq));
	return ALIGN(h->hreq_offset + h->hreq_size,
		     __alignof__(struct ahash_request));
}

/* A request for work without a bio; taken at ctr, before any I/O. */
struct itg_hreq *itg_hreq_alloc(struct itg_c *ic)
{
	return kzalloc(ic->hash.hreq_size, GFP_KERNEL);
}

void itg_hreq_free(struct itg_hreq *hr)
{
	kfree_sensitive(hr);
}

/* @len bytes of digest, zero-padded: a tag, or an inline-mode tuple. */
static void itg_digest_to_tag(struct itg_c *ic, u8 *digest, u8 *tag,
			      unsigned int len)
{
	if (ic->digest_size >= len) {
		memcpy(tag, digest, len);
	} else {
		memcpy(tag, digest, ic->digest_size);
		memset(tag + ic->digest_size, 0, len - ic->digest_size);
	}
	memzero_explicit(digest, ic->digest_size);
}

/* A tag that will not verify rather than a stale one. */
static void itg_hash_failed(struct itg_c *ic, int r, u8 *tag, unsigned int len)
{
	itg_error(ic, "hash", r);
	get_random_bytes(tag, len);
}

static void itg_shash_tag(struct itg_c *ic, sector_t sector, const u8 *data,
			  u8 *tag, unsigned int len)
{
	SHASH_DESC_ON_STACK(desc, ic->hash.shash);
	u8 digest[HASH_MAX_DIGESTSIZE];
	__le64 le = cpu_to_le64(sector);
	int r;

	desc->tfm = ic->hash.shash;
	r = crypto_shash_init(desc);
	if (!r && itg_sb_flag(ic, ITG_SB_FIXED_HMAC))
		r = crypto_shash_update(desc, ic->sb->salt, ITG_SALT_SIZE);
	if (!r)
		r = crypto_shash_update(desc, (u8 *)&le, sizeof(le));
	if (!r)
		r = crypto_shash_update(desc, data,
					ic->sectors_per_block << SECTOR_SHIFT);
	if (!r)
		r = crypto_shash_final(desc, digest);
	shash_desc_zero(desc);
	if (unlikely(r)) {
		itg_hash_failed(ic, r, tag, len);
		return;
	}
	itg_digest_to_tag(ic, digest, tag, len);
}

/* Salt and sector into hr->sg; returns the next free entry. */
static unsigned int itg_hreq_head(struct itg_c *ic, struct itg_hreq *hr,
				  sector_t sector)
{
	unsigned int i = 0;

	sg_init_table(hr->sg, ARRAY_SIZE(hr->sg));
	/* ic->sb is kmalloc()ed and the salt never changes once loaded. */
	if (itg_sb_flag(ic, ITG_SB_FIXED_HMAC))
		sg_set_buf(&hr->sg[i++], ic->sb->salt, ITG_SALT_SIZE);
	hr->sector = cpu_to_le64(sector);
	sg_set_buf(&hr->sg[i++], &hr->sector, sizeof(hr->sector));
	return i;
}

/* Run the request set up in hr->sg[0..n) and wait for it. */
static void itg_ahash_run(struct itg_c *ic, struct itg_hreq *hr,
			  unsigned int n, u8 *tag, unsigned int tag_len)
{
	struct ahash_request *req = itg_hreq_req(hr);
	unsigned int len = (ic->sectors_per_block << SECTOR_SHIFT) +
			   sizeof(hr->sector);
	int r;

	if (itg_sb_flag(ic, ITG_SB_FIXED_HMAC))
		len += ITG_SALT_SIZE;
	sg_mark_end(&hr->sg[n - 1]);
	ahash_request_set_tfm(req, ic->hash.ahash);
	crypto_init_wait(&hr->wait);
	ahash_request_set_callback(req, CRYPTO_TFM_REQ_MAY_SLEEP |
				   CRYPTO_TFM_REQ_MAY_BACKLOG,
				   crypto_req_done, &hr->wait);
	ahash_request_set_crypt(req, hr->sg, hr->digest, len);
	r = crypto_wait_req(crypto_ahash_digest(req), &hr->wait);
	if (unlikely(r)) {
		memzero_explicit(hr->digest, sizeof(hr->digest));
		itg_hash_failed(ic, r, tag, tag_len);
		return;
	}
	itg_digest_to_tag(ic, hr->digest, tag, tag_len);
}

/*
 * The tag of the block at @off in @page (within the page: bio segments are
 * single pages).  @hr is needed with ahash only.  May sleep.
 */
void itg_tag_page(struct itg_c *ic, struct itg_hreq *hr, sector_t sector,
		  struct page *page, unsigned int off, u8 *tag)
{
	itg_tuple_page(ic, hr, sector, page, off, tag, ic->tag_size);
}

/*
 * As itg_tag_page(), but @len bytes: the digest cut or zero-padded to the
 * tuple of inline mode, whose bytes past the tag hold the rest of the
 * digest, as the in-kernel target writes them.
 */
void itg_tuple_page(struct itg_c *ic, struct itg_hreq *hr, sector_t sector,
		    struct page *page, unsigned int off, u8 *tuple,
		    unsigned int len)
{
	unsigned int n;

	if (ic->hash.shash) {
		u8 *mem = kmap_local_page(page);

		itg_shash_tag(ic, sector, mem + off, tuple, len);
		kunmap_local(mem);
		return;
	}
	n = itg_hreq_head(ic, hr, sector);
	sg_set_page(&hr->sg[n++], page, ic->sectors_per_block << SECTOR_SHIFT,
		    off);
	itg_ahash_run(ic, hr, n, tuple, len);
}

/* The tag of the block at @data (kmalloc()ed or vmalloc()ed memory). */
void itg_tag_buf(struct itg_c *ic, struct itg_hreq *hr, sector_t sector,
		 const u8 *data, u8 *tag)
{
	unsigned int left = ic->sectors_per_block << SECTOR_SHIFT;
	unsigned int n;

	if (ic->hash.shash) {
		itg_shash_tag(ic, sector, data, tag, ic->tag_size);
		return;
	}
	n = itg_hreq_head(ic, hr, sector);
	/* A block is at most a page: it lies on one or two pages. */
	while (left) {
		unsigned int off = offset_in_page(data);
		unsigned int k = min_t(unsigned int, left, PAGE_SIZE - off);
		struct page *pg = is_vmalloc_addr(data) ? vmalloc_to_page(data) :
							  virt_to_page(data);

		sg_set_page(&hr->sg[n++], pg, k, off);
		data += k;
		left -= k;
	}
	itg_ahash_run(ic, hr, n, tag, ic->tag_size);
}

/* "dmsetup message <dev> 0 hash_info": which implementation computes tags. */
void itg_hash_info(struct itg_c *ic, char *result, unsigned int maxlen)
{
	struct itg_hash *h = &ic->hash;
	size_t sz = 0;

	if (!h->shash && !h->ahash) {
		DMEMIT("interface=none");
		return;
	}
	DMEMIT("interface=%s driver=%s alg=%s hash_interface=%s",
	       h->shash ? "shash" : "ahash", itg_hash_driver(h),
	       ic->hash_alg.name, h->iface);
}
