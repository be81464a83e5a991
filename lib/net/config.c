/* The node's configuration file (meshara.conf(5)): a GKeyFile read and
 * checked whole before anything is applied, so that a bad file leaves
 * the node as it was.  Every error names the file, the group and the
 * key. */
#include "config.h"

#include "net/link.h"
#include "net/memlink.h"

#include <errno.h>
#include <string.h>
#include <glib/gstdio.h>
#include <meshara/meshara.h>

/* Larger files are refused before they are read. */
#define CONFIG_FILE_MAX (256 * 1024)
/* Peers and bootstrap entries taken at most, each. */
#define CONFIG_PEERS_MAX 256

typedef struct {
  const char *group;
  const char *key;
  guint64 min, max;             /* for numbers; both 0 otherwise */
} ConfigKey;

static const ConfigKey config_keys[] = {
  { "node", "listen", 0, 0 },
  { "node", "profile", 0, 0 },
  { "node", "storage", 0, 0 },
  { "node", "peers", 0, 0 },
  { "node", "bootstrap", 0, 0 },
  { "node", "max-peers", 1, 4096 },
  { "node", "fanout", 1, 50 },
  { "node", "mdns", 0, 0 },
  { "limits", "max-routes", 16, 16777216 },
  { "limits", "seen-capacity", 256, 16777216 },
  { "limits", "accepts-per-second", 1, 100000 },
  { "limits", "connects-per-second", 1, 10000 },
};

typedef struct {
  char *listen;
  gboolean have_profile;
  MesharaNodeProfile profile;
  char *storage;
  int mdns;                     /* -1: not set */
  GPtrArray *peers;             /* "ADDR:PORT" then "KEY", pairs */
  guint64 numbers[G_N_ELEMENTS (config_keys)];  /* 0: not set */
} Config;

static void
config_clear (Config *c)
{
  g_free (c->listen);
  g_free (c->storage);
  g_ptr_array_unref (c->peers);
}

static void
set_key_error (GError **error, const char *path, const ConfigKey *k,
               const char *format, ...) G_GNUC_PRINTF (4, 5);

static void
set_key_error (GError **error, const char *path, const ConfigKey *k,
               const char *format, ...)
{
  va_list args;
  char *what;

  va_start (args, format);
  what = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID,
               "%s: group [%s], key \"%s\": %s", path, k->group, k->key, what);
  g_free (what);
}

static const ConfigKey *
find_key (const char *group, const char *key)
{
  for (gsize i = 0; i < G_N_ELEMENTS (config_keys); i++)
    if (strcmp (config_keys[i].group, group) == 0
        && strcmp (config_keys[i].key, key) == 0)
      return &config_keys[i];
  return NULL;
}

/* Every group and key must be one we know. */
static gboolean
check_names (GKeyFile *kf, const char *path, GError **error)
{
  g_auto (GStrv) groups = g_key_file_get_groups (kf, NULL);

  for (gsize g = 0; groups[g] != NULL; g++)
    {
      g_auto (GStrv) keys = NULL;

      if (strcmp (groups[g], "node") != 0 && strcmp (groups[g], "limits") != 0)
        {
          g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID,
                       "%s: unknown group [%s] (known: [node], [limits])",
                       path, groups[g]);
          return FALSE;
        }
      keys = g_key_file_get_keys (kf, groups[g], NULL, NULL);
      for (gsize i = 0; keys != NULL && keys[i] != NULL; i++)
        if (find_key (groups[g], keys[i]) == NULL)
          {
            g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID,
                         "%s: group [%s], key \"%s\": unknown key", path,
                         groups[g], keys[i]);
            return FALSE;
          }
    }
  return TRUE;
}

/* "ADDR:PORT,KEY" entries of one key into c->peers. */
static gboolean
read_peers (GKeyFile *kf, const char *path, const ConfigKey *k, Config *c,
            GError **error)
{
  g_auto (GStrv) list = NULL;
  gsize n = 0;

  list = g_key_file_get_string_list (kf, k->group, k->key, &n, NULL);
  if (list == NULL)
    return TRUE;
  if (n > CONFIG_PEERS_MAX)
    {
      set_key_error (error, path, k, "%" G_GSIZE_FORMAT " entries, more "
                     "than %d", n, CONFIG_PEERS_MAX);
      return FALSE;
    }
  for (gsize i = 0; i < n; i++)
    {
      g_autoptr (GError) local = NULL;
      g_autoptr (GSocketAddress) parsed = NULL;
      char *entry = g_strstrip (list[i]);
      char *comma = strchr (entry, ',');

      if (*entry == '\0')
        continue;
      if (comma == NULL)
        {
          set_key_error (error, path, k, "\"%s\" is not ADDRESS:PORT,KEY",
                         entry);
          return FALSE;
        }
      *comma = '\0';
      g_strstrip (entry);
      if (mesh_mem_address_is (entry))
        {
          if (!mesh_mem_address_check (entry, &local))
            {
              set_key_error (error, path, k, "entry %" G_GSIZE_FORMAT ": %s",
                             i + 1, local->message);
              return FALSE;
            }
        }
      else if ((parsed = mesh_net_parse_address (entry, &local)) == NULL)
        {
          set_key_error (error, path, k, "entry %" G_GSIZE_FORMAT ": %s",
                         i + 1, local->message);
          return FALSE;
        }
      if (!meshara_public_key_validate (g_strstrip (comma + 1), &local))
        {
          set_key_error (error, path, k, "entry %" G_GSIZE_FORMAT ": %s",
                         i + 1, local->message);
          return FALSE;
        }
      g_ptr_array_add (c->peers, g_strdup (entry));
      g_ptr_array_add (c->peers, g_strdup (g_strstrip (comma + 1)));
    }
  return TRUE;
}

