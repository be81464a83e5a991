/* One message of the schema, decoded on its own, without the envelope
 * the other targets need to get past first.
 *
 * Input: byte 0 picks the message (value % 22): 0 BaseMessage, 1 to 19
 * the payload of that MessageType, 20 PrivateContent, 21 ContactRecord.
 * The rest is the encoding, given to mesh_wire_decode_message() and to
 * the typed decoder of that message.
 *
 * Checked besides memory safety:
 * - a failure is a MESHARA_ERROR with a message, and both decoders fail
 *   alike;
 * - what decodes passes mesh_wire_validate(), and encode(decode(encode(m)))
 *   equals encode(m); mesh_wire_encoded_size() and mesh_wire_encode_into()
 *   agree with mesh_wire_encode();
 * - the type table maps each MessageType to the descriptor picked here;
 * - the body of a PrivateContent is decoded as its inner type in turn. */
#include "config.h"

#include "fuzz.h"
#include "fuzz-input.h"
#include "wire/codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <meshara/meshara.h>

typedef ProtobufCMessage *(*Decoder) (const guint8 *data, gsize len, GError **error);

/* Wrappers with one signature: a call through a cast function pointer
 * would be undefined (and UBSan's "function" check says so). */
#define TYPED(name) \
  static ProtobufCMessage * \
  typed_##name (const guint8 *data, gsize len, GError **error) \
  { \
    return (ProtobufCMessage *) mesh_wire_decode_##name (data, len, error); \
  }

TYPED (private)
TYPED (ack)
TYPED (broadcast)
TYPED (update_package)
TYPED (update_announcement)
TYPED (update_request)
TYPED (update_chunk)
TYPED (query)
TYPED (response)
TYPED (route_advertisement)
TYPED (hello)
TYPED (ping)
TYPED (pong)
TYPED (find_node)
TYPED (find_value)
TYPED (store)
TYPED (nodes)
TYPED (gossip_announce)
TYPED (gossip_pull)
TYPED (private_content)
TYPED (contact_record)

#define D(name) &meshara__v1__##name##__descriptor
#define N_ENTRIES 22

static const struct {
  const ProtobufCMessageDescriptor *desc;
  Decoder typed;
} entries[N_ENTRIES] = {
  { D (base_message), NULL },
  [MESH_WIRE_TYPE_PRIVATE] = { D (private_message_payload), typed_private },
  [MESH_WIRE_TYPE_ACK] = { D (acknowledgment), typed_ack },
  [MESH_WIRE_TYPE_BROADCAST] = { D (broadcast_payload), typed_broadcast },
  [MESH_WIRE_TYPE_UPDATE_PACKAGE] = { D (update_package), typed_update_package },
  [MESH_WIRE_TYPE_UPDATE_ANNOUNCEMENT] = { D (update_announcement), typed_update_announcement },
  [MESH_WIRE_TYPE_UPDATE_REQUEST] = { D (update_request), typed_update_request },
  [MESH_WIRE_TYPE_UPDATE_CHUNK] = { D (update_chunk), typed_update_chunk },
  [MESH_WIRE_TYPE_QUERY] = { D (query_message), typed_query },
  [MESH_WIRE_TYPE_RESPONSE] = { D (response_message), typed_response },
  [MESH_WIRE_TYPE_ROUTE_ADVERTISEMENT] = { D (route_advertisement), typed_route_advertisement },
  [MESH_WIRE_TYPE_HELLO] = { D (hello), typed_hello },
  [MESH_WIRE_TYPE_PING] = { D (ping), typed_ping },
  [MESH_WIRE_TYPE_PONG] = { D (pong), typed_pong },
  [MESH_WIRE_TYPE_FIND_NODE] = { D (find_node), typed_find_node },
  [MESH_WIRE_TYPE_FIND_VALUE] = { D (find_value), typed_find_value },
  [MESH_WIRE_TYPE_STORE] = { D (store), typed_store },
  [MESH_WIRE_TYPE_NODES] = { D (nodes), typed_nodes },
  [MESH_WIRE_TYPE_GOSSIP_ANNOUNCE] = { D (gossip_announce), typed_gossip_announce },
  [MESH_WIRE_TYPE_GOSSIP_PULL] = { D (gossip_pull), typed_gossip_pull },
  [20] = { D (private_content), typed_private_content },
  [21] = { D (contact_record), typed_contact_record },
};

