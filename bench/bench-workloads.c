/* Fixed workloads for regression detection by instruction count.
 *
 * Each workload does the same work on every run: inputs come from fixed
 * seeds, time is a virtual clock advanced by fixed steps, and nothing
 * depends on the wall clock or the system's random source.  Run under
 * callgrind (bench-check.sh), the instruction count of a workload is then
 * the same from run to run on one machine and build, so a rise of a few
 * percent is a real change of the code and not noise.
 *
 * Setup (identities, engines, tables, simulated nodes) is excluded: the
 * measured part runs between CALLGRIND_START_INSTRUMENTATION and
 * CALLGRIND_STOP_INSTRUMENTATION (bench-check.sh starts callgrind with
 * --instr-atstart=no).  Built without <valgrind/callgrind.h>, the measured
 * part is the function workload_measured() instead, for
 * --toggle-collect; --instrumentation says which of the two applies.
 *
 *   bench-workloads NAME     run one workload, print a one-line check
 *   bench-workloads --list   the workload names, one per line
 *   bench-workloads --instrumentation
 *                            "client-requests" or "toggle-collect"
 *
 * The check line sums up what the workload produced (counts, a digest),
 * so that a change of behaviour, not only of cost, is visible too.
 */
#include "config.h"

#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* MESH_BENCH_NO_CLIENT_REQUESTS forces the --toggle-collect fallback. */
#if defined(__has_include) && !defined(MESH_BENCH_NO_CLIENT_REQUESTS)
# if __has_include(<valgrind/callgrind.h>)
#  include <valgrind/callgrind.h>
#  define MESH_BENCH_CLIENT_REQUESTS 1
# endif
#endif
#ifndef MESH_BENCH_CLIENT_REQUESTS
# define CALLGRIND_START_INSTRUMENTATION do { } while (0)
# define CALLGRIND_STOP_INSTRUMENTATION do { } while (0)
#endif

#include "crypto/aead.h"
#include "crypto/hash.h"
#include "crypto/identity.h"
#include "crypto/session.h"
#include "crypto/sign.h"
#include "engine/engine.h"
#include "engine/routes.h"
#include "sim/scenario.h"
#include "sim/sim.h"
#include "wire/codec.h"

/* The virtual clock starts here (1 s) and never reads the system. */
#define T0_NS G_GUINT64_CONSTANT (1000000000)
/* 2026-01-01T00:00:00Z, so that wire timestamps are fixed too. */
#define WALL_EPOCH_MS G_GUINT64_CONSTANT (1767225600000)

static void
die (const char *what)
{
  fprintf (stderr, "bench-workloads: %s\n", what);
  exit (1);
}

/* splitmix64: a seeded MeshRandomFunc; user_data is its state. */
static void
seeded_rng (void *user_data, uint8_t *buf, size_t n)
{
  uint64_t *state = user_data;

  for (size_t i = 0; i < n; i++)
    {
      uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
      buf[i] = (uint8_t) (z ^ (z >> 31));
    }
}

/* Every workload is a setup, the measured part and a teardown; the
 * measured part fills in the check line. */
typedef struct {
  const char *name;
  void *(*setup) (void);
  void (*run) (void *ctx, GString *check);
  void (*teardown) (void *ctx);
} Workload;

/* ---- crypto: primitives one by one */

#define CRYPTO_SIGN 200
#define CRYPTO_X25519 200
#define CRYPTO_AEAD 1000
#define CRYPTO_SHA 1000

typedef struct {
  MeshIdentity id;
  uint8_t msg[1024];
  uint8_t out[1024 + MESH_AEAD_TAG_LEN];
  uint8_t sig[64], key[32], nonce[12], hash[32], shared[32];
} CryptoCtx;

static void *
crypto_setup (void)
{
  CryptoCtx *c = g_new0 (CryptoCtx, 1);
  uint8_t seed[MESH_SEED_LEN];

  memset (seed, 1, sizeof seed);
  mesh_identity_from_seed (&c->id, seed);
  memset (c->msg, 0x5a, sizeof c->msg);
  memset (c->key, 0x4b, sizeof c->key);
  return c;
}

