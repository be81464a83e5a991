#include "config.h"

#include "update/package.h"
#include "crypto/hash.h"
#include "crypto/sign.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <nettle/sha2.h>
#include <meshara/meshara.h>

#define LABEL_LEN (sizeof MESH_UPDATE_MANIFEST_LABEL - 1)

static void
sha_be32 (struct sha256_ctx *ctx, guint32 v)
{
  guint8 b[4] = { (guint8) (v >> 24), (guint8) (v >> 16), (guint8) (v >> 8),
                  (guint8) v };
  sha256_update (ctx, sizeof b, b);
}

static void
sha_be64 (struct sha256_ctx *ctx, guint64 v)
{
  sha_be32 (ctx, (guint32) (v >> 32));
  sha_be32 (ctx, (guint32) v);
}

static void
sha_string (struct sha256_ctx *ctx, const char *s)
{
  gsize n = s ? strlen (s) : 0;

  sha_be32 (ctx, (guint32) n);
  if (n)
    sha256_update (ctx, n, (const guint8 *) s);
}

void
mesh_update_manifest_digest (const MeshWireUpdateManifest *m,
                             uint8_t out[MESH_SHA256_LEN])
{
  struct sha256_ctx ctx;

  g_return_if_fail (m != NULL);

  sha256_init (&ctx);
  sha256_update (&ctx, LABEL_LEN, (const guint8 *) MESH_UPDATE_MANIFEST_LABEL);
  sha_string (&ctx, m->name);
  sha_be64 (&ctx, m->version);
  sha_string (&ctx, m->version_label);
  sha_be64 (&ctx, m->size);
  sha_string (&ctx, m->changelog);
  /* Lengths are fixed for a valid manifest; hash what is there with its
     length so an invalid one still has a well-defined ID. */
  sha_be32 (&ctx, (guint32) m->checksum.len);
  if (m->checksum.len)
    sha256_update (&ctx, m->checksum.len, m->checksum.data);
  sha_be64 (&ctx, m->min_version);
  sha_be32 (&ctx, m->chunk_size);
  sha_be32 (&ctx, (guint32) m->n_chunk_hashes);
  for (gsize i = 0; i < m->n_chunk_hashes; i++)
    {
      sha_be32 (&ctx, (guint32) m->chunk_hashes[i].len);
      sha256_update (&ctx, m->chunk_hashes[i].len, m->chunk_hashes[i].data);
    }
  sha256_digest (&ctx, MESH_SHA256_LEN, out);
}

gsize
mesh_update_chunk_len (const MeshWireUpdateManifest *m, guint32 index)
{
  guint64 start;

  g_return_val_if_fail (m != NULL && m->chunk_size > 0, 0);
  start = (guint64) index * m->chunk_size;
  if (start >= m->size)
    return 0;
  return (gsize) MIN ((guint64) m->chunk_size, m->size - start);
}

/* ---------------------------------------------------------------------- */
/* Building */

typedef struct {
  struct sha256_ctx total;
  GByteArray *hashes;      /* 32 bytes per chunk */
  guint64 size;
} Builder;

static void
builder_chunk (Builder *b, const guint8 *p, gsize n)
{
  guint8 h[MESH_SHA256_LEN];

  sha256_update (&b->total, n, p);
  mesh_sha256 (p, n, h);
  g_byte_array_append (b->hashes, h, sizeof h);
  b->size += n;
}

static gboolean
check_info (const MeshUpdateInfo *info, guint32 *chunk_size, GError **error)
{
  *chunk_size = info->chunk_size ? info->chunk_size : MESH_WIRE_DEFAULT_CHUNK_SIZE;
  if (*chunk_size < MESH_WIRE_MIN_CHUNK_SIZE
      || *chunk_size > MESH_WIRE_MAX_CHUNK_SIZE)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
                   "chunk size %" G_GUINT32_FORMAT ", expected %d to %d",
                   *chunk_size, MESH_WIRE_MIN_CHUNK_SIZE,
                   MESH_WIRE_MAX_CHUNK_SIZE);
      return FALSE;
    }
  return TRUE;
}

