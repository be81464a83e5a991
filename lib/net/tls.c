#include "config.h"

#include "net/tls.h"

#include <string.h>
#include <gnutls/abstract.h>
#include <gnutls/x509.h>
#include <meshara/meshara.h>

/* The one priority string of every link: TLS 1.3 only, and Ed25519
 * certificate signatures, which are what node certificates carry. */
#define MESH_TLS_PRIORITY "NORMAL:-VERS-ALL:+VERS-TLS1.3:+SIGN-EDDSA-ED25519:-GROUP-ALL:+GROUP-X25519"

/* A node's clock may run behind its peer's; the certificate's start of
 * validity is put this far back so that a strict peer still accepts it. */
#define NOT_BEFORE_SLACK_S (24 * 3600)

#define SERIAL_LEN 16

/* Peer certificates are checked as their own trust anchor; times are
 * ignored on purpose (see mesh_tls_verify_certificate). */
#define SELF_VERIFY_FLAGS (GNUTLS_VERIFY_DO_NOT_ALLOW_SAME \
                           | GNUTLS_VERIFY_DISABLE_TIME_CHECKS \
                           | GNUTLS_VERIFY_DISABLE_TRUSTED_TIME_CHECKS)

struct _MeshTlsCredentials {
  grefcount ref_count;
  gnutls_certificate_credentials_t cred;
  gnutls_priority_t priority;
  gnutls_datum_t cert_der;
  uint8_t ed_pub[MESH_ED25519_KEY_LEN];
};

static const gnutls_datum_t alpn_protocol = {
  (unsigned char *) MESH_TLS_ALPN, sizeof MESH_TLS_ALPN - 1
};

static gboolean
gnutls_failed (int ret, const char *what, GError **error)
{
  g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_FAILED, "%s: %s", what,
               gnutls_strerror (ret));
  return FALSE;
}

/* A self-signed certificate for the Ed25519 key of self. */
static gboolean
make_certificate (const MeshIdentity *self, gint64 now_unix_s,
                  MeshRandomFunc rnd, void *rnd_data,
                  gnutls_x509_privkey_t *key_out, gnutls_x509_crt_t *crt_out,
                  GError **error)
{
  gnutls_x509_privkey_t key = NULL;
  gnutls_x509_crt_t crt = NULL;
  gnutls_datum_t pub = { (unsigned char *) self->pub.ed_pub, MESH_ED25519_KEY_LEN };
  gnutls_datum_t priv = { (unsigned char *) self->ed_priv, MESH_ED25519_KEY_LEN };
  uint8_t serial[SERIAL_LEN];
  char *cn = NULL;
  const char *step;
  int ret;

  step = "importing the Ed25519 key";
  if ((ret = gnutls_x509_privkey_init (&key)) < 0
      || (ret = gnutls_x509_privkey_import_ecc_raw (key, GNUTLS_ECC_CURVE_ED25519,
                                                    &pub, NULL, &priv)) < 0)
    goto failed;

  /* Positive and of full length, so its DER encoding is canonical. */
  rnd (rnd_data, serial, sizeof serial);
  serial[0] = (uint8_t) ((serial[0] & 0x7f) | 0x40);
  cn = mesh_node_id_to_hex (self->pub.node_id);

  step = "building the certificate";
  if ((ret = gnutls_x509_crt_init (&crt)) < 0
      || (ret = gnutls_x509_crt_set_version (crt, 3)) < 0
      || (ret = gnutls_x509_crt_set_serial (crt, serial, sizeof serial)) < 0
      || (ret = gnutls_x509_crt_set_activation_time (crt, (time_t) (now_unix_s - NOT_BEFORE_SLACK_S))) < 0
      /* The certificate lives as long as the key: no expiry. */
      || (ret = gnutls_x509_crt_set_expiration_time (crt, (time_t) -1)) < 0
      || (ret = gnutls_x509_crt_set_dn_by_oid (crt, GNUTLS_OID_X520_COMMON_NAME, 0,
                                               cn, (unsigned) strlen (cn))) < 0
      || (ret = gnutls_x509_crt_set_key (crt, key)) < 0
      || (ret = gnutls_x509_crt_set_basic_constraints (crt, 1, -1)) < 0
      || (ret = gnutls_x509_crt_set_key_usage (crt, GNUTLS_KEY_DIGITAL_SIGNATURE
                                               | GNUTLS_KEY_KEY_CERT_SIGN)) < 0)
    goto failed;

  step = "signing the certificate";
  /* Ed25519 hashes internally: no digest is chosen. */
  if ((ret = gnutls_x509_crt_sign2 (crt, crt, key, GNUTLS_DIG_UNKNOWN, 0)) < 0)
    goto failed;

  g_free (cn);
  mesh_wipe (serial, sizeof serial);
  *key_out = key;
  *crt_out = crt;
  return TRUE;

failed:
  g_free (cn);
  if (crt)
    gnutls_x509_crt_deinit (crt);
  if (key)
    gnutls_x509_privkey_deinit (key);
  return gnutls_failed (ret, step, error);
}

