/* meshara send, broadcast and peers: one command line to the node running
 * on a data directory (its control socket), one answer back. */
#include "config.h"

#include "meshara-tool.h"
#include "control.h"

#include <stdio.h>
#include <string.h>
#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>

/* Send LINE (no newline) to the node of DATA_DIR and read its answer,
 * up to MAX bytes, until the node closes.  On "ok ..." *answer gets the
 * rest (all its lines); "error ..." is printed as an error. */
static int
control_exchange (const char *data_dir, const char *line, gsize max,
                  char **answer)
{
  char *path = g_build_filename (data_dir, TOOL_CONTROL_SOCKET_NAME, NULL);
  GSocketAddress *address = g_unix_socket_address_new (path);
  GSocketClient *client = g_socket_client_new ();
  GSocketConnection *connection;
  GError *error = NULL;
  char *request = NULL, *reply = NULL;
  gsize len = 0;
  int status = TOOL_EXIT_FAILURE;

  connection = g_socket_client_connect (client, G_SOCKET_CONNECTABLE (address),
                                        NULL, &error);
  if (connection == NULL)
    {
      tool_error ("no meshara node is running for %s (start one with: "
                  "meshara node --data %s ...)", data_dir, data_dir);
      goto out;
    }
  request = g_strdup_printf ("%s\n", line);
  if (!g_output_stream_write_all (
         g_io_stream_get_output_stream (G_IO_STREAM (connection)),
         request, strlen (request), NULL, NULL, &error))
    {
      tool_error ("cannot talk to the node of %s: %s", data_dir,
                  error->message);
      goto out;
    }
  /* Read until the node closes, bounded. */
  reply = g_malloc (max + 1);
  for (;;)
    {
      gssize n = g_input_stream_read (
        g_io_stream_get_input_stream (G_IO_STREAM (connection)),
        reply + len, max - len, NULL, &error);

      if (n < 0)
        {
          tool_error ("cannot read the node's answer: %s", error->message);
          goto out;
        }
      if (n == 0)
        break;
      len += (gsize) n;
      if (len == max)
        {
          tool_error ("the node's answer is longer than %" G_GSIZE_FORMAT
                      " bytes", max);
          goto out;
        }
    }
  reply[len] = '\0';
  if (memchr (reply, '\0', len) != NULL || len == 0 || reply[len - 1] != '\n')
    {
      tool_error ("the node of %s gave no complete answer", data_dir);
      goto out;
    }
  reply[len - 1] = '\0';
  if (g_str_has_prefix (reply, "ok "))
    {
      *answer = g_strdup (reply + 3);
      status = TOOL_EXIT_OK;
    }
  else if (g_str_has_prefix (reply, "error "))
    tool_error ("%s", reply + 6);
  else
    tool_error ("the node of %s gave no answer", data_dir);

out:
  g_clear_object (&connection);
  g_object_unref (client);
  g_object_unref (address);
  g_clear_error (&error);
  g_free (request);
  g_free (reply);
  g_free (path);
  return status;
}

/* One-line commands: print the answer's line. */
static int
control_request (const char *data_dir, const char *line)
{
  char *answer = NULL;
  int status = control_exchange (data_dir, line, TOOL_CONTROL_LINE_MAX,
                                 &answer);

  if (status == TOOL_EXIT_OK)
    {
      answer[strcspn (answer, "\r\n")] = '\0';
      printf ("%s\n", answer);
    }
  g_free (answer);
  return status;
}

/* The positional arguments joined by spaces: the text to send. */
static int
text_argument (int argc, char **argv, char **text)
{
  if (argc < 2)
    return tool_usage_error ("TEXT is required");
  *text = g_strjoinv (" ", argv + 1);
  if (strpbrk (*text, "\r\n") != NULL)
    {
      g_clear_pointer (text, g_free);
      return tool_usage_error ("TEXT must be one line");
    }
  if (strlen (*text) > TOOL_CONTROL_LINE_MAX - 256)
    {
      g_clear_pointer (text, g_free);
      return tool_usage_error ("TEXT is longer than %d bytes",
                               TOOL_CONTROL_LINE_MAX - 256);
    }
  return 0;
}

