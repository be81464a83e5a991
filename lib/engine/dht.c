/* The Kademlia DHT (see dht.h for the protocol and the record rules).
 *
 * Layout.  Routing table: 256 buckets, each an unordered array of at most
 * k contacts allocated on first use; the least recently seen contact is
 * the one with the smallest seen_seq (a counter, so that equal times
 * still order).  Lookups: a small array of heap-allocated lookups, each
 * with a shortlist of 3k candidates sorted by distance to the target.
 * Pending requests: one array, matched by the 64-bit random nonce carried
 * in FindNode/FindValue.lookup_id and the node the request went to.
 * Records held for others: open addressing over pointers, slots picked by
 * SipHash-1-3 under a per-node random key (peers choose the IDs).
 *
 * Who gets into the routing table.  A node that answered one of our
 * requests (the nonce proves the reply belongs to it), and contacts the
 * caller vouches for, may displace the least recently seen contact of a
 * full bucket, but only after that one failed a ping: long-lived contacts
 * stay, so flooding us with new IDs cannot empty a bucket.  A node that
 * only sent us a request (its key claim is unauthenticated when routed)
 * is added when its bucket has room, never displacing anyone.  Nodes
 * named in replies go to the lookup's shortlist, and into the table only
 * once they answer themselves. */
#include "config.h"

#include "engine/dht.h"
#include "engine/routes.h"
#include "crypto/hash.h"

#include <string.h>
#include <meshara/meshara.h>

#define NS_PER_MS G_GUINT64_CONSTANT (1000000)
#define NS_PER_S G_GUINT64_CONSTANT (1000000000)

/* Consecutive unanswered requests before a contact is dropped; one makes
 * it the first to give way to a newcomer. */
#define MAX_FAILS 3
/* Shortlist capacity in multiples of k: room for the replacements of
 * candidates that fail. */
#define SHORTLIST_FACTOR 3
/* Retry of a publication that reached nobody, or could not start. */
#define PUBLISH_RETRY_NS (60 * NS_PER_S)
/* Pending pings: at most one per bucket. */
#define MAX_PINGS MESH_DHT_BUCKETS

G_STATIC_ASSERT (sizeof MESH_DHT_RECORD_LABEL - 1 == 24);
G_STATIC_ASSERT (MESH_BUNDLE_LEN == MESH_WIRE_BUNDLE_LEN);
G_STATIC_ASSERT (MESH_DHT_ID_LEN == MESH_NODE_ID_LEN);

typedef struct {
  uint8_t id[MESH_DHT_ID_LEN];
  uint64_t seen_seq;            /* smallest: least recently seen */
  uint8_t fails;                /* consecutive unanswered requests */
  uint8_t has_bundle;
  uint8_t bundle_trusted;       /* from the caller or a verified record */
  uint8_t n_addresses;
  char **addresses;             /* NULL-terminated, one allocation */
  uint8_t bundle[MESH_BUNDLE_LEN];
} Contact;

typedef struct {
  Contact *entries;             /* k slots, NULL until first used */
  uint32_t n;
  /* When to look up a random ID in this range: refresh_interval_ns
   * after the last lookup into it, or at once after a join. */
  uint64_t refresh_ns;
  /* Ping-before-evict: a newcomer waits while the least recently seen
   * contact is pinged; it takes that contact's place on a timeout. */
  uint64_t ping_nonce;          /* 0: no ping pending */
  Contact *waiting;             /* NULL when none */
} Bucket;

typedef enum {
  CAND_NEW,
  CAND_WAITING,
  CAND_ANSWERED,
  CAND_FAILED,
} CandState;

typedef struct {
  uint8_t id[MESH_DHT_ID_LEN];
  uint8_t state;
  uint8_t depth;                /* requests in the chain that named it */
  uint8_t has_bundle;
  uint8_t slot;                 /* its bundle in Lookup.bundles, which do
                                 * not move when candidates do */
} Cand;

typedef enum {
  PURPOSE_USER,                 /* reported through lookup_done */
  PURPOSE_PUBLISH,              /* ends with STOREs of our record */
  PURPOSE_REFRESH,              /* fills a bucket; no report */
} Purpose;

typedef struct {
  MeshDhtLookupKind kind;
  Purpose purpose;
  uint8_t target[MESH_DHT_ID_LEN];
  uint64_t start_ns;
  uint32_t pass;                /* 0, or 1 for the second pass of a user
                                 * lookup whose first one found nothing */
  uint32_t inflight;             /* requests on their first try: at most alpha */
  uint32_t stalled;             /* requests sent again after a timeout; they
                                 * no longer hold up the next candidates */
  uint32_t n;
  uint32_t cap;                 /* at most 3 * 32, so slots fit a byte */
  uint8_t (*bundles)[MESH_BUNDLE_LEN];  /* cap entries, after cands */
  Cand cands[];                 /* sorted by distance to target */
} Lookup;

typedef struct {
  uint64_t nonce;
  uint8_t node_id[MESH_DHT_ID_LEN];
  uint64_t deadline_ns;
  Lookup *lookup;               /* NULL for pings and after the lookup ended */
  int ping_bucket;              /* -1 unless a ping */
  uint8_t attempt;              /* 0 for the first send, then retries */
} Request;

typedef struct {
  uint8_t node_id[MESH_DHT_ID_LEN];
  uint8_t bundle[MESH_BUNDLE_LEN];
  uint8_t signature[MESH_ED25519_SIG_LEN];
  uint64_t timestamp_ms;
  uint64_t expires_ms;
  size_t size;                  /* encoded ContactRecord */
  size_t n_addresses;
  char *addresses[];            /* then the strings, same allocation */
} Record;

struct MeshDht {
  MeshIdentity self;
  MeshDhtConfig cfg;            /* cfg.addresses unused: see addresses */
  char **addresses;             /* ours, NULL-terminated */
  MeshDhtCallbacks cb;
  void *user_data;
  uint8_t hash_key[MESH_ROUTES_KEY_LEN];
  uint64_t republish_ns;

  Bucket buckets[MESH_DHT_BUCKETS];
  int deepest;                  /* deepest non-empty bucket, or -1 */
  gboolean joined;              /* a lookup of our own ID got answers */
  uint32_t n_contacts;
  uint64_t seen_seq;

  Lookup **lookups;
  uint32_t n_lookups;

  Request *reqs;
  size_t n_reqs, cap_reqs, max_reqs;

  Record **slots;               /* open addressing, power-of-two size */
  size_t cap_slots, max_slots;
  size_t n_records;
  size_t record_bytes;
  uint64_t next_expiry_ms;      /* UINT64_MAX when nothing held */

  Record *own;                  /* our signed record, once published */
  uint64_t next_publish_ns;     /* UINT64_MAX until the first publish */
  uint32_t publish_failures;    /* publications in a row that stored nothing */

  uint8_t *pbuf;                /* payload scratch */
  size_t pcap;
  uint8_t *fbuf;                /* frame scratch */
  size_t fcap;

  MeshDhtStats stats;
};

typedef enum {
  REC_OK,
  REC_OVERSIZE,
  REC_FORGED,
  REC_STALE,
  REC_BAD_TIME,
  REC_INVALID,
} RecordVerdict;

/* ---------------------------------------------------------------------- */
/* IDs and distances */

static inline uint64_t
wall_ms (const MeshDht *dht, uint64_t now_ns)
{
  return dht->cfg.wall_epoch_ms + now_ns / NS_PER_MS;
}

/* Leading bits a and b have in common, 256 when equal. */
static int
common_prefix (const uint8_t *a, const uint8_t *b)
{
  for (int i = 0; i < MESH_DHT_ID_LEN; i++)
    {
      uint8_t x = a[i] ^ b[i];
      if (x)
        return i * 8 + __builtin_clz ((unsigned) x) - 24;
    }
  return MESH_DHT_ID_LEN * 8;
}

static inline uint64_t
load_be64 (const uint8_t *p)
{
  uint64_t v;

  memcpy (&v, p, sizeof v);
  return GUINT64_FROM_BE (v);
}

/* Sign of distance (a, t) - distance (b, t), 64 bits at a time. */
static inline int
xor_cmp (const uint8_t *a, const uint8_t *b, const uint8_t *t)
{
  for (int i = 0; i < MESH_DHT_ID_LEN; i += 8)
    {
      uint64_t tw = load_be64 (t + i);
      uint64_t da = load_be64 (a + i) ^ tw, db = load_be64 (b + i) ^ tw;

      if (da != db)
        return da < db ? -1 : 1;
    }
  return 0;
}

static inline int
bucket_of (const MeshDht *dht, const uint8_t *id)
{
  int p = common_prefix (dht->self.pub.node_id, id);
  return p == MESH_DHT_ID_LEN * 8 ? -1 : p;
}

static gboolean
id_matches_bundle (const uint8_t *id, const uint8_t *bundle)
{
  uint8_t h[MESH_SHA256_LEN];

  if (bundle[0] != MESH_BUNDLE_VERSION)
    return FALSE;
  mesh_sha256 (bundle + 1, MESH_ED25519_KEY_LEN, h);
  return memcmp (h, id, MESH_DHT_ID_LEN) == 0;
}

static uint64_t
random_nonce (MeshDht *dht)
{
  uint64_t v = 0;

  /* 0 marks "no ping" in buckets. */
  while (v == 0)
    dht->cb.random (dht->user_data, (uint8_t *) &v, sizeof v);
  return v;
}

/* ---------------------------------------------------------------------- */
/* Address lists: n pointers, a NULL, then the strings, in one block. */

static char **
strv_pack (const char *const *src, size_t n)
{
  size_t bytes = (n + 1) * sizeof (char *);
  char **v;
  char *p;

  for (size_t i = 0; i < n; i++)
    bytes += strlen (src[i]) + 1;
  v = g_malloc (bytes);
  p = (char *) (v + n + 1);
  for (size_t i = 0; i < n; i++)
    {
      size_t len = strlen (src[i]) + 1;
      memcpy (p, src[i], len);
      v[i] = p;
      p += len;
    }
  v[n] = NULL;
  return v;
}

static gboolean
address_ok (const char *a)
{
  size_t n = a ? strlen (a) : 0;

  if (n < 1 || n > MESH_WIRE_MAX_ADDRESS_LEN)
    return FALSE;
  for (size_t i = 0; i < n; i++)
    if ((guchar) a[i] < 0x20 || (guchar) a[i] > 0x7e)
      return FALSE;
  return TRUE;
}

