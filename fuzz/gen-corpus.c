/* Writes the seed corpora: valid encodings of every message type into
 * fuzz/base_message_fuzzer.in/, streams of such frames with several
 * piece layouts into fuzz/frame_fuzzer.in/, each payload on its own into
 * fuzz/wire_payload_fuzzer.in/, contact records, public key bundles,
 * keystore images and session inputs into the directories of their
 * targets.  Deterministic: fixed keys, times, contents and randomness, so
 * the committed files change only with the formats.
 *
 *   make fuzz-corpus        (or: fuzz/gen-corpus [DIR], DIR = fuzz/) */
#include "config.h"

#include "fuzz.h"
#include "wire/codec.h"
#include "crypto/identity.h"
#include "crypto/hash.h"
#include "crypto/keystore.h"
#include "crypto/noise.h"
#include "crypto/session.h"
#include "fuzz-update.h"
#include "update/notice.h"
#include "update/query.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <meshara/meshara.h>

#define TS G_GUINT64_CONSTANT (1700000000000)

static const char *outdir = FUZZ_SRCDIR;
static MeshIdentity alice, bob, authority;
static GByteArray *all_frames;        /* every base message, framed */

static void
write_file (const char *sub, const char *name, const guint8 *data, gsize len)
{
  char *dir = g_build_filename (outdir, sub, NULL);
  char *path = g_build_filename (dir, name, NULL);
  GError *error = NULL;

  if (g_mkdir_with_parents (dir, 0755) != 0)
    {
      fprintf (stderr, "gen-corpus: %s: %s\n", dir, g_strerror (errno));
      exit (1);
    }
  if (!g_file_set_contents (path, (const char *) data, (gssize) len, &error))
    {
      fprintf (stderr, "gen-corpus: %s\n", error->message);
      exit (1);
    }
  g_free (path);
  g_free (dir);
}

static ProtobufCBinaryData
bin (const void *p, gsize n)
{
  ProtobufCBinaryData b = { n, (guint8 *) p };
  return b;
}

/* n bytes derived from label, kept until exit. */
static ProtobufCBinaryData
filled (gsize n, const char *label)
{
  guint8 *p = g_malloc (n ? n : 1);
  guint8 block[MESH_SHA256_LEN];

  for (gsize i = 0; i < n; i += sizeof block)
    {
      char *in = g_strdup_printf ("%s/%" G_GSIZE_FORMAT, label, i);
      mesh_sha256 (in, strlen (in), block);
      memcpy (p + i, block, MIN (sizeof block, n - i));
      g_free (in);
    }
  return bin (p, n);
}

static ProtobufCBinaryData
node_id_of (const MeshIdentity *id)
{
  return bin (id->pub.node_id, MESH_NODE_ID_LEN);
}

static ProtobufCBinaryData
bundle_of (const MeshIdentity *id)
{
  guint8 *b = g_malloc (MESH_BUNDLE_LEN);
  mesh_bundle_serialize (&id->pub, b);
  return bin (b, MESH_BUNDLE_LEN);
}

/* wire_payload_fuzzer: byte 0 picks the message (0 BaseMessage, 1-19
 * that MessageType's payload, 20 PrivateContent, 21 ContactRecord). */
#define PICK_BASE 0
#define PICK_PRIVATE_CONTENT 20
#define PICK_CONTACT_RECORD 21

/* Mutants of a valid message for the validators' error paths: for each
 * field (and each field of its first submessage, one level down) a copy
 * with that field emptied, overlong, out of range, duplicated or
 * flooded.  Packed with protobuf-c directly, so nothing checks them on
 * the way out.  The copies are never freed: this program is short. */
static const ProtobufCMessageDescriptor *
pick_descriptor (guint8 pick)
{
  const MeshWireTypeInfo *info;

  if (pick == PICK_BASE)
    return &meshara__v1__base_message__descriptor;
  if (pick == PICK_PRIVATE_CONTENT)
    return &meshara__v1__private_content__descriptor;
  if (pick == PICK_CONTACT_RECORD)
    return &meshara__v1__contact_record__descriptor;
  info = mesh_wire_type_info (pick);
  return info ? info->descriptor : NULL;
}

/* Kinds of mutation, per field. */
enum { MUT_EMPTY, MUT_BIG, MUT_ODD, MUT_N };

/* Change field f of m by kind; FALSE when the kind does not apply. */
static gboolean
mutate_field (ProtobufCMessage *m, const ProtobufCFieldDescriptor *f, int kind)
{
  char *base = (char *) m;
  void *field = base + f->offset;

  if (f->label == PROTOBUF_C_LABEL_REPEATED)
    {
      size_t *n = (size_t *) (base + f->quantifier_offset);
      size_t el;
      char **arr = (char **) field;
      size_t want;
      char *copy;

      if (kind == MUT_EMPTY)
        {
          if (*n == 0)
            return FALSE;
          *n = 0;
          return TRUE;
        }
      if (*n == 0)
        return FALSE;
      switch (f->type)
        {
        case PROTOBUF_C_TYPE_BYTES: el = sizeof (ProtobufCBinaryData); break;
        case PROTOBUF_C_TYPE_STRING:
        case PROTOBUF_C_TYPE_MESSAGE: el = sizeof (void *); break;
        case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_INT64:
        case PROTOBUF_C_TYPE_FIXED64: el = 8; break;
        default: el = 4;
        }
      /* Twice the first element (duplicates), or more of it than any
       * count limit allows (40 messages, 1030 of anything else). */
      want = kind != MUT_BIG ? 2 : f->type == PROTOBUF_C_TYPE_MESSAGE ? 40 : 1030;
      copy = g_malloc (want * el);
      for (size_t i = 0; i < want; i++)
        memcpy (copy + i * el, *arr, el);
      *arr = copy;
      *n = want;
      return TRUE;
    }
  switch (f->type)
    {
    case PROTOBUF_C_TYPE_BYTES:
      {
        ProtobufCBinaryData *b = field;
        guint8 *p;

        if (kind == MUT_EMPTY)
          {
            if (b->len == 0)
              return FALSE;
            b->len = 0;
            return TRUE;
          }
        p = g_malloc0 (b->len + 1 + (kind == MUT_BIG ? 1100 : 0));
        memcpy (p, b->data, b->len);
        b->len += 1 + (kind == MUT_BIG ? 1100 : 0);
        b->data = p;
        return TRUE;
      }
    case PROTOBUF_C_TYPE_STRING:
      {
        char **str = field;

        if (kind == MUT_EMPTY)
          *str = (char *) "";
        else if (kind == MUT_BIG)
          {
            char *big = g_malloc (1101);
            memset (big, 'a', 1100);
            big[1100] = '\0';
            *str = big;
          }
        else
          *str = (char *) "bad\001name \xc3(";
        return TRUE;
      }
    case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_ENUM:
      *(guint32 *) field = kind == MUT_EMPTY ? 0 : kind == MUT_BIG ? G_MAXUINT32 : 99;
      return TRUE;
    case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_INT64:
      *(guint64 *) field = kind == MUT_EMPTY ? 0 : kind == MUT_BIG ? G_MAXUINT64 : 1;
      return TRUE;
    case PROTOBUF_C_TYPE_BOOL:
      *(protobuf_c_boolean *) field = kind != MUT_EMPTY;
      return TRUE;
    case PROTOBUF_C_TYPE_MESSAGE:
      if (kind != MUT_EMPTY || *(void **) field == NULL)
        return FALSE;
      *(void **) field = NULL;
      return TRUE;
    default:
      return FALSE;
    }
}

static void
write_mutant (const char *name, guint8 pick, const char *what, int kind,
              ProtobufCMessage *m)
{
  static const char *const kinds[] = { "empty", "big", "odd" };
  size_t n = protobuf_c_message_get_packed_size (m);
  guint8 *buf = g_malloc (n + 1);
  char *file;

  buf[0] = pick;
  protobuf_c_message_pack (m, buf + 1);
  file = g_strdup_printf ("%s-x-%s-%s.bin", name, what, kinds[kind]);
  write_file ("wire_payload_fuzzer.in", file, buf, n + 1);
  g_free (file);
  g_free (buf);
}

static void
emit_mutants (const char *name, guint8 pick, const guint8 *data, gsize len)
{
  static gboolean done[256];
  const ProtobufCMessageDescriptor *desc = pick_descriptor (pick);

  /* The first message of each kind is enough. */
  if (desc == NULL || done[pick])
    return;
  done[pick] = TRUE;
  for (unsigned i = 0; i < desc->n_fields; i++)
    {
      const ProtobufCFieldDescriptor *f = &desc->fields[i];

      for (int kind = 0; kind < MUT_N; kind++)
        {
          ProtobufCMessage *m = protobuf_c_message_unpack (desc, NULL, len, data);

          if (m != NULL && mutate_field (m, f, kind))
            write_mutant (name, pick, f->name, kind, m);
        }
      /* One level down: the fields of the (first) submessage. */
      if (f->type == PROTOBUF_C_TYPE_MESSAGE)
        {
          const ProtobufCMessageDescriptor *sub = f->descriptor;

          for (unsigned j = 0; j < sub->n_fields; j++)
            for (int kind = 0; kind < MUT_N; kind++)
              {
                ProtobufCMessage *m = protobuf_c_message_unpack (desc, NULL,
                                                                 len, data);
                char *base = (char *) m;
                ProtobufCMessage *inner;
                char *what;

                if (m == NULL)
                  continue;
                if (f->label == PROTOBUF_C_LABEL_REPEATED)
                  {
                    size_t n = *(size_t *) (base + f->quantifier_offset);
                    inner = n ? (*(ProtobufCMessage ***) (base + f->offset))[0]
                              : NULL;
                  }
                else
                  inner = *(ProtobufCMessage **) (base + f->offset);
                if (inner == NULL || !mutate_field (inner, &sub->fields[j], kind))
                  continue;
                what = g_strdup_printf ("%s.%s", f->name, sub->fields[j].name);
                write_mutant (name, pick, what, kind, m);
                g_free (what);
              }
        }
    }
}

static void
emit_payload (const char *name, guint8 pick, const guint8 *data, gsize len)
{
  GByteArray *a = g_byte_array_new ();
  char *file = g_strconcat (name, ".bin", NULL);

  g_byte_array_append (a, &pick, 1);
  g_byte_array_append (a, data, (guint) len);
  write_file ("wire_payload_fuzzer.in", file, a->data, a->len);
  g_free (file);
  g_byte_array_unref (a);
  emit_mutants (name, pick, data, len);
}

/* Wrap payload into a BaseMessage of type, with the envelope the type
 * asks for; write it and remember the frame. */
