#include "config.h"

#include "stats.h"

#include <glib.h>
#include <math.h>
#include <stdlib.h>
#include <time.h>

uint64_t
mesh_bench_now_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

void
mesh_bench_metric_init (MeshBenchMetric *m, const char *name, const char *unit,
                        size_t expected_samples)
{
  *m = (MeshBenchMetric) { .name = name, .unit = unit };
  m->cap = expected_samples ? expected_samples : 64;
  m->samples = g_new (double, m->cap);
}

void
mesh_bench_metric_add (MeshBenchMetric *m, double value)
{
  if (m->n == m->cap)
    {
      m->cap *= 2;
      m->samples = g_renew (double, m->samples, m->cap);
    }
  m->samples[m->n++] = value;
}

void
mesh_bench_metric_clear (MeshBenchMetric *m)
{
  g_free (m->samples);
  m->samples = NULL;
  m->n = m->cap = 0;
}

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted samples. */
static double
percentile (const double *s, size_t n, double p)
{
  if (n == 0)
    return NAN;
  size_t rank = (size_t) ceil (p / 100.0 * (double) n);
  if (rank < 1)
    rank = 1;
  if (rank > n)
    rank = n;
  return s[rank - 1];
}

void
mesh_bench_print_header (void)
{
  printf ("%-28s %8s %10s %10s %10s %10s %10s %12s\n",
          "metric", "n", "p50", "p95", "p99", "p99.9", "mean", "MB/s");
}

void
mesh_bench_report (MeshBenchMetric *m, FILE *json)
{
  double sum = 0, p50, p95, p99, p999, mean, mbps = 0;

  qsort (m->samples, m->n, sizeof (double), cmp_double);
  for (size_t i = 0; i < m->n; i++)
    sum += m->samples[i];
  mean = m->n ? sum / (double) m->n : NAN;
  p50 = percentile (m->samples, m->n, 50);
  p95 = percentile (m->samples, m->n, 95);
  p99 = percentile (m->samples, m->n, 99);
  p999 = percentile (m->samples, m->n, 99.9);
  /* Throughput from the median per-op time, samples in ns. */
  if (m->bytes_per_op > 0 && p50 > 0)
    mbps = m->bytes_per_op / p50 * 1e9 / 1e6;

  char tput[32] = "-";
  if (mbps > 0)
    g_snprintf (tput, sizeof tput, "%.1f", mbps);
  printf ("%-28s %8zu %10.1f %10.1f %10.1f %10.1f %10.1f %12s  %s\n",
          m->name, m->n, p50, p95, p99, p999, mean, tput, m->unit);
  if (json)
    {
      fprintf (json, "{\"name\":\"%s\",\"unit\":\"%s\",\"n\":%zu,\"p50\":%.3f,"
               "\"p95\":%.3f,\"p99\":%.3f,\"p999\":%.3f,\"mean\":%.3f,",
               m->name, m->unit, m->n, p50, p95, p99, p999, mean);
      if (mbps > 0)
        fprintf (json, "\"throughput\":%.3f,\"throughput_unit\":\"MB/s\",", mbps);
      else
        fprintf (json, "\"throughput\":null,");
      if (m->whole_ops_per_s > 0)
        fprintf (json, "\"whole_ops_per_s\":%.1f,", m->whole_ops_per_s);
      fprintf (json, "\"target\":\"%s\"}\n", m->target ? m->target : "");
    }
}
