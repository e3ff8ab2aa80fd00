/*
 * The scope table (core/scope.c) and the mount table parser
 * (core/linux/mounts.c), fed fixture mount tables: one case per row of
 * docs/filesystems.md, including the options that change the answer
 * (local_lock=, nolock, nobrl, localflocks), bind mounts, stacked mounts and
 * escaped mount points. Linked with the static library: these are internal.
 */
#include "internal.h"
#include "linux/linux.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>

/* One line per mount; the ids are what the cases look up. */
static const char fixture[] =
	"22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro\n"
	"30 22 0:25 / /tmp rw,nosuid,nodev shared:5 - tmpfs tmpfs rw,size=1024k,inode64\n"
	"31 22 0:26 / /srv rw shared:6 master:2 - xfs /dev/sdb1 rw,attr2,inode64\n"
	"32 22 0:27 / /var rw - btrfs /dev/sdc1 rw,space_cache=v2,subvolid=5\n"
	"40 22 8:1 /srv/data /mnt/bind rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
	"41 22 0:40 / /mnt/nfs rw,relatime shared:20 - nfs4 server:/export "
	"rw,vers=4.2,rsize=1048576,wsize=1048576,hard,proto=tcp,timeo=600,retrans=2,sec=sys,"
	"clientaddr=10.0.0.2,local_lock=none,addr=10.0.0.1\n"
	"42 22 0:41 / /mnt/nfs-flock rw - nfs server:/e rw,vers=3,hard,local_lock=flock,addr=10.0.0.1\n"
	"43 22 0:42 / /mnt/nfs-posix rw - nfs server:/e rw,vers=3,hard,local_lock=posix,addr=10.0.0.1\n"
	"44 22 0:43 / /mnt/nfs-all rw - nfs4 server:/e rw,vers=4.1,local_lock=all,addr=10.0.0.1\n"
	"45 22 0:44 / /mnt/nfs-nolock rw - nfs server:/e rw,vers=3,nolock,proto=udp,addr=10.0.0.1\n"
	"46 22 0:45 / /mnt/smb rw,relatime - cifs //srv/share "
	"rw,vers=3.1.1,cache=strict,username=u,uid=0,noforceuid,soft,nounix,mapposix,rsize=4194304\n"
	"47 22 0:46 / /mnt/smb-nobrl rw - cifs //srv/share rw,vers=3.0,nobrl,soft\n"
	"48 22 0:47 / /mnt/my\\040share rw - smb3 //srv/s rw,vers=3.1.1\n"
	"49 22 0:48 / /mnt/9p rw,noatime - 9p drvfs rw,dirsync,aname=drvfs;path=C:\\134,trans=fd\n"
	"50 22 0:49 / /mnt/vfs rw - virtiofs myfs rw\n"
	"51 22 0:50 / /var/lib/docker/overlay2/x/merged rw,relatime - overlay overlay "
	"rw,lowerdir=/l1:/l2,upperdir=/u,workdir=/w\n"
	"52 22 0:51 / /home/u/view rw,nosuid,nodev,relatime shared:40 - fuse.bindfs /home/u/real "
	"rw,user_id=0,group_id=0,default_permissions,allow_other\n"
	"53 22 0:52 / /mnt/ntfs rw - fuseblk /dev/sdd1 rw,user_id=0,group_id=0,allow_other\n"
	"54 22 0:53 / /mnt/sshfs rw - fuse.sshfs u@h:/ rw,user_id=1000,group_id=1000\n"
	"55 22 0:54 / /mnt/ceph rw - ceph 10.0.0.1:/ rw,name=admin,secret=<hidden>,acl\n"
	"56 22 253:1 / /mnt/gfs rw - gfs2 /dev/dm-1 rw,localflocks\n"
	"57 22 253:2 / /mnt/gfs-dlm rw - gfs2 /dev/dm-2 rw,lockproto=lock_dlm\n"
	"58 22 253:3 / /mnt/ocfs rw - ocfs2 /dev/dm-3 rw,localflocks,heartbeat=local\n"
	"59 22 0:55 / /mnt/weird rw - weirdfs none rw\n"
	"60 22 0:56 / /mnt/bind rw - tmpfs tmpfs rw\n"
	"61 22 0:57 / /mnt/lustre rw - lustre 10.0.0.1@tcp:/fs rw,flock\n"
	"62 22 0:58 / /mnt/nfs-lookalike rw - nfs server:/e rw,vers=3,local_lock=flockx\n";