static void
emit (const char *name, guint32 type, const ProtobufCMessage *payload,
      GByteArray *unknown_tail)
{
  const MeshWireTypeInfo *info = mesh_wire_type_info (type);
  MeshWireBaseMessage b = MESHARA__V1__BASE_MESSAGE__INIT;
  MeshWireRoutingInfo r = MESHARA__V1__ROUTING_INFO__INIT;
  guint8 id[MESH_WIRE_ID_LEN], sig[MESH_ED25519_SIG_LEN];
  GBytes *p = payload ? mesh_wire_encode (payload) : g_bytes_new ("\x08\x01", 2);
  GBytes *enc;
  GError *error = NULL;
  GByteArray *out;
  guint8 h[MESH_FRAME_HEADER_LEN];

  b.version = MESH_WIRE_PROTOCOL_VERSION;
  b.type = type;
  b.timestamp_ms = TS;
  b.payload.data = (guint8 *) g_bytes_get_data (p, &b.payload.len);
  if (info == NULL || (info->flags & MESH_WIRE_ROUTED))
    {
      r.route_type = MESH_WIRE_ROUTE_ROUTED;
      r.hop_count = 2;
      r.max_hops = 16;
      r.destination = node_id_of (&bob);
      r.next_hop = node_id_of (&authority);
      b.routing = &r;
    }
  else if (info->flags & MESH_WIRE_FLOODED)
    {
      r.route_type = MESH_WIRE_ROUTE_FLOOD;
      r.hop_count = 1;
      r.max_hops = 12;
      b.routing = &r;
    }
  if (info && (info->flags & MESH_WIRE_SIGNED))
    b.sender_public_key = bin (alice.pub.ed_pub, MESH_ED25519_KEY_LEN);
  mesh_wire_compute_message_id (&b, id);
  b.message_id = bin (id, sizeof id);
  if (info && (info->flags & MESH_WIRE_SIGNED))
    {
      mesh_identity_sign (&alice, id, sizeof id, sig);
      b.signature = bin (sig, sizeof sig);
    }
  if (info && !mesh_wire_validate (&b.base, &error))
    {
      fprintf (stderr, "gen-corpus: %s: %s\n", name, error->message);
      exit (1);
    }
  if (payload && !mesh_wire_validate (payload, &error))
    {
      fprintf (stderr, "gen-corpus: %s payload: %s\n", name, error->message);
      exit (1);
    }

  if (payload)
    emit_payload (name, (guint8) type, g_bytes_get_data (p, NULL),
                  g_bytes_get_size (p));

  enc = mesh_wire_encode (&b.base);
  out = g_byte_array_new ();
  g_byte_array_append (out, g_bytes_get_data (enc, NULL), g_bytes_get_size (enc));
  if (unknown_tail)
    g_byte_array_append (out, unknown_tail->data, unknown_tail->len);
  {
    char *file = g_strconcat (name, ".bin", NULL);
    write_file ("base_message_fuzzer.in", file, out->data, out->len);
    g_free (file);
  }
  {
    char *file = g_strconcat (name, "-base", NULL);
    emit_payload (file, PICK_BASE, out->data, out->len);
    g_free (file);
  }
  mesh_frame_write_header (h, out->len);
  g_byte_array_append (all_frames, h, sizeof h);
  g_byte_array_append (all_frames, out->data, out->len);

  g_byte_array_unref (out);
  g_bytes_unref (enc);
  g_bytes_unref (p);
}

/* A private message whose "ciphertext" is counter || content || zero
 * tag: the layout the base_message fuzzer opens without a key. */
static void
emit_private (const char *name, guint32 inner_type, const ProtobufCMessage *inner,
              gboolean with_init, guint64 counter)
{
  MeshWirePrivateContent c = MESHARA__V1__PRIVATE_CONTENT__INIT;
  MeshWirePrivateMessage p = MESHARA__V1__PRIVATE_MESSAGE_PAYLOAD__INIT;
  GBytes *body = inner ? mesh_wire_encode (inner) : NULL;
  GBytes *content;
  GByteArray *ct = g_byte_array_new ();
  guint8 ctr[MESH_WIRE_COUNTER_LEN], tag[MESH_WIRE_TAG_LEN] = { 0 };

  c.type = inner_type;
  if (body)
    c.body.data = (guint8 *) g_bytes_get_data (body, &c.body.len);
  else
    c.body = bin ("hello, bob", 10);
  c.padding = filled (5, "padding");
  content = mesh_wire_encode (&c.base);
  {
    char *file = g_strconcat (name, "-content", NULL);
    emit_payload (file, PICK_PRIVATE_CONTENT, g_bytes_get_data (content, NULL),
                  g_bytes_get_size (content));
    g_free (file);
  }

  for (int i = 0; i < 8; i++)
    ctr[i] = (guint8) (counter >> (56 - 8 * i));
  g_byte_array_append (ct, ctr, sizeof ctr);
  g_byte_array_append (ct, g_bytes_get_data (content, NULL), g_bytes_get_size (content));
  g_byte_array_append (ct, tag, sizeof tag);

  p.session_id = filled (MESH_WIRE_SESSION_ID_LEN, "session");
  if (with_init)
    p.session_init = filled (MESH_WIRE_SESSION_INIT_LEN, "session-init");
  p.ciphertext = bin (ct->data, ct->len);
  emit (name, MESH_WIRE_TYPE_PRIVATE, &p.base, NULL);

  g_byte_array_unref (ct);
  g_bytes_unref (content);
  if (body)
    g_bytes_unref (body);
}

static MeshWireAuthoritySignature *
authority_signature (const char *what)
{
  MeshWireAuthoritySignature *s = g_new0 (MeshWireAuthoritySignature, 1);
  guint8 *sig = g_malloc (MESH_ED25519_SIG_LEN);

  meshara__v1__authority_signature__init (s);
  mesh_identity_sign (&authority, what, strlen (what), sig);
  s->public_key = bin (authority.pub.ed_pub, MESH_ED25519_KEY_LEN);
  s->signature = bin (sig, MESH_ED25519_SIG_LEN);
  return s;
}

static MeshWireContactRecord *
contact_record (const MeshIdentity *id)
{
  static char *addresses[] = { (char *) "192.0.2.7:7400", (char *) "[2001:db8::7]:7400" };
  MeshWireContactRecord *r = g_new0 (MeshWireContactRecord, 1);
  guint8 *sig = g_malloc (MESH_ED25519_SIG_LEN);

  meshara__v1__contact_record__init (r);
  r->node_id = node_id_of (id);
  r->bundle = bundle_of (id);
  r->n_addresses = 2;
  r->addresses = addresses;
  r->timestamp_ms = TS;
  r->expires_ms = TS + 24 * 3600 * 1000;
  mesh_identity_sign (id, "contact record", 14, sig);
  r->signature = bin (sig, MESH_ED25519_SIG_LEN);
  return r;
}

