/* The small update messages: the notice that announces a signed manifest
 * (UpdateNotice, lib/update/notice.c), the older UpdateAnnouncement, and
 * the manifest queries to an authority (lib/update/query.c) from both
 * sides: an authority answering a QueryMessage, an asker reading a
 * ResponseMessage; the UpdateQuery body alone; and the trust store file
 * (TrustStore, lib/update/trust.c).
 *
 * Input:
 *   byte 0     what the rest is: 0 UpdateNotice, 1 UpdateAnnouncement,
 *              2 QueryMessage, 3 ResponseMessage, 4 UpdateQuery,
 *              5 TrustStore (mod 6)
 *   byte 1     bits 0-3: re-sign mask (fuzz-update.h: a notice's
 *              signatures by those authorities are made valid over its
 *              manifest ID); bit 4: the asker is authorized; bit 5: the
 *              response is read as the answer to its own query ID
 *   byte 2     k, the trust store's threshold: 1 + byte % 3
 *   bytes 3-10 installed version, big-endian
 *   the rest   the message
 *
 * The authority publishes three manifests signed by authorities 0 and 1:
 * "meshara" versions 2 and 3 and "other" version 1.
 *
 * Checked besides memory safety:
 * - failures are MESHARA_ERRORs with a message; whatever decodes
 *   re-encodes to bytes that decode and encode the same;
 * - a notice verifies exactly as the model of the k-of-n and version
 *   rules says, and matches a published manifest only when ID, name,
 *   version, label and size are the manifest's;
 * - an announcement has one 32-byte hash per chunk;
 * - the authority answers every query, with its query ID, a valid
 *   ResponseMessage and the code the rules give (ERROR for an unknown
 *   type or a bad body, UNAUTHORIZED, NOT_FOUND, else OK with the newest
 *   newer manifest of that name or the one with that ID), and the asker
 *   reads that answer back to the same manifest or the matching error;
 * - an asker accepts a response only for its own query ID and with code
 *   OK, and then returns the manifest of the body;
 * - a trust store that loads encodes to bytes that load to the same
 *   store, whose threshold is 1 to 16 and whose authorities have distinct
 *   keys, names of 1 to 128 bytes and a known level. */
#include "config.h"

#include "fuzz.h"
#include "fuzz-input.h"
#include "fuzz-update.h"
#include "update/notice.h"
#include "update/query.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PICK_NOTICE 0
#define PICK_ANNOUNCEMENT 1
#define PICK_QUERY 2
#define PICK_RESPONSE 3
#define PICK_UPDATE_QUERY 4
#define PICK_TRUST_STORE 5
#define N_PICKS 6

static GPtrArray *published;          /* GBytes: encoded signed manifests */
static MeshWireUpdateManifest *published_m[3];
static const guint8 fixed_query_id[MESH_WIRE_QUERY_ID_LEN] = "fuzz-query-id-01";

static void
fail (const char *why, const GError *error)
{
  fprintf (stderr, "update notice/query: %s%s%s\n", why, error ? ": " : "",
           error ? error->message : "");
  abort ();
}

static void
init (void)
{
  if (published != NULL)
    return;
  mesh_fuzz_update_init ();
  published = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_ptr_array_add (published, mesh_fuzz_manifest ("meshara", 2, 0, 1024, 3000,
                                                  1, NULL));
  g_ptr_array_add (published, mesh_fuzz_manifest ("meshara", 3, 2, 1024, 2048,
                                                  2, NULL));
  g_ptr_array_add (published, mesh_fuzz_manifest ("other", 1, 0, 4096, 100,
                                                   3, NULL));
  for (guint i = 0; i < 3; i++)
    {
      GBytes *b = g_ptr_array_index (published, i);

      published_m[i] = mesh_update_manifest_parse (g_bytes_get_data (b, NULL),
                                                   g_bytes_get_size (b), NULL);
      if (published_m[i] == NULL)
        abort ();
    }
}

/* Decode, encode, decode, encode: the two encodings must be equal. */
static ProtobufCMessage *
round_trip (const ProtobufCMessageDescriptor *desc, const uint8_t *msg,
            size_t len, const char *what)
{
  g_autoptr (GError) error = NULL;
  ProtobufCMessage *m, *again;
  g_autoptr (GBytes) a = NULL, b = NULL;

  m = mesh_wire_decode_message (desc, msg, len, &error);
  if (m == NULL)
    {
      mesh_fuzz_check_error (error, what);
      return NULL;
    }
  a = mesh_wire_encode (m);
  again = mesh_wire_decode_message (desc, g_bytes_get_data (a, NULL),
                                    g_bytes_get_size (a), &error);
  if (again == NULL)
    fail ("a re-encoded message does not decode", error);
  b = mesh_wire_encode (again);
  mesh_wire_free (again);
  if (!g_bytes_equal (a, b))
    {
      fprintf (stderr, "%s: ", what);
      fail ("round trip changed the bytes", NULL);
    }
  return m;
}

