#include "config.h"

#include "update/notice.h"

#include <string.h>
#include <meshara/meshara.h>

GBytes *
mesh_update_notice_build (const MeshWireUpdateManifest *m, GError **error)
{
  MeshWireUpdateNotice n = MESHARA__V1__UPDATE_NOTICE__INIT;
  guint8 id[MESH_SHA256_LEN];

  g_return_val_if_fail (m != NULL, NULL);

  if (m->n_signatures == 0)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID,
                   "cannot announce %s version %" G_GUINT64_FORMAT ": the "
                   "manifest has no signature", m->name, m->version);
      return NULL;
    }
  mesh_update_manifest_digest (m, id);
  n.manifest_id.data = id;
  n.manifest_id.len = sizeof id;
  n.name = m->name;
  n.version = m->version;
  n.version_label = m->version_label;
  n.size = m->size;
  n.n_signatures = m->n_signatures;
  n.signatures = m->signatures;
  if (!mesh_wire_validate (&n.base, error))
    return NULL;
  return mesh_wire_encode (&n.base);
}

MeshWireUpdateNotice *
mesh_update_notice_parse (const guint8 *data, gsize len, GError **error)
{
  g_return_val_if_fail (data != NULL || len == 0, NULL);
  return mesh_wire_decode_update_notice (data, len, error);
}

gboolean
mesh_update_notice_verify (const MeshWireUpdateNotice *n,
                           const MeshTrustStore *ts, guint64 installed_version,
                           GError **error)
{
  g_autofree char *what = NULL;

  g_return_val_if_fail (n != NULL && ts != NULL, FALSE);

  if (n->manifest_id.len != MESH_SHA256_LEN)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID,
                   "update notice: manifest_id of %" G_GSIZE_FORMAT " bytes, "
                   "expected %d", n->manifest_id.len, MESH_SHA256_LEN);
      return FALSE;
    }
  what = g_strdup_printf ("notice of %s version %" G_GUINT64_FORMAT, n->name,
                          n->version);
  return mesh_update_check_signatures (n->signatures, n->n_signatures,
                                       n->manifest_id.data, ts, what, NULL,
                                       error)
         && mesh_update_check_version (n->name, n->version, 0,
                                       installed_version, error);
}

static gboolean
differs (const char *field, GError **error)
{
  g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID,
               "the manifest fetched does not match the update notice: "
               "different %s", field);
  return FALSE;
}

static gboolean
str_eq (const char *a, const char *b)
{
  return g_strcmp0 (a ? a : "", b ? b : "") == 0;
}

gboolean
mesh_update_notice_matches (const MeshWireUpdateNotice *n,
                            const MeshWireUpdateManifest *m, GError **error)
{
  guint8 id[MESH_SHA256_LEN];

  g_return_val_if_fail (n != NULL && m != NULL, FALSE);

  mesh_update_manifest_digest (m, id);
  if (n->manifest_id.len != MESH_SHA256_LEN
      || memcmp (id, n->manifest_id.data, MESH_SHA256_LEN) != 0)
    return differs ("manifest ID", error);
  if (!str_eq (n->name, m->name))
    return differs ("name", error);
  if (n->version != m->version)
    return differs ("version", error);
  if (!str_eq (n->version_label, m->version_label))
    return differs ("version label", error);
  if (n->size != m->size)
    return differs ("size", error);
  return TRUE;
}
