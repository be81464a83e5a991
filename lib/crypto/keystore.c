#include "config.h"

#include "crypto/keystore.h"
#include "crypto/aead.h"
#include "crypto/hash.h"

#include <argon2.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <meshara/meshara.h>

#define OFF_VERSION 8
#define OFF_KDF 9
#define OFF_T_COST 10
#define OFF_M_COST 14
#define OFF_PARALLELISM 18
#define OFF_SALT 22
#define OFF_NONCE (OFF_SALT + MESH_KEYSTORE_SALT_LEN)
#define OFF_CHECK (OFF_NONCE + MESH_AEAD_NONCE_LEN)
#define OFF_SEALED (OFF_CHECK + MESH_KEYSTORE_CHECK_LEN)
#define KEYS_LEN (MESH_ED25519_KEY_LEN + MESH_X25519_KEY_LEN)
#define SEALED_LEN (KEYS_LEN + MESH_AEAD_TAG_LEN)
#define OFF_SUM (OFF_SEALED + SEALED_LEN)

G_STATIC_ASSERT (OFF_SEALED == MESH_KEYSTORE_HEADER_LEN);
G_STATIC_ASSERT (OFF_SUM + MESH_SHA256_LEN == MESH_KEYSTORE_LEN);
G_STATIC_ASSERT (sizeof MESH_KEYSTORE_MAGIC == MESH_KEYSTORE_MAGIC_LEN);

#define LABEL_KEY "meshara/1 keystore key"
#define LABEL_CHECK "meshara/1 keystore check"
#define KDF_OUT_LEN 32

static MeshKeystoreHooks hooks;

void
mesh_keystore_set_hooks (const MeshKeystoreHooks *h)
{
  if (h != NULL)
    hooks = *h;
  else
    memset (&hooks, 0, sizeof hooks);
}

static void
put_be32 (uint8_t *p, uint32_t v)
{
  p[0] = (uint8_t) (v >> 24);
  p[1] = (uint8_t) (v >> 16);
  p[2] = (uint8_t) (v >> 8);
  p[3] = (uint8_t) v;
}

static uint32_t
get_be32 (const uint8_t *p)
{
  return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16
         | (uint32_t) p[2] << 8 | (uint32_t) p[3];
}

void
mesh_kdf_params_default (MeshKdfParams *params)
{
  params->t_cost = MESH_KDF_DEFAULT_T_COST;
  params->m_cost_kib = MESH_KDF_DEFAULT_M_COST_KIB;
  params->parallelism = MESH_KDF_DEFAULT_PARALLELISM;
}

gboolean
mesh_kdf_params_check (const MeshKdfParams *params, GError **error)
{
  if (params->t_cost < 1)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID,
                   "Argon2id t_cost %u is below the minimum 1",
                   params->t_cost);
      return FALSE;
    }
  if (params->t_cost > MESH_KDF_MAX_T_COST)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_TOO_LARGE,
                   "Argon2id t_cost %u exceeds the limit %d",
                   params->t_cost, MESH_KDF_MAX_T_COST);
      return FALSE;
    }
  if (params->parallelism < 1)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID,
                   "Argon2id parallelism %u is below the minimum 1",
                   params->parallelism);
      return FALSE;
    }
  if (params->parallelism > MESH_KDF_MAX_PARALLELISM)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_TOO_LARGE,
                   "Argon2id parallelism %u exceeds the limit %d",
                   params->parallelism, MESH_KDF_MAX_PARALLELISM);
      return FALSE;
    }
  if (params->m_cost_kib > MESH_KDF_MAX_M_COST_KIB)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_TOO_LARGE,
                   "Argon2id m_cost %u KiB exceeds the limit %d KiB",
                   params->m_cost_kib, MESH_KDF_MAX_M_COST_KIB);
      return FALSE;
    }
  if (params->m_cost_kib
      < MESH_KDF_MIN_M_COST_KIB_PER_LANE * params->parallelism)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID,
                   "Argon2id m_cost %u KiB is below the minimum %u KiB "
                   "for parallelism %u", params->m_cost_kib,
                   MESH_KDF_MIN_M_COST_KIB_PER_LANE * params->parallelism,
                   params->parallelism);
      return FALSE;
    }
  return TRUE;
}