/* The mount with id in the fixture, classified for lock_kind. */
static int kind_of(int id, unsigned int lock_kind, locket__fs *fs, char *reason, size_t size)
{
	char *text = strdup(fixture);
	CHECK(text != NULL);
	memset(fs, 0, sizeof *fs);
	CHECK(locket__mountinfo_find(text, id, NULL, fs) == 1);
	free(text);
	return locket__scope_classify(fs, lock_kind, reason, size);
}

/* Check the kind, and that the reason names the mount point and has want. */
static void expect(int id, unsigned int lock_kind, int want, const char *type,
		   const char *in_reason)
{
	locket__fs fs;
	char reason[512];
	int got = kind_of(id, lock_kind, &fs, reason, sizeof reason);
	if (got != want || strcmp(fs.type, type) != 0 || strstr(reason, in_reason) == NULL ||
	    strstr(reason, fs.where) == NULL || strchr(reason, '\n') != NULL)
		test_fail(__FILE__, __LINE__, "mount %d (%s): %s, expected %s (%s); reason: %s", id,
			  fs.type, locket_scope_name(got), locket_scope_name(want), type, reason);
}

TEST(scope_table_local_filesystems)
{
	expect(22, LOCKET_KIND_FLOCK, LOCKET_SCOPE_LOCAL, "ext4", "one inode");
	expect(30, LOCKET_KIND_FLOCK, LOCKET_SCOPE_LOCAL, "tmpfs", "this kernel");
	expect(31, LOCKET_KIND_FLOCK, LOCKET_SCOPE_LOCAL, "xfs", "this kernel");
	expect(32, LOCKET_KIND_FLOCK, LOCKET_SCOPE_LOCAL, "btrfs", "this kernel");
}

TEST(scope_table_bind_mount_is_its_filesystem)
{
	locket__fs fs;
	char reason[512];
	expect(40, LOCKET_KIND_FLOCK, LOCKET_SCOPE_LOCAL, "ext4", "bind mount");
	CHECK(kind_of(40, LOCKET_KIND_FLOCK, &fs, reason, sizeof reason) == LOCKET_SCOPE_LOCAL);
	CHECK(strcmp(fs.where, "/mnt/bind") == 0);
}

TEST(scope_table_nfs)
{
	expect(41, LOCKET_KIND_FLOCK, LOCKET_SCOPE_NETWORK, "nfs4", "lock manager");
	expect(44, LOCKET_KIND_FLOCK, LOCKET_SCOPE_THIS_HOST, "nfs4", "local_lock=all");
	expect(45, LOCKET_KIND_FLOCK, LOCKET_SCOPE_THIS_HOST, "nfs", "nolock");
	/* local_lock=flock keeps flock on this client, sends POSIX locks on. */
	expect(42, LOCKET_KIND_FLOCK, LOCKET_SCOPE_THIS_HOST, "nfs", "local_lock=flock");
	expect(42, LOCKET_KIND_OFD, LOCKET_SCOPE_NETWORK, "nfs", "lock manager");
	/* local_lock=posix the reverse. */
	expect(43, LOCKET_KIND_FLOCK, LOCKET_SCOPE_NETWORK, "nfs", "lock manager");
	expect(43, LOCKET_KIND_OFD, LOCKET_SCOPE_THIS_HOST, "nfs", "local_lock=posix");
	expect(44, LOCKET_KIND_OFD, LOCKET_SCOPE_THIS_HOST, "nfs4", "local_lock=all");
	expect(45, LOCKET_KIND_OFD, LOCKET_SCOPE_THIS_HOST, "nfs", "nolock");
	/* An option is matched whole: local_lock=flockx is not local_lock=flock. */
	expect(62, LOCKET_KIND_FLOCK, LOCKET_SCOPE_NETWORK, "nfs", "lock manager");
}

TEST(scope_table_smb)
{
	locket__fs fs;
	char reason[512];
	expect(46, LOCKET_KIND_FLOCK, LOCKET_SCOPE_NETWORK, "cifs", "SMB server");
	expect(47, LOCKET_KIND_FLOCK, LOCKET_SCOPE_THIS_HOST, "cifs", "nobrl");
	expect(48, LOCKET_KIND_FLOCK, LOCKET_SCOPE_NETWORK, "smb3", "SMB server");
	/* Before Linux 5.5 flock stays on the client; byte-range locks do not. */
	CHECK(kind_of(46, LOCKET_KIND_FLOCK, &fs, reason, sizeof reason) == LOCKET_SCOPE_NETWORK);
	fs.cifs_flock_local = 1;
	CHECK(locket__scope_classify(&fs, LOCKET_KIND_FLOCK, reason, sizeof reason) ==
	      LOCKET_SCOPE_THIS_HOST);
	CHECK(strstr(reason, "5.5") != NULL);
	CHECK(locket__scope_classify(&fs, LOCKET_KIND_OFD, reason, sizeof reason) ==
	      LOCKET_SCOPE_NETWORK);
}