MeshTlsCredentials *
mesh_tls_credentials_new (const MeshIdentity *self, gint64 now_unix_s,
                          MeshRandomFunc rnd, void *rnd_data, GError **error)
{
  MeshTlsCredentials *c;
  gnutls_x509_privkey_t key;
  gnutls_x509_crt_t crt;
  uint8_t check[MESH_ED25519_KEY_LEN];
  const char *err_pos = NULL;
  int ret;

  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (rnd != NULL, NULL);

  if (!make_certificate (self, now_unix_s, rnd, rnd_data, &key, &crt, error))
    return NULL;

  c = g_new0 (MeshTlsCredentials, 1);
  g_ref_count_init (&c->ref_count);
  memcpy (c->ed_pub, self->pub.ed_pub, sizeof c->ed_pub);

  if ((ret = gnutls_x509_crt_export2 (crt, GNUTLS_X509_FMT_DER, &c->cert_der)) < 0)
    {
      gnutls_failed (ret, "exporting the certificate", error);
      goto failed;
    }
  if ((ret = gnutls_certificate_allocate_credentials (&c->cred)) < 0
      || (ret = gnutls_certificate_set_x509_key (c->cred, &crt, 1, key)) < 0)
    {
      gnutls_failed (ret, "loading the certificate", error);
      goto failed;
    }
  if ((ret = gnutls_priority_init (&c->priority, MESH_TLS_PRIORITY, &err_pos)) < 0)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_FAILED,
                   "TLS priority string \"%s\" rejected at \"%s\": %s",
                   MESH_TLS_PRIORITY, err_pos ? err_pos : "", gnutls_strerror (ret));
      goto failed;
    }
  /* What peers will check: a key pair that does not match would only
   * show up as every handshake failing. */
  if (!mesh_tls_verify_certificate (&c->cert_der, check, error))
    goto failed;
  if (!mesh_ct_equal (check, self->pub.ed_pub, sizeof check))
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID,
                   "identity's Ed25519 private key does not match its public key");
      goto failed;
    }

  gnutls_x509_crt_deinit (crt);
  gnutls_x509_privkey_deinit (key);
  return c;

failed:
  gnutls_x509_crt_deinit (crt);
  gnutls_x509_privkey_deinit (key);
  mesh_tls_credentials_unref (c);
  return NULL;
}

MeshTlsCredentials *
mesh_tls_credentials_ref (MeshTlsCredentials *creds)
{
  g_return_val_if_fail (creds != NULL, NULL);
  g_ref_count_inc (&creds->ref_count);
  return creds;
}

void
mesh_tls_credentials_unref (MeshTlsCredentials *creds)
{
  if (creds == NULL || !g_ref_count_dec (&creds->ref_count))
    return;
  if (creds->priority)
    gnutls_priority_deinit (creds->priority);
  if (creds->cred)
    gnutls_certificate_free_credentials (creds->cred);
  gnutls_free (creds->cert_der.data);
  g_free (creds);
}

