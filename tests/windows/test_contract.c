/*
 * The contract at the edges of Windows paths and objects (issue 15): path
 * length, verbatim paths, devices, volume identity, the wake-up event,
 * messages.
 */
#include "harness.h"

#include <string.h>

static const char *quoted(const char *path, const char *rest)
{
	static char buf[4][4096];
	static int next;
	char *b = buf[next++ % 4];
	snprintf(b, sizeof buf[0], "\"%s\" %s", path, rest);
	return b;
}

/* What another process gets from one locket try. */
static const char *other_try(const char *path)
{
	static char answer[64];
	child c = child_start("try", quoted(path, "excl"));
	snprintf(answer, sizeof answer, "%s", child_read(&c));
	CHECK(child_wait(&c) == 0);
	return answer;
}

static int exists(const char *path)
{
	wchar_t *w = test_wide(path);
	DWORD attr = GetFileAttributesW(w);
	free(w);
	return attr != INVALID_FILE_ATTRIBUTES;
}

/* Nothing but "." and ".." in dir. */
static int dir_is_empty(const char *dir)
{
	char pattern[2048];
	wchar_t *w;
	WIN32_FIND_DATAW fd;
	HANDLE find;
	int empty = 1;
	snprintf(pattern, sizeof pattern, "%s\\*", dir);
	w = test_wide(pattern);
	find = FindFirstFileW(w, &fd);
	free(w);
	if (find == INVALID_HANDLE_VALUE)
		return 1;
	do {
		if (wcscmp(fd.cFileName, L".") != 0 && wcscmp(fd.cFileName, L"..") != 0) {
			char *name = test_utf8(fd.cFileName);
			printf("found %s\n", name);
			free(name);
			empty = 0;
		}
	} while (FindNextFileW(find, &fd));
	FindClose(find);
	return empty;
}

/* dir + "\\" + filler, where filler is n characters of 200-character
 * components; malloc'd. */
static char *path_of_length(const char *dir, size_t n)
{
	size_t d = strlen(dir), i;
	char *p = malloc(d + n + 2);
	memcpy(p, dir, d);
	p[d] = '\\';
	for (i = 0; i < n; i++)
		p[d + 1 + i] = (i % 201 == 200 && i + 1 < n) ? '\\' : 'a';
	p[d + 1 + n] = '\0';
	return p;
}

/* ---- 1. the 32767-character limit of Windows paths ---- */

/* The kernel counts a path's length in a 16-bit number of bytes: a longer
 * path must be refused, never wrapped to a short one. test_dir() is ASCII,
 * so UTF-8 and UTF-16 lengths agree; locket adds the 4-character \\?\. */
TEST(path_beyond_32767_is_invalid_argument)
{
	const char *dir = test_dir();
	size_t d = strlen(dir), i;
	/* 4 + d + 1 + n UTF-16 characters with the prefix. */
	size_t too_long[] = { 32768, 32792, 65535, 65536 + 4 + d + 2 };
	char target[2048];
	locket_t *lock = NULL;
	char *p;

	/* d + "\x\" + 32767 more wraps (mod 32768) to exactly d + "\x": that file
	 * must not appear. */
	snprintf(target, sizeof target, "%s\\x", dir);
	p = path_of_length(target, 32767);
	CHECK(strlen(p) + 4 == 32768 + 4 + d + 2);
	CHECK_RC(locket_new(&lock, p, NULL), LOCKET_EINVAL);
	CHECK(lock == NULL);
	printf("message: %.120s...\n", locket_last_error_message());
	CHECK(strstr(locket_last_error_message(), "too long") != NULL);
	free(p);
	for (i = 0; i < sizeof too_long / sizeof too_long[0]; i++) {
		p = path_of_length(dir, too_long[i] - 4 - d - 1);
		CHECK(strlen(p) + 4 == too_long[i]);
		CHECK_RC(locket_new(&lock, p, NULL), LOCKET_EINVAL);
		CHECK(lock == NULL);
		free(p);
	}
	CHECK(!exists(target));
	CHECK(dir_is_empty(dir));
	/* At the limit the path is the OS's to judge (Wine: ERROR_BAD_PATHNAME). */
	p = path_of_length(dir, 32767 - 4 - d - 1);
	CHECK(locket_new(&lock, p, NULL) != LOCKET_OK);
	printf("at the limit: %s, Windows error %d\n", locket_error_name(locket_last_error_code()),
	       locket_last_os_error());
	CHECK(locket_last_os_error() != 0);
	CHECK(strstr(locket_last_error_message(), "too long") == NULL);
	free(p);
	CHECK(dir_is_empty(dir));
}

