#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char dir_buf[256];

double test_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void remove_tree(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	char sub[1024];
	if (d == NULL) {
		unlink(path);
		return;
	}
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
		remove_tree(sub);
	}
	closedir(d);
	rmdir(path);
}

static pid_t dir_owner;
static void remove_test_dir(void)
{
	if (dir_buf[0] && getpid() == dir_owner)
		remove_tree(dir_buf);
}

const char *test_dir(void)
{
	if (dir_buf[0] == '\0') {
		const char *base = getenv("TMPDIR");
		snprintf(dir_buf, sizeof dir_buf, "%s/locket-test-XXXXXX", base ? base : "/tmp");
		if (mkdtemp(dir_buf) == NULL)
			test_fail(__FILE__, __LINE__, "mkdtemp: %s", strerror(errno));
		chmod(dir_buf, 0777); /* tests that drop privileges create files here */
		dir_owner = getpid();
		atexit(remove_test_dir);
	}
	return dir_buf;
}

const char *test_path(const char *name)
{
	static char bufs[4][1024];
	static int next;
	char *b = bufs[next++ % 4];
	snprintf(b, sizeof bufs[0], "%s/%s", test_dir(), name);
	return b;
}

child child_start(child_fn fn, const char *arg)
{
	int down[2], up[2];
	child c;
	fflush(NULL);
	if (pipe(down) != 0 || pipe(up) != 0)
		test_fail(__FILE__, __LINE__, "pipe: %s", strerror(errno));
	c.pid = fork();
	if (c.pid < 0)
		test_fail(__FILE__, __LINE__, "fork: %s", strerror(errno));
	if (c.pid == 0) {
		FILE *in, *out;
		close(down[1]);
		close(up[0]);
		in = fdopen(down[0], "r");
		out = fdopen(up[1], "w");
		setvbuf(out, NULL, _IOLBF, 0);
		fn(arg, in, out);
		fflush(out);
		_exit(0);
	}
	close(down[0]);
	close(up[1]);
	c.to = fdopen(down[1], "w");
	c.from = fdopen(up[0], "r");
	setvbuf(c.to, NULL, _IOLBF, 0);
	return c;
}

const char *child_read(child *c)
{
	static char line[512];
	size_t n;
	if (fgets(line, sizeof line, c->from) == NULL)
		test_fail(__FILE__, __LINE__, "child %d closed its pipe", (int)c->pid);
	n = strlen(line);
	if (n && line[n - 1] == '\n')
		line[n - 1] = '\0';
	return line;
}

void child_say(child *c, const char *line)
{
	fprintf(c->to, "%s\n", line);
	fflush(c->to);
}