static void
crypto_run (void *ctx, GString *check)
{
  CryptoCtx *c = ctx;
  unsigned ok = 0;

  for (int i = 0; i < CRYPTO_SIGN; i++)
    {
      c->msg[0] = (uint8_t) i;
      mesh_identity_sign (&c->id, c->msg, 64, c->sig);
      ok += mesh_ed25519_verify (c->id.pub.ed_pub, c->msg, 64, c->sig);
    }
  for (int i = 0; i < CRYPTO_X25519; i++)
    ok += mesh_x25519 (c->id.x_priv, c->id.pub.x_pub, c->shared);
  for (int i = 0; i < CRYPTO_AEAD; i++)
    {
      mesh_aead_noise_nonce ((uint64_t) i, c->nonce);
      mesh_aead_seal (c->key, c->nonce, NULL, 0, c->msg, sizeof c->msg, c->out);
    }
  for (int i = 0; i < CRYPTO_SHA; i++)
    {
      c->msg[1] = (uint8_t) i;
      mesh_sha256 (c->msg, sizeof c->msg, c->hash);
    }
  if (ok != CRYPTO_SIGN + CRYPTO_X25519)
    die ("crypto: a signature or key agreement failed");
  g_string_append_printf (check, "ok=%u sha=%02x%02x%02x%02x tag=%02x%02x",
                          ok, c->hash[0], c->hash[1], c->hash[2], c->hash[3],
                          c->out[1024], c->out[1025]);
}

static void
crypto_teardown (void *ctx)
{
  CryptoCtx *c = ctx;

  mesh_identity_clear (&c->id);
  g_free (c);
}

/* ---- wire: encode and decode a 1 KiB BaseMessage */

#define WIRE_ROUNDS 10000

typedef struct {
  MeshIdentity id;
  MeshWireBaseMessage msg;
  MeshWireRoutingInfo routing;
  uint8_t msg_id[32], sig[64], payload[900];
  uint8_t buf[4096];
  size_t len;
} WireCtx;

static void *
wire_setup (void)
{
  WireCtx *w = g_new0 (WireCtx, 1);
  uint8_t seed[MESH_SEED_LEN];
  GError *error = NULL;

  memset (seed, 2, sizeof seed);
  mesh_identity_from_seed (&w->id, seed);
  meshara__v1__base_message__init (&w->msg);
  meshara__v1__routing_info__init (&w->routing);
  memset (w->payload, 0xa7, sizeof w->payload);
  w->msg.version = MESH_WIRE_PROTOCOL_VERSION;
  w->msg.type = MESH_WIRE_TYPE_BROADCAST;
  w->msg.timestamp_ms = WALL_EPOCH_MS;
  w->msg.sender_public_key = (ProtobufCBinaryData) { 32, w->id.pub.ed_pub };
  w->msg.payload = (ProtobufCBinaryData) { sizeof w->payload, w->payload };
  w->msg.routing = &w->routing;
  w->routing.hop_count = 1;
  w->routing.max_hops = 8;
  w->routing.route_type = MESH_WIRE_ROUTE_FLOOD;
  mesh_wire_compute_message_id (&w->msg, w->msg_id);
  w->msg.message_id = (ProtobufCBinaryData) { 32, w->msg_id };
  mesh_identity_sign (&w->id, w->msg_id, 32, w->sig);
  w->msg.signature = (ProtobufCBinaryData) { 64, w->sig };
  if (!mesh_wire_validate (&w->msg.base, &error))
    die (error->message);
  w->len = mesh_wire_encoded_size (&w->msg.base);
  if (w->len > sizeof w->buf)
    die ("wire: the message outgrew its buffer");
  return w;
}

