/* What a lock can exclude (locket_scope, LOCKET_ACROSS_HOSTS) on real mounts,
 * a FUSE view among them, and whether a held lock is still the file's
 * (locket_check). The table itself: test_scope_table.c. */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static locket_scope_info scope_of(const char *path)
{
	locket_scope_info info = LOCKET_SCOPE_INFO_INIT;
	CHECK_RC(locket_scope(path, LOCKET_KIND_FLOCK, &info), LOCKET_OK);
	CHECK(info.fs_type != NULL && info.reason != NULL && info.reason[0] != '\0');
	CHECK(strchr(info.reason, '\n') == NULL);
	return info;
}

TEST(scope_arguments)
{
	locket_scope_info info = LOCKET_SCOPE_INFO_INIT;
	CHECK_RC(locket_scope(NULL, 0, &info), LOCKET_EINVAL);
	CHECK_RC(locket_scope(test_path("f"), 0, NULL), LOCKET_EINVAL);
	CHECK_RC(locket_scope("", 0, &info), LOCKET_EINVAL);
	CHECK_RC(locket_scope(test_path("f"), 7, &info), LOCKET_EINVAL); /* no such lock kind */
	/* Both kinds are asked about; on a local filesystem they answer alike
	 * (the NFS rows where they differ: test_scope_table.c). */
	CHECK_RC(locket_scope("/dev/shm/x", LOCKET_KIND_OFD, &info), LOCKET_OK);
	CHECK(info.kind == LOCKET_SCOPE_LOCAL);
	info.version = 0;
	CHECK_RC(locket_scope(test_path("f"), 0, &info), LOCKET_EINVAL);
	info.version = LOCKET_SCOPE_INFO_VERSION;
	CHECK_RC(locket_scope(test_path("missing-dir/f"), 0, &info), LOCKET_ENOENT);
	CHECK(strcmp(locket_scope_name(LOCKET_SCOPE_LOCAL), "local") == 0);
	CHECK(strcmp(locket_scope_name(LOCKET_SCOPE_NETWORK), "network") == 0);
	CHECK(strcmp(locket_scope_name(LOCKET_SCOPE_THIS_HOST), "this-host") == 0);
	CHECK(strcmp(locket_scope_name(LOCKET_SCOPE_UNKNOWN), "unknown") == 0);
	CHECK(strcmp(locket_scope_name(42), "unknown") == 0);
}

TEST(scope_of_tmpfs_and_of_a_missing_file_is_its_directory)
{
	locket_scope_info a, b;
	/* /dev/shm is a tmpfs on every Linux with glibc's shm_open. */
	a = scope_of("/dev/shm/locket-scope-test-does-not-exist");
	if (strcmp(a.fs_type, "tmpfs") != 0)
		test_skip("/dev/shm is not a tmpfs here");
	CHECK(a.kind == LOCKET_SCOPE_LOCAL);
	CHECK(strstr(a.reason, "/dev/shm") != NULL);
	/* A missing file: its directory's filesystem; an existing one: its own. */
	b = scope_of(test_path("nothing-here"));
	CHECK(b.kind != LOCKET_SCOPE_UNKNOWN || strstr(b.reason, "knows") != NULL);
}

/* ---- a real FUSE mount: bindfs shows a directory again under another path ---- */

static char fuse_view[512];

static void unmount_view(void)
{
	if (fuse_view[0] != '\0') {
		if (umount2(fuse_view, MNT_DETACH) != 0)
			test_system("fusermount3 -uz '%s' 2>/dev/null || fusermount -uz '%s' "
				    "2>/dev/null",
				    fuse_view, fuse_view);
		fuse_view[0] = '\0';
	}
}

/* Mount test_dir()/real at test_dir()/view with bindfs, or skip where FUSE
 * cannot be used. */
