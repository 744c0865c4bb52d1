/* test_folder_map.c — folder name mapping old -> new (src/sync/folder_map.c).
 *
 * Each test builds the two sides of a real migration (Courier-style
 * "INBOX." with '.', Dovecot-style "" with '/', flat servers) and checks the
 * exact new name and the renamed flag for the rules of folder_map.h.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "sync/folder_map.h"

static void check_map(const struct folder_map *m, const char *old, enum special_use use,
		      const char *want, bool want_renamed)
{
	bool renamed = !want_renamed;
	char *got = folder_map_name(m, old, use, &renamed);

	if (strcmp(got, want) != 0)
		fail_msg("\"%s\" mapped to \"%s\", want \"%s\"", old, got, want);
	if (renamed != want_renamed)
		fail_msg("\"%s\": renamed=%d, want %d", old, renamed, want_renamed);
	free(got);
}

#define MAP(m, old, want) check_map((m), (old), SPECIAL_NONE, (want), false)
#define RENAMED(m, old, want) check_map((m), (old), SPECIAL_NONE, (want), true)

/* Courier-style old, Dovecot-style new, with new's special folders marked. */
static struct folder_map *courier_to_dovecot(void)
{
	struct folder_side o = { '.', "INBOX." };
	struct folder_side n = { '/', "" };
	struct folder_map *m = folder_map_new(&o, &n);

	folder_map_add_target(m, "INBOX", SPECIAL_NONE);
	folder_map_add_target(m, "Sent", SPECIAL_SENT);
	folder_map_add_target(m, "Drafts", SPECIAL_DRAFTS);
	folder_map_add_target(m, "Trash", SPECIAL_TRASH);
	folder_map_add_target(m, "Junk", SPECIAL_JUNK);
	return m;
}

static void test_inbox(void **state)
{
	struct folder_map *m = courier_to_dovecot();

	(void)state;
	MAP(m, "INBOX", "INBOX");
	MAP(m, "inbox", "INBOX");
	MAP(m, "Inbox", "INBOX");
	check_map(m, "INBOX", SPECIAL_SENT, "INBOX", false);
	folder_map_free(&m);
	assert_null(m);
	folder_map_free(&m);    /* freeing NULL is harmless */
}

static void test_hierarchy(void **state)
{
	struct folder_map *m = courier_to_dovecot();

	(void)state;
	MAP(m, "INBOX.取引先.2024", "取引先/2024");
	MAP(m, "INBOX.取引先", "取引先");
	MAP(m, "INBOX.Projects.Alpha", "Projects/Alpha");
	MAP(m, "INBOX.Projects.Alpha.Specs", "Projects/Alpha/Specs");
	/* The "INBOX" of the prefix is case-insensitive, the rest is not. */
	MAP(m, "inbox.取引先.2024", "取引先/2024");
	MAP(m, "Inbox.Projects", "Projects");
	/* A special name deeper down is an ordinary folder. */
	MAP(m, "INBOX.Projects.Sent", "Projects/Sent");
	MAP(m, "INBOX.Outbox", "Outbox");
	folder_map_free(&m);
}

