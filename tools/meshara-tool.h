/* The meshara command-line tool: the subcommand table and the helpers the
 * subcommands share.  The tool uses only the public <meshara/meshara.h>
 * API, like any other application. */
#ifndef MESHARA_TOOL_H
#define MESHARA_TOOL_H

#include <glib.h>
#include <meshara/meshara.h>

G_BEGIN_DECLS

/* Exit statuses, documented in meshara(1). */
#define TOOL_EXIT_OK 0
#define TOOL_EXIT_FAILURE 1   /* the command could not do its job */
#define TOOL_EXIT_USAGE 2     /* the command line was wrong */

/* File name of the keystore inside a data directory. */
#define TOOL_KEYSTORE_NAME "identity.key"

/* Environment variable a passphrase may come from, for scripts and
 * services that have no terminal. */
#define TOOL_PASSPHRASE_ENV "MESHARA_PASSPHRASE"

/* Longest passphrase read from a terminal, in bytes. */
#define TOOL_PASSPHRASE_MAX 1024

/* A subcommand gets its own name in argv[0] and returns an exit status. */
typedef int (*ToolCommandFunc) (int argc, char **argv);

typedef struct {
  const char *name;
  const char *summary;     /* one line, shown by "meshara --help" */
  ToolCommandFunc run;
} ToolCommand;

int tool_cmd_keygen (int argc, char **argv);
int tool_cmd_id (int argc, char **argv);
int tool_cmd_sim (int argc, char **argv);
int tool_cmd_node (int argc, char **argv);
int tool_cmd_send (int argc, char **argv);
int tool_cmd_broadcast (int argc, char **argv);
int tool_cmd_peers (int argc, char **argv);
int tool_cmd_demo (int argc, char **argv);
int tool_cmd_trust (int argc, char **argv);
int tool_cmd_publish_update (int argc, char **argv);
int tool_cmd_updates (int argc, char **argv);

/* The update commands of the control socket, run by "meshara node"
 * (cmd-update.c): the whole answer line, "ok ..." or "error ...". */
char *tool_update_control_publish (MesharaNode *node, const char *manifest_path);
char *tool_update_control_list (MesharaNode *node);

/* The control socket of "meshara node" inside its data directory, and
 * the longest command line it takes (the newline included). */
#define TOOL_CONTROL_SOCKET_NAME "control.sock"
#define TOOL_CONTROL_LINE_MAX 65536

/* Print "meshara CMD: MESSAGE" on stderr; returns TOOL_EXIT_FAILURE. */
int tool_error (const char *format, ...) G_GNUC_PRINTF (1, 2);

/* Print "meshara CMD: MESSAGE" and a pointer to "meshara CMD --help" on
 * stderr; returns TOOL_EXIT_USAGE. */
int tool_usage_error (const char *format, ...) G_GNUC_PRINTF (1, 2);

/* Make the option context of the running subcommand, with SUMMARY and
 * DESCRIPTION (either may be NULL) shown by its --help. */
GOptionContext *tool_option_context_new (const char *parameters,
                                         const char *summary,
                                         const char *description,
                                         const GOptionEntry *entries);

/* Parse the options of the running subcommand; on a bad command line
 * report it and return FALSE (the caller exits with TOOL_EXIT_USAGE).
 * Positional arguments are left in argv after argv[0]. */
gboolean tool_parse_options (GOptionContext *context, int *argc, char ***argv);

/* Parse the options of a command that works on a data directory and takes
 * no other argument: returns 0, or the exit status after a usage message
 * (no --data, an extra argument, a bad option). */
int tool_parse_data_options (GOptionContext *context, int *argc, char ***argv,
                             char *const *data_dir);

/* DATA_DIR/identity.key (transfer full). */
char *tool_keystore_path (const char *data_dir);

/* Where a passphrase was found, to make error messages precise. */
typedef enum {
  TOOL_PASSPHRASE_FROM_ENV,
  TOOL_PASSPHRASE_FROM_TERMINAL,
} ToolPassphraseSource;

/* Get a passphrase from $MESHARA_PASSPHRASE or, when stdin is a terminal,
 * by prompting with PROMPT without echo; CONFIRM asks a second time and
 * requires the same answer.  Empty passphrases are refused.  When neither
 * source is available the error says so and adds HINT (may be NULL).
 * Free the result with tool_passphrase_free(). */
char *tool_passphrase_get (const char *prompt, gboolean confirm,
                           const char *hint, ToolPassphraseSource *source,
                           GError **error);

/* Wipe and free a passphrase from tool_passphrase_get(); NULL is fine. */
void tool_passphrase_free (char *passphrase);

/* Load the identity kept in DATA_DIR, asking for a passphrase only when
 * the keystore is encrypted.  A missing identity gives a message that
 * tells how to make one. */
MesharaIdentity *tool_identity_load (const char *data_dir, GError **error);

/* Print the public key bundle, node ID and fingerprint on stdout, as
 * three lines or, with JSON, as one JSON object. */
void tool_identity_print (MesharaIdentity *identity, gboolean json);

G_END_DECLS

#endif
