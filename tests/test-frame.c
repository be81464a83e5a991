/* The frame reader: the same frames whatever the pieces the stream comes
 * in, limits enforced from the header before the body is stored, failure
 * is final. */
#include "config.h"

#include "wire/frame.h"
#include "wire/codec.h"
#include "testutil.h"

#include <string.h>
#include <meshara/meshara.h>

typedef struct {
  GPtrArray *frames;        /* GBytes */
  const guint8 *input;      /* the last buffer fed, to see copies */
  gsize input_len;
  guint zero_copy;
} Sink;

static void
sink_init (Sink *s)
{
  memset (s, 0, sizeof *s);
  s->frames = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
}

static void
sink_clear (Sink *s)
{
  g_ptr_array_unref (s->frames);
}

static void
on_frame (const guint8 *frame, gsize len, gpointer user_data)
{
  Sink *s = user_data;

  g_assert_cmpuint (len, >, 0);
  if (s->input && frame >= s->input && frame + len <= s->input + s->input_len)
    s->zero_copy++;
  g_ptr_array_add (s->frames, g_bytes_new (frame, len));
}

static gboolean
feed (MeshFrameReader *r, Sink *s, const guint8 *data, gsize len, GError **error)
{
  s->input = data;
  s->input_len = len;
  return mesh_frame_reader_feed (r, data, len, error);
}

/* A stream of frames with these body sizes; bodies are random. */
static GByteArray *
make_stream (const gsize *sizes, gsize n, TestRng *rng)
{
  GByteArray *a = g_byte_array_new ();

  for (gsize i = 0; i < n; i++)
    {
      guint8 h[MESH_FRAME_HEADER_LEN];
      gsize at;

      mesh_frame_write_header (h, (guint32) sizes[i]);
      g_byte_array_append (a, h, sizeof h);
      at = a->len;
      g_byte_array_set_size (a, a->len + sizes[i]);
      test_rng (rng, a->data + at, sizes[i]);
    }
  return a;
}

static void
assert_same_frames (GPtrArray *a, GPtrArray *b)
{
  g_assert_cmpuint (a->len, ==, b->len);
  for (guint i = 0; i < a->len; i++)
    g_assert_true (g_bytes_equal (a->pdata[i], b->pdata[i]));
}

static void
assert_error (GError **error, gint code, const char *needle)
{
  g_assert_nonnull (*error);
  if (!g_error_matches (*error, MESHARA_ERROR, code)
      || strstr ((*error)->message, needle) == NULL)
    g_error ("expected code %d naming \"%s\", got code %d: %s", code, needle,
             (*error)->code, (*error)->message);
  g_clear_error (error);
}

