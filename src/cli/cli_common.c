/* cli_common.c — see cli_common.h. */
#include "cli/cli_common.h"

#include <getopt.h>

#include "cli/commands.h"

int cli_parse_common(int argc, char **argv, void (*usage)(FILE *), const char **config_r,
		     bool *json_r)
{
	static const struct option lo[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0, 0, 0, 0 },
	};
	int c;

	*config_r = NULL;
	*json_r = false;
	while ((c = getopt_long(argc, argv, "c:h", lo, NULL)) != -1) {
		switch (c) {
		case 'c': *config_r = optarg; break;
		case 'j': *json_r = true; break;
		case 'h': usage(stdout); return EXIT_OK;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	return -1;
}

struct config *cli_load_config(const char *cmd, const char *path)
{
	struct err err;

	if (path == NULL)
		path = config_default_path();
	if (path == NULL) {
		fprintf(stderr, "mailshift %s: no configuration: give -c FILE or create "
				"./mailshift.conf\n", cmd);
		return NULL;
	}
	err_clear(&err);
	struct config *cfg = config_load(path, &err);
	if (cfg == NULL)
		fprintf(stderr, "mailshift %s: %s\n", cmd, err.msg);
	return cfg;
}
