/* The public update API (<meshara/meshara-update.h>) over the internal
 * modules of lib/update/. */
#include "config.h"

#include "update/apply.h"
#include "update/package.h"
#include "update/trust.h"
#include "update/update-api.h"
#include "crypto/identity.h"

#include <string.h>
#include <meshara/meshara.h>

G_STATIC_ASSERT ((int) MESHARA_TRUST_LEVEL_UPDATE == (int) MESH_TRUST_UPDATE);
G_STATIC_ASSERT ((int) MESHARA_TRUST_LEVEL_SIGNING == (int) MESH_TRUST_SIGNING);
G_STATIC_ASSERT ((int) MESHARA_TRUST_LEVEL_BOOTSTRAP == (int) MESH_TRUST_BOOTSTRAP);
G_STATIC_ASSERT ((int) MESHARA_TRUST_LEVEL_FULL == (int) MESH_TRUST_FULL);
G_STATIC_ASSERT ((int) MESHARA_UPDATE_NOT_APPLIED == (int) MESH_UPDATE_NOT_APPLIED);
G_STATIC_ASSERT ((int) MESHARA_UPDATE_APPLIED == (int) MESH_UPDATE_APPLIED);
G_STATIC_ASSERT ((int) MESHARA_UPDATE_ROLLED_BACK == (int) MESH_UPDATE_ROLLED_BACK);
G_STATIC_ASSERT ((int) MESHARA_UPDATE_ROLLBACK_FAILED == (int) MESH_UPDATE_ROLLBACK_FAILED);

struct _MesharaTrustStore {
  gatomicrefcount ref_count;
  MeshTrustStore *ts;
};

G_DEFINE_BOXED_TYPE (MesharaTrustStore, meshara_trust_store,
                     meshara_trust_store_ref, meshara_trust_store_unref)

static MesharaTrustStore *
wrap (MeshTrustStore *ts)
{
  MesharaTrustStore *s = g_new0 (MesharaTrustStore, 1);

  g_atomic_ref_count_init (&s->ref_count);
  s->ts = ts;
  return s;
}

/**
 * meshara_trust_store_new:
 *
 * Makes an empty trust store with threshold 1.
 *
 * Returns: (transfer full): the store.
 */
MesharaTrustStore *
meshara_trust_store_new (void)
{
  return wrap (mesh_trust_store_new ());
}

/**
 * meshara_trust_store_load:
 * @path: (type filename): a file written by meshara_trust_store_save()
 * @error: return location for a #GError, or %NULL
 *
 * Reads a trust store.  The file is bounded (1 MiB) and every field is
 * validated before use.
 *
 * Errors: %MESHARA_ERROR_NOT_FOUND (no such file), %MESHARA_ERROR_IO,
 * %MESHARA_ERROR_PERMISSION (group or others may write it),
 * %MESHARA_ERROR_TOO_LARGE, %MESHARA_ERROR_TRUNCATED,
 * %MESHARA_ERROR_MALFORMED, %MESHARA_ERROR_INVALID,
 * %MESHARA_ERROR_UNSUPPORTED_VERSION.
 *
 * Returns: (transfer full) (nullable): the store, or %NULL with @error set.
 */
MesharaTrustStore *
meshara_trust_store_load (const char *path, GError **error)
{
  MeshTrustStore *ts;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  ts = mesh_trust_store_load (path, error);
  return ts ? wrap (ts) : NULL;
}

/**
 * meshara_trust_store_save:
 * @store: a #MesharaTrustStore
 * @path: (type filename): where to write it
 * @error: return location for a #GError, or %NULL
 *
 * Writes the store atomically: a temporary file in the same directory,
 * synced, then renamed over @path.  On failure the old file is intact.
 *
 * Returns: %TRUE on success, %FALSE with @error set (%MESHARA_ERROR_IO).
 */
