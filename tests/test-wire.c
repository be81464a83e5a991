/* The wire codec: every message round-trips, hostile input fails with the
 * named code and field, unknown fields are skipped, unknown types are
 * reported as such, timestamps are windowed. */
#include "config.h"

#include "wire/codec.h"
#include "crypto/hash.h"
#include "testutil.h"

#include <string.h>
#include <meshara/meshara.h>

#define TS G_GUINT64_CONSTANT (1700000000000)

/* ---------------------------------------------------------------------- */
/* Helpers */

static gpointer
qalloc (gsize n)
{
  gpointer p = g_malloc0 (n ? n : 1);
  g_test_queue_free (p);
  return p;
}

static char *
qstr (const char *s)
{
  char *d = g_strdup (s);
  g_test_queue_free (d);
  return d;
}

/* n bytes of a pattern that differs per seed. */
static ProtobufCBinaryData
pat (gsize n, guint seed)
{
  ProtobufCBinaryData b = { n, NULL };

  if (n)
    {
      b.data = qalloc (n);
      for (gsize i = 0; i < n; i++)
        b.data[i] = (guint8) (seed * 31 + i * 7 + (i >> 8));
    }
  return b;
}

static void
assert_bin_eq (const ProtobufCBinaryData *a, const ProtobufCBinaryData *b)
{
  g_assert_cmpuint (a->len, ==, b->len);
  if (a->len)
    g_assert_cmpint (memcmp (a->data, b->data, a->len), ==, 0);
}

static void
assert_error (GError **error, gint code, const char *needle)
{
  g_assert_nonnull (*error);
  if (!g_error_matches (*error, MESHARA_ERROR, code)
      || strstr ((*error)->message, needle) == NULL)
    g_error ("expected code %d naming \"%s\", got %s code %d: %s", code, needle,
             g_quark_to_string ((*error)->domain), (*error)->code,
             (*error)->message);
  g_clear_error (error);
}

static const guint8 *
bytes_data (GBytes *b, gsize *len)
{
  return g_bytes_get_data (b, len);
}

/* A BaseMessage of type around payload, with the envelope its type
 * requires. */
static void
envelope (MeshWireBaseMessage *b, MeshWireRoutingInfo *r, guint32 type,
          const guint8 *payload, gsize payload_len, guint8 id[MESH_WIRE_ID_LEN])
{
  const MeshWireTypeInfo *info = mesh_wire_type_info (type);

  meshara__v1__base_message__init (b);
  meshara__v1__routing_info__init (r);
  b->version = MESH_WIRE_PROTOCOL_VERSION;
  b->type = type;
  b->timestamp_ms = TS;
  b->payload.data = (guint8 *) payload;
  b->payload.len = payload_len;
  if (info && (info->flags & MESH_WIRE_SIGNED))
    {
      b->sender_public_key = pat (32, 1);
      b->signature = pat (64, 2);
    }
  if (info && (info->flags & MESH_WIRE_ROUTED))
    {
      r->route_type = MESH_WIRE_ROUTE_ROUTED;
      r->max_hops = 8;
      r->hop_count = 3;
      r->destination = pat (32, 3);
      r->next_hop = pat (32, 4);
      b->routing = r;
    }
  if (info && (info->flags & MESH_WIRE_FLOODED))
    {
      r->route_type = MESH_WIRE_ROUTE_FLOOD;
      r->max_hops = 6;
      r->hop_count = 1;
      b->routing = r;
    }
  mesh_wire_compute_message_id (b, id);
  b->message_id.data = id;
  b->message_id.len = MESH_WIRE_ID_LEN;
}

static GBytes *
encode_base (guint32 type, const guint8 *payload, gsize payload_len)
{
  MeshWireBaseMessage b;
  MeshWireRoutingInfo r;
  guint8 id[MESH_WIRE_ID_LEN];

  envelope (&b, &r, type, payload, payload_len, id);
  return mesh_wire_encode (&b.base);
}

/* Decode that must succeed. */
static MeshWireBaseMessage *
decode_base_ok (GBytes *enc)
{
  GError *error = NULL;
  gsize len;
  const guint8 *data = bytes_data (enc, &len);
  MeshWireBaseMessage *m = mesh_wire_decode_base (data, len, MESH_FRAME_MAX_DEFAULT,
                                                  &error);
  g_assert_no_error (error);
  g_assert_nonnull (m);
  return m;
}

static void
decode_base_fails (const guint8 *data, gsize len, gint code, const char *needle)
{
  GError *error = NULL;
  MeshWireBaseMessage *m = mesh_wire_decode_base (data, len, MESH_FRAME_MAX_DEFAULT,
                                                  &error);
  g_assert_null (m);
  assert_error (&error, code, needle);
}

/* ---------------------------------------------------------------------- */
/* Samples: every field set to a value other than its default */

static MeshWireAuthoritySignature **
sample_signatures (gsize n, guint seed)
{
  MeshWireAuthoritySignature **v = qalloc (n * sizeof *v);

  for (gsize i = 0; i < n; i++)
    {
      v[i] = qalloc (sizeof **v);
      meshara__v1__authority_signature__init (v[i]);
      v[i]->public_key = pat (32, seed + 2 * i);
      v[i]->signature = pat (64, seed + 2 * i + 1);
    }
  return v;
}

static char **
sample_addresses (gsize n)
{
  static const char *const a[] = { "127.0.0.1:7400", "[::1]:7401", "mesh.example:7402" };
  char **v = qalloc (n * sizeof *v);

  for (gsize i = 0; i < n; i++)
    v[i] = qstr (a[i % G_N_ELEMENTS (a)]);
  return v;
}

static MeshWireContactRecord *
sample_record (guint seed)
{
  MeshWireContactRecord *m = qalloc (sizeof *m);

  meshara__v1__contact_record__init (m);
  m->node_id = pat (32, seed);
  m->bundle = pat (MESH_WIRE_BUNDLE_LEN, seed + 1);
  m->n_addresses = 2;
  m->addresses = sample_addresses (2);
  m->timestamp_ms = TS + seed;
  m->expires_ms = TS + seed + 3600000;
  m->signature = pat (64, seed + 2);
  return m;
}

static ProtobufCMessage *
sample_private (void)
{
  MeshWirePrivateMessage *m = qalloc (sizeof *m);

  meshara__v1__private_message_payload__init (m);
  m->session_id = pat (16, 10);
  m->session_init = pat (MESH_WIRE_SESSION_INIT_LEN, 11);
  m->ciphertext = pat (100, 12);
  return &m->base;
}

static ProtobufCMessage *
sample_private_content (void)
{
  MeshWirePrivateContent *m = qalloc (sizeof *m);

  meshara__v1__private_content__init (m);
  m->type = MESH_WIRE_TYPE_QUERY;
  m->body = pat (40, 13);
  m->padding = pat (7, 14);
  return &m->base;
}

static ProtobufCMessage *
sample_ack (void)
{
  MeshWireAck *m = qalloc (sizeof *m);

  meshara__v1__acknowledgment__init (m);
  m->acked_message_id = pat (32, 15);
  m->session_id = pat (16, 16);
  m->counter = G_GUINT64_CONSTANT (0x0102030405060708);
  m->status = MESH_WIRE_ACK_DUPLICATE;
  m->tag = pat (16, 17);
  return &m->base;
}

static ProtobufCMessage *
sample_broadcast (void)
{
  static const char *const kv[][2] = {
    { "lang", "en" }, { "topic", "mesh \xe2\x9c\x93" }, { "empty", "" },
  };
  MeshWireBroadcast *m = qalloc (sizeof *m);

  meshara__v1__broadcast_payload__init (m);
  m->content = pat (300, 18);
  m->content_type = qstr ("text/plain; charset=utf-8");
  m->n_metadata = G_N_ELEMENTS (kv);
  m->metadata = qalloc (m->n_metadata * sizeof *m->metadata);
  for (gsize i = 0; i < m->n_metadata; i++)
    {
      m->metadata[i] = qalloc (sizeof **m->metadata);
      meshara__v1__broadcast_payload__metadata_entry__init (m->metadata[i]);
      m->metadata[i]->key = qstr (kv[i][0]);
      m->metadata[i]->value = qstr (kv[i][1]);
    }
  return &m->base;
}

static ProtobufCMessage *
sample_update_package (void)
{
  MeshWireUpdatePackage *m = qalloc (sizeof *m);

  meshara__v1__update_package__init (m);
  m->name = qstr ("meshara-tools");
  m->version = 42;
  m->version_label = qstr ("1.4.2");
  m->data = pat (5000, 19);
  m->changelog = qstr ("Fixes.\nMore fixes \xc3\xbc");
  m->checksum.len = MESH_WIRE_ID_LEN;
  m->checksum.data = qalloc (MESH_WIRE_ID_LEN);
  mesh_sha256 (m->data.data, m->data.len, m->checksum.data);
  m->min_version = 40;
  m->n_signatures = 2;
  m->signatures = sample_signatures (2, 20);
  return &m->base;
}

static ProtobufCMessage *
sample_update_announcement (void)
{
  MeshWireUpdateAnnouncement *m = qalloc (sizeof *m);

  meshara__v1__update_announcement__init (m);
  m->package_id = pat (32, 24);
  m->name = qstr ("meshara-tools");
  m->version = 7;
  m->version_label = qstr ("0.7");
  m->size = 150000;
  m->chunk_size = MESH_WIRE_DEFAULT_CHUNK_SIZE;
  m->n_chunk_hashes = 3;
  m->chunk_hashes = qalloc (3 * sizeof *m->chunk_hashes);
  for (gsize i = 0; i < 3; i++)
    m->chunk_hashes[i] = pat (32, 25 + i);
  m->n_signatures = 1;
  m->signatures = sample_signatures (1, 28);
  return &m->base;
}

static ProtobufCMessage *
sample_update_request (void)
{
  MeshWireUpdateRequest *m = qalloc (sizeof *m);

  meshara__v1__update_request__init (m);
  m->package_id = pat (32, 30);
  m->n_chunk_indices = 3;
  m->chunk_indices = qalloc (3 * sizeof *m->chunk_indices);
  m->chunk_indices[0] = 0;
  m->chunk_indices[1] = 5;
  m->chunk_indices[2] = MESH_WIRE_MAX_UPDATE_CHUNKS - 1;
  return &m->base;
}

static ProtobufCMessage *
sample_update_chunk (void)
{
  MeshWireUpdateChunk *m = qalloc (sizeof *m);

  meshara__v1__update_chunk__init (m);
  m->package_id = pat (32, 31);
  m->index = 5;
  m->data = pat (1024, 32);
  m->hash = pat (32, 33);
  return &m->base;
}

static ProtobufCMessage *
sample_query (void)
{
  MeshWireQuery *m = qalloc (sizeof *m);

  meshara__v1__query_message__init (m);
  m->query_id = pat (16, 34);
  m->query_type = qstr ("latest-version");
  m->body = pat (12, 35);
  return &m->base;
}