static gboolean
check_addresses (const char *const *addresses, GError **error)
{
  size_t n = addresses ? g_strv_length ((char **) addresses) : 0;

  if (n > MESH_WIRE_MAX_ADDRESSES)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
                   "%" G_GSIZE_FORMAT " addresses exceed the limit of %d",
                   n, MESH_WIRE_MAX_ADDRESSES);
      return FALSE;
    }
  for (size_t i = 0; i < n; i++)
    if (!address_ok (addresses[i]))
      {
        g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
                     "address %" G_GSIZE_FORMAT " is not 1 to %d bytes of "
                     "printable ASCII", i, MESH_WIRE_MAX_ADDRESS_LEN);
        return FALSE;
      }
  return TRUE;
}

/* ---------------------------------------------------------------------- */
/* Records */

static uint8_t *
put_be32 (uint8_t *p, uint32_t v)
{
  p[0] = (uint8_t) (v >> 24);
  p[1] = (uint8_t) (v >> 16);
  p[2] = (uint8_t) (v >> 8);
  p[3] = (uint8_t) v;
  return p + 4;
}

static uint8_t *
put_be64 (uint8_t *p, uint64_t v)
{
  return put_be32 (put_be32 (p, (uint32_t) (v >> 32)), (uint32_t) v);
}

static void
record_digest (const uint8_t *node_id, const uint8_t *bundle,
               uint64_t timestamp_ms, uint64_t expires_ms,
               const char *const *addresses, size_t n_addresses,
               uint8_t out[MESH_SHA256_LEN])
{
  uint8_t head[24 + MESH_DHT_ID_LEN + MESH_BUNDLE_LEN + 8 + 8 + 4];
  /* Addresses are at most 16 of 255 bytes, each with a length word. */
  uint8_t tail[MESH_WIRE_MAX_ADDRESSES * (4 + MESH_WIRE_MAX_ADDRESS_LEN)];
  uint8_t *p = head, *q = tail;

  memcpy (p, MESH_DHT_RECORD_LABEL, 24);
  p += 24;
  memcpy (p, node_id, MESH_DHT_ID_LEN);
  p += MESH_DHT_ID_LEN;
  memcpy (p, bundle, MESH_BUNDLE_LEN);
  p += MESH_BUNDLE_LEN;
  p = put_be64 (p, timestamp_ms);
  p = put_be64 (p, expires_ms);
  p = put_be32 (p, (uint32_t) n_addresses);
  g_assert ((size_t) (p - head) == sizeof head);
  g_assert (n_addresses <= MESH_WIRE_MAX_ADDRESSES);
  for (size_t i = 0; i < n_addresses; i++)
    {
      size_t len = strlen (addresses[i]);

      g_assert (len <= MESH_WIRE_MAX_ADDRESS_LEN);
      q = put_be32 (q, (uint32_t) len);
      memcpy (q, addresses[i], len);
      q += len;
    }
  mesh_sha256_2 (head, sizeof head, tail, (size_t) (q - tail), out);
}

void
mesh_dht_record_digest (const MeshWireContactRecord *r,
                        uint8_t out[MESH_SHA256_LEN])
{
  g_return_if_fail (r != NULL);
  g_return_if_fail (r->node_id.len == MESH_DHT_ID_LEN);
  g_return_if_fail (r->bundle.len == MESH_BUNDLE_LEN);
  g_return_if_fail (r->n_addresses <= MESH_WIRE_MAX_ADDRESSES);

  record_digest (r->node_id.data, r->bundle.data, r->timestamp_ms,
                 r->expires_ms, (const char *const *) r->addresses,
                 r->n_addresses, out);
}

static void
record_to_wire (const Record *r, MeshWireContactRecord *w)
{
  meshara__v1__contact_record__init (w);
  w->node_id.len = MESH_DHT_ID_LEN;
  w->node_id.data = (uint8_t *) r->node_id;
  w->bundle.len = MESH_BUNDLE_LEN;
  w->bundle.data = (uint8_t *) r->bundle;
  w->n_addresses = r->n_addresses;
  w->addresses = (char **) r->addresses;
  w->timestamp_ms = r->timestamp_ms;
  w->expires_ms = r->expires_ms;
  w->signature.len = MESH_ED25519_SIG_LEN;
  w->signature.data = (uint8_t *) r->signature;
}

static Record *
record_new (const uint8_t *node_id, const uint8_t *bundle,
            const uint8_t *signature, uint64_t timestamp_ms,
            uint64_t expires_ms, const char *const *addresses,
            size_t n_addresses)
{
  size_t bytes = sizeof (Record) + (n_addresses + 1) * sizeof (char *);
  MeshWireContactRecord w;
  Record *r;
  char *p;

  for (size_t i = 0; i < n_addresses; i++)
    bytes += strlen (addresses[i]) + 1;
  r = g_malloc (bytes);
  memcpy (r->node_id, node_id, MESH_DHT_ID_LEN);
  memcpy (r->bundle, bundle, MESH_BUNDLE_LEN);
  memcpy (r->signature, signature, MESH_ED25519_SIG_LEN);
  r->timestamp_ms = timestamp_ms;
  r->expires_ms = expires_ms;
  r->n_addresses = n_addresses;
  p = (char *) (r->addresses + n_addresses + 1);
  for (size_t i = 0; i < n_addresses; i++)
    {
      size_t len = strlen (addresses[i]) + 1;
      memcpy (p, addresses[i], len);
      r->addresses[i] = p;
      p += len;
    }
  r->addresses[n_addresses] = NULL;
  record_to_wire (r, &w);
  r->size = protobuf_c_message_get_packed_size (&w.base);
  return r;
}

/* The holder rules of dht.h, cheapest first.  The signature is checked
 * only with verify_sig, so that the caller can first rule out a record
 * that is not newer than the one it holds. */
static RecordVerdict
record_check (const MeshDht *dht, const MeshWireContactRecord *r,
              uint64_t now_ns, gboolean verify_sig, size_t *size_out,
              GError **error)
{
  uint64_t now = wall_ms (dht, now_ns);
  uint8_t digest[MESH_SHA256_LEN];
  size_t size;

  if (r->node_id.len != MESH_DHT_ID_LEN || r->bundle.len != MESH_BUNDLE_LEN
      || r->signature.len != MESH_ED25519_SIG_LEN
      || r->n_addresses > MESH_WIRE_MAX_ADDRESSES)
    {
      g_set_error_literal (error, MESHARA_ERROR, MESHARA_ERROR_INVALID,
                           "contact record: node_id, bundle, signature or "
                           "addresses of the wrong size");
      return REC_INVALID;
    }
  for (size_t i = 0; i < r->n_addresses; i++)
    if (!address_ok (r->addresses[i]))
      {
        g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID,
                     "contact record: address %" G_GSIZE_FORMAT " is not 1 "
                     "to %d bytes of printable ASCII", i,
                     MESH_WIRE_MAX_ADDRESS_LEN);
        return REC_INVALID;
      }
  size = protobuf_c_message_get_packed_size (&r->base);
  if (size_out)
    *size_out = size;
  if (size > dht->cfg.max_record_size)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_TOO_LARGE,
                   "contact record of %" G_GSIZE_FORMAT " bytes exceeds "
                   "max-record-size %" G_GSIZE_FORMAT, size,
                   dht->cfg.max_record_size);
      return REC_OVERSIZE;
    }
  if (!id_matches_bundle (r->node_id.data, r->bundle.data))
    {
      g_set_error_literal (error, MESHARA_ERROR, MESHARA_ERROR_INVALID,
                           "contact record: node_id is not the SHA-256 of the "
                           "Ed25519 key of a version 1 bundle");
      return REC_FORGED;
    }
  if (r->timestamp_ms == 0 || r->expires_ms <= r->timestamp_ms)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID,
                   "contact record: expires_ms %" G_GUINT64_FORMAT " is not "
                   "after timestamp_ms %" G_GUINT64_FORMAT, r->expires_ms,
                   r->timestamp_ms);
      return REC_BAD_TIME;
    }
  if (r->timestamp_ms > now && r->timestamp_ms - now > dht->cfg.max_future_ms)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_TIMESTAMP,
                   "contact record: timestamp_ms %" G_GUINT64_FORMAT " is %"
                   G_GUINT64_FORMAT " ms ahead of now, limit %" G_GUINT64_FORMAT,
                   r->timestamp_ms, r->timestamp_ms - now,
                   dht->cfg.max_future_ms);
      return REC_BAD_TIME;
    }
  if (r->expires_ms - r->timestamp_ms > dht->cfg.max_record_ttl_ms)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID,
                   "contact record: lifetime of %" G_GUINT64_FORMAT " ms "
                   "exceeds max-record-ttl %" G_GUINT64_FORMAT " ms",
                   r->expires_ms - r->timestamp_ms, dht->cfg.max_record_ttl_ms);
      return REC_BAD_TIME;
    }
  if (r->expires_ms <= now)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_TIMESTAMP,
                   "contact record: expired at %" G_GUINT64_FORMAT ", now %"
                   G_GUINT64_FORMAT, r->expires_ms, now);
      return REC_STALE;
    }
  if (!verify_sig)
    return REC_OK;
  mesh_dht_record_digest (r, digest);
  if (!mesh_ed25519_verify (r->bundle.data + 1, digest, sizeof digest,
                            r->signature.data))
    {
      g_set_error_literal (error, MESHARA_ERROR, MESHARA_ERROR_BAD_SIGNATURE,
                           "contact record: the signature by the bundle's "
                           "Ed25519 key does not verify");
      return REC_FORGED;
    }
  return REC_OK;
}

gboolean
mesh_dht_check_record (const MeshDht *dht, const MeshWireContactRecord *record,
                       uint64_t now_ns, GError **error)
{
  g_return_val_if_fail (dht != NULL && record != NULL, FALSE);
  return record_check (dht, record, now_ns, TRUE, NULL, error) == REC_OK;
}

static void
count_verdict (MeshDht *dht, RecordVerdict v)
{
  switch (v)
    {
    case REC_OK:
      break;
    case REC_OVERSIZE:
      dht->stats.records_oversize++;
      break;
    case REC_FORGED:
    case REC_INVALID:
      dht->stats.records_forged++;
      break;
    case REC_STALE:
      dht->stats.records_stale++;
      break;
    case REC_BAD_TIME:
      dht->stats.records_bad_time++;
      break;
    }
}

/* ---- The record store: linear probing, deletion by backward shift. */