TEST(scope_table_this_host_filesystems)
{
	expect(49, LOCKET_KIND_FLOCK, LOCKET_SCOPE_THIS_HOST, "9p", "this kernel");
	expect(50, LOCKET_KIND_FLOCK, LOCKET_SCOPE_THIS_HOST, "virtiofs", "guest");
	expect(51, LOCKET_KIND_FLOCK, LOCKET_SCOPE_THIS_HOST, "overlay", "upper");
	expect(52, LOCKET_KIND_FLOCK, LOCKET_SCOPE_THIS_HOST, "fuse.bindfs", "FUSE");
	expect(53, LOCKET_KIND_FLOCK, LOCKET_SCOPE_THIS_HOST, "fuseblk", "FUSE");
	expect(54, LOCKET_KIND_FLOCK, LOCKET_SCOPE_THIS_HOST, "fuse.sshfs", "FUSE");
}

TEST(scope_table_cluster_filesystems)
{
	expect(55, LOCKET_KIND_FLOCK, LOCKET_SCOPE_NETWORK, "ceph", "metadata server");
	expect(56, LOCKET_KIND_FLOCK, LOCKET_SCOPE_THIS_HOST, "gfs2", "localflocks");
	expect(57, LOCKET_KIND_FLOCK, LOCKET_SCOPE_NETWORK, "gfs2", "DLM");
	expect(58, LOCKET_KIND_FLOCK, LOCKET_SCOPE_THIS_HOST, "ocfs2", "localflocks");
	expect(61, LOCKET_KIND_FLOCK, LOCKET_SCOPE_NETWORK, "lustre", "flock");
}

TEST(scope_table_unknown_is_never_local)
{
	locket__fs fs;
	char reason[512];
	expect(59, LOCKET_KIND_FLOCK, LOCKET_SCOPE_UNKNOWN, "weirdfs", "knows");
	/* statfs(2) alone (no mount table): no options, so no answer for NFS or
	 * SMB, whose options decide. */
	memset(&fs, 0, sizeof fs);
	fs.os = LOCKET__FS_MAGIC;
	strcpy(fs.where, "/x");
	strcpy(fs.type, "nfs");
	CHECK(locket__scope_classify(&fs, 0, reason, sizeof reason) == LOCKET_SCOPE_UNKNOWN);
	strcpy(fs.type, "cifs");
	CHECK(locket__scope_classify(&fs, 0, reason, sizeof reason) == LOCKET_SCOPE_UNKNOWN);
	strcpy(fs.type, "fuse");
	CHECK(locket__scope_classify(&fs, 0, reason, sizeof reason) == LOCKET_SCOPE_THIS_HOST);
	strcpy(fs.type, "ext4");
	CHECK(locket__scope_classify(&fs, 0, reason, sizeof reason) == LOCKET_SCOPE_LOCAL);
	strcpy(fs.type, "0x12345");
	CHECK(locket__scope_classify(&fs, 0, reason, sizeof reason) == LOCKET_SCOPE_UNKNOWN);
	/* An OS layer that cannot tell. */
	memset(&fs, 0, sizeof fs);
	fs.os = LOCKET__FS_NONE;
	CHECK(locket__scope_classify(&fs, 0, reason, sizeof reason) == LOCKET_SCOPE_UNKNOWN);
}

TEST(scope_table_macos_freebsd_statfs)
{
	locket__fs fs;
	char reason[512];
	memset(&fs, 0, sizeof fs);
	fs.os = LOCKET__FS_STATFS;
	strcpy(fs.where, "/");
	strcpy(fs.type, "apfs");
	fs.local = 1;
	CHECK(locket__scope_classify(&fs, 0, reason, sizeof reason) == LOCKET_SCOPE_LOCAL);
	fs.local = 0; /* a local type without MNT_LOCAL: do not guess */
	CHECK(locket__scope_classify(&fs, 0, reason, sizeof reason) == LOCKET_SCOPE_UNKNOWN);
	strcpy(fs.type, "nfs"); /* options unseen */
	CHECK(locket__scope_classify(&fs, 0, reason, sizeof reason) == LOCKET_SCOPE_UNKNOWN);
	strcpy(fs.type, "macfuse");
	CHECK(locket__scope_classify(&fs, 0, reason, sizeof reason) == LOCKET_SCOPE_THIS_HOST);
	strcpy(fs.type, "fusefs.sshfs");
	CHECK(locket__scope_classify(&fs, 0, reason, sizeof reason) == LOCKET_SCOPE_THIS_HOST);
}

