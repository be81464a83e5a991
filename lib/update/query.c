#include "config.h"

#include "update/query.h"

#include <string.h>
#include <meshara/meshara.h>

GBytes *
mesh_update_query_latest (const guint8 query_id[MESH_WIRE_QUERY_ID_LEN],
                          const char *name, guint64 installed_version,
                          GError **error)
{
  MeshWireUpdateQuery uq = MESHARA__V1__UPDATE_QUERY__INIT;
  MeshWireQuery q = MESHARA__V1__QUERY_MESSAGE__INIT;
  g_autoptr (GBytes) body = NULL;

  g_return_val_if_fail (query_id != NULL && name != NULL, NULL);

  uq.name = (char *) name;
  uq.installed_version = installed_version;
  if (!mesh_wire_validate (&uq.base, error))
    return NULL;
  body = mesh_wire_encode (&uq.base);
  q.query_id.data = (guint8 *) query_id;
  q.query_id.len = MESH_WIRE_QUERY_ID_LEN;
  q.query_type = (char *) MESH_WIRE_QUERY_UPDATE_LATEST;
  q.body.data = (guint8 *) g_bytes_get_data (body, &q.body.len);
  return mesh_wire_encode (&q.base);
}

GBytes *
mesh_update_query_manifest (const guint8 query_id[MESH_WIRE_QUERY_ID_LEN],
                            const guint8 manifest_id[MESH_SHA256_LEN])
{
  MeshWireQuery q = MESHARA__V1__QUERY_MESSAGE__INIT;

  g_return_val_if_fail (query_id != NULL && manifest_id != NULL, NULL);

  q.query_id.data = (guint8 *) query_id;
  q.query_id.len = MESH_WIRE_QUERY_ID_LEN;
  q.query_type = (char *) MESH_WIRE_QUERY_UPDATE_MANIFEST;
  q.body.data = (guint8 *) manifest_id;
  q.body.len = MESH_SHA256_LEN;
  return mesh_wire_encode (&q.base);
}

static GBytes *
respond (const MeshWireQuery *q, Meshara__V1__ResponseCode code,
         GBytes *body, const char *message)
{
  MeshWireResponse r = MESHARA__V1__RESPONSE_MESSAGE__INIT;
  char msg[MESH_WIRE_MAX_RESPONSE_MESSAGE + 1];

  r.query_id = q->query_id;
  r.code = code;
  if (body)
    r.body.data = (guint8 *) g_bytes_get_data (body, &r.body.len);
  /* The limit is in bytes; cut at a character boundary. */
  g_utf8_strncpy (msg, message ? message : "", 64);
  r.message = msg;
  return mesh_wire_encode (&r.base);
}

GBytes *
mesh_update_query_answer (const MeshWireQuery *q, GPtrArray *manifests,
                          gboolean authorized)
{
  g_autoptr (MeshWireUpdateQuery) uq = NULL;
  GBytes *best = NULL;
  guint64 best_version = 0;
  gboolean latest;

  g_return_val_if_fail (q != NULL && manifests != NULL, NULL);

  latest = g_strcmp0 (q->query_type, MESH_WIRE_QUERY_UPDATE_LATEST) == 0;
  if (!latest && g_strcmp0 (q->query_type, MESH_WIRE_QUERY_UPDATE_MANIFEST) != 0)
    return respond (q, MESH_WIRE_RESPONSE_ERROR, NULL, "unknown query type");
  if (!authorized)
    return respond (q, MESH_WIRE_RESPONSE_UNAUTHORIZED, NULL,
                    "this authority does not answer you");
  if (latest)
    {
      uq = mesh_wire_decode_update_query (q->body.data, q->body.len, NULL);
      if (uq == NULL)
        return respond (q, MESH_WIRE_RESPONSE_ERROR, NULL,
                        "malformed update-latest query");
    }
  else if (q->body.len != MESH_SHA256_LEN)
    return respond (q, MESH_WIRE_RESPONSE_ERROR, NULL,
                    "update-manifest query body is not a 32-byte manifest ID");

  for (guint i = 0; i < manifests->len; i++)
    {
      GBytes *b = g_ptr_array_index (manifests, i);
      gsize len;
      const guint8 *p = g_bytes_get_data (b, &len);
      g_autoptr (MeshWireUpdateManifest) m = mesh_update_manifest_parse (p, len,
                                                                         NULL);

      if (m == NULL)
        continue;
      if (latest)
        {
          if (strcmp (m->name, uq->name) == 0
              && m->version > uq->installed_version
              && m->version > best_version)
            {
              best = b;
              best_version = m->version;
            }
        }
      else
        {
          guint8 id[MESH_SHA256_LEN];
          mesh_update_manifest_digest (m, id);
          if (memcmp (id, q->body.data, MESH_SHA256_LEN) == 0)
            {
              best = b;
              break;
            }
        }
    }
  if (best == NULL)
    return respond (q, MESH_WIRE_RESPONSE_NOT_FOUND, NULL,
                    latest ? "no newer update of that name" : "no such manifest");
  return respond (q, MESH_WIRE_RESPONSE_OK, best, NULL);
}

MeshWireUpdateManifest *
mesh_update_query_result (const MeshWireResponse *r,
                          const guint8 query_id[MESH_WIRE_QUERY_ID_LEN],
                          GError **error)
{
  MeshWireUpdateManifest *m;
  g_autoptr (GError) local = NULL;
  const char *why;

  g_return_val_if_fail (r != NULL && query_id != NULL, NULL);

  if (r->query_id.len != MESH_WIRE_QUERY_ID_LEN
      || memcmp (r->query_id.data, query_id, MESH_WIRE_QUERY_ID_LEN) != 0)
    {
      g_set_error_literal (error, MESHARA_ERROR, MESHARA_ERROR_INVALID,
                           "update query response answers another query");
      return NULL;
    }
  why = r->message && *r->message ? r->message : "no reason given";
  switch (r->code)
    {
    case MESH_WIRE_RESPONSE_OK:
      break;
    case MESH_WIRE_RESPONSE_NOT_FOUND:
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_NOT_FOUND,
                   "the authority has no such update: %s", why);
      return NULL;
    case MESH_WIRE_RESPONSE_UNAUTHORIZED:
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_PERMISSION,
                   "the authority refused the query: %s", why);
      return NULL;
    default:
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_FAILED,
                   "the authority could not answer: %s", why);
      return NULL;
    }
  m = mesh_update_manifest_parse (r->body.data, r->body.len, &local);
  if (m == NULL)
    g_set_error (error, MESHARA_ERROR, local->code,
                 "update query response: %s", local->message);
  return m;
}
