/* The network simulator: its generator, link model, partitions and
 * topology on their own; the event loop, timers, links, churn and trace
 * with a stand-in engine whose behaviour the tests control; then whole
 * scenarios with the real engine, with fixed seeds and exact
 * expectations. */
#include "config.h"

#include "sim/scenario.h"
#include "sim/sim.h"
#include "wire/frame.h"
#include "testutil.h"

#include <string.h>

#define MS(x) ((uint64_t) (x) * G_GUINT64_CONSTANT (1000000))
#define SEC(x) ((uint64_t) (x) * G_GUINT64_CONSTANT (1000000000))

/* ---- Generator */

static void
test_rng_reference (void)
{
  /* xoshiro256** over a splitmix64-filled state, as published by its
   * authors: the first outputs for seeds 0 and 42. */
  static const uint64_t want0[] = {
    G_GUINT64_CONSTANT (0x99ec5f36cb75f2b4), G_GUINT64_CONSTANT (0xbf6e1f784956452a),
    G_GUINT64_CONSTANT (0x1a5f849d4933e6e0), G_GUINT64_CONSTANT (0x6aa594f1262d2d2c),
  };
  static const uint64_t want42[] = {
    G_GUINT64_CONSTANT (0x15780b2e0c2ec716), G_GUINT64_CONSTANT (0x6104d9866d113a7e),
    G_GUINT64_CONSTANT (0xae17533239e499a1), G_GUINT64_CONSTANT (0xecb8ad4703b360a1),
  };
  MeshSimRng a, b;
  uint8_t bytes[12];

  mesh_sim_rng_init (&a, 0);
  for (gsize i = 0; i < G_N_ELEMENTS (want0); i++)
    g_assert_cmphex (mesh_sim_rng_next (&a), ==, want0[i]);
  mesh_sim_rng_init (&a, 42);
  for (gsize i = 0; i < G_N_ELEMENTS (want42); i++)
    g_assert_cmphex (mesh_sim_rng_next (&a), ==, want42[i]);

  /* Bytes are the little-endian outputs, a partial word at the end. */
  mesh_sim_rng_init (&a, 0);
  mesh_sim_rng_fill (&a, bytes, sizeof bytes);
  g_assert_cmphex (bytes[0], ==, 0xb4);
  g_assert_cmphex (bytes[7], ==, 0x99);
  g_assert_cmphex (bytes[8], ==, 0x2a);
  g_assert_cmphex (bytes[11], ==, 0x49);

  mesh_sim_rng_init (&a, 7);
  mesh_sim_rng_init (&b, 7);
  for (int i = 0; i < 1000; i++)
    g_assert_cmphex (mesh_sim_rng_next (&a), ==, mesh_sim_rng_next (&b));
}

static void
test_rng_ranges (void)
{
  MeshSimRng r;
  uint32_t counts[10] = { 0 };
  uint32_t perm[100];
  gboolean seen[100] = { FALSE };

  mesh_sim_rng_init (&r, 1);
  for (int i = 0; i < 100000; i++)
    {
      uint64_t v = mesh_sim_rng_below (&r, 10);
      double d = mesh_sim_rng_double (&r);

      g_assert_cmpuint (v, <, 10);
      g_assert_cmpfloat (d, >=, 0.0);
      g_assert_cmpfloat (d, <, 1.0);
      counts[v]++;
    }
  /* Uniform: each bucket within 3 % of 10,000 (about 4 sigma). */
  for (int i = 0; i < 10; i++)
    g_assert_cmpuint (counts[i], >, 9700);
  for (int i = 0; i < 10; i++)
    g_assert_cmpuint (counts[i], <, 10300);
  g_assert_cmpuint (mesh_sim_rng_below (&r, 1), ==, 0);
  /* Large bounds use the rejection path. */
  for (int i = 0; i < 1000; i++)
    g_assert_cmpuint (mesh_sim_rng_below (&r, G_GUINT64_CONSTANT (3) << 62),
                      <, G_GUINT64_CONSTANT (3) << 62);

  for (uint32_t i = 0; i < 100; i++)
    perm[i] = i;
  mesh_sim_rng_shuffle (&r, perm, 100);
  for (uint32_t i = 0; i < 100; i++)
    {
      g_assert_false (seen[perm[i]]);
      seen[perm[i]] = TRUE;
    }
  /* A shuffle that left the identity would be broken. */
  {
    uint32_t fixed = 0;
    for (uint32_t i = 0; i < 100; i++)
      fixed += perm[i] == i;
    g_assert_cmpuint (fixed, <, 10);
  }
}

/* ---- Link model */

static void
test_link_timing (void)
{
  MeshSimLinkParams p = {
    .latency_ns = MS (10), .jitter_ns = 0, .loss = 0,
    .bandwidth_bps = 10 * 1000 * 1000,
  };
  MeshSimDirection d = { 0 };
  MeshSimRng r;
  uint64_t at;

  mesh_sim_rng_init (&r, 1);
  /* 1250 bytes at 10 Mbit/s take 1 ms on the wire; back-to-back frames
   * queue behind each other. */
  for (int i = 1; i <= 3; i++)
    {
      g_assert_true (mesh_sim_link_transmit (&p, &d, &r, 0, 1250, &at));
      g_assert_cmpuint (at, ==, MS (10) + (uint64_t) i * MS (1));
    }
  g_assert_cmpuint (d.busy_until, ==, MS (3));
  /* An idle wire starts at once. */
  g_assert_true (mesh_sim_link_transmit (&p, &d, &r, MS (100), 1250, &at));
  g_assert_cmpuint (at, ==, MS (111));
  /* A close arrives after the frames before it. */
  g_assert_cmpuint (mesh_sim_link_close_arrival (&p, &d, MS (100)), ==,
                    MS (111));
  g_assert_cmpuint (mesh_sim_link_close_arrival (&p, &d, MS (200)), ==,
                    MS (210));

  /* Without a bandwidth limit, only latency. */
  p.bandwidth_bps = 0;
  memset (&d, 0, sizeof d);
  g_assert_true (mesh_sim_link_transmit (&p, &d, &r, 5, 1 << 20, &at));
  g_assert_cmpuint (at, ==, MS (10) + 5);
}

static void
test_link_order (void)
{
  MeshSimLinkParams p = {
    .latency_ns = MS (10), .jitter_ns = MS (5), .loss = 0,
    .bandwidth_bps = 0,
  };
  MeshSimDirection d = { 0 };
  MeshSimRng r;
  uint64_t at, prev = 0, held_back = 0;

  mesh_sim_rng_init (&r, 3);
  for (int i = 0; i < 10000; i++)
    {
      uint64_t now = (uint64_t) i * 100000; /* 0.1 ms apart */

      g_assert_true (mesh_sim_link_transmit (&p, &d, &r, now, 100, &at));
      g_assert_cmpuint (at, >=, now + MS (10));
      g_assert_cmpuint (at, >=, prev);
      /* Jitter never adds more than its bound, except to stay behind
       * an earlier frame. */
      if (at > now + MS (15))
        g_assert_cmpuint (at, ==, prev);
      if (at == prev)
        held_back++;
      prev = at;
    }
  /* Jitter of 5 ms against frames 0.1 ms apart: most are held back by
   * an earlier, later-drawn one. */
  g_assert_cmpuint (held_back, >, 5000);
}

static void
test_link_loss (void)
{
  MeshSimLinkParams p;
  MeshSimDirection d = { 0 };
  MeshSimRng r;
  uint64_t at;
  uint32_t lost = 0;

  mesh_sim_link_params_init (&p);
  p.loss = 0.05;
  mesh_sim_rng_init (&r, 5);
  for (int i = 0; i < 100000; i++)
    if (!mesh_sim_link_transmit (&p, &d, &r, (uint64_t) i * MS (1), 100, &at))
      lost++;
  /* 5,000 expected, sigma 69. */
  g_assert_cmpuint (lost, >, 4700);
  g_assert_cmpuint (lost, <, 5300);

  p.loss = 1.0;
  g_assert_false (mesh_sim_link_transmit (&p, &d, &r, SEC (1000), 100, &at));
  p.loss = 0.0;
  for (int i = 0; i < 1000; i++)
    g_assert_true (mesh_sim_link_transmit (&p, &d, &r, SEC (1001), 100, &at));
}

