/*
 * The contract under fork, threads, changing paths and odd files (issue 9):
 * each test here failed on the code before the fix it names.
 */
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- helpers ---- */

/* Sleep a little while polling for a condition that only polling can see
 * (a /proc entry); never used to wait for something that has an event. */
static void nap(void)
{
	struct timespec ts = { 0, 2 * 1000 * 1000 };
	nanosleep(&ts, NULL);
}

/* Does this process have a descriptor open on (dev, ino)? */
static int have_fd_on(dev_t dev, ino_t ino)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int found = 0;
	CHECK(d != NULL);
	while ((e = readdir(d)) != NULL) {
		char p[300];
		struct stat st;
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof p, "/proc/self/fd/%s", e->d_name);
		if (stat(p, &st) == 0 && st.st_dev == dev && st.st_ino == ino &&
		    S_ISREG(st.st_mode))
			found = 1;
	}
	closedir(d);
	return found;
}

/* The access mode (O_RDONLY...) of this process's descriptor on (dev, ino), or -1. */
static int fd_access_mode(dev_t dev, ino_t ino)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int mode = -1;
	CHECK(d != NULL);
	while ((e = readdir(d)) != NULL) {
		struct stat st;
		int fd;
		if (e->d_name[0] == '.')
			continue;
		fd = atoi(e->d_name);
		if (fd != dirfd(d) && fstat(fd, &st) == 0 && st.st_dev == dev && st.st_ino == ino)
			mode = fcntl(fd, F_GETFL) & O_ACCMODE;
	}
	closedir(d);
	return mode;
}

/* Does /proc/locks show an exclusive flock lock taken by pid on path's file? */
static int proc_locks_shows(pid_t pid, const char *path)
{
	struct stat st;
	char line[256];
	int found = 0;
	FILE *f;
	if (stat(path, &st) != 0)
		return 0;
	f = fopen("/proc/locks", "re");
	CHECK(f != NULL);
	while (fgets(line, sizeof line, f) != NULL) {
		char type[16], mode[16];
		long long lpid;
		unsigned int maj, min;
		unsigned long long ino;
		if (strstr(line, "->") != NULL)
			continue;
		if (sscanf(line, "%*d: %15s %*s %15s %lld %x:%x:%llu", type, mode, &lpid, &maj,
			   &min, &ino) == 6 &&
		    strcmp(type, "FLOCK") == 0 && strcmp(mode, "WRITE") == 0 && lpid == pid &&
		    makedev(maj, min) == st.st_dev && ino == st.st_ino)
			found = 1;
	}
	fclose(f);
	return found;
}

struct waiter {
	locket_t *lock;
	int64_t timeout_ms;
	unsigned int flags;
	atomic_int tid;
	atomic_int done;
	int rc;
};

static void *waiter_main(void *arg)
{
	struct waiter *w = (struct waiter *)arg;
	atomic_store(&w->tid, (int)syscall(SYS_gettid));
	w->rc = locket_acquire(w->lock, w->timeout_ms, w->flags);
	atomic_store(&w->done, 1);
	return NULL;
}

/* ---- 1. a path component changes during a wait ---- */

enum path_change {
	SWITCH_SYMLINK,
	EXCHANGE_DIRS
};

/*
 * A waiter on current/app.lock whose holder releases after current was
 * switched to another directory must not come back holding the old file
 * while another process holds the file the path names now: it moves to
 * the new file and waits for that one's holder.
 */
