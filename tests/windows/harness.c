/*
 * The Windows test harness (see harness.h).
 */
#include "harness.h"
#include "spawn_win.h"

#include <shellapi.h>
#include <stdarg.h>
#include <string.h>

#define MAX_TESTS 128

static struct {
	const char *name;
	role_fn fn;
} roles[MAX_TESTS];
static int n_roles;

static const char *extra_arg;
static char dir[1024];

void role_register(const char *name, role_fn fn)
{
	if (n_roles < MAX_TESTS) {
		roles[n_roles].name = name;
		roles[n_roles].fn = fn;
		n_roles++;
	}
}

const char *test_arg(void)
{
	return extra_arg;
}

double test_now_ms(void)
{
	LARGE_INTEGER c, f;
	QueryPerformanceCounter(&c);
	QueryPerformanceFrequency(&f);
	return (double)c.QuadPart * 1000.0 / (double)f.QuadPart;
}

wchar_t *test_wide(const char *s)
{
	int n = MultiByteToWideChar(CP_UTF8, 0, s, -1, NULL, 0);
	wchar_t *w = malloc((size_t)n * sizeof *w);
	if (n <= 0 || w == NULL)
		test_fail(__FILE__, __LINE__, "cannot convert '%s' to UTF-16", s);
	MultiByteToWideChar(CP_UTF8, 0, s, -1, w, n);
	return w;
}

char *test_utf8(const wchar_t *w)
{
	int n = WideCharToMultiByte(CP_UTF8, 0, w, -1, NULL, 0, NULL, NULL);
	char *s = malloc((size_t)n);
	if (n <= 0 || s == NULL)
		test_fail(__FILE__, __LINE__, "cannot convert to UTF-8");
	WideCharToMultiByte(CP_UTF8, 0, w, -1, s, n, NULL, NULL);
	return s;
}

/* Delete a tree; wpath is \\?\-prefixed so that long paths work. */
static void remove_tree(const wchar_t *wpath)
{
	size_t len = wcslen(wpath);
	wchar_t *pattern = malloc((len + 3) * sizeof *pattern);
	WIN32_FIND_DATAW fd;
	HANDLE find;

	wcscpy(pattern, wpath);
	wcscat(pattern, L"\\*");
	find = FindFirstFileW(pattern, &fd);
	if (find != INVALID_HANDLE_VALUE) {
		do {
			wchar_t *sub;
			if (wcscmp(fd.cFileName, L".") == 0 || wcscmp(fd.cFileName, L"..") == 0)
				continue;
			sub = malloc((len + wcslen(fd.cFileName) + 2) * sizeof *sub);
			wcscpy(sub, wpath);
			wcscat(sub, L"\\");
			wcscat(sub, fd.cFileName);
			if (fd.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) {
				remove_tree(sub);
			} else {
				SetFileAttributesW(sub, FILE_ATTRIBUTE_NORMAL);
				DeleteFileW(sub);
			}
			free(sub);
		} while (FindNextFileW(find, &fd));
		FindClose(find);
	}
	free(pattern);
	RemoveDirectoryW(wpath);
}

static void remove_dir_at_exit(void)
{
	wchar_t *w, *p;
	if (dir[0] == '\0')
		return;
	w = test_wide(dir);
	p = malloc((wcslen(w) + 5) * sizeof *p);
	wcscpy(p, L"\\\\?\\");
	wcscat(p, w);
	remove_tree(p);
	free(p);
	free(w);
}

const char *test_dir(void)
{
	if (dir[0] == '\0') {
		wchar_t tmp[MAX_PATH + 1], *w;
		char *base;
		DWORD n = GetTempPathW(MAX_PATH + 1, tmp);
		if (n == 0 || n > MAX_PATH)
			test_fail(__FILE__, __LINE__, "GetTempPathW failed");
		base = test_utf8(tmp);
		for (n = 0;; n++) { /* Wine reuses pids: a failed run may have left one */
			snprintf(dir, sizeof dir, "%slocket-%s-%lu-%lu", base, test_current(),
				 (unsigned long)GetCurrentProcessId(), (unsigned long)n);
			w = test_wide(dir);
			if (CreateDirectoryW(w, NULL))
				break;
			if (GetLastError() != ERROR_ALREADY_EXISTS || n > 100)
				test_fail(__FILE__, __LINE__, "cannot create %s", dir);
			free(w);
		}
		free(w);
		free(base);
		atexit(remove_dir_at_exit);
	}
	return dir;
}