/* Run Argon2id and split its output into the AEAD key and the check
 * value, under distinct labels so neither reveals the other. */
static gboolean
derive (const char *passphrase, const MeshKdfParams *params,
        const uint8_t salt[MESH_KEYSTORE_SALT_LEN],
        uint8_t key[MESH_AEAD_KEY_LEN],
        uint8_t check[MESH_KEYSTORE_CHECK_LEN], GError **error)
{
  uint8_t master[KDF_OUT_LEN];
  uint8_t mac[MESH_SHA256_LEN];
  size_t pw_len = strlen (passphrase);
  int rc;

  if (pw_len > UINT32_MAX)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
                   "passphrase of %zu bytes is too long for Argon2id", pw_len);
      return FALSE;
    }
  rc = argon2id_hash_raw (params->t_cost, params->m_cost_kib,
                          params->parallelism, passphrase, pw_len,
                          salt, MESH_KEYSTORE_SALT_LEN, master, sizeof master);
  if (rc != ARGON2_OK)
    {
      mesh_wipe (master, sizeof master);
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_FAILED,
                   "Argon2id (t_cost %u, m_cost %u KiB, parallelism %u) "
                   "failed: %s", params->t_cost, params->m_cost_kib,
                   params->parallelism, argon2_error_message (rc));
      return FALSE;
    }
  mesh_hmac_sha256 (master, sizeof master, LABEL_KEY, sizeof LABEL_KEY - 1,
                    key);
  mesh_hmac_sha256 (master, sizeof master, LABEL_CHECK,
                    sizeof LABEL_CHECK - 1, mac);
  memcpy (check, mac, MESH_KEYSTORE_CHECK_LEN);
  mesh_wipe (master, sizeof master);
  mesh_wipe (mac, sizeof mac);
  return TRUE;
}

static void
wipe_and_free (gpointer p)
{
  mesh_wipe (p, MESH_KEYSTORE_LEN);
  g_free (p);
}

GBytes *
mesh_keystore_encode (const MeshIdentity *id, const char *passphrase,
                      const MeshKdfParams *params,
                      MeshRandomFunc rnd, void *rnd_data, GError **error)
{
  MeshKdfParams defaults;
  uint8_t *buf;
  uint8_t key[MESH_AEAD_KEY_LEN];

  g_return_val_if_fail (id != NULL, NULL);
  g_return_val_if_fail (rnd != NULL, NULL);

  if (passphrase != NULL && passphrase[0] == '\0')
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
                   "empty passphrase; pass NULL to store the keys "
                   "unencrypted");
      return NULL;
    }
  if (params == NULL)
    {
      mesh_kdf_params_default (&defaults);
      params = &defaults;
    }
  if (passphrase != NULL && !mesh_kdf_params_check (params, error))
    return NULL;

  /* Allocated, so that the bytes handed out are wiped when released:
   * an unencrypted image holds the private keys in the clear. */
  buf = g_malloc0 (MESH_KEYSTORE_LEN);
  memcpy (buf, MESH_KEYSTORE_MAGIC, MESH_KEYSTORE_MAGIC_LEN);
  buf[OFF_VERSION] = MESH_KEYSTORE_VERSION;
  memcpy (buf + OFF_SEALED, id->ed_priv, MESH_ED25519_KEY_LEN);
  memcpy (buf + OFF_SEALED + MESH_ED25519_KEY_LEN, id->x_priv,
          MESH_X25519_KEY_LEN);

  if (passphrase == NULL)
    buf[OFF_KDF] = MESH_KDF_NONE;
  else
    {
      buf[OFF_KDF] = MESH_KDF_ARGON2ID;
      put_be32 (buf + OFF_T_COST, params->t_cost);
      put_be32 (buf + OFF_M_COST, params->m_cost_kib);
      put_be32 (buf + OFF_PARALLELISM, params->parallelism);
      rnd (rnd_data, buf + OFF_SALT, MESH_KEYSTORE_SALT_LEN);
      rnd (rnd_data, buf + OFF_NONCE, MESH_AEAD_NONCE_LEN);
      if (!derive (passphrase, params, buf + OFF_SALT, key, buf + OFF_CHECK,
                   error))
        {
          wipe_and_free (buf);
          return NULL;
        }
      mesh_aead_seal (key, buf + OFF_NONCE, buf, MESH_KEYSTORE_HEADER_LEN,
                      buf + OFF_SEALED, KEYS_LEN, buf + OFF_SEALED);
      mesh_wipe (key, sizeof key);
    }
  mesh_sha256 (buf, OFF_SUM, buf + OFF_SUM);
  return g_bytes_new_with_free_func (buf, MESH_KEYSTORE_LEN, wipe_and_free,
                                     buf);
}

