#include "config.h"

#include "engine/session.h"

#include <string.h>
#include <meshara/meshara.h>

#include "engine/link.h"
#include "engine/msg.h"
#include "engine/routes.h"

#define MS G_GUINT64_CONSTANT (1000000)

/* Keys of the hash tables carry their keyed hash: GHashTable's hash
 * function takes no user data, and the IDs are peer-chosen, so the
 * SipHash under the per-node key is computed once, on the way in. */
typedef struct {
  uint64_t h;
  uint8_t id[MESH_NODE_ID_LEN];
} Key32;

typedef struct {
  uint64_t h;
  uint8_t id[MESH_SESSION_ID_LEN];
} Key16;

typedef struct {
  uint64_t h;
  uint8_t sid[MESH_SESSION_ID_LEN];
  uint64_t counter;
} PKey;

typedef struct Pending Pending;

typedef struct {
  Key32 dest;                   /* in out_by_dest while current */
  Key16 id;                     /* in out_by_id while alive */
  MeshSession *s;
  gboolean current;
  gboolean acked;               /* the recipient confirmed it: no init */
  uint32_t n_pending;
  Pending *pending;             /* messages sealed under it */
  GList lru;                    /* in out_lru while current */
  uint64_t last_reopen_ns;
} OutSession;

typedef struct {
  Key16 id;
  MeshSession *s;
  GList lru;
  MeshTokenBucket dup_acks;
} InSession;

struct Pending {
  PKey key;
  OutSession *os;
  Pending *prev, *next;         /* in os->pending */
  size_t heap_index;
  uint8_t app_id[MESH_WIRE_ID_LEN];
  uint8_t dest[MESH_NODE_ID_LEN];
  uint32_t attempts;
  uint64_t first_ns, deadline_ns, last_ts_ms;
  size_t content_len;
  /* The encoded PrivateContent (for re-sealing under a new session), then
   * the sealed copy that retries repeat: content_len +
   * MESH_SESSION_OVERHEAD bytes. */
  uint8_t data[];
};

struct MeshPrivate {
  MeshIdentity self;
  MeshPrivateConfig config;
  MeshPrivateCallbacks cb;
  void *ctx;
  MeshRandomFunc random;
  void *random_data;
  uint8_t hash_key[16];

  GHashTable *out_by_dest;      /* Key32 -> OutSession (current ones) */
  GHashTable *out_by_id;        /* Key16 -> OutSession (all) */
  GQueue out_lru;               /* current sessions, most recent first */
  uint32_t n_out;

  GHashTable *in_by_id;         /* Key16 -> InSession */
  GQueue in_lru;

  GHashTable *pending;          /* PKey -> Pending */
  GPtrArray *heap;              /* Pending by deadline_ns */

  MeshMsgBuf buf_content, buf_payload, buf_plain, buf_ack;
  MeshPrivateStats stats;

  /* The last recipient's Ed25519 key and its node ID, so that a stream of
   * messages to one node derives the ID (a SHA-256) once. */
  uint8_t last_ed_pub[MESH_ED25519_KEY_LEN];
  uint8_t last_node_id[MESH_NODE_ID_LEN];
  gboolean have_last;
};

void
mesh_private_config_init (MeshPrivateConfig *config)
{
  memset (config, 0, sizeof *config);
  config->max_sessions = 4096;
  config->max_pending = 4096;
  config->max_retries = 11;
  config->ack_timeout_ns = 500 * MS;
  mesh_session_limits_init (&config->limits);
  config->dup_acks_per_s = 100;
}

/* ---- Keys */

static guint
key_hash (gconstpointer k)
{
  return (guint) ((const Key16 *) k)->h;
}

static gboolean
key32_equal (gconstpointer a, gconstpointer b)
{
  return memcmp (((const Key32 *) a)->id, ((const Key32 *) b)->id, MESH_NODE_ID_LEN) == 0;
}

static gboolean
key16_equal (gconstpointer a, gconstpointer b)
{
  return memcmp (((const Key16 *) a)->id, ((const Key16 *) b)->id, MESH_SESSION_ID_LEN) == 0;
}

static gboolean
pkey_equal (gconstpointer a, gconstpointer b)
{
  const PKey *x = a, *y = b;

  return x->counter == y->counter
         && memcmp (x->sid, y->sid, MESH_SESSION_ID_LEN) == 0;
}

