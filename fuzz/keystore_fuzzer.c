/* The keystore reader, mesh_keystore_decode(), on a file image.
 *
 * Input: one flag byte, then the image.
 *   bit 0  reseal: when the image has the keystore size, rewrite its
 *          SHA-256 checksum before decoding, so that mutations reach the
 *          fields behind that first check (a fuzzer cannot forge a hash).
 *
 * Every image is opened twice: without a passphrase and with
 * MESH_FUZZ_PASSPHRASE (fuzz.h), the one the seeds are sealed under.
 *
 * Argon2id cost.  A valid file may ask for 16 passes over 1 GiB in 8
 * lanes: seconds and a gigabyte per run.  The harness folds valid
 * parameters into at most CAP_T_COST passes, CAP_LANES lanes and
 * CAP_EXTRA_KIB KiB above the 8 KiB per lane minimum (values already in
 * that range are kept), and rewrites the checksum when it was valid, so
 * that a run costs well under a millisecond.  Parameters outside the
 * library's bounds are left alone, so the bounds checks still see them.
 * The harness does this in every build, not only in fuzzing builds, so
 * that an input behaves the same when fuzzed and when replayed.
 *
 * Checked besides memory safety:
 * - a failure is a MESHARA_ERROR with one of the codes keystore.h lists,
 *   and leaves the identity wiped;
 * - the two opens agree: the one without a passphrase fails with
 *   PASSPHRASE_REQUIRED where the other goes on to the KDF, and
 *   otherwise both give the same result (same keys, or same error);
 * - an opened identity is whole (its bundle verifies, its node ID is the
 *   hash of its key) and encodes again to an image that opens to the
 *   same keys; an unencrypted one encodes to exactly the input bytes. */
#include "config.h"

#include "fuzz.h"
#include "fuzz-input.h"
#include "crypto/keystore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <meshara/meshara.h>

#define CAP_T_COST 2
#define CAP_LANES 2
#define CAP_EXTRA_KIB 31

/* Offsets of keystore.h. */
#define OFF_KDF 9
#define OFF_T_COST 10
#define OFF_M_COST 14
#define OFF_LANES 18
#define OFF_SUM (MESH_KEYSTORE_LEN - MESH_SHA256_LEN)

static uint32_t
get_be32 (const uint8_t *p)
{
  return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16
         | (uint32_t) p[2] << 8 | (uint32_t) p[3];
}

static void
put_be32 (uint8_t *p, uint32_t v)
{
  p[0] = (uint8_t) (v >> 24);
  p[1] = (uint8_t) (v >> 16);
  p[2] = (uint8_t) (v >> 8);
  p[3] = (uint8_t) v;
}

static gboolean
sum_ok (const uint8_t *img)
{
  uint8_t sum[MESH_SHA256_LEN];

  mesh_sha256 (img, OFF_SUM, sum);
  return memcmp (sum, img + OFF_SUM, sizeof sum) == 0;
}

/* Fold valid Argon2id parameters into the cheap range; TRUE when the
 * image changed. */
static gboolean
cap_cost (uint8_t *img)
{
  MeshKdfParams p, q;
  uint32_t floor_kib;

  if (img[OFF_KDF] != MESH_KDF_ARGON2ID)
    return FALSE;
  p.t_cost = get_be32 (img + OFF_T_COST);
  p.m_cost_kib = get_be32 (img + OFF_M_COST);
  p.parallelism = get_be32 (img + OFF_LANES);
  if (!mesh_kdf_params_check (&p, NULL))
    return FALSE;

  q.t_cost = 1 + (p.t_cost - 1) % CAP_T_COST;
  q.parallelism = 1 + (p.parallelism - 1) % CAP_LANES;
  /* m_cost >= 8 KiB * old lanes >= 8 KiB * new lanes */
  floor_kib = MESH_KDF_MIN_M_COST_KIB_PER_LANE * q.parallelism;
  q.m_cost_kib = floor_kib + (p.m_cost_kib - floor_kib) % (CAP_EXTRA_KIB + 1);
  if (!mesh_kdf_params_check (&q, NULL))
    abort ();
  if (memcmp (&p, &q, sizeof p) == 0)
    return FALSE;
  put_be32 (img + OFF_T_COST, q.t_cost);
  put_be32 (img + OFF_M_COST, q.m_cost_kib);
  put_be32 (img + OFF_LANES, q.parallelism);
  return TRUE;
}

static void
fixed_rng (void *user_data, uint8_t *buf, size_t n)
{
  for (size_t i = 0; i < n; i++)
    buf[i] = (uint8_t) (0x5a ^ i);
}

