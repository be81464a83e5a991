/* Update manifests: what authorities sign about an update's data, and
 * the checks a node runs before it accepts one.
 *
 * The manifest ID (and what every authority signs, Ed25519 over these
 * 32 bytes) is SHA-256 over this canonical encoding of the unsigned
 * manifest, integers big-endian:
 *
 *   "meshara/1 update-manifest"   25 bytes
 *   name                          4-byte length, bytes
 *   version                       8
 *   version_label                 4-byte length, bytes
 *   size                          8
 *   changelog                     4-byte length, bytes
 *   checksum                      32
 *   min_version                   8
 *   chunk_size                    4
 *   number of chunk hashes        4, then 32 bytes each
 *
 * A manifest is accepted when at least k (the trust store's threshold)
 * distinct authorities trusted to sign updates signed it, every signature
 * of such an authority verifies, the installed version is at least
 * min_version, and version is above the installed one.  The data is then
 * accepted when every chunk and the whole match their hashes. */
#ifndef MESH_UPDATE_PACKAGE_H
#define MESH_UPDATE_PACKAGE_H

#include <stdint.h>
#include <glib.h>

#include "crypto/identity.h"
#include "update/trust.h"
#include "wire/codec.h"

#define MESH_UPDATE_MANIFEST_LABEL "meshara/1 update-manifest"

typedef struct {
  const char *name;            /* 1 to 128 bytes of printable ASCII */
  guint64 version;             /* non-zero */
  const char *version_label;   /* may be NULL */
  guint64 min_version;         /* 0: replaces any version */
  const char *changelog;       /* may be NULL */
  guint32 chunk_size;          /* 0: MESH_WIRE_DEFAULT_CHUNK_SIZE */
} MeshUpdateInfo;

/* The unsigned manifest of len bytes of data, encoded.  Fields are checked
 * by the codec rules (INVALID, TOO_LARGE naming the field).
 * Returns: (transfer full). */
GBytes *mesh_update_manifest_build (const MeshUpdateInfo *info,
                                    const guint8 *data, gsize len,
                                    GError **error);

/* The same for the contents of a file, read chunk by chunk. */
GBytes *mesh_update_manifest_build_file (const MeshUpdateInfo *info,
                                         const char *path, GError **error);

/* The manifest ID: SHA-256 of the canonical encoding above. */
void mesh_update_manifest_digest (const MeshWireUpdateManifest *m,
                                  uint8_t out[MESH_SHA256_LEN]);

/* Decode and validate an encoded manifest (codec rules).
 * Returns: (transfer full): free with mesh_wire_free(). */
MeshWireUpdateManifest *mesh_update_manifest_parse (const guint8 *data,
                                                    gsize len, GError **error);

/* Add the signature of authority to an encoded manifest (signed or not:
 * this is how co-signing works).  INVALID when the authority signed it
 * already, TOO_LARGE at MESH_WIRE_MAX_AUTHORITY_SIGS signatures.
 * Returns: (transfer full): the manifest with the signature appended. */
GBytes *mesh_update_manifest_sign (const guint8 *data, gsize len,
                                   const MeshIdentity *authority,
                                   GError **error);

/* The manifest without its signatures, for other authorities to sign.
 * Returns: (transfer full). */
GBytes *mesh_update_manifest_export_unsigned (const guint8 *data, gsize len,
                                              GError **error);

/* The signatures of both manifests (one copy per authority) on the first;
 * INVALID when they describe different updates (different IDs).
 * Returns: (transfer full). */
GBytes *mesh_update_manifest_merge (const guint8 *a, gsize a_len,
                                    const guint8 *b, gsize b_len,
                                    GError **error);

/* Accept or reject a manifest for a node with installed_version installed
 * (0: none, then min_version does not apply).  Codes:
 * BAD_SIGNATURE  a signature of a trusted authority does not verify;
 * UNTRUSTED      fewer than k distinct trusted authorities signed (the
 *                message counts the untrusted signers);
 * VERSION_TOO_OLD installed_version is below min_version;
 * DOWNGRADE      version is not above installed_version.
 * *n_trusted (nullable) gets the number of distinct valid trusted
 * signatures. */
gboolean mesh_update_manifest_verify (const MeshWireUpdateManifest *m,
                                      const MeshTrustStore *ts,
                                      guint64 installed_version,
                                      guint *n_trusted, GError **error);

/* The signature rule on its own, for anything signed over a manifest
 * ID (manifests, notices): BAD_SIGNATURE, UNTRUSTED as above; what names
 * the signed object in messages. */
gboolean mesh_update_check_signatures (MeshWireAuthoritySignature *const *sigs,
                                       gsize n,
                                       const uint8_t digest[MESH_SHA256_LEN],
                                       const MeshTrustStore *ts,
                                       const char *what, guint *n_trusted,
                                       GError **error);

/* The version rules on their own: VERSION_TOO_OLD, DOWNGRADE as above. */
gboolean mesh_update_check_version (const char *name, guint64 version,
                                    guint64 min_version,
                                    guint64 installed_version, GError **error);

/* Chunk index of m: its size and hash.  INVALID for an index out of
 * range, CHECKSUM_MISMATCH for other data. */
gboolean mesh_update_verify_chunk (const MeshWireUpdateManifest *m,
                                   guint32 index, const guint8 *data,
                                   gsize len, GError **error);

/* The whole data: size, every chunk hash and the checksum;
 * CHECKSUM_MISMATCH naming the first bad chunk. */
gboolean mesh_update_verify_data (const MeshWireUpdateManifest *m,
                                  const guint8 *data, gsize len,
                                  GError **error);

/* The same for a file, read chunk by chunk. */
gboolean mesh_update_verify_file (const MeshWireUpdateManifest *m,
                                  const char *path, GError **error);

/* Size of chunk index (the last may be shorter). */
gsize mesh_update_chunk_len (const MeshWireUpdateManifest *m, guint32 index);

#endif