static void
key32_set (MeshPrivate *p, Key32 *k, const uint8_t id[MESH_NODE_ID_LEN])
{
  memcpy (k->id, id, MESH_NODE_ID_LEN);
  k->h = mesh_routes_siphash13 (p->hash_key, id, MESH_NODE_ID_LEN);
}

static void
key16_set (MeshPrivate *p, Key16 *k, const uint8_t id[MESH_SESSION_ID_LEN])
{
  memcpy (k->id, id, MESH_SESSION_ID_LEN);
  k->h = mesh_routes_siphash13 (p->hash_key, id, MESH_SESSION_ID_LEN);
}

static void
pkey_set (MeshPrivate *p, PKey *k, const uint8_t sid[MESH_SESSION_ID_LEN],
          uint64_t counter)
{
  uint8_t buf[MESH_SESSION_ID_LEN + 8];

  memcpy (k->sid, sid, MESH_SESSION_ID_LEN);
  k->counter = counter;
  memcpy (buf, sid, MESH_SESSION_ID_LEN);
  for (int i = 0; i < 8; i++)
    buf[MESH_SESSION_ID_LEN + i] = (uint8_t) (counter >> (56 - 8 * i));
  k->h = mesh_routes_siphash13 (p->hash_key, buf, sizeof buf);
}

/* ---- Retry heap, ordered by deadline */

static gboolean
heap_less (const Pending *a, const Pending *b)
{
  return a->deadline_ns < b->deadline_ns;
}

static void
heap_set (MeshPrivate *p, size_t i, Pending *pd)
{
  p->heap->pdata[i] = pd;
  pd->heap_index = i;
}

static void
heap_sift_up (MeshPrivate *p, size_t i)
{
  Pending *pd = p->heap->pdata[i];

  while (i > 0)
    {
      size_t parent = (i - 1) / 2;
      Pending *q = p->heap->pdata[parent];

      if (!heap_less (pd, q))
        break;
      heap_set (p, i, q);
      i = parent;
    }
  heap_set (p, i, pd);
}

static void
heap_sift_down (MeshPrivate *p, size_t i)
{
  size_t n = p->heap->len;
  Pending *pd = p->heap->pdata[i];

  for (;;)
    {
      size_t c = 2 * i + 1;

      if (c >= n)
        break;
      if (c + 1 < n && heap_less (p->heap->pdata[c + 1], p->heap->pdata[c]))
        c++;
      if (!heap_less (p->heap->pdata[c], pd))
        break;
      heap_set (p, i, p->heap->pdata[c]);
      i = c;
    }
  heap_set (p, i, pd);
}

static void
heap_push (MeshPrivate *p, Pending *pd)
{
  g_ptr_array_add (p->heap, pd);
  heap_sift_up (p, p->heap->len - 1);
}

static void
heap_remove (MeshPrivate *p, Pending *pd)
{
  size_t i = pd->heap_index;
  Pending *last = g_ptr_array_steal_index (p->heap, p->heap->len - 1);

  if (last == pd)
    return;
  heap_set (p, i, last);
  heap_sift_down (p, i);
  heap_sift_up (p, last->heap_index);
}

/* ---- Outgoing sessions */

static void
out_free (MeshPrivate *p, OutSession *os)
{
  g_hash_table_remove (p->out_by_id, &os->id);
  mesh_session_free (os->s);
  p->n_out--;
  g_free (os);
}

/* No longer the session new messages use; freed once nothing is pending
 * in it. */
static void
out_retire (MeshPrivate *p, OutSession *os)
{
  if (!os->current)
    return;
  os->current = FALSE;
  g_hash_table_remove (p->out_by_dest, &os->dest);
  g_queue_unlink (&p->out_lru, &os->lru);
  if (os->n_pending == 0)
    out_free (p, os);
}

/* Free the least recently used current session with nothing pending. */
static gboolean
out_evict (MeshPrivate *p)
{
  for (GList *l = p->out_lru.tail; l != NULL; l = l->prev)
    {
      OutSession *os = l->data;

      if (os->n_pending == 0)
        {
          out_retire (p, os);
          p->stats.sessions_evicted++;
          return TRUE;
        }
    }
  return FALSE;
}

