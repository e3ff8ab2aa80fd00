/* Who excludes whom: handles, path spellings, threads, modes. */
#include "harness.h"

#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

TEST(two_handles_in_one_process_exclude)
{
	locket_t *a, *b;
	CHECK_RC(locket_new(&a, test_path("x"), NULL), LOCKET_OK);
	CHECK_RC(locket_new(&b, test_path("x"), NULL), LOCKET_OK);
	CHECK_RC(locket_acquire(a, 0, 0), LOCKET_OK);
	CHECK_RC(locket_acquire(b, 0, 0), LOCKET_EWOULDBLOCK);
	CHECK_RC(locket_acquire(b, 50, 0), LOCKET_ETIMEDOUT);
	CHECK(!locket_locked(b));
	CHECK_RC(locket_release(a), LOCKET_OK);
	CHECK_RC(locket_acquire(b, 0, 0), LOCKET_OK);
	CHECK_RC(locket_acquire(a, 0, 0), LOCKET_EWOULDBLOCK);
	locket_free(a);
	locket_free(b);
}

TEST(not_reentrant)
{
	locket_t *a;
	CHECK_RC(locket_new(&a, test_path("x"), NULL), LOCKET_OK);
	CHECK_RC(locket_acquire(a, 0, 0), LOCKET_OK);
	CHECK_RC(locket_acquire(a, 0, 0), LOCKET_EWOULDBLOCK);
	CHECK_RC(locket_acquire(a, 30, 0), LOCKET_ETIMEDOUT);
	CHECK_RC(locket_acquire(a, 0, LOCKET_SHARED), LOCKET_EWOULDBLOCK);
	CHECK(locket_locked(a)); /* the failed attempts left the first hold alone */
	CHECK_RC(locket_release(a), LOCKET_OK);
	CHECK_RC(locket_release(a), LOCKET_ENOTHELD);
	locket_free(a);
}

TEST(shared_handle_is_binary)
{
	locket_t *a;
	CHECK_RC(locket_new(&a, test_path("x"), NULL), LOCKET_OK);
	CHECK_RC(locket_acquire(a, 0, LOCKET_SHARED), LOCKET_OK);
	CHECK_RC(locket_acquire(a, 0, LOCKET_SHARED), LOCKET_EWOULDBLOCK);
	CHECK_RC(locket_acquire(a, 30, LOCKET_SHARED), LOCKET_ETIMEDOUT);
	CHECK_RC(locket_release(a), LOCKET_OK);
	CHECK_RC(locket_release(a), LOCKET_ENOTHELD);
	locket_free(a);
}

TEST(path_spellings_exclude)
{
	char dotdot[1024], dslash[1024], rel[64];
	const char *spellings[5];
	locket_t *main_lock;
	int i;
	CHECK(mkdir(test_path("d"), 0755) == 0);
	snprintf(dotdot, sizeof dotdot, "%s/d/../d/x", test_dir());
	snprintf(dslash, sizeof dslash, "%s//d/./x", test_dir());
	CHECK(symlink(test_path("d/x"), test_path("sym")) == 0);
	CHECK_RC(locket_new(&main_lock, test_path("d/x"), NULL), LOCKET_OK);
	CHECK(link(test_path("d/x"), test_path("hard")) == 0);
	CHECK(chdir(test_dir()) == 0);
	snprintf(rel, sizeof rel, "d/x");
	spellings[0] = dotdot;
	spellings[1] = dslash;
	spellings[2] = test_path("sym");
	spellings[3] = test_path("hard");
	spellings[4] = rel;
	CHECK_RC(locket_acquire(main_lock, 0, 0), LOCKET_OK);
	for (i = 0; i < 5; i++) {
		locket_t *other;
		CHECK_RC(locket_new(&other, spellings[i], NULL), LOCKET_OK);
		CHECK_RC(locket_acquire(other, 0, 0), LOCKET_EWOULDBLOCK); /* same process */
		check_held_elsewhere(spellings[i], 1);                     /* another process */
		locket_free(other);
	}
	CHECK_RC(locket_release(main_lock), LOCKET_OK);
	/* And the other way round: a spelling holds, the plain path waits. */
	for (i = 0; i < 5; i++) {
		locket_t *other;
		CHECK_RC(locket_new(&other, spellings[i], NULL), LOCKET_OK);
		CHECK_RC(locket_acquire(other, 0, 0), LOCKET_OK);
		CHECK_RC(locket_acquire(main_lock, 0, 0), LOCKET_EWOULDBLOCK);
		locket_free(other);
		CHECK_RC(locket_acquire(main_lock, 0, 0), LOCKET_OK);
		CHECK_RC(locket_release(main_lock), LOCKET_OK);
	}
	locket_free(main_lock);
}

