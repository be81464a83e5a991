/* File helpers of the update module: bounded reads, durable atomic
 * writes and copies. */
#ifndef MESH_UPDATE_FILEUTIL_H
#define MESH_UPDATE_FILEUTIL_H

#include <glib.h>

/* Read a whole regular file of at most max bytes; the bound is checked
 * before anything is allocated and again while reading, so a file that
 * grows meanwhile is refused too.  Codes: NOT_FOUND, TOO_LARGE, IO.
 * what names the file in messages ("trust store").
 * Returns: (transfer full): the contents. */
GBytes *mesh_update_read_file (const char *what, const char *path, gsize max,
                               GError **error);

/* Write data to a temporary file beside path with mode, fsync it, rename
 * it over path and fsync the directory.  On failure path is untouched. */
gboolean mesh_update_write_file (const char *what, const char *path,
                                 const void *data, gsize len, int mode,
                                 GError **error);

/* Copy src to a temporary file beside dst (mode of src), fsync, rename
 * over dst, fsync the directory. */
gboolean mesh_update_copy_file (const char *what, const char *src,
                                const char *dst, GError **error);

/* fsync the directory holding path, so a rename in it is durable. */
gboolean mesh_update_sync_dir (const char *path, GError **error);

#endif