static inline size_t
slot_home (const MeshDht *dht, const uint8_t *id)
{
  return (size_t) mesh_routes_siphash13 (dht->hash_key, id, MESH_DHT_ID_LEN)
         & (dht->cap_slots - 1);
}

/* The slot holding id, or the empty slot where it would go. */
static size_t
slot_find (const MeshDht *dht, const uint8_t *id)
{
  size_t mask = dht->cap_slots - 1;
  size_t i = slot_home (dht, id);

  while (dht->slots[i] && memcmp (dht->slots[i]->node_id, id, MESH_DHT_ID_LEN))
    i = (i + 1) & mask;
  return i;
}

static Record *
store_get (const MeshDht *dht, const uint8_t *id)
{
  if (dht->n_records == 0)
    return NULL;
  return dht->slots[slot_find (dht, id)];
}

static void
store_grow (MeshDht *dht)
{
  Record **old = dht->slots;
  size_t old_cap = dht->cap_slots;

  dht->cap_slots *= 2;
  dht->slots = g_new0 (Record *, dht->cap_slots);
  for (size_t i = 0; i < old_cap; i++)
    if (old[i])
      dht->slots[slot_find (dht, old[i]->node_id)] = old[i];
  g_free (old);
}

static void
store_delete_at (MeshDht *dht, size_t i)
{
  size_t mask = dht->cap_slots - 1;
  size_t j = i;
  Record *r = dht->slots[i];

  dht->n_records--;
  dht->record_bytes -= r->size;
  g_free (r);
  dht->slots[i] = NULL;
  /* Pull later members of the cluster back over the hole when the hole
   * lies on their probe path (between their home and where they sit). */
  for (;;)
    {
      size_t home;

      j = (j + 1) & mask;
      if (dht->slots[j] == NULL)
        break;
      home = slot_home (dht, dht->slots[j]->node_id);
      if (((j - home) & mask) >= ((j - i) & mask))
        {
          dht->slots[i] = dht->slots[j];
          dht->slots[j] = NULL;
          i = j;
        }
    }
}

static size_t
store_soonest_expiring (const MeshDht *dht)
{
  size_t best = SIZE_MAX;

  for (size_t i = 0; i < dht->cap_slots; i++)
    if (dht->slots[i]
        && (best == SIZE_MAX
            || dht->slots[i]->expires_ms < dht->slots[best]->expires_ms))
      best = i;
  return best;
}

/* Hold r (transfer full) for its node, replacing the one held. */
static gboolean
store_put (MeshDht *dht, Record *r)
{
  size_t i = dht->n_records ? slot_find (dht, r->node_id) : SIZE_MAX;

  if (i != SIZE_MAX && dht->slots[i])
    {
      dht->record_bytes -= dht->slots[i]->size;
      g_free (dht->slots[i]);
      dht->slots[i] = r;
      dht->record_bytes += r->size;
      dht->stats.records_replaced++;
    }
  else
    {
      /* Make room: the soonest-expiring records go first, unless the
       * newcomer would be the soonest itself. */
      while (dht->n_records > 0
             && (dht->n_records + 1 > dht->cfg.max_records
                 || dht->record_bytes + r->size > dht->cfg.max_record_bytes))
        {
          size_t victim = store_soonest_expiring (dht);

          dht->stats.records_evicted++;
          if (dht->slots[victim]->expires_ms >= r->expires_ms)
            {
              g_free (r);
              return FALSE;
            }
          store_delete_at (dht, victim);
        }
      if (r->size > dht->cfg.max_record_bytes)
        {
          dht->stats.records_evicted++;
          g_free (r);
          return FALSE;
        }
      if ((dht->n_records + 1) * 2 > dht->cap_slots
          && dht->cap_slots < dht->max_slots)
        store_grow (dht);
      i = slot_find (dht, r->node_id);
      dht->slots[i] = r;
      dht->n_records++;
      dht->record_bytes += r->size;
    }
  if (r->expires_ms < dht->next_expiry_ms)
    dht->next_expiry_ms = r->expires_ms;
  dht->stats.records_accepted++;
  return TRUE;
}

static void
store_expire (MeshDht *dht, uint64_t now_ns)
{
  uint64_t now = wall_ms (dht, now_ns);
  uint64_t next = UINT64_MAX;

  if (now < dht->next_expiry_ms)
    return;
  for (size_t i = 0; i < dht->cap_slots; )
    {
      Record *r = dht->slots[i];

      if (r && r->expires_ms <= now)
        {
          /* The shift may move another record into slot i: look again. */
          store_delete_at (dht, i);
          dht->stats.records_expired++;
          continue;
        }
      if (r && r->expires_ms < next)
        next = r->expires_ms;
      i++;
    }
  dht->next_expiry_ms = next;
}

/* ---------------------------------------------------------------------- */
/* Sending */

static uint8_t *
scratch (uint8_t **buf, size_t *cap, size_t need)
{
  if (*cap < need)
    {
      *cap = MAX (need, MAX (*cap * 2, 4096));
      *buf = g_realloc (*buf, *cap);
    }
  return *buf;
}

static gboolean
send_message (MeshDht *dht, const uint8_t *to, uint32_t type,
              const ProtobufCMessage *payload, uint64_t now_ns)
{
  MeshWireBaseMessage base = MESHARA__V1__BASE_MESSAGE__INIT;
  MeshWireRoutingInfo routing = MESHARA__V1__ROUTING_INFO__INIT;
  uint8_t message_id[MESH_WIRE_ID_LEN];
  size_t plen = protobuf_c_message_get_packed_size (payload);
  size_t flen, written = 0;
  GError *error = NULL;

  scratch (&dht->pbuf, &dht->pcap, plen);
  protobuf_c_message_pack (payload, dht->pbuf);

  routing.hop_count = 0;
  routing.max_hops = dht->cfg.max_hops;
  routing.route_type = MESH_WIRE_ROUTE_ROUTED;
  routing.destination.len = MESH_DHT_ID_LEN;
  routing.destination.data = (uint8_t *) to;

  base.version = MESH_WIRE_PROTOCOL_VERSION;
  base.type = type;
  base.timestamp_ms = wall_ms (dht, now_ns);
  base.sender_public_key.len = MESH_ED25519_KEY_LEN;
  base.sender_public_key.data = dht->self.pub.ed_pub;
  base.payload.len = plen;
  base.payload.data = dht->pbuf;
  base.routing = &routing;
  mesh_wire_compute_message_id (&base, message_id);
  base.message_id.len = sizeof message_id;
  base.message_id.data = message_id;

  flen = mesh_wire_frame_size (&base);
  scratch (&dht->fbuf, &dht->fcap, flen);
  /* DHT messages are a few KiB at most (k <= 32 contacts of bounded
   * size), far under any frame limit. */
  if (!mesh_wire_encode_frame_into (&base, MESH_FRAME_MAX_DEFAULT, dht->fbuf,
                                    dht->fcap, &written, &error))
    {
      g_warning ("DHT %s not sent: %s", mesh_wire_type_name (type),
                 error->message);
      g_error_free (error);
      return FALSE;
    }
  if (!dht->cb.send_to_node (dht->user_data, to, dht->fbuf, written))
    {
      dht->stats.send_failures++;
      return FALSE;
    }
  return TRUE;
}

/* ---------------------------------------------------------------------- */
/* Pending requests */

static void
request_remove_at (MeshDht *dht, size_t i)
{
  dht->reqs[i] = dht->reqs[--dht->n_reqs];
}

static Request *
request_add (MeshDht *dht)
{
  if (dht->n_reqs == dht->max_reqs)
    {
      /* Full only when at least max_lookups * alpha entries belong to
       * ended lookups (live ones and pings have fewer slots than that):
       * drop one of those. */
      for (size_t i = 0; i < dht->n_reqs; i++)
        if (dht->reqs[i].lookup == NULL && dht->reqs[i].ping_bucket < 0)
          {
            request_remove_at (dht, i);
            break;
          }
      g_assert (dht->n_reqs < dht->max_reqs);
    }
  if (dht->n_reqs == dht->cap_reqs)
    {
      dht->cap_reqs = MIN (MAX (dht->cap_reqs * 2, 16), dht->max_reqs);
      dht->reqs = g_renew (Request, dht->reqs, dht->cap_reqs);
    }
  return &dht->reqs[dht->n_reqs++];
}

/* Send a FIND_NODE or FIND_VALUE to node_id and remember it.  FALSE when
 * send_to_node refused (nothing is remembered then). */
static gboolean
request_send (MeshDht *dht, const uint8_t *node_id, MeshDhtLookupKind kind,
              const uint8_t *target, Lookup *lookup, int ping_bucket,
              uint64_t now_ns)
{
  uint64_t nonce = random_nonce (dht);
  gboolean ok;
  Request *r;

  if (kind == MESH_DHT_FIND_VALUE)
    {
      MeshWireFindValue m = MESHARA__V1__FIND_VALUE__INIT;

      m.key.len = MESH_DHT_ID_LEN;
      m.key.data = (uint8_t *) target;
      m.lookup_id = nonce;
      ok = send_message (dht, node_id, MESH_WIRE_TYPE_FIND_VALUE, &m.base,
                         now_ns);
    }
  else
    {
      MeshWireFindNode m = MESHARA__V1__FIND_NODE__INIT;

      m.target.len = MESH_DHT_ID_LEN;
      m.target.data = (uint8_t *) target;
      m.lookup_id = nonce;
      ok = send_message (dht, node_id, MESH_WIRE_TYPE_FIND_NODE, &m.base,
                         now_ns);
    }
  if (!ok)
    return FALSE;
  dht->stats.requests_sent++;
  r = request_add (dht);
  r->nonce = nonce;
  memcpy (r->node_id, node_id, MESH_DHT_ID_LEN);
  r->deadline_ns = now_ns + dht->cfg.request_timeout_ns;
  r->lookup = lookup;
  r->ping_bucket = ping_bucket;
  r->attempt = 0;
  return TRUE;
}

static void lookup_run (MeshDht *dht, Lookup *l, uint64_t now_ns);
static Lookup *lookup_start (MeshDht *dht, MeshDhtLookupKind kind,
                             Purpose purpose, const uint8_t *target,
                             uint64_t now_ns);

/* A request of l ended (answered, or given up). */
static void
lookup_release (Lookup *l, const Request *req)
{
  if (req->attempt == 0)
    l->inflight--;
  else
    l->stalled--;
}

/* A lookup request went unanswered: send it again, with a fresh nonce (a
 * late answer to the old one then only refreshes the contact) and twice
 * the previous wait.  TRUE when it went out and still counts in flight. */
