/* meshara send, broadcast and peers: one command line to the node running
 * on a data directory (its control socket), one answer back. */
#include "config.h"

#include "meshara-tool.h"

#include <stdio.h>
#include <string.h>
#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>

/* Send LINE (no newline) to the node of DATA_DIR and print what it
 * answers: the rest of "ok ..." on stdout, or "error ..." as an error. */
static int
control_request (const char *data_dir, const char *line)
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
  /* The answer is one short line; read until the node closes, bounded. */
  reply = g_malloc (TOOL_CONTROL_LINE_MAX + 1);
  for (;;)
    {
      gssize n = g_input_stream_read (
        g_io_stream_get_input_stream (G_IO_STREAM (connection)),
        reply + len, TOOL_CONTROL_LINE_MAX - len, NULL, &error);

      if (n < 0)
        {
          tool_error ("cannot read the node's answer: %s", error->message);
          goto out;
        }
      if (n == 0 || len + (gsize) n == TOOL_CONTROL_LINE_MAX)
        {
          len += (gsize) n;
          break;
        }
      len += (gsize) n;
      if (memchr (reply, '\n', len) != NULL)
        break;
    }
  reply[len] = '\0';
  reply[strcspn (reply, "\r\n")] = '\0';
  if (g_str_has_prefix (reply, "ok "))
    {
      printf ("%s\n", reply + 3);
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

int
tool_cmd_peers (int argc, char **argv)
{
  char *data_dir = NULL;
  GOptionContext *context;
  int status;
  const GOptionEntry entries[] = {
    { "data", 'd', 0, G_OPTION_ARG_FILENAME, &data_dir,
      "The data directory of the running node (required)", "DIR" },
    { NULL }
  };

  context = tool_option_context_new (
    NULL, "Print how many peers the node running on DIR is connected to.",
    NULL, entries);
  status = tool_parse_data_options (context, &argc, &argv, &data_dir);
  if (status == 0)
    status = control_request (data_dir, "peers");
  g_option_context_free (context);
  g_free (data_dir);
  return status;
}
