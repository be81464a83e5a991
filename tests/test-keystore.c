/* The keystore: byte layout, round trips, and that every kind of damage
 * gives its own error before any expensive or unsafe work. */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <meshara/meshara.h>

#include "crypto/keystore.h"
#include "testutil.h"

#define LEN MESH_KEYSTORE_LEN
#define OFF_VERSION 8
#define OFF_KDF 9
#define OFF_T 10
#define OFF_M 14
#define OFF_P 18
#define OFF_SALT 22
#define OFF_NONCE 38
#define OFF_CHECK 50
#define OFF_SEALED 66
#define OFF_SUM 146

/* libargon2's minimum memory, one pass: fast enough to run thousands. */
static const MeshKdfParams small = { 1, 8, 1 };

static void
make_identity (MeshIdentity *id, guint64 seed)
{
  TestRng rng = { seed };
  mesh_identity_generate (id, test_rng, &rng);
}

/* An image in a writable buffer of exactly LEN bytes. */
static guint8 *
encode (const MeshIdentity *id, const char *passphrase,
        const MeshKdfParams *params)
{
  TestRng rng = { 1234 };
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) bytes = mesh_keystore_encode (id, passphrase, params,
                                                   test_rng, &rng, &error);
  gsize len;
  const guint8 *data;

  g_assert_no_error (error);
  g_assert_nonnull (bytes);
  data = g_bytes_get_data (bytes, &len);
  g_assert_cmpuint (len, ==, LEN);
  return g_memdup2 (data, len);
}

static void
fix_checksum (guint8 *buf)
{
  mesh_sha256 (buf, OFF_SUM, buf + OFF_SUM);
}

static void
put_be32 (guint8 *p, guint32 v)
{
  p[0] = (guint8) (v >> 24);
  p[1] = (guint8) (v >> 16);
  p[2] = (guint8) (v >> 8);
  p[3] = (guint8) v;
}

/* Decode expecting failure with code; the message must contain needle
 * when given.  The identity must come back wiped. */
static void
expect_error (const guint8 *buf, size_t len, const char *passphrase,
              int code, const char *needle)
{
  g_autoptr (GError) error = NULL;
  MeshIdentity id;

  memset (&id, 0x55, sizeof id);
  g_assert_false (mesh_keystore_decode (buf, len, passphrase, &id, &error));
  g_assert_error (error, MESHARA_ERROR, code);
  if (needle != NULL && strstr (error->message, needle) == NULL)
    g_error ("error \"%s\" does not mention \"%s\"", error->message, needle);
  g_assert_true (mesh_ct_is_zero (&id, sizeof id));
}

