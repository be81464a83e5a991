/* Known-answer tests of the crypto wrappers: RFC 8032, RFC 7748,
 * RFC 8439, FIPS 180-4 examples and RFC 4231. */
#include "config.h"

#include <string.h>
#include <glib.h>

#include "crypto/util.h"
#include "crypto/hash.h"
#include "crypto/aead.h"
#include "crypto/sign.h"
#include "testutil.h"

/* Ed25519 */

typedef struct {
  const char *name;
  const char *secret;
  const char *public;
  const char *message;
  const char *signature;
} Ed25519Vector;

/* RFC 8032 section 7.1 */
static const Ed25519Vector ed25519_vectors[] = {
  { "test1",
    "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
    "",
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
    "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b" },
  { "test2",
    "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
    "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
    "72",
    "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
    "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00" },
  { "test3",
    "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
    "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
    "af82",
    "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
    "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a" },
  { "sha-abc",
    "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
    "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
    "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
    "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
    "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b589"
    "09351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704" },
};

static void
test_ed25519_rfc8032 (gconstpointer data)
{
  const Ed25519Vector *v = data;
  uint8_t priv[32], pub_expect[32], pub[32];
  uint8_t sig_expect[64], sig[64];
  gsize mlen;
  guint8 *msg = test_unhex (v->message, &mlen);

  test_unhex_into (v->secret, priv, 32);
  test_unhex_into (v->public, pub_expect, 32);
  test_unhex_into (v->signature, sig_expect, 64);

  mesh_ed25519_public_key (priv, pub);
  g_assert_cmpmem (pub, 32, pub_expect, 32);
  mesh_ed25519_sign (priv, pub, msg, mlen, sig);
  g_assert_cmpmem (sig, 64, sig_expect, 64);
  g_assert_true (mesh_ed25519_verify (pub, msg, mlen, sig));
  g_free (msg);
}

static void
test_ed25519_rejects (void)
{
  const Ed25519Vector *v = &ed25519_vectors[2];
  uint8_t priv[32], pub[32], sig[64], other_pub[32];
  uint8_t msg[2] = { 0xaf, 0x82 };

  test_unhex_into (v->secret, priv, 32);
  test_unhex_into (v->public, pub, 32);
  test_unhex_into (v->signature, sig, 64);
  test_unhex_into (ed25519_vectors[1].public, other_pub, 32);
  g_assert_true (mesh_ed25519_verify (pub, msg, sizeof msg, sig));

  /* every bit of the message, a bit in each half of the signature, the
   * wrong key, and a shortened message */
  for (size_t i = 0; i < sizeof msg * 8; i++)
    {
      msg[i / 8] ^= (uint8_t) (1u << (i % 8));
      g_assert_false (mesh_ed25519_verify (pub, msg, sizeof msg, sig));
      msg[i / 8] ^= (uint8_t) (1u << (i % 8));
    }
  for (size_t i = 0; i < 64; i++)
    {
      sig[i] ^= 0x01;
      g_assert_false (mesh_ed25519_verify (pub, msg, sizeof msg, sig));
      sig[i] ^= 0x01;
    }
  g_assert_false (mesh_ed25519_verify (other_pub, msg, sizeof msg, sig));
  g_assert_false (mesh_ed25519_verify (pub, msg, 1, sig));
  g_assert_true (mesh_ed25519_verify (pub, msg, sizeof msg, sig));
}

/* X25519 */

typedef struct {
  const char *name;
  const char *scalar;
  const char *u;
  const char *out;
} X25519Vector;

/* RFC 7748 section 5.2 */
static const X25519Vector x25519_vectors[] = {
  { "1",
    "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
    "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
    "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552" },
  { "2",
    "4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
    "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
    "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957" },
};

static void
test_x25519_rfc7748 (gconstpointer data)
{
  const X25519Vector *v = data;
  uint8_t k[32], u[32], expect[32], out[32];

  test_unhex_into (v->scalar, k, 32);
  test_unhex_into (v->u, u, 32);
  test_unhex_into (v->out, expect, 32);
  g_assert_true (mesh_x25519 (k, u, out));
  g_assert_cmpmem (out, 32, expect, 32);
}

