#include "config.h"

#include "crypto/identity.h"
#include "crypto/keystore.h"

#include <string.h>
#include <meshara/meshara.h>

#define ED_LABEL "meshara/1 ed25519"
#define X_LABEL "meshara/1 x25519"

#define BINDING_MSG_LEN (sizeof MESH_BINDING_CONTEXT - 1 \
                         + MESH_ED25519_KEY_LEN + MESH_X25519_KEY_LEN)

/* Length of the text form: prefix, then 4 characters per 3 bundle bytes
 * (the bundle is a multiple of 3 bytes, so there is no partial group). */
#define B64_LEN ((MESH_BUNDLE_LEN + 2) / 3 * 4)
#define TEXT_PREFIX_LEN (sizeof MESH_BUNDLE_TEXT_PREFIX - 1)
#define TEXT_LEN (TEXT_PREFIX_LEN + B64_LEN)
G_STATIC_ASSERT (MESH_BUNDLE_LEN % 3 == 0);

static const char b64url[] =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* u-coordinates of the Curve25519 and twist points of order dividing 8,
 * canonical and the non-canonical encodings below 2^255, with bit 255
 * cleared.  X25519 with any of them yields all zeros whatever the private
 * key, so such a key cannot carry a key agreement. */
static const uint8_t low_order_x25519[][MESH_X25519_KEY_LEN] = {
  { 0 },
  { 1 },
  { 0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3, 0xfa,
    0xf1, 0x9f, 0xc4, 0x6a, 0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd,
    0x86, 0x62, 0x05, 0x16, 0x5f, 0x49, 0xb8, 0x00 },
  { 0x5f, 0x9c, 0x95, 0xbc, 0xa3, 0x50, 0x8c, 0x24, 0xb1, 0xd0, 0xb1, 0x55,
    0x9c, 0x83, 0xef, 0x5b, 0x04, 0x44, 0x5c, 0xc4, 0x58, 0x1c, 0x8e, 0x86,
    0xd8, 0x22, 0x4e, 0xdd, 0xd0, 0x9f, 0x11, 0x57 },
  /* p - 1, p, p + 1 */
  { 0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f },
  { 0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f },
  { 0xee, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f },
};

static bool
x25519_is_low_order (const uint8_t pub[MESH_X25519_KEY_LEN])
{
  uint8_t u[MESH_X25519_KEY_LEN];

  /* X25519 ignores bit 255. */
  memcpy (u, pub, sizeof u);
  u[31] &= 0x7f;
  for (size_t i = 0; i < G_N_ELEMENTS (low_order_x25519); i++)
    if (memcmp (u, low_order_x25519[i], sizeof u) == 0)
      return true;
  return false;
}

static void
binding_message (const uint8_t ed_pub[MESH_ED25519_KEY_LEN],
                 const uint8_t x_pub[MESH_X25519_KEY_LEN],
                 uint8_t out[BINDING_MSG_LEN])
{
  size_t n = sizeof MESH_BINDING_CONTEXT - 1;

  memcpy (out, MESH_BINDING_CONTEXT, n);
  memcpy (out + n, ed_pub, MESH_ED25519_KEY_LEN);
  memcpy (out + n + MESH_ED25519_KEY_LEN, x_pub, MESH_X25519_KEY_LEN);
}

void
mesh_identity_generate (MeshIdentity *id, MeshRandomFunc rnd, void *rnd_data)
{
  uint8_t buf[MESH_ED25519_KEY_LEN + MESH_X25519_KEY_LEN];

  rnd (rnd_data, buf, sizeof buf);
  mesh_identity_from_private (id, buf, buf + MESH_ED25519_KEY_LEN);
  mesh_wipe (buf, sizeof buf);
}

void
mesh_identity_from_seed (MeshIdentity *id, const uint8_t seed[MESH_SEED_LEN])
{
  uint8_t ed_priv[MESH_ED25519_KEY_LEN];
  uint8_t x_priv[MESH_X25519_KEY_LEN];

  /* Fixed-length labels before a fixed-length seed: the two inputs cannot
   * collide, so the keys are independent. */
  mesh_sha256_2 (ED_LABEL, sizeof ED_LABEL - 1, seed, MESH_SEED_LEN, ed_priv);
  mesh_sha256_2 (X_LABEL, sizeof X_LABEL - 1, seed, MESH_SEED_LEN, x_priv);
  mesh_identity_from_private (id, ed_priv, x_priv);
  mesh_wipe (ed_priv, sizeof ed_priv);
  mesh_wipe (x_priv, sizeof x_priv);
}