static void
test_link_params_check (void)
{
  MeshSimLinkParams p;
  GError *error = NULL;

  mesh_sim_link_params_init (&p);
  g_assert_cmpuint (p.latency_ns, ==, MS (10));
  g_assert_cmpuint (p.jitter_ns, ==, MS (1));
  g_assert_cmpuint (p.bandwidth_bps, ==, 100 * 1000 * 1000);
  g_assert_true (mesh_sim_link_params_check (&p, &error));
  g_assert_no_error (error);

  p.loss = 1.5;
  g_assert_false (mesh_sim_link_params_check (&p, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "loss"));
  g_clear_error (&error);
  p.loss = -0.1;
  g_assert_false (mesh_sim_link_params_check (&p, NULL));
  p.loss = 0;
  p.bandwidth_bps = 10;
  g_assert_false (mesh_sim_link_params_check (&p, &error));
  g_assert_nonnull (strstr (error->message, "bandwidth"));
  g_clear_error (&error);
  p.bandwidth_bps = 0;
  g_assert_true (mesh_sim_link_params_check (&p, NULL));
  p.latency_ns = MESH_SIM_MAX_DELAY_NS + 1;
  g_assert_false (mesh_sim_link_params_check (&p, &error));
  g_assert_nonnull (strstr (error->message, "latency"));
  g_clear_error (&error);
}

/* ---- Partitions */

static void
test_partition (void)
{
  MeshSimPartition *p = mesh_sim_partition_new (6);

  g_assert_false (mesh_sim_partition_active (p));
  for (uint32_t a = 0; a < 6; a++)
    for (uint32_t b = 0; b < 6; b++)
      g_assert_false (mesh_sim_partition_blocks (p, a, b));

  /* Symmetric: {0,1,2} | {3,4,5}. */
  for (uint32_t i = 3; i < 6; i++)
    mesh_sim_partition_set_group (p, i, 1);
  mesh_sim_partition_block_groups (p, 0, 1, TRUE);
  g_assert_true (mesh_sim_partition_active (p));
  for (uint32_t a = 0; a < 6; a++)
    for (uint32_t b = 0; b < 6; b++)
      g_assert_cmpint (mesh_sim_partition_blocks (p, a, b), ==,
                       (a < 3) != (b < 3));

  /* Asymmetric: only group 1 -> group 2. */
  mesh_sim_partition_heal (p);
  g_assert_false (mesh_sim_partition_active (p));
  g_assert_cmpuint (mesh_sim_partition_get_group (p, 4), ==, 0);
  mesh_sim_partition_set_group (p, 0, 1);
  mesh_sim_partition_set_group (p, 1, 2);
  mesh_sim_partition_block_groups (p, 1, 2, FALSE);
  g_assert_true (mesh_sim_partition_blocks (p, 0, 1));
  g_assert_false (mesh_sim_partition_blocks (p, 1, 0));
  g_assert_false (mesh_sim_partition_blocks (p, 0, 2));
  g_assert_false (mesh_sim_partition_blocks (p, 2, 1));

  /* Node pairs, one way and both ways. */
  mesh_sim_partition_heal (p);
  mesh_sim_partition_block_nodes (p, 4, 2, FALSE);
  mesh_sim_partition_block_nodes (p, 5, 0, TRUE);
  mesh_sim_partition_block_nodes (p, 4, 2, FALSE);
  g_assert_true (mesh_sim_partition_blocks (p, 4, 2));
  g_assert_false (mesh_sim_partition_blocks (p, 2, 4));
  g_assert_true (mesh_sim_partition_blocks (p, 5, 0));
  g_assert_true (mesh_sim_partition_blocks (p, 0, 5));
  g_assert_false (mesh_sim_partition_blocks (p, 4, 0));
  /* Out of range is never blocked. */
  g_assert_false (mesh_sim_partition_blocks (p, 4, 99));
  mesh_sim_partition_heal (p);
  g_assert_false (mesh_sim_partition_blocks (p, 4, 2));
  mesh_sim_partition_free (p);
}

/* ---- Topology */

static void
check_topology (uint32_t n, uint32_t degree, uint64_t seed)
{
  MeshSimRng r;
  size_t m, m2;
  uint32_t *edges, *again, *deg = g_new0 (uint32_t, n);
  GHashTable *set = g_hash_table_new (g_int64_hash, g_int64_equal);
  gint64 *keys;
  uint32_t full = 0;

  mesh_sim_rng_init (&r, seed);
  edges = mesh_sim_topology_random (n, degree, &r, &m);
  mesh_sim_rng_init (&r, seed);
  again = mesh_sim_topology_random (n, degree, &r, &m2);
  g_assert_cmpuint (m, ==, m2);
  g_assert_cmpmem (edges, m * 8, again, m2 * 8);

  keys = g_new (gint64, MAX (m, 1));
  for (size_t i = 0; i < m; i++)
    {
      uint32_t a = edges[2 * i], b = edges[2 * i + 1];

      g_assert_cmpuint (a, <, b);
      g_assert_cmpuint (b, <, n);
      keys[i] = (gint64) a << 32 | b;
      g_assert_false (g_hash_table_contains (set, &keys[i]));
      g_hash_table_add (set, &keys[i]);
      deg[a]++;
      deg[b]++;
    }
  g_assert_true (mesh_sim_topology_connected (n, edges, m, NULL));
  for (uint32_t i = 0; i < n; i++)
    {
      uint32_t want = MIN (MAX (degree, 2), n - 1);
      g_assert_cmpuint (deg[i], <=, want);
      g_assert_cmpuint (deg[i], >=, MIN (2, n - 1));
      full += deg[i] == want;
    }
  /* Most nodes reach the degree; the last stubs may find no partner. */
  g_assert_cmpuint (full, >=, n - n / 20 - 2);

  g_hash_table_unref (set);
  g_free (keys);
  g_free (again);
  g_free (edges);
  g_free (deg);
}

static void
test_topology (void)
{
  static const uint32_t sizes[] = { 2, 3, 5, 10, 100, 1000 };
  static const uint32_t degrees[] = { 2, 3, 6, 12 };
  MeshSimRng r;
  size_t m;
  uint32_t *edges;
  gboolean skip[4] = { FALSE, TRUE, FALSE, FALSE };
  const uint32_t path[] = { 0, 1, 1, 2, 2, 3 };

  for (gsize i = 0; i < G_N_ELEMENTS (sizes); i++)
    for (gsize j = 0; j < G_N_ELEMENTS (degrees); j++)
      check_topology (sizes[i], degrees[j], 11 + i * 7 + j);

  /* Complete graph once the degree allows it. */
  mesh_sim_rng_init (&r, 1);
  edges = mesh_sim_topology_random (6, 5, &r, &m);
  g_assert_cmpuint (m, ==, 15);
  g_free (edges);
  edges = mesh_sim_topology_random (1, 6, &r, &m);
  g_assert_cmpuint (m, ==, 0);
  g_free (edges);

  /* Different seeds, different graphs. */
  {
    MeshSimRng r1, r2;
    size_t m1, m2;
    uint32_t *e1, *e2;

    mesh_sim_rng_init (&r1, 1);
    mesh_sim_rng_init (&r2, 2);
    e1 = mesh_sim_topology_random (50, 4, &r1, &m1);
    e2 = mesh_sim_topology_random (50, 4, &r2, &m2);
    g_assert_true (m1 != m2 || memcmp (e1, e2, m1 * 8) != 0);
    g_free (e1);
    g_free (e2);
  }

  /* A path is connected; without its middle node it is not. */
  g_assert_true (mesh_sim_topology_connected (4, path, 3, NULL));
  g_assert_false (mesh_sim_topology_connected (4, path, 3, skip));
  g_assert_false (mesh_sim_topology_connected (4, path, 2, NULL));
}

/* ---- A stand-in engine
 *
 * Frames are 4-byte header, one command byte, the rest filler:
 *   'H' hello, sent on every link_up;  'P' ping, answered by 'Q';
 *   'C' asks the receiver to close the link;  'T' sent by the timer;
 *   'B' sent by a broadcast command, to every link.
 * send_private asks the simulator to connect to the recipient; lookup
 * makes the timer due earlier (its "node_id" first byte is the delay in
 * ms); every tick draws a random byte and sends 'T' frames of that
 * length when the period is set. */

typedef struct {
  uint64_t at;
  MeshLinkId link;
  uint8_t cmd;
  size_t len;
} FakeRecord;

typedef struct {
  MeshEngineCallbacks cb;
  void *user_data;
  MeshPublicBundle self;
  GArray *links;          /* MeshLinkId */
  GArray *log;            /* FakeRecord of frames received */
  uint64_t next, period;
  uint32_t ticks, link_ups, link_downs;
  GArray *down_times;     /* uint64_t */
  GArray *tick_times;     /* uint64_t */
} Fake;