static void test_special_by_name(void **state)
{
	struct folder_map *m = courier_to_dovecot();

	(void)state;
	MAP(m, "INBOX.Sent", "Sent");
	MAP(m, "INBOX.Sent Messages", "Sent");
	MAP(m, "INBOX.sent items", "Sent");
	MAP(m, "INBOX.SENT-MAIL", "Sent");
	MAP(m, "INBOX.送信済み", "Sent");
	MAP(m, "INBOX.送信済みメール", "Sent");
	MAP(m, "INBOX.送信済みアイテム", "Sent");
	MAP(m, "INBOX.Gesendete Objekte", "Sent");
	MAP(m, "INBOX.Éléments envoyés", "Sent");
	MAP(m, "INBOX.迷惑メール", "Junk");
	MAP(m, "INBOX.Spam", "Junk");
	MAP(m, "INBOX.Junk E-mail", "Junk");
	MAP(m, "INBOX.Courrier indésirable", "Junk");
	MAP(m, "INBOX.ゴミ箱", "Trash");
	MAP(m, "INBOX.Deleted Items", "Trash");
	MAP(m, "INBOX.Deleted Messages", "Trash");
	MAP(m, "INBOX.Papierkorb", "Trash");
	MAP(m, "INBOX.下書き", "Drafts");
	MAP(m, "INBOX.Entwürfe", "Drafts");
	MAP(m, "INBOX.Borradores", "Drafts");
	/* Subfolders follow their top-level special folder. */
	MAP(m, "INBOX.Sent.2023", "Sent/2023");
	MAP(m, "INBOX.送信済み.2023.Q1", "Sent/2023/Q1");
	MAP(m, "INBOX.ゴミ箱.old", "Trash/old");
	folder_map_free(&m);
}

static void test_special_by_attribute(void **state)
{
	struct folder_map *m = courier_to_dovecot();

	(void)state;
	check_map(m, "INBOX.Outgoing", SPECIAL_SENT, "Sent", false);
	check_map(m, "INBOX.Papers", SPECIAL_DRAFTS, "Drafts", false);
	/* The attribute wins over the name. */
	check_map(m, "INBOX.Sent", SPECIAL_JUNK, "Junk", false);
	/* A marked folder is special as a whole, at any depth. */
	check_map(m, "INBOX.Mail.Sent stuff", SPECIAL_SENT, "Sent", false);
	/* No target for the use and no localized name on new: keep the name. */
	check_map(m, "INBOX.Everything", SPECIAL_ALL, "Everything", false);
	check_map(m, "INBOX.Old.Things", SPECIAL_ARCHIVE, "Old/Things", false);
	folder_map_free(&m);
}

static void test_gmail_style(void **state)
{
	struct folder_side o = { '/', "" };
	struct folder_side n = { '/', "" };
	struct folder_map *m = folder_map_new(&o, &n);

	(void)state;
	folder_map_add_target(m, "Sent", SPECIAL_SENT);
	folder_map_add_target(m, "Junk", SPECIAL_JUNK);
	check_map(m, "[Gmail]/Sent Mail", SPECIAL_SENT, "Sent", false);
	check_map(m, "[Gmail]/Spam", SPECIAL_JUNK, "Junk", false);
	MAP(m, "[Gmail]/Important", "[Gmail]/Important");
	MAP(m, "Label/Sub", "Label/Sub");
	folder_map_free(&m);
}

static void test_archive_fallbacks(void **state)
{
	struct folder_map *m = courier_to_dovecot();

	(void)state;
	/* New has nothing for Archive: the folder keeps its own name. */
	MAP(m, "INBOX.Archives", "Archives");
	MAP(m, "INBOX.アーカイブ", "アーカイブ");
	check_map(m, "INBOX.Old Mail", SPECIAL_ARCHIVE, "Old Mail", false);
	MAP(m, "INBOX.Archiv.2019", "Archiv/2019");
	folder_map_free(&m);

	/* New has an unmarked top-level "Archive": the localized fallback. */
	m = courier_to_dovecot();
	folder_map_add_target(m, "Projects/Archive", SPECIAL_NONE);  /* not top-level */
	folder_map_add_target(m, "Archive", SPECIAL_NONE);
	MAP(m, "INBOX.Archive", "Archive");
	MAP(m, "INBOX.Archives", "Archive");
	MAP(m, "INBOX.アーカイブ", "Archive");
	MAP(m, "INBOX.Archiv.2019", "Archive/2019");
	check_map(m, "INBOX.Old Mail", SPECIAL_ARCHIVE, "Archive", false);
	folder_map_free(&m);

	/* A marked target beats a localized name, whatever order they came in. */
	m = courier_to_dovecot();
	folder_map_add_target(m, "Archive", SPECIAL_NONE);
	folder_map_add_target(m, "Saved", SPECIAL_ARCHIVE);
	MAP(m, "INBOX.Archive", "Saved");
	folder_map_free(&m);

	/* A new folder marked for another use is never borrowed. */
	m = courier_to_dovecot();
	folder_map_add_target(m, "Archive", SPECIAL_ALL);
	MAP(m, "INBOX.Archives", "Archives");
	folder_map_free(&m);
}

