/* A node identity: an Ed25519 signing pair and an X25519 agreement pair,
 * the X25519 public key bound to the Ed25519 key by a signature. */
#ifndef MESH_CRYPTO_IDENTITY_H
#define MESH_CRYPTO_IDENTITY_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <glib.h>
#include <meshara/meshara.h>

#include "crypto/sign.h"
#include "crypto/hash.h"
#include "crypto/util.h"

#define MESH_NODE_ID_LEN 32
#define MESH_SEED_LEN 32

/* Serialized public bundle: version byte, ed25519 pub, x25519 pub, sig. */
#define MESH_BUNDLE_VERSION 1
#define MESH_BUNDLE_LEN (1 + MESH_ED25519_KEY_LEN + MESH_X25519_KEY_LEN + MESH_ED25519_SIG_LEN)
/* Text form: this prefix, then the bundle in unpadded base64url. */
#define MESH_BUNDLE_TEXT_PREFIX "mshr1"

/* What others know of a node: both public keys and the binding signature. */
typedef struct {
  uint8_t ed_pub[MESH_ED25519_KEY_LEN];
  uint8_t x_pub[MESH_X25519_KEY_LEN];
  /* Ed25519 signature by ed_pub over MESH_BINDING_CONTEXT || ed_pub || x_pub */
  uint8_t binding_sig[MESH_ED25519_SIG_LEN];
  uint8_t node_id[MESH_NODE_ID_LEN];   /* SHA-256(ed_pub), derived */
} MeshPublicBundle;

typedef struct {
  uint8_t ed_priv[MESH_ED25519_KEY_LEN];
  uint8_t x_priv[MESH_X25519_KEY_LEN];
  MeshPublicBundle pub;
} MeshIdentity;

/* Domain-separation string for the X25519 binding signature. */
#define MESH_BINDING_CONTEXT "meshara/1 x25519 binding"

/* Fill id from 64 random bytes drawn from rnd. */
void mesh_identity_generate (MeshIdentity *id, MeshRandomFunc rnd, void *rnd_data);

/* Deterministic: both private keys derived from seed by SHA-256 with
 * distinct labels. */
void mesh_identity_from_seed (MeshIdentity *id, const uint8_t seed[MESH_SEED_LEN]);

/* Rebuild the public part from the two private keys. */
void mesh_identity_from_private (MeshIdentity *id,
                                 const uint8_t ed_priv[MESH_ED25519_KEY_LEN],
                                 const uint8_t x_priv[MESH_X25519_KEY_LEN]);

void mesh_identity_clear (MeshIdentity *id);

void mesh_identity_sign (const MeshIdentity *id, const void *msg, size_t len,
                         uint8_t sig[MESH_ED25519_SIG_LEN]);

/* Binary bundle form (MESH_BUNDLE_LEN bytes). */
void mesh_bundle_serialize (const MeshPublicBundle *b, uint8_t out[MESH_BUNDLE_LEN]);

/* Parse and validate: length, version, the binding signature; derives the
 * node ID.  Errors name what was wrong. */
gboolean mesh_bundle_parse (MeshPublicBundle *b, const uint8_t *data, size_t len,
                            GError **error);

/* Check the binding signature of a bundle whose keys were set directly. */
gboolean mesh_bundle_verify (const MeshPublicBundle *b, GError **error);

/* Text form "mshr1" + base64url(bundle), newly allocated. */
char *mesh_bundle_to_string (const MeshPublicBundle *b);
gboolean mesh_bundle_from_string (MeshPublicBundle *b, const char *text, GError **error);

/* mesh_bundle_from_string() remembers the texts that parsed in a bounded
 * table shared by the process: entries in use, the bound, and emptying it
 * (for tests and measurements). */
guint mesh_bundle_text_cache_size (void);
guint mesh_bundle_text_cache_capacity (void);
void mesh_bundle_text_cache_clear (void);

/* Node ID of an Ed25519 public key. */
void mesh_node_id (const uint8_t ed_pub[MESH_ED25519_KEY_LEN], uint8_t out[MESH_NODE_ID_LEN]);

/* 64 lowercase hex digits, newly allocated. */
char *mesh_node_id_to_hex (const uint8_t id[MESH_NODE_ID_LEN]);

/* Short human-comparable form: the first 16 bytes of the node ID as eight
 * groups of four hex digits, "1a2b-3c4d-...", newly allocated. */
char *mesh_fingerprint (const uint8_t id[MESH_NODE_ID_LEN]);

/* The keys inside a public MesharaIdentity, for the layers above. */
const MeshIdentity *mesh_identity_from_public (MesharaIdentity *identity);

#endif
