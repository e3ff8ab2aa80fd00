/*
 * locket on Windows: the contract of include/locket.h, across processes
 * (this program started again in child roles, see roles.c) and within one.
 */
#include "harness.h"

#include <string.h>

static locket_t *open_lock(const char *path)
{
	locket_t *lock = NULL;
	CHECK_RC(locket_new(&lock, path, NULL), LOCKET_OK);
	CHECK(lock != NULL);
	return lock;
}

static const char *quoted(const char *path, const char *rest)
{
	static char buf[4][4096];
	static int next;
	char *b = buf[next++ % 4];
	snprintf(b, sizeof buf[0], "\"%s\" %s", path, rest);
	return b;
}

/* A child that holds the lock on path, in mode, until told to release. */
static child holder(const char *path, const char *mode)
{
	child c = child_start("hold", quoted(path, mode));
	child_expect(&c, "locked");
	return c;
}

static void release_holder(child *c)
{
	child_send(c, "release");
	child_expect(c, "released");
	CHECK(child_wait(c) == 0);
}

/* What another process gets from one try. */
static const char *other_try(const char *path, const char *mode)
{
	static char answer[64];
	child c = child_start("try", quoted(path, mode));
	snprintf(answer, sizeof answer, "%s", child_read(&c));
	CHECK(child_wait(&c) == 0);
	return answer;
}

TEST(uncontended)
{
	const char *path = test_path("lock");
	locket_t *lock = open_lock(path);
	CHECK(locket_locked(lock) == 0);
	CHECK_RC(locket_acquire(lock, 0, 0), LOCKET_OK);
	CHECK(locket_locked(lock) == 1);
	CHECK(strcmp(other_try(path, "excl"), "would_block") == 0);
	CHECK_RC(locket_release(lock), LOCKET_OK);
	CHECK(locket_locked(lock) == 0);
	CHECK(strcmp(other_try(path, "excl"), "ok") == 0);
	CHECK_RC(locket_acquire(lock, -1, 0), LOCKET_OK);
	CHECK_RC(locket_release(lock), LOCKET_OK);
	CHECK_RC(locket_acquire(lock, 1000, LOCKET_SHARED), LOCKET_OK);
	CHECK_RC(locket_release(lock), LOCKET_OK);
	locket_free(lock);
}

TEST(try_fails_at_once_when_held)
{
	const char *path = test_path("lock");
	child c = holder(path, "excl");
	locket_t *lock = open_lock(path);
	double t0 = test_now_ms();
	CHECK_RC(locket_acquire(lock, 0, 0), LOCKET_EWOULDBLOCK);
	CHECK(test_now_ms() - t0 < 2000);
	CHECK(locket_last_error_code() == LOCKET_EWOULDBLOCK);
	CHECK_RC(locket_acquire(lock, 0, LOCKET_SHARED), LOCKET_EWOULDBLOCK);
	CHECK(locket_locked(lock) == 0);
	release_holder(&c);
	CHECK_RC(locket_acquire(lock, 0, 0), LOCKET_OK);
	locket_free(lock); /* releases */
	CHECK(strcmp(other_try(path, "excl"), "ok") == 0);
}

TEST(timeout_is_one_deadline)
{
	const char *path = test_path("lock");
	child c = holder(path, "excl");
	locket_t *lock = open_lock(path);
	double t0 = test_now_ms(), elapsed;
	CHECK_RC(locket_acquire(lock, 300, 0), LOCKET_ETIMEDOUT);
	elapsed = test_now_ms() - t0;
	printf("timed out after %.1f ms\n", elapsed);
	CHECK(elapsed >= 290 && elapsed < 5000);
	CHECK(locket_last_error_code() == LOCKET_ETIMEDOUT);
	CHECK(locket_locked(lock) == 0);
	release_holder(&c);
	locket_free(lock);
}

/* The three wait paths: a timed wait woken by a locket release (wake-up
 * event), a timed wait on a holder that does not signal (bounded sleeps),
 * and a wait without deadline (blocking LockFileEx). */