static void
wire_run (void *ctx, GString *check)
{
  WireCtx *w = ctx;
  uint64_t payload_bytes = 0;

  for (int i = 0; i < WIRE_ROUNDS; i++)
    {
      MeshWireBaseMessage *m;

      if (mesh_wire_encode_into (&w->msg.base, w->buf) != w->len)
        die ("wire: encoded size changed");
      m = mesh_wire_decode_base (w->buf, w->len, MESH_FRAME_MAX_DEFAULT, NULL);
      if (m == NULL)
        die ("wire: decoding failed");
      payload_bytes += m->payload.len;
      mesh_wire_free (m);
    }
  g_string_append_printf (check, "encoded=%zu payload_bytes=%" G_GUINT64_FORMAT,
                          w->len, payload_bytes);
}

static void
wire_teardown (void *ctx)
{
  WireCtx *w = ctx;

  mesh_identity_clear (&w->id);
  g_free (w);
}

/* ---- session: one handshake, then seal and open 64 B messages */

#define SESSION_ROUNDS 10000
#define SESSION_LEN 64

typedef struct {
  MeshIdentity alice, bob;
  uint64_t rng;
  uint8_t pt[SESSION_LEN], ct[SESSION_LEN + MESH_SESSION_OVERHEAD];
  uint8_t out[SESSION_LEN + MESH_SESSION_OVERHEAD];
} SessionCtx;

static void *
session_setup (void)
{
  SessionCtx *s = g_new0 (SessionCtx, 1);
  uint8_t seed[MESH_SEED_LEN];

  memset (seed, 3, sizeof seed);
  mesh_identity_from_seed (&s->alice, seed);
  memset (seed, 4, sizeof seed);
  mesh_identity_from_seed (&s->bob, seed);
  s->rng = 7;
  memset (s->pt, 'p', sizeof s->pt);
  return s;
}

static void
session_run (void *ctx, GString *check)
{
  SessionCtx *s = ctx;
  uint8_t init[MESH_SESSION_INIT_LEN];
  MeshSession *tx, *rx;
  uint64_t now = T0_NS, counter = 0;
  size_t clen = SESSION_LEN + MESH_SESSION_OVERHEAD, olen;

  tx = mesh_session_initiate (&s->alice, &s->bob.pub, seeded_rng, &s->rng,
                              now, init, NULL);
  rx = mesh_session_accept (&s->bob, init, sizeof init, now, NULL);
  if (tx == NULL || rx == NULL)
    die ("session: the handshake failed");
  for (int i = 0; i < SESSION_ROUNDS; i++)
    {
      now += 1000;
      s->pt[0] = (uint8_t) i;
      if (!mesh_session_seal (tx, s->pt, SESSION_LEN, s->ct, NULL, now, NULL)
          || !mesh_session_open (rx, s->ct, clen, s->out, &olen, &counter,
                                 NULL, now, NULL)
          || olen != SESSION_LEN || s->out[0] != (uint8_t) i)
        die ("session: a message did not survive seal and open");
    }
  mesh_session_free (tx);
  mesh_session_free (rx);
  g_string_append_printf (check, "last_counter=%" G_GUINT64_FORMAT " tag=%02x%02x",
                          counter, s->ct[clen - 2], s->ct[clen - 1]);
}

static void
session_teardown (void *ctx)
{
  SessionCtx *s = ctx;

  mesh_identity_clear (&s->alice);
  mesh_identity_clear (&s->bob);
  g_free (s);
}

/* ---- routes: fill a table, then look up present and absent IDs */

#define ROUTES_INSERTS 100000
#define ROUTES_LOOKUPS 200000

typedef struct {
  uint8_t *ids;         /* ROUTES_INSERTS * 2 IDs: present, then absent */
  MeshRoutes *table;
} RoutesCtx;

static void *
routes_setup (void)
{
  RoutesCtx *r = g_new0 (RoutesCtx, 1);
  uint8_t key[MESH_ROUTES_KEY_LEN];
  uint64_t rng = 11;

  memset (key, 0x6b, sizeof key);
  r->ids = g_malloc ((size_t) ROUTES_INSERTS * 2 * MESH_ROUTE_ID_LEN);
  seeded_rng (&rng, r->ids, (size_t) ROUTES_INSERTS * 2 * MESH_ROUTE_ID_LEN);
  r->table = mesh_routes_new (ROUTES_INSERTS, key);
  return r;
}