void
mesh_identity_from_private (MeshIdentity *id,
                            const uint8_t ed_priv[MESH_ED25519_KEY_LEN],
                            const uint8_t x_priv[MESH_X25519_KEY_LEN])
{
  uint8_t msg[BINDING_MSG_LEN];

  memmove (id->ed_priv, ed_priv, MESH_ED25519_KEY_LEN);
  memmove (id->x_priv, x_priv, MESH_X25519_KEY_LEN);
  mesh_ed25519_public_key (id->ed_priv, id->pub.ed_pub);
  mesh_x25519_public_key (id->x_priv, id->pub.x_pub);
  binding_message (id->pub.ed_pub, id->pub.x_pub, msg);
  mesh_identity_sign (id, msg, sizeof msg, id->pub.binding_sig);
  mesh_node_id (id->pub.ed_pub, id->pub.node_id);
}

void
mesh_identity_clear (MeshIdentity *id)
{
  mesh_wipe (id, sizeof *id);
}

void
mesh_identity_sign (const MeshIdentity *id, const void *msg, size_t len,
                    uint8_t sig[MESH_ED25519_SIG_LEN])
{
  mesh_ed25519_sign (id->ed_priv, id->pub.ed_pub, msg, len, sig);
}

void
mesh_bundle_serialize (const MeshPublicBundle *b, uint8_t out[MESH_BUNDLE_LEN])
{
  uint8_t *p = out;

  *p++ = MESH_BUNDLE_VERSION;
  memcpy (p, b->ed_pub, MESH_ED25519_KEY_LEN);
  p += MESH_ED25519_KEY_LEN;
  memcpy (p, b->x_pub, MESH_X25519_KEY_LEN);
  p += MESH_X25519_KEY_LEN;
  memcpy (p, b->binding_sig, MESH_ED25519_SIG_LEN);
}

/* Bundles whose binding signature verified, so that a bundle given again
 * (every meshara_node_send_private() parses the recipient's key text) costs
 * a hash and a comparison instead of an Ed25519 verification (about 160 us).
 * Verification is a function of the three fields alone, so an entry is the
 * fields themselves: a changed bundle is another entry and needs no
 * invalidation; a failed verification is never stored.  Direct-mapped and
 * bounded (VERIFIED_SLOTS * 128 bytes).  The slot index is a plain hash,
 * the same in every run, so that instruction counts repeat (make
 * bench-check): a party that aims its bundles at one slot only evicts an
 * entry, which costs one verification more, and can never make a bundle
 * pass that did not verify.  Shared by every node in the process, hence
 * the lock. */
#define VERIFIED_SLOTS 256
#define VERIFIED_KEY_LEN (MESH_ED25519_KEY_LEN + MESH_X25519_KEY_LEN \
                          + MESH_ED25519_SIG_LEN)

typedef struct {
  uint8_t key[VERIFIED_KEY_LEN];   /* all zero: empty (never valid) */
} VerifiedSlot;

static VerifiedSlot verified_slots[VERIFIED_SLOTS];
G_LOCK_DEFINE_STATIC (verified);

static void
verified_key (const MeshPublicBundle *b, uint8_t key[VERIFIED_KEY_LEN])
{
  memcpy (key, b->ed_pub, MESH_ED25519_KEY_LEN);
  memcpy (key + MESH_ED25519_KEY_LEN, b->x_pub, MESH_X25519_KEY_LEN);
  memcpy (key + MESH_ED25519_KEY_LEN + MESH_X25519_KEY_LEN, b->binding_sig,
          MESH_ED25519_SIG_LEN);
}

/* FNV-1a over the key, 8 bytes at a time. */
static guint
verified_index (const uint8_t key[VERIFIED_KEY_LEN])
{
  guint64 h = G_GUINT64_CONSTANT (0xcbf29ce484222325);

  G_STATIC_ASSERT (VERIFIED_KEY_LEN % 8 == 0);
  for (size_t i = 0; i < VERIFIED_KEY_LEN; i += 8)
    {
      guint64 w;

      memcpy (&w, key + i, 8);
      h = (h ^ w) * G_GUINT64_CONSTANT (0x100000001b3);
    }
  h ^= h >> 29;
  return (guint) (h >> 32) % VERIFIED_SLOTS;
}

