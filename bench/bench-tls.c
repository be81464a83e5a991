/* Links over TLS on loopback: handshake latency and one-link bulk
 * throughput.
 *
 * By default both ends run in this process on one GMainContext (one
 * thread does the work of both sides, so a handshake sample is the whole
 * CPU cost of client and server).  With --fork the server side runs in a
 * forked child on its own core, as two nodes would; a handshake sample is
 * then the client's view: connect() until its established() callback.
 *
 *   bench-tls [--json FILE] [--quick] [--fork] [--runs N]
 */
#include "config.h"

#include <glib.h>
#include <glib-unix.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "stats.h"
#include "crypto/identity.h"
#include "net/link.h"
#include "net/tls.h"
#include "wire/frame.h"

#define MARKER 0xff     /* first body byte of the end-of-run frame */

static FILE *json_out;
static gboolean quick;
static gboolean forked;
static gint runs = 5;

static void
rng_counter (void *user_data, uint8_t *buf, size_t n)
{
  guint64 *state = user_data;

  for (size_t i = 0; i < n; i++)
    buf[i] = (uint8_t) ((*state)++ * 0x9e3779b97f4a7c15ULL >> 56);
}

/* ---- the server side: counts frames, answers an end-of-run marker
 * with the count ---- */

typedef struct {
  GPtrArray *links;
} Server;

typedef struct {
  Server *server;
  MeshNetLink *link;
  guint64 frames;
} ServerConn;

static void
server_frame (MeshNetLink *link, const guint8 *data, gsize len, gpointer user_data)
{
  ServerConn *c = user_data;
  guint8 reply[4 + 8];

  if (data[0] != MARKER)
    {
      c->frames++;
      return;
    }
  mesh_frame_write_header (reply, 8);
  for (int i = 0; i < 8; i++)
    reply[4 + i] = (guint8) (c->frames >> (56 - 8 * i));
  c->frames = 0;
  if (!mesh_net_link_send (link, reply, sizeof reply, NULL))
    g_error ("server: cannot answer the end-of-run marker");
}

static void
server_closed (MeshNetLink *link, const GError *error, gpointer user_data)
{
  ServerConn *c = user_data;

  g_ptr_array_remove (c->server->links, c);
}

static const MeshNetLinkCallbacks server_callbacks = {
  .frame = server_frame,
  .closed = server_closed,
};

static void
server_conn_free (ServerConn *c)
{
  mesh_net_link_unref (c->link);
  g_free (c);
}

static void
server_accept (MeshListener *listener, MeshNetLink *link, gpointer user_data)
{
  Server *s = user_data;
  ServerConn *c = g_new0 (ServerConn, 1);

  c->server = s;
  c->link = link;
  mesh_net_link_set_callbacks (link, &server_callbacks, c);
  g_ptr_array_add (s->links, c);
}

static MeshListener *
server_start (GMainContext *ctx, const MeshIdentity *id, Server *s)
{
  guint64 rng = 2;
  GError *error = NULL;
  MeshTlsCredentials *creds;
  MeshListener *l;
  MeshNetLinkConfig config;

  creds = mesh_tls_credentials_new (id, g_get_real_time () / G_USEC_PER_SEC,
                                    rng_counter, &rng, &error);
  if (creds == NULL)
    g_error ("server credentials: %s", error->message);
  mesh_net_link_config_init (&config);
  s->links = g_ptr_array_new_with_free_func ((GDestroyNotify) server_conn_free);
  l = mesh_listener_new (ctx, "127.0.0.1:0", creds, &config, 0, server_accept, s,
                         &error);
  if (l == NULL)
    g_error ("listener: %s", error->message);
  mesh_tls_credentials_unref (creds);
  return l;
}

static gboolean
child_parent_gone (gint fd, GIOCondition condition, gpointer user_data)
{
  gboolean *stop = user_data;

  *stop = TRUE;
  return G_SOURCE_REMOVE;
}

