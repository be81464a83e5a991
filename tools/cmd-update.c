/* meshara trust, publish-update and updates: the trust store of a data
 * directory, signing an update as an authority, and the updates a data
 * directory holds.
 *
 * Layout inside the data directory:
 *   trust.store                 the trusted authorities (TrustStore)
 *   updates/NAME-VERSION.manifest  a signed manifest
 *   updates/NAME-VERSION.data      its data, when held */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <glib/gstdio.h>
#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>

#include "meshara-tool.h"

#define TRUST_STORE_NAME "trust.store"
#define UPDATES_DIR_NAME "updates"

/* A manifest file the node is told to publish: larger ones are refused
 * before they are read.  Entries of the "updates" answer: at most this
 * many, the rest counted. */
#define CONTROL_MANIFEST_MAX (1024 * 1024)
#define CONTROL_UPDATES_MAX 64

/* Send line (no newline) to the node running on data_dir; its answer
 * ("ok ..." or "error ...") in *reply.  FALSE, with the reason printed,
 * when no node runs there or it gives no answer. */
static gboolean
update_control_request (const char *data_dir, const char *line, char **reply)
{
  g_autofree char *path = g_build_filename (data_dir, TOOL_CONTROL_SOCKET_NAME,
                                            NULL);
  g_autoptr (GSocketAddress) address = g_unix_socket_address_new (path);
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_autoptr (GSocketConnection) connection = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *request = NULL, *buf = NULL;
  gsize len = 0;

  connection = g_socket_client_connect (client, G_SOCKET_CONNECTABLE (address),
                                        NULL, &error);
  if (connection == NULL)
    {
      tool_error ("no meshara node is running for %s (start one with: "
                  "meshara node --data %s ...)", data_dir, data_dir);
      return FALSE;
    }
  request = g_strdup_printf ("%s\n", line);
  if (!g_output_stream_write_all (
         g_io_stream_get_output_stream (G_IO_STREAM (connection)), request,
         strlen (request), NULL, NULL, &error))
    {
      tool_error ("cannot talk to the node of %s: %s", data_dir, error->message);
      return FALSE;
    }
  /* One line back, bounded; the node closes after it. */
  buf = g_malloc (TOOL_CONTROL_LINE_MAX + 1);
  while (len < TOOL_CONTROL_LINE_MAX && memchr (buf, '\n', len) == NULL)
    {
      gssize got = g_input_stream_read (
        g_io_stream_get_input_stream (G_IO_STREAM (connection)), buf + len,
        TOOL_CONTROL_LINE_MAX - len, NULL, &error);

      if (got < 0)
        {
          tool_error ("cannot read the answer of the node of %s: %s",
                      data_dir, error->message);
          return FALSE;
        }
      if (got == 0)
        break;
      len += (gsize) got;
    }
  buf[len] = '\0';
  buf[strcspn (buf, "\r\n")] = '\0';
  if (!g_str_has_prefix (buf, "ok") && !g_str_has_prefix (buf, "error "))
    {
      tool_error ("the node of %s gave no answer", data_dir);
      return FALSE;
    }
  *reply = g_steal_pointer (&buf);
  return TRUE;
}

/* "publish-update PATH" on the node's side. */
char *
tool_update_control_publish (MesharaNode *node, const char *manifest_path)
{
  g_autofree char *contents = NULL, *stem = NULL, *data_path = NULL;
  g_autofree char *id = NULL;
  g_autoptr (GBytes) manifest = NULL;
  g_autoptr (GError) error = NULL;
  GStatBuf st;
  gsize len;

  if (!g_str_has_suffix (manifest_path, ".manifest")
      || !g_path_is_absolute (manifest_path))
    return g_strdup ("error publish-update wants the absolute path of a "
                     ".manifest file");
  if (g_stat (manifest_path, &st) != 0 || !S_ISREG (st.st_mode))
    return g_strdup_printf ("error %s is not a readable file", manifest_path);
  if (st.st_size > CONTROL_MANIFEST_MAX)
    return g_strdup_printf ("error %s is larger than a manifest can be",
                            manifest_path);
  if (!g_file_get_contents (manifest_path, &contents, &len, &error))
    return g_strdup_printf ("error %s", error->message);
  manifest = g_bytes_new_take (g_steal_pointer (&contents), len);
  stem = g_strndup (manifest_path, strlen (manifest_path) - strlen (".manifest"));
  data_path = g_strconcat (stem, ".data", NULL);
  id = meshara_node_publish_update (node, manifest, data_path, &error);
  if (id == NULL)
    return g_strdup_printf ("error %s", error->message);
  return g_strdup_printf ("ok %s", id);
}

