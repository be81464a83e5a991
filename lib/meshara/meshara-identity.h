#ifndef MESHARA_IDENTITY_H
#define MESHARA_IDENTITY_H

#if !defined(MESHARA_MESHARA_H) && !defined(MESHARA_COMPILATION)
#error "Only <meshara/meshara.h> can be included directly."
#endif

#include <glib-object.h>
#include <meshara/meshara-version.h>

G_BEGIN_DECLS

/**
 * MesharaIdentity:
 *
 * A node identity: an Ed25519 signing key pair and an X25519 key-agreement
 * key pair, the latter bound to the former by a signature.  Reference
 * counted (a boxed type); the secret keys are wiped when the last
 * reference goes.
 */
typedef struct _MesharaIdentity MesharaIdentity;

#define MESHARA_TYPE_IDENTITY (meshara_identity_get_type ())
MESHARA_API GType meshara_identity_get_type (void) G_GNUC_CONST;

/**
 * MESHARA_NODE_ID_LEN:
 *
 * Length in bytes of a node ID: the SHA-256 of the Ed25519 public key.
 */
#define MESHARA_NODE_ID_LEN 32

/**
 * MESHARA_SEED_LEN:
 *
 * Length in bytes of the seed meshara_identity_new_from_seed() takes.
 */
#define MESHARA_SEED_LEN 32

MESHARA_API MesharaIdentity *meshara_identity_new (void);
MESHARA_API MesharaIdentity *meshara_identity_new_from_seed (const guint8 *seed,
                                                             gsize seed_len,
                                                             GError **error);
MESHARA_API MesharaIdentity *meshara_identity_load (const char *path,
                                                    const char *passphrase,
                                                    GError **error);
MESHARA_API gboolean meshara_identity_save (MesharaIdentity *identity,
                                            const char *path,
                                            const char *passphrase,
                                            GError **error);
MESHARA_API MesharaIdentity *meshara_identity_ref (MesharaIdentity *identity);
MESHARA_API void meshara_identity_unref (MesharaIdentity *identity);

MESHARA_API char *meshara_identity_get_public_key (MesharaIdentity *identity);
MESHARA_API const guint8 *meshara_identity_get_node_id (MesharaIdentity *identity,
                                                        gsize *len);
MESHARA_API char *meshara_identity_get_node_id_hex (MesharaIdentity *identity);
MESHARA_API char *meshara_identity_get_fingerprint (MesharaIdentity *identity);

MESHARA_API gboolean meshara_public_key_validate (const char *public_key,
                                                  GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MesharaIdentity, meshara_identity_unref)

G_END_DECLS

#endif