static ProtobufCMessage *
sample_response (void)
{
  MeshWireResponse *m = qalloc (sizeof *m);

  meshara__v1__response_message__init (m);
  m->query_id = pat (16, 36);
  m->code = MESH_WIRE_RESPONSE_NOT_FOUND;
  m->body = pat (3, 37);
  m->message = qstr ("no such package");
  return &m->base;
}

static ProtobufCMessage *
sample_route_advertisement (void)
{
  MeshWireRouteAdvertisement *m = qalloc (sizeof *m);

  meshara__v1__route_advertisement__init (m);
  m->n_entries = 3;
  m->entries = qalloc (3 * sizeof *m->entries);
  for (gsize i = 0; i < 3; i++)
    {
      m->entries[i] = qalloc (sizeof **m->entries);
      meshara__v1__route_entry__init (m->entries[i]);
      m->entries[i]->destination = pat (32, 38 + i);
      m->entries[i]->hop_count = 1 + i;
      m->entries[i]->cost = 100 * (i + 1);
      m->entries[i]->withdrawn = i == 1;
    }
  m->sequence = 99;
  m->full_table = TRUE;
  return &m->base;
}

static ProtobufCMessage *
sample_hello (void)
{
  MeshWireHello *m = qalloc (sizeof *m);

  meshara__v1__hello__init (m);
  m->protocol_version = 1;
  m->bundle = pat (MESH_WIRE_BUNDLE_LEN, 41);
  m->capabilities = MESH_WIRE_CAP_RELAY | MESH_WIRE_CAP_DHT
                    | G_GUINT64_CONSTANT (1) << 40;
  m->n_listen_addresses = 2;
  m->listen_addresses = sample_addresses (2);
  m->agent = qstr ("meshara/0.1.0");
  m->max_frame_size = 1024 * 1024;
  return &m->base;
}

static ProtobufCMessage *
sample_ping (void)
{
  MeshWirePing *m = qalloc (sizeof *m);

  meshara__v1__ping__init (m);
  m->nonce = G_GUINT64_CONSTANT (0xfedcba9876543210);
  m->timestamp = 123456789;
  return &m->base;
}

static ProtobufCMessage *
sample_pong (void)
{
  MeshWirePong *m = qalloc (sizeof *m);

  meshara__v1__pong__init (m);
  m->nonce = 1;
  m->timestamp = G_MAXUINT64;
  return &m->base;
}

static ProtobufCMessage *
sample_find_node (void)
{
  MeshWireFindNode *m = qalloc (sizeof *m);

  meshara__v1__find_node__init (m);
  m->target = pat (32, 42);
  m->lookup_id = 77;
  return &m->base;
}

static ProtobufCMessage *
sample_find_value (void)
{
  MeshWireFindValue *m = qalloc (sizeof *m);

  meshara__v1__find_value__init (m);
  m->key = pat (32, 43);
  m->lookup_id = 78;
  return &m->base;
}

static ProtobufCMessage *
sample_contact_record (void)
{
  return &sample_record (44)->base;
}

static ProtobufCMessage *
sample_store (void)
{
  MeshWireStore *m = qalloc (sizeof *m);

  meshara__v1__store__init (m);
  m->record = sample_record (47);
  return &m->base;
}

static ProtobufCMessage *
sample_nodes (void)
{
  MeshWireNodes *m = qalloc (sizeof *m);

  meshara__v1__nodes__init (m);
  m->lookup_id = 79;
  m->n_nodes = 2;
  m->nodes = qalloc (2 * sizeof *m->nodes);
  for (gsize i = 0; i < 2; i++)
    {
      m->nodes[i] = qalloc (sizeof **m->nodes);
      meshara__v1__node_info__init (m->nodes[i]);
      m->nodes[i]->node_id = pat (32, 50 + 2 * i);
      m->nodes[i]->bundle = pat (MESH_WIRE_BUNDLE_LEN, 51 + 2 * i);
      m->nodes[i]->n_addresses = 1 + i;
      m->nodes[i]->addresses = sample_addresses (1 + i);
    }
  m->record = sample_record (54);
  return &m->base;
}

static ProtobufCMessage *
sample_gossip_announce (void)
{
  MeshWireGossipAnnounce *m = qalloc (sizeof *m);

  meshara__v1__gossip_announce__init (m);
  m->n_message_ids = 3;
  m->message_ids = qalloc (3 * sizeof *m->message_ids);
  for (gsize i = 0; i < 3; i++)
    m->message_ids[i] = pat (32, 57 + i);
  return &m->base;
}

static ProtobufCMessage *
sample_gossip_pull (void)
{
  MeshWireGossipPull *m = qalloc (sizeof *m);

  meshara__v1__gossip_pull__init (m);
  m->n_message_ids = 2;
  m->message_ids = qalloc (2 * sizeof *m->message_ids);
  for (gsize i = 0; i < 2; i++)
    m->message_ids[i] = pat (32, 60 + i);
  return &m->base;
}

/* ---------------------------------------------------------------------- */
/* Field-by-field comparison */

static void
compare_signatures (MeshWireAuthoritySignature **a, gsize na,
                    MeshWireAuthoritySignature **b, gsize nb)
{
  g_assert_cmpuint (na, ==, nb);
  for (gsize i = 0; i < na; i++)
    {
      assert_bin_eq (&a[i]->public_key, &b[i]->public_key);
      assert_bin_eq (&a[i]->signature, &b[i]->signature);
    }
}

static void
compare_strings (char **a, gsize na, char **b, gsize nb)
{
  g_assert_cmpuint (na, ==, nb);
  for (gsize i = 0; i < na; i++)
    g_assert_cmpstr (a[i], ==, b[i]);
}

static void
compare_record (const MeshWireContactRecord *a, const MeshWireContactRecord *b)
{
  assert_bin_eq (&a->node_id, &b->node_id);
  assert_bin_eq (&a->bundle, &b->bundle);
  compare_strings (a->addresses, a->n_addresses, b->addresses, b->n_addresses);
  g_assert_cmpuint (a->timestamp_ms, ==, b->timestamp_ms);
  g_assert_cmpuint (a->expires_ms, ==, b->expires_ms);
  assert_bin_eq (&a->signature, &b->signature);
}

static void
compare_private (const ProtobufCMessage *x, const ProtobufCMessage *y)
{
  const MeshWirePrivateMessage *a = (const void *) x, *b = (const void *) y;
  assert_bin_eq (&a->session_id, &b->session_id);
  assert_bin_eq (&a->session_init, &b->session_init);
  assert_bin_eq (&a->ciphertext, &b->ciphertext);
}

static void
compare_private_content (const ProtobufCMessage *x, const ProtobufCMessage *y)
{
  const MeshWirePrivateContent *a = (const void *) x, *b = (const void *) y;
  g_assert_cmpint (a->type, ==, b->type);
  assert_bin_eq (&a->body, &b->body);
  assert_bin_eq (&a->padding, &b->padding);
}

static void
compare_ack (const ProtobufCMessage *x, const ProtobufCMessage *y)
{
  const MeshWireAck *a = (const void *) x, *b = (const void *) y;
  assert_bin_eq (&a->acked_message_id, &b->acked_message_id);
  assert_bin_eq (&a->session_id, &b->session_id);
  g_assert_cmpuint (a->counter, ==, b->counter);
  g_assert_cmpint (a->status, ==, b->status);
  assert_bin_eq (&a->tag, &b->tag);
}

static void
compare_broadcast (const ProtobufCMessage *x, const ProtobufCMessage *y)
{
  const MeshWireBroadcast *a = (const void *) x, *b = (const void *) y;
  assert_bin_eq (&a->content, &b->content);
  g_assert_cmpstr (a->content_type, ==, b->content_type);
  g_assert_cmpuint (a->n_metadata, ==, b->n_metadata);
  for (gsize i = 0; i < a->n_metadata; i++)
    {
      g_assert_cmpstr (a->metadata[i]->key, ==, b->metadata[i]->key);
      g_assert_cmpstr (a->metadata[i]->value, ==, b->metadata[i]->value);
    }
}

static void
compare_update_package (const ProtobufCMessage *x, const ProtobufCMessage *y)
{
  const MeshWireUpdatePackage *a = (const void *) x, *b = (const void *) y;
  g_assert_cmpstr (a->name, ==, b->name);
  g_assert_cmpuint (a->version, ==, b->version);
  g_assert_cmpstr (a->version_label, ==, b->version_label);
  assert_bin_eq (&a->data, &b->data);
  g_assert_cmpstr (a->changelog, ==, b->changelog);
  assert_bin_eq (&a->checksum, &b->checksum);
  g_assert_cmpuint (a->min_version, ==, b->min_version);
  compare_signatures (a->signatures, a->n_signatures, b->signatures, b->n_signatures);
}

static void
compare_update_announcement (const ProtobufCMessage *x, const ProtobufCMessage *y)
{
  const MeshWireUpdateAnnouncement *a = (const void *) x, *b = (const void *) y;
  assert_bin_eq (&a->package_id, &b->package_id);
  g_assert_cmpstr (a->name, ==, b->name);
  g_assert_cmpuint (a->version, ==, b->version);
  g_assert_cmpstr (a->version_label, ==, b->version_label);
  g_assert_cmpuint (a->size, ==, b->size);
  g_assert_cmpuint (a->chunk_size, ==, b->chunk_size);
  g_assert_cmpuint (a->n_chunk_hashes, ==, b->n_chunk_hashes);
  for (gsize i = 0; i < a->n_chunk_hashes; i++)
    assert_bin_eq (&a->chunk_hashes[i], &b->chunk_hashes[i]);
  compare_signatures (a->signatures, a->n_signatures, b->signatures, b->n_signatures);
}

static void
compare_update_request (const ProtobufCMessage *x, const ProtobufCMessage *y)
{
  const MeshWireUpdateRequest *a = (const void *) x, *b = (const void *) y;
  assert_bin_eq (&a->package_id, &b->package_id);
  g_assert_cmpuint (a->n_chunk_indices, ==, b->n_chunk_indices);
  for (gsize i = 0; i < a->n_chunk_indices; i++)
    g_assert_cmpuint (a->chunk_indices[i], ==, b->chunk_indices[i]);
}

static void
compare_update_chunk (const ProtobufCMessage *x, const ProtobufCMessage *y)
{
  const MeshWireUpdateChunk *a = (const void *) x, *b = (const void *) y;
  assert_bin_eq (&a->package_id, &b->package_id);
  g_assert_cmpuint (a->index, ==, b->index);
  assert_bin_eq (&a->data, &b->data);
  assert_bin_eq (&a->hash, &b->hash);
}

static void
compare_query (const ProtobufCMessage *x, const ProtobufCMessage *y)
{
  const MeshWireQuery *a = (const void *) x, *b = (const void *) y;
  assert_bin_eq (&a->query_id, &b->query_id);
  g_assert_cmpstr (a->query_type, ==, b->query_type);
  assert_bin_eq (&a->body, &b->body);
}

static void
compare_response (const ProtobufCMessage *x, const ProtobufCMessage *y)
{
  const MeshWireResponse *a = (const void *) x, *b = (const void *) y;
  assert_bin_eq (&a->query_id, &b->query_id);
  g_assert_cmpint (a->code, ==, b->code);
  assert_bin_eq (&a->body, &b->body);
  g_assert_cmpstr (a->message, ==, b->message);
}

