/*
 * What a lock can exclude: the table, once for every OS (docs/filesystems.md
 * gives each row's source).
 *
 * A lock excludes exactly the processes whose lock calls reach the same
 * lock state. On a filesystem of this kernel that state hangs off the one
 * inode that every path, bind mount and descriptor of the file leads to
 * ("local"). A network filesystem whose client sends the lock to a lock
 * manager excludes every client of that manager ("network"). Everything
 * else keeps locks in this kernel but gives the same file more than one
 * inode, or more than one host ("this-host"): the other clients, the FUSE
 * daemon's own directory, the other side of a virtiofs or 9p share, the
 * upper directory of an overlay. A filesystem the table does not know is
 * "unknown", never "local".
 *
 * The OS layer says what the filesystem is (core/linux/mounts.c: the mount
 * of the descriptor from /proc/self/mountinfo; core/posix/scope.c: statfs on
 * macOS and FreeBSD; core/win/scope.c: the volume); this file decides.
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>

#if defined(_MSC_VER)
#define SCOPE_THREAD_LOCAL __declspec(thread)
#else
#define SCOPE_THREAD_LOCAL _Thread_local
#endif

/* The strings of the calling thread's last locket_scope() answer. */
static SCOPE_THREAD_LOCAL struct {
	char fs_type[64];
	char reason[512];
} tls_scope;

const char *locket_scope_name(int kind)
{
	switch (kind) {
	case LOCKET_SCOPE_LOCAL:
		return "local";
	case LOCKET_SCOPE_NETWORK:
		return "network";
	case LOCKET_SCOPE_THIS_HOST:
		return "this-host";
	default:
		return "unknown";
	}
}

/* Is name one of the comma-separated options in opts? With a trailing '='
 * in name, an option that starts with it. */
static const char *find_opt(const char *opts, const char *name)
{
	size_t n = strlen(name);
	const char *p = opts;
	while (*p != '\0') {
		size_t len = strcspn(p, ",");
		if (name[n - 1] == '=' ? len >= n && strncmp(p, name, n) == 0
				       : len == n && strncmp(p, name, n) == 0)
			return p;
		p += len;
		if (*p == ',')
			p++;
	}
	return NULL;
}

static int has_opt(const char *opts, const char *name)
{
	return find_opt(opts, name) != NULL;
}

/* The value of option name ("local_lock=") is value. */
static int opt_is(const char *opts, const char *name, const char *value)
{
	const char *p = find_opt(opts, name);
	size_t n = strlen(name), v = strlen(value);
	return p != NULL && strncmp(p + n, value, v) == 0 && (p[n + v] == ',' || p[n + v] == '\0');
}

static int in_list(const char *type, const char *const *list)
{
	for (; *list != NULL; list++)
		if (strcmp(type, *list) == 0)
			return 1;
	return 0;
}

/* Linux filesystems of this kernel: one inode per file, locks in it. */
static const char *const linux_local[] = { "ext2",      "ext3",    "ext4",     "xfs",   "btrfs",
					   "tmpfs",     "ramfs",   "f2fs",     "jfs",   "zfs",
					   "bcachefs",  "nilfs2",  "reiserfs", "vfat",  "msdos",
					   "exfat",     "ntfs",    "ntfs3",    "hfs",   "hfsplus",
					   "udf",       "iso9660", "squashfs", "erofs", "devtmpfs",
					   "hugetlbfs", "minix",   NULL };
/* macOS and FreeBSD, with MNT_LOCAL. */
static const char *const bsd_local[] = { "apfs",  "hfs",     "ufs",   "zfs",    "tmpfs",
					 "msdos", "msdosfs", "exfat", "cd9660", "udf",
					 "devfs", "ext2fs",  NULL };
/* Windows volumes on a local disk. */
static const char *const win_local[] = { "NTFS",  "ReFS", "FAT", "FAT32",
					 "exFAT", "CDFS", "UDF", NULL };
