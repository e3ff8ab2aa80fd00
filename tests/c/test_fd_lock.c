/* locket_fd_lock / locket_fd_unlock: locks on the caller's own descriptor. */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static int open_rw(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
	CHECK(fd >= 0);
	return fd;
}

TEST(fd_lock_excludes_handles_and_other_processes)
{
	const char *path = test_path("x");
	int fd = open_rw(path);
	locket_t *h;
	CHECK_RC(locket_fd_lock(fd, 0, 0), LOCKET_OK);
	check_held_elsewhere(path, 1);
	CHECK_RC(locket_new(&h, path, NULL), LOCKET_OK);
	CHECK_RC(locket_acquire(h, 0, 0),
		 LOCKET_EWOULDBLOCK); /* another description, same process */
	CHECK_RC(locket_fd_unlock(fd), LOCKET_OK);
	check_held_elsewhere(path, 0);
	CHECK_RC(locket_acquire(h, 0, 0), LOCKET_OK);
	CHECK_RC(locket_fd_lock(fd, 0, 0), LOCKET_EWOULDBLOCK); /* and the other way round */
	locket_free(h);
	CHECK(fcntl(fd, F_GETFD) >= 0); /* never closed by locket */
	close(fd);
}

TEST(fd_lock_times_out_after_the_timeout)
{
	const char *path = test_path("x");
	child holder = start_holder(path, 0);
	int fd = open_rw(path);
	double t0 = test_now_ms();
	CHECK_RC(locket_fd_lock(fd, 0, 0), LOCKET_EWOULDBLOCK);
	CHECK_RC(locket_fd_lock(fd, 200, 0), LOCKET_ETIMEDOUT);
	CHECK(test_now_ms() - t0 >= 199);
	{
		/* The descriptor's label: a path that names it (Linux), or its number. */
		char label[32];
		snprintf(label, sizeof label, engine_is_portable() ? "'fd %d'" : "/proc/self/fd/%d",
			 fd);
		CHECK(strstr(locket_last_error_message(), label) != NULL);
	}
	child_kill9(&holder);
	CHECK_RC(locket_fd_lock(fd, 30000, 0), LOCKET_OK); /* a killed holder releases */
	close(fd);
}

/* Opens the path, says "waiting", waits for the lock (up to 30 s, or forever
 * if the argument starts with "forever:"), says the result. */
static void fd_waiter_main(const char *arg, FILE *in, FILE *out)
{
	int forever = strncmp(arg, "forever:", 8) == 0;
	int fd = open(forever ? arg + 8 : arg, O_RDONLY);
	(void)in;
	fprintf(out, "waiting\n");
	fflush(out);
	fprintf(out, "%s\n", locket_error_name(locket_fd_lock(fd, forever ? -1 : 30000, 0)));
}

static void check_wait_ends_at_the_release(int forever)
{
	static char arg[1100];
	const char *path = test_path("x");
	child holder = start_holder(path, 0), waiter;
	snprintf(arg, sizeof arg, "%s%s", forever ? "forever:" : "", path);
	waiter = child_start(fd_waiter_main, arg);
	CHECK(strcmp(child_read(&waiter), "waiting") == 0);
	child_say(&holder, "release");
	CHECK(strcmp(child_read(&holder), "released ok") == 0);
	CHECK(strcmp(child_read(&waiter), "ok") == 0);
	child_wait(&waiter);
	child_wait(&holder);
}

TEST(fd_lock_timed_wait_ends_at_the_release)
{
	check_wait_ends_at_the_release(0);
}

TEST(fd_lock_untimed_wait_ends_at_the_release)
{
	check_wait_ends_at_the_release(1);
}

static void on_alarm(int sig)
{
	(void)sig;
}

TEST(fd_lock_interruptible_wait_ends_on_a_signal)
{
	const char *path = test_path("x");
	child holder = start_holder(path, 0);
	struct sigaction sa;
	/* Every 100 ms until disarmed: on a loaded machine a single alarm can
	 * fire before the wait begins. */
	struct itimerval in_100ms = { { 0, 100000 }, { 0, 100000 } }, off = { { 0, 0 }, { 0, 0 } };
	int fd = open_rw(path);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm;
	sa.sa_flags = SA_RESTART; /* the wait ends anyway: it is interruptible */
	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &in_100ms, NULL);
	CHECK_RC(locket_fd_lock(fd, 30000, LOCKET_INTERRUPTIBLE), LOCKET_EINTR);
	setitimer(ITIMER_REAL, &off, NULL);
	child_wait(&holder);
	close(fd);
}

TEST(fd_lock_shared)
{
	const char *path = test_path("x");
	child reader = start_holder(path, 1);
	int a = open_rw(path), b = open_rw(path);
	CHECK_RC(locket_fd_lock(a, 0, LOCKET_SHARED), LOCKET_OK);
	CHECK_RC(locket_fd_lock(b, 0, 0), LOCKET_EWOULDBLOCK);
	CHECK_RC(locket_fd_lock(b, 0, LOCKET_SHARED), LOCKET_OK);
	child_wait(&reader);
	close(a);
	close(b);
}

/* The lock is the open file description's: it lasts while any copy is open,
 * and any copy can unlock it. */
TEST(fd_lock_belongs_to_the_description_and_its_copies)
{
	const char *path = test_path("x");
	int fd = open_rw(path), copy, status;
	pid_t pid;
	CHECK_RC(locket_fd_lock(fd, 0, 0), LOCKET_OK);
	copy = dup(fd);
	CHECK(copy >= 0);
	close(fd);
	check_held_elsewhere(path, 1); /* the dup keeps it */
	pid = fork();
	if (pid == 0)
		_exit(0); /* a child's exit closes its copy only */
	CHECK(waitpid(pid, &status, 0) == pid);
	check_held_elsewhere(path, 1);
	pid = fork();
	if (pid == 0)
		_exit(locket_fd_unlock(copy) == LOCKET_OK ? 0 : 1);
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	check_held_elsewhere(path, 0); /* the child's unlock was the description's */
	close(copy);
}

TEST(fd_lock_locks_a_directory)
{
	int fd = open(test_dir(), O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	CHECK_RC(locket_fd_lock(fd, 0, 0), LOCKET_OK);
	CHECK(test_system("flock -n '%s' true", test_dir()) == 1);
	CHECK_RC(locket_fd_unlock(fd), LOCKET_OK);
	CHECK(test_system("flock -n '%s' true", test_dir()) == 0);
	close(fd);
}

TEST(fd_lock_bad_arguments)
{
	int fd = open_rw(test_path("x"));
	CHECK_RC(locket_fd_lock(-1, 0, 0), LOCKET_EINVAL);
	CHECK_RC(locket_fd_lock((intptr_t)INT_MAX + 1, 0, 0), LOCKET_EINVAL);
	CHECK_RC(locket_fd_lock(fd, 0, 0x80), LOCKET_EINVAL);
	CHECK_RC(locket_fd_unlock(-5), LOCKET_EINVAL);
	close(fd);
	/* A descriptor that is not open is an error, never contention. */
	CHECK_RC(locket_fd_lock(fd, 0, 0), LOCKET_EIO);
	CHECK(locket_last_os_error() == EBADF);
	CHECK_RC(locket_fd_lock(fd, 500, 0), LOCKET_EIO);
	CHECK_RC(locket_fd_unlock(fd), LOCKET_EIO);
}