static void handoff(const char *role, const char *end, int64_t timeout)
{
	const char *path = test_path("lock");
	char args[4200];
	locket_t *lock = open_lock(path);
	child c;
	double t0;

	snprintf(args, sizeof args, "\"%s\" 300 %s", path, end);
	c = child_start(role, args);
	child_expect(&c, "locked");
	CHECK_RC(locket_acquire(lock, 0, 0), LOCKET_EWOULDBLOCK);
	t0 = test_now_ms();
	CHECK_RC(locket_acquire(lock, timeout, 0), LOCKET_OK);
	printf("%s/%s: waited %.1f ms\n", role, end, test_now_ms() - t0);
	CHECK(locket_locked(lock) == 1);
	CHECK(strcmp(other_try(path, "excl"), "would_block") == 0);
	child_wait(&c);
	CHECK_RC(locket_release(lock), LOCKET_OK);
	locket_free(lock);
}

TEST(timed_wait_gets_lock_on_release)
{
	handoff("holdfor", "release", 30000);
}

TEST(forever_wait_gets_lock_on_release)
{
	handoff("holdfor", "release", -1);
}

TEST(timed_wait_gets_lock_from_plain_holder)
{
	const char *path = test_path("lock");
	locket_t *lock = open_lock(path);
	child c = child_start("plainhold", quoted(path, "excl 300"));
	child_expect(&c, "locked");
	CHECK_RC(locket_acquire(lock, 0, 0), LOCKET_EWOULDBLOCK);
	CHECK_RC(locket_acquire(lock, 30000, 0), LOCKET_OK);
	child_expect(&c, "released");
	CHECK(child_wait(&c) == 0);
	CHECK_RC(locket_release(lock), LOCKET_OK);
	locket_free(lock);
}

TEST(timed_wait_gets_lock_of_dead_holder)
{
	handoff("holdfor", "die", 30000);
}

TEST(forever_wait_gets_lock_of_dead_holder)
{
	handoff("holdfor", "die", -1);
}

TEST(killed_holder_releases)
{
	const char *path = test_path("lock");
	child c = holder(path, "excl");
	locket_t *lock = open_lock(path);
	CHECK_RC(locket_acquire(lock, 0, 0), LOCKET_EWOULDBLOCK);
	child_kill(&c);
	CHECK_RC(locket_acquire(lock, 30000, 0), LOCKET_OK);
	locket_free(lock);
}

/* A child the holder started (inheriting handles) must not keep the lock
 * after the holder dies. On Windows a file object's locks go only when its
 * last handle closes, so an inherited lock handle would keep them; Wine drops
 * a dead process's locks whatever handles remain, so the child also checks
 * directly that it got no handle of the lock file. */
TEST(lock_is_not_inherited_by_children)
{
	const char *path = test_path("lock");
	child c = child_start("holdspawn", quoted(path, ""));
	const char *line = child_read(&c);
	DWORD grandchild;
	HANDLE g;
	locket_t *lock = open_lock(path);

	CHECK(strncmp(line, "locked ", 7) == 0);
	grandchild = (DWORD)strtoul(line + 7, NULL, 10);
	child_expect(&c, "clean"); /* the grandchild's verdict, through the same pipe */
	CHECK_RC(locket_acquire(lock, 0, 0), LOCKET_EWOULDBLOCK);
	child_kill(&c);
	CHECK_RC(locket_acquire(lock, 30000, 0), LOCKET_OK);
	g = OpenProcess(PROCESS_TERMINATE | SYNCHRONIZE, FALSE, grandchild);
	CHECK(g != NULL); /* still alive, and yet the lock is free */
	TerminateProcess(g, 9);
	WaitForSingleObject(g, 60000);
	CloseHandle(g);
	locket_free(lock);
}

