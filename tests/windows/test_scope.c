/*
 * What a lock can exclude, on Windows (core/win/scope.c): the volume's drive
 * type and file system, WSL's share, LOCKET_ACROSS_HOSTS, and locket_check()
 * after the lock file is deleted or replaced. Wine shows every drive as a
 * fixed disk, so SMB shares are covered by the fixtures of
 * tests/c/test_scope_table.c, not here.
 */
#include "harness.h"

#include <string.h>

TEST(scope_of_a_local_volume)
{
	locket_scope_info info = LOCKET_SCOPE_INFO_INIT;
	CHECK_RC(locket_scope(test_path("x.lock"), LOCKET_KIND_FLOCK, &info), LOCKET_OK);
	printf("scope: %s, %s: %s\n", locket_scope_name(info.kind), info.fs_type, info.reason);
	CHECK(info.reason[0] != '\0');
	/* Wine: a fixed NTFS drive. On Windows a local test directory too. */
	if (strcmp(info.fs_type, "NTFS") == 0)
		CHECK(info.kind == LOCKET_SCOPE_LOCAL);
	else
		CHECK(info.kind != LOCKET_SCOPE_LOCAL || info.fs_type[0] != '\0');
	CHECK_RC(locket_scope("", 0, &info), LOCKET_EINVAL);
	CHECK_RC(locket_scope(test_path("x.lock"), 3, &info), LOCKET_EINVAL);
}

TEST(scope_of_wsl_shares_is_this_host)
{
	static const char *const paths[] = { "\\\\wsl$\\Ubuntu\\tmp\\x.lock",
					     "\\\\wsl.localhost\\Debian\\x.lock",
					     "\\\\WSL$\\Ubuntu\\x.lock" };
	size_t i;
	for (i = 0; i < sizeof paths / sizeof paths[0]; i++) {
		locket_scope_info info = LOCKET_SCOPE_INFO_INIT;
		CHECK_RC(locket_scope(paths[i], LOCKET_KIND_FLOCK, &info), LOCKET_OK);
		if (info.kind != LOCKET_SCOPE_THIS_HOST)
			test_fail(__FILE__, __LINE__, "%s: %s (%s)", paths[i],
				  locket_scope_name(info.kind), info.reason);
		CHECK(strstr(info.reason, "Incorrect function") != NULL);
	}
}

TEST(across_hosts_on_a_local_volume_locks)
{
	locket_scope_info info = LOCKET_SCOPE_INFO_INIT;
	locket_options o = LOCKET_OPTIONS_INIT;
	locket_t *a, *b;
	CHECK_RC(locket_scope(test_path("f"), 0, &info), LOCKET_OK);
	if (info.kind != LOCKET_SCOPE_LOCAL)
		test_skip("the test directory is not on a local volume");
	o.flags = LOCKET_ACROSS_HOSTS;
	CHECK_RC(locket_new(&a, test_path("f"), &o), LOCKET_OK);
	CHECK_RC(locket_new(&b, test_path("f"), NULL), LOCKET_OK);
	CHECK_RC(locket_acquire(a, 0, 0), LOCKET_OK);
	CHECK_RC(locket_acquire(b, 0, 0), LOCKET_EWOULDBLOCK);
	CHECK_RC(locket_release(a), LOCKET_OK);
	locket_free(a);
	locket_free(b);
}

TEST(check_intact_renamed_replaced_and_deleted)
{
	locket_t *lock;
	wchar_t *f, *old;
	HANDLE h;
	CHECK_RC(locket_new(&lock, test_path("f"), NULL), LOCKET_OK);
	CHECK_RC(locket_check(lock), LOCKET_ENOTHELD);
	CHECK_RC(locket_acquire(lock, 0, 0), LOCKET_OK);
	CHECK_RC(locket_check(lock), LOCKET_OK);
	/* Renamed away while held (locket shares delete access): lost. */
	f = test_wide(test_path("f"));
	old = test_wide(test_path("f.old"));
	CHECK(MoveFileExW(f, old, 0));
	CHECK_RC(locket_check(lock), LOCKET_ELOST);
	CHECK(locket_locked(lock));
	/* And replaced by a new file at the path (a deploy): still lost. */
	h = CreateFileW(f, GENERIC_WRITE, 0, NULL, CREATE_NEW, FILE_ATTRIBUTE_NORMAL, NULL);
	CHECK(h != INVALID_HANDLE_VALUE);
	CloseHandle(h);
	CHECK_RC(locket_check(lock), LOCKET_ELOST);
	CHECK_RC(locket_release(lock), LOCKET_OK);
	CHECK_RC(locket_check(lock), LOCKET_ENOTHELD);
	/* The new file is the lock file now. */
	CHECK_RC(locket_acquire(lock, 0, 0), LOCKET_OK);
	CHECK_RC(locket_check(lock), LOCKET_OK);
	/* Deleted while held: Windows keeps a delete-pending file until its last
	 * handle closes, and check() sees it pending; Wine removes it at the last
	 * close without showing it pending, so the path still names the file. */
	CHECK(DeleteFileW(f));
	if (GetFileAttributesW(f) != INVALID_FILE_ATTRIBUTES) {
		int rc = locket_check(lock);
		printf("deletion deferred to the last close (Wine): check says %s\n",
		       locket_error_name(rc));
		CHECK(rc == LOCKET_OK || rc == LOCKET_ELOST);
	} else {
		CHECK_RC(locket_check(lock), LOCKET_ELOST);
	}
	CHECK_RC(locket_release(lock), LOCKET_OK);
	locket_free(lock);
	free(f);
	free(old);
}
