/* One BaseMessage (a frame body): decoded and validated, then its payload
 * by type, and the messages carried inside others.  Every message that
 * decodes must encode again to bytes that decode to the same encoding;
 * anything else aborts.
 *
 * Private messages: the ciphertext would normally be opened first.  Here
 * (as in a FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION build of the engine)
 * the bytes between the 8-byte counter and the 16-byte tag are taken as
 * the plaintext, so the decoders of PrivateContent, QueryMessage and
 * ResponseMessage are reached too. */
#include "config.h"

#include "fuzz.h"
#include "wire/codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <meshara/meshara.h>

static void
check_error (GError *error)
{
  if (error == NULL || error->domain != MESHARA_ERROR || error->message[0] == '\0')
    {
      fprintf (stderr, "decoder failed without a MESHARA_ERROR message\n");
      abort ();
    }
}

static ProtobufCMessage *
decode_any (const ProtobufCMessageDescriptor *desc, const guint8 *data,
            gsize len, GError **error)
{
  if (desc == &meshara__v1__base_message__descriptor)
    return (ProtobufCMessage *)
      mesh_wire_decode_base_full (data, len, G_MAXSIZE,
                                  MESH_WIRE_DECODE_ALLOW_UNKNOWN_TYPE, error);
  return mesh_wire_decode_message (desc, data, len, error);
}

/* encode(decode(encode(m))) == encode(m) */
static void
check_roundtrip (const ProtobufCMessage *m)
{
  GBytes *a = mesh_wire_encode (m);
  GBytes *b;
  GError *error = NULL;
  gsize len;
  const guint8 *data = g_bytes_get_data (a, &len);
  ProtobufCMessage *again = decode_any (m->descriptor, data, len, &error);

  if (again == NULL)
    {
      fprintf (stderr, "%s: re-encoding does not decode: %s\n",
               m->descriptor->short_name, error->message);
      abort ();
    }
  b = mesh_wire_encode (again);
  if (!g_bytes_equal (a, b))
    {
      fprintf (stderr, "%s: round trip changed the encoding\n",
               m->descriptor->short_name);
      abort ();
    }
  g_bytes_unref (b);
  g_bytes_unref (a);
  mesh_wire_free (again);
}

/* Decode data as desc; on success check it and return it. */
static ProtobufCMessage *
try_decode (const ProtobufCMessageDescriptor *desc, const guint8 *data, gsize len)
{
  GError *error = NULL;
  ProtobufCMessage *m = mesh_wire_decode_message (desc, data, len, &error);

  if (m == NULL)
    {
      check_error (error);
      g_clear_error (&error);
      return NULL;
    }
  if (!mesh_wire_validate (m, &error))
    {
      fprintf (stderr, "%s: decoded but fails validation: %s\n",
               desc->short_name, error->message);
      abort ();
    }
  check_roundtrip (m);
  return m;
}

static void
fuzz_private (const MeshWirePrivateMessage *p)
{
  const ProtobufCBinaryData *c = &p->ciphertext;
  MeshWirePrivateContent *content;
  const MeshWireTypeInfo *info;

  content = (MeshWirePrivateContent *)
    try_decode (&meshara__v1__private_content__descriptor,
                c->data + MESH_WIRE_COUNTER_LEN,
                c->len - MESH_WIRE_MIN_CIPHERTEXT);
  if (content == NULL)
    return;
  info = mesh_wire_type_info (content->type);
  if (info && content->type != MESH_WIRE_TYPE_PRIVATE)
    mesh_wire_free (try_decode (info->descriptor, content->body.data,
                                content->body.len));
  mesh_wire_free (content);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  GError *error = NULL;
  MeshWireBaseMessage *m;
  ProtobufCMessage *payload;
  guint8 id[MESH_WIRE_ID_LEN];

  m = mesh_wire_decode_base (data, size, MESH_FRAME_MAX_DEFAULT, &error);
  if (m == NULL)
    {
      check_error (error);
      /* An unknown type is reported only when the rest is valid: a relay
         taking unknown types must then get the message. */
      if (error->code == MESHARA_ERROR_UNKNOWN_TYPE)
        {
          g_clear_error (&error);
          m = mesh_wire_decode_base_full (data, size, MESH_FRAME_MAX_DEFAULT,
                                          MESH_WIRE_DECODE_ALLOW_UNKNOWN_TYPE,
                                          &error);
          if (m == NULL || mesh_wire_type_info (m->type) != NULL)
            abort ();
          check_roundtrip (&m->base);
          mesh_wire_compute_message_id (m, id);
          mesh_wire_free (m);
        }
      g_clear_error (&error);
      return 0;
    }

  if (!mesh_wire_validate (&m->base, &error))
    {
      fprintf (stderr, "BaseMessage: decoded but fails validation: %s\n",
               error->message);
      abort ();
    }
  check_roundtrip (&m->base);
  mesh_wire_compute_message_id (m, id);
  mesh_wire_check_message_id (m, NULL);
  mesh_wire_check_base_timestamp (m, G_GUINT64_CONSTANT (1700000000000), NULL);

  payload = mesh_wire_decode_payload (m, &error);
  if (payload == NULL)
    {
      check_error (error);
      g_clear_error (&error);
    }
  else
    {
      check_roundtrip (payload);
      if (m->type == MESH_WIRE_TYPE_PRIVATE)
        fuzz_private ((const MeshWirePrivateMessage *) payload);
      mesh_wire_free (payload);
    }
  mesh_wire_free (m);
  return 0;
}
