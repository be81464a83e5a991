#include "config.h"

#include "wire/frame.h"

#include <string.h>
#include <meshara/meshara.h>

/* The smallest body buffer allocated, so that a frame arriving in many
 * small pieces does not realloc for each. */
#define MIN_BUFFER 4096

struct _MeshFrameReader {
  gsize max;
  MeshFrameFunc func;
  gpointer user_data;

  guint8 header[MESH_FRAME_HEADER_LEN];
  gsize header_have;      /* header bytes held; the body follows at 4 */
  gsize body_len;         /* announced body length, once the header is in */
  guint8 *body;
  gsize body_have;
  gsize body_cap;

  GError *failure;        /* set once; the reader stays failed */
  gboolean feeding;
};

MeshFrameReader *
mesh_frame_reader_new (gsize max_frame_size, MeshFrameFunc func,
                       gpointer user_data)
{
  MeshFrameReader *r;

  g_return_val_if_fail (max_frame_size > 0 && max_frame_size <= G_MAXUINT32, NULL);
  g_return_val_if_fail (func != NULL, NULL);

  r = g_new0 (MeshFrameReader, 1);
  r->max = max_frame_size;
  r->func = func;
  r->user_data = user_data;
  return r;
}

void
mesh_frame_reader_free (MeshFrameReader *reader)
{
  if (reader == NULL)
    return;
  g_return_if_fail (!reader->feeding);
  g_free (reader->body);
  g_clear_error (&reader->failure);
  g_free (reader);
}

static gboolean
reader_fail (MeshFrameReader *r, GError **error, gint code,
             const char *format, ...) G_GNUC_PRINTF (4, 5);

static gboolean
reader_fail (MeshFrameReader *r, GError **error, gint code,
             const char *format, ...)
{
  va_list ap;

  va_start (ap, format);
  r->failure = g_error_new_valist (MESHARA_ERROR, code, format, ap);
  va_end (ap);
  /* Nothing of a rejected stream is kept. */
  g_clear_pointer (&r->body, g_free);
  r->body_cap = r->body_have = r->body_len = r->header_have = 0;
  if (error)
    *error = g_error_copy (r->failure);
  return FALSE;
}

/* Check an announced length before anything is stored for its body. */
static gboolean
check_length (MeshFrameReader *r, guint32 n, GError **error)
{
  if (n == 0)
    return reader_fail (r, error, MESHARA_ERROR_MALFORMED,
                        "frame of 0 bytes: a frame holds one BaseMessage");
  if (n > r->max)
    return reader_fail (r, error, MESHARA_ERROR_TOO_LARGE,
                        "frame of %" G_GUINT32_FORMAT " bytes exceeds "
                        "max-frame-size %" G_GSIZE_FORMAT, n, r->max);
  return TRUE;
}

/* Room for need bytes: grow with what has arrived (doubling, so a frame
 * fed in small pieces costs few reallocs) but never past the frame. */
static void
ensure_capacity (MeshFrameReader *r, gsize need)
{
  gsize cap;

  if (need <= r->body_cap)
    return;
  cap = MAX (r->body_cap * 2, MIN_BUFFER);
  cap = MIN (cap, r->body_len);
  cap = MAX (cap, need);
  r->body = g_realloc (r->body, cap);
  r->body_cap = cap;
}

static void
frame_done (MeshFrameReader *r)
{
  r->header_have = 0;
  r->body_have = 0;
  r->body_len = 0;
  if (r->body_cap > MESH_FRAME_KEEP_BUFFER)
    {
      g_clear_pointer (&r->body, g_free);
      r->body_cap = 0;
    }
}

gboolean
mesh_frame_reader_feed (MeshFrameReader *reader, const guint8 *data,
                        gsize len, GError **error)
{
  MeshFrameReader *r = reader;

  g_return_val_if_fail (r != NULL, FALSE);
  g_return_val_if_fail (data != NULL || len == 0, FALSE);
  g_return_val_if_fail (!r->feeding, FALSE);

  if (r->failure)
    {
      if (error)
        *error = g_error_copy (r->failure);
      return FALSE;
    }

  r->feeding = TRUE;
  while (len > 0)
    {
      gsize take;

      if (r->header_have == 0 && len >= MESH_FRAME_HEADER_LEN)
        {
          /* Fast path: frames that lie whole in data go out without a
           * copy. */
          guint32 n = mesh_frame_read_header (data);

          if (!check_length (r, n, error))
            goto failed;
          data += MESH_FRAME_HEADER_LEN;
          len -= MESH_FRAME_HEADER_LEN;
          if (len >= n)
            {
              r->func (data, n, r->user_data);
              data += n;
              len -= n;
              continue;
            }
          memcpy (r->header, data - MESH_FRAME_HEADER_LEN, MESH_FRAME_HEADER_LEN);
          r->header_have = MESH_FRAME_HEADER_LEN;
          r->body_len = n;
        }
      else if (r->header_have < MESH_FRAME_HEADER_LEN)
        {
          take = MIN (MESH_FRAME_HEADER_LEN - r->header_have, len);
          memcpy (r->header + r->header_have, data, take);
          r->header_have += take;
          data += take;
          len -= take;
          if (r->header_have < MESH_FRAME_HEADER_LEN)
            break;
          r->body_len = mesh_frame_read_header (r->header);
          if (!check_length (r, (guint32) r->body_len, error))
            goto failed;
          continue;
        }

      take = MIN (r->body_len - r->body_have, len);
      if (take == 0)
        break;          /* the input ended right after a header */
      ensure_capacity (r, r->body_have + take);
      memcpy (r->body + r->body_have, data, take);
      r->body_have += take;
      data += take;
      len -= take;
      if (r->body_have == r->body_len)
        {
          r->func (r->body, r->body_len, r->user_data);
          frame_done (r);
        }
    }
  r->feeding = FALSE;
  return TRUE;

failed:
  r->feeding = FALSE;
  return FALSE;
}

gsize
mesh_frame_reader_buffered (const MeshFrameReader *reader)
{
  g_return_val_if_fail (reader != NULL, 0);
  return reader->header_have + reader->body_have;
}

gsize
mesh_frame_reader_allocated (const MeshFrameReader *reader)
{
  g_return_val_if_fail (reader != NULL, 0);
  return reader->body_cap;
}

gboolean
mesh_frame_reader_failed (const MeshFrameReader *reader)
{
  g_return_val_if_fail (reader != NULL, TRUE);
  return reader->failure != NULL;
}

gsize
mesh_frame_reader_max_frame_size (const MeshFrameReader *reader)
{
  g_return_val_if_fail (reader != NULL, 0);
  return reader->max;
}
