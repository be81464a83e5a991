#include "config.h"

#include "update/fileutil.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <meshara/meshara.h>

static gboolean
io_fail (GError **error, int err, const char *what, const char *action,
         const char *path)
{
  g_set_error (error, MESHARA_ERROR,
               err == ENOENT ? MESHARA_ERROR_NOT_FOUND : MESHARA_ERROR_IO,
               "cannot %s %s %s: %s", action, what, path, g_strerror (err));
  return FALSE;
}

GBytes *
mesh_update_read_file (const char *what, const char *path, gsize max,
                       GError **error)
{
  struct stat st;
  guint8 *buf;
  gsize got = 0, cap;
  int fd;

  g_return_val_if_fail (path != NULL, NULL);

  fd = g_open (path, O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0)
    {
      io_fail (error, errno, what, "read", path);
      return NULL;
    }
  if (fstat (fd, &st) != 0)
    {
      io_fail (error, errno, what, "read", path);
      close (fd);
      return NULL;
    }
  if (!S_ISREG (st.st_mode))
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_IO,
                   "%s %s is not a regular file", what, path);
      close (fd);
      return NULL;
    }
  if ((guint64) st.st_size > max)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_TOO_LARGE,
                   "%s %s: %" G_GUINT64_FORMAT " bytes exceeds the limit of %"
                   G_GSIZE_FORMAT, what, path, (guint64) st.st_size, max);
      close (fd);
      return NULL;
    }
  /* One byte more than allowed, to notice growth while reading. */
  cap = (gsize) st.st_size + 1;
  buf = g_malloc (cap);
  for (;;)
    {
      ssize_t n = read (fd, buf + got, cap - got);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          io_fail (error, errno, what, "read", path);
          g_free (buf);
          close (fd);
          return NULL;
        }
      if (n == 0)
        break;
      got += (gsize) n;
      if (got == cap)
        {
          if (got > max)
            {
              g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_TOO_LARGE,
                           "%s %s grew beyond the limit of %" G_GSIZE_FORMAT
                           " bytes while being read", what, path, max);
              g_free (buf);
              close (fd);
              return NULL;
            }
          cap = MIN (max + 1, cap * 2);
          buf = g_realloc (buf, cap);
        }
    }
  close (fd);
  return g_bytes_new_take (buf, got);
}

gboolean
mesh_update_sync_dir (const char *path, GError **error)
{
  g_autofree char *dir = g_path_get_dirname (path);
  int fd = g_open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);

  if (fd < 0 || fsync (fd) != 0)
    {
      int e = errno;
      if (fd >= 0)
        close (fd);
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_IO,
                   "cannot sync directory %s: %s", dir, g_strerror (e));
      return FALSE;
    }
  close (fd);
  return TRUE;
}