TEST(two_handles_in_one_process_exclude)
{
	const char *path = test_path("lock");
	char spelling[2048], *p;
	locket_t *a = open_lock(path), *b, *c;

	/* Another spelling of the same file: forward slashes, upper case, "..". */
	snprintf(spelling, sizeof spelling, "%s/../%s/LOCK", test_dir(),
		 strrchr(test_dir(), '\\') + 1);
	for (p = spelling; *p; p++)
		if (*p == '\\')
			*p = '/';
	b = open_lock(spelling);
	SetCurrentDirectoryA(test_dir());
	c = open_lock("lock");
	CHECK(strcmp(locket_path(c), path) == 0);

	CHECK_RC(locket_acquire(a, 0, 0), LOCKET_OK);
	CHECK_RC(locket_acquire(b, 0, 0), LOCKET_EWOULDBLOCK);
	CHECK_RC(locket_acquire(c, 200, 0), LOCKET_ETIMEDOUT);
	CHECK_RC(locket_acquire(c, 0, LOCKET_SHARED), LOCKET_EWOULDBLOCK);
	CHECK_RC(locket_release(a), LOCKET_OK);
	CHECK_RC(locket_acquire(b, 0, 0), LOCKET_OK);
	CHECK_RC(locket_acquire(a, 0, 0), LOCKET_EWOULDBLOCK);
	CHECK_RC(locket_release(b), LOCKET_OK);
	locket_free(a);
	locket_free(b);
	locket_free(c);
}

TEST(same_handle_is_not_reentrant)
{
	locket_t *lock = open_lock(test_path("lock"));
	CHECK_RC(locket_acquire(lock, 0, 0), LOCKET_OK);
	CHECK_RC(locket_acquire(lock, 0, 0), LOCKET_EWOULDBLOCK);
	CHECK_RC(locket_acquire(lock, 100, 0), LOCKET_ETIMEDOUT);
	CHECK(locket_locked(lock) == 1);
	CHECK_RC(locket_release(lock), LOCKET_OK);
	locket_free(lock);
}

static DWORD WINAPI release_in_thread(LPVOID arg)
{
	return (DWORD)(locket_release((locket_t *)arg) == LOCKET_OK ? 0 : 1);
}

TEST(release_from_another_thread)
{
	const char *path = test_path("lock");
	locket_t *lock = open_lock(path);
	HANDLE t;
	DWORD code = 1;
	CHECK_RC(locket_acquire(lock, 0, 0), LOCKET_OK);
	t = CreateThread(NULL, 0, release_in_thread, lock, 0, NULL);
	CHECK(t != NULL);
	WaitForSingleObject(t, INFINITE);
	GetExitCodeThread(t, &code);
	CloseHandle(t);
	CHECK(code == 0);
	CHECK(locket_locked(lock) == 0);
	CHECK(strcmp(other_try(path, "excl"), "ok") == 0);
	locket_free(lock);
}

static DWORD WINAPI acquire_in_thread(LPVOID arg)
{
	return (DWORD)-locket_acquire((locket_t *)arg, 30000, 0);
}

/* A thread waiting on a handle that another thread holds is woken by that release. */
TEST(thread_waits_for_thread_of_same_handle)
{
	locket_t *lock = open_lock(test_path("lock"));
	HANDLE t;
	DWORD code = 99;
	CHECK_RC(locket_acquire(lock, 0, 0), LOCKET_OK);
	t = CreateThread(NULL, 0, acquire_in_thread, lock, 0, NULL);
	CHECK(WaitForSingleObject(t, 100) == WAIT_TIMEOUT); /* still waiting, as it must */
	CHECK_RC(locket_release(lock), LOCKET_OK);
	WaitForSingleObject(t, INFINITE);
	GetExitCodeThread(t, &code);
	CloseHandle(t);
	CHECK(code == 0);
	CHECK(locket_locked(lock) == 1);
	CHECK_RC(locket_release(lock), LOCKET_OK);
	locket_free(lock);
}

TEST(release_unlocked_is_an_error)
{
	locket_t *lock = open_lock(test_path("lock"));
	CHECK_RC(locket_release(lock), LOCKET_ENOTHELD);
	CHECK(strcmp(locket_error_name(locket_last_error_code()), "not_held") == 0);
	CHECK_RC(locket_acquire(lock, 0, 0), LOCKET_OK);
	CHECK_RC(locket_release(lock), LOCKET_OK);
	CHECK_RC(locket_release(lock), LOCKET_ENOTHELD);
	locket_free(lock);
}

