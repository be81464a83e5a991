#ifndef MESHARA_VERSION_H
#define MESHARA_VERSION_H

#if !defined(MESHARA_MESHARA_H) && !defined(MESHARA_COMPILATION)
#error "Only <meshara/meshara.h> can be included directly."
#endif

#include <glib.h>

G_BEGIN_DECLS

/* MESHARA_API marks the symbols of the public ABI; the library is built
 * with -fvisibility=hidden, so anything without it stays internal. */
#if defined(MESHARA_COMPILATION) && defined(__GNUC__)
#define MESHARA_API __attribute__((visibility("default")))
#else
#define MESHARA_API
#endif

/**
 * meshara_version_string:
 *
 * Returns: (transfer none): the version of the library loaded at run time,
 *   such as "0.1.0".
 */
MESHARA_API const char *meshara_version_string (void);

G_END_DECLS

#endif
