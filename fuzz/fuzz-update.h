/* What the update targets share: four fixed authorities, a trust store
 * holding them, re-signing what they signed (so that inputs get past the
 * k-of-n rule honestly, with real signatures) and a model of that rule
 * to compare mesh_update_check_signatures() and its callers with.
 *
 *   authority 0  seed 'u'  UPDATE     authority 2  seed 'w'  SIGNING
 *   authority 1  seed 'v'  FULL       authority 3  seed 'x'  (not held)
 *
 * Authority 3 is not in the store, authority 2 may not sign updates: the
 * model counts both as untrusted. */
#ifndef MESH_FUZZ_UPDATE_H
#define MESH_FUZZ_UPDATE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include <meshara/meshara.h>

#include "crypto/identity.h"
#include "crypto/sign.h"
#include "update/package.h"
#include "update/trust.h"
#include "wire/codec.h"

#define MESH_FUZZ_AUTHORITIES 4

static MeshIdentity mesh_fuzz_authority[MESH_FUZZ_AUTHORITIES];
static MeshTrustStore *mesh_fuzz_trust;

static inline void
mesh_fuzz_update_init (void)
{
  static const MeshTrustLevel levels[] = { MESH_TRUST_UPDATE, MESH_TRUST_FULL,
                                           MESH_TRUST_SIGNING };
  static const char *const names[] = { "updates", "full", "signing" };

  if (mesh_fuzz_trust != NULL)
    return;
  for (int i = 0; i < MESH_FUZZ_AUTHORITIES; i++)
    {
      uint8_t seed[MESH_SEED_LEN];

      memset (seed, 'u' + i, sizeof seed);
      mesh_identity_from_seed (&mesh_fuzz_authority[i], seed);
    }
  mesh_fuzz_trust = mesh_trust_store_new ();
  for (int i = 0; i < 3; i++)
    if (!mesh_trust_store_add (mesh_fuzz_trust,
                               mesh_fuzz_authority[i].pub.ed_pub, names[i], "",
                               "", levels[i], 0, NULL))
      abort ();
}

/* A signed manifest (authorities 0 and 1) of len bytes of data derived
 * from tag, in chunks of chunk_size bytes.  Returns: (transfer full). */
static inline GBytes *
mesh_fuzz_manifest (const char *name, guint64 version, guint64 min_version,
                    guint32 chunk_size, gsize len, guint8 tag, guint8 **data_out)
{
  MeshUpdateInfo info = { 0 };
  guint8 *data = g_malloc (len ? len : 1);
  GBytes *enc, *signed1, *signed2;

  for (gsize i = 0; i < len; i++)
    data[i] = (guint8) (tag + i * 7 + (i >> 8));
  info.name = name;
  info.version = version;
  info.version_label = "1.0";
  info.min_version = min_version;
  info.changelog = "fixes";
  info.chunk_size = chunk_size;
  enc = mesh_update_manifest_build (&info, data, len, NULL);
  if (enc == NULL)
    abort ();
  signed1 = mesh_update_manifest_sign (g_bytes_get_data (enc, NULL),
                                       g_bytes_get_size (enc),
                                       &mesh_fuzz_authority[0], NULL);
  signed2 = signed1 ? mesh_update_manifest_sign (g_bytes_get_data (signed1, NULL),
                                                 g_bytes_get_size (signed1),
                                                 &mesh_fuzz_authority[1], NULL)
                    : NULL;
  if (signed2 == NULL)
    abort ();
  g_bytes_unref (enc);
  g_bytes_unref (signed1);
  if (data_out != NULL)
    *data_out = data;
  else
    g_free (data);
  return signed2;
}


/* Sign digest anew in every signature of an authority in mask (bit i:
 * authority i) whose lengths are right.  Returns how many it changed. */