/* ---- 3. \\?\ paths are verbatim ---- */

TEST(verbatim_path_is_not_normalised)
{
	char verbatim[2048], stripped[2048];
	locket_t *lock;
	child c;

	snprintf(verbatim, sizeof verbatim, "\\\\?\\%s\\lk.", test_dir());
	snprintf(stripped, sizeof stripped, "\\\\?\\%s\\lk", test_dir());
	CHECK_RC(locket_new(&lock, verbatim, NULL), LOCKET_OK);
	printf("locket_path: %s\n", locket_path(lock));
	CHECK(strcmp(locket_path(lock), verbatim) == 0);
	CHECK(exists(verbatim));
	CHECK(!exists(stripped));
	CHECK_RC(locket_acquire(lock, 0, 0), LOCKET_OK);
	CHECK(strcmp(other_try(verbatim), "would_block") == 0);
	/* A plain LockFileEx program using the same spelling is excluded too. */
	c = child_start("plaintry", quoted(verbatim, ""));
	child_expect(&c, "busy 33");
	CHECK(child_wait(&c) == 0);
	CHECK_RC(locket_release(lock), LOCKET_OK);
	CHECK(strcmp(other_try(verbatim), "ok") == 0);
	CHECK(!exists(stripped));
	locket_free(lock);
}

/* ---- 4. devices are not lock files ---- */

TEST(device_names_fail_at_new)
{
	char dir_nul[2048], pipe_name[128];
	const char *names[] = { "NUL", "COM1", "aux.lock", "com1.txt", "con", dir_nul, pipe_name };
	locket_t *lock = NULL;
	wchar_t *w;
	HANDLE pipe;
	size_t i;

	snprintf(dir_nul, sizeof dir_nul, "%s\\NUL", test_dir());
	/* Not a DOS device name: only the file type tells. */
	snprintf(pipe_name, sizeof pipe_name, "\\\\.\\pipe\\locket-test-%lu",
		 (unsigned long)GetCurrentProcessId());
	w = test_wide(pipe_name);
	pipe = CreateNamedPipeW(w, PIPE_ACCESS_DUPLEX, PIPE_TYPE_BYTE, 4, 512, 512, 0, NULL);
	free(w);
	CHECK(pipe != INVALID_HANDLE_VALUE);
	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		int rc = locket_new(&lock, names[i], NULL);
		printf("%s: %s: %s\n", names[i], locket_error_name(rc),
		       locket_last_error_message());
		CHECK_RC(rc, LOCKET_ENOTSUP);
		CHECK(lock == NULL);
		CHECK(strstr(locket_last_error_message(), "not a file") != NULL);
	}
	CloseHandle(pipe);
	CHECK(dir_is_empty(test_dir()));
	/* Names that only look like devices are files. */
	lock = NULL;
	CHECK_RC(locket_new(&lock, test_path("nul-lock"), NULL), LOCKET_OK);
	locket_free(lock);
	CHECK_RC(locket_new(&lock, test_path("COM10"), NULL), LOCKET_OK);
	locket_free(lock);
}

/* ---- 5. identity is the volume and the file ---- */