static void check_path_change_during_wait(enum path_change how, int64_t timeout_ms,
					  unsigned int flags)
{
	char cur[512], old_file[512], new_file[512];
	struct stat old_st, new_st;
	child h_old, h_new;
	struct waiter w = { 0 };
	pthread_t t;
	double t0;

	if (how == SWITCH_SYMLINK) {
		CHECK(mkdir(test_path("v1"), 0755) == 0 && mkdir(test_path("v2"), 0755) == 0);
		CHECK(symlink("v1", test_path("current")) == 0);
		snprintf(old_file, sizeof old_file, "%s", test_path("v1/app.lock"));
		snprintf(new_file, sizeof new_file, "%s", test_path("v2/app.lock"));
	} else {
		CHECK(mkdir(test_path("current"), 0755) == 0 &&
		      mkdir(test_path("next"), 0755) == 0);
		snprintf(old_file, sizeof old_file, "%s", test_path("current/app.lock"));
		snprintf(new_file, sizeof new_file, "%s", test_path("next/app.lock"));
	}
	snprintf(cur, sizeof cur, "%s", test_path("current/app.lock"));
	h_old = start_holder(old_file, 0);
	h_new = start_holder(new_file, 0);
	CHECK(stat(old_file, &old_st) == 0 && stat(new_file, &new_st) == 0);

	CHECK_RC(locket_new(&w.lock, cur, NULL), LOCKET_OK);
	w.timeout_ms = timeout_ms;
	w.flags = flags;
	CHECK(pthread_create(&t, NULL, waiter_main, &w) == 0);
	while (atomic_load(&w.tid) == 0)
		nap();
	wait_until_waiting(atomic_load(&w.tid));

	if (how == SWITCH_SYMLINK) {
		CHECK(symlink("v2", test_path("current.new")) == 0);
		CHECK(rename(test_path("current.new"), test_path("current")) == 0);
	} else {
		CHECK(syscall(SYS_renameat2, AT_FDCWD, test_path("current"), AT_FDCWD,
			      test_path("next"), 2 /* RENAME_EXCHANGE */) == 0);
	}
	child_say(&h_old, "release");
	CHECK(strcmp(child_read(&h_old), "released ok") == 0);

	/* The waiter either (wrongly) returns holding the old file, or moves:
	 * it drops the old file and opens the one the path names now. */
	t0 = test_now_ms();
	for (;;) {
		CHECK(!atomic_load(&w.done)); /* two holders: it took the old file */
		if (!have_fd_on(old_st.st_dev, old_st.st_ino) &&
		    have_fd_on(new_st.st_dev, new_st.st_ino))
			break;
		if (test_now_ms() - t0 > 30000)
			test_fail(__FILE__, __LINE__, "the waiter never moved to the new file");
		nap();
	}
	wait_until_waiting(atomic_load(&w.tid));
	CHECK(!atomic_load(&w.done));
	child_say(&h_new, "release");
	CHECK(strcmp(child_read(&h_new), "released ok") == 0);
	CHECK(pthread_join(t, NULL) == 0);
	CHECK_RC(w.rc, LOCKET_OK);
	check_held_elsewhere(cur, 1);
	/* the old file, under the name it has now */
	check_held_elsewhere(how == SWITCH_SYMLINK ? old_file : test_path("next/app.lock"), 0);
	CHECK_RC(locket_release(w.lock), LOCKET_OK);
	child_wait(&h_new); /* first: it inherited h_old's pipe */
	child_wait(&h_old);
	locket_free(w.lock);
}

TEST(symlink_switch_during_timed_wait_moves_to_new_file)
{
	check_path_change_during_wait(SWITCH_SYMLINK, 60000, 0);
}

TEST(symlink_switch_during_interruptible_wait_moves_to_new_file)
{
	check_path_change_during_wait(SWITCH_SYMLINK, -1, LOCKET_INTERRUPTIBLE);
}

TEST(symlink_switch_during_blocking_wait_moves_to_new_file)
{
	check_path_change_during_wait(SWITCH_SYMLINK, -1, 0);
}

TEST(directory_exchange_during_timed_wait_moves_to_new_file)
{
	check_path_change_during_wait(EXCHANGE_DIRS, 60000, 0);
}

TEST(directory_exchange_during_interruptible_wait_moves_to_new_file)
{
	check_path_change_during_wait(EXCHANGE_DIRS, -1, LOCKET_INTERRUPTIBLE);
}

/* Under LOCKET_FAULT=rename_before_try, current is switched from v1 to v2
 * between the open and the first try: the try finds v1's file free, but
 * v2's holder holds the file the path names now. */
