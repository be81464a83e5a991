#include "config.h"

#include "wire/codec.h"
#include "crypto/hash.h"

#include <string.h>
#include <meshara/meshara.h>

#define D(name) (&meshara__v1__##name##__descriptor)

/* Enough for every message of the schema (the largest has 8 fields). */
#define SCAN_MAX_FIELDS 32
/* Repeated fields without an entry in repeated_limits[]. */
#define DEFAULT_REPEATED_LIMIT 64

/* ---------------------------------------------------------------------- */
/* Errors */

/* Where a field sits, rendered lazily ("Nodes.nodes[2].addresses[0]"),
 * so that validating thousands of entries formats nothing. */
typedef struct Where Where;
struct Where {
  const Where *parent;
  const char *name;
  gssize index;           /* -1 when not an element of a repeated field */
};

#define WHERE_TOP(n) { NULL, (n), -1 }

static void
where_append (GString *s, const Where *w)
{
  if (w->parent)
    {
      where_append (s, w->parent);
      g_string_append_c (s, '.');
    }
  g_string_append (s, w->name);
  if (w->index >= 0)
    g_string_append_printf (s, "[%" G_GSSIZE_FORMAT "]", w->index);
}

static gboolean
fail_at (GError **error, gint code, const Where *w, const char *field,
         const char *format, ...) G_GNUC_PRINTF (5, 6);

static gboolean
fail_at (GError **error, gint code, const Where *w, const char *field,
         const char *format, ...)
{
  GString *s;
  va_list ap;

  if (error == NULL)
    return FALSE;
  s = g_string_new (NULL);
  where_append (s, w);
  if (field)
    {
      g_string_append_c (s, '.');
      g_string_append (s, field);
    }
  g_string_append (s, ": ");
  va_start (ap, format);
  g_string_append_vprintf (s, format, ap);
  va_end (ap);
  g_set_error_literal (error, MESHARA_ERROR, code, s->str);
  g_string_free (s, TRUE);
  return FALSE;
}

/* ---------------------------------------------------------------------- */
/* Field checks shared by the validators */

static gboolean
check_len (const Where *w, const char *field, const ProtobufCBinaryData *b,
           gsize want, GError **error)
{
  if (b->len == want)
    return TRUE;
  return fail_at (error, MESHARA_ERROR_INVALID, w, field,
                  "%" G_GSIZE_FORMAT " bytes, expected %" G_GSIZE_FORMAT,
                  b->len, want);
}

static gboolean
check_len_opt (const Where *w, const char *field, const ProtobufCBinaryData *b,
               gsize want, GError **error)
{
  if (b->len == 0 || b->len == want)
    return TRUE;
  return fail_at (error, MESHARA_ERROR_INVALID, w, field,
                  "%" G_GSIZE_FORMAT " bytes, expected 0 or %" G_GSIZE_FORMAT,
                  b->len, want);
}

static gboolean
check_len_range (const Where *w, const char *field, const ProtobufCBinaryData *b,
                 gsize min, gsize max, GError **error)
{
  if (b->len > max)
    return fail_at (error, MESHARA_ERROR_TOO_LARGE, w, field,
                    "%" G_GSIZE_FORMAT " bytes exceeds the limit of %"
                    G_GSIZE_FORMAT, b->len, max);
  if (b->len < min)
    return fail_at (error, MESHARA_ERROR_INVALID, w, field,
                    "%" G_GSIZE_FORMAT " bytes, expected at least %"
                    G_GSIZE_FORMAT, b->len, min);
  return TRUE;
}

static gboolean
check_count (const Where *w, const char *field, gsize n, gsize min, gsize max,
             GError **error)
{
  if (n > max)
    return fail_at (error, MESHARA_ERROR_TOO_LARGE, w, field,
                    "%" G_GSIZE_FORMAT " entries exceeds the limit of %"
                    G_GSIZE_FORMAT, n, max);
  if (n < min)
    return fail_at (error, MESHARA_ERROR_INVALID, w, field,
                    "%" G_GSIZE_FORMAT " entries, expected at least %"
                    G_GSIZE_FORMAT, n, min);
  return TRUE;
}

typedef enum {
  TEXT,       /* any UTF-8 */
  TOKEN,      /* printable ASCII: it ends up in logs and addresses */
} StringKind;

static gboolean
check_string (const Where *w, const char *field, const char *s, gsize min,
              gsize max, StringKind kind, GError **error)
{
  gsize n = s ? strlen (s) : 0;

  if (n > max)
    return fail_at (error, MESHARA_ERROR_TOO_LARGE, w, field,
                    "%" G_GSIZE_FORMAT " bytes exceeds the limit of %"
                    G_GSIZE_FORMAT, n, max);
  if (n < min)
    return fail_at (error, MESHARA_ERROR_INVALID, w, field,
                    n == 0 ? "missing, expected %" G_GSIZE_FORMAT " to %"
                             G_GSIZE_FORMAT " bytes"
                           : "too short, expected %" G_GSIZE_FORMAT " to %"
                             G_GSIZE_FORMAT " bytes", min, max);
  if (kind == TOKEN)
    {
      for (gsize i = 0; i < n; i++)
        if ((guchar) s[i] < 0x20 || (guchar) s[i] > 0x7e)
          return fail_at (error, MESHARA_ERROR_INVALID, w, field,
                          "byte 0x%02x at offset %" G_GSIZE_FORMAT
                          " is not printable ASCII", (guchar) s[i], i);
    }
  else if (n > 0 && !g_utf8_validate_len (s, n, NULL))
    return fail_at (error, MESHARA_ERROR_INVALID, w, field, "not valid UTF-8");
  return TRUE;
}