/* The child of --fork: serve until the parent closes the pipe. */
static G_GNUC_NORETURN void
child_main (const MeshIdentity *id, int port_fd, int stop_fd)
{
  GMainContext *ctx = g_main_context_new ();
  Server s = { 0 };
  MeshListener *l = server_start (ctx, id, &s);
  guint16 port = mesh_listener_get_port (l);
  gboolean stop = FALSE;
  GSource *watch;

  if (write (port_fd, &port, sizeof port) != sizeof port)
    _exit (1);
  close (port_fd);
  watch = g_unix_fd_source_new (stop_fd, G_IO_IN | G_IO_HUP | G_IO_ERR);
  g_source_set_callback (watch, G_SOURCE_FUNC (child_parent_gone), &stop, NULL);
  g_source_attach (watch, ctx);
  while (!stop)
    g_main_context_iteration (ctx, TRUE);
  _exit (0);
}

/* ---- the client side ---- */

typedef struct {
  GMainContext *ctx;
  MeshTlsCredentials *creds;
  char *addr;
  Server *local;                /* in-process server, or NULL */

  MeshNetLink *link;
  gboolean established;
  gboolean closed;
  GError *error;

  /* bulk */
  guint8 *frame;
  gsize frame_len;
  guint64 to_send, sent;
  gboolean marker_sent;
  gboolean answered;
  guint64 answer;
} Client;

static void
client_established (MeshNetLink *link, const uint8_t *key, gpointer user_data)
{
  Client *c = user_data;

  c->established = TRUE;
}

static void
client_closed (MeshNetLink *link, const GError *error, gpointer user_data)
{
  Client *c = user_data;

  c->closed = TRUE;
  if (error)
    c->error = g_error_copy (error);
}

static void
client_frame (MeshNetLink *link, const guint8 *data, gsize len, gpointer user_data)
{
  Client *c = user_data;

  c->answer = 0;
  for (gsize i = 0; i < len && i < 8; i++)
    c->answer = c->answer << 8 | data[i];
  c->answered = TRUE;
}

/* Fill the send queue until it refuses (or the run is complete). */
static void
client_fill (Client *c)
{
  while (c->sent < c->to_send)
    {
      if (!mesh_net_link_send (c->link, c->frame, c->frame_len, NULL))
        return;
      c->sent++;
    }
  if (!c->marker_sent)
    {
      guint8 marker[5];

      mesh_frame_write_header (marker, 1);
      marker[4] = MARKER;
      if (mesh_net_link_send (c->link, marker, sizeof marker, NULL))
        c->marker_sent = TRUE;
    }
}

static void
client_writable (MeshNetLink *link, gpointer user_data)
{
  client_fill (user_data);
}

static const MeshNetLinkCallbacks client_callbacks = {
  .established = client_established,
  .frame = client_frame,
  .closed = client_closed,
  .writable = client_writable,
};

static void
client_connect (Client *c)
{
  GError *error = NULL;

  c->established = c->closed = FALSE;
  g_clear_error (&c->error);
  c->link = mesh_net_link_connect (c->ctx, c->creds, NULL, c->addr, NULL,
                                   &client_callbacks, c, &error);
  if (c->link == NULL)
    g_error ("connect: %s", error->message);
}

static gboolean
server_side_up (Client *c)
{
  /* In-process: the server's end counts too. */
  if (c->local == NULL)
    return TRUE;
  for (guint i = 0; i < c->local->links->len; i++)
    {
      ServerConn *sc = c->local->links->pdata[i];

      if (mesh_net_link_get_state (sc->link) == MESH_NET_LINK_ESTABLISHED)
        return TRUE;
    }
  return FALSE;
}

static void
run_until (GMainContext *ctx, gboolean *flag, Client *c, const char *what)
{
  gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;

  while (!*flag && !c->closed)
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("timed out waiting for %s", what);
      g_main_context_iteration (ctx, TRUE);
    }
  if (c->closed && !*flag)
    g_error ("link closed while waiting for %s: %s", what,
             c->error ? c->error->message : "gracefully");
}

