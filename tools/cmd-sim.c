/* meshara sim: run the protocol engine of many nodes on a simulated
 * network, a scenario at a time, and report what arrived.  The simulator
 * is internal (lib/sim/), linked into the tool beside the library. */
#include "config.h"

#include "meshara-tool.h"

#include "sim/scenario.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

typedef struct {
  gboolean enabled;
  int64_t last_us;
  gboolean shown;
} Progress;

static void
progress_clear (Progress *pr)
{
  if (pr->shown)
    {
      fputs ("\r\033[K", stderr);
      fflush (stderr);
      pr->shown = FALSE;
    }
}

static void
on_progress (const char *scenario, const char *phase, uint64_t done,
             uint64_t expected, uint64_t now_ns, void *user_data)
{
  Progress *pr = user_data;
  int64_t now = g_get_monotonic_time ();
  char seconds[32];

  /* A few updates a second are enough to watch, and keep the terminal
   * out of the profile. */
  if (!pr->enabled || now - pr->last_us < 100000)
    return;
  pr->last_us = now;
  g_ascii_formatd (seconds, sizeof seconds, "%.1f", (double) now_ns / 1e9);
  fprintf (stderr, "\r\033[K%s: %s %" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT
           " %s, virtual %s s", scenario, phase, done, expected,
           g_str_equal (phase, "warm-up") ? "nodes with all routes"
           : g_str_has_prefix (phase, "dht") || g_str_equal (phase, "hostile lookups")
             ? "lookups done" : "done",
           seconds);
  fflush (stderr);
  pr->shown = TRUE;
}

/* Numbers in JSON and tables never follow the locale's decimal comma. */
static const char *
fmt (char *buf, size_t size, const char *format, double v)
{
  return g_ascii_formatd (buf, (int) size, format, v);
}

static void
json_uint (GString *out, const char *key, uint64_t v)
{
  g_string_append_printf (out, ", \"%s\": %" G_GUINT64_FORMAT, key, v);
}

static void
json_double (GString *out, const char *key, const char *format, double v)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  g_string_append_printf (out, ", \"%s\": %s", key,
                          fmt (buf, sizeof buf, format, v));
}

static void
json_string (GString *out, const char *key, const char *s)
{
  g_string_append_printf (out, ", \"%s\": \"", key);
  for (; *s != '\0'; s++)
    {
      unsigned char c = (unsigned char) *s;

      if (c == '"' || c == '\\')
        g_string_append_c (out, '\\');
      if (c < 0x20)
        g_string_append_printf (out, "\\u%04x", c);
      else
        g_string_append_c (out, (char) c);
    }
  g_string_append_c (out, '"');
}

static void
print_json (const MeshScenarioResult *r)
{
  GString *out = g_string_new (NULL);

  g_string_append_printf (out, "{\"scenario\": \"%s\"", r->scenario);
  json_uint (out, "nodes", r->nodes);
  json_uint (out, "seed", r->seed);
  g_string_append_printf (out, ", \"passed\": %s",
                          r->passed ? "true" : "false");
  json_uint (out, "expected", r->expected);
  json_uint (out, "delivered", r->delivered);
  json_uint (out, "duplicates", r->duplicates);
  json_uint (out, "failed", r->failed);
  json_uint (out, "lost", r->lost);
  json_double (out, "success_rate", "%.6f", r->success_rate);
  json_double (out, "hops_p50", "%.1f", r->hops_p50);
  json_double (out, "hops_p99", "%.1f", r->hops_p99);
  json_double (out, "latency_ms_p50", "%.3f", r->latency_ms_p50);
  json_double (out, "latency_ms_p99", "%.3f", r->latency_ms_p99);
  json_double (out, "virtual_ms", "%.3f", r->virtual_ms);
  json_double (out, "wall_ms", "%.1f", r->wall_ms);
  json_uint (out, "peak_rss_kb", (uint64_t) MAX (r->peak_rss_kb, 0));
  json_string (out, "trace_sha256", r->trace_sha256);
  json_double (out, "converge_ms", "%.3f", r->converge_ms);
  json_uint (out, "lookups", r->lookups);
  json_double (out, "dht_success_rate", "%.6f", r->dht_success_rate);
  json_uint (out, "reopen_expected", r->reopen_expected);
  json_uint (out, "reopen_delivered", r->reopen_delivered);
  json_uint (out, "hostile_peers", r->hostile_peers);
  json_uint (out, "hostile_disconnected", r->hostile_disconnected);
  json_uint (out, "forged_accepted", r->forged_accepted);
  json_uint (out, "update_bytes", r->update_bytes);
  json_uint (out, "update_chunks", r->update_chunks);
  json_uint (out, "announce_expected", r->announce_expected);
  json_uint (out, "announce_reached", r->announce_reached);
  json_double (out, "update_last_ms", "%.3f", r->update_last_ms);
  json_double (out, "chunks_served_p50", "%.1f", r->chunks_served_p50);
  json_uint (out, "chunks_served_max", r->chunks_served_max);
  json_uint (out, "bad_chunks", r->bad_chunks);
  json_uint (out, "frames", r->sim.frames_delivered);
  json_uint (out, "events", r->sim.events);
  json_uint (out, "peak_bytes_in_flight", r->sim.peak_bytes_in_flight);
  json_string (out, "detail", r->detail);
  g_string_append (out, "}\n");
  fputs (out->str, stdout);
  g_string_free (out, TRUE);
}