/* RFC 7748 section 5.2, the iterated test: after 1 and 1,000 rounds. */
static void
test_x25519_iterated (void)
{
  uint8_t k[32] = { 9 }, u[32] = { 9 }, r[32], expect[32];

  for (int i = 1; i <= 1000; i++)
    {
      g_assert_true (mesh_x25519 (k, u, r));
      memcpy (u, k, 32);
      memcpy (k, r, 32);
      if (i == 1)
        {
          test_unhex_into ("422c8e7a6227d7bca1350b3e2bb7279f"
                           "7897b87bb6854b783c60e80311ae3079", expect, 32);
          g_assert_cmpmem (k, 32, expect, 32);
        }
    }
  test_unhex_into ("684cf59ba83309552800ef566f2f4d3c"
                   "1c3887c49360e3875f2eb94d99532c51", expect, 32);
  g_assert_cmpmem (k, 32, expect, 32);
}

/* RFC 7748 section 6.1 */
static void
test_x25519_dh (void)
{
  uint8_t a[32], b[32], a_pub[32], b_pub[32], expect[32];
  uint8_t s1[32], s2[32], k[32];

  test_unhex_into ("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a", a, 32);
  test_unhex_into ("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb", b, 32);
  mesh_x25519_public_key (a, a_pub);
  mesh_x25519_public_key (b, b_pub);
  test_unhex_into ("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a", k, 32);
  g_assert_cmpmem (a_pub, 32, k, 32);
  test_unhex_into ("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f", k, 32);
  g_assert_cmpmem (b_pub, 32, k, 32);
  test_unhex_into ("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742", expect, 32);
  g_assert_true (mesh_x25519 (a, b_pub, s1));
  g_assert_true (mesh_x25519 (b, a_pub, s2));
  g_assert_cmpmem (s1, 32, expect, 32);
  g_assert_cmpmem (s2, 32, expect, 32);
}

static void
test_x25519_low_order (void)
{
  uint8_t priv[32], zero[32] = { 0 }, one[32] = { 1 }, out[32];

  test_unhex_into ("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a", priv, 32);
  g_assert_false (mesh_x25519 (priv, zero, out));
  g_assert_true (mesh_ct_is_zero (out, 32));
  g_assert_false (mesh_x25519 (priv, one, out));
}

/* ChaCha20-Poly1305, RFC 8439 section 2.8.2 */

static const char aead_pt[] =
  "Ladies and Gentlemen of the class of '99: If I could offer you only one "
  "tip for the future, sunscreen would be it.";
static const char aead_ct_hex[] =
  "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6"
  "3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36"
  "92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc"
  "3ff4def08e4b7a9de576d26586cec64b6116";
static const char aead_tag_hex[] = "1ae10b594f09e26a7e902ecbd0600691";

static void
aead_setup (uint8_t key[32], uint8_t nonce[12], uint8_t ad[12])
{
  for (int i = 0; i < 32; i++)
    key[i] = (uint8_t) (0x80 + i);
  test_unhex_into ("070000004041424344454647", nonce, 12);
  test_unhex_into ("50515253c0c1c2c3c4c5c6c7", ad, 12);
}

