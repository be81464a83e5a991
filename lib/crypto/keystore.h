/* The keystore: an identity's two private keys in a file, sealed under a
 * passphrase with Argon2id and ChaCha20-Poly1305.
 *
 * Layout (MESH_KEYSTORE_LEN bytes, integers big-endian):
 *
 *   off  len  field
 *     0    8  magic "MSHRKEY\0"
 *     8    1  format version (MESH_KEYSTORE_VERSION)
 *     9    1  KDF id: 0 none (unencrypted, development only), 1 Argon2id
 *    10    4  Argon2id t_cost (passes)
 *    14    4  Argon2id m_cost (KiB)
 *    18    4  Argon2id parallelism (lanes)
 *    22   16  salt
 *    38   12  nonce
 *    50   16  passphrase check value
 *    66   80  ChaCha20-Poly1305 ciphertext of ed_priv || x_priv, then tag;
 *             associated data: bytes 0..65
 *   146   32  SHA-256 of bytes 0..145
 *
 * From the Argon2id output K (32 bytes): the AEAD key is
 * HMAC-SHA256(K, "meshara/1 keystore key") and the check value is the first
 * 16 bytes of HMAC-SHA256(K, "meshara/1 keystore check"), so a wrong
 * passphrase is told apart from tampering.  With KDF 0 the parameters,
 * salt, nonce, check value and the 16 tag bytes are all zero and the key
 * material is stored in the clear. */
#ifndef MESH_CRYPTO_KEYSTORE_H
#define MESH_CRYPTO_KEYSTORE_H

#include <stddef.h>
#include <stdint.h>
#include <glib.h>

#include "crypto/identity.h"
#include "crypto/util.h"

#define MESH_KEYSTORE_MAGIC "MSHRKEY"   /* plus its NUL: 8 bytes */
#define MESH_KEYSTORE_MAGIC_LEN 8
#define MESH_KEYSTORE_VERSION 1
#define MESH_KEYSTORE_SALT_LEN 16
#define MESH_KEYSTORE_CHECK_LEN 16
#define MESH_KEYSTORE_HEADER_LEN 66
#define MESH_KEYSTORE_LEN (MESH_KEYSTORE_HEADER_LEN + 64 + 16 + 32)

/* Load refuses anything larger before reading it. */
#define MESH_KEYSTORE_MAX_FILE_SIZE (64 * 1024)

typedef enum {
  MESH_KDF_NONE = 0,
  MESH_KDF_ARGON2ID = 1,
} MeshKdfId;

typedef struct {
  uint32_t t_cost;       /* passes */
  uint32_t m_cost_kib;   /* memory in KiB */
  uint32_t parallelism;  /* lanes */
} MeshKdfParams;

#define MESH_KDF_DEFAULT_T_COST 3
#define MESH_KDF_DEFAULT_M_COST_KIB (64 * 1024)
#define MESH_KDF_DEFAULT_PARALLELISM 1

/* Bounds checked on every file before the KDF runs, so a hostile file
 * cannot make us allocate or compute without limit.  The lower memory
 * bound is libargon2's: 8 KiB per lane. */
#define MESH_KDF_MAX_T_COST 16
#define MESH_KDF_MAX_M_COST_KIB (1024 * 1024)
#define MESH_KDF_MAX_PARALLELISM 8
#define MESH_KDF_MIN_M_COST_KIB_PER_LANE 8

void mesh_kdf_params_default (MeshKdfParams *params);

/* Check params against the bounds above; the error names the field. */
gboolean mesh_kdf_params_check (const MeshKdfParams *params, GError **error);

/* Serialize id.  passphrase NULL writes an unencrypted keystore (KDF 0);
 * an empty passphrase is refused.  params NULL means the defaults.  Salt
 * and nonce come from rnd.  Returns NULL only on a bad argument or a KDF
 * failure. */
GBytes *mesh_keystore_encode (const MeshIdentity *id, const char *passphrase,
                              const MeshKdfParams *params,
                              MeshRandomFunc rnd, void *rnd_data,
                              GError **error);

/* Parse and open a keystore image.  Safe on any input: every field is
 * bounded and checked before use.  On success fills id; on failure id is
 * left wiped.  Codes: MALFORMED (not a keystore, or corrupt: checksum
 * mismatch), TRUNCATED, INVALID, TOO_LARGE (KDF parameters beyond the
 * bounds), UNSUPPORTED_VERSION (format version or KDF id),
 * PASSPHRASE_REQUIRED, WRONG_PASSPHRASE, DECRYPT (tampered ciphertext). */
gboolean mesh_keystore_decode (const uint8_t *data, size_t len,
                               const char *passphrase, MeshIdentity *id,
                               GError **error);

/* Write a keystore file atomically: the directory is created with mode
 * 0700 when missing and refused when group or others can access it; the
 * file is written to a temporary name in the same directory with mode
 * 0600, synced, renamed over path, and the directory synced.  On failure
 * before the rename the old file is untouched and the temporary removed. */
gboolean mesh_keystore_save (const char *path, const MeshIdentity *id,
                             const char *passphrase,
                             const MeshKdfParams *params,
                             MeshRandomFunc rnd, void *rnd_data,
                             GError **error);

/* Read and open a keystore file.  Refuses a file that group or others can
 * access (PERMISSION) or that exceeds MESH_KEYSTORE_MAX_FILE_SIZE. */
gboolean mesh_keystore_load (const char *path, const char *passphrase,
                             MeshIdentity *id, GError **error);

/* Failure injection for tests: before_rename runs after the temporary file
 * is written and synced; returning FALSE makes the save fail right there,
 * as an interruption would.  Process-global, so only for tests. */
typedef struct {
  gboolean (*before_rename) (const char *tmp_path, void *user_data);
  void *user_data;
} MeshKeystoreHooks;

/* NULL removes the hooks. */
void mesh_keystore_set_hooks (const MeshKeystoreHooks *hooks);

#endif
