#include "config.h"

#include "update/apply.h"
#include "update/fileutil.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <glib/gstdio.h>
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
  gboolean had_old;
  GStatBuf st;
  int mode = NEW_FILE_MODE;

  g_return_val_if_fail (m != NULL && ts != NULL, FALSE);
  g_return_val_if_fail (data_path != NULL && target != NULL, FALSE);

  set_outcome (outcome, MESH_UPDATE_NOT_APPLIED);
  backup = backup_path ? g_strdup (backup_path)
                       : g_strconcat (target, ".bak", NULL);

  /* 1. Verify again: the data may have sat on disk since it arrived. */
  if (!mesh_update_manifest_verify (m, ts, installed_version, NULL, error)
      || !mesh_update_verify_file (m, data_path, error))
    return FALSE;

  /* 2. Back up. */
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
      if (!mesh_update_copy_file ("backup", target, backup, -1, error))
        return FALSE;
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

  /* 3. Replace: a temporary file renamed over target, so target is the
   *    old or the new file at every instant. */
  if (!mesh_update_copy_file ("update target", data_path, target, mode, error))
    return FALSE;

  /* 4. Check, and undo on failure. */
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