static int file_id(const char *path, ULONGLONG *index, DWORD *volume)
{
	BY_HANDLE_FILE_INFORMATION info;
	wchar_t *w = test_wide(path);
	HANDLE h = CreateFileW(w, 0, 7, NULL, OPEN_EXISTING, 0, NULL);
	int ok;
	free(w);
	if (h == INVALID_HANDLE_VALUE)
		return 0;
	ok = GetFileInformationByHandle(h, &info);
	CloseHandle(h);
	*index = ((ULONGLONG)info.nFileIndexHigh << 32) | info.nFileIndexLow;
	*volume = info.dwVolumeSerialNumber;
	return ok;
}

/* The argument is a directory prepared by scripts/windows-env.sh (win_volumes):
 * cur\d and next\d are two volumes (tmpfs mounts, each with its own drive
 * letter and serial in the Wine prefix) whose files "lock" have the same
 * file index. While this process waits for cur\d\lock, the holder swaps
 * the directories cur and next, locks the new cur\d\lock, and releases the
 * old one.
 * The wait must not end holding the old file's lock. Disabled in CMake:
 * Wine 8 cannot show it (see tests/windows/CMakeLists.txt). */
TEST(volume_swap_with_same_index_is_locked_anew)
{
	char cur[2048], next[2048], old[2048], path[2048], path_next[2048], args[4200];
	ULONGLONG index_cur, index_next;
	DWORD volume_cur, volume_next;
	locket_t *lock;
	child c;

	if (test_arg() == NULL)
		test_skip("needs the directory prepared by scripts/windows-env.sh");
	snprintf(cur, sizeof cur, "%s\\cur", test_arg());
	snprintf(next, sizeof next, "%s\\next", test_arg());
	snprintf(old, sizeof old, "%s\\old", test_arg());
	snprintf(path, sizeof path, "%s\\d\\lock", cur);
	snprintf(path_next, sizeof path_next, "%s\\d\\lock", next);
	if (!file_id(path, &index_cur, &volume_cur) ||
	    !file_id(path_next, &index_next, &volume_next))
		test_skip(
			"no volumes prepared (LOCKET_WIN_VOLUMES=1, as root: scripts/windows-env.sh)");
	printf("cur: index %llx volume %lx; next: index %llx volume %lx\n", index_cur,
	       (unsigned long)volume_cur, index_next, (unsigned long)volume_next);
	if (index_cur != index_next || volume_cur == volume_next)
		test_skip("the prepared volumes do not show one index on two volumes to Windows");

	lock = NULL;
	CHECK_RC(locket_new(&lock, path, NULL), LOCKET_OK);
	CHECK_RC(locket_acquire(lock, 0, 0), LOCKET_OK);
	CHECK(strcmp(other_try(path), "would_block") == 0);
	CHECK_RC(locket_release(lock), LOCKET_OK);
	snprintf(args, sizeof args, "\"%s\" 300", test_arg());
	c = child_start("holdswap", args);
	child_expect(&c, "locked");
	child_send(&c, "go");
	CHECK_RC(locket_acquire(lock, 30000, 0), LOCKET_OK);
	child_expect(&c, "swapped");
	CHECK(child_wait(&c) == 0);
	/* Held: the file cur\d\lock names now, not the one on the old volume. */
	snprintf(args, sizeof args, "%s\\d\\lock", old);
	printf("after the wait: cur %s, old %s\n", other_try(path), other_try(args));
	CHECK(strcmp(other_try(path), "would_block") == 0);
	CHECK(strcmp(other_try(args), "ok") == 0);
	CHECK_RC(locket_release(lock), LOCKET_OK);
	locket_free(lock);
	/* Put the volumes back for the next run. */
	{
		wchar_t *wc = test_wide(cur), *wn = test_wide(next), *wo = test_wide(old);
		CHECK(MoveFileExW(wc, wn, 0));
		CHECK(MoveFileExW(wo, wc, 0));
		free(wc);
		free(wn);
		free(wo);
	}
}