static GBytes *
builder_finish (Builder *b, const MeshUpdateInfo *info, guint32 chunk_size,
                GError **error)
{
  MeshWireUpdateManifest m = MESHARA__V1__UPDATE_MANIFEST__INIT;
  guint8 checksum[MESH_SHA256_LEN];
  gsize n = b->hashes->len / MESH_SHA256_LEN;
  ProtobufCBinaryData *hashes = g_new0 (ProtobufCBinaryData, n ? n : 1);
  GBytes *out = NULL;

  sha256_digest (&b->total, MESH_SHA256_LEN, checksum);
  for (gsize i = 0; i < n; i++)
    {
      hashes[i].data = b->hashes->data + i * MESH_SHA256_LEN;
      hashes[i].len = MESH_SHA256_LEN;
    }
  m.name = (char *) info->name;
  m.version = info->version;
  m.version_label = (char *) (info->version_label ? info->version_label : "");
  m.size = b->size;
  m.changelog = (char *) (info->changelog ? info->changelog : "");
  m.checksum.data = checksum;
  m.checksum.len = sizeof checksum;
  m.min_version = info->min_version;
  m.chunk_size = chunk_size;
  m.n_chunk_hashes = n;
  m.chunk_hashes = hashes;
  /* The same rules a receiver applies: name, sizes, min_version. */
  if (mesh_wire_validate (&m.base, error))
    out = mesh_wire_encode (&m.base);
  g_free (hashes);
  g_byte_array_unref (b->hashes);
  return out;
}

GBytes *
mesh_update_manifest_build (const MeshUpdateInfo *info, const guint8 *data,
                            gsize len, GError **error)
{
  Builder b;
  guint32 chunk_size;

  g_return_val_if_fail (info != NULL && info->name != NULL, NULL);
  g_return_val_if_fail (data != NULL || len == 0, NULL);

  if (!check_info (info, &chunk_size, error))
    return NULL;
  if (len > MESH_WIRE_MAX_UPDATE_SIZE)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_TOO_LARGE,
                   "update data of %" G_GSIZE_FORMAT " bytes exceeds the "
                   "limit of %u", len, MESH_WIRE_MAX_UPDATE_SIZE);
      return NULL;
    }
  sha256_init (&b.total);
  b.hashes = g_byte_array_new ();
  b.size = 0;
  for (gsize off = 0; off < len; off += chunk_size)
    builder_chunk (&b, data + off, MIN ((gsize) chunk_size, len - off));
  return builder_finish (&b, info, chunk_size, error);
}

/* Read up to n bytes; fewer only at the end of the file. */
static gssize
read_full (int fd, guint8 *buf, gsize n)
{
  gsize got = 0;

  while (got < n)
    {
      ssize_t r = read (fd, buf + got, n - got);
      if (r < 0 && errno == EINTR)
        continue;
      if (r < 0)
        return -1;
      if (r == 0)
        break;
      got += (gsize) r;
    }
  return (gssize) got;
}

static int
open_data (const char *path, GError **error)
{
  int fd = g_open (path, O_RDONLY | O_CLOEXEC, 0);

  if (fd < 0)
    {
      int e = errno;
      g_set_error (error, MESHARA_ERROR,
                   e == ENOENT ? MESHARA_ERROR_NOT_FOUND : MESHARA_ERROR_IO,
                   "cannot read update data %s: %s", path, g_strerror (e));
    }
  return fd;
}

GBytes *
mesh_update_manifest_build_file (const MeshUpdateInfo *info, const char *path,
                                 GError **error)
{
  g_autofree guint8 *buf = NULL;
  guint32 chunk_size;
  Builder b;
  int fd;

  g_return_val_if_fail (info != NULL && info->name != NULL, NULL);
  g_return_val_if_fail (path != NULL, NULL);

  if (!check_info (info, &chunk_size, error))
    return NULL;
  fd = open_data (path, error);
  if (fd < 0)
    return NULL;
  buf = g_malloc (chunk_size);
  sha256_init (&b.total);
  b.hashes = g_byte_array_new ();
  b.size = 0;
  for (;;)
    {
      gssize n = read_full (fd, buf, chunk_size);
      if (n < 0)
        {
          g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_IO,
                       "cannot read update data %s: %s", path,
                       g_strerror (errno));
          goto fail;
        }
      if (n == 0)
        break;
      if (b.size + (guint64) n > MESH_WIRE_MAX_UPDATE_SIZE)
        {
          g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_TOO_LARGE,
                       "update data %s exceeds the limit of %u bytes", path,
                       MESH_WIRE_MAX_UPDATE_SIZE);
          goto fail;
        }
      builder_chunk (&b, buf, (gsize) n);
      if ((gsize) n < chunk_size)
        break;
    }
  close (fd);
  return builder_finish (&b, info, chunk_size, error);

fail:
  close (fd);
  g_byte_array_unref (b.hashes);
  return NULL;
}

/* ---------------------------------------------------------------------- */
/* Signing */

