/* In-process links: two nodes of one process connected without sockets,
 * for applications' tests.  An address "mem:NAME" names a node listening
 * in this process.  Frames are handed over in memory and delivered from
 * the receiving end's GMainContext, never from inside the sender's call;
 * the same callbacks as a TLS link (MeshNetLinkCallbacks) report them,
 * with NULL for the MeshNetLink argument.  There is no TLS: each end
 * learns the other's Ed25519 key from the registry, and a pinned key
 * that differs fails the link as TLS would.
 *
 * The ends of a link must run on one thread (their contexts may differ);
 * the registry itself may be used from any thread. */
#ifndef MESH_NET_MEMLINK_H
#define MESH_NET_MEMLINK_H

#include <glib.h>
#include <stdint.h>

#include "net/link.h"

#define MESH_MEM_ADDRESS_PREFIX "mem:"
#define MESH_MEM_NAME_MAX 200

typedef struct _MeshMemLink MeshMemLink;

typedef void (*MeshMemAcceptFunc) (MeshMemLink *server_end,
                                   gpointer user_data);

/* "mem:NAME" with a NAME of 1 to MESH_MEM_NAME_MAX printable ASCII
 * characters.  FALSE for anything else, with error set when it starts
 * with "mem:". */
gboolean mesh_mem_address_check (const char *address, GError **error);
gboolean mesh_mem_address_is (const char *address);

/* Register address; accept receives each new server end (transfer full),
 * and sets its callbacks before the context runs again. */
gboolean mesh_mem_listen (const char *address, const uint8_t *ed_pub,
                          MeshMemAcceptFunc accept, gpointer user_data,
                          GError **error);
void mesh_mem_unlisten (const char *address);

/* Connect to address; expected_ed_pub pins the peer's key (NULL: any).
 * A missing listener or a pin mismatch comes later through closed().
 * Transfer full. */
MeshMemLink *mesh_mem_connect (GMainContext *context, const char *address,
                               const uint8_t *own_ed_pub,
                               const uint8_t *expected_ed_pub,
                               const MeshNetLinkCallbacks *callbacks,
                               gpointer user_data);

void mesh_mem_link_set_callbacks (MeshMemLink *link,
                                  const MeshNetLinkCallbacks *callbacks,
                                  gpointer user_data);
/* frame: 4-byte header + body, as for mesh_net_link_send(). */
gboolean mesh_mem_link_send (MeshMemLink *link, const guint8 *frame,
                             gsize len, GError **error);
/* Close: closed() follows on both ends with reason. */
void mesh_mem_link_abort (MeshMemLink *link, const char *reason);
const uint8_t *mesh_mem_link_get_peer_ed_pub (const MeshMemLink *link);
/* The owner lets go: no callback follows on this end; the other end gets
 * closed(). */
void mesh_mem_link_free (MeshMemLink *link);

#endif