static gboolean
verified_lookup (const uint8_t key[VERIFIED_KEY_LEN])
{
  gboolean hit;

  G_LOCK (verified);
  hit = memcmp (verified_slots[verified_index (key)].key, key,
                VERIFIED_KEY_LEN) == 0;
  G_UNLOCK (verified);
  return hit;
}

static void
verified_store (const uint8_t key[VERIFIED_KEY_LEN])
{
  G_LOCK (verified);
  memcpy (verified_slots[verified_index (key)].key, key, VERIFIED_KEY_LEN);
  G_UNLOCK (verified);
}

gboolean
mesh_bundle_verify (const MeshPublicBundle *b, GError **error)
{
  uint8_t msg[BINDING_MSG_LEN];
  uint8_t key[VERIFIED_KEY_LEN];

  if (x25519_is_low_order (b->x_pub))
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID,
                   "public key bundle has a low-order X25519 key, "
                   "unusable for key agreement");
      return FALSE;
    }
  /* After the low-order check: an all-zero (empty) slot cannot match. */
  verified_key (b, key);
  if (verified_lookup (key))
    return TRUE;
  binding_message (b->ed_pub, b->x_pub, msg);
  if (!mesh_ed25519_verify (b->ed_pub, msg, sizeof msg, b->binding_sig))
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_BAD_SIGNATURE,
                   "public key bundle: the signature binding the X25519 key "
                   "to the Ed25519 key does not verify");
      return FALSE;
    }
  verified_store (key);
  return TRUE;
}

gboolean
mesh_bundle_parse (MeshPublicBundle *b, const uint8_t *data, size_t len,
                   GError **error)
{
  MeshPublicBundle tmp;
  const uint8_t *p = data;

  if (len == 0)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_TRUNCATED,
                   "public key bundle is empty, expected %d bytes",
                   MESH_BUNDLE_LEN);
      return FALSE;
    }
  /* The version first: another version may have another length. */
  if (data[0] != MESH_BUNDLE_VERSION)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_UNSUPPORTED_VERSION,
                   "public key bundle version %u is not supported "
                   "(this library reads version %d)",
                   data[0], MESH_BUNDLE_VERSION);
      return FALSE;
    }
  if (len < MESH_BUNDLE_LEN)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_TRUNCATED,
                   "public key bundle of %zu bytes is truncated, expected %d",
                   len, MESH_BUNDLE_LEN);
      return FALSE;
    }
  if (len > MESH_BUNDLE_LEN)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID,
                   "public key bundle of %zu bytes is too long, expected %d",
                   len, MESH_BUNDLE_LEN);
      return FALSE;
    }
  p++;
  memcpy (tmp.ed_pub, p, MESH_ED25519_KEY_LEN);
  p += MESH_ED25519_KEY_LEN;
  memcpy (tmp.x_pub, p, MESH_X25519_KEY_LEN);
  p += MESH_X25519_KEY_LEN;
  memcpy (tmp.binding_sig, p, MESH_ED25519_SIG_LEN);
  if (!mesh_bundle_verify (&tmp, error))
    return FALSE;
  mesh_node_id (tmp.ed_pub, tmp.node_id);
  *b = tmp;
  return TRUE;
}

char *
mesh_bundle_to_string (const MeshPublicBundle *b)
{
  uint8_t raw[MESH_BUNDLE_LEN];
  char *out = g_malloc (TEXT_LEN + 1);
  char *o = out;

  mesh_bundle_serialize (b, raw);
  memcpy (o, MESH_BUNDLE_TEXT_PREFIX, TEXT_PREFIX_LEN);
  o += TEXT_PREFIX_LEN;
  for (size_t i = 0; i < MESH_BUNDLE_LEN; i += 3)
    {
      uint32_t v = (uint32_t) raw[i] << 16 | (uint32_t) raw[i + 1] << 8 | raw[i + 2];
      *o++ = b64url[v >> 18 & 63];
      *o++ = b64url[v >> 12 & 63];
      *o++ = b64url[v >> 6 & 63];
      *o++ = b64url[v & 63];
    }
  *o = '\0';
  return out;
}

