/* DHT contact records (meshara.v1 ContactRecord), which peers store and
 * hand out for others: decoded and validated on their own, and the same
 * bytes inside a Store and inside a Nodes answer.
 *
 * Checked besides memory safety:
 * - a failure is a MESHARA_ERROR with a message;
 * - a record decodes on its own exactly when it decodes inside Store and
 *   inside Nodes, and to the same content;
 * - what decodes obeys the documented rules, checked here again field by
 *   field (node_id 32 bytes, bundle 129, signature 64, at most 16
 *   addresses of 1 to 255 printable ASCII bytes, timestamp set, expiry
 *   after it), so that a decoder that lets something through shows;
 * - encode(decode(encode(r))) equals encode(r).
 * The bundle inside goes through mesh_bundle_parse() too, as a DHT node
 * would parse it; the record signature is defined by the DHT and belongs
 * to the engine's target. */
#include "config.h"

#include "fuzz.h"
#include "fuzz-input.h"
#include "wire/codec.h"
#include "crypto/identity.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <meshara/meshara.h>

static void
fail (const char *why)
{
  fprintf (stderr, "ContactRecord: %s\n", why);
  abort ();
}

/* The rules of meshara.proto, restated. */
static void
check_rules (const MeshWireContactRecord *r)
{
  if (r->node_id.len != MESH_WIRE_ID_LEN || r->bundle.len != MESH_WIRE_BUNDLE_LEN
      || r->signature.len != MESH_WIRE_SIG_LEN)
    fail ("a field of the wrong length got through");
  if (r->n_addresses > MESH_WIRE_MAX_ADDRESSES)
    fail ("too many addresses got through");
  for (size_t i = 0; i < r->n_addresses; i++)
    {
      size_t n = strlen (r->addresses[i]);

      if (n < 1 || n > MESH_WIRE_MAX_ADDRESS_LEN)
        fail ("an address of the wrong length got through");
      for (size_t j = 0; j < n; j++)
        if ((guchar) r->addresses[i][j] < 0x20 || (guchar) r->addresses[i][j] > 0x7e)
          fail ("an address with a non-printable byte got through");
    }
  if (r->timestamp_ms == 0 || r->expires_ms <= r->timestamp_ms)
    fail ("a bad timestamp or expiry got through");
}

static gboolean
same_encoding (const ProtobufCMessage *a, const ProtobufCMessage *b)
{
  GBytes *x = mesh_wire_encode (a), *y = mesh_wire_encode (b);
  gboolean same = g_bytes_equal (x, y);

  g_bytes_unref (x);
  g_bytes_unref (y);
  return same;
}

/* tag, varint length, then the record bytes */
static guint8 *
wrap (const guint8 *prefix, gsize prefix_len, guint8 tag, const guint8 *data,
      gsize size, gsize *out_len)
{
  guint8 *out = g_malloc (prefix_len + 1 + 10 + size);
  gsize n = 0;
  guint64 v = size;

  if (prefix_len > 0)
    memcpy (out, prefix, prefix_len);
  n = prefix_len;
  out[n++] = tag;
  do
    {
      out[n++] = (guint8) ((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
      v >>= 7;
    }
  while (v);
  if (size > 0)
    memcpy (out + n, data, size);
  *out_len = n + size;
  return out;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  GError *error = NULL;
  MeshWireContactRecord *r;
  MeshWireStore *store;
  MeshWireNodes *nodes;
  guint8 *copy, *w;
  gsize wlen;

  /* An exact-size copy: a read past the input shows under ASan. */
  copy = g_malloc (size ? size : 1);
  memcpy (copy, data, size);

  r = mesh_wire_decode_contact_record (copy, size, &error);
  if (r == NULL)
    {
      mesh_fuzz_check_error (error, "ContactRecord");
      g_clear_error (&error);
    }

  /* Store { record = 1 } */
  w = wrap (NULL, 0, 0x0a, copy, size, &wlen);
  store = mesh_wire_decode_store (w, wlen, &error);
  g_free (w);
  if (store == NULL)
    {
      mesh_fuzz_check_error (error, "Store");
      g_clear_error (&error);
    }
  /* Nodes { lookup_id (1) = 7, record (3) } */
  w = wrap ((const guint8 *) "\x08\x07", 2, 0x1a, copy, size, &wlen);
  nodes = mesh_wire_decode_nodes (w, wlen, &error);
  g_free (w);
  if (nodes == NULL)
    {
      mesh_fuzz_check_error (error, "Nodes");
      g_clear_error (&error);
    }

  if ((r != NULL) != (store != NULL) || (r != NULL) != (nodes != NULL))
    fail ("decodes differently on its own, in Store and in Nodes");

  if (r != NULL)
    {
      MeshPublicBundle b;

      if (!same_encoding (&r->base, &store->record->base)
          || !same_encoding (&r->base, &nodes->record->base))
        fail ("differs inside Store or Nodes");
      if (!mesh_wire_validate (&r->base, &error))
        fail (error->message);
      check_rules (r);
      {
        GBytes *a = mesh_wire_encode (&r->base), *b2;
        MeshWireContactRecord *again =
          mesh_wire_decode_contact_record (g_bytes_get_data (a, NULL),
                                           g_bytes_get_size (a), &error);
        if (again == NULL)
          fail ("its encoding does not decode");
        b2 = mesh_wire_encode (&again->base);
        if (!g_bytes_equal (a, b2))
          fail ("round trip changed the encoding");
        g_bytes_unref (a);
        g_bytes_unref (b2);
        mesh_wire_free (again);
      }
      /* Hostile bundles reach the parser this way too. */
      if (!mesh_bundle_parse (&b, r->bundle.data, r->bundle.len, &error))
        {
          mesh_fuzz_check_error (error, "record bundle");
          g_clear_error (&error);
        }
    }

  mesh_wire_free (r);
  mesh_wire_free (store);
  mesh_wire_free (nodes);
  g_free (copy);
  return 0;
}
