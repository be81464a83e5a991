/* meshara node: run a node in the foreground, print one line per event,
 * and take commands from "meshara send/broadcast/peers" on a Unix socket
 * in the data directory. */
#include "config.h"

#include "meshara-tool.h"
#include "control.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>

/* Control connections served at once; more wait in the listen backlog. */
#define CONTROL_CLIENTS_MAX 16

typedef struct {
  MesharaNode *node;
  GMainLoop *loop;
  gboolean json;
  GQueue clients;               /* ControlClient*, being served */
} NodeTool;

typedef struct {
  NodeTool *tool;
  GSocketConnection *connection;
  GCancellable *cancellable;
  char *buf;
  gsize len;
  GList link;                   /* in NodeTool.clients */
} ControlClient;

/* Output */

/* Text a peer sent is shown on one line, with anything that could move
 * the cursor or split the line escaped. */
static char *
printable (const guint8 *data, gsize len)
{
  GString *s = g_string_sized_new (len);

  for (gsize i = 0; i < len; i++)
    {
      guint8 c = data[i];

      if (c == '\\')
        g_string_append (s, "\\\\");
      else if (c < 0x20 || c == 0x7f)
        g_string_append_printf (s, "\\x%02x", c);
      else
        g_string_append_c (s, (char) c);
    }
  return g_string_free (s, FALSE);
}

static void
json_string (GString *out, const char *s, gsize len)
{
  g_string_append_c (out, '"');
  for (gsize i = 0; i < len; i++)
    {
      guchar c = (guchar) s[i];

      if (c == '"' || c == '\\')
        g_string_append_printf (out, "\\%c", c);
      else if (c < 0x20 || c == 0x7f)
        g_string_append_printf (out, "\\u%04x", c);
      else
        g_string_append_c (out, (char) c);
    }
  g_string_append_c (out, '"');
}

/* One event: name and string fields (key, value, ..., NULL). */
static void
emit (NodeTool *t, const char *event, ...)
{
  va_list args;
  const char *key;
  GString *line = g_string_new (NULL);

  va_start (args, event);
  if (t->json)
    {
      g_string_append (line, "{\"event\":");
      json_string (line, event, strlen (event));
    }
  else
    g_string_append (line, event);
  while ((key = va_arg (args, const char *)) != NULL)
    {
      const char *value = va_arg (args, const char *);

      if (t->json)
        {
          g_string_append_c (line, ',');
          json_string (line, key, strlen (key));
          g_string_append_c (line, ':');
          /* Numbers stay numbers for the reader's JSON parser. */
          if (g_str_has_suffix (key, "_us"))
            g_string_append (line, value);
          else
            json_string (line, value, strlen (value));
        }
      else
        {
          g_string_append_c (line, ' ');
          g_string_append (line, value);
        }
    }
  va_end (args);
  if (t->json)
    g_string_append_c (line, '}');
  puts (line->str);
  fflush (stdout);
  g_string_free (line, TRUE);
}

static void
on_private (MesharaNode *node, const char *sender, const char *id,
            GBytes *data, gpointer user_data)
{
  gsize len;
  const guint8 *p = g_bytes_get_data (data, &len);
  char *text = printable (p, len);

  (void) node;
  emit (user_data, "private", "sender", sender, "message_id", id,
        "content", text, NULL);
  g_free (text);
}

static void
on_broadcast (MesharaNode *node, const char *sender, const char *id,
              GBytes *data, gpointer user_data)
{
  gsize len;
  const guint8 *p = g_bytes_get_data (data, &len);
  char *text = printable (p, len);

  (void) node;
  emit (user_data, "broadcast", "sender", sender, "message_id", id,
        "content", text, NULL);
  g_free (text);
}