/* With KDF none these fields carry nothing; requiring zeros keeps one
 * encoding per content. */
static gboolean
check_zero_field (const uint8_t *data, size_t off, size_t len,
                  const char *name, GError **error)
{
  if (!mesh_ct_is_zero (data + off, len))
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID,
                   "unencrypted keystore has a non-zero %s field "
                   "(bytes %zu..%zu)", name, off, off + len - 1);
      return FALSE;
    }
  return TRUE;
}

gboolean
mesh_keystore_decode (const uint8_t *data, size_t len,
                      const char *passphrase, MeshIdentity *id,
                      GError **error)
{
  uint8_t sum[MESH_SHA256_LEN];
  uint8_t key[MESH_AEAD_KEY_LEN];
  uint8_t check[MESH_KEYSTORE_CHECK_LEN];
  uint8_t keys[KEYS_LEN];
  MeshKdfParams params;
  gboolean ok;

  g_return_val_if_fail (id != NULL, FALSE);
  g_return_val_if_fail (data != NULL || len == 0, FALSE);

  mesh_identity_clear (id);

  if (len > 0 && memcmp (data, MESH_KEYSTORE_MAGIC,
                         MIN (len, (size_t) MESH_KEYSTORE_MAGIC_LEN)) != 0)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_MALFORMED,
                   "not a meshara keystore: bad magic");
      return FALSE;
    }
  if (len <= OFF_VERSION)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_TRUNCATED,
                   "keystore of %zu bytes is truncated, expected %d",
                   len, MESH_KEYSTORE_LEN);
      return FALSE;
    }
  /* The version before the length: another version may have another. */
  if (data[OFF_VERSION] != MESH_KEYSTORE_VERSION)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_UNSUPPORTED_VERSION,
                   "keystore format version %u is not supported "
                   "(this library reads version %d)",
                   data[OFF_VERSION], MESH_KEYSTORE_VERSION);
      return FALSE;
    }
  if (len < MESH_KEYSTORE_LEN)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_TRUNCATED,
                   "keystore of %zu bytes is truncated, expected %d",
                   len, MESH_KEYSTORE_LEN);
      return FALSE;
    }
  if (len > MESH_KEYSTORE_LEN)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_MALFORMED,
                   "keystore is corrupt: %zu bytes, expected %d",
                   len, MESH_KEYSTORE_LEN);
      return FALSE;
    }
  /* Cheap and before anything else is read, above all before the KDF. */
  mesh_sha256 (data, OFF_SUM, sum);
  if (!mesh_ct_equal (sum, data + OFF_SUM, sizeof sum))
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_MALFORMED,
                   "keystore is corrupt: checksum mismatch");
      return FALSE;
    }

  switch (data[OFF_KDF])
    {
    case MESH_KDF_NONE:
      if (!check_zero_field (data, OFF_T_COST, 12, "KDF parameters", error)
          || !check_zero_field (data, OFF_SALT, MESH_KEYSTORE_SALT_LEN,
                                "salt", error)
          || !check_zero_field (data, OFF_NONCE, MESH_AEAD_NONCE_LEN,
                                "nonce", error)
          || !check_zero_field (data, OFF_CHECK, MESH_KEYSTORE_CHECK_LEN,
                                "check value", error)
          || !check_zero_field (data, OFF_SEALED + KEYS_LEN,
                                MESH_AEAD_TAG_LEN, "tag", error))
        return FALSE;
      mesh_identity_from_private (id, data + OFF_SEALED,
                                  data + OFF_SEALED + MESH_ED25519_KEY_LEN);
      return TRUE;

    case MESH_KDF_ARGON2ID:
      break;

    default:
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_UNSUPPORTED_VERSION,
                   "keystore KDF id %u is not supported "
                   "(known: 0 none, 1 Argon2id)", data[OFF_KDF]);
      return FALSE;
    }

  params.t_cost = get_be32 (data + OFF_T_COST);
  params.m_cost_kib = get_be32 (data + OFF_M_COST);
  params.parallelism = get_be32 (data + OFF_PARALLELISM);
  if (!mesh_kdf_params_check (&params, error))
    {
      g_prefix_error (error, "keystore: ");
      return FALSE;
    }
  if (passphrase == NULL)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_PASSPHRASE_REQUIRED,
                   "keystore is encrypted and no passphrase was given");
      return FALSE;
    }
  if (!derive (passphrase, &params, data + OFF_SALT, key, check, error))
    return FALSE;

  ok = mesh_ct_equal (check, data + OFF_CHECK, sizeof check);
  mesh_wipe (check, sizeof check);
  if (!ok)
    {
      mesh_wipe (key, sizeof key);
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_WRONG_PASSPHRASE,
                   "wrong passphrase for the keystore");
      return FALSE;
    }
  ok = mesh_aead_open (key, data + OFF_NONCE, data, MESH_KEYSTORE_HEADER_LEN,
                       data + OFF_SEALED, SEALED_LEN, keys);
  mesh_wipe (key, sizeof key);
  if (!ok)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_DECRYPT,
                   "keystore was tampered with: the passphrase is right but "
                   "the sealed keys fail authentication");
      return FALSE;
    }
  mesh_identity_from_private (id, keys, keys + MESH_ED25519_KEY_LEN);
  mesh_wipe (keys, sizeof keys);
  return TRUE;
}

