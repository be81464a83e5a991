/* The control protocol of "meshara node" (DIR/control.sock): one command
 * line per connection, answered by one line, "ok ..." or "error ...".
 *
 *   send KEY TEXT     private message; KEY ends at the first space
 *   broadcast TEXT
 *   peers
 *   publish-update PATH   announce the signed manifest at PATH (its data
 *                         beside it as .data instead of .manifest)
 *   updates               the updates the node knows, with their state
 *
 * Split from the socket code so that it can be tested and fuzzed on its
 * own (fuzz/control_fuzzer.c). */
#ifndef MESHARA_TOOL_CONTROL_H
#define MESHARA_TOOL_CONTROL_H

#include <glib.h>

typedef enum {
  TOOL_CONTROL_SEND,
  TOOL_CONTROL_BROADCAST,
  TOOL_CONTROL_PEERS,
  TOOL_CONTROL_PUBLISH_UPDATE,
  TOOL_CONTROL_UPDATES,
} ToolControlType;

typedef struct {
  ToolControlType type;
  char *key;             /* send: the recipient as given; owned */
  const char *text;      /* send, broadcast, publish-update (the path):
                          * in the parsed line */
  gsize text_len;
} ToolControlCommand;

typedef enum {
  TOOL_CONTROL_LINE_INCOMPLETE,  /* no newline yet: read more */
  TOOL_CONTROL_LINE_READY,       /* buf holds the line, NUL-terminated */
  TOOL_CONTROL_LINE_TOO_LONG,    /* max bytes and no newline */
} ToolControlLine;

/* n_new bytes were just read into buf after len earlier ones (which held
 * no newline); buf has room for max + 1 bytes.  On READY the first line
 * is terminated in place, without its newline and a "\r" before it. */
ToolControlLine tool_control_take_line (char *buf, gsize len, gsize n_new,
                                        gsize max);

/* Parse one command line.  FALSE with *error_reply set to the whole
 * "error ..." answer (a static string) for an unknown or malformed
 * command.  Free cmd with tool_control_command_clear(). */
gboolean tool_control_parse (const char *line, ToolControlCommand *cmd,
                             const char **error_reply);
void tool_control_command_clear (ToolControlCommand *cmd);

/* The update commands (publish-update PATH, updates): TRUE when line is
 * one of them, cmd then filled in; FALSE with *error_reply set when it
 * names one but is malformed, FALSE with it untouched for other lines. */
gboolean tool_control_parse_update (const char *line, ToolControlCommand *cmd,
                                    const char **error_reply);

#endif
