/* Simulation scenarios (see scenario.h).
 *
 * Every message a scenario sends carries its own record number in its
 * content, so a delivery is matched to its record whatever message ID a
 * retransmission may carry, and its content and sender are checked
 * against what was sent.  Events at the sender (DELIVERED,
 * DELIVERY_FAILED) name the message ID that send returned; those IDs, and
 * lookup keys, go into a small open-addressing table keyed by SipHash
 * under a key from the run's generator. */
#include "config.h"

#include "sim/scenario.h"

#include "crypto/hash.h"
#include "engine/routes.h"
#include "update/notice.h"
#include "update/package.h"
#include "update/trust.h"
#include "wire/codec.h"

#include <meshara/meshara-error.h>
#include <stdarg.h>
#include <string.h>
#include <sys/resource.h>

#define MS(x) ((uint64_t) (x) * G_GUINT64_CONSTANT (1000000))
#define SEC(x) ((uint64_t) (x) * G_GUINT64_CONSTANT (1000000000))

/* Checks of a phase's outcomes, and how long a finished phase keeps
 * running to catch late duplicates. */
#define STEP_NS MS (100)
#define GRACE_NS SEC (2)
#define SETTLE_NS SEC (2)

#define PAYLOAD_MAGIC "mshrsim1"
#define PAYLOAD_HEADER 12     /* magic (8) and record number (4) */
#define FORGED_MAGIC "mshrfake"

/* ---- The real engine as simulator operations */

static void *
op_create (const MeshIdentity *self, const MeshEngineConfig *config,
           const MeshEngineCallbacks *callbacks, void *user_data,
           uint64_t now_ns)
{
  return mesh_engine_new (self, config, callbacks, user_data, now_ns);
}

static void
op_destroy (void *engine)
{
  mesh_engine_free (engine);
}

static gboolean
op_link_up (void *engine, MeshLinkId link, const MeshPublicBundle *peer,
            uint64_t now_ns, GError **error)
{
  return mesh_engine_link_up (engine, link, peer, now_ns, error);
}

static void
op_link_down (void *engine, MeshLinkId link, uint64_t now_ns)
{
  mesh_engine_link_down (engine, link, now_ns);
}

static void
op_receive (void *engine, MeshLinkId link, const uint8_t *data, size_t len,
            uint64_t now_ns)
{
  mesh_engine_receive (engine, link, data, len, now_ns);
}

static gboolean
op_send_private (void *engine, const MeshPublicBundle *to, const uint8_t *data,
                 size_t len, uint64_t now_ns, uint8_t *id_out, GError **error)
{
  return mesh_engine_send_private (engine, to, data, len, now_ns, id_out,
                                   error);
}

static gboolean
op_broadcast (void *engine, const uint8_t *data, size_t len,
              const char *content_type, uint64_t now_ns, uint8_t *id_out,
              GError **error)
{
  return mesh_engine_broadcast (engine, data, len, content_type, now_ns,
                                id_out, error);
}

static gboolean
op_lookup (void *engine, const uint8_t *node_id, uint64_t now_ns,
           GError **error)
{
  return mesh_engine_lookup (engine, node_id, now_ns, error);
}

static uint64_t
op_next_timeout (const void *engine)
{
  return mesh_engine_next_timeout (engine);
}

static void
op_tick (void *engine, uint64_t now_ns)
{
  mesh_engine_tick (engine, now_ns);
}

static void
op_get_stats (const void *engine, MeshEngineStats *stats)
{
  mesh_engine_get_stats (engine, stats);
}

const MeshSimEngineOps mesh_scenario_engine_ops = {
  .create = op_create,
  .destroy = op_destroy,
  .link_up = op_link_up,
  .link_down = op_link_down,
  .receive = op_receive,
  .send_private = op_send_private,
  .broadcast = op_broadcast,
  .lookup = op_lookup,
  .next_timeout = op_next_timeout,
  .tick = op_tick,
  .get_stats = op_get_stats,
};

/* ---- ID table: 32-byte IDs to record numbers */

typedef struct {
  uint8_t id[32];
  uint32_t value;       /* record number + 1; 0 for an empty slot */
} IdSlot;

typedef struct {
  uint8_t key[MESH_ROUTES_KEY_LEN];
  IdSlot *slots;
  size_t cap, n;        /* cap a power of two */
} IdMap;

static void
idmap_init (IdMap *m, MeshSimRng *rng)
{
  mesh_sim_rng_fill (rng, m->key, sizeof m->key);
  m->cap = 64;
  m->n = 0;
  m->slots = g_new0 (IdSlot, m->cap);
}

static void
idmap_clear (IdMap *m)
{
  g_free (m->slots);
  m->slots = NULL;
}

static void idmap_put (IdMap *m, const uint8_t *id, uint32_t value);

static void
idmap_grow (IdMap *m)
{
  IdSlot *old = m->slots;
  size_t old_cap = m->cap;

  m->cap *= 2;
  m->n = 0;
  m->slots = g_new0 (IdSlot, m->cap);
  for (size_t i = 0; i < old_cap; i++)
    if (old[i].value != 0)
      idmap_put (m, old[i].id, old[i].value - 1);
  g_free (old);
}

static void
idmap_put (IdMap *m, const uint8_t *id, uint32_t value)
{
  size_t i;

  if (2 * (m->n + 1) > m->cap)
    idmap_grow (m);
  i = (size_t) mesh_routes_siphash13 (m->key, id, 32) & (m->cap - 1);
  while (m->slots[i].value != 0)
    {
      if (memcmp (m->slots[i].id, id, 32) == 0)
        {
          m->slots[i].value = value + 1;
          return;
        }
      i = (i + 1) & (m->cap - 1);
    }
  memcpy (m->slots[i].id, id, 32);
  m->slots[i].value = value + 1;
  m->n++;
}

static uint32_t
idmap_get (const IdMap *m, const uint8_t *id)
{
  size_t i = (size_t) mesh_routes_siphash13 (m->key, id, 32) & (m->cap - 1);

  while (m->slots[i].value != 0)
    {
      if (memcmp (m->slots[i].id, id, 32) == 0)
        return m->slots[i].value - 1;
      i = (i + 1) & (m->cap - 1);
    }
  return UINT32_MAX;
}

/* ---- Records */

typedef struct {
  uint8_t id[32];
  uint32_t from, to;
  uint64_t sent_at;
  uint32_t received;    /* deliveries to the recipient */
  uint32_t hops;
  gboolean must;        /* the scenario requires delivery */
  gboolean sent, acked, failed, resolved;
} Priv;

typedef struct {
  uint8_t id[32];
  uint32_t origin;
  uint64_t sent_at;
  uint32_t receptions;  /* distinct */
  uint8_t *seen_by;     /* bitmap of nodes */
} Bcast;

typedef struct {
  uint8_t key[32];
  uint32_t from, target;
  gboolean started, done, ok;
  uint32_t rounds;
  uint64_t latency_ns;
} Lookup;

typedef struct UpdRun UpdRun;

typedef struct {
  const char *name;
  const MeshScenarioParams *p;
  MeshScenarioResult *r;
  MeshSim *sim;
  uint32_t n;
  MeshEngineConfig engine;
  const char *phase;
  uint8_t *payload;

  GArray *priv;          /* Priv */
  IdMap priv_ids;
  uint32_t priv_next;
  GArray *bcast;         /* Bcast */
  uint32_t bcast_next;
  uint64_t bc_expected, bc_delivered;
  GArray *look;          /* Lookup */
  IdMap look_keys;
  uint32_t look_next;

  /* Samples: hops and latency of first private deliveries, of broadcast
   * receptions, rounds and latency of successful lookups. */
  GArray *priv_hops, *priv_lat, *bc_hops, *bc_lat, *lk_rounds, *lk_lat;

  /* hostile */
  uint32_t hostile;      /* MESH_SIM_NO_NODE outside that scenario */
  uint32_t victim;
  uint64_t attack_end;
  uint32_t attack_round;
  GPtrArray *captured;   /* GBytes of frame bodies the hostile received */
  guint captured_next;
  MeshLinkId *attack_links;
  size_t n_attack_links;

  /* The route of the first message that had to arrive and failed, as
   * the engines held it then: what an engine engineer needs first. */
  char fail_route[160];
  /* The same for lookups. */
  char fail_lookup[160];

  UpdRun *upd;           /* update scenarios */
} Run;

static void
fail (Run *run, const char *format, ...) G_GNUC_PRINTF (2, 3);

static void
fail (Run *run, const char *format, ...)
{
  MeshScenarioResult *r = run->r;
  size_t used = strlen (r->detail);
  va_list args;

  r->passed = FALSE;
  if (used + 3 >= sizeof r->detail)
    return;
  if (used > 0)
    {
      strcpy (r->detail + used, "; ");
      used += 2;
    }
  va_start (args, format);
  g_vsnprintf (r->detail + used, sizeof r->detail - used, format, args);
  va_end (args);
}

static void
put_le32 (uint8_t *p, uint32_t v)
{
  v = GUINT32_TO_LE (v);
  memcpy (p, &v, 4);
}

static uint32_t
get_le32 (const uint8_t *p)
{
  uint32_t v;
  memcpy (&v, p, 4);
  return GUINT32_FROM_LE (v);
}

/* The content of record number index: header, then bytes that depend on
 * the index, so a mix-up of contents shows. */
static void
make_payload (uint8_t *out, size_t len, uint32_t index)
{
  uint32_t x = index * 2654435761u + 1;

  memcpy (out, PAYLOAD_MAGIC, 8);
  put_le32 (out + 8, index);
  for (size_t i = PAYLOAD_HEADER; i < len; i++)
    {
      x = x * 1103515245u + 12345u;
      out[i] = (uint8_t) (x >> 16);
    }
}

/* The record number a received payload claims, if it is exactly what
 * that record sent; else UINT32_MAX. */
static uint32_t
check_payload (Run *run, const uint8_t *data, size_t len, uint32_t limit)
{
  uint32_t index;

  if (data == NULL || len != run->p->payload_len
      || memcmp (data, PAYLOAD_MAGIC, 8) != 0)
    return UINT32_MAX;
  index = get_le32 (data + 8);
  if (index >= limit)
    return UINT32_MAX;
  make_payload (run->payload, len, index);
  if (memcmp (run->payload, data, len) != 0)
    return UINT32_MAX;
  return index;
}