static gboolean
str_eq (const char *a, const char *b)
{
  return g_strcmp0 (a ? a : "", b ? b : "") == 0;
}

static void
notice (const uint8_t *msg, size_t len, unsigned mask, guint k,
        guint64 installed)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (MeshWireUpdateNotice) n = NULL;
  guint valid;
  int code;
  gboolean ok;

  n = mesh_update_notice_parse (msg, len, &error);
  if (n == NULL)
    {
      mesh_fuzz_check_error (error, "mesh_update_notice_parse");
      return;
    }
  g_clear_error (&error);
  mesh_wire_free (round_trip (&meshara__v1__update_notice__descriptor, msg,
                              len, "UpdateNotice"));
  mesh_fuzz_resign (n->signatures, n->n_signatures, n->manifest_id.data, mask);
  code = mesh_fuzz_model_signatures (n->signatures, n->n_signatures,
                                     n->manifest_id.data, k, &valid);
  if (code == 0)
    code = mesh_fuzz_model_version (n->version, 0, installed);
  ok = mesh_update_notice_verify (n, mesh_fuzz_trust, installed, &error);
  mesh_fuzz_expect (ok, error, code, "mesh_update_notice_verify");
  g_clear_error (&error);

  for (guint i = 0; i < 3; i++)
    {
      const MeshWireUpdateManifest *m = published_m[i];
      uint8_t id[MESH_SHA256_LEN];
      gboolean want;

      mesh_update_manifest_digest (m, id);
      want = memcmp (id, n->manifest_id.data, MESH_SHA256_LEN) == 0
             && str_eq (n->name, m->name) && n->version == m->version
             && str_eq (n->version_label, m->version_label)
             && n->size == m->size;
      ok = mesh_update_notice_matches (n, m, &error);
      if (ok != want)
        fail (ok ? "a notice matched a manifest it does not describe"
                 : "a notice did not match the manifest it describes", error);
      if (!ok)
        mesh_fuzz_expect_code (error, MESHARA_ERROR_INVALID,
                               "mesh_update_notice_matches");
      g_clear_error (&error);
    }
}

static void
announcement (const uint8_t *msg, size_t len)
{
  MeshWireUpdateAnnouncement *a;

  a = (MeshWireUpdateAnnouncement *)
    round_trip (&meshara__v1__update_announcement__descriptor, msg, len,
                "UpdateAnnouncement");
  if (a == NULL)
    return;
  if (a->chunk_size == 0
      || a->n_chunk_hashes != (a->size + a->chunk_size - 1) / a->chunk_size)
    fail ("an announcement whose hashes do not fit its size decoded", NULL);
  for (size_t i = 0; i < a->n_chunk_hashes; i++)
    if (a->chunk_hashes[i].len != MESH_SHA256_LEN)
      fail ("an announcement with a short chunk hash decoded", NULL);
  mesh_wire_free (&a->base);
}

/* Index into published of the manifest the rules answer q with, or -1
 * for NOT_FOUND; the query type and body were checked by the caller. */
static int
model_answer (const MeshWireQuery *q, const MeshWireUpdateQuery *uq)
{
  int best = -1;

  for (guint i = 0; i < 3; i++)
    {
      const MeshWireUpdateManifest *m = published_m[i];

      if (uq != NULL)
        {
          if (strcmp (m->name, uq->name) == 0 && m->version > uq->installed_version
              && (best < 0 || m->version > published_m[best]->version))
            best = (int) i;
        }
      else
        {
          uint8_t id[MESH_SHA256_LEN];

          mesh_update_manifest_digest (m, id);
          if (memcmp (id, q->body.data, MESH_SHA256_LEN) == 0)
            return (int) i;
        }
    }
  return best;
}