static void
routes_run (void *ctx, GString *check)
{
  RoutesCtx *r = ctx;
  uint64_t now = T0_NS;
  unsigned found = 0;

  for (uint32_t i = 0; i < ROUTES_INSERTS; i++)
    if (mesh_routes_update (r->table, r->ids + (size_t) i * MESH_ROUTE_ID_LEN,
                            1 + i % 8, (uint8_t) (1 + i % 5),
                            (uint16_t) (10 + i % 100), now) != MESH_ROUTE_ADDED)
      die ("routes: an insert was not taken");
  /* Half hits, half misses, interleaved. */
  for (uint32_t i = 0; i < ROUTES_LOOKUPS; i++)
    {
      size_t k = (i & 1) ? ROUTES_INSERTS + i / 2 % ROUTES_INSERTS
                         : (size_t) (i / 2 * 7919u % ROUTES_INSERTS);

      if (mesh_routes_lookup (r->table, r->ids + k * MESH_ROUTE_ID_LEN)
          != MESH_ROUTE_NO_LINK)
        found++;
    }
  if (found != ROUTES_LOOKUPS / 2)
    die ("routes: lookups found the wrong entries");
  g_string_append_printf (check, "entries=%zu found=%u",
                          mesh_routes_count (r->table), found);
}

static void
routes_teardown (void *ctx)
{
  RoutesCtx *r = ctx;

  mesh_routes_free (r->table);
  g_free (r->ids);
  g_free (r);
}

/* ---- engine: two engines joined in memory, private messages A -> B */

#define ENGINE_MESSAGES 2000
#define ENGINE_BURST 100
#define ENGINE_PAYLOAD 64

typedef struct EngineCtx EngineCtx;

typedef struct {
  uint64_t rng;                 /* first: the end is seeded_rng's state */
  EngineCtx *ctx;
  int index;
  MeshIdentity id;
  MeshEngine *engine;
} EngineEnd;

typedef struct {
  uint8_t *data;
  size_t len;
  int to;
} EngineFrame;

struct EngineCtx {
  EngineEnd end[2];
  GArray *queue;                /* EngineFrame */
  uint64_t now;
  unsigned received, delivered;
  uint64_t frames, bytes;
};

static void
engine_send_frame (void *user_data, MeshLinkId link, const uint8_t *frame,
                   size_t len)
{
  EngineEnd *e = user_data;
  EngineFrame f = { g_memdup2 (frame, len), len, 1 - e->index };

  (void) link;
  g_array_append_val (e->ctx->queue, f);
}

static void
engine_close_link (void *user_data, MeshLinkId link, const char *reason)
{
  (void) user_data;
  (void) link;
  fprintf (stderr, "bench-workloads: engine: link closed: %s\n", reason);
  exit (1);
}

static void
engine_event (void *user_data, const MeshEvent *ev)
{
  EngineEnd *e = user_data;

  if (ev->type == MESH_EVENT_PRIVATE_RECEIVED)
    e->ctx->received++;
  else if (ev->type == MESH_EVENT_DELIVERED)
    e->ctx->delivered++;
  else if (ev->type == MESH_EVENT_DELIVERY_FAILED)
    die ("engine: a delivery failed");
}

/* Hand frames across until none is left; the clock moves 10 us a frame. */
static void
engine_pump (EngineCtx *c)
{
  guint i = 0;

  while (i < c->queue->len)
    {
      EngineFrame f = g_array_index (c->queue, EngineFrame, i++);

      c->now += 10000;
      c->frames++;
      c->bytes += f.len;
      mesh_engine_receive (c->end[f.to].engine, 1, f.data + 4, f.len - 4, c->now);
      g_free (f.data);
    }
  g_array_set_size (c->queue, 0);
}

