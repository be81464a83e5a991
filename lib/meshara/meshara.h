/* libmeshara: decentralized, end-to-end encrypted messaging over a TLS mesh.
 *
 * This is the one header applications include: <meshara/meshara.h>.
 * Every exported symbol is marked MESHARA_API; nothing else is visible.
 */
#ifndef MESHARA_MESHARA_H
#define MESHARA_MESHARA_H

#include <meshara/meshara-version.h>
#include <meshara/meshara-error.h>
#include <meshara/meshara-identity.h>
#include <meshara/meshara-node.h>
#include <meshara/meshara-update.h>

#endif