/* Behaviour for the next engines created, and counters over all. */
static struct {
  uint64_t period;
  gboolean refuse;
  uint32_t created, destroyed;
} fake_cfg;

static void
fake_send (Fake *f, MeshLinkId link, uint8_t cmd, size_t body)
{
  uint8_t buf[4096];

  g_assert_cmpuint (body, >=, 1);
  g_assert_cmpuint (body + 4, <=, sizeof buf);
  mesh_frame_write_header (buf, (uint32_t) body);
  memset (buf + 4, 0x5a, body);
  buf[4] = cmd;
  f->cb.send_frame (f->user_data, link, buf, body + 4);
}

static void *
fake_create (const MeshIdentity *self, const MeshEngineConfig *config,
             const MeshEngineCallbacks *callbacks, void *user_data,
             uint64_t now_ns)
{
  Fake *f = g_new0 (Fake, 1);

  f->cb = *callbacks;
  f->user_data = user_data;
  f->self = self->pub;
  f->links = g_array_new (FALSE, FALSE, sizeof (MeshLinkId));
  f->log = g_array_new (FALSE, FALSE, sizeof (FakeRecord));
  f->down_times = g_array_new (FALSE, FALSE, sizeof (uint64_t));
  f->tick_times = g_array_new (FALSE, FALSE, sizeof (uint64_t));
  f->period = fake_cfg.period;
  f->next = f->period ? now_ns + f->period : UINT64_MAX;
  fake_cfg.created++;
  return f;
}

static void
fake_destroy (void *engine)
{
  Fake *f = engine;

  g_array_unref (f->links);
  g_array_unref (f->log);
  g_array_unref (f->down_times);
  g_array_unref (f->tick_times);
  g_free (f);
  fake_cfg.destroyed++;
}

static gboolean
fake_link_up (void *engine, MeshLinkId link, const MeshPublicBundle *peer,
              uint64_t now_ns, GError **error)
{
  Fake *f = engine;

  if (fake_cfg.refuse)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_EXHAUSTED,
                   "refusing link %u", link);
      return FALSE;
    }
  g_array_append_val (f->links, link);
  f->link_ups++;
  fake_send (f, link, 'H', 16);
  return TRUE;
}

static void
fake_link_down (void *engine, MeshLinkId link, uint64_t now_ns)
{
  Fake *f = engine;

  for (guint i = 0; i < f->links->len; i++)
    if (g_array_index (f->links, MeshLinkId, i) == link)
      {
        g_array_remove_index (f->links, i);
        f->link_downs++;
        g_array_append_val (f->down_times, now_ns);
        return;
      }
  g_assert_not_reached ();
}

static void
fake_receive (void *engine, MeshLinkId link, const uint8_t *data, size_t len,
              uint64_t now_ns)
{
  Fake *f = engine;
  FakeRecord rec = { now_ns, link, data[0], len };

  g_array_append_val (f->log, rec);
  if (data[0] == 'P')
    fake_send (f, link, 'Q', len);
  else if (data[0] == 'C')
    f->cb.close_link (f->user_data, link, "asked to");
}

static gboolean
fake_send_private (void *engine, const MeshPublicBundle *to,
                   const uint8_t *data, size_t len, uint64_t now_ns,
                   uint8_t *id_out, GError **error)
{
  Fake *f = engine;
  const char *addresses[] = { "x:1" };

  f->cb.connect (f->user_data, to, addresses, 1);
  memset (id_out, 0, 32);
  return TRUE;
}

static gboolean
fake_broadcast (void *engine, const uint8_t *data, size_t len,
                const char *content_type, uint64_t now_ns, uint8_t *id_out,
                GError **error)
{
  Fake *f = engine;

  for (guint i = 0; i < f->links->len; i++)
    fake_send (f, g_array_index (f->links, MeshLinkId, i), data[0], len);
  memset (id_out, 0, 32);
  return TRUE;
}

static gboolean
fake_lookup (void *engine, const uint8_t *node_id, uint64_t now_ns,
             GError **error)
{
  Fake *f = engine;
  MeshEvent ev = { .type = MESH_EVENT_LOOKUP_DONE, .node_id = node_id };

  f->next = now_ns + MS (node_id[0]);
  f->cb.event (f->user_data, &ev);
  return TRUE;
}

static uint64_t
fake_next_timeout (const void *engine)
{
  const Fake *f = engine;
  return f->next;
}

static void
fake_tick (void *engine, uint64_t now_ns)
{
  Fake *f = engine;
  uint8_t r;

  if (now_ns < f->next)
    return;
  f->ticks++;
  g_array_append_val (f->tick_times, now_ns);
  f->next = f->period ? now_ns + f->period : UINT64_MAX;
  f->cb.random (f->user_data, &r, 1);
  for (guint i = 0; i < f->links->len; i++)
    fake_send (f, g_array_index (f->links, MeshLinkId, i), 'T', 1 + r);
}

static void
fake_get_stats (const void *engine, MeshEngineStats *stats)
{
  const Fake *f = engine;

  memset (stats, 0, sizeof *stats);
  stats->links = f->links->len;
}

static const MeshSimEngineOps fake_ops = {
  .create = fake_create,
  .destroy = fake_destroy,
  .link_up = fake_link_up,
  .link_down = fake_link_down,
  .receive = fake_receive,
  .send_private = fake_send_private,
  .broadcast = fake_broadcast,
  .lookup = fake_lookup,
  .next_timeout = fake_next_timeout,
  .tick = fake_tick,
  .get_stats = fake_get_stats,
};

/* A simulation of n stand-in engines, links with 10 ms latency, no
 * jitter, no bandwidth limit. */