static gboolean
parse (GOptionContext *context, int *argc, char ***argv, char **data_dir)
{
  if (!tool_parse_options (context, argc, argv))
    return FALSE;
  if (*data_dir == NULL || **data_dir == '\0')
    {
      tool_usage_error ("--data DIR is required");
      return FALSE;
    }
  return TRUE;
}

int
tool_cmd_send (int argc, char **argv)
{
  char *data_dir = NULL, *to = NULL, *text = NULL, *line = NULL;
  GOptionContext *context;
  int status = TOOL_EXIT_USAGE;
  const GOptionEntry entries[] = {
    { "data", 'd', 0, G_OPTION_ARG_FILENAME, &data_dir,
      "The data directory of the running node (required)", "DIR" },
    { "to", 't', 0, G_OPTION_ARG_STRING, &to,
      "The recipient's public key, mshr1... (required)", "KEY" },
    { NULL }
  };

  context = tool_option_context_new (
    "TEXT...",
    "Send TEXT as an end-to-end encrypted message through the node running\n"
    "on DIR ('meshara node --data DIR') and print its message ID.  The node\n"
    "prints 'delivered MESSAGE-ID' when the recipient acknowledges it.",
    NULL, entries);
  if (!parse (context, &argc, &argv, &data_dir))
    goto out;
  if (to == NULL || *to == '\0')
    {
      tool_usage_error ("--to KEY is required");
      goto out;
    }
  if (strchr (to, ' ') != NULL)
    {
      tool_usage_error ("--to KEY: a public key has no spaces");
      goto out;
    }
  status = text_argument (argc, argv, &text);
  if (status != 0)
    goto out;
  line = g_strdup_printf ("send %s %s", to, text);
  status = control_request (data_dir, line);

out:
  g_option_context_free (context);
  g_free (data_dir);
  g_free (to);
  g_free (text);
  g_free (line);
  return status;
}

int
tool_cmd_broadcast (int argc, char **argv)
{
  char *data_dir = NULL, *text = NULL, *line = NULL;
  GOptionContext *context;
  int status = TOOL_EXIT_USAGE;
  const GOptionEntry entries[] = {
    { "data", 'd', 0, G_OPTION_ARG_FILENAME, &data_dir,
      "The data directory of the running node (required)", "DIR" },
    { NULL }
  };

  context = tool_option_context_new (
    "TEXT...",
    "Sign TEXT and flood it to every node of the mesh through the node\n"
    "running on DIR; print its message ID.",
    NULL, entries);
  if (!parse (context, &argc, &argv, &data_dir))
    goto out;
  status = text_argument (argc, argv, &text);
  if (status != 0)
    goto out;
  line = g_strdup_printf ("broadcast %s", text);
  status = control_request (data_dir, line);

out:
  g_option_context_free (context);
  g_free (data_dir);
  g_free (text);
  g_free (line);
  return status;
}

/* Append S to OUT as a JSON string literal. */
static void
json_string (GString *out, const char *s)
{
  g_string_append_c (out, '"');
  for (; *s != '\0'; s++)
    {
      guchar c = (guchar) *s;

      if (c == '"' || c == '\\')
        g_string_append_printf (out, "\\%c", c);
      else if (c < 0x20 || c == 0x7f)
        g_string_append_printf (out, "\\u%04x", c);
      else
        g_string_append_c (out, (char) c);
    }
  g_string_append_c (out, '"');
}

