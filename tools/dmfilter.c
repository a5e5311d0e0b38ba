// SPDX-License-Identifier: GPL-2.0
/*
 * dmfilter: attach, detach, list and talk to dm-filter filters through
 * /dev/dm-filter-control.  See tools/dmfilter.8.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <linux/dm-filter.h>

#define CONTROL "/dev/" DMF_CONTROL_NAME

static const char *prog = "dmfilter";
static int quiet;

static void print_usage(FILE *out)
{
	fprintf(out,
		"usage: %s [-q] COMMAND [ARGS]\n"
		"\n"
		"commands:\n"
		"  version                         kernel and tool interface versions\n"
		"  types                           filter types: NAME<TAB>VERSION\n"
		"  attach DEVICE TYPE [ARG...]     attach a filter; prints its id\n"
		"  detach DEVICE ID|TYPE           detach a filter (TYPE: the last of that type)\n"
		"  list [DEVICE]                   attached filters, one per line:\n"
		"                                  MAJ:MIN<TAB>ID<TAB>POS<TAB>TYPE<TAB>VERSION<TAB>ARGS<TAB>STATUS\n"
		"  status DEVICE ID|TYPE           the status line of one filter\n"
		"  message DEVICE ID|TYPE WORD...  send a message; prints the answer\n"
		"\n"
		"DEVICE is a block device path or MAJOR:MINOR.  Exit status: 0 ok,\n"
		"1 the kernel refused, 2 usage error.\n"
		"Filter types: pass [defer] | cbt [BLOCK_SIZE] | guard [ro] {w|rw START SECTORS}...\n",
		prog);
}

static void err(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int open_control(void)
{
	int fd = open(CONTROL, O_RDWR | O_CLOEXEC);

	if (fd >= 0)
		return fd;
	if (errno == ENOENT || errno == ENXIO || errno == ENODEV)
		err("cannot open %s: %s; is the module loaded? (modprobe dm-filter)",
		    CONTROL, strerror(errno));
	else if (errno == EACCES || errno == EPERM)
		err("cannot open %s: %s; run as root", CONTROL, strerror(errno));
	else
		err("cannot open %s: %s", CONTROL, strerror(errno));
	exit(1);
}

static struct dmf_ioctl *new_req(size_t payload)
{
	size_t size = sizeof(struct dmf_ioctl) + payload;
	struct dmf_ioctl *p = calloc(1, size);

	if (!p) {
		err("out of memory");
		exit(1);
	}
	p->version[0] = DMF_VERSION_MAJOR;
	p->version[1] = DMF_VERSION_MINOR;
	p->version[2] = DMF_VERSION_PATCH;
	p->data_size = size;
	return p;
}

/* DEVICE into p: a path (checked here for a clearer message) or MAJ:MIN. */
static void set_device(struct dmf_ioctl *p, const char *dev)
{
	unsigned int maj, min;
	struct stat st;
	char c;

	if (sscanf(dev, "%u:%u%c", &maj, &min, &c) == 2) {
		p->major = maj;
		p->minor = min;
		return;
	}
	if (stat(dev, &st)) {
		err("%s: %s; give a block device path or MAJOR:MINOR", dev,
		    strerror(errno));
		exit(2);
	}
	if (!S_ISBLK(st.st_mode)) {
		err("%s is not a block device", dev);
		exit(2);
	}
	if (strlen(dev) >= sizeof(p->path)) {
		/* Too long for the path field: use the number. */
		p->major = major(st.st_rdev);
		p->minor = minor(st.st_rdev);
		return;
	}
	snprintf(p->path, sizeof(p->path), "%s", dev);
}

/* ID or TYPE into p. */
static void set_filter(struct dmf_ioctl *p, const char *which)
{
	char *end;
	unsigned long id = strtoul(which, &end, 10);

	if (*which && !*end) {
		if (!id || id > 0xffffffffUL) {
			err("filter id %s is out of range", which);
			exit(2);
		}
		p->id = id;
		return;
	}
	if (strlen(which) >= sizeof(p->type)) {
		err("filter type name '%s' is too long", which);
		exit(2);
	}
	snprintf(p->type, sizeof(p->type), "%s", which);
}

static const char *hint(unsigned long cmd, int e)
{
	switch (e) {
	case EBUSY:
		return cmd == DMF_ATTACH ?
		       "another module hooks submit_bio_noacct; see dmesg" :
		       "busy";
	case ENOENT:
		return cmd == DMF_ATTACH ? "no such filter type or device" :
		       "no such filter on that device (see 'dmfilter list')";
	case ENXIO:
	case ENODEV:
		return "no such device";
	case EACCES:
	case EPERM:
		return "needs root (CAP_SYS_ADMIN)";
	default:
		return NULL;
	}
}

