/* cli_accounts.c — which accounts a command works on, and how to reach
 * them: one account from --old/--new URLs (passwords from files or the
 * environment, never argv), or every account of the configuration's groups.
 * Shared by sync and verify. See cli_accounts.h.
 */
#include "cli/cli_accounts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/commands.h"
#include "core/alloc.h"

static bool parse_tls(const char *s, bool *none_r)
{
	if (s == NULL || strcmp(s, "verify") == 0) {
		*none_r = false;
		return true;
	}
	if (strcmp(s, "none") == 0) {
		*none_r = true;
		return true;
	}
	return false;
}

static bool parse_auth(const char *s, enum auth_mech *m)
{
	static const struct { const char *n; enum auth_mech m; } t[] = {
		{ "auto", AUTH_AUTO }, { "login", AUTH_LOGIN },
		{ "plain", AUTH_PLAIN }, { "xoauth2", AUTH_XOAUTH2 },
	};
	if (s == NULL) {
		*m = AUTH_AUTO;
		return true;
	}
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
		if (strcasecmp(s, t[i].n) == 0) {
			*m = t[i].m;
			return true;
		}
	return false;
}


static bool endpoint_from_url(const char *text, const char *what, const char *label,
			      struct imap_endpoint *ep, struct owned *own, struct err *err)
{
	if (!url_parse(text, label, &own->url, err))
		return false;
	if (strcmp(own->url.scheme, "imap") != 0 && strcmp(own->url.scheme, "imaps") != 0) {
		err_set(err, ERR_SCOPE_RUN, ERR_KIND_USAGE, false,
			"%s: '%s' is not an IMAP address (use imap:// or imaps://)", label, text);
		return false;
	}
	ep->what = what;
	ep->host = own->url.host;
	ep->port = own->url.port;
	ep->implicit_tls = own->url.implicit_tls;
	ep->user = own->url.user;
	return true;
}

int cli_exit_for_kind(enum err_kind k)
{
	switch (k) {
	case ERR_KIND_AUTH: return EXIT_AUTH;
	case ERR_KIND_CONNECT: return EXIT_CONNECT;
	case ERR_KIND_TLS: return EXIT_TLS;
	case ERR_KIND_CONFIG:
	case ERR_KIND_USAGE: return EXIT_USAGE;
	default: return EXIT_PARTIAL;
	}
}

static char *secret_from(const char *file, const char *env, const char *label, struct err *err)
{
	if (file != NULL) {
		char *s = secret_read_file(file, err);
		if (s == NULL)
			err_prefix(err, "%s: ", label);
		return s;
	}
	const char *e = getenv(env);
	if (e != NULL && e[0] != '\0')
		return xstrdup(e);
	err_set(err, ERR_SCOPE_RUN, ERR_KIND_USAGE, false,
		"no password for the %s server: give %s-password-file FILE or set %s", label,
		strcmp(label, "old") == 0 ? "--old" : "--new", env);
	return NULL;
}

static bool side_endpoint(const struct side_opts *so, const char *label, const char *what,
			  const char *env, struct imap_endpoint *ep, struct owned *own,
			  struct err *err)
{
	char flag[32];
	bool none;

	snprintf(flag, sizeof flag, "--%s", label);
	if (!endpoint_from_url(so->url, what, flag, ep, own, err))
		return false;
	if (ep->user == NULL) {
		err_set(err, ERR_SCOPE_RUN, ERR_KIND_USAGE, false,
			"%s: give the account's user name in the address, e.g. imaps://alice@%s",
			flag, own->url.host);
		return false;
	}
	if (!parse_tls(so->tls, &none)) {
		err_set(err, ERR_SCOPE_RUN, ERR_KIND_USAGE, false,
			"--%s-tls: '%s' is not valid (use verify or none)", label, so->tls);
		return false;
	}
	if (!parse_auth(so->auth, &ep->auth)) {
		err_set(err, ERR_SCOPE_RUN, ERR_KIND_USAGE, false,
			"--%s-auth: '%s' is not valid (use auto, login, plain or xoauth2)", label,
			so->auth);
		return false;
	}
	ep->tls_none = none;
	ep->ca_file = so->ca_file;
	ep->admin_user = so->admin;
	own->secret = secret_from(so->password_file, env, label, err);
	ep->secret = own->secret;
	return own->secret != NULL;
}