static void
lookup_key (uint32_t from, const uint8_t *target, uint8_t out[32])
{
  uint8_t b[4];

  put_le32 (b, from);
  mesh_sha256_2 (b, sizeof b, target, 32, out);
}

static void
add_sample (GArray *a, double v)
{
  g_array_append_val (a, v);
}

static int
compare_double (gconstpointer a, gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

/* Nearest-rank percentile q (0..1) of the samples; 0 without any. */
static double
percentile (GArray *a, double q)
{
  size_t rank;

  if (a->len == 0)
    return 0.0;
  g_array_sort (a, compare_double);
  rank = (size_t) (q * a->len + 0.999999);
  rank = CLAMP (rank, 1, a->len);
  return g_array_index (a, double, rank - 1);
}

/* ---- Events */

static void
on_private_received (Run *run, uint32_t node, const MeshEvent *ev)
{
  uint32_t index = check_payload (run, ev->data, ev->len, run->priv->len);
  Priv *m;

  if (index == UINT32_MAX)
    {
      run->r->misdelivered++;
      return;
    }
  m = &g_array_index (run->priv, Priv, index);
  if (node != m->to || ev->bundle == NULL
      || memcmp (ev->bundle->node_id,
                 mesh_sim_node_bundle (run->sim, m->from)->node_id, 32) != 0)
    {
      run->r->misdelivered++;
      return;
    }
  if (m->received++ > 0)
    {
      run->r->duplicates++;
      return;
    }
  run->r->delivered++;
  m->hops = ev->hops;
  add_sample (run->priv_hops, ev->hops);
  add_sample (run->priv_lat,
              (double) (mesh_sim_now (run->sim) - m->sent_at) / 1e6);
}

/* Follow the engines' routing tables from one node towards another:
 * "3 > 17 > 8 > 22", ending in "> (no route)", "> (loop)" or a link the
 * simulator no longer has up. */
static void
trace_route (Run *run, uint32_t from, uint32_t to, char *out, size_t size)
{
  const uint8_t *target = mesh_sim_node_bundle (run->sim, to)->node_id;
  gboolean *visited = g_new0 (gboolean, run->n);
  uint32_t cur = from;
  size_t used;

  g_snprintf (out, size, "%u", from);
  while (cur != to)
    {
      MeshEngine *e = mesh_sim_node_engine (run->sim, cur);
      MeshLinkId link = MESH_LINK_NONE;
      uint32_t next = MESH_SIM_NO_NODE;
      const char *problem = NULL;

      visited[cur] = TRUE;
      if (!mesh_sim_node_is_up (run->sim, cur))
        problem = "(offline)";
      else if ((link = mesh_engine_route_lookup (e, target)) == MESH_LINK_NONE)
        problem = "(no route)";
      else if ((next = mesh_sim_link_peer (run->sim, link)) == MESH_SIM_NO_NODE
               || mesh_sim_find_link (run->sim, cur, next) != link)
        problem = "(link down)";
      used = strlen (out);
      if (problem != NULL)
        g_snprintf (out + used, size - used, " > %s", problem);
      else
        g_snprintf (out + used, size - used, " > %u%s", next,
                    visited[next] ? " (loop)" : "");
      if (problem != NULL || visited[next])
        break;
      cur = next;
    }
  g_free (visited);
}

static void
on_private_outcome (Run *run, uint32_t node, const MeshEvent *ev)
{
  uint32_t index;
  Priv *m;

  if (ev->message_id == NULL)
    return;
  index = idmap_get (&run->priv_ids, ev->message_id);
  if (index == UINT32_MAX)
    return;
  m = &g_array_index (run->priv, Priv, index);
  if (node != m->from)
    return;
  if (ev->type == MESH_EVENT_DELIVERED)
    {
      if (!m->acked)
        run->r->acked++;
      m->acked = TRUE;
    }
  else
    {
      if (!m->failed)
        g_debug ("%s: message %u from %u to %u failed: %s", run->name,
                 index, m->from, m->to, ev->reason ? ev->reason : "?");
      if (!m->failed && m->must && m->received == 0
          && run->fail_route[0] == '\0')
        {
          int used = g_snprintf (run->fail_route, sizeof run->fail_route,
                                 "%s; route then: ",
                                 ev->reason ? ev->reason : "failed");
          if (used > 0 && (size_t) used < sizeof run->fail_route)
            trace_route (run, m->from, m->to, run->fail_route + used,
                         sizeof run->fail_route - (size_t) used);
        }
      m->failed = TRUE;
    }
  m->resolved = TRUE;
}

static void
on_broadcast (Run *run, uint32_t node, const MeshEvent *ev)
{
  uint32_t index;
  Bcast *b;

  if (ev->data != NULL && ev->len >= 8
      && memcmp (ev->data, FORGED_MAGIC, 8) == 0)
    {
      run->r->forged_accepted++;
      return;
    }
  index = check_payload (run, ev->data, ev->len, run->bcast->len);
  if (index == UINT32_MAX)
    {
      run->r->misdelivered++;
      return;
    }
  b = &g_array_index (run->bcast, Bcast, index);
  if (ev->node_id == NULL
      || memcmp (ev->node_id,
                 mesh_sim_node_bundle (run->sim, b->origin)->node_id, 32) != 0)
    {
      run->r->misdelivered++;
      return;
    }
  if (node == b->origin || (b->seen_by[node / 8] >> (node % 8) & 1))
    {
      run->r->duplicates++;
      return;
    }
  b->seen_by[node / 8] |= (uint8_t) (1u << (node % 8));
  b->receptions++;
  run->bc_delivered++;
  add_sample (run->bc_hops, ev->hops);
  add_sample (run->bc_lat,
              (double) (mesh_sim_now (run->sim) - b->sent_at) / 1e6);
}

static void
on_lookup_done (Run *run, uint32_t node, const MeshEvent *ev)
{
  uint8_t key[32];
  uint32_t index;
  Lookup *l;
  const char *want;
  gboolean address_ok = FALSE;

  if (ev->node_id == NULL)
    return;
  lookup_key (node, ev->node_id, key);
  index = idmap_get (&run->look_keys, key);
  if (index == UINT32_MAX)
    return;
  l = &g_array_index (run->look, Lookup, index);
  if (l->done)
    return;
  l->done = TRUE;
  l->rounds = ev->hops;
  l->latency_ns = ev->latency_ns;
  want = mesh_sim_node_address (run->sim, l->target);
  for (size_t i = 0; i < ev->n_addresses && ev->addresses != NULL; i++)
    {
      if (g_strcmp0 (ev->addresses[i], want) == 0)
        address_ok = TRUE;
      else if (run->hostile != MESH_SIM_NO_NODE)
        /* Honest nodes publish one address each: any other came from
         * the attacker's forged record. */
        run->r->forged_accepted++;
    }
  l->ok = ev->bundle != NULL
          && memcmp (ev->bundle->node_id,
                     mesh_sim_node_bundle (run->sim, l->target)->node_id,
                     32) == 0
          && address_ok;
  if (l->ok)
    {
      run->r->lookups_ok++;
      add_sample (run->lk_rounds, ev->hops);
      add_sample (run->lk_lat, (double) ev->latency_ns / 1e6);
    }
  else
    {
      const char *why = ev->bundle == NULL
                        ? (ev->reason ? ev->reason : "not found")
                        : !address_ok ? "record without the node's address"
                                      : "record of another node";

      g_debug ("%s: lookup %u of node %u from node %u failed: %s", run->name,
               index, l->target, node, why);
      if (run->fail_lookup[0] == '\0')
        g_snprintf (run->fail_lookup, sizeof run->fail_lookup,
                    "lookup of node %u from node %u at %.1f s: %s",
                    l->target, node,
                    (double) mesh_sim_now (run->sim) / 1e9, why);
    }
}

static void on_update_notice (Run *run, uint32_t node, const MeshEvent *ev);
static void on_update_completed (Run *run, uint32_t node, const MeshEvent *ev);
static void on_update_manifest (Run *run, uint32_t node, const MeshEvent *ev);

static void
on_event (MeshSim *sim, uint32_t node, const MeshEvent *ev, void *user_data)
{
  Run *run = user_data;

  switch (ev->type)
    {
    case MESH_EVENT_PRIVATE_RECEIVED:
      on_private_received (run, node, ev);
      break;
    case MESH_EVENT_DELIVERED:
    case MESH_EVENT_DELIVERY_FAILED:
      on_private_outcome (run, node, ev);
      break;
    case MESH_EVENT_BROADCAST_RECEIVED:
      if (run->upd != NULL
          && g_strcmp0 (ev->content_type, MESH_WIRE_CONTENT_TYPE_UPDATE_NOTICE) == 0)
        on_update_notice (run, node, ev);
      else
        on_broadcast (run, node, ev);
      break;
    case MESH_EVENT_UPDATE_COMPLETED:
      if (run->upd != NULL)
        on_update_completed (run, node, ev);
      break;
    case MESH_EVENT_UPDATE_MANIFEST:
      if (run->upd != NULL)
        on_update_manifest (run, node, ev);
      break;
    case MESH_EVENT_LOOKUP_DONE:
      on_lookup_done (run, node, ev);
      break;
    case MESH_EVENT_PEER_MISBEHAVED:
      run->r->misbehaved_events++;
      g_debug ("%s: node %u drops link %u to node %u: %s", run->name, node,
               ev->link, mesh_sim_link_peer (sim, ev->link),
               ev->reason ? ev->reason : "?");
      break;
    default:
      break;
    }
}

/* ---- Progress */

static void
report (Run *run, uint64_t done, uint64_t expected)
{
  if (run->p->progress != NULL)
    run->p->progress (run->name, run->phase, done, expected,
                      mesh_sim_now (run->sim), run->p->progress_data);
}

/* ---- Warm-up */

static uint32_t
nodes_up (Run *run)
{
  uint32_t up = 0;

  for (uint32_t i = 0; i < run->n; i++)
    up += mesh_sim_node_is_up (run->sim, i);
  return up;
}

/* Count the nodes that are up and for which ready_fn holds on their
 * engine statistics; report progress; TRUE when all of them do. */
static gboolean
all_up_ready (Run *run, gboolean (*ready_fn) (const MeshEngineStats *st,
                                              uint32_t up))
{
  uint32_t up = nodes_up (run), ready = 0;

  for (uint32_t i = 0; i < run->n; i++)
    {
      MeshEngineStats st;

      if (!mesh_sim_node_is_up (run->sim, i))
        continue;
      mesh_sim_node_stats (run->sim, i, &st);
      if (ready_fn (&st, up))
        ready++;
    }
  report (run, ready, up);
  return ready == up;
}

static gboolean
has_all_routes (const MeshEngineStats *st, uint32_t up)
{
  return st->routes + 1 >= up;
}

static gboolean
warm_done (MeshSim *sim, void *user_data)
{
  return all_up_ready (user_data, has_all_routes);
}

static void
warm_up (Run *run)
{
  run->phase = "warm-up";
  run->r->converged = mesh_sim_run_until_done (run->sim, warm_done, run,
                                               STEP_NS, run->p->warmup_max_ns);
  run->r->converge_ms = (double) mesh_sim_now (run->sim) / 1e6;
  if (!run->r->converged)
    fail (run, "routes did not converge within %.0f s of virtual time",
          (double) run->p->warmup_max_ns / 1e9);
  mesh_sim_run_until (run->sim, mesh_sim_now (run->sim) + SETTLE_NS);
}

/* Lookups want the contact records in place: every node that is up has
 * finished its first publish (a lookup of its own ID, then STOREs to
 * the closest it found).  Under loss that takes a few request timeouts
 * longer than the routes. */
static gboolean
has_stored_record (const MeshEngineStats *st, uint32_t up)
{
  return st->records_stored > 0;
}

static gboolean
published_done (MeshSim *sim, void *user_data)
{
  return all_up_ready (user_data, has_stored_record);
}

static void
wait_published (Run *run)
{
  run->phase = "publish";
  if (!mesh_sim_run_until_done (run->sim, published_done, run, STEP_NS,
                                mesh_sim_now (run->sim)
                                + run->p->warmup_max_ns))
    fail (run, "contact records not all published within %.0f s of "
          "virtual time", (double) run->p->warmup_max_ns / 1e9);
}

/* ---- Private messages */

static void
plan_private (Run *run, uint32_t from, uint32_t to, gboolean must)
{
  Priv m = { .from = from, .to = to, .must = must };
  g_array_append_val (run->priv, m);
}

static void
send_next_private (MeshSim *sim, void *user_data)
{
  Run *run = user_data;
  uint32_t index = run->priv_next++;
  Priv *m = &g_array_index (run->priv, Priv, index);
  GError *error = NULL;

  make_payload (run->payload, run->p->payload_len, index);
  m->sent_at = mesh_sim_now (sim);
  if (!mesh_sim_send_private (sim, m->from, m->to, run->payload,
                              run->p->payload_len, m->id, &error))
    {
      /* Refused at once: the sender knows, which is not a silent loss. */
      g_debug ("%s: send %u from %u to %u refused: %s", run->name, index,
               m->from, m->to, error->message);
      g_clear_error (&error);
      m->failed = TRUE;
      m->resolved = TRUE;
      return;
    }
  m->sent = TRUE;
  idmap_put (&run->priv_ids, m->id, index);
}

/* Send records first .. end over the next spacing * count. */
static uint64_t
launch_private (Run *run, uint32_t first, uint64_t spacing)
{
  uint64_t t = mesh_sim_now (run->sim);

  for (uint32_t i = first; i < run->priv->len; i++, t += spacing)
    mesh_sim_schedule (run->sim, t, send_next_private, run);
  return t;
}

typedef struct {
  Run *run;
  uint32_t first;
} Range;

static uint32_t
private_resolved (Run *run, uint32_t first)
{
  uint32_t resolved = 0;

  for (uint32_t i = first; i < run->priv->len; i++)
    resolved += g_array_index (run->priv, Priv, i).resolved;
  return resolved;
}

static gboolean
private_done (MeshSim *sim, void *user_data)
{
  Range *range = user_data;
  Run *run = range->run;
  uint32_t total = run->priv->len - range->first;
  uint32_t resolved = private_resolved (run, range->first);

  report (run, resolved, total);
  return run->priv_next >= run->priv->len && resolved == total;
}

/* Run until every record from first on is resolved (acknowledged or
 * failed at its sender) or the phase deadline after last_send. */
static void
wait_private (Run *run, uint32_t first, uint64_t last_send)
{
  Range range = { run, first };

  mesh_sim_run_until_done (run->sim, private_done, &range, STEP_NS,
                           last_send + run->p->phase_deadline_ns);
  mesh_sim_run_until (run->sim, mesh_sim_now (run->sim) + GRACE_NS);
}

/* Count the outcomes of every record; with label, check the must-deliver
 * ones from first on and report what is missing. */
static void
check_private (Run *run, uint32_t first, const char *label)
{
  uint32_t missing = 0, unresolved = 0, example = UINT32_MAX;

  for (uint32_t i = first; i < run->priv->len; i++)
    {
      Priv *m = &g_array_index (run->priv, Priv, i);
      if (m->must && m->received == 0)
        {
          missing++;
          if (example == UINT32_MAX)
            example = i;
        }
      if (!m->resolved)
        unresolved++;
    }
  if (missing > 0)
    {
      Priv *m = &g_array_index (run->priv, Priv, example);
      fail (run, "%s: %u of %u messages not delivered (e.g. %u -> %u: %s)",
            label, missing, run->priv->len - first, m->from, m->to,
            m->failed ? "reported failed" : m->sent ? "no outcome"
                                                    : "refused by send");
      if (run->fail_route[0] != '\0')
        {
          fail (run, "first failure: %s", run->fail_route);
          run->fail_route[0] = '\0';
        }
    }
  if (unresolved > 0)
    fail (run, "%s: %u messages silently lost (neither delivered nor failed "
          "at the sender)", label, unresolved);
}

static void
total_private (Run *run)
{
  MeshScenarioResult *r = run->r;

  r->expected = run->priv->len;
  r->failed = 0;
  r->lost = 0;
  for (uint32_t i = 0; i < run->priv->len; i++)
    {
      Priv *m = &g_array_index (run->priv, Priv, i);
      if (m->failed && m->received == 0)
        r->failed++;
      if (!m->resolved)
        r->lost++;
    }
  r->success_rate = r->expected ? (double) r->delivered / r->expected : 1.0;
  r->hops_p50 = percentile (run->priv_hops, 0.5);
  r->hops_p99 = percentile (run->priv_hops, 0.99);
  r->hops_max = (uint32_t) percentile (run->priv_hops, 1.0);
  r->latency_ms_p50 = percentile (run->priv_lat, 0.5);
  r->latency_ms_p99 = percentile (run->priv_lat, 0.99);
  if (r->duplicates > 0)
    fail (run, "%" G_GUINT64_FORMAT " duplicate deliveries", r->duplicates);
  if (r->misdelivered > 0)
    fail (run, "%" G_GUINT64_FORMAT " deliveries to the wrong node, with "
          "the wrong sender or content", r->misdelivered);
}

static uint32_t
random_node (Run *run, const gboolean *allowed)
{
  for (;;)
    {
      uint32_t i = (uint32_t) mesh_sim_rng_below (mesh_sim_rng (run->sim),
                                                  run->n);
      if (allowed == NULL || allowed[i])
        return i;
    }
}

/* Two distinct nodes, both allowed. */
static void
random_pair (Run *run, const gboolean *allowed, uint32_t *a, uint32_t *b)
{
  *a = random_node (run, allowed);
  do
    *b = random_node (run, allowed);
  while (*b == *a);
}

/* ---- Broadcasts */

static void
send_next_broadcast (MeshSim *sim, void *user_data)
{
  Run *run = user_data;
  uint32_t index = run->bcast_next++;
  Bcast *b = &g_array_index (run->bcast, Bcast, index);
  GError *error = NULL;

  make_payload (run->payload, run->p->payload_len, index);
  b->sent_at = mesh_sim_now (sim);
  if (!mesh_sim_broadcast (sim, b->origin, run->payload, run->p->payload_len,
                           "application/octet-stream", b->id, &error))
    {
      g_debug ("%s: broadcast %u refused: %s", run->name, index,
               error->message);
      g_clear_error (&error);
    }
}

static gboolean
broadcast_done (MeshSim *sim, void *user_data)
{
  Run *run = user_data;

  report (run, run->bc_delivered, run->bc_expected);
  return run->bcast_next >= run->bcast->len
         && run->bc_delivered >= run->bc_expected;
}

/* ---- Lookups */

static gboolean
plan_lookup (Run *run, uint32_t from, uint32_t target)
{
  Lookup l = { .from = from, .target = target };

  lookup_key (from, mesh_sim_node_bundle (run->sim, target)->node_id, l.key);
  if (idmap_get (&run->look_keys, l.key) != UINT32_MAX)
    return FALSE;
  idmap_put (&run->look_keys, l.key, run->look->len);
  g_array_append_val (run->look, l);
  return TRUE;
}

static void
start_next_lookup (MeshSim *sim, void *user_data)
{
  Run *run = user_data;
  Lookup *l = &g_array_index (run->look, Lookup, run->look_next++);
  GError *error = NULL;

  if (!mesh_sim_lookup (sim, l->from,
                        mesh_sim_node_bundle (sim, l->target)->node_id,
                        &error))
    {
      g_debug ("%s: lookup refused: %s", run->name, error->message);
      g_clear_error (&error);
      l->done = TRUE;
      return;
    }
  l->started = TRUE;
}

static uint64_t
launch_lookups (Run *run, uint32_t first, uint64_t spacing)
{
  uint64_t t = mesh_sim_now (run->sim);

  for (uint32_t i = first; i < run->look->len; i++, t += spacing)
    mesh_sim_schedule (run->sim, t, start_next_lookup, run);
  return t;
}

static uint32_t
lookups_finished (Run *run, uint32_t first)
{
  uint32_t done = 0;

  for (uint32_t i = first; i < run->look->len; i++)
    done += g_array_index (run->look, Lookup, i).done;
  return done;
}

static gboolean
lookups_done (MeshSim *sim, void *user_data)
{
  Range *range = user_data;
  Run *run = range->run;
  uint32_t total = run->look->len - range->first;
  uint32_t done = lookups_finished (run, range->first);

  report (run, done, total);
  return run->look_next >= run->look->len && done == total;
}

/* Messages from ranges[0].first and lookups from ranges[1].first. */
static gboolean
everything_done (MeshSim *sim, void *user_data)
{
  Range *ranges = user_data;
  Run *run = ranges[0].run;
  uint32_t total = run->priv->len - ranges[0].first
                   + run->look->len - ranges[1].first;
  uint32_t done = private_resolved (run, ranges[0].first)
                  + lookups_finished (run, ranges[1].first);

  report (run, done, total);
  return run->priv_next >= run->priv->len
         && run->look_next >= run->look->len && done == total;
}

/* Totals; the caller then judges them and may add the first failure
 * with lookup_failure(). */
static void
total_lookups (Run *run)
{
  MeshScenarioResult *r = run->r;

  r->lookups = run->look->len;
  r->dht_success_rate = r->lookups ? (double) r->lookups_ok / r->lookups
                                   : 1.0;
}

static void
lookup_failure (Run *run)
{
  if (run->fail_lookup[0] != '\0')
    fail (run, "first failed %s", run->fail_lookup);
}

/* ---- Scenarios */

static void
scenario_private (Run *run)
{
  const MeshScenarioParams *p = run->p;
  uint64_t last;

  warm_up (run);
  run->phase = "private";
  if (p->all_pairs)
    {
      for (uint32_t a = 0; a < run->n; a++)
        for (uint32_t b = 0; b < run->n; b++)
          if (a != b)
            plan_private (run, a, b, TRUE);
    }
  else
    for (uint32_t i = 0; i < p->messages && run->n > 1; i++)
      {
        uint32_t a, b;
        random_pair (run, NULL, &a, &b);
        plan_private (run, a, b, TRUE);
      }
  last = launch_private (run, 0, MS (1));
  wait_private (run, 0, last);
  check_private (run, 0, "private");
  total_private (run);
  if (run->r->acked != run->r->expected)
    fail (run, "%" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " messages "
          "acknowledged to their sender", run->r->acked, run->r->expected);
}

static void
scenario_broadcast (Run *run)
{
  MeshScenarioResult *r = run->r;
  uint32_t bytes = (run->n + 7) / 8;
  uint64_t t;

  warm_up (run);
  run->phase = "broadcast";
  for (uint32_t i = 0; i < run->p->broadcasts; i++)
    {
      Bcast b = { .origin = random_node (run, NULL) };
      b.seen_by = g_malloc0 (bytes);
      g_array_append_val (run->bcast, b);
    }
  run->bc_expected = (uint64_t) run->p->broadcasts * (run->n - 1);
  t = mesh_sim_now (run->sim);
  for (uint32_t i = 0; i < run->p->broadcasts; i++, t += MS (10))
    mesh_sim_schedule (run->sim, t, send_next_broadcast, run);
  mesh_sim_run_until_done (run->sim, broadcast_done, run, STEP_NS,
                           t + run->p->phase_deadline_ns);
  mesh_sim_run_until (run->sim, mesh_sim_now (run->sim) + GRACE_NS);

  r->expected = run->bc_expected;
  r->delivered = run->bc_delivered;
  r->success_rate = r->expected ? (double) r->delivered / r->expected : 1.0;
  r->hops_p50 = percentile (run->bc_hops, 0.5);
  r->hops_p99 = percentile (run->bc_hops, 0.99);
  r->hops_max = (uint32_t) percentile (run->bc_hops, 1.0);
  r->latency_ms_p50 = percentile (run->bc_lat, 0.5);
  r->latency_ms_p99 = percentile (run->bc_lat, 0.99);
  if (r->delivered != r->expected)
    {
      uint32_t worst = 0;
      for (uint32_t i = 1; i < run->bcast->len; i++)
        if (g_array_index (run->bcast, Bcast, i).receptions
            < g_array_index (run->bcast, Bcast, worst).receptions)
          worst = i;
      fail (run, "%" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " receptions "
            "(broadcast %u reached %u of %u nodes)", r->delivered,
            r->expected, worst,
            g_array_index (run->bcast, Bcast, worst).receptions, run->n - 1);
    }
  if (r->duplicates > 0)
    fail (run, "%" G_GUINT64_FORMAT " duplicate receptions", r->duplicates);
  if (r->misdelivered > 0)
    fail (run, "%" G_GUINT64_FORMAT " receptions with a wrong sender or "
          "content", r->misdelivered);
}

static void
scenario_dht (Run *run)
{
  MeshScenarioResult *r = run->r;
  Range range = { run, 0 };
  uint64_t last;
  uint32_t attempts = 0;

  warm_up (run);
  wait_published (run);
  run->phase = "dht";
  while (run->look->len < run->p->lookups && run->n > 1
         && attempts++ < 16 * run->p->lookups)
    {
      uint32_t a, b;
      random_pair (run, NULL, &a, &b);
      plan_lookup (run, a, b);
    }
  last = launch_lookups (run, 0, MS (2));
  mesh_sim_run_until_done (run->sim, lookups_done, &range, STEP_NS,
                           last + run->p->phase_deadline_ns);

  total_lookups (run);
  r->expected = r->lookups;
  r->delivered = r->lookups_ok;
  r->success_rate = r->dht_success_rate;
  r->hops_p50 = percentile (run->lk_rounds, 0.5);
  r->hops_p99 = percentile (run->lk_rounds, 0.99);
  r->hops_max = (uint32_t) percentile (run->lk_rounds, 1.0);
  r->latency_ms_p50 = percentile (run->lk_lat, 0.5);
  r->latency_ms_p99 = percentile (run->lk_lat, 0.99);
  if (r->success_rate < 0.999)
    {
      fail (run, "%" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " lookups "
            "found the right record (%.2f %%, need 99.9 %%)", r->lookups_ok,
            r->lookups, 100 * r->success_rate);
      lookup_failure (run);
    }
  if (r->hops_p50 > 4)
    fail (run, "median lookup takes %.0f rounds, more than 4", r->hops_p50);
}

/* Components of the topology restricted to the nodes in group g (as the
 * partition cut leaves it): comp[i] for every node of the group. */
static void
group_components (Run *run, const uint8_t *group, uint32_t *comp)
{
  size_t n_edges;
  const uint32_t *edges = mesh_sim_edges (run->sim, &n_edges);
  gboolean changed = TRUE;

  for (uint32_t i = 0; i < run->n; i++)
    comp[i] = i;
  /* Label propagation: small graphs, run once per scenario. */
  while (changed)
    {
      changed = FALSE;
      for (size_t e = 0; e < n_edges; e++)
        {
          uint32_t a = edges[2 * e], b = edges[2 * e + 1];
          uint32_t m = MIN (comp[a], comp[b]);
          if (group[a] != group[b] || (comp[a] == m && comp[b] == m))
            continue;
          comp[a] = comp[b] = m;
          changed = TRUE;
        }
    }
}

/* Messages alternating within and across the halves (random pairs when
 * not split).  must_within: pairs within a half that the split left
 * connected must be delivered; every message must be resolved. */
static void
partition_round (Run *run, const char *label, uint32_t count,
                 const uint8_t *group, const uint32_t *comp,
                 gboolean split, gboolean must_within)
{
  uint32_t first = run->priv->len;
  uint64_t last;

  run->phase = label;
  for (uint32_t i = 0; i < count; i++)
    {
      uint32_t a, b;
      gboolean within;

      do
        random_pair (run, NULL, &a, &b);
      while (split && ((i & 1) ? group[a] == group[b] : group[a] != group[b]));
      within = group[a] == group[b] && comp[a] == comp[b];
      plan_private (run, a, b, !split || (must_within && within));
    }
  last = launch_private (run, first, MS (2));
  wait_private (run, first, last);
  check_private (run, first, label);
}

static void
scenario_partition (Run *run)
{
  MeshSimPartition *part = mesh_sim_partition (run->sim);
  uint32_t count = MAX (run->p->messages / 4, 2);
  uint8_t *group = g_new0 (uint8_t, run->n);
  uint32_t *comp = g_new (uint32_t, run->n);
  uint32_t *order = g_new (uint32_t, run->n);
  uint64_t reconverge = SEC (40);

  warm_up (run);
  for (uint32_t i = 0; i < run->n; i++)
    order[i] = i;
  mesh_sim_rng_shuffle (mesh_sim_rng (run->sim), order, run->n);
  for (uint32_t i = 0; i < run->n; i++)
    group[order[i]] = i < run->n / 2 ? 0 : 1;
  group_components (run, group, comp);

  /* 1: symmetric split, links across cut at both ends. */
  for (uint32_t i = 0; i < run->n; i++)
    mesh_sim_partition_set_group (part, i, group[i]);
  mesh_sim_partition_block_groups (part, 0, 1, TRUE);
  mesh_sim_apply_partition (run->sim, TRUE);
  partition_round (run, "partition split", count, group, comp, TRUE, TRUE);

  /* 2: heal; routes must reconverge and carry everything. */
  mesh_sim_heal (run->sim);
  mesh_sim_run_until (run->sim, mesh_sim_now (run->sim) + reconverge);
  partition_round (run, "partition healed", count, group, comp, FALSE,
                   FALSE);

  /* 3: one-way black hole from half 0 to half 1, links left up: only
   * the engines' keepalive can notice, and routes within a half may run
   * through the other until it does, so nothing has to arrive; but
   * nothing may vanish silently either. */
  for (uint32_t i = 0; i < run->n; i++)
    mesh_sim_partition_set_group (part, i, group[i]);
  mesh_sim_partition_block_groups (part, 0, 1, FALSE);
  mesh_sim_apply_partition (run->sim, FALSE);
  partition_round (run, "partition one-way", count, group, comp, TRUE,
                   FALSE);

  /* 4: heal again. */
  mesh_sim_heal (run->sim);
  mesh_sim_run_until (run->sim, mesh_sim_now (run->sim) + reconverge);
  partition_round (run, "partition healed again", count, group, comp,
                   FALSE, FALSE);

  total_private (run);
  g_free (order);
  g_free (comp);
  g_free (group);
}

typedef struct {
  Run *run;
  uint32_t node;
  gboolean restart;
} ChurnAction;

static void
churn_leave (MeshSim *sim, void *user_data)
{
  ChurnAction *a = user_data;
  mesh_sim_node_leave (sim, a->node);
}

static void
churn_return (MeshSim *sim, void *user_data)
{
  ChurnAction *a = user_data;

  if (a->restart)
    mesh_sim_node_restart (sim, a->node);
  mesh_sim_node_join (sim, a->node);
}

static void
scenario_churn (Run *run)
{
  MeshSimRng *rng = mesh_sim_rng (run->sim);
  uint32_t n_churn = MAX (run->n / 10, 1);
  uint32_t n_restart = (n_churn + 1) / 2;
  uint32_t *order = g_new (uint32_t, run->n);
  gboolean *stable = g_new0 (gboolean, run->n);
  uint32_t *partner = g_new (uint32_t, n_churn);
  ChurnAction *actions = g_new0 (ChurnAction, n_churn);
  uint64_t window = SEC (30), t0, last_back = 0, last;
  uint32_t first, attempts = 0;
  Range ranges[2];

  warm_up (run);
  wait_published (run);
  for (uint32_t i = 0; i < run->n; i++)
    order[i] = i;
  mesh_sim_rng_shuffle (rng, order, run->n);
  for (uint32_t i = n_churn; i < run->n; i++)
    stable[order[i]] = TRUE;
  if (run->n - n_churn < 2)
    {
      fail (run, "churn needs at least 2 stable nodes, %u nodes leave too "
            "few", run->n);
      goto out;
    }

  /* 1: sessions between each restarting node and a stable partner. */
  run->phase = "churn sessions";
  for (uint32_t i = 0; i < n_restart; i++)
    {
      partner[i] = random_node (run, stable);
      plan_private (run, partner[i], order[i], TRUE);
      plan_private (run, order[i], partner[i], TRUE);
    }
  last = launch_private (run, 0, MS (2));
  wait_private (run, 0, last);
  check_private (run, 0, "churn sessions");

  /* 2: churn during traffic between stable nodes and lookups of any
   * node. */
  run->phase = "churn";
  t0 = mesh_sim_now (run->sim);
  for (uint32_t i = 0; i < n_churn; i++)
    {
      uint64_t leave = t0 + mesh_sim_rng_below (rng, window / 2);
      uint64_t back = leave + SEC (5) + mesh_sim_rng_below (rng, SEC (5));

      actions[i] = (ChurnAction) { run, order[i], i < n_restart };
      mesh_sim_schedule (run->sim, leave, churn_leave, &actions[i]);
      mesh_sim_schedule (run->sim, back, churn_return, &actions[i]);
      last_back = MAX (last_back, back);
    }
  first = run->priv->len;
  for (uint32_t i = 0; i < run->p->messages; i++)
    {
      uint32_t a, b;
      random_pair (run, stable, &a, &b);
      plan_private (run, a, b, TRUE);
    }
  while (run->look->len < run->p->lookups && attempts++ < 16 * run->p->lookups)
    {
      uint32_t a = random_node (run, stable), b;
      do
        b = random_node (run, NULL);
      while (b == a);
      plan_lookup (run, a, b);
    }
  launch_private (run, first,
                  window / MAX (run->p->messages, 1));
  launch_lookups (run, 0, window / MAX (run->p->lookups, 1));
  ranges[0] = (Range) { run, first };
  ranges[1] = (Range) { run, 0 };
  mesh_sim_run_until_done (run->sim, everything_done, ranges, STEP_NS,
                           t0 + window + run->p->phase_deadline_ns);
  mesh_sim_run_until (run->sim, MAX (mesh_sim_now (run->sim), last_back)
                                + SEC (10));
  check_private (run, first, "churn traffic");

  /* 3: restarted nodes again, both ways: the stable side's old session
   * is unknown to the new engine and must be re-opened. */
  run->phase = "churn re-open";
  first = run->priv->len;
  for (uint32_t i = 0; i < n_restart; i++)
    {
      plan_private (run, partner[i], order[i], TRUE);
      plan_private (run, order[i], partner[i], TRUE);
    }
  last = launch_private (run, first, MS (2));
  wait_private (run, first, last);
  run->r->reopen_expected = run->priv->len - first;
  for (uint32_t i = first; i < run->priv->len; i++)
    run->r->reopen_delivered += g_array_index (run->priv, Priv, i).received > 0;
  check_private (run, first, "churn re-open");

  total_private (run);
  total_lookups (run);
  if (run->r->dht_success_rate < 0.99)
    {
      fail (run, "%" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " lookups "
            "during churn succeeded (%.2f %%, need 99 %%)",
            run->r->lookups_ok, run->r->lookups,
            100 * run->r->dht_success_rate);
      lookup_failure (run);
    }

out:
  g_free (actions);
  g_free (partner);
  g_free (stable);
  g_free (order);
}

/* ---- The hostile node */

typedef enum {
  ATTACK_GARBAGE,
  ATTACK_OVERSIZED,
  ATTACK_FORGED_BROADCAST,
  ATTACK_FORGED_RECORD,
  N_ATTACKS
} AttackKind;

static uint64_t
wall_ms (Run *run)
{
  return run->engine.wall_epoch_ms + mesh_sim_now (run->sim) / 1000000;
}

/* Give msg its version and ID (into id), and frame it into out; 0 when
 * it does not fit. */
static size_t
frame_message (MeshWireBaseMessage *msg, uint8_t id[MESH_WIRE_ID_LEN],
               uint8_t *out, size_t cap)
{
  gsize written = 0;

  msg->version = MESH_WIRE_PROTOCOL_VERSION;
  msg->message_id.data = NULL;
  msg->message_id.len = 0;
  mesh_wire_compute_message_id (msg, id);
  msg->message_id.data = id;
  msg->message_id.len = MESH_WIRE_ID_LEN;
  if (!mesh_wire_encode_frame_into (msg, MESH_FRAME_MAX_DEFAULT, out, cap,
                                    &written, NULL))
    return 0;
  return written;
}

/* A broadcast claiming to come from the victim, with a signature nobody
 * made. */
static size_t
forge_broadcast (Run *run, uint8_t *out, size_t cap)
{
  MeshWireBaseMessage msg = MESHARA__V1__BASE_MESSAGE__INIT;
  MeshWireRoutingInfo routing = MESHARA__V1__ROUTING_INFO__INIT;
  MeshWireBroadcast bc = MESHARA__V1__BROADCAST_PAYLOAD__INIT;
  const MeshPublicBundle *victim = mesh_sim_node_bundle (run->sim,
                                                         run->victim);
  uint8_t content[32], payload[128], sig[MESH_WIRE_SIG_LEN];
  uint8_t id[MESH_WIRE_ID_LEN];

  memcpy (content, FORGED_MAGIC, 8);
  put_le32 (content + 8, run->attack_round);
  mesh_sim_rng_fill (mesh_sim_rng (run->sim), content + 12,
                     sizeof content - 12);
  bc.content.data = content;
  bc.content.len = sizeof content;
  bc.content_type = (char *) "text/plain";
  msg.payload.data = payload;
  msg.payload.len = mesh_wire_encode_into (&bc.base, payload);
  msg.type = MESH_WIRE_TYPE_BROADCAST;
  msg.timestamp_ms = wall_ms (run);
  msg.sender_public_key.data = (uint8_t *) victim->ed_pub;
  msg.sender_public_key.len = MESH_WIRE_KEY_LEN;
  mesh_sim_rng_fill (mesh_sim_rng (run->sim), sig, sizeof sig);
  msg.signature.data = sig;
  msg.signature.len = sizeof sig;
  routing.max_hops = 16;
  routing.route_type = MESH_WIRE_ROUTE_FLOOD;
  msg.routing = &routing;
  return frame_message (&msg, id, out, cap);
}

/* A contact record for the victim pointing at the attacker's address,
 * with a signature nobody made. */
static size_t
forge_record (Run *run, uint8_t *out, size_t cap)
{
  MeshWireBaseMessage msg = MESHARA__V1__BASE_MESSAGE__INIT;
  MeshWireStore store = MESHARA__V1__STORE__INIT;
  MeshWireContactRecord rec = MESHARA__V1__CONTACT_RECORD__INIT;
  const MeshPublicBundle *victim = mesh_sim_node_bundle (run->sim,
                                                         run->victim);
  uint8_t bundle[MESH_BUNDLE_LEN], sig[MESH_WIRE_SIG_LEN], payload[512];
  uint8_t id[MESH_WIRE_ID_LEN];
  char *addresses[1] = { (char *) "evil-666:7000" };

  mesh_bundle_serialize (victim, bundle);
  rec.node_id.data = (uint8_t *) victim->node_id;
  rec.node_id.len = MESH_WIRE_ID_LEN;
  rec.bundle.data = bundle;
  rec.bundle.len = sizeof bundle;
  rec.n_addresses = 1;
  rec.addresses = addresses;
  /* Newer than the genuine record, to tempt a holder to replace it. */
  rec.timestamp_ms = wall_ms (run) + 1000;
  rec.expires_ms = rec.timestamp_ms + 3600 * 1000;
  mesh_sim_rng_fill (mesh_sim_rng (run->sim), sig, sizeof sig);
  rec.signature.data = sig;
  rec.signature.len = sizeof sig;
  store.record = &rec;
  if (mesh_wire_encoded_size (&store.base) > sizeof payload)
    return 0;
  msg.payload.data = payload;
  msg.payload.len = mesh_wire_encode_into (&store.base, payload);
  msg.type = MESH_WIRE_TYPE_STORE;
  msg.timestamp_ms = wall_ms (run);
  return frame_message (&msg, id, out, cap);
}

static void
on_hostile_frame (MeshSim *sim, uint32_t node, MeshLinkId link,
                  const uint8_t *body, size_t len, void *user_data)
{
  Run *run = user_data;

  if (node != run->hostile || len > 64 * 1024)
    return;
  /* Keep the last 32 frames the attacker saw, to replay them. */
  if (run->captured->len < 32)
    g_ptr_array_add (run->captured, g_bytes_new (body, len));
  else
    {
      guint slot = run->captured_next++ % 32;
      g_bytes_unref (run->captured->pdata[slot]);
      run->captured->pdata[slot] = g_bytes_new (body, len);
    }
}

static void
attack (MeshSim *sim, Run *run, MeshLinkId link, AttackKind kind)
{
  uint8_t frame[1024];
  size_t len = 0;
  size_t max_frame = run->engine.max_frame_size ? run->engine.max_frame_size
                                                : MESH_FRAME_MAX_DEFAULT;

  switch (kind)
    {
    case ATTACK_GARBAGE:
      len = 4 + 200;
      mesh_frame_write_header (frame, 200);
      mesh_sim_rng_fill (mesh_sim_rng (sim), frame + 4, 200);
      break;
    case ATTACK_OVERSIZED:
      /* A header announcing one byte too many: the reader refuses it
       * before reading (or allocating) the body. */
      len = 4;
      mesh_frame_write_header (frame, (uint32_t) MIN (max_frame + 1,
                                                      G_MAXUINT32));
      break;
    case ATTACK_FORGED_BROADCAST:
      len = forge_broadcast (run, frame, sizeof frame);
      break;
    case ATTACK_FORGED_RECORD:
      len = forge_record (run, frame, sizeof frame);
      break;
    default:
      break;
    }
  if (len > 0 && mesh_sim_inject (sim, link, frame, len))
    run->r->attack_frames++;
}

static void
replay (MeshSim *sim, Run *run, MeshLinkId link)
{
  GBytes *b;
  gsize len;
  const uint8_t *body;
  uint8_t *frame;

  if (run->captured->len == 0)
    return;
  b = run->captured->pdata[run->attack_round % run->captured->len];
  body = g_bytes_get_data (b, &len);
  frame = g_malloc (len + 4);
  mesh_frame_write_header (frame, (uint32_t) len);
  memcpy (frame + 4, body, len);
  if (mesh_sim_inject (sim, link, frame, len + 4))
    run->r->attack_frames++;
  g_free (frame);
}

static void
attack_tick (MeshSim *sim, void *user_data)
{
  Run *run = user_data;
  MeshLinkId links[256];
  size_t n = mesh_sim_node_links (sim, run->hostile, links,
                                  G_N_ELEMENTS (links));

  n = MIN (n, G_N_ELEMENTS (links));
  for (size_t i = 0; i < n; i++)
    {
      /* Each link gets one kind of attack, so that every kind has to be
       * noticed on its own; all get replays. */
      AttackKind kind = (AttackKind) (links[i] % N_ATTACKS);
      for (size_t k = 0; k < run->n_attack_links; k++)
        if (run->attack_links[k] == links[i])
          kind = (AttackKind) (k % N_ATTACKS);
      attack (sim, run, links[i], kind);
      replay (sim, run, links[i]);
    }
  run->attack_round++;
  if (mesh_sim_now (sim) + MS (50) < run->attack_end)
    mesh_sim_schedule (sim, mesh_sim_now (sim) + MS (50), attack_tick, run);
}

static void
check_limits (Run *run)
{
  const MeshEngineConfig *c = &run->engine;

  run->r->limits_ok = TRUE;
  for (uint32_t i = 0; i < run->n; i++)
    {
      MeshEngineStats st;

      if (i == run->hostile)
        continue;
      mesh_sim_node_stats (run->sim, i, &st);
      if ((c->max_links && st.links > c->max_links)
          || (c->max_routes && st.routes > c->max_routes)
          || (c->max_pending && st.pending > c->max_pending)
          || (c->max_sessions && (st.sessions_in > c->max_sessions
                                  || st.sessions_out > c->max_sessions))
          || (c->seen_capacity && st.seen > c->seen_capacity))
        {
          fail (run, "node %u exceeds a configured table limit (links %u, "
                "routes %u, pending %u, sessions %u/%u, seen %u)", i,
                st.links, st.routes, st.pending, st.sessions_in,
                st.sessions_out, st.seen);
          run->r->limits_ok = FALSE;
          return;
        }
    }
}

static void
scenario_hostile (Run *run)
{
  MeshScenarioResult *r = run->r;
  gboolean *honest = g_new (gboolean, run->n);
  MeshLinkId links[256];
  uint32_t first, n_lookups = 0;
  uint64_t attack_len = SEC (15), last;
  Range range;

  if (run->n < 3)
    {
      fail (run, "the hostile scenario needs at least 3 nodes");
      g_free (honest);
      return;
    }
  run->hostile = random_node (run, NULL);
  for (uint32_t i = 0; i < run->n; i++)
    honest[i] = i != run->hostile;
  run->victim = random_node (run, honest);
  /* The attacker's own connect requests are not the test. */
  mesh_sim_node_set_connect (run->sim, run->hostile, FALSE);
  mesh_sim_set_frame_func (run->sim, on_hostile_frame, run);

  warm_up (run);
  wait_published (run);

  run->n_attack_links = MIN (mesh_sim_node_links (run->sim, run->hostile,
                                                  links, G_N_ELEMENTS (links)),
                             G_N_ELEMENTS (links));
  run->attack_links = g_memdup2 (links, run->n_attack_links * sizeof *links);
  r->hostile_peers = (uint32_t) run->n_attack_links;
  run->attack_end = mesh_sim_now (run->sim) + attack_len;
  run->phase = "hostile";
  attack_tick (run->sim, run);

  /* Honest traffic during the attack. */
  first = run->priv->len;
  for (uint32_t i = 0; i < run->p->messages; i++)
    {
      uint32_t a, b;
      random_pair (run, honest, &a, &b);
      plan_private (run, a, b, TRUE);
    }
  last = launch_private (run, first,
                         (attack_len - SEC (5)) / MAX (run->p->messages, 1));
  wait_private (run, first, MAX (last, run->attack_end));
  mesh_sim_run_until (run->sim, MAX (mesh_sim_now (run->sim),
                                     run->attack_end + SEC (1)));
  check_private (run, first, "hostile traffic");

  {
    static const char *const attack_names[N_ATTACKS] = {
      "garbage frames", "oversized frames", "forged broadcasts",
      "forged DHT records",
    };
    MeshSimNodeCounters hc;
    uint32_t kept = 0;

    for (size_t k = 0; k < run->n_attack_links; k++)
      {
        uint32_t peer = mesh_sim_link_peer (run->sim, run->attack_links[k]);

        if (mesh_sim_find_link (run->sim, run->hostile, peer)
            != run->attack_links[k])
          r->hostile_disconnected++;
        else if (kept++ < 3)
          fail (run, "node %u kept its link to the hostile node through "
                "%.0f s of %s and replays", peer, (double) attack_len / 1e9,
                attack_names[k % N_ATTACKS]);
      }
    mesh_sim_node_counters (run->sim, run->hostile, &hc);
    if (kept == 0 && hc.closed_by_peer < r->hostile_peers)
      fail (run, "the hostile node's links went down, but only %u were "
            "closed by its peers", hc.closed_by_peer);
  }

  /* Forged records must not have displaced the victim's. */
  run->phase = "hostile lookups";
  for (uint32_t attempts = 0; n_lookups < 20 && attempts < 200; attempts++)
    {
      uint32_t from = random_node (run, honest);
      if (from != run->victim && plan_lookup (run, from, run->victim))
        n_lookups++;
    }
  last = launch_lookups (run, 0, MS (10));
  range = (Range) { run, 0 };
  mesh_sim_run_until_done (run->sim, lookups_done, &range, STEP_NS,
                           last + run->p->phase_deadline_ns);
  total_lookups (run);
  if (r->lookups_ok < r->lookups)
    {
      fail (run, "%" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " lookups of "
            "the victim found its genuine record", r->lookups_ok, r->lookups);
      lookup_failure (run);
    }
  if (r->forged_accepted > 0)
    fail (run, "%" G_GUINT64_FORMAT " forged broadcasts or records were "
          "accepted", r->forged_accepted);

  total_private (run);
  check_limits (run);
  g_free (honest);
}

/* ---- Update distribution */

/* The chunk store of one node: which chunks it holds, as bits; the bytes
 * are the one copy of the package every node shares, so a 10 MiB update
 * on 1,000 nodes costs 10 MiB, not 10 GiB. */
typedef struct {
  Run *run;
  uint32_t node;
} UpdStore;

struct UpdRun {
  guint8 *data;                 /* the package */
  gsize size;
  GBytes *manifest;             /* signed, encoded */
  MeshWireUpdateManifest *m;
  uint8_t id[MESH_SHA256_LEN];
  MeshTrustStore *trust;
  uint32_t authority, malicious;
  uint32_t n_chunks, row;       /* bytes of bitmap per node */
  uint8_t *held;                /* n * row */
  UpdStore *stores;
  uint8_t *announced;           /* per node: notice accepted */
  uint8_t *completed;           /* per node */
  uint64_t published_at;
  uint64_t announce_reached, completed_count, interested;
  uint64_t last_done_ns;
  uint64_t corrupt_stored;      /* chunks kept that differ from the package */
  uint64_t notices_rejected;
  uint64_t manifests_rejected, query_failures;
  uint8_t *queries;             /* per node: manifest queries sent */
};

static gboolean
upd_has (void *store, const uint8_t *update_id, uint32_t index)
{
  UpdStore *s = store;
  UpdRun *u = s->run->upd;

  if (memcmp (update_id, u->id, MESH_SHA256_LEN) != 0 || index >= u->n_chunks)
    return FALSE;
  return u->held[(size_t) s->node * u->row + index / 8] >> (index % 8) & 1;
}

static GBytes *
upd_get (void *store, const uint8_t *update_id, uint32_t index)
{
  UpdStore *s = store;
  UpdRun *u = s->run->upd;
  gsize off = (gsize) index * u->m->chunk_size;
  gsize len;
  guint8 *bad;

  if (!upd_has (store, update_id, index))
    return NULL;
  len = MIN ((gsize) u->m->chunk_size, u->size - off);
  if (s->node != u->malicious)
    return g_bytes_new_static (u->data + off, len);
  bad = g_memdup2 (u->data + off, len);
  bad[len / 3] ^= 0xa5;
  return g_bytes_new_take (bad, len);
}

static gboolean
upd_put (void *store, const uint8_t *update_id, uint32_t index,
         const uint8_t *data, size_t len)
{
  UpdStore *s = store;
  UpdRun *u = s->run->upd;
  gsize off = (gsize) index * u->m->chunk_size;

  if (memcmp (update_id, u->id, MESH_SHA256_LEN) != 0 || index >= u->n_chunks)
    return FALSE;
  if (len != MIN ((gsize) u->m->chunk_size, u->size - off)
      || memcmp (data, u->data + off, len) != 0)
    u->corrupt_stored++;
  u->held[(size_t) s->node * u->row + index / 8] |= (uint8_t) (1u << (index % 8));
  return TRUE;
}

static const MeshChunkStoreFuncs upd_store_funcs = { upd_has, upd_get, upd_put };

#define UPD_MAX_QUERIES 5

/* Ask the authority for the manifest (its engine answers). */
static void
upd_query (Run *run, uint32_t node)
{
  UpdRun *u = run->upd;
  g_autoptr (GError) error = NULL;

  if (u->queries[node] >= UPD_MAX_QUERIES)
    {
      fail (run, "node %u got no manifest in %d queries", node, UPD_MAX_QUERIES);
      return;
    }
  u->queries[node]++;
  if (!mesh_engine_update_query_manifest (mesh_sim_node_engine (run->sim, node),
                                          mesh_sim_node_bundle (run->sim, u->authority),
                                          u->id, mesh_sim_now (run->sim), &error))
    fail (run, "node %u cannot ask for the manifest: %s", node, error->message);
}

/* The answer to a manifest query: checked (its ID, k of n, the version)
 * and fetched; no answer: asked again. */
static void
on_update_manifest (Run *run, uint32_t node, const MeshEvent *ev)
{
  UpdRun *u = run->upd;
  g_autoptr (MeshWireUpdateManifest) m = NULL;
  g_autoptr (GError) error = NULL;
  uint8_t id[MESH_SHA256_LEN];

  if (ev->data == NULL)
    {
      u->query_failures++;
      g_debug ("update: node %u: %s", node, ev->reason ? ev->reason : "?");
      upd_query (run, node);
      return;
    }
  m = mesh_update_manifest_parse (ev->data, ev->len, &error);
  if (m != NULL)
    mesh_update_manifest_digest (m, id);
  if (m == NULL || memcmp (id, u->id, MESH_SHA256_LEN) != 0
      || !mesh_update_manifest_verify (m, u->trust, 1, NULL, &error))
    {
      u->manifests_rejected++;
      fail (run, "node %u rejects the manifest it was sent: %s", node,
            error ? error->message : "another ID");
      return;
    }
  if (!mesh_engine_update_add (mesh_sim_node_engine (run->sim, node), u->id,
                               ev->data, ev->len, TRUE, mesh_sim_now (run->sim),
                               &error))
    fail (run, "node %u cannot fetch the update: %s", node, error->message);
}

/* A node hears the notice: checked k of n against its trust store, then
 * the manifest is asked of the authority. */
static void
on_update_notice (Run *run, uint32_t node, const MeshEvent *ev)
{
  UpdRun *u = run->upd;
  g_autoptr (MeshWireUpdateNotice) notice = NULL;
  g_autoptr (GError) error = NULL;

  if (node >= run->n || u->announced[node])
    {
      run->r->duplicates++;
      return;
    }
  notice = mesh_update_notice_parse (ev->data, ev->len, &error);
  if (notice == NULL
      || !mesh_update_notice_verify (notice, u->trust, 1, &error)
      || memcmp (notice->manifest_id.data, u->id, MESH_SHA256_LEN) != 0)
    {
      u->notices_rejected++;
      g_debug ("update: node %u rejects the notice: %s", node,
               error ? error->message : "?");
      return;
    }
  u->announced[node] = 1;
  u->announce_reached++;
  add_sample (run->bc_hops, ev->hops);
  if (node == u->authority || node == u->malicious)
    return;
  upd_query (run, node);
}

static void
on_update_completed (Run *run, uint32_t node, const MeshEvent *ev)
{
  UpdRun *u = run->upd;
  uint64_t t = mesh_sim_now (run->sim);

  if (ev->message_id == NULL
      || memcmp (ev->message_id, u->id, MESH_SHA256_LEN) != 0
      || node >= run->n || u->completed[node])
    {
      run->r->misdelivered++;
      return;
    }
  u->completed[node] = 1;
  u->completed_count++;
  u->last_done_ns = MAX (u->last_done_ns, t);
  add_sample (run->bc_lat, (double) (t - u->published_at) / 1e6);
}

static gboolean
update_done (MeshSim *sim, void *user_data)
{
  Run *run = user_data;

  report (run, run->upd->completed_count, run->upd->interested);
  return run->upd->completed_count >= run->upd->interested;
}

static void
upd_setup_node (Run *run, uint32_t node, gboolean holds_all)
{
  UpdRun *u = run->upd;
  MeshEngine *e = mesh_sim_node_engine (run->sim, node);

  u->stores[node].run = run;
  u->stores[node].node = node;
  mesh_engine_set_chunk_store (e, &upd_store_funcs, &u->stores[node]);
  if (holds_all)
    {
      g_autoptr (GError) error = NULL;

      memset (u->held + (size_t) node * u->row, 0xff, u->row);
      if (!mesh_engine_update_add (e, u->id, g_bytes_get_data (u->manifest, NULL),
                                   g_bytes_get_size (u->manifest), FALSE,
                                   mesh_sim_now (run->sim), &error))
        fail (run, "node %u cannot serve the update: %s", node, error->message);
    }
}

static void
upd_free (UpdRun *u)
{
  if (u == NULL)
    return;
  g_free (u->data);
  if (u->manifest)
    g_bytes_unref (u->manifest);
  mesh_wire_free (u->m);
  if (u->trust)
    mesh_trust_store_free (u->trust);
  g_free (u->held);
  g_free (u->stores);
  g_free (u->announced);
  g_free (u->completed);
  g_free (u->queries);
  g_free (u);
}

/* Build the package and its manifest signed by the authority, and the
 * trust store every node holds. */
static gboolean
upd_prepare (Run *run, gboolean with_malicious)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) unsigned_m = NULL;
  MeshUpdateInfo info = { .name = "sim-app", .version = 2,
                          .version_label = "2.0", .changelog = "simulated" };
  MeshIdentity authority;
  UpdRun *u = g_new0 (UpdRun, 1);

  run->upd = u;
  u->size = run->p->update_size;
  u->data = g_malloc (u->size);
  mesh_sim_rng_fill (mesh_sim_rng (run->sim), u->data, u->size);
  u->authority = random_node (run, NULL);
  u->malicious = MESH_SIM_NO_NODE;
  if (with_malicious)
    do
      u->malicious = random_node (run, NULL);
    while (u->malicious == u->authority);
  mesh_sim_node_identity (run->p->seed, u->authority, &authority);
  unsigned_m = mesh_update_manifest_build (&info, u->data, u->size, &error);
  if (unsigned_m != NULL)
    u->manifest = mesh_update_manifest_sign (g_bytes_get_data (unsigned_m, NULL),
                                             g_bytes_get_size (unsigned_m),
                                             &authority, &error);
  if (u->manifest != NULL)
    u->m = mesh_update_manifest_parse (g_bytes_get_data (u->manifest, NULL),
                                       g_bytes_get_size (u->manifest), &error);
  u->trust = mesh_trust_store_new ();
  if (u->m == NULL
      || !mesh_trust_store_add (u->trust, authority.pub.ed_pub, "sim authority",
                                NULL, NULL, MESH_TRUST_UPDATE, 0, &error))
    {
      fail (run, "cannot build the update: %s", error->message);
      mesh_identity_clear (&authority);
      return FALSE;
    }
  mesh_identity_clear (&authority);
  mesh_update_manifest_digest (u->m, u->id);
  u->n_chunks = (uint32_t) u->m->n_chunk_hashes;
  u->row = (u->n_chunks + 7) / 8;
  u->held = g_malloc0 ((size_t) run->n * u->row);
  u->stores = g_new0 (UpdStore, run->n);
  u->announced = g_malloc0 (run->n);
  u->completed = g_malloc0 (run->n);
  u->queries = g_malloc0 (run->n);
  u->interested = run->n - 1 - (with_malicious ? 1 : 0);
  return TRUE;
}

