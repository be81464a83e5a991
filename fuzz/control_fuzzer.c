/* The control protocol of "meshara node" (tools/control.h): the line
 * reader fed the bytes of a client in reads of the sizes the input
 * chooses, then the command parser on the line it returns.
 *
 * Input: byte 0: bit 0 picks the line limit, the node's
 * TOOL_CONTROL_LINE_MAX (clear) or 40 bytes (set, so that the limit is
 * met by short inputs).  Then reads: n (1), n bytes (at most the room
 * left, as the node asks for), until a line is complete, the limit is
 * met or the input ends.
 *
 * Checked against a model: the line is the stream up to its first
 * newline without a "\r" before it, READY comes exactly when a newline
 * arrived and TOO_LONG exactly at the limit; a parsed command matches
 * the line (the key of send ends at the first space, the text is the
 * rest; the path of publish-update is the rest after one space),
 * failures are "error ..." answers.
 *
 * A line that starts with "peer " is also given to the parser of the
 * lines answering "peers", which the tool reads from the node: what it
 * accepts has the documented shape, and formatting it again gives a
 * line that parses into the same fields and formats the same. */
#include "config.h"

#include "fuzz.h"
#include "fuzz-input.h"
#include "tools/control.h"
#include "tools/meshara-tool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
fail (const char *what)
{
  fprintf (stderr, "control_fuzzer: %s\n", what);
  abort ();
}

static gboolean
peer_equal (const ToolControlPeer *a, const ToolControlPeer *b)
{
  return strcmp (a->public_key, b->public_key) == 0
         && strcmp (a->address, b->address) == 0
         && a->outgoing == b->outgoing && a->connected_us == b->connected_us
         && a->idle_us == b->idle_us && a->bytes_in == b->bytes_in
         && a->bytes_out == b->bytes_out && a->frames_in == b->frames_in
         && a->frames_out == b->frames_out
         && a->invalid_frames == b->invalid_frames && a->rtt_us == b->rtt_us
         && a->reputation == b->reputation;
}

static void
check_peer_line (const char *line)
{
  ToolControlPeer p, q;
  GError *error = NULL;
  char *again, *third;

  if (!tool_control_peer_parse (line, &p, &error))
    {
      if (error == NULL || p.public_key != NULL || p.address != NULL)
        fail ("a refused peer line without an error, or with fields left");
      g_error_free (error);
      return;
    }
  if (error != NULL)
    fail ("an accepted peer line with an error set");
  if (strchr (p.public_key, ' ') != NULL || strchr (p.address, ' ') != NULL
      || *p.public_key == '\0' || *p.address == '\0'
      || strlen (p.public_key) > TOOL_CONTROL_PEER_FIELD_MAX
      || strlen (p.address) > TOOL_CONTROL_PEER_FIELD_MAX
      || p.reputation < G_MININT32 || p.reputation > G_MAXINT32)
    fail ("an accepted peer line with a field out of shape");
  again = tool_control_peer_format (&p);
  if (!tool_control_peer_parse (again, &q, NULL) || !peer_equal (&p, &q))
    fail ("a formatted peer line does not parse back the same");
  third = tool_control_peer_format (&q);
  if (strcmp (again, third) != 0)
    fail ("formatting a peer line is not stable");
  g_free (third);
  g_free (again);
  tool_control_peer_clear (&q);
  tool_control_peer_clear (&p);
}

static void
check_command (const char *line)
{
  ToolControlCommand cmd;
  const char *bad = NULL;
  gboolean ok = tool_control_parse (line, &cmd, &bad);

  if (strncmp (line, "peer ", 5) == 0)
    check_peer_line (line);
  if (!ok)
    {
      if (bad == NULL || strncmp (bad, "error ", 6) != 0)
        fail ("a refused command without an error answer");
      if (cmd.key != NULL)
        fail ("a refused command left a key behind");
      if (strcmp (line, "peers") == 0
          || strncmp (line, "broadcast ", 10) == 0
          || (strncmp (line, "send ", 5) == 0 && strchr (line + 5, ' ') != NULL)
          || strcmp (line, "updates") == 0
          || (strncmp (line, "publish-update ", 15) == 0 && line[15] != '\0'))
        fail ("a well-formed command was refused");
      return;
    }
  switch (cmd.type)
    {
    case TOOL_CONTROL_SEND:
      {
        const char *space = strchr (line + 5, ' ');

        if (strncmp (line, "send ", 5) != 0 || space == NULL
            || strlen (cmd.key) != (size_t) (space - line - 5)
            || memcmp (cmd.key, line + 5, strlen (cmd.key)) != 0
            || cmd.text != space + 1 || cmd.text_len != strlen (space + 1))
          fail ("send parsed into another key or text");
      }
      break;
    case TOOL_CONTROL_BROADCAST:
      if (strncmp (line, "broadcast ", 10) != 0 || cmd.key != NULL
          || cmd.text != line + 10 || cmd.text_len != strlen (line + 10))
        fail ("broadcast parsed into another text");
      break;
    case TOOL_CONTROL_PEERS:
      if (strcmp (line, "peers") != 0 || cmd.key != NULL)
        fail ("peers from another line");
      break;
    case TOOL_CONTROL_UPDATES:
      if (strcmp (line, "updates") != 0 || cmd.key != NULL)
        fail ("updates from another line");
      break;
    case TOOL_CONTROL_PUBLISH_UPDATE:
      if (strncmp (line, "publish-update ", 15) != 0 || line[15] == '\0'
          || cmd.key != NULL || cmd.text != line + 15
          || cmd.text_len != strlen (line + 15))
        fail ("publish-update parsed into another path");
      break;
    default:
      fail ("an unknown command type");
    }
  tool_control_command_clear (&cmd);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  MeshFuzzInput in;
  gsize max, len = 0;
  GByteArray *stream = g_byte_array_new ();
  ToolControlLine state = TOOL_CONTROL_LINE_INCOMPLETE;
  char *buf;

  mesh_fuzz_input_init (&in, data, size);
  max = mesh_fuzz_u8 (&in) & 1 ? 40 : TOOL_CONTROL_LINE_MAX;
  /* As the node: room for max bytes and a NUL. */
  buf = g_malloc (max + 1);
  while (in.n > 0 && state == TOOL_CONTROL_LINE_INCOMPLETE)
    {
      const uint8_t *p;
      gsize want = mesh_fuzz_u8 (&in);
      size_t n = mesh_fuzz_bytes (&in, MIN (want, max - len), &p);
      const uint8_t *nl;

      if (n == 0)
        continue;
      memcpy (buf + len, p, n);
      g_byte_array_append (stream, p, (guint) n);
      state = tool_control_take_line (buf, len, n, max);
      len += n;
      nl = memchr (stream->data, '\n', stream->len);
      if (state == TOOL_CONTROL_LINE_READY)
        {
          size_t k, m;

          if (nl == NULL)
            fail ("a line without a newline");
          k = (size_t) (nl - stream->data);
          m = k > 0 && stream->data[k - 1] == '\r' ? k - 1 : k;
          if (memcmp (buf, stream->data, m) != 0 || buf[m] != '\0')
            fail ("the line differs from the stream up to its newline");
          check_command (buf);
        }
      else if (nl != NULL)
        fail ("a newline arrived and no line came");
      else if ((state == TOOL_CONTROL_LINE_TOO_LONG) != (len >= max))
        fail ("the limit was reported at the wrong length");
    }
  g_free (buf);
  g_byte_array_unref (stream);
  return 0;
}
