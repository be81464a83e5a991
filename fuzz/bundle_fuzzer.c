/* Public key bundles from peers and users: the binary form through
 * mesh_bundle_parse() and the text form ("mshr1" + base64url) through
 * mesh_bundle_from_string(), both on the whole input.
 *
 * Checked besides memory safety:
 * - a failure is a MESHARA_ERROR with a message;
 * - a parsed bundle verifies, its node ID is the hash of its key, it
 *   serializes to exactly the input and goes through the text form and
 *   back unchanged;
 * - the text reader agrees with a second decoder (GLib's base64 after
 *   mapping the URL alphabet) followed by the binary parser: same bundle
 *   or same error code, and any text not of the exact shape (prefix, 172
 *   base64url characters, end) is refused before any signature check;
 * - a text that parses is the one mesh_bundle_to_string() writes: one
 *   text per bundle. */
#include "config.h"

#include "fuzz.h"
#include "fuzz-input.h"
#include "crypto/identity.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <meshara/meshara.h>

#define PREFIX_LEN (sizeof MESH_BUNDLE_TEXT_PREFIX - 1)
#define B64_LEN (MESH_BUNDLE_LEN / 3 * 4)

G_STATIC_ASSERT (MESH_BUNDLE_LEN % 3 == 0);

static void
check_bundle (const MeshPublicBundle *b)
{
  GError *error = NULL;
  uint8_t node_id[MESH_NODE_ID_LEN];
  uint8_t raw[MESH_BUNDLE_LEN];
  MeshPublicBundle again;
  char *text;

  if (!mesh_bundle_verify (b, &error))
    {
      fprintf (stderr, "parsed bundle does not verify: %s\n", error->message);
      abort ();
    }
  mesh_node_id (b->ed_pub, node_id);
  if (memcmp (node_id, b->node_id, sizeof node_id) != 0)
    {
      fprintf (stderr, "parsed bundle has a wrong node ID\n");
      abort ();
    }
  mesh_bundle_serialize (b, raw);
  if (!mesh_bundle_parse (&again, raw, sizeof raw, &error)
      || memcmp (&again, b, sizeof again) != 0)
    {
      fprintf (stderr, "bundle does not survive serialize and parse\n");
      abort ();
    }
  text = mesh_bundle_to_string (b);
  if (strlen (text) != PREFIX_LEN + B64_LEN
      || !mesh_bundle_from_string (&again, text, &error)
      || memcmp (&again, b, sizeof again) != 0)
    {
      fprintf (stderr, "bundle does not survive its text form: %s\n", text);
      abort ();
    }
  g_free (text);
}

static void
fuzz_binary (const uint8_t *data, size_t size)
{
  MeshPublicBundle b;
  GError *error = NULL;
  uint8_t raw[MESH_BUNDLE_LEN];

  if (!mesh_bundle_parse (&b, data, size, &error))
    {
      mesh_fuzz_check_error (error, "mesh_bundle_parse");
      g_error_free (error);
      return;
    }
  mesh_bundle_serialize (&b, raw);
  if (size != sizeof raw || memcmp (raw, data, size) != 0)
    {
      fprintf (stderr, "parsed bundle does not serialize to its input\n");
      abort ();
    }
  check_bundle (&b);
}

/* The second decoder: the raw bundle of a text of the exact shape, or
 * NULL. */
static guint8 *
reference_decode (const char *text)
{
  char b64[B64_LEN + 1];
  guint8 *raw;
  gsize len;

  if (strlen (text) != PREFIX_LEN + B64_LEN
      || strncmp (text, MESH_BUNDLE_TEXT_PREFIX, PREFIX_LEN) != 0)
    return NULL;
  for (size_t i = 0; i < B64_LEN; i++)
    {
      char c = text[PREFIX_LEN + i];

      if (!g_ascii_isalnum (c) && c != '-' && c != '_')
        return NULL;
      b64[i] = c == '-' ? '+' : c == '_' ? '/' : c;
    }
  b64[B64_LEN] = '\0';
  raw = g_base64_decode (b64, &len);
  if (len != MESH_BUNDLE_LEN)
    abort ();
  return raw;
}

static void
fuzz_text (const uint8_t *data, size_t size)
{
  char *text = g_malloc (size + 1);
  MeshPublicBundle b, ref;
  GError *error = NULL, *ref_error = NULL;
  guint8 *raw;
  gboolean ok, ref_ok;

  memcpy (text, data, size);
  text[size] = '\0';
  ok = mesh_bundle_from_string (&b, text, &error);
  if (!ok)
    mesh_fuzz_check_error (error, "mesh_bundle_from_string");

  raw = reference_decode (text);
  if (raw == NULL)
    {
      if (ok)
        {
          fprintf (stderr, "text of the wrong shape parsed: \"%s\"\n", text);
          abort ();
        }
      if (error->code == MESHARA_ERROR_BAD_SIGNATURE)
        {
          fprintf (stderr, "text of the wrong shape reached the signature "
                   "check: %s\n", error->message);
          abort ();
        }
    }
  else
    {
      ref_ok = mesh_bundle_parse (&ref, raw, MESH_BUNDLE_LEN, &ref_error);
      if (ok != ref_ok
          || (ok && memcmp (&b, &ref, sizeof b) != 0)
          || (!ok && error->code != ref_error->code))
        {
          fprintf (stderr, "text reader and reference disagree: %s / %s\n",
                   ok ? "parsed" : error->message,
                   ref_ok ? "parsed" : ref_error->message);
          abort ();
        }
      g_clear_error (&ref_error);
      g_free (raw);
    }

  if (ok)
    {
      char *again = mesh_bundle_to_string (&b);

      if (strcmp (again, text) != 0)
        {
          fprintf (stderr, "two texts for one bundle: \"%s\" / \"%s\"\n",
                   text, again);
          abort ();
        }
      g_free (again);
      check_bundle (&b);
    }
  g_clear_error (&error);
  g_free (text);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  /* An exact-size copy: a read past the input shows under ASan. */
  uint8_t *copy = g_malloc (size ? size : 1);

  memcpy (copy, data, size);
  fuzz_binary (copy, size);
  fuzz_text (copy, size);
  g_free (copy);
  return 0;
}