/* The authority announces a signed update; every other node (but the
 * malicious one, which serves corrupted copies of every chunk from the
 * start) fetches it from its neighbours. */
static void
scenario_update_common (Run *run, gboolean with_malicious)
{
  MeshScenarioResult *r = run->r;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) notice = NULL;
  GArray *served;
  uint64_t bad = 0;

  warm_up (run);
  if (!upd_prepare (run, with_malicious))
    return;
  run->phase = "update";
  for (uint32_t i = 0; i < run->n; i++)
    upd_setup_node (run, i, i == run->upd->authority || i == run->upd->malicious);
  notice = mesh_update_notice_build (run->upd->m, &error);
  run->upd->published_at = mesh_sim_now (run->sim);
  if (notice == NULL
      || !mesh_sim_broadcast (run->sim, run->upd->authority,
                              g_bytes_get_data (notice, NULL),
                              g_bytes_get_size (notice),
                              MESH_WIRE_CONTENT_TYPE_UPDATE_NOTICE, NULL, &error))
    {
      fail (run, "cannot announce the update: %s", error->message);
      return;
    }
  /* The authority knows its own notice. */
  run->upd->announced[run->upd->authority] = 1;
  run->upd->announce_reached++;
  for (uint32_t i = 0; i < run->n; i++)
    mesh_sim_node_rearm (run->sim, i);
  mesh_sim_run_until_done (run->sim, update_done, run, STEP_NS,
                           mesh_sim_now (run->sim) + run->p->phase_deadline_ns);
  mesh_sim_run_until (run->sim, mesh_sim_now (run->sim) + GRACE_NS);

  served = g_array_new (FALSE, FALSE, sizeof (double));
  for (uint32_t i = 0; i < run->n; i++)
    {
      MeshEngineStats st;

      mesh_sim_node_stats (run->sim, i, &st);
      if (i != run->upd->malicious)
        add_sample (served, (double) st.chunks_served);
      bad += st.chunks_bad;
    }
  r->expected = run->upd->interested;
  r->delivered = run->upd->completed_count;
  r->success_rate = r->expected ? (double) r->delivered / r->expected : 1.0;
  r->hops_p50 = percentile (run->bc_hops, 0.5);
  r->hops_p99 = percentile (run->bc_hops, 0.99);
  r->hops_max = (uint32_t) percentile (run->bc_hops, 1.0);
  r->latency_ms_p50 = percentile (run->bc_lat, 0.5);
  r->latency_ms_p99 = percentile (run->bc_lat, 0.99);
  r->update_bytes = run->upd->size;
  r->update_chunks = run->upd->n_chunks;
  r->announce_expected = run->n;
  r->announce_reached = run->upd->announce_reached;
  r->update_last_ms = run->upd->last_done_ns > run->upd->published_at
                      ? (double) (run->upd->last_done_ns
                                  - run->upd->published_at) / 1e6 : 0;
  r->chunks_served_p50 = percentile (served, 0.5);
  r->chunks_served_max = (uint64_t) percentile (served, 1.0);
  r->bad_chunks = bad;
  g_array_unref (served);

  if (r->announce_reached != r->announce_expected)
    fail (run, "the notice reached %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
          " nodes (%" G_GUINT64_FORMAT " rejected)", r->announce_reached,
          r->announce_expected, run->upd->notices_rejected);
  if (r->delivered != r->expected)
    fail (run, "%" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " interested "
          "nodes hold the whole update", r->delivered, r->expected);
  if (run->upd->corrupt_stored > 0)
    fail (run, "%" G_GUINT64_FORMAT " corrupt chunks were kept",
          run->upd->corrupt_stored);
  /* Every node that completed holds every chunk, and the package its
   * chunks make matches the manifest's checksum. */
  for (uint32_t i = 0; i < run->n; i++)
    if (run->upd->completed[i])
      for (uint32_t j = 0; j < run->upd->n_chunks; j++)
        if (!upd_has (&run->upd->stores[i], run->upd->id, j))
          {
            fail (run, "node %u completed without chunk %u", i, j);
            i = run->n;
            break;
          }
  if (!mesh_update_verify_data (run->upd->m, run->upd->data, run->upd->size,
                                &error))
    fail (run, "the package does not match its manifest: %s", error->message);
  if (with_malicious && bad == 0)
    fail (run, "no corrupted chunk of the malicious node was ever received");
  if (r->misdelivered > 0)
    fail (run, "%" G_GUINT64_FORMAT " unexpected update events", r->misdelivered);
}

