#include "config.h"

#include "update/chunks.h"
#include "update/fileutil.h"
#include "update/package.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <glib/gstdio.h>
#include <meshara/meshara.h>

#define HEX_LEN (2 * MESH_SHA256_LEN)

typedef struct {
  GList link;                    /* in MeshChunkStore.age, data = self */
  uint8_t hash[MESH_SHA256_LEN];
  gsize size;
  gint64 mtime_ns;               /* for ordering what a scan finds */
} Entry;

struct MeshChunkStore {
  char *dir;
  guint64 max_bytes;
  guint64 used;
  /* Keyed by the 32-byte hash.  Keys are SHA-256 outputs, and the table
   * holds at most max_bytes / 1 KiB entries, so crafted collisions cost
   * preimage work and are bounded in effect. */
  GHashTable *index;             /* hash -> Entry* (owned) */
  GQueue age;                    /* oldest first */
  GHashTable *pins;              /* hash (owned copy) -> guint count */
};

static guint
hash_key (gconstpointer k)
{
  guint v;

  memcpy (&v, k, sizeof v);
  return v;
}

static gboolean
hash_equal (gconstpointer a, gconstpointer b)
{
  return memcmp (a, b, MESH_SHA256_LEN) == 0;
}

static void
to_hex (const uint8_t hash[MESH_SHA256_LEN], char out[HEX_LEN + 1])
{
  static const char digits[] = "0123456789abcdef";

  for (int i = 0; i < MESH_SHA256_LEN; i++)
    {
      out[2 * i] = digits[hash[i] >> 4];
      out[2 * i + 1] = digits[hash[i] & 15];
    }
  out[HEX_LEN] = '\0';
}

/* A chunk file name: exactly 64 lowercase hex digits. */
static gboolean
from_hex (const char *name, uint8_t hash[MESH_SHA256_LEN])
{
  if (strlen (name) != HEX_LEN)
    return FALSE;
  for (int i = 0; i < MESH_SHA256_LEN; i++)
    {
      int hi = g_ascii_xdigit_value (name[2 * i]);
      int lo = g_ascii_xdigit_value (name[2 * i + 1]);
      if (hi < 0 || lo < 0 || g_ascii_isupper (name[2 * i])
          || g_ascii_isupper (name[2 * i + 1]))
        return FALSE;
      hash[i] = (uint8_t) (hi << 4 | lo);
    }
  return TRUE;
}

static char *
chunk_path (const MeshChunkStore *cs, const uint8_t hash[MESH_SHA256_LEN])
{
  char hex[HEX_LEN + 1];

  to_hex (hash, hex);
  return g_build_filename (cs->dir, hex, NULL);
}

/* Drop an entry from the index and its file from the disk. */
static void
drop (MeshChunkStore *cs, Entry *e)
{
  g_autofree char *path = chunk_path (cs, e->hash);

  if (g_unlink (path) != 0 && errno != ENOENT)
    g_warning ("cannot remove cached chunk %s: %s", path, g_strerror (errno));
  g_queue_unlink (&cs->age, &e->link);
  cs->used -= e->size;
  g_hash_table_remove (cs->index, e->hash);   /* frees e */
}

/* Evict the oldest unpinned chunks until need more bytes fit; FALSE when
 * they do not. */
static gboolean
make_room (MeshChunkStore *cs, guint64 need)
{
  GList *l = cs->age.head;

  while (cs->used + need > cs->max_bytes && l != NULL)
    {
      Entry *e = l->data;

      l = l->next;
      if (!g_hash_table_contains (cs->pins, e->hash))
        drop (cs, e);
    }
  return cs->used + need <= cs->max_bytes;
}

static Entry *
add_entry (MeshChunkStore *cs, const uint8_t hash[MESH_SHA256_LEN], gsize size,
           gint64 mtime_ns)
{
  Entry *e = g_new0 (Entry, 1);

  memcpy (e->hash, hash, MESH_SHA256_LEN);
  e->size = size;
  e->mtime_ns = mtime_ns;
  e->link.data = e;
  g_hash_table_insert (cs->index, e->hash, e);
  cs->used += size;
  return e;
}