static void test_localized_fallback_prefers_same_spelling(void **state)
{
	struct folder_side o = { '.', "INBOX." };
	struct folder_side n = { '/', "" };
	struct folder_map *m = folder_map_new(&o, &n);

	(void)state;
	/* New server without SPECIAL-USE: nothing is marked. */
	folder_map_add_target(m, "INBOX", SPECIAL_NONE);
	folder_map_add_target(m, "Sent", SPECIAL_NONE);
	folder_map_add_target(m, "Sent Items", SPECIAL_NONE);
	folder_map_add_target(m, "ゴミ箱", SPECIAL_NONE);
	MAP(m, "INBOX.Sent Items", "Sent Items");
	MAP(m, "INBOX.sent items", "Sent Items");
	MAP(m, "INBOX.Sent", "Sent");
	MAP(m, "INBOX.Sent Messages", "Sent");     /* first registered */
	MAP(m, "INBOX.Trash", "ゴミ箱");
	MAP(m, "INBOX.Trash.x", "ゴミ箱/x");
	MAP(m, "INBOX.Junk", "Junk");              /* nothing on new: keep */
	folder_map_free(&m);
}

static void test_first_marked_target_wins(void **state)
{
	struct folder_side o = { '.', "INBOX." };
	struct folder_side n = { '/', "" };
	struct folder_map *m = folder_map_new(&o, &n);

	(void)state;
	folder_map_add_target(m, "Sent", SPECIAL_SENT);
	folder_map_add_target(m, "Sent Items", SPECIAL_SENT);
	MAP(m, "INBOX.Sent Items", "Sent");
	folder_map_free(&m);
}

static void test_separator_in_component(void **state)
{
	struct folder_map *m = courier_to_dovecot();

	(void)state;
	RENAMED(m, "INBOX.a/b", "a_b");
	RENAMED(m, "INBOX.x.a/b/c", "x/a_b_c");
	RENAMED(m, "INBOX.Sent.2023/24", "Sent/2023_24");
	RENAMED(m, "INBOX.日付/時刻", "日付_時刻");
	/* renamed_r is optional. */
	char *s = folder_map_name(m, "INBOX.a/b", SPECIAL_NONE, NULL);
	assert_string_equal(s, "a_b");
	free(s);
	folder_map_free(&m);
}

static void test_outside_prefix(void **state)
{
	struct folder_map *m = courier_to_dovecot();

	(void)state;
	MAP(m, "Shared.x", "Shared/x");
	MAP(m, "#public.news.2024", "#public/news/2024");
	RENAMED(m, "Shared/x", "Shared_x");
	MAP(m, "INBOXfoo", "INBOXfoo");
	folder_map_free(&m);
}

static void test_empty_components(void **state)
{
	struct folder_map *m = courier_to_dovecot();

	(void)state;
	RENAMED(m, "", "_");
	RENAMED(m, "INBOX.", "_");
	RENAMED(m, "INBOX.a..b", "a/_/b");
	RENAMED(m, "INBOX.a.", "a/_");
	RENAMED(m, "INBOX..a", "_/a");
	RENAMED(m, "..", "_/_/_");
	RENAMED(m, "INBOX.Sent.", "Sent/_");
	check_map(m, "", SPECIAL_SENT, "Sent", false);
	char *s = folder_map_name(m, NULL, SPECIAL_NONE, NULL);
	assert_string_equal(s, "_");
	free(s);
	folder_map_free(&m);
}