MeshWireUpdateManifest *
mesh_update_manifest_parse (const guint8 *data, gsize len, GError **error)
{
  g_return_val_if_fail (data != NULL || len == 0, NULL);
  return mesh_wire_decode_update_manifest (data, len, error);
}

static gssize
find_signer (MeshWireAuthoritySignature **sigs, gsize n, const guint8 *key)
{
  for (gsize i = 0; i < n; i++)
    if (sigs[i]->public_key.len == MESH_ED25519_KEY_LEN
        && memcmp (sigs[i]->public_key.data, key, MESH_ED25519_KEY_LEN) == 0)
      return (gssize) i;
  return -1;
}

/* Encode m with the signatures sigs instead of its own. */
static GBytes *
encode_with (const MeshWireUpdateManifest *m, MeshWireAuthoritySignature **sigs,
             gsize n)
{
  MeshWireUpdateManifest copy = *m;

  copy.signatures = sigs;
  copy.n_signatures = n;
  return mesh_wire_encode (&copy.base);
}

static gboolean
check_room (gsize n, GError **error)
{
  if (n >= MESH_WIRE_MAX_AUTHORITY_SIGS)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_TOO_LARGE,
                   "manifest carries %" G_GSIZE_FORMAT " signatures, the "
                   "limit", n);
      return FALSE;
    }
  return TRUE;
}

GBytes *
mesh_update_manifest_sign (const guint8 *data, gsize len,
                           const MeshIdentity *authority, GError **error)
{
  g_autoptr (MeshWireUpdateManifest) m = NULL;
  MeshWireAuthoritySignature sig = MESHARA__V1__AUTHORITY_SIGNATURE__INIT;
  MeshWireAuthoritySignature **sigs;
  guint8 digest[MESH_SHA256_LEN], raw[MESH_ED25519_SIG_LEN];
  GBytes *out;

  g_return_val_if_fail (authority != NULL, NULL);

  m = mesh_update_manifest_parse (data, len, error);
  if (m == NULL)
    return NULL;
  if (find_signer (m->signatures, m->n_signatures, authority->pub.ed_pub) >= 0)
    {
      g_autofree char *fp = mesh_fingerprint (authority->pub.node_id);
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID,
                   "manifest of %s version %" G_GUINT64_FORMAT " is already "
                   "signed by authority %s", m->name, m->version, fp);
      return NULL;
    }
  if (!check_room (m->n_signatures, error))
    return NULL;

  mesh_update_manifest_digest (m, digest);
  mesh_identity_sign (authority, digest, sizeof digest, raw);
  sig.public_key.data = (guint8 *) authority->pub.ed_pub;
  sig.public_key.len = MESH_ED25519_KEY_LEN;
  sig.signature.data = raw;
  sig.signature.len = sizeof raw;

  sigs = g_new (MeshWireAuthoritySignature *, m->n_signatures + 1);
  if (m->n_signatures)
    memcpy (sigs, m->signatures, m->n_signatures * sizeof *sigs);
  sigs[m->n_signatures] = &sig;
  out = encode_with (m, sigs, m->n_signatures + 1);
  g_free (sigs);
  return out;
}

GBytes *
mesh_update_manifest_export_unsigned (const guint8 *data, gsize len,
                                      GError **error)
{
  g_autoptr (MeshWireUpdateManifest) m = NULL;

  m = mesh_update_manifest_parse (data, len, error);
  if (m == NULL)
    return NULL;
  return encode_with (m, NULL, 0);
}

GBytes *
mesh_update_manifest_merge (const guint8 *a, gsize a_len, const guint8 *b,
                            gsize b_len, GError **error)
{
  g_autoptr (MeshWireUpdateManifest) ma = NULL;
  g_autoptr (MeshWireUpdateManifest) mb = NULL;
  guint8 da[MESH_SHA256_LEN], db[MESH_SHA256_LEN];
  MeshWireAuthoritySignature **sigs;
  gsize n;
  GBytes *out;

  ma = mesh_update_manifest_parse (a, a_len, error);
  if (ma == NULL)
    return NULL;
  mb = mesh_update_manifest_parse (b, b_len, error);
  if (mb == NULL)
    return NULL;
  mesh_update_manifest_digest (ma, da);
  mesh_update_manifest_digest (mb, db);
  if (memcmp (da, db, sizeof da) != 0)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID,
                   "cannot merge signatures: the manifests describe different "
                   "updates (%s version %" G_GUINT64_FORMAT " and %s version %"
                   G_GUINT64_FORMAT ", or different data)", ma->name,
                   ma->version, mb->name, mb->version);
      return NULL;
    }
  sigs = g_new (MeshWireAuthoritySignature *,
                ma->n_signatures + mb->n_signatures + 1);
  n = ma->n_signatures;
  if (n)
    memcpy (sigs, ma->signatures, n * sizeof *sigs);
  for (gsize i = 0; i < mb->n_signatures; i++)
    {
      if (find_signer (sigs, n, mb->signatures[i]->public_key.data) >= 0)
        continue;
      if (!check_room (n, error))
        {
          g_free (sigs);
          return NULL;
        }
      sigs[n++] = mb->signatures[i];
    }
  out = encode_with (ma, sigs, n);
  g_free (sigs);
  return out;
}