static void
expect_identity (const guint8 *buf, size_t len, const char *passphrase,
                 const MeshIdentity *expect)
{
  g_autoptr (GError) error = NULL;
  MeshIdentity id;

  g_assert_true (mesh_keystore_decode (buf, len, passphrase, &id, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (&id, sizeof id, expect, sizeof *expect);
}

static void
test_layout (void)
{
  MeshIdentity id;
  g_autofree guint8 *enc = NULL;
  g_autofree guint8 *plain = NULL;
  guint8 sum[32];
  static const guint8 params_be[12] = { 0, 0, 0, 1, 0, 0, 0, 8, 0, 0, 0, 1 };

  make_identity (&id, 1);
  enc = encode (&id, "correct horse", &small);
  g_assert_cmpmem (enc, 8, "MSHRKEY\0", 8);
  g_assert_cmpuint (enc[OFF_VERSION], ==, 1);
  g_assert_cmpuint (enc[OFF_KDF], ==, MESH_KDF_ARGON2ID);
  g_assert_cmpmem (enc + OFF_T, 12, params_be, 12);
  g_assert_false (mesh_ct_is_zero (enc + OFF_SALT, 16));
  g_assert_false (mesh_ct_is_zero (enc + OFF_NONCE, 12));
  /* the private keys do not appear in the clear */
  g_assert_null (memmem (enc, LEN, id.ed_priv, 8));
  g_assert_null (memmem (enc, LEN, id.x_priv, 8));
  mesh_sha256 (enc, OFF_SUM, sum);
  g_assert_cmpmem (enc + OFF_SUM, 32, sum, 32);

  plain = encode (&id, NULL, &small);
  g_assert_cmpmem (plain, 8, "MSHRKEY\0", 8);
  g_assert_cmpuint (plain[OFF_VERSION], ==, 1);
  g_assert_cmpuint (plain[OFF_KDF], ==, MESH_KDF_NONE);
  g_assert_true (mesh_ct_is_zero (plain + OFF_T, OFF_SEALED - OFF_T));
  g_assert_cmpmem (plain + OFF_SEALED, 32, id.ed_priv, 32);
  g_assert_cmpmem (plain + OFF_SEALED + 32, 32, id.x_priv, 32);
  g_assert_true (mesh_ct_is_zero (plain + OFF_SEALED + 64, 16));
  mesh_sha256 (plain, OFF_SUM, sum);
  g_assert_cmpmem (plain + OFF_SUM, 32, sum, 32);
}

static void
test_roundtrip_encrypted (void)
{
  MeshIdentity id;
  g_autofree guint8 *enc = NULL;

  make_identity (&id, 2);
  enc = encode (&id, "correct horse battery staple", &small);
  expect_identity (enc, LEN, "correct horse battery staple", &id);
}

static void
test_roundtrip_unencrypted (void)
{
  MeshIdentity id;
  g_autofree guint8 *plain = NULL;

  make_identity (&id, 3);
  plain = encode (&id, NULL, NULL);
  expect_identity (plain, LEN, NULL, &id);
  /* a passphrase given for an unencrypted keystore is not needed */
  expect_identity (plain, LEN, "anything", &id);
}

/* The one test at the real cost: t=3, 64 MiB, one lane. */
static void
test_roundtrip_default_params (void)
{
  MeshIdentity id;
  g_autofree guint8 *enc = NULL;
  static const guint8 params_be[12] = { 0, 0, 0, 3, 0, 1, 0, 0, 0, 0, 0, 1 };

  make_identity (&id, 4);
  enc = encode (&id, "default", NULL);
  g_assert_cmpmem (enc + OFF_T, 12, params_be, 12);
  expect_identity (enc, LEN, "default", &id);
}

static void
test_wrong_passphrase (void)
{
  static const char *const wrong[] = { "Secret", "secret ", "secre", "", "x" };
  MeshIdentity id;
  g_autofree guint8 *enc = NULL;

  make_identity (&id, 5);
  enc = encode (&id, "secret", &small);
  for (size_t i = 0; i < G_N_ELEMENTS (wrong); i++)
    expect_error (enc, LEN, wrong[i], MESHARA_ERROR_WRONG_PASSPHRASE,
                  "wrong passphrase");
  expect_identity (enc, LEN, "secret", &id);
}

static void
test_passphrase_required (void)
{
  MeshIdentity id;
  g_autofree guint8 *enc = NULL;

  make_identity (&id, 6);
  enc = encode (&id, "secret", &small);
  expect_error (enc, LEN, NULL, MESHARA_ERROR_PASSPHRASE_REQUIRED, NULL);
}

static void
test_encode_arguments (void)
{
  MeshIdentity id;
  TestRng rng = { 1 };
  MeshKdfParams too_big = { 1, MESH_KDF_MAX_M_COST_KIB + 1, 1 };

  make_identity (&id, 7);
  {
    g_autoptr (GError) error = NULL;
    g_assert_null (mesh_keystore_encode (&id, "", &small, test_rng, &rng, &error));
    g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT);
  }
  {
    g_autoptr (GError) error = NULL;
    g_assert_null (mesh_keystore_encode (&id, "pw", &too_big, test_rng, &rng, &error));
    g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_TOO_LARGE);
  }
}