static void mount_view(void)
{
	int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		char why[256];
		snprintf(why, sizeof why, "/dev/fuse cannot be used here: %s", strerror(errno));
		test_skip(why);
	}
	close(fd);
	if (test_system("command -v bindfs >/dev/null") != 0)
		test_fail(__FILE__, __LINE__,
			  "bindfs is not installed (scripts/install-deps.sh installs it)");
	CHECK(mkdir(test_path("real"), 0777) == 0);
	CHECK(mkdir(test_path("view"), 0777) == 0);
	snprintf(fuse_view, sizeof fuse_view, "%s", test_path("view"));
	atexit(unmount_view);
	if (test_system("bindfs '%s' '%s' 2>&1", test_path("real"), fuse_view) != 0) {
		fuse_view[0] = '\0';
		if (getuid() != 0)
			test_skip("bindfs could not mount (not root, and fusermount refused)");
		test_fail(__FILE__, __LINE__, "bindfs failed to mount as root");
	}
}

TEST(fuse_view_is_this_host_and_does_not_exclude)
{
	locket_scope_info info;
	locket_t *real, *view;
	locket_options o = LOCKET_OPTIONS_INIT;
	char real_type[64];
	int fd;

	mount_view();
	fd = open(test_path("real/f"), O_RDWR | O_CREAT, 0644);
	CHECK(fd >= 0);
	close(fd);

	info = scope_of(test_path("view/f"));
	CHECK(info.kind == LOCKET_SCOPE_THIS_HOST);
	/* "fuse", or "fuse.bindfs" where bindfs names its subtype. */
	CHECK(strncmp(info.fs_type, "fuse", 4) == 0);
	CHECK(strstr(info.reason, "FUSE") != NULL);
	info = scope_of(test_path("real/f"));
	snprintf(real_type, sizeof real_type, "%s", info.fs_type);
	if (strcmp(real_type, "ext4") == 0 || strcmp(real_type, "tmpfs") == 0 ||
	    strcmp(real_type, "xfs") == 0 || strcmp(real_type, "btrfs") == 0)
		CHECK(info.kind == LOCKET_SCOPE_LOCAL);
	else
		fprintf(stderr, "note: the test directory is on %s (%s)\n", real_type,
			locket_scope_name(info.kind));

	/* The same file through two mounts: two inodes, no exclusion. A holder
	 * of real/f (locket) and a flock(2) on view/f both get the lock. */
	CHECK_RC(locket_new(&real, test_path("real/f"), NULL), LOCKET_OK);
	CHECK_RC(locket_acquire(real, 0, 0), LOCKET_OK);
	fd = open(test_path("view/f"), O_RDONLY);
	CHECK(fd >= 0);
	CHECK(flock(fd, LOCK_EX | LOCK_NB) == 0); /* what the scope warns about */
	close(fd);
	check_held_elsewhere(test_path("real/f"), 1);

	/* across_hosts refuses the view, naming the filesystem, and keeps
	 * taking the real directory's. */
	o.flags = LOCKET_ACROSS_HOSTS;
	CHECK_RC(locket_new(&view, test_path("view/f"), &o), LOCKET_OK);
	CHECK_RC(locket_acquire(view, 0, 0), LOCKET_ESCOPE);
	CHECK(strstr(locket_last_error_message(), "filesystem fuse") != NULL);
	CHECK(strstr(locket_last_error_message(), "this-host") != NULL);
	CHECK(!locket_locked(view));
	CHECK_RC(locket_acquire(view, -1, 0), LOCKET_ESCOPE); /* before any wait */
	locket_free(view);
	CHECK_RC(locket_release(real), LOCKET_OK);
	locket_free(real);
	if (strcmp(real_type, "ext4") == 0 || strcmp(real_type, "tmpfs") == 0) {
		CHECK_RC(locket_new(&real, test_path("real/f"), &o), LOCKET_OK);
		CHECK_RC(locket_acquire(real, 0, 0), LOCKET_OK);
		CHECK_RC(locket_release(real), LOCKET_OK);
		locket_free(real);
	}
	unmount_view();
}

