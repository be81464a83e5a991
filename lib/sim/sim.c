/* The deterministic network simulator (see sim.h).
 *
 * Links: link IDs are global and never reused, so an event for a link
 * that has gone down (or belongs to an engine since restarted) is
 * recognized and dropped without any bookkeeping.  Link number c has the
 * two ends 2c + 1 and 2c + 2; each end names its node, holds the
 * parameters and state of the direction leaving it, and counts the bytes
 * queued in that direction.
 *
 * Frames: the body of each frame is copied once and travels in its
 * event.  Small bodies (up to 2 KiB: pings, private messages, acks,
 * broadcasts, DHT requests, the bulk of all frames) take a buffer from a
 * pool of power-of-two size classes carved from 64 KiB slabs, so the
 * steady state of a run allocates nothing for them.  Larger ones (route
 * advertisements, big payloads) come from malloc: pooling them per size
 * class would hold the peak of every class at once, several times the
 * peak in flight when advertisements grow during convergence.
 *
 * Timers: one per node.  After every call into an engine the simulator
 * asks for its next deadline; an earlier one arms a new timer event (the
 * generation counter makes the replaced one stale), a later one leaves
 * the armed event in place, which then ticks the engine a little early
 * (harmless: a tick runs what is due) and arms the real deadline. */
#include "config.h"

#include "sim/sim.h"

#include "crypto/hash.h"
#include "wire/frame.h"

#include <meshara/meshara-error.h>
#include <nettle/sha2.h>
#include <string.h>

/* 2026-01-01T00:00:00Z: a fixed wall clock, so timestamps, message IDs
 * and signatures are the same in every run. */
#define SIM_WALL_EPOCH_MS G_GUINT64_CONSTANT (1767225600000)

#define SIM_DEFAULT_MAX_IN_FLIGHT (G_GUINT64_CONSTANT (512) << 20)
#define SIM_DEFAULT_QUEUE_MAX (G_GUINT64_CONSTANT (32) << 20)

/* An engine whose deadline stays at or before now after this many ticks
 * in a row is given 1 ms, so that a stuck timer cannot freeze the clock. */
#define SIM_MAX_SPINS 64
#define SIM_STALL_DELAY_NS G_GUINT64_CONSTANT (1000000)

/* ---- Frame buffer pool */

#define POOL_MIN_SHIFT 6
#define POOL_MAX_SHIFT 11
#define POOL_CLASSES (POOL_MAX_SHIFT - POOL_MIN_SHIFT + 1)
#define POOL_SLAB_BYTES (64 * 1024)

typedef struct {
  void *free[POOL_CLASSES];   /* free lists, linked through the first word */
  GPtrArray *slabs;
  uint64_t bytes;             /* slabs and large buffers held */
} Pool;

static int
pool_class (size_t len)
{
  int shift = POOL_MIN_SHIFT;

  if (len > (1u << POOL_MAX_SHIFT))
    return -1;
  while (((size_t) 1 << shift) < len)
    shift++;
  return shift - POOL_MIN_SHIFT;
}

static uint8_t *
pool_alloc (Pool *pool, size_t len)
{
  int c = pool_class (len);
  size_t size;
  uint8_t *slab;
  void *block;

  if (c < 0)
    {
      pool->bytes += len;
      return g_malloc (len);
    }
  if (pool->free[c] == NULL)
    {
      size = (size_t) 1 << (c + POOL_MIN_SHIFT);
      slab = g_malloc (POOL_SLAB_BYTES);
      g_ptr_array_add (pool->slabs, slab);
      pool->bytes += POOL_SLAB_BYTES;
      for (size_t off = 0; off + size <= POOL_SLAB_BYTES; off += size)
        {
          *(void **) (slab + off) = pool->free[c];
          pool->free[c] = slab + off;
        }
    }
  block = pool->free[c];
  pool->free[c] = *(void **) block;
  return block;
}

static void
pool_release (Pool *pool, uint8_t *p, size_t len)
{
  int c = pool_class (len);

  if (c < 0)
    {
      pool->bytes -= len;
      g_free (p);
      return;
    }
  *(void **) p = pool->free[c];
  pool->free[c] = p;
}

/* ---- Events */

enum {
  EV_FRAME = 1,     /* body to node on link arg */
  EV_FRAME_BAD,     /* a frame node's reader refuses (len: BadFrame) */
  EV_TIMER,         /* node's timer, generation arg */
  EV_CONNECT,       /* a link from node to node arg (len: edge + 1 or 0) */
  EV_LINK_DOWN,     /* link arg goes down at node */
  EV_CALL,          /* fn (sim, ptr) */
};

typedef enum {
  BAD_SHORT = 1,
  BAD_EMPTY,
  BAD_TOO_LARGE,
  BAD_LENGTH,
} BadFrame;

typedef struct {
  uint64_t time;
  uint64_t seq;
  void *ptr;
  MeshSimCallFunc fn;
  uint32_t node;
  uint32_t arg;
  uint32_t len;
  uint32_t kind;
} Event;

/* ---- Links, nodes, the simulator */

typedef enum {
  END_DOWN = 0,
  END_UP,
  END_CLOSING,      /* closed here; link_down to this node is scheduled */
} EndState;

typedef struct {
  uint32_t node;
  uint32_t epoch;           /* the node's engine epoch when it came up */
  uint32_t edge;            /* topology edge + 1, or 0 */
  uint8_t state;
  MeshSimLinkParams params; /* this end -> the other */
  MeshSimDirection dir;
  uint64_t queued;          /* bytes on the way from this end */
} LinkEnd;

typedef struct {
  MeshSim *sim;
  uint32_t index;
  MeshIdentity identity;
  void *engine;
  const MeshSimEngineOps *ops;
  uint32_t epoch;           /* bumped by every restart */
  gboolean up;
  gboolean allow_connect;
  uint64_t timer_at;        /* armed timer event, or UINT64_MAX */
  uint32_t timer_gen;
  uint32_t spins;
  size_t max_frame;
  char address[32];
  const char *addresses[2];
  MeshEngineConfig config;
  MeshSimNodeCounters counters;
} Node;

