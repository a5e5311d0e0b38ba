/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * dm-filter control interface: /dev/dm-filter-control.
 *
 * Every ioctl takes a struct dmf_ioctl, followed in the same buffer by a
 * payload of (data_size - sizeof(struct dmf_ioctl)) bytes, in the spirit of
 * device-mapper's struct dm_ioctl.  The caller fills version[] with the
 * version it was built against; the kernel refuses a different major
 * version or a newer minor one with EINVAL and always writes its own
 * version back.
 *
 * Strings in the header (type, path) must be NUL-terminated inside their
 * fields; payload strings must be NUL-terminated inside data_size.  All
 * reserved fields must be zero.  When an answer does not fit, the kernel
 * sets DMF_BUFFER_FULL_FLAG, writes the size it needs into data_size and
 * returns 0: retry with a larger buffer.  When an attach or a message
 * fails, the payload holds the reason as a string.
 */
#ifndef _UAPI_LINUX_DM_FILTER_H
#define _UAPI_LINUX_DM_FILTER_H

#include <linux/types.h>
#include <linux/ioctl.h>

#define DMF_CONTROL_NAME	"dm-filter-control"

#define DMF_VERSION_MAJOR	1
#define DMF_VERSION_MINOR	0
#define DMF_VERSION_PATCH	0

#define DMF_NAME_LEN		32
#define DMF_PATH_LEN		256
/* Largest buffer (header and payload) the kernel accepts. */
#define DMF_MAX_DATA_SIZE	(1U << 20)

/* flags, out */
#define DMF_BUFFER_FULL_FLAG	(1U << 0)

struct dmf_ioctl {
	__u32 version[3];	/* in: caller's; out: kernel's */
	__u32 data_size;	/* whole buffer, this header included */
	__u32 flags;		/* in: 0; out: DMF_*_FLAG */
	__u32 major;		/* device, when path is empty */
	__u32 minor;
	__u32 id;		/* filter id (detach, message); out: attach */
	__u32 count;		/* out: records in the payload */
	__u32 reserved0;	/* must be zero */
	char type[DMF_NAME_LEN];	/* filter type name */
	char path[DMF_PATH_LEN];	/* device path, or "" to use major:minor */
	__u64 reserved[4];	/* must be zero */
	char data[];		/* payload */
};

/* DMF_LIST_TYPES record; records follow each other, 8-byte aligned. */
struct dmf_type_spec {
	__u32 next;		/* offset of the next record from this one, 0: last */
	__u32 version[3];
	char name[DMF_NAME_LEN];
};

/*
 * DMF_LIST record: one attached filter.  Followed by two NUL-terminated
 * strings: the arguments it was attached with and its status.
 */
struct dmf_filter_spec {
	__u32 next;		/* offset of the next record from this one, 0: last */
	__u32 major;
	__u32 minor;
	__u32 id;
	__u32 position;		/* 0: first to see a bio */
	__u32 version[3];
	char type[DMF_NAME_LEN];
	char strings[];		/* args "\0" status "\0" */
};

#define DMF_IOCTL_MAGIC		0xd7

enum {
	DMF_VERSION_CMD = 0,	/* version only */
	DMF_LIST_TYPES_CMD,	/* out: dmf_type_spec records */
	DMF_ATTACH_CMD,		/* in: device, type, payload = args; out: id */
	DMF_DETACH_CMD,		/* in: device, id (or 0 and type: topmost of it) */
	DMF_LIST_CMD,		/* in: device or 0:0 for all; out: dmf_filter_spec */
	DMF_MESSAGE_CMD,	/* in: device, id or type, payload = message; out: result */
};

#define DMF_VERSION	_IOWR(DMF_IOCTL_MAGIC, DMF_VERSION_CMD, struct dmf_ioctl)
#define DMF_LIST_TYPES	_IOWR(DMF_IOCTL_MAGIC, DMF_LIST_TYPES_CMD, struct dmf_ioctl)
#define DMF_ATTACH	_IOWR(DMF_IOCTL_MAGIC, DMF_ATTACH_CMD, struct dmf_ioctl)
#define DMF_DETACH	_IOWR(DMF_IOCTL_MAGIC, DMF_DETACH_CMD, struct dmf_ioctl)
#define DMF_LIST	_IOWR(DMF_IOCTL_MAGIC, DMF_LIST_CMD, struct dmf_ioctl)
#define DMF_MESSAGE	_IOWR(DMF_IOCTL_MAGIC, DMF_MESSAGE_CMD, struct dmf_ioctl)

#endif /* _UAPI_LINUX_DM_FILTER_H */
