/* Whole-library workloads and process-level benchmarks over the public
 * API (MesharaNode on real TLS sockets on 127.0.0.1).
 *
 *   bench-node pair  [--messages N] [--size S] [--window W]
 *       two nodes in this process, linked; the first sends N private
 *       messages of S bytes to the second, at most W unacknowledged, and
 *       waits for every acknowledgment (profiling, memory budgets)
 *   bench-node idle  [--seconds S] [--linked]
 *       one node listening (with --linked: and linked to a second one in
 *       this process) doing nothing for S seconds
 *   bench-node serve [--peer ADDR:PORT,KEY]...
 *       a node for the benchmarks below, in its own process: prints
 *       "ready PORT KEY", echoes private messages that ask for it and
 *       prints "bcast SENT-NS RECEIVED-NS" for each broadcast
 *   bench-node conns [--count N] [--json FILE]
 *       a serving node in a child process, N client nodes in this
 *       process each linked to it; reports the serving node's RSS per
 *       connection (its RSS growth over the N links divided by N)
 *   bench-node net   [--json FILE] [--quick]
 *       runs the process benchmarks: this process is node A, the serving
 *       node B is a child process (e2e latency, throughput, bulk, idle
 *       and peak figures of B), then ten processes for broadcast
 *       propagation
 *
 * Timestamps in payloads are CLOCK_MONOTONIC nanoseconds, shared by all
 * processes on the machine, so one-way latency is measured directly.
 * Every wait has a deadline; on the deadline the program fails saying
 * what did not happen. */
#include "config.h"

#include "stats.h"

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <glib-unix.h>
#include <meshara/meshara.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define WAIT_LIMIT_US (30 * G_USEC_PER_SEC)

/* Payload kinds: the first byte. */
#define KIND_ECHO 'E'    /* B replies with KIND_REPLY */
#define KIND_REPLY 'R'
#define KIND_SINK 'T'    /* B only receives */
#define KIND_BCAST 'B'

typedef struct {
  MesharaNode *node;
  char *key;
  char *address;
  guint connected;
  guint64 received;        /* private messages */
  guint64 received_bytes;
  guint64 delivered;
  guint64 failed;
  guint64 refused;              /* sends refused for a full queue */
  /* echo replies at A */
  guint64 replies;
  guint64 last_sent_ns, last_peer_ns, last_reply_ns;
  gboolean echo;           /* answer KIND_ECHO */
  gboolean print_bcast;    /* serve: report broadcasts on stdout */
} Node;

static gboolean
wait_until (gboolean (*cond) (gpointer), gpointer data, gint64 limit_us,
            const char *what)
{
  gint64 deadline = g_get_monotonic_time () + limit_us;

  while (!cond (data))
    {
      if (g_get_monotonic_time () > deadline)
        {
          g_printerr ("bench-node: timed out after %.0f s waiting for %s\n",
                      (double) limit_us / 1e6, what);
          exit (1);
        }
      g_main_context_iteration (NULL, TRUE);
    }
  return TRUE;
}

static void
put_u64 (guint8 *p, guint64 v)
{
  for (int i = 0; i < 8; i++)
    p[i] = (guint8) (v >> (8 * i));
}

static guint64
get_u64 (const guint8 *p)
{
  guint64 v = 0;
  for (int i = 7; i >= 0; i--)
    v = (v << 8) | p[i];
  return v;
}

static void
on_private (MesharaNode *mn, const char *sender, const char *id, GBytes *data,
            gpointer user_data)
{
  Node *n = user_data;
  gsize len;
  const guint8 *p = g_bytes_get_data (data, &len);

  (void) id;
  n->received++;
  n->received_bytes += len;
  if (len >= 17 && p[0] == KIND_ECHO && n->echo)
    {
      guint8 reply[17];
      GError *error = NULL;
      char *rid;

      reply[0] = KIND_REPLY;
      memcpy (reply + 1, p + 1, 8);
      put_u64 (reply + 9, mesh_bench_now_ns ());
      rid = meshara_node_send_private (mn, sender, reply, sizeof reply, &error);
      if (!rid)
        {
          g_printerr ("bench-node: cannot reply: %s\n", error->message);
          exit (1);
        }
      g_free (rid);
    }
  else if (len >= 17 && p[0] == KIND_REPLY)
    {
      n->last_reply_ns = mesh_bench_now_ns ();
      n->last_sent_ns = get_u64 (p + 1);
      n->last_peer_ns = get_u64 (p + 9);
      n->replies++;
    }
}

