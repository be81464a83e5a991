#include "config.h"

#include "engine/msg.h"

#include <string.h>

uint8_t *
mesh_msg_buf_reserve (MeshMsgBuf *buf, size_t n)
{
  /* Never NULL, also for an empty message. */
  if (n > buf->cap || buf->data == NULL)
    {
      /* Grow geometrically so that a mix of sizes settles quickly. */
      size_t cap = MAX (n, MAX (buf->cap * 2, (size_t) 256));

      g_free (buf->data);
      buf->data = g_malloc (cap);
      buf->cap = cap;
    }
  return buf->data;
}

void
mesh_msg_buf_clear (MeshMsgBuf *buf)
{
  g_clear_pointer (&buf->data, g_free);
  buf->cap = 0;
}

size_t
mesh_msg_buf_encode (MeshMsgBuf *buf, const ProtobufCMessage *msg)
{
  size_t n = mesh_wire_encoded_size (msg);

  mesh_msg_buf_reserve (buf, n);
  return mesh_wire_encode_into (msg, buf->data);
}

void
mesh_msg_init (MeshMsg *m, uint32_t type, uint64_t timestamp_ms,
               const uint8_t *payload, size_t len)
{
  static const MeshWireBaseMessage base_init = MESHARA__V1__BASE_MESSAGE__INIT;
  static const MeshWireRoutingInfo routing_init = MESHARA__V1__ROUTING_INFO__INIT;

  m->base = base_init;
  m->routing = routing_init;
  m->base.version = MESH_WIRE_PROTOCOL_VERSION;
  m->base.type = type;
  m->base.timestamp_ms = timestamp_ms;
  m->base.payload.data = (uint8_t *) payload;
  m->base.payload.len = len;
}

void
mesh_msg_set_routing (MeshMsg *m, uint32_t route_type,
                      const uint8_t *destination, uint32_t max_hops)
{
  m->routing.route_type = route_type;
  m->routing.hop_count = 1;
  m->routing.max_hops = max_hops;
  m->routing.destination.data = (uint8_t *) destination;
  m->routing.destination.len = destination ? MESH_WIRE_ID_LEN : 0;
  m->base.routing = &m->routing;
}

void
mesh_msg_finish (MeshMsg *m, const MeshIdentity *signer)
{
  if (signer != NULL)
    {
      memcpy (m->sender_key, signer->pub.ed_pub, sizeof m->sender_key);
      m->base.sender_public_key.data = m->sender_key;
      m->base.sender_public_key.len = sizeof m->sender_key;
    }
  mesh_wire_compute_message_id (&m->base, m->id);
  m->base.message_id.data = m->id;
  m->base.message_id.len = sizeof m->id;
  if (signer != NULL)
    {
      mesh_identity_sign (signer, m->id, sizeof m->id, m->signature);
      m->base.signature.data = m->signature;
      m->base.signature.len = sizeof m->signature;
    }
}

gboolean
mesh_msg_encode_frame (const MeshWireBaseMessage *m, size_t max_frame,
                       MeshMsgBuf *buf, size_t *len, GError **error)
{
  size_t need = mesh_wire_frame_size (m);

  mesh_msg_buf_reserve (buf, need);
  return mesh_wire_encode_frame_into (m, max_frame, buf->data, buf->cap, len,
                                      error);
}

gboolean
mesh_msg_encode_forward (const MeshWireBaseMessage *in, size_t max_frame,
                         MeshMsgBuf *buf, size_t *len, GError **error)
{
  /* Shallow copies: the data stays in the decoded message, unknown fields
   * included, so a relay re-encodes what it could not read. */
  MeshWireBaseMessage out = *in;
  MeshWireRoutingInfo routing;

  g_return_val_if_fail (in->routing != NULL, FALSE);
  routing = *in->routing;
  routing.hop_count++;
  routing.next_hop.data = NULL;
  routing.next_hop.len = 0;
  out.routing = &routing;
  return mesh_msg_encode_frame (&out, max_frame, buf, len, error);
}

gboolean
mesh_msg_verify_signature (const MeshWireBaseMessage *m)
{
  if (m->sender_public_key.len != MESH_ED25519_KEY_LEN
      || m->signature.len != MESH_ED25519_SIG_LEN
      || m->message_id.len != MESH_WIRE_ID_LEN)
    return FALSE;
  return mesh_ed25519_verify (m->sender_public_key.data, m->message_id.data,
                              m->message_id.len, m->signature.data);
}
