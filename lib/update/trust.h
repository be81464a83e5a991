/* The trust store: the update authorities this node trusts, what it
 * trusts each for, and how many of their signatures an update needs
 * (k of n).  Persisted as an encoded TrustStore message
 * (lib/wire/meshara.proto). */
#ifndef MESH_UPDATE_TRUST_H
#define MESH_UPDATE_TRUST_H

#include <stdint.h>
#include <glib.h>

#include "crypto/sign.h"

typedef enum {
  MESH_TRUST_UPDATE = 1,      /* signs updates */
  MESH_TRUST_SIGNING = 2,     /* signs content */
  MESH_TRUST_BOOTSTRAP = 3,   /* a node to join through */
  MESH_TRUST_FULL = 4,        /* all of the above */
} MeshTrustLevel;

typedef struct {
  uint8_t public_key[MESH_ED25519_KEY_LEN];
  char *name;                 /* 1 to 128 bytes of UTF-8 */
  char *description;          /* never NULL, may be empty */
  char *url;                  /* never NULL, may be empty */
  MeshTrustLevel level;
  guint64 added_ms;           /* ms since the Unix epoch, 0 if unknown */
} MeshAuthority;

typedef struct MeshTrustStore MeshTrustStore;

/* Default k: one trusted signature. */
#define MESH_TRUST_DEFAULT_THRESHOLD 1
/* Load refuses a larger file before reading it. */
#define MESH_TRUST_MAX_FILE_SIZE (1024 * 1024)

/* An empty store with threshold MESH_TRUST_DEFAULT_THRESHOLD. */
MeshTrustStore *mesh_trust_store_new (void);
void mesh_trust_store_free (MeshTrustStore *ts);

/* Add an authority, or replace the metadata and level of one with the
 * same key.  Fields are checked against the wire limits (INVALID or
 * TOO_LARGE naming the field); EXHAUSTED when the store holds
 * MESH_WIRE_MAX_TRUSTED_AUTHORITIES already. */
gboolean mesh_trust_store_add (MeshTrustStore *ts,
                               const uint8_t public_key[MESH_ED25519_KEY_LEN],
                               const char *name, const char *description,
                               const char *url, MeshTrustLevel level,
                               guint64 added_ms, GError **error);

/* FALSE when no authority has this key. */
gboolean mesh_trust_store_remove (MeshTrustStore *ts,
                                  const uint8_t public_key[MESH_ED25519_KEY_LEN]);

/* Returns: (transfer none) (nullable): valid until the store changes. */
const MeshAuthority *mesh_trust_store_lookup (const MeshTrustStore *ts,
                                              const uint8_t public_key[MESH_ED25519_KEY_LEN]);

guint mesh_trust_store_count (const MeshTrustStore *ts);

/* Returns: (transfer none): the i-th authority, in the order added. */
const MeshAuthority *mesh_trust_store_get (const MeshTrustStore *ts, guint i);

/* k: trusted signatures an update needs, 1 to MESH_WIRE_MAX_AUTHORITY_SIGS
 * (INVALID_ARGUMENT otherwise).  It may exceed the number of authorities
 * held: then no update is accepted until more are added. */
gboolean mesh_trust_store_set_threshold (MeshTrustStore *ts, guint k,
                                         GError **error);
guint mesh_trust_store_get_threshold (const MeshTrustStore *ts);

/* An authority at this level may sign updates (UPDATE and FULL). */
gboolean mesh_trust_level_signs_updates (MeshTrustLevel level);

/* "update", "signing", "bootstrap", "full"; parse returns 0 for anything
 * else. */
const char *mesh_trust_level_to_string (MeshTrustLevel level);
MeshTrustLevel mesh_trust_level_from_string (const char *s);

/* Encoded TrustStore message.  Returns: (transfer full). */
GBytes *mesh_trust_store_encode (const MeshTrustStore *ts);

/* Parse and validate an encoded store (codec rules: version, bounds,
 * distinct keys). */
MeshTrustStore *mesh_trust_store_decode (const guint8 *data, gsize len,
                                         GError **error);

/* Write atomically: a temporary file in the same directory, synced, then
 * renamed over path; the old file stays intact on failure. */
gboolean mesh_trust_store_save (const MeshTrustStore *ts, const char *path,
                                GError **error);

/* Read a store; TOO_LARGE above MESH_TRUST_MAX_FILE_SIZE before reading,
 * NOT_FOUND when path does not exist, PERMISSION when group or others
 * may write it, IO on other read errors. */
MeshTrustStore *mesh_trust_store_load (const char *path, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MeshTrustStore, mesh_trust_store_free)

#endif