static void
client_drop (Client *c)
{
  mesh_net_link_abort (c->link, "benchmark step done");
  while (!c->closed)
    g_main_context_iteration (c->ctx, TRUE);
  g_clear_pointer (&c->link, mesh_net_link_unref);
  /* Let the server side see the close before the next sample. */
  if (c->local)
    while (c->local->links->len > 0)
      g_main_context_iteration (c->ctx, TRUE);
}

static void
bench_handshake (Client *c)
{
  MeshBenchMetric m;
  guint n = quick ? 50 : 300;
  guint warmup = 20;

  mesh_bench_metric_init (&m, "net.tls_handshake", "us", n);
  m.target = forked ? "plan p50<20ms p99<100ms; goal p50<2ms p99<5ms (client view, forked server)"
                    : "plan p50<20ms p99<100ms; goal p50<2ms p99<5ms (both ends, one thread)";
  for (guint i = 0; i < warmup + n; i++)
    {
      guint64 t0 = mesh_bench_now_ns (), t1;

      client_connect (c);
      run_until (c->ctx, &c->established, c, "the handshake");
      while (!server_side_up (c))
        g_main_context_iteration (c->ctx, TRUE);
      t1 = mesh_bench_now_ns ();
      if (i >= warmup)
        mesh_bench_metric_add (&m, (double) (t1 - t0) / 1000.0);
      client_drop (c);
    }
  mesh_bench_report (&m, json_out);
  mesh_bench_metric_clear (&m);
}

/* One run: count frames of body bytes through one link, then the
 * end-of-run marker and its answer; ns per frame (count 0: the round
 * trip in ns). */
static double
bulk_run (Client *c, gsize body, guint64 count)
{
  guint64 t0, t1;

  c->frame_len = body + 4;
  c->frame = g_malloc (c->frame_len);
  mesh_frame_write_header (c->frame, (guint32) body);
  memset (c->frame + 4, 0x5a, body);
  c->frame[4] = 0;
  c->to_send = count;
  c->sent = 0;
  c->marker_sent = FALSE;
  c->answered = FALSE;

  t0 = mesh_bench_now_ns ();
  client_fill (c);
  run_until (c->ctx, &c->answered, c, "the end-of-run answer");
  t1 = mesh_bench_now_ns ();
  if (c->answer != count)
    g_error ("server counted %" G_GUINT64_FORMAT " frames of %" G_GUINT64_FORMAT,
             c->answer, count);
  g_free (c->frame);
  c->frame = NULL;
  return (double) (t1 - t0) / (double) MAX (count, 1);
}

/* A small frame there and an answer back, one at a time. */
static void
bench_roundtrip (Client *c)
{
  MeshBenchMetric m;
  guint n = quick ? 500 : 5000;

  client_connect (c);
  run_until (c->ctx, &c->established, c, "the handshake");
  for (guint i = 0; i < 100; i++)
    bulk_run (c, 64, 0);
  mesh_bench_metric_init (&m, "net.link_roundtrip", "ns", n);
  m.target = "link only (no engine); goal for private message RTT <100us p50";
  for (guint i = 0; i < n; i++)
    mesh_bench_metric_add (&m, bulk_run (c, 64, 0));
  mesh_bench_report (&m, json_out);
  mesh_bench_metric_clear (&m);
  client_drop (c);
}

static void
bench_bulk (Client *c, const char *name, gsize body, guint64 count)
{
  MeshBenchMetric m;

  if (quick)
    count /= 10;
  client_connect (c);
  run_until (c->ctx, &c->established, c, "the handshake");
  bulk_run (c, body, count / 10);       /* warm-up */
  mesh_bench_metric_init (&m, name, "ns", (gsize) runs);
  m.bytes_per_op = (double) (body + 4);
  m.target = body < 1024 ? "goal >=500,000 frames/s per process (64 B)"
                         : "goal >=80% of one core's AEAD speed";
  for (gint r = 0; r < runs; r++)
    mesh_bench_metric_add (&m, bulk_run (c, body, count));
  mesh_bench_report (&m, json_out);
  /* Median of the runs as frames/s, for the table. */
  printf ("%-28s %8s %10.0f frames/s (median of %d runs)\n", "", "",
          1e9 / m.samples[m.n / 2], runs);
  mesh_bench_metric_clear (&m);
  client_drop (c);
}

