/* The frame reader, fed in pieces the fuzzer chooses, each frame then
 * decoded as a BaseMessage and its payload.
 *
 * Input: byte 0 picks the number of piece sizes (1 to 8), byte 1 the
 * max-frame-size (2^(10 + b % 11): 1 KiB to 1 MiB), then one byte per
 * piece size (0 = an empty feed, 255 = all that is left, else that many
 * bytes; the sizes repeat in turn), then the stream.
 *
 * Checked besides memory safety: the pieces do not change the outcome.
 * The frames and the error must be those of feeding the stream whole. */
#include "config.h"

#include "fuzz.h"
#include "wire/codec.h"
#include "wire/frame.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <meshara/meshara.h>

typedef struct {
  GByteArray *log;     /* each frame: 4-byte length, then the frame */
  gsize max;
  gboolean decode;
} Run;

static void
decode_frame (const guint8 *frame, gsize len, gsize max)
{
  GError *error = NULL;
  MeshWireBaseMessage *m = mesh_wire_decode_base (frame, len, max, &error);
  ProtobufCMessage *payload;

  if (m == NULL)
    {
      g_clear_error (&error);
      return;
    }
  payload = mesh_wire_decode_payload (m, &error);
  g_clear_error (&error);
  mesh_wire_free (payload);
  mesh_wire_free (m);
}

static void
on_frame (const guint8 *frame, gsize len, gpointer user_data)
{
  Run *run = user_data;
  guint8 h[MESH_FRAME_HEADER_LEN];

  if (len == 0 || len > run->max)
    abort ();
  mesh_frame_write_header (h, (guint32) len);
  g_byte_array_append (run->log, h, sizeof h);
  g_byte_array_append (run->log, frame, (guint) len);
  if (run->decode)
    decode_frame (frame, len, run->max);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  guint8 sizes[8];
  gsize n_sizes, max, at, k = 0, idle = 0;
  const guint8 *stream;
  gsize stream_len;
  Run whole = { NULL, 0, FALSE }, split = { NULL, 0, TRUE };
  MeshFrameReader *r;
  GError *whole_error = NULL, *split_error = NULL;
  gboolean whole_ok, split_ok = TRUE;

  if (size < 2)
    return 0;
  n_sizes = data[0] % 8 + 1;
  max = (gsize) 1 << (10 + data[1] % 11);
  if (size < 2 + n_sizes)
    return 0;
  memcpy (sizes, data + 2, n_sizes);
  stream = data + 2 + n_sizes;
  stream_len = size - 2 - n_sizes;

  whole.log = g_byte_array_new ();
  whole.max = max;
  r = mesh_frame_reader_new (max, on_frame, &whole);
  whole_ok = mesh_frame_reader_feed (r, stream, stream_len, &whole_error);
  mesh_frame_reader_free (r);

  split.log = g_byte_array_new ();
  split.max = max;
  r = mesh_frame_reader_new (max, on_frame, &split);
  for (at = 0; at < stream_len && split_ok; k++)
    {
      gsize n = sizes[k % n_sizes];

      if (n == 255)
        n = stream_len - at;
      /* A round of empty pieces would never end. */
      idle = n == 0 ? idle + 1 : 0;
      if (idle > n_sizes)
        n = stream_len - at;
      n = MIN (n, stream_len - at);
      /* Feed a copy, so that a reader keeping a pointer into the input
         past the call would show. */
      {
        guint8 *piece = g_memdup2 (stream + at, n);
        split_ok = mesh_frame_reader_feed (r, piece, n, &split_error);
        g_free (piece);
      }
      at += n;
    }
  if (mesh_frame_reader_failed (r) == split_ok)
    abort ();
  mesh_frame_reader_free (r);

  if (whole_ok != split_ok
      || whole.log->len != split.log->len
      || (whole.log->len > 0
          && memcmp (whole.log->data, split.log->data, whole.log->len) != 0))
    {
      fprintf (stderr, "frame reader: whole and split feeds disagree\n");
      abort ();
    }
  if (!whole_ok
      && (whole_error->code != split_error->code
          || strcmp (whole_error->message, split_error->message) != 0))
    {
      fprintf (stderr, "frame reader: errors differ: \"%s\" / \"%s\"\n",
               whole_error->message, split_error->message);
      abort ();
    }

  g_clear_error (&whole_error);
  g_clear_error (&split_error);
  g_byte_array_unref (whole.log);
  g_byte_array_unref (split.log);
  return 0;
}