typedef struct {
  uint32_t a, b;
  MeshLinkId link;          /* a's end of the latest link, or 0 */
} Edge;

typedef struct {
  uint32_t a, b;
} Pair;

struct MeshSim {
  MeshSimConfig config;
  MeshSimRng rng;
  uint64_t now;
  uint64_t seq;

  Node *nodes;
  uint32_t n_nodes;
  uint32_t *by_id;          /* node indices sorted by node ID */

  LinkEnd *ends;            /* [0] unused */
  size_t n_ends, cap_ends;

  GArray *edges;            /* Edge */
  GArray *edge_list;        /* uint32_t pairs, for mesh_sim_edges() */
  GArray *pending;          /* Pair: connects scheduled */

  Event *heap;
  size_t heap_len, heap_cap;

  Pool pool;
  MeshSimPartition *partition;

  MeshSimEventFunc event_func;
  void *event_data;
  MeshSimFrameFunc frame_func;
  void *frame_data;

  struct sha256_ctx trace;
  uint8_t trace_buf[4096];
  size_t trace_len;

  MeshSimStats stats;
};

/* ---- Trace */

static void
trace_put (MeshSim *sim, const void *data, size_t len)
{
  if (sim->trace_len + len > sizeof sim->trace_buf)
    {
      sha256_update (&sim->trace, sim->trace_len, sim->trace_buf);
      sim->trace_len = 0;
    }
  memcpy (sim->trace_buf + sim->trace_len, data, len);
  sim->trace_len += len;
}

static void
put_le64 (uint8_t *p, uint64_t v)
{
  v = GUINT64_TO_LE (v);
  memcpy (p, &v, 8);
}

static void
put_le32 (uint8_t *p, uint32_t v)
{
  v = GUINT32_TO_LE (v);
  memcpy (p, &v, 4);
}

static void
trace_event (MeshSim *sim, uint32_t kind, uint32_t node, uint32_t arg,
             uint32_t len)
{
  uint8_t rec[24];

  put_le64 (rec, sim->now);
  put_le32 (rec + 8, kind);
  put_le32 (rec + 12, node);
  put_le32 (rec + 16, arg);
  put_le32 (rec + 20, len);
  trace_put (sim, rec, sizeof rec);
}

static void
trace_engine_event (MeshSim *sim, uint32_t node, const MeshEvent *event)
{
  uint8_t rec[24 + 64] = { 0 };

  put_le64 (rec, sim->now);
  put_le32 (rec + 8, 0x100u + (uint32_t) event->type);
  put_le32 (rec + 12, node);
  put_le32 (rec + 16, event->link);
  put_le32 (rec + 20, event->hops);
  if (event->message_id != NULL)
    memcpy (rec + 24, event->message_id, 32);
  if (event->node_id != NULL)
    memcpy (rec + 56, event->node_id, 32);
  trace_put (sim, rec, sizeof rec);
}

void
mesh_sim_trace_sha256 (const MeshSim *sim, uint8_t out[32])
{
  struct sha256_ctx ctx = sim->trace;

  sha256_update (&ctx, sim->trace_len, sim->trace_buf);
  sha256_digest (&ctx, SHA256_DIGEST_SIZE, out);
}

void
mesh_sim_trace_hex (const MeshSim *sim, char out[65])
{
  static const char hex[] = "0123456789abcdef";
  uint8_t digest[32];

  mesh_sim_trace_sha256 (sim, digest);
  for (int i = 0; i < 32; i++)
    {
      out[2 * i] = hex[digest[i] >> 4];
      out[2 * i + 1] = hex[digest[i] & 15];
    }
  out[64] = '\0';
}

/* ---- Event heap: 4-ary, ordered by (time, seq) */

static inline gboolean
ev_before (const Event *a, const Event *b)
{
  return a->time < b->time || (a->time == b->time && a->seq < b->seq);
}

static void
heap_push (MeshSim *sim, Event ev)
{
  size_t i;

  if (sim->heap_len == sim->heap_cap)
    {
      sim->heap_cap = MAX (sim->heap_cap * 2, 1024);
      sim->heap = g_renew (Event, sim->heap, sim->heap_cap);
    }
  ev.seq = sim->seq++;
  i = sim->heap_len++;
  while (i > 0)
    {
      size_t parent = (i - 1) / 4;
      if (!ev_before (&ev, &sim->heap[parent]))
        break;
      sim->heap[i] = sim->heap[parent];
      i = parent;
    }
  sim->heap[i] = ev;
  sim->stats.queue_len = sim->heap_len;
  if (sim->heap_len > sim->stats.peak_queue_len)
    sim->stats.peak_queue_len = sim->heap_len;
}

static Event
heap_pop (MeshSim *sim)
{
  Event top = sim->heap[0];
  Event last = sim->heap[--sim->heap_len];
  size_t n = sim->heap_len, i = 0;

  while (n > 0)
    {
      size_t first = 4 * i + 1, best;

      if (first >= n)
        break;
      best = first;
      for (size_t c = first + 1; c < first + 4 && c < n; c++)
        if (ev_before (&sim->heap[c], &sim->heap[best]))
          best = c;
      if (!ev_before (&sim->heap[best], &last))
        break;
      sim->heap[i] = sim->heap[best];
      i = best;
    }
  if (n > 0)
    sim->heap[i] = last;
  sim->stats.queue_len = sim->heap_len;
  return top;
}

static void
push_event (MeshSim *sim, uint64_t time, uint32_t kind, uint32_t node,
            uint32_t arg, uint32_t len, void *ptr)
{
  Event ev = {
    .time = MAX (time, sim->now), .ptr = ptr, .node = node, .arg = arg,
    .len = len, .kind = kind,
  };
  heap_push (sim, ev);
}

/* ---- Helpers */

static inline MeshLinkId
peer_end (MeshLinkId link)
{
  return (link & 1) ? link + 1 : link - 1;
}

static LinkEnd *
get_end (const MeshSim *sim, MeshLinkId link)
{
  if (link == MESH_LINK_NONE || link >= sim->n_ends)
    return NULL;
  return &sim->ends[link];
}