static void
on_delivered (MesharaNode *node, const char *id, guint64 latency_us,
              gpointer user_data)
{
  char latency[32];

  (void) node;
  g_snprintf (latency, sizeof latency, "%" G_GUINT64_FORMAT, latency_us);
  emit (user_data, "delivered", "message_id", id, "latency_us", latency, NULL);
}

static void
on_failed (MesharaNode *node, const char *id, const char *reason,
           gpointer user_data)
{
  (void) node;
  emit (user_data, "delivery-failed", "message_id", id, "reason", reason, NULL);
}

static void
on_connected (MesharaNode *node, const char *id, gpointer user_data)
{
  (void) node;
  emit (user_data, "peer-connected", "node_id", id, NULL);
}

static void
on_disconnected (MesharaNode *node, const char *id, gpointer user_data)
{
  (void) node;
  emit (user_data, "peer-disconnected", "node_id", id, NULL);
}

static void
on_link_failed (MesharaNode *node, const char *address, const char *reason,
                gpointer user_data)
{
  (void) node;
  emit (user_data, "link-failed", "address", *address ? address : "-",
        "reason", reason, NULL);
}

static void
on_update_available (MesharaNode *node, const char *id, const char *name,
                     guint64 version, gpointer user_data)
{
  char v[32];

  (void) node;
  g_snprintf (v, sizeof v, "%" G_GUINT64_FORMAT, version);
  emit (user_data, "update-available", "update_id", id, "name", name,
        "version", v, NULL);
}

static void
on_update_complete (MesharaNode *node, const char *id, const char *path,
                    gpointer user_data)
{
  (void) node;
  emit (user_data, "update-complete", "update_id", id, "path", path, NULL);
}

static void
on_update_failed (MesharaNode *node, const char *id, const char *reason,
                  gpointer user_data)
{
  (void) node;
  emit (user_data, "update-failed", "update_id", id, "reason", reason, NULL);
}

static void
on_update_rejected (MesharaNode *node, const char *id, const char *reason,
                    gpointer user_data)
{
  (void) node;
  emit (user_data, "update-rejected", "update_id", *id ? id : "-",
        "reason", reason, NULL);
}

/* Control socket */

static guint64
peer_u64 (GVariant *peer, const char *name)
{
  guint64 v = 0;

  g_variant_lookup (peer, name, "t", &v);
  return v;
}

/* The answer to "peers": "ok N" and one line per linked peer. */
static char *
peers_reply (NodeTool *t)
{
  g_autoptr (GVariant) peers = meshara_node_list_peers (t->node);
  GString *out = g_string_new (NULL);
  gsize n = g_variant_n_children (peers);

  g_string_append_printf (out, "ok %" G_GSIZE_FORMAT, n);
  for (gsize i = 0; i < n; i++)
    {
      g_autoptr (GVariant) peer = g_variant_get_child_value (peers, i);
      ToolControlPeer p = { 0 };
      const char *key = "", *address = "";
      gboolean outgoing = FALSE;
      gint32 reputation = 0;
      char *line;

      g_variant_lookup (peer, "public-key", "&s", &key);
      g_variant_lookup (peer, "address", "&s", &address);
      g_variant_lookup (peer, "outgoing", "b", &outgoing);
      g_variant_lookup (peer, "reputation", "i", &reputation);
      p.public_key = (char *) key;
      p.address = (char *) (*address != '\0' ? address : "-");
      p.outgoing = outgoing;
      p.connected_us = peer_u64 (peer, "connected-us");
      p.idle_us = peer_u64 (peer, "idle-us");
      p.bytes_in = peer_u64 (peer, "bytes-in");
      p.bytes_out = peer_u64 (peer, "bytes-out");
      p.frames_in = peer_u64 (peer, "frames-in");
      p.frames_out = peer_u64 (peer, "frames-out");
      p.invalid_frames = peer_u64 (peer, "invalid-frames");
      p.rtt_us = peer_u64 (peer, "rtt-us");
      p.reputation = reputation;
      line = tool_control_peer_format (&p);
      g_string_append_c (out, '\n');
      g_string_append (out, line);
      g_free (line);
    }
  return g_string_free (out, FALSE);
}

