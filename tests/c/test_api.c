/* The API's edges: arguments, error names, versions, the file itself. */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

TEST(error_names_are_stable)
{
	static const char *names[] = { "ok",
				       "would_block",
				       "timeout",
				       "not_held",
				       "interrupted",
				       "invalid_argument",
				       "not_found",
				       "permission_denied",
				       "is_a_directory",
				       "not_supported",
				       "out_of_memory",
				       "io_error",
				       "scope",
				       "lock_lost" };
	int code;
	for (code = 0; code >= LOCKET_ERROR_MIN; code--) {
		CHECK(strcmp(locket_error_name(code), names[-code]) == 0);
		CHECK(strlen(locket_strerror(code)) > 0);
	}
	CHECK(strcmp(locket_error_name(1), "unknown") == 0);
	CHECK(strcmp(locket_error_name(LOCKET_ERROR_MIN - 1), "unknown") == 0);
	CHECK(strcmp(locket_strerror(LOCKET_ENOTHELD), "cannot release unlocked lock") == 0);
	CHECK(LOCKET_EIO == -11 && LOCKET_ETIMEDOUT == -2); /* ABI: fixed values */
}

TEST(version)
{
	CHECK(strcmp(locket_version(), LOCKET_VERSION_STRING) == 0);
	CHECK(locket_version_number() == LOCKET_VERSION_NUMBER);
	CHECK(LOCKET_VERSION_NUMBER ==
	      LOCKET_VERSION_MAJOR * 10000 + LOCKET_VERSION_MINOR * 100 + LOCKET_VERSION_PATCH);
}

TEST(null_arguments)
{
	locket_t *lock = (locket_t *)1;
	int64_t pid = 7;
	CHECK_RC(locket_new(NULL, test_path("a"), NULL), LOCKET_EINVAL);
	CHECK_RC(locket_new(&lock, NULL, NULL), LOCKET_EINVAL);
	CHECK(lock == NULL);
	CHECK_RC(locket_acquire(NULL, 0, 0), LOCKET_EINVAL);
	CHECK_RC(locket_release(NULL), LOCKET_EINVAL);
	CHECK(locket_locked(NULL) == 0);
	CHECK_RC(locket_holder_pid(NULL, &pid), LOCKET_EINVAL);
	CHECK(locket_path(NULL) == NULL);
	locket_free(NULL);
	locket_options_init(NULL);
}

TEST(empty_path)
{
	locket_t *lock;
	CHECK_RC(locket_new(&lock, "", NULL), LOCKET_EINVAL);
	CHECK(strstr(locket_last_error_message(), "empty") != NULL);
	CHECK(locket_last_error_code() == LOCKET_EINVAL);
}

TEST(directory_is_refused)
{
	locket_t *lock;
	CHECK_RC(locket_new(&lock, test_dir(), NULL), LOCKET_EISDIR);
	CHECK(lock == NULL);
	CHECK(strstr(locket_last_error_message(), test_dir()) != NULL);
	CHECK(locket_last_os_error() == EISDIR);
}

TEST(missing_parent_directory)
{
	locket_t *lock;
	CHECK_RC(locket_new(&lock, test_path("no/such/dir/x.lock"), NULL), LOCKET_ENOENT);
	CHECK(locket_last_os_error() == ENOENT);
	CHECK(strstr(locket_last_error_message(), "no/such/dir/x.lock") != NULL);
}

TEST(parent_is_a_file)
{
	locket_t *lock;
	close(open(test_path("file"), O_CREAT | O_WRONLY, 0644));
	CHECK_RC(locket_new(&lock, test_path("file/x.lock"), NULL), LOCKET_ENOENT);
	CHECK(locket_last_os_error() == ENOTDIR);
}

