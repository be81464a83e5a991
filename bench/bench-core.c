/* Micro benchmarks of the foundation layers: primitives, end-to-end
 * sessions, keystore, wire codec.  Each sample is the mean time of one op
 * over a batch (the clock costs ~20 ns, so single ops under a microsecond
 * are timed in batches); percentiles are over samples.
 *
 *   bench-core [--json FILE] [--quick] [--filter SUBSTRING]
 */
#include "config.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"
#include "crypto/aead.h"
#include "crypto/hash.h"
#include "crypto/identity.h"
#include "crypto/keystore.h"
#include "crypto/session.h"
#include "crypto/sign.h"
#include "wire/codec.h"

static FILE *json_out;
static gboolean quick;
static char *filter;

typedef void (*OpFunc) (void *ctx);

static gboolean
wanted (const char *name)
{
  return filter == NULL || strstr (name, filter) != NULL;
}

/* Run op in batches of `batch` for `samples` samples after a warm-up. */
static void
measure (const char *name, const char *target, double bytes_per_op,
         size_t samples, size_t batch, OpFunc op, void *ctx)
{
  MeshBenchMetric m;

  if (!wanted (name))
    return;
  if (quick)
    samples = samples / 10 + 1;
  mesh_bench_metric_init (&m, name, "ns", samples);
  m.target = target;
  m.bytes_per_op = bytes_per_op;
  for (size_t i = 0; i < batch * 2 + 1; i++)
    op (ctx);
  for (size_t s = 0; s < samples; s++)
    {
      uint64_t t0 = mesh_bench_now_ns ();
      for (size_t i = 0; i < batch; i++)
        op (ctx);
      uint64_t t1 = mesh_bench_now_ns ();
      mesh_bench_metric_add (&m, (double) (t1 - t0) / (double) batch);
    }
  mesh_bench_report (&m, json_out);
  mesh_bench_metric_clear (&m);
}

/* Deterministic randomness: the figures must not depend on the system
 * generator's cost. */
static void
test_rng_cb (void *user_data, uint8_t *buf, size_t n)
{
  static uint64_t state = 0x243f6a8885a308d3ULL;
  (void) user_data;
  for (size_t i = 0; i < n; i++)
    {
      uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
      buf[i] = (uint8_t) (z ^ (z >> 31));
    }
}

/* ---- primitives ---- */

typedef struct {
  MeshIdentity id;
  uint8_t msg[1024];
  uint8_t out[1024 + 16];
  uint8_t sig[64];
  uint8_t key[32], nonce[12], hash[32], shared[32];
} PrimCtx;

static void op_sign (void *c) { PrimCtx *p = c; mesh_identity_sign (&p->id, p->msg, 64, p->sig); }
static void op_verify (void *c)
{
  PrimCtx *p = c;
  if (!mesh_ed25519_verify (p->id.pub.ed_pub, p->msg, 64, p->sig))
    abort ();
}
static void op_x25519 (void *c) { PrimCtx *p = c; mesh_x25519 (p->id.x_priv, p->id.pub.x_pub, p->shared); }
static void op_aead_1k (void *c) { PrimCtx *p = c; mesh_aead_seal (p->key, p->nonce, NULL, 0, p->msg, 1024, p->out); }
static void op_sha256_1k (void *c) { PrimCtx *p = c; mesh_sha256 (p->msg, 1024, p->hash); }

/* ---- sessions ---- */

typedef struct {
  MeshIdentity alice, bob;
  MeshSession *tx, *rx;
  uint8_t init[MESH_SESSION_INIT_LEN];
  size_t len;
  uint8_t pt[1024];
  uint8_t *ct;          /* ring of pre-sealed messages for open */
  size_t ring, next;
  uint8_t out[1024 + MESH_SESSION_OVERHEAD];
  uint64_t now;
} SessCtx;

static void
op_seal (void *c)
{
  SessCtx *s = c;
  if (!mesh_session_seal (s->tx, s->pt, s->len, s->out, NULL, s->now, NULL))
    abort ();
}

static void
op_open (void *c)
{
  SessCtx *s = c;
  size_t clen = s->len + MESH_SESSION_OVERHEAD, olen;
  uint64_t ctr;
  if (s->next == s->ring)
    abort ();
  if (!mesh_session_open (s->rx, s->ct + s->next++ * clen, clen, s->out, &olen,
                          &ctr, NULL, s->now, NULL))
    abort ();
}