/* ---------------------------------------------------------------------- */
/* Verification */

gboolean
mesh_update_check_signatures (MeshWireAuthoritySignature *const *sigs, gsize n,
                              const uint8_t digest[MESH_SHA256_LEN],
                              const MeshTrustStore *ts, const char *what,
                              guint *n_trusted, GError **error)
{
  guint valid = 0, untrusted = 0, k;

  g_return_val_if_fail (ts != NULL && digest != NULL && what != NULL, FALSE);
  g_return_val_if_fail (sigs != NULL || n == 0, FALSE);

  if (n_trusted)
    *n_trusted = 0;
  for (gsize i = 0; i < n; i++)
    {
      const MeshWireAuthoritySignature *s = sigs[i];
      const MeshAuthority *a;

      if (s->public_key.len != MESH_ED25519_KEY_LEN
          || s->signature.len != MESH_ED25519_SIG_LEN)
        {
          g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID,
                       "%s: signature %" G_GSIZE_FORMAT " has a %" G_GSIZE_FORMAT
                       "-byte key and a %" G_GSIZE_FORMAT "-byte signature, "
                       "expected %d and %d", what, i, s->public_key.len,
                       s->signature.len, MESH_ED25519_KEY_LEN,
                       MESH_ED25519_SIG_LEN);
          return FALSE;
        }
      /* One authority counts once, however often it signed. */
      if (find_signer ((MeshWireAuthoritySignature **) sigs, i,
                       s->public_key.data) >= 0)
        continue;
      a = mesh_trust_store_lookup (ts, s->public_key.data);
      if (a == NULL || !mesh_trust_level_signs_updates (a->level))
        {
          untrusted++;
          continue;
        }
      if (!mesh_ed25519_verify (s->public_key.data, digest, MESH_SHA256_LEN,
                                s->signature.data))
        {
          g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_BAD_SIGNATURE,
                       "%s: the signature of authority \"%s\" does not verify "
                       "(tampered manifest or forged signature)", what, a->name);
          return FALSE;
        }
      valid++;
    }
  if (n_trusted)
    *n_trusted = valid;
  k = mesh_trust_store_get_threshold (ts);
  if (valid < k)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_UNTRUSTED,
                   "%s: %u valid signature%s of trusted update authorities, "
                   "%u required (%u signer%s not trusted to sign updates)",
                   what, valid, valid == 1 ? "" : "s", k, untrusted,
                   untrusted == 1 ? "" : "s");
      return FALSE;
    }
  return TRUE;
}

gboolean
mesh_update_check_version (const char *name, guint64 version,
                           guint64 min_version, guint64 installed_version,
                           GError **error)
{
  if (installed_version != 0 && installed_version < min_version)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_VERSION_TOO_OLD,
                   "%s version %" G_GUINT64_FORMAT " replaces version %"
                   G_GUINT64_FORMAT " or later; installed is %" G_GUINT64_FORMAT,
                   name, version, min_version, installed_version);
      return FALSE;
    }
  if (version <= installed_version)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_DOWNGRADE,
                   "%s version %" G_GUINT64_FORMAT " is not newer than the "
                   "installed version %" G_GUINT64_FORMAT, name, version,
                   installed_version);
      return FALSE;
    }
  return TRUE;
}

gboolean
mesh_update_manifest_verify (const MeshWireUpdateManifest *m,
                             const MeshTrustStore *ts,
                             guint64 installed_version, guint *n_trusted,
                             GError **error)
{
  g_autofree char *what = NULL;
  guint8 digest[MESH_SHA256_LEN];

  g_return_val_if_fail (m != NULL && ts != NULL, FALSE);

  mesh_update_manifest_digest (m, digest);
  what = g_strdup_printf ("manifest of %s version %" G_GUINT64_FORMAT,
                          m->name, m->version);
  return mesh_update_check_signatures (m->signatures, m->n_signatures, digest,
                                       ts, what, n_trusted, error)
         && mesh_update_check_version (m->name, m->version, m->min_version,
                                       installed_version, error);
}