static void
emit_all (void)
{
  /* Private messages, and queries and responses inside them. */
  emit_private ("private-1", MESH_WIRE_TYPE_PRIVATE, NULL, TRUE, 0);
  emit_private ("private-2", MESH_WIRE_TYPE_PRIVATE, NULL, FALSE, 41);
  {
    MeshWireQuery q = MESHARA__V1__QUERY_MESSAGE__INIT;
    q.query_id = filled (MESH_WIRE_QUERY_ID_LEN, "query");
    q.query_type = (char *) "latest-version";
    q.body = bin ("meshara-tools", 13);
    emit_private ("query-1", MESH_WIRE_TYPE_QUERY, &q.base, TRUE, 0);
  }
  {
    MeshWireResponse r = MESHARA__V1__RESPONSE_MESSAGE__INIT;
    r.query_id = filled (MESH_WIRE_QUERY_ID_LEN, "query");
    r.code = MESH_WIRE_RESPONSE_OK;
    r.body = bin ("\x08\x2a", 2);
    r.message = (char *) "";
    emit_private ("response-1", MESH_WIRE_TYPE_RESPONSE, &r.base, FALSE, 1);
    r.code = MESH_WIRE_RESPONSE_UNAUTHORIZED;
    r.body.len = 0;
    r.message = (char *) "not an authority";
    emit_private ("response-2", MESH_WIRE_TYPE_RESPONSE, &r.base, FALSE, 2);
  }

  {
    MeshWireAck a = MESHARA__V1__ACKNOWLEDGMENT__INIT;
    a.acked_message_id = filled (32, "acked");
    a.session_id = filled (16, "session");
    a.counter = 41;
    a.status = MESH_WIRE_ACK_DELIVERED;
    a.tag = filled (16, "ack tag");
    emit ("ack-1", MESH_WIRE_TYPE_ACK, &a.base, NULL);
    a.status = MESH_WIRE_ACK_SESSION_UNKNOWN;
    a.tag.len = 0;
    emit ("ack-2", MESH_WIRE_TYPE_ACK, &a.base, NULL);
  }

  {
    MeshWireBroadcast bc = MESHARA__V1__BROADCAST_PAYLOAD__INIT;
    MeshWireMetadataEntry e1 = MESHARA__V1__BROADCAST_PAYLOAD__METADATA_ENTRY__INIT;
    MeshWireMetadataEntry e2 = MESHARA__V1__BROADCAST_PAYLOAD__METADATA_ENTRY__INIT;
    MeshWireMetadataEntry *md[] = { &e1, &e2 };
    bc.content = bin ("the mesh is up", 14);
    bc.content_type = (char *) "text/plain";
    emit ("broadcast-1", MESH_WIRE_TYPE_BROADCAST, &bc.base, NULL);
    e1.key = (char *) "lang";
    e1.value = (char *) "en";
    e2.key = (char *) "channel";
    e2.value = (char *) "announcements \xe2\x9c\x93";
    bc.n_metadata = 2;
    bc.metadata = md;
    bc.content = filled (600, "broadcast content");
    bc.content_type = (char *) "application/octet-stream";
    emit ("broadcast-2", MESH_WIRE_TYPE_BROADCAST, &bc.base, NULL);
  }

  {
    MeshWireUpdatePackage u = MESHARA__V1__UPDATE_PACKAGE__INIT;
    MeshWireAuthoritySignature *sigs[] = { authority_signature ("package") };
    guint8 *sum = g_malloc (32);
    u.name = (char *) "meshara-tools";
    u.version = 3;
    u.version_label = (char *) "0.3.0";
    u.data = filled (2000, "package data");
    mesh_sha256 (u.data.data, u.data.len, sum);
    u.checksum = bin (sum, 32);
    u.changelog = (char *) "Faster routing.\n";
    u.min_version = 1;
    u.n_signatures = 1;
    u.signatures = sigs;
    emit ("update-package-1", MESH_WIRE_TYPE_UPDATE_PACKAGE, &u.base, NULL);
  }
  {
    MeshWireUpdateAnnouncement a = MESHARA__V1__UPDATE_ANNOUNCEMENT__INIT;
    MeshWireAuthoritySignature *sigs[] = { authority_signature ("announcement") };
    ProtobufCBinaryData hashes[3];
    a.package_id = filled (32, "package id");
    a.name = (char *) "meshara-tools";
    a.version = 3;
    a.version_label = (char *) "0.3.0";
    a.size = 2 * MESH_WIRE_DEFAULT_CHUNK_SIZE + 100;
    a.chunk_size = MESH_WIRE_DEFAULT_CHUNK_SIZE;
    for (int i = 0; i < 3; i++)
      hashes[i] = filled (32, i == 0 ? "c0" : i == 1 ? "c1" : "c2");
    a.n_chunk_hashes = 3;
    a.chunk_hashes = hashes;
    a.n_signatures = 1;
    a.signatures = sigs;
    emit ("update-announcement-1", MESH_WIRE_TYPE_UPDATE_ANNOUNCEMENT, &a.base, NULL);
  }
  {
    MeshWireUpdateRequest q = MESHARA__V1__UPDATE_REQUEST__INIT;
    uint32_t idx[] = { 0, 2, 1 };
    q.package_id = filled (32, "package id");
    q.n_chunk_indices = 3;
    q.chunk_indices = idx;
    emit ("update-request-1", MESH_WIRE_TYPE_UPDATE_REQUEST, &q.base, NULL);
  }
  {
    MeshWireUpdateChunk c = MESHARA__V1__UPDATE_CHUNK__INIT;
    guint8 *h = g_malloc (32);
    c.package_id = filled (32, "package id");
    c.index = 2;
    c.data = filled (100, "chunk 2");
    mesh_sha256 (c.data.data, c.data.len, h);
    c.hash = bin (h, 32);
    emit ("update-chunk-1", MESH_WIRE_TYPE_UPDATE_CHUNK, &c.base, NULL);
  }
  {
    MeshWireRouteAdvertisement ra = MESHARA__V1__ROUTE_ADVERTISEMENT__INIT;
    MeshWireRouteEntry e[3];
    MeshWireRouteEntry *ep[3];
    const MeshIdentity *ids[3] = { &alice, &bob, &authority };
    for (int i = 0; i < 3; i++)
      {
        meshara__v1__route_entry__init (&e[i]);
        e[i].destination = node_id_of (ids[i]);
        e[i].hop_count = 1 + i;
        e[i].cost = 10 * (1 + i);
        e[i].withdrawn = i == 2;
        ep[i] = &e[i];
      }
    ra.n_entries = 3;
    ra.entries = ep;
    ra.sequence = 5;
    ra.full_table = TRUE;
    emit ("route-advertisement-1", MESH_WIRE_TYPE_ROUTE_ADVERTISEMENT, &ra.base, NULL);
  }
  {
    MeshWireHello h = MESHARA__V1__HELLO__INIT;
    char *addrs[] = { (char *) "192.0.2.1:7400", (char *) "[2001:db8::1]:7400" };
    GByteArray *tail = g_byte_array_new ();
    h.protocol_version = MESH_WIRE_PROTOCOL_VERSION;
    h.bundle = bundle_of (&alice);
    h.capabilities = MESH_WIRE_CAP_RELAY | MESH_WIRE_CAP_DHT;
    h.n_listen_addresses = 2;
    h.listen_addresses = addrs;
    h.agent = (char *) "meshara/" PACKAGE_VERSION;
    emit ("hello-1", MESH_WIRE_TYPE_HELLO, &h.base, NULL);
    /* Fields of a later revision: a varint, bytes, fixed64, fixed32. */
    static const char later[] = "\xc0\x3e\x05" "\xca\x3e\x03xyz"
                                "\xd1\x3e\x01\x02\x03\x04\x05\x06\x07\x08"
                                "\xdd\x3e\x01\x02\x03\x04";
    g_byte_array_append (tail, (const guint8 *) later, sizeof later - 1);
    emit ("unknown-fields-1", MESH_WIRE_TYPE_HELLO, &h.base, tail);
    g_byte_array_unref (tail);
  }
  {
    MeshWirePing p = MESHARA__V1__PING__INIT;
    MeshWirePong q = MESHARA__V1__PONG__INIT;
    p.nonce = G_GUINT64_CONSTANT (0x1122334455667788);
    p.timestamp = 123456789;
    emit ("ping-1", MESH_WIRE_TYPE_PING, &p.base, NULL);
    q.nonce = p.nonce;
    q.timestamp = p.timestamp;
    emit ("pong-1", MESH_WIRE_TYPE_PONG, &q.base, NULL);
  }
  {
    MeshWireFindNode f = MESHARA__V1__FIND_NODE__INIT;
    MeshWireFindValue v = MESHARA__V1__FIND_VALUE__INIT;
    f.target = node_id_of (&bob);
    f.lookup_id = 1;
    emit ("find-node-1", MESH_WIRE_TYPE_FIND_NODE, &f.base, NULL);
    v.key = node_id_of (&bob);
    v.lookup_id = 2;
    emit ("find-value-1", MESH_WIRE_TYPE_FIND_VALUE, &v.base, NULL);
  }
  {
    MeshWireStore s = MESHARA__V1__STORE__INIT;
    s.record = contact_record (&bob);
    emit ("store-1", MESH_WIRE_TYPE_STORE, &s.base, NULL);
  }
  {
    MeshWireNodes n = MESHARA__V1__NODES__INIT;
    MeshWireNodeInfo ni[2];
    MeshWireNodeInfo *nip[2] = { &ni[0], &ni[1] };
    char *addrs[] = { (char *) "198.51.100.3:7400" };
    const MeshIdentity *ids[2] = { &alice, &authority };
    for (int i = 0; i < 2; i++)
      {
        meshara__v1__node_info__init (&ni[i]);
        ni[i].node_id = node_id_of (ids[i]);
        ni[i].bundle = bundle_of (ids[i]);
        ni[i].n_addresses = 1;
        ni[i].addresses = addrs;
      }
    n.lookup_id = 2;
    n.n_nodes = 2;
    n.nodes = nip;
    emit ("nodes-1", MESH_WIRE_TYPE_NODES, &n.base, NULL);
    n.record = contact_record (&bob);
    emit ("nodes-2", MESH_WIRE_TYPE_NODES, &n.base, NULL);
  }
  {
    MeshWireGossipAnnounce a = MESHARA__V1__GOSSIP_ANNOUNCE__INIT;
    MeshWireGossipPull p = MESHARA__V1__GOSSIP_PULL__INIT;
    ProtobufCBinaryData ids[3] = {
      filled (32, "m1"), filled (32, "m2"), filled (32, "m3"),
    };
    a.n_message_ids = 3;
    a.message_ids = ids;
    emit ("gossip-announce-1", MESH_WIRE_TYPE_GOSSIP_ANNOUNCE, &a.base, NULL);
    p.n_message_ids = 1;
    p.message_ids = &ids[1];
    emit ("gossip-pull-1", MESH_WIRE_TYPE_GOSSIP_PULL, &p.base, NULL);
  }

  /* A type of a later revision, routed. */
  emit ("unknown-type-1", 77, NULL, NULL);
}

/* Frame streams: header bytes of the frame fuzzer (piece-size count,
 * max-frame-size exponent, piece sizes), then frames. */
static void
emit_stream (const char *name, const guint8 *sizes, gsize n_sizes, guint8 max_exp,
             const guint8 *stream, gsize len)
{
  GByteArray *a = g_byte_array_new ();
  guint8 head[2] = { (guint8) (n_sizes - 1), max_exp };

  g_byte_array_append (a, head, sizeof head);
  g_byte_array_append (a, sizes, (guint) n_sizes);
  g_byte_array_append (a, stream, (guint) len);
  write_file ("frame_fuzzer.in", name, a->data, a->len);
  g_byte_array_unref (a);
}

static void
emit_streams (void)
{
  static const guint8 one[] = { 1 };
  static const guint8 whole[] = { 255 };
  static const guint8 mixed[] = { 3, 255 };
  static const guint8 odd[] = { 7, 0, 13, 100, 1, 2 };
  /* 2^(10 + 10) = 1 MiB */
  const guint8 mib = 10;
  gsize first3 = 0, at = 0;
  GByteArray *bad = g_byte_array_new ();

  /* The first three frames. */
  for (int i = 0; i < 3; i++)
    {
      gsize n = mesh_frame_read_header (all_frames->data + at);
      at += MESH_FRAME_HEADER_LEN + n;
    }
  first3 = at;

  emit_stream ("frames-1.bin", one, 1, mib, all_frames->data, first3);
  emit_stream ("frames-2.bin", mixed, G_N_ELEMENTS (mixed), mib, all_frames->data, first3);
  emit_stream ("frames-3.bin", whole, 1, mib, all_frames->data, all_frames->len);
  emit_stream ("frames-4.bin", odd, G_N_ELEMENTS (odd), mib, all_frames->data, all_frames->len);
  /* max-frame-size 1 KiB: the larger frames are refused. */
  emit_stream ("frames-5.bin", odd, G_N_ELEMENTS (odd), 0, all_frames->data, all_frames->len);

  /* A frame, then a zero-length header, then another frame. */
  g_byte_array_append (bad, all_frames->data, (guint) first3);
  g_byte_array_append (bad, (const guint8 *) "\0\0\0\0", 4);
  g_byte_array_append (bad, all_frames->data, (guint) first3);
  emit_stream ("zero-length-1.bin", mixed, G_N_ELEMENTS (mixed), mib, bad->data, bad->len);

  /* A frame, then a header announcing 2 MiB against 1 MiB. */
  g_byte_array_set_size (bad, (guint) first3);
  g_byte_array_append (bad, (const guint8 *) "\0\x20\0\0", 4);
  g_byte_array_append (bad, (const guint8 *) "body", 4);
  emit_stream ("oversized-1.bin", one, 1, mib, bad->data, bad->len);
  g_byte_array_unref (bad);
}

/* Deterministic randomness: a splitmix64 stream. */
static void
seeded_rng (void *user_data, uint8_t *buf, size_t n)
{
  guint64 *state = user_data;

  for (size_t i = 0; i < n; i++)
    {
      guint64 z = (*state += G_GUINT64_CONSTANT (0x9e3779b97f4a7c15));
      z = (z ^ (z >> 30)) * G_GUINT64_CONSTANT (0xbf58476d1ce4e5b9);
      z = (z ^ (z >> 27)) * G_GUINT64_CONSTANT (0x94d049bb133111eb);
      buf[i] = (uint8_t) (z ^ (z >> 31));
    }
}

static void
put_u8 (GByteArray *a, guint8 v)
{
  g_byte_array_append (a, &v, 1);
}

static void
put_u16 (GByteArray *a, guint16 v)
{
  put_u8 (a, (guint8) (v >> 8));
  put_u8 (a, (guint8) v);
}

static void
put_u64 (GByteArray *a, guint64 v)
{
  for (int i = 56; i >= 0; i -= 8)
    put_u8 (a, (guint8) (v >> i));
}

static void
put_bytes (GByteArray *a, const void *p, gsize n)
{
  g_byte_array_append (a, p, (guint) n);
}

static void
write_array (const char *sub, const char *name, GByteArray *a)
{
  write_file (sub, name, a->data, a->len);
  g_byte_array_set_size (a, 0);
}

