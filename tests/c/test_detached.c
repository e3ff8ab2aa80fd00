/* locket_acquire_detached() (the CLI's acquisition) and LOCKET_ALLOW_DIRECTORY. */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* The lowest free descriptor: equal before and after means nothing leaked. */
static int lowest_free_fd(void)
{
	int fd = dup(0);
	close(fd);
	return fd;
}

static locket_wait_options wait_ms(int64_t timeout_ms, unsigned int flags)
{
	locket_wait_options o = LOCKET_WAIT_OPTIONS_INIT;
	o.timeout_ms = timeout_ms;
	o.flags = flags;
	return o;
}

TEST(detached_descriptor_holds_the_lock_outside_the_handle)
{
	const char *x = test_path("x");
	locket_wait_options o = wait_ms(0, 0);
	locket_t *lock, *other;
	intptr_t fd = 12345;
	struct stat held, named;
	int flags;
	CHECK_RC(locket_new(&lock, x, NULL), LOCKET_OK);
	CHECK_RC(locket_new(&other, x, NULL), LOCKET_OK);
	CHECK_RC(locket_acquire_detached(lock, &o, &fd), LOCKET_OK);
	CHECK(fd >= 0);
	/* The descriptor is the file's, read-only (as flock(1) opens), and
	 * inheritable. */
	CHECK(fstat((int)fd, &held) == 0 && stat(x, &named) == 0);
	CHECK(held.st_dev == named.st_dev && held.st_ino == named.st_ino);
	CHECK((fcntl((int)fd, F_GETFL) & O_ACCMODE) == O_RDONLY);
	flags = fcntl((int)fd, F_GETFD);
	CHECK(flags >= 0 && !(flags & FD_CLOEXEC));
	/* It holds the lock: for other processes, for other handles here. */
	check_held_elsewhere(x, 1);
	CHECK_RC(locket_acquire(other, 0, 0), LOCKET_EWOULDBLOCK);
	/* The handle does not: it is free for another acquisition (which the
	 * kernel refuses while the descriptor holds), and release says so. */
	CHECK(locket_locked(lock) == 0);
	CHECK_RC(locket_release(lock), LOCKET_ENOTHELD);
	CHECK_RC(locket_acquire(lock, 0, 0), LOCKET_EWOULDBLOCK);
	/* Freeing the handle leaves the descriptor and its lock alone. */
	locket_free(lock);
	CHECK(fcntl((int)fd, F_GETFD) >= 0);
	check_held_elsewhere(x, 1);
	CHECK_RC(locket_fd_unlock(fd), LOCKET_OK);
	check_held_elsewhere(x, 0);
	close((int)fd);
	locket_free(other);
}

TEST(detached_try_on_a_held_lock_leaves_nothing_open)
{
	const char *x = test_path("x");
	locket_wait_options o = wait_ms(0, 0);
	child holder = start_holder(x, 0);
	locket_t *lock;
	intptr_t fd = 7;
	int before;
	double t0;
	CHECK_RC(locket_new(&lock, x, NULL), LOCKET_OK);
	before = lowest_free_fd();
	CHECK_RC(locket_acquire_detached(lock, &o, &fd), LOCKET_EWOULDBLOCK);
	CHECK(fd == -1);
	o = wait_ms(200, 0);
	fd = 7;
	t0 = test_now_ms();
	CHECK_RC(locket_acquire_detached(lock, &o, &fd), LOCKET_ETIMEDOUT);
	CHECK(test_now_ms() - t0 >= 199);
	CHECK(fd == -1);
	CHECK(lowest_free_fd() == before);
	/* A shared holder lets a shared detached acquisition in. */
	child_say(&holder, "release");
	CHECK(strcmp(child_read(&holder), "released ok") == 0);
	child_wait(&holder);
	holder = start_holder(x, 1);
	o = wait_ms(0, LOCKET_SHARED);
	CHECK_RC(locket_acquire_detached(lock, &o, &fd), LOCKET_OK);
	CHECK(fd >= 0);
	close((int)fd); /* its only copy: the shared lock goes with it */
	child_kill9(&holder);
	child_wait(&holder);
	locket_free(lock);
}

TEST(detached_bad_arguments)
{
	locket_wait_options o = wait_ms(0, 0);
	locket_t *lock;
	intptr_t fd = 7;
	CHECK_RC(locket_new(&lock, test_path("x"), NULL), LOCKET_OK);
	CHECK_RC(locket_acquire_detached(lock, &o, NULL), LOCKET_EINVAL);
	CHECK_RC(locket_acquire_detached(NULL, &o, &fd), LOCKET_EINVAL);
	CHECK(fd == -1);
	o.flags = 0x80;
	fd = 7;
	CHECK_RC(locket_acquire_detached(lock, &o, &fd), LOCKET_EINVAL);
	CHECK(fd == -1);
	o = wait_ms(0, 0);
	o.version = 99;
	CHECK_RC(locket_acquire_detached(lock, &o, &fd), LOCKET_EINVAL);
	CHECK(locket_locked(lock) == 0);
	locket_free(lock);
}

/* A waiting detached acquisition is woken by the holder's release; then a
 * program started with the descriptor holds the lock after its starter let
 * its own copy go (flock(1)'s model: the fork handlers leave the descriptor
 * alone, and exec keeps it). */