static gint
by_age (gconstpointer a, gconstpointer b)
{
  const Entry *x = *(Entry *const *) a, *y = *(Entry *const *) b;

  if (x->mtime_ns != y->mtime_ns)
    return x->mtime_ns < y->mtime_ns ? -1 : 1;
  return memcmp (x->hash, y->hash, MESH_SHA256_LEN);
}

static gboolean
scan (MeshChunkStore *cs, GError **error)
{
  g_autoptr (GError) local = NULL;
  g_autoptr (GPtrArray) found = g_ptr_array_new ();
  GDir *d = g_dir_open (cs->dir, 0, &local);
  const char *name;

  if (d == NULL)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_IO,
                   "cannot read chunk cache %s: %s", cs->dir, local->message);
      return FALSE;
    }
  while ((name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (cs->dir, name, NULL);
      uint8_t hash[MESH_SHA256_LEN];
      GStatBuf st;

      /* The remains of a write a crash interrupted. */
      if (strlen (name) > HEX_LEN && strncmp (name + HEX_LEN, ".tmp-", 5) == 0)
        {
          g_unlink (path);
          continue;
        }
      if (!from_hex (name, hash) || g_lstat (path, &st) != 0
          || !S_ISREG (st.st_mode))
        continue;
      if (st.st_size < 1 || st.st_size > MESH_WIRE_MAX_CHUNK_SIZE)
        {
          /* Never a chunk we stored. */
          g_unlink (path);
          continue;
        }
      g_ptr_array_add (found, add_entry (cs, hash, (gsize) st.st_size,
                                         (gint64) st.st_mtim.tv_sec * G_GINT64_CONSTANT (1000000000)
                                         + st.st_mtim.tv_nsec));
    }
  g_dir_close (d);
  g_ptr_array_sort (found, by_age);
  for (guint i = 0; i < found->len; i++)
    {
      Entry *e = g_ptr_array_index (found, i);
      g_queue_push_tail_link (&cs->age, &e->link);
    }
  return TRUE;
}

MeshChunkStore *
mesh_chunk_store_open (const char *dir, guint64 max_bytes, GError **error)
{
  MeshChunkStore *cs;

  g_return_val_if_fail (dir != NULL, NULL);

  if (max_bytes < MESH_WIRE_MAX_CHUNK_SIZE)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
                   "chunk cache limit of %" G_GUINT64_FORMAT " bytes is below "
                   "one chunk of the largest size (%d bytes)", max_bytes,
                   MESH_WIRE_MAX_CHUNK_SIZE);
      return NULL;
    }
  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_IO,
                   "cannot create chunk cache %s: %s", dir, g_strerror (errno));
      return NULL;
    }
  cs = g_new0 (MeshChunkStore, 1);
  cs->dir = g_strdup (dir);
  cs->max_bytes = max_bytes;
  cs->index = g_hash_table_new_full (hash_key, hash_equal, NULL, g_free);
  cs->pins = g_hash_table_new_full (hash_key, hash_equal, g_free, g_free);
  g_queue_init (&cs->age);
  if (!scan (cs, error))
    {
      mesh_chunk_store_free (cs);
      return NULL;
    }
  make_room (cs, 0);
  return cs;
}

void
mesh_chunk_store_free (MeshChunkStore *cs)
{
  if (cs == NULL)
    return;
  g_hash_table_unref (cs->index);
  g_hash_table_unref (cs->pins);
  g_free (cs->dir);
  g_free (cs);
}