void cli_owned_free(struct owned *o)
{
	url_free(&o->url);
	secret_free(&o->secret);
}

static bool config_endpoint(const struct config *cfg, const struct config_server *srv,
			    const char *label, const char *what, const char *user,
			    const char *password, struct imap_endpoint *ep, struct owned *own,
			    struct err *err)
{
	char where[256];

	if (srv->imap == NULL) {
		err_set(err, ERR_SCOPE_RUN, ERR_KIND_CONFIG, false,
			"%s: [%s] has no 'imap' address (e.g. imap = imaps://mail.example.jp)",
			cfg->path, label);
		return false;
	}
	snprintf(where, sizeof where, "%s [%s] imap", cfg->path, label);
	if (!endpoint_from_url(srv->imap, what, where, ep, own, err))
		return false;
	ep->user = user;
	ep->tls_none = srv->tls == TLS_NONE;
	ep->ca_file = srv->ca_file;
	ep->auth = srv->auth;
	if (srv->admin_user != NULL) {
		ep->admin_user = srv->admin_user;
		if (srv->admin_password_file == NULL) {
			err_set(err, ERR_SCOPE_RUN, ERR_KIND_CONFIG, false,
				"%s: [%s] admin_user needs admin_password_file", cfg->path, label);
			return false;
		}
		own->secret = secret_read_file(srv->admin_password_file, err);
		if (own->secret == NULL)
			return false;
	} else if (password != NULL) {
		own->secret = xstrdup(password);
	}
	ep->secret = own->secret;
	return true;
}

static int load_config(const struct cli_target *o, struct config **cfg_r, struct acct **v_r,
		       size_t *n_r)
{
	struct err err;
	const char *path = o->config ? o->config : config_default_path();
	struct acct *v = NULL;
	size_t nv = 0;

	err_clear(&err);
	if (path == NULL) {
		fprintf(stderr, "mailshift: no configuration: give -c FILE, create ./mailshift.conf, "
				"or use --old/--new for one account (see mailshift sync --help)\n");
		return EXIT_USAGE;
	}
	struct config *cfg = config_load(path, &err);
	if (cfg == NULL) {
		fprintf(stderr, "mailshift: %s\n", err.msg);
		return EXIT_USAGE;
	}
	size_t matched = 0;
	bool group_found = o->group == NULL;
	for (size_t g = 0; g < cfg->group_count; g++) {
		const struct config_group *grp = &cfg->groups[g];
		if (o->group != NULL && strcmp(o->group, grp->name) != 0)
			continue;
		group_found = true;
		for (size_t i = 0; i < grp->account_count; i++) {
			const struct config_account *ac = &grp->accounts[i];
			if (o->account != NULL && strcasecmp(o->account, ac->email) != 0)
				continue;
			matched++;
			v = xreallocarray(v, nv + 1, sizeof *v);
			struct acct *x = &v[nv++];
			memset(x, 0, sizeof *x);
			x->a.label = ac->email;
			bool ok = config_endpoint(cfg, &cfg->old_server, "old", "old server",
						  ac->old_user, ac->old_password, &x->a.old_ep,
						  &x->oo, &err) &&
				  config_endpoint(cfg, &cfg->new_server, "new", "new server",
						  ac->new_user, ac->new_password, &x->a.new_ep,
						  &x->on, &err);
			if (!ok) {
				fprintf(stderr, "mailshift: %s\n", err.msg);
				goto fail;
			}
			x->a.old_ep.timeout_ms = x->a.new_ep.timeout_ms = o->timeout * 1000;
			x->a.old_ep.no_literal_plus = x->a.new_ep.no_literal_plus =
				o->no_literal_plus;
		}
	}
	if (!group_found) {
		fprintf(stderr, "mailshift: %s has no group '%s'\n", path, o->group);
		goto fail;
	}
	if (matched == 0) {
		fprintf(stderr, "mailshift: %s: no account to sync%s%s\n", path,
			o->account ? " matches --account " : "", o->account ? o->account : "");
		goto fail;
	}
	*cfg_r = cfg;
	*v_r = v;
	*n_r = nv;
	return 0;
fail:
	for (size_t i = 0; i < nv; i++) {
		cli_owned_free(&v[i].oo);
		cli_owned_free(&v[i].on);
	}
	free(v);
	config_free(&cfg);
	return EXIT_USAGE;
}

