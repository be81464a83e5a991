#include "config.h"

#include "update/trust.h"
#include "update/fileutil.h"
#include "wire/codec.h"

#include <string.h>
#include <sys/stat.h>
#include <glib/gstdio.h>
#include <meshara/meshara.h>

struct MeshTrustStore {
  GPtrArray *authorities;     /* MeshAuthority*, in the order added */
  guint threshold;
};

G_STATIC_ASSERT ((int) MESH_TRUST_UPDATE == (int) MESH_WIRE_TRUST_UPDATE);
G_STATIC_ASSERT ((int) MESH_TRUST_SIGNING == (int) MESH_WIRE_TRUST_SIGNING);
G_STATIC_ASSERT ((int) MESH_TRUST_BOOTSTRAP == (int) MESH_WIRE_TRUST_BOOTSTRAP);
G_STATIC_ASSERT ((int) MESH_TRUST_FULL == (int) MESH_WIRE_TRUST_FULL);

static void
authority_free (gpointer p)
{
  MeshAuthority *a = p;

  g_free (a->name);
  g_free (a->description);
  g_free (a->url);
  g_free (a);
}

MeshTrustStore *
mesh_trust_store_new (void)
{
  MeshTrustStore *ts = g_new0 (MeshTrustStore, 1);

  ts->authorities = g_ptr_array_new_with_free_func (authority_free);
  ts->threshold = MESH_TRUST_DEFAULT_THRESHOLD;
  return ts;
}

void
mesh_trust_store_free (MeshTrustStore *ts)
{
  if (ts == NULL)
    return;
  g_ptr_array_unref (ts->authorities);
  g_free (ts);
}

static const char *const level_names[] = {
  [MESH_TRUST_UPDATE] = "update",
  [MESH_TRUST_SIGNING] = "signing",
  [MESH_TRUST_BOOTSTRAP] = "bootstrap",
  [MESH_TRUST_FULL] = "full",
};

const char *
mesh_trust_level_to_string (MeshTrustLevel level)
{
  if (level >= MESH_TRUST_UPDATE && level <= MESH_TRUST_FULL)
    return level_names[level];
  return "invalid";
}

MeshTrustLevel
mesh_trust_level_from_string (const char *s)
{
  g_return_val_if_fail (s != NULL, 0);
  for (int l = MESH_TRUST_UPDATE; l <= MESH_TRUST_FULL; l++)
    if (strcmp (s, level_names[l]) == 0)
      return (MeshTrustLevel) l;
  return 0;
}

gboolean
mesh_trust_level_signs_updates (MeshTrustLevel level)
{
  return level == MESH_TRUST_UPDATE || level == MESH_TRUST_FULL;
}

static gboolean
check_text (const char *field, const char *s, gsize min, gsize max,
            gboolean ascii, GError **error)
{
  gsize n = strlen (s);

  if (n > max)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_TOO_LARGE,
                   "authority %s: %" G_GSIZE_FORMAT " bytes exceeds the limit "
                   "of %" G_GSIZE_FORMAT, field, n, max);
      return FALSE;
    }
  if (n < min)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID,
                   "authority %s: missing, expected %" G_GSIZE_FORMAT " to %"
                   G_GSIZE_FORMAT " bytes", field, min, max);
      return FALSE;
    }
  if (ascii)
    {
      for (gsize i = 0; i < n; i++)
        if ((guchar) s[i] < 0x20 || (guchar) s[i] > 0x7e)
          {
            g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID,
                         "authority %s: byte 0x%02x at offset %" G_GSIZE_FORMAT
                         " is not printable ASCII", field, (guchar) s[i], i);
            return FALSE;
          }
    }
  else if (!g_utf8_validate (s, (gssize) n, NULL))
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID,
                   "authority %s: not valid UTF-8", field);
      return FALSE;
    }
  return TRUE;
}

static gssize
find_index (const MeshTrustStore *ts, const uint8_t key[MESH_ED25519_KEY_LEN])
{
  for (guint i = 0; i < ts->authorities->len; i++)
    {
      const MeshAuthority *a = g_ptr_array_index (ts->authorities, i);
      if (memcmp (a->public_key, key, MESH_ED25519_KEY_LEN) == 0)
        return (gssize) i;
    }
  return -1;
}