/* The session for new messages to `to`, opened or renewed as needed. */
static OutSession *
out_current (MeshPrivate *p, const MeshPublicBundle *to, uint64_t now_ns,
             GError **error)
{
  Key32 k;
  OutSession *os;
  MeshSession *s;
  uint8_t init[MESH_SESSION_INIT_LEN];

  key32_set (p, &k, to->node_id);
  os = g_hash_table_lookup (p->out_by_dest, &k);
  if (os != NULL && mesh_session_needs_rekey (os->s, now_ns))
    {
      /* The old session stays for the acknowledgments of what it sealed. */
      out_retire (p, os);
      os = NULL;
    }
  if (os != NULL)
    {
      g_queue_unlink (&p->out_lru, &os->lru);
      g_queue_push_head_link (&p->out_lru, &os->lru);
      return os;
    }

  if (p->n_out >= p->config.max_sessions && !out_evict (p))
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_EXHAUSTED,
                   "all %" G_GUINT32_FORMAT " outgoing sessions have messages "
                   "waiting for acknowledgment; none can be replaced",
                   p->config.max_sessions);
      return NULL;
    }
  s = mesh_session_initiate (&p->self, to, p->random, p->random_data, now_ns,
                             init, error);
  if (s == NULL)
    return NULL;
  if (!mesh_session_set_limits (s, &p->config.limits, error))
    {
      mesh_session_free (s);
      return NULL;
    }

  os = g_new0 (OutSession, 1);
  os->s = s;
  os->current = TRUE;
  os->dest = k;
  key16_set (p, &os->id, mesh_session_get_id (s));
  os->lru.data = os;
  g_hash_table_insert (p->out_by_dest, &os->dest, os);
  g_hash_table_insert (p->out_by_id, &os->id, os);
  g_queue_push_head_link (&p->out_lru, &os->lru);
  p->n_out++;
  p->stats.sessions_opened++;
  return os;
}

/* ---- Pending messages */

static uint8_t *
pending_sealed (Pending *pd)
{
  return pd->data + pd->content_len;
}

static size_t
pending_sealed_len (const Pending *pd)
{
  return pd->content_len + MESH_SESSION_OVERHEAD;
}

static void
pending_attach (MeshPrivate *p, Pending *pd, OutSession *os, uint64_t counter)
{
  pd->os = os;
  pd->prev = NULL;
  pd->next = os->pending;
  if (os->pending)
    os->pending->prev = pd;
  os->pending = pd;
  os->n_pending++;
  pkey_set (p, &pd->key, mesh_session_get_id (os->s), counter);
  g_hash_table_insert (p->pending, &pd->key, pd);
}

static void
pending_detach (MeshPrivate *p, Pending *pd)
{
  OutSession *os = pd->os;

  g_hash_table_remove (p->pending, &pd->key);
  if (pd->prev)
    pd->prev->next = pd->next;
  else
    os->pending = pd->next;
  if (pd->next)
    pd->next->prev = pd->prev;
  os->n_pending--;
  pd->os = NULL;
}

/* Settled (acknowledged or failed): forget it. */
static void
pending_remove (MeshPrivate *p, Pending *pd)
{
  OutSession *os = pd->os;

  heap_remove (p, pd);
  pending_detach (p, pd);
  if (!os->current && os->n_pending == 0)
    out_free (p, os);
  g_free (pd);
}