/* "updates" on the node's side: "ok N" and one "; ID NAME VERSION STATE
 * HELD/TOTAL" per update. */
char *
tool_update_control_list (MesharaNode *node)
{
  g_autoptr (GVariant) list = meshara_node_list_updates (node);
  GString *reply = g_string_new (NULL);
  const char *id, *name, *state, *path;
  guint64 version;
  guint32 done, total;
  GVariantIter iter;
  gsize n = g_variant_n_children (list), shown = 0;

  g_string_printf (reply, "ok %" G_GSIZE_FORMAT, n);
  g_variant_iter_init (&iter, list);
  while (g_variant_iter_next (&iter, "(&s&st&suu&s)", &id, &name, &version,
                              &state, &done, &total, &path))
    {
      if (shown == CONTROL_UPDATES_MAX)
        {
          g_string_append_printf (reply, "; and %" G_GSIZE_FORMAT " more",
                                  n - shown);
          break;
        }
      /* Names are printable ASCII (checked with the manifest); spaces
       * and semicolons would split the fields, so they become "_". */
      {
        g_autofree char *safe = g_strdelimit (g_strdup (name), " ;", '_');

        g_string_append_printf (reply, "; %s %s %" G_GUINT64_FORMAT " %s %u/%u",
                                id, safe, version, state, done, total);
      }
      shown++;
    }
  return g_string_free (reply, FALSE);
}

static char *
trust_path (const char *data_dir)
{
  return g_build_filename (data_dir, TRUST_STORE_NAME, NULL);
}

/* The data directory's trust store, or an empty one when it has none. */
static MesharaTrustStore *
trust_load (const char *data_dir, GError **error)
{
  g_autofree char *path = trust_path (data_dir);

  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    return meshara_trust_store_new ();
  return meshara_trust_store_load (path, error);
}

static int
trust_list (MesharaTrustStore *store, gboolean json)
{
  guint n = meshara_trust_store_get_n_authorities (store);

  if (!json)
    printf ("threshold %u of %u\n", meshara_trust_store_get_threshold (store), n);
  else
    printf ("{\"threshold\": %u, \"authorities\": [",
            meshara_trust_store_get_threshold (store));
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *fp = NULL, *name = NULL, *desc = NULL, *url = NULL;
      MesharaTrustLevel level;

      if (!meshara_trust_store_get_authority (store, i, &fp, &name, &desc,
                                              &url, &level))
        continue;
      if (json)
        {
          g_autofree char *qname = g_strescape (name, NULL);
          g_autofree char *qdesc = g_strescape (desc ? desc : "", NULL);
          g_autofree char *qurl = g_strescape (url ? url : "", NULL);

          printf ("%s{\"fingerprint\": \"%s\", \"name\": \"%s\", \"level\": "
                  "\"%s\", \"description\": \"%s\", \"url\": \"%s\"}",
                  i ? ", " : "", fp, qname,
                  meshara_trust_level_to_string (level), qdesc, qurl);
        }
      else
        printf ("%s  %-9s %s%s%s\n", fp, meshara_trust_level_to_string (level),
                name, url && *url ? "  " : "", url ? url : "");
    }
  if (json)
    printf ("]}\n");
  return TOOL_EXIT_OK;
}