TEST(closing_other_descriptors_keeps_the_lock)
{
	/* POSIX record locks drop when any descriptor of the file closes. */
	locket_t *a;
	int fd;
	CHECK_RC(locket_new(&a, test_path("x"), NULL), LOCKET_OK);
	CHECK_RC(locket_acquire(a, -1, 0), LOCKET_OK);
	fd = open(test_path("x"), O_RDWR);
	CHECK(fd >= 0);
	close(fd);
	check_held_elsewhere(test_path("x"), 1);
	locket_free(a);
}

TEST(shared_and_exclusive)
{
	locket_t *r1, *r2, *w;
	CHECK_RC(locket_new(&r1, test_path("x"), NULL), LOCKET_OK);
	CHECK_RC(locket_new(&r2, test_path("x"), NULL), LOCKET_OK);
	CHECK_RC(locket_new(&w, test_path("x"), NULL), LOCKET_OK);
	CHECK_RC(locket_acquire(r1, 0, LOCKET_SHARED), LOCKET_OK);
	CHECK_RC(locket_acquire(r2, 0, LOCKET_SHARED), LOCKET_OK);
	CHECK_RC(locket_acquire(w, 0, 0), LOCKET_EWOULDBLOCK);
	CHECK_RC(locket_release(r1), LOCKET_OK);
	CHECK_RC(locket_acquire(w, 20, 0), LOCKET_ETIMEDOUT);
	CHECK_RC(locket_release(r2), LOCKET_OK);
	CHECK_RC(locket_acquire(w, 0, 0), LOCKET_OK);
	CHECK_RC(locket_acquire(r1, 0, LOCKET_SHARED), LOCKET_EWOULDBLOCK);
	locket_free(r1);
	locket_free(r2);
	locket_free(w);
}

TEST(shared_across_processes)
{
	child reader = start_holder(test_path("x"), 1);
	locket_t *r, *w;
	CHECK_RC(locket_new(&r, test_path("x"), NULL), LOCKET_OK);
	CHECK_RC(locket_new(&w, test_path("x"), NULL), LOCKET_OK);
	CHECK_RC(locket_acquire(r, 0, LOCKET_SHARED), LOCKET_OK);
	CHECK_RC(locket_acquire(w, 0, 0), LOCKET_EWOULDBLOCK);
	CHECK_RC(locket_release(r), LOCKET_OK);
	CHECK_RC(locket_acquire(w, 0, 0), LOCKET_EWOULDBLOCK); /* the other reader */
	child_say(&reader, "release");
	CHECK(strcmp(child_read(&reader), "released ok") == 0);
	CHECK_RC(locket_acquire(w, 5000, 0), LOCKET_OK);
	child_wait(&reader);
	locket_free(r);
	locket_free(w);
}

/* ---- threads ---- */

struct shared_state {
	locket_t *lock;
	int inside; /* threads inside the critical section */
	int violations;
	long entries;
	int iterations;
	int rc;
};

static void *hammer(void *arg)
{
	struct shared_state *s = (struct shared_state *)arg;
	int i;
	for (i = 0; i < s->iterations; i++) {
		int rc = locket_acquire(s->lock, -1, (i % 7 == 0) ? LOCKET_SHARED : 0);
		if (rc != LOCKET_OK) {
			__atomic_store_n(&s->rc, rc, __ATOMIC_SEQ_CST);
			return NULL;
		}
		if (__atomic_add_fetch(&s->inside, 1, __ATOMIC_SEQ_CST) != 1)
			__atomic_add_fetch(&s->violations, 1, __ATOMIC_SEQ_CST);
		__atomic_add_fetch(&s->entries, 1, __ATOMIC_SEQ_CST);
		__atomic_sub_fetch(&s->inside, 1, __ATOMIC_SEQ_CST);
		rc = locket_release(s->lock);
		if (rc != LOCKET_OK) {
			__atomic_store_n(&s->rc, rc, __ATOMIC_SEQ_CST);
			return NULL;
		}
	}
	return NULL;
}