static void
test_aead_rfc8439 (void)
{
  uint8_t key[32], nonce[12], ad[12];
  size_t len = sizeof aead_pt - 1;
  gsize ct_len;
  guint8 *expect = test_unhex (aead_ct_hex, &ct_len);
  uint8_t tag[16];
  uint8_t *out = g_malloc (len + 16);
  uint8_t *back = g_malloc (len);

  g_assert_cmpuint (ct_len, ==, len);
  test_unhex_into (aead_tag_hex, tag, 16);
  aead_setup (key, nonce, ad);

  mesh_aead_seal (key, nonce, ad, sizeof ad, (const uint8_t *) aead_pt, len, out);
  g_assert_cmpmem (out, len, expect, len);
  g_assert_cmpmem (out + len, 16, tag, 16);

  g_assert_true (mesh_aead_open (key, nonce, ad, sizeof ad, out, len + 16, back));
  g_assert_cmpmem (back, len, aead_pt, len);

  /* in place both ways */
  {
    uint8_t *buf = g_malloc (len + 16);
    memcpy (buf, aead_pt, len);
    mesh_aead_seal (key, nonce, ad, sizeof ad, buf, len, buf);
    g_assert_cmpmem (buf, len + 16, out, len + 16);
    g_assert_true (mesh_aead_open (key, nonce, ad, sizeof ad, buf, len + 16, buf));
    g_assert_cmpmem (buf, len, aead_pt, len);
    g_free (buf);
  }
  g_free (expect);
  g_free (out);
  g_free (back);
}

static void
test_aead_tamper (void)
{
  uint8_t key[32], nonce[12], ad[12];
  size_t len = sizeof aead_pt - 1;
  uint8_t *sealed = g_malloc (len + 16);
  uint8_t *back = g_malloc (len);

  aead_setup (key, nonce, ad);
  mesh_aead_seal (key, nonce, ad, sizeof ad, (const uint8_t *) aead_pt, len, sealed);

  /* a flipped bit anywhere in ciphertext or tag */
  for (size_t i = 0; i < len + 16; i++)
    {
      sealed[i] ^= 0x04;
      memset (back, 0xaa, len);
      g_assert_false (mesh_aead_open (key, nonce, ad, sizeof ad, sealed, len + 16, back));
      /* nothing of the plaintext is released on failure */
      g_assert_true (mesh_ct_is_zero (back, len));
      sealed[i] ^= 0x04;
    }
  ad[0] ^= 1;
  g_assert_false (mesh_aead_open (key, nonce, ad, sizeof ad, sealed, len + 16, back));
  ad[0] ^= 1;
  nonce[11] ^= 1;
  g_assert_false (mesh_aead_open (key, nonce, ad, sizeof ad, sealed, len + 16, back));
  nonce[11] ^= 1;
  key[0] ^= 1;
  g_assert_false (mesh_aead_open (key, nonce, ad, sizeof ad, sealed, len + 16, back));
  key[0] ^= 1;
  /* shorter than a tag */
  g_assert_false (mesh_aead_open (key, nonce, ad, sizeof ad, sealed, 15, back));
  g_assert_true (mesh_aead_open (key, nonce, ad, sizeof ad, sealed, len + 16, back));
  g_free (sealed);
  g_free (back);
}

static void
test_aead_noise_nonce (void)
{
  uint8_t n[12], expect[12];

  mesh_aead_noise_nonce (0x0102030405060708ULL, n);
  test_unhex_into ("000000000807060504030201", expect, 12);
  g_assert_cmpmem (n, 12, expect, 12);
}

/* SHA-256, FIPS 180-4 examples */

static void
check_sha256 (const void *data, size_t len, const char *hex)
{
  uint8_t out[32], expect[32];

  test_unhex_into (hex, expect, 32);
  mesh_sha256 (data, len, out);
  g_assert_cmpmem (out, 32, expect, 32);
}