static uint64_t
round_trip (const MeshSim *sim)
{
  return 2 * sim->config.link.latency_ns;
}

/* Re-arm node's timer after a call into its engine. */
static void
node_rearm (MeshSim *sim, Node *n, gboolean after_tick)
{
  uint64_t t;

  if (!n->up)
    return;
  t = n->ops->next_timeout (n->engine);
  if (t == UINT64_MAX)
    {
      n->spins = 0;
      return;
    }
  if (after_tick && t <= sim->now)
    {
      if (++n->spins > SIM_MAX_SPINS)
        {
          t = sim->now + SIM_STALL_DELAY_NS;
          n->spins = 0;
          sim->stats.timer_stalls++;
        }
    }
  else if (after_tick)
    n->spins = 0;
  t = MAX (t, sim->now);
  if (t >= n->timer_at)
    return;
  n->timer_at = t;
  n->timer_gen++;
  push_event (sim, t, EV_TIMER, n->index, n->timer_gen, 0, NULL);
}

static void
node_disarm (Node *n)
{
  n->timer_gen++;
  n->timer_at = UINT64_MAX;
}

static void
end_set_down (MeshSim *sim, LinkEnd *e)
{
  if (e->state == END_DOWN)
    return;
  e->state = END_DOWN;
  sim->nodes[e->node].counters.links_up--;
  sim->stats.links_up--;
}

/* Close a link from the end link: that node hears at once, the other
 * end once the close has travelled after the frames before it. */
static void
end_close (MeshSim *sim, MeshLinkId link)
{
  LinkEnd *e = &sim->ends[link];
  LinkEnd *pe = &sim->ends[peer_end (link)];

  if (e->state != END_UP)
    return;
  e->state = END_CLOSING;
  push_event (sim, sim->now, EV_LINK_DOWN, e->node, link, 0, NULL);
  sim->nodes[e->node].counters.closed_by_self++;
  if (pe->state == END_UP)
    {
      push_event (sim, mesh_sim_link_close_arrival (&e->params, &e->dir,
                                                    sim->now),
                  EV_LINK_DOWN, pe->node, peer_end (link), 0, NULL);
      sim->nodes[pe->node].counters.closed_by_peer++;
    }
}

static gboolean
pending_take (MeshSim *sim, uint32_t a, uint32_t b, gboolean remove)
{
  for (guint i = 0; i < sim->pending->len; i++)
    {
      Pair *p = &g_array_index (sim->pending, Pair, i);
      if ((p->a == a && p->b == b) || (p->a == b && p->b == a))
        {
          if (remove)
            g_array_remove_index_fast (sim->pending, i);
          return TRUE;
        }
    }
  return FALSE;
}

static void
schedule_connect (MeshSim *sim, uint32_t a, uint32_t b, uint32_t edge,
                  uint64_t delay)
{
  Pair p = { a, b };

  if (pending_take (sim, a, b, FALSE))
    return;
  g_array_append_val (sim->pending, p);
  push_event (sim, sim->now + delay, EV_CONNECT, a, b, edge, NULL);
}

static gboolean
link_is_up (const MeshSim *sim, MeshLinkId link)
{
  const LinkEnd *e = get_end (sim, link);

  return e != NULL && e->state == END_UP
         && sim->ends[peer_end (link)].state == END_UP;
}

/* ---- Engine callbacks */

static void
sim_send_bytes (MeshSim *sim, MeshLinkId link, const uint8_t *frame,
                size_t len)
{
  LinkEnd *e = &sim->ends[link];
  MeshLinkId plink = peer_end (link);
  LinkEnd *pe = &sim->ends[plink];
  Node *src = &sim->nodes[e->node];
  Node *dst = &sim->nodes[pe->node];
  BadFrame bad = 0;
  size_t body = 0;
  uint64_t arrival;
  uint8_t *copy;

  sim->stats.frames_sent++;
  sim->stats.bytes_sent += len;
  src->counters.frames_sent++;
  src->counters.bytes_sent += len;

  /* What the receiver's frame reader makes of the bytes. */
  if (len < MESH_FRAME_HEADER_LEN)
    bad = BAD_SHORT;
  else
    {
      uint32_t announced = (uint32_t) frame[0] << 24 | (uint32_t) frame[1] << 16
                           | (uint32_t) frame[2] << 8 | frame[3];
      if (announced == 0)
        bad = BAD_EMPTY;
      else if (announced > dst->max_frame)
        bad = BAD_TOO_LARGE;
      else if (announced != len - MESH_FRAME_HEADER_LEN)
        bad = BAD_LENGTH;
      else
        body = announced;
    }

  if (e->queued + body > sim->config.link_queue_max
      || sim->stats.bytes_in_flight + body > sim->config.max_bytes_in_flight)
    {
      sim->stats.frames_dropped_queue++;
      return;
    }
  if (!mesh_sim_link_transmit (&e->params, &e->dir, &sim->rng, sim->now, len,
                               &arrival))
    {
      sim->stats.frames_lost++;
      return;
    }
  if (mesh_sim_partition_blocks (sim->partition, e->node, pe->node))
    {
      sim->stats.frames_blocked++;
      return;
    }
  if (bad != 0)
    {
      push_event (sim, arrival, EV_FRAME_BAD, pe->node, plink, bad, NULL);
      return;
    }
  copy = pool_alloc (&sim->pool, body);
  memcpy (copy, frame + MESH_FRAME_HEADER_LEN, body);
  e->queued += body;
  sim->stats.bytes_in_flight += body;
  if (sim->stats.bytes_in_flight > sim->stats.peak_bytes_in_flight)
    sim->stats.peak_bytes_in_flight = sim->stats.bytes_in_flight;
  push_event (sim, arrival, EV_FRAME, pe->node, plink, (uint32_t) body, copy);
}

/* The link as named by node's engine: its own, of this engine, and up. */
static LinkEnd *
own_end (MeshSim *sim, Node *n, MeshLinkId link)
{
  LinkEnd *e = get_end (sim, link);

  if (e == NULL || e->node != n->index || e->epoch != n->epoch)
    return NULL;
  return e;
}