gboolean
meshara_trust_store_save (MesharaTrustStore *store, const char *path,
                          GError **error)
{
  g_return_val_if_fail (store != NULL && path != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  return mesh_trust_store_save (store->ts, path, error);
}

/**
 * meshara_trust_store_ref:
 * @store: a #MesharaTrustStore
 *
 * Returns: (transfer full): @store, with one more reference.
 */
MesharaTrustStore *
meshara_trust_store_ref (MesharaTrustStore *store)
{
  g_return_val_if_fail (store != NULL, NULL);
  g_atomic_ref_count_inc (&store->ref_count);
  return store;
}

/**
 * meshara_trust_store_unref:
 * @store: (transfer full): a #MesharaTrustStore
 *
 * Drops a reference; the last one frees the store.
 */
void
meshara_trust_store_unref (MesharaTrustStore *store)
{
  g_return_if_fail (store != NULL);
  if (g_atomic_ref_count_dec (&store->ref_count))
    {
      mesh_trust_store_free (store->ts);
      g_free (store);
    }
}

static gboolean
key_from_text (const char *public_key, uint8_t out[MESH_ED25519_KEY_LEN],
               GError **error)
{
  MeshPublicBundle b;

  if (!mesh_bundle_from_string (&b, public_key, error))
    return FALSE;
  memcpy (out, b.ed_pub, MESH_ED25519_KEY_LEN);
  return TRUE;
}

/**
 * meshara_trust_store_add:
 * @store: a #MesharaTrustStore
 * @public_key: the authority's public key in text form ("mshr1...", as
 *   meshara_identity_get_public_key() gives it)
 * @name: the authority's name, 1 to 128 bytes of UTF-8
 * @description: (nullable): at most 1024 bytes of UTF-8
 * @url: (nullable): at most 255 bytes of printable ASCII
 * @level: what the authority is trusted for
 * @error: return location for a #GError, or %NULL
 *
 * Trusts an authority, or updates the metadata and level of one already
 * trusted.  At most 256 authorities.
 *
 * Errors: %MESHARA_ERROR_MALFORMED, %MESHARA_ERROR_INVALID (bad key text
 * or field), %MESHARA_ERROR_TOO_LARGE (a field too long),
 * %MESHARA_ERROR_INVALID_ARGUMENT (@level), %MESHARA_ERROR_EXHAUSTED (the
 * store is full).
 *
 * Returns: %TRUE on success.
 */
gboolean
meshara_trust_store_add (MesharaTrustStore *store, const char *public_key,
                         const char *name, const char *description,
                         const char *url, MesharaTrustLevel level,
                         GError **error)
{
  uint8_t key[MESH_ED25519_KEY_LEN];

  g_return_val_if_fail (store != NULL && public_key != NULL, FALSE);
  g_return_val_if_fail (name != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!key_from_text (public_key, key, error))
    return FALSE;
  return mesh_trust_store_add (store->ts, key, name, description, url,
                               (MeshTrustLevel) level,
                               (guint64) (g_get_real_time () / 1000), error);
}

/**
 * meshara_trust_store_remove:
 * @store: a #MesharaTrustStore
 * @public_key: the authority's public key in text form
 * @error: return location for a #GError, or %NULL
 *
 * Stops trusting an authority.
 *
 * Returns: %TRUE when it was removed; %FALSE with
 *   %MESHARA_ERROR_NOT_FOUND when it was not trusted, or a key parse
 *   error.
 */
gboolean
meshara_trust_store_remove (MesharaTrustStore *store, const char *public_key,
                            GError **error)
{
  uint8_t key[MESH_ED25519_KEY_LEN];

  g_return_val_if_fail (store != NULL && public_key != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!key_from_text (public_key, key, error))
    return FALSE;
  if (!mesh_trust_store_remove (store->ts, key))
    {
      g_set_error_literal (error, MESHARA_ERROR, MESHARA_ERROR_NOT_FOUND,
                           "no trusted authority has this public key");
      return FALSE;
    }
  return TRUE;
}

/**
 * meshara_trust_store_get_n_authorities:
 * @store: a #MesharaTrustStore
 *
 * Returns: how many authorities the store holds.
 */
guint
meshara_trust_store_get_n_authorities (MesharaTrustStore *store)
{
  g_return_val_if_fail (store != NULL, 0);
  return mesh_trust_store_count (store->ts);
}

/**
 * meshara_trust_store_get_authority:
 * @store: a #MesharaTrustStore
 * @index: 0 to meshara_trust_store_get_n_authorities() - 1, in the order
 *   added
 * @fingerprint: (out) (optional) (transfer full): the short form of the
 *   authority's node ID, "1a2b-3c4d-..."
 * @name: (out) (optional) (transfer full): its name
 * @description: (out) (optional) (transfer full): its description
 * @url: (out) (optional) (transfer full): its URL
 * @level: (out) (optional): its trust level
 *
 * Describes one trusted authority.
 *
 * Returns: %FALSE when @index is out of range (outputs untouched).
 */
gboolean
meshara_trust_store_get_authority (MesharaTrustStore *store, guint index,
                                   char **fingerprint, char **name,
                                   char **description, char **url,
                                   MesharaTrustLevel *level)
{
  const MeshAuthority *a;

  g_return_val_if_fail (store != NULL, FALSE);
  if (index >= mesh_trust_store_count (store->ts))
    return FALSE;
  a = mesh_trust_store_get (store->ts, index);
  if (fingerprint)
    {
      uint8_t id[MESH_NODE_ID_LEN];
      mesh_node_id (a->public_key, id);
      *fingerprint = mesh_fingerprint (id);
    }
  if (name)
    *name = g_strdup (a->name);
  if (description)
    *description = g_strdup (a->description);
  if (url)
    *url = g_strdup (a->url);
  if (level)
    *level = (MesharaTrustLevel) a->level;
  return TRUE;
}

/**
 * meshara_trust_store_get_threshold:
 * @store: a #MesharaTrustStore
 *
 * Returns: k, the trusted signatures an update needs.
 */
guint
meshara_trust_store_get_threshold (MesharaTrustStore *store)
{
  g_return_val_if_fail (store != NULL, 0);
  return mesh_trust_store_get_threshold (store->ts);
}

/**
 * meshara_trust_store_set_threshold:
 * @store: a #MesharaTrustStore
 * @threshold: k, 1 to 16
 * @error: return location for a #GError, or %NULL
 *
 * Sets how many distinct trusted authorities must sign an update.
 *
 * Returns: %TRUE, or %FALSE with %MESHARA_ERROR_INVALID_ARGUMENT.
 */
gboolean
meshara_trust_store_set_threshold (MesharaTrustStore *store, guint threshold,
                                   GError **error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  return mesh_trust_store_set_threshold (store->ts, threshold, error);
}

/**
 * meshara_trust_level_to_string:
 * @level: a #MesharaTrustLevel
 *
 * Returns: "update", "signing", "bootstrap", "full", or "invalid".
 */
const char *
meshara_trust_level_to_string (MesharaTrustLevel level)
{
  return mesh_trust_level_to_string ((MeshTrustLevel) level);
}

/**
 * meshara_trust_level_from_string:
 * @name: "update", "signing", "bootstrap" or "full"
 *
 * Returns: the level, or 0 for any other string.
 */
MesharaTrustLevel
meshara_trust_level_from_string (const char *name)
{
  g_return_val_if_fail (name != NULL, 0);
  return (MesharaTrustLevel) mesh_trust_level_from_string (name);
}

static MeshWireUpdateManifest *
parse_bytes (GBytes *manifest, GError **error)
{
  gsize len;
  const guint8 *p = g_bytes_get_data (manifest, &len);

  return mesh_update_manifest_parse (p, len, error);
}

/**
 * meshara_update_manifest_new_from_file:
 * @path: (type filename): the update's data
 * @name: what is updated, 1 to 128 bytes of printable ASCII
 * @version: release number, non-zero; higher is newer
 * @version_label: (nullable): human-readable version, such as "1.4.2"
 * @min_version: the oldest installed version the update may replace; 0
 *   for any
 * @changelog: (nullable): release notes, at most 64 KiB
 * @error: return location for a #GError, or %NULL
 *
 * Describes the data in @path as an unsigned update manifest: its size,
 * SHA-256, and the SHA-256 of each 64 KiB chunk.  Authorities then sign
 * it with meshara_update_manifest_sign().
 *
 * Errors: %MESHARA_ERROR_NOT_FOUND, %MESHARA_ERROR_IO,
 * %MESHARA_ERROR_INVALID (empty file or a bad field),
 * %MESHARA_ERROR_TOO_LARGE (over 256 MiB or a field too long).
 *
 * Returns: (transfer full) (nullable): the encoded manifest.
 */
GBytes *
meshara_update_manifest_new_from_file (const char *path, const char *name,
                                       guint64 version,
                                       const char *version_label,
                                       guint64 min_version,
                                       const char *changelog, GError **error)
{
  MeshUpdateInfo info = { 0 };

  g_return_val_if_fail (path != NULL && name != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  info.name = name;
  info.version = version;
  info.version_label = version_label;
  info.min_version = min_version;
  info.changelog = changelog;
  return mesh_update_manifest_build_file (&info, path, error);
}

/**
 * meshara_update_manifest_sign:
 * @manifest: an encoded manifest, signed or not
 * @authority: the signing authority's identity
 * @error: return location for a #GError, or %NULL
 *
 * Adds @authority's signature.  This is also how co-signing works: each
 * authority signs the manifest (or its unsigned export), and
 * meshara_update_manifest_merge() gathers the signatures.
 *
 * Errors: the parse errors of an encoded manifest,
 * %MESHARA_ERROR_INVALID (already signed by @authority),
 * %MESHARA_ERROR_TOO_LARGE (16 signatures already).
 *
 * Returns: (transfer full) (nullable): the signed manifest.
 */
GBytes *
meshara_update_manifest_sign (GBytes *manifest, MesharaIdentity *authority,
                              GError **error)
{
  gsize len;
  const guint8 *p;

  g_return_val_if_fail (manifest != NULL && authority != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  p = g_bytes_get_data (manifest, &len);
  return mesh_update_manifest_sign (p, len, mesh_identity_from_public (authority),
                                    error);
}

/**
 * meshara_update_manifest_export_unsigned:
 * @manifest: an encoded manifest
 * @error: return location for a #GError, or %NULL
 *
 * Returns: (transfer full) (nullable): @manifest without signatures, for
 *   other authorities to sign.
 */
GBytes *
meshara_update_manifest_export_unsigned (GBytes *manifest, GError **error)
{
  gsize len;
  const guint8 *p;

  g_return_val_if_fail (manifest != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  p = g_bytes_get_data (manifest, &len);
  return mesh_update_manifest_export_unsigned (p, len, error);
}

/**
 * meshara_update_manifest_merge:
 * @manifest: an encoded manifest
 * @other: the same manifest with other signatures
 * @error: return location for a #GError, or %NULL
 *
 * Returns: (transfer full) (nullable): @manifest with the signatures of
 *   both, one per authority; %NULL with %MESHARA_ERROR_INVALID when they
 *   describe different updates, %MESHARA_ERROR_TOO_LARGE above 16.
 */
GBytes *
meshara_update_manifest_merge (GBytes *manifest, GBytes *other, GError **error)
{
  gsize a_len, b_len;
  const guint8 *a, *b;

  g_return_val_if_fail (manifest != NULL && other != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  a = g_bytes_get_data (manifest, &a_len);
  b = g_bytes_get_data (other, &b_len);
  return mesh_update_manifest_merge (a, a_len, b, b_len, error);
}

/**
 * meshara_update_manifest_get_info:
 * @manifest: an encoded manifest
 * @name: (out) (optional) (transfer full): what is updated
 * @version: (out) (optional): release number
 * @version_label: (out) (optional) (transfer full): human-readable version
 * @size: (out) (optional): bytes of data
 * @changelog: (out) (optional) (transfer full): release notes
 * @n_signatures: (out) (optional): signatures it carries (checked or not)
 * @error: return location for a #GError, or %NULL
 *
 * Reads the fields of a manifest without judging it; use
 * meshara_update_manifest_verify() before trusting them.
 *
 * Returns: %FALSE with @error set when @manifest does not parse.
 */
gboolean
meshara_update_manifest_get_info (GBytes *manifest, char **name,
                                  guint64 *version, char **version_label,
                                  guint64 *size, char **changelog,
                                  guint *n_signatures, GError **error)
{
  g_autoptr (MeshWireUpdateManifest) m = NULL;

  g_return_val_if_fail (manifest != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  m = parse_bytes (manifest, error);
  if (m == NULL)
    return FALSE;
  if (name)
    *name = g_strdup (m->name);
  if (version)
    *version = m->version;
  if (version_label)
    *version_label = g_strdup (m->version_label ? m->version_label : "");
  if (size)
    *size = m->size;
  if (changelog)
    *changelog = g_strdup (m->changelog ? m->changelog : "");
  if (n_signatures)
    *n_signatures = (guint) m->n_signatures;
  return TRUE;
}

/**
 * meshara_update_manifest_verify:
 * @manifest: an encoded, signed manifest
 * @store: the trusted authorities
 * @installed_version: the version installed now, 0 for none
 * @error: return location for a #GError, or %NULL
 *
 * Accepts a manifest when at least the store's threshold of distinct
 * authorities trusted for updates signed it and every such signature
 * verifies, and its versions fit @installed_version.
 *
 * Errors: the parse errors of an encoded manifest,
 * %MESHARA_ERROR_BAD_SIGNATURE, %MESHARA_ERROR_UNTRUSTED (too few trusted
 * signatures), %MESHARA_ERROR_VERSION_TOO_OLD (@installed_version below
 * the manifest's minimum), %MESHARA_ERROR_DOWNGRADE (not newer than
 * @installed_version).
 *
 * Returns: %TRUE when accepted.
 */
gboolean
meshara_update_manifest_verify (GBytes *manifest, MesharaTrustStore *store,
                                guint64 installed_version, GError **error)
{
  g_autoptr (MeshWireUpdateManifest) m = NULL;

  g_return_val_if_fail (manifest != NULL && store != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  m = parse_bytes (manifest, error);
  return m != NULL && mesh_update_manifest_verify (m, store->ts,
                                                   installed_version, NULL,
                                                   error);
}

/**
 * meshara_update_verify_file:
 * @manifest: an encoded manifest
 * @path: (type filename): the update's data
 * @error: return location for a #GError, or %NULL
 *
 * Checks the data against the manifest: size, each chunk's SHA-256 and
 * the whole SHA-256.
 *
 * Returns: %TRUE when it matches; %FALSE with
 *   %MESHARA_ERROR_CHECKSUM_MISMATCH, %MESHARA_ERROR_NOT_FOUND or
 *   %MESHARA_ERROR_IO.
 */
gboolean
meshara_update_verify_file (GBytes *manifest, const char *path,
                            GError **error)
{
  g_autoptr (MeshWireUpdateManifest) m = NULL;

  g_return_val_if_fail (manifest != NULL && path != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  m = parse_bytes (manifest, error);
  return m != NULL && mesh_update_verify_file (m, path, error);
}

/**
 * meshara_update_apply:
 * @manifest: an encoded, signed manifest
 * @store: the trusted authorities
 * @installed_version: the version installed now, 0 for none
 * @data_path: (type filename): the update's data
 * @target: (type filename): the file to replace
 * @check: (nullable) (scope call): the caller's check of the new file
 * @user_data: (closure check): data for @check
 * @outcome: (out) (optional): how it ended
 * @error: return location for a #GError, or %NULL
 *
 * Verifies @manifest and @data_path again, copies @target (when it
 * exists) to @target.bak, replaces @target atomically with the data
 * (keeping its mode), and runs @check.  When @check fails, the backup is
 * renamed back over @target, so the old file returns byte for byte.
 *
 * Errors: those of meshara_update_manifest_verify() and
 * meshara_update_verify_file() (nothing touched), %MESHARA_ERROR_IO, or
 * the error of @check after a rollback.
 *
 * Returns: %TRUE when the update is installed and passed @check.
 */
gboolean
meshara_update_apply (GBytes *manifest, MesharaTrustStore *store,
                      guint64 installed_version, const char *data_path,
                      const char *target, MesharaUpdateCheckFunc check,
                      gpointer user_data, MesharaUpdateOutcome *outcome,
                      GError **error)
{
  g_autoptr (MeshWireUpdateManifest) m = NULL;

  g_return_val_if_fail (manifest != NULL && store != NULL, FALSE);
  g_return_val_if_fail (data_path != NULL && target != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (outcome)
    *outcome = MESHARA_UPDATE_NOT_APPLIED;
  m = parse_bytes (manifest, error);
  if (m == NULL)
    return FALSE;
  return mesh_update_apply (m, store->ts, installed_version, data_path, target,
                            NULL, (MeshUpdateCheckFunc) check, user_data,
                            (MeshUpdateOutcome *) outcome, error);
}

const MeshTrustStore *
mesh_trust_store_of (MesharaTrustStore *store)
{
  return store != NULL ? store->ts : NULL;
}