TEST(threads_sharing_one_handle_exclude)
{
	struct shared_state s = { 0 };
	pthread_t t[4];
	int i;
	CHECK_RC(locket_new(&s.lock, test_path("x"), NULL), LOCKET_OK);
	s.iterations = 2000;
	for (i = 0; i < 4; i++)
		CHECK(pthread_create(&t[i], NULL, hammer, &s) == 0);
	for (i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	CHECK_RC(s.rc, LOCKET_OK);
	CHECK(s.violations == 0);
	CHECK(s.entries == 4L * s.iterations);
	locket_free(s.lock);
}

static void *release_from_thread(void *arg)
{
	return (void *)(intptr_t)locket_release((locket_t *)arg);
}

TEST(release_by_another_thread)
{
	locket_t *a;
	pthread_t t;
	void *rc;
	CHECK_RC(locket_new(&a, test_path("x"), NULL), LOCKET_OK);
	CHECK_RC(locket_acquire(a, -1, 0), LOCKET_OK);
	CHECK(pthread_create(&t, NULL, release_from_thread, a) == 0);
	pthread_join(t, &rc);
	CHECK_RC((int)(intptr_t)rc, LOCKET_OK);
	CHECK(!locket_locked(a));
	check_held_elsewhere(test_path("x"), 0); /* really released, not a no-op */
	locket_free(a);
}

struct waiter_arg {
	locket_t *lock;
	int64_t timeout;
	unsigned flags;
	int rc;
	int started_pipe[2];
	pid_t tid;
};

static void *wait_in_thread(void *arg)
{
	struct waiter_arg *w = (struct waiter_arg *)arg;
	char c = 'w';
	w->tid = test_gettid();
	if (write(w->started_pipe[1], &c, 1) != 1)
		return NULL;
	w->rc = locket_acquire(w->lock, w->timeout, w->flags);
	return NULL;
}

/* Hold w->lock with flags, start a thread waiting (20 s) on the same handle
 * with the same flags, release from this thread; returns the waiter's result. */
static int hand_over_within_handle(struct waiter_arg *w, unsigned flags)
{
	pthread_t t;
	char c;
	double t0;
	CHECK(pipe(w->started_pipe) == 0);
	CHECK_RC(locket_new(&w->lock, test_path("x"), NULL), LOCKET_OK);
	CHECK_RC(locket_acquire(w->lock, -1, flags), LOCKET_OK);
	w->timeout = 20000;
	w->flags = flags;
	CHECK(pthread_create(&t, NULL, wait_in_thread, w) == 0);
	CHECK(read(w->started_pipe[0], &c, 1) == 1);
	wait_until_waiting(w->tid); /* inside the acquire, not about to call it */
	t0 = test_now_ms();
	CHECK_RC(locket_release(w->lock), LOCKET_OK);
	pthread_join(t, NULL);
	/* Woken by the release, not by the end of its 20 s (a generous bound). */
	if (w->rc == LOCKET_OK && test_now_ms() - t0 > 10000)
		test_fail(__FILE__, __LINE__, "the waiter got the lock %.0f ms after the release",
			  test_now_ms() - t0);
	return w->rc;
}

TEST(thread_waiting_on_same_handle_wakes_on_release)
{
	struct waiter_arg w = { 0 };
	CHECK_RC(hand_over_within_handle(&w, 0), LOCKET_OK);
	CHECK(locket_locked(w.lock));
	check_held_elsewhere(test_path("x"), 1);
	locket_free(w.lock);
}

TEST(shared_waiter_on_same_handle_wakes_on_release)
{
	struct waiter_arg w = { 0 };
	CHECK_RC(hand_over_within_handle(&w, LOCKET_SHARED), LOCKET_OK);
	CHECK(locket_locked(w.lock));
	CHECK_RC(locket_release(w.lock), LOCKET_OK);
	CHECK_RC(locket_release(w.lock), LOCKET_ENOTHELD);
	locket_free(w.lock);
}