static int
b64url_value (char c)
{
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '-')
    return 62;
  if (c == '_')
    return 63;
  return -1;
}

static gboolean
bundle_decode_text (MeshPublicBundle *b, const char *text, GError **error)
{
  uint8_t raw[MESH_BUNDLE_LEN];
  size_t len;
  const char *t;

  if (text == NULL)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
                   "public key text is NULL");
      return FALSE;
    }
  if (strncmp (text, MESH_BUNDLE_TEXT_PREFIX, TEXT_PREFIX_LEN) != 0)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_MALFORMED,
                   "public key text does not start with \"%s\"",
                   MESH_BUNDLE_TEXT_PREFIX);
      return FALSE;
    }
  /* Never scan further than a valid key could reach. */
  len = strnlen (text, TEXT_LEN + 1);
  t = text + TEXT_PREFIX_LEN;
  for (size_t i = 0; i < len - TEXT_PREFIX_LEN; i++)
    if (b64url_value (t[i]) < 0)
      {
        unsigned char c = (unsigned char) t[i];
        if (g_ascii_isgraph (c))
          g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_MALFORMED,
                       "public key text has '%c' at position %zu, which is "
                       "not base64url (A-Z a-z 0-9 - _)",
                       c, TEXT_PREFIX_LEN + i);
        else
          g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_MALFORMED,
                       "public key text has byte 0x%02x at position %zu, "
                       "which is not base64url (A-Z a-z 0-9 - _)",
                       c, TEXT_PREFIX_LEN + i);
        return FALSE;
      }
  if (len < TEXT_LEN)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_TRUNCATED,
                   "public key text of %zu characters is truncated, "
                   "expected %zu", len, (size_t) TEXT_LEN);
      return FALSE;
    }
  if (len > TEXT_LEN)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID,
                   "public key text is longer than %zu characters",
                   (size_t) TEXT_LEN);
      return FALSE;
    }
  for (size_t i = 0, j = 0; i < B64_LEN; i += 4, j += 3)
    {
      uint32_t v = (uint32_t) b64url_value (t[i]) << 18
                   | (uint32_t) b64url_value (t[i + 1]) << 12
                   | (uint32_t) b64url_value (t[i + 2]) << 6
                   | (uint32_t) b64url_value (t[i + 3]);
      raw[j] = (uint8_t) (v >> 16);
      raw[j + 1] = (uint8_t) (v >> 8);
      raw[j + 2] = (uint8_t) v;
    }
  return mesh_bundle_parse (b, raw, sizeof raw, error);
}

/* Key texts that parsed, with what they parsed to, so that a text given
 * again (every meshara_node_send_private() names its recipient by its key
 * text) costs a length check, a hash and a comparison instead of the
 * base64url decoding, the verified-bundle lookup and the SHA-256 of the
 * node ID.  The result is a function of the text alone, so an entry is the
 * whole text (exactly TEXT_LEN characters): another text is another entry
 * and nothing needs invalidating; a text that failed is never stored.
 * Direct-mapped and bounded (TEXT_SLOTS entries of about 340 bytes); the
 * index is a plain hash, the same in every run (make bench-check), so a
 * party aiming its keys at one slot only evicts an entry, costing one full
 * parse more.  Shared by every node in the process, hence the lock. */
#define TEXT_SLOTS 64

typedef struct {
  char text[TEXT_LEN];            /* all zero: empty (never a valid text) */
  MeshPublicBundle bundle;
} TextSlot;

static TextSlot text_slots[TEXT_SLOTS];
static guint text_slots_used;
G_LOCK_DEFINE_STATIC (text_slots);

/* FNV-1a over the text, 8 bytes at a time, then the last bytes one by one. */
static guint
text_index (const char *text)
{
  guint64 h = G_GUINT64_CONSTANT (0xcbf29ce484222325);
  size_t i = 0;

  for (; i + 8 <= TEXT_LEN; i += 8)
    {
      guint64 w;

      memcpy (&w, text + i, 8);
      h = (h ^ w) * G_GUINT64_CONSTANT (0x100000001b3);
    }
  for (; i < TEXT_LEN; i++)
    h = (h ^ (guchar) text[i]) * G_GUINT64_CONSTANT (0x100000001b3);
  h ^= h >> 29;
  return (guint) (h >> 32) % TEXT_SLOTS;
}