/* Send pd (again) and set its next deadline. */
static void
pending_transmit (MeshPrivate *p, Pending *pd, uint64_t now_ns)
{
  MeshWirePrivateMessage pm = MESHARA__V1__PRIVATE_MESSAGE_PAYLOAD__INIT;
  OutSession *os = pd->os;
  uint8_t wire_id[MESH_WIRE_ID_LEN];
  uint64_t ts = pd->last_ts_ms + 1;
  unsigned shift;
  size_t len;
  gboolean routed;

  pm.session_id.data = os->id.id;
  pm.session_id.len = MESH_SESSION_ID_LEN;
  /* Until the session is acknowledged, and on every retry (see the
   * header: the recipient may have lost the session). */
  if (!os->acked || pd->attempts > 0)
    {
      pm.session_init.data = (uint8_t *) mesh_session_get_init (os->s);
      pm.session_init.len = MESH_SESSION_INIT_LEN;
    }
  pm.ciphertext.data = pending_sealed (pd);
  pm.ciphertext.len = pending_sealed_len (pd);
  len = mesh_msg_buf_encode (&p->buf_payload, &pm.base);

  routed = p->cb.send (p->ctx, MESH_WIRE_TYPE_PRIVATE, pd->dest,
                       p->buf_payload.data, len, now_ns, &ts, wire_id);
  pd->last_ts_ms = ts;
  if (pd->attempts == 0)
    memcpy (pd->app_id, wire_id, MESH_WIRE_ID_LEN);
  pd->attempts++;
  if (!routed && p->cb.no_route != NULL)
    p->cb.no_route (p->ctx, pd->dest, now_ns);

  shift = MIN (pd->attempts - 1, MESH_PRIVATE_MAX_BACKOFF_SHIFT);
  if (p->config.ack_timeout_ns > (UINT64_MAX - now_ns) >> shift)
    pd->deadline_ns = UINT64_MAX;
  else
    pd->deadline_ns = now_ns + (p->config.ack_timeout_ns << shift);
}

static void
emit_failed (MeshPrivate *p, Pending *pd, const char *reason)
{
  MeshEvent ev = { 0 };

  ev.type = MESH_EVENT_DELIVERY_FAILED;
  ev.message_id = pd->app_id;
  ev.node_id = pd->dest;
  ev.reason = reason;
  p->stats.failed++;
  p->cb.event (p->ctx, &ev);
}

gboolean
mesh_private_send (MeshPrivate *p, const MeshPublicBundle *to,
                   const uint8_t *data, size_t len, size_t max_data,
                   uint64_t now_ns, uint8_t id_out[MESH_WIRE_ID_LEN],
                   GError **error)
{
  return mesh_private_send_type (p, MESH_WIRE_TYPE_PRIVATE, to, data, len,
                                 max_data, now_ns, id_out, error);
}

gboolean
mesh_private_send_type (MeshPrivate *p, uint32_t type,
                        const MeshPublicBundle *to, const uint8_t *data,
                        size_t len, size_t max_data, uint64_t now_ns,
                        uint8_t id_out[MESH_WIRE_ID_LEN], GError **error)
{
  MeshWirePrivateContent content = MESHARA__V1__PRIVATE_CONTENT__INIT;
  MeshPublicBundle peer;
  OutSession *os;
  Pending *pd;
  size_t clen;
  uint64_t counter;

  /* The node ID is derived, so derive it rather than trust the caller's
   * copy: acknowledgments are matched against it. */
  peer = *to;
  if (p->have_last
      && memcmp (peer.ed_pub, p->last_ed_pub, MESH_ED25519_KEY_LEN) == 0)
    memcpy (peer.node_id, p->last_node_id, MESH_NODE_ID_LEN);
  else
    {
      mesh_node_id (peer.ed_pub, peer.node_id);
      memcpy (p->last_ed_pub, peer.ed_pub, MESH_ED25519_KEY_LEN);
      memcpy (p->last_node_id, peer.node_id, MESH_NODE_ID_LEN);
      p->have_last = TRUE;
    }
  if (mesh_ct_equal (peer.ed_pub, p->self.pub.ed_pub, MESH_ED25519_KEY_LEN))
    {
      g_set_error_literal (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
                           "private message to this node itself");
      return FALSE;
    }
  if (len > max_data)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_TOO_LARGE,
                   "private message of %zu bytes exceeds the maximum of %zu "
                   "for the configured frame size", len, max_data);
      return FALSE;
    }
  if (p->stats.pending >= p->config.max_pending)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_EXHAUSTED,
                   "%" G_GUINT32_FORMAT " private messages are waiting for "
                   "acknowledgment, the configured maximum (max_pending)",
                   p->config.max_pending);
      return FALSE;
    }
  os = out_current (p, &peer, now_ns, error);
  if (os == NULL)
    return FALSE;

  content.type = type;
  content.body.data = (uint8_t *) data;
  content.body.len = len;
  clen = mesh_msg_buf_encode (&p->buf_content, &content.base);

  pd = g_malloc (sizeof *pd + 2 * clen + MESH_SESSION_OVERHEAD);
  memset (pd, 0, sizeof *pd);
  pd->content_len = clen;
  memcpy (pd->data, p->buf_content.data, clen);
  if (!mesh_session_seal (os->s, pd->data, clen, pending_sealed (pd), &counter,
                          now_ns, error))
    {
      g_free (pd);
      return FALSE;
    }
  memcpy (pd->dest, peer.node_id, MESH_NODE_ID_LEN);
  pd->first_ns = now_ns;
  pending_attach (p, pd, os, counter);
  p->stats.pending++;
  p->stats.sent++;

  pending_transmit (p, pd, now_ns);
  heap_push (p, pd);
  if (id_out != NULL)
    memcpy (id_out, pd->app_id, MESH_WIRE_ID_LEN);
  return TRUE;
}