static gboolean
request_resend (MeshDht *dht, const Request *old, uint64_t now_ns)
{
  Lookup *l = old->lookup;
  Request *r;

  if (l == NULL || old->attempt >= dht->cfg.request_retries)
    return FALSE;
  if (!request_send (dht, old->node_id, l->kind, l->target, l, -1, now_ns))
    return FALSE;
  dht->stats.retries++;
  r = &dht->reqs[dht->n_reqs - 1];
  r->attempt = (uint8_t) (old->attempt + 1);
  r->deadline_ns = now_ns + (dht->cfg.request_timeout_ns << r->attempt);
  if (old->attempt == 0)
    {
      /* Stalled: its slot goes to the next candidate, as in Kademlia. */
      l->inflight--;
      l->stalled++;
      lookup_run (dht, l, now_ns);
    }
  return TRUE;
}

/* ---------------------------------------------------------------------- */
/* The routing table */

static Contact *
bucket_find (Bucket *b, const uint8_t *id)
{
  for (uint32_t i = 0; i < b->n; i++)
    if (memcmp (b->entries[i].id, id, MESH_DHT_ID_LEN) == 0)
      return &b->entries[i];
  return NULL;
}

static const Contact *
contact_get (const MeshDht *dht, const uint8_t *id)
{
  int bi = bucket_of (dht, id);

  return bi < 0 ? NULL : bucket_find ((Bucket *) &dht->buckets[bi], id);
}

static void
contact_clear (Contact *c)
{
  g_free (c->addresses);
  c->addresses = NULL;
  c->n_addresses = 0;
}

static void
contact_set_addresses (MeshDht *dht, Contact *c, const char *const *addresses,
                       size_t n)
{
  n = MIN (n, dht->cfg.max_contact_addresses);
  contact_clear (c);
  if (n == 0)
    return;
  c->addresses = strv_pack (addresses, n);
  c->n_addresses = (uint8_t) n;
}

/* Fill c as a new contact. */
static void
contact_init (MeshDht *dht, Contact *c, const uint8_t *id,
              const uint8_t *bundle, gboolean trusted,
              const char *const *addresses, size_t n_addresses)
{
  memset (c, 0, sizeof *c);
  memcpy (c->id, id, MESH_DHT_ID_LEN);
  c->seen_seq = ++dht->seen_seq;
  if (bundle)
    {
      memcpy (c->bundle, bundle, MESH_BUNDLE_LEN);
      c->has_bundle = 1;
      c->bundle_trusted = trusted ? 1 : 0;
    }
  if (addresses && n_addresses)
    contact_set_addresses (dht, c, addresses, n_addresses);
}

static void
bucket_insert (MeshDht *dht, Bucket *b, const Contact *c)
{
  int bi = (int) (b - dht->buckets);

  if (b->entries == NULL)
    b->entries = g_new (Contact, dht->cfg.k);
  g_assert (b->n < dht->cfg.k);
  b->entries[b->n++] = *c;
  dht->n_contacts++;
  dht->deepest = MAX (dht->deepest, bi);
}

static void
bucket_remove (MeshDht *dht, Bucket *b, Contact *c)
{
  contact_clear (c);
  *c = b->entries[--b->n];
  dht->n_contacts--;
  while (dht->deepest >= 0 && dht->buckets[dht->deepest].n == 0)
    dht->deepest--;
}

/* The newcomer waiting on b takes the place of c (NULL: a free slot). */
static void
bucket_admit_waiting (MeshDht *dht, Bucket *b, Contact *c)
{
  if (c)
    {
      bucket_remove (dht, b, c);
      dht->stats.contacts_evicted++;
    }
  if (b->waiting)
    {
      bucket_insert (dht, b, b->waiting);
      g_clear_pointer (&b->waiting, g_free);
    }
}

static Contact *
bucket_least_recent (Bucket *b, gboolean failed_only)
{
  Contact *best = NULL;

  for (uint32_t i = 0; i < b->n; i++)
    {
      Contact *c = &b->entries[i];

      if (failed_only && c->fails == 0)
        continue;
      if (best == NULL || (failed_only && c->fails > best->fails)
          || ((!failed_only || c->fails == best->fails)
              && c->seen_seq < best->seen_seq))
        best = c;
    }
  return best;
}

typedef enum {
  SEEN_REQUEST,   /* it asked us something: unauthenticated claim */
  SEEN_REPLY,     /* it answered a request of ours */
  SEEN_CALLER,    /* the caller vouches for it */
} SeenHow;

/* Record that node id is alive.  Returns its contact, or NULL when it is
 * not (or not yet) in the table. */
static Contact *
contact_seen (MeshDht *dht, const uint8_t *id, const uint8_t *bundle,
              gboolean trusted, const char *const *addresses,
              size_t n_addresses, SeenHow how, uint64_t now_ns)
{
  int bi = bucket_of (dht, id);
  Contact fresh, *c, *lrs;
  Bucket *b;

  if (bi < 0)
    return NULL;
  b = &dht->buckets[bi];
  c = bucket_find (b, id);
  if (c)
    {
      c->seen_seq = ++dht->seen_seq;
      /* A request in its name proves nothing when routed: only a reply
       * or the caller clears failures. */
      if (how != SEEN_REQUEST)
        c->fails = 0;
      /* A bundle from a trusted source replaces a hint; a hint only
       * fills a gap. */
      if (bundle && (!c->has_bundle || (trusted && !c->bundle_trusted)))
        {
          memcpy (c->bundle, bundle, MESH_BUNDLE_LEN);
          c->has_bundle = 1;
          c->bundle_trusted = trusted ? 1 : 0;
        }
      if (addresses && n_addresses && (trusted || c->n_addresses == 0))
        contact_set_addresses (dht, c, addresses, n_addresses);
      return c;
    }

  if (b->n < dht->cfg.k)
    {
      contact_init (dht, &fresh, id, bundle, trusted, addresses,
                    n_addresses);
      bucket_insert (dht, b, &fresh);
      return &b->entries[b->n - 1];
    }
  if (how == SEEN_REQUEST)
    return NULL;

  /* Full.  A contact that failed its last request gives way at once. */
  lrs = bucket_least_recent (b, TRUE);
  if (lrs)
    {
      bucket_remove (dht, b, lrs);
      dht->stats.contacts_evicted++;
      contact_init (dht, &fresh, id, bundle, trusted, addresses,
                    n_addresses);
      bucket_insert (dht, b, &fresh);
      return &b->entries[b->n - 1];
    }

  /* Otherwise the newcomer waits while the least recently seen is asked
   * whether it is still there; a later newcomer takes the waiting place
   * (it is the more recently seen). */
  if (b->waiting)
    contact_clear (b->waiting);
  else
    b->waiting = g_new (Contact, 1);
  contact_init (dht, b->waiting, id, bundle, trusted, addresses, n_addresses);
  if (b->ping_nonce == 0)
    {
      lrs = bucket_least_recent (b, FALSE);
      if (request_send (dht, lrs->id, MESH_DHT_FIND_NODE,
                        dht->self.pub.node_id, NULL, bi, now_ns))
        b->ping_nonce = dht->reqs[dht->n_reqs - 1].nonce;
      else
        bucket_admit_waiting (dht, b, lrs);
    }
  return NULL;
}

static void
contact_trust_bundle (MeshDht *dht, const uint8_t *id, const uint8_t *bundle)
{
  int bi = bucket_of (dht, id);
  Contact *c = bi < 0 ? NULL : bucket_find (&dht->buckets[bi], id);

  if (c && !c->bundle_trusted)
    {
      memcpy (c->bundle, bundle, MESH_BUNDLE_LEN);
      c->has_bundle = 1;
      c->bundle_trusted = 1;
    }
}

/* A request to id got no answer. */
static void
contact_failed (MeshDht *dht, const uint8_t *id)
{
  int bi = bucket_of (dht, id);
  Contact *c;
  Bucket *b;

  if (bi < 0)
    return;
  b = &dht->buckets[bi];
  c = bucket_find (b, id);
  if (c == NULL)
    return;
  if (c->fails < UINT8_MAX)
    c->fails++;
  if (c->fails >= MAX_FAILS)
    bucket_admit_waiting (dht, b, c);
}

static inline int
deepest_bucket (const MeshDht *dht)
{
  return dht->deepest;
}

/* Up to want contacts closest to target, sorted, skipping exclude (may be
 * NULL) and, with need_bundle, contacts without a bundle. */
static size_t
closest_contacts (const MeshDht *dht, const uint8_t *target,
                  const uint8_t *exclude, gboolean need_bundle,
                  const Contact **out, size_t want)
{
  int tb = common_prefix (dht->self.pub.node_id, target);
  size_t n = 0;

  /* Buckets tb..255 hold every contact closer to target than any in
   * bucket tb - 1, which in turn beats tb - 2, and so on. */
  for (int pass = 0, bi = tb; bi >= 0; pass++)
    {
      int lo = pass == 0 ? tb : bi, hi = pass == 0 ? dht->deepest : bi;

      if (pass > 0 && n == want)
        break;
      for (int j = lo; j <= hi; j++)
        {
          const Bucket *b = &dht->buckets[j];

          for (uint32_t e = 0; e < b->n; e++)
            {
              const Contact *c = &b->entries[e];
              size_t pos;

              if (need_bundle && !c->has_bundle)
                continue;
              if (exclude && memcmp (c->id, exclude, MESH_DHT_ID_LEN) == 0)
                continue;
              pos = n;
              while (pos > 0 && xor_cmp (c->id, out[pos - 1]->id, target) < 0)
                pos--;
              if (pos >= want)
                continue;
              if (n < want)
                n++;
              memmove (out + pos + 1, out + pos, (n - 1 - pos) * sizeof *out);
              out[pos] = c;
            }
        }
      bi = pass == 0 ? MIN (tb - 1, dht->deepest) : bi - 1;
    }
  return n;
}

/* ---------------------------------------------------------------------- */
/* Lookups */

static uint64_t
refresh_after (const MeshDht *dht, uint64_t now_ns)
{
  return dht->cfg.refresh_interval_ns ? now_ns + dht->cfg.refresh_interval_ns
                                      : UINT64_MAX;
}