static void
print_table_header (void)
{
  printf ("%-10s %-6s %6s %9s %9s %5s %8s %9s %13s %9s %8s\n",
          "scenario", "result", "nodes", "expected", "delivered", "dup",
          "success", "hops 50/99", "latency 50/99", "virtual", "wall");
}

static void
print_table_row (const MeshScenarioResult *r)
{
  char rate[32], h50[16], h99[16], l50[16], l99[16], v[32], w[32];
  char hops[40], lat[40];

  fmt (rate, sizeof rate, "%.2f", 100 * r->success_rate);
  fmt (h50, sizeof h50, "%.0f", r->hops_p50);
  fmt (h99, sizeof h99, "%.0f", r->hops_p99);
  fmt (l50, sizeof l50, "%.0f", r->latency_ms_p50);
  fmt (l99, sizeof l99, "%.0f", r->latency_ms_p99);
  fmt (v, sizeof v, "%.1f", r->virtual_ms / 1e3);
  fmt (w, sizeof w, "%.1f", r->wall_ms / 1e3);
  g_snprintf (hops, sizeof hops, "%s/%s", h50, h99);
  g_snprintf (lat, sizeof lat, "%s/%s ms", l50, l99);
  printf ("%-10s %-6s %6u %9" G_GUINT64_FORMAT " %9" G_GUINT64_FORMAT
          " %5" G_GUINT64_FORMAT " %7s%% %9s %13s %8ss %7ss\n",
          r->scenario, r->passed ? "ok" : "FAIL", r->nodes, r->expected,
          r->delivered, r->duplicates, rate, hops, lat, v, w);
}

static void
print_table_notes (const MeshScenarioResult *r)
{
  printf ("  %s: trace %.16s, %" G_GUINT64_FORMAT " frames, peak RSS %ld KiB",
          r->scenario, r->trace_sha256, r->sim.frames_delivered,
          r->peak_rss_kb);
  if (r->lookups > 0 && g_strcmp0 (r->scenario, "dht") != 0)
    {
      char rate[32];
      printf (", DHT %s%%", fmt (rate, sizeof rate, "%.2f",
                                  100 * r->dht_success_rate));
    }
  if (r->reopen_expected > 0)
    printf (", re-opened %" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT,
            r->reopen_delivered, r->reopen_expected);
  if (r->hostile_peers > 0)
    printf (", hostile node cut off by %u/%u peers", r->hostile_disconnected,
            r->hostile_peers);
  if (r->update_bytes > 0)
    {
      char last[32], p50[32];

      printf (", notice reached %" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT
              ", last node complete after %s s, chunks served p50 %s max %"
              G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT " bad chunks",
              r->announce_reached, r->announce_expected,
              fmt (last, sizeof last, "%.1f", r->update_last_ms / 1e3),
              fmt (p50, sizeof p50, "%.0f", r->chunks_served_p50),
              r->chunks_served_max, r->bad_chunks);
    }
  putchar ('\n');
  if (!r->passed)
    printf ("  %s failed: %s\n", r->scenario, r->detail);
}

/* Parse an unsigned option value within [min, max]. */
static gboolean
parse_uint (const char *name, const char *text, uint64_t min, uint64_t max,
            uint64_t *out)
{
  GError *error = NULL;
  guint64 v;

  if (text == NULL)
    return TRUE;
  if (!g_ascii_string_to_unsigned (text, 10, min, max, &v, &error))
    {
      tool_usage_error ("--%s: %s", name, error->message);
      g_error_free (error);
      return FALSE;
    }
  *out = v;
  return TRUE;
}

