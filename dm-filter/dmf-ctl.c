// SPDX-License-Identifier: GPL-2.0
/*
 * dm-filter control device: /dev/dm-filter-control and its ioctls
 * (include/uapi/linux/dm-filter.h).
 *
 * Every command copies the fixed header, checks it (command number and
 * size, version, buffer size, flags, reserved fields, terminated strings),
 * then copies the whole buffer once and works on that copy only.
 */
#include <linux/miscdevice.h>
#include <linux/uaccess.h>
#include <linux/slab.h>
#include <linux/mm.h>
#include <linux/string.h>
#include <linux/capability.h>
#include <linux/ctype.h>
#include <uapi/linux/dm-filter.h>
#include "dmf-internal.h"

/* Status and argument strings of one filter in a listing. */
#define DMF_STATUS_LEN	1024

struct dmf_out {
	char *buf;		/* payload */
	size_t cap;		/* payload bytes available */
	size_t used;		/* payload bytes needed (may exceed cap) */
	u32 count;
	u32 last;		/* offset of the last record, for 'next' */
	bool any;
};

/* Reserve len bytes (8-byte aligned) for a record; NULL once full. */
static void *dmf_out_record(struct dmf_out *o, size_t len)
{
	size_t off = ALIGN(o->used, 8);
	void *rec = NULL;

	if (off + len <= o->cap) {
		rec = o->buf + off;
		memset(rec, 0, len);
		if (o->any)
			*(__u32 *)(o->buf + o->last) = off - o->last;
		o->last = off;
		o->any = true;
		o->count++;
	}
	o->used = off + len;
	return rec;
}

static int dmf_list_type(struct dmf_filter_type *t, void *data)
{
	struct dmf_type_spec *spec = dmf_out_record(data, sizeof(*spec));

	if (spec) {
		memcpy(spec->version, t->version, sizeof(spec->version));
		strscpy(spec->name, t->name, sizeof(spec->name));
	}
	return 0;
}

static int dmf_list_filters(struct dmf_device *d, struct dmf_out *o,
			    char *status)
{
	struct dmf_filter_spec *spec;
	struct dmf_filter *f;
	size_t alen, slen;
	u32 pos = 0;

	list_for_each_entry(f, &d->filters, list) {
		status[0] = '\0';
		if (f->type->status)
			f->type->status(f, status, DMF_STATUS_LEN);
		alen = strlen(f->args) + 1;
		slen = strnlen(status, DMF_STATUS_LEN - 1) + 1;
		spec = dmf_out_record(o, sizeof(*spec) + alen + slen);
		if (spec) {
			spec->major = MAJOR(d->dev);
			spec->minor = MINOR(d->dev);
			spec->id = f->id;
			spec->position = pos;
			memcpy(spec->version, f->type->version,
			       sizeof(spec->version));
			strscpy(spec->type, f->type->name, sizeof(spec->type));
			memcpy(spec->strings, f->args, alen);
			memcpy(spec->strings + alen, status, slen - 1);
			spec->strings[alen + slen - 1] = '\0';
		}
		pos++;
	}
	return 0;
}

/* All filters of dev, or of every device when dev is 0. */
static int dmf_ctl_list(dev_t dev, struct dmf_out *o)
{
	struct dmf_device *d;
	char *status;

	status = kmalloc(DMF_STATUS_LEN, GFP_KERNEL);
	if (!status)
		return -ENOMEM;
	list_for_each_entry(d, &dmf_devices, node) {
		if (dev && d->dev != dev)
			continue;
		dmf_list_filters(d, o, status);
	}
	kfree(status);
	return 0;
}

static int dmf_ctl_message(struct dmf_ioctl *p, dev_t dev, struct dmf_out *o)
{
	struct dmf_filter *f;
	char **argv;
	int argc, r;

	f = dmf_find_filter(dev, p->id, p->type);
	if (!f) {
		o->used = scnprintf(o->buf, o->cap, "no such filter on %u:%u",
				    MAJOR(dev), MINOR(dev)) + 1;
		return -ENOENT;
	}
	if (!f->type->message) {
		o->used = scnprintf(o->buf, o->cap, "%s takes no messages",
				    f->type->name) + 1;
		return -EINVAL;
	}
	argv = argv_split(GFP_KERNEL, o->buf, &argc);
	if (!argv)
		return -ENOMEM;
	if (!argc) {
		argv_free(argv);
		o->used = scnprintf(o->buf, o->cap, "empty message") + 1;
		return -EINVAL;
	}
	o->buf[0] = '\0';
	r = f->type->message(f, argc, argv, o->buf, o->cap);
	argv_free(argv);
	o->buf[o->cap - 1] = '\0';
	o->used = strlen(o->buf) + 1;
	return r;
}

static int dmf_resolve_dev(struct dmf_ioctl *p, dev_t *dev)
{
	int r;

	if (p->path[0]) {
		if (p->major || p->minor)
			return -EINVAL;
		r = lookup_bdev(p->path, dev);
		return r;
	}
	if (p->major > MAJOR(~0U) || p->minor > MINORMASK)
		return -EINVAL;
	*dev = MKDEV(p->major, p->minor);
	return 0;
}

static bool dmf_terminated(const char *s, size_t len)
{
	return memchr(s, '\0', len);
}

/* Filter type names: letters, digits, '-' and '_' (a module name part). */
static bool dmf_type_name_ok(const char *name)
{
	for (; *name; name++)
		if (!isalnum(*name) && *name != '-' && *name != '_')
			return false;
	return true;
}

