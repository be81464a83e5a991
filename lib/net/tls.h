/* TLS for links: credentials made from the node identity, sessions set up
 * the one way every link uses (TLS 1.3 only, ALPN "meshara/1", mutual
 * certificates), and verification of the peer's certificate.
 *
 * A node's certificate is only a container for its Ed25519 key: a
 * self-signed X.509 v3 certificate, CN = node ID in hex, basicConstraints
 * CA:TRUE so that it verifies as its own trust anchor.  The peer's
 * identity is its Ed25519 key; the X25519 key and its binding signature
 * come later in the HELLO message, not in the certificate. */
#ifndef MESH_NET_TLS_H
#define MESH_NET_TLS_H

#include <glib.h>
#include <stdint.h>
#include <gnutls/gnutls.h>

#include "crypto/identity.h"
#include "crypto/util.h"

#define MESH_TLS_ALPN "meshara/1"

typedef struct _MeshTlsCredentials MeshTlsCredentials;

typedef enum {
  MESH_TLS_CLIENT,
  MESH_TLS_SERVER,
} MeshTlsRole;

/* What verification learned of the peer.  It lives beside the session
 * (the session points to it) and must outlive it. */
typedef struct {
  gboolean pinned;                      /* the caller expects a key */
  uint8_t pin[MESH_ED25519_KEY_LEN];
  gboolean verified;                    /* ed_pub holds the peer's key */
  uint8_t ed_pub[MESH_ED25519_KEY_LEN];
  GError *refusal;                      /* why the peer was refused */
} MeshTlsPeer;

/* Make the certificate and key of self.  now_unix_s is the wall clock:
 * the certificate is valid from one day before it (clock skew) and never
 * expires.  The serial number comes from rnd.  Transfer full. */
MeshTlsCredentials *mesh_tls_credentials_new (const MeshIdentity *self,
                                              gint64 now_unix_s,
                                              MeshRandomFunc rnd,
                                              void *rnd_data,
                                              GError **error);
MeshTlsCredentials *mesh_tls_credentials_ref (MeshTlsCredentials *creds);
void mesh_tls_credentials_unref (MeshTlsCredentials *creds);

/* The Ed25519 public key the credentials present.  Transfer none. */
const uint8_t *mesh_tls_credentials_get_ed_pub (const MeshTlsCredentials *creds);

/* The certificate in DER.  Transfer none. */
const gnutls_datum_t *mesh_tls_credentials_get_certificate (const MeshTlsCredentials *creds);

/* pin: the expected peer Ed25519 key, or NULL for any key. */
void mesh_tls_peer_init (MeshTlsPeer *peer, const uint8_t *pin);
void mesh_tls_peer_clear (MeshTlsPeer *peer);

/* A nonblocking session for one link: the fixed priority string, the
 * credentials, ALPN "meshara/1" required, a client certificate required
 * by servers, and the verify function that fills peer.  The caller sets
 * the transport and frees it with gnutls_deinit() (before peer). */
gnutls_session_t mesh_tls_session_new (MeshTlsCredentials *creds,
                                       MeshTlsRole role, MeshTlsPeer *peer,
                                       GError **error);

/* After gnutls_handshake() returned 0: TLS 1.3 was negotiated, ALPN
 * selected "meshara/1" and the peer's key was verified.  FALSE with an
 * error saying which does not hold. */
gboolean mesh_tls_session_check (gnutls_session_t session,
                                 const MeshTlsPeer *peer, GError **error);

/* Describe a fatal result of gnutls_handshake(): the verification
 * refusal when there was one, the alert the peer sent, a missing ALPN
 * protocol, or a peer that does not speak TLS. */
void mesh_tls_handshake_error (gnutls_session_t session,
                               const MeshTlsPeer *peer, int ret,
                               GError **error);

/* Check one peer certificate (DER): X.509, an Ed25519 key, self-signed by
 * that key.  Validity times are not checked: trust rests on the key (a
 * pin, or the engine's HELLO checks), and mesh nodes' clocks may be off.
 * On success ed_pub receives the key. */
gboolean mesh_tls_verify_certificate (const gnutls_datum_t *der,
                                      uint8_t ed_pub[MESH_ED25519_KEY_LEN],
                                      GError **error);

#endif