/* Write record into the contact record corpus, and as a wire_payload
 * seed when payload_name is given. */
static void
emit_record (const MeshWireContactRecord *r, const char *file,
             const char *payload_name)
{
  GBytes *enc = mesh_wire_encode (&r->base);

  write_file ("contact_record_fuzzer.in", file, g_bytes_get_data (enc, NULL),
              g_bytes_get_size (enc));
  if (payload_name != NULL)
    emit_payload (payload_name, PICK_CONTACT_RECORD,
                  g_bytes_get_data (enc, NULL), g_bytes_get_size (enc));
  g_bytes_unref (enc);
}

/* Contact records: valid ones (also as wire_payload seeds) and ones that
 * break one rule each. */
static void
emit_records (void)
{
  static char *unprintable[] = { (char *) "192.0.2.7:7400\x7f" };
  char *many[MESH_WIRE_MAX_ADDRESSES + 1];
  MeshWireContactRecord *r;
  GByteArray *a = g_byte_array_new ();
  GBytes *enc;

  for (int i = 0; i <= MESH_WIRE_MAX_ADDRESSES; i++)
    many[i] = g_strdup_printf ("node%d.example.org:%d", i, 7400 + i);
  /* The longest address allowed. */
  g_free (many[1]);
  many[1] = g_strnfill (MESH_WIRE_MAX_ADDRESS_LEN, 'h');

  emit_record (contact_record (&bob), "record-1.bin", "contact-record-1");
  r = contact_record (&alice);
  r->n_addresses = 0;
  emit_record (r, "no-addresses-1.bin", "contact-record-2");
  r->n_addresses = MESH_WIRE_MAX_ADDRESSES;
  r->addresses = many;
  emit_record (r, "most-addresses-1.bin", NULL);
  r->n_addresses = MESH_WIRE_MAX_ADDRESSES + 1;
  emit_record (r, "too-many-addresses-1.bin", NULL);

  /* Fields of a later revision. */
  enc = mesh_wire_encode (&contact_record (&authority)->base);
  put_bytes (a, g_bytes_get_data (enc, NULL), g_bytes_get_size (enc));
  put_bytes (a, "\xc0\x3e\x05" "\xca\x3e\x03xyz", 8);
  write_array ("contact_record_fuzzer.in", "unknown-fields-1.bin", a);
  g_bytes_unref (enc);

  r = contact_record (&bob);
  r->expires_ms = r->timestamp_ms;
  emit_record (r, "expired-at-birth-1.bin", NULL);
  r = contact_record (&bob);
  r->timestamp_ms = 0;
  emit_record (r, "no-timestamp-1.bin", NULL);
  r = contact_record (&bob);
  r->node_id.len = 31;
  emit_record (r, "short-node-id-1.bin", NULL);
  r = contact_record (&bob);
  r->signature.len = 63;
  emit_record (r, "short-signature-1.bin", NULL);
  r = contact_record (&bob);
  r->addresses = unprintable;
  r->n_addresses = 1;
  emit_record (r, "unprintable-address-1.bin", NULL);
  r = contact_record (&bob);
  r->node_id = node_id_of (&alice);
  emit_record (r, "foreign-node-id-1.bin", NULL);
  g_byte_array_unref (a);
}

/* Public key bundles, binary and text. */
static void
emit_bundles (void)
{
  static const char dir[] = "bundle_fuzzer.in";
  const MeshIdentity *ids[3] = { &alice, &bob, &authority };
  const char *names[3] = { "alice", "bob", "authority" };
  uint8_t raw[MESH_BUNDLE_LEN];
  char *text, *file;

  for (int i = 0; i < 3; i++)
    {
      mesh_bundle_serialize (&ids[i]->pub, raw);
      file = g_strdup_printf ("%s.bin", names[i]);
      write_file (dir, file, raw, sizeof raw);
      g_free (file);
      text = mesh_bundle_to_string (&ids[i]->pub);
      file = g_strdup_printf ("%s.txt", names[i]);
      write_file (dir, file, (const guint8 *) text, strlen (text));
      g_free (file);
      g_free (text);
    }

  mesh_bundle_serialize (&alice.pub, raw);
  write_file (dir, "truncated-1.bin", raw, 100);
  raw[0] = 2;
  write_file (dir, "version-2-1.bin", raw, sizeof raw);
  raw[0] = MESH_BUNDLE_VERSION;
  raw[1 + 32 + 32 + 10] ^= 1;
  write_file (dir, "bad-signature-1.bin", raw, sizeof raw);
  mesh_bundle_serialize (&alice.pub, raw);
  memset (raw + 1 + 32, 0, 32);
  raw[1 + 32] = 1;
  write_file (dir, "low-order-key-1.bin", raw, sizeof raw);
  {
    uint8_t longer[MESH_BUNDLE_LEN + 1];
    mesh_bundle_serialize (&alice.pub, longer);
    longer[MESH_BUNDLE_LEN] = 0;
    write_file (dir, "long-1.bin", longer, sizeof longer);
  }

  text = mesh_bundle_to_string (&bob.pub);
  write_file (dir, "text-truncated-1.txt", (const guint8 *) text, strlen (text) - 4);
  {
    char *longer = g_strconcat (text, "A", NULL);
    write_file (dir, "text-long-1.txt", (const guint8 *) longer, strlen (longer));
    g_free (longer);
  }
  text[40] = '*';
  write_file (dir, "text-bad-char-1.txt", (const guint8 *) text, strlen (text));
  text[40] = '\0';
  write_file (dir, "text-nul-1.txt", (const guint8 *) text, 60);
  g_free (text);
  text = mesh_bundle_to_string (&bob.pub);
  text[4] = '2';
  write_file (dir, "text-prefix-1.txt", (const guint8 *) text, strlen (text));
  g_free (text);
  /* Version 2 in text form (base64url of the raw bytes). */
  mesh_bundle_serialize (&bob.pub, raw);
  raw[0] = 2;
  {
    char *b64 = g_base64_encode (raw, sizeof raw);

    g_strdelimit (b64, "+", '-');
    g_strdelimit (b64, "/", '_');
    text = g_strconcat (MESH_BUNDLE_TEXT_PREFIX, b64, NULL);
    write_file (dir, "text-version-2-1.txt", (const guint8 *) text, strlen (text));
    g_free (text);
    g_free (b64);
  }
}

/* Keystore images: keystore_fuzzer's flag byte (bit 0: reseal), then the
 * image. */
static void
emit_keystore (const char *name, guint8 flags, const guint8 *img, gsize len)
{
  GByteArray *a = g_byte_array_new ();

  put_u8 (a, flags);
  put_bytes (a, img, len);
  write_array ("keystore_fuzzer.in", name, a);
  g_byte_array_unref (a);
}

static void
keystore_image (const MeshIdentity *id, const char *passphrase,
                guint32 t, guint32 m, guint32 p, guint8 *out)
{
  MeshKdfParams params = { t, m, p };
  guint64 state = t * 1000 + m + p;
  GError *error = NULL;
  GBytes *b = mesh_keystore_encode (id, passphrase, &params, seeded_rng,
                                    &state, &error);

  if (b == NULL)
    {
      fprintf (stderr, "gen-corpus: keystore: %s\n", error->message);
      exit (1);
    }
  memcpy (out, g_bytes_get_data (b, NULL), MESH_KEYSTORE_LEN);
  g_bytes_unref (b);
}

static void
put_be32_at (guint8 *p, guint32 v)
{
  p[0] = (guint8) (v >> 24);
  p[1] = (guint8) (v >> 16);
  p[2] = (guint8) (v >> 8);
  p[3] = (guint8) v;
}

static void
reseal (guint8 *img)
{
  mesh_sha256 (img, MESH_KEYSTORE_LEN - MESH_SHA256_LEN,
               img + MESH_KEYSTORE_LEN - MESH_SHA256_LEN);
}

static void
emit_keystores (void)
{
  guint8 img[MESH_KEYSTORE_LEN + 1];

  keystore_image (&alice, MESH_FUZZ_PASSPHRASE, 1, 8, 1, img);
  emit_keystore ("argon2id-1.bin", 0, img, MESH_KEYSTORE_LEN);
  img[MESH_KEYSTORE_HEADER_LEN + 7] ^= 0x40;
  emit_keystore ("tampered-1.bin", 1, img, MESH_KEYSTORE_LEN);
  emit_keystore ("checksum-1.bin", 0, img, MESH_KEYSTORE_LEN);
  keystore_image (&alice, MESH_FUZZ_PASSPHRASE, 1, 8, 1, img);
  emit_keystore ("truncated-1.bin", 0, img, 100);
  emit_keystore ("magic-only-1.bin", 0, img, 5);
  img[MESH_KEYSTORE_LEN] = 0;
  emit_keystore ("long-1.bin", 0, img, MESH_KEYSTORE_LEN + 1);

  keystore_image (&bob, MESH_FUZZ_PASSPHRASE, 2, 40, 2, img);
  emit_keystore ("argon2id-2.bin", 0, img, MESH_KEYSTORE_LEN);
  /* Costs the harness folds down (valid checksum kept): the check value
     was made under other parameters, so the passphrase looks wrong. */
  put_be32_at (img + 10, MESH_KDF_MAX_T_COST);
  put_be32_at (img + 14, MESH_KDF_MAX_M_COST_KIB);
  put_be32_at (img + 18, MESH_KDF_MAX_PARALLELISM);
  reseal (img);
  emit_keystore ("expensive-1.bin", 0, img, MESH_KEYSTORE_LEN);
  put_be32_at (img + 10, MESH_KDF_MAX_T_COST + 1);
  emit_keystore ("t-cost-over-1.bin", 1, img, MESH_KEYSTORE_LEN);
  put_be32_at (img + 10, 0);
  emit_keystore ("t-cost-zero-1.bin", 1, img, MESH_KEYSTORE_LEN);
  put_be32_at (img + 10, 1);
  put_be32_at (img + 18, MESH_KDF_MAX_PARALLELISM + 1);
  emit_keystore ("lanes-over-1.bin", 1, img, MESH_KEYSTORE_LEN);
  put_be32_at (img + 18, 2);
  put_be32_at (img + 14, 15);
  emit_keystore ("memory-under-1.bin", 1, img, MESH_KEYSTORE_LEN);
  put_be32_at (img + 18, 0);
  emit_keystore ("lanes-zero-1.bin", 1, img, MESH_KEYSTORE_LEN);
  put_be32_at (img + 18, 2);
  put_be32_at (img + 14, MESH_KDF_MAX_M_COST_KIB + 1);
  emit_keystore ("memory-over-1.bin", 1, img, MESH_KEYSTORE_LEN);

  keystore_image (&authority, "Tr0ub4dor&3", 1, 8, 1, img);
  emit_keystore ("wrong-passphrase-1.bin", 0, img, MESH_KEYSTORE_LEN);
  img[9] = 7;
  emit_keystore ("kdf-7-1.bin", 1, img, MESH_KEYSTORE_LEN);
  img[8] = 2;
  emit_keystore ("version-2-1.bin", 1, img, MESH_KEYSTORE_LEN);
  img[0] = 'm';
  emit_keystore ("bad-magic-1.bin", 1, img, MESH_KEYSTORE_LEN);

  keystore_image (&bob, NULL, 0, 0, 0, img);
  emit_keystore ("unencrypted-1.bin", 0, img, MESH_KEYSTORE_LEN);
  img[30] = 1;
  emit_keystore ("unencrypted-salt-1.bin", 1, img, MESH_KEYSTORE_LEN);
}

