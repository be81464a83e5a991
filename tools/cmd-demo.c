/* meshara demo: a small mesh in this one process, over real TLS on
 * 127.0.0.1, showing what it does: links, routes, a private message over
 * several hops and its acknowledgment, a broadcast, a DHT lookup. */
#include "config.h"

#include "meshara-tool.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define DEMO_NODES_MAX 64

typedef struct {
  MesharaNode *node;
  char *key;
  char *node_id;
  guint connected;
  guint privates;
  guint broadcasts;
  guint delivered;
  guint failed;
  char *failure;
  gint lookup;                  /* 0 waiting, 1 found, -1 not found */
} DemoNode;

typedef struct {
  DemoNode *nodes;
  guint n;
  gint64 deadline;
  gint64 start;
  gboolean progress;            /* stderr is a terminal */
  const char *want_message;     /* the private message text */
} Demo;

static void
on_private (MesharaNode *node, const char *sender, const char *id,
            GBytes *data, gpointer user_data)
{
  DemoNode *d = user_data;

  (void) node;
  (void) sender;
  (void) id;
  (void) data;
  d->privates++;
}

static void
on_broadcast (MesharaNode *node, const char *sender, const char *id,
              GBytes *data, gpointer user_data)
{
  DemoNode *d = user_data;

  (void) node;
  (void) sender;
  (void) id;
  (void) data;
  d->broadcasts++;
}

static void
on_delivered (MesharaNode *node, const char *id, guint64 latency_us,
              gpointer user_data)
{
  DemoNode *d = user_data;

  (void) node;
  (void) id;
  (void) latency_us;
  d->delivered++;
}

static void
on_failed (MesharaNode *node, const char *id, const char *reason,
           gpointer user_data)
{
  DemoNode *d = user_data;

  (void) node;
  (void) id;
  d->failed++;
  g_free (d->failure);
  d->failure = g_strdup (reason);
}

static void
on_connected (MesharaNode *node, const char *id, gpointer user_data)
{
  DemoNode *d = user_data;

  (void) node;
  (void) id;
  d->connected++;
}

static void
on_lookup (MesharaNode *node, const char *id, gboolean found,
           gpointer user_data)
{
  DemoNode *d = user_data;

  (void) node;
  (void) id;
  d->lookup = found ? 1 : -1;
}

static gboolean
wake (gpointer user_data)
{
  (void) user_data;
  return G_SOURCE_CONTINUE;
}

static double
ms_since (gint64 t0)
{
  return (double) (g_get_monotonic_time () - t0) / 1000.0;
}

typedef gboolean (*DemoCheck) (Demo *demo, guint *done, guint *total);

/* Run the loop until check passes or the overall deadline; show
 * done/total on the terminal meanwhile. */
static gboolean
demo_wait (Demo *demo, DemoCheck check, const char *what)
{
  gint64 shown = 0;
  guint done = 0, total = 0;

  while (!check (demo, &done, &total))
    {
      gint64 now = g_get_monotonic_time ();

      if (now > demo->deadline)
        {
          if (demo->progress)
            fputs ("\r\033[K", stderr);
          tool_error ("%s did not happen before the deadline (%u of %u after "
                      "%.0f ms)", what, done, total, ms_since (demo->start));
          return FALSE;
        }
      if (demo->progress && now - shown > 100000)
        {
          fprintf (stderr, "\r\033[Kwaiting for %s: %u/%u", what, done, total);
          fflush (stderr);
          shown = now;
        }
      g_main_context_iteration (NULL, TRUE);
    }
  if (demo->progress && shown != 0)
    fputs ("\r\033[K", stderr);
  return TRUE;
}

/* A line 0 - 1 - ... - n-1: inner nodes have two peers, the ends one. */
static gboolean
links_up (Demo *demo, guint *done, guint *total)
{
  *done = 0;
  *total = 2 * (demo->n - 1);
  for (guint i = 0; i < demo->n; i++)
    *done += meshara_node_get_peer_count (demo->nodes[i].node);
  return *done >= *total;
}

static gboolean
routes_converged (Demo *demo, guint *done, guint *total)
{
  *done = 0;
  *total = demo->n * (demo->n - 1);
  for (guint i = 0; i < demo->n; i++)
    for (guint j = 0; j < demo->n; j++)
      if (i != j && meshara_node_has_route (demo->nodes[i].node,
                                            demo->nodes[j].node_id))
        (*done)++;
  return *done == *total;
}