static MeshSim *
fake_sim (uint32_t n, uint64_t seed, uint64_t period)
{
  MeshSimConfig c;
  MeshSim *sim;
  GError *error = NULL;

  memset (&fake_cfg, 0, sizeof fake_cfg);
  fake_cfg.period = period;
  mesh_sim_config_init (&c);
  c.n_nodes = n;
  c.seed = seed;
  c.ops = &fake_ops;
  c.link.jitter_ns = 0;
  c.link.bandwidth_bps = 0;
  sim = mesh_sim_new (&c, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (fake_cfg.created, ==, n);
  return sim;
}

static Fake *
fake_of (MeshSim *sim, uint32_t node)
{
  return mesh_sim_node_engine (sim, node);
}

static void
send_cmd (MeshSim *sim, uint32_t node, uint8_t cmd, size_t len)
{
  uint8_t data[1] = { cmd };
  uint8_t id[32];
  GError *error = NULL;

  g_assert_true (mesh_sim_broadcast (sim, node, data, len, "", id, &error));
  g_assert_no_error (error);
}

static void
test_sim_config (void)
{
  MeshSimConfig c;
  GError *error = NULL;

  mesh_sim_config_init (&c);
  g_assert_cmpuint (c.engine.wall_epoch_ms, ==,
                    G_GUINT64_CONSTANT (1767225600000));
  c.n_nodes = 3;
  g_assert_null (mesh_sim_new (&c, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "operations"));
  g_clear_error (&error);
  c.ops = &fake_ops;
  c.n_nodes = 0;
  g_assert_null (mesh_sim_new (&c, &error));
  g_assert_nonnull (strstr (error->message, "nodes"));
  g_clear_error (&error);
  c.n_nodes = 2;
  c.link.loss = 2;
  g_assert_null (mesh_sim_new (&c, &error));
  g_assert_nonnull (strstr (error->message, "loss"));
  g_clear_error (&error);
}

static void
test_sim_identities (void)
{
  MeshSim *sim = fake_sim (50, 9, 0);
  MeshIdentity id;

  /* Identities follow from seed and index alone, and the index finds
   * its node by ID. */
  for (uint32_t i = 0; i < 50; i++)
    {
      const MeshPublicBundle *b = mesh_sim_node_bundle (sim, i);

      mesh_sim_node_identity (9, i, &id);
      g_assert_cmpmem (id.pub.node_id, 32, b->node_id, 32);
      g_assert_true (mesh_bundle_verify (b, NULL));
      g_assert_cmpuint (mesh_sim_find_node (sim, b->node_id), ==, i);
      mesh_identity_clear (&id);
    }
  mesh_sim_node_identity (10, 0, &id);
  g_assert_cmpuint (mesh_sim_find_node (sim, id.pub.node_id), ==,
                    MESH_SIM_NO_NODE);
  mesh_identity_clear (&id);
  g_assert_cmpstr (mesh_sim_node_address (sim, 7), ==, "sim-7:7000");
  mesh_sim_free (sim);
}

typedef struct {
  GArray *order;
  uint32_t tag;
} CallLog;

typedef struct {
  CallLog *log;
  uint32_t tag;
} Call;

static void
record_call (MeshSim *sim, void *user_data)
{
  Call *c = user_data;
  uint64_t entry[2] = { mesh_sim_now (sim), c->tag };

  g_array_append_vals (c->log->order, entry, 2);
}

static void
test_sim_event_order (void)
{
  MeshSim *sim = fake_sim (1, 1, 0);
  MeshSimRng r;
  CallLog log = { g_array_new (FALSE, FALSE, sizeof (uint64_t)), 0 };
  Call calls[2000];
  uint64_t at[2000];

  mesh_sim_rng_init (&r, 77);
  for (uint32_t i = 0; i < 2000; i++)
    {
      /* Many equal times, to check that they keep their order. */
      at[i] = MS (mesh_sim_rng_below (&r, 50));
      calls[i] = (Call) { &log, i };
      mesh_sim_schedule (sim, at[i], record_call, &calls[i]);
    }
  mesh_sim_run_until (sim, MS (25));
  g_assert_cmpuint (mesh_sim_now (sim), ==, MS (25));
  while (mesh_sim_step (sim))
    ;
  g_assert_cmpuint (log.order->len, ==, 4000);
  for (guint k = 1; k < 2000; k++)
    {
      uint64_t t0 = g_array_index (log.order, uint64_t, 2 * (k - 1));
      uint64_t i0 = g_array_index (log.order, uint64_t, 2 * (k - 1) + 1);
      uint64_t t1 = g_array_index (log.order, uint64_t, 2 * k);
      uint64_t i1 = g_array_index (log.order, uint64_t, 2 * k + 1);

      g_assert_cmpuint (t1, ==, at[i1]);
      g_assert_true (t0 < t1 || (t0 == t1 && i0 < i1));
    }
  /* A call scheduled in the past runs now. */
  calls[0].tag = 9999;
  mesh_sim_schedule (sim, 0, record_call, &calls[0]);
  g_assert_true (mesh_sim_step (sim));
  g_assert_cmpuint (g_array_index (log.order, uint64_t, 4000), ==, MS (49));
  g_assert_false (mesh_sim_step (sim));
  g_array_unref (log.order);
  mesh_sim_free (sim);
}

static void
test_sim_frames (void)
{
  MeshSim *sim = fake_sim (2, 1, 0);
  MeshSimStats st;
  Fake *a, *b;
  MeshLinkId la, lb;
  uint64_t pool = 0;

  g_assert_true (mesh_sim_add_edge (sim, 0, 1, 0));
  g_assert_false (mesh_sim_add_edge (sim, 1, 0, 0));
  g_assert_false (mesh_sim_add_edge (sim, 1, 1, 0));
  a = fake_of (sim, 0);
  b = fake_of (sim, 1);
  g_assert_cmpuint (a->link_ups, ==, 1);
  g_assert_cmpuint (b->link_ups, ==, 1);
  la = mesh_sim_find_link (sim, 0, 1);
  lb = mesh_sim_find_link (sim, 1, 0);
  g_assert_cmpuint (la, !=, MESH_LINK_NONE);
  g_assert_cmpuint (lb, !=, la);
  g_assert_cmpuint (mesh_sim_link_peer (sim, la), ==, 1);
  g_assert_cmpuint (mesh_sim_link_peer (sim, lb), ==, 0);

  /* Hellos arrive one latency later, headers stripped. */
  mesh_sim_run_until (sim, MS (9));
  g_assert_cmpuint (a->log->len, ==, 0);
  mesh_sim_run_until (sim, MS (10));
  g_assert_cmpuint (a->log->len, ==, 1);
  g_assert_cmpuint (b->log->len, ==, 1);
  g_assert_cmpuint (g_array_index (a->log, FakeRecord, 0).cmd, ==, 'H');
  g_assert_cmpuint (g_array_index (a->log, FakeRecord, 0).len, ==, 16);
  g_assert_cmpuint (g_array_index (a->log, FakeRecord, 0).link, ==, la);

  /* A ping and its answer: a round trip. */
  send_cmd (sim, 0, 'P', 100);
  mesh_sim_run_until (sim, SEC (1));
  g_assert_cmpuint (a->log->len, ==, 2);
  g_assert_cmpuint (g_array_index (a->log, FakeRecord, 1).cmd, ==, 'Q');
  g_assert_cmpuint (g_array_index (a->log, FakeRecord, 1).at, ==, MS (30));

  /* Bursts stay in order, large frames too, and the pool is reused. */
  for (int round = 0; round < 3; round++)
    {
      for (int i = 0; i < 50; i++)
        send_cmd (sim, 0, 'B', 1 + (size_t) i * 80);
      mesh_sim_get_stats (sim, &st);
      g_assert_cmpuint (st.bytes_in_flight, >, 0);
      mesh_sim_run_until (sim, mesh_sim_now (sim) + SEC (1));
      mesh_sim_get_stats (sim, &st);
      g_assert_cmpuint (st.bytes_in_flight, ==, 0);
      if (round == 0)
        pool = st.pool_bytes;
      else
        g_assert_cmpuint (st.pool_bytes, ==, pool);
    }
  g_assert_cmpuint (b->log->len, ==, 1 + 1 + 150);
  for (guint i = 2; i < b->log->len; i++)
    g_assert_cmpuint (g_array_index (b->log, FakeRecord, i).len, ==,
                      1 + (size_t) ((i - 2) % 50) * 80);
  mesh_sim_get_stats (sim, &st);
  g_assert_cmpuint (st.frames_sent, ==, st.frames_delivered);
  g_assert_cmpuint (st.links_opened, ==, 1);
  g_assert_cmpuint (st.links_up, ==, 2);
  mesh_sim_free (sim);
  g_assert_cmpuint (fake_cfg.destroyed, ==, 2);
}

static void
test_sim_bandwidth (void)
{
  MeshSim *sim = fake_sim (2, 1, 0);
  MeshSimLinkParams p;
  Fake *b;
  MeshLinkId la;

  mesh_sim_add_edge (sim, 0, 1, 0);
  mesh_sim_run_until (sim, SEC (1));
  b = fake_of (sim, 1);
  la = mesh_sim_find_link (sim, 0, 1);
  mesh_sim_link_params_init (&p);
  p.jitter_ns = 0;
  p.bandwidth_bps = 8 * 1000 * 1000;   /* 1 byte per microsecond */
  g_assert_true (mesh_sim_set_link_params (sim, la, &p));
  /* Frames of 996 + 4 bytes: 1 ms each on the wire. */
  for (int i = 0; i < 5; i++)
    send_cmd (sim, 0, 'B', 996);
  mesh_sim_run_until (sim, SEC (2));
  g_assert_cmpuint (b->log->len, ==, 6);
  for (guint i = 1; i < 6; i++)
    g_assert_cmpuint (g_array_index (b->log, FakeRecord, i).at, ==,
                      SEC (1) + MS (10) + MS (i));
  mesh_sim_free (sim);
}

static void
test_sim_timers (void)
{
  MeshSim *sim = fake_sim (3, 1, SEC (1));
  MeshSimStats st;
  uint8_t target[32] = { 100 };
  Fake *f;

  mesh_sim_run_until (sim, SEC (10));
  for (uint32_t i = 0; i < 3; i++)
    {
      f = fake_of (sim, i);
      g_assert_cmpuint (f->ticks, ==, 10);
      for (guint k = 0; k < 10; k++)
        g_assert_cmpuint (g_array_index (f->tick_times, uint64_t, k), ==,
                          SEC (k + 1));
    }

  /* An earlier deadline arms a new timer: the tick comes 100 ms after
   * the command, and the replaced timer event is skipped. */
  mesh_sim_run_until (sim, SEC (10) + MS (300));
  g_assert_true (mesh_sim_lookup (sim, 1, target, NULL));
  mesh_sim_run_until (sim, SEC (11) + MS (500));
  f = fake_of (sim, 1);
  g_assert_cmpuint (f->ticks, ==, 12);
  g_assert_cmpuint (g_array_index (f->tick_times, uint64_t, 10), ==,
                    SEC (10) + MS (400));
  g_assert_cmpuint (g_array_index (f->tick_times, uint64_t, 11), ==,
                    SEC (11) + MS (400));
  mesh_sim_get_stats (sim, &st);
  g_assert_cmpuint (st.timers_stale, ==, 1);
  g_assert_cmpuint (st.timers_fired, ==, 3 * 11 + 1);
  g_assert_cmpuint (st.engine_events, ==, 1);
  mesh_sim_free (sim);
}

static void
test_sim_close (void)
{
  MeshSim *sim = fake_sim (2, 1, 0);
  MeshSimNodeCounters c0, c1;
  MeshSimStats st;
  Fake *a, *b;
  MeshLinkId la;

  mesh_sim_add_edge (sim, 0, 1, 0);
  mesh_sim_run_until (sim, SEC (1));
  a = fake_of (sim, 0);
  b = fake_of (sim, 1);
  la = mesh_sim_find_link (sim, 0, 1);

  /* 0 asks 1 to close; 1's engine closes at once, 0 hears a latency
   * later; a frame 0 sends meanwhile goes nowhere. */
  send_cmd (sim, 0, 'C', 10);
  mesh_sim_run_until (sim, SEC (1) + MS (10));
  g_assert_cmpuint (b->link_downs, ==, 1);
  g_assert_cmpuint (g_array_index (b->down_times, uint64_t, 0), ==,
                    SEC (1) + MS (10));
  g_assert_cmpuint (a->link_downs, ==, 0);
  send_cmd (sim, 0, 'B', 10);
  mesh_sim_run_until (sim, SEC (2));
  g_assert_cmpuint (a->link_downs, ==, 1);
  g_assert_cmpuint (g_array_index (a->down_times, uint64_t, 0), ==,
                    SEC (1) + MS (20));
  g_assert_cmpuint (b->log->len, ==, 2);   /* hello and the close request */
  mesh_sim_get_stats (sim, &st);
  g_assert_cmpuint (st.closes_by_engine, ==, 1);
  g_assert_cmpuint (st.frames_dropped_closed, ==, 1);
  g_assert_cmpuint (st.links_up, ==, 0);
  g_assert_cmpuint (mesh_sim_find_link (sim, 0, 1), ==, MESH_LINK_NONE);
  mesh_sim_node_counters (sim, 0, &c0);
  mesh_sim_node_counters (sim, 1, &c1);
  g_assert_cmpuint (c1.closed_by_self, ==, 1);
  g_assert_cmpuint (c0.closed_by_peer, ==, 1);
  g_assert_cmpuint (c0.links_up, ==, 0);
  /* Nothing more goes out on the closed link. */
  g_assert_false (mesh_sim_inject (sim, la, (const uint8_t *) "\0\0\0\1x", 5));
  mesh_sim_free (sim);
}

static void
test_sim_reader (void)
{
  MeshSim *sim = fake_sim (2, 1, 0);
  MeshSimStats st;
  MeshLinkId la;
  uint8_t frame[16];
  Fake *b;

  mesh_sim_add_edge (sim, 0, 1, 0);
  mesh_sim_run_until (sim, SEC (1));
  b = fake_of (sim, 1);
  la = mesh_sim_find_link (sim, 0, 1);

  /* A well-formed injected frame is delivered like any other. */
  mesh_frame_write_header (frame, 3);
  memcpy (frame + 4, "Bxy", 3);
  g_assert_true (mesh_sim_inject (sim, la, frame, 7));
  mesh_sim_run_until (sim, SEC (2));
  g_assert_cmpuint (b->log->len, ==, 2);
  g_assert_cmpuint (g_array_index (b->log, FakeRecord, 1).len, ==, 3);

  /* A header beyond the receiver's max-frame-size fails its reader:
   * the receiver closes the link, nothing is handed to its engine. */
  mesh_frame_write_header (frame, MESH_FRAME_MAX_DEFAULT + 1);
  g_assert_true (mesh_sim_inject (sim, la, frame, 4));
  mesh_sim_run_until (sim, SEC (3));
  g_assert_cmpuint (b->log->len, ==, 2);
  g_assert_cmpuint (b->link_downs, ==, 1);
  g_assert_cmpuint (fake_of (sim, 0)->link_downs, ==, 1);
  mesh_sim_get_stats (sim, &st);
  g_assert_cmpuint (st.frames_rejected, ==, 1);
  g_assert_cmpuint (st.bytes_in_flight, ==, 0);
  g_assert_false (mesh_sim_inject (sim, la, frame, 7));

  /* Same for a header that does not match its frame, and an empty one,
   * on fresh links. */
  mesh_sim_heal (sim);
  mesh_sim_run_until (sim, SEC (4));
  la = mesh_sim_find_link (sim, 0, 1);
  g_assert_cmpuint (la, !=, MESH_LINK_NONE);
  mesh_frame_write_header (frame, 10);
  g_assert_true (mesh_sim_inject (sim, la, frame, 7));
  mesh_sim_run_until (sim, SEC (5));
  g_assert_cmpuint (mesh_sim_find_link (sim, 0, 1), ==, MESH_LINK_NONE);
  mesh_sim_heal (sim);
  mesh_sim_run_until (sim, SEC (6));
  la = mesh_sim_find_link (sim, 0, 1);
  mesh_frame_write_header (frame, 0);
  g_assert_true (mesh_sim_inject (sim, la, frame, 4));
  mesh_sim_run_until (sim, SEC (7));
  g_assert_cmpuint (mesh_sim_find_link (sim, 0, 1), ==, MESH_LINK_NONE);
  mesh_sim_get_stats (sim, &st);
  g_assert_cmpuint (st.frames_rejected, ==, 3);
  mesh_sim_free (sim);
}

static void
test_sim_connect (void)
{
  MeshSim *sim = fake_sim (4, 1, 0);
  MeshSimStats st;
  uint8_t id[32];

  /* 0 asks for a link to 2 (twice): one link, one round trip later. */
  g_assert_true (mesh_sim_send_private (sim, 0, 2, (const uint8_t *) "x", 1,
                                        id, NULL));
  g_assert_true (mesh_sim_send_private (sim, 2, 0, (const uint8_t *) "x", 1,
                                        id, NULL));
  mesh_sim_run_until (sim, MS (19));
  g_assert_cmpuint (mesh_sim_find_link (sim, 0, 2), ==, MESH_LINK_NONE);
  mesh_sim_run_until (sim, MS (20));
  g_assert_cmpuint (mesh_sim_find_link (sim, 0, 2), !=, MESH_LINK_NONE);
  g_assert_cmpuint (fake_of (sim, 0)->link_ups, ==, 1);
  g_assert_cmpuint (fake_of (sim, 2)->link_ups, ==, 1);
  mesh_sim_run_until (sim, SEC (1));
  mesh_sim_get_stats (sim, &st);
  g_assert_cmpuint (st.connects_requested, ==, 2);
  g_assert_cmpuint (st.connects_made, ==, 1);

  /* Across a partition, or to a node that is down, nothing happens; a
   * node can be barred from acting on requests. */
  mesh_sim_partition_block_nodes (mesh_sim_partition (sim), 3, 1, FALSE);
  mesh_sim_apply_partition (sim, FALSE);
  mesh_sim_send_private (sim, 1, 3, (const uint8_t *) "x", 1, id, NULL);
  mesh_sim_node_leave (sim, 0);
  mesh_sim_send_private (sim, 2, 0, (const uint8_t *) "x", 1, id, NULL);
  mesh_sim_node_set_connect (sim, 2, FALSE);
  mesh_sim_send_private (sim, 2, 3, (const uint8_t *) "x", 1, id, NULL);
  mesh_sim_run_until (sim, SEC (2));
  g_assert_cmpuint (mesh_sim_find_link (sim, 1, 3), ==, MESH_LINK_NONE);
  g_assert_cmpuint (mesh_sim_find_link (sim, 2, 3), ==, MESH_LINK_NONE);
  g_assert_cmpuint (mesh_sim_find_link (sim, 0, 2), ==, MESH_LINK_NONE);
  mesh_sim_get_stats (sim, &st);
  g_assert_cmpuint (st.connects_requested, ==, 4);
  g_assert_cmpuint (st.connects_failed, ==, 2);
  /* A node that is down takes no commands. */
  {
    GError *error = NULL;
    g_assert_false (mesh_sim_send_private (sim, 0, 1, (const uint8_t *) "x",
                                           1, id, &error));
    g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT);
    g_assert_nonnull (strstr (error->message, "offline"));
    g_clear_error (&error);
  }
  mesh_sim_free (sim);
}