static void
scenario_update (Run *run)
{
  scenario_update_common (run, FALSE);
}

static void
scenario_update_hostile (Run *run)
{
  scenario_update_common (run, TRUE);
}

/* ---- Running */

typedef void (*ScenarioFunc) (Run *run);

static const struct {
  const char *name;
  ScenarioFunc func;
} scenarios[] = {
  { "private", scenario_private },
  { "broadcast", scenario_broadcast },
  { "dht", scenario_dht },
  { "partition", scenario_partition },
  { "churn", scenario_churn },
  { "hostile", scenario_hostile },
  /* Not in scenario_names, so not in "all": a 10 MiB update to 1,000
   * nodes is minutes of computing. */
  { "update", scenario_update },
  { "update-hostile", scenario_update_hostile },
};

static const char *const scenario_names[] = {
  "private", "broadcast", "dht", "partition", "churn", "hostile", NULL
};

const char *const *
mesh_scenario_names (void)
{
  return scenario_names;
}

gboolean
mesh_scenario_exists (const char *name)
{
  for (gsize i = 0; i < G_N_ELEMENTS (scenarios); i++)
    if (g_strcmp0 (scenarios[i].name, name) == 0)
      return TRUE;
  return FALSE;
}

void
mesh_scenario_params_init (MeshScenarioParams *params)
{
  memset (params, 0, sizeof *params);
  params->nodes = 100;
  params->degree = 6;
  params->seed = 1;
  mesh_sim_link_params_init (&params->link);
  params->messages = 1000;
  params->broadcasts = 100;
  params->lookups = 1000;
  params->payload_len = 64;
  params->warmup_max_ns = SEC (120);
  params->phase_deadline_ns = SEC (120);
  params->update_size = 10 * 1024 * 1024;
}

