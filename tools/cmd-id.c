/* meshara id: show the public side of the identity in a data directory. */
#include "config.h"

#include "meshara-tool.h"

int
tool_cmd_id (int argc, char **argv)
{
  char *data_dir = NULL;
  gboolean json = FALSE;
  MesharaIdentity *identity = NULL;
  GError *error = NULL;
  GOptionContext *context;
  int status = TOOL_EXIT_FAILURE;
  const GOptionEntry entries[] = {
    { "data", 'd', 0, G_OPTION_ARG_FILENAME, &data_dir,
      "Read the identity from DIR (required)", "DIR" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json,
      "Print one JSON object with public_key, node_id and fingerprint", NULL },
    { NULL }
  };

  context = tool_option_context_new (
    NULL,
    "Print the public key bundle (alone on the first line), the node ID and\n"
    "the fingerprint of the identity in DIR/" TOOL_KEYSTORE_NAME ".",
    "An encrypted identity needs its passphrase: from " TOOL_PASSPHRASE_ENV "\n"
    "when it is set, otherwise asked for on the terminal.",
    entries);
  status = tool_parse_data_options (context, &argc, &argv, &data_dir);
  if (status != 0)
    goto out;
  status = TOOL_EXIT_FAILURE;

  identity = tool_identity_load (data_dir, &error);
  if (identity == NULL)
    {
      tool_error ("%s", error->message);
      goto out;
    }

  tool_identity_print (identity, json);
  status = TOOL_EXIT_OK;

out:
  g_clear_pointer (&identity, meshara_identity_unref);
  g_clear_error (&error);
  g_option_context_free (context);
  g_free (data_dir);
  return status;
}