static char *
run_command (NodeTool *t, const char *line)
{
  GError *error = NULL;
  char *id = NULL, *reply;
  ToolControlCommand cmd;
  const char *bad;

  if (!tool_control_parse (line, &cmd, &bad))
    return g_strdup (bad);
  switch (cmd.type)
    {
    case TOOL_CONTROL_SEND:
      id = meshara_node_send_private (t->node, cmd.key, (const guint8 *) cmd.text,
                                      cmd.text_len, &error);
      break;
    case TOOL_CONTROL_BROADCAST:
      id = meshara_node_broadcast (t->node, (const guint8 *) cmd.text,
                                   cmd.text_len, "text/plain", &error);
      break;
    case TOOL_CONTROL_PUBLISH_UPDATE:
      reply = tool_update_control_publish (t->node, cmd.text);
      tool_control_command_clear (&cmd);
      return reply;
    case TOOL_CONTROL_UPDATES:
      tool_control_command_clear (&cmd);
      return tool_update_control_list (t->node);
    default:
      tool_control_command_clear (&cmd);
      return peers_reply (t);
    }
  tool_control_command_clear (&cmd);

  if (id == NULL)
    {
      reply = g_strdup_printf ("error %s", error->message);
      g_error_free (error);
      return reply;
    }
  reply = g_strdup_printf ("ok %s", id);
  g_free (id);
  return reply;
}

static void
client_free (ControlClient *c)
{
  g_queue_unlink (&c->tool->clients, &c->link);
  g_io_stream_close (G_IO_STREAM (c->connection), NULL, NULL);
  g_object_unref (c->connection);
  g_object_unref (c->cancellable);
  g_free (c->buf);
  g_free (c);
}

static void
on_reply_written (GObject *source, GAsyncResult *result, gpointer user_data)
{
  ControlClient *c = user_data;
  GError *error = NULL;

  g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL,
                                    &error);
  /* Cancelled at exit: the client is already freed. */
  if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    client_free (c);
  g_clear_error (&error);
}

static void
client_reply (ControlClient *c, const char *reply)
{
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (c->connection));
  gsize len = strlen (reply);

  /* The peers answer can be long: written as the client reads, so that a
   * slow client does not block the node.  The buffer (no longer needed
   * for the command) holds the answer until then. */
  g_free (c->buf);
  c->buf = g_malloc (len + 2);
  memcpy (c->buf, reply, len);
  c->buf[len] = '\n';
  c->buf[len + 1] = '\0';
  g_output_stream_write_all_async (out, c->buf, len + 1, G_PRIORITY_DEFAULT,
                                   c->cancellable, on_reply_written, c);
}

static void client_read (ControlClient *c);

static void
on_client_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  ControlClient *c = user_data;
  GError *error = NULL;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result,
                                         &error);
  ToolControlLine state;
  char *reply;

  if (n <= 0)
    {
      /* Cancelled at exit: the client is already freed. */
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        client_free (c);
      g_clear_error (&error);
      return;
    }
  state = tool_control_take_line (c->buf, c->len, (gsize) n, TOOL_CONTROL_LINE_MAX);
  c->len += (gsize) n;
  if (state == TOOL_CONTROL_LINE_TOO_LONG)
    {
      client_reply (c, "error the command line is too long");
      return;
    }
  if (state == TOOL_CONTROL_LINE_INCOMPLETE)
    {
      client_read (c);
      return;
    }
  reply = run_command (c->tool, c->buf);
  client_reply (c, reply);
  g_free (reply);
}

static void
client_read (ControlClient *c)
{
  GInputStream *in = g_io_stream_get_input_stream (G_IO_STREAM (c->connection));

  g_input_stream_read_async (in, c->buf + c->len, TOOL_CONTROL_LINE_MAX - c->len,
                             G_PRIORITY_DEFAULT, c->cancellable,
                             on_client_read, c);
}