gboolean
mesh_private_cancel (MeshPrivate *p, const uint8_t id[MESH_WIRE_ID_LEN])
{
  /* Rare (a full send queue), so a scan rather than another index. */
  for (guint i = 0; i < p->heap->len; i++)
    {
      Pending *pd = p->heap->pdata[i];

      if (memcmp (pd->app_id, id, MESH_WIRE_ID_LEN) == 0)
        {
          pending_remove (p, pd);
          p->stats.pending--;
          p->stats.sent--;
          return TRUE;
        }
    }
  return FALSE;
}

/* SESSION_UNKNOWN for os: open a new session to the same recipient and
 * move what was pending into it. */
static void
out_reopen (MeshPrivate *p, OutSession *os, uint64_t now_ns)
{
  MeshPublicBundle peer = *mesh_session_get_peer (os->s);
  OutSession *fresh;
  Pending *pd;

  out_retire (p, os);
  fresh = out_current (p, &peer, now_ns, NULL);
  if (fresh == NULL)
    return;
  fresh->last_reopen_ns = now_ns;
  p->stats.reopened++;
  while ((pd = os->pending) != NULL)
    {
      uint64_t counter;

      pending_detach (p, pd);
      if (!mesh_session_seal (fresh->s, pd->data, pd->content_len,
                              pending_sealed (pd), &counter, now_ns, NULL))
        {
          /* Only the hard limit of a fresh session could refuse; settle
           * the message rather than keep it in a dead session. */
          pending_attach (p, pd, fresh, UINT64_MAX);
          emit_failed (p, pd, "no session could carry the message again");
          pending_remove (p, pd);
          p->stats.pending--;
          continue;
        }
      pending_attach (p, pd, fresh, counter);
      pending_transmit (p, pd, now_ns);
      heap_remove (p, pd);
      heap_push (p, pd);
    }
  /* Retired and empty now. */
  out_free (p, os);
}

/* ---- Incoming sessions */

static void
in_free (MeshPrivate *p, InSession *in)
{
  g_queue_unlink (&p->in_lru, &in->lru);
  g_hash_table_remove (p->in_by_id, &in->id);
  mesh_session_free (in->s);
  g_free (in);
}

static InSession *
in_insert (MeshPrivate *p, MeshSession *s, uint64_t now_ns)
{
  InSession *in;

  while (g_hash_table_size (p->in_by_id) >= p->config.max_sessions
         && p->in_lru.tail != NULL)
    {
      in_free (p, p->in_lru.tail->data);
      p->stats.sessions_evicted++;
    }
  in = g_new0 (InSession, 1);
  in->s = s;
  key16_set (p, &in->id, mesh_session_get_id (s));
  in->lru.data = in;
  mesh_bucket_init (&in->dup_acks, p->config.dup_acks_per_s,
                    p->config.dup_acks_per_s, now_ns);
  g_hash_table_insert (p->in_by_id, &in->id, in);
  g_queue_push_head_link (&p->in_lru, &in->lru);
  return in;
}