static void
cb_send_frame (void *user_data, MeshLinkId link, const uint8_t *frame,
               size_t len)
{
  Node *n = user_data;
  MeshSim *sim = n->sim;
  LinkEnd *e = own_end (sim, n, link);

  if (e == NULL || e->state != END_UP)
    {
      sim->stats.frames_dropped_closed++;
      return;
    }
  sim_send_bytes (sim, link, frame, len);
}

static void
cb_close_link (void *user_data, MeshLinkId link, const char *reason)
{
  Node *n = user_data;
  MeshSim *sim = n->sim;
  LinkEnd *e = own_end (sim, n, link);

  sim->stats.closes_by_engine++;
  if (e != NULL)
    end_close (sim, link);
}

static void
cb_connect (void *user_data, const MeshPublicBundle *peer,
            const char *const *addresses, size_t n_addresses)
{
  Node *n = user_data;
  MeshSim *sim = n->sim;
  uint32_t target;

  if (!n->allow_connect)
    return;
  n->counters.connect_requests++;
  sim->stats.connects_requested++;
  target = mesh_sim_find_node (sim, peer->node_id);
  if (target == MESH_SIM_NO_NODE || target == n->index)
    {
      sim->stats.connects_failed++;
      return;
    }
  /* The TLS handshake takes a round trip; the engine hears of the link
   * through link_up, or never if it cannot be made. */
  schedule_connect (sim, n->index, target, 0, round_trip (sim));
}

static void
cb_event (void *user_data, const MeshEvent *event)
{
  Node *n = user_data;
  MeshSim *sim = n->sim;

  sim->stats.engine_events++;
  trace_engine_event (sim, n->index, event);
  if (sim->event_func != NULL)
    sim->event_func (sim, n->index, event, sim->event_data);
}

static void
cb_random (void *user_data, uint8_t *buf, size_t len)
{
  Node *n = user_data;

  mesh_sim_rng_fill (&n->sim->rng, buf, len);
}

static const MeshEngineCallbacks sim_callbacks = {
  .send_frame = cb_send_frame,
  .close_link = cb_close_link,
  .connect = cb_connect,
  .event = cb_event,
  .random = cb_random,
};

/* ---- Links */

static void
grow_ends (MeshSim *sim, size_t need)
{
  if (need <= sim->cap_ends)
    return;
  sim->cap_ends = MAX (need, sim->cap_ends * 2);
  sim->ends = g_renew (LinkEnd, sim->ends, sim->cap_ends);
}

/* A new link between a and b, up at both ends at once. */
static void
open_link (MeshSim *sim, uint32_t a, uint32_t b, uint32_t edge)
{
  Node *na = &sim->nodes[a], *nb = &sim->nodes[b];
  MeshLinkId la, lb;
  GError *error = NULL;

  if (sim->n_ends + 2 >= G_MAXUINT32)
    {
      sim->stats.connects_failed++;
      return;
    }
  grow_ends (sim, sim->n_ends + 2);
  la = (MeshLinkId) sim->n_ends;
  lb = la + 1;
  sim->n_ends += 2;
  for (int i = 0; i < 2; i++)
    {
      LinkEnd *e = &sim->ends[la + i];
      Node *n = i == 0 ? na : nb;

      memset (e, 0, sizeof *e);
      e->node = n->index;
      e->epoch = n->epoch;
      e->edge = edge;
      e->state = END_UP;
      e->params = sim->config.link;
      n->counters.links_up++;
      sim->stats.links_up++;
    }
  sim->stats.links_opened++;
  if (edge > 0)
    g_array_index (sim->edges, Edge, edge - 1).link = la;
  trace_event (sim, 0x80, a, la, b);

  if (!na->ops->link_up (na->engine, la, &nb->identity.pub, sim->now, &error))
    {
      g_debug ("node %u refused link %u to node %u: %s", a, la, b,
               error->message);
      g_clear_error (&error);
      sim->stats.links_refused++;
      end_set_down (sim, &sim->ends[la]);
      end_set_down (sim, &sim->ends[lb]);
      node_rearm (sim, na, FALSE);
      return;
    }
  node_rearm (sim, na, FALSE);
  if (!nb->ops->link_up (nb->engine, lb, &na->identity.pub, sim->now, &error))
    {
      g_debug ("node %u refused link %u to node %u: %s", b, lb, a,
               error->message);
      g_clear_error (&error);
      sim->stats.links_refused++;
      /* b closes the link: a hears of it a latency later. */
      end_set_down (sim, &sim->ends[lb]);
      sim->ends[la].state = END_CLOSING;
      push_event (sim, sim->now + sim->ends[lb].params.latency_ns,
                  EV_LINK_DOWN, a, la, 0, NULL);
    }
  node_rearm (sim, nb, FALSE);
}

/* ---- Event processing */

static const char *
bad_frame_reason (BadFrame bad)
{
  switch (bad)
    {
    case BAD_SHORT: return "stream ended inside a frame header";
    case BAD_EMPTY: return "frame header announces 0 bytes";
    case BAD_TOO_LARGE: return "frame exceeds max-frame-size";
    case BAD_LENGTH: return "frame header does not match the frame";
    default: return "bad frame";
    }
}