static void
on_broadcast (MesharaNode *mn, const char *sender, const char *id,
              GBytes *data, gpointer user_data)
{
  Node *n = user_data;
  gsize len;
  const guint8 *p = g_bytes_get_data (data, &len);

  (void) mn;
  (void) sender;
  (void) id;
  if (n->print_bcast && len >= 9 && p[0] == KIND_BCAST)
    {
      printf ("bcast %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT "\n",
              get_u64 (p + 1), mesh_bench_now_ns ());
      fflush (stdout);
    }
}

static void
on_delivered (MesharaNode *mn, const char *id, guint64 latency_us,
              gpointer user_data)
{
  Node *n = user_data;

  (void) mn;
  (void) id;
  (void) latency_us;
  n->delivered++;
}

static void
on_failed (MesharaNode *mn, const char *id, const char *reason,
           gpointer user_data)
{
  Node *n = user_data;

  (void) mn;
  (void) id;
  n->failed++;
  g_printerr ("bench-node: delivery failed: %s\n", reason);
}

static void
on_connected (MesharaNode *mn, const char *id, gpointer user_data)
{
  Node *n = user_data;

  (void) mn;
  (void) id;
  n->connected++;
}

static void
node_init (Node *n, guint max_peers)
{
  MesharaIdentity *identity = meshara_identity_new ();
  GError *error = NULL;

  memset (n, 0, sizeof *n);
  n->node = meshara_node_new (identity);
  n->key = meshara_identity_get_public_key (identity);
  meshara_identity_unref (identity);
  if (max_peers)
    meshara_node_set_max_peers (n->node, max_peers);
  g_signal_connect (n->node, "private-message", G_CALLBACK (on_private), n);
  g_signal_connect (n->node, "broadcast", G_CALLBACK (on_broadcast), n);
  g_signal_connect (n->node, "delivered", G_CALLBACK (on_delivered), n);
  g_signal_connect (n->node, "delivery-failed", G_CALLBACK (on_failed), n);
  g_signal_connect (n->node, "peer-connected", G_CALLBACK (on_connected), n);
  meshara_node_set_listen_address (n->node, "127.0.0.1:0");
  if (!meshara_node_start (n->node, &error))
    {
      g_printerr ("bench-node: cannot start a node: %s\n", error->message);
      exit (1);
    }
  n->address = g_strdup_printf ("127.0.0.1:%u", meshara_node_get_port (n->node));
}

static void
node_clear (Node *n)
{
  meshara_node_stop (n->node);
  g_clear_object (&n->node);
  g_free (n->key);
  g_free (n->address);
}

static gboolean
connected_once (gpointer data)
{
  return ((Node *) data)->connected > 0;
}

static void
node_link (Node *from, const char *address, const char *key)
{
  GError *error = NULL;

  if (!meshara_node_add_peer (from->node, address, key, &error))
    {
      g_printerr ("bench-node: cannot add peer %s: %s\n", address, error->message);
      exit (1);
    }
}

/* A wake-up so that waits re-check their condition now and then. */
static gboolean
wake (gpointer data)
{
  (void) data;
  return G_SOURCE_CONTINUE;
}

typedef struct {
  Node *n;
  guint64 want;
} Want;

static gboolean
delivered_at_least (gpointer data)
{
  Want *w = data;
  return w->n->delivered + w->n->failed >= w->want;
}

static gboolean
replies_at_least (gpointer data)
{
  Want *w = data;
  return w->n->replies >= w->want;
}

/* A full send queue refuses the message (EXHAUSTED): let the links drain
 * and send it again, as an application would. */
static void
send_one (Node *from, const char *to_key, const guint8 *payload, gsize len)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_LIMIT_US;

  for (;;)
    {
      GError *error = NULL;
      char *id = meshara_node_send_private (from->node, to_key, payload, len,
                                            &error);

      if (id)
        {
          g_free (id);
          return;
        }
      if (!g_error_matches (error, MESHARA_ERROR, MESHARA_ERROR_EXHAUSTED)
          || g_get_monotonic_time () > deadline)
        {
          g_printerr ("bench-node: send failed: %s\n", error->message);
          exit (1);
        }
      g_error_free (error);
      from->refused++;
      g_main_context_iteration (NULL, TRUE);
    }
}

/* Send count messages of size bytes from a to key, at most window
 * unacknowledged; when m is not NULL add the time per message of each
 * batch of `batch` messages in ns.  Returns the total time in ns. */