static void
query (const uint8_t *msg, size_t len, gboolean authorized)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (MeshWireQuery) q = NULL;
  g_autoptr (MeshWireUpdateQuery) uq = NULL;
  g_autoptr (MeshWireResponse) r = NULL;
  g_autoptr (MeshWireUpdateManifest) got = NULL;
  g_autoptr (GBytes) answer = NULL;
  gboolean latest, by_id;
  int want_code, best = -1;

  q = (MeshWireQuery *) round_trip (&meshara__v1__query_message__descriptor,
                                    msg, len, "QueryMessage");
  if (q == NULL)
    return;
  answer = mesh_update_query_answer (q, published, authorized);
  if (answer == NULL)
    fail ("the authority did not answer a query", NULL);
  r = mesh_wire_decode_response (g_bytes_get_data (answer, NULL),
                                 g_bytes_get_size (answer), &error);
  if (r == NULL)
    fail ("the authority's answer is not a valid ResponseMessage", error);
  if (r->query_id.len != q->query_id.len
      || memcmp (r->query_id.data, q->query_id.data, q->query_id.len) != 0)
    fail ("the answer carries another query ID", NULL);

  latest = strcmp (q->query_type, MESH_WIRE_QUERY_UPDATE_LATEST) == 0;
  by_id = strcmp (q->query_type, MESH_WIRE_QUERY_UPDATE_MANIFEST) == 0;
  if (latest)
    uq = mesh_wire_decode_update_query (q->body.data, q->body.len, NULL);
  if (!latest && !by_id)
    want_code = MESH_WIRE_RESPONSE_ERROR;
  else if (!authorized)
    want_code = MESH_WIRE_RESPONSE_UNAUTHORIZED;
  else if ((latest && uq == NULL) || (by_id && q->body.len != MESH_SHA256_LEN))
    want_code = MESH_WIRE_RESPONSE_ERROR;
  else
    {
      best = model_answer (q, uq);
      want_code = best < 0 ? MESH_WIRE_RESPONSE_NOT_FOUND
                           : MESH_WIRE_RESPONSE_OK;
    }
  if ((int) r->code != want_code)
    fail ("the authority answered with another code than the rules give",
          NULL);
  if (want_code == MESH_WIRE_RESPONSE_OK)
    {
      GBytes *b = g_ptr_array_index (published, best);

      if (r->body.len != g_bytes_get_size (b)
          || memcmp (r->body.data, g_bytes_get_data (b, NULL), r->body.len) != 0)
        fail ("the authority answered with another manifest", NULL);
    }

  /* The asker reads it back. */
  if (q->query_id.len != MESH_WIRE_QUERY_ID_LEN)
    return;
  got = mesh_update_query_result (r, q->query_id.data, &error);
  switch (want_code)
    {
    case MESH_WIRE_RESPONSE_OK:
      {
        uint8_t a[MESH_SHA256_LEN], b[MESH_SHA256_LEN];

        if (got == NULL)
          fail ("the asker refused a good answer", error);
        mesh_update_manifest_digest (got, a);
        mesh_update_manifest_digest (published_m[best], b);
        if (memcmp (a, b, sizeof a) != 0)
          fail ("the asker read another manifest", NULL);
        break;
      }
    case MESH_WIRE_RESPONSE_NOT_FOUND:
      mesh_fuzz_expect (got != NULL, error, MESHARA_ERROR_NOT_FOUND,
                        "mesh_update_query_result");
      break;
    case MESH_WIRE_RESPONSE_UNAUTHORIZED:
      mesh_fuzz_expect (got != NULL, error, MESHARA_ERROR_PERMISSION,
                        "mesh_update_query_result");
      break;
    default:
      mesh_fuzz_expect (got != NULL, error, MESHARA_ERROR_FAILED,
                        "mesh_update_query_result");
    }
}

static void
response (const uint8_t *msg, size_t len, gboolean own_id)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (MeshWireResponse) r = NULL;
  g_autoptr (MeshWireUpdateManifest) got = NULL;
  const guint8 *qid = fixed_query_id;
  gboolean same_id;

  r = (MeshWireResponse *) round_trip (&meshara__v1__response_message__descriptor,
                                       msg, len, "ResponseMessage");
  if (r == NULL)
    return;
  if (own_id && r->query_id.len == MESH_WIRE_QUERY_ID_LEN)
    qid = r->query_id.data;
  same_id = r->query_id.len == MESH_WIRE_QUERY_ID_LEN
            && memcmp (r->query_id.data, qid, MESH_WIRE_QUERY_ID_LEN) == 0;
  got = mesh_update_query_result (r, qid, &error);
  if (got == NULL)
    {
      mesh_fuzz_check_error (error, "mesh_update_query_result");
      if (!same_id)
        mesh_fuzz_expect_code (error, MESHARA_ERROR_INVALID,
                               "mesh_update_query_result");
      return;
    }
  if (!same_id || r->code != MESH_WIRE_RESPONSE_OK)
    fail ("the asker took an answer to another query or a refusal", NULL);
  {
    g_autoptr (MeshWireUpdateManifest) m =
      mesh_update_manifest_parse (r->body.data, r->body.len, NULL);
    g_autoptr (GBytes) a = NULL, b = NULL;

    if (m == NULL)
      fail ("the asker returned a manifest its body does not hold", NULL);
    a = mesh_wire_encode (&m->base);
    b = mesh_wire_encode (&got->base);
    if (!g_bytes_equal (a, b))
      fail ("the asker returned another manifest than the body's", NULL);
  }
}

