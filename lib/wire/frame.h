/* Frames on a link: a 4-byte big-endian length, then that many bytes (one
 * encoded BaseMessage).  The reader takes a byte stream in pieces of any
 * size and hands out whole frames. */
#ifndef MESH_WIRE_FRAME_H
#define MESH_WIRE_FRAME_H

#include <stddef.h>
#include <stdint.h>
#include <glib.h>

#define MESH_FRAME_HEADER_LEN 4
/* Default max-frame-size: a frame body (the BaseMessage) may have up to
 * this many bytes. */
#define MESH_FRAME_MAX_DEFAULT (16u * 1024 * 1024)
/* A reader keeps a body buffer up to this size between frames; larger
 * ones are freed once their frame is delivered, so an idle link holds
 * little memory. */
#define MESH_FRAME_KEEP_BUFFER (64u * 1024)

typedef struct _MeshFrameReader MeshFrameReader;

/* Receives one complete frame body (without the header).  frame is valid
 * only during the call: it points into the data passed to feed() when the
 * frame arrived whole, else into the reader's buffer.  The function must
 * not feed or free the reader. */
typedef void (*MeshFrameFunc) (const guint8 *frame, gsize len, gpointer user_data);

/* A reader that accepts frames of 1 to max_frame_size bytes (at most
 * G_MAXUINT32) and passes each to func.  Free with
 * mesh_frame_reader_free(). */
MeshFrameReader *mesh_frame_reader_new (gsize max_frame_size, MeshFrameFunc func,
                                        gpointer user_data);

void mesh_frame_reader_free (MeshFrameReader *reader);

/* Consume len bytes of the stream, calling func for every frame they
 * complete, in order.  A header announcing 0 bytes (MESHARA_ERROR_MALFORMED)
 * or more than max_frame_size (MESHARA_ERROR_TOO_LARGE) fails the reader
 * as soon as its 4 bytes are in, before any body byte is stored; frames
 * completed earlier in the same call have been delivered.  A failed
 * reader rejects all further input with the same error. */
gboolean mesh_frame_reader_feed (MeshFrameReader *reader, const guint8 *data,
                                 gsize len, GError **error);

/* Bytes of an incomplete frame held (header and body so far). */
gsize mesh_frame_reader_buffered (const MeshFrameReader *reader);

/* Bytes of memory allocated for buffering.  It grows with the bytes
 * received, not with the length a header announces. */
gsize mesh_frame_reader_allocated (const MeshFrameReader *reader);

gboolean mesh_frame_reader_failed (const MeshFrameReader *reader);

gsize mesh_frame_reader_max_frame_size (const MeshFrameReader *reader);

/* Write the header of a frame of len bytes. */
static inline void
mesh_frame_write_header (guint8 out[MESH_FRAME_HEADER_LEN], guint32 len)
{
  out[0] = (guint8) (len >> 24);
  out[1] = (guint8) (len >> 16);
  out[2] = (guint8) (len >> 8);
  out[3] = (guint8) len;
}

static inline guint32
mesh_frame_read_header (const guint8 in[MESH_FRAME_HEADER_LEN])
{
  return (guint32) in[0] << 24 | (guint32) in[1] << 16
         | (guint32) in[2] << 8 | (guint32) in[3];
}

#endif
