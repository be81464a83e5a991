/* TLS links over 127.0.0.1, both ends on one GMainContext in this
 * process: handshake and identities, pins, ALPN, hostile peers, frames in
 * bulk and large, limits, backpressure, close and timeouts.  Every wait
 * has a deadline. */
#include "config.h"

#include "net/link.h"
#include "net/tls.h"
#include "wire/frame.h"
#include "../testutil.h"

#include <string.h>
#include <gnutls/x509.h>
#include <meshara/meshara.h>

#define WAIT_LIMIT_US (5 * G_USEC_PER_SEC)
#define NOW_UNIX_S 1700000000

/* Iterate ctx until cond holds; fail with what after 5 s.  A periodic
 * source (fixture) makes sure the loop wakes up to check the clock. */
#define WAIT_FOR(ctx, cond, what)                                            \
  G_STMT_START {                                                             \
    gint64 wait_deadline_ = g_get_monotonic_time () + WAIT_LIMIT_US;         \
    while (!(cond))                                                          \
      {                                                                      \
        if (g_get_monotonic_time () > wait_deadline_)                        \
          g_error ("%s:%d: timed out after 5 s waiting for %s",              \
                   __FILE__, __LINE__, what);                                \
        g_main_context_iteration ((ctx), TRUE);                              \
      }                                                                      \
  } G_STMT_END

/* Run ctx for ms milliseconds (to see that something does NOT happen). */
static void
run_for (GMainContext *ctx, guint ms)
{
  gint64 until = g_get_monotonic_time () + (gint64) ms * 1000;

  while (g_get_monotonic_time () < until)
    g_main_context_iteration (ctx, TRUE);
}

typedef struct {
  MeshNetLink *link;
  gboolean established;
  uint8_t peer_key[MESH_ED25519_KEY_LEN];
  gboolean closed;
  GError *close_error;
  guint writable;

  /* Frames: either kept, or checked as a numbered sequence. */
  GPtrArray *kept;              /* GBytes */
  gboolean sequence;
  guint32 next_seq;
  guint bad_frames;
  guint64 frames;
  guint64 frame_bytes;

  gboolean unref_on_frame;      /* drop the link from inside a callback */
  gboolean abort_on_frame;
} Peer;

typedef struct {
  GMainContext *ctx;
  GSource *tick;
  TestRng rng;
  MeshIdentity id_a, id_b, id_c;
  MeshTlsCredentials *creds_a, *creds_b;
  MeshListener *listener;       /* B */
  MeshNetLinkConfig server_config;
  GPtrArray *servers;           /* Peer*, accepted by B */
  char *addr;                   /* "127.0.0.1:port" of B */
} Fixture;

static void
peer_established (MeshNetLink *link, const uint8_t *key, gpointer user_data)
{
  Peer *p = user_data;

  g_assert_false (p->established);
  g_assert_false (p->closed);
  p->established = TRUE;
  memcpy (p->peer_key, key, sizeof p->peer_key);
}

/* A numbered frame body: 4-byte sequence number, then bytes that depend
 * on it, so reordering, loss and corruption all show. */
static gsize
seq_frame (guint8 *out, guint32 seq, gsize body_len)
{
  g_assert_cmpuint (body_len, >=, 4);
  mesh_frame_write_header (out, (guint32) body_len);
  mesh_frame_write_header (out + 4, seq);
  for (gsize i = 4; i < body_len; i++)
    out[4 + i] = (guint8) (seq * 31u + i * 7u);
  return body_len + 4;
}

static gboolean
seq_check (const guint8 *body, gsize len, guint32 seq)
{
  if (len < 4 || mesh_frame_read_header (body) != seq)
    return FALSE;
  for (gsize i = 4; i < len; i++)
    if (body[i] != (guint8) (seq * 31u + i * 7u))
      return FALSE;
  return TRUE;
}

static void
peer_frame (MeshNetLink *link, const guint8 *data, gsize len, gpointer user_data)
{
  Peer *p = user_data;

  g_assert_true (p->established);
  g_assert_false (p->closed);
  p->frames++;
  p->frame_bytes += len;
  if (p->sequence)
    {
      if (!seq_check (data, len, p->next_seq))
        p->bad_frames++;
      p->next_seq++;
    }
  if (p->kept)
    g_ptr_array_add (p->kept, g_bytes_new (data, len));
  if (p->abort_on_frame)
    mesh_net_link_abort (link, "test aborts from a frame callback");
  if (p->unref_on_frame)
    {
      /* The link must not call back after this. */
      g_clear_pointer (&p->link, mesh_net_link_unref);
      p->closed = TRUE;
    }
}

static void
peer_closed (MeshNetLink *link, const GError *error, gpointer user_data)
{
  Peer *p = user_data;

  g_assert_false (p->closed);
  g_assert_true (p->link == link);
  p->closed = TRUE;
  if (error)
    p->close_error = g_error_copy (error);
}

static void
peer_writable (MeshNetLink *link, gpointer user_data)
{
  Peer *p = user_data;

  p->writable++;
}

static const MeshNetLinkCallbacks peer_callbacks = {
  .established = peer_established,
  .frame = peer_frame,
  .closed = peer_closed,
  .writable = peer_writable,
};

static Peer *
peer_new (void)
{
  return g_new0 (Peer, 1);
}

static void
peer_free (Peer *p)
{
  g_clear_pointer (&p->link, mesh_net_link_unref);
  g_clear_error (&p->close_error);
  if (p->kept)
    g_ptr_array_unref (p->kept);
  g_free (p);
}

static void
on_accept (MeshListener *listener, MeshNetLink *link, gpointer user_data)
{
  Fixture *f = user_data;
  Peer *p = peer_new ();

  p->link = link;
  mesh_net_link_set_callbacks (link, &peer_callbacks, p);
  g_ptr_array_add (f->servers, p);
}

