#include "config.h"

#include "crypto/util.h"

#include <string.h>
#include <stdlib.h>
#include <glib.h>
#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>
#include <meshara/meshara.h>

/* The error domain lives in the lowest layer so that every layer library,
 * also when linked on its own into tests and fuzzers, reports errors in it. */
G_DEFINE_QUARK (meshara-error-quark, meshara_error)

void
mesh_random_system (void *user_data, uint8_t *buf, size_t n)
{
  (void) user_data;
  if (gnutls_rnd (GNUTLS_RND_KEY, buf, n) != 0)
    g_error ("system random generator failed; refusing to continue");
}

void
mesh_wipe (void *p, size_t n)
{
  if (p == NULL || n == 0)
    return;
#ifdef HAVE_EXPLICIT_BZERO
  explicit_bzero (p, n);
#else
  volatile uint8_t *v = p;
  while (n--)
    *v++ = 0;
#endif
}

bool
mesh_ct_equal (const void *a, const void *b, size_t n)
{
  const volatile uint8_t *x = a, *y = b;
  uint8_t d = 0;
  for (size_t i = 0; i < n; i++)
    d |= x[i] ^ y[i];
  return d == 0;
}

bool
mesh_ct_is_zero (const void *p, size_t n)
{
  const volatile uint8_t *x = p;
  uint8_t d = 0;
  for (size_t i = 0; i < n; i++)
    d |= x[i];
  return d == 0;
}