static void
process (MeshSim *sim, Event *ev)
{
  Node *n = ev->node < sim->n_nodes ? &sim->nodes[ev->node] : NULL;
  LinkEnd *e;

  sim->stats.events++;
  switch (ev->kind)
    {
    case EV_FRAME:
      {
        MeshLinkId from = peer_end (ev->arg);

        sim->ends[from].queued -= ev->len;
        sim->stats.bytes_in_flight -= ev->len;
        e = &sim->ends[ev->arg];
        if (e->state != END_UP || !n->up || e->epoch != n->epoch)
          sim->stats.frames_dropped_closed++;
        else
          {
            trace_event (sim, EV_FRAME, ev->node, ev->arg, ev->len);
            sim->stats.frames_delivered++;
            sim->stats.bytes_delivered += ev->len;
            n->counters.frames_received++;
            n->counters.bytes_received += ev->len;
            if (sim->frame_func != NULL)
              sim->frame_func (sim, ev->node, ev->arg, ev->ptr, ev->len,
                               sim->frame_data);
            n->ops->receive (n->engine, ev->arg, ev->ptr, ev->len, sim->now);
            node_rearm (sim, n, FALSE);
          }
        pool_release (&sim->pool, ev->ptr, ev->len);
        break;
      }

    case EV_FRAME_BAD:
      e = &sim->ends[ev->arg];
      if (e->state != END_UP || !n->up || e->epoch != n->epoch)
        {
          sim->stats.frames_dropped_closed++;
          break;
        }
      trace_event (sim, EV_FRAME_BAD, ev->node, ev->arg, ev->len);
      sim->stats.frames_rejected++;
      g_debug ("node %u closes link %u: %s", ev->node, ev->arg,
               bad_frame_reason (ev->len));
      end_close (sim, ev->arg);
      break;

    case EV_TIMER:
      if (!n->up || ev->arg != n->timer_gen)
        {
          sim->stats.timers_stale++;
          break;
        }
      trace_event (sim, EV_TIMER, ev->node, 0, 0);
      sim->stats.timers_fired++;
      n->timer_at = UINT64_MAX;
      n->ops->tick (n->engine, sim->now);
      node_rearm (sim, n, TRUE);
      break;

    case EV_CONNECT:
      {
        uint32_t a = ev->node, b = ev->arg;
        Node *nb = &sim->nodes[b];

        pending_take (sim, a, b, TRUE);
        trace_event (sim, EV_CONNECT, a, b, ev->len);
        if (!n->up || !nb->up
            || mesh_sim_partition_blocks (sim->partition, a, b)
            || mesh_sim_partition_blocks (sim->partition, b, a)
            || mesh_sim_find_link (sim, a, b) != MESH_LINK_NONE)
          {
            sim->stats.connects_failed++;
            break;
          }
        if (ev->len == 0)
          sim->stats.connects_made++;
        open_link (sim, a, b, ev->len);
        break;
      }

    case EV_LINK_DOWN:
      e = &sim->ends[ev->arg];
      if (e->state == END_DOWN)
        break;
      trace_event (sim, EV_LINK_DOWN, ev->node, ev->arg, 0);
      end_set_down (sim, e);
      if (n->up && e->epoch == n->epoch)
        {
          n->ops->link_down (n->engine, ev->arg, sim->now);
          node_rearm (sim, n, FALSE);
        }
      break;

    case EV_CALL:
      trace_event (sim, EV_CALL, 0, 0, 0);
      ev->fn (sim, ev->ptr);
      break;

    default:
      g_assert_not_reached ();
    }
}

gboolean
mesh_sim_step (MeshSim *sim)
{
  Event ev;

  if (sim->heap_len == 0)
    return FALSE;
  ev = heap_pop (sim);
  g_assert (ev.time >= sim->now);
  sim->now = ev.time;
  process (sim, &ev);
  return TRUE;
}

void
mesh_sim_run_until (MeshSim *sim, uint64_t t_ns)
{
  while (sim->heap_len > 0 && sim->heap[0].time <= t_ns)
    mesh_sim_step (sim);
  if (t_ns > sim->now)
    sim->now = t_ns;
}

gboolean
mesh_sim_run_until_done (MeshSim *sim, MeshSimDoneFunc done, void *user_data,
                         uint64_t step_ns, uint64_t deadline_ns)
{
  g_return_val_if_fail (step_ns > 0, FALSE);
  for (;;)
    {
      if (done (sim, user_data))
        return TRUE;
      if (sim->now >= deadline_ns)
        return FALSE;
      mesh_sim_run_until (sim, MIN (sim->now + step_ns, deadline_ns));
    }
}

void
mesh_sim_schedule (MeshSim *sim, uint64_t at_ns, MeshSimCallFunc func,
                   void *user_data)
{
  Event ev = {
    .time = MAX (at_ns, sim->now), .ptr = user_data, .fn = func,
    .kind = EV_CALL,
  };
  heap_push (sim, ev);
}

/* ---- Creation */

void
mesh_sim_config_init (MeshSimConfig *config)
{
  memset (config, 0, sizeof *config);
  mesh_sim_link_params_init (&config->link);
  config->engine.wall_epoch_ms = SIM_WALL_EPOCH_MS;
  config->max_bytes_in_flight = SIM_DEFAULT_MAX_IN_FLIGHT;
  config->link_queue_max = SIM_DEFAULT_QUEUE_MAX;
}

void
mesh_sim_node_identity (uint64_t seed, uint32_t index, MeshIdentity *id)
{
  static const char label[] = "meshara/1 sim node";
  uint8_t in[sizeof label - 1 + 12], node_seed[MESH_SEED_LEN];

  memcpy (in, label, sizeof label - 1);
  put_le64 (in + sizeof label - 1, seed);
  put_le32 (in + sizeof label - 1 + 8, index);
  mesh_sha256 (in, sizeof in, node_seed);
  mesh_identity_from_seed (id, node_seed);
  mesh_wipe (node_seed, sizeof node_seed);
}

static gboolean
check_config (const MeshSimConfig *c, GError **error)
{
  const MeshSimEngineOps *o = c->ops;

  if (c->n_nodes < 1 || c->n_nodes > MESH_SIM_MAX_NODES)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
                   "a simulation needs 1 to %d nodes, not %u",
                   MESH_SIM_MAX_NODES, c->n_nodes);
      return FALSE;
    }
  if (o == NULL || o->create == NULL || o->destroy == NULL
      || o->link_up == NULL || o->link_down == NULL || o->receive == NULL
      || o->send_private == NULL || o->broadcast == NULL
      || o->lookup == NULL || o->next_timeout == NULL || o->tick == NULL
      || o->get_stats == NULL)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
                   "the simulation's engine operations are missing or "
                   "incomplete");
      return FALSE;
    }
  if (c->max_bytes_in_flight == 0 || c->link_queue_max == 0)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
                   "max-bytes-in-flight and link-queue-max must be "
                   "positive");
      return FALSE;
    }
  return mesh_sim_link_params_check (&c->link, error);
}