TEST(fault_path_switch_between_open_and_first_try)
{
	child h_new;
	locket_t *lock;
	CHECK(mkdir(test_path("v1"), 0755) == 0 && mkdir(test_path("v2"), 0755) == 0);
	CHECK(symlink("v1", test_path("current")) == 0);
	CHECK(symlink("v2", test_path("current.new")) == 0);
	h_new = start_holder(test_path("v2/app.lock"), 0);
	CHECK(setenv("LOCKET_FAULT_FROM", test_path("current.new"), 1) == 0);
	CHECK(setenv("LOCKET_FAULT_TO", test_path("current"), 1) == 0);
	CHECK_RC(locket_new(&lock, test_path("current/app.lock"), NULL), LOCKET_OK);
	CHECK_RC(locket_acquire(lock, 300, 0), LOCKET_ETIMEDOUT);
	check_held_elsewhere(test_path("v1/app.lock"), 0);
	child_say(&h_new, "release");
	CHECK(strcmp(child_read(&h_new), "released ok") == 0);
	CHECK_RC(locket_acquire(lock, 10000, 0), LOCKET_OK);
	check_held_elsewhere(test_path("v2/app.lock"), 1);
	CHECK_RC(locket_release(lock), LOCKET_OK);
	child_wait(&h_new);
	locket_free(lock);
}

/* ---- 2. a holder that forked dies: its child must not keep the lock ---- */

/* Takes the lock, forks a worker that never touches it, says "held", and
 * waits to be killed. The worker (sharing the pipes) waits for "try", then
 * checks that it neither sees nor keeps the lock and can take it itself. */
static void holder_with_worker(const char *path, FILE *in, FILE *out)
{
	locket_t *lock;
	char line[64];
	pid_t worker;
	if (locket_new(&lock, path, NULL) != LOCKET_OK || locket_acquire(lock, -1, 0) != LOCKET_OK)
		_exit(2);
	fflush(NULL);
	worker = fork();
	if (worker == 0) {
		int ok;
		if (fgets(line, sizeof line, in) == NULL)
			_exit(3);
		ok = locket_locked(lock) == 0 && locket_acquire(lock, 10000, 0) == LOCKET_OK &&
		     locket_release(lock) == LOCKET_OK;
		fprintf(out, "worker %s\n", ok ? "ok" : locket_last_error_message());
		fflush(out);
		locket_free(lock);
		_exit(0);
	}
	fprintf(out, "held %d\n", (int)worker);
	fflush(out);
	for (;;)
		pause();
}

TEST(forked_worker_does_not_keep_a_killed_holders_lock)
{
	child holder = child_start(holder_with_worker, test_path("x"));
	const char *line = child_read(&holder);
	int worker;
	CHECK(sscanf(line, "held %d", &worker) == 1);
	check_held_elsewhere(test_path("x"), 1);
	child_kill9(&holder);
	/* the holder is dead; its worker lives on (it waits for "try") */
	CHECK(waitpid(holder.pid, NULL, 0) == holder.pid);
	CHECK(kill(worker, 0) == 0);
	check_held_elsewhere(test_path("x"), 0);
	child_say(&holder, "try");
	CHECK(strcmp(child_read(&holder), "worker ok") == 0);
	kill(worker, SIGKILL);
}

/* ---- 3. fork() while other threads use the same handle ---- */

struct hammer {
	locket_t *lock;
	atomic_int stop;
};

static void *hammer_main(void *arg)
{
	struct hammer *h = (struct hammer *)arg;
	while (!atomic_load(&h->stop)) {
		if (locket_acquire(h->lock, -1, 0) == LOCKET_OK)
			locket_release(h->lock);
	}
	return NULL;
}

/* In a child forked at any moment: the handle is not held, its mutex is
 * free, an acquire that succeeds really holds the lock, and releasing
 * closes nothing of the child's own. */
static int check_forked_child(locket_t *lock, const char *path)
{
	int unrelated, rc;
	alarm(20); /* a hang (an inherited locked mutex) ends as SIGALRM */
	unrelated = open("/dev/null", O_RDONLY);
	if (unrelated < 0)
		return 10;
	if (locket_locked(lock))
		return 11;
	rc = locket_acquire(lock, 5000, 0);
	if (rc == LOCKET_OK) {
		int seen = 0, tries;
		/* /proc/locks can skip entries while other locks come and go
		 * under its reader: look a few times. */
		for (tries = 0; tries < 50 && !seen; tries++)
			seen = proc_locks_shows(getpid(), path);
		if (!seen) {
			fprintf(stderr,
				"forked child %d: acquired, but /proc/locks shows no lock of its own\n",
				(int)getpid());
			test_system("cat /proc/locks >&2; ls -l /proc/%d/fd >&2", (int)getpid());
			return 12; /* "held" without holding */
		}
		if (locket_release(lock) != LOCKET_OK)
			return 13;
	} else if (rc != LOCKET_ETIMEDOUT) {
		fprintf(stderr, "forked child: acquire gave %s (%s)\n", locket_error_name(rc),
			locket_last_error_message());
		return 14;
	}
	if (fcntl(unrelated, F_GETFD) < 0)
		return 15; /* the handle closed a descriptor that was not its own */
	locket_free(lock);
	return 0;
}

