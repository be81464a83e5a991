/* Helpers shared by the unit tests. */
#ifndef MESH_TESTUTIL_H
#define MESH_TESTUTIL_H

#include <glib.h>
#include <stdint.h>
#include <string.h>

/* Decode a hex string into a newly allocated buffer; *len gets its size. */
static inline guint8 *
test_unhex (const char *hex, gsize *len)
{
  gsize n = strlen (hex);
  g_assert_cmpuint (n % 2, ==, 0);
  guint8 *out = g_malloc (n / 2 + 1);
  for (gsize i = 0; i < n / 2; i++)
    {
      int hi = g_ascii_xdigit_value (hex[2 * i]);
      int lo = g_ascii_xdigit_value (hex[2 * i + 1]);
      g_assert_true (hi >= 0 && lo >= 0);
      out[i] = (guint8) (hi << 4 | lo);
    }
  if (len)
    *len = n / 2;
  return out;
}

/* Decode hex into a fixed-size buffer, asserting the size. */
static inline void
test_unhex_into (const char *hex, guint8 *out, gsize expect)
{
  gsize n;
  guint8 *b = test_unhex (hex, &n);
  g_assert_cmpuint (n, ==, expect);
  memcpy (out, b, n);
  g_free (b);
}

/* Deterministic randomness for tests: a counter-mode stream from a seed. */
typedef struct {
  guint64 state;
} TestRng;

static inline void
test_rng (void *user_data, uint8_t *buf, size_t n)
{
  TestRng *r = user_data;
  for (size_t i = 0; i < n; i++)
    {
      /* splitmix64 */
      guint64 z = (r->state += 0x9e3779b97f4a7c15ULL);
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
      buf[i] = (uint8_t) (z ^ (z >> 31));
    }
}

#endif