TEST(scope_table_windows_volumes)
{
	locket__fs fs;
	char reason[512];
	memset(&fs, 0, sizeof fs);
	fs.os = LOCKET__FS_WINDOWS;
	strcpy(fs.where, "C:\\");
	strcpy(fs.type, "NTFS");
	CHECK(locket__scope_classify(&fs, 0, reason, sizeof reason) == LOCKET_SCOPE_LOCAL);
	fs.remote = 1; /* an SMB share reports its server's file system */
	strcpy(fs.where, "\\\\srv\\share\\");
	CHECK(locket__scope_classify(&fs, 0, reason, sizeof reason) == LOCKET_SCOPE_NETWORK);
	strcpy(fs.type, "davfs");
	CHECK(locket__scope_classify(&fs, 0, reason, sizeof reason) == LOCKET_SCOPE_UNKNOWN);
	fs.wsl = 1; /* \\wsl$, \\wsl.localhost: remote, but not an SMB share */
	strcpy(fs.type, "9P");
	CHECK(locket__scope_classify(&fs, 0, reason, sizeof reason) == LOCKET_SCOPE_THIS_HOST);
	CHECK(strstr(reason, "Incorrect function") != NULL);
	memset(&fs, 0, sizeof fs);
	fs.os = LOCKET__FS_WINDOWS;
	strcpy(fs.type, "SomethingFS");
	CHECK(locket__scope_classify(&fs, 0, reason, sizeof reason) == LOCKET_SCOPE_UNKNOWN);
}

TEST(mountinfo_parse_fields_and_escapes)
{
	char line[] = "48 22 0:47 /a\\134b /mnt/my\\040share\\011tab rw,relatime shared:3 "
		      "master:1 - smb3 //srv/my\\040s rw,vers=3.1.1";
	char bad1[] = "48 22 0:47 / /mnt rw shared:3"; /* no separator */
	char bad2[] = "x";
	locket__mountinfo m;
	CHECK(locket__mountinfo_parse(line, &m) == 0);
	CHECK(m.id == 48 && m.parent == 22 && m.major == 0 && m.minor == 47);
	CHECK(strcmp(m.root, "/a\\b") == 0);
	CHECK(strcmp(m.point, "/mnt/my share\ttab") == 0);
	CHECK(strcmp(m.mount_opts, "rw,relatime") == 0);
	CHECK(strcmp(m.type, "smb3") == 0);
	CHECK(strcmp(m.source, "//srv/my s") == 0);
	CHECK(strcmp(m.super_opts, "rw,vers=3.1.1") == 0);
	CHECK(locket__mountinfo_parse(bad1, &m) == -1);
	CHECK(locket__mountinfo_parse(bad2, &m) == -1);
}

/* By path (mounts without an id): the longest mount point above the path,
 * the last of stacked ones, escaped points unescaped. */
static void expect_path(const char *path, const char *type, const char *where)
{
	char *text = strdup(fixture);
	locket__fs fs;
	CHECK(text != NULL);
	memset(&fs, 0, sizeof fs);
	CHECK(locket__mountinfo_find(text, -1, path, &fs) == 1);
	free(text);
	if (strcmp(fs.type, type) != 0 || strcmp(fs.where, where) != 0)
		test_fail(__FILE__, __LINE__, "%s: %s at %s, expected %s at %s", path, fs.type,
			  fs.where, type, where);
}

TEST(mountinfo_find_by_path)
{
	expect_path("/mnt/my share/f.lock", "smb3", "/mnt/my share");
	expect_path("/mnt/my share", "smb3", "/mnt/my share");
	expect_path("/mnt/my/f", "ext4", "/");
	expect_path("/mnt/bindx/f", "ext4", "/");         /* a prefix only at a '/' */
	expect_path("/mnt/bind/f", "tmpfs", "/mnt/bind"); /* mounted over the bind mount */
	expect_path("/tmp/a/b", "tmpfs", "/tmp");
	expect_path("/home/u/view/f", "fuse.bindfs", "/home/u/view");
	expect_path("/home/u/real/f", "ext4", "/");
}

int main(int argc, char **argv)
{
	return test_main(argc, argv);
}