/* File systems an SMB server reports for its shares. */
static const char *const win_smb[] = {
	"NTFS", "ReFS", "FAT", "FAT32", "exFAT", "SMB", "CIFS", NULL
};

static int is_fuse(const char *type)
{
	return strcmp(type, "fuse") == 0 || strcmp(type, "fuseblk") == 0 ||
	       strncmp(type, "fuse.", 5) == 0 || strncmp(type, "fusefs", 6) == 0 ||
	       strcmp(type, "macfuse") == 0 || strcmp(type, "osxfuse") == 0;
}

#define SAY(...) snprintf(reason, size, __VA_ARGS__)

static int classify_linux(const locket__fs *fs, unsigned int kind, char *reason, size_t size)
{
	const char *t = fs->type, *o = fs->options, *at = fs->where;
	const int record = kind == LOCKET_KIND_OFD;
	const int no_opts = fs->os == LOCKET__FS_MAGIC;

	if (is_fuse(t))
		return SAY("%s at %s is a FUSE filesystem: locks stay in this kernel (or go to a "
			   "daemon that may drop them) and exclude neither other views of the "
			   "files nor other hosts",
			   t, at),
		       LOCKET_SCOPE_THIS_HOST;
	if (strcmp(t, "nfs") == 0 || strcmp(t, "nfs4") == 0) {
		if (no_opts)
			return SAY("%s at %s: its mount options (nolock, local_lock=) cannot be "
				   "read",
				   t, at),
			       LOCKET_SCOPE_UNKNOWN;
		if (has_opt(o, "nolock"))
			return SAY("%s at %s is mounted with nolock: locks stay on this client", t,
				   at),
			       LOCKET_SCOPE_THIS_HOST;
		if (opt_is(o, "local_lock=", "all") ||
		    opt_is(o, "local_lock=", record ? "posix" : "flock"))
			return SAY("%s at %s is mounted with %.20s: %s locks stay on this client",
				   t, at, find_opt(o, "local_lock="), record ? "POSIX" : "flock"),
			       LOCKET_SCOPE_THIS_HOST;
		return SAY("%s at %s: %s locks go to the server's lock manager (NLM or NFSv4 "
			   "locks) and exclude every client that locks",
			   t, at, record ? "POSIX" : "flock (whole-file byte-range)"),
		       LOCKET_SCOPE_NETWORK;
	}
	if (strcmp(t, "cifs") == 0 || strcmp(t, "smb3") == 0) {
		if (no_opts)
			return SAY("%s at %s: its mount options (nobrl) cannot be read", t, at),
			       LOCKET_SCOPE_UNKNOWN;
		if (has_opt(o, "nobrl"))
			return SAY("%s at %s is mounted with nobrl: locks stay on this client", t,
				   at),
			       LOCKET_SCOPE_THIS_HOST;
		if (!record && fs->cifs_flock_local)
			return SAY("%s at %s: before Linux 5.5 flock is not sent to the server", t,
				   at),
			       LOCKET_SCOPE_THIS_HOST;
		return SAY("%s at %s: locks go to the SMB server as byte-range locks "
			   "(mandatory there: other clients' reads and writes of the file fail "
			   "while it is locked)",
			   t, at),
		       LOCKET_SCOPE_NETWORK;
	}
	if (strcmp(t, "9p") == 0)
		return SAY("9p at %s: locks are kept by this kernel; the server (QEMU, WSL) does "
			   "not lock its side",
			   at),
		       LOCKET_SCOPE_THIS_HOST;
	if (strcmp(t, "virtiofs") == 0)
		return SAY("virtiofs at %s: locks are kept by this guest's kernel unless the "
			   "host's daemon forwards them, which the guest cannot see",
			   at),
		       LOCKET_SCOPE_THIS_HOST;
	if (strcmp(t, "overlay") == 0)
		return SAY("overlay at %s: locks are on the overlay's inode and do not exclude "
			   "the upper or lower directories, or other overlays of the same layers",
			   at),
		       LOCKET_SCOPE_THIS_HOST;
	if (strcmp(t, "ceph") == 0)
		return SAY("ceph at %s: locks go to the metadata server and exclude every client",
			   at),
		       LOCKET_SCOPE_NETWORK;
	if (strcmp(t, "gfs2") == 0 || strcmp(t, "ocfs2") == 0) {
		if (no_opts)
			return SAY("%s at %s: its mount options (localflocks) cannot be read", t,
				   at),
			       LOCKET_SCOPE_UNKNOWN;
		if (has_opt(o, "localflocks") || opt_is(o, "lockproto=", "lock_nolock"))
			return SAY("%s at %s is mounted with %s: locks stay on this node", t, at,
				   has_opt(o, "localflocks") ? "localflocks" : "lock_nolock"),
			       LOCKET_SCOPE_THIS_HOST;
		if (record && strcmp(t, "ocfs2") == 0)
			return SAY("ocfs2 at %s: POSIX locks are cluster-wide only with the "
				   "userspace cluster stack",
				   at),
			       LOCKET_SCOPE_UNKNOWN;
		return SAY("%s at %s: locks go through the cluster's lock manager (DLM) and "
			   "exclude every node",
			   t, at),
		       LOCKET_SCOPE_NETWORK;
	}
	if (strcmp(t, "lustre") == 0) {
		if (has_opt(o, "flock"))
			return SAY("lustre at %s is mounted with flock: locks are cluster-wide",
				   at),
			       LOCKET_SCOPE_NETWORK;
		if (has_opt(o, "localflock"))
			return SAY("lustre at %s is mounted with localflock: locks stay on this "
				   "client",
				   at),
			       LOCKET_SCOPE_THIS_HOST;
		return SAY("lustre at %s: without the flock mount option, locks are local or "
			   "refused",
			   at),
		       LOCKET_SCOPE_UNKNOWN;
	}
	if (in_list(t, linux_local))
		return SAY("%s at %s is a filesystem of this kernel: every process that opens the "
			   "file, through any path or bind mount, locks its one inode",
			   t, at),
		       LOCKET_SCOPE_LOCAL;
	return SAY("%s at %s: not a filesystem whose locking locket knows", t[0] ? t : "?", at),
	       LOCKET_SCOPE_UNKNOWN;
}