/* Every shorter length fails as truncated, before any KDF work. */
static void
test_truncation (void)
{
  MeshIdentity id;
  g_autofree guint8 *enc = NULL;
  g_autofree guint8 *plain = NULL;
  guint8 longer[LEN + 1];

  make_identity (&id, 8);
  enc = encode (&id, "secret", &small);
  plain = encode (&id, NULL, &small);
  for (size_t len = 0; len < LEN; len++)
    {
      /* a copy of exactly len bytes, so a read past the end is caught by
       * valgrind or ASan */
      g_autofree guint8 *cut = g_memdup2 (enc, len);
      g_autofree guint8 *cut_plain = g_memdup2 (plain, len);
      expect_error (cut, len, "secret", MESHARA_ERROR_TRUNCATED, "truncated");
      expect_error (cut_plain, len, NULL, MESHARA_ERROR_TRUNCATED, "truncated");
    }
  expect_error (NULL, 0, "secret", MESHARA_ERROR_TRUNCATED, NULL);

  memcpy (longer, enc, LEN);
  longer[LEN] = 0;
  expect_error (longer, sizeof longer, "secret", MESHARA_ERROR_MALFORMED, "corrupt");
}

/* Each byte flipped in its low and its high bit.  The checksum catches
 * everything but the magic and the version, which are read first. */
static void
check_flips (guint8 *buf, const char *passphrase)
{
  static const guint8 masks[] = { 0x01, 0x80 };

  for (size_t i = 0; i < LEN; i++)
    for (size_t m = 0; m < G_N_ELEMENTS (masks); m++)
      {
        buf[i] ^= masks[m];
        if (i < 8)
          expect_error (buf, LEN, passphrase, MESHARA_ERROR_MALFORMED, "bad magic");
        else if (i == OFF_VERSION)
          expect_error (buf, LEN, passphrase, MESHARA_ERROR_UNSUPPORTED_VERSION,
                        "version");
        else
          expect_error (buf, LEN, passphrase, MESHARA_ERROR_MALFORMED,
                        "corrupt: checksum mismatch");
        buf[i] ^= masks[m];
      }
}

static void
test_bit_flips (void)
{
  MeshIdentity id;
  g_autofree guint8 *enc = NULL;
  g_autofree guint8 *plain = NULL;

  make_identity (&id, 9);
  enc = encode (&id, "secret", &small);
  plain = encode (&id, NULL, &small);
  check_flips (enc, "secret");
  check_flips (plain, NULL);
  expect_identity (enc, LEN, "secret", &id);
  expect_identity (plain, LEN, NULL, &id);
}

/* Damage with the checksum recomputed, as a deliberate attacker would do:
 * the passphrase check and the AEAD tag catch it. */
static void
test_tamper_fixed_checksum (void)
{
  MeshIdentity id;
  g_autofree guint8 *enc = NULL;

  make_identity (&id, 10);
  enc = encode (&id, "secret", &small);

  for (size_t i = 0; i < LEN - 32; i++)
    {
      g_autofree guint8 *t = g_memdup2 (enc, LEN);

      t[i] ^= 0x01;
      fix_checksum (t);
      if (i < 8)
        expect_error (t, LEN, "secret", MESHARA_ERROR_MALFORMED, "bad magic");
      else if (i == OFF_VERSION)
        expect_error (t, LEN, "secret", MESHARA_ERROR_UNSUPPORTED_VERSION, NULL);
      else if (i == OFF_KDF)
        /* 1 -> 0: an "unencrypted" keystore whose fields are not zero */
        expect_error (t, LEN, "secret", MESHARA_ERROR_INVALID, "non-zero");
      else if (i < OFF_T + 12)
        {
          /* other KDF parameters: either out of bounds, or a different
           * key and so a failed check */
          g_autoptr (GError) error = NULL;
          MeshIdentity out;
          g_assert_false (mesh_keystore_decode (t, LEN, "secret", &out, &error));
          g_assert_true (g_error_matches (error, MESHARA_ERROR, MESHARA_ERROR_WRONG_PASSPHRASE)
                         || g_error_matches (error, MESHARA_ERROR, MESHARA_ERROR_INVALID)
                         || g_error_matches (error, MESHARA_ERROR, MESHARA_ERROR_TOO_LARGE));
        }
      else if (i < OFF_NONCE)
        /* the salt changes the derived key */
        expect_error (t, LEN, "secret", MESHARA_ERROR_WRONG_PASSPHRASE, NULL);
      else if (i < OFF_CHECK)
        expect_error (t, LEN, "secret", MESHARA_ERROR_DECRYPT, "tampered");
      else if (i < OFF_SEALED)
        expect_error (t, LEN, "secret", MESHARA_ERROR_WRONG_PASSPHRASE, NULL);
      else
        expect_error (t, LEN, "secret", MESHARA_ERROR_DECRYPT, "tampered");
    }
  {
    g_autofree guint8 *t = g_memdup2 (enc, LEN);
    t[OFF_KDF] = 2;
    fix_checksum (t);
    expect_error (t, LEN, "secret", MESHARA_ERROR_UNSUPPORTED_VERSION, "KDF id 2");
  }
}

