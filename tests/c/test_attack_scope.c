/* Attacks on locket_scope(), LOCKET_ACROSS_HOSTS and locket_check() (issue
 * 21): mount points whose names the kernel escapes, symlinks to another
 * mount (dangling ones too), and a held lock whose directory moves. */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static locket_scope_info attack_scope_of(const char *path)
{
	locket_scope_info info = LOCKET_SCOPE_INFO_INIT;
	CHECK_RC(locket_scope(path, LOCKET_KIND_FLOCK, &info), LOCKET_OK);
	return info;
}

/* Skip unless a and b are on two filesystems. */
static void skip_unless_two_filesystems(const char *a, const char *b)
{
	struct stat sa, sb;
	CHECK(stat(a, &sa) == 0 && stat(b, &sb) == 0);
	if (sa.st_dev == sb.st_dev)
		test_skip("the test directory and /dev/shm are one filesystem here");
}

/* A symlink to a file on another mount: the scope is the target's. */
TEST(attack_scope_symlink_to_another_mount)
{
	const char *link = test_path("link");
	char target[128];
	locket_scope_info info, want;
	int fd;
	skip_unless_two_filesystems(test_dir(), "/dev/shm");
	snprintf(target, sizeof target, "/dev/shm/locket-attack-scope-%d", (int)getpid());
	fd = open(target, O_CREAT | O_RDWR, 0644);
	CHECK(fd >= 0);
	close(fd);
	CHECK(symlink(target, link) == 0);
	want = attack_scope_of("/dev/shm");
	info = attack_scope_of(link);
	unlink(target);
	CHECK(strcmp(info.fs_type, want.fs_type) == 0);
	CHECK(info.kind == want.kind);
}

/* A dangling symlink to a missing file on another mount: locket_new()
 * creates the lock file where the link points (as flock(1) does), so the
 * scope must be that of the target's directory, not the link's. */
TEST(attack_scope_dangling_symlink_to_another_mount)
{
	const char *link = test_path("link");
	char target[128], fs_type[64];
	locket_scope_info info, want;
	locket_t *h;
	skip_unless_two_filesystems(test_dir(), "/dev/shm");
	snprintf(target, sizeof target, "/dev/shm/locket-attack-scope-%d", (int)getpid());
	unlink(target);
	CHECK(symlink(target, link) == 0);
	want = attack_scope_of("/dev/shm");
	snprintf(fs_type, sizeof fs_type, "%s", want.fs_type);
	info = attack_scope_of(link);
	if (strcmp(info.fs_type, fs_type) != 0)
		test_fail(
			__FILE__, __LINE__,
			"scope of a dangling link to %s says %s (%s), the target's directory is %s",
			target, info.fs_type, info.reason, fs_type);
	/* ...and that is where the lock file is made. */
	CHECK_RC(locket_new(&h, link, NULL), LOCKET_OK);
	CHECK(access(target, F_OK) == 0);
	locket_free(h);
	unlink(target);
}

/* In a private mount namespace (root only), mount a tmpfs at a directory
 * whose name the kernel escapes in /proc/self/mountinfo, and run fn. */