static gboolean
tick (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

static MeshTlsCredentials *
make_creds (const MeshIdentity *id, TestRng *rng)
{
  GError *error = NULL;
  MeshTlsCredentials *c = mesh_tls_credentials_new (id, NOW_UNIX_S, test_rng,
                                                    rng, &error);

  g_assert_no_error (error);
  g_assert_nonnull (c);
  return c;
}

static void
start_listener (Fixture *f, guint rate)
{
  GError *error = NULL;

  f->listener = mesh_listener_new (f->ctx, "127.0.0.1:0", f->creds_b,
                                   &f->server_config, rate, on_accept, f, &error);
  g_assert_no_error (error);
  g_assert_nonnull (f->listener);
  f->addr = g_strdup_printf ("127.0.0.1:%u", mesh_listener_get_port (f->listener));
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  uint8_t seed[MESH_SEED_LEN] = { 0 };

  f->ctx = g_main_context_new ();
  f->tick = g_timeout_source_new (20);
  g_source_set_callback (f->tick, tick, NULL, NULL);
  g_source_attach (f->tick, f->ctx);
  f->rng.state = 42;
  seed[0] = 1;
  mesh_identity_from_seed (&f->id_a, seed);
  seed[0] = 2;
  mesh_identity_from_seed (&f->id_b, seed);
  seed[0] = 3;
  mesh_identity_from_seed (&f->id_c, seed);
  f->creds_a = make_creds (&f->id_a, &f->rng);
  f->creds_b = make_creds (&f->id_b, &f->rng);
  f->servers = g_ptr_array_new_with_free_func ((GDestroyNotify) peer_free);
  mesh_net_link_config_init (&f->server_config);
  /* Tests that need other listener settings start their own. */
  if (data == NULL)
    start_listener (f, 0);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_ptr_array_unref (f->servers);
  mesh_listener_free (f->listener);
  mesh_tls_credentials_unref (f->creds_a);
  mesh_tls_credentials_unref (f->creds_b);
  mesh_identity_clear (&f->id_a);
  mesh_identity_clear (&f->id_b);
  mesh_identity_clear (&f->id_c);
  g_free (f->addr);
  g_source_destroy (f->tick);
  g_source_unref (f->tick);
  /* Let destroyed sources go before the context. */
  while (g_main_context_iteration (f->ctx, FALSE))
    ;
  g_main_context_unref (f->ctx);
}

static Peer *
connect_a (Fixture *f, const MeshNetLinkConfig *config, const uint8_t *pin)
{
  GError *error = NULL;
  Peer *p = peer_new ();

  p->link = mesh_net_link_connect (f->ctx, f->creds_a, config, f->addr, pin,
                                   &peer_callbacks, p, &error);
  g_assert_no_error (error);
  g_assert_nonnull (p->link);
  return p;
}

static Peer *
server_peer (Fixture *f)
{
  WAIT_FOR (f->ctx, f->servers->len > 0, "the listener to accept");
  return f->servers->pdata[0];
}

/* A connected pair: A (client) and B's side (server). */
static void
connect_pair (Fixture *f, const MeshNetLinkConfig *config, Peer **client,
              Peer **server)
{
  Peer *a = connect_a (f, config, NULL);
  Peer *b = server_peer (f);

  WAIT_FOR (f->ctx, (a->established && b->established) || a->closed || b->closed,
            "both ends established");
  g_assert_no_error (a->close_error);
  g_assert_no_error (b->close_error);
  g_assert_true (a->established && b->established);
  *client = a;
  *server = b;
}

static void
assert_error_has (const GError *error, gint code, const char *needle)
{
  if (error == NULL)
    g_error ("expected an error naming \"%s\", got none", needle);
  if ((code && !g_error_matches (error, MESHARA_ERROR, code))
      || strstr (error->message, needle) == NULL)
    g_error ("expected code %d naming \"%s\", got %s code %d: %s", code, needle,
             g_quark_to_string (error->domain), error->code, error->message);
}

/* ---- raw peers, to play the hostile or foreign side ---- */

/* A plain TCP connection to addr (blocking connect: the kernel completes
 * it from the listen backlog), then nonblocking. */
static GSocket *
raw_connect (const char *addr)
{
  GError *error = NULL;
  GSocketAddress *sa = mesh_net_parse_address (addr, &error);
  GSocket *s;

  g_assert_no_error (error);
  s = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                    G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_no_error (error);
  g_socket_connect (s, sa, NULL, &error);
  g_assert_no_error (error);
  g_socket_set_blocking (s, FALSE);
  g_object_unref (sa);
  return s;
}

/* A GnuTLS client built by hand, with its own ALPN (or none). */
typedef struct {
  GSocket *socket;
  gnutls_session_t session;
  gnutls_certificate_credentials_t cred;
  GSource *source;
  gboolean done;
  int result;
} RawTls;

static gboolean
raw_tls_step (GSocket *socket, GIOCondition condition, gpointer user_data)
{
  RawTls *r = user_data;
  int ret = gnutls_handshake (r->session);

  if (ret == GNUTLS_E_AGAIN || ret == GNUTLS_E_INTERRUPTED)
    return G_SOURCE_CONTINUE;
  r->done = TRUE;
  r->result = ret;
  return G_SOURCE_REMOVE;
}

/* A hand-made GnuTLS session of either role on socket (taken over). */
static RawTls *
raw_tls_new_on (Fixture *f, const MeshIdentity *id, const char *alpn,
                gboolean server, GSocket *socket)
{
  RawTls *r = g_new0 (RawTls, 1);
  gnutls_x509_privkey_t key;
  gnutls_x509_crt_t crt;
  gnutls_datum_t pub = { (unsigned char *) id->pub.ed_pub, 32 };
  gnutls_datum_t priv = { (unsigned char *) id->ed_priv, 32 };
  MeshTlsCredentials *creds = make_creds (id, &f->rng);

  /* The node's own certificate, so only the ALPN differs. */
  g_assert_cmpint (gnutls_x509_privkey_init (&key), ==, 0);
  g_assert_cmpint (gnutls_x509_privkey_import_ecc_raw (key, GNUTLS_ECC_CURVE_ED25519,
                                                       &pub, NULL, &priv), ==, 0);
  g_assert_cmpint (gnutls_x509_crt_init (&crt), ==, 0);
  g_assert_cmpint (gnutls_x509_crt_import (crt, mesh_tls_credentials_get_certificate (creds),
                                           GNUTLS_X509_FMT_DER), ==, 0);
  g_assert_cmpint (gnutls_certificate_allocate_credentials (&r->cred), ==, 0);
  g_assert_cmpint (gnutls_certificate_set_x509_key (r->cred, &crt, 1, key), ==, 0);
  gnutls_x509_crt_deinit (crt);
  gnutls_x509_privkey_deinit (key);
  mesh_tls_credentials_unref (creds);

  g_assert_cmpint (gnutls_init (&r->session, (server ? GNUTLS_SERVER : GNUTLS_CLIENT)
                                | GNUTLS_NONBLOCK | GNUTLS_NO_SIGNAL), ==, 0);
  g_assert_cmpint (gnutls_priority_set_direct (r->session,
                                               "NORMAL:-VERS-ALL:+VERS-TLS1.3", NULL), ==, 0);
  g_assert_cmpint (gnutls_credentials_set (r->session, GNUTLS_CRD_CERTIFICATE, r->cred), ==, 0);
  if (alpn)
    {
      gnutls_datum_t proto = { (unsigned char *) alpn, (unsigned) strlen (alpn) };

      g_assert_cmpint (gnutls_alpn_set_protocols (r->session, &proto, 1, 0), ==, 0);
    }
  r->socket = socket;
  gnutls_transport_set_int (r->session, g_socket_get_fd (r->socket));
  /* Each flight fits the socket buffer: only reads ever wait. */
  raw_tls_step (r->socket, G_IO_OUT, r);
  r->source = g_socket_create_source (r->socket, G_IO_IN, NULL);
  g_source_set_callback (r->source, G_SOURCE_FUNC (raw_tls_step), r, NULL);
  g_source_attach (r->source, f->ctx);
  return r;
}

static RawTls *
raw_tls_new (Fixture *f, const MeshIdentity *id, const char *alpn)
{
  return raw_tls_new_on (f, id, alpn, FALSE, raw_connect (f->addr));
}

static void
raw_tls_free (RawTls *r)
{
  g_source_destroy (r->source);
  g_source_unref (r->source);
  gnutls_deinit (r->session);
  gnutls_certificate_free_credentials (r->cred);
  g_socket_close (r->socket, NULL);
  g_object_unref (r->socket);
  g_free (r);
}

/* ---- tests ---- */

static void
test_address (void)
{
  static const struct {
    const char *text;
    const char *ip;
    guint port;
  } good[] = {
    { "127.0.0.1:7000", "127.0.0.1", 7000 },
    { "0.0.0.0:0", "0.0.0.0", 0 },
    { "[::1]:65535", "::1", 65535 },
    { "[2001:db8::5]:443", "2001:db8::5", 443 },
  };
  static const char *const bad[] = {
    "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1", "127.0.0.1:8x",
    "localhost:80", "::1:80", "[::1]80", "[::1", "[nonsense]:1", ":80", "",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (good); i++)
    {
      GError *error = NULL;
      GSocketAddress *sa = mesh_net_parse_address (good[i].text, &error);
      char *ip;

      g_assert_no_error (error);
      g_assert_true (G_IS_INET_SOCKET_ADDRESS (sa));
      ip = g_inet_address_to_string (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (sa)));
      g_assert_cmpstr (ip, ==, good[i].ip);
      g_assert_cmpuint (g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (sa)), ==,
                        good[i].port);
      g_free (ip);
      g_object_unref (sa);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      GError *error = NULL;
      GSocketAddress *sa = mesh_net_parse_address (bad[i], &error);

      if (sa != NULL)
        g_error ("\"%s\" was accepted as an address", bad[i]);
      assert_error_has (error, MESHARA_ERROR_INVALID_ARGUMENT, bad[i]);
      g_error_free (error);
    }
}