/* Session inputs for session_fuzzer (its header comment describes the
 * layout): raw inits, built inits, then operations on sessions. */
static void
emit_sessions (void)
{
  static const char dir[] = "session_fuzzer.in";
  GByteArray *a = g_byte_array_new ();
  uint8_t init[MESH_SESSION_INIT_LEN], key[32];
  guint64 state = 42;
  MeshSession *s;
  GError *error = NULL;

  s = mesh_session_initiate (&alice, &bob.pub, seeded_rng, &state, 0, init, &error);
  if (s == NULL)
    {
      fprintf (stderr, "gen-corpus: session: %s\n", error->message);
      exit (1);
    }
  mesh_session_free (s);

  /* Mode 0: raw inits. */
  put_u8 (a, 0);
  put_bytes (a, init, sizeof init);
  write_array (dir, "init-1.bin", a);
  put_u8 (a, 0);
  put_bytes (a, init, 100);
  write_array (dir, "init-truncated-1.bin", a);
  put_u8 (a, 0);
  put_bytes (a, init, sizeof init);
  put_u8 (a, 0);
  write_array (dir, "init-long-1.bin", a);
  put_u8 (a, 0);
  put_bytes (a, init, sizeof init);
  a->data[1 + 100] ^= 4;
  write_array (dir, "init-tampered-1.bin", a);
  put_u8 (a, 0);
  put_bytes (a, init, sizeof init);
  memset (a->data + 1, 0, 32);
  write_array (dir, "init-low-order-e-1.bin", a);
  s = mesh_session_initiate (&alice, &authority.pub, seeded_rng, &state, 0, init, &error);
  mesh_session_free (s);
  put_u8 (a, 0);
  put_bytes (a, init, sizeof init);
  write_array (dir, "init-other-recipient-1.bin", a);

  /* Mode 1: built inits.  e_priv, f, s_priv, [s_pub], binding. */
  memset (key, 'E', sizeof key);
  put_u8 (a, 1);
  put_bytes (a, key, 32);
  put_u8 (a, 3);
  memset (key, 'S', sizeof key);
  put_bytes (a, key, 32);
  memset (key, 'D', sizeof key);
  put_bytes (a, key, 32);
  /* two messages in order, one replayed */
  put_u8 (a, 1); put_u8 (a, 0); put_u8 (a, 5); put_bytes (a, "hello", 5);
  put_u8 (a, 1); put_u8 (a, 0); put_u8 (a, 3); put_bytes (a, "bob", 3);
  put_u8 (a, 3); put_u64 (a, 0); put_u8 (a, 5); put_bytes (a, "hello", 5);
  write_array (dir, "built-1.bin", a);

  put_u8 (a, 1);
  put_bytes (a, filled (32, "e").data, 32);
  put_u8 (a, 1);
  put_bytes (a, alice.x_priv, 32);
  put_bytes (a, alice.pub.ed_pub, 32);
  put_bytes (a, alice.pub.binding_sig, 64);
  put_u8 (a, 1); put_u8 (a, 2); put_u8 (a, 0);
  write_array (dir, "built-raw-binding-1.bin", a);

  put_u8 (a, 1);
  put_bytes (a, filled (32, "e").data, 32);
  put_u8 (a, 1);
  put_bytes (a, bob.x_priv, 32);
  put_bytes (a, alice.pub.ed_pub, 32);
  put_bytes (a, alice.pub.binding_sig, 64);
  write_array (dir, "built-bad-binding-1.bin", a);

  put_u8 (a, 1);
  put_bytes (a, filled (32, "e").data, 32);
  put_u8 (a, 0);
  put_bytes (a, alice.x_priv, 32);
  memset (key, 0, sizeof key);
  put_bytes (a, key, 32);
  put_bytes (a, alice.pub.ed_pub, 32);
  put_bytes (a, alice.pub.binding_sig, 64);
  write_array (dir, "built-low-order-1.bin", a);

  put_u8 (a, 1);
  put_bytes (a, filled (32, "e").data, 32);
  put_u8 (a, 2);
  put_bytes (a, alice.x_priv, 32);
  put_bytes (a, bob.pub.x_pub, 32);
  put_bytes (a, filled (32, "ed").data, 32);
  write_array (dir, "built-mismatch-1.bin", a);

  /* Mode 2: the fixed session, operations only. */
  put_u8 (a, 2);
  for (int i = 0; i < 3; i++)
    {
      put_u8 (a, 1); put_u8 (a, 0); put_u8 (a, 6); put_bytes (a, "in ord", 6);
    }
  write_array (dir, "in-order-1.bin", a);

  put_u8 (a, 2);
  put_u8 (a, 1); put_u8 (a, 5); put_u8 (a, 2); put_bytes (a, "c5", 2);
  put_u8 (a, 2); put_u16 (a, 2); put_u8 (a, 2); put_bytes (a, "c3", 2);
  put_u8 (a, 2); put_u16 (a, 5); put_u8 (a, 2); put_bytes (a, "c0", 2);
  put_u8 (a, 2); put_u16 (a, 5); put_u8 (a, 2); put_bytes (a, "c0", 2);
  put_u8 (a, 3); put_u64 (a, 3); put_u8 (a, 2); put_bytes (a, "c3", 2);
  write_array (dir, "out-of-order-1.bin", a);

  /* Past the window: top moves to 1280, then 1100 and 1000 behind. */
  put_u8 (a, 2);
  for (int i = 0; i < 5; i++)
    {
      put_u8 (a, 1); put_u8 (a, 255); put_u8 (a, 0);
    }
  put_u8 (a, 2); put_u16 (a, 1100); put_u8 (a, 0);
  put_u8 (a, 2); put_u16 (a, 1000); put_u8 (a, 0);
  put_u8 (a, 2); put_u16 (a, 1000); put_u8 (a, 0);
  put_u8 (a, 2); put_u16 (a, MESH_SESSION_WINDOW - 1); put_u8 (a, 0);
  put_u8 (a, 2); put_u16 (a, MESH_SESSION_WINDOW); put_u8 (a, 0);
  write_array (dir, "window-1.bin", a);

  put_u8 (a, 2);
  put_u8 (a, 4); put_u8 (a, 0); put_u8 (a, 8); put_bytes (a, "tampered", 8);
  put_u16 (a, 3);
  put_u8 (a, 4); put_u8 (a, 0); put_u8 (a, 8); put_bytes (a, "tampered", 8);
  put_u16 (a, 100);
  put_u8 (a, 4); put_u8 (a, 1); put_u8 (a, 8); put_bytes (a, "tampered", 8);
  put_u16 (a, 8 * 8 + 8 * 8 + 7);
  write_array (dir, "tampered-1.bin", a);

  put_u8 (a, 2);
  put_u8 (a, 5); put_u8 (a, 0); put_u16 (a, 10); put_u8 (a, 5); put_u8 (a, 1);
  put_u8 (a, 1); put_u8 (a, 9); put_u8 (a, 1); put_bytes (a, "9", 1);
  put_u8 (a, 1); put_u8 (a, 0); put_u8 (a, 2); put_bytes (a, "10", 2);
  put_u8 (a, 5); put_u8 (a, 0); put_u16 (a, 0); put_u8 (a, 1); put_u8 (a, 1);
  put_u8 (a, 5); put_u8 (a, 0); put_u16 (a, 4); put_u8 (a, 5); put_u8 (a, 1);
  put_u8 (a, 5); put_u8 (a, 254); put_u16 (a, 0); put_u8 (a, 5); put_u8 (a, 1);
  put_u8 (a, 5); put_u8 (a, 255); put_u16 (a, 0); put_u8 (a, 5); put_u8 (a, 0);
  put_u8 (a, 5); put_u8 (a, 255); put_u16 (a, 0); put_u8 (a, 5); put_u8 (a, 2);
  /* 1 ms, then 1 ms again: the age of 2 ms is reached exactly. */
  put_u8 (a, 6); put_u8 (a, 1); put_u8 (a, 6);
  put_u8 (a, 6); put_u8 (a, 1); put_u8 (a, 6);
  put_u8 (a, 6); put_u8 (a, 255); put_u8 (a, 15);
  put_u8 (a, 6 | 0x80); put_u8 (a, 255); put_u8 (a, 15);
  /* rekey_messages equal to max_messages */
  put_u8 (a, 5); put_u8 (a, 0); put_u16 (a, 7); put_u8 (a, 7); put_u8 (a, 1);
  write_array (dir, "limits-and-clock-1.bin", a);

  /* A jump of more than a window ahead, then one just inside it. */
  put_u8 (a, 2);
  put_u8 (a, 1); put_u8 (a, 3); put_u8 (a, 0);
  put_u8 (a, 3); put_u64 (a, 5000); put_u8 (a, 0);
  put_u8 (a, 3); put_u64 (a, 5000 - MESH_SESSION_WINDOW); put_u8 (a, 0);
  put_u8 (a, 3); put_u64 (a, 3); put_u8 (a, 0);
  write_array (dir, "jump-1.bin", a);

  put_u8 (a, 2);
  put_u8 (a, 7); put_u16 (a, 60000);
  put_u8 (a, 7 | 0x80); put_u16 (a, 0);
  put_u8 (a, 3); put_u64 (a, MESH_SESSION_COUNTER_LIMIT); put_u8 (a, 0);
  put_u8 (a, 3); put_u64 (a, G_MAXUINT64); put_u8 (a, 0);
  put_u8 (a, 0); put_u8 (a, 30); put_bytes (a, filled (30, "raw").data, 30);
  put_u8 (a, 0); put_u8 (a, 10); put_bytes (a, filled (10, "raw").data, 10);
  put_u8 (a, 0); put_u8 (a, 0);
  write_array (dir, "sizes-and-limits-1.bin", a);

  put_u8 (a, 2);
  put_u8 (a, 2); put_u16 (a, 0); put_u8 (a, 0);
  write_array (dir, "below-zero-1.bin", a);

  g_byte_array_unref (a);
}

/* engine_fuzzer: operation sequences (layout in engine_fuzzer.c) that
 * walk through what a node does: links and HELLO, private messages
 * through T and to it, broadcasts, DHT lookups, retries over a lost
 * link, frames the harness builds, changed and raw frames. */
static void
put_str (GByteArray *a, const char *s)
{
  put_u8 (a, (guint8) strlen (s));
  put_bytes (a, s, strlen (s));
}