static gboolean
check_addresses (const Where *w, const char *field, char **addrs, gsize n,
                 GError **error)
{
  if (!check_count (w, field, n, 0, MESH_WIRE_MAX_ADDRESSES, error))
    return FALSE;
  for (gsize i = 0; i < n; i++)
    {
      Where e = { w, field, (gssize) i };
      if (!check_string (&e, NULL, addrs[i], 1, MESH_WIRE_MAX_ADDRESS_LEN,
                         TOKEN, error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
check_id_list (const Where *w, const char *field, const ProtobufCBinaryData *ids,
               gsize n, gsize max, GError **error)
{
  if (!check_count (w, field, n, 0, max, error))
    return FALSE;
  for (gsize i = 0; i < n; i++)
    {
      Where e = { w, field, (gssize) i };
      if (!check_len (&e, NULL, &ids[i], MESH_WIRE_ID_LEN, error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
check_authority_signatures_min (const Where *w, MeshWireAuthoritySignature **sigs,
                                gsize n, gsize min, GError **error)
{
  if (!check_count (w, "signatures", n, min, MESH_WIRE_MAX_AUTHORITY_SIGS, error))
    return FALSE;
  for (gsize i = 0; i < n; i++)
    {
      Where e = { w, "signatures", (gssize) i };
      if (!check_len (&e, "public_key", &sigs[i]->public_key,
                      MESH_WIRE_KEY_LEN, error)
          || !check_len (&e, "signature", &sigs[i]->signature,
                         MESH_WIRE_SIG_LEN, error))
        return FALSE;
      /* One authority must not count twice towards k of n. */
      for (gsize j = 0; j < i; j++)
        if (memcmp (sigs[j]->public_key.data, sigs[i]->public_key.data,
                    MESH_WIRE_KEY_LEN) == 0)
          return fail_at (error, MESHARA_ERROR_INVALID, &e, "public_key",
                          "same authority as signatures[%" G_GSIZE_FORMAT "]",
                          j);
    }
  return TRUE;
}

static gboolean
check_authority_signatures (const Where *w, MeshWireAuthoritySignature **sigs,
                            gsize n, GError **error)
{
  return check_authority_signatures_min (w, sigs, n, 1, error);
}

/* size bytes in chunks of chunk_size, with one 32-byte hash per chunk. */
static gboolean
check_chunk_list (const Where *w, guint64 size, guint32 chunk_size,
                  const ProtobufCBinaryData *hashes, gsize n_hashes,
                  GError **error)
{
  guint64 chunks;

  if (size == 0)
    return fail_at (error, MESHARA_ERROR_INVALID, w, "size", "missing (0)");
  if (size > MESH_WIRE_MAX_UPDATE_SIZE)
    return fail_at (error, MESHARA_ERROR_TOO_LARGE, w, "size",
                    "%" G_GUINT64_FORMAT " bytes exceeds the limit of %u",
                    size, MESH_WIRE_MAX_UPDATE_SIZE);
  if (chunk_size < MESH_WIRE_MIN_CHUNK_SIZE
      || chunk_size > MESH_WIRE_MAX_CHUNK_SIZE)
    return fail_at (error, MESHARA_ERROR_INVALID, w, "chunk_size",
                    "%" G_GUINT32_FORMAT ", expected %d to %d",
                    chunk_size, MESH_WIRE_MIN_CHUNK_SIZE,
                    MESH_WIRE_MAX_CHUNK_SIZE);
  chunks = (size + chunk_size - 1) / chunk_size;
  if (chunks > MESH_WIRE_MAX_UPDATE_CHUNKS)
    return fail_at (error, MESHARA_ERROR_TOO_LARGE, w, "chunk_size",
                    "%" G_GUINT64_FORMAT " bytes in chunks of %" G_GUINT32_FORMAT
                    " make %" G_GUINT64_FORMAT " chunks, limit %d",
                    size, chunk_size, chunks, MESH_WIRE_MAX_UPDATE_CHUNKS);
  if (n_hashes != chunks)
    return fail_at (error, MESHARA_ERROR_INVALID, w, "chunk_hashes",
                    "%" G_GSIZE_FORMAT " entries, expected %" G_GUINT64_FORMAT
                    " for %" G_GUINT64_FORMAT " bytes in chunks of %"
                    G_GUINT32_FORMAT, n_hashes, chunks, size, chunk_size);
  return check_id_list (w, "chunk_hashes", hashes, n_hashes,
                        MESH_WIRE_MAX_UPDATE_CHUNKS, error);
}

/* ---------------------------------------------------------------------- */
/* Validators, one per message */

static gboolean
validate_routing (const MeshWireRoutingInfo *r, GError **error)
{
  const Where top = WHERE_TOP ("BaseMessage");
  const Where w = { &top, "routing", -1 };

  switch (r->route_type)
    {
    case MESH_WIRE_ROUTE_DIRECT:
    case MESH_WIRE_ROUTE_ROUTED:
      if (!check_len (&w, "destination", &r->destination, MESH_WIRE_ID_LEN, error))
        return FALSE;
      break;
    case MESH_WIRE_ROUTE_FLOOD:
      if (r->destination.len != 0)
        return fail_at (error, MESHARA_ERROR_INVALID, &w, "destination",
                        "%" G_GSIZE_FORMAT " bytes, expected 0 for FLOOD",
                        r->destination.len);
      break;
    case MESHARA__V1__ROUTE_TYPE__ROUTE_TYPE_UNSPECIFIED:
      return fail_at (error, MESHARA_ERROR_INVALID, &w, "route_type",
                      "missing (UNSPECIFIED)");
    default:
      return fail_at (error, MESHARA_ERROR_INVALID, &w, "route_type",
                      "%d is not a route type", (int) r->route_type);
    }
  if (r->max_hops < 1 || r->max_hops > MESH_WIRE_MAX_HOPS)
    return fail_at (error, MESHARA_ERROR_INVALID, &w, "max_hops",
                    "%" G_GUINT32_FORMAT ", expected 1 to %d",
                    r->max_hops, MESH_WIRE_MAX_HOPS);
  if (r->hop_count > r->max_hops)
    return fail_at (error, MESHARA_ERROR_INVALID, &w, "hop_count",
                    "%" G_GUINT32_FORMAT " exceeds max_hops %" G_GUINT32_FORMAT,
                    r->hop_count, r->max_hops);
  return check_len_opt (&w, "next_hop", &r->next_hop, MESH_WIRE_ID_LEN, error);
}

static gboolean
validate_private (const ProtobufCMessage *msg, GError **error)
{
  const MeshWirePrivateMessage *m = (const MeshWirePrivateMessage *) msg;
  const Where w = WHERE_TOP ("PrivateMessagePayload");

  return check_len (&w, "session_id", &m->session_id, MESH_WIRE_SESSION_ID_LEN, error)
         && check_len_opt (&w, "session_init", &m->session_init,
                           MESH_WIRE_SESSION_INIT_LEN, error)
         && check_len_range (&w, "ciphertext", &m->ciphertext,
                             MESH_WIRE_MIN_CIPHERTEXT, MESH_WIRE_MAX_PAYLOAD, error);
}

static gboolean
validate_private_content (const ProtobufCMessage *msg, GError **error)
{
  const MeshWirePrivateContent *m = (const MeshWirePrivateContent *) msg;
  const Where w = WHERE_TOP ("PrivateContent");
  const MeshWireTypeInfo *info;

  switch (m->type)
    {
    case MESH_WIRE_TYPE_PRIVATE:
    case MESH_WIRE_TYPE_QUERY:
    case MESH_WIRE_TYPE_RESPONSE:
      return TRUE;
    case MESH_WIRE_TYPE_UNSPECIFIED:
      return fail_at (error, MESHARA_ERROR_INVALID, &w, "type",
                      "missing (UNSPECIFIED)");
    default:
      info = mesh_wire_type_info (m->type);
      if (info == NULL)
        return fail_at (error, MESHARA_ERROR_UNKNOWN_TYPE, &w, "type",
                        "%d is not a message type of protocol version %d",
                        (int) m->type, MESH_WIRE_PROTOCOL_VERSION);
      return fail_at (error, MESHARA_ERROR_INVALID, &w, "type",
                      "%s is not carried in a private session", info->name);
    }
}

static gboolean
validate_ack (const ProtobufCMessage *msg, GError **error)
{
  const MeshWireAck *m = (const MeshWireAck *) msg;
  const Where w = WHERE_TOP ("Acknowledgment");

  if (!check_len (&w, "acked_message_id", &m->acked_message_id, MESH_WIRE_ID_LEN, error)
      || !check_len (&w, "session_id", &m->session_id, MESH_WIRE_SESSION_ID_LEN, error)
      || !check_len_opt (&w, "tag", &m->tag, MESH_WIRE_TAG_LEN, error))
    return FALSE;
  if (m->status < MESH_WIRE_ACK_DELIVERED || m->status > MESH_WIRE_ACK_REJECTED)
    return fail_at (error, MESHARA_ERROR_INVALID, &w, "status",
                    m->status == 0 ? "missing (UNSPECIFIED)"
                                   : "%d is not an acknowledgment status",
                    (int) m->status);
  return TRUE;
}

static gboolean
validate_broadcast (const ProtobufCMessage *msg, GError **error)
{
  const MeshWireBroadcast *m = (const MeshWireBroadcast *) msg;
  const Where w = WHERE_TOP ("BroadcastPayload");

  if (!check_len_range (&w, "content", &m->content, 0, MESH_WIRE_MAX_PAYLOAD, error)
      || !check_string (&w, "content_type", m->content_type, 0,
                        MESH_WIRE_MAX_CONTENT_TYPE, TOKEN, error)
      || !check_count (&w, "metadata", m->n_metadata, 0, MESH_WIRE_MAX_METADATA, error))
    return FALSE;
  for (gsize i = 0; i < m->n_metadata; i++)
    {
      const Where e = { &w, "metadata", (gssize) i };
      const MeshWireMetadataEntry *md = m->metadata[i];

      if (!check_string (&e, "key", md->key, 1, MESH_WIRE_MAX_METADATA_KEY,
                         TOKEN, error)
          || !check_string (&e, "value", md->value, 0,
                            MESH_WIRE_MAX_METADATA_VALUE, TEXT, error))
        return FALSE;
      /* A map with a key twice means different things to different
         decoders (first or last wins); refuse it. */
      for (gsize j = 0; j < i; j++)
        if (strcmp (m->metadata[j]->key, md->key) == 0)
          return fail_at (error, MESHARA_ERROR_INVALID, &e, "key",
                          "\"%s\" repeats metadata[%" G_GSIZE_FORMAT "]",
                          md->key, j);
    }
  return TRUE;
}

/* The fields an update package and a manifest share: what the update
 * is, its version and minimum version, its label, changelog and data
 * checksum. */
static gboolean
check_update_fields (const Where *w, const char *name, uint64_t version,
                     const char *version_label, const char *changelog,
                     const ProtobufCBinaryData *checksum, uint64_t min_version,
                     GError **error)
{
  if (!check_string (w, "name", name, 1, MESH_WIRE_MAX_NAME, TOKEN, error))
    return FALSE;
  if (version == 0)
    return fail_at (error, MESHARA_ERROR_INVALID, w, "version", "missing (0)");
  if (!check_string (w, "version_label", version_label, 0,
                     MESH_WIRE_MAX_VERSION_LABEL, TOKEN, error)
      || !check_string (w, "changelog", changelog, 0,
                        MESH_WIRE_MAX_CHANGELOG, TEXT, error)
      || !check_len (w, "checksum", checksum, MESH_WIRE_ID_LEN, error))
    return FALSE;
  if (min_version > version)
    return fail_at (error, MESHARA_ERROR_INVALID, w, "min_version",
                    "%" G_GUINT64_FORMAT " exceeds version %" G_GUINT64_FORMAT,
                    min_version, version);
  return TRUE;
}

static gboolean
validate_update_package (const ProtobufCMessage *msg, GError **error)
{
  const MeshWireUpdatePackage *m = (const MeshWireUpdatePackage *) msg;
  const Where w = WHERE_TOP ("UpdatePackage");

  if (!check_update_fields (&w, m->name, m->version, m->version_label,
                            m->changelog, &m->checksum, m->min_version, error))
    return FALSE;
  return check_authority_signatures (&w, m->signatures, m->n_signatures, error);
}

static gboolean
validate_update_announcement (const ProtobufCMessage *msg, GError **error)
{
  const MeshWireUpdateAnnouncement *m = (const MeshWireUpdateAnnouncement *) msg;
  const Where w = WHERE_TOP ("UpdateAnnouncement");
  guint64 chunks;

  if (!check_len (&w, "package_id", &m->package_id, MESH_WIRE_ID_LEN, error)
      || !check_string (&w, "name", m->name, 1, MESH_WIRE_MAX_NAME, TOKEN, error))
    return FALSE;
  if (m->version == 0)
    return fail_at (error, MESHARA_ERROR_INVALID, &w, "version", "missing (0)");
  if (!check_string (&w, "version_label", m->version_label, 0,
                     MESH_WIRE_MAX_VERSION_LABEL, TOKEN, error))
    return FALSE;
  if (m->size == 0)
    return fail_at (error, MESHARA_ERROR_INVALID, &w, "size", "missing (0)");
  if (m->size > MESH_WIRE_MAX_UPDATE_SIZE)
    return fail_at (error, MESHARA_ERROR_TOO_LARGE, &w, "size",
                    "%" G_GUINT64_FORMAT " bytes exceeds the limit of %u",
                    m->size, MESH_WIRE_MAX_UPDATE_SIZE);
  if (m->chunk_size < MESH_WIRE_MIN_CHUNK_SIZE
      || m->chunk_size > MESH_WIRE_MAX_CHUNK_SIZE)
    return fail_at (error, MESHARA_ERROR_INVALID, &w, "chunk_size",
                    "%" G_GUINT32_FORMAT ", expected %d to %d",
                    m->chunk_size, MESH_WIRE_MIN_CHUNK_SIZE,
                    MESH_WIRE_MAX_CHUNK_SIZE);
  chunks = (m->size + m->chunk_size - 1) / m->chunk_size;
  if (chunks > MESH_WIRE_MAX_UPDATE_CHUNKS)
    return fail_at (error, MESHARA_ERROR_TOO_LARGE, &w, "chunk_size",
                    "%" G_GUINT64_FORMAT " bytes in chunks of %" G_GUINT32_FORMAT
                    " make %" G_GUINT64_FORMAT " chunks, limit %d",
                    m->size, m->chunk_size, chunks, MESH_WIRE_MAX_UPDATE_CHUNKS);
  if (m->n_chunk_hashes != chunks)
    return fail_at (error, MESHARA_ERROR_INVALID, &w, "chunk_hashes",
                    "%" G_GSIZE_FORMAT " entries, expected %" G_GUINT64_FORMAT
                    " for %" G_GUINT64_FORMAT " bytes in chunks of %"
                    G_GUINT32_FORMAT, m->n_chunk_hashes, chunks, m->size,
                    m->chunk_size);
  return check_id_list (&w, "chunk_hashes", m->chunk_hashes, m->n_chunk_hashes,
                        MESH_WIRE_MAX_UPDATE_CHUNKS, error)
         && check_authority_signatures (&w, m->signatures, m->n_signatures, error);
}

static gboolean
validate_update_request (const ProtobufCMessage *msg, GError **error)
{
  const MeshWireUpdateRequest *m = (const MeshWireUpdateRequest *) msg;
  const Where w = WHERE_TOP ("UpdateRequest");

  if (!check_len (&w, "package_id", &m->package_id, MESH_WIRE_ID_LEN, error)
      || !check_count (&w, "chunk_indices", m->n_chunk_indices, 1,
                       MESH_WIRE_MAX_CHUNK_REQUEST, error))
    return FALSE;
  for (gsize i = 0; i < m->n_chunk_indices; i++)
    if (m->chunk_indices[i] >= MESH_WIRE_MAX_UPDATE_CHUNKS)
      {
        const Where e = { &w, "chunk_indices", (gssize) i };
        return fail_at (error, MESHARA_ERROR_INVALID, &e, NULL,
                        "%" G_GUINT32_FORMAT ", expected below %d",
                        m->chunk_indices[i], MESH_WIRE_MAX_UPDATE_CHUNKS);
      }
  return TRUE;
}

static gboolean
validate_update_chunk (const ProtobufCMessage *msg, GError **error)
{
  const MeshWireUpdateChunk *m = (const MeshWireUpdateChunk *) msg;
  const Where w = WHERE_TOP ("UpdateChunk");

  if (!check_len (&w, "package_id", &m->package_id, MESH_WIRE_ID_LEN, error))
    return FALSE;
  if (m->index >= MESH_WIRE_MAX_UPDATE_CHUNKS)
    return fail_at (error, MESHARA_ERROR_INVALID, &w, "index",
                    "%" G_GUINT32_FORMAT ", expected below %d",
                    m->index, MESH_WIRE_MAX_UPDATE_CHUNKS);
  return check_len_range (&w, "data", &m->data, 1, MESH_WIRE_MAX_CHUNK_SIZE, error)
         && check_len (&w, "hash", &m->hash, MESH_WIRE_ID_LEN, error);
}

static gboolean
validate_query (const ProtobufCMessage *msg, GError **error)
{
  const MeshWireQuery *m = (const MeshWireQuery *) msg;
  const Where w = WHERE_TOP ("QueryMessage");

  return check_len (&w, "query_id", &m->query_id, MESH_WIRE_QUERY_ID_LEN, error)
         && check_string (&w, "query_type", m->query_type, 1,
                          MESH_WIRE_MAX_QUERY_TYPE, TOKEN, error);
}

static gboolean
validate_response (const ProtobufCMessage *msg, GError **error)
{
  const MeshWireResponse *m = (const MeshWireResponse *) msg;
  const Where w = WHERE_TOP ("ResponseMessage");

  if (!check_len (&w, "query_id", &m->query_id, MESH_WIRE_QUERY_ID_LEN, error))
    return FALSE;
  if (m->code < MESH_WIRE_RESPONSE_OK || m->code > MESH_WIRE_RESPONSE_UNAUTHORIZED)
    return fail_at (error, MESHARA_ERROR_INVALID, &w, "code",
                    m->code == 0 ? "missing (UNSPECIFIED)"
                                 : "%d is not a response code", (int) m->code);
  return check_string (&w, "message", m->message, 0,
                       MESH_WIRE_MAX_RESPONSE_MESSAGE, TEXT, error);
}

static gboolean
validate_route_advertisement (const ProtobufCMessage *msg, GError **error)
{
  const MeshWireRouteAdvertisement *m = (const MeshWireRouteAdvertisement *) msg;
  const Where w = WHERE_TOP ("RouteAdvertisement");

  if (!check_count (&w, "entries", m->n_entries, 0, MESH_WIRE_MAX_ROUTE_ENTRIES, error))
    return FALSE;
  for (gsize i = 0; i < m->n_entries; i++)
    {
      const Where e = { &w, "entries", (gssize) i };
      const MeshWireRouteEntry *r = m->entries[i];

      if (!check_len (&e, "destination", &r->destination, MESH_WIRE_ID_LEN, error))
        return FALSE;
      if (r->hop_count < 1 || r->hop_count > MESH_WIRE_MAX_HOPS)
        return fail_at (error, MESHARA_ERROR_INVALID, &e, "hop_count",
                        "%" G_GUINT32_FORMAT ", expected 1 to %d",
                        r->hop_count, MESH_WIRE_MAX_HOPS);
    }
  return TRUE;
}

static gboolean
validate_hello (const ProtobufCMessage *msg, GError **error)
{
  const MeshWireHello *m = (const MeshWireHello *) msg;
  const Where w = WHERE_TOP ("Hello");

  if (m->protocol_version == 0)
    return fail_at (error, MESHARA_ERROR_INVALID, &w, "protocol_version",
                    "missing (0)");
  if (!check_len (&w, "bundle", &m->bundle, MESH_WIRE_BUNDLE_LEN, error)
      || !check_addresses (&w, "listen_addresses", m->listen_addresses,
                           m->n_listen_addresses, error)
      || !check_string (&w, "agent", m->agent, 0, MESH_WIRE_MAX_AGENT, TOKEN, error))
    return FALSE;
  if (m->max_frame_size != 0 && m->max_frame_size < MESH_WIRE_MIN_PEER_FRAME_SIZE)
    return fail_at (error, MESHARA_ERROR_INVALID, &w, "max_frame_size",
                    "%" G_GUINT32_FORMAT ", expected 0 or at least %d",
                    m->max_frame_size, MESH_WIRE_MIN_PEER_FRAME_SIZE);
  return TRUE;
}

static gboolean
validate_nothing (const ProtobufCMessage *msg, GError **error)
{
  return TRUE;
}

static gboolean
validate_find_node (const ProtobufCMessage *msg, GError **error)
{
  const MeshWireFindNode *m = (const MeshWireFindNode *) msg;
  const Where w = WHERE_TOP ("FindNode");

  return check_len (&w, "target", &m->target, MESH_WIRE_ID_LEN, error);
}

static gboolean
validate_find_value (const ProtobufCMessage *msg, GError **error)
{
  const MeshWireFindValue *m = (const MeshWireFindValue *) msg;
  const Where w = WHERE_TOP ("FindValue");

  return check_len (&w, "key", &m->key, MESH_WIRE_ID_LEN, error);
}

static gboolean
check_contact_record (const Where *w, const MeshWireContactRecord *r,
                      GError **error)
{
  if (!check_len (w, "node_id", &r->node_id, MESH_WIRE_ID_LEN, error)
      || !check_len (w, "bundle", &r->bundle, MESH_WIRE_BUNDLE_LEN, error)
      || !check_addresses (w, "addresses", r->addresses, r->n_addresses, error))
    return FALSE;
  if (r->timestamp_ms == 0)
    return fail_at (error, MESHARA_ERROR_INVALID, w, "timestamp_ms", "missing (0)");
  if (r->expires_ms <= r->timestamp_ms)
    return fail_at (error, MESHARA_ERROR_INVALID, w, "expires_ms",
                    "%" G_GUINT64_FORMAT ", expected after timestamp_ms %"
                    G_GUINT64_FORMAT, r->expires_ms, r->timestamp_ms);
  return check_len (w, "signature", &r->signature, MESH_WIRE_SIG_LEN, error);
}

static gboolean
validate_contact_record (const ProtobufCMessage *msg, GError **error)
{
  const Where w = WHERE_TOP ("ContactRecord");

  return check_contact_record (&w, (const MeshWireContactRecord *) msg, error);
}

static gboolean
validate_store (const ProtobufCMessage *msg, GError **error)
{
  const MeshWireStore *m = (const MeshWireStore *) msg;
  const Where w = WHERE_TOP ("Store");
  const Where r = { &w, "record", -1 };

  if (m->record == NULL)
    return fail_at (error, MESHARA_ERROR_INVALID, &w, "record", "missing");
  return check_contact_record (&r, m->record, error);
}

static gboolean
validate_nodes (const ProtobufCMessage *msg, GError **error)
{
  const MeshWireNodes *m = (const MeshWireNodes *) msg;
  const Where w = WHERE_TOP ("Nodes");
  const Where r = { &w, "record", -1 };

  if (!check_count (&w, "nodes", m->n_nodes, 0, MESH_WIRE_MAX_DHT_NODES, error))
    return FALSE;
  for (gsize i = 0; i < m->n_nodes; i++)
    {
      const Where e = { &w, "nodes", (gssize) i };
      const MeshWireNodeInfo *n = m->nodes[i];

      if (!check_len (&e, "node_id", &n->node_id, MESH_WIRE_ID_LEN, error)
          || !check_len (&e, "bundle", &n->bundle, MESH_WIRE_BUNDLE_LEN, error)
          || !check_addresses (&e, "addresses", n->addresses, n->n_addresses, error))
        return FALSE;
    }
  return m->record == NULL || check_contact_record (&r, m->record, error);
}

static gboolean
validate_gossip_announce (const ProtobufCMessage *msg, GError **error)
{
  const MeshWireGossipAnnounce *m = (const MeshWireGossipAnnounce *) msg;
  const Where w = WHERE_TOP ("GossipAnnounce");

  return check_id_list (&w, "message_ids", m->message_ids, m->n_message_ids,
                        MESH_WIRE_MAX_GOSSIP_IDS, error);
}

static gboolean
validate_gossip_pull (const ProtobufCMessage *msg, GError **error)
{
  const MeshWireGossipPull *m = (const MeshWireGossipPull *) msg;
  const Where w = WHERE_TOP ("GossipPull");

  return check_id_list (&w, "message_ids", m->message_ids, m->n_message_ids,
                        MESH_WIRE_MAX_GOSSIP_IDS, error);
}

static gboolean
check_authority_info (const Where *w, const MeshWireAuthorityInfo *a,
                      GError **error)
{
  return check_len (w, "public_key", &a->public_key, MESH_WIRE_KEY_LEN, error)
         && check_string (w, "name", a->name, 1, MESH_WIRE_MAX_AUTHORITY_NAME,
                          TEXT, error)
         && check_string (w, "description", a->description, 0,
                          MESH_WIRE_MAX_AUTHORITY_DESCRIPTION, TEXT, error)
         && check_string (w, "url", a->url, 0, MESH_WIRE_MAX_AUTHORITY_URL,
                          TOKEN, error);
}

static gboolean
validate_trust_store (const ProtobufCMessage *msg, GError **error)
{
  const MeshWireTrustStore *m = (const MeshWireTrustStore *) msg;
  const Where w = WHERE_TOP ("TrustStore");

  if (m->format_version != MESH_WIRE_TRUST_STORE_VERSION)
    return fail_at (error, MESHARA_ERROR_UNSUPPORTED_VERSION, &w,
                    "format_version", "%" G_GUINT32_FORMAT ", expected %d",
                    m->format_version, MESH_WIRE_TRUST_STORE_VERSION);
  if (m->threshold < 1 || m->threshold > MESH_WIRE_MAX_AUTHORITY_SIGS)
    return fail_at (error, MESHARA_ERROR_INVALID, &w, "threshold",
                    "%" G_GUINT32_FORMAT ", expected 1 to %d",
                    m->threshold, MESH_WIRE_MAX_AUTHORITY_SIGS);
  if (!check_count (&w, "authorities", m->n_authorities, 0,
                    MESH_WIRE_MAX_TRUSTED_AUTHORITIES, error))
    return FALSE;
  for (gsize i = 0; i < m->n_authorities; i++)
    {
      const Where e = { &w, "authorities", (gssize) i };
      const Where info = { &e, "info", -1 };
      const MeshWireTrustedAuthority *a = m->authorities[i];

      if (a->info == NULL)
        return fail_at (error, MESHARA_ERROR_INVALID, &e, "info", "missing");
      if (!check_authority_info (&info, a->info, error))
        return FALSE;
      if (a->level < MESH_WIRE_TRUST_UPDATE || a->level > MESH_WIRE_TRUST_FULL)
        return fail_at (error, MESHARA_ERROR_INVALID, &e, "level",
                        a->level == 0 ? "missing (UNSPECIFIED)"
                                      : "%d is not a trust level",
                        (int) a->level);
      /* Quadratic, but over at most 256 entries, once per load. */
      for (gsize j = 0; j < i; j++)
        if (memcmp (m->authorities[j]->info->public_key.data,
                    a->info->public_key.data, MESH_WIRE_KEY_LEN) == 0)
          return fail_at (error, MESHARA_ERROR_INVALID, &info, "public_key",
                          "same authority as authorities[%" G_GSIZE_FORMAT "]",
                          j);
    }
  return TRUE;
}

static gboolean
validate_update_manifest (const ProtobufCMessage *msg, GError **error)
{
  const MeshWireUpdateManifest *m = (const MeshWireUpdateManifest *) msg;
  const Where w = WHERE_TOP ("UpdateManifest");

  if (!check_update_fields (&w, m->name, m->version, m->version_label,
                            m->changelog, &m->checksum, m->min_version, error))
    return FALSE;
  return check_chunk_list (&w, m->size, m->chunk_size, m->chunk_hashes,
                           m->n_chunk_hashes, error)
         && check_authority_signatures_min (&w, m->signatures, m->n_signatures,
                                            0, error);
}

static gboolean
validate_update_notice (const ProtobufCMessage *msg, GError **error)
{
  const MeshWireUpdateNotice *m = (const MeshWireUpdateNotice *) msg;
  const Where w = WHERE_TOP ("UpdateNotice");

  if (!check_len (&w, "manifest_id", &m->manifest_id, MESH_WIRE_ID_LEN, error)
      || !check_string (&w, "name", m->name, 1, MESH_WIRE_MAX_NAME, TOKEN, error))
    return FALSE;
  if (m->version == 0)
    return fail_at (error, MESHARA_ERROR_INVALID, &w, "version", "missing (0)");
  if (!check_string (&w, "version_label", m->version_label, 0,
                     MESH_WIRE_MAX_VERSION_LABEL, TOKEN, error))
    return FALSE;
  if (m->size == 0)
    return fail_at (error, MESHARA_ERROR_INVALID, &w, "size", "missing (0)");
  if (m->size > MESH_WIRE_MAX_UPDATE_SIZE)
    return fail_at (error, MESHARA_ERROR_TOO_LARGE, &w, "size",
                    "%" G_GUINT64_FORMAT " bytes exceeds the limit of %u",
                    m->size, MESH_WIRE_MAX_UPDATE_SIZE);
  return check_authority_signatures (&w, m->signatures, m->n_signatures, error);
}

static gboolean
validate_update_query (const ProtobufCMessage *msg, GError **error)
{
  const MeshWireUpdateQuery *m = (const MeshWireUpdateQuery *) msg;
  const Where w = WHERE_TOP ("UpdateQuery");

  return check_string (&w, "name", m->name, 1, MESH_WIRE_MAX_NAME, TOKEN, error);
}

static gboolean validate_base (const ProtobufCMessage *msg, GError **error);

/* ---------------------------------------------------------------------- */
/* Tables */

typedef struct {
  const ProtobufCMessageDescriptor *desc;
  gsize max_size;
  gboolean (*validate) (const ProtobufCMessage *msg, GError **error);
} Schema;

/* Every message a decoder accepts on its own. */
static const Schema schemas[] = {
  { D (base_message), MESH_FRAME_MAX_DEFAULT, validate_base },
  { D (private_message_payload), MESH_WIRE_MAX_PAYLOAD, validate_private },
  { D (private_content), MESH_WIRE_MAX_PAYLOAD, validate_private_content },
  { D (acknowledgment), MESH_WIRE_MAX_PAYLOAD, validate_ack },
  { D (broadcast_payload), MESH_WIRE_MAX_PAYLOAD, validate_broadcast },
  { D (update_package), MESH_WIRE_MAX_UPDATE_SIZE, validate_update_package },
  { D (update_announcement), MESH_WIRE_MAX_PAYLOAD, validate_update_announcement },
  { D (update_request), MESH_WIRE_MAX_PAYLOAD, validate_update_request },
  { D (update_chunk), MESH_WIRE_MAX_PAYLOAD, validate_update_chunk },
  { D (query_message), MESH_WIRE_MAX_PAYLOAD, validate_query },
  { D (response_message), MESH_WIRE_MAX_PAYLOAD, validate_response },
  { D (route_advertisement), MESH_WIRE_MAX_PAYLOAD, validate_route_advertisement },
  { D (hello), MESH_WIRE_MAX_PAYLOAD, validate_hello },
  { D (ping), MESH_WIRE_MAX_PAYLOAD, validate_nothing },
  { D (pong), MESH_WIRE_MAX_PAYLOAD, validate_nothing },
  { D (find_node), MESH_WIRE_MAX_PAYLOAD, validate_find_node },
  { D (find_value), MESH_WIRE_MAX_PAYLOAD, validate_find_value },
  { D (store), MESH_WIRE_MAX_PAYLOAD, validate_store },
  { D (nodes), MESH_WIRE_MAX_PAYLOAD, validate_nodes },
  { D (contact_record), MESH_WIRE_MAX_PAYLOAD, validate_contact_record },
  { D (gossip_announce), MESH_WIRE_MAX_PAYLOAD, validate_gossip_announce },
  { D (gossip_pull), MESH_WIRE_MAX_PAYLOAD, validate_gossip_pull },
  { D (trust_store), MESH_WIRE_MAX_PAYLOAD, validate_trust_store },
  { D (update_manifest), MESH_WIRE_MAX_PAYLOAD, validate_update_manifest },
  { D (update_notice), MESH_WIRE_MAX_PAYLOAD, validate_update_notice },
  { D (update_query), MESH_WIRE_MAX_PAYLOAD, validate_update_query },
};

static const Schema *
schema_for (const ProtobufCMessageDescriptor *desc)
{
  for (gsize i = 0; i < G_N_ELEMENTS (schemas); i++)
    if (schemas[i].desc == desc)
      return &schemas[i];
  return NULL;
}

static const MeshWireTypeInfo type_table[MESH_WIRE_TYPE_COUNT] = {
  [MESH_WIRE_TYPE_PRIVATE] = { MESH_WIRE_TYPE_PRIVATE, "PRIVATE",
    D (private_message_payload), MESH_WIRE_ROUTED },
  [MESH_WIRE_TYPE_ACK] = { MESH_WIRE_TYPE_ACK, "ACK",
    D (acknowledgment), MESH_WIRE_ROUTED },
  [MESH_WIRE_TYPE_BROADCAST] = { MESH_WIRE_TYPE_BROADCAST, "BROADCAST",
    D (broadcast_payload), MESH_WIRE_FLOODED | MESH_WIRE_SIGNED },
  [MESH_WIRE_TYPE_UPDATE_PACKAGE] = { MESH_WIRE_TYPE_UPDATE_PACKAGE, "UPDATE_PACKAGE",
    D (update_package), MESH_WIRE_LINK },
  [MESH_WIRE_TYPE_UPDATE_ANNOUNCEMENT] = { MESH_WIRE_TYPE_UPDATE_ANNOUNCEMENT,
    "UPDATE_ANNOUNCEMENT", D (update_announcement), MESH_WIRE_FLOODED },
  [MESH_WIRE_TYPE_UPDATE_REQUEST] = { MESH_WIRE_TYPE_UPDATE_REQUEST, "UPDATE_REQUEST",
    D (update_request), MESH_WIRE_LINK },
  [MESH_WIRE_TYPE_UPDATE_CHUNK] = { MESH_WIRE_TYPE_UPDATE_CHUNK, "UPDATE_CHUNK",
    D (update_chunk), MESH_WIRE_LINK },
  [MESH_WIRE_TYPE_QUERY] = { MESH_WIRE_TYPE_QUERY, "QUERY",
    D (query_message), MESH_WIRE_INNER },
  [MESH_WIRE_TYPE_RESPONSE] = { MESH_WIRE_TYPE_RESPONSE, "RESPONSE",
    D (response_message), MESH_WIRE_INNER },
  [MESH_WIRE_TYPE_ROUTE_ADVERTISEMENT] = { MESH_WIRE_TYPE_ROUTE_ADVERTISEMENT,
    "ROUTE_ADVERTISEMENT", D (route_advertisement), MESH_WIRE_LINK },
  [MESH_WIRE_TYPE_HELLO] = { MESH_WIRE_TYPE_HELLO, "HELLO", D (hello), MESH_WIRE_LINK },
  [MESH_WIRE_TYPE_PING] = { MESH_WIRE_TYPE_PING, "PING", D (ping), MESH_WIRE_LINK },
  [MESH_WIRE_TYPE_PONG] = { MESH_WIRE_TYPE_PONG, "PONG", D (pong), MESH_WIRE_LINK },
  [MESH_WIRE_TYPE_FIND_NODE] = { MESH_WIRE_TYPE_FIND_NODE, "FIND_NODE",
    D (find_node), MESH_WIRE_LINK | MESH_WIRE_ROUTED },
  [MESH_WIRE_TYPE_FIND_VALUE] = { MESH_WIRE_TYPE_FIND_VALUE, "FIND_VALUE",
    D (find_value), MESH_WIRE_LINK | MESH_WIRE_ROUTED },
  [MESH_WIRE_TYPE_STORE] = { MESH_WIRE_TYPE_STORE, "STORE", D (store), MESH_WIRE_LINK | MESH_WIRE_ROUTED },
  [MESH_WIRE_TYPE_NODES] = { MESH_WIRE_TYPE_NODES, "NODES", D (nodes), MESH_WIRE_LINK | MESH_WIRE_ROUTED },
  [MESH_WIRE_TYPE_GOSSIP_ANNOUNCE] = { MESH_WIRE_TYPE_GOSSIP_ANNOUNCE, "GOSSIP_ANNOUNCE",
    D (gossip_announce), MESH_WIRE_LINK },
  [MESH_WIRE_TYPE_GOSSIP_PULL] = { MESH_WIRE_TYPE_GOSSIP_PULL, "GOSSIP_PULL",
    D (gossip_pull), MESH_WIRE_LINK },
};

const MeshWireTypeInfo *
mesh_wire_type_info (guint32 type)
{
  if (type >= MESH_WIRE_TYPE_COUNT || type_table[type].descriptor == NULL)
    return NULL;
  return &type_table[type];
}

const char *
mesh_wire_type_name (guint32 type)
{
  const MeshWireTypeInfo *info = mesh_wire_type_info (type);

  if (info)
    return info->name;
  return type == MESH_WIRE_TYPE_UNSPECIFIED ? "UNSPECIFIED" : "UNKNOWN";
}

/* Caps on repeated fields, applied while walking the encoding. */
static const struct {
  const ProtobufCMessageDescriptor *desc;
  guint32 field;
  guint32 max;
} repeated_limits[] = {
  { D (broadcast_payload), 3, MESH_WIRE_MAX_METADATA },
  { D (update_package), 8, MESH_WIRE_MAX_AUTHORITY_SIGS },
  { D (update_announcement), 7, MESH_WIRE_MAX_UPDATE_CHUNKS },
  { D (update_announcement), 8, MESH_WIRE_MAX_AUTHORITY_SIGS },
  { D (update_request), 2, MESH_WIRE_MAX_CHUNK_REQUEST },
  { D (route_advertisement), 1, MESH_WIRE_MAX_ROUTE_ENTRIES },
  { D (hello), 4, MESH_WIRE_MAX_ADDRESSES },
  { D (contact_record), 3, MESH_WIRE_MAX_ADDRESSES },
  { D (node_info), 3, MESH_WIRE_MAX_ADDRESSES },
  { D (nodes), 2, MESH_WIRE_MAX_DHT_NODES },
  { D (gossip_announce), 1, MESH_WIRE_MAX_GOSSIP_IDS },
  { D (gossip_pull), 1, MESH_WIRE_MAX_GOSSIP_IDS },
  { D (trust_store), 3, MESH_WIRE_MAX_TRUSTED_AUTHORITIES },
  { D (update_manifest), 9, MESH_WIRE_MAX_UPDATE_CHUNKS },
  { D (update_manifest), 10, MESH_WIRE_MAX_AUTHORITY_SIGS },
  { D (update_notice), 6, MESH_WIRE_MAX_AUTHORITY_SIGS },
};

static guint32
repeated_limit (const ProtobufCMessageDescriptor *desc, guint32 field)
{
  for (gsize i = 0; i < G_N_ELEMENTS (repeated_limits); i++)
    if (repeated_limits[i].desc == desc && repeated_limits[i].field == field)
      return repeated_limits[i].max;
  return DEFAULT_REPEATED_LIMIT;
}

/* ---------------------------------------------------------------------- */
/* Walking the encoding before protobuf-c sees it.  protobuf-c reports no
 * reason when it fails and sizes its arrays from counts it takes from
 * the input; this walk names the field that is wrong and bounds every
 * count first.  It accepts a subset of what protobuf-c accepts. */

typedef enum {
  VARINT_OK,
  VARINT_TRUNCATED,
  VARINT_TOO_LONG,
} VarintResult;

static VarintResult
read_varint (const guint8 *p, gsize len, gsize max_bytes, guint64 *value,
             gsize *used)
{
  guint64 v = 0;

  for (gsize i = 0; i < max_bytes; i++)
    {
      if (i == len)
        return VARINT_TRUNCATED;
      if (i < 10)
        v |= (guint64) (p[i] & 0x7f) << (7 * i);
      if ((p[i] & 0x80) == 0)
        {
          *value = v;
          *used = i + 1;
          return VARINT_OK;
        }
    }
  return VARINT_TOO_LONG;
}

typedef struct {
  guint unknown;          /* unknown fields so far, all levels */
} ScanState;

static gboolean
scan_fail (GError **error, gint code, const ProtobufCMessageDescriptor *desc,
           const ProtobufCFieldDescriptor *f, guint32 number,
           const char *format, ...) G_GNUC_PRINTF (6, 7);

static gboolean
scan_fail (GError **error, gint code, const ProtobufCMessageDescriptor *desc,
           const ProtobufCFieldDescriptor *f, guint32 number,
           const char *format, ...)
{
  GString *s;
  va_list ap;

  if (error == NULL)
    return FALSE;
  s = g_string_new (desc->short_name);
  if (f)
    g_string_append_printf (s, ".%s: ", f->name);
  else if (number)
    g_string_append_printf (s, " field %" G_GUINT32_FORMAT ": ", number);
  else
    g_string_append (s, ": ");
  va_start (ap, format);
  g_string_append_vprintf (s, format, ap);
  va_end (ap);
  g_set_error_literal (error, MESHARA_ERROR, code, s->str);
  g_string_free (s, TRUE);
  return FALSE;
}

static guint
wire_type_of (ProtobufCType type)
{
  switch (type)
    {
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
      return PROTOBUF_C_WIRE_TYPE_64BIT;
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_FLOAT:
      return PROTOBUF_C_WIRE_TYPE_32BIT;
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_BYTES:
    case PROTOBUF_C_TYPE_MESSAGE:
      return PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED;
    default:
      return PROTOBUF_C_WIRE_TYPE_VARINT;
    }
}

/* Number of values in a packed repeated field of n bytes. */
static gboolean
count_packed (const ProtobufCMessageDescriptor *desc,
              const ProtobufCFieldDescriptor *f, const guint8 *p, gsize n,
              guint64 *count, GError **error)
{
  guint64 c = 0;

  switch (wire_type_of (f->type))
    {
    case PROTOBUF_C_WIRE_TYPE_64BIT:
    case PROTOBUF_C_WIRE_TYPE_32BIT:
      {
        gsize size = wire_type_of (f->type) == PROTOBUF_C_WIRE_TYPE_64BIT ? 8 : 4;
        if (n % size != 0)
          return scan_fail (error, MESHARA_ERROR_MALFORMED, desc, f, 0,
                            "packed %" G_GSIZE_FORMAT " bytes, not a multiple "
                            "of %" G_GSIZE_FORMAT, n, size);
        c = n / size;
        break;
      }
    default:
      for (gsize i = 0; i < n; )
        {
          gsize len = 0;
          guint64 v;
          if (read_varint (p + i, n - i, 10, &v, &len) != VARINT_OK)
            return scan_fail (error, MESHARA_ERROR_MALFORMED, desc, f, 0,
                              "packed value %" G_GUINT64_FORMAT " is cut or "
                              "longer than 10 bytes", c);
          if (f->type == PROTOBUF_C_TYPE_BOOL && len != 1)
            return scan_fail (error, MESHARA_ERROR_MALFORMED, desc, f, 0,
                              "packed boolean %" G_GUINT64_FORMAT " is not "
                              "one byte", c);
          i += len;
          c++;
        }
      break;
    }
  *count = c;
  return TRUE;
}

static gboolean
scan_message (const ProtobufCMessageDescriptor *desc, const guint8 *p, gsize len,
              guint depth, ScanState *st, GError **error)
{
  guint32 counts[SCAN_MAX_FIELDS] = { 0 };
  gsize pos = 0;

  g_assert (desc->n_fields <= SCAN_MAX_FIELDS);

  while (pos < len)
    {
      const ProtobufCFieldDescriptor *f;
      const guint8 *body = NULL;
      guint64 tag, v;
      gsize used = 0, body_len = 0, idx;
      guint32 number, wt;
      gboolean packed;

      switch (read_varint (p + pos, len - pos, 5, &tag, &used))
        {
        case VARINT_TRUNCATED:
          return scan_fail (error, MESHARA_ERROR_TRUNCATED, desc, NULL, 0,
                            "input ends inside the field tag at offset %"
                            G_GSIZE_FORMAT, pos);
        case VARINT_TOO_LONG:
          return scan_fail (error, MESHARA_ERROR_MALFORMED, desc, NULL, 0,
                            "field tag at offset %" G_GSIZE_FORMAT
                            " is longer than 5 bytes", pos);
        case VARINT_OK:
          break;
        }
      if (tag > G_MAXUINT32 || (tag >> 3) == 0)
        return scan_fail (error, MESHARA_ERROR_MALFORMED, desc, NULL, 0,
                          "field tag at offset %" G_GSIZE_FORMAT " has field "
                          "number %" G_GUINT64_FORMAT ", expected 1 to %u",
                          pos, tag >> 3, (1u << 29) - 1);
      number = (guint32) (tag >> 3);
      wt = (guint32) (tag & 7);
      pos += used;
      f = protobuf_c_message_descriptor_get_field (desc, number);

      switch (wt)
        {
        case PROTOBUF_C_WIRE_TYPE_VARINT:
          switch (read_varint (p + pos, len - pos, 10, &v, &used))
            {
            case VARINT_TRUNCATED:
              return scan_fail (error, MESHARA_ERROR_TRUNCATED, desc, f, number,
                                "input ends inside the value");
            case VARINT_TOO_LONG:
              return scan_fail (error, MESHARA_ERROR_MALFORMED, desc, f, number,
                                "varint longer than 10 bytes");
            case VARINT_OK:
              break;
            }
          pos += used;
          break;
        case PROTOBUF_C_WIRE_TYPE_64BIT:
        case PROTOBUF_C_WIRE_TYPE_32BIT:
          used = wt == PROTOBUF_C_WIRE_TYPE_64BIT ? 8 : 4;
          if (len - pos < used)
            return scan_fail (error, MESHARA_ERROR_TRUNCATED, desc, f, number,
                              "input ends inside the %" G_GSIZE_FORMAT
                              "-byte value", used);
          pos += used;
          break;
        case PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED:
          /* protobuf-c reads lengths of at most 5 bytes and 32 bits. */
          switch (read_varint (p + pos, len - pos, 5, &v, &used))
            {
            case VARINT_TRUNCATED:
              return scan_fail (error, MESHARA_ERROR_TRUNCATED, desc, f, number,
                                "input ends inside the length");
            case VARINT_TOO_LONG:
              return scan_fail (error, MESHARA_ERROR_MALFORMED, desc, f, number,
                                "length longer than 5 bytes");
            case VARINT_OK:
              break;
            }
          pos += used;
          if (v > G_MAXUINT32)
            return scan_fail (error, MESHARA_ERROR_MALFORMED, desc, f, number,
                              "length %" G_GUINT64_FORMAT " exceeds 32 bits", v);
          if (v > len - pos)
            return scan_fail (error, MESHARA_ERROR_TRUNCATED, desc, f, number,
                              "%" G_GUINT64_FORMAT " bytes declared, %"
                              G_GSIZE_FORMAT " left", v, len - pos);
          body = p + pos;
          body_len = (gsize) v;
          pos += body_len;
          break;
        default:
          return scan_fail (error, MESHARA_ERROR_MALFORMED, desc, f, number,
                            "wire type %" G_GUINT32_FORMAT " is not supported",
                            wt);
        }

      if (f == NULL)
        {
          if (++st->unknown > MESH_WIRE_MAX_UNKNOWN_FIELDS)
            return scan_fail (error, MESHARA_ERROR_TOO_LARGE, desc, NULL, number,
                              "more than %d unknown fields in one message",
                              MESH_WIRE_MAX_UNKNOWN_FIELDS);
          continue;
        }

      idx = (gsize) (f - desc->fields);
      packed = f->label == PROTOBUF_C_LABEL_REPEATED
               && wt == PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED
               && wire_type_of (f->type) != PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED;
      if (wt != wire_type_of (f->type) && !packed)
        return scan_fail (error, MESHARA_ERROR_MALFORMED, desc, f, 0,
                          "wire type %" G_GUINT32_FORMAT ", expected %u",
                          wt, wire_type_of (f->type));

      if (f->label == PROTOBUF_C_LABEL_REPEATED)
        {
          guint64 n = 1;
          guint32 limit = repeated_limit (desc, f->id);

          if (packed && !count_packed (desc, f, body, body_len, &n, error))
            return FALSE;
          if (counts[idx] + n > limit)
            return scan_fail (error, MESHARA_ERROR_TOO_LARGE, desc, f, 0,
                              "more than %" G_GUINT32_FORMAT " entries", limit);
          counts[idx] += (guint32) n;
        }
      else if (counts[idx]++ > 0)
        /* protobuf would keep the last value (or merge messages): two
         * decoders could disagree on what was signed or hashed. */
        return scan_fail (error, MESHARA_ERROR_MALFORMED, desc, f, 0,
                          "appears more than once");

      if (packed || wt != PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED)
        continue;
      if (f->type == PROTOBUF_C_TYPE_STRING && memchr (body, 0, body_len))
        /* Decoded strings end at their first NUL: the rest would vanish. */
        return scan_fail (error, MESHARA_ERROR_INVALID, desc, f, 0,
                          "contains a NUL byte");
      if (f->type == PROTOBUF_C_TYPE_MESSAGE)
        {
          if (depth >= MESH_WIRE_MAX_DEPTH)
            return scan_fail (error, MESHARA_ERROR_MALFORMED, desc, f, 0,
                              "nested deeper than %d messages",
                              MESH_WIRE_MAX_DEPTH);
          if (!scan_message (f->descriptor, body, body_len, depth + 1, st, error))
            return FALSE;
        }
    }
  return TRUE;
}

/* ---------------------------------------------------------------------- */
/* Decoding */

/* protobuf-c allocates through this; a decode that would need more than
 * its budget fails instead.  After the walk above the budget is never
 * reached by well-formed input: it is the second line of defence. */
typedef struct {
  gsize used;
  gsize budget;
  gboolean exceeded;
} Budget;

static void *
budget_alloc (void *data, size_t size)
{
  Budget *b = data;

  if (size > b->budget - b->used)
    {
      b->exceeded = TRUE;
      return NULL;
    }
  b->used += size;
  return g_malloc (size ? size : 1);
}

static void
budget_free (void *data, void *ptr)
{
  g_free (ptr);
}

static void *
plain_alloc (void *data, size_t size)
{
  return g_malloc (size ? size : 1);
}

static ProtobufCAllocator free_allocator = { plain_alloc, budget_free, NULL };

/* Data copies take len; structures, arrays and protobuf-c's scratch take
 * a bounded multiple of the counts the walk allowed. */
static gsize
budget_for (gsize len)
{
  return 2 * 1024 * 1024 + 4 * len;
}

static ProtobufCMessage *
decode_unvalidated (const ProtobufCMessageDescriptor *desc, const guint8 *data,
                    gsize len, gsize max, GError **error)
{
  ScanState st = { 0 };
  Budget b = { 0, budget_for (len), FALSE };
  ProtobufCAllocator a = { budget_alloc, budget_free, &b };
  ProtobufCMessage *m;

  if (len > max)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_TOO_LARGE,
                   "%s: %" G_GSIZE_FORMAT " bytes exceeds the limit of %"
                   G_GSIZE_FORMAT, desc->short_name, len, max);
      return NULL;
    }
  if (!scan_message (desc, data, len, 1, &st, error))
    return NULL;
  m = protobuf_c_message_unpack (desc, &a, len, data);
  if (m == NULL)
    {
      if (b.exceeded)
        g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_TOO_LARGE,
                     "%s: decoding %" G_GSIZE_FORMAT " bytes needs more than %"
                     G_GSIZE_FORMAT " bytes of memory", desc->short_name, len,
                     b.budget);
      else
        g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_MALFORMED,
                     "%s: protobuf-c rejected the encoding", desc->short_name);
    }
  return m;
}

static gboolean
validate_base_flags (const MeshWireBaseMessage *m, MeshWireDecodeFlags flags,
                     GError **error)
{
  const Where w = WHERE_TOP ("BaseMessage");
  const MeshWireTypeInfo *info;
  const Schema *s;

  if (m->version != MESH_WIRE_PROTOCOL_VERSION)
    return fail_at (error, MESHARA_ERROR_UNSUPPORTED_VERSION, &w, "version",
                    "%" G_GUINT32_FORMAT ", supported %d",
                    m->version, MESH_WIRE_PROTOCOL_VERSION);
  if (!check_len (&w, "message_id", &m->message_id, MESH_WIRE_ID_LEN, error))
    return FALSE;
  if (m->timestamp_ms == 0)
    return fail_at (error, MESHARA_ERROR_INVALID, &w, "timestamp_ms", "missing (0)");
  if (!check_len_opt (&w, "sender_public_key", &m->sender_public_key,
                      MESH_WIRE_KEY_LEN, error)
      || !check_len_opt (&w, "signature", &m->signature, MESH_WIRE_SIG_LEN, error))
    return FALSE;
  if (m->routing && !validate_routing (m->routing, error))
    return FALSE;

  if (m->type == MESH_WIRE_TYPE_UNSPECIFIED)
    return fail_at (error, MESHARA_ERROR_INVALID, &w, "type", "missing (UNSPECIFIED)");
  info = mesh_wire_type_info (m->type);
  if (info == NULL)
    {
      if (flags & MESH_WIRE_DECODE_ALLOW_UNKNOWN_TYPE)
        return TRUE;
      return fail_at (error, MESHARA_ERROR_UNKNOWN_TYPE, &w, "type",
                      "%d is not a message type of protocol version %d",
                      (int) m->type, MESH_WIRE_PROTOCOL_VERSION);
    }
  if (info->flags & MESH_WIRE_INNER)
    return fail_at (error, MESHARA_ERROR_INVALID, &w, "type",
                    "%s travels only inside a private session", info->name);

  if (info->flags & MESH_WIRE_SIGNED)
    {
      if (m->sender_public_key.len != MESH_WIRE_KEY_LEN)
        return fail_at (error, MESHARA_ERROR_INVALID, &w, "sender_public_key",
                        "%" G_GSIZE_FORMAT " bytes, expected %d for %s",
                        m->sender_public_key.len, MESH_WIRE_KEY_LEN, info->name);
      if (m->signature.len != MESH_WIRE_SIG_LEN)
        return fail_at (error, MESHARA_ERROR_INVALID, &w, "signature",
                        "%" G_GSIZE_FORMAT " bytes, expected %d for %s",
                        m->signature.len, MESH_WIRE_SIG_LEN, info->name);
    }
  else if (m->signature.len != 0)
    return fail_at (error, MESHARA_ERROR_INVALID, &w, "signature",
                    "%" G_GSIZE_FORMAT " bytes, expected 0 for %s (unsigned)",
                    m->signature.len, info->name);

  /* LINK | ROUTED (the DHT requests and replies): either one link without
   * RoutingInfo, or routed through the mesh to a node with no link. */
  gboolean may_route = (info->flags & (MESH_WIRE_ROUTED | MESH_WIRE_FLOODED)) != 0;
  if ((info->flags & MESH_WIRE_LINK) && !may_route && m->routing)
    return fail_at (error, MESHARA_ERROR_INVALID, &w, "routing",
                    "present, expected none for %s (one link)", info->name);
  if (may_route && (m->routing || !(info->flags & MESH_WIRE_LINK)))
    {
      gboolean flood = (info->flags & MESH_WIRE_FLOODED) != 0;
      const Where r = { &w, "routing", -1 };

      if (m->routing == NULL)
        return fail_at (error, MESHARA_ERROR_INVALID, &w, "routing",
                        "missing, required for %s", info->name);
      if ((m->routing->route_type == MESH_WIRE_ROUTE_FLOOD) != flood)
        return fail_at (error, MESHARA_ERROR_INVALID, &r, "route_type",
                        "%s, expected %s for %s",
                        m->routing->route_type == MESH_WIRE_ROUTE_FLOOD ? "FLOOD"
                        : m->routing->route_type == MESH_WIRE_ROUTE_DIRECT ? "DIRECT"
                        : "ROUTED",
                        flood ? "FLOOD" : "DIRECT or ROUTED", info->name);
    }

  s = schema_for (info->descriptor);
  if (m->payload.len > s->max_size)
    return fail_at (error, MESHARA_ERROR_TOO_LARGE, &w, "payload",
                    "%" G_GSIZE_FORMAT " bytes exceeds the limit of %"
                    G_GSIZE_FORMAT " for %s", m->payload.len, s->max_size,
                    info->name);
  return TRUE;
}

static gboolean
validate_base (const ProtobufCMessage *msg, GError **error)
{
  return validate_base_flags ((const MeshWireBaseMessage *) msg,
                              MESH_WIRE_DECODE_DEFAULT, error);
}

MeshWireBaseMessage *
mesh_wire_decode_base_full (const guint8 *data, gsize len, gsize max,
                            MeshWireDecodeFlags flags, GError **error)
{
  MeshWireBaseMessage *m;

  g_return_val_if_fail (data != NULL || len == 0, NULL);

  if (len > max)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_TOO_LARGE,
                   "BaseMessage: %" G_GSIZE_FORMAT " bytes exceeds the limit of %"
                   G_GSIZE_FORMAT, len, max);
      return NULL;
    }
  if (len == 0)
    {
      g_set_error_literal (error, MESHARA_ERROR, MESHARA_ERROR_TRUNCATED,
                           "BaseMessage: empty input");
      return NULL;
    }
  m = (MeshWireBaseMessage *) decode_unvalidated (D (base_message), data, len,
                                                  max, error);
  if (m && !validate_base_flags (m, flags, error))
    g_clear_pointer (&m, mesh_wire_free);
  return m;
}

MeshWireBaseMessage *
mesh_wire_decode_base (const guint8 *data, gsize len, gsize max, GError **error)
{
  return mesh_wire_decode_base_full (data, len, max, MESH_WIRE_DECODE_DEFAULT,
                                     error);
}

ProtobufCMessage *
mesh_wire_decode_message (const ProtobufCMessageDescriptor *desc,
                          const guint8 *data, gsize len, GError **error)
{
  const Schema *s = schema_for (desc);
  ProtobufCMessage *m;

  g_return_val_if_fail (s != NULL, NULL);
  g_return_val_if_fail (data != NULL || len == 0, NULL);

  m = decode_unvalidated (desc, data, len, s->max_size, error);
  if (m && !s->validate (m, error))
    g_clear_pointer (&m, mesh_wire_free);
  return m;
}

ProtobufCMessage *
mesh_wire_decode_payload (const MeshWireBaseMessage *base, GError **error)
{
  const MeshWireTypeInfo *info;

  g_return_val_if_fail (base != NULL, NULL);

  info = mesh_wire_type_info (base->type);
  if (info == NULL)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_UNKNOWN_TYPE,
                   "BaseMessage.type: %d is not a message type of protocol "
                   "version %d", (int) base->type, MESH_WIRE_PROTOCOL_VERSION);
      return NULL;
    }
  return mesh_wire_decode_message (info->descriptor, base->payload.data,
                                   base->payload.len, error);
}