int
tool_cmd_trust (int argc, char **argv)
{
  char *data_dir = NULL, *key = NULL, *name = NULL, *description = NULL;
  char *url = NULL, *level_name = NULL;
  gint threshold = 0;
  gboolean json = FALSE;
  g_autoptr (MesharaTrustStore) store = NULL;
  g_autofree char *path = NULL;
  GError *error = NULL;
  GOptionContext *context;
  const char *action;
  int status = TOOL_EXIT_USAGE;
  const GOptionEntry entries[] = {
    { "data", 'd', 0, G_OPTION_ARG_FILENAME, &data_dir,
      "The data directory whose trust store to use (required)", "DIR" },
    { "key", 'k', 0, G_OPTION_ARG_STRING, &key,
      "add, remove: the authority's public key (mshr1...)", "KEY" },
    { "name", 'n', 0, G_OPTION_ARG_STRING, &name,
      "add: the authority's name (required)", "NAME" },
    { "description", 0, 0, G_OPTION_ARG_STRING, &description,
      "add: what the authority is", "TEXT" },
    { "url", 0, 0, G_OPTION_ARG_STRING, &url, "add: the authority's URL", "URL" },
    { "level", 'l', 0, G_OPTION_ARG_STRING, &level_name,
      "add: update, signing, bootstrap or full (default update)", "LEVEL" },
    { "threshold", 0, 0, G_OPTION_ARG_INT, &threshold,
      "add, remove, list: first set how many trusted signatures an update "
      "needs", "K" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "list: print one JSON object", NULL },
    { NULL }
  };

  context = tool_option_context_new (
    "add|remove|list",
    "Edit or show the update authorities trusted in DIR/" TRUST_STORE_NAME ".",
    "An update is accepted with signatures of at least K (the threshold)\n"
    "distinct authorities trusted at level update or full.",
    entries);
  if (!tool_parse_options (context, &argc, &argv))
    goto out;
  if (argc != 2)
    {
      status = tool_usage_error ("expected one of add, remove or list");
      goto out;
    }
  if (data_dir == NULL)
    {
      status = tool_usage_error ("--data DIR is required");
      goto out;
    }
  action = argv[1];
  status = TOOL_EXIT_FAILURE;
  store = trust_load (data_dir, &error);
  if (store == NULL)
    {
      tool_error ("%s", error->message);
      goto out;
    }
  if (threshold != 0
      && !meshara_trust_store_set_threshold (store, (guint) MAX (threshold, 0), &error))
    {
      tool_error ("%s", error->message);
      goto out;
    }
  if (g_str_equal (action, "list"))
    {
      status = trust_list (store, json);
      if (threshold == 0)
        goto out;
    }
  else if (g_str_equal (action, "add"))
    {
      MesharaTrustLevel level = MESHARA_TRUST_LEVEL_UPDATE;

      if (key == NULL || name == NULL)
        {
          status = tool_usage_error ("add needs --key KEY and --name NAME");
          goto out;
        }
      if (level_name != NULL)
        {
          level = meshara_trust_level_from_string (level_name);
          if ((int) level == 0)
            {
              status = tool_usage_error ("unknown trust level '%s' (update, "
                                         "signing, bootstrap or full)", level_name);
              goto out;
            }
        }
      if (!meshara_trust_store_add (store, key, name, description, url, level,
                                    &error))
        {
          tool_error ("cannot trust %s: %s", name, error->message);
          goto out;
        }
    }
  else if (g_str_equal (action, "remove"))
    {
      if (key == NULL)
        {
          status = tool_usage_error ("remove needs --key KEY");
          goto out;
        }
      if (!meshara_trust_store_remove (store, key, &error))
        {
          tool_error ("%s", error->message);
          goto out;
        }
    }
  else
    {
      status = tool_usage_error ("unknown action '%s': add, remove or list", action);
      goto out;
    }
  path = trust_path (data_dir);
  if (!meshara_trust_store_save (store, path, &error))
    {
      tool_error ("%s", error->message);
      status = TOOL_EXIT_FAILURE;
      goto out;
    }
  status = TOOL_EXIT_OK;

out:
  g_clear_error (&error);
  g_option_context_free (context);
  g_free (data_dir);
  g_free (key);
  g_free (name);
  g_free (description);
  g_free (url);
  g_free (level_name);
  return status;
}