static void
test_certificate (void)
{
  TestRng rng = { 5 };
  uint8_t seed[MESH_SEED_LEN] = { 9 };
  MeshIdentity id;
  MeshTlsCredentials *creds;
  const gnutls_datum_t *der;
  gnutls_datum_t copy;
  gnutls_x509_crt_t crt;
  uint8_t key[MESH_ED25519_KEY_LEN];
  char cn[128];
  size_t cn_len = sizeof cn;
  char *hex;
  GError *error = NULL;

  mesh_identity_from_seed (&id, seed);
  creds = make_creds (&id, &rng);
  g_assert_cmpmem (mesh_tls_credentials_get_ed_pub (creds), 32, id.pub.ed_pub, 32);
  der = mesh_tls_credentials_get_certificate (creds);

  /* The key comes back out, and CN is the node ID. */
  g_assert_true (mesh_tls_verify_certificate (der, key, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (key, 32, id.pub.ed_pub, 32);
  g_assert_cmpint (gnutls_x509_crt_init (&crt), ==, 0);
  g_assert_cmpint (gnutls_x509_crt_import (crt, der, GNUTLS_X509_FMT_DER), ==, 0);
  g_assert_cmpint (gnutls_x509_crt_get_dn_by_oid (crt, GNUTLS_OID_X520_COMMON_NAME,
                                                  0, 0, cn, &cn_len), ==, 0);
  hex = mesh_node_id_to_hex (id.pub.node_id);
  g_assert_cmpstr (cn, ==, hex);
  g_free (hex);
  g_assert_cmpint (gnutls_x509_crt_get_activation_time (crt), ==, NOW_UNIX_S - 24 * 3600);
  gnutls_x509_crt_deinit (crt);

  /* A flipped bit in the signature, or anywhere, is refused. */
  copy.size = der->size;
  copy.data = g_memdup2 (der->data, der->size);
  copy.data[copy.size - 1] ^= 1;
  g_assert_false (mesh_tls_verify_certificate (&copy, key, &error));
  assert_error_has (error, MESHARA_ERROR_BAD_SIGNATURE, "self-signed");
  g_clear_error (&error);
  copy.data[copy.size - 1] ^= 1;
  copy.data[copy.size / 2] ^= 0x40;
  g_assert_false (mesh_tls_verify_certificate (&copy, key, &error));
  g_assert_nonnull (error);
  g_clear_error (&error);
  /* Truncated and garbage input. */
  copy.size = 10;
  g_assert_false (mesh_tls_verify_certificate (&copy, key, &error));
  assert_error_has (error, MESHARA_ERROR_MALFORMED, "X.509");
  g_clear_error (&error);
  g_free (copy.data);

  mesh_tls_credentials_unref (creds);
  mesh_identity_clear (&id);
}

static void
test_handshake (Fixture *f, gconstpointer data)
{
  Peer *a, *b;
  MeshNetLinkStats sa, sb;
  GSocketAddress *remote;

  connect_pair (f, NULL, &a, &b);
  /* Each side sees the other's Ed25519 key, from the certificate. */
  g_assert_cmpmem (a->peer_key, 32, f->id_b.pub.ed_pub, 32);
  g_assert_cmpmem (b->peer_key, 32, f->id_a.pub.ed_pub, 32);
  g_assert_cmpmem (mesh_net_link_get_peer_ed_pub (a->link), 32, f->id_b.pub.ed_pub, 32);
  g_assert_cmpmem (mesh_net_link_get_peer_ed_pub (b->link), 32, f->id_a.pub.ed_pub, 32);
  g_assert_false (mesh_net_link_is_server (a->link));
  g_assert_true (mesh_net_link_is_server (b->link));
  g_assert_cmpint (mesh_net_link_get_state (a->link), ==, MESH_NET_LINK_ESTABLISHED);
  g_assert_cmpint (mesh_net_link_get_state (b->link), ==, MESH_NET_LINK_ESTABLISHED);
  mesh_net_link_get_stats (a->link, &sa);
  mesh_net_link_get_stats (b->link, &sb);
  g_assert_cmpuint (sa.connected_ns, >, 0);
  g_assert_cmpuint (sb.connected_ns, >, 0);
  g_assert_cmpuint (sa.frames_in + sa.frames_out + sa.bytes_in + sa.bytes_out, ==, 0);
  remote = mesh_net_link_get_remote_address (a->link);
  g_assert_cmpuint (g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (remote)), ==,
                    mesh_listener_get_port (f->listener));
  g_object_unref (remote);
  mesh_net_link_set_id (a->link, 77);
  g_assert_cmpuint (mesh_net_link_get_id (a->link), ==, 77);

  /* One frame each way. */
  {
    guint8 buf[64];
    gsize n = seq_frame (buf, 0, 20);
    GError *error = NULL;

    a->sequence = b->sequence = TRUE;
    g_assert_true (mesh_net_link_send (a->link, buf, n, &error));
    g_assert_true (mesh_net_link_send (b->link, buf, n, &error));
    g_assert_no_error (error);
    WAIT_FOR (f->ctx, a->frames == 1 && b->frames == 1, "one frame each way");
    g_assert_cmpuint (a->bad_frames + b->bad_frames, ==, 0);
    mesh_net_link_get_stats (a->link, &sa);
    g_assert_cmpuint (sa.frames_in, ==, 1);
    g_assert_cmpuint (sa.frames_out, ==, 1);
    g_assert_cmpuint (sa.bytes_out, ==, n);
    g_assert_cmpuint (sa.bytes_in, ==, n);
    g_assert_cmpuint (sa.queued, ==, 0);
  }
  peer_free (a);
}

static void
test_pin_match (Fixture *f, gconstpointer data)
{
  Peer *a = connect_a (f, NULL, f->id_b.pub.ed_pub);
  Peer *b;
  guint8 frame[64];

  /* Frames may be queued before the handshake; they follow it. */
  g_assert_true (mesh_net_link_send (a->link, frame, seq_frame (frame, 0, 30), NULL));
  b = server_peer (f);
  b->sequence = TRUE;
  WAIT_FOR (f->ctx, (a->established && b->frames == 1) || a->closed || b->closed,
            "a pinned link to be established and carry a frame");
  g_assert_no_error (a->close_error);
  g_assert_true (a->established);
  g_assert_cmpmem (a->peer_key, 32, f->id_b.pub.ed_pub, 32);
  g_assert_cmpuint (b->bad_frames, ==, 0);
  peer_free (a);
}

static void
test_pin_mismatch (Fixture *f, gconstpointer data)
{
  Peer *a = connect_a (f, NULL, f->id_c.pub.ed_pub);
  Peer *b = server_peer (f);
  char *fp_b = mesh_fingerprint (f->id_b.pub.node_id);
  char *fp_c = mesh_fingerprint (f->id_c.pub.node_id);

  WAIT_FOR (f->ctx, a->closed && b->closed, "both ends to close");
  g_assert_false (a->established);
  g_assert_false (b->established);
  /* The refusal names the key found and the key expected. */
  assert_error_has (a->close_error, MESHARA_ERROR_INVALID, fp_b);
  assert_error_has (a->close_error, MESHARA_ERROR_INVALID, fp_c);
  assert_error_has (a->close_error, MESHARA_ERROR_INVALID, "does not match the expected key");
  g_assert_nonnull (b->close_error);
  g_assert_null (mesh_net_link_get_peer_ed_pub (a->link));
  g_free (fp_b);
  g_free (fp_c);
  peer_free (a);
}

static void
test_alpn_mismatch (Fixture *f, gconstpointer data)
{
  RawTls *r = raw_tls_new (f, &f->id_a, "other/1");
  Peer *b = server_peer (f);

  WAIT_FOR (f->ctx, b->closed && r->done, "the server to refuse ALPN other/1");
  g_assert_false (b->established);
  assert_error_has (b->close_error, MESHARA_ERROR_UNSUPPORTED_VERSION, "ALPN");
  assert_error_has (b->close_error, 0, MESH_TLS_ALPN);
  /* The foreign client was told so by an alert. */
  g_assert_cmpint (r->result, <, 0);
  raw_tls_free (r);
}

static void
test_alpn_missing (Fixture *f, gconstpointer data)
{
  RawTls *r = raw_tls_new (f, &f->id_a, NULL);
  Peer *b = server_peer (f);

  WAIT_FOR (f->ctx, b->closed, "the server to refuse a client without ALPN");
  g_assert_false (b->established);
  assert_error_has (b->close_error, MESHARA_ERROR_UNSUPPORTED_VERSION, "ALPN");
  raw_tls_free (r);
}

/* Our client against a TLS server that selects no ALPN protocol. */
static void
test_alpn_server_missing (Fixture *f, gconstpointer data)
{
  GSocket *lsock, *conn = NULL;
  GSocketAddress *sa;
  GError *error = NULL;
  char *addr;
  RawTls *r;
  Peer *a = peer_new ();

  lsock = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                        G_SOCKET_PROTOCOL_TCP, &error);
  sa = mesh_net_parse_address ("127.0.0.1:0", &error);
  g_assert_true (g_socket_bind (lsock, sa, TRUE, &error));
  g_assert_true (g_socket_listen (lsock, &error));
  g_object_unref (sa);
  g_socket_set_blocking (lsock, FALSE);
  sa = g_socket_get_local_address (lsock, &error);
  g_assert_no_error (error);
  addr = g_strdup_printf ("127.0.0.1:%u",
                          g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (sa)));
  g_object_unref (sa);

  a->link = mesh_net_link_connect (f->ctx, f->creds_a, NULL, addr, NULL,
                                   &peer_callbacks, a, &error);
  g_assert_no_error (error);
  WAIT_FOR (f->ctx, (conn = g_socket_accept (lsock, NULL, NULL)) != NULL,
            "the raw server to accept");
  g_socket_set_blocking (conn, FALSE);
  r = raw_tls_new_on (f, &f->id_b, NULL, TRUE, conn);
  WAIT_FOR (f->ctx, a->closed, "the client to refuse a server without ALPN");
  g_assert_false (a->established);
  assert_error_has (a->close_error, MESHARA_ERROR_UNSUPPORTED_VERSION, "ALPN");
  assert_error_has (a->close_error, 0, MESH_TLS_ALPN);

  raw_tls_free (r);
  g_socket_close (lsock, NULL);
  g_object_unref (lsock);
  g_free (addr);
  peer_free (a);
}