const char *test_path(const char *name)
{
	static char bufs[8][2048];
	static int next;
	char *buf = bufs[next++ % 8];
	snprintf(buf, sizeof bufs[0], "%s\\%s", test_dir(), name);
	return buf;
}

/* ---- children ---- */

const char *bin_path(const char *name)
{
	static char path[4096];
	wchar_t self[4096];
	char *s, *slash;
	if (!GetModuleFileNameW(NULL, self, 4096))
		test_fail(__FILE__, __LINE__, "GetModuleFileNameW failed");
	s = test_utf8(self);
	slash = strrchr(s, '\\');
	if (slash != NULL)
		slash[1] = '\0';
	snprintf(path, sizeof path, "%s%s", s, name);
	free(s);
	return path;
}

/* Start cmd (UTF-16, modified by CreateProcessW) with pipes. */
static child spawn(wchar_t *cmd, const char *what)
{
	spawned s;
	child c;
	DWORD err = spawn_with_pipes(cmd, &s);
	if (err != 0)
		test_fail(__FILE__, __LINE__, "cannot start %s (error %lu)", what,
			  (unsigned long)err);
	c.process = s.process;
	c.pid = s.pid;
	c.to = s.to;
	c.from = s.from;
	return c;
}

child child_start(const char *role, const char *args)
{
	char *line = malloc(strlen(args) + strlen(role) + 4200);
	wchar_t *cmd;
	child c;
	sprintf(line, "\"%s\" --child %s %s", bin_path("locket_win_tests.exe"), role, args);
	cmd = test_wide(line);
	c = spawn(cmd, role);
	free(cmd);
	free(line);
	return c;
}

child child_start_exe(const char *name, const char *args)
{
	const char *exe = bin_path(name);
	char *line = malloc(strlen(args) + strlen(exe) + 8);
	wchar_t *cmd, *wexe = test_wide(exe);
	child c = { NULL, 0, NULL, NULL };
	if (GetFileAttributesW(wexe) != INVALID_FILE_ATTRIBUTES) {
		sprintf(line, "\"%s\" %s", exe, args);
		cmd = test_wide(line);
		c = spawn(cmd, name);
		free(cmd);
	}
	free(wexe);
	free(line);
	return c;
}

const char *child_read(child *c)
{
	static char line[1024];
	if (!read_line_from(c->from, line, sizeof line))
		test_fail(__FILE__, __LINE__, "child %lu closed its output after '%s'",
			  (unsigned long)c->pid, line);
	return line;
}

void child_expect(child *c, const char *want)
{
	const char *got = child_read(c);
	if (strcmp(got, want) != 0)
		test_fail(__FILE__, __LINE__, "child %lu said '%s', expected '%s'",
			  (unsigned long)c->pid, got, want);
}

void child_send(child *c, const char *line)
{
	DWORD put;
	WriteFile(c->to, line, (DWORD)strlen(line), &put, NULL);
	WriteFile(c->to, "\n", 1, &put, NULL);
}

int child_wait(child *c)
{
	DWORD code = 1;
	if (WaitForSingleObject(c->process, 60000) != WAIT_OBJECT_0)
		test_fail(__FILE__, __LINE__, "child %lu did not exit", (unsigned long)c->pid);
	GetExitCodeProcess(c->process, &code);
	CloseHandle(c->process);
	CloseHandle(c->to);
	CloseHandle(c->from);
	c->process = c->to = c->from = NULL;
	return (int)code;
}

void child_kill(child *c)
{
	TerminateProcess(c->process, 9);
	WaitForSingleObject(c->process, 60000);
}

void role_say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

const char *role_hear(void)
{
	static char line[1024];
	size_t n;
	if (fgets(line, sizeof line, stdin) == NULL)
		return NULL;
	n = strlen(line);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	return line;
}

static void last_error(FILE *out)
{
	fprintf(out, " [GetLastError %lu]", (unsigned long)GetLastError());
}

int main(void)
{
	int argc, i;
	wchar_t **wargv = CommandLineToArgvW(GetCommandLineW(), &argc);
	char **argv = calloc((size_t)argc + 1, sizeof *argv);

	for (i = 0; i < argc; i++)
		argv[i] = test_utf8(wargv[i]);
	if (argc >= 3 && strcmp(argv[1], "--child") == 0) {
		for (i = 0; i < n_roles; i++)
			if (strcmp(roles[i].name, argv[2]) == 0)
				return roles[i].fn(argc - 3, argv + 3);
		fprintf(stderr, "unknown role %s\n", argv[2]);
		return 2;
	}
	extra_arg = argc > 2 ? argv[2] : NULL;
	test_fail_detail = last_error;
	return test_main(argc, argv);
}
