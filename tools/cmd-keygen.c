/* meshara keygen: create a new identity in a data directory. */
#include "config.h"

#include "meshara-tool.h"


int
tool_cmd_keygen (int argc, char **argv)
{
  char *data_dir = NULL, *path = NULL, *passphrase = NULL;
  gboolean no_passphrase = FALSE, force = FALSE, json = FALSE;
  MesharaIdentity *identity = NULL;
  GError *error = NULL;
  GOptionContext *context;
  int status = TOOL_EXIT_FAILURE;
  const GOptionEntry entries[] = {
    { "data", 'd', 0, G_OPTION_ARG_FILENAME, &data_dir,
      "Keep the identity in DIR (required; created with mode 0700)", "DIR" },
    { "no-passphrase", 0, 0, G_OPTION_ARG_NONE, &no_passphrase,
      "Store the secret keys unencrypted (development only)", NULL },
    { "force", 'f', 0, G_OPTION_ARG_NONE, &force,
      "Replace an existing identity; the old one is lost", NULL },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json,
      "Print the new identity as one JSON object", NULL },
    { NULL }
  };

  context = tool_option_context_new (
    NULL,
    "Create a new identity (Ed25519 and X25519 key pairs) and store it in\n"
    "DIR/" TOOL_KEYSTORE_NAME ", encrypted with a passphrase, then print it\n"
    "as 'meshara id' does.",
    "The passphrase comes from " TOOL_PASSPHRASE_ENV " when it is set;\n"
    "otherwise it is asked for twice on the terminal.",
    entries);
  status = tool_parse_data_options (context, &argc, &argv, &data_dir);
  if (status != 0)
    goto out;
  status = TOOL_EXIT_FAILURE;

  path = tool_keystore_path (data_dir);
  /* Checked before asking for a passphrase, so a refusal costs nothing. */
  if (!force && g_file_test (path, G_FILE_TEST_EXISTS))
    {
      tool_error ("%s already exists; pass --force to replace it "
                  "(the identity it holds is then lost)", path);
      goto out;
    }

  if (!no_passphrase)
    {
      passphrase = tool_passphrase_get ("Passphrase for the new identity: ",
                                        TRUE,
                                        ", or pass --no-passphrase for an "
                                        "unencrypted development key",
                                        NULL, &error);
      if (passphrase == NULL)
        {
          if (g_error_matches (error, MESHARA_ERROR,
                               MESHARA_ERROR_PASSPHRASE_REQUIRED))
            g_prefix_error (&error, "the new identity needs a passphrase: ");
          tool_error ("%s", error->message);
          goto out;
        }
    }

  identity = meshara_identity_new ();
  if (!meshara_identity_save (identity, path, passphrase, &error))
    {
      tool_error ("%s", error->message);
      goto out;
    }

  tool_identity_print (identity, json);
  status = TOOL_EXIT_OK;

out:
  tool_passphrase_free (passphrase);
  g_clear_pointer (&identity, meshara_identity_unref);
  g_clear_error (&error);
  g_option_context_free (context);
  g_free (path);
  g_free (data_dir);
  return status;
}