static void test_reverse_direction(void **state)
{
	struct folder_side o = { '/', "" };
	struct folder_side n = { '.', "INBOX." };
	struct folder_map *m = folder_map_new(&o, &n);

	(void)state;
	folder_map_add_target(m, "INBOX", SPECIAL_NONE);
	folder_map_add_target(m, "INBOX.Sent", SPECIAL_SENT);
	folder_map_add_target(m, "INBOX.Drafts", SPECIAL_DRAFTS);
	folder_map_add_target(m, "INBOX.Trash", SPECIAL_TRASH);
	folder_map_add_target(m, "INBOX.Junk", SPECIAL_JUNK);
	folder_map_add_target(m, "INBOX.Archive", SPECIAL_NONE);
	folder_map_add_target(m, "INBOX.x.Archives", SPECIAL_NONE);
	MAP(m, "INBOX", "INBOX");
	MAP(m, "Sent", "INBOX.Sent");
	MAP(m, "送信済み", "INBOX.Sent");
	MAP(m, "Sent/2023", "INBOX.Sent.2023");
	MAP(m, "取引先/2024", "INBOX.取引先.2024");
	MAP(m, "Junk E-mail", "INBOX.Junk");
	MAP(m, "Archives", "INBOX.Archive");      /* top-level under new's prefix */
	RENAMED(m, "v1.2", "INBOX.v1_2");
	/* Dovecot's INBOX children become children of the prefix. */
	MAP(m, "INBOX/child", "INBOX.INBOX.child");
	folder_map_free(&m);
}

static void test_flat_servers(void **state)
{
	struct folder_side flat = { '\0', "" };
	struct folder_side dovecot = { '/', "" };
	struct folder_side courier = { '.', "INBOX." };
	struct folder_map *m;

	(void)state;
	/* Flat old: the name is one component, whatever it contains. */
	m = folder_map_new(&flat, &dovecot);
	folder_map_add_target(m, "Sent", SPECIAL_SENT);
	MAP(m, "a.b", "a.b");
	MAP(m, "Sent", "Sent");
	MAP(m, "inbox", "INBOX");
	RENAMED(m, "a/b", "a_b");
	RENAMED(m, "Sent/2023", "Sent_2023");
	RENAMED(m, "", "_");
	folder_map_free(&m);

	/* Flat old into Courier: prefix added, '.' in a name replaced. */
	m = folder_map_new(&flat, &courier);
	MAP(m, "Projects", "INBOX.Projects");
	RENAMED(m, "a.b", "INBOX.a_b");
	folder_map_free(&m);

	/* Flat new: no levels to create, the old separator is kept as text. */
	m = folder_map_new(&courier, &flat);
	folder_map_add_target(m, "Sent", SPECIAL_SENT);
	MAP(m, "INBOX.a.b", "a.b");
	MAP(m, "INBOX.Sent.2023", "Sent.2023");
	MAP(m, "INBOX.a/b", "a/b");
	folder_map_free(&m);
}

static void test_prefix_without_separator(void **state)
{
	struct folder_side o = { '.', "INBOX" };
	struct folder_side n = { '.', "INBOX" };
	struct folder_map *m = folder_map_new(&o, &n);

	(void)state;
	MAP(m, "INBOX.foo", "INBOX.foo");
	MAP(m, "INBOX.foo.bar", "INBOX.foo.bar");
	MAP(m, "INBOXfoo", "INBOX.INBOXfoo");
	folder_map_free(&m);
}

static void test_prefixes_copied(void **state)
{
	char oldp[] = "INBOX.", newp[] = "Mail/";
	struct folder_side o = { '.', oldp };
	struct folder_side n = { '/', newp };
	struct folder_map *m = folder_map_new(&o, &n);
	char target[] = "Mail/Sent";

	(void)state;
	folder_map_add_target(m, target, SPECIAL_SENT);
	memset(oldp, 'x', sizeof oldp - 1);
	memset(newp, 'y', sizeof newp - 1);
	memset(target, 'z', sizeof target - 1);
	MAP(m, "INBOX.取引先.2024", "Mail/取引先/2024");
	MAP(m, "INBOX.Sent.2023", "Mail/Sent/2023");
	folder_map_free(&m);
}