static gboolean
write_all (int fd, const guint8 *p, gsize len)
{
  while (len > 0)
    {
      ssize_t n = write (fd, p, len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return FALSE;
      p += n;
      len -= (gsize) n;
    }
  return TRUE;
}

int
mesh_update_temp_open (const char *what, const char *path, int mode,
                       char **tmp_out, GError **error)
{
  char *tmp = g_strdup_printf ("%s.tmp-XXXXXX", path);
  int fd = g_mkstemp_full (tmp, O_WRONLY | O_CLOEXEC, mode);

  if (fd < 0)
    {
      io_fail (error, errno, what, "create a temporary file for", path);
      g_free (tmp);
      return -1;
    }
  /* mkstemp applies the umask; the mode is what the caller asked for. */
  if (fchmod (fd, (mode_t) mode) != 0)
    {
      io_fail (error, errno, what, "set the mode of a temporary file for", path);
      close (fd);
      g_unlink (tmp);
      g_free (tmp);
      return -1;
    }
  *tmp_out = tmp;
  return fd;
}

gboolean
mesh_update_temp_commit (const char *what, int fd, char *tmp,
                         const char *path, GError **error)
{
  if (fsync (fd) != 0)
    {
      io_fail (error, errno, what, "sync", tmp);
      close (fd);
      goto fail;
    }
  if (close (fd) != 0)
    {
      io_fail (error, errno, what, "close", tmp);
      goto fail;
    }
  if (g_rename (tmp, path) != 0)
    {
      io_fail (error, errno, what, "rename into place", path);
      goto fail;
    }
  g_free (tmp);
  return mesh_update_sync_dir (path, error);

fail:
  g_unlink (tmp);
  g_free (tmp);
  return FALSE;
}

gboolean
mesh_update_write_file (const char *what, const char *path, const void *data,
                        gsize len, int mode, GError **error)
{
  char *tmp = NULL;
  int fd;

  g_return_val_if_fail (path != NULL && (data != NULL || len == 0), FALSE);

  fd = mesh_update_temp_open (what, path, mode, &tmp, error);
  if (fd < 0)
    return FALSE;
  if (!write_all (fd, data, len))
    {
      io_fail (error, errno, what, "write", tmp);
      close (fd);
      g_unlink (tmp);
      g_free (tmp);
      return FALSE;
    }
  return mesh_update_temp_commit (what, fd, tmp, path, error);
}

gboolean
mesh_update_write_file_unsynced (const char *what, const char *path,
                                 const void *data, gsize len, int mode,
                                 GError **error)
{
  char *tmp = NULL;
  int fd;

  g_return_val_if_fail (path != NULL && (data != NULL || len == 0), FALSE);

  fd = mesh_update_temp_open (what, path, mode, &tmp, error);
  if (fd < 0)
    return FALSE;
  if (!write_all (fd, data, len))
    {
      io_fail (error, errno, what, "write", tmp);
      mesh_update_temp_abort (fd, tmp);
      return FALSE;
    }
  if (close (fd) != 0)
    {
      io_fail (error, errno, what, "close", tmp);
      g_unlink (tmp);
      g_free (tmp);
      return FALSE;
    }
  if (g_rename (tmp, path) != 0)
    {
      io_fail (error, errno, what, "rename", tmp);
      g_unlink (tmp);
      g_free (tmp);
      return FALSE;
    }
  g_free (tmp);
  return TRUE;
}

gboolean
mesh_update_copy_file (const char *what, const char *src, const char *dst,
                       int mode, GError **error)
{
  guint8 buf[64 * 1024];
  struct stat st;
  char *tmp = NULL;
  int in, out;

  g_return_val_if_fail (src != NULL && dst != NULL, FALSE);

  in = g_open (src, O_RDONLY | O_CLOEXEC, 0);
  if (in < 0)
    return io_fail (error, errno, what, "read", src);
  if (fstat (in, &st) != 0 || !S_ISREG (st.st_mode))
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_IO,
                   "%s %s is not a readable regular file", what, src);
      close (in);
      return FALSE;
    }
  out = mesh_update_temp_open (what, dst, mode >= 0 ? mode : (int) (st.st_mode & 07777),
                               &tmp, error);
  if (out < 0)
    {
      close (in);
      return FALSE;
    }
  for (;;)
    {
      ssize_t n = read (in, buf, sizeof buf);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 || (n > 0 && !write_all (out, buf, (gsize) n)))
        {
          io_fail (error, errno, what, n < 0 ? "read" : "write",
                   n < 0 ? src : tmp);
          close (in);
          close (out);
          g_unlink (tmp);
          g_free (tmp);
          return FALSE;
        }
      if (n == 0)
        break;
    }
  close (in);
  return mesh_update_temp_commit (what, out, tmp, dst, error);
}

void
mesh_update_temp_abort (int fd, char *tmp)
{
  close (fd);
  g_unlink (tmp);
  g_free (tmp);
}

gboolean
mesh_update_write_all (int fd, const void *data, gsize len)
{
  return write_all (fd, data, len);
}