#define DEFINE_DECODER(func, Type, name) \
  Type *                                                                \
  func (const guint8 *data, gsize len, GError **error)                  \
  {                                                                     \
    return (Type *) mesh_wire_decode_message (D (name), data, len, error); \
  }

DEFINE_DECODER (mesh_wire_decode_private, MeshWirePrivateMessage, private_message_payload)
DEFINE_DECODER (mesh_wire_decode_private_content, MeshWirePrivateContent, private_content)
DEFINE_DECODER (mesh_wire_decode_ack, MeshWireAck, acknowledgment)
DEFINE_DECODER (mesh_wire_decode_broadcast, MeshWireBroadcast, broadcast_payload)
DEFINE_DECODER (mesh_wire_decode_update_package, MeshWireUpdatePackage, update_package)
DEFINE_DECODER (mesh_wire_decode_update_announcement, MeshWireUpdateAnnouncement, update_announcement)
DEFINE_DECODER (mesh_wire_decode_update_request, MeshWireUpdateRequest, update_request)
DEFINE_DECODER (mesh_wire_decode_update_chunk, MeshWireUpdateChunk, update_chunk)
DEFINE_DECODER (mesh_wire_decode_query, MeshWireQuery, query_message)
DEFINE_DECODER (mesh_wire_decode_response, MeshWireResponse, response_message)
DEFINE_DECODER (mesh_wire_decode_route_advertisement, MeshWireRouteAdvertisement, route_advertisement)
DEFINE_DECODER (mesh_wire_decode_hello, MeshWireHello, hello)
DEFINE_DECODER (mesh_wire_decode_ping, MeshWirePing, ping)
DEFINE_DECODER (mesh_wire_decode_pong, MeshWirePong, pong)
DEFINE_DECODER (mesh_wire_decode_find_node, MeshWireFindNode, find_node)
DEFINE_DECODER (mesh_wire_decode_find_value, MeshWireFindValue, find_value)
DEFINE_DECODER (mesh_wire_decode_store, MeshWireStore, store)
DEFINE_DECODER (mesh_wire_decode_nodes, MeshWireNodes, nodes)
DEFINE_DECODER (mesh_wire_decode_contact_record, MeshWireContactRecord, contact_record)
DEFINE_DECODER (mesh_wire_decode_gossip_announce, MeshWireGossipAnnounce, gossip_announce)
DEFINE_DECODER (mesh_wire_decode_gossip_pull, MeshWireGossipPull, gossip_pull)
DEFINE_DECODER (mesh_wire_decode_trust_store, MeshWireTrustStore, trust_store)
DEFINE_DECODER (mesh_wire_decode_update_manifest, MeshWireUpdateManifest, update_manifest)
DEFINE_DECODER (mesh_wire_decode_update_notice, MeshWireUpdateNotice, update_notice)
DEFINE_DECODER (mesh_wire_decode_update_query, MeshWireUpdateQuery, update_query)

