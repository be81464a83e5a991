/* Signed update manifests (UpdateManifest, lib/update/package.c) and the
 * older whole-package message (UpdatePackage): decoding, the k-of-n
 * signature rule, co-signing and merging, the notice built from a
 * manifest, and the data checks.
 *
 * Input:
 *   byte 0      bits 0-3: re-sign mask (fuzz-update.h: the signatures of
 *               those authorities are made valid over the manifest ID);
 *               bit 4: the message is an UpdatePackage instead;
 *               bits 5-7: chunk index for mesh_update_verify_chunk()
 *   byte 1      k, the trust store's threshold: 1 + byte % 3
 *   bytes 2-9   installed version, big-endian
 *   bytes 10-11 length L of the message, big-endian
 *   L bytes     the encoded message
 *   the rest    data checked against the manifest
 *
 * Checked besides memory safety:
 * - a failure is a MESHARA_ERROR with a message; the update parser and
 *   the codec's typed decoder agree;
 * - encode(decode(x)) decodes again and encodes to the same bytes, with
 *   the same manifest ID;
 * - mesh_update_manifest_verify() gives the result and code of the model
 *   of the k-of-n and version rules (fuzz-update.h), and its count of
 *   trusted signers;
 * - the unsigned export has no signature and the same ID; signing adds
 *   exactly one valid signature (or fails as documented: INVALID when the
 *   authority signed already, TOO_LARGE when full); merging keeps the ID
 *   and one signature per authority;
 * - the notice of a signed manifest parses, matches it and verifies as
 *   the manifest's signatures and version (without min_version) do;
 * - mesh_update_verify_data() and _verify_chunk() accept exactly the data
 *   whose size, chunk hashes and checksum the model finds right. */
#include "config.h"

#include "fuzz.h"
#include "fuzz-input.h"
#include "fuzz-update.h"
#include "crypto/hash.h"
#include "update/notice.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
fail (const char *why, const GError *error)
{
  fprintf (stderr, "update package: %s%s%s\n", why, error ? ": " : "",
           error ? error->message : "");
  abort ();
}

static gboolean
has_signer (MeshWireAuthoritySignature **sigs, size_t n, const uint8_t *key)
{
  for (size_t i = 0; i < n; i++)
    if (sigs[i]->public_key.len == MESH_ED25519_KEY_LEN
        && memcmp (sigs[i]->public_key.data, key, MESH_ED25519_KEY_LEN) == 0)
      return TRUE;
  return FALSE;
}

static size_t
distinct_signers (MeshWireAuthoritySignature **sigs, size_t n)
{
  size_t d = 0;

  for (size_t i = 0; i < n; i++)
    if (!has_signer (sigs, i, sigs[i]->public_key.data))
      d++;
  return d;
}

static void
legacy_package (const uint8_t *msg, size_t len)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (MeshWireUpdatePackage) p = NULL;
  g_autoptr (MeshWireUpdatePackage) again = NULL;
  g_autoptr (GBytes) enc = NULL, enc2 = NULL;

  p = mesh_wire_decode_update_package (msg, len, &error);
  if (p == NULL)
    {
      mesh_fuzz_check_error (error, "mesh_wire_decode_update_package");
      return;
    }
  if (p->checksum.len != MESH_SHA256_LEN || p->version == 0
      || p->n_signatures < 1 || p->n_signatures > MESH_WIRE_MAX_AUTHORITY_SIGS)
    fail ("an UpdatePackage breaking the rules decoded", NULL);
  enc = mesh_wire_encode (&p->base);
  again = mesh_wire_decode_update_package (g_bytes_get_data (enc, NULL),
                                           g_bytes_get_size (enc), &error);
  if (again == NULL)
    fail ("a re-encoded UpdatePackage does not decode", error);
  enc2 = mesh_wire_encode (&again->base);
  if (!g_bytes_equal (enc, enc2))
    fail ("UpdatePackage round trip changed the bytes", NULL);
}

