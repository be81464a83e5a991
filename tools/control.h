/* The control protocol of "meshara node" (DIR/control.sock): one command
 * line per connection, answered by one line, "ok ..." or "error ...",
 * after which the node closes the connection.
 *
 *   send KEY TEXT     private message; KEY ends at the first space
 *   broadcast TEXT
 *   peers             "ok N", then N more lines, one per linked peer:
 *     peer KEY ADDRESS DIR CONNECTED-US IDLE-US BYTES-IN BYTES-OUT
 *          FRAMES-IN FRAMES-OUT INVALID-FRAMES RTT-US REPUTATION
 *     (one line, fields separated by one space; ADDRESS is "-" for a
 *     link the peer opened, DIR "in" or "out", the numbers decimal,
 *     REPUTATION signed)
 *   publish-update PATH   announce the signed manifest at PATH (its data
 *                         beside it as .data instead of .manifest)
 *   updates               "ok N", then "; ID NAME VERSION STATE HELD/TOTAL"
 *                         per update, all on that one line
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

/* The whole answer to "peers" a client takes at most. */
#define TOOL_CONTROL_PEERS_REPLY_MAX (4 * 1024 * 1024)
/* A key or address field is at most this long. */
#define TOOL_CONTROL_PEER_FIELD_MAX 512

typedef struct {
  char *public_key;             /* owned */
  char *address;                /* owned; "-" when the peer dialled */
  gboolean outgoing;
  guint64 connected_us;
  guint64 idle_us;
  guint64 bytes_in;
  guint64 bytes_out;
  guint64 frames_in;
  guint64 frames_out;
  guint64 invalid_frames;
  guint64 rtt_us;
  gint64 reputation;
} ToolControlPeer;

/* One "peer ..." line, without a newline.  Key and address must be
 * non-empty printable ASCII without spaces. */
char *tool_control_peer_format (const ToolControlPeer *peer);
/* Parse one "peer ..." line; FALSE with error naming the bad field.
 * Free peer with tool_control_peer_clear() either way. */
gboolean tool_control_peer_parse (const char *line, ToolControlPeer *peer,
                                  GError **error);
void tool_control_peer_clear (ToolControlPeer *peer);

/* The update commands (publish-update PATH, updates): TRUE when line is
 * one of them, cmd then filled in; FALSE with *error_reply set when it
 * names one but is malformed, FALSE with it untouched for other lines. */
gboolean tool_control_parse_update (const char *line, ToolControlCommand *cmd,
                                    const char **error_reply);

#endif
