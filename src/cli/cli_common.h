/* cli_common.h — what the small commands (queue, trace, status) share: the
 * -c/--json/-h options and loading the configuration with one clear error.
 */
#ifndef MS_CLI_COMMON_H
#define MS_CLI_COMMON_H

#include <stdbool.h>
#include <stdio.h>

#include "core/config.h"

/* Parses -c FILE / --config FILE, --json, -h / --help. Returns -1 when the
 * command should go on (optind then indexes the first operand), else the
 * exit status to return (usage printed). */
int cli_parse_common(int argc, char **argv, void (*usage)(FILE *), const char **config_r,
		     bool *json_r);

/* The configuration at path, or at the default places when path is NULL;
 * NULL after printing "mailshift CMD: ..." to stderr. */
struct config *cli_load_config(const char *cmd, const char *path);

#endif