static Lookup *
lookup_find (const MeshDht *dht, MeshDhtLookupKind kind, Purpose purpose,
             const uint8_t *target)
{
  for (uint32_t i = 0; i < dht->n_lookups; i++)
    {
      Lookup *l = dht->lookups[i];

      if (l->kind == kind && l->purpose == purpose
          && memcmp (l->target, target, MESH_DHT_ID_LEN) == 0)
        return l;
    }
  return NULL;
}

static Cand *
cand_find (Lookup *l, const uint8_t *id)
{
  for (uint32_t i = 0; i < l->n; i++)
    if (memcmp (l->cands[i].id, id, MESH_DHT_ID_LEN) == 0)
      return &l->cands[i];
  return NULL;
}

static inline uint8_t *
cand_bundle (Lookup *l, const Cand *c)
{
  return c->has_bundle ? l->bundles[c->slot] : NULL;
}

/* Where id would go in the shortlist, or -1 when it is there already or
 * farther than a full list reaches. */
static int
cand_position (const Lookup *l, const uint8_t *id)
{
  uint32_t pos = l->n;

  while (pos > 0)
    {
      int d = xor_cmp (id, l->cands[pos - 1].id, l->target);

      /* Equal distance means equal ID. */
      if (d == 0)
        return -1;
      if (d > 0)
        break;
      pos--;
    }
  return pos < l->cap ? (int) pos : -1;
}

static void
cand_insert_at (Lookup *l, uint32_t pos, const uint8_t *id,
                const uint8_t *bundle, uint32_t depth)
{
  uint8_t slot;
  Cand *c;

  /* Slots 0 .. n-1 are in use until the list is full; from then on a
   * newcomer takes the slot of the farthest, which goes. */
  if (l->n == l->cap)
    slot = l->cands[--l->n].slot;
  else
    slot = (uint8_t) l->n;
  memmove (&l->cands[pos + 1], &l->cands[pos], (l->n - pos) * sizeof (Cand));
  l->n++;
  c = &l->cands[pos];
  memcpy (c->id, id, MESH_DHT_ID_LEN);
  c->state = CAND_NEW;
  c->depth = (uint8_t) MIN (depth, UINT8_MAX);
  c->slot = slot;
  c->has_bundle = bundle != NULL;
  if (bundle)
    memcpy (l->bundles[slot], bundle, MESH_BUNDLE_LEN);
}

static void
cand_insert (Lookup *l, const uint8_t *id, const uint8_t *bundle,
             uint32_t depth)
{
  int pos = cand_position (l, id);

  if (pos >= 0)
    cand_insert_at (l, (uint32_t) pos, id, bundle, depth);
}

/* Send requests while fewer than alpha are in flight and one of the k
 * closest candidates that did not fail is still unasked.  TRUE when the
 * lookup is over: nothing in flight and nothing left to ask. */
static gboolean
lookup_step (MeshDht *dht, Lookup *l, uint64_t now_ns)
{
  while (l->inflight < dht->cfg.alpha)
    {
      Cand *next = NULL;
      uint32_t live = 0;

      for (uint32_t i = 0; i < l->n && live < dht->cfg.k; i++)
        {
          if (l->cands[i].state == CAND_FAILED)
            continue;
          live++;
          if (l->cands[i].state == CAND_NEW)
            {
              next = &l->cands[i];
              break;
            }
        }
      if (next == NULL)
        break;
      if (request_send (dht, next->id, l->kind, l->target, l, -1, now_ns))
        {
          next->state = CAND_WAITING;
          l->inflight++;
        }
      else
        {
          next->state = CAND_FAILED;
          contact_failed (dht, next->id);
        }
    }
  return l->inflight == 0 && l->stalled == 0;
}

static void
lookup_detach (MeshDht *dht, Lookup *l)
{
  for (uint32_t i = 0; i < dht->n_lookups; i++)
    if (dht->lookups[i] == l)
      {
        dht->lookups[i] = dht->lookups[--dht->n_lookups];
        break;
      }
  /* Replies still on their way refresh contacts, nothing more. */
  for (size_t i = 0; i < dht->n_reqs; i++)
    if (dht->reqs[i].lookup == l)
      dht->reqs[i].lookup = NULL;
}

static void
store_own_record (MeshDht *dht, Lookup *l, uint64_t now_ns)
{
  MeshWireContactRecord rec;
  MeshWireStore m = MESHARA__V1__STORE__INIT;
  uint32_t sent = 0;

  if (dht->own == NULL)
    return;
  record_to_wire (dht->own, &rec);
  m.record = &rec;
  for (uint32_t i = 0; i < l->n && sent < dht->cfg.k; i++)
    if (l->cands[i].state == CAND_ANSWERED)
      {
        if (send_message (dht, l->cands[i].id, MESH_WIRE_TYPE_STORE, &m.base,
                          now_ns))
          dht->stats.stores_sent++;
        sent++;
      }
  /* Nobody answered (a join over a lossy first link, say): try again
   * soon, then less and less often. */
  if (sent == 0)
    {
      uint64_t wait = dht->cfg.request_timeout_ns
                      << MIN (dht->publish_failures, 6);

      dht->publish_failures++;
      dht->next_publish_ns = now_ns + MIN (MIN (dht->republish_ns,
                                                PUBLISH_RETRY_NS), wait);
    }
  else
    dht->publish_failures = 0;
}

static const Cand *
closest_answered (const Lookup *l)
{
  for (uint32_t i = 0; i < l->n; i++)
    if (l->cands[i].state == CAND_ANSWERED)
      return &l->cands[i];
  return NULL;
}

/* End l: report, store, or just forget, then free it.  found is the
 * verified record result, or NULL to look for the target among the
 * candidates that answered. */
static void
lookup_finish (MeshDht *dht, Lookup *l, const MeshDhtResult *found,
               uint32_t hops, uint64_t now_ns)
{
  MeshDhtResult fallback;
  MeshPublicBundle bundle;
  const MeshDhtResult *result = found;
  char **addresses = NULL;

  lookup_detach (dht, l);

  /* A record lookup that found nothing goes once more over the table, which
   * the first pass refreshed: on lossy paths every try of the few nodes
   * holding the record can fail in one pass, rarely in two. */
  if (l->purpose == PURPOSE_USER && l->kind == MESH_DHT_FIND_VALUE
      && found == NULL && l->pass == 0
      && !(l->n > 0 && l->cands[0].state == CAND_ANSWERED
           && memcmp (l->cands[0].id, l->target, MESH_DHT_ID_LEN) == 0))
    {
      Lookup *again = lookup_start (dht, l->kind, l->purpose, l->target,
                                    now_ns);

      if (again != NULL)
        {
          dht->stats.lookups_started--;   /* one user lookup, two passes */
          dht->stats.lookup_repeats++;
          again->pass = 1;
          again->start_ns = l->start_ns;
          g_free (l);
          lookup_run (dht, again, now_ns);
          return;
        }
    }
  dht->stats.lookups_done++;

  /* After a join (a lookup of our own ID: the first publication, or one
   * the caller asked for), the buckets farther than our closest
   * neighbour get filled at once, as the Kademlia paper has it, not one
   * refresh interval later: the join itself only met nodes near us. */
  if (l->kind == MESH_DHT_FIND_NODE
      && (l->purpose == PURPOSE_USER || !dht->joined)
      && memcmp (l->target, dht->self.pub.node_id, MESH_DHT_ID_LEN) == 0
      && closest_answered (l) != NULL)
    {
      int deepest = deepest_bucket (dht);

      for (int i = 0; i < deepest; i++)
        dht->buckets[i].refresh_ns = now_ns;
      dht->joined = TRUE;
    }

  if (l->purpose == PURPOSE_PUBLISH)
    store_own_record (dht, l, now_ns);
  else if (l->purpose == PURPOSE_USER)
    {
      if (result == NULL)
        {
          const Cand *closest = closest_answered (l);

          hops = closest ? closest->depth : 0;
          /* The target itself answered: its bundle is the answer, once
           * its binding signature checks out. */
          if (l->n > 0 && l->cands[0].state == CAND_ANSWERED
              && memcmp (l->cands[0].id, l->target, MESH_DHT_ID_LEN) == 0)
            {
              const Contact *c = contact_get (dht, l->target);
              const uint8_t *b = c && c->has_bundle ? c->bundle
                                 : cand_bundle (l, &l->cands[0]);

              if (b && mesh_bundle_parse (&bundle, b, MESH_BUNDLE_LEN, NULL)
                  && memcmp (bundle.node_id, l->target, MESH_DHT_ID_LEN) == 0)
                {
                  memset (&fallback, 0, sizeof fallback);
                  fallback.node_id = l->target;
                  fallback.bundle = &bundle;
                  /* A copy: the callback may change the table. */
                  if (c && c->n_addresses)
                    {
                      addresses = strv_pack ((const char *const *) c->addresses,
                                             c->n_addresses);
                      fallback.addresses = (const char *const *) addresses;
                      fallback.n_addresses = c->n_addresses;
                    }
                  fallback.from_record = FALSE;
                  result = &fallback;
                  hops = l->cands[0].depth;
                }
            }
        }
      if (result)
        dht->stats.lookups_found++;
      if (dht->cb.lookup_done)
        dht->cb.lookup_done (dht->user_data, l->kind, l->target, result, hops,
                             now_ns - l->start_ns);
    }
  g_free (addresses);
  g_free (l);
}

/* Start a lookup seeded with our closest contacts.  NULL when all slots
 * are taken.  The caller runs lookup_step and handles an immediate end. */
static Lookup *
lookup_start (MeshDht *dht, MeshDhtLookupKind kind, Purpose purpose,
              const uint8_t *target, uint64_t now_ns)
{
  const Contact *seed[MESH_DHT_MAX_K];
  uint32_t cap = dht->cfg.k * SHORTLIST_FACTOR;
  size_t n;
  Lookup *l;
  int bi;

  if (dht->n_lookups >= dht->cfg.max_lookups)
    return NULL;
  l = g_malloc (sizeof (Lookup) + cap * (sizeof (Cand) + MESH_BUNDLE_LEN));
  l->bundles = (uint8_t (*)[MESH_BUNDLE_LEN]) (l->cands + cap);
  l->kind = kind;
  l->purpose = purpose;
  memcpy (l->target, target, MESH_DHT_ID_LEN);
  l->start_ns = now_ns;
  l->pass = 0;
  l->inflight = 0;
  l->stalled = 0;
  l->n = 0;
  l->cap = cap;
  n = closest_contacts (dht, target, NULL, FALSE, seed, dht->cfg.k);
  for (size_t i = 0; i < n; i++)
    cand_insert (l, seed[i]->id, seed[i]->has_bundle ? seed[i]->bundle : NULL,
                 1);
  dht->lookups[dht->n_lookups++] = l;
  dht->stats.lookups_started++;
  bi = bucket_of (dht, target);
  if (bi >= 0)
    dht->buckets[bi].refresh_ns = refresh_after (dht, now_ns);
  return l;
}