static void
set_io_error (GError **error, int err, const char *fmt, const char *path)
{
  int code = err == ENOENT ? MESHARA_ERROR_NOT_FOUND : MESHARA_ERROR_IO;

  g_set_error (error, MESHARA_ERROR, code, "%s %s: %s", fmt, path,
               g_strerror (err));
}

/* The directory must exist (we make it 0700) and be ours alone: anyone
 * else with access could read the file or swap it. */
static gboolean
ensure_dir (const char *dir, GError **error)
{
  struct stat st;

  if (stat (dir, &st) != 0)
    {
      int err = errno;
      if (err != ENOENT)
        {
          set_io_error (error, err, "cannot stat keystore directory", dir);
          return FALSE;
        }
      if (g_mkdir_with_parents (dir, 0700) != 0)
        {
          set_io_error (error, errno, "cannot create keystore directory",
                        dir);
          return FALSE;
        }
      if (stat (dir, &st) != 0)
        {
          set_io_error (error, errno, "cannot stat keystore directory", dir);
          return FALSE;
        }
    }
  if (!S_ISDIR (st.st_mode))
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_IO,
                   "keystore directory %s is not a directory", dir);
      return FALSE;
    }
  if ((st.st_mode & 077) != 0)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_PERMISSION,
                   "keystore directory %s has mode %04o; it must not be "
                   "accessible by group or others (chmod 700 %s)",
                   dir, (unsigned) (st.st_mode & 07777), dir);
      return FALSE;
    }
  return TRUE;
}

static gboolean
write_all (int fd, const uint8_t *p, size_t n)
{
  while (n > 0)
    {
      ssize_t w = write (fd, p, n);
      if (w < 0)
        {
          if (errno == EINTR)
            continue;
          return FALSE;
        }
      p += w;
      n -= (size_t) w;
    }
  return TRUE;
}

/* Makes the rename durable.  Returns 0 or an errno value. */
static int
sync_dir (const char *dir)
{
  int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int err = 0;

  if (fd < 0)
    return errno;
  if (fsync (fd) != 0)
    err = errno;
  close (fd);
  return err;
}