/* The refusal is judged on the file actually locked: a symlink switched
 * from the real file to the view between two acquisitions, and during a
 * wait. */
struct waiter_arg {
	locket_t *lock;
	pid_t tid;
	int started; /* atomic: the thread's tid is set */
	int rc;      /* read after the join */
	char message[512];
};

static void *acquire_waiting(void *p)
{
	struct waiter_arg *a = p;
	a->tid = test_gettid();
	__atomic_store_n(&a->started, 1, __ATOMIC_RELEASE);
	a->rc = locket_acquire(a->lock, 10000, 0);
	snprintf(a->message, sizeof a->message, "%s", locket_last_error_message());
	return NULL;
}

TEST(fuse_across_hosts_is_judged_on_the_locked_file)
{
	locket_options o = LOCKET_OPTIONS_INIT;
	struct waiter_arg a;
	locket_t *lock;
	pthread_t t;
	child holder;
	int fd;

	mount_view();
	fd = open(test_path("real/f"), O_RDWR | O_CREAT, 0644);
	CHECK(fd >= 0);
	close(fd);
	if (scope_of(test_path("real/f")).kind != LOCKET_SCOPE_LOCAL)
		test_skip("the test directory is not on a local filesystem");
	CHECK(symlink(test_path("real/f"), test_path("link")) == 0);
	o.flags = LOCKET_ACROSS_HOSTS;
	CHECK_RC(locket_new(&lock, test_path("link"), &o), LOCKET_OK);
	CHECK_RC(locket_acquire(lock, 0, 0), LOCKET_OK);
	CHECK_RC(locket_release(lock), LOCKET_OK);

	/* During a wait: granted on the real file after the switch, which
	 * moves the acquisition to the view, which it refuses. */
	holder = start_holder(test_path("real/f"), 0);
	memset(&a, 0, sizeof a);
	a.lock = lock;
	CHECK(pthread_create(&t, NULL, acquire_waiting, &a) == 0);
	while (__atomic_load_n(&a.started, __ATOMIC_ACQUIRE) == 0)
		sched_yield();
	wait_until_waiting(a.tid);
	CHECK(unlink(test_path("link")) == 0);
	CHECK(symlink(test_path("view/f"), test_path("link")) == 0);
	child_say(&holder, "release");
	CHECK(strncmp(child_read(&holder), "released ok", 11) == 0);
	CHECK(pthread_join(t, NULL) == 0);
	if (a.rc != LOCKET_ESCOPE)
		test_fail(__FILE__, __LINE__, "acquire returned %s: %s", locket_error_name(a.rc),
			  a.message);
	CHECK(strstr(a.message, "filesystem fuse") != NULL);
	CHECK(!locket_locked(lock));
	child_say(&holder, "exit");
	child_wait(&holder);
	/* And after the switch, between acquisitions: refused at once. */
	CHECK_RC(locket_acquire(lock, 0, 0), LOCKET_ESCOPE);
	locket_free(lock);
	unmount_view();
}

/* The CLI: --scope prints "KIND<tab>FSTYPE<tab>REASON"; --across-hosts
 * refuses the view with exit status 65 and runs on the real directory. */
