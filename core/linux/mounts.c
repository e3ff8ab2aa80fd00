/*
 * Which filesystem a descriptor is on, for core/scope.c's table: the mount
 * of the descriptor itself, found by its mount id (statx(2) STATX_MNT_ID,
 * or /proc/self/fdinfo), in /proc/self/mountinfo (proc(5)). Looking the
 * mount up by id, not by path, gives the right answer for bind mounts (the
 * same filesystem under another path), nested mounts and mount points with
 * escaped characters. Where /proc cannot be read, statfs(2)'s f_type gives
 * the type without the options (and the table is more careful).
 *
 * LOCKET_ACROSS_HOSTS asks at every acquisition: the answer is cached per
 * mount (mount id and device) for a second, so that an acquisition costs a
 * statx and a look in the cache, not a read of the mount table.
 */
#include "linux.h"
#include "posix/posix.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <unistd.h>

#ifndef STATX_MNT_ID
#define STATX_MNT_ID 0x00001000U
#endif

/* Undo the octal escapes (\040 space, \011 tab, \012 newline, \134
 * backslash) that the kernel writes in mountinfo's paths, in place. */
static void unescape(char *s)
{
	char *w = s;
	for (; *s != '\0'; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*w++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 | (s[3] - '0'));
			s += 3;
		} else {
			*w++ = *s;
		}
	}
	*w = '\0';
}

/* Split off the next space-separated field of *p (NULL at the end). */
static char *field(char **p)
{
	char *f = *p, *end;
	if (f == NULL || *f == '\0')
		return NULL;
	end = strchr(f, ' ');
	if (end != NULL) {
		*end = '\0';
		*p = end + 1;
	} else {
		*p = f + strlen(f);
	}
	return f;
}

int locket__mountinfo_parse(char *line, locket__mountinfo *m)
{
	char *p = line, *f, *dev;
	memset(m, 0, sizeof *m);
	if ((f = field(&p)) == NULL)
		return -1;
	m->id = atoi(f);
	if ((f = field(&p)) == NULL)
		return -1;
	m->parent = atoi(f);
	if ((dev = field(&p)) == NULL || sscanf(dev, "%u:%u", &m->major, &m->minor) != 2)
		return -1;
	if ((m->root = field(&p)) == NULL || (m->point = field(&p)) == NULL ||
	    (m->mount_opts = field(&p)) == NULL)
		return -1;
	/* Optional fields (shared:N, master:N, ...) up to the "-" separator. */
	do {
		if ((f = field(&p)) == NULL)
			return -1;
	} while (strcmp(f, "-") != 0);
	if ((m->type = field(&p)) == NULL || (m->source = field(&p)) == NULL)
		return -1;
	m->super_opts = field(&p);
	if (m->super_opts == NULL)
		m->super_opts = p; /* "" */
	unescape(m->root);
	unescape(m->point);
	unescape(m->source);
	return 0;
}

/* path lies under (or is) mount point mp. */
static int under(const char *path, const char *mp)
{
	size_t n = strlen(mp);
	if (strcmp(mp, "/") == 0)
		return path[0] == '/';
	return strncmp(path, mp, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

static void fill(const locket__mountinfo *m, locket__fs *out)
{
	out->os = LOCKET__FS_LINUX;
	snprintf(out->type, sizeof out->type, "%s", m->type);
	snprintf(out->options, sizeof out->options, "%s,%s", m->mount_opts, m->super_opts);
	/* A space is a space again, but a control character stays escaped. */
	locket__posix_printable(out->where, sizeof out->where, m->point);
}

int locket__mountinfo_find(char *text, int mnt_id, const char *path, locket__fs *out)
{
	char *line = text, *next;
	size_t best = 0;
	int found = 0;
	for (; line != NULL && *line != '\0'; line = next) {
		locket__mountinfo m;
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		if (locket__mountinfo_parse(line, &m) != 0)
			continue;
		if (path == NULL) {
			if (m.id == mnt_id) {
				fill(&m, out);
				return 1;
			}
		} else if (under(path, m.point) && strlen(m.point) >= best) {
			/* The longest mount point wins; of equal ones the last, which
			 * was mounted over the others. */
			best = strlen(m.point);
			fill(&m, out);
			found = 1;
		}
	}
	return found;
}

/* The whole of /proc/self/mountinfo, malloc'd, or NULL. */
static char *read_mountinfo(void)
{
	size_t cap = 16384, len = 0;
	char *buf = malloc(cap);
	int fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || buf == NULL) {
		if (fd >= 0)
			close(fd);
		free(buf);
		return NULL;
	}
	for (;;) {
		ssize_t n;
		if (cap - len < 4096) {
			char *more = realloc(buf, cap * 2);
			if (more == NULL)
				break;
			buf = more;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0) {
				close(fd);
				buf[len] = '\0';
				return buf;
			}
			break;
		}
		len += (size_t)n;
	}
	close(fd);
	free(buf);
	return NULL;
}