/*
 * Run one ioctl; grows the buffer and retries while the kernel says it is
 * full.  Exits with a message on failure.
 */
static struct dmf_ioctl *run(int fd, unsigned long cmd, struct dmf_ioctl *p,
			     const char *what)
{
	const char *h;
	size_t size;

	for (;;) {
		size = p->data_size;
		if (ioctl(fd, cmd, p) == 0) {
			if (!(p->flags & DMF_BUFFER_FULL_FLAG))
				return p;
			/* Retry with what the kernel asked for, at least double. */
			if (p->data_size < 2 * size)
				p->data_size = 2 * size;
			if (p->data_size > DMF_MAX_DATA_SIZE) {
				if (size >= DMF_MAX_DATA_SIZE) {
					err("%s: answer larger than %u bytes", what,
					    DMF_MAX_DATA_SIZE);
					exit(1);
				}
				p->data_size = DMF_MAX_DATA_SIZE;
			}
			size = p->data_size;
			p = realloc(p, size);
			if (!p) {
				err("out of memory");
				exit(1);
			}
			p->flags = 0;
			p->count = 0;
			p->data_size = size;
			continue;
		}
		break;
	}
	if (errno == EINVAL && p->version[0] != DMF_VERSION_MAJOR) {
		err("%s: kernel interface version %u.%u.%u, tool %u.%u.%u: use a matching dmfilter",
		    what, p->version[0], p->version[1], p->version[2],
		    DMF_VERSION_MAJOR, DMF_VERSION_MINOR, DMF_VERSION_PATCH);
		exit(1);
	}
	if ((cmd == DMF_ATTACH || cmd == DMF_MESSAGE) &&
	    p->data_size > sizeof(*p) && p->data[0]) {
		p->data[p->data_size - sizeof(*p) - 1] = '\0';
		err("%s: %s (%s)", what, p->data, strerror(errno));
	} else {
		h = hint(cmd, errno);
		err("%s: %s%s%s", what, strerror(errno), h ? "; " : "", h ?: "");
	}
	exit(1);
}

/*
 * A request whose payload is the words joined by spaces, with room for at
 * least @min_payload bytes (the kernel writes its answer or its reason for
 * a refusal into the same buffer).
 */
static struct dmf_ioctl *new_req_words(int argc, char **argv, size_t min_payload)
{
	struct dmf_ioctl *p;
	size_t n = 1;
	int i;

	for (i = 0; i < argc; i++)
		n += strlen(argv[i]) + 1;
	p = new_req(n > min_payload ? n : min_payload);
	for (i = 0; i < argc; i++) {
		if (i)
			strcat(p->data, " ");
		strcat(p->data, argv[i]);
	}
	return p;
}

static int cmd_version(int fd)
{
	struct dmf_ioctl *p = run(fd, DMF_VERSION, new_req(0), "version");

	printf("kernel %u.%u.%u\ntool %u.%u.%u\n", p->version[0],
	       p->version[1], p->version[2], DMF_VERSION_MAJOR,
	       DMF_VERSION_MINOR, DMF_VERSION_PATCH);
	free(p);
	return 0;
}

static int cmd_types(int fd)
{
	struct dmf_ioctl *p = run(fd, DMF_LIST_TYPES, new_req(4096), "types");
	size_t off = 0, cap = p->data_size - sizeof(*p);
	unsigned int i;

	for (i = 0; i < p->count && off + sizeof(struct dmf_type_spec) <= cap; i++) {
		struct dmf_type_spec *t = (void *)(p->data + off);

		printf("%.*s\t%u.%u.%u\n", DMF_NAME_LEN, t->name, t->version[0],
		       t->version[1], t->version[2]);
		if (!t->next)
			break;
		off += t->next;
	}
	free(p);
	return 0;
}

static int cmd_attach(int fd, int argc, char **argv)
{
	struct dmf_ioctl *p;

	if (argc < 2) {
		print_usage(stderr);
		return 2;
	}
	p = new_req_words(argc - 2, argv + 2, 256);
	set_device(p, argv[0]);
	if (strlen(argv[1]) >= sizeof(p->type)) {
		err("filter type name '%s' is too long", argv[1]);
		return 2;
	}
	snprintf(p->type, sizeof(p->type), "%s", argv[1]);
	p = run(fd, DMF_ATTACH, p, "attach");
	printf("%u\n", p->id);
	free(p);
	return 0;
}