TEST(cli_scope_and_across_hosts_on_a_fuse_view)
{
	const char *cli = getenv("LOCKET_CLI");
	int fd;
	if (cli == NULL || access(cli, X_OK) != 0)
		test_skip("LOCKET_CLI is not set to the locket binary");
	CHECK(test_system("'%s' --scope /dev/shm/x | grep -q '^local\ttmpfs\ttmpfs at /dev/shm'",
			  cli) == 0);
	CHECK(test_system("'%s' --scope '%s' 2>/dev/null", cli, test_path("no/dir/x")) == 66);
	CHECK(test_system("'%s' --scope 2>/dev/null", cli) == 64);
	CHECK(test_system("'%s' --scope /dev/shm/x extra 2>/dev/null", cli) == 64);
	/* --fcntl asks about an OFD lock (the kind that differs on NFS). */
	CHECK(test_system("'%s' --fcntl --scope /dev/shm/x | grep -q '^local\ttmpfs'", cli) == 0);
	CHECK(test_system("'%s' --across-hosts 9 2>/dev/null", cli) == 64);
	mount_view();
	fd = open(test_path("real/f"), O_RDWR | O_CREAT, 0644);
	CHECK(fd >= 0);
	close(fd);
	CHECK(test_system("'%s' --scope '%s' | grep -q '^this-host\tfuse'", cli,
			  test_path("view/f")) == 0);
	CHECK(test_system("'%s' --across-hosts '%s' touch '%s' 2>'%s'", cli, test_path("view/f"),
			  test_path("ran"), test_path("err")) == 65);
	CHECK(access(test_path("ran"), F_OK) != 0);
	CHECK(test_system("grep -q 'filesystem fuse.*this-host' '%s'", test_path("err")) == 0);
	if (scope_of(test_path("real/f")).kind == LOCKET_SCOPE_LOCAL)
		CHECK(test_system("'%s' --across-hosts '%s' true", cli, test_path("real/f")) == 0);
	unmount_view();
}

TEST(across_hosts_on_a_local_filesystem_changes_nothing)
{
	locket_options o = LOCKET_OPTIONS_INIT;
	locket_t *a, *b;
	if (scope_of(test_path("f")).kind != LOCKET_SCOPE_LOCAL)
		test_skip("the test directory is not on a local filesystem");
	o.flags = LOCKET_ACROSS_HOSTS;
	CHECK_RC(locket_new(&a, test_path("f"), &o), LOCKET_OK);
	CHECK_RC(locket_new(&b, test_path("f"), NULL), LOCKET_OK);
	CHECK_RC(locket_acquire(a, 0, 0), LOCKET_OK);
	CHECK_RC(locket_acquire(b, 0, 0), LOCKET_EWOULDBLOCK);
	CHECK_RC(locket_release(a), LOCKET_OK);
	CHECK_RC(locket_acquire(b, 0, 0), LOCKET_OK);
	CHECK_RC(locket_acquire(a, 0, 0), LOCKET_EWOULDBLOCK);
	CHECK_RC(locket_release(b), LOCKET_OK);
	locket_free(a);
	locket_free(b);
	o.flags = 0x100u; /* unknown flags are still refused */
	CHECK_RC(locket_new(&a, test_path("f"), &o), LOCKET_EINVAL);
}

static double acquire_release_ns(locket_t *lock, int n)
{
	struct timespec t0, t1;
	int i;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < n; i++) {
		CHECK_RC(locket_acquire(lock, 0, 0), LOCKET_OK);
		CHECK_RC(locket_release(lock), LOCKET_OK);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / n;
}

/* The bytes this process has read so far (/proc/self/io's rchar): what a
 * read of /proc/self/mountinfo would add to. */
static long long bytes_read(void)
{
	char line[128];
	long long n = -1;
	FILE *f = fopen("/proc/self/io", "r");
	CHECK(f != NULL);
	while (fgets(line, sizeof line, f) != NULL)
		if (sscanf(line, "rchar: %lld", &n) == 1)
			break;
	fclose(f);
	return n;
}

/* LOCKET_ACROSS_HOSTS looks the mount up in a per-process cache: 2000
 * acquisitions read the mount table a few times at most (each read is the
 * whole of /proc/self/mountinfo), not once each. Its cost in time is a
 * benchmark row (bench/c: uncontended, locket_across_hosts_timeout_-1). */