/* Have the node of data_dir publish the manifest at path (its data
 * beside it); prints "announced ID". */
static int
announce_manifest (const char *data_dir, const char *path)
{
  g_autofree char *absolute = g_canonicalize_filename (path, NULL);
  g_autofree char *line = g_strdup_printf ("publish-update %s", absolute);
  g_autofree char *reply = NULL;

  if (!update_control_request (data_dir, line, &reply))
    return TOOL_EXIT_FAILURE;
  if (!g_str_has_prefix (reply, "ok "))
    return tool_error ("the node of %s did not announce the update: %s",
                       data_dir, reply + strlen ("error "));
  printf ("announced %s\n", reply + 3);
  return TOOL_EXIT_OK;
}

static gboolean
parse_version (const char *text, guint64 *out, GError **error)
{
  return g_ascii_string_to_unsigned (text, 10, 1, G_MAXUINT64, out, error);
}

int
tool_cmd_publish_update (int argc, char **argv)
{
  char *data_dir = NULL, *version_text = NULL, *file = NULL, *changelog = NULL;
  char *name = NULL, *label = NULL, *min_text = NULL, *cosign = NULL;
  char *export_path = NULL, *announce = NULL;
  gboolean offline = FALSE;
  MesharaIdentity *identity = NULL;
  g_autoptr (GBytes) manifest = NULL;
  g_autoptr (GBytes) is_signed = NULL;
  g_autofree char *dir = NULL, *base = NULL, *out_manifest = NULL, *out_data = NULL;
  g_autofree char *contents = NULL;
  guint64 version = 0, min_version = 0;
  guint n_sigs = 0;
  gsize len;
  GError *error = NULL;
  GOptionContext *context;
  int status = TOOL_EXIT_USAGE;
  const GOptionEntry entries[] = {
    { "data", 'd', 0, G_OPTION_ARG_FILENAME, &data_dir,
      "The authority's data directory: its identity signs (required)", "DIR" },
    { "version", 'V', 0, G_OPTION_ARG_STRING, &version_text,
      "The update's version, a positive integer (required)", "V" },
    { "file", 'f', 0, G_OPTION_ARG_FILENAME, &file,
      "The update's data (required unless --cosign)", "FILE" },
    { "changelog", 'c', 0, G_OPTION_ARG_STRING, &changelog,
      "What changed", "TEXT" },
    { "name", 'n', 0, G_OPTION_ARG_STRING, &name,
      "What is updated (default: the file's name)", "NAME" },
    { "label", 0, 0, G_OPTION_ARG_STRING, &label,
      "A version label for people, such as 1.2.0", "LABEL" },
    { "min-version", 0, 0, G_OPTION_ARG_STRING, &min_text,
      "The oldest installed version the update may replace", "V" },
    { "cosign", 0, 0, G_OPTION_ARG_FILENAME, &cosign,
      "Add this authority's signature to the manifest in FILE instead", "FILE" },
    { "export-unsigned", 0, 0, G_OPTION_ARG_FILENAME, &export_path,
      "Also write the manifest without signatures to FILE, for other "
      "authorities to co-sign", "FILE" },
    { "offline", 0, 0, G_OPTION_ARG_NONE, &offline,
      "Only sign and keep the update; do not announce it", NULL },
    { "announce", 0, 0, G_OPTION_ARG_FILENAME, &announce,
      "Have the node announce the signed manifest in FILE (its data beside "
      "it, ending in .data) as it is, such as after co-signing", "FILE" },
    { NULL }
  };

  context = tool_option_context_new (
    NULL,
    "Sign an update with the identity in DIR, keep it in DIR/" UPDATES_DIR_NAME
    "/\nas NAME-VERSION.manifest, with its data as NAME-VERSION.data, and have\n"
    "the node running on DIR announce it to the mesh and serve it.",
    "With --offline the update is only kept (no node is needed).  With\n"
    "--cosign, the manifest in FILE gains this authority's signature and is\n"
    "written back to FILE.",
    entries);
  if (!tool_parse_options (context, &argc, &argv))
    goto out;
  if (argc != 1 || data_dir == NULL)
    {
      status = tool_usage_error ("--data DIR is required, and nothing else");
      goto out;
    }
  if (announce != NULL)
    {
      if (cosign != NULL || file != NULL || offline)
        {
          status = tool_usage_error ("--announce goes without --cosign, --file "
                                     "and --offline");
          goto out;
        }
      status = announce_manifest (data_dir, announce);
      goto out;
    }
  if (cosign == NULL && (version_text == NULL || file == NULL))
    {
      status = tool_usage_error ("--version V and --file FILE are required");
      goto out;
    }
  if (version_text != NULL && !parse_version (version_text, &version, &error))
    {
      status = tool_usage_error ("--version: %s", error->message);
      goto out;
    }
  if (min_text != NULL
      && !g_ascii_string_to_unsigned (min_text, 10, 0, G_MAXUINT64, &min_version,
                                      &error))
    {
      status = tool_usage_error ("--min-version: %s", error->message);
      goto out;
    }
  status = TOOL_EXIT_FAILURE;
  identity = tool_identity_load (data_dir, &error);
  if (identity == NULL)
    {
      tool_error ("%s", error->message);
      goto out;
    }

  if (cosign != NULL)
    {
      if (!g_file_get_contents (cosign, &contents, &len, &error))
        {
          tool_error ("%s", error->message);
          goto out;
        }
      manifest = g_bytes_new_take (g_steal_pointer (&contents), len);
      is_signed = meshara_update_manifest_sign (manifest, identity, &error);
      if (is_signed == NULL
          || !g_file_set_contents (cosign, g_bytes_get_data (is_signed, NULL),
                                   (gssize) g_bytes_get_size (is_signed), &error))
        {
          tool_error ("cannot co-sign %s: %s", cosign, error->message);
          goto out;
        }
      meshara_update_manifest_get_info (is_signed, NULL, NULL, NULL, NULL, NULL,
                                        &n_sigs, NULL);
      printf ("%s now has %u signatures\n", cosign, n_sigs);
      status = TOOL_EXIT_OK;
      goto out;
    }

  base = g_path_get_basename (file);
  manifest = meshara_update_manifest_new_from_file (file, name ? name : base,
                                                    version, label, min_version,
                                                    changelog, &error);
  if (manifest == NULL)
    {
      tool_error ("cannot describe %s: %s", file, error->message);
      goto out;
    }
  if (export_path != NULL)
    {
      g_autoptr (GBytes) bare = meshara_update_manifest_export_unsigned (manifest, &error);

      if (bare == NULL
          || !g_file_set_contents (export_path, g_bytes_get_data (bare, NULL),
                                   (gssize) g_bytes_get_size (bare), &error))
        {
          tool_error ("cannot export the unsigned manifest: %s", error->message);
          goto out;
        }
    }
  is_signed = meshara_update_manifest_sign (manifest, identity, &error);
  if (is_signed == NULL)
    {
      tool_error ("cannot sign the update: %s", error->message);
      goto out;
    }
  dir = g_build_filename (data_dir, UPDATES_DIR_NAME, NULL);
  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      tool_error ("cannot create %s: %s", dir, g_strerror (errno));
      goto out;
    }
  {
    g_autofree char *stem = g_strdup_printf ("%s-%" G_GUINT64_FORMAT,
                                             name ? name : base, version);

    g_strdelimit (stem, "/\\", '_');
    out_manifest = g_strdup_printf ("%s/%s.manifest", dir, stem);
    out_data = g_strdup_printf ("%s/%s.data", dir, stem);
  }
  if (!g_file_get_contents (file, &contents, &len, &error)
      || !g_file_set_contents (out_data, contents, (gssize) len, &error)
      || !g_file_set_contents (out_manifest, g_bytes_get_data (is_signed, NULL),
                               (gssize) g_bytes_get_size (is_signed), &error))
    {
      tool_error ("cannot keep the update in %s: %s", dir, error->message);
      goto out;
    }
  printf ("%s\n%s\n", out_manifest, out_data);
  if (!offline && announce_manifest (data_dir, out_manifest) != TOOL_EXIT_OK)
    {
      tool_error ("the update is kept in %s but was not announced (use "
                  "--offline to only keep it)", dir);
      goto out;
    }
  status = TOOL_EXIT_OK;