gboolean
mesh_wire_validate (const ProtobufCMessage *msg, GError **error)
{
  const Schema *s;

  g_return_val_if_fail (msg != NULL, FALSE);
  s = schema_for (msg->descriptor);
  if (s == NULL)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
                   "%s: not a message that is validated on its own",
                   msg->descriptor->short_name);
      return FALSE;
    }
  return s->validate (msg, error);
}

void
mesh_wire_free (gpointer msg)
{
  if (msg)
    protobuf_c_message_free_unpacked (msg, &free_allocator);
}

/* ---------------------------------------------------------------------- */
/* Timestamps and message IDs */

gboolean
mesh_wire_check_timestamp (const char *field, guint64 timestamp_ms,
                           guint64 now_ms, guint64 max_future_ms,
                           guint64 max_past_ms, GError **error)
{
  if (timestamp_ms > now_ms && timestamp_ms - now_ms > max_future_ms)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_TIMESTAMP,
                   "%s: %" G_GUINT64_FORMAT " is %" G_GUINT64_FORMAT " ms ahead "
                   "of now (%" G_GUINT64_FORMAT "), limit %" G_GUINT64_FORMAT " ms",
                   field, timestamp_ms, timestamp_ms - now_ms, now_ms,
                   max_future_ms);
      return FALSE;
    }
  if (timestamp_ms < now_ms && now_ms - timestamp_ms > max_past_ms)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_TIMESTAMP,
                   "%s: %" G_GUINT64_FORMAT " is %" G_GUINT64_FORMAT " ms behind "
                   "now (%" G_GUINT64_FORMAT "), limit %" G_GUINT64_FORMAT " ms",
                   field, timestamp_ms, now_ms - timestamp_ms, now_ms,
                   max_past_ms);
      return FALSE;
    }
  return TRUE;
}

