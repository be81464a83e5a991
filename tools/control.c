/* The control protocol of "meshara node": see control.h. */
#include "config.h"

#include "control.h"

#include <string.h>

ToolControlLine
tool_control_take_line (char *buf, gsize len, gsize n_new, gsize max)
{
  char *nl = memchr (buf + len, '\n', n_new);

  if (nl == NULL)
    return len + n_new >= max ? TOOL_CONTROL_LINE_TOO_LONG
                              : TOOL_CONTROL_LINE_INCOMPLETE;
  *nl = '\0';
  if (nl > buf && nl[-1] == '\r')
    nl[-1] = '\0';
  return TOOL_CONTROL_LINE_READY;
}

gboolean
tool_control_parse (const char *line, ToolControlCommand *cmd,
                    const char **error_reply)
{
  memset (cmd, 0, sizeof *cmd);
  *error_reply = NULL;
  if (g_str_has_prefix (line, "send "))
    {
      const char *key = line + 5;
      const char *space = strchr (key, ' ');

      if (space == NULL)
        {
          *error_reply = "error usage: send KEY TEXT";
          return FALSE;
        }
      cmd->type = TOOL_CONTROL_SEND;
      cmd->key = g_strndup (key, (gsize) (space - key));
      cmd->text = space + 1;
    }
  else if (g_str_has_prefix (line, "broadcast "))
    {
      cmd->type = TOOL_CONTROL_BROADCAST;
      cmd->text = line + 10;
    }
  else if (strcmp (line, "peers") == 0)
    cmd->type = TOOL_CONTROL_PEERS;
  else if (tool_control_parse_update (line, cmd, error_reply))
    return TRUE;
  else
    {
      if (*error_reply == NULL)
        *error_reply = "error unknown command (send, broadcast, peers, "
                       "publish-update or updates)";
      return FALSE;
    }
  if (cmd->text != NULL)
    cmd->text_len = strlen (cmd->text);
  return TRUE;
}

void
tool_control_command_clear (ToolControlCommand *cmd)
{
  g_clear_pointer (&cmd->key, g_free);
}

char *
tool_control_peer_format (const ToolControlPeer *p)
{
  return g_strdup_printf ("peer %s %s %s %" G_GUINT64_FORMAT
                          " %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT
                          " %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT
                          " %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT
                          " %" G_GUINT64_FORMAT " %" G_GINT64_FORMAT,
                          p->public_key, p->address,
                          p->outgoing ? "out" : "in", p->connected_us,
                          p->idle_us, p->bytes_in, p->bytes_out, p->frames_in,
                          p->frames_out, p->invalid_frames, p->rtt_us,
                          p->reputation);
}

/* A key or an address: 1 to TOOL_CONTROL_PEER_FIELD_MAX printable ASCII
 * characters, no space. */
static gboolean
peer_word_ok (const char *s)
{
  gsize n = strlen (s);

  if (n == 0 || n > TOOL_CONTROL_PEER_FIELD_MAX)
    return FALSE;
  for (gsize i = 0; i < n; i++)
    if (s[i] <= 0x20 || s[i] >= 0x7f)
      return FALSE;
  return TRUE;
}

#define PEER_FIELDS 13
#define PEER_ERROR g_quark_from_static_string ("tool-control-peer-error")

gboolean
tool_control_peer_parse (const char *line, ToolControlPeer *p, GError **error)
{
  static const char *const names[] = {
    "connected-us", "idle-us", "bytes-in", "bytes-out", "frames-in",
    "frames-out", "invalid-frames", "rtt-us"
  };
  guint64 *numbers[] = {
    &p->connected_us, &p->idle_us, &p->bytes_in, &p->bytes_out,
    &p->frames_in, &p->frames_out, &p->invalid_frames, &p->rtt_us
  };
  g_auto (GStrv) f = NULL;

  memset (p, 0, sizeof *p);
  f = g_strsplit (line, " ", PEER_FIELDS + 1);
  if (g_strv_length (f) != PEER_FIELDS || strcmp (f[0], "peer") != 0)
    {
      g_set_error (error, PEER_ERROR, 0,
                   "not a line \"peer\" and %d fields", PEER_FIELDS - 1);
      return FALSE;
    }
  if (!peer_word_ok (f[1]) || !peer_word_ok (f[2]))
    {
      g_set_error (error, PEER_ERROR, 0,
                   "bad %s field", peer_word_ok (f[1]) ? "address" : "key");
      return FALSE;
    }
  if (strcmp (f[3], "in") != 0 && strcmp (f[3], "out") != 0)
    {
      g_set_error (error, PEER_ERROR, 0,
                   "direction \"%.8s\" is neither in nor out", f[3]);
      return FALSE;
    }
  for (guint i = 0; i < G_N_ELEMENTS (numbers); i++)
    if (!g_ascii_string_to_unsigned (f[4 + i], 10, 0, G_MAXUINT64, numbers[i],
                                     NULL))
      {
        g_set_error (error, PEER_ERROR, 0,
                     "%s is not a number", names[i]);
        return FALSE;
      }
  if (!g_ascii_string_to_signed (f[12], 10, G_MININT32, G_MAXINT32,
                                 &p->reputation, NULL))
    {
      g_set_error (error, PEER_ERROR, 0,
                   "reputation is not a number");
      return FALSE;
    }
  p->public_key = g_strdup (f[1]);
  p->address = g_strdup (f[2]);
  p->outgoing = strcmp (f[3], "out") == 0;
  return TRUE;
}

void
tool_control_peer_clear (ToolControlPeer *p)
{
  g_clear_pointer (&p->public_key, g_free);
  g_clear_pointer (&p->address, g_free);
}

gboolean
tool_control_parse_update (const char *line, ToolControlCommand *cmd,
                           const char **error_reply)
{
  memset (cmd, 0, sizeof *cmd);
  if (strcmp (line, "updates") == 0)
    {
      cmd->type = TOOL_CONTROL_UPDATES;
      return TRUE;
    }
  if (g_str_has_prefix (line, "publish-update"))
    {
      if (line[14] != ' ' || line[15] == '\0')
        {
          *error_reply = "error usage: publish-update PATH";
          return FALSE;
        }
      cmd->type = TOOL_CONTROL_PUBLISH_UPDATE;
      cmd->text = line + 15;
      cmd->text_len = strlen (cmd->text);
      return TRUE;
    }
  return FALSE;
}
