#include "config.h"

#include "update/apply.h"
#include "update/fileutil.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <glib/gstdio.h>
#include <nettle/sha2.h>
#include <meshara/meshara.h>

/* Mode of a newly installed file: updates are often programs. */
#define NEW_FILE_MODE 0755

static void
set_outcome (MeshUpdateOutcome *outcome, MeshUpdateOutcome v)
{
  if (outcome)
    *outcome = v;
}

/* Put the previous state back: the backup renamed over target (one
 * atomic step, the same bytes), or no target when there was none. */
static gboolean
roll_back (const char *target, const char *backup, gboolean had_old,
           GError **error)
{
  if (had_old)
    {
      if (g_rename (backup, target) != 0)
        {
          g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_IO,
                       "cannot restore %s from %s: %s", target, backup,
                       g_strerror (errno));
          return FALSE;
        }
    }
  else if (g_unlink (target) != 0 && errno != ENOENT)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_IO,
                   "cannot remove %s, installed by a failed update: %s",
                   target, g_strerror (errno));
      return FALSE;
    }
  return mesh_update_sync_dir (target, error);
}

/* Copy data_path into a new temporary file beside target, checking every
 * chunk and the whole against m on the way, so what gets renamed into
 * place is exactly what was checked (the source may change meanwhile).
 * Returns the descriptor of the finished temporary, its name in *tmp. */
static int
copy_verified (const MeshWireUpdateManifest *m, const char *data_path,
               const char *target, int mode, char **tmp, GError **error)
{
  g_autofree guint8 *buf = NULL;
  struct sha256_ctx ctx;
  guint8 sum[MESH_SHA256_LEN], extra;
  int in, out;

  in = g_open (data_path, O_RDONLY | O_CLOEXEC, 0);
  if (in < 0)
    {
      int e = errno;
      g_set_error (error, MESHARA_ERROR,
                   e == ENOENT ? MESHARA_ERROR_NOT_FOUND : MESHARA_ERROR_IO,
                   "cannot read update data %s: %s", data_path, g_strerror (e));
      return -1;
    }
  out = mesh_update_temp_open ("update target", target, mode, tmp, error);
  if (out < 0)
    {
      close (in);
      return -1;
    }
  buf = g_malloc (m->chunk_size ? m->chunk_size : 1);
  sha256_init (&ctx);
  for (guint32 i = 0; i < m->n_chunk_hashes; i++)
    {
      gsize want = mesh_update_chunk_len (m, i), got = 0;

      while (got < want)
        {
          ssize_t n = read (in, buf + got, want - got);
          if (n < 0 && errno == EINTR)
            continue;
          if (n < 0)
            {
              g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_IO,
                           "cannot read update data %s: %s", data_path,
                           g_strerror (errno));
              goto fail;
            }
          if (n == 0)
            break;
          got += (gsize) n;
        }
      if (!mesh_update_verify_chunk (m, i, buf, got, error))
        {
          g_prefix_error (error, "%s: ", data_path);
          goto fail;
        }
      sha256_update (&ctx, got, buf);
      if (!mesh_update_write_all (out, buf, got))
        {
          g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_IO,
                       "cannot write %s: %s", *tmp, g_strerror (errno));
          goto fail;
        }
    }
  sha256_digest (&ctx, sizeof sum, sum);
  if (read (in, &extra, 1) != 0
      || m->checksum.len != MESH_SHA256_LEN
      || memcmp (sum, m->checksum.data, MESH_SHA256_LEN) != 0)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_CHECKSUM_MISMATCH,
                   "%s: does not match the checksum and size of %s version %"
                   G_GUINT64_FORMAT, data_path, m->name, m->version);
      goto fail;
    }
  close (in);
  return out;

fail:
  close (in);
  mesh_update_temp_abort (out, *tmp);
  *tmp = NULL;
  return -1;
}

gboolean
mesh_update_apply (const MeshWireUpdateManifest *m, const MeshTrustStore *ts,
                   guint64 installed_version, const char *data_path,
                   const char *target, const char *backup_path,
                   MeshUpdateCheckFunc check, void *user_data,
                   MeshUpdateOutcome *outcome, GError **error)
{
  g_autofree char *backup = NULL;
  g_autoptr (GError) check_error = NULL;
  g_autoptr (GError) undo_error = NULL;
  char *tmp = NULL;
  gboolean had_old;
  GStatBuf st;
  int mode = NEW_FILE_MODE, fd;

  g_return_val_if_fail (m != NULL && ts != NULL, FALSE);
  g_return_val_if_fail (data_path != NULL && target != NULL, FALSE);

  set_outcome (outcome, MESH_UPDATE_NOT_APPLIED);
  backup = backup_path ? g_strdup (backup_path)
                       : g_strconcat (target, ".bak", NULL);

  /* 1. Verify the manifest again: the trust store may have changed since
   *    the update arrived. */
  if (!mesh_update_manifest_verify (m, ts, installed_version, NULL, error))
    return FALSE;

  if (g_stat (target, &st) == 0)
    {
      if (!S_ISREG (st.st_mode))
        {
          g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
                       "update target %s is not a regular file", target);
          return FALSE;
        }
      had_old = TRUE;
      mode = (int) (st.st_mode & 07777);
    }
  else if (errno == ENOENT)
    had_old = FALSE;
  else
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_IO,
                   "cannot read update target %s: %s", target,
                   g_strerror (errno));
      return FALSE;
    }

  /* 2. Copy the data beside target, verifying it on the way. */
  fd = copy_verified (m, data_path, target, mode, &tmp, error);
  if (fd < 0)
    return FALSE;

  /* 3. Back up. */
  if (had_old && !mesh_update_copy_file ("backup", target, backup, -1, error))
    {
      mesh_update_temp_abort (fd, tmp);
      return FALSE;
    }

  /* 4. Replace: one rename, so target is the old or the new file at
   *    every instant. */
  if (!mesh_update_temp_commit ("update target", fd, tmp, target, error))
    return FALSE;

  /* 5. Check, and undo on failure. */
  if (check == NULL || check (target, user_data, &check_error))
    {
      set_outcome (outcome, MESH_UPDATE_APPLIED);
      return TRUE;
    }
  if (check_error == NULL)
    check_error = g_error_new (MESHARA_ERROR, MESHARA_ERROR_FAILED,
                               "the check reported failure without a reason");
  if (!roll_back (target, backup, had_old, &undo_error))
    {
      set_outcome (outcome, MESH_UPDATE_ROLLBACK_FAILED);
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_IO,
                   "check of %s version %" G_GUINT64_FORMAT " at %s failed (%s), "
                   "and the rollback failed too: %s", m->name, m->version,
                   target, check_error->message, undo_error->message);
      return FALSE;
    }
  set_outcome (outcome, MESH_UPDATE_ROLLED_BACK);
  g_set_error (error, check_error->domain, check_error->code,
               "check of %s version %" G_GUINT64_FORMAT " at %s failed, %s: %s",
               m->name, m->version, target,
               had_old ? "previous file restored" : "new file removed",
               check_error->message);
  return FALSE;
}