const uint8_t *
mesh_tls_credentials_get_ed_pub (const MeshTlsCredentials *creds)
{
  g_return_val_if_fail (creds != NULL, NULL);
  return creds->ed_pub;
}

const gnutls_datum_t *
mesh_tls_credentials_get_certificate (const MeshTlsCredentials *creds)
{
  g_return_val_if_fail (creds != NULL, NULL);
  return &creds->cert_der;
}

void
mesh_tls_peer_init (MeshTlsPeer *peer, const uint8_t *pin)
{
  memset (peer, 0, sizeof *peer);
  if (pin)
    {
      peer->pinned = TRUE;
      memcpy (peer->pin, pin, sizeof peer->pin);
    }
}

void
mesh_tls_peer_clear (MeshTlsPeer *peer)
{
  g_clear_error (&peer->refusal);
  peer->verified = FALSE;
}

gboolean
mesh_tls_verify_certificate (const gnutls_datum_t *der,
                             uint8_t ed_pub[MESH_ED25519_KEY_LEN],
                             GError **error)
{
  gnutls_x509_crt_t crt = NULL;
  gnutls_datum_t x = { NULL, 0 };
  gnutls_ecc_curve_t curve;
  unsigned status = 0;
  gboolean ok = FALSE;
  int pk, ret;

  if ((ret = gnutls_x509_crt_init (&crt)) < 0)
    return gnutls_failed (ret, "allocating a certificate", error);
  if ((ret = gnutls_x509_crt_import (crt, der, GNUTLS_X509_FMT_DER)) < 0)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_MALFORMED,
                   "peer certificate of %u bytes is not valid X.509 DER: %s",
                   der->size, gnutls_strerror (ret));
      goto out;
    }
  pk = gnutls_x509_crt_get_pk_algorithm (crt, NULL);
  if (pk != GNUTLS_PK_EDDSA_ED25519)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID,
                   "peer certificate key is %s, not Ed25519",
                   pk < 0 ? "unreadable" : gnutls_pk_get_name ((gnutls_pk_algorithm_t) pk));
      goto out;
    }
  ret = gnutls_x509_crt_get_pk_ecc_raw (crt, &curve, &x, NULL);
  if (ret < 0 || curve != GNUTLS_ECC_CURVE_ED25519 || x.size != MESH_ED25519_KEY_LEN)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID,
                   "peer certificate holds no 32-byte Ed25519 public key");
      goto out;
    }
  /* Its own issuer, and its signature verifies under its own key. */
  ret = gnutls_x509_crt_verify (crt, &crt, 1, SELF_VERIFY_FLAGS, &status);
  if (ret < 0 || status != 0 || gnutls_x509_crt_check_issuer (crt, crt) != 1)
    {
      gnutls_datum_t text = { NULL, 0 };

      if (ret >= 0)
        gnutls_certificate_verification_status_print (status, GNUTLS_CRT_X509,
                                                      &text, 0);
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_BAD_SIGNATURE,
                   "peer certificate is not self-signed by its Ed25519 key: %s",
                   ret < 0 ? gnutls_strerror (ret)
                   : text.data ? (const char *) text.data : "issuer differs from subject");
      gnutls_free (text.data);
      goto out;
    }
  memcpy (ed_pub, x.data, MESH_ED25519_KEY_LEN);
  ok = TRUE;

out:
  gnutls_free (x.data);
  gnutls_x509_crt_deinit (crt);
  return ok;
}

static void
refuse (MeshTlsPeer *peer, GError *error)
{
  g_clear_error (&peer->refusal);
  peer->refusal = error;
}

/* Called by GnuTLS once the peer's Certificate message is in: take its
 * key, check the pin.  Nonzero refuses the handshake. */