gboolean
mesh_chunk_store_put (MeshChunkStore *cs, const uint8_t hash[MESH_SHA256_LEN],
                      const guint8 *data, gsize len, GError **error)
{
  g_autofree char *path = NULL;
  uint8_t got[MESH_SHA256_LEN];
  char hex[HEX_LEN + 1];
  Entry *e;

  g_return_val_if_fail (cs != NULL && hash != NULL, FALSE);
  g_return_val_if_fail (data != NULL || len == 0, FALSE);

  to_hex (hash, hex);
  if (len == 0)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID,
                   "chunk %.16s...: empty", hex);
      return FALSE;
    }
  if (len > MESH_WIRE_MAX_CHUNK_SIZE)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_TOO_LARGE,
                   "chunk %.16s...: %" G_GSIZE_FORMAT " bytes exceeds the limit "
                   "of %d", hex, len, MESH_WIRE_MAX_CHUNK_SIZE);
      return FALSE;
    }
  mesh_sha256 (data, len, got);
  if (memcmp (got, hash, MESH_SHA256_LEN) != 0)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_CHECKSUM_MISMATCH,
                   "chunk %.16s...: the %" G_GSIZE_FORMAT " bytes received do "
                   "not hash to it", hex, len);
      return FALSE;
    }
  if (g_hash_table_contains (cs->index, hash))
    return TRUE;

  if (!make_room (cs, len))
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_EXHAUSTED,
                   "chunk cache %s: no room for %" G_GSIZE_FORMAT " more bytes "
                   "(%" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " used by "
                   "chunks of pinned updates)", cs->dir, len, cs->used,
                   cs->max_bytes);
      return FALSE;
    }
  path = chunk_path (cs, hash);
  if (!mesh_update_write_file_unsynced ("cached chunk", path, data, len, 0600,
                                        error))
    return FALSE;
  e = add_entry (cs, hash, len, g_get_real_time () * 1000);
  g_queue_push_tail_link (&cs->age, &e->link);
  return TRUE;
}

gboolean
mesh_chunk_store_put_chunk (MeshChunkStore *cs, const MeshWireUpdateManifest *m,
                            guint32 index, const guint8 *data, gsize len,
                            GError **error)
{
  g_return_val_if_fail (cs != NULL && m != NULL, FALSE);

  if (!mesh_update_verify_chunk (m, index, data, len, error))
    return FALSE;
  return mesh_chunk_store_put (cs, m->chunk_hashes[index].data, data, len,
                               error);
}

void
mesh_chunk_store_pin (MeshChunkStore *cs, const MeshWireUpdateManifest *m)
{
  g_return_if_fail (cs != NULL && m != NULL);

  for (gsize i = 0; i < m->n_chunk_hashes; i++)
    {
      guint *count;

      if (m->chunk_hashes[i].len != MESH_SHA256_LEN)
        continue;
      count = g_hash_table_lookup (cs->pins, m->chunk_hashes[i].data);
      if (count == NULL)
        {
          count = g_new0 (guint, 1);
          g_hash_table_insert (cs->pins,
                               g_memdup2 (m->chunk_hashes[i].data, MESH_SHA256_LEN),
                               count);
        }
      (*count)++;
    }
}

void
mesh_chunk_store_unpin (MeshChunkStore *cs, const MeshWireUpdateManifest *m)
{
  g_return_if_fail (cs != NULL && m != NULL);

  for (gsize i = 0; i < m->n_chunk_hashes; i++)
    {
      guint *count;

      if (m->chunk_hashes[i].len != MESH_SHA256_LEN)
        continue;
      count = g_hash_table_lookup (cs->pins, m->chunk_hashes[i].data);
      if (count != NULL && --(*count) == 0)
        g_hash_table_remove (cs->pins, m->chunk_hashes[i].data);
    }
}

gboolean
mesh_chunk_store_has (const MeshChunkStore *cs,
                      const uint8_t hash[MESH_SHA256_LEN])
{
  g_return_val_if_fail (cs != NULL && hash != NULL, FALSE);
  return g_hash_table_contains (cs->index, hash);
}