static void
test_sim_refused (void)
{
  MeshSim *sim = fake_sim (2, 1, 0);
  MeshSimStats st;

  fake_cfg.refuse = TRUE;
  mesh_sim_add_edge (sim, 0, 1, 0);
  fake_cfg.refuse = FALSE;
  mesh_sim_run_until (sim, SEC (1));
  mesh_sim_get_stats (sim, &st);
  g_assert_cmpuint (st.links_refused, ==, 1);
  g_assert_cmpuint (st.links_up, ==, 0);
  g_assert_cmpuint (fake_of (sim, 0)->link_ups, ==, 0);
  g_assert_cmpuint (fake_of (sim, 1)->link_ups, ==, 0);
  mesh_sim_free (sim);
}

static void
test_sim_partition (void)
{
  MeshSim *sim = fake_sim (4, 1, 0);
  MeshSimPartition *p = mesh_sim_partition (sim);
  MeshSimStats st;
  Fake *f[4];

  /* A ring 0-1-2-3-0. */
  for (uint32_t i = 0; i < 4; i++)
    mesh_sim_add_edge (sim, i, (i + 1) % 4, 0);
  mesh_sim_run_until (sim, SEC (1));
  for (uint32_t i = 0; i < 4; i++)
    f[i] = fake_of (sim, i);

  /* One way, 0 -> 1 blocked: frames vanish that way only. */
  mesh_sim_partition_block_nodes (p, 0, 1, FALSE);
  mesh_sim_apply_partition (sim, FALSE);
  send_cmd (sim, 0, 'B', 10);
  send_cmd (sim, 1, 'B', 10);
  mesh_sim_run_until (sim, SEC (2));
  g_assert_cmpuint (f[1]->log->len, ==, 2);     /* two hellos only */
  g_assert_cmpuint (f[3]->log->len, ==, 3);     /* hellos and 0's frame */
  g_assert_cmpuint (f[0]->log->len, ==, 3);     /* hellos and 1's frame */
  g_assert_cmpuint (f[2]->log->len, ==, 3);
  mesh_sim_get_stats (sim, &st);
  g_assert_cmpuint (st.frames_blocked, ==, 1);
  g_assert_cmpuint (st.links_up, ==, 8);

  /* Halves {0,1} | {2,3}, cut: the links across go down at both ends. */
  mesh_sim_partition_heal (p);
  mesh_sim_partition_set_group (p, 2, 1);
  mesh_sim_partition_set_group (p, 3, 1);
  mesh_sim_partition_block_groups (p, 0, 1, TRUE);
  mesh_sim_apply_partition (sim, TRUE);
  mesh_sim_run_until (sim, SEC (3));
  g_assert_cmpuint (f[1]->link_downs, ==, 1);
  g_assert_cmpuint (f[2]->link_downs, ==, 1);
  g_assert_cmpuint (f[0]->link_downs, ==, 1);
  g_assert_cmpuint (f[3]->link_downs, ==, 1);
  g_assert_cmpuint (mesh_sim_find_link (sim, 0, 1), !=, MESH_LINK_NONE);
  g_assert_cmpuint (mesh_sim_find_link (sim, 1, 2), ==, MESH_LINK_NONE);
  mesh_sim_get_stats (sim, &st);
  g_assert_cmpuint (st.links_up, ==, 4);

  /* Heal: the edges come back a round trip later, as new links. */
  mesh_sim_heal (sim);
  mesh_sim_run_until (sim, SEC (3) + MS (19));
  g_assert_cmpuint (mesh_sim_find_link (sim, 1, 2), ==, MESH_LINK_NONE);
  mesh_sim_run_until (sim, SEC (3) + MS (20));
  g_assert_cmpuint (mesh_sim_find_link (sim, 1, 2), !=, MESH_LINK_NONE);
  g_assert_cmpuint (mesh_sim_find_link (sim, 3, 0), !=, MESH_LINK_NONE);
  mesh_sim_get_stats (sim, &st);
  g_assert_cmpuint (st.links_up, ==, 8);
  g_assert_cmpuint (st.links_opened, ==, 6);
  g_assert_cmpuint (f[1]->link_ups, ==, 3);
  mesh_sim_free (sim);
}