static void
emit_engine (void)
{
  static const char dir[] = "engine_fuzzer.in";
  GByteArray *a = g_byte_array_new ();

  /* One peer: link up, the HELLOs and routes, a ping round. */
  put_u8 (a, 0x00);
  put_u8 (a, 0x00);
  put_u8 (a, 0x0f);
  put_u8 (a, 0x07); put_u16 (a, 20); put_u8 (a, 2);
  put_u8 (a, 0x0f);
  write_array (dir, "link-hello", a);

  /* Four peers linked; private messages peer 1 -> T, peer 2 -> peer 1
   * through T, T -> peer 3, acknowledged after a second. */
  put_u8 (a, 0x07);
  put_u8 (a, 0x0c); put_u8 (a, 0); put_str (a, "ABCD");
  put_u8 (a, 0x0f);
  put_u8 (a, 0x1c); put_u8 (a, 1); put_str (a, "to peer 1");
  put_u8 (a, 0x0f);
  put_u8 (a, 0x09); put_u8 (a, 3); put_str (a, "to peer 3");
  put_u8 (a, 0x0f);
  put_u8 (a, 0x07); put_u16 (a, 1); put_u8 (a, 2);
  put_u8 (a, 0x0f);
  write_array (dir, "private", a);

  /* Broadcasts from T and from peer 2, gossip rounds. */
  put_u8 (a, 0x07);
  put_u8 (a, 0x0a); put_u8 (a, 0); put_str (a, "hello all");
  put_u8 (a, 0x0f);
  put_u8 (a, 0x1d); put_str (a, "news");
  put_u8 (a, 0x0f);
  put_u8 (a, 0x07); put_u16 (a, 2); put_u8 (a, 2);
  put_u8 (a, 0x0f);
  write_array (dir, "broadcast", a);

  /* DHT: T looks up the stranger, peer 1 looks up T, T sends to the
   * stranger (no route: a lookup), timers. */
  put_u8 (a, 0x07);
  put_u8 (a, 0x0f);
  put_u8 (a, 0x0b); put_u8 (a, 5);
  put_u8 (a, 0x0f);
  put_u8 (a, 0x0e); put_u8 (a, 0);
  put_u8 (a, 0x0f);
  put_u8 (a, 0x09); put_u8 (a, 5); put_str (a, "stranger");
  put_u8 (a, 0x0f);
  put_u8 (a, 0x07); put_u16 (a, 2); put_u8 (a, 2);
  put_u8 (a, 0x0f);
  put_u8 (a, 0x08);
  put_u8 (a, 0x0f);
  write_array (dir, "dht-lookup", a);

  /* A private message whose link goes down: retries, link up again. */
  put_u8 (a, 0x07);
  put_u8 (a, 0x09); put_u8 (a, 1); put_str (a, "retry me");
  put_u8 (a, 0x01);
  put_u8 (a, 0x07); put_u16 (a, 1); put_u8 (a, 2);
  put_u8 (a, 0x08);
  put_u8 (a, 0x08);
  put_u8 (a, 0x00);
  put_u8 (a, 0x0f);
  put_u8 (a, 0x08);
  put_u8 (a, 0x0f);
  write_array (dir, "retry-link-down", a);

  /* Built frames from peer 1 after its HELLO. */
  put_u8 (a, 0x01);
  put_u8 (a, 0x00);
  put_u8 (a, 0x02); put_u8 (a, 1);
  /* routes: 3 entries (peer 2, peer 3, stranger) */
  put_u8 (a, 0x06); put_u8 (a, 1); put_u8 (a, 0);
  put_u8 (a, 3);
  put_u8 (a, 2); put_u8 (a, 1); put_u16 (a, 10);
  put_u8 (a, 3); put_u8 (a, 2); put_u16 (a, 20);
  put_u8 (a, 5); put_u8 (a, 3); put_u16 (a, 30);
  put_u16 (a, 1);
  put_u8 (a, 0);
  /* ping */
  put_u8 (a, 0x06); put_u8 (a, 2); put_u8 (a, 0);
  put_u64 (a, 42); put_u64 (a, 7);
  put_u8 (a, 0);
  /* find node, find value */
  put_u8 (a, 0x06); put_u8 (a, 4); put_u8 (a, 0);
  put_u8 (a, 2); put_u64 (a, 1001);
  put_u8 (a, 0);
  put_u8 (a, 0x06); put_u8 (a, 5); put_u8 (a, 0);
  put_u8 (a, 5); put_u64 (a, 1002);
  put_u8 (a, 0);
  /* store: peer 2's record, one address, valid for an hour */
  put_u8 (a, 0x06); put_u8 (a, 6); put_u8 (a, 0);
  put_u8 (a, 2); put_u8 (a, 1);
  put_str (a, "tls://192.0.2.9:7400");
  put_u16 (a, 0); put_u8 (a, 0); put_u16 (a, 360);
  put_u8 (a, 0);
  /* T looks up peer 3; nodes answering T's lookup */
  put_u8 (a, 0x0b); put_u8 (a, 3);
  put_u8 (a, 0x06); put_u8 (a, 7); put_u8 (a, 0);
  put_u8 (a, 0x07); put_u8 (a, 0);
  put_u8 (a, 2); put_u8 (a, 0);
  put_u8 (a, 3); put_str (a, "tls://192.0.2.3:7400");
  put_u8 (a, 5); put_u8 (a, 0);
  put_u8 (a, 0);
  /* gossip announce and pull of recent IDs */
  put_u8 (a, 0x06); put_u8 (a, 8); put_u8 (a, 0);
  put_u8 (a, 2); put_u8 (a, 0); put_u8 (a, 1);
  put_u8 (a, 0);
  put_u8 (a, 0x06); put_u8 (a, 9); put_u8 (a, 0);
  put_u8 (a, 1); put_u8 (a, 0);
  put_u8 (a, 0);
  /* a broadcast flooded and signed by peer 1 */
  put_u8 (a, 0x06); put_u8 (a, 10); put_u8 (a, 0x07);
  put_str (a, "hello"); put_str (a, "text/plain");
  put_u8 (a, 0); put_u8 (a, 1); put_u8 (a, 16);
  /* any type: an empty ping */
  put_u8 (a, 0x06); put_u8 (a, 11); put_u8 (a, 0);
  put_u8 (a, 12); put_u16 (a, 0);
  put_u8 (a, 0);
  put_u8 (a, 0x0f);
  put_u8 (a, 0x07); put_u16 (a, 30); put_u8 (a, 2);
  put_u8 (a, 0x0f);
  write_array (dir, "built-frames", a);

  /* Frames of peer 1 changed on the way: a flipped bit, an overwrite,
   * a duplicate, a cut. */
  put_u8 (a, 0x05);
  put_u8 (a, 0x0c); put_u8 (a, 0); put_str (a, "ABCD");
  put_u8 (a, 0x03); put_u8 (a, 0); put_u16 (a, 300);
  put_u8 (a, 0x0c); put_u8 (a, 0); put_str (a, "EFGH");
  put_u8 (a, 0x03); put_u8 (a, 2); put_u16 (a, 40); put_str (a, "ZZZZ");
  put_u8 (a, 0x0c); put_u8 (a, 0); put_str (a, "IJKL");
  put_u8 (a, 0x03); put_u8 (a, 3);
  put_u8 (a, 0x0c); put_u8 (a, 0); put_str (a, "MNOP");
  put_u8 (a, 0x03); put_u8 (a, 1); put_u16 (a, 50);
  put_u8 (a, 0x0f);
  write_array (dir, "changed-frames", a);

  /* Raw bytes on a linked peer, then the link again. */
  put_u8 (a, 0x04);
  put_u8 (a, 0x05); put_u16 (a, 16); put_bytes (a, "\x08\x01\x12\x20garbage garbag", 16);
  put_u8 (a, 0x05); put_u16 (a, 0);
  put_u8 (a, 0x0f);
  put_u8 (a, 0x01);
  put_u8 (a, 0x00);
  put_u8 (a, 0x0f);
  write_array (dir, "raw-frames", a);

  /* Long quiet: keepalives, route expiry, record republishing. */
  put_u8 (a, 0x07);
  for (int i = 0; i < 3; i++)
    {
      put_u8 (a, 0x07); put_u16 (a, 15); put_u8 (a, 3);
      put_u8 (a, 0x0f);
    }
  for (int i = 0; i < 4; i++)
    {
      put_u8 (a, 0x08);
      put_u8 (a, 0x0f);
    }
  write_array (dir, "timers", a);

  g_byte_array_unref (a);
}

/* control_fuzzer: client streams (layout in control_fuzzer.c). */
static void
put_read (GByteArray *a, const char *s)
{
  put_u8 (a, (guint8) strlen (s));
  put_bytes (a, s, strlen (s));
}

static void
emit_control (void)
{
  static const char dir[] = "control_fuzzer.in";
  GByteArray *a = g_byte_array_new ();

  put_u8 (a, 0); put_read (a, "peers\n");
  write_array (dir, "peers", a);
  put_u8 (a, 0); put_read (a, "send mshr1AAAA hello there\n");
  write_array (dir, "send", a);
  put_u8 (a, 0); put_read (a, "send ");
  put_read (a, "nokey"); put_read (a, "\n");
  write_array (dir, "send-usage", a);
  put_u8 (a, 0); put_read (a, "broad"); put_read (a, "cast hi all\r\n");
  write_array (dir, "broadcast-crlf", a);
  put_u8 (a, 0); put_read (a, "status\n");
  write_array (dir, "unknown", a);
  put_u8 (a, 1); put_read (a, "broadcast 0123456789012345678901234567");
  put_read (a, "89abcdef");
  write_array (dir, "too-long", a);
  put_u8 (a, 0); put_read (a, "\n");
  write_array (dir, "empty", a);
  g_byte_array_unref (a);
}

/* update_package_fuzzer: flags, k, installed version, length, manifest,
 * data (see its header). */
static void
emit_pkg (const char *name, guint8 flags, guint8 k, guint64 installed,
          const guint8 *msg, gsize len, const guint8 *data, gsize data_len)
{
  GByteArray *a = g_byte_array_new ();

  put_u8 (a, flags);
  put_u8 (a, k);
  put_u64 (a, installed);
  put_u16 (a, (guint16) len);
  put_bytes (a, msg, len);
  put_bytes (a, data, data_len);
  write_array ("update_package_fuzzer.in", name, a);
  g_byte_array_unref (a);
}

static GBytes *
sign_more (GBytes *m, int authority_index)
{
  GBytes *out = mesh_update_manifest_sign (g_bytes_get_data (m, NULL),
                                           g_bytes_get_size (m),
                                           &mesh_fuzz_authority[authority_index],
                                           NULL);
  if (out == NULL)
    abort ();
  return out;
}