gboolean
mesh_keystore_save (const char *path, const MeshIdentity *id,
                    const char *passphrase, const MeshKdfParams *params,
                    MeshRandomFunc rnd, void *rnd_data, GError **error)
{
  g_autoptr (GBytes) image = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *base = NULL;
  g_autofree char *tmp = NULL;
  const uint8_t *data;
  gsize len;
  int fd, err;

  g_return_val_if_fail (path != NULL, FALSE);
  g_return_val_if_fail (id != NULL, FALSE);

  image = mesh_keystore_encode (id, passphrase, params, rnd, rnd_data, error);
  if (image == NULL)
    return FALSE;
  data = g_bytes_get_data (image, &len);

  dir = g_path_get_dirname (path);
  base = g_path_get_basename (path);
  if (!ensure_dir (dir, error))
    return FALSE;

  /* Same directory, so the rename is atomic. */
  tmp = g_strdup_printf ("%s/.%s.XXXXXX", dir, base);
  fd = g_mkstemp_full (tmp, O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0)
    {
      set_io_error (error, errno, "cannot create a temporary file in", dir);
      return FALSE;
    }
  /* The creation mode went through the umask; make it exact. */
  if (fchmod (fd, 0600) != 0)
    {
      set_io_error (error, errno, "cannot set mode 0600 on", tmp);
      goto fail_open;
    }
  if (!write_all (fd, data, len))
    {
      set_io_error (error, errno, "cannot write", tmp);
      goto fail_open;
    }
  if (fsync (fd) != 0)
    {
      set_io_error (error, errno, "cannot sync", tmp);
      goto fail_open;
    }
  if (close (fd) != 0)
    {
      set_io_error (error, errno, "cannot close", tmp);
      goto fail;
    }
  if (hooks.before_rename != NULL
      && !hooks.before_rename (tmp, hooks.user_data))
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_IO,
                   "writing keystore %s was interrupted before the rename",
                   path);
      goto fail;
    }
  if (rename (tmp, path) != 0)
    {
      err = errno;
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_IO,
                   "cannot rename %s to %s: %s", tmp, path, g_strerror (err));
      goto fail;
    }
  if ((err = sync_dir (dir)) != 0)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_IO,
                   "keystore %s was written but syncing its directory %s "
                   "failed: %s", path, dir, g_strerror (err));
      return FALSE;
    }
  return TRUE;

fail_open:
  close (fd);
fail:
  g_unlink (tmp);
  return FALSE;
}

gboolean
mesh_keystore_load (const char *path, const char *passphrase,
                    MeshIdentity *id, GError **error)
{
  struct stat st;
  uint8_t *buf;
  size_t size, got = 0;
  gboolean ok;
  int fd;

  g_return_val_if_fail (path != NULL, FALSE);
  g_return_val_if_fail (id != NULL, FALSE);

  mesh_identity_clear (id);
  /* O_NONBLOCK: a FIFO planted at path must not hang us; it is refused
   * below as not a regular file. */
  fd = open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0)
    {
      set_io_error (error, errno, "cannot open keystore", path);
      return FALSE;
    }
  if (fstat (fd, &st) != 0)
    {
      set_io_error (error, errno, "cannot stat keystore", path);
      close (fd);
      return FALSE;
    }
  if (!S_ISREG (st.st_mode))
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_IO,
                   "keystore %s is not a regular file", path);
      close (fd);
      return FALSE;
    }
  if ((st.st_mode & 077) != 0)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_PERMISSION,
                   "keystore %s has mode %04o; it must not be accessible "
                   "by group or others (chmod 600 %s)",
                   path, (unsigned) (st.st_mode & 07777), path);
      close (fd);
      return FALSE;
    }
  if (st.st_size > MESH_KEYSTORE_MAX_FILE_SIZE)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_TOO_LARGE,
                   "keystore %s is %jd bytes, more than the limit of %d",
                   path, (intmax_t) st.st_size, MESH_KEYSTORE_MAX_FILE_SIZE);
      close (fd);
      return FALSE;
    }

  size = (size_t) st.st_size;
  buf = g_malloc (size + 1);
  /* Read at most what fstat promised: a file that grows meanwhile cannot
   * push us past the bound. */
  while (got < size)
    {
      ssize_t r = read (fd, buf + got, size - got);
      if (r < 0)
        {
          if (errno == EINTR)
            continue;
          set_io_error (error, errno, "cannot read keystore", path);
          close (fd);
          mesh_wipe (buf, size);
          g_free (buf);
          return FALSE;
        }
      if (r == 0)
        break;
      got += (size_t) r;
    }
  close (fd);

  ok = mesh_keystore_decode (buf, got, passphrase, id, error);
  if (!ok)
    g_prefix_error (error, "%s: ", path);
  mesh_wipe (buf, size);
  g_free (buf);
  return ok;
}