static void
op_handshake (void *c)
{
  SessCtx *s = c;
  MeshSession *tx = mesh_session_initiate (&s->alice, &s->bob.pub, test_rng_cb, s,
                                           s->now, s->init, NULL);
  MeshSession *rx = mesh_session_accept (&s->bob, s->init, sizeof s->init, s->now, NULL);
  if (tx == NULL || rx == NULL)
    abort ();
  mesh_session_free (tx);
  mesh_session_free (rx);
}

static void
bench_session_size (SessCtx *s, size_t len, const char *seal_name,
                    const char *open_name, const char *target, size_t samples)
{
  size_t batch = 100, clen = len + MESH_SESSION_OVERHEAD;

  s->len = len;
  /* Fresh pair per size so counters start at 0 and the ring fits the
   * replay window order (ascending counters). */
  s->tx = mesh_session_initiate (&s->alice, &s->bob.pub, test_rng_cb, s, s->now, s->init, NULL);
  s->rx = mesh_session_accept (&s->bob, s->init, sizeof s->init, s->now, NULL);
  measure (seal_name, target, (double) len, samples, batch, op_seal, s);

  s->ring = (batch * 2 + 1) + (quick ? samples / 10 + 1 : samples) * batch;
  s->ct = g_malloc (s->ring * clen);
  mesh_session_free (s->tx);
  s->tx = mesh_session_initiate (&s->alice, &s->bob.pub, test_rng_cb, s, s->now, s->init, NULL);
  mesh_session_free (s->rx);
  s->rx = mesh_session_accept (&s->bob, s->init, sizeof s->init, s->now, NULL);
  for (size_t i = 0; i < s->ring; i++)
    if (!mesh_session_seal (s->tx, s->pt, len, s->ct + i * clen, NULL, s->now, NULL))
      abort ();
  s->next = 0;
  measure (open_name, target, (double) len, samples, batch, op_open, s);
  g_free (s->ct);
  mesh_session_free (s->tx);
  mesh_session_free (s->rx);
}

/* ---- keystore ---- */

typedef struct {
  MeshIdentity id;
  char *path;
} KeyCtx;

static void
op_keystore_save (void *c)
{
  KeyCtx *k = c;
  GError *error = NULL;
  if (!mesh_keystore_save (k->path, &k->id, "correct horse battery staple",
                           NULL, test_rng_cb, NULL, &error))
    g_error ("keystore save: %s", error->message);
}

static void
op_keystore_load (void *c)
{
  KeyCtx *k = c;
  MeshIdentity out;
  GError *error = NULL;
  if (!mesh_keystore_load (k->path, "correct horse battery staple", &out, &error))
    g_error ("keystore load: %s", error->message);
  mesh_identity_clear (&out);
}

/* ---- wire ---- */

typedef struct {
  MeshWireBaseMessage msg;
  MeshWireRoutingInfo routing;
  uint8_t id[32], dest[32], payload[1024];
  uint8_t *enc;
  size_t enc_len;
  uint8_t buf[4096];
} WireCtx;

static void
op_encode (void *c)
{
  WireCtx *w = c;
  if (mesh_wire_encode_into (&w->msg.base, w->buf) != w->enc_len)
    abort ();
}

static void
op_decode (void *c)
{
  WireCtx *w = c;
  MeshWireBaseMessage *m = mesh_wire_decode_base (w->enc, w->enc_len,
                                                  MESH_FRAME_MAX_DEFAULT, NULL);
  if (m == NULL)
    abort ();
  mesh_wire_free (m);
}