/* The mount id of fd, or -1. */
static int mount_id(int fd, dev_t *dev)
{
	struct statx stx;
	char name[64], line[128];
	FILE *f;
	int id = -1;
	if (statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &stx) == 0) {
		*dev = makedev(stx.stx_dev_major, stx.stx_dev_minor);
		if (stx.stx_mask & STATX_MNT_ID)
			return (int)stx.stx_mnt_id;
	}
	/* Before Linux 5.8: fdinfo has had mnt_id since 3.15. */
	snprintf(name, sizeof name, "/proc/self/fdinfo/%d", fd);
	f = fopen(name, "re");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL)
		if (sscanf(line, "mnt_id: %d", &id) == 1)
			break;
	fclose(f);
	return id;
}

/* Linux before 5.5 keeps flock on CIFS on this client (flock(2), NOTES). */
static int cifs_flock_local(void)
{
	static int answer = -1;
	if (answer < 0) {
		struct utsname u;
		unsigned major = 0, minor = 0;
		answer = uname(&u) == 0 && sscanf(u.release, "%u.%u", &major, &minor) == 2 &&
			 (major < 5 || (major == 5 && minor < 5));
	}
	return answer;
}

/* statfs(2)'s f_type, where the mount table cannot be read. */
static const struct {
	unsigned long magic;
	const char *type;
} magics[] = {
	{ 0xEF53, "ext4" },        { 0x58465342, "xfs" },      { 0x9123683E, "btrfs" },
	{ 0x01021994, "tmpfs" },   { 0x858458f6, "ramfs" },    { 0xF2F52010, "f2fs" },
	{ 0x2fc12fc1, "zfs" },     { 0x73717368, "squashfs" }, { 0x6969, "nfs" },
	{ 0xFF534D42, "cifs" },    { 0xFE534D42, "smb3" },     { 0x65735546, "fuse" },
	{ 0x794c7630, "overlay" }, { 0x01021997, "9p" },       { 0x00c36400, "ceph" },
};

static int from_statfs(int fd, const char *path, locket__fs *out)
{
	struct statfs s;
	size_t i;
	if (fstatfs(fd, &s) != 0)
		return locket__fail_os(errno, "cannot statfs lock file", path);
	out->os = LOCKET__FS_MAGIC;
	locket__posix_printable(out->where, sizeof out->where, path != NULL ? path : "?");
	for (i = 0; i < sizeof magics / sizeof magics[0]; i++)
		if ((unsigned long)s.f_type == magics[i].magic)
			snprintf(out->type, sizeof out->type, "%s", magics[i].type);
	if (out->type[0] == '\0')
		snprintf(out->type, sizeof out->type, "0x%lx", (unsigned long)s.f_type);
	return LOCKET_OK;
}

/* The mount of fd, uncached. */
static int lookup(int fd, int id, const char *path, locket__fs *out)
{
	char *text = id >= 0 ? read_mountinfo() : NULL;
	int found = text != NULL && locket__mountinfo_find(text, id, NULL, out);
	free(text);
	if (!found)
		return from_statfs(fd, path, out);
	out->cifs_flock_local = cifs_flock_local();
	return LOCKET_OK;
}

#define CACHE_SLOTS 8
#define CACHE_MS 1000
static struct {
	int id;
	dev_t dev;
	int64_t at;
	locket__fs fs;
} cache[CACHE_SLOTS];
static unsigned cache_next;
static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;

int locket__os_fs_of_fd(locket__fd fd, const char *path, locket__fs *out)
{
	dev_t dev = 0;
	int id = mount_id((int)fd, &dev), rc, i;
	int64_t now = locket__now_ms();
	/* trylock: a child forked while another thread held it never waits. */
	if (id >= 0 && pthread_mutex_trylock(&cache_mu) == 0) {
		for (i = 0; i < CACHE_SLOTS; i++) {
			if (cache[i].at != 0 && cache[i].id == id && cache[i].dev == dev &&
			    now - cache[i].at < CACHE_MS) {
				*out = cache[i].fs;
				pthread_mutex_unlock(&cache_mu);
				return LOCKET_OK;
			}
		}
		pthread_mutex_unlock(&cache_mu);
	}
	rc = lookup((int)fd, id, path, out);
	if (rc == LOCKET_OK && id >= 0 && out->os == LOCKET__FS_LINUX &&
	    pthread_mutex_trylock(&cache_mu) == 0) {
		i = (int)(cache_next++ % CACHE_SLOTS);
		cache[i].id = id;
		cache[i].dev = dev;
		cache[i].at = now == 0 ? 1 : now;
		cache[i].fs = *out;
		pthread_mutex_unlock(&cache_mu);
	}
	return rc;
}

int locket__os_fs_of_path(const char *path, locket__fs *out)
{
	int fd = open(path, O_PATH | O_CLOEXEC), rc;
	if (fd < 0 && errno == ENOENT) {
		/* The lock file need not exist: its directory holds it (the
		 * target's, for a dangling symlink: locket_new creates it there). */
		char dir[PATH_MAX];
		locket__posix_lock_dir(path, dir, sizeof dir);
		fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	}
	if (fd < 0)
		return locket__fail_os(errno, "cannot open", path);
	rc = lookup(fd, mount_id(fd, &(dev_t){ 0 }), path, out);
	close(fd);
	return rc;
}