static void
test_not_tls (Fixture *f, gconstpointer data)
{
  static const char junk[] = "GET / HTTP/1.1\r\nHost: example\r\n\r\n";
  GSocket *s = raw_connect (f->addr);
  GError *error = NULL;
  guint8 noise[4096];
  guint8 *big;
  Peer *b, *a;

  g_assert_cmpint (g_socket_send (s, junk, sizeof junk - 1, NULL, &error), ==, sizeof junk - 1);
  g_assert_no_error (error);
  test_rng (&f->rng, noise, sizeof noise);
  g_socket_send (s, (const char *) noise, sizeof noise, NULL, NULL);
  b = server_peer (f);
  WAIT_FOR (f->ctx, b->closed, "the server to refuse a non-TLS client");
  g_assert_false (b->established);
  g_assert_nonnull (b->close_error);
  g_test_message ("refused with: %s", b->close_error->message);
  assert_error_has (b->close_error, 0, "TLS");
  g_socket_close (s, NULL);
  g_object_unref (s);

  /* Random bytes from the first byte on, too: more than the largest
   * record a header can announce, so the server cannot just wait. */
  s = raw_connect (f->addr);
  big = g_malloc (70000);
  test_rng (&f->rng, big, 70000);
  g_assert_cmpint (g_socket_send (s, (const char *) big, 70000, NULL, &error), ==, 70000);
  g_assert_no_error (error);
  g_free (big);
  WAIT_FOR (f->ctx, f->servers->len == 2 && ((Peer *) f->servers->pdata[1])->closed,
            "the server to refuse random bytes");
  g_assert_nonnull (((Peer *) f->servers->pdata[1])->close_error);
  g_socket_close (s, NULL);
  g_object_unref (s);

  /* The listener still serves real peers. */
  a = connect_a (f, NULL, NULL);
  WAIT_FOR (f->ctx, a->established || a->closed, "a link after the junk");
  g_assert_true (a->established);
  peer_free (a);
}