static void
lookup_run (MeshDht *dht, Lookup *l, uint64_t now_ns)
{
  if (lookup_step (dht, l, now_ns))
    lookup_finish (dht, l, NULL, 0, now_ns);
}

/* Report a record held here (ours or another's) at once. */
static gboolean
answer_locally (MeshDht *dht, const uint8_t *target, uint64_t now_ns)
{
  const Record *held;
  Record *r;
  MeshPublicBundle bundle;
  MeshDhtResult res;

  if (memcmp (target, dht->self.pub.node_id, MESH_DHT_ID_LEN) == 0)
    held = dht->own;
  else
    held = store_get (dht, target);
  if (held == NULL || held->expires_ms <= wall_ms (dht, now_ns)
      || !mesh_bundle_parse (&bundle, held->bundle, MESH_BUNDLE_LEN, NULL))
    return FALSE;
  /* A copy: the callback may publish again, replacing ours. */
  r = record_new (held->node_id, held->bundle, held->signature,
                  held->timestamp_ms, held->expires_ms,
                  (const char *const *) held->addresses, held->n_addresses);
  memset (&res, 0, sizeof res);
  res.node_id = r->node_id;
  res.bundle = &bundle;
  res.addresses = (const char *const *) r->addresses;
  res.n_addresses = r->n_addresses;
  res.from_record = TRUE;
  res.timestamp_ms = r->timestamp_ms;
  res.expires_ms = r->expires_ms;
  dht->stats.lookups_started++;
  dht->stats.lookups_done++;
  dht->stats.lookups_found++;
  if (dht->cb.lookup_done)
    dht->cb.lookup_done (dht->user_data, MESH_DHT_FIND_VALUE, r->node_id,
                         &res, 0, 0);
  g_free (r);
  return TRUE;
}

static gboolean
user_lookup (MeshDht *dht, MeshDhtLookupKind kind, const uint8_t *target,
             uint64_t now_ns, GError **error)
{
  Lookup *l;

  if (lookup_find (dht, kind, PURPOSE_USER, target))
    return TRUE;
  if (kind == MESH_DHT_FIND_VALUE && answer_locally (dht, target, now_ns))
    return TRUE;
  l = lookup_start (dht, kind, PURPOSE_USER, target, now_ns);
  if (l == NULL)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_EXHAUSTED,
                   "DHT lookup not started: %" G_GUINT32_FORMAT " lookups "
                   "already running (max-lookups)", dht->n_lookups);
      return FALSE;
    }
  lookup_run (dht, l, now_ns);
  return TRUE;
}

gboolean
mesh_dht_lookup (MeshDht *dht, const uint8_t *target, uint64_t now_ns,
                 GError **error)
{
  g_return_val_if_fail (dht != NULL && target != NULL, FALSE);
  return user_lookup (dht, MESH_DHT_FIND_VALUE, target, now_ns, error);
}

gboolean
mesh_dht_find_node (MeshDht *dht, const uint8_t *target, uint64_t now_ns,
                    GError **error)
{
  g_return_val_if_fail (dht != NULL && target != NULL, FALSE);
  return user_lookup (dht, MESH_DHT_FIND_NODE, target, now_ns, error);
}

/* ---------------------------------------------------------------------- */
/* Publication */

static void
sign_own_record (MeshDht *dht, uint64_t now_ns)
{
  uint64_t ts = wall_ms (dht, now_ns);
  uint8_t bundle[MESH_BUNDLE_LEN];
  uint8_t digest[MESH_SHA256_LEN];
  uint8_t sig[MESH_ED25519_SIG_LEN];
  size_t n = g_strv_length (dht->addresses);

  /* Strictly newer than the last one, so holders take it even within
   * the same millisecond. */
  if (dht->own && ts <= dht->own->timestamp_ms)
    ts = dht->own->timestamp_ms + 1;
  mesh_bundle_serialize (&dht->self.pub, bundle);
  record_digest (dht->self.pub.node_id, bundle, ts, ts + dht->cfg.record_ttl_ms,
                 (const char *const *) dht->addresses, n, digest);
  mesh_identity_sign (&dht->self, digest, sizeof digest, sig);
  g_free (dht->own);
  dht->own = record_new (dht->self.pub.node_id, bundle, sig, ts,
                         ts + dht->cfg.record_ttl_ms,
                         (const char *const *) dht->addresses, n);
}

gboolean
mesh_dht_publish_self (MeshDht *dht, uint64_t now_ns, GError **error)
{
  Lookup *l;

  g_return_val_if_fail (dht != NULL, FALSE);

  sign_own_record (dht, now_ns);
  dht->next_publish_ns = now_ns + dht->republish_ns;
  /* A publication under way stores the record current when it ends. */
  if (lookup_find (dht, MESH_DHT_FIND_NODE, PURPOSE_PUBLISH,
                   dht->self.pub.node_id))
    return TRUE;
  l = lookup_start (dht, MESH_DHT_FIND_NODE, PURPOSE_PUBLISH,
                    dht->self.pub.node_id, now_ns);
  if (l == NULL)
    {
      dht->next_publish_ns = now_ns + dht->cfg.request_timeout_ns;
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_EXHAUSTED,
                   "DHT record not published: %" G_GUINT32_FORMAT " lookups "
                   "already running (max-lookups); retrying", dht->n_lookups);
      return FALSE;
    }
  lookup_run (dht, l, now_ns);
  return TRUE;
}

gboolean
mesh_dht_set_addresses (MeshDht *dht, const char *const *addresses,
                        uint64_t now_ns, GError **error)
{
  g_return_val_if_fail (dht != NULL, FALSE);

  if (!check_addresses (addresses, error))
    return FALSE;
  g_free (dht->addresses);
  dht->addresses = strv_pack (addresses,
                              addresses ? g_strv_length ((char **) addresses) : 0);
  return mesh_dht_publish_self (dht, now_ns, error);
}

/* ---------------------------------------------------------------------- */
/* Incoming messages */

static gboolean
fail_invalid (MeshDht *dht, GError **error, const char *format, ...)
  G_GNUC_PRINTF (3, 4);

static gboolean
fail_invalid (MeshDht *dht, GError **error, const char *format, ...)
{
  va_list ap;

  dht->stats.invalid++;
  if (error)
    {
      va_start (ap, format);
      *error = g_error_new_valist (MESHARA_ERROR, MESHARA_ERROR_INVALID,
                                   format, ap);
      va_end (ap);
    }
  return FALSE;
}

static void
reply_nodes (MeshDht *dht, const uint8_t *to, uint64_t lookup_id,
             const uint8_t *target, const Record *record, uint64_t now_ns)
{
  MeshWireNodes m = MESHARA__V1__NODES__INIT;
  MeshWireNodeInfo infos[MESH_DHT_MAX_K];
  MeshWireNodeInfo *ptrs[MESH_DHT_MAX_K];
  const Contact *close[MESH_DHT_MAX_K];
  MeshWireContactRecord rec;
  size_t n = 0;

  m.lookup_id = lookup_id;
  if (record)
    {
      record_to_wire (record, &rec);
      m.record = &rec;
    }
  else
    {
      /* The requester knows itself: it is not worth a place. */
      n = closest_contacts (dht, target, to, TRUE, close, dht->cfg.k);
      for (size_t i = 0; i < n; i++)
        {
          meshara__v1__node_info__init (&infos[i]);
          infos[i].node_id.len = MESH_DHT_ID_LEN;
          infos[i].node_id.data = (uint8_t *) close[i]->id;
          infos[i].bundle.len = MESH_BUNDLE_LEN;
          infos[i].bundle.data = (uint8_t *) close[i]->bundle;
          infos[i].n_addresses = close[i]->n_addresses;
          infos[i].addresses = close[i]->addresses;
          ptrs[i] = &infos[i];
        }
      m.n_nodes = n;
      m.nodes = ptrs;
    }
  send_message (dht, to, MESH_WIRE_TYPE_NODES, &m.base, now_ns);
}

static void
receive_request (MeshDht *dht, const uint8_t *from, const uint8_t *target,
                 uint64_t lookup_id, gboolean find_value, uint64_t now_ns)
{
  const Record *record = NULL;

  dht->stats.requests_received++;
  contact_seen (dht, from, NULL, FALSE, NULL, 0, SEEN_REQUEST, now_ns);
  if (find_value)
    {
      if (memcmp (target, dht->self.pub.node_id, MESH_DHT_ID_LEN) == 0)
        record = dht->own;
      else
        record = store_get (dht, target);
      if (record && record->expires_ms <= wall_ms (dht, now_ns))
        record = NULL;
    }
  reply_nodes (dht, from, lookup_id, target, record, now_ns);
}

static gboolean
receive_store (MeshDht *dht, const MeshWireStore *m, uint64_t now_ns,
               GError **error)
{
  const MeshWireContactRecord *r = m->record;
  RecordVerdict v;
  const Record *held;
  size_t size = 0;

  if (r == NULL)
    return fail_invalid (dht, error, "Store without a record");
  v = record_check (dht, r, now_ns, FALSE, &size, error);
  if (v == REC_OK)
    {
      /* Ours is ours to sign: copies held elsewhere are not our business. */
      if (memcmp (r->node_id.data, dht->self.pub.node_id, MESH_DHT_ID_LEN) == 0)
        return TRUE;
      held = store_get (dht, r->node_id.data);
      if (held && held->timestamp_ms >= r->timestamp_ms)
        {
          dht->stats.records_stale++;
          return TRUE;
        }
      v = record_check (dht, r, now_ns, TRUE, NULL, error);
    }
  count_verdict (dht, v);
  if (v == REC_STALE)
    {
      g_clear_error (error);
      return TRUE;
    }
  if (v != REC_OK)
    return FALSE;
  store_put (dht, record_new (r->node_id.data, r->bundle.data,
                              r->signature.data, r->timestamp_ms,
                              r->expires_ms, (const char *const *) r->addresses,
                              r->n_addresses));
  /* The record's signature covers its bundle: a trusted one for the
   * contact, if we have it (which says nothing about it being alive). */
  contact_trust_bundle (dht, r->node_id.data, r->bundle.data);
  return TRUE;
}