static void
test_sim_churn (void)
{
  MeshSim *sim = fake_sim (3, 1, SEC (1));
  MeshSimNodeCounters c;
  Fake *f0, *f2, *old;

  mesh_sim_add_edge (sim, 0, 1, 0);
  mesh_sim_add_edge (sim, 1, 2, 0);
  mesh_sim_run_until (sim, MS (500));
  f0 = fake_of (sim, 0);
  f2 = fake_of (sim, 2);

  /* 1 leaves at 0.5 s: it drops its links at once, the others hear a
   * latency later; it is not ticked while away. */
  old = fake_of (sim, 1);
  mesh_sim_node_leave (sim, 1);
  g_assert_false (mesh_sim_node_is_up (sim, 1));
  g_assert_cmpuint (old->link_downs, ==, 2);
  mesh_sim_run_until (sim, MS (510));
  g_assert_cmpuint (f0->link_downs, ==, 1);
  g_assert_cmpuint (f2->link_downs, ==, 1);
  g_assert_cmpuint (g_array_index (f0->down_times, uint64_t, 0), ==, MS (510));
  mesh_sim_run_until (sim, SEC (5));
  g_assert_cmpuint (old->ticks, ==, 0);
  g_assert_cmpuint (f0->ticks, ==, 5);

  /* Back at 5 s with the same engine: due timer at once, links after a
   * round trip. */
  mesh_sim_node_join (sim, 1);
  mesh_sim_run_until (sim, SEC (5));
  g_assert_cmpuint (old->ticks, ==, 1);
  mesh_sim_run_until (sim, SEC (5) + MS (20));
  g_assert_cmpuint (old->link_ups, ==, 4);
  g_assert_cmpuint (f0->link_ups, ==, 2);

  /* Restart: a new engine with the same identity, fresh links. */
  mesh_sim_node_restart (sim, 1);
  g_assert_cmpuint (fake_cfg.created, ==, 4);
  g_assert_cmpuint (fake_cfg.destroyed, ==, 1);
  /* (The allocator may hand out the same address: check freshness.) */
  g_assert_cmpuint (fake_of (sim, 1)->link_ups, ==, 0);
  g_assert_cmpuint (fake_of (sim, 1)->log->len, ==, 0);
  g_assert_cmpmem (fake_of (sim, 1)->self.node_id, 32,
                   mesh_sim_node_bundle (sim, 1)->node_id, 32);
  mesh_sim_run_until (sim, SEC (6));
  g_assert_cmpuint (fake_of (sim, 1)->link_ups, ==, 2);
  g_assert_cmpuint (f0->link_ups, ==, 3);
  g_assert_cmpuint (f0->link_downs, ==, 2);
  mesh_sim_node_counters (sim, 1, &c);
  g_assert_cmpuint (c.restarts, ==, 1);
  g_assert_cmpuint (c.links_up, ==, 2);

  /* A restart while down keeps the node down. */
  mesh_sim_node_leave (sim, 1);
  mesh_sim_node_restart (sim, 1);
  g_assert_false (mesh_sim_node_is_up (sim, 1));
  mesh_sim_run_until (sim, SEC (7));
  g_assert_cmpuint (fake_of (sim, 1)->ticks, ==, 0);
  mesh_sim_free (sim);
  g_assert_cmpuint (fake_cfg.destroyed, ==, 5);
}

static void
test_sim_limits (void)
{
  MeshSimConfig c;
  MeshSim *sim;
  MeshSimStats st;

  memset (&fake_cfg, 0, sizeof fake_cfg);
  mesh_sim_config_init (&c);
  c.n_nodes = 2;
  c.ops = &fake_ops;
  c.link_queue_max = 1000;
  sim = mesh_sim_new (&c, NULL);
  mesh_sim_add_edge (sim, 0, 1, 0);
  mesh_sim_run_until (sim, SEC (1));
  /* 400-byte frames: two fit in a 1000-byte queue, more are dropped
   * until the queue drains. */
  for (int i = 0; i < 5; i++)
    send_cmd (sim, 0, 'B', 400);
  mesh_sim_get_stats (sim, &st);
  g_assert_cmpuint (st.frames_dropped_queue, ==, 3);
  g_assert_cmpuint (st.bytes_in_flight, ==, 800);
  mesh_sim_run_until (sim, SEC (2));
  send_cmd (sim, 0, 'B', 400);
  mesh_sim_run_until (sim, SEC (3));
  g_assert_cmpuint (fake_of (sim, 1)->log->len, ==, 4);
  mesh_sim_free (sim);

  c.link_queue_max = 1 << 20;
  c.max_bytes_in_flight = 500;
  sim = mesh_sim_new (&c, NULL);
  mesh_sim_add_edge (sim, 0, 1, 0);
  send_cmd (sim, 0, 'B', 400);
  send_cmd (sim, 1, 'B', 400);
  mesh_sim_get_stats (sim, &st);
  /* Two hellos (32 bytes) and one 400-byte frame fit. */
  g_assert_cmpuint (st.frames_dropped_queue, ==, 1);
  g_assert_cmpuint (st.peak_bytes_in_flight, ==, 432);
  mesh_sim_free (sim);
}

