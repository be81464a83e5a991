/* The engine's private-message path: two engines in one process joined
 * by an in-memory link, frames handed across as soon as a call returns.
 * Both ends run in this one thread, so a figure is the cost of the
 * sender's and the receiver's work together (seal, encode, route,
 * decode, open, acknowledge, verify the tag).
 *
 *   engine.private_64.one_way     send_private at A to the PRIVATE_RECEIVED
 *                                 event at B, one message at a time
 *   engine.private_64.round_trip  send_private to the DELIVERED event at A
 *   engine.private_64.batch       per message, in bursts of 1000 with their
 *                                 acknowledgments; its inverse is the rate
 *
 *   bench-engine [--json FILE] [--quick]
 */
#include "config.h"

#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"
#include "engine/engine.h"

#define PAYLOAD 64
#define BATCH 1000

typedef struct {
  uint8_t *data;
  size_t len;
  int to;
} QFrame;

typedef struct Bench Bench;

typedef struct {
  Bench *b;
  int index;
  MeshIdentity id;
  MeshEngine *engine;
  guint64 rng;
} End;

struct Bench {
  End end[2];
  GArray *queue;               /* QFrame */
  guint received, delivered;
  uint64_t received_at, delivered_at;
};

static void
rnd (void *user_data, uint8_t *buf, size_t n)
{
  End *e = user_data;

  for (size_t i = 0; i < n; i++)
    {
      guint64 z = (e->rng += 0x9e3779b97f4a7c15ULL);
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
      buf[i] = (uint8_t) (z ^ (z >> 31));
    }
}

static void
cb_send_frame (void *user_data, MeshLinkId link, const uint8_t *frame, size_t len)
{
  End *e = user_data;
  QFrame f = { g_memdup2 (frame, len), len, 1 - e->index };

  g_array_append_val (e->b->queue, f);
}

static void
cb_close_link (void *user_data, MeshLinkId link, const char *reason)
{
  g_printerr ("bench-engine: link closed: %s\n", reason);
  exit (1);
}

static void
cb_event (void *user_data, const MeshEvent *ev)
{
  End *e = user_data;

  if (ev->type == MESH_EVENT_PRIVATE_RECEIVED)
    {
      e->b->received++;
      e->b->received_at = mesh_bench_now_ns ();
    }
  else if (ev->type == MESH_EVENT_DELIVERED)
    {
      e->b->delivered++;
      e->b->delivered_at = mesh_bench_now_ns ();
    }
  else if (ev->type == MESH_EVENT_DELIVERY_FAILED)
    {
      g_printerr ("bench-engine: delivery failed: %s\n", ev->reason);
      exit (1);
    }
}

/* Hand frames across until none is left. */
static void
pump (Bench *b)
{
  guint i = 0;

  while (i < b->queue->len)
    {
      QFrame f = g_array_index (b->queue, QFrame, i++);

      mesh_engine_receive (b->end[f.to].engine, 1, f.data + 4, f.len - 4,
                           mesh_bench_now_ns ());
      g_free (f.data);
    }
  g_array_set_size (b->queue, 0);
}

static void
bench_init (Bench *b)
{
  MeshEngineCallbacks cb = { cb_send_frame, cb_close_link, NULL, cb_event, rnd };
  MeshEngineConfig c;

  memset (b, 0, sizeof *b);
  b->queue = g_array_new (FALSE, FALSE, sizeof (QFrame));
  mesh_engine_config_init (&c);
  c.wall_epoch_ms = (uint64_t) (g_get_real_time () / 1000);
  /* Far above what one thread sends, so the limits do not interfere. */
  c.peer_frames_per_s = 100000000;
  c.peer_bytes_per_s = G_GUINT64_CONSTANT (100000000000);
  c.max_pending = 2 * BATCH;
  for (int i = 0; i < 2; i++)
    {
      uint8_t seed[MESH_SEED_LEN];

      memset (seed, 'a' + i, sizeof seed);
      b->end[i].b = b;
      b->end[i].index = i;
      b->end[i].rng = 42 + (guint64) i;
      mesh_identity_from_seed (&b->end[i].id, seed);
      b->end[i].engine = mesh_engine_new (&b->end[i].id, &c, &cb, &b->end[i],
                                          mesh_bench_now_ns ());
    }
  mesh_engine_link_up (b->end[0].engine, 1, &b->end[1].id.pub, mesh_bench_now_ns (), NULL);
  mesh_engine_link_up (b->end[1].engine, 1, &b->end[0].id.pub, mesh_bench_now_ns (), NULL);
  pump (b);
}