static gboolean
on_incoming (GSocketService *service, GSocketConnection *connection,
             GObject *source, gpointer user_data)
{
  NodeTool *t = user_data;
  ControlClient *c;

  (void) service;
  (void) source;
  if (t->clients.length >= CONTROL_CLIENTS_MAX)
    return FALSE;               /* dropped: closed when unreferenced */
  c = g_new0 (ControlClient, 1);
  c->tool = t;
  c->connection = g_object_ref (connection);
  c->cancellable = g_cancellable_new ();
  /* One byte spare for the terminating NUL. */
  c->buf = g_malloc (TOOL_CONTROL_LINE_MAX + 1);
  c->link.data = c;
  g_queue_push_tail_link (&t->clients, &c->link);
  client_read (c);
  return TRUE;
}

/* Listen on DIR/control.sock, readable and writable by the owner only.  A
 * socket file nobody answers on is left over from a node that died: it
 * is replaced.  One that answers means another node runs here. */
static GSocketService *
control_listen (const char *path, GError **error)
{
  GSocketService *service;
  GSocketAddress *address = g_unix_socket_address_new (path);
  GSocketClient *client;
  GSocketConnection *probe;
  mode_t old_mask;
  gboolean ok;

  client = g_socket_client_new ();
  probe = g_socket_client_connect (client, G_SOCKET_CONNECTABLE (address),
                                   NULL, NULL);
  g_object_unref (client);
  if (probe != NULL)
    {
      g_object_unref (probe);
      g_object_unref (address);
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_IO,
                   "another meshara node is already running with %s", path);
      return NULL;
    }
  if (g_unlink (path) != 0 && errno != ENOENT)
    {
      int saved = errno;
      g_object_unref (address);
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_IO,
                   "cannot remove the stale %s: %s", path, g_strerror (saved));
      return NULL;
    }
  service = g_socket_service_new ();
  /* The socket is created with the mode bind() gives it: no moment when
   * others could connect. */
  old_mask = umask (0177);
  ok = g_socket_listener_add_address (G_SOCKET_LISTENER (service), address,
                                      G_SOCKET_TYPE_STREAM,
                                      G_SOCKET_PROTOCOL_DEFAULT, NULL, NULL,
                                      error);
  umask (old_mask);
  g_object_unref (address);
  if (!ok)
    {
      g_prefix_error (error, "control socket %s: ", path);
      g_object_unref (service);
      return NULL;
    }
  return service;
}

static gboolean
on_signal (gpointer user_data)
{
  NodeTool *t = user_data;

  g_main_loop_quit (t->loop);
  return G_SOURCE_CONTINUE;
}

/* "ADDR:PORT[,KEY]" */
static gboolean
add_peer (NodeTool *t, const char *spec, GError **error)
{
  const char *comma = strchr (spec, ',');
  char *address = comma ? g_strndup (spec, (gsize) (comma - spec))
                        : g_strdup (spec);
  gboolean ok = meshara_node_add_peer (t->node, address,
                                       comma ? comma + 1 : NULL, error);

  g_free (address);
  return ok;
}