TEST(shared_locks_coexist_and_exclude_exclusive)
{
	const char *path = test_path("lock");
	child a = holder(path, "shared"), b = holder(path, "shared");
	locket_t *lock = open_lock(path);
	CHECK_RC(locket_acquire(lock, 0, LOCKET_SHARED), LOCKET_OK);
	CHECK_RC(locket_release(lock), LOCKET_OK);
	CHECK_RC(locket_acquire(lock, 0, 0), LOCKET_EWOULDBLOCK);
	CHECK_RC(locket_acquire(lock, 200, 0), LOCKET_ETIMEDOUT);
	release_holder(&a);
	CHECK_RC(locket_acquire(lock, 0, 0), LOCKET_EWOULDBLOCK);
	release_holder(&b);
	CHECK_RC(locket_acquire(lock, 30000, 0), LOCKET_OK);
	CHECK(strcmp(other_try(path, "shared"), "would_block") == 0);
	locket_free(lock);
}

/* Interop with locket.py and filelock: both lock byte 0 with LockFileEx. */
TEST(excludes_plain_lockfileex_on_byte0)
{
	const char *path = test_path("lock");
	locket_t *lock = open_lock(path);
	child c = child_start("plainhold", quoted(path, "excl"));
	const char *answer;

	child_expect(&c, "locked");
	CHECK_RC(locket_acquire(lock, 0, 0), LOCKET_EWOULDBLOCK);
	CHECK_RC(locket_acquire(lock, 0, LOCKET_SHARED), LOCKET_EWOULDBLOCK);
	child_send(&c, "release");
	child_expect(&c, "released");
	CHECK(child_wait(&c) == 0);

	c = child_start("plainhold", quoted(path, "shared"));
	child_expect(&c, "locked");
	CHECK_RC(locket_acquire(lock, 0, LOCKET_SHARED), LOCKET_OK);
	CHECK_RC(locket_release(lock), LOCKET_OK);
	CHECK_RC(locket_acquire(lock, 0, 0), LOCKET_EWOULDBLOCK);
	child_send(&c, "release");
	child_expect(&c, "released");
	CHECK(child_wait(&c) == 0);

	CHECK_RC(locket_acquire(lock, 0, 0), LOCKET_OK);
	c = child_start("plaintry", quoted(path, ""));
	answer = child_read(&c);
	CHECK(strcmp(answer, "busy 33") == 0); /* ERROR_LOCK_VIOLATION */
	CHECK(child_wait(&c) == 0);
	CHECK_RC(locket_release(lock), LOCKET_OK);
	c = child_start("plaintry", quoted(path, ""));
	child_expect(&c, "ok");
	CHECK(child_wait(&c) == 0);
	locket_free(lock);
}

TEST(never_two_holders)
{
	const char *path = test_path("lock"), *occ = test_path("occupied");
	const char *timeouts[3] = { "-1", "30000", "30000" };
	child w[3];
	char args[4200];
	int i;
	for (i = 0; i < 3; i++) {
		snprintf(args, sizeof args, "\"%s\" \"%s\" 150 %s", path, occ, timeouts[i]);
		w[i] = child_start("worker", args);
	}
	for (i = 0; i < 3; i++)
		child_expect(&w[i], "ready");
	for (i = 0; i < 3; i++) {
		child_expect(&w[i], "done");
		CHECK(child_wait(&w[i]) == 0);
	}
}

