#include "config.h"

#include <meshara/meshara.h>

const char *
meshara_version_string (void)
{
  return PACKAGE_VERSION;
}