/* An unencrypted keystore must carry zeros where an encrypted one has
 * KDF data. */
static void
test_unencrypted_nonzero_fields (void)
{
  static const struct { size_t off; const char *name; } fields[] = {
    { OFF_T, "KDF parameters" }, { OFF_P + 3, "KDF parameters" },
    { OFF_SALT, "salt" }, { OFF_NONCE + 11, "nonce" },
    { OFF_CHECK, "check value" }, { OFF_SEALED + 64, "tag" },
  };
  MeshIdentity id;
  g_autofree guint8 *plain = NULL;

  make_identity (&id, 11);
  plain = encode (&id, NULL, &small);
  for (size_t i = 0; i < G_N_ELEMENTS (fields); i++)
    {
      g_autofree guint8 *t = g_memdup2 (plain, LEN);
      t[fields[i].off] = 1;
      fix_checksum (t);
      expect_error (t, LEN, NULL, MESHARA_ERROR_INVALID, fields[i].name);
    }
}

/* Parameters from the file are bounded before the KDF runs: a hostile
 * file with a valid checksum must not make us allocate 4 TiB or run for
 * hours.  Refused with or without a passphrase. */
static void
test_hostile_params (void)
{
  static const struct {
    guint32 t, m, p;
    int code;
    const char *field;
  } cases[] = {
    { 1, 0xffffffffu, 1, MESHARA_ERROR_TOO_LARGE, "m_cost" },
    { 1, MESH_KDF_MAX_M_COST_KIB + 1, 1, MESHARA_ERROR_TOO_LARGE, "m_cost" },
    { 0xffffffffu, 8, 1, MESHARA_ERROR_TOO_LARGE, "t_cost" },
    { MESH_KDF_MAX_T_COST + 1, 8, 1, MESHARA_ERROR_TOO_LARGE, "t_cost" },
    { 1, 1024, 0xffffffffu, MESHARA_ERROR_TOO_LARGE, "parallelism" },
    { 1, 1024, MESH_KDF_MAX_PARALLELISM + 1, MESHARA_ERROR_TOO_LARGE, "parallelism" },
    { 0, 8, 1, MESHARA_ERROR_INVALID, "t_cost" },
    { 1, 8, 0, MESHARA_ERROR_INVALID, "parallelism" },
    { 1, 7, 1, MESHARA_ERROR_INVALID, "m_cost" },
    { 1, 15, 2, MESHARA_ERROR_INVALID, "m_cost" },
  };
  MeshIdentity id;
  g_autofree guint8 *enc = NULL;

  make_identity (&id, 12);
  enc = encode (&id, "secret", &small);
  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree guint8 *t = g_memdup2 (enc, LEN);
      put_be32 (t + OFF_T, cases[i].t);
      put_be32 (t + OFF_M, cases[i].m);
      put_be32 (t + OFF_P, cases[i].p);
      fix_checksum (t);
      expect_error (t, LEN, "secret", cases[i].code, cases[i].field);
      expect_error (t, LEN, NULL, cases[i].code, cases[i].field);
    }
}

