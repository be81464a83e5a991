#ifndef MESHARA_NODE_H
#define MESHARA_NODE_H

#if !defined(MESHARA_MESHARA_H) && !defined(MESHARA_COMPILATION)
#error "Only <meshara/meshara.h> can be included directly."
#endif

#include <glib-object.h>
#include <meshara/meshara-version.h>
#include <meshara/meshara-identity.h>

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

MESHARA_API MesharaNode *meshara_node_new (MesharaIdentity *identity);

MESHARA_API MesharaIdentity *meshara_node_get_identity (MesharaNode *node);

MESHARA_API void meshara_node_set_listen_address (MesharaNode *node,
                                                  const char *address);
MESHARA_API const char *meshara_node_get_listen_address (MesharaNode *node);
MESHARA_API guint16 meshara_node_get_port (MesharaNode *node);

MESHARA_API void meshara_node_set_max_peers (MesharaNode *node,
                                             guint max_peers);
MESHARA_API guint meshara_node_get_max_peers (MesharaNode *node);

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

G_END_DECLS

#endif
