/* Routing table benchmark: fill a table to its maximum (1,000,000 random
 * IDs by default), then time lookups of present and of absent IDs, route
 * refreshes, and the whole-table sweeps.
 *
 * A lookup takes tens of nanoseconds and reading the clock about 20, so a
 * sample is the mean over a batch of 1000 operations (1024 for the
 * batched lookups); percentiles are over those batch means.
 *
 *   routes.lookup_1m        mesh_routes_lookup, one call per ID; the IDs are
 *                           independent, so the CPU may overlap a little
 *   routes.lookup_many_1m   mesh_routes_lookup_many in bursts of 64 IDs
 *   routes.lookup_chain_1m  each ID depends on the previous result: the
 *                           latency of one isolated lookup
 *
 * Usage: bench-routes [--entries N] [--batches N] [--json FILE] */
#include "config.h"

#include "engine/routes.h"
#include "stats.h"

#include <glib.h>
#include <stdlib.h>
#include <string.h>

#define BATCH 1000

typedef uint8_t Id[MESH_ROUTE_ID_LEN];

static uint64_t rng_state = 0x6d657368617261ULL;

static uint64_t
rng_next (void)
{
  /* splitmix64: fast, and fixed-seeded so every run uses the same IDs */
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static void
rng_fill (void *buf, size_t n)
{
  uint8_t *p = buf;
  for (size_t i = 0; i < n; i += 8)
    {
      uint64_t v = rng_next ();
      memcpy (p + i, &v, MIN (8, n - i));
    }
}

/* Time batches of lookups of ids[0..n) in order, wrapping around. */
static void
bench_lookups (MeshBenchMetric *m, const MeshRoutes *t, const Id *ids,
               size_t n, size_t batches, uint32_t *sink)
{
  size_t pos = 0;
  uint32_t acc = 0;

  for (size_t b = 0; b < batches; b++)
    {
      uint64_t t0 = mesh_bench_now_ns ();
      for (int k = 0; k < BATCH; k++)
        {
          acc += mesh_routes_lookup (t, ids[pos]);
          if (++pos == n)
            pos = 0;
        }
      mesh_bench_metric_add (m, (double) (mesh_bench_now_ns () - t0) / BATCH);
    }
  *sink += acc;
}

/* Lookups through mesh_routes_lookup_many, in bursts of BURST IDs (what a
 * node forwarding a burst of frames would pass); a sample is the mean
 * over 16 bursts. */
#define BURST 64

static void
bench_lookup_many (MeshBenchMetric *m, const MeshRoutes *t,
                   const uint8_t *const *ptrs, size_t n, size_t batches,
                   uint32_t *sink)
{
  uint32_t out[BURST];
  size_t pos = 0;
  uint32_t acc = 0;

  for (size_t b = 0; b < batches; b++)
    {
      uint64_t t0 = mesh_bench_now_ns ();
      for (int k = 0; k < 16; k++)
        {
          if (pos + BURST > n)
            pos = 0;
          mesh_routes_lookup_many (t, ptrs + pos, BURST, out);
          acc += out[0] + out[BURST - 1];
          pos += BURST;
        }
      mesh_bench_metric_add (m, (double) (mesh_bench_now_ns () - t0) / (16 * BURST));
    }
  *sink += acc;
}

/* The same, but the next ID depends on the result of this lookup. */
static void
bench_lookup_chain (MeshBenchMetric *m, const MeshRoutes *t, const Id *ids,
                    size_t n, size_t batches, uint32_t *sink)
{
  size_t pos = 0;
  uint32_t hop = 0;

  for (size_t b = 0; b < batches; b++)
    {
      uint64_t t0 = mesh_bench_now_ns ();
      for (int k = 0; k < BATCH; k++)
        {
          pos += 1 + (hop & 1);
          if (pos >= n)
            pos -= n;
          hop = mesh_routes_lookup (t, ids[pos]);
        }
      mesh_bench_metric_add (m, (double) (mesh_bench_now_ns () - t0) / BATCH);
    }
  *sink += hop;
}

int
main (int argc, char **argv)
{
  size_t entries = 1000000, batches = 2000;
  const char *json_path = NULL;
  FILE *json = NULL;
  uint32_t sink = 0;
  uint8_t key[MESH_ROUTES_KEY_LEN];

  for (int i = 1; i < argc; i++)
    {
      if (strcmp (argv[i], "--json") == 0 && i + 1 < argc)
        json_path = argv[++i];
      else if (strcmp (argv[i], "--entries") == 0 && i + 1 < argc)
        entries = strtoul (argv[++i], NULL, 10);
      else if (strcmp (argv[i], "--batches") == 0 && i + 1 < argc)
        batches = strtoul (argv[++i], NULL, 10);
      else
        {
          fprintf (stderr, "usage: %s [--entries N] [--batches N] [--json FILE]\n", argv[0]);
          return 2;
        }
    }
  if (entries < BATCH || entries > MESH_ROUTES_MAX_ENTRIES || batches == 0)
    {
      fprintf (stderr, "%s: --entries must be %d..%u, --batches at least 1\n",
               argv[0], BATCH, MESH_ROUTES_MAX_ENTRIES);
      return 2;
    }
  if (json_path && (json = fopen (json_path, "a")) == NULL)
    {
      perror (json_path);
      return 1;
    }

  rng_fill (key, sizeof key);
  Id *ids = g_new (Id, entries);
  Id *present = g_new (Id, entries);
  Id *absent = g_new (Id, entries);
  rng_fill (ids, entries * sizeof (Id));
  rng_fill (absent, entries * sizeof (Id));
  /* Queries in a random order, laid out in that order: reading them
   * streams through memory, and only the table is accessed at random. */
  memcpy (present, ids, entries * sizeof (Id));
  for (size_t i = entries - 1; i > 0; i--)
    {
      size_t j = rng_next () % (i + 1);
      Id tmp;
      memcpy (tmp, present[i], sizeof tmp);
      memcpy (present[i], present[j], sizeof tmp);
      memcpy (present[j], tmp, sizeof tmp);
    }

  MeshRoutes *t = mesh_routes_new ((uint32_t) entries, key);
  MeshBenchMetric m;
  char name[64];
  const char *suffix = entries == 1000000 ? "1m" : NULL;
  char size_tag[32];
  if (suffix == NULL)
    g_snprintf (size_tag, sizeof size_tag, "%zu", entries);
#define NAME(base) (g_snprintf (name, sizeof name, "routes." base "_%s", \
                                suffix ? suffix : size_tag), name)

  printf ("routing table: %zu random IDs, table maximum %zu; a sample is the "
          "mean of a batch of %d operations (lookup_many: 16 bursts of %d)\n\n",
          entries, entries, BATCH, BURST);
  mesh_bench_print_header ();

  /* Fill, timing each batch: the batches that double the arrays show as
   * the tail. */
  mesh_bench_metric_init (&m, NAME ("insert"), "ns", entries / BATCH);
  m.target = "measured";
  uint64_t fill0 = mesh_bench_now_ns ();
  for (size_t i = 0; i < entries; i += BATCH)
    {
      uint64_t t0 = mesh_bench_now_ns ();
      for (size_t k = i; k < i + BATCH && k < entries; k++)
        {
          uint16_t cost = mesh_route_cost (2 + (k & 7), 1000 + (uint32_t) (k & 0xfff), 1.0);
          if (mesh_routes_update (t, ids[k], ids[k][0], 2, cost, 1) != MESH_ROUTE_ADDED)
            g_error ("insert %zu was not added", k);
        }
      mesh_bench_metric_add (&m, (double) (mesh_bench_now_ns () - t0) / BATCH);
    }
  double fill_s = (double) (mesh_bench_now_ns () - fill0) / 1e9;
  mesh_bench_report (&m, json);
  mesh_bench_metric_clear (&m);

  mesh_bench_metric_init (&m, "routes.bytes_per_entry", "bytes", 1);
  m.target = "goal < 64";
  mesh_bench_metric_add (&m, (double) mesh_routes_memory (t) / (double) mesh_routes_count (t));
  mesh_bench_report (&m, json);
  mesh_bench_metric_clear (&m);

  /* One untimed pass so that first-touch page faults are not measured. */
  for (size_t i = 0; i < entries; i++)
    sink += mesh_routes_lookup (t, present[i]);

  mesh_bench_metric_init (&m, NAME ("lookup"), "ns", batches);
  m.target = "plan < 100 ns, goal < 50 ns";
  bench_lookups (&m, t, (const Id *) present, entries, batches, &sink);
  mesh_bench_report (&m, json);
  mesh_bench_metric_clear (&m);

  const uint8_t **ptrs = g_new (const uint8_t *, entries);
  for (size_t i = 0; i < entries; i++)
    ptrs[i] = present[i];
  mesh_bench_metric_init (&m, NAME ("lookup_many"), "ns", batches);
  m.target = "plan < 100 ns, goal < 50 ns";
  bench_lookup_many (&m, t, ptrs, entries, batches, &sink);
  mesh_bench_report (&m, json);
  mesh_bench_metric_clear (&m);

  for (size_t i = 0; i < entries; i++)
    ptrs[i] = absent[i];
  mesh_bench_metric_init (&m, NAME ("lookup_many_absent"), "ns", batches);
  m.target = "measured";
  bench_lookup_many (&m, t, ptrs, entries, batches, &sink);
  mesh_bench_report (&m, json);
  mesh_bench_metric_clear (&m);
  g_free (ptrs);

  mesh_bench_metric_init (&m, NAME ("lookup_chain"), "ns", batches);
  m.target = "measured (one lookup at a time)";
  bench_lookup_chain (&m, t, (const Id *) present, entries, batches, &sink);
  mesh_bench_report (&m, json);
  mesh_bench_metric_clear (&m);

  mesh_bench_metric_init (&m, NAME ("lookup_absent"), "ns", batches);
  m.target = "measured";
  bench_lookups (&m, t, (const Id *) absent, entries, batches, &sink);
  mesh_bench_report (&m, json);
  mesh_bench_metric_clear (&m);

  /* Refreshes from the current next hop: the common advertisement case. */
  mesh_bench_metric_init (&m, NAME ("refresh"), "ns", batches);
  m.target = "measured";
  for (size_t b = 0, pos = 0; b < batches; b++)
    {
      uint64_t t0 = mesh_bench_now_ns ();
      for (int k = 0; k < BATCH; k++)
        {
          const uint8_t *id = present[pos];
          sink += mesh_routes_update (t, id, id[0], 2, 20, 2);
          if (++pos == entries)
            pos = 0;
        }
      mesh_bench_metric_add (&m, (double) (mesh_bench_now_ns () - t0) / BATCH);
    }
  mesh_bench_report (&m, json);
  mesh_bench_metric_clear (&m);

  /* The full sweeps: each of 5 runs takes down one link (next hops are
   * spread over 256 links), and an expiry pass that finds nothing stale. */
  mesh_bench_metric_init (&m, NAME ("withdraw_link"), "us", 5);
  m.target = "measured (whole table)";
  for (uint32_t link = 10; link < 15; link++)
    {
      uint64_t t0 = mesh_bench_now_ns ();
      sink += (uint32_t) mesh_routes_withdraw_link (t, link, 3, NULL);
      mesh_bench_metric_add (&m, (double) (mesh_bench_now_ns () - t0) / 1e3);
    }
  mesh_bench_report (&m, json);
  mesh_bench_metric_clear (&m);

  mesh_bench_metric_init (&m, NAME ("expire_scan"), "us", 5);
  m.target = "measured (whole table)";
  for (int r = 0; r < 5; r++)
    {
      uint64_t t0 = mesh_bench_now_ns ();
      sink += (uint32_t) mesh_routes_expire (t, G_GUINT64_CONSTANT (4000000000), 3600);
      mesh_bench_metric_add (&m, (double) (mesh_bench_now_ns () - t0) / 1e3);
    }
  mesh_bench_report (&m, json);
  mesh_bench_metric_clear (&m);

  printf ("\ninsert rate %.2f M/s (whole fill, growth included); "
          "%zu slots, %zu bytes (%.1f MB)\n",
          (double) entries / fill_s / 1e6, mesh_routes_capacity (t),
          mesh_routes_memory (t), (double) mesh_routes_memory (t) / 1e6);
  if (sink == 0x5eed5eed)  /* keeps the loops from being optimized away */
    puts ("");

  mesh_routes_free (t);
  g_free (ids);
  g_free (present);
  g_free (absent);
  if (json)
    fclose (json);
  return 0;
}