static void
send_ack (MeshPrivate *p, InSession *in, const uint8_t *acked_id,
          uint64_t counter, uint32_t status, uint64_t now_ns)
{
  MeshWireAck ack = MESHARA__V1__ACKNOWLEDGMENT__INIT;
  uint8_t input[MESH_WIRE_ID_LEN + MESH_SESSION_ID_LEN + 8 + 1];
  uint8_t tag[MESH_SESSION_ACK_TAG_LEN];
  uint8_t id[MESH_WIRE_ID_LEN];
  uint64_t ts = 0;
  size_t len;

  memcpy (input, acked_id, MESH_WIRE_ID_LEN);
  memcpy (input + MESH_WIRE_ID_LEN, in->id.id, MESH_SESSION_ID_LEN);
  for (int i = 0; i < 8; i++)
    input[MESH_WIRE_ID_LEN + MESH_SESSION_ID_LEN + i] = (uint8_t) (counter >> (56 - 8 * i));
  input[sizeof input - 1] = (uint8_t) status;
  mesh_session_ack_tag (in->s, input, sizeof input, tag);

  ack.acked_message_id.data = (uint8_t *) acked_id;
  ack.acked_message_id.len = MESH_WIRE_ID_LEN;
  ack.session_id.data = in->id.id;
  ack.session_id.len = MESH_SESSION_ID_LEN;
  ack.counter = counter;
  ack.status = status;
  ack.tag.data = tag;
  ack.tag.len = sizeof tag;
  len = mesh_msg_buf_encode (&p->buf_ack, &ack.base);
  /* Without a route the acknowledgment is lost like any other frame, and
   * the sender's retry tries again. */
  p->cb.send (p->ctx, MESH_WIRE_TYPE_ACK, mesh_session_get_peer (in->s)->node_id,
              p->buf_ack.data, len, now_ns, &ts, id);
  p->stats.acks_sent++;
}

static void
receive_private (MeshPrivate *p, MeshLinkId link, const MeshWireBaseMessage *msg,
                 uint64_t now_ns)
{
  g_autoptr (MeshWirePrivateMessage) pm = NULL;
  g_autoptr (MeshWirePrivateContent) content = NULL;
  MeshPublicBundle asker;
  uint8_t sid[MESH_SESSION_ID_LEN];
  Key16 k;
  InSession *in;
  uint8_t *plain;
  size_t plain_len;
  uint64_t counter = 0;
  gboolean duplicate = FALSE;

  pm = mesh_wire_decode_private (msg->payload.data, msg->payload.len, NULL);
  if (pm == NULL)
    {
      p->stats.rejected++;
      return;
    }
  key16_set (p, &k, pm->session_id.data);
  in = g_hash_table_lookup (p->in_by_id, &k);
  if (in == NULL)
    {
      MeshSession *s;

      if (pm->session_init.len == 0)
        {
          /* Lost (restart, eviction) or never had it; the sender's retry
           * brings the init. */
          p->stats.unknown_session++;
          return;
        }
      if (!mesh_session_id_from_init (pm->session_init.data, pm->session_init.len,
                                      sid, NULL)
          || memcmp (sid, pm->session_id.data, MESH_SESSION_ID_LEN) != 0)
        {
          p->stats.rejected++;
          return;
        }
      if (!p->cb.accept_allowed (p->ctx, link, now_ns))
        {
          p->stats.accepts_limited++;
          return;
        }
      s = mesh_session_accept (&p->self, pm->session_init.data,
                               pm->session_init.len, now_ns, NULL);
      if (s == NULL)
        {
          p->stats.rejected++;
          return;
        }
      in = in_insert (p, s, now_ns);
      p->stats.sessions_accepted++;
    }
  else
    {
      g_queue_unlink (&p->in_lru, &in->lru);
      g_queue_push_head_link (&p->in_lru, &in->lru);
    }

  plain = mesh_msg_buf_reserve (&p->buf_plain, pm->ciphertext.len);
  if (!mesh_session_open (in->s, pm->ciphertext.data, pm->ciphertext.len,
                          plain, &plain_len, &counter, &duplicate, now_ns, NULL))
    {
      if (duplicate)
        {
          p->stats.duplicates++;
          if (mesh_bucket_take (&in->dup_acks, 1, now_ns))
            send_ack (p, in, msg->message_id.data, counter,
                      MESH_WIRE_ACK_DUPLICATE, now_ns);
        }
      else
        p->stats.rejected++;
      return;
    }

  content = mesh_wire_decode_private_content (plain, plain_len, NULL);
  if (content == NULL)
    {
      p->stats.rejected++;
      send_ack (p, in, msg->message_id.data, counter, MESH_WIRE_ACK_REJECTED,
                now_ns);
      return;
    }
  if (content->type == MESH_WIRE_TYPE_PRIVATE)
    {
      const MeshPublicBundle *sender = mesh_session_get_peer (in->s);
      MeshEvent ev = { 0 };

      ev.type = MESH_EVENT_PRIVATE_RECEIVED;
      ev.link = link;
      ev.bundle = sender;
      ev.node_id = sender->node_id;
      ev.message_id = msg->message_id.data;
      ev.data = content->body.data;
      ev.len = content->body.len;
      ev.hops = msg->routing ? MAX (msg->routing->hop_count, 1u) : 1;
      p->stats.received++;
      p->cb.event (p->ctx, &ev);
    }
  asker = *mesh_session_get_peer (in->s);
  send_ack (p, in, msg->message_id.data, counter, MESH_WIRE_ACK_DELIVERED, now_ns);
  /* QUERY and RESPONSE go to the content callback once everything about
   * this message is done, since answering sends; without the callback
   * they are acknowledged and dropped. */
  if ((content->type == MESH_WIRE_TYPE_QUERY
       || content->type == MESH_WIRE_TYPE_RESPONSE)
      && p->cb.content != NULL)
    p->cb.content (p->ctx, content->type, &asker, content->body.data,
                   content->body.len, now_ns);
}