/* Parse a number within [min, max]. */
static gboolean
parse_double (const char *name, const char *text, double min, double max,
              double *out)
{
  char *end = NULL;
  double v;

  if (text == NULL)
    return TRUE;
  v = g_ascii_strtod (text, &end);
  if (end == text || *end != '\0' || !(v >= min && v <= max))
    {
      char lo[32], hi[32];
      tool_usage_error ("--%s: '%s' is not a number from %s to %s", name,
                        text, fmt (lo, sizeof lo, "%g", min),
                        fmt (hi, sizeof hi, "%g", max));
      return FALSE;
    }
  *out = v;
  return TRUE;
}

int
tool_cmd_sim (int argc, char **argv)
{
  char *nodes_s = NULL, *degree_s = NULL, *seed_s = NULL, *scenario = NULL;
  char *loss_s = NULL, *latency_s = NULL, *jitter_s = NULL;
  char *bandwidth_s = NULL, *messages_s = NULL, *broadcasts_s = NULL;
  char *lookups_s = NULL, *payload_s = NULL;
  gboolean json = FALSE, quiet = FALSE;
  GOptionContext *context;
  MeshScenarioParams params;
  const char *const *names = mesh_scenario_names ();
  const char *one[2] = { NULL, NULL };
  const char *const *run;
  Progress progress = { 0 };
  uint64_t v;
  double d;
  int status = TOOL_EXIT_USAGE;
  gboolean all_passed = TRUE;
  const GOptionEntry entries[] = {
    { "nodes", 'n', 0, G_OPTION_ARG_STRING, &nodes_s,
      "Simulate N nodes (default 100)", "N" },
    { "degree", 'd', 0, G_OPTION_ARG_STRING, &degree_s,
      "Give each node about D links in the random topology (default 6)", "D" },
    { "seed", 's', 0, G_OPTION_ARG_STRING, &seed_s,
      "Seed of the run: the same seed gives the same run (default 1)", "S" },
    { "scenario", 0, 0, G_OPTION_ARG_STRING, &scenario,
      "Run NAME: private, broadcast, dht, partition, churn, hostile or all "
      "(default all)", "NAME" },
    { "loss", 0, 0, G_OPTION_ARG_STRING, &loss_s,
      "Lose each frame with probability P, 0 to 1 (default 0)", "P" },
    { "latency-ms", 0, 0, G_OPTION_ARG_STRING, &latency_s,
      "One-way link latency in milliseconds (default 10)", "L" },
    { "jitter-ms", 0, 0, G_OPTION_ARG_STRING, &jitter_s,
      "Extra random delay per frame, up to J milliseconds (default 1)", "J" },
    { "bandwidth-mbps", 0, 0, G_OPTION_ARG_STRING, &bandwidth_s,
      "Link bandwidth in Mbit/s each way, 0 for unlimited (default 100)", "B" },
    { "messages", 'm', 0, G_OPTION_ARG_STRING, &messages_s,
      "Private messages per scenario (default 1000)", "M" },
    { "broadcasts", 0, 0, G_OPTION_ARG_STRING, &broadcasts_s,
      "Broadcasts in the broadcast scenario (default 100)", "B" },
    { "lookups", 0, 0, G_OPTION_ARG_STRING, &lookups_s,
      "DHT lookups in the dht and churn scenarios (default 1000)", "L" },
    { "payload", 0, 0, G_OPTION_ARG_STRING, &payload_s,
      "Bytes per message, 16 to 65536 (default 64)", "BYTES" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json,
      "Print one JSON object per scenario and line instead of a table", NULL },
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet,
      "Show no progress line on a terminal", NULL },
    { NULL }
  };

  context = tool_option_context_new (
    NULL,
    "Run the protocol engine of N nodes on a simulated network with a\n"
    "virtual clock, and check what arrives.  Nothing touches the real\n"
    "network; one seed fixes the whole run, down to the trace hash.\n"
    "\n"
    "Scenarios:\n"
    "  private    random pairs; every message delivered exactly once\n"
    "  broadcast  every broadcast reaches every other node exactly once\n"
    "  dht        lookups of random nodes: >= 99.9 % found, median <= 4 rounds\n"
    "  partition  split, one-way split, heal: nothing silently lost\n"
    "  churn      10 % of nodes leave or restart during traffic\n"
    "  hostile    one node sends garbage and forgeries; its peers cut it off\n"
    "  all        each of the above in turn",
    "Exit status: 0 when every scenario met its criterion, 1 when one did\n"
    "not (the reason is printed), 2 for a wrong command line.",
    entries);
  if (!tool_parse_options (context, &argc, &argv))
    goto out;
  if (argc > 1)
    {
      tool_usage_error ("unexpected argument '%s'", argv[1]);
      goto out;
    }

  mesh_scenario_params_init (&params);
  v = params.nodes;
  if (!parse_uint ("nodes", nodes_s, 2, MESH_SIM_MAX_NODES, &v))
    goto out;
  params.nodes = (uint32_t) v;
  v = params.degree;
  if (!parse_uint ("degree", degree_s, 1, 1000, &v))
    goto out;
  params.degree = (uint32_t) v;
  if (!parse_uint ("seed", seed_s, 0, G_MAXUINT64, &params.seed))
    goto out;
  if (!parse_double ("loss", loss_s, 0, 1, &params.link.loss))
    goto out;
  d = (double) params.link.latency_ns / 1e6;
  if (!parse_double ("latency-ms", latency_s, 0, 60000, &d))
    goto out;
  params.link.latency_ns = (uint64_t) (d * 1e6 + 0.5);
  d = (double) params.link.jitter_ns / 1e6;
  if (!parse_double ("jitter-ms", jitter_s, 0, 60000, &d))
    goto out;
  params.link.jitter_ns = (uint64_t) (d * 1e6 + 0.5);
  d = (double) params.link.bandwidth_bps / 1e6;
  if (!parse_double ("bandwidth-mbps", bandwidth_s, 0, 1e6, &d))
    goto out;
  if (d > 0 && d < 0.001)
    {
      tool_usage_error ("--bandwidth-mbps: at least 0.001, or 0 for "
                        "unlimited");
      goto out;
    }
  params.link.bandwidth_bps = (uint64_t) (d * 1e6 + 0.5);
  v = params.messages;
  if (!parse_uint ("messages", messages_s, 0, 10000000, &v))
    goto out;
  params.messages = (uint32_t) v;
  v = params.broadcasts;
  if (!parse_uint ("broadcasts", broadcasts_s, 0, 1000000, &v))
    goto out;
  params.broadcasts = (uint32_t) v;
  v = params.lookups;
  if (!parse_uint ("lookups", lookups_s, 0, 10000000, &v))
    goto out;
  params.lookups = (uint32_t) v;
  v = params.payload_len;
  if (!parse_uint ("payload", payload_s, 16, 65536, &v))
    goto out;
  params.payload_len = (uint32_t) v;

  if (scenario == NULL || g_str_equal (scenario, "all"))
    run = names;
  else if (mesh_scenario_exists (scenario))
    {
      one[0] = scenario;
      run = one;
    }
  else
    {
      char *list = g_strjoinv (", ", (char **) names);
      tool_usage_error ("unknown scenario '%s' (one of: %s, all)", scenario,
                        list);
      g_free (list);
      goto out;
    }