static void test_special_use_attr(void **state)
{
	(void)state;
	for (int u = SPECIAL_SENT; u <= SPECIAL_FLAGGED; u++) {
		const char *a = special_use_attr((enum special_use)u);
		assert_non_null(a);
		assert_int_equal(special_use_from_attr(a), u);
	}
	assert_null(special_use_attr(SPECIAL_NONE));
	assert_string_equal(special_use_attr(SPECIAL_SENT), "\\Sent");
	assert_string_equal(special_use_attr(SPECIAL_JUNK), "\\Junk");
	assert_int_equal(special_use_from_attr("\\sent"), SPECIAL_SENT);
	assert_int_equal(special_use_from_attr("\\DRAFTS"), SPECIAL_DRAFTS);
	assert_int_equal(special_use_from_attr("\\Trash"), SPECIAL_TRASH);
	assert_int_equal(special_use_from_attr("\\Archive"), SPECIAL_ARCHIVE);
	assert_int_equal(special_use_from_attr("\\All"), SPECIAL_ALL);
	assert_int_equal(special_use_from_attr("\\Flagged"), SPECIAL_FLAGGED);
	assert_int_equal(special_use_from_attr("\\Spam"), SPECIAL_JUNK);   /* XLIST */
	assert_int_equal(special_use_from_attr("\\Noselect"), SPECIAL_NONE);
	assert_int_equal(special_use_from_attr("\\HasChildren"), SPECIAL_NONE);
	assert_int_equal(special_use_from_attr("Sent"), SPECIAL_NONE);
	assert_int_equal(special_use_from_attr("\\Sentx"), SPECIAL_NONE);
	assert_int_equal(special_use_from_attr(""), SPECIAL_NONE);
	assert_int_equal(special_use_from_attr(NULL), SPECIAL_NONE);
}