static void
receive_ack (MeshPrivate *p, const MeshWireBaseMessage *msg, uint64_t now_ns)
{
  g_autoptr (MeshWireAck) ack = NULL;
  uint8_t input[MESH_WIRE_ID_LEN + MESH_SESSION_ID_LEN + 8 + 1];
  uint8_t tag[MESH_SESSION_ACK_TAG_LEN];
  PKey k;
  Pending *pd;

  ack = mesh_wire_decode_ack (msg->payload.data, msg->payload.len, NULL);
  if (ack == NULL)
    {
      p->stats.rejected++;
      return;
    }
  p->stats.acks_received++;

  if (ack->status == MESH_WIRE_ACK_SESSION_UNKNOWN)
    {
      Key16 sk;
      OutSession *os;

      key16_set (p, &sk, ack->session_id.data);
      os = g_hash_table_lookup (p->out_by_id, &sk);
      if (os == NULL || os->n_pending == 0)
        {
          p->stats.acks_unmatched++;
          return;
        }
      /* Untagged, so anyone could send it: act at most once per ack
       * timeout per recipient. */
      if (os->last_reopen_ns != 0
          && now_ns - os->last_reopen_ns < p->config.ack_timeout_ns)
        return;
      out_reopen (p, os, now_ns);
      return;
    }

  pkey_set (p, &k, ack->session_id.data, ack->counter);
  pd = g_hash_table_lookup (p->pending, &k);
  if (pd == NULL)
    {
      /* Settled already (a second acknowledgment) or never ours. */
      p->stats.acks_unmatched++;
      return;
    }
  if (ack->tag.len != MESH_SESSION_ACK_TAG_LEN)
    {
      p->stats.acks_bad_tag++;
      return;
    }
  memcpy (input, ack->acked_message_id.data, MESH_WIRE_ID_LEN);
  memcpy (input + MESH_WIRE_ID_LEN, ack->session_id.data, MESH_SESSION_ID_LEN);
  for (int i = 0; i < 8; i++)
    input[MESH_WIRE_ID_LEN + MESH_SESSION_ID_LEN + i] = (uint8_t) (ack->counter >> (56 - 8 * i));
  input[sizeof input - 1] = (uint8_t) ack->status;
  mesh_session_ack_tag (pd->os->s, input, sizeof input, tag);
  if (!mesh_ct_equal (tag, ack->tag.data, sizeof tag))
    {
      p->stats.acks_bad_tag++;
      return;
    }

  pd->os->acked = TRUE;
  if (ack->status == MESH_WIRE_ACK_REJECTED)
    emit_failed (p, pd, "the recipient could not read the message");
  else
    {
      MeshEvent ev = { 0 };

      ev.type = MESH_EVENT_DELIVERED;
      ev.message_id = pd->app_id;
      ev.node_id = pd->dest;
      ev.latency_ns = now_ns - pd->first_ns;
      p->stats.delivered++;
      p->cb.event (p->ctx, &ev);
    }
  pending_remove (p, pd);
  p->stats.pending--;
}

void
mesh_private_receive (MeshPrivate *p, MeshLinkId link,
                      const MeshWireBaseMessage *msg, uint64_t now_ns)
{
  if (msg->type == MESH_WIRE_TYPE_PRIVATE)
    receive_private (p, link, msg, now_ns);
  else if (msg->type == MESH_WIRE_TYPE_ACK)
    receive_ack (p, msg, now_ns);
}

