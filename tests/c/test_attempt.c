/* Attempts: acquisitions driven by an event loop. */
#include "harness.h"

#include <poll.h>
#include <string.h>
#include <unistd.h>

/* Drive an attempt as a loop would, for at most budget_ms. */
static int drive(locket_attempt_t *a, double budget_ms)
{
	double end = test_now_ms() + budget_ms;
	int rc = LOCKET_EWOULDBLOCK;
	while (rc == LOCKET_EWOULDBLOCK && test_now_ms() < end) {
		struct pollfd p = { locket_attempt_fd(a), POLLIN, 0 };
		poll(&p, 1, locket_attempt_retry_ms(a));
		rc = locket_attempt_try(a);
	}
	return rc;
}

TEST(attempt_on_free_lock_succeeds_at_once)
{
	locket_t *lock;
	locket_attempt_t *a = (locket_attempt_t *)1;
	CHECK_RC(locket_new(&lock, test_path("x"), NULL), LOCKET_OK);
	CHECK_RC(locket_attempt_start(&a, lock, 0), LOCKET_OK);
	CHECK(a == NULL);
	CHECK(locket_locked(lock));
	check_held_elsewhere(test_path("x"), 1);
	CHECK_RC(locket_release(lock), LOCKET_OK);
	locket_free(lock);
}

TEST(attempt_bad_arguments)
{
	locket_t *lock;
	locket_attempt_t *a;
	CHECK_RC(locket_new(&lock, test_path("x"), NULL), LOCKET_OK);
	CHECK_RC(locket_attempt_start(NULL, lock, 0), LOCKET_EINVAL);
	CHECK_RC(locket_attempt_start(&a, NULL, 0), LOCKET_EINVAL);
	CHECK_RC(locket_attempt_start(&a, lock, LOCKET_INTERRUPTIBLE), LOCKET_EINVAL);
	CHECK(a == NULL);
	CHECK_RC(locket_attempt_try(NULL), LOCKET_EINVAL);
	CHECK(locket_attempt_fd(NULL) == -1);
	locket_attempt_free(NULL);
	CHECK(!locket_locked(lock));
	locket_free(lock);
}

TEST(attempt_gets_lock_when_holder_releases)
{
	child holder = start_holder(test_path("x"), 0);
	locket_t *lock;
	locket_attempt_t *a;
	CHECK_RC(locket_new(&lock, test_path("x"), NULL), LOCKET_OK);
	CHECK_RC(locket_attempt_start(&a, lock, 0), LOCKET_EWOULDBLOCK);
	CHECK(a != NULL);
	if (engine_is_portable()) {
		/* Nothing to poll: the loop tries on a short timer. */
		CHECK(locket_attempt_fd(a) == -1);
		CHECK(locket_attempt_retry_ms(a) > 0 && locket_attempt_retry_ms(a) <= 16);
	} else {
		CHECK(locket_attempt_fd(a) >= 0); /* Linux: inotify */
		CHECK(locket_attempt_retry_ms(a) > 0);
	}
	CHECK_RC(locket_attempt_try(a), LOCKET_EWOULDBLOCK);
	CHECK(!locket_locked(lock));
	child_say(&holder, "release");
	CHECK(strcmp(child_read(&holder), "released ok") == 0);
	if (engine_is_portable()) {
		CHECK_RC(locket_attempt_try(a), LOCKET_OK); /* the next timed try */
	} else {
		/* The release made the descriptor readable: no need to wait the retry. */
		struct pollfd p = { locket_attempt_fd(a), POLLIN, 0 };
		CHECK(poll(&p, 1, 5000) == 1);
		CHECK_RC(locket_attempt_try(a), LOCKET_OK);
	}
	CHECK(locket_locked(lock));
	CHECK_RC(locket_attempt_try(a), LOCKET_EINVAL); /* finished */
	locket_attempt_free(a);
	check_held_elsewhere(test_path("x"), 1);
	CHECK_RC(locket_release(lock), LOCKET_OK);
	child_wait(&holder);
	locket_free(lock);
}