int
main (int argc, char **argv)
{
  char *json_path = NULL;
  GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_FILENAME, &json_path, "Append JSON lines to FILE", "FILE" },
    { "quick", 0, 0, G_OPTION_ARG_NONE, &quick, "One tenth of the samples", NULL },
    { "filter", 0, 0, G_OPTION_ARG_STRING, &filter, "Only metrics whose name contains S", "S" },
    { NULL }
  };
  GOptionContext *octx = g_option_context_new ("- micro benchmarks of crypto, sessions, keystore and wire");
  GError *error = NULL;
  g_option_context_add_main_entries (octx, entries, NULL);
  if (!g_option_context_parse (octx, &argc, &argv, &error))
    {
      g_printerr ("bench-core: %s\n", error->message);
      return 2;
    }
  g_option_context_free (octx);
  if (json_path && !(json_out = fopen (json_path, "a")))
    {
      g_printerr ("bench-core: cannot open %s\n", json_path);
      return 1;
    }

  mesh_bench_print_header ();

  PrimCtx *p = g_new0 (PrimCtx, 1);
  uint8_t seed[32] = { 1 };
  mesh_identity_from_seed (&p->id, seed);
  memset (p->msg, 0x5a, sizeof p->msg);
  mesh_identity_sign (&p->id, p->msg, 64, p->sig);
  measure ("crypto.ed25519_sign", "plan <10us", 0, 1000, 10, op_sign, p);
  measure ("crypto.ed25519_verify", "plan <30us", 0, 1000, 10, op_verify, p);
  measure ("crypto.x25519", "plan <50us", 0, 1000, 10, op_x25519, p);
  measure ("crypto.aead_1k", "plan <5us", 1024, 2000, 100, op_aead_1k, p);
  measure ("crypto.sha256_1k", "plan <2us", 1024, 2000, 100, op_sha256_1k, p);

  SessCtx *s = g_new0 (SessCtx, 1);
  uint8_t seed_b[32] = { 2 };
  mesh_identity_from_seed (&s->alice, seed);
  mesh_identity_from_seed (&s->bob, seed_b);
  s->now = 1000000000;
  measure ("session.init", "plan <1ms; init create + accept", 0, 500, 4, op_handshake, s);
  bench_session_size (s, 64, "session.encrypt_64", "session.decrypt_64",
                      "plan <1ms, goal <10us", 2000);
  bench_session_size (s, 1024, "session.encrypt_1k", "session.decrypt_1k",
                      "plan <1ms, goal <10us", 2000);

  if (wanted ("keystore."))
    {
      KeyCtx *k = g_new0 (KeyCtx, 1);
      char *dir = g_dir_make_tmp ("bench-keystore-XXXXXX", NULL);
      k->id = p->id;
      k->path = g_build_filename (dir, "keys", "identity.key", NULL);
      /* Argon2id at the default parameters: a few samples suffice. */
      measure ("keystore.save", "default Argon2id t=3 m=64MiB p=1", 0, 20, 1, op_keystore_save, k);
      measure ("keystore.load", "default Argon2id t=3 m=64MiB p=1", 0, 20, 1, op_keystore_load, k);
      g_unlink (k->path);
      char *sub = g_path_get_dirname (k->path);
      g_rmdir (sub);
      g_rmdir (dir);
      g_free (sub);
      g_free (dir);
      g_free (k->path);
      mesh_identity_clear (&k->id);
      g_free (k);
    }

  WireCtx *w = g_new0 (WireCtx, 1);
  meshara__v1__base_message__init (&w->msg);
  meshara__v1__routing_info__init (&w->routing);
  memset (w->dest, 0xd5, sizeof w->dest);
  memset (w->payload, 0xa7, sizeof w->payload);
  w->msg.version = MESH_WIRE_PROTOCOL_VERSION;
  w->msg.type = MESH_WIRE_TYPE_BROADCAST;
  w->msg.timestamp_ms = 1790000000000ULL;
  w->msg.sender_public_key = (ProtobufCBinaryData) { 32, p->id.pub.ed_pub };
  /* A 1 KiB message: payload plus envelope fields. */
  w->msg.payload = (ProtobufCBinaryData) { 900, w->payload };
  w->msg.routing = &w->routing;
  w->routing.hop_count = 1;
  w->routing.max_hops = 8;
  w->routing.route_type = MESH_WIRE_ROUTE_FLOOD;
  mesh_wire_compute_message_id (&w->msg, w->id);
  w->msg.message_id = (ProtobufCBinaryData) { 32, w->id };
  mesh_identity_sign (&p->id, w->id, 32, p->sig);
  w->msg.signature = (ProtobufCBinaryData) { 64, p->sig };
  w->enc_len = mesh_wire_encoded_size (&w->msg.base);
  w->enc = g_malloc (w->enc_len);
  mesh_wire_encode_into (&w->msg.base, w->enc);
  if (!mesh_wire_validate (&w->msg.base, &error))
    g_error ("bench message invalid: %s", error->message);
  char name_enc[64], name_dec[64];
  g_snprintf (name_enc, sizeof name_enc, "wire.encode_1k");
  g_snprintf (name_dec, sizeof name_dec, "wire.decode_1k");
  measure (name_enc, "plan <5us, goal <1us", (double) w->enc_len, 2000, 100, op_encode, w);
  measure (name_dec, "plan <10us, goal <2us", (double) w->enc_len, 2000, 100, op_decode, w);
  printf ("(wire message: %zu bytes encoded)\n", w->enc_len);

  g_free (w->enc);
  g_free (w);
  mesh_identity_clear (&s->alice);
  mesh_identity_clear (&s->bob);
  g_free (s);
  mesh_identity_clear (&p->id);
  g_free (p);
  if (json_out)
    fclose (json_out);
  g_free (json_path);
  g_free (filter);
  return 0;
}
