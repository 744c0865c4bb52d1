/* Canonical flag-set arithmetic (imap_util): the sync's flag deltas and
 * the reconciliation of STOREs left in flight by a killed run rely on it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "imap/imap_util.h"

#define EQ(call, want)                                  \
	do {                                            \
		char *got_ = (call);                    \
		assert_string_equal(got_, want);        \
		free(got_);                             \
	} while (0)

static void test_minus(void **state)
{
	(void)state;
	EQ(imap_flags_minus("$Junk \\Seen", "\\Seen"), "$Junk");
	EQ(imap_flags_minus("$Junk \\Seen", ""), "$Junk \\Seen");
	EQ(imap_flags_minus("", "\\Seen"), "");
	/* whole names only: \Seen is not a prefix match of \SeenX */
	EQ(imap_flags_minus("\\SeenX", "\\Seen"), "\\SeenX");
}

static void test_union(void **state)
{
	(void)state;
	EQ(imap_flags_union("$Junk", "\\Seen"), "$Junk \\Seen");
	EQ(imap_flags_union("\\Seen", "$Junk"), "$Junk \\Seen");
	EQ(imap_flags_union("$Junk \\Seen", "\\Flagged \\Seen"), "$Junk \\Flagged \\Seen");
	EQ(imap_flags_union("", ""), "");
	EQ(imap_flags_union("", "a"), "a");
	EQ(imap_flags_union("a", ""), "a");
}

static void test_and(void **state)
{
	(void)state;
	EQ(imap_flags_and("$Junk \\Seen", "\\Flagged \\Seen"), "\\Seen");
	EQ(imap_flags_and("$Junk", "\\Seen"), "");
	EQ(imap_flags_and("", "\\Seen"), "");
	EQ(imap_flags_and("a b c", "a b c"), "a b c");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_minus),
		cmocka_unit_test(test_union),
		cmocka_unit_test(test_and),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