/* ---- Time */

uint64_t
mesh_private_next_timeout (const MeshPrivate *p)
{
  if (p->heap->len == 0)
    return UINT64_MAX;
  return ((const Pending *) p->heap->pdata[0])->deadline_ns;
}

void
mesh_private_tick (MeshPrivate *p, uint64_t now_ns)
{
  while (p->heap->len > 0)
    {
      Pending *pd = p->heap->pdata[0];

      if (pd->deadline_ns > now_ns)
        break;
      if (pd->attempts > p->config.max_retries)
        {
          char reason[96];

          g_snprintf (reason, sizeof reason,
                      "no acknowledgment after %" G_GUINT32_FORMAT " attempts",
                      pd->attempts);
          emit_failed (p, pd, reason);
          pending_remove (p, pd);
          p->stats.pending--;
          continue;
        }
      p->stats.retries++;
      if (p->cb.unanswered != NULL)
        p->cb.unanswered (p->ctx, pd->dest, now_ns);
      pending_transmit (p, pd, now_ns);
      heap_sift_down (p, 0);
    }
}

/* ---- Life cycle */

MeshPrivate *
mesh_private_new (const MeshIdentity *self, const MeshPrivateConfig *config,
                  const MeshPrivateCallbacks *callbacks, void *ctx,
                  MeshRandomFunc random, void *random_data,
                  const uint8_t hash_key[16])
{
  MeshPrivate *p = g_new0 (MeshPrivate, 1);

  p->self = *self;
  p->config = *config;
  p->config.max_sessions = MAX (p->config.max_sessions, 1u);
  p->cb = *callbacks;
  p->ctx = ctx;
  p->random = random;
  p->random_data = random_data;
  memcpy (p->hash_key, hash_key, sizeof p->hash_key);
  p->out_by_dest = g_hash_table_new (key_hash, key32_equal);
  p->out_by_id = g_hash_table_new (key_hash, key16_equal);
  p->in_by_id = g_hash_table_new (key_hash, key16_equal);
  p->pending = g_hash_table_new (key_hash, pkey_equal);
  p->heap = g_ptr_array_new ();
  g_queue_init (&p->out_lru);
  g_queue_init (&p->in_lru);
  return p;
}

void
mesh_private_free (MeshPrivate *p)
{
  GHashTableIter it;
  gpointer value;

  if (p == NULL)
    return;
  for (guint i = 0; i < p->heap->len; i++)
    g_free (p->heap->pdata[i]);
  g_ptr_array_free (p->heap, TRUE);
  g_hash_table_destroy (p->pending);

  g_hash_table_iter_init (&it, p->out_by_id);
  while (g_hash_table_iter_next (&it, NULL, &value))
    {
      OutSession *os = value;

      mesh_session_free (os->s);
      g_free (os);
    }
  g_hash_table_destroy (p->out_by_id);
  g_hash_table_destroy (p->out_by_dest);

  while (p->in_lru.head != NULL)
    in_free (p, p->in_lru.head->data);
  g_hash_table_destroy (p->in_by_id);

  mesh_msg_buf_clear (&p->buf_content);
  mesh_msg_buf_clear (&p->buf_payload);
  mesh_msg_buf_clear (&p->buf_plain);
  mesh_msg_buf_clear (&p->buf_ack);
  mesh_identity_clear (&p->self);
  g_free (p);
}

void
mesh_private_get_stats (const MeshPrivate *p, MeshPrivateStats *stats)
{
  *stats = p->stats;
  stats->sessions_out = p->n_out;
  stats->sessions_in = g_hash_table_size (p->in_by_id);
}

MeshSession *
mesh_private_get_out_session (MeshPrivate *p, const uint8_t dest[MESH_NODE_ID_LEN])
{
  Key32 k;
  OutSession *os;

  key32_set (p, &k, dest);
  os = g_hash_table_lookup (p->out_by_dest, &k);
  return os ? os->s : NULL;
}

gboolean
mesh_private_has_in_session (MeshPrivate *p, const uint8_t id[MESH_SESSION_ID_LEN])
{
  Key16 k;

  key16_set (p, &k, id);
  return g_hash_table_contains (p->in_by_id, &k);
}