static void
fake_run_trace (uint64_t seed, double loss, char hex[65])
{
  MeshSimConfig c;
  MeshSim *sim;

  memset (&fake_cfg, 0, sizeof fake_cfg);
  fake_cfg.period = MS (300);
  mesh_sim_config_init (&c);
  c.n_nodes = 20;
  c.seed = seed;
  c.ops = &fake_ops;
  c.link.loss = loss;
  sim = mesh_sim_new (&c, NULL);
  mesh_sim_connect_random (sim, 4);
  mesh_sim_run_until (sim, SEC (5));
  mesh_sim_node_restart (sim, 3);
  mesh_sim_run_until (sim, SEC (10));
  mesh_sim_trace_hex (sim, hex);
  mesh_sim_free (sim);
}

static void
test_sim_determinism (void)
{
  char a[65], b[65], c[65], d[65];

  fake_run_trace (5, 0.1, a);
  fake_run_trace (5, 0.1, b);
  fake_run_trace (6, 0.1, c);
  fake_run_trace (5, 0.0, d);
  g_assert_cmpstr (a, ==, b);
  g_assert_cmpstr (a, !=, c);
  g_assert_cmpstr (a, !=, d);
  g_assert_cmpuint (strlen (a), ==, 64);
}

/* ---- Scenarios with the real engine */

static void
scenario_params (MeshScenarioParams *p, uint32_t nodes, uint32_t degree,
                 uint64_t seed)
{
  mesh_scenario_params_init (p);
  p->nodes = nodes;
  p->degree = degree;
  p->seed = seed;
}

static void
run_scenario (const char *name, const MeshScenarioParams *p,
              MeshScenarioResult *r)
{
  GError *error = NULL;

  g_assert_true (mesh_scenario_run (name, p, r, &error));
  g_assert_no_error (error);
  g_test_message ("%s %u nodes: %s%s expected %" G_GUINT64_FORMAT
                  " delivered %" G_GUINT64_FORMAT " dup %" G_GUINT64_FORMAT
                  " failed %" G_GUINT64_FORMAT " lost %" G_GUINT64_FORMAT
                  " hops p50 %.1f p99 %.1f max %u latency p50 %.1f ms "
                  "virtual %.0f ms wall %.0f ms converge %.0f ms",
                  name, p->nodes, r->passed ? "passed" : "FAILED: ",
                  r->detail, r->expected, r->delivered, r->duplicates,
                  r->failed, r->lost, r->hops_p50, r->hops_p99, r->hops_max,
                  r->latency_ms_p50, r->virtual_ms, r->wall_ms,
                  r->converge_ms);
}

/* The scenario's own verdict first: on failure its detail says which
 * part failed and why. */
#define assert_passed(r) \
  do { \
    g_assert_cmpstr ((r)->detail, ==, ""); \
    g_assert_true ((r)->passed); \
  } while (0)

static void
test_scenario_params (void)
{
  MeshScenarioParams p;
  MeshScenarioResult r;
  GError *error = NULL;
  const char *const *names = mesh_scenario_names ();

  g_assert_cmpstr (names[0], ==, "private");
  g_assert_true (mesh_scenario_exists ("hostile"));
  g_assert_false (mesh_scenario_exists ("all"));
  scenario_params (&p, 10, 3, 1);
  g_assert_false (mesh_scenario_run ("nope", &p, &r, &error));
  g_assert_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "nope"));
  g_clear_error (&error);
  p.nodes = 1;
  g_assert_false (mesh_scenario_run ("private", &p, &r, &error));
  g_assert_nonnull (strstr (error->message, "nodes"));
  g_clear_error (&error);
  p.nodes = 10;
  p.payload_len = 8;
  g_assert_false (mesh_scenario_run ("private", &p, &r, &error));
  g_assert_nonnull (strstr (error->message, "payload"));
  g_clear_error (&error);
}

static void
test_scenario_10_pairs (void)
{
  MeshScenarioParams p;
  MeshScenarioResult r;

  /* Degree 3 on 10 nodes: most pairs are not neighbours. */
  scenario_params (&p, 10, 3, 10);
  p.all_pairs = TRUE;
  run_scenario ("private", &p, &r);
  assert_passed (&r);
  g_assert_true (r.converged);
  g_assert_cmpuint (r.expected, ==, 90);
  g_assert_cmpuint (r.delivered, ==, 90);
  g_assert_cmpuint (r.acked, ==, 90);
  g_assert_cmpuint (r.duplicates, ==, 0);
  g_assert_cmpuint (r.misdelivered, ==, 0);
  g_assert_cmpuint (r.lost, ==, 0);
  g_assert_cmpuint (r.hops_max, >=, 2);
  g_assert_cmpfloat (r.hops_p50, >=, 1);
}

static void
test_scenario_10_broadcast (void)
{
  MeshScenarioParams p;
  MeshScenarioResult r;

  scenario_params (&p, 10, 3, 11);
  p.broadcasts = 10;
  run_scenario ("broadcast", &p, &r);
  assert_passed (&r);
  g_assert_cmpuint (r.expected, ==, 90);
  g_assert_cmpuint (r.delivered, ==, 90);
  g_assert_cmpuint (r.duplicates, ==, 0);
  g_assert_cmpuint (r.misdelivered, ==, 0);
}

static void
test_scenario_100_private (void)
{
  MeshScenarioParams p;
  MeshScenarioResult r;

  scenario_params (&p, 100, 6, 100);
  p.messages = 1000;
  run_scenario ("private", &p, &r);
  assert_passed (&r);
  g_assert_cmpuint (r.expected, ==, 1000);
  g_assert_cmpuint (r.delivered, ==, 1000);
  g_assert_cmpuint (r.acked, ==, 1000);
  g_assert_cmpuint (r.duplicates, ==, 0);
  g_assert_cmpuint (r.hops_max, >=, 3);
}

static void
test_scenario_100_broadcast (void)
{
  MeshScenarioParams p;
  MeshScenarioResult r;

  scenario_params (&p, 100, 6, 101);
  p.broadcasts = 100;
  run_scenario ("broadcast", &p, &r);
  assert_passed (&r);
  g_assert_cmpuint (r.expected, ==, 9900);
  g_assert_cmpuint (r.delivered, ==, 9900);
  g_assert_cmpuint (r.duplicates, ==, 0);
}

static void
test_scenario_loss (void)
{
  MeshScenarioParams p;
  MeshScenarioResult r;

  scenario_params (&p, 50, 6, 55);
  p.link.loss = 0.05;
  p.messages = 300;
  run_scenario ("private", &p, &r);
  assert_passed (&r);
  g_assert_cmpuint (r.sim.frames_lost, >, 0);
  g_assert_cmpuint (r.delivered, ==, 300);
  g_assert_cmpuint (r.acked, ==, 300);
  g_assert_cmpuint (r.duplicates, ==, 0);

  p.broadcasts = 30;
  run_scenario ("broadcast", &p, &r);
  assert_passed (&r);
  g_assert_cmpuint (r.sim.frames_lost, >, 0);
  g_assert_cmpuint (r.delivered, ==, 30 * 49);
  g_assert_cmpuint (r.duplicates, ==, 0);
}

static void
test_scenario_partition (void)
{
  MeshScenarioParams p;
  MeshScenarioResult r;

  scenario_params (&p, 40, 6, 40);
  p.messages = 200;
  run_scenario ("partition", &p, &r);
  assert_passed (&r);
  g_assert_cmpuint (r.expected, ==, 200);
  g_assert_cmpuint (r.lost, ==, 0);
  g_assert_cmpuint (r.duplicates, ==, 0);
  g_assert_cmpuint (r.delivered + r.failed, ==, r.expected);
}

static void
test_scenario_churn (void)
{
  MeshScenarioParams p;
  MeshScenarioResult r;

  scenario_params (&p, 100, 6, 77);
  p.messages = 200;
  p.lookups = 200;
  run_scenario ("churn", &p, &r);
  assert_passed (&r);
  g_assert_cmpuint (r.reopen_expected, ==, 10);
  g_assert_cmpuint (r.reopen_delivered, ==, 10);
  g_assert_cmpuint (r.lookups, ==, 200);
  g_assert_cmpfloat (r.dht_success_rate, >=, 0.99);
  g_assert_cmpuint (r.lost, ==, 0);
  g_assert_cmpuint (r.duplicates, ==, 0);
}