static int
verify_peer (gnutls_session_t session)
{
  MeshTlsPeer *peer = gnutls_session_get_ptr (session);
  const gnutls_datum_t *certs;
  unsigned n = 0;
  uint8_t key[MESH_ED25519_KEY_LEN];
  GError *error = NULL;

  peer->verified = FALSE;
  if (gnutls_certificate_type_get2 (session, GNUTLS_CTYPE_PEERS) != GNUTLS_CRT_X509)
    {
      refuse (peer, g_error_new (MESHARA_ERROR, MESHARA_ERROR_INVALID,
                                 "peer certificate is not X.509"));
      return -1;
    }
  certs = gnutls_certificate_get_peers (session, &n);
  if (certs == NULL || n == 0)
    {
      refuse (peer, g_error_new (MESHARA_ERROR, MESHARA_ERROR_INVALID,
                                 "peer presented no certificate"));
      return -1;
    }
  if (n != 1)
    {
      refuse (peer, g_error_new (MESHARA_ERROR, MESHARA_ERROR_INVALID,
                                 "peer presented %u certificates; a node presents "
                                 "exactly one, self-signed", n));
      return -1;
    }
  if (!mesh_tls_verify_certificate (&certs[0], key, &error))
    {
      refuse (peer, error);
      return -1;
    }
  if (peer->pinned && !mesh_ct_equal (key, peer->pin, sizeof key))
    {
      uint8_t got_id[MESH_NODE_ID_LEN], want_id[MESH_NODE_ID_LEN];
      char *got, *want;

      mesh_node_id (key, got_id);
      mesh_node_id (peer->pin, want_id);
      got = mesh_fingerprint (got_id);
      want = mesh_fingerprint (want_id);
      refuse (peer, g_error_new (MESHARA_ERROR, MESHARA_ERROR_INVALID,
                                 "peer key %s does not match the expected key %s",
                                 got, want));
      g_free (got);
      g_free (want);
      return -1;
    }
  memcpy (peer->ed_pub, key, sizeof key);
  peer->verified = TRUE;
  return 0;
}

gnutls_session_t
mesh_tls_session_new (MeshTlsCredentials *creds, MeshTlsRole role,
                      MeshTlsPeer *peer, GError **error)
{
  gnutls_session_t s = NULL;
  unsigned flags;
  int ret;

  g_return_val_if_fail (creds != NULL && peer != NULL, NULL);

  /* No tickets: links are not resumed, and a ticket costs the server an
   * encryption per handshake. */
  flags = (role == MESH_TLS_SERVER ? GNUTLS_SERVER : GNUTLS_CLIENT)
          | GNUTLS_NONBLOCK | GNUTLS_NO_SIGNAL | GNUTLS_NO_TICKETS;
  if ((ret = gnutls_init (&s, flags)) < 0)
    {
      gnutls_failed (ret, "creating a TLS session", error);
      return NULL;
    }
  if ((ret = gnutls_priority_set (s, creds->priority)) < 0
      || (ret = gnutls_credentials_set (s, GNUTLS_CRD_CERTIFICATE, creds->cred)) < 0
      || (ret = gnutls_alpn_set_protocols (s, &alpn_protocol, 1,
                                           GNUTLS_ALPN_MANDATORY)) < 0)
    {
      gnutls_failed (ret, "setting up a TLS session", error);
      gnutls_deinit (s);
      return NULL;
    }
  if (role == MESH_TLS_SERVER)
    gnutls_certificate_server_set_request (s, GNUTLS_CERT_REQUIRE);
  gnutls_session_set_ptr (s, peer);
  gnutls_session_set_verify_function (s, verify_peer);
  return s;
}