gboolean
mesh_trust_store_add (MeshTrustStore *ts,
                      const uint8_t public_key[MESH_ED25519_KEY_LEN],
                      const char *name, const char *description,
                      const char *url, MeshTrustLevel level,
                      guint64 added_ms, GError **error)
{
  MeshAuthority *a;
  gssize idx;

  g_return_val_if_fail (ts != NULL, FALSE);
  g_return_val_if_fail (public_key != NULL, FALSE);
  g_return_val_if_fail (name != NULL, FALSE);

  if (description == NULL)
    description = "";
  if (url == NULL)
    url = "";
  if (level < MESH_TRUST_UPDATE || level > MESH_TRUST_FULL)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
                   "authority trust level %d is not update, signing, "
                   "bootstrap or full", (int) level);
      return FALSE;
    }
  if (!check_text ("name", name, 1, MESH_WIRE_MAX_AUTHORITY_NAME, FALSE, error)
      || !check_text ("description", description, 0,
                      MESH_WIRE_MAX_AUTHORITY_DESCRIPTION, FALSE, error)
      || !check_text ("url", url, 0, MESH_WIRE_MAX_AUTHORITY_URL, TRUE, error))
    return FALSE;

  idx = find_index (ts, public_key);
  if (idx < 0 && ts->authorities->len >= MESH_WIRE_MAX_TRUSTED_AUTHORITIES)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_EXHAUSTED,
                   "trust store holds %u authorities, the limit",
                   ts->authorities->len);
      return FALSE;
    }
  if (idx >= 0)
    {
      a = g_ptr_array_index (ts->authorities, idx);
      g_free (a->name);
      g_free (a->description);
      g_free (a->url);
    }
  else
    {
      a = g_new0 (MeshAuthority, 1);
      memcpy (a->public_key, public_key, MESH_ED25519_KEY_LEN);
      g_ptr_array_add (ts->authorities, a);
    }
  a->name = g_strdup (name);
  a->description = g_strdup (description);
  a->url = g_strdup (url);
  a->level = level;
  a->added_ms = added_ms;
  return TRUE;
}

gboolean
mesh_trust_store_remove (MeshTrustStore *ts,
                         const uint8_t public_key[MESH_ED25519_KEY_LEN])
{
  gssize idx;

  g_return_val_if_fail (ts != NULL && public_key != NULL, FALSE);
  idx = find_index (ts, public_key);
  if (idx < 0)
    return FALSE;
  g_ptr_array_remove_index (ts->authorities, (guint) idx);
  return TRUE;
}

const MeshAuthority *
mesh_trust_store_lookup (const MeshTrustStore *ts,
                         const uint8_t public_key[MESH_ED25519_KEY_LEN])
{
  gssize idx;

  g_return_val_if_fail (ts != NULL && public_key != NULL, NULL);
  idx = find_index (ts, public_key);
  return idx < 0 ? NULL : g_ptr_array_index (ts->authorities, idx);
}

guint
mesh_trust_store_count (const MeshTrustStore *ts)
{
  g_return_val_if_fail (ts != NULL, 0);
  return ts->authorities->len;
}

const MeshAuthority *
mesh_trust_store_get (const MeshTrustStore *ts, guint i)
{
  g_return_val_if_fail (ts != NULL, NULL);
  g_return_val_if_fail (i < ts->authorities->len, NULL);
  return g_ptr_array_index (ts->authorities, i);
}

gboolean
mesh_trust_store_set_threshold (MeshTrustStore *ts, guint k, GError **error)
{
  g_return_val_if_fail (ts != NULL, FALSE);
  if (k < 1 || k > MESH_WIRE_MAX_AUTHORITY_SIGS)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
                   "trust threshold %u, expected 1 to %d (an update carries "
                   "at most %d signatures)", k, MESH_WIRE_MAX_AUTHORITY_SIGS,
                   MESH_WIRE_MAX_AUTHORITY_SIGS);
      return FALSE;
    }
  ts->threshold = k;
  return TRUE;
}

guint
mesh_trust_store_get_threshold (const MeshTrustStore *ts)
{
  g_return_val_if_fail (ts != NULL, 0);
  return ts->threshold;
}