out:
  g_clear_pointer (&identity, meshara_identity_unref);
  g_clear_error (&error);
  g_option_context_free (context);
  g_free (data_dir);
  g_free (version_text);
  g_free (file);
  g_free (changelog);
  g_free (name);
  g_free (label);
  g_free (min_text);
  g_free (cosign);
  g_free (export_path);
  g_free (announce);
  return status;
}

/* One update of DIR/updates: its description, whether the trust store
 * accepts it and whether its data is held and matches. */
static void
show_update (const char *dir, const char *file, MesharaTrustStore *store,
             guint64 installed, gboolean json, gboolean *first)
{
  g_autofree char *path = g_build_filename (dir, file, NULL);
  g_autofree char *contents = NULL, *name = NULL, *label = NULL, *changes = NULL;
  g_autofree char *data_path = NULL, *verdict = NULL, *data_state = NULL;
  g_autoptr (GBytes) manifest = NULL;
  g_autoptr (GError) error = NULL;
  guint64 version = 0, size = 0;
  guint n_sigs = 0;
  gsize len;

  if (!g_file_get_contents (path, &contents, &len, &error))
    {
      tool_error ("%s", error->message);
      return;
    }
  manifest = g_bytes_new_take (g_steal_pointer (&contents), len);
  if (!meshara_update_manifest_get_info (manifest, &name, &version, &label,
                                         &size, &changes, &n_sigs, &error))
    {
      tool_error ("%s: %s", path, error->message);
      return;
    }
  if (meshara_update_manifest_verify (manifest, store, installed, &error))
    verdict = g_strdup ("trusted");
  else
    verdict = g_strdup_printf ("rejected: %s", error->message);
  g_clear_error (&error);
  {
    g_autofree char *stem = g_strndup (path, strlen (path) - strlen (".manifest"));

    data_path = g_strconcat (stem, ".data", NULL);
  }
  if (!g_file_test (data_path, G_FILE_TEST_EXISTS))
    data_state = g_strdup ("not held");
  else if (meshara_update_verify_file (manifest, data_path, &error))
    data_state = g_strdup ("held, verified");
  else
    data_state = g_strdup_printf ("held, bad: %s", error->message);
  if (json)
    {
      g_autofree char *qname = g_strescape (name, NULL);
      g_autofree char *qverdict = g_strescape (verdict, NULL);
      g_autofree char *qdata = g_strescape (data_state, NULL);

      printf ("%s{\"manifest\": \"%s\", \"name\": \"%s\", \"version\": %"
              G_GUINT64_FORMAT ", \"size\": %" G_GUINT64_FORMAT
              ", \"signatures\": %u, \"status\": \"%s\", \"data\": \"%s\"}",
              *first ? "" : ", ", file, qname, version, size, n_sigs, qverdict,
              qdata);
    }
  else
    printf ("%s %" G_GUINT64_FORMAT "%s%s%s  %" G_GUINT64_FORMAT " bytes, "
            "%u signature%s, %s; data %s\n", name, version,
            label && *label ? " (" : "", label ? label : "",
            label && *label ? ")" : "", size, n_sigs, n_sigs == 1 ? "" : "s",
            verdict, data_state);
  *first = FALSE;
}

