/* The entry point every fuzz target defines: the libFuzzer interface,
 * also driven by AFL++ and by the corpus replayer in main.c. */
#ifndef MESH_FUZZ_H
#define MESH_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* Run one input.  Returns 0; a bug aborts. */
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* The passphrase the keystore seeds are sealed under (gen-corpus.c) and
 * that keystore_fuzzer opens them with. */
#define MESH_FUZZ_PASSPHRASE "correct horse battery staple"

/* Called once by the engines before the first input (main.c defines it
 * in engine builds). */
int LLVMFuzzerInitialize (int *argc, char ***argv);

#endif