void
mesh_scenario_engine_config (MeshEngineConfig *config)
{
  MeshSimConfig sim_config;

  mesh_engine_config_init (config);
  mesh_sim_config_init (&sim_config);
  config->wall_epoch_ms = sim_config.engine.wall_epoch_ms;
  /* Each engine allocates its two seen-caches at full capacity (56 bytes
   * an entry): the default 65,536 is 7 MiB a node, 7 GiB at 1,000 nodes.
   * A node of a scenario handles a few thousand routed messages in ten
   * minutes (seen_max_age), so 8,192 loses nothing. */
  config->seen_capacity = 8192;
}

static gboolean
check_params (const MeshScenarioParams *p, GError **error)
{
  if (p->nodes < 2 || p->nodes > MESH_SIM_MAX_NODES)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
                   "a scenario needs 2 to %d nodes, not %u",
                   MESH_SIM_MAX_NODES, p->nodes);
      return FALSE;
    }
  if (p->degree < 1)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
                   "the topology degree must be at least 1");
      return FALSE;
    }
  if (p->payload_len < 16 || p->payload_len > 65536)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
                   "payload length %u is outside 16 .. 65536 bytes",
                   p->payload_len);
      return FALSE;
    }
  if (p->all_pairs && (uint64_t) p->nodes * (p->nodes - 1) > 1000000)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
                   "all pairs of %u nodes are more than 1,000,000 messages",
                   p->nodes);
      return FALSE;
    }
  if (p->messages > 10000000 || p->broadcasts > 1000000
      || p->lookups > 10000000)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
                   "too many messages, broadcasts or lookups for one run");
      return FALSE;
    }
  if (p->update_size < 1 || p->update_size > MESH_WIRE_MAX_UPDATE_SIZE)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
                   "update size %" G_GUINT64_FORMAT " is outside 1 .. %u bytes",
                   p->update_size, MESH_WIRE_MAX_UPDATE_SIZE);
      return FALSE;
    }
  return mesh_sim_link_params_check (&p->link, error);
}

