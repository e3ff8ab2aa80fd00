/*
 * Helpers shared by the files of the Windows OS layer in core/win.
 */
#ifndef LOCKET_WIN_H
#define LOCKET_WIN_H

#include "internal.h"

#include <windows.h>

/* Share modes of every handle locket opens: other programs (and other
 * locket handles) may still read, write, rename and delete the file. */
#define LOCKET__SHARE_ALL (FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE)

/* UTF-8 -> malloc'd UTF-16 (LOCKET_EINVAL on invalid UTF-8), and back. */
int locket__win_to_utf16(const char *s, wchar_t **out);
int locket__win_to_utf8(const wchar_t *w, char **out);

/* The UTF-16 path to hand to CreateFileW for an absolute UTF-8 path: with
 * the \\?\ prefix when it is longer than MAX_PATH allows. malloc'd. */
int locket__win_open_path(const char *path, wchar_t **out);

/*
 * The file's index on its volume (FileInternalInformation: the NTFS file
 * reference number; st_ino under Wine): the same on every handle of the
 * file, whatever path reached it. Cheap (no volume query), so it names the
 * wake-up event; locket__os_same_file also compares the volume.
 * Sets *index and returns 1, or returns 0 when the OS cannot tell.
 */
int locket__win_file_index(HANDLE h, ULONGLONG *index);

#endif /* LOCKET_WIN_H */