static void
compare_route_advertisement (const ProtobufCMessage *x, const ProtobufCMessage *y)
{
  const MeshWireRouteAdvertisement *a = (const void *) x, *b = (const void *) y;
  g_assert_cmpuint (a->n_entries, ==, b->n_entries);
  for (gsize i = 0; i < a->n_entries; i++)
    {
      assert_bin_eq (&a->entries[i]->destination, &b->entries[i]->destination);
      g_assert_cmpuint (a->entries[i]->hop_count, ==, b->entries[i]->hop_count);
      g_assert_cmpuint (a->entries[i]->cost, ==, b->entries[i]->cost);
      g_assert_cmpint (a->entries[i]->withdrawn, ==, b->entries[i]->withdrawn);
    }
  g_assert_cmpuint (a->sequence, ==, b->sequence);
  g_assert_cmpint (a->full_table, ==, b->full_table);
}

static void
compare_hello (const ProtobufCMessage *x, const ProtobufCMessage *y)
{
  const MeshWireHello *a = (const void *) x, *b = (const void *) y;
  g_assert_cmpuint (a->protocol_version, ==, b->protocol_version);
  assert_bin_eq (&a->bundle, &b->bundle);
  g_assert_cmpuint (a->capabilities, ==, b->capabilities);
  compare_strings (a->listen_addresses, a->n_listen_addresses,
                   b->listen_addresses, b->n_listen_addresses);
  g_assert_cmpstr (a->agent, ==, b->agent);
  g_assert_cmpuint (a->max_frame_size, ==, b->max_frame_size);
}

static void
compare_ping (const ProtobufCMessage *x, const ProtobufCMessage *y)
{
  const MeshWirePing *a = (const void *) x, *b = (const void *) y;
  g_assert_cmpuint (a->nonce, ==, b->nonce);
  g_assert_cmpuint (a->timestamp, ==, b->timestamp);
}

static void
compare_pong (const ProtobufCMessage *x, const ProtobufCMessage *y)
{
  const MeshWirePong *a = (const void *) x, *b = (const void *) y;
  g_assert_cmpuint (a->nonce, ==, b->nonce);
  g_assert_cmpuint (a->timestamp, ==, b->timestamp);
}

static void
compare_find_node (const ProtobufCMessage *x, const ProtobufCMessage *y)
{
  const MeshWireFindNode *a = (const void *) x, *b = (const void *) y;
  assert_bin_eq (&a->target, &b->target);
  g_assert_cmpuint (a->lookup_id, ==, b->lookup_id);
}

static void
compare_find_value (const ProtobufCMessage *x, const ProtobufCMessage *y)
{
  const MeshWireFindValue *a = (const void *) x, *b = (const void *) y;
  assert_bin_eq (&a->key, &b->key);
  g_assert_cmpuint (a->lookup_id, ==, b->lookup_id);
}

static void
compare_contact_record (const ProtobufCMessage *x, const ProtobufCMessage *y)
{
  compare_record ((const void *) x, (const void *) y);
}

static void
compare_store (const ProtobufCMessage *x, const ProtobufCMessage *y)
{
  const MeshWireStore *a = (const void *) x, *b = (const void *) y;
  g_assert_nonnull (b->record);
  compare_record (a->record, b->record);
}

static void
compare_nodes (const ProtobufCMessage *x, const ProtobufCMessage *y)
{
  const MeshWireNodes *a = (const void *) x, *b = (const void *) y;
  g_assert_cmpuint (a->lookup_id, ==, b->lookup_id);
  g_assert_cmpuint (a->n_nodes, ==, b->n_nodes);
  for (gsize i = 0; i < a->n_nodes; i++)
    {
      assert_bin_eq (&a->nodes[i]->node_id, &b->nodes[i]->node_id);
      assert_bin_eq (&a->nodes[i]->bundle, &b->nodes[i]->bundle);
      compare_strings (a->nodes[i]->addresses, a->nodes[i]->n_addresses,
                       b->nodes[i]->addresses, b->nodes[i]->n_addresses);
    }
  g_assert_nonnull (b->record);
  compare_record (a->record, b->record);
}

static void
compare_gossip_announce (const ProtobufCMessage *x, const ProtobufCMessage *y)
{
  const MeshWireGossipAnnounce *a = (const void *) x, *b = (const void *) y;
  g_assert_cmpuint (a->n_message_ids, ==, b->n_message_ids);
  for (gsize i = 0; i < a->n_message_ids; i++)
    assert_bin_eq (&a->message_ids[i], &b->message_ids[i]);
}

static void
compare_gossip_pull (const ProtobufCMessage *x, const ProtobufCMessage *y)
{
  const MeshWireGossipPull *a = (const void *) x, *b = (const void *) y;
  g_assert_cmpuint (a->n_message_ids, ==, b->n_message_ids);
  for (gsize i = 0; i < a->n_message_ids; i++)
    assert_bin_eq (&a->message_ids[i], &b->message_ids[i]);
}

typedef ProtobufCMessage *(*Typed) (const guint8 *data, gsize len, GError **error);

typedef struct {
  const char *name;
  guint32 type;           /* its BaseMessage type, 0 for messages carried inside others */
  ProtobufCMessage *(*sample) (void);
  void (*compare) (const ProtobufCMessage *a, const ProtobufCMessage *b);
  Typed decode;
} Case;

#define TYPED(f) ((Typed) (void (*) (void)) (f))

static const Case cases[] = {
  { "private", MESH_WIRE_TYPE_PRIVATE, sample_private, compare_private,
    TYPED (mesh_wire_decode_private) },
  { "private-content", 0, sample_private_content, compare_private_content,
    TYPED (mesh_wire_decode_private_content) },
  { "ack", MESH_WIRE_TYPE_ACK, sample_ack, compare_ack, TYPED (mesh_wire_decode_ack) },
  { "broadcast", MESH_WIRE_TYPE_BROADCAST, sample_broadcast, compare_broadcast,
    TYPED (mesh_wire_decode_broadcast) },
  { "update-package", MESH_WIRE_TYPE_UPDATE_PACKAGE, sample_update_package,
    compare_update_package, TYPED (mesh_wire_decode_update_package) },
  { "update-announcement", MESH_WIRE_TYPE_UPDATE_ANNOUNCEMENT,
    sample_update_announcement, compare_update_announcement,
    TYPED (mesh_wire_decode_update_announcement) },
  { "update-request", MESH_WIRE_TYPE_UPDATE_REQUEST, sample_update_request,
    compare_update_request, TYPED (mesh_wire_decode_update_request) },
  { "update-chunk", MESH_WIRE_TYPE_UPDATE_CHUNK, sample_update_chunk,
    compare_update_chunk, TYPED (mesh_wire_decode_update_chunk) },
  { "query", 0, sample_query, compare_query, TYPED (mesh_wire_decode_query) },
  { "response", 0, sample_response, compare_response,
    TYPED (mesh_wire_decode_response) },
  { "route-advertisement", MESH_WIRE_TYPE_ROUTE_ADVERTISEMENT,
    sample_route_advertisement, compare_route_advertisement,
    TYPED (mesh_wire_decode_route_advertisement) },
  { "hello", MESH_WIRE_TYPE_HELLO, sample_hello, compare_hello,
    TYPED (mesh_wire_decode_hello) },
  { "ping", MESH_WIRE_TYPE_PING, sample_ping, compare_ping, TYPED (mesh_wire_decode_ping) },
  { "pong", MESH_WIRE_TYPE_PONG, sample_pong, compare_pong, TYPED (mesh_wire_decode_pong) },
  { "find-node", MESH_WIRE_TYPE_FIND_NODE, sample_find_node, compare_find_node,
    TYPED (mesh_wire_decode_find_node) },
  { "find-value", MESH_WIRE_TYPE_FIND_VALUE, sample_find_value, compare_find_value,
    TYPED (mesh_wire_decode_find_value) },
  { "contact-record", 0, sample_contact_record, compare_contact_record,
    TYPED (mesh_wire_decode_contact_record) },
  { "store", MESH_WIRE_TYPE_STORE, sample_store, compare_store,
    TYPED (mesh_wire_decode_store) },
  { "nodes", MESH_WIRE_TYPE_NODES, sample_nodes, compare_nodes,
    TYPED (mesh_wire_decode_nodes) },
  { "gossip-announce", MESH_WIRE_TYPE_GOSSIP_ANNOUNCE, sample_gossip_announce,
    compare_gossip_announce, TYPED (mesh_wire_decode_gossip_announce) },
  { "gossip-pull", MESH_WIRE_TYPE_GOSSIP_PULL, sample_gossip_pull,
    compare_gossip_pull, TYPED (mesh_wire_decode_gossip_pull) },
};

/* ---------------------------------------------------------------------- */
/* Round trips */