GBytes *
mesh_trust_store_encode (const MeshTrustStore *ts)
{
  MeshWireTrustStore m = MESHARA__V1__TRUST_STORE__INIT;
  guint n;
  MeshWireTrustedAuthority *entries, **ptrs;
  MeshWireAuthorityInfo *infos;
  GBytes *out;

  g_return_val_if_fail (ts != NULL, NULL);

  n = ts->authorities->len;
  entries = g_new0 (MeshWireTrustedAuthority, n ? n : 1);
  infos = g_new0 (MeshWireAuthorityInfo, n ? n : 1);
  ptrs = g_new0 (MeshWireTrustedAuthority *, n ? n : 1);
  for (guint i = 0; i < n; i++)
    {
      MeshAuthority *a = g_ptr_array_index (ts->authorities, i);

      meshara__v1__authority_info__init (&infos[i]);
      infos[i].public_key.data = a->public_key;
      infos[i].public_key.len = MESH_ED25519_KEY_LEN;
      infos[i].name = a->name;
      infos[i].description = a->description;
      infos[i].url = a->url;
      meshara__v1__trusted_authority__init (&entries[i]);
      entries[i].info = &infos[i];
      entries[i].level = (Meshara__V1__TrustLevel) a->level;
      entries[i].added_ms = a->added_ms;
      ptrs[i] = &entries[i];
    }
  m.format_version = MESH_WIRE_TRUST_STORE_VERSION;
  m.threshold = ts->threshold;
  m.n_authorities = n;
  m.authorities = ptrs;
  out = mesh_wire_encode (&m.base);
  g_free (ptrs);
  g_free (infos);
  g_free (entries);
  return out;
}

MeshTrustStore *
mesh_trust_store_decode (const guint8 *data, gsize len, GError **error)
{
  g_autoptr (MeshWireTrustStore) m = NULL;
  MeshTrustStore *ts;

  g_return_val_if_fail (data != NULL || len == 0, NULL);

  m = mesh_wire_decode_trust_store (data, len, error);
  if (m == NULL)
    return NULL;
  ts = mesh_trust_store_new ();
  ts->threshold = m->threshold;
  for (gsize i = 0; i < m->n_authorities; i++)
    {
      const MeshWireTrustedAuthority *e = m->authorities[i];
      MeshAuthority *a = g_new0 (MeshAuthority, 1);

      /* The codec checked lengths, strings, levels and distinct keys. */
      memcpy (a->public_key, e->info->public_key.data, MESH_ED25519_KEY_LEN);
      a->name = g_strdup (e->info->name);
      a->description = g_strdup (e->info->description ? e->info->description : "");
      a->url = g_strdup (e->info->url ? e->info->url : "");
      a->level = (MeshTrustLevel) e->level;
      a->added_ms = e->added_ms;
      g_ptr_array_add (ts->authorities, a);
    }
  return ts;
}

gboolean
mesh_trust_store_save (const MeshTrustStore *ts, const char *path,
                       GError **error)
{
  g_autoptr (GBytes) bytes = NULL;
  gsize len;
  const void *data;

  g_return_val_if_fail (ts != NULL && path != NULL, FALSE);

  bytes = mesh_trust_store_encode (ts);
  data = g_bytes_get_data (bytes, &len);
  return mesh_update_write_file ("trust store", path, data, len, 0644, error);
}

MeshTrustStore *
mesh_trust_store_load (const char *path, GError **error)
{
  g_autoptr (GBytes) bytes = NULL;
  g_autoptr (GError) local = NULL;
  MeshTrustStore *ts;
  const guint8 *data;
  GStatBuf st;
  gsize len;

  g_return_val_if_fail (path != NULL, NULL);

  /* Whoever can write the file chooses what gets installed. */
  if (g_stat (path, &st) == 0 && (st.st_mode & 022) != 0)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_PERMISSION,
                   "trust store %s is writable by group or others (mode %04o); "
                   "refusing it, since it decides which updates are accepted",
                   path, (unsigned) (st.st_mode & 07777));
      return NULL;
    }
  bytes = mesh_update_read_file ("trust store", path, MESH_TRUST_MAX_FILE_SIZE,
                                 error);
  if (bytes == NULL)
    return NULL;
  data = g_bytes_get_data (bytes, &len);
  if (len == 0)
    {
      /* An encoded TrustStore always has its version and threshold. */
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_TRUNCATED,
                   "trust store %s is empty", path);
      return NULL;
    }
  ts = mesh_trust_store_decode (data, len, &local);
  if (ts == NULL)
    {
      g_set_error (error, MESHARA_ERROR, local->code, "trust store %s: %s",
                   path, local->message);
      return NULL;
    }
  return ts;
}