gboolean
mesh_update_verify_chunk (const MeshWireUpdateManifest *m, guint32 index,
                          const guint8 *data, gsize len, GError **error)
{
  guint8 h[MESH_SHA256_LEN];
  gsize want;

  g_return_val_if_fail (m != NULL && (data != NULL || len == 0), FALSE);

  if (index >= m->n_chunk_hashes)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID,
                   "chunk %" G_GUINT32_FORMAT " of %s: the update has %"
                   G_GSIZE_FORMAT " chunks", index, m->name, m->n_chunk_hashes);
      return FALSE;
    }
  want = mesh_update_chunk_len (m, index);
  if (len != want)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_CHECKSUM_MISMATCH,
                   "chunk %" G_GUINT32_FORMAT " of %s: %" G_GSIZE_FORMAT
                   " bytes, expected %" G_GSIZE_FORMAT, index, m->name, len,
                   want);
      return FALSE;
    }
  mesh_sha256 (data, len, h);
  if (m->chunk_hashes[index].len != MESH_SHA256_LEN
      || memcmp (h, m->chunk_hashes[index].data, MESH_SHA256_LEN) != 0)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_CHECKSUM_MISMATCH,
                   "chunk %" G_GUINT32_FORMAT " of %s: SHA-256 does not match "
                   "the manifest", index, m->name);
      return FALSE;
    }
  return TRUE;
}

static gboolean
check_total (const MeshWireUpdateManifest *m, struct sha256_ctx *ctx,
             const char *what, GError **error)
{
  guint8 h[MESH_SHA256_LEN];

  sha256_digest (ctx, MESH_SHA256_LEN, h);
  if (m->checksum.len != MESH_SHA256_LEN
      || memcmp (h, m->checksum.data, MESH_SHA256_LEN) != 0)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_CHECKSUM_MISMATCH,
                   "%s of %s version %" G_GUINT64_FORMAT ": SHA-256 does not "
                   "match the manifest checksum", what, m->name, m->version);
      return FALSE;
    }
  return TRUE;
}

gboolean
mesh_update_verify_data (const MeshWireUpdateManifest *m, const guint8 *data,
                         gsize len, GError **error)
{
  struct sha256_ctx ctx;

  g_return_val_if_fail (m != NULL && (data != NULL || len == 0), FALSE);

  if (len != m->size)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_CHECKSUM_MISMATCH,
                   "data of %s version %" G_GUINT64_FORMAT ": %" G_GSIZE_FORMAT
                   " bytes, the manifest states %" G_GUINT64_FORMAT, m->name,
                   m->version, len, m->size);
      return FALSE;
    }
  sha256_init (&ctx);
  for (guint32 i = 0; i < m->n_chunk_hashes; i++)
    {
      guint64 off = (guint64) i * m->chunk_size;
      gsize n = mesh_update_chunk_len (m, i);

      if (!mesh_update_verify_chunk (m, i, data + off, n, error))
        return FALSE;
      sha256_update (&ctx, n, data + off);
    }
  return check_total (m, &ctx, "data", error);
}

gboolean
mesh_update_verify_file (const MeshWireUpdateManifest *m, const char *path,
                         GError **error)
{
  g_autofree guint8 *buf = NULL;
  struct sha256_ctx ctx;
  guint8 extra;
  int fd;

  g_return_val_if_fail (m != NULL && path != NULL, FALSE);

  fd = open_data (path, error);
  if (fd < 0)
    return FALSE;
  buf = g_malloc (m->chunk_size ? m->chunk_size : 1);
  sha256_init (&ctx);
  for (guint32 i = 0; i < m->n_chunk_hashes; i++)
    {
      gsize want = mesh_update_chunk_len (m, i);
      gssize n = read_full (fd, buf, want);

      if (n < 0)
        {
          g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_IO,
                       "cannot read update data %s: %s", path,
                       g_strerror (errno));
          close (fd);
          return FALSE;
        }
      if (!mesh_update_verify_chunk (m, i, buf, (gsize) n, error))
        {
          g_prefix_error (error, "%s: ", path);
          close (fd);
          return FALSE;
        }
      sha256_update (&ctx, (gsize) n, buf);
    }
  if (read_full (fd, &extra, 1) != 0)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_CHECKSUM_MISMATCH,
                   "%s: longer than the %" G_GUINT64_FORMAT " bytes the "
                   "manifest of %s states", path, m->size, m->name);
      close (fd);
      return FALSE;
    }
  close (fd);
  return check_total (m, &ctx, path, error);
}