static void
test_roundtrip (gconstpointer data)
{
  const Case *c = data;
  ProtobufCMessage *msg = c->sample ();
  g_autoptr(GBytes) enc = NULL;
  g_autoptr(ProtobufCMessage) typed = NULL;
  GError *error = NULL;
  const guint8 *p;
  gsize len;

  g_assert_true (mesh_wire_validate (msg, &error));
  g_assert_no_error (error);

  enc = mesh_wire_encode (msg);
  p = bytes_data (enc, &len);
  g_assert_cmpuint (len, ==, mesh_wire_encoded_size (msg));

  /* The typed decoder, on the payload alone. */
  typed = c->decode (p, len, &error);
  g_assert_no_error (error);
  g_assert_nonnull (typed);
  g_assert_true (typed->descriptor == msg->descriptor);
  c->compare (msg, typed);

  /* The whole path a peer's message takes: envelope, frame, payload. */
  if (c->type != 0)
    {
      g_autoptr(GBytes) frame = NULL;
      g_autoptr(MeshWireBaseMessage) base = NULL;
      g_autoptr(ProtobufCMessage) payload = NULL;
      MeshWireBaseMessage b;
      MeshWireRoutingInfo r;
      guint8 id[MESH_WIRE_ID_LEN];
      const guint8 *f;
      gsize flen;

      envelope (&b, &r, c->type, p, len, id);
      frame = mesh_wire_encode_frame (&b, MESH_FRAME_MAX_DEFAULT, &error);
      g_assert_no_error (error);
      f = bytes_data (frame, &flen);
      g_assert_cmpuint (flen, ==, mesh_wire_frame_size (&b));
      g_assert_cmpuint (mesh_frame_read_header (f), ==, flen - MESH_FRAME_HEADER_LEN);

      base = mesh_wire_decode_base (f + MESH_FRAME_HEADER_LEN,
                                    flen - MESH_FRAME_HEADER_LEN,
                                    MESH_FRAME_MAX_DEFAULT, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (base->type, ==, c->type);
      assert_bin_eq (&base->payload, &b.payload);
      g_assert_true (mesh_wire_check_message_id (base, NULL));

      payload = mesh_wire_decode_payload (base, &error);
      g_assert_no_error (error);
      g_assert_true (payload->descriptor == msg->descriptor);
      c->compare (msg, payload);
    }
}

static void
test_roundtrip_base (void)
{
  guint8 payload[] = { 0x08, 0x01 };
  MeshWireBaseMessage b;
  MeshWireRoutingInfo r;
  guint8 id[MESH_WIRE_ID_LEN];
  g_autoptr(GBytes) enc = NULL;
  g_autoptr(MeshWireBaseMessage) d = NULL;

  /* A broadcast sets every envelope field. */
  envelope (&b, &r, MESH_WIRE_TYPE_BROADCAST, payload, sizeof payload, id);
  r.route_type = MESH_WIRE_ROUTE_FLOOD;
  r.next_hop = pat (32, 5);
  enc = mesh_wire_encode (&b.base);
  d = decode_base_ok (enc);

  g_assert_cmpuint (d->version, ==, b.version);
  assert_bin_eq (&d->message_id, &b.message_id);
  g_assert_cmpint (d->type, ==, b.type);
  g_assert_cmpuint (d->timestamp_ms, ==, b.timestamp_ms);
  assert_bin_eq (&d->sender_public_key, &b.sender_public_key);
  assert_bin_eq (&d->payload, &b.payload);
  assert_bin_eq (&d->signature, &b.signature);
  g_assert_nonnull (d->routing);
  g_assert_cmpuint (d->routing->hop_count, ==, r.hop_count);
  g_assert_cmpuint (d->routing->max_hops, ==, r.max_hops);
  g_assert_cmpint (d->routing->route_type, ==, r.route_type);
  assert_bin_eq (&d->routing->destination, &r.destination);
  assert_bin_eq (&d->routing->next_hop, &r.next_hop);

  /* And a routed private message, with its destination. */
  {
    g_autoptr(GBytes) enc2 = NULL;
    g_autoptr(MeshWireBaseMessage) d2 = NULL;

    envelope (&b, &r, MESH_WIRE_TYPE_PRIVATE, payload, sizeof payload, id);
    enc2 = mesh_wire_encode (&b.base);
    d2 = decode_base_ok (enc2);
    g_assert_cmpuint (d2->sender_public_key.len, ==, 0);
    g_assert_cmpuint (d2->signature.len, ==, 0);
    g_assert_cmpint (d2->routing->route_type, ==, MESH_WIRE_ROUTE_ROUTED);
    assert_bin_eq (&d2->routing->destination, &r.destination);
    assert_bin_eq (&d2->routing->next_hop, &r.next_hop);
  }
}

/* ---------------------------------------------------------------------- */
/* Empty, truncated, garbage, oversized */

static void
test_empty (void)
{
  GError *error = NULL;

  decode_base_fails (NULL, 0, MESHARA_ERROR_TRUNCATED, "BaseMessage: empty input");
  /* An empty payload is a message with all fields at their defaults,
     which the rules then judge. */
  g_assert_null (mesh_wire_decode_hello (NULL, 0, &error));
  assert_error (&error, MESHARA_ERROR_INVALID, "Hello.protocol_version: missing");
  g_assert_null (mesh_wire_decode_store (NULL, 0, &error));
  assert_error (&error, MESHARA_ERROR_INVALID, "Store.record: missing");
}

/* Ends of the top-level fields of an encoding known to be valid, with
 * the field number each range holds.  Written apart from the codec. */
typedef struct {
  gsize end;
  guint32 number;
} FieldEnd;

static gsize
skip_varint (const guint8 *p, gsize pos, guint64 *v)
{
  guint64 x = 0;
  guint shift = 0;

  while (p[pos] & 0x80)
    {
      x |= (guint64) (p[pos++] & 0x7f) << shift;
      shift += 7;
    }
  x |= (guint64) p[pos++] << shift;
  if (v)
    *v = x;
  return pos;
}

static GArray *
field_ends (const guint8 *p, gsize len)
{
  GArray *a = g_array_new (FALSE, FALSE, sizeof (FieldEnd));
  gsize pos = 0;

  while (pos < len)
    {
      guint64 tag, n;
      FieldEnd e;

      pos = skip_varint (p, pos, &tag);
      switch (tag & 7)
        {
        case 0: pos = skip_varint (p, pos, NULL); break;
        case 1: pos += 8; break;
        case 5: pos += 4; break;
        case 2: pos = skip_varint (p, pos, &n); pos += n; break;
        default: g_assert_not_reached ();
        }
      e.end = pos;
      e.number = (guint32) (tag >> 3);
      g_array_append_val (a, e);
    }
  g_assert_cmpuint (pos, ==, len);
  return a;
}

/* Every prefix of a valid encoding is refused; a cut inside a field is
 * TRUNCATED and names that field. */
static void
check_prefixes (const ProtobufCMessageDescriptor *desc, const guint8 *p,
                gsize len, gboolean all_fail)
{
  GArray *ends = field_ends (p, len);
  gsize k = 0;

  for (gsize n = 0; n < len; n++)
    {
      GError *error = NULL;
      ProtobufCMessage *m;
      gboolean boundary;

      while (k < ends->len && g_array_index (ends, FieldEnd, k).end <= n)
        k++;
      boundary = n == 0 || (k > 0 && g_array_index (ends, FieldEnd, k - 1).end == n);

      if (desc == &meshara__v1__base_message__descriptor)
        m = (ProtobufCMessage *) mesh_wire_decode_base (p, n, MESH_FRAME_MAX_DEFAULT,
                                                        &error);
      else
        m = mesh_wire_decode_message (desc, p, n, &error);

      if (!boundary)
        {
          const ProtobufCFieldDescriptor *f =
            protobuf_c_message_descriptor_get_field (desc,
                                                     g_array_index (ends, FieldEnd, k).number);
          g_autofree char *needle = g_strdup_printf ("%s.%s", desc->short_name,
                                                     f->name);
          g_assert_null (m);
          assert_error (&error, MESHARA_ERROR_TRUNCATED, needle);
        }
      else if (all_fail)
        {
          /* At a field boundary the shorter message is well formed but
             lacks a required field. */
          g_assert_null (m);
          g_assert_nonnull (error);
          if (n == 0)
            g_assert_cmpint (error->code, ==, MESHARA_ERROR_TRUNCATED);
          else
            g_assert_true (error->code == MESHARA_ERROR_INVALID
                           || error->code == MESHARA_ERROR_UNSUPPORTED_VERSION);
          g_assert_nonnull (strstr (error->message, desc->short_name));
          g_clear_error (&error);
        }
      else
        {
          g_clear_error (&error);
          mesh_wire_free (m);
        }
    }
  g_array_unref (ends);
}

static void
test_truncated (void)
{
  g_autoptr(GBytes) payload = mesh_wire_encode (sample_broadcast ());
  gsize plen, len;
  const guint8 *pp = bytes_data (payload, &plen);
  g_autoptr(GBytes) enc = encode_base (MESH_WIRE_TYPE_BROADCAST, pp, plen);
  const guint8 *p = bytes_data (enc, &len);

  check_prefixes (&meshara__v1__base_message__descriptor, p, len, TRUE);

  /* Payloads too, nested ones included: cutting a nested message shows
     as the outer field running past the end. */
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      ProtobufCMessage *m = cases[i].sample ();
      g_autoptr(GBytes) b = mesh_wire_encode (m);
      const guint8 *q = bytes_data (b, &len);
      check_prefixes (m->descriptor, q, len, FALSE);
    }
}

static void
test_garbage (void)
{
  static const struct {
    const char *hex;
    gint code;
    const char *needle;
  } garbage[] = {
    { "ffffffffffffffffffff", MESHARA_ERROR_MALFORMED, "BaseMessage: field tag at offset 0 is longer than 5 bytes" },
    { "0801ff", MESHARA_ERROR_TRUNCATED, "BaseMessage: input ends inside the field tag at offset 2" },
    { "00", MESHARA_ERROR_MALFORMED, "field number 0" },
    { "0f", MESHARA_ERROR_MALFORMED, "BaseMessage.version: wire type 7 is not supported" },
    { "0b0c", MESHARA_ERROR_MALFORMED, "BaseMessage.version: wire type 3 is not supported" },
    /* message_id (field 2) sent as a varint */
    { "1001", MESHARA_ERROR_MALFORMED, "BaseMessage.message_id: wire type 0, expected 2" },
    /* version (field 1) sent as bytes */
    { "0a0101", MESHARA_ERROR_MALFORMED, "BaseMessage.version: wire type 2, expected 0" },
    { "08ffffffffffffffffffff01", MESHARA_ERROR_MALFORMED, "BaseMessage.version: varint longer than 10 bytes" },
    { "0880", MESHARA_ERROR_TRUNCATED, "BaseMessage.version: input ends inside the value" },
    { "1280", MESHARA_ERROR_TRUNCATED, "BaseMessage.message_id: input ends inside the length" },
    { "12ffffffff7f", MESHARA_ERROR_MALFORMED, "BaseMessage.message_id: length 34359738367 exceeds 32 bits" },
    { "1205aabb", MESHARA_ERROR_TRUNCATED, "BaseMessage.message_id: 5 bytes declared, 2 left" },
    { "08010802", MESHARA_ERROR_MALFORMED, "BaseMessage.version: appears more than once" },
    { "f907", MESHARA_ERROR_TRUNCATED, "BaseMessage field 127: input ends inside the 8-byte value" },
    { "fd0701", MESHARA_ERROR_TRUNCATED, "BaseMessage field 127: input ends inside the 4-byte value" },
    /* routing with a length that runs past its own end */
    { "42031a0501", MESHARA_ERROR_TRUNCATED, "RoutingInfo.route_type: 5 bytes declared, 1 left" },
    { "0802", MESHARA_ERROR_UNSUPPORTED_VERSION, "BaseMessage.version: 2, supported 1" },
  };
  TestRng rng = { 42 };

  for (gsize i = 0; i < G_N_ELEMENTS (garbage); i++)
    {
      gsize len;
      g_autofree guint8 *b = test_unhex (garbage[i].hex, &len);
      decode_base_fails (b, len, garbage[i].code, garbage[i].needle);
    }

  /* Random bytes: always refused, with a code for bad input and the
     message named. */
  for (guint i = 0; i < 2000; i++)
    {
      guint8 buf[256];
      guint8 n;
      GError *error = NULL;
      MeshWireBaseMessage *m;

      test_rng (&rng, &n, 1);
      test_rng (&rng, buf, n);
      m = mesh_wire_decode_base (buf, n, MESH_FRAME_MAX_DEFAULT, &error);
      g_assert_null (m);
      g_assert_nonnull (error);
      g_assert_true (error->domain == MESHARA_ERROR);
      g_assert_true (error->code == MESHARA_ERROR_TRUNCATED
                     || error->code == MESHARA_ERROR_MALFORMED
                     || error->code == MESHARA_ERROR_INVALID
                     || error->code == MESHARA_ERROR_TOO_LARGE
                     || error->code == MESHARA_ERROR_UNSUPPORTED_VERSION
                     || error->code == MESHARA_ERROR_UNKNOWN_TYPE);
      g_assert_true (g_str_has_prefix (error->message, "BaseMessage")
                     || g_str_has_prefix (error->message, "RoutingInfo"));
      g_clear_error (&error);
    }

  /* Valid encodings with bytes flipped: decoded or refused, never worse
     (valgrind and the sanitizers watch this one). */
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GBytes) b = mesh_wire_encode (cases[i].sample ());
      gsize len;
      const guint8 *q = bytes_data (b, &len);
      g_autofree guint8 *copy = g_memdup2 (q, len);

      for (guint round = 0; round < 200; round++)
        {
          guint8 r[3];
          ProtobufCMessage *m;
          GError *error = NULL;

          memcpy (copy, q, len);
          test_rng (&rng, r, sizeof r);
          copy[(r[0] << 8 | r[1]) % len] ^= r[2] | 1;
          m = cases[i].decode (copy, len, &error);
          g_assert_true ((m == NULL) != (error == NULL));
          g_clear_error (&error);
          mesh_wire_free (m);
        }
    }
}