GBytes *
mesh_chunk_store_get (MeshChunkStore *cs, const uint8_t hash[MESH_SHA256_LEN],
                      GError **error)
{
  g_autofree char *path = NULL;
  GBytes *bytes;
  uint8_t got[MESH_SHA256_LEN];
  char hex[HEX_LEN + 1];
  Entry *e;
  gsize len;
  const guint8 *p;

  g_return_val_if_fail (cs != NULL && hash != NULL, NULL);

  to_hex (hash, hex);
  e = g_hash_table_lookup (cs->index, hash);
  if (e == NULL)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_NOT_FOUND,
                   "chunk %s is not in the cache", hex);
      return NULL;
    }
  path = chunk_path (cs, hash);
  bytes = mesh_update_read_file ("cached chunk", path, MESH_WIRE_MAX_CHUNK_SIZE,
                                 error);
  if (bytes == NULL)
    {
      /* Gone or unreadable: forget it, so it is fetched again. */
      drop (cs, e);
      return NULL;
    }
  p = g_bytes_get_data (bytes, &len);
  mesh_sha256 (p, len, got);
  if (len == 0 || memcmp (got, hash, MESH_SHA256_LEN) != 0)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_CHECKSUM_MISMATCH,
                   "cached chunk %s is corrupt (its contents no longer hash to "
                   "its name); removed", path);
      g_bytes_unref (bytes);
      drop (cs, e);
      return NULL;
    }
  return bytes;
}

GArray *
mesh_chunk_store_missing (MeshChunkStore *cs, const MeshWireUpdateManifest *m)
{
  GArray *out;

  g_return_val_if_fail (cs != NULL && m != NULL, NULL);

  out = g_array_new (FALSE, FALSE, sizeof (guint32));
  for (guint32 i = 0; i < m->n_chunk_hashes; i++)
    {
      GBytes *b = NULL;

      if (g_hash_table_contains (cs->index, m->chunk_hashes[i].data))
        b = mesh_chunk_store_get (cs, m->chunk_hashes[i].data, NULL);
      if (b == NULL || g_bytes_get_size (b) != mesh_update_chunk_len (m, i))
        g_array_append_val (out, i);
      g_clear_pointer (&b, g_bytes_unref);
    }
  return out;
}

gboolean
mesh_chunk_store_assemble (MeshChunkStore *cs, const MeshWireUpdateManifest *m,
                           const char *path, GError **error)
{
  char *tmp = NULL;
  int fd;

  g_return_val_if_fail (cs != NULL && m != NULL && path != NULL, FALSE);

  fd = mesh_update_temp_open ("update data", path, 0644, &tmp, error);
  if (fd < 0)
    return FALSE;
  for (guint32 i = 0; i < m->n_chunk_hashes; i++)
    {
      g_autoptr (GBytes) b = mesh_chunk_store_get (cs, m->chunk_hashes[i].data,
                                                   error);
      gsize len;
      const guint8 *p;

      if (b == NULL)
        {
          g_prefix_error (error, "chunk %" G_GUINT32_FORMAT " of %s: ", i,
                          m->name);
          mesh_update_temp_abort (fd, tmp);
          return FALSE;
        }
      p = g_bytes_get_data (b, &len);
      if (!mesh_update_verify_chunk (m, i, p, len, error))
        {
          mesh_update_temp_abort (fd, tmp);
          return FALSE;
        }
      if (!mesh_update_write_all (fd, p, len))
        {
          g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_IO,
                       "cannot write %s: %s", tmp, g_strerror (errno));
          mesh_update_temp_abort (fd, tmp);
          return FALSE;
        }
    }
  if (!mesh_update_temp_commit ("update data", fd, tmp, path, error))
    return FALSE;
  /* Chunks matched; the whole checksum is the last word. */
  if (!mesh_update_verify_file (m, path, error))
    {
      g_unlink (path);
      return FALSE;
    }
  return TRUE;
}

