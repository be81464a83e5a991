/* Kademlia DHT: record rules (forged, stale, oversized, newer replaces
 * older), the record store bound and expiry, the bucket bound with
 * least-recently-seen eviction, unsolicited replies, request timeouts,
 * bucket refresh, republish, and a deterministic network of 1,000 DHT
 * objects (no engine): joins, publication, lookups, hops, CPU per lookup.
 *
 * Every frame the module sends goes through the real decoder
 * (mesh_wire_decode_base + mesh_wire_decode_payload), so what it emits is
 * valid meshara.v1. */
#include "config.h"

#include "engine/dht.h"
#include "testutil.h"

#include <time.h>
#include <meshara/meshara.h>

#if defined(__has_include)
# if __has_include(<valgrind/valgrind.h>)
#  include <valgrind/valgrind.h>
# endif
#endif
#ifndef RUNNING_ON_VALGRIND
# define RUNNING_ON_VALGRIND 0
#endif

#define MS(x) ((uint64_t) (x) * G_GUINT64_CONSTANT (1000000))
#define S(x) ((uint64_t) (x) * G_GUINT64_CONSTANT (1000000000))
#define EPOCH_MS G_GUINT64_CONSTANT (1700000000000)
#define HOUR_MS (G_GUINT64_CONSTANT (3600) * 1000)

static void
make_identity (MeshIdentity *id, unsigned n)
{
  TestRng r = { .state = 0xd470000u + n };
  uint8_t seed[MESH_SEED_LEN];

  test_rng (&r, seed, sizeof seed);
  mesh_identity_from_seed (id, seed);
}

static uint32_t
rng_below (TestRng *r, uint32_t n)
{
  uint8_t b[4];

  test_rng (r, b, sizeof b);
  return ((uint32_t) b[0] | (uint32_t) b[1] << 8 | (uint32_t) b[2] << 16
          | (uint32_t) b[3] << 24) % n;
}

/* Decode a frame the module produced; every one must be valid. */
static MeshWireBaseMessage *
decode_frame_full (const uint8_t *frame, size_t len, gboolean check_id,
                   ProtobufCMessage **payload)
{
  GError *error = NULL;
  MeshWireBaseMessage *base;

  g_assert_cmpuint (len, >, MESH_FRAME_HEADER_LEN);
  g_assert_cmpuint (mesh_frame_read_header (frame), ==,
                    len - MESH_FRAME_HEADER_LEN);
  base = mesh_wire_decode_base (frame + MESH_FRAME_HEADER_LEN,
                                len - MESH_FRAME_HEADER_LEN,
                                MESH_FRAME_MAX_DEFAULT, &error);
  g_assert_no_error (error);
  if (check_id)
    g_assert_true (mesh_wire_check_message_id (base, NULL));
  g_assert_true (mesh_dht_handles_type (base->type));
  *payload = mesh_wire_decode_payload (base, &error);
  g_assert_no_error (error);
  return base;
}

static MeshWireBaseMessage *
decode_frame (const uint8_t *frame, size_t len, ProtobufCMessage **payload)
{
  return decode_frame_full (frame, len, TRUE, payload);
}

/* ---------------------------------------------------------------------- */
/* One DHT under test; what it sends is captured. */

typedef struct {
  uint8_t to[MESH_DHT_ID_LEN];
  MeshWireBaseMessage *base;
  ProtobufCMessage *payload;
} Sent;

typedef struct {
  MeshDhtLookupKind kind;
  uint8_t target[MESH_DHT_ID_LEN];
  gboolean found, from_record;
  uint8_t bundle_id[MESH_DHT_ID_LEN];
  char **addresses;
  uint64_t timestamp_ms;
  uint32_t hops;
  uint64_t elapsed_ns;
} Done;

typedef struct {
  TestRng rng;
  GPtrArray *sent;
  GPtrArray *done;
  gboolean refuse;
  MeshIdentity self;
  MeshDht *dht;
} Harness;

static void
sent_free (gpointer p)
{
  Sent *s = p;

  mesh_wire_free (s->payload);
  mesh_wire_free (s->base);
  g_free (s);
}

static void
done_free (gpointer p)
{
  Done *d = p;

  g_strfreev (d->addresses);
  g_free (d);
}

static gboolean
cap_send (void *user_data, const uint8_t *node_id, const uint8_t *frame,
          size_t len)
{
  Harness *h = user_data;
  Sent *s;

  if (h->refuse)
    return FALSE;
  s = g_new0 (Sent, 1);
  memcpy (s->to, node_id, MESH_DHT_ID_LEN);
  s->base = decode_frame (frame, len, &s->payload);
  /* Routed to the node it is for, with our key for the way back. */
  g_assert_nonnull (s->base->routing);
  g_assert_cmpint (s->base->routing->route_type, ==, MESH_WIRE_ROUTE_ROUTED);
  g_assert_cmpmem (s->base->routing->destination.data,
                   s->base->routing->destination.len, node_id, MESH_DHT_ID_LEN);
  g_assert_cmpmem (s->base->sender_public_key.data,
                   s->base->sender_public_key.len, h->self.pub.ed_pub,
                   MESH_ED25519_KEY_LEN);
  g_ptr_array_add (h->sent, s);
  return TRUE;
}

static void
record_done (GPtrArray *done, MeshDhtLookupKind kind, const uint8_t *target,
             const MeshDhtResult *result, uint32_t hops, uint64_t elapsed_ns)
{
  Done *d = g_new0 (Done, 1);

  d->kind = kind;
  memcpy (d->target, target, MESH_DHT_ID_LEN);
  d->hops = hops;
  d->elapsed_ns = elapsed_ns;
  if (result)
    {
      d->found = TRUE;
      d->from_record = result->from_record;
      g_assert_cmpmem (result->node_id, MESH_DHT_ID_LEN, target,
                       MESH_DHT_ID_LEN);
      memcpy (d->bundle_id, result->bundle->node_id, MESH_DHT_ID_LEN);
      d->addresses = g_new0 (char *, result->n_addresses + 1);
      for (size_t i = 0; i < result->n_addresses; i++)
        d->addresses[i] = g_strdup (result->addresses[i]);
      d->timestamp_ms = result->timestamp_ms;
    }
  g_ptr_array_add (done, d);
}

static void
cap_done (void *user_data, MeshDhtLookupKind kind, const uint8_t *target,
          const MeshDhtResult *result, uint32_t hops, uint64_t elapsed_ns)
{
  Harness *h = user_data;

  record_done (h->done, kind, target, result, hops, elapsed_ns);
}

static void
cap_random (void *user_data, uint8_t *buf, size_t n)
{
  Harness *h = user_data;

  test_rng (&h->rng, buf, n);
}

static void
test_config (MeshDhtConfig *cfg)
{
  static const char *const addrs[] = { "192.0.2.1:7000", "[2001:db8::1]:7000",
                                       NULL };

  mesh_dht_config_init (cfg);
  cfg->wall_epoch_ms = EPOCH_MS;
  cfg->addresses = addrs;
}

static Harness *
harness_new (const MeshDhtConfig *config, unsigned self_seed)
{
  Harness *h = g_new0 (Harness, 1);
  MeshDhtCallbacks cb = { cap_send, cap_done, cap_random };
  MeshDhtConfig def;
  GError *error = NULL;

  if (config == NULL)
    {
      test_config (&def);
      config = &def;
    }
  h->rng.state = 77 + self_seed;
  h->sent = g_ptr_array_new_with_free_func (sent_free);
  h->done = g_ptr_array_new_with_free_func (done_free);
  make_identity (&h->self, self_seed);
  h->dht = mesh_dht_new (&h->self, config, &cb, h, 0, &error);
  g_assert_no_error (error);
  g_assert_nonnull (h->dht);
  return h;
}

static void
harness_free (Harness *h)
{
  mesh_dht_free (h->dht);
  g_ptr_array_unref (h->sent);
  g_ptr_array_unref (h->done);
  g_free (h);
}

/* A message from `from`, through the real encoder and decoder, as the
 * engine would hand it over (one link: no routing). */
static gboolean
inject (MeshDht *dht, const MeshIdentity *from, uint32_t type,
        const ProtobufCMessage *payload, uint64_t now_ns, GError **error)
{
  MeshWireBaseMessage base = MESHARA__V1__BASE_MESSAGE__INIT;
  uint8_t id[MESH_WIRE_ID_LEN];
  g_autoptr (GBytes) body = mesh_wire_encode (payload);
  g_autoptr (GBytes) frame = NULL;
  MeshWireBaseMessage *dec;
  ProtobufCMessage *pl;
  gsize len;
  const uint8_t *data;
  gboolean ok;

  base.version = MESH_WIRE_PROTOCOL_VERSION;
  base.type = type;
  base.timestamp_ms = EPOCH_MS + now_ns / MS (1);
  base.sender_public_key.len = MESH_ED25519_KEY_LEN;
  base.sender_public_key.data = (uint8_t *) from->pub.ed_pub;
  base.payload.data = (uint8_t *) g_bytes_get_data (body, &len);
  base.payload.len = len;
  mesh_wire_compute_message_id (&base, id);
  base.message_id.len = sizeof id;
  base.message_id.data = id;
  frame = mesh_wire_encode_frame (&base, MESH_FRAME_MAX_DEFAULT, NULL);
  data = g_bytes_get_data (frame, &len);
  dec = decode_frame (data, len, &pl);
  ok = mesh_dht_receive (dht, from->pub.node_id, dec, pl, now_ns, error);
  mesh_wire_free (pl);
  mesh_wire_free (dec);
  return ok;
}

/* ---- Records built by hand */

typedef struct {
  MeshWireContactRecord rec;
  uint8_t node_id[MESH_DHT_ID_LEN];
  uint8_t bundle[MESH_BUNDLE_LEN];
  uint8_t sig[MESH_ED25519_SIG_LEN];
  char *addrs[MESH_WIRE_MAX_ADDRESSES];
} TestRecord;

/* A record of id, signed by signer, with n_addr addresses of addr_len
 * bytes (0: a short "host:port"). */
static void
trec_make (TestRecord *t, const MeshIdentity *id, const MeshIdentity *signer,
           uint64_t ts, uint64_t expires, unsigned n_addr, unsigned addr_len)
{
  uint8_t digest[MESH_SHA256_LEN];

  memset (t, 0, sizeof *t);
  meshara__v1__contact_record__init (&t->rec);
  memcpy (t->node_id, id->pub.node_id, MESH_DHT_ID_LEN);
  mesh_bundle_serialize (&id->pub, t->bundle);
  for (unsigned i = 0; i < n_addr; i++)
    {
      if (addr_len == 0)
        t->addrs[i] = g_strdup_printf ("198.51.100.%u:%u", i + 1, 7000 + i);
      else
        {
          t->addrs[i] = g_malloc (addr_len + 1);
          memset (t->addrs[i], 'a' + (char) i, addr_len);
          t->addrs[i][addr_len] = '\0';
        }
    }
  t->rec.node_id.len = MESH_DHT_ID_LEN;
  t->rec.node_id.data = t->node_id;
  t->rec.bundle.len = MESH_BUNDLE_LEN;
  t->rec.bundle.data = t->bundle;
  t->rec.n_addresses = n_addr;
  t->rec.addresses = t->addrs;
  t->rec.timestamp_ms = ts;
  t->rec.expires_ms = expires;
  mesh_dht_record_digest (&t->rec, digest);
  mesh_identity_sign (signer, digest, sizeof digest, t->sig);
  t->rec.signature.len = MESH_ED25519_SIG_LEN;
  t->rec.signature.data = t->sig;
}