/* update_notice_fuzzer: pick, flags, k, installed version, message. */
static void
emit_note (const char *name, guint8 pick, guint8 flags, guint8 k,
           guint64 installed, GBytes *msg)
{
  GByteArray *a = g_byte_array_new ();

  put_u8 (a, pick);
  put_u8 (a, flags);
  put_u8 (a, k);
  put_u64 (a, installed);
  put_bytes (a, g_bytes_get_data (msg, NULL), g_bytes_get_size (msg));
  write_array ("update_notice_fuzzer.in", name, a);
  g_byte_array_unref (a);
}

static void
emit_updates (void)
{
  guint8 *data, *big_data;
  GBytes *m = mesh_fuzz_manifest ("meshara", 2, 0, 1024, 3000, 1, &data);
  GBytes *m3 = mesh_fuzz_manifest ("meshara", 3, 2, 1024, 2048, 2, NULL);
  GBytes *big = mesh_fuzz_manifest ("meshara", 9, 1, 1024, 9000, 5, &big_data);
  GBytes *unsigned_m, *tampered, *third, *fourth, *notice, *q;
  MeshWireUpdateManifest *pm;
  MeshWireUpdatePackage pkg = MESHARA__V1__UPDATE_PACKAGE__INIT;
  MeshWireUpdateAnnouncement ann = MESHARA__V1__UPDATE_ANNOUNCEMENT__INIT;
  MeshWireAuthoritySignature *sigs[1];
  MeshWireQuery qm = MESHARA__V1__QUERY_MESSAGE__INIT;
  MeshWireResponse resp = MESHARA__V1__RESPONSE_MESSAGE__INIT;
  GBytes *enc;
  guint8 id[MESH_SHA256_LEN], sum[MESH_SHA256_LEN];
  static const guint8 qid[MESH_WIRE_QUERY_ID_LEN] = "fuzz-query-id-01";
  guint8 *t;
  gsize n;

  /* Manifests: valid, k of n, tampered, untrusted, versions, data. */
  emit_pkg ("signed-k2", 0, 1, 1, g_bytes_get_data (m, NULL),
            g_bytes_get_size (m), data, 3000);
  emit_pkg ("signed-k1-chunk1", 1 << 5, 0, 0, g_bytes_get_data (m, NULL),
            g_bytes_get_size (m), data + 1024, 1024);
  emit_pkg ("signed-k3", 0, 2, 1, g_bytes_get_data (m, NULL),
            g_bytes_get_size (m), data, 100);
  emit_pkg ("downgrade", 0, 0, 2, g_bytes_get_data (m, NULL),
            g_bytes_get_size (m), NULL, 0);
  emit_pkg ("too-old", 0, 0, 1, g_bytes_get_data (m3, NULL),
            g_bytes_get_size (m3), NULL, 0);
  emit_pkg ("big-last-chunk", 4 << 5, 0, 3, g_bytes_get_data (big, NULL),
            g_bytes_get_size (big), big_data + 8192, 9000 - 8192);
  unsigned_m = mesh_update_manifest_export_unsigned (g_bytes_get_data (m, NULL),
                                                     g_bytes_get_size (m), NULL);
  emit_pkg ("unsigned", 0, 0, 0, g_bytes_get_data (unsigned_m, NULL),
            g_bytes_get_size (unsigned_m), data, 3000);
  third = sign_more (unsigned_m, 2);
  fourth = sign_more (third, 3);
  emit_pkg ("untrusted-signers", 0, 0, 0, g_bytes_get_data (fourth, NULL),
            g_bytes_get_size (fourth), NULL, 0);
  g_bytes_unref (third);
  third = sign_more (fourth, 1);
  emit_pkg ("mixed-signers", 0, 0, 0, g_bytes_get_data (third, NULL),
            g_bytes_get_size (third), NULL, 0);
  /* The last byte of the last signature changed: BAD_SIGNATURE, unless
   * the fuzzer re-signs (flag bits 0-3). */
  n = g_bytes_get_size (m);
  t = g_memdup2 (g_bytes_get_data (m, NULL), n);
  t[n - 1] ^= 0x40;
  tampered = g_bytes_new_take (t, n);
  emit_pkg ("tampered", 0, 0, 1, g_bytes_get_data (tampered, NULL),
            g_bytes_get_size (tampered), NULL, 0);
  emit_pkg ("tampered-resigned", 0x03, 1, 1, g_bytes_get_data (tampered, NULL),
            g_bytes_get_size (tampered), NULL, 0);

  /* The older whole-package message. */
  pm = mesh_update_manifest_parse (g_bytes_get_data (m, NULL),
                                   g_bytes_get_size (m), NULL);
  mesh_sha256 (data, 3000, sum);
  pkg.name = (char *) "meshara";
  pkg.version = 4;
  pkg.version_label = (char *) "4.0";
  pkg.data = bin (data, 3000);
  pkg.changelog = (char *) "whole package";
  pkg.checksum = bin (sum, sizeof sum);
  pkg.min_version = 1;
  sigs[0] = authority_signature ("package digest");
  pkg.signatures = sigs;
  pkg.n_signatures = 1;
  enc = mesh_wire_encode (&pkg.base);
  emit_pkg ("legacy-package", 0x10, 0, 0, g_bytes_get_data (enc, NULL),
            g_bytes_get_size (enc), NULL, 0);
  g_bytes_unref (enc);

  /* Notices, the announcement, queries and answers. */
  notice = mesh_update_notice_build (pm, NULL);
  emit_note ("notice", 0, 0, 1, 1, notice);
  emit_note ("notice-k1-resign", 0, 0x01, 0, 0, notice);
  emit_note ("notice-downgrade", 0, 0, 0, 7, notice);
  n = g_bytes_get_size (notice);
  t = g_memdup2 (g_bytes_get_data (notice, NULL), n);
  t[n - 1] ^= 0x40;
  enc = g_bytes_new_take (t, n);
  emit_note ("notice-tampered", 0, 0, 0, 0, enc);
  g_bytes_unref (enc);
  mesh_update_manifest_digest (pm, id);

  ann.package_id = bin (id, sizeof id);
  ann.name = pm->name;
  ann.version = pm->version;
  ann.version_label = pm->version_label;
  ann.size = pm->size;
  ann.chunk_size = pm->chunk_size;
  ann.chunk_hashes = pm->chunk_hashes;
  ann.n_chunk_hashes = pm->n_chunk_hashes;
  ann.signatures = pm->signatures;
  ann.n_signatures = pm->n_signatures;
  enc = mesh_wire_encode (&ann.base);
  emit_note ("announcement", 1, 0, 0, 0, enc);
  g_bytes_unref (enc);

  q = mesh_update_query_latest (qid, "meshara", 0, NULL);
  emit_note ("query-latest", 2, 0x10, 0, 0, q);
  emit_note ("query-unauthorized", 2, 0, 0, 0, q);
  g_bytes_unref (q);
  q = mesh_update_query_latest (qid, "meshara", 3, NULL);
  emit_note ("query-latest-none", 2, 0x10, 0, 0, q);
  g_bytes_unref (q);
  q = mesh_update_query_latest (qid, "other", 0, NULL);
  emit_note ("query-latest-other", 2, 0x10, 0, 0, q);
  g_bytes_unref (q);
  q = mesh_update_query_manifest (qid, id);
  emit_note ("query-manifest", 2, 0x10, 0, 0, q);
  g_bytes_unref (q);
  qm.query_id = bin (qid, sizeof qid);
  qm.query_type = (char *) "update-manifest";
  qm.body = bin ("short", 5);
  enc = mesh_wire_encode (&qm.base);
  emit_note ("query-manifest-bad-body", 2, 0x10, 0, 0, enc);
  g_bytes_unref (enc);
  qm.query_type = (char *) "update-latest";
  enc = mesh_wire_encode (&qm.base);
  emit_note ("query-latest-bad-body", 2, 0x10, 0, 0, enc);
  g_bytes_unref (enc);
  qm.query_type = (char *) "latest-version";
  enc = mesh_wire_encode (&qm.base);
  emit_note ("query-unknown-type", 2, 0x10, 0, 0, enc);
  g_bytes_unref (enc);

  resp.query_id = bin (qid, sizeof qid);
  resp.code = MESH_WIRE_RESPONSE_OK;
  resp.body = bin (g_bytes_get_data (m, NULL), g_bytes_get_size (m));
  resp.message = (char *) "";
  enc = mesh_wire_encode (&resp.base);
  emit_note ("response-ok", 3, 0, 0, 0, enc);
  emit_note ("response-ok-own-id", 3, 0x20, 0, 0, enc);
  g_bytes_unref (enc);
  resp.code = MESH_WIRE_RESPONSE_NOT_FOUND;
  resp.body = bin (NULL, 0);
  resp.message = (char *) "no newer update of that name";
  enc = mesh_wire_encode (&resp.base);
  emit_note ("response-not-found", 3, 0, 0, 0, enc);
  g_bytes_unref (enc);
  resp.code = MESH_WIRE_RESPONSE_UNAUTHORIZED;
  enc = mesh_wire_encode (&resp.base);
  emit_note ("response-unauthorized", 3, 0x20, 0, 0, enc);
  g_bytes_unref (enc);
  resp.code = MESH_WIRE_RESPONSE_ERROR;
  enc = mesh_wire_encode (&resp.base);
  emit_note ("response-error", 3, 0x20, 0, 0, enc);
  g_bytes_unref (enc);
  resp.code = MESH_WIRE_RESPONSE_OK;
  resp.body = bin ("not a manifest", 14);
  enc = mesh_wire_encode (&resp.base);
  emit_note ("response-bad-body", 3, 0x20, 0, 0, enc);
  g_bytes_unref (enc);
  {
    MeshWireUpdateQuery uq = MESHARA__V1__UPDATE_QUERY__INIT;

    uq.name = (char *) "meshara";
    uq.installed_version = 2;
    enc = mesh_wire_encode (&uq.base);
    emit_note ("update-query", 4, 0, 0, 0, enc);
    g_bytes_unref (enc);
  }

  /* Trust store files: the fuzzers' own, one with every level, one
   * with a duplicate key. */
  enc = mesh_trust_store_encode (mesh_fuzz_trust);
  emit_note ("trust-store", 5, 0, 0, 0, enc);
  g_bytes_unref (enc);
  {
    MeshTrustStore *ts = mesh_trust_store_new ();
    MeshWireTrustStore *w;

    mesh_trust_store_add (ts, mesh_fuzz_authority[0].pub.ed_pub, "update",
                          "signs releases", "https://example.org/u",
                          MESH_TRUST_UPDATE, TS, NULL);
    mesh_trust_store_add (ts, mesh_fuzz_authority[1].pub.ed_pub, "signing",
                          "", "", MESH_TRUST_SIGNING, 0, NULL);
    mesh_trust_store_add (ts, mesh_fuzz_authority[2].pub.ed_pub, "bootstrap",
                          "", "", MESH_TRUST_BOOTSTRAP, 0, NULL);
    mesh_trust_store_add (ts, mesh_fuzz_authority[3].pub.ed_pub, "full",
                          "all of it", "", MESH_TRUST_FULL, 0, NULL);
    mesh_trust_store_set_threshold (ts, 3, NULL);
    enc = mesh_trust_store_encode (ts);
    emit_note ("trust-store-levels", 5, 0, 0, 0, enc);
    w = mesh_wire_decode_trust_store (g_bytes_get_data (enc, NULL),
                                      g_bytes_get_size (enc), NULL);
    g_bytes_unref (enc);
    if (w != NULL && w->n_authorities >= 2)
      {
        /* The second entry takes the first one's key. */
        memcpy (w->authorities[1]->info->public_key.data,
                w->authorities[0]->info->public_key.data, MESH_WIRE_KEY_LEN);
        enc = mesh_wire_encode (&w->base);
        emit_note ("trust-store-duplicate", 5, 0, 0, 0, enc);
        g_bytes_unref (enc);
      }
    mesh_wire_free (w ? &w->base : NULL);
    mesh_trust_store_free (ts);
  }

  mesh_wire_free (&pm->base);
  g_bytes_unref (notice);
  g_bytes_unref (tampered);
  g_bytes_unref (third);
  g_bytes_unref (fourth);
  g_bytes_unref (unsigned_m);
  g_bytes_unref (m);
  g_bytes_unref (m3);
  g_bytes_unref (big);
  g_free (data);
  g_free (big_data);
}