static void
bench_clear (Bench *b)
{
  for (int i = 0; i < 2; i++)
    {
      mesh_engine_free (b->end[i].engine);
      mesh_identity_clear (&b->end[i].id);
    }
  g_array_unref (b->queue);
}

static void
send_one (Bench *b, const uint8_t *payload)
{
  GError *error = NULL;

  if (!mesh_engine_send_private (b->end[0].engine, &b->end[1].id.pub, payload,
                                 PAYLOAD, mesh_bench_now_ns (), NULL, &error))
    {
      g_printerr ("bench-engine: %s\n", error->message);
      exit (1);
    }
}

int
main (int argc, char **argv)
{
  char *json_path = NULL;
  gboolean quick = FALSE;
  GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_FILENAME, &json_path, "Append JSON lines to FILE", "FILE" },
    { "quick", 0, 0, G_OPTION_ARG_NONE, &quick, "One tenth of the samples", NULL },
    { NULL }
  };
  GOptionContext *octx = g_option_context_new ("- the engine's private message path");
  GError *error = NULL;
  FILE *json = NULL;
  uint8_t payload[PAYLOAD];
  size_t samples = quick ? 2000 : 20000;
  size_t batches = quick ? 20 : 200;
  MeshBenchMetric one_way, round_trip, batch;
  Bench b;
  double p50;

  g_option_context_add_main_entries (octx, entries, NULL);
  if (!g_option_context_parse (octx, &argc, &argv, &error))
    {
      g_printerr ("bench-engine: %s\n", error->message);
      return 2;
    }
  g_option_context_free (octx);
  if (quick)
    {
      samples = 2000;
      batches = 20;
    }
  if (json_path && !(json = fopen (json_path, "a")))
    {
      g_printerr ("bench-engine: cannot open %s\n", json_path);
      return 1;
    }
  memset (payload, 'x', sizeof payload);
  bench_init (&b);
  /* Warm up: the session is opened and acknowledged. */
  for (int i = 0; i < 100; i++)
    {
      send_one (&b, payload);
      pump (&b);
    }

  mesh_bench_print_header ();
  mesh_bench_metric_init (&one_way, "engine.private_64.one_way", "ns", samples);
  one_way.target = "one-way < 60 us over TLS (goal); here without TLS or sockets";
  mesh_bench_metric_init (&round_trip, "engine.private_64.round_trip", "ns", samples);
  round_trip.target = "round trip < 100 us over TLS (goal)";
  for (size_t i = 0; i < samples; i++)
    {
      uint64_t t0 = mesh_bench_now_ns ();
      guint r = b.received, d = b.delivered;

      send_one (&b, payload);
      pump (&b);
      if (b.received != r + 1 || b.delivered != d + 1)
        {
          g_printerr ("bench-engine: message %zu was not delivered at once\n", i);
          return 1;
        }
      mesh_bench_metric_add (&one_way, (double) (b.received_at - t0));
      mesh_bench_metric_add (&round_trip, (double) (b.delivered_at - t0));
    }
  mesh_bench_report (&one_way, json);
  mesh_bench_report (&round_trip, json);

  mesh_bench_metric_init (&batch, "engine.private_64.batch", "ns", batches);
  batch.target = ">= 500,000 messages/s per process (goal)";
  batch.bytes_per_op = PAYLOAD;
  for (size_t s = 0; s < batches; s++)
    {
      uint64_t t0 = mesh_bench_now_ns ();
      guint d = b.delivered;

      for (int i = 0; i < BATCH; i++)
        send_one (&b, payload);
      pump (&b);
      if (b.delivered != d + BATCH)
        {
          g_printerr ("bench-engine: batch %zu: %u of %d delivered\n", s,
                      b.delivered - d, BATCH);
          return 1;
        }
      mesh_bench_metric_add (&batch, (double) (mesh_bench_now_ns () - t0) / BATCH);
    }
  mesh_bench_report (&batch, json);
  p50 = batch.samples[batch.n / 2];
  printf ("engine.private_64: %.0f messages/s with their acknowledgments, "
          "sender and receiver in one thread (median batch)\n", 1e9 / p50);

  mesh_bench_metric_clear (&one_way);
  mesh_bench_metric_clear (&round_trip);
  mesh_bench_metric_clear (&batch);
  bench_clear (&b);
  if (json)
    fclose (json);
  g_free (json_path);
  return 0;
}
