#ifndef MESHARA_ERROR_H
#define MESHARA_ERROR_H

#if !defined(MESHARA_MESHARA_H) && !defined(MESHARA_COMPILATION)
#error "Only <meshara/meshara.h> can be included directly."
#endif

#include <glib.h>
#include <meshara/meshara-version.h>

G_BEGIN_DECLS

/**
 * MESHARA_ERROR:
 *
 * The error domain of every #GError the library reports.
 */
#define MESHARA_ERROR (meshara_error_quark ())

/**
 * MesharaError:
 * @MESHARA_ERROR_FAILED: an unexpected failure; the message says what.
 * @MESHARA_ERROR_INVALID_ARGUMENT: a caller passed a value outside its contract.
 * @MESHARA_ERROR_MALFORMED: input could not be parsed (corrupt encoding).
 * @MESHARA_ERROR_INVALID: input parsed but a field broke a rule (length, range).
 * @MESHARA_ERROR_TOO_LARGE: input exceeds a configured size limit.
 * @MESHARA_ERROR_TRUNCATED: input ended before it was complete.
 * @MESHARA_ERROR_UNKNOWN_TYPE: a message type this version does not know.
 * @MESHARA_ERROR_UNSUPPORTED_VERSION: a format or protocol version this
 *   version does not support.
 * @MESHARA_ERROR_BAD_SIGNATURE: a signature did not verify.
 * @MESHARA_ERROR_DECRYPT: authenticated decryption failed (tampered data or
 *   wrong key).
 * @MESHARA_ERROR_REPLAY: a message counter was already accepted or is too old.
 * @MESHARA_ERROR_WRONG_PASSPHRASE: the passphrase does not open the keystore.
 * @MESHARA_ERROR_PASSPHRASE_REQUIRED: the keystore is encrypted and no
 *   passphrase was given.
 * @MESHARA_ERROR_IO: reading or writing a file or socket failed.
 * @MESHARA_ERROR_PERMISSION: a file or directory has unsafe permissions.
 * @MESHARA_ERROR_TIMESTAMP: a timestamp lies outside the accepted window.
 * @MESHARA_ERROR_EXHAUSTED: a session or counter reached its limit and must
 *   be renewed.
 * @MESHARA_ERROR_NOT_FOUND: the requested object does not exist.
 * @MESHARA_ERROR_UNTRUSTED: an update lacks enough signatures of trusted
 *   authorities (an untrusted signer, or fewer than the threshold).
 * @MESHARA_ERROR_CHECKSUM_MISMATCH: data does not match the SHA-256 its
 *   signed description states (a corrupt chunk or file).
 * @MESHARA_ERROR_VERSION_TOO_OLD: the installed version is below the
 *   minimum version an update may replace.
 * @MESHARA_ERROR_DOWNGRADE: an update's version is not above the installed
 *   one.
 *
 * Error codes in the #MESHARA_ERROR domain.  The values are part of the ABI.
 */
typedef enum {
  MESHARA_ERROR_FAILED = 1,
  MESHARA_ERROR_INVALID_ARGUMENT,
  MESHARA_ERROR_MALFORMED,
  MESHARA_ERROR_INVALID,
  MESHARA_ERROR_TOO_LARGE,
  MESHARA_ERROR_TRUNCATED,
  MESHARA_ERROR_UNKNOWN_TYPE,
  MESHARA_ERROR_UNSUPPORTED_VERSION,
  MESHARA_ERROR_BAD_SIGNATURE,
  MESHARA_ERROR_DECRYPT,
  MESHARA_ERROR_REPLAY,
  MESHARA_ERROR_WRONG_PASSPHRASE,
  MESHARA_ERROR_PASSPHRASE_REQUIRED,
  MESHARA_ERROR_IO,
  MESHARA_ERROR_PERMISSION,
  MESHARA_ERROR_TIMESTAMP,
  MESHARA_ERROR_EXHAUSTED,
  MESHARA_ERROR_NOT_FOUND,
  MESHARA_ERROR_UNTRUSTED,
  MESHARA_ERROR_CHECKSUM_MISMATCH,
  MESHARA_ERROR_VERSION_TOO_OLD,
  MESHARA_ERROR_DOWNGRADE,
} MesharaError;

MESHARA_API GQuark meshara_error_quark (void);

G_END_DECLS

#endif