static int cmd_detach(int fd, int argc, char **argv)
{
	struct dmf_ioctl *p;

	if (argc != 2) {
		print_usage(stderr);
		return 2;
	}
	p = new_req(0);
	set_device(p, argv[0]);
	set_filter(p, argv[1]);
	free(run(fd, DMF_DETACH, p, "detach"));
	return 0;
}

/* print: 0 every field, 1 status of the one matching filter */
static int cmd_list(int fd, const char *dev, const char *which)
{
	struct dmf_ioctl *p = new_req(16384), *f = NULL;
	size_t off = 0, cap;
	unsigned int i;
	int found = 0;

	if (dev)
		set_device(p, dev);
	if (which) {
		f = new_req(0);
		set_filter(f, which);
	}
	p = run(fd, DMF_LIST, p, "listing filters");
	cap = p->data_size - sizeof(*p);
	for (i = 0; i < p->count && off + sizeof(struct dmf_filter_spec) <= cap; i++) {
		struct dmf_filter_spec *s = (void *)(p->data + off);
		const char *args = s->strings;
		const char *status = args + strlen(args) + 1;

		if (!f) {
			printf("%u:%u\t%u\t%u\t%.*s\t%u.%u.%u\t%s\t%s\n",
			       s->major, s->minor, s->id, s->position,
			       DMF_NAME_LEN, s->type, s->version[0],
			       s->version[1], s->version[2], args, status);
		} else if (f->id ? s->id == f->id : !strcmp(s->type, f->type)) {
			/* By type: the last one, as detach and message do. */
			if (f->id || !found)
				found = 1;
			if (f->id) {
				printf("%s\n", status);
				break;
			}
		}
		if (!s->next)
			break;
		off += s->next;
	}
	if (f && !f->id && found) {
		/* Second pass for the last filter of the type. */
		const char *last = NULL;

		off = 0;
		for (i = 0; i < p->count; i++) {
			struct dmf_filter_spec *s = (void *)(p->data + off);

			if (!strcmp(s->type, f->type))
				last = s->strings + strlen(s->strings) + 1;
			if (!s->next)
				break;
			off += s->next;
		}
		printf("%s\n", last);
	}
	if (f && !found) {
		err("status: no filter %s on %s (see 'dmfilter list')", which, dev);
		return 1;
	}
	free(f);
	free(p);
	return 0;
}

static int cmd_message(int fd, int argc, char **argv)
{
	struct dmf_ioctl *p;

	if (argc < 3) {
		print_usage(stderr);
		return 2;
	}
	p = new_req_words(argc - 2, argv + 2, 65536);
	set_device(p, argv[0]);
	set_filter(p, argv[1]);
	p = run(fd, DMF_MESSAGE, p, "message");
	p->data[p->data_size - sizeof(*p) - 1] = '\0';
	if (p->data[0]) {
		fputs(p->data, stdout);
		if (p->data[strlen(p->data) - 1] != '\n')
			fputc('\n', stdout);
	}
	free(p);
	return 0;
}

int main(int argc, char **argv)
{
	const char *cmd;
	int fd, opt;

	while ((opt = getopt(argc, argv, "+qh")) != -1) {
		switch (opt) {
		case 'q':
			quiet = 1;
			break;
		case 'h':
			print_usage(stdout);
			return 0;
		default:
			print_usage(stderr);
			return 2;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1) {
		print_usage(stderr);
		return 2;
	}
	cmd = argv[0];
	argc--;
	argv++;
	if (!strcmp(cmd, "help")) {
		print_usage(stdout);
		return 0;
	}
	if (strcmp(cmd, "version") && strcmp(cmd, "types") &&
	    strcmp(cmd, "attach") && strcmp(cmd, "detach") &&
	    strcmp(cmd, "list") && strcmp(cmd, "status") &&
	    strcmp(cmd, "message")) {
		err("unknown command '%s' (try '%s help')", cmd, prog);
		return 2;
	}
	fd = open_control();
	if (!strcmp(cmd, "version"))
		return cmd_version(fd);
	if (!strcmp(cmd, "types"))
		return cmd_types(fd);
	if (!strcmp(cmd, "attach"))
		return cmd_attach(fd, argc, argv);
	if (!strcmp(cmd, "detach"))
		return cmd_detach(fd, argc, argv);
	if (!strcmp(cmd, "list")) {
		if (argc > 1) {
			print_usage(stderr);
			return 2;
		}
		return cmd_list(fd, argc ? argv[0] : NULL, NULL);
	}
	if (!strcmp(cmd, "status")) {
		if (argc != 2) {
			print_usage(stderr);
			return 2;
		}
		return cmd_list(fd, argv[0], argv[1]);
	}
	return cmd_message(fd, argc, argv);
}