static int classify_bsd(const locket__fs *fs, char *reason, size_t size)
{
	const char *t = fs->type, *at = fs->where;
	if (is_fuse(t))
		return SAY("%s at %s is a FUSE filesystem: locks exclude neither other views of "
			   "the files nor other hosts",
			   t, at),
		       LOCKET_SCOPE_THIS_HOST;
	if (fs->local && in_list(t, bsd_local))
		return SAY("%s at %s is a local filesystem: every process that opens the file "
			   "locks its one vnode",
			   t, at),
		       LOCKET_SCOPE_LOCAL;
	if (strcmp(t, "nfs") == 0)
		return SAY("nfs at %s: whether locks reach the server depends on mount options "
			   "(nolocks, locallocks, nolockd) that statfs does not show",
			   at),
		       LOCKET_SCOPE_UNKNOWN;
	return SAY("%s at %s: not a filesystem whose locking locket knows", t[0] ? t : "?", at),
	       LOCKET_SCOPE_UNKNOWN;
}

static int classify_windows(const locket__fs *fs, char *reason, size_t size)
{
	const char *t = fs->type, *at = fs->where;
	if (fs->wsl || strcmp(t, "9P") == 0)
		return SAY("%s is WSL's 9P share: LockFileEx fails there (Incorrect function) and "
			   "locks do not reach the Linux side",
			   at),
		       LOCKET_SCOPE_THIS_HOST;
	if (fs->remote) {
		if (in_list(t, win_smb))
			return SAY("%s is a network share (%s): byte-range locks are kept by the "
				   "SMB server and exclude every client",
				   at, t),
			       LOCKET_SCOPE_NETWORK;
		return SAY("%s is a network drive of file system %s, whose locking locket does "
			   "not know",
			   at, t[0] ? t : "?"),
		       LOCKET_SCOPE_UNKNOWN;
	}
	if (in_list(t, win_local))
		return SAY("%s is a local %s volume: every process, and every SMB client of this "
			   "machine, locks through this kernel",
			   at, t),
		       LOCKET_SCOPE_LOCAL;
	return SAY("%s (%s): not a file system whose locking locket knows", at, t[0] ? t : "?"),
	       LOCKET_SCOPE_UNKNOWN;
}