static gboolean
read_config (GKeyFile *kf, const char *path, Config *c, GError **error)
{
  for (gsize i = 0; i < G_N_ELEMENTS (config_keys); i++)
    {
      const ConfigKey *k = &config_keys[i];
      g_autofree char *value = NULL;
      g_autoptr (GError) local = NULL;

      if (!g_key_file_has_key (kf, k->group, k->key, NULL))
        continue;
      if (strcmp (k->key, "peers") == 0 || strcmp (k->key, "bootstrap") == 0)
        {
          if (!read_peers (kf, path, k, c, error))
            return FALSE;
          continue;
        }
      /* GKeyFile may return a value and an error (an invalid escape). */
      value = g_key_file_get_string (kf, k->group, k->key, &local);
      if (value == NULL || local != NULL)
        {
          set_key_error (error, path, k, "%s", local->message);
          return FALSE;
        }
      g_strstrip (value);
      if (k->max > 0)
        {
          guint64 v;

          if (!g_ascii_string_to_unsigned (value, 10, k->min, k->max, &v,
                                           &local))
            {
              set_key_error (error, path, k, "\"%s\" is not a number from "
                             "%" G_GUINT64_FORMAT " to %" G_GUINT64_FORMAT,
                             value, k->min, k->max);
              return FALSE;
            }
          c->numbers[i] = v;
        }
      else if (strcmp (k->key, "listen") == 0)
        {
          g_autoptr (GSocketAddress) parsed = NULL;

          if (mesh_mem_address_is (value)
              ? !mesh_mem_address_check (value, &local)
              : (parsed = mesh_net_parse_address (value, &local)) == NULL)
            {
              set_key_error (error, path, k, "%s", local->message);
              return FALSE;
            }
          c->listen = g_steal_pointer (&value);
        }
      else if (strcmp (k->key, "mdns") == 0)
        {
          if (strcmp (value, "true") == 0)
            c->mdns = 1;
          else if (strcmp (value, "false") == 0)
            c->mdns = 0;
          else
            {
              set_key_error (error, path, k, "\"%s\" is not true or false",
                             value);
              return FALSE;
            }
        }
      else if (strcmp (k->key, "profile") == 0)
        {
          if (!meshara_node_profile_from_string (value, &c->profile, &local))
            {
              set_key_error (error, path, k, "%s", local->message);
              return FALSE;
            }
          c->have_profile = TRUE;
        }
      else if (strcmp (k->key, "storage") == 0)
        {
          char *dir;

          if (*value == '\0')
            {
              set_key_error (error, path, k, "the path is empty");
              return FALSE;
            }
          /* Relative to the configuration file's directory. */
          dir = g_path_get_dirname (path);
          c->storage = g_path_is_absolute (value)
                         ? g_steal_pointer (&value)
                         : g_build_filename (dir, value, NULL);
          g_free (dir);
        }
    }
  return TRUE;
}

static guint
number (const Config *c, const char *key)
{
  for (gsize i = 0; i < G_N_ELEMENTS (config_keys); i++)
    if (strcmp (config_keys[i].key, key) == 0)
      return (guint) c->numbers[i];
  g_assert_not_reached ();
}

/* What meshara_node_load_config() checks once it has read the file: the
 * text, the key file syntax, the names and every value, into c (whose
 * peers array the caller made). */
static gboolean
parse_data (const char *path, const char *data, gsize len, Config *c,
            GError **error)
{
  g_autoptr (GKeyFile) kf = NULL;
  g_autoptr (GError) local = NULL;

  if (len > CONFIG_FILE_MAX || memchr (data, '\0', len) != NULL)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_MALFORMED,
                   "%s: not a text file", path);
      return FALSE;
    }
  kf = g_key_file_new ();
  if (!g_key_file_load_from_data (kf, data, len, G_KEY_FILE_NONE, &local))
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_MALFORMED, "%s: %s",
                   path, local->message);
      return FALSE;
    }
  return check_names (kf, path, error) && read_config (kf, path, c, error);
}