TEST(does_not_truncate_or_write)
{
	const char *path = test_path("data");
	wchar_t *w = test_wide(path);
	HANDLE h = CreateFileW(w, GENERIC_WRITE, 0, NULL, CREATE_ALWAYS, 0, NULL);
	char buf[64] = { 0 };
	DWORD n;
	locket_t *lock;

	CHECK(h != INVALID_HANDLE_VALUE);
	CHECK(WriteFile(h, "precious", 8, &n, NULL) && n == 8);
	CloseHandle(h);
	lock = open_lock(path);
	CHECK_RC(locket_acquire(lock, 0, 0), LOCKET_OK);
	CHECK_RC(locket_release(lock), LOCKET_OK);
	locket_free(lock);
	h = CreateFileW(w, GENERIC_READ, FILE_SHARE_READ, NULL, OPEN_EXISTING, 0, NULL);
	CHECK(h != INVALID_HANDLE_VALUE);
	CHECK(ReadFile(h, buf, sizeof buf, &n, NULL) && n == 8);
	CHECK(memcmp(buf, "precious", 8) == 0);
	CloseHandle(h);
	free(w);
}

/* The lock file is renamed away and replaced while this process waits: the
 * wait ends holding the file the path names now, not the renamed one. */
TEST(replaced_file_is_locked_anew)
{
	const char *path = test_path("lock"), *old = test_path("lock.old");
	locket_t *lock = open_lock(path);
	child c = child_start("holdreplace", quoted(path, "300"));
	child_expect(&c, "locked");
	child_send(&c, "go");
	CHECK_RC(locket_acquire(lock, 30000, 0), LOCKET_OK);
	child_expect(&c, "replaced");
	CHECK(child_wait(&c) == 0);
	CHECK(strcmp(other_try(path, "excl"), "would_block") == 0);
	CHECK(strcmp(other_try(old, "excl"), "ok") == 0);
	CHECK_RC(locket_release(lock), LOCKET_OK);
	locket_free(lock);
}

/* ---- paths ---- */

TEST(non_ascii_path)
{
	/* n with tilde, Japanese, and an emoji outside the BMP (a surrogate pair). */
	const char *name = "lock-\xc3\xb1-\xe6\x97\xa5\xe6\x9c\xac-\xf0\x9f\x98\x80";
	const char *path = test_path(name);
	locket_t *lock = open_lock(path);
	wchar_t *w = test_wide(path);
	WIN32_FIND_DATAW fd;
	HANDLE find;
	char *found;

	CHECK(strcmp(locket_path(lock), path) == 0);
	CHECK_RC(locket_acquire(lock, 0, 0), LOCKET_OK);
	find = FindFirstFileW(w, &fd);
	CHECK(find != INVALID_HANDLE_VALUE);
	FindClose(find);
	found = test_utf8(fd.cFileName);
	CHECK(strcmp(found, name) == 0);
	CHECK(strcmp(other_try(path, "excl"), "would_block") == 0);
	CHECK_RC(locket_release(lock), LOCKET_OK);
	CHECK(strcmp(other_try(path, "excl"), "ok") == 0);
	locket_free(lock);
	free(found);
	free(w);
}

TEST(long_path)
{
	char path[2048];
	wchar_t *w, *pw;
	locket_t *lock;
	int i;

	snprintf(path, sizeof path, "%s", test_dir());
	for (i = 0; i < 6; i++) {
		strcat(path, "\\a-directory-name-of-fifty-characters-or-so-xxxxxxxxxx");
		w = test_wide(path);
		pw = malloc((wcslen(w) + 5) * sizeof *pw);
		wcscpy(pw, L"\\\\?\\");
		wcscat(pw, w);
		CHECK(CreateDirectoryW(pw, NULL));
		free(pw);
		free(w);
	}
	strcat(path, "\\lock");
	CHECK(strlen(path) > 300);
	lock = open_lock(path);
	CHECK(strcmp(locket_path(lock), path) == 0);
	CHECK_RC(locket_acquire(lock, 0, 0), LOCKET_OK);
	CHECK(strcmp(other_try(path, "excl"), "would_block") == 0);
	CHECK_RC(locket_release(lock), LOCKET_OK);
	CHECK(strcmp(other_try(path, "excl"), "ok") == 0);
	locket_free(lock);
}

/* ---- errors: each at once, with its own code ---- */