static void
test_burst (Fixture *f, gconstpointer data)
{
  const guint32 n = 10000;
  Peer *a, *b;
  MeshNetLinkStats st;
  guint64 bytes = 0;
  guint8 buf[128];
  GError *error = NULL;

  connect_pair (f, NULL, &a, &b);
  b->sequence = TRUE;
  /* Queued in one go, as the engine would in one step. */
  for (guint32 i = 0; i < n; i++)
    {
      gsize len = seq_frame (buf, i, 4 + i % 61);

      if (!mesh_net_link_send (a->link, buf, len, &error))
        g_error ("frame %u refused: %s", i, error->message);
      bytes += len;
    }
  WAIT_FOR (f->ctx, b->frames == n || b->closed, "10,000 frames");
  g_assert_no_error (b->close_error);
  g_assert_cmpuint (b->frames, ==, n);
  g_assert_cmpuint (b->bad_frames, ==, 0);
  g_assert_cmpuint (b->next_seq, ==, n);
  g_assert_cmpuint (b->frame_bytes + 4 * n, ==, bytes);
  mesh_net_link_get_stats (a->link, &st);
  g_assert_cmpuint (st.frames_out, ==, n);
  g_assert_cmpuint (st.bytes_out, ==, bytes);
  g_assert_cmpuint (st.queued, ==, 0);
  /* Coalesced: full records, not one per frame. */
  g_test_message ("%" G_GUINT64_FORMAT " bytes in %" G_GUINT64_FORMAT " records",
                  bytes, st.records_out);
  g_assert_cmpuint (st.records_out, <=, bytes / 16384 + 1 + bytes / (64 * 1024) + 1);
  mesh_net_link_get_stats (b->link, &st);
  g_assert_cmpuint (st.frames_in, ==, n);
  g_assert_cmpuint (st.bytes_in, ==, bytes);
  peer_free (a);
}