GPtrArray *
mesh_chunk_store_serve (MeshChunkStore *cs, const MeshWireUpdateManifest *m,
                        const uint8_t manifest_id[MESH_SHA256_LEN],
                        const MeshWireUpdateRequest *request, gsize max_bytes)
{
  GPtrArray *out;
  g_autoptr (GHashTable) seen = NULL;
  gsize sent = 0;

  g_return_val_if_fail (cs != NULL && m != NULL, NULL);
  g_return_val_if_fail (manifest_id != NULL && request != NULL, NULL);

  out = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  if (request->package_id.len != MESH_SHA256_LEN
      || memcmp (request->package_id.data, manifest_id, MESH_SHA256_LEN) != 0)
    return out;
  seen = g_hash_table_new (NULL, NULL);
  for (gsize i = 0; i < request->n_chunk_indices; i++)
    {
      guint32 idx = request->chunk_indices[i];
      MeshWireUpdateChunk c = MESHARA__V1__UPDATE_CHUNK__INIT;
      g_autoptr (GBytes) data = NULL;

      if (idx >= m->n_chunk_hashes
          || !g_hash_table_add (seen, GUINT_TO_POINTER (idx + 1)))
        continue;
      if (!g_hash_table_contains (cs->index, m->chunk_hashes[idx].data))
        continue;
      data = mesh_chunk_store_get (cs, m->chunk_hashes[idx].data, NULL);
      if (data == NULL)
        continue;
      if (max_bytes && sent + g_bytes_get_size (data) > max_bytes)
        break;
      sent += g_bytes_get_size (data);
      c.package_id.data = (guint8 *) manifest_id;
      c.package_id.len = MESH_SHA256_LEN;
      c.index = idx;
      c.data.data = (guint8 *) g_bytes_get_data (data, &c.data.len);
      c.hash = m->chunk_hashes[idx];
      g_ptr_array_add (out, mesh_wire_encode (&c.base));
    }
  return out;
}

gboolean
mesh_chunk_store_receive (MeshChunkStore *cs, const MeshWireUpdateManifest *m,
                          const uint8_t manifest_id[MESH_SHA256_LEN],
                          const MeshWireUpdateChunk *chunk, GError **error)
{
  g_return_val_if_fail (cs != NULL && m != NULL, FALSE);
  g_return_val_if_fail (manifest_id != NULL && chunk != NULL, FALSE);

  if (chunk->package_id.len != MESH_SHA256_LEN
      || memcmp (chunk->package_id.data, manifest_id, MESH_SHA256_LEN) != 0)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID,
                   "chunk %" G_GUINT32_FORMAT " belongs to another update than "
                   "%s version %" G_GUINT64_FORMAT, chunk->index, m->name,
                   m->version);
      return FALSE;
    }
  return mesh_chunk_store_put_chunk (cs, m, chunk->index, chunk->data.data,
                                     chunk->data.len, error);
}

guint
mesh_chunk_store_progress (const MeshChunkStore *cs,
                           const MeshWireUpdateManifest *m, guint64 *bytes_held)
{
  guint n = 0;
  guint64 bytes = 0;

  g_return_val_if_fail (cs != NULL && m != NULL, 0);

  for (guint32 i = 0; i < m->n_chunk_hashes; i++)
    if (m->chunk_hashes[i].len == MESH_SHA256_LEN
        && g_hash_table_contains (cs->index, m->chunk_hashes[i].data))
      {
        n++;
        bytes += mesh_update_chunk_len (m, i);
      }
  if (bytes_held)
    *bytes_held = bytes;
  return n;
}

guint64
mesh_chunk_store_used (const MeshChunkStore *cs)
{
  g_return_val_if_fail (cs != NULL, 0);
  return cs->used;
}

guint
mesh_chunk_store_count (const MeshChunkStore *cs)
{
  g_return_val_if_fail (cs != NULL, 0);
  return g_hash_table_size (cs->index);
}