/* update_chunk_fuzzer: operation sequences (see its header). */
static void
emit_update_chunks (void)
{
  static const char dir[] = "update_chunk_fuzzer.in";
  GByteArray *a = g_byte_array_new ();

  /* Two peers, A fetched whole from them. */
  put_u8 (a, 0);
  put_u8 (a, 0); put_u8 (a, 0);
  put_u8 (a, 0); put_u8 (a, 1);
  for (guint8 i = 0; i < 5; i++)
    {
      put_u8 (a, 5); put_u8 (a, i % 2); put_u8 (a, i); put_u8 (a, 0);
    }
  write_array (dir, "fetch-all", a);

  /* Bad chunks: changed, short, another update's, past the end. */
  put_u8 (a, 0);
  put_u8 (a, 0); put_u8 (a, 0);
  put_u8 (a, 0); put_u8 (a, 1);
  put_u8 (a, 5); put_u8 (a, 0); put_u8 (a, 0); put_u8 (a, 1);
  put_u8 (a, 5); put_u8 (a, 1); put_u8 (a, 1); put_u8 (a, 2);
  put_u8 (a, 5); put_u8 (a, 0); put_u8 (a, 2); put_u8 (a, 3);
  put_u8 (a, 5); put_u8 (a, 0); put_u8 (a, 5); put_u8 (a, 0);
  put_u8 (a, 5); put_u8 (a, 1); put_u8 (a, 0); put_u8 (a, 0);
  write_array (dir, "bad-chunks", a);

  /* Serving B, within and past the per-request and rate limits. */
  put_u8 (a, 0);
  put_u8 (a, 0); put_u8 (a, 1);
  put_u8 (a, 3); put_u8 (a, 1); put_u8 (a, 1); put_u8 (a, 4);
  put_u8 (a, 0); put_u8 (a, 1); put_u8 (a, 2); put_u8 (a, 1);
  put_u8 (a, 3); put_u8 (a, 1); put_u8 (a, 0); put_u8 (a, 2);
  put_u8 (a, 0); put_u8 (a, 9);
  put_u8 (a, 3); put_u8 (a, 2); put_u8 (a, 1); put_u8 (a, 1); put_u8 (a, 0);
  put_u8 (a, 3); put_u8 (a, 2); put_u8 (a, 2); put_u8 (a, 1); put_u8 (a, 0);
  write_array (dir, "serve", a);

  /* Rate limit on, a store that refuses puts, time passing, timeouts,
   * links going down. */
  put_u8 (a, 3);
  put_u8 (a, 0); put_u8 (a, 0);
  put_u8 (a, 6); put_u16 (a, 500);
  put_u8 (a, 0); put_u8 (a, 2);
  put_u8 (a, 6); put_u16 (a, 1500);
  put_u8 (a, 5); put_u8 (a, 0); put_u8 (a, 0); put_u8 (a, 0);
  put_u8 (a, 5); put_u8 (a, 0); put_u8 (a, 1); put_u8 (a, 0);
  put_u8 (a, 5); put_u8 (a, 0); put_u8 (a, 2); put_u8 (a, 0);
  put_u8 (a, 1); put_u8 (a, 0);
  put_u8 (a, 6); put_u16 (a, 3000);
  put_u8 (a, 6); put_u16 (a, 3000);
  put_u8 (a, 5); put_u8 (a, 2); put_u8 (a, 3); put_u8 (a, 0);
  write_array (dir, "limits-timeouts", a);

  /* Manifest queries: answered, refused, unmatched, timed out. */
  put_u8 (a, 0);
  put_u8 (a, 0); put_u8 (a, 0);
  put_u8 (a, 7); put_u8 (a, 0); put_u8 (a, 0x11); put_u8 (a, 1);
  put_u8 (a, 7); put_u8 (a, 1); put_u8 (a, 0x22); put_u8 (a, 2);
  put_u8 (a, 7); put_u8 (a, 2); put_u8 (a, 0x33); put_u8 (a, 0);
  put_u8 (a, 8); put_u8 (a, 0); put_u8 (a, 0x11); put_u8 (a, 0); put_u8 (a, 0);
  put_u8 (a, 8); put_u8 (a, 1); put_u8 (a, 0x22); put_u8 (a, 1); put_u8 (a, 3);
  put_bytes (a, "abc", 3);
  put_u8 (a, 8); put_u8 (a, 0); put_u8 (a, 0x33); put_u8 (a, 0); put_u8 (a, 0);
  put_u8 (a, 6); put_u16 (a, 20000);
  write_array (dir, "queries", a);

  /* Remove and add again, raw payloads. */
  put_u8 (a, 0);
  put_u8 (a, 0); put_u8 (a, 0);
  put_u8 (a, 10); put_u8 (a, 0); put_u8 (a, 0);
  put_u8 (a, 10); put_u8 (a, 1); put_u8 (a, 0);
  put_u8 (a, 10); put_u8 (a, 1); put_u8 (a, 1);
  put_u8 (a, 10); put_u8 (a, 0); put_u8 (a, 1);
  put_u8 (a, 2); put_u16 (a, 4); put_bytes (a, "\x0a\x02\x01\x02", 4);
  put_u8 (a, 4); put_u16 (a, 3); put_bytes (a, "\x10\x05\x1a", 3);
  put_u8 (a, 9); put_u16 (a, 2); put_bytes (a, "\x10\x01", 2);
  write_array (dir, "remove-add-raw", a);
  g_byte_array_unref (a);
}

/* config_fuzzer: configuration files, one per profile and every key in
 * its documented form (meshara.conf(5)), plus refused ones. */
static void
emit_config_file (const char *name, const char *text)
{
  write_file ("config_fuzzer.in", name, (const guint8 *) text, strlen (text));
}

static void
emit_config (void)
{
  static const char *const profiles[] = { "minimal", "standard", "bridge",
                                          "authority" };
  char *ka = mesh_bundle_to_string (&alice.pub);
  char *kb = mesh_bundle_to_string (&bob.pub);
  char *text;

  for (gsize i = 0; i < G_N_ELEMENTS (profiles); i++)
    {
      char *name = g_strconcat ("profile-", profiles[i], NULL);

      text = g_strdup_printf ("[node]\nprofile = %s\n", profiles[i]);
      emit_config_file (name, text);
      g_free (text);
      g_free (name);
    }
  text = g_strdup_printf (
    "# every key\n"
    "[node]\n"
    "listen = 0.0.0.0:7400\n"
    "profile = Bridge\n"
    "storage = /var/lib/meshara\n"
    "peers = 192.0.2.10:7400,%s;[2001:db8::1]:7401,%s\n"
    "bootstrap = 198.51.100.7:7400,%s;\n"
    "max-peers = 200\n"
    "fanout = 12\n"
    "\n"
    "[limits]\n"
    "max-routes = 100000\n"
    "seen-capacity = 65536\n"
    "accepts-per-second = 500\n"
    "connects-per-second = 40\n", ka, kb, kb);
  emit_config_file ("every-key", text);
  g_free (text);
  text = g_strdup_printf ("[node]\nlisten = mem:relay-1\nstorage = state\n"
                          "peers = mem:peer-2 , %s\n", ka);
  emit_config_file ("mem-relative", text);
  g_free (text);
  emit_config_file ("limits-bounds",
                    "[limits]\nmax-routes=16\nseen-capacity=16777216\n"
                    "accepts-per-second=1\nconnects-per-second=10000\n"
                    "[node]\nmax-peers=4096\nfanout=1\nlisten=[::1]:0\n");
  emit_config_file ("empty", "");
  emit_config_file ("unknown-key", "[node]\ncolour = blue\n");
  emit_config_file ("unknown-group", "[routing]\nmax-routes = 20\n");
  emit_config_file ("out-of-range", "[node]\nfanout = 51\n");
  emit_config_file ("bad-profile", "[node]\nprofile = huge\n");
  emit_config_file ("no-port", "[node]\nlisten = 10.0.0.1\n");
  emit_config_file ("ipv6-bare", "[node]\nlisten = ::1:7400\n");
  emit_config_file ("peer-no-key", "[node]\npeers = 192.0.2.1:7400\n");
  emit_config_file ("peer-bad-key",
                    "[node]\nbootstrap = 192.0.2.1:7400,mshr1AAAA\n");
  emit_config_file ("bad-mem", "[node]\nlisten = mem:\n");
  emit_config_file ("empty-storage", "[node]\nstorage = \n");
  emit_config_file ("syntax", "[node\nlisten 1.2.3.4:5\n");
  emit_config_file ("escapes", "[node]\nstorage = a\\tb\\\\c\\s\n");
  g_free (ka);
  g_free (kb);
}

int
main (int argc, char **argv)
{
  guint8 seed[MESH_SEED_LEN];

  if (argc > 1)
    outdir = argv[1];

  memset (seed, 'a', sizeof seed);
  mesh_identity_from_seed (&alice, seed);
  memset (seed, 'b', sizeof seed);
  mesh_identity_from_seed (&bob, seed);
  memset (seed, 'u', sizeof seed);
  mesh_identity_from_seed (&authority, seed);

  all_frames = g_byte_array_new ();
  emit_all ();
  emit_streams ();
  emit_records ();
  emit_bundles ();
  emit_keystores ();
  emit_sessions ();
  emit_engine ();
  emit_control ();
  emit_config ();
  mesh_fuzz_update_init ();
  emit_updates ();
  emit_update_chunks ();
  printf ("gen-corpus: wrote the seed corpora into %s/<target>.in\n", outdir);
  g_byte_array_unref (all_frames);
  return 0;
}