#if defined (__GLIBC__) && defined (M_MMAP_THRESHOLD)
  /* Each scenario frees every engine and makes new ones.  Once a large
   * block is freed glibc raises its mmap threshold, and the next
   * scenario's large tables come from the heap, zeroed page by page and
   * resident whether used or not (several GB at 1,000 nodes).  A fixed
   * threshold keeps them mapped, and resident only where touched. */
  mallopt (M_MMAP_THRESHOLD, 128 * 1024);
#endif

  progress.enabled = !quiet && isatty (STDERR_FILENO);
  params.progress = on_progress;
  params.progress_data = &progress;

  status = TOOL_EXIT_OK;
  if (!json)
    {
      print_table_header ();
      fflush (stdout);
    }
  for (; *run != NULL; run++)
    {
      MeshScenarioResult *result = g_new0 (MeshScenarioResult, 1);
      GError *error = NULL;

      if (!mesh_scenario_run (*run, &params, result, &error))
        {
          progress_clear (&progress);
          tool_usage_error ("%s", error->message);
          g_error_free (error);
          g_free (result);
          status = TOOL_EXIT_USAGE;
          goto out;
        }
      progress_clear (&progress);
      if (json)
        print_json (result);
      else
        {
          print_table_row (result);
          print_table_notes (result);
        }
      fflush (stdout);
      all_passed = all_passed && result->passed;
      g_free (result);
    }
  if (!all_passed)
    status = TOOL_EXIT_FAILURE;

out:
  g_option_context_free (context);
  g_free (nodes_s);
  g_free (degree_s);
  g_free (seed_s);
  g_free (scenario);
  g_free (loss_s);
  g_free (latency_s);
  g_free (jitter_s);
  g_free (bandwidth_s);
  g_free (messages_s);
  g_free (broadcasts_s);
  g_free (lookups_s);
  g_free (payload_s);
  return status;
}