static void
check_failure (const GError *error, const MeshIdentity *id, const char *what)
{
  static const int codes[] = {
    MESHARA_ERROR_MALFORMED, MESHARA_ERROR_TRUNCATED, MESHARA_ERROR_INVALID,
    MESHARA_ERROR_TOO_LARGE, MESHARA_ERROR_UNSUPPORTED_VERSION,
    MESHARA_ERROR_PASSPHRASE_REQUIRED, MESHARA_ERROR_WRONG_PASSPHRASE,
    MESHARA_ERROR_DECRYPT,
  };
  gboolean known = FALSE;

  mesh_fuzz_check_error (error, what);
  for (size_t i = 0; i < G_N_ELEMENTS (codes); i++)
    known |= error->code == codes[i];
  if (!known)
    {
      fprintf (stderr, "%s: undocumented error code %d: %s\n", what,
               error->code, error->message);
      abort ();
    }
  if (!mesh_ct_is_zero (id, sizeof *id))
    {
      fprintf (stderr, "%s: failed (%s) but left key material behind\n",
               what, error->message);
      abort ();
    }
}

/* An opened identity: whole, and it encodes back. */
static void
check_opened (const MeshIdentity *id, const uint8_t *img, size_t len)
{
  GError *error = NULL;
  uint8_t node_id[MESH_NODE_ID_LEN];
  MeshIdentity again;
  GBytes *enc;
  const char *passphrase;
  MeshKdfParams params;
  gsize enc_len;
  const uint8_t *enc_data;

  if (!mesh_bundle_verify (&id->pub, &error))
    {
      fprintf (stderr, "opened keystore has a bad bundle: %s\n", error->message);
      abort ();
    }
  mesh_node_id (id->pub.ed_pub, node_id);
  if (memcmp (node_id, id->pub.node_id, sizeof node_id) != 0)
    abort ();

  passphrase = img[OFF_KDF] == MESH_KDF_NONE ? NULL : MESH_FUZZ_PASSPHRASE;
  params.t_cost = get_be32 (img + OFF_T_COST);
  params.m_cost_kib = get_be32 (img + OFF_M_COST);
  params.parallelism = get_be32 (img + OFF_LANES);
  enc = mesh_keystore_encode (id, passphrase, passphrase ? &params : NULL,
                              fixed_rng, NULL, &error);
  if (enc == NULL)
    {
      fprintf (stderr, "opened keystore does not encode: %s\n", error->message);
      abort ();
    }
  enc_data = g_bytes_get_data (enc, &enc_len);
  if (passphrase == NULL
      && (enc_len != len || memcmp (enc_data, img, len) != 0))
    {
      fprintf (stderr, "unencrypted keystore is not the encoding of its keys\n");
      abort ();
    }
  if (!mesh_keystore_decode (enc_data, enc_len, passphrase, &again, &error))
    {
      fprintf (stderr, "re-encoded keystore does not open: %s\n", error->message);
      abort ();
    }
  if (memcmp (&again, id, sizeof again) != 0)
    {
      fprintf (stderr, "re-encoded keystore opens to other keys\n");
      abort ();
    }
  mesh_identity_clear (&again);
  g_bytes_unref (enc);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  MeshIdentity id0, id1;
  GError *e0 = NULL, *e1 = NULL;
  gboolean r0, r1;
  uint8_t *img;
  size_t len;
  uint8_t flags;

  if (size < 1)
    return 0;
  flags = data[0];
  len = size - 1;
  /* A copy of exactly len bytes, so that any read past the image shows. */
  img = g_malloc (len ? len : 1);
  memcpy (img, data + 1, len);

  if (len == MESH_KEYSTORE_LEN)
    {
      gboolean valid = sum_ok (img);

      if (cap_cost (img) && valid)
        flags |= 1;
      if (flags & 1)
        mesh_sha256 (img, OFF_SUM, img + OFF_SUM);
    }

  memset (&id0, 0xa5, sizeof id0);
  memset (&id1, 0xa5, sizeof id1);
  r0 = mesh_keystore_decode (img, len, NULL, &id0, &e0);
  r1 = mesh_keystore_decode (img, len, MESH_FUZZ_PASSPHRASE, &id1, &e1);
  if (!r0)
    check_failure (e0, &id0, "keystore without passphrase");
  if (!r1)
    check_failure (e1, &id1, "keystore with passphrase");

  if (r0)
    {
      /* Only an unencrypted keystore opens without a passphrase, and the
         passphrase then changes nothing. */
      if (!r1 || memcmp (&id0, &id1, sizeof id0) != 0)
        {
          fprintf (stderr, "keystore opens without a passphrase but not "
                   "the same with one\n");
          abort ();
        }
      if (img[OFF_KDF] != MESH_KDF_NONE)
        abort ();
    }
  else if (e0->code != MESHARA_ERROR_PASSPHRASE_REQUIRED
           && (r1 || e1->code != e0->code
               || strcmp (e1->message, e0->message) != 0))
    {
      fprintf (stderr, "keystore: the passphrase changed an error that "
               "comes before it is used: \"%s\" / \"%s\"\n",
               e0->message, r1 ? "(opened)" : e1->message);
      abort ();
    }

  if (r1)
    check_opened (&id1, img, len);

  mesh_identity_clear (&id0);
  mesh_identity_clear (&id1);
  g_clear_error (&e0);
  g_clear_error (&e1);
  g_free (img);
  return 0;
}