static void
test_unsupported_version (void)
{
  static const guint8 versions[] = { 0, 2, 0xff };
  MeshIdentity id;
  g_autofree guint8 *enc = NULL;
  guint8 longer[LEN + 50];

  make_identity (&id, 13);
  enc = encode (&id, "secret", &small);
  for (size_t i = 0; i < G_N_ELEMENTS (versions); i++)
    {
      g_autofree guint8 *t = g_memdup2 (enc, LEN);
      t[OFF_VERSION] = versions[i];
      expect_error (t, LEN, "secret", MESHARA_ERROR_UNSUPPORTED_VERSION, "version");
      fix_checksum (t);
      expect_error (t, LEN, "secret", MESHARA_ERROR_UNSUPPORTED_VERSION, "version");
      /* a later version may be of another length: still told as such */
      expect_error (t, 20, "secret", MESHARA_ERROR_UNSUPPORTED_VERSION, "version");
      memset (longer, 0, sizeof longer);
      memcpy (longer, t, LEN);
      expect_error (longer, sizeof longer, "secret",
                    MESHARA_ERROR_UNSUPPORTED_VERSION, "version");
    }
}

static void
test_not_a_keystore (void)
{
  TestRng rng = { 77 };
  guint8 buf[300];

  expect_error ((const guint8 *) "MSHRKEX", 7, NULL, MESHARA_ERROR_MALFORMED, "bad magic");
  expect_error ((const guint8 *) "-----BEGIN", 10, NULL, MESHARA_ERROR_MALFORMED, "bad magic");
  /* random bytes of every length up to beyond the format */
  for (size_t len = 1; len <= sizeof buf; len++)
    {
      g_autofree guint8 *t = NULL;
      test_rng (&rng, buf, len);
      if (buf[0] == 'M')
        buf[0] ^= 1;
      t = g_memdup2 (buf, len);
      expect_error (t, len, "pw", MESHARA_ERROR_MALFORMED, "bad magic");
      /* right magic and version, random rest: the checksum stops it */
      if (len >= 9)
        {
          g_autoptr (GError) error = NULL;
          MeshIdentity out;

          memcpy (t, "MSHRKEY\0\1", 9);
          g_assert_false (mesh_keystore_decode (t, len, "pw", &out, &error));
          g_assert_true (g_error_matches (error, MESHARA_ERROR, MESHARA_ERROR_TRUNCATED)
                         || g_error_matches (error, MESHARA_ERROR, MESHARA_ERROR_MALFORMED));
        }
    }
}

/* Files */

typedef struct {
  char *tmp;    /* 0700, from g_dir_make_tmp */
  char *dir;    /* tmp/keys, made by the first save */
  char *path;   /* tmp/keys/identity.key */
} Fixture;

static void
rm_rf (const char *path)
{
  GDir *dir = g_dir_open (path, 0, NULL);

  if (dir != NULL)
    {
      const char *name;
      g_chmod (path, 0700);
      while ((name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);
          rm_rf (child);
        }
      g_dir_close (dir);
      g_assert_cmpint (g_rmdir (path), ==, 0);
    }
  else
    g_assert_cmpint (g_unlink (path), ==, 0);
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  GError *error = NULL;

  f->tmp = g_dir_make_tmp ("meshara-keystore-XXXXXX", &error);
  g_assert_no_error (error);
  f->dir = g_build_filename (f->tmp, "keys", NULL);
  f->path = g_build_filename (f->dir, "identity.key", NULL);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  mesh_keystore_set_hooks (NULL);
  rm_rf (f->tmp);
  g_free (f->tmp);
  g_free (f->dir);
  g_free (f->path);
}