static void
test_strings (void)
{
  GError *error = NULL;
  gsize len;
  /* QueryMessage: query_id (16 bytes), query_type "ab\0c" */
  g_autofree guint8 *nul = test_unhex ("0a10000102030405060708090a0b0c0d0e0f"
                                       "1204616200" "63", &len);
  g_autofree guint8 *bad_utf8 = NULL;
  g_autofree guint8 *ctrl = NULL;

  g_assert_null (mesh_wire_decode_query (nul, len, &error));
  assert_error (&error, MESHARA_ERROR_INVALID, "QueryMessage.query_type: contains a NUL byte");

  /* ResponseMessage.message with a lone continuation byte */
  bad_utf8 = test_unhex ("0a10000102030405060708090a0b0c0d0e0f" "1001" "2203618062", &len);
  g_assert_null (mesh_wire_decode_response (bad_utf8, len, &error));
  assert_error (&error, MESHARA_ERROR_INVALID, "ResponseMessage.message: not valid UTF-8");

  /* A control character in a token */
  ctrl = test_unhex ("0a10000102030405060708090a0b0c0d0e0f" "12036c0a76", &len);
  g_assert_null (mesh_wire_decode_query (ctrl, len, &error));
  assert_error (&error, MESHARA_ERROR_INVALID,
                "QueryMessage.query_type: byte 0x0a at offset 1 is not printable ASCII");
}

static void
test_oversized (void)
{
  g_autoptr(GBytes) enc = encode_base (MESH_WIRE_TYPE_PING, NULL, 0);
  GError *error = NULL;
  gsize len;
  const guint8 *p = bytes_data (enc, &len);
  g_autofree char *needle = NULL;

  /* The size is checked before a byte is read. */
  g_assert_null (mesh_wire_decode_base (p, len, len - 1, &error));
  needle = g_strdup_printf ("BaseMessage: %" G_GSIZE_FORMAT " bytes exceeds the limit of %"
                            G_GSIZE_FORMAT, len, len - 1);
  assert_error (&error, MESHARA_ERROR_TOO_LARGE, needle);
  g_assert_null (mesh_wire_decode_base ((const guint8 *) "", MESH_FRAME_MAX_DEFAULT + 1,
                                        MESH_FRAME_MAX_DEFAULT, &error));
  assert_error (&error, MESHARA_ERROR_TOO_LARGE, "exceeds the limit of 16777216");

  /* Repeated counts are refused while walking, before protobuf-c sizes
     its arrays. */
  {
    GByteArray *a = g_byte_array_new ();
    static const guint8 entry[] = { 0x0a, 0x00 };   /* entries: empty RouteEntry */
    for (guint i = 0; i <= MESH_WIRE_MAX_ROUTE_ENTRIES; i++)
      g_byte_array_append (a, entry, sizeof entry);
    g_assert_null (mesh_wire_decode_route_advertisement (a->data, a->len, &error));
    assert_error (&error, MESHARA_ERROR_TOO_LARGE,
                  "RouteAdvertisement.entries: more than 4096 entries");
    /* At the limit the walk passes and protobuf-c stays within its memory
       budget; the empty entries then fail validation. */
    g_byte_array_set_size (a, a->len - sizeof entry);
    g_assert_null (mesh_wire_decode_route_advertisement (a->data, a->len, &error));
    assert_error (&error, MESHARA_ERROR_INVALID,
                  "RouteAdvertisement.entries[0].destination: 0 bytes, expected 32");
    g_byte_array_unref (a);
  }
  {
    GByteArray *a = g_byte_array_new ();
    guint8 id[2 + 32] = { 0x0a, 0x20 };
    for (guint i = 0; i <= MESH_WIRE_MAX_GOSSIP_IDS; i++)
      g_byte_array_append (a, id, sizeof id);
    g_assert_null (mesh_wire_decode_gossip_pull (a->data, a->len, &error));
    assert_error (&error, MESHARA_ERROR_TOO_LARGE, "GossipPull.message_ids: more than 1024 entries");
    g_byte_array_unref (a);
  }
  {
    /* Packed chunk indices count each value. */
    GByteArray *a = g_byte_array_new ();
    guint8 head[] = { 0x12, 0x81, 0x02 };  /* field 2, 257 bytes */
    g_byte_array_append (a, head, sizeof head);
    for (guint i = 0; i < 257; i++)
      g_byte_array_append (a, (const guint8 *) "\x01", 1);
    g_assert_null (mesh_wire_decode_update_request (a->data, a->len, &error));
    assert_error (&error, MESHARA_ERROR_TOO_LARGE, "UpdateRequest.chunk_indices: more than 256 entries");
    g_byte_array_unref (a);
  }
  {
    /* Unknown fields are skipped, but not without bound. */
    GByteArray *a = g_byte_array_new ();
    static const guint8 unknown[] = { 0xa0, 0x1f, 0x00 };   /* field 500, varint 0 */
    for (guint i = 0; i <= MESH_WIRE_MAX_UNKNOWN_FIELDS; i++)
      g_byte_array_append (a, unknown, sizeof unknown);
    g_assert_null (mesh_wire_decode_ping (a->data, a->len, &error));
    assert_error (&error, MESHARA_ERROR_TOO_LARGE, "Ping field 500: more than 1024 unknown fields");
    g_byte_array_unref (a);
  }
  {
    /* Field sizes beyond their limits. */
    MeshWireUpdateChunk *c = (MeshWireUpdateChunk *) sample_update_chunk ();
    g_autoptr(GBytes) b = NULL;
    c->data = pat (MESH_WIRE_MAX_CHUNK_SIZE + 1, 1);
    b = mesh_wire_encode (&c->base);
    p = bytes_data (b, &len);
    g_assert_null (mesh_wire_decode_update_chunk (p, len, &error));
    assert_error (&error, MESHARA_ERROR_TOO_LARGE,
                  "UpdateChunk.data: 1048577 bytes exceeds the limit of 1048576");
  }
}

/* ---------------------------------------------------------------------- */
/* Forward compatibility */

static void
append_unknown (GByteArray *a)
{
  /* field 1000 varint 5, field 1001 bytes "xyz", field 1002 fixed64,
     field 1003 fixed32: numbers no revision of ours will reuse here */
  static const char hex[] = "c03e05" "ca3e0378797a" "d13e0102030405060708" "dd3e01020304";
  gsize n;
  g_autofree guint8 *b = test_unhex (hex, &n);
  g_byte_array_append (a, b, n);
}

static void
test_unknown_fields (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      ProtobufCMessage *msg = cases[i].sample ();
      g_autoptr(GBytes) enc = mesh_wire_encode (msg);
      gsize len;
      const guint8 *p = bytes_data (enc, &len);
      GByteArray *a = g_byte_array_new ();
      GError *error = NULL;
      ProtobufCMessage *d;

      g_byte_array_append (a, p, len);
      append_unknown (a);
      d = cases[i].decode (a->data, a->len, &error);
      g_assert_no_error (error);
      cases[i].compare (msg, d);
      mesh_wire_free (d);
      g_byte_array_unref (a);
    }

  /* In the envelope, and in a nested message; a relay re-encodes them
     unchanged. */
  {
    MeshWireBaseMessage b;
    MeshWireRoutingInfo r;
    guint8 id[MESH_WIRE_ID_LEN];
    GByteArray *a = g_byte_array_new ();
    GError *error = NULL;
    g_autoptr(MeshWireBaseMessage) d = NULL;
    g_autoptr(GBytes) again = NULL;
    gsize len;
    const guint8 *p;
    GByteArray *ra = g_byte_array_new ();
    g_autoptr(GBytes) renc = NULL;

    envelope (&b, &r, MESH_WIRE_TYPE_ACK, (const guint8 *) "", 0, id);
    renc = mesh_wire_encode (&r.base);
    p = bytes_data (renc, &len);
    g_byte_array_append (ra, p, len);
    append_unknown (ra);
    b.routing = NULL;
    {
      g_autoptr(GBytes) benc = mesh_wire_encode (&b.base);
      guint8 hdr[3] = { 0x42, (guint8) (ra->len | 0x80), (guint8) (ra->len >> 7) };
      p = bytes_data (benc, &len);
      g_byte_array_append (a, p, len);
      g_byte_array_append (a, hdr, sizeof hdr);     /* routing, field 8 */
      g_byte_array_append (a, ra->data, ra->len);
      append_unknown (a);
    }
    d = mesh_wire_decode_base (a->data, a->len, MESH_FRAME_MAX_DEFAULT, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (d->routing->max_hops, ==, 8);
    assert_bin_eq (&d->routing->destination, &r.destination);
    g_assert_cmpuint (d->base.n_unknown_fields, ==, 4);
    g_assert_cmpuint (d->routing->base.n_unknown_fields, ==, 4);

    /* The routing length above is written in two bytes where one would
       do, so compare re-encodings rather than the input. */
    again = mesh_wire_encode (&d->base);
    {
      g_autoptr(MeshWireBaseMessage) d2 = decode_base_ok (again);
      g_autoptr(GBytes) again2 = mesh_wire_encode (&d2->base);
      g_assert_true (g_bytes_equal (again, again2));
      g_assert_cmpuint (d2->base.n_unknown_fields, ==, 4);
      g_assert_cmpuint (d2->routing->base.n_unknown_fields, ==, 4);
    }
    g_byte_array_unref (ra);
    g_byte_array_unref (a);
  }
}