static void
print_peer (const ToolControlPeer *p, gboolean json)
{
  GString *out = g_string_new (NULL);
  gboolean incoming_unknown = strcmp (p->address, "-") == 0;

  if (json)
    {
      g_string_append (out, "{\"public_key\":");
      json_string (out, p->public_key);
      g_string_append (out, ",\"address\":");
      if (incoming_unknown)
        g_string_append (out, "null");
      else
        json_string (out, p->address);
      g_string_append_printf (out,
                              ",\"direction\":\"%s\",\"connected_us\":%"
                              G_GUINT64_FORMAT ",\"idle_us\":%" G_GUINT64_FORMAT
                              ",\"bytes_in\":%" G_GUINT64_FORMAT
                              ",\"bytes_out\":%" G_GUINT64_FORMAT
                              ",\"frames_in\":%" G_GUINT64_FORMAT
                              ",\"frames_out\":%" G_GUINT64_FORMAT
                              ",\"invalid_frames\":%" G_GUINT64_FORMAT
                              ",\"rtt_us\":%" G_GUINT64_FORMAT
                              ",\"reputation\":%" G_GINT64_FORMAT "}",
                              p->outgoing ? "out" : "in", p->connected_us,
                              p->idle_us, p->bytes_in, p->bytes_out,
                              p->frames_in, p->frames_out, p->invalid_frames,
                              p->rtt_us, p->reputation);
    }
  else
    {
      g_string_append_printf (out, "%s %s %s up=%.1fs idle=%.1fs ",
                              p->public_key, p->address,
                              p->outgoing ? "out" : "in",
                              p->connected_us / 1e6, p->idle_us / 1e6);
      if (p->rtt_us > 0)
        g_string_append_printf (out, "rtt=%.2fms", p->rtt_us / 1e3);
      else
        g_string_append (out, "rtt=-");
      g_string_append_printf (out, " bytes-in=%" G_GUINT64_FORMAT
                              " bytes-out=%" G_GUINT64_FORMAT
                              " frames-in=%" G_GUINT64_FORMAT
                              " frames-out=%" G_GUINT64_FORMAT
                              " invalid=%" G_GUINT64_FORMAT
                              " reputation=%" G_GINT64_FORMAT,
                              p->bytes_in, p->bytes_out, p->frames_in,
                              p->frames_out, p->invalid_frames, p->reputation);
    }
  puts (out->str);
  g_string_free (out, TRUE);
}

/* The answer to "peers": "N", then N "peer ..." lines. */
static int
print_peers (const char *answer, gboolean json)
{
  g_auto (GStrv) lines = g_strsplit (answer, "\n", -1);
  guint64 n;
  guint count = g_strv_length (lines);

  if (!g_ascii_string_to_unsigned (lines[0], 10, 0, G_MAXUINT, &n, NULL)
      || n != count - 1)
    {
      tool_error ("the node's peer list is malformed (it announces %.20s "
                  "peers and holds %u lines)", lines[0], count - 1);
      return TOOL_EXIT_FAILURE;
    }
  for (guint i = 1; i < count; i++)
    {
      g_autoptr (GError) error = NULL;
      ToolControlPeer p;

      if (!tool_control_peer_parse (lines[i], &p, &error))
        {
          tool_error ("the node's peer list is malformed (line %u: %s)",
                      i + 1, error->message);
          tool_control_peer_clear (&p);
          return TOOL_EXIT_FAILURE;
        }
      print_peer (&p, json);
      tool_control_peer_clear (&p);
    }
  if (!json)
    printf ("total %" G_GUINT64_FORMAT " peer%s\n", n, n == 1 ? "" : "s");
  return TOOL_EXIT_OK;
}

int
tool_cmd_peers (int argc, char **argv)
{
  char *data_dir = NULL, *answer = NULL;
  gboolean json = FALSE;
  GOptionContext *context;
  int status;
  const GOptionEntry entries[] = {
    { "data", 'd', 0, G_OPTION_ARG_FILENAME, &data_dir,
      "The data directory of the running node (required)", "DIR" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json,
      "One JSON object per peer, no total", NULL },
    { NULL }
  };

  context = tool_option_context_new (
    NULL,
    "List the peers the node running on DIR is linked to, one line each:\n"
    "public key, address (\"-\" when the peer dialled), direction (in or\n"
    "out) and the link's statistics; then the total.",
    NULL, entries);
  status = tool_parse_data_options (context, &argc, &argv, &data_dir);
  if (status == 0)
    status = control_exchange (data_dir, "peers", TOOL_CONTROL_PEERS_REPLY_MAX,
                               &answer);
  if (status == TOOL_EXIT_OK)
    status = print_peers (answer, json);
  g_option_context_free (context);
  g_free (answer);
  g_free (data_dir);
  return status;
}