/* ---- 2. the wake-up event cannot be turned into a spin ---- */

static double thread_cpu_ms(void)
{
	FILETIME created, exited, kernel, user;
	ULARGE_INTEGER k, u;
	GetThreadTimes(GetCurrentThread(), &created, &exited, &kernel, &user);
	k.LowPart = kernel.dwLowDateTime;
	k.HighPart = kernel.dwHighDateTime;
	u.LowPart = user.dwLowDateTime;
	u.HighPart = user.dwHighDateTime;
	return (double)(k.QuadPart + u.QuadPart) / 10000.0;
}

/* Another program of the session made a manual-reset event of the wake-up
 * event's name, and a release set it: it stays set. A timed waiter must
 * still sleep between its tries. */
TEST(foreign_manual_reset_event_does_not_make_waiters_spin)
{
	const char *path = test_path("lock");
	ULONGLONG index;
	DWORD volume;
	wchar_t name[64];
	HANDLE event;
	locket_t *holder, *waiter;
	double t0, cpu0, wall, cpu;

	holder = NULL;
	CHECK_RC(locket_new(&holder, path, NULL), LOCKET_OK);
	CHECK(file_id(path, &index, &volume));
	_snwprintf(name, 64, L"Local\\locket-wake-%016llx", index);
	name[63] = L'\0';
	event = CreateEventW(NULL, TRUE, TRUE, name); /* manual reset, set */
	CHECK(event != NULL && GetLastError() != ERROR_ALREADY_EXISTS);
	CHECK_RC(locket_acquire(holder, 0, 0), LOCKET_OK);
	waiter = NULL;
	CHECK_RC(locket_new(&waiter, path, NULL), LOCKET_OK);
	cpu0 = thread_cpu_ms();
	t0 = test_now_ms();
	CHECK_RC(locket_acquire(waiter, 3000, 0), LOCKET_ETIMEDOUT);
	wall = test_now_ms() - t0;
	cpu = thread_cpu_ms() - cpu0;
	printf("waited %.0f ms, used %.0f ms of CPU\n", wall, cpu);
	CHECK(WaitForSingleObject(event, 0) == WAIT_OBJECT_0); /* still set throughout */
	/* Sleeping tries use ~10-40 ms here; spinning used over 1 s. Wine counts
	 * thread times in 10 ms ticks. */
	CHECK(cpu < 300);
	CHECK_RC(locket_release(holder), LOCKET_OK);
	locket_free(waiter);
	locket_free(holder);
	CloseHandle(event);
}

/* ---- 6. messages are UTF-8 whatever the path ---- */

static int valid_utf8(const char *s)
{
	return MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, NULL, 0) > 0;
}

TEST(messages_stay_valid_utf8)
{
	locket_t *lock = NULL;
	char path[4096];
	const char *msg;
	int shift;

	CHECK_RC(locket_new(&lock, "bad-\xff-utf8-\xe6\x97", NULL), LOCKET_EINVAL);
	msg = locket_last_error_message();
	printf("message: %s\n", msg);
	CHECK(valid_utf8(msg));
	CHECK(strstr(msg, "bad-\\xff-utf8-\\xe6\\x97") != NULL);
	/* A long non-ASCII path: the message is cut, but never inside a character. */
	for (shift = 0; shift < 3; shift++) {
		size_t n;
		int i;
		snprintf(path, sizeof path, "%s\\missing%.*s\\", test_dir(), shift, "xxx");
		n = strlen(path);
		for (i = 0; i < 300; i++, n += 3)
			memcpy(path + n, "\xe6\x97\xa5", 4); /* U+65E5 */
		CHECK_RC(locket_new(&lock, path, NULL), LOCKET_ENOENT);
		msg = locket_last_error_message();
		CHECK(strlen(msg) > 400);
		CHECK(valid_utf8(msg));
	}
}