int
tool_cmd_node (int argc, char **argv)
{
  char *data_dir = NULL, *listen = NULL, **peers = NULL;
  char *config = NULL, *profile_name = NULL;
  char *socket_path = NULL, *port = NULL, *key = NULL, *node_id = NULL;
  int max_peers = 0;
  MesharaNodeProfile profile = MESHARA_NODE_PROFILE_STANDARD;
  gboolean json = FALSE, mdns = FALSE;
  MesharaIdentity *identity = NULL;
  GSocketService *service = NULL;
  GError *error = NULL;
  GOptionContext *context;
  NodeTool t = { 0 };
  guint sig_int = 0, sig_term = 0;
  int status;
  const GOptionEntry entries[] = {
    { "data", 'd', 0, G_OPTION_ARG_FILENAME, &data_dir,
      "Use the identity in DIR and put the control socket there (required)",
      "DIR" },
    { "listen", 'l', 0, G_OPTION_ARG_STRING, &listen,
      "Listen on ADDR:PORT (default 127.0.0.1:0, any free port)", "ADDR:PORT" },
    { "peer", 'p', 0, G_OPTION_ARG_STRING_ARRAY, &peers,
      "Connect to a peer, pinning its public key (repeatable)",
      "ADDR:PORT,KEY" },
    { "max-peers", 0, 0, G_OPTION_ARG_INT, &max_peers,
      "Keep at most N links (default: the profile's)", "N" },
    { "profile", 0, 0, G_OPTION_ARG_STRING, &profile_name,
      "minimal, standard (default), bridge or authority", "NAME" },
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config,
      "Read settings from FILE (meshara.conf(5)); options given here win",
      "FILE" },
    { "mdns", 0, 0, G_OPTION_ARG_NONE, &mdns,
      "Publish the node and find peers on the local network (mDNS/DNS-SD "
      "through the Avahi daemon)", NULL },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json,
      "Print one JSON object per line instead of text", NULL },
    { NULL }
  };

  context = tool_option_context_new (
    NULL,
    "Run a node until interrupted, printing one line per event:\n"
    "  listening ADDRESS NODE-ID PUBLIC-KEY\n"
    "  private SENDER-KEY MESSAGE-ID CONTENT\n"
    "  broadcast SENDER-NODE-ID MESSAGE-ID CONTENT\n"
    "  delivered MESSAGE-ID LATENCY-US\n"
    "  delivery-failed MESSAGE-ID REASON\n"
    "  peer-connected NODE-ID, peer-disconnected NODE-ID\n"
    "  link-failed ADDRESS REASON",
    "'meshara send', 'meshara broadcast' and 'meshara peers' talk to the\n"
    "node through DIR/" TOOL_CONTROL_SOCKET_NAME ".  Peers the node reached are\n"
    "remembered in DIR/" MESHARA_NODE_PEERS_FILE " and dialled again at the next start;\n"
    "a peer whose link drops is redialled with growing delays.\n"
    "SIGINT or SIGTERM stop it.",
    entries);
  status = tool_parse_data_options (context, &argc, &argv, &data_dir);
  if (status != 0)
    goto out;
  status = TOOL_EXIT_USAGE;
  if (max_peers != 0 && (max_peers < 1 || max_peers > 4096))
    {
      tool_usage_error ("--max-peers must be between 1 and 4096");
      goto out;
    }
  if (profile_name != NULL
      && !meshara_node_profile_from_string (profile_name, &profile, &error))
    {
      tool_usage_error ("--profile: %s", error->message);
      goto out;
    }
  status = TOOL_EXIT_FAILURE;

  identity = tool_identity_load (data_dir, &error);
  if (identity == NULL)
    {
      tool_error ("%s", error->message);
      goto out;
    }
  t.json = json;
  t.node = meshara_node_new (identity);
  if (config != NULL && !meshara_node_load_config (t.node, config, &error))
    {
      tool_error ("%s", error->message);
      goto out;
    }
  /* The data directory holds the identity: it is the storage path. */
  meshara_node_set_storage_path (t.node, data_dir);
  if (listen != NULL)
    meshara_node_set_listen_address (t.node, listen);
  if (profile_name != NULL)
    meshara_node_set_profile (t.node, profile);
  if (max_peers != 0)
    meshara_node_set_max_peers (t.node, (guint) max_peers);
  if (mdns)
    meshara_node_set_mdns (t.node, TRUE);
  g_signal_connect (t.node, "private-message", G_CALLBACK (on_private), &t);
  g_signal_connect (t.node, "broadcast", G_CALLBACK (on_broadcast), &t);
  g_signal_connect (t.node, "delivered", G_CALLBACK (on_delivered), &t);
  g_signal_connect (t.node, "delivery-failed", G_CALLBACK (on_failed), &t);
  g_signal_connect (t.node, "peer-connected", G_CALLBACK (on_connected), &t);
  g_signal_connect (t.node, "peer-disconnected", G_CALLBACK (on_disconnected),
                    &t);
  g_signal_connect (t.node, "link-failed", G_CALLBACK (on_link_failed), &t);
  g_signal_connect (t.node, "update-available",
                    G_CALLBACK (on_update_available), &t);
  g_signal_connect (t.node, "update-complete", G_CALLBACK (on_update_complete),
                    &t);
  g_signal_connect (t.node, "update-failed", G_CALLBACK (on_update_failed), &t);
  g_signal_connect (t.node, "update-rejected", G_CALLBACK (on_update_rejected),
                    &t);

  socket_path = g_build_filename (data_dir, TOOL_CONTROL_SOCKET_NAME, NULL);
  service = control_listen (socket_path, &error);
  if (service == NULL)
    {
      tool_error ("%s", error->message);
      g_clear_pointer (&socket_path, g_free);  /* not ours to remove */
      goto out;
    }
  g_signal_connect (service, "incoming", G_CALLBACK (on_incoming), &t);

  if (!meshara_node_start (t.node, &error))
    {
      tool_error ("cannot start the node: %s", error->message);
      goto out;
    }
  {
    /* The bound port in place of the one asked for (0 = any). */
    const char *asked = meshara_node_get_listen_address (t.node);
    const char *colon = strrchr (asked, ':');

    port = g_strdup_printf ("%.*s:%u",
                            (int) (colon ? colon - asked : (long) strlen (asked)),
                            asked, meshara_node_get_port (t.node));
  }
  key = meshara_identity_get_public_key (identity);
  node_id = meshara_identity_get_node_id_hex (identity);
  emit (&t, "listening", "address", port, "node_id", node_id,
        "public_key", key, NULL);

  for (gsize i = 0; peers != NULL && peers[i] != NULL; i++)
    if (!add_peer (&t, peers[i], &error))
      {
        tool_error ("%s", error->message);
        goto out;
      }

  t.loop = g_main_loop_new (NULL, FALSE);
  sig_int = g_unix_signal_add (SIGINT, on_signal, &t);
  sig_term = g_unix_signal_add (SIGTERM, on_signal, &t);
  g_socket_service_start (service);
  g_main_loop_run (t.loop);
  emit (&t, "stopped", NULL);
  status = TOOL_EXIT_OK;

out:
  /* Clients still waiting: their reads are cancelled, and the callbacks
   * that would say so never run once the loop is gone. */
  while (t.clients.head != NULL)
    {
      ControlClient *c = t.clients.head->data;

      g_cancellable_cancel (c->cancellable);
      client_free (c);
    }
  if (sig_int)
    g_source_remove (sig_int);
  if (sig_term)
    g_source_remove (sig_term);
  if (service != NULL)
    {
      g_socket_service_stop (service);
      g_socket_listener_close (G_SOCKET_LISTENER (service));
      g_object_unref (service);
    }
  if (socket_path != NULL)
    g_unlink (socket_path);
  if (t.node != NULL)
    {
      meshara_node_stop (t.node);
      g_object_unref (t.node);
    }
  g_clear_pointer (&t.loop, g_main_loop_unref);
  g_clear_pointer (&identity, meshara_identity_unref);
  g_clear_error (&error);
  g_option_context_free (context);
  g_free (socket_path);
  g_free (port);
  g_free (key);
  g_free (node_id);
  g_free (data_dir);
  g_free (listen);
  g_free (config);
  g_free (profile_name);
  g_strfreev (peers);
  return status;
}