static void *
engine_setup (void)
{
  EngineCtx *c = g_new0 (EngineCtx, 1);
  MeshEngineCallbacks cb = { engine_send_frame, engine_close_link, NULL,
                             engine_event, seeded_rng };
  MeshEngineConfig config;

  /* Room for the whole queue of one burst, including the frames of the
   * first messages' acknowledgments. */
  c->queue = g_array_sized_new (FALSE, FALSE, sizeof (EngineFrame), 4 * ENGINE_BURST);
  c->now = T0_NS;
  mesh_engine_config_init (&config);
  config.wall_epoch_ms = WALL_EPOCH_MS;
  /* Far above what is sent here, so rate limits never interfere. */
  config.peer_frames_per_s = 100000000;
  config.peer_bytes_per_s = G_GUINT64_CONSTANT (100000000000);
  for (int i = 0; i < 2; i++)
    {
      uint8_t seed[MESH_SEED_LEN];
      EngineEnd *e = &c->end[i];

      memset (seed, 'a' + i, sizeof seed);
      e->ctx = c;
      e->index = i;
      e->rng = 42 + (uint64_t) i;
      mesh_identity_from_seed (&e->id, seed);
      e->engine = mesh_engine_new (&e->id, &config, &cb, e, c->now);
      if (e->engine == NULL)
        die ("engine: mesh_engine_new failed");
    }
  if (!mesh_engine_link_up (c->end[0].engine, 1, &c->end[1].id.pub, c->now, NULL)
      || !mesh_engine_link_up (c->end[1].engine, 1, &c->end[0].id.pub, c->now, NULL))
    die ("engine: link_up failed");
  engine_pump (c);
  return c;
}

static void
engine_run (void *ctx, GString *check)
{
  EngineCtx *c = ctx;
  uint8_t payload[ENGINE_PAYLOAD];
  GError *error = NULL;

  memset (payload, 'x', sizeof payload);
  for (int sent = 0; sent < ENGINE_MESSAGES; )
    {
      for (int i = 0; i < ENGINE_BURST; i++, sent++)
        {
          payload[0] = (uint8_t) sent;
          c->now += 1000;
          if (!mesh_engine_send_private (c->end[0].engine, &c->end[1].id.pub,
                                         payload, sizeof payload, c->now, NULL,
                                         &error))
            die (error->message);
        }
      engine_pump (c);
    }
  if (c->received != ENGINE_MESSAGES || c->delivered != ENGINE_MESSAGES)
    die ("engine: not every message was delivered and acknowledged");
  g_string_append_printf (check, "received=%u delivered=%u frames=%" G_GUINT64_FORMAT
                          " bytes=%" G_GUINT64_FORMAT,
                          c->received, c->delivered, c->frames, c->bytes);
}

static void
engine_teardown (void *ctx)
{
  EngineCtx *c = ctx;

  for (int i = 0; i < 2; i++)
    {
      mesh_engine_free (c->end[i].engine);
      mesh_identity_clear (&c->end[i].id);
    }
  g_array_unref (c->queue);
  g_free (c);
}

/* ---- sim: a 50-node network on the virtual clock */

#define SIM_NODES 50
#define SIM_DEGREE 4
#define SIM_SEED 1
#define SIM_MESSAGES 200
#define SIM_SEC(s) ((uint64_t) (s) * G_GUINT64_CONSTANT (1000000000))

typedef struct {
  MeshSim *sim;
  unsigned received, delivered;
} SimCtx;

static void
sim_on_event (MeshSim *sim, uint32_t node, const MeshEvent *ev, void *user_data)
{
  SimCtx *s = user_data;

  (void) sim;
  (void) node;
  if (ev->type == MESH_EVENT_PRIVATE_RECEIVED)
    s->received++;
  else if (ev->type == MESH_EVENT_DELIVERED)
    s->delivered++;
}

static void *
sim_setup (void)
{
  SimCtx *s = g_new0 (SimCtx, 1);
  MeshSimConfig config;
  GError *error = NULL;

  mesh_sim_config_init (&config);
  config.n_nodes = SIM_NODES;
  config.seed = SIM_SEED;
  config.ops = &mesh_scenario_engine_ops;
  mesh_scenario_engine_config (&config.engine);
  s->sim = mesh_sim_new (&config, &error);
  if (s->sim == NULL)
    die (error->message);
  mesh_sim_set_event_func (s->sim, sim_on_event, s);
  return s;
}