/* The --check command of "updates --apply": run through the shell with
 * the installed file as $1; exit status 0 keeps the update. */
static gboolean
run_check (const char *target, gpointer user_data, GError **error)
{
  const char *command = user_data;
  const char *argv[] = { "/bin/sh", "-c", NULL, "sh", target, NULL };
  g_autofree char *script = g_strdup_printf ("%s \"$1\"", command);
  gint wait_status = 0;

  argv[2] = script;
  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                     NULL, NULL, &wait_status, error))
    return FALSE;
  if (!g_spawn_check_wait_status (wait_status, NULL))
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_FAILED,
                   "the check '%s' failed on the new file", command);
      return FALSE;
    }
  return TRUE;
}

/* Install the update whose manifest is at manifest_path (its data next to
 * it as .data) over target. */
static int
apply_update (MesharaTrustStore *store, guint64 installed,
              const char *manifest_path, const char *target, const char *check)
{
  g_autofree char *contents = NULL, *stem = NULL, *data_path = NULL;
  g_autoptr (GBytes) manifest = NULL;
  g_autoptr (GError) error = NULL;
  MesharaUpdateOutcome outcome = MESHARA_UPDATE_NOT_APPLIED;
  gsize len;

  if (!g_str_has_suffix (manifest_path, ".manifest"))
    return tool_usage_error ("--apply wants a .manifest file, not %s", manifest_path);
  if (!g_file_get_contents (manifest_path, &contents, &len, &error))
    return tool_error ("%s", error->message);
  manifest = g_bytes_new_take (g_steal_pointer (&contents), len);
  stem = g_strndup (manifest_path, strlen (manifest_path) - strlen (".manifest"));
  data_path = g_strconcat (stem, ".data", NULL);
  if (meshara_update_apply (manifest, store, installed, data_path, target,
                            check ? run_check : NULL, (gpointer) check,
                            &outcome, &error))
    {
      printf ("applied: %s now holds the update\n", target);
      return TOOL_EXIT_OK;
    }
  switch (outcome)
    {
    case MESHARA_UPDATE_ROLLED_BACK:
      printf ("rolled back: %s holds the old file again\n", target);
      break;
    case MESHARA_UPDATE_ROLLBACK_FAILED:
      printf ("rollback failed: the old file is kept as %s.bak\n", target);
      break;
    default:
      printf ("not applied: %s is unchanged\n", target);
      break;
    }
  return tool_error ("%s", error->message);
}