/* Internal, not exported: the checks meshara_node_load_config() runs on
 * the contents of a file, for fuzz/config_fuzzer.c.  path only names the
 * file in messages and anchors a relative storage path.  *n_peers
 * (nullable) gets the number of peers and bootstrap entries taken. */
gboolean mesh_config_check_data (const char *path, const char *data,
                                 gsize len, guint *n_peers, GError **error);

gboolean
mesh_config_check_data (const char *path, const char *data, gsize len,
                        guint *n_peers, GError **error)
{
  Config c = { 0 };
  gboolean ok;

  g_return_val_if_fail (path != NULL, FALSE);
  g_return_val_if_fail (data != NULL || len == 0, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  c.peers = g_ptr_array_new_with_free_func (g_free);
  ok = parse_data (path, data != NULL ? data : "", len, &c, error);
  if (ok && n_peers != NULL)
    *n_peers = c.peers->len / 2;
  config_clear (&c);
  return ok;
}

/**
 * meshara_node_load_config:
 * @node: a stopped node
 * @path: a configuration file (see meshara.conf(5))
 * @error: return location for a #GError, or %NULL
 *
 * Reads the file and applies it to @node: listen address, profile,
 * storage path, mDNS discovery, peers and bootstrap peers, and limits.  The whole file is
 * checked first: on any error (unknown group or key, bad value) nothing
 * is applied and the message names the file, the group and the key.
 * Settings the file does not mention keep their values.
 *
 * Returns: %TRUE when the file was applied
 */
gboolean
meshara_node_load_config (MesharaNode *node, const char *path, GError **error)
{
  g_autoptr (GKeyFile) kf = NULL;
  g_autofree char *data = NULL;
  g_autoptr (GError) local = NULL;
  GStatBuf st;
  gsize len;
  Config c = { 0 };
  gboolean ok = FALSE;
  guint v;

  g_return_val_if_fail (MESHARA_IS_NODE (node), FALSE);
  g_return_val_if_fail (path != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (meshara_node_is_running (node))
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
                   "%s: a configuration is loaded before the node starts",
                   path);
      return FALSE;
    }
  if (g_stat (path, &st) != 0)
    {
      int saved = errno;

      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_IO,
                   "cannot read %s: %s", path, g_strerror (saved));
      return FALSE;
    }
  if (st.st_size > CONFIG_FILE_MAX)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_TOO_LARGE,
                   "%s: %" G_GINT64_FORMAT " bytes, more than the %d a "
                   "configuration file may have", path, (gint64) st.st_size,
                   CONFIG_FILE_MAX);
      return FALSE;
    }
  if (!g_file_get_contents (path, &data, &len, &local))
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_IO, "%s",
                   local->message);
      return FALSE;
    }
  if (len > CONFIG_FILE_MAX || memchr (data, '\0', len) != NULL)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_MALFORMED,
                   "%s: not a text file", path);
      return FALSE;
    }
  kf = g_key_file_new ();
  if (!g_key_file_load_from_data (kf, data, len, G_KEY_FILE_NONE, &local))
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_MALFORMED, "%s: %s",
                   path, local->message);
      return FALSE;
    }

  c.mdns = -1;
  c.peers = g_ptr_array_new_with_free_func (g_free);
  if (!check_names (kf, path, error) || !read_config (kf, path, &c, error))
    goto out;

  /* Peers are checked; adding them cannot fail now. */
  for (guint i = 0; i < c.peers->len; i += 2)
    if (!meshara_node_add_bootstrap_peer (node, c.peers->pdata[i],
                                          c.peers->pdata[i + 1], error))
      {
        g_prefix_error (error, "%s: ", path);
        goto out;
      }
  g_object_freeze_notify (G_OBJECT (node));
  if (c.listen != NULL)
    meshara_node_set_listen_address (node, c.listen);
  if (c.have_profile)
    meshara_node_set_profile (node, c.profile);
  if (c.storage != NULL)
    meshara_node_set_storage_path (node, c.storage);
  if (c.mdns >= 0)
    meshara_node_set_mdns (node, c.mdns);
  if ((v = number (&c, "max-peers")) != 0)
    meshara_node_set_max_peers (node, v);
  if ((v = number (&c, "fanout")) != 0)
    meshara_node_set_fanout (node, v);
  if ((v = number (&c, "max-routes")) != 0)
    meshara_node_set_max_routes (node, v);
  if ((v = number (&c, "seen-capacity")) != 0)
    meshara_node_set_seen_capacity (node, v);
  if ((v = number (&c, "accepts-per-second")) != 0)
    meshara_node_set_accepts_per_second (node, v);
  if ((v = number (&c, "connects-per-second")) != 0)
    meshara_node_set_connects_per_second (node, v);
  g_object_thaw_notify (G_OBJECT (node));
  ok = TRUE;

out:
  config_clear (&c);
  return ok;
}