TEST(path_too_long)
{
	locket_t *lock;
	char *path = (char *)malloc(70000);
	memset(path, 'a', 69999);
	path[0] = '/';
	path[69999] = '\0';
	CHECK_RC(locket_new(&lock, path, NULL), LOCKET_EINVAL);
	/* A component over NAME_MAX, under PATH_MAX overall. */
	snprintf(path, 70000, "%s/", test_dir());
	memset(path + strlen(path), 'b', 300);
	path[strlen(test_dir()) + 1 + 300] = '\0';
	CHECK_RC(locket_new(&lock, path, NULL), LOCKET_EINVAL);
	free(path);
}

TEST(bad_options)
{
	locket_t *lock;
	locket_options o = LOCKET_OPTIONS_INIT;
	o.version = 0;
	CHECK_RC(locket_new(&lock, test_path("a"), &o), LOCKET_EINVAL);
	o.version = LOCKET_OPTIONS_VERSION + 1;
	CHECK_RC(locket_new(&lock, test_path("a"), &o), LOCKET_EINVAL);
	locket_options_init(&o);
	o.flags = 0x80;
	CHECK_RC(locket_new(&lock, test_path("a"), &o), LOCKET_EINVAL);
	locket_options_init(&o);
	o.file_mode = 0100000;
	CHECK_RC(locket_new(&lock, test_path("a"), &o), LOCKET_EINVAL);
	CHECK(access(test_path("a"), F_OK) != 0); /* nothing created on failure */
}

TEST(bad_acquire_flags)
{
	locket_t *lock;
	CHECK_RC(locket_new(&lock, test_path("a"), NULL), LOCKET_OK);
	CHECK_RC(locket_acquire(lock, 0, 0x100), LOCKET_EINVAL);
	CHECK(!locket_locked(lock));
	locket_free(lock);
}

TEST(no_create)
{
	locket_t *lock;
	locket_options o = LOCKET_OPTIONS_INIT;
	o.flags = LOCKET_NO_CREATE;
	CHECK_RC(locket_new(&lock, test_path("absent"), &o), LOCKET_ENOENT);
	CHECK(access(test_path("absent"), F_OK) != 0);
	close(open(test_path("present"), O_CREAT | O_WRONLY, 0644));
	CHECK_RC(locket_new(&lock, test_path("present"), &o), LOCKET_OK);
	CHECK_RC(locket_acquire(lock, 0, 0), LOCKET_OK);
	locket_free(lock);
}

TEST(creation_mode_and_umask)
{
	locket_t *lock;
	locket_options o = LOCKET_OPTIONS_INIT;
	struct stat st;
	mode_t old = umask(022);
	o.file_mode = 0640;
	CHECK_RC(locket_new(&lock, test_path("m"), &o), LOCKET_OK);
	CHECK(stat(test_path("m"), &st) == 0);
	CHECK((st.st_mode & 0777) == 0640);
	CHECK(umask(old) == 022); /* locket never touches the umask */
	locket_free(lock);
	CHECK_RC(locket_new(&lock, test_path("d"), NULL), LOCKET_OK);
	CHECK(stat(test_path("d"), &st) == 0);
	CHECK((st.st_mode & 0777) == (0666 & ~old));
	locket_free(lock);
}

TEST(file_content_is_never_touched)
{
	static const char data[] = "precious data\n";
	char buf[64] = { 0 };
	locket_t *a, *b;
	int fd = open(test_path("data"), O_CREAT | O_WRONLY, 0644);
	CHECK(write(fd, data, sizeof data - 1) == (ssize_t)(sizeof data - 1));
	close(fd);
	CHECK_RC(locket_new(&a, test_path("data"), NULL), LOCKET_OK);
	CHECK_RC(locket_new(&b, test_path("data"), NULL), LOCKET_OK);
	CHECK_RC(locket_acquire(a, -1, 0), LOCKET_OK);
	CHECK_RC(locket_acquire(b, 0, 0), LOCKET_EWOULDBLOCK); /* a contender opens it too */
	CHECK_RC(locket_release(a), LOCKET_OK);
	locket_free(a);
	locket_free(b);
	fd = open(test_path("data"), O_RDONLY);
	CHECK(fd >= 0); /* not deleted on release */
	CHECK(read(fd, buf, sizeof buf) == (ssize_t)(sizeof data - 1));
	CHECK(strcmp(buf, data) == 0);
	close(fd);
}