static int
compare_ids (gconstpointer pa, gconstpointer pb, gpointer user_data)
{
  const MeshSim *sim = user_data;
  uint32_t a = *(const uint32_t *) pa, b = *(const uint32_t *) pb;

  return memcmp (sim->nodes[a].identity.pub.node_id,
                 sim->nodes[b].identity.pub.node_id, MESH_NODE_ID_LEN);
}

static void
node_create_engine (MeshSim *sim, Node *n)
{
  n->engine = n->ops->create (&n->identity, &n->config, &sim_callbacks, n,
                              sim->now);
  g_assert (n->engine != NULL);
}

MeshSim *
mesh_sim_new (const MeshSimConfig *config, GError **error)
{
  MeshSim *sim;

  if (!check_config (config, error))
    return NULL;

  sim = g_new0 (MeshSim, 1);
  sim->config = *config;
  sim->config.engine.addresses = NULL;
  mesh_sim_rng_init (&sim->rng, config->seed);
  sha256_init (&sim->trace);
  sim->n_nodes = config->n_nodes;
  sim->nodes = g_new0 (Node, sim->n_nodes);
  sim->by_id = g_new (uint32_t, sim->n_nodes);
  sim->edges = g_array_new (FALSE, FALSE, sizeof (Edge));
  sim->edge_list = g_array_new (FALSE, FALSE, sizeof (uint32_t));
  sim->pending = g_array_new (FALSE, FALSE, sizeof (Pair));
  sim->pool.slabs = g_ptr_array_new_with_free_func (g_free);
  sim->partition = mesh_sim_partition_new (sim->n_nodes);
  sim->n_ends = 1;
  grow_ends (sim, 1024);
  memset (&sim->ends[0], 0, sizeof sim->ends[0]);

  for (uint32_t i = 0; i < sim->n_nodes; i++)
    {
      Node *n = &sim->nodes[i];

      n->sim = sim;
      n->index = i;
      n->ops = config->ops;
      n->up = TRUE;
      n->allow_connect = TRUE;
      n->timer_at = UINT64_MAX;
      mesh_sim_node_identity (config->seed, i, &n->identity);
      g_snprintf (n->address, sizeof n->address, "sim-%u:7000", i);
      n->addresses[0] = n->address;
      n->addresses[1] = NULL;
      n->config = sim->config.engine;
      n->config.addresses = n->addresses;
      n->max_frame = n->config.max_frame_size != 0 ? n->config.max_frame_size
                                                   : MESH_FRAME_MAX_DEFAULT;
      sim->by_id[i] = i;
    }
  g_qsort_with_data (sim->by_id, (gint) sim->n_nodes, sizeof (uint32_t),
                     compare_ids, sim);
  for (uint32_t i = 0; i < sim->n_nodes; i++)
    {
      node_create_engine (sim, &sim->nodes[i]);
      node_rearm (sim, &sim->nodes[i], FALSE);
    }
  return sim;
}

void
mesh_sim_free (MeshSim *sim)
{
  if (sim == NULL)
    return;
  for (size_t i = 0; i < sim->heap_len; i++)
    if (sim->heap[i].kind == EV_FRAME)
      pool_release (&sim->pool, sim->heap[i].ptr, sim->heap[i].len);
  for (uint32_t i = 0; i < sim->n_nodes; i++)
    {
      Node *n = &sim->nodes[i];
      if (n->engine != NULL)
        n->ops->destroy (n->engine);
      mesh_identity_clear (&n->identity);
    }
  g_ptr_array_unref (sim->pool.slabs);
  mesh_sim_partition_free (sim->partition);
  g_array_unref (sim->pending);
  g_array_unref (sim->edge_list);
  g_array_unref (sim->edges);
  g_free (sim->heap);
  g_free (sim->ends);
  g_free (sim->by_id);
  g_free (sim->nodes);
  g_free (sim);
}

/* ---- Accessors */

uint32_t
mesh_sim_n_nodes (const MeshSim *sim)
{
  return sim->n_nodes;
}

uint64_t
mesh_sim_now (const MeshSim *sim)
{
  return sim->now;
}

MeshSimRng *
mesh_sim_rng (MeshSim *sim)
{
  return &sim->rng;
}

void
mesh_sim_set_event_func (MeshSim *sim, MeshSimEventFunc func, void *user_data)
{
  sim->event_func = func;
  sim->event_data = user_data;
}

void
mesh_sim_set_frame_func (MeshSim *sim, MeshSimFrameFunc func, void *user_data)
{
  sim->frame_func = func;
  sim->frame_data = user_data;
}

void
mesh_sim_get_stats (const MeshSim *sim, MeshSimStats *stats)
{
  *stats = sim->stats;
  stats->pool_bytes = sim->pool.bytes;
}

const MeshPublicBundle *
mesh_sim_node_bundle (const MeshSim *sim, uint32_t node)
{
  g_return_val_if_fail (node < sim->n_nodes, NULL);
  return &sim->nodes[node].identity.pub;
}

const char *
mesh_sim_node_address (const MeshSim *sim, uint32_t node)
{
  g_return_val_if_fail (node < sim->n_nodes, NULL);
  return sim->nodes[node].address;
}

void *
mesh_sim_node_engine (MeshSim *sim, uint32_t node)
{
  g_return_val_if_fail (node < sim->n_nodes, NULL);
  return sim->nodes[node].engine;
}

uint32_t
mesh_sim_find_node (const MeshSim *sim, const uint8_t *node_id)
{
  size_t lo = 0, hi = sim->n_nodes;

  while (lo < hi)
    {
      size_t mid = lo + (hi - lo) / 2;
      uint32_t i = sim->by_id[mid];
      int c = memcmp (sim->nodes[i].identity.pub.node_id, node_id,
                      MESH_NODE_ID_LEN);
      if (c == 0)
        return i;
      if (c < 0)
        lo = mid + 1;
      else
        hi = mid;
    }
  return MESH_SIM_NO_NODE;
}

void
mesh_sim_node_stats (const MeshSim *sim, uint32_t node, MeshEngineStats *stats)
{
  const Node *n;

  g_return_if_fail (node < sim->n_nodes);
  n = &sim->nodes[node];
  n->ops->get_stats (n->engine, stats);
}