gboolean
mesh_bundle_from_string (MeshPublicBundle *b, const char *text, GError **error)
{
  MeshPublicBundle tmp;
  TextSlot *slot;
  guint i;

  /* Only a text of exactly the valid length can be in the table; any
   * other (and NULL) goes to the full parse, which says what is wrong. */
  if (text == NULL || strnlen (text, TEXT_LEN + 1) != TEXT_LEN)
    return bundle_decode_text (b, text, error);
  i = text_index (text);
  slot = &text_slots[i];
  G_LOCK (text_slots);
  if (memcmp (slot->text, text, TEXT_LEN) == 0)
    {
      *b = slot->bundle;
      G_UNLOCK (text_slots);
      return TRUE;
    }
  G_UNLOCK (text_slots);
  if (!bundle_decode_text (&tmp, text, error))
    return FALSE;
  G_LOCK (text_slots);
  if (slot->text[0] == '\0')
    text_slots_used++;
  memcpy (slot->text, text, TEXT_LEN);
  slot->bundle = tmp;
  G_UNLOCK (text_slots);
  *b = tmp;
  return TRUE;
}

guint
mesh_bundle_text_cache_size (void)
{
  guint n;

  G_LOCK (text_slots);
  n = text_slots_used;
  G_UNLOCK (text_slots);
  return n;
}

guint
mesh_bundle_text_cache_capacity (void)
{
  return TEXT_SLOTS;
}

void
mesh_bundle_text_cache_clear (void)
{
  G_LOCK (text_slots);
  memset (text_slots, 0, sizeof text_slots);
  text_slots_used = 0;
  G_UNLOCK (text_slots);
}

void
mesh_node_id (const uint8_t ed_pub[MESH_ED25519_KEY_LEN],
              uint8_t out[MESH_NODE_ID_LEN])
{
  mesh_sha256 (ed_pub, MESH_ED25519_KEY_LEN, out);
}

static const char hexdigits[] = "0123456789abcdef";

char *
mesh_node_id_to_hex (const uint8_t id[MESH_NODE_ID_LEN])
{
  char *out = g_malloc (2 * MESH_NODE_ID_LEN + 1);

  for (size_t i = 0; i < MESH_NODE_ID_LEN; i++)
    {
      out[2 * i] = hexdigits[id[i] >> 4];
      out[2 * i + 1] = hexdigits[id[i] & 15];
    }
  out[2 * MESH_NODE_ID_LEN] = '\0';
  return out;
}

char *
mesh_fingerprint (const uint8_t id[MESH_NODE_ID_LEN])
{
  /* 8 groups of 4 digits, 7 dashes */
  char *out = g_malloc (8 * 4 + 7 + 1);
  char *o = out;

  for (size_t i = 0; i < 16; i++)
    {
      if (i > 0 && i % 2 == 0)
        *o++ = '-';
      *o++ = hexdigits[id[i] >> 4];
      *o++ = hexdigits[id[i] & 15];
    }
  *o = '\0';
  return out;
}

/* The public, reference-counted identity. */

struct _MesharaIdentity {
  gatomicrefcount ref_count;
  MeshIdentity id;
};

G_DEFINE_BOXED_TYPE (MesharaIdentity, meshara_identity,
                     meshara_identity_ref, meshara_identity_unref)

static MesharaIdentity *
identity_alloc (void)
{
  MesharaIdentity *self = g_new0 (MesharaIdentity, 1);

  g_atomic_ref_count_init (&self->ref_count);
  return self;
}

const MeshIdentity *
mesh_identity_from_public (MesharaIdentity *identity)
{
  g_return_val_if_fail (identity != NULL, NULL);
  return &identity->id;
}

/**
 * meshara_identity_new:
 *
 * Creates a new identity from the system's cryptographic random generator
 * (through GnuTLS).  Aborts the process if that generator fails, since no
 * key may be made without it.
 *
 * Returns: (transfer full): a new identity; release it with
 *   meshara_identity_unref().
 */
MesharaIdentity *
meshara_identity_new (void)
{
  MesharaIdentity *self = identity_alloc ();

  mesh_identity_generate (&self->id, mesh_random_system, NULL);
  return self;
}

