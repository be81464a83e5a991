#ifndef MESHARA_NODE_H
#define MESHARA_NODE_H

#if !defined(MESHARA_MESHARA_H) && !defined(MESHARA_COMPILATION)
#error "Only <meshara/meshara.h> can be included directly."
#endif

#include <glib-object.h>
#include <meshara/meshara-version.h>
#include <meshara/meshara-identity.h>
#include <meshara/meshara-update.h>

G_BEGIN_DECLS

/**
 * MesharaNode:
 *
 * A mesh node: TLS links to peers on real sockets, driven by the
 * thread-default #GMainContext of the thread that created it.  Events
 * arrive as signals on that context.
 */
#define MESHARA_TYPE_NODE (meshara_node_get_type ())
MESHARA_API
G_DECLARE_FINAL_TYPE (MesharaNode, meshara_node, MESHARA, NODE, GObject)

/**
 * MESHARA_NODE_MAX_PEERS_DEFAULT:
 *
 * Links a node keeps at most unless told otherwise (profile Standard).
 */
#define MESHARA_NODE_MAX_PEERS_DEFAULT 32

/**
 * MesharaNodeProfile:
 * @MESHARA_NODE_PROFILE_MINIMAL: a small device: 8 peers, fanout 5,
 *   small tables
 * @MESHARA_NODE_PROFILE_STANDARD: the default: 32 peers, fanout 10
 * @MESHARA_NODE_PROFILE_BRIDGE: a well-connected relay: 128 peers,
 *   fanout 20, large tables
 * @MESHARA_NODE_PROFILE_AUTHORITY: an authority's node: 128 peers,
 *   fanout 10, large tables
 *
 * Presets for the connection limits, table sizes and gossip fanout.
 * Values set explicitly (meshara_node_set_max_peers(), ...) override
 * the profile's.
 */
typedef enum {
  MESHARA_NODE_PROFILE_MINIMAL,
  MESHARA_NODE_PROFILE_STANDARD,
  MESHARA_NODE_PROFILE_BRIDGE,
  MESHARA_NODE_PROFILE_AUTHORITY,
} MesharaNodeProfile;

#define MESHARA_TYPE_NODE_PROFILE (meshara_node_profile_get_type ())
MESHARA_API GType meshara_node_profile_get_type (void);

/**
 * MESHARA_NODE_PEERS_FILE:
 * MESHARA_NODE_IDENTITY_FILE:
 *
 * File names inside a node's storage path: the known peers, and the
 * keystore of an identity the node created itself.
 */
#define MESHARA_NODE_PEERS_FILE "peers"
#define MESHARA_NODE_IDENTITY_FILE "identity.key"

/**
 * MESHARA_NODE_TRUST_FILE:
 * MESHARA_NODE_UPDATES_DIR:
 *
 * Inside a node's storage path: the trust store of update authorities
 * read at start (unless meshara_node_set_trust_store() gave one), and
 * the directory of updates (unless meshara_node_set_update_directory()
 * named another): NAME-VERSION.manifest, NAME-VERSION.data and the
 * chunk cache "chunks".
 */
#define MESHARA_NODE_TRUST_FILE "trust.store"
#define MESHARA_NODE_UPDATES_DIR "updates"

MESHARA_API MesharaNode *meshara_node_new (MesharaIdentity *identity);

MESHARA_API MesharaIdentity *meshara_node_get_identity (MesharaNode *node);

MESHARA_API void meshara_node_set_listen_address (MesharaNode *node,
                                                  const char *address);
MESHARA_API const char *meshara_node_get_listen_address (MesharaNode *node);
MESHARA_API guint16 meshara_node_get_port (MesharaNode *node);

MESHARA_API void meshara_node_set_max_peers (MesharaNode *node,
                                             guint max_peers);
MESHARA_API guint meshara_node_get_max_peers (MesharaNode *node);

MESHARA_API void meshara_node_set_profile (MesharaNode *node,
                                           MesharaNodeProfile profile);