static void
update_query (const uint8_t *msg, size_t len)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) built = NULL;
  g_autoptr (MeshWireQuery) q = NULL;
  MeshWireUpdateQuery *uq;

  uq = (MeshWireUpdateQuery *) round_trip (&meshara__v1__update_query__descriptor,
                                           msg, len, "UpdateQuery");
  if (uq == NULL)
    return;
  /* What decodes can be asked again. */
  built = mesh_update_query_latest (fixed_query_id, uq->name,
                                    uq->installed_version, &error);
  if (built == NULL)
    fail ("a valid UpdateQuery cannot be built again", error);
  q = mesh_wire_decode_query (g_bytes_get_data (built, NULL),
                              g_bytes_get_size (built), &error);
  if (q == NULL || strcmp (q->query_type, MESH_WIRE_QUERY_UPDATE_LATEST) != 0)
    fail ("a built update-latest query does not decode", error);
  mesh_wire_free (&uq->base);
}

static void
trust_store (const uint8_t *msg, size_t len)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (MeshTrustStore) ts = NULL;
  g_autoptr (MeshTrustStore) again = NULL;
  g_autoptr (GBytes) a = NULL, b = NULL;
  guint n;

  ts = mesh_trust_store_decode (msg, len, &error);
  if (ts == NULL)
    {
      mesh_fuzz_check_error (error, "mesh_trust_store_decode");
      return;
    }
  n = mesh_trust_store_count (ts);
  if (mesh_trust_store_get_threshold (ts) < 1
      || mesh_trust_store_get_threshold (ts) > MESH_WIRE_MAX_AUTHORITY_SIGS
      || n > MESH_WIRE_MAX_TRUSTED_AUTHORITIES)
    fail ("a trust store out of its bounds loaded", NULL);
  for (guint i = 0; i < n; i++)
    {
      const MeshAuthority *x = mesh_trust_store_get (ts, i);
      size_t name_len = x->name ? strlen (x->name) : 0;

      if (name_len < 1 || name_len > 128 || x->description == NULL
          || x->url == NULL || x->level < MESH_TRUST_UPDATE
          || x->level > MESH_TRUST_FULL
          || mesh_trust_store_lookup (ts, x->public_key) != x)
        fail ("a trust store entry breaking the rules loaded", NULL);
    }
  a = mesh_trust_store_encode (ts);
  again = mesh_trust_store_decode (g_bytes_get_data (a, NULL),
                                   g_bytes_get_size (a), &error);
  if (again == NULL)
    fail ("an encoded trust store does not load", error);
  b = mesh_trust_store_encode (again);
  if (!g_bytes_equal (a, b) || mesh_trust_store_count (again) != n)
    fail ("a trust store changed through encode and load", NULL);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  MeshFuzzInput in;
  uint8_t pick, flags;
  guint k;
  guint64 installed;
  const uint8_t *msg;
  size_t len;

  init ();
  mesh_fuzz_input_init (&in, data, size);
  pick = mesh_fuzz_u8 (&in) % N_PICKS;
  flags = mesh_fuzz_u8 (&in);
  k = 1 + mesh_fuzz_u8 (&in) % 3;
  installed = mesh_fuzz_u64 (&in);
  len = mesh_fuzz_bytes (&in, in.n, &msg);
  if (!mesh_trust_store_set_threshold (mesh_fuzz_trust, k, NULL))
    abort ();

  switch (pick)
    {
    case PICK_NOTICE:
      notice (msg, len, flags & 0x0f, k, installed);
      break;
    case PICK_ANNOUNCEMENT:
      announcement (msg, len);
      break;
    case PICK_QUERY:
      query (msg, len, (flags & 0x10) != 0);
      break;
    case PICK_RESPONSE:
      response (msg, len, (flags & 0x20) != 0);
      break;
    case PICK_UPDATE_QUERY:
      update_query (msg, len);
      break;
    default:
      trust_store (msg, len);
    }
  return 0;
}