static void test_special_use_from_name(void **state)
{
	static const struct {
		const char *name;
		enum special_use use;
	} cases[] = {
		{ "Sent", SPECIAL_SENT }, { "Sent Messages", SPECIAL_SENT },
		{ "Sent Items", SPECIAL_SENT }, { "Sent Mail", SPECIAL_SENT },
		{ "Sent-Mail", SPECIAL_SENT }, { "送信済み", SPECIAL_SENT },
		{ "送信済みメール", SPECIAL_SENT }, { "送信済みアイテム", SPECIAL_SENT },
		{ "送信済メール", SPECIAL_SENT }, { "Gesendet", SPECIAL_SENT },
		{ "Gesendete Objekte", SPECIAL_SENT }, { "Gesendete Elemente", SPECIAL_SENT },
		{ "Envoyés", SPECIAL_SENT }, { "Éléments envoyés", SPECIAL_SENT },
		{ "Messages envoyés", SPECIAL_SENT }, { "Enviados", SPECIAL_SENT },
		{ "Elementos enviados", SPECIAL_SENT }, { "Correo enviado", SPECIAL_SENT },
		{ "Mensajes enviados", SPECIAL_SENT },
		{ "Drafts", SPECIAL_DRAFTS }, { "Draft", SPECIAL_DRAFTS },
		{ "下書き", SPECIAL_DRAFTS }, { "草稿", SPECIAL_DRAFTS },
		{ "Entwürfe", SPECIAL_DRAFTS }, { "Brouillons", SPECIAL_DRAFTS },
		{ "Borradores", SPECIAL_DRAFTS },
		{ "Trash", SPECIAL_TRASH }, { "Deleted Messages", SPECIAL_TRASH },
		{ "Deleted Items", SPECIAL_TRASH }, { "Bin", SPECIAL_TRASH },
		{ "ゴミ箱", SPECIAL_TRASH }, { "ごみ箱", SPECIAL_TRASH },
		{ "削除済み", SPECIAL_TRASH }, { "削除済みアイテム", SPECIAL_TRASH },
		{ "削除済みメール", SPECIAL_TRASH }, { "Papierkorb", SPECIAL_TRASH },
		{ "Gelöschte Objekte", SPECIAL_TRASH }, { "Gelöschte Elemente", SPECIAL_TRASH },
		{ "Corbeille", SPECIAL_TRASH }, { "Éléments supprimés", SPECIAL_TRASH },
		{ "Papelera", SPECIAL_TRASH }, { "Elementos eliminados", SPECIAL_TRASH },
		{ "Junk", SPECIAL_JUNK }, { "Spam", SPECIAL_JUNK },
		{ "Junk E-mail", SPECIAL_JUNK }, { "Junk Email", SPECIAL_JUNK },
		{ "Junk Mail", SPECIAL_JUNK }, { "Bulk Mail", SPECIAL_JUNK },
		{ "迷惑メール", SPECIAL_JUNK }, { "Spamverdacht", SPECIAL_JUNK },
		{ "Junk-E-Mail", SPECIAL_JUNK }, { "Courrier indésirable", SPECIAL_JUNK },
		{ "Indésirables", SPECIAL_JUNK }, { "Pourriel", SPECIAL_JUNK },
		{ "Correo no deseado", SPECIAL_JUNK },
		{ "Archive", SPECIAL_ARCHIVE }, { "Archives", SPECIAL_ARCHIVE },
		{ "アーカイブ", SPECIAL_ARCHIVE }, { "Archiv", SPECIAL_ARCHIVE },
		{ "Archivo", SPECIAL_ARCHIVE }, { "Archivos", SPECIAL_ARCHIVE },
		/* ASCII case-insensitive. */
		{ "SENT", SPECIAL_SENT }, { "sent messages", SPECIAL_SENT },
		{ "junk e-mail", SPECIAL_JUNK }, { "ENTWüRFE", SPECIAL_DRAFTS },
		{ "messages ENVOYés", SPECIAL_SENT },
		/* Non-ASCII compares exactly. */
		{ "éléments envoyés", SPECIAL_NONE }, { "ENTWÜRFE", SPECIAL_NONE },
		/* Not special. */
		{ "Outbox", SPECIAL_NONE }, { "送信トレイ", SPECIAL_NONE },
		{ "INBOX", SPECIAL_NONE }, { "", SPECIAL_NONE },
		{ "Sent ", SPECIAL_NONE }, { " Sent", SPECIAL_NONE },
		{ "Sen", SPECIAL_NONE }, { "Sentx", SPECIAL_NONE },
		{ "Sent.2023", SPECIAL_NONE },
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		if (special_use_from_name(cases[i].name) != cases[i].use)
			fail_msg("special_use_from_name(\"%s\") = %d, want %d", cases[i].name,
				 special_use_from_name(cases[i].name), cases[i].use);
	}
	assert_int_equal(special_use_from_name(NULL), SPECIAL_NONE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inbox),
		cmocka_unit_test(test_hierarchy),
		cmocka_unit_test(test_special_by_name),
		cmocka_unit_test(test_special_by_attribute),
		cmocka_unit_test(test_gmail_style),
		cmocka_unit_test(test_archive_fallbacks),
		cmocka_unit_test(test_localized_fallback_prefers_same_spelling),
		cmocka_unit_test(test_first_marked_target_wins),
		cmocka_unit_test(test_separator_in_component),
		cmocka_unit_test(test_outside_prefix),
		cmocka_unit_test(test_empty_components),
		cmocka_unit_test(test_reverse_direction),
		cmocka_unit_test(test_flat_servers),
		cmocka_unit_test(test_prefix_without_separator),
		cmocka_unit_test(test_prefixes_copied),
		cmocka_unit_test(test_special_use_attr),
		cmocka_unit_test(test_special_use_from_name),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