TEST(fork_while_threads_acquire_and_release_one_handle)
{
	struct hammer h = { 0 };
	pthread_t t[2];
	int i, bad = 0, first_bad = 0;
	CHECK_RC(locket_new(&h.lock, test_path("x"), NULL), LOCKET_OK);
	for (i = 0; i < 2; i++)
		CHECK(pthread_create(&t[i], NULL, hammer_main, &h) == 0);
	for (i = 0; i < 400; i++) {
		int status;
		pid_t pid;
		fflush(NULL);
		pid = fork();
		CHECK(pid >= 0);
		if (pid == 0)
			_exit(check_forked_child(h.lock, test_path("x")));
		CHECK(waitpid(pid, &status, 0) == pid);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			if (bad++ == 0)
				first_bad = WIFEXITED(status) ? WEXITSTATUS(status)
							      : 128 + WTERMSIG(status);
		}
	}
	atomic_store(&h.stop, 1);
	for (i = 0; i < 2; i++)
		CHECK(pthread_join(t[i], NULL) == 0);
	if (bad)
		test_fail(__FILE__, __LINE__, "%d of 400 forked children failed (first: status %d)",
			  bad, first_bad);
	locket_free(h.lock);
}

/* ---- 4. odd lock files: bounded opens ---- */

TEST(dangling_symlink_lock_file_creates_its_target)
{
	locket_t *lock;
	struct stat st;
	alarm(20); /* the open loop used to spin here for ever */
	CHECK(symlink("target.lock", test_path("link.lock")) == 0);
	CHECK_RC(locket_new(&lock, test_path("link.lock"), NULL), LOCKET_OK);
	CHECK_RC(locket_acquire(lock, 1000, 0), LOCKET_OK);
	CHECK(stat(test_path("target.lock"), &st) == 0 && S_ISREG(st.st_mode));
	check_held_elsewhere(test_path("target.lock"), 1);
	CHECK_RC(locket_release(lock), LOCKET_OK);
	locket_free(lock);
}

TEST(symlink_into_missing_directory_fails_with_not_found)
{
	locket_t *lock;
	alarm(20);
	CHECK(symlink("no-such-dir/x.lock", test_path("link.lock")) == 0);
	CHECK_RC(locket_new(&lock, test_path("link.lock"), NULL), LOCKET_ENOENT);
	CHECK(strstr(locket_last_error_message(), "symlink") != NULL);
	/* the same when the link appears after the handle was made */
	CHECK_RC(locket_new(&lock, test_path("y.lock"), NULL), LOCKET_OK);
	CHECK(unlink(test_path("y.lock")) == 0);
	CHECK(symlink("no-such-dir/y.lock", test_path("y.lock")) == 0);
	CHECK_RC(locket_acquire(lock, 1000, 0), LOCKET_ENOENT);
	CHECK(!locket_locked(lock));
	locket_free(lock);
}

/* ---- 7. read-only opens ---- */

TEST(lock_file_is_opened_read_only)
{
	locket_t *lock;
	struct stat st;
	CHECK_RC(locket_new(&lock, test_path("x"), NULL), LOCKET_OK);
	CHECK_RC(locket_acquire(lock, 0, 0), LOCKET_OK);
	CHECK(stat(test_path("x"), &st) == 0);
	CHECK(fd_access_mode(st.st_dev, st.st_ino) == O_RDONLY);
	CHECK_RC(locket_release(lock), LOCKET_OK);
	locket_free(lock);
}