static void
test_large_frame (Fixture *f, gconstpointer data)
{
  const gsize body = 4 * 1024 * 1024;
  guint8 *frame = g_malloc (body + 4);
  guint8 small[32];
  Peer *a, *b;
  GError *error = NULL;
  GBytes *got;

  connect_pair (f, NULL, &a, &b);
  b->kept = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  mesh_frame_write_header (frame, (guint32) body);
  test_rng (&f->rng, frame + 4, body);
  /* Larger than the queue limit: an empty queue still takes it. */
  g_assert_true (mesh_net_link_send (a->link, frame, body + 4, &error));
  g_assert_no_error (error);
  /* ...and then the queue is over the limit until it drains. */
  g_assert_false (mesh_net_link_send (a->link, small, seq_frame (small, 1, 8), &error));
  assert_error_has (error, MESHARA_ERROR_EXHAUSTED, "send queue");
  g_clear_error (&error);
  WAIT_FOR (f->ctx, a->writable > 0, "the 4 MiB frame to drain");
  g_assert_true (mesh_net_link_send (a->link, small, seq_frame (small, 1, 8), &error));
  g_assert_no_error (error);
  WAIT_FOR (f->ctx, b->frames == 2 || b->closed, "a 4 MiB frame and the next");
  g_assert_no_error (b->close_error);
  got = b->kept->pdata[0];
  g_assert_cmpuint (g_bytes_get_size (got), ==, body);
  g_assert_true (memcmp (g_bytes_get_data (got, NULL), frame + 4, body) == 0);
  got = b->kept->pdata[1];
  g_assert_true (seq_check (g_bytes_get_data (got, NULL), g_bytes_get_size (got), 1));
  g_free (frame);
  peer_free (a);
}

static void
test_oversized (Fixture *f, gconstpointer data)
{
  guint8 *frame = g_malloc0 (2000 + 4);
  MeshNetLinkConfig big;
  Peer *a, *b;
  GError *error = NULL;

  /* B takes frames up to 1024 bytes; A may send up to 16 MiB. */
  f->server_config.max_frame_size = 1024;
  start_listener (f, 0);
  mesh_net_link_config_init (&big);
  connect_pair (f, &big, &a, &b);
  mesh_frame_write_header (frame, 2000);
  g_assert_true (mesh_net_link_send (a->link, frame, 2004, &error));
  g_assert_no_error (error);
  WAIT_FOR (f->ctx, b->closed && a->closed, "both ends to close");
  g_assert_cmpuint (b->frames, ==, 0);
  assert_error_has (b->close_error, MESHARA_ERROR_TOO_LARGE, "frame of 2000 bytes");
  assert_error_has (b->close_error, MESHARA_ERROR_TOO_LARGE, "1024");
  g_assert_nonnull (a->close_error);

  /* Our own limit applies to what we send, before anything is queued. */
  {
    MeshNetLinkConfig small;
    Peer *c;

    mesh_net_link_config_init (&small);
    small.max_frame_size = 100;
    c = connect_a (f, &small, NULL);
    mesh_frame_write_header (frame, 101);
    g_assert_false (mesh_net_link_send (c->link, frame, 105, &error));
    assert_error_has (error, MESHARA_ERROR_TOO_LARGE, "101");
    g_clear_error (&error);
    /* A header that disagrees with the length. */
    g_assert_false (mesh_net_link_send (c->link, frame, 90, &error));
    assert_error_has (error, MESHARA_ERROR_INVALID_ARGUMENT, "announces 101");
    g_clear_error (&error);
    g_assert_false (mesh_net_link_send (c->link, frame, 4, &error));
    assert_error_has (error, MESHARA_ERROR_INVALID_ARGUMENT, "4 bytes");
    g_clear_error (&error);
    peer_free (c);
  }
  g_free (frame);
  peer_free (a);
}

