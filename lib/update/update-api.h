/* What the public update API (update-api.c) shares with the rest of the
 * library. */
#ifndef MESH_UPDATE_API_H
#define MESH_UPDATE_API_H

#include <meshara/meshara.h>

#include "update/trust.h"

/* The trust store inside a public one; NULL for NULL.  (transfer none) */
const MeshTrustStore *mesh_trust_store_of (MesharaTrustStore *store);

#endif