TEST(running_executable_can_be_its_own_lock_file)
{
	locket_t *lock;
	char prog[512];
	int go[2];
	pid_t pid;
	char c;
	snprintf(prog, sizeof prog, "%s", test_path("prog"));
	CHECK(test_system("cp /bin/sleep '%s'", prog) == 0);
	CHECK(pipe2(go, O_CLOEXEC) == 0);
	pid = fork();
	if (pid == 0) {
		char *argv[] = { prog, "60", NULL };
		close(go[0]);
		execv(prog, argv);
		_exit(127);
	}
	close(go[1]);
	/* exec closed the close-on-exec pipe: the program runs */
	CHECK(read(go[0], &c, 1) == 0);
	CHECK_RC(locket_new(&lock, prog, NULL), LOCKET_OK);
	CHECK_RC(locket_acquire(lock, 0, 0), LOCKET_OK); /* a write open gives ETXTBSY */
	check_held_elsewhere(prog, 1);
	CHECK_RC(locket_release(lock), LOCKET_OK);
	locket_free(lock);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* Under LOCKET_FAULT=ebadf_rdonly, an exclusive flock() on a read-only
 * descriptor fails with EBADF, as on Linux NFS: the lock is taken through a
 * read-write descriptor instead. */
TEST(fault_exclusive_lock_needing_write_access_reopens_read_write)
{
	locket_t *lock;
	locket_attempt_t *a;
	struct stat st;
	CHECK_RC(locket_new(&lock, test_path("x"), NULL), LOCKET_OK);
	CHECK_RC(locket_acquire(lock, 1000, 0), LOCKET_OK);
	CHECK(stat(test_path("x"), &st) == 0);
	CHECK(fd_access_mode(st.st_dev, st.st_ino) == O_RDWR);
	check_held_elsewhere(test_path("x"), 1);
	CHECK_RC(locket_release(lock), LOCKET_OK);
	/* a shared lock works read-only */
	CHECK_RC(locket_acquire(lock, 0, LOCKET_SHARED), LOCKET_OK);
	CHECK(fd_access_mode(st.st_dev, st.st_ino) == O_RDONLY);
	CHECK_RC(locket_release(lock), LOCKET_OK);
	/* and an attempt moves to a read-write descriptor too */
	CHECK_RC(locket_attempt_start(&a, lock, 0), LOCKET_EWOULDBLOCK);
	CHECK_RC(locket_attempt_try(a), LOCKET_OK);
	locket_attempt_free(a);
	CHECK(locket_locked(lock));
	CHECK_RC(locket_release(lock), LOCKET_OK);
	locket_free(lock);
}

/* ---- 8. a lease on the lock file ---- */

static volatile sig_atomic_t lease_fd = -1;

static void give_up_lease(int sig)
{
	(void)sig;
	fcntl(lease_fd, F_SETLEASE, F_UNLCK);
}

/* Holds a write lease on path; gives it up when it is broken if arg says
 * "yield", else keeps it (until the kernel's lease-break-time). */
static void lease_holder(const char *arg, FILE *in, FILE *out)
{
	int yield = strncmp(arg, "yield:", 6) == 0;
	const char *path = strchr(arg, ':') + 1;
	char line[16];
	int fd = open(path, O_RDONLY);
	signal(SIGIO, yield ? give_up_lease : SIG_IGN);
	lease_fd = fd;
	if (fd < 0 || fcntl(fd, F_SETLEASE, F_WRLCK) != 0) {
		fprintf(out, "no lease: %s\n", strerror(errno));
		fflush(out);
		_exit(0);
	}
	fprintf(out, "leased\n");
	fflush(out);
	if (fgets(line, sizeof line, in) == NULL)
		_exit(0);
	_exit(0);
}

static child start_lease_holder(const char *mode, const char *path)
{
	char arg[512];
	child c;
	const char *line;
	int fd = open(path, O_RDONLY | O_CREAT, 0644);
	CHECK(fd >= 0);
	close(fd);
	snprintf(arg, sizeof arg, "%s:%s", mode, path);
	c = child_start(lease_holder, arg);
	line = child_read(&c);
	if (strcmp(line, "leased") != 0) {
		char why[128];
		snprintf(why, sizeof why, "cannot take a lease here (%s)", line);
		child_wait(&c);
		test_skip(why);
	}
	return c;
}

TEST(lease_on_lock_file_is_waited_out)
{
	child holder = start_lease_holder("yield", test_path("x"));
	locket_t *lock;
	CHECK_RC(locket_new(&lock, test_path("x"), NULL), LOCKET_OK);
	CHECK_RC(locket_acquire(lock, 10000, 0), LOCKET_OK);
	CHECK(locket_locked(lock));
	CHECK_RC(locket_release(lock), LOCKET_OK);
	child_say(&holder, "exit");
	child_wait(&holder);
	locket_free(lock);
}

TEST(lease_that_is_kept_times_out_at_the_deadline)
{
	child holder = start_lease_holder("keep", test_path("x"));
	locket_t *lock;
	double t0, elapsed;
	CHECK_RC(locket_new(&lock, test_path("x"), NULL), LOCKET_OK);
	t0 = test_now_ms();
	CHECK_RC(locket_acquire(lock, 300, 0), LOCKET_ETIMEDOUT);
	elapsed = test_now_ms() - t0;
	CHECK(elapsed >= 300 && elapsed < 20000);
	CHECK(strstr(locket_last_error_message(), "lease") != NULL);
	CHECK_RC(locket_acquire(lock, 0, 0), LOCKET_EWOULDBLOCK);
	CHECK(strstr(locket_last_error_message(), "lease") != NULL);
	CHECK(!locket_locked(lock));
	child_say(&holder, "exit");
	child_wait(&holder);
	locket_free(lock);
}

/* ---- 9. a working directory deeper than PATH_MAX ---- */

TEST(relative_path_under_too_deep_working_directory_fails_clearly)
{
	char name[201];
	locket_t *lock;
	int i, top = open(".", O_RDONLY | O_DIRECTORY);
	CHECK(top >= 0);
	memset(name, 'd', 200);
	name[200] = '\0';
	CHECK(chdir(test_dir()) == 0);
	for (i = 0; i < 25; i++) /* 25 * 201 bytes > PATH_MAX */
		CHECK(mkdir(name, 0755) == 0 && chdir(name) == 0);
	CHECK_RC(locket_new(&lock, "x.lock", NULL), LOCKET_EINVAL);
	CHECK(strstr(locket_last_error_message(), "working directory") != NULL);
	CHECK(fchdir(top) == 0);
	CHECK(test_system("rm -rf '%s/%s'", test_dir(), name) == 0);
}

/* ---- 10. an attempt is finished after an error ---- */

TEST(attempt_is_finished_after_an_error)
{
	child holder = start_holder(test_path("x"), 0);
	locket_attempt_t *a;
	locket_t *lock;
	int fd;
	CHECK_RC(locket_new(&lock, test_path("x"), NULL), LOCKET_OK);
	CHECK_RC(locket_attempt_start(&a, lock, 0), LOCKET_EWOULDBLOCK);
	CHECK(unlink(test_path("x")) == 0);
	child_say(&holder, "release");
	CHECK(strcmp(child_read(&holder), "released ok") == 0);
	CHECK_RC(locket_attempt_try(a), LOCKET_ENOENT);
	fd = open(test_path("x"), O_RDONLY | O_CREAT, 0644);
	CHECK(fd >= 0);
	close(fd);
	CHECK_RC(locket_attempt_try(a), LOCKET_EINVAL);
	CHECK(!locket_locked(lock));
	check_held_elsewhere(test_path("x"), 0);
	locket_attempt_free(a);
	child_wait(&holder);
	locket_free(lock);
}

/* ---- children made without the fork handlers ---- */

/* _Fork() runs no atfork handlers, so the child keeps copies of the lock
 * descriptors: the slot's pid check must keep it from unlocking the
 * parent's lock, and let it acquire for itself once the parent released. */
TEST(child_forked_without_handlers_never_unlocks_parents_lock)
{
	locket_t *lock;
	int go[2], tried[2], status;
	pid_t pid;
	char c;
	CHECK(pipe(go) == 0 && pipe(tried) == 0);
	CHECK_RC(locket_new(&lock, test_path("x"), NULL), LOCKET_OK);
	CHECK_RC(locket_acquire(lock, -1, 0), LOCKET_OK);
	fflush(NULL);
	pid = _Fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		int ok = locket_locked(lock) == 0 && locket_release(lock) == LOCKET_ENOTHELD;
		if (write(tried[1], ok ? "y" : "n", 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(2);
		/* the parent released: the kernel lock is free, the slot still
		 * names the parent's descriptor */
		ok = locket_acquire(lock, 5000, 0) == LOCKET_OK && locket_locked(lock) &&
		     locket_release(lock) == LOCKET_OK;
		_exit(ok ? 0 : 1);
	}
	CHECK(read(tried[0], &c, 1) == 1 && c == 'y');
	check_held_elsewhere(test_path("x"), 1);
	CHECK_RC(locket_release(lock), LOCKET_OK);
	CHECK(write(go[1], "g", 1) == 1);
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	check_held_elsewhere(test_path("x"), 0);
	locket_free(lock);
}

/* ---- exec and posix_spawn: no fork handlers run there ---- */

/* A holder that execs another program: close-on-exec releases the lock
 * (nothing else closes the descriptor: no fork happens). */
TEST(holder_that_execs_another_program_releases)
{
	int done[2], status;
	pid_t pid;
	char c;
	CHECK(pipe2(done, O_CLOEXEC) == 0);
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		locket_t *lock;
		close(done[0]);
		if (locket_new(&lock, test_path("x"), NULL) != LOCKET_OK ||
		    locket_acquire(lock, -1, 0) != LOCKET_OK)
			_exit(2);
		execl("/bin/sleep", "sleep", "60", (char *)NULL);
		_exit(127);
	}
	close(done[1]);
	CHECK(read(done[0], &c, 1) == 0); /* EOF: the exec closed the pipe */
	check_held_elsewhere(test_path("x"), 0);
	kill(pid, SIGKILL);
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFSIGNALED(status)); /* it was sleep that died, not a failed acquire */
}

