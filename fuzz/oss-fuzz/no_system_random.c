/* Linked into the OSS-Fuzz targets in place of GnuTLS.  The layers they
 * link use GnuTLS for one thing only, gnutls_rnd() behind
 * mesh_random_system(), and the targets never call that: every random
 * byte they use comes from a seeded MeshRandomFunc, so that an input
 * replays exactly.  Should it ever run, the abort shows where.
 *
 * Leaving GnuTLS out keeps the targets statically linked, as the OSS-Fuzz
 * runners need: a static GnuTLS would need a static p11-kit, which Ubuntu
 * does not ship. */
#include <stddef.h>
#include <stdlib.h>
#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>

int
gnutls_rnd (gnutls_rnd_level_t level, void *data, size_t len)
{
  (void) level;
  (void) data;
  (void) len;
  abort ();
}