TEST(relative_path_is_fixed_at_creation)
{
	locket_t *rel, *abs;
	char cwd[1024];
	CHECK(getcwd(cwd, sizeof cwd) != NULL);
	CHECK(chdir(test_dir()) == 0);
	CHECK_RC(locket_new(&rel, "rel.lock", NULL), LOCKET_OK);
	CHECK(chdir("/") == 0);
	CHECK(strcmp(locket_path(rel), test_path("rel.lock")) == 0);
	CHECK_RC(locket_new(&abs, test_path("rel.lock"), NULL), LOCKET_OK);
	CHECK_RC(locket_acquire(rel, 0, 0), LOCKET_OK);
	CHECK_RC(locket_acquire(abs, 0, 0), LOCKET_EWOULDBLOCK);
	CHECK(chdir(cwd) == 0);
	locket_free(rel);
	locket_free(abs);
}

TEST(release_unlocked_is_an_error)
{
	locket_t *lock;
	CHECK_RC(locket_new(&lock, test_path("a"), NULL), LOCKET_OK);
	CHECK_RC(locket_release(lock), LOCKET_ENOTHELD);
	CHECK(strstr(locket_last_error_message(), "cannot release unlocked lock") != NULL);
	CHECK_RC(locket_acquire(lock, 0, 0), LOCKET_OK);
	CHECK(locket_locked(lock));
	CHECK_RC(locket_release(lock), LOCKET_OK);
	CHECK(!locket_locked(lock));
	CHECK_RC(locket_release(lock), LOCKET_ENOTHELD);
	locket_free(lock);
}

struct huge_wait {
	locket_t *lock;
	int rc;
	int started[2];
	pid_t tid;
};

static void *wait_huge(void *arg)
{
	struct huge_wait *hw = (struct huge_wait *)arg;
	hw->tid = test_gettid();
	if (write(hw->started[1], "s", 1) != 1)
		return NULL;
	hw->rc = locket_acquire(hw->lock, INT64_MAX - 1, 0);
	return NULL;
}

TEST(absurd_timeouts)
{
	locket_t *a, *b;
	double t0;
	CHECK_RC(locket_new(&a, test_path("a"), NULL), LOCKET_OK);
	CHECK_RC(locket_new(&b, test_path("a"), NULL), LOCKET_OK);
	/* Free lock: every timeout returns at once. */
	CHECK_RC(locket_acquire(a, INT64_MAX, 0), LOCKET_OK);
	CHECK_RC(locket_release(a), LOCKET_OK);
	CHECK_RC(locket_acquire(a, INT64_MIN, 0), LOCKET_OK);
	/* Held: INT64_MAX must not overflow into a past deadline. */
	t0 = test_now_ms();
	CHECK_RC(locket_acquire(b, 1, 0), LOCKET_ETIMEDOUT);
	CHECK(test_now_ms() - t0 >= 1); /* never early, even for 1 ms */
	/* Held elsewhere: the largest timeouts wait, they do not wrap into the past. */
	{
		child holder = start_holder(test_path("big"), 0);
		struct huge_wait hw;
		pthread_t t;
		char c;
		CHECK_RC(locket_new(&hw.lock, test_path("big"), NULL), LOCKET_OK);
		CHECK_RC(locket_acquire(hw.lock, 50, 0), LOCKET_ETIMEDOUT);
		CHECK(pipe(hw.started) == 0);
		CHECK(pthread_create(&t, NULL, wait_huge, &hw) == 0);
		CHECK(read(hw.started[0], &c, 1) == 1);
		wait_until_waiting(hw.tid); /* a wrapped deadline would have timed out */
		child_say(&holder, "release");
		CHECK(strcmp(child_read(&holder), "released ok") == 0);
		pthread_join(t, NULL);
		CHECK_RC(hw.rc, LOCKET_OK);
		child_wait(&holder);
		locket_free(hw.lock);
	}
	locket_free(a);
	locket_free(b);
}