static void
trec_clear (TestRecord *t)
{
  for (unsigned i = 0; i < MESH_WIRE_MAX_ADDRESSES; i++)
    g_free (t->addrs[i]);
}

static gboolean
inject_store (Harness *h, const MeshIdentity *from, TestRecord *t,
              uint64_t now_ns, GError **error)
{
  MeshWireStore m = MESHARA__V1__STORE__INIT;

  m.record = &t->rec;
  return inject (h->dht, from, MESH_WIRE_TYPE_STORE, &m.base, now_ns, error);
}

/* Nodes reply from `from` for lookup_id, listing ids (with bundles). */
static gboolean
inject_nodes (Harness *h, const MeshIdentity *from, uint64_t lookup_id,
              const MeshIdentity *const *list, size_t n, TestRecord *record,
              uint64_t now_ns, GError **error)
{
  MeshWireNodes m = MESHARA__V1__NODES__INIT;
  MeshWireNodeInfo infos[32], *ptrs[32];
  uint8_t bundles[32][MESH_BUNDLE_LEN];

  g_assert_cmpuint (n, <=, 32);
  m.lookup_id = lookup_id;
  for (size_t i = 0; i < n; i++)
    {
      meshara__v1__node_info__init (&infos[i]);
      mesh_bundle_serialize (&list[i]->pub, bundles[i]);
      infos[i].node_id.len = MESH_DHT_ID_LEN;
      infos[i].node_id.data = (uint8_t *) list[i]->pub.node_id;
      infos[i].bundle.len = MESH_BUNDLE_LEN;
      infos[i].bundle.data = bundles[i];
      ptrs[i] = &infos[i];
    }
  m.n_nodes = n;
  m.nodes = ptrs;
  m.record = record ? &record->rec : NULL;
  return inject (h->dht, from, MESH_WIRE_TYPE_NODES, &m.base, now_ns, error);
}

static Sent *
last_sent (Harness *h)
{
  g_assert_cmpuint (h->sent->len, >, 0);
  return g_ptr_array_index (h->sent, h->sent->len - 1);
}

static uint64_t
request_nonce (const Sent *s)
{
  if (s->base->type == MESH_WIRE_TYPE_FIND_NODE)
    return ((MeshWireFindNode *) s->payload)->lookup_id;
  g_assert_cmpint (s->base->type, ==, MESH_WIRE_TYPE_FIND_VALUE);
  return ((MeshWireFindValue *) s->payload)->lookup_id;
}

static const uint8_t *
request_target (const Sent *s)
{
  if (s->base->type == MESH_WIRE_TYPE_FIND_NODE)
    return ((MeshWireFindNode *) s->payload)->target.data;
  g_assert_cmpint (s->base->type, ==, MESH_WIRE_TYPE_FIND_VALUE);
  return ((MeshWireFindValue *) s->payload)->key.data;
}

/* a is closer to target than b. */
static gboolean
closer (const uint8_t *a, const uint8_t *b, const uint8_t *target)
{
  for (int i = 0; i < MESH_DHT_ID_LEN; i++)
    {
      uint8_t da = a[i] ^ target[i], db = b[i] ^ target[i];

      if (da != db)
        return da < db;
    }
  return FALSE;
}

static void
add_contact (Harness *h, const MeshIdentity *id, uint64_t now_ns)
{
  g_assert_true (mesh_dht_add_contact (h->dht, id->pub.node_id, &id->pub,
                                       NULL, 0, now_ns));
}

/* ---------------------------------------------------------------------- */
/* Basics */