static void
save (const char *path, const MeshIdentity *id, const char *passphrase)
{
  TestRng rng = { 5678 };
  g_autoptr (GError) error = NULL;

  g_assert_true (mesh_keystore_save (path, id, passphrase, &small,
                                     test_rng, &rng, &error));
  g_assert_no_error (error);
}

static guint
count_entries (const char *dir)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  guint n = 0;

  g_assert_nonnull (d);
  while (g_dir_read_name (d) != NULL)
    n++;
  g_dir_close (d);
  return n;
}

static void
test_file_roundtrip (Fixture *f, gconstpointer data)
{
  MeshIdentity id, back;
  g_autoptr (GError) error = NULL;
  struct stat st;

  make_identity (&id, 20);
  save (f->path, &id, "secret");
  g_assert_cmpint (g_stat (f->path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 07777, ==, 0600);
  g_assert_cmpint (st.st_size, ==, LEN);
  g_assert_cmpint (g_stat (f->dir, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 07777, ==, 0700);
  /* nothing but the keystore is left in the directory */
  g_assert_cmpuint (count_entries (f->dir), ==, 1);

  g_assert_true (mesh_keystore_load (f->path, "secret", &back, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (&back, sizeof back, &id, sizeof id);

  g_assert_false (mesh_keystore_load (f->path, NULL, &back, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_PASSPHRASE_REQUIRED);
  g_clear_error (&error);
  g_assert_false (mesh_keystore_load (f->path, "wrong", &back, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_WRONG_PASSPHRASE);
  /* file errors name the file */
  g_assert_nonnull (strstr (error->message, f->path));
  g_clear_error (&error);

  /* replace with an unencrypted one */
  save (f->path, &id, NULL);
  g_assert_cmpint (g_stat (f->path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 07777, ==, 0600);
  g_assert_true (mesh_keystore_load (f->path, NULL, &back, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (&back, sizeof back, &id, sizeof id);
  g_assert_cmpuint (count_entries (f->dir), ==, 1);
}

/* The mode comes out exact whatever the umask. */
static void
test_file_umask (Fixture *f, gconstpointer data)
{
  MeshIdentity id;
  struct stat st;
  mode_t old = umask (0);

  make_identity (&id, 21);
  save (f->path, &id, NULL);
  umask (old);
  g_assert_cmpint (g_stat (f->path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 07777, ==, 0600);
  g_assert_cmpint (g_stat (f->dir, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 07777, ==, 0700);
}

static void
test_file_refuses_loose_file (Fixture *f, gconstpointer data)
{
  static const int modes[] = { 0644, 0640, 0604, 0620, 0602, 0610, 0601 };
  MeshIdentity id, back;

  make_identity (&id, 22);
  save (f->path, &id, NULL);
  for (size_t i = 0; i < G_N_ELEMENTS (modes); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *octal = g_strdup_printf ("%04o", modes[i]);

      g_assert_cmpint (g_chmod (f->path, modes[i]), ==, 0);
      g_assert_false (mesh_keystore_load (f->path, NULL, &back, &error));
      g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_PERMISSION);
      g_assert_nonnull (strstr (error->message, octal));
      g_assert_nonnull (strstr (error->message, f->path));
    }
  g_assert_cmpint (g_chmod (f->path, 0400), ==, 0);
  g_assert_true (mesh_keystore_load (f->path, NULL, &back, NULL));
}

static void
test_file_refuses_loose_dir (Fixture *f, gconstpointer data)
{
  static const int modes[] = { 0755, 0750, 0705, 0770, 0707, 0711 };
  MeshIdentity id;
  TestRng rng = { 1 };

  make_identity (&id, 23);
  g_assert_cmpint (g_mkdir (f->dir, 0700), ==, 0);
  for (size_t i = 0; i < G_N_ELEMENTS (modes); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *octal = g_strdup_printf ("%04o", modes[i]);

      g_assert_cmpint (g_chmod (f->dir, modes[i]), ==, 0);
      g_assert_false (mesh_keystore_save (f->path, &id, NULL, NULL,
                                          test_rng, &rng, &error));
      g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_PERMISSION);
      g_assert_nonnull (strstr (error->message, octal));
      g_assert_cmpuint (count_entries (f->dir), ==, 0);
    }
}

typedef struct {
  char *tmp_path;
  gboolean tmp_existed;
  guint calls;
} HookState;

static gboolean
fail_before_rename (const char *tmp_path, void *user_data)
{
  HookState *s = user_data;
  struct stat st;

  s->calls++;
  s->tmp_path = g_strdup (tmp_path);
  /* the new content is complete on disk at this point */
  s->tmp_existed = g_stat (tmp_path, &st) == 0 && st.st_size == LEN
                   && (st.st_mode & 07777) == 0600;
  return FALSE;
}

static void
test_file_interrupted (Fixture *f, gconstpointer data)
{
  MeshIdentity old_id, new_id, back;
  HookState state = { 0 };
  MeshKeystoreHooks hooks = { fail_before_rename, &state };
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  gsize before_len, after_len;
  g_autoptr (GError) error = NULL;

  make_identity (&old_id, 24);
  make_identity (&new_id, 25);
  save (f->path, &old_id, "secret");
  g_assert_true (g_file_get_contents (f->path, &before, &before_len, NULL));

  mesh_keystore_set_hooks (&hooks);
  {
    TestRng rng = { 3 };
    g_assert_false (mesh_keystore_save (f->path, &new_id, "secret", &small,
                                        test_rng, &rng, &error));
  }
  mesh_keystore_set_hooks (NULL);
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_IO);
  g_assert_nonnull (strstr (error->message, "interrupted"));
  g_clear_error (&error);
  g_assert_cmpuint (state.calls, ==, 1);
  g_assert_true (state.tmp_existed);
  /* the temporary was in the same directory, and is gone */
  g_assert_true (g_str_has_prefix (state.tmp_path, f->dir));
  g_assert_false (g_file_test (state.tmp_path, G_FILE_TEST_EXISTS));
  g_assert_cmpuint (count_entries (f->dir), ==, 1);

  /* the old file, byte for byte */
  g_assert_true (g_file_get_contents (f->path, &after, &after_len, NULL));
  g_assert_cmpmem (after, after_len, before, before_len);
  g_assert_true (mesh_keystore_load (f->path, "secret", &back, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (&back, sizeof back, &old_id, sizeof old_id);
  g_free (state.tmp_path);

  /* and without the hook the same save goes through */
  save (f->path, &new_id, "secret");
  g_assert_true (mesh_keystore_load (f->path, "secret", &back, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (&back, sizeof back, &new_id, sizeof new_id);
}

static void
write_file (const char *path, const void *data, gsize len, int mode)
{
  GError *error = NULL;

  /* Without G_FILE_SET_CONTENTS_CONSISTENT GLib writes in place and may
   * leave old bytes behind; start from no file. */
  g_unlink (path);
  g_assert_true (g_file_set_contents_full (path, data, (gssize) len,
                                           G_FILE_SET_CONTENTS_NONE, mode,
                                           &error));
  g_assert_no_error (error);
}

static void
test_file_bad_files (Fixture *f, gconstpointer data)
{
  MeshIdentity id, back;
  g_autofree guint8 *big = g_malloc0 (MESH_KEYSTORE_MAX_FILE_SIZE + 1);
  g_autofree guint8 *enc = NULL;
  g_autofree char *sub = g_build_filename (f->tmp, "sub", NULL);
  g_autofree char *fifo = g_build_filename (f->tmp, "fifo", NULL);
  g_autofree char *missing = g_build_filename (f->tmp, "missing", NULL);

  make_identity (&id, 26);
  /* tmp itself, which exists with mode 0700 */
  g_free (f->path);
  f->path = g_build_filename (f->tmp, "identity.key", NULL);
  {
    g_autoptr (GError) error = NULL;
    memcpy (big, "MSHRKEY\0\1", 9);
    write_file (f->path, big, MESH_KEYSTORE_MAX_FILE_SIZE + 1, 0600);
    g_assert_false (mesh_keystore_load (f->path, NULL, &back, &error));
    g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_TOO_LARGE);
  }
  {
    g_autoptr (GError) error = NULL;
    write_file (f->path, "", 0, 0600);
    g_assert_false (mesh_keystore_load (f->path, NULL, &back, &error));
    g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_TRUNCATED);
  }
  {
    g_autoptr (GError) error = NULL;
    enc = encode (&id, "secret", &small);
    write_file (f->path, enc, 100, 0600);
    g_assert_false (mesh_keystore_load (f->path, "secret", &back, &error));
    g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_TRUNCATED);
    g_assert_nonnull (strstr (error->message, f->path));
  }
  {
    g_autoptr (GError) error = NULL;
    g_assert_cmpint (g_mkdir (sub, 0700), ==, 0);
    g_assert_false (mesh_keystore_load (sub, NULL, &back, &error));
    g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_IO);
  }
  {
    /* a FIFO must be refused, not block waiting for a writer */
    g_autoptr (GError) error = NULL;
    g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);
    g_assert_false (mesh_keystore_load (fifo, NULL, &back, &error));
    g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_IO);
    g_assert_nonnull (strstr (error->message, "regular"));
  }
  {
    g_autoptr (GError) error = NULL;
    g_assert_false (mesh_keystore_load (missing, NULL, &back, &error));
    g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_NOT_FOUND);
    g_assert_nonnull (strstr (error->message, missing));
  }
  {
    /* the directory part is a regular file */
    g_autoptr (GError) error = NULL;
    g_autofree char *under_file = g_build_filename (f->path, "x.key", NULL);
    TestRng rng = { 1 };
    g_assert_false (mesh_keystore_save (under_file, &id, NULL, NULL,
                                        test_rng, &rng, &error));
    g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_IO);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/keystore/layout", test_layout);
  g_test_add_func ("/keystore/roundtrip/encrypted", test_roundtrip_encrypted);
  g_test_add_func ("/keystore/roundtrip/unencrypted", test_roundtrip_unencrypted);
  g_test_add_func ("/keystore/roundtrip/default-params", test_roundtrip_default_params);
  g_test_add_func ("/keystore/wrong-passphrase", test_wrong_passphrase);
  g_test_add_func ("/keystore/passphrase-required", test_passphrase_required);
  g_test_add_func ("/keystore/encode-arguments", test_encode_arguments);
  g_test_add_func ("/keystore/truncation", test_truncation);
  g_test_add_func ("/keystore/bit-flips", test_bit_flips);
  g_test_add_func ("/keystore/tamper-fixed-checksum", test_tamper_fixed_checksum);
  g_test_add_func ("/keystore/unencrypted-nonzero-fields", test_unencrypted_nonzero_fields);
  g_test_add_func ("/keystore/hostile-kdf-params", test_hostile_params);
  g_test_add_func ("/keystore/unsupported-version", test_unsupported_version);
  g_test_add_func ("/keystore/not-a-keystore", test_not_a_keystore);
  g_test_add ("/keystore/file/roundtrip", Fixture, NULL,
              fixture_setup, test_file_roundtrip, fixture_teardown);
  g_test_add ("/keystore/file/umask", Fixture, NULL,
              fixture_setup, test_file_umask, fixture_teardown);
  g_test_add ("/keystore/file/refuses-loose-file", Fixture, NULL,
              fixture_setup, test_file_refuses_loose_file, fixture_teardown);
  g_test_add ("/keystore/file/refuses-loose-dir", Fixture, NULL,
              fixture_setup, test_file_refuses_loose_dir, fixture_teardown);
  g_test_add ("/keystore/file/interrupted-write", Fixture, NULL,
              fixture_setup, test_file_interrupted, fixture_teardown);
  g_test_add ("/keystore/file/bad-files", Fixture, NULL,
              fixture_setup, test_file_bad_files, fixture_teardown);

  return g_test_run ();
}