gboolean
mesh_wire_check_base_timestamp (const MeshWireBaseMessage *msg, guint64 now_ms,
                                GError **error)
{
  g_return_val_if_fail (msg != NULL, FALSE);
  return mesh_wire_check_timestamp ("BaseMessage.timestamp_ms", msg->timestamp_ms,
                                    now_ms, MESH_WIRE_MAX_FUTURE_MS,
                                    MESH_WIRE_MAX_PAST_MS, error);
}

#define MESSAGE_ID_LABEL "meshara/1 message-id"
#define MESSAGE_ID_LABEL_LEN (sizeof MESSAGE_ID_LABEL - 1)

static guint8 *
put_be32 (guint8 *p, guint32 v)
{
  p[0] = (guint8) (v >> 24);
  p[1] = (guint8) (v >> 16);
  p[2] = (guint8) (v >> 8);
  p[3] = (guint8) v;
  return p + 4;
}

void
mesh_wire_compute_message_id (const MeshWireBaseMessage *msg,
                              guint8 out[MESH_WIRE_ID_LEN])
{
  guint8 stack[MESSAGE_ID_LABEL_LEN + 4 + 4 + 8 + 4 + MESH_WIRE_KEY_LEN + 4];
  gsize key_len, head_len;
  guint8 *head, *p;

  g_return_if_fail (msg != NULL);

  /* Keys longer than an Ed25519 key are invalid, but the ID of such a
     message is still defined. */
  key_len = msg->sender_public_key.len;
  head_len = sizeof stack - MESH_WIRE_KEY_LEN + key_len;
  head = key_len <= MESH_WIRE_KEY_LEN ? stack : g_malloc (head_len);

  p = head;
  memcpy (p, MESSAGE_ID_LABEL, MESSAGE_ID_LABEL_LEN);
  p += MESSAGE_ID_LABEL_LEN;
  p = put_be32 (p, msg->version);
  p = put_be32 (p, (guint32) msg->type);
  p = put_be32 (p, (guint32) (msg->timestamp_ms >> 32));
  p = put_be32 (p, (guint32) msg->timestamp_ms);
  p = put_be32 (p, (guint32) key_len);
  if (key_len)
    memcpy (p, msg->sender_public_key.data, key_len);
  p += key_len;
  p = put_be32 (p, (guint32) msg->payload.len);
  g_assert ((gsize) (p - head) == head_len);

  mesh_sha256_2 (head, head_len, msg->payload.data, msg->payload.len, out);
  if (head != stack)
    g_free (head);
}