MESHARA_API MesharaNodeProfile meshara_node_get_profile (MesharaNode *node);
MESHARA_API gboolean meshara_node_profile_from_string (const char *name,
                                                       MesharaNodeProfile *profile,
                                                       GError **error);

MESHARA_API void meshara_node_set_fanout (MesharaNode *node, guint fanout);
MESHARA_API guint meshara_node_get_fanout (MesharaNode *node);
MESHARA_API void meshara_node_set_max_routes (MesharaNode *node,
                                              guint max_routes);
MESHARA_API guint meshara_node_get_max_routes (MesharaNode *node);
MESHARA_API void meshara_node_set_seen_capacity (MesharaNode *node,
                                                 guint capacity);
MESHARA_API guint meshara_node_get_seen_capacity (MesharaNode *node);
MESHARA_API void meshara_node_set_accepts_per_second (MesharaNode *node,
                                                      guint rate);
MESHARA_API guint meshara_node_get_accepts_per_second (MesharaNode *node);
MESHARA_API void meshara_node_set_connects_per_second (MesharaNode *node,
                                                       guint rate);
MESHARA_API guint meshara_node_get_connects_per_second (MesharaNode *node);

MESHARA_API void meshara_node_set_mdns (MesharaNode *node, gboolean enabled);
MESHARA_API gboolean meshara_node_get_mdns (MesharaNode *node);

MESHARA_API void meshara_node_set_storage_path (MesharaNode *node,
                                                const char *path);
MESHARA_API const char *meshara_node_get_storage_path (MesharaNode *node);

MESHARA_API gboolean meshara_node_remove_peer (MesharaNode *node,
                                               const char *public_key,
                                               GError **error);
MESHARA_API GVariant *meshara_node_list_peers (MesharaNode *node);
MESHARA_API gboolean meshara_node_add_bootstrap_peer (MesharaNode *node,
                                                      const char *address,
                                                      const char *public_key,
                                                      GError **error);

MESHARA_API gboolean meshara_node_load_config (MesharaNode *node,
                                               const char *path,
                                               GError **error);

MESHARA_API gboolean meshara_node_start (MesharaNode *node, GError **error);
MESHARA_API void meshara_node_stop (MesharaNode *node);
MESHARA_API gboolean meshara_node_is_running (MesharaNode *node);

MESHARA_API gboolean meshara_node_add_peer (MesharaNode *node,
                                            const char *address,
                                            const char *public_key,
                                            GError **error);

MESHARA_API char *meshara_node_send_private (MesharaNode *node,
                                             const char *public_key,
                                             const guint8 *data, gsize len,
                                             GError **error);
MESHARA_API char *meshara_node_broadcast (MesharaNode *node,
                                          const guint8 *data, gsize len,
                                          const char *content_type,
                                          GError **error);
MESHARA_API gboolean meshara_node_lookup (MesharaNode *node,
                                          const char *node_id_hex,
                                          GError **error);

MESHARA_API guint meshara_node_get_peer_count (MesharaNode *node);
MESHARA_API gboolean meshara_node_has_route (MesharaNode *node,
                                             const char *node_id_hex);

MESHARA_API void meshara_node_set_trust_store (MesharaNode *node,
                                               MesharaTrustStore *store);
MESHARA_API void meshara_node_set_update_directory (MesharaNode *node,
                                                    const char *path);
MESHARA_API const char *meshara_node_get_update_directory (MesharaNode *node);
MESHARA_API char *meshara_node_publish_update (MesharaNode *node,
                                               GBytes *manifest,
                                               const char *data_path,
                                               GError **error);
MESHARA_API GVariant *meshara_node_list_updates (MesharaNode *node);
MESHARA_API void meshara_node_get_update_counters (MesharaNode *node,
                                                   guint64 *chunks_fetched,
                                                   guint64 *chunks_served,
                                                   guint64 *rejected);

G_END_DECLS

#endif