static gboolean
receive_nodes (MeshDht *dht, const uint8_t *from, const MeshWireNodes *m,
               uint64_t now_ns, GError **error)
{
  Request req;
  Lookup *l;
  Cand *cand;
  size_t i;
  uint32_t depth;
  gboolean bad = FALSE;
  const uint8_t *hint = NULL;

  for (i = 0; i < dht->n_reqs; i++)
    if (dht->reqs[i].nonce == m->lookup_id
        && memcmp (dht->reqs[i].node_id, from, MESH_DHT_ID_LEN) == 0)
      break;
  if (i == dht->n_reqs)
    {
      dht->stats.unsolicited++;
      return TRUE;
    }
  req = dht->reqs[i];
  request_remove_at (dht, i);
  dht->stats.replies_received++;
  l = req.lookup;
  cand = l ? cand_find (l, from) : NULL;
  if (l)
    lookup_release (l, &req);
  if (cand && cand->state == CAND_WAITING)
    cand->state = CAND_ANSWERED;
  if (cand)
    hint = cand_bundle (l, cand);

  if (req.ping_bucket >= 0)
    {
      Bucket *b = &dht->buckets[req.ping_bucket];

      /* The old contact is alive: it stays, the newcomer goes. */
      if (b->ping_nonce == req.nonce)
        {
          b->ping_nonce = 0;
          if (b->waiting)
            {
              contact_clear (b->waiting);
              g_clear_pointer (&b->waiting, g_free);
            }
        }
    }
  contact_seen (dht, from, hint, FALSE, NULL, 0, SEEN_REPLY, now_ns);
  if (l == NULL)
    return TRUE;

  if (m->record && l->kind == MESH_DHT_FIND_VALUE)
    {
      const MeshWireContactRecord *r = m->record;
      MeshPublicBundle bundle;
      MeshDhtResult res;
      RecordVerdict v;
      GError *local = NULL;

      if (r->node_id.len != MESH_DHT_ID_LEN
          || memcmp (r->node_id.data, l->target, MESH_DHT_ID_LEN) != 0)
        {
          v = REC_FORGED;
          g_set_error_literal (&local, MESHARA_ERROR, MESHARA_ERROR_INVALID,
                               "Nodes: record of another node than the key "
                               "asked for");
        }
      else
        v = record_check (dht, r, now_ns, TRUE, NULL, &local);
      if (v == REC_OK
          && !mesh_bundle_parse (&bundle, r->bundle.data, r->bundle.len, &local))
        v = REC_FORGED;
      if (v == REC_OK)
        {
          memset (&res, 0, sizeof res);
          res.node_id = l->target;
          res.bundle = &bundle;
          res.addresses = (const char *const *) r->addresses;
          res.n_addresses = r->n_addresses;
          res.from_record = TRUE;
          res.timestamp_ms = r->timestamp_ms;
          res.expires_ms = r->expires_ms;
          lookup_finish (dht, l, &res, cand ? cand->depth : 1, now_ns);
          return TRUE;
        }
      count_verdict (dht, v);
      if (v != REC_STALE)
        {
          bad = TRUE;
          dht->stats.invalid++;
          g_propagate_error (error, local);
        }
      else
        g_error_free (local);
    }

  depth = (cand ? cand->depth : 1) + 1;
  for (i = 0; i < m->n_nodes; i++)
    {
      const MeshWireNodeInfo *ni = m->nodes[i];
      int pos;

      if (ni->node_id.len != MESH_DHT_ID_LEN
          || ni->bundle.len != MESH_BUNDLE_LEN)
        {
          if (!bad)
            fail_invalid (dht, error, "Nodes.nodes[%" G_GSIZE_FORMAT "]: "
                          "node_id or bundle of the wrong size", i);
          bad = TRUE;
          continue;
        }
      if (memcmp (ni->node_id.data, dht->self.pub.node_id, MESH_DHT_ID_LEN) == 0)
        continue;
      /* Most entries late in a lookup are known or too far: only one
       * that joins the shortlist is worth its hash check. */
      pos = cand_position (l, ni->node_id.data);
      if (pos < 0)
        continue;
      if (!id_matches_bundle (ni->node_id.data, ni->bundle.data))
        {
          if (!bad)
            fail_invalid (dht, error, "Nodes.nodes[%" G_GSIZE_FORMAT "]: "
                          "node_id is not the SHA-256 of the bundle's key", i);
          bad = TRUE;
          continue;
        }
      cand_insert_at (l, (uint32_t) pos, ni->node_id.data, ni->bundle.data,
                      depth);
    }
  lookup_run (dht, l, now_ns);
  return !bad;
}

gboolean
mesh_dht_handles_type (uint32_t type)
{
  return type == MESH_WIRE_TYPE_FIND_NODE || type == MESH_WIRE_TYPE_FIND_VALUE
         || type == MESH_WIRE_TYPE_STORE || type == MESH_WIRE_TYPE_NODES;
}

gboolean
mesh_dht_receive (MeshDht *dht, const uint8_t *from_node_id,
                  const MeshWireBaseMessage *base,
                  const ProtobufCMessage *payload, uint64_t now_ns,
                  GError **error)
{
  const ProtobufCMessageDescriptor *want;

  g_return_val_if_fail (dht != NULL && from_node_id != NULL, FALSE);
  g_return_val_if_fail (base != NULL && payload != NULL, FALSE);

  switch (base->type)
    {
    case MESH_WIRE_TYPE_FIND_NODE:
      want = &meshara__v1__find_node__descriptor;
      break;
    case MESH_WIRE_TYPE_FIND_VALUE:
      want = &meshara__v1__find_value__descriptor;
      break;
    case MESH_WIRE_TYPE_STORE:
      want = &meshara__v1__store__descriptor;
      break;
    case MESH_WIRE_TYPE_NODES:
      want = &meshara__v1__nodes__descriptor;
      break;
    default:
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
                   "%s is not a DHT message", mesh_wire_type_name (base->type));
      return FALSE;
    }
  if (payload->descriptor != want)
    return fail_invalid (dht, error, "%s payload is a %s",
                         mesh_wire_type_name (base->type),
                         payload->descriptor->short_name);
  if (base->sender_public_key.len != 0)
    {
      uint8_t id[MESH_DHT_ID_LEN];

      if (base->sender_public_key.len != MESH_ED25519_KEY_LEN)
        return fail_invalid (dht, error, "%s: sender key of %" G_GSIZE_FORMAT
                             " bytes", mesh_wire_type_name (base->type),
                             base->sender_public_key.len);
      mesh_node_id (base->sender_public_key.data, id);
      if (memcmp (id, from_node_id, MESH_DHT_ID_LEN) != 0)
        return fail_invalid (dht, error, "%s: the sender key is not the one "
                             "of the node it came from",
                             mesh_wire_type_name (base->type));
    }
  if (memcmp (from_node_id, dht->self.pub.node_id, MESH_DHT_ID_LEN) == 0)
    return fail_invalid (dht, error, "%s claims to come from this node",
                         mesh_wire_type_name (base->type));

  switch (base->type)
    {
    case MESH_WIRE_TYPE_FIND_NODE:
      {
        const MeshWireFindNode *m = (const MeshWireFindNode *) payload;

        if (m->target.len != MESH_DHT_ID_LEN)
          return fail_invalid (dht, error, "FindNode.target of %"
                               G_GSIZE_FORMAT " bytes", m->target.len);
        receive_request (dht, from_node_id, m->target.data, m->lookup_id,
                         FALSE, now_ns);
        return TRUE;
      }
    case MESH_WIRE_TYPE_FIND_VALUE:
      {
        const MeshWireFindValue *m = (const MeshWireFindValue *) payload;

        if (m->key.len != MESH_DHT_ID_LEN)
          return fail_invalid (dht, error, "FindValue.key of %"
                               G_GSIZE_FORMAT " bytes", m->key.len);
        receive_request (dht, from_node_id, m->key.data, m->lookup_id, TRUE,
                         now_ns);
        return TRUE;
      }
    case MESH_WIRE_TYPE_STORE:
      return receive_store (dht, (const MeshWireStore *) payload, now_ns, error);
    default:
      return receive_nodes (dht, from_node_id, (const MeshWireNodes *) payload,
                            now_ns, error);
    }
}

/* ---------------------------------------------------------------------- */
/* Timers */

static uint64_t
refresh_due (const MeshDht *dht)
{
  uint64_t due = UINT64_MAX;
  int deepest;

  /* Buckets up to the deepest one in use: deeper ones are empty because
   * nobody is that close, and looking there would find nothing. */
  deepest = deepest_bucket (dht);
  for (int i = 0; i <= deepest; i++)
    due = MIN (due, dht->buckets[i].refresh_ns);
  return due;
}

uint64_t
mesh_dht_next_timeout (const MeshDht *dht)
{
  uint64_t t;

  g_return_val_if_fail (dht != NULL, UINT64_MAX);

  t = MIN (dht->next_publish_ns, refresh_due (dht));
  for (size_t i = 0; i < dht->n_reqs; i++)
    t = MIN (t, dht->reqs[i].deadline_ns);
  if (dht->next_expiry_ms != UINT64_MAX)
    t = MIN (t, dht->next_expiry_ms <= dht->cfg.wall_epoch_ms ? 0
                : (dht->next_expiry_ms - dht->cfg.wall_epoch_ms) * NS_PER_MS);
  return t;
}

static void
request_timed_out (MeshDht *dht, const Request *req, uint64_t now_ns)
{
  dht->stats.timeouts++;
  /* Loss on a multi-hop path is common; a candidate is given up only
   * after its retries went unanswered too. */
  if (request_resend (dht, req, now_ns))
    return;
  if (req->ping_bucket >= 0)
    {
      Bucket *b = &dht->buckets[req->ping_bucket];

      if (b->ping_nonce == req->nonce)
        {
          Contact *c = bucket_find (b, req->node_id);

          b->ping_nonce = 0;
          /* The least recently seen did not answer: the newcomer takes
           * its place. */
          if (c && b->waiting)
            {
              bucket_admit_waiting (dht, b, c);
              return;
            }
        }
    }
  contact_failed (dht, req->node_id);
  if (req->lookup)
    {
      Lookup *l = req->lookup;
      Cand *cand = cand_find (l, req->node_id);

      lookup_release (l, req);
      if (cand && cand->state == CAND_WAITING)
        cand->state = CAND_FAILED;
      lookup_run (dht, l, now_ns);
    }
}