/**
 * meshara_identity_new_from_seed:
 * @seed: (array length=seed_len): the seed, exactly #MESHARA_SEED_LEN bytes
 * @seed_len: length of @seed in bytes
 * @error: return location for a #GError, or %NULL
 *
 * Derives an identity deterministically from a 32-byte seed: the same seed
 * always gives the same keys.  Meant for tests and reproducible
 * simulations; a seed is as secret as the keys it makes.
 *
 * Returns: (transfer full) (nullable): a new identity, or %NULL with
 *   @error set to %MESHARA_ERROR_INVALID_ARGUMENT when @seed is %NULL or
 *   not #MESHARA_SEED_LEN bytes long.
 */
MesharaIdentity *
meshara_identity_new_from_seed (const guint8 *seed, gsize seed_len,
                                GError **error)
{
  MesharaIdentity *self;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (seed == NULL)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
                   "identity seed is NULL; a seed is exactly %d bytes",
                   MESH_SEED_LEN);
      return NULL;
    }
  if (seed_len != MESH_SEED_LEN)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
                   "identity seed of %" G_GSIZE_FORMAT " bytes; a seed is "
                   "exactly %d bytes", seed_len, MESH_SEED_LEN);
      return NULL;
    }
  self = identity_alloc ();
  mesh_identity_from_seed (&self->id, seed);
  return self;
}

/**
 * meshara_identity_load:
 * @path: (type filename): the keystore file
 * @passphrase: (nullable): the passphrase, or %NULL for a keystore saved
 *   without one
 * @error: return location for a #GError, or %NULL
 *
 * Reads an identity from a keystore file written by meshara_identity_save().
 * The file must not be accessible by group or others and must be at most
 * 64 KiB.  A passphrase given for an unencrypted keystore is ignored.
 *
 * Errors: %MESHARA_ERROR_IO (cannot read), %MESHARA_ERROR_PERMISSION
 * (unsafe file mode), %MESHARA_ERROR_TOO_LARGE (file size or KDF
 * parameters beyond their bounds), %MESHARA_ERROR_MALFORMED (not a
 * keystore, or corrupt), %MESHARA_ERROR_TRUNCATED,
 * %MESHARA_ERROR_UNSUPPORTED_VERSION, %MESHARA_ERROR_INVALID,
 * %MESHARA_ERROR_PASSPHRASE_REQUIRED (encrypted and @passphrase is
 * %NULL), %MESHARA_ERROR_WRONG_PASSPHRASE, %MESHARA_ERROR_DECRYPT
 * (passphrase right but the sealed keys were tampered with).
 *
 * Returns: (transfer full) (nullable): the identity, or %NULL with @error
 *   set.
 */
MesharaIdentity *
meshara_identity_load (const char *path, const char *passphrase,
                       GError **error)
{
  MesharaIdentity *self;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  self = identity_alloc ();
  if (!mesh_keystore_load (path, passphrase, &self->id, error))
    {
      meshara_identity_unref (self);
      return NULL;
    }
  return self;
}

/**
 * meshara_identity_save:
 * @identity: the identity
 * @path: (type filename): the keystore file to write or replace
 * @passphrase: (nullable): the passphrase, or %NULL to store the keys
 *   unencrypted (development only)
 * @error: return location for a #GError, or %NULL
 *
 * Writes @identity to a keystore file, sealed with ChaCha20-Poly1305 under
 * a key derived from @passphrase by Argon2id (t=3, m=64 MiB, p=1).  The
 * write is atomic: a temporary file with mode 0600 in the same directory
 * is synced and renamed over @path, so a crash leaves either the old or
 * the new file.  The directory is created with mode 0700 when missing; an
 * existing directory that group or others can access is refused with
 * %MESHARA_ERROR_PERMISSION.  An empty @passphrase is refused with
 * %MESHARA_ERROR_INVALID_ARGUMENT; other failures are %MESHARA_ERROR_IO.
 *
 * Returns: %TRUE on success, %FALSE with @error set.
 */