/* The data rules, restated: size, each chunk's hash, the checksum. */
static gboolean
model_data (const MeshWireUpdateManifest *m, const uint8_t *data, size_t len)
{
  uint8_t h[MESH_SHA256_LEN];

  if (m->size != len)
    return FALSE;
  for (size_t i = 0; i < m->n_chunk_hashes; i++)
    {
      size_t off = i * (size_t) m->chunk_size;
      size_t n = MIN ((size_t) m->chunk_size, len - off);

      mesh_sha256 (data + off, n, h);
      if (memcmp (h, m->chunk_hashes[i].data, MESH_SHA256_LEN) != 0)
        return FALSE;
    }
  mesh_sha256 (data, len, h);
  return memcmp (h, m->checksum.data, MESH_SHA256_LEN) == 0;
}

static void
check_data (const MeshWireUpdateManifest *m, uint32_t index,
            const uint8_t *data, size_t len)
{
  g_autoptr (GError) error = NULL;
  uint8_t h[MESH_SHA256_LEN];
  gboolean ok, want;

  ok = mesh_update_verify_data (m, data, len, &error);
  want = model_data (m, data, len);
  if (ok != want)
    fail (ok ? "data the model refuses was accepted"
             : "data the model accepts was refused", error);
  if (!ok)
    mesh_fuzz_check_error (error, "mesh_update_verify_data");
  g_clear_error (&error);

  /* The same bytes as chunk index. */
  ok = mesh_update_verify_chunk (m, index, data, len, &error);
  if (index >= m->n_chunk_hashes)
    want = FALSE;
  else
    {
      mesh_sha256 (data, len, h);
      want = len == mesh_update_chunk_len (m, index)
             && memcmp (h, m->chunk_hashes[index].data, MESH_SHA256_LEN) == 0;
    }
  if (ok != want)
    fail (ok ? "a chunk the model refuses was accepted"
             : "a chunk the model accepts was refused", error);
  if (!ok)
    mesh_fuzz_check_error (error, "mesh_update_verify_chunk");
}

static void
check_notice (const MeshWireUpdateManifest *m, guint k, guint64 installed,
              const uint8_t id[MESH_SHA256_LEN])
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) enc = NULL;
  g_autoptr (MeshWireUpdateNotice) n = NULL;
  guint valid;
  int code;
  gboolean ok;

  enc = mesh_update_notice_build (m, &error);
  if (m->n_signatures == 0)
    {
      if (enc != NULL)
        fail ("a notice of an unsigned manifest was built", NULL);
      mesh_fuzz_expect_code (error, MESHARA_ERROR_INVALID,
                             "mesh_update_notice_build");
      return;
    }
  if (enc == NULL)
    fail ("no notice of a valid signed manifest", error);
  n = mesh_update_notice_parse (g_bytes_get_data (enc, NULL),
                                g_bytes_get_size (enc), &error);
  if (n == NULL)
    fail ("a built notice does not parse", error);
  if (!mesh_update_notice_matches (n, m, &error))
    fail ("a notice does not match its own manifest", error);
  if (n->manifest_id.len != MESH_SHA256_LEN
      || memcmp (n->manifest_id.data, id, MESH_SHA256_LEN) != 0)
    fail ("a notice carries another manifest ID", NULL);
  code = mesh_fuzz_model_signatures (n->signatures, n->n_signatures, id, k,
                                     &valid);
  if (code == 0)
    code = mesh_fuzz_model_version (n->version, 0, installed);
  ok = mesh_update_notice_verify (n, mesh_fuzz_trust, installed, &error);
  mesh_fuzz_expect (ok, error, code, "mesh_update_notice_verify");
}

