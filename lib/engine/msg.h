/* Building, encoding and relaying BaseMessages.
 *
 * A message is built on the caller's stack (MeshMsg holds the envelope,
 * its routing part and the fixed-size fields), pointing at a payload the
 * caller keeps alive, and encoded as a frame into a reusable buffer: no
 * allocation per message once the buffer has grown.
 *
 * Hop counting: RoutingInfo.hop_count is the number of links the message
 * has crossed when it arrives.  The origin sends 1; each relay adds one
 * before forwarding, and drops the message instead when that would exceed
 * max_hops.  So max_hops bounds the links crossed, and a receiver reads the
 * path length directly from hop_count. */
#ifndef MESH_ENGINE_MSG_H
#define MESH_ENGINE_MSG_H

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/identity.h"
#include "wire/codec.h"

/* A growable output buffer, reused across messages. */
typedef struct {
  uint8_t *data;
  size_t cap;
} MeshMsgBuf;

/* Make room for n bytes; returns buf->data. */
uint8_t *mesh_msg_buf_reserve (MeshMsgBuf *buf, size_t n);
/* Release the memory (the buffer can be used again). */
void mesh_msg_buf_clear (MeshMsgBuf *buf);

/* Encode a (payload) message into buf; returns its size. */
size_t mesh_msg_buf_encode (MeshMsgBuf *buf, const ProtobufCMessage *msg);

typedef struct {
  MeshWireBaseMessage base;
  MeshWireRoutingInfo routing;
  uint8_t id[MESH_WIRE_ID_LEN];
  uint8_t sender_key[MESH_ED25519_KEY_LEN];
  uint8_t signature[MESH_ED25519_SIG_LEN];
} MeshMsg;

/* Wall-clock milliseconds at monotonic now_ns. */
static inline uint64_t
mesh_msg_wall_ms (uint64_t wall_epoch_ms, uint64_t now_ns)
{
  return wall_epoch_ms + now_ns / G_GUINT64_CONSTANT (1000000);
}

/* Start a message of type with the payload (transfer none; kept by the
 * caller until the message is encoded) and timestamp (non-zero).  No
 * routing, no sender key. */
void mesh_msg_init (MeshMsg *m, uint32_t type, uint64_t timestamp_ms,
                    const uint8_t *payload, size_t len);

/* Route the message: DIRECT or ROUTED to destination (32 bytes, copied
 * by reference: keep it alive), or FLOOD (destination NULL), with the
 * origin's hop count of 1. */
void mesh_msg_set_routing (MeshMsg *m, uint32_t route_type,
                           const uint8_t *destination, uint32_t max_hops);

/* Compute message_id (into m->id).  With signer, the sender key is set
 * first and the ID signed (signed types); without, the sender key stays
 * empty (sealed sender for private messages and acknowledgments). */
void mesh_msg_finish (MeshMsg *m, const MeshIdentity *signer);

/* Encode m as a frame (length header included) into buf; *len gets the
 * frame size.  TOO_LARGE when the body exceeds max_frame. */
gboolean mesh_msg_encode_frame (const MeshWireBaseMessage *m, size_t max_frame,
                                MeshMsgBuf *buf, size_t *len, GError **error);

/* The frame that relays in (a decoded routed message) one link further:
 * the same envelope, unknown fields included, with hop_count + 1 and no
 * next_hop (the previous relay's choice means nothing downstream).  The
 * caller checked that hop_count + 1 <= max_hops. */
gboolean mesh_msg_encode_forward (const MeshWireBaseMessage *in, size_t max_frame,
                                  MeshMsgBuf *buf, size_t *len, GError **error);

/* The Ed25519 signature of a signed message over its ID, by its sender
 * key.  FALSE when either is missing or the signature does not verify. */
gboolean mesh_msg_verify_signature (const MeshWireBaseMessage *m);

#endif