gboolean
mesh_wire_check_message_id (const MeshWireBaseMessage *msg, GError **error)
{
  guint8 id[MESH_WIRE_ID_LEN];

  g_return_val_if_fail (msg != NULL, FALSE);

  if (msg->message_id.len != MESH_WIRE_ID_LEN)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID,
                   "BaseMessage.message_id: %" G_GSIZE_FORMAT " bytes, expected %d",
                   msg->message_id.len, MESH_WIRE_ID_LEN);
      return FALSE;
    }
  mesh_wire_compute_message_id (msg, id);
  if (memcmp (id, msg->message_id.data, MESH_WIRE_ID_LEN) != 0)
    {
      g_set_error_literal (error, MESHARA_ERROR, MESHARA_ERROR_INVALID,
                           "BaseMessage.message_id: does not match the SHA-256 "
                           "of version, type, timestamp, sender key and payload");
      return FALSE;
    }
  return TRUE;
}

/* ---------------------------------------------------------------------- */
/* Encoding */

gsize
mesh_wire_encoded_size (const ProtobufCMessage *msg)
{
  g_return_val_if_fail (msg != NULL, 0);
  return protobuf_c_message_get_packed_size (msg);
}

gsize
mesh_wire_encode_into (const ProtobufCMessage *msg, guint8 *out)
{
  g_return_val_if_fail (msg != NULL && out != NULL, 0);
  return protobuf_c_message_pack (msg, out);
}