static guint64
send_stream (Node *a, const char *key, guint64 count, gsize size, guint window,
             guint64 batch, MeshBenchMetric *m)
{
  guint8 *payload = g_malloc0 (MAX (size, 17));
  guint64 base = a->delivered + a->failed, sent = 0;
  guint64 t0 = mesh_bench_now_ns (), tb = t0;
  Want w = { a, 0 };

  payload[0] = KIND_SINK;
  while (sent < count)
    {
      while (sent < count && sent - (a->delivered + a->failed - base) < window)
        {
          put_u64 (payload + 1, sent);
          send_one (a, key, payload, size);
          sent++;
          if (m && sent % batch == 0)
            {
              guint64 now = mesh_bench_now_ns ();
              mesh_bench_metric_add (m, (double) (now - tb) / (double) batch);
              tb = now;
            }
        }
      w.want = base + sent - (sent < count ? window / 2 : 0);
      if (sent == count)
        w.want = base + count;
      wait_until (delivered_at_least, &w, WAIT_LIMIT_US,
                  "acknowledgments of the private messages sent");
    }
  g_free (payload);
  if (a->failed)
    {
      g_printerr ("bench-node: %" G_GUINT64_FORMAT " deliveries failed\n", a->failed);
      exit (1);
    }
  return mesh_bench_now_ns () - t0;
}

/* ---- pair and idle: in-process workloads for the profilers ---- */

static int
run_pair (guint64 messages, gsize size, guint window)
{
  Node a, b;
  guint tick = g_timeout_add (50, wake, NULL);
  guint64 ns;

  node_init (&a, 0);
  node_init (&b, 0);
  node_link (&a, b.address, b.key);
  wait_until (connected_once, &b, WAIT_LIMIT_US, "the link between the two nodes");
  wait_until (connected_once, &a, WAIT_LIMIT_US, "the link between the two nodes");
  ns = send_stream (&a, b.key, messages, size, window, 1, NULL);
  if (b.received != messages)
    {
      g_printerr ("bench-node: %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
                  " messages arrived\n", b.received, messages);
      return 1;
    }
  printf ("pair: %" G_GUINT64_FORMAT " private messages of %zu bytes delivered"
          " and acknowledged in %.3f s (%.0f messages/s)\n",
          messages, size, (double) ns / 1e9, (double) messages / ((double) ns / 1e9));
  node_clear (&a);
  node_clear (&b);
  g_source_remove (tick);
  return 0;
}

static gboolean
time_passed (gpointer data)
{
  return g_get_monotonic_time () >= *(gint64 *) data;
}

static void
run_loop_for (double seconds)
{
  gint64 until = g_get_monotonic_time () + (gint64) (seconds * 1e6);
  guint tick = g_timeout_add (20, wake, NULL);

  wait_until (time_passed, &until, (gint64) (seconds * 1e6) + WAIT_LIMIT_US,
              "the end of the idle period");
  g_source_remove (tick);
}

static int
run_idle (double seconds, gboolean linked)
{
  Node a, b;

  node_init (&a, 0);
  if (linked)
    {
      guint tick = g_timeout_add (50, wake, NULL);
      node_init (&b, 0);
      node_link (&a, b.address, b.key);
      wait_until (connected_once, &a, WAIT_LIMIT_US, "the link to the second node");
      g_source_remove (tick);
    }
  run_loop_for (seconds);
  printf ("idle: one node%s, %.1f s\n", linked ? " linked to a second" : "", seconds);
  if (linked)
    node_clear (&b);
  node_clear (&a);
  return 0;
}

/* ---- serve: the other process ---- */

