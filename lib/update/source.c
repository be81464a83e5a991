#include "config.h"

#include "update/source.h"

#include <string.h>

#include "update/package.h"

struct MeshChunkSource {
  MeshChunkStore *cs;
  GHashTable *updates;          /* GBytes id -> MeshWireUpdateManifest */
};

static void
manifest_free (gpointer p)
{
  mesh_wire_free (p);
}

MeshChunkSource *
mesh_chunk_source_new (MeshChunkStore *cs)
{
  MeshChunkSource *src;

  g_return_val_if_fail (cs != NULL, NULL);
  src = g_new0 (MeshChunkSource, 1);
  src->cs = cs;
  src->updates = g_hash_table_new_full (g_bytes_hash, g_bytes_equal,
                                        (GDestroyNotify) g_bytes_unref,
                                        manifest_free);
  return src;
}

void
mesh_chunk_source_free (MeshChunkSource *src)
{
  GHashTableIter it;
  gpointer m;

  if (src == NULL)
    return;
  g_hash_table_iter_init (&it, src->updates);
  while (g_hash_table_iter_next (&it, NULL, &m))
    mesh_chunk_store_unpin (src->cs, m);
  g_hash_table_destroy (src->updates);
  g_free (src);
}

static const MeshWireUpdateManifest *
lookup (MeshChunkSource *src, const uint8_t *id, uint32_t index)
{
  g_autoptr (GBytes) key = g_bytes_new_static (id, MESH_SHA256_LEN);
  const MeshWireUpdateManifest *m = g_hash_table_lookup (src->updates, key);

  if (m == NULL || index >= m->n_chunk_hashes)
    return NULL;
  return m;
}

static gboolean
source_has (void *store, const uint8_t *id, uint32_t index)
{
  MeshChunkSource *src = store;
  const MeshWireUpdateManifest *m = lookup (src, id, index);

  return m != NULL && mesh_chunk_store_has (src->cs, m->chunk_hashes[index].data);
}

static GBytes *
source_get (void *store, const uint8_t *id, uint32_t index)
{
  MeshChunkSource *src = store;
  const MeshWireUpdateManifest *m = lookup (src, id, index);
  g_autoptr (GError) error = NULL;
  GBytes *b;

  if (m == NULL)
    return NULL;
  b = mesh_chunk_store_get (src->cs, m->chunk_hashes[index].data, &error);
  if (b == NULL)
    g_debug ("chunk %" G_GUINT32_FORMAT " not served: %s", index, error->message);
  return b;
}

static gboolean
source_put (void *store, const uint8_t *id, uint32_t index, const uint8_t *data,
            size_t len)
{
  MeshChunkSource *src = store;
  const MeshWireUpdateManifest *m = lookup (src, id, index);
  g_autoptr (GError) error = NULL;

  if (m == NULL)
    return FALSE;
  if (!mesh_chunk_store_put (src->cs, m->chunk_hashes[index].data, data, len,
                             &error))
    {
      g_warning ("cannot keep chunk %" G_GUINT32_FORMAT " of %s: %s", index,
                 m->name, error->message);
      return FALSE;
    }
  return TRUE;
}

static const MeshChunkStoreFuncs source_funcs = {
  source_has, source_get, source_put,
};

const MeshChunkStoreFuncs *
mesh_chunk_source_funcs (void)
{
  return &source_funcs;
}

gboolean
mesh_chunk_source_add (MeshChunkSource *src, const guint8 *manifest, gsize len,
                       uint8_t id_out[MESH_SHA256_LEN], GError **error)
{
  MeshWireUpdateManifest *m;
  uint8_t id[MESH_SHA256_LEN];
  GBytes *key;

  g_return_val_if_fail (src != NULL && manifest != NULL, FALSE);
  m = mesh_update_manifest_parse (manifest, len, error);
  if (m == NULL)
    return FALSE;
  mesh_update_manifest_digest (m, id);
  if (id_out != NULL)
    memcpy (id_out, id, MESH_SHA256_LEN);
  key = g_bytes_new (id, MESH_SHA256_LEN);
  if (g_hash_table_contains (src->updates, key))
    {
      g_bytes_unref (key);
      mesh_wire_free (m);
      return TRUE;
    }
  mesh_chunk_store_pin (src->cs, m);
  g_hash_table_insert (src->updates, key, m);
  return TRUE;
}

void
mesh_chunk_source_remove (MeshChunkSource *src, const uint8_t id[MESH_SHA256_LEN])
{
  g_autoptr (GBytes) key = NULL;
  MeshWireUpdateManifest *m;

  g_return_if_fail (src != NULL && id != NULL);
  key = g_bytes_new_static (id, MESH_SHA256_LEN);
  m = g_hash_table_lookup (src->updates, key);
  if (m == NULL)
    return;
  mesh_chunk_store_unpin (src->cs, m);
  g_hash_table_remove (src->updates, key);
}
