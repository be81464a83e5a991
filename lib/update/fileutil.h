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

/* The same without the fsyncs: for data that is checked whenever it is
 * read (cached chunks, named by their hash), where a file damaged by a
 * crash is found and dropped, and syncing every chunk would cost more
 * than fetching it. */
gboolean mesh_update_write_file_unsynced (const char *what, const char *path,
                                          const void *data, gsize len,
                                          int mode, GError **error);

/* Copy src to a temporary file beside dst with mode (-1: the mode of
 * src), fsync, rename over dst, fsync the directory. */
gboolean mesh_update_copy_file (const char *what, const char *src,
                                const char *dst, int mode, GError **error);

/* A new temporary file beside path, created with mode (umask ignored);
 * its name in *tmp_out (free it with g_free, or let commit or abort).
 * Returns the descriptor, or -1 with error set. */
int mesh_update_temp_open (const char *what, const char *path, int mode,
                           char **tmp_out, GError **error);

/* fsync and close fd, rename tmp over path, fsync the directory; takes
 * tmp.  On failure the temporary is removed. */
gboolean mesh_update_temp_commit (const char *what, int fd, char *tmp,
                                  const char *path, GError **error);

/* Close fd and remove tmp; takes tmp. */
void mesh_update_temp_abort (int fd, char *tmp);

/* write(2) until done; FALSE with errno set on failure. */
gboolean mesh_update_write_all (int fd, const void *data, gsize len);

/* fsync the directory holding path, so a rename in it is durable. */
gboolean mesh_update_sync_dir (const char *path, GError **error);

#endif
