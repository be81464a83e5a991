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