static void
test_config_errors (void)
{
  MeshDhtCallbacks cb = { cap_send, cap_done, cap_random };
  const char *bad_addrs[] = { "ok:1", "bad\naddress", NULL };
  MeshDhtConfig cfg;
  MeshIdentity self;
  GError *error = NULL;
  MeshDht *dht;

  make_identity (&self, 1);
  test_config (&cfg);
  cfg.k = 0;
  dht = mesh_dht_new (&self, &cfg, &cb, NULL, 0, &error);
  g_assert_null (dht);
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  test_config (&cfg);
  cfg.k = 33;
  g_assert_null (mesh_dht_new (&self, &cfg, &cb, NULL, 0, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  test_config (&cfg);
  cfg.alpha = cfg.k + 1;
  g_assert_null (mesh_dht_new (&self, &cfg, &cb, NULL, 0, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  test_config (&cfg);
  cfg.record_ttl_ms = cfg.max_record_ttl_ms + 1;
  g_assert_null (mesh_dht_new (&self, &cfg, &cb, NULL, 0, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  test_config (&cfg);
  cfg.addresses = bad_addrs;
  g_assert_null (mesh_dht_new (&self, &cfg, &cb, NULL, 0, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  mesh_identity_clear (&self);
}

static void
test_bucket_index (void)
{
  Harness *h = harness_new (NULL, 1);
  uint8_t id[MESH_DHT_ID_LEN];

  memcpy (id, h->self.pub.node_id, sizeof id);
  g_assert_cmpint (mesh_dht_bucket_index (h->dht, id), ==, -1);
  for (int bit = 0; bit < 256; bit += 17)
    {
      memcpy (id, h->self.pub.node_id, sizeof id);
      id[bit / 8] ^= (uint8_t) (0x80 >> (bit % 8));
      /* Bits after the first difference do not matter. */
      if (bit < 255)
        id[31] ^= 0x01;
      g_assert_cmpint (mesh_dht_bucket_index (h->dht, id), ==, bit);
    }
  g_assert_true (mesh_dht_handles_type (MESH_WIRE_TYPE_NODES));
  g_assert_false (mesh_dht_handles_type (MESH_WIRE_TYPE_PING));
  harness_free (h);
}

/* ---------------------------------------------------------------------- */
/* Record rules */

static void
test_record_check (void)
{
  Harness *h = harness_new (NULL, 1);
  MeshIdentity a, other;
  TestRecord t;
  GError *error = NULL;
  const uint64_t now = S (100), wall = EPOCH_MS + 100 * 1000;

  make_identity (&a, 2);
  make_identity (&other, 3);

  trec_make (&t, &a, &a, wall, wall + HOUR_MS, 2, 0);
  g_assert_true (mesh_dht_check_record (h->dht, &t.rec, now, &error));
  g_assert_no_error (error);

  /* Every field is covered by the signature. */
  t.rec.timestamp_ms++;
  g_assert_false (mesh_dht_check_record (h->dht, &t.rec, now, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_BAD_SIGNATURE);
  g_clear_error (&error);
  t.rec.timestamp_ms--;
  t.rec.n_addresses = 1;
  g_assert_false (mesh_dht_check_record (h->dht, &t.rec, now, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_BAD_SIGNATURE);
  g_clear_error (&error);
  t.rec.n_addresses = 2;
  t.addrs[1][0] = '9';
  g_assert_false (mesh_dht_check_record (h->dht, &t.rec, now, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_BAD_SIGNATURE);
  g_clear_error (&error);
  trec_clear (&t);

  /* Signed by another key than the bundle's. */
  trec_make (&t, &a, &other, wall, wall + HOUR_MS, 1, 0);
  g_assert_false (mesh_dht_check_record (h->dht, &t.rec, now, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_BAD_SIGNATURE);
  g_clear_error (&error);
  trec_clear (&t);

  /* Someone else's bundle under a's node ID. */
  trec_make (&t, &a, &a, wall, wall + HOUR_MS, 1, 0);
  mesh_bundle_serialize (&other.pub, t.bundle);
  g_assert_false (mesh_dht_check_record (h->dht, &t.rec, now, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID);
  g_clear_error (&error);
  trec_clear (&t);

  /* Expired. */
  trec_make (&t, &a, &a, wall - 2 * HOUR_MS, wall - 1, 1, 0);
  g_assert_false (mesh_dht_check_record (h->dht, &t.rec, now, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_TIMESTAMP);
  g_clear_error (&error);
  trec_clear (&t);

  /* From the future: 5 min is allowed, more is not. */
  trec_make (&t, &a, &a, wall + 5 * 60 * 1000, wall + HOUR_MS, 1, 0);
  g_assert_true (mesh_dht_check_record (h->dht, &t.rec, now, NULL));
  trec_clear (&t);
  trec_make (&t, &a, &a, wall + 5 * 60 * 1000 + 1, wall + HOUR_MS, 1, 0);
  g_assert_false (mesh_dht_check_record (h->dht, &t.rec, now, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_TIMESTAMP);
  g_clear_error (&error);
  trec_clear (&t);

  /* A lifetime beyond max-record-ttl (24 h). */
  trec_make (&t, &a, &a, wall, wall + 24 * HOUR_MS + 1, 1, 0);
  g_assert_false (mesh_dht_check_record (h->dht, &t.rec, now, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID);
  g_clear_error (&error);
  trec_clear (&t);

  /* Oversized: valid for the wire (16 addresses of up to 255 bytes), but
   * above max-record-size (1024). */
  trec_make (&t, &a, &a, wall, wall + HOUR_MS, 6, 200);
  g_assert_false (mesh_dht_check_record (h->dht, &t.rec, now, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_TOO_LARGE);
  g_clear_error (&error);
  trec_clear (&t);

  mesh_identity_clear (&a);
  mesh_identity_clear (&other);
  harness_free (h);
}

static void
test_store_rules (void)
{
  Harness *h = harness_new (NULL, 1);
  MeshIdentity a, other, sender;
  MeshDhtStats st;
  TestRecord t;
  GError *error = NULL;
  const uint64_t now = S (100), wall = EPOCH_MS + 100 * 1000;

  make_identity (&a, 2);
  make_identity (&other, 3);
  make_identity (&sender, 4);

  /* Forged: another signer, a tampered address, a wrong bundle. */
  trec_make (&t, &a, &other, wall, wall + HOUR_MS, 1, 0);
  g_assert_false (inject_store (h, &sender, &t, now, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_BAD_SIGNATURE);
  g_clear_error (&error);
  trec_clear (&t);
  trec_make (&t, &a, &a, wall, wall + HOUR_MS, 2, 0);
  t.addrs[0][0] = '7';
  g_assert_false (inject_store (h, &sender, &t, now, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_BAD_SIGNATURE);
  g_clear_error (&error);
  trec_clear (&t);
  trec_make (&t, &a, &a, wall, wall + HOUR_MS, 1, 0);
  mesh_bundle_serialize (&other.pub, t.bundle);
  g_assert_false (inject_store (h, &sender, &t, now, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID);
  g_clear_error (&error);
  trec_clear (&t);
  /* Ill-timed and oversized. */
  trec_make (&t, &a, &a, wall + HOUR_MS, wall + 2 * HOUR_MS, 1, 0);
  g_assert_false (inject_store (h, &sender, &t, now, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_TIMESTAMP);
  g_clear_error (&error);
  trec_clear (&t);
  trec_make (&t, &a, &a, wall, wall + 30 * HOUR_MS, 1, 0);
  g_assert_false (inject_store (h, &sender, &t, now, &error));
  g_clear_error (&error);
  trec_clear (&t);
  trec_make (&t, &a, &a, wall, wall + HOUR_MS, 16, 100);
  g_assert_false (inject_store (h, &sender, &t, now, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_TOO_LARGE);
  g_clear_error (&error);
  trec_clear (&t);
  /* Expired: stale, ignored without blaming the sender. */
  trec_make (&t, &a, &a, wall - 2 * HOUR_MS, wall - 1000, 1, 0);
  g_assert_true (inject_store (h, &sender, &t, now, &error));
  g_assert_no_error (error);
  trec_clear (&t);

  mesh_dht_get_stats (h->dht, &st);
  g_assert_cmpuint (st.records, ==, 0);
  g_assert_cmpuint (st.records_forged, ==, 3);
  g_assert_cmpuint (st.records_bad_time, ==, 2);
  g_assert_cmpuint (st.records_oversize, ==, 1);
  g_assert_cmpuint (st.records_stale, ==, 1);
  g_assert_cmpuint (st.records_accepted, ==, 0);
  g_assert_cmpuint (mesh_dht_record_timestamp (h->dht, a.pub.node_id), ==, 0);

  /* A valid record is held. */
  trec_make (&t, &a, &a, wall - 1000, wall + HOUR_MS, 1, 0);
  g_assert_true (inject_store (h, &sender, &t, now, &error));
  g_assert_no_error (error);
  trec_clear (&t);
  g_assert_cmpuint (mesh_dht_record_timestamp (h->dht, a.pub.node_id), ==,
                    wall - 1000);
  /* Older and equal ones do not replace it. */
  trec_make (&t, &a, &a, wall - 2000, wall + 2 * HOUR_MS, 1, 0);
  g_assert_true (inject_store (h, &sender, &t, now, NULL));
  trec_clear (&t);
  trec_make (&t, &a, &a, wall - 1000, wall + 2 * HOUR_MS, 3, 0);
  g_assert_true (inject_store (h, &sender, &t, now, NULL));
  trec_clear (&t);
  g_assert_cmpuint (mesh_dht_record_timestamp (h->dht, a.pub.node_id), ==,
                    wall - 1000);
  /* A newer one does. */
  trec_make (&t, &a, &a, wall, wall + HOUR_MS, 2, 0);
  g_assert_true (inject_store (h, &sender, &t, now, NULL));
  trec_clear (&t);
  g_assert_cmpuint (mesh_dht_record_timestamp (h->dht, a.pub.node_id), ==, wall);
  /* And the older one cannot come back. */
  trec_make (&t, &a, &a, wall - 1000, wall + HOUR_MS, 1, 0);
  g_assert_true (inject_store (h, &sender, &t, now, NULL));
  trec_clear (&t);
  g_assert_cmpuint (mesh_dht_record_timestamp (h->dht, a.pub.node_id), ==, wall);

  mesh_dht_get_stats (h->dht, &st);
  g_assert_cmpuint (st.records, ==, 1);
  g_assert_cmpuint (st.records_accepted, ==, 2);
  g_assert_cmpuint (st.records_replaced, ==, 1);
  g_assert_cmpuint (st.records_stale, ==, 4);
  g_assert_cmpuint (st.record_bytes, >, 32 + 129 + 64);
  g_assert_cmpuint (st.record_bytes, <, 400);

  /* A FIND_VALUE gets the record back, unchanged. */
  {
    MeshWireFindValue fv = MESHARA__V1__FIND_VALUE__INIT;
    MeshWireNodes *nodes;

    fv.key.len = MESH_DHT_ID_LEN;
    fv.key.data = a.pub.node_id;
    fv.lookup_id = 4242;
    g_assert_true (inject (h->dht, &sender, MESH_WIRE_TYPE_FIND_VALUE,
                           &fv.base, now, NULL));
    g_assert_cmpint (last_sent (h)->base->type, ==, MESH_WIRE_TYPE_NODES);
    g_assert_cmpmem (last_sent (h)->to, 32, sender.pub.node_id, 32);
    nodes = (MeshWireNodes *) last_sent (h)->payload;
    g_assert_cmpuint (nodes->lookup_id, ==, 4242);
    g_assert_nonnull (nodes->record);
    g_assert_cmpuint (nodes->record->timestamp_ms, ==, wall);
    g_assert_cmpuint (nodes->record->n_addresses, ==, 2);
    g_assert_true (mesh_dht_check_record (h->dht, nodes->record, now, NULL));
  }

  mesh_identity_clear (&a);
  mesh_identity_clear (&other);
  mesh_identity_clear (&sender);
  harness_free (h);
}

static void
test_store_bound (void)
{
  MeshDhtConfig cfg;
  Harness *h;
  MeshIdentity ids[20], sender;
  MeshDhtStats st;
  TestRecord t;
  const uint64_t now = S (10), wall = EPOCH_MS + 10 * 1000;
  size_t one_size;

  test_config (&cfg);
  cfg.max_records = 8;
  h = harness_new (&cfg, 1);
  make_identity (&sender, 99);
  for (unsigned i = 0; i < G_N_ELEMENTS (ids); i++)
    {
      make_identity (&ids[i], 100 + i);
      /* Later ones expire later: each new one pushes out the soonest. */
      trec_make (&t, &ids[i], &ids[i], wall, wall + (i + 1) * 60 * 1000, 1, 0);
      g_assert_true (inject_store (h, &sender, &t, now, NULL));
      trec_clear (&t);
      mesh_dht_get_stats (h->dht, &st);
      g_assert_cmpuint (st.records, ==, MIN (i + 1, 8));
    }
  for (unsigned i = 0; i < G_N_ELEMENTS (ids); i++)
    g_assert_cmpuint (mesh_dht_record_timestamp (h->dht, ids[i].pub.node_id)
                      != 0, ==, i >= 12);
  mesh_dht_get_stats (h->dht, &st);
  g_assert_cmpuint (st.records_evicted, ==, 12);
  one_size = st.record_bytes / 8;

  /* A newcomer expiring before everything held is the one that goes. */
  trec_make (&t, &sender, &sender, wall, wall + 30 * 1000, 1, 0);
  g_assert_true (inject_store (h, &ids[0], &t, now, NULL));
  trec_clear (&t);
  g_assert_cmpuint (mesh_dht_record_timestamp (h->dht, sender.pub.node_id),
                    ==, 0);
  mesh_dht_get_stats (h->dht, &st);
  g_assert_cmpuint (st.records, ==, 8);
  g_assert_cmpuint (st.records_evicted, ==, 13);
  harness_free (h);

  /* The byte bound: room for three records. */
  test_config (&cfg);
  cfg.max_record_bytes = one_size * 3 + one_size / 2;
  h = harness_new (&cfg, 1);
  for (unsigned i = 0; i < 6; i++)
    {
      trec_make (&t, &ids[i], &ids[i], wall, wall + (i + 1) * 60 * 1000, 1, 0);
      g_assert_true (inject_store (h, &sender, &t, now, NULL));
      trec_clear (&t);
    }
  mesh_dht_get_stats (h->dht, &st);
  g_assert_cmpuint (st.records, ==, 3);
  g_assert_cmpuint (st.record_bytes, <=, cfg.max_record_bytes);
  for (unsigned i = 0; i < 6; i++)
    g_assert_cmpuint (mesh_dht_record_timestamp (h->dht, ids[i].pub.node_id)
                      != 0, ==, i >= 3);
  harness_free (h);

  for (unsigned i = 0; i < G_N_ELEMENTS (ids); i++)
    mesh_identity_clear (&ids[i]);
  mesh_identity_clear (&sender);
}

static void
test_record_expiry (void)
{
  Harness *h = harness_new (NULL, 1);
  MeshIdentity a, b, sender;
  MeshDhtStats st;
  TestRecord t;

  make_identity (&a, 2);
  make_identity (&b, 3);
  make_identity (&sender, 4);
  g_assert_cmpuint (mesh_dht_next_timeout (h->dht), ==, UINT64_MAX);
  trec_make (&t, &a, &a, EPOCH_MS, EPOCH_MS + 10 * 1000, 1, 0);
  g_assert_true (inject_store (h, &sender, &t, S (1), NULL));
  trec_clear (&t);
  trec_make (&t, &b, &b, EPOCH_MS, EPOCH_MS + 20 * 1000, 1, 0);
  g_assert_true (inject_store (h, &sender, &t, S (1), NULL));
  trec_clear (&t);
  g_assert_cmpuint (mesh_dht_next_timeout (h->dht), ==, S (10));

  mesh_dht_tick (h->dht, S (10) - 1);
  g_assert_cmpuint (mesh_dht_record_timestamp (h->dht, a.pub.node_id), !=, 0);
  mesh_dht_tick (h->dht, S (10));
  g_assert_cmpuint (mesh_dht_record_timestamp (h->dht, a.pub.node_id), ==, 0);
  g_assert_cmpuint (mesh_dht_record_timestamp (h->dht, b.pub.node_id), !=, 0);
  g_assert_cmpuint (mesh_dht_next_timeout (h->dht), ==, S (20));
  mesh_dht_tick (h->dht, S (25));
  mesh_dht_get_stats (h->dht, &st);
  g_assert_cmpuint (st.records, ==, 0);
  g_assert_cmpuint (st.record_bytes, ==, 0);
  g_assert_cmpuint (st.records_expired, ==, 2);
  g_assert_cmpuint (mesh_dht_next_timeout (h->dht), ==, UINT64_MAX);

  mesh_identity_clear (&a);
  mesh_identity_clear (&b);
  mesh_identity_clear (&sender);
  harness_free (h);
}

/* ---------------------------------------------------------------------- */
/* Requests and replies */

static void
test_unsolicited (void)
{
  Harness *h = harness_new (NULL, 1);
  MeshIdentity b, c, d;
  const MeshIdentity *list[1];
  MeshDhtStats st;
  uint8_t target[MESH_DHT_ID_LEN];
  uint64_t nonce;
  GError *error = NULL;

  make_identity (&b, 2);
  make_identity (&c, 3);
  make_identity (&d, 4);
  add_contact (h, &b, 0);
  memset (target, 0x5a, sizeof target);
  g_assert_true (mesh_dht_find_node (h->dht, target, MS (1), NULL));
  g_assert_cmpuint (h->sent->len, ==, 1);
  g_assert_cmpmem (last_sent (h)->to, 32, b.pub.node_id, 32);
  g_assert_cmpmem (request_target (last_sent (h)), 32, target, 32);
  nonce = request_nonce (last_sent (h));

  /* A wrong nonce, and the right nonce from the wrong node. */
  list[0] = &d;
  g_assert_true (inject_nodes (h, &b, nonce + 1, list, 1, NULL, MS (2), NULL));
  g_assert_true (inject_nodes (h, &c, nonce, list, 1, NULL, MS (2), NULL));
  mesh_dht_get_stats (h->dht, &st);
  g_assert_cmpuint (st.unsolicited, ==, 2);
  g_assert_cmpuint (st.replies_received, ==, 0);
  g_assert_cmpuint (h->sent->len, ==, 1);
  g_assert_false (mesh_dht_has_contact (h->dht, c.pub.node_id));

  /* The real reply: d becomes a candidate and is asked next, but is not
   * a contact until it answers. */
  list[0] = &c;
  g_assert_true (inject_nodes (h, &b, nonce, list, 1, NULL, MS (3), &error));
  g_assert_no_error (error);
  mesh_dht_get_stats (h->dht, &st);
  g_assert_cmpuint (st.replies_received, ==, 1);
  g_assert_cmpuint (h->sent->len, ==, 2);
  g_assert_cmpmem (last_sent (h)->to, 32, c.pub.node_id, 32);
  g_assert_false (mesh_dht_has_contact (h->dht, c.pub.node_id));

  /* The same reply again is not matched any more. */
  g_assert_true (inject_nodes (h, &b, nonce, list, 1, NULL, MS (4), NULL));
  mesh_dht_get_stats (h->dht, &st);
  g_assert_cmpuint (st.unsolicited, ==, 3);
  g_assert_cmpuint (st.replies_received, ==, 1);

  /* c answers: the lookup ends, c is a contact now. */
  nonce = request_nonce (last_sent (h));
  g_assert_true (inject_nodes (h, &c, nonce, NULL, 0, NULL, MS (5), NULL));
  g_assert_true (mesh_dht_has_contact (h->dht, c.pub.node_id));
  g_assert_cmpuint (h->done->len, ==, 1);
  {
    Done *dn = g_ptr_array_index (h->done, 0);

    g_assert_cmpint (dn->kind, ==, MESH_DHT_FIND_NODE);
    g_assert_false (dn->found);
    /* The closest node that answered was named by b, or is b. */
    g_assert_cmpuint (dn->hops, ==,
                      closer (c.pub.node_id, b.pub.node_id, target) ? 2 : 1);
    g_assert_cmpuint (dn->elapsed_ns, ==, MS (4));
  }
  mesh_dht_get_stats (h->dht, &st);
  g_assert_cmpuint (st.lookups_active, ==, 0);
  g_assert_cmpuint (st.requests_pending, ==, 0);

  mesh_identity_clear (&b);
  mesh_identity_clear (&c);
  mesh_identity_clear (&d);
  harness_free (h);
}

static void
test_bad_messages (void)
{
  Harness *h = harness_new (NULL, 1);
  MeshIdentity b, c;
  MeshWireFindNode fn = MESHARA__V1__FIND_NODE__INIT;
  MeshWireBaseMessage base = MESHARA__V1__BASE_MESSAGE__INIT;
  MeshWireNodes m = MESHARA__V1__NODES__INIT;
  MeshWireNodeInfo info = MESHARA__V1__NODE_INFO__INIT, *ptr = &info;
  uint8_t target[MESH_DHT_ID_LEN], bundle[MESH_BUNDLE_LEN];
  MeshDhtStats st;
  GError *error = NULL;
  uint64_t nonce;

  make_identity (&b, 2);
  make_identity (&c, 3);
  memset (target, 1, sizeof target);

  /* A sender key that is not the node the message came from. */
  fn.target.len = MESH_DHT_ID_LEN;
  fn.target.data = target;
  base.version = 1;
  base.type = MESH_WIRE_TYPE_FIND_NODE;
  base.timestamp_ms = EPOCH_MS;
  base.sender_public_key.len = MESH_ED25519_KEY_LEN;
  base.sender_public_key.data = b.pub.ed_pub;
  g_assert_false (mesh_dht_receive (h->dht, c.pub.node_id, &base, &fn.base,
                                    0, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID);
  g_clear_error (&error);
  /* A payload of another type than announced. */
  base.type = MESH_WIRE_TYPE_STORE;
  g_assert_false (mesh_dht_receive (h->dht, b.pub.node_id, &base, &fn.base,
                                    0, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID);
  g_clear_error (&error);
  /* Our own ID as the sender. */
  base.type = MESH_WIRE_TYPE_FIND_NODE;
  base.sender_public_key.len = 0;
  g_assert_false (mesh_dht_receive (h->dht, h->self.pub.node_id, &base,
                                    &fn.base, 0, &error));
  g_clear_error (&error);
  g_assert_cmpuint (h->sent->len, ==, 0);

  /* A NodeInfo whose ID is not its key's hash is not followed. */
  add_contact (h, &b, 0);
  g_assert_true (mesh_dht_find_node (h->dht, target, 0, NULL));
  nonce = request_nonce (last_sent (h));
  mesh_bundle_serialize (&c.pub, bundle);
  info.node_id.len = MESH_DHT_ID_LEN;
  info.node_id.data = target;
  info.bundle.len = MESH_BUNDLE_LEN;
  info.bundle.data = bundle;
  m.lookup_id = nonce;
  m.n_nodes = 1;
  m.nodes = &ptr;
  g_assert_false (inject (h->dht, &b, MESH_WIRE_TYPE_NODES, &m.base, MS (1),
                          &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID);
  g_clear_error (&error);
  mesh_dht_get_stats (h->dht, &st);
  g_assert_cmpuint (st.invalid, ==, 4);
  g_assert_cmpuint (st.lookups_active, ==, 0);
  g_assert_cmpuint (h->sent->len, ==, 1);
  g_assert_cmpuint (h->done->len, ==, 1);

  mesh_identity_clear (&b);
  mesh_identity_clear (&c);
  harness_free (h);
}

/* Among n identities from seed, the one closest to target and the one
 * farthest. */
static void
pick_near_far (const uint8_t *target, unsigned seed, MeshIdentity *near,
               MeshIdentity *far)
{
  MeshIdentity cand;
  gboolean first = TRUE;

  for (unsigned i = 0; i < 12; i++)
    {
      make_identity (&cand, seed + i);
      if (first)
        {
          *near = cand;
          *far = cand;
          first = FALSE;
          continue;
        }
      for (int j = 0; j < MESH_DHT_ID_LEN; j++)
        {
          uint8_t dc = cand.pub.node_id[j] ^ target[j];
          uint8_t dn = near->pub.node_id[j] ^ target[j];
          if (dc != dn)
            {
              if (dc < dn)
                *near = cand;
              break;
            }
        }
      for (int j = 0; j < MESH_DHT_ID_LEN; j++)
        {
          uint8_t dc = cand.pub.node_id[j] ^ target[j];
          uint8_t df = far->pub.node_id[j] ^ target[j];
          if (dc != df)
            {
              if (dc > df)
                *far = cand;
              break;
            }
        }
    }
  mesh_identity_clear (&cand);
}

/* A request that times out is sent again (fresh nonce, doubled wait)
 * and stops holding up the lookup meanwhile; the candidate fails only
 * when the retries went unanswered too. */
static void
test_retry_after_timeout (void)
{
  MeshDhtConfig cfg;
  Harness *h;
  MeshIdentity t, near, far;
  MeshDhtStats st;
  Done *dn;

  test_config (&cfg);
  cfg.alpha = 1;
  g_assert_cmpuint (cfg.request_retries, ==, 2);
  h = harness_new (&cfg, 1);
  make_identity (&t, 500);
  pick_near_far (t.pub.node_id, 700, &near, &far);
  add_contact (h, &near, 0);
  add_contact (h, &far, 0);

  g_assert_true (mesh_dht_lookup (h->dht, t.pub.node_id, 0, NULL));
  g_assert_cmpuint (h->sent->len, ==, 1);
  g_assert_cmpmem (last_sent (h)->to, 32, near.pub.node_id, 32);

  /* First timeout: near asked again, and far asked at once. */
  mesh_dht_tick (h->dht, S (1));
  g_assert_cmpuint (h->sent->len, ==, 3);
  g_assert_cmpmem (((Sent *) g_ptr_array_index (h->sent, 1))->to, 32,
                   near.pub.node_id, 32);
  g_assert_cmpuint (request_nonce (g_ptr_array_index (h->sent, 1)), !=,
                    request_nonce (g_ptr_array_index (h->sent, 0)));
  g_assert_cmpmem (last_sent (h)->to, 32, far.pub.node_id, 32);
  mesh_dht_get_stats (h->dht, &st);
  g_assert_cmpuint (st.timeouts, ==, 1);
  g_assert_cmpuint (st.retries, ==, 1);

  /* far answers; the lookup still waits for near. */
  g_assert_true (inject_nodes (h, &far, request_nonce (last_sent (h)), NULL, 0,
                               NULL, S (1) + MS (10), NULL));
  g_assert_cmpuint (h->done->len, ==, 0);
  /* A late answer to the first try matches nothing. */
  g_assert_true (inject_nodes (h, &near,
                               request_nonce (g_ptr_array_index (h->sent, 0)),
                               NULL, 0, NULL, S (1) + MS (20), NULL));
  mesh_dht_get_stats (h->dht, &st);
  g_assert_cmpuint (st.unsolicited, ==, 1);
  g_assert_cmpuint (h->done->len, ==, 0);

  /* The second try waits 2 s, the third 4 s. */
  mesh_dht_tick (h->dht, S (3) - 1);
  g_assert_cmpuint (h->sent->len, ==, 3);
  mesh_dht_tick (h->dht, S (3));
  g_assert_cmpuint (h->sent->len, ==, 4);
  g_assert_cmpmem (last_sent (h)->to, 32, near.pub.node_id, 32);
  g_assert_cmpuint (mesh_dht_next_timeout (h->dht), ==, S (7));
  g_assert_cmpuint (h->done->len, ==, 0);

  /* No answer to the last try: near failed and the first pass ends
   * unfound; a record lookup gets a second pass, which asks near again. */
  mesh_dht_tick (h->dht, S (7));
  g_assert_cmpuint (h->sent->len, ==, 5);
  g_assert_cmpmem (last_sent (h)->to, 32, near.pub.node_id, 32);
  g_assert_cmpuint (h->done->len, ==, 0);
  mesh_dht_get_stats (h->dht, &st);
  g_assert_cmpuint (st.timeouts, ==, 3);
  g_assert_cmpuint (st.retries, ==, 2);
  g_assert_cmpuint (st.lookup_repeats, ==, 1);
  g_assert_cmpuint (st.lookups_active, ==, 1);

  /* Nobody answers the second pass either: the lookup ends unfound, and
   * only once. */
  for (int i = 0; i < 32 && h->done->len == 0; i++)
    mesh_dht_tick (h->dht, mesh_dht_next_timeout (h->dht));
  g_assert_cmpuint (h->done->len, ==, 1);
  dn = g_ptr_array_index (h->done, 0);
  g_assert_false (dn->found);
  mesh_dht_get_stats (h->dht, &st);
  g_assert_cmpuint (st.lookup_repeats, ==, 1);
  g_assert_cmpuint (st.lookups_started, ==, 1);
  g_assert_cmpuint (st.lookups_done, ==, 1);
  g_assert_cmpuint (st.lookups_active, ==, 0);

  mesh_identity_clear (&t);
  mesh_identity_clear (&near);
  mesh_identity_clear (&far);
  harness_free (h);
}

/* A request that gets no answer times out and the lookup asks the next
 * candidate; a forged record in a reply is ignored and the lookup goes
 * on. */
static void
test_timeout_moves_on (void)
{
  MeshDhtConfig cfg;
  Harness *h;
  MeshIdentity t, near, far, mid;
  const MeshIdentity *list[1];
  MeshDhtStats st;
  TestRecord rec, forged;
  GError *error = NULL;
  Done *dn;
  const uint64_t wall = EPOCH_MS;

  test_config (&cfg);
  cfg.alpha = 1;
  cfg.request_retries = 0;      /* retries: test_retry_after_timeout */
  h = harness_new (&cfg, 1);
  make_identity (&t, 500);
  make_identity (&mid, 600);
  pick_near_far (t.pub.node_id, 700, &near, &far);
  add_contact (h, &near, 0);
  add_contact (h, &far, 0);

  g_assert_true (mesh_dht_lookup (h->dht, t.pub.node_id, 0, NULL));
  g_assert_cmpuint (h->sent->len, ==, 1);
  g_assert_cmpint (last_sent (h)->base->type, ==, MESH_WIRE_TYPE_FIND_VALUE);
  g_assert_cmpmem (last_sent (h)->to, 32, near.pub.node_id, 32);
  g_assert_cmpuint (mesh_dht_next_timeout (h->dht), ==, S (1));

  /* Nothing happens before the timeout. */
  mesh_dht_tick (h->dht, S (1) - 1);
  g_assert_cmpuint (h->sent->len, ==, 1);
  mesh_dht_tick (h->dht, S (1));
  g_assert_cmpuint (h->sent->len, ==, 2);
  g_assert_cmpmem (last_sent (h)->to, 32, far.pub.node_id, 32);
  mesh_dht_get_stats (h->dht, &st);
  g_assert_cmpuint (st.timeouts, ==, 1);
  /* One miss does not drop a contact. */
  g_assert_true (mesh_dht_has_contact (h->dht, near.pub.node_id));

  /* far answers with a forged record of t and names mid. */
  trec_make (&forged, &t, &far, wall, wall + HOUR_MS, 1, 0);
  list[0] = &mid;
  g_assert_false (inject_nodes (h, &far, request_nonce (last_sent (h)), list, 1,
                                &forged, S (1) + MS (20), &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_BAD_SIGNATURE);
  g_clear_error (&error);
  trec_clear (&forged);
  g_assert_cmpuint (h->done->len, ==, 0);
  g_assert_cmpuint (h->sent->len, ==, 3);
  g_assert_cmpmem (last_sent (h)->to, 32, mid.pub.node_id, 32);

  /* mid has the real one. */
  trec_make (&rec, &t, &t, wall, wall + HOUR_MS, 2, 0);
  g_assert_true (inject_nodes (h, &mid, request_nonce (last_sent (h)), NULL, 0,
                               &rec, S (1) + MS (40), &error));
  g_assert_no_error (error);
  trec_clear (&rec);
  g_assert_cmpuint (h->done->len, ==, 1);
  dn = g_ptr_array_index (h->done, 0);
  g_assert_true (dn->found);
  g_assert_true (dn->from_record);
  g_assert_cmpmem (dn->bundle_id, 32, t.pub.node_id, 32);
  g_assert_cmpstr (dn->addresses[0], ==, "198.51.100.1:7000");
  g_assert_cmpstr (dn->addresses[1], ==, "198.51.100.2:7001");
  g_assert_null (dn->addresses[2]);
  g_assert_cmpuint (dn->hops, ==, 2);
  g_assert_cmpuint (dn->elapsed_ns, ==, S (1) + MS (40));
  mesh_dht_get_stats (h->dht, &st);
  g_assert_cmpuint (st.records_forged, ==, 1);
  g_assert_cmpuint (st.lookups_found, ==, 1);
  g_assert_cmpuint (st.lookups_active, ==, 0);

  /* Three misses in a row drop a contact (near had one already). */
  g_assert_true (mesh_dht_has_contact (h->dht, mid.pub.node_id));
  for (int i = 0; i < 3; i++)
    {
      uint8_t target[MESH_DHT_ID_LEN];

      memset (target, i, sizeof target);
      g_assert_true (mesh_dht_find_node (h->dht, target, S (10 + 10 * i), NULL));
      /* Each of the three is asked in turn, and none answers. */
      for (int j = 1; j <= 3; j++)
        mesh_dht_tick (h->dht, S (10 + 10 * i + j));
      g_assert_cmpuint (h->done->len, ==, 2 + (guint) i);
      g_assert_cmpuint (mesh_dht_has_contact (h->dht, near.pub.node_id), ==,
                        i < 1);
      g_assert_cmpuint (mesh_dht_has_contact (h->dht, far.pub.node_id), ==,
                        i < 2);
    }
  g_assert_false (mesh_dht_has_contact (h->dht, mid.pub.node_id));
  mesh_dht_get_stats (h->dht, &st);
  g_assert_cmpuint (st.contacts, ==, 0);
  g_assert_cmpuint (st.timeouts, ==, 9);

  /* send_to_node refusing counts as a failure at once. */
  add_contact (h, &near, S (50));
  h->refuse = TRUE;
  g_assert_true (mesh_dht_find_node (h->dht, t.pub.node_id, S (50), NULL));
  g_assert_cmpuint (h->done->len, ==, 5);
  mesh_dht_get_stats (h->dht, &st);
  g_assert_cmpuint (st.send_failures, ==, 1);

  mesh_identity_clear (&t);
  mesh_identity_clear (&near);
  mesh_identity_clear (&far);
  mesh_identity_clear (&mid);
  harness_free (h);
}

/* ---------------------------------------------------------------------- */
/* The bucket bound and least-recently-seen eviction */

static void
bucket0_identities (const Harness *h, MeshIdentity *out, unsigned n)
{
  unsigned seed = 1000;

  for (unsigned i = 0; i < n; seed++)
    {
      make_identity (&out[i], seed);
      if (mesh_dht_bucket_index (h->dht, out[i].pub.node_id) == 0)
        i++;
    }
}

static void
test_bucket_lrs (void)
{
  MeshDhtConfig cfg;
  Harness *h;
  MeshIdentity e[7];
  MeshDhtStats st;
  uint64_t nonce;

  test_config (&cfg);
  cfg.k = 4;
  cfg.alpha = 2;
  h = harness_new (&cfg, 1);
  bucket0_identities (h, e, G_N_ELEMENTS (e));

  for (int i = 0; i < 4; i++)
    add_contact (h, &e[i], S (i + 1));
  g_assert_cmpuint (mesh_dht_bucket_size (h->dht, 0), ==, 4);
  g_assert_cmpuint (h->sent->len, ==, 0);

  /* Full: e4 waits while e0, the least recently seen, is pinged. */
  g_assert_false (mesh_dht_add_contact (h->dht, e[4].pub.node_id, &e[4].pub,
                                        NULL, 0, S (5)));
  g_assert_cmpuint (mesh_dht_bucket_size (h->dht, 0), ==, 4);
  g_assert_false (mesh_dht_has_contact (h->dht, e[4].pub.node_id));
  g_assert_cmpuint (h->sent->len, ==, 1);
  g_assert_cmpmem (last_sent (h)->to, 32, e[0].pub.node_id, 32);
  /* e0 stays silent: e4 takes its place. */
  mesh_dht_tick (h->dht, S (6));
  g_assert_false (mesh_dht_has_contact (h->dht, e[0].pub.node_id));
  g_assert_true (mesh_dht_has_contact (h->dht, e[4].pub.node_id));
  g_assert_cmpuint (mesh_dht_bucket_size (h->dht, 0), ==, 4);
  mesh_dht_get_stats (h->dht, &st);
  g_assert_cmpuint (st.contacts_evicted, ==, 1);
  g_assert_cmpuint (st.contacts, ==, 4);

  /* e1 is seen again, so e2 is now the least recently seen. */
  add_contact (h, &e[1], S (7));
  g_assert_false (mesh_dht_add_contact (h->dht, e[5].pub.node_id, &e[5].pub,
                                        NULL, 0, S (8)));
  g_assert_cmpuint (h->sent->len, ==, 2);
  g_assert_cmpmem (last_sent (h)->to, 32, e[2].pub.node_id, 32);
  nonce = request_nonce (last_sent (h));
  /* A second newcomer while the ping is out replaces the waiting one
   * and sends no second ping. */
  g_assert_false (mesh_dht_add_contact (h->dht, e[6].pub.node_id, &e[6].pub,
                                        NULL, 0, S (8)));
  g_assert_cmpuint (h->sent->len, ==, 2);
  /* e2 answers: long-lived contacts stay, the newcomer goes. */
  g_assert_true (inject_nodes (h, &e[2], nonce, NULL, 0, NULL, S (8) + MS (50),
                               NULL));
  mesh_dht_tick (h->dht, S (20));
  g_assert_true (mesh_dht_has_contact (h->dht, e[2].pub.node_id));
  g_assert_false (mesh_dht_has_contact (h->dht, e[5].pub.node_id));
  g_assert_false (mesh_dht_has_contact (h->dht, e[6].pub.node_id));
  g_assert_cmpuint (mesh_dht_bucket_size (h->dht, 0), ==, 4);
  mesh_dht_get_stats (h->dht, &st);
  g_assert_cmpuint (st.contacts_evicted, ==, 1);

  /* A request from an unknown node does not displace anyone, nor ping. */
  {
    MeshWireFindNode fn = MESHARA__V1__FIND_NODE__INIT;
    uint8_t target[MESH_DHT_ID_LEN] = { 0 };
    guint before = h->sent->len;

    fn.target.len = MESH_DHT_ID_LEN;
    fn.target.data = target;
    g_assert_true (inject (h->dht, &e[0], MESH_WIRE_TYPE_FIND_NODE, &fn.base,
                           S (21), NULL));
    g_assert_false (mesh_dht_has_contact (h->dht, e[0].pub.node_id));
    /* Only the reply went out, with every contact that has a bundle. */
    g_assert_cmpuint (h->sent->len, ==, before + 1);
    g_assert_cmpint (last_sent (h)->base->type, ==, MESH_WIRE_TYPE_NODES);
    g_assert_cmpuint (((MeshWireNodes *) last_sent (h)->payload)->n_nodes, ==, 4);
  }

  /* Removing a contact frees its slot. */
  g_assert_true (mesh_dht_remove_contact (h->dht, e[3].pub.node_id));
  g_assert_false (mesh_dht_remove_contact (h->dht, e[3].pub.node_id));
  g_assert_cmpuint (mesh_dht_bucket_size (h->dht, 0), ==, 3);
  add_contact (h, &e[6], S (30));

  for (unsigned i = 0; i < G_N_ELEMENTS (e); i++)
    mesh_identity_clear (&e[i]);
  harness_free (h);
}

/* The bound holds however many distinct nodes answer. */
static void
test_table_bound (void)
{
  MeshDhtConfig cfg;
  Harness *h;
  MeshDhtStats st;
  TestRng r = { .state = 5 };

  test_config (&cfg);
  cfg.k = 3;
  h = harness_new (&cfg, 1);
  for (int i = 0; i < 3000; i++)
    {
      uint8_t id[MESH_DHT_ID_LEN];

      test_rng (&r, id, sizeof id);
      /* Bias towards deep buckets too: copy a prefix of our own ID. */
      memcpy (id, h->self.pub.node_id, (size_t) (i % 6));
      mesh_dht_add_contact (h->dht, id, NULL, NULL, 0, MS (i));
      mesh_dht_tick (h->dht, MS (i));
    }
  mesh_dht_get_stats (h->dht, &st);
  for (guint b = 0; b < MESH_DHT_BUCKETS; b++)
    g_assert_cmpuint (mesh_dht_bucket_size (h->dht, b), <=, 3);
  {
    guint sum = 0;

    for (guint b = 0; b < MESH_DHT_BUCKETS; b++)
      sum += mesh_dht_bucket_size (h->dht, b);
    g_assert_cmpuint (st.contacts, ==, sum);
  }
  g_assert_cmpuint (st.contacts, >=, 60);
  g_assert_cmpuint (st.contacts_evicted, >, 0);
  harness_free (h);
}

/* ---------------------------------------------------------------------- */
/* Publication, local answers, refresh */

static void
test_publish_local (void)
{
  MeshDhtConfig cfg;
  Harness *h;
  MeshIdentity b;
  Done *dn;
  MeshWireStore *store;
  MeshDhtStats st;
  const MeshIdentity *none[1];
  const char *addrs[] = { "203.0.113.9:7777", NULL };

  test_config (&cfg);
  cfg.refresh_interval_ns = 0;
  h = harness_new (&cfg, 1);

  /* No contacts: published nowhere, but our own lookup answers at once. */
  g_assert_true (mesh_dht_publish_self (h->dht, 0, NULL));
  g_assert_true (mesh_dht_lookup (h->dht, h->self.pub.node_id, MS (1), NULL));
  g_assert_cmpuint (h->done->len, ==, 1);
  dn = g_ptr_array_index (h->done, 0);
  g_assert_true (dn->found);
  g_assert_true (dn->from_record);
  g_assert_cmpuint (dn->hops, ==, 0);
  g_assert_cmpstr (dn->addresses[0], ==, "192.0.2.1:7000");
  g_assert_cmpstr (dn->addresses[1], ==, "[2001:db8::1]:7000");
  g_assert_cmpuint (dn->timestamp_ms, ==, EPOCH_MS);
  /* Reaching nobody, it retries after one request timeout (then backs
   * off, doubling up to a minute). */
  g_assert_cmpuint (mesh_dht_next_timeout (h->dht), ==, S (1));

  /* With a contact: FIND_NODE of our ID, then STORE where it answered. */
  make_identity (&b, 2);
  add_contact (h, &b, S (1));
  mesh_dht_tick (h->dht, mesh_dht_next_timeout (h->dht));
  g_assert_cmpint (last_sent (h)->base->type, ==, MESH_WIRE_TYPE_FIND_NODE);
  g_assert_cmpmem (request_target (last_sent (h)), 32, h->self.pub.node_id, 32);
  none[0] = NULL;
  g_assert_true (inject_nodes (h, &b, request_nonce (last_sent (h)), none, 0,
                               NULL, S (60) + MS (10), NULL));
  g_assert_cmpint (last_sent (h)->base->type, ==, MESH_WIRE_TYPE_STORE);
  g_assert_cmpmem (last_sent (h)->to, 32, b.pub.node_id, 32);
  store = (MeshWireStore *) last_sent (h)->payload;
  g_assert_true (mesh_dht_check_record (h->dht, store->record, S (61), NULL));
  g_assert_cmpuint (store->record->timestamp_ms, ==, EPOCH_MS + 1 * 1000);
  g_assert_cmpuint (store->record->expires_ms - store->record->timestamp_ms,
                    ==, HOUR_MS);
  /* The next one comes after half the lifetime. */
  g_assert_cmpuint (mesh_dht_next_timeout (h->dht), ==, S (1 + 30 * 60));

  /* New addresses: signed and stored again, newer. */
  g_assert_true (mesh_dht_set_addresses (h->dht, addrs, S (100), NULL));
  g_assert_true (inject_nodes (h, &b, request_nonce (last_sent (h)), none, 0,
                               NULL, S (100) + MS (10), NULL));
  store = (MeshWireStore *) last_sent (h)->payload;
  g_assert_cmpuint (store->record->n_addresses, ==, 1);
  g_assert_cmpstr (store->record->addresses[0], ==, addrs[0]);
  g_assert_cmpuint (store->record->timestamp_ms, ==, EPOCH_MS + 100 * 1000);
  mesh_dht_get_stats (h->dht, &st);
  g_assert_cmpuint (st.stores_sent, ==, 2);

  /* A STORE of our own record by someone else is not held. */
  {
    TestRecord t;

    trec_make (&t, &h->self, &h->self, EPOCH_MS + 200 * 1000,
               EPOCH_MS + HOUR_MS, 1, 0);
    g_assert_true (inject_store (h, &b, &t, S (200), NULL));
    trec_clear (&t);
    g_assert_cmpuint (mesh_dht_record_timestamp (h->dht, h->self.pub.node_id),
                      ==, 0);
  }
  mesh_identity_clear (&b);
  harness_free (h);
}

/* Answer every request captured from index *from on with an empty Nodes
 * reply from the node it went to (one of ids). */
static void
answer_all (Harness *h, guint *from, const MeshIdentity *ids, guint n_ids,
            uint64_t now_ns)
{
  while (*from < h->sent->len)
    {
      Sent *s = g_ptr_array_index (h->sent, (*from)++);
      const MeshIdentity *who = NULL;

      if (s->base->type != MESH_WIRE_TYPE_FIND_NODE
          && s->base->type != MESH_WIRE_TYPE_FIND_VALUE)
        continue;
      for (guint i = 0; i < n_ids; i++)
        if (memcmp (ids[i].pub.node_id, s->to, MESH_DHT_ID_LEN) == 0)
          who = &ids[i];
      g_assert_nonnull (who);
      g_assert_true (inject_nodes (h, who, request_nonce (s), NULL, 0, NULL,
                                   now_ns, NULL));
    }
}

static void
test_refresh (void)
{
  MeshDhtConfig cfg;
  Harness *h;
  MeshIdentity ids[24];
  MeshDhtStats st;
  int deepest = -1;
  gboolean seen[MESH_DHT_BUCKETS] = { FALSE };
  uint8_t t[MESH_DHT_ID_LEN];
  guint mark = 0;

  test_config (&cfg);
  cfg.refresh_interval_ns = S (600);
  h = harness_new (&cfg, 1);
  for (unsigned i = 0; i < G_N_ELEMENTS (ids); i++)
    {
      make_identity (&ids[i], 3000 + i);
      mesh_dht_add_contact (h->dht, ids[i].pub.node_id, &ids[i].pub, NULL, 0, 0);
    }
  for (int b = 0; b < MESH_DHT_BUCKETS; b++)
    if (mesh_dht_bucket_size (h->dht, b))
      deepest = b;
  g_assert_cmpint (deepest, >=, 2);
  g_assert_cmpuint (mesh_dht_next_timeout (h->dht), ==, S (600));

  /* A lookup into bucket 0 counts as its refresh. */
  memcpy (t, h->self.pub.node_id, sizeof t);
  t[0] ^= 0x80;
  g_assert_true (mesh_dht_find_node (h->dht, t, S (300), NULL));
  answer_all (h, &mark, ids, G_N_ELEMENTS (ids), S (300) + MS (10));
  mesh_dht_get_stats (h->dht, &st);
  g_assert_cmpuint (st.lookups_active, ==, 0);
  g_assert_cmpuint (st.lookups_started, ==, 1);

  /* At 600 s: one random-ID lookup for each other bucket up to the
   * deepest in use; their requests all target that bucket's range. */
  mesh_dht_tick (h->dht, S (600));
  mesh_dht_get_stats (h->dht, &st);
  g_assert_cmpuint (st.lookups_started, ==, 1 + (guint) deepest);
  for (guint i = mark; i < h->sent->len; i++)
    {
      Sent *s = g_ptr_array_index (h->sent, i);
      int b = mesh_dht_bucket_index (h->dht, request_target (s));

      g_assert_cmpint (s->base->type, ==, MESH_WIRE_TYPE_FIND_NODE);
      g_assert_cmpint (b, >=, 1);
      g_assert_cmpint (b, <=, deepest);
      seen[b] = TRUE;
    }
  for (int b = 1; b <= deepest; b++)
    g_assert_true (seen[b]);
  answer_all (h, &mark, ids, G_N_ELEMENTS (ids), S (600) + MS (10));
  mesh_dht_get_stats (h->dht, &st);
  g_assert_cmpuint (st.lookups_active, ==, 0);
  g_assert_cmpuint (st.timeouts, ==, 0);

  /* Bucket 0 is due 600 s after its lookup, then the rest again. */
  g_assert_cmpuint (mesh_dht_next_timeout (h->dht), ==, S (900));
  mesh_dht_tick (h->dht, S (900));
  mesh_dht_get_stats (h->dht, &st);
  g_assert_cmpuint (st.lookups_started, ==, 2 + (guint) deepest);
  g_assert_cmpint (mesh_dht_bucket_index (h->dht, request_target (last_sent (h))),
                   ==, 0);
  answer_all (h, &mark, ids, G_N_ELEMENTS (ids), S (900) + MS (10));
  g_assert_cmpuint (mesh_dht_next_timeout (h->dht), ==, S (1200));

  for (unsigned i = 0; i < G_N_ELEMENTS (ids); i++)
    mesh_identity_clear (&ids[i]);
  harness_free (h);
}

/* The first publication is a lookup of our own ID: it counts as the
 * join, after which every bucket farther than our closest neighbour is
 * refreshed at once; later ones do not repeat that. */
static void
test_join_refresh (void)
{
  MeshDhtConfig cfg;
  Harness *h;
  MeshIdentity ids[24];
  MeshDhtStats st;
  int deepest = -1;
  guint mark = 0;
  gboolean seen[MESH_DHT_BUCKETS] = { FALSE };

  test_config (&cfg);
  cfg.refresh_interval_ns = 0;
  h = harness_new (&cfg, 2);
  for (unsigned i = 0; i < G_N_ELEMENTS (ids); i++)
    {
      make_identity (&ids[i], 5000 + i);
      mesh_dht_add_contact (h->dht, ids[i].pub.node_id, &ids[i].pub, NULL, 0, 0);
    }
  for (int b = 0; b < MESH_DHT_BUCKETS; b++)
    if (mesh_dht_bucket_size (h->dht, b))
      deepest = b;
  g_assert_cmpint (deepest, >=, 2);
  g_assert_cmpuint (mesh_dht_next_timeout (h->dht), ==, UINT64_MAX);

  g_assert_true (mesh_dht_publish_self (h->dht, S (1), NULL));
  answer_all (h, &mark, ids, G_N_ELEMENTS (ids), S (1) + MS (10));
  mesh_dht_get_stats (h->dht, &st);
  g_assert_cmpuint (st.stores_sent, ==, MIN (20u, G_N_ELEMENTS (ids)));
  g_assert_cmpuint (mesh_dht_next_timeout (h->dht), ==, S (1) + MS (10));
  mesh_dht_tick (h->dht, S (2));
  mesh_dht_get_stats (h->dht, &st);
  g_assert_cmpuint (st.lookups_started, ==, 1 + (guint) deepest);
  for (guint i = mark; i < h->sent->len; i++)
    {
      int b = mesh_dht_bucket_index (h->dht,
                                     request_target (g_ptr_array_index (h->sent, i)));

      g_assert_cmpint (b, <, deepest);
      seen[b] = TRUE;
    }
  for (int b = 0; b < deepest; b++)
    g_assert_true (seen[b]);
  answer_all (h, &mark, ids, G_N_ELEMENTS (ids), S (2) + MS (10));

  /* The republication half an hour later is only that. */
  g_assert_cmpuint (mesh_dht_next_timeout (h->dht), ==, S (1) + S (1800));
  mesh_dht_tick (h->dht, S (1801));
  answer_all (h, &mark, ids, G_N_ELEMENTS (ids), S (1801) + MS (10));
  mesh_dht_get_stats (h->dht, &st);
  g_assert_cmpuint (st.lookups_started, ==, 2 + (guint) deepest);
  g_assert_cmpuint (st.stores_sent, ==, 2 * MIN (20u, G_N_ELEMENTS (ids)));
  g_assert_cmpuint (mesh_dht_next_timeout (h->dht), ==, S (1801) + S (1800));

  for (unsigned i = 0; i < G_N_ELEMENTS (ids); i++)
    mesh_identity_clear (&ids[i]);
  harness_free (h);
}

/* ---------------------------------------------------------------------- */
/* A network of DHT objects: every node reachable (a fully routed mesh),
 * frames delivered after a modeled latency on a fake clock. */

typedef struct Net Net;

typedef struct {
  Net *net;
  guint index;
  MeshIdentity id;
  MeshDht *dht;
  TestRng rng;
  uint64_t timer_at;
  gboolean down;
  char addr[40];
} Node;

typedef struct {
  uint64_t at, seq;
  guint to;
  uint8_t *frame;     /* NULL: the node's timer */
  size_t len;
} Ev;

struct Net {
  Node *nodes;
  guint n;
  GHashTable *by_id;
  Ev *heap;
  size_t hn, hcap;
  uint64_t now, seq;
  TestRng rng;
  double drop;
  uint64_t frames, dropped;
  GPtrArray *done;
};

static guint
id_hash (gconstpointer p)
{
  guint h;

  memcpy (&h, p, sizeof h);
  return h;
}

static gboolean
id_equal (gconstpointer a, gconstpointer b)
{
  return memcmp (a, b, MESH_DHT_ID_LEN) == 0;
}

static gboolean
ev_before (const Ev *a, const Ev *b)
{
  return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

static void
heap_push (Net *net, Ev ev)
{
  size_t i;

  if (net->hn == net->hcap)
    {
      net->hcap = MAX (1024, net->hcap * 2);
      net->heap = g_renew (Ev, net->heap, net->hcap);
    }
  ev.seq = net->seq++;
  i = net->hn++;
  while (i > 0 && ev_before (&ev, &net->heap[(i - 1) / 2]))
    {
      net->heap[i] = net->heap[(i - 1) / 2];
      i = (i - 1) / 2;
    }
  net->heap[i] = ev;
}

static Ev
heap_pop (Net *net)
{
  Ev top = net->heap[0], last = net->heap[--net->hn];
  size_t i = 0;

  for (;;)
    {
      size_t c = 2 * i + 1;

      if (c >= net->hn)
        break;
      if (c + 1 < net->hn && ev_before (&net->heap[c + 1], &net->heap[c]))
        c++;
      if (!ev_before (&net->heap[c], &last))
        break;
      net->heap[i] = net->heap[c];
      i = c;
    }
  if (net->hn)
    net->heap[i] = last;
  return top;
}

static void
node_arm (Node *node)
{
  Net *net = node->net;
  uint64_t t = mesh_dht_next_timeout (node->dht);

  if (t != UINT64_MAX && t < net->now)
    t = net->now;
  if (t == node->timer_at)
    return;
  node->timer_at = t;
  if (t != UINT64_MAX)
    heap_push (net, (Ev) { .at = t, .to = node->index });
}

static gboolean
net_send (void *user_data, const uint8_t *node_id, const uint8_t *frame,
          size_t len)
{
  Node *src = user_data;
  Net *net = src->net;
  Node *dst = g_hash_table_lookup (net->by_id, node_id);

  if (dst == NULL)
    return FALSE;
  net->frames++;
  if (src->down || dst->down || (net->drop > 0
                    && rng_below (&net->rng, 1000000) < net->drop * 1000000))
    {
      net->dropped++;
      return TRUE;
    }
  /* 5 to 10 ms one way. */
  heap_push (net, (Ev) { .at = net->now + MS (5) + rng_below (&net->rng, MS (5)),
                         .to = dst->index, .frame = g_memdup2 (frame, len),
                         .len = len });
  return TRUE;
}

static void
net_done (void *user_data, MeshDhtLookupKind kind, const uint8_t *target,
          const MeshDhtResult *result, uint32_t hops, uint64_t elapsed_ns)
{
  Node *node = user_data;

  record_done (node->net->done, kind, target, result, hops, elapsed_ns);
}

static void
net_random (void *user_data, uint8_t *buf, size_t n)
{
  Node *node = user_data;

  test_rng (&node->rng, buf, n);
}

static Net *
net_new (guint n, const MeshDhtConfig *base_cfg, unsigned seed)
{
  Net *net = g_new0 (Net, 1);
  MeshDhtCallbacks cb = { net_send, net_done, net_random };

  net->n = n;
  net->nodes = g_new0 (Node, n);
  net->by_id = g_hash_table_new (id_hash, id_equal);
  net->rng.state = seed;
  net->done = g_ptr_array_new_with_free_func (done_free);
  for (guint i = 0; i < n; i++)
    {
      Node *node = &net->nodes[i];
      MeshDhtConfig cfg = *base_cfg;
      const char *addrs[2];
      GError *error = NULL;

      node->net = net;
      node->index = i;
      node->rng.state = seed * 1000003u + i;
      node->timer_at = UINT64_MAX;
      make_identity (&node->id, seed * 100000u + i);
      g_snprintf (node->addr, sizeof node->addr, "10.%u.%u.%u:7000",
                  i >> 16, (i >> 8) & 0xff, i & 0xff);
      addrs[0] = node->addr;
      addrs[1] = NULL;
      cfg.addresses = addrs;
      node->dht = mesh_dht_new (&node->id, &cfg, &cb, node, 0, &error);
      g_assert_no_error (error);
      g_hash_table_insert (net->by_id, node->id.pub.node_id, node);
    }
  return net;
}

static void
net_free (Net *net)
{
  for (guint i = 0; i < net->n; i++)
    {
      mesh_dht_free (net->nodes[i].dht);
      mesh_identity_clear (&net->nodes[i].id);
    }
  for (size_t i = 0; i < net->hn; i++)
    g_free (net->heap[i].frame);
  g_free (net->heap);
  g_hash_table_unref (net->by_id);
  g_ptr_array_unref (net->done);
  g_free (net->nodes);
  g_free (net);
}

static void
net_deliver (Net *net, Node *dst, const Ev *ev)
{
  MeshWireBaseMessage *base;
  ProtobufCMessage *payload;
  uint8_t from[MESH_DHT_ID_LEN];
  GError *error = NULL;

  /* The message IDs were checked in the single-node tests; here they
   * would only double the hashing. */
  base = decode_frame_full (ev->frame, ev->len, FALSE, &payload);
  g_assert_nonnull (base->routing);
  g_assert_cmpmem (base->routing->destination.data,
                   base->routing->destination.len, dst->id.pub.node_id,
                   MESH_DHT_ID_LEN);
  /* What the engine does for a routed message: the origin is the hash of
   * the sender key. */
  g_assert_cmpuint (base->sender_public_key.len, ==, MESH_ED25519_KEY_LEN);
  mesh_node_id (base->sender_public_key.data, from);
  g_assert_true (mesh_dht_receive (dst->dht, from, base, payload, net->now,
                                   &error));
  g_assert_no_error (error);
  mesh_wire_free (payload);
  mesh_wire_free (base);
}

/* Run every event up to `until`; the clock ends there. */
static void
net_run (Net *net, uint64_t until)
{
  while (net->hn > 0 && net->heap[0].at <= until)
    {
      Ev ev = heap_pop (net);
      Node *node = &net->nodes[ev.to];

      net->now = ev.at;
      if (ev.frame)
        {
          if (!node->down)
            net_deliver (net, node, &ev);
          g_free (ev.frame);
        }
      else if (ev.at == node->timer_at && !node->down)
        {
          node->timer_at = UINT64_MAX;
          mesh_dht_tick (node->dht, net->now);
          /* Whatever was due has been done. */
          g_assert_cmpuint (mesh_dht_next_timeout (node->dht), >, net->now);
        }
      else
        continue;
      node_arm (node);
    }
  net->now = MAX (net->now, until);
}

/* Both ends of a link know each other, as the engine tells its DHT. */
static void
net_link (Net *net, guint a, guint b)
{
  Node *na = &net->nodes[a], *nb = &net->nodes[b];
  const char *aa = na->addr, *ba = nb->addr;

  mesh_dht_add_contact (na->dht, nb->id.pub.node_id, &nb->id.pub, &ba, 1,
                        net->now);
  mesh_dht_add_contact (nb->dht, na->id.pub.node_id, &na->id.pub, &aa, 1,
                        net->now);
  node_arm (na);
  node_arm (nb);
}

/* Every node links to up to `links` random earlier ones, then joins with
 * a lookup of its own ID, 2 ms after the one before. */
static void
net_bootstrap (Net *net, guint links)
{
  for (guint i = 1; i < net->n; i++)
    for (guint l = 0; l < MIN (links, i); l++)
      net_link (net, i, rng_below (&net->rng, i));
  for (guint i = 0; i < net->n; i++)
    {
      net_run (net, net->now + MS (2));
      g_assert_true (mesh_dht_find_node (net->nodes[i].dht,
                                         net->nodes[i].id.pub.node_id,
                                         net->now, NULL));
      node_arm (&net->nodes[i]);
    }
  net_run (net, net->now + S (20));
  g_assert_cmpuint (net->done->len, ==, net->n);
  g_ptr_array_set_size (net->done, 0);
}

/* log2 (n) without libm: the integer part by halving, then the
 * fraction bit by bit by squaring. */
static double
log2_u (guint n)
{
  double x = n, r = 0, bit = 0.5;

  while (x >= 2)
    {
      x /= 2;
      r += 1;
    }
  for (int i = 0; i < 40; i++, bit /= 2)
    {
      x *= x;
      if (x >= 2)
        {
          x /= 2;
          r += bit;
        }
    }
  return r;
}

static double
cpu_seconds (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
cmp_u64 (gconstpointer a, gconstpointer b)
{
  uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

  return x < y ? -1 : x > y;
}

static void
test_network_1000 (void)
{
  /* Under valgrind (some 50 times slower) a smaller network: the same
   * code paths, and the same bounds relative to its size. */
  const gboolean slow = RUNNING_ON_VALGRIND != 0;
  const guint n = slow ? 200 : 1000;
  const guint n_targets = slow ? 30 : 300;
  const guint n_lookups = slow ? 60 : 1000;
  MeshDhtConfig cfg;
  Net *net;
  guint *targets;
  guint found = 0, max_hops = 0, local = 0;
  uint64_t hops_sum = 0, frames_before, requests = 0;
  uint64_t *elapsed;
  double cpu0, cpu;
  MeshDhtStats st;
  GHashTable *pairs;

  test_config (&cfg);
  cpu0 = cpu_seconds ();
  net = net_new (n, &cfg, 7);
  cpu = cpu_seconds ();
  net_bootstrap (net, 3);
  g_test_message ("CPU: %.2f s to make %u identities and DHTs, %.2f s for "
                  "the joins and the refreshes after them", cpu - cpu0, n,
                  cpu_seconds () - cpu);

  /* Routing tables after the joins. */
  {
    uint64_t contacts = 0, lookups = 0, sent = 0;

    for (guint i = 0; i < n; i++)
      {
        mesh_dht_get_stats (net->nodes[i].dht, &st);
        contacts += st.contacts;
        lookups += st.lookups_started;
        sent += st.requests_sent;
        g_assert_cmpuint (st.lookups_active, ==, 0);
      }
    g_test_message ("%u nodes joined: %.1f contacts per node; %.1f lookups "
                    "and %.1f requests per join", n, (double) contacts / n,
                    (double) lookups / n, (double) sent / n);
    /* Buckets 0 to 2 cover 1/2, 1/4 and 1/8 of the network: full. */
    g_assert_cmpuint (contacts / n, >=, 3 * cfg.k);
  }

  /* Targets publish their records. */
  targets = g_new (guint, n_targets);
  cpu0 = cpu_seconds ();
  for (guint i = 0; i < n_targets; i++)
    {
      targets[i] = (i * 7919u + 13) % n;
      net_run (net, net->now + MS (1));
      g_assert_true (mesh_dht_publish_self (net->nodes[targets[i]].dht,
                                            net->now, NULL));
      node_arm (&net->nodes[targets[i]]);
    }
  net_run (net, net->now + S (10));
  {
    uint64_t stores = 0, held = 0;

    for (guint i = 0; i < n; i++)
      {
        mesh_dht_get_stats (net->nodes[i].dht, &st);
        stores += st.stores_sent;
        held += st.records;
        g_assert_cmpuint (st.records_forged + st.invalid, ==, 0);
      }
    g_test_message ("%u records published: %.1f stores each, %.1f held "
                    "each; CPU %.0f us per publication",
                    n_targets, (double) stores / n_targets,
                    (double) held / n_targets,
                    (cpu_seconds () - cpu0) * 1e6 / n_targets);
    g_assert_cmpuint (held, >=, (uint64_t) n_targets * (cfg.k - 2));
  }

  /* Lookups from random nodes for random targets' records. */
  for (guint i = 0; i < n; i++)
    {
      mesh_dht_get_stats (net->nodes[i].dht, &st);
      requests -= st.requests_sent;
    }
  frames_before = net->frames;
  elapsed = g_new (uint64_t, n_lookups);
  pairs = g_hash_table_new (NULL, NULL);
  cpu0 = cpu_seconds ();
  for (guint i = 0; i < n_lookups; i++)
    {
      guint t, o;

      /* A lookup running for the same target is not started twice: keep
       * the pairs distinct, so that each call gets its own report. */
      do
        {
          t = targets[rng_below (&net->rng, n_targets)];
          o = rng_below (&net->rng, n);
        }
      while (o == t || !g_hash_table_add (pairs, GUINT_TO_POINTER (o * n + t + 1)));
      net_run (net, net->now + MS (1));
      g_assert_true (mesh_dht_lookup (net->nodes[o].dht,
                                      net->nodes[t].id.pub.node_id, net->now,
                                      NULL));
      node_arm (&net->nodes[o]);
    }
  net_run (net, net->now + S (10));
  cpu = cpu_seconds () - cpu0;
  for (guint i = 0; i < n; i++)
    {
      mesh_dht_get_stats (net->nodes[i].dht, &st);
      requests += st.requests_sent;
    }

  g_assert_cmpuint (net->done->len, ==, n_lookups);
  for (guint i = 0; i < net->done->len; i++)
    {
      Done *d = g_ptr_array_index (net->done, i);
      Node *tn = g_hash_table_lookup (net->by_id, d->target);

      elapsed[i] = d->elapsed_ns;
      if (!d->found)
        continue;
      found++;
      g_assert_true (d->from_record);
      g_assert_cmpmem (d->bundle_id, 32, d->target, 32);
      g_assert_cmpstr (d->addresses[0], ==, tn->addr);
      hops_sum += d->hops;
      max_hops = MAX (max_hops, d->hops);
      if (d->hops == 0)
        local++;
    }
  qsort (elapsed, n_lookups, sizeof *elapsed, cmp_u64);
  g_test_message ("%u lookups: %u found (%.1f %%), mean hops %.2f, max %u, "
                  "%u answered locally; %.1f requests and %.1f frames per "
                  "lookup; latency p50 %.1f ms p99 %.1f ms (5-10 ms links); "
                  "CPU %.0f us per lookup (whole network)",
                  n_lookups, found, 100.0 * found / n_lookups,
                  (double) hops_sum / MAX (found, 1), max_hops, local,
                  (double) requests / n_lookups,
                  (double) (net->frames - frames_before) / n_lookups,
                  elapsed[n_lookups / 2] / 1e6,
                  elapsed[n_lookups * 99 / 100] / 1e6,
                  cpu * 1e6 / n_lookups);
  g_assert_cmpuint (found * 100, >=, n_lookups * 99);
  g_assert_cmpfloat ((double) hops_sum / found, <=, log2_u (n));

  g_hash_table_unref (pairs);
  g_free (elapsed);
  g_free (targets);
  net_free (net);
}

/* With 5 % of the frames lost: lookups still succeed (timeouts move
 * them on); republish refreshes the copies; when the node is gone they
 * expire. */
static void
test_network_loss_republish (void)
{
  MeshDhtConfig cfg;
  Net *net;
  Node *x;
  guint holders = 0, newer = 0, found = 0;
  uint64_t first_ts, timeouts = 0;
  MeshDhtStats st;

  test_config (&cfg);
  cfg.k = 8;
  cfg.record_ttl_ms = 10 * 60 * 1000;       /* republish every 5 min */
  cfg.refresh_interval_ns = S (120);
  net = net_new (60, &cfg, 11);
  net->drop = 0.05;
  net_bootstrap (net, 3);

  x = &net->nodes[17];
  g_assert_true (mesh_dht_publish_self (x->dht, net->now, NULL));
  node_arm (x);
  net_run (net, net->now + S (10));
  first_ts = EPOCH_MS + (net->now - S (10)) / MS (1);
  for (guint i = 0; i < net->n; i++)
    if (mesh_dht_record_timestamp (net->nodes[i].dht, x->id.pub.node_id))
      holders++;
  g_assert_cmpuint (holders, >=, 4);
  g_assert_cmpuint (holders, <=, 8);

  /* Ten more publish; everyone looks for one of the eleven. */
  for (guint i = 0; i < 10; i++)
    {
      g_assert_true (mesh_dht_publish_self (net->nodes[i * 5 + 1].dht,
                                            net->now, NULL));
      node_arm (&net->nodes[i * 5 + 1]);
    }
  net_run (net, net->now + S (10));
  g_ptr_array_set_size (net->done, 0);
  for (guint i = 0; i < net->n; i++)
    {
      guint t = i % 11 == 10 ? 17 : (i % 11) * 5 + 1;

      if (t == i)
        t = 17;
      g_assert_true (mesh_dht_lookup (net->nodes[i].dht,
                                      net->nodes[t].id.pub.node_id, net->now,
                                      NULL));
      node_arm (&net->nodes[i]);
    }
  net_run (net, net->now + S (20));
  g_assert_cmpuint (net->done->len, ==, net->n);
  for (guint i = 0; i < net->done->len; i++)
    found += ((Done *) g_ptr_array_index (net->done, i))->found;
  for (guint i = 0; i < net->n; i++)
    {
      mesh_dht_get_stats (net->nodes[i].dht, &st);
      timeouts += st.timeouts;
    }
  g_test_message ("5 %% loss: %u of %u lookups found, %" G_GUINT64_FORMAT
                  " request timeouts in the network", found, net->n, timeouts);
  g_assert_cmpuint (found, ==, net->n);
  g_assert_cmpuint (timeouts, >, 0);

  /* 5 min later the record is signed and stored again. */
  net_run (net, net->now + S (300));
  for (guint i = 0; i < net->n; i++)
    if (mesh_dht_record_timestamp (net->nodes[i].dht, x->id.pub.node_id)
        > first_ts + 200 * 1000)
      newer++;
  g_assert_cmpuint (newer, >=, 4);

  /* x leaves: within one lifetime every copy is gone, and lookups end
   * without a result. */
  x->down = TRUE;
  net_run (net, net->now + S (11 * 60));
  for (guint i = 0; i < net->n; i++)
    {
      g_assert_cmpuint (mesh_dht_record_timestamp (net->nodes[i].dht,
                                                   x->id.pub.node_id), ==, 0);
      mesh_dht_get_stats (net->nodes[i].dht, &st);
      g_assert_cmpuint (st.records_forged, ==, 0);
    }
  g_ptr_array_set_size (net->done, 0);
  g_assert_true (mesh_dht_lookup (net->nodes[3].dht, x->id.pub.node_id,
                                  net->now, NULL));
  node_arm (&net->nodes[3]);
  net_run (net, net->now + S (30));
  g_assert_cmpuint (net->done->len, ==, 1);
  g_assert_false (((Done *) g_ptr_array_index (net->done, 0))->found);

  net_free (net);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/dht/config-errors", test_config_errors);
  g_test_add_func ("/dht/bucket-index", test_bucket_index);
  g_test_add_func ("/dht/record/check", test_record_check);
  g_test_add_func ("/dht/record/store-rules", test_store_rules);
  g_test_add_func ("/dht/record/store-bound", test_store_bound);
  g_test_add_func ("/dht/record/expiry", test_record_expiry);
  g_test_add_func ("/dht/rpc/unsolicited", test_unsolicited);
  g_test_add_func ("/dht/rpc/bad-messages", test_bad_messages);
  g_test_add_func ("/dht/rpc/timeout-moves-on", test_timeout_moves_on);
  g_test_add_func ("/dht/rpc/retry-after-timeout", test_retry_after_timeout);
  g_test_add_func ("/dht/table/bucket-lrs", test_bucket_lrs);
  g_test_add_func ("/dht/table/bound", test_table_bound);
  g_test_add_func ("/dht/publish-local", test_publish_local);
  g_test_add_func ("/dht/refresh", test_refresh);
  g_test_add_func ("/dht/join-refresh", test_join_refresh);
  g_test_add_func ("/dht/network/loss-republish", test_network_loss_republish);
  g_test_add_func ("/dht/network/1000", test_network_1000);

  return g_test_run ();
}