static void
test_backpressure (Fixture *f, gconstpointer data)
{
  MeshNetLinkConfig config;
  MeshNetLinkStats st;
  Peer *a, *b;
  guint8 frame[1024 + 4];
  guint32 sent = 0;
  GError *error = NULL;

  mesh_net_link_config_init (&config);
  config.send_queue_max = 64 * 1024;
  connect_pair (f, &config, &a, &b);
  b->sequence = TRUE;

  /* Without the loop running nothing leaves: the bound must hold. */
  for (;;)
    {
      seq_frame (frame, sent, 1024);
      if (!mesh_net_link_send (a->link, frame, sizeof frame, &error))
        break;
      sent++;
      g_assert_cmpuint (sent, <, 1000);
    }
  assert_error_has (error, MESHARA_ERROR_EXHAUSTED, "send queue");
  g_clear_error (&error);
  mesh_net_link_get_stats (a->link, &st);
  g_assert_cmpuint (st.queued, <=, config.send_queue_max);
  g_assert_cmpuint (st.queued, >, config.send_queue_max - sizeof frame);
  g_assert_cmpuint (sent, ==, config.send_queue_max / sizeof frame);

  /* Drained below half: writable, and sending works again. */
  WAIT_FOR (f->ctx, a->writable > 0, "the writable callback");
  seq_frame (frame, sent, 1024);
  g_assert_true (mesh_net_link_send (a->link, frame, sizeof frame, &error));
  g_assert_no_error (error);
  sent++;
  WAIT_FOR (f->ctx, b->frames == sent || b->closed, "every accepted frame");
  g_assert_cmpuint (b->bad_frames, ==, 0);
  g_assert_no_error (b->close_error);

  peer_free (a);
}

static void
test_graceful_close (Fixture *f, gconstpointer data)
{
  Peer *a, *b;
  guint8 frame[64];
  GError *error = NULL;

  connect_pair (f, NULL, &a, &b);
  b->sequence = TRUE;
  for (guint32 i = 0; i < 100; i++)
    g_assert_true (mesh_net_link_send (a->link, frame, seq_frame (frame, i, 40), NULL));
  /* Queued frames still go out before the close. */
  mesh_net_link_close (a->link);
  g_assert_cmpint (mesh_net_link_get_state (a->link), ==, MESH_NET_LINK_CLOSING);
  g_assert_false (mesh_net_link_send (a->link, frame, seq_frame (frame, 100, 40), &error));
  assert_error_has (error, MESHARA_ERROR_IO, "closing");
  g_clear_error (&error);
  WAIT_FOR (f->ctx, a->closed && b->closed, "both ends to report the close");
  g_assert_no_error (a->close_error);
  g_assert_no_error (b->close_error);
  g_assert_cmpuint (b->frames, ==, 100);
  g_assert_cmpuint (b->bad_frames, ==, 0);
  g_assert_cmpint (mesh_net_link_get_state (a->link), ==, MESH_NET_LINK_CLOSED);
  g_assert_cmpint (mesh_net_link_get_state (b->link), ==, MESH_NET_LINK_CLOSED);
  /* closed() came once (peer_closed asserts it); nothing after. */
  run_for (f->ctx, 50);
  peer_free (a);
}

static void
test_close_by_server (Fixture *f, gconstpointer data)
{
  Peer *a, *b;

  connect_pair (f, NULL, &a, &b);
  mesh_net_link_close (b->link);
  WAIT_FOR (f->ctx, a->closed && b->closed, "both ends to report the close");
  g_assert_no_error (a->close_error);
  g_assert_no_error (b->close_error);
  peer_free (a);
}

static void
test_abort (Fixture *f, gconstpointer data)
{
  Peer *a, *b;
  guint8 frame[64];

  connect_pair (f, NULL, &a, &b);
  b->abort_on_frame = TRUE;
  for (guint32 i = 0; i < 10; i++)
    g_assert_true (mesh_net_link_send (a->link, frame, seq_frame (frame, i, 40), NULL));
  WAIT_FOR (f->ctx, a->closed && b->closed, "both ends to close");
  /* Nothing after the abort, though nine more frames had arrived. */
  g_assert_cmpuint (b->frames, ==, 1);
  assert_error_has (b->close_error, MESHARA_ERROR_FAILED, "test aborts");
  g_assert_nonnull (a->close_error);
  peer_free (a);
}

static void
test_unref_in_callback (Fixture *f, gconstpointer data)
{
  Peer *a, *b;
  guint8 frame[64];

  connect_pair (f, NULL, &a, &b);
  b->unref_on_frame = TRUE;
  for (guint32 i = 0; i < 10; i++)
    g_assert_true (mesh_net_link_send (a->link, frame, seq_frame (frame, i, 40), NULL));
  WAIT_FOR (f->ctx, a->closed, "the client to see the connection go");
  g_assert_cmpuint (b->frames, ==, 1);
  g_assert_null (b->link);
  peer_free (a);
}

static void
test_handshake_timeout (Fixture *f, gconstpointer data)
{
  MeshNetLinkConfig config;
  GSocket *silent, *mute;
  GSocketAddress *sa;
  GError *error = NULL;
  char *addr;
  Peer *a, *b;
  gint64 t0;

  mesh_net_link_config_init (&config);
  config.handshake_timeout_ms = 200;

  /* A TCP server that never speaks (nor accepts: the kernel completes
   * the connection from its backlog). */
  silent = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                         G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_no_error (error);
  sa = mesh_net_parse_address ("127.0.0.1:0", &error);
  g_assert_true (g_socket_bind (silent, sa, TRUE, &error));
  g_assert_true (g_socket_listen (silent, &error));
  g_assert_no_error (error);
  g_object_unref (sa);
  sa = g_socket_get_local_address (silent, &error);
  addr = g_strdup_printf ("127.0.0.1:%u",
                          g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (sa)));
  g_object_unref (sa);

  a = peer_new ();
  t0 = g_get_monotonic_time ();
  a->link = mesh_net_link_connect (f->ctx, f->creds_a, &config, addr, NULL,
                                   &peer_callbacks, a, &error);
  g_assert_no_error (error);
  WAIT_FOR (f->ctx, a->closed, "the client's handshake timeout");
  g_assert_cmpint (g_get_monotonic_time () - t0, >=, 200 * 1000);
  g_assert_false (a->established);
  assert_error_has (a->close_error, MESHARA_ERROR_IO, "TLS handshake");
  assert_error_has (a->close_error, MESHARA_ERROR_IO, "200 ms");
  peer_free (a);

  /* And a TCP client that never speaks, on the server side. */
  mesh_listener_free (f->listener);
  g_free (f->addr);
  f->server_config.handshake_timeout_ms = 200;
  start_listener (f, 0);
  mute = raw_connect (f->addr);
  b = server_peer (f);
  WAIT_FOR (f->ctx, b->closed, "the server's handshake timeout");
  g_assert_false (b->established);
  assert_error_has (b->close_error, MESHARA_ERROR_IO, "TLS handshake");

  g_socket_close (mute, NULL);
  g_object_unref (mute);
  g_socket_close (silent, NULL);
  g_object_unref (silent);
  g_free (addr);
}

