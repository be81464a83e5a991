#ifndef MESHARA_UPDATE_H
#define MESHARA_UPDATE_H

#if !defined(MESHARA_MESHARA_H) && !defined(MESHARA_COMPILATION)
#error "Only <meshara/meshara.h> can be included directly."
#endif

#include <glib-object.h>
#include <meshara/meshara-version.h>
#include <meshara/meshara-identity.h>

G_BEGIN_DECLS

/**
 * MesharaTrustLevel:
 * @MESHARA_TRUST_LEVEL_UPDATE: may sign updates.
 * @MESHARA_TRUST_LEVEL_SIGNING: may sign content (not updates).
 * @MESHARA_TRUST_LEVEL_BOOTSTRAP: a node to join the mesh through (not
 *   updates).
 * @MESHARA_TRUST_LEVEL_FULL: all of the above.
 *
 * What a trusted authority is trusted for.  Only UPDATE and FULL
 * signatures count towards an update's threshold.
 */
typedef enum {
  MESHARA_TRUST_LEVEL_UPDATE = 1,
  MESHARA_TRUST_LEVEL_SIGNING = 2,
  MESHARA_TRUST_LEVEL_BOOTSTRAP = 3,
  MESHARA_TRUST_LEVEL_FULL = 4,
} MesharaTrustLevel;

/**
 * MesharaTrustStore:
 *
 * The update authorities a node trusts, with a trust level each, and the
 * number k of their signatures an update needs.  Reference counted (a
 * boxed type).
 */
typedef struct _MesharaTrustStore MesharaTrustStore;

#define MESHARA_TYPE_TRUST_STORE (meshara_trust_store_get_type ())
MESHARA_API GType meshara_trust_store_get_type (void) G_GNUC_CONST;

MESHARA_API MesharaTrustStore *meshara_trust_store_new (void);
MESHARA_API MesharaTrustStore *meshara_trust_store_load (const char *path,
                                                         GError **error);
MESHARA_API gboolean meshara_trust_store_save (MesharaTrustStore *store,
                                               const char *path,
                                               GError **error);
MESHARA_API MesharaTrustStore *meshara_trust_store_ref (MesharaTrustStore *store);
MESHARA_API void meshara_trust_store_unref (MesharaTrustStore *store);

MESHARA_API gboolean meshara_trust_store_add (MesharaTrustStore *store,
                                              const char *public_key,
                                              const char *name,
                                              const char *description,
                                              const char *url,
                                              MesharaTrustLevel level,
                                              GError **error);
MESHARA_API gboolean meshara_trust_store_remove (MesharaTrustStore *store,
                                                 const char *public_key,
                                                 GError **error);
MESHARA_API guint meshara_trust_store_get_n_authorities (MesharaTrustStore *store);
MESHARA_API gboolean meshara_trust_store_get_authority (MesharaTrustStore *store,
                                                        guint index,
                                                        char **fingerprint,
                                                        char **name,
                                                        char **description,
                                                        char **url,
                                                        MesharaTrustLevel *level);
MESHARA_API guint meshara_trust_store_get_threshold (MesharaTrustStore *store);
MESHARA_API gboolean meshara_trust_store_set_threshold (MesharaTrustStore *store,
                                                        guint threshold,
                                                        GError **error);

MESHARA_API const char *meshara_trust_level_to_string (MesharaTrustLevel level);
MESHARA_API MesharaTrustLevel meshara_trust_level_from_string (const char *name);

MESHARA_API GBytes *meshara_update_manifest_new_from_file (const char *path,
                                                           const char *name,
                                                           guint64 version,
                                                           const char *version_label,
                                                           guint64 min_version,
                                                           const char *changelog,
                                                           GError **error);
MESHARA_API GBytes *meshara_update_manifest_sign (GBytes *manifest,
                                                  MesharaIdentity *authority,
                                                  GError **error);
MESHARA_API GBytes *meshara_update_manifest_export_unsigned (GBytes *manifest,
                                                             GError **error);
MESHARA_API GBytes *meshara_update_manifest_merge (GBytes *manifest,
                                                   GBytes *other,
                                                   GError **error);
MESHARA_API gboolean meshara_update_manifest_get_info (GBytes *manifest,
                                                       char **name,
                                                       guint64 *version,
                                                       char **version_label,
                                                       guint64 *size,
                                                       char **changelog,
                                                       guint *n_signatures,
                                                       GError **error);
MESHARA_API gboolean meshara_update_manifest_verify (GBytes *manifest,
                                                     MesharaTrustStore *store,
                                                     guint64 installed_version,
                                                     GError **error);
MESHARA_API gboolean meshara_update_verify_file (GBytes *manifest,
                                                 const char *path,
                                                 GError **error);

/**
 * MesharaUpdateCheckFunc:
 * @target: the path of the file just installed.
 * @user_data: the data given to meshara_update_apply().
 * @error: where to report why the check failed.
 *
 * A caller's check of a newly installed file, such as running it.
 *
 * Returns: %TRUE to keep the update, %FALSE (with @error set) to roll it
 * back.
 */
typedef gboolean (*MesharaUpdateCheckFunc) (const char *target,
                                            gpointer user_data,
                                            GError **error);

/**
 * MesharaUpdateOutcome:
 * @MESHARA_UPDATE_NOT_APPLIED: refused before the target was touched.
 * @MESHARA_UPDATE_APPLIED: the target holds the new data.
 * @MESHARA_UPDATE_ROLLED_BACK: the check failed; the old file is back.
 * @MESHARA_UPDATE_ROLLBACK_FAILED: the check failed and so did the
 *   restore; the backup file is kept.
 *
 * How meshara_update_apply() ended.
 */
typedef enum {
  MESHARA_UPDATE_NOT_APPLIED = 0,
  MESHARA_UPDATE_APPLIED,
  MESHARA_UPDATE_ROLLED_BACK,
  MESHARA_UPDATE_ROLLBACK_FAILED,
} MesharaUpdateOutcome;

MESHARA_API gboolean meshara_update_apply (GBytes *manifest,
                                           MesharaTrustStore *store,
                                           guint64 installed_version,
                                           const char *data_path,
                                           const char *target,
                                           MesharaUpdateCheckFunc check,
                                           gpointer user_data,
                                           MesharaUpdateOutcome *outcome,
                                           GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MesharaTrustStore, meshara_trust_store_unref)

G_END_DECLS

#endif