int child_wait(child *c)
{
	int status;
	if (c->to)
		fclose(c->to);
	c->to = NULL;
	while (waitpid(c->pid, &status, 0) < 0)
		if (errno != EINTR)
			test_fail(__FILE__, __LINE__, "waitpid: %s", strerror(errno));
	if (c->from)
		fclose(c->from);
	c->from = NULL;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

void child_kill9(child *c)
{
	kill(c->pid, SIGKILL);
}

static void holder_main(const char *arg, FILE *in, FILE *out)
{
	int shared = strncmp(arg, "shared:", 7) == 0;
	const char *path = shared ? arg + 7 : arg;
	char line[64];
	locket_t *lock;
	int rc = locket_new(&lock, path, NULL);
	if (rc == LOCKET_OK)
		rc = locket_acquire(lock, -1, shared ? LOCKET_SHARED : 0);
	if (rc != LOCKET_OK) {
		fprintf(out, "error %s %s\n", locket_error_name(rc), locket_last_error_message());
		_exit(1);
	}
	fprintf(out, "held %d\n", (int)getpid());
	while (fgets(line, sizeof line, in) != NULL) {
		if (strncmp(line, "release", 7) == 0) {
			rc = locket_release(lock);
			fprintf(out, "released %s\n", locket_error_name(rc));
		} else if (strncmp(line, "exit", 4) == 0) {
			_exit(0); /* without releasing: the kernel must */
		}
	}
	/* EOF: the test is done with us. */
	locket_free(lock);
}

child start_holder(const char *path, int shared)
{
	static char arg[1100];
	child c;
	const char *line;
	snprintf(arg, sizeof arg, "%s%s", shared ? "shared:" : "", path);
	c = child_start(holder_main, arg);
	line = child_read(&c);
	if (strncmp(line, "held", 4) != 0)
		test_fail(__FILE__, __LINE__, "holder: %s", line);
	return c;
}

/* A probe that expects the lock free waits for it up to 2 s: the kernel
 * drops a killed process's lock a few milliseconds after the process is
 * reaped (0.6-3 ms measured on Linux 6.18 under load), so "free" means
 * "released by the deadline"; a process that keeps the lock still fails it. */
#define RELEASE_GRACE_MS 2000

static void probe_main(const char *arg, FILE *in, FILE *out)
{
	const int want_free = arg[0] == 'f';
	const char *path = arg + 2;
	locket_t *lock;
	int rc;
	(void)in;
	rc = locket_new(&lock, path, NULL);
	if (rc == LOCKET_OK) {
		rc = locket_acquire(lock, want_free ? RELEASE_GRACE_MS : 0, 0);
		if (rc == LOCKET_ETIMEDOUT)
			rc = LOCKET_EWOULDBLOCK;
	}
	fprintf(out, "%s\n", locket_error_name(rc));
	locket_free(lock);
}

void check_held_elsewhere(const char *path, int expect_held)
{
	static char arg[1100];
	child c;
	snprintf(arg, sizeof arg, "%c:%s", expect_held ? 'h' : 'f', path);
	c = child_start(probe_main, arg);
	char got[64];
	snprintf(got, sizeof got, "%s", child_read(&c));
	child_wait(&c);
	if (strcmp(got, expect_held ? "would_block" : "ok") != 0)
		test_fail(__FILE__, __LINE__, "another process's try on %s gave %s; expected %s",
			  path, got, expect_held ? "would_block" : "ok");
}

int test_system(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	int status;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	fflush(NULL);
	status = system(cmd);
	if (status == -1)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

pid_t test_gettid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

/* Does /proc say that the thread sleeps in a system call that waits? */
static int thread_sleeps_in_wait(pid_t pid, pid_t tid, int *gone)
{
	static const long waits[] = {
		SYS_flock, SYS_futex,  SYS_ppoll,      SYS_pselect6, SYS_epoll_pwait, SYS_fcntl,
#ifdef SYS_poll
		SYS_poll,  SYS_select, SYS_epoll_wait,
#endif
	};
	char path[64], buf[512], *p;
	FILE *f;
	long nr;
	size_t i;
	snprintf(path, sizeof path, "/proc/%d/task/%d/stat", (int)pid, (int)tid);
	if ((f = fopen(path, "r")) == NULL) {
		*gone = 1;
		return 0;
	}
	p = fgets(buf, sizeof buf, f);
	fclose(f);
	if (p == NULL || (p = strrchr(buf, ')')) == NULL || p[1] != ' ' || p[2] != 'S')
		return 0;
	snprintf(path, sizeof path, "/proc/%d/task/%d/syscall", (int)pid, (int)tid);
	if ((f = fopen(path, "r")) == NULL)
		test_fail(__FILE__, __LINE__, "cannot read %s: %s", path, strerror(errno));
	p = fgets(buf, sizeof buf, f);
	fclose(f);
	if (p == NULL || sscanf(buf, "%ld", &nr) != 1)
		return 0; /* "running" */
	for (i = 0; i < sizeof waits / sizeof waits[0]; i++)
		if (nr == waits[i])
			return 1;
	return 0;
}

static void wait_until_task_waits(pid_t pid, pid_t tid)
{
	double deadline = test_now_ms() + 20000;
	for (;;) {
		int gone = 0;
		if (thread_sleeps_in_wait(pid, tid, &gone))
			return;
		if (gone)
			test_fail(__FILE__, __LINE__, "thread %d ended before it waited", (int)tid);
		if (test_now_ms() > deadline)
			test_fail(__FILE__, __LINE__, "thread %d never waited in 20 s", (int)tid);
		usleep(1000); /* polling the kernel's view of the thread, not the lock */
	}
}

void wait_until_waiting(pid_t tid)
{
	wait_until_task_waits(getpid(), tid);
}

void wait_until_process_waits(pid_t pid)
{
	wait_until_task_waits(pid, pid);
}

int run_as_nobody(void (*fn)(void *), void *arg, int *status)
{
	pid_t pid;
	int st;
	if (geteuid() != 0) {
		/* Already unprivileged: run as is. */
		fflush(NULL);
		pid = fork();
		if (pid == 0) {
			fn(arg);
			_exit(0);
		}
	} else {
		fflush(NULL);
		pid = fork();
		if (pid == 0) {
			if (setgid(65534) != 0 || setuid(65534) != 0)
				_exit(77);
			fn(arg);
			_exit(0);
		}
	}
	if (pid < 0)
		return 0;
	waitpid(pid, &st, 0);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 77)
		return 0;
	*status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	return 1;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	return test_main(argc, argv);
}

int engine_is_portable(void)
{
	return strcmp(LOCKET_TEST_ENGINE, "portable") == 0;
}

void skip_unless_linux_engine(const char *why)
{
	if (engine_is_portable()) {
		char msg[512];
		snprintf(msg, sizeof msg, "the portable engine: %s", why);
		test_skip(msg);
	}
}

/* ---- OFD and POSIX record locks (test_ofd.c, test_attack_ofd.c) ---- */

locket_t *ofd_handle(const char *path, int64_t start, int64_t length)
{
	locket_options o = LOCKET_OPTIONS_INIT;
	locket_t *h;
	o.kind = LOCKET_KIND_OFD;
	o.start = start;
	o.length = length;
	CHECK_RC(locket_new(&h, path, &o), LOCKET_OK);
	return h;
}

int posix_lock(int fd, int cmd, short type, off_t start, off_t len)
{
	struct flock fl;
	memset(&fl, 0, sizeof fl);
	fl.l_type = type;
	fl.l_whence = SEEK_SET;
	fl.l_start = start;
	fl.l_len = len;
	return fcntl(fd, cmd, &fl);
}

/* In a fresh process: would a POSIX (process-owned) lock of type on
 * [start, start+len) conflict? 1 yes, 0 no. */
int posix_conflicts(const char *path, short type, off_t start, off_t len)
{
	int status;
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		int fd = open(path, O_RDWR);
		if (fd < 0)
			_exit(3);
		if (posix_lock(fd, F_SETLK, type, start, len) == 0)
			_exit(0);
		_exit(errno == EAGAIN || errno == EACCES ? 1 : 4);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) <= 1);
	return WEXITSTATUS(status);
}

/* ---- a thread that waits for a lock (test_engine.c, test_portable.c) ---- */

static void *thread_waiter_main(void *p)
{
	struct thread_waiter *w = (struct thread_waiter *)p;
	locket_wait_options o = LOCKET_WAIT_OPTIONS_INIT;
	locket_t *lock;
	atomic_store(&w->tid, (int)test_gettid());
	CHECK_RC(locket_new(&lock, w->path, NULL), LOCKET_OK);
	o.timeout_ms = w->timeout_ms;
	o.flags = w->flags;
	o.interrupted = w->fn;
	o.interrupted_arg = w->arg;
	w->rc = locket_acquire_with(lock, &o);
	w->returned_ms = test_now_ms();
	if (w->rc == LOCKET_OK)
		locket_release(lock);
	locket_free(lock);
	return NULL;
}

pthread_t start_waiter(struct thread_waiter *w)
{
	pthread_t t;
	atomic_store(&w->tid, 0);
	CHECK(pthread_create(&t, NULL, thread_waiter_main, w) == 0);
	while (atomic_load(&w->tid) == 0)
		sched_yield();
	wait_until_waiting((pid_t)atomic_load(&w->tid));
	return t;
}