static void
test_scenario_hostile (void)
{
  MeshScenarioParams p;
  MeshScenarioResult r;

  scenario_params (&p, 30, 6, 66);
  p.messages = 200;
  run_scenario ("hostile", &p, &r);
  assert_passed (&r);
  g_assert_cmpuint (r.hostile_peers, >=, 4);
  g_assert_cmpuint (r.attack_frames, >, 0);
  g_assert_cmpuint (r.hostile_disconnected, ==, r.hostile_peers);
  g_assert_cmpuint (r.forged_accepted, ==, 0);
  g_assert_cmpuint (r.delivered, ==, 200);
  g_assert_cmpuint (r.duplicates, ==, 0);
  g_assert_true (r.limits_ok);
  g_assert_cmpuint (r.lookups_ok, ==, r.lookups);
}

static void
test_scenario_determinism (void)
{
  MeshScenarioParams p;
  MeshScenarioResult a, b, c;

  scenario_params (&p, 20, 4, 7);
  p.messages = 50;
  run_scenario ("private", &p, &a);
  run_scenario ("private", &p, &b);
  p.seed = 8;
  run_scenario ("private", &p, &c);
  g_assert_cmpstr (a.trace_sha256, ==, b.trace_sha256);
  g_assert_cmpuint (a.sim.events, ==, b.sim.events);
  g_assert_cmpfloat (a.latency_ms_p50, ==, b.latency_ms_p50);
  g_assert_cmpstr (a.trace_sha256, !=, c.trace_sha256);
}

static void
test_scenario_1000_dht (void)
{
  MeshScenarioParams p;
  MeshScenarioResult r;

  scenario_params (&p, 1000, 6, 1000);
  p.lookups = 1000;
  run_scenario ("dht", &p, &r);
  assert_passed (&r);
  g_assert_cmpuint (r.lookups, ==, 1000);
  g_assert_cmpuint (r.lookups_ok, >=, 999);
  g_assert_cmpfloat (r.hops_p50, <=, 4);
}

/* The update scenarios: every node but the authority (and the malicious
 * node) ends with the whole package; the scenario itself checks every
 * kept chunk against the package and the package against its manifest. */
static void
assert_update (const MeshScenarioResult *r, uint32_t nodes, uint64_t size,
               uint64_t interested)
{
  g_assert_cmpuint (r->update_bytes, ==, size);
  g_assert_cmpuint (r->update_chunks, ==, (size + 65535) / 65536);
  g_assert_cmpuint (r->announce_expected, ==, nodes);
  g_assert_cmpuint (r->announce_reached, ==, nodes);
  g_assert_cmpuint (r->expected, ==, interested);
  g_assert_cmpuint (r->delivered, ==, interested);
  g_assert_cmpuint (r->misdelivered, ==, 0);
  g_assert_cmpfloat (r->update_last_ms, >, 0);
  g_assert_cmpfloat (r->latency_ms_p50, <=, r->latency_ms_p99);
  g_assert_cmpfloat (r->latency_ms_p99, <=, r->update_last_ms + 0.001);
  /* Chunks were served by more than the authority. */
  g_assert_cmpfloat (r->chunks_served_p50, >, 0);
  g_assert_cmpuint (r->chunks_served_max, >=, r->update_chunks);
}

static void
test_scenario_update (void)
{
  MeshScenarioParams p;
  MeshScenarioResult r;

  scenario_params (&p, 30, 6, 5);
  p.update_size = 1024 * 1024;
  run_scenario ("update", &p, &r);
  assert_passed (&r);
  assert_update (&r, 30, p.update_size, 29);
  g_assert_cmpuint (r.bad_chunks, ==, 0);
}

static void
test_scenario_update_hostile (void)
{
  MeshScenarioParams p;
  MeshScenarioResult r;

  scenario_params (&p, 30, 6, 6);
  p.update_size = 1024 * 1024 + 100;
  run_scenario ("update-hostile", &p, &r);
  assert_passed (&r);
  assert_update (&r, 30, p.update_size, 28);
  g_assert_cmpuint (r.bad_chunks, >, 0);
}

static void
test_scenario_1000_update (void)
{
  MeshScenarioParams p;
  MeshScenarioResult r;

  scenario_params (&p, 1000, 6, 1);
  run_scenario ("update-hostile", &p, &r);
  assert_passed (&r);
  assert_update (&r, 1000, 10 * 1024 * 1024, 998);
  g_assert_cmpuint (r.bad_chunks, >, 0);
}

/* make check-valgrind runs every test under memcheck (run-test.sh gets the
 * wrapper in MESHARA_TEST_WRAPPER).  The 100-node scenarios take several
 * seconds natively and tens of minutes there; the smaller scenarios cover
 * the same engine and simulator code under memcheck, and make check runs
 * these natively. */
static gboolean
under_memcheck (void)
{
  const char *w = g_getenv ("MESHARA_TEST_WRAPPER");

  return w != NULL && strstr (w, "valgrind") != NULL;
}

static void
skip_under_memcheck (void)
{
  g_test_skip ("100-node scenario: run natively by make check, too slow "
               "under valgrind memcheck");
}

int
main (int argc, char **argv)
{
  gboolean heavy_ok;

  g_test_init (&argc, &argv, NULL);
  heavy_ok = !under_memcheck ();

  g_test_add_func ("/sim/rng/reference", test_rng_reference);
  g_test_add_func ("/sim/rng/ranges", test_rng_ranges);
  g_test_add_func ("/sim/link/timing", test_link_timing);
  g_test_add_func ("/sim/link/order", test_link_order);
  g_test_add_func ("/sim/link/loss", test_link_loss);
  g_test_add_func ("/sim/link/params-check", test_link_params_check);
  g_test_add_func ("/sim/partition", test_partition);
  g_test_add_func ("/sim/topology", test_topology);
  g_test_add_func ("/sim/core/config", test_sim_config);
  g_test_add_func ("/sim/core/identities", test_sim_identities);
  g_test_add_func ("/sim/core/event-order", test_sim_event_order);
  g_test_add_func ("/sim/core/frames", test_sim_frames);
  g_test_add_func ("/sim/core/bandwidth", test_sim_bandwidth);
  g_test_add_func ("/sim/core/timers", test_sim_timers);
  g_test_add_func ("/sim/core/close", test_sim_close);
  g_test_add_func ("/sim/core/reader", test_sim_reader);
  g_test_add_func ("/sim/core/connect", test_sim_connect);
  g_test_add_func ("/sim/core/refused", test_sim_refused);
  g_test_add_func ("/sim/core/partition", test_sim_partition);
  g_test_add_func ("/sim/core/churn", test_sim_churn);
  g_test_add_func ("/sim/core/limits", test_sim_limits);
  g_test_add_func ("/sim/core/determinism", test_sim_determinism);

  g_test_add_func ("/sim/scenario/params", test_scenario_params);
  g_test_add_func ("/sim/scenario/10-all-pairs", test_scenario_10_pairs);
  g_test_add_func ("/sim/scenario/10-broadcast", test_scenario_10_broadcast);
  g_test_add_func ("/sim/scenario/100-private",
                   heavy_ok ? test_scenario_100_private : skip_under_memcheck);
  g_test_add_func ("/sim/scenario/100-broadcast",
                   heavy_ok ? test_scenario_100_broadcast : skip_under_memcheck);
  g_test_add_func ("/sim/scenario/loss", test_scenario_loss);
  g_test_add_func ("/sim/scenario/partition", test_scenario_partition);
  g_test_add_func ("/sim/scenario/churn",
                   heavy_ok ? test_scenario_churn : skip_under_memcheck);
  g_test_add_func ("/sim/scenario/hostile", test_scenario_hostile);
  g_test_add_func ("/sim/scenario/determinism", test_scenario_determinism);
  g_test_add_func ("/sim/scenario/update", test_scenario_update);
  g_test_add_func ("/sim/scenario/update-hostile", test_scenario_update_hostile);
  if (g_test_slow ())
    g_test_add_func ("/sim/scenario/1000-dht", test_scenario_1000_dht);
  if (g_test_slow ())
    g_test_add_func ("/sim/scenario/1000-update", test_scenario_1000_update);

  return g_test_run ();
}