static void
refresh_buckets (MeshDht *dht, uint64_t now_ns)
{
  int deepest = deepest_bucket (dht);

  for (int i = 0; i <= deepest; i++)
    {
      Bucket *b = &dht->buckets[i];
      uint8_t target[MESH_DHT_ID_LEN];
      const uint8_t *self = dht->self.pub.node_id;
      int byte = i / 8, bit = 7 - i % 8;
      Lookup *l;

      if (b->refresh_ns > now_ns)
        continue;
      /* Background work takes at most half of the lookup slots; the rest
       * waits a request timeout. */
      if (dht->n_lookups >= MAX (1, dht->cfg.max_lookups / 2))
        {
          b->refresh_ns = now_ns + dht->cfg.request_timeout_ns;
          continue;
        }
      /* A random ID in the bucket's range: our first i bits, then the
       * opposite of our bit i. */
      dht->cb.random (dht->user_data, target, sizeof target);
      memcpy (target, self, byte);
      target[byte] = (uint8_t) ((self[byte] & ~((1u << (bit + 1)) - 1))
                                | ((~self[byte]) & (1u << bit))
                                | (target[byte] & ((1u << bit) - 1)));
      l = lookup_start (dht, MESH_DHT_FIND_NODE, PURPOSE_REFRESH, target,
                        now_ns);
      if (l)
        lookup_run (dht, l, now_ns);
    }
}

void
mesh_dht_tick (MeshDht *dht, uint64_t now_ns)
{
  g_return_if_fail (dht != NULL);

  /* Handling a timeout may send requests (appended, due later) or drop
   * requests of ended lookups (anywhere): rescan after each. */
  for (;;)
    {
      size_t i;
      Request req;

      for (i = 0; i < dht->n_reqs; i++)
        if (dht->reqs[i].deadline_ns <= now_ns)
          break;
      if (i == dht->n_reqs)
        break;
      req = dht->reqs[i];
      request_remove_at (dht, i);
      request_timed_out (dht, &req, now_ns);
    }

  store_expire (dht, now_ns);

  if (now_ns >= dht->next_publish_ns)
    mesh_dht_publish_self (dht, now_ns, NULL);

  refresh_buckets (dht, now_ns);
}

/* ---------------------------------------------------------------------- */
/* Contacts from the caller */

gboolean
mesh_dht_add_contact (MeshDht *dht, const uint8_t *node_id,
                      const MeshPublicBundle *bundle,
                      const char *const *addresses, size_t n_addresses,
                      uint64_t now_ns)
{
  uint8_t b[MESH_BUNDLE_LEN];
  size_t n = 0;

  g_return_val_if_fail (dht != NULL && node_id != NULL, FALSE);
  g_return_val_if_fail (bundle == NULL
                        || memcmp (bundle->node_id, node_id,
                                   MESH_DHT_ID_LEN) == 0, FALSE);

  if (bundle)
    mesh_bundle_serialize (bundle, b);
  /* Only well-formed addresses travel on in our Nodes replies. */
  while (addresses && n < n_addresses && n < MESH_WIRE_MAX_ADDRESSES
         && address_ok (addresses[n]))
    n++;
  return contact_seen (dht, node_id, bundle ? b : NULL, TRUE, addresses, n,
                       SEEN_CALLER, now_ns) != NULL;
}

gboolean
mesh_dht_remove_contact (MeshDht *dht, const uint8_t *node_id)
{
  int bi;
  Bucket *b;
  Contact *c;

  g_return_val_if_fail (dht != NULL && node_id != NULL, FALSE);

  bi = bucket_of (dht, node_id);
  if (bi < 0)
    return FALSE;
  b = &dht->buckets[bi];
  c = bucket_find (b, node_id);
  if (c == NULL)
    return FALSE;
  bucket_remove (dht, b, c);
  /* A newcomer waiting for a slot gets this one. */
  bucket_admit_waiting (dht, b, NULL);
  return TRUE;
}

/* ---------------------------------------------------------------------- */
/* Life cycle and inspection */

void
mesh_dht_config_init (MeshDhtConfig *c)
{
  memset (c, 0, sizeof *c);
  c->k = 20;
  c->alpha = 3;
  c->request_timeout_ns = NS_PER_S;
  c->request_retries = 2;
  c->max_lookups = 64;
  c->record_ttl_ms = 60 * 60 * 1000;
  c->republish_interval_ns = 0;
  c->refresh_interval_ns = 15 * 60 * NS_PER_S;
  c->max_records = 4096;
  c->max_record_bytes = 4 * 1024 * 1024;
  c->max_record_size = 1024;
  c->max_record_ttl_ms = 24 * 60 * 60 * 1000;
  c->max_future_ms = MESH_WIRE_MAX_FUTURE_MS;
  c->max_contact_addresses = 4;
  c->wall_epoch_ms = 0;
  c->max_hops = 16;
  c->addresses = NULL;
}

static gboolean
config_check (const MeshDhtConfig *c, GError **error)
{
  const char *what = NULL;

  if (c->k < 1 || c->k > MESH_DHT_MAX_K)
    what = "k must be 1 to 32";
  else if (c->alpha < 1 || c->alpha > c->k)
    what = "alpha must be 1 to k";
  else if (c->request_timeout_ns == 0)
    what = "request-timeout must be positive";
  else if (c->request_retries > 4)
    what = "request-retries must be 0 to 4";
  else if (c->max_lookups < 1 || c->max_lookups > 65536)
    what = "max-lookups must be 1 to 65536";
  else if (c->record_ttl_ms == 0 || c->record_ttl_ms > c->max_record_ttl_ms)
    what = "record-ttl must be positive and at most max-record-ttl";
  else if (c->max_records < 1 || c->max_records > (1u << 24))
    what = "max-records must be 1 to 16777216";
  else if (c->max_contact_addresses > MESH_WIRE_MAX_ADDRESSES)
    what = "max-contact-addresses must be at most 16";
  else if (c->max_hops < 1 || c->max_hops > MESH_WIRE_MAX_HOPS)
    what = "max-hops must be 1 to 32";
  if (what)
    {
      g_set_error_literal (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
                           what);
      return FALSE;
    }
  return check_addresses (c->addresses, error);
}

MeshDht *
mesh_dht_new (const MeshIdentity *self, const MeshDhtConfig *config,
              const MeshDhtCallbacks *callbacks, void *user_data,
              uint64_t now_ns, GError **error)
{
  MeshDht *dht;

  g_return_val_if_fail (self != NULL && config != NULL, NULL);
  g_return_val_if_fail (callbacks != NULL && callbacks->send_to_node != NULL
                        && callbacks->random != NULL, NULL);

  if (!config_check (config, error))
    return NULL;
  dht = g_new0 (MeshDht, 1);
  dht->self = *self;
  dht->cfg = *config;
  dht->cfg.addresses = NULL;
  dht->addresses = strv_pack (config->addresses,
                              config->addresses
                              ? g_strv_length ((char **) config->addresses) : 0);
  dht->cb = *callbacks;
  dht->user_data = user_data;
  dht->cb.random (user_data, dht->hash_key, sizeof dht->hash_key);
  dht->deepest = -1;
  dht->republish_ns = config->republish_interval_ns
                      ? config->republish_interval_ns
                      : config->record_ttl_ms * NS_PER_MS / 2;
  for (int i = 0; i < MESH_DHT_BUCKETS; i++)
    dht->buckets[i].refresh_ns = refresh_after (dht, now_ns);
  dht->lookups = g_new (Lookup *, config->max_lookups);
  dht->max_reqs = (size_t) config->max_lookups * config->alpha * 2 + MAX_PINGS;
  dht->cap_slots = 16;
  dht->max_slots = 16;
  while (dht->max_slots < (size_t) config->max_records * 2)
    dht->max_slots *= 2;
  dht->slots = g_new0 (Record *, dht->cap_slots);
  dht->next_expiry_ms = UINT64_MAX;
  dht->next_publish_ns = UINT64_MAX;
  return dht;
}

void
mesh_dht_free (MeshDht *dht)
{
  if (dht == NULL)
    return;
  for (int i = 0; i < MESH_DHT_BUCKETS; i++)
    {
      Bucket *b = &dht->buckets[i];

      for (uint32_t e = 0; e < b->n; e++)
        contact_clear (&b->entries[e]);
      if (b->waiting)
        contact_clear (b->waiting);
      g_free (b->waiting);
      g_free (b->entries);
    }
  for (uint32_t i = 0; i < dht->n_lookups; i++)
    g_free (dht->lookups[i]);
  g_free (dht->lookups);
  g_free (dht->reqs);
  for (size_t i = 0; i < dht->cap_slots; i++)
    g_free (dht->slots[i]);
  g_free (dht->slots);
  g_free (dht->own);
  g_free (dht->addresses);
  g_free (dht->pbuf);
  g_free (dht->fbuf);
  mesh_identity_clear (&dht->self);
  g_free (dht);
}

void
mesh_dht_get_stats (const MeshDht *dht, MeshDhtStats *stats)
{
  g_return_if_fail (dht != NULL && stats != NULL);

  *stats = dht->stats;
  stats->contacts = dht->n_contacts;
  stats->records = (uint32_t) dht->n_records;
  stats->record_bytes = dht->record_bytes;
  stats->lookups_active = dht->n_lookups;
  stats->requests_pending = (uint32_t) dht->n_reqs;
}

gboolean
mesh_dht_has_contact (const MeshDht *dht, const uint8_t *node_id)
{
  g_return_val_if_fail (dht != NULL && node_id != NULL, FALSE);
  return contact_get (dht, node_id) != NULL;
}

int
mesh_dht_bucket_index (const MeshDht *dht, const uint8_t *node_id)
{
  g_return_val_if_fail (dht != NULL && node_id != NULL, -1);
  return bucket_of (dht, node_id);
}

guint
mesh_dht_bucket_size (const MeshDht *dht, guint index)
{
  g_return_val_if_fail (dht != NULL && index < MESH_DHT_BUCKETS, 0);
  return dht->buckets[index].n;
}

uint64_t
mesh_dht_record_timestamp (const MeshDht *dht, const uint8_t *node_id)
{
  const Record *r;

  g_return_val_if_fail (dht != NULL && node_id != NULL, 0);
  r = store_get (dht, node_id);
  return r ? r->timestamp_ms : 0;
}

const uint8_t *
mesh_dht_self_id (const MeshDht *dht)
{
  g_return_val_if_fail (dht != NULL, NULL);
  return dht->self.pub.node_id;
}