static void
check_signing (const uint8_t *enc, size_t len, const MeshWireUpdateManifest *m,
               const uint8_t id[MESH_SHA256_LEN])
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) unsigned_enc = NULL, signed_enc = NULL, merged = NULL;
  g_autoptr (MeshWireUpdateManifest) u = NULL;
  g_autoptr (MeshWireUpdateManifest) s = NULL;
  g_autoptr (MeshWireUpdateManifest) mm = NULL;
  const MeshIdentity *a0 = &mesh_fuzz_authority[0];
  uint8_t id2[MESH_SHA256_LEN];

  unsigned_enc = mesh_update_manifest_export_unsigned (enc, len, &error);
  if (unsigned_enc == NULL)
    fail ("a valid manifest cannot be exported unsigned", error);
  u = mesh_update_manifest_parse (g_bytes_get_data (unsigned_enc, NULL),
                                  g_bytes_get_size (unsigned_enc), &error);
  if (u == NULL)
    fail ("an unsigned export does not parse", error);
  mesh_update_manifest_digest (u, id2);
  if (u->n_signatures != 0 || memcmp (id, id2, sizeof id2) != 0)
    fail ("the unsigned export has signatures or another ID", NULL);

  signed_enc = mesh_update_manifest_sign (enc, len, a0, &error);
  if (has_signer (m->signatures, m->n_signatures, a0->pub.ed_pub))
    {
      if (signed_enc != NULL)
        fail ("an authority signed a manifest twice", NULL);
      mesh_fuzz_expect_code (error, MESHARA_ERROR_INVALID,
                             "mesh_update_manifest_sign");
    }
  else if (m->n_signatures >= MESH_WIRE_MAX_AUTHORITY_SIGS)
    {
      if (signed_enc != NULL)
        fail ("a full manifest took another signature", NULL);
      mesh_fuzz_expect_code (error, MESHARA_ERROR_TOO_LARGE,
                             "mesh_update_manifest_sign");
    }
  else
    {
      MeshWireAuthoritySignature *last;

      if (signed_enc == NULL)
        fail ("signing a valid manifest failed", error);
      s = mesh_update_manifest_parse (g_bytes_get_data (signed_enc, NULL),
                                      g_bytes_get_size (signed_enc), &error);
      if (s == NULL)
        fail ("a signed manifest does not parse", error);
      mesh_update_manifest_digest (s, id2);
      if (s->n_signatures != m->n_signatures + 1
          || memcmp (id, id2, sizeof id2) != 0)
        fail ("signing did not add exactly one signature to the same ID",
              NULL);
      last = s->signatures[s->n_signatures - 1];
      if (memcmp (last->public_key.data, a0->pub.ed_pub,
                  MESH_ED25519_KEY_LEN) != 0
          || !mesh_ed25519_verify (a0->pub.ed_pub, id, MESH_SHA256_LEN,
                                   last->signature.data))
        fail ("the added signature is not the authority's over the ID", NULL);
    }
  g_clear_error (&error);

  /* Merging the unsigned copy into it, and it into the unsigned copy. */
  merged = mesh_update_manifest_merge (g_bytes_get_data (unsigned_enc, NULL),
                                       g_bytes_get_size (unsigned_enc), enc,
                                       len, &error);
  if (merged == NULL)
    {
      /* Only room can run out: duplicates are dropped. */
      mesh_fuzz_expect_code (error, MESHARA_ERROR_TOO_LARGE,
                             "mesh_update_manifest_merge");
      return;
    }
  mm = mesh_update_manifest_parse (g_bytes_get_data (merged, NULL),
                                   g_bytes_get_size (merged), &error);
  if (mm == NULL)
    fail ("a merged manifest does not parse", error);
  mesh_update_manifest_digest (mm, id2);
  if (memcmp (id, id2, sizeof id2) != 0)
    fail ("merging changed the manifest ID", NULL);
  if (mm->n_signatures != distinct_signers (m->signatures, m->n_signatures))
    fail ("merging did not keep one signature per authority", NULL);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  MeshFuzzInput in;
  g_autoptr (GError) error = NULL;
  g_autoptr (MeshWireUpdateManifest) m = NULL;
  g_autoptr (MeshWireUpdateManifest) typed = NULL;
  g_autoptr (MeshWireUpdateManifest) again = NULL;
  g_autoptr (GBytes) enc = NULL, enc2 = NULL;
  uint8_t flags, id[MESH_SHA256_LEN], id2[MESH_SHA256_LEN];
  guint k, valid, n_trusted = G_MAXUINT;
  guint64 installed;
  const uint8_t *msg, *rest;
  size_t msg_len, rest_len;
  int code;
  gboolean ok;

  mesh_fuzz_update_init ();
  mesh_fuzz_input_init (&in, data, size);
  flags = mesh_fuzz_u8 (&in);
  k = 1 + mesh_fuzz_u8 (&in) % 3;
  installed = mesh_fuzz_u64 (&in);
  msg_len = mesh_fuzz_bytes (&in, mesh_fuzz_u16 (&in), &msg);
  rest_len = mesh_fuzz_bytes (&in, in.n, &rest);
  if (!mesh_trust_store_set_threshold (mesh_fuzz_trust, k, NULL))
    abort ();

  if (flags & 0x10)
    {
      legacy_package (msg, msg_len);
      return 0;
    }

  m = mesh_update_manifest_parse (msg, msg_len, &error);
  typed = mesh_wire_decode_update_manifest (msg, msg_len, NULL);
  if ((m == NULL) != (typed == NULL))
    fail ("the update parser and the codec disagree", error);
  if (m == NULL)
    {
      mesh_fuzz_check_error (error, "mesh_update_manifest_parse");
      return 0;
    }

  /* Make the chosen authorities' signatures valid, then start over from
   * the bytes that carry them. */
  mesh_update_manifest_digest (m, id);
  if (mesh_fuzz_resign (m->signatures, m->n_signatures, id, flags & 0x0f) > 0)
    {
      MeshWireUpdateManifest *resigned;

      enc = mesh_wire_encode (&m->base);
      resigned = mesh_update_manifest_parse (g_bytes_get_data (enc, NULL),
                                             g_bytes_get_size (enc), &error);
      if (resigned == NULL)
        fail ("a re-signed manifest does not parse", error);
      mesh_wire_free (&m->base);
      m = resigned;
    }
  else
    enc = mesh_wire_encode (&m->base);

  again = mesh_update_manifest_parse (g_bytes_get_data (enc, NULL),
                                      g_bytes_get_size (enc), &error);
  if (again == NULL)
    fail ("a re-encoded manifest does not parse", error);
  enc2 = mesh_wire_encode (&again->base);
  if (!g_bytes_equal (enc, enc2))
    fail ("manifest round trip changed the bytes", NULL);
  mesh_update_manifest_digest (again, id2);
  if (memcmp (id, id2, sizeof id) != 0)
    fail ("manifest round trip changed the ID", NULL);
  if (m->chunk_size == 0 || m->n_chunk_hashes
      != (m->size + m->chunk_size - 1) / m->chunk_size)
    fail ("chunk hashes that do not fit size and chunk_size got through",
          NULL);

  code = mesh_fuzz_model_signatures (m->signatures, m->n_signatures, id, k,
                                     &valid);
  if (code == 0)
    code = mesh_fuzz_model_version (m->version, m->min_version, installed);
  ok = mesh_update_manifest_verify (m, mesh_fuzz_trust, installed, &n_trusted,
                                    &error);
  mesh_fuzz_expect (ok, error, code, "mesh_update_manifest_verify");
  if ((code == 0 || code == MESHARA_ERROR_VERSION_TOO_OLD
       || code == MESHARA_ERROR_DOWNGRADE || code == MESHARA_ERROR_UNTRUSTED)
      && n_trusted != valid)
    fail ("the count of trusted signers differs from the model", NULL);
  g_clear_error (&error);

  check_signing (g_bytes_get_data (enc, NULL), g_bytes_get_size (enc), m, id);
  check_notice (m, k, installed, id);
  check_data (m, (flags >> 5) & 7, rest, rest_len);
  return 0;
}