static void
test_splits (void)
{
  static const gsize sizes[] = {
    1, 2, 3, 4, 5, 100, 4095, 4096, 4097, 70000, 1, 200000, 17, 1, 65536,
  };
  TestRng rng = { 7 };
  GByteArray *stream = make_stream (sizes, G_N_ELEMENTS (sizes), &rng);
  GError *error = NULL;
  Sink whole, bytewise;
  MeshFrameReader *r;

  /* Whole: every frame straight from the input. */
  sink_init (&whole);
  r = mesh_frame_reader_new (MESH_FRAME_MAX_DEFAULT, on_frame, &whole);
  g_assert_true (feed (r, &whole, stream->data, stream->len, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (whole.frames->len, ==, G_N_ELEMENTS (sizes));
  g_assert_cmpuint (whole.zero_copy, ==, G_N_ELEMENTS (sizes));
  g_assert_cmpuint (mesh_frame_reader_buffered (r), ==, 0);
  g_assert_cmpuint (mesh_frame_reader_allocated (r), ==, 0);
  mesh_frame_reader_free (r);

  {
    gsize at = 0;
    for (gsize i = 0; i < G_N_ELEMENTS (sizes); i++)
      {
        g_assert_cmpuint (g_bytes_get_size (whole.frames->pdata[i]), ==, sizes[i]);
        g_assert_cmpmem (g_bytes_get_data (whole.frames->pdata[i], NULL), sizes[i],
                         stream->data + at + 4, sizes[i]);
        at += 4 + sizes[i];
      }
  }

  /* One byte at a time. */
  sink_init (&bytewise);
  r = mesh_frame_reader_new (MESH_FRAME_MAX_DEFAULT, on_frame, &bytewise);
  for (gsize i = 0; i < stream->len; i++)
    {
      g_assert_true (feed (r, &bytewise, stream->data + i, 1, &error));
      g_assert_cmpuint (mesh_frame_reader_buffered (r), <=, 4 + 200000);
    }
  g_assert_no_error (error);
  assert_same_frames (whole.frames, bytewise.frames);
  g_assert_cmpuint (bytewise.zero_copy, ==, 0);
  /* Big frames' buffers were released; a small one may stay. */
  g_assert_cmpuint (mesh_frame_reader_allocated (r), <=, MESH_FRAME_KEEP_BUFFER);
  mesh_frame_reader_free (r);
  sink_clear (&bytewise);

  /* Random splits, including empty pieces. */
  for (guint round = 0; round < 100; round++)
    {
      Sink split;
      gsize at = 0;

      sink_init (&split);
      r = mesh_frame_reader_new (MESH_FRAME_MAX_DEFAULT, on_frame, &split);
      while (at < stream->len)
        {
          guint8 b[3];
          gsize n;

          test_rng (&rng, b, sizeof b);
          /* Mostly small pieces, sometimes large ones. */
          n = b[0] < 200 ? b[1] % 9 : (gsize) (b[1] << 8 | b[2]) * 4;
          n = MIN (n, stream->len - at);
          g_assert_true (feed (r, &split, stream->data + at, n, &error));
          at += n;
        }
      g_assert_no_error (error);
      assert_same_frames (whole.frames, split.frames);
      g_assert_cmpuint (mesh_frame_reader_buffered (r), ==, 0);
      mesh_frame_reader_free (r);
      sink_clear (&split);
    }

  sink_clear (&whole);
  g_byte_array_unref (stream);
}

static void
test_many_in_one_feed (void)
{
  gsize *sizes = g_new (gsize, 10000);
  TestRng rng = { 8 };
  GByteArray *stream;
  Sink s;
  MeshFrameReader *r;
  GError *error = NULL;

  for (gsize i = 0; i < 10000; i++)
    sizes[i] = 1 + i % 50;
  stream = make_stream (sizes, 10000, &rng);
  sink_init (&s);
  r = mesh_frame_reader_new (64, on_frame, &s);
  g_assert_true (feed (r, &s, stream->data, stream->len, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (s.frames->len, ==, 10000);
  g_assert_cmpuint (s.zero_copy, ==, 10000);
  for (gsize i = 0; i < 10000; i++)
    g_assert_cmpuint (g_bytes_get_size (s.frames->pdata[i]), ==, sizes[i]);

  /* A feed that ends mid-frame keeps only that frame's bytes. */
  g_assert_true (feed (r, &s, stream->data, 4 + sizes[0] + 5, &error));
  g_assert_cmpuint (s.frames->len, ==, 10001);
  g_assert_cmpuint (mesh_frame_reader_buffered (r), ==, 5);
  g_assert_true (feed (r, &s, stream->data + 4 + sizes[0] + 5,
                       4 + sizes[1] - 5, &error));
  g_assert_cmpuint (s.frames->len, ==, 10002);
  g_assert_true (g_bytes_equal (s.frames->pdata[10001], s.frames->pdata[1]));

  mesh_frame_reader_free (r);
  sink_clear (&s);
  g_byte_array_unref (stream);
  g_free (sizes);
}

static void
test_oversized (void)
{
  /* 17 MiB announced against the default 16 MiB. */
  static const guint8 header[] = { 0x01, 0x10, 0x00, 0x00 };
  static const guint8 ok[] = { 0, 0, 0, 1, 0xaa };
  Sink s;
  MeshFrameReader *r;
  GError *error = NULL;

  sink_init (&s);
  r = mesh_frame_reader_new (MESH_FRAME_MAX_DEFAULT, on_frame, &s);
  g_assert_cmpuint (mesh_frame_reader_max_frame_size (r), ==, 16777216);
  g_assert_true (feed (r, &s, ok, sizeof ok, &error));

  /* Byte by byte: refused on the fourth header byte, nothing stored. */
  for (gsize i = 0; i < 3; i++)
    g_assert_true (feed (r, &s, header + i, 1, &error));
  g_assert_cmpuint (mesh_frame_reader_buffered (r), ==, 3);
  g_assert_false (feed (r, &s, header + 3, 1, &error));
  assert_error (&error, MESHARA_ERROR_TOO_LARGE,
                "frame of 17825792 bytes exceeds max-frame-size 16777216");
  g_assert_true (mesh_frame_reader_failed (r));
  g_assert_cmpuint (mesh_frame_reader_buffered (r), ==, 0);
  g_assert_cmpuint (mesh_frame_reader_allocated (r), ==, 0);

  /* Failed for good: valid input is refused with the same error. */
  g_assert_false (feed (r, &s, ok, sizeof ok, &error));
  assert_error (&error, MESHARA_ERROR_TOO_LARGE, "frame of 17825792 bytes");
  g_assert_false (feed (r, &s, NULL, 0, &error));
  assert_error (&error, MESHARA_ERROR_TOO_LARGE, "exceeds max-frame-size");
  g_assert_cmpuint (s.frames->len, ==, 1);
  mesh_frame_reader_free (r);

  /* Whole header with a partial body following: still nothing stored. */
  r = mesh_frame_reader_new (MESH_FRAME_MAX_DEFAULT, on_frame, &s);
  {
    guint8 buf[4 + 100] = { 0x01, 0x10, 0x00, 0x00 };
    g_assert_false (feed (r, &s, buf, sizeof buf, &error));
    assert_error (&error, MESHARA_ERROR_TOO_LARGE, "exceeds max-frame-size 16777216");
    g_assert_cmpuint (mesh_frame_reader_allocated (r), ==, 0);
  }
  mesh_frame_reader_free (r);

  /* The boundary: exactly max is a frame, max + 1 is not. */
  {
    guint8 buf[4 + 1000] = { 0 };
    r = mesh_frame_reader_new (1000, on_frame, &s);
    mesh_frame_write_header (buf, 1000);
    g_assert_true (feed (r, &s, buf, sizeof buf, &error));
    g_assert_cmpuint (s.frames->len, ==, 2);
    mesh_frame_write_header (buf, 1001);
    g_assert_false (feed (r, &s, buf, 4, &error));
    assert_error (&error, MESHARA_ERROR_TOO_LARGE,
                  "frame of 1001 bytes exceeds max-frame-size 1000");
    mesh_frame_reader_free (r);
  }

  /* The largest header value. */
  r = mesh_frame_reader_new (G_MAXUINT32 - 1, on_frame, &s);
  g_assert_false (feed (r, &s, (const guint8 *) "\xff\xff\xff\xff", 4, &error));
  assert_error (&error, MESHARA_ERROR_TOO_LARGE,
                "frame of 4294967295 bytes exceeds max-frame-size 4294967294");
  mesh_frame_reader_free (r);
  sink_clear (&s);
}

static void
test_memory_follows_input (void)
{
  /* A peer announcing a large frame and sending little of it costs what
     it sent, not what it announced. */
  guint8 buf[4 + 10] = { 0 };
  Sink s;
  MeshFrameReader *r;
  GError *error = NULL;

  sink_init (&s);
  r = mesh_frame_reader_new (MESH_FRAME_MAX_DEFAULT, on_frame, &s);
  mesh_frame_write_header (buf, MESH_FRAME_MAX_DEFAULT);
  g_assert_true (feed (r, &s, buf, sizeof buf, &error));
  g_assert_cmpuint (mesh_frame_reader_buffered (r), ==, 14);
  g_assert_cmpuint (mesh_frame_reader_allocated (r), <=, 4096);

  {
    guint8 *chunk = g_malloc0 (100000);
    g_assert_true (feed (r, &s, chunk, 100000, &error));
    g_assert_cmpuint (mesh_frame_reader_allocated (r), <=, 2 * 100010);
    g_free (chunk);
  }
  g_assert_cmpuint (s.frames->len, ==, 0);
  mesh_frame_reader_free (r);
  sink_clear (&s);
}

static void
test_zero_length (void)
{
  static const guint8 stream[] = {
    0, 0, 0, 2, 'h', 'i',
    0, 0, 0, 0,
    0, 0, 0, 1, 'x',
  };
  Sink s;
  MeshFrameReader *r;
  GError *error = NULL;

  /* Frames before the bad header are delivered, none after. */
  sink_init (&s);
  r = mesh_frame_reader_new (MESH_FRAME_MAX_DEFAULT, on_frame, &s);
  g_assert_false (feed (r, &s, stream, sizeof stream, &error));
  assert_error (&error, MESHARA_ERROR_MALFORMED, "frame of 0 bytes");
  g_assert_cmpuint (s.frames->len, ==, 1);
  g_assert_true (mesh_frame_reader_failed (r));
  mesh_frame_reader_free (r);

  /* The same, byte by byte. */
  r = mesh_frame_reader_new (MESH_FRAME_MAX_DEFAULT, on_frame, &s);
  for (gsize i = 0; i < sizeof stream; i++)
    {
      gboolean ok = feed (r, &s, stream + i, 1, &error);
      g_assert_true (ok == (i < 9));
      if (!ok)
        assert_error (&error, MESHARA_ERROR_MALFORMED, "frame of 0 bytes");
    }
  g_assert_cmpuint (s.frames->len, ==, 2);
  mesh_frame_reader_free (r);
  sink_clear (&s);
}

/* Frames from the encoder come out of the reader and decode. */
static void
on_message (const guint8 *frame, gsize len, gpointer user_data)
{
  guint *count = user_data;
  GError *error = NULL;
  g_autoptr(MeshWireBaseMessage) m = mesh_wire_decode_base (frame, len,
                                                            MESH_FRAME_MAX_DEFAULT,
                                                            &error);
  g_assert_no_error (error);
  g_assert_cmpint (m->type, ==, MESH_WIRE_TYPE_PING);
  g_assert_cmpuint (m->timestamp_ms, ==, 1000 + *count);
  (*count)++;
}

static void
test_with_codec (void)
{
  GByteArray *stream = g_byte_array_new ();
  guint count = 0;
  MeshFrameReader *r;
  GError *error = NULL;

  for (guint i = 0; i < 50; i++)
    {
      MeshWireBaseMessage b = MESHARA__V1__BASE_MESSAGE__INIT;
      MeshWirePing p = MESHARA__V1__PING__INIT;
      guint8 id[MESH_WIRE_ID_LEN];
      g_autoptr(GBytes) payload = NULL;
      g_autoptr(GBytes) frame = NULL;

      p.nonce = i;
      payload = mesh_wire_encode (&p.base);
      b.version = MESH_WIRE_PROTOCOL_VERSION;
      b.type = MESH_WIRE_TYPE_PING;
      b.timestamp_ms = 1000 + i;
      b.payload.data = (guint8 *) g_bytes_get_data (payload, &b.payload.len);
      mesh_wire_compute_message_id (&b, id);
      b.message_id.data = id;
      b.message_id.len = sizeof id;
      frame = mesh_wire_encode_frame (&b, MESH_FRAME_MAX_DEFAULT, &error);
      g_assert_no_error (error);
      g_byte_array_append (stream, g_bytes_get_data (frame, NULL), g_bytes_get_size (frame));
    }

  r = mesh_frame_reader_new (MESH_FRAME_MAX_DEFAULT, on_message, &count);
  for (gsize at = 0; at < stream->len; at += 7)
    g_assert_true (mesh_frame_reader_feed (r, stream->data + at,
                                           MIN (7, stream->len - at), &error));
  g_assert_cmpuint (count, ==, 50);
  mesh_frame_reader_free (r);
  g_byte_array_unref (stream);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/frame/splits", test_splits);
  g_test_add_func ("/frame/many-in-one-feed", test_many_in_one_feed);
  g_test_add_func ("/frame/oversized", test_oversized);
  g_test_add_func ("/frame/memory-follows-input", test_memory_follows_input);
  g_test_add_func ("/frame/zero-length", test_zero_length);
  g_test_add_func ("/frame/with-codec", test_with_codec);

  return g_test_run ();
}