static void
test_unknown_type (void)
{
  g_autoptr(GBytes) enc = encode_base (77, (const guint8 *) "\x08\x01", 2);
  GError *error = NULL;
  gsize len;
  const guint8 *p = bytes_data (enc, &len);
  g_autoptr(MeshWireBaseMessage) m = NULL;

  decode_base_fails (p, len, MESHARA_ERROR_UNKNOWN_TYPE,
                     "BaseMessage.type: 77 is not a message type of protocol version 1");

  /* A relay may take it anyway, to forward it. */
  m = mesh_wire_decode_base_full (p, len, MESH_FRAME_MAX_DEFAULT,
                                  MESH_WIRE_DECODE_ALLOW_UNKNOWN_TYPE, &error);
  g_assert_no_error (error);
  g_assert_cmpint (m->type, ==, 77);
  g_assert_null (mesh_wire_type_info (77));
  g_assert_cmpstr (mesh_wire_type_name (77), ==, "UNKNOWN");
  g_assert_null (mesh_wire_decode_payload (m, &error));
  assert_error (&error, MESHARA_ERROR_UNKNOWN_TYPE, "BaseMessage.type: 77");

  /* Only once everything else passed: a broken envelope of an unknown
     type is invalid. */
  {
    MeshWireBaseMessage b;
    MeshWireRoutingInfo r;
    guint8 id[MESH_WIRE_ID_LEN];
    g_autoptr(GBytes) bad = NULL;

    envelope (&b, &r, 77, NULL, 0, id);
    b.message_id.len = 31;
    bad = mesh_wire_encode (&b.base);
    p = bytes_data (bad, &len);
    decode_base_fails (p, len, MESHARA_ERROR_INVALID,
                       "BaseMessage.message_id: 31 bytes, expected 32");
  }

  /* Inside a private session, an unknown inner type is also unknown,
     not malformed. */
  {
    MeshWirePrivateContent *c = (MeshWirePrivateContent *) sample_private_content ();
    g_autoptr(GBytes) b = NULL;
    c->type = 99;
    b = mesh_wire_encode (&c->base);
    p = bytes_data (b, &len);
    g_assert_null (mesh_wire_decode_private_content (p, len, &error));
    assert_error (&error, MESHARA_ERROR_UNKNOWN_TYPE, "PrivateContent.type: 99");
  }
}

/* ---------------------------------------------------------------------- */
/* Envelope and payload rules */

typedef void (*Mutate) (MeshWireBaseMessage *b, MeshWireRoutingInfo *r);

static void m_id31 (MeshWireBaseMessage *b, MeshWireRoutingInfo *r) { b->message_id.len = 31; }
static void m_version2 (MeshWireBaseMessage *b, MeshWireRoutingInfo *r) { b->version = 2; }
static void m_version0 (MeshWireBaseMessage *b, MeshWireRoutingInfo *r) { b->version = 0; }
static void m_no_ts (MeshWireBaseMessage *b, MeshWireRoutingInfo *r) { b->timestamp_ms = 0; }
static void m_type0 (MeshWireBaseMessage *b, MeshWireRoutingInfo *r) { b->type = 0; }
static void m_key31 (MeshWireBaseMessage *b, MeshWireRoutingInfo *r) { b->sender_public_key = pat (31, 1); }
static void m_no_sig (MeshWireBaseMessage *b, MeshWireRoutingInfo *r) { b->signature.len = 0; }
static void m_no_key (MeshWireBaseMessage *b, MeshWireRoutingInfo *r) { b->sender_public_key.len = 0; }
static void m_sig63 (MeshWireBaseMessage *b, MeshWireRoutingInfo *r) { b->signature = pat (63, 2); }
static void m_no_routing (MeshWireBaseMessage *b, MeshWireRoutingInfo *r) { b->routing = NULL; }
static void m_hops (MeshWireBaseMessage *b, MeshWireRoutingInfo *r) { r->hop_count = r->max_hops + 1; }
static void m_max_hops (MeshWireBaseMessage *b, MeshWireRoutingInfo *r) { r->max_hops = MESH_WIRE_MAX_HOPS + 1; }
static void m_max_hops0 (MeshWireBaseMessage *b, MeshWireRoutingInfo *r) { r->max_hops = 0; r->hop_count = 0; }
static void m_route0 (MeshWireBaseMessage *b, MeshWireRoutingInfo *r) { r->route_type = 0; }
static void m_route9 (MeshWireBaseMessage *b, MeshWireRoutingInfo *r) { r->route_type = 9; }
static void m_dest31 (MeshWireBaseMessage *b, MeshWireRoutingInfo *r) { r->destination.len = 31; }
static void m_next1 (MeshWireBaseMessage *b, MeshWireRoutingInfo *r) { r->next_hop.len = 1; }
static void m_flood (MeshWireBaseMessage *b, MeshWireRoutingInfo *r)
{
  r->route_type = MESH_WIRE_ROUTE_FLOOD;
  r->destination.len = 0;
}
static void m_flood_dest (MeshWireBaseMessage *b, MeshWireRoutingInfo *r) { r->destination = pat (32, 9); }
static void m_add_routing (MeshWireBaseMessage *b, MeshWireRoutingInfo *r)
{
  r->route_type = MESH_WIRE_ROUTE_DIRECT;
  r->max_hops = 1;
  r->destination = pat (32, 9);
  b->routing = r;
}
static void m_query (MeshWireBaseMessage *b, MeshWireRoutingInfo *r) { b->type = MESH_WIRE_TYPE_QUERY; }
static void m_add_flood (MeshWireBaseMessage *b, MeshWireRoutingInfo *r)
{
  r->route_type = MESH_WIRE_ROUTE_FLOOD;
  r->max_hops = 4;
  r->destination = (ProtobufCBinaryData) { 0, NULL };
  b->routing = r;
}