int locket__scope_classify(const locket__fs *fs, unsigned int lock_kind, char *reason, size_t size)
{
	switch (fs->os) {
	case LOCKET__FS_LINUX:
	case LOCKET__FS_MAGIC:
		return classify_linux(fs, lock_kind, reason, size);
	case LOCKET__FS_STATFS:
		return classify_bsd(fs, reason, size);
	case LOCKET__FS_WINDOWS:
		return classify_windows(fs, reason, size);
	default:
		return SAY("this OS gives locket no way to tell the filesystem"),
		       LOCKET_SCOPE_UNKNOWN;
	}
}

int locket_scope(const char *path, unsigned int lock_kind, locket_scope_info *out)
{
	locket__fs fs;
	int rc;
	if (out == NULL || path == NULL)
		return locket__fail(LOCKET_EINVAL, "locket_scope: NULL argument");
	if (out->version < 1 || out->version > LOCKET_SCOPE_INFO_VERSION)
		return locket__fail(LOCKET_EINVAL, "unknown locket_scope_info version %u",
				    out->version);
	out->kind = LOCKET_SCOPE_UNKNOWN;
	out->fs_type = "";
	out->reason = "";
	if (path[0] == '\0')
		return locket__fail(LOCKET_EINVAL, "lock file path is empty");
	if (lock_kind != LOCKET_KIND_FLOCK && lock_kind != LOCKET_KIND_OFD)
		return locket__fail(LOCKET_EINVAL, "locket_scope: unknown lock kind %u", lock_kind);
	memset(&fs, 0, sizeof fs);
	rc = locket__os_fs_of_path(path, &fs);
	if (rc != LOCKET_OK)
		return rc;
	out->kind =
		locket__scope_classify(&fs, lock_kind, tls_scope.reason, sizeof tls_scope.reason);
	snprintf(tls_scope.fs_type, sizeof tls_scope.fs_type, "%s", fs.type);
	out->fs_type = tls_scope.fs_type;
	out->reason = tls_scope.reason;
	return LOCKET_OK;
}

int locket__scope_refuse(locket__fd fd, const char *path, unsigned int lock_kind)
{
	char reason[512];
	locket__fs fs;
	int kind, rc;
	memset(&fs, 0, sizeof fs);
	rc = locket__os_fs_of_fd(fd, path, &fs);
	if (rc != LOCKET_OK)
		return rc;
	kind = locket__scope_classify(&fs, lock_kind, reason, sizeof reason);
	if (kind == LOCKET_SCOPE_LOCAL || kind == LOCKET_SCOPE_NETWORK)
		return LOCKET_OK;
	return locket__fail(LOCKET_ESCOPE,
			    "refusing to lock '%s' across hosts: its filesystem %s is %s (%s)",
			    path, fs.type[0] ? fs.type : "?", locket_scope_name(kind), reason);
}

void locket__scope_note_unsupported(locket__fd fd)
{
	locket__fs fs;
	int code = locket_last_error_code(), os_error = locket_last_os_error();
	char message[512], noted[1100];
	memset(&fs, 0, sizeof fs);
	snprintf(message, sizeof message, "%s", locket_last_error_message());
	if (locket__os_fs_of_fd(fd, NULL, &fs) == LOCKET_OK && fs.type[0] != '\0') {
		snprintf(noted, sizeof noted, "%s (filesystem %s at %s)", message, fs.type,
			 fs.where);
		locket__fail_restore(code, os_error, noted);
	} else {
		/* Put back the lock's error, which the lookup may have replaced. */
		locket__fail_restore(code, os_error, message);
	}
}