/* The topology comes up at time 0 and converges (routing, gossip, DHT
 * bootstrap) for 10 virtual seconds; then private messages between
 * random pairs, one every 10 ms, and 5 more seconds to deliver them. */
static void
sim_run (void *ctx, GString *check)
{
  SimCtx *s = ctx;
  MeshSimRng *rng = mesh_sim_rng (s->sim);
  uint8_t payload[64];
  char trace[65];
  MeshSimStats st;

  memset (payload, 'm', sizeof payload);
  mesh_sim_connect_random (s->sim, SIM_DEGREE);
  mesh_sim_run_until (s->sim, SIM_SEC (10));
  for (int i = 0; i < SIM_MESSAGES; i++)
    {
      uint32_t from = (uint32_t) mesh_sim_rng_below (rng, SIM_NODES);
      uint32_t to = (uint32_t) mesh_sim_rng_below (rng, SIM_NODES - 1);

      if (to >= from)
        to++;
      payload[0] = (uint8_t) i;
      if (!mesh_sim_send_private (s->sim, from, to, payload, sizeof payload,
                                  NULL, NULL))
        die ("sim: send_private refused a message");
      mesh_sim_run_until (s->sim, mesh_sim_now (s->sim) + SIM_SEC (1) / 100);
    }
  mesh_sim_run_until (s->sim, mesh_sim_now (s->sim) + SIM_SEC (5));
  mesh_sim_get_stats (s->sim, &st);
  mesh_sim_trace_hex (s->sim, trace);
  trace[16] = '\0';
  g_string_append_printf (check, "received=%u delivered=%u events=%" G_GUINT64_FORMAT
                          " trace=%s", s->received, s->delivered, st.events, trace);
}

static void
sim_teardown (void *ctx)
{
  SimCtx *s = ctx;

  mesh_sim_free (s->sim);
  g_free (s);
}

static const Workload workloads[] = {
  { "crypto", crypto_setup, crypto_run, crypto_teardown },
  { "wire", wire_setup, wire_run, wire_teardown },
  { "session", session_setup, session_run, session_teardown },
  { "routes", routes_setup, routes_run, routes_teardown },
  { "engine", engine_setup, engine_run, engine_teardown },
  { "sim", sim_setup, sim_run, sim_teardown },
};

/* The measured part; not inlined, so that --toggle-collect can name it
 * when the client requests are not available. */
__attribute__ ((noinline)) void workload_measured (const Workload *w, void *ctx,
                                                   GString *check);

__attribute__ ((noinline)) void
workload_measured (const Workload *w, void *ctx, GString *check)
{
  CALLGRIND_START_INSTRUMENTATION;
  w->run (ctx, check);
  CALLGRIND_STOP_INSTRUMENTATION;
}

static void
usage (void)
{
  fprintf (stderr, "usage: bench-workloads NAME | --list | --instrumentation\n");
  exit (2);
}

int
main (int argc, char **argv)
{
  const Workload *w = NULL;
  GString *check;
  void *ctx;

  if (argc != 2)
    usage ();
  if (strcmp (argv[1], "--list") == 0)
    {
      for (size_t i = 0; i < G_N_ELEMENTS (workloads); i++)
        printf ("%s\n", workloads[i].name);
      return 0;
    }
  if (strcmp (argv[1], "--instrumentation") == 0)
    {
#ifdef MESH_BENCH_CLIENT_REQUESTS
      printf ("client-requests\n");
#else
      printf ("toggle-collect\n");
#endif
      return 0;
    }
  for (size_t i = 0; i < G_N_ELEMENTS (workloads); i++)
    if (strcmp (argv[1], workloads[i].name) == 0)
      w = &workloads[i];
  if (w == NULL)
    {
      fprintf (stderr, "bench-workloads: no workload named \"%s\"\n", argv[1]);
      usage ();
    }

  /* Allocated before the measured part so that its growth is not. */
  check = g_string_sized_new (256);
  ctx = w->setup ();
  workload_measured (w, ctx, check);
  w->teardown (ctx);
  printf ("%s: %s\n", w->name, check->str);
  g_string_free (check, TRUE);
  return 0;
}