TEST(across_hosts_reads_the_mount_table_from_its_cache)
{
	locket_options o = LOCKET_OPTIONS_INIT;
	locket_t *checked;
	long long before, during, table = 0;
	char buf[4096];
	size_t got;
	FILE *f;
	if (scope_of(test_path("f")).kind != LOCKET_SCOPE_LOCAL)
		test_skip("the test directory is not on a local filesystem");
	f = fopen("/proc/self/mountinfo", "r");
	CHECK(f != NULL);
	while ((got = fread(buf, 1, sizeof buf, f)) > 0)
		table += (long long)got;
	fclose(f);
	o.flags = LOCKET_ACROSS_HOSTS;
	CHECK_RC(locket_new(&checked, test_path("f"), &o), LOCKET_OK);
	acquire_release_ns(checked, 1); /* fills the cache */
	before = bytes_read();
	acquire_release_ns(checked, 2000);
	during = bytes_read() - before;
	/* The cache keeps an entry for 1 s: a slow run may read it again. */
	if (during > 20 * table)
		test_fail(__FILE__, __LINE__,
			  "2000 acquisitions read %lld bytes (the mount table is %lld bytes)",
			  during, table);
	locket_free(checked);
}

/* ---- locket_check: is the held lock still the file's? ---- */

TEST(check_while_intact_and_not_held)
{
	locket_t *lock;
	CHECK_RC(locket_check(NULL), LOCKET_EINVAL);
	CHECK_RC(locket_new(&lock, test_path("f"), NULL), LOCKET_OK);
	CHECK_RC(locket_check(lock), LOCKET_ENOTHELD);
	CHECK_RC(locket_acquire(lock, 0, 0), LOCKET_OK);
	CHECK_RC(locket_check(lock), LOCKET_OK);
	CHECK_RC(locket_check(lock), LOCKET_OK);
	CHECK_RC(locket_release(lock), LOCKET_OK);
	CHECK_RC(locket_check(lock), LOCKET_ENOTHELD);
	locket_free(lock);
}

/* After the lock is lost the handle still holds it until released, and a
 * new acquisition takes the file the path names now. */
static void lost_then_released(locket_t *lock)
{
	CHECK_RC(locket_check(lock), LOCKET_ELOST);
	CHECK(strstr(locket_last_error_message(), "lock lost") != NULL);
	CHECK(locket_locked(lock));
	CHECK_RC(locket_check(lock), LOCKET_ELOST); /* and stays so */
	CHECK_RC(locket_release(lock), LOCKET_OK);
	CHECK_RC(locket_check(lock), LOCKET_ENOTHELD);
}

TEST(check_after_unlink)
{
	locket_t *lock;
	CHECK_RC(locket_new(&lock, test_path("f"), NULL), LOCKET_OK);
	CHECK_RC(locket_acquire(lock, 0, 0), LOCKET_OK);
	CHECK(unlink(test_path("f")) == 0);
	lost_then_released(lock);
	locket_free(lock);
}

TEST(check_after_rename_over)
{
	locket_t *lock;
	int fd;
	CHECK_RC(locket_new(&lock, test_path("f"), NULL), LOCKET_OK);
	CHECK_RC(locket_acquire(lock, 0, 0), LOCKET_OK);
	fd = open(test_path("g"), O_WRONLY | O_CREAT, 0644);
	CHECK(fd >= 0);
	close(fd);
	CHECK(rename(test_path("g"), test_path("f")) == 0);
	CHECK_RC(locket_check(lock), LOCKET_ELOST);
	CHECK(strstr(locket_last_error_message(), "another file") != NULL);
	/* The lock is still held, on the old file: a new handle on the path
	 * takes the new file's lock meanwhile, which is what ELOST warns of. */
	{
		locket_t *other;
		CHECK_RC(locket_new(&other, test_path("f"), NULL), LOCKET_OK);
		CHECK_RC(locket_acquire(other, 0, 0), LOCKET_OK);
		locket_free(other);
	}
	lost_then_released(lock);
	CHECK_RC(locket_acquire(lock, 0, 0), LOCKET_OK);
	CHECK_RC(locket_check(lock), LOCKET_OK);
	locket_free(lock);
}