TEST(attempts_do_not_wake_each_other)
{
	child holder = start_holder(test_path("x"), 0);
	locket_t *l1, *l2;
	locket_attempt_t *a1, *a2;
	struct pollfd p;
	int i;
	CHECK_RC(locket_new(&l1, test_path("x"), NULL), LOCKET_OK);
	CHECK_RC(locket_new(&l2, test_path("x"), NULL), LOCKET_OK);
	CHECK_RC(locket_attempt_start(&a1, l1, 0), LOCKET_EWOULDBLOCK);
	CHECK_RC(locket_attempt_start(&a2, l2, 0), LOCKET_EWOULDBLOCK);
	CHECK_RC(locket_attempt_try(a1), LOCKET_EWOULDBLOCK); /* drains a1's events */
	for (i = 0; i < 20; i++)
		CHECK_RC(locket_attempt_try(a2), LOCKET_EWOULDBLOCK);
	p.fd = locket_attempt_fd(a1);
	p.events = POLLIN;
	CHECK(poll(&p, 1, 0) == 0); /* a2's tries made no event for a1 */
	child_say(&holder, "release");
	CHECK(strcmp(child_read(&holder), "released ok") == 0);
	CHECK_RC(drive(a1, 10000), LOCKET_OK);
	CHECK_RC(locket_attempt_try(a2), LOCKET_EWOULDBLOCK);
	CHECK_RC(locket_release(l1), LOCKET_OK);
	CHECK_RC(drive(a2, 10000), LOCKET_OK);
	locket_attempt_free(a1);
	locket_attempt_free(a2);
	locket_free(l1);
	locket_free(l2);
	child_wait(&holder);
}

TEST(attempt_gets_lock_of_killed_holder)
{
	child holder = start_holder(test_path("x"), 0);
	locket_t *lock;
	locket_attempt_t *a;
	CHECK_RC(locket_new(&lock, test_path("x"), NULL), LOCKET_OK);
	CHECK_RC(locket_attempt_start(&a, lock, LOCKET_SHARED), LOCKET_EWOULDBLOCK);
	child_kill9(&holder);
	CHECK_RC(drive(a, 10000), LOCKET_OK);
	locket_attempt_free(a);
	CHECK(locket_locked(lock));
	child_wait(&holder);
	locket_free(lock);
}

TEST(abandoned_attempt_leaves_nothing_held)
{
	child holder = start_holder(test_path("x"), 0);
	locket_t *lock;
	locket_attempt_t *a;
	CHECK_RC(locket_new(&lock, test_path("x"), NULL), LOCKET_OK);
	CHECK_RC(locket_attempt_start(&a, lock, 0), LOCKET_EWOULDBLOCK);
	locket_attempt_free(a);
	child_say(&holder, "release");
	CHECK(strcmp(child_read(&holder), "released ok") == 0);
	CHECK(!locket_locked(lock));
	check_held_elsewhere(test_path("x"), 0);
	CHECK_RC(locket_acquire(lock, 0, 0), LOCKET_OK); /* the handle is still usable */
	child_wait(&holder);
	locket_free(lock);
}

TEST(attempt_on_handle_held_by_another_thread)
{
	locket_t *lock;
	locket_attempt_t *a;
	CHECK_RC(locket_new(&lock, test_path("x"), NULL), LOCKET_OK);
	CHECK_RC(locket_acquire(lock, 0, LOCKET_SHARED), LOCKET_OK);
	CHECK_RC(locket_attempt_start(&a, lock, LOCKET_SHARED), LOCKET_EWOULDBLOCK);
	CHECK_RC(locket_release(lock), LOCKET_OK); /* closes: an event for the attempt */
	CHECK_RC(drive(a, 10000), LOCKET_OK);
	locket_attempt_free(a);
	CHECK_RC(locket_release(lock), LOCKET_OK);
	CHECK_RC(locket_release(lock), LOCKET_ENOTHELD);
	locket_free(lock);
}