TEST(free_releases)
{
	locket_t *lock;
	CHECK_RC(locket_new(&lock, test_path("a"), NULL), LOCKET_OK);
	CHECK_RC(locket_acquire(lock, -1, 0), LOCKET_OK);
	check_held_elsewhere(test_path("a"), 1);
	locket_free(lock);
	check_held_elsewhere(test_path("a"), 0);
}

TEST(no_descriptor_kept_while_unlocked)
{
	locket_t *lock;
	int before, after, fd;
	before = dup(0);
	close(before);
	CHECK_RC(locket_new(&lock, test_path("a"), NULL), LOCKET_OK);
	CHECK_RC(locket_acquire(lock, 0, 0), LOCKET_OK);
	CHECK_RC(locket_release(lock), LOCKET_OK);
	fd = dup(0);
	after = fd;
	close(fd);
	CHECK(after == before); /* the lowest free descriptor is the same again */
	locket_free(lock);
}

static void open_as_nobody(void *arg)
{
	locket_t *lock;
	int rc = locket_new(&lock, (const char *)arg, NULL);
	if (rc == LOCKET_OK) {
		rc = locket_acquire(lock, 0, 0);
		locket_free(lock);
	}
	_exit(-rc);
}

TEST(permission_denied)
{
	int status;
	CHECK(mkdir(test_path("closed"), 0700) == 0);
	if (!run_as_nobody(open_as_nobody, (void *)test_path("closed/x.lock"), &status))
		test_skip("cannot drop privileges to test permission errors");
	CHECK(status == -LOCKET_EACCES);
	/* A file we may read but not write still locks (flock works read-only). */
	close(open(test_path("readonly"), O_CREAT | O_WRONLY, 0644));
	CHECK(run_as_nobody(open_as_nobody, (void *)test_path("readonly"), &status));
	CHECK(status == LOCKET_OK);
	/* Neither read nor write: refused at once, not reported as contention. */
	close(open(test_path("private"), O_CREAT | O_WRONLY, 0600));
	CHECK(run_as_nobody(open_as_nobody, (void *)test_path("private"), &status));
	CHECK(status == -LOCKET_EACCES);
}

/* Run under LD_PRELOAD=fault_inject with LOCKET_FAULT=enolck (see CMakeLists). */
TEST(fault_enolck_is_not_supported_not_contention)
{
	locket_t *lock;
	if (getenv("LOCKET_FAULT") == NULL)
		test_skip("needs the fault-injection preload");
	CHECK_RC(locket_new(&lock, test_path("x"), NULL), LOCKET_OK);
	CHECK_RC(locket_acquire(lock, 0, 0), LOCKET_ENOTSUP);
	CHECK(locket_last_os_error() == ENOLCK);
	/* The message names the filesystem and its mount point (core/scope.c). */
	{
		locket_scope_info info = LOCKET_SCOPE_INFO_INIT;
		char want[128];
		char message[512];
		snprintf(message, sizeof message, "%s", locket_last_error_message());
		CHECK_RC(locket_scope(test_path("x"), 0, &info), LOCKET_OK);
		snprintf(want, sizeof want, "(filesystem %s at ", info.fs_type);
		if (strstr(message, want) == NULL)
			test_fail(__FILE__, __LINE__, "'%s' does not name the filesystem", message);
	}
	CHECK_RC(locket_acquire(lock, 5000, 0), LOCKET_ENOTSUP); /* at once, not after 5 s */
	CHECK_RC(locket_acquire(lock, -1, 0), LOCKET_ENOTSUP);
	CHECK(!locket_locked(lock));
	CHECK_RC(locket_release(lock), LOCKET_ENOTHELD);
	locket_free(lock);
}
