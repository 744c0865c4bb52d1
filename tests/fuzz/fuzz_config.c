/* fuzz_config.c — config_parse, config_parse_accounts and url_parse on
 * arbitrary bytes.
 *
 * The config and CSV files are administrator input, not network input, but a
 * typo or a file saved by the wrong tool must give an error, never a crash.
 * The first byte picks the target:
 *   0: config_parse (relative accounts paths point into an empty folder)
 *   1: config_parse_accounts
 *   2: both: the bytes after the first "\n----\n" are written to a.csv in a
 *      private folder and the bytes before it are parsed as the config file
 *      next to it, so the CSV path through config_parse is reached
 *   3: url_parse
 */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/config.h"
#include "core/log.h"
#include "core/url.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];
static char conf_name[128];
static char csv_path[128];

static void cleanup(void)
{
	unlink(csv_path);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_set_level(LOG_ERROR);       /* warnings on every input would drown the output */
	strcpy(dir, "/tmp/fuzz_config.XXXXXX");
	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(conf_name, sizeof conf_name, "%s/mailshift.conf", dir);
	snprintf(csv_path, sizeof csv_path, "%s/a.csv", dir);
	atexit(cleanup);
	return 0;
}

static void parse_config(const char *text, size_t len)
{
	struct err err;
	struct config *c = config_parse(conf_name, text, len, &err);

	if (c == NULL) {
		if (err.msg[0] == '\0')
			abort();        /* every failure must say why */
		return;
	}
	/* touch what a caller would read */
	for (size_t g = 0; g < c->group_count; g++) {
		if (c->groups[g].phase == NULL || c->groups[g].accounts_path == NULL)
			abort();
		for (size_t i = 0; i < c->groups[g].account_count; i++) {
			if (strchr(c->groups[g].accounts[i].email, '@') == NULL)
				abort();
		}
	}
	if (c->relay.listen == NULL || c->state == NULL || c->sync_jobs == 0)
		abort();
	config_free(&c);
}

static void parse_csv(const char *text, size_t len)
{
	struct config_account *a = NULL;
	size_t n = 0;
	struct err err;

	if (!config_parse_accounts("fuzz.csv", text, len, &a, &n, &err)) {
		if (a != NULL || n != 0 || err.msg[0] == '\0')
			abort();
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (a[i].email == NULL || a[i].old_user == NULL || a[i].new_user == NULL)
			abort();
		free(a[i].email);
		free(a[i].old_user);
		free(a[i].new_user);
		secret_free(&a[i].old_password);
		secret_free(&a[i].new_password);
	}
	free(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	const char *text = (const char *)data + 1;
	size_t len = size - 1;

	switch (data[0] % 4) {
	case 0:
		unlink(csv_path);
		parse_config(text, len);
		break;
	case 1:
		parse_csv(text, len);
		break;
	case 2: {
		const char *sep = memmem(text, len, "\n----\n", 6);
		size_t clen = sep != NULL ? (size_t)(sep - text) : len;
		int fd = open(csv_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if (fd < 0)
			abort();
		if (sep != NULL && write(fd, sep + 6, len - clen - 6) < 0)
			abort();
		close(fd);
		parse_config(text, clen);
		break;
	}
	case 3: {
		char *s = xstrndup(text, len);
		struct url u;
		struct err err;

		if (url_parse(s, "fuzz", &u, &err)) {
			if (u.scheme == NULL || u.host == NULL || u.port == 0 || u.port > 65535)
				abort();
		} else if (u.host != NULL || err.msg[0] == '\0') {
			abort();
		}
		url_free(&u);
		free(s);
		break;
	}
	}
	return 0;
}