void
mesh_sim_node_counters (const MeshSim *sim, uint32_t node,
                        MeshSimNodeCounters *counters)
{
  g_return_if_fail (node < sim->n_nodes);
  *counters = sim->nodes[node].counters;
}

gboolean
mesh_sim_node_is_up (const MeshSim *sim, uint32_t node)
{
  g_return_val_if_fail (node < sim->n_nodes, FALSE);
  return sim->nodes[node].up;
}

void
mesh_sim_node_set_connect (MeshSim *sim, uint32_t node, gboolean allow)
{
  g_return_if_fail (node < sim->n_nodes);
  sim->nodes[node].allow_connect = allow;
}

/* ---- Topology and links */

gboolean
mesh_sim_add_edge (MeshSim *sim, uint32_t a, uint32_t b, uint64_t delay_ns)
{
  Edge edge = { MIN (a, b), MAX (a, b), MESH_LINK_NONE };
  uint32_t idx;

  if (a >= sim->n_nodes || b >= sim->n_nodes || a == b)
    return FALSE;
  for (guint i = 0; i < sim->edges->len; i++)
    {
      Edge *x = &g_array_index (sim->edges, Edge, i);
      if (x->a == edge.a && x->b == edge.b)
        return FALSE;
    }
  g_array_append_val (sim->edges, edge);
  g_array_append_val (sim->edge_list, edge.a);
  g_array_append_val (sim->edge_list, edge.b);
  idx = sim->edges->len;
  if (delay_ns == 0)
    {
      if (sim->nodes[a].up && sim->nodes[b].up
          && !mesh_sim_partition_blocks (sim->partition, a, b)
          && !mesh_sim_partition_blocks (sim->partition, b, a))
        open_link (sim, edge.a, edge.b, idx);
    }
  else
    schedule_connect (sim, edge.a, edge.b, idx, delay_ns);
  return TRUE;
}

size_t
mesh_sim_connect_random (MeshSim *sim, uint32_t degree)
{
  size_t n_edges, added = 0;
  uint32_t *edges = mesh_sim_topology_random (sim->n_nodes, degree, &sim->rng,
                                              &n_edges);

  guint before = sim->edges->len;

  /* Distinct by construction; only edges added earlier by
   * mesh_sim_add_edge() can repeat one. */
  for (size_t i = 0; i < n_edges; i++)
    {
      Edge edge = { edges[2 * i], edges[2 * i + 1], MESH_LINK_NONE };
      gboolean dup = FALSE;

      for (guint j = 0; j < before && !dup; j++)
        {
          Edge *x = &g_array_index (sim->edges, Edge, j);
          dup = x->a == edge.a && x->b == edge.b;
        }
      if (dup)
        continue;
      g_array_append_val (sim->edges, edge);
      g_array_append_val (sim->edge_list, edge.a);
      g_array_append_val (sim->edge_list, edge.b);
      if (sim->nodes[edge.a].up && sim->nodes[edge.b].up)
        open_link (sim, edge.a, edge.b, sim->edges->len);
      added++;
    }
  g_free (edges);
  return added;
}

const uint32_t *
mesh_sim_edges (const MeshSim *sim, size_t *n_edges)
{
  *n_edges = sim->edges->len;
  return (const uint32_t *) (void *) sim->edge_list->data;
}

size_t
mesh_sim_node_links (const MeshSim *sim, uint32_t node, MeshLinkId *links,
                     size_t max)
{
  size_t count = 0;

  for (size_t i = 1; i < sim->n_ends; i++)
    if (sim->ends[i].node == node && sim->ends[i].state == END_UP)
      {
        if (count < max)
          links[count] = (MeshLinkId) i;
        count++;
      }
  return count;
}

uint32_t
mesh_sim_link_peer (const MeshSim *sim, MeshLinkId link)
{
  const LinkEnd *e = get_end (sim, link);

  if (e == NULL)
    return MESH_SIM_NO_NODE;
  return sim->ends[peer_end (link)].node;
}

MeshLinkId
mesh_sim_find_link (const MeshSim *sim, uint32_t a, uint32_t b)
{
  for (size_t i = 1; i < sim->n_ends; i++)
    if (sim->ends[i].node == a && link_is_up (sim, (MeshLinkId) i)
        && sim->ends[peer_end ((MeshLinkId) i)].node == b)
      return (MeshLinkId) i;
  return MESH_LINK_NONE;
}

gboolean
mesh_sim_set_link_params (MeshSim *sim, MeshLinkId link,
                          const MeshSimLinkParams *params)
{
  LinkEnd *e = get_end (sim, link);

  if (e == NULL || !mesh_sim_link_params_check (params, NULL))
    return FALSE;
  e->params = *params;
  return TRUE;
}

void
mesh_sim_close_link (MeshSim *sim, MeshLinkId link, const char *reason)
{
  if (get_end (sim, link) == NULL)
    return;
  g_debug ("closing link %u: %s", link, reason ? reason : "(no reason)");
  end_close (sim, link);
}

gboolean
mesh_sim_inject (MeshSim *sim, MeshLinkId link, const uint8_t *frame,
                 size_t len)
{
  LinkEnd *e = get_end (sim, link);

  if (e == NULL || e->state != END_UP || !sim->nodes[e->node].up)
    return FALSE;
  trace_event (sim, 0x81, e->node, link, (uint32_t) MIN (len, G_MAXUINT32));
  sim_send_bytes (sim, link, frame, len);
  return TRUE;
}

/* ---- Partitions */

MeshSimPartition *
mesh_sim_partition (MeshSim *sim)
{
  return sim->partition;
}

void
mesh_sim_apply_partition (MeshSim *sim, gboolean cut)
{
  trace_event (sim, 0x82, 0, cut, 0);
  if (!cut)
    return;
  for (size_t i = 1; i + 1 < sim->n_ends; i += 2)
    {
      LinkEnd *a = &sim->ends[i], *b = &sim->ends[i + 1];

      if (a->state != END_UP && b->state != END_UP)
        continue;
      if (!mesh_sim_partition_blocks (sim->partition, a->node, b->node)
          && !mesh_sim_partition_blocks (sim->partition, b->node, a->node))
        continue;
      /* Both sides give up on the connection. */
      for (int k = 0; k < 2; k++)
        {
          LinkEnd *x = k == 0 ? a : b;
          if (x->state == END_UP)
            {
              x->state = END_CLOSING;
              push_event (sim, sim->now, EV_LINK_DOWN, x->node,
                          (MeshLinkId) (i + k), 0, NULL);
            }
        }
    }
}