static void
test_sha256_abc (void)
{
  uint8_t out[32], expect[32];

  check_sha256 ("abc", 3,
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  /* the two-buffer form, split at every point */
  test_unhex_into ("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
                   expect, 32);
  for (size_t i = 0; i <= 3; i++)
    {
      mesh_sha256_2 ("abc", i, "abc" + i, 3 - i, out);
      g_assert_cmpmem (out, 32, expect, 32);
    }
  check_sha256 ("", 0,
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void
test_sha256_448 (void)
{
  const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  check_sha256 (m, strlen (m),
                "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void
test_sha256_million (void)
{
  size_t n = 1000000;
  char *m = g_malloc (n);

  memset (m, 'a', n);
  check_sha256 (m, n,
                "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  g_free (m);
}

/* HMAC-SHA256, RFC 4231 */

static void
test_hmac_rfc4231 (void)
{
  uint8_t key[20], out[32], expect[32];
  const char *d1 = "Hi There";
  const char *d2 = "what do ya want for nothing?";

  memset (key, 0x0b, sizeof key);
  mesh_hmac_sha256 (key, sizeof key, d1, strlen (d1), out);
  test_unhex_into ("b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7", expect, 32);
  g_assert_cmpmem (out, 32, expect, 32);

  mesh_hmac_sha256 ((const uint8_t *) "Jefe", 4, d2, strlen (d2), out);
  test_unhex_into ("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", expect, 32);
  g_assert_cmpmem (out, 32, expect, 32);
}

/* util */

static void
test_ct_equal (void)
{
  uint8_t a[64], b[64];

  for (int i = 0; i < 64; i++)
    a[i] = b[i] = (uint8_t) (i * 7);
  g_assert_true (mesh_ct_equal (a, b, sizeof a));
  g_assert_true (mesh_ct_equal (a, b, 0));
  for (size_t i = 0; i < sizeof a; i++)
    for (int bit = 0; bit < 8; bit++)
      {
        b[i] ^= (uint8_t) (1u << bit);
        g_assert_false (mesh_ct_equal (a, b, sizeof a));
        b[i] ^= (uint8_t) (1u << bit);
      }
}

static void
test_ct_is_zero (void)
{
  uint8_t z[40] = { 0 };

  g_assert_true (mesh_ct_is_zero (z, sizeof z));
  g_assert_true (mesh_ct_is_zero (z, 0));
  for (size_t i = 0; i < sizeof z; i++)
    {
      z[i] = 0x80;
      g_assert_false (mesh_ct_is_zero (z, sizeof z));
      z[i] = 0;
    }
}

static void
test_wipe (void)
{
  uint8_t buf[33];

  memset (buf, 0x5a, sizeof buf);
  mesh_wipe (buf, sizeof buf);
  g_assert_true (mesh_ct_is_zero (buf, sizeof buf));
  mesh_wipe (NULL, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  for (size_t i = 0; i < G_N_ELEMENTS (ed25519_vectors); i++)
    {
      char *path = g_strdup_printf ("/crypto/ed25519/rfc8032/%s",
                                    ed25519_vectors[i].name);
      g_test_add_data_func (path, &ed25519_vectors[i], test_ed25519_rfc8032);
      g_free (path);
    }
  g_test_add_func ("/crypto/ed25519/rejects", test_ed25519_rejects);
  for (size_t i = 0; i < G_N_ELEMENTS (x25519_vectors); i++)
    {
      char *path = g_strdup_printf ("/crypto/x25519/rfc7748/%s",
                                    x25519_vectors[i].name);
      g_test_add_data_func (path, &x25519_vectors[i], test_x25519_rfc7748);
      g_free (path);
    }
  g_test_add_func ("/crypto/x25519/rfc7748/iterated-1000", test_x25519_iterated);
  g_test_add_func ("/crypto/x25519/rfc7748/dh", test_x25519_dh);
  g_test_add_func ("/crypto/x25519/low-order", test_x25519_low_order);
  g_test_add_func ("/crypto/aead/rfc8439", test_aead_rfc8439);
  g_test_add_func ("/crypto/aead/tamper", test_aead_tamper);
  g_test_add_func ("/crypto/aead/noise-nonce", test_aead_noise_nonce);
  g_test_add_func ("/crypto/sha256/abc", test_sha256_abc);
  g_test_add_func ("/crypto/sha256/448-bit", test_sha256_448);
  g_test_add_func ("/crypto/sha256/million-a", test_sha256_million);
  g_test_add_func ("/crypto/hmac-sha256/rfc4231", test_hmac_rfc4231);
  g_test_add_func ("/crypto/util/ct-equal", test_ct_equal);
  g_test_add_func ("/crypto/util/ct-is-zero", test_ct_is_zero);
  g_test_add_func ("/crypto/util/wipe", test_wipe);

  return g_test_run ();
}