gboolean
mesh_scenario_run (const char *name, const MeshScenarioParams *params,
                   MeshScenarioResult *result, GError **error)
{
  ScenarioFunc func = NULL;
  MeshSimConfig config;
  struct rusage usage;
  Run run = { 0 };
  int64_t wall_start;
  MeshSim *sim;

  for (gsize i = 0; i < G_N_ELEMENTS (scenarios); i++)
    if (g_strcmp0 (scenarios[i].name, name) == 0)
      func = scenarios[i].func;
  if (func == NULL)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
                   "unknown scenario '%s'", name ? name : "(null)");
      return FALSE;
    }
  if (!check_params (params, error))
    return FALSE;

  memset (result, 0, sizeof *result);
  g_strlcpy (result->scenario, name, sizeof result->scenario);
  result->nodes = params->nodes;
  result->seed = params->seed;
  result->passed = TRUE;
  result->limits_ok = TRUE;

  wall_start = g_get_monotonic_time ();
  mesh_sim_config_init (&config);
  config.n_nodes = params->nodes;
  config.seed = params->seed;
  config.link = params->link;
  config.ops = &mesh_scenario_engine_ops;
  if (params->engine != NULL)
    config.engine = *params->engine;
  else
    mesh_scenario_engine_config (&config.engine);
  sim = mesh_sim_new (&config, error);
  if (sim == NULL)
    return FALSE;

  run.name = scenarios[0].name;
  for (gsize i = 0; i < G_N_ELEMENTS (scenarios); i++)
    if (scenarios[i].func == func)
      run.name = scenarios[i].name;
  run.p = params;
  run.r = result;
  run.sim = sim;
  run.n = params->nodes;
  run.engine = config.engine;
  run.hostile = MESH_SIM_NO_NODE;
  run.victim = MESH_SIM_NO_NODE;
  run.payload = g_malloc (params->payload_len);
  run.priv = g_array_new (FALSE, FALSE, sizeof (Priv));
  run.bcast = g_array_new (FALSE, FALSE, sizeof (Bcast));
  run.look = g_array_new (FALSE, FALSE, sizeof (Lookup));
  idmap_init (&run.priv_ids, mesh_sim_rng (sim));
  idmap_init (&run.look_keys, mesh_sim_rng (sim));
  run.priv_hops = g_array_new (FALSE, FALSE, sizeof (double));
  run.priv_lat = g_array_new (FALSE, FALSE, sizeof (double));
  run.bc_hops = g_array_new (FALSE, FALSE, sizeof (double));
  run.bc_lat = g_array_new (FALSE, FALSE, sizeof (double));
  run.lk_rounds = g_array_new (FALSE, FALSE, sizeof (double));
  run.lk_lat = g_array_new (FALSE, FALSE, sizeof (double));
  run.captured = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  mesh_sim_set_event_func (sim, on_event, &run);

  mesh_sim_connect_random (sim, params->degree);
  func (&run);

  result->virtual_ms = (double) mesh_sim_now (sim) / 1e6;
  mesh_sim_trace_hex (sim, result->trace_sha256);
  mesh_sim_get_stats (sim, &result->sim);
  result->wall_ms = (double) (g_get_monotonic_time () - wall_start) / 1e3;
  if (getrusage (RUSAGE_SELF, &usage) == 0)
    result->peak_rss_kb = usage.ru_maxrss;

  mesh_sim_free (sim);
  upd_free (run.upd);
  for (guint i = 0; i < run.bcast->len; i++)
    g_free (g_array_index (run.bcast, Bcast, i).seen_by);
  g_ptr_array_unref (run.captured);
  g_free (run.attack_links);
  g_array_unref (run.lk_lat);
  g_array_unref (run.lk_rounds);
  g_array_unref (run.bc_lat);
  g_array_unref (run.bc_hops);
  g_array_unref (run.priv_lat);
  g_array_unref (run.priv_hops);
  idmap_clear (&run.look_keys);
  idmap_clear (&run.priv_ids);
  g_array_unref (run.look);
  g_array_unref (run.bcast);
  g_array_unref (run.priv);
  g_free (run.payload);
  return TRUE;
}