TEST(missing_directory_is_not_found)
{
	locket_t *lock = (locket_t *)1;
	locket_options opts = LOCKET_OPTIONS_INIT;
	wchar_t *w;
	CHECK_RC(locket_new(&lock, test_path("missing\\lock"), NULL), LOCKET_ENOENT);
	CHECK(lock == NULL);
	CHECK(locket_last_os_error() == ERROR_PATH_NOT_FOUND);
	CHECK(strstr(locket_last_error_message(), "missing") != NULL);
	opts.flags = LOCKET_NO_CREATE;
	CHECK_RC(locket_new(&lock, test_path("absent"), &opts), LOCKET_ENOENT);
	w = test_wide(test_path("absent"));
	CHECK(GetFileAttributesW(w) == INVALID_FILE_ATTRIBUTES); /* not created */
	free(w);
}

TEST(directory_is_rejected)
{
	locket_t *lock = NULL;
	CHECK_RC(locket_new(&lock, test_dir(), NULL), LOCKET_EISDIR);
	CHECK(lock == NULL);
}

/* Another program opened the file without sharing it: a permission error at
 * once (ERROR_SHARING_VIOLATION), not contention, not a timeout. */
TEST(sharing_violation_is_permission_denied)
{
	const char *path = test_path("lock");
	wchar_t *w = test_wide(path);
	HANDLE h = CreateFileW(w, GENERIC_READ, 0, NULL, CREATE_ALWAYS, 0, NULL);
	locket_t *lock = NULL;
	double t0 = test_now_ms();
	CHECK(h != INVALID_HANDLE_VALUE);
	CHECK_RC(locket_new(&lock, path, NULL), LOCKET_EACCES);
	CHECK(locket_last_os_error() == ERROR_SHARING_VIOLATION);
	CHECK(test_now_ms() - t0 < 2000);
	CloseHandle(h);
	lock = open_lock(path);
	locket_free(lock);
	free(w);
}

/* The directory given as argument holds "noaccess" (mode 000) and
 * "noaccess-dir" (mode 000), made by the win.prepare_noaccess fixture.
 * Denial needs a Wine server without CAP_DAC_OVERRIDE (scripts/windows-test.sh
 * starts it so when it runs as root); otherwise there is nothing to test. */
TEST(access_denied_fails_at_once)
{
	char path[2048], inside[2048], readonly[2048];
	locket_t *lock = NULL;
	wchar_t *w;
	HANDLE h;
	double t0;

	if (test_arg() == NULL)
		test_skip("needs the directory prepared by win.prepare_noaccess");
	snprintf(path, sizeof path, "%s/noaccess", test_arg());
	snprintf(inside, sizeof inside, "%s/noaccess-dir/lock", test_arg());
	snprintf(readonly, sizeof readonly, "%s/readonly", test_arg());
	w = test_wide(path);
	h = CreateFileW(w, GENERIC_READ, 7, NULL, OPEN_EXISTING, 0, NULL);
	free(w);
	if (h != INVALID_HANDLE_VALUE) {
		CloseHandle(h);
		test_skip("this Wine server may open a mode-000 file (root with CAP_DAC_OVERRIDE); "
			  "run scripts/windows-test.sh");
	}
	t0 = test_now_ms();
	CHECK_RC(locket_new(&lock, path, NULL), LOCKET_EACCES);
	CHECK(locket_last_os_error() == ERROR_ACCESS_DENIED);
	CHECK_RC(locket_new(&lock, inside, NULL), LOCKET_EACCES);
	CHECK(test_now_ms() - t0 < 2000);
	CHECK(lock == NULL);
	/* A read-only (mode 0444) file still locks, through a read-only handle. */
	lock = open_lock(readonly);
	CHECK_RC(locket_acquire(lock, 0, 0), LOCKET_OK);
	CHECK(strcmp(other_try(readonly, "excl"), "would_block") == 0);
	CHECK_RC(locket_release(lock), LOCKET_OK);
	locket_free(lock);
}