int
main (int argc, char **argv)
{
  char *json_path = NULL;
  GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_FILENAME, &json_path, "Append JSON lines to FILE", "FILE" },
    { "quick", 0, 0, G_OPTION_ARG_NONE, &quick, "Fewer samples", NULL },
    { "fork", 0, 0, G_OPTION_ARG_NONE, &forked, "Run the server side in a forked child", NULL },
    { "runs", 0, 0, G_OPTION_ARG_INT, &runs, "Bulk runs per size (median reported)", "N" },
    { NULL }
  };
  GOptionContext *octx = g_option_context_new ("- TLS link handshake and throughput on loopback");
  GError *error = NULL;
  uint8_t seed[MESH_SEED_LEN] = { 1 };
  MeshIdentity id_a, id_b;
  Client c = { 0 };
  Server local = { 0 };
  MeshListener *listener = NULL;
  guint64 rng = 1;
  pid_t child = 0;
  int stop_pipe[2] = { -1, -1 };

  g_option_context_add_main_entries (octx, entries, NULL);
  if (!g_option_context_parse (octx, &argc, &argv, &error))
    {
      g_printerr ("bench-tls: %s\n", error->message);
      return 2;
    }
  g_option_context_free (octx);
  if (runs < 1)
    runs = 1;
  if (json_path && !(json_out = fopen (json_path, "a")))
    {
      g_printerr ("bench-tls: cannot open %s\n", json_path);
      return 1;
    }

  mesh_identity_from_seed (&id_a, seed);
  seed[0] = 2;
  mesh_identity_from_seed (&id_b, seed);

  if (forked)
    {
      int port_pipe[2];
      guint16 port;

      if (pipe (port_pipe) != 0 || pipe (stop_pipe) != 0)
        g_error ("pipe: %s", g_strerror (errno));
      fflush (stdout);
      child = fork ();
      if (child < 0)
        g_error ("fork: %s", g_strerror (errno));
      if (child == 0)
        {
          close (port_pipe[0]);
          close (stop_pipe[1]);
          child_main (&id_b, port_pipe[1], stop_pipe[0]);
        }
      close (port_pipe[1]);
      close (stop_pipe[0]);
      if (read (port_pipe[0], &port, sizeof port) != sizeof port)
        g_error ("the server child did not start");
      close (port_pipe[0]);
      c.addr = g_strdup_printf ("127.0.0.1:%u", port);
    }

  c.ctx = g_main_context_new ();
  c.creds = mesh_tls_credentials_new (&id_a, g_get_real_time () / G_USEC_PER_SEC,
                                      rng_counter, &rng, &error);
  if (c.creds == NULL)
    g_error ("client credentials: %s", error->message);
  if (!forked)
    {
      listener = server_start (c.ctx, &id_b, &local);
      c.local = &local;
      c.addr = g_strdup_printf ("127.0.0.1:%u", mesh_listener_get_port (listener));
    }

  printf ("mode: %s\n", forked ? "server in a forked child (two processes)"
                                : "both ends in this process, one thread");
  mesh_bench_print_header ();
  bench_handshake (&c);
  bench_roundtrip (&c);
  bench_bulk (&c, "net.link_bulk_64", 64, 1000000);
  bench_bulk (&c, "net.link_bulk_64k", 64 * 1024, 4000);

  if (forked)
    {
      close (stop_pipe[1]);
      waitpid (child, NULL, 0);
    }
  else
    {
      mesh_listener_free (listener);
      g_ptr_array_unref (local.links);
    }
  mesh_tls_credentials_unref (c.creds);
  g_clear_error (&c.error);
  g_free (c.addr);
  while (g_main_context_iteration (c.ctx, FALSE))
    ;
  g_main_context_unref (c.ctx);
  mesh_identity_clear (&id_a);
  mesh_identity_clear (&id_b);
  if (json_out)
    fclose (json_out);
  g_free (json_path);
  return 0;
}
