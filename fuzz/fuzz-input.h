/* Helpers shared by the fuzz targets that read a structured input: a
 * cursor that hands out bytes and integers (zeros once the input is used
 * up, so that every input is a valid program), and the check that a
 * failure was reported the way the library promises. */
#ifndef MESH_FUZZ_INPUT_H
#define MESH_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include <meshara/meshara.h>

typedef struct {
  const uint8_t *p;
  size_t n;
} MeshFuzzInput;

static inline void
mesh_fuzz_input_init (MeshFuzzInput *in, const uint8_t *data, size_t size)
{
  in->p = data;
  in->n = size;
}

static inline uint8_t
mesh_fuzz_u8 (MeshFuzzInput *in)
{
  uint8_t v;

  if (in->n == 0)
    return 0;
  v = in->p[0];
  in->p++;
  in->n--;
  return v;
}

static inline uint16_t
mesh_fuzz_u16 (MeshFuzzInput *in)
{
  uint16_t hi = mesh_fuzz_u8 (in);

  return (uint16_t) (hi << 8 | mesh_fuzz_u8 (in));
}

static inline uint64_t
mesh_fuzz_u64 (MeshFuzzInput *in)
{
  uint64_t v = 0;

  for (int i = 0; i < 8; i++)
    v = v << 8 | mesh_fuzz_u8 (in);
  return v;
}

/* Up to want bytes at *out (pointing into the input); returns how many. */
static inline size_t
mesh_fuzz_bytes (MeshFuzzInput *in, size_t want, const uint8_t **out)
{
  size_t n = want < in->n ? want : in->n;

  *out = in->p;
  in->p += n;
  in->n -= n;
  return n;
}

/* Exactly n bytes into out, zero-filled past the end of the input. */
static inline void
mesh_fuzz_fill (MeshFuzzInput *in, uint8_t *out, size_t n)
{
  const uint8_t *p;
  size_t got = mesh_fuzz_bytes (in, n, &p);

  memcpy (out, p, got);
  memset (out + got, 0, n - got);
}

/* Every failure must come as a MESHARA_ERROR with a message. */
static inline void
mesh_fuzz_check_error (const GError *error, const char *what)
{
  if (error == NULL || error->domain != MESHARA_ERROR
      || error->message == NULL || error->message[0] == '\0')
    {
      fprintf (stderr, "%s failed without a MESHARA_ERROR message\n", what);
      abort ();
    }
}

/* The failure must carry this code. */
static inline void
mesh_fuzz_expect_code (const GError *error, int code, const char *what)
{
  mesh_fuzz_check_error (error, what);
  if (error->code != code)
    {
      fprintf (stderr, "%s: error code %d, expected %d: %s\n",
               what, error->code, code, error->message);
      abort ();
    }
}

#endif