static bool dmf_header_ok(const struct dmf_ioctl *h)
{
	int i;

	if (h->flags || h->reserved0)
		return false;
	for (i = 0; i < ARRAY_SIZE(h->reserved); i++)
		if (h->reserved[i])
			return false;
	return dmf_terminated(h->type, sizeof(h->type)) &&
	       dmf_terminated(h->path, sizeof(h->path)) &&
	       dmf_type_name_ok(h->type);
}

static long dmf_ctl_ioctl(struct file *file, unsigned int cmd,
			  unsigned long arg)
{
	struct dmf_ioctl __user *user = (void __user *)arg;
	const u32 version[3] = { DMF_VERSION_MAJOR, DMF_VERSION_MINOR,
				 DMF_VERSION_PATCH };
	struct dmf_ioctl hdr, *p;
	struct dmf_out o = { };
	unsigned int nr = _IOC_NR(cmd);
	size_t payload;
	dev_t dev = 0;
	u32 id = 0;
	int r;

	if (_IOC_TYPE(cmd) != DMF_IOCTL_MAGIC ||
	    cmd != _IOWR(DMF_IOCTL_MAGIC, nr, struct dmf_ioctl) ||
	    nr > DMF_MESSAGE_CMD)
		return -ENOTTY;
	if (!capable(CAP_SYS_ADMIN))
		return -EACCES;
	if (copy_from_user(&hdr, user, sizeof(hdr)))
		return -EFAULT;
	if (hdr.version[0] != DMF_VERSION_MAJOR ||
	    hdr.version[1] > DMF_VERSION_MINOR) {
		/* Say which version this is, then refuse. */
		if (copy_to_user(user->version, version, sizeof(version)))
			return -EFAULT;
		return -EINVAL;
	}
	if (hdr.data_size < sizeof(hdr))
		return -EINVAL;
	if (hdr.data_size > DMF_MAX_DATA_SIZE)
		return -E2BIG;
	if (!dmf_header_ok(&hdr))
		return -EINVAL;

	p = kvmalloc(hdr.data_size, GFP_KERNEL);
	if (!p)
		return -ENOMEM;
	payload = hdr.data_size - sizeof(hdr);
	/* The header as checked, whatever user space changed since. */
	memcpy(p, &hdr, sizeof(hdr));
	r = -EFAULT;
	if (copy_from_user(p->data, user->data, payload))
		goto out_free;
	o.buf = p->data;
	o.cap = payload;

	if (nr == DMF_ATTACH_CMD || nr == DMF_MESSAGE_CMD) {
		r = -EINVAL;
		if (!payload || !dmf_terminated(p->data, payload))
			goto out_free;
		if (nr == DMF_ATTACH_CMD && !p->type[0])
			goto out_free;
	}
	if (nr == DMF_DETACH_CMD || nr == DMF_MESSAGE_CMD) {
		r = -EINVAL;
		if (!p->id && !p->type[0])
			goto out_free;
	}
	if (nr >= DMF_ATTACH_CMD) {
		r = dmf_resolve_dev(p, &dev);
		if (r)
			goto out_free;
		r = -ENODEV;
		if (!dev && nr != DMF_LIST_CMD)
			goto out_free;
	}

	p->count = 0;
	switch (nr) {
	case DMF_VERSION_CMD:
		r = 0;
		break;
	case DMF_LIST_TYPES_CMD:
		r = dmf_iterate_types(dmf_list_type, &o);
		break;
	case DMF_ATTACH_CMD:
		r = dmf_attach(dev, p->type, p->data, &id, p->data, payload);
		if (r)
			o.used = payload ? strnlen(p->data, payload - 1) + 1 : 0;
		p->id = id;
		break;
	case DMF_DETACH_CMD:
		mutex_lock(&dmf_ctl_mutex);
		dmf_check_now();
		r = dmf_detach(dev, p->id, p->type);
		mutex_unlock(&dmf_ctl_mutex);
		break;
	case DMF_LIST_CMD:
		mutex_lock(&dmf_ctl_mutex);
		dmf_check_now();
		r = dmf_ctl_list(dev, &o);
		mutex_unlock(&dmf_ctl_mutex);
		break;
	case DMF_MESSAGE_CMD:
		mutex_lock(&dmf_ctl_mutex);
		dmf_check_now();
		r = dmf_ctl_message(p, dev, &o);
		mutex_unlock(&dmf_ctl_mutex);
		break;
	}

	memcpy(p->version, version, sizeof(version));
	p->count = o.count;
	if (o.used > o.cap) {
		p->flags |= DMF_BUFFER_FULL_FLAG;
		p->data_size = min_t(size_t, sizeof(hdr) + o.used,
				     DMF_MAX_DATA_SIZE);
		o.used = 0;
	}
	if (copy_to_user(user, p, sizeof(hdr) + min(o.used, o.cap)))
		r = -EFAULT;
out_free:
	kvfree(p);
	return r;
}

static const struct file_operations dmf_ctl_fops = {
	.owner = THIS_MODULE,
	.open = nonseekable_open,
	.unlocked_ioctl = dmf_ctl_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

static struct miscdevice dmf_ctl_dev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = DMF_CONTROL_NAME,
	.fops = &dmf_ctl_fops,
	.mode = 0600,
};

int dmf_ctl_init(void)
{
	return misc_register(&dmf_ctl_dev);
}

void dmf_ctl_exit(void)
{
	misc_deregister(&dmf_ctl_dev);
}