static void
reconnect_edges (MeshSim *sim, uint32_t only_node)
{
  for (guint i = 0; i < sim->edges->len; i++)
    {
      Edge *x = &g_array_index (sim->edges, Edge, i);

      if (only_node != MESH_SIM_NO_NODE && x->a != only_node
          && x->b != only_node)
        continue;
      if (!sim->nodes[x->a].up || !sim->nodes[x->b].up)
        continue;
      if (x->link != MESH_LINK_NONE && link_is_up (sim, x->link))
        continue;
      schedule_connect (sim, x->a, x->b, i + 1, round_trip (sim));
    }
}

void
mesh_sim_heal (MeshSim *sim)
{
  trace_event (sim, 0x83, 0, 0, 0);
  mesh_sim_partition_heal (sim->partition);
  reconnect_edges (sim, MESH_SIM_NO_NODE);
}

/* ---- Churn */

void
mesh_sim_node_leave (MeshSim *sim, uint32_t node)
{
  Node *n;
  GArray *down;

  g_return_if_fail (node < sim->n_nodes);
  n = &sim->nodes[node];
  if (!n->up)
    return;
  trace_event (sim, 0x84, node, 0, 0);
  /* Offline first, every link down, and only then the engine hears of
   * it: whatever it sends in answer goes nowhere, as from a crashed
   * host. */
  n->up = FALSE;
  node_disarm (n);
  /* Local: the engine's answers may reach a scenario that makes another
   * node leave. */
  down = g_array_new (FALSE, FALSE, sizeof (MeshLinkId));
  for (size_t i = 1; i < sim->n_ends; i++)
    {
      LinkEnd *e = &sim->ends[i];
      LinkEnd *pe;

      if (e->node != node || e->state == END_DOWN)
        continue;
      pe = &sim->ends[peer_end ((MeshLinkId) i)];
      e->state = END_DOWN;
      n->counters.links_up--;
      sim->stats.links_up--;
      if (pe->state == END_UP)
        push_event (sim, mesh_sim_link_close_arrival (&e->params, &e->dir,
                                                      sim->now),
                    EV_LINK_DOWN, pe->node, peer_end ((MeshLinkId) i), 0,
                    NULL);
      if (e->epoch == n->epoch)
        {
          MeshLinkId id = (MeshLinkId) i;
          g_array_append_val (down, id);
        }
    }
  for (guint k = 0; k < down->len; k++)
    n->ops->link_down (n->engine, g_array_index (down, MeshLinkId, k),
                       sim->now);
  g_array_unref (down);
}

void
mesh_sim_node_join (MeshSim *sim, uint32_t node)
{
  Node *n;

  g_return_if_fail (node < sim->n_nodes);
  n = &sim->nodes[node];
  if (n->up)
    return;
  trace_event (sim, 0x85, node, 0, 0);
  n->up = TRUE;
  n->timer_at = UINT64_MAX;
  node_rearm (sim, n, FALSE);
  reconnect_edges (sim, node);
}

void
mesh_sim_node_restart (MeshSim *sim, uint32_t node)
{
  Node *n;
  gboolean was_up;

  g_return_if_fail (node < sim->n_nodes);
  n = &sim->nodes[node];
  was_up = n->up;
  if (was_up)
    mesh_sim_node_leave (sim, node);
  trace_event (sim, 0x86, node, 0, 0);
  n->ops->destroy (n->engine);
  n->engine = NULL;
  n->epoch++;
  n->counters.restarts++;
  node_create_engine (sim, n);
  if (was_up)
    mesh_sim_node_join (sim, node);
}

/* ---- Commands */

static Node *
command_node (MeshSim *sim, uint32_t node, GError **error)
{
  if (node >= sim->n_nodes)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
                   "node %u does not exist (the simulation has %u)", node,
                   sim->n_nodes);
      return NULL;
    }
  if (!sim->nodes[node].up)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
                   "node %u is offline", node);
      return NULL;
    }
  return &sim->nodes[node];
}

gboolean
mesh_sim_send_private (MeshSim *sim, uint32_t from, uint32_t to,
                       const uint8_t *data, size_t len, uint8_t *id_out,
                       GError **error)
{
  Node *n = command_node (sim, from, error);
  gboolean ok;

  if (n == NULL)
    return FALSE;
  if (to >= sim->n_nodes)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
                   "recipient node %u does not exist", to);
      return FALSE;
    }
  ok = n->ops->send_private (n->engine, &sim->nodes[to].identity.pub, data,
                             len, sim->now, id_out, error);
  node_rearm (sim, n, FALSE);
  return ok;
}

void
mesh_sim_node_rearm (MeshSim *sim, uint32_t node)
{
  g_return_if_fail (sim != NULL);
  g_return_if_fail (node < sim->n_nodes);
  node_rearm (sim, &sim->nodes[node], FALSE);
}

gboolean
mesh_sim_broadcast (MeshSim *sim, uint32_t from, const uint8_t *data,
                    size_t len, const char *content_type, uint8_t *id_out,
                    GError **error)
{
  Node *n = command_node (sim, from, error);
  gboolean ok;

  if (n == NULL)
    return FALSE;
  ok = n->ops->broadcast (n->engine, data, len, content_type, sim->now,
                          id_out, error);
  node_rearm (sim, n, FALSE);
  return ok;
}

gboolean
mesh_sim_lookup (MeshSim *sim, uint32_t from, const uint8_t *node_id,
                 GError **error)
{
  Node *n = command_node (sim, from, error);
  gboolean ok;

  if (n == NULL)
    return FALSE;
  ok = n->ops->lookup (n->engine, node_id, sim->now, error);
  node_rearm (sim, n, FALSE);
  return ok;
}