gboolean
meshara_identity_save (MesharaIdentity *identity, const char *path,
                       const char *passphrase, GError **error)
{
  g_return_val_if_fail (identity != NULL, FALSE);
  g_return_val_if_fail (path != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return mesh_keystore_save (path, &identity->id, passphrase, NULL,
                             mesh_random_system, NULL, error);
}

/**
 * meshara_identity_ref:
 * @identity: the identity
 *
 * Takes a reference.
 *
 * Returns: (transfer full): @identity
 */
MesharaIdentity *
meshara_identity_ref (MesharaIdentity *identity)
{
  g_return_val_if_fail (identity != NULL, NULL);
  g_atomic_ref_count_inc (&identity->ref_count);
  return identity;
}

/**
 * meshara_identity_unref:
 * @identity: (transfer full): the identity
 *
 * Drops a reference; the last one wipes the private keys and frees the
 * identity.
 */
void
meshara_identity_unref (MesharaIdentity *identity)
{
  g_return_if_fail (identity != NULL);
  if (g_atomic_ref_count_dec (&identity->ref_count))
    {
      mesh_identity_clear (&identity->id);
      g_free (identity);
    }
}

/**
 * meshara_identity_get_public_key:
 * @identity: the identity
 *
 * The public key in its text form: "mshr1" followed by the unpadded
 * base64url encoding of the public bundle (version, Ed25519 key, X25519
 * key, binding signature), 177 characters.  This is what others need to
 * address and pin this node; meshara_public_key_validate() checks it.
 *
 * Returns: (transfer full): a newly allocated string; free with g_free().
 */
char *
meshara_identity_get_public_key (MesharaIdentity *identity)
{
  g_return_val_if_fail (identity != NULL, NULL);
  return mesh_bundle_to_string (&identity->id.pub);
}

/**
 * meshara_identity_get_node_id:
 * @identity: the identity
 * @len: (out) (optional): set to #MESHARA_NODE_ID_LEN
 *
 * The node ID: SHA-256 of the Ed25519 public key, the node's address in
 * routing and in the DHT.
 *
 * Returns: (transfer none) (array length=len): #MESHARA_NODE_ID_LEN bytes,
 *   valid as long as @identity is.
 */
const guint8 *
meshara_identity_get_node_id (MesharaIdentity *identity, gsize *len)
{
  g_return_val_if_fail (identity != NULL, NULL);
  if (len != NULL)
    *len = MESH_NODE_ID_LEN;
  return identity->id.pub.node_id;
}

/**
 * meshara_identity_get_node_id_hex:
 * @identity: the identity
 *
 * The node ID as 64 lowercase hexadecimal digits.
 *
 * Returns: (transfer full): a newly allocated string; free with g_free().
 */
char *
meshara_identity_get_node_id_hex (MesharaIdentity *identity)
{
  g_return_val_if_fail (identity != NULL, NULL);
  return mesh_node_id_to_hex (identity->id.pub.node_id);
}

/**
 * meshara_identity_get_fingerprint:
 * @identity: the identity
 *
 * A short form of the node ID for people to compare: its first 16 bytes
 * as eight dash-separated groups of four lowercase hexadecimal digits,
 * such as "1a2b-3c4d-5e6f-7a8b-9c0d-1e2f-3a4b-5c6d".
 *
 * Returns: (transfer full): a newly allocated string; free with g_free().
 */
char *
meshara_identity_get_fingerprint (MesharaIdentity *identity)
{
  g_return_val_if_fail (identity != NULL, NULL);
  return mesh_fingerprint (identity->id.pub.node_id);
}

/**
 * meshara_public_key_validate:
 * @public_key: a public key in text form
 * @error: return location for a #GError, or %NULL
 *
 * Checks a public key as returned by meshara_identity_get_public_key():
 * the "mshr1" prefix, the base64url characters, the length, the bundle
 * version, that the X25519 key is usable, and the signature binding the
 * X25519 key to the Ed25519 key.
 *
 * Errors: %MESHARA_ERROR_MALFORMED (prefix or character),
 * %MESHARA_ERROR_TRUNCATED, %MESHARA_ERROR_INVALID (too long, or a
 * low-order X25519 key), %MESHARA_ERROR_UNSUPPORTED_VERSION,
 * %MESHARA_ERROR_BAD_SIGNATURE.
 *
 * Returns: %TRUE when @public_key is valid, %FALSE with @error set.
 */
gboolean
meshara_public_key_validate (const char *public_key, GError **error)
{
  MeshPublicBundle b;

  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  return mesh_bundle_from_string (&b, public_key, error);
}
