#include "config.h"

#include <meshara/meshara.h>

const char *
meshara_version_string (void)
{
  return PACKAGE_VERSION;
}

G_DEFINE_QUARK (meshara-error-quark, meshara_error)