TEST(detached_descriptor_is_inherited_across_fork_and_exec)
{
	const char *x = test_path("x");
	locket_wait_options o = wait_ms(10000, 0);
	child holder = start_holder(x, 0);
	locket_t *lock;
	intptr_t fd;
	int to[2], from[2], status;
	char line[16];
	pid_t pid;
	CHECK_RC(locket_new(&lock, x, NULL), LOCKET_OK);
	child_say(&holder, "release");
	CHECK(strcmp(child_read(&holder), "released ok") == 0);
	child_wait(&holder);
	CHECK_RC(locket_acquire_detached(lock, &o, &fd), LOCKET_OK);
	CHECK(pipe(to) == 0 && pipe(from) == 0);
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		char arg[32];
		dup2(to[0], 0);
		dup2(from[1], 1);
		close(to[0]);
		close(to[1]);
		close(from[0]);
		close(from[1]);
		snprintf(arg, sizeof arg, "%d", (int)fd);
		execlp("sh", "sh", "-c",
		       "[ -e /proc/self/fd/$0 ] && echo has || echo lost; read -r x", arg,
		       (char *)NULL);
		_exit(127);
	}
	close(to[0]);
	close(from[1]);
	CHECK(read(from[0], line, sizeof line) == 4 && memcmp(line, "has\n", 4) == 0);
	close((int)fd); /* the starter's copy goes; the program's keeps the lock */
	locket_free(lock);
	check_held_elsewhere(x, 1);
	CHECK(write(to[1], "\n", 1) == 1);
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	check_held_elsewhere(x, 0);
	close(to[1]);
	close(from[0]);
}

/* LOCKET_ALLOW_DIRECTORY: a directory is a lock file like any other (the
 * CLI's, as flock(1) locks one); without it, LOCKET_EISDIR. */
TEST(allow_directory_locks_a_directory)
{
	const char *d = test_path("dir");
	locket_options opts = LOCKET_OPTIONS_INIT;
	locket_wait_options o = wait_ms(0, 0);
	locket_t *lock, *other;
	intptr_t fd;
	CHECK(mkdir(d, 0755) == 0);
	CHECK_RC(locket_new(&lock, d, NULL), LOCKET_EISDIR);
	opts.flags = LOCKET_ALLOW_DIRECTORY;
	CHECK_RC(locket_new(&lock, d, &opts), LOCKET_OK);
	CHECK_RC(locket_new(&other, d, &opts), LOCKET_OK);
	CHECK_RC(locket_acquire(lock, 0, 0), LOCKET_OK);
	CHECK(locket_locked(lock) == 1);
	CHECK(test_system("flock -n '%s' true", d) == 1); /* excludes other processes */
	CHECK_RC(locket_acquire(other, 0, 0), LOCKET_EWOULDBLOCK);
	CHECK_RC(locket_release(lock), LOCKET_OK);
	CHECK(test_system("flock -n '%s' true", d) == 0);
	CHECK_RC(locket_acquire_detached(other, &o, &fd), LOCKET_OK);
	CHECK(test_system("flock -n '%s' true", d) == 1);
	CHECK_RC(locket_acquire(lock, 0, LOCKET_SHARED), LOCKET_EWOULDBLOCK);
	close((int)fd);
	CHECK_RC(locket_acquire(lock, 0, LOCKET_SHARED), LOCKET_OK);
	CHECK_RC(locket_release(lock), LOCKET_OK);
	/* With NO_CREATE too, and a missing path is still not_found. */
	opts.flags = LOCKET_ALLOW_DIRECTORY | LOCKET_NO_CREATE;
	locket_free(other);
	CHECK_RC(locket_new(&other, test_path("missing"), &opts), LOCKET_ENOENT);
	/* A regular file still works with the flag. */
	opts.flags = LOCKET_ALLOW_DIRECTORY;
	CHECK_RC(locket_new(&other, test_path("file"), &opts), LOCKET_OK);
	CHECK_RC(locket_acquire(other, 0, 0), LOCKET_OK);
	locket_free(other);
	locket_free(lock);
	/* Unknown option flags are still refused. */
	opts.flags = 0x100;
	CHECK_RC(locket_new(&lock, test_path("file"), &opts), LOCKET_EINVAL);
}

/* A file replaced by a directory after locket_new(): refused without the
 * flag (holding nothing), locked with it. */
TEST(allow_directory_decides_at_each_acquisition)
{
	const char *p = test_path("p");
	locket_options opts = LOCKET_OPTIONS_INIT;
	locket_t *plain, *dirs;
	intptr_t fd = 7;
	locket_wait_options o = wait_ms(0, 0);
	opts.flags = LOCKET_ALLOW_DIRECTORY;
	CHECK_RC(locket_new(&plain, p, NULL), LOCKET_OK);
	CHECK_RC(locket_new(&dirs, p, &opts), LOCKET_OK);
	CHECK(unlink(p) == 0 && mkdir(p, 0755) == 0);
	CHECK_RC(locket_acquire(plain, 0, 0), LOCKET_EISDIR);
	CHECK(locket_locked(plain) == 0);
	CHECK_RC(locket_acquire_detached(plain, &o, &fd), LOCKET_EISDIR);
	CHECK(fd == -1);
	CHECK(test_system("flock -n '%s' true", p) == 0);
	CHECK_RC(locket_acquire(dirs, 0, 0), LOCKET_OK);
	CHECK(test_system("flock -n '%s' true", p) == 1);
	locket_free(dirs);
	locket_free(plain);
}