/* updates --status: the node's answer to "updates", one update a line
 * (ID NAME VERSION STATE HELD/TOTAL) or one JSON object. */
static int
show_node_updates (const char *data_dir, gboolean json)
{
  g_autofree char *reply = NULL;
  g_auto (GStrv) parts = NULL;

  if (!update_control_request (data_dir, "updates", &reply))
    return TOOL_EXIT_FAILURE;
  if (!g_str_has_prefix (reply, "ok "))
    return tool_error ("%s", reply + strlen ("error "));
  parts = g_strsplit (reply + 3, "; ", -1);
  if (json)
    printf ("{\"updates\": [");
  for (guint i = 1; parts[i] != NULL; i++)
    {
      g_auto (GStrv) f = g_strsplit (parts[i], " ", 5);
      guint done = 0, total = 0;

      if (!json)
        {
          printf ("%s\n", parts[i]);
          continue;
        }
      if (g_strv_length (f) != 5 || sscanf (f[4], "%u/%u", &done, &total) != 2)
        continue;
      {
        g_autofree char *qname = g_strescape (f[1], NULL);

        printf ("%s{\"id\": \"%s\", \"name\": \"%s\", \"version\": %s, "
                "\"state\": \"%s\", \"chunks_held\": %u, \"chunks_total\": %u}",
                i > 1 ? ", " : "", f[0], qname, f[2], f[3], done, total);
      }
    }
  if (json)
    printf ("]}\n");
  else if (parts[0] != NULL && strcmp (parts[0], "0") == 0)
    printf ("the node of %s knows no updates\n", data_dir);
  return TOOL_EXIT_OK;
}