static void
test_envelope_rules (void)
{
  static const struct {
    guint32 type;
    Mutate mutate;
    gint code;
    const char *needle;
  } rules[] = {
    { MESH_WIRE_TYPE_PING, m_id31, MESHARA_ERROR_INVALID, "BaseMessage.message_id: 31 bytes, expected 32" },
    { MESH_WIRE_TYPE_PING, m_version2, MESHARA_ERROR_UNSUPPORTED_VERSION, "BaseMessage.version: 2, supported 1" },
    { MESH_WIRE_TYPE_PING, m_version0, MESHARA_ERROR_UNSUPPORTED_VERSION, "BaseMessage.version: 0, supported 1" },
    { MESH_WIRE_TYPE_PING, m_no_ts, MESHARA_ERROR_INVALID, "BaseMessage.timestamp_ms: missing" },
    { MESH_WIRE_TYPE_PING, m_type0, MESHARA_ERROR_INVALID, "BaseMessage.type: missing (UNSPECIFIED)" },
    { MESH_WIRE_TYPE_PING, m_key31, MESHARA_ERROR_INVALID, "BaseMessage.sender_public_key: 31 bytes, expected 0 or 32" },
    { MESH_WIRE_TYPE_PING, m_add_routing, MESHARA_ERROR_INVALID, "BaseMessage.routing: present, expected none for PING" },
    { MESH_WIRE_TYPE_PING, m_query, MESHARA_ERROR_INVALID, "BaseMessage.type: QUERY travels only inside a private session" },
    { MESH_WIRE_TYPE_BROADCAST, m_no_sig, MESHARA_ERROR_INVALID, "BaseMessage.signature: 0 bytes, expected 64 for BROADCAST" },
    { MESH_WIRE_TYPE_BROADCAST, m_no_key, MESHARA_ERROR_INVALID, "BaseMessage.sender_public_key: 0 bytes, expected 32 for BROADCAST" },
    { MESH_WIRE_TYPE_BROADCAST, m_sig63, MESHARA_ERROR_INVALID, "BaseMessage.signature: 63 bytes, expected 0 or 64" },
    { MESH_WIRE_TYPE_BROADCAST, m_no_routing, MESHARA_ERROR_INVALID, "BaseMessage.routing: missing, required for BROADCAST" },
    { MESH_WIRE_TYPE_BROADCAST, m_flood_dest, MESHARA_ERROR_INVALID, "BaseMessage.routing.destination: 32 bytes, expected 0 for FLOOD" },
    { MESH_WIRE_TYPE_PRIVATE, m_no_routing, MESHARA_ERROR_INVALID, "BaseMessage.routing: missing, required for PRIVATE" },
    { MESH_WIRE_TYPE_PRIVATE, m_sig63, MESHARA_ERROR_INVALID, "BaseMessage.signature: 63 bytes" },
    { MESH_WIRE_TYPE_ACK, m_hops, MESHARA_ERROR_INVALID, "BaseMessage.routing.hop_count: 9 exceeds max_hops 8" },
    { MESH_WIRE_TYPE_ACK, m_max_hops, MESHARA_ERROR_INVALID, "BaseMessage.routing.max_hops: 33, expected 1 to 32" },
    { MESH_WIRE_TYPE_ACK, m_max_hops0, MESHARA_ERROR_INVALID, "BaseMessage.routing.max_hops: 0, expected 1 to 32" },
    { MESH_WIRE_TYPE_ACK, m_route0, MESHARA_ERROR_INVALID, "BaseMessage.routing.route_type: missing (UNSPECIFIED)" },
    { MESH_WIRE_TYPE_ACK, m_route9, MESHARA_ERROR_INVALID, "BaseMessage.routing.route_type: 9 is not a route type" },
    { MESH_WIRE_TYPE_ACK, m_dest31, MESHARA_ERROR_INVALID, "BaseMessage.routing.destination: 31 bytes, expected 32" },
    { MESH_WIRE_TYPE_ACK, m_next1, MESHARA_ERROR_INVALID, "BaseMessage.routing.next_hop: 1 bytes, expected 0 or 32" },
    { MESH_WIRE_TYPE_ACK, m_flood, MESHARA_ERROR_INVALID, "BaseMessage.routing.route_type: FLOOD, expected DIRECT or ROUTED for ACK" },
    { MESH_WIRE_TYPE_FIND_NODE, m_add_flood, MESHARA_ERROR_INVALID, "BaseMessage.routing.route_type: FLOOD, expected DIRECT or ROUTED for FIND_NODE" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (rules); i++)
    {
      MeshWireBaseMessage b;
      MeshWireRoutingInfo r;
      guint8 id[MESH_WIRE_ID_LEN];
      g_autoptr(GBytes) enc = NULL;
      GError *error = NULL;
      gsize len;
      const guint8 *p;

      envelope (&b, &r, rules[i].type, NULL, 0, id);
      rules[i].mutate (&b, &r);
      g_assert_false (mesh_wire_validate (&b.base, &error));
      assert_error (&error, rules[i].code, rules[i].needle);
      enc = mesh_wire_encode (&b.base);
      p = bytes_data (enc, &len);
      decode_base_fails (p, len, rules[i].code, rules[i].needle);
    }

  /* The DHT types go on one link (no RoutingInfo) or routed. */
  {
    static const guint32 dht[] = { MESH_WIRE_TYPE_FIND_NODE, MESH_WIRE_TYPE_FIND_VALUE,
                                   MESH_WIRE_TYPE_STORE, MESH_WIRE_TYPE_NODES };
    for (gsize i = 0; i < G_N_ELEMENTS (dht); i++)
      {
        MeshWireBaseMessage b;
        MeshWireRoutingInfo r;
        guint8 id[MESH_WIRE_ID_LEN];
        GError *error = NULL;

        envelope (&b, &r, dht[i], NULL, 0, id);
        g_assert_nonnull (b.routing);
        g_assert_true (mesh_wire_validate (&b.base, &error));
        g_assert_no_error (error);
        b.routing = NULL;
        g_assert_true (mesh_wire_validate (&b.base, &error));
        g_assert_no_error (error);
      }
  }

  /* Payload size per type: an UPDATE_PACKAGE frame cannot carry more
     than the frame, but the limit is checked by type. */
  {
    MeshWireBaseMessage b;
    MeshWireRoutingInfo r;
    guint8 id[MESH_WIRE_ID_LEN];
    ProtobufCBinaryData big = pat (MESH_WIRE_MAX_PAYLOAD + 1, 3);
    GError *error = NULL;

    envelope (&b, &r, MESH_WIRE_TYPE_HELLO, big.data, big.len, id);
    g_assert_false (mesh_wire_validate (&b.base, &error));
    assert_error (&error, MESHARA_ERROR_TOO_LARGE,
                  "BaseMessage.payload: 16776193 bytes exceeds the limit of 16776192 for HELLO");
  }
}

static void
expect_invalid (ProtobufCMessage *m, gint code, const char *needle)
{
  g_autoptr(GBytes) enc = NULL;
  GError *error = NULL;
  gsize len;
  const guint8 *p;

  g_assert_false (mesh_wire_validate (m, &error));
  assert_error (&error, code, needle);
  enc = mesh_wire_encode (m);
  p = bytes_data (enc, &len);
  g_assert_null (mesh_wire_decode_message (m->descriptor, p, len, &error));
  assert_error (&error, code, needle);
}

#define MUT(Type, sample, stmt, code, needle)                           \
  do {                                                                  \
    Type *m = (Type *) sample ();                                       \
    stmt;                                                               \
    expect_invalid (&m->base, code, needle);                            \
  } while (0)

static void
test_payload_rules (void)
{
  const gint INVALID = MESHARA_ERROR_INVALID;
  const gint TOO_LARGE = MESHARA_ERROR_TOO_LARGE;

  MUT (MeshWirePrivateMessage, sample_private, m->session_id.len = 15, INVALID,
       "PrivateMessagePayload.session_id: 15 bytes, expected 16");
  MUT (MeshWirePrivateMessage, sample_private, m->session_init.len = 191, INVALID,
       "PrivateMessagePayload.session_init: 191 bytes, expected 0 or 192");
  MUT (MeshWirePrivateMessage, sample_private, m->ciphertext.len = 23, INVALID,
       "PrivateMessagePayload.ciphertext: 23 bytes, expected at least 24");
  MUT (MeshWirePrivateContent, sample_private_content, m->type = MESH_WIRE_TYPE_PING,
       INVALID, "PrivateContent.type: PING is not carried in a private session");
  MUT (MeshWirePrivateContent, sample_private_content, m->type = 0,
       INVALID, "PrivateContent.type: missing");
  MUT (MeshWireAck, sample_ack, m->status = 0, INVALID, "Acknowledgment.status: missing");
  MUT (MeshWireAck, sample_ack, m->status = 5, INVALID,
       "Acknowledgment.status: 5 is not an acknowledgment status");
  MUT (MeshWireAck, sample_ack, m->acked_message_id.len = 0, INVALID,
       "Acknowledgment.acked_message_id: 0 bytes, expected 32");
  MUT (MeshWireAck, sample_ack, m->tag.len = 8, INVALID, "Acknowledgment.tag: 8 bytes, expected 0 or 16");
  MUT (MeshWireBroadcast, sample_broadcast, m->metadata[2]->key = qstr ("lang"), INVALID,
       "BroadcastPayload.metadata[2].key: \"lang\" repeats metadata[0]");
  MUT (MeshWireBroadcast, sample_broadcast, m->metadata[1]->key = qstr (""), INVALID,
       "BroadcastPayload.metadata[1].key: missing");
  MUT (MeshWireBroadcast, sample_broadcast, m->content_type = qstr ("text/\x7f"), INVALID,
       "BroadcastPayload.content_type: byte 0x7f at offset 5 is not printable ASCII");
  {
    char *big = qalloc (MESH_WIRE_MAX_METADATA_VALUE + 2);
    memset (big, 'v', MESH_WIRE_MAX_METADATA_VALUE + 1);
    MUT (MeshWireBroadcast, sample_broadcast, m->metadata[0]->value = big, TOO_LARGE,
         "BroadcastPayload.metadata[0].value: 1025 bytes exceeds the limit of 1024");
  }
  MUT (MeshWireUpdatePackage, sample_update_package, m->version = 0, INVALID,
       "UpdatePackage.version: missing");
  MUT (MeshWireUpdatePackage, sample_update_package, m->min_version = 43, INVALID,
       "UpdatePackage.min_version: 43 exceeds version 42");
  MUT (MeshWireUpdatePackage, sample_update_package, m->name = qstr (""), INVALID,
       "UpdatePackage.name: missing");
  MUT (MeshWireUpdatePackage, sample_update_package, m->checksum.len = 20, INVALID,
       "UpdatePackage.checksum: 20 bytes, expected 32");
  MUT (MeshWireUpdatePackage, sample_update_package, m->n_signatures = 0, INVALID,
       "UpdatePackage.signatures: 0 entries, expected at least 1");
  MUT (MeshWireUpdatePackage, sample_update_package,
       m->signatures[1]->public_key = m->signatures[0]->public_key, INVALID,
       "UpdatePackage.signatures[1].public_key: same authority as signatures[0]");
  MUT (MeshWireUpdatePackage, sample_update_package, m->signatures[1]->signature.len = 32,
       INVALID, "UpdatePackage.signatures[1].signature: 32 bytes, expected 64");
  MUT (MeshWireUpdateAnnouncement, sample_update_announcement, m->n_chunk_hashes = 2,
       INVALID, "UpdateAnnouncement.chunk_hashes: 2 entries, expected 3");
  MUT (MeshWireUpdateAnnouncement, sample_update_announcement,
       m->chunk_hashes[2].len = 31, INVALID,
       "UpdateAnnouncement.chunk_hashes[2]: 31 bytes, expected 32");
  MUT (MeshWireUpdateAnnouncement, sample_update_announcement, m->chunk_size = 512,
       INVALID, "UpdateAnnouncement.chunk_size: 512, expected 1024 to 1048576");
  MUT (MeshWireUpdateAnnouncement, sample_update_announcement,
       m->size = MESH_WIRE_MAX_UPDATE_SIZE + 1ull, TOO_LARGE,
       "UpdateAnnouncement.size: 268435457 bytes exceeds the limit of 268435456");
  MUT (MeshWireUpdateAnnouncement, sample_update_announcement,
       (m->size = 200u * 1024 * 1024, m->chunk_size = 1024), TOO_LARGE,
       "UpdateAnnouncement.chunk_size: 209715200 bytes in chunks of 1024 make 204800 chunks, limit 8192");
  MUT (MeshWireUpdateAnnouncement, sample_update_announcement, m->size = 0, INVALID,
       "UpdateAnnouncement.size: missing");
  MUT (MeshWireUpdateRequest, sample_update_request, m->n_chunk_indices = 0, INVALID,
       "UpdateRequest.chunk_indices: 0 entries, expected at least 1");
  MUT (MeshWireUpdateRequest, sample_update_request,
       m->chunk_indices[1] = MESH_WIRE_MAX_UPDATE_CHUNKS, INVALID,
       "UpdateRequest.chunk_indices[1]: 8192, expected below 8192");
  MUT (MeshWireUpdateChunk, sample_update_chunk, m->data.len = 0, INVALID,
       "UpdateChunk.data: 0 bytes, expected at least 1");
  MUT (MeshWireUpdateChunk, sample_update_chunk, m->hash.len = 0, INVALID,
       "UpdateChunk.hash: 0 bytes, expected 32");
  MUT (MeshWireQuery, sample_query, m->query_type = qstr (""), INVALID,
       "QueryMessage.query_type: missing");
  MUT (MeshWireQuery, sample_query, m->query_id = pat (32, 1), INVALID,
       "QueryMessage.query_id: 32 bytes, expected 16");
  MUT (MeshWireResponse, sample_response, m->code = 0, INVALID, "ResponseMessage.code: missing");
  MUT (MeshWireResponse, sample_response, m->code = 17, INVALID,
       "ResponseMessage.code: 17 is not a response code");
  MUT (MeshWireRouteAdvertisement, sample_route_advertisement,
       m->entries[1]->hop_count = 0, INVALID,
       "RouteAdvertisement.entries[1].hop_count: 0, expected 1 to 32");
  MUT (MeshWireRouteAdvertisement, sample_route_advertisement,
       m->entries[2]->destination = pat (33, 1), INVALID,
       "RouteAdvertisement.entries[2].destination: 33 bytes, expected 32");
  MUT (MeshWireHello, sample_hello, m->bundle.len = 128, INVALID,
       "Hello.bundle: 128 bytes, expected 129");
  MUT (MeshWireHello, sample_hello, m->protocol_version = 0, INVALID,
       "Hello.protocol_version: missing");
  MUT (MeshWireHello, sample_hello, m->listen_addresses[1] = qstr ("a b\tc"), INVALID,
       "Hello.listen_addresses[1]: byte 0x09 at offset 3 is not printable ASCII");
  MUT (MeshWireHello, sample_hello, m->listen_addresses[0] = qstr (""), INVALID,
       "Hello.listen_addresses[0]: missing");
  MUT (MeshWireHello, sample_hello, m->max_frame_size = 1000, INVALID,
       "Hello.max_frame_size: 1000, expected 0 or at least 65536");
  MUT (MeshWireFindNode, sample_find_node, m->target.len = 0, INVALID,
       "FindNode.target: 0 bytes, expected 32");
  MUT (MeshWireFindValue, sample_find_value, m->key.len = 16, INVALID,
       "FindValue.key: 16 bytes, expected 32");
  MUT (MeshWireStore, sample_store, m->record = NULL, INVALID, "Store.record: missing");
  MUT (MeshWireStore, sample_store, m->record->expires_ms = m->record->timestamp_ms,
       INVALID, "Store.record.expires_ms: 1700000000047, expected after timestamp_ms 1700000000047");
  MUT (MeshWireStore, sample_store, m->record->signature.len = 0, INVALID,
       "Store.record.signature: 0 bytes, expected 64");
  MUT (MeshWireContactRecord, sample_contact_record, m->timestamp_ms = 0, INVALID,
       "ContactRecord.timestamp_ms: missing");
  MUT (MeshWireNodes, sample_nodes, m->nodes[1]->bundle.len = 1, INVALID,
       "Nodes.nodes[1].bundle: 1 bytes, expected 129");
  MUT (MeshWireNodes, sample_nodes, m->nodes[1]->addresses[1] = qstr ("\x01"), INVALID,
       "Nodes.nodes[1].addresses[1]: byte 0x01 at offset 0");
  MUT (MeshWireNodes, sample_nodes, m->record->bundle.len = 0, INVALID,
       "Nodes.record.bundle: 0 bytes, expected 129");
  MUT (MeshWireGossipAnnounce, sample_gossip_announce, m->message_ids[0].len = 0, INVALID,
       "GossipAnnounce.message_ids[0]: 0 bytes, expected 32");
  MUT (MeshWireGossipPull, sample_gossip_pull, m->message_ids[1] = pat (64, 1), INVALID,
       "GossipPull.message_ids[1]: 64 bytes, expected 32");
}

/* ---------------------------------------------------------------------- */
/* Timestamps, message IDs, frames, type table */

static void
test_timestamp (void)
{
  const guint64 now = TS;
  GError *error = NULL;
  MeshWireBaseMessage b = MESHARA__V1__BASE_MESSAGE__INIT;

  g_assert_true (mesh_wire_check_timestamp ("x", now, now, 0, 0, &error));
  g_assert_true (mesh_wire_check_timestamp ("x", now + MESH_WIRE_MAX_FUTURE_MS, now,
                                            MESH_WIRE_MAX_FUTURE_MS,
                                            MESH_WIRE_MAX_PAST_MS, &error));
  g_assert_true (mesh_wire_check_timestamp ("x", now - MESH_WIRE_MAX_PAST_MS, now,
                                            MESH_WIRE_MAX_FUTURE_MS,
                                            MESH_WIRE_MAX_PAST_MS, &error));
  g_assert_no_error (error);

  g_assert_false (mesh_wire_check_timestamp ("Foo.ts", now + MESH_WIRE_MAX_FUTURE_MS + 1,
                                             now, MESH_WIRE_MAX_FUTURE_MS,
                                             MESH_WIRE_MAX_PAST_MS, &error));
  assert_error (&error, MESHARA_ERROR_TIMESTAMP,
                "Foo.ts: 1700000300001 is 300001 ms ahead of now (1700000000000), limit 300000 ms");
  g_assert_false (mesh_wire_check_timestamp ("Foo.ts", now - MESH_WIRE_MAX_PAST_MS - 1,
                                             now, MESH_WIRE_MAX_FUTURE_MS,
                                             MESH_WIRE_MAX_PAST_MS, &error));
  assert_error (&error, MESHARA_ERROR_TIMESTAMP,
                "Foo.ts: 1699913599999 is 86400001 ms behind now (1700000000000), limit 86400000 ms");

  /* No overflow at the ends of the range. */
  g_assert_true (mesh_wire_check_timestamp ("x", G_MAXUINT64, G_MAXUINT64, 0, 0, NULL));
  g_assert_false (mesh_wire_check_timestamp ("x", G_MAXUINT64, 0, G_MAXUINT64 - 1, 0, NULL));
  g_assert_false (mesh_wire_check_timestamp ("x", 0, G_MAXUINT64, 0, G_MAXUINT64 - 1, NULL));

  b.timestamp_ms = now + 1000;
  g_assert_true (mesh_wire_check_base_timestamp (&b, now, NULL));
  b.timestamp_ms = now + 10 * 60 * 1000;
  g_assert_false (mesh_wire_check_base_timestamp (&b, now, &error));
  assert_error (&error, MESHARA_ERROR_TIMESTAMP, "BaseMessage.timestamp_ms: ");
  b.timestamp_ms = now - 25 * 3600 * 1000ull;
  g_assert_false (mesh_wire_check_base_timestamp (&b, now, &error));
  assert_error (&error, MESHARA_ERROR_TIMESTAMP, "behind");
}

static void
test_message_id (void)
{
  static const guint8 payload[] = "payload bytes";
  MeshWireBaseMessage b;
  MeshWireRoutingInfo r;
  guint8 id[MESH_WIRE_ID_LEN], want[MESH_WIRE_ID_LEN];
  GByteArray *in = g_byte_array_new ();
  GError *error = NULL;
  static const guint8 fixed[] = {
    0, 0, 0, 1,                          /* version */
    0, 0, 0, 3,                          /* BROADCAST */
    0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00,  /* 1700000000000 */
    0, 0, 0, 32,                         /* key length */
  };
  guint8 plen[4] = { 0, 0, 0, sizeof payload };

  envelope (&b, &r, MESH_WIRE_TYPE_BROADCAST, payload, sizeof payload, id);

  /* The documented input, assembled independently. */
  g_byte_array_append (in, (const guint8 *) "meshara/1 message-id", 20);
  g_byte_array_append (in, fixed, sizeof fixed);
  g_byte_array_append (in, b.sender_public_key.data, 32);
  g_byte_array_append (in, plen, 4);
  g_byte_array_append (in, payload, sizeof payload);
  mesh_sha256 (in->data, in->len, want);
  g_assert_cmpmem (id, sizeof id, want, sizeof want);
  g_byte_array_unref (in);

  g_assert_true (mesh_wire_check_message_id (&b, &error));
  g_assert_no_error (error);

  /* Routing is outside the ID: relays change it. */
  r.hop_count++;
  g_assert_true (mesh_wire_check_message_id (&b, NULL));

  b.timestamp_ms++;
  g_assert_false (mesh_wire_check_message_id (&b, &error));
  assert_error (&error, MESHARA_ERROR_INVALID, "BaseMessage.message_id: does not match");
  b.timestamp_ms--;
  b.payload.len--;
  g_assert_false (mesh_wire_check_message_id (&b, &error));
  assert_error (&error, MESHARA_ERROR_INVALID, "BaseMessage.message_id: does not match");
  b.message_id.len = 0;
  g_assert_false (mesh_wire_check_message_id (&b, &error));
  assert_error (&error, MESHARA_ERROR_INVALID, "BaseMessage.message_id: 0 bytes, expected 32");

  /* Defined for an over-long key as well. */
  b.sender_public_key = pat (100, 7);
  mesh_wire_compute_message_id (&b, id);
}

static void
test_encode_frame (void)
{
  MeshWireBaseMessage b;
  MeshWireRoutingInfo r;
  guint8 id[MESH_WIRE_ID_LEN];
  ProtobufCBinaryData payload = pat (1000, 1);
  GError *error = NULL;
  g_autoptr(GBytes) frame = NULL;
  gsize n, written = 0, flen;
  guint8 *buf;
  g_autofree char *needle = NULL;

  envelope (&b, &r, MESH_WIRE_TYPE_PRIVATE, payload.data, payload.len, id);
  n = mesh_wire_encoded_size (&b.base);
  g_assert_cmpuint (mesh_wire_frame_size (&b), ==, n + 4);

  frame = mesh_wire_encode_frame (&b, n, &error);
  g_assert_no_error (error);
  buf = g_malloc (n + 4);
  g_assert_true (mesh_wire_encode_frame_into (&b, n, buf, n + 4, &written, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (written, ==, n + 4);
  g_assert_cmpmem (buf, written, g_bytes_get_data (frame, &flen), g_bytes_get_size (frame));
  g_assert_cmpuint (mesh_frame_read_header (buf), ==, n);

  g_assert_null (mesh_wire_encode_frame (&b, n - 1, &error));
  needle = g_strdup_printf ("frame of %" G_GSIZE_FORMAT " bytes exceeds max-frame-size %"
                            G_GSIZE_FORMAT, n, n - 1);
  assert_error (&error, MESHARA_ERROR_TOO_LARGE, needle);
  g_assert_false (mesh_wire_encode_frame_into (&b, n - 1, buf, n + 4, &written, &error));
  assert_error (&error, MESHARA_ERROR_TOO_LARGE, needle);
  g_assert_false (mesh_wire_encode_frame_into (&b, n, buf, n + 3, &written, &error));
  assert_error (&error, MESHARA_ERROR_INVALID_ARGUMENT, "does not fit a buffer of");
  g_free (buf);

  /* mesh_wire_encode_into writes exactly the encoded size. */
  buf = g_malloc (n);
  g_assert_cmpuint (mesh_wire_encode_into (&b.base, buf), ==, n);
  g_assert_cmpmem (buf, n, (const guint8 *) g_bytes_get_data (frame, NULL) + 4, n);
  g_free (buf);
}

static void
test_type_table (void)
{
  guint known = 0;

  for (guint32 t = 0; t < 200; t++)
    {
      const MeshWireTypeInfo *info = mesh_wire_type_info (t);
      if (info == NULL)
        continue;
      known++;
      g_assert_cmpuint (info->type, ==, t);
      g_assert_nonnull (info->descriptor);
      /* Exactly one way of travelling, except the DHT types, which go on
       * one link or routed. */
      guint ways = __builtin_popcount (info->flags & (MESH_WIRE_LINK | MESH_WIRE_ROUTED
                                                      | MESH_WIRE_FLOODED
                                                      | MESH_WIRE_INNER));
      gboolean dht = t == MESH_WIRE_TYPE_FIND_NODE || t == MESH_WIRE_TYPE_FIND_VALUE
                     || t == MESH_WIRE_TYPE_STORE || t == MESH_WIRE_TYPE_NODES;
      g_assert_cmpuint (ways, ==, dht ? 2 : 1);
      if (dht)
        g_assert_cmpuint (info->flags & (MESH_WIRE_LINK | MESH_WIRE_ROUTED), ==,
                          MESH_WIRE_LINK | MESH_WIRE_ROUTED);
      g_assert_cmpstr (mesh_wire_type_name (t), ==, info->name);
    }
  g_assert_cmpuint (known, ==, MESH_WIRE_TYPE_COUNT - 1);
  g_assert_null (mesh_wire_type_info (0));
  g_assert_cmpstr (mesh_wire_type_name (0), ==, "UNSPECIFIED");
  g_assert_cmpstr (mesh_wire_type_name (MESH_WIRE_TYPE_HELLO), ==, "HELLO");
  g_assert_true (mesh_wire_type_info (MESH_WIRE_TYPE_BROADCAST)->flags & MESH_WIRE_SIGNED);
  g_assert_true (mesh_wire_type_info (MESH_WIRE_TYPE_PRIVATE)->descriptor
                 == &meshara__v1__private_message_payload__descriptor);

  /* Every case of the round-trip table covers a distinct message, and
     every BaseMessage type has one. */
  for (guint32 t = 1; t < MESH_WIRE_TYPE_COUNT; t++)
    {
      gboolean found = FALSE;
      for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
        {
          ProtobufCMessage *m = cases[i].sample ();
          if (m->descriptor == mesh_wire_type_info (t)->descriptor)
            found = TRUE;
        }
      g_assert_true (found);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/wire/roundtrip/%s", cases[i].name);
      g_test_add_data_func (path, &cases[i], test_roundtrip);
    }
  g_test_add_func ("/wire/roundtrip/base", test_roundtrip_base);
  g_test_add_func ("/wire/decode/empty", test_empty);
  g_test_add_func ("/wire/decode/truncated", test_truncated);
  g_test_add_func ("/wire/decode/garbage", test_garbage);
  g_test_add_func ("/wire/decode/strings", test_strings);
  g_test_add_func ("/wire/decode/oversized", test_oversized);
  g_test_add_func ("/wire/decode/unknown-fields", test_unknown_fields);
  g_test_add_func ("/wire/decode/unknown-type", test_unknown_type);
  g_test_add_func ("/wire/rules/envelope", test_envelope_rules);
  g_test_add_func ("/wire/rules/payload", test_payload_rules);
  g_test_add_func ("/wire/timestamp", test_timestamp);
  g_test_add_func ("/wire/message-id", test_message_id);
  g_test_add_func ("/wire/encode-frame", test_encode_frame);
  g_test_add_func ("/wire/type-table", test_type_table);

  return g_test_run ();
}