/* posix_spawn() makes its child without the fork handlers (CLONE_VFORK):
 * close-on-exec alone keeps the program from holding the lock. */
static void spawn_and_exit(const char *path, FILE *in, FILE *out)
{
	extern char **environ;
	char *argv[] = { "sleep", "60", NULL };
	locket_t *lock;
	pid_t spawned;
	(void)in;
	if (locket_new(&lock, path, NULL) != LOCKET_OK || locket_acquire(lock, -1, 0) != LOCKET_OK)
		_exit(2);
	if (posix_spawn(&spawned, "/bin/sleep", NULL, NULL, argv, environ) != 0)
		_exit(3);
	fprintf(out, "spawned %d\n", (int)spawned);
	fflush(out);
	_exit(0); /* without releasing */
}

TEST(program_posix_spawned_by_holder_does_not_keep_the_lock)
{
	child holder = child_start(spawn_and_exit, test_path("x"));
	int spawned;
	CHECK(sscanf(child_read(&holder), "spawned %d", &spawned) == 1);
	CHECK(child_wait(&holder) == 0);
	CHECK(kill(spawned, 0) == 0); /* the program lives on */
	check_held_elsewhere(test_path("x"), 0);
	kill(spawned, SIGKILL);
}

/* ---- a timed wait ends soon after the release, not at its deadline ---- */

