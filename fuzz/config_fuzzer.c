/* The node's configuration file (meshara.conf(5), lib/net/config.c):
 * the input is the contents of the file, checked by
 * mesh_config_check_data(), the part of meshara_node_load_config() that
 * reads the text (everything but the stat, the read and the applying).
 *
 * Checked besides memory safety:
 * - a failure is a MESHARA_ERROR whose message names the file;
 * - the same text gives the same answer and message twice;
 * - a file with a NUL byte is refused;
 * - GLib warns of nothing (a GError set twice, a failed precondition);
 * - a model of the documented rules, read with GKeyFile here: an unknown
 *   group or key, or a number out of its range, must be refused; a file
 *   that is accepted has only known names, numbers in range, a profile
 *   of the four, a non-empty storage path, and as many peers and
 *   bootstrap entries taken as non-empty entries written (at most 256
 *   per key). */
#include "config.h"

#include "fuzz.h"
#include "fuzz-input.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include <meshara/meshara.h>

/* lib/net/config.c, internal. */
gboolean mesh_config_check_data (const char *path, const char *data,
                                 gsize len, guint *n_peers, GError **error);

#define PATH "/etc/meshara/fuzz.conf"
#define PEERS_MAX 256

typedef struct {
  const char *group, *key;
  guint64 min, max;
} Key;

/* meshara.conf(5) */
static const Key keys[] = {
  { "node", "listen", 0, 0 },
  { "node", "profile", 0, 0 },
  { "node", "storage", 0, 0 },
  { "node", "peers", 0, 0 },
  { "node", "bootstrap", 0, 0 },
  { "node", "max-peers", 1, 4096 },
  { "node", "fanout", 1, 50 },
  /* true or false; only in trees that have mDNS discovery, elsewhere an
   * unknown key (the model only rules out what must be refused). */
  { "node", "mdns", 0, 0 },
  { "limits", "max-routes", 16, 16777216 },
  { "limits", "seen-capacity", 256, 16777216 },
  { "limits", "accepts-per-second", 1, 100000 },
  { "limits", "connects-per-second", 1, 10000 },
};

static void
fail (const char *why, const char *detail)
{
  fprintf (stderr, "config: %s%s%s\n", why, detail ? ": " : "",
           detail ? detail : "");
  abort ();
}

static const Key *
find_key (const char *group, const char *key)
{
  for (gsize i = 0; i < G_N_ELEMENTS (keys); i++)
    if (strcmp (keys[i].group, group) == 0 && strcmp (keys[i].key, key) == 0)
      return &keys[i];
  return NULL;
}

/* FALSE when the model refuses the file GKeyFile read: a group or key
 * not documented, or a number that is not one or out of its range. */
static gboolean
model_names_and_numbers (GKeyFile *kf)
{
  g_auto (GStrv) groups = g_key_file_get_groups (kf, NULL);

  for (gsize g = 0; groups[g] != NULL; g++)
    {
      g_auto (GStrv) names = NULL;

      if (strcmp (groups[g], "node") != 0 && strcmp (groups[g], "limits") != 0)
        return FALSE;
      names = g_key_file_get_keys (kf, groups[g], NULL, NULL);
      for (gsize i = 0; names != NULL && names[i] != NULL; i++)
        if (find_key (groups[g], names[i]) == NULL)
          return FALSE;
    }
  for (gsize i = 0; i < G_N_ELEMENTS (keys); i++)
    {
      g_autofree char *value = NULL;
      guint64 v;

      if (keys[i].max == 0
          || !g_key_file_has_key (kf, keys[i].group, keys[i].key, NULL))
        continue;
      value = g_key_file_get_string (kf, keys[i].group, keys[i].key, NULL);
      if (value == NULL
          || !g_ascii_string_to_unsigned (g_strstrip (value), 10, keys[i].min,
                                          keys[i].max, &v, NULL))
        return FALSE;
    }
  return TRUE;
}

/* The rules an accepted file must satisfy beyond names and numbers;
 * returns the number of non-empty peer entries. */