TEST(bad_arguments)
{
	locket_t *lock = NULL;
	locket_options opts = LOCKET_OPTIONS_INIT;
	int64_t pid = 42;
	CHECK_RC(locket_new(&lock, "", NULL), LOCKET_EINVAL);
	CHECK_RC(locket_new(&lock, NULL, NULL), LOCKET_EINVAL);
	CHECK_RC(locket_new(NULL, "x", NULL), LOCKET_EINVAL);
	CHECK_RC(locket_new(&lock, "bad-\xff-utf8", NULL), LOCKET_EINVAL);
	CHECK_RC(locket_new(&lock, test_path("a\"b"), NULL), LOCKET_EINVAL);
	CHECK_RC(locket_new(&lock, test_path("a<b"), NULL), LOCKET_EINVAL);
	opts.flags = 0x100;
	CHECK_RC(locket_new(&lock, test_path("lock"), &opts), LOCKET_EINVAL);
	CHECK_RC(locket_acquire(NULL, 0, 0), LOCKET_EINVAL);
	CHECK_RC(locket_release(NULL), LOCKET_EINVAL);
	lock = open_lock(test_path("lock"));
	CHECK_RC(locket_acquire(lock, 0, 0x80), LOCKET_EINVAL);
	CHECK(locket_locked(lock) == 0);
	CHECK_RC(locket_holder_pid(lock, &pid), LOCKET_ENOTSUP);
	CHECK(pid == 0);
	CHECK_RC(locket_acquire(lock, INT64_MAX, 0), LOCKET_OK);
	CHECK_RC(locket_release(lock), LOCKET_OK);
	locket_free(lock);
	locket_free(NULL);
}

TEST(error_messages_name_path_and_reason)
{
	locket_t *lock = NULL;
	const char *msg;
	CHECK_RC(locket_new(&lock, test_path("missing\\lock"), NULL), LOCKET_ENOENT);
	msg = locket_last_error_message();
	printf("message: %s\n", msg);
	CHECK(strstr(msg, test_dir()) != NULL);
	CHECK(strstr(msg, "(Windows error 3)") != NULL);
}

static locket_t *open_range(const char *path, int64_t start, int64_t length)
{
	locket_options o = LOCKET_OPTIONS_INIT;
	locket_t *lock = NULL;
	o.kind = LOCKET_KIND_OFD; /* meaningless on Windows: LockFileEx on the range */
	o.start = start;
	o.length = length;
	CHECK_RC(locket_new(&lock, path, &o), LOCKET_OK);
	return lock;
}

/* Byte ranges: LockFileEx on [start, start + length), length 0 to 2^62; the default kind locks
 * byte 0 only, so a range that does not cover it leaves locket.py and filelock alone. */
TEST(ranges_exclude_where_they_overlap)
{
	const char *path = test_path("lock");
	locket_t *a = open_range(path, 10, 10), *b = open_range(path, 19, 1),
		 *c = open_range(path, 20, 0), *whole = open_range(path, 0, 0),
		 *byte0 = open_lock(path);
	CHECK_RC(locket_acquire(a, 0, 0), LOCKET_OK);
	CHECK_RC(locket_acquire(b, 0, 0), LOCKET_EWOULDBLOCK);
	CHECK_RC(locket_acquire(c, 0, 0), LOCKET_OK);
	CHECK_RC(locket_acquire(byte0, 0, 0), LOCKET_OK); /* byte 0 is outside both */
	CHECK_RC(locket_acquire(whole, 0, LOCKET_SHARED), LOCKET_EWOULDBLOCK);
	CHECK_RC(locket_release(byte0), LOCKET_OK);
	CHECK_RC(locket_release(a), LOCKET_OK);
	CHECK_RC(locket_acquire(b, 0, 0), LOCKET_OK);
	CHECK_RC(locket_release(b), LOCKET_OK);
	CHECK_RC(locket_release(c), LOCKET_OK);
	CHECK_RC(locket_acquire(whole, 0, 0), LOCKET_OK);
	CHECK_RC(locket_acquire(byte0, 0, 0), LOCKET_EWOULDBLOCK); /* length 0 covers byte 0 */
	CHECK_RC(locket_release(whole), LOCKET_OK);
	locket_free(a);
	locket_free(b);
	locket_free(c);
	locket_free(whole);
	locket_free(byte0);
}