static gint
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

int
tool_cmd_updates (int argc, char **argv)
{
  char *data_dir = NULL, *installed_text = NULL, *apply = NULL, *target = NULL;
  char *check = NULL;
  gboolean json = FALSE, first = TRUE, node_status = FALSE;
  g_autoptr (MesharaTrustStore) store = NULL;
  g_autofree char *dir = NULL;
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  guint64 installed = 0;
  GDir *d = NULL;
  const char *entry;
  GError *error = NULL;
  GOptionContext *context;
  int status;
  const GOptionEntry entries[] = {
    { "data", 'd', 0, G_OPTION_ARG_FILENAME, &data_dir,
      "The data directory (required)", "DIR" },
    { "installed", 'i', 0, G_OPTION_ARG_STRING, &installed_text,
      "The version installed now, for the version checks (default 0: none)", "V" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print one JSON object", NULL },
    { "apply", 'a', 0, G_OPTION_ARG_FILENAME, &apply,
      "Install the update of this manifest (its data beside it) instead of "
      "listing", "MANIFEST" },
    { "target", 't', 0, G_OPTION_ARG_FILENAME, &target,
      "--apply: the file to replace (required with --apply)", "FILE" },
    { "check", 0, 0, G_OPTION_ARG_STRING, &check,
      "--apply: a shell command run with the new file as its argument; "
      "when it fails the old file is put back", "COMMAND" },
    { "status", 's', 0, G_OPTION_ARG_NONE, &node_status,
      "Ask the node running on DIR what it announced, fetches and holds "
      "instead of listing the files", NULL },
    { NULL }
  };

  context = tool_option_context_new (
    NULL,
    "List the updates in DIR/" UPDATES_DIR_NAME "/: each one's version and size,\n"
    "whether the trust store of DIR accepts its signatures and versions, and\n"
    "whether its data is held and matches its hashes.",
    NULL, entries);
  status = tool_parse_data_options (context, &argc, &argv, &data_dir);
  if (status != 0)
    goto out;
  if (installed_text != NULL
      && !g_ascii_string_to_unsigned (installed_text, 10, 0, G_MAXUINT64,
                                      &installed, &error))
    {
      status = tool_usage_error ("--installed: %s", error->message);
      goto out;
    }
  if ((apply == NULL) != (target == NULL))
    {
      status = tool_usage_error ("--apply and --target go together");
      goto out;
    }
  status = TOOL_EXIT_FAILURE;
  if (node_status)
    {
      status = show_node_updates (data_dir, json);
      goto out;
    }
  store = trust_load (data_dir, &error);
  if (store == NULL)
    {
      tool_error ("%s", error->message);
      goto out;
    }
  if (apply != NULL)
    {
      status = apply_update (store, installed, apply, target, check);
      goto out;
    }
  dir = g_build_filename (data_dir, UPDATES_DIR_NAME, NULL);
  if (g_file_test (dir, G_FILE_TEST_IS_DIR))
    {
      d = g_dir_open (dir, 0, &error);
      if (d == NULL)
        {
          tool_error ("%s", error->message);
          goto out;
        }
      while ((entry = g_dir_read_name (d)) != NULL)
        if (g_str_has_suffix (entry, ".manifest"))
          g_ptr_array_add (names, g_strdup (entry));
      g_ptr_array_sort (names, compare_names);
    }
  if (json)
    printf ("{\"updates\": [");
  for (guint i = 0; i < names->len; i++)
    show_update (dir, g_ptr_array_index (names, i), store, installed, json, &first);
  if (json)
    printf ("]}\n");
  else if (names->len == 0)
    printf ("no updates in %s\n", dir);
  status = TOOL_EXIT_OK;

out:
  if (d != NULL)
    g_dir_close (d);
  g_clear_error (&error);
  g_option_context_free (context);
  g_free (data_dir);
  g_free (installed_text);
  g_free (apply);
  g_free (target);
  g_free (check);
  return status;
}