static gboolean
private_done (Demo *demo, guint *done, guint *total)
{
  DemoNode *to = &demo->nodes[demo->n / 2];

  *total = 2;
  *done = (to->privates > 0) + (demo->nodes[0].delivered > 0);
  return *done == 2 || demo->nodes[0].failed > 0;
}

static gboolean
broadcast_done (Demo *demo, guint *done, guint *total)
{
  *done = 0;
  *total = demo->n - 1;
  for (guint i = 1; i < demo->n; i++)
    *done += demo->nodes[i].broadcasts > 0;
  return *done == *total;
}

static gboolean
lookup_done (Demo *demo, guint *done, guint *total)
{
  *total = 1;
  *done = demo->nodes[0].lookup != 0;
  return *done == 1;
}

int
tool_cmd_demo (int argc, char **argv)
{
  int n_nodes = 10, timeout_s = 30;
  GOptionContext *context;
  GError *error = NULL;
  Demo demo = { 0 };
  DemoNode *from, *to;
  guint tick = 0;
  gint64 t0;
  char *id = NULL;
  int status = TOOL_EXIT_USAGE;
  const char *text = "hello across the mesh";
  const GOptionEntry entries[] = {
    { "nodes", 'n', 0, G_OPTION_ARG_INT, &n_nodes,
      "Run N nodes (default 10, 3 to 64)", "N" },
    { "timeout", 0, 0, G_OPTION_ARG_INT, &timeout_s,
      "Give up after S seconds in all (default 30)", "S" },
    { NULL }
  };

  context = tool_option_context_new (
    NULL,
    "Start N nodes with fresh identities on 127.0.0.1, linked over TLS in a\n"
    "line (node i to node i+1), wait until every node has a route to every\n"
    "other, then send a private message from node 0 to node N/2 (N/2 hops)\n"
    "and wait for its acknowledgment, broadcast from node 0 to all, and look\n"
    "the last node up in the DHT from node 0.  Each step is timed.",
    "Exit status 0 when every step worked, 1 naming the step that did not\n"
    "finish before the deadline.",
    entries);
  if (!tool_parse_options (context, &argc, &argv))
    goto out;
  if (argc > 1)
    {
      tool_usage_error ("unexpected argument '%s'", argv[1]);
      goto out;
    }
  if (n_nodes < 3 || n_nodes > DEMO_NODES_MAX)
    {
      tool_usage_error ("--nodes must be between 3 and %d", DEMO_NODES_MAX);
      goto out;
    }
  if (timeout_s < 1)
    {
      tool_usage_error ("--timeout must be at least 1 second");
      goto out;
    }
  status = TOOL_EXIT_FAILURE;

  demo.n = (guint) n_nodes;
  demo.nodes = g_new0 (DemoNode, demo.n);
  demo.progress = isatty (STDERR_FILENO);
  demo.start = g_get_monotonic_time ();
  demo.deadline = demo.start + (gint64) timeout_s * G_USEC_PER_SEC;
  /* Wakes the loop to look at the deadline even when nothing happens. */
  tick = g_timeout_add (50, wake, NULL);

  t0 = g_get_monotonic_time ();
  for (guint i = 0; i < demo.n; i++)
    {
      DemoNode *d = &demo.nodes[i];
      MesharaIdentity *identity = meshara_identity_new ();

      d->node = meshara_node_new (identity);
      d->key = meshara_identity_get_public_key (identity);
      d->node_id = meshara_identity_get_node_id_hex (identity);
      meshara_identity_unref (identity);
      g_signal_connect (d->node, "private-message", G_CALLBACK (on_private), d);
      g_signal_connect (d->node, "broadcast", G_CALLBACK (on_broadcast), d);
      g_signal_connect (d->node, "delivered", G_CALLBACK (on_delivered), d);
      g_signal_connect (d->node, "delivery-failed", G_CALLBACK (on_failed), d);
      g_signal_connect (d->node, "peer-connected", G_CALLBACK (on_connected), d);
      g_signal_connect (d->node, "lookup-done", G_CALLBACK (on_lookup), d);
      if (!meshara_node_start (d->node, &error))
        {
          tool_error ("node %u did not start: %s", i, error->message);
          goto out;
        }
    }
  printf ("started %u nodes on 127.0.0.1 (node 0 on port %u, node %u on "
          "port %u) in %.1f ms\n", demo.n,
          meshara_node_get_port (demo.nodes[0].node), demo.n - 1,
          meshara_node_get_port (demo.nodes[demo.n - 1].node), ms_since (t0));

  t0 = g_get_monotonic_time ();
  for (guint i = 0; i + 1 < demo.n; i++)
    {
      char *address = g_strdup_printf (
        "127.0.0.1:%u", meshara_node_get_port (demo.nodes[i + 1].node));
      gboolean ok = meshara_node_add_peer (demo.nodes[i].node, address,
                                           demo.nodes[i + 1].key, &error);

      g_free (address);
      if (!ok)
        {
          tool_error ("node %u cannot connect to node %u: %s", i, i + 1,
                      error->message);
          goto out;
        }
    }
  if (!demo_wait (&demo, links_up, "the TLS links"))
    goto out;
  printf ("links: %u TLS links up in a line 0-1-...-%u in %.1f ms\n",
          demo.n - 1, demo.n - 1, ms_since (t0));

  t0 = g_get_monotonic_time ();
  if (!demo_wait (&demo, routes_converged, "routes between all nodes"))
    goto out;
  printf ("routes: all %u ordered pairs have a route after %.1f ms\n",
          demo.n * (demo.n - 1), ms_since (t0));

  from = &demo.nodes[0];
  to = &demo.nodes[demo.n / 2];
  t0 = g_get_monotonic_time ();
  id = meshara_node_send_private (from->node, to->key, (const guint8 *) text,
                                  strlen (text), &error);
  if (id == NULL)
    {
      tool_error ("node 0 cannot send a private message: %s", error->message);
      goto out;
    }
  if (!demo_wait (&demo, private_done,
                  "the private message and its acknowledgment"))
    goto out;
  if (from->failed > 0)
    {
      tool_error ("the private message from node 0 to node %u failed: %s",
                  demo.n / 2, from->failure);
      goto out;
    }
  printf ("private message: node 0 -> node %u (%u hops), received and "
          "acknowledged in %.1f ms, id %.16s...\n",
          demo.n / 2, demo.n / 2, ms_since (t0), id);
  g_clear_pointer (&id, g_free);

  t0 = g_get_monotonic_time ();
  id = meshara_node_broadcast (from->node, (const guint8 *) text, strlen (text),
                               "text/plain", &error);
  if (id == NULL)
    {
      tool_error ("node 0 cannot broadcast: %s", error->message);
      goto out;
    }
  if (!demo_wait (&demo, broadcast_done, "the broadcast at every node"))
    goto out;
  printf ("broadcast: from node 0 reached all %u other nodes (up to %u hops) "
          "in %.1f ms\n", demo.n - 1, demo.n - 1, ms_since (t0));

  t0 = g_get_monotonic_time ();
  if (!meshara_node_lookup (from->node, demo.nodes[demo.n - 1].node_id, &error))
    {
      tool_error ("node 0 cannot start a DHT lookup: %s", error->message);
      goto out;
    }
  if (!demo_wait (&demo, lookup_done, "the DHT lookup"))
    goto out;
  if (from->lookup < 0)
    {
      tool_error ("DHT lookup of node %u from node 0: not found", demo.n - 1);
      goto out;
    }
  printf ("lookup: node 0 found node %u (%u hops away) in the DHT in %.1f ms\n",
          demo.n - 1, demo.n - 1, ms_since (t0));
  printf ("demo: all steps done in %.1f ms\n", ms_since (demo.start));
  status = TOOL_EXIT_OK;

out:
  for (guint i = 0; demo.nodes != NULL && i < demo.n; i++)
    {
      DemoNode *d = &demo.nodes[i];

      if (d->node != NULL)
        {
          meshara_node_stop (d->node);
          g_object_unref (d->node);
        }
      g_free (d->key);
      g_free (d->node_id);
      g_free (d->failure);
    }
  g_free (demo.nodes);
  if (tick)
    g_source_remove (tick);
  g_free (id);
  g_clear_error (&error);
  g_option_context_free (context);
  return status;
}
