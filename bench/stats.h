/* Shared helper of the benchmark programs: record samples, report
 * percentiles as a table row and as one JSON line. */
#ifndef MESH_BENCH_STATS_H
#define MESH_BENCH_STATS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct {
  const char *name;     /* metric name, e.g. "session.encrypt_64" */
  const char *unit;     /* unit of the samples: "ns" */
  double *samples;      /* one value per sample, in unit */
  size_t n, cap;
  double bytes_per_op;  /* > 0: throughput in MB/s is reported too */
  double whole_ops_per_s; /* > 0: operations per second over the whole
                           * run, measured by the caller: the figure the
                           * throughput goals are judged on (the samples
                           * time batches, which can finish before their
                           * acknowledgments) */
  const char *target;   /* the plan's target and our goal, free text */
} MeshBenchMetric;

uint64_t mesh_bench_now_ns (void);

void mesh_bench_metric_init (MeshBenchMetric *m, const char *name, const char *unit,
                             size_t expected_samples);
void mesh_bench_metric_add (MeshBenchMetric *m, double value);
void mesh_bench_metric_clear (MeshBenchMetric *m);

/* Sort the samples and print one table row to stdout; when json is not
 * NULL also write one JSON line to it. */
void mesh_bench_report (MeshBenchMetric *m, FILE *json);

void mesh_bench_print_header (void);

#endif