gboolean
mesh_tls_session_check (gnutls_session_t session, const MeshTlsPeer *peer,
                        GError **error)
{
  gnutls_datum_t alpn = { NULL, 0 };
  gnutls_protocol_t version = gnutls_protocol_get_version (session);

  if (version != GNUTLS_TLS1_3)
    {
      const char *name = gnutls_protocol_get_name (version);

      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_UNSUPPORTED_VERSION,
                   "TLS version %s negotiated; links require TLS 1.3",
                   name ? name : "unknown");
      return FALSE;
    }
  /* A peer that offers no ALPN at all gets through GnuTLS's own check. */
  if (gnutls_alpn_get_selected_protocol (session, &alpn) < 0
      || alpn.size != alpn_protocol.size
      || memcmp (alpn.data, alpn_protocol.data, alpn.size) != 0)
    {
      char *raw = alpn.data ? g_strndup ((const char *) alpn.data, alpn.size) : NULL;
      char *got = raw ? g_strescape (raw, NULL) : NULL;

      g_free (raw);
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_UNSUPPORTED_VERSION,
                   "peer did not negotiate ALPN protocol \"%s\" (it selected %s%s%s)",
                   MESH_TLS_ALPN, got ? "\"" : "", got ? got : "none", got ? "\"" : "");
      g_free (got);
      return FALSE;
    }
  if (!peer->verified)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID,
                   "peer's certificate was not verified");
      return FALSE;
    }
  return TRUE;
}

void
mesh_tls_handshake_error (gnutls_session_t session, const MeshTlsPeer *peer,
                          int ret, GError **error)
{
  if (peer->refusal
      && (ret == GNUTLS_E_CERTIFICATE_ERROR
          || ret == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR))
    {
      g_propagate_prefixed_error (error, g_error_copy (peer->refusal),
                                  "TLS handshake refused: ");
      return;
    }
  switch (ret)
    {
    case GNUTLS_E_FATAL_ALERT_RECEIVED:
      {
        gnutls_alert_description_t alert = gnutls_alert_get (session);
        const char *name = gnutls_alert_get_name (alert);

        g_set_error (error, MESHARA_ERROR,
                     alert == GNUTLS_A_NO_APPLICATION_PROTOCOL
                     ? MESHARA_ERROR_UNSUPPORTED_VERSION : MESHARA_ERROR_FAILED,
                     "TLS handshake refused by the peer: alert \"%s\"%s",
                     name ? name : "unknown",
                     alert == GNUTLS_A_NO_APPLICATION_PROTOCOL
                     ? " (no common ALPN protocol; links speak \"" MESH_TLS_ALPN "\")"
                     : "");
        return;
      }
    case GNUTLS_E_NO_APPLICATION_PROTOCOL:
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_UNSUPPORTED_VERSION,
                   "TLS handshake refused: peer does not offer ALPN protocol \"%s\"",
                   MESH_TLS_ALPN);
      return;
    case GNUTLS_E_NO_CERTIFICATE_FOUND:
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID,
                   "TLS handshake refused: peer presented no certificate");
      return;
    case GNUTLS_E_UNSUPPORTED_VERSION_PACKET:
    case GNUTLS_E_INSUFFICIENT_SECURITY:
    case GNUTLS_E_NO_CIPHER_SUITES:
    case GNUTLS_E_NO_PRIORITIES_WERE_SET:
    case GNUTLS_E_UNKNOWN_CIPHER_SUITE:
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_UNSUPPORTED_VERSION,
                   "TLS handshake failed: no common TLS 1.3 parameters with the peer: %s",
                   gnutls_strerror (ret));
      return;
    case GNUTLS_E_UNEXPECTED_PACKET_LENGTH:
    case GNUTLS_E_UNEXPECTED_PACKET:
    case GNUTLS_E_UNEXPECTED_HANDSHAKE_PACKET:
    case GNUTLS_E_RECORD_OVERFLOW:
    case GNUTLS_E_DECRYPTION_FAILED:
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_MALFORMED,
                   "TLS handshake failed: peer does not speak TLS 1.3 (%s)",
                   gnutls_strerror (ret));
      return;
    case GNUTLS_E_PREMATURE_TERMINATION:
    case GNUTLS_E_PULL_ERROR:
    case GNUTLS_E_PUSH_ERROR:
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_IO,
                   "connection lost during the TLS handshake: %s",
                   gnutls_strerror (ret));
      return;
    default:
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_FAILED,
                   "TLS handshake failed: %s", gnutls_strerror (ret));
      return;
    }
}