G_STATIC_ASSERT (MESH_WIRE_TYPE_COUNT == 20);

static void
fail (const ProtobufCMessageDescriptor *desc, const char *why, const GError *error)
{
  fprintf (stderr, "%s: %s%s%s\n", desc->short_name, why,
           error ? ": " : "", error ? error->message : "");
  abort ();
}

static void
check_encodings (const ProtobufCMessage *m)
{
  const ProtobufCMessageDescriptor *desc = m->descriptor;
  GBytes *a = mesh_wire_encode (m), *b;
  gsize len, size = mesh_wire_encoded_size (m);
  const guint8 *data = g_bytes_get_data (a, &len);
  guint8 *into = g_malloc (size + 1);
  ProtobufCMessage *again;
  GError *error = NULL;

  if (size != len || mesh_wire_encode_into (m, into) != len
      || memcmp (into, data, len) != 0)
    fail (desc, "encoded_size, encode_into and encode disagree", NULL);
  again = mesh_wire_decode_message (desc, data, len, &error);
  if (again == NULL)
    fail (desc, "its encoding does not decode", error);
  b = mesh_wire_encode (again);
  if (!g_bytes_equal (a, b))
    fail (desc, "round trip changed the encoding", NULL);
  g_bytes_unref (b);
  g_bytes_unref (a);
  g_free (into);
  mesh_wire_free (again);
}

static ProtobufCMessage *
decode (const ProtobufCMessageDescriptor *desc, Decoder typed,
        const guint8 *data, gsize len)
{
  GError *error = NULL, *typed_error = NULL;
  ProtobufCMessage *m = mesh_wire_decode_message (desc, data, len, &error);
  ProtobufCMessage *t = typed ? typed (data, len, &typed_error) : NULL;

  if (m == NULL)
    {
      mesh_fuzz_check_error (error, desc->short_name);
      if (typed
          && (t != NULL || typed_error->code != error->code
              || strcmp (typed_error->message, error->message) != 0))
        fail (desc, "typed decoder does not fail alike", error);
      g_error_free (error);
      g_clear_error (&typed_error);
      return NULL;
    }
  if (typed)
    {
      GBytes *a, *b;

      if (t == NULL)
        fail (desc, "typed decoder fails where the generic one does not",
              typed_error);
      a = mesh_wire_encode (m);
      b = mesh_wire_encode (t);
      if (!g_bytes_equal (a, b))
        fail (desc, "typed and generic decoders disagree", NULL);
      g_bytes_unref (a);
      g_bytes_unref (b);
      mesh_wire_free (t);
    }
  if (!mesh_wire_validate (m, &error))
    fail (desc, "decoded but fails validation", error);
  check_encodings (m);
  return m;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static gboolean table_checked;
  const ProtobufCMessageDescriptor *desc;
  ProtobufCMessage *m;
  guint8 *body;
  size_t len;
  unsigned pick;

  if (!table_checked)
    {
      for (guint32 type = 1; type < MESH_WIRE_TYPE_COUNT; type++)
        {
          const MeshWireTypeInfo *info = mesh_wire_type_info (type);

          if (info == NULL || info->descriptor != entries[type].desc)
            {
              fprintf (stderr, "type %u: the type table changed\n", type);
              abort ();
            }
        }
      table_checked = TRUE;
    }

  if (size < 1)
    return 0;
  pick = data[0] % N_ENTRIES;
  desc = entries[pick].desc;
  len = size - 1;
  /* An exact-size copy: a read past the input shows under ASan. */
  body = g_malloc (len ? len : 1);
  memcpy (body, data + 1, len);

  m = decode (desc, entries[pick].typed, body, len);
  if (m != NULL && pick == 20)
    {
      const MeshWirePrivateContent *c = (const MeshWirePrivateContent *) m;
      const MeshWireTypeInfo *info = mesh_wire_type_info (c->type);

      if (info != NULL && c->type != MESH_WIRE_TYPE_PRIVATE)
        mesh_wire_free (decode (info->descriptor, entries[c->type].typed,
                                c->body.data, c->body.len));
    }
  mesh_wire_free (m);
  g_free (body);
  return 0;
}