static inline unsigned
mesh_fuzz_resign (MeshWireAuthoritySignature **sigs, size_t n,
                  const uint8_t digest[MESH_SHA256_LEN], unsigned mask)
{
  unsigned changed = 0;

  for (size_t i = 0; i < n; i++)
    {
      if (sigs[i]->public_key.len != MESH_ED25519_KEY_LEN
          || sigs[i]->signature.len != MESH_ED25519_SIG_LEN)
        continue;
      for (int a = 0; a < MESH_FUZZ_AUTHORITIES; a++)
        if ((mask & (1u << a))
            && memcmp (sigs[i]->public_key.data,
                       mesh_fuzz_authority[a].pub.ed_pub,
                       MESH_ED25519_KEY_LEN) == 0)
          {
            mesh_identity_sign (&mesh_fuzz_authority[a], digest,
                                MESH_SHA256_LEN, sigs[i]->signature.data);
            changed++;
          }
    }
  return changed;
}

/* The signature rule of lib/update/package.h, restated: 0 when accepted,
 * else the MESHARA_ERROR code expected.  *n_valid gets the distinct
 * trusted signers whose signatures verify. */
static inline int
mesh_fuzz_model_signatures (MeshWireAuthoritySignature *const *sigs, size_t n,
                            const uint8_t digest[MESH_SHA256_LEN], guint k,
                            guint *n_valid)
{
  guint valid = 0;

  *n_valid = 0;
  for (size_t i = 0; i < n; i++)
    {
      gboolean seen = FALSE;
      gboolean trusted = FALSE;

      if (sigs[i]->public_key.len != MESH_ED25519_KEY_LEN
          || sigs[i]->signature.len != MESH_ED25519_SIG_LEN)
        return MESHARA_ERROR_INVALID;
      for (size_t j = 0; j < i; j++)
        if (sigs[j]->public_key.len == MESH_ED25519_KEY_LEN
            && memcmp (sigs[j]->public_key.data, sigs[i]->public_key.data,
                       MESH_ED25519_KEY_LEN) == 0)
          seen = TRUE;
      if (seen)
        continue;
      /* Authorities 0 (UPDATE) and 1 (FULL) are the trusted signers. */
      for (int a = 0; a < 2; a++)
        if (memcmp (sigs[i]->public_key.data, mesh_fuzz_authority[a].pub.ed_pub,
                    MESH_ED25519_KEY_LEN) == 0)
          trusted = TRUE;
      if (!trusted)
        continue;
      if (!mesh_ed25519_verify (sigs[i]->public_key.data, digest,
                                MESH_SHA256_LEN, sigs[i]->signature.data))
        return MESHARA_ERROR_BAD_SIGNATURE;
      valid++;
    }
  *n_valid = valid;
  return valid < k ? MESHARA_ERROR_UNTRUSTED : 0;
}

/* The version rule, restated: 0 or the code expected. */
static inline int
mesh_fuzz_model_version (guint64 version, guint64 min_version,
                         guint64 installed)
{
  if (installed != 0 && installed < min_version)
    return MESHARA_ERROR_VERSION_TOO_OLD;
  if (version <= installed)
    return MESHARA_ERROR_DOWNGRADE;
  return 0;
}

/* ok and error against the code the model expects. */
static inline void
mesh_fuzz_expect (gboolean ok, const GError *error, int code, const char *what)
{
  if (code == 0)
    {
      if (!ok)
        {
          fprintf (stderr, "%s refused what the model accepts: %s\n", what,
                   error ? error->message : "(no error)");
          abort ();
        }
      return;
    }
  if (ok)
    {
      fprintf (stderr, "%s accepted what the model refuses (code %d)\n", what,
               code);
      abort ();
    }
  if (error == NULL || error->domain != MESHARA_ERROR || error->code != code)
    {
      fprintf (stderr, "%s: error code %d, the model expects %d: %s\n", what,
               error ? error->code : -1, code,
               error ? error->message : "(no error)");
      abort ();
    }
}

#endif