static void
test_connect_refused (Fixture *f, gconstpointer data)
{
  GSocket *s;
  GSocketAddress *sa;
  GError *error = NULL;
  char *addr;
  Peer *a = peer_new ();

  /* A port just freed: nobody listens there. */
  s = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                    G_SOCKET_PROTOCOL_TCP, &error);
  sa = mesh_net_parse_address ("127.0.0.1:0", &error);
  g_assert_true (g_socket_bind (s, sa, TRUE, &error));
  g_object_unref (sa);
  sa = g_socket_get_local_address (s, &error);
  addr = g_strdup_printf ("127.0.0.1:%u",
                          g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (sa)));
  g_object_unref (sa);
  g_socket_close (s, NULL);
  g_object_unref (s);

  a->link = mesh_net_link_connect (f->ctx, f->creds_a, NULL, addr, NULL,
                                   &peer_callbacks, a, &error);
  g_assert_no_error (error);
  /* Reported through closed(), never from inside the call. */
  g_assert_false (a->closed);
  WAIT_FOR (f->ctx, a->closed, "the refused connection to be reported");
  assert_error_has (a->close_error, MESHARA_ERROR_IO, addr);
  g_free (addr);
  peer_free (a);

  g_assert_null (mesh_net_link_connect (f->ctx, f->creds_a, NULL, "localhost:1",
                                        NULL, &peer_callbacks, NULL, &error));
  assert_error_has (error, MESHARA_ERROR_INVALID_ARGUMENT, "localhost");
  g_clear_error (&error);
}

static void
test_accept_rate (Fixture *f, gconstpointer data)
{
  GSocket *s[5];
  gint64 t0 = g_get_monotonic_time ();
  gint64 elapsed;
  guint64 refused;

  start_listener (f, 2);
  for (guint i = 0; i < G_N_ELEMENTS (s); i++)
    s[i] = raw_connect (f->addr);
  WAIT_FOR (f->ctx, f->servers->len + mesh_listener_get_refused (f->listener) == 5,
            "five connections to be accepted or refused");
  elapsed = g_get_monotonic_time () - t0;
  refused = mesh_listener_get_refused (f->listener);
  /* A burst of 2, then 2 per second. */
  g_assert_cmpuint (f->servers->len, >=, 2);
  g_assert_cmpuint (f->servers->len, <=, 2 + (guint) (elapsed * 2 / G_USEC_PER_SEC));
  g_assert_cmpuint (refused, ==, 5 - f->servers->len);
  for (guint i = 0; i < G_N_ELEMENTS (s); i++)
    {
      g_socket_close (s[i], NULL);
      g_object_unref (s[i]);
    }
}

static void
test_idle_timeout (Fixture *f, gconstpointer data)
{
  MeshNetLinkConfig config;
  Peer *a, *b;
  guint8 frame[64];

  mesh_net_link_config_init (&config);
  config.idle_timeout_ms = 150;
  connect_pair (f, &config, &a, &b);
  /* Traffic keeps it open... */
  for (guint i = 0; i < 5; i++)
    {
      g_assert_true (mesh_net_link_send (b->link, frame, seq_frame (frame, i, 40), NULL));
      run_for (f->ctx, 50);
    }
  g_assert_false (a->closed);
  /* ...silence closes it. */
  WAIT_FOR (f->ctx, a->closed, "the idle timeout");
  assert_error_has (a->close_error, MESHARA_ERROR_IO, "idle");
  peer_free (a);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/net/address", test_address);
  g_test_add_func ("/net/certificate", test_certificate);
#define ADD(path, fn, own_listener) \
  g_test_add ("/net/" path, Fixture, own_listener ? "own" : NULL, \
              fixture_setup, fn, fixture_teardown)
  ADD ("handshake", test_handshake, FALSE);
  ADD ("pin-match", test_pin_match, FALSE);
  ADD ("pin-mismatch", test_pin_mismatch, FALSE);
  ADD ("alpn-mismatch", test_alpn_mismatch, FALSE);
  ADD ("alpn-missing", test_alpn_missing, FALSE);
  ADD ("alpn-server-missing", test_alpn_server_missing, FALSE);
  ADD ("not-tls", test_not_tls, FALSE);
  ADD ("burst", test_burst, FALSE);
  ADD ("large-frame", test_large_frame, FALSE);
  ADD ("oversized-frame", test_oversized, TRUE);
  ADD ("backpressure", test_backpressure, FALSE);
  ADD ("graceful-close", test_graceful_close, FALSE);
  ADD ("close-by-server", test_close_by_server, FALSE);
  ADD ("abort", test_abort, FALSE);
  ADD ("unref-in-callback", test_unref_in_callback, FALSE);
  ADD ("handshake-timeout", test_handshake_timeout, FALSE);
  ADD ("connect-refused", test_connect_refused, FALSE);
  ADD ("accept-rate", test_accept_rate, TRUE);
  ADD ("idle-timeout", test_idle_timeout, FALSE);
#undef ADD
  return g_test_run ();
}