TEST(check_after_renamed_away)
{
	locket_t *lock;
	CHECK_RC(locket_new(&lock, test_path("f"), NULL), LOCKET_OK);
	CHECK_RC(locket_acquire(lock, 0, 0), LOCKET_OK);
	CHECK(rename(test_path("f"), test_path("elsewhere")) == 0);
	lost_then_released(lock);
	locket_free(lock);
}

TEST(check_after_directory_replaced)
{
	locket_t *lock;
	int fd;
	CHECK(mkdir(test_path("d"), 0777) == 0);
	CHECK_RC(locket_new(&lock, test_path("d/f"), NULL), LOCKET_OK);
	CHECK_RC(locket_acquire(lock, 0, 0), LOCKET_OK);
	/* A deploy: the new directory, with its own lock file, moved in. */
	CHECK(mkdir(test_path("d.new"), 0777) == 0);
	fd = open(test_path("d.new/f"), O_WRONLY | O_CREAT, 0644);
	CHECK(fd >= 0);
	close(fd);
	CHECK(rename(test_path("d"), test_path("d.old")) == 0);
	CHECK(rename(test_path("d.new"), test_path("d")) == 0);
	lost_then_released(lock);
	CHECK_RC(locket_acquire(lock, 0, 0), LOCKET_OK);
	CHECK_RC(locket_check(lock), LOCKET_OK);
	/* The directory removed outright. */
	CHECK(unlink(test_path("d/f")) == 0);
	CHECK(rmdir(test_path("d")) == 0);
	lost_then_released(lock);
	locket_free(lock);
}

TEST(check_in_forked_child_is_not_held)
{
	locket_t *lock;
	pid_t pid;
	int status;
	CHECK_RC(locket_new(&lock, test_path("f"), NULL), LOCKET_OK);
	CHECK_RC(locket_acquire(lock, 0, 0), LOCKET_OK);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0)
		_exit(locket_check(lock) == LOCKET_ENOTHELD ? 0 : 1);
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK_RC(locket_check(lock), LOCKET_OK);
	locket_free(lock);
}

/* ENOSYS from flock (Lustre with noflock) is not_supported, and the message
 * names the filesystem (LD_PRELOAD fault injection). */
TEST(fault_enosys_is_not_supported_naming_the_filesystem)
{
	locket_scope_info info = LOCKET_SCOPE_INFO_INIT;
	locket_t *lock;
	char want[128];
	if (getenv("LOCKET_FAULT") == NULL)
		test_skip("needs the fault-injection preload");
	CHECK_RC(locket_scope(test_path("x"), 0, &info), LOCKET_OK);
	snprintf(want, sizeof want, "(filesystem %s at ", info.fs_type);
	CHECK_RC(locket_new(&lock, test_path("x"), NULL), LOCKET_OK);
	CHECK_RC(locket_acquire(lock, 0, 0), LOCKET_ENOTSUP);
	CHECK(locket_last_os_error() == ENOSYS);
	if (strstr(locket_last_error_message(), want) == NULL)
		test_fail(__FILE__, __LINE__, "'%s' does not name the filesystem",
			  locket_last_error_message());
	CHECK_RC(locket_acquire(lock, -1, 0), LOCKET_ENOTSUP); /* at once */
	CHECK(!locket_locked(lock));
	/* Descriptor locks name it too. */
	{
		int fd = open(test_path("x"), O_RDONLY);
		CHECK(fd >= 0);
		CHECK_RC(locket_fd_lock(fd, 0, 0), LOCKET_ENOTSUP);
		CHECK(strstr(locket_last_error_message(), want) != NULL);
		close(fd);
	}
	locket_free(lock);
}