static void check_prompt_hand_over(unsigned int flags)
{
	child holder = start_holder(test_path("x"), 0);
	locket_t *lock;
	double t0;
	struct waiter w = { 0 };
	pthread_t t;
	CHECK_RC(locket_new(&lock, test_path("x"), NULL), LOCKET_OK);
	w.lock = lock;
	w.timeout_ms = 120000;
	w.flags = flags;
	CHECK(pthread_create(&t, NULL, waiter_main, &w) == 0);
	while (atomic_load(&w.tid) == 0)
		nap();
	wait_until_waiting(atomic_load(&w.tid));
	child_say(&holder, "release");
	CHECK(strcmp(child_read(&holder), "released ok") == 0);
	t0 = test_now_ms();
	CHECK(pthread_join(t, NULL) == 0);
	CHECK_RC(w.rc, LOCKET_OK);
	/* generous for a loaded machine; a waiter that slept to its deadline takes 120 s */
	CHECK(test_now_ms() - t0 < 15000);
	CHECK_RC(locket_release(lock), LOCKET_OK);
	child_wait(&holder);
	locket_free(lock);
}

TEST(timed_waiter_gets_the_lock_soon_after_the_release)
{
	check_prompt_hand_over(0);
}

TEST(interruptible_waiter_gets_the_lock_soon_after_the_release)
{
	check_prompt_hand_over(LOCKET_INTERRUPTIBLE);
}