int cli_accounts_collect(struct cli_target *o, struct config **cfg_r, struct acct **v_r,
			 size_t *n_r)
{
	*cfg_r = NULL;
	*v_r = NULL;
	*n_r = 0;
	if (o->old_side.url != NULL || o->new_side.url != NULL) {
		struct err err;
		err_clear(&err);
		if (o->old_side.url == NULL || o->new_side.url == NULL) {
			fprintf(stderr, "mailshift: one-account mode needs both --old and --new\n");
			return EXIT_USAGE;
		}
		if (o->config != NULL || o->group != NULL || o->account != NULL) {
			fprintf(stderr, "mailshift: --old/--new cannot be combined with "
					"-c, --group or --account\n");
			return EXIT_USAGE;
		}
		struct acct *x = xcalloc(1, sizeof *x);
		if (!side_endpoint(&o->old_side, "old", "old server", "MAILSHIFT_OLD_PASSWORD",
				   &x->a.old_ep, &x->oo, &err) ||
		    !side_endpoint(&o->new_side, "new", "new server", "MAILSHIFT_NEW_PASSWORD",
				   &x->a.new_ep, &x->on, &err)) {
			fprintf(stderr, "mailshift: %s\n", err.msg);
			cli_owned_free(&x->oo);
			cli_owned_free(&x->on);
			free(x);
			return EXIT_USAGE;
		}
		x->a.label = x->a.old_ep.user;
		x->a.old_ep.timeout_ms = x->a.new_ep.timeout_ms = o->timeout * 1000;
		x->a.old_ep.no_literal_plus = x->a.new_ep.no_literal_plus = o->no_literal_plus;
		*v_r = x;
		*n_r = 1;
		return 0;
	}
	return load_config(o, cfg_r, v_r, n_r);
}

void cli_accounts_free(struct config **cfg, struct acct *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		cli_owned_free(&v[i].oo);
		cli_owned_free(&v[i].on);
	}
	free(v);
	config_free(cfg);
}

bool cli_target_option(struct cli_target *t, int c, const char *arg)
{
	switch (c) {
	case 'c': t->config = arg; break;
	case CLI_O_OLD: t->old_side.url = arg; break;
	case CLI_O_NEW: t->new_side.url = arg; break;
	case CLI_O_OPF: t->old_side.password_file = arg; break;
	case CLI_O_NPF: t->new_side.password_file = arg; break;
	case CLI_O_OCA: t->old_side.ca_file = arg; break;
	case CLI_O_NCA: t->new_side.ca_file = arg; break;
	case CLI_O_CA: t->old_side.ca_file = t->new_side.ca_file = arg; break;
	case CLI_O_OTLS: t->old_side.tls = arg; break;
	case CLI_O_NTLS: t->new_side.tls = arg; break;
	case CLI_O_OAUTH: t->old_side.auth = arg; break;
	case CLI_O_NAUTH: t->new_side.auth = arg; break;
	case CLI_O_OADM: t->old_side.admin = arg; break;
	case CLI_O_NADM: t->new_side.admin = arg; break;
	case CLI_O_GROUP: t->group = arg; break;
	case CLI_O_ACCOUNT: t->account = arg; break;
	case CLI_O_TIMEOUT: t->timeout = (int)strtol(arg, NULL, 10); break;
	case CLI_O_NOLITPLUS: t->no_literal_plus = true; break;
	default: return false;
	}
	return true;
}