static gboolean
quit_on_signal (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

static int
run_serve (char **peers)
{
  Node n;
  gboolean quit = FALSE;

  prctl (PR_SET_PDEATHSIG, SIGTERM);   /* never outlive the benchmark */
  node_init (&n, 4096);
  n.echo = TRUE;
  n.print_bcast = TRUE;
  for (char **p = peers; p && *p; p++)
    {
      char *comma = strrchr (*p, ',');
      if (!comma)
        {
          g_printerr ("bench-node: --peer wants ADDR:PORT,KEY\n");
          return 2;
        }
      *comma = '\0';
      node_link (&n, *p, comma + 1);
    }
  printf ("ready %u %s\n", meshara_node_get_port (n.node), n.key);
  fflush (stdout);
  g_unix_signal_add (SIGTERM, quit_on_signal, &quit);
  g_unix_signal_add (SIGINT, quit_on_signal, &quit);
  while (!quit)
    g_main_context_iteration (NULL, TRUE);
  node_clear (&n);
  return 0;
}

/* ---- net: the process benchmarks ---- */

typedef struct {
  GPid pid;
  int out;            /* its stdout */
  guint watch;        /* source reading it */
  GString *buf;       /* unread part */
  guint port;
  char *key;
  char *address;
  guint64 last_bcast_sent, last_bcast_recv;
  guint bcasts;
} Child;

static const char *self_path;

static void
child_read (Child *c)
{
  char tmp[4096];
  ssize_t r;

  while ((r = read (c->out, tmp, sizeof tmp)) > 0)
    g_string_append_len (c->buf, tmp, r);
  if (r == 0)
    {
      g_printerr ("bench-node: serving process %d exited\n", (int) c->pid);
      exit (1);
    }
}

/* Take complete lines from the child's buffer. */
static void
child_lines (Child *c)
{
  char *nl;

  while ((nl = memchr (c->buf->str, '\n', c->buf->len)))
    {
      gsize len = (gsize) (nl - c->buf->str);
      char *line = g_strndup (c->buf->str, len);
      guint64 sent, recv;
      char key[200];
      guint port;

      if (sscanf (line, "bcast %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT,
                  &sent, &recv) == 2)
        {
          c->last_bcast_sent = sent;
          c->last_bcast_recv = recv;
          c->bcasts++;
        }
      else if (sscanf (line, "ready %u %199s", &port, key) == 2)
        {
          c->port = port;
          c->key = g_strdup (key);
          c->address = g_strdup_printf ("127.0.0.1:%u", port);
        }
      g_free (line);
      g_string_erase (c->buf, 0, (gssize) len + 1);
    }
}

static gboolean
child_readable (gint fd, GIOCondition cond, gpointer data)
{
  Child *c = data;

  (void) fd;
  (void) cond;
  child_read (c);
  child_lines (c);
  return G_SOURCE_CONTINUE;
}

static gboolean
child_ready (gpointer data)
{
  return ((Child *) data)->key != NULL;
}

static void
child_spawn (Child *c, char **peers)
{
  GPtrArray *argv = g_ptr_array_new ();
  GError *error = NULL;

  memset (c, 0, sizeof *c);
  g_ptr_array_add (argv, (char *) self_path);
  g_ptr_array_add (argv, (char *) "serve");
  for (char **p = peers; p && *p; p++)
    {
      g_ptr_array_add (argv, (char *) "--peer");
      g_ptr_array_add (argv, *p);
    }
  g_ptr_array_add (argv, NULL);
  if (!g_spawn_async_with_pipes (NULL, (char **) argv->pdata, NULL,
                                 G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL,
                                 &c->pid, NULL, &c->out, NULL, &error))
    {
      g_printerr ("bench-node: cannot start %s serve: %s\n", self_path, error->message);
      exit (1);
    }
  g_ptr_array_unref (argv);
  c->buf = g_string_new (NULL);
  g_unix_set_fd_nonblocking (c->out, TRUE, NULL);
  c->watch = g_unix_fd_add (c->out, G_IO_IN | G_IO_HUP, child_readable, c);
  wait_until (child_ready, c, WAIT_LIMIT_US, "a serving process to say ready");
}

static void
child_stop (Child *c)
{
  int status;

  g_source_remove (c->watch);
  kill (c->pid, SIGTERM);
  waitpid (c->pid, &status, 0);
  g_spawn_close_pid (c->pid);
  g_free (c->key);
  g_free (c->address);
  g_string_free (c->buf, TRUE);
  close (c->out);
}

/* CPU time (user + system) of a process in seconds, its RSS and peak RSS
 * in KiB and its number of open fds, from /proc. */
typedef struct {
  double cpu_s;
  long rss_kb, hwm_kb;
  int fds;
} ProcStat;

static void
proc_stat (GPid pid, ProcStat *s)
{
  char path[64], *text = NULL, *p;
  unsigned long utime = 0, stime = 0;
  GDir *dir;

  memset (s, 0, sizeof *s);
  g_snprintf (path, sizeof path, "/proc/%d/stat", (int) pid);
  if (g_file_get_contents (path, &text, NULL, NULL) && (p = strrchr (text, ')')))
    {
      /* after ") ": state(3) ... utime is field 14, stime 15 */
      if (sscanf (p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
                  &utime, &stime) == 2)
        s->cpu_s = (double) (utime + stime) / (double) sysconf (_SC_CLK_TCK);
    }
  g_free (text);
  g_snprintf (path, sizeof path, "/proc/%d/status", (int) pid);
  if (g_file_get_contents (path, &text, NULL, NULL))
    {
      if ((p = strstr (text, "VmRSS:")))
        s->rss_kb = strtol (p + 6, NULL, 10);
      if ((p = strstr (text, "VmHWM:")))
        s->hwm_kb = strtol (p + 6, NULL, 10);
    }
  g_free (text);
  g_snprintf (path, sizeof path, "/proc/%d/fd", (int) pid);
  if ((dir = g_dir_open (path, 0, NULL)))
    {
      while (g_dir_read_name (dir))
        s->fds++;
      g_dir_close (dir);
    }
}

static FILE *json_out;

static void
report_value (const char *name, const char *unit, double value, const char *note)
{
  MeshBenchMetric m;

  mesh_bench_metric_init (&m, name, unit, 1);
  m.target = note;
  mesh_bench_metric_add (&m, value);
  mesh_bench_report (&m, json_out);
  mesh_bench_metric_clear (&m);
}

static gboolean
all_children_bcast (gpointer data)
{
  GPtrArray *kids = data;
  guint want = GPOINTER_TO_UINT (g_ptr_array_index (kids, 0));

  for (guint i = 1; i < kids->len; i++)
    if (((Child *) g_ptr_array_index (kids, i))->bcasts < want)
      return FALSE;
  return TRUE;
}

static void
bench_broadcast (Node *a, guint procs, guint count)
{
  Child *kids = g_new0 (Child, procs - 1);
  GPtrArray *set = g_ptr_array_new ();
  MeshBenchMetric m;
  guint8 payload[64] = { KIND_BCAST };

  /* Process 1 is A; each new process links to the one before it and to
   * one about halfway back, so the mesh is connected with a few hops. */
  for (guint i = 0; i < procs - 1; i++)
    {
      char *peers[3] = { NULL, NULL, NULL };
      Child *prev = i > 0 ? &kids[i - 1] : NULL;
      Child *half = i > 1 ? &kids[i / 2 - 1] : NULL;
      peers[0] = prev ? g_strdup_printf ("%s,%s", prev->address, prev->key)
                      : g_strdup_printf ("%s,%s", a->address, a->key);
      if (half && half != prev)
        peers[1] = g_strdup_printf ("%s,%s", half->address, half->key);
      child_spawn (&kids[i], peers);
      g_free (peers[0]);
      g_free (peers[1]);
    }
  g_ptr_array_add (set, GUINT_TO_POINTER (0));
  for (guint i = 0; i < procs - 1; i++)
    g_ptr_array_add (set, &kids[i]);

  /* Warm up until one broadcast reaches every process. */
  {
    gint64 deadline = g_get_monotonic_time () + WAIT_LIMIT_US;
    guint sent = 0;
    while (!all_children_bcast (set))
      {
        if (g_get_monotonic_time () > deadline)
          {
            g_printerr ("bench-node: timed out after 30 s waiting for a"
                        " broadcast to reach all %u processes\n", procs);
            exit (1);
          }
        g_ptr_array_index (set, 0) = GUINT_TO_POINTER (1);
        put_u64 (payload + 1, mesh_bench_now_ns ());
        g_free (meshara_node_broadcast (a->node, payload, sizeof payload, NULL, NULL));
        sent++;
        run_loop_for (0.2);
      }
    run_loop_for (0.5);         /* let stragglers of the warm-up arrive */
    for (guint i = 0; i < procs - 1; i++)
      kids[i].bcasts = 0;
  }

  mesh_bench_metric_init (&m, "net.broadcast_10proc", "us", count);
  m.target = "time until the last of the other processes has it";
  for (guint k = 1; k <= count; k++)
    {
      guint64 t0 = mesh_bench_now_ns (), last = 0;
      GError *error = NULL;
      char *id;

      put_u64 (payload + 1, t0);
      id = meshara_node_broadcast (a->node, payload, sizeof payload, NULL, &error);
      if (!id)
        {
          g_printerr ("bench-node: broadcast failed: %s\n", error->message);
          exit (1);
        }
      g_free (id);
      g_ptr_array_index (set, 0) = GUINT_TO_POINTER (k);
      wait_until (all_children_bcast, set, WAIT_LIMIT_US,
                  "a broadcast to reach every process");
      for (guint i = 0; i < procs - 1; i++)
        if (kids[i].last_bcast_sent == t0)
          last = MAX (last, kids[i].last_bcast_recv);
        else
          {
            g_printerr ("bench-node: broadcasts arrived out of order\n");
            exit (1);
          }
      mesh_bench_metric_add (&m, (double) (last - t0) / 1e3);
    }
  mesh_bench_report (&m, json_out);
  mesh_bench_metric_clear (&m);
  for (guint i = 0; i < procs - 1; i++)
    child_stop (&kids[i]);
  g_ptr_array_unref (set);
  g_free (kids);
}

static int
run_net (gboolean quick)
{
  Node a;
  Child b;
  ProcStat s0, s1;
  guint tick = g_timeout_add (20, wake, NULL);
  MeshBenchMetric one_way, rtt, m;
  guint8 payload[64] = { KIND_ECHO };
  Want w = { &a, 0 };
  guint64 ns, n;
  double idle_s = quick ? 3 : 10;

  node_init (&a, 0);
  child_spawn (&b, NULL);
  node_link (&a, b.address, b.key);
  wait_until (connected_once, &a, WAIT_LIMIT_US, "the link to the serving process");
  /* One message first: it sets up the end-to-end session. */
  w.want = 1;
  send_one (&a, b.key, payload, sizeof payload);
  wait_until (replies_at_least, &w, WAIT_LIMIT_US, "the first echo");

  printf ("sender: this process; receiver: serving process %d; TLS on 127.0.0.1\n",
          (int) b.pid);
  mesh_bench_print_header ();

  /* Idle: B with one link and nothing to do. */
  proc_stat (b.pid, &s0);
  run_loop_for (idle_s);
  proc_stat (b.pid, &s1);
  report_value ("idle.rss_kb", "KiB", (double) s1.rss_kb, "serving node, one link");
  report_value ("idle.fds", "fds", (double) s1.fds, "serving node, one link");
  report_value ("idle.cpu_pct", "%", 100.0 * (s1.cpu_s - s0.cpu_s) / idle_s,
                "serving node over the idle period");

  /* Latency: one message at a time, B's handler replies. */
  n = quick ? 500 : 3000;
  mesh_bench_metric_init (&one_way, "e2e.private_oneway", "us", n);
  mesh_bench_metric_init (&rtt, "e2e.private_rtt", "us", n);
  for (guint64 i = 0; i < n; i++)
    {
      guint64 t0 = mesh_bench_now_ns ();
      put_u64 (payload + 1, t0);
      w.want = a.replies + 1;
      send_one (&a, b.key, payload, sizeof payload);
      wait_until (replies_at_least, &w, WAIT_LIMIT_US, "an echo reply");
      if (a.last_sent_ns != t0)
        {
          g_printerr ("bench-node: a reply to another message\n");
          return 1;
        }
      mesh_bench_metric_add (&one_way, (double) (a.last_peer_ns - t0) / 1e3);
      mesh_bench_metric_add (&rtt, (double) (a.last_reply_ns - t0) / 1e3);
    }
  mesh_bench_report (&one_way, json_out);
  mesh_bench_report (&rtt, json_out);
  mesh_bench_metric_clear (&one_way);
  mesh_bench_metric_clear (&rtt);

  /* Throughput, 64 B and 1 KiB, with a window of unacknowledged
   * messages; a send refused for a full link queue is sent again after
   * the main context ran (send_one). */
  n = quick ? 20000 : 100000;
  mesh_bench_metric_init (&m, "throughput.private_64", "ns", n / 1000);
  m.bytes_per_op = 64;
  ns = send_stream (&a, b.key, n, 64, 2048, 1000, &m);
  m.whole_ops_per_s = (double) n / ((double) ns / 1e9);
  mesh_bench_report (&m, json_out);
  mesh_bench_metric_clear (&m);
  printf ("%28s %.0f messages/s (%" G_GUINT64_FORMAT " messages, acknowledged)\n", "",
          (double) n / ((double) ns / 1e9), n);

  mesh_bench_metric_init (&m, "throughput.private_1k", "ns", n / 1000);
  m.bytes_per_op = 1024;
  ns = send_stream (&a, b.key, n, 1024, 256, 1000, &m);
  m.whole_ops_per_s = (double) n / ((double) ns / 1e9);
  mesh_bench_report (&m, json_out);
  mesh_bench_metric_clear (&m);
  printf ("%28s %.0f messages/s\n", "", (double) n / ((double) ns / 1e9));

  /* Bulk: 100 MB (quick: 20 MB) as 64 KiB private messages. */
  {
    guint64 total = quick ? 20 * 1000000ull : 100 * 1000000ull;
    gsize chunk = 65536;
    guint64 chunks = (total + chunk - 1) / chunk;
    mesh_bench_metric_init (&m, "throughput.bulk_100mb", "ns", chunks / 16);
    m.bytes_per_op = (double) chunk;
    ns = send_stream (&a, b.key, chunks, chunk, 6, 16, &m);
    m.whole_ops_per_s = (double) chunks / ((double) ns / 1e9);
    mesh_bench_report (&m, json_out);
    mesh_bench_metric_clear (&m);
    printf ("%28s %.1f MB/s over the whole %.0f MB\n", "",
            (double) (chunks * chunk) / ((double) ns / 1e9) / 1e6,
            (double) (chunks * chunk) / 1e6);
  }

  /* Peak: 10,000 messages/s of 64 B for a few seconds; B's CPU and
   * peak RSS. */
  {
    double secs = quick ? 2 : 5;
    guint64 total = (guint64) (10000 * secs), sent = 0;
    guint8 p[64] = { KIND_SINK };
    guint64 t0 = mesh_bench_now_ns ();
    guint64 base = a.delivered + a.failed;

    proc_stat (b.pid, &s0);
    while (sent < total)
      {
        guint64 due = (guint64) ((double) (mesh_bench_now_ns () - t0) / 1e9 * 10000);
        while (sent < due && sent < total
               && sent - (a.delivered + a.failed - base) < 2048)
          {
            send_one (&a, b.key, p, sizeof p);
            sent++;
          }
        if (!g_main_context_iteration (NULL, FALSE) && sent >= due)
          g_usleep (200);
      }
    proc_stat (b.pid, &s1);
    w.want = base + total;
    wait_until (delivered_at_least, &w, WAIT_LIMIT_US,
                "acknowledgments of the paced messages");
    report_value ("peak.rss_kb", "KiB", (double) s1.hwm_kb,
                  "serving node, peak RSS of the whole run");
    printf ("%28s paced at 10,000 messages/s: %.0f messages/s reached\n", "",
            (double) total / ((double) (mesh_bench_now_ns () - t0) / 1e9));
    report_value ("peak.cpu_pct", "%",
                  100.0 * (s1.cpu_s - s0.cpu_s) / ((double) (mesh_bench_now_ns () - t0) / 1e9),
                  "serving node at 10,000 messages/s");
  }

  child_stop (&b);

  bench_broadcast (&a, 10, quick ? 50 : 300);

  node_clear (&a);
  g_source_remove (tick);
  return 0;
}

/* N links to one serving process.  A node keeps at most 4,096 links (the
 * engine's limit), so N is capped there. */
static int
run_conns (guint count)
{
  Child b;
  Node *clients;
  ProcStat s0, s1;
  struct rlimit rl;
  guint tick = g_timeout_add (20, wake, NULL);
  guint64 t0;
  guint up = 0;
  char note[160];

  /* Each client node has a listening socket and its link: raise our own
   * limit; the serving process inherits it. */
  if (getrlimit (RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max)
    {
      rl.rlim_cur = rl.rlim_max;
      setrlimit (RLIMIT_NOFILE, &rl);
    }
  if (getrlimit (RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 2 * (rlim_t) count + 64)
    {
      g_printerr ("bench-node: the fd limit %lu is too low for %u connections\n",
                  (unsigned long) rl.rlim_cur, count);
      return 1;
    }
  child_spawn (&b, NULL);
  run_loop_for (0.5);
  proc_stat (b.pid, &s0);
  clients = g_new0 (Node, count);
  t0 = mesh_bench_now_ns ();
  for (guint i = 0; i < count; i++)
    {
      node_init (&clients[i], 1);
      node_link (&clients[i], b.address, b.key);
      /* Keep the handshakes in flight bounded. */
      while (i + 1 - up > 64)
        {
          up = 0;
          for (guint j = 0; j <= i; j++)
            up += clients[j].connected > 0;
          if (i + 1 - up > 64)
            g_main_context_iteration (NULL, TRUE);
          if (mesh_bench_now_ns () - t0 > 120 * 1000000000ull)
            {
              g_printerr ("bench-node: timed out after 120 s connecting %u clients"
                          " (%u up)\n", count, up);
              return 1;
            }
        }
    }
  while (up < count)
    {
      if (mesh_bench_now_ns () - t0 > 120 * 1000000000ull)
        {
          g_printerr ("bench-node: timed out after 120 s connecting %u clients"
                      " (%u up)\n", count, up);
          return 1;
        }
      g_main_context_iteration (NULL, TRUE);
      up = 0;
      for (guint j = 0; j < count; j++)
        up += clients[j].connected > 0;
    }
  printf ("%u links up in %.2f s\n", count, (double) (mesh_bench_now_ns () - t0) / 1e9);
  run_loop_for (1.0);
  proc_stat (b.pid, &s1);
  mesh_bench_print_header ();
  g_snprintf (note, sizeof note, "serving node: RSS %ld KiB with %u links, %ld KiB"
              " with none (10,000 not possible: 4,096 links at most)",
              s1.rss_kb, count, s0.rss_kb);
  report_value ("net.connections_10k_rss_per_conn", "KiB",
                (double) (s1.rss_kb - s0.rss_kb) / count, note);
  report_value ("net.connections_fds", "fds", (double) s1.fds,
                "serving node's open files with the links up");
  printf ("%s\n", note);
  for (guint i = 0; i < count; i++)
    node_clear (&clients[i]);
  g_free (clients);
  child_stop (&b);
  g_source_remove (tick);
  return 0;
}

int
main (int argc, char **argv)
{
  gint64 messages = 100000;
  gint size = 64, window = 256, count = 1000;
  double seconds = 10;
  gboolean linked = FALSE, quick = FALSE;
  char **peers = NULL, *json_path = NULL;
  GError *error = NULL;
  GOptionEntry entries[] = {
    { "messages", 0, 0, G_OPTION_ARG_INT64, &messages, "pair: messages to send", "N" },
    { "size", 0, 0, G_OPTION_ARG_INT, &size, "pair: payload bytes (17..1048576)", "S" },
    { "window", 0, 0, G_OPTION_ARG_INT, &window, "pair: unacknowledged at most", "W" },
    { "seconds", 0, 0, G_OPTION_ARG_DOUBLE, &seconds, "idle: how long", "S" },
    { "linked", 0, 0, G_OPTION_ARG_NONE, &linked, "idle: link to a second node", NULL },
    { "peer", 0, 0, G_OPTION_ARG_STRING_ARRAY, &peers, "serve: connect to ADDR:PORT,KEY", "P" },
    { "json", 0, 0, G_OPTION_ARG_FILENAME, &json_path, "net: append JSON lines to FILE", "FILE" },
    { "quick", 0, 0, G_OPTION_ARG_NONE, &quick, "net: fewer samples", NULL },
    { "count", 0, 0, G_OPTION_ARG_INT, &count, "conns: connections (1..4096)", "N" },
    { NULL }
  };
  GOptionContext *ctx = g_option_context_new ("pair|idle|serve|conns|net");
  int rc = 2;

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error) || argc != 2)
    {
      g_printerr ("bench-node: %s\n", error ? error->message : "say pair, idle, serve, conns or net");
      return 2;
    }
  g_option_context_free (ctx);
  if (messages < 1 || size < 17 || size > 1048576 || window < 1 || seconds < 0
      || count < 1 || count > 4096)
    {
      g_printerr ("bench-node: --messages >= 1, --size 17..1048576, --window >= 1,"
                  " --count 1..4096\n");
      return 2;
    }
  self_path = g_file_read_link ("/proc/self/exe", NULL);
  if (!self_path)
    self_path = argv[0];
  signal (SIGPIPE, SIG_IGN);
  if (json_path && !(json_out = fopen (json_path, "a")))
    {
      g_printerr ("bench-node: cannot open %s: %s\n", json_path, g_strerror (errno));
      return 2;
    }
  if (strcmp (argv[1], "pair") == 0)
    rc = run_pair ((guint64) messages, (gsize) size, (guint) window);
  else if (strcmp (argv[1], "idle") == 0)
    rc = run_idle (seconds, linked);
  else if (strcmp (argv[1], "serve") == 0)
    rc = run_serve (peers);
  else if (strcmp (argv[1], "conns") == 0)
    rc = run_conns ((guint) count);
  else if (strcmp (argv[1], "net") == 0)
    rc = run_net (quick);
  else
    g_printerr ("bench-node: unknown mode %s\n", argv[1]);
  if (json_out)
    fclose (json_out);
  g_strfreev (peers);
  g_free (json_path);
  return rc;
}