GBytes *
mesh_wire_encode (const ProtobufCMessage *msg)
{
  gsize n;
  guint8 *buf;

  g_return_val_if_fail (msg != NULL, NULL);
  n = protobuf_c_message_get_packed_size (msg);
  buf = g_malloc (n ? n : 1);
  protobuf_c_message_pack (msg, buf);
  return g_bytes_new_take (buf, n);
}

gsize
mesh_wire_frame_size (const MeshWireBaseMessage *msg)
{
  g_return_val_if_fail (msg != NULL, 0);
  return MESH_FRAME_HEADER_LEN + protobuf_c_message_get_packed_size (&msg->base);
}

static gboolean
check_frame_size (gsize n, gsize max_frame, GError **error)
{
  if (n == 0)
    {
      g_set_error_literal (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
                           "BaseMessage: encodes to 0 bytes, which no reader "
                           "accepts as a frame");
      return FALSE;
    }
  if (n > max_frame || n > G_MAXUINT32)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_TOO_LARGE,
                   "frame of %" G_GSIZE_FORMAT " bytes exceeds max-frame-size %"
                   G_GSIZE_FORMAT, n, max_frame);
      return FALSE;
    }
  return TRUE;
}

gboolean
mesh_wire_encode_frame_into (const MeshWireBaseMessage *msg, gsize max_frame,
                             guint8 *out, gsize cap, gsize *written,
                             GError **error)
{
  gsize n;

  g_return_val_if_fail (msg != NULL && out != NULL, FALSE);

  n = protobuf_c_message_get_packed_size (&msg->base);
  if (!check_frame_size (n, max_frame, error))
    return FALSE;
  if (cap < MESH_FRAME_HEADER_LEN + n)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
                   "frame of %" G_GSIZE_FORMAT " bytes does not fit a buffer of %"
                   G_GSIZE_FORMAT, MESH_FRAME_HEADER_LEN + n, cap);
      return FALSE;
    }
  mesh_frame_write_header (out, (guint32) n);
  protobuf_c_message_pack (&msg->base, out + MESH_FRAME_HEADER_LEN);
  if (written)
    *written = MESH_FRAME_HEADER_LEN + n;
  return TRUE;
}

GBytes *
mesh_wire_encode_frame (const MeshWireBaseMessage *msg, gsize max_frame,
                        GError **error)
{
  gsize n;
  guint8 *buf;

  g_return_val_if_fail (msg != NULL, NULL);

  n = protobuf_c_message_get_packed_size (&msg->base);
  if (!check_frame_size (n, max_frame, error))
    return NULL;
  buf = g_malloc (MESH_FRAME_HEADER_LEN + n);
  mesh_frame_write_header (buf, (guint32) n);
  protobuf_c_message_pack (&msg->base, buf + MESH_FRAME_HEADER_LEN);
  return g_bytes_new_take (buf, MESH_FRAME_HEADER_LEN + n);
}