static guint
check_accepted (GKeyFile *kf)
{
  static const char *const list_keys[] = { "peers", "bootstrap" };
  guint entries = 0;

  if (g_key_file_has_key (kf, "node", "profile", NULL))
    {
      g_autofree char *p = g_key_file_get_string (kf, "node", "profile", NULL);
      MesharaNodeProfile profile;

      if (p == NULL
          || !meshara_node_profile_from_string (g_strstrip (p), &profile, NULL))
        fail ("an unknown profile was accepted", p);
    }
  if (g_key_file_has_key (kf, "node", "mdns", NULL))
    {
      g_autofree char *m = g_key_file_get_string (kf, "node", "mdns", NULL);

      if (m == NULL || (strcmp (g_strstrip (m), "true") != 0
                        && strcmp (m, "false") != 0))
        fail ("an mdns value other than true or false was accepted", m);
    }
  if (g_key_file_has_key (kf, "node", "storage", NULL))
    {
      g_autofree char *s = g_key_file_get_string (kf, "node", "storage", NULL);

      if (s == NULL || *g_strstrip (s) == '\0')
        fail ("an empty storage path was accepted", NULL);
    }
  for (gsize k = 0; k < G_N_ELEMENTS (list_keys); k++)
    {
      g_auto (GStrv) list = NULL;
      gsize n = 0, here = 0;

      if (!g_key_file_has_key (kf, "node", list_keys[k], NULL))
        continue;
      list = g_key_file_get_string_list (kf, "node", list_keys[k], &n, NULL);
      if (list == NULL)
        continue;
      if (n > PEERS_MAX)
        fail ("more peer entries than allowed were accepted", list_keys[k]);
      for (gsize i = 0; i < n; i++)
        {
          char *entry = g_strstrip (list[i]);
          char *comma;

          if (*entry == '\0')
            continue;
          comma = strchr (entry, ',');
          if (comma == NULL)
            fail ("a peer entry without a key was accepted", entry);
          if (!meshara_public_key_validate (g_strstrip (comma + 1), NULL))
            fail ("a peer entry with a bad key was accepted", entry);
          here++;
        }
      entries += (guint) here;
    }
  return entries;
}

static gboolean writer_set;

/* GLib's warnings (a GError set twice, a failed precondition) are bugs
 * here: abort, so that the fuzzer keeps the input.  One is GLib's own:
 * its key file unescaper sets the error a second time for a backslash
 * at the end of a value that holds an invalid escape before it (GLib
 * 2.74); config.c cannot avoid that and it costs nothing but the
 * warning, so it is let through. */
static GLogWriterOutput
abort_on_warning (GLogLevelFlags level, const GLogField *fields, gsize n,
                  gpointer user_data)
{
  g_autofree char *message = NULL;

  (void) user_data;
  if (!(level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL
                 | G_LOG_LEVEL_WARNING)))
    return G_LOG_WRITER_HANDLED;
  for (gsize i = 0; i < n; i++)
    if (strcmp (fields[i].key, "MESSAGE") == 0)
      message = fields[i].length < 0
                  ? g_strdup (fields[i].value)
                  : g_strndup (fields[i].value, (gsize) fields[i].length);
  if (message != NULL
      && strstr (message, "escape character at end of line") != NULL)
    return G_LOG_WRITER_HANDLED;
  fail ("GLib warned", message ? message : "(no message)");
  return G_LOG_WRITER_UNHANDLED;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const char *text = (const char *) data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GError) again = NULL;
  g_autoptr (GKeyFile) kf = NULL;
  guint n_peers = G_MAXUINT, n_again = G_MAXUINT;
  gboolean ok, ok_again, model_ok;
  gboolean has_nul = memchr (data, '\0', size) != NULL;

  /* Files above 256 KiB are refused before they are read. */
  if (size > 256 * 1024)
    return 0;
  if (!writer_set)
    {
      g_log_set_writer_func (abort_on_warning, NULL, NULL);
      writer_set = TRUE;
    }

  ok = mesh_config_check_data (PATH, size ? text : NULL, size, &n_peers,
                               &error);
  ok_again = mesh_config_check_data (PATH, size ? text : NULL, size,
                                     &n_again, &again);
  if (ok != ok_again || (ok && n_peers != n_again))
    fail ("the same text answered differently", NULL);
  if (!ok)
    {
      mesh_fuzz_check_error (error, "mesh_config_check_data");
      mesh_fuzz_check_error (again, "mesh_config_check_data");
      if (!g_str_has_prefix (error->message, PATH ": "))
        fail ("an error does not name the file", error->message);
      if (strcmp (error->message, again->message) != 0
          || error->code != again->code)
        fail ("the same text failed differently", error->message);
    }
  else if (error != NULL)
    fail ("success with an error set", error->message);

  if (has_nul)
    {
      if (ok)
        fail ("a file with a NUL byte was accepted", NULL);
      return 0;
    }

  kf = g_key_file_new ();
  if (!g_key_file_load_from_data (kf, text, size, G_KEY_FILE_NONE, NULL))
    {
      if (ok)
        fail ("a file GKeyFile cannot read was accepted", NULL);
      return 0;
    }
  model_ok = model_names_and_numbers (kf);
  if (ok && !model_ok)
    fail ("an unknown name or a number out of range was accepted", NULL);
  if (ok && check_accepted (kf) != n_peers)
    fail ("the peers taken are not the entries written", NULL);
  return 0;
}