static int in_private_mount(const char *point, void (*fn)(const char *point))
{
	int status;
	pid_t pid;
	fflush(NULL);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		if (unshare(CLONE_NEWNS) != 0 ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
			_exit(77);
		if (mkdir(point, 0755) != 0 || mount("locket-attack", point, "tmpfs", 0, NULL) != 0)
			_exit(77);
		fn(point);
		_exit(0);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 77)
		test_skip("cannot mount a tmpfs in a private mount namespace here");
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void scope_in_mount(const char *point)
{
	char file[1024];
	locket_scope_info info;
	locket_options o = LOCKET_OPTIONS_INIT;
	locket_t *h;
	snprintf(file, sizeof file, "%s/lock", point);
	info = attack_scope_of(file);
	CHECK(strcmp(info.fs_type, "tmpfs") == 0);
	CHECK(info.kind == LOCKET_SCOPE_LOCAL);
	/* One line: the reason holds no line break or tab, whatever the mount
	 * point's name (the CLI prints KIND<tab>FSTYPE<tab>REASON per line). */
	if (strchr(info.reason, '\n') != NULL || strchr(info.reason, '\t') != NULL)
		test_fail(__FILE__, __LINE__, "the reason is not one line: [%s]", info.reason);
	/* LOCKET_ACROSS_HOSTS takes a local tmpfs lock. */
	o.flags = LOCKET_ACROSS_HOSTS;
	CHECK_RC(locket_new(&h, file, &o), LOCKET_OK);
	CHECK_RC(locket_acquire(h, 0, 0), LOCKET_OK);
	CHECK_RC(locket_check(h), LOCKET_OK);
	CHECK_RC(locket_release(h), LOCKET_OK);
	locket_free(h);
}

static void scope_names_the_point(const char *point)
{
	char file[1024];
	locket_scope_info info;
	scope_in_mount(point);
	snprintf(file, sizeof file, "%s/lock", point);
	info = attack_scope_of(file);
	/* The mount point as it is named, unescaped. */
	if (strstr(info.reason, point) == NULL)
		test_fail(__FILE__, __LINE__, "the reason [%s] does not name [%s]", info.reason,
			  point);
}

TEST(attack_scope_mount_point_with_spaces_and_backslashes)
{
	char point[512];
	snprintf(point, sizeof point, "%s/mnt with space \\134 and\\back", test_dir());
	CHECK(in_private_mount(point, scope_names_the_point) == 0);
}

TEST(attack_scope_mount_point_with_a_newline_and_a_tab)
{
	char point[512];
	snprintf(point, sizeof point, "%s/mnt\nwith\tcontrols", test_dir());
	CHECK(in_private_mount(point, scope_in_mount) == 0);
}

/* locket_check() after a directory of the path is renamed away (ELOST),
 * renamed back (OK again), and after a symlink of the path is switched to
 * a loop: the path names no file, so the lock is lost to it (ELOST), not an
 * invalid argument. */
TEST(attack_check_after_directory_renamed_and_back)
{
	char dir[1024], moved[1024], file[1100];
	locket_t *h;
	snprintf(dir, sizeof dir, "%s", test_path("d"));
	snprintf(moved, sizeof moved, "%s", test_path("d.moved"));
	snprintf(file, sizeof file, "%s/lock", dir);
	CHECK(mkdir(dir, 0755) == 0);
	CHECK_RC(locket_new(&h, file, NULL), LOCKET_OK);
	CHECK_RC(locket_acquire(h, 0, 0), LOCKET_OK);
	CHECK_RC(locket_check(h), LOCKET_OK);
	CHECK(rename(dir, moved) == 0);
	CHECK_RC(locket_check(h), LOCKET_ELOST);
	CHECK(locket_locked(h));
	CHECK(rename(moved, dir) == 0);
	CHECK_RC(locket_check(h), LOCKET_OK);
	CHECK_RC(locket_release(h), LOCKET_OK);
	CHECK_RC(locket_check(h), LOCKET_ENOTHELD);
	locket_free(h);
}

TEST(attack_check_after_a_symlink_becomes_a_loop)
{
	char real[1024], link[1024], file[1100], loop[1024];
	locket_t *h;
	snprintf(real, sizeof real, "%s", test_path("real"));
	snprintf(link, sizeof link, "%s", test_path("link"));
	snprintf(loop, sizeof loop, "%s", test_path("loop"));
	snprintf(file, sizeof file, "%s/lock", link);
	CHECK(mkdir(real, 0755) == 0);
	CHECK(symlink(real, link) == 0);
	CHECK_RC(locket_new(&h, file, NULL), LOCKET_OK);
	CHECK_RC(locket_acquire(h, 0, 0), LOCKET_OK);
	CHECK_RC(locket_check(h), LOCKET_OK);
	/* link -> loop -> link */
	CHECK(symlink(link, loop) == 0);
	CHECK(unlink(link) == 0);
	CHECK(symlink(loop, link) == 0);
	CHECK_RC(locket_check(h), LOCKET_ELOST);
	CHECK(locket_locked(h));
	CHECK_RC(locket_release(h), LOCKET_OK);
	locket_free(h);
}

/* ACROSS_HOSTS on the OFD kind, on a local filesystem: taken (a lock of
 * either kind on a local filesystem excludes every process). */
TEST(attack_across_hosts_with_the_ofd_kind_on_a_local_filesystem)
{
	locket_options o = LOCKET_OPTIONS_INIT;
	locket_t *h;
	o.flags = LOCKET_ACROSS_HOSTS;
	o.kind = LOCKET_KIND_OFD;
	o.start = 10;
	o.length = 5;
	if (attack_scope_of(test_path("f")).kind != LOCKET_SCOPE_LOCAL)
		test_skip("the test directory is not on a local filesystem");
	CHECK_RC(locket_new(&h, test_path("f"), &o), LOCKET_OK);
	CHECK_RC(locket_acquire(h, 100, 0), LOCKET_OK);
	CHECK_RC(locket_check(h), LOCKET_OK);
	CHECK_RC(locket_release(h), LOCKET_OK);
	locket_free(h);
}
